//! Admission checks of a FailoverDrill that CEL cannot make (the cron expression and the IANA
//! time zone), and the one that needs the TrafficDistribution (a target equal to its declared
//! split). The controller reports a failure as Stalled; `connect-gr plan -f DIR` prints it.

use super::cron::{Cron, time_zone};
use super::failover_drill::FailoverDrillSpec;
use super::regions::RegionPairs;
use super::traffic_distribution::TrafficDistributionSpec;
use super::validate::{FieldError, percentages};

/// Messages shared with the CEL rules.
pub mod msg {
    pub const HOLD_RANGE: &str =
        "holdSeconds must be between 1 and 86400: a drill holds its target for a while";
    pub const TARGET_PART: &str = "target must set telephony, agents or both";
    pub const TARGET_SAME_REGIONS: &str =
        "target.telephony and target.agents must list the same two regions";
    pub const HISTORY_RANGE: &str = "historyLimit must be between 1 and 50";
    pub const SCHEDULE_FIELDS: &str = "schedule must be a cron expression of 5 fields: minute hour day-of-month month day-of-week";
    pub const TIME_ZONE: &str =
        "timeZone must be an IANA time zone name such as UTC or Europe/Berlin";
    pub const TARGET_IS_DECLARED: &str =
        "target equals the split the TrafficDistribution declares: the drill would move nothing";
    pub const REF_NAME: &str = "distributionRef names a TrafficDistribution in the drill's own namespace: a name only (no namespace, no slash)";
}

/// Highest holdSeconds.
pub const MAX_HOLD_SECONDS: i64 = 86_400;
/// Pattern of spec.schedule in the CRD (five fields; the values are checked by the controller).
pub const SCHEDULE_PATTERN: &str = r"^\s*\S+\s+\S+\s+\S+\s+\S+\s+\S+\s*$";
/// Pattern of spec.timeZone in the CRD.
pub const TIME_ZONE_PATTERN: &str = r"^[A-Za-z][A-Za-z0-9_+-]*(/[A-Za-z0-9_+-]+)*$";

fn err(field: &str, message: impl Into<String>) -> FieldError {
    FieldError {
        field: field.into(),
        message: message.into(),
    }
}

/// The checks of the spec alone.
pub fn failover_drill(s: &FailoverDrillSpec, pairs: &RegionPairs) -> Result<(), Vec<FieldError>> {
    let mut e = Vec::new();
    let name = &s.distribution_ref.name;
    if name.is_empty() || name.contains('/') || !super::validate::is_object_name(name) {
        e.push(err("spec.distributionRef.name", msg::REF_NAME));
    }
    if let Some(c) = &s.schedule
        && let Err(why) = Cron::parse(c)
    {
        e.push(err("spec.schedule", why));
    }
    if let Err(why) = time_zone(&s.time_zone) {
        e.push(err("spec.timeZone", why));
    }
    if !(1..=MAX_HOLD_SECONDS).contains(&s.hold_seconds) {
        e.push(err("spec.holdSeconds", msg::HOLD_RANGE));
    }
    if !(1..=50).contains(&s.history_limit) {
        e.push(err("spec.historyLimit", msg::HISTORY_RANGE));
    }
    let t = &s.target;
    if t.telephony.is_none() && t.agents.is_none() {
        e.push(err("spec.target", msg::TARGET_PART));
    }
    for (field, m) in [
        ("spec.target.telephony", &t.telephony),
        ("spec.target.agents", &t.agents),
    ] {
        if let Some(m) = m
            && let Err(mut v) = percentages(field, m, pairs)
        {
            e.append(&mut v);
        }
    }
    if let (Some(a), Some(b)) = (&t.telephony, &t.agents)
        && !a.keys().eq(b.keys())
    {
        e.push(err("spec.target", msg::TARGET_SAME_REGIONS));
    }
    if e.is_empty() { Ok(()) } else { Err(e) }
}

/// The check that needs the distribution: a target that moves something. Parts the target
/// leaves out are not compared.
pub fn against_distribution(
    s: &FailoverDrillSpec,
    d: &TrafficDistributionSpec,
) -> Result<(), FieldError> {
    let same = |t: &Option<std::collections::BTreeMap<String, i32>>,
                declared: &Option<std::collections::BTreeMap<String, i32>>| {
        t.is_none() || t == declared
    };
    if same(&s.target.telephony, &d.telephony) && same(&s.target.agents, &d.agents) {
        return Err(err("spec.target", msg::TARGET_IS_DECLARED));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::common::ObjectRef;
    use crate::api::failover_drill::DrillTarget;

    fn split(w: i32) -> Option<std::collections::BTreeMap<String, i32>> {
        Some([("us-west-2".into(), w), ("us-east-1".into(), 100 - w)].into())
    }

    pub fn spec() -> FailoverDrillSpec {
        FailoverDrillSpec {
            distribution_ref: ObjectRef::new("support-split"),
            schedule: Some("0 3 * * 2".into()),
            time_zone: "UTC".into(),
            target: DrillTarget {
                telephony: split(0),
                agents: split(0),
            },
            hold_seconds: 900,
            rollout: None,
            abort_if: vec![],
            suspend: false,
            history_limit: 5,
        }
    }

    fn fields(s: &FailoverDrillSpec) -> Vec<String> {
        failover_drill(s, &RegionPairs::default())
            .err()
            .unwrap_or_default()
            .into_iter()
            .map(|e| format!("{}: {}", e.field, e.message))
            .collect()
    }

    #[test]
    fn a_well_formed_drill_is_admitted() {
        assert_eq!(fields(&spec()), Vec::<String>::new());
    }

    #[test]
    fn a_hold_of_zero_is_refused() {
        let mut s = spec();
        s.hold_seconds = 0;
        assert_eq!(
            fields(&s),
            vec![format!("spec.holdSeconds: {}", msg::HOLD_RANGE)]
        );
    }

    #[test]
    fn a_bad_cron_or_time_zone_is_refused_with_its_field() {
        let mut s = spec();
        s.schedule = Some("0 25 * * *".into());
        s.time_zone = "Europe/Atlantis".into();
        let f = fields(&s);
        assert!(f[0].starts_with("spec.schedule: hour field"), "{f:?}");
        assert!(f[1].starts_with("spec.timeZone:"), "{f:?}");
    }

    #[test]
    fn a_reference_into_another_namespace_is_refused() {
        let mut s = spec();
        s.distribution_ref.name = "other-ns/support-split".into();
        assert_eq!(
            fields(&s),
            vec![format!("spec.distributionRef.name: {}", msg::REF_NAME)]
        );
    }

    #[test]
    fn a_target_that_is_not_a_split_is_refused() {
        let mut s = spec();
        s.target.telephony = split(5);
        assert!(fields(&s).iter().any(|f| f.contains("multiples of 10")));
    }

    #[test]
    fn a_target_equal_to_the_declared_split_is_refused() {
        let s = spec();
        let d: TrafficDistributionSpec = serde_json::from_value(serde_json::json!({
            "groupRef": {"name": "g"},
            "telephony": {"us-west-2": 0, "us-east-1": 100},
            "agents": {"us-west-2": 0, "us-east-1": 100},
        }))
        .unwrap();
        assert_eq!(
            against_distribution(&s, &d).unwrap_err().message,
            msg::TARGET_IS_DECLARED
        );
        let mut moved = d.clone();
        moved.telephony = split(60);
        assert!(against_distribution(&s, &moved).is_ok());
    }
}
