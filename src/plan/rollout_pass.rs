//! A gated rollout's pass, pure: loads the state machine from `status.rollout`, handles resume,
//! proposes the next step (`plan::gates::next_split`) for the gates to be asked about, and from
//! their answers says what to send (the step, or the starting split on abort) or how the pass
//! ends. The gates are asked by the reconciler's observe step (`reconcile::gates`), between
//! [`prepare`] and [`conclude`].

use std::time::Duration;

use super::{Ending, Note, Verdict};
use crate::api::{
    GateStatus, OnFailure, Rollout, RolloutStart, RolloutStatus, TrafficDistribution,
    TrafficDistributionStatus, annotations, reasons,
};
use crate::connect::{Distribution, DistributionUpdate};
use crate::plan::gates::{self, Action, GateOutcome, GateResult, Machine, Phase};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::{SignedDuration, Timestamp};

/// What the gated pass decided.
pub enum Gated {
    /// The gates must answer about this step first.
    Ask(Box<Ask>),
    /// Send this update; the pass then ends with `ending`. `commit` is the rollout state to
    /// record once Connect took the update (issue 25: the step and phase change only after the
    /// write succeeded); `None` leaves `status.rollout` as it is.
    Send {
        update: DistributionUpdate,
        ending: Ending,
        commit: Option<Box<RolloutStatus>>,
        /// `connectgr_rollout_steps_total` label, once the write is sent.
        metric: Option<&'static str>,
    },
    /// Nothing to send.
    End(Ending),
    /// Held after failed gates (onFailure: Pause): nothing to send.
    Held(Ending),
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
    want: &super::distribution::DesiredDistribution,
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

/// A proposed step the gates must answer about, and what [`conclude`] needs to go on.
#[derive(Debug, Clone, PartialEq)]
pub struct Ask {
    rs: RolloutStatus,
    m: Machine,
    start: Distribution,
    pub proposed: Distribution,
    last: bool,
    /// Where the gates read: the region that gets more telephony in this step.
    pub region: String,
    /// The number of the step about to be taken (1-based) and the total.
    pub step: i32,
    pub of: i32,
}

/// What a gated pass starts from.
pub struct Inputs<'a> {
    pub obj: &'a TrafficDistribution,
    pub rollout: &'a Rollout,
    pub regions: &'a [String; 2],
    pub observed: &'a Distribution,
    pub want: &'a super::distribution::DesiredDistribution,
    /// `connectgr.io/resume` has a new value.
    pub resume: bool,
    /// Writes are withheld (observe mode): the gates are not asked (a webhook POST is not a
    /// read) and the rollout's state is left as it is.
    pub observe: bool,
    pub resync: Duration,
    pub now: Timestamp,
}

/// The first half of a gated pass, up to the question for the gates: [`Gated::Ask`] when the
/// next step is due, otherwise what to send or how the pass ends.
pub fn prepare(
    i: &Inputs<'_>,
    status: &mut TrafficDistributionStatus,
    notes: &mut Vec<Note>,
) -> Gated {
    let Inputs {
        obj,
        rollout: r,
        regions,
        observed,
        want,
        resume,
        observe,
        resync,
        now,
    } = *i;
    let target = super::distribution::target(want, observed);
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
            resync,
        ));
    }
    rs.of = rs.step.max(m.step) + gates::steps_total(observed, &target, r.step_percent, regions);
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
                resync,
            ),
            commit: Some(Box::new(rs)),
            metric: None,
        };
    }
    match gates::check_due(&m, now_s) {
        Some(i64::MAX) => {
            save(&mut rs, &m, status, now);
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
                    resync,
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
                    resync,
                )
            };
            return Gated::End(ending);
        }
        Some(t) => {
            save(&mut rs, &m, status, now);
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
    if observe {
        return Gated::Send {
            update: diff(observed, &proposed, want),
            ending: Ending::new(
                Verdict::progressing(
                    reasons::ROLLING_OUT,
                    "observe mode: the next step is planned, its gates are not checked",
                ),
                resync,
            ),
            commit: None,
            metric: None,
        };
    }
    Gated::Ask(Box::new(Ask {
        step: m.step + 1,
        of: rs.of,
        rs,
        m,
        start,
        proposed,
        last,
        region,
    }))
}

fn save(
    rs: &mut RolloutStatus,
    m: &Machine,
    status: &mut TrafficDistributionStatus,
    now: Timestamp,
) {
    let now_s = now.as_second();
    rs.phase = Some(m.phase.as_str().into());
    rs.step = m.step;
    rs.failures = m.failures;
    rs.next_step_time = match m.next_check {
        Some(t) if !m.held => at(now, t - now_s),
        _ => None,
    };
    status.rollout = Some(rs.clone());
}

/// The second half of a gated pass: the gates' answers about `ask` decide the step, a pause or
/// the abort.
pub fn conclude(
    i: &Inputs<'_>,
    ask: &Ask,
    outcomes: &[GateOutcome],
    status: &mut TrafficDistributionStatus,
    notes: &mut Vec<Note>,
) -> Gated {
    let r = i.rollout;
    let now = i.now;
    let now_s = now.as_second();
    let Ask {
        rs,
        m,
        start,
        proposed,
        last,
        region,
        ..
    } = ask;
    let mut rs = rs.clone();
    let on_failure = match r.on_failure {
        OnFailure::Abort => gates::OnFailure::Abort,
        OnFailure::Pause => gates::OnFailure::Pause,
    };
    let (m2, action, apply) = gates::decide(
        m,
        start,
        proposed,
        outcomes,
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
    if action == Action::Step && *last {
        m2.phase = Phase::Complete;
    }
    // A step or an abort is recorded once Connect took its write (`commit`); until then the
    // rollout stays where it was, with the gates' latest answers.
    let before = rs.clone();
    save(&mut rs, &m2, status, now);
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
            let requeue = if *last {
                Duration::from_secs(1)
            } else {
                Duration::from_secs(r.pause_seconds.max(1) as u64)
            };
            Gated::Send {
                update: diff(i.observed, &to, i.want),
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
                metric: Some("step"),
            }
        }
        (Action::Abort, Some(to)) => {
            let message = format!(
                "rollout aborted after {} failed checks ({}); restoring the starting split (annotate {} to start again)",
                m2.failures,
                pending(),
                annotations::RESUME
            );
            notes.push(Note::warning(reasons::ROLLOUT_ABORTED, message.clone()));
            Gated::Send {
                update: diff(i.observed, &to, i.want),
                commit: Some(Box::new(rs)),
                ending: Ending::new(
                    Verdict::stalled(reasons::ROLLOUT_ABORTED, message),
                    i.resync,
                ),
                metric: Some("abort"),
            }
        }
        (Action::Hold, _) => Gated::Held(Ending::new(
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
            i.resync,
        )),
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
