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
mod tests {
    use super::*;
    use proptest::prelude::*;

    const W: &str = "us-west-2";
    const E: &str = "us-east-1";

    fn m(w: i32, e: i32) -> BTreeMap<String, i32> {
        [(W.to_string(), w), (E.to_string(), e)]
            .into_iter()
            .collect()
    }

    fn s(w: bool, e: bool) -> BTreeMap<String, bool> {
        [(W.to_string(), w), (E.to_string(), e)]
            .into_iter()
            .collect()
    }

    fn group(default: bool) -> GroupFacts {
        GroupFacts {
            is_default: default,
            status: "ACTIVE".into(),
            regions: [W.into(), E.into()],
        }
    }

    fn observed(t: (i32, i32), a: (i32, i32)) -> Distribution {
        Distribution {
            telephony: m(t.0, t.1),
            agents: m(a.0, a.1),
            sign_in: s(true, true),
        }
    }

    fn desired(t: (i32, i32), a: (i32, i32)) -> DesiredDistribution {
        DesiredDistribution {
            telephony: Some(m(t.0, t.1)),
            agents: Some(m(a.0, a.1)),
            ..Default::default()
        }
    }

    #[test]
    fn d2_percentages_must_add_up_to_100() {
        let d = desired((60, 30), (50, 50));
        assert!(matches!(
            plan(&d, &group(true), &observed((50, 50), (50, 50)), None),
            Decision::Refuse { rule: "D2", .. }
        ));
    }

    #[test]
    fn d2_percentages_must_be_multiples_of_10() {
        let d = desired((55, 45), (50, 50));
        assert!(matches!(
            plan(&d, &group(true), &observed((50, 50), (50, 50)), None),
            Decision::Refuse { rule: "D2", .. }
        ));
    }

    #[test]
    fn d2_regions_must_be_the_groups_regions() {
        let d = DesiredDistribution {
            telephony: Some([("eu-west-2".to_string(), 100), (E.to_string(), 0)].into()),
            ..Default::default()
        };
        assert!(matches!(
            plan(&d, &group(true), &observed((50, 50), (50, 50)), None),
            Decision::Refuse { rule: "D2", .. }
        ));
    }

    #[test]
    fn g4_sign_in_on_a_non_default_group_is_refused() {
        let d = DesiredDistribution {
            sign_in: Some(s(true, true)),
            ..desired((50, 50), (50, 50))
        };
        assert!(matches!(
            plan(&d, &group(false), &observed((50, 50), (50, 50)), None),
            Decision::Refuse { rule: "G4", .. }
        ));
    }

    #[test]
    fn d3_at_least_one_sign_in_region_must_be_enabled() {
        let d = DesiredDistribution {
            sign_in: Some(s(false, false)),
            ..Default::default()
        };
        assert!(matches!(
            plan(&d, &group(true), &observed((50, 50), (50, 50)), None),
            Decision::Refuse { rule: "D3", .. }
        ));
    }

    #[test]
    fn d4_telephony_to_a_region_without_agents_is_refused() {
        let d = desired((0, 100), (100, 0));
        let r = plan(&d, &group(true), &observed((50, 50), (50, 50)), None);
        assert!(
            matches!(&r, Decision::Refuse { rule: "D4", reason } if reason.contains(E)),
            "{r:?}"
        );
    }

    #[test]
    fn d4_telephony_alone_is_checked_against_the_observed_agents() {
        let d = DesiredDistribution {
            telephony: Some(m(0, 100)),
            ..Default::default()
        };
        assert!(matches!(
            plan(&d, &group(true), &observed((50, 50), (100, 0)), None),
            Decision::Refuse { rule: "D4", .. }
        ));
    }

    #[test]
    fn d4_can_be_overridden_explicitly() {
        let d = DesiredDistribution {
            allow_telephony_without_agents: true,
            ..desired((0, 100), (100, 0))
        };
        assert!(matches!(
            plan(&d, &group(true), &observed((50, 50), (50, 50)), None),
            Decision::Update { .. }
        ));
    }

    #[test]
    fn d1_a_group_that_is_not_active_is_waited_for() {
        let mut g = group(true);
        g.status = "UPDATE_IN_PROGRESS".into();
        assert!(matches!(
            plan(
                &desired((60, 40), (50, 50)),
                &g,
                &observed((50, 50), (50, 50)),
                None
            ),
            Decision::Wait { .. }
        ));
    }

    #[test]
    fn a_matching_split_needs_no_call() {
        assert_eq!(
            plan(
                &desired((60, 40), (50, 50)),
                &group(true),
                &observed((60, 40), (50, 50)),
                None
            ),
            Decision::InSync
        );
    }

    #[test]
    fn only_the_parts_that_differ_are_sent() {
        match plan(
            &desired((60, 40), (50, 50)),
            &group(true),
            &observed((50, 50), (50, 50)),
            None,
        ) {
            Decision::Update { update, last_step } => {
                assert_eq!(update.telephony, Some(m(60, 40)));
                assert_eq!(update.agents, None);
                assert_eq!(update.sign_in, None);
                assert!(last_step);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn d5_full_failover_is_one_update_with_all_three_parts() {
        let d = DesiredDistribution {
            sign_in: Some(s(false, true)),
            ..desired((0, 100), (0, 100))
        };
        match plan(&d, &group(true), &observed((50, 50), (50, 50)), None) {
            Decision::Update { update, .. } => {
                assert_eq!(update.telephony, Some(m(0, 100)));
                assert_eq!(update.agents, Some(m(0, 100)));
                assert_eq!(update.sign_in, Some(s(false, true)));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_rollout_moves_at_most_one_step_and_waits_the_pause() {
        let d = DesiredDistribution {
            rollout: Some(Rollout {
                step_percent: 10,
                pause: Duration::from_secs(60),
            }),
            ..desired((80, 20), (50, 50))
        };
        let o = observed((50, 50), (50, 50));
        match plan(&d, &group(true), &o, None) {
            Decision::Update { update, last_step } => {
                assert_eq!(update.telephony, Some(m(60, 40)));
                assert!(!last_step);
            }
            other => panic!("{other:?}"),
        }
        assert!(
            matches!(plan(&d, &group(true), &o, Some(Duration::from_secs(10))), Decision::Wait { after, .. } if after == Duration::from_secs(50))
        );
    }

    #[test]
    fn preferred_region_is_the_one_taking_most_calls() {
        let regions = [W.to_string(), E.to_string()];
        assert_eq!(preferred_regions(&m(0, 100), &regions)[0], E);
        assert_eq!(preferred_regions(&m(60, 40), &regions)[0], W);
    }

    #[test]
    fn summary_reads_in_region_order() {
        let d = observed((60, 40), (50, 50));
        assert_eq!(
            summary(&d, &[W.into(), E.into()]),
            "T 60/40 A 50/50 S on/on"
        );
    }

    fn split() -> impl Strategy<Value = (i32, i32)> {
        (0..=10i32).prop_map(|x| (x * 10, 100 - x * 10))
    }

    proptest! {
        #[test]
        fn every_rollout_step_is_valid_and_the_rollout_terminates(
            t0 in split(), a0 in split(), t1 in split(), a1 in split(), step in 1..=10i32,
        ) {
            let d = DesiredDistribution { rollout: Some(Rollout { step_percent: step * 10, pause: Duration::ZERO }), ..desired(t1, a1) };
            let mut o = observed(t0, a0);
            if stranded_region(&o, false).is_some() || validate(&d, &group(true), &o).is_err() {
                return Ok(());
            }
            for _ in 0..12 {
                match plan(&d, &group(true), &o, Some(Duration::ZERO)) {
                    Decision::InSync => return Ok(()),
                    Decision::Update { update, .. } => {
                        if let Some(t) = update.telephony { o.telephony = t; }
                        if let Some(a) = update.agents { o.agents = a; }
                        prop_assert_eq!(o.telephony.values().sum::<i32>(), 100);
                        prop_assert_eq!(o.agents.values().sum::<i32>(), 100);
                        prop_assert!(o.telephony.values().all(|p| p % 10 == 0));
                        prop_assert!(stranded_region(&o, false).is_none(), "step strands calls: {:?}", o);
                    }
                    other => prop_assert!(false, "unexpected {:?}", other),
                }
            }
            prop_assert!(false, "rollout did not converge");
        }

        #[test]
        fn valid_percentages_are_accepted_and_invalid_sums_refused(w in 0..=10i32, e in 0..=10i32) {
            let d = DesiredDistribution { telephony: Some(m(w * 10, e * 10)), allow_telephony_without_agents: true, ..Default::default() };
            let ok = validate(&d, &group(true), &observed((50, 50), (50, 50))).is_ok();
            prop_assert_eq!(ok, w + e == 10);
        }
    }

    #[test]
    fn steps_left_counts_the_largest_gap_of_telephony_or_agents_in_steps() {
        let d = |t: i32, a: i32| Distribution {
            telephony: [
                ("us-east-1".to_string(), 100 - t),
                ("us-west-2".to_string(), t),
            ]
            .into(),
            agents: [
                ("us-east-1".to_string(), 100 - a),
                ("us-west-2".to_string(), a),
            ]
            .into(),
            sign_in: Default::default(),
        };
        assert_eq!(steps_left(&d(100, 50), &d(0, 50), 10), 10);
        assert_eq!(steps_left(&d(50, 100), &d(50, 0), 20), 5);
        assert_eq!(steps_left(&d(60, 60), &d(60, 60), 10), 0);
        assert_eq!(
            steps_left(&d(60, 50), &d(40, 20), 10),
            3,
            "agents' gap is the larger"
        );
    }
}
