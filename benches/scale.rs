//! `scale`: cost at size. N agents already in their declared state in 10 groups (preloaded in the
//! emulator through its state file; `adopt: true` on the nine custom groups), 31 objects (1
//! InstanceReplica, 10 groups, 10 Exact memberships, 10 distributions), real quotas, resync 60 s.
//! Records how long until every object is Ready, the writes on the way (only the adoption tags
//! are expected), then the reads of a steady window: per production hour and the busiest read
//! operation's share of its quota (per region, the quotas are per region).
//!
//! Full mode: 20,000 agents at quota scale 1. Quick mode (`CONNECT_GR_BENCH_QUICK=1`): 2,000
//! agents, quotas ×5 and the resync ÷5, so it stays short.
mod common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use common::*;
use connect_gr::connect::SchedulerConfig;
use connect_gr::emulator::schema::{GroupSpec, StateFile, default_state_file};
use connect_gr::local::World;
use serde_json::json;

/// The resync the issue measures at (production seconds).
const PRODUCTION_RESYNC_S: f64 = 60.0;
const GROUPS: usize = 10;
const REPLICA_REGION: &str = "us-east-1";
const DEFAULT_GROUP: &str = "support-center-default";

/// Set in the child process that writes the emulator's state file (see [`write_state_file`]);
/// `scripts/controller-rss-scale.sh` also uses it, with [`WRITE_MANIFESTS_ENV`], to run the
/// released controller on the same layout.
const WRITE_STATE_ENV: &str = "CONNECT_GR_BENCH_SCALE_WRITE_STATE";
/// Where to write the 31 objects' YAML instead of running.
const WRITE_MANIFESTS_ENV: &str = "CONNECT_GR_BENCH_SCALE_WRITE_MANIFESTS";

/// Writes the state file and/or the manifests the environment asks for; whether it asked.
fn write_files_asked_for() -> anyhow::Result<bool> {
    let state_path = std::env::var_os(WRITE_STATE_ENV);
    let manifests_path = std::env::var_os(WRITE_MANIFESTS_ENV);
    let agents = agents_from_env(20_000);
    if let Some(path) = &state_path {
        std::fs::write(path, serde_norway::to_string(&state(agents))?)?;
    }
    if let Some(path) = &manifests_path {
        std::fs::write(path, manifests(agents))?;
    }
    Ok(state_path.is_some() || manifests_path.is_some())
}

fn main() {
    init();
    match write_files_asked_for() {
        Ok(true) => return,
        Ok(false) => {}
        Err(e) => {
            eprintln!("scale: could not write the files asked for: {e:#}");
            std::process::exit(1);
        }
    }
    connect_gr::controller::release_large_buffers();
    if let Err(e) = runtime().block_on(run()) {
        eprintln!("scale: could not run: {e:#}");
        std::process::exit(1);
    }
}

fn agents_from_env(default: usize) -> usize {
    std::env::var("CONNECT_GR_BENCH_SCALE_AGENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|n| *n >= GROUPS)
        .unwrap_or(default)
}

/// The Connect name of group `g` (0 is the default group ReplicateInstance created).
fn group_name(g: usize) -> String {
    if g == 0 {
        DEFAULT_GROUP.to_string()
    } else {
        format!("scale-{g:02}")
    }
}

/// The object name of group `g`.
fn object_name(g: usize) -> String {
    if g == 0 {
        "support-default".to_string()
    } else {
        format!("scale-{g:02}")
    }
}

/// The agents of group `g`: an equal share of agent00001..agentNNNNN.
fn members(g: usize, agents: usize) -> impl Iterator<Item = String> {
    let per = agents.div_ceil(GROUPS);
    (g * per + 1..=((g + 1) * per).min(agents)).map(username)
}

fn split() -> BTreeMap<String, i64> {
    [(SOURCE.to_string(), 50), (REPLICA_REGION.to_string(), 50)].into()
}

/// The emulator's starting state: the instance replicated, every group ACTIVE with its members
/// and the split its distribution declares, so nothing has to change.
fn state(agents: usize) -> StateFile {
    let mut file = default_state_file(Some(agents));
    let inst = &mut file.instances[0];
    inst.replicated = true;
    inst.replica_region = Some(REPLICA_REGION.into());
    inst.replica_alias = Some("support-center-east".into());
    for g in 0..GROUPS {
        file.groups.push(GroupSpec {
            instance: INSTANCE.into(),
            name: group_name(g),
            id: None,
            default: g == 0,
            description: Some(format!("scale group {g}")),
            tags: BTreeMap::new(),
            telephony: split(),
            agents: split(),
            sign_in: if g == 0 {
                [
                    (SOURCE.to_string(), true),
                    (REPLICA_REGION.to_string(), true),
                ]
                .into()
            } else {
                BTreeMap::new()
            },
            members: members(g, agents).collect(),
            phone_numbers: if g == 0 {
                (100..103).map(|i| format!("+14255550{i}")).collect()
            } else {
                vec![]
            },
        });
    }
    file
}

/// Writes the emulator's state file of `agents` users from a process of its own: a controller
/// never holds the emulator's state, and the peak RSS this bench reports is the controller's.
fn write_state_file(path: &std::path::Path, agents: usize) -> anyhow::Result<()> {
    let status = std::process::Command::new(std::env::current_exe()?)
        .env(WRITE_STATE_ENV, path)
        .env("CONNECT_GR_BENCH_SCALE_AGENTS", agents.to_string())
        .status()?;
    anyhow::ensure!(status.success(), "writing the state file: {status}");
    Ok(())
}

/// The 31 objects.
fn manifests(agents: usize) -> String {
    let mut out = String::from(
        "apiVersion: connectgr.io/v1alpha1\nkind: InstanceReplica\nmetadata:\n  name: support-center\nspec:\n  instanceId: 4f5e3c1a-7b2d-4c8e-9a10-2b3c4d5e6f70\n  sourceRegion: us-west-2\n  replicaRegion: us-east-1\n  replicaAlias: support-center-east\n",
    );
    for g in 0..GROUPS {
        let obj = object_name(g);
        let group = if g == 0 {
            "  default: true\n  phoneNumbers:\n    - \"+14255550100\"\n    - \"+14255550101\"\n    - \"+14255550102\"\n  deletionPolicy: Retain\n".to_string()
        } else {
            format!(
                "  name: {}\n  adopt: true\n  deletionPolicy: Retain\n",
                group_name(g)
            )
        };
        out.push_str(&format!(
            "---\napiVersion: connectgr.io/v1alpha1\nkind: TrafficDistributionGroup\nmetadata:\n  name: {obj}\nspec:\n  replicaRef:\n    name: support-center\n  description: scale group {g}\n{group}"
        ));
        let sign_in = if g == 0 {
            "  signIn:\n    us-west-2: true\n    us-east-1: true\n"
        } else {
            ""
        };
        out.push_str(&format!(
            "---\napiVersion: connectgr.io/v1alpha1\nkind: TrafficDistribution\nmetadata:\n  name: {obj}-split\nspec:\n  groupRef:\n    name: {obj}\n  telephony:\n    us-west-2: 50\n    us-east-1: 50\n  agents:\n    us-west-2: 50\n    us-east-1: 50\n{sign_in}"
        ));
        out.push_str(&format!(
            "---\napiVersion: connectgr.io/v1alpha1\nkind: AgentMembership\nmetadata:\n  name: {obj}-agents\nspec:\n  groupRef:\n    name: {obj}\n  mode: Exact\n  users:\n"
        ));
        for u in members(g, agents) {
            out.push_str(&format!("    - {u}\n"));
        }
    }
    out
}

/// After `after_s`, group 1's distribution is changed to 100/0 and reconciled at once, as the
/// controller's watch of the spec change would (the steady loop leaves it alone meanwhile): the
/// seconds until its pass returned with Connect's answer to UpdateTrafficDistribution.
async fn failover(
    engine: &connect_gr::reconcile::Engine,
    world: &World,
    after_s: f64,
) -> anyhow::Result<f64> {
    tokio::time::sleep(Duration::from_secs_f64(after_s)).await;
    let name = format!("{}-split", object_name(1));
    let far = tokio::time::Instant::now() + Duration::from_secs(24 * 3600);
    let key = |d: &connect_gr::api::TrafficDistribution| connect_gr::local::Key::of(d);
    let current = world
        .distributions
        .lock()
        .iter()
        .find(|d| d.metadata.name.as_deref() == Some(name.as_str()))
        .cloned()
        .ok_or_else(|| anyhow::anyhow!("no distribution {name}"))?;
    world.due.lock().insert(key(&current), far);
    world.apply_yaml(
        &format!(
            "apiVersion: connectgr.io/v1alpha1\nkind: TrafficDistribution\nmetadata:\n  name: {name}\nspec:\n  groupRef:\n    name: {}\n  telephony:\n    us-west-2: 100\n    us-east-1: 0\n  agents:\n    us-west-2: 100\n    us-east-1: 0\n",
            object_name(1)
        ),
        "failover",
    )?;
    let obj = world
        .distributions
        .lock()
        .iter()
        .find(|d| d.metadata.name.as_deref() == Some(name.as_str()))
        .cloned()
        .expect("just applied");
    let t = Instant::now();
    let out = connect_gr::reconcile::driver::run_pass(
        engine,
        world,
        &obj,
        k8s_openapi::jiff::Timestamp::now(),
        0,
    )
    .await;
    let took = t.elapsed().as_secs_f64();
    anyhow::ensure!(
        out.status
            .last_applied
            .as_ref()
            .and_then(|a| a.telephony.as_ref())
            .and_then(|t| t.get("us-west-2"))
            == Some(&100),
        "the failover did not land: {:?}",
        out.verdict
    );
    if let Some(d) = world
        .distributions
        .lock()
        .iter_mut()
        .find(|d| d.metadata.name.as_deref() == Some(name.as_str()))
    {
        d.status = Some(out.status);
    }
    world
        .due
        .lock()
        .insert(key(&obj), tokio::time::Instant::now());
    Ok(took)
}

async fn run() -> anyhow::Result<()> {
    let quick = quick();
    let agents = agents_from_env(if quick { 2_000 } else { 20_000 });
    let objects = 1 + 3 * GROUPS;
    let scale = quota_scale(if quick { 5.0 } else { 1.0 });
    let resync_s = PRODUCTION_RESYNC_S / scale;
    // Production time of the steady window: 15 min in full mode, 3 min in quick mode.
    let window_s = if quick { 180.0 } else { 900.0 } / scale;
    println!(
        "scale: {objects} objects, {agents} agents in {GROUPS} groups, quota scale {scale}: resync {resync_s:.1} s, steady window {window_s:.0} s"
    );
    let dir = std::env::temp_dir().join(format!("connect-gr-scale-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let state_path = dir.join("state.yaml");
    write_state_file(&state_path, agents)?;
    let emu = EmulatorProcess::spawn_with_state(&state_path, scale);
    let _ = std::fs::remove_dir_all(&dir);
    let emu = emu?;
    let quotas = SchedulerConfig {
        scale: 1.0,
        ..SchedulerConfig::from_env()
    };
    let engine = engine_at(
        &emu.endpoint_url(),
        scale,
        Duration::from_secs_f64(resync_s),
    );
    let world = World::default();
    world.apply_yaml(&manifests(agents), "scale")?;
    anyhow::ensure!(
        world.keys(false).len() == objects,
        "expected {objects} objects"
    );

    // To Ready: every object from scratch, as a controller that just started.
    let t0 = Instant::now();
    converge_all(&engine, &world, Duration::from_secs(3600)).await?;
    let ready = t0.elapsed().as_secs_f64();
    let to_ready = emu.calls()?;
    let count = |calls: &[CallRecord]| {
        let mut per_op: BTreeMap<String, usize> = BTreeMap::new();
        for c in calls {
            *per_op.entry(c.operation.clone()).or_default() += 1;
        }
        per_op
    };
    let ready_calls = count(&to_ready);
    let writes_to_ready: BTreeMap<&String, &usize> =
        ready_calls.iter().filter(|(op, _)| is_write(op)).collect();
    let writes_to_ready_n: usize = writes_to_ready.values().copied().sum();
    // The reads the quotas make necessary: every group's member pages (10 ids a page, 2/s per
    // region; the groups are all in the source region), read once.
    let pages = (0..GROUPS)
        .map(|g| connect_gr::plan::sweep::pages(members(g, agents).count()))
        .sum::<usize>();
    let needed_s = pages as f64 / quotas.quota("ListTrafficDistributionGroupUsers").0;
    // The price of the budget: a membership change made by hand is seen by the sweep that reads
    // its page; the sweeps of every group share the background budget of the member reads, so
    // one round over all groups takes `pages / budget rate`, and the next round starts at most a
    // resync after the last one ended (production seconds).
    let drift_notice_s = pages as f64
        / (quotas.quota("ListTrafficDistributionGroupUsers").0 * quotas.background_budget)
        + PRODUCTION_RESYNC_S;

    // Steady state: each object at its own requeue time, as in the controller. Halfway through,
    // a failover of one distribution (its spec changed, reconciled at once as the controller's
    // watch would) runs next to the steady passes: how long until Connect took it.
    let before = to_ready.len();
    let t1 = Instant::now();
    let mut passes = 0;
    let steady_loop = async {
        while t1.elapsed().as_secs_f64() < window_s {
            connect_gr::local::pass_due(&engine, &world, false).await;
            passes += 1;
            let next = world.due.lock().values().min().copied();
            let wait = next
                .map(|t| t.saturating_duration_since(tokio::time::Instant::now()))
                .unwrap_or_default()
                .clamp(Duration::from_millis(20), Duration::from_secs_f64(resync_s));
            tokio::time::sleep(wait).await;
        }
    };
    let (_, failover) = tokio::join!(steady_loop, failover(&engine, &world, window_s / 2.0));
    let failover_s = failover?;
    let window = t1.elapsed().as_secs_f64();
    // The peak of the run, before the bench reads the steady window's call log (its instrument,
    // not the controller's memory).
    let rss = peak_rss_mib();
    let steady: Vec<CallRecord> = emu.calls_since(before)?;
    drop(emu);
    let per_production_hour = |n: f64| n / window * 3600.0 / scale;
    // The failover's own write is not steady-state traffic.
    let steady_writes = steady.iter().filter(|c| is_write(&c.operation)).count() - 1;
    let steady_reads = steady.len() - steady_writes;
    let mut per_region_op: BTreeMap<String, usize> = BTreeMap::new();
    for c in steady.iter().filter(|c| !is_write(&c.operation)) {
        *per_region_op
            .entry(format!("{} {}", c.region, c.operation))
            .or_default() += 1;
    }
    // Each operation's quota is per region: the busiest (region, operation) against its quota.
    let read_share: BTreeMap<String, f64> = per_region_op
        .iter()
        .map(|(key, n)| {
            let op = key.split_once(' ').map(|(_, op)| op).unwrap_or(key);
            let per_hour = quotas.quota(op).0 * 3600.0;
            (
                key.clone(),
                round(per_production_hour(*n as f64) / per_hour, 4),
            )
        })
        .collect();
    let (busiest_op, busiest_share) = read_share
        .iter()
        .max_by(|a, b| a.1.total_cmp(b.1))
        .map(|(op, f)| (op.clone(), *f))
        .unwrap_or_default();
    let ready_s = ready * scale;
    write_json(
        "scale",
        &json!({
            "agents": agents,
            "groups": GROUPS,
            "objects": objects,
            "ready_s": round(ready_s, 1),
            "writes_to_ready": writes_to_ready_n,
            "reads_per_hour": round(per_production_hour(steady_reads as f64), 1),
            "busiest_read_fraction": round(busiest_share, 4),
            "rss_mib": round(rss, 1),
            "needed_reads_s": round(needed_s, 1),
            "drift_notice_max_s": round(drift_notice_s, 0),
            "ready_to_needed_ratio": round(ready_s / needed_s, 2),
            "writes_to_ready_by_operation": writes_to_ready,
            "calls_to_ready_by_operation": ready_calls,
            "throttled_to_ready": to_ready.iter().filter(|c| c.status == 429).count(),
            "steady_writes": steady_writes,
            "failover_under_load_s": round(failover_s, 3),
            "busiest_read_operation": busiest_op,
            "read_quota_fraction_by_region_operation": read_share,
            "steady_throttled": steady.iter().filter(|c| c.status == 429).count(),
            "passes": passes,
            "resync_s": round(resync_s, 3),
            "production_resync_s": PRODUCTION_RESYNC_S,
            "window_s": round(window, 2),
            "production_window_s": round(window * scale, 1),
            "quota_scale": scale,
            "background_budget": quotas.background_budget,
            "quick": quick,
            "profile": if cfg!(debug_assertions) { "debug" } else { "release" },
            "note": "controller engine alone (the emulator is a separate process, preloaded through its state file); ready_s in production seconds (measured x quota scale); per-hour figures are measured rates / scale; busiest_read_fraction = the busiest (region, read operation) as a share of its quota in the steady window; rss_mib = peak RSS (VmHWM) of the bench process, which holds the engine and the 31 objects, read before the steady window's call log is fetched; the emulator's state file is written by a child process",
        }),
    )?;
    check(
        "ready within 1.2x needed reads",
        ready_s <= 1.2 * needed_s,
        format!("{ready_s:.0} s vs {needed_s:.0} s"),
    );
    check(
        "writes_to_ready = adoption tags",
        writes_to_ready
            .keys()
            .all(|op| op.as_str() == "TagResource"),
        format!("{writes_to_ready:?}"),
    );
    check(
        "steady writes == 0",
        steady_writes == 0,
        steady_writes.to_string(),
    );
    check(
        "busiest read op <= 25 %",
        busiest_share <= 0.25,
        format!("{busiest_op} {busiest_share:.3}"),
    );
    check("rss < 48 MiB", rss < 48.0, format!("{rss:.1} MiB"));
    check(
        "failover under load < 1 s",
        failover_s < 1.0,
        format!("{failover_s:.3} s"),
    );
    Ok(())
}
