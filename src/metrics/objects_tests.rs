use super::*;
use serde_json::json;

fn distribution(status: serde_json::Value) -> TrafficDistribution {
    serde_json::from_value(json!({
        "apiVersion": "connectgr.io/v1alpha1",
        "kind": "TrafficDistribution",
        "metadata": {"name": "split", "namespace": "support"},
        "spec": {
            "groupRef": {"name": "g"},
            "telephony": {"us-east-1": 100, "us-west-2": 0},
            "driftPauseSeconds": 600
        },
        "status": status
    }))
    .unwrap()
}

fn object() -> ObjectLabels {
    ObjectLabels {
        namespace: "support".into(),
        name: "split".into(),
    }
}

fn split(kind: &str, region: &str) -> SplitLabels {
    SplitLabels {
        namespace: "support".into(),
        name: "split".into(),
        channel: kind.into(),
        region: region.into(),
    }
}

const DRIFT: &str = r#"{"policy": "Correct", "total": 1, "message": "m",
    "firstSeenTime": "2026-01-01T00:00:00Z", "specHash": "h"}"#;

#[test]
fn a_distribution_exports_its_declared_and_live_split_per_region_and_its_drift_pause() {
    let d = distribution(json!({"telephony": {"us-east-1": 70, "us-west-2": 30}}));
    let s = distribution_series(&d, None);
    assert!(s.contains(&(Series::SplitDeclared(split("telephony", "us-east-1")), 100)));
    assert!(s.contains(&(Series::SplitDeclared(split("telephony", "us-west-2")), 0)));
    assert!(s.contains(&(Series::SplitLive(split("telephony", "us-east-1")), 70)));
    assert!(s.contains(&(Series::SplitLive(split("telephony", "us-west-2")), 30)));
    assert!(s.contains(&(Series::DriftPause(object()), 600)));
    assert!(
        !s.iter()
            .any(|(x, _)| matches!(x, Series::SplitDeclared(l) if l.channel == "agents")),
        "agents are not declared: no series"
    );
}

#[test]
fn the_live_split_differs_from_the_first_time_it_was_seen_differing() {
    let d = distribution(json!({"telephony": {"us-east-1": 70, "us-west-2": 30}}));
    assert_eq!(differs_since(&d, None, 1000), Some(1000));
    assert_eq!(differs_since(&d, Some(900), 1000), Some(900));
}

#[test]
fn a_drift_dates_the_difference_from_its_first_seen_time() {
    let drift: serde_json::Value = serde_json::from_str(DRIFT).unwrap();
    let d = distribution(json!({"telephony": {"us-east-1": 70, "us-west-2": 30}, "drift": drift}));
    assert_eq!(
        differs_since(&d, Some(1_900_000_000), 1_900_000_100),
        Some(1_767_225_600)
    );
}

#[test]
fn the_live_split_equal_to_the_declared_one_does_not_differ() {
    let d = distribution(json!({"telephony": {"us-east-1": 100}}));
    assert_eq!(
        differs_since(&d, Some(900), 1000),
        None,
        "a missing region counts as 0"
    );
}

#[test]
fn a_rollout_under_way_is_not_a_difference_but_a_complete_one_is() {
    let mid = distribution(json!({"telephony": {"us-east-1": 50, "us-west-2": 50},
        "rollout": {"step": 1, "of": 2}}));
    assert_eq!(differs_since(&mid, None, 1000), None);
    let done = distribution(json!({"telephony": {"us-east-1": 50, "us-west-2": 50},
        "rollout": {"step": 2, "of": 2, "phase": "Complete"}}));
    assert_eq!(differs_since(&done, None, 1000), Some(1000));
}

#[test]
fn a_split_not_read_yet_does_not_differ() {
    assert_eq!(differs_since(&distribution(json!({})), None, 1000), None);
}

#[test]
fn the_drift_state_is_none_paused_or_left_alone() {
    let mut drift: DriftStatus = serde_json::from_str(DRIFT).unwrap();
    assert_eq!(drift_state(None), DRIFT_NONE);
    assert_eq!(drift_state(Some(&drift)), DRIFT_LEFT_ALONE);
    drift.correction_time = Some(drift.first_seen_time.clone());
    assert_eq!(drift_state(Some(&drift)), DRIFT_PAUSED);
}

fn replica(status: serde_json::Value) -> InstanceReplica {
    serde_json::from_value(json!({
        "apiVersion": "connectgr.io/v1alpha1",
        "kind": "InstanceReplica",
        "metadata": {"name": "r", "namespace": "support"},
        "spec": {"instanceId": "i", "sourceRegion": "us-east-1", "replicaRegion": "us-west-2",
            "replicaAlias": "r"},
        "status": status
    }))
    .unwrap()
}

fn finding(kind: &str, severity: &str) -> serde_json::Value {
    json!({"kind": kind, "severity": severity, "region": "us-west-2", "message": "m",
        "resource": {"type": "ContactFlow", "name": "f"}})
}

#[test]
fn a_replica_exports_failover_ready_and_its_findings_by_kind_and_severity_with_the_unlisted_ones() {
    let r = replica(json!({
        "conditions": [{"type": "FailoverReady", "status": "False", "reason": "PreflightBlocking",
            "message": "", "lastTransitionTime": "2026-01-01T00:00:00Z"}],
        "preflight": {"findings": [finding("FlowHardcodedRegion", "Blocking"),
            finding("FlowHardcodedRegion", "Blocking"), finding("LambdaNotReplicated", "Warning")],
            "total": 25, "blocking": 22, "warnings": 3}
    }));
    let (series, findings) = replica_series(&r);
    assert_eq!(
        series,
        vec![(
            Series::FailoverReady(ObjectLabels {
                namespace: "support".into(),
                name: "r".into()
            }),
            0
        )]
    );
    let f = |k: &str, s: &str| {
        findings
            .get(&FindingLabels {
                kind: k.into(),
                severity: s.into(),
            })
            .copied()
    };
    assert_eq!(f("FlowHardcodedRegion", "Blocking"), Some(2));
    assert_eq!(f("LambdaNotReplicated", "Warning"), Some(1));
    assert_eq!(f("Unlisted", "Blocking"), Some(20));
    assert_eq!(f("Unlisted", "Warning"), Some(2));
    assert_eq!(
        findings.values().sum::<i64>(),
        25,
        "every finding counted once"
    );
}

#[test]
fn a_series_an_object_no_longer_has_and_an_expired_objects_series_are_removed() {
    let mut t = Tracker::default();
    let labels = ObjectLabels {
        namespace: "tracker-test".into(),
        name: "x".into(),
    };
    let k = (
        "TrafficDistribution".to_string(),
        "tracker-test".to_string(),
        "x".to_string(),
    );
    let since = Series::SplitDiffersSince(labels.clone());
    let pause = Series::DriftPause(labels.clone());
    let minute = Duration::from_secs(60);
    t.update(
        k.clone(),
        vec![(since, 5), (pause.clone(), 60)],
        BTreeMap::new(),
        Some(5),
        minute,
    );
    assert!(METRICS.split_differs_since.get(&labels).is_some());
    t.update(k, vec![(pause, 60)], BTreeMap::new(), None, minute);
    assert!(
        METRICS.split_differs_since.get(&labels).is_none(),
        "no longer differs"
    );
    assert!(METRICS.drift_pause.get(&labels).is_some());
    t.expire(Instant::now() + minute * 2);
    assert!(
        METRICS.drift_pause.get(&labels).is_none(),
        "not refreshed: gone"
    );
}

#[test]
fn findings_are_summed_over_replicas_and_a_kind_no_replica_has_any_more_shows_zero() {
    let mut t = Tracker::default();
    let l = FindingLabels {
        kind: "TrackerTestKind".into(),
        severity: "Blocking".into(),
    };
    let one = BTreeMap::from([(l.clone(), 2)]);
    let k = |n: &str| {
        (
            "InstanceReplica".to_string(),
            "ns".to_string(),
            n.to_string(),
        )
    };
    let hour = Duration::from_secs(3600);
    t.update(k("a"), vec![], one.clone(), None, hour);
    t.update(k("b"), vec![], one, None, hour);
    assert_eq!(METRICS.preflight_findings.get_or_create(&l).get(), 4);
    t.update(k("a"), vec![], BTreeMap::new(), None, hour);
    t.update(k("b"), vec![], BTreeMap::new(), None, hour);
    assert_eq!(METRICS.preflight_findings.get_or_create(&l).get(), 0);
}
