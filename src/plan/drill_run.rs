//! A FailoverDrill run in progress, one phase at a time (Shifting -> Holding -> Reverting ->
//! ended): the half of `plan::drill` that moves a started run along. Pure, time is an argument.

use std::time::Duration;

use super::drill::{
    CHECK_EVERY, Decided, Facts, MAX_STEPS, Plan, REVERT_BUDGET, Read, SHIFT_BUDGET, at,
    at_declared, at_target, idle, plus, push_history, secs, short, skipped_run, target_split,
};
use super::gates::{GateOutcome, GateResult};
use super::{Ending, Note, Verdict};
use crate::api::failover_drill::{
    DrillPhase, DrillResult, DrillRun, DrillStep, FailoverDrill, FailoverDrillStatus,
};
use crate::api::rollout::GateStatus;
use crate::api::{conditions, reasons};

/// A step of the run as seen now.
fn step(f: &Facts<'_>, phase: &str) -> DrillStep {
    DrillStep {
        phase: phase.into(),
        time: at(f.now),
        split: f.live.map(|l| short(l, f.regions)),
        gates: f
            .gates
            .unwrap_or_default()
            .iter()
            .map(|g| GateStatus {
                name: g.name.clone(),
                result: g.result.as_str().into(),
                message: g.message.clone(),
                time: Some(at(f.now)),
            })
            .collect(),
        agents_available: f.figures.and_then(|x| x.agents_available),
        oldest_contact_age_seconds: f.figures.and_then(|x| x.oldest_contact_age_seconds),
    }
}

fn record_step(run: &mut DrillRun, s: DrillStep) {
    if run.steps.len() >= MAX_STEPS {
        // Keep the first (the start) and the newest.
        run.steps.remove(1);
    }
    run.steps.push(s);
}

/// The gate that says abort, if one does (an inconclusive answer is not a pass: fail closed).
fn abort_reason(gates: &[GateOutcome]) -> Option<String> {
    gates
        .iter()
        .find(|g| matches!(g.result, GateResult::Fail | GateResult::Inconclusive))
        .map(|g| {
            format!(
                "gate {} {}: {}",
                g.name,
                g.result.as_str().to_lowercase(),
                g.message
            )
        })
}

fn has_gates(drill: &FailoverDrill) -> bool {
    !drill.spec.abort_if.is_empty()
        || drill
            .spec
            .rollout
            .as_ref()
            .is_some_and(|r| !r.gates.is_empty())
}

/// The time allowed to reach the target: the budget plus a pause per rollout step.
fn shift_budget(drill: &FailoverDrill) -> Duration {
    let pauses = drill.spec.rollout.as_ref().map_or(0, |r| {
        let steps = (100 / r.step_percent.clamp(1, 100)) as u64 + 1;
        steps * r.pause_seconds.max(0) as u64
    });
    SHIFT_BUDGET + Duration::from_secs(pauses)
}

/// The run goes to Reverting now: the distribution takes the declared split back at once.
fn reverting(
    mut status: FailoverDrillStatus,
    notes: Vec<Note>,
    run: DrillRun,
    message: String,
) -> Decided {
    status.phase = DrillPhase::Reverting;
    status.current = Some(run);
    Decided::Plan(Box::new(Plan {
        status,
        notes,
        ending: Ending::new(
            Verdict::progressing(reasons::DRILL_RUNNING, message),
            Duration::from_secs(1),
        ),
        start: None,
        ended: vec![],
    }))
}

/// A run in progress, one phase at a time.
pub(super) fn advance(
    f: &Facts<'_>,
    mut status: FailoverDrillStatus,
    mut notes: Vec<Note>,
) -> Decided {
    let Some(live) = f.live else {
        return Decided::Read(Read::Split);
    };
    let mut run = status
        .current
        .take()
        .unwrap_or_else(|| skipped_run(f, "", ""));
    let dist = f.drill.spec.distribution_ref.name.clone();
    let running = |status: FailoverDrillStatus, notes, message: String, again| Plan {
        status,
        notes,
        ending: Ending::new(Verdict::progressing(reasons::DRILL_RUNNING, message), again),
        start: None,
        ended: vec![],
    };
    match status.phase {
        DrillPhase::Shifting | DrillPhase::Holding => {
            let td_stalled = f.distribution.and_then(|td| {
                let s = td.status.as_ref()?;
                let c = conditions::get(&s.conditions, conditions::STALLED)?;
                (c.status == "True").then(|| format!("{}: {}", c.reason, c.message))
            });
            let holding = status.phase == DrillPhase::Holding;
            let hold_over = run.hold_end.as_ref().is_some_and(|e| e.0 <= f.now);
            // Shifting and at the target: the hold starts now (its end is recorded).
            if !holding && at_target(f.drill, live) {
                let end = plus(
                    f.now,
                    Duration::from_secs(f.drill.spec.hold_seconds.max(1) as u64),
                );
                run.hold_start = Some(at(f.now));
                run.hold_end = Some(at(end));
                run.shift_seconds = Some(secs(&run.start, f.now));
                record_step(&mut run, step(f, "Holding"));
                status.phase = DrillPhase::Holding;
                let message = format!(
                    "run {}: holding {} until {end}",
                    run.id,
                    short(live, f.regions)
                );
                status.current = Some(run);
                let again =
                    CHECK_EVERY.min(Duration::from_secs(f.drill.spec.hold_seconds.max(1) as u64));
                return Decided::Plan(Box::new(running(status, notes, message, again)));
            }
            let abort = if f.distribution.is_none() {
                Some(format!("TrafficDistribution {dist} was deleted"))
            } else if let Some(why) = td_stalled.filter(|_| !holding) {
                Some(format!("TrafficDistribution {dist} is Stalled ({why})"))
            } else if !holding && f.now >= plus(run.start.0, shift_budget(f.drill)) {
                Some(format!(
                    "the target was not reached within {}s",
                    shift_budget(f.drill).as_secs()
                ))
            } else if hold_over {
                None
            } else if has_gates(f.drill) {
                let Some(gates) = f.gates else {
                    return Decided::Read(Read::Gates);
                };
                abort_reason(gates)
            } else {
                None
            };
            if let Some(reason) = abort {
                record_step(
                    &mut run,
                    step(f, if holding { "Holding" } else { "Shifting" }),
                );
                if holding {
                    run.hold_seconds = run.hold_start.as_ref().map(|h| secs(h, f.now));
                } else {
                    run.shift_seconds = Some(secs(&run.start, f.now));
                }
                run.result = Some(DrillResult::Aborted);
                run.reason = reason.clone();
                run.revert_start = Some(at(f.now));
                notes.push(Note::warning(
                    reasons::DRILL_ABORTED,
                    format!("run {}: {reason}; reverting now", run.id),
                ));
                let message = format!("run {}: reverting (aborted: {reason})", run.id);
                return reverting(status, notes, run, message);
            }
            if hold_over {
                run.hold_seconds = run.hold_start.as_ref().map(|h| secs(h, f.now));
                run.revert_start = Some(at(f.now));
                record_step(&mut run, step(f, "Reverting"));
                let message = format!("run {}: hold over; reverting", run.id);
                return reverting(status, notes, run, message);
            }
            let (message, again) = if holding {
                let end = run.hold_end.as_ref().map(|e| e.0).unwrap_or(f.now);
                let left = (end.as_second() - f.now.as_second()).max(1) as u64;
                (
                    format!(
                        "run {}: holding {} until {end}",
                        run.id,
                        short(live, f.regions)
                    ),
                    CHECK_EVERY.min(Duration::from_secs(left)),
                )
            } else {
                (
                    format!(
                        "run {}: shifting to {} (Connect has {})",
                        run.id,
                        short(&target_split(f.drill, live), f.regions),
                        short(live, f.regions)
                    ),
                    Duration::from_secs(2),
                )
            };
            status.current = Some(run);
            Decided::Plan(Box::new(running(status, notes, message, again)))
        }
        DrillPhase::Reverting | DrillPhase::Idle => {
            let declared = f.distribution.filter(|td| at_declared(td, live));
            if declared.is_some() {
                let failed = run.result == Some(DrillResult::Failed);
                let result = run.result.unwrap_or(DrillResult::Succeeded);
                run.result = Some(result);
                run.end = Some(at(f.now));
                run.revert_seconds = run.revert_start.as_ref().map(|r| secs(r, f.now));
                run.reverted_to = Some(short(live, f.regions));
                record_step(&mut run, step(f, "Reverted"));
                let took = secs(&run.start, f.now) as f64;
                let (reason, message) = match result {
                    DrillResult::Succeeded => {
                        run.reason = format!(
                            "held {} for {}s and reverted to {}",
                            run.steps
                                .iter()
                                .find(|s| s.phase == "Holding")
                                .and_then(|s| s.split.clone())
                                .unwrap_or_default(),
                            run.hold_seconds.unwrap_or(0),
                            short(live, f.regions)
                        );
                        (
                            reasons::DRILL_SUCCEEDED,
                            format!("run {} succeeded: {}", run.id, run.reason),
                        )
                    }
                    DrillResult::Failed => (
                        reasons::DRILL_REVERTED,
                        format!(
                            "run {} (failed) reached the declared split {} at last",
                            run.id,
                            short(live, f.regions)
                        ),
                    ),
                    _ => (
                        reasons::DRILL_ABORTED,
                        format!(
                            "run {} aborted and reverted to {}: {}",
                            run.id,
                            short(live, f.regions),
                            run.reason
                        ),
                    ),
                };
                if result == DrillResult::Succeeded || failed {
                    notes.push(Note::normal(reason, message));
                } else {
                    notes.push(Note::warning(reason, message));
                }
                status.phase = DrillPhase::Idle;
                let mut ended = vec![];
                if !failed {
                    ended.push((result, took));
                }
                push_history(&mut status, f.drill, run);
                let mut plan = idle(f, status, notes);
                plan.ended = ended;
                return Decided::Plan(Box::new(plan));
            }
            let start = run.revert_start.clone().unwrap_or_else(|| at(f.now));
            let overdue = f.now >= plus(start.0, REVERT_BUDGET);
            if overdue && run.result != Some(DrillResult::Failed) {
                let why = match f.distribution {
                    None => format!("TrafficDistribution {dist} was deleted"),
                    Some(_) => format!(
                        "Connect still has {} {}s after the revert began",
                        short(live, f.regions),
                        REVERT_BUDGET.as_secs()
                    ),
                };
                run.result = Some(DrillResult::Failed);
                run.reason = format!("the revert did not complete: {why}");
                let mut last = run.clone();
                last.end = Some(at(f.now));
                status.last_run = Some(last.clone());
                status.runs.retain(|r| r.id != last.id);
                status.runs.insert(0, last);
                notes.push(Note::warning(
                    reasons::DRILL_FAILED,
                    format!("run {}: {}; still reverting", run.id, run.reason),
                ));
                let took = secs(&run.start, f.now) as f64;
                let message = format!("run {}: {}; still reverting", run.id, run.reason);
                status.current = Some(run);
                return Decided::Plan(Box::new(Plan {
                    status,
                    notes,
                    ending: Ending::new(
                        Verdict::stalled(reasons::DRILL_FAILED, message),
                        Duration::from_secs(5),
                    ),
                    start: None,
                    ended: vec![(DrillResult::Failed, took)],
                }));
            }
            let message = format!(
                "run {}: reverting to the declared split (Connect has {})",
                run.id,
                short(live, f.regions)
            );
            let failed = run.result == Some(DrillResult::Failed);
            status.phase = DrillPhase::Reverting;
            status.current = Some(run);
            let verdict = if failed {
                Verdict::stalled(reasons::DRILL_FAILED, message)
            } else {
                Verdict::progressing(reasons::DRILL_RUNNING, message)
            };
            Decided::Plan(Box::new(Plan {
                status,
                notes,
                ending: Ending::new(verdict, Duration::from_secs(2)),
                start: None,
                ended: vec![],
            }))
        }
    }
}
