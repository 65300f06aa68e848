//! End to end, failover readiness (issue 12) on the real API server, controller and emulator:
//! InstanceReplica preflight findings and FailoverReady, cleared within a resync once fixed.

use std::time::Duration;

use crate::e2e::{
    Proc, apply, connect, controller_command, eventually, jsonpath, replica_yaml, start_emulator,
    wait_ready,
};
use crate::support::testbed::TestBed;

const INSTANCE: &str = "4f5e3c1a-7b2d-4c8e-9a10-2b3c4d5e6f70";

pub(crate) fn controller(bed: &TestBed, ns: &str, emulator: &str) -> Proc {
    Proc(
        controller_command(bed, ns, emulator, &format!("controller-{ns}.log"))
            .args(["--metrics-addr", "127.0.0.1:0"])
            .env("CONNECT_GR_RESYNC_INTERVAL", "3s")
            .env("RUST_LOG", "info,connect_gr=debug")
            .spawn()
            .expect("spawn controller"),
    )
}

fn failover_ready(bed: &TestBed, ns: &str, field: &str) -> String {
    jsonpath(
        bed,
        ns,
        "irep/support-center",
        &format!("{{.status.conditions[?(@.type==\"FailoverReady\")].{field}}}"),
    )
}

fn finding_kinds(bed: &TestBed, ns: &str) -> Vec<String> {
    let out = jsonpath(
        bed,
        ns,
        "irep/support-center",
        "{range .status.preflight.findings[*]}{.kind}/{.region}/{.resource.name}{\"\\n\"}{end}",
    );
    out.lines().map(str::to_string).collect()
}

async fn associate(url: &str, region: &str, name: &str) {
    connect(url, region)
        .await
        .associate_lambda_function()
        .instance_id(INSTANCE)
        .function_arn(format!(
            "arn:aws:lambda:{region}:123456789012:function:{name}"
        ))
        .send()
        .await
        .unwrap();
}

/// The default state's flows name DenylistCheck and DenylistAdd; "Legacy support inbound"
/// hard-codes the us-west-2 DenylistCheck ARN.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hard_coded_regions_and_one_region_lambdas_make_the_replica_not_failover_ready_until_fixed()
{
    let bed = TestBed::shared();
    let ns = bed.namespace("e2e-preflight");
    let emu = start_emulator(&["--replication-seconds", "1", "--user-mirror-seconds", "1"]);
    for f in ["DenylistCheck", "DenylistAdd"] {
        associate(&emu.url, "us-west-2", f).await;
    }
    let _ctl = controller(bed, &ns, &emu.url);
    apply(bed, &ns, &replica_yaml());
    wait_ready(bed, &ns, "irep/support-center", "60s");
    eventually(Duration::from_secs(30), "FailoverReady=False", || async {
        failover_ready(bed, &ns, "status") == "False"
    })
    .await;
    let kinds = finding_kinds(bed, &ns);
    for expected in [
        "FlowHardcodedRegion/us-east-1/Legacy support inbound",
        "LambdaOneRegion/us-east-1/DenylistCheck",
        "LambdaOneRegion/us-east-1/DenylistAdd",
    ] {
        assert!(
            kinds.iter().any(|k| k == expected),
            "{expected} not in {kinds:?}"
        );
    }
    assert!(
        failover_ready(bed, &ns, "message").starts_with("3 blocking findings"),
        "{}",
        failover_ready(bed, &ns, "message")
    );
    // `kubectl get irep` shows the counts
    let table = String::from_utf8_lossy(
        &bed.kubectl(&["get", "-n", &ns, "irep/support-center"])
            .stdout,
    )
    .to_string();
    assert!(table.contains("BLOCKING"), "{table}");
    assert_eq!(
        jsonpath(
            bed,
            &ns,
            "irep/support-center",
            "{.status.preflight.blocking}"
        ),
        "3"
    );

    // fix them in Connect: associate the functions in us-east-1, use $.AwsRegion in the flow
    for f in ["DenylistCheck", "DenylistAdd"] {
        associate(&emu.url, "us-east-1", f).await;
    }
    let west = connect(&emu.url, "us-west-2").await;
    let flows = west
        .list_contact_flows()
        .instance_id(INSTANCE)
        .send()
        .await
        .unwrap();
    let legacy = flows
        .contact_flow_summary_list()
        .iter()
        .find(|f| f.name() == Some("Legacy support inbound"))
        .unwrap();
    let id = legacy.id().unwrap();
    let content = west
        .describe_contact_flow()
        .instance_id(INSTANCE)
        .contact_flow_id(id)
        .send()
        .await
        .unwrap()
        .contact_flow()
        .unwrap()
        .content()
        .unwrap()
        .replace("arn:aws:lambda:us-west-2:", "arn:aws:lambda:$.AwsRegion:");
    west.update_contact_flow_content()
        .instance_id(INSTANCE)
        .contact_flow_id(id)
        .content(content)
        .send()
        .await
        .unwrap();
    // mirrored after 1 s, read at the next resync (3 s)
    eventually(Duration::from_secs(30), "FailoverReady=True", || async {
        failover_ready(bed, &ns, "status") == "True"
    })
    .await;
    assert_eq!(
        jsonpath(
            bed,
            &ns,
            "irep/support-center",
            "{.status.preflight.blocking}"
        ),
        "0"
    );
    // the queue ARN of the reference flows remains a warning
    assert!(
        finding_kinds(bed, &ns)
            .iter()
            .any(|k| k.starts_with("FlowRegionalArn/us-west-2/")),
        "{:?}",
        finding_kinds(bed, &ns)
    );
}

const DEFAULT_GROUP: &str = "apiVersion: connectgr.io/v1alpha1\nkind: TrafficDistributionGroup\nmetadata: {name: default}\nspec:\n  replicaRef: {name: support-center}\n  default: true\n";

pub(crate) fn failover_yaml(extra: &str) -> String {
    format!(
        "apiVersion: connectgr.io/v1alpha1\nkind: TrafficDistribution\nmetadata: {{name: split}}\nspec:\n  groupRef: {{name: default}}\n  telephony: {{us-west-2: 0, us-east-1: 100}}\n  agents: {{us-west-2: 0, us-east-1: 100}}\n{extra}"
    )
}

pub(crate) fn emulator_post(url: &str, path: &str, body: &str) {
    let addr = url.trim_start_matches("http://");
    let (status, _, text) = crate::support::emulator::http_request(
        addr,
        "POST",
        path,
        &[("content-type", "application/json")],
        body,
    );
    assert_eq!(status, 200, "{text}");
}

pub(crate) async fn east_telephony(url: &str, arn: &str) -> i32 {
    let Ok(d) = connect(url, "us-east-1")
        .await
        .get_traffic_distribution()
        .id(arn)
        .send()
        .await
    else {
        return -1;
    };
    d.telephony_config()
        .map(|t| {
            t.distributions()
                .iter()
                .filter(|d| d.region() == "us-east-1")
                .map(|d| d.percentage())
                .sum()
        })
        .unwrap_or(-1)
}

/// Replica with one blocking finding (the legacy flow's us-west-2 Lambda ARN; both functions
/// associated in both regions) and the default group Ready. Returns the group ARN.
pub(crate) async fn replica_with_a_hard_coded_flow(bed: &TestBed, ns: &str, url: &str) -> String {
    apply(bed, ns, &format!("{}---\n{DEFAULT_GROUP}", replica_yaml()));
    wait_ready(bed, ns, "tdg/default", "60s");
    for region in ["us-west-2", "us-east-1"] {
        for f in ["DenylistCheck", "DenylistAdd"] {
            associate(url, region, f).await;
        }
    }
    eventually(Duration::from_secs(30), "one blocking finding", || async {
        jsonpath(
            bed,
            ns,
            "irep/support-center",
            "{.status.preflight.blocking}",
        ) == "1"
    })
    .await;
    jsonpath(bed, ns, "tdg/default", "{.status.arn}")
}

pub(crate) fn tdist_condition(bed: &TestBed, ns: &str, type_: &str, field: &str) -> String {
    jsonpath(
        bed,
        ns,
        "tdist/split",
        &format!("{{.status.conditions[?(@.type==\"{type_}\")].{field}}}"),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failover_onto_the_replica_is_refused_until_accept_risks_names_the_findings() {
    let bed = TestBed::shared();
    let ns = bed.namespace("e2e-preflight-gate");
    let emu = start_emulator(&["--replication-seconds", "1", "--user-mirror-seconds", "1"]);
    let _ctl = controller(bed, &ns, &emu.url);
    let arn = replica_with_a_hard_coded_flow(bed, &ns, &emu.url).await;
    apply(bed, &ns, &failover_yaml(""));
    eventually(
        Duration::from_secs(30),
        "Stalled PreflightBlocking",
        || async { tdist_condition(bed, &ns, "Stalled", "reason") == "PreflightBlocking" },
    )
    .await;
    let message = tdist_condition(bed, &ns, "Stalled", "message");
    assert!(
        message.contains("FlowHardcodedRegion Legacy support inbound in us-east-1"),
        "{message}"
    );
    assert_eq!(east_telephony(&emu.url, &arn).await, 0, "nothing was sent");
    apply(
        bed,
        &ns,
        &failover_yaml("  acceptRisks: [FlowHardcodedRegion]\n"),
    );
    wait_ready(bed, &ns, "tdist/split", "60s");
    assert_eq!(east_telephony(&emu.url, &arn).await, 100);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failover_away_from_a_region_marked_down_is_never_refused_by_findings() {
    let bed = TestBed::shared();
    let ns = bed.namespace("e2e-preflight-down");
    let emu = start_emulator(&["--replication-seconds", "1", "--user-mirror-seconds", "1"]);
    let _ctl = controller(bed, &ns, &emu.url);
    let arn = replica_with_a_hard_coded_flow(bed, &ns, &emu.url).await;
    emulator_post(
        &emu.url,
        "/_emulator/faults",
        r#"{"region":"us-west-2","regionDown":true}"#,
    );
    apply(bed, &ns, &failover_yaml(""));
    eventually(Duration::from_secs(60), "failover applied", || async {
        east_telephony(&emu.url, &arn).await == 100
    })
    .await;
    assert_ne!(
        tdist_condition(bed, &ns, "Stalled", "reason"),
        "PreflightBlocking"
    );
}

async fn isolated_regions(url: &str) -> Vec<String> {
    let mut v = connect(url, "us-east-1")
        .await
        .get_cross_region_routing()
        .instance_id(INSTANCE)
        .send()
        .await
        .unwrap()
        .isolated_regions()
        .to_vec();
    v.sort();
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cross_region_routing_isolated_is_applied_and_read_back_also_with_the_source_down() {
    let bed = TestBed::shared();
    let ns = bed.namespace("e2e-routing");
    let emu = start_emulator(&["--replication-seconds", "1", "--user-mirror-seconds", "1"]);
    let _ctl = controller(bed, &ns, &emu.url);
    apply(bed, &ns, &format!("{}---\n{DEFAULT_GROUP}", replica_yaml()));
    wait_ready(bed, &ns, "tdg/default", "60s");
    let split = |routing: &str| {
        format!(
            "apiVersion: connectgr.io/v1alpha1\nkind: TrafficDistribution\nmetadata: {{name: split}}\nspec:\n  groupRef: {{name: default}}\n  telephony: {{us-west-2: 100, us-east-1: 0}}\n  crossRegionRouting: {routing}\n"
        )
    };
    apply(bed, &ns, &split("Isolated"));
    wait_ready(bed, &ns, "tdist/split", "60s");
    assert_eq!(isolated_regions(&emu.url).await, ["us-east-1", "us-west-2"]);
    assert_eq!(
        jsonpath(bed, &ns, "tdist/split", "{.status.crossRegionRouting}"),
        "Isolated"
    );
    assert!(
        jsonpath(bed, &ns, "tdist/split", "{.status.split}").contains("routing Isolated"),
        "{}",
        jsonpath(bed, &ns, "tdist/split", "{.status.split}")
    );
    // the source region goes down: the change goes through us-east-1
    emulator_post(
        &emu.url,
        "/_emulator/faults",
        r#"{"region":"us-west-2","regionDown":true}"#,
    );
    apply(bed, &ns, &split("Enabled"));
    eventually(Duration::from_secs(60), "routing enabled again", || async {
        isolated_regions(&emu.url).await.is_empty()
    })
    .await;
    eventually(Duration::from_secs(30), "status Enabled", || async {
        jsonpath(bed, &ns, "tdist/split", "{.status.crossRegionRouting}") == "Enabled"
    })
    .await;
    apply(bed, &ns, &split("Isolated"));
    eventually(
        Duration::from_secs(60),
        "isolated via us-east-1",
        || async { isolated_regions(&emu.url).await.len() == 2 },
    )
    .await;
}
