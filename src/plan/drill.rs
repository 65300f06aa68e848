//! FailoverDrill's run as a state machine. Pure: the reconciler reads every fact (the
//! distribution, the live split, the findings, the other drills, the gates' answers) and passes
//! the time; this decides whether a run starts or is skipped, and moves a run along
//! Shifting -> Holding -> Reverting -> ended. The drill never writes a split: the
//! TrafficDistribution does, reading the run from the drill's status ([`overlay`]); the drill
//! verifies what Connect took.
//!
//! Everything a restart needs is in `status.current` (the hold's end above all), so a controller
//! killed mid-run resumes on time.

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::{SignedDuration, Timestamp};

use super::gates::GateOutcome;
use super::preflight_gate::{Findings, refuse};
use super::{Ending, Note, Verdict};
use crate::api::annotations::{ManagementPolicy, Pause, management_policy, pause};
use crate::api::cron::{Cron, time_zone};
use crate::api::failover_drill::{
    DrillPhase, DrillResult, DrillRun, DrillStep, FailoverDrill, FailoverDrillStatus, RUN_NOW,
};
use crate::api::{TrafficDistribution, conditions, reasons};
use crate::connect::Distribution;

/// A scheduled run more than this late (the controller was down at its time) is skipped, not
/// started at a time nobody planned.
pub const MISSED_AFTER: Duration = Duration::from_secs(300);
/// Time allowed to reach the target, on top of the rollout's pauses.
pub const SHIFT_BUDGET: Duration = Duration::from_secs(300);
/// Time allowed for the revert before the run is Failed (the controller keeps reverting).
pub const REVERT_BUDGET: Duration = Duration::from_secs(180);
/// How often the gates are asked while shifting and holding.
pub const CHECK_EVERY: Duration = Duration::from_secs(5);
/// Longest an idle drill goes unlooked at (seconds): Connect's clock may jump (the emulator's
/// virtual clock in a test), and a pass of an idle drill costs no call.
pub const IDLE_LOOK: u64 = 60;
/// Steps kept per run.
pub const MAX_STEPS: usize = 20;

/// Figures seen in the region taking the traffic (for the report).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Figures {
    pub agents_available: Option<i64>,
    pub oldest_contact_age_seconds: Option<i64>,
}

/// What the decision is taken on.
pub struct Facts<'a> {
    pub drill: &'a FailoverDrill,
    /// The referenced TrafficDistribution (`None`: it does not exist).
    pub distribution: Option<&'a TrafficDistribution>,
    /// The group's two regions (source first), once known.
    pub regions: Option<&'a [String; 2]>,
    /// The live split (`None`: not read yet; the plan asks for it when it matters).
    pub live: Option<&'a Distribution>,
    pub findings: Findings<'a>,
    /// Other drills with a run in progress on the same group.
    pub others_running: &'a [String],
    /// The abort gates' answers (`None`: not asked yet).
    pub gates: Option<&'a [GateOutcome]>,
    pub figures: Option<Figures>,
    /// Writes are withheld (observe mode): no run starts.
    pub observe: bool,
    pub now: Timestamp,
}

/// A fact worth reading only now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Read {
    /// The distribution's live split.
    Split,
    /// The abort gates (and the figures for the report), about the move from the declared split
    /// to the target.
    Gates,
}

/// What the pass does.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub status: FailoverDrillStatus,
    pub notes: Vec<Note>,
    pub ending: Ending,
    /// A run to start (the one "write" of a drill: the distribution acts on it). Withheld in
    /// observe mode.
    pub start: Option<Box<DrillRun>>,
    /// Runs that ended in this pass, for the metrics: (result, seconds from start to end).
    pub ended: Vec<(DrillResult, f64)>,
}

pub enum Decided {
    Read(Read),
    Plan(Box<Plan>),
}

/// The run a TrafficDistribution works towards: its drill's phase, target and rollout.
#[derive(Debug, Clone, PartialEq)]
pub struct Overlay {
    pub drill: String,
    pub phase: DrillPhase,
    pub drill_spec: crate::api::failover_drill::FailoverDrillSpec,
}

/// The drill run `td` is part of, if any: the oldest run in progress among the drills that
/// name it (two at once are prevented at start; the oldest wins should it happen).
pub fn overlay(td_name: &str, drills: &[FailoverDrill]) -> Option<Overlay> {
    drills
        .iter()
        .filter(|d| d.spec.distribution_ref.name == td_name)
        .filter_map(|d| {
            let s = d.status.as_ref()?;
            let run = s.current.as_ref()?;
            (s.phase != DrillPhase::Idle).then_some((run.start.0, d))
        })
        .min_by_key(|(start, _)| *start)
        .map(|(_, d)| Overlay {
            drill: d.metadata.name.clone().unwrap_or_default(),
            phase: d.status.as_ref().map(|s| s.phase).unwrap_or_default(),
            drill_spec: d.spec.clone(),
        })
}

/// The TrafficDistribution as its reconcile takes it during a run: while shifting and holding,
/// the drill's target with the drill's rollout (its gates are the drill's to check: they abort
/// the run); while reverting, the declared split at once. Drift settings stay as declared.
pub fn effective(td: &TrafficDistribution, o: &Overlay) -> TrafficDistribution {
    let mut eff = td.clone();
    if o.phase.at_target() {
        if let Some(t) = &o.drill_spec.target.telephony {
            eff.spec.telephony = Some(t.clone());
        }
        if let Some(a) = &o.drill_spec.target.agents {
            eff.spec.agents = Some(a.clone());
        }
        eff.spec.rollout = o.drill_spec.rollout.clone().map(|mut r| {
            r.gates.clear();
            r.paused = false;
            r
        });
    } else {
        eff.spec.rollout = None;
    }
    eff
}

/// Whether `live` has every percentage `want` sets.
fn has(live: &BTreeMap<String, i32>, want: Option<&BTreeMap<String, i32>>) -> bool {
    want.is_none_or(|w| w.iter().all(|(r, p)| live.get(r) == Some(p)))
}

/// Whether Connect has the drill's target.
pub fn at_target(drill: &FailoverDrill, live: &Distribution) -> bool {
    has(&live.telephony, drill.spec.target.telephony.as_ref())
        && has(&live.agents, drill.spec.target.agents.as_ref())
}

/// Whether Connect has the split `td` declares (telephony and agents).
pub fn at_declared(td: &TrafficDistribution, live: &Distribution) -> bool {
    has(&live.telephony, td.spec.telephony.as_ref()) && has(&live.agents, td.spec.agents.as_ref())
}

/// Short form of a split, `T 0/100 A 0/100` over `regions`.
pub fn short(d: &Distribution, regions: Option<&[String; 2]>) -> String {
    // The distribution's summary without sign-in (a drill moves telephony and agents only).
    let split = Distribution {
        sign_in: Default::default(),
        ..d.clone()
    };
    let mut keys = d.telephony.keys().cloned();
    let found = [
        keys.next().unwrap_or_default(),
        keys.next().unwrap_or_default(),
    ];
    super::distribution::summary(&split, regions.unwrap_or(&found))
}

pub(super) fn at(t: Timestamp) -> Time {
    Time(t)
}

pub(super) fn plus(t: Timestamp, d: Duration) -> Timestamp {
    t.checked_add(SignedDuration::from_secs(d.as_secs() as i64))
        .unwrap_or(t)
}

pub(super) fn secs(from: &Time, to: Timestamp) -> i64 {
    (to.as_second() - from.0.as_second()).max(0)
}

/// The next scheduled run strictly after `after`; `None` without a schedule (or when suspended).
pub fn next_run(drill: &FailoverDrill, after: Timestamp) -> Option<Timestamp> {
    if drill.spec.suspend {
        return None;
    }
    let cron = Cron::parse(drill.spec.schedule.as_deref()?).ok()?;
    cron.next_after(after, &time_zone(&drill.spec.time_zone).ok()?)
}

/// Why the schedule or its time zone cannot be used, if they cannot.
pub fn schedule_error(drill: &FailoverDrill) -> Option<String> {
    let schedule = drill.spec.schedule.as_deref()?;
    if let Err(e) = Cron::parse(schedule) {
        return Some(format!("spec.schedule: {e}"));
    }
    time_zone(&drill.spec.time_zone)
        .err()
        .map(|e| format!("spec.timeZone: {e}"))
}

/// What starts a run this pass, if anything.
enum Trigger {
    RunNow(String),
    Schedule,
}

impl Trigger {
    fn name(&self) -> &'static str {
        match self {
            Trigger::RunNow(_) => "run-now",
            Trigger::Schedule => "schedule",
        }
    }
}

/// The one decision of a pass, from the status the previous pass left.
pub fn decide(f: &Facts<'_>, previous: &FailoverDrillStatus) -> Decided {
    let mut status = previous.clone();
    status.plan = None;
    let mut notes = Vec::new();
    let generation = f.drill.metadata.generation;
    // What admission cannot check in full (CEL sees 5 fields, not their values).
    if let Some(why) = schedule_error(f.drill) {
        status.next_run_time = None;
        let mut plan = idle(f, status, notes);
        plan.ending.verdict = Verdict::stalled(reasons::INVALID_SCHEDULE, why);
        if previous.current.is_none() {
            return Decided::Plan(Box::new(plan));
        }
        // A run on goes on (and reverts) whatever the schedule says.
        status = plan.status;
        notes = plan.notes;
    }
    // The schedule as it is now: a change of the spec recomputes the next run from now.
    let trigger = match trigger(f, &mut status, generation) {
        Ok(t) => t,
        Err(skip) => {
            return Decided::Plan(Box::new(skip_run(f, status, notes, skip, None)));
        }
    };
    if status.current.is_some() && status.phase != DrillPhase::Idle {
        if let Some(t) = &trigger {
            // A trigger while a run is on is acted on (and reported) as skipped.
            let reason = "the previous run of this drill is still in progress".to_string();
            if let Trigger::RunNow(v) = t {
                status.last_handled_run_now = Some(v.clone());
            }
            let skipped = skipped_run(f, t.name(), &reason);
            notes.push(Note::warning(reasons::DRILL_SKIPPED, reason));
            push_history(&mut status, f.drill, skipped);
        }
        return super::drill_run::advance(f, status, notes);
    }
    status.phase = DrillPhase::Idle;
    status.current = None;
    // The one admission check that needs the distribution: a drill that would move nothing.
    if let Some(td) = f.distribution
        && let Err(e) = crate::api::validate_drill::against_distribution(&f.drill.spec, &td.spec)
    {
        if let Some(Trigger::RunNow(v)) = &trigger {
            status.last_handled_run_now = Some(v.clone());
        }
        let mut plan = idle(f, status, notes);
        plan.ending.verdict = Verdict::stalled(reasons::INVALID_TARGET, e.to_string());
        return Decided::Plan(Box::new(plan));
    }
    let Some(trigger) = trigger else {
        return Decided::Plan(Box::new(idle(f, status, notes)));
    };
    let Some(live) = f.live else {
        return Decided::Read(Read::Split);
    };
    if let Trigger::RunNow(v) = &trigger {
        status.last_handled_run_now = Some(v.clone());
    }
    if let Some(why) = refusal(f, live) {
        let plan = skip_run(f, status, notes, why, Some(&trigger));
        return Decided::Plan(Box::new(plan));
    }
    let target = target_split(f.drill, live);
    let mut run = new_run(f, trigger.name());
    let id = run.id.clone();
    run.steps.push(DrillStep {
        phase: "Shifting".into(),
        time: at(f.now),
        split: Some(short(live, f.regions)),
        gates: vec![],
        agents_available: None,
        oldest_contact_age_seconds: None,
    });
    let message = format!(
        "run {id} ({}): shifting {} from {} to {}",
        trigger.name(),
        f.drill.spec.distribution_ref.name,
        short(live, f.regions),
        short(&target, f.regions)
    );
    let mut plan = idle(f, status, notes);
    if !f.observe {
        plan.ending = Ending::new(
            Verdict::progressing(reasons::DRILL_RUNNING, message),
            Duration::from_secs(1),
        );
    }
    plan.start = Some(Box::new(run));
    Decided::Plan(Box::new(plan))
}

/// The drill's target over the live split (parts it does not set stay as they are).
pub(super) fn target_split(drill: &FailoverDrill, live: &Distribution) -> Distribution {
    let mut t = live.clone();
    if let Some(tel) = &drill.spec.target.telephony {
        t.telephony = tel.clone();
    }
    if let Some(a) = &drill.spec.target.agents {
        t.agents = a.clone();
    }
    t
}

/// Records the start of `run` (execute, or nothing in observe mode).
pub fn started(status: &mut FailoverDrillStatus, notes: &mut Vec<Note>, run: &DrillRun) {
    status.phase = DrillPhase::Shifting;
    status.current = Some(run.clone());
    let to = run.steps.first().and_then(|s| s.split.clone());
    notes.push(Note::normal(
        reasons::DRILL_STARTED,
        format!(
            "run {} ({}) started from {}",
            run.id,
            run.trigger,
            to.unwrap_or_default()
        ),
    ));
}

/// A run due now (run-now annotation, or the schedule), the next run recorded; `Err(reason)`
/// for a scheduled run missed by too much.
fn trigger(
    f: &Facts<'_>,
    status: &mut FailoverDrillStatus,
    generation: Option<i64>,
) -> Result<Option<Trigger>, String> {
    let run_now = f
        .drill
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(RUN_NOW))
        .filter(|v| Some(v.as_str()) != status.last_handled_run_now.as_deref())
        .cloned();
    let spec_changed = status.observed_generation != generation;
    let due = match (&status.next_run_time, spec_changed) {
        (Some(t), false) if t.0 <= f.now => Some(t.0),
        _ => None,
    };
    status.next_run_time = match due {
        Some(_) => next_run(f.drill, f.now).map(at),
        None if spec_changed || status.next_run_time.is_none() => next_run(f.drill, f.now).map(at),
        None => status.next_run_time.take(),
    };
    if f.drill.spec.suspend {
        status.next_run_time = None;
    }
    if let Some(v) = run_now {
        return Ok(Some(Trigger::RunNow(v)));
    }
    match due {
        Some(due) if f.now.as_second() - due.as_second() > MISSED_AFTER.as_secs() as i64 => {
            Err(format!(
                "the scheduled run of {} was missed (the controller was not running then); the next is at {}",
                due,
                status
                    .next_run_time
                    .as_ref()
                    .map_or("-".into(), |t| t.0.to_string())
            ))
        }
        Some(_) => Ok(Some(Trigger::Schedule)),
        None => Ok(None),
    }
}

/// Why a run may not start now, if it may not.
fn refusal(f: &Facts<'_>, live: &Distribution) -> Option<String> {
    let dist = &f.drill.spec.distribution_ref.name;
    let Some(td) = f.distribution else {
        return Some(format!("TrafficDistribution {dist} does not exist"));
    };
    let st = td.status.as_ref();
    let current = st.and_then(|s| s.observed_generation) == td.metadata.generation;
    let ready = st.and_then(|s| conditions::get(&s.conditions, conditions::READY));
    match ready {
        Some(c) if c.status == "True" && current => {}
        Some(c) => {
            return Some(format!(
                "TrafficDistribution {dist} is not Ready ({}: {})",
                c.reason, c.message
            ));
        }
        None => return Some(format!("TrafficDistribution {dist} is not Ready yet")),
    }
    // A distribution that does not write (observe mode, paused) would never reach the target.
    let notes = td.metadata.annotations.clone().unwrap_or_default();
    if management_policy(&notes, false) == ManagementPolicy::Observe {
        return Some(format!(
            "TrafficDistribution {dist} is in observe mode: it would not move the split"
        ));
    }
    if pause(&notes, f.now) != Pause::No {
        return Some(format!(
            "TrafficDistribution {dist} is paused (connectgr.io/paused)"
        ));
    }
    if let Some(r) = st.and_then(|s| s.rollout.as_ref())
        && r.phase.as_deref() != Some("Complete")
    {
        return Some(format!(
            "a rollout of TrafficDistribution {dist} is in progress (step {} of {})",
            r.step, r.of
        ));
    }
    if st.and_then(|s| s.drift.as_ref()).is_some() {
        return Some(format!(
            "TrafficDistribution {dist} has a change made outside the controller that is reported or paused, not corrected"
        ));
    }
    if !at_declared(td, live) {
        return Some(format!(
            "TrafficDistribution {dist} is not at its declared split (Connect has {})",
            short(live, f.regions)
        ));
    }
    if at_target(f.drill, live) {
        return Some(format!(
            "the target is the split TrafficDistribution {dist} declares: nothing to drill"
        ));
    }
    if let Some(other) = f.others_running.first() {
        return Some(format!(
            "FailoverDrill {other} is running on the same traffic distribution group"
        ));
    }
    let to = target_split(f.drill, live);
    let accepted = &td.spec.accept_risks;
    let none = Default::default();
    if let Some((reason, message)) =
        refuse(&f.findings, &live.telephony, &to.telephony, accepted, &none)
    {
        return Some(format!("{reason}: {message}"));
    }
    None
}

/// A run starting now, by `trigger`, from the live split.
fn new_run(f: &Facts<'_>, trigger: &str) -> DrillRun {
    DrillRun {
        id: format!(
            "{}-{}",
            f.now.strftime("%Y%m%dT%H%M%SZ"),
            trigger.replace('-', "")
        ),
        trigger: trigger.into(),
        start: at(f.now),
        end: None,
        result: None,
        reason: String::new(),
        from: f.live.map(|l| short(l, f.regions)),
        reverted_to: None,
        hold_start: None,
        hold_end: None,
        revert_start: None,
        shift_seconds: None,
        hold_seconds: None,
        revert_seconds: None,
        steps: vec![],
    }
}

/// A run that did not start: ended as it began, Skipped for `reason`.
pub(super) fn skipped_run(f: &Facts<'_>, trigger: &str, reason: &str) -> DrillRun {
    DrillRun {
        end: Some(at(f.now)),
        result: Some(DrillResult::Skipped),
        reason: reason.into(),
        ..new_run(f, trigger)
    }
}

fn skip_run(
    f: &Facts<'_>,
    mut status: FailoverDrillStatus,
    mut notes: Vec<Note>,
    reason: String,
    trigger: Option<&Trigger>,
) -> Plan {
    let name = trigger.map_or("schedule", Trigger::name);
    let run = skipped_run(f, name, &reason);
    notes.push(Note::warning(
        reasons::DRILL_SKIPPED,
        format!("run {} skipped: {reason}", run.id),
    ));
    push_history(&mut status, f.drill, run);
    let mut plan = idle(f, status, notes);
    plan.ended.push((DrillResult::Skipped, 0.0));
    plan
}

/// Newest first, at most historyLimit; `lastRun` is the newest.
pub(super) fn push_history(status: &mut FailoverDrillStatus, drill: &FailoverDrill, run: DrillRun) {
    status.last_run = Some(run.clone());
    status.runs.retain(|r| r.id != run.id);
    status.runs.insert(0, run);
    status
        .runs
        .truncate(drill.spec.history_limit.clamp(1, 50) as usize);
}

/// No run on: Ready, looked at again by the next run time (or the resync).
pub(super) fn idle(f: &Facts<'_>, status: FailoverDrillStatus, notes: Vec<Note>) -> Plan {
    let (message, again) = match &status.next_run_time {
        Some(t) => {
            let wait = (t.0.as_second() - f.now.as_second()).max(1) as u64;
            (
                format!("idle; next run at {}", t.0),
                Duration::from_secs(wait.min(IDLE_LOOK)),
            )
        }
        None if f.drill.spec.suspend => (
            "suspended; runs on demand only (connectgr.io/run-now)".to_string(),
            Duration::from_secs(IDLE_LOOK),
        ),
        None => (
            "idle; runs on demand (connectgr.io/run-now)".to_string(),
            Duration::from_secs(IDLE_LOOK),
        ),
    };
    let verdict = match status.last_run.as_ref().and_then(|r| r.result) {
        Some(DrillResult::Failed) => {
            Verdict::Ready(format!("{message}; the last run failed (reverted since)"))
        }
        _ => Verdict::Ready(message),
    };
    Plan {
        status,
        notes,
        ending: Ending::new(verdict, again),
        start: None,
        ended: vec![],
    }
}

#[cfg(test)]
#[path = "drill_tests.rs"]
mod tests;
