//! `connect-gr preflight -f DIR`: the failover-readiness findings of the manifests'
//! InstanceReplicas against live Connect (reads only: writes are recorded, not sent), for CI
//! before a drill. Exit code 0: nothing blocking; 2: a blocking finding; 1: error.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use kube::ResourceExt;

use crate::api::preflight::PreflightStatus;
use crate::connect::{DryRun, Scheduler, SchedulerConfig, SdkConnectConfig, new_connect};
use crate::local::{World, pass};
use crate::plan::preflight_report as report;
use crate::reconcile::Engine;

#[derive(clap::Args, Debug, Clone)]
pub struct PreflightArgs {
    /// Directory (or file) of manifests.
    #[arg(short = 'f', long = "filename")]
    pub path: PathBuf,
    /// Connect endpoint (default: the standard AWS configuration, e.g. AWS_ENDPOINT_URL_CONNECT).
    #[arg(long)]
    pub endpoint_url: Option<String>,
    /// text, json or markdown.
    #[arg(long, short = 'o', default_value = "text", value_parser = ["text", "json", "markdown"])]
    pub output: String,
}

/// Each InstanceReplica's preflight after a pass of `world`.
pub fn sections(world: &World) -> Vec<(String, PreflightStatus)> {
    world
        .replicas
        .lock()
        .iter()
        .filter_map(|r| {
            let p = r.status.as_ref()?.preflight.clone()?;
            Some((r.name_any(), p))
        })
        .collect()
}

pub fn render(s: &[(String, PreflightStatus)], output: &str) -> String {
    match output {
        "json" => serde_json::to_string_pretty(&report::json_value(s)).expect("JSON"),
        "markdown" => report::markdown(s),
        _ => report::text(s),
    }
}

pub async fn run(args: PreflightArgs) -> anyhow::Result<()> {
    crate::controller::install_crypto();
    let world = World::default();
    world.apply_path(&args.path)?;
    let inner = new_connect(
        SdkConnectConfig {
            endpoint_url: args.endpoint_url.clone(),
            max_attempts: Some(2),
        },
        Scheduler::new(SchedulerConfig::from_env()),
    );
    let engine = Engine::new(Arc::new(DryRun::new(inner)), Duration::from_secs(300));
    pass(&engine, &world, false).await;
    let s = sections(&world);
    println!("{}", render(&s, &args.output));
    if report::any_blocking(&s) {
        std::process::exit(2);
    }
    Ok(())
}
