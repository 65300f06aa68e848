//! The one way through a reconcile pass. The controller (`k8s.rs`), `connect-gr demo`,
//! `connect-gr plan` and every benchmark call [`run_pass`] / [`run_cleanup`]; what they do with
//! the result (write status to the API server or to the demo's world, publish Events, requeue) is
//! theirs, what the result *is* is decided here, by the pure [`settle`].
//!
//! A pass is `apply` of the kind (its six steps: dereference, desired, observe, plan, execute,
//! status), returning a [`Pass`]: the status as far as it got, notes for the actions it took, and
//! how it ended. `settle` turns that into the status to write (conditions, observedGeneration),
//! the Events to publish (actions, plus condition *transitions* only), the requeue and the
//! metric label.

use std::fmt::Debug;
use std::time::Duration;

use async_trait::async_trait;
use k8s_openapi::jiff::Timestamp;
use kube::Resource;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::*;
use crate::api::annotations::{self, ManagementPolicy, Pause};
use crate::api::reasons;
use crate::api::{AgentMembership, CallerDenylist, FailoverDrill, TrafficDistribution};

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
    fn set_status(&mut self, status: Self::Status);
    async fn apply(
        &self,
        engine: &Engine,
        objects: &dyn Objects,
        now: Timestamp,
    ) -> Pass<Self::Status>;
    /// `Ok(None)` when the Connect side is released; `Ok(Some(why))` while it is not yet.
    async fn cleanup(
        &self,
        _engine: &Engine,
        _objects: &dyn Objects,
    ) -> Result<Option<String>, PassError> {
        Ok(None)
    }
}

macro_rules! managed {
    ($kind:ty, $status:ty, $apply:expr, $cleanup:expr) => {
        #[async_trait]
        impl Managed for $kind {
            type Status = $status;
            const KIND: &'static str = stringify!($kind);
            fn status(&self) -> Option<&Self::Status> {
                self.status.as_ref()
            }
            fn set_status(&mut self, status: Self::Status) {
                self.status = Some(status);
            }
            async fn apply(
                &self,
                engine: &Engine,
                objects: &dyn Objects,
                now: Timestamp,
            ) -> Pass<Self::Status> {
                $apply(engine, self, objects, now).await
            }
            async fn cleanup(
                &self,
                engine: &Engine,
                objects: &dyn Objects,
            ) -> Result<Option<String>, PassError> {
                $cleanup(engine, self, objects).await
            }
        }
    };
}

async fn nothing_to_release<K: Sync>(
    _: &Engine,
    _: &K,
    _: &dyn Objects,
) -> Result<Option<String>, PassError> {
    Ok(None)
}

managed!(
    InstanceReplica,
    api::InstanceReplicaStatus,
    replica::apply,
    nothing_to_release
);
managed!(
    TrafficDistributionGroup,
    api::TrafficDistributionGroupStatus,
    group::apply,
    group::cleanup
);
managed!(
    AgentMembership,
    api::AgentMembershipStatus,
    membership::apply,
    membership::cleanup
);
managed!(
    TrafficDistribution,
    api::TrafficDistributionStatus,
    distribution::apply,
    nothing_to_release
);
managed!(
    CallerDenylist,
    api::CallerDenylistStatus,
    denylist::apply,
    denylist::cleanup
);
managed!(
    FailoverDrill,
    api::FailoverDrillStatus,
    drill::apply,
    nothing_to_release
);

/// When to look at the object again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Requeue {
    After(Duration),
    /// Exponential backoff with jitter for this many consecutive transient failures.
    Backoff(u32),
}

impl Requeue {
    /// The delay, with jitter for backoff (so objects that failed together do not retry together).
    pub fn delay(self) -> Duration {
        match self {
            Self::After(d) => d,
            Self::Backoff(n) => backoff_base(n).mul_f64(rand::random::<f64>() * 0.3 + 0.85),
        }
    }
}

/// 0.5 s doubling per failure, at most 5 minutes.
pub fn backoff_base(failures: u32) -> Duration {
    (Duration::from_millis(500) * 2u32.saturating_pow(failures.saturating_sub(1).min(10)))
        .min(Duration::from_secs(300))
}

/// What a pass comes to.
#[derive(Debug, Clone)]
pub struct Settled<S> {
    /// The status to write (compare before writing: it may equal the current one).
    pub status: S,
    pub verdict: Verdict,
    /// Actions taken, and the condition transition if there was one.
    pub events: Vec<Note>,
    pub requeue: Requeue,
    /// Consecutive transient failures after this pass (0 after a pass that ended).
    pub failures: u32,
    /// Metric label: `ready`, `progressing`, `stalled`, or the error class.
    pub outcome: &'static str,
}

/// A Ready object keeps its Ready condition through this many consecutive transient failures
/// (one failed drift read is not an outage); after that it says it is retrying.
pub const TRANSIENT_FAILURES_TOLERATED_WHEN_READY: u32 = 3;

/// The verdict for an error that ended a pass.
pub fn error_verdict(e: &PassError) -> Verdict {
    match (e, e.class()) {
        (PassError::Read(r), _) => Verdict::progressing(
            reasons::KUBERNETES_READ_FAILED,
            format!("{r}; retrying, nothing is changed until it can be read"),
        ),
        (PassError::Connect(c), ErrorClass::Terminal) => Verdict::stalled(
            &format!("{}{}", reasons::CONNECT_PREFIX, variant_name(c)),
            format!("Connect rejected the request: {c}"),
        ),
        (PassError::Connect(c), ErrorClass::Waiting) => {
            Verdict::progressing(reasons::WAITING, format!("waiting for Connect: {c}"))
        }
        (PassError::Connect(c), ErrorClass::Transient) => Verdict::progressing(
            reasons::RETRYING_AFTER_ERROR,
            format!("retrying after a transient error: {c}"),
        ),
    }
}

fn variant_name(e: &ConnectError) -> &'static str {
    match e {
        ConnectError::NotFound(_) => "NotFound",
        ConnectError::Throttled(_) => "Throttled",
        ConnectError::Conflict(_) => "Conflict",
        ConnectError::InUse(_) => "InUse",
        ConnectError::Invalid(_) => "InvalidRequest",
        ConnectError::AccessDenied(_) => "AccessDenied",
        ConnectError::NotReady(_) => "NotReady",
        ConnectError::QuotaExceeded(_) => "QuotaExceeded",
        ConnectError::Transient(_) => "Transient",
        ConnectError::TimedOut(_) => "TimedOut",
    }
}

/// The facts about the object a pass is settled against.
#[derive(Debug, Clone, Copy)]
pub struct Context {
    pub generation: Option<i64>,
    pub now: Timestamp,
    /// Consecutive transient failures before this pass.
    pub failures: u32,
    pub resync: Duration,
    /// The object is being deleted (cleanup): its conditions always say what holds it.
    pub deleting: bool,
}

/// Pure: a pass's result and the object's previous status -> the status, Events, requeue and
/// metric label.
pub fn settle<S: HasConditions + Clone>(
    previous: Option<&S>,
    pass: Pass<S>,
    cx: Context,
) -> Settled<S> {
    let Context {
        generation,
        now,
        failures,
        resync,
        deleting,
    } = cx;
    let Pass {
        mut status,
        mut notes,
        result,
    } = pass;
    let previously_settled = !deleting
        && previous.is_some_and(|p| settled(generation, p.observed_generation(), p.conditions()));
    let (verdict, requeue, failures, outcome) = match result {
        Ok(end) => {
            let outcome = match &end.verdict {
                Verdict::Ready(_) => "ready",
                Verdict::Progressing { reason, .. } if reason == reasons::DRIFT_DETECTED => {
                    "drifted"
                }
                Verdict::Progressing { .. } => "progressing",
                Verdict::Stalled { .. } => "stalled",
            };
            apply_verdict(&mut status, &end.verdict, generation, now);
            (end.verdict, Requeue::After(end.requeue), 0, outcome)
        }
        Err(e) => {
            let verdict = error_verdict(&e);
            let (requeue, failures, outcome) = match e.class() {
                ErrorClass::Terminal => (Requeue::After(resync), 0, "terminal"),
                ErrorClass::Waiting => (
                    Requeue::After(e.retry_after().unwrap_or(Duration::from_secs(5))),
                    failures,
                    "waiting",
                ),
                ErrorClass::Transient => {
                    (Requeue::Backoff(failures + 1), failures + 1, "transient")
                }
            };
            let keep_ready = previously_settled
                && e.class() == ErrorClass::Transient
                && failures <= TRANSIENT_FAILURES_TOLERATED_WHEN_READY;
            if !keep_ready {
                apply_verdict(&mut status, &verdict, generation, now);
            }
            (verdict, requeue, failures, outcome)
        }
    };
    if let Some(t) = transition(previous.map(|p| p.conditions()), status.conditions()) {
        notes.push(t);
    }
    Settled {
        status,
        verdict,
        events: notes,
        requeue,
        failures,
        outcome,
    }
}

/// The condition that says where the object stands: Stalled if true, else Ready if true, else
/// Reconciling.
fn headline(conds: &[Condition]) -> Option<&Condition> {
    [conditions::STALLED, conditions::READY]
        .iter()
        .filter_map(|t| conditions::get(conds, t))
        .find(|c| c.status == conditions::TRUE)
        .or_else(|| conditions::get(conds, conditions::RECONCILING))
}

/// An Event when the headline condition changed type or reason: becoming Ready (Normal),
/// Stalled (Warning), or Reconciling after an error (Warning). Progress within a state, and a
/// state that holds over many passes, publish nothing.
pub fn transition(before: Option<&[Condition]>, after: &[Condition]) -> Option<Note> {
    let new = headline(after)?;
    let old = before.and_then(headline);
    if old.is_some_and(|o| o.type_ == new.type_ && o.reason == new.reason) {
        return None;
    }
    let error_reasons = [
        reasons::RETRYING_AFTER_ERROR,
        reasons::KUBERNETES_READ_FAILED,
    ];
    match new.type_.as_str() {
        conditions::READY => Some(Note::normal(reasons::RECONCILED, new.message.clone())),
        conditions::STALLED => Some(Note::warning(&new.reason, new.message.clone())),
        _ if error_reasons.contains(&new.reason.as_str()) => {
            Some(Note::warning(&new.reason, new.message.clone()))
        }
        _ => None,
    }
}

tokio::task_local! {
    /// Set while a pass runs for a new `connectgr.io/reconcile-now` value: every read is fresh.
    static FRESH: bool;
}

/// Whether the pass running on this task must read everything afresh (no cached members or
/// users), as `connectgr.io/reconcile-now` asks.
pub fn fresh_reads_requested() -> bool {
    FRESH.try_with(|f| *f).unwrap_or(false)
}

/// Runs one pass of `obj` and settles it; records the reconcile metric. The lifecycle
/// annotations are honoured here, for every kind: `paused` (no reads, no writes),
/// `management-policy: Observe` / `--observe-only` (writes recorded in `status.plan`, not sent),
/// `reconcile-now` (fresh reads, the value recorded once handled).
pub async fn run_pass<K: Managed>(
    engine: &Engine,
    objects: &dyn Objects,
    obj: &K,
    now: Timestamp,
    failures: u32,
) -> Settled<K::Status> {
    let empty = std::collections::BTreeMap::new();
    let ann = obj.meta().annotations.as_ref().unwrap_or(&empty);
    let cx = Context {
        generation: obj.meta().generation,
        now,
        failures,
        resync: engine.resync,
        deleting: false,
    };
    let pause = annotations::pause(ann, now);
    if pause != Pause::No {
        let out = paused(obj.status(), &pause, cx);
        crate::metrics::reconcile(K::KIND, out.outcome);
        return out;
    }
    let refresh = annotations::reconcile_now_requested(
        ann,
        obj.status().and_then(|s| s.last_handled_reconcile_now()),
    )
    .map(str::to_string);
    // One writer across clusters: without the writer lease, a pass withholds its writes.
    let observe = crate::writer_lease::withheld(engine)
        || annotations::management_policy(ann, engine.observe_only) == ManagementPolicy::Observe;
    let run = async {
        if observe {
            observe_pass(engine, objects, obj, now).await
        } else {
            let mut pass = obj.apply(engine, objects, now).await;
            pass.status.set_plan(None);
            pass
        }
    };
    let mut pass = crate::metrics::count_calls(K::KIND, FRESH.scope(refresh.is_some(), run)).await;
    if let Err(e) = &pass.result {
        tracing::warn!(kind = K::KIND, name = ?obj.meta().name, error = %e, "pass ended in an error");
    }
    if let Some(v) = refresh {
        pass.status.set_last_handled_reconcile_now(Some(v));
    }
    let mut out = settle(obj.status(), pass, cx);
    if let Some(lease) = &engine.writer {
        out.status.set_writer(lease.writer());
    }
    if observe {
        hold_for_observe(obj.status(), &mut out, cx);
    }
    let was_paused = obj
        .status()
        .is_some_and(|s| conditions::is_true(s.conditions(), conditions::PAUSED));
    if conditions::remove(out.status.conditions_mut(), conditions::PAUSED) && was_paused {
        out.events
            .push(Note::normal(reasons::RESUMED, "no longer paused"));
    }
    crate::metrics::reconcile(K::KIND, out.outcome);
    out
}

impl<S> Settled<S> {
    pub fn verdict_message(&self) -> &str {
        match &self.verdict {
            Verdict::Ready(m)
            | Verdict::Progressing { message: m, .. }
            | Verdict::Stalled { message: m, .. } => m,
        }
    }
}

/// What a cleanup step comes to: done (remove the finalizer) or not yet, with the status that
/// says why and when to look again.
#[derive(Debug, Clone)]
pub enum CleanupSettled<S> {
    Released(Note),
    Holding(Settled<S>),
}

/// Runs the finalizer step of `obj`. While Connect is not released (or a read failed), the
/// finalizer stays and the status says why.
pub async fn run_cleanup<K: Managed>(
    engine: &Engine,
    objects: &dyn Objects,
    obj: &K,
    now: Timestamp,
    failures: u32,
) -> CleanupSettled<K::Status> {
    let empty = std::collections::BTreeMap::new();
    let ann = obj.meta().annotations.as_ref().unwrap_or(&empty);
    if crate::writer_lease::withheld(engine)
        || annotations::management_policy(ann, engine.observe_only) == ManagementPolicy::Observe
    {
        // Observe mode writes nothing, not even on deletion: the object is released as is.
        return CleanupSettled::Released(Note::normal(
            reasons::RELEASED,
            "observe mode: Connect left as it is; removing the finalizer",
        ));
    }
    let result = crate::metrics::count_calls(K::KIND, obj.cleanup(engine, objects)).await;
    let result = match result {
        Ok(None) => {
            return CleanupSettled::Released(Note::normal(
                reasons::RELEASED,
                "Connect resources released; removing the finalizer",
            ));
        }
        Ok(Some(why)) => Ok(Ending::wait(reasons::DELETING, why)),
        Err(e) => {
            tracing::warn!(kind = K::KIND, name = ?obj.meta().name, error = %e, "cleanup failed; the finalizer stays");
            Err(e)
        }
    };
    let pass = Pass {
        status: obj.status().cloned().unwrap_or_default(),
        notes: vec![],
        result,
    };
    let cx = Context {
        generation: obj.meta().generation,
        now,
        failures,
        resync: engine.resync,
        deleting: true,
    };
    let out = settle(obj.status(), pass, cx);
    crate::metrics::reconcile(K::KIND, out.outcome);
    CleanupSettled::Holding(out)
}

pub use super::modes::{PLAN_LIST_CAP, paused};
use super::modes::{hold_for_observe, observe_pass};

#[cfg(test)]
#[path = "driver_tests.rs"]
mod tests;
