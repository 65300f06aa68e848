use super::*;
use crate::denylist::handlers::{DenylistStore, MemoryStore};
use crate::denylist::steps::sync_entries;
use proptest::prelude::*;

const OWNER: &str = "connectgr.io/ns/a";

fn entry(n: &str, source: Source, owner: Option<&str>) -> Entry {
    let mut e = Entry::bare(n, source);
    e.managed_by = owner.map(str::to_string);
    e
}

fn set(v: &[&str]) -> BTreeSet<String> {
    v.iter().map(|s| s.to_string()).collect()
}

#[test]
fn plan_puts_missing_and_deletes_only_own_declared() {
    let observed = vec![
        entry("+1", Source::Agent, None),
        entry("+2", Source::Declared, Some(OWNER)),
        entry("+3", Source::Declared, Some(OWNER)),
        entry("+4", Source::Declared, Some("connectgr.io/ns/b")),
        entry("+5", Source::Manual, None),
        entry("+6", Source::Other(String::new()), None),
        entry("+7", Source::Declared, None),
    ];
    let plan = plan_entries(&set(&["+1", "+2", "+8"]), &observed, OWNER);
    assert_eq!(plan.put, vec!["+8"]);
    assert_eq!(plan.delete, vec!["+3"]);
}

#[test]
fn replica_statuses() {
    assert_eq!(classify_replica_status("ACTIVE", None), TableState::Ready);
    assert_eq!(
        classify_replica_status("CREATING", None),
        TableState::Waiting("CREATING".into())
    );
    assert_eq!(
        classify_replica_status("UPDATING", None),
        TableState::Waiting("UPDATING".into())
    );
    for s in [
        "CREATION_FAILED",
        "DELETING",
        "REGION_DISABLED",
        "INACCESSIBLE_ENCRYPTION_CREDENTIALS",
        "ARCHIVING",
        "ARCHIVED",
        "REPLICATION_NOT_AUTHORIZED",
    ] {
        assert!(
            matches!(classify_replica_status(s, Some("why")), TableState::Failed { ref message, .. } if message.contains("why")),
            "{s}"
        );
    }
    assert!(matches!(
        classify_replica_status("SOMETHING_NEW", None),
        TableState::Waiting(_)
    ));
}

#[test]
fn table_statuses() {
    assert_eq!(classify_table_status("ACTIVE"), TableState::Ready);
    assert!(matches!(
        classify_table_status("CREATING"),
        TableState::Waiting(_)
    ));
    assert!(matches!(
        classify_table_status("DELETING"),
        TableState::Failed { .. }
    ));
    assert!(matches!(
        classify_table_status("ARCHIVED"),
        TableState::Failed { .. }
    ));
}

#[test]
fn schema_check() {
    let mut info = TableInfo {
        hash_key: Some("ContactNumber".into()),
        hash_key_type: Some("S".into()),
        ..Default::default()
    };
    assert_eq!(schema_error(&info), None);
    info.range_key = Some("x".into());
    assert!(schema_error(&info).unwrap().contains("sort key x"));
    info.range_key = None;
    info.hash_key_type = Some("N".into());
    assert!(schema_error(&info).is_some());
}

fn block_on<F: Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(f)
}

#[test]
fn sync_is_idempotent_and_keeps_agent_flags() {
    let store = MemoryStore::with([entry("+11", Source::Agent, None)]);
    let r = block_on(sync_entries(&store, &set(&["+10", "+11"]), OWNER, "t")).unwrap();
    assert_eq!(r.written, vec!["+10"]);
    assert_eq!(r.counts.total, 2);
    assert_eq!(r.counts.agent_flagged, 1);
    assert_eq!(r.counts.declared, 1);
    assert_eq!(r.managed, vec!["+10"]);
    assert_eq!(r.declared_elsewhere, vec!["+11"]);
    let again = block_on(sync_entries(&store, &set(&["+10", "+11"]), OWNER, "t")).unwrap();
    assert!(again.plan.is_empty());
    let r = block_on(sync_entries(&store, &set(&[]), OWNER, "t")).unwrap();
    assert_eq!(r.deleted, vec!["+10"]);
    assert_eq!(r.counts.total, 1);
    assert!(store.entries.lock()["+11"].is_agent_flagged());
    assert!(block_on(sync_entries(&store, &set(&[]), " ", "t")).is_err());
}

fn arb_source() -> impl Strategy<Value = (Source, Option<String>)> {
    prop_oneof![
        Just((Source::Agent, None)),
        Just((Source::Declared, Some(OWNER.to_string()))),
        Just((Source::Declared, Some("connectgr.io/ns/b".to_string()))),
        Just((Source::Declared, None)),
        Just((Source::Manual, None)),
        Just((Source::Other(String::new()), None)),
    ]
}

fn arb_observed() -> impl Strategy<Value = Vec<Entry>> {
    prop::collection::btree_map(0u8..30, arb_source(), 0..20).prop_map(|m| {
        m.into_iter()
            .map(|(n, (s, o))| entry(&format!("+1{n:09}"), s, o.as_deref()))
            .collect()
    })
}

proptest! {
    #[test]
    fn plan_never_touches_what_it_did_not_write(
        observed in arb_observed(),
        declared in prop::collection::btree_set((0u8..30).prop_map(|n| format!("+1{n:09}")), 0..15),
    ) {
        let plan = plan_entries(&declared, &observed, OWNER);
        for n in &plan.delete {
            let e = observed.iter().find(|e| &e.contact_number == n).unwrap();
            prop_assert!(e.is_managed_by(OWNER));
            prop_assert!(!declared.contains(n));
        }
        for n in &plan.put {
            prop_assert!(declared.contains(n));
            prop_assert!(observed.iter().all(|e| &e.contact_number != n));
        }
        // After applying the plan every declared number is present and nothing of
        // another source was lost.
        let mut after: BTreeSet<String> = observed.iter().map(|e| e.contact_number.clone()).collect();
        for n in &plan.delete { after.remove(n); }
        for n in &plan.put { after.insert(n.clone()); }
        prop_assert!(declared.is_subset(&after));
        for e in &observed {
            if !e.is_managed_by(OWNER) {
                prop_assert!(after.contains(&e.contact_number));
            }
        }
    }

    #[test]
    fn sync_converges_in_one_pass(
        observed in arb_observed(),
        declared in prop::collection::btree_set((0u8..30).prop_map(|n| format!("+1{n:09}")), 0..15),
    ) {
        let store = MemoryStore::with(observed.clone());
        block_on(sync_entries(&store, &declared, OWNER, "t")).unwrap();
        let after = block_on(store.scan()).unwrap();
        prop_assert!(plan_entries(&declared, &after, OWNER).is_empty());
        for e in observed.iter().filter(|e| e.is_agent_flagged()) {
            prop_assert!(after.contains(e));
        }
    }
}
