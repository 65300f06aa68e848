//! Pure planning: (desired, observed, now) -> what to do next. No async, no I/O, no clock reads.
//! Each planner takes plain data (mapped from the CRD spec and from `connect` observations by
//! the reconcilers) and returns a decision the executor carries out.

pub mod distribution;
pub mod drift;
pub mod fallback;
pub mod flow_scan;
pub mod gates;
pub mod group;
pub mod invariants;
pub mod membership;
pub mod preflight;
pub mod preflight_gate;
pub mod preflight_report;
pub mod replica;
pub mod report;
pub mod sweep;
pub mod webhook_hosts;
pub mod write_intent;
pub mod writer_lease;

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
