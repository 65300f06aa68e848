//! End to end, drift policy (issue 11): a change made outside the controller, with the AWS SDK as
//! an on-call engineer would with the AWS CLI, is reported within one resync (4 s here), left
//! alone for `driftPauseSeconds`, then corrected; with `Report` it is never corrected;
//! `connectgr.io/resume` corrects at once (one value acts once); a spec change wins; the pause
//! survives a controller restart; a hand-added agent in an Exact membership follows the same
//! policy. Real API server, kubectl, the controller and emulator binaries.

use std::time::{Duration, Instant};

use aws_sdk_connect::types::{Distribution, TelephonyConfig};

use crate::e2e::{
    INSTANCE, Proc, agent_ids, apply, connect, controller_command, eventually, group_arn,
    group_yaml, jsonpath, members, replica_yaml, start_emulator, wait_ready,
};
use crate::support::markers::{Mark, WRITES, attempts, reconciled_now};
use crate::support::testbed::TestBed;

fn start(bed: &TestBed, ns: &str, emulator: &str, log: &str, args: &[&str]) -> Proc {
    let mut cmd = controller_command(bed, ns, emulator, log);
    cmd.args(["--metrics-addr", "127.0.0.1:0"])
        .args(args)
        .env("RUST_LOG", "info,connect_gr=debug");
    Proc(cmd.spawn().expect("spawn controller"))
}

fn split_yaml(west: i32, drift: &str) -> String {
    format!(
        "apiVersion: connectgr.io/v1alpha1\nkind: TrafficDistribution\nmetadata: {{name: split}}\nspec:\n  groupRef: {{name: overflow}}\n  telephony: {{us-west-2: {west}, us-east-1: {}}}\n  agents: {{us-west-2: 50, us-east-1: 50}}\n{drift}",
        100 - west
    )
}

fn exact_members_yaml(drift: &str) -> String {
    let users: Vec<String> = (1..=10).map(|i| format!("\"agent{i:03}\"")).collect();
    format!(
        "apiVersion: connectgr.io/v1alpha1\nkind: AgentMembership\nmetadata: {{name: members}}\nspec:\n  groupRef: {{name: overflow}}\n  mode: Exact\n  users: [{}]\n{drift}",
        users.join(",")
    )
}

/// us-west-2's telephony percentage, None while the group is not ACTIVE (G2).
async fn west_telephony(c: &aws_sdk_connect::Client, arn: &str) -> Option<i32> {
    let d = c.get_traffic_distribution().id(arn).send().await.ok()?;
    d.telephony_config()?
        .distributions()
        .iter()
        .find(|d| d.region() == "us-west-2")
        .map(|d| d.percentage())
}

/// What an on-call engineer does with `aws connect update-traffic-distribution`: retried while
/// the group is briefly UPDATE_IN_PROGRESS after the controller's own update.
pub(crate) async fn set_telephony_by_hand(c: &aws_sdk_connect::Client, arn: &str, west: i32) {
    let d = |r: &str, p: i32| {
        Distribution::builder()
            .region(r)
            .percentage(p)
            .build()
            .unwrap()
    };
    let cfg = TelephonyConfig::builder()
        .distributions(d("us-west-2", west))
        .distributions(d("us-east-1", 100 - west))
        .build()
        .unwrap();
    eventually(
        Duration::from_secs(40),
        "manual update accepted",
        || async {
            c.update_traffic_distribution()
                .id(arn)
                .telephony_config(cfg.clone())
                .send()
                .await
                .is_ok()
        },
    )
    .await;
}

fn condition(bed: &TestBed, ns: &str, what: &str, ty: &str) -> (String, String) {
    let get = |field: &str| {
        jsonpath(
            bed,
            ns,
            what,
            &format!("{{.status.conditions[?(@.type==\"{ty}\")].{field}}}"),
        )
    };
    (get("status"), get("reason"))
}

/// Ready=False, Reconciling=False, Stalled=False, all with reason DriftDetected.
fn assert_drifted(bed: &TestBed, ns: &str, what: &str) {
    for ty in ["Ready", "Reconciling", "Stalled"] {
        assert_eq!(
            condition(bed, ns, what, ty),
            ("False".to_string(), "DriftDetected".to_string()),
            "{what} condition {ty}"
        );
    }
}

/// The reasons and messages of the Events on an object (empty without events.k8s.io).
pub(crate) fn events(bed: &TestBed, ns: &str, name: &str) -> Vec<(String, String)> {
    let out = bed.kubectl(&["get", "events.events.k8s.io", "-n", ns, "-o", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
    v["items"]
        .as_array()
        .map(|items| {
            items
                .iter()
                .filter(|e| e["regarding"]["name"] == name)
                .map(|e| {
                    (
                        e["reason"].as_str().unwrap_or_default().to_string(),
                        e["note"].as_str().unwrap_or_default().to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

fn annotate(bed: &TestBed, ns: &str, what: &str, value: &str) {
    let out = bed.kubectl(&[
        "annotate",
        "-n",
        ns,
        what,
        &format!("connectgr.io/resume={value}"),
        "--overwrite",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

async fn setup_split(bed: &TestBed, ns: &str, drift: &str) -> String {
    apply(
        bed,
        ns,
        &format!(
            "{}---\n{}---\n{}",
            replica_yaml(),
            group_yaml("overflow", "Retain"),
            split_yaml(60, drift)
        ),
    );
    wait_ready(bed, ns, "tdist/split", "90s");
    group_arn(bed, ns, "overflow").await
}

/// Correct with a short pause: reported within one resync, left alone for the pause (also across
/// a controller restart, which keeps the pause's start), then restored; Events name from -> to.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_split_changed_by_hand_is_reported_left_alone_for_the_pause_then_corrected() {
    let bed = TestBed::shared();
    let ns = bed.namespace("e2e-drift-split");
    let emu = start_emulator(&["--replication-seconds", "1"]);
    let ctl = start(bed, &ns, &emu.url, &format!("controller-{ns}.log"), &[]);
    let arn = setup_split(bed, &ns, "  driftPauseSeconds: 15\n").await;
    let west = connect(&emu.url, "us-west-2").await;
    assert_eq!(west_telephony(&west, &arn).await, Some(60));

    set_telephony_by_hand(&west, &arn, 90).await;
    let changed = Instant::now();
    eventually(
        Duration::from_secs(40),
        "drift reported within one resync (4 s) and a pass",
        || async { !jsonpath(bed, &ns, "tdist/split", "{.status.drift.firstSeenTime}").is_empty() },
    )
    .await;
    assert_drifted(bed, &ns, "tdist/split");
    let field = |f: &str| jsonpath(bed, &ns, "tdist/split", &format!("{{.status.drift.{f}}}"));
    assert_eq!(field("changes[0].field"), "telephony");
    assert_eq!(field("changes[0].from"), "us-west-2=60% us-east-1=40%");
    assert_eq!(field("changes[0].to"), "us-west-2=90% us-east-1=10%");
    assert_eq!(field("policy"), "Correct");
    let first_seen = field("firstSeenTime");
    let correction = field("correctionTime");
    let (seen_t, corr_t): (jiff::Timestamp, jiff::Timestamp) =
        (first_seen.parse().unwrap(), correction.parse().unwrap());
    assert_eq!(
        corr_t.as_second() - seen_t.as_second(),
        15,
        "corrected driftPauseSeconds after it was first seen"
    );
    assert_eq!(
        west_telephony(&west, &arn).await,
        Some(90),
        "the engineer's change is left alone"
    );

    // The controller restarts during the pause: the new process carries the same pause on.
    drop(ctl);
    let _ctl = start(bed, &ns, &emu.url, &format!("controller-{ns}-2.log"), &[]);
    // A whole pass of the new process, then the checks (reconcile-now looks, it does not resume).
    reconciled_now(
        bed,
        &ns,
        "tdist/split",
        "after-restart",
        Duration::from_secs(30),
    )
    .await;
    assert_eq!(
        west_telephony(&west, &arn).await,
        Some(90),
        "still left alone"
    );
    assert_eq!(
        field("firstSeenTime"),
        first_seen,
        "the pause did not restart with the process"
    );
    assert_eq!(field("correctionTime"), correction);

    eventually(
        Duration::from_secs(30),
        "split restored to 60/40",
        || async { west_telephony(&west, &arn).await == Some(60) },
    )
    .await;
    assert!(
        changed.elapsed() >= Duration::from_secs(15),
        "corrected after {:?}, before the 15 s pause was over",
        changed.elapsed()
    );
    wait_ready(bed, &ns, "tdist/split", "20s");
    assert_eq!(field("firstSeenTime"), "", "status.drift is cleared");
    if bed.has_core_apis() {
        eventually(Duration::from_secs(30), "Events published", || async {
            let ev = events(bed, &ns, "split");
            ev.iter().any(|(r, n)| {
                r == "DriftDetected"
                    && n.contains("us-west-2=90%")
                    && n.contains("left alone until")
            }) && ev
                .iter()
                .any(|(r, n)| r == "DriftCorrected" && n.contains("60%"))
        })
        .await;
    }
}

/// `--drift-policy Report` (no spec.driftPolicy): reported and never corrected, even long after
/// the pause; `connectgr.io/resume` corrects at once and acts once per value; a spec change wins.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_report_a_change_is_never_corrected_until_resume_and_a_spec_change_wins() {
    let bed = TestBed::shared();
    let ns = bed.namespace("e2e-drift-report");
    let emu = start_emulator(&["--replication-seconds", "1"]);
    let log = format!("controller-{ns}.log");
    let _ctl = start(bed, &ns, &emu.url, &log, &["--drift-policy", "Report"]);
    let arn = setup_split(bed, &ns, "  driftPauseSeconds: 1\n").await;
    let west = connect(&emu.url, "us-west-2").await;
    let field = |f: &str| jsonpath(bed, &ns, "tdist/split", &format!("{{.status.drift.{f}}}"));

    set_telephony_by_hand(&west, &arn, 90).await;
    eventually(Duration::from_secs(30), "drift reported", || async {
        field("policy") == "Report"
    })
    .await;
    assert_eq!(field("correctionTime"), "", "Report: never");
    assert_drifted(bed, &ns, "tdist/split");
    // Three of the split's reads after the report: two whole passes after the pause (1 s).
    let mark = Mark::now(&emu.url);
    mark.wait_for("GetTrafficDistribution", 3, Duration::from_secs(40))
        .await;
    assert_eq!(
        attempts(&mark.calls(), WRITES),
        Vec::<String>::new(),
        "Report: nothing sent"
    );
    assert_eq!(
        west_telephony(&west, &arn).await,
        Some(90),
        "never corrected"
    );
    assert_drifted(bed, &ns, "tdist/split");

    annotate(bed, &ns, "tdist/split", "1");
    let resumed = Instant::now();
    eventually(
        Duration::from_secs(40),
        "resume corrects at once",
        || async { west_telephony(&west, &arn).await == Some(60) },
    )
    .await;
    assert!(resumed.elapsed() < Duration::from_secs(30));
    wait_ready(bed, &ns, "tdist/split", "20s");
    assert_eq!(
        jsonpath(bed, &ns, "tdist/split", "{.status.lastHandledResume}"),
        "1"
    );

    // The same value again does nothing: a new change is reported and left alone.
    set_telephony_by_hand(&west, &arn, 80).await;
    eventually(Duration::from_secs(30), "second drift reported", || async {
        field("changes[0].to").starts_with("us-west-2=80%")
    })
    .await;
    // Two of the split's reads after the report: a whole pass ran since.
    let mark = Mark::now(&emu.url);
    mark.wait_for("GetTrafficDistribution", 2, Duration::from_secs(30))
        .await;
    assert_eq!(
        attempts(&mark.calls(), WRITES),
        Vec::<String>::new(),
        "resume=1 acted once: nothing sent"
    );
    assert_eq!(
        west_telephony(&west, &arn).await,
        Some(80),
        "resume=1 acted once"
    );

    // A change of the spec wins over the reported drift: applied at once.
    apply(bed, &ns, &split_yaml(30, "  driftPauseSeconds: 1\n"));
    eventually(Duration::from_secs(30), "spec 30/70 applied", || async {
        west_telephony(&west, &arn).await == Some(30)
    })
    .await;
    wait_ready(bed, &ns, "tdist/split", "20s");
    assert_eq!(field("policy"), "", "status.drift is cleared");
}

/// What a supervisor does with `aws connect associate-traffic-distribution-group-user`.
async fn associate_by_hand(c: &aws_sdk_connect::Client, arn: &str, user: &str) {
    eventually(
        Duration::from_secs(40),
        "manual association accepted",
        || async {
            c.associate_traffic_distribution_group_user()
                .traffic_distribution_group_id(arn)
                .instance_id(INSTANCE)
                .user_id(user)
                .send()
                .await
                .is_ok()
        },
    )
    .await;
}

async fn disassociate_by_hand(c: &aws_sdk_connect::Client, arn: &str, user: &str) {
    eventually(
        Duration::from_secs(40),
        "manual disassociation accepted",
        || async {
            c.disassociate_traffic_distribution_group_user()
                .traffic_distribution_group_id(arn)
                .instance_id(INSTANCE)
                .user_id(user)
                .send()
                .await
                .is_ok()
        },
    )
    .await;
}

async fn setup_members(bed: &TestBed, ns: &str, drift: &str) -> String {
    apply(
        bed,
        ns,
        &format!(
            "{}---\n{}---\n{}",
            replica_yaml(),
            group_yaml("overflow", "Retain"),
            exact_members_yaml(drift)
        ),
    );
    wait_ready(bed, ns, "agm/members", "90s");
    group_arn(bed, ns, "overflow").await
}

/// Exact membership, Correct with a short pause: an agent nobody declares, put in by hand, is
/// reported (by name), left in the group for the pause, then taken out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hand_added_agent_in_an_exact_membership_stays_for_the_pause_then_is_removed() {
    let bed = TestBed::shared();
    let ns = bed.namespace("e2e-drift-agm");
    let emu = start_emulator(&["--replication-seconds", "1"]);
    let _ctl = start(bed, &ns, &emu.url, &format!("controller-{ns}.log"), &[]);
    let arn = setup_members(bed, &ns, "  driftPauseSeconds: 12\n").await;
    let west = connect(&emu.url, "us-west-2").await;
    let declared = agent_ids(&west, 1, 10).await;
    assert_eq!(members(&west, &arn).await, declared);
    let intruder = agent_ids(&west, 20, 20).await.remove(0);

    associate_by_hand(&west, &arn, &intruder).await;
    let added = Instant::now();
    eventually(
        Duration::from_secs(40),
        "hand-added agent reported (a resync and a members sweep)",
        || async {
            jsonpath(bed, &ns, "agm/members", "{.status.drift.changes[0].field}")
                == "agent agent020"
        },
    )
    .await;
    assert_drifted(bed, &ns, "agm/members");
    assert_eq!(
        jsonpath(bed, &ns, "agm/members", "{.status.drift.changes[0].to}"),
        "member"
    );
    assert!(
        members(&west, &arn).await.contains(&intruder),
        "left in the group during the pause"
    );
    eventually(
        Duration::from_secs(40),
        "hand-added agent removed",
        || async { members(&west, &arn).await == declared },
    )
    .await;
    assert!(
        added.elapsed() >= Duration::from_secs(12),
        "removed after {:?}, before the 12 s pause was over",
        added.elapsed()
    );
    wait_ready(bed, &ns, "agm/members", "60s");
}

/// Exact membership, Report: a hand-added agent and a hand-removed declared agent are reported
/// and left as they are; resume restores both at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_report_hand_changes_to_a_membership_stay_until_resume() {
    let bed = TestBed::shared();
    let ns = bed.namespace("e2e-drift-agm-report");
    let emu = start_emulator(&["--replication-seconds", "1"]);
    let _ctl = start(bed, &ns, &emu.url, &format!("controller-{ns}.log"), &[]);
    let arn = setup_members(bed, &ns, "  driftPolicy: Report\n  driftPauseSeconds: 0\n").await;
    let west = connect(&emu.url, "us-west-2").await;
    let declared = agent_ids(&west, 1, 10).await;
    let intruder = agent_ids(&west, 20, 20).await.remove(0);
    let victim = agent_ids(&west, 1, 1).await.remove(0);

    associate_by_hand(&west, &arn, &intruder).await;
    disassociate_by_hand(&west, &arn, &victim).await;
    eventually(Duration::from_secs(60), "both changes reported", || async {
        jsonpath(bed, &ns, "agm/members", "{.status.drift.total}") == "2"
    })
    .await;
    assert_eq!(
        jsonpath(bed, &ns, "agm/members", "{.status.drift.changes[*].field}"),
        "agent agent001 agent agent020"
    );
    assert_drifted(bed, &ns, "agm/members");
    // A whole pass after the report, with fresh reads (reconcile-now looks, it does not resume).
    let mark = Mark::now(&emu.url);
    reconciled_now(
        bed,
        &ns,
        "agm/members",
        "look-again",
        Duration::from_secs(40),
    )
    .await;
    assert_eq!(
        attempts(&mark.calls(), WRITES),
        Vec::<String>::new(),
        "Report: nothing sent"
    );
    let now = members(&west, &arn).await;
    assert!(
        now.contains(&intruder) && !now.contains(&victim),
        "Report leaves both hand changes alone"
    );

    annotate(bed, &ns, "agm/members", "incident-42-over");
    eventually(
        Duration::from_secs(40),
        "resume restores the declared members",
        || async { members(&west, &arn).await == declared },
    )
    .await;
    wait_ready(bed, &ns, "agm/members", "60s");
    assert_eq!(
        jsonpath(bed, &ns, "agm/members", "{.status.lastHandledResume}"),
        "incident-42-over"
    );
}
