//! `connect-gr drill report -n NS NAME [--output text|json|markdown]` against the test bed: it
//! reads the FailoverDrill (the test bed applies every CRD of crds/, failoverdrills included)
//! with its status as the controller records it, and prints the report; a drill that does not
//! exist is an error that says so (non-zero exit).

use std::process::Command;

use crate::e2e::apply;
use crate::support::testbed::TestBed;

const BIN: &str = env!("CARGO_BIN_EXE_connect-gr");

const DRILL: &str = "apiVersion: connectgr.io/v1alpha1
kind: FailoverDrill
metadata: {name: monthly}
spec:
  distributionRef: {name: support-split}
  schedule: \"0 3 * * 2\"
  target:
    telephony: {us-west-2: 0, us-east-1: 100}
    agents: {us-west-2: 0, us-east-1: 100}
  holdSeconds: 900
";

/// A status as the controller writes it after one Aborted run (a gate failed while holding).
const STATUS: &str = r#"{"status": {
  "phase": "Idle",
  "nextRunTime": "2026-12-08T03:00:00Z",
  "lastRun": {"id": "20261201T030000Z-schedule", "trigger": "schedule",
    "start": "2026-12-01T03:00:00Z", "end": "2026-12-01T03:06:10Z", "result": "Aborted",
    "reason": "gate queues-healthy failed while holding", "shiftSeconds": 80,
    "holdSeconds": 210, "revertSeconds": 80,
    "steps": [{"phase": "Holding", "time": "2026-12-01T03:04:50Z", "split": "T 0/100 A 0/100",
      "gates": [{"name": "queues-healthy", "result": "Fail", "message": "oldest contact 310 s > 120 s"}],
      "agentsAvailable": 42, "oldestContactAgeSeconds": 310}]},
  "runs": [{"id": "20261201T030000Z-schedule", "trigger": "schedule",
    "start": "2026-12-01T03:00:00Z", "end": "2026-12-01T03:06:10Z", "result": "Aborted",
    "reason": "gate queues-healthy failed while holding", "shiftSeconds": 80,
    "holdSeconds": 210, "revertSeconds": 80}]
}}"#;

fn report(bed: &TestBed, args: &[&str]) -> std::process::Output {
    Command::new(BIN)
        .args(["drill", "report"])
        .args(args)
        .env("KUBECONFIG", bed.kubeconfig_path())
        .output()
        .expect("run connect-gr drill report")
}

fn drill_with_an_aborted_run(bed: &TestBed) -> String {
    let ns = bed.namespace("cli-drill");
    apply(bed, &ns, DRILL);
    bed.kubectl_ok(&[
        "patch",
        "-n",
        &ns,
        "failoverdrill/monthly",
        "--subresource=status",
        "--type=merge",
        "-p",
        STATUS,
    ]);
    ns
}

#[test]
fn drill_report_prints_the_recorded_runs_as_markdown_and_json() {
    let bed = TestBed::shared();
    let ns = drill_with_an_aborted_run(bed);
    let out = report(bed, &["-n", &ns, "monthly", "--output", "markdown"]);
    let md = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        md.starts_with(&format!("## Failover drill {ns}/monthly\n")),
        "{md}"
    );
    assert!(md.contains("| Result | Aborted |"), "{md}");
    assert!(
        md.contains("queues-healthy: Fail (oldest contact 310 s > 120 s)"),
        "{md}"
    );

    let out = report(bed, &["-n", &ns, "monthly", "-o", "json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(v["namespace"], ns.as_str());
    assert_eq!(v["name"], "monthly");
    assert_eq!(v["lastRun"]["result"], "Aborted");
    assert_eq!(v["runs"][0]["holdSeconds"], 210);
}

#[test]
fn drill_report_defaults_to_text() {
    let bed = TestBed::shared();
    let ns = drill_with_an_aborted_run(bed);
    let out = report(bed, &["-n", &ns, "monthly"]);
    let txt = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        txt.contains(&format!("FailoverDrill {ns}/monthly")),
        "{txt}"
    );
    assert!(
        txt.contains("last result:  Aborted (2026-12-01 03:00:00 UTC)"),
        "{txt}"
    );
}

#[test]
fn drill_report_of_a_drill_that_does_not_exist_fails_and_says_so() {
    let bed = TestBed::shared();
    let ns = bed.namespace("cli-drill-missing");
    let out = report(bed, &["-n", &ns, "nosuchdrill", "--output", "markdown"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "exit 0 for a missing drill");
    assert!(
        err.contains(&format!("FailoverDrill {ns}/nosuchdrill not found")),
        "{err}"
    );
    assert!(
        out.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}
