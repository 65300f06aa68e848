//! The table as a DynamoDB global table (L1, L4), and the sync of declared entries.
//!
//! Table, one pass (observe, then at most one mutation, never waiting inside the pass):
//! 1. `DescribeTable` in the source region; missing: `CreateTable` (`ContactNumber` S hash key,
//!    PAY_PER_REQUEST, stream NEW_AND_OLD_IMAGES, as global tables version 2019.11.21 need).
//! 2. Until `TableStatus` is ACTIVE: waiting. A table with another key schema: terminal.
//!    A stream that is off: `UpdateTable` to enable it (another view type: terminal).
//! 3. No replica in the replica region: if a standalone table of that name exists there (an
//!    operator followed the seed document in both regions) it cannot become a replica: terminal;
//!    else `UpdateTable ReplicaUpdates: [Create {RegionName}]`.
//! 4. The replica's `ReplicaStatus` in the source region's `DescribeTable` is classified by
//!    [`classify_replica_status`].
//!
//! Entries: [`plan_entries`] (pure) and [`sync_entries`] (execute with conditional writes).

use std::collections::BTreeSet;
use std::future::Future;

use super::entry::{Entry, EntryCounts, Source};
use super::error::DenylistError;
use super::handlers::DenylistStore;

/// What `DescribeTable` says, reduced to what the denylist needs.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct TableInfo {
    /// `TableStatus` (CREATING, UPDATING, ACTIVE, DELETING, ARCHIVED, ...).
    pub status: String,
    pub hash_key: Option<String>,
    /// `S`, `N` or `B`.
    pub hash_key_type: Option<String>,
    pub range_key: Option<String>,
    /// `Some(view type)` when the stream is enabled.
    pub stream_view_type: Option<String>,
    pub billing_mode: Option<String>,
    pub global_table_version: Option<String>,
    pub replicas: Vec<ReplicaInfo>,
    pub item_count: Option<i64>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct ReplicaInfo {
    pub region: String,
    /// `ReplicaStatus` (CREATING, ACTIVE, CREATION_FAILED, ...).
    pub status: String,
    pub status_description: Option<String>,
}

/// Table management in one region (the seam between the logic and DynamoDB).
pub trait TableAdmin: Send + Sync {
    fn region(&self) -> &str;
    fn table_name(&self) -> &str;
    /// `Ok(None)` when the table does not exist in this region.
    fn describe_table(
        &self,
    ) -> impl Future<Output = Result<Option<TableInfo>, DenylistError>> + Send;
    fn create_table(&self) -> impl Future<Output = Result<(), DenylistError>> + Send;
    fn enable_stream(&self) -> impl Future<Output = Result<(), DenylistError>> + Send;
    /// `UpdateTable` with `ReplicaUpdates: [{Create: {RegionName}}]`.
    fn create_replica(
        &self,
        replica_region: &str,
    ) -> impl Future<Output = Result<(), DenylistError>> + Send;
}

/// State of the table or of a replica in one region.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub enum TableState {
    /// Not there (yet).
    Missing,
    /// Being created or updated; check again later. The string is the AWS status.
    Waiting(String),
    Ready,
    /// Needs an operator: the AWS status and what it means.
    Failed {
        status: String,
        message: String,
    },
}

impl TableState {
    pub fn is_ready(&self) -> bool {
        matches!(self, TableState::Ready)
    }
}

/// Classifies a `TableStatus`.
pub fn classify_table_status(status: &str) -> TableState {
    match status {
        "ACTIVE" => TableState::Ready,
        "CREATING" | "UPDATING" => TableState::Waiting(status.to_string()),
        "DELETING" => failed(status, "the table is being deleted"),
        "INACCESSIBLE_ENCRYPTION_CREDENTIALS" => failed(
            status,
            "the table's KMS key is inaccessible; restore access to the key",
        ),
        "ARCHIVING" | "ARCHIVED" => failed(
            status,
            "the table was archived after its KMS key stayed inaccessible; restore it from backup",
        ),
        "" => TableState::Waiting("UNKNOWN".into()),
        other => TableState::Waiting(other.to_string()),
    }
}

/// Classifies a replica's `ReplicaStatus` (with `ReplicaStatusDescription`).
pub fn classify_replica_status(status: &str, description: Option<&str>) -> TableState {
    let with = |m: &str| match description {
        Some(d) if !d.is_empty() => format!("{m}: {d}"),
        _ => m.to_string(),
    };
    match status {
        "ACTIVE" => TableState::Ready,
        "CREATING" | "UPDATING" => TableState::Waiting(status.to_string()),
        "CREATION_FAILED" => failed(status, &with("creating the replica failed")),
        "DELETING" => failed(status, &with("the replica is being deleted")),
        "REGION_DISABLED" => failed(
            status,
            &with("the replica's region is disabled; enable it and recreate the replica"),
        ),
        "INACCESSIBLE_ENCRYPTION_CREDENTIALS" => failed(
            status,
            &with("the replica's KMS key is inaccessible; restore access to the key"),
        ),
        "ARCHIVING" | "ARCHIVED" => failed(status, &with("the replica was archived")),
        "REPLICATION_NOT_AUTHORIZED" => failed(
            status,
            &with(
                "replication is not authorized (check the account's permissions for global tables)",
            ),
        ),
        "" => TableState::Waiting("UNKNOWN".into()),
        other => TableState::Waiting(other.to_string()),
    }
}

fn failed(status: &str, message: &str) -> TableState {
    TableState::Failed {
        status: status.to_string(),
        message: message.to_string(),
    }
}

/// The table (or replica) in one region, as observed in this pass.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RegionTable {
    pub region: String,
    /// `TableStatus` (source region) or `ReplicaStatus` (replica region), as AWS reports it.
    pub status: Option<String>,
    pub state: TableState,
}

/// One pass of table management.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TableObservation {
    pub table_name: String,
    pub source: RegionTable,
    pub replica: Option<RegionTable>,
    /// Mutations made in this pass, e.g. `CreateTable us-west-2`.
    pub actions: Vec<String>,
    pub errors: Vec<DenylistError>,
}

impl TableObservation {
    /// Source ACTIVE and the replica (if one is wanted) ACTIVE.
    pub fn ready(&self) -> bool {
        self.source.state.is_ready() && self.replica.as_ref().is_none_or(|r| r.state.is_ready())
    }
}

/// One pass of table management: `source` in the source region, `replica` (an admin for the same
/// table name in the replica region) when a replica is wanted.
pub async fn ensure_global_table<A: TableAdmin, B: TableAdmin>(
    source: &A,
    replica: Option<&B>,
) -> TableObservation {
    let mut obs = TableObservation {
        table_name: source.table_name().to_string(),
        source: RegionTable {
            region: source.region().to_string(),
            status: None,
            state: TableState::Missing,
        },
        replica: replica.map(|r| RegionTable {
            region: r.region().to_string(),
            status: None,
            state: TableState::Missing,
        }),
        actions: Vec::new(),
        errors: Vec::new(),
    };
    let src_region = source.region().to_string();
    let info = match source.describe_table().await {
        Ok(i) => i,
        Err(e) => {
            obs.errors.push(e);
            return obs;
        }
    };
    let Some(info) = info else {
        match source.create_table().await {
            Ok(()) => {
                obs.actions.push(format!("CreateTable {src_region}"));
                obs.source.state = TableState::Waiting("CREATING".into());
            }
            Err(e) => obs.errors.push(e),
        }
        return obs;
    };
    obs.source.status = Some(info.status.clone());
    obs.source.state = classify_table_status(&info.status);
    if let TableState::Failed { message, status } = &obs.source.state {
        obs.errors.push(
            DenylistError::terminal("TableStatus", format!("{status}: {message}"))
                .in_region(&src_region),
        );
        return obs;
    }
    if let Some(e) = schema_error(&info) {
        obs.source.state = failed(&info.status, &e);
        obs.errors
            .push(DenylistError::terminal("DescribeTable", e).in_region(&src_region));
        return obs;
    }
    if !obs.source.state.is_ready() {
        return obs;
    }
    let Some(replica) = replica else {
        return obs;
    };
    let rep_region = replica.region().to_string();
    // The stream must be NEW_AND_OLD_IMAGES before a replica can be added.
    match info.stream_view_type.as_deref() {
        Some("NEW_AND_OLD_IMAGES") => {}
        None => {
            match source.enable_stream().await {
                Ok(()) => obs
                    .actions
                    .push(format!("UpdateTable {src_region} StreamSpecification")),
                Err(e) => obs.errors.push(e),
            }
            return obs;
        }
        Some(other) => {
            let msg = format!(
                "the table's stream has view type {other}; a global table needs NEW_AND_OLD_IMAGES (disable the stream, then the controller re-enables it)"
            );
            set_replica(&mut obs, None, failed("STREAM", &msg));
            obs.errors
                .push(DenylistError::terminal("StreamSpecification", msg).in_region(&src_region));
            return obs;
        }
    }
    if let Some(r) = info.replicas.iter().find(|r| r.region == rep_region) {
        let state = classify_replica_status(&r.status, r.status_description.as_deref());
        if let TableState::Failed { status, message } = &state {
            obs.errors.push(
                DenylistError::terminal("ReplicaStatus", format!("{status}: {message}"))
                    .in_region(&rep_region),
            );
        }
        set_replica(&mut obs, Some(r.status.clone()), state);
        return obs;
    }
    // No replica yet. A same-named table in the replica region that is not part of this global
    // table cannot become a replica.
    match replica.describe_table().await {
        Ok(Some(other)) if !other.replicas.iter().any(|r| r.region == src_region) => {
            let msg = format!(
                "a separate table {} already exists in {rep_region}; it cannot become the replica. Move its items to the source table, delete it, and the controller adds the replica",
                source.table_name()
            );
            set_replica(
                &mut obs,
                Some(other.status.clone()),
                failed("CONFLICT", &msg),
            );
            obs.errors
                .push(DenylistError::terminal("CreateReplica", msg).in_region(&rep_region));
            return obs;
        }
        Ok(_) => {}
        Err(e) => {
            obs.errors.push(e);
            return obs;
        }
    }
    match source.create_replica(&rep_region).await {
        Ok(()) => {
            obs.actions.push(format!(
                "UpdateTable {src_region} ReplicaUpdates Create {rep_region}"
            ));
            set_replica(&mut obs, None, TableState::Waiting("CREATING".into()));
        }
        Err(e) => obs.errors.push(e),
    }
    obs
}

fn set_replica(obs: &mut TableObservation, status: Option<String>, state: TableState) {
    if let Some(r) = obs.replica.as_mut() {
        r.status = status;
        r.state = state;
    }
}

/// Why an existing table cannot be the denylist table, if it cannot.
pub fn schema_error(info: &TableInfo) -> Option<String> {
    match (info.hash_key.as_deref(), info.hash_key_type.as_deref()) {
        (Some(super::entry::ATTR_NUMBER), Some("S")) if info.range_key.is_none() => None,
        (k, t) => Some(format!(
            "the table exists with key {}{} ({}); the denylist needs a ContactNumber string hash key and no sort key",
            k.unwrap_or("?"),
            info.range_key
                .as_deref()
                .map(|r| format!(" + sort key {r}"))
                .unwrap_or_default(),
            t.unwrap_or("?"),
        )),
    }
}

/// Writes and deletions that bring the table to the declared numbers.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct EntryPlan {
    /// Declared numbers with no entry at all: written as declared, owned by the owner.
    pub put: Vec<String>,
    /// Entries this owner declared that are no longer declared.
    pub delete: Vec<String>,
}

impl EntryPlan {
    pub fn is_empty(&self) -> bool {
        self.put.is_empty() && self.delete.is_empty()
    }
}

/// The pure plan: put the declared numbers that have no entry (an existing entry of any source,
/// in particular an agent flag, is left as it is), delete only entries that are
/// `Source = declared` with `ManagedBy = owner` and no longer declared. Never touches an
/// agent-flagged entry, a manual one, another owner's, or one without a known source.
pub fn plan_entries(declared: &BTreeSet<String>, observed: &[Entry], owner: &str) -> EntryPlan {
    let present: BTreeSet<&str> = observed.iter().map(|e| e.contact_number.as_str()).collect();
    let put = declared
        .iter()
        .filter(|n| !present.contains(n.as_str()))
        .cloned()
        .collect();
    let mut delete: Vec<String> = observed
        .iter()
        .filter(|e| e.is_managed_by(owner) && !declared.contains(&e.contact_number))
        .map(|e| e.contact_number.clone())
        .collect();
    delete.sort();
    delete.dedup();
    EntryPlan { put, delete }
}

/// The entry the controller writes for a declared number.
pub fn declared_entry(number: &str, owner: &str, now: &str) -> Entry {
    Entry {
        contact_number: number.to_string(),
        source: Source::Declared,
        added_by: Some(owner.to_string()),
        added_at: Some(now.to_string()),
        contact_id: None,
        instance_arn: None,
        managed_by: Some(owner.to_string()),
    }
}

/// The outcome of one entry sync.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct SyncReport {
    pub plan: EntryPlan,
    /// Declared numbers written in this pass.
    pub written: Vec<String>,
    /// Puts skipped because an entry appeared meanwhile (e.g. an agent flag).
    pub already_present: Vec<String>,
    pub deleted: Vec<String>,
    /// Deletions skipped because the entry changed meanwhile (e.g. an agent flagged it).
    pub kept: Vec<String>,
    /// Counts after this pass.
    pub counts: EntryCounts,
    /// Numbers this owner manages after this pass (declared by it and present as declared).
    pub managed: Vec<String>,
    /// Declared numbers that are present under another source (agent, manual, another owner).
    pub declared_elsewhere: Vec<String>,
}

/// Scans, plans and executes. `declared` must be normalised (see `normalize_declared`).
/// Conditional writes make every step safe against a concurrent agent flag: a put never
/// overwrites (`attribute_not_exists`), a delete needs `Source = declared AND ManagedBy = owner`.
pub async fn sync_entries<S: DenylistStore>(
    store: &S,
    declared: &BTreeSet<String>,
    owner: &str,
    now: &str,
) -> Result<SyncReport, DenylistError> {
    if owner.trim().is_empty() {
        return Err(DenylistError::terminal(
            "SyncEntries",
            "the owner (ManagedBy) must not be empty",
        ));
    }
    let mut entries = store.scan().await?;
    let plan = plan_entries(declared, &entries, owner);
    let mut report = SyncReport {
        plan: plan.clone(),
        ..Default::default()
    };
    for n in &plan.put {
        let e = declared_entry(n, owner, now);
        if store.put_if_absent(&e).await? {
            report.written.push(n.clone());
            entries.push(e);
        } else {
            report.already_present.push(n.clone());
        }
    }
    for n in &plan.delete {
        if store.delete_if_managed(n, owner).await? {
            report.deleted.push(n.clone());
            entries.retain(|e| &e.contact_number != n);
        } else {
            report.kept.push(n.clone());
        }
    }
    report.counts = EntryCounts::of(&entries);
    report.managed = entries
        .iter()
        .filter(|e| e.is_managed_by(owner))
        .map(|e| e.contact_number.clone())
        .collect();
    report.managed.sort();
    report.declared_elsewhere = entries
        .iter()
        .filter(|e| declared.contains(&e.contact_number) && !e.is_managed_by(owner))
        .map(|e| e.contact_number.clone())
        .collect();
    report.declared_elsewhere.sort();
    Ok(report)
}

#[cfg(test)]
#[path = "table_tests.rs"]
mod tests;
