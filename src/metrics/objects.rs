//! Per-object gauges for the alerts and the dashboard (issue 24): the declared and live split of
//! each TrafficDistribution per channel and region, since when the live split differs from the
//! declared one, the drift pause, the drift state of each object that reports drift, each
//! InstanceReplica's FailoverReady, and the preflight findings by finding kind and severity.
//!
//! Label sets are bounded: `namespace`/`name` identify one object, `channel` is telephony or
//! agents, `region` one of its group's two regions, `kind` a CRD kind (or, on the findings, a
//! finding kind from docs/crds.md), `severity` Blocking or Warning. Only the replica that
//! reconciles sets them (a pass sets them); an object's series are removed when no pass has
//! refreshed them for two resync intervals and a minute (it was deleted, or another replica leads).
//!
//! What to set is computed by pure functions (`distribution_series`, ...); `Tracker` keeps which
//! series each object owns so a series the object no longer has is removed.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use kube::ResourceExt;
use parking_lot::Mutex;
use prometheus_client::encoding::EncodeLabelSet;

use super::METRICS;
use crate::api::{
    AgentMembership, AgentMembershipStatus, DriftStatus, InstanceReplica, InstanceReplicaStatus,
    TrafficDistribution, TrafficDistributionStatus, preflight::FAILOVER_READY,
};

#[derive(Clone, Debug, Hash, PartialEq, Eq, PartialOrd, Ord, EncodeLabelSet)]
pub struct SplitLabels {
    pub namespace: String,
    pub name: String,
    /// telephony | agents
    pub channel: String,
    pub region: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, PartialOrd, Ord, EncodeLabelSet)]
pub struct ObjectLabels {
    pub namespace: String,
    pub name: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, PartialOrd, Ord, EncodeLabelSet)]
pub struct KindObjectLabels {
    pub kind: String,
    pub namespace: String,
    pub name: String,
}

/// Preflight findings: `kind` is the finding kind (FlowHardcodedRegion, ...; `Unlisted` for the
/// findings past the first 20 a status lists), `severity` Blocking | Warning.
#[derive(Clone, Debug, Hash, PartialEq, Eq, PartialOrd, Ord, EncodeLabelSet)]
pub struct FindingLabels {
    pub kind: String,
    pub severity: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ResultLabel {
    pub result: String,
}

/// One gauge series an object owns.
#[derive(Clone, Debug, Hash, PartialEq, Eq, PartialOrd, Ord)]
pub enum Series {
    SplitDeclared(SplitLabels),
    SplitLive(SplitLabels),
    SplitDiffersSince(ObjectLabels),
    DriftPause(ObjectLabels),
    DriftState(KindObjectLabels),
    FailoverReady(ObjectLabels),
}

/// `connectgr_drift_state`: no drift.
pub const DRIFT_NONE: i64 = 0;
/// `connectgr_drift_state`: drift detected, to be corrected when the drift pause is over.
pub const DRIFT_PAUSED: i64 = 1;
/// `connectgr_drift_state`: drift detected and left alone (policy Report).
pub const DRIFT_LEFT_ALONE: i64 = 2;

pub fn drift_state(drift: Option<&DriftStatus>) -> i64 {
    match drift {
        None => DRIFT_NONE,
        Some(d) if d.correction_time.is_some() => DRIFT_PAUSED,
        Some(_) => DRIFT_LEFT_ALONE,
    }
}

fn split_series(
    out: &mut Vec<(Series, i64)>,
    object: &ObjectLabels,
    channel: &str,
    declared: Option<&BTreeMap<String, i32>>,
    live: Option<&BTreeMap<String, i32>>,
) {
    let labels = |region: &String| SplitLabels {
        namespace: object.namespace.clone(),
        name: object.name.clone(),
        channel: channel.into(),
        region: region.clone(),
    };
    for (region, v) in declared.into_iter().flatten() {
        out.push((Series::SplitDeclared(labels(region)), *v as i64));
    }
    for (region, v) in live.into_iter().flatten() {
        out.push((Series::SplitLive(labels(region)), *v as i64));
    }
}

/// Whether a declared channel's split differs from the live one (a region the live split does
/// not list counts as 0). An undeclared channel, or one not read yet, does not differ.
fn differs(declared: Option<&BTreeMap<String, i32>>, live: Option<&BTreeMap<String, i32>>) -> bool {
    match (declared, live) {
        (Some(d), Some(l)) => d.iter().any(|(r, v)| l.get(r).copied().unwrap_or(0) != *v),
        _ => false,
    }
}

/// A rollout (gated or not) is on its way to the declared split: the live split differing from
/// it is expected, not drift.
fn rolling_out(obj: &TrafficDistribution) -> bool {
    let status = obj.status.as_ref();
    let rollout = status.and_then(|s| s.rollout.as_ref());
    rollout.is_some_and(|r| r.phase.as_deref() != Some("Complete"))
}

/// The series of one TrafficDistribution (its status as the pass left it) and whether its live
/// split differs from the declared one while no rollout is under way. `since` is when it was
/// first seen differing (the drift's firstSeenTime if there is one), Unix seconds.
pub fn distribution_series(obj: &TrafficDistribution, since: Option<i64>) -> Vec<(Series, i64)> {
    let object = ObjectLabels {
        namespace: obj.namespace().unwrap_or_default(),
        name: obj.name_any(),
    };
    let status = obj.status.clone().unwrap_or_default();
    let mut out = vec![];
    split_series(
        &mut out,
        &object,
        "telephony",
        obj.spec.telephony.as_ref(),
        status.telephony.as_ref(),
    );
    split_series(
        &mut out,
        &object,
        "agents",
        obj.spec.agents.as_ref(),
        status.agents.as_ref(),
    );
    out.push((
        Series::DriftPause(object.clone()),
        obj.spec.drift_pause_seconds,
    ));
    out.push((
        Series::DriftState(KindObjectLabels {
            kind: "TrafficDistribution".into(),
            namespace: object.namespace.clone(),
            name: object.name.clone(),
        }),
        drift_state(status.drift.as_ref()),
    ));
    if let Some(since) = since {
        out.push((Series::SplitDiffersSince(object), since));
    }
    out
}

/// Since when (Unix seconds) the live split of `obj` has differed from the declared one, or
/// None when it does not (or a rollout is on its way). `previous` is what the last pass found.
pub fn differs_since(obj: &TrafficDistribution, previous: Option<i64>, now: i64) -> Option<i64> {
    let status = obj.status.as_ref()?;
    let d = differs(obj.spec.telephony.as_ref(), status.telephony.as_ref())
        || differs(obj.spec.agents.as_ref(), status.agents.as_ref());
    if !d || rolling_out(obj) {
        return None;
    }
    let first_seen = status
        .drift
        .as_ref()
        .map(|d| d.first_seen_time.0.as_second());
    Some(first_seen.or(previous).unwrap_or(now))
}

/// FailoverReady of one InstanceReplica (1 True, 0 otherwise; no series before it has one) and
/// its findings: (finding kind, severity) -> count, `Unlisted` for those past the listed ones.
pub fn replica_series(obj: &InstanceReplica) -> (Vec<(Series, i64)>, BTreeMap<FindingLabels, i64>) {
    let object = ObjectLabels {
        namespace: obj.namespace().unwrap_or_default(),
        name: obj.name_any(),
    };
    let mut out = vec![];
    let mut findings = BTreeMap::new();
    let Some(status) = obj.status.as_ref() else {
        return (out, findings);
    };
    if let Some(c) = status.conditions.iter().find(|c| c.type_ == FAILOVER_READY) {
        out.push((Series::FailoverReady(object), (c.status == "True") as i64));
    }
    if let Some(p) = &status.preflight {
        let mut listed = BTreeMap::<String, i64>::new();
        for f in &p.findings {
            let severity = format!("{:?}", f.severity);
            *listed.entry(severity.clone()).or_default() += 1;
            *findings
                .entry(FindingLabels {
                    kind: f.kind.clone(),
                    severity,
                })
                .or_default() += 1;
        }
        for (severity, total) in [("Blocking", p.blocking), ("Warning", p.warnings)] {
            let rest = total - listed.get(severity).copied().unwrap_or(0);
            if rest > 0 {
                findings.insert(
                    FindingLabels {
                        kind: "Unlisted".into(),
                        severity: severity.into(),
                    },
                    rest,
                );
            }
        }
    }
    (out, findings)
}

/// The drift state of an AgentMembership.
pub fn membership_series(obj: &AgentMembership) -> Vec<(Series, i64)> {
    let drift = obj.status.as_ref().and_then(|s| s.drift.as_ref());
    vec![(
        Series::DriftState(KindObjectLabels {
            kind: "AgentMembership".into(),
            namespace: obj.namespace().unwrap_or_default(),
            name: obj.name_any(),
        }),
        drift_state(drift),
    )]
}

#[derive(Default)]
struct Owned {
    series: Vec<Series>,
    findings: BTreeMap<FindingLabels, i64>,
    since: Option<i64>,
    expires: Option<Instant>,
}

/// Which series each object owns, so series an object no longer has (or a deleted object's) go.
#[derive(Default)]
pub struct Tracker {
    objects: HashMap<(String, String, String), Owned>,
    /// The findings label sets ever published (a pair no replica has any more shows 0).
    published: BTreeSet<FindingLabels>,
}

fn set(s: &Series, v: i64) {
    let m = &*METRICS;
    match s {
        Series::SplitDeclared(l) => m.split_declared.get_or_create(l).set(v),
        Series::SplitLive(l) => m.split_live.get_or_create(l).set(v),
        Series::SplitDiffersSince(l) => m.split_differs_since.get_or_create(l).set(v),
        Series::DriftPause(l) => m.drift_pause.get_or_create(l).set(v),
        Series::DriftState(l) => m.drift_state.get_or_create(l).set(v),
        Series::FailoverReady(l) => m.failover_ready.get_or_create(l).set(v),
    };
}

fn remove(s: &Series) {
    let m = &*METRICS;
    match s {
        Series::SplitDeclared(l) => m.split_declared.remove(l),
        Series::SplitLive(l) => m.split_live.remove(l),
        Series::SplitDiffersSince(l) => m.split_differs_since.remove(l),
        Series::DriftPause(l) => m.drift_pause.remove(l),
        Series::DriftState(l) => m.drift_state.remove(l),
        Series::FailoverReady(l) => m.failover_ready.remove(l),
    };
}

impl Tracker {
    fn update(
        &mut self,
        key: (String, String, String),
        series: Vec<(Series, i64)>,
        findings: BTreeMap<FindingLabels, i64>,
        since: Option<i64>,
        keep_for: Duration,
    ) {
        let owned = self.objects.entry(key).or_default();
        for old in &owned.series {
            if !series.iter().any(|(s, _)| s == old) {
                remove(old);
            }
        }
        for (s, v) in &series {
            set(s, *v);
        }
        owned.series = series.into_iter().map(|(s, _)| s).collect();
        owned.findings = findings;
        owned.since = since;
        owned.expires = Instant::now().checked_add(keep_for);
        self.publish_findings();
    }

    /// Drops the series of objects no pass has refreshed in time.
    fn expire(&mut self, now: Instant) {
        let before = self.objects.len();
        self.objects.retain(|_, o| {
            let keep = o.expires.is_none_or(|e| now < e);
            if !keep {
                o.series.iter().for_each(remove);
            }
            keep
        });
        if self.objects.len() != before {
            self.publish_findings();
        }
    }

    /// The findings gauges: the sum over the replicas (0 for a pair no replica has any more).
    fn publish_findings(&mut self) {
        let mut sum = BTreeMap::<FindingLabels, i64>::new();
        for o in self.objects.values() {
            for (l, v) in &o.findings {
                *sum.entry(l.clone()).or_default() += v;
            }
        }
        let m = &*METRICS;
        for l in self.published.difference(&sum.keys().cloned().collect()) {
            m.preflight_findings.get_or_create(l).set(0);
        }
        for (l, v) in sum {
            m.preflight_findings.get_or_create(&l).set(v);
            self.published.insert(l);
        }
    }
}

static TRACKER: std::sync::LazyLock<Mutex<Tracker>> = std::sync::LazyLock::new(Default::default);

fn keep_for(resync: Duration) -> Duration {
    resync * 2 + Duration::from_secs(60)
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

fn key(kind: &str, ns: Option<String>, name: String) -> (String, String, String) {
    (kind.into(), ns.unwrap_or_default(), name)
}

/// After a TrafficDistribution pass that left `status`.
pub fn distribution(
    obj: &TrafficDistribution,
    status: &TrafficDistributionStatus,
    resync: Duration,
) {
    let mut obj = obj.clone();
    obj.status = Some(status.clone());
    let obj = &obj;
    let mut t = TRACKER.lock();
    let k = key("TrafficDistribution", obj.namespace(), obj.name_any());
    let previous = t.objects.get(&k).and_then(|o| o.since);
    let since = differs_since(obj, previous, unix_now());
    let series = distribution_series(obj, since);
    t.update(k, series, BTreeMap::new(), since, keep_for(resync));
}

/// After an InstanceReplica pass that left `status`.
pub fn replica(obj: &InstanceReplica, status: &InstanceReplicaStatus, resync: Duration) {
    let mut obj = obj.clone();
    obj.status = Some(status.clone());
    let obj = &obj;
    let (series, findings) = replica_series(obj);
    let k = key("InstanceReplica", obj.namespace(), obj.name_any());
    TRACKER
        .lock()
        .update(k, series, findings, None, keep_for(resync));
}

/// After an AgentMembership pass that left `status`.
pub fn membership(obj: &AgentMembership, status: &AgentMembershipStatus, resync: Duration) {
    let mut obj = obj.clone();
    obj.status = Some(status.clone());
    let obj = &obj;
    let k = key("AgentMembership", obj.namespace(), obj.name_any());
    TRACKER.lock().update(
        k,
        membership_series(obj),
        BTreeMap::new(),
        None,
        keep_for(resync),
    );
}

/// Before an exposition: forget the objects no pass refreshed in time.
pub fn expire() {
    TRACKER.lock().expire(Instant::now());
}

#[cfg(test)]
#[path = "objects_tests.rs"]
mod tests;
