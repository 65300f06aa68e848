//! The lifecycle annotations' two modes of a pass, used by `driver::run_pass`: paused (nothing
//! read or written) and observe (everything read, writes listed in `status.plan`, none sent).

use std::sync::Arc;

use super::driver::{Context, Managed, Requeue, Settled};
use super::*;
use crate::api::annotations::{self, Pause};
use crate::api::reasons;

/// A paused object: nothing is read or written; the `Paused` condition says until when and the
/// other conditions stay as they were (a healthy object stays Ready through a change freeze).
pub fn paused<S: HasConditions + Clone + Default>(
    previous: Option<&S>,
    pause: &Pause,
    cx: Context,
) -> Settled<S> {
    let mut status = previous.cloned().unwrap_or_default();
    let (message, requeue) = match pause {
        Pause::Until(t) => (
            format!("paused until {t} (annotation {})", annotations::PAUSED),
            Duration::from_secs(
                (t.as_second() - cx.now.as_second()).clamp(1, (cx.resync.as_secs() as i64).max(1))
                    as u64,
            ),
        ),
        Pause::Invalid(v) => (
            format!(
                "annotation {} is {v:?}: neither \"true\" nor an RFC 3339 time; left alone until it is fixed",
                annotations::PAUSED
            ),
            cx.resync,
        ),
        _ => (
            format!("paused (annotation {}: \"true\")", annotations::PAUSED),
            cx.resync,
        ),
    };
    let was_paused = conditions::get(status.conditions(), conditions::PAUSED).cloned();
    let reason = if matches!(pause, Pause::Invalid(_)) {
        reasons::INVALID_ANNOTATION
    } else {
        reasons::PAUSED
    };
    conditions::set(
        status.conditions_mut(),
        conditions::new_condition(
            conditions::PAUSED,
            true,
            reason,
            &message,
            cx.generation,
            cx.now,
        ),
    );
    conditions::remove(status.conditions_mut(), conditions::RECONCILING);
    let events = match was_paused {
        Some(c) if c.status == conditions::TRUE && c.message == message => vec![],
        _ => vec![Note::normal(reason, message.clone())],
    };
    Settled {
        status,
        verdict: Verdict::progressing(reason, message),
        events,
        requeue: Requeue::After(requeue),
        failures: cx.failures,
        outcome: "paused",
    }
}

/// At most this many planned calls are listed in `status.plan` (the total is always given).
pub const PLAN_LIST_CAP: usize = 50;

/// One pass in observe mode: the same steps against a Connect that records writes instead of
/// sending them. When it would write, the pass's status is not kept (it would describe writes
/// that were not made); the plan is.
pub(super) async fn observe_pass<K: Managed>(
    engine: &Engine,
    objects: &dyn Objects,
    obj: &K,
    now: Timestamp,
) -> Pass<K::Status> {
    let previous = obj.status().cloned().unwrap_or_default();
    let dry = Arc::new(crate::connect::DryRun::new(engine.connect.clone()));
    let observer = engine.observer(dry.clone());
    // The pass starts without the previous pass's plan: what it lists is this pass's alone.
    let mut unplanned = obj.clone();
    if let Some(mut st) = obj.status().cloned() {
        st.set_plan(None);
        unplanned.set_status(st);
    }
    let pass = unplanned.apply(&observer, objects, now).await;
    // Kinds run through `steps::run` list their planned writes themselves (nothing reaches
    // Connect); the others' writes are caught by the dry-run Connect.
    let mut writes = dry.writes();
    writes.extend(
        pass.status
            .plan()
            .map(|p| p.calls.clone())
            .unwrap_or_default(),
    );
    let mut status = if writes.is_empty() {
        pass.status
    } else {
        previous
    };
    status.set_plan(Some(api::common::PlannedCalls {
        calls: writes.iter().take(PLAN_LIST_CAP).cloned().collect(),
        total: writes.len() as i32,
    }));
    let result = match pass.result {
        Ok(end) if writes.is_empty() => Ok(end),
        Ok(_) => Ok(Ending::new(
            Verdict::progressing(
                reasons::OBSERVE_ONLY,
                format!(
                    "observe mode: Connect differs from the spec; {} call(s) would be made (status.plan)",
                    writes.len()
                ),
            ),
            engine.resync,
        )),
        Err(e) => Err(e),
    };
    Pass {
        status,
        notes: vec![],
        result,
    }
}

/// Observe mode never says Reconciling (nothing is in progress): an object whose pass did not end
/// Ready or Stalled is held at Ready=False, reason ObserveOnly.
pub(super) fn hold_for_observe<S: HasConditions + Clone>(
    previous: Option<&S>,
    out: &mut Settled<S>,
    cx: Context,
) {
    if let Verdict::Progressing { reason, message } = &out.verdict {
        let message = if reason == reasons::OBSERVE_ONLY {
            message.clone()
        } else {
            format!("observe mode: {message}")
        };
        conditions::mark_held(
            out.status.conditions_mut(),
            cx.generation,
            reasons::OBSERVE_ONLY,
            &message,
            cx.now,
        );
        out.verdict = Verdict::progressing(reasons::OBSERVE_ONLY, message);
        out.events
            .retain(|e| e.reason != reasons::RETRYING_AFTER_ERROR);
        let was = previous
            .and_then(|p| conditions::get(p.conditions(), conditions::READY))
            .map(|c| (c.status.clone(), c.reason.clone()));
        if was != Some((conditions::FALSE.into(), reasons::OBSERVE_ONLY.into())) {
            out.events.push(Note::normal(
                reasons::OBSERVE_ONLY,
                out.verdict_message().to_string(),
            ));
        }
    }
}
