//! Status conditions with kstatus semantics (`Ready`, `Reconciling`, `Stalled`).
//!
//! Pure helpers: the caller passes `now`; nothing here reads a clock. `lastTransitionTime` moves
//! only when a condition's status flips, so writing the same conditions twice is a no-op that a
//! compare-before-write status patch can detect.
//!
//! kstatus (read by `kubectl wait`, Argo CD and Flux):
//! - `Ready=True` and no `Reconciling`/`Stalled`: current.
//! - `Reconciling=True`: in progress (Ready is `False` with the same reason).
//! - `Stalled=True`: failed, needs a spec change (Ready is `False` with the same reason).

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use k8s_openapi::jiff::Timestamp;

pub const READY: &str = "Ready";
pub const RECONCILING: &str = "Reconciling";
pub const STALLED: &str = "Stalled";
/// True while `connectgr.io/paused` leaves the object alone; the message says until when.
pub const PAUSED: &str = "Paused";

pub const TRUE: &str = "True";
pub const FALSE: &str = "False";
pub const UNKNOWN: &str = "Unknown";

/// Build a condition.
pub fn new_condition(
    type_: &str,
    status: bool,
    reason: &str,
    message: &str,
    generation: Option<i64>,
    now: Timestamp,
) -> Condition {
    Condition {
        type_: type_.to_string(),
        status: if status { TRUE } else { FALSE }.to_string(),
        reason: sanitize_reason(reason),
        message: message.to_string(),
        observed_generation: generation,
        last_transition_time: Time(now),
    }
}

/// Reasons must match `^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$`; anything else is mapped to
/// CamelCase-ish text so the API server never rejects a status write because of a reason.
pub fn sanitize_reason(reason: &str) -> String {
    let mut out = String::with_capacity(reason.len());
    let mut upper = false;
    for c in reason.chars() {
        if c.is_ascii_alphanumeric() || c == '_' {
            if out.is_empty() && !c.is_ascii_alphabetic() {
                out.push('R');
            }
            out.push(if upper { c.to_ascii_uppercase() } else { c });
            upper = false;
        } else {
            upper = true;
        }
    }
    if out.is_empty() {
        out.push_str("Unknown");
    }
    out.truncate(1024);
    out
}

/// Find a condition by type.
pub fn get<'a>(conditions: &'a [Condition], type_: &str) -> Option<&'a Condition> {
    conditions.iter().find(|c| c.type_ == type_)
}

/// Is the condition present with status `True`?
pub fn is_true(conditions: &[Condition], type_: &str) -> bool {
    get(conditions, type_).is_some_and(|c| c.status == TRUE)
}

/// Insert or replace the condition of the same type. The previous `lastTransitionTime` is kept
/// when the status did not change. Returns true when anything changed.
pub fn set(conditions: &mut Vec<Condition>, mut new: Condition) -> bool {
    match conditions.iter_mut().find(|c| c.type_ == new.type_) {
        Some(old) => {
            if old.status == new.status {
                new.last_transition_time = old.last_transition_time.clone();
            }
            if *old == new {
                false
            } else {
                *old = new;
                true
            }
        }
        None => {
            conditions.push(new);
            true
        }
    }
}

/// Remove the condition of this type. Returns true when one was removed.
pub fn remove(conditions: &mut Vec<Condition>, type_: &str) -> bool {
    let before = conditions.len();
    conditions.retain(|c| c.type_ != type_);
    before != conditions.len()
}

/// Ready=False, Reconciling=False and Stalled=False, all with the same reason and message: the
/// object differs from its spec on purpose and nothing is in progress (a drift the controller is
/// leaving alone). kstatus reads this as Current, not InProgress or Failed.
pub fn mark_drifted(
    conditions: &mut Vec<Condition>,
    generation: Option<i64>,
    reason: &str,
    message: &str,
    now: Timestamp,
) -> bool {
    let mut changed = false;
    for t in [READY, RECONCILING, STALLED] {
        changed |= set(
            conditions,
            new_condition(t, false, reason, message, generation, now),
        );
    }
    changed
}

/// Ready=True; Reconciling and Stalled removed. Returns true when anything changed.
pub fn mark_ready(
    conditions: &mut Vec<Condition>,
    generation: Option<i64>,
    reason: &str,
    message: &str,
    now: Timestamp,
) -> bool {
    let a = set(
        conditions,
        new_condition(READY, true, reason, message, generation, now),
    );
    let b = remove(conditions, RECONCILING);
    let c = remove(conditions, STALLED);
    a | b | c
}

/// Reconciling=True and Ready=False (same reason and message); Stalled removed.
pub fn mark_reconciling(
    conditions: &mut Vec<Condition>,
    generation: Option<i64>,
    reason: &str,
    message: &str,
    now: Timestamp,
) -> bool {
    let a = set(
        conditions,
        new_condition(RECONCILING, true, reason, message, generation, now),
    );
    let b = set(
        conditions,
        new_condition(READY, false, reason, message, generation, now),
    );
    let c = remove(conditions, STALLED);
    a | b | c
}

/// Stalled=True and Ready=False (same reason and message); Reconciling removed.
pub fn mark_stalled(
    conditions: &mut Vec<Condition>,
    generation: Option<i64>,
    reason: &str,
    message: &str,
    now: Timestamp,
) -> bool {
    let a = set(
        conditions,
        new_condition(STALLED, true, reason, message, generation, now),
    );
    let b = set(
        conditions,
        new_condition(READY, false, reason, message, generation, now),
    );
    let c = remove(conditions, RECONCILING);
    a | b | c
}

/// Ready=False (reason and message) with neither Reconciling nor Stalled: a state the object
/// stays in on purpose (observe mode), not work in progress nor a failure.
pub fn mark_held(
    conditions: &mut Vec<Condition>,
    generation: Option<i64>,
    reason: &str,
    message: &str,
    now: Timestamp,
) -> bool {
    let a = set(
        conditions,
        new_condition(READY, false, reason, message, generation, now),
    );
    let b = remove(conditions, RECONCILING);
    let c = remove(conditions, STALLED);
    a | b | c
}

/// kstatus summary of a set of conditions for `generation`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KStatus {
    Current,
    InProgress,
    Failed,
}

/// Compute the kstatus of an object from its conditions and `observedGeneration`.
pub fn kstatus(
    conditions: &[Condition],
    generation: Option<i64>,
    observed: Option<i64>,
) -> KStatus {
    if generation.is_some() && generation != observed {
        return KStatus::InProgress;
    }
    let reconciling = get(conditions, RECONCILING).map(|c| c.status.as_str());
    if is_true(conditions, STALLED) {
        KStatus::Failed
    } else if reconciling == Some(TRUE) {
        KStatus::InProgress
    } else if is_true(conditions, READY) || reconciling == Some(FALSE) {
        // Reconciling=False says nothing is in progress (a drift left alone): kstatus, which
        // reads only Reconciling and Stalled on custom resources, calls that Current.
        KStatus::Current
    } else {
        KStatus::InProgress
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: i64) -> Timestamp {
        Timestamp::from_second(1_800_000_000 + s).unwrap()
    }

    #[test]
    fn transition_time_moves_only_when_status_flips() {
        let mut c = Vec::new();
        assert!(mark_reconciling(
            &mut c,
            Some(1),
            "Creating",
            "creating",
            t(0)
        ));
        assert_eq!(get(&c, READY).unwrap().last_transition_time, Time(t(0)));
        // same status, new message: changed, but transition time kept
        assert!(mark_reconciling(
            &mut c,
            Some(1),
            "Creating",
            "still creating",
            t(5)
        ));
        assert_eq!(get(&c, READY).unwrap().last_transition_time, Time(t(0)));
        assert_eq!(get(&c, READY).unwrap().message, "still creating");
        // identical: no change
        assert!(!mark_reconciling(
            &mut c,
            Some(1),
            "Creating",
            "still creating",
            t(9)
        ));
        // flip
        assert!(mark_ready(&mut c, Some(1), "Active", "ok", t(10)));
        assert_eq!(get(&c, READY).unwrap().last_transition_time, Time(t(10)));
        assert!(get(&c, RECONCILING).is_none());
        assert_eq!(kstatus(&c, Some(1), Some(1)), KStatus::Current);
        assert_eq!(kstatus(&c, Some(2), Some(1)), KStatus::InProgress);
    }

    #[test]
    fn stalled_replaces_reconciling() {
        let mut c = Vec::new();
        mark_reconciling(&mut c, Some(3), "Replicating", "x", t(0));
        mark_stalled(&mut c, Some(3), "InvalidSpec", "bad", t(1));
        assert!(is_true(&c, STALLED));
        assert!(!is_true(&c, READY));
        assert!(get(&c, RECONCILING).is_none());
        assert_eq!(kstatus(&c, Some(3), Some(3)), KStatus::Failed);
    }

    #[test]
    fn a_drift_left_alone_is_not_ready_but_neither_in_progress_nor_failed() {
        let mut c = Vec::new();
        mark_ready(&mut c, Some(2), "Reconciled", "ok", t(0));
        assert!(mark_drifted(
            &mut c,
            Some(2),
            "DriftDetected",
            "split changed",
            t(1)
        ));
        for ty in [READY, RECONCILING, STALLED] {
            let cond = get(&c, ty).unwrap();
            assert_eq!(cond.status, FALSE, "{ty}");
            assert_eq!(cond.reason, "DriftDetected");
        }
        assert_eq!(get(&c, READY).unwrap().last_transition_time, Time(t(1)));
        assert_eq!(kstatus(&c, Some(2), Some(2)), KStatus::Current);
        assert!(!mark_drifted(
            &mut c,
            Some(2),
            "DriftDetected",
            "split changed",
            t(5)
        ));
        // back to Ready: the False Reconciling/Stalled go away
        mark_ready(&mut c, Some(2), "Reconciled", "ok", t(9));
        assert!(get(&c, RECONCILING).is_none() && get(&c, STALLED).is_none());
        // work in progress is still InProgress
        mark_reconciling(&mut c, Some(3), "Applied", "x", t(10));
        assert_eq!(kstatus(&c, Some(3), Some(3)), KStatus::InProgress);
    }

    #[test]
    fn reasons_are_sanitized() {
        assert_eq!(sanitize_reason("Active"), "Active");
        assert_eq!(sanitize_reason("creation failed"), "creationFailed");
        assert_eq!(sanitize_reason("429 throttled"), "R429Throttled");
        assert_eq!(sanitize_reason("--"), "Unknown");
    }
}
