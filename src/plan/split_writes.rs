//! The writes `plan::split::decide` plans for a TrafficDistribution, and what each does to
//! status once Connect took it. Pure.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;

use super::distribution::summary;
use super::{Ending, Note};
use crate::api::preflight::CrossRegionRouting;
use crate::api::traffic_distribution::LastAppliedSplit;
use crate::api::{RolloutStatus, TrafficDistributionStatus, reasons};
use crate::connect::{Distribution, DistributionUpdate};

/// A write the plan makes, in order; a write Connect refuses ends the pass with `on_rejected`
/// when given (otherwise the error's class decides), and the writes after it are not sent.
#[derive(Debug, Clone, PartialEq)]
pub enum Write {
    /// UpdateCrossRegionRouting through `order`.
    Routing {
        instance_id: String,
        isolated: bool,
        order: [String; 2],
        on_rejected: Ending,
    },
    /// UpdateTrafficDistribution through `order`, with its write intent recorded first.
    Split(Box<SplitWrite>),
}

/// What becomes of `status.rollout` once a split write is taken.
#[derive(Debug, Clone, PartialEq)]
pub enum Landing {
    Keep,
    Set(RolloutStatus),
    Clear,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SplitWrite {
    pub arn: String,
    pub update: DistributionUpdate,
    pub order: [String; 2],
    /// `status.pendingSplit` while the write is in flight.
    pub intent: LastAppliedSplit,
    /// Connect's split once the update is taken.
    pub after: Distribution,
    /// `status.rollout` once the update is taken.
    pub rollout: Landing,
    /// A drift this write corrects: the message of its DriftCorrected Event.
    pub corrects: Option<String>,
    /// The `connectgr.io/resume` value that asked for the correction: handled once it is sent.
    pub resume_handled: Option<String>,
    /// Where the split was read from (for the Event: the source region bypassed).
    pub read_from: String,
    pub source_region: String,
    pub regions: [String; 2],
    pub from_summary: String,
}

pub(super) fn record(
    status: &mut TrafficDistributionStatus,
    d: &Distribution,
    regions: &[String; 2],
) {
    status.telephony = Some(d.telephony.clone()).filter(|m| !m.is_empty());
    status.agents = Some(d.agents.clone()).filter(|m| !m.is_empty());
    status.sign_in = Some(d.sign_in.clone()).filter(|m| !m.is_empty());
    status.split = Some(summary(d, regions));
    if let Some(r) = status.cross_region_routing {
        status.split = status.split.take().map(|s| format!("{s}, routing {r:?}"));
    }
}

pub fn note_routing(status: &mut TrafficDistributionStatus, want: CrossRegionRouting) {
    status.cross_region_routing = Some(want);
    if let Some(split) = &status.split
        && !split.contains("routing")
    {
        status.split = Some(format!("{split}, routing {want:?}"));
    }
}

/// A split write Connect took (through `served`): the status and Events that record it.
pub fn landed(
    status: &mut TrafficDistributionStatus,
    notes: &mut Vec<Note>,
    w: &SplitWrite,
    served: &str,
    now: Timestamp,
) {
    record(status, &w.after, &w.regions);
    status.last_applied = Some(w.intent.clone());
    status.served_by = Some(served.to_string());
    status.last_shift_time = Some(Time(now));
    if let Some(v) = &w.resume_handled {
        status.last_handled_resume = Some(v.clone());
    }
    match &w.rollout {
        Landing::Keep => {}
        Landing::Set(r) => status.rollout = Some(r.clone()),
        Landing::Clear => status.rollout = None,
    }
    if let Some(m) = &w.corrects {
        notes.push(Note::warning(reasons::DRIFT_CORRECTED, m.clone()));
    }
    notes.push(Note::normal(
        reasons::TRAFFIC_SHIFTED,
        format!(
            "{} -> {} (UpdateTrafficDistribution via {served}{})",
            w.from_summary,
            summary(&w.after, &w.regions),
            if served != w.read_from || served != w.source_region {
                ", source region bypassed"
            } else {
                ""
            }
        ),
    ));
}

impl Write {
    /// `[region] Operation detail`, as `status.plan` lists it.
    pub fn describe(&self) -> String {
        match self {
            Self::Routing {
                instance_id,
                isolated,
                order,
                ..
            } => format!(
                "[{}] UpdateCrossRegionRouting instance={instance_id} isolatedAll={isolated}",
                order[0]
            ),
            Self::Split(w) => format!(
                "[{}] UpdateTrafficDistribution {} telephony={:?} agents={:?} signIn={:?}",
                w.order[0], w.arn, w.update.telephony, w.update.agents, w.update.sign_in
            ),
        }
    }
}
