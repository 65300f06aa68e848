//! Health-gated rollouts: the step ordering (agents a step ahead of telephony, D4 at every
//! step) and the gate state machine (pause on a failed or inconclusive gate, `onFailure` after
//! `failureLimit` consecutive failures, approval and resume). Pure: time is an argument
//! (epoch seconds), gate results come in as data from `reconcile::gates`.

use std::collections::BTreeMap;

use crate::connect::Distribution;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GateResult {
    Pass,
    Fail,
    Inconclusive,
    Pending,
}

impl GateResult {
    pub fn as_str(self) -> &'static str {
        match self {
            GateResult::Pass => "Pass",
            GateResult::Fail => "Fail",
            GateResult::Inconclusive => "Inconclusive",
            GateResult::Pending => "Pending",
        }
    }
}

/// What one gate said about the proposed step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GateOutcome {
    pub name: String,
    pub result: GateResult,
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Phase {
    #[default]
    Progressing,
    Paused,
    Aborted,
    Complete,
}

impl Phase {
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Progressing => "Progressing",
            Phase::Paused => "Paused",
            Phase::Aborted => "Aborted",
            Phase::Complete => "Complete",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OnFailure {
    #[default]
    Abort,
    Pause,
}

/// The rollout's memory between passes (kept in `status.rollout`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Machine {
    pub phase: Phase,
    /// Steps applied so far.
    pub step: i32,
    /// Consecutive failed or inconclusive checks.
    pub failures: i32,
    /// Earliest time (epoch seconds) of the next check.
    pub next_check: Option<i64>,
    /// Held by `onFailure: Pause` (or aborted): no check until resumed.
    pub held: bool,
}

/// What the gates' verdict means for this pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Every gate passed: take the proposed step.
    Step,
    /// Not yet (pause between steps, a failed check below the limit, an approval pending):
    /// check again at `until`.
    Wait { until: i64 },
    /// Failure limit reached with `onFailure: Pause`: hold until resumed.
    Hold,
    /// Failure limit reached with `onFailure: Abort`: restore the starting split.
    Abort,
}

/// Whether the gates must be checked now (`None`: yes), or when (`Some(t)`), or never until
/// resumed (`Some(i64::MAX)`).
pub fn check_due(m: &Machine, now: i64) -> Option<i64> {
    if m.held || m.phase == Phase::Aborted {
        return Some(i64::MAX);
    }
    match m.next_check {
        Some(t) if t > now => Some(t),
        _ => None,
    }
}

/// The next state and action from the gates' outcomes for the proposed step. `pause` is the
/// wait after a step and between two checks; `limit` is failureLimit (at least 1).
pub fn judge(
    m: &Machine,
    outcomes: &[GateOutcome],
    limit: i32,
    on_failure: OnFailure,
    pause: i64,
    now: i64,
) -> (Machine, Action) {
    let failed = outcomes
        .iter()
        .any(|o| matches!(o.result, GateResult::Fail | GateResult::Inconclusive));
    let pending = outcomes.iter().any(|o| o.result == GateResult::Pending);
    let mut next = m.clone();
    if failed {
        next.failures += 1;
        if next.failures >= limit.max(1) {
            return match on_failure {
                OnFailure::Abort => {
                    next.phase = Phase::Aborted;
                    next.held = true;
                    next.next_check = None;
                    (next, Action::Abort)
                }
                OnFailure::Pause => {
                    next.phase = Phase::Paused;
                    next.held = true;
                    next.next_check = None;
                    (next, Action::Hold)
                }
            };
        }
        next.phase = Phase::Paused;
        next.next_check = Some(now + pause.max(1));
        return (
            next,
            Action::Wait {
                until: now + pause.max(1),
            },
        );
    }
    if pending {
        // An approval that has not come yet is no failure; look again soon (the annotation
        // change also wakes the controller).
        next.phase = Phase::Paused;
        next.next_check = Some(now + 5);
        return (next, Action::Wait { until: now + 5 });
    }
    next.phase = Phase::Progressing;
    next.step += 1;
    next.failures = 0;
    next.next_check = Some(now + pause.max(0));
    (next, Action::Step)
}

/// `connectgr.io/resume`: a paused or aborted rollout goes on (from where Connect is now),
/// with its failure count cleared.
pub fn resume(m: &Machine) -> Machine {
    Machine {
        phase: Phase::Progressing,
        step: if m.phase == Phase::Aborted { 0 } else { m.step },
        failures: 0,
        next_check: None,
        held: false,
    }
}

/// The approval gate: `connectgr.io/approve` is the number of the step about to be taken, or
/// `all`.
pub fn approval(annotation: Option<&str>, step: i32) -> (GateResult, String) {
    match annotation.map(str::trim) {
        Some("all") => (GateResult::Pass, "approved for all steps".into()),
        Some(s) if s.parse::<i32>().ok() == Some(step) => {
            (GateResult::Pass, format!("step {step} approved"))
        }
        Some(s) => (
            GateResult::Pending,
            format!("waiting for connectgr.io/approve: \"{step}\" (is {s:?})"),
        ),
        None => (
            GateResult::Pending,
            format!("waiting for connectgr.io/approve: \"{step}\" or \"all\""),
        ),
    }
}

/// A metric gate's verdict: `None` (no data, or the read failed) is inconclusive, never a pass.
pub fn threshold(
    what: &str,
    value: Option<f64>,
    ok: impl Fn(f64) -> bool,
    bound: &str,
    region: &str,
) -> (GateResult, String) {
    match value {
        None => (
            GateResult::Inconclusive,
            format!("{what} in {region}: no data"),
        ),
        Some(v) if ok(v) => (
            GateResult::Pass,
            format!("{what} in {region} is {v} ({bound})"),
        ),
        Some(v) => (
            GateResult::Fail,
            format!("{what} in {region} is {v}, wanted {bound}"),
        ),
    }
}

/// The region a step sends more telephony to (else more agents; else the one with most
/// telephony after the step): the region whose health the gates read.
pub fn receiving_region(from: &Distribution, to: &Distribution, regions: &[String; 2]) -> String {
    let gain = |m: &BTreeMap<String, i32>, n: &BTreeMap<String, i32>, r: &str| {
        n.get(r).copied().unwrap_or(0) - m.get(r).copied().unwrap_or(0)
    };
    for part in [(&from.telephony, &to.telephony), (&from.agents, &to.agents)] {
        if let Some(r) = regions.iter().find(|r| gain(part.0, part.1, r) > 0) {
            return r.clone();
        }
    }
    let t = |r: &String| to.telephony.get(r).copied().unwrap_or(0);
    if t(&regions[1]) > t(&regions[0]) {
        regions[1].clone()
    } else {
        regions[0].clone()
    }
}

fn toward(from: i32, to: i32, step: i32) -> i32 {
    from + (to - from).clamp(-step, step)
}

/// The next split of a gated rollout from `now` toward `target`, in steps of `step` percent:
/// agents move first, telephony into a region follows the agents already there (one step
/// behind, never ahead), and a region keeps agents while it still gets calls (D4). Sign-in is
/// left to the caller. Two regions; `regions[0]` first.
pub fn next_split(
    now: &Distribution,
    target: &Distribution,
    step: i32,
    regions: &[String; 2],
) -> Distribution {
    let step = step.max(10);
    let [a_reg, b_reg] = regions;
    let get = |m: &BTreeMap<String, i32>, r: &str| m.get(r).copied().unwrap_or(0);
    // Work on region B's shares (A has the rest).
    let (t, a) = (get(&now.telephony, b_reg), get(&now.agents, b_reg));
    let (tt, ta) = (get(&target.telephony, b_reg), get(&target.agents, b_reg));
    let d4 = |t: i32, a: i32| !(t > 0 && a == 0 || t < 100 && a == 100);
    let lead = |t1: i32, a1: i32| -> (i32, i32) {
        let mut t1 = t1;
        // Telephony into B trails the agents already in B while they still move that way ...
        if tt > t && ta > a {
            t1 = t1.min(a.max(t));
        }
        // ... into A likewise.
        if tt < t && ta < a {
            t1 = t1.max(a.min(t));
        }
        // Never ahead of the agents entering a region while the agents still move.
        if a1 != ta {
            if t1 > t && t1 > a1 {
                t1 = a1.max(t);
            }
            if t1 < t && t1 < a1 {
                t1 = a1.min(t);
            }
        }
        (t1, a1)
    };
    let mut a1 = toward(a, ta, step);
    let (mut t1, _) = lead(toward(t, tt, step), a1);
    // D4: agents may not leave a region that still gets calls.
    if !d4(t1, a1) {
        // The nearest legal share: one 10 % step of agents stays behind.
        a1 = if t1 > 0 && a1 == 0 { 10 } else { 90 };
    }
    if (t1, a1) == (t, a) {
        // The lead rule blocked all progress: move telephony and agents together.
        t1 = toward(t, tt, step);
        a1 = toward(a, ta, step);
    }
    let pct =
        |b: i32| -> BTreeMap<String, i32> { [(a_reg.clone(), 100 - b), (b_reg.clone(), b)].into() };
    Distribution {
        telephony: if now.telephony.is_empty() {
            now.telephony.clone()
        } else {
            pct(t1)
        },
        agents: if now.agents.is_empty() {
            now.agents.clone()
        } else {
            pct(a1)
        },
        sign_in: now.sign_in.clone(),
    }
}

/// One gated pass: the next machine state and the split to send (the proposed step when every
/// gate passed, the split the rollout started from on abort, nothing otherwise).
pub fn decide(
    m: &Machine,
    start: &Distribution,
    proposed: &Distribution,
    outcomes: &[GateOutcome],
    policy: (i32, OnFailure),
    pause: i64,
    now: i64,
) -> (Machine, Action, Option<Distribution>) {
    let (next, action) = judge(m, outcomes, policy.0, policy.1, pause, now);
    let apply = match action {
        Action::Step => Some(proposed.clone()),
        Action::Abort => Some(start.clone()),
        Action::Wait { .. } | Action::Hold => None,
    };
    (next, action, apply)
}

/// Steps a gated rollout takes from `start` to `target` (at least 1 while they differ).
pub fn steps_total(
    start: &Distribution,
    target: &Distribution,
    step: i32,
    regions: &[String; 2],
) -> i32 {
    let strip = |d: &Distribution| (d.telephony.clone(), d.agents.clone());
    let mut now = start.clone();
    let mut n = 0;
    while strip(&now) != strip(target) && n < 100 {
        now = next_split(&now, target, step, regions);
        n += 1;
    }
    n
}

#[cfg(test)]
#[path = "gates_tests.rs"]
mod tests;
