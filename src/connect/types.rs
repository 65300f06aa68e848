//! Plain data that crosses the seam: no SDK types leak past `connect/`.

use std::collections::BTreeMap;

/// An AWS identity as returned by a create call.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Identity {
    pub id: String,
    pub arn: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RegionReplication {
    pub region: String,
    pub status: String,
    pub reason: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct InstanceInfo {
    pub id: String,
    pub arn: String,
    pub alias: Option<String>,
    pub status: String,
    pub identity_management_type: String,
    /// Source region, per-region replication status and the global sign-in endpoint (rule R3);
    /// `None` while the instance is not replicated.
    pub source_region: Option<String>,
    pub replication: Vec<RegionReplication>,
    pub global_sign_in_endpoint: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GroupInfo {
    pub id: String,
    pub arn: String,
    pub name: String,
    pub description: Option<String>,
    pub instance_arn: String,
    pub status: String,
    pub is_default: bool,
    pub tags: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CreateGroup {
    pub instance_id: String,
    pub name: String,
    pub description: Option<String>,
    pub tags: BTreeMap<String, String>,
    pub client_token: String,
}

/// A distribution as Connect reports it: region -> percentage / enabled.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Distribution {
    pub telephony: BTreeMap<String, i32>,
    pub agents: BTreeMap<String, i32>,
    pub sign_in: BTreeMap<String, bool>,
}

/// An UpdateTrafficDistribution request: a part left `None` is not sent and stays as it was (D2).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DistributionUpdate {
    pub telephony: Option<BTreeMap<String, i32>>,
    pub agents: Option<BTreeMap<String, i32>>,
    pub sign_in: Option<BTreeMap<String, bool>>,
}

impl DistributionUpdate {
    pub fn is_empty(&self) -> bool {
        self.telephony.is_none() && self.agents.is_none() && self.sign_in.is_none()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct UserInfo {
    pub id: String,
    pub username: String,
    /// Only from SearchUsers (a selector needs them). Boxed: a plain listing of 20,000 users
    /// then holds 56 bytes a user besides its two strings, not 120.
    pub details: Option<Box<UserDetails>>,
}

/// Users as a listing returned them, in arrival order and packed: every id and username in one
/// text, so a listing of 50,000 users makes a handful of allocations instead of 100,000 strings
/// and is never held twice while it pages (issue 23).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserList {
    text: String,
    /// Per user: where its id starts, where its username starts (the id's end) and ends.
    spans: Vec<[u32; 3]>,
    /// Per user, from a detailed listing (SearchUsers); empty when no user has details.
    details: DetailsColumn,
}

/// Per user, from a detailed listing: [`UserList`]'s details column.
pub type DetailsColumn = Vec<Option<Box<UserDetails>>>;

/// One user of a [`UserList`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UserRef<'a> {
    pub id: &'a str,
    pub username: &'a str,
    pub details: Option<&'a UserDetails>,
}

impl<'a> UserRef<'a> {
    pub fn routing_profile_id(&self) -> Option<&'a str> {
        self.details?.routing_profile_id.as_deref()
    }

    pub fn hierarchy_group_id(&self) -> Option<&'a str> {
        self.details?.hierarchy_group_id.as_deref()
    }

    pub fn tag(&self, key: &str) -> Option<&'a str> {
        self.details?.tags.get(key).map(String::as_str)
    }
}

impl UserList {
    pub fn push(&mut self, id: &str, username: &str, details: Option<Box<UserDetails>>) {
        let start = self.text.len() as u32;
        self.text.push_str(id);
        let name = self.text.len() as u32;
        self.text.push_str(username);
        self.spans.push([start, name, self.text.len() as u32]);
        if details.is_some() || !self.details.is_empty() {
            // Details start with the first user that has some: the users before have none.
            self.details.resize_with(self.spans.len() - 1, || None);
            self.details.push(details);
        }
    }

    pub fn len(&self) -> usize {
        self.spans.len()
    }

    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    pub fn get(&self, i: usize) -> UserRef<'_> {
        let [id, name, end] = self.spans[i].map(|n| n as usize);
        UserRef {
            id: &self.text[id..name],
            username: &self.text[name..end],
            details: self.details.get(i).and_then(|d| d.as_deref()),
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = UserRef<'_>> {
        (0..self.len()).map(|i| self.get(i))
    }

    /// The text, the spans and the details (as long as the spans, or empty), for an index built
    /// on them without copying.
    pub fn into_parts(mut self) -> (String, Vec<[u32; 3]>, DetailsColumn) {
        if !self.details.is_empty() {
            self.details.resize_with(self.spans.len(), || None);
        }
        (self.text, self.spans, self.details)
    }
}

impl Extend<UserInfo> for UserList {
    fn extend<I: IntoIterator<Item = UserInfo>>(&mut self, users: I) {
        for u in users {
            self.push(&u.id, &u.username, u.details);
        }
    }
}

/// Pages appended in order (a listing that pages into one list).
impl Extend<UserList> for UserList {
    fn extend<I: IntoIterator<Item = UserList>>(&mut self, pages: I) {
        for page in pages {
            let (text, spans, details) = page.into_parts();
            let mut details = details.into_iter();
            for [id, name, end] in spans {
                let (id, name, end) = (id as usize, name as usize, end as usize);
                self.push(&text[id..name], &text[name..end], details.next().flatten());
            }
        }
    }
}

impl FromIterator<UserInfo> for UserList {
    fn from_iter<I: IntoIterator<Item = UserInfo>>(users: I) -> Self {
        let mut list = Self::default();
        list.extend(users);
        list
    }
}

impl IntoIterator for UserList {
    type Item = UserInfo;
    type IntoIter = std::vec::IntoIter<UserInfo>;

    fn into_iter(self) -> Self::IntoIter {
        let all: Vec<UserInfo> = (0..self.len())
            .map(|i| {
                let u = self.get(i);
                UserInfo {
                    id: u.id.to_string(),
                    username: u.username.to_string(),
                    details: u.details.cloned().map(Box::new),
                }
            })
            .collect();
        all.into_iter()
    }
}

/// What a selector matches a user on.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct UserDetails {
    pub routing_profile_id: Option<String>,
    pub hierarchy_group_id: Option<String>,
    pub tags: BTreeMap<String, String>,
}

impl UserInfo {
    pub fn routing_profile_id(&self) -> Option<&str> {
        self.details.as_ref()?.routing_profile_id.as_deref()
    }

    pub fn hierarchy_group_id(&self) -> Option<&str> {
        self.details.as_ref()?.hierarchy_group_id.as_deref()
    }

    pub fn tag(&self, key: &str) -> Option<&str> {
        self.details.as_ref()?.tags.get(key).map(String::as_str)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NamedId {
    pub id: String,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PhoneNumberInfo {
    pub id: String,
    pub arn: String,
    pub number: String,
    pub target_arn: Option<String>,
    pub instance_id: Option<String>,
}

/// The region an ARN names (`arn:aws:connect:REGION:ACCOUNT:...`).
pub fn arn_region(arn: &str) -> Option<&str> {
    arn.split(':').nth(3).filter(|r| !r.is_empty())
}

/// The account an ARN names.
pub fn arn_account(arn: &str) -> Option<&str> {
    arn.split(':').nth(4).filter(|a| !a.is_empty())
}

/// The instance id in an instance ARN, or the argument itself when it is a bare id.
pub fn instance_id_of(id_or_arn: &str) -> &str {
    match id_or_arn.rsplit_once("instance/") {
        Some((_, id)) => id.split('/').next().unwrap_or(id),
        None => id_or_arn,
    }
}

/// The same ARN in another region (replicas share the instance id, rule R3).
pub fn arn_in_region(arn: &str, region: &str) -> String {
    let mut parts: Vec<&str> = arn.splitn(6, ':').collect();
    if parts.len() == 6 {
        parts[3] = region;
    }
    parts.join(":")
}

#[cfg(test)]
mod tests {
    use super::*;

    const ARN: &str =
        "arn:aws:connect:us-west-2:123456789012:instance/4f5e3c1a-7b2d-4c8e-9a10-2b3c4d5e6f70";

    #[test]
    fn arn_region_and_account_are_read_from_their_fields() {
        assert_eq!(arn_region(ARN), Some("us-west-2"));
        assert_eq!(arn_account(ARN), Some("123456789012"));
        assert_eq!(arn_region("not-an-arn"), None);
    }

    #[test]
    fn instance_id_of_accepts_ids_and_arns() {
        assert_eq!(instance_id_of(ARN), "4f5e3c1a-7b2d-4c8e-9a10-2b3c4d5e6f70");
        assert_eq!(instance_id_of("abc"), "abc");
    }

    #[test]
    fn arn_in_region_swaps_only_the_region() {
        assert_eq!(
            arn_in_region(ARN, "us-east-1"),
            "arn:aws:connect:us-east-1:123456789012:instance/4f5e3c1a-7b2d-4c8e-9a10-2b3c4d5e6f70"
        );
    }
}

// Real-time metrics (health gates)

/// What a real-time metrics read covers: STANDARD queue ids or routing-profile ids.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MetricFilter {
    Queues(Vec<String>),
    RoutingProfiles(Vec<String>),
}

/// GetCurrentMetricData figures, aggregated over the filter (voice). `None`: Connect had no
/// data (empty result or a null value).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct CurrentMetrics {
    pub agents_online: Option<f64>,
    pub agents_available: Option<f64>,
    pub agents_on_contact: Option<f64>,
    pub contacts_in_queue: Option<f64>,
    pub oldest_contact_age_seconds: Option<f64>,
}
