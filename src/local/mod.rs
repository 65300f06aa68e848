//! Running the driver without a cluster: the in-memory [`World`] of manifests and the runner
//! that schedules each object as the controller's work queues do.

pub mod runner;
pub mod world;

pub use runner::{Progress, converge, converge_until, pass, pass_due, settled, verdict_line};
pub use world::{Key, World, upsert};
