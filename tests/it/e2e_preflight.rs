//! End to end, failover readiness (issue 12) on the real API server, controller and emulator:
//! InstanceReplica preflight findings and FailoverReady, cleared within a resync once fixed.

use std::time::Duration;

use crate::e2e::{
    Proc, apply, connect, controller_command, eventually, jsonpath, replica_yaml, start_emulator,
    wait_ready,
};
use crate::support::testbed::TestBed;

const INSTANCE: &str = "4f5e3c1a-7b2d-4c8e-9a10-2b3c4d5e6f70";

fn controller(bed: &TestBed, ns: &str, emulator: &str) -> Proc {
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
