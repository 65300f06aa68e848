//! Shared harnesses for the integration suites.

pub mod emulator;
pub mod markers;
pub mod moto;
pub mod rbac;
pub mod testbed;
