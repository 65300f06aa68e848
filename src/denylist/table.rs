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
//! The decisions are `super::plan::plan_table` and [`plan_entries`] (pure); the calls are
//! `super::steps`.

use std::collections::BTreeSet;
use std::future::Future;

use super::entry::{Entry, EntryCounts, Source};
use super::error::DenylistError;

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

#[cfg(test)]
#[path = "table_tests.rs"]
mod tests;
