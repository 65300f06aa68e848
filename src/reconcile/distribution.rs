//! TrafficDistribution: apply telephony, agent and sign-in distributions. The group is addressed
//! by ARN and the call goes to the region that will take most of the calls, falling back to the
//! other region when that one fails (rule G3: a regional outage is what failover is for).

use std::time::Duration;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt;

use super::*;
use crate::api::{RolloutStatus, TrafficDistribution, TrafficDistributionStatus};
use crate::connect::{ConnectResult, Distribution, GroupInfo, Priority};
use crate::metrics::{METRICS, ShiftLabels};
use crate::plan::distribution::{
    Decision, DesiredDistribution, GroupFacts, Rollout, plan, preferred_regions, summary, target,
};

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
            .filter(|r| !r.paused)
            .map(|r| Rollout {
                step_percent: r.step_percent,
                pause: Duration::from_secs(r.pause_seconds.max(0) as u64),
            }),
    }
}

/// Calls `f` in the preferred region, then in the other one if the first fails with anything
/// but a rejection of the request itself. Returns the region that answered.
async fn in_either<T, F, Fut>(regions: &[String; 2], mut f: F) -> ConnectResult<(T, String)>
where
    F: FnMut(String) -> Fut,
    Fut: std::future::Future<Output = ConnectResult<T>>,
{
    match f(regions[0].clone()).await {
        Ok(v) => Ok((v, regions[0].clone())),
        Err(e) if e.class() == ErrorClass::Terminal => Err(e),
        Err(first) => match f(regions[1].clone()).await {
            Ok(v) => Ok((v, regions[1].clone())),
            Err(_) => Err(first),
        },
    }
}

fn observe(status: &mut TrafficDistributionStatus, d: &Distribution, regions: &[String; 2]) {
    status.telephony = Some(d.telephony.clone()).filter(|m| !m.is_empty());
    status.agents = Some(d.agents.clone()).filter(|m| !m.is_empty());
    status.sign_in = Some(d.sign_in.clone()).filter(|m| !m.is_empty());
    status.split = Some(summary(d, regions));
}

pub async fn apply(
    engine: &Engine,
    obj: &TrafficDistribution,
    objects: &dyn Objects,
    now: Timestamp,
) -> ConnectResult<Outcome<TrafficDistributionStatus>> {
    let mut status = obj.status.clone().unwrap_or_default();
    let ns = obj.namespace().unwrap_or_default();
    let group = match resolve_group(objects, &ns, &obj.spec.group_ref.name).await {
        Ok(g) => g,
        Err(verdict) => {
            return Ok(Outcome {
                status,
                verdict,
                requeue: PROGRESS_REQUEUE,
                notes: vec![],
            });
        }
    };
    status.group_arn = Some(group.arn.clone());
    status.arn = Some(group.arn.clone());
    status.id = Some(group.id.clone());
    status.region = Some(group.source_region.clone());
    let regions = [group.source_region.clone(), group.replica_region.clone()];
    let want = desired(obj);

    // Observe through the region that should take the traffic; by ARN so either region answers.
    let order = preferred_regions(
        want.telephony.as_ref().unwrap_or(&Default::default()),
        &regions,
    );
    let arn = group.arn.clone();
    let connect = &engine.connect;
    let (info, _): (GroupInfo, String) = in_either(&order, |r| {
        let arn = arn.clone();
        async move {
            connect
                .describe_traffic_distribution_group(&r, &arn, Priority::Urgent)
                .await
        }
    })
    .await?;
    if info.status != "ACTIVE" {
        // D1/G2: the distribution can be read and changed only while the group is ACTIVE.
        return Ok(Outcome {
            status,
            verdict: Verdict::Progressing {
                reason: "GroupNotActive".into(),
                message: format!("group is {} (rule G2)", info.status),
            },
            requeue: Duration::from_secs(1),
            notes: vec![],
        });
    }
    let (observed, read_from) = in_either(&order, |r| {
        let arn = arn.clone();
        async move {
            connect
                .get_traffic_distribution(&r, &arn, Priority::Urgent)
                .await
        }
    })
    .await?;
    observe(&mut status, &observed, &regions);
    let facts = GroupFacts {
        is_default: info.is_default,
        status: info.status.clone(),
        regions: regions.clone(),
    };
    let since_last = status.last_shift_time.as_ref().map(|t| {
        let secs = now.as_second() - t.0.as_second();
        Duration::from_secs(secs.max(0) as u64)
    });
    let mut notes = Vec::new();
    let decision = plan(&want, &facts, &observed, since_last);
    let (verdict, requeue) = match decision {
        Decision::InSync => {
            status.rollout = None;
            (
                Verdict::Ready(format!("split is {}", summary(&observed, &regions))),
                engine.resync,
            )
        }
        Decision::Refuse { reason, rule } => (
            Verdict::Stalled {
                reason: format!("Rejected{rule}"),
                message: format!("{reason} (rule {rule})"),
            },
            engine.resync,
        ),
        Decision::Wait { reason, after } => (
            Verdict::Progressing {
                reason: "Waiting".into(),
                message: reason,
            },
            after.max(Duration::from_secs(1)),
        ),
        Decision::Update { update, last_step } => {
            let drift = settled(
                obj.metadata.generation,
                status.observed_generation,
                &status.conditions,
            );
            // Send where the traffic goes after this step.
            let step_order = preferred_regions(
                update
                    .telephony
                    .as_ref()
                    .unwrap_or(&target(&want, &observed).telephony),
                &regions,
            );
            let (_, served) = in_either(&step_order, |r| {
                let arn = arn.clone();
                let update = update.clone();
                async move { connect.update_traffic_distribution(&r, &arn, &update).await }
            })
            .await?;
            let mut applied = observed.clone();
            if let Some(t) = &update.telephony {
                applied.telephony = t.clone();
            }
            if let Some(a) = &update.agents {
                applied.agents = a.clone();
            }
            if let Some(s) = &update.sign_in {
                applied.sign_in = s.clone();
            }
            observe(&mut status, &applied, &regions);
            status.served_by = Some(served.clone());
            status.last_shift_time = Some(Time(now));
            METRICS
                .traffic_shifts
                .get_or_create(&ShiftLabels {
                    namespace: ns.clone(),
                    name: obj.name_any(),
                    region: served.clone(),
                })
                .inc();
            if drift {
                crate::metrics::drift("TrafficDistribution", "split");
                notes.push(Note::warning(
                    "DriftCorrected",
                    format!(
                        "split was changed outside the controller to {}; restored",
                        summary(&observed, &regions)
                    ),
                ));
            }
            notes.push(Note::normal(
                "TrafficShifted",
                format!(
                    "{} -> {} (UpdateTrafficDistribution via {served}{})",
                    summary(&observed, &regions),
                    summary(&applied, &regions),
                    if served != read_from || served != group.source_region {
                        ", source region bypassed"
                    } else {
                        ""
                    }
                ),
            ));
            if !last_step {
                let step = status.rollout.as_ref().map(|r| r.step).unwrap_or(0) + 1;
                let pause = want.rollout.as_ref().map(|r| r.pause).unwrap_or_default();
                let total_left = {
                    let t = target(&want, &observed);
                    let step_pct = want
                        .rollout
                        .as_ref()
                        .map(|r| r.step_percent)
                        .unwrap_or(100)
                        .max(10);
                    let max_delta = t
                        .telephony
                        .iter()
                        .chain(t.agents.iter())
                        .map(|(r, p)| {
                            (p - applied
                                .telephony
                                .get(r)
                                .or(applied.agents.get(r))
                                .copied()
                                .unwrap_or(*p))
                            .abs()
                        })
                        .max()
                        .unwrap_or(0);
                    (max_delta + step_pct - 1) / step_pct
                };
                status.rollout = Some(RolloutStatus {
                    step,
                    of: step + total_left.max(1),
                    next_step_time: now
                        .checked_add(k8s_openapi::jiff::SignedDuration::from_secs(
                            pause.as_secs() as i64,
                        ))
                        .ok()
                        .map(Time),
                });
                (
                    Verdict::Progressing {
                        reason: "RollingOut".into(),
                        message: format!("rollout step {step} applied"),
                    },
                    pause.max(Duration::from_secs(1)),
                )
            } else {
                status.rollout = None;
                (
                    Verdict::Progressing {
                        reason: "Applied".into(),
                        message: "update sent; verifying".into(),
                    },
                    Duration::from_secs(1),
                )
            }
        }
    };
    Ok(Outcome {
        status,
        verdict,
        requeue,
        notes,
    })
}
