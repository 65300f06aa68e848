//! An instance's users as one listing read them, indexed once for the lookups every membership
//! pass and the preflight make (a username to its user, "is this id in the replica"), so a pass
//! over 20,000 users builds no map of its own. The ids and usernames are held in one text
//! (no allocation per user): a listing of 20,000 users holds about a third of what 40,000
//! strings would. Pure.

use crate::connect::{UserDetails, UserInfo, UserList};

/// The users of one listing: sorted by id, with an index sorted by username.
#[derive(Debug, Default, Clone)]
pub struct Directory {
    /// Every id and username, one after the other, in the order the listing returned them.
    text: String,
    /// Per user, in id order: where its id starts and where its username starts and ends in
    /// `text` (its id ends where its username starts).
    spans: Vec<[u32; 3]>,
    /// Per user, in id order, from a detailed listing (SearchUsers); empty for a plain one.
    details: Vec<Option<Box<UserDetails>>>,
    /// Positions in `spans`, in username order.
    by_name: Vec<u32>,
}

/// One user of a [`Directory`].
pub use crate::connect::UserRef as User;

impl Directory {
    pub fn new(users: Vec<UserInfo>) -> Self {
        Self::from_list(users.into_iter().collect())
    }

    /// Indexes a listing where it lies: its text is kept, only the spans are put in id order.
    pub fn from_list(list: UserList) -> Self {
        let (mut text, spans, mut details) = list.into_parts();
        text.shrink_to_fit();
        let id = |s: &[u32; 3]| &text[s[0] as usize..s[1] as usize];
        let mut order: Vec<u32> = (0..spans.len() as u32).collect();
        order.sort_by(|&a, &b| id(&spans[a as usize]).cmp(id(&spans[b as usize])));
        // The first of a repeated id is kept (a listing that paged over a change can repeat one).
        order.dedup_by(|a, b| id(&spans[*a as usize]) == id(&spans[*b as usize]));
        let detailed = !details.is_empty();
        let mut d = Self {
            spans: order.iter().map(|&i| spans[i as usize]).collect(),
            details: if detailed {
                order.iter().map(|&i| details[i as usize].take()).collect()
            } else {
                Vec::new()
            },
            text,
            by_name: Vec::new(),
        };
        drop(order);
        let mut by_name: Vec<u32> = (0..d.spans.len() as u32).collect();
        by_name.sort_unstable_by(|&a, &b| d.username(a as usize).cmp(d.username(b as usize)));
        d.by_name = by_name;
        d
    }

    fn id(&self, i: usize) -> &str {
        let [start, end, _] = self.spans[i];
        &self.text[start as usize..end as usize]
    }

    fn username(&self, i: usize) -> &str {
        let [_, start, end] = self.spans[i];
        &self.text[start as usize..end as usize]
    }

    fn user(&self, i: usize) -> User<'_> {
        User {
            id: self.id(i),
            username: self.username(i),
            details: self.details.get(i).and_then(|d| d.as_deref()),
        }
    }

    /// Every user, in id order.
    pub fn users(&self) -> impl Iterator<Item = User<'_>> {
        (0..self.spans.len()).map(|i| self.user(i))
    }

    pub fn len(&self) -> usize {
        self.spans.len()
    }

    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    /// The user with this username (usernames are unique in an instance).
    pub fn by_username(&self, name: &str) -> Option<User<'_>> {
        self.by_name
            .binary_search_by(|&i| self.username(i as usize).cmp(name))
            .ok()
            .map(|p| self.user(self.by_name[p] as usize))
    }

    /// The user with this id.
    pub fn by_id(&self, id: &str) -> Option<User<'_>> {
        let (mut lo, mut hi) = (0, self.spans.len());
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            match self.id(mid).cmp(id) {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
                std::cmp::Ordering::Equal => return Some(self.user(mid)),
            }
        }
        None
    }

    pub fn contains_id(&self, id: &str) -> bool {
        self.by_id(id).is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    fn user(id: &str, name: &str) -> UserInfo {
        UserInfo {
            id: id.into(),
            username: name.into(),
            ..Default::default()
        }
    }

    #[test]
    fn a_username_finds_its_user_whatever_order_the_listing_came_in() {
        let d = Directory::new(vec![
            user("c", "alice"),
            user("a", "carol"),
            user("b", "bob"),
        ]);
        assert_eq!(d.by_username("bob").map(|u| u.id), Some("b"));
        assert_eq!(d.by_username("alice").map(|u| u.id), Some("c"));
        assert_eq!(d.by_username("dave"), None);
    }

    #[test]
    fn an_id_is_found_only_when_listed() {
        let d = Directory::new(vec![user("c", "alice"), user("a", "carol")]);
        assert!(d.contains_id("a"));
        assert!(!d.contains_id("b"));
        assert!(!d.contains_id(""));
        assert_eq!(d.by_id("c").map(|u| u.username), Some("alice"));
    }

    #[test]
    fn an_id_that_runs_into_the_next_username_is_not_mistaken_for_another() {
        let d = Directory::new(vec![user("a", "b"), user("ab", "c")]);
        assert_eq!(d.by_id("a").map(|u| u.username), Some("b"));
        assert_eq!(d.by_id("ab").map(|u| u.username), Some("c"));
        assert_eq!(d.by_username("b").map(|u| u.id), Some("a"));
    }

    #[test]
    fn every_user_is_listed_once_in_id_order() {
        let d = Directory::new(vec![user("c", "x"), user("a", "y"), user("b", "z")]);
        let ids: Vec<&str> = d.users().map(|u| u.id).collect();
        assert_eq!(ids, ["a", "b", "c"]);
    }

    #[test]
    fn a_detailed_listing_keeps_each_users_routing_profile_hierarchy_group_and_tags() {
        let detailed = |id: &str, name: &str, rp: &str| UserInfo {
            details: Some(Box::new(UserDetails {
                routing_profile_id: Some(rp.into()),
                hierarchy_group_id: Some(format!("hg-{rp}")),
                tags: BTreeMap::from([("team".to_string(), name.to_string())]),
            })),
            ..user(id, name)
        };
        let d = Directory::new(vec![
            detailed("b", "bob", "rp-2"),
            detailed("a", "al", "rp-1"),
        ]);
        let bob = d.by_username("bob").expect("bob is listed");
        assert_eq!(bob.routing_profile_id(), Some("rp-2"));
        assert_eq!(bob.hierarchy_group_id(), Some("hg-rp-2"));
        assert_eq!(bob.tag("team"), Some("bob"));
        assert_eq!(
            d.by_id("a").and_then(|u| u.routing_profile_id()),
            Some("rp-1")
        );
        let plain = Directory::new(vec![user("a", "al")]);
        assert_eq!(plain.by_id("a").and_then(|u| u.routing_profile_id()), None);
    }

    #[test]
    fn a_user_listed_twice_across_pages_is_kept_once() {
        let d = Directory::new(vec![
            user("a", "alice"),
            user("a", "alice"),
            user("b", "bob"),
        ]);
        assert_eq!(d.len(), 2);
    }

    fn with_team(id: &str, name: &str, team: &str) -> UserInfo {
        UserInfo {
            details: Some(Box::new(UserDetails {
                tags: BTreeMap::from([("team".to_string(), team.to_string())]),
                ..Default::default()
            })),
            ..user(id, name)
        }
    }

    #[test]
    fn a_listing_paged_into_one_list_keeps_each_users_details_with_its_user() {
        // Details start on the second page's first user: the users before have none.
        let mut list = UserList::default();
        list.extend([
            UserList::from_iter([user("b", "bob"), user("d", "dave")]),
            UserList::from_iter([with_team("a", "alice", "red"), user("c", "carol")]),
        ]);
        let d = Directory::from_list(list);
        let team = |name: &str| d.by_username(name).and_then(|u| u.tag("team"));
        assert_eq!(team("alice"), Some("red"));
        assert_eq!(
            (team("bob"), team("carol"), team("dave")),
            (None, None, None)
        );
        let ids: Vec<&str> = d.users().map(|u| u.id).collect();
        assert_eq!(ids, ["a", "b", "c", "d"]);
    }

    #[test]
    fn an_id_a_listing_returned_twice_is_indexed_once() {
        let d = Directory::from_list(UserList::from_iter([
            user("b", "bob"),
            user("a", "alice"),
            user("b", "bob"),
        ]));
        assert_eq!(d.len(), 2);
        assert_eq!(d.by_username("bob").map(|u| u.id), Some("b"));
    }

    proptest! {
        #[test]
        fn every_listed_user_is_found_by_name_and_by_id(
            names in proptest::collection::btree_set("[a-z]{0,8}", 0..60)
        ) {
            let users: Vec<UserInfo> = names
                .iter()
                .enumerate()
                .map(|(i, n)| user(&format!("id-{:03}", (i * 37) % 101), n))
                .collect();
            let d = Directory::new(users.clone());
            prop_assert_eq!(d.len(), users.len());
            for u in &users {
                prop_assert_eq!(d.by_username(&u.username).map(|f| f.id), Some(u.id.as_str()));
                prop_assert_eq!(d.by_id(&u.id).map(|f| f.username), Some(u.username.as_str()));
            }
        }

        #[test]
        fn an_id_is_found_exactly_when_listed(
            listed in proptest::collection::btree_set("[a-c]{0,3}", 0..20),
            asked in "[a-c]{0,4}",
        ) {
            let d = Directory::new(listed.iter().map(|id| user(id, id)).collect());
            prop_assert_eq!(d.contains_id(&asked), listed.contains(&asked));
        }
    }
}
