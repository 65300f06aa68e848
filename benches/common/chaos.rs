//! The chaos soak's driver, shared by the `chaos` bench and the quick-mode test (tests/it/chaos.rs
//! includes this file): the examples reconciled by the local runner (the controller's driver and
//! scheduling) against the emulator with quotas, gated failovers and failbacks alternating, random
//! faults injected through `POST /_emulator/faults`, the controller "killed" (its future dropped
//! mid-pass, so in-flight writes may have landed without their status) and restarted with a fresh
//! engine, and the live state (`GET /_emulator/state`) checked every second against
//! `connect_gr::plan::invariants`. Self-contained (no `super::`), so the test can include it.
#![allow(dead_code)]

use std::cell::Cell;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use connect_gr::connect::{Scheduler, SchedulerConfig, SdkConnectConfig, new_connect};
use connect_gr::emulator::{EmulatorConfig, Timings, default_state_file};
use connect_gr::local::{World, converge_until};
use connect_gr::plan::invariants::{DeclaredGroup, InvariantChecker, Observed, ObservedGroup};
use connect_gr::reconcile::{Engine, Verdict};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const EXAMPLES: &[(&str, &str)] = &[
    (
        "instance-replica.yaml",
        include_str!("../../deploy/examples/instance-replica.yaml"),
    ),
    (
        "tdg-default.yaml",
        include_str!("../../deploy/examples/tdg-default.yaml"),
    ),
    (
        "tdg-overflow.yaml",
        include_str!("../../deploy/examples/tdg-overflow.yaml"),
    ),
    (
        "agent-membership.yaml",
        include_str!("../../deploy/examples/agent-membership.yaml"),
    ),
    (
        "traffic-distribution.yaml",
        include_str!("../../deploy/examples/traffic-distribution.yaml"),
    ),
];

/// The scenarios the soak alternates between (failover, failback), gated ones first.
const SCENARIOS: &[(&str, &str)] = &[
    (
        "gated-failover-us-east-1",
        include_str!("../../deploy/examples/scenarios/gated-failover-us-east-1.yaml"),
    ),
    (
        "gated-failback-us-west-2",
        include_str!("../../deploy/examples/scenarios/gated-failback-us-west-2.yaml"),
    ),
    (
        "failover-us-east-1",
        include_str!("../../deploy/examples/scenarios/failover-us-east-1.yaml"),
    ),
    (
        "steady-50-50",
        include_str!("../../deploy/examples/traffic-distribution.yaml"),
    ),
];

const REGIONS: [&str; 2] = ["us-west-2", "us-east-1"];

#[derive(Debug, Clone)]
pub struct ChaosConfig {
    pub seed: u64,
    /// How long faults are injected.
    pub fault_phase: Duration,
    /// Upper bound of an injected per-call latency.
    pub max_latency_ms: u64,
    /// A scenario is replaced after this long.
    pub scenario_every: Duration,
    /// The controller is killed after a random time in this range.
    pub restart_every: (Duration, Duration),
    pub quota_scale: f64,
    /// Give up waiting for convergence after the faults stop.
    pub converge_timeout: Duration,
}

impl ChaosConfig {
    pub fn new(quick: bool, seed: u64) -> Self {
        if quick {
            Self {
                seed,
                fault_phase: Duration::from_secs(60),
                max_latency_ms: 3_000,
                scenario_every: Duration::from_secs(12),
                restart_every: (Duration::from_secs(4), Duration::from_secs(15)),
                quota_scale: 10.0,
                converge_timeout: Duration::from_secs(90),
            }
        } else {
            Self {
                seed,
                fault_phase: Duration::from_secs(6 * 60),
                max_latency_ms: 30_000,
                scenario_every: Duration::from_secs(30),
                restart_every: (Duration::from_secs(10), Duration::from_secs(60)),
                quota_scale: 10.0,
                converge_timeout: Duration::from_secs(120),
            }
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct ChaosReport {
    pub seed: u64,
    pub minutes: f64,
    pub faults: usize,
    pub restarts: usize,
    pub scenarios: usize,
    pub observations: usize,
    pub invariant_violations: usize,
    pub duplicate_creations: usize,
    /// Seconds from `DELETE /_emulator/faults` to everything Ready with the live split as declared
    /// (None: not within the timeout).
    pub converge_after_faults_s: Option<f64>,
    /// Declared agents seen in their group (the membership invariant had something to guard).
    pub declared_agents_seen: usize,
    /// Distinct live splits (telephony, agents) of the groups observed (the scenarios moved calls).
    pub splits_seen: usize,
    /// The first violations seen (seconds since the start, what).
    pub first_violations: Vec<String>,
    /// Objects not Ready at the end (when it did not converge).
    pub not_ready: Vec<String>,
}

impl ChaosReport {
    pub fn json(&self) -> Value {
        json!({
            "minutes": (self.minutes * 100.0).round() / 100.0,
            "faults": self.faults,
            "restarts": self.restarts,
            "invariant_violations": self.invariant_violations,
            "duplicate_creations": self.duplicate_creations,
            "converge_after_faults_s": self.converge_after_faults_s.map(|s| (s * 100.0).round() / 100.0),
            "seed": self.seed,
            "scenarios": self.scenarios,
            "observations": self.observations,
            "declared_agents_seen": self.declared_agents_seen,
            "splits_seen": self.splits_seen,
            "first_violations": self.first_violations,
        })
    }
}

/// The seed from `CONNECT_GR_CHAOS_SEED`, else a random one.
pub fn seed_from_env() -> u64 {
    std::env::var("CONNECT_GR_CHAOS_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand::random)
}

/// Writes `chaos.json` to `$CARGO_TARGET_DIR/bench` (else `target/bench`), as the benches do.
pub fn write_report(report: &ChaosReport) -> anyhow::Result<std::path::PathBuf> {
    let dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target"))
        .join("bench");
    std::fs::create_dir_all(&dir)?;
    let path = dir.join("chaos.json");
    std::fs::write(&path, serde_json::to_string_pretty(&report.json())? + "\n")?;
    Ok(path)
}

/// A minimal HTTP/1.1 call to the emulator's control endpoints.
async fn http(addr: &str, method: &str, path: &str, body: Option<&Value>) -> anyhow::Result<Value> {
    let mut s = tokio::net::TcpStream::connect(addr).await?;
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let req = format!(
        "{method} {path} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).await?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).await?;
    let raw = String::from_utf8_lossy(&raw);
    let (head, body) = raw
        .split_once("\r\n\r\n")
        .ok_or_else(|| anyhow::anyhow!("malformed response"))?;
    anyhow::ensure!(head.starts_with("HTTP/1.1 200"), "{method} {path}: {head}");
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(body)
    } else {
        body.to_string()
    };
    Ok(serde_json::from_str(&body)?)
}

fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = s.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        s = rest[n..].trim_start_matches("\r\n");
    }
    out
}

fn engine(endpoint: &str, scale: f64) -> Engine {
    let quotas = SchedulerConfig {
        scale,
        ..SchedulerConfig::from_env()
    };
    let connect = new_connect(
        SdkConnectConfig {
            endpoint_url: Some(endpoint.to_string()),
            max_attempts: None,
        },
        Scheduler::new(quotas.clone()),
    );
    let mut engine = Engine::new(connect, Duration::from_secs(30)).with_sweep_budget(&quotas);
    engine.batch_window = Duration::from_secs(2);
    engine
}

/// A scenario with short pauses, every step approved, and `resume` set to `resume`.
fn scenario_yaml(text: &str, resume: usize) -> String {
    text.replace("pauseSeconds: 120", "pauseSeconds: 1").replacen(
        "metadata:\n",
        &format!(
            "metadata:\n  annotations:\n    connectgr.io/approve: all\n    connectgr.io/resume: \"{resume}\"\n"
        ),
        1,
    )
}

/// What the manifests declare (the explicit users of each membership, allowTelephonyWithoutAgents).
fn declared(world: &World) -> Vec<DeclaredGroup> {
    let mut out: BTreeMap<String, DeclaredGroup> = BTreeMap::new();
    let group_name = |r: &str| r.to_string();
    for m in world.memberships.lock().clone() {
        let name = group_name(&m.spec.group_ref.name);
        let d = out.entry(name.clone()).or_insert_with(|| DeclaredGroup {
            name,
            ..Default::default()
        });
        d.members.extend(m.spec.users.iter().cloned());
    }
    for t in world.distributions.lock().clone() {
        let name = group_name(&t.spec.group_ref.name);
        let d = out.entry(name.clone()).or_insert_with(|| DeclaredGroup {
            name,
            ..Default::default()
        });
        d.allow_telephony_without_agents = t.spec.allow_telephony_without_agents;
    }
    out.into_values().collect()
}

/// The object names of the groups: (the default group's, Connect name -> object name).
fn group_names(world: &World) -> (Option<String>, BTreeMap<String, String>) {
    let groups = world.groups.lock();
    let default = groups
        .iter()
        .find(|g| g.spec.default)
        .and_then(|g| g.metadata.name.clone());
    let by_connect_name = groups
        .iter()
        .filter(|g| !g.spec.default)
        .filter_map(|g| {
            let meta = g.metadata.name.clone()?;
            Some((g.spec.name.clone().unwrap_or_else(|| meta.clone()), meta))
        })
        .collect();
    (default, by_connect_name)
}

/// The live state's groups (named by their objects' names where one declares them), members as
/// usernames.
fn observed(state: &Value, world: &World) -> Observed {
    let (default, by_connect_name) = group_names(world);
    let usernames: BTreeMap<&str, &str> = state["users"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|u| Some((u["id"].as_str()?, u["username"].as_str()?)))
        .collect();
    let split = |v: &Value| -> BTreeMap<String, u32> {
        v.as_array()
            .into_iter()
            .flatten()
            .filter_map(|e| {
                Some((
                    e["region"].as_str()?.to_string(),
                    e["percentage"].as_u64()? as u32,
                ))
            })
            .collect()
    };
    let groups = state["trafficDistributionGroups"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|g| g["status"].as_str() != Some("DELETION_IN_PROGRESS"))
        .map(|g| ObservedGroup {
            id: g["id"].as_str().unwrap_or_default().to_string(),
            name: match (g["isDefault"].as_bool(), &default) {
                (Some(true), Some(d)) => d.clone(),
                _ => {
                    let n = g["name"].as_str().unwrap_or_default();
                    by_connect_name
                        .get(n)
                        .cloned()
                        .unwrap_or_else(|| n.to_string())
                }
            },
            telephony: split(&g["telephony"]),
            agents: split(&g["agents"]),
            members: g["users"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|u| u.as_str())
                .map(|id| usernames.get(id).copied().unwrap_or(id).to_string())
                .collect(),
        })
        .collect();
    Observed { groups }
}

/// The live split of the distribution's group equals its spec.
fn split_as_declared(world: &World, state: &Value) -> bool {
    let Some(td) = world.distributions.lock().first().cloned() else {
        return true;
    };
    let name = td.spec.group_ref.name.clone();
    let obs = observed(state, world);
    let Some(g) = obs.groups.iter().find(|g| g.name == name) else {
        return false;
    };
    // A part that is not declared is left as it is.
    let matches = |want: &Option<BTreeMap<String, i32>>, got: &BTreeMap<String, u32>| {
        want.as_ref().is_none_or(|m| {
            m.iter()
                .all(|(r, p)| got.get(r).copied() == Some(*p as u32))
        })
    };
    matches(&td.spec.telephony, &g.telephony) && matches(&td.spec.agents, &g.agents)
}

fn random_fault(rng: &mut StdRng, max_latency_ms: u64) -> Value {
    let region = REGIONS[rng.random_range(0..2)];
    match rng.random_range(0..4) {
        0 => json!({"region": region, "latencyMs": rng.random_range(200..=max_latency_ms)}),
        1 => {
            json!({"region": region, "errorRate": rng.random_range(0.2..0.8), "errorType": "InternalServiceException"})
        }
        2 => {
            json!({"region": region, "errorRate": rng.random_range(0.3..1.0), "errorType": "ThrottlingException"})
        }
        _ => json!({"region": region, "regionDown": true}),
    }
}

/// Runs the soak; prints the seed first.
pub async fn run(cfg: ChaosConfig, log: impl Fn(String)) -> anyhow::Result<ChaosReport> {
    log(format!(
        "chaos: seed {} (CONNECT_GR_CHAOS_SEED to replay)",
        cfg.seed
    ));
    let emu = connect_gr::emulator::start(EmulatorConfig {
        state: default_state_file(None),
        quotas: true,
        quota_scale: cfg.quota_scale,
        timings: Timings {
            replication_s: 0.5,
            ..Timings::default()
        },
        ..EmulatorConfig::default()
    })
    .await?;
    let addr = emu.addr.to_string();
    let endpoint = emu.endpoint_url();
    let world = World::default();
    for (name, text) in EXAMPLES {
        world.apply_yaml(text, name)?;
    }
    let t_start = Instant::now();
    let mut report = ChaosReport {
        seed: cfg.seed,
        ..Default::default()
    };
    let declared_groups = Cell::new(declared(&world));
    let checker = std::cell::RefCell::new(InvariantChecker::default());
    let violations =
        std::cell::RefCell::new(Vec::<(f64, connect_gr::plan::invariants::Violation)>::new());
    let observations = Cell::new(0usize);
    type Split = (String, Vec<(String, u32)>, Vec<(String, u32)>);
    let seen = std::cell::RefCell::new((
        std::collections::BTreeSet::<(String, String)>::new(),
        std::collections::BTreeSet::<Split>::new(),
    ));
    let stop_chaos = Cell::new(false);
    let stop_all = Cell::new(false);
    let mut rng = StdRng::seed_from_u64(cfg.seed);
    let mut ctl_rng = StdRng::seed_from_u64(cfg.seed ^ 0x5eed);

    // Warm start: everything Ready before the faults begin.
    let start_engine = engine(&endpoint, cfg.quota_scale);
    let progress = converge_until(
        &start_engine,
        &world,
        false,
        Duration::from_secs(180),
        |p| p.iter().all(|p| matches!(p.verdict, Verdict::Ready(_))),
        |_| {},
    )
    .await;
    drop(start_engine);
    anyhow::ensure!(
        progress
            .iter()
            .all(|p| matches!(p.verdict, Verdict::Ready(_))),
        "the examples did not converge before the faults: {progress:?}"
    );
    log(format!(
        "chaos: examples Ready after {:.1} s",
        t_start.elapsed().as_secs_f64()
    ));
    let chaos_start = Instant::now();

    let observer = async {
        while !stop_all.get() {
            if let Ok(state) = http(&addr, "GET", "/_emulator/state", None).await {
                let decl = declared_groups.take();
                let obs = observed(&state, &world);
                let found = checker.borrow_mut().check(&obs, &decl);
                let mut seen = seen.borrow_mut();
                for g in &obs.groups {
                    for d in decl.iter().filter(|d| d.name == g.name) {
                        let both = d.members.intersection(&g.members);
                        seen.0.extend(both.map(|a| (g.name.clone(), a.clone())));
                    }
                    let v = |m: &BTreeMap<String, u32>| m.clone().into_iter().collect();
                    seen.1
                        .insert((g.name.clone(), v(&g.telephony), v(&g.agents)));
                }
                declared_groups.set(decl);
                observations.set(observations.get() + 1);
                let t = t_start.elapsed().as_secs_f64();
                violations
                    .borrow_mut()
                    .extend(found.into_iter().map(|v| (t, v)));
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    };
    let controller = async {
        let mut restarts = 0usize;
        while !stop_chaos.get() {
            let (lo, hi) = cfg.restart_every;
            let life = Duration::from_millis(
                ctl_rng.random_range(lo.as_millis() as u64..=hi.as_millis() as u64),
            );
            let e = engine(&endpoint, cfg.quota_scale);
            world.failures.lock().clear();
            world.due.lock().clear();
            // Killed at the end of its life (or when the faults stop): the future is dropped
            // wherever it is.
            let stopped = async {
                while !stop_chaos.get() {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            };
            tokio::select! {
                _ = converge_until(&e, &world, false, life, |_| false, |_| {}) => {}
                _ = stopped => {}
            }
            restarts += 1;
        }
        restarts
    };
    let faults_and_scenarios = async {
        let mut faults = 0usize;
        let mut scenarios = 0usize;
        let mut next_scenario = Instant::now();
        while chaos_start.elapsed() < cfg.fault_phase {
            if Instant::now() >= next_scenario {
                let (name, text) = SCENARIOS[scenarios % SCENARIOS.len()];
                scenarios += 1;
                world.apply_yaml(&scenario_yaml(text, scenarios), name)?;
                declared_groups.set(declared(&world));
                next_scenario = Instant::now() + cfg.scenario_every;
            }
            let _ = http(&addr, "DELETE", "/_emulator/faults", None).await;
            let n = rng.random_range(1..=2);
            for _ in 0..n {
                let f = random_fault(&mut rng, cfg.max_latency_ms);
                http(&addr, "POST", "/_emulator/faults", Some(&f)).await?;
                faults += 1;
            }
            let hold = rng.random_range(1_000..=6_000);
            tokio::time::sleep(Duration::from_millis(hold)).await;
            // Now and then a quiet spell, so the rollouts can make progress.
            if rng.random_bool(0.3) {
                let _ = http(&addr, "DELETE", "/_emulator/faults", None).await;
                tokio::time::sleep(Duration::from_millis(rng.random_range(1_000..=4_000))).await;
            }
        }
        http(&addr, "DELETE", "/_emulator/faults", None).await?;
        let faults_off = Instant::now();
        stop_chaos.set(true);
        anyhow::Ok((faults, scenarios, faults_off))
    };
    let chaos = async {
        let (restarts, fs) = tokio::join!(controller, faults_and_scenarios);
        (restarts, fs)
    };
    let converge = async {
        let (restarts, fs) = chaos.await;
        let (faults, scenarios, faults_off) = fs?;
        // Faults are off: the last scenario again (resumed), and a fresh controller.
        let (name, text) = SCENARIOS[scenarios.saturating_sub(1) % SCENARIOS.len()];
        world.apply_yaml(&scenario_yaml(text, scenarios + 1), name)?;
        declared_groups.set(declared(&world));
        let e = engine(&endpoint, cfg.quota_scale);
        world.failures.lock().clear();
        let live = std::cell::RefCell::new(Value::Null);
        let converged = std::cell::RefCell::new(None);
        let done = |p: &[connect_gr::local::Progress]| {
            p.iter().all(|p| matches!(p.verdict, Verdict::Ready(_)))
        };
        let waiter = async {
            // Ready by the runner and the live split as declared, checked once a second.
            loop {
                if let Ok(state) = http(&addr, "GET", "/_emulator/state", None).await {
                    *live.borrow_mut() = state;
                }
                if converged.borrow().is_some() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
        };
        let runner = async {
            let deadline = faults_off + cfg.converge_timeout;
            loop {
                let left = deadline.saturating_duration_since(Instant::now());
                let p = converge_until(&e, &world, false, left, done, |_| {}).await;
                let ready = done(&p) && p.len() == world.keys(false).len();
                let split_ok = split_as_declared(&world, &live.borrow());
                if (ready && split_ok) || Instant::now() >= deadline {
                    *converged.borrow_mut() =
                        Some((ready && split_ok, faults_off.elapsed().as_secs_f64(), p));
                    break;
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        };
        tokio::join!(waiter, runner);
        stop_all.set(true);
        let (ok, secs, progress) = converged.into_inner().expect("set by the runner");
        anyhow::Ok((restarts, faults, scenarios, ok, secs, progress))
    };
    let (result, ()) = tokio::join!(converge, observer);
    let (restarts, faults, scenarios, ok, secs, progress) = result?;
    emu.shutdown().await;
    let violations = violations.into_inner();
    report.minutes = chaos_start.elapsed().as_secs_f64() / 60.0;
    report.faults = faults;
    report.restarts = restarts;
    report.scenarios = scenarios;
    report.observations = observations.get();
    let (agents_seen, splits_seen) = seen.into_inner();
    report.declared_agents_seen = agents_seen.len();
    report.splits_seen = splits_seen.len();
    report.duplicate_creations = violations
        .iter()
        .filter(|(_, v)| v.is_duplicate_creation())
        .count();
    report.invariant_violations = violations.len() - report.duplicate_creations;
    report.first_violations = violations
        .iter()
        .take(10)
        .map(|(t, v)| format!("{t:.1} s: {v:?}"))
        .collect();
    report.converge_after_faults_s = ok.then_some(secs);
    report.not_ready = progress
        .iter()
        .filter(|p| !matches!(p.verdict, Verdict::Ready(_)))
        .map(|p| format!("{} {}: {:?}", p.kind, p.name, p.verdict))
        .collect();
    Ok(report)
}
