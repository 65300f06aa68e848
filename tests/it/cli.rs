//! `connect-gr demo` and `connect-gr plan` as a person runs them.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_connect-gr");

#[test]
fn demo_converges_the_embedded_examples_and_prints_the_live_split() {
    let out = Command::new(BIN)
        .arg("demo")
        .env("CONNECT_GR_BENCH_QUOTA_SCALE", "20")
        .output()
        .expect("run demo");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "demo failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("5 ready, 0 in progress, 0 stalled"),
        "{stdout}"
    );
    assert!(
        stdout.contains("us-west-2  telephony  50%  agents  50%  sign-in on"),
        "steady state 50/50:\n{stdout}"
    );
    assert!(
        stdout.contains("numbers  +14255550103"),
        "overflow group holds its number:\n{stdout}"
    );
}

#[test]
fn demo_then_failover_scenario_moves_everything_to_us_east_1() {
    let scenario = crate::support::testbed::repo_root()
        .join("deploy/examples/scenarios/failover-us-east-1.yaml");
    let out = Command::new(BIN)
        .args(["demo", "--then"])
        .arg(&scenario)
        .env("CONNECT_GR_BENCH_QUOTA_SCALE", "20")
        .output()
        .expect("run demo");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(
        stdout.contains("us-east-1  telephony 100%  agents 100%  sign-in on"),
        "{stdout}"
    );
    assert!(
        stdout.contains("us-west-2  telephony   0%  agents   0%  sign-in off"),
        "{stdout}"
    );
}

#[test]
fn plan_lists_the_calls_without_making_any_write() {
    let mut emu = Command::new(BIN)
        .args(["emulator", "--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(emu.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap()
        .to_string();
    let examples = crate::support::testbed::repo_root().join("deploy/examples");
    let out = Command::new(BIN)
        .args(["plan", "-f"])
        .arg(&examples)
        .args(["--endpoint-url", &url])
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_REGION", "us-west-2")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let calls = Command::new("curl")
        .args(["-s", &format!("{url}/_emulator/calls")])
        .output()
        .unwrap();
    let _ = emu.kill();
    let _ = emu.wait();
    assert_eq!(
        out.status.code(),
        Some(2),
        "exit code 2: changes\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("[us-west-2] ReplicateInstance instance=4f5e3c1a-7b2d-4c8e-9a10-2b3c4d5e6f70 replicaRegion=us-east-1"), "{stdout}");
    let log: Vec<serde_json::Value> = serde_json::from_slice(&calls.stdout).unwrap();
    assert!(!log.is_empty(), "plan read live state");
    assert!(
        log.iter().all(|c| c["operation"] != "ReplicateInstance"),
        "plan made no write"
    );
}

#[test]
fn plan_rejects_an_invalid_manifest_with_a_specific_message() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("bad.yaml"),
        "apiVersion: connectgr.io/v1alpha1\nkind: TrafficDistribution\nmetadata: {name: x}\nspec:\n  groupRef: {name: g}\n  telephony: {us-west-2: 60, us-east-1: 30}\n",
    )
    .unwrap();
    let out = Command::new(BIN)
        .args(["plan", "-f"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("100"), "message names the sum rule: {err}");
}

#[test]
fn controller_rejects_a_malformed_quota_or_budget_before_starting() {
    for (args, expected) in [
        (
            ["--quota", "AssociateTrafficDistributionGroupUser=fast"],
            "rate \"fast\" must be a positive number",
        ),
        (["--background-budget", "1.5"], "in (0, 1]"),
    ] {
        let out = Command::new(BIN)
            .arg("controller")
            .args(args)
            .env("KUBECONFIG", "/nonexistent")
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?}");
        assert!(err.contains(expected), "{args:?}: {err}");
    }
}

/// `plan` exits 0 when Connect already matches (here: an instance replicated before), and prints
/// JSON and Markdown on request.
#[test]
fn plan_exits_zero_when_nothing_would_change_and_speaks_json_and_markdown() {
    let dir = std::env::temp_dir().join(format!("connect-gr-plan-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let state = dir.join("state.yaml");
    std::fs::write(
        &state,
        "instances:\n  - id: 4f5e3c1a-7b2d-4c8e-9a10-2b3c4d5e6f70\n    alias: support-center\n    region: us-west-2\n    replicated: true\n    replicaRegion: us-east-1\n    replicaAlias: support-center-east\n    routingProfiles: [Basic Routing Profile]\n",
    )
    .unwrap();
    let manifests = dir.join("m");
    std::fs::create_dir_all(&manifests).unwrap();
    std::fs::copy(
        crate::support::testbed::repo_root().join("deploy/examples/instance-replica.yaml"),
        manifests.join("instance-replica.yaml"),
    )
    .unwrap();
    let mut emu = Command::new(BIN)
        .args(["emulator", "--listen", "127.0.0.1:0", "--state"])
        .arg(&state)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(emu.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap()
        .to_string();
    let plan = |output: &str| {
        Command::new(BIN)
            .args(["plan", "-f"])
            .arg(&manifests)
            .args(["--endpoint-url", &url, "--output", output])
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .env("AWS_REGION", "us-west-2")
            .output()
            .unwrap()
    };
    let text = plan("text");
    let json = plan("json");
    let md = plan("markdown");
    let _ = emu.kill();
    let _ = emu.wait();
    let stdout = String::from_utf8_lossy(&text.stdout);
    assert_eq!(text.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("No change"), "{stdout}");
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(v["changed"], false);
    assert_eq!(v["objects"][0]["state"], "Ready");
    assert!(String::from_utf8_lossy(&md.stdout).contains("**No change**"));
}

/// A read of live Connect that fails is reported, not taken for "none": with every
/// `ListReplicationFindings` denied, `plan` (and `plan --next-pass`) names the failed read in each
/// output and exits 1 (the same state without the fault plans "no change", exit 0, above).
#[test]
fn plan_reports_reads_that_failed_and_exits_one() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.yaml");
    std::fs::write(
        &state,
        "instances:\n  - id: 4f5e3c1a-7b2d-4c8e-9a10-2b3c4d5e6f70\n    alias: support-center\n    region: us-west-2\n    replicated: true\n    replicaRegion: us-east-1\n    replicaAlias: support-center-east\n    routingProfiles: [Basic Routing Profile]\n",
    )
    .unwrap();
    let manifests = dir.path().join("m");
    std::fs::create_dir_all(&manifests).unwrap();
    std::fs::copy(
        crate::support::testbed::repo_root().join("deploy/examples/instance-replica.yaml"),
        manifests.join("instance-replica.yaml"),
    )
    .unwrap();
    let mut emu = Command::new(BIN)
        .args(["emulator", "--listen", "127.0.0.1:0", "--state"])
        .arg(&state)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(emu.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap()
        .to_string();
    let (status, _, text) = crate::support::emulator::http_request(
        url.trim_start_matches("http://"),
        "POST",
        "/_emulator/faults",
        &[("content-type", "application/json")],
        r#"{"operation": "ListReplicationFindings", "errorType": "AccessDeniedException"}"#,
    );
    assert_eq!(status, 200, "{text}");
    let plan = |output: &str, extra: &[&str]| {
        Command::new(BIN)
            .args(["plan", "-f"])
            .arg(&manifests)
            .args(["--endpoint-url", &url, "--output", output])
            .args(extra)
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .env("AWS_REGION", "us-west-2")
            .output()
            .unwrap()
    };
    let (text, json, md) = (plan("text", &[]), plan("json", &[]), plan("markdown", &[]));
    let next = plan("json", &["--next-pass"]);
    let _ = emu.kill();
    let _ = emu.wait();
    let stdout = String::from_utf8_lossy(&text.stdout);
    let stderr = String::from_utf8_lossy(&text.stderr);
    assert_eq!(text.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(stdout.contains("Reads that failed"), "{stdout}");
    assert!(
        stdout.contains("[us-west-2] ListReplicationFindings: access denied"),
        "{stdout}"
    );
    assert_eq!(json.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    let failed = v["failed_reads"].as_array().unwrap();
    assert!(!failed.is_empty(), "{v}");
    assert!(
        failed
            .iter()
            .all(|f| f["operation"] == "ListReplicationFindings" && f["region"] == "us-west-2"),
        "{v}"
    );
    assert_eq!(md.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&md.stdout).contains("**Reads that failed**"));
    // The next pass alone (no snapshot) reports the same failed read.
    assert_eq!(next.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&next.stdout).unwrap();
    assert!(
        v["failed_reads"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["operation"] == "ListReplicationFindings"),
        "{v}"
    );
}

#[test]
fn a_controller_resync_interval_under_one_second_is_refused_before_anything_starts() {
    let out = Command::new(BIN)
        .args(["controller", "--resync-interval", "500ms"])
        .env("KUBECONFIG", "/nonexistent")
        .output()
        .expect("run controller");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "a usage error: {stderr}");
    assert!(
        stderr.contains("--resync-interval") && stderr.contains("under 1s"),
        "{stderr}"
    );
}
