//! Safety invariants of the live state, checked at every observation of a chaos soak (pure: the
//! caller maps what it observed into [`Observed`] and what is declared into [`Declared`]).
//!
//! - D4: no telephony to a region whose agent share is 0, unless the group's distribution allows
//!   telephony without agents.
//! - Nothing is created twice: two groups with one name, or a group whose id changes between
//!   observations (deleted and created again).
//! - No declared agent is removed: an agent that a membership declares stays in its group once it
//!   has been seen there.

use std::collections::{BTreeMap, BTreeSet};

/// One traffic distribution group as observed in the live state.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ObservedGroup {
    pub id: String,
    pub name: String,
    /// Region -> telephony percentage.
    pub telephony: BTreeMap<String, u32>,
    /// Region -> agent percentage.
    pub agents: BTreeMap<String, u32>,
    /// Members (usernames or ids, the same kind as [`DeclaredGroup::members`]).
    pub members: BTreeSet<String>,
}

/// One observation of the live state.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Observed {
    pub groups: Vec<ObservedGroup>,
}

/// What the manifests declare for one group (by name).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeclaredGroup {
    pub name: String,
    pub allow_telephony_without_agents: bool,
    /// Agents that a membership declares for the group.
    pub members: BTreeSet<String>,
}

/// One broken invariant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Violation {
    /// D4: calls to a region with no agents.
    TelephonyWithoutAgents {
        group: String,
        region: String,
        telephony: u32,
    },
    /// Two live groups with one name.
    DuplicateGroup { name: String, ids: Vec<String> },
    /// A group's id changed between observations (deleted and created again).
    GroupRecreated {
        name: String,
        before: String,
        after: String,
    },
    /// A declared agent that was in its group is no longer there.
    DeclaredAgentRemoved { group: String, agent: String },
}

impl Violation {
    /// Counts as a duplicate creation (as opposed to a safety violation of the live split).
    pub fn is_duplicate_creation(&self) -> bool {
        matches!(
            self,
            Self::DuplicateGroup { .. } | Self::GroupRecreated { .. }
        )
    }
}

/// Checks observations one after the other; remembers what it has seen (group ids, members once
/// associated).
#[derive(Debug, Clone, Default)]
pub struct InvariantChecker {
    ids: BTreeMap<String, String>,
    associated: BTreeSet<(String, String)>,
}

impl InvariantChecker {
    pub fn check(&mut self, observed: &Observed, declared: &[DeclaredGroup]) -> Vec<Violation> {
        let mut out = Vec::new();
        let mut by_name: BTreeMap<&str, Vec<&ObservedGroup>> = BTreeMap::new();
        for g in &observed.groups {
            by_name.entry(g.name.as_str()).or_default().push(g);
        }
        for (name, groups) in &by_name {
            if groups.len() > 1 {
                out.push(Violation::DuplicateGroup {
                    name: name.to_string(),
                    ids: groups.iter().map(|g| g.id.clone()).collect(),
                });
            }
        }
        for g in &observed.groups {
            let decl = declared.iter().find(|d| d.name == g.name);
            out.extend(telephony_without_agents(g, decl));
            if by_name[g.name.as_str()].len() == 1 {
                match self.ids.get(&g.name) {
                    Some(before) if *before != g.id => out.push(Violation::GroupRecreated {
                        name: g.name.clone(),
                        before: before.clone(),
                        after: g.id.clone(),
                    }),
                    _ => {}
                }
                self.ids.insert(g.name.clone(), g.id.clone());
            }
            let Some(decl) = decl else { continue };
            for agent in &decl.members {
                let key = (g.name.clone(), agent.clone());
                if g.members.contains(agent) {
                    self.associated.insert(key);
                } else if self.associated.contains(&key) {
                    out.push(Violation::DeclaredAgentRemoved {
                        group: g.name.clone(),
                        agent: agent.clone(),
                    });
                }
            }
        }
        out
    }
}

fn telephony_without_agents(g: &ObservedGroup, decl: Option<&DeclaredGroup>) -> Vec<Violation> {
    if decl.is_some_and(|d| d.allow_telephony_without_agents) {
        return vec![];
    }
    g.telephony
        .iter()
        .filter(|(region, t)| **t > 0 && g.agents.get(*region).copied() == Some(0))
        .map(|(region, t)| Violation::TelephonyWithoutAgents {
            group: g.name.clone(),
            region: region.clone(),
            telephony: *t,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn group(id: &str, tel: [u32; 2], agents: [u32; 2], members: &[&str]) -> ObservedGroup {
        let split = |p: [u32; 2]| {
            BTreeMap::from([
                ("us-west-2".to_string(), p[0]),
                ("us-east-1".to_string(), p[1]),
            ])
        };
        ObservedGroup {
            id: id.into(),
            name: "support-default".into(),
            telephony: split(tel),
            agents: split(agents),
            members: members.iter().map(|m| m.to_string()).collect(),
        }
    }

    fn declared(allow: bool, members: &[&str]) -> Vec<DeclaredGroup> {
        vec![DeclaredGroup {
            name: "support-default".into(),
            allow_telephony_without_agents: allow,
            members: members.iter().map(|m| m.to_string()).collect(),
        }]
    }

    fn observed(groups: Vec<ObservedGroup>) -> Observed {
        Observed { groups }
    }

    #[test]
    fn d4_telephony_to_a_region_without_agents_is_a_violation() {
        let v = InvariantChecker::default().check(
            &observed(vec![group("g1", [30, 70], [0, 100], &[])]),
            &declared(false, &[]),
        );
        assert_eq!(
            v,
            vec![Violation::TelephonyWithoutAgents {
                group: "support-default".into(),
                region: "us-west-2".into(),
                telephony: 30
            }]
        );
    }

    #[test]
    fn d4_allows_telephony_without_agents_when_the_distribution_allows_it() {
        let v = InvariantChecker::default().check(
            &observed(vec![group("g1", [30, 70], [0, 100], &[])]),
            &declared(true, &[]),
        );
        assert!(v.is_empty(), "{v:?}");
    }

    #[test]
    fn d4_agents_without_telephony_and_a_full_failover_are_fine() {
        let mut c = InvariantChecker::default();
        let d = declared(false, &[]);
        assert!(
            c.check(&observed(vec![group("g1", [0, 100], [10, 90], &[])]), &d)
                .is_empty()
        );
        assert!(
            c.check(&observed(vec![group("g1", [0, 100], [0, 100], &[])]), &d)
                .is_empty()
        );
    }

    #[test]
    fn two_groups_with_one_name_are_a_duplicate_creation() {
        let v = InvariantChecker::default().check(
            &observed(vec![
                group("g1", [50, 50], [50, 50], &[]),
                group("g2", [50, 50], [50, 50], &[]),
            ]),
            &declared(false, &[]),
        );
        assert_eq!(v.len(), 1);
        assert!(v[0].is_duplicate_creation(), "{v:?}");
    }

    #[test]
    fn a_group_whose_id_changes_between_observations_was_created_again() {
        let mut c = InvariantChecker::default();
        let d = declared(false, &[]);
        assert!(
            c.check(&observed(vec![group("g1", [50, 50], [50, 50], &[])]), &d)
                .is_empty()
        );
        let v = c.check(&observed(vec![group("g2", [50, 50], [50, 50], &[])]), &d);
        assert_eq!(
            v,
            vec![Violation::GroupRecreated {
                name: "support-default".into(),
                before: "g1".into(),
                after: "g2".into()
            }]
        );
    }

    #[test]
    fn a_declared_agent_removed_after_it_was_associated_is_a_violation() {
        let mut c = InvariantChecker::default();
        let d = declared(false, &["alice", "bob"]);
        let v = c.check(
            &observed(vec![group("g1", [50, 50], [50, 50], &["alice"])]),
            &d,
        );
        assert!(
            v.is_empty(),
            "bob not yet associated is no violation: {v:?}"
        );
        let v = c.check(
            &observed(vec![group("g1", [50, 50], [50, 50], &["bob"])]),
            &d,
        );
        assert_eq!(
            v,
            vec![Violation::DeclaredAgentRemoved {
                group: "support-default".into(),
                agent: "alice".into()
            }]
        );
    }

    #[test]
    fn an_undeclared_agent_leaving_the_group_is_no_violation() {
        let mut c = InvariantChecker::default();
        let d = declared(false, &["alice"]);
        assert!(
            c.check(
                &observed(vec![group("g1", [50, 50], [50, 50], &["alice", "zed"])]),
                &d
            )
            .is_empty()
        );
        assert!(
            c.check(
                &observed(vec![group("g1", [50, 50], [50, 50], &["alice"])]),
                &d
            )
            .is_empty()
        );
    }
}
