//! `decide` as a table: held / drift / gated / preflight / routing, alone and together.

use std::collections::BTreeSet;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use serde_json::json;

use super::*;
use crate::api::preflight::{FindingResource, PreflightFinding, PreflightStatus, Severity, kinds};
use crate::plan::gates::GateResult;

const W2: &str = "us-west-2";
const E1: &str = "us-east-1";
const ARN: &str = "arn:aws:connect:us-west-2:111122223333:traffic-distribution-group/g1";

fn split(tw2: i32, aw2: i32) -> Distribution {
    Distribution {
        telephony: [(W2.to_string(), tw2), (E1.to_string(), 100 - tw2)].into(),
        agents: [(W2.to_string(), aw2), (E1.to_string(), 100 - aw2)].into(),
        sign_in: [(W2.to_string(), true), (E1.to_string(), true)].into(),
    }
}

/// A TrafficDistribution declaring telephony `tw2`/rest and agents `aw2`/rest, plus `extra`
/// spec fields (merged).
fn td(tw2: i32, aw2: i32, extra: serde_json::Value) -> TrafficDistribution {
    let mut spec = json!({
        "groupRef": {"name": "g"},
        "telephony": {W2: tw2, E1: 100 - tw2},
        "agents": {W2: aw2, E1: 100 - aw2},
    });
    for (k, v) in extra.as_object().cloned().unwrap_or_default() {
        spec[k] = v;
    }
    serde_json::from_value(json!({
        "apiVersion": "connectgr.io/v1alpha1",
        "kind": "TrafficDistribution",
        "metadata": {"name": "split", "namespace": "support", "generation": 2},
        "spec": spec,
    }))
    .expect("a valid TrafficDistribution")
}

fn group(is_default: bool, status: &str) -> GroupSeen {
    GroupSeen {
        arn: ARN.into(),
        id: "g1".into(),
        instance_id: "i-1".into(),
        source_region: W2.into(),
        facts: GroupFacts {
            is_default,
            status: status.into(),
            regions: [W2.to_string(), E1.to_string()],
        },
    }
}

fn blocking_in(region: &str) -> PreflightStatus {
    PreflightStatus {
        findings: vec![PreflightFinding {
            kind: kinds::FLOW_HARDCODED_REGION.into(),
            severity: Severity::Blocking,
            resource: FindingResource {
                resource_type: "ContactFlow".into(),
                name: "inbound".into(),
                arn: None,
            },
            region: region.into(),
            message: "calls a us-west-2 Lambda".into(),
            fix: None,
            reference_code: None,
        }],
        total: 1,
        blocking: 1,
        warnings: 0,
    }
}

fn now() -> Timestamp {
    "2026-12-04T12:00:00Z".parse().unwrap()
}

/// The status of an object that was applied and Ready at `applied` (generation 2).
fn settled_at(applied: &Distribution) -> TrafficDistributionStatus {
    TrafficDistributionStatus {
        observed_generation: Some(2),
        last_applied: Some(drift::declared_split(true, true, false, applied)),
        ..Default::default()
    }
}

struct Case<'a> {
    obj: TrafficDistribution,
    group: GroupSeen,
    observed: Option<Distribution>,
    routing: Option<Result<CrossRegionRouting, String>>,
    findings: Findings<'a>,
    down: Option<BTreeSet<String>>,
    gates: Option<Vec<GateOutcome>>,
    observe: bool,
}

impl<'a> Case<'a> {
    fn new(obj: TrafficDistribution, observed: Distribution) -> Self {
        Self {
            obj,
            group: group(false, "ACTIVE"),
            observed: Some(observed),
            routing: None,
            findings: Findings::NotManaged,
            down: None,
            gates: None,
            observe: false,
        }
    }
    fn decide(&self, previous: &TrafficDistributionStatus) -> Decided {
        let facts = Facts {
            obj: &self.obj,
            group: &self.group,
            observed: self.observed.as_ref().map(|d| (d, W2)),
            routing: self.routing.clone(),
            findings: self.findings.clone(),
            down: self.down.as_ref(),
            gates: self.gates.as_deref(),
            webhook_refused: None,
            drift_policy: DriftPolicy::Correct,
            observe: self.observe,
            resync: Duration::from_secs(300),
            now: now(),
        };
        decide(&facts, previous)
    }
    fn plan(&self, previous: &TrafficDistributionStatus) -> Plan {
        match self.decide(previous) {
            Decided::Plan(p) => *p,
            Decided::Read(r) => panic!("expected a plan, the decision asked for {r:?}"),
        }
    }
}

fn reason(p: &Plan) -> String {
    match &p.ending.verdict {
        Verdict::Ready(_) => "Ready".into(),
        Verdict::Progressing { reason, .. } | Verdict::Stalled { reason, .. } => reason.clone(),
    }
}

fn split_write(p: &Plan) -> Option<&SplitWrite> {
    p.writes.iter().find_map(|w| match w {
        Write::Split(s) => Some(s.as_ref()),
        _ => None,
    })
}

fn routing_write(p: &Plan) -> Option<bool> {
    p.writes.iter().find_map(|w| match w {
        Write::Routing { isolated, .. } => Some(*isolated),
        _ => None,
    })
}

#[test]
fn connect_at_the_declared_split_is_ready_and_writes_nothing() {
    let p = Case::new(td(60, 50, json!({})), split(60, 50)).plan(&settled_at(&split(60, 50)));
    assert_eq!(reason(&p), "Ready");
    assert!(p.writes.is_empty());
}

#[test]
fn a_new_spec_is_one_split_write_through_the_region_that_takes_most_calls() {
    let p = Case::new(td(0, 0, json!({})), split(60, 50)).plan(&settled_at(&split(60, 50)));
    let w = split_write(&p).expect("a split write");
    assert_eq!(w.order[0], E1);
    assert_eq!(w.after, split(0, 0));
    assert_eq!(p.writes.len(), 1);
}

#[test]
fn a_group_not_active_waits_without_reading_or_writing_g2() {
    let mut c = Case::new(td(0, 0, json!({})), split(60, 50));
    c.group = group(false, "UPDATE_IN_PROGRESS");
    c.observed = None;
    let p = c.plan(&TrafficDistributionStatus::default());
    assert!(p.writes.is_empty());
    assert!(matches!(p.ending.verdict, Verdict::Progressing { .. }));
}

#[test]
fn a_paused_rollout_without_gates_holds_the_split_and_still_applies_routing() {
    let mut c = Case::new(
        td(
            0,
            0,
            json!({"rollout": {"stepPercent": 20, "paused": true}, "crossRegionRouting": "Isolated"}),
        ),
        split(60, 50),
    );
    c.group = group(true, "ACTIVE");
    c.routing = Some(Ok(CrossRegionRouting::Enabled));
    let p = c.plan(&settled_at(&split(60, 50)));
    assert_eq!(reason(&p), reasons::ROLLOUT_PAUSED);
    assert!(split_write(&p).is_none());
    assert_eq!(routing_write(&p), Some(true));
}

#[test]
fn routing_already_as_declared_is_not_written_again() {
    let mut c = Case::new(
        td(60, 50, json!({"crossRegionRouting": "Isolated"})),
        split(60, 50),
    );
    c.group = group(true, "ACTIVE");
    c.routing = Some(Ok(CrossRegionRouting::Isolated));
    let p = c.plan(&settled_at(&split(60, 50)));
    assert!(p.writes.is_empty());
    assert_eq!(reason(&p), "Ready");
    assert_eq!(
        p.status.cross_region_routing,
        Some(CrossRegionRouting::Isolated)
    );
}

#[test]
fn routing_on_a_group_that_is_not_the_default_is_stalled_before_any_split_write() {
    let c = Case::new(
        td(0, 0, json!({"crossRegionRouting": "Isolated"})),
        split(60, 50),
    );
    let p = c.plan(&settled_at(&split(60, 50)));
    assert_eq!(reason(&p), reasons::GLOBAL_ROUTING_UNAVAILABLE);
    assert!(p.writes.is_empty());
}

#[test]
fn routing_connect_refuses_to_read_is_stalled_and_no_split_is_written() {
    let mut c = Case::new(
        td(0, 0, json!({"crossRegionRouting": "Isolated"})),
        split(60, 50),
    );
    c.group = group(true, "ACTIVE");
    c.routing = Some(Err("not enabled for global routing".into()));
    let p = c.plan(&settled_at(&split(60, 50)));
    assert_eq!(reason(&p), reasons::GLOBAL_ROUTING_UNAVAILABLE);
    assert!(p.writes.is_empty());
}

#[test]
fn routing_and_a_new_split_are_two_writes_routing_first() {
    let mut c = Case::new(
        td(0, 0, json!({"crossRegionRouting": "Isolated"})),
        split(60, 50),
    );
    c.group = group(true, "ACTIVE");
    c.routing = Some(Ok(CrossRegionRouting::Enabled));
    let p = c.plan(&settled_at(&split(60, 50)));
    assert!(matches!(p.writes[0], Write::Routing { isolated: true, .. }));
    assert!(matches!(p.writes[1], Write::Split(_)));
}

#[test]
fn a_hand_change_within_the_drift_pause_is_reported_and_left_alone() {
    let obj = td(60, 50, json!({"driftPauseSeconds": 600}));
    let p = Case::new(obj, split(30, 50)).plan(&settled_at(&split(60, 50)));
    assert_eq!(reason(&p), reasons::DRIFT_DETECTED);
    assert!(p.writes.is_empty());
    assert!(p.status.drift.is_some());
    assert!(p.notes.iter().any(|n| n.reason == reasons::DRIFT_DETECTED));
}

#[test]
fn a_hand_change_with_no_pause_is_corrected_in_the_same_pass() {
    let obj = td(60, 50, json!({"driftPauseSeconds": 0}));
    let p = Case::new(obj, split(30, 50)).plan(&settled_at(&split(60, 50)));
    let w = split_write(&p).expect("the correction");
    assert_eq!(w.after, split(60, 50));
    assert!(w.corrects.is_some());
}

#[test]
fn a_hand_change_under_a_paused_rollout_is_held_not_corrected() {
    let obj = td(
        60,
        50,
        json!({"driftPauseSeconds": 0, "rollout": {"stepPercent": 20, "paused": true}}),
    );
    let p = Case::new(obj, split(30, 50)).plan(&settled_at(&split(60, 50)));
    assert_eq!(reason(&p), reasons::ROLLOUT_PAUSED);
    assert!(p.writes.is_empty());
}

fn gated(extra: serde_json::Value) -> serde_json::Value {
    let mut r = json!({"rollout": {"stepPercent": 50, "pauseSeconds": 60,
        "gates": [{"name": "ok", "approval": {}}]}});
    for (k, v) in extra.as_object().cloned().unwrap_or_default() {
        r["rollout"][k] = v;
    }
    r
}

#[test]
fn a_gated_step_asks_the_gates_before_it_plans_a_write() {
    let c = Case::new(td(0, 0, gated(json!({}))), split(100, 100));
    match c.decide(&settled_at(&split(100, 100))) {
        Decided::Read(Read::Gates(ask)) => {
            assert_eq!(ask.step, 1);
            assert_eq!(ask.region, E1);
        }
        _ => panic!("expected the gates to be asked"),
    }
}

#[test]
fn gates_that_pass_send_the_step_and_record_it_only_once_it_lands() {
    let mut c = Case::new(td(0, 0, gated(json!({}))), split(100, 100));
    c.gates = Some(vec![GateOutcome {
        name: "ok".into(),
        result: GateResult::Pass,
        message: "approved".into(),
    }]);
    let p = c.plan(&settled_at(&split(100, 100)));
    let w = split_write(&p).expect("the step");
    // Agents lead telephony (D4): the first step moves agents half way.
    assert_eq!(w.after, split(100, 50));
    assert!(matches!(&w.rollout, Landing::Set(r) if r.step == 1));
    assert_ne!(p.status.rollout.as_ref().map(|r| r.step), Some(1));
}

#[test]
fn gates_not_asked_in_observe_mode_and_the_next_step_is_still_planned() {
    let mut c = Case::new(td(0, 0, gated(json!({}))), split(100, 100));
    c.observe = true;
    let p = c.plan(&settled_at(&split(100, 100)));
    assert_eq!(
        split_write(&p).map(|w| w.after.clone()),
        Some(split(100, 50))
    );
}

#[test]
fn a_failing_gate_with_a_limit_of_one_aborts_to_the_starting_split() {
    let mut c = Case::new(
        td(
            0,
            0,
            gated(json!({"failureLimit": 1, "onFailure": "Abort"})),
        ),
        split(50, 50),
    );
    let mut previous = settled_at(&split(50, 50));
    previous.rollout = Some(RolloutStatus {
        phase: Some("Progressing".into()),
        step: 1,
        of: 2,
        generation: Some(2),
        start: Some(crate::api::RolloutStart {
            telephony: split(100, 100).telephony,
            agents: split(100, 100).agents,
            sign_in: split(100, 100).sign_in,
        }),
        next_step_time: Some(Time(now())),
        ..Default::default()
    });
    c.gates = Some(vec![GateOutcome {
        name: "ok".into(),
        result: GateResult::Fail,
        message: "no".into(),
    }]);
    let p = c.plan(&previous);
    assert_eq!(reason(&p), reasons::ROLLOUT_ABORTED);
    assert_eq!(split_write(&p).map(|w| w.after.telephony[W2]), Some(100));
}

#[test]
fn a_move_into_a_region_with_blocking_findings_asks_for_a_probe_of_the_region_left() {
    let pf = blocking_in(E1);
    let mut c = Case::new(td(0, 0, json!({})), split(100, 100));
    c.findings = Findings::Known(&pf);
    match c.decide(&settled_at(&split(100, 100))) {
        Decided::Read(Read::Probe(regions)) => assert_eq!(regions, vec![W2.to_string()]),
        _ => panic!("expected a probe"),
    }
}

#[test]
fn blocking_findings_refuse_the_move_while_the_region_left_answers() {
    let pf = blocking_in(E1);
    let mut c = Case::new(td(0, 0, json!({})), split(100, 100));
    c.findings = Findings::Known(&pf);
    c.down = Some(BTreeSet::new());
    let p = c.plan(&settled_at(&split(100, 100)));
    assert_eq!(reason(&p), reasons::PREFLIGHT_BLOCKING);
    assert!(p.writes.is_empty());
}

#[test]
fn blocking_findings_do_not_refuse_a_failover_from_a_region_that_is_down() {
    let pf = blocking_in(E1);
    let mut c = Case::new(td(0, 0, json!({})), split(100, 100));
    c.findings = Findings::Known(&pf);
    c.down = Some([W2.to_string()].into());
    let p = c.plan(&settled_at(&split(100, 100)));
    assert!(split_write(&p).is_some());
}

#[test]
fn unknown_findings_refuse_and_look_again_soon_unless_accepted() {
    let mut c = Case::new(td(0, 0, json!({})), split(100, 100));
    c.findings = Findings::Unknown("no status.preflight".into());
    c.down = Some(BTreeSet::new());
    let p = c.plan(&settled_at(&split(100, 100)));
    assert_eq!(reason(&p), reasons::PREFLIGHT_UNKNOWN);
    assert!(p.ending.requeue <= Duration::from_secs(15));
    c.obj = td(0, 0, json!({"acceptRisks": ["PreflightUnknown"]}));
    assert!(split_write(&c.plan(&settled_at(&split(100, 100)))).is_some());
}

#[test]
fn a_drift_correction_into_a_region_with_blocking_findings_is_refused_too() {
    let pf = blocking_in(E1);
    let obj = td(0, 0, json!({"driftPauseSeconds": 0}));
    let mut c = Case::new(obj, split(100, 100));
    c.findings = Findings::Known(&pf);
    c.down = Some(BTreeSet::new());
    let p = c.plan(&settled_at(&split(0, 0)));
    assert_eq!(reason(&p), reasons::PREFLIGHT_BLOCKING);
    assert!(p.writes.is_empty());
}

#[test]
fn a_gated_step_into_a_region_with_blocking_findings_is_refused_after_the_gates_pass() {
    let pf = blocking_in(E1);
    // Agents are already across: the next step moves telephony into the replica.
    let mut c = Case::new(td(0, 0, gated(json!({}))), split(100, 0));
    c.findings = Findings::Known(&pf);
    c.gates = Some(vec![GateOutcome {
        name: "ok".into(),
        result: GateResult::Pass,
        message: "approved".into(),
    }]);
    match c.decide(&settled_at(&split(100, 0))) {
        Decided::Read(Read::Probe(_)) => {}
        _ => panic!("expected a probe after the gates passed"),
    }
    c.down = Some(BTreeSet::new());
    let p = c.plan(&settled_at(&split(100, 0)));
    assert_eq!(reason(&p), reasons::PREFLIGHT_BLOCKING);
}

#[test]
fn routing_is_planned_even_when_the_split_is_refused_by_findings() {
    let pf = blocking_in(E1);
    let mut c = Case::new(
        td(0, 0, json!({"crossRegionRouting": "Isolated"})),
        split(100, 100),
    );
    c.group = group(true, "ACTIVE");
    c.routing = Some(Ok(CrossRegionRouting::Enabled));
    c.findings = Findings::Known(&pf);
    c.down = Some(BTreeSet::new());
    let p = c.plan(&settled_at(&split(100, 100)));
    assert_eq!(reason(&p), reasons::PREFLIGHT_BLOCKING);
    assert_eq!(routing_write(&p), Some(true));
    assert!(split_write(&p).is_none());
}

#[test]
fn the_planned_calls_name_the_region_and_the_operation() {
    let p = Case::new(td(0, 0, json!({})), split(60, 50)).plan(&settled_at(&split(60, 50)));
    let calls: Vec<String> = p.writes.iter().map(Write::describe).collect();
    assert!(calls[0].starts_with("[us-east-1] UpdateTrafficDistribution"));
}
