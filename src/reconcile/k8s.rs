//! Kubernetes glue: one kube-rs Controller per kind around the engine, the finalizer, status
//! written only when it changed (server-side apply, field manager `connect-gr`), Events
//! (events.k8s.io; tolerated when the API server lacks it), watches between kinds, and
//! per-object exponential backoff with jitter for transient errors.

use std::collections::HashMap;
use std::fmt::Debug;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use futures::FutureExt;
use futures::StreamExt;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use kube::runtime::finalizer::{Event as FinalizerEvent, finalizer};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::{WatchStreamExt, reflector, watcher};
use kube::{Client, ResourceExt};
use parking_lot::Mutex;

use super::driver::{self, Managed};
use super::*;
use crate::api::{
    AgentMembership, CallerDenylist, FIELD_MANAGER, FINALIZER, FailoverDrill, TrafficDistribution,
};

fn read_error(what: String, e: kube::Error) -> ReadError {
    ReadError {
        what,
        message: e.to_string(),
    }
}

/// Objects read from the controllers' reflector stores (the watch caches the work queues already
/// keep), not from the API server on every pass. A store that has not finished its first list is a
/// read error, never "absent".
#[derive(Clone)]
pub struct KubeObjects {
    /// For the writes that go through `Objects` (a split's write intent).
    pub client: Client,
    pub replicas: Store<InstanceReplica>,
    pub groups: Store<TrafficDistributionGroup>,
    pub memberships: Store<AgentMembership>,
    pub distributions: Store<TrafficDistribution>,
    pub drills: Store<FailoverDrill>,
}

fn synced<K: Clone + kube::Resource + 'static>(
    store: &Store<K>,
    what: String,
) -> Result<(), ReadError>
where
    K::DynamicType: std::hash::Hash + Eq + Clone,
{
    match store.wait_until_ready().now_or_never() {
        Some(Ok(())) => Ok(()),
        _ => Err(ReadError {
            what,
            message: "the controller's cache of these objects has not finished its first list"
                .into(),
        }),
    }
}

fn get<K>(store: &Store<K>, namespace: &str, name: &str) -> Option<K>
where
    K: Clone + kube::Resource<DynamicType = ()> + 'static,
{
    store
        .get(&ObjectRef::new(name).within(namespace))
        .map(|o| (*o).clone())
}

/// The objects of `namespace` in `store`, by name (as a LIST returns them).
fn list_in<K>(store: &Store<K>, namespace: &str) -> Vec<K>
where
    K: Clone + kube::Resource<DynamicType = ()> + 'static,
{
    let mut out: Vec<K> = store
        .state_filter(|o| o.namespace().as_deref() == Some(namespace))
        .into_iter()
        .map(|o| (*o).clone())
        .collect();
    out.sort_by_key(|o| o.name_any());
    out
}

#[async_trait]
impl Objects for KubeObjects {
    async fn replica(
        &self,
        namespace: &str,
        name: &str,
    ) -> Result<Option<InstanceReplica>, ReadError> {
        synced(
            &self.replicas,
            format!("InstanceReplica {namespace}/{name}"),
        )?;
        Ok(get(&self.replicas, namespace, name))
    }
    async fn group(
        &self,
        namespace: &str,
        name: &str,
    ) -> Result<Option<TrafficDistributionGroup>, ReadError> {
        synced(
            &self.groups,
            format!("TrafficDistributionGroup {namespace}/{name}"),
        )?;
        Ok(get(&self.groups, namespace, name))
    }
    async fn memberships(&self, namespace: &str) -> Result<Vec<AgentMembership>, ReadError> {
        synced(
            &self.memberships,
            format!("AgentMemberships in {namespace}"),
        )?;
        Ok(list_in(&self.memberships, namespace))
    }
    async fn distribution(
        &self,
        namespace: &str,
        name: &str,
    ) -> Result<Option<TrafficDistribution>, ReadError> {
        synced(
            &self.distributions,
            format!("TrafficDistribution {namespace}/{name}"),
        )?;
        Ok(get(&self.distributions, namespace, name))
    }
    async fn drills(&self, namespace: &str) -> Result<Vec<FailoverDrill>, ReadError> {
        synced(&self.drills, format!("FailoverDrills in {namespace}"))?;
        Ok(list_in(&self.drills, namespace))
    }
    async fn record_intent(
        &self,
        obj: &TrafficDistribution,
        status: &crate::api::TrafficDistributionStatus,
    ) -> Result<(), ReadError> {
        let what = format!(
            "TrafficDistribution {}/{} (status.pendingSplit)",
            obj.namespace().unwrap_or_default(),
            obj.name_any()
        );
        // The whole status, as the pass's final write does (same field manager, server-side
        // apply): a partial one would drop the fields it leaves out.
        let patch = serde_json::json!({
            "apiVersion": <TrafficDistribution as kube::Resource>::api_version(&()),
            "kind": <TrafficDistribution as kube::Resource>::kind(&()),
            "status": status,
        });
        Api::<TrafficDistribution>::namespaced(
            self.client.clone(),
            &obj.namespace().unwrap_or_default(),
        )
        .patch_status(
            &obj.name_any(),
            &PatchParams::apply(FIELD_MANAGER).force(),
            &Patch::Apply(&patch),
        )
        .await
        .map(|_| ())
        .map_err(|e| read_error(what, e))
    }
}

pub struct Ctx {
    pub client: Client,
    pub engine: Arc<Engine>,
    pub objects: KubeObjects,
    pub recorder: Recorder,
    /// Consecutive transient failures per object, for backoff.
    pub failures: Mutex<HashMap<String, u32>>,
    /// Set once events.k8s.io answered 404: stop trying.
    pub events_unavailable: std::sync::atomic::AtomicBool,
}

impl Ctx {
    pub fn new(client: Client, engine: Arc<Engine>, objects: KubeObjects) -> Self {
        let recorder = Recorder::new(
            client.clone(),
            Reporter {
                controller: "connect-gr".into(),
                instance: std::env::var("POD_NAME").ok(),
            },
        );
        Self {
            objects,
            client,
            engine,
            recorder,
            failures: Mutex::new(HashMap::new()),
            events_unavailable: Default::default(),
        }
    }

    async fn publish<K: Managed>(&self, obj: &K, note: &Note) {
        if self
            .events_unavailable
            .load(std::sync::atomic::Ordering::Relaxed)
        {
            return;
        }
        let ev = Event {
            type_: if note.warning {
                EventType::Warning
            } else {
                EventType::Normal
            },
            reason: note.reason.clone(),
            note: Some(note.message.chars().take(1000).collect()),
            action: "Reconcile".into(),
            secondary: None,
        };
        if let Err(e) = self.recorder.publish(&ev, &obj.object_ref(&())).await {
            if matches!(&e, kube::Error::Api(s) if s.code == 404) {
                tracing::info!("events.k8s.io is not served by this API server; Events are off");
                self.events_unavailable
                    .store(true, std::sync::atomic::Ordering::Relaxed);
            } else {
                tracing::debug!(error = %e, "publishing an Event failed");
            }
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    /// Writing status failed.
    #[error("Kubernetes: {0}")]
    Kube(#[from] kube::Error),
    /// The finalizer step is not done (or failed): keep the finalizer, look again after this.
    #[error("cleanup not finished: {0}")]
    Holding(String, Duration),
    /// The pass panicked: a transient error of this object (backoff, metric), never the end of
    /// the process (the release profile unwinds for this).
    #[error("the pass panicked: {0}")]
    Panicked(String),
}

/// Runs one pass, turning a panic into [`ReconcileError::Panicked`] (counted as
/// `connectgr_reconcile_errors_total{outcome="panic"}`).
async fn unpanicked<K: Managed, F>(fut: F) -> Result<Action, ReconcileError>
where
    F: std::future::Future<Output = Result<Action, ReconcileError>>,
{
    use futures::FutureExt;
    match std::panic::AssertUnwindSafe(fut).catch_unwind().await {
        Ok(r) => r,
        Err(p) => {
            let what = p
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| p.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "a panic without a message".into());
            crate::metrics::reconcile_error(K::KIND, "panic");
            tracing::error!(kind = K::KIND, panic = %what, "reconcile pass panicked");
            Err(ReconcileError::Panicked(what))
        }
    }
}

fn key<K: Managed>(obj: &K) -> String {
    format!(
        "{}/{}/{}",
        K::KIND,
        obj.namespace().unwrap_or_default(),
        obj.name_any()
    )
}

async fn write_status<K: Managed>(
    ctx: &Ctx,
    obj: &K,
    status: &K::Status,
) -> Result<(), kube::Error> {
    if obj.status() == Some(status) {
        return Ok(()); // compare before write
    }
    let api: Api<K> = Api::namespaced(ctx.client.clone(), &obj.namespace().unwrap_or_default());
    let patch = serde_json::json!({
        "apiVersion": K::api_version(&()),
        "kind": K::kind(&()),
        "status": status,
    });
    api.patch_status(
        &obj.name_any(),
        &PatchParams::apply(FIELD_MANAGER).force(),
        &Patch::Apply(&patch),
    )
    .await?;
    Ok(())
}

impl Ctx {
    fn failures_of<K: Managed>(&self, obj: &K) -> u32 {
        self.failures.lock().get(&key(obj)).copied().unwrap_or(0)
    }

    fn record_failures<K: Managed>(&self, obj: &K, n: u32) {
        let mut f = self.failures.lock();
        if n == 0 {
            f.remove(&key(obj));
        } else {
            f.insert(key(obj), n);
        }
    }

    /// Writes what a pass came to (status, Events) and remembers its failures.
    async fn settle_into<K: Managed>(
        &self,
        obj: &K,
        out: &driver::Settled<K::Status>,
    ) -> Result<(), kube::Error> {
        self.record_failures(obj, out.failures);
        write_status(self, obj, &out.status).await?;
        for n in &out.events {
            self.publish(obj, n).await;
        }
        Ok(())
    }
}

async fn apply_one<K: Managed>(obj: Arc<K>, ctx: &Ctx) -> Result<Action, ReconcileError> {
    let failures = ctx.failures_of(&*obj);
    let out = driver::run_pass(&ctx.engine, &ctx.objects, &*obj, Timestamp::now(), failures).await;
    ctx.settle_into(&*obj, &out).await?;
    Ok(Action::requeue(out.requeue.delay()))
}

async fn cleanup_one<K: Managed>(obj: Arc<K>, ctx: &Ctx) -> Result<Action, ReconcileError> {
    let failures = ctx.failures_of(&*obj);
    match driver::run_cleanup(&ctx.engine, &ctx.objects, &*obj, Timestamp::now(), failures).await {
        driver::CleanupSettled::Released(note) => {
            ctx.record_failures(&*obj, 0);
            ctx.publish(&*obj, &note).await;
            Ok(Action::await_change())
        }
        // The finalizer helper removes the finalizer only on Ok: hold it with an error.
        driver::CleanupSettled::Holding(out) => {
            ctx.settle_into(&*obj, &out).await?;
            let why = match &out.verdict {
                Verdict::Ready(m)
                | Verdict::Progressing { message: m, .. }
                | Verdict::Stalled { message: m, .. } => m.clone(),
            };
            Err(ReconcileError::Holding(why, out.requeue.delay()))
        }
    }
}

async fn reconcile<K: Managed>(
    obj: Arc<K>,
    ctx: Arc<Ctx>,
) -> Result<Action, kube::runtime::finalizer::Error<ReconcileError>> {
    let api: Api<K> = Api::namespaced(ctx.client.clone(), &obj.namespace().unwrap_or_default());
    let ctx2 = ctx.clone();
    finalizer(&api, FINALIZER, obj, |event| async move {
        match event {
            FinalizerEvent::Apply(obj) => unpanicked::<K, _>(apply_one(obj, &ctx2)).await,
            FinalizerEvent::Cleanup(obj) => unpanicked::<K, _>(cleanup_one(obj, &ctx2)).await,
        }
    })
    .await
}

fn error_policy<K: Managed>(
    obj: Arc<K>,
    err: &kube::runtime::finalizer::Error<ReconcileError>,
    ctx: Arc<Ctx>,
) -> Action {
    use kube::runtime::finalizer::Error as F;
    if let F::CleanupFailed(ReconcileError::Holding(why, after)) = err {
        tracing::info!(kind = K::KIND, name = %obj.name_any(), %why, "finalizer held");
        return Action::requeue(*after);
    }
    let n = {
        let mut f = ctx.failures.lock();
        let n = f.entry(key(&*obj)).or_insert(0);
        *n += 1;
        *n
    };
    tracing::warn!(kind = K::KIND, name = %obj.name_any(), error = %err, "reconcile failed");
    Action::requeue(driver::Requeue::Backoff(n.min(5)).delay())
}

fn run_log<T: Debug, E: Debug>(
    kind: &'static str,
) -> impl Fn(Result<T, E>) -> futures::future::Ready<()> {
    move |r| {
        if let Err(e) = r {
            tracing::debug!(kind, error = ?e, "controller stream");
        }
        futures::future::ready(())
    }
}

/// What the controller never reads, dropped before an object is cached: managedFields
/// and kubectl's last-applied copy of the object (together often larger than the object itself).
fn slim<K: kube::Resource>(o: &mut K) {
    let meta = o.meta_mut();
    meta.managed_fields = None;
    if let Some(a) = meta.annotations.as_mut() {
        a.remove("kubectl.kubernetes.io/last-applied-configuration");
    }
}

/// A Controller whose cache holds slimmed objects (see [`slim`]).
fn controller_for<K: Managed>(api: Api<K>, cfg: watcher::Config) -> Controller<K> {
    let (reader, writer) = reflector::store();
    let stream = watcher(api, cfg)
        .default_backoff()
        .modify(slim::<K>)
        .reflect(writer)
        .applied_objects();
    Controller::for_stream(stream, reader)
}

fn scoped<K: Managed>(client: &Client, namespace: Option<&str>) -> Api<K> {
    match namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    }
}

/// Runs the six controllers until shutdown, over every namespace or just `namespace`, each
/// reconciling at most `concurrency` objects at once.
pub async fn run(client: Client, engine: Arc<Engine>, namespace: Option<String>, concurrency: u16) {
    let limits = kube::runtime::controller::Config::default().concurrency(concurrency);
    let cfg = watcher::Config::default();
    let ns = namespace.as_deref();
    let groups = scoped::<TrafficDistributionGroup>(&client, ns);

    let rep_ctrl = controller_for(scoped::<InstanceReplica>(&client, ns), cfg.clone())
        .with_config(limits.clone());
    let tdg_ctrl = controller_for(groups.clone(), cfg.clone()).with_config(limits.clone());
    let tdg_store = tdg_ctrl.store();
    let tdg_ctrl = tdg_ctrl.watches(
        scoped::<InstanceReplica>(&client, ns),
        cfg.clone(),
        move |rep: InstanceReplica| {
            let ns = rep.namespace();
            tdg_store
                .state()
                .into_iter()
                .filter(|g| {
                    g.namespace() == ns
                        && g.spec
                            .replica_ref
                            .as_ref()
                            .is_some_and(|r| r.name == rep.name_any())
                })
                .map(|g| ObjectRef::from_obj(&*g))
                .collect::<Vec<_>>()
        },
    );

    // A controller of a kind that refers to a group, woken when the group changes.
    fn dependent<K: Managed>(
        client: &Client,
        ns: Option<&str>,
        groups: &Api<TrafficDistributionGroup>,
        cfg: &watcher::Config,
        limits: &kube::runtime::controller::Config,
        group_of: fn(&K) -> &str,
    ) -> Controller<K> {
        let c = controller_for(scoped::<K>(client, ns), cfg.clone()).with_config(limits.clone());
        let store = c.store();
        c.watches(
            groups.clone(),
            cfg.clone(),
            move |g: TrafficDistributionGroup| {
                let ns = g.namespace();
                let name = g.name_any();
                store
                    .state()
                    .into_iter()
                    .filter(|o| o.namespace() == ns && group_of(o) == name)
                    .map(|o| ObjectRef::from_obj(&*o))
                    .collect::<Vec<_>>()
            },
        )
    }
    let agm_ctrl = dependent::<AgentMembership>(&client, ns, &groups, &cfg, &limits, |o| {
        o.spec.group_ref.name.as_str()
    });
    let tdist_ctrl = dependent::<TrafficDistribution>(&client, ns, &groups, &cfg, &limits, |o| {
        o.spec.group_ref.name.as_str()
    });
    // A distribution's preflight gate reads the replica of its group: a new preflight wakes it.
    let (tdist_store, groups_of) = (tdist_ctrl.store(), tdg_ctrl.store());
    let tdist_ctrl = tdist_ctrl.watches(
        scoped::<InstanceReplica>(&client, ns),
        cfg.clone(),
        move |rep: InstanceReplica| {
            let ns = rep.namespace();
            let groups: Vec<String> = groups_of
                .state()
                .into_iter()
                .filter(|g| {
                    g.namespace() == ns
                        && g.spec
                            .replica_ref
                            .as_ref()
                            .is_some_and(|r| r.name == rep.name_any())
                })
                .map(|g| g.name_any())
                .collect();
            tdist_store
                .state()
                .into_iter()
                .filter(|d| d.namespace() == ns && groups.contains(&d.spec.group_ref.name))
                .map(|d| ObjectRef::from_obj(&*d))
                .collect::<Vec<_>>()
        },
    );
    // A drill's run is what its distribution works towards: a drill's status wakes it.
    let tdist_ctrl = tdist_ctrl.watches(
        scoped::<FailoverDrill>(&client, ns),
        cfg.clone(),
        |d: FailoverDrill| {
            let ns = d.namespace().unwrap_or_default();
            Some(ObjectRef::new(&d.spec.distribution_ref.name).within(&ns))
        },
    );
    // The distribution's split is what a drill verifies: its status wakes the drills naming it.
    let drill_ctrl = controller_for(scoped::<FailoverDrill>(&client, ns), cfg.clone())
        .with_config(limits.clone());
    let drill_store = drill_ctrl.store();
    let drill_ctrl = drill_ctrl.watches(
        scoped::<TrafficDistribution>(&client, ns),
        cfg.clone(),
        move |td: TrafficDistribution| {
            let ns = td.namespace();
            drill_store
                .state()
                .into_iter()
                .filter(|d| d.namespace() == ns && d.spec.distribution_ref.name == td.name_any())
                .map(|d| ObjectRef::from_obj(&*d))
                .collect::<Vec<_>>()
        },
    );
    let cdl_ctrl = dependent::<CallerDenylist>(&client, ns, &groups, &cfg, &limits, |o| {
        o.spec.group_ref.name.as_str()
    });

    let objects = KubeObjects {
        client: client.clone(),
        replicas: rep_ctrl.store(),
        groups: tdg_ctrl.store(),
        memberships: agm_ctrl.store(),
        distributions: tdist_ctrl.store(),
        drills: drill_ctrl.store(),
    };
    let lease = engine.writer.clone();
    let ctx = Arc::new(Ctx::new(client.clone(), engine, objects));
    macro_rules! run {
        ($ctrl:expr, $kind:ty) => {
            $ctrl
                .reconcile_all_on(crate::writer_lease::on_acquired(lease.clone()))
                .shutdown_on_signal()
                .run(reconcile::<$kind>, error_policy::<$kind>, ctx.clone())
                .for_each(run_log(<$kind as Managed>::KIND))
        };
    }
    tokio::join!(
        run!(rep_ctrl, InstanceReplica),
        run!(tdg_ctrl, TrafficDistributionGroup),
        run!(agm_ctrl, AgentMembership),
        run!(tdist_ctrl, TrafficDistribution),
        run!(cdl_ctrl, CallerDenylist),
        run!(drill_ctrl, FailoverDrill),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_panicking_pass_becomes_a_transient_error_of_that_object() {
        fn pass_that_panics() -> Result<Action, ReconcileError> {
            panic!("index out of range on outside data")
        }
        let out = unpanicked::<TrafficDistribution, _>(async { pass_that_panics() }).await;
        match out {
            Err(ReconcileError::Panicked(m)) => assert!(m.contains("outside data"), "{m}"),
            other => panic!("not caught: {other:?}"),
        }
        let fine = unpanicked::<TrafficDistribution, _>(async { Ok(Action::await_change()) }).await;
        assert!(fine.is_ok());
    }
}
