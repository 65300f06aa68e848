//! Agent membership: resolve usernames and selectors to user ids, and diff against the group.

use std::collections::{BTreeMap, BTreeSet};

use super::Verdict;
use super::directory::Directory;
use crate::api::common::STATUS_LIST_CAP;
use crate::api::reasons;
use crate::connect::NamedId;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Mode {
    /// Remove members that are not declared.
    #[default]
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
    users: &Directory,
    routing_profiles: &[NamedId],
    hierarchy_groups: &[NamedId],
) -> Resolution {
    let mut res = Resolution::default();
    for name in &desired.users {
        match users.by_username(name) {
            Some(u) => {
                res.ids.insert(u.id.to_string(), u.username.to_string());
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
        for u in users.users() {
            let by_rp = desired.routing_profiles.is_empty()
                || u.routing_profile_id().is_some_and(|id| rp.contains(id));
            let by_hg = desired.hierarchy_groups.is_empty()
                || u.hierarchy_group_id().is_some_and(|id| hg.contains(id));
            let by_tags = desired
                .tags
                .iter()
                .all(|(k, v)| u.tag(k) == Some(v.as_str()));
            if by_rp && by_hg && by_tags {
                res.ids.insert(u.id.to_string(), u.username.to_string());
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

impl MembershipDiff {
    /// (associate?, user id) calls, leaves first.
    pub fn calls(&self) -> Vec<(bool, String)> {
        self.disassociate
            .iter()
            .map(|id| (false, id.clone()))
            .chain(self.associate.iter().map(|id| (true, id.clone())))
            .collect()
    }
}

/// Both ways: declared but not member -> associate; in Exact mode, a member that *no*
/// membership of the group declares (neither this one nor `declared_by_others`) ->
/// disassociate. So any number of memberships on one group, Exact and Additive mixed, converge
/// to the union of what they declare, and none removes what another adds. Sorted, so batches are
/// deterministic.
pub fn diff(
    desired: &BTreeSet<String>,
    declared_by_others: &BTreeSet<String>,
    current: &BTreeSet<String>,
    mode: Mode,
) -> MembershipDiff {
    MembershipDiff {
        associate: desired.difference(current).cloned().collect(),
        disassociate: match mode {
            Mode::Exact => current
                .iter()
                .filter(|id| !desired.contains(*id) && !declared_by_others.contains(*id))
                .cloned()
                .collect(),
            Mode::Additive => Vec::new(),
        },
    }
}

/// Whether an Exact membership could remove anyone: some member it does not declare. Only then
/// is it worth finding out what the other memberships of the group declare.
pub fn has_removal_candidates(
    desired: &BTreeSet<String>,
    current: &BTreeSet<String>,
    mode: Mode,
) -> bool {
    mode == Mode::Exact && current.iter().any(|id| !desired.contains(id))
}

/// Where a membership stands after a pass's batch.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Progress {
    /// Planned calls not made yet (the batch window closed, or they failed).
    pub remaining: usize,
    /// Declared users and selector names that do not exist (rule A2).
    pub unknown: Vec<String>,
    /// Users not mirrored to the replica region yet (rule A2).
    pub pending: Vec<String>,
    pub associated: usize,
    pub desired: usize,
}

/// When to look again, as the planner sees it (the executor turns it into a delay).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// Calls are left: go on at once.
    Continue,
    /// Users are being mirrored: a few seconds.
    Replication,
    /// Nothing to do: at the next drift check.
    Resync,
}

/// The verdict ladder: calls left -> Associating; unknown names -> Stalled; users not mirrored
/// -> WaitingForReplication; else Ready.
pub fn verdict(p: &Progress, instance_id: &str, replica_region: &str) -> (Verdict, Next) {
    let counts = format!("{}/{}", p.associated, p.desired);
    if p.remaining > 0 {
        return (
            Verdict::progressing(reasons::ASSOCIATING, format!("{counts} agents associated")),
            Next::Continue,
        );
    }
    if !p.unknown.is_empty() {
        return (
            Verdict::stalled(
                reasons::UNKNOWN_USERS,
                format!(
                    "not users of instance {instance_id}: {} (rule A2)",
                    capped(&p.unknown)
                ),
            ),
            Next::Resync,
        );
    }
    if !p.pending.is_empty() {
        return (
            Verdict::progressing(
                reasons::WAITING_FOR_REPLICATION,
                format!(
                    "{} users not yet mirrored to {replica_region} (rule A2): {}",
                    p.pending.len(),
                    capped(&p.pending)
                ),
            ),
            Next::Replication,
        );
    }
    (
        Verdict::Ready(format!("{counts} agents associated")),
        Next::Resync,
    )
}

fn capped(names: &[String]) -> String {
    names
        .iter()
        .take(STATUS_LIST_CAP)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ")
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

/// On deletion, when the group is not ACTIVE (issue 25): what Connect said about it decides
/// whether the membership lets go. `Ok(None)`: the group is really gone (NotFound) or never came
/// to be (CREATION_FAILED): nothing to take agents out of. `Ok(Some(why))`: it exists and is busy
/// (UPDATE_IN_PROGRESS after a split change, ...): the finalizer stays and the cleanup retries.
/// `Err`: the read failed (throttled, timed out, 5xx): never taken for "gone".
pub fn release_while_not_active(
    read: Result<&str, &crate::connect::ConnectError>,
) -> Result<Option<String>, crate::connect::ConnectError> {
    match read {
        Ok("CREATION_FAILED") => Ok(None),
        Ok(status) => Ok(Some(format!(
            "the group is {status}: its agents are taken out once it is ACTIVE again"
        ))),
        Err(crate::connect::ConnectError::NotFound(_)) => Ok(None),
        Err(e) => Err(e.clone()),
    }
}

#[cfg(test)]
#[path = "membership_tests.rs"]
mod tests;
