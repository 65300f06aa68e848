use clap::{Parser, Subcommand};

/// connect-gr: declarative Amazon Connect Global Resiliency for Kubernetes.
#[derive(Parser)]
#[command(name = "connect-gr", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the Kubernetes controller (kubeconfig or in-cluster).
    Controller(connect_gr::controller::ControllerArgs),
    /// Print the CustomResourceDefinitions (the source of crds/*.yaml).
    Crds(connect_gr::api::CrdsArgs),
    /// Run the local Connect Global Resiliency emulator.
    Emulator(connect_gr::emulator::EmulatorArgs),
    /// The whole change the manifests would make to live Connect, simulated (reads only).
    Plan(connect_gr::cli::plan::PlanArgs),
    /// Break-glass: apply manifests to live Connect through the same driver, without a cluster.
    Apply(connect_gr::cli::apply::ApplyArgs),
    /// Failover readiness of the manifests' InstanceReplicas against live Connect (exit 2 when
    /// a finding is blocking).
    Preflight(connect_gr::cli::preflight::PreflightArgs),
    /// The main job on the embedded default: emulator + reconcile of the examples.
    Demo(connect_gr::cli::demo::DemoArgs),
    /// See and manage a caller denylist table.
    Denylist(connect_gr::denylist::cli::DenylistArgs),
    /// Failover drills: `drill report -n NS NAME` prints a FailoverDrill's runs.
    Drill(connect_gr::cli::drill::DrillArgs),
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    if matches!(cli.command, Command::Controller(_)) {
        // Before any thread exists: glibc gives a thread its arena at its first allocation, and
        // the runtime's workers allocate as soon as they start.
        connect_gr::controller::release_large_buffers();
    }
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(run(cli))
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Controller(args) => connect_gr::controller::run(args).await,
        Command::Crds(args) => connect_gr::api::run_crds(args),
        Command::Emulator(args) => connect_gr::emulator::run(args).await,
        Command::Plan(args) => connect_gr::cli::plan::run_plan(args).await,
        Command::Apply(args) => connect_gr::cli::apply::run_apply(args).await,
        Command::Preflight(args) => connect_gr::cli::preflight::run(args).await,
        Command::Demo(args) => connect_gr::cli::demo::run_demo(args).await,
        Command::Denylist(args) => connect_gr::denylist::cli::run(args).await,
        Command::Drill(args) => connect_gr::cli::drill::run(args).await,
    }
}
