//! The caller denylist (rules L1-L4, R4): the DynamoDB table as a global table with a replica in
//! every region calls can land in, the declared entries, the association of the two Lambda
//! functions with the Connect instance in each region, and the two handlers' logic.
//!
//! Kubernetes-free: the `CallerDenylist` reconciler runs its steps ([`steps::observe`], the pure
//! [`plan::plan`], [`steps::execute`]) once per pass and turns the [`DenylistObservation`] of
//! [`plan::outcome`] into status and conditions; [`reconcile_denylist`] runs the same steps.

pub mod cli;
pub mod dynamo;
pub mod entry;
pub mod error;
pub mod handlers;
pub mod lambda_assoc;
pub mod number;
pub mod plan;
pub mod steps;
pub mod table;

use std::collections::BTreeSet;

use self::entry::EntryCounts;
use self::error::{DenylistError, ErrorClass};
use self::handlers::DenylistStore;
use self::lambda_assoc::{LambdaAssociations, RegionAssociation};
use self::number::{NumberPolicy, normalize_with};
use self::table::{SyncReport, TableAdmin, TableObservation};

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

    /// Every error of the pass, for a condition message.
    pub fn errors_text(&self) -> String {
        self.errors
            .iter()
            .map(|e| e.to_string())
            .collect::<Vec<_>>()
            .join("; ")
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

/// One reconcile pass of a denylist: [`steps::observe`], [`plan::plan`], [`steps::execute`] and
/// [`plan::outcome`], as the `CallerDenylist` reconciler runs them. Never waits for AWS to
/// settle: call again while `!ready` (a few seconds while `waiting()`, with backoff on
/// `transient()`, not while `stalled()` until the spec changes).
pub async fn reconcile_denylist<T, L>(
    input: &DenylistInput,
    clients: &DenylistClients<T, L>,
) -> DenylistObservation
where
    T: TableAdmin + DenylistStore,
    L: LambdaAssociations,
{
    let seen = steps::observe(clients, input.lambda.as_ref()).await;
    let planned = plan::plan(input, &seen);
    let landed = steps::execute(clients, &planned).await;
    plan::outcome(&planned, &landed)
}

/// Removes every entry this owner declared (e.g. when the `CallerDenylist` is deleted). Agent
/// flags, manual entries and the table itself stay.
pub async fn release_declared<S: DenylistStore>(
    store: &S,
    owner: &str,
) -> Result<SyncReport, DenylistError> {
    steps::sync_entries(store, &BTreeSet::new(), owner, &entry::now_rfc3339()).await
}
