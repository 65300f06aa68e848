//! Break-glass `connect-gr apply -f` (issue 14): the driver against live Connect from a machine
//! without a cluster, with the source region down, then the real controller on the real API
//! server taking over without a further write.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use crate::e2e::{
    Emulator, Proc, apply, controller_command, eventually, jsonpath, start_emulator, wait_ready,
};
use crate::support::testbed::{TestBed, repo_root};

const BIN: &str = env!("CARGO_BIN_EXE_connect-gr");

/// The example manifests the break-glass run applies (apply leaves denylists to the controller).
const EXAMPLES: &[&str] = crate::e2e::CONNECT_EXAMPLES;

fn example(name: &str) -> PathBuf {
    repo_root().join("deploy/examples").join(name)
}

fn failover() -> PathBuf {
    example("scenarios/failover-us-east-1.yaml")
}

fn run_apply(emu: &Emulator, ns: &str, extra: &[PathBuf]) -> (bool, String) {
    let mut cmd = Command::new(BIN);
    cmd.args(["apply", "-n", ns, "--timeout", "90s"]);
    for f in EXAMPLES
        .iter()
        .map(|n| example(n))
        .chain(extra.iter().cloned())
    {
        cmd.arg("-f").arg(f);
    }
    let out = cmd
        .env("AWS_ENDPOINT_URL_CONNECT", &emu.url)
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_REGION", "us-west-2")
        .env("CONNECT_GR_BENCH_QUOTA_SCALE", "20")
        .output()
        .expect("run connect-gr apply");
    let text = format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

fn calls(emu: &Emulator) -> Vec<serde_json::Value> {
    let addr = emu.url.trim_start_matches("http://");
    let (_, _, body) =
        crate::support::emulator::http_request(addr, "GET", "/_emulator/calls", &[], "");
    serde_json::from_str(&body).unwrap()
}

/// Successful Connect writes, `region Operation`, in call order.
fn writes(emu: &Emulator) -> Vec<String> {
    crate::e2e::successful_writes(&emu.url)
        .into_iter()
        .map(|(region, op)| format!("{region} {op}"))
        .collect()
}

fn source_down(emu: &Emulator) {
    let addr = emu.url.trim_start_matches("http://");
    let (status, _, body) = crate::support::emulator::http_request(
        addr,
        "POST",
        "/_emulator/faults",
        &[("content-type", "application/json")],
        r#"{"region":"us-west-2","regionDown":true}"#,
    );
    assert_eq!(status, 200, "{body}");
}

fn source_back(emu: &Emulator) {
    let addr = emu.url.trim_start_matches("http://");
    let (status, _, body) =
        crate::support::emulator::http_request(addr, "DELETE", "/_emulator/faults", &[], "");
    assert!(status == 200 || status == 204, "{status} {body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn break_glass_apply_fails_over_through_the_replica_and_a_controller_afterwards_writes_nothing()
 {
    let bed = TestBed::shared();
    let ns = bed.namespace("e2e-apply");
    let emu = start_emulator(&["--replication-seconds", "1"]);

    // Normal day: apply converges the examples (replication, groups, agents, 50/50).
    let (ok, out) = run_apply(&emu, &ns, &[]);
    assert!(ok, "apply of the examples failed:\n{out}");
    assert!(out.contains("5 of 5 ready"), "{out}");

    // The source region goes down; the failover declared in Git goes through the replica.
    source_down(&emu);
    let before = writes(&emu).len();
    let (ok, out) = run_apply(&emu, &ns, &[failover()]);
    assert!(ok, "break-glass apply failed:\n{out}");
    assert!(out.contains("SourceRegionUnavailable"), "{out}");
    let failover_writes = writes(&emu)[before..].to_vec();
    assert!(
        !failover_writes.is_empty()
            && failover_writes
                .iter()
                .all(|w| w == "us-east-1 UpdateTrafficDistribution"),
        "only UpdateTrafficDistribution through us-east-1: {failover_writes:?}"
    );
    let c = crate::e2e::connect(&emu.url, "us-east-1").await;
    let arn = default_group_arn(&c).await;
    let d = c.get_traffic_distribution().id(&arn).send().await.unwrap();
    let east = |v: &[aws_sdk_connect::types::Distribution]| {
        v.iter()
            .find(|d| d.region() == "us-east-1")
            .map(|d| d.percentage())
    };
    assert_eq!(
        east(d.telephony_config().unwrap().distributions()),
        Some(100)
    );
    assert_eq!(east(d.agent_config().unwrap().distributions()), Some(100));

    // The controller, started afterwards on the same manifests (source still down, then back),
    // finds Connect as declared and makes no write.
    let after_apply = writes(&emu).len();
    let _ctl = Proc(
        controller_command(bed, &ns, &emu.url, &format!("controller-{ns}.log"))
            .args(["--metrics-addr", "127.0.0.1:0"])
            .env("RUST_LOG", "info,connect_gr=debug")
            .spawn()
            .expect("spawn controller"),
    );
    for f in EXAMPLES.iter().map(|n| example(n)).chain([failover()]) {
        apply(bed, &ns, &std::fs::read_to_string(f).unwrap());
    }
    wait_ready(bed, &ns, "tdist/support-split", "60s");
    source_back(&emu);
    for what in [
        "irep/support-center",
        "tdg/support-default",
        "tdg/support-overflow",
        "agm/support-agents",
        "tdist/support-split",
    ] {
        wait_ready(bed, &ns, what, "60s");
    }
    // Two more resyncs (4 s each) with the source answering.
    let seen = calls(&emu).len();
    eventually(
        Duration::from_secs(30),
        "two resyncs with the source back",
        || async {
            calls(&emu)[seen..]
                .iter()
                .filter(|c| c["operation"] == "GetTrafficDistribution")
                .count()
                >= 2
        },
    )
    .await;
    assert_eq!(
        writes(&emu)[after_apply..].to_vec(),
        Vec::<String>::new(),
        "the controller wrote after the break-glass apply"
    );
    assert_eq!(
        jsonpath(bed, &ns, "tdist/support-split", "{.status.drift}"),
        "",
        "no drift reported where Connect matches the spec"
    );
}

/// The default group's ARN, read through the replica region.
async fn default_group_arn(c: &aws_sdk_connect::Client) -> String {
    let groups = c
        .list_traffic_distribution_groups()
        .instance_id(crate::e2e::INSTANCE)
        .send()
        .await
        .unwrap();
    groups
        .traffic_distribution_group_summary_list()
        .iter()
        .find(|g| g.is_default())
        .and_then(|g| g.arn().map(str::to_string))
        .expect("default group")
}
