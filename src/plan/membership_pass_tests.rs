use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::jiff::Timestamp;

use super::*;
use crate::api::drift::DriftPolicy;
use crate::connect::UserInfo;
use crate::plan::directory::Directory;

const RESYNC: Duration = Duration::from_secs(300);

fn now() -> Timestamp {
    Timestamp::from_second(1_800_000_000).unwrap()
}

fn ids(list: &[&str]) -> BTreeSet<String> {
    list.iter().map(|s| s.to_string()).collect()
}

/// Declares alice (u-a) and carol (u-c), both users of both regions; the group has `members`.
fn seen(members: &[&str]) -> Seen {
    Seen {
        mode: Mode::Exact,
        resolution: Arc::new(Resolution {
            ids: BTreeMap::from([
                ("u-a".to_string(), "alice".to_string()),
                ("u-c".to_string(), "carol".to_string()),
            ]),
            ..Default::default()
        }),
        desired_ids: Arc::new(ids(&["u-a", "u-c"])),
        members: Arc::new(ids(members)),
        ..Default::default()
    }
}

fn users() -> Option<Arc<Directory>> {
    Some(Arc::new(Directory::new(vec![UserInfo {
        id: "u-b".into(),
        username: "bob".into(),
        ..Default::default()
    }])))
}

/// A status whose last pass kept `kept` (and applied the spec).
fn kept(kept: &[&str]) -> AgentMembershipStatus {
    let list: Vec<String> = kept.iter().map(|s| s.to_string()).collect();
    let (count, fingerprints) = drift::encode_kept(&list);
    AgentMembershipStatus {
        kept_members: Some(KeptMembers {
            count,
            fingerprints,
        }),
        ..Default::default()
    }
}

fn facts<'a>(seen: &'a Seen, status: &'a AgentMembershipStatus, policy: DriftPolicy) -> Facts<'a> {
    Facts {
        seen,
        status,
        generation_applied: true,
        spec_hash: "h",
        policy,
        pause_seconds: 0,
        resume: None,
        instance_id: "i-1",
        replica_region: "us-west-2",
        resync: RESYNC,
        now: now(),
    }
}

fn plan_of(d: Decided) -> Plan {
    match d {
        Decided::Plan(p) => *p,
        Decided::NeedUsers => panic!("the plan asked for the users"),
    }
}

fn reasons_of(notes: &[Note]) -> Vec<&str> {
    notes.iter().map(|n| n.reason.as_str()).collect()
}

#[test]
fn an_agent_put_in_by_hand_makes_the_plan_ask_for_the_instance_users_to_name_it() {
    let seen = seen(&["u-a", "u-c", "u-b"]);
    let status = kept(&["u-a", "u-c"]);
    assert!(matches!(
        decide(facts(&seen, &status, DriftPolicy::Report)),
        Decided::NeedUsers
    ));
}

#[test]
fn under_report_policy_an_agent_put_in_by_hand_is_reported_by_name_and_left_in_the_group() {
    let mut seen = seen(&["u-a", "u-c", "u-b"]);
    seen.users = users();
    let status = kept(&["u-a", "u-c"]);
    let plan = plan_of(decide(facts(&seen, &status, DriftPolicy::Report)));
    assert!(plan.calls().is_empty());
    let (status, notes, ending) = &plan.before;
    let drift = status.drift.as_ref().expect("drift recorded");
    assert_eq!(drift.changes[0].field, "agent bob");
    assert_eq!(reasons_of(notes), vec![reasons::DRIFT_DETECTED]);
    assert_eq!(
        ending.verdict,
        Verdict::progressing(reasons::DRIFT_DETECTED, drift.message.clone())
    );
    assert_eq!(ending.requeue, RESYNC);
}

#[test]
fn under_correct_policy_once_the_pause_is_over_an_agent_put_in_by_hand_is_taken_out() {
    let mut seen = seen(&["u-a", "u-c", "u-b"]);
    seen.users = users();
    let status = kept(&["u-a", "u-c"]);
    let plan = plan_of(decide(facts(&seen, &status, DriftPolicy::Correct)));
    assert_eq!(plan.calls(), vec![(false, "u-b".to_string())]);
    assert_eq!(plan.correcting, Some(drift::Why::PauseOver));
    let (status, notes, _) = &plan.before;
    assert!(status.drift.is_none());
    assert_eq!(
        reasons_of(notes),
        vec![reasons::DRIFT_DETECTED, reasons::DRIFT_CORRECTED]
    );
}

#[test]
fn a_kept_agent_taken_out_by_hand_and_left_alone_stays_kept() {
    let seen = seen(&["u-a"]);
    let status = kept(&["u-a", "u-c"]);
    let plan = plan_of(decide(facts(&seen, &status, DriftPolicy::Report)));
    assert!(plan.calls().is_empty());
    let (status, _, _) = &plan.before;
    assert_eq!(status.kept_members.as_ref().unwrap().count, 2);
    assert_eq!(
        status.drift.as_ref().unwrap().changes[0].field,
        "agent carol"
    );
}

#[test]
fn a_newly_declared_agent_is_the_controllers_own_work_not_drift() {
    let seen = seen(&["u-a"]);
    let status = kept(&["u-a"]);
    let plan = plan_of(decide(facts(&seen, &status, DriftPolicy::Report)));
    assert_eq!(plan.calls(), vec![(true, "u-c".to_string())]);
    let (status, notes, ending) = &plan.before;
    assert!(status.drift.is_none());
    assert!(notes.is_empty());
    assert_eq!(
        ending.verdict,
        Verdict::progressing(reasons::ASSOCIATING, "1/2 agents associated")
    );
}

#[test]
fn a_group_as_the_controller_keeps_it_again_resolves_the_reported_drift() {
    let mut seen = seen(&["u-a", "u-c", "u-b"]);
    seen.users = users();
    let status = kept(&["u-a", "u-c"]);
    let reported = plan_of(decide(facts(&seen, &status, DriftPolicy::Report)));
    let seen = self::seen(&["u-a", "u-c"]);
    let plan = plan_of(decide(facts(
        &seen,
        &reported.before.0,
        DriftPolicy::Report,
    )));
    let (status, notes, ending) = &plan.before;
    assert!(status.drift.is_none());
    assert_eq!(reasons_of(notes), vec![reasons::DRIFT_RESOLVED]);
    assert!(ending.verdict.is_ready());
}

#[test]
fn a_declared_agent_not_mirrored_yet_is_pending_and_waits_for_replication() {
    let mut seen = seen(&["u-a", "u-c"]);
    seen.pending = vec!["dave".into()];
    let plan = plan_of(decide(facts(&seen, &kept(&[]), DriftPolicy::Correct)));
    let (status, _, ending) = &plan.before;
    assert_eq!(status.pending, vec!["dave".to_string()]);
    assert_eq!(status.pending_count, Some(1));
    assert!(matches!(&ending.verdict,
        Verdict::Progressing { reason, .. } if reason == reasons::WAITING_FOR_REPLICATION));
    assert_eq!(ending.requeue, Duration::from_secs(5));
}

#[test]
fn an_unknown_username_or_selector_stalls_the_membership_rule_a2() {
    let mut seen = seen(&["u-a", "u-c"]);
    Arc::make_mut(&mut seen.resolution).unknown_users = vec!["zed".into()];
    Arc::make_mut(&mut seen.resolution).unknown_selectors = vec!["rp-gone".into()];
    let plan = plan_of(decide(facts(&seen, &kept(&[]), DriftPolicy::Correct)));
    let (status, _, ending) = &plan.before;
    assert_eq!(
        status.unknown,
        vec!["zed".to_string(), "selector:rp-gone".to_string()]
    );
    assert!(matches!(&ending.verdict,
        Verdict::Stalled { reason, .. } if reason == reasons::UNKNOWN_USERS));
}

#[test]
fn an_association_connect_answers_not_found_is_reported_pending() {
    let seen = seen(&["u-a"]);
    let plan = plan_of(decide(facts(&seen, &kept(&["u-a"]), DriftPolicy::Correct)));
    let landed = Landed {
        not_found: vec!["u-c".into()],
        ..Default::default()
    };
    let (status, _, outcome) = finish(&plan, &landed, &ids(&["u-a"]), None);
    assert_eq!(status.pending, vec!["carol".to_string()]);
    assert!(matches!(outcome, Outcome::End(e) if matches!(&e.verdict,
        Verdict::Progressing { reason, .. } if reason == reasons::ASSOCIATING)));
}

#[test]
fn a_correction_on_resume_that_failed_keeps_the_resume_value_to_try_again() {
    let mut seen = seen(&["u-a", "u-c", "u-b"]);
    seen.users = users();
    let mut status = kept(&["u-a", "u-c"]);
    status.last_handled_resume = Some("1".into());
    let mut f = facts(&seen, &status, DriftPolicy::Report);
    f.resume = Some("2");
    let plan = plan_of(decide(f));
    assert_eq!(plan.correcting, Some(drift::Why::Resumed));
    assert_eq!(plan.before.0.last_handled_resume.as_deref(), Some("2"));
    let failed = Landed {
        error: Some((false, "throttled".into())),
        ..Default::default()
    };
    let (status, _, outcome) = finish(&plan, &failed, &seen.members, None);
    assert_eq!(status.last_handled_resume.as_deref(), Some("1"));
    assert_eq!(outcome, Outcome::Failed);
}

#[test]
fn a_transient_error_after_some_calls_landed_goes_on_rather_than_backing_off() {
    let seen = seen(&[]);
    let plan = plan_of(decide(facts(&seen, &kept(&[]), DriftPolicy::Correct)));
    let landed = Landed {
        added: 1,
        error: Some((false, "throttled".into())),
        ..Default::default()
    };
    let (status, notes, outcome) = finish(&plan, &landed, &ids(&["u-a"]), None);
    assert_eq!(status.associated.as_deref(), Some("1/2"));
    assert_eq!(reasons_of(&notes), vec![reasons::MEMBERSHIP_UPDATED]);
    assert!(matches!(outcome, Outcome::End(e) if e.verdict
        == Verdict::progressing(reasons::ASSOCIATING, "1/2 associated; retrying: throttled")));
    let terminal = Landed {
        error: Some((true, "denied".into())),
        ..landed
    };
    assert_eq!(
        finish(&plan, &terminal, &ids(&["u-a"]), None).2,
        Outcome::Failed
    );
}

#[test]
fn the_status_before_the_batch_is_that_of_a_batch_that_made_no_call() {
    let seen = seen(&["u-a"]);
    let plan = plan_of(decide(facts(&seen, &kept(&["u-a"]), DriftPolicy::Correct)));
    let (status, notes, outcome) = finish(&plan, &Landed::default(), &seen.members, None);
    assert_eq!(
        (status, notes, Outcome::End(plan.before.2.clone())),
        (
            plan.before.0.clone(),
            plan.before.1.clone(),
            outcome.clone()
        )
    );
}

#[test]
fn a_members_sweep_in_flight_brings_the_next_look_forward() {
    let mut seen = seen(&["u-a", "u-c"]);
    seen.sweep_left = Some(Duration::from_secs(10));
    let plan = plan_of(decide(facts(
        &seen,
        &kept(&["u-a", "u-c"]),
        DriftPolicy::Correct,
    )));
    assert!(plan.before.2.verdict.is_ready());
    assert_eq!(plan.before.2.requeue, Duration::from_millis(10_500));
}
