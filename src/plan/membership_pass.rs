//! AgentMembership's one decision, pure: the diff of the declared agents against the group's
//! members, split into the controller's own work and changes made outside it (drift: reported,
//! left alone or corrected by policy, pause and `connectgr.io/resume`), the association calls to
//! send, and the status, Events and ending of the pass. [`finish`] records what a batch of the
//! planned calls did (the same function gives the status before any call: a batch that made
//! none). Agents put in by hand are named from the instance's users, asked for ([`decide`]
//! answers [`Decided::NeedUsers`]) only when there are some.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::jiff::Timestamp;

use super::directory::Directory;
use super::drift;
use super::membership::{MembershipDiff, Mode, Next, Progress, Resolution, diff, verdict};
use super::{Ending, Note, Verdict};
use crate::api::AgentMembershipStatus;
use crate::api::agent_membership::KeptMembers;
use crate::api::annotations::RESUME as RESUME_ANNOTATION;
use crate::api::common::STATUS_LIST_CAP;
use crate::api::drift::{DriftPolicy, DriftStatus};
use crate::api::reasons;

/// What a pass read before it decides.
#[derive(Debug, Clone, Default)]
pub struct Seen {
    pub mode: Mode,
    pub resolution: Arc<Resolution>,
    /// Declared agents that are users of both regions (A2): the ones to associate.
    pub desired_ids: Arc<BTreeSet<String>>,
    /// Declared agents not mirrored to the replica yet, by username.
    pub pending: Vec<String>,
    /// What the group's other live memberships declare (read only when this one could remove).
    pub declared_by_others: BTreeSet<String>,
    /// The group's members as known when the pass read them.
    pub members: Arc<BTreeSet<String>>,
    /// How long a members sweep in flight has left (then look again, to act on what it found).
    pub sweep_left: Option<Duration>,
    /// The instance's users, read on request to name agents put in by hand.
    pub users: Option<Arc<Directory>>,
}

/// The settings and facts of the object the decision needs besides what was read.
#[derive(Debug, Clone)]
pub struct Facts<'a> {
    pub seen: &'a Seen,
    /// The status so far (the previous pass's, with the group recorded).
    pub status: &'a AgentMembershipStatus,
    /// `generation == observedGeneration`.
    pub generation_applied: bool,
    /// The spec less the drift settings ([`drift::spec_hash`]).
    pub spec_hash: &'a str,
    pub policy: DriftPolicy,
    pub pause_seconds: i64,
    /// A `connectgr.io/resume` value not acted on yet.
    pub resume: Option<&'a str>,
    pub instance_id: &'a str,
    pub replica_region: &'a str,
    pub resync: Duration,
    pub now: Timestamp,
}

pub enum Decided {
    /// Agents were put in by hand: read the instance's users to name them, then decide again.
    NeedUsers,
    Plan(Box<Plan>),
}

/// Everything the pass sends and records.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The association calls to send.
    pub calls: MembershipDiff,
    /// A drift being corrected by this pass (and why).
    pub correcting: Option<drift::Why>,
    /// The status, Events and ending before any call (as if the batch made none).
    pub before: (AgentMembershipStatus, Vec<Note>, Ending),
    /// For [`finish`]: the status and Events the plan records whatever the batch does.
    status: AgentMembershipStatus,
    notes: Vec<Note>,
    resume: Option<String>,
    held: Option<DriftStatus>,
    /// Kept agents taken out by hand that are being left alone.
    held_out: Vec<String>,
    // Shared with the Seen it came from: ten memberships of 5,000 agents planning at one
    // resync would otherwise each copy both.
    desired_ids: Arc<BTreeSet<String>>,
    resolution: Arc<Resolution>,
    pending: Vec<String>,
    sweep_left: Option<Duration>,
    instance_id: String,
    replica_region: String,
    resync: Duration,
    /// While a drift is left alone: when to look again.
    recheck: Option<Duration>,
}

/// What a batch of the planned calls did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Landed {
    pub added: usize,
    pub removed: usize,
    /// Associations Connect answered NotFound (A2: not a user of both regions yet).
    pub not_found: Vec<String>,
    /// The first call that failed: (terminal?, message).
    pub error: Option<(bool, String)>,
}

/// How a pass ends once the batch is done.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    End(Ending),
    /// The batch's error ends the pass (terminal, or nothing was done).
    Failed,
}

/// The one decision of a pass.
pub fn decide(f: Facts<'_>) -> Decided {
    let seen = f.seen;
    let plan = diff(
        &seen.desired_ids,
        &seen.declared_by_others,
        &seen.members,
        seen.mode,
    );
    let kept = f
        .status
        .kept_members
        .as_ref()
        .map(|k| drift::decode_kept(&k.fingerprints));
    let split = drift::split_membership(&plan, kept.as_ref());
    if !split.outside.disassociate.is_empty() && seen.users.is_none() {
        return Decided::NeedUsers;
    }
    let name_of = |id: &str| {
        seen.resolution
            .ids
            .get(id)
            .cloned()
            .or_else(|| {
                seen.users
                    .as_ref()
                    .and_then(|u| u.by_id(id).map(|u| u.username.to_string()))
            })
            .unwrap_or_else(|| id.to_string())
    };
    let decision = drift::decide(drift::Facts {
        changes: drift::membership_changes(&split.outside, name_of),
        generation_applied: f.generation_applied,
        spec_hash: f.spec_hash,
        previous: f.status.drift.as_ref(),
        policy: f.policy,
        pause_seconds: f.pause_seconds,
        now: f.now,
        resume: f.resume.is_some(),
    });
    let mut status = f.status.clone();
    let mut notes = Vec::new();
    let detected = |notes: &mut Vec<Note>, d: &DriftStatus, new: bool| {
        if new {
            notes.push(Note::warning(reasons::DRIFT_DETECTED, d.message.clone()));
        }
    };
    // What this pass sends: everything, unless a change made outside is being left alone.
    let (calls, held, correcting) = match decision {
        drift::Decision::Report { drift, new } => {
            detected(&mut notes, &drift, new);
            (split.now.clone(), Some(drift), None)
        }
        drift::Decision::Correct { drift, new, why } => {
            detected(&mut notes, &drift, new);
            let how = match why {
                drift::Why::PauseOver => format!("after driftPauseSeconds {}", f.pause_seconds),
                drift::Why::Resumed => format!("on {RESUME_ANNOTATION}"),
            };
            notes.push(Note::warning(
                reasons::DRIFT_CORRECTED,
                format!(
                    "group membership {} ({how}); restoring it",
                    drift::describe(&drift.changes, drift.total as usize)
                ),
            ));
            (plan, None, Some(why))
        }
        drift::Decision::InSync => {
            if let Some(d) = status.drift.take() {
                let why = if split.outside.is_empty() {
                    "the group's members are as the controller keeps them again"
                } else {
                    "the spec changed; it is applied"
                };
                notes.push(Note::normal(
                    reasons::DRIFT_RESOLVED,
                    format!(
                        "{why} (reported: {})",
                        drift::describe(&d.changes, d.total as usize)
                    ),
                ));
            }
            (plan, None, None)
        }
    };
    // Recorded before the batch's outcome is: a failed pass keeps the pause's start.
    status.drift = held.clone();
    let recheck = held
        .as_ref()
        .map(|d| drift::recheck_after(d, f.now, f.resync));
    let mut plan = Plan {
        calls,
        correcting,
        before: (
            AgentMembershipStatus::default(),
            vec![],
            Ending::new(Verdict::Ready(String::new()), f.resync),
        ),
        status,
        notes,
        resume: f.resume.map(str::to_string),
        held_out: match held {
            Some(_) => split.outside.associate,
            None => vec![],
        },
        held,
        desired_ids: seen.desired_ids.clone(),
        resolution: seen.resolution.clone(),
        pending: seen.pending.clone(),
        sweep_left: seen.sweep_left,
        instance_id: f.instance_id.to_string(),
        replica_region: f.replica_region.to_string(),
        resync: f.resync,
        recheck,
    };
    let (status, notes, outcome) = finish(&plan, &Landed::default(), &seen.members, None);
    let ending = match outcome {
        Outcome::End(e) => e,
        // No call, no error.
        Outcome::Failed => unreachable!("a batch without calls does not fail"),
    };
    plan.before = (status, notes, ending);
    Decided::Plan(Box::new(plan))
}

impl Plan {
    /// `(associate?, user id)` calls, leaves first.
    pub fn calls(&self) -> Vec<(bool, String)> {
        self.calls.calls()
    }
}

/// The status, Events and ending once a batch of the planned calls `landed`; `members`: the
/// group's members known after it; `sweep_left`: a members sweep in flight's time left as of now
/// (`None`: as observed).
pub fn finish(
    plan: &Plan,
    landed: &Landed,
    members: &BTreeSet<String>,
    sweep_left: Option<Duration>,
) -> (AgentMembershipStatus, Vec<Note>, Outcome) {
    let mut status = plan.status.clone();
    let mut notes = plan.notes.clone();
    // The declared agents the controller keeps: those that are members now, those taken out by
    // hand that are being left alone (still kept: they come back when corrected), and those it
    // is taking out and has not yet (so the rest of a batch is never mistaken for drift).
    let kept: Vec<&String> = plan
        .desired_ids
        .iter()
        .filter(|id| members.contains(*id))
        .chain(
            plan.calls
                .disassociate
                .iter()
                .filter(|id| members.contains(*id)),
        )
        .chain(plan.held_out.iter())
        .collect();
    let (count, fingerprints) = drift::encode_kept(kept);
    status.kept_members = Some(KeptMembers {
        count,
        fingerprints,
    });
    let failed = landed.error.is_some();
    // A correction on `connectgr.io/resume` that failed is tried again on the same value.
    if !(failed && plan.correcting == Some(drift::Why::Resumed)) {
        status.last_handled_resume = plan.resume.clone().or(status.last_handled_resume.take());
    }
    let outcome = report(plan, &mut status, &mut notes, landed, members, sweep_left);
    let outcome = match (outcome, &plan.held, plan.recheck) {
        (Outcome::End(ending), Some(d), Some(after)) => Outcome::End(match ending.verdict {
            // Nothing else to do: the object stands as drifted (not in progress, not failed).
            Verdict::Ready(_) => Ending::new(
                Verdict::progressing(reasons::DRIFT_DETECTED, d.message.clone()),
                after,
            ),
            // Work of its own still goes on; status.drift says what is left alone meanwhile.
            v => Ending::new(v, ending.requeue.min(after)),
        }),
        (o, _, _) => o,
    };
    (status, notes, outcome)
}

fn cap(mut v: Vec<String>) -> Vec<String> {
    v.truncate(STATUS_LIST_CAP);
    v
}

/// Records the counts in status and says where the membership stands.
fn report(
    plan: &Plan,
    status: &mut AgentMembershipStatus,
    notes: &mut Vec<Note>,
    landed: &Landed,
    members: &BTreeSet<String>,
    sweep_left: Option<Duration>,
) -> Outcome {
    let resolution = &plan.resolution;
    // A2: not (yet) a user of the source/replica: report as pending.
    let mut pending_names = plan.pending.clone();
    pending_names.extend(landed.not_found.iter().map(|id| {
        resolution
            .ids
            .get(id)
            .cloned()
            .unwrap_or_else(|| id.clone())
    }));
    pending_names.sort();
    pending_names.dedup();
    let associated = resolution
        .ids
        .keys()
        .filter(|id| members.contains(*id))
        .count();
    let desired_count = resolution.ids.len();
    let mut unknown = resolution.unknown_users.clone();
    unknown.extend(
        resolution
            .unknown_selectors
            .iter()
            .map(|s| format!("selector:{s}")),
    );
    status.desired = Some(desired_count as i32);
    status.associated_count = Some(associated as i32);
    status.associated = Some(format!("{associated}/{desired_count}"));
    status.pending_count = Some(pending_names.len() as i32);
    status.pending = cap(pending_names.clone());
    status.unknown = cap(unknown.clone());
    status.removed_count = Some(status.removed_count.unwrap_or(0) + landed.removed as i32);

    let (added, removed) = (landed.added, landed.removed);
    if added + removed > 0 {
        notes.push(Note::normal(
            reasons::MEMBERSHIP_UPDATED,
            format!("associated {added}, disassociated {removed} ({associated}/{desired_count})"),
        ));
    }
    if let Some((terminal, e)) = &landed.error {
        if !terminal && added + removed > 0 {
            // Progress was made: it is in status; keep going rather than backing off.
            return Outcome::End(Ending::wait(
                reasons::ASSOCIATING,
                format!("{associated}/{desired_count} associated; retrying: {e}"),
            ));
        }
        return Outcome::Failed;
    }
    let progress = Progress {
        remaining: (plan.calls.associate.len() + plan.calls.disassociate.len())
            .saturating_sub(added + removed),
        unknown,
        pending: pending_names,
        associated,
        desired: desired_count,
    };
    let (verdict, next) = verdict(&progress, &plan.instance_id, &plan.replica_region);
    // A drift sweep in flight: look again as soon as it should be done, to act on what it found.
    let after_sweep = sweep_left
        .or(plan.sweep_left)
        .map(|d| (d + Duration::from_millis(500)).min(plan.resync))
        .unwrap_or(plan.resync);
    let requeue = match next {
        Next::Continue => Duration::from_millis(200),
        Next::Replication => Duration::from_secs(5),
        Next::Resync => after_sweep,
    };
    Outcome::End(Ending::new(verdict, requeue))
}

#[cfg(test)]
#[path = "membership_pass_tests.rs"]
mod tests;
