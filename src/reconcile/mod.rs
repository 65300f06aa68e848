//! The reconcile engine, one file per kind: dereference -> desired -> observe -> plan -> execute
//! -> status. It is Kubernetes-free apart from the CRD types, so `connect-gr demo` runs the very
//! same code without a cluster; `k8s.rs` wraps it in kube-rs controllers with the finalizer.

pub mod cache;
pub mod denylist;
pub mod distribution;
pub mod group;
pub mod k8s;
pub mod membership;
pub mod replica;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use k8s_openapi::jiff::Timestamp;
use parking_lot::Mutex;

use crate::api::{self, InstanceReplica, RegionPairs, TrafficDistributionGroup, conditions};
use crate::connect::{ConnectApi, ConnectError, ErrorClass};

/// Lookups of the other objects a resource refers to (same namespace).
#[async_trait]
pub trait Objects: Send + Sync {
    async fn replica(&self, namespace: &str, name: &str) -> Option<InstanceReplica>;
    async fn group(&self, namespace: &str, name: &str) -> Option<TrafficDistributionGroup>;
    /// Every AgentMembership of the namespace.
    async fn memberships(&self, namespace: &str) -> Vec<api::AgentMembership>;
}

/// Shared by every reconcile pass.
pub struct Engine {
    pub connect: Arc<dyn ConnectApi>,
    pub pairs: RegionPairs,
    /// Drift-check period in steady state.
    pub resync: Duration,
    /// Longest a bulk membership batch runs before progress is written to status.
    pub batch_window: Duration,
    /// Known members per group ARN, so a 5,000-agent group is not re-read (500 pages) each pass
    /// but swept in the background, paced over the resync period.
    pub members: cache::MembersCache,
    /// Pages per second membership sweeps may read (the background budget of
    /// ListTrafficDistributionGroupUsers).
    pub sweep_rate: f64,
    /// Instance users per (region, instance, detailed), shared by the memberships of one resync.
    pub users: Mutex<HashMap<cache::UsersKey, Arc<cache::CachedUsers>>>,
    pub denylist: Option<Arc<dyn crate::reconcile::denylist::DenylistBackend>>,
}

impl Engine {
    /// Sizes the membership sweeps from the scheduler's quota for ListTrafficDistributionGroupUsers
    /// and its background budget.
    pub fn with_sweep_budget(mut self, config: &crate::connect::SchedulerConfig) -> Self {
        let (rate, _) = config.quota("ListTrafficDistributionGroupUsers");
        self.sweep_rate = rate * config.background_budget;
        self
    }

    pub fn new(connect: Arc<dyn ConnectApi>, resync: Duration) -> Self {
        Self {
            connect,
            pairs: RegionPairs::default(),
            resync,
            batch_window: Duration::from_secs(20),
            members: Arc::default(),
            sweep_rate: 1.0,
            users: Mutex::new(HashMap::new()),
            denylist: None,
        }
    }
}

/// An Event to publish on the object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    pub warning: bool,
    pub reason: String,
    pub message: String,
}

impl Note {
    pub fn normal(reason: &str, message: impl Into<String>) -> Self {
        Self {
            warning: false,
            reason: reason.into(),
            message: message.into(),
        }
    }
    pub fn warning(reason: &str, message: impl Into<String>) -> Self {
        Self {
            warning: true,
            reason: reason.into(),
            message: message.into(),
        }
    }
}

/// Where the object stands after a pass (maps onto Ready / Reconciling / Stalled).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Ready(String),
    Progressing { reason: String, message: String },
    Stalled { reason: String, message: String },
}

/// The result of one pass: the new status, when to look again, and Events to publish.
#[derive(Debug, Clone)]
pub struct Outcome<S> {
    pub status: S,
    pub verdict: Verdict,
    pub requeue: Duration,
    pub notes: Vec<Note>,
}

/// The status types all carry conditions and observedGeneration.
pub trait HasConditions {
    fn conditions_mut(&mut self) -> &mut Vec<Condition>;
    fn conditions(&self) -> &[Condition];
    fn set_observed_generation(&mut self, generation: Option<i64>);
}

macro_rules! has_conditions {
    ($($t:ty),*) => {$(
        impl HasConditions for $t {
            fn conditions_mut(&mut self) -> &mut Vec<Condition> { &mut self.conditions }
            fn conditions(&self) -> &[Condition] { &self.conditions }
            fn set_observed_generation(&mut self, generation: Option<i64>) { self.observed_generation = generation; }
        }
    )*};
}
has_conditions!(
    api::InstanceReplicaStatus,
    api::TrafficDistributionGroupStatus,
    api::AgentMembershipStatus,
    api::TrafficDistributionStatus,
    api::CallerDenylistStatus
);

/// Whether the object's current spec was applied and it is Ready, so that a difference found now
/// was made behind the controller's back (drift), and reads are drift checks.
pub fn settled(
    generation: Option<i64>,
    observed_generation: Option<i64>,
    conds: &[Condition],
) -> bool {
    generation == observed_generation && conditions::is_true(conds, conditions::READY)
}

/// Writes the verdict into the conditions (kstatus) and observedGeneration.
pub fn apply_verdict<S: HasConditions>(
    status: &mut S,
    verdict: &Verdict,
    generation: Option<i64>,
    now: Timestamp,
) {
    status.set_observed_generation(generation);
    let c = status.conditions_mut();
    match verdict {
        Verdict::Ready(msg) => {
            conditions::mark_ready(c, generation, "Reconciled", msg, now);
        }
        Verdict::Progressing { reason, message } => {
            conditions::mark_reconciling(c, generation, reason, message, now);
        }
        Verdict::Stalled { reason, message } => {
            conditions::mark_stalled(c, generation, reason, message, now);
        }
    }
}

/// Turns a Connect error that escaped a pass into a verdict: terminal errors stall (no retry
/// storm: look again at the resync period), waiting ones progress, transient ones back off.
pub fn error_verdict(e: &ConnectError) -> (Verdict, Option<Duration>) {
    match e.class() {
        ErrorClass::Terminal => (
            Verdict::Stalled {
                reason: format!("Connect{}", variant_name(e)),
                message: format!("Connect rejected the request: {e}"),
            },
            None,
        ),
        ErrorClass::Waiting => (
            Verdict::Progressing {
                reason: "Waiting".into(),
                message: format!("waiting for Connect: {e}"),
            },
            e.retry_after(),
        ),
        ErrorClass::Transient => (
            Verdict::Progressing {
                reason: "RetryingAfterError".into(),
                message: format!("retrying after a transient error: {e}"),
            },
            None,
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
    }
}

/// Client tokens derive from the object's UID so a retry after a crash never creates twice.
pub fn client_token(uid: &str, purpose: &str) -> String {
    uuid::Uuid::new_v5(
        &uuid::Uuid::NAMESPACE_OID,
        format!("connectgr.io/{uid}/{purpose}").as_bytes(),
    )
    .to_string()
}

/// What a group reference resolves to, read from the referenced TrafficDistributionGroup's status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupRef {
    pub arn: String,
    pub id: String,
    pub instance_id: String,
    pub source_region: String,
    pub replica_region: String,
    pub is_default: bool,
}

/// Dereferences `groupRef`; `Err(verdict)` while it does not exist or is not known yet.
pub async fn resolve_group(
    objects: &dyn Objects,
    namespace: &str,
    name: &str,
) -> Result<GroupRef, Verdict> {
    let Some(g) = objects.group(namespace, name).await else {
        return Err(Verdict::Progressing {
            reason: "GroupNotFound".into(),
            message: format!(
                "TrafficDistributionGroup {name} does not exist in namespace {namespace} yet"
            ),
        });
    };
    let st = g.status.unwrap_or_default();
    match (
        st.arn,
        st.id,
        st.instance_arn,
        st.source_region,
        st.replica_region,
    ) {
        (Some(arn), Some(id), Some(instance_arn), Some(source_region), Some(replica_region))
            if st.status.as_deref() == Some("ACTIVE")
                || conditions::is_true(&st.conditions, conditions::READY) =>
        {
            Ok(GroupRef {
                arn,
                id,
                instance_id: crate::connect::instance_id_of(&instance_arn).to_string(),
                source_region,
                replica_region,
                is_default: st.is_default.unwrap_or(false),
            })
        }
        _ => Err(Verdict::Progressing {
            reason: "WaitingForGroup".into(),
            message: format!("TrafficDistributionGroup {name} is not ACTIVE yet"),
        }),
    }
}

/// Short requeue while something is in progress.
pub const PROGRESS_REQUEUE: Duration = Duration::from_secs(3);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_tokens_are_stable_per_uid_and_purpose() {
        assert_eq!(client_token("u1", "create"), client_token("u1", "create"));
        assert_ne!(client_token("u1", "create"), client_token("u2", "create"));
        assert_ne!(
            client_token("u1", "create"),
            client_token("u1", "replicate")
        );
    }

    #[test]
    fn terminal_errors_stall_and_are_not_retried_quickly() {
        let (v, after) = error_verdict(&ConnectError::Invalid(
            "sign-in on non-default group".into(),
        ));
        assert!(matches!(v, Verdict::Stalled { .. }));
        assert_eq!(after, None);
    }

    #[test]
    fn throttling_is_progress_with_a_known_delay() {
        let (v, after) = error_verdict(&ConnectError::Throttled("x".into()));
        assert!(matches!(v, Verdict::Progressing { .. }));
        assert!(after.is_some());
    }
}
