//! `connect-gr drill report -n NS NAME [--output text|json|markdown]`: the report of a
//! FailoverDrill's runs as recorded in its status (kube's default client configuration:
//! KUBECONFIG or in-cluster). Exit code 0: printed; 1: error (not found, no access).

use anyhow::Context;
use kube::Api;

use crate::api::failover_drill::FailoverDrill;
use crate::plan::drill_report::{Format, render};

#[derive(clap::Args, Debug, Clone)]
pub struct DrillArgs {
    #[command(subcommand)]
    pub command: DrillCommand,
}

#[derive(clap::Subcommand, Debug, Clone)]
pub enum DrillCommand {
    /// The report of a FailoverDrill: summary, the last run's steps, the runs kept in status.
    Report(ReportArgs),
}

#[derive(clap::Args, Debug, Clone)]
pub struct ReportArgs {
    /// Namespace of the FailoverDrill (default: the kubeconfig context's).
    #[arg(short = 'n', long)]
    pub namespace: Option<String>,
    /// Name of the FailoverDrill.
    pub name: String,
    /// text, json or markdown (fit to paste in a change ticket).
    #[arg(long, short = 'o', default_value = "text", value_parser = ["text", "json", "markdown"])]
    pub output: String,
}

pub async fn run(args: DrillArgs) -> anyhow::Result<()> {
    match args.command {
        DrillCommand::Report(a) => report(a).await,
    }
}

async fn report(args: ReportArgs) -> anyhow::Result<()> {
    crate::controller::install_crypto();
    let format: Format = args.output.parse().map_err(anyhow::Error::msg)?;
    let client = kube::Client::try_default()
        .await
        .context("no Kubernetes client configuration (KUBECONFIG or in-cluster)")?;
    let ns = args
        .namespace
        .clone()
        .unwrap_or_else(|| client.default_namespace().to_string());
    let api: Api<FailoverDrill> = Api::namespaced(client, &ns);
    let drill = match api.get_opt(&args.name).await {
        Ok(Some(d)) => d,
        Ok(None) => anyhow::bail!("FailoverDrill {ns}/{} not found", args.name),
        Err(e) => anyhow::bail!("cannot read FailoverDrill {ns}/{}: {e}", args.name),
    };
    print!("{}", render(&drill, format));
    if format == Format::Json {
        println!();
    }
    Ok(())
}
