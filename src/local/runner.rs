//! The local runner: the controller's scheduling without a cluster. Each object runs through the
//! driver at its own requeue time, objects concurrently as the controller's work queues run them
//! (one pass at a time per object), and a status change wakes the objects that refer to the
//! changed one, as the controller's watches do. `demo`, `apply`, `plan`, `preflight`, the
//! benchmarks and the driver tests run it, so what they show is what runs in a cluster.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use k8s_openapi::jiff::Timestamp;
use parking_lot::Mutex;
use tokio::sync::Notify;

use super::world::{Key, World};
use crate::reconcile::driver::{self, Managed};
use crate::reconcile::{Engine, Verdict};

/// A requeue of zero still yields to the other objects (a hot loop would starve them).
const MIN_REQUEUE: Duration = Duration::from_millis(10);

/// One line of progress per object and pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Progress {
    pub kind: &'static str,
    pub namespace: String,
    pub name: String,
    pub verdict: Verdict,
    pub requeue: Duration,
}

/// What one pass of one object came to.
struct Ran {
    progress: Progress,
    /// The status differs from the one before the pass (a watch event in a cluster).
    changed: bool,
}

async fn run_in<K: Managed>(
    engine: &Engine,
    world: &World,
    list: &Mutex<Vec<K>>,
    key: &Key,
    now: Timestamp,
) -> Option<Ran> {
    let obj = list.lock().iter().find(|o| Key::of(*o) == *key).cloned()?;
    let failures = world.failures.lock().get(key).copied().unwrap_or(0);
    let settled = driver::run_pass(engine, world, &obj, now, failures).await;
    let requeue = settled.requeue.delay();
    world.failures.lock().insert(key.clone(), settled.failures);
    world
        .due
        .lock()
        .insert(key.clone(), tokio::time::Instant::now() + requeue);
    world
        .events
        .lock()
        .extend(settled.events.iter().map(|n| (key.clone(), n.clone())));
    let changed = obj.status() != Some(&settled.status);
    if let Some(o) = list.lock().iter_mut().find(|o| Key::of(*o) == *key) {
        o.set_status(settled.status);
    }
    Some(Ran {
        progress: Progress {
            kind: K::KIND,
            namespace: key.namespace.clone(),
            name: key.name.clone(),
            verdict: settled.verdict,
            requeue,
        },
        changed,
    })
}

/// One pass of the object `key` (None when it is no longer in the world).
async fn run_key(engine: &Engine, world: &World, key: &Key, now: Timestamp) -> Option<Ran> {
    match key.kind {
        "InstanceReplica" => run_in(engine, world, &world.replicas, key, now).await,
        "TrafficDistributionGroup" => run_in(engine, world, &world.groups, key, now).await,
        "AgentMembership" => run_in(engine, world, &world.memberships, key, now).await,
        "TrafficDistribution" => run_in(engine, world, &world.distributions, key, now).await,
        "CallerDenylist" => run_in(engine, world, &world.denylists, key, now).await,
        "FailoverDrill" => run_in(engine, world, &world.drills, key, now).await,
        _ => None,
    }
}

/// One pass over every object, one after the other in dependency order (a snapshot of where
/// everything stands, e.g. for `preflight`).
pub async fn pass(engine: &Engine, world: &World, include_denylists: bool) -> Vec<Progress> {
    pass_over(engine, world, include_denylists, false).await
}

/// One pass over the objects whose requeue time has come (the steady-state benchmark's tick).
pub async fn pass_due(engine: &Engine, world: &World, include_denylists: bool) -> Vec<Progress> {
    pass_over(engine, world, include_denylists, true).await
}

async fn pass_over(
    engine: &Engine,
    world: &World,
    include_denylists: bool,
    only_due: bool,
) -> Vec<Progress> {
    let now = Timestamp::now();
    let mut out = Vec::new();
    for key in world.keys(include_denylists) {
        let due = world.due.lock().get(&key).copied();
        if only_due && due.is_some_and(|t| t > tokio::time::Instant::now()) {
            continue;
        }
        if let Some(ran) = run_key(engine, world, &key, now).await {
            out.push(ran.progress);
        }
    }
    out
}

pub fn verdict_line(p: &Progress) -> String {
    match &p.verdict {
        Verdict::Ready(m) => format!("  ✔ {:<25} {:<22} Ready        {m}", p.kind, p.name),
        Verdict::Progressing { reason, message } => {
            format!("  … {:<25} {:<22} {reason:<12} {message}", p.kind, p.name)
        }
        Verdict::Stalled { reason, message } => {
            format!("  ✖ {:<25} {:<22} {reason:<12} {message}", p.kind, p.name)
        }
    }
}

/// No object is still progressing (everything Ready or Stalled).
pub fn settled(progress: &[Progress]) -> bool {
    progress
        .iter()
        .all(|p| !matches!(p.verdict, Verdict::Progressing { .. }))
}

/// Runs every object at its own requeue time until everything is Ready or Stalled (or the
/// timeout), printing each change of verdict.
pub async fn converge(
    engine: &Engine,
    world: &World,
    include_denylists: bool,
    timeout: Duration,
    log: impl FnMut(String),
) -> Vec<Progress> {
    converge_until(engine, world, include_denylists, timeout, settled, log).await
}

/// The shared state of one run: each object's latest progress and what was last printed.
struct Board {
    latest: BTreeMap<Key, Progress>,
    printed: BTreeMap<Key, Verdict>,
}

/// Runs every object at its own requeue time, concurrently, until `done` holds for the latest
/// progress of all of them (in dependency order), or the timeout; returns that progress.
pub async fn converge_until(
    engine: &Engine,
    world: &World,
    include_denylists: bool,
    timeout: Duration,
    done: impl Fn(&[Progress]) -> bool,
    log: impl FnMut(String),
) -> Vec<Progress> {
    let keys = world.keys(include_denylists);
    let wake: Vec<Notify> = keys.iter().map(|_| Notify::new()).collect();
    let stop = AtomicBool::new(false);
    let board = Mutex::new(Board {
        latest: BTreeMap::new(),
        printed: BTreeMap::new(),
    });
    let log = Mutex::new(log);
    let in_order = |latest: &BTreeMap<Key, Progress>| -> Vec<Progress> {
        keys.iter().filter_map(|k| latest.get(k).cloned()).collect()
    };
    let object_loop = |i: usize| {
        let (keys, wake, stop, board, log) = (&keys, &wake, &stop, &board, &log);
        let in_order = &in_order;
        let done = &done;
        async move {
            let key = &keys[i];
            while !stop.load(Ordering::Acquire) {
                let Some(ran) = run_key(engine, world, key, Timestamp::now()).await else {
                    return;
                };
                let requeue = ran.progress.requeue;
                let finished = {
                    let mut b = board.lock();
                    if b.printed.get(key) != Some(&ran.progress.verdict) {
                        (log.lock())(verdict_line(&ran.progress));
                        b.printed.insert(key.clone(), ran.progress.verdict.clone());
                    }
                    b.latest.insert(key.clone(), ran.progress);
                    b.latest.len() == keys.len() && done(&in_order(&b.latest))
                };
                if ran.changed {
                    for (j, other) in keys.iter().enumerate() {
                        if world.wakes(key, other) {
                            wake[j].notify_one();
                        }
                    }
                }
                if finished {
                    stop.store(true, Ordering::Release);
                    wake.iter().for_each(Notify::notify_one);
                    return;
                }
                tokio::select! {
                    _ = tokio::time::sleep(requeue.max(MIN_REQUEUE)) => {}
                    _ = wake[i].notified() => {}
                }
            }
        }
    };
    let loops = futures::future::join_all((0..keys.len()).map(object_loop));
    let _ = tokio::time::timeout(timeout, loops).await;
    in_order(&board.lock().latest)
}
