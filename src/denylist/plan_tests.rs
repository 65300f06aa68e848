use super::*;
use crate::denylist::entry::Source;
use crate::denylist::error::ErrorClass;
use crate::denylist::number::NumberPolicy;
use crate::denylist::table::ReplicaInfo;

const WEST: &str = "us-west-2";
const EAST: &str = "us-east-1";
const OWNER: &str = "connectgr.io/support/denylist";

fn info(status: &str, stream: Option<&str>, replicas: &[(&str, &str)]) -> TableInfo {
    TableInfo {
        status: status.into(),
        hash_key: Some("ContactNumber".into()),
        hash_key_type: Some("S".into()),
        stream_view_type: stream.map(str::to_string),
        replicas: replicas
            .iter()
            .map(|(r, s)| ReplicaInfo {
                region: r.to_string(),
                status: s.to_string(),
                status_description: None,
            })
            .collect(),
        ..Default::default()
    }
}

fn active() -> TableInfo {
    info("ACTIVE", Some("NEW_AND_OLD_IMAGES"), &[(EAST, "ACTIVE")])
}

fn seen(source: Result<Option<TableInfo>, DenylistError>) -> Seen {
    let entries = match &source {
        Ok(Some(i)) if entries_readable(i) => Some(Ok(vec![])),
        _ => None,
    };
    Seen {
        table: TableSeen {
            table_name: "DenylistingTable".into(),
            source_region: WEST.into(),
            replica_region: Some(EAST.into()),
            source,
            replica_table: None,
        },
        entries,
        lambda: vec![(WEST.into(), Ok(vec![])), (EAST.into(), Ok(vec![]))],
    }
}

fn input(numbers: &[&str]) -> DenylistInput {
    DenylistInput {
        declared: numbers.iter().map(|n| n.to_string()).collect(),
        owner: OWNER.into(),
        number_policy: NumberPolicy::default(),
        lambda: Some(LambdaInput {
            instance_id: "arn:aws:connect:us-west-2:123456789012:instance/i-1".into(),
            account_id: String::new(),
            function_names: vec!["denylist-add".into(), "denylist-check".into()],
        }),
        now: "2026-12-04T00:00:00Z".into(),
    }
}

fn ops(p: &DenylistPlan) -> Vec<String> {
    p.writes
        .iter()
        .map(|w| {
            w.describe()
                .split(' ')
                .take(2)
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect()
}

fn transient(op: &str) -> DenylistError {
    DenylistError::transient(op, "throttled").in_region(WEST)
}

#[test]
fn a_missing_table_is_created_and_the_functions_are_associated_in_the_same_pass() {
    let p = plan(&input(&["+12065550123"]), &seen(Ok(None)));
    assert_eq!(
        ops(&p),
        [
            "[us-west-2] CreateTable",
            "[us-west-2] AssociateLambdaFunction",
            "[us-west-2] AssociateLambdaFunction",
            "[us-east-1] AssociateLambdaFunction",
            "[us-east-1] AssociateLambdaFunction",
        ]
    );
    assert!(p.entries.is_none(), "no entries before the table is ACTIVE");
}

#[test]
fn each_region_associates_the_functions_by_its_own_arn_r4() {
    let p = plan(&input(&[]), &seen(Ok(Some(active()))));
    let arns: Vec<String> = p
        .writes
        .iter()
        .filter_map(|w| match w {
            DenylistWrite::AssociateLambda { region, arn, .. } => Some(format!("{region} {arn}")),
            _ => None,
        })
        .collect();
    assert_eq!(
        arns,
        [
            "us-west-2 arn:aws:lambda:us-west-2:123456789012:function:denylist-add",
            "us-west-2 arn:aws:lambda:us-west-2:123456789012:function:denylist-check",
            "us-east-1 arn:aws:lambda:us-east-1:123456789012:function:denylist-add",
            "us-east-1 arn:aws:lambda:us-east-1:123456789012:function:denylist-check",
        ]
    );
}

#[test]
fn a_stream_that_is_off_is_enabled_before_any_replica_l1() {
    let s = seen(Ok(Some(info("ACTIVE", None, &[]))));
    let p = plan(&input(&[]), &s);
    assert_eq!(ops(&p)[0], "[us-west-2] UpdateTable");
    assert!(matches!(p.writes[0], DenylistWrite::EnableStream { .. }));
    assert!(
        !p.writes
            .iter()
            .any(|w| matches!(w, DenylistWrite::CreateReplica { .. }))
    );
}

#[test]
fn a_replica_is_requested_only_after_the_replica_region_was_read_and_found_empty_l4() {
    let mut s = seen(Ok(Some(info("ACTIVE", Some("NEW_AND_OLD_IMAGES"), &[]))));
    // Not read: fail closed, nothing requested.
    let p = plan(&input(&[]), &s);
    assert!(
        !p.writes
            .iter()
            .any(|w| matches!(w, DenylistWrite::CreateReplica { .. }))
    );
    assert_eq!(p.errors[0].class, ErrorClass::Transient);
    // Read and empty: requested.
    s.table.replica_table = Some(Ok(None));
    let p = plan(&input(&[]), &s);
    assert!(matches!(
        &p.writes[0],
        DenylistWrite::CreateReplica { replica_region, .. } if replica_region == EAST
    ));
    // The read failed: nothing requested, the error kept.
    s.table.replica_table = Some(Err(transient("DescribeTable")));
    let p = plan(&input(&[]), &s);
    assert!(
        !p.writes
            .iter()
            .any(|w| matches!(w, DenylistWrite::CreateReplica { .. }))
    );
    assert!(p.errors.iter().any(|e| e.operation == "DescribeTable"));
}

#[test]
fn a_standalone_table_in_the_replica_region_is_terminal_and_nothing_is_requested() {
    let mut s = seen(Ok(Some(info("ACTIVE", Some("NEW_AND_OLD_IMAGES"), &[]))));
    s.table.replica_table = Some(Ok(Some(info("ACTIVE", None, &[]))));
    let p = plan(&input(&[]), &s);
    assert!(p.errors.iter().any(|e| e.is_terminal()));
    assert!(
        !p.writes
            .iter()
            .any(|w| matches!(w, DenylistWrite::CreateReplica { .. }))
    );
}

#[test]
fn a_failed_table_read_plans_no_table_or_entry_write_but_keeps_the_associations() {
    let p = plan(
        &input(&["+12065550123"]),
        &seen(Err(transient("DescribeTable"))),
    );
    assert!(
        p.writes
            .iter()
            .all(|w| matches!(w, DenylistWrite::AssociateLambda { .. }))
    );
    assert_eq!(p.writes.len(), 4);
    assert!(
        !outcome(&p, &as_planned(&p)).ready,
        "a failed read is never a pass"
    );
}

#[test]
fn a_failed_scan_plans_no_entry_write_and_is_not_ready() {
    let mut s = seen(Ok(Some(active())));
    s.entries = Some(Err(transient("Scan")));
    s.lambda = vec![];
    let p = plan(&input(&["+12065550123"]), &s);
    assert!(p.writes.is_empty());
    let o = outcome(&p, &[]);
    assert!(!o.ready && o.transient());
}

#[test]
fn a_failed_listing_in_one_region_still_associates_in_the_other() {
    let mut s = seen(Ok(Some(active())));
    s.lambda[1].1 = Err(transient("ListLambdaFunctions"));
    let p = plan(&input(&[]), &s);
    assert_eq!(p.writes.len(), 2);
    assert!(
        p.writes
            .iter()
            .all(|w| matches!(w, DenylistWrite::AssociateLambda { region, .. } if region == WEST))
    );
    let o = outcome(&p, &as_planned(&p));
    assert!(!o.ready);
    assert!(o.lambda[0].all_associated() && !o.lambda[1].all_associated());
}

#[test]
fn an_invalid_declared_number_stops_the_entry_sync_only() {
    let mut s = seen(Ok(Some(active())));
    s.entries = Some(Ok(vec![declared_entry("+12065550123", OWNER, "t")]));
    let p = plan(&input(&["not a number"]), &s);
    assert!(
        !p.writes
            .iter()
            .any(|w| matches!(w, DenylistWrite::Delete { .. } | DenylistWrite::Put { .. })),
        "nothing deleted on a half-read spec"
    );
    assert_eq!(p.writes.len(), 4, "the associations still go");
    assert!(outcome(&p, &as_planned(&p)).stalled());
}

#[test]
fn agent_flagged_and_other_owners_entries_are_never_planned_for_deletion() {
    let mut s = seen(Ok(Some(active())));
    let mut other = declared_entry("+12065550125", "connectgr.io/x/y", "t");
    other.source = Source::Declared;
    s.entries = Some(Ok(vec![
        Entry::bare("+12065550124", Source::Agent),
        other,
        Entry::bare("+12065550126", Source::Manual),
        declared_entry("+12065550127", OWNER, "t"),
    ]));
    s.lambda = vec![];
    let p = plan(&input(&[]), &s);
    assert_eq!(
        p.writes,
        vec![DenylistWrite::Delete {
            region: WEST.into(),
            number: "+12065550127".into()
        }]
    );
}

#[test]
fn a_converged_denylist_plans_no_write_and_is_ready() {
    let mut s = seen(Ok(Some(active())));
    s.entries = Some(Ok(vec![declared_entry("+12065550123", OWNER, "t")]));
    s.lambda = input(&[])
        .lambda
        .map(|l| {
            [WEST, EAST]
                .iter()
                .map(|r| {
                    let arns = l
                        .function_names
                        .iter()
                        .map(|n| function_arn(r, "123456789012", n))
                        .collect();
                    (r.to_string(), Ok(arns))
                })
                .collect()
        })
        .unwrap();
    let p = plan(&input(&["+1 206 555 0123"]), &s);
    assert!(p.writes.is_empty(), "{:?}", p.writes);
    let o = outcome(&p, &[]);
    assert!(o.ready, "{o:?}");
    assert_eq!(o.managed_numbers, vec!["+12065550123"]);
}

#[test]
fn the_outcome_records_what_took_effect_not_what_was_planned() {
    let mut s = seen(Ok(Some(active())));
    s.entries = Some(Ok(vec![declared_entry("+12065550127", OWNER, "t")]));
    s.lambda = vec![];
    let p = plan(&input(&["+12065550123"]), &s);
    assert_eq!(p.writes.len(), 2);
    // The put found an agent flag written meanwhile; the delete found the entry changed.
    let o = outcome(&p, &[Ok(false), Ok(false)]);
    let e = o.entries.as_ref().unwrap();
    assert_eq!(e.already_present, vec!["+12065550123"]);
    assert_eq!(e.kept, vec!["+12065550127"]);
    assert!(e.written.is_empty() && e.deleted.is_empty());
    // Both as planned.
    let o = outcome(&p, &as_planned(&p));
    let e = o.entries.as_ref().unwrap();
    assert_eq!(e.written, vec!["+12065550123"]);
    assert_eq!(e.deleted, vec!["+12065550127"]);
    assert_eq!(o.managed_numbers, vec!["+12065550123"]);
    assert!(o.ready);
}

#[test]
fn a_failed_or_unsent_entry_write_leaves_the_sync_unfinished() {
    let mut s = seen(Ok(Some(active())));
    s.lambda = vec![];
    let p = plan(&input(&["+12065550123", "+12065550124"]), &s);
    let o = outcome(&p, &[Err(transient("PutItem"))]);
    assert!(o.entries.is_none() && !o.ready && o.transient());
    let o = outcome(&p, &[Ok(true)]);
    assert!(o.entries.is_none() && !o.ready, "one of two puts sent");
}

#[test]
fn a_landed_create_is_an_action_and_the_table_waits_for_it() {
    let p = plan(&input(&[]), &seen(Ok(None)));
    let o = outcome(&p, &as_planned(&p));
    assert_eq!(o.table.actions, vec![format!("CreateTable {WEST}")]);
    assert_eq!(o.table.source.state, TableState::Waiting("CREATING".into()));
    assert!(o.waiting());
    let refused = DenylistError::terminal("CreateTable", "AccessDenied").in_region(WEST);
    let mut landed = as_planned(&p);
    landed[0] = Err(refused);
    let o = outcome(&p, &landed);
    assert!(o.table.actions.is_empty());
    assert_eq!(o.table.source.state, TableState::Missing);
    assert!(o.stalled());
}

#[test]
fn each_planned_write_is_listed_as_region_operation_and_detail() {
    let p = plan(&input(&["+12065550123"]), &seen(Ok(None)));
    assert_eq!(
        p.writes[0].describe(),
        "[us-west-2] CreateTable DenylistingTable"
    );
    let put = DenylistWrite::Put {
        region: WEST.into(),
        number: "+12065550123".into(),
    };
    assert_eq!(put.describe(), "[us-west-2] PutItem +12065550123");
}
