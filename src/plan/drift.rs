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
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn t(s: i64) -> Timestamp {
        Timestamp::from_second(1_800_000_000 + s).unwrap()
    }

    fn change(to: &str) -> Vec<DriftChange> {
        vec![DriftChange {
            field: "telephony".into(),
            from: "us-west-2=60% us-east-1=40%".into(),
            to: to.into(),
        }]
    }

    fn facts<'a>(
        changes: Vec<DriftChange>,
        previous: Option<&'a DriftStatus>,
        policy: DriftPolicy,
        now: Timestamp,
    ) -> Facts<'a> {
        Facts {
            changes,
            generation_applied: true,
            spec_hash: "h1",
            previous,
            policy,
            pause_seconds: 8,
            now,
            resume: false,
        }
    }

    fn reported(d: Decision) -> (DriftStatus, bool) {
        match d {
            Decision::Report { drift, new } => (drift, new),
            other => panic!("expected Report, got {other:?}"),
        }
    }

    #[test]
    fn no_difference_is_in_sync() {
        let d = decide(facts(vec![], None, DriftPolicy::Correct, t(0)));
        assert_eq!(d, Decision::InSync);
    }

    #[test]
    fn a_change_is_reported_at_once_left_alone_for_the_pause_then_corrected() {
        let c = change("us-west-2=90% us-east-1=10%");
        let (first, new) = reported(decide(facts(c.clone(), None, DriftPolicy::Correct, t(0))));
        assert!(new, "first seen: an Event");
        assert_eq!(first.first_seen_time, Time(t(0)));
        assert_eq!(first.correction_time, Some(Time(t(8))));
        assert!(first.message.contains("60%") && first.message.contains("90%"));
        assert!(
            first.message.contains("left alone until"),
            "{}",
            first.message
        );
        // A later pass within the pause: same drift, no new Event, same times.
        let (again, new) = reported(decide(facts(
            c.clone(),
            Some(&first),
            DriftPolicy::Correct,
            t(7),
        )));
        assert!(!new);
        assert_eq!(again, first);
        // At the correction time.
        match decide(facts(c, Some(&first), DriftPolicy::Correct, t(8))) {
            Decision::Correct { why, new, .. } => {
                assert_eq!(why, Why::PauseOver);
                assert!(!new);
            }
            other => panic!("expected Correct, got {other:?}"),
        }
    }

    #[test]
    fn a_pause_of_zero_corrects_on_the_pass_that_sees_it() {
        let mut f = facts(change("x"), None, DriftPolicy::Correct, t(0));
        f.pause_seconds = 0;
        assert!(matches!(
            decide(f),
            Decision::Correct {
                why: Why::PauseOver,
                new: true,
                ..
            }
        ));
    }

    #[test]
    fn report_is_never_corrected() {
        let c = change("x");
        let (first, _) = reported(decide(facts(c.clone(), None, DriftPolicy::Report, t(0))));
        assert_eq!(first.correction_time, None);
        assert!(first.message.contains("not corrected"));
        for later in [1, 8, 3600, 86_400 * 365] {
            let (d, new) = reported(decide(facts(
                c.clone(),
                Some(&first),
                DriftPolicy::Report,
                t(later),
            )));
            assert!(!new);
            assert_eq!(d.first_seen_time, Time(t(0)));
        }
    }

    #[test]
    fn resume_corrects_at_once_under_either_policy() {
        for policy in [DriftPolicy::Correct, DriftPolicy::Report] {
            let c = change("x");
            let (first, _) = reported(decide(facts(c.clone(), None, policy, t(0))));
            let mut f = facts(c, Some(&first), policy, t(1));
            f.resume = true;
            assert!(
                matches!(
                    decide(f),
                    Decision::Correct {
                        why: Why::Resumed,
                        ..
                    }
                ),
                "{policy}"
            );
        }
    }

    #[test]
    fn a_spec_change_during_a_paused_correction_wins() {
        let c = change("x");
        let (first, _) = reported(decide(facts(c.clone(), None, DriftPolicy::Correct, t(0))));
        let mut f = facts(c, Some(&first), DriftPolicy::Correct, t(2));
        f.generation_applied = false;
        f.spec_hash = "h2";
        assert_eq!(
            decide(f),
            Decision::InSync,
            "the new spec is applied at once"
        );
    }

    #[test]
    fn changing_only_the_drift_settings_keeps_the_drift_and_its_start() {
        // A responder sets driftPolicy: Report during the pause: not a reason to undo their work.
        let c = change("x");
        let (first, _) = reported(decide(facts(c.clone(), None, DriftPolicy::Correct, t(0))));
        let mut f = facts(c, Some(&first), DriftPolicy::Report, t(5));
        f.generation_applied = false; // generation moved, the hash of the rest did not
        let (d, new) = reported(decide(f));
        assert!(!new);
        assert_eq!(d.first_seen_time, Time(t(0)));
        assert_eq!(d.correction_time, None);
        assert_eq!(d.policy, DriftPolicy::Report);
    }

    #[test]
    fn a_controller_restart_during_the_pause_continues_it() {
        // Process 1 sees the drift at t0 and writes status.drift; it dies. Process 2 starts at
        // t5 with nothing in memory but the object's status (here: a JSON round trip).
        let c = change("x");
        let (first, _) = reported(decide(facts(c.clone(), None, DriftPolicy::Correct, t(0))));
        let stored: DriftStatus =
            serde_json::from_value(serde_json::to_value(&first).unwrap()).unwrap();
        let (d, new) = reported(decide(facts(
            c.clone(),
            Some(&stored),
            DriftPolicy::Correct,
            t(5),
        )));
        assert!(!new, "no second DriftDetected after a restart");
        assert_eq!(d.correction_time, Some(Time(t(8))), "not restarted at t5");
        assert!(matches!(
            decide(facts(c, Some(&stored), DriftPolicy::Correct, t(8))),
            Decision::Correct { .. }
        ));
    }

    #[test]
    fn a_further_change_during_the_pause_is_a_new_drift_with_a_new_pause() {
        let (first, _) = reported(decide(facts(change("a"), None, DriftPolicy::Correct, t(0))));
        let (d, new) = reported(decide(facts(
            change("b"),
            Some(&first),
            DriftPolicy::Correct,
            t(6),
        )));
        assert!(new);
        assert_eq!(d.first_seen_time, Time(t(6)));
        assert_eq!(d.correction_time, Some(Time(t(14))));
    }

    #[test]
    fn the_recheck_is_at_the_correction_time_and_at_most_a_resync_away() {
        let (d, _) = reported(decide(facts(change("a"), None, DriftPolicy::Correct, t(0))));
        let resync = std::time::Duration::from_secs(300);
        assert_eq!(
            recheck_after(&d, t(3), resync),
            std::time::Duration::from_millis(5_200)
        );
        assert_eq!(
            recheck_after(&d, t(3), std::time::Duration::from_secs(2)),
            std::time::Duration::from_secs(2)
        );
        let (r, _) = reported(decide(facts(change("a"), None, DriftPolicy::Report, t(0))));
        assert_eq!(recheck_after(&r, t(3), resync), resync);
    }

    #[test]
    fn resume_acts_once_per_value() {
        let a: BTreeMap<String, String> = [(RESUME_ANNOTATION.to_string(), "1".to_string())].into();
        assert_eq!(resume_requested(Some(&a), None), Some("1"));
        assert_eq!(resume_requested(Some(&a), Some("1")), None);
        assert_eq!(resume_requested(Some(&a), Some("0")), Some("1"));
        assert_eq!(resume_requested(None, None), None);
    }

    #[test]
    fn split_changes_name_only_the_parts_the_controller_applied() {
        let regions = ["us-west-2".to_string(), "us-east-1".to_string()];
        let m = |w: i32| -> BTreeMap<String, i32> {
            [
                ("us-west-2".to_string(), w),
                ("us-east-1".to_string(), 100 - w),
            ]
            .into()
        };
        let observed = Distribution {
            telephony: m(90),
            agents: m(0),
            sign_in: Default::default(),
        };
        let last = LastAppliedSplit {
            telephony: Some(m(60)),
            agents: None, // not declared: its change is nobody's business
            sign_in: None,
        };
        let c = split_changes(Some(&last), &observed, &regions);
        assert_eq!(
            c,
            vec![DriftChange {
                field: "telephony".into(),
                from: "us-west-2=60% us-east-1=40%".into(),
                to: "us-west-2=90% us-east-1=10%".into(),
            }]
        );
        assert!(split_changes(None, &observed, &regions).is_empty());
        let same = declared_split(true, true, false, &observed);
        assert!(split_changes(Some(&same), &observed, &regions).is_empty());
    }

    fn ids(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn membership_changes_are_split_by_who_made_them() {
        let (_, kept) = encode_kept(&ids(&["alice", "bob", "carol"]));
        let kept = decode_kept(&kept);
        let diff = MembershipDiff {
            // bob was kept and is gone: taken out by hand. dave is a new selector match.
            associate: ids(&["bob", "dave"]),
            // carol was kept and nobody declares her now: ours to remove. mallory was put in.
            disassociate: ids(&["carol", "mallory"]),
        };
        let s = split_membership(&diff, Some(&kept));
        assert_eq!(s.now.associate, ids(&["dave"]));
        assert_eq!(s.now.disassociate, ids(&["carol"]));
        assert_eq!(s.outside.associate, ids(&["bob"]));
        assert_eq!(s.outside.disassociate, ids(&["mallory"]));
        let c = membership_changes(&s.outside, |id| id.to_string());
        assert_eq!(c[0].field, "agent bob");
        assert_eq!(
            (c[0].from.as_str(), c[0].to.as_str()),
            ("member", "not a member")
        );
        assert_eq!(
            (c[1].from.as_str(), c[1].to.as_str()),
            ("not a member", "member")
        );
        // Nothing recorded yet: all of it is the controller's own work.
        assert_eq!(split_membership(&diff, None).now, diff);
    }

    #[test]
    fn spec_hash_is_stable_and_tells_specs_apart() {
        let a = serde_json::json!({"telephony": {"us-west-2": 60}});
        let b = serde_json::json!({"telephony": {"us-west-2": 70}});
        assert_eq!(spec_hash(&a), spec_hash(&a.clone()));
        assert_ne!(spec_hash(&a), spec_hash(&b));
        assert_eq!(spec_hash(&a).len(), 16);
        // FNV-1a of "" is the offset basis: the function is the documented one.
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
    }

    proptest! {
        #[test]
        fn kept_fingerprints_round_trip(set in proptest::collection::btree_set("[a-z0-9-]{1,36}", 0..200)) {
            let v: Vec<String> = set.iter().cloned().collect();
            let (n, s) = encode_kept(&v);
            prop_assert_eq!(n as usize, decode_kept(&s).len());
            prop_assert_eq!(s.len(), n as usize * 12);
            let back = decode_kept(&s);
            for id in &v {
                prop_assert!(back.contains(&member_fingerprint(id)));
            }
        }

        /// Every change is reported at once; under Correct it is corrected exactly from
        /// first_seen + pause on (or on resume), under Report never (but on resume); a spec
        /// change always applies.
        #[test]
        fn the_decision_follows_the_policy_at_every_instant(
            pause in 0i64..100,
            seen_at in 0i64..50,
            now_off in 0i64..200,
            report in any::<bool>(),
            resume in any::<bool>(),
            spec_changed in any::<bool>(),
            drift_settings_only in any::<bool>(),
        ) {
            let policy = if report { DriftPolicy::Report } else { DriftPolicy::Correct };
            let c = change("x");
            let mut f0 = facts(c.clone(), None, policy, t(seen_at));
            f0.pause_seconds = pause;
            let first = match decide(f0) {
                Decision::Report { drift, .. } | Decision::Correct { drift, .. } => drift,
                Decision::InSync => unreachable!("a change is never InSync"),
            };
            let now = t(seen_at + now_off);
            let mut f = facts(c, Some(&first), policy, now);
            f.pause_seconds = pause;
            f.resume = resume;
            if spec_changed {
                f.generation_applied = false;
                if !drift_settings_only {
                    f.spec_hash = "other";
                }
            }
            let d = decide(f);
            if spec_changed && !drift_settings_only {
                prop_assert_eq!(d, Decision::InSync);
            } else if resume {
                let corrected = matches!(d, Decision::Correct { why: Why::Resumed, .. });
                prop_assert!(corrected);
            } else if !report && now_off >= pause {
                let corrected = matches!(d, Decision::Correct { why: Why::PauseOver, .. });
                prop_assert!(corrected);
            } else {
                let held = matches!(&d, Decision::Report { new: false, drift } if drift.first_seen_time == Time(t(seen_at)));
                prop_assert!(held, "{:?}", d);
            }
        }
    }
}
