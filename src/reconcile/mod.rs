//! The reconcile engine, one file per kind: dereference -> desired -> observe -> plan -> execute
//! -> status. It is Kubernetes-free apart from the CRD types, so `connect-gr demo` runs the very
//! same code without a cluster; `k8s.rs` wraps it in kube-rs controllers with the finalizer.

pub mod cache;
pub mod denylist;
pub mod distribution;
pub mod drill;
pub mod driver;
pub mod fallback;
pub mod gates;
pub mod group;
pub mod group_reads;
pub mod k8s;
pub mod membership;
pub mod membership_batch;
pub mod membership_cleanup;
pub mod modes;
pub mod preflight;
pub mod replica;
pub mod steps;
pub mod webhook;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use k8s_openapi::jiff::Timestamp;
use parking_lot::Mutex;

use crate::api::{self, InstanceReplica, RegionPairs, TrafficDistributionGroup, conditions};
use crate::connect::{ConnectApi, ConnectError, ErrorClass};

/// A read of another Kubernetes object that failed. It is never taken to mean "absent": the pass
/// ends with a transient error and nothing is written on the strength of it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("reading {what} failed: {message}")]
pub struct ReadError {
    /// What was read, e.g. `TrafficDistributionGroup support/support-default`.
    pub what: String,
    pub message: String,
}

/// Lookups of the other objects a resource refers to (same namespace). `Ok(None)` means the
/// API server answered that the object does not exist; any other failure is an `Err`.
#[async_trait]
pub trait Objects: Send + Sync {
    async fn replica(
        &self,
        namespace: &str,
        name: &str,
    ) -> Result<Option<InstanceReplica>, ReadError>;
    async fn group(
        &self,
        namespace: &str,
        name: &str,
    ) -> Result<Option<TrafficDistributionGroup>, ReadError>;
    /// Every AgentMembership of the namespace.
    async fn memberships(&self, namespace: &str) -> Result<Vec<api::AgentMembership>, ReadError>;
    async fn distribution(
        &self,
        namespace: &str,
        name: &str,
    ) -> Result<Option<api::TrafficDistribution>, ReadError>;
    /// Every FailoverDrill of the namespace.
    async fn drills(&self, namespace: &str) -> Result<Vec<api::FailoverDrill>, ReadError>;
    /// Writes `status` (carrying `pendingSplit`) before a split write is sent, so a crash between
    /// the write and the pass's status write is not read as drift after a restart. Where status
    /// lives only in memory (demo, tests) there is nothing to do.
    async fn record_intent(
        &self,
        _obj: &api::TrafficDistribution,
        _status: &api::TrafficDistributionStatus,
    ) -> Result<(), ReadError> {
        Ok(())
    }
}

/// Why a pass could not finish. The class decides the condition, the Event, the requeue and the
/// metric label, in one place (`driver::settle`).
#[derive(Debug, Clone, thiserror::Error)]
pub enum PassError {
    #[error("Connect: {0}")]
    Connect(#[from] ConnectError),
    #[error("Kubernetes: {0}")]
    Read(#[from] ReadError),
}

impl PassError {
    pub fn class(&self) -> ErrorClass {
        match self {
            Self::Connect(e) => e.class(),
            Self::Read(_) => ErrorClass::Transient,
        }
    }
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::Connect(e) => e.retry_after(),
            Self::Read(_) => None,
        }
    }
}

/// What one pass did: the status as far as it got (each executed step records its effect here
/// before the next runs), Events for the actions it took, and how it ended. The driver writes the
/// status even when the pass ends in an error, so no write's effect is forgotten.
#[derive(Debug, Clone)]
pub struct Pass<S> {
    pub status: S,
    pub notes: Vec<Note>,
    pub result: Result<Ending, PassError>,
}

/// Shared by every reconcile pass.
pub struct Engine {
    pub connect: Arc<dyn ConnectApi>,
    pub pairs: RegionPairs,
    /// Drift-check period in steady state.
    pub resync: Duration,
    /// `--drift-policy`: what to do with changes made outside the controller when an object's
    /// spec.driftPolicy is not set.
    pub drift_policy: api::DriftPolicy,
    /// Longest a bulk membership batch runs before progress is written to status.
    pub batch_window: Duration,
    /// Known members per group ARN, so a 5,000-agent group is not re-read (500 pages) each pass
    /// but swept in the background, paced over the resync period.
    pub members: cache::MembersCache,
    /// First reads of a group's members under way (one per group at a time).
    pub member_reads: cache::FirstReads,
    /// Pages per second membership sweeps may read (the background budget of
    /// ListTrafficDistributionGroupUsers).
    pub sweep_rate: f64,
    /// Instance users per (region, instance, detailed), shared by the memberships of one resync.
    pub users: Mutex<HashMap<cache::UsersKey, Arc<cache::CachedUsers>>>,
    /// Group observations per ARN, shared by the kinds that refer to the group.
    pub groups: group_reads::GroupsCache,
    pub denylist: Option<Arc<dyn crate::reconcile::denylist::DenylistBackend>>,
    /// `connect-gr controller --observe-only`: every object in observe mode.
    pub observe_only: bool,
    /// `--allowed-webhook-hosts`: the only hosts webhook gates call.
    pub webhook_hosts: Arc<crate::plan::webhook_hosts::AllowedHosts>,
    /// Which region recently did not answer (`fallback::in_either` asks it second for a while).
    pub health: fallback::Health,
    /// `--writer-lease-table`: writes only while this cluster holds the writer lease.
    pub writer: Option<Arc<crate::writer_lease::WriterLease>>,
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
            drift_policy: api::DriftPolicy::Correct,
            batch_window: Duration::from_secs(20),
            members: Arc::default(),
            member_reads: Default::default(),
            sweep_rate: 1.0,
            users: Mutex::new(HashMap::new()),
            groups: Arc::default(),
            denylist: None,
            observe_only: false,
            webhook_hosts: Arc::default(),
            health: fallback::Health::default(),
            writer: None,
        }
    }

    /// An engine for one observe-mode pass: the same settings, Connect behind `dry` (writes
    /// recorded, not sent) and caches of its own, so recorded writes never pass for real ones.
    pub fn observer(&self, dry: Arc<crate::connect::DryRun>) -> Engine {
        Engine {
            connect: dry,
            pairs: self.pairs.clone(),
            resync: self.resync,
            batch_window: self.batch_window,
            members: Arc::default(),
            member_reads: Default::default(),
            sweep_rate: self.sweep_rate,
            users: Mutex::new(HashMap::new()),
            groups: Arc::default(),
            // Its reads only: an observer's passes never reach their execute step.
            denylist: self.denylist.clone(),
            observe_only: true,
            drift_policy: self.drift_policy,
            webhook_hosts: self.webhook_hosts.clone(),
            health: self.health.clone(),
            writer: None,
        }
    }
}

pub use crate::plan::{Ending, Note, PROGRESS_REQUEUE, Verdict};

/// The status types all carry conditions and observedGeneration.
pub trait HasConditions {
    fn conditions_mut(&mut self) -> &mut Vec<Condition>;
    fn conditions(&self) -> &[Condition];
    fn set_observed_generation(&mut self, generation: Option<i64>);
    fn observed_generation(&self) -> Option<i64>;
    fn set_plan(&mut self, plan: Option<api::common::PlannedCalls>);
    fn plan(&self) -> Option<&api::common::PlannedCalls>;
    fn last_handled_reconcile_now(&self) -> Option<&str>;
    fn set_last_handled_reconcile_now(&mut self, value: Option<String>);
    fn set_writer(&mut self, writer: Option<api::common::Writer>);
}

macro_rules! has_conditions {
    ($($t:ty),*) => {$(
        impl HasConditions for $t {
            fn conditions_mut(&mut self) -> &mut Vec<Condition> { &mut self.conditions }
            fn conditions(&self) -> &[Condition] { &self.conditions }
            fn set_observed_generation(&mut self, generation: Option<i64>) { self.observed_generation = generation; }
            fn observed_generation(&self) -> Option<i64> { self.observed_generation }
            fn set_plan(&mut self, plan: Option<api::common::PlannedCalls>) { self.plan = plan; }
            fn plan(&self) -> Option<&api::common::PlannedCalls> { self.plan.as_ref() }
            fn last_handled_reconcile_now(&self) -> Option<&str> { self.last_handled_reconcile_now.as_deref() }
            fn set_last_handled_reconcile_now(&mut self, value: Option<String>) { self.last_handled_reconcile_now = value; }
            fn set_writer(&mut self, writer: Option<api::common::Writer>) { self.writer = writer; }
        }
    )*};
}
has_conditions!(
    api::InstanceReplicaStatus,
    api::TrafficDistributionGroupStatus,
    api::AgentMembershipStatus,
    api::TrafficDistributionStatus,
    api::CallerDenylistStatus,
    api::FailoverDrillStatus
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
            conditions::mark_ready(c, generation, api::reasons::RECONCILED, msg, now);
        }
        Verdict::Progressing { reason, message } if reason == api::reasons::DRIFT_DETECTED => {
            conditions::mark_drifted(c, generation, reason, message, now);
        }
        Verdict::Progressing { reason, message } => {
            conditions::mark_reconciling(c, generation, reason, message, now);
        }
        Verdict::Stalled { reason, message } => {
            conditions::mark_stalled(c, generation, reason, message, now);
        }
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

/// Dereferences `groupRef`: `Ok(Err(ending))` while the group does not exist or is not ACTIVE
/// yet (the pass waits), `Err` when it could not be read.
pub async fn resolve_group(
    objects: &dyn Objects,
    namespace: &str,
    name: &str,
) -> Result<Result<GroupRef, Ending>, ReadError> {
    resolve_group_for(objects, namespace, name, false).await
}

/// As [`resolve_group`]; `updating`: see [`group_identity`].
pub async fn resolve_group_for(
    objects: &dyn Objects,
    namespace: &str,
    name: &str,
    updating: bool,
) -> Result<Result<GroupRef, Ending>, ReadError> {
    let Some(g) = objects.group(namespace, name).await? else {
        return Ok(Err(Ending::wait(
            api::reasons::GROUP_NOT_FOUND,
            format!("TrafficDistributionGroup {name} does not exist in namespace {namespace} yet"),
        )));
    };
    Ok(group_identity(&g, updating).ok_or_else(|| {
        Ending::wait(
            api::reasons::WAITING_FOR_GROUP,
            format!("TrafficDistributionGroup {name} is not ACTIVE yet"),
        )
    }))
}

/// The group's identity, from its status, once it is ACTIVE (or Ready).
pub fn group_ref(g: &TrafficDistributionGroup) -> Option<GroupRef> {
    group_identity(g, false)
}

/// As [`group_ref`]; with `updating`, also while the group is UPDATE_IN_PROGRESS after a split
/// change (the TrafficDistribution pass checks ACTIVE itself with a fresh read, so a second
/// failover does not wait for the group's own pass to record ACTIVE again).
pub fn group_identity(g: &TrafficDistributionGroup, updating: bool) -> Option<GroupRef> {
    let st = g.status.as_ref()?;
    let active = st.status.as_deref() == Some("ACTIVE")
        || (updating && st.status.as_deref() == Some("UPDATE_IN_PROGRESS"))
        || conditions::is_true(&st.conditions, conditions::READY);
    if !active {
        return None;
    }
    Some(GroupRef {
        arn: st.arn.clone()?,
        id: st.id.clone()?,
        instance_id: crate::connect::instance_id_of(st.instance_arn.as_deref()?).to_string(),
        source_region: st.source_region.clone()?,
        replica_region: st.replica_region.clone()?,
        is_default: st.is_default.unwrap_or(false),
    })
}

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
}
