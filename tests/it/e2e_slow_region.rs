//! End to end, issue 25 (the incident hour): with every call to the source region answering
//! after 120 s (a brownout: the emulator's `latencyMs`), a shift of 30 % of calls away from it,
//! a full failover right after a controller restart, the next shift, and a shift toward the slow
//! region right after another restart (its first reads go there) each reach Connect in under
//! 10 s. Before the timeouts and the hedge they took minutes (every read and write waited
//! behind the slow region). "Reach Connect" is the emulator's state holding the new split; the
//! time runs from `kubectl apply`. Real API server, kubectl, the controller and emulator binaries.
//! Below it, the controller's Connect client on its own: a failover-lane call to the slow region
//! ends as a timeout (an outage), a throttled one as throttling (not an outage).

use std::sync::Arc;
use std::time::{Duration, Instant};

use connect_gr::connect::{
    ConnectApi, ConnectError, Priority, Scheduler, SchedulerConfig, SdkConnectConfig, new_connect,
};

use crate::e2e::{
    Emulator, Proc, apply, controller_command, group_arn, group_yaml, jsonpath, replica_yaml,
    start_emulator, wait_ready,
};
use crate::support::emulator::{INSTANCE_ID, REPLICA, SOURCE};
use crate::support::testbed::TestBed;

/// The issue's bound for each change, generous against the 120 s of the brownout.
const BOUND: Duration = Duration::from_secs(10);
/// How long a step may take before the test gives up (so a regression fails, not hangs).
const GIVE_UP: Duration = Duration::from_secs(60);

fn start(bed: &TestBed, ns: &str, emulator: &str, log: &str) -> Proc {
    let mut cmd = controller_command(bed, ns, emulator, log);
    cmd.args(["--metrics-addr", "127.0.0.1:0"])
        .env("RUST_LOG", "info,connect_gr=debug");
    Proc(cmd.spawn().expect("spawn controller"))
}

fn split_yaml(west: i32) -> String {
    format!(
        "apiVersion: connectgr.io/v1alpha1\nkind: TrafficDistribution\nmetadata: {{name: split}}\nspec:\n  groupRef: {{name: overflow}}\n  driftPauseSeconds: 0\n  telephony: {{us-west-2: {west}, us-east-1: {}}}\n  agents: {{us-west-2: 50, us-east-1: 50}}\n",
        100 - west
    )
}

fn control(emu: &Emulator, method: &str, path: &str, body: &str) -> String {
    let addr = emu.url.trim_start_matches("http://");
    let (status, _, body) = crate::support::emulator::http_request(
        addr,
        method,
        path,
        &[("content-type", "application/json")],
        body,
    );
    assert!(
        status == 200 || status == 204,
        "{method} {path}: {status} {body}"
    );
    body
}

/// us-west-2's telephony percentage in the emulator's state (no region, no latency: the
/// control endpoint answers at once).
fn west_in_connect(emu: &Emulator, arn: &str) -> Option<i64> {
    let state: serde_json::Value =
        serde_json::from_str(&control(emu, "GET", "/_emulator/state", "")).ok()?;
    let group = state["trafficDistributionGroups"]
        .as_array()?
        .iter()
        .find(|g| g["arn"] == arn)?
        .clone();
    group["telephony"]
        .as_array()?
        .iter()
        .find(|d| d["region"] == "us-west-2")?["percentage"]
        .as_i64()
}

/// Applies the split and returns how long it took until Connect held it.
async fn shift(bed: &TestBed, ns: &str, emu: &Emulator, arn: &str, west: i32) -> Duration {
    let applied = Instant::now();
    apply(bed, ns, &split_yaml(west));
    while applied.elapsed() < GIVE_UP {
        if west_in_connect(emu, arn) == Some(i64::from(west)) {
            return applied.elapsed();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let log = ["-3", "-2", ""]
        .iter()
        .find_map(|n| {
            std::fs::read_to_string(bed.dir().join(format!("controller-{ns}{n}.log"))).ok()
        })
        .unwrap_or_default();
    let tail: Vec<&str> = log.lines().rev().take(40).collect();
    panic!(
        "us-west-2={west}% did not reach Connect within {GIVE_UP:?}; controller log tail (newest first):\n{}",
        tail.join("\n")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_source_region_answering_after_two_minutes_shifts_and_a_failover_after_a_restart_reach_connect_within_ten_seconds()
 {
    let bed = TestBed::shared();
    let ns = bed.namespace("e2e-slow-region");
    let emu = start_emulator(&[]);
    let ctl = start(bed, &ns, &emu.url, &format!("controller-{ns}.log"));
    apply(
        bed,
        &ns,
        &format!(
            "{}---\n{}---\n{}",
            replica_yaml(),
            group_yaml("overflow", "Retain"),
            split_yaml(100)
        ),
    );
    let t = Instant::now();
    wait_ready(bed, &ns, "tdist/split", "90s");
    eprintln!("set up in {:?}", t.elapsed());
    let arn = group_arn(bed, &ns, "overflow").await;
    assert_eq!(west_in_connect(&emu, &arn), Some(100));

    // The brownout: every call to the source region answers after 120 s.
    control(
        &emu,
        "POST",
        "/_emulator/faults",
        r#"{"region":"us-west-2","latencyMs":120000}"#,
    );

    // (a) 30 % of calls away from the slow region, which keeps the larger share.
    let away = shift(bed, &ns, &emu, &arn, 70).await;
    // (b) A full failover right after a controller restart: the new process knows nothing yet.
    drop(ctl);
    let ctl2 = start(bed, &ns, &emu.url, &format!("controller-{ns}-2.log"));
    let failover = shift(bed, &ns, &emu, &arn, 0).await;
    // (c) The next shift, back toward the slow region.
    let next = shift(bed, &ns, &emu, &arn, 60).await;
    // (d) Another restart, then a shift whose preferred region is the slow one: the new
    // process's first reads go there and are overtaken by the hedge.
    drop(ctl2);
    let _ctl3 = start(bed, &ns, &emu.url, &format!("controller-{ns}-3.log"));
    let toward_slow = shift(bed, &ns, &emu, &arn, 80).await;

    eprintln!(
        "slow source region (latencyMs 120000): shift 30% away {away:?}, failover after restart {failover:?}, next shift {next:?}, shift toward it after a restart {toward_slow:?}"
    );
    assert!(away < BOUND, "shift of 30 % away took {away:?}");
    assert!(
        failover < BOUND,
        "failover after a restart took {failover:?}"
    );
    assert!(next < BOUND, "next shift took {next:?}");
    assert!(
        toward_slow < BOUND,
        "a shift toward the slow region after a restart took {toward_slow:?}"
    );
    let started = Instant::now();
    while jsonpath(bed, &ns, "tdist/split", "{.status.servedBy}") != "us-east-1" {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "status says the healthy region took the last split change: {}",
            jsonpath(bed, &ns, "tdist/split", "{.status}")
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// The controller's Connect client (`SdkConnect`) against an emulator of its own.
fn sdk_connect(emu: &crate::support::emulator::Emulator) -> Arc<dyn ConnectApi> {
    for (k, v) in [("AWS_ACCESS_KEY_ID", "t"), ("AWS_SECRET_ACCESS_KEY", "t")] {
        // SAFETY: test set-up; every test sets the same values.
        unsafe { std::env::set_var(k, v) };
    }
    connect_gr::controller::install_crypto();
    new_connect(
        SdkConnectConfig {
            endpoint_url: Some(emu.endpoint()),
            max_attempts: Some(3),
        },
        Scheduler::new(SchedulerConfig::from_env()),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failover_lane_call_to_a_region_answering_after_two_minutes_ends_as_a_timeout_outage() {
    let emu = crate::support::emulator::Emulator::start();
    emu.fault(serde_json::json!({"region": SOURCE, "latencyMs": 120000}));
    let connect = sdk_connect(&emu);
    let err = connect
        .list_traffic_distribution_groups(SOURCE, INSTANCE_ID, Priority::Urgent)
        .await
        .expect_err("the slow region's answer comes long after the failover lane gave up");
    assert!(matches!(err, ConnectError::TimedOut(_)), "{err:?}");
    assert!(err.is_outage());
    // The other region answers at once through the same client.
    connect
        .list_traffic_distribution_groups(REPLICA, INSTANCE_ID, Priority::Urgent)
        .await
        .expect("the healthy region answers");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_throttling_region_is_not_taken_for_an_outage() {
    let emu = crate::support::emulator::Emulator::start();
    emu.fault(serde_json::json!({"region": SOURCE, "errorType": "ThrottlingException"}));
    let err = sdk_connect(&emu)
        .list_traffic_distribution_groups(SOURCE, INSTANCE_ID, Priority::Urgent)
        .await
        .expect_err("every call is throttled");
    assert!(matches!(err, ConnectError::Throttled(_)), "{err:?}");
    assert!(!err.is_outage());
}
