//! End to end, the incident hour (issue 25) on the real API server, controller and emulator:
//! the preflight gate fails closed while the source region only throttles, an aborted rollout
//! restores its starting split through failing restore writes, and a membership deleted while
//! its group is busy keeps its finalizer until its agents are out.

use std::time::Duration;

use crate::e2e::{apply, connect, eventually, group_arn, members, start_emulator};
use crate::e2e_gates::{east_split, presence, rollout, setup, split};
use crate::e2e_preflight::{
    east_telephony, emulator_post, failover_yaml, replica_with_a_hard_coded_flow, tdist_condition,
};
use crate::support::testbed::TestBed;

/// The emulator's call log entries matching (operation, region, errorType).
fn calls(url: &str, op: &str, region: &str, error: Option<&str>) -> usize {
    let addr = url.trim_start_matches("http://");
    let (_, _, body) =
        crate::support::emulator::http_request(addr, "GET", "/_emulator/calls", &[], "");
    let calls: Vec<serde_json::Value> = serde_json::from_str(&body).unwrap();
    calls
        .iter()
        .filter(|c| c["operation"] == op && c["region"] == region)
        .filter(|c| c["errorType"].as_str() == error)
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blocking_findings_still_refuse_a_move_into_the_replica_while_the_source_region_only_throttles()
 {
    let bed = TestBed::shared();
    let ns = bed.namespace("e2e-incident-throttle");
    let emu = start_emulator(&["--replication-seconds", "1", "--user-mirror-seconds", "1"]);
    let _ctl = crate::e2e_preflight::controller(bed, &ns, &emu.url);
    let arn = replica_with_a_hard_coded_flow(bed, &ns, &emu.url).await;
    emulator_post(
        &emu.url,
        "/_emulator/faults",
        r#"{"region":"us-west-2","operation":"DescribeInstance","errorType":"ThrottlingException"}"#,
    );
    let throttled_before = calls(
        &emu.url,
        "DescribeInstance",
        "us-west-2",
        Some("ThrottlingException"),
    );
    apply(bed, &ns, &failover_yaml(""));
    eventually(
        Duration::from_secs(60),
        "Stalled PreflightBlocking after a throttled probe of the source region",
        || async {
            tdist_condition(bed, &ns, "Stalled", "reason") == "PreflightBlocking"
                && calls(
                    &emu.url,
                    "DescribeInstance",
                    "us-west-2",
                    Some("ThrottlingException"),
                ) > throttled_before
        },
    )
    .await;
    assert_eq!(
        east_telephony(&emu.url, &arn).await,
        0,
        "a throttled region is not down: nothing was sent"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_aborted_rollout_whose_restore_write_fails_three_times_still_restores_the_starting_split()
 {
    let bed = TestBed::shared();
    let ns = bed.namespace("e2e-incident-restore");
    let dir = tempfile::tempdir().unwrap();
    let emu = crate::e2e_gates::emulator(&dir);
    let _ctl = crate::e2e_gates::controller(bed, &ns, &emu.url);
    setup(bed, &ns, &emu.url).await;
    let arn = group_arn(bed, &ns, "overflow").await;
    let east = connect(&emu.url, "us-east-1").await;
    apply(
        bed,
        &ns,
        &split(
            100,
            "    stepPercent: 10\n    pauseSeconds: 2\n    failureLimit: 1\n    gates:\n    - {name: enough-agents, agentsAvailable: {min: 1}}\n",
        ),
    );
    eventually(Duration::from_secs(60), "a few steps taken", || async {
        east_split(&east, &arn).await.is_some_and(|(t, _)| t >= 20)
    })
    .await;
    // Every write fails three times in each region from now on; then the gate fails.
    for region in ["us-west-2", "us-east-1"] {
        emulator_post(
            &emu.url,
            "/_emulator/faults",
            &format!(
                r#"{{"region":"{region}","operation":"UpdateTrafficDistribution","errorType":"InternalServiceException","count":3}}"#
            ),
        );
    }
    presence(&emu.url, r#"{"region":"us-east-1","availableFraction":0}"#);
    eventually(
        Duration::from_secs(90),
        "the starting split is back and the rollout Aborted",
        || async {
            east_split(&east, &arn).await == Some((0, 0)) && rollout(bed, &ns, "phase") == "Aborted"
        },
    )
    .await;
    let failed: usize = ["us-west-2", "us-east-1"]
        .iter()
        .map(|r| {
            calls(
                &emu.url,
                "UpdateTrafficDistribution",
                r,
                Some("InternalServiceException"),
            )
        })
        .sum();
    assert!(
        failed >= 3,
        "the restore write failed before it went through ({failed} failures)"
    );
}

/// A group whose split changes stay UPDATE_IN_PROGRESS for a while.
fn slow_group_emulator(dir: &tempfile::TempDir) -> crate::e2e::Emulator {
    let path = dir.path().join("state.yaml");
    let users: Vec<String> = (1..=10)
        .map(|i| format!("{{username: agent{i:03}}}"))
        .collect();
    std::fs::write(
        &path,
        format!(
            "instances:\n  - {{id: {}, region: us-west-2, alias: support-center, globalRouting: false, routingProfiles: [Basic Routing Profile], phoneNumbers: [\"+14255550103\"], users: [{}]}}\n",
            crate::e2e::INSTANCE,
            users.join(", ")
        ),
    )
    .unwrap();
    start_emulator(&[
        "--state",
        path.to_str().unwrap(),
        "--replication-seconds",
        "1",
        "--tdg-update-seconds",
        "8",
    ])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_membership_deleted_while_its_group_is_update_in_progress_keeps_its_finalizer_until_its_agents_are_out()
 {
    let bed = TestBed::shared();
    let ns = bed.namespace("e2e-incident-cleanup");
    let dir = tempfile::tempdir().unwrap();
    let emu = slow_group_emulator(&dir);
    let _ctl = crate::e2e_gates::controller(bed, &ns, &emu.url);
    setup(bed, &ns, &emu.url).await;
    let arn = group_arn(bed, &ns, "overflow").await;
    let west = connect(&emu.url, "us-west-2").await;
    assert_eq!(
        members(&west, &arn).await.len(),
        10,
        "the agents are in the group"
    );
    let users: Vec<String> = (1..=10).map(|i| format!("agent{i:03}")).collect();
    apply(
        bed,
        &ns,
        &format!(
            "apiVersion: connectgr.io/v1alpha1\nkind: AgentMembership\nmetadata: {{name: members}}\nspec:\n  groupRef: {{name: overflow}}\n  mode: Exact\n  deletionPolicy: Delete\n  users: [{}]\n",
            users.join(", ")
        ),
    );
    // A split change puts the group in UPDATE_IN_PROGRESS for 8 s.
    apply(bed, &ns, &split(50, "    stepPercent: 100\n"));
    eventually(
        Duration::from_secs(30),
        "the group is UPDATE_IN_PROGRESS",
        || async {
            west.describe_traffic_distribution_group()
                .traffic_distribution_group_id(&arn)
                .send()
                .await
                .ok()
                .and_then(|d| {
                    d.traffic_distribution_group()
                        .and_then(|g| g.status().cloned())
                })
                .is_some_and(|s| s.as_str() == "UPDATE_IN_PROGRESS")
        },
    )
    .await;
    let out = bed.kubectl(&["delete", "-n", &ns, "agm/members", "--wait=false"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    eventually(
        Duration::from_secs(90),
        "the membership is gone",
        || async {
            let out = bed.kubectl(&["get", "-n", &ns, "agm/members", "-o", "name"]);
            String::from_utf8_lossy(&out.stderr).contains("NotFound")
        },
    )
    .await;
    let left = members(&west, &arn).await;
    let log =
        std::fs::read_to_string(bed.dir().join(format!("controller-{ns}.log"))).unwrap_or_default();
    let tail: Vec<&str> = log
        .lines()
        .filter(|l| !l.contains("connect_call") && !l.contains("DEBUG"))
        .collect();
    assert!(
        left.is_empty(),
        "the finalizer stayed until every declared agent was out of the group; left {left:?}; log:\n{}",
        tail[tail.len().saturating_sub(40)..].join("\n")
    );
}

fn tdist(bed: &TestBed, ns: &str, path: &str) -> String {
    crate::e2e::jsonpath(bed, ns, "tdist/split", path)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_controller_killed_between_a_split_write_and_its_status_write_reports_no_drift_after_the_restart()
 {
    let bed = TestBed::shared();
    let ns = bed.namespace("e2e-incident-crash");
    let dir = tempfile::tempdir().unwrap();
    let emu = crate::e2e_gates::emulator(&dir);
    let mut first = crate::e2e_gates::controller(bed, &ns, &emu.url);
    setup(bed, &ns, &emu.url).await;
    let arn = group_arn(bed, &ns, "overflow").await;
    let east = connect(&emu.url, "us-east-1").await;
    let east_t = || async { east_split(&east, &arn).await.map(|(t, _)| t) };
    apply(
        bed,
        &ns,
        &split(90, "    stepPercent: 30\n    pauseSeconds: 3\n"),
    );
    eventually(Duration::from_secs(60), "step 1 recorded", || async {
        east_t().await == Some(30)
            && tdist(bed, &ns, "{.status.lastApplied.telephony.us-east-1}") == "30"
    })
    .await;
    // Connect takes the next step's write but its answer is held back for a minute.
    emulator_post(
        &emu.url,
        "/_emulator/faults",
        r#"{"operation":"UpdateTrafficDistribution","latencyAfterMs":60000}"#,
    );
    eventually(
        Duration::from_secs(30),
        "step 2 taken by Connect",
        || async { east_t().await == Some(60) },
    )
    .await;
    assert_eq!(
        tdist(bed, &ns, "{.status.lastApplied.telephony.us-east-1}"),
        "30",
        "the outcome of step 2 is not recorded yet"
    );
    assert_eq!(
        tdist(bed, &ns, "{.status.pendingSplit.telephony.us-east-1}"),
        "60",
        "the intent was recorded before the write"
    );
    first.0.kill().expect("SIGKILL the controller");
    first.0.wait().unwrap();
    let addr = emu.url.trim_start_matches("http://");
    crate::support::emulator::http_request(addr, "DELETE", "/_emulator/faults", &[], "");
    let _second = crate::e2e_gates::controller(bed, &ns, &emu.url);
    eventually(Duration::from_secs(90), "the rollout completes", || async {
        east_t().await == Some(90)
            && tdist(
                bed,
                &ns,
                "{.status.conditions[?(@.type==\"Ready\")].status}",
            ) == "True"
    })
    .await;
    let drift_events = bed.kubectl_ok(&[
        "get",
        "events",
        "-n",
        &ns,
        "--field-selector",
        "reason=DriftDetected",
        "-o",
        "name",
    ]);
    assert!(
        drift_events.trim().is_empty(),
        "its own step was not taken for drift: {drift_events}"
    );
    assert_eq!(tdist(bed, &ns, "{.status.drift}"), "");
}
