use proptest::prelude::*;

use super::*;

const W: &str = "us-west-2";
const E: &str = "us-east-1";

fn regions() -> [String; 2] {
    [W.to_string(), E.to_string()]
}

/// Telephony and agents with `t` / `a` percent in us-east-1.
fn split(t: i32, a: i32) -> Distribution {
    let m =
        |b: i32| -> BTreeMap<String, i32> { [(W.to_string(), 100 - b), (E.to_string(), b)].into() };
    Distribution {
        telephony: m(t),
        agents: m(a),
        sign_in: Default::default(),
    }
}

fn east(d: &Distribution) -> (i32, i32) {
    (d.telephony[E], d.agents[E])
}

/// D4: no region gets calls without agents.
fn d4_holds(d: &Distribution) -> bool {
    [W, E]
        .iter()
        .all(|r| d.telephony[*r] == 0 || d.agents[*r] > 0)
}

fn outcome(r: GateResult) -> GateOutcome {
    GateOutcome {
        name: "g".into(),
        result: r,
        message: String::new(),
    }
}

#[test]
fn a_full_failover_in_10_percent_steps_moves_agents_a_step_ahead_of_telephony() {
    let mut now = split(0, 0);
    let target = split(100, 100);
    let mut trace = vec![];
    while now != target {
        now = next_split(&now, &target, 10, &regions());
        trace.push(east(&now));
        assert!(trace.len() <= 12, "no convergence: {trace:?}");
    }
    assert_eq!(
        trace,
        [
            (0, 10),
            (10, 20),
            (20, 30),
            (30, 40),
            (40, 50),
            (50, 60),
            (60, 70),
            (70, 80),
            (80, 90),
            (90, 90),
            (100, 100)
        ]
    );
}

#[test]
fn a_failback_keeps_agents_in_the_region_being_left_until_its_calls_are_gone() {
    let mut now = split(100, 100);
    let target = split(0, 0);
    let mut trace = vec![];
    while now != target {
        now = next_split(&now, &target, 10, &regions());
        trace.push(east(&now));
        assert!(trace.len() <= 12, "no convergence: {trace:?}");
    }
    assert_eq!(trace[0], (100, 90), "agents arrive in us-west-2 first");
    assert_eq!(trace[trace.len() - 2], (10, 10));
    assert!(trace.iter().all(|(t, a)| t >= a), "{trace:?}");
}

#[test]
fn the_receiving_region_is_the_one_that_gets_more_telephony_else_more_agents() {
    let r = regions();
    assert_eq!(receiving_region(&split(10, 20), &split(20, 30), &r), E);
    assert_eq!(receiving_region(&split(20, 30), &split(10, 20), &r), W);
    assert_eq!(receiving_region(&split(50, 50), &split(50, 60), &r), E);
    assert_eq!(receiving_region(&split(70, 70), &split(70, 70), &r), E);
}

#[test]
fn failure_limit_counts_consecutive_failures_then_aborts() {
    let m = Machine::default();
    let (m, a) = judge(
        &m,
        &[outcome(GateResult::Fail)],
        3,
        OnFailure::Abort,
        10,
        100,
    );
    assert_eq!(
        (m.phase, m.failures, a.clone()),
        (Phase::Paused, 1, Action::Wait { until: 110 })
    );
    let (m, a) = judge(
        &m,
        &[outcome(GateResult::Inconclusive)],
        3,
        OnFailure::Abort,
        10,
        110,
    );
    assert_eq!((m.failures, a), (2, Action::Wait { until: 120 }));
    let (m, a) = judge(
        &m,
        &[outcome(GateResult::Fail)],
        3,
        OnFailure::Abort,
        10,
        120,
    );
    assert_eq!((m.phase, m.failures, a), (Phase::Aborted, 3, Action::Abort));
    assert_eq!(
        check_due(&m, 10_000),
        Some(i64::MAX),
        "an aborted rollout waits for resume"
    );
}

#[test]
fn a_pass_clears_the_failure_count_and_takes_the_step() {
    let m = Machine {
        failures: 2,
        step: 4,
        phase: Phase::Paused,
        ..Default::default()
    };
    let (m, a) = judge(
        &m,
        &[outcome(GateResult::Pass)],
        3,
        OnFailure::Abort,
        10,
        100,
    );
    assert_eq!(a, Action::Step);
    assert_eq!(
        (m.phase, m.step, m.failures, m.next_check),
        (Phase::Progressing, 5, 0, Some(110))
    );
    assert_eq!(check_due(&m, 105), Some(110), "the pause between steps");
    assert_eq!(check_due(&m, 110), None);
}

#[test]
fn on_failure_pause_holds_the_current_step_until_resumed() {
    let m = Machine {
        failures: 2,
        step: 3,
        ..Default::default()
    };
    let (m, a) = judge(
        &m,
        &[outcome(GateResult::Fail)],
        3,
        OnFailure::Pause,
        10,
        100,
    );
    assert_eq!((m.phase, a), (Phase::Paused, Action::Hold));
    assert_eq!(check_due(&m, 1_000_000), Some(i64::MAX));
    let r = resume(&m);
    assert_eq!(
        (r.phase, r.step, r.failures, r.held),
        (Phase::Progressing, 3, 0, false)
    );
    assert_eq!(check_due(&r, 100), None, "a resumed rollout checks at once");
}

#[test]
fn resuming_an_aborted_rollout_starts_it_over() {
    let m = Machine {
        phase: Phase::Aborted,
        step: 6,
        failures: 3,
        held: true,
        next_check: None,
    };
    let r = resume(&m);
    assert_eq!((r.phase, r.step, r.failures), (Phase::Progressing, 0, 0));
}

#[test]
fn a_pending_approval_waits_without_counting_a_failure() {
    let m = Machine::default();
    let (m, a) = judge(
        &m,
        &[outcome(GateResult::Pass), outcome(GateResult::Pending)],
        1,
        OnFailure::Abort,
        10,
        100,
    );
    assert_eq!((m.phase, m.failures), (Phase::Paused, 0));
    assert!(matches!(a, Action::Wait { .. }));
}

#[test]
fn approval_is_the_next_step_number_or_all() {
    assert_eq!(approval(Some("3"), 3).0, GateResult::Pass);
    assert_eq!(approval(Some("all"), 7).0, GateResult::Pass);
    assert_eq!(approval(Some("2"), 3).0, GateResult::Pending);
    assert_eq!(approval(None, 1).0, GateResult::Pending);
    assert_eq!(approval(Some("yes"), 1).0, GateResult::Pending);
}

#[test]
fn a_metric_gate_without_data_is_inconclusive_never_a_pass() {
    assert_eq!(
        threshold("agents", None, |v| v >= 1.0, ">= 1", E).0,
        GateResult::Inconclusive
    );
    assert_eq!(
        threshold("agents", Some(0.0), |v| v >= 1.0, ">= 1", E).0,
        GateResult::Fail
    );
    assert_eq!(
        threshold("agents", Some(4.0), |v| v >= 1.0, ">= 1", E).0,
        GateResult::Pass
    );
}

#[test]
fn abort_sends_the_split_the_rollout_started_from() {
    let start = split(0, 0);
    let m = Machine {
        step: 5,
        failures: 2,
        ..Default::default()
    };
    let (m, a, apply) = decide(
        &m,
        &start,
        &split(60, 70),
        &[outcome(GateResult::Fail)],
        (3, OnFailure::Abort),
        10,
        100,
    );
    assert_eq!((m.phase, a), (Phase::Aborted, Action::Abort));
    assert_eq!(apply, Some(start));
}

fn pct() -> impl Strategy<Value = i32> {
    (0..=10i32).prop_map(|x| x * 10)
}

proptest! {
    /// D4 at every step, at most one step of change per part, the entering rule, termination.
    #[test]
    fn every_gated_step_keeps_d4_and_telephony_never_leads_agents_into_a_region(
        t0 in pct(), a0 in pct(), t1 in pct(), a1 in pct(), step in 1..=10i32,
    ) {
        let (start, target) = (split(t0, a0), split(t1, a1));
        prop_assume!(d4_holds(&start) && d4_holds(&target));
        let step = step * 10;
        let mut now = start;
        for _ in 0..25 {
            if now == target {
                return Ok(());
            }
            let next = next_split(&now, &target, step, &regions());
            let ((t, a), (nt, na), (tt, ta)) = (east(&now), east(&next), east(&target));
            prop_assert!(d4_holds(&next), "{:?} -> {:?} strands calls", (t, a), (nt, na));
            prop_assert!((nt - t).abs() <= step && (na - a).abs() <= step);
            prop_assert!(next != now, "no progress at {:?}", (t, a));
            // Telephony moves only toward its target, agents likewise.
            prop_assert!((nt - t) * (tt - t) >= 0 && (na - a) * (ta - a) >= 0);
            // Entering a region, telephony is never ahead of the agents while they still move.
            if na != ta {
                if nt > t { prop_assert!(nt <= na, "{:?} -> {:?}", (t, a), (nt, na)); }
                if nt < t { prop_assert!(nt >= na, "{:?} -> {:?}", (t, a), (nt, na)); }
            }
            now = next;
        }
        prop_assert!(false, "rollout did not converge");
    }

    /// Whatever the gates say, the failure count is the run of failed checks since the last pass.
    #[test]
    fn the_failure_count_is_the_run_of_failures_since_the_last_pass(
        results in proptest::collection::vec(0..3u8, 1..20), limit in 1..5i32,
    ) {
        let mut m = Machine::default();
        let mut run = 0;
        for (i, r) in results.iter().enumerate() {
            if m.held { break; }
            let r = [GateResult::Pass, GateResult::Fail, GateResult::Inconclusive][*r as usize];
            let (next, action) = judge(&m, &[outcome(r)], limit, OnFailure::Abort, 5, i as i64);
            run = if r == GateResult::Pass { 0 } else { run + 1 };
            prop_assert_eq!(next.failures, run);
            prop_assert_eq!(action == Action::Abort, run >= limit);
            m = next;
        }
    }
}
