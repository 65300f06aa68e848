//! TrafficDistribution as its steps: desired (the declared split), observe (the group, its split
//! and cross-region routing, by ARN through the region that will take most of the calls, falling
//! back to the other one: rule G3, `fallback::in_either`; the preflight findings the
//! InstanceReplica recorded; on the plan's request the gates' answers and a probe of the region
//! telephony leaves), plan (`plan::split::decide`, pure), execute (UpdateCrossRegionRouting,
//! then the write intent and UpdateTrafficDistribution) and status.

use std::collections::BTreeSet;

use async_trait::async_trait;
use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt;

use super::fallback::in_either;
use super::steps::{Planned, Steps};
use super::*;
use crate::api::preflight::{CrossRegionRouting, PreflightStatus};
use crate::api::{TrafficDistribution, TrafficDistributionStatus, reasons};
use crate::connect::{Distribution, GroupInfo, Priority};
use crate::plan::distribution::{DesiredDistribution, GroupFacts, preferred_regions};
use crate::plan::drill;
use crate::plan::gates::GateOutcome;
use crate::plan::preflight_gate::{Findings, down_after_probe};
use crate::plan::split::{self, Decided, GroupSeen, Plan, Read, Write};

/// What a pass of a TrafficDistribution found.
pub struct Observed {
    group: GroupSeen,
    /// The live split and the region that answered (read once the group is ACTIVE).
    split: Option<(Distribution, String)>,
    routing: Option<Result<CrossRegionRouting, String>>,
    /// `status.preflight` of the group's InstanceReplica (`Ok(None)`: not managed by one), or what
    /// is missing.
    preflight: Result<Option<PreflightStatus>, String>,
    down: Option<BTreeSet<String>>,
    gates: Option<Vec<GateOutcome>>,
    /// A FailoverDrill run this distribution is part of (its target, or the revert).
    drill: Option<drill::Overlay>,
}

#[async_trait]
impl Steps for TrafficDistribution {
    type Desired = DesiredDistribution;
    type Observed = Observed;
    type Read = Read;
    type Plan = Plan;

    fn desired(&self) -> DesiredDistribution {
        split::desired(self)
    }

    async fn observe(
        &self,
        engine: &Engine,
        objects: &dyn Objects,
        want: &DesiredDistribution,
    ) -> Result<Result<Observed, Ending>, PassError> {
        let ns = self.namespace().unwrap_or_default();
        let group = match resolve_group_for(objects, &ns, &self.spec.group_ref.name, true).await? {
            Ok(g) => g,
            Err(wait) => return Ok(Err(wait)),
        };
        let regions = [group.source_region.clone(), group.replica_region.clone()];
        let order = preferred_regions(
            want.telephony.as_ref().unwrap_or(&Default::default()),
            &regions,
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
        let split = if crate::plan::group::until_active(&info.status, "G2").is_none() {
            Some(
                in_either(&engine.health, &order, Priority::Urgent, |r| async move {
                    connect
                        .get_traffic_distribution(&r, arn, Priority::Urgent)
                        .await
                })
                .await?,
            )
        } else {
            None
        };
        let routing = match (&split, self.spec.cross_region_routing, group.is_default) {
            (Some((observed, _)), Some(_), true) => {
                let order = preferred_regions(
                    want.telephony.as_ref().unwrap_or(&observed.telephony),
                    &regions,
                );
                Some(read_routing(engine, &group.instance_id, &order).await?)
            }
            _ => None,
        };
        Ok(Ok(Observed {
            group: GroupSeen {
                arn: group.arn.clone(),
                id: group.id.clone(),
                instance_id: group.instance_id.clone(),
                source_region: group.source_region.clone(),
                facts: GroupFacts {
                    is_default: info.is_default,
                    status: info.status.clone(),
                    regions,
                },
            },
            split,
            routing,
            preflight: preflight_of(objects, &ns, &self.spec.group_ref.name).await?,
            down: None,
            gates: None,
            drill: drill::overlay(&self.name_any(), &objects.drills(&ns).await?),
        }))
    }

    async fn observe_more(
        &self,
        engine: &Engine,
        observed: &mut Observed,
        read: Read,
    ) -> Result<(), PassError> {
        match read {
            Read::Gates(ask) => {
                let r = self.spec.rollout.as_ref().map(|r| r.gates.as_slice());
                let ns = self.namespace().unwrap_or_default();
                let name = self.name_any();
                let from = observed
                    .split
                    .as_ref()
                    .map(|(d, _)| d.clone())
                    .unwrap_or_default();
                let approve = self.annotations().get(crate::api::annotations::APPROVE);
                let proposal = super::gates::Proposal {
                    name: &name,
                    namespace: &ns,
                    instance_id: &observed.group.instance_id,
                    region: &ask.region,
                    step: ask.step,
                    of: ask.of,
                    from: &from,
                    to: &ask.proposed,
                    approve: approve.map(String::as_str),
                };
                observed.gates =
                    Some(super::gates::evaluate(engine, r.unwrap_or_default(), &proposal).await);
            }
            Read::Probe(regions) => {
                // Only an outage-like failure (connection, timeout, 5xx) counts as down; a
                // throttled or NotFound answer is an answer (fail closed).
                let mut down = BTreeSet::new();
                for region in regions {
                    let probe = engine
                        .connect
                        .describe_instance(&region, &observed.group.instance_id)
                        .await
                        .map(|_| ());
                    if down_after_probe(&probe) {
                        down.insert(region);
                    }
                }
                observed.down = Some(down);
            }
        }
        Ok(())
    }

    fn plan(
        &self,
        engine: &Engine,
        _: &DesiredDistribution,
        o: &Observed,
        previous: &TrafficDistributionStatus,
        withheld: bool,
        now: Timestamp,
    ) -> Planned<Plan, Read> {
        let findings = findings(&o.preflight);
        // During a drill run the split worked towards is the drill's (or, reverting, the declared
        // one at once); `status.rollout.phase: Drill` is the drill's mark, not a rollout's state.
        let effective = o.drill.as_ref().map(|d| drill::effective(self, d));
        let mut previous = previous.clone();
        if previous.rollout.as_ref().and_then(|r| r.phase.as_deref()) == Some(DRILL_PHASE) {
            match &o.drill {
                Some(_) => previous.rollout.as_mut().map(|r| r.phase = None),
                None => previous.rollout.take().map(|_| ()),
            };
        }
        let previous = &previous;
        let facts = split::Facts {
            obj: effective.as_ref().unwrap_or(self),
            group: &o.group,
            observed: o.split.as_ref().map(|(d, r)| (d, r.as_str())),
            routing: o.routing.clone(),
            findings,
            down: o.down.as_ref(),
            gates: o.gates.as_deref(),
            webhook_refused: self
                .spec
                .rollout
                .as_ref()
                .and_then(|r| super::gates::refused_webhook(engine, &r.gates)),
            drift_policy: engine.drift_policy,
            observe: withheld,
            resync: engine.resync,
            now,
        };
        match split::decide(&facts, previous) {
            Decided::Read(r) => Planned::Read(r),
            Decided::Plan(mut p) => {
                if let Some(d) = &o.drill {
                    during_drill(&mut p, d);
                }
                Planned::Final(*p)
            }
        }
    }

    fn planned_calls(plan: &Plan) -> Vec<String> {
        plan.writes.iter().map(Write::describe).collect()
    }

    fn status_step(plan: &Plan) -> (TrafficDistributionStatus, Vec<Note>, Ending) {
        (plan.status.clone(), plan.notes.clone(), plan.ending.clone())
    }

    async fn execute(
        &self,
        engine: &Engine,
        objects: &dyn Objects,
        plan: &Plan,
        status: &mut TrafficDistributionStatus,
        notes: &mut Vec<Note>,
        now: Timestamp,
    ) -> Result<Option<Ending>, PassError> {
        if plan.drift_corrected {
            crate::metrics::drift("TrafficDistribution", "split");
        }
        if let Some(m) = plan.rollout_metric
            && !plan.writes.iter().any(|w| matches!(w, Write::Split(_)))
        {
            crate::metrics::rollout_step(m);
        }
        let connect = &engine.connect;
        for w in &plan.writes {
            match w {
                Write::Routing {
                    instance_id,
                    isolated,
                    order,
                    on_rejected,
                } => {
                    let id = instance_id.as_str();
                    let iso = *isolated;
                    let sent = in_either(&engine.health, order, Priority::Urgent, |r| async move {
                        connect.update_cross_region_routing(&r, id, iso).await
                    })
                    .await;
                    match sent {
                        Ok(_) => {}
                        Err(e) if e.class() == ErrorClass::Terminal => {
                            let mut end = on_rejected.clone();
                            if let Verdict::Stalled { message, .. } = &mut end.verdict {
                                *message = format!("{message}: {e}");
                            }
                            return Ok(Some(end));
                        }
                        Err(e) => return Err(e.into()),
                    }
                    let want = if iso {
                        CrossRegionRouting::Isolated
                    } else {
                        CrossRegionRouting::Enabled
                    };
                    split::note_routing(status, want);
                    notes.push(Note::normal(
                        reasons::CROSS_REGION_ROUTING_CHANGED,
                        format!("cross-region routing set to {want:?} (UpdateCrossRegionRouting)"),
                    ));
                }
                Write::Split(s) => {
                    // Recorded before the write: a crash before the outcome is recorded is then
                    // not taken for drift after the restart.
                    status.pending_split = Some(s.intent.clone());
                    objects.record_intent(self, status).await?;
                    status.pending_split = None;
                    let arn = s.arn.as_str();
                    let update = &s.update;
                    engine.forget_group(arn);
                    // Urgent: a region that has not taken the write within the hedge delay is
                    // overtaken by the other one (the same desired split either way).
                    let (_, served) =
                        in_either(&engine.health, &s.order, Priority::Urgent, |r| async move {
                            connect.update_traffic_distribution(&r, arn, update).await
                        })
                        .await?;
                    split::landed(status, notes, s, &served, now);
                    crate::metrics::shift(&served);
                    if s.corrects.is_some() {
                        crate::metrics::drift("TrafficDistribution", "split");
                    }
                    if let Some(m) = plan.rollout_metric {
                        crate::metrics::rollout_step(m);
                    }
                }
            }
        }
        Ok(None)
    }
}

/// The findings the preflight gate decides on, as `preflight_of` read them.
pub(super) fn findings(read: &Result<Option<PreflightStatus>, String>) -> Findings<'_> {
    match read {
        Err(why) => Findings::Unknown(why.clone()),
        Ok(None) => Findings::NotManaged,
        Ok(Some(p)) => Findings::Known(p),
    }
}

/// `status.rollout.phase` while a FailoverDrill run drives the split.
pub const DRILL_PHASE: &str = "Drill";

/// A pass during a drill run: the rollout reports `Drill`, and the distribution is not Ready at
/// the drill's split (it is not its declared one); it looks again soon for the drill's next phase.
fn during_drill(p: &mut Plan, d: &drill::Overlay) {
    let r = p.status.rollout.get_or_insert_with(Default::default);
    r.phase = Some(DRILL_PHASE.into());
    let phase = format!("{:?}", d.phase).to_lowercase();
    if let Verdict::Ready(m) = &p.ending.verdict {
        p.ending.verdict = Verdict::progressing(
            reasons::DRILL_RUNNING,
            format!("FailoverDrill {} is {phase}: {m}", d.drill),
        );
    }
    p.ending.requeue = p.ending.requeue.min(std::time::Duration::from_secs(5));
}

/// Cross-region routing as Connect reports it; a terminal answer is a fact (the plan stalls on
/// it), anything else an error of the pass.
async fn read_routing(
    engine: &Engine,
    instance_id: &str,
    order: &[String; 2],
) -> Result<Result<CrossRegionRouting, String>, PassError> {
    let connect = &engine.connect;
    let read = in_either(&engine.health, order, Priority::Urgent, |r| async move {
        connect.get_cross_region_routing(&r, instance_id).await
    })
    .await;
    match read {
        Ok((list, _)) if !list.is_empty() => Ok(Ok(CrossRegionRouting::Isolated)),
        Ok(_) => Ok(Ok(CrossRegionRouting::Enabled)),
        Err(e) if e.class() == ErrorClass::Terminal => Ok(Err(e.to_string())),
        Err(e) => Err(e.into()),
    }
}

/// The findings the preflight gate decides on, from the InstanceReplica's `status.preflight`
/// (read from the controller's caches, not from Connect: the failover path stays fast). A
/// missing group, replica or preflight is unknown findings (fail closed).
pub(super) async fn preflight_of(
    objects: &dyn Objects,
    ns: &str,
    group: &str,
) -> Result<Result<Option<PreflightStatus>, String>, PassError> {
    let replica = match objects.group(ns, group).await? {
        None => {
            return Ok(Err(format!(
                "TrafficDistributionGroup {ns}/{group} not found"
            )));
        }
        Some(tdg) => tdg.spec.replica_ref.as_ref().map(|r| r.name.clone()),
    };
    let Some(name) = replica else {
        return Ok(Ok(None));
    };
    Ok(match objects.replica(ns, &name).await? {
        None => Err(format!("InstanceReplica {ns}/{name} not found")),
        Some(r) => match r.status.and_then(|s| s.preflight) {
            None => Err(format!(
                "InstanceReplica {ns}/{name} has no status.preflight"
            )),
            Some(p) => Ok(Some(p)),
        },
    })
}

pub async fn apply(
    engine: &Engine,
    obj: &TrafficDistribution,
    objects: &dyn Objects,
    now: Timestamp,
) -> Pass<TrafficDistributionStatus> {
    let pass = super::steps::run(engine, objects, obj, now).await;
    crate::metrics::objects::distribution(obj, &pass.status, engine.resync);
    pass
}
