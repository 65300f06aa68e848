//! Traffic distribution groups: find or create (or adopt the default), wait for ACTIVE, and keep
//! the declared phone numbers in the group (G1, G2, G5, G6).

use std::collections::{BTreeMap, BTreeSet};

use super::Verdict;
use crate::api::reasons;
use crate::connect::{GroupInfo, PhoneNumberInfo};

/// A group can be read, changed and given members only while it is ACTIVE (A1, D1, G2): the
/// verdict to wait with otherwise. One rule for every kind that uses a group.
pub fn until_active(status: &str, rule: &str) -> Option<Verdict> {
    (status != "ACTIVE").then(|| {
        Verdict::progressing(
            reasons::GROUP_NOT_ACTIVE,
            format!("group is {status} (rule {rule})"),
        )
    })
}

/// Where an ACTIVE group stands once its numbers and tags were planned: declared numbers that
/// are not claimed stall it (G6); numbers still to move keep it reconciling.
pub fn verdict(plan: &NumberPlan, name: &str, source: &str, replica: &str) -> Verdict {
    if let Some((n, other)) = plan.taken.first() {
        return Verdict::stalled(
            reasons::ALREADY_EXISTS,
            format!(
                "phone number {n} is in another group ({other}){}; two groups never take one number: remove it there or set spec.adopt: true to move it here",
                if plan.taken.len() > 1 {
                    format!(" and {} more", plan.taken.len() - 1)
                } else {
                    String::new()
                }
            ),
        );
    }
    if !plan.missing.is_empty() {
        return Verdict::stalled(
            reasons::PHONE_NUMBER_NOT_CLAIMED,
            format!(
                "phone numbers not claimed in {source}: {} (rule G6: claim them in the source region first)",
                plan.missing.join(", ")
            ),
        );
    }
    Verdict::Ready(format!("group {name} is ACTIVE in {source} and {replica}"))
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DesiredGroup {
    pub name: String,
    pub default: bool,
    pub phone_numbers: BTreeSet<String>,
}

/// Which existing group is ours: the recorded id first, then the default group (when adopting)
/// or the name; `None` means it must be created.
pub fn find<'a>(
    desired: &DesiredGroup,
    recorded_id: Option<&str>,
    groups: &'a [GroupInfo],
) -> Option<&'a GroupInfo> {
    if let Some(id) = recorded_id
        && let Some(g) = groups.iter().find(|g| g.id == id || g.arn == id)
    {
        return Some(g);
    }
    if desired.default {
        groups.iter().find(|g| g.is_default)
    } else {
        groups
            .iter()
            .find(|g| g.name == desired.name && !g.is_default && g.status != "PENDING_DELETION")
    }
}

/// The tag that says which object manages a group.
pub const OWNER_TAG: &str = "connectgr.io/owner";

/// The owner tag's value for an object: `namespace/name/uid`.
pub fn owner_value(namespace: &str, name: &str, uid: &str) -> String {
    format!("{namespace}/{name}/{uid}")
}

/// Whose a group is, seen from one object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ownership {
    /// Tagged for this object (same namespace and name; the uid may differ after a cluster
    /// rebuild restored the object from Git).
    Ours,
    /// Untagged and this object may take it (`adopt: true`, or the default group it declares
    /// with `default: true`): tag it, then manage it.
    Claim,
    /// Tagged for another object: never managed by this one.
    Foreign(String),
    /// Untagged (made by hand) and not to be adopted.
    Unowned,
}

pub fn ownership(tags: &BTreeMap<String, String>, me: &str, may_adopt: bool) -> Ownership {
    let ns_name = |v: &str| v.rsplit_once('/').map(|(a, _)| a.to_string());
    match tags.get(OWNER_TAG) {
        Some(v) if ns_name(v) == ns_name(me) => Ownership::Ours,
        Some(v) => Ownership::Foreign(v.clone()),
        None if may_adopt => Ownership::Claim,
        None => Ownership::Unowned,
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lifecycle {
    /// No group yet: create it (never for `default: true`: ReplicateInstance creates that one, R5).
    Create,
    /// Adoption requested but the default group does not exist yet.
    WaitForDefault,
    Wait {
        status: String,
    },
    Active,
    Failed {
        status: String,
    },
}

pub fn lifecycle(desired: &DesiredGroup, found: Option<&GroupInfo>) -> Lifecycle {
    match found {
        None if desired.default => Lifecycle::WaitForDefault,
        None => Lifecycle::Create,
        Some(g) => match g.status.as_str() {
            "ACTIVE" => Lifecycle::Active,
            "CREATION_FAILED" | "DELETION_FAILED" => Lifecycle::Failed {
                status: g.status.clone(),
            },
            other => Lifecycle::Wait {
                status: other.to_string(),
            },
        },
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NumberPlan {
    /// (phone number id, E.164) to move into the group.
    pub move_in: Vec<(String, String)>,
    /// (phone number id, E.164) the controller put in the group and that are no longer declared:
    /// moved back to the instance.
    pub move_out: Vec<(String, String)>,
    /// Declared numbers not claimed in the group's region (G6): reported, nothing sent.
    pub missing: Vec<String>,
    /// (E.164, group ARN) declared here but in another, non-default group: not taken over
    /// silently (the other group's owner, or a person, put it there).
    pub taken: Vec<(String, String)>,
}

/// Declared numbers that sit in another group are held back (`taken`) unless that group is a
/// default group (ReplicateInstance moves an instance's numbers there, R5) or `adopt` says to take
/// them.
pub fn hold_taken(
    mut plan: NumberPlan,
    claimed: &[PhoneNumberInfo],
    default_groups: &BTreeSet<String>,
    adopt: bool,
) -> NumberPlan {
    if adopt {
        return plan;
    }
    let target = |id: &str| {
        claimed
            .iter()
            .find(|p| p.id == id)
            .and_then(|p| p.target_arn.clone())
            .unwrap_or_default()
    };
    let (free, taken): (Vec<_>, Vec<_>) = plan.move_in.into_iter().partition(|(id, _)| {
        let t = target(id);
        !t.contains(":traffic-distribution-group/") || default_groups.contains(&t)
    });
    plan.move_in = free;
    plan.taken = taken.into_iter().map(|(id, n)| (n, target(&id))).collect();
    plan
}

/// Phone numbers: declared ones go in; numbers the controller put there and that are no longer
/// declared go back to the instance; anything else in the group (e.g. put there by
/// ReplicateInstance, R5, or by a person) is left alone.
pub fn numbers(
    desired: &BTreeSet<String>,
    managed: &BTreeSet<String>,
    group_arn: &str,
    claimed: &[PhoneNumberInfo],
) -> NumberPlan {
    let mut plan = NumberPlan::default();
    for n in desired {
        match claimed.iter().find(|p| &p.number == n) {
            Some(p) if p.target_arn.as_deref() == Some(group_arn) => {}
            Some(p) => plan.move_in.push((p.id.clone(), n.clone())),
            None => plan.missing.push(n.clone()),
        }
    }
    for n in managed.difference(desired) {
        if let Some(p) = claimed
            .iter()
            .find(|p| &p.number == n && p.target_arn.as_deref() == Some(group_arn))
        {
            plan.move_out.push((p.id.clone(), n.clone()));
        }
    }
    plan
}

/// Before deleting a group every number must leave it (G5: ResourceInUseException otherwise).
pub fn numbers_in_group(group_arn: &str, claimed: &[PhoneNumberInfo]) -> Vec<(String, String)> {
    claimed
        .iter()
        .filter(|p| p.target_arn.as_deref() == Some(group_arn))
        .map(|p| (p.id.clone(), p.number.clone()))
        .collect()
}

/// Tag changes on a group: declared tags set where missing or different; keys the controller
/// set earlier (`managed`) that are no longer declared removed; tags a person added left alone.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TagPlan {
    pub set: BTreeMap<String, String>,
    pub remove: Vec<String>,
}

impl TagPlan {
    pub fn is_empty(&self) -> bool {
        self.set.is_empty() && self.remove.is_empty()
    }
}

pub fn tags(
    desired: &BTreeMap<String, String>,
    managed: &BTreeSet<String>,
    current: &BTreeMap<String, String>,
) -> TagPlan {
    TagPlan {
        set: desired
            .iter()
            .filter(|(k, v)| current.get(*k) != Some(*v))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        remove: managed
            .iter()
            .filter(|k| !desired.contains_key(*k) && current.contains_key(*k))
            .cloned()
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const G: &str = "arn:aws:connect:us-west-2:1:traffic-distribution-group/g";
    const I: &str = "arn:aws:connect:us-west-2:1:instance/i";

    fn group(id: &str, name: &str, default: bool, status: &str) -> GroupInfo {
        GroupInfo {
            id: id.into(),
            arn: format!("arn:{id}"),
            name: name.into(),
            is_default: default,
            status: status.into(),
            ..Default::default()
        }
    }

    fn num(id: &str, n: &str, target: &str) -> PhoneNumberInfo {
        PhoneNumberInfo {
            id: id.into(),
            number: n.into(),
            target_arn: Some(target.into()),
            ..Default::default()
        }
    }

    fn set(v: &[&str]) -> BTreeSet<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn the_recorded_id_wins_over_the_name() {
        let gs = vec![
            group("a", "x", false, "ACTIVE"),
            group("b", "y", false, "ACTIVE"),
        ];
        let d = DesiredGroup {
            name: "x".into(),
            ..Default::default()
        };
        assert_eq!(find(&d, Some("b"), &gs).unwrap().id, "b");
        assert_eq!(find(&d, None, &gs).unwrap().id, "a");
    }

    #[test]
    fn r5_default_true_adopts_the_default_group_and_never_creates() {
        let gs = vec![
            group("a", "x", false, "ACTIVE"),
            group("d", "whatever", true, "ACTIVE"),
        ];
        let d = DesiredGroup {
            name: "x".into(),
            default: true,
            ..Default::default()
        };
        assert_eq!(find(&d, None, &gs).unwrap().id, "d");
        assert_eq!(lifecycle(&d, None), Lifecycle::WaitForDefault);
    }

    #[test]
    fn g2_creation_in_progress_is_waited_for() {
        let d = DesiredGroup::default();
        let g = group("a", "x", false, "CREATION_IN_PROGRESS");
        assert!(matches!(lifecycle(&d, Some(&g)), Lifecycle::Wait { .. }));
        assert!(matches!(
            lifecycle(&d, Some(&group("a", "x", false, "CREATION_FAILED"))),
            Lifecycle::Failed { .. }
        ));
    }

    #[test]
    fn g6_declared_numbers_move_in_and_unclaimed_ones_are_reported() {
        let claimed = vec![num("p1", "+1", I), num("p2", "+2", G)];
        let p = numbers(&set(&["+1", "+2", "+3"]), &set(&[]), G, &claimed);
        assert_eq!(p.move_in, vec![("p1".to_string(), "+1".to_string())]);
        assert_eq!(p.missing, vec!["+3"]);
    }

    const OTHER: &str = "arn:aws:connect:us-west-2:1:traffic-distribution-group/other";
    const DEFAULT: &str = "arn:aws:connect:us-west-2:1:traffic-distribution-group/default";

    #[test]
    fn a_number_in_another_group_is_not_taken_over_silently() {
        let claimed = vec![
            num("p1", "+1", OTHER),
            num("p2", "+2", DEFAULT),
            num("p3", "+3", I),
        ];
        let plan = numbers(&set(&["+1", "+2", "+3"]), &set(&[]), G, &claimed);
        let held = hold_taken(plan, &claimed, &set(&[DEFAULT]), false);
        assert_eq!(
            held.move_in,
            vec![
                ("p2".to_string(), "+2".to_string()),
                ("p3".to_string(), "+3".to_string())
            ],
            "from the default group (R5) and from the instance they move"
        );
        assert_eq!(held.taken, vec![("+1".to_string(), OTHER.to_string())]);
        assert!(matches!(
            verdict(&held, "g", "us-west-2", "us-east-1"),
            Verdict::Stalled { reason, .. } if reason == reasons::ALREADY_EXISTS
        ));
    }

    #[test]
    fn adopt_takes_a_number_from_another_group() {
        let claimed = vec![num("p1", "+1", OTHER)];
        let plan = numbers(&set(&["+1"]), &set(&[]), G, &claimed);
        let held = hold_taken(plan, &claimed, &set(&[]), true);
        assert_eq!(held.move_in.len(), 1);
        assert!(held.taken.is_empty());
    }

    #[test]
    fn only_numbers_the_controller_manages_are_moved_out() {
        let claimed = vec![num("p1", "+1", G), num("p2", "+2", G)];
        let p = numbers(&set(&[]), &set(&["+1"]), G, &claimed);
        assert_eq!(
            p.move_out,
            vec![("p1".to_string(), "+1".to_string())],
            "+2 was not put there by the controller"
        );
    }

    fn map(v: &[(&str, &str)]) -> BTreeMap<String, String> {
        v.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn declared_tags_are_set_where_missing_or_changed() {
        let p = tags(
            &map(&[("team", "support"), ("tier", "gold")]),
            &BTreeSet::new(),
            &map(&[("team", "sales")]),
        );
        assert_eq!(p.set, map(&[("team", "support"), ("tier", "gold")]));
        assert!(p.remove.is_empty());
    }

    #[test]
    fn a_tag_dropped_from_the_spec_is_removed_only_if_the_controller_set_it() {
        let managed: BTreeSet<String> = ["tier".to_string()].into();
        let p = tags(
            &map(&[]),
            &managed,
            &map(&[("tier", "gold"), ("owner", "alice")]),
        );
        assert_eq!(p.remove, vec!["tier".to_string()]);
        assert!(p.set.is_empty(), "the person's owner tag stays");
    }

    #[test]
    fn matching_tags_need_no_call() {
        let d = map(&[("team", "support")]);
        let managed: BTreeSet<String> = ["team".to_string()].into();
        assert!(tags(&d, &managed, &map(&[("team", "support"), ("x", "y")])).is_empty());
    }

    proptest::proptest! {
        #[test]
        fn after_the_plan_declared_tags_hold_and_unmanaged_tags_are_untouched(
            desired in proptest::collection::btree_map("[a-d]", "[xy]", 0..4),
            managed in proptest::collection::btree_set("[a-d]", 0..4),
            current in proptest::collection::btree_map("[a-f]", "[xy]", 0..6),
        ) {
            let p = tags(&desired, &managed, &current);
            let mut after = current.clone();
            after.extend(p.set.clone());
            for k in &p.remove {
                after.remove(k);
            }
            for (k, v) in &desired {
                proptest::prop_assert_eq!(after.get(k), Some(v));
            }
            for (k, v) in &current {
                if !managed.contains(k) && !desired.contains_key(k) {
                    proptest::prop_assert_eq!(after.get(k), Some(v));
                }
            }
        }
    }

    #[test]
    fn a_group_tagged_for_this_object_is_ours_even_with_a_new_uid() {
        let me = owner_value("ns", "g", "uid-2");
        let tags = [(OWNER_TAG.to_string(), owner_value("ns", "g", "uid-1"))].into();
        assert_eq!(ownership(&tags, &me, false), Ownership::Ours);
    }

    #[test]
    fn a_group_tagged_for_another_object_is_never_taken_even_with_adopt() {
        let me = owner_value("ns", "g", "u");
        let other = owner_value("ns", "other", "u2");
        let tags = [(OWNER_TAG.to_string(), other.clone())].into();
        assert_eq!(ownership(&tags, &me, true), Ownership::Foreign(other));
    }

    #[test]
    fn an_untagged_group_is_claimed_only_when_adoption_is_allowed() {
        let me = owner_value("ns", "g", "u");
        assert_eq!(ownership(&BTreeMap::new(), &me, true), Ownership::Claim);
        assert_eq!(ownership(&BTreeMap::new(), &me, false), Ownership::Unowned);
    }
}
