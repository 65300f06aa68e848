//! One observation of a group per interval, shared by every kind that refers to it
//! (`Engine::describe_group`, issue 23): counted in the emulator's call log.

use std::time::Duration;

use connect_gr::connect::{Priority, Scheduler, SchedulerConfig, SdkConnectConfig, new_connect};
use connect_gr::local::World;
use connect_gr::reconcile::Engine;
use serde_json::json;

use crate::support::emulator::{Emulator, SOURCE};

const REPLICA: &str = include_str!("../../deploy/examples/instance-replica.yaml");
const DEFAULT_GROUP: &str = "apiVersion: connectgr.io/v1alpha1\nkind: TrafficDistributionGroup\nmetadata: {name: support-default}\nspec:\n  replicaRef: {name: support-center}\n  default: true\n";
const DESCRIBE: &str = "DescribeTrafficDistributionGroup";

fn engine(endpoint: &str) -> Engine {
    engine_at(endpoint, 200.0)
}

/// An engine whose scheduler keeps to the quotas times `scale`.
fn engine_at(endpoint: &str, scale: f64) -> Engine {
    connect_gr::controller::install_crypto();
    let quotas = SchedulerConfig {
        scale,
        ..SchedulerConfig::from_env()
    };
    let connect = new_connect(
        SdkConnectConfig {
            endpoint_url: Some(endpoint.to_string()),
            max_attempts: Some(1),
        },
        Scheduler::new(quotas.clone()),
    );
    Engine::new(connect, Duration::from_secs(300)).with_sweep_budget(&quotas)
}

/// An emulator with the replica and its default group reconciled; a fresh engine (nothing
/// remembered) and the group's ARN.
async fn bed() -> (Emulator, Engine, String) {
    for (k, v) in [("AWS_ACCESS_KEY_ID", "t"), ("AWS_SECRET_ACCESS_KEY", "t")] {
        // SAFETY: test set-up; every test sets the same values.
        unsafe { std::env::set_var(k, v) };
    }
    let emulator = Emulator::start_with(&["--quotas", "off", "--replication-seconds", "0.2"]);
    let world = World::default();
    world.apply_yaml(REPLICA, "replica").unwrap();
    world.apply_yaml(DEFAULT_GROUP, "group").unwrap();
    let setup = engine(&emulator.endpoint());
    connect_gr::local::converge(&setup, &world, false, Duration::from_secs(90), |_| {}).await;
    let arn = world.groups.lock()[0]
        .status
        .as_ref()
        .and_then(|s| s.arn.clone())
        .expect("the default group is reconciled");
    let engine = engine(&emulator.endpoint());
    (emulator, engine, arn)
}

fn describes(emu: &Emulator) -> usize {
    emu.calls()
        .iter()
        .filter(|c| c["operation"] == DESCRIBE)
        .count()
}

#[tokio::test]
async fn two_looks_at_a_group_within_the_interval_make_one_describe_call() {
    let (emu, engine, arn) = bed().await;
    let before = describes(&emu);
    engine
        .describe_group(SOURCE, &arn, Priority::Normal)
        .await
        .unwrap();
    engine
        .describe_group(SOURCE, &arn, Priority::Background)
        .await
        .unwrap();
    // Positive marker: an urgent read always goes to Connect.
    engine
        .describe_group(SOURCE, &arn, Priority::Urgent)
        .await
        .unwrap();
    assert_eq!(describes(&emu) - before, 2);
}

#[tokio::test]
async fn a_write_to_the_group_makes_the_next_look_read_it_again() {
    let (emu, engine, arn) = bed().await;
    let before = describes(&emu);
    engine
        .describe_group(SOURCE, &arn, Priority::Normal)
        .await
        .unwrap();
    engine.forget_group(&arn);
    engine
        .describe_group(SOURCE, &arn, Priority::Normal)
        .await
        .unwrap();
    assert_eq!(describes(&emu) - before, 2);
}

#[tokio::test]
async fn a_failed_describe_is_not_remembered() {
    let (emu, engine, arn) = bed().await;
    emu.fault(
        json!({"operation": DESCRIBE, "errorRate": 1.0, "errorType": "AccessDeniedException"}),
    );
    let failed = engine.describe_group(SOURCE, &arn, Priority::Normal).await;
    assert!(failed.is_err(), "{failed:?}");
    emu.clear_faults();
    let before = describes(&emu);
    let read = engine.describe_group(SOURCE, &arn, Priority::Normal).await;
    assert!(read.is_ok(), "{read:?}");
    assert_eq!(describes(&emu) - before, 1);
}

/// ListUsers calls in the source region.
fn user_pages(emu: &Emulator) -> usize {
    emu.calls()
        .iter()
        .filter(|c| c["operation"] == "ListUsers" && c["region"] == SOURCE)
        .count()
}

#[tokio::test]
async fn passes_that_ask_for_the_users_while_a_listing_is_under_way_share_it() {
    for (k, v) in [("AWS_ACCESS_KEY_ID", "t"), ("AWS_SECRET_ACCESS_KEY", "t")] {
        // SAFETY: test set-up; every test sets the same values.
        unsafe { std::env::set_var(k, v) };
    }
    // 20,000 users are 20 pages; at ListUsers' quota (10/s, burst 10) a listing takes a second or two.
    let emu = Emulator::start_with(&["--quotas", "on", "--users", "20000"]);
    // A little under the quota, so the engine's pacing never meets the emulator's 429.
    let engine = engine_at(&emu.endpoint(), 0.8);
    let listing = async || {
        engine
            .instance_users(
                SOURCE,
                crate::support::emulator::INSTANCE_ID,
                false,
                Priority::Normal,
                Duration::ZERO,
            )
            .await
            .map(|u| u.len())
    };
    let before = user_pages(&emu);
    let one = listing().await.unwrap();
    let pages = user_pages(&emu) - before;
    assert!(
        pages >= 10,
        "a listing of {one} users took only {pages} pages"
    );
    // Ten passes that do not trust an old listing (max age zero), each asking 100 ms after the
    // one before: all of them while one listing is under way.
    let before = user_pages(&emu);
    let passes = (0..10u64).map(|i| {
        let listing = &listing;
        async move {
            tokio::time::sleep(Duration::from_millis(100 * i)).await;
            listing().await
        }
    });
    let seen = futures::future::join_all(passes).await;
    for n in &seen {
        assert_eq!(n.as_ref().ok(), Some(&one), "{n:?}");
    }
    assert_eq!(
        user_pages(&emu) - before,
        pages,
        "ten passes asking during one listing made more than one listing"
    );
}

/// ListTrafficDistributionGroupUsers calls in the source region.
fn member_pages(emu: &Emulator) -> usize {
    emu.calls()
        .iter()
        .filter(|c| c["operation"] == "ListTrafficDistributionGroupUsers" && c["region"] == SOURCE)
        .count()
}

#[tokio::test]
async fn a_first_read_of_the_members_is_shared_and_keeps_a_write_made_while_it_pages() {
    // The CI failure of 2026-12-04: ten memberships each read the group's members; a read that
    // started before another membership's associations finished after them and replaced what
    // that membership had recorded, so a later pass associated an agent a second time.
    let (emu, setup, arn) = bed().await;
    let mut ids: Vec<String> = setup
        .connect
        .list_users(
            SOURCE,
            crate::support::emulator::INSTANCE_ID,
            Priority::Normal,
        )
        .await
        .unwrap()
        .into_iter()
        .map(|u| u.id)
        .collect();
    ids.sort();
    assert!(ids.len() > 40, "the emulator has {} users", ids.len());
    // The late one sorts first: a read that has paged past the start never sees it.
    let late = ids[0].clone();
    let members = &ids[1..41];
    for id in members {
        setup
            .connect
            .associate_group_user(SOURCE, &arn, crate::support::emulator::INSTANCE_ID, id)
            .await
            .unwrap();
    }
    let before = member_pages(&emu);
    setup
        .connect
        .list_group_users(SOURCE, &arn, Priority::Normal)
        .await
        .unwrap();
    let pages = member_pages(&emu) - before;
    // At the quota (2/s, burst 5) the engine's read of four pages takes a second or more.
    emu.set_quotas(true);
    let engine = engine_at(&emu.endpoint(), 0.5);
    let before = member_pages(&emu);
    let first = engine.ensure_members(SOURCE, &arn);
    let meanwhile = async {
        let waited = tokio::time::Instant::now();
        while member_pages(&emu) - before < 2 {
            assert!(
                waited.elapsed() < Duration::from_secs(30),
                "the read never paged"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        engine
            .connect
            .associate_group_user(SOURCE, &arn, crate::support::emulator::INSTANCE_ID, &late)
            .await
            .unwrap();
        engine.record_write(
            &arn,
            connect_gr::plan::sweep::Write::Associated(late.clone()),
        );
        // Another pass asks while the read is under way.
        engine.ensure_members(SOURCE, &arn).await
    };
    let (a, b) = tokio::join!(first, meanwhile);
    a.unwrap();
    b.unwrap();
    assert_eq!(
        member_pages(&emu) - before,
        pages,
        "the second pass did not share the first read"
    );
    let (known, has_late) = engine.with_members(&arn, |m| (m.len(), m.contains(&late)));
    assert!(has_late, "the write made while the read paged was lost");
    assert_eq!(known, members.len() + 1);
}
