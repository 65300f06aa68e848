//! End to end: the real API server (test bed), the real kubectl, the controller binary and the
//! emulator binary. Assertions read Connect through the unmodified aws-sdk-connect client and
//! objects through kubectl. Each test runs its own emulator and a controller scoped to its own
//! namespace, so tests do not see each other.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::markers::{Mark, attempts, generation_observed, reconciled_now, times};
use crate::support::testbed::TestBed;

const BIN: &str = env!("CARGO_BIN_EXE_connect-gr");
pub(crate) const INSTANCE: &str = "4f5e3c1a-7b2d-4c8e-9a10-2b3c4d5e6f70";
/// Quotas are scaled up on both sides so the suite stays short; the pacing logic is the same.
const QUOTA_SCALE: &str = "20";

pub(crate) struct Proc(pub(crate) Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub(crate) struct Emulator {
    _proc: Proc,
    pub(crate) url: String,
}

pub(crate) fn start_emulator(extra: &[&str]) -> Emulator {
    let mut child = Command::new(BIN)
        .args([
            "emulator",
            "--listen",
            "127.0.0.1:0",
            "--quota-scale",
            QUOTA_SCALE,
        ])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn emulator");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .expect("emulator prints its address");
    let url = line
        .trim()
        .strip_prefix("listening on ")
        .expect("listening on URL")
        .to_string();
    Emulator {
        _proc: Proc(child),
        url,
    }
}

fn start_controller(bed: &TestBed, ns: &str, emulator: &str) -> Proc {
    start_controller_with(bed, ns, emulator, &[])
}

fn start_controller_with(bed: &TestBed, ns: &str, emulator: &str, env: &[(&str, String)]) -> Proc {
    let mut cmd = controller_command(bed, ns, emulator, &format!("controller-{ns}.log"));
    cmd.args(["--metrics-addr", "127.0.0.1:0"])
        .env("RUST_LOG", "info,connect_gr=debug")
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())));
    Proc(cmd.spawn().expect("spawn controller"))
}

/// `connect-gr controller --namespace ns` against the test bed and the emulator, logging to
/// `log` in the test bed's directory. It runs as the shipped ServiceAccount, bound only to the
/// shipped Role (least privilege, proven by every scenario; see `support::rbac`).
pub(crate) fn controller_command(bed: &TestBed, ns: &str, emulator: &str, log: &str) -> Command {
    let log = std::fs::File::create(bed.dir().join(log)).unwrap();
    let mut cmd = Command::new(BIN);
    cmd.args(["controller", "--namespace", ns])
        .env(
            "KUBECONFIG",
            crate::support::rbac::controller_kubeconfig(bed, ns),
        )
        .env("AWS_ENDPOINT_URL_CONNECT", emulator)
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_REGION", "us-west-2")
        .env("CONNECT_GR_RESYNC_INTERVAL", "4s")
        .env("CONNECT_GR_BENCH_QUOTA_SCALE", QUOTA_SCALE)
        .stdout(Stdio::null())
        .stderr(log);
    cmd
}

pub(crate) async fn connect(url: &str, region: &str) -> aws_sdk_connect::Client {
    let conf = aws_sdk_connect::Config::builder()
        .behavior_version(aws_sdk_connect::config::BehaviorVersion::latest())
        .region(aws_sdk_connect::config::Region::new(region.to_string()))
        .endpoint_url(url)
        .credentials_provider(aws_sdk_connect::config::Credentials::new(
            "test", "test", None, None, "e2e",
        ))
        .build();
    aws_sdk_connect::Client::from_conf(conf)
}

pub(crate) fn apply(bed: &TestBed, ns: &str, yaml: &str) {
    let out = bed.kubectl_stdin(
        &[
            "apply",
            "--server-side",
            "--field-manager",
            "e2e",
            "-n",
            ns,
            "-f",
            "-",
        ],
        Some(yaml),
    );
    assert!(
        out.status.success(),
        "kubectl apply failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

pub(crate) fn wait_ready(bed: &TestBed, ns: &str, what: &str, timeout: &str) {
    let out = bed.kubectl(&[
        "wait",
        "-n",
        ns,
        "--for=condition=Ready",
        what,
        &format!("--timeout={timeout}"),
    ]);
    if !out.status.success() {
        let dump = bed.kubectl(&["get", "-n", ns, "irep,tdg,agm,tdist", "-o", "yaml"]);
        let log = std::fs::read_to_string(bed.dir().join(format!("controller-{ns}.log")))
            .unwrap_or_default();
        let tail: String = log
            .lines()
            .rev()
            .take(40)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect::<Vec<_>>()
            .join("\n");
        panic!(
            "{what} not Ready: {}\n{}\ncontroller log tail:\n{tail}",
            String::from_utf8_lossy(&out.stderr),
            String::from_utf8_lossy(&dump.stdout)
        );
    }
}

pub(crate) fn jsonpath(bed: &TestBed, ns: &str, what: &str, path: &str) -> String {
    String::from_utf8_lossy(
        &bed.kubectl(&["get", "-n", ns, what, "-o", &format!("jsonpath={path}")])
            .stdout,
    )
    .to_string()
}

pub(crate) async fn eventually<F, Fut>(timeout: Duration, what: &str, mut f: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    while start.elapsed() < timeout {
        if f().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    panic!("timed out after {timeout:?} waiting for: {what}");
}

pub(crate) fn replica_yaml() -> String {
    format!(
        "apiVersion: connectgr.io/v1alpha1\nkind: InstanceReplica\nmetadata: {{name: support-center}}\nspec:\n  instanceId: {INSTANCE}\n  sourceRegion: us-west-2\n  replicaRegion: us-east-1\n  replicaAlias: support-center-east\n"
    )
}

pub(crate) fn group_yaml(name: &str, policy: &str) -> String {
    format!(
        "apiVersion: connectgr.io/v1alpha1\nkind: TrafficDistributionGroup\nmetadata: {{name: {name}}}\nspec:\n  replicaRef: {{name: support-center}}\n  description: e2e group\n  phoneNumbers: [\"+14255550103\"]\n  deletionPolicy: {policy}\n"
    )
}

pub(crate) fn members_yaml(group: &str, from: usize, to: usize) -> String {
    let users: Vec<String> = (from..=to).map(|i| format!("\"agent{i:03}\"")).collect();
    format!(
        "apiVersion: connectgr.io/v1alpha1\nkind: AgentMembership\nmetadata: {{name: members}}\nspec:\n  groupRef: {{name: {group}}}\n  mode: Exact\n  driftPauseSeconds: 0\n  users: [{}]\n",
        users.join(",")
    )
}

pub(crate) fn split_yaml(group: &str, tw: i32, aw: i32) -> String {
    format!(
        "apiVersion: connectgr.io/v1alpha1\nkind: TrafficDistribution\nmetadata: {{name: split}}\nspec:\n  groupRef: {{name: {group}}}\n  driftPauseSeconds: 0\n  telephony: {{us-west-2: {tw}, us-east-1: {}}}\n  agents: {{us-west-2: {aw}, us-east-1: {}}}\n",
        100 - tw,
        100 - aw
    )
}

pub(crate) async fn group_arn(bed: &TestBed, ns: &str, name: &str) -> String {
    let arn = jsonpath(bed, ns, &format!("tdg/{name}"), "{.status.arn}");
    assert!(
        arn.contains(":traffic-distribution-group/"),
        "group ARN in status: {arn:?}"
    );
    arn
}

/// The group's members; retried while the group is briefly not ACTIVE (A1/G2).
pub(crate) async fn members(c: &aws_sdk_connect::Client, arn: &str) -> Vec<String> {
    for _ in 0..50 {
        let mut out = Vec::new();
        let mut pages = c
            .list_traffic_distribution_group_users()
            .traffic_distribution_group_id(arn)
            .max_results(10)
            .into_paginator()
            .send();
        let mut ok = true;
        while let Some(p) = pages.next().await {
            match p {
                Ok(p) => out.extend(
                    p.traffic_distribution_group_user_summary_list()
                        .iter()
                        .filter_map(|u| u.user_id().map(str::to_string)),
                ),
                Err(_) => {
                    ok = false;
                    break;
                }
            }
        }
        if ok {
            out.sort();
            return out;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("group users could not be listed");
}

async fn telephony(c: &aws_sdk_connect::Client, arn: &str) -> Vec<(String, i32)> {
    let Ok(d) = c.get_traffic_distribution().id(arn).send().await else {
        return vec![]; // not ACTIVE at this instant (G2)
    };
    let mut v: Vec<(String, i32)> = d
        .telephony_config()
        .map(|t| {
            t.distributions()
                .iter()
                .map(|d| (d.region().to_string(), d.percentage()))
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

async fn calls(url: &str) -> Vec<serde_json::Value> {
    let body = reqwest_get(&format!("{url}/_emulator/calls")).await;
    serde_json::from_str(&body).unwrap()
}

pub(crate) async fn reqwest_get(url: &str) -> String {
    let out = Command::new("curl").args(["-s", url]).output().unwrap();
    String::from_utf8_lossy(&out.stdout).to_string()
}

async fn post(url: &str, body: &str) {
    let out = Command::new("curl")
        .args([
            "-s",
            "-X",
            "POST",
            "-H",
            "content-type: application/json",
            "-d",
            body,
            url,
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
}

fn count_ok(calls: &[serde_json::Value], op: &str) -> usize {
    calls
        .iter()
        .filter(|c| c["operation"] == op && c["status"] == 200)
        .count()
}

/// Scenario 1 and 3: replica, custom group, 300 agents and a 60/40 split converge and match
/// Connect exactly; spec changes are applied; changes made in Connect are undone (at once: these
/// objects say `driftPauseSeconds: 0`; the pause itself is tested in `e2e_drift`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replica_group_300_agents_and_60_40_split_converge_and_stay_converged() {
    let bed = TestBed::shared();
    let ns = bed.namespace("e2e-converge");
    let emu = start_emulator(&[]);
    let _ctl = start_controller(bed, &ns, &emu.url);
    apply(
        bed,
        &ns,
        &format!(
            "{}---\n{}---\n{}---\n{}",
            replica_yaml(),
            group_yaml("overflow", "Delete"),
            members_yaml("overflow", 1, 300),
            split_yaml("overflow", 60, 50)
        ),
    );
    wait_ready(bed, &ns, "irep/support-center", "60s");
    wait_ready(bed, &ns, "tdg/overflow", "60s");
    wait_ready(bed, &ns, "agm/members", "120s");
    wait_ready(bed, &ns, "tdist/split", "60s");

    let west = connect(&emu.url, "us-west-2").await;
    let east = connect(&emu.url, "us-east-1").await;
    let arn = group_arn(bed, &ns, "overflow").await;
    let want = agent_ids(&west, 1, 300).await;
    assert_eq!(
        members(&west, &arn).await,
        want,
        "group members are exactly the 300 declared agents"
    );
    assert_eq!(
        telephony(&east, &arn).await,
        vec![("us-east-1".into(), 40), ("us-west-2".into(), 60)],
        "read by ARN from the replica region"
    );
    assert_eq!(
        jsonpath(bed, &ns, "agm/members", "{.status.associated}"),
        "300/300"
    );
    let numbers = west
        .list_phone_numbers_v2()
        .target_arn(&arn)
        .send()
        .await
        .unwrap();
    assert_eq!(
        numbers
            .list_phone_numbers_summary_list()
            .iter()
            .filter_map(|n| n.phone_number())
            .collect::<Vec<_>>(),
        vec!["+14255550103"]
    );

    // A spec change: 30 agents fewer, and a new split.
    apply(
        bed,
        &ns,
        &format!(
            "{}---\n{}",
            members_yaml("overflow", 1, 270),
            split_yaml("overflow", 30, 50)
        ),
    );
    eventually(Duration::from_secs(60), "270 members", || async {
        members(&west, &arn).await.len() == 270
    })
    .await;
    eventually(Duration::from_secs(30), "30/70", || async {
        telephony(&west, &arn).await == vec![("us-east-1".into(), 70), ("us-west-2".into(), 30)]
    })
    .await;

    // Drift: someone changes the split and removes an agent in the console; the resync undoes it.
    eventually(Duration::from_secs(20), "group ACTIVE again", || async {
        west.describe_traffic_distribution_group()
            .traffic_distribution_group_id(&arn)
            .send()
            .await
            .unwrap()
            .traffic_distribution_group()
            .unwrap()
            .status()
            .unwrap()
            .as_str()
            == "ACTIVE"
    })
    .await;
    let tel = |w: i32| {
        aws_sdk_connect::types::TelephonyConfig::builder()
            .distributions(
                aws_sdk_connect::types::Distribution::builder()
                    .region("us-west-2")
                    .percentage(w)
                    .build()
                    .unwrap(),
            )
            .distributions(
                aws_sdk_connect::types::Distribution::builder()
                    .region("us-east-1")
                    .percentage(100 - w)
                    .build()
                    .unwrap(),
            )
            .build()
            .unwrap()
    };
    west.update_traffic_distribution()
        .id(&arn)
        .telephony_config(tel(90))
        .send()
        .await
        .unwrap();
    let victim = members(&west, &arn).await[0].clone();
    eventually(
        Duration::from_secs(20),
        "manual disassociation accepted",
        || async {
            west.disassociate_traffic_distribution_group_user()
                .traffic_distribution_group_id(&arn)
                .instance_id(INSTANCE)
                .user_id(&victim)
                .send()
                .await
                .is_ok()
        },
    )
    .await;
    eventually(
        Duration::from_secs(30),
        "split restored to 30/70",
        || async {
            telephony(&west, &arn).await == vec![("us-east-1".into(), 70), ("us-west-2".into(), 30)]
        },
    )
    .await;
    eventually(Duration::from_secs(30), "agent re-associated", || async {
        members(&west, &arn).await.contains(&victim)
    })
    .await;
}

/// Scenario 2: killing and restarting the controller mid-way creates nothing twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restarting_the_controller_midway_creates_nothing_twice() {
    let bed = TestBed::shared();
    let ns = bed.namespace("e2e-restart");
    let emu = start_emulator(&[]);
    let ctl = start_controller(bed, &ns, &emu.url);
    apply(
        bed,
        &ns,
        &format!(
            "{}---\n{}---\n{}",
            replica_yaml(),
            group_yaml("overflow", "Retain"),
            members_yaml("overflow", 1, 200)
        ),
    );
    // Kill as soon as the group creation has been sent, then start again.
    eventually(
        Duration::from_secs(60),
        "CreateTrafficDistributionGroup sent",
        || async { count_ok(&calls(&emu.url).await, "CreateTrafficDistributionGroup") > 0 },
    )
    .await;
    drop(ctl);
    let _ctl = start_controller(bed, &ns, &emu.url);
    wait_ready(bed, &ns, "agm/members", "120s");
    let log = calls(&emu.url).await;
    assert_eq!(count_ok(&log, "ReplicateInstance"), 1);
    assert_eq!(count_ok(&log, "CreateTrafficDistributionGroup"), 1);
    let west = connect(&emu.url, "us-west-2").await;
    let groups = west
        .list_traffic_distribution_groups()
        .instance_id(INSTANCE)
        .send()
        .await
        .unwrap();
    let custom = groups
        .traffic_distribution_group_summary_list()
        .iter()
        .filter(|g| !g.is_default())
        .count();
    assert_eq!(custom, 1, "exactly one custom group exists");
}

/// Scenario 5: deletion honours deletionPolicy and removes the finalizer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_a_group_with_policy_delete_releases_numbers_and_deletes_it() {
    let bed = TestBed::shared();
    let ns = bed.namespace("e2e-delete");
    let emu = start_emulator(&[]);
    let _ctl = start_controller(bed, &ns, &emu.url);
    apply(
        bed,
        &ns,
        &format!(
            "{}---\n{}---\n{}",
            replica_yaml(),
            group_yaml("gone", "Delete"),
            group_yaml("kept", "Retain").replace("+14255550103", "+14255550102")
        ),
    );
    wait_ready(bed, &ns, "tdg/gone", "60s");
    wait_ready(bed, &ns, "tdg/kept", "60s");
    let gone = group_arn(bed, &ns, "gone").await;
    let kept = group_arn(bed, &ns, "kept").await;
    let out = bed.kubectl(&["delete", "-n", &ns, "tdg/gone", "tdg/kept", "--timeout=60s"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let west = connect(&emu.url, "us-west-2").await;
    eventually(
        Duration::from_secs(30),
        "group with Delete policy is gone",
        || async {
            let r = west
                .describe_traffic_distribution_group()
                .traffic_distribution_group_id(&gone)
                .send()
                .await;
            r.is_err()
                || r.unwrap()
                    .traffic_distribution_group()
                    .unwrap()
                    .status()
                    .unwrap()
                    .as_str()
                    == "PENDING_DELETION"
        },
    )
    .await;
    let k = west
        .describe_traffic_distribution_group()
        .traffic_distribution_group_id(&kept)
        .send()
        .await
        .unwrap();
    assert_eq!(
        k.traffic_distribution_group()
            .unwrap()
            .status()
            .unwrap()
            .as_str(),
        "ACTIVE",
        "Retain keeps the group"
    );
    let left = bed.kubectl(&["get", "-n", &ns, "tdg", "-o", "name"]);
    assert!(
        String::from_utf8_lossy(&left.stdout).trim().is_empty(),
        "finalizers removed"
    );
}

/// Scenario 6: a runtime rejection ends in a condition that names the cause, without a retry storm.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_on_a_non_default_group_is_stalled_with_the_rule_and_no_calls() {
    let bed = TestBed::shared();
    let ns = bed.namespace("e2e-reject");
    let emu = start_emulator(&[]);
    let _ctl = start_controller(bed, &ns, &emu.url);
    let bad = split_yaml("overflow", 50, 50) + "  signIn: {us-west-2: true, us-east-1: true}\n";
    apply(
        bed,
        &ns,
        &format!(
            "{}---\n{}---\n{}",
            replica_yaml(),
            group_yaml("overflow", "Retain"),
            bad
        ),
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let stalled = jsonpath(
            bed,
            &ns,
            "tdist/split",
            "{.status.conditions[?(@.type==\"Stalled\")].message}",
        );
        if stalled.contains("default") && stalled.contains("G4") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no Stalled condition naming G4: {stalled:?}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    // Two of the split's reads after the stall: one whole refused pass ran after it.
    let mark = Mark::now(&emu.url);
    let after = mark
        .wait_for("GetTrafficDistribution", 2, Duration::from_secs(30))
        .await;
    assert_eq!(
        attempts(&calls(&emu.url).await, &["UpdateTrafficDistribution"]),
        Vec::<String>::new(),
        "nothing sent"
    );
    let reads = times(&after, "GetTrafficDistribution");
    assert!(
        reads[1] - reads[0] >= 3.0,
        "no retry storm: the refused pass comes back at the resync (4 s), not sooner: {reads:?}"
    );
}

/// Scenario 7: with the source region down, a failover still reaches Connect through the replica.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failover_goes_through_the_replica_region_while_the_source_is_down() {
    let bed = TestBed::shared();
    let ns = bed.namespace("e2e-outage");
    let emu = start_emulator(&[]);
    let _ctl = start_controller(bed, &ns, &emu.url);
    apply(
        bed,
        &ns,
        &format!(
            "{}---\n{}---\n{}",
            replica_yaml(),
            group_yaml("overflow", "Retain"),
            split_yaml("overflow", 50, 50)
        ),
    );
    wait_ready(bed, &ns, "tdist/split", "60s");
    let arn = group_arn(bed, &ns, "overflow").await;
    post(
        &format!("{}/_emulator/faults", emu.url),
        r#"{"region":"us-west-2","regionDown":true}"#,
    )
    .await;
    apply(bed, &ns, &split_yaml("overflow", 0, 0));
    let east = connect(&emu.url, "us-east-1").await;
    eventually(
        Duration::from_secs(60),
        "failover applied via us-east-1",
        || async {
            telephony(&east, &arn).await == vec![("us-east-1".into(), 100), ("us-west-2".into(), 0)]
        },
    )
    .await;
    eventually(
        Duration::from_secs(20),
        "status says us-east-1 served it",
        || async { jsonpath(bed, &ns, "tdist/split", "{.status.servedBy}") == "us-east-1" },
    )
    .await;
}

/// Scenario 4: with 20% of the emulator's calls failing (5xx and throttling) everything converges.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn everything_converges_while_twenty_percent_of_calls_fail() {
    let bed = TestBed::shared();
    let ns = bed.namespace("e2e-faults");
    let emu = start_emulator(&[]);
    post(
        &format!("{}/_emulator/faults", emu.url),
        r#"{"errorRate":0.1,"errorType":"InternalServiceException"}"#,
    )
    .await;
    post(
        &format!("{}/_emulator/faults", emu.url),
        r#"{"errorRate":0.1,"errorType":"ThrottlingException"}"#,
    )
    .await;
    let _ctl = start_controller(bed, &ns, &emu.url);
    apply(
        bed,
        &ns,
        &format!(
            "{}---\n{}---\n{}---\n{}",
            replica_yaml(),
            group_yaml("overflow", "Retain"),
            members_yaml("overflow", 1, 100),
            split_yaml("overflow", 60, 50)
        ),
    );
    wait_ready(bed, &ns, "agm/members", "180s");
    wait_ready(bed, &ns, "tdist/split", "120s");
    let log = calls(&emu.url).await;
    let failed = log.iter().filter(|c| c["status"] != 200).count();
    assert!(failed > 0, "faults were injected ({} calls)", log.len());
    let west = connect(&emu.url, "us-west-2").await;
    let arn = group_arn(bed, &ns, "overflow").await;
    assert_eq!(members(&west, &arn).await.len(), 100);
    assert_eq!(
        count_ok(&log, "ReplicateInstance"),
        1,
        "replication was requested once despite failures"
    );
}

fn denylist_yaml(numbers: &[&str]) -> String {
    let n: Vec<String> = numbers.iter().map(|n| format!("\"{n}\"")).collect();
    format!(
        "apiVersion: connectgr.io/v1alpha1\nkind: CallerDenylist\nmetadata: {{name: denylist}}\nspec:\n  groupRef: {{name: default}}\n  tableName: DenylistingTable\n  numbers: [{}]\n  lambdaFunctions: {{add: denylist-add, check: denylist-check}}\n",
        n.join(",")
    )
}

async fn table_numbers(moto: &crate::support::moto::Moto) -> Vec<(String, String)> {
    let out = moto
        .dynamodb("us-west-2")
        .scan()
        .table_name("DenylistingTable")
        .send()
        .await;
    let Ok(out) = out else { return vec![] };
    let mut v: Vec<(String, String)> = out
        .items()
        .iter()
        .map(|i| {
            let s = |k: &str| {
                i.get(k)
                    .and_then(|v| v.as_s().ok())
                    .cloned()
                    .unwrap_or_default()
            };
            (s("ContactNumber"), s("Source"))
        })
        .collect();
    v.sort();
    v
}

/// Issue 6: a CallerDenylist creates the table (moto as the DynamoDB wire peer), writes the
/// declared numbers, associates both functions in both regions; an agent-flagged number survives
/// spec changes and a restart; removing a declared number removes only that one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn caller_denylist_keeps_agent_flagged_numbers_and_associates_lambdas_in_both_regions() {
    let bed = TestBed::shared();
    let ns = bed.namespace("e2e-denylist");
    let emu = start_emulator(&[]);
    let moto = crate::support::moto::Moto::start();
    let env: Vec<(&str, String)> = vec![("AWS_ENDPOINT_URL_DYNAMODB", moto.env()[0].1.clone())];
    let ctl = start_controller_with(bed, &ns, &emu.url, &env);
    let default_group = "apiVersion: connectgr.io/v1alpha1\nkind: TrafficDistributionGroup\nmetadata: {name: default}\nspec:\n  replicaRef: {name: support-center}\n  default: true\n";
    apply(
        bed,
        &ns,
        &format!(
            "{}---\n{default_group}---\n{}",
            replica_yaml(),
            denylist_yaml(&["+12065550123", "+12065550124"])
        ),
    );
    eventually(
        Duration::from_secs(90),
        "declared numbers written",
        || async {
            table_numbers(&moto).await
                == vec![
                    ("+12065550123".into(), "declared".into()),
                    ("+12065550124".into(), "declared".into()),
                ]
        },
    )
    .await;
    for region in ["us-west-2", "us-east-1"] {
        let c = connect(&emu.url, region).await;
        let want = [
            format!("arn:aws:lambda:{region}:123456789012:function:denylist-add"),
            format!("arn:aws:lambda:{region}:123456789012:function:denylist-check"),
        ];
        eventually(
            Duration::from_secs(30),
            "lambda functions associated",
            || async {
                let fns = c
                    .list_lambda_functions()
                    .instance_id(INSTANCE)
                    .send()
                    .await
                    .map(|o| o.lambda_functions().to_vec())
                    .unwrap_or_default();
                want.iter().all(|w| fns.contains(w))
            },
        )
        .await;
    }
    // An agent flags a caller (what denylist-add writes), then the spec drops a declared number.
    let flagged = connect_gr::denylist::entry::Entry::bare(
        "+14255550199",
        connect_gr::denylist::entry::Source::Agent,
    );
    moto.dynamodb("us-west-2")
        .put_item()
        .table_name("DenylistingTable")
        .set_item(Some(flagged.to_item()))
        .send()
        .await
        .unwrap();
    apply(bed, &ns, &denylist_yaml(&["+12065550123"]));
    eventually(
        Duration::from_secs(30),
        "only the removed declared number is gone",
        || async {
            table_numbers(&moto).await
                == vec![
                    ("+12065550123".into(), "declared".into()),
                    ("+14255550199".into(), "agent".into()),
                ]
        },
    )
    .await;
    // Declaring the agent-flagged number and removing it again never deletes it.
    // Each step is marked by a pass that demonstrably ran after it, never by a sleep.
    let pass = Duration::from_secs(30);
    apply(bed, &ns, &denylist_yaml(&["+12065550123", "+14255550199"]));
    generation_observed(bed, &ns, "cdl/denylist", pass).await;
    apply(bed, &ns, &denylist_yaml(&["+12065550123"]));
    generation_observed(bed, &ns, "cdl/denylist", pass).await;
    drop(ctl);
    let _ctl = start_controller_with(bed, &ns, &emu.url, &env);
    reconciled_now(bed, &ns, "cdl/denylist", "after-restart", pass).await;
    assert!(
        table_numbers(&moto)
            .await
            .contains(&("+14255550199".into(), "agent".into())),
        "agent-flagged number survived spec changes and a restart"
    );
    let counts = jsonpath(bed, &ns, "cdl/denylist", "{.status.agentFlagged}");
    assert_eq!(counts, "1", "status counts the agent-flagged entry");
}

pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn start_candidate(bed: &TestBed, ns: &str, emulator: &str, name: &str, port: u16) -> Proc {
    let mut cmd = controller_command(bed, ns, emulator, &format!("controller-{ns}-{name}.log"));
    cmd.args(["--leader-elect", "--leader-election-lease-duration", "3s"])
        .args(["--metrics-addr", &format!("127.0.0.1:{port}")])
        .env("POD_NAME", name);
    Proc(cmd.spawn().expect("spawn controller"))
}

fn lease_holder(bed: &TestBed, ns: &str) -> String {
    jsonpath(bed, ns, "lease/connect-gr", "{.spec.holderIdentity}")
}

/// Lines of a replica's /metrics that start with `prefix`.
async fn metric_lines(port: u16, prefix: &str) -> Vec<String> {
    reqwest_get(&format!("http://127.0.0.1:{port}/metrics"))
        .await
        .lines()
        .filter(|l| l.starts_with(prefix))
        .map(str::to_string)
        .collect()
}

/// Two replicas with --leader-elect: only the Lease holder calls Connect; when it dies the
/// standby takes the Lease over and carries on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_leader_election_only_the_lease_holder_acts_and_a_standby_takes_over() {
    let bed = TestBed::shared();
    bed.require_core_apis("the apiextensions-apiserver serves no Leases");
    let ns = bed.namespace("lease");
    let emu = start_emulator(&["--replication-seconds", "1"]);
    let (pa, pb) = (free_port(), free_port());
    let a = start_candidate(bed, &ns, &emu.url, "ctrl-a", pa);
    eventually(
        Duration::from_secs(30),
        "ctrl-a holds the lease",
        || async { lease_holder(bed, &ns).starts_with("ctrl-a_") },
    )
    .await;
    let _b = start_candidate(bed, &ns, &emu.url, "ctrl-b", pb);
    apply(bed, &ns, &replica_yaml());
    wait_ready(bed, &ns, "instancereplica/support-center", "90s");
    eventually(
        Duration::from_secs(20),
        "standby serves metrics",
        || async { !metric_lines(pb, "connectgr_leader").await.is_empty() },
    )
    .await;
    assert_eq!(
        metric_lines(pb, "connectgr_leader ").await,
        ["connectgr_leader 0"]
    );
    assert!(
        metric_lines(pb, "connectgr_connect_calls_total")
            .await
            .is_empty(),
        "the standby must not call Connect"
    );
    assert_eq!(
        metric_lines(pa, "connectgr_leader ").await,
        ["connectgr_leader 1"]
    );
    assert!(lease_holder(bed, &ns).starts_with("ctrl-a_"));

    drop(a); // SIGKILL: no release, the standby waits for the lease to expire
    eventually(
        Duration::from_secs(30),
        "ctrl-b takes the lease",
        || async { lease_holder(bed, &ns).starts_with("ctrl-b_") },
    )
    .await;
    apply(bed, &ns, &group_yaml("support-overflow", "Retain"));
    wait_ready(bed, &ns, "trafficdistributiongroup/support-overflow", "90s");
    assert!(lease_holder(bed, &ns).starts_with("ctrl-b_"));
    assert_eq!(
        metric_lines(pb, "connectgr_leader ").await,
        ["connectgr_leader 1"]
    );
    assert!(
        !metric_lines(pb, "connectgr_connect_calls_total")
            .await
            .is_empty()
    );
}

/// A namespace, an emulator (replication in 1 s) and a controller for it.
fn scenario(prefix: &str) -> (&'static TestBed, String, Emulator, Proc) {
    let bed = TestBed::shared();
    let ns = bed.namespace(prefix);
    let emu = start_emulator(&["--replication-seconds", "1"]);
    let ctl = start_controller(bed, &ns, &emu.url);
    (bed, ns, emu, ctl)
}

pub(crate) fn named_members_yaml(
    name: &str,
    group: &str,
    from: usize,
    to: usize,
    policy: &str,
) -> String {
    let users: Vec<String> = (from..=to).map(|i| format!("\"agent{i:03}\"")).collect();
    format!(
        "apiVersion: connectgr.io/v1alpha1\nkind: AgentMembership\nmetadata: {{name: {name}}}\nspec:\n  groupRef: {{name: {group}}}\n  mode: Additive\n  deletionPolicy: {policy}\n  users: [{}]\n",
        users.join(",")
    )
}

/// Sorted user ids of agentFROM..=agentTO.
pub(crate) async fn agent_ids(c: &aws_sdk_connect::Client, from: usize, to: usize) -> Vec<String> {
    let wanted: Vec<String> = (from..=to).map(|i| format!("agent{i:03}")).collect();
    let users = c
        .list_users()
        .instance_id(INSTANCE)
        .max_results(1000)
        .send()
        .await
        .unwrap();
    let mut ids: Vec<String> = users
        .user_summary_list()
        .iter()
        .filter(|u| wanted.iter().any(|w| Some(w.as_str()) == u.username()))
        .filter_map(|u| u.id().map(str::to_string))
        .collect();
    ids.sort();
    assert_eq!(ids.len(), wanted.len(), "every agent exists");
    ids
}

/// deletionPolicy on AgentMembership: Delete takes out only the agents no other membership of
/// the group declares; Retain (the default) leaves the group as it is.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_a_membership_removes_only_its_own_agents_when_its_policy_is_delete() {
    let (bed, ns, emu, _ctl) = scenario("e2e-agm-delete");
    apply(
        bed,
        &ns,
        &format!(
            "{}---\n{}---\n{}---\n{}",
            replica_yaml(),
            group_yaml("team", "Retain"),
            named_members_yaml("leaving", "team", 1, 10, "Delete"),
            named_members_yaml("staying", "team", 6, 15, "Retain"),
        ),
    );
    wait_ready(bed, &ns, "agm/leaving", "120s");
    wait_ready(bed, &ns, "agm/staying", "60s");
    let west = connect(&emu.url, "us-west-2").await;
    let arn = group_arn(bed, &ns, "team").await;
    assert_eq!(members(&west, &arn).await, agent_ids(&west, 1, 15).await);

    let out = bed.kubectl(&["delete", "-n", &ns, "agm/leaving", "--timeout=60s"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        members(&west, &arn).await,
        agent_ids(&west, 6, 15).await,
        "agents 1-5 leave; 6-10 are still declared by `staying`"
    );

    let out = bed.kubectl(&["delete", "-n", &ns, "agm/staying", "--timeout=60s"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(members(&west, &arn).await, agent_ids(&west, 6, 15).await);
}

fn tagged_group_yaml(tags: &str) -> String {
    format!(
        "apiVersion: connectgr.io/v1alpha1\nkind: TrafficDistributionGroup\nmetadata: {{name: tagged}}\nspec:\n  replicaRef: {{name: support-center}}\n  tags: {{{tags}}}\n"
    )
}

/// The group's tags, without the controller's ownership tag (checked on its own).
async fn group_tags(c: &aws_sdk_connect::Client, arn: &str) -> Vec<(String, String)> {
    let mut tags = all_group_tags(c, arn).await;
    tags.retain(|(k, _)| k != "connectgr.io/owner");
    tags
}

async fn all_group_tags(c: &aws_sdk_connect::Client, arn: &str) -> Vec<(String, String)> {
    let out = c
        .describe_traffic_distribution_group()
        .traffic_distribution_group_id(arn)
        .send()
        .await
        .unwrap();
    let mut tags: Vec<(String, String)> = out
        .traffic_distribution_group()
        .and_then(|g| g.tags())
        .map(|t| t.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default();
    tags.sort();
    tags
}

/// Tags are declarative: changes in Connect are undone, tags dropped from the spec are removed,
/// and a tag a person added stays.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_tags_follow_the_spec_and_keep_tags_a_person_added() {
    let (bed, ns, emu, _ctl) = scenario("e2e-tags");
    apply(
        bed,
        &ns,
        &format!(
            "{}---\n{}",
            replica_yaml(),
            tagged_group_yaml("team: support, tier: gold")
        ),
    );
    wait_ready(bed, &ns, "tdg/tagged", "90s");
    let west = connect(&emu.url, "us-west-2").await;
    let arn = group_arn(bed, &ns, "tagged").await;
    let pair = |k: &str, v: &str| (k.to_string(), v.to_string());
    assert_eq!(
        group_tags(&west, &arn).await,
        [pair("team", "support"), pair("tier", "gold")]
    );
    let owner = all_group_tags(&west, &arn).await;
    assert!(
        owner
            .iter()
            .any(|(k, v)| k == "connectgr.io/owner" && v.starts_with(&format!("{ns}/tagged/"))),
        "a group the controller creates carries its owner: {owner:?}"
    );

    west.tag_resource()
        .resource_arn(&arn)
        .tags("team", "sales")
        .tags("owner", "alice")
        .send()
        .await
        .unwrap();
    eventually(Duration::from_secs(30), "team tag restored", || async {
        group_tags(&west, &arn).await
            == [
                pair("owner", "alice"),
                pair("team", "support"),
                pair("tier", "gold"),
            ]
    })
    .await;

    apply(bed, &ns, &tagged_group_yaml("team: support"));
    eventually(Duration::from_secs(30), "tier tag removed", || async {
        group_tags(&west, &arn).await == [pair("owner", "alice"), pair("team", "support")]
    })
    .await;
    assert_eq!(
        jsonpath(bed, &ns, "tdg/tagged", "{.status.managedTags}"),
        "[\"team\"]"
    );
}

/// The example manifests that need no DynamoDB (no CallerDenylist), in apply order.
pub(crate) const CONNECT_EXAMPLES: &[&str] = &[
    "instance-replica.yaml",
    "tdg-default.yaml",
    "tdg-overflow.yaml",
    "agent-membership.yaml",
    "traffic-distribution.yaml",
];

/// Successful Connect writes in the emulator's call log, `(region, operation)` in call order.
pub(crate) fn successful_writes(url: &str) -> Vec<(String, String)> {
    const READS: &[&str] = &["Describe", "List", "Get", "Search"];
    let addr = url.trim_start_matches("http://");
    let (_, _, body) =
        crate::support::emulator::http_request(addr, "GET", "/_emulator/calls", &[], "");
    let calls: Vec<serde_json::Value> = serde_json::from_str(&body).unwrap();
    calls
        .iter()
        .filter(|c| c["status"] == 200)
        .filter_map(|c| {
            let op = c["operation"].as_str()?;
            (!READS.iter().any(|r| op.starts_with(r))).then(|| {
                (
                    c["region"].as_str().unwrap_or("-").to_string(),
                    op.to_string(),
                )
            })
        })
        .collect()
}
