//! Pure planning: (desired, observed, now) -> what to do next. No async, no I/O, no clock reads.
//! Each planner takes plain data (mapped from the CRD spec and from `connect` observations by
//! the reconcilers) and returns a decision the executor carries out.

pub mod directory;
pub mod distribution;
pub mod drift;
pub mod drill;
pub mod drill_report;
pub mod drill_run;
pub mod fallback;
pub mod flow_scan;
pub mod gates;
pub mod group;
pub mod group_pass;
pub mod invariants;
pub mod membership;
pub mod membership_pass;
pub mod preflight;
pub mod preflight_gate;
pub mod preflight_report;
pub mod read_ttl;
pub mod replica;
pub mod report;
pub mod rollout_pass;
pub mod split;
pub mod split_writes;
pub mod sweep;
pub mod user_ids;
pub mod webhook_hosts;
pub mod write_intent;
pub mod writer_lease;

use std::time::Duration;

pub use crate::connect::{
    Distribution, DistributionUpdate, GroupInfo, InstanceInfo, PhoneNumberInfo, UserInfo,
};

/// Where an object stands after a pass (maps onto Ready / Reconciling / Stalled).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Ready(String),
    Progressing { reason: String, message: String },
    Stalled { reason: String, message: String },
}

impl Verdict {
    pub fn progressing(reason: &str, message: impl Into<String>) -> Self {
        Self::Progressing {
            reason: reason.into(),
            message: message.into(),
        }
    }
    pub fn stalled(reason: &str, message: impl Into<String>) -> Self {
        Self::Stalled {
            reason: reason.into(),
            message: message.into(),
        }
    }
    pub fn is_ready(&self) -> bool {
        matches!(self, Self::Ready(_))
    }
}

/// How a pass that ran to its end left the object: the verdict and when to look again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ending {
    pub verdict: Verdict,
    pub requeue: Duration,
}

impl Ending {
    pub fn new(verdict: Verdict, requeue: Duration) -> Self {
        Self { verdict, requeue }
    }
    /// Waiting for something else (a dependency, Connect settling): look again soon.
    pub fn wait(reason: &str, message: impl Into<String>) -> Self {
        Self::new(Verdict::progressing(reason, message), PROGRESS_REQUEUE)
    }
}

/// An Event to publish on the object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    pub warning: bool,
    pub reason: String,
    pub message: String,
}

impl Note {
    pub fn normal(reason: &str, message: impl Into<String>) -> Self {
        Self {
            warning: false,
            reason: reason.into(),
            message: message.into(),
        }
    }
    pub fn warning(reason: &str, message: impl Into<String>) -> Self {
        Self {
            warning: true,
            reason: reason.into(),
            message: message.into(),
        }
    }
}

/// Short requeue while something is in progress.
pub const PROGRESS_REQUEUE: Duration = Duration::from_secs(3);
