//! The denylist's I/O steps around its pure plan (`super::plan`): [`observe`] makes every read
//! (the table in both regions, the entries, each region's Lambda associations) and [`execute`]
//! sends only the planned writes, each conditional where an agent may act meanwhile. The
//! compositions below (`reconcile_denylist`, [`ensure_global_table`], [`sync_entries`],
//! [`ensure_associations`]) run the same three steps for one part or for all.

use std::collections::BTreeSet;

use super::error::DenylistError;
use super::handlers::DenylistStore;
use super::lambda_assoc::{LambdaAssociations, RegionAssociation};
use super::plan::{
    self, DenylistPlan, DenylistWrite, Landed, Seen, TableSeen, entries_readable,
    replica_region_read_needed,
};
use super::table::{SyncReport, TableAdmin, TableObservation, declared_entry, plan_entries};
use super::{DenylistClients, LambdaInput};

/// Reads the table in the source region and, when a replica is due, in the replica region.
pub async fn observe_table<A: TableAdmin, B: TableAdmin>(
    source: &A,
    replica: Option<&B>,
) -> TableSeen {
    let described = source.describe_table().await;
    let replica_table = match (&described, replica) {
        (Ok(Some(info)), Some(r)) if replica_region_read_needed(info, r.region()) => {
            Some(r.describe_table().await)
        }
        _ => None,
    };
    TableSeen {
        table_name: source.table_name().to_string(),
        source_region: source.region().to_string(),
        replica_region: replica.map(|r| r.region().to_string()),
        source: described,
        replica_table,
    }
}

/// Each region's associated function ARNs.
pub async fn observe_lambda<L: LambdaAssociations>(
    apis: &[L],
    instance_id: &str,
) -> Vec<(String, Result<Vec<String>, DenylistError>)> {
    let mut out = Vec::new();
    for api in apis {
        out.push((
            api.region().to_string(),
            api.list_lambda_functions(instance_id).await,
        ));
    }
    out
}

/// The instance id the Lambda calls take (an ARN's id part).
fn instance_of(l: &LambdaInput) -> String {
    super::lambda_assoc::parse_instance_arn(&l.instance_id)
        .map(|(_, _, id)| id)
        .unwrap_or_else(|| l.instance_id.clone())
}

/// Every read of one pass. The entries are scanned once the source table is usable.
pub async fn observe<T, L>(clients: &DenylistClients<T, L>, lambda: Option<&LambdaInput>) -> Seen
where
    T: TableAdmin + DenylistStore,
    L: LambdaAssociations,
{
    let table = observe_table(&clients.source, clients.replica.as_ref()).await;
    let entries = match &table.source {
        Ok(Some(info)) if entries_readable(info) => Some(clients.source.scan().await),
        _ => None,
    };
    let lambda = match lambda {
        Some(l) => observe_lambda(&clients.connect, &instance_of(l)).await,
        None => Vec::new(),
    };
    Seen {
        table,
        entries,
        lambda,
    }
}

/// Sends one planned write. Puts and deletes are conditional (`Ok(false)`: the entry changed
/// meanwhile and was left alone).
pub async fn send<T, L>(
    clients: &DenylistClients<T, L>,
    w: &DenylistWrite,
    owner: &str,
    now: &str,
) -> Landed
where
    T: TableAdmin + DenylistStore,
    L: LambdaAssociations,
{
    match w {
        DenylistWrite::Put { .. } | DenylistWrite::Delete { .. } => {
            send_entry(&clients.source, w, owner, now).await
        }
        DenylistWrite::AssociateLambda {
            region,
            instance_id,
            arn,
        } => match clients.connect.iter().find(|c| c.region() == region) {
            Some(api) => api
                .associate_lambda_function(instance_id, arn)
                .await
                .map(|()| true),
            None => Err(DenylistError::terminal(
                "AssociateLambdaFunction",
                format!("no Connect client for {region}"),
            )),
        },
        _ => send_table(&clients.source, w).await,
    }
}

/// A table write (create, stream, replica) to the source region's table.
async fn send_table<A: TableAdmin>(table: &A, w: &DenylistWrite) -> Landed {
    match w {
        DenylistWrite::CreateTable { .. } => table.create_table().await.map(|()| true),
        DenylistWrite::EnableStream { .. } => table.enable_stream().await.map(|()| true),
        DenylistWrite::CreateReplica { replica_region, .. } => {
            table.create_replica(replica_region).await.map(|()| true)
        }
        _ => Ok(false),
    }
}

/// An entry write, conditional on the entry as the plan saw it.
async fn send_entry<S: DenylistStore>(
    store: &S,
    w: &DenylistWrite,
    owner: &str,
    now: &str,
) -> Landed {
    match w {
        DenylistWrite::Put { number, .. } => {
            store
                .put_if_absent(&declared_entry(number, owner, now))
                .await
        }
        DenylistWrite::Delete { number, .. } => store.delete_if_managed(number, owner).await,
        _ => Ok(false),
    }
}

/// Sends the planned writes in order. After a failed entry write the remaining entry writes are
/// not sent (the sync is reported failed and runs again next pass); the table and the Lambda
/// associations are independent of it. Returns each sent write's result, in plan order.
pub async fn execute<T, L>(clients: &DenylistClients<T, L>, plan: &DenylistPlan) -> Vec<Landed>
where
    T: TableAdmin + DenylistStore,
    L: LambdaAssociations,
{
    let mut landed = Vec::with_capacity(plan.writes.len());
    let mut entries_failed = false;
    for w in &plan.writes {
        let is_entry = matches!(w, DenylistWrite::Put { .. } | DenylistWrite::Delete { .. });
        let r = if is_entry && entries_failed {
            Err(DenylistError::transient(
                "SyncEntries",
                "not sent: an earlier entry write failed",
            ))
        } else {
            send(clients, w, &plan.owner, &plan.now).await
        };
        entries_failed |= is_entry && r.is_err();
        landed.push(r);
    }
    landed
}

/// Table management alone: observe, plan, execute.
pub async fn ensure_global_table<A, B>(source: &A, replica: Option<&B>) -> TableObservation
where
    A: TableAdmin,
    B: TableAdmin,
{
    let seen = observe_table(source, replica).await;
    let (mut obs, write) = plan::plan_table(&seen);
    if let Some(w) = write {
        let result = send_table(source, &w).await;
        plan::table_landed(&mut obs, &w, &result);
    }
    obs
}

/// The entry sync alone: scan, plan, write (conditionally), report. `declared` must be
/// normalised (see `normalize_declared`). A put never overwrites (`attribute_not_exists`), a
/// delete needs `Source = declared AND ManagedBy = owner`: safe against a concurrent agent flag.
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
    let observed = store.scan().await?;
    let p = plan_entries(declared, &observed, owner);
    let writes = plan::entry_writes("", &p);
    let mut results = Vec::with_capacity(writes.len());
    for w in &writes {
        let r = send_entry(store, w, owner, now).await;
        let failed = r.is_err();
        results.push(r);
        if failed {
            break;
        }
    }
    let sent: Vec<_> = writes
        .iter()
        .enumerate()
        .map(|(i, w)| (w, results.get(i)))
        .collect();
    plan::entries_landed(observed, p, &sent, declared, owner, now)
}

/// The Lambda associations alone: list in each region, associate what is missing.
pub async fn ensure_associations<L: LambdaAssociations>(
    apis: &[L],
    instance_id: &str,
    account_id: &str,
    names: &[String],
) -> Vec<RegionAssociation> {
    let input = LambdaInput {
        instance_id: instance_id.to_string(),
        account_id: account_id.to_string(),
        function_names: names.to_vec(),
    };
    let listed = observe_lambda(apis, &instance_of(&input)).await;
    let (mut out, writes) = plan::plan_lambda(&input, &listed);
    for w in &writes {
        let DenylistWrite::AssociateLambda {
            region,
            instance_id,
            arn,
        } = w
        else {
            continue;
        };
        let Some(api) = apis.iter().find(|a| a.region() == region) else {
            continue;
        };
        let r = api
            .associate_lambda_function(instance_id, arn)
            .await
            .map(|()| true);
        plan::lambda_landed(&mut out, w, &r);
    }
    out
}
