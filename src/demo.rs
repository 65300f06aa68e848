//! `connect-gr demo` (the main job on its embedded default: the emulator in-process and the
//! examples reconciled by the same engine, no cluster), and the in-memory world of manifests that
//! `demo`, `plan` and `apply` reconcile through the driver.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use async_trait::async_trait;
use k8s_openapi::jiff::Timestamp;
use kube::{Resource, ResourceExt};
use parking_lot::Mutex;
use serde::de::DeserializeOwned;

use crate::api::{
    self, AgentMembership, CallerDenylist, InstanceReplica, TrafficDistribution,
    TrafficDistributionGroup,
};
use crate::connect::*;
use crate::reconcile::driver::{self, Managed};
use crate::reconcile::{Engine, Note, Objects, ReadError, Verdict};

/// The examples shipped in the binary (the same files as `deploy/examples/`).
const EMBEDDED_EXAMPLES: &[(&str, &str)] = &[
    (
        "instance-replica.yaml",
        include_str!("../deploy/examples/instance-replica.yaml"),
    ),
    (
        "tdg-default.yaml",
        include_str!("../deploy/examples/tdg-default.yaml"),
    ),
    (
        "tdg-overflow.yaml",
        include_str!("../deploy/examples/tdg-overflow.yaml"),
    ),
    (
        "agent-membership.yaml",
        include_str!("../deploy/examples/agent-membership.yaml"),
    ),
    (
        "traffic-distribution.yaml",
        include_str!("../deploy/examples/traffic-distribution.yaml"),
    ),
    (
        "caller-denylist.yaml",
        include_str!("../deploy/examples/caller-denylist.yaml"),
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

/// Manifests read from files, kept in memory with their status (the demo's "cluster").
#[derive(Default)]
pub struct World {
    pub replicas: Mutex<Vec<InstanceReplica>>,
    pub groups: Mutex<Vec<TrafficDistributionGroup>>,
    pub memberships: Mutex<Vec<AgentMembership>>,
    pub distributions: Mutex<Vec<TrafficDistribution>>,
    pub denylists: Mutex<Vec<CallerDenylist>>,
    /// When each object (kind, name) asked to be looked at again, for [`pass_due`].
    pub due: Mutex<BTreeMap<(&'static str, String), tokio::time::Instant>>,
    /// Consecutive transient failures per object (kind, name), for backoff.
    pub failures: Mutex<BTreeMap<(&'static str, String), u32>>,
    /// Events the passes published, oldest first (the demo's "kubectl get events").
    pub events: Mutex<Vec<(&'static str, String, Note)>>,
}

#[async_trait]
impl Objects for World {
    async fn replica(&self, ns: &str, name: &str) -> Result<Option<InstanceReplica>, ReadError> {
        Ok(self
            .replicas
            .lock()
            .iter()
            .find(|o| o.namespace().as_deref() == Some(ns) && o.name_any() == name)
            .cloned())
    }
    async fn group(
        &self,
        ns: &str,
        name: &str,
    ) -> Result<Option<TrafficDistributionGroup>, ReadError> {
        Ok(self
            .groups
            .lock()
            .iter()
            .find(|o| o.namespace().as_deref() == Some(ns) && o.name_any() == name)
            .cloned())
    }
    async fn memberships(&self, ns: &str) -> Result<Vec<AgentMembership>, ReadError> {
        Ok(self
            .memberships
            .lock()
            .iter()
            .filter(|m| m.namespace().as_deref() == Some(ns))
            .cloned()
            .collect())
    }
}

fn prepare<K: Resource<DynamicType = ()> + DeserializeOwned>(
    doc: serde_json::Value,
    namespace: &str,
) -> anyhow::Result<K> {
    let mut obj: K = serde_json::from_value(doc)?;
    let meta = obj.meta_mut();
    let ns = meta
        .namespace
        .get_or_insert_with(|| namespace.into())
        .clone();
    let name = meta.name.clone().unwrap_or_default();
    meta.uid = Some(
        uuid::Uuid::new_v5(
            &uuid::Uuid::NAMESPACE_OID,
            format!("{}/{ns}/{name}", K::kind(&())).as_bytes(),
        )
        .to_string(),
    );
    meta.generation = Some(meta.generation.unwrap_or(0) + 1);
    Ok(obj)
}

pub(crate) fn upsert<K>(list: &mut Vec<K>, mut obj: K)
where
    K: Managed,
{
    if let Some(old) = list
        .iter_mut()
        .find(|o| o.name_any() == obj.name_any() && o.namespace() == obj.namespace())
    {
        obj.meta_mut().generation = Some(old.meta().generation.unwrap_or(1) + 1);
        if let Some(status) = old.status().cloned() {
            obj.set_status(status);
        }
        *old = obj;
    } else {
        list.push(obj);
    }
}

impl World {
    /// Adds manifests (multi-document YAML), validated as the API server would.
    pub fn apply_yaml(&self, text: &str, origin: &str) -> anyhow::Result<usize> {
        self.apply_yaml_in(text, origin, "default")
    }

    /// As [`World::apply_yaml`], objects without a namespace going into `namespace`.
    pub fn apply_yaml_in(
        &self,
        text: &str,
        origin: &str,
        namespace: &str,
    ) -> anyhow::Result<usize> {
        let pairs = api::RegionPairs::default();
        let mut n = 0;
        for doc in serde_yaml::Deserializer::from_str(text) {
            let value: serde_json::Value = serde::Deserialize::deserialize(doc)
                .with_context(|| format!("parsing {origin}"))?;
            if value.is_null() {
                continue;
            }
            if let Err(errors) = api::validate::manifest(&value, &pairs) {
                let msgs: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
                anyhow::bail!("{origin}: invalid manifest: {}", msgs.join("; "));
            }
            match value.get("kind").and_then(|k| k.as_str()).unwrap_or("") {
                "InstanceReplica" => upsert(&mut self.replicas.lock(), prepare(value, namespace)?),
                "TrafficDistributionGroup" => {
                    upsert(&mut self.groups.lock(), prepare(value, namespace)?)
                }
                "AgentMembership" => {
                    upsert(&mut self.memberships.lock(), prepare(value, namespace)?)
                }
                "TrafficDistribution" => {
                    upsert(&mut self.distributions.lock(), prepare(value, namespace)?)
                }
                "CallerDenylist" => upsert(&mut self.denylists.lock(), prepare(value, namespace)?),
                other => anyhow::bail!("{origin}: unknown kind {other:?}"),
            }
            n += 1;
        }
        Ok(n)
    }

    pub fn apply_path(&self, path: &Path) -> anyhow::Result<usize> {
        self.apply_path_in(path, "default")
    }

    /// As [`World::apply_path`], objects without a namespace going into `namespace`.
    pub fn apply_path_in(&self, path: &Path, namespace: &str) -> anyhow::Result<usize> {
        let mut files: Vec<PathBuf> = if path.is_dir() {
            std::fs::read_dir(path)?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "yaml" || x == "yml"))
                .collect()
        } else {
            vec![path.to_path_buf()]
        };
        files.sort();
        let mut n = 0;
        for f in files {
            n += self.apply_yaml_in(
                &std::fs::read_to_string(&f).with_context(|| format!("reading {}", f.display()))?,
                &f.display().to_string(),
                namespace,
            )?;
        }
        Ok(n)
    }
}

/// One line of progress per object and pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Progress {
    pub kind: &'static str,
    pub name: String,
    pub verdict: Verdict,
    pub requeue: Duration,
}

/// One pass over the objects of one kind through the driver, as the controller runs it; the
/// settled status goes back into the world.
async fn pass_list<K: Managed>(
    engine: &Engine,
    world: &World,
    list: &Mutex<Vec<K>>,
    now: Timestamp,
    only_due: bool,
) -> Vec<Progress> {
    let items = list.lock().clone();
    let mut out = Vec::new();
    for obj in items {
        let key = (K::KIND, obj.meta().name.clone().unwrap_or_default());
        if only_due
            && world
                .due
                .lock()
                .get(&key)
                .is_some_and(|t| *t > tokio::time::Instant::now())
        {
            continue;
        }
        let failures = world.failures.lock().get(&key).copied().unwrap_or(0);
        let settled = driver::run_pass(engine, world, &obj, now, failures).await;
        let requeue = settled.requeue.delay();
        world.failures.lock().insert(key.clone(), settled.failures);
        world
            .due
            .lock()
            .insert(key.clone(), tokio::time::Instant::now() + requeue);
        world.events.lock().extend(
            settled
                .events
                .iter()
                .map(|n| (K::KIND, key.1.clone(), n.clone())),
        );
        if let Some(o) = list.lock().iter_mut().find(|o| {
            o.meta().name == obj.meta().name && o.meta().namespace == obj.meta().namespace
        }) {
            o.set_status(settled.status);
        }
        out.push(Progress {
            kind: K::KIND,
            name: key.1,
            verdict: settled.verdict,
            requeue,
        });
    }
    out
}

/// One reconcile pass over every object, in dependency order.
pub async fn pass(engine: &Engine, world: &World, include_denylists: bool) -> Vec<Progress> {
    pass_over(engine, world, include_denylists, false).await
}

/// One pass over the objects whose requeue time has come, as the controller's work queue would
/// (the steady-state benchmark runs this).
pub async fn pass_due(engine: &Engine, world: &World, include_denylists: bool) -> Vec<Progress> {
    pass_over(engine, world, include_denylists, true).await
}

async fn pass_over(
    engine: &Engine,
    world: &World,
    include_denylists: bool,
    only_due: bool,
) -> Vec<Progress> {
    let now = Timestamp::now();
    let mut all = Vec::new();
    all.extend(pass_list(engine, world, &world.replicas, now, only_due).await);
    all.extend(pass_list(engine, world, &world.groups, now, only_due).await);
    all.extend(pass_list(engine, world, &world.memberships, now, only_due).await);
    all.extend(pass_list(engine, world, &world.distributions, now, only_due).await);
    if include_denylists {
        all.extend(pass_list(engine, world, &world.denylists, now, only_due).await);
    }
    all
}

fn verdict_line(p: &Progress) -> String {
    match &p.verdict {
        Verdict::Ready(m) => format!("  ✔ {:<25} {:<22} Ready        {m}", p.kind, p.name),
        Verdict::Progressing { reason, message } => {
            format!("  … {:<25} {:<22} {reason:<12} {message}", p.kind, p.name)
        }
        Verdict::Stalled { reason, message } => {
            format!("  ✖ {:<25} {:<22} {reason:<12} {message}", p.kind, p.name)
        }
    }
}

/// Reconciles until everything is Ready or Stalled (or the timeout), printing changes.
pub async fn converge(
    engine: &Engine,
    world: &World,
    include_denylists: bool,
    timeout: Duration,
    log: impl FnMut(String),
) -> Vec<Progress> {
    let settled = |progress: &[Progress]| {
        progress
            .iter()
            .all(|p| !matches!(p.verdict, Verdict::Progressing { .. }))
    };
    converge_until(engine, world, include_denylists, timeout, settled, log).await
}

/// Reconciles until `done` holds for a pass's progress (or the timeout), printing changes.
pub async fn converge_until(
    engine: &Engine,
    world: &World,
    include_denylists: bool,
    timeout: Duration,
    done: impl Fn(&[Progress]) -> bool,
    mut log: impl FnMut(String),
) -> Vec<Progress> {
    let deadline = tokio::time::Instant::now() + timeout;
    let mut last: BTreeMap<(String, String), Verdict> = BTreeMap::new();
    loop {
        let progress = pass(engine, world, include_denylists).await;
        for p in &progress {
            let k = (p.kind.to_string(), p.name.clone());
            if last.get(&k) != Some(&p.verdict) {
                log(verdict_line(p));
                last.insert(k, p.verdict.clone());
            }
        }
        if done(&progress) || tokio::time::Instant::now() >= deadline {
            return progress;
        }
        let wait = progress
            .iter()
            .filter(|p| matches!(p.verdict, Verdict::Progressing { .. }))
            .map(|p| p.requeue)
            .min()
            .unwrap_or_default();
        tokio::time::sleep(wait.clamp(Duration::from_millis(100), Duration::from_secs(1))).await;
    }
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

pub async fn run_demo(args: DemoArgs) -> anyhow::Result<()> {
    crate::controller::install_crypto();
    set_default_credentials();
    let emulator = crate::emulator::start(crate::emulator::EmulatorConfig::default()).await?;
    println!(
        "connect-gr demo: Connect emulator on {} (us-west-2 source, us-east-1 replica)",
        emulator.endpoint_url()
    );
    let connect = new_connect(
        SdkConnectConfig {
            endpoint_url: Some(emulator.endpoint_url()),
            max_attempts: None,
        },
        Scheduler::new(SchedulerConfig::from_env()),
    );
    let mut engine = Engine::new(connect, Duration::from_secs(300))
        .with_sweep_budget(&SchedulerConfig::from_env());
    engine.batch_window = Duration::from_secs(5);
    let world = World::default();
    let n = match &args.path {
        Some(p) => world.apply_path(p)?,
        None => {
            let mut n = 0;
            for (name, text) in EMBEDDED_EXAMPLES {
                n += world.apply_yaml(text, name)?;
            }
            n
        }
    };
    let skipped = world.denylists.lock().len();
    println!(
        "reconciling {n} resources{}:",
        if skipped > 0 {
            format!(" ({skipped} CallerDenylist skipped: needs DynamoDB)")
        } else {
            String::new()
        }
    );
    let progress = converge(&engine, &world, false, args.timeout, |l| println!("{l}")).await;
    for then in &args.then {
        println!("\napplying {}:", then.display());
        world.apply_path(then)?;
        converge(&engine, &world, false, args.timeout, |l| println!("{l}")).await;
    }
    println!("\nLive Connect state:{}", summary(&engine, &world).await);
    print!(
        "{}",
        crate::preflight_cli::render(&crate::preflight_cli::sections(&world), "text")
    );
    let stalled = progress
        .iter()
        .filter(|p| matches!(p.verdict, Verdict::Stalled { .. }))
        .count();
    let pending = progress
        .iter()
        .filter(|p| matches!(p.verdict, Verdict::Progressing { .. }))
        .count();
    println!(
        "{} ready, {pending} in progress, {stalled} stalled",
        progress.len() - pending - stalled
    );
    emulator.shutdown().await;
    if pending + stalled > 0 {
        anyhow::bail!("demo did not converge");
    }
    Ok(())
}
