//! Agent membership: resolve usernames and selectors to user ids, and diff against the group.

use std::collections::{BTreeMap, BTreeSet};

use crate::connect::{NamedId, UserInfo};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Remove members that are not declared.
    Exact,
    /// Only add; never remove.
    Additive,
}

/// The agents a membership declares: usernames plus an optional selector (a union).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DesiredAgents {
    pub users: Vec<String>,
    pub routing_profiles: Vec<String>,
    pub hierarchy_groups: Vec<String>,
    pub tags: BTreeMap<String, String>,
}

impl DesiredAgents {
    pub fn has_selector(&self) -> bool {
        !self.routing_profiles.is_empty()
            || !self.hierarchy_groups.is_empty()
            || !self.tags.is_empty()
    }
}

/// Usernames resolved to ids, and what could not be resolved.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Resolution {
    /// user id -> username
    pub ids: BTreeMap<String, String>,
    /// Declared usernames that no user of the instance has.
    pub unknown_users: Vec<String>,
    /// Selector names (routing profile / hierarchy group) that do not exist.
    pub unknown_selectors: Vec<String>,
}

/// Resolves declared usernames and selectors against the instance's users. A user matches the
/// selector when it matches every criterion that is set (routing profile AND hierarchy group AND
/// all tags); users and selector matches are unioned.
pub fn resolve(
    desired: &DesiredAgents,
    users: &[UserInfo],
    routing_profiles: &[NamedId],
    hierarchy_groups: &[NamedId],
) -> Resolution {
    let by_name: BTreeMap<&str, &UserInfo> =
        users.iter().map(|u| (u.username.as_str(), u)).collect();
    let mut res = Resolution::default();
    for name in &desired.users {
        match by_name.get(name.as_str()) {
            Some(u) => {
                res.ids.insert(u.id.clone(), u.username.clone());
            }
            None => res.unknown_users.push(name.clone()),
        }
    }
    let ids_of =
        |names: &[String], table: &[NamedId], unknown: &mut Vec<String>| -> BTreeSet<String> {
            names
                .iter()
                .filter_map(|n| {
                    let found = table.iter().find(|t| &t.name == n).map(|t| t.id.clone());
                    if found.is_none() {
                        unknown.push(n.clone());
                    }
                    found
                })
                .collect()
        };
    let rp = ids_of(
        &desired.routing_profiles,
        routing_profiles,
        &mut res.unknown_selectors,
    );
    let hg = ids_of(
        &desired.hierarchy_groups,
        hierarchy_groups,
        &mut res.unknown_selectors,
    );
    if desired.has_selector() {
        for u in users {
            let by_rp = desired.routing_profiles.is_empty()
                || u.routing_profile_id
                    .as_ref()
                    .is_some_and(|id| rp.contains(id));
            let by_hg = desired.hierarchy_groups.is_empty()
                || u.hierarchy_group_id
                    .as_ref()
                    .is_some_and(|id| hg.contains(id));
            let by_tags = desired.tags.iter().all(|(k, v)| u.tags.get(k) == Some(v));
            if by_rp && by_hg && by_tags {
                res.ids.insert(u.id.clone(), u.username.clone());
            }
        }
    }
    res
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MembershipDiff {
    pub associate: Vec<String>,
    pub disassociate: Vec<String>,
}

impl MembershipDiff {
    pub fn is_empty(&self) -> bool {
        self.associate.is_empty() && self.disassociate.is_empty()
    }
}

/// Both ways: declared but not member -> associate; member but not declared -> disassociate
/// (Exact mode only). Sorted, so batches are deterministic.
pub fn diff(desired: &BTreeSet<String>, current: &BTreeSet<String>, mode: Mode) -> MembershipDiff {
    MembershipDiff {
        associate: desired.difference(current).cloned().collect(),
        disassociate: match mode {
            Mode::Exact => current.difference(desired).cloned().collect(),
            Mode::Additive => Vec::new(),
        },
    }
}

/// On deletion with `deletionPolicy: Delete`: the group members this membership declares that no
/// other membership of the group still declares (never anyone it does not declare). Sorted.
pub fn release(
    declared: &BTreeSet<String>,
    declared_by_others: &BTreeSet<String>,
    current: &BTreeSet<String>,
) -> Vec<String> {
    declared
        .intersection(current)
        .filter(|id| !declared_by_others.contains(*id))
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn user(id: &str, name: &str, rp: &str, hg: &str, tags: &[(&str, &str)]) -> UserInfo {
        UserInfo {
            id: id.into(),
            username: name.into(),
            routing_profile_id: Some(rp.into()),
            hierarchy_group_id: Some(hg.into()),
            tags: tags
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    fn directory() -> (Vec<UserInfo>, Vec<NamedId>, Vec<NamedId>) {
        (
            vec![
                user("u1", "alice", "rp-basic", "hg-1", &[("team", "support")]),
                user("u2", "bob", "rp-sales", "hg-2", &[("team", "sales")]),
                user("u3", "carol", "rp-basic", "hg-2", &[]),
            ],
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
        let d = diff(&desired, &current, Mode::Additive);
        assert_eq!(d.associate, vec!["c"]);
        assert!(d.disassociate.is_empty());
    }

    proptest! {
        #[test]
        fn exact_mode_applying_the_diff_yields_the_desired_set(
            desired in proptest::collection::btree_set("[a-f]{1,2}", 0..20),
            current in proptest::collection::btree_set("[a-f]{1,2}", 0..20),
        ) {
            let d = diff(&desired, &current, Mode::Exact);
            let mut after = current.clone();
            for a in &d.associate { prop_assert!(after.insert(a.clone()), "associates only non-members"); }
            for r in &d.disassociate { prop_assert!(after.remove(r), "disassociates only members"); }
            prop_assert_eq!(after, desired);
        }

        #[test]
        fn a_converged_group_needs_no_calls(set in proptest::collection::btree_set("[a-z]{1,3}", 0..30)) {
            prop_assert!(diff(&set, &set, Mode::Exact).is_empty());
        }

        #[test]
        fn additive_mode_keeps_every_current_member(
            desired in proptest::collection::btree_set("[a-f]{1,2}", 0..20),
            current in proptest::collection::btree_set("[a-f]{1,2}", 0..20),
        ) {
            let d = diff(&desired, &current, Mode::Additive);
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
}
