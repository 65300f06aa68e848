//! The ids of one listing of an instance's users, held compactly for the one question asked of
//! the replica region's listing: "is this user mirrored". A UUID-shaped id (Connect's user ids)
//! is held as 16 bytes; any other id is kept as its string, so the answer never depends on the
//! shape of the ids. Pure.

/// A set of user ids: UUID-shaped ones as numbers, the rest as strings (both sorted).
#[derive(Debug, Default, Clone)]
pub struct UserIds {
    compact: Vec<u128>,
    other: Vec<String>,
}

/// The number a canonical UUID (8-4-4-4-12 lowercase hex digits) stands for; `None` for any
/// other string (uppercase included), which is then held as it is. Exactly one string maps to
/// each number, so a lookup by number is a lookup by string.
pub fn compact_id(id: &str) -> Option<u128> {
    let b = id.as_bytes();
    if b.len() != 36 {
        return None;
    }
    let mut n: u128 = 0;
    for (i, &c) in b.iter().enumerate() {
        if matches!(i, 8 | 13 | 18 | 23) {
            if c != b'-' {
                return None;
            }
            continue;
        }
        let d = match c {
            b'0'..=b'9' => c - b'0',
            b'a'..=b'f' => c - b'a' + 10,
            _ => return None,
        };
        n = (n << 4) | u128::from(d);
    }
    Some(n)
}

/// The canonical UUID string of a number (the inverse of [`compact_id`]).
pub fn id_string(n: u128) -> String {
    let hex = format!("{n:032x}");
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

impl UserIds {
    pub fn new<'a>(ids: impl IntoIterator<Item = &'a str>) -> Self {
        let mut set = Self::default();
        for id in ids {
            match compact_id(id) {
                Some(n) => set.compact.push(n),
                None => set.other.push(id.to_string()),
            }
        }
        set.compact.sort_unstable();
        set.compact.dedup();
        set.compact.shrink_to_fit();
        set.other.sort_unstable();
        set.other.dedup();
        set.other.shrink_to_fit();
        set
    }

    pub fn contains(&self, id: &str) -> bool {
        match compact_id(id) {
            Some(n) => self.compact.binary_search(&n).is_ok(),
            None => self.other.binary_search_by(|o| o.as_str().cmp(id)).is_ok(),
        }
    }

    pub fn len(&self) -> usize {
        self.compact.len() + self.other.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const UUID: &str = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}";

    #[test]
    fn a_connect_user_id_is_held_as_a_number() {
        assert_eq!(
            compact_id("00000000-0000-0000-0000-0000000000ff"),
            Some(0xff)
        );
        assert!(compact_id("0a1b2c3d-4e5f-6789-abcd-ef0123456789").is_some());
    }

    #[test]
    fn an_id_of_any_other_shape_is_not_compacted() {
        for id in [
            "",
            "agent-1",
            "0A1B2C3D-4E5F-6789-ABCD-EF0123456789",
            "0a1b2c3d04e5f-6789-abcd-ef0123456789",
            "0a1b2c3d-4e5f-6789-abcd-ef012345678g",
            "0a1b2c3d-4e5f-6789-abcd-ef01234567890",
        ] {
            assert_eq!(compact_id(id), None, "{id}");
        }
    }

    #[test]
    fn ids_of_both_shapes_are_found_only_when_listed() {
        let set = UserIds::new([
            "0a1b2c3d-4e5f-6789-abcd-ef0123456789",
            "agent-1",
            "0A1B2C3D-4E5F-6789-ABCD-EF0123456789",
        ]);
        assert_eq!(set.len(), 3);
        assert!(set.contains("0a1b2c3d-4e5f-6789-abcd-ef0123456789"));
        assert!(set.contains("0A1B2C3D-4E5F-6789-ABCD-EF0123456789"));
        assert!(set.contains("agent-1"));
        assert!(!set.contains("agent-2"));
        assert!(!set.contains("0a1b2c3d-4e5f-6789-abcd-ef0123456788"));
        assert!(!set.contains("0a1b2c3d-4e5f-6789-abcd-Ef0123456789"));
    }

    #[test]
    fn an_id_listed_twice_across_pages_is_kept_once() {
        let id = "0a1b2c3d-4e5f-6789-abcd-ef0123456789";
        assert_eq!(UserIds::new([id, id, "x", "x"]).len(), 2);
    }

    proptest! {
        #[test]
        fn a_uuid_round_trips_through_its_number(id in UUID) {
            let n = compact_id(&id).expect("a canonical UUID compacts");
            prop_assert_eq!(id_string(n), id);
        }

        #[test]
        fn every_number_round_trips_through_its_uuid(n in any::<u128>()) {
            prop_assert_eq!(compact_id(&id_string(n)), Some(n));
        }

        #[test]
        fn numbers_sort_as_their_uuids_do(a in UUID, b in UUID) {
            prop_assert_eq!(
                compact_id(&a).cmp(&compact_id(&b)),
                a.cmp(&b)
            );
        }

        #[test]
        fn membership_is_that_of_the_listed_strings(
            listed in proptest::collection::btree_set(
                prop_oneof![UUID, "[a-zA-Z0-9-]{0,12}", "[0-9A-F-]{36}"], 0..40),
            asked in proptest::collection::vec(
                prop_oneof![UUID, "[a-zA-Z0-9-]{0,12}", "[0-9A-F-]{36}"], 0..40),
        ) {
            let set = UserIds::new(listed.iter().map(String::as_str));
            prop_assert_eq!(set.len(), listed.len());
            for id in listed.iter().chain(asked.iter()) {
                prop_assert_eq!(set.contains(id), listed.contains(id), "{}", id);
            }
        }
    }
}
