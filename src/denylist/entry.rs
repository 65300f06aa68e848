//! One denylist entry: the item shape in the table, and its provenance.
//!
//! Item attributes (all strings): `ContactNumber` (E.164, the hash key), `Source`
//! (`agent` | `declared` | `manual`; absent on items written by other tools, e.g. the seed
//! document's Lambda or a hand edit in the console), `AddedBy`, `AddedAt` (RFC 3339),
//! `ContactId` and `InstanceArn` (agent flags), `ManagedBy` (declared entries: the owner, e.g.
//! `connectgr.io/<namespace>/<name>`).

use std::collections::HashMap;
use std::fmt;

use aws_sdk_dynamodb::types::AttributeValue;

pub const ATTR_NUMBER: &str = "ContactNumber";
pub const ATTR_SOURCE: &str = "Source";
pub const ATTR_ADDED_BY: &str = "AddedBy";
pub const ATTR_ADDED_AT: &str = "AddedAt";
pub const ATTR_CONTACT_ID: &str = "ContactId";
pub const ATTR_INSTANCE_ARN: &str = "InstanceArn";
pub const ATTR_MANAGED_BY: &str = "ManagedBy";

/// Who put an entry in the table.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
pub enum Source {
    /// Flagged by an agent during a call (the `denylist-add` handler). Never removed by the
    /// controller; wins over every other source.
    Agent,
    /// Declared in a `CallerDenylist` spec and written by the controller (see `managed_by`).
    Declared,
    /// Added by a person with `connect-gr denylist add`.
    Manual,
    /// No `Source` attribute, or a value this version does not know (written by another tool).
    Other(String),
}

impl Source {
    pub fn as_str(&self) -> &str {
        match self {
            Source::Agent => "agent",
            Source::Declared => "declared",
            Source::Manual => "manual",
            Source::Other(s) => s,
        }
    }

    pub fn parse(s: Option<&str>) -> Self {
        match s {
            Some("agent") => Source::Agent,
            Some("declared") => Source::Declared,
            Some("manual") => Source::Manual,
            Some(other) => Source::Other(other.to_string()),
            None => Source::Other(String::new()),
        }
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Other(s) if s.is_empty() => f.write_str("-"),
            s => f.write_str(s.as_str()),
        }
    }
}

/// One item of the denylist table.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Entry {
    pub contact_number: String,
    pub source: Source,
    pub added_by: Option<String>,
    pub added_at: Option<String>,
    pub contact_id: Option<String>,
    pub instance_arn: Option<String>,
    pub managed_by: Option<String>,
}

impl Entry {
    /// An entry with only the number (like the seed document's items).
    pub fn bare(number: impl Into<String>, source: Source) -> Self {
        Self {
            contact_number: number.into(),
            source,
            added_by: None,
            added_at: None,
            contact_id: None,
            instance_arn: None,
            managed_by: None,
        }
    }

    pub fn is_agent_flagged(&self) -> bool {
        self.source == Source::Agent
    }

    /// Declared by `owner` and therefore the only kind of entry `owner` may delete.
    pub fn is_managed_by(&self, owner: &str) -> bool {
        self.source == Source::Declared && self.managed_by.as_deref() == Some(owner)
    }

    /// The DynamoDB item.
    pub fn to_item(&self) -> HashMap<String, AttributeValue> {
        let mut item = HashMap::new();
        item.insert(
            ATTR_NUMBER.to_string(),
            AttributeValue::S(self.contact_number.clone()),
        );
        if !self.source.as_str().is_empty() {
            item.insert(
                ATTR_SOURCE.to_string(),
                AttributeValue::S(self.source.as_str().to_string()),
            );
        }
        for (k, v) in [
            (ATTR_ADDED_BY, &self.added_by),
            (ATTR_ADDED_AT, &self.added_at),
            (ATTR_CONTACT_ID, &self.contact_id),
            (ATTR_INSTANCE_ARN, &self.instance_arn),
            (ATTR_MANAGED_BY, &self.managed_by),
        ] {
            if let Some(v) = v {
                item.insert(k.to_string(), AttributeValue::S(v.clone()));
            }
        }
        item
    }

    /// Reads an item; `None` when it has no string `ContactNumber`.
    pub fn from_item(item: &HashMap<String, AttributeValue>) -> Option<Self> {
        let s = |k: &str| item.get(k).and_then(|v| v.as_s().ok()).cloned();
        Some(Self {
            contact_number: s(ATTR_NUMBER)?,
            source: Source::parse(s(ATTR_SOURCE).as_deref()),
            added_by: s(ATTR_ADDED_BY),
            added_at: s(ATTR_ADDED_AT),
            contact_id: s(ATTR_CONTACT_ID),
            instance_arn: s(ATTR_INSTANCE_ARN),
            managed_by: s(ATTR_MANAGED_BY),
        })
    }
}

/// Counts over a table's entries.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct EntryCounts {
    /// Entries with `Source = declared` (any owner).
    pub declared: usize,
    /// Entries flagged by agents.
    pub agent_flagged: usize,
    /// Entries added with the CLI.
    pub manual: usize,
    /// Entries without a known `Source` (other tools, hand edits).
    pub other: usize,
    pub total: usize,
}

impl EntryCounts {
    pub fn of(entries: &[Entry]) -> Self {
        let mut c = EntryCounts {
            total: entries.len(),
            ..Default::default()
        };
        for e in entries {
            match e.source {
                Source::Agent => c.agent_flagged += 1,
                Source::Declared => c.declared += 1,
                Source::Manual => c.manual += 1,
                Source::Other(_) => c.other += 1,
            }
        }
        c
    }
}

/// Current time in RFC 3339 (UTC, seconds).
pub fn now_rfc3339() -> String {
    jiff::Timestamp::now()
        .round(jiff::Unit::Second)
        .unwrap_or_else(|_| jiff::Timestamp::now())
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn item_round_trip() {
        let e = Entry {
            contact_number: "+14255550100".into(),
            source: Source::Agent,
            added_by: Some("alice".into()),
            added_at: Some("2026-11-23T14:00:00Z".into()),
            contact_id: Some("c-1".into()),
            instance_arn: Some("arn:aws:connect:us-east-1:123456789012:instance/i".into()),
            managed_by: None,
        };
        assert_eq!(Entry::from_item(&e.to_item()), Some(e));
    }

    #[test]
    fn seed_items_have_no_source() {
        let mut item = HashMap::new();
        item.insert(ATTR_NUMBER.to_string(), AttributeValue::S("+1".into()));
        let e = Entry::from_item(&item).unwrap();
        assert_eq!(e.source, Source::Other(String::new()));
        assert_eq!(e.source.to_string(), "-");
        assert!(!e.is_managed_by("x"));
        assert!(!e.to_item().contains_key(ATTR_SOURCE));
    }

    #[test]
    fn managed_needs_declared_and_owner() {
        let mut e = Entry::bare("+1", Source::Declared);
        assert!(!e.is_managed_by("o"));
        e.managed_by = Some("o".into());
        assert!(e.is_managed_by("o"));
        assert!(!e.is_managed_by("p"));
        e.source = Source::Agent;
        assert!(!e.is_managed_by("o"));
    }

    #[test]
    fn counts() {
        let c = EntryCounts::of(&[
            Entry::bare("+1", Source::Agent),
            Entry::bare("+2", Source::Declared),
            Entry::bare("+3", Source::Declared),
            Entry::bare("+4", Source::Manual),
            Entry::bare("+5", Source::Other(String::new())),
        ]);
        assert_eq!(
            c,
            EntryCounts {
                declared: 2,
                agent_flagged: 1,
                manual: 1,
                other: 1,
                total: 5
            }
        );
    }

    #[test]
    fn now_is_rfc3339() {
        let t = now_rfc3339();
        assert!(t.parse::<jiff::Timestamp>().is_ok(), "{t}");
        assert!(t.ends_with('Z'));
    }
}
