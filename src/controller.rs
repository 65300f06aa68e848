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
use crate::connect::{Scheduler, SchedulerConfig, SdkConnectConfig, new_connect};
use crate::reconcile::{Engine, k8s};

#[derive(clap::Args, Debug, Clone)]
pub struct ControllerArgs {
    /// Drift-check period per object in steady state (shorter while something is in progress).
    #[arg(long, env = "CONNECT_GR_RESYNC_INTERVAL", default_value = "5m", value_parser = humantime::parse_duration)]
    pub resync_interval: Duration,
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
    /// Share of each Connect quota that background drift-check reads may use.
    #[arg(long, env = "CONNECT_GR_BACKGROUND_BUDGET", default_value_t = 0.5)]
    pub background_budget: f64,
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
    let scheduler = Scheduler::new(SchedulerConfig {
        background_budget: args.background_budget,
        ..SchedulerConfig::from_env()
    });
    let connect = new_connect(SdkConnectConfig::default(), scheduler);
    let mut engine = Engine::new(connect, args.resync_interval);
    engine.pairs = RegionPairs::with_extra(args.region_pairs.clone());
    engine.batch_window = args.batch_window;
    engine.denylist = crate::reconcile::denylist::backend_from_env().await;
    ready.store(true, Ordering::Relaxed);
    tracing::info!(resync = ?args.resync_interval, "connect-gr controller started");
    tokio::select! {
        _ = k8s::run(client, Arc::new(engine), args.namespace.clone()) => {}
        r = http => { r??; }
    }
    tracing::info!("connect-gr controller stopped");
    Ok(())
}
