//! The Connect Global Resiliency emulator. Independent of `api`, `plan`, `connect`, `reconcile`:
//! it implements Connect's behaviour on its own (see docs/emulator.md and the rule ids of
//! connect-gr-spec.md).

pub mod clock;
pub mod entities;
pub mod error;
pub mod flows;
pub mod model;
pub mod ops;
pub mod page;
pub mod presence;
pub mod quota;
pub mod roster;
pub mod schema;
pub mod server;
pub mod validate;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use parking_lot::Mutex;

pub use model::{
    DEFAULT_ACCOUNT, DEFAULT_INSTANCE_ID, StateFile, Timings, default_state_file,
    hierarchy_group_id, phone_number_id, routing_profile_id, security_profile_id, user_id,
};

#[derive(clap::Args, Debug, Clone)]
pub struct EmulatorArgs {
    /// Address to listen on (one port serves every region).
    #[arg(long, default_value = "127.0.0.1:4599")]
    pub listen: String,
    /// YAML state file (accounts, instances, users, numbers) instead of the built-in default.
    #[arg(long)]
    pub state: Option<PathBuf>,
    /// Replace the 300 generated agents of the default state by N agents (agent00001..).
    #[arg(long)]
    pub users: Option<usize>,
    /// API quotas (token buckets per account, region and operation): on | off.
    #[arg(long, default_value = "on", value_parser = ["on", "off"])]
    pub quotas: String,
    /// Multiplies every quota rate and burst.
    #[arg(long, env = "CONNECT_GR_BENCH_QUOTA_SCALE", default_value_t = 1.0)]
    pub quota_scale: f64,
    /// Virtual clock speed (virtual seconds per real second).
    #[arg(long, default_value_t = 1.0)]
    pub speed: f64,
    /// Seconds until a replication completes.
    #[arg(long, default_value_t = 2.0)]
    pub replication_seconds: f64,
    /// Seconds a TDG stays CREATION_IN_PROGRESS.
    #[arg(long, default_value_t = 1.0)]
    pub tdg_create_seconds: f64,
    /// Seconds a TDG stays UPDATE_IN_PROGRESS after UpdateTrafficDistribution.
    #[arg(long, default_value_t = 1.0)]
    pub tdg_update_seconds: f64,
    /// Seconds a TDG stays PENDING_DELETION before it is gone.
    #[arg(long, default_value_t = 1.0)]
    pub tdg_delete_seconds: f64,
    /// Seconds a phone number claim (or move) stays IN_PROGRESS.
    #[arg(long, default_value_t = 1.0)]
    pub claim_seconds: f64,
    /// Seconds until a newly created user is mirrored to the other region.
    #[arg(long, default_value_t = 2.0)]
    pub user_mirror_seconds: f64,
    /// Extra replication pair SOURCE:REPLICA (repeatable), added to the R1 table.
    #[arg(long = "region-pair")]
    pub region_pairs: Vec<String>,
    /// Maximum users per instance (CreateUser answers LimitExceededException beyond).
    #[arg(long, default_value_t = 20_000)]
    pub max_users: usize,
    /// Append every API response (operation, status, error type, body) as JSON lines to this file.
    #[arg(long)]
    pub record_responses: Option<PathBuf>,
}

/// Configuration of an emulator started in-process with [`start`].
#[derive(Debug, Clone)]
pub struct EmulatorConfig {
    pub listen: SocketAddr,
    /// The starting state (default: the built-in fixture, see [`default_state_file`]).
    pub state: StateFile,
    pub quotas: bool,
    pub quota_scale: f64,
    pub speed: f64,
    pub timings: Timings,
    pub region_pairs: Vec<(String, String)>,
    pub max_users: usize,
    /// Oldest calls are dropped beyond this many log entries.
    pub max_calls: usize,
    pub record_responses: Option<PathBuf>,
}

impl Default for EmulatorConfig {
    fn default() -> Self {
        Self {
            listen: ([127, 0, 0, 1], 0).into(),
            state: default_state_file(None),
            quotas: true,
            quota_scale: std::env::var("CONNECT_GR_BENCH_QUOTA_SCALE")
                .ok()
                .and_then(|s| s.parse().ok())
                .unwrap_or(1.0),
            speed: 1.0,
            timings: Timings::default(),
            region_pairs: vec![],
            max_users: 20_000,
            max_calls: 1_000_000,
            record_responses: None,
        }
    }
}

impl EmulatorConfig {
    pub fn from_args(args: &EmulatorArgs) -> anyhow::Result<Self> {
        let state = match &args.state {
            Some(p) => {
                let text = std::fs::read_to_string(p)
                    .with_context(|| format!("reading {}", p.display()))?;
                serde_norway::from_str(&text)
                    .with_context(|| format!("parsing state file {}", p.display()))?
            }
            None => default_state_file(args.users),
        };
        let listen: SocketAddr = args
            .listen
            .parse()
            .with_context(|| format!("--listen {:?} is not an address (HOST:PORT)", args.listen))?;
        let mut region_pairs = Vec::new();
        for p in &args.region_pairs {
            let (a, b) = p
                .split_once(':')
                .with_context(|| format!("--region-pair {p:?} must be SOURCE:REPLICA"))?;
            region_pairs.push((a.to_string(), b.to_string()));
        }
        Ok(Self {
            listen,
            state,
            quotas: args.quotas == "on",
            quota_scale: args.quota_scale,
            speed: args.speed,
            timings: Timings {
                replication_s: args.replication_seconds,
                tdg_create_s: args.tdg_create_seconds,
                tdg_update_s: args.tdg_update_seconds,
                tdg_delete_s: args.tdg_delete_seconds,
                phone_claim_s: args.claim_seconds,
                user_mirror_s: args.user_mirror_seconds,
            },
            region_pairs,
            max_users: args.max_users,
            max_calls: 1_000_000,
            record_responses: args.record_responses.clone(),
        })
    }
}

/// A running emulator. Stops when dropped or on [`RunningEmulator::shutdown`].
pub struct RunningEmulator {
    pub addr: SocketAddr,
    app: server::App,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl RunningEmulator {
    pub fn endpoint_url(&self) -> String {
        format!("http://{}", self.addr)
    }
    /// Advances the virtual clock.
    pub fn advance(&self, seconds: f64) {
        self.app.inner.lock().clock.advance(seconds);
    }
    /// The whole state as JSON (same as `GET /_emulator/state`).
    pub fn state_json(&self) -> serde_json::Value {
        let g = self.app.inner.lock();
        g.state.dump(g.clock.now(), &self.app.timings)
    }
    /// The call log (same as `GET /_emulator/calls`).
    pub fn calls(&self) -> Vec<server::Call> {
        self.app.inner.lock().calls.clone()
    }
    /// Adds a fault (same as `POST /_emulator/faults`), e.g. a region that is down.
    pub fn add_fault(&self, fault: server::Fault) {
        self.app.inner.lock().faults.push(fault);
    }
    /// Back to the starting state.
    pub fn reset(&self) -> anyhow::Result<()> {
        self.app.reset()
    }
    pub async fn shutdown(mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.task.take() {
            let _ = t.await;
        }
    }
}

impl Drop for RunningEmulator {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
    }
}

/// Starts the emulator on `config.listen` (port 0: any free port) in the current tokio runtime.
pub async fn start(config: EmulatorConfig) -> anyhow::Result<RunningEmulator> {
    let clock = clock::VirtualClock::new(config.speed);
    let now = clock.now();
    let state = model::State::build(&config.state, &config.region_pairs, now, &config.timings)?;
    let recorder = match &config.record_responses {
        Some(p) => {
            if let Some(dir) = p.parent() {
                std::fs::create_dir_all(dir).ok();
            }
            Some(Mutex::new(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(p)
                    .with_context(|| format!("opening {}", p.display()))?,
            ))
        }
        None => None,
    };
    let app = Arc::new(server::Shared {
        inner: Mutex::new(server::Inner {
            state,
            clock,
            quotas: quota::Quotas::new(config.quotas, config.quota_scale),
            faults: vec![],
            calls: vec![],
        }),
        file: config.state.clone(),
        extra_pairs: config.region_pairs.clone(),
        timings: config.timings,
        max_users: config.max_users,
        max_calls: config.max_calls.max(10),
        recorder,
    });
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("binding {}", config.listen))?;
    let addr = listener.local_addr()?;
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let router = server::router(app.clone());
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, router)
            .with_graceful_shutdown(async move {
                let _ = rx.await;
            })
            .await;
    });
    Ok(RunningEmulator {
        addr,
        app,
        stop: Some(tx),
        task: Some(task),
    })
}

pub async fn run(args: EmulatorArgs) -> anyhow::Result<()> {
    let config = EmulatorConfig::from_args(&args)?;
    let emu = start(config).await?;
    {
        use std::io::Write;
        let mut out = std::io::stdout().lock();
        writeln!(out, "listening on http://{}", emu.addr)?;
        out.flush()?;
    }
    tokio::signal::ctrl_c().await.ok();
    emu.shutdown().await;
    Ok(())
}
