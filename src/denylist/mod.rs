//! The caller denylist (rules L1-L4, R4): the DynamoDB table as a global table with a replica in
//! every region calls can land in, the declared entries, the association of the two Lambda
//! functions with the Connect instance in each region, and the two handlers' logic.
//!
//! Kubernetes-free: the `CallerDenylist` reconciler calls [`reconcile_denylist`] once per pass
//! and turns the [`DenylistObservation`] into status and conditions.

pub mod cli;
pub mod dynamo;
pub mod entry;
pub mod error;
pub mod handlers;
pub mod lambda_assoc;
pub mod number;
pub mod table;

use std::collections::BTreeSet;

use self::entry::EntryCounts;
use self::error::{DenylistError, ErrorClass};
use self::handlers::DenylistStore;
use self::lambda_assoc::{LambdaAssociations, RegionAssociation, ensure_associations};
use self::number::{NumberPolicy, normalize_with};
use self::table::{SyncReport, TableAdmin, TableObservation, ensure_global_table, sync_entries};

/// Desired state of one denylist.
#[derive(Debug, Clone)]
pub struct DenylistInput {
    /// Numbers declared in the spec, as written (normalised here).
    pub declared: Vec<String>,
    /// `ManagedBy` of the declared entries, e.g. `connectgr.io/<namespace>/<name>`.
    pub owner: String,
    pub number_policy: NumberPolicy,
    /// The Lambda association, when the spec names functions.
    pub lambda: Option<LambdaInput>,
    /// RFC 3339 time written as `AddedAt` of new declared entries.
    pub now: String,
}

#[derive(Debug, Clone)]
pub struct LambdaInput {
    /// Instance id (same in both regions) or instance ARN.
    pub instance_id: String,
    pub account_id: String,
    /// Function names (same in every region), e.g. `["denylist-add", "denylist-check"]`.
    pub function_names: Vec<String>,
}

/// The clients of one denylist: the table in the source region (and in the replica region), and
/// Connect in every region.
pub struct DenylistClients<T, L> {
    pub source: T,
    pub replica: Option<T>,
    pub connect: Vec<L>,
}

impl DenylistClients<dynamo::DynamoDenylist, lambda_assoc::ConnectLambdaApi> {
    /// From DynamoDB SDK clients (each configured for its region) and the Connect seam, which
    /// serves `regions` (Lambda associations are per region, R4).
    pub fn from_sdk(
        table_name: &str,
        source: aws_sdk_dynamodb::Client,
        replica: Option<aws_sdk_dynamodb::Client>,
        connect: std::sync::Arc<dyn crate::connect::ConnectApi>,
        regions: &[&str],
    ) -> Self {
        Self {
            source: dynamo::DynamoDenylist::new(source, table_name),
            replica: replica.map(|c| dynamo::DynamoDenylist::new(c, table_name)),
            connect: regions
                .iter()
                .map(|r| lambda_assoc::ConnectLambdaApi::new(connect.clone(), *r))
                .collect(),
        }
    }
}

/// One pass: what was observed and done, and whether everything is ready.
#[derive(Debug, Clone, serde::Serialize)]
pub struct DenylistObservation {
    pub table: TableObservation,
    /// The entry sync (only once the source table is ACTIVE).
    pub entries: Option<SyncReport>,
    pub counts: Option<EntryCounts>,
    /// Numbers this owner manages in the table (declared and written by it).
    pub managed_numbers: Vec<String>,
    /// Declared numbers that are not valid numbers (terminal: the spec must change).
    pub invalid_numbers: Vec<(String, String)>,
    pub lambda: Vec<RegionAssociation>,
    pub ready: bool,
    /// Every error of the pass, classified.
    pub errors: Vec<DenylistError>,
}

impl DenylistObservation {
    /// A terminal error (Stalled): the spec or the account must change.
    pub fn stalled(&self) -> bool {
        self.errors.iter().any(|e| e.class == ErrorClass::Terminal)
    }

    /// Only waiting (something settling): requeue after a short, fixed delay.
    pub fn waiting(&self) -> bool {
        !self.ready && !self.stalled() && !self.transient()
    }

    /// A transient error: requeue with backoff.
    pub fn transient(&self) -> bool {
        self.errors.iter().any(|e| e.class == ErrorClass::Transient)
    }
}

/// Normalises the declared numbers; invalid ones are returned with the reason.
pub fn normalize_declared(
    declared: &[String],
    policy: &NumberPolicy,
) -> (BTreeSet<String>, Vec<(String, String)>) {
    let mut ok = BTreeSet::new();
    let mut bad = Vec::new();
    for n in declared {
        match normalize_with(n, policy) {
            Ok(e) => {
                ok.insert(e);
            }
            Err(e) => bad.push((n.clone(), e.to_string())),
        }
    }
    (ok, bad)
}

/// One reconcile pass of a denylist. Never waits for AWS to settle: call again while
/// `!ready` (a few seconds while `waiting()`, with backoff on `transient()`, not while
/// `stalled()` until the spec changes).
///
/// Entries are written to the source region only (the global table replicates them); an
/// invalid declared number stops the entry sync (nothing is deleted on a half-read spec) but
/// not the table or the Lambda association.
pub async fn reconcile_denylist<T, L>(
    input: &DenylistInput,
    clients: &DenylistClients<T, L>,
) -> DenylistObservation
where
    T: TableAdmin + DenylistStore,
    L: LambdaAssociations,
{
    let table = ensure_global_table(&clients.source, clients.replica.as_ref()).await;
    let mut errors = table.errors.clone();
    let (declared, invalid) = normalize_declared(&input.declared, &input.number_policy);
    for (n, why) in &invalid {
        errors.push(DenylistError::terminal(
            "ValidateNumbers",
            format!("declared number {n:?}: {why}"),
        ));
    }
    let mut entries = None;
    if table.source.state.is_ready() && invalid.is_empty() {
        match sync_entries(&clients.source, &declared, &input.owner, &input.now).await {
            Ok(r) => entries = Some(r),
            Err(e) => errors.push(e),
        }
    }
    let mut lambda = Vec::new();
    if let Some(l) = &input.lambda {
        let (instance_id, account_id) = match lambda_assoc::parse_instance_arn(&l.instance_id) {
            Some((_, account, id)) => (id, account),
            None => (l.instance_id.clone(), l.account_id.clone()),
        };
        lambda = ensure_associations(
            &clients.connect,
            &instance_id,
            &account_id,
            &l.function_names,
        )
        .await;
        for r in &lambda {
            errors.extend(r.errors.iter().cloned());
        }
    }
    let ready = errors.is_empty()
        && table.ready()
        // Every planned put is written or present anyway; every planned delete is done or the
        // entry is no longer ours: a completed sync is converged.
        && entries.is_some()
        && lambda.iter().all(RegionAssociation::all_associated);
    DenylistObservation {
        counts: entries.as_ref().map(|r| r.counts),
        managed_numbers: entries
            .as_ref()
            .map(|r| r.managed.clone())
            .unwrap_or_default(),
        table,
        entries,
        invalid_numbers: invalid,
        lambda,
        ready,
        errors,
    }
}

/// Removes every entry this owner declared (e.g. when the `CallerDenylist` is deleted). Agent
/// flags, manual entries and the table itself stay.
pub async fn release_declared<S: DenylistStore>(
    store: &S,
    owner: &str,
) -> Result<SyncReport, DenylistError> {
    sync_entries(store, &BTreeSet::new(), owner, &entry::now_rfc3339()).await
}
