//! Pure planning: (desired, observed, now) -> what to do next. No async, no I/O, no clock reads.
//! Each planner takes plain data (mapped from the CRD spec and from `connect` observations by
//! the reconcilers) and returns a decision the executor carries out.

pub mod distribution;
pub mod group;
pub mod membership;
pub mod replica;
pub mod sweep;

pub use crate::connect::{
    Distribution, DistributionUpdate, GroupInfo, InstanceInfo, PhoneNumberInfo, UserInfo,
};
