//! The commands that run the driver without a cluster, through the local runner
//! ([`crate::local`]): `demo`, break-glass `apply`, `plan` and `preflight`.

pub mod apply;
pub mod demo;
pub mod plan;
pub mod preflight;
