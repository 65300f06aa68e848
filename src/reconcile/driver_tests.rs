//! `settle`: what a pass comes to, as a specification.

use super::*;
use crate::api::AgentMembershipStatus;

fn t(s: i64) -> Timestamp {
    Timestamp::from_second(1_800_000_000 + s).unwrap()
}

fn cx(generation: i64, at: i64, failures: u32) -> Context {
    Context {
        generation: Some(generation),
        now: t(at),
        failures,
        resync: Duration::from_secs(300),
        deleting: false,
    }
}

fn pass(
    status: AgentMembershipStatus,
    result: Result<Ending, PassError>,
) -> Pass<AgentMembershipStatus> {
    Pass {
        status,
        notes: vec![],
        result,
    }
}

fn ready() -> Result<Ending, PassError> {
    Ok(Ending::new(
        Verdict::Ready("10/10 agents associated".into()),
        Duration::from_secs(300),
    ))
}

fn read_failed() -> Result<Ending, PassError> {
    Err(PassError::Read(ReadError {
        what: "TrafficDistributionGroup ns/g".into(),
        message: "403 Forbidden".into(),
    }))
}

/// Runs passes one after the other, each settled against the status the previous one left.
fn run(
    results: Vec<Result<Ending, PassError>>,
) -> (AgentMembershipStatus, Vec<Settled<AgentMembershipStatus>>) {
    let mut status: Option<AgentMembershipStatus> = None;
    let mut failures = 0;
    let mut all = Vec::new();
    for (i, r) in results.into_iter().enumerate() {
        let start = status.clone().unwrap_or_default();
        let out = settle(status.as_ref(), pass(start, r), cx(1, i as i64, failures));
        failures = out.failures;
        status = Some(out.status.clone());
        all.push(out);
    }
    (status.unwrap_or_default(), all)
}

#[test]
fn a_converged_object_publishes_one_event_when_it_becomes_ready_and_none_after() {
    let (_, passes) = run(vec![ready(), ready(), ready(), ready(), ready()]);
    let events: Vec<usize> = passes.iter().map(|p| p.events.len()).collect();
    assert_eq!(events, vec![1, 0, 0, 0, 0]);
    assert_eq!(passes[0].events[0].reason, reasons::RECONCILED);
}

#[test]
fn a_stall_that_holds_over_many_passes_is_one_warning() {
    let stalled = || {
        Ok(Ending::new(
            Verdict::stalled(reasons::UNKNOWN_USERS, "not users: mallory"),
            Duration::from_secs(300),
        ))
    };
    let (status, passes) = run(vec![stalled(), stalled(), stalled()]);
    let warnings: usize = passes
        .iter()
        .flat_map(|p| &p.events)
        .filter(|e| e.warning)
        .count();
    assert_eq!(warnings, 1);
    assert!(conditions::is_true(&status.conditions, conditions::STALLED));
}

#[test]
fn action_notes_are_published_on_every_pass_that_acts() {
    let mut p = pass(Default::default(), ready());
    p.notes
        .push(Note::normal(reasons::MEMBERSHIP_UPDATED, "associated 3"));
    let prev = AgentMembershipStatus::default();
    let out = settle(Some(&prev), p, cx(1, 0, 0));
    assert!(
        out.events
            .iter()
            .any(|e| e.reason == reasons::MEMBERSHIP_UPDATED)
    );
}

#[test]
fn a_pass_that_ends_in_an_error_still_keeps_what_it_recorded() {
    let status = AgentMembershipStatus {
        associated_count: Some(7),
        group_arn: Some("arn:g".into()),
        ..Default::default()
    };
    let out = settle(
        None,
        pass(
            status,
            Err(ConnectError::Transient("connection reset".into()).into()),
        ),
        cx(1, 0, 0),
    );
    assert_eq!(out.status.associated_count, Some(7));
    assert_eq!(out.status.group_arn.as_deref(), Some("arn:g"));
    assert!(conditions::is_true(
        &out.status.conditions,
        conditions::RECONCILING
    ));
}

#[test]
fn a_failed_kubernetes_read_is_reconciling_with_its_own_reason_and_backs_off() {
    let (status, passes) = run(vec![read_failed(), read_failed()]);
    let c = conditions::get(&status.conditions, conditions::RECONCILING).unwrap();
    assert_eq!(c.status, conditions::TRUE);
    assert_eq!(c.reason, reasons::KUBERNETES_READ_FAILED);
    assert!(!conditions::is_true(&status.conditions, conditions::READY));
    assert_eq!(passes[0].requeue, Requeue::Backoff(1));
    assert_eq!(passes[1].requeue, Requeue::Backoff(2));
    assert_eq!(passes[1].outcome, "transient");
    // One Warning for the transition into the error, none for it going on.
    assert_eq!(passes[0].events.len(), 1);
    assert!(passes[1].events.is_empty());
}

#[test]
fn the_retry_succeeds_once_reads_work_and_failures_reset() {
    let (status, passes) = run(vec![read_failed(), read_failed(), ready()]);
    assert!(conditions::is_true(&status.conditions, conditions::READY));
    assert_eq!(passes[2].failures, 0);
    assert_eq!(passes[2].requeue, Requeue::After(Duration::from_secs(300)));
}

#[test]
fn a_ready_object_rides_out_a_few_transient_failures_then_says_it_is_retrying() {
    let mut results = vec![ready()];
    results.extend((0..TRANSIENT_FAILURES_TOLERATED_WHEN_READY + 1).map(|_| read_failed()));
    let (_, passes) = run(results);
    let ready_after: Vec<bool> = passes
        .iter()
        .map(|p| conditions::is_true(&p.status.conditions, conditions::READY))
        .collect();
    let n = TRANSIENT_FAILURES_TOLERATED_WHEN_READY as usize;
    assert!(ready_after[..=n].iter().all(|r| *r), "{ready_after:?}");
    assert!(!ready_after[n + 1], "{ready_after:?}");
}

#[test]
fn terminal_connect_errors_stall_and_look_again_at_the_resync_period() {
    let out = settle(
        None,
        pass(
            Default::default(),
            Err(ConnectError::Invalid("sign-in on a non-default group".into()).into()),
        ),
        cx(1, 0, 0),
    );
    assert!(conditions::is_true(
        &out.status.conditions,
        conditions::STALLED
    ));
    assert_eq!(out.requeue, Requeue::After(Duration::from_secs(300)));
    assert_eq!(out.outcome, "terminal");
    let c = conditions::get(&out.status.conditions, conditions::STALLED).unwrap();
    assert_eq!(c.reason, "ConnectInvalidRequest");
}

#[test]
fn throttling_waits_a_known_delay_and_is_not_a_failure() {
    let out = settle(
        None,
        pass(
            Default::default(),
            Err(ConnectError::Throttled("rate".into()).into()),
        ),
        cx(1, 0, 2),
    );
    assert_eq!(out.requeue, Requeue::After(Duration::from_secs(5)));
    assert_eq!(out.failures, 2, "waiting neither adds nor clears failures");
}

#[test]
fn a_cleanup_failure_always_shows_even_on_a_ready_object() {
    let (status, _) = run(vec![ready()]);
    let mut c = cx(1, 10, 0);
    c.deleting = true;
    let out = settle(Some(&status), pass(status.clone(), read_failed()), c);
    assert!(!conditions::is_true(
        &out.status.conditions,
        conditions::READY
    ));
}

#[test]
fn backoff_doubles_from_half_a_second_up_to_five_minutes() {
    assert_eq!(backoff_base(1), Duration::from_millis(500));
    assert_eq!(backoff_base(2), Duration::from_secs(1));
    assert_eq!(backoff_base(4), Duration::from_secs(4));
    assert_eq!(backoff_base(30), Duration::from_secs(300));
    for n in 1..20 {
        let d = Requeue::Backoff(n).delay();
        assert!(d >= backoff_base(n).mul_f64(0.85) && d <= backoff_base(n).mul_f64(1.15));
    }
}

#[test]
fn a_pause_until_a_future_time_does_not_panic_with_a_resync_under_one_second() {
    let mut c = cx(1, 0, 0);
    c.resync = Duration::from_millis(500);
    let out = paused::<crate::api::TrafficDistributionStatus>(
        None,
        &crate::api::annotations::Pause::Until(t(600)),
        c,
    );
    assert_eq!(out.requeue.delay(), Duration::from_secs(1));
}
