//! connect-gr: declarative Amazon Connect Global Resiliency for Kubernetes.
//!
//! One library plus one binary. `api` and `plan` are pure (no I/O); `connect` is the cloud seam;
//! `reconcile` and `controller` are the Kubernetes glue; `emulator` is an independent
//! implementation of the Connect Global Resiliency API used by tests and the demo; `denylist` is
//! the caller denylist (DynamoDB table and the two Lambda handlers' logic).

pub mod api;
pub mod cli;
pub mod connect;
pub mod controller;
pub mod denylist;
pub mod emulator;
pub mod leader;
pub mod local;
pub mod metrics;
pub mod plan;
pub mod reconcile;
mod seams;
pub mod snapshot;
pub mod writer_lease;
