//! The admission checks of a TrafficDistribution: percentages, regions, rollouts and gates.

use super::*;

/// Checks of one percentage map (telephony or agents): two regions of a pair, multiples of 10
/// between 0 and 100, adding up to 100.
pub fn percentages(
    field: &str,
    m: &BTreeMap<String, i32>,
    pairs: &RegionPairs,
) -> Result<(), Vec<FieldError>> {
    let mut e = Errs::default();
    region_keys(&mut e, field, m.keys(), pairs);
    if m.values().any(|v| !(0..=100).contains(v)) {
        e.push(field, msg::PERCENT_RANGE);
    }
    if m.values().any(|v| v % 10 != 0) {
        e.push(field, msg::MULTIPLE_OF_10);
    }
    if m.values().map(|v| i64::from(*v)).sum::<i64>() != 100 {
        e.push(field, msg::SUM_100);
    }
    e.done()
}

fn region_keys<'a>(
    e: &mut Errs,
    field: &str,
    keys: impl Iterator<Item = &'a String>,
    pairs: &RegionPairs,
) {
    let keys: Vec<&String> = keys.collect();
    if keys.len() != 2 {
        e.push(field, msg::TWO_REGIONS);
        return;
    }
    if keys.iter().any(|k| !is_region(k)) {
        e.push(field, msg::REGION_KEYS);
        return;
    }
    if !pairs.is_pair(keys[0], keys[1]) {
        e.push(field, msg::map_pair(&pairs.describe()));
    }
}

/// Admission checks of a TrafficDistribution spec.
pub fn traffic_distribution(
    s: &TrafficDistributionSpec,
    pairs: &RegionPairs,
) -> Result<(), Vec<FieldError>> {
    let mut e = Errs::default();
    check_ref(&mut e, "spec.groupRef", &s.group_ref);
    if s.telephony.is_none() && s.agents.is_none() && s.sign_in.is_none() {
        e.push("spec", msg::ONE_PART);
    }
    for (field, m) in [("spec.telephony", &s.telephony), ("spec.agents", &s.agents)] {
        if let Some(m) = m
            && let Err(mut v) = percentages(field, m, pairs)
        {
            e.0.append(&mut v);
        }
    }
    if let Some(si) = &s.sign_in {
        region_keys(&mut e, "spec.signIn", si.keys(), pairs);
        if !si.values().any(|v| *v) {
            e.push("spec.signIn", msg::SIGN_IN_ONE);
        }
    }
    let key_sets: Vec<Vec<&String>> = [
        s.telephony.as_ref().map(|m| m.keys().collect()),
        s.agents.as_ref().map(|m| m.keys().collect()),
        s.sign_in.as_ref().map(|m| m.keys().collect()),
    ]
    .into_iter()
    .flatten()
    .collect();
    if key_sets.windows(2).any(|w| w[0] != w[1]) {
        e.push("spec", msg::SAME_REGIONS);
    }
    if !s.allow_telephony_without_agents
        && let (Some(t), Some(a)) = (&s.telephony, &s.agents)
        && t.iter()
            .any(|(r, p)| *p > 0 && a.get(r).copied().unwrap_or(0) == 0)
    {
        e.push("spec", msg::TELEPHONY_WITHOUT_AGENTS);
    }
    if let Some(r) = &s.rollout {
        if !(10..=100).contains(&r.step_percent) || r.step_percent % 10 != 0 {
            e.push("spec.rollout.stepPercent", msg::STEP_MULTIPLE_OF_10);
        }
        if !(0..=MAX_PAUSE_SECONDS).contains(&r.pause_seconds) {
            e.push("spec.rollout.pauseSeconds", msg::PAUSE_RANGE);
        }
        if !(1..=100).contains(&r.failure_limit) {
            e.push("spec.rollout.failureLimit", msg::FAILURE_LIMIT_RANGE);
        }
        for (i, g) in r.gates.iter().enumerate() {
            let kinds = [
                g.agents_available.is_some(),
                g.oldest_contact_age.is_some(),
                g.contacts_in_queue.is_some(),
                g.webhook.is_some(),
                g.approval.is_some(),
            ];
            if kinds.iter().filter(|k| **k).count() != 1 {
                e.push(format!("spec.rollout.gates[{i}]"), msg::ONE_GATE_KIND);
            }
            if let Some(w) = &g.webhook {
                if !w.url.starts_with("https://") {
                    e.push(
                        format!("spec.rollout.gates[{i}].webhook.url"),
                        msg::WEBHOOK_URL,
                    );
                }
                if w.ca_bundle
                    .as_deref()
                    .is_some_and(|b| crate::api::rollout::ca_bundle_certs(b).is_err())
                {
                    e.push(
                        format!("spec.rollout.gates[{i}].webhook.caBundle"),
                        msg::CA_BUNDLE,
                    );
                }
            }
        }
    }
    check_drift_pause(&mut e, s.drift_pause_seconds);
    e.done()
}

/// Transition checks of a TrafficDistribution.
pub fn traffic_distribution_update(
    old: &TrafficDistributionSpec,
    new: &TrafficDistributionSpec,
) -> Result<(), Vec<FieldError>> {
    let mut e = Errs::default();
    e.check(
        old.group_ref == new.group_ref,
        "spec.groupRef",
        msg::IMMUTABLE_GROUP_REF,
    );
    e.done()
}
