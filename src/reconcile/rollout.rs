//! A gated rollout's pass: loads the state machine from `status.rollout`, handles resume, asks
//! the gates (`reconcile::gates`) about the next step (`plan::gates::next_split`) and says what
//! to send (the step, or the starting split on abort) or how the pass ends.

use std::time::Duration;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use kube::ResourceExt;

use super::gates::{Proposal, evaluate};
use super::*;
use crate::api::{
    GateStatus, OnFailure, Rollout, RolloutStart, RolloutStatus, TrafficDistribution,
    TrafficDistributionStatus, annotations, reasons,
};
use crate::connect::{Distribution, DistributionUpdate};
use crate::plan::gates::{self, Action, GateResult, Machine, Phase};

/// What the gated pass decided.
pub enum Gated {
    /// Send this update; the pass then ends with `ending`. `commit` is the rollout state to
    /// record once Connect took the update (issue 25: the step and phase change only after the
    /// write succeeded); `None` leaves `status.rollout` as it is.
    Send {
        update: DistributionUpdate,
        ending: Ending,
        commit: Option<Box<RolloutStatus>>,
    },
    /// Nothing to send.
    End(Ending),
}

fn phase_of(s: Option<&str>) -> Phase {
    match s {
        Some("Paused") => Phase::Paused,
        Some("Aborted") => Phase::Aborted,
        Some("Complete") => Phase::Complete,
        _ => Phase::Progressing,
    }
}

fn machine(r: &RolloutStatus) -> Machine {
    let phase = phase_of(r.phase.as_deref());
    Machine {
        phase,
        step: r.step,
        failures: r.failures,
        next_check: r.next_step_time.as_ref().map(|t| t.0.as_second()),
        // A paused rollout without a next check time is held until resumed.
        held: phase == Phase::Aborted || (phase == Phase::Paused && r.next_step_time.is_none()),
    }
}

fn start_of(d: &Distribution) -> RolloutStart {
    RolloutStart {
        telephony: d.telephony.clone(),
        agents: d.agents.clone(),
        sign_in: d.sign_in.clone(),
    }
}

fn at(now: Timestamp, secs: i64) -> Option<Time> {
    now.checked_add(SignedDuration::from_secs(secs))
        .ok()
        .map(Time)
}

fn diff(
    observed: &Distribution,
    to: &Distribution,
    want: &crate::plan::distribution::DesiredDistribution,
) -> DistributionUpdate {
    DistributionUpdate {
        telephony: (want.telephony.is_some() || to.telephony != observed.telephony)
            .then(|| to.telephony.clone())
            .filter(|t| *t != observed.telephony && !t.is_empty()),
        agents: (want.agents.is_some() || to.agents != observed.agents)
            .then(|| to.agents.clone())
            .filter(|a| *a != observed.agents && !a.is_empty()),
        sign_in: Some(to.sign_in.clone()).filter(|s| *s != observed.sign_in && !s.is_empty()),
    }
}

/// While the group settles (not ACTIVE), an aborted rollout stays Stalled instead of flickering
/// to Reconciling.
pub fn while_busy(
    obj: &TrafficDistribution,
    status: &TrafficDistributionStatus,
    wait: Ending,
) -> Ending {
    match &status.rollout {
        Some(r)
            if r.phase.as_deref() == Some(Phase::Aborted.as_str())
                && r.generation == obj.metadata.generation =>
        {
            Ending::new(
                Verdict::stalled(
                    reasons::ROLLOUT_ABORTED,
                    format!(
                        "rollout aborted; the starting split is restored (annotate {} to start again)",
                        annotations::RESUME
                    ),
                ),
                wait.requeue,
            )
        }
        _ => wait,
    }
}

/// One pass of a gated rollout from `observed` toward `target` (the full declared split).
#[allow(clippy::too_many_arguments)]
pub async fn gated(
    engine: &Engine,
    obj: &TrafficDistribution,
    r: &Rollout,
    group: &GroupRef,
    regions: &[String; 2],
    observed: &Distribution,
    want: &crate::plan::distribution::DesiredDistribution,
    status: &mut TrafficDistributionStatus,
    notes: &mut Vec<Note>,
    resume: bool,
    now: Timestamp,
) -> Gated {
    let target = crate::plan::distribution::target(want, observed);
    let generation = obj.metadata.generation;
    // A rollout belongs to one generation of the spec; a new spec starts a new one from here.
    let current = status
        .rollout
        .clone()
        .filter(|s| s.phase.is_some() && s.generation == generation);
    let mut rs = current.unwrap_or_else(|| RolloutStatus {
        phase: Some(Phase::Progressing.as_str().into()),
        start: Some(start_of(observed)),
        generation,
        ..Default::default()
    });
    let mut m = machine(&rs);
    if resume && matches!(m.phase, Phase::Paused | Phase::Aborted) {
        let was = m.phase;
        m = gates::resume(&m);
        if was == Phase::Aborted {
            rs.start = Some(start_of(observed));
        }
        notes.push(Note::normal(
            reasons::ROLLOUT_RESUMED,
            format!(
                "{} rollout resumed on {}",
                was.as_str(),
                annotations::RESUME
            ),
        ));
    }
    let start = rs.start.clone().map_or_else(
        || observed.clone(),
        |s| Distribution {
            telephony: s.telephony,
            agents: s.agents,
            sign_in: s.sign_in,
        },
    );
    let now_s = now.as_second();
    if r.paused {
        status.rollout = Some(rs);
        return Gated::End(Ending::new(
            Verdict::progressing(
                reasons::ROLLOUT_PAUSED,
                "spec.rollout.paused is true: the rollout holds its current step",
            ),
            engine.resync,
        ));
    }
    rs.of = rs.step.max(m.step) + gates::steps_total(observed, &target, r.step_percent, regions);
    let save = |rs: &mut RolloutStatus, m: &Machine, status: &mut TrafficDistributionStatus| {
        rs.phase = Some(m.phase.as_str().into());
        rs.step = m.step;
        rs.failures = m.failures;
        rs.next_step_time = match m.next_check {
            Some(t) if !m.held => at(now, t - now_s),
            _ => None,
        };
        status.rollout = Some(rs.clone());
    };
    // An aborted rollout whose live split is not back at its start sends the restore again
    // until Connect has it (a failed or lost restore write is never taken as done).
    let restore = diff(observed, &start, want);
    if m.phase == Phase::Aborted && !restore.is_empty() {
        status.rollout = Some(rs.clone());
        return Gated::Send {
            update: restore,
            ending: Ending::new(
                Verdict::stalled(
                    reasons::ROLLOUT_ABORTED,
                    format!(
                        "rollout aborted; the starting split is being restored (annotate {} to start again)",
                        annotations::RESUME
                    ),
                ),
                engine.resync,
            ),
            commit: Some(Box::new(rs)),
        };
    }
    match gates::check_due(&m, now_s) {
        Some(i64::MAX) => {
            save(&mut rs, &m, status);
            let ending = if m.phase == Phase::Aborted {
                Ending::new(
                    Verdict::stalled(
                        reasons::ROLLOUT_ABORTED,
                        format!(
                            "rollout aborted after {} failed checks; the starting split is restored (annotate {} to start again)",
                            m.failures.max(r.failure_limit),
                            annotations::RESUME
                        ),
                    ),
                    engine.resync,
                )
            } else {
                Ending::new(
                    Verdict::progressing(
                        reasons::ROLLOUT_PAUSED,
                        format!(
                            "rollout paused at step {} after {} failed checks (annotate {} to go on)",
                            m.step,
                            m.failures,
                            annotations::RESUME
                        ),
                    ),
                    engine.resync,
                )
            };
            return Gated::End(ending);
        }
        Some(t) => {
            save(&mut rs, &m, status);
            return Gated::End(Ending::new(
                Verdict::progressing(
                    reasons::ROLLING_OUT,
                    format!(
                        "rollout step {} applied; next check after the pause",
                        m.step
                    ),
                ),
                Duration::from_secs((t - now_s).max(1) as u64),
            ));
        }
        None => {}
    }
    let mut proposed = gates::next_split(observed, &target, r.step_percent, regions);
    let last = proposed.telephony == target.telephony && proposed.agents == target.agents;
    proposed.sign_in = if last {
        target.sign_in.clone()
    } else {
        observed.sign_in.clone()
    };
    let region = gates::receiving_region(observed, &proposed, regions);
    if annotations::management_policy(obj.annotations(), engine.observe_only)
        == annotations::ManagementPolicy::Observe
    {
        // Observe mode: the plan shows the next step; no gate is asked (a webhook POST is not
        // a read) and the rollout's state is left as it is.
        return Gated::Send {
            update: diff(observed, &proposed, want),
            ending: Ending::new(
                Verdict::progressing(
                    reasons::ROLLING_OUT,
                    "observe mode: the next step is planned, its gates are not checked",
                ),
                engine.resync,
            ),
            commit: None,
        };
    }
    let approve = obj
        .annotations()
        .get(annotations::APPROVE)
        .map(String::as_str);
    let ns = obj.namespace().unwrap_or_default();
    let name = obj.name_any();
    let outcomes = evaluate(
        engine,
        &r.gates,
        &Proposal {
            name: &name,
            namespace: &ns,
            instance_id: &group.instance_id,
            region: &region,
            step: m.step + 1,
            of: rs.of,
            from: observed,
            to: &proposed,
            approve,
        },
    )
    .await;
    let on_failure = match r.on_failure {
        OnFailure::Abort => gates::OnFailure::Abort,
        OnFailure::Pause => gates::OnFailure::Pause,
    };
    let (m2, action, apply) = gates::decide(
        &m,
        &start,
        &proposed,
        &outcomes,
        (r.failure_limit, on_failure),
        r.pause_seconds,
        now_s,
    );
    rs.gates = outcomes
        .iter()
        .map(|o| GateStatus {
            name: o.name.clone(),
            result: o.result.as_str().into(),
            message: o.message.clone(),
            time: Some(Time(now)),
        })
        .collect();
    for o in outcomes
        .iter()
        .filter(|o| matches!(o.result, GateResult::Fail | GateResult::Inconclusive))
    {
        notes.push(Note::warning(
            reasons::GATE_FAILED,
            format!(
                "gate {} {} before step {}: {} (failure {} of {})",
                o.name,
                o.result.as_str(),
                m.step + 1,
                o.message,
                m2.failures,
                r.failure_limit
            ),
        ));
    }
    let mut m2 = m2;
    if action == Action::Step && last {
        m2.phase = Phase::Complete;
    }
    // A step or an abort is recorded once Connect took its write (`commit`); until then the
    // rollout stays where it was, with the gates' latest answers.
    let before = rs.clone();
    save(&mut rs, &m2, status);
    if apply.is_some() {
        status.rollout = Some(RolloutStatus {
            gates: rs.gates.clone(),
            ..before
        });
    }
    let pending = || {
        outcomes
            .iter()
            .filter(|o| o.result != GateResult::Pass)
            .map(|o| format!("{}: {}", o.name, o.message))
            .collect::<Vec<_>>()
            .join("; ")
    };
    match (action, apply) {
        (Action::Step, Some(to)) => {
            crate::metrics::rollout_step("step");
            let requeue = if last {
                Duration::from_secs(1)
            } else {
                Duration::from_secs(r.pause_seconds.max(1) as u64)
            };
            Gated::Send {
                update: diff(observed, &to, want),
                commit: Some(Box::new(rs.clone())),
                ending: Ending::new(
                    Verdict::progressing(
                        reasons::ROLLING_OUT,
                        format!(
                            "rollout step {} of {} applied (gates passed in {region})",
                            m2.step, rs.of
                        ),
                    ),
                    requeue,
                ),
            }
        }
        (Action::Abort, Some(to)) => {
            crate::metrics::rollout_step("abort");
            let message = format!(
                "rollout aborted after {} failed checks ({}); restoring the starting split (annotate {} to start again)",
                m2.failures,
                pending(),
                annotations::RESUME
            );
            notes.push(Note::warning(reasons::ROLLOUT_ABORTED, message.clone()));
            Gated::Send {
                update: diff(observed, &to, want),
                commit: Some(Box::new(rs)),
                ending: Ending::new(
                    Verdict::stalled(reasons::ROLLOUT_ABORTED, message),
                    engine.resync,
                ),
            }
        }
        (Action::Hold, _) => {
            crate::metrics::rollout_step("pause");
            Gated::End(Ending::new(
                Verdict::progressing(
                    reasons::ROLLOUT_PAUSED,
                    format!(
                        "rollout paused at step {} after {} failed checks ({}); annotate {} to go on",
                        m2.step,
                        m2.failures,
                        pending(),
                        annotations::RESUME
                    ),
                ),
                engine.resync,
            ))
        }
        (Action::Wait { until }, _) => Gated::End(Ending::new(
            Verdict::progressing(
                reasons::ROLLOUT_PAUSED,
                format!("rollout paused before step {}: {}", m2.step + 1, pending()),
            ),
            Duration::from_secs((until - now_s).max(1) as u64),
        )),
        (_, None) => Gated::End(Ending::wait(reasons::ROLLING_OUT, "nothing to send")),
    }
}
