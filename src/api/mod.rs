//! CRD types, validation rules and condition helpers. No I/O, no AWS SDK types
//! (`run_crds`, the `connect-gr crds` command, is the one exception: it prints or writes files).
//!
//! API group `connectgr.io`, version `v1alpha1`, six namespaced kinds in the `connectgr`
//! category: [`InstanceReplica`] (irep), [`TrafficDistributionGroup`] (tdg),
//! [`AgentMembership`] (agm), [`TrafficDistribution`] (tdist), [`CallerDenylist`] (cdl), [`FailoverDrill`] (drill).

use std::path::PathBuf;

pub mod agent_membership;
pub mod annotations;
pub mod caller_denylist;
pub mod common;
pub mod conditions;
pub mod crd;
pub mod cron;
pub mod drift;
pub mod failover_drill;
pub mod instance_replica;
pub mod preflight;
pub mod reasons;
pub mod regions;
pub mod rollout;
pub mod traffic_distribution;
pub mod traffic_distribution_group;
pub mod validate;
pub mod validate_drill;

pub use agent_membership::{
    AgentMembership, AgentMembershipSpec, AgentMembershipStatus, AgentSelector, MembershipMode,
};
pub use caller_denylist::{
    CallerDenylist, CallerDenylistSpec, CallerDenylistStatus, DenylistRegionStatus, LambdaFunctions,
};
pub use common::{DeletionPolicy, ObjectRef};
pub use drift::{DriftChange, DriftPolicy, DriftStatus};
pub use failover_drill::{
    DrillPhase, DrillResult, DrillRun, DrillStep, DrillTarget, FailoverDrill, FailoverDrillSpec,
    FailoverDrillStatus,
};
pub use instance_replica::{
    InstanceReplica, InstanceReplicaSpec, InstanceReplicaStatus, ReplicationRegionStatus,
};
pub use regions::{RegionPair, RegionPairs};
pub use rollout::{Gate, GateStatus, OnFailure, RolloutStart};
pub use traffic_distribution::{
    Rollout, RolloutStatus, TrafficDistribution, TrafficDistributionSpec, TrafficDistributionStatus,
};
pub use traffic_distribution_group::{
    TrafficDistributionGroup, TrafficDistributionGroupSpec, TrafficDistributionGroupStatus,
};

/// API group of every kind.
pub const GROUP: &str = "connectgr.io";
/// API version of every kind.
pub const VERSION: &str = "v1alpha1";
/// Finalizer on objects with external state.
pub const FINALIZER: &str = "connectgr.io/cleanup";
/// Server-side-apply field manager.
pub const FIELD_MANAGER: &str = "connect-gr";

/// `connect-gr crds`: print the CRDs, or write one file per kind into a directory.
#[derive(clap::Args, Debug, Clone)]
pub struct CrdsArgs {
    /// Write `<plural>.connectgr.io.yaml` files into this directory instead of printing.
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// Extra replication pair for the region rules (R1), e.g. `ca-central-1<->us-east-2` or
    /// `eu-west-1->eu-west-3`. Repeatable.
    #[arg(long = "region-pair", value_name = "PAIR")]
    pub region_pairs: Vec<RegionPair>,
    /// With --dir: do not write, fail when the directory's files differ from the generated ones.
    #[arg(long, requires = "dir")]
    pub check: bool,
}

pub fn run_crds(args: CrdsArgs) -> anyhow::Result<()> {
    let pairs = RegionPairs::with_extra(args.region_pairs);
    let Some(dir) = args.dir else {
        print!("{}", crd::multi_doc_yaml(&pairs));
        return Ok(());
    };
    let mut stale = Vec::new();
    if !args.check {
        std::fs::create_dir_all(&dir)?;
    }
    for (name, content) in crd::files(&pairs) {
        let path = dir.join(&name);
        if args.check {
            if std::fs::read_to_string(&path).ok().as_deref() != Some(content.as_str()) {
                stale.push(path.display().to_string());
            }
        } else {
            std::fs::write(&path, content)?;
            eprintln!("wrote {}", path.display());
        }
    }
    if !stale.is_empty() {
        anyhow::bail!("stale CRDs (run `make crds`): {}", stale.join(", "));
    }
    Ok(())
}

#[cfg(test)]
mod tests;
