//! The preflight gate of a TrafficDistribution, failing closed (issue 25): which regions the
//! move leaves that are really down, and whether a move of telephony may go. Pure.
//!
//! - A region is down only when the probe failed the way an outage does: a connection failure,
//!   a timeout, a 5xx (`ConnectError::is_outage`). A throttled or NotFound answer is an answer:
//!   the region is up, the findings stand.
//! - Findings that cannot be known (the group, the InstanceReplica or its `status.preflight` is
//!   missing) refuse a move into a region as `PreflightUnknown`, unless the region being left is
//!   down or `spec.acceptRisks` lists `PreflightUnknown`.

use std::collections::{BTreeMap, BTreeSet};

use crate::api::preflight::PreflightStatus;
use crate::api::reasons;
use crate::connect::ConnectError;

use super::preflight::refuse_move;

/// The findings the gate decides on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Findings<'a> {
    /// `status.preflight` of the group's InstanceReplica.
    Known(&'a PreflightStatus),
    /// A group addressed by `instanceArn` has no InstanceReplica, hence no preflight: not gated.
    NotManaged,
    /// What is missing, e.g. "InstanceReplica support/support-center has no status.preflight".
    Unknown(String),
}

/// How a probe (DescribeInstance) of a region telephony leaves ended.
pub fn down_after_probe(probe: &Result<(), ConnectError>) -> bool {
    matches!(probe, Err(e) if e.is_outage())
}

fn pct(m: &BTreeMap<String, i32>, r: &str) -> i32 {
    m.get(r).copied().unwrap_or(0)
}

/// The regions telephony moves away from (the ones worth probing when the move is refused).
pub fn regions_left(before: &BTreeMap<String, i32>, after: &BTreeMap<String, i32>) -> Vec<String> {
    before
        .keys()
        .filter(|r| pct(after, r) < pct(before, r))
        .cloned()
        .collect()
}

/// `Some((reason, message))` when the move from `before` to `after` must not be sent. `down`:
/// the regions left that were probed and found down (empty before any probe).
pub fn refuse(
    findings: &Findings<'_>,
    before: &BTreeMap<String, i32>,
    after: &BTreeMap<String, i32>,
    accepted: &[String],
    down: &BTreeSet<String>,
) -> Option<(&'static str, String)> {
    let into: Vec<&String> = after
        .keys()
        .filter(|r| pct(after, r) > pct(before, r))
        .collect();
    if into.is_empty() || regions_left(before, after).iter().any(|r| down.contains(r)) {
        return None;
    }
    match findings {
        Findings::NotManaged => None,
        Findings::Known(st) => {
            refuse_move(st, before, after, accepted, down).map(|m| (reasons::PREFLIGHT_BLOCKING, m))
        }
        Findings::Unknown(_) if accepted.iter().any(|k| k == reasons::PREFLIGHT_UNKNOWN) => None,
        Findings::Unknown(why) => Some((
            reasons::PREFLIGHT_UNKNOWN,
            format!(
                "telephony would move into {} but its preflight findings are unknown ({why}); the move waits for them unless the region left is down or spec.acceptRisks lists {}",
                into.iter()
                    .map(|r| r.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
                reasons::PREFLIGHT_UNKNOWN
            ),
        )),
    }
}

#[cfg(test)]
#[path = "preflight_gate_tests.rs"]
mod tests;
