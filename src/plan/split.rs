//! TrafficDistribution's one decision. Everything that can hold, refuse or change a split is
//! folded here, in this order: the group must be ACTIVE (G2); cross-region routing
//! (`spec.crossRegionRouting`, a planned write of its own); the split planner
//! (`plan::distribution`: rules, progressive steps); a paused rollout holds; drift
//! (`plan::drift`: report, pause or correct); a gated rollout's state machine and its gates
//! (`plan::rollout_pass`); the preflight gate (`plan::preflight_gate`). Pure: the reconciler reads
//! every fact first; when the decision needs a fact only worth reading in this situation (the
//! gates' answers about the next step, a probe of the region telephony leaves), it says so
//! ([`Decided::Read`]) and is asked again with it.

use std::collections::BTreeSet;
use std::time::Duration;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;

use super::distribution::{
    Decision, DesiredDistribution, GroupFacts, Rollout, applied, plan, preferred_regions,
    steps_left, summary, target,
};
use super::gates::GateOutcome;
use super::preflight_gate::{Findings, refuse, regions_left};
use super::rollout_pass::{self, Ask, Gated};
use super::split_writes::record;
pub use super::split_writes::{Landing, SplitWrite, Write, landed, note_routing};
use super::{Ending, Note, Verdict, drift};
use crate::api::preflight::CrossRegionRouting;
use crate::api::{
    DriftPolicy, DriftStatus, RolloutStatus, TrafficDistribution, TrafficDistributionStatus,
    reasons,
};
use crate::connect::Distribution;

/// The split the spec declares, as the planner takes it.
pub fn desired(obj: &TrafficDistribution) -> DesiredDistribution {
    DesiredDistribution {
        telephony: obj.spec.telephony.clone(),
        agents: obj.spec.agents.clone(),
        sign_in: obj.spec.sign_in.clone(),
        allow_telephony_without_agents: obj.spec.allow_telephony_without_agents,
        rollout: obj
            .spec
            .rollout
            .as_ref()
            .filter(|r| !r.paused && r.gates.is_empty())
            .map(|r| Rollout {
                step_percent: r.step_percent,
                pause: Duration::from_secs(r.pause_seconds.max(0) as u64),
            }),
    }
}

/// The group as the pass found it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupSeen {
    pub arn: String,
    pub id: String,
    pub instance_id: String,
    pub source_region: String,
    pub facts: GroupFacts,
}

/// What the decision is taken on.
pub struct Facts<'a> {
    pub obj: &'a TrafficDistribution,
    pub group: &'a GroupSeen,
    /// The live split (read only once the group is ACTIVE) and the region that answered.
    pub observed: Option<(&'a Distribution, &'a str)>,
    /// Cross-region routing as read (when the spec sets it): isolated or not, or why Connect
    /// refused to say (a terminal answer).
    pub routing: Option<Result<CrossRegionRouting, String>>,
    pub findings: Findings<'a>,
    /// Regions telephony leaves that a probe found down (`None`: not probed).
    pub down: Option<&'a BTreeSet<String>>,
    /// The gates' answers about the step in [`Read::Gates`] (`None`: not asked).
    pub gates: Option<&'a [GateOutcome]>,
    /// Why a webhook gate may not be called (`--allowed-webhook-hosts`).
    pub webhook_refused: Option<Ending>,
    /// The controller's default drift policy.
    pub drift_policy: DriftPolicy,
    /// Writes are withheld (observe mode): the gates are not asked.
    pub observe: bool,
    pub resync: Duration,
    pub now: Timestamp,
}

/// A fact worth reading only now.
#[derive(Debug, Clone, PartialEq)]
pub enum Read {
    /// Ask the rollout's gates about this step.
    Gates(Box<Ask>),
    /// Probe these regions (telephony leaves them; the move is refused unless they are down).
    Probe(Vec<String>),
}

/// What the pass does: the status it records whatever the writes do, Events, the writes, and how
/// it ends once they are all taken.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub status: TrafficDistributionStatus,
    pub notes: Vec<Note>,
    pub writes: Vec<Write>,
    pub ending: Ending,
    /// A drift corrected without a write (a rollout goes on from the drifted split).
    pub drift_corrected: bool,
    /// `connectgr_rollout_steps_total` label.
    pub rollout_metric: Option<&'static str>,
}

pub enum Decided {
    Read(Read),
    Plan(Box<Plan>),
}

impl Plan {
    fn end(status: TrafficDistributionStatus, notes: Vec<Note>, ending: Ending) -> Self {
        Self {
            status,
            notes,
            writes: vec![],
            ending,
            drift_corrected: false,
            rollout_metric: None,
        }
    }
}

/// The spec less the drift settings: changing only driftPolicy or driftPauseSeconds during a
/// paused correction is not a change of what to apply.
fn spec_hash(obj: &TrafficDistribution) -> String {
    let mut spec = obj.spec.clone();
    spec.drift_policy = None;
    spec.drift_pause_seconds = 0;
    drift::spec_hash(&spec)
}

/// Clears `status.drift`; a Normal Event says why when there was one.
fn resolve_drift(status: &mut TrafficDistributionStatus, notes: &mut Vec<Note>, why: &str) {
    if let Some(d) = status.drift.take() {
        notes.push(Note::normal(
            reasons::DRIFT_RESOLVED,
            format!(
                "{why} (reported: {})",
                drift::describe(&d.changes, d.total as usize)
            ),
        ));
    }
}

/// The decision of one pass, from the status the previous pass left.
pub fn decide(f: &Facts<'_>, previous: &TrafficDistributionStatus) -> Decided {
    let mut status = previous.clone();
    let mut notes = Vec::new();
    let obj = f.obj;
    let regions = &f.group.facts.regions;
    let want = desired(obj);
    let Some((observed, read_from)) = f.observed else {
        let wait = super::group::until_active(&f.group.facts.status, "G2")
            .unwrap_or_else(|| Verdict::progressing(reasons::WAITING, "group is settling"));
        let end = rollout_pass::while_busy(obj, &status, Ending::new(wait, Duration::from_secs(1)));
        return Decided::Plan(Box::new(Plan::end(status, notes, end)));
    };
    status.group_arn = Some(f.group.arn.clone());
    status.arn = Some(f.group.arn.clone());
    status.id = Some(f.group.id.clone());
    status.region = Some(f.group.source_region.clone());
    record(&mut status, observed, regions);
    // A write whose outcome a crash kept from being recorded: Connect's answer decides.
    status.last_applied = super::write_intent::last_applied(
        status.last_applied.take(),
        status.pending_split.take(),
        observed,
    );
    let declared = |d: &Distribution| {
        drift::declared_split(
            want.telephony.is_some(),
            want.agents.is_some(),
            want.sign_in.is_some(),
            d,
        )
    };
    let order = preferred_regions(
        want.telephony.as_ref().unwrap_or(&observed.telephony),
        regions,
    );
    let mut writes = Vec::new();
    // Cross-region routing, default group only; a terminal answer is Stalled, not retried.
    match (obj.spec.cross_region_routing, &f.routing) {
        (None, _) => status.cross_region_routing = None,
        (Some(_), _) if !f.group.facts.is_default => {
            let end = Ending::new(
                Verdict::stalled(
                    reasons::GLOBAL_ROUTING_UNAVAILABLE,
                    "crossRegionRouting applies to the default traffic distribution group only",
                ),
                f.resync,
            );
            return Decided::Plan(Box::new(Plan::end(status, notes, end)));
        }
        (Some(_), None) => {}
        (Some(_), Some(Err(why))) => {
            let end = routing_stalled(why, f.resync);
            return Decided::Plan(Box::new(Plan::end(status, notes, end)));
        }
        (Some(want), Some(Ok(seen))) if *seen == want => note_routing(&mut status, want),
        (Some(want), Some(Ok(_))) => writes.push(Write::Routing {
            instance_id: f.group.instance_id.clone(),
            isolated: want == CrossRegionRouting::Isolated,
            order: order.clone(),
            on_rejected: routing_stalled("Connect refused UpdateCrossRegionRouting", f.resync),
        }),
    }
    let since_last = status
        .last_shift_time
        .as_ref()
        .map(|t| Duration::from_secs((f.now.as_second() - t.0.as_second()).max(0) as u64));
    let decision = plan(&want, &f.group.facts, observed, since_last);
    // A paused rollout without gates holds the split where it is (gated ones: rollout_pass).
    let held = obj
        .spec
        .rollout
        .as_ref()
        .is_some_and(|r| r.paused && r.gates.is_empty());
    if held && matches!(decision, Decision::Update { .. }) {
        let end = Ending::new(
            Verdict::progressing(
                reasons::ROLLOUT_PAUSED,
                format!(
                    "spec.rollout.paused is true: the split stays at {}",
                    summary(observed, regions)
                ),
            ),
            f.resync,
        );
        return Decided::Plan(Box::new(Plan {
            writes,
            ..Plan::end(status, notes, end)
        }));
    }
    let resume = drift::resume_requested(
        obj.metadata.annotations.as_ref(),
        previous.last_handled_resume.as_deref(),
    )
    .map(str::to_string);
    // A drift this pass corrects, and whether the resume annotation is what corrects it (then the
    // value counts as handled only once the correction was sent).
    let mut corrected: Option<(DriftStatus, drift::Why)> = None;
    if matches!(decision, Decision::Wait { .. } | Decision::Update { .. }) {
        let changes = drift::split_changes(status.last_applied.as_ref(), observed, regions);
        let outside = !changes.is_empty();
        let hash = spec_hash(obj);
        let facts = drift::Facts {
            changes,
            generation_applied: obj.metadata.generation == status.observed_generation,
            spec_hash: &hash,
            previous: status.drift.as_ref(),
            policy: obj.spec.drift_policy.unwrap_or(f.drift_policy),
            pause_seconds: obj.spec.drift_pause_seconds,
            now: f.now,
            resume: resume.is_some(),
        };
        match drift::decide(facts) {
            drift::Decision::InSync => resolve_drift(
                &mut status,
                &mut notes,
                if outside {
                    "the spec changed; it is applied"
                } else {
                    "Connect has what the controller last applied again"
                },
            ),
            drift::Decision::Report { drift, new } => {
                if new {
                    notes.push(Note::warning(
                        reasons::DRIFT_DETECTED,
                        drift.message.clone(),
                    ));
                }
                status.last_handled_resume = resume.or(status.last_handled_resume.take());
                let after = drift::recheck_after(&drift, f.now, f.resync);
                let message = drift.message.clone();
                status.drift = Some(drift);
                let end = Ending::new(
                    Verdict::progressing(reasons::DRIFT_DETECTED, message),
                    after,
                );
                return Decided::Plan(Box::new(Plan {
                    writes,
                    ..Plan::end(status, notes, end)
                }));
            }
            drift::Decision::Correct { drift, new, why } => {
                if new {
                    notes.push(Note::warning(
                        reasons::DRIFT_DETECTED,
                        drift.message.clone(),
                    ));
                }
                // The controller takes over from what Connect has now.
                status.last_applied = Some(declared(observed));
                status.drift = None;
                corrected = Some((drift, why));
            }
        }
    }
    let by_resume = matches!(corrected, Some((_, drift::Why::Resumed)));
    if !by_resume {
        status.last_handled_resume = resume.clone().or(status.last_handled_resume.take());
    }
    let how = |why: &drift::Why| match why {
        drift::Why::PauseOver => {
            format!("after driftPauseSeconds {}", obj.spec.drift_pause_seconds)
        }
        drift::Why::Resumed => format!("on {}", crate::api::annotations::RESUME),
    };
    // Health-gated rollouts: the gates choose the step, or the abort.
    let gated = obj.spec.rollout.as_ref().filter(|r| !r.gates.is_empty());
    let mut landing: Option<(Ending, Landing)> = None;
    let mut rollout_metric = None;
    let decision = match (decision, gated) {
        (Decision::Update { .. }, Some(r)) => {
            if let Some(end) = f.webhook_refused.clone() {
                return Decided::Plan(Box::new(Plan {
                    writes,
                    ..Plan::end(status, notes, end)
                }));
            }
            let inputs = rollout_pass::Inputs {
                obj,
                rollout: r,
                regions,
                observed,
                want: &want,
                resume: resume.is_some(),
                observe: f.observe,
                resync: f.resync,
                now: f.now,
            };
            let pass = match rollout_pass::prepare(&inputs, &mut status, &mut notes) {
                Gated::Ask(ask) => match f.gates {
                    None => return Decided::Read(Read::Gates(ask)),
                    Some(answers) => {
                        rollout_pass::conclude(&inputs, &ask, answers, &mut status, &mut notes)
                    }
                },
                other => other,
            };
            let end = |status, notes, writes, ending, metric| {
                let p = Plan {
                    writes,
                    rollout_metric: metric,
                    ..Plan::end(status, notes, ending)
                };
                Decided::Plan(Box::new(p))
            };
            match pass {
                Gated::Send {
                    update,
                    ending,
                    commit,
                    metric,
                } if !update.is_empty() => {
                    landing = Some((ending, commit.map_or(Landing::Keep, |c| Landing::Set(*c))));
                    rollout_metric = metric;
                    Decision::Update {
                        update,
                        last_step: false,
                    }
                }
                Gated::Send { ending, commit, .. } => {
                    if let Some(c) = commit {
                        status.rollout = Some(*c);
                    }
                    return end(status, notes, writes, ending, None);
                }
                Gated::Held(ending) => return end(status, notes, writes, ending, Some("pause")),
                Gated::End(ending) => return end(status, notes, writes, ending, None),
                // `conclude` always answers; a question left is a wait.
                Gated::Ask(_) => {
                    let ending = Ending::wait(reasons::ROLLING_OUT, "waiting for the gates");
                    return end(status, notes, writes, ending, None);
                }
            }
        }
        (d, _) => d,
    };
    let (ending, drift_corrected) = match decision {
        Decision::InSync => {
            match (gated, status.rollout.as_mut()) {
                (Some(_), Some(r)) if r.phase.is_some() => {
                    r.phase = Some("Complete".into());
                    r.next_step_time = None;
                }
                _ => status.rollout = None,
            }
            status.last_applied = Some(declared(observed));
            resolve_drift(
                &mut status,
                &mut notes,
                "Connect has the declared split again",
            );
            let end = Ending::new(
                Verdict::Ready(format!("split is {}", summary(observed, regions))),
                f.resync,
            );
            (end, false)
        }
        Decision::Refuse { reason, rule } => (
            Ending::new(
                Verdict::stalled(
                    &format!("{}{rule}", reasons::REJECTED_PREFIX),
                    format!("{reason} (rule {rule})"),
                ),
                f.resync,
            ),
            false,
        ),
        Decision::Wait { reason, after } => {
            let mut corrected_now = false;
            if let Some((d, why)) = &corrected {
                status.last_handled_resume = resume.clone().or(status.last_handled_resume.take());
                corrected_now = true;
                notes.push(Note::warning(
                    reasons::DRIFT_CORRECTED,
                    format!("{} ({}); the rollout goes on from it", d.message, how(why)),
                ));
            }
            (
                Ending::new(
                    Verdict::progressing(reasons::WAITING, reason),
                    after.max(Duration::from_secs(1)),
                ),
                corrected_now,
            )
        }
        Decision::Update { update, last_step } => {
            if let Some(to) = &update.telephony {
                let accepted = &obj.spec.accept_risks;
                let before = &observed.telephony;
                if refuse(&f.findings, before, to, accepted, &BTreeSet::new()).is_some() {
                    let Some(down) = f.down else {
                        return Decided::Read(Read::Probe(regions_left(before, to)));
                    };
                    if let Some((reason, m)) = refuse(&f.findings, before, to, accepted, down) {
                        // Unknown findings may appear soon (the replica's next preflight).
                        let again = if reason == reasons::PREFLIGHT_UNKNOWN {
                            f.resync.min(Duration::from_secs(15))
                        } else {
                            f.resync
                        };
                        let end = Ending::new(Verdict::stalled(reason, m), again);
                        return Decided::Plan(Box::new(Plan {
                            writes,
                            ..Plan::end(status, notes, end)
                        }));
                    }
                }
            }
            let after = applied(observed, &update);
            let step_order = preferred_regions(
                update
                    .telephony
                    .as_ref()
                    .unwrap_or(&target(&want, observed).telephony),
                regions,
            );
            let corrects = corrected.as_ref().map(|(d, why)| {
                format!(
                    "split was {} ({}); restored to {}",
                    drift::describe(&d.changes, d.total as usize),
                    how(why),
                    summary(&after, regions)
                )
            });
            let (end, rollout) = match landing.take() {
                Some(l) => l,
                None => rollout_ending(&status, &want, observed, &after, last_step, f.now),
            };
            writes.push(Write::Split(Box::new(SplitWrite {
                arn: f.group.arn.clone(),
                update,
                order: step_order,
                intent: declared(&after),
                after,
                rollout,
                corrects,
                resume_handled: resume.clone().filter(|_| by_resume),
                read_from: read_from.to_string(),
                source_region: f.group.source_region.clone(),
                regions: regions.clone(),
                from_summary: summary(observed, regions),
            })));
            (end, false)
        }
    };
    let mut plan = Plan::end(status, notes, ending);
    plan.writes = writes;
    plan.drift_corrected = drift_corrected;
    plan.rollout_metric = rollout_metric;
    Decided::Plan(Box::new(plan))
}

fn routing_stalled(why: &str, resync: Duration) -> Ending {
    Ending::new(
        Verdict::stalled(
            reasons::GLOBAL_ROUTING_UNAVAILABLE,
            format!("cross-region routing cannot be read or changed: {why}"),
        ),
        resync,
    )
}

/// After an ungated update: the rollout's progress (step n of m, when the next may go) or, on
/// the last step, a short verification pass.
fn rollout_ending(
    status: &TrafficDistributionStatus,
    want: &DesiredDistribution,
    observed: &Distribution,
    after: &Distribution,
    last_step: bool,
    now: Timestamp,
) -> (Ending, Landing) {
    if last_step {
        return (
            Ending::new(
                Verdict::progressing(reasons::APPLIED, "update sent; verifying"),
                Duration::from_secs(1),
            ),
            Landing::Clear,
        );
    }
    let rollout = want.rollout.clone().unwrap_or_default();
    let step = status.rollout.as_ref().map(|r| r.step).unwrap_or(0) + 1;
    let left = steps_left(after, &target(want, observed), rollout.step_percent);
    let rs = RolloutStatus {
        step,
        of: step + left.max(1),
        next_step_time: now
            .checked_add(k8s_openapi::jiff::SignedDuration::from_secs(
                rollout.pause.as_secs() as i64,
            ))
            .ok()
            .map(Time),
        ..Default::default()
    };
    (
        Ending::new(
            Verdict::progressing(reasons::ROLLING_OUT, format!("rollout step {step} applied")),
            rollout.pause.max(Duration::from_secs(1)),
        ),
        Landing::Set(rs),
    )
}

#[cfg(test)]
#[path = "split_tests.rs"]
mod tests;
