//! `connect-gr controller`: wiring of the five controllers, the shared Connect client and
//! scheduler, the metrics/health server, and shutdown on SIGTERM/SIGINT.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::Router;
use axum::http::StatusCode;
use axum::routing::get;

use crate::api::{RegionPair, RegionPairs};
use crate::connect::{Scheduler, SchedulerConfig, SdkConnect, SdkConnectConfig};
use crate::reconcile::{Engine, k8s};
use crate::writer_lease::{LeaseTable, WriterLease};

#[derive(clap::Args, Debug, Clone)]
pub struct ControllerArgs {
    /// Drift-check period per object in steady state (shorter while something is in progress).
    #[arg(long, env = "CONNECT_GR_RESYNC_INTERVAL", default_value = "5m", value_parser = parse_at_least_1s)]
    pub resync_interval: Duration,
    /// What to do with a change made outside the controller (console, AWS CLI) to a
    /// TrafficDistribution or AgentMembership whose spec.driftPolicy is not set: `Correct`
    /// (report it, leave it alone for spec.driftPauseSeconds, then restore the spec) or `Report`
    /// (report it, never correct it).
    #[arg(long, env = "CONNECT_GR_DRIFT_POLICY", default_value = "Correct")]
    pub drift_policy: crate::api::DriftPolicy,
    /// Address of /metrics, /healthz and /readyz.
    #[arg(long, env = "CONNECT_GR_METRICS_ADDR", default_value = "0.0.0.0:8080")]
    pub metrics_addr: SocketAddr,
    /// Extra replication pairs (rule R1), e.g. `us-east-2<->us-west-1`.
    #[arg(
        long = "region-pair",
        env = "CONNECT_GR_REGION_PAIRS",
        value_delimiter = ','
    )]
    pub region_pairs: Vec<RegionPair>,
    /// Watch only this namespace (default: all namespaces).
    #[arg(long, env = "CONNECT_GR_NAMESPACE")]
    pub namespace: Option<String>,
    /// Longest a bulk membership batch runs before its progress is written to status.
    #[arg(long, env = "CONNECT_GR_BATCH_WINDOW", default_value = "20s", value_parser = humantime::parse_duration)]
    pub batch_window: Duration,
    /// Reconciles running at once per kind. The Connect quota, not this, bounds throughput; a
    /// small number bounds memory (each membership batch keeps several calls in flight).
    #[arg(long, env = "CONNECT_GR_CONCURRENCY", default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..))]
    pub concurrency: u16,
    /// Share of each Connect quota that background drift-check reads may use.
    #[arg(long, env = "CONNECT_GR_BACKGROUND_BUDGET", default_value_t = 0.25, value_parser = crate::connect::parse_background_budget)]
    pub background_budget: f64,
    /// Raised Connect quota for an operation, `Operation=RATE[/BURST]` per second (repeatable;
    /// e.g. `AssociateTrafficDistributionGroupUser=10/25`). Default: the AWS defaults (rule Q1).
    #[arg(
        long = "quota",
        env = "CONNECT_GR_QUOTAS",
        value_delimiter = ',',
        value_parser = crate::connect::parse_quota_override
    )]
    pub quotas: Vec<(String, (f64, f64))>,
    /// Read Connect and report, write nothing: every object behaves as if annotated
    /// `connectgr.io/management-policy: Observe` (the calls it would make are in `status.plan`).
    #[arg(long, env = "CONNECT_GR_OBSERVE_ONLY", default_value_t = false)]
    pub observe_only: bool,
    /// Run several replicas: only the holder of the Lease `connect-gr` reconciles.
    #[arg(long, env = "CONNECT_GR_LEADER_ELECT", default_value_t = false)]
    pub leader_elect: bool,
    /// Namespace of the Lease (default: POD_NAMESPACE, else --namespace, else `default`).
    #[arg(long, env = "CONNECT_GR_LEADER_ELECTION_NAMESPACE")]
    pub leader_election_namespace: Option<String>,
    /// How long a Lease that is not renewed keeps others from taking over.
    #[arg(long, env = "CONNECT_GR_LEADER_ELECTION_LEASE_DURATION", default_value = "15s", value_parser = parse_lease_duration)]
    pub leader_election_lease_duration: Duration,
    /// Hosts webhook gates may call: a comma list of host globs (`*` is one or more characters);
    /// a gate whose host matches none is refused (Stalled, reason WebhookHostNotAllowed).
    #[arg(
        long,
        env = "CONNECT_GR_ALLOWED_WEBHOOK_HOSTS",
        default_value = crate::plan::webhook_hosts::DEFAULT_ALLOWED_WEBHOOK_HOSTS
    )]
    pub allowed_webhook_hosts: crate::plan::webhook_hosts::AllowedHosts,
    /// This cluster's name in the writer lease (one writer across clusters).
    #[arg(long, env = "CONNECT_GR_CLUSTER_NAME")]
    pub cluster_name: Option<String>,
    /// DynamoDB table of the writer lease: every cluster runs the controller on the same
    /// manifests and only the holder of the lease writes to Connect; the others read and report.
    /// Created (partition key `name`) when missing. Unset: this controller always writes.
    #[arg(long, env = "CONNECT_GR_WRITER_LEASE_TABLE", requires = "cluster_name")]
    pub writer_lease_table: Option<String>,
    /// Region of the writer lease table (default: the standard AWS configuration).
    #[arg(long, env = "CONNECT_GR_WRITER_LEASE_REGION")]
    pub writer_lease_region: Option<String>,
    /// How long a writer lease that is not renewed keeps the other clusters from taking over.
    /// The holder stops writing a fifth of it (at least 1 s) before it can have expired.
    #[arg(long, env = "CONNECT_GR_WRITER_LEASE_DURATION", default_value = "15s", value_parser = parse_lease_duration)]
    pub writer_lease_duration: Duration,
}

/// A duration of at least one second (`--resync-interval`): anything shorter is refused when the
/// arguments are parsed, with the reason, instead of failing later on the controller path.
pub fn parse_at_least_1s(s: &str) -> Result<Duration, String> {
    let d = humantime::parse_duration(s).map_err(|e| e.to_string())?;
    if d < Duration::from_secs(1) {
        return Err(format!(
            "{s} is under 1s: the controller requeues and checks drift in whole seconds; use 1s or more"
        ));
    }
    Ok(d)
}

/// `--leader-election-lease-duration`: at least 3s, so that renewal (every third of it) and
/// its timeout fit inside the lease.
pub fn parse_lease_duration(s: &str) -> Result<Duration, String> {
    let d = humantime::parse_duration(s).map_err(|e| e.to_string())?;
    if d < Duration::from_secs(3) {
        return Err(format!(
            "{s} is under 3s: a lease must outlast a renewal and its timeout; use 3s or more"
        ));
    }
    Ok(d)
}

/// Name of the Lease replicas campaign for.
pub const LEASE_NAME: &str = "connect-gr";

/// This replica's identity in the Lease: the pod name (downward API) or host name, and the pid.
fn identity() -> String {
    let host = std::env::var("POD_NAME")
        .or_else(|_| std::env::var("HOSTNAME"))
        .ok()
        .filter(|h| !h.is_empty())
        .or_else(|| {
            std::fs::read_to_string("/proc/sys/kernel/hostname")
                .ok()
                .map(|h| h.trim().to_string())
        })
        .unwrap_or_else(|| "connect-gr".into());
    format!("{host}_{}", std::process::id())
}

/// Installs the process-wide TLS provider (kube and the AWS SDK enable different rustls backends).
pub fn install_crypto() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
}

/// Initialises tracing from `RUST_LOG` (default info).
pub fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| "info,aws_config=warn,aws_smithy_runtime=warn".into());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

/// /metrics, /healthz, /readyz.
pub async fn serve_http(addr: SocketAddr, ready: Arc<AtomicBool>) -> anyhow::Result<()> {
    let app = Router::new()
        .route(
            "/metrics",
            get(|| async {
                (
                    [(
                        "content-type",
                        "application/openmetrics-text; version=1.0.0; charset=utf-8",
                    )],
                    crate::metrics::METRICS.encode(),
                )
            }),
        )
        .route("/healthz", get(|| async { "ok" }))
        .route(
            "/readyz",
            get(move || {
                let ready = ready.clone();
                async move {
                    if ready.load(Ordering::Relaxed) {
                        (StatusCode::OK, "ready")
                    } else {
                        (StatusCode::SERVICE_UNAVAILABLE, "starting")
                    }
                }
            }),
        );
    let listener = tokio::net::TcpListener::bind(addr).await?;
    tracing::info!(%addr, "serving /metrics, /healthz, /readyz");
    axum::serve(listener, app).await?;
    Ok(())
}

/// SIGTERM or SIGINT.
async fn shutdown_signal() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("SIGTERM handler");
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}

/// The controller. `main` fixes malloc's parameters ([`release_large_buffers`]) before the
/// runtime's threads start.
pub async fn run(args: ControllerArgs) -> anyhow::Result<()> {
    install_crypto();
    init_tracing();
    let ready = Arc::new(AtomicBool::new(false));
    let http = tokio::spawn(serve_http(args.metrics_addr, ready.clone()));
    let client = kube::Client::try_default().await?;
    // Fail early and clearly when the CRDs are missing.
    let probe: kube::Api<crate::api::TrafficDistribution> = match &args.namespace {
        Some(ns) => kube::Api::namespaced(client.clone(), ns),
        None => kube::Api::all(client.clone()),
    };
    if let Err(e) = probe.list(&kube::api::ListParams::default().limit(1)).await {
        anyhow::bail!("cannot list TrafficDistributions (are the CRDs in crds/ applied?): {e}");
    }
    let quotas = SchedulerConfig {
        background_budget: args.background_budget,
        overrides: args.quotas.iter().cloned().collect(),
        ..SchedulerConfig::from_env()
    };
    let writer = match &args.writer_lease_table {
        Some(table) => {
            let cluster = args.cluster_name.clone().unwrap_or_default();
            let lease = Arc::new(WriterLease::new(&cluster, args.writer_lease_duration));
            let table = LeaseTable::from_env(table, args.writer_lease_region.as_deref()).await;
            table
                .ensure()
                .await
                .map_err(|e| anyhow::anyhow!("writer lease table: {e}"))?;
            crate::metrics::writer(&cluster, false);
            Some((lease, table))
        }
        None => None,
    };
    let sdk = SdkConnect::new(SdkConnectConfig::default(), Scheduler::new(quotas.clone()));
    let connect: Arc<dyn crate::connect::ConnectApi> = match &writer {
        Some((lease, _)) => Arc::new(sdk.with_fence(crate::writer_lease::fence(lease.clone()))),
        None => Arc::new(sdk),
    };
    let mut engine = Engine::new(connect, args.resync_interval).with_sweep_budget(&quotas);
    engine.pairs = RegionPairs::with_extra(args.region_pairs.clone());
    engine.batch_window = args.batch_window;
    engine.drift_policy = args.drift_policy;
    engine.denylist = crate::reconcile::denylist::backend_from_env().await;
    engine.observe_only = args.observe_only;
    engine.webhook_hosts = Arc::new(args.allowed_webhook_hosts.clone());
    engine.writer = writer.as_ref().map(|(lease, _)| lease.clone());
    // A standby replica is healthy and ready: it serves probes and metrics while it waits.
    ready.store(true, Ordering::Relaxed);
    let elector = args.leader_elect.then(|| {
        let ns = args
            .leader_election_namespace
            .clone()
            .or_else(|| {
                std::env::var("POD_NAMESPACE")
                    .ok()
                    .filter(|n| !n.is_empty())
            })
            .or_else(|| args.namespace.clone())
            .unwrap_or_else(|| "default".into());
        crate::leader::LeaderElector::new(
            kube::Api::namespaced(client.clone(), &ns),
            LEASE_NAME,
            &identity(),
            args.leader_election_lease_duration,
        )
    });
    let mut acquired = std::time::Duration::ZERO;
    if let Some(e) = &elector {
        tokio::select! {
            sent = e.acquire() => acquired = sent,
            _ = shutdown_signal() => {
                tracing::info!("stopped before becoming leader");
                return Ok(());
            }
        }
    }
    crate::metrics::METRICS.leader.set(1);
    tracing::info!(resync = ?args.resync_interval, drift_policy = %args.drift_policy, "connect-gr controller started");
    let hold = async {
        match &elector {
            Some(e) => e.hold(acquired).await,
            None => std::future::pending().await,
        }
    };
    let competing = writer
        .as_ref()
        .map(|(lease, table)| tokio::spawn(crate::writer_lease::run(lease.clone(), table.clone())));
    let result = tokio::select! {
        _ = k8s::run(client, Arc::new(engine), args.namespace.clone(), args.concurrency) => Ok(()),
        r = http => r?,
        _ = hold => Err(anyhow::anyhow!("lost leadership; exiting so a standby takes over")),
    };
    crate::metrics::METRICS.leader.set(0);
    if let Some(task) = competing {
        task.abort();
    }
    if let Some((lease, table)) = &writer {
        // Planned handover: another cluster takes over at once instead of after the lease.
        crate::writer_lease::release(lease, table).await;
    }
    if result.is_ok()
        && let Some(e) = &elector
    {
        e.release().await;
    }
    tracing::info!("connect-gr controller stopped");
    result
}

/// glibc's malloc raises its mmap threshold each time a large block is freed, so after the first
/// big response the SDK's body buffers (a page of 1,000 users is ~300 KB) come from the arenas and
/// stay resident, fragmented, after they are freed. A fixed threshold keeps blocks over 64 KiB in
/// their own mappings, returned when freed, and trims the arenas' tops above 128 KiB.
/// `scripts/controller-rss.sh`: heap 17 -> 10 MiB, peak RSS 34 -> 27 MiB. Called before any
/// thread starts (a thread's arena is fixed at its first allocation). The glibc environment
/// (`MALLOC_MMAP_THRESHOLD_`, `MALLOC_TRIM_THRESHOLD_`, `MALLOC_ARENA_MAX`, `GLIBC_TUNABLES`) wins
/// when set.
pub fn release_large_buffers() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        let set = |name: &str| std::env::var_os(name).is_some();
        if set("MALLOC_MMAP_THRESHOLD_")
            || set("MALLOC_TRIM_THRESHOLD_")
            || set("MALLOC_ARENA_MAX")
            || set("GLIBC_TUNABLES")
        {
            return;
        }
        // SAFETY: mallopt only changes malloc's parameters; it is thread-safe in glibc.
        unsafe {
            libc::mallopt(libc::M_MMAP_THRESHOLD, 64 * 1024);
            libc::mallopt(libc::M_TRIM_THRESHOLD, 128 * 1024);
            // glibc gives threads arenas of their own (up to 8 per core), each keeping what its
            // thread freed; the controller is I/O-bound and the per-thread caches serve most small
            // blocks without the arena's lock, so one arena costs no contention worth the
            // resident memory of more (`scripts/controller-rss-scale.sh 50000`: peak 48.5 MiB
            // with two arenas, 45.1 with one).
            libc::mallopt(libc::M_ARENA_MAX, 1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_resync_interval_under_one_second_is_refused_with_the_reason() {
        for bad in ["0s", "500ms", "999ms"] {
            let e = parse_at_least_1s(bad).unwrap_err();
            assert!(e.contains("under 1s"), "{bad}: {e}");
        }
        assert_eq!(parse_at_least_1s("1s"), Ok(Duration::from_secs(1)));
        assert_eq!(parse_at_least_1s("5m"), Ok(Duration::from_secs(300)));
        assert!(parse_at_least_1s("soon").is_err());
    }

    #[test]
    fn a_lease_too_short_for_a_renewal_and_its_timeout_is_refused() {
        assert!(parse_lease_duration("2s").unwrap_err().contains("under 3s"));
        assert_eq!(parse_lease_duration("15s"), Ok(Duration::from_secs(15)));
    }
}
