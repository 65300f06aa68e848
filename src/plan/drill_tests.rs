//! The drill's run state machine, as a specification (time is an argument).

use std::collections::BTreeMap;

use serde_json::json;

use super::*;
use crate::api::TrafficDistribution;
use crate::plan::gates::GateResult;

const W: &str = "us-west-2";
const E: &str = "us-east-1";

fn regions() -> [String; 2] {
    [W.into(), E.into()]
}

fn t(s: &str) -> Timestamp {
    s.parse().unwrap()
}

fn split(tw: i32, aw: i32) -> Distribution {
    Distribution {
        telephony: BTreeMap::from([(W.into(), tw), (E.into(), 100 - tw)]),
        agents: BTreeMap::from([(W.into(), aw), (E.into(), 100 - aw)]),
        sign_in: BTreeMap::new(),
    }
}

fn drill(extra: serde_json::Value) -> FailoverDrill {
    let mut spec = json!({
        "distributionRef": {"name": "support-split"},
        "target": {"telephony": {W: 0, E: 100}, "agents": {W: 0, E: 100}},
        "holdSeconds": 600,
    });
    for (k, v) in extra.as_object().unwrap() {
        spec[k] = v.clone();
    }
    serde_json::from_value(json!({
        "apiVersion": "connectgr.io/v1alpha1", "kind": "FailoverDrill",
        "metadata": {"name": "monthly", "namespace": "support", "generation": 1},
        "spec": spec,
    }))
    .unwrap()
}

fn with_run_now(mut d: FailoverDrill, v: &str) -> FailoverDrill {
    d.metadata
        .annotations
        .get_or_insert_with(Default::default)
        .insert(RUN_NOW.into(), v.into());
    d
}

/// A distribution declaring 60/40 telephony and 50/50 agents, Ready at it.
fn td(status: serde_json::Value) -> TrafficDistribution {
    let mut st = json!({
        "observedGeneration": 3,
        "conditions": [{"type": "Ready", "status": "True", "reason": "Reconciled", "message": "split is T 60/40 A 50/50",
                        "lastTransitionTime": "2026-12-01T00:00:00Z"}],
    });
    for (k, v) in status.as_object().unwrap() {
        st[k] = v.clone();
    }
    serde_json::from_value(json!({
        "apiVersion": "connectgr.io/v1alpha1", "kind": "TrafficDistribution",
        "metadata": {"name": "support-split", "namespace": "support", "generation": 3},
        "spec": {"groupRef": {"name": "support-default"},
                 "telephony": {W: 60, E: 40}, "agents": {W: 50, E: 50}},
        "status": st,
    }))
    .unwrap()
}

struct Case {
    drill: FailoverDrill,
    td: Option<TrafficDistribution>,
    live: Option<Distribution>,
    others: Vec<String>,
    gates: Option<Vec<GateOutcome>>,
    observe: bool,
    now: Timestamp,
}

impl Case {
    fn new(drill: FailoverDrill) -> Self {
        Self {
            drill,
            td: Some(td(json!({}))),
            live: Some(split(60, 50)),
            others: vec![],
            gates: None,
            observe: false,
            now: t("2026-12-08T03:00:00Z"),
        }
    }
    fn decide(&self, previous: &FailoverDrillStatus) -> Decided {
        let r = regions();
        let f = Facts {
            drill: &self.drill,
            distribution: self.td.as_ref(),
            regions: Some(&r),
            live: self.live.as_ref(),
            findings: Findings::NotManaged,
            others_running: &self.others,
            gates: self.gates.as_deref(),
            figures: None,
            observe: self.observe,
            now: self.now,
        };
        decide(&f, previous)
    }
    fn plan(&self, previous: &FailoverDrillStatus) -> Plan {
        match self.decide(previous) {
            Decided::Plan(p) => *p,
            Decided::Read(r) => panic!("asked for {r:?}"),
        }
    }
}

fn reasons_of(p: &Plan) -> Vec<&str> {
    p.notes.iter().map(|n| n.reason.as_str()).collect()
}

/// The status after a run was started at `start` and executed.
fn running(case: &Case, start: &str) -> FailoverDrillStatus {
    let mut c = Case::new(with_run_now(case.drill.clone(), "go"));
    c.now = t(start);
    let p = c.plan(&FailoverDrillStatus::default());
    let mut status = p.status.clone();
    let mut notes = vec![];
    started(&mut status, &mut notes, p.start.as_ref().unwrap());
    status.observed_generation = Some(1);
    status
}

fn fail(name: &str) -> GateOutcome {
    GateOutcome {
        name: name.into(),
        result: GateResult::Fail,
        message: "oldest contact age (s) 300 > 120 in us-east-1".into(),
    }
}

fn pass(name: &str) -> GateOutcome {
    GateOutcome {
        name: name.into(),
        result: GateResult::Pass,
        message: "ok".into(),
    }
}

#[test]
fn the_run_now_annotation_starts_a_run_from_the_declared_split() {
    let c = Case::new(with_run_now(drill(json!({})), "1"));
    let p = c.plan(&FailoverDrillStatus::default());
    let run = p.start.expect("a run starts");
    assert_eq!(run.trigger, "run-now");
    assert_eq!(run.from.as_deref(), Some("T 60/40 A 50/50"));
    assert_eq!(p.status.last_handled_run_now.as_deref(), Some("1"));
    assert!(matches!(p.ending.verdict, Verdict::Progressing { .. }));
}

#[test]
fn the_same_run_now_value_does_not_start_a_second_run() {
    let c = Case::new(with_run_now(drill(json!({})), "1"));
    let previous = FailoverDrillStatus {
        last_handled_run_now: Some("1".into()),
        observed_generation: Some(1),
        ..Default::default()
    };
    let p = c.plan(&previous);
    assert!(p.start.is_none());
    assert!(p.ending.verdict.is_ready());
}

#[test]
fn in_observe_mode_the_start_is_planned_and_the_drill_stays_ready() {
    let mut c = Case::new(with_run_now(drill(json!({})), "1"));
    c.observe = true;
    let p = c.plan(&FailoverDrillStatus::default());
    assert!(p.start.is_some(), "the start is the planned write");
    assert_eq!(p.status.phase, DrillPhase::Idle);
    assert!(p.ending.verdict.is_ready());
}

#[test]
fn starting_a_run_needs_the_live_split_first() {
    let mut c = Case::new(with_run_now(drill(json!({})), "1"));
    c.live = None;
    assert!(matches!(
        c.decide(&FailoverDrillStatus::default()),
        Decided::Read(Read::Split)
    ));
}

#[test]
fn a_distribution_not_at_its_declared_split_is_skipped_and_nothing_starts() {
    let mut c = Case::new(with_run_now(drill(json!({})), "1"));
    c.live = Some(split(30, 50));
    let p = c.plan(&FailoverDrillStatus::default());
    assert!(p.start.is_none());
    let last = p.status.last_run.as_ref().unwrap();
    assert_eq!(last.result, Some(DrillResult::Skipped));
    assert!(
        last.reason.contains("not at its declared split"),
        "{}",
        last.reason
    );
    assert_eq!(reasons_of(&p), vec![reasons::DRILL_SKIPPED]);
    assert_eq!(p.ended, vec![(DrillResult::Skipped, 0.0)]);
}

#[test]
fn a_distribution_that_is_not_ready_is_skipped() {
    let mut c = Case::new(with_run_now(drill(json!({})), "1"));
    c.td = Some(td(
        json!({"conditions": [{"type": "Ready", "status": "False", "reason": "RollingOut",
        "message": "step 1", "lastTransitionTime": "2026-12-01T00:00:00Z"}]}),
    ));
    let p = c.plan(&FailoverDrillStatus::default());
    assert!(p.start.is_none());
    assert!(p.status.runs[0].reason.contains("not Ready"));
}

#[test]
fn a_rollout_in_progress_is_skipped() {
    let mut c = Case::new(with_run_now(drill(json!({})), "1"));
    c.td = Some(td(
        json!({"rollout": {"step": 1, "of": 3, "phase": "Progressing"}}),
    ));
    let p = c.plan(&FailoverDrillStatus::default());
    assert!(p.start.is_none());
    assert!(p.status.runs[0].reason.contains("rollout"));
}

#[test]
fn a_reported_or_paused_drift_is_skipped() {
    let mut c = Case::new(with_run_now(drill(json!({})), "1"));
    c.td = Some(td(
        json!({"drift": {"policy": "Report", "total": 1, "message": "m", "firstSeenTime": "2026-12-01T00:00:00Z", "specHash": "x"}}),
    ));
    let p = c.plan(&FailoverDrillStatus::default());
    assert!(p.start.is_none(), "{:?}", p.status.runs);
    assert!(p.status.runs[0].reason.contains("outside the controller"));
}

#[test]
fn another_drill_running_on_the_group_is_skipped() {
    let mut c = Case::new(with_run_now(drill(json!({})), "1"));
    c.others = vec!["weekly".into()];
    let p = c.plan(&FailoverDrillStatus::default());
    assert!(p.start.is_none());
    assert!(p.status.runs[0].reason.contains("weekly"));
}

#[test]
fn a_missing_distribution_is_skipped() {
    let mut c = Case::new(with_run_now(drill(json!({})), "1"));
    c.td = None;
    let p = c.plan(&FailoverDrillStatus::default());
    assert!(p.start.is_none());
    assert!(p.status.runs[0].reason.contains("does not exist"));
}

#[test]
fn reaching_the_target_starts_the_hold_and_records_its_end() {
    let c0 = Case::new(drill(json!({})));
    let status = running(&c0, "2026-12-08T03:00:00Z");
    let mut c = Case::new(drill(json!({})));
    c.live = Some(split(0, 0));
    c.now = t("2026-12-08T03:00:20Z");
    let p = c.plan(&status);
    assert_eq!(p.status.phase, DrillPhase::Holding);
    let run = p.status.current.as_ref().unwrap();
    assert_eq!(run.hold_end.as_ref().unwrap().0, t("2026-12-08T03:10:20Z"));
    assert_eq!(run.shift_seconds, Some(20));
}

#[test]
fn while_shifting_a_drill_with_abort_gates_asks_them() {
    let d =
        drill(json!({"abortIf": [{"name": "queues", "oldestContactAge": {"maxSeconds": 120}}]}));
    let c0 = Case::new(d.clone());
    let status = running(&c0, "2026-12-08T03:00:00Z");
    let mut c = Case::new(d);
    c.live = Some(split(30, 20));
    c.now = t("2026-12-08T03:00:05Z");
    assert!(matches!(c.decide(&status), Decided::Read(Read::Gates)));
}

fn holding(d: &FailoverDrill) -> FailoverDrillStatus {
    let mut c = Case::new(d.clone());
    let status = running(&c, "2026-12-08T03:00:00Z");
    c.live = Some(split(0, 0));
    c.gates = Some(vec![pass("queues")]);
    c.now = t("2026-12-08T03:00:20Z");
    c.plan(&status).status
}

#[test]
fn a_gate_failing_while_holding_reverts_at_once_as_aborted() {
    let d =
        drill(json!({"abortIf": [{"name": "queues", "oldestContactAge": {"maxSeconds": 120}}]}));
    let status = holding(&d);
    let mut c = Case::new(d);
    c.live = Some(split(0, 0));
    c.gates = Some(vec![fail("queues")]);
    c.now = t("2026-12-08T03:02:00Z");
    let p = c.plan(&status);
    assert_eq!(p.status.phase, DrillPhase::Reverting);
    let run = p.status.current.as_ref().unwrap();
    assert_eq!(run.result, Some(DrillResult::Aborted));
    assert!(run.reason.contains("gate queues fail"), "{}", run.reason);
    assert_eq!(reasons_of(&p), vec![reasons::DRILL_ABORTED]);
    let last = run.steps.last().unwrap();
    assert_eq!(last.gates[0].result, "Fail");
}

#[test]
fn an_inconclusive_gate_is_not_a_pass_and_aborts() {
    let d =
        drill(json!({"abortIf": [{"name": "queues", "oldestContactAge": {"maxSeconds": 120}}]}));
    let status = holding(&d);
    let mut c = Case::new(d);
    c.live = Some(split(0, 0));
    c.gates = Some(vec![GateOutcome {
        name: "queues".into(),
        result: GateResult::Inconclusive,
        message: "GetCurrentMetricData throttled".into(),
    }]);
    c.now = t("2026-12-08T03:02:00Z");
    assert_eq!(c.plan(&status).status.phase, DrillPhase::Reverting);
}

#[test]
fn the_hold_ends_at_its_recorded_time_even_right_after_a_restart() {
    let d = drill(json!({}));
    let status = holding(&d);
    let mut c = Case::new(d);
    c.live = Some(split(0, 0));
    c.now = t("2026-12-08T03:10:21Z");
    let p = c.plan(&status);
    assert_eq!(p.status.phase, DrillPhase::Reverting);
    let run = p.status.current.as_ref().unwrap();
    assert_eq!(run.result, None);
    assert_eq!(run.hold_seconds, Some(601));
}

#[test]
fn before_the_hold_ends_the_drill_holds_and_looks_again_soon() {
    let d = drill(json!({}));
    let status = holding(&d);
    let mut c = Case::new(d);
    c.live = Some(split(0, 0));
    c.now = t("2026-12-08T03:05:00Z");
    let p = c.plan(&status);
    assert_eq!(p.status.phase, DrillPhase::Holding);
    assert!(p.ending.requeue <= CHECK_EVERY);
}

fn reverting(d: &FailoverDrill) -> FailoverDrillStatus {
    let status = holding(d);
    let mut c = Case::new(d.clone());
    c.live = Some(split(0, 0));
    c.gates = Some(vec![]);
    c.now = t("2026-12-08T03:10:30Z");
    c.plan(&status).status
}

#[test]
fn a_run_whose_revert_reached_the_declared_split_succeeded() {
    let d = drill(json!({}));
    let status = reverting(&d);
    let mut c = Case::new(d);
    c.now = t("2026-12-08T03:10:34Z");
    let p = c.plan(&status);
    assert_eq!(p.status.phase, DrillPhase::Idle);
    assert!(p.status.current.is_none());
    let last = p.status.last_run.as_ref().unwrap();
    assert_eq!(last.result, Some(DrillResult::Succeeded));
    assert_eq!(last.revert_seconds, Some(4));
    assert_eq!(last.reverted_to.as_deref(), Some("T 60/40 A 50/50"));
    assert_eq!(reasons_of(&p), vec![reasons::DRILL_SUCCEEDED]);
    assert_eq!(p.ended, vec![(DrillResult::Succeeded, 634.0)]);
    assert!(p.ending.verdict.is_ready());
}

#[test]
fn the_revert_goes_to_the_split_declared_at_revert_time() {
    let d = drill(json!({}));
    let status = reverting(&d);
    let mut c = Case::new(d);
    let mut changed = td(json!({}));
    changed.spec.telephony = Some(BTreeMap::from([(W.into(), 70), (E.into(), 30)]));
    c.td = Some(changed);
    // Still at the old declared split: not reverted yet.
    c.now = t("2026-12-08T03:10:34Z");
    let p = c.plan(&status);
    assert_eq!(p.status.phase, DrillPhase::Reverting);
    c.live = Some(split(70, 50));
    let p = c.plan(&status);
    assert_eq!(p.status.phase, DrillPhase::Idle);
    assert_eq!(
        p.status.last_run.unwrap().reverted_to.as_deref(),
        Some("T 70/30 A 50/50")
    );
}

#[test]
fn a_revert_that_does_not_complete_in_time_fails_stalls_and_keeps_reverting() {
    let d = drill(json!({}));
    let status = reverting(&d);
    let mut c = Case::new(d.clone());
    c.live = Some(split(0, 0));
    c.now = t("2026-12-08T03:14:00Z");
    let p = c.plan(&status);
    assert_eq!(p.status.phase, DrillPhase::Reverting, "still reverting");
    assert_eq!(
        p.status.last_run.as_ref().unwrap().result,
        Some(DrillResult::Failed)
    );
    assert!(matches!(p.ending.verdict, Verdict::Stalled { .. }));
    assert_eq!(reasons_of(&p), vec![reasons::DRILL_FAILED]);
    assert_eq!(p.ended.len(), 1);
    // Once Connect has the declared split the run ends; it stays Failed in the history.
    let mut c = Case::new(d);
    c.now = t("2026-12-08T03:20:00Z");
    let q = c.plan(&p.status);
    assert_eq!(q.status.phase, DrillPhase::Idle);
    assert_eq!(q.status.runs[0].result, Some(DrillResult::Failed));
    assert_eq!(q.status.runs.len(), 1);
    assert_eq!(reasons_of(&q), vec![reasons::DRILL_REVERTED]);
    assert!(q.ended.is_empty(), "counted once, when it failed");
}

#[test]
fn a_target_not_reached_in_time_aborts_the_run() {
    let d = drill(json!({}));
    let c0 = Case::new(d.clone());
    let status = running(&c0, "2026-12-08T03:00:00Z");
    let mut c = Case::new(d);
    c.now = t("2026-12-08T03:06:00Z");
    let p = c.plan(&status);
    assert_eq!(p.status.phase, DrillPhase::Reverting);
    assert!(p.status.current.unwrap().reason.contains("not reached"));
}

#[test]
fn a_schedule_records_the_next_run_and_starts_it_when_due() {
    let d = drill(json!({"schedule": "* * * * *"}));
    let mut c = Case::new(d);
    c.now = t("2026-12-08T03:00:30Z");
    let p = c.plan(&FailoverDrillStatus::default());
    assert!(p.start.is_none());
    let next = p.status.next_run_time.clone().unwrap();
    assert_eq!(next.0, t("2026-12-08T03:01:00Z"));
    let mut status = p.status;
    status.observed_generation = Some(1);
    c.now = t("2026-12-08T03:01:02Z");
    let p = c.plan(&status);
    assert_eq!(p.start.unwrap().trigger, "schedule");
    assert_eq!(p.status.next_run_time.unwrap().0, t("2026-12-08T03:02:00Z"));
}

#[test]
fn a_weekly_schedule_in_a_time_zone_waits_a_week() {
    let d = drill(json!({"schedule": "0 3 * * 2", "timeZone": "Europe/Berlin"}));
    let mut c = Case::new(d);
    c.now = t("2026-12-08T02:30:00Z"); // Tuesday 03:30 in Berlin: this week's run is past
    let p = c.plan(&FailoverDrillStatus::default());
    assert_eq!(p.status.next_run_time.unwrap().0, t("2026-12-15T02:00:00Z"));
}

#[test]
fn a_scheduled_run_missed_by_more_than_five_minutes_is_skipped_not_started_late() {
    let d = drill(json!({"schedule": "0 3 * * *"}));
    let mut c = Case::new(d);
    let status = FailoverDrillStatus {
        observed_generation: Some(1),
        next_run_time: Some(Time(t("2026-12-08T03:00:00Z"))),
        ..Default::default()
    };
    c.now = t("2026-12-08T09:00:00Z");
    let p = c.plan(&status);
    assert!(p.start.is_none());
    assert_eq!(p.status.runs[0].result, Some(DrillResult::Skipped));
    assert!(p.status.runs[0].reason.contains("missed"));
    assert_eq!(p.status.next_run_time.unwrap().0, t("2026-12-09T03:00:00Z"));
}

#[test]
fn a_suspended_drill_has_no_next_run_but_run_now_still_works() {
    let d = drill(json!({"schedule": "* * * * *", "suspend": true}));
    let p = Case::new(d.clone()).plan(&FailoverDrillStatus::default());
    assert!(p.status.next_run_time.is_none());
    assert!(p.start.is_none());
    let p = Case::new(with_run_now(d, "x")).plan(&FailoverDrillStatus::default());
    assert!(p.start.is_some());
}

#[test]
fn a_trigger_while_a_run_is_on_is_reported_skipped_and_the_run_goes_on() {
    let d = drill(json!({}));
    let status = holding(&d);
    let mut c = Case::new(with_run_now(d, "again"));
    c.live = Some(split(0, 0));
    c.now = t("2026-12-08T03:05:00Z");
    let p = c.plan(&status);
    assert_eq!(p.status.phase, DrillPhase::Holding);
    assert_eq!(p.status.runs[0].result, Some(DrillResult::Skipped));
    assert_eq!(p.status.last_handled_run_now.as_deref(), Some("again"));
}

#[test]
fn the_history_keeps_the_newest_runs_up_to_the_limit() {
    let d = drill(json!({"historyLimit": 2}));
    let mut status = FailoverDrillStatus::default();
    for (i, now) in [
        "2026-12-08T03:00:00Z",
        "2026-12-08T04:00:00Z",
        "2026-12-08T05:00:00Z",
    ]
    .iter()
    .enumerate()
    {
        let mut c = Case::new(with_run_now(d.clone(), &i.to_string()));
        c.live = Some(split(30, 50)); // skipped each time
        c.now = t(now);
        status = c.plan(&status).status;
    }
    assert_eq!(status.runs.len(), 2);
    assert!(status.runs[0].id.starts_with("20261208T050000Z"));
}

#[test]
fn the_distribution_works_towards_the_target_while_shifting_and_the_declared_split_while_reverting()
{
    let mut d = drill(json!({"rollout": {"stepPercent": 20, "pauseSeconds": 5,
        "gates": [{"name": "g", "oldestContactAge": {"maxSeconds": 60}}]}}));
    let base = td(json!({}));
    d.status = Some(FailoverDrillStatus {
        phase: DrillPhase::Shifting,
        current: Some(
            running(&Case::new(drill(json!({}))), "2026-12-08T03:00:00Z")
                .current
                .unwrap(),
        ),
        ..Default::default()
    });
    let o = overlay("support-split", std::slice::from_ref(&d)).unwrap();
    let eff = effective(&base, &o);
    assert_eq!(eff.spec.telephony, d.spec.target.telephony);
    let r = eff.spec.rollout.unwrap();
    assert_eq!(r.step_percent, 20);
    assert!(r.gates.is_empty(), "the drill checks its gates itself");
    d.status.as_mut().unwrap().phase = DrillPhase::Reverting;
    let o = overlay("support-split", std::slice::from_ref(&d)).unwrap();
    let eff = effective(&base, &o);
    assert_eq!(eff.spec.telephony, base.spec.telephony);
    assert!(eff.spec.rollout.is_none(), "the revert goes at once");
    assert!(overlay("other", &[d]).is_none());
}

#[test]
fn a_target_equal_to_the_declared_split_is_stalled_with_the_field_and_never_runs() {
    let d = drill(json!({"target": {"telephony": {W: 60, E: 40}}}));
    let p = Case::new(with_run_now(d, "1")).plan(&FailoverDrillStatus::default());
    assert!(p.start.is_none());
    match &p.ending.verdict {
        Verdict::Stalled { reason, message } => {
            assert_eq!(reason, reasons::INVALID_TARGET);
            assert!(message.contains("spec.target"), "{message}");
        }
        v => panic!("{v:?}"),
    }
}

#[test]
fn a_distribution_in_observe_mode_is_skipped() {
    let mut c = Case::new(with_run_now(drill(json!({})), "1"));
    let mut d = td(json!({}));
    d.metadata.annotations = Some(
        [(
            "connectgr.io/management-policy".to_string(),
            "Observe".to_string(),
        )]
        .into(),
    );
    c.td = Some(d);
    let p = c.plan(&FailoverDrillStatus::default());
    assert!(p.start.is_none());
    assert!(
        p.status.runs[0].reason.contains("observe mode"),
        "{}",
        p.status.runs[0].reason
    );
}

#[test]
fn a_schedule_admission_let_through_but_cron_cannot_read_is_stalled_with_the_field() {
    for (schedule, tz) in [("99 3 * * *", "UTC"), ("0 3 * * 2", "Mars/Olympus_Mons")] {
        let d = drill(json!({"schedule": schedule, "timeZone": tz}));
        let p = Case::new(d).plan(&FailoverDrillStatus::default());
        match &p.ending.verdict {
            Verdict::Stalled { reason, message } => {
                assert_eq!(reason, reasons::INVALID_SCHEDULE);
                assert!(message.starts_with("spec."), "{message}");
            }
            v => panic!("{schedule} {tz}: {v:?}"),
        }
        assert!(p.status.next_run_time.is_none());
    }
}
