//! `connect-gr demo`: the main job on its embedded default. The emulator runs in-process and the
//! examples are reconciled by the same driver and the same scheduling as in a cluster (the local
//! runner, [`crate::local`]).

use std::path::PathBuf;
use std::time::Duration;

use kube::ResourceExt;

use crate::connect::*;
use crate::local::{Progress, World, converge};
use crate::reconcile::{Engine, Verdict};

/// The examples shipped in the binary (the same files as `deploy/examples/`).
const EMBEDDED_EXAMPLES: &[(&str, &str)] = &[
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
    (
        "caller-denylist.yaml",
        include_str!("../../deploy/examples/caller-denylist.yaml"),
    ),
];

#[derive(clap::Args, Debug, Clone)]
pub struct DemoArgs {
    /// Manifests to reconcile (default: the embedded examples).
    #[arg(short = 'f', long = "filename")]
    pub path: Option<PathBuf>,
    /// After converging, apply these manifests too (e.g. deploy/examples/scenarios/failover-us-east-1.yaml).
    #[arg(long)]
    pub then: Vec<PathBuf>,
    /// Give up after this long.
    #[arg(long, default_value = "120s", value_parser = humantime::parse_duration)]
    pub timeout: Duration,
}

/// A readable summary of the live state of every group in the world.
pub async fn summary(engine: &Engine, world: &World) -> String {
    let mut out = String::new();
    let groups = world.groups.lock().clone();
    for g in groups {
        let Some(st) = g.status.clone() else { continue };
        let (Some(arn), Some(src), Some(rep)) = (
            st.arn.clone(),
            st.source_region.clone(),
            st.replica_region.clone(),
        ) else {
            continue;
        };
        let regions = [src.clone(), rep.clone()];
        out.push_str(&format!(
            "\n{} ({}{})\n  arn      {arn}\n",
            g.name_any(),
            if st.is_default == Some(true) {
                "default group, "
            } else {
                ""
            },
            st.status.clone().unwrap_or_default()
        ));
        if let Ok(d) = engine
            .connect
            .get_traffic_distribution(&src, &arn, Priority::Normal)
            .await
        {
            for r in &regions {
                out.push_str(&format!(
                    "  {r:<10} telephony {:>3}%  agents {:>3}%  sign-in {}\n",
                    d.telephony.get(r).copied().unwrap_or(0),
                    d.agents.get(r).copied().unwrap_or(0),
                    match d.sign_in.get(r) {
                        Some(true) => "on",
                        Some(false) => "off",
                        None => "-",
                    }
                ));
            }
        }
        if let Ok(m) = engine
            .connect
            .list_group_users(&src, &arn, Priority::Normal)
            .await
        {
            out.push_str(&format!("  members  {}\n", m.len()));
        }
        if let Ok(nums) = engine
            .connect
            .list_phone_numbers(&src, Priority::Normal)
            .await
        {
            let mine: Vec<String> = nums
                .into_iter()
                .filter(|n| n.target_arn.as_deref() == Some(arn.as_str()))
                .map(|n| n.number)
                .collect();
            out.push_str(&format!(
                "  numbers  {}\n",
                if mine.is_empty() {
                    "-".into()
                } else {
                    mine.join(", ")
                }
            ));
        }
    }
    out
}

pub(crate) fn set_default_credentials() {
    // The emulator accepts any key; a real account uses the standard credential chain.
    for (k, v) in [
        ("AWS_ACCESS_KEY_ID", "demo"),
        ("AWS_SECRET_ACCESS_KEY", "demo"),
        ("AWS_REGION", "us-west-2"),
    ] {
        if std::env::var_os(k).is_none() {
            // SAFETY: called at start-up before any other thread reads the environment.
            unsafe { std::env::set_var(k, v) };
        }
    }
}

/// What one phase of the demo came to: the examples, then each `--then` file.
pub struct Phase {
    pub name: String,
    pub progress: Vec<Progress>,
    pub elapsed: Duration,
}

impl Phase {
    /// Everything Ready: nothing in progress, nothing Stalled.
    pub fn converged(&self) -> bool {
        self.progress
            .iter()
            .all(|p| matches!(p.verdict, Verdict::Ready(_)))
    }
}

/// The engine the demo runs: the standard client and quotas against `endpoint`.
pub fn engine(endpoint: String) -> Engine {
    let connect = new_connect(
        SdkConnectConfig {
            endpoint_url: Some(endpoint),
            max_attempts: None,
        },
        Scheduler::new(SchedulerConfig::from_env()),
    );
    let mut engine = Engine::new(connect, Duration::from_secs(300))
        .with_sweep_budget(&SchedulerConfig::from_env());
    engine.batch_window = Duration::from_secs(5);
    engine
}

/// The manifests the demo starts from: `-f`, or the embedded examples.
pub fn load(args: &DemoArgs, world: &World) -> anyhow::Result<usize> {
    match &args.path {
        Some(p) => world.apply_path(p),
        None => {
            let mut n = 0;
            for (name, text) in EMBEDDED_EXAMPLES {
                n += world.apply_yaml(text, name)?;
            }
            Ok(n)
        }
    }
}

/// Runs the demo's phases through the local runner: the manifests, then each `--then` file,
/// each until everything settles or `args.timeout`.
pub async fn run_phases(
    engine: &Engine,
    world: &World,
    args: &DemoArgs,
    mut log: impl FnMut(String),
) -> anyhow::Result<Vec<Phase>> {
    let mut phases = Vec::new();
    let names = std::iter::once("examples".to_string())
        .chain(args.then.iter().map(|p| p.display().to_string()));
    for (i, name) in names.enumerate() {
        if i > 0 {
            log(format!("\napplying {name}:"));
            world.apply_path(&args.then[i - 1])?;
        }
        let started = tokio::time::Instant::now();
        let progress = converge(engine, world, false, args.timeout, &mut log).await;
        phases.push(Phase {
            name,
            progress,
            elapsed: started.elapsed(),
        });
    }
    Ok(phases)
}

pub async fn run_demo(args: DemoArgs) -> anyhow::Result<()> {
    crate::controller::install_crypto();
    set_default_credentials();
    let emulator = crate::emulator::start(crate::emulator::EmulatorConfig::default()).await?;
    println!(
        "connect-gr demo: Connect emulator on {} (us-west-2 source, us-east-1 replica)",
        emulator.endpoint_url()
    );
    let engine = engine(emulator.endpoint_url());
    let world = World::default();
    let n = load(&args, &world)?;
    let skipped = world.denylists.lock().len();
    println!(
        "reconciling {n} resources{}:",
        if skipped > 0 {
            format!(" ({skipped} CallerDenylist skipped: needs DynamoDB)")
        } else {
            String::new()
        }
    );
    let phases = run_phases(&engine, &world, &args, |l| println!("{l}")).await;
    let phases = match phases {
        Ok(p) => p,
        Err(e) => {
            emulator.shutdown().await;
            return Err(e);
        }
    };
    println!("\nLive Connect state:{}", summary(&engine, &world).await);
    print!(
        "{}",
        crate::cli::preflight::render(&crate::cli::preflight::sections(&world), "text")
    );
    for phase in &phases {
        let count =
            |f: fn(&Verdict) -> bool| phase.progress.iter().filter(|p| f(&p.verdict)).count();
        let stalled = count(|v| matches!(v, Verdict::Stalled { .. }));
        let pending = count(|v| matches!(v, Verdict::Progressing { .. }));
        println!(
            "{}: {} ready, {pending} in progress, {stalled} stalled ({:.1} s)",
            phase.name,
            phase.progress.len() - pending - stalled,
            phase.elapsed.as_secs_f64()
        );
    }
    emulator.shutdown().await;
    let failed: Vec<&str> = phases
        .iter()
        .filter(|p| !p.converged())
        .map(|p| p.name.as_str())
        .collect();
    if !failed.is_empty() {
        anyhow::bail!(
            "demo did not converge within {:?}: {}",
            args.timeout,
            failed.join(", ")
        );
    }
    Ok(())
}
