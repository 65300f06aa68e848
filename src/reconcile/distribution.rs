//! TrafficDistribution: apply telephony, agent and sign-in distributions. The group is addressed
//! by ARN and the call goes to the region that will take most of the calls, falling back to the
//! other region when that one fails or is slow (rule G3: a regional outage is what failover is
//! for; `fallback::in_either`).

use std::time::Duration;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt;

use super::fallback::in_either;
use super::*;
use crate::api::{
    DriftStatus, RolloutStatus, TrafficDistribution, TrafficDistributionStatus, reasons,
};
use crate::connect::{Distribution, GroupInfo, Priority};
use crate::plan::distribution::{
    Decision, DesiredDistribution, GroupFacts, Rollout, applied, plan, preferred_regions,
    steps_left, summary, target,
};
use crate::plan::drift;

fn desired(obj: &TrafficDistribution) -> DesiredDistribution {
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

fn record(status: &mut TrafficDistributionStatus, d: &Distribution, regions: &[String; 2]) {
    status.telephony = Some(d.telephony.clone()).filter(|m| !m.is_empty());
    status.agents = Some(d.agents.clone()).filter(|m| !m.is_empty());
    status.sign_in = Some(d.sign_in.clone()).filter(|m| !m.is_empty());
    status.split = Some(summary(d, regions));
    if let Some(r) = status.cross_region_routing {
        status.split = status.split.take().map(|s| format!("{s}, routing {r:?}"));
    }
}

pub async fn apply(
    engine: &Engine,
    obj: &TrafficDistribution,
    objects: &dyn Objects,
    now: Timestamp,
) -> Pass<TrafficDistributionStatus> {
    let mut status = obj.status.clone().unwrap_or_default();
    let mut notes = Vec::new();
    let result = steps(engine, obj, objects, now, &mut status, &mut notes).await;
    crate::metrics::objects::distribution(obj, &status, engine.resync);
    Pass {
        status,
        notes,
        result,
    }
}

async fn steps(
    engine: &Engine,
    obj: &TrafficDistribution,
    objects: &dyn Objects,
    now: Timestamp,
    status: &mut TrafficDistributionStatus,
    notes: &mut Vec<Note>,
) -> Result<Ending, PassError> {
    let ns = obj.namespace().unwrap_or_default();
    let group = match resolve_group_for(objects, &ns, &obj.spec.group_ref.name, true).await? {
        Ok(g) => g,
        Err(wait) => return Ok(wait),
    };
    status.group_arn = Some(group.arn.clone());
    status.arn = Some(group.arn.clone());
    status.id = Some(group.id.clone());
    status.region = Some(group.source_region.clone());
    let regions = [group.source_region.clone(), group.replica_region.clone()];
    let want = desired(obj);
    let (facts, observed, read_from) = match observe(engine, &group, &want, &regions).await? {
        Ok(seen) => seen,
        Err(wait) => return Ok(super::rollout::while_busy(obj, status, wait)),
    };
    record(status, &observed, &regions);
    // A write whose outcome a crash kept from being recorded: Connect's answer decides.
    status.last_applied = crate::plan::write_intent::last_applied(
        status.last_applied.take(),
        status.pending_split.take(),
        &observed,
    );
    let order = preferred_regions(
        want.telephony.as_ref().unwrap_or(&observed.telephony),
        &regions,
    );
    if let Some(end) =
        super::distribution_preflight::routing(engine, obj, &group, &order, status).await?
    {
        return Ok(end);
    }
    let since_last = status.last_shift_time.as_ref().map(|t| {
        let secs = now.as_second() - t.0.as_second();
        Duration::from_secs(secs.max(0) as u64)
    });
    let decision = plan(&want, &facts, &observed, since_last);
    // A paused rollout without gates holds the split where it is (gated ones: see rollout.rs).
    let held = obj
        .spec
        .rollout
        .as_ref()
        .is_some_and(|r| r.paused && r.gates.is_empty());
    if held && matches!(decision, Decision::Update { .. }) {
        return Ok(Ending::new(
            Verdict::progressing(
                reasons::ROLLOUT_PAUSED,
                format!(
                    "spec.rollout.paused is true: the split stays at {}",
                    crate::plan::distribution::summary(&observed, &regions)
                ),
            ),
            engine.resync,
        ));
    }
    let resume = drift::resume_requested(
        obj.metadata.annotations.as_ref(),
        status.last_handled_resume.as_deref(),
    )
    .map(str::to_string);
    let declared_now = || {
        drift::declared_split(
            want.telephony.is_some(),
            want.agents.is_some(),
            want.sign_in.is_some(),
            &observed,
        )
    };
    // A drift this pass corrects, and whether the resume annotation is what corrects it (then the
    // value counts as handled only once the correction was sent).
    let mut corrected: Option<(DriftStatus, drift::Why)> = None;
    if matches!(decision, Decision::Wait { .. } | Decision::Update { .. }) {
        let changes = drift::split_changes(status.last_applied.as_ref(), &observed, &regions);
        let outside = !changes.is_empty();
        let hash = spec_hash(obj);
        let facts = drift::Facts {
            changes,
            generation_applied: obj.metadata.generation == status.observed_generation,
            spec_hash: &hash,
            previous: status.drift.as_ref(),
            policy: obj.spec.drift_policy.unwrap_or(engine.drift_policy),
            pause_seconds: obj.spec.drift_pause_seconds,
            now,
            resume: resume.is_some(),
        };
        match drift::decide(facts) {
            drift::Decision::InSync => resolve_drift(
                status,
                notes,
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
                let after = drift::recheck_after(&drift, now, engine.resync);
                let message = drift.message.clone();
                status.drift = Some(drift);
                return Ok(Ending::new(
                    Verdict::progressing(reasons::DRIFT_DETECTED, message),
                    after,
                ));
            }
            drift::Decision::Correct { drift, new, why } => {
                if new {
                    notes.push(Note::warning(
                        reasons::DRIFT_DETECTED,
                        drift.message.clone(),
                    ));
                }
                // The controller takes over from what Connect has now.
                status.last_applied = Some(declared_now());
                status.drift = None;
                corrected = Some((drift, why));
            }
        }
    }
    let by_resume = matches!(corrected, Some((_, drift::Why::Resumed)));
    if !by_resume {
        status.last_handled_resume = resume.clone().or(status.last_handled_resume.take());
    }
    // Health-gated rollouts (plan::gates): the gates choose the step, or the abort.
    let gated = obj.spec.rollout.as_ref().filter(|r| !r.gates.is_empty());
    let mut gated_ending = None;
    let decision = match (decision, gated) {
        (Decision::Update { .. }, Some(r)) => {
            if let Some(end) = super::gates::refused_webhook(engine, &r.gates) {
                return Ok(end);
            }
            let pass = super::rollout::gated(
                engine,
                obj,
                r,
                &group,
                &regions,
                &observed,
                &want,
                status,
                notes,
                resume.is_some(),
                now,
            )
            .await;
            match pass {
                super::rollout::Gated::Send {
                    update,
                    ending,
                    commit,
                } if !update.is_empty() => {
                    gated_ending = Some((ending, commit));
                    Decision::Update {
                        update,
                        last_step: false,
                    }
                }
                super::rollout::Gated::Send { ending, commit, .. } => {
                    if let Some(c) = commit {
                        status.rollout = Some(*c);
                    }
                    return Ok(ending);
                }
                super::rollout::Gated::End(ending) => return Ok(ending),
            }
        }
        (d, _) => d,
    };
    let how = |why: &drift::Why| match why {
        drift::Why::PauseOver => {
            format!("after driftPauseSeconds {}", obj.spec.drift_pause_seconds)
        }
        drift::Why::Resumed => format!("on {}", crate::api::annotations::RESUME),
    };
    match decision {
        Decision::InSync => {
            match (gated, status.rollout.as_mut()) {
                (Some(_), Some(r)) if r.phase.is_some() => {
                    r.phase = Some("Complete".into());
                    r.next_step_time = None;
                }
                _ => status.rollout = None,
            }
            status.last_applied = Some(declared_now());
            resolve_drift(status, notes, "Connect has the declared split again");
            Ok(Ending::new(
                Verdict::Ready(format!("split is {}", summary(&observed, &regions))),
                engine.resync,
            ))
        }
        Decision::Refuse { reason, rule } => Ok(Ending::new(
            Verdict::stalled(
                &format!("{}{rule}", reasons::REJECTED_PREFIX),
                format!("{reason} (rule {rule})"),
            ),
            engine.resync,
        )),
        Decision::Wait { reason, after } => {
            if let Some((d, why)) = &corrected {
                status.last_handled_resume = resume.or(status.last_handled_resume.take());
                crate::metrics::drift("TrafficDistribution", "split");
                notes.push(Note::warning(
                    reasons::DRIFT_CORRECTED,
                    format!("{} ({}); the rollout goes on from it", d.message, how(why)),
                ));
            }
            Ok(Ending::new(
                Verdict::progressing(reasons::WAITING, reason),
                after.max(Duration::from_secs(1)),
            ))
        }
        Decision::Update { update, last_step } => {
            if let Some(end) = super::distribution_preflight::gate(
                engine, objects, obj, &group, &observed, &update,
            )
            .await?
            {
                return Ok(end);
            }
            let after = applied(&observed, &update);
            let intent = drift::declared_split(
                want.telephony.is_some(),
                want.agents.is_some(),
                want.sign_in.is_some(),
                &after,
            );
            // Recorded before the write: a crash before the outcome is recorded is then not
            // taken for drift after the restart. The pass's status write clears it.
            status.pending_split = Some(intent);
            objects.record_intent(obj, status).await?;
            status.pending_split = None;
            let served = execute(engine, &group.arn, &want, &observed, &update, &regions).await?;
            record(status, &after, &regions);
            status.last_applied = Some(drift::declared_split(
                want.telephony.is_some(),
                want.agents.is_some(),
                want.sign_in.is_some(),
                &after,
            ));
            status.served_by = Some(served.clone());
            status.last_shift_time = Some(Time(now));
            crate::metrics::shift(&served);
            if let Some((d, why)) = &corrected {
                if by_resume {
                    status.last_handled_resume = resume;
                }
                crate::metrics::drift("TrafficDistribution", "split");
                notes.push(Note::warning(
                    reasons::DRIFT_CORRECTED,
                    format!(
                        "split was {} ({}); restored to {}",
                        drift::describe(&d.changes, d.total as usize),
                        how(why),
                        summary(&after, &regions)
                    ),
                ));
            }
            notes.push(Note::normal(
                reasons::TRAFFIC_SHIFTED,
                format!(
                    "{} -> {} (UpdateTrafficDistribution via {served}{})",
                    summary(&observed, &regions),
                    summary(&after, &regions),
                    if served != read_from || served != group.source_region {
                        ", source region bypassed"
                    } else {
                        ""
                    }
                ),
            ));
            Ok(match gated_ending {
                Some((ending, commit)) => {
                    if let Some(c) = commit {
                        status.rollout = Some(*c);
                    }
                    ending
                }
                None => rollout_status(status, &want, &observed, &after, last_step, now),
            })
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

/// Reads the group (it must be ACTIVE, D1/G2) and its split, by ARN through the region that
/// should take the traffic, falling back to the other one.
async fn observe(
    engine: &Engine,
    group: &GroupRef,
    want: &DesiredDistribution,
    regions: &[String; 2],
) -> Result<Result<(GroupFacts, Distribution, String), Ending>, PassError> {
    let order = preferred_regions(
        want.telephony.as_ref().unwrap_or(&Default::default()),
        regions,
    );
    let connect = &engine.connect;
    let arn = group.arn.as_str();
    let (info, _): (GroupInfo, String) =
        in_either(&engine.health, &order, Priority::Urgent, |r| async move {
            connect
                .describe_traffic_distribution_group(&r, arn, Priority::Urgent)
                .await
        })
        .await?;
    if let Some(v) = crate::plan::group::until_active(&info.status, "G2") {
        return Ok(Err(Ending::new(v, Duration::from_secs(1))));
    }
    let (observed, read_from) =
        in_either(&engine.health, &order, Priority::Urgent, |r| async move {
            connect
                .get_traffic_distribution(&r, arn, Priority::Urgent)
                .await
        })
        .await?;
    let facts = GroupFacts {
        is_default: info.is_default,
        status: info.status.clone(),
        regions: regions.clone(),
    };
    Ok(Ok((facts, observed, read_from)))
}

/// UpdateTrafficDistribution in the region where the traffic goes after this step (the other
/// one if that fails). Returns the region that took it.
async fn execute(
    engine: &Engine,
    arn: &str,
    want: &DesiredDistribution,
    observed: &Distribution,
    update: &crate::connect::DistributionUpdate,
    regions: &[String; 2],
) -> Result<String, PassError> {
    let step_order = preferred_regions(
        update
            .telephony
            .as_ref()
            .unwrap_or(&target(want, observed).telephony),
        regions,
    );
    let connect = &engine.connect;
    // Urgent: a region that has not taken the write within the hedge delay is overtaken by
    // the other one (the same desired split either way).
    let (_, served) = in_either(
        &engine.health,
        &step_order,
        Priority::Urgent,
        |r| async move { connect.update_traffic_distribution(&r, arn, update).await },
    )
    .await?;
    Ok(served)
}

/// After an update: the rollout's progress (step n of m, when the next may go) or, on the last
/// step, a short verification pass.
fn rollout_status(
    status: &mut TrafficDistributionStatus,
    want: &DesiredDistribution,
    observed: &Distribution,
    after: &Distribution,
    last_step: bool,
    now: Timestamp,
) -> Ending {
    if last_step {
        status.rollout = None;
        return Ending::new(
            Verdict::progressing(reasons::APPLIED, "update sent; verifying"),
            Duration::from_secs(1),
        );
    }
    let rollout = want.rollout.clone().unwrap_or_default();
    let step = status.rollout.as_ref().map(|r| r.step).unwrap_or(0) + 1;
    let left = steps_left(after, &target(want, observed), rollout.step_percent);
    status.rollout = Some(RolloutStatus {
        step,
        of: step + left.max(1),
        next_step_time: now
            .checked_add(k8s_openapi::jiff::SignedDuration::from_secs(
                rollout.pause.as_secs() as i64,
            ))
            .ok()
            .map(Time),
        ..Default::default()
    });
    Ending::new(
        Verdict::progressing(reasons::ROLLING_OUT, format!("rollout step {step} applied")),
        rollout.pause.max(Duration::from_secs(1)),
    )
}
