//! `connect-gr plan -f DIR`: the whole change a merge would cause. Live Connect is read (reads
//! only) into a snapshot, the snapshot is loaded into the embedded emulator, and the same driver
//! as the controller runs there until the manifests converge; every write it took is the plan,
//! grouped and counted, with the waits it would incur in Connect. `--next-pass` shows only the
//! controller's next pass against live Connect instead (writes recorded, not sent). Exit code 0:
//! no change; 2: changes; 1: error, or a read of live Connect failed (the report lists it under
//! "Reads that failed"; as `terraform plan -detailed-exitcode`).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::connect::DryRun;
use crate::connect::ratelimit::{Scheduler, SchedulerConfig};
use crate::connect::{ConnectApi, SdkConnectConfig, new_connect};
use crate::emulator::model::Timings;
use crate::local::{Progress, World, converge, pass};
use crate::plan::report::{ObjectLine, Report, waits, with_names};
use crate::reconcile::{Engine, Verdict};

#[derive(clap::Args, Debug, Clone)]
pub struct PlanArgs {
    /// Directories or files of manifests (repeatable; later documents replace earlier ones). With
    /// `--kubeconfig` / `--from-cluster` they go on top of the cluster's objects (a merge's dry run).
    #[arg(short = 'f', long = "filename", required_unless_present_any = ["kubeconfig", "from_cluster"])]
    pub paths: Vec<PathBuf>,
    /// Namespace of manifests that name none (as `kubectl apply -n`; default "default"); with a
    /// cluster, also the only namespace whose objects are read (default: all).
    #[arg(short = 'n', long)]
    pub namespace: Option<String>,
    /// Plan the objects as they are in the cluster of this kubeconfig.
    #[arg(long)]
    pub kubeconfig: Option<PathBuf>,
    /// Plan the objects as they are in the cluster (KUBECONFIG or in-cluster configuration).
    #[arg(long)]
    pub from_cluster: bool,
    /// Connect endpoint (default: the standard AWS configuration, e.g. AWS_ENDPOINT_URL_CONNECT).
    #[arg(long)]
    pub endpoint_url: Option<String>,
    /// text, json or markdown (for a pull-request comment).
    #[arg(long, short = 'o', default_value = "text", value_parser = ["text", "json", "markdown"])]
    pub output: String,
    /// Only the controller's next pass against live Connect (no simulation).
    #[arg(long)]
    pub next_pass: bool,
    /// Give up simulating after this long (exit code 1).
    #[arg(long, default_value = "300s", value_parser = humantime::parse_duration)]
    pub timeout: Duration,
}

async fn load(args: &PlanArgs) -> anyhow::Result<(World, usize)> {
    let world = World::default();
    let mut n = 0;
    if args.kubeconfig.is_some() || args.from_cluster {
        n += from_cluster(&world, args).await?;
    }
    let ns = args.namespace.as_deref().unwrap_or("default");
    for p in &args.paths {
        n += world.apply_path_in(p, ns)?;
    }
    // Denylists need DynamoDB; the plan covers Connect.
    world.denylists.lock().clear();
    Ok((world, n))
}

/// The cluster's objects (status included: what the controller recorded) into `world`.
async fn from_cluster(world: &World, args: &PlanArgs) -> anyhow::Result<usize> {
    let client = match &args.kubeconfig {
        Some(path) => {
            let kc = kube::config::Kubeconfig::read_from(path)?;
            let cfg = kube::Config::from_custom_kubeconfig(kc, &Default::default()).await?;
            kube::Client::try_from(cfg)?
        }
        None => kube::Client::try_default().await?,
    };
    async fn list<K: crate::reconcile::driver::Managed>(
        client: &kube::Client,
        ns: Option<&str>,
    ) -> anyhow::Result<Vec<K>> {
        let api: kube::Api<K> = match ns {
            Some(ns) => kube::Api::namespaced(client.clone(), ns),
            None => kube::Api::all(client.clone()),
        };
        Ok(api.list(&Default::default()).await?.items)
    }
    let ns = args.namespace.as_deref();
    let mut n = 0;
    macro_rules! read {
        ($field:ident) => {
            for o in list(&client, ns).await? {
                crate::local::upsert(&mut world.$field.lock(), o);
                n += 1;
            }
        };
    }
    read!(replicas);
    read!(groups);
    read!(memberships);
    read!(distributions);
    // A drill's run in progress decides what its distribution works towards. A cluster whose
    // CRDs predate FailoverDrill answers 404: no drills there.
    match list::<crate::api::FailoverDrill>(&client, ns).await {
        Ok(drills) => {
            for o in drills {
                crate::local::upsert(&mut world.drills.lock(), o);
                n += 1;
            }
        }
        Err(e)
            if e.downcast_ref::<kube::Error>()
                .is_some_and(|k| matches!(k, kube::Error::Api(a) if a.code == 404)) => {}
        Err(e) => return Err(e),
    }
    Ok(n)
}

fn lines(progress: Vec<Progress>) -> Vec<ObjectLine> {
    progress
        .into_iter()
        .map(|p| {
            let (state, reason, message) = match p.verdict {
                Verdict::Ready(m) => ("Ready", String::new(), m),
                Verdict::Progressing { reason, message } => ("Progressing", reason, message),
                Verdict::Stalled { reason, message } => ("Stalled", reason, message),
            };
            ObjectLine {
                kind: p.kind.to_string(),
                name: p.name,
                state: state.to_string(),
                reason,
                message,
            }
        })
        .collect()
}

pub async fn run_plan(args: PlanArgs) -> anyhow::Result<()> {
    crate::controller::install_crypto();
    let (world, n) = load(&args).await?;
    // Reads only, but many (a snapshot pages through every group's members): let the SDK's
    // standard retry absorb throttling.
    let live = new_connect(
        SdkConnectConfig {
            endpoint_url: args.endpoint_url.clone(),
            max_attempts: Some(5),
        },
        Scheduler::new(SchedulerConfig::from_env()),
    );
    let report = if args.next_pass {
        next_pass(live, &world).await
    } else {
        complete(live, &world, args.timeout).await?
    };
    // Failover readiness as the InstanceReplicas' passes found it (issue 12).
    let preflight = crate::cli::preflight::sections(&world);
    match args.output.as_str() {
        "json" => {
            let mut v: serde_json::Value = serde_json::from_str(&report.json())?;
            v["preflight"] = crate::plan::preflight_report::json_value(&preflight);
            println!("{}", serde_json::to_string_pretty(&v)?);
        }
        "markdown" => print!(
            "{}{}",
            report.markdown(),
            crate::cli::preflight::render(&preflight, "markdown")
        ),
        _ => {
            println!(
                "{n} manifests valid. Planning against live Connect (no changes are made){}:",
                if args.next_pass {
                    ", next pass only"
                } else {
                    ""
                }
            );
            print!("{}", report.text());
            print!("{}", crate::cli::preflight::render(&preflight, "text"));
        }
    }
    if report.reads_failed() {
        std::process::exit(1);
    }
    if report.has_changes() {
        std::process::exit(2);
    }
    Ok(())
}

/// The writes the controller's next pass would make (reads go to live Connect).
async fn next_pass(live: Arc<dyn ConnectApi>, world: &World) -> Report {
    let dry = Arc::new(DryRun::new(live));
    let engine = Engine::new(dry.clone(), Duration::from_secs(300));
    let objects = lines(pass(&engine, world, false).await);
    Report::new(&dry.writes(), objects).with_failed_reads(dry.failed_reads())
}

/// Every write until the manifests converge, simulated on a snapshot of live Connect.
async fn complete(
    live: Arc<dyn ConnectApi>,
    world: &World,
    timeout: Duration,
) -> anyhow::Result<Report> {
    let named = crate::snapshot::instances(world);
    let crate::snapshot::Snapshot { state, failed } =
        crate::snapshot::snapshot(&*live, &named).await;
    let region_pairs = named
        .iter()
        .filter_map(|n| Some((n.region.clone(), n.replica_region.clone()?)))
        .collect();
    let quick = 0.2;
    let emulator = crate::emulator::start(crate::emulator::EmulatorConfig {
        state,
        quotas: false,
        timings: Timings {
            replication_s: quick,
            tdg_create_s: quick,
            tdg_update_s: quick,
            tdg_delete_s: quick,
            phone_claim_s: quick,
            user_mirror_s: quick,
        },
        region_pairs,
        ..Default::default()
    })
    .await?;
    // The simulation is paced far above Connect's quotas; the waits say what they cost.
    let mut fast = SchedulerConfig::from_env();
    fast.scale = 1000.0;
    let sim = new_connect(
        SdkConnectConfig {
            endpoint_url: Some(emulator.endpoint_url()),
            max_attempts: Some(2),
        },
        Scheduler::new(fast),
    );
    let recorder = Arc::new(DryRun::forwarding(sim));
    let mut engine = Engine::new(recorder.clone(), Duration::from_secs(300));
    engine.batch_window = Duration::from_secs(5);
    let progress = converge(&engine, world, false, timeout, |_| {}).await;
    let names = names(&emulator.state_json());
    emulator.shutdown().await;
    if progress
        .iter()
        .any(|p| matches!(p.verdict, Verdict::Progressing { .. }))
    {
        let stuck: Vec<String> = progress
            .iter()
            .filter(|p| matches!(p.verdict, Verdict::Progressing { .. }))
            .map(|p| format!("{} {}", p.kind, p.name))
            .collect();
        let reads: Vec<String> = failed
            .iter()
            .map(|f| format!("[{}] {}: {}", f.region, f.operation, f.error))
            .collect();
        anyhow::bail!(
            "the simulation did not converge within {timeout:?}: {}{}",
            stuck.join(", "),
            if reads.is_empty() {
                String::new()
            } else {
                format!("; reads that failed: {}", reads.join("; "))
            }
        );
    }
    let writes = with_names(&recorder.writes(), &names);
    let quotas = SchedulerConfig::from_env();
    let waits = waits(&writes, |op| quotas.quota(op));
    Ok(Report::new(&writes, lines(progress))
        .with_waits(waits)
        .with_failed_reads(failed))
}

/// Names for the ids and ARNs the simulation's writes carry: groups, users, numbers.
fn names(state: &serde_json::Value) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut add = |list: &str, keys: &[&str], name: &str| {
        for item in state[list].as_array().into_iter().flatten() {
            let Some(n) = item[name].as_str() else {
                continue;
            };
            for k in keys {
                if let Some(id) = item[*k].as_str() {
                    out.insert(id.to_string(), n.to_string());
                }
            }
        }
    };
    add("trafficDistributionGroups", &["arn", "id"], "name");
    add("users", &["id"], "username");
    add("phoneNumbers", &["id", "arn"], "number");
    out
}
