//! Shared by the benchmarks: environment, emulator + engine set-up, manifests, JSON output.
#![allow(dead_code)]

use std::path::PathBuf;
use std::time::Duration;

use connect_gr::connect::{Scheduler, SchedulerConfig, SdkConnectConfig, new_connect};
use connect_gr::emulator::{EmulatorConfig, RunningEmulator, Timings, default_state_file};
use connect_gr::local::World;
use connect_gr::reconcile::Engine;

pub const INSTANCE: &str = "4f5e3c1a-7b2d-4c8e-9a10-2b3c4d5e6f70";
pub const SOURCE: &str = "us-west-2";

/// Base objects: replica, default group, 50/50 distribution.
pub const BASE: &[(&str, &str)] = &[
    (
        "instance-replica.yaml",
        include_str!("../../deploy/examples/instance-replica.yaml"),
    ),
    (
        "tdg-default.yaml",
        include_str!("../../deploy/examples/tdg-default.yaml"),
    ),
    (
        "traffic-distribution.yaml",
        include_str!("../../deploy/examples/traffic-distribution.yaml"),
    ),
];

pub fn quick() -> bool {
    std::env::var("CONNECT_GR_BENCH_QUICK").is_ok_and(|v| v == "1")
}

/// `CONNECT_GR_BENCH_QUOTA_SCALE`, else the bench's default.
pub fn quota_scale(default: f64) -> f64 {
    std::env::var("CONNECT_GR_BENCH_QUOTA_SCALE")
        .ok()
        .and_then(|v| v.parse::<f64>().ok())
        .filter(|s| *s > 0.0)
        .unwrap_or(default)
}

/// Crypto provider and dummy credentials (the emulator accepts any key).
pub fn init() {
    connect_gr::controller::install_crypto();
    for (k, v) in [
        ("AWS_ACCESS_KEY_ID", "bench"),
        ("AWS_SECRET_ACCESS_KEY", "bench"),
        ("AWS_REGION", SOURCE),
    ] {
        if std::env::var_os(k).is_none() {
            // SAFETY: called first thing in main, before any other thread exists.
            unsafe { std::env::set_var(k, v) };
        }
    }
}

pub async fn emulator(agents: usize, scale: f64) -> anyhow::Result<RunningEmulator> {
    connect_gr::emulator::start(EmulatorConfig {
        state: default_state_file(Some(agents)),
        quotas: true,
        quota_scale: scale,
        timings: Timings {
            replication_s: 0.5,
            ..Timings::default()
        },
        ..EmulatorConfig::default()
    })
    .await
}

/// The engine the controller runs, with the same quota scale as the emulator.
pub fn engine(emu: &RunningEmulator, scale: f64, resync: Duration) -> Engine {
    engine_at(&emu.endpoint_url(), scale, resync)
}

/// The same, for an emulator at `endpoint`.
pub fn engine_at(endpoint: &str, scale: f64, resync: Duration) -> Engine {
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
    Engine::new(connect, resync).with_sweep_budget(&quotas)
}

/// The emulator as a separate process (`connect-gr emulator`), so that what this process
/// measures (CPU, RSS) is the controller's engine alone.
pub struct EmulatorProcess {
    child: std::process::Child,
    pub addr: String,
}

/// One entry of `GET /_emulator/calls`.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct CallRecord {
    #[serde(default)]
    pub region: String,
    pub operation: String,
    pub status: u16,
}

impl EmulatorProcess {
    pub fn spawn(agents: usize, scale: f64) -> anyhow::Result<Self> {
        Self::spawn_with(&["--users", &agents.to_string()], scale)
    }

    /// The same, with its starting state from a state file.
    pub fn spawn_with_state(state: &std::path::Path, scale: f64) -> anyhow::Result<Self> {
        let state = state.to_string_lossy();
        Self::spawn_with(&["--state", &state, "--max-users", "100000"], scale)
    }

    fn spawn_with(args: &[&str], scale: f64) -> anyhow::Result<Self> {
        use std::io::BufRead;
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_connect-gr"))
            .args(["emulator", "--listen", "127.0.0.1:0", "--quotas", "on"])
            .args(args)
            .args(["--quota-scale", &scale.to_string()])
            .args(["--replication-seconds", "0.5"])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::inherit())
            .spawn()?;
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().expect("piped stdout")).read_line(&mut line)?;
        let addr = line
            .trim()
            .strip_prefix("listening on http://")
            .ok_or_else(|| anyhow::anyhow!("unexpected first line from the emulator: {line:?}"))?
            .to_string();
        Ok(Self { child, addr })
    }

    pub fn endpoint_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Every call the emulator received, oldest first.
    pub fn calls(&self) -> anyhow::Result<Vec<CallRecord>> {
        self.calls_since(0)
    }

    /// The calls after the first `since` of the log.
    pub fn calls_since(&self, since: usize) -> anyhow::Result<Vec<CallRecord>> {
        use std::io::{Read, Write};
        let mut s = std::net::TcpStream::connect(&self.addr)?;
        write!(
            s,
            "GET /_emulator/calls?since={since} HTTP/1.1\r\nhost: {}\r\nconnection: close\r\n\r\n",
            self.addr
        )?;
        let mut raw = String::new();
        s.read_to_string(&mut raw)?;
        let (head, body) = raw
            .split_once("\r\n\r\n")
            .ok_or_else(|| anyhow::anyhow!("malformed response"))?;
        anyhow::ensure!(head.starts_with("HTTP/1.1 200"), "calls: {head}");
        Ok(serde_json::from_str(body)?)
    }
}

impl Drop for EmulatorProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn username(i: usize) -> String {
    format!("agent{i:05}")
}

/// `objects` Additive AgentMemberships on the default group sharing agents 1..=agents.
pub fn memberships_yaml(agents: usize, objects: usize) -> String {
    let mut out = String::new();
    let per = agents.div_ceil(objects);
    for m in 0..objects {
        let lo = m * per + 1;
        let hi = ((m + 1) * per).min(agents);
        out.push_str(&format!(
            "---\napiVersion: connectgr.io/v1alpha1\nkind: AgentMembership\nmetadata:\n  name: bench-agents-{m:02}\nspec:\n  groupRef:\n    name: support-default\n  mode: Additive\n  users:\n"
        ));
        for i in lo..=hi {
            out.push_str(&format!("    - {}\n", username(i)));
        }
    }
    out
}

/// Loads the base objects and reconciles until Ready.
pub async fn converge_base(engine: &Engine, world: &World) -> anyhow::Result<()> {
    for (name, text) in BASE {
        world.apply_yaml(text, name)?;
    }
    converge_all(engine, world, Duration::from_secs(120)).await
}

pub async fn converge_all(engine: &Engine, world: &World, timeout: Duration) -> anyhow::Result<()> {
    // `CONNECT_GR_BENCH_LOG=1`: each object's verdict as it changes, with the seconds since the
    // start (to see where a run that does not converge is stuck).
    let verbose = std::env::var("CONNECT_GR_BENCH_LOG").is_ok_and(|v| v == "1");
    let t0 = std::time::Instant::now();
    let log = |line: String| {
        if verbose {
            eprintln!("{:>8.1} s  {line}", t0.elapsed().as_secs_f64());
        }
    };
    let progress = connect_gr::local::converge(engine, world, false, timeout, log).await;
    let not_ready: Vec<String> = progress
        .iter()
        .filter(|p| !matches!(p.verdict, connect_gr::reconcile::Verdict::Ready(_)))
        .map(|p| format!("{} {}: {:?}", p.kind, p.name, p.verdict))
        .collect();
    if !not_ready.is_empty() {
        anyhow::bail!("did not converge: {}", not_ready.join("; "));
    }
    Ok(())
}

pub fn is_write(operation: &str) -> bool {
    [
        "Associate",
        "Disassociate",
        "Update",
        "Create",
        "Delete",
        "Replicate",
        "Claim",
        "Release",
        "Tag",
        "Untag",
    ]
    .iter()
    .any(|p| operation.starts_with(p))
}

/// Peak RSS of this process (VmHWM), MiB.
pub fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map(|kb| kb / 1024.0)
        .unwrap_or(0.0)
}

/// User + system CPU seconds of this process.
pub fn cpu_seconds() -> f64 {
    // SAFETY: getrusage fills the struct we pass.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

fn out_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target"))
        .join("bench")
}

/// Writes `target/bench/<name>.json` and prints it.
pub fn write_json(name: &str, value: &serde_json::Value) -> anyhow::Result<PathBuf> {
    let dir = out_dir();
    std::fs::create_dir_all(&dir)?;
    let path = dir.join(format!("{name}.json"));
    std::fs::write(&path, serde_json::to_string_pretty(value)? + "\n")?;
    println!("{name}: wrote {}", path.display());
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(path)
}

/// Prints target vs result; never fails the run.
pub fn check(label: &str, ok: bool, detail: String) {
    println!(
        "  target {label:<28} {detail:<40} {}",
        if ok { "met" } else { "MISSED" }
    );
}

pub fn round(x: f64, digits: i32) -> f64 {
    let f = 10f64.powi(digits);
    (x * f).round() / f
}

pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime")
}
