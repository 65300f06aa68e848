//! Kubernetes glue: one kube-rs Controller per kind around the engine, the finalizer, status
//! written only when it changed (server-side apply, field manager `connect-gr`), Events
//! (events.k8s.io; tolerated when the API server lacks it), watches between kinds, and
//! per-object exponential backoff with jitter for transient errors.

use std::collections::HashMap;
use std::fmt::Debug;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use futures::StreamExt;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use kube::runtime::finalizer::{Event as FinalizerEvent, finalizer};
use kube::runtime::watcher;
use kube::{Client, Resource, ResourceExt};
use parking_lot::Mutex;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::*;
use crate::api::{AgentMembership, CallerDenylist, FIELD_MANAGER, FINALIZER, TrafficDistribution};
use crate::connect::ConnectResult;

/// A kind the engine reconciles.
#[async_trait]
pub trait Managed:
    Resource<DynamicType = (), Scope = kube::core::NamespaceResourceScope>
    + Clone
    + Debug
    + Serialize
    + DeserializeOwned
    + Send
    + Sync
    + 'static
{
    type Status: Clone + PartialEq + Serialize + Default + HasConditions + Send + Sync + Debug;
    const KIND: &'static str;
    fn status(&self) -> Option<&Self::Status>;
    async fn apply(
        &self,
        engine: &Engine,
        objects: &dyn Objects,
        now: Timestamp,
    ) -> ConnectResult<Outcome<Self::Status>>;
    /// `Ok(None)` when the Connect side is released; `Ok(Some(why))` while it is not yet.
    async fn cleanup(
        &self,
        _engine: &Engine,
        _objects: &dyn Objects,
    ) -> ConnectResult<Option<String>> {
        Ok(None)
    }
}

#[async_trait]
impl Managed for InstanceReplica {
    type Status = api::InstanceReplicaStatus;
    const KIND: &'static str = "InstanceReplica";
    fn status(&self) -> Option<&Self::Status> {
        self.status.as_ref()
    }
    async fn apply(
        &self,
        engine: &Engine,
        _o: &dyn Objects,
        now: Timestamp,
    ) -> ConnectResult<Outcome<Self::Status>> {
        replica::apply(engine, self, now).await
    }
}

#[async_trait]
impl Managed for TrafficDistributionGroup {
    type Status = api::TrafficDistributionGroupStatus;
    const KIND: &'static str = "TrafficDistributionGroup";
    fn status(&self) -> Option<&Self::Status> {
        self.status.as_ref()
    }
    async fn apply(
        &self,
        engine: &Engine,
        o: &dyn Objects,
        now: Timestamp,
    ) -> ConnectResult<Outcome<Self::Status>> {
        group::apply(engine, self, o, now).await
    }
    async fn cleanup(&self, engine: &Engine, _o: &dyn Objects) -> ConnectResult<Option<String>> {
        group::cleanup(engine, self).await
    }
}

#[async_trait]
impl Managed for AgentMembership {
    type Status = api::AgentMembershipStatus;
    const KIND: &'static str = "AgentMembership";
    fn status(&self) -> Option<&Self::Status> {
        self.status.as_ref()
    }
    async fn apply(
        &self,
        engine: &Engine,
        o: &dyn Objects,
        now: Timestamp,
    ) -> ConnectResult<Outcome<Self::Status>> {
        membership::apply(engine, self, o, now).await
    }
    async fn cleanup(&self, engine: &Engine, o: &dyn Objects) -> ConnectResult<Option<String>> {
        membership::cleanup(engine, self, o).await
    }
}

#[async_trait]
impl Managed for TrafficDistribution {
    type Status = api::TrafficDistributionStatus;
    const KIND: &'static str = "TrafficDistribution";
    fn status(&self) -> Option<&Self::Status> {
        self.status.as_ref()
    }
    async fn apply(
        &self,
        engine: &Engine,
        o: &dyn Objects,
        now: Timestamp,
    ) -> ConnectResult<Outcome<Self::Status>> {
        distribution::apply(engine, self, o, now).await
    }
}

#[async_trait]
impl Managed for CallerDenylist {
    type Status = api::CallerDenylistStatus;
    const KIND: &'static str = "CallerDenylist";
    fn status(&self) -> Option<&Self::Status> {
        self.status.as_ref()
    }
    async fn apply(
        &self,
        engine: &Engine,
        o: &dyn Objects,
        now: Timestamp,
    ) -> ConnectResult<Outcome<Self::Status>> {
        denylist::apply(engine, self, o, now).await
    }
    async fn cleanup(&self, engine: &Engine, o: &dyn Objects) -> ConnectResult<Option<String>> {
        denylist::cleanup(engine, self, o).await
    }
}

/// Objects read straight from the API server.
pub struct KubeObjects {
    pub client: Client,
}

#[async_trait]
impl Objects for KubeObjects {
    async fn replica(&self, namespace: &str, name: &str) -> Option<InstanceReplica> {
        Api::<InstanceReplica>::namespaced(self.client.clone(), namespace)
            .get_opt(name)
            .await
            .ok()
            .flatten()
    }
    async fn group(&self, namespace: &str, name: &str) -> Option<TrafficDistributionGroup> {
        Api::<TrafficDistributionGroup>::namespaced(self.client.clone(), namespace)
            .get_opt(name)
            .await
            .ok()
            .flatten()
    }
    async fn memberships(&self, namespace: &str) -> Vec<AgentMembership> {
        Api::<AgentMembership>::namespaced(self.client.clone(), namespace)
            .list(&Default::default())
            .await
            .map(|l| l.items)
            .unwrap_or_default()
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
    pub fn new(client: Client, engine: Arc<Engine>) -> Self {
        let recorder = Recorder::new(
            client.clone(),
            Reporter {
                controller: "connect-gr".into(),
                instance: std::env::var("POD_NAME").ok(),
            },
        );
        Self {
            objects: KubeObjects {
                client: client.clone(),
            },
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
    #[error("Connect: {0}")]
    Connect(#[from] ConnectError),
    #[error("Kubernetes: {0}")]
    Kube(#[from] kube::Error),
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

fn backoff(failures: u32) -> Duration {
    let base = Duration::from_millis(500) * 2u32.saturating_pow(failures.min(8));
    let capped = base.min(Duration::from_secs(300));
    let jitter = rand::random::<f64>() * 0.3 + 0.85;
    capped.mul_f64(jitter)
}

async fn apply_one<K: Managed>(obj: Arc<K>, ctx: &Ctx) -> Result<Action, ReconcileError> {
    let now = Timestamp::now();
    let generation = obj.meta().generation;
    let started = tokio::time::Instant::now();
    let result =
        crate::metrics::count_calls(K::KIND, obj.apply(&ctx.engine, &ctx.objects, now)).await;
    tracing::debug!(kind = K::KIND, name = %obj.name_any(), elapsed = ?started.elapsed(), "reconciled");
    match result {
        Ok(out) => {
            ctx.failures.lock().remove(&key(&*obj));
            let mut status = out.status.clone();
            apply_verdict(&mut status, &out.verdict, generation, now);
            write_status(ctx, &*obj, &status).await?;
            for n in &out.notes {
                ctx.publish(&*obj, n).await;
            }
            let outcome = match &out.verdict {
                Verdict::Ready(_) => "ready",
                Verdict::Progressing { .. } => "progressing",
                Verdict::Stalled { .. } => "stalled",
            };
            crate::metrics::reconcile(K::KIND, outcome);
            if let Verdict::Stalled { reason, message } = &out.verdict {
                let was_stalled = obj
                    .status()
                    .is_some_and(|s| conditions::is_true(s.conditions(), conditions::STALLED));
                if !was_stalled {
                    ctx.publish(&*obj, &Note::warning(reason, message.clone()))
                        .await;
                }
            }
            Ok(Action::requeue(out.requeue))
        }
        Err(e) => {
            crate::metrics::reconcile_error(K::KIND, &format!("{:?}", e.class()).to_lowercase());
            let (verdict, after) = error_verdict(&e);
            let mut status = obj.status().cloned().unwrap_or_default();
            let was_ready = conditions::is_true(status.conditions(), conditions::READY);
            let class = e.class();
            // A transient error on a Ready object (e.g. one failed drift read) leaves it Ready.
            if !(was_ready && class == ErrorClass::Transient) {
                apply_verdict(&mut status, &verdict, generation, now);
                write_status(ctx, &*obj, &status).await?;
            }
            match class {
                ErrorClass::Terminal => {
                    if !obj
                        .status()
                        .is_some_and(|s| conditions::is_true(s.conditions(), conditions::STALLED))
                    {
                        ctx.publish(&*obj, &Note::warning("ConnectRejected", e.to_string()))
                            .await;
                    }
                    Ok(Action::requeue(ctx.engine.resync))
                }
                ErrorClass::Waiting => Ok(Action::requeue(after.unwrap_or(Duration::from_secs(5)))),
                ErrorClass::Transient => {
                    let n = {
                        let mut f = ctx.failures.lock();
                        let n = f.entry(key(&*obj)).or_insert(0);
                        *n += 1;
                        *n
                    };
                    tracing::warn!(kind = K::KIND, name = %obj.name_any(), error = %e, attempt = n, "transient error");
                    Ok(Action::requeue(backoff(n)))
                }
            }
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
            FinalizerEvent::Apply(obj) => apply_one(obj, &ctx2).await,
            FinalizerEvent::Cleanup(obj) => match obj.cleanup(&ctx2.engine, &ctx2.objects).await {
                Ok(None) => {
                    ctx2.publish(
                        &*obj,
                        &Note::normal(
                            "Released",
                            "Connect resources released; removing the finalizer",
                        ),
                    )
                    .await;
                    Ok(Action::await_change())
                }
                // The finalizer helper only removes the finalizer on Ok: make it retry.
                Ok(Some(why)) => Err(ReconcileError::Connect(ConnectError::NotReady(why))),
                Err(e) => Err(ReconcileError::Connect(e)),
            },
        }
    })
    .await
}

fn error_policy<K: Managed>(
    obj: Arc<K>,
    err: &kube::runtime::finalizer::Error<ReconcileError>,
    ctx: Arc<Ctx>,
) -> Action {
    let n = {
        let mut f = ctx.failures.lock();
        let n = f.entry(key(&*obj)).or_insert(0);
        *n += 1;
        *n
    };
    tracing::warn!(kind = K::KIND, name = %obj.name_any(), error = %err, "reconcile failed");
    Action::requeue(backoff(n.min(4)))
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

fn group_ref_of<K>(name_of: fn(&K) -> &str) -> impl Fn(&K, &str) -> bool {
    move |k, g| name_of(k) == g
}

fn scoped<K: Managed>(client: &Client, namespace: Option<&str>) -> Api<K> {
    match namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    }
}

/// Runs the five controllers until shutdown, over every namespace or just `namespace`, each
/// reconciling at most `concurrency` objects at once.
pub async fn run(client: Client, engine: Arc<Engine>, namespace: Option<String>, concurrency: u16) {
    let ctx = Arc::new(Ctx::new(client.clone(), engine));
    let limits = kube::runtime::controller::Config::default().concurrency(concurrency);
    let cfg = watcher::Config::default();
    let ns = namespace.as_deref();
    let all = |c: &Client| {
        (
            scoped::<InstanceReplica>(c, ns),
            scoped::<TrafficDistributionGroup>(c, ns),
        )
    };

    let (reps, groups) = all(&client);
    let replicas = Controller::new(reps, cfg.clone())
        .with_config(limits.clone())
        .shutdown_on_signal()
        .run(
            reconcile::<InstanceReplica>,
            error_policy::<InstanceReplica>,
            ctx.clone(),
        );

    let tdg_ctrl = Controller::new(groups.clone(), cfg.clone()).with_config(limits.clone());
    let tdg_store = tdg_ctrl.store();
    let (reps2, _) = all(&client);
    let tdgs = tdg_ctrl
        .watches(reps2, cfg.clone(), move |rep: InstanceReplica| {
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
                .map(|g| kube::runtime::reflector::ObjectRef::from_obj(&*g))
                .collect::<Vec<_>>()
        })
        .shutdown_on_signal()
        .run(
            reconcile::<TrafficDistributionGroup>,
            error_policy::<TrafficDistributionGroup>,
            ctx.clone(),
        );

    macro_rules! dependent {
        ($kind:ty, $get:expr) => {{
            let c = Controller::new(scoped::<$kind>(&client, ns), cfg.clone())
                .with_config(limits.clone());
            let store = c.store();
            let matches = group_ref_of::<$kind>($get);
            c.watches(
                groups.clone(),
                cfg.clone(),
                move |g: TrafficDistributionGroup| {
                    let ns = g.namespace();
                    let name = g.name_any();
                    store
                        .state()
                        .into_iter()
                        .filter(|o| o.namespace() == ns && matches(o, &name))
                        .map(|o| kube::runtime::reflector::ObjectRef::from_obj(&*o))
                        .collect::<Vec<_>>()
                },
            )
            .shutdown_on_signal()
            .run(reconcile::<$kind>, error_policy::<$kind>, ctx.clone())
        }};
    }
    let agms = dependent!(AgentMembership, |o: &AgentMembership| o
        .spec
        .group_ref
        .name
        .as_str());
    let tdists = dependent!(TrafficDistribution, |o: &TrafficDistribution| o
        .spec
        .group_ref
        .name
        .as_str());
    let cdls = dependent!(CallerDenylist, |o: &CallerDenylist| o
        .spec
        .group_ref
        .name
        .as_str());

    tokio::join!(
        replicas.for_each(run_log("InstanceReplica")),
        tdgs.for_each(run_log("TrafficDistributionGroup")),
        agms.for_each(run_log("AgentMembership")),
        tdists.for_each(run_log("TrafficDistribution")),
        cdls.for_each(run_log("CallerDenylist")),
    );
}
