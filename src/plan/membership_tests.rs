use crate::connect::{UserDetails, UserInfo};

#[test]
fn a_busy_group_keeps_the_membership_until_it_is_active_and_only_a_gone_one_releases() {
    use crate::connect::ConnectError as E;
    let busy = release_while_not_active(Ok("UPDATE_IN_PROGRESS")).unwrap();
    assert!(busy.is_some_and(|w| w.contains("UPDATE_IN_PROGRESS")));
    assert!(
        release_while_not_active(Ok("PENDING_DELETION"))
            .unwrap()
            .is_some()
    );
    assert_eq!(
        release_while_not_active(Err(&E::NotFound("g".into()))),
        Ok(None)
    );
    assert_eq!(release_while_not_active(Ok("CREATION_FAILED")), Ok(None));
    for e in [
        E::Throttled("t".into()),
        E::Transient("503".into()),
        E::AccessDenied("d".into()),
    ] {
        assert_eq!(release_while_not_active(Err(&e)), Err(e.clone()));
    }
}
use super::*;
use proptest::prelude::*;

fn user(id: &str, name: &str, rp: &str, hg: &str, tags: &[(&str, &str)]) -> UserInfo {
    UserInfo {
        id: id.into(),
        username: name.into(),
        details: Some(Box::new(UserDetails {
            routing_profile_id: Some(rp.into()),
            hierarchy_group_id: Some(hg.into()),
            tags: tags
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        })),
    }
}

fn directory() -> (Directory, Vec<NamedId>, Vec<NamedId>) {
    (
        Directory::new(vec![
            user("u1", "alice", "rp-basic", "hg-1", &[("team", "support")]),
            user("u2", "bob", "rp-sales", "hg-2", &[("team", "sales")]),
            user("u3", "carol", "rp-basic", "hg-2", &[]),
        ]),
        vec![
            NamedId {
                id: "rp-basic".into(),
                name: "Basic Routing Profile".into(),
            },
            NamedId {
                id: "rp-sales".into(),
                name: "Sales".into(),
            },
        ],
        vec![
            NamedId {
                id: "hg-1".into(),
                name: "Tier 1".into(),
            },
            NamedId {
                id: "hg-2".into(),
                name: "Tier 2".into(),
            },
        ],
    )
}

#[test]
fn usernames_resolve_to_ids_and_unknown_names_are_reported() {
    let (u, rp, hg) = directory();
    let d = DesiredAgents {
        users: vec!["alice".into(), "mallory".into()],
        ..Default::default()
    };
    let r = resolve(&d, &u, &rp, &hg);
    assert_eq!(r.ids.keys().collect::<Vec<_>>(), vec!["u1"]);
    assert_eq!(r.unknown_users, vec!["mallory"]);
}

#[test]
fn selector_by_routing_profile_matches_every_user_on_it() {
    let (u, rp, hg) = directory();
    let d = DesiredAgents {
        routing_profiles: vec!["Basic Routing Profile".into()],
        ..Default::default()
    };
    assert_eq!(
        resolve(&d, &u, &rp, &hg).ids.keys().collect::<Vec<_>>(),
        vec!["u1", "u3"]
    );
}

#[test]
fn selector_by_tags_requires_all_tags() {
    let (u, rp, hg) = directory();
    let mut tags = BTreeMap::new();
    tags.insert("team".to_string(), "sales".to_string());
    let d = DesiredAgents {
        tags,
        ..Default::default()
    };
    assert_eq!(
        resolve(&d, &u, &rp, &hg).ids.keys().collect::<Vec<_>>(),
        vec!["u2"]
    );
}

#[test]
fn selector_criteria_must_all_match() {
    let (u, rp, hg) = directory();
    let d = DesiredAgents {
        routing_profiles: vec!["Basic Routing Profile".into()],
        hierarchy_groups: vec!["Tier 2".into()],
        ..Default::default()
    };
    assert_eq!(
        resolve(&d, &u, &rp, &hg).ids.keys().collect::<Vec<_>>(),
        vec!["u3"]
    );
}

#[test]
fn users_and_selector_are_a_union() {
    let (u, rp, hg) = directory();
    let d = DesiredAgents {
        users: vec!["bob".into()],
        hierarchy_groups: vec!["Tier 1".into()],
        ..Default::default()
    };
    assert_eq!(
        resolve(&d, &u, &rp, &hg).ids.keys().collect::<Vec<_>>(),
        vec!["u1", "u2"]
    );
}

#[test]
fn an_unknown_selector_name_is_reported_not_ignored() {
    let (u, rp, hg) = directory();
    let d = DesiredAgents {
        hierarchy_groups: vec!["Tier 9".into()],
        ..Default::default()
    };
    let r = resolve(&d, &u, &rp, &hg);
    assert!(r.ids.is_empty());
    assert_eq!(r.unknown_selectors, vec!["Tier 9"]);
}

#[test]
fn additive_mode_never_removes_anyone() {
    let current: BTreeSet<String> = ["a", "b"].iter().map(|s| s.to_string()).collect();
    let desired: BTreeSet<String> = ["b", "c"].iter().map(|s| s.to_string()).collect();
    let d = diff(&desired, &BTreeSet::new(), &current, Mode::Additive);
    assert_eq!(d.associate, vec!["c"]);
    assert!(d.disassociate.is_empty());
}

proptest! {
    #[test]
    fn exact_mode_applying_the_diff_yields_the_desired_set(
        desired in proptest::collection::btree_set("[a-f]{1,2}", 0..20),
        current in proptest::collection::btree_set("[a-f]{1,2}", 0..20),
    ) {
        let d = diff(&desired, &BTreeSet::new(), &current, Mode::Exact);
        let mut after = current.clone();
        for a in &d.associate { prop_assert!(after.insert(a.clone()), "associates only non-members"); }
        for r in &d.disassociate { prop_assert!(after.remove(r), "disassociates only members"); }
        prop_assert_eq!(after, desired);
    }

    #[test]
    fn a_converged_group_needs_no_calls(set in proptest::collection::btree_set("[a-z]{1,3}", 0..30)) {
        prop_assert!(diff(&set, &BTreeSet::new(), &set, Mode::Exact).is_empty());
    }

    #[test]
    fn additive_mode_keeps_every_current_member(
        desired in proptest::collection::btree_set("[a-f]{1,2}", 0..20),
        current in proptest::collection::btree_set("[a-f]{1,2}", 0..20),
    ) {
        let d = diff(&desired, &BTreeSet::new(), &current, Mode::Additive);
        prop_assert!(d.disassociate.is_empty());
        let after: BTreeSet<String> = current.iter().cloned().chain(d.associate.iter().cloned()).collect();
        prop_assert!(after.is_superset(&desired));
    }
}

#[test]
fn deleting_a_membership_releases_only_its_own_agents_still_in_the_group() {
    let set = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<BTreeSet<_>>();
    let got = release(&set(&["a", "b", "c"]), &set(&["b"]), &set(&["a", "b", "z"]));
    assert_eq!(got, vec!["a".to_string()]);
}

proptest! {
    #[test]
    fn a_released_agent_is_declared_by_this_membership_alone_and_is_a_member(
        declared in proptest::collection::btree_set("[a-f]", 0..6),
        others in proptest::collection::btree_set("[a-f]", 0..6),
        current in proptest::collection::btree_set("[a-f]", 0..6),
    ) {
        for id in release(&declared, &others, &current) {
            prop_assert!(declared.contains(&id));
            prop_assert!(current.contains(&id));
            prop_assert!(!others.contains(&id));
        }
    }
}

/// A group and some memberships: (mode, declared ids).
fn memberships() -> impl Strategy<Value = Vec<(Mode, BTreeSet<String>)>> {
    proptest::collection::vec(
        (
            prop_oneof![Just(Mode::Exact), Just(Mode::Additive)],
            proptest::collection::btree_set("[a-j]", 0..6),
        ),
        0..6,
    )
}

/// One pass of every membership in turn, each applying its own diff to the group.
/// Returns the calls made and panics (via the returned flag) if a declared agent was removed.
fn one_round(
    group: &mut BTreeSet<String>,
    ms: &[(Mode, BTreeSet<String>)],
) -> (usize, Vec<String>) {
    let mut calls = 0;
    let mut wrongly_removed = Vec::new();
    for (i, (mode, mine)) in ms.iter().enumerate() {
        let others: BTreeSet<String> = ms
            .iter()
            .enumerate()
            .filter(|(j, _)| *j != i)
            .flat_map(|(_, (_, d))| d.iter().cloned())
            .collect();
        let d = diff(mine, &others, group, *mode);
        for id in &d.disassociate {
            if ms.iter().any(|(_, decl)| decl.contains(id)) {
                wrongly_removed.push(id.clone());
            }
            group.remove(id);
        }
        for id in &d.associate {
            group.insert(id.clone());
        }
        calls += d.associate.len() + d.disassociate.len();
    }
    (calls, wrongly_removed)
}

proptest! {
    #[test]
    fn no_membership_ever_removes_an_agent_that_some_membership_declares(
        ms in memberships(),
        start in proptest::collection::btree_set("[a-m]", 0..10),
    ) {
        let mut group = start;
        let (_, wrongly_removed) = one_round(&mut group, &ms);
        prop_assert!(wrongly_removed.is_empty(), "removed {:?}", wrongly_removed);
    }

    #[test]
    fn memberships_of_one_group_converge_in_one_round_and_a_second_round_writes_nothing(
        ms in memberships(),
        start in proptest::collection::btree_set("[a-m]", 0..10),
    ) {
        let mut group = start.clone();
        one_round(&mut group, &ms);
        let declared: BTreeSet<String> = ms.iter().flat_map(|(_, d)| d.iter().cloned()).collect();
        prop_assert!(group.is_superset(&declared), "every declared agent is a member");
        if ms.iter().any(|(m, _)| *m == Mode::Exact) {
            prop_assert_eq!(&group, &declared, "with an Exact membership, only declared agents stay");
        } else {
            prop_assert!(group.is_superset(&start), "Additive memberships never remove");
        }
        let (calls, _) = one_round(&mut group, &ms);
        prop_assert_eq!(calls, 0, "a second round is a no-op");
    }
}

#[test]
fn ten_exact_memberships_of_one_group_do_not_fight() {
    let ms: Vec<(Mode, BTreeSet<String>)> = (0..10)
        .map(|t| {
            (
                Mode::Exact,
                (0..500).map(|i| format!("u{}", t * 500 + i)).collect(),
            )
        })
        .collect();
    let mut group = BTreeSet::new();
    let (first, wrong) = one_round(&mut group, &ms);
    assert_eq!((first, wrong.len(), group.len()), (5000, 0, 5000));
    assert_eq!(one_round(&mut group, &ms).0, 0);
}

#[test]
fn an_exact_membership_still_removes_what_nobody_declares() {
    let set = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<BTreeSet<_>>();
    let d = diff(
        &set(&["a"]),
        &set(&["b"]),
        &set(&["a", "b", "stray"]),
        Mode::Exact,
    );
    assert_eq!(d.disassociate, vec!["stray".to_string()]);
    assert!(d.associate.is_empty());
}

#[test]
fn the_verdict_ladder_puts_remaining_calls_before_unknown_names_before_replication() {
    let mut p = Progress {
        remaining: 1,
        unknown: vec!["mallory".into()],
        pending: vec!["dave".into()],
        associated: 1,
        desired: 3,
    };
    assert_eq!(verdict(&p, "i", "us-east-1").1, Next::Continue);
    p.remaining = 0;
    assert!(
        matches!(verdict(&p, "i", "us-east-1").0, Verdict::Stalled { ref reason, .. } if reason == reasons::UNKNOWN_USERS)
    );
    p.unknown.clear();
    assert_eq!(verdict(&p, "i", "us-east-1").1, Next::Replication);
    p.pending.clear();
    assert!(verdict(&p, "i", "us-east-1").0.is_ready());
}
