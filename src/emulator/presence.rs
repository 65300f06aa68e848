//! Agent presence and queues: where each agent is, whether it is Available, on a contact or
//! offline, and what waits in the queues of each region. `ListQueues` and `GetCurrentMetricData`
//! answer from this model; `POST /_emulator/presence` changes it.
//!
//! - Queues: every routing profile serves one STANDARD queue named after it ("Basic Routing
//!   Profile" serves "Basic Queue"); every user has an AGENT queue of its own.
//! - Region of an agent: a user in a traffic distribution group is placed by the group's agent
//!   distribution (users in id order, the first share in the group's source region); a user in no
//!   group is in the instance's source region.
//! - State in a region: of the agents there (id order), `availableFraction` are Available, the
//!   next `onContactFraction` are on a contact, the rest are offline.
//! - Waiting contacts: each STANDARD queue in a region holds `contactsInQueue` contacts, the
//!   oldest waiting `oldestContactAgeSeconds`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::entities::Instance;

/// Health of one region, as set through `POST /_emulator/presence`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RegionPresence {
    /// Share of the agents in the region who are Available (0..=1).
    #[serde(default = "one")]
    pub available_fraction: f64,
    /// Share of the agents in the region who are on a contact (0..=1; what is left is offline).
    #[serde(default)]
    pub on_contact_fraction: f64,
    /// Contacts waiting in each STANDARD queue of the region.
    #[serde(default)]
    pub contacts_in_queue: u64,
    /// Age of the oldest waiting contact in each STANDARD queue (seconds).
    #[serde(default)]
    pub oldest_contact_age_seconds: f64,
}

fn one() -> f64 {
    1.0
}

impl Default for RegionPresence {
    fn default() -> Self {
        Self {
            available_fraction: 1.0,
            on_contact_fraction: 0.0,
            contacts_in_queue: 0,
            oldest_contact_age_seconds: 0.0,
        }
    }
}

/// The body of `POST /_emulator/presence`: a region and its (partial) health.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PresenceUpdate {
    pub region: String,
    pub available_fraction: Option<f64>,
    pub on_contact_fraction: Option<f64>,
    pub contacts_in_queue: Option<u64>,
    pub oldest_contact_age_seconds: Option<f64>,
}

/// Per-region health; regions never set are healthy (everyone Available, nothing waiting).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Presence {
    pub regions: BTreeMap<String, RegionPresence>,
}

impl Presence {
    pub fn of(&self, region: &str) -> RegionPresence {
        self.regions.get(region).copied().unwrap_or_default()
    }

    /// Applies an update; the fields not given keep their value. Errors name the bad field.
    pub fn update(&mut self, u: &PresenceUpdate) -> Result<RegionPresence, String> {
        let frac = |name: &str, v: Option<f64>| match v {
            Some(f) if !(0.0..=1.0).contains(&f) => {
                Err(format!("{name} must be between 0 and 1, got {f}"))
            }
            _ => Ok(()),
        };
        frac("availableFraction", u.available_fraction)?;
        frac("onContactFraction", u.on_contact_fraction)?;
        if u.oldest_contact_age_seconds.is_some_and(|s| s < 0.0) {
            return Err("oldestContactAgeSeconds must not be negative".into());
        }
        if u.region.is_empty() {
            return Err("region is required".into());
        }
        let mut p = self.of(&u.region);
        if let Some(f) = u.available_fraction {
            p.available_fraction = f;
        }
        if let Some(f) = u.on_contact_fraction {
            p.on_contact_fraction = f;
        }
        if let Some(n) = u.contacts_in_queue {
            p.contacts_in_queue = n;
        }
        if let Some(s) = u.oldest_contact_age_seconds {
            p.oldest_contact_age_seconds = s;
        }
        self.regions.insert(u.region.clone(), p);
        Ok(p)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AgentState {
    Available,
    OnContact,
    Offline,
}

/// One agent as the real-time metrics see it.
#[derive(Debug, Clone)]
pub struct Agent {
    pub user_id: String,
    pub routing_profile_id: String,
    pub region: String,
    pub state: AgentState,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueueType {
    Standard,
    Agent,
}

impl QueueType {
    pub fn as_str(self) -> &'static str {
        match self {
            QueueType::Standard => "STANDARD",
            QueueType::Agent => "AGENT",
        }
    }
}

/// A queue: a routing profile's STANDARD queue, or a user's AGENT queue.
#[derive(Debug, Clone)]
pub struct Queue {
    pub id: String,
    pub name: Option<String>,
    pub queue_type: QueueType,
    /// The routing profile (STANDARD) or user (AGENT) the queue belongs to.
    pub owner: String,
}

fn ns(instance_id: &str) -> Uuid {
    Uuid::parse_str(instance_id)
        .unwrap_or_else(|_| Uuid::new_v5(&Uuid::NAMESPACE_OID, instance_id.as_bytes()))
}

/// Deterministic id of a queue (the same in both regions: queues are mirrored).
pub fn queue_id(instance_id: &str, kind: &str, owner: &str) -> String {
    Uuid::new_v5(&ns(instance_id), format!("queue:{kind}:{owner}").as_bytes()).to_string()
}

/// "Basic Routing Profile" -> "Basic Queue"; other names get " Queue" appended.
pub fn standard_queue_name(routing_profile: &str) -> String {
    match routing_profile.strip_suffix("Routing Profile") {
        Some(stem) => format!("{stem}Queue"),
        None => format!("{routing_profile} Queue"),
    }
}

/// Whether `agent` takes contacts from queue `q`.
pub fn serves(agent: &Agent, q: &Queue) -> bool {
    match q.queue_type {
        QueueType::Standard => agent.routing_profile_id == q.owner,
        QueueType::Agent => agent.user_id == q.owner,
    }
}

/// The regions whose agents and queues a metrics call in `region` sees: both with global
/// routing (one combined view), else only the calling region's instance.
pub fn visible_regions(inst: &Instance, region: &str) -> Vec<String> {
    if inst.global_routing {
        let mut v = vec![inst.region.clone()];
        v.extend(inst.replica_region().map(str::to_string));
        v
    } else {
        vec![region.to_string()]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standard_queues_are_named_after_their_routing_profile() {
        assert_eq!(standard_queue_name("Basic Routing Profile"), "Basic Queue");
        assert_eq!(standard_queue_name("Night"), "Night Queue");
    }

    #[test]
    fn presence_updates_keep_the_fields_not_given_and_reject_bad_fractions() {
        let mut p = Presence::default();
        let upd = |f: Option<f64>, c: Option<u64>| PresenceUpdate {
            region: "us-east-1".into(),
            available_fraction: f,
            on_contact_fraction: None,
            contacts_in_queue: c,
            oldest_contact_age_seconds: None,
        };
        p.update(&upd(Some(0.5), None)).unwrap();
        p.update(&upd(None, Some(7))).unwrap();
        let e = p.of("us-east-1");
        assert_eq!((e.available_fraction, e.contacts_in_queue), (0.5, 7));
        assert_eq!(p.of("us-west-2"), RegionPresence::default());
        assert!(p.update(&upd(Some(1.5), None)).is_err());
    }
}
