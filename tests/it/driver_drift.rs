//! Drift policy (issue 11) through the driver, against the emulator: the time is given to each
//! pass, so a pause of an hour is tested without waiting.

use std::time::Duration;

use connect_gr::api::{conditions, reasons};
use connect_gr::connect::Priority;
use connect_gr::reconcile::Engine;
use connect_gr::reconcile::driver::{Settled, run_pass};
use k8s_openapi::jiff::Timestamp;

use super::{Bed, WRITES, agents, bed, converge, count, engine, find, membership_yaml, store};
use crate::support::emulator::SOURCE;

async fn team_pass(
    engine: &Engine,
    bed: &Bed,
    at: Timestamp,
) -> Settled<connect_gr::api::AgentMembershipStatus> {
    let obj = find(&bed.objects.world.memberships, "team");
    let out = run_pass(engine, &bed.objects, &obj, at, 0).await;
    store(&bed.objects.world.memberships, "team", out.status.clone());
    out
}

/// Issue 11 through the driver: changes made by hand to an Exact membership are left alone until
/// the pass's `now` (an argument: no waiting) is past the pause, and a fresh engine (a restarted
/// controller, nothing in memory but the objects' status) carries the same pause on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hand_changes_to_a_membership_wait_for_the_pause_and_a_restart_keeps_its_start() {
    use connect_gr::reconcile::driver::Requeue;
    let bed = bed(20, &[]).await;
    let world = &bed.objects.world;
    let yaml =
        membership_yaml("team", "Exact", "Retain", &agents(1, 5)) + "  driftPauseSeconds: 3600\n";
    world.apply_yaml(&yaml, "team").unwrap();
    converge(&bed.engine, world).await;
    let group = find(&world.groups, "support-default").status.unwrap();
    let arn = group.arn.unwrap();
    let instance =
        connect_gr::connect::instance_id_of(group.instance_arn.as_deref().unwrap()).to_string();
    let users = bed
        .engine
        .connect
        .list_users(SOURCE, &instance, Priority::Normal)
        .await
        .unwrap();
    let id = |name: &str| {
        users
            .iter()
            .find(|u| u.username == name)
            .unwrap()
            .id
            .to_string()
    };
    let connect = &bed.engine.connect;
    connect
        .disassociate_group_user(SOURCE, &arn, &instance, &id("agent00001"))
        .await
        .unwrap();
    connect
        .associate_group_user(SOURCE, &arn, &instance, &id("agent00010"))
        .await
        .unwrap();

    // A restarted controller sees both at once (its first pass reads the group in full).
    let restarted = engine(&bed.emulator.endpoint());
    let t0 = Timestamp::now();
    let writes = count(&bed.emulator, WRITES);
    let out = team_pass(&restarted, &bed, t0).await;
    let drift = out.status.drift.clone().expect("status.drift");
    let fields: Vec<&str> = drift.changes.iter().map(|c| c.field.as_str()).collect();
    assert_eq!(fields, ["agent agent00001", "agent agent00010"]);
    assert_eq!(
        drift.correction_time.unwrap().0.as_second(),
        t0.as_second() + 3600
    );
    let ready = conditions::get(&out.status.conditions, conditions::READY).unwrap();
    assert_eq!(
        (ready.status.as_str(), ready.reason.as_str()),
        ("False", reasons::DRIFT_DETECTED)
    );
    assert!(!conditions::is_true(
        &out.status.conditions,
        conditions::RECONCILING
    ));
    assert!(
        out.events
            .iter()
            .any(|e| e.reason == reasons::DRIFT_DETECTED && e.warning)
    );
    assert!(matches!(out.requeue, Requeue::After(d) if d <= Duration::from_secs(300)));
    assert_eq!(out.outcome, "drifted");
    assert_eq!(
        count(&bed.emulator, WRITES),
        writes,
        "nothing written during the pause"
    );

    // Just before the pause is over: still left alone, no second DriftDetected.
    let out = team_pass(&restarted, &bed, t0 + Duration::from_secs(3599)).await;
    assert!(out.events.is_empty(), "{:?}", out.events);
    assert_eq!(
        out.status.drift.as_ref().map(|d| d.first_seen_time.clone()),
        Some(drift.first_seen_time.clone())
    );
    assert_eq!(count(&bed.emulator, WRITES), writes);

    // The pause is over: both are undone in one pass.
    let out = team_pass(&restarted, &bed, t0 + Duration::from_secs(3600)).await;
    assert!(
        out.events
            .iter()
            .any(|e| e.reason == reasons::DRIFT_CORRECTED)
    );
    assert!(out.status.drift.is_none());
    assert_eq!(count(&bed.emulator, WRITES), writes + 2);
    let mut members = restarted
        .connect
        .list_group_users(SOURCE, &arn, Priority::Normal)
        .await
        .unwrap();
    members.sort();
    let mut want: Vec<String> = agents(1, 5).iter().map(|n| id(n)).collect();
    want.sort();
    assert_eq!(members, want);
}
