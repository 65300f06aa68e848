//! What the emulator's state is made of at run time: instances and their replicas, users,
//! routing profiles, hierarchy groups, traffic distribution groups, numbers, idempotency records;
//! the deterministic ids; the durations of the asynchronous transitions.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

/// Durations (virtual seconds) of the asynchronous transitions.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Timings {
    pub replication_s: f64,
    pub tdg_create_s: f64,
    pub tdg_update_s: f64,
    pub tdg_delete_s: f64,
    pub phone_claim_s: f64,
    pub user_mirror_s: f64,
}

impl Default for Timings {
    fn default() -> Self {
        Self {
            replication_s: 2.0,
            tdg_create_s: 1.0,
            tdg_update_s: 1.0,
            tdg_delete_s: 1.0,
            phone_claim_s: 1.0,
            user_mirror_s: 2.0,
        }
    }
}

// ---------------------------------------------------------------- deterministic ids

/// The UUID namespace of an instance's deterministic ids.
pub(super) fn ns(instance_id: &str) -> Uuid {
    Uuid::parse_str(instance_id)
        .unwrap_or_else(|_| Uuid::new_v5(&Uuid::NAMESPACE_OID, instance_id.as_bytes()))
}

/// User id: UUID v5 in the namespace of the instance id, name = username.
pub fn user_id(instance_id: &str, username: &str) -> String {
    Uuid::new_v5(&ns(instance_id), username.as_bytes()).to_string()
}
pub fn routing_profile_id(instance_id: &str, name: &str) -> String {
    Uuid::new_v5(
        &ns(instance_id),
        format!("routing-profile:{name}").as_bytes(),
    )
    .to_string()
}
pub fn hierarchy_group_id(instance_id: &str, name: &str) -> String {
    Uuid::new_v5(
        &ns(instance_id),
        format!("hierarchy-group:{name}").as_bytes(),
    )
    .to_string()
}
pub fn security_profile_id(instance_id: &str, name: &str) -> String {
    Uuid::new_v5(
        &ns(instance_id),
        format!("security-profile:{name}").as_bytes(),
    )
    .to_string()
}
pub fn phone_number_id(instance_id: &str, number: &str) -> String {
    Uuid::new_v5(
        &ns(instance_id),
        format!("phone-number:{number}").as_bytes(),
    )
    .to_string()
}
pub fn default_tdg_id(instance_id: &str) -> String {
    Uuid::new_v5(&ns(instance_id), b"default-traffic-distribution-group").to_string()
}

// ---------------------------------------------------------------- runtime state

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Replica {
    pub region: String,
    pub alias: String,
    pub started: f64,
    pub fails: bool,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Instance {
    pub id: String,
    pub account: String,
    pub alias: Option<String>,
    pub region: String,
    pub identity_management_type: String,
    pub status: String,
    pub created: f64,
    pub replica: Option<Replica>,
    pub replication_fails: bool,
    /// Enabled for global routing (see [`InstanceSpec::global_routing`]).
    pub global_routing: bool,
    /// Cross-region routing off for every region of the instance (IsolatedAll).
    pub isolated: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Replication {
    None,
    InProgress,
    Complete,
    Failed,
}

impl Instance {
    pub fn arn(&self, region: &str) -> String {
        format!(
            "arn:aws:connect:{region}:{}:instance/{}",
            self.account, self.id
        )
    }
    pub fn replication(&self, now: f64, t: &Timings) -> Replication {
        match &self.replica {
            None => Replication::None,
            Some(r) if now < r.started + t.replication_s => Replication::InProgress,
            Some(r) if r.fails => Replication::Failed,
            Some(_) => Replication::Complete,
        }
    }
    pub fn replica_region(&self) -> Option<&str> {
        self.replica.as_ref().map(|r| r.region.as_str())
    }
    /// The instance answers in `region`: its source region, or its replica region once
    /// ReplicateInstance was called.
    pub fn present_in(&self, region: &str) -> bool {
        self.region == region || self.replica_region() == Some(region)
    }
    /// Mirrored resources (users, routing profiles, hierarchies) are readable in `region`.
    pub fn mirrored_in(&self, region: &str, now: f64, t: &Timings) -> bool {
        self.region == region
            || (self.replica_region() == Some(region)
                && self.replication(now, t) == Replication::Complete)
    }
    pub fn other_region(&self, region: &str) -> Option<&str> {
        if self.region == region {
            self.replica_region()
        } else if self.replica_region() == Some(region) {
            Some(self.region.as_str())
        } else {
            None
        }
    }
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct User {
    pub id: String,
    pub instance_id: String,
    pub username: String,
    pub routing_profile_id: String,
    pub hierarchy_group_id: Option<String>,
    pub security_profile_ids: Vec<String>,
    pub first_name: String,
    pub last_name: String,
    pub email: Option<String>,
    pub phone_type: String,
    pub auto_accept: bool,
    pub acw_limit: i64,
    pub desk_phone: Option<String>,
    pub tags: BTreeMap<String, String>,
    pub created: f64,
    pub modified: f64,
    pub origin_region: String,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Named {
    pub id: String,
    pub instance_id: String,
    pub name: String,
    pub modified: f64,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Tdg {
    pub id: String,
    pub account: String,
    pub instance_id: String,
    /// Source region (where it was created; its ARN carries this region).
    pub region: String,
    pub name: String,
    pub description: Option<String>,
    pub tags: BTreeMap<String, String>,
    pub is_default: bool,
    pub created: f64,
    pub active_at: f64,
    pub update_until: f64,
    pub delete_at: Option<f64>,
    pub creation_fails: bool,
    pub telephony: Vec<(String, i64)>,
    pub agents: Vec<(String, i64)>,
    pub sign_in: Option<Vec<(String, bool)>>,
    pub users: BTreeSet<String>,
    pub client_token: Option<String>,
}

impl Tdg {
    pub fn arn(&self) -> String {
        format!(
            "arn:aws:connect:{}:{}:traffic-distribution-group/{}",
            self.region, self.account, self.id
        )
    }
    pub fn status(&self, now: f64) -> &'static str {
        if self.delete_at.is_some() {
            "PENDING_DELETION"
        } else if now < self.active_at {
            "CREATION_IN_PROGRESS"
        } else if self.creation_fails {
            "CREATION_FAILED"
        } else if now < self.update_until {
            "UPDATE_IN_PROGRESS"
        } else {
            "ACTIVE"
        }
    }
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Phone {
    pub id: String,
    pub account: String,
    pub number: String,
    pub country: String,
    pub number_type: String,
    pub description: Option<String>,
    pub tags: BTreeMap<String, String>,
    /// Region where the number is claimed.
    pub region: String,
    pub instance_id: String,
    pub target_arn: String,
    pub ready_at: f64,
}

impl Phone {
    pub fn arn(&self) -> String {
        format!(
            "arn:aws:connect:{}:{}:phone-number/{}",
            self.region, self.account, self.id
        )
    }
    pub fn status(&self, now: f64) -> &'static str {
        if now < self.ready_at {
            "IN_PROGRESS"
        } else {
            "CLAIMED"
        }
    }
}

pub fn country_of(number: &str) -> &'static str {
    const TABLE: &[(&str, &str)] = &[
        ("+44", "GB"),
        ("+49", "DE"),
        ("+33", "FR"),
        ("+81", "JP"),
        ("+61", "AU"),
        ("+353", "IE"),
        ("+65", "SG"),
        ("+82", "KR"),
        ("+1", "US"),
    ];
    TABLE
        .iter()
        .find(|(p, _)| number.starts_with(p))
        .map(|(_, c)| *c)
        .unwrap_or("US")
}

pub fn type_of(number: &str) -> &'static str {
    const TOLL_FREE: &[&str] = &[
        "+1800", "+1888", "+1877", "+1866", "+1855", "+1844", "+1833",
    ];
    if TOLL_FREE.iter().any(|p| number.starts_with(p)) {
        "TOLL_FREE"
    } else {
        "DID"
    }
}

/// A cached idempotent result: request parameters and the response sent.
#[derive(Debug, Clone)]
pub struct Idem {
    pub params: Value,
    pub response: Value,
}

pub fn replication_status(r: Replication) -> Option<&'static str> {
    match r {
        Replication::None => None,
        Replication::InProgress => Some("INSTANCE_REPLICATION_IN_PROGRESS"),
        Replication::Complete => Some("INSTANCE_REPLICATION_COMPLETE"),
        Replication::Failed => Some("INSTANCE_REPLICATION_FAILED"),
    }
}
