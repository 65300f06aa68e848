//! `chaos`: the examples through alternating gated failovers and failbacks while faults are
//! injected at random (latency, 5xx, throttling, a region down and back) and the controller is
//! killed and restarted; the invariants are checked at every observation of the live state, and
//! the time to converge once the faults stop is measured. Writes `chaos.json`.
#[path = "common/chaos.rs"]
mod chaos_driver;
mod common;

use common::*;

fn main() {
    init();
    let cfg = chaos_driver::ChaosConfig::new(quick(), chaos_driver::seed_from_env());
    println!(
        "chaos: {} s of faults (latency up to {} ms), quick {}",
        cfg.fault_phase.as_secs(),
        cfg.max_latency_ms,
        quick()
    );
    let report = match runtime().block_on(chaos_driver::run(cfg, |l| println!("{l}"))) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("chaos: could not run: {e:#}");
            std::process::exit(1);
        }
    };
    if let Err(e) = write_json("chaos", &report.json()) {
        eprintln!("chaos: could not write: {e:#}");
        std::process::exit(1);
    }
    for v in &report.first_violations {
        println!("  violation at {v}");
    }
    for n in &report.not_ready {
        println!("  not ready: {n}");
    }
    check(
        "no invariant violations",
        report.invariant_violations == 0,
        report.invariant_violations.to_string(),
    );
    check(
        "nothing created twice",
        report.duplicate_creations == 0,
        report.duplicate_creations.to_string(),
    );
    check(
        "converges < 60 s after faults",
        report.converge_after_faults_s.is_some_and(|s| s < 60.0),
        format!("{:?} s", report.converge_after_faults_s),
    );
}
