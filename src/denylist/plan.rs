//! The denylist's one decision per pass, pure: from what was read ([`Seen`]) and what is declared
//! ([`DenylistInput`]), the writes to make ([`DenylistWrite`], in order) and, for any set of
//! writes that landed, what the pass comes to ([`outcome`]). The reads are `super::steps::observe`,
//! the writes `super::steps::execute`; the `CallerDenylist` reconciler and `reconcile_denylist`
//! both run observe, plan, execute in that order. No I/O and no clock here (`now` is input).

use std::collections::BTreeSet;

use super::entry::{Entry, EntryCounts};
use super::error::DenylistError;
use super::lambda_assoc::{
    FunctionAssociation, RegionAssociation, function_arn, parse_instance_arn,
};
use super::table::{
    EntryPlan, RegionTable, SyncReport, TableInfo, TableObservation, TableState,
    classify_replica_status, classify_table_status, declared_entry, plan_entries, schema_error,
};
use super::{DenylistInput, DenylistObservation, LambdaInput, normalize_declared};

/// Everything one pass read.
#[derive(Debug, Clone)]
pub struct Seen {
    pub table: TableSeen,
    /// The entries, scanned only once the source table is usable ([`entries_readable`]).
    pub entries: Option<Result<Vec<Entry>, DenylistError>>,
    /// Each region's associated function ARNs (when the spec names functions).
    pub lambda: Vec<(String, Result<Vec<String>, DenylistError>)>,
}

/// The table as read in both regions.
#[derive(Debug, Clone)]
pub struct TableSeen {
    pub table_name: String,
    pub source_region: String,
    pub replica_region: Option<String>,
    /// `DescribeTable` in the source region (`Ok(None)`: no such table).
    pub source: Result<Option<TableInfo>, DenylistError>,
    /// `DescribeTable` in the replica region, read only when a replica is due
    /// ([`replica_region_read_needed`]): a standalone table there cannot become the replica.
    pub replica_table: Option<Result<Option<TableInfo>, DenylistError>>,
}

/// One write of the pass.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub enum DenylistWrite {
    CreateTable {
        region: String,
        table: String,
    },
    EnableStream {
        region: String,
        table: String,
    },
    CreateReplica {
        region: String,
        table: String,
        replica_region: String,
    },
    /// A declared number with no entry: written only if still absent.
    Put {
        region: String,
        number: String,
    },
    /// An entry this owner declared that is no longer declared: deleted only if still ours.
    Delete {
        region: String,
        number: String,
    },
    AssociateLambda {
        region: String,
        instance_id: String,
        arn: String,
    },
}

impl DenylistWrite {
    /// `[region] Operation detail`, as `status.plan` lists it.
    pub fn describe(&self) -> String {
        match self {
            Self::CreateTable { region, table } => format!("[{region}] CreateTable {table}"),
            Self::EnableStream { region, table } => {
                format!("[{region}] UpdateTable {table} StreamSpecification NEW_AND_OLD_IMAGES")
            }
            Self::CreateReplica {
                region,
                table,
                replica_region,
            } => {
                format!("[{region}] UpdateTable {table} ReplicaUpdates Create {replica_region}")
            }
            Self::Put { region, number } => format!("[{region}] PutItem {number}"),
            Self::Delete { region, number } => format!("[{region}] DeleteItem {number}"),
            Self::AssociateLambda { region, arn, .. } => {
                format!("[{region}] AssociateLambdaFunction {arn}")
            }
        }
    }

    /// What a table write that landed is recorded as (an Event), as before the split.
    fn action(&self) -> Option<String> {
        match self {
            Self::CreateTable { region, .. } => Some(format!("CreateTable {region}")),
            Self::EnableStream { region, .. } => {
                Some(format!("UpdateTable {region} StreamSpecification"))
            }
            Self::CreateReplica {
                region,
                replica_region,
                ..
            } => Some(format!(
                "UpdateTable {region} ReplicaUpdates Create {replica_region}"
            )),
            _ => None,
        }
    }
}

/// The pass's decision: the observed state and the writes to make, in order.
#[derive(Debug, Clone)]
pub struct DenylistPlan {
    /// The table as observed (the states the planned table write moves on when it lands).
    pub table: TableObservation,
    /// The scanned entries and their plan, when the entry sync may run this pass.
    pub entries: Option<(Vec<Entry>, EntryPlan)>,
    pub declared: BTreeSet<String>,
    pub invalid_numbers: Vec<(String, String)>,
    /// Each region's functions as listed (`associated` from the listing).
    pub lambda: Vec<RegionAssociation>,
    pub writes: Vec<DenylistWrite>,
    /// Failed reads and what the spec or the account must change, classified.
    pub errors: Vec<DenylistError>,
    pub owner: String,
    pub now: String,
}

/// What became of one planned write: `Ok(true)` it took effect, `Ok(false)` a conditional write
/// found the entry changed meanwhile (an agent flag: left alone), `Err` refused or failed.
pub type Landed = Result<bool, DenylistError>;

/// Whether the source table can be scanned: ACTIVE with the denylist's key.
pub fn entries_readable(info: &TableInfo) -> bool {
    classify_table_status(&info.status).is_ready() && schema_error(info).is_none()
}

/// Whether the replica region's own table must be read: the source is ACTIVE with the right key
/// and stream, and has no replica there yet.
pub fn replica_region_read_needed(info: &TableInfo, replica_region: &str) -> bool {
    entries_readable(info)
        && info.stream_view_type.as_deref() == Some("NEW_AND_OLD_IMAGES")
        && !info.replicas.iter().any(|r| r.region == replica_region)
}

/// The table step: its state in both regions and at most one write (L1, L4).
pub fn plan_table(seen: &TableSeen) -> (TableObservation, Option<DenylistWrite>) {
    let region_table = |region: &str| RegionTable {
        region: region.to_string(),
        status: None,
        state: TableState::Missing,
    };
    let mut obs = TableObservation {
        table_name: seen.table_name.clone(),
        source: region_table(&seen.source_region),
        replica: seen.replica_region.as_deref().map(region_table),
        actions: Vec::new(),
        errors: Vec::new(),
    };
    let src = seen.source_region.clone();
    let table = seen.table_name.clone();
    let info = match &seen.source {
        Err(e) => {
            obs.errors.push(e.clone());
            return (obs, None);
        }
        Ok(None) => return (obs, Some(DenylistWrite::CreateTable { region: src, table })),
        Ok(Some(info)) => info,
    };
    obs.source.status = Some(info.status.clone());
    obs.source.state = classify_table_status(&info.status);
    if let TableState::Failed { message, status } = &obs.source.state {
        let e = DenylistError::terminal("TableStatus", format!("{status}: {message}"));
        obs.errors.push(e.in_region(&src));
        return (obs, None);
    }
    if let Some(e) = schema_error(info) {
        obs.source.state = failed(&info.status, &e);
        obs.errors
            .push(DenylistError::terminal("DescribeTable", e).in_region(&src));
        return (obs, None);
    }
    let Some(rep) = seen.replica_region.clone() else {
        return (obs, None);
    };
    if !obs.source.state.is_ready() {
        return (obs, None);
    }
    // The stream must be NEW_AND_OLD_IMAGES before a replica can be added.
    match info.stream_view_type.as_deref() {
        Some("NEW_AND_OLD_IMAGES") => {}
        None => {
            return (
                obs,
                Some(DenylistWrite::EnableStream { region: src, table }),
            );
        }
        Some(other) => {
            let msg = format!(
                "the table's stream has view type {other}; a global table needs NEW_AND_OLD_IMAGES (disable the stream, then the controller re-enables it)"
            );
            set_replica(&mut obs, None, failed("STREAM", &msg));
            obs.errors
                .push(DenylistError::terminal("StreamSpecification", msg).in_region(&src));
            return (obs, None);
        }
    }
    if let Some(r) = info.replicas.iter().find(|r| r.region == rep) {
        let state = classify_replica_status(&r.status, r.status_description.as_deref());
        if let TableState::Failed { status, message } = &state {
            let e = DenylistError::terminal("ReplicaStatus", format!("{status}: {message}"));
            obs.errors.push(e.in_region(&rep));
        }
        set_replica(&mut obs, Some(r.status.clone()), state);
        return (obs, None);
    }
    // No replica yet. A same-named table in the replica region that is not part of this global
    // table cannot become a replica.
    match &seen.replica_table {
        Some(Ok(Some(other))) if !other.replicas.iter().any(|r| r.region == src) => {
            let msg = format!(
                "a separate table {table} already exists in {rep}; it cannot become the replica. Move its items to the source table, delete it, and the controller adds the replica"
            );
            set_replica(
                &mut obs,
                Some(other.status.clone()),
                failed("CONFLICT", &msg),
            );
            obs.errors
                .push(DenylistError::terminal("CreateReplica", msg).in_region(&rep));
            (obs, None)
        }
        Some(Ok(_)) => {
            let w = DenylistWrite::CreateReplica {
                region: src,
                table,
                replica_region: rep,
            };
            (obs, Some(w))
        }
        Some(Err(e)) => {
            obs.errors.push(e.clone());
            (obs, None)
        }
        None => {
            // Fail closed: a replica is never requested without having looked there.
            let e = DenylistError::transient("DescribeTable", "the replica region was not read");
            obs.errors.push(e.in_region(&rep));
            (obs, None)
        }
    }
}

fn failed(status: &str, message: &str) -> TableState {
    TableState::Failed {
        status: status.to_string(),
        message: message.to_string(),
    }
}

fn set_replica(obs: &mut TableObservation, status: Option<String>, state: TableState) {
    if let Some(r) = obs.replica.as_mut() {
        r.status = status;
        r.state = state;
    }
}

/// The entry writes of `plan`, against the source region.
pub fn entry_writes(region: &str, plan: &EntryPlan) -> Vec<DenylistWrite> {
    let put = plan.put.iter().map(|n| DenylistWrite::Put {
        region: region.to_string(),
        number: n.clone(),
    });
    let delete = plan.delete.iter().map(|n| DenylistWrite::Delete {
        region: region.to_string(),
        number: n.clone(),
    });
    put.chain(delete).collect()
}

/// The Lambda step: each region's functions as listed, and an association for each missing one
/// (with that region's ARN: associations are not mirrored, R4).
pub fn plan_lambda(
    l: &LambdaInput,
    listed: &[(String, Result<Vec<String>, DenylistError>)],
) -> (Vec<RegionAssociation>, Vec<DenylistWrite>) {
    let (instance_id, account_id) = match parse_instance_arn(&l.instance_id) {
        Some((_, account, id)) => (id, account),
        None => (l.instance_id.clone(), l.account_id.clone()),
    };
    let mut writes = Vec::new();
    let mut out = Vec::new();
    for (region, listed) in listed {
        let mut ra = RegionAssociation {
            region: region.clone(),
            functions: l
                .function_names
                .iter()
                .map(|n| FunctionAssociation {
                    name: n.clone(),
                    arn: function_arn(region, &account_id, n),
                    associated: false,
                    newly: false,
                })
                .collect(),
            errors: Vec::new(),
        };
        match listed {
            Err(e) => ra.errors.push(e.clone()),
            Ok(listed) => {
                for f in &mut ra.functions {
                    f.associated = listed.contains(&f.arn);
                    if !f.associated {
                        writes.push(DenylistWrite::AssociateLambda {
                            region: region.clone(),
                            instance_id: instance_id.clone(),
                            arn: f.arn.clone(),
                        });
                    }
                }
            }
        }
        out.push(ra);
    }
    (out, writes)
}

/// The pass's one decision. Entries go to the source region only (the global table replicates
/// them); an invalid declared number stops the entry sync (nothing is deleted on a half-read
/// spec) but not the table or the Lambda association; a failed read plans nothing for its part.
pub fn plan(input: &DenylistInput, seen: &Seen) -> DenylistPlan {
    let (table, table_write) = plan_table(&seen.table);
    let mut errors = table.errors.clone();
    let mut writes: Vec<DenylistWrite> = table_write.into_iter().collect();
    let (declared, invalid) = normalize_declared(&input.declared, &input.number_policy);
    for (n, why) in &invalid {
        errors.push(DenylistError::terminal(
            "ValidateNumbers",
            format!("declared number {n:?}: {why}"),
        ));
    }
    let mut entries = None;
    if input.owner.trim().is_empty() {
        errors.push(DenylistError::terminal(
            "SyncEntries",
            "the owner (ManagedBy) must not be empty",
        ));
    } else if table.source.state.is_ready() && invalid.is_empty() {
        match &seen.entries {
            Some(Ok(observed)) => {
                let p = plan_entries(&declared, observed, &input.owner);
                writes.extend(entry_writes(&seen.table.source_region, &p));
                entries = Some((observed.clone(), p));
            }
            Some(Err(e)) => errors.push(e.clone()),
            None => errors.push(
                DenylistError::transient("Scan", "the entries were not read")
                    .in_region(&seen.table.source_region),
            ),
        }
    }
    let mut lambda = Vec::new();
    if let Some(l) = &input.lambda {
        let (ras, lambda_writes) = plan_lambda(l, &seen.lambda);
        errors.extend(ras.iter().flat_map(|r| r.errors.iter().cloned()));
        writes.extend(lambda_writes);
        lambda = ras;
    }
    DenylistPlan {
        table,
        entries,
        declared,
        invalid_numbers: invalid,
        lambda,
        writes,
        errors,
        owner: input.owner.clone(),
        now: input.now.clone(),
    }
}

/// What the pass comes to when the writes landed as `landed` says (index-aligned with
/// `plan.writes`; a write past the end was not sent). Records what took effect, not what was
/// meant: a put that found an entry is "already present", a delete that found it changed "kept".
pub fn outcome(plan: &DenylistPlan, landed: &[Landed]) -> DenylistObservation {
    let mut table = plan.table.clone();
    let mut errors = plan.errors.clone();
    let mut lambda = plan.lambda.clone();
    let sent: Vec<(&DenylistWrite, Option<&Landed>)> = plan
        .writes
        .iter()
        .enumerate()
        .map(|(i, w)| (w, landed.get(i)))
        .collect();
    for (w, result) in &sent {
        let Some(result) = result else { continue };
        table_landed(&mut table, w, result);
        lambda_landed(&mut lambda, w, result);
        if let Err(e) = result
            && !errors.contains(e)
        {
            errors.push(e.clone());
        }
    }
    let entries = plan.entries.clone().and_then(|(observed, p)| {
        entries_landed(observed, p, &sent, &plan.declared, &plan.owner, &plan.now).ok()
    });
    let ready = errors.is_empty()
        && table.ready()
        // Every planned put is written or present anyway; every planned delete is done or the
        // entry is no longer ours: a completed sync is converged.
        && entries.is_some()
        && lambda.iter().all(RegionAssociation::all_associated)
        && landed.len() == plan.writes.len();
    DenylistObservation {
        counts: entries.as_ref().map(|r| r.counts),
        managed_numbers: entries
            .as_ref()
            .map(|r| r.managed.clone())
            .unwrap_or_default(),
        table,
        entries,
        invalid_numbers: plan.invalid_numbers.clone(),
        lambda,
        ready,
        errors,
    }
}

/// A table write's result, recorded: an action (an Event) and the state it moves to.
pub fn table_landed(table: &mut TableObservation, w: &DenylistWrite, result: &Landed) {
    if result.is_err() {
        if let DenylistWrite::CreateTable { .. }
        | DenylistWrite::EnableStream { .. }
        | DenylistWrite::CreateReplica { .. } = w
        {
            table.errors.extend(result.clone().err());
        }
        return;
    }
    match w {
        DenylistWrite::CreateTable { .. } => {
            table.source.state = TableState::Waiting("CREATING".into());
        }
        DenylistWrite::CreateReplica { .. } => {
            set_replica(table, None, TableState::Waiting("CREATING".into()));
        }
        _ => {}
    }
    table.actions.extend(w.action());
}

/// An association's result, recorded in its region.
pub fn lambda_landed(lambda: &mut [RegionAssociation], w: &DenylistWrite, result: &Landed) {
    let DenylistWrite::AssociateLambda { region, arn, .. } = w else {
        return;
    };
    let Some(ra) = lambda.iter_mut().find(|r| &r.region == region) else {
        return;
    };
    match result {
        Err(e) => ra.errors.push(e.clone()),
        Ok(_) => {
            if let Some(f) = ra.functions.iter_mut().find(|f| &f.arn == arn) {
                f.associated = true;
                f.newly = true;
            }
        }
    }
}

/// The entry sync's report from the scanned entries and its writes' results. The first failed
/// (or unsent) entry write fails the sync: what it did is not known to be complete.
pub fn entries_landed(
    mut observed: Vec<Entry>,
    plan: EntryPlan,
    sent: &[(&DenylistWrite, Option<&Landed>)],
    declared: &BTreeSet<String>,
    owner: &str,
    now: &str,
) -> Result<SyncReport, DenylistError> {
    let mut report = SyncReport {
        plan,
        ..Default::default()
    };
    for (w, result) in sent {
        let (number, put) = match w {
            DenylistWrite::Put { number, .. } => (number, true),
            DenylistWrite::Delete { number, .. } => (number, false),
            _ => continue,
        };
        let took = match result {
            Some(Ok(took)) => *took,
            Some(Err(e)) => return Err(e.clone()),
            None => {
                return Err(DenylistError::transient(
                    "SyncEntries",
                    "the pass ended before every entry write was sent",
                ));
            }
        };
        match (put, took) {
            (true, true) => {
                report.written.push(number.clone());
                observed.push(declared_entry(number, owner, now));
            }
            (true, false) => report.already_present.push(number.clone()),
            (false, true) => {
                report.deleted.push(number.clone());
                observed.retain(|e| &e.contact_number != number);
            }
            (false, false) => report.kept.push(number.clone()),
        }
    }
    Ok(sync_report(observed, report, declared, owner))
}

/// Every planned write taken as planned: what the pass records before sending any.
pub fn as_planned(plan: &DenylistPlan) -> Vec<Landed> {
    plan.writes.iter().map(|_| Ok(true)).collect()
}

/// The sync's report from the entries after its writes.
pub fn sync_report(
    entries: Vec<Entry>,
    mut report: SyncReport,
    declared: &BTreeSet<String>,
    owner: &str,
) -> SyncReport {
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
    report
}

#[cfg(test)]
#[path = "plan_tests.rs"]
mod tests;
