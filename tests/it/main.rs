//! The one integration-test binary (one binary keeps link time down on 2 cores).
//! Each module is a suite; `support` holds the harnesses (emulator process, test bed, moto).

mod support;

mod alerts;
mod argocd;
mod chaos;
mod cli;
mod cli_drill;
mod cli_preflight;
mod crds;
mod dashboard;
mod denylist;
mod deploy;
mod driver;
mod e2e;
mod e2e_admission;
mod e2e_apply;
mod e2e_drift;
mod e2e_drill;
mod e2e_gates;
mod e2e_incident;
mod e2e_lifecycle;
mod e2e_plan;
mod e2e_preflight;
mod e2e_rbac;
mod e2e_slow_region;
mod e2e_writer_lease;
mod emulator;
mod emulator_metrics;
mod emulator_preflight;
mod group_reads;
mod helm;
mod image;
mod local_runner;
mod monitoring;
mod sbom;
