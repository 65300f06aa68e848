//! An instance's users as one listing read them, indexed once for the lookups every membership
//! pass and the preflight make (a username to its user, "is this id in the replica"), so a pass
//! over 20,000 users builds no map of its own. Pure.

use crate::connect::UserInfo;

/// The users of one listing: sorted by id, with an index sorted by username.
#[derive(Debug, Default, Clone)]
pub struct Directory {
    users: Vec<UserInfo>,
    /// Positions in `users`, in username order.
    by_name: Vec<u32>,
}

impl Directory {
    pub fn new(mut users: Vec<UserInfo>) -> Self {
        users.sort_unstable_by(|a, b| a.id.cmp(&b.id));
        users.dedup_by(|a, b| a.id == b.id);
        users.shrink_to_fit();
        let mut by_name: Vec<u32> = (0..users.len() as u32).collect();
        by_name
            .sort_unstable_by(|&a, &b| users[a as usize].username.cmp(&users[b as usize].username));
        Self { users, by_name }
    }

    /// Every user, in id order.
    pub fn users(&self) -> &[UserInfo] {
        &self.users
    }

    pub fn len(&self) -> usize {
        self.users.len()
    }

    pub fn is_empty(&self) -> bool {
        self.users.is_empty()
    }

    /// The user with this username (usernames are unique in an instance).
    pub fn by_username(&self, name: &str) -> Option<&UserInfo> {
        self.by_name
            .binary_search_by(|&i| self.users[i as usize].username.as_str().cmp(name))
            .ok()
            .map(|p| &self.users[self.by_name[p] as usize])
    }

    /// The user with this id.
    pub fn by_id(&self, id: &str) -> Option<&UserInfo> {
        self.users
            .binary_search_by(|u| u.id.as_str().cmp(id))
            .ok()
            .map(|p| &self.users[p])
    }

    pub fn contains_id(&self, id: &str) -> bool {
        self.by_id(id).is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

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
        assert_eq!(d.by_username("bob").map(|u| u.id.as_str()), Some("b"));
        assert_eq!(d.by_username("alice").map(|u| u.id.as_str()), Some("c"));
        assert_eq!(d.by_username("dave"), None);
    }

    #[test]
    fn an_id_is_found_only_when_listed() {
        let d = Directory::new(vec![user("c", "alice"), user("a", "carol")]);
        assert!(d.contains_id("a"));
        assert!(!d.contains_id("b"));
        assert_eq!(d.by_id("c").map(|u| u.username.as_str()), Some("alice"));
    }

    #[test]
    fn a_user_of_a_plain_listing_holds_no_more_than_its_two_strings_and_a_pointer() {
        assert!(std::mem::size_of::<UserInfo>() <= 56);
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

    proptest! {
        #[test]
        fn every_listed_user_is_found_by_name_and_by_id(
            names in proptest::collection::btree_set("[a-z]{1,8}", 0..60)
        ) {
            let users: Vec<UserInfo> = names
                .iter()
                .enumerate()
                .map(|(i, n)| user(&format!("id-{:03}", (i * 37) % 101), n))
                .collect();
            let d = Directory::new(users.clone());
            for u in &users {
                prop_assert_eq!(d.by_username(&u.username).map(|f| &f.id), Some(&u.id));
                prop_assert_eq!(d.by_id(&u.id).map(|f| &f.username), Some(&u.username));
            }
        }
    }
}
