//! The local runner's "cluster": manifests read from files, kept in memory with their status,
//! keyed by kind, namespace and name as the API server keys them. `demo`, `apply`, `plan`,
//! `preflight`, the benchmarks and the driver tests reconcile a `World` through the driver.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context;
use async_trait::async_trait;
use kube::{Resource, ResourceExt};
use parking_lot::Mutex;
use serde::de::DeserializeOwned;

use crate::api::{
    self, AgentMembership, CallerDenylist, FailoverDrill, InstanceReplica, TrafficDistribution,
    TrafficDistributionGroup,
};
use crate::reconcile::driver::Managed;
use crate::reconcile::{Note, Objects, ReadError};

/// An object's identity in the world: kind, namespace, name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Key {
    pub kind: &'static str,
    pub namespace: String,
    pub name: String,
}

impl Key {
    pub fn of<K: Managed>(obj: &K) -> Self {
        Self {
            kind: K::KIND,
            namespace: obj.namespace().unwrap_or_default(),
            name: obj.name_any(),
        }
    }
}

impl std::fmt::Display for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}/{}", self.kind, self.namespace, self.name)
    }
}

/// Manifests read from files, kept in memory with their status (the local runner's "cluster").
#[derive(Default)]
pub struct World {
    pub replicas: Mutex<Vec<InstanceReplica>>,
    pub groups: Mutex<Vec<TrafficDistributionGroup>>,
    pub memberships: Mutex<Vec<AgentMembership>>,
    pub distributions: Mutex<Vec<TrafficDistribution>>,
    pub denylists: Mutex<Vec<CallerDenylist>>,
    pub drills: Mutex<Vec<FailoverDrill>>,
    /// When each object asked to be looked at again (its requeue time).
    pub due: Mutex<BTreeMap<Key, tokio::time::Instant>>,
    /// Consecutive transient failures per object, for backoff.
    pub failures: Mutex<BTreeMap<Key, u32>>,
    /// Events the passes published, oldest first (the runner's "kubectl get events").
    pub events: Mutex<Vec<(Key, Note)>>,
}

fn find<K: Managed>(list: &Mutex<Vec<K>>, ns: &str, name: &str) -> Option<K> {
    list.lock()
        .iter()
        .find(|o| o.namespace().as_deref() == Some(ns) && o.name_any() == name)
        .cloned()
}

fn list_in<K: Managed>(list: &Mutex<Vec<K>>, ns: &str) -> Vec<K> {
    list.lock()
        .iter()
        .filter(|o| o.namespace().as_deref() == Some(ns))
        .cloned()
        .collect()
}

#[async_trait]
impl Objects for World {
    async fn replica(&self, ns: &str, name: &str) -> Result<Option<InstanceReplica>, ReadError> {
        Ok(find(&self.replicas, ns, name))
    }
    async fn group(
        &self,
        ns: &str,
        name: &str,
    ) -> Result<Option<TrafficDistributionGroup>, ReadError> {
        Ok(find(&self.groups, ns, name))
    }
    async fn memberships(&self, ns: &str) -> Result<Vec<AgentMembership>, ReadError> {
        Ok(list_in(&self.memberships, ns))
    }
    async fn distribution(
        &self,
        ns: &str,
        name: &str,
    ) -> Result<Option<TrafficDistribution>, ReadError> {
        Ok(find(&self.distributions, ns, name))
    }
    async fn drills(&self, ns: &str) -> Result<Vec<FailoverDrill>, ReadError> {
        Ok(list_in(&self.drills, ns))
    }
}

fn prepare<K: Resource<DynamicType = ()> + DeserializeOwned>(
    doc: serde_json::Value,
    namespace: &str,
) -> anyhow::Result<K> {
    let mut obj: K = serde_json::from_value(doc)?;
    let meta = obj.meta_mut();
    let ns = meta
        .namespace
        .get_or_insert_with(|| namespace.into())
        .clone();
    let name = meta.name.clone().unwrap_or_default();
    meta.uid = Some(
        uuid::Uuid::new_v5(
            &uuid::Uuid::NAMESPACE_OID,
            format!("{}/{ns}/{name}", K::kind(&())).as_bytes(),
        )
        .to_string(),
    );
    meta.generation = Some(meta.generation.unwrap_or(0) + 1);
    Ok(obj)
}

/// Adds `obj`, or replaces the object with its namespace and name (a new generation that keeps
/// the old status, as an update of the spec does on the API server).
pub fn upsert<K: Managed>(list: &mut Vec<K>, mut obj: K) {
    if let Some(old) = list
        .iter_mut()
        .find(|o| o.name_any() == obj.name_any() && o.namespace() == obj.namespace())
    {
        obj.meta_mut().generation = Some(old.meta().generation.unwrap_or(1) + 1);
        if let Some(status) = old.status().cloned() {
            obj.set_status(status);
        }
        *old = obj;
    } else {
        list.push(obj);
    }
}

impl World {
    /// Adds manifests (multi-document YAML), validated as the API server would.
    pub fn apply_yaml(&self, text: &str, origin: &str) -> anyhow::Result<usize> {
        self.apply_yaml_in(text, origin, "default")
    }

    /// As [`World::apply_yaml`], objects without a namespace going into `namespace`.
    pub fn apply_yaml_in(
        &self,
        text: &str,
        origin: &str,
        namespace: &str,
    ) -> anyhow::Result<usize> {
        let pairs = api::RegionPairs::default();
        let mut n = 0;
        for doc in serde_norway::Deserializer::from_str(text) {
            let value: serde_json::Value = serde::Deserialize::deserialize(doc)
                .with_context(|| format!("parsing {origin}"))?;
            if value.is_null() {
                continue;
            }
            if let Err(errors) = api::validate::manifest(&value, &pairs) {
                let msgs: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
                anyhow::bail!("{origin}: invalid manifest: {}", msgs.join("; "));
            }
            match value.get("kind").and_then(|k| k.as_str()).unwrap_or("") {
                "InstanceReplica" => upsert(&mut self.replicas.lock(), prepare(value, namespace)?),
                "TrafficDistributionGroup" => {
                    upsert(&mut self.groups.lock(), prepare(value, namespace)?)
                }
                "AgentMembership" => {
                    upsert(&mut self.memberships.lock(), prepare(value, namespace)?)
                }
                "TrafficDistribution" => {
                    upsert(&mut self.distributions.lock(), prepare(value, namespace)?)
                }
                "CallerDenylist" => upsert(&mut self.denylists.lock(), prepare(value, namespace)?),
                "FailoverDrill" => upsert(&mut self.drills.lock(), prepare(value, namespace)?),
                other => anyhow::bail!("{origin}: unknown kind {other:?}"),
            }
            n += 1;
        }
        Ok(n)
    }

    pub fn apply_path(&self, path: &Path) -> anyhow::Result<usize> {
        self.apply_path_in(path, "default")
    }

    /// As [`World::apply_path`], objects without a namespace going into `namespace`.
    pub fn apply_path_in(&self, path: &Path, namespace: &str) -> anyhow::Result<usize> {
        let mut files: Vec<PathBuf> = if path.is_dir() {
            std::fs::read_dir(path)?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "yaml" || x == "yml"))
                .collect()
        } else {
            vec![path.to_path_buf()]
        };
        files.sort();
        let mut n = 0;
        for f in files {
            n += self.apply_yaml_in(
                &std::fs::read_to_string(&f).with_context(|| format!("reading {}", f.display()))?,
                &f.display().to_string(),
                namespace,
            )?;
        }
        Ok(n)
    }

    /// The keys of every object, in dependency order (replicas, groups, memberships,
    /// distributions, drills, then denylists when included).
    pub fn keys(&self, include_denylists: bool) -> Vec<Key> {
        let mut out: Vec<Key> = Vec::new();
        out.extend(self.replicas.lock().iter().map(Key::of));
        out.extend(self.groups.lock().iter().map(Key::of));
        out.extend(self.memberships.lock().iter().map(Key::of));
        out.extend(self.distributions.lock().iter().map(Key::of));
        out.extend(self.drills.lock().iter().map(Key::of));
        if include_denylists {
            out.extend(self.denylists.lock().iter().map(Key::of));
        }
        out
    }

    /// Whether a change of `changed`'s status wakes `other`, as the controller's watches do: a
    /// replica wakes the groups that refer to it and the distributions of those groups (their
    /// preflight gate reads it), a group the memberships, distributions and denylists that refer
    /// to it.
    pub fn wakes(&self, changed: &Key, other: &Key) -> bool {
        if changed.namespace != other.namespace {
            return false;
        }
        let ns = other.namespace.as_str();
        let name = other.name.as_str();
        match (changed.kind, other.kind) {
            ("InstanceReplica", "TrafficDistributionGroup") => find(&self.groups, ns, name)
                .and_then(|g| g.spec.replica_ref)
                .is_some_and(|r| r.name == changed.name),
            // A distribution's preflight gate reads the replica of its group.
            ("InstanceReplica", "TrafficDistribution") => find(&self.distributions, ns, name)
                .and_then(|d| find(&self.groups, ns, &d.spec.group_ref.name))
                .and_then(|g| g.spec.replica_ref)
                .is_some_and(|r| r.name == changed.name),
            ("TrafficDistributionGroup", "AgentMembership") => find(&self.memberships, ns, name)
                .is_some_and(|m| m.spec.group_ref.name == changed.name),
            ("TrafficDistributionGroup", "TrafficDistribution") => {
                find(&self.distributions, ns, name)
                    .is_some_and(|d| d.spec.group_ref.name == changed.name)
            }
            ("TrafficDistributionGroup", "CallerDenylist") => find(&self.denylists, ns, name)
                .is_some_and(|d| d.spec.group_ref.name == changed.name),
            // A drill's run is what its distribution works towards, and the distribution's
            // split is what the drill verifies.
            ("FailoverDrill", "TrafficDistribution") => find(&self.drills, ns, &changed.name)
                .is_some_and(|d| d.spec.distribution_ref.name == name),
            ("TrafficDistribution", "FailoverDrill") => find(&self.drills, ns, name)
                .is_some_and(|d| d.spec.distribution_ref.name == changed.name),
            _ => false,
        }
    }
}
