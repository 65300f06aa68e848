//! Drift: a difference between what the controller itself last applied and what Connect has now,
//! while the spec is unchanged, is a change made by someone else (an incident responder in the
//! console, a supervisor with the AWS CLI). It is reported at once, left alone for
//! `driftPauseSeconds`, then corrected (`Correct`) or never (`Report`); `connectgr.io/resume`
//! corrects at once, and a change of the spec always wins.
//!
//! Pure: what was last applied, what is observed, the spec's generation facts, the policy, the
//! pause, the previous `status.drift` and `now` in; a [`Decision`] out. No clock reads: the pause
//! start is in `status.drift`, so a controller that restarts mid-pause carries on with it.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use serde::Serialize;

use super::membership::MembershipDiff;
use crate::api::annotations::RESUME as RESUME_ANNOTATION;
use crate::api::common::STATUS_LIST_CAP;
use crate::api::drift::{DriftChange, DriftPolicy, DriftStatus};
use crate::api::traffic_distribution::LastAppliedSplit;
use crate::connect::Distribution;

/// What a pass knows when it decides about a difference.
#[derive(Debug, Clone)]
pub struct Facts<'a> {
    /// What differs from what the controller last applied (empty: nothing was changed outside).
    pub changes: Vec<DriftChange>,
    /// The spec this pass applies was applied before (`generation == observedGeneration`).
    pub generation_applied: bool,
    /// [`spec_hash`] of the spec less the drift settings.
    pub spec_hash: &'a str,
    /// `status.drift` as the previous pass left it.
    pub previous: Option<&'a DriftStatus>,
    pub policy: DriftPolicy,
    pub pause_seconds: i64,
    pub now: Timestamp,
    /// A `connectgr.io/resume` value that was not acted on yet.
    pub resume: bool,
}

/// Why a drift is corrected now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Why {
    /// `driftPauseSeconds` have passed since it was first seen (0: at once).
    PauseOver,
    /// A new `connectgr.io/resume` value.
    Resumed,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// Nothing was changed outside the controller, or the spec changed (it wins): apply the spec
    /// as usual and clear `status.drift`.
    InSync,
    /// Leave Connect as it is; `drift` goes into status (`correction_time`: when it will be
    /// corrected, absent for `Report`). `new`: first seen now (publish DriftDetected).
    Report { drift: DriftStatus, new: bool },
    /// Restore the spec now.
    Correct {
        drift: DriftStatus,
        new: bool,
        why: Why,
    },
}

fn plus(t: Timestamp, seconds: i64) -> Timestamp {
    t.checked_add(SignedDuration::from_secs(seconds.max(0)))
        .unwrap_or(Timestamp::MAX)
}

/// The decision about a difference between Connect and what the controller last applied.
pub fn decide(f: Facts<'_>) -> Decision {
    let spec_unchanged =
        f.generation_applied || f.previous.is_some_and(|p| p.spec_hash == f.spec_hash);
    if f.changes.is_empty() || !spec_unchanged {
        return Decision::InSync;
    }
    let total = f.changes.len() as i32;
    let mut changes = f.changes;
    changes.truncate(STATUS_LIST_CAP);
    let same = f
        .previous
        .filter(|p| p.changes == changes && p.total == total);
    let new = same.is_none();
    let first_seen = same.map(|p| p.first_seen_time.0).unwrap_or(f.now);
    let correct_at = match f.policy {
        DriftPolicy::Correct => Some(plus(first_seen, f.pause_seconds)),
        DriftPolicy::Report => None,
    };
    let what = describe(&changes, total as usize);
    let message = match correct_at {
        _ if f.resume => format!("{what}; correcting now ({RESUME_ANNOTATION})"),
        Some(t) if t <= f.now => format!(
            "{what}; correcting now (driftPauseSeconds {} passed)",
            f.pause_seconds
        ),
        Some(t) => format!(
            "{what}; left alone until {t} (driftPauseSeconds {}), then corrected; annotate {RESUME_ANNOTATION} to correct it now",
            f.pause_seconds
        ),
        None => format!(
            "{what}; not corrected (driftPolicy Report): change the spec, or annotate {RESUME_ANNOTATION} to correct it"
        ),
    };
    let drift = DriftStatus {
        policy: f.policy,
        changes,
        total,
        message,
        first_seen_time: Time(first_seen),
        correction_time: correct_at.map(Time),
        spec_hash: f.spec_hash.to_string(),
    };
    if f.resume {
        return Decision::Correct {
            drift,
            new,
            why: Why::Resumed,
        };
    }
    match correct_at {
        Some(t) if t <= f.now => Decision::Correct {
            drift,
            new,
            why: Why::PauseOver,
        },
        _ => Decision::Report { drift, new },
    }
}

/// When to look again while a drift is left alone: at the correction time (so it happens on
/// time, not at the next resync), at the latest after `resync`.
pub fn recheck_after(
    drift: &DriftStatus,
    now: Timestamp,
    resync: std::time::Duration,
) -> std::time::Duration {
    match &drift.correction_time {
        Some(t) => {
            let ms = t.0.as_millisecond() - now.as_millisecond();
            std::time::Duration::from_millis(ms.max(0) as u64 + 200).min(resync)
        }
        None => resync,
    }
}

/// "changed outside the controller: telephony us-west-2=60% us-east-1=40% -> ...", the first
/// three changes and how many more.
pub fn describe(changes: &[DriftChange], total: usize) -> String {
    let mut parts: Vec<String> = changes
        .iter()
        .take(3)
        .map(|c| format!("{} {} -> {}", c.field, c.from, c.to))
        .collect();
    if total > parts.len() {
        parts.push(format!("and {} more", total - parts.len()));
    }
    format!("changed outside the controller: {}", parts.join(", "))
}

/// A `connectgr.io/resume` value not acted on yet (compared with the one recorded in status).
pub fn resume_requested<'a>(
    annotations: Option<&'a BTreeMap<String, String>>,
    last_handled: Option<&str>,
) -> Option<&'a str> {
    annotations?
        .get(RESUME_ANNOTATION)
        .map(String::as_str)
        .filter(|v| !v.is_empty() && Some(*v) != last_handled)
}

/// 64-bit FNV-1a: stable across builds and platforms (std's hasher is not).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// A stable fingerprint of a spec (serialized as JSON; maps are ordered).
pub fn spec_hash<T: Serialize>(spec: &T) -> String {
    let json = serde_json::to_vec(spec).unwrap_or_default();
    format!("{:016x}", fnv1a(&json))
}

// --- TrafficDistribution ---

/// The declared parts of a split: what the controller applies (undeclared parts are left as
/// they are in Connect, so their changes are not drift).
pub fn declared_split(
    telephony: bool,
    agents: bool,
    sign_in: bool,
    d: &Distribution,
) -> LastAppliedSplit {
    LastAppliedSplit {
        telephony: telephony.then(|| d.telephony.clone()),
        agents: agents.then(|| d.agents.clone()),
        sign_in: sign_in.then(|| d.sign_in.clone()),
    }
}

fn in_order<V>(m: &BTreeMap<String, V>, regions: &[String; 2], f: impl Fn(&V) -> String) -> String {
    let mut keys: Vec<&String> = m.keys().collect();
    keys.sort_by_key(|k| (regions.iter().position(|r| r == *k).unwrap_or(2), *k));
    if keys.is_empty() {
        return "(none)".into();
    }
    keys.iter()
        .map(|k| format!("{k}={}", f(&m[*k])))
        .collect::<Vec<_>>()
        .join(" ")
}

/// What differs between the split the controller last applied and the observed one, part by
/// part (only the parts it applied), source region first.
pub fn split_changes(
    last: Option<&LastAppliedSplit>,
    observed: &Distribution,
    regions: &[String; 2],
) -> Vec<DriftChange> {
    let Some(last) = last else {
        return vec![];
    };
    let pct = |p: &i32| format!("{p}%");
    let on = |e: &bool| if *e { "on" } else { "off" }.to_string();
    let mut out = Vec::new();
    for (field, was, now) in [
        ("telephony", &last.telephony, &observed.telephony),
        ("agents", &last.agents, &observed.agents),
    ] {
        if let Some(was) = was
            && was != now
        {
            out.push(DriftChange {
                field: field.into(),
                from: in_order(was, regions, pct),
                to: in_order(now, regions, pct),
            });
        }
    }
    if let Some(was) = &last.sign_in
        && *was != observed.sign_in
    {
        out.push(DriftChange {
            field: "signIn".into(),
            from: in_order(was, regions, on),
            to: in_order(&observed.sign_in, regions, on),
        });
    }
    out
}

// --- AgentMembership ---

/// 48 bits of FNV-1a of a user id.
pub fn member_fingerprint(id: &str) -> u64 {
    fnv1a(id.as_bytes()) >> 16
}

/// The kept members' fingerprints: 12 hex digits each, sorted, concatenated; and how many.
pub fn encode_kept<'a>(ids: impl IntoIterator<Item = &'a String>) -> (i32, String) {
    let set: BTreeSet<u64> = ids.into_iter().map(|id| member_fingerprint(id)).collect();
    let mut s = String::with_capacity(set.len() * 12);
    for f in &set {
        s.push_str(&format!("{f:012x}"));
    }
    (set.len() as i32, s)
}

/// The fingerprints of [`encode_kept`]; chunks that are not 12 hex digits are skipped.
pub fn decode_kept(s: &str) -> HashSet<u64> {
    s.as_bytes()
        .chunks(12)
        .filter_map(|c| std::str::from_utf8(c).ok())
        .filter(|c| c.len() == 12)
        .filter_map(|c| u64::from_str_radix(c, 16).ok())
        .collect()
}

/// A membership diff split by who caused it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MembershipSplit {
    /// The controller's own work: a new declared agent (a new selector match) to add, an agent
    /// it kept that nobody declares any more to remove.
    pub now: MembershipDiff,
    /// Changes made outside the controller: `associate` holds kept agents someone took out,
    /// `disassociate` agents nobody declares that someone put in (Exact mode).
    pub outside: MembershipDiff,
}

/// Splits `diff` with the kept members of the last pass (`None`: nothing recorded yet, so
/// everything is the controller's own work).
pub fn split_membership(diff: &MembershipDiff, kept: Option<&HashSet<u64>>) -> MembershipSplit {
    let Some(kept) = kept else {
        return MembershipSplit {
            now: diff.clone(),
            outside: MembershipDiff::default(),
        };
    };
    let was_kept = |id: &String| kept.contains(&member_fingerprint(id));
    let (out_assoc, now_assoc): (Vec<String>, Vec<String>) =
        diff.associate.iter().cloned().partition(was_kept);
    let (now_dis, out_dis): (Vec<String>, Vec<String>) =
        diff.disassociate.iter().cloned().partition(was_kept);
    MembershipSplit {
        now: MembershipDiff {
            associate: now_assoc,
            disassociate: now_dis,
        },
        outside: MembershipDiff {
            associate: out_assoc,
            disassociate: out_dis,
        },
    }
}

/// The changes made outside the controller, one per agent (by username where known), sorted.
pub fn membership_changes(
    outside: &MembershipDiff,
    name_of: impl Fn(&str) -> String,
) -> Vec<DriftChange> {
    let mut out: Vec<DriftChange> = outside
        .associate
        .iter()
        .map(|id| DriftChange {
            field: format!("agent {}", name_of(id)),
            from: "member".into(),
            to: "not a member".into(),
        })
        .chain(outside.disassociate.iter().map(|id| DriftChange {
            field: format!("agent {}", name_of(id)),
            from: "not a member".into(),
            to: "member".into(),
        }))
        .collect();
    out.sort_by(|a, b| a.field.cmp(&b.field));
    out
}

#[cfg(test)]
#[path = "drift_tests.rs"]
mod tests;
