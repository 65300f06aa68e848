//! The commands that run the driver without a cluster, through the local runner
//! ([`crate::local`]): `demo`, break-glass `apply`, `plan` and `preflight`; and `drill report`,
//! which reads a FailoverDrill's status from the cluster.

pub mod apply;
pub mod demo;
pub mod drill;
pub mod plan;
pub mod preflight;
