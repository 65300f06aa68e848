//! The reconcile driver, as the controller runs it, against the emulator process through the
//! unmodified SDK: failed Kubernetes reads are never taken for "absent", a pass keeps what it
//! did, and memberships of one group never fight. The objects live in the demo's in-memory world;
//! a wrapper makes its reads fail on demand, as an API server that denies `get` would.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use connect_gr::api::{
    AgentMembership, InstanceReplica, TrafficDistributionGroup, conditions, reasons,
};
use connect_gr::connect::{Priority, Scheduler, SchedulerConfig, SdkConnectConfig, new_connect};
use connect_gr::local::World;
use connect_gr::reconcile::driver::{CleanupSettled, Managed, Settled, run_cleanup, run_pass};
use connect_gr::reconcile::{Engine, Objects, ReadError};
use k8s_openapi::jiff::Timestamp;
use parking_lot::Mutex;

use crate::support::emulator::{Emulator, SOURCE};

#[path = "driver_drift.rs"]
mod drift;

#[path = "driver_denylist.rs"]
mod denylist;

const REPLICA: &str = include_str!("../../deploy/examples/instance-replica.yaml");
const DEFAULT_GROUP: &str = "apiVersion: connectgr.io/v1alpha1\nkind: TrafficDistributionGroup\nmetadata: {name: support-default}\nspec:\n  replicaRef: {name: support-center}\n  default: true\n";

/// The world's objects, with reads that fail on demand.
#[derive(Default)]
struct Flaky {
    world: Arc<World>,
    replicas: AtomicBool,
    groups: AtomicBool,
    memberships: AtomicBool,
}

fn denied(what: &str) -> ReadError {
    ReadError {
        what: what.into(),
        message: "ApiError: forbidden (Forbidden): 403".into(),
    }
}

#[async_trait]
impl Objects for Flaky {
    async fn replica(&self, ns: &str, name: &str) -> Result<Option<InstanceReplica>, ReadError> {
        if self.replicas.load(Ordering::SeqCst) {
            return Err(denied("InstanceReplica"));
        }
        self.world.replica(ns, name).await
    }
    async fn group(
        &self,
        ns: &str,
        name: &str,
    ) -> Result<Option<TrafficDistributionGroup>, ReadError> {
        if self.groups.load(Ordering::SeqCst) {
            return Err(denied("TrafficDistributionGroup"));
        }
        self.world.group(ns, name).await
    }
    async fn memberships(&self, ns: &str) -> Result<Vec<AgentMembership>, ReadError> {
        if self.memberships.load(Ordering::SeqCst) {
            return Err(denied("AgentMemberships"));
        }
        self.world.memberships(ns).await
    }
    async fn distribution(
        &self,
        ns: &str,
        name: &str,
    ) -> Result<Option<connect_gr::api::TrafficDistribution>, ReadError> {
        self.world.distribution(ns, name).await
    }
    async fn drills(&self, ns: &str) -> Result<Vec<connect_gr::api::FailoverDrill>, ReadError> {
        self.world.drills(ns).await
    }
}

impl Flaky {
    fn fail_all(&self, fail: bool) {
        for f in [&self.replicas, &self.groups, &self.memberships] {
            f.store(fail, Ordering::SeqCst);
        }
    }
}

struct Bed {
    emulator: Emulator,
    engine: Engine,
    objects: Flaky,
}

fn engine(endpoint: &str) -> Engine {
    // Quotas off on the emulator and scaled far up here: these tests are about what is called,
    // not how fast.
    engine_scaled(endpoint, 200.0)
}

fn engine_scaled(endpoint: &str, scale: f64) -> Engine {
    connect_gr::controller::install_crypto();
    let quotas = SchedulerConfig {
        scale,
        ..SchedulerConfig::from_env()
    };
    let connect = new_connect(
        SdkConnectConfig {
            endpoint_url: Some(endpoint.to_string()),
            max_attempts: Some(2),
        },
        Scheduler::new(quotas.clone()),
    );
    let mut e = Engine::new(connect, Duration::from_secs(300)).with_sweep_budget(&quotas);
    e.batch_window = Duration::from_secs(30);
    e
}

/// An emulator with `users` agents, the replica and the default group reconciled to Ready.
async fn bed(users: usize, extra: &[&str]) -> Bed {
    for (k, v) in [("AWS_ACCESS_KEY_ID", "t"), ("AWS_SECRET_ACCESS_KEY", "t")] {
        // SAFETY: test set-up; every test sets the same values.
        unsafe { std::env::set_var(k, v) };
    }
    let users_arg = users.to_string();
    let mut args = vec![
        "--quotas",
        "off",
        "--users",
        &users_arg,
        "--replication-seconds",
        "0.2",
    ];
    args.extend_from_slice(extra);
    let emulator = Emulator::start_with(&args);
    let engine = engine(&emulator.endpoint());
    let objects = Flaky::default();
    objects.world.apply_yaml(REPLICA, "replica").unwrap();
    objects
        .world
        .apply_yaml(DEFAULT_GROUP, "default group")
        .unwrap();
    converge(&engine, &objects.world).await;
    Bed {
        emulator,
        engine,
        objects,
    }
}

async fn converge(engine: &Engine, world: &World) {
    let progress =
        connect_gr::local::converge(engine, world, false, Duration::from_secs(90), |_| {}).await;
    let not_ready: Vec<_> = progress
        .iter()
        .filter(|p| !p.verdict.is_ready())
        .map(|p| format!("{} {}: {:?}", p.kind, p.name, p.verdict))
        .collect();
    assert!(not_ready.is_empty(), "did not converge: {not_ready:?}");
}

const WRITES: &[&str] = &[
    "ReplicateInstance",
    "CreateTrafficDistributionGroup",
    "DeleteTrafficDistributionGroup",
    "UpdateTrafficDistribution",
    "AssociateTrafficDistributionGroupUser",
    "DisassociateTrafficDistributionGroupUser",
    "UpdatePhoneNumber",
    "TagResource",
    "UntagResource",
    "AssociateLambdaFunction",
];

fn count(emu: &Emulator, ops: &[&str]) -> usize {
    emu.calls()
        .iter()
        .filter(|c| ops.contains(&c["operation"].as_str().unwrap_or("")))
        .count()
}

/// One pass of the named object through the driver; its status goes back into the world.
async fn pass<K: Managed>(
    bed: &Bed,
    list: &Mutex<Vec<K>>,
    name: &str,
    failures: u32,
) -> Settled<K::Status> {
    let obj = find(list, name);
    let out = run_pass(&bed.engine, &bed.objects, &obj, Timestamp::now(), failures).await;
    store(list, name, out.status.clone());
    out
}

fn find<K: Managed>(list: &Mutex<Vec<K>>, name: &str) -> K {
    list.lock()
        .iter()
        .find(|o| o.meta().name.as_deref() == Some(name))
        .cloned()
        .unwrap_or_else(|| panic!("{name} not in the world"))
}

fn store<K: Managed>(list: &Mutex<Vec<K>>, name: &str, status: K::Status) {
    for o in list.lock().iter_mut() {
        if o.meta().name.as_deref() == Some(name) {
            o.set_status(status.clone());
        }
    }
}

fn reconciling_reason<S: connect_gr::reconcile::HasConditions>(s: &S) -> String {
    let c = conditions::get(s.conditions(), conditions::RECONCILING).expect("Reconciling");
    assert_eq!(c.status, conditions::TRUE, "{c:?}");
    assert!(!conditions::is_true(s.conditions(), conditions::READY));
    c.reason.clone()
}

fn membership_yaml(name: &str, mode: &str, policy: &str, users: &[String]) -> String {
    let mut y = format!(
        "apiVersion: connectgr.io/v1alpha1\nkind: AgentMembership\nmetadata: {{name: {name}}}\nspec:\n  groupRef: {{name: support-default}}\n  mode: {mode}\n  deletionPolicy: {policy}\n  users:\n"
    );
    for u in users {
        y.push_str(&format!("    - {u}\n"));
    }
    y
}

fn agents(from: usize, to: usize) -> Vec<String> {
    (from..=to).map(|i| format!("agent{i:05}")).collect()
}

async fn member_count(bed: &Bed) -> usize {
    let arn = find(&bed.objects.world.groups, "support-default")
        .status
        .unwrap()
        .arn
        .unwrap();
    bed.engine
        .connect
        .list_group_users(SOURCE, &arn, Priority::Normal)
        .await
        .unwrap()
        .len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_read_of_a_referenced_object_writes_nothing_for_any_kind_and_the_retry_succeeds() {
    let bed = bed(20, &[]).await;
    let world = bed.objects.world.clone();
    world
        .apply_yaml(
            "apiVersion: connectgr.io/v1alpha1\nkind: TrafficDistributionGroup\nmetadata: {name: overflow}\nspec:\n  replicaRef: {name: support-center}\n  deletionPolicy: Delete\n",
            "overflow",
        )
        .unwrap();
    world
        .apply_yaml(
            &membership_yaml("team", "Exact", "Retain", &agents(1, 5)),
            "m",
        )
        .unwrap();
    world
        .apply_yaml(
            "apiVersion: connectgr.io/v1alpha1\nkind: TrafficDistribution\nmetadata: {name: split}\nspec:\n  groupRef: {name: support-default}\n  telephony: {us-west-2: 60, us-east-1: 40}\n  agents: {us-west-2: 50, us-east-1: 50}\n",
            "split",
        )
        .unwrap();
    bed.objects.fail_all(true);
    let before = count(&bed.emulator, WRITES);

    // Every kind that reads another object: the read fails, nothing is written, status says why.
    let g = pass(&bed, &world.groups, "overflow", 0).await;
    let m = pass(&bed, &world.memberships, "team", 0).await;
    let d = pass(&bed, &world.distributions, "split", 0).await;
    assert_eq!(
        count(&bed.emulator, WRITES),
        before,
        "no write on a failed read"
    );
    for reason in [
        reconciling_reason(&g.status),
        reconciling_reason(&m.status),
        reconciling_reason(&d.status),
    ] {
        assert_eq!(reason, reasons::KUBERNETES_READ_FAILED);
    }
    assert!(
        g.events.iter().any(|e| e.warning),
        "a Warning on the way in"
    );

    // Reads work again: the same objects converge.
    bed.objects.fail_all(false);
    converge(&bed.engine, &world).await;
    assert_eq!(member_count(&bed).await, 5);
    assert!(count(&bed.emulator, &["CreateTrafficDistributionGroup"]) >= 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cleanup_holds_the_finalizer_while_reads_fail_and_releases_once_they_work() {
    let bed = bed(20, &[]).await;
    let world = bed.objects.world.clone();
    world
        .apply_yaml(
            &membership_yaml("leaving", "Additive", "Delete", &agents(1, 6)),
            "leaving",
        )
        .unwrap();
    world
        .apply_yaml(
            &membership_yaml("staying", "Additive", "Retain", &agents(5, 8)),
            "staying",
        )
        .unwrap();
    converge(&bed.engine, &world).await;
    assert_eq!(member_count(&bed).await, 8);
    let leaving = find(&world.memberships, "leaving");

    // The group cannot be read: the finalizer stays, nothing is disassociated.
    bed.objects.groups.store(true, Ordering::SeqCst);
    let out = run_cleanup(&bed.engine, &bed.objects, &leaving, Timestamp::now(), 0).await;
    let CleanupSettled::Holding(held) = out else {
        panic!("the finalizer was released on a failed read of the group");
    };
    assert_eq!(
        reconciling_reason(&held.status),
        reasons::KUBERNETES_READ_FAILED
    );
    // The other memberships cannot be listed: taking that for "none" would remove 5 and 6.
    bed.objects.groups.store(false, Ordering::SeqCst);
    bed.objects.memberships.store(true, Ordering::SeqCst);
    let out = run_cleanup(&bed.engine, &bed.objects, &leaving, Timestamp::now(), 1).await;
    assert!(matches!(out, CleanupSettled::Holding(_)));
    assert_eq!(
        count(&bed.emulator, &["DisassociateTrafficDistributionGroupUser"]),
        0
    );
    assert_eq!(member_count(&bed).await, 8);

    // Reads work: only the agents no other membership declares leave (1-4).
    bed.objects.memberships.store(false, Ordering::SeqCst);
    let mut released = false;
    for _ in 0..10 {
        if let CleanupSettled::Released(_) =
            run_cleanup(&bed.engine, &bed.objects, &leaving, Timestamp::now(), 0).await
        {
            released = true;
            break;
        }
    }
    assert!(released);
    assert_eq!(
        member_count(&bed).await,
        4,
        "5-8 stay: 'staying' declares them"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_number_moved_before_a_later_move_failed_is_recorded_and_moved_out_when_undeclared() {
    // Moves stay IN_PROGRESS (and block further moves of that number) for 30 virtual seconds.
    let bed = bed(5, &["--claim-seconds", "30"]).await;
    let world = bed.objects.world.clone();
    let lines = |numbers: &str| {
        format!(
            "apiVersion: connectgr.io/v1alpha1\nkind: TrafficDistributionGroup\nmetadata: {{name: lines}}\nspec:\n  replicaRef: {{name: support-center}}\n  phoneNumbers: [{numbers}]\n"
        )
    };
    world.apply_yaml(&lines(""), "lines").unwrap();
    converge(&bed.engine, &world).await;
    let group = find(&world.groups, "lines").status.unwrap();
    let (group_arn, instance_arn) = (group.arn.unwrap(), group.instance_arn.unwrap());

    // Someone else starts moving the second number: Connect will refuse to move it for a while.
    let numbers = bed
        .engine
        .connect
        .list_phone_numbers(SOURCE, Priority::Normal)
        .await
        .unwrap();
    let second = numbers
        .iter()
        .find(|n| n.number == "+14255550103")
        .expect("+14255550103 is claimed");
    let elsewhere = if second.target_arn.as_deref() == Some(instance_arn.as_str()) {
        find(&world.groups, "support-default")
            .status
            .unwrap()
            .arn
            .unwrap()
    } else {
        instance_arn.clone()
    };
    bed.engine
        .connect
        .update_phone_number(SOURCE, &second.id, &elsewhere, "by-hand")
        .await
        .unwrap();

    world
        .apply_yaml(&lines("\"+14255550102\", \"+14255550103\""), "lines")
        .unwrap();
    let out = pass(&bed, &world.groups, "lines", 0).await;
    assert!(
        !conditions::is_true(&out.status.conditions, conditions::READY),
        "{:?}",
        out.verdict
    );
    assert_eq!(
        out.status.managed_phone_numbers,
        vec!["+14255550102".to_string()],
        "the first move is recorded although the second failed"
    );

    // Later: both are in; then the first is no longer declared and goes back to the instance.
    bed.emulator.advance(31.0);
    converge(&bed.engine, &world).await;
    world
        .apply_yaml(&lines("\"+14255550103\""), "lines")
        .unwrap();
    bed.emulator.advance(31.0);
    converge(&bed.engine, &world).await;
    let numbers = bed
        .engine
        .connect
        .list_phone_numbers(SOURCE, Priority::Normal)
        .await
        .unwrap();
    let target = |n: &str| {
        numbers
            .iter()
            .find(|p| p.number == n)
            .and_then(|p| p.target_arn.clone())
    };
    assert_eq!(target("+14255550102"), Some(instance_arn));
    assert_eq!(target("+14255550103"), Some(group_arn));
    assert_eq!(
        find(&world.groups, "lines")
            .status
            .unwrap()
            .managed_phone_numbers,
        vec!["+14255550103".to_string()]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_exact_memberships_of_500_agents_on_one_group_converge_without_removing_anyone() {
    let bed = bed(5_000, &[]).await;
    let world = bed.objects.world.clone();
    for t in 0..10 {
        world
            .apply_yaml(
                &membership_yaml(
                    &format!("team-{t}"),
                    "Exact",
                    "Retain",
                    &agents(t * 500 + 1, t * 500 + 500),
                ),
                "team",
            )
            .unwrap();
    }
    converge(&bed.engine, &world).await;
    assert_eq!(member_count(&bed).await, 5_000);
    assert_eq!(
        count(&bed.emulator, &["DisassociateTrafficDistributionGroupUser"]),
        0,
        "no membership removed an agent another declares"
    );
    assert_eq!(
        count(&bed.emulator, &["AssociateTrafficDistributionGroupUser"]),
        5_000,
        "each agent associated once"
    );
    // A re-run (several passes over every object) writes nothing.
    let before = bed.emulator.calls().len();
    for _ in 0..3 {
        connect_gr::local::pass(&bed.engine, &world, false).await;
    }
    let rerun_writes: Vec<_> = bed.emulator.calls()[before..]
        .iter()
        .filter(|c| WRITES.contains(&c["operation"].as_str().unwrap_or("")))
        .cloned()
        .collect();
    assert!(rerun_writes.is_empty(), "a re-run wrote: {rerun_writes:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mixed_membership_change_runs_joins_and_leaves_side_by_side() {
    let mut bed = bed(400, &["--quota-scale", "20"]).await;
    let world = bed.objects.world.clone();
    world
        .apply_yaml(
            &membership_yaml("team", "Exact", "Retain", &agents(1, 200)),
            "m",
        )
        .unwrap();
    converge(&bed.engine, &world).await;
    // Pace both operations on both sides, like Connect's quotas: 40/s each.
    bed.emulator.set_quotas(true);
    bed.engine = engine_scaled(&bed.emulator.endpoint(), 20.0);
    let before = bed.emulator.calls().len();
    world
        .apply_yaml(
            &membership_yaml("team", "Exact", "Retain", &agents(201, 400)),
            "m",
        )
        .unwrap();
    converge(&bed.engine, &world).await;
    assert_eq!(member_count(&bed).await, 200);
    let calls: Vec<String> = bed.emulator.calls()[before..]
        .iter()
        .filter(|c| c["status"] == 200)
        .filter_map(|c| c["operation"].as_str().map(str::to_string))
        .filter(|op| op.ends_with("TrafficDistributionGroupUser") && !op.starts_with("List"))
        .collect();
    let first_join = calls
        .iter()
        .position(|op| op.starts_with("Associate"))
        .unwrap();
    let last_leave = calls
        .iter()
        .rposition(|op| op.starts_with("Disassociate"))
        .unwrap();
    assert!(
        first_join < last_leave / 4,
        "joins start with the leaves, not after them (first join at {first_join}, last leave at {last_leave})"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_object_in_observe_mode_writes_nothing_even_when_deleted() {
    let bed = bed(20, &[]).await;
    let world = bed.objects.world.clone();
    world
        .apply_yaml(
            &membership_yaml("team", "Additive", "Delete", &agents(1, 4)),
            "m",
        )
        .unwrap();
    converge(&bed.engine, &world).await;
    let mut obj = find(&world.memberships, "team");
    obj.metadata.annotations = Some(
        [(
            "connectgr.io/management-policy".to_string(),
            "Observe".to_string(),
        )]
        .into(),
    );
    // More agents declared, observed only: the plan lists them, nothing is associated.
    obj.spec.users = agents(1, 6);
    let before = count(&bed.emulator, WRITES);
    let out = run_pass(&bed.engine, &bed.objects, &obj, Timestamp::now(), 0).await;
    assert_eq!(count(&bed.emulator, WRITES), before);
    let plan = out.status.plan.expect("status.plan");
    assert_eq!(plan.total, 2, "{plan:?}");
    assert!(
        plan.calls
            .iter()
            .all(|c| c.contains("AssociateTrafficDistributionGroupUser"))
    );
    let ready = conditions::get(&out.status.conditions, conditions::READY).unwrap();
    assert_eq!(
        (ready.status.as_str(), ready.reason.as_str()),
        ("False", reasons::OBSERVE_ONLY)
    );
    // Deleted while observed: released without disassociating anyone.
    let released = run_cleanup(&bed.engine, &bed.objects, &obj, Timestamp::now(), 0).await;
    assert!(matches!(released, CleanupSettled::Released(_)));
    assert_eq!(count(&bed.emulator, WRITES), before);
    assert_eq!(member_count(&bed).await, 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_number_another_group_holds_is_not_taken_over_unless_adopt_says_so() {
    let bed = bed(5, &[]).await;
    let world = bed.objects.world.clone();
    let group = |name: &str, adopt: bool| {
        format!(
            "apiVersion: connectgr.io/v1alpha1\nkind: TrafficDistributionGroup\nmetadata: {{name: {name}}}\nspec:\n  replicaRef: {{name: support-center}}\n  adopt: {adopt}\n  phoneNumbers: [\"+14255550103\"]\n"
        )
    };
    world.apply_yaml(&group("first", false), "first").unwrap();
    converge(&bed.engine, &world).await;
    let first_arn = find(&world.groups, "first").status.unwrap().arn.unwrap();

    world.apply_yaml(&group("second", false), "second").unwrap();
    let moves = count(&bed.emulator, &["UpdatePhoneNumber"]);
    // Until the new group is ACTIVE and its numbers were considered (a few passes).
    let mut second = Default::default();
    for _ in 0..40 {
        let _ = connect_gr::local::pass(&bed.engine, &world, false).await;
        second = find(&world.groups, "second").status.unwrap();
        let stalled = conditions::get(&second.conditions, "Stalled")
            .is_some_and(|c| c.status == conditions::TRUE);
        if !stalled {
            tokio::time::sleep(Duration::from_millis(250)).await;
            continue;
        }
        break;
    }
    let second: connect_gr::api::TrafficDistributionGroupStatus = second;
    let ready = second
        .conditions
        .iter()
        .find(|c| c.type_ == "Ready")
        .unwrap();
    assert_eq!(
        (ready.status.as_str(), ready.reason.as_str()),
        ("False", "AlreadyExists")
    );
    assert!(ready.message.contains("+14255550103"), "{}", ready.message);
    assert_eq!(
        count(&bed.emulator, &["UpdatePhoneNumber"]),
        moves,
        "the number stays where it is: the two groups never fight over it"
    );

    world.apply_yaml(&group("second", true), "second").unwrap();
    // Until the second group is Ready. The first may then say Stalled AlreadyExists (the number
    // it declares is in the second now), if its pass happens to run after the move.
    let second_ready = |progress: &[connect_gr::local::Progress]| {
        progress
            .iter()
            .any(|p| p.name == "second" && p.verdict.is_ready())
    };
    connect_gr::local::converge_until(
        &bed.engine,
        &world,
        false,
        Duration::from_secs(90),
        second_ready,
        |_| {},
    )
    .await;
    let second_arn = find(&world.groups, "second").status.unwrap().arn.unwrap();
    let numbers = bed
        .engine
        .connect
        .list_phone_numbers(SOURCE, Priority::Normal)
        .await
        .unwrap();
    let target = numbers
        .iter()
        .find(|p| p.number == "+14255550103")
        .and_then(|p| p.target_arn.clone());
    assert_eq!(target, Some(second_arn), "adopt: true takes it");
    assert_ne!(target.as_deref(), Some(first_arn.as_str()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_rollout_without_gates_holds_the_split_where_it_is() {
    let bed = bed(5, &[]).await;
    let world = bed.objects.world.clone();
    let split = |paused: bool| {
        format!(
            "apiVersion: connectgr.io/v1alpha1\nkind: TrafficDistribution\nmetadata: {{name: split}}\nspec:\n  groupRef: {{name: support-default}}\n  telephony: {{us-west-2: 60, us-east-1: 40}}\n  agents: {{us-west-2: 50, us-east-1: 50}}\n  rollout: {{stepPercent: 10, pauseSeconds: 0, paused: {paused}}}\n"
        )
    };
    world.apply_yaml(&split(true), "split").unwrap();
    let updates = count(&bed.emulator, &["UpdateTrafficDistribution"]);
    for _ in 0..3 {
        let out = pass(&bed, &world.distributions, "split", 0).await;
        assert!(
            matches!(&out.verdict, connect_gr::reconcile::Verdict::Progressing { reason, .. } if reason == "RolloutPaused"),
            "{:?}",
            out.verdict
        );
    }
    assert_eq!(
        count(&bed.emulator, &["UpdateTrafficDistribution"]),
        updates,
        "paused: nothing sent (before, a paused rollout jumped to the target)"
    );
    world.apply_yaml(&split(false), "split").unwrap();
    converge(&bed.engine, &world).await;
    assert!(count(&bed.emulator, &["UpdateTrafficDistribution"]) > updates);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_distribution_in_observe_mode_reads_connect_plans_its_writes_and_sends_none() {
    let bed = bed(5, &[]).await;
    let world = bed.objects.world.clone();
    world
        .apply_yaml(
            "apiVersion: connectgr.io/v1alpha1\nkind: TrafficDistribution\nmetadata:\n  name: split\n  annotations: {connectgr.io/management-policy: Observe}\nspec:\n  groupRef: {name: support-default}\n  telephony: {us-west-2: 0, us-east-1: 100}\n  agents: {us-west-2: 0, us-east-1: 100}\n  crossRegionRouting: Isolated\n",
            "split",
        )
        .unwrap();
    let writes: Vec<&str> = WRITES
        .iter()
        .copied()
        .chain(["UpdateCrossRegionRouting"])
        .collect();
    let (writes_before, reads_before) = (
        count(&bed.emulator, &writes),
        count(&bed.emulator, &["GetTrafficDistribution"]),
    );
    let out = pass(&bed, &world.distributions, "split", 0).await;
    // The pass did read Connect (the positive marker), and wrote nothing.
    assert!(count(&bed.emulator, &["GetTrafficDistribution"]) > reads_before);
    assert_eq!(count(&bed.emulator, &writes), writes_before);
    let plan = out.status.plan.expect("status.plan");
    assert!(
        plan.calls
            .iter()
            .any(|c| c.contains("UpdateCrossRegionRouting") && c.contains("isolatedAll=true")),
        "{plan:?}"
    );
    assert!(
        plan.calls
            .iter()
            .any(|c| c.starts_with("[us-east-1] UpdateTrafficDistribution")),
        "{plan:?}"
    );
    assert!(out.status.pending_split.is_none(), "no write intent either");
}

const DRILLED_SPLIT: &str = "apiVersion: connectgr.io/v1alpha1\nkind: TrafficDistribution\nmetadata: {name: split}\nspec:\n  groupRef: {name: support-default}\n  telephony: {us-west-2: 100, us-east-1: 0}\n  agents: {us-west-2: 100, us-east-1: 0}\n";

fn drill_yaml(annotations: &str) -> String {
    format!(
        "apiVersion: connectgr.io/v1alpha1\nkind: FailoverDrill\nmetadata:\n  name: drill\n  annotations: {{{annotations}}}\nspec:\n  distributionRef: {{name: split}}\n  target:\n    telephony: {{us-west-2: 0, us-east-1: 100}}\n    agents: {{us-west-2: 0, us-east-1: 100}}\n  holdSeconds: 1\n"
    )
}

/// Issue 22: the drill's run is its one "write"; in observe mode it is planned, not started, and
/// the distribution is not moved.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_drill_in_observe_mode_plans_its_run_and_moves_nothing() {
    let bed = bed(5, &[]).await;
    let world = bed.objects.world.clone();
    world.apply_yaml(DRILLED_SPLIT, "split").unwrap();
    converge(&bed.engine, &world).await;
    world
        .apply_yaml(
            &drill_yaml("connectgr.io/management-policy: Observe, connectgr.io/run-now: \"1\""),
            "drill",
        )
        .unwrap();
    let (writes, reads) = (
        count(&bed.emulator, WRITES),
        count(&bed.emulator, &["GetTrafficDistribution"]),
    );
    let out = pass(&bed, &world.drills, "drill", 0).await;
    assert!(count(&bed.emulator, &["GetTrafficDistribution"]) > reads);
    let plan = out.status.plan.expect("status.plan");
    assert!(
        plan.calls.iter().any(|c| c.starts_with("start drill run")),
        "{plan:?}"
    );
    assert_eq!(
        out.status.phase,
        connect_gr::api::DrillPhase::Idle,
        "not started"
    );
    pass(&bed, &world.distributions, "split", 0).await;
    assert_eq!(count(&bed.emulator, WRITES), writes, "nothing moved");
}

/// The local runner runs a drill the way the controller does: shift, hold, revert, Succeeded,
/// the distribution Ready at its declared split after.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_drill_runs_to_success_through_the_local_runner() {
    let bed = bed(5, &[]).await;
    let world = bed.objects.world.clone();
    world.apply_yaml(DRILLED_SPLIT, "split").unwrap();
    converge(&bed.engine, &world).await;
    let shifts = count(&bed.emulator, &["UpdateTrafficDistribution"]);
    world
        .apply_yaml(&drill_yaml("connectgr.io/run-now: \"1\""), "drill")
        .unwrap();
    converge(&bed.engine, &world).await;
    let drill = find(&world.drills, "drill");
    let last = drill.status.unwrap().last_run.expect("a run ended");
    assert_eq!(
        last.result,
        Some(connect_gr::api::DrillResult::Succeeded),
        "{last:?}"
    );
    assert_eq!(last.reverted_to.as_deref(), Some("T 100/0 A 100/0"));
    assert_eq!(
        count(&bed.emulator, &["UpdateTrafficDistribution"]) - shifts,
        2,
        "one shift to the target, one revert"
    );
}
