//! Traffic distribution: what UpdateTrafficDistribution call (if any) brings the group from its
//! observed split to the declared one, refusing what Connect would reject (D1-D3, G4) and what
//! would strand calls (D4), optionally in progressive steps with a pause between them.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::connect::{Distribution, DistributionUpdate};

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Rollout {
    /// Largest change of any region's percentage in one step (multiple of 10).
    pub step_percent: i32,
    /// Minimum time between two steps.
    pub pause: Duration,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DesiredDistribution {
    pub telephony: Option<BTreeMap<String, i32>>,
    pub agents: Option<BTreeMap<String, i32>>,
    pub sign_in: Option<BTreeMap<String, bool>>,
    pub allow_telephony_without_agents: bool,
    pub rollout: Option<Rollout>,
}

/// What is known about the group the distribution applies to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupFacts {
    pub is_default: bool,
    pub status: String,
    /// The two regions of the group (source, replica).
    pub regions: [String; 2],
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Connect already has the declared split.
    InSync,
    /// Send this update. `last_step` is false while a progressive rollout has more steps to go.
    Update {
        update: DistributionUpdate,
        last_step: bool,
    },
    /// Wait (group not ACTIVE yet, or a rollout pause); try again after `after`.
    Wait { reason: String, after: Duration },
    /// The declaration is wrong or unsafe; nothing is sent until it changes (Stalled).
    Refuse { reason: String, rule: &'static str },
}

fn check_percentages(
    what: &str,
    m: &BTreeMap<String, i32>,
    regions: &[String; 2],
) -> Result<(), String> {
    if m.len() != 2 || !regions.iter().all(|r| m.contains_key(r)) {
        return Err(format!(
            "{what} must list exactly the group's two regions {} and {}, got {:?}",
            regions[0],
            regions[1],
            m.keys().collect::<Vec<_>>()
        ));
    }
    if let Some((r, p)) = m
        .iter()
        .find(|(_, p)| **p < 0 || **p > 100 || **p % 10 != 0)
    {
        return Err(format!(
            "{what} percentage for {r} is {p}: percentages are multiples of 10 between 0 and 100"
        ));
    }
    let sum: i32 = m.values().sum();
    if sum != 100 {
        return Err(format!("{what} percentages add up to {sum}, not 100"));
    }
    Ok(())
}

/// Checks the declaration against the rules Connect enforces and the D4 safety rule.
pub fn validate(
    desired: &DesiredDistribution,
    group: &GroupFacts,
    observed: &Distribution,
) -> Result<(), (String, &'static str)> {
    if let Some(t) = &desired.telephony {
        check_percentages("telephony", t, &group.regions).map_err(|e| (e, "D2"))?;
    }
    if let Some(a) = &desired.agents {
        check_percentages("agents", a, &group.regions).map_err(|e| (e, "D2"))?;
    }
    if let Some(s) = &desired.sign_in {
        if !group.is_default {
            return Err(("signIn applies only to the default traffic distribution group; remove it for this group".into(), "G4"));
        }
        if s.len() != 2 || !group.regions.iter().all(|r| s.contains_key(r)) {
            return Err((
                format!(
                    "signIn must list exactly the group's two regions {} and {}",
                    group.regions[0], group.regions[1]
                ),
                "D3",
            ));
        }
        if !s.values().any(|e| *e) {
            return Err(("signIn must enable at least one region".into(), "D3"));
        }
    }
    if let Some(r) = &desired.rollout
        && (r.step_percent <= 0 || r.step_percent > 100 || r.step_percent % 10 != 0)
    {
        return Err((
            format!(
                "rollout step {} must be a multiple of 10 between 10 and 100",
                r.step_percent
            ),
            "D4",
        ));
    }
    let target = target(desired, observed);
    stranded_region(&target, desired.allow_telephony_without_agents).map_or(Ok(()), |r| {
        Err((
            format!(
                "telephony sends {}% of calls to {r} while agents there get 0%: calls would wait with nobody to answer (set allowTelephonyWithoutAgents: true to do it anyway)",
                target.telephony.get(&r).copied().unwrap_or(0)
            ),
            "D4",
        ))
    })
}

/// The split Connect will have once everything declared is applied (undeclared parts stay).
pub fn target(desired: &DesiredDistribution, observed: &Distribution) -> Distribution {
    Distribution {
        telephony: desired
            .telephony
            .clone()
            .unwrap_or_else(|| observed.telephony.clone()),
        agents: desired
            .agents
            .clone()
            .unwrap_or_else(|| observed.agents.clone()),
        sign_in: desired
            .sign_in
            .clone()
            .unwrap_or_else(|| observed.sign_in.clone()),
    }
}

/// A region that would receive calls but no agents (rule D4), if any.
pub fn stranded_region(d: &Distribution, allowed: bool) -> Option<String> {
    if allowed || d.agents.is_empty() {
        return None;
    }
    d.telephony
        .iter()
        .find(|(r, p)| **p > 0 && d.agents.get(*r).copied().unwrap_or(0) == 0)
        .map(|(r, _)| r.clone())
}

/// Moves every region of `from` toward `to` by at most `step` (keeps the sum at 100 for two regions).
fn step_toward(
    from: &BTreeMap<String, i32>,
    to: &BTreeMap<String, i32>,
    step: i32,
) -> BTreeMap<String, i32> {
    if from.len() != 2 || from.keys().ne(to.keys()) {
        return to.clone();
    }
    let mut keys = to.keys().cloned();
    let (Some(a), Some(b)) = (keys.next(), keys.next()) else {
        return to.clone();
    };
    let delta = (to[&a] - from[&a]).clamp(-step, step);
    let mut out = BTreeMap::new();
    out.insert(a.clone(), from[&a] + delta);
    out.insert(b, 100 - (from[&a] + delta));
    out
}

/// Plans the next UpdateTrafficDistribution. `since_last_step` is the time since the controller
/// last changed this group's split (None if never); `now` is implicit in it, so the planner
/// never reads a clock.
pub fn plan(
    desired: &DesiredDistribution,
    group: &GroupFacts,
    observed: &Distribution,
    since_last_step: Option<Duration>,
) -> Decision {
    if let Err((reason, rule)) = validate(desired, group, observed) {
        return Decision::Refuse { reason, rule };
    }
    if group.status != "ACTIVE" {
        return Decision::Wait {
            reason: format!(
                "traffic distribution group is {}, not ACTIVE (rule D1)",
                group.status
            ),
            after: Duration::from_secs(5),
        };
    }
    let target = target(desired, observed);
    if target == *observed {
        return Decision::InSync;
    }
    let (telephony, agents, last_step) = match &desired.rollout {
        Some(r) if !observed.telephony.is_empty() && !observed.agents.is_empty() => {
            if let Some(since) = since_last_step
                && since < r.pause
            {
                return Decision::Wait {
                    reason: "rollout pause between steps".into(),
                    after: r.pause - since,
                };
            }
            let t = step_toward(&observed.telephony, &target.telephony, r.step_percent);
            let mut a = step_toward(&observed.agents, &target.agents, r.step_percent);
            // D4 at every intermediate step: keep at least one step of agents where calls still go.
            if !desired.allow_telephony_without_agents
                && let Some(region) = stranded_region(
                    &Distribution {
                        telephony: t.clone(),
                        agents: a.clone(),
                        sign_in: Default::default(),
                    },
                    false,
                )
                && let Some(other) = a.keys().find(|k| **k != region).cloned()
            {
                a.insert(region, r.step_percent);
                a.insert(other, 100 - r.step_percent);
            }
            let last = t == target.telephony && a == target.agents;
            (t, a, last)
        }
        _ => (target.telephony.clone(), target.agents.clone(), true),
    };
    let update = DistributionUpdate {
        telephony: (desired.telephony.is_some() && telephony != observed.telephony)
            .then_some(telephony),
        agents: (desired.agents.is_some() && agents != observed.agents).then_some(agents),
        sign_in: (desired.sign_in.is_some() && target.sign_in != observed.sign_in)
            .then(|| target.sign_in.clone()),
    };
    if update.is_empty() {
        return Decision::InSync;
    }
    Decision::Update { update, last_step }
}

/// The split after `update` is applied to `observed`.
pub fn applied(observed: &Distribution, update: &DistributionUpdate) -> Distribution {
    Distribution {
        telephony: update
            .telephony
            .clone()
            .unwrap_or_else(|| observed.telephony.clone()),
        agents: update
            .agents
            .clone()
            .unwrap_or_else(|| observed.agents.clone()),
        sign_in: update
            .sign_in
            .clone()
            .unwrap_or_else(|| observed.sign_in.clone()),
    }
}

/// Rollout steps still needed from `now` to `target`: the largest change of any telephony or
/// agent percentage, in steps of `step_percent` (at least one while they differ).
pub fn steps_left(now: &Distribution, target: &Distribution, step_percent: i32) -> i32 {
    let step = step_percent.max(10);
    let gap = |a: &BTreeMap<String, i32>, b: &BTreeMap<String, i32>| {
        b.iter()
            .map(|(r, p)| (p - a.get(r).copied().unwrap_or(*p)).abs())
            .max()
            .unwrap_or(0)
    };
    let max_delta = gap(&now.telephony, &target.telephony).max(gap(&now.agents, &target.agents));
    (max_delta + step - 1) / step
}

/// The region to call UpdateTrafficDistribution in: the one that will take most of the calls
/// ("invoke it in the region that should handle traffic"); the other is the fallback.
pub fn preferred_regions(
    target_telephony: &BTreeMap<String, i32>,
    regions: &[String; 2],
) -> [String; 2] {
    let a = target_telephony.get(&regions[0]).copied().unwrap_or(0);
    let b = target_telephony.get(&regions[1]).copied().unwrap_or(0);
    if b > a {
        [regions[1].clone(), regions[0].clone()]
    } else {
        regions.clone()
    }
}

/// A compact "T 60/40 A 50/50 S on/on" summary in the group's region order.
pub fn summary(d: &Distribution, regions: &[String; 2]) -> String {
    let pct = |m: &BTreeMap<String, i32>| {
        regions
            .iter()
            .map(|r| {
                m.get(r)
                    .map(|p| p.to_string())
                    .unwrap_or_else(|| "-".into())
            })
            .collect::<Vec<_>>()
            .join("/")
    };
    let mut s = format!("T {} A {}", pct(&d.telephony), pct(&d.agents));
    if !d.sign_in.is_empty() {
        let si = regions
            .iter()
            .map(|r| match d.sign_in.get(r) {
                Some(true) => "on",
                Some(false) => "off",
                None => "-",
            })
            .collect::<Vec<_>>()
            .join("/");
        s.push_str(&format!(" S {si}"));
    }
    s
}

#[cfg(test)]
#[path = "distribution_tests.rs"]
mod tests;
