//! Who is where: the queues and agents of an instance as the real-time metrics see them, from the
//! state (routing profiles, users, group membership and split) and the presence settings.

use std::collections::BTreeMap;

use super::entities::Instance;
use super::model::State;
use super::presence::{Agent, AgentState, Queue, QueueType, queue_id, standard_queue_name};

/// Every queue of the instance, sorted by id.
pub fn queues(st: &State, instance_id: &str) -> Vec<Queue> {
    let mut out: Vec<Queue> = st
        .routing_profiles
        .values()
        .filter(|rp| rp.instance_id == instance_id)
        .map(|rp| Queue {
            id: queue_id(instance_id, "standard", &rp.id),
            name: Some(standard_queue_name(&rp.name)),
            queue_type: QueueType::Standard,
            owner: rp.id.clone(),
        })
        .chain(
            st.users
                .values()
                .filter(|u| u.instance_id == instance_id)
                .map(|u| Queue {
                    id: queue_id(instance_id, "agent", &u.id),
                    name: None,
                    queue_type: QueueType::Agent,
                    owner: u.id.clone(),
                }),
        )
        .collect();
    out.sort_by(|a, b| a.id.cmp(&b.id));
    out
}

/// Share of `n` (users in id order) that the group puts in `region`: the first
/// `round(n * pct / 100)` go to the group's source region, the rest to the other one.
fn region_of_index(i: usize, n: usize, source_pct: i64, source: &str, other: &str) -> String {
    let in_source = ((n as f64) * (source_pct as f64) / 100.0).round() as usize;
    if i < in_source { source } else { other }.to_string()
}

/// Every agent of the instance with its region and state.
pub fn agents(st: &State, inst: &Instance) -> Vec<Agent> {
    let other = inst.replica_region().unwrap_or(&inst.region).to_string();
    let mut region: BTreeMap<String, String> = BTreeMap::new();
    for g in st.tdgs.values().filter(|g| g.instance_id == inst.id) {
        let source_pct = g
            .agents
            .iter()
            .find(|(r, _)| *r == g.region)
            .map_or(100, |(_, p)| *p);
        let g_other = g
            .agents
            .iter()
            .find(|(r, _)| *r != g.region)
            .map_or(other.clone(), |(r, _)| r.clone());
        let members: Vec<&String> = g
            .users
            .iter()
            .filter(|u| st.users.contains_key(&(inst.id.clone(), (*u).clone())))
            .collect();
        for (i, u) in members.iter().enumerate() {
            region.entry((*u).clone()).or_insert_with(|| {
                region_of_index(i, members.len(), source_pct, &g.region, &g_other)
            });
        }
    }
    let mut by_region: BTreeMap<String, Vec<Agent>> = BTreeMap::new();
    for u in st.users.values().filter(|u| u.instance_id == inst.id) {
        let r = region
            .get(&u.id)
            .cloned()
            .unwrap_or_else(|| inst.region.clone());
        by_region.entry(r.clone()).or_default().push(Agent {
            user_id: u.id.clone(),
            routing_profile_id: u.routing_profile_id.clone(),
            region: r,
            state: AgentState::Offline,
        });
    }
    let mut out = Vec::new();
    for (r, mut list) in by_region {
        let p = st.presence.of(&r);
        let n = list.len() as f64;
        let available = (n * p.available_fraction).round() as usize;
        let on_contact = (n * p.on_contact_fraction).round() as usize;
        for (i, a) in list.iter_mut().enumerate() {
            a.state = if i < available {
                AgentState::Available
            } else if i < available + on_contact {
                AgentState::OnContact
            } else {
                AgentState::Offline
            };
        }
        out.extend(list);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_group_puts_the_first_share_of_its_users_in_its_source_region() {
        let r: Vec<String> = (0..10)
            .map(|i| region_of_index(i, 10, 30, "west", "east"))
            .collect();
        assert_eq!(r.iter().filter(|r| *r == "west").count(), 3);
        assert_eq!(r[0], "west");
        assert_eq!(r[9], "east");
    }
}
