//! FailoverDrill as its steps: desired (the spec), observe (the TrafficDistribution and its group
//! from the controller's caches, the other drills of the namespace, the findings its preflight
//! gate reads; on the plan's request the live split and the abort gates with the figures for the
//! report), plan (`plan::drill::decide`, pure), execute (the one "write": starting a run, which
//! the TrafficDistribution then acts on) and status. The drill never calls a Connect write: the
//! TrafficDistribution is the one writer of its split.

use async_trait::async_trait;
use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt;

use super::fallback::in_either;
use super::steps::{Planned, Steps};
use super::*;
use crate::api::failover_drill::{FailoverDrill, FailoverDrillSpec, FailoverDrillStatus};
use crate::api::preflight::PreflightStatus;
use crate::api::{TrafficDistribution, reasons};
use crate::connect::{Distribution, Priority};
use crate::plan::distribution::preferred_regions;
use crate::plan::drill::{self, Decided, Figures, Plan, Read};
use crate::plan::gates::GateOutcome;

/// What a pass of a drill found.
pub struct Observed {
    distribution: Option<TrafficDistribution>,
    group: Option<GroupRef>,
    others_running: Vec<String>,
    preflight: Result<Option<PreflightStatus>, String>,
    live: Option<Distribution>,
    gates: Option<Vec<GateOutcome>>,
    figures: Option<Figures>,
    /// Connect's time (its answers' `Date` headers): the schedule, the hold and every figure of
    /// the run are on it, so the emulator's virtual clock moves them in a test.
    now: Timestamp,
}

impl Observed {
    fn regions(&self) -> Option<[String; 2]> {
        self.group
            .as_ref()
            .map(|g| [g.source_region.clone(), g.replica_region.clone()])
    }
}

#[async_trait]
impl Steps for FailoverDrill {
    type Desired = FailoverDrillSpec;
    type Observed = Observed;
    type Read = Read;
    type Plan = Plan;

    fn desired(&self) -> FailoverDrillSpec {
        self.spec.clone()
    }

    async fn observe(
        &self,
        engine: &Engine,
        objects: &dyn Objects,
        want: &FailoverDrillSpec,
    ) -> Result<Result<Observed, Ending>, PassError> {
        let ns = self.namespace().unwrap_or_default();
        let distribution = objects
            .distribution(&ns, &want.distribution_ref.name)
            .await?;
        let (group, preflight) = match &distribution {
            None => (None, Ok(None)),
            Some(td) => {
                let group =
                    match resolve_group_for(objects, &ns, &td.spec.group_ref.name, true).await? {
                        Ok(g) => Some(g),
                        // A run on needs the group to verify the split: wait for it.
                        Err(wait) if self.status.as_ref().is_some_and(|s| s.current.is_some()) => {
                            return Ok(Err(wait));
                        }
                        Err(_) => None,
                    };
                let findings =
                    super::distribution::preflight_of(objects, &ns, &td.spec.group_ref.name)
                        .await?;
                (group, findings)
            }
        };
        // Other drills with a run on the same group (through their distributions).
        let my_group = distribution.as_ref().map(|d| d.spec.group_ref.name.clone());
        let mut others_running = Vec::new();
        for d in objects.drills(&ns).await? {
            if d.name_any() == self.name_any()
                || d.status.as_ref().is_none_or(|s| s.current.is_none())
            {
                continue;
            }
            let theirs = objects
                .distribution(&ns, &d.spec.distribution_ref.name)
                .await?
                .map(|t| t.spec.group_ref.name);
            if theirs.is_some() && theirs == my_group {
                others_running.push(d.name_any());
            }
        }
        Ok(Ok(Observed {
            distribution,
            group,
            others_running,
            preflight,
            live: None,
            gates: None,
            figures: None,
            now: engine.connect.server_now(),
        }))
    }

    async fn observe_more(
        &self,
        engine: &Engine,
        observed: &mut Observed,
        read: Read,
    ) -> Result<(), PassError> {
        let Some(group) = observed.group.clone() else {
            return Ok(());
        };
        let regions = [group.source_region.clone(), group.replica_region.clone()];
        let connect = &engine.connect;
        match read {
            Read::Split => {
                let arn = group.arn.as_str();
                let order = preferred_regions(&Default::default(), &regions);
                let (live, _) =
                    in_either(&engine.health, &order, Priority::Urgent, |r| async move {
                        connect
                            .get_traffic_distribution(&r, arn, Priority::Urgent)
                            .await
                    })
                    .await?;
                observed.live = Some(live);
            }
            Read::Gates => {
                let live = observed.live.clone().unwrap_or_default();
                let mut from = live.clone();
                if let Some(td) = &observed.distribution {
                    if let Some(t) = &td.spec.telephony {
                        from.telephony = t.clone();
                    }
                    if let Some(a) = &td.spec.agents {
                        from.agents = a.clone();
                    }
                }
                // About the move made so far (declared -> live): metric gates judge the region
                // that took calls from the declared split, once it has them.
                let to = live.clone();
                let gain = |r: &String| {
                    to.telephony.get(r).copied().unwrap_or(0)
                        - from.telephony.get(r).copied().unwrap_or(0)
                };
                let region = regions
                    .iter()
                    .max_by_key(|r| gain(r))
                    .cloned()
                    .unwrap_or_default();
                let ns = self.namespace().unwrap_or_default();
                let name = self.name_any();
                let proposal = gates::Proposal {
                    name: &name,
                    namespace: &ns,
                    instance_id: &group.instance_id,
                    region: &region,
                    step: 1,
                    of: 1,
                    from: &from,
                    to: &to,
                    approve: None,
                };
                let mut declared = self.spec.abort_if.clone();
                if let Some(r) = &self.spec.rollout {
                    declared.extend(r.gates.iter().cloned());
                }
                observed.gates = Some(gates::evaluate(engine, &declared, &proposal).await);
                observed.figures = gates::figures(engine, &proposal).await;
            }
        }
        Ok(())
    }

    fn plan(
        &self,
        _engine: &Engine,
        _: &FailoverDrillSpec,
        o: &Observed,
        previous: &FailoverDrillStatus,
        withheld: bool,
        _now: Timestamp,
    ) -> Planned<Plan, Read> {
        let regions = o.regions();
        let findings = super::distribution::findings(&o.preflight);
        let facts = drill::Facts {
            drill: self,
            distribution: o.distribution.as_ref(),
            regions: regions.as_ref(),
            live: o.live.as_ref(),
            findings,
            others_running: &o.others_running,
            gates: o.gates.as_deref(),
            figures: o.figures,
            observe: withheld,
            now: o.now,
        };
        match drill::decide(&facts, previous) {
            Decided::Read(Read::Split) if o.group.is_none() => {
                // The split cannot be read without the group: say so rather than ask again.
                Planned::Final(Plan {
                    status: previous.clone(),
                    notes: vec![],
                    ending: Ending::wait(
                        reasons::WAITING_FOR_GROUP,
                        "the distribution's group is not ACTIVE yet",
                    ),
                    start: None,
                    ended: vec![],
                })
            }
            Decided::Read(r) => Planned::Read(r),
            Decided::Plan(p) => Planned::Final(*p),
        }
    }

    fn planned_calls(plan: &Plan) -> Vec<String> {
        plan.start
            .iter()
            .map(|r| {
                format!(
                    "start drill run {} ({}): the TrafficDistribution shifts from {} to the drill's target",
                    r.id,
                    r.trigger,
                    r.from.clone().unwrap_or_default()
                )
            })
            .collect()
    }

    fn status_step(plan: &Plan) -> (FailoverDrillStatus, Vec<Note>, Ending) {
        (plan.status.clone(), plan.notes.clone(), plan.ending.clone())
    }

    async fn execute(
        &self,
        _engine: &Engine,
        _objects: &dyn Objects,
        plan: &Plan,
        status: &mut FailoverDrillStatus,
        notes: &mut Vec<Note>,
        _now: Timestamp,
    ) -> Result<Option<Ending>, PassError> {
        if let Some(run) = &plan.start {
            drill::started(status, notes, run);
        }
        for (result, seconds) in &plan.ended {
            crate::metrics::drill_run(result.as_str());
            if *result != crate::api::DrillResult::Skipped {
                crate::metrics::drill_duration(*seconds);
            }
        }
        Ok(None)
    }
}

pub async fn apply(
    engine: &Engine,
    obj: &FailoverDrill,
    objects: &dyn Objects,
    now: Timestamp,
) -> Pass<FailoverDrillStatus> {
    super::steps::run(engine, objects, obj, now).await
}
