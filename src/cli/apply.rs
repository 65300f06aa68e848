//! `connect-gr apply -f DIR`: break-glass. The same driver as the controller, against live Connect,
//! from any machine and without a cluster, until the manifests converge (or `--timeout`). It is
//! how an on-call engineer applies the Git-declared failover when the cluster that runs the
//! controller is itself in the region that is down: the replica and group passes read through the
//! replica region when the source does not answer, and the split is applied through whichever
//! region answers. Groups are tagged with the same owner (namespace/name) as the controller tags
//! them and the split is compared with the spec, so a controller started afterwards sees nothing
//! to change where Connect matches the manifests.

use std::path::PathBuf;
use std::time::Duration;

use crate::connect::ratelimit::{Scheduler, SchedulerConfig};
use crate::connect::{SdkConnectConfig, new_connect};
use crate::local::{Progress, World, converge_until};
use crate::reconcile::{Engine, Verdict};

#[derive(clap::Args, Debug, Clone)]
pub struct ApplyArgs {
    /// Directories or files of manifests (repeatable; later documents replace earlier ones with
    /// the same kind, namespace and name, e.g. `-f deploy/examples -f scenarios/failover.yaml`).
    #[arg(short = 'f', long = "filename", required = true)]
    pub paths: Vec<PathBuf>,
    /// Namespace of objects that name none (as `kubectl apply -n`): groups are tagged with their
    /// owner's namespace and name, so use the namespace the controller manages them in.
    #[arg(short = 'n', long, default_value = "default")]
    pub namespace: String,
    /// Connect endpoint (default: the standard AWS configuration, e.g. AWS_ENDPOINT_URL_CONNECT).
    #[arg(long)]
    pub endpoint_url: Option<String>,
    /// Give up after this long (exit code 1).
    #[arg(long, default_value = "300s", value_parser = humantime::parse_duration)]
    pub timeout: Duration,
}

/// Done: every split is settled, and everything else either settled or waiting only for a source
/// region that does not answer (what a failover does not need).
pub fn finished(progress: &[Progress]) -> bool {
    let splits_settled = progress
        .iter()
        .filter(|p| p.kind == "TrafficDistribution")
        .all(|p| !is_progressing(p));
    let source_down = progress.iter().any(waits_for_source);
    splits_settled && (source_down || progress.iter().all(|p| !is_progressing(p)))
}

/// Applied: every split Ready, nothing Stalled, and whatever is not Ready waits only for the
/// source region (or is blocked by it, when it is down).
pub fn succeeded(progress: &[Progress]) -> bool {
    let source_down = progress.iter().any(waits_for_source);
    progress.iter().all(|p| match &p.verdict {
        Verdict::Ready(_) => true,
        Verdict::Stalled { .. } => false,
        Verdict::Progressing { .. } => p.kind != "TrafficDistribution" && source_down,
    })
}

fn is_progressing(p: &Progress) -> bool {
    matches!(p.verdict, Verdict::Progressing { .. })
}

fn waits_for_source(p: &Progress) -> bool {
    matches!(&p.verdict, Verdict::Progressing { reason, .. }
        if reason == crate::api::reasons::SOURCE_REGION_UNAVAILABLE)
}

pub async fn run_apply(args: ApplyArgs) -> anyhow::Result<()> {
    crate::controller::install_crypto();
    let world = World::default();
    let mut n = 0;
    for p in &args.paths {
        n += world.apply_path_in(p, &args.namespace)?;
    }
    let skipped = std::mem::take(&mut *world.denylists.lock()).len();
    let connect = new_connect(
        SdkConnectConfig {
            endpoint_url: args.endpoint_url.clone(),
            max_attempts: Some(2),
        },
        Scheduler::new(SchedulerConfig::from_env()),
    );
    let engine = Engine::new(connect, Duration::from_secs(300))
        .with_sweep_budget(&SchedulerConfig::from_env());
    println!(
        "connect-gr apply: {n} manifests, applying to live Connect{}:",
        if skipped > 0 {
            format!(" ({skipped} CallerDenylist skipped: the controller manages denylists)")
        } else {
            String::new()
        }
    );
    let progress = converge_until(&engine, &world, false, args.timeout, finished, |l| {
        println!("{l}")
    })
    .await;
    for d in world.distributions.lock().iter() {
        let st = d.status.clone().unwrap_or_default();
        println!(
            "TrafficDistribution {}: {} (served by {})",
            kube::ResourceExt::name_any(d),
            st.split.unwrap_or_else(|| "-".into()),
            st.served_by.unwrap_or_else(|| "-".into())
        );
    }
    let ready = progress
        .iter()
        .filter(|p| matches!(p.verdict, Verdict::Ready(_)))
        .count();
    println!("{ready} of {} ready", progress.len());
    let waiting = progress.len() - ready;
    if waiting > 0 && progress.iter().any(waits_for_source) && succeeded(&progress) {
        println!(
            "the split is applied; {waiting} object(s) wait for the source region (listed above) \
             and are completed by the controller or another apply once it answers"
        );
    }
    if !succeeded(&progress) {
        anyhow::bail!("apply did not converge within {:?}", args.timeout);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::reasons;

    fn p(kind: &'static str, verdict: Verdict) -> Progress {
        Progress {
            kind,
            namespace: "default".into(),
            name: "x".into(),
            verdict,
            requeue: Duration::ZERO,
        }
    }
    fn ready() -> Verdict {
        Verdict::Ready(String::new())
    }
    fn source_down() -> Verdict {
        Verdict::progressing(reasons::SOURCE_REGION_UNAVAILABLE, "")
    }
    fn retrying() -> Verdict {
        Verdict::progressing(reasons::RETRYING_AFTER_ERROR, "")
    }

    #[test]
    fn everything_ready_is_finished_and_succeeded() {
        let all = [
            p("TrafficDistributionGroup", ready()),
            p("TrafficDistribution", ready()),
        ];
        assert!(finished(&all) && succeeded(&all));
    }

    #[test]
    fn a_split_still_moving_is_never_finished() {
        let all = [
            p("TrafficDistributionGroup", source_down()),
            p("TrafficDistribution", retrying()),
        ];
        assert!(!finished(&all) && !succeeded(&all));
    }

    #[test]
    fn with_the_source_down_a_ready_split_is_enough() {
        let all = [
            p("InstanceReplica", ready()),
            p("TrafficDistributionGroup", source_down()),
            p("AgentMembership", retrying()),
            p("TrafficDistribution", ready()),
        ];
        assert!(finished(&all) && succeeded(&all));
    }

    #[test]
    fn with_the_source_up_everything_must_settle() {
        let all = [
            p("AgentMembership", retrying()),
            p("TrafficDistribution", ready()),
        ];
        assert!(!finished(&all) && !succeeded(&all));
    }

    #[test]
    fn a_stalled_object_fails_the_apply() {
        let all = [
            p(
                "TrafficDistributionGroup",
                Verdict::stalled(reasons::ALREADY_EXISTS, ""),
            ),
            p("TrafficDistribution", ready()),
        ];
        assert!(finished(&all) && !succeeded(&all));
    }
}
