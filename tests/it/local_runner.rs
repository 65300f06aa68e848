//! The local runner schedules like the controller: each object at its own requeue time, objects
//! side by side. Shown against the emulator process (real quotas) through the unmodified SDK,
//! from the emulator's call log.

use std::time::Duration;

use connect_gr::cli::demo::{self, DemoArgs};
use connect_gr::local::World;
use serde_json::{Value, json};

use crate::support::emulator::Emulator;

const ASSOCIATE: &str = "AssociateTrafficDistributionGroupUser";

fn credentials() {
    for (k, v) in [("AWS_ACCESS_KEY_ID", "t"), ("AWS_SECRET_ACCESS_KEY", "t")] {
        // SAFETY: test set-up; every test sets the same values.
        unsafe { std::env::set_var(k, v) };
    }
}

fn args() -> DemoArgs {
    DemoArgs {
        path: None,
        then: vec![],
        timeout: Duration::from_secs(240),
    }
}

/// (time, operation) of every successful call, oldest first.
fn successes(calls: &[Value], operation: &str) -> Vec<f64> {
    calls
        .iter()
        .filter(|c| c["operation"] == operation && c["status"] == 200)
        .filter_map(|c| c["time"].as_f64())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_associates_its_153_agents_at_no_less_than_90_percent_of_the_quota_rate() {
    credentials();
    let emulator = Emulator::start_with(&["--quotas", "on"]);
    let engine = demo::engine(emulator.endpoint());
    let world = World::default();
    demo::load(&args(), &world).unwrap();
    let phases = demo::run_phases(&engine, &world, &args(), |_| {})
        .await
        .unwrap();
    assert!(phases[0].converged(), "{:?}", phases[0].progress);
    let times = successes(&emulator.calls(), ASSOCIATE);
    assert_eq!(times.len(), 153, "each declared agent associated once");
    let span = times[times.len() - 1] - times[0];
    let rate = (times.len() - 1) as f64 / span;
    let calls = emulator.calls();
    let first_call = calls
        .first()
        .and_then(|c| c["time"].as_f64())
        .unwrap_or(0.0);
    eprintln!(
        "demo phase {:.1} s; associations from {:.1} s to {:.1} s after the first call: {rate:.2}/s",
        phases[0].elapsed.as_secs_f64(),
        times[0] - first_call,
        times[times.len() - 1] - first_call
    );
    // The emulator's quota for the operation is 2/s (burst 5); the bar is 1.8/s.
    assert!(
        rate >= 1.8,
        "{rate:.2} agents/s over {span:.1} s (quota 2/s)"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_object_does_not_hold_up_another_in_the_same_runner() {
    credentials();
    let emulator = Emulator::start_with(&["--quotas", "on"]);
    // Every GetTrafficDistribution (read only by the TrafficDistribution) takes 1.2 s to answer,
    // in both regions (under the failover lane's 2 s attempt timeout).
    emulator.fault(json!({"operation": "GetTrafficDistribution", "latencyMs": 1200}));
    let engine = demo::engine(emulator.endpoint());
    let world = World::default();
    demo::load(&args(), &world).unwrap();
    let phases = demo::run_phases(&engine, &world, &args(), |_| {})
        .await
        .unwrap();
    assert!(phases[0].converged(), "{:?}", phases[0].progress);
    let calls = emulator.calls();
    let associations = successes(&calls, ASSOCIATE);
    // A call is logged when it is answered: each slow read occupied the 1.2 s before its time.
    let during_slow_reads = associations
        .iter()
        .filter(|&&t| {
            successes(&calls, "GetTrafficDistribution")
                .iter()
                .any(|&end| t > end - 1.1 && t < end - 0.1)
        })
        .count();
    assert!(
        during_slow_reads >= 2,
        "the membership kept associating while the distribution waited on its reads \
         ({during_slow_reads} associations inside the slow reads' windows)"
    );
}
