//! Emulator state: the build step (state file -> state) and the rules over the entities
//! (`entities.rs`); the state file's schema is in `schema.rs`.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde_json::{Value, json};
use uuid::Uuid;

pub use super::entities::*;
pub use super::schema::*;

#[derive(Debug, Clone, Default)]
pub struct State {
    pub accounts: Vec<String>,
    pub region_pairs: Vec<(String, String)>,
    pub instances: BTreeMap<String, Instance>,
    /// Keyed by (instance id, user id).
    pub users: BTreeMap<(String, String), User>,
    /// (instance id, lowercase username) -> user id.
    pub usernames: HashMap<(String, String), String>,
    pub routing_profiles: BTreeMap<(String, String), Named>,
    pub hierarchy_groups: BTreeMap<(String, String), Named>,
    pub tdgs: BTreeMap<String, Tdg>,
    pub phones: BTreeMap<String, Phone>,
    /// (instance id, region) -> function ARNs (not mirrored, R4).
    pub lambdas: BTreeMap<(String, String), Vec<String>>,
    pub idempotency: HashMap<(String, String, String), Idem>,
    /// Agent presence and queue health per region (real-time metrics).
    pub presence: super::presence::Presence,
    /// Flows, modules, Lex bots, replication findings (see `flows.rs`).
    pub flows: super::flows::FlowState,
}

impl State {
    pub fn account(&self) -> &str {
        self.accounts
            .first()
            .map(|s| s.as_str())
            .unwrap_or(DEFAULT_ACCOUNT)
    }

    pub fn build(
        file: &StateFile,
        extra_pairs: &[(String, String)],
        now: f64,
        t: &Timings,
    ) -> anyhow::Result<State> {
        let mut s = State {
            accounts: file.accounts.iter().map(|a| a.id.clone()).collect(),
            region_pairs: default_region_pairs(),
            ..Default::default()
        };
        if s.accounts.is_empty() {
            s.accounts.push(DEFAULT_ACCOUNT.into());
        }
        for p in file.region_pairs.iter().chain(extra_pairs) {
            if !s.region_pairs.contains(p) {
                s.region_pairs.push(p.clone());
            }
        }
        let past = now - 86_400.0;
        for spec in &file.instances {
            if Uuid::parse_str(&spec.id).is_err() {
                anyhow::bail!("instance id {:?} is not a UUID", spec.id);
            }
            let id = spec.id.to_lowercase();
            let account = spec
                .account
                .clone()
                .unwrap_or_else(|| s.account().to_string());
            if !s.accounts.contains(&account) {
                s.accounts.push(account.clone());
            }
            let replica = if spec.replicated {
                let region = spec
                    .replica_region
                    .clone()
                    .or_else(|| {
                        s.region_pairs
                            .iter()
                            .find(|(a, _)| *a == spec.region)
                            .map(|(_, b)| b.clone())
                    })
                    .ok_or_else(|| anyhow::anyhow!("instance {id}: no replica region"))?;
                Some(Replica {
                    alias: spec
                        .replica_alias
                        .clone()
                        .or_else(|| spec.alias.clone().map(|a| format!("{a}-replica")))
                        .unwrap_or_else(|| "replica".into()),
                    region,
                    started: past,
                    fails: spec.replication_fails,
                })
            } else {
                None
            };
            s.instances.insert(
                id.clone(),
                Instance {
                    id: id.clone(),
                    account: account.clone(),
                    alias: spec.alias.clone(),
                    region: spec.region.clone(),
                    identity_management_type: spec.identity_management_type.clone(),
                    status: spec.status.clone(),
                    created: past,
                    replica,
                    replication_fails: spec.replication_fails,
                    global_routing: spec.global_routing,
                    isolated: spec.isolated,
                },
            );
            s.flows.load(
                &s.instances[&id],
                super::flows::InstanceFlows {
                    contact_flows: &spec.contact_flows,
                    flow_modules: &spec.flow_modules,
                    lex_bots: &spec.lex_bots,
                    replication_findings: &spec.replication_findings,
                },
                past,
            );
            for name in &spec.routing_profiles {
                let rid = routing_profile_id(&id, name);
                s.routing_profiles.insert(
                    (id.clone(), rid.clone()),
                    Named {
                        id: rid,
                        instance_id: id.clone(),
                        name: name.clone(),
                        modified: past,
                    },
                );
            }
            for name in &spec.hierarchy_groups {
                let hid = hierarchy_group_id(&id, name);
                s.hierarchy_groups.insert(
                    (id.clone(), hid.clone()),
                    Named {
                        id: hid,
                        instance_id: id.clone(),
                        name: name.clone(),
                        modified: past,
                    },
                );
            }
            let first_rp = spec.routing_profiles.first().cloned();
            for u in &spec.users {
                let rp = u
                    .routing_profile
                    .clone()
                    .or_else(|| first_rp.clone())
                    .ok_or_else(|| anyhow::anyhow!("user {}: no routing profile", u.username))?;
                if !spec.routing_profiles.contains(&rp) {
                    anyhow::bail!("user {}: unknown routing profile {rp:?}", u.username);
                }
                if let Some(h) = &u.hierarchy_group
                    && !spec.hierarchy_groups.contains(h)
                {
                    anyhow::bail!("user {}: unknown hierarchy group {h:?}", u.username);
                }
                let user = s.new_user(
                    &id,
                    &u.username,
                    routing_profile_id(&id, &rp),
                    u.hierarchy_group
                        .as_ref()
                        .map(|h| hierarchy_group_id(&id, h)),
                    u.tags.clone(),
                    &spec.region,
                    past,
                );
                s.insert_user(user);
            }
            for p in &spec.phone_numbers {
                let (number, description, region) = match p {
                    PhoneSpec::Number(n) => (n.clone(), None, spec.region.clone()),
                    PhoneSpec::Full {
                        number,
                        description,
                        region,
                    } => (
                        number.clone(),
                        description.clone(),
                        region.clone().unwrap_or_else(|| spec.region.clone()),
                    ),
                };
                let inst = &s.instances[&id];
                let phone = Phone {
                    id: phone_number_id(&id, &number),
                    account: account.clone(),
                    country: country_of(&number).into(),
                    number_type: type_of(&number).into(),
                    number,
                    description,
                    tags: BTreeMap::new(),
                    target_arn: inst.arn(&region),
                    region,
                    instance_id: id.clone(),
                    ready_at: past,
                };
                s.phones.insert(phone.id.clone(), phone);
            }
            for (region, fns) in &spec.lambda_functions {
                s.lambdas.insert((id.clone(), region.clone()), fns.clone());
            }
            if spec.replicated {
                s.create_default_tdg(&id, past, t);
            }
        }
        for g in &file.groups {
            s.add_group(g, past)?;
        }
        Ok(s)
    }

    /// A group of the state file, ACTIVE since `past`.
    fn add_group(&mut self, g: &GroupSpec, past: f64) -> anyhow::Result<()> {
        let inst =
            self.instances.get(&g.instance).cloned().ok_or_else(|| {
                anyhow::anyhow!("group {}: unknown instance {}", g.name, g.instance)
            })?;
        let replica = inst.replica.clone().ok_or_else(|| {
            anyhow::anyhow!(
                "group {}: instance {} is not replicated",
                g.name,
                g.instance
            )
        })?;
        let split = |m: &BTreeMap<String, i64>| -> Vec<(String, i64)> {
            if m.is_empty() {
                vec![(inst.region.clone(), 100), (replica.region.clone(), 0)]
            } else {
                m.iter().map(|(r, v)| (r.clone(), *v)).collect()
            }
        };
        let mut users = BTreeSet::new();
        for name in &g.members {
            let id = self
                .usernames
                .get(&(g.instance.clone(), name.to_lowercase()))
                .ok_or_else(|| anyhow::anyhow!("group {}: unknown member {name}", g.name))?;
            users.insert(id.clone());
        }
        let existing = self
            .tdgs
            .values()
            .find(|t| g.default && t.instance_id == g.instance && t.is_default)
            .map(|t| t.id.clone());
        if let Some(old) = &existing {
            // Described here: it holds the numbers listed here, not those ReplicateInstance moved
            // into it; and a snapshot's default group keeps its live id.
            let old_arn = self.tdgs[old].arn();
            let inst_arn = inst.arn(&inst.region);
            for p in self.phones.values_mut() {
                if p.target_arn == old_arn {
                    p.target_arn = inst_arn.clone();
                }
            }
            if g.id.as_ref().is_some_and(|id| id != old) {
                self.tdgs.remove(old);
            }
        }
        let id = g.id.clone().or(existing).unwrap_or_else(|| {
            Uuid::new_v5(&ns(&g.instance), format!("tdg:{}", g.name).as_bytes()).to_string()
        });
        let tdg = Tdg {
            id: id.clone(),
            account: inst.account.clone(),
            instance_id: g.instance.clone(),
            region: inst.region.clone(),
            name: g.name.clone(),
            description: g.description.clone(),
            tags: g.tags.clone(),
            is_default: g.default,
            created: past,
            active_at: past,
            update_until: 0.0,
            delete_at: None,
            creation_fails: false,
            telephony: split(&g.telephony),
            agents: split(&g.agents),
            sign_in: g.default.then(|| {
                if g.sign_in.is_empty() {
                    vec![(inst.region.clone(), true), (replica.region.clone(), false)]
                } else {
                    g.sign_in.iter().map(|(r, v)| (r.clone(), *v)).collect()
                }
            }),
            users,
            client_token: None,
        };
        let arn = tdg.arn();
        self.tdgs.insert(id, tdg);
        for n in &g.phone_numbers {
            let p = self
                .phones
                .values_mut()
                .find(|p| p.instance_id == g.instance && &p.number == n)
                .ok_or_else(|| anyhow::anyhow!("group {}: unknown phone number {n}", g.name))?;
            p.target_arn = arn.clone();
        }
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    pub fn new_user(
        &self,
        instance_id: &str,
        username: &str,
        routing_profile_id: String,
        hierarchy_group_id: Option<String>,
        tags: BTreeMap<String, String>,
        region: &str,
        now: f64,
    ) -> User {
        User {
            id: user_id(instance_id, username),
            instance_id: instance_id.to_string(),
            username: username.to_string(),
            routing_profile_id,
            hierarchy_group_id,
            security_profile_ids: vec![security_profile_id(instance_id, "Agent")],
            first_name: username.to_string(),
            last_name: "Agent".into(),
            email: None,
            phone_type: "SOFT_PHONE".into(),
            auto_accept: false,
            acw_limit: 0,
            desk_phone: None,
            tags,
            created: now,
            modified: now,
            origin_region: region.to_string(),
        }
    }

    pub fn insert_user(&mut self, u: User) {
        self.usernames.insert(
            (u.instance_id.clone(), u.username.to_lowercase()),
            u.id.clone(),
        );
        self.users.insert((u.instance_id.clone(), u.id.clone()), u);
    }

    pub fn remove_user(&mut self, instance_id: &str, user_id: &str) -> Option<User> {
        let u = self
            .users
            .remove(&(instance_id.to_string(), user_id.to_string()))?;
        self.usernames
            .remove(&(instance_id.to_string(), u.username.to_lowercase()));
        for g in self.tdgs.values_mut() {
            if g.instance_id == instance_id {
                g.users.remove(user_id);
            }
        }
        Some(u)
    }

    /// R5: the default TDG (if none) with every source number not yet in a group.
    pub fn create_default_tdg(&mut self, instance_id: &str, now: f64, t: &Timings) {
        let inst = self.instances[instance_id].clone();
        let Some(replica) = inst.replica.clone() else {
            return;
        };
        if self
            .tdgs
            .values()
            .any(|g| g.instance_id == instance_id && g.is_default)
        {
            return;
        }
        let g = Tdg {
            id: default_tdg_id(instance_id),
            account: inst.account.clone(),
            instance_id: instance_id.to_string(),
            region: inst.region.clone(),
            name: format!(
                "{}-default",
                inst.alias.clone().unwrap_or_else(|| "instance".into())
            ),
            description: Some(
                "Default traffic distribution group created by ReplicateInstance".into(),
            ),
            tags: BTreeMap::new(),
            is_default: true,
            created: now,
            active_at: replica.started + t.replication_s,
            update_until: 0.0,
            delete_at: None,
            creation_fails: replica.fails,
            telephony: vec![(inst.region.clone(), 100), (replica.region.clone(), 0)],
            agents: vec![(inst.region.clone(), 100), (replica.region.clone(), 0)],
            sign_in: Some(vec![
                (inst.region.clone(), true),
                (replica.region.clone(), false),
            ]),
            users: BTreeSet::new(),
            client_token: None,
        };
        let arn = g.arn();
        let inst_arn = inst.arn(&inst.region);
        for p in self.phones.values_mut() {
            if p.instance_id == instance_id && p.region == inst.region && p.target_arn == inst_arn {
                p.target_arn = arn.clone();
            }
        }
        self.tdgs.insert(g.id.clone(), g);
    }

    /// Lazy transitions that remove things: PENDING_DELETION -> gone.
    pub fn tick(&mut self, now: f64) {
        if self
            .tdgs
            .values()
            .any(|g| g.delete_at.is_some_and(|d| now >= d))
        {
            self.tdgs
                .retain(|_, g| !g.delete_at.is_some_and(|d| now >= d));
        }
    }

    /// The user is readable in `region` (mirroring of users created after replication).
    pub fn user_visible(
        &self,
        u: &User,
        inst: &Instance,
        region: &str,
        now: f64,
        t: &Timings,
    ) -> bool {
        if !inst.mirrored_in(region, now, t) {
            return false;
        }
        u.origin_region == region || now >= u.created + t.user_mirror_s
    }

    /// Whole state as JSON for `GET /_emulator/state`.
    pub fn dump(&self, now: f64, t: &Timings) -> Value {
        let instances: Vec<Value> = self
            .instances
            .values()
            .map(|i| {
                let rep = i.replication(now, t);
                json!({
                    "id": i.id, "account": i.account, "alias": i.alias, "region": i.region,
                    "identityManagementType": i.identity_management_type, "status": i.status,
                    "arn": i.arn(&i.region), "globalRouting": i.global_routing, "isolated": i.isolated,
                    "replica": i.replica.as_ref().map(|r| json!({
                        "region": r.region, "alias": r.alias, "arn": i.arn(&r.region),
                        "status": replication_status(rep),
                    })),
                })
            })
            .collect();
        let tdgs: Vec<Value> = self
            .tdgs
            .values()
            .map(|g| {
                json!({
                    "id": g.id, "arn": g.arn(), "name": g.name, "description": g.description,
                    "instanceId": g.instance_id, "region": g.region, "isDefault": g.is_default,
                    "status": g.status(now), "tags": g.tags,
                    "telephony": g.telephony.iter().map(|(r, p)| json!({"region": r, "percentage": p})).collect::<Vec<_>>(),
                    "agents": g.agents.iter().map(|(r, p)| json!({"region": r, "percentage": p})).collect::<Vec<_>>(),
                    "signIn": g.sign_in.as_ref().map(|v| v.iter().map(|(r, e)| json!({"region": r, "enabled": e})).collect::<Vec<_>>()),
                    "users": g.users,
                })
            })
            .collect();
        let users: Vec<Value> = self
            .users
            .values()
            .map(|u| {
                json!({
                    "id": u.id, "instanceId": u.instance_id, "username": u.username,
                    "routingProfileId": u.routing_profile_id, "hierarchyGroupId": u.hierarchy_group_id,
                    "tags": u.tags, "originRegion": u.origin_region, "created": u.created,
                })
            })
            .collect();
        let phones: Vec<Value> = self
            .phones
            .values()
            .map(|p| {
                json!({
                    "id": p.id, "arn": p.arn(), "number": p.number, "region": p.region,
                    "instanceId": p.instance_id, "targetArn": p.target_arn, "status": p.status(now),
                    "description": p.description,
                })
            })
            .collect();
        let named = |m: &BTreeMap<(String, String), Named>| -> Vec<Value> {
            m.values()
                .map(|n| json!({"id": n.id, "instanceId": n.instance_id, "name": n.name}))
                .collect()
        };
        let lambdas: Vec<Value> = self
            .lambdas
            .iter()
            .map(|((i, r), f)| json!({"instanceId": i, "region": r, "functions": f}))
            .collect();
        json!({
            "now": now,
            "accounts": self.accounts,
            "regionPairs": self.region_pairs,
            "instances": instances,
            "trafficDistributionGroups": tdgs,
            "routingProfiles": named(&self.routing_profiles),
            "hierarchyGroups": named(&self.hierarchy_groups),
            "users": users,
            "phoneNumbers": phones,
            "lambdaFunctions": lambdas,
            "preflight": self.flows.dump(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_state_matches_the_documented_fixture() {
        let t = Timings::default();
        let s = State::build(&default_state_file(None), &[], 1000.0, &t).unwrap();
        assert_eq!(s.users.len(), 304);
        assert_eq!(s.phones.len(), 4);
        let inst = &s.instances[DEFAULT_INSTANCE_ID];
        assert_eq!(inst.alias.as_deref(), Some("support-center"));
        let get = |n: &str| {
            &s.users[&(
                DEFAULT_INSTANCE_ID.to_string(),
                user_id(DEFAULT_INSTANCE_ID, n),
            )]
        };
        let t1 = hierarchy_group_id(DEFAULT_INSTANCE_ID, "Tier 1");
        let t2 = hierarchy_group_id(DEFAULT_INSTANCE_ID, "Tier 2");
        let sales = routing_profile_id(DEFAULT_INSTANCE_ID, "Sales Routing Profile");
        assert_eq!(get("agent150").hierarchy_group_id.as_ref(), Some(&t1));
        assert_eq!(get("agent151").hierarchy_group_id.as_ref(), Some(&t2));
        assert_eq!(get("alice").hierarchy_group_id.as_ref(), Some(&t2));
        assert_eq!(get("agent200").tags["team"], "support");
        assert_eq!(get("agent201").tags["team"], "sales");
        assert_eq!(get("agent201").routing_profile_id, sales);
        assert_ne!(get("agent200").routing_profile_id, sales);
        assert!(get("carol").tags.is_empty());
        assert_eq!(get("bob").tags["team"], "support");
    }

    #[test]
    fn users_flag_generates_five_digit_agents() {
        let f = default_state_file(Some(5000));
        assert_eq!(f.instances[0].users.len(), 5004);
        assert_eq!(f.instances[0].users[4].username, "agent00001");
        assert_eq!(f.instances[0].users[5003].username, "agent05000");
    }

    #[test]
    fn tdg_status_lifecycle() {
        let t = Timings::default();
        let mut f = default_state_file(Some(1));
        f.instances[0].replicated = true;
        let mut s = State::build(&f, &[], 1000.0, &t).unwrap();
        let g = s.tdgs.values_mut().next().unwrap();
        assert_eq!(g.status(1000.0), "ACTIVE");
        g.update_until = 1001.0;
        assert_eq!(g.status(1000.0), "UPDATE_IN_PROGRESS");
        g.delete_at = Some(1002.0);
        assert_eq!(g.status(1000.0), "PENDING_DELETION");
        s.tick(1001.0);
        assert_eq!(s.tdgs.len(), 1);
        s.tick(1002.0);
        assert!(s.tdgs.is_empty());
        // R5: the numbers moved into the default group
        assert!(
            s.phones
                .values()
                .all(|p| p.target_arn.contains("traffic-distribution-group"))
        );
    }
}
