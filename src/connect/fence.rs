//! A gate in front of every Connect write (issue 21, one writer across clusters): checked after
//! the call has its scheduler token, right before it is sent, so a cluster whose writer lease has
//! run out sends nothing, even from a pass that began while it held the lease.

use std::sync::Arc;

/// Says whether a write may be sent now.
#[derive(Clone)]
pub struct WriteFence(pub Arc<dyn Fn() -> bool + Send + Sync>);

impl std::fmt::Debug for WriteFence {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WriteFence")
    }
}

impl WriteFence {
    pub fn new(allows: impl Fn() -> bool + Send + Sync + 'static) -> Self {
        Self(Arc::new(allows))
    }

    pub fn allows(&self) -> bool {
        (self.0)()
    }
}

/// The Connect operations that change something (every other one the controller calls reads).
pub const WRITE_OPERATIONS: &[&str] = &[
    "AssociateLambdaFunction",
    "AssociateTrafficDistributionGroupUser",
    "CreateTrafficDistributionGroup",
    "DeleteTrafficDistributionGroup",
    "DisassociateLambdaFunction",
    "DisassociateTrafficDistributionGroupUser",
    "ReplicateInstance",
    "TagResource",
    "UntagResource",
    "UpdateCrossRegionRouting",
    "UpdatePhoneNumber",
    "UpdateTrafficDistribution",
];

pub fn is_write(operation: &str) -> bool {
    WRITE_OPERATIONS.contains(&operation)
}

/// The error a withheld write ends in: transient (the pass is retried, in observe mode while
/// this cluster does not hold the lease).
pub fn withheld(operation: &str) -> super::ConnectError {
    super::ConnectError::Transient(format!(
        "{operation} not sent: this cluster does not hold the writer lease (or its renewal is overdue)"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_write_the_dry_run_records_is_a_fenced_operation() {
        let src = include_str!("dry_run.rs");
        for chunk in src.split("self.write(").skip(1) {
            let op: String = chunk
                .split('"')
                .nth(1)
                .unwrap_or("")
                .chars()
                .take_while(|c| c.is_ascii_alphabetic())
                .collect();
            assert!(is_write(&op), "{op:?} is a write the fence does not know");
        }
        assert!(!is_write("DescribeInstance"));
    }
}
