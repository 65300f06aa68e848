//! AgentMembership as its steps: desired (the declared usernames and selector), observe (the group
//! is ACTIVE, A1; the declared agents resolved cheaply with ListUsers / SearchUsers; which are
//! mirrored, A2; the group's members; what the group's other memberships declare; on the plan's
//! request the instance's users, to name agents put in by hand), plan
//! (`plan::membership_pass::decide`, pure: the diff, drift, the calls), execute (the planned
//! associate and, Exact, disassociate calls as one rate-limited batch window, each recorded in the
//! members cache as it lands; `plan::membership_pass::finish` records what landed) and status.

use std::collections::BTreeSet;

use async_trait::async_trait;
use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt;

use super::steps::{Planned, Steps};
use super::*;
use crate::api::{AgentMembership, AgentMembershipStatus, MembershipMode};
use crate::connect::{ConnectResult, Priority};
use crate::plan::drift;
use crate::plan::membership::{DesiredAgents, Mode, Resolution, has_removal_candidates, resolve};
use crate::plan::membership_pass::{self, Outcome, Seen};

pub(super) fn desired_of(obj: &AgentMembership) -> DesiredAgents {
    let sel = obj.spec.selector.clone().unwrap_or_default();
    DesiredAgents {
        users: obj.spec.users.clone(),
        routing_profiles: sel.routing_profiles,
        hierarchy_groups: sel.hierarchy_groups,
        tags: sel.tags,
    }
}

/// Declared usernames and selectors -> user ids of the source instance.
pub(super) async fn resolve_agents(
    engine: &Engine,
    group: &GroupRef,
    want: &DesiredAgents,
    priority: Priority,
    users_max_age: std::time::Duration,
) -> ConnectResult<Resolution> {
    let users = engine
        .instance_users(
            &group.source_region,
            &group.instance_id,
            want.has_selector(),
            priority,
            users_max_age,
        )
        .await?;
    let (rps, hgs) = if want.has_selector() {
        (
            engine
                .connect
                .list_routing_profiles(&group.source_region, &group.instance_id)
                .await?,
            engine
                .connect
                .list_hierarchy_groups(&group.source_region, &group.instance_id)
                .await?,
        )
    } else {
        (vec![], vec![])
    };
    Ok(resolve(want, &users, &rps, &hgs))
}

pub(super) use super::membership_batch::run_batch;

/// What a pass of a membership found: its group, and (once the group is ACTIVE, A1) what the
/// decision reads.
pub struct Observed {
    group: GroupRef,
    /// `Err`: the group is not ACTIVE yet (A1).
    seen: Result<Seen, Verdict>,
    /// When a members sweep in flight should end.
    sweep_eta: Option<tokio::time::Instant>,
    /// How the instance's users are read for this membership (the list `resolve_agents` read).
    detailed: bool,
}

/// The users listing the plan may ask for, to name agents put in by hand.
pub struct ReadUsers;

pub struct Plan {
    group: GroupRef,
    sweep_eta: Option<tokio::time::Instant>,
    /// `Err`: waiting for the group to be ACTIVE (the status with the group recorded).
    pass: Result<membership_pass::Plan, (AgentMembershipStatus, Ending)>,
}

#[async_trait]
impl Steps for AgentMembership {
    type Desired = DesiredAgents;
    type Observed = Observed;
    type Read = ReadUsers;
    type Plan = Plan;

    fn desired(&self) -> DesiredAgents {
        desired_of(self)
    }

    async fn observe(
        &self,
        engine: &Engine,
        objects: &dyn Objects,
        want: &DesiredAgents,
    ) -> Result<Result<Observed, Ending>, PassError> {
        let ns = self.namespace().unwrap_or_default();
        let group = match resolve_group(objects, &ns, &self.spec.group_ref.name).await? {
            Ok(g) => g,
            Err(wait) => return Ok(Err(wait)),
        };
        let status = self.status.clone().unwrap_or_default();
        let (seen, sweep_eta) = observe(engine, self, objects, &group, want, &status).await?;
        Ok(Ok(Observed {
            group,
            seen,
            sweep_eta,
            detailed: want.has_selector(),
        }))
    }

    async fn observe_more(
        &self,
        engine: &Engine,
        observed: &mut Observed,
        _read: ReadUsers,
    ) -> Result<(), PassError> {
        let group = &observed.group;
        let users = engine
            .instance_users(
                &group.source_region,
                &group.instance_id,
                observed.detailed,
                Priority::Background,
                engine.resync / 2,
            )
            .await?;
        if let Ok(seen) = &mut observed.seen {
            seen.users = Some(users);
        }
        Ok(())
    }

    fn plan(
        &self,
        engine: &Engine,
        _desired: &DesiredAgents,
        observed: &Observed,
        previous: &AgentMembershipStatus,
        _withheld: bool,
        now: Timestamp,
    ) -> Planned<Plan, ReadUsers> {
        let group = &observed.group;
        let mut status = previous.clone();
        record_group(&mut status, group);
        let seen = match &observed.seen {
            Ok(seen) => seen,
            Err(v) => {
                return Planned::Final(Plan {
                    group: group.clone(),
                    sweep_eta: None,
                    pass: Err((
                        status,
                        Ending::new(v.clone(), std::time::Duration::from_secs(1)),
                    )),
                });
            }
        };
        let hash = spec_hash(self);
        let decided = membership_pass::decide(membership_pass::Facts {
            seen,
            status: &status,
            generation_applied: self.metadata.generation == previous.observed_generation,
            spec_hash: &hash,
            policy: self.spec.drift_policy.unwrap_or(engine.drift_policy),
            pause_seconds: self.spec.drift_pause_seconds,
            resume: drift::resume_requested(
                self.metadata.annotations.as_ref(),
                previous.last_handled_resume.as_deref(),
            ),
            instance_id: &group.instance_id,
            replica_region: &group.replica_region,
            resync: engine.resync,
            now,
        });
        match decided {
            membership_pass::Decided::NeedUsers => Planned::Read(ReadUsers),
            membership_pass::Decided::Plan(p) => Planned::Final(Plan {
                group: group.clone(),
                sweep_eta: observed.sweep_eta,
                pass: Ok(*p),
            }),
        }
    }

    fn planned_calls(plan: &Plan) -> Vec<String> {
        let Ok(p) = &plan.pass else {
            return vec![];
        };
        let g = &plan.group;
        p.calls()
            .into_iter()
            .map(|(assoc, id)| {
                let op = if assoc {
                    "AssociateTrafficDistributionGroupUser"
                } else {
                    "DisassociateTrafficDistributionGroupUser"
                };
                format!("[{}] {op} {} user={id}", g.source_region, g.arn)
            })
            .collect()
    }

    fn status_step(plan: &Plan) -> (AgentMembershipStatus, Vec<Note>, Ending) {
        match &plan.pass {
            Ok(p) => p.before.clone(),
            Err((status, ending)) => (status.clone(), vec![], ending.clone()),
        }
    }

    async fn execute(
        &self,
        engine: &Engine,
        _objects: &dyn Objects,
        plan: &Plan,
        status: &mut AgentMembershipStatus,
        notes: &mut Vec<Note>,
        _now: Timestamp,
    ) -> Result<Option<Ending>, PassError> {
        let Ok(p) = &plan.pass else {
            return Ok(None);
        };
        let group = &plan.group;
        let batch = run_batch(engine, group, p.calls()).await;
        if p.correcting.is_some() {
            crate::metrics::drift("AgentMembership", "members");
        }
        let landed = membership_pass::Landed {
            added: batch.added,
            removed: batch.removed,
            not_found: batch.not_found,
            error: batch
                .first_error
                .as_ref()
                .map(|e| (e.class() == ErrorClass::Terminal, e.to_string())),
        };
        let sweep_left = plan
            .sweep_eta
            .map(|eta| eta.saturating_duration_since(tokio::time::Instant::now()));
        let (after, all_notes, outcome) = engine.with_members(&group.arn, |members| {
            membership_pass::finish(p, &landed, members, sweep_left)
        });
        *status = after;
        *notes = all_notes;
        match outcome {
            Outcome::End(ending) => Ok(Some(ending)),
            Outcome::Failed => Err(batch
                .first_error
                .expect("a failed batch has an error")
                .into()),
        }
    }
}

pub async fn apply(
    engine: &Engine,
    obj: &AgentMembership,
    objects: &dyn Objects,
    now: Timestamp,
) -> Pass<AgentMembershipStatus> {
    let pass = super::steps::run(engine, objects, obj, now).await;
    crate::metrics::objects::membership(obj, &pass.status, engine.resync);
    pass
}

/// The spec less the drift settings: changing only driftPolicy or driftPauseSeconds during a
/// paused correction is not a change of what to apply.
fn spec_hash(obj: &AgentMembership) -> String {
    let mut spec = obj.spec.clone();
    spec.drift_policy = None;
    spec.drift_pause_seconds = 0;
    drift::spec_hash(&spec)
}

fn record_group(status: &mut AgentMembershipStatus, group: &GroupRef) {
    status.group_arn = Some(group.arn.clone());
    status.arn = Some(group.arn.clone());
    status.id = Some(group.id.clone());
    status.region = Some(group.source_region.clone());
}

/// Reads what the plan needs: the group is ACTIVE (A1), the declared agents resolved, which are
/// mirrored (A2), the group's members, and (Exact, when someone could be removed) what the other
/// memberships of the group declare. `Err(verdict)`: the group is not ACTIVE.
async fn observe(
    engine: &Engine,
    obj: &AgentMembership,
    objects: &dyn Objects,
    group: &GroupRef,
    want: &DesiredAgents,
    status: &AgentMembershipStatus,
) -> Result<(Result<Seen, Verdict>, Option<tokio::time::Instant>), PassError> {
    // A pass over a Ready object whose spec was already applied is a drift check: its reads go
    // at background priority (within the budget) and reuse what other memberships just read.
    // A drift check also while a reported drift waits for its correction.
    let drift_check = settled(
        obj.metadata.generation,
        status.observed_generation,
        &status.conditions,
    ) || (status.drift.is_some()
        && obj.metadata.generation == status.observed_generation);
    // `connectgr.io/reconcile-now`: nothing cached is trusted (drift is still drift).
    let fresh = super::driver::fresh_reads_requested();
    if fresh {
        engine.forget_members(&group.arn);
    }
    let (priority, users_max_age) = if drift_check && !fresh {
        (Priority::Background, engine.resync / 2)
    } else {
        (Priority::Normal, std::time::Duration::ZERO)
    };
    let info = engine
        .describe_group(&group.source_region, &group.arn, priority)
        .await?;
    if let Some(v) = crate::plan::group::until_active(&info.status, "A1") {
        return Ok((Err(v), None));
    }
    // The members first: a group's first read takes long at scale (2,000 agents are 200 pages at
    // 2/s) and the agents resolved below are not held meanwhile by every membership that waits.
    let sweep_eta = engine
        .ensure_members(&group.source_region, &group.arn)
        .await?;
    let resolution = resolve_agents(engine, group, want, priority, users_max_age).await?;
    let replica_users = engine
        .instance_user_ids(
            &group.replica_region,
            &group.instance_id,
            priority,
            users_max_age,
        )
        .await?;
    let mut desired_ids = BTreeSet::new();
    let mut pending = Vec::new();
    for (id, name) in &resolution.ids {
        if replica_users.contains(id) {
            desired_ids.insert(id.clone());
        } else {
            pending.push(name.clone());
        }
    }
    let mode = match obj.spec.mode {
        MembershipMode::Exact => Mode::Exact,
        MembershipMode::Additive => Mode::Additive,
    };
    let could_remove = engine.with_members(&group.arn, |current| {
        has_removal_candidates(&desired_ids, current, mode)
    });
    let declared_by_others = if could_remove {
        declared_by_others(
            engine,
            obj,
            objects,
            group,
            users_max_age.max(engine.resync / 2),
        )
        .await?
    } else {
        BTreeSet::new()
    };
    let members = engine.members_now(&group.arn);
    let sweep_left =
        sweep_eta.map(|eta| eta.saturating_duration_since(tokio::time::Instant::now()));
    Ok((
        Ok(Seen {
            mode,
            resolution: Arc::new(resolution),
            desired_ids: Arc::new(desired_ids),
            pending,
            declared_by_others,
            members,
            sweep_left,
            users: None,
        }),
        sweep_eta,
    ))
}

/// The user ids the group's other live memberships declare. A failed read of the memberships is
/// an error: taking it for "no other membership" would remove their agents.
pub(super) async fn declared_by_others(
    engine: &Engine,
    obj: &AgentMembership,
    objects: &dyn Objects,
    group: &GroupRef,
    users_max_age: std::time::Duration,
) -> Result<BTreeSet<String>, PassError> {
    let ns = obj.namespace().unwrap_or_default();
    let mut ids = BTreeSet::new();
    for other in objects.memberships(&ns).await? {
        let live = other.metadata.deletion_timestamp.is_none();
        if live && other.spec.group_ref.name == obj.spec.group_ref.name && other.uid() != obj.uid()
        {
            let theirs = resolve_agents(
                engine,
                group,
                &desired_of(&other),
                Priority::Normal,
                users_max_age,
            )
            .await?;
            ids.extend(theirs.ids.into_keys());
        }
    }
    Ok(ids)
}

pub use super::membership_cleanup::cleanup;
