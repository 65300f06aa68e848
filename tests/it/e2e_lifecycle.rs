//! End to end, the lifecycle controls (issue 14) on the real API server, controller and emulator:
//! observe mode, pause, reconcile-now, and explicit ownership of groups.

use std::time::Duration;

use crate::e2e::{
    Proc, apply, connect, controller_command, eventually, jsonpath, replica_yaml, start_emulator,
    wait_ready,
};
use crate::support::markers::{Mark, WRITES, attempts, reconciled_now};
use crate::support::testbed::TestBed;

const INSTANCE: &str = "4f5e3c1a-7b2d-4c8e-9a10-2b3c4d5e6f70";

fn controller(bed: &TestBed, ns: &str, emulator: &str, resync: &str) -> Proc {
    Proc(
        controller_command(bed, ns, emulator, &format!("controller-{ns}.log"))
            .args(["--metrics-addr", "127.0.0.1:0"])
            .env("CONNECT_GR_RESYNC_INTERVAL", resync)
            .env("RUST_LOG", "info,connect_gr=debug")
            .spawn()
            .expect("spawn controller"),
    )
}

fn calls_of(url: &str, op: &str) -> usize {
    let addr = url.trim_start_matches("http://");
    let (_, _, body) =
        crate::support::emulator::http_request(addr, "GET", "/_emulator/calls", &[], "");
    let v: Vec<serde_json::Value> = serde_json::from_str(&body).unwrap();
    v.iter()
        .filter(|c| c["operation"] == op && c["status"] == 200)
        .count()
}

fn annotate(bed: &TestBed, ns: &str, what: &str, kv: &str) {
    let out = bed.kubectl(&["annotate", "-n", ns, what, kv, "--overwrite"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn condition(bed: &TestBed, ns: &str, what: &str, type_: &str, field: &str) -> String {
    jsonpath(
        bed,
        ns,
        what,
        &format!("{{.status.conditions[?(@.type==\"{type_}\")].{field}}}"),
    )
}

fn group(name: &str, extra: &str) -> String {
    format!(
        "apiVersion: connectgr.io/v1alpha1\nkind: TrafficDistributionGroup\nmetadata:\n  name: {name}\n{extra}spec:\n  replicaRef: {{name: support-center}}\n  tags: {{team: support}}\n"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn observe_mode_writes_nothing_shows_the_plan_and_converges_once_switched_to_full() {
    let bed = TestBed::shared();
    let ns = bed.namespace("e2e-observe");
    let emu = start_emulator(&["--replication-seconds", "1"]);
    let _ctl = controller(bed, &ns, &emu.url, "4s");
    apply(bed, &ns, &replica_yaml());
    wait_ready(bed, &ns, "irep/support-center", "60s");
    apply(
        bed,
        &ns,
        &group(
            "team",
            "  annotations: {connectgr.io/management-policy: Observe}\n",
        ),
    );
    eventually(Duration::from_secs(30), "tdg/team ObserveOnly", || async {
        condition(bed, &ns, "tdg/team", "Ready", "reason") == "ObserveOnly"
    })
    .await;
    assert_eq!(condition(bed, &ns, "tdg/team", "Ready", "status"), "False");
    assert_eq!(condition(bed, &ns, "tdg/team", "Reconciling", "status"), "");
    let plan = jsonpath(bed, &ns, "tdg/team", "{.status.plan.calls[*]}");
    assert!(plan.contains("CreateTrafficDistributionGroup"), "{plan}");
    assert_eq!(jsonpath(bed, &ns, "tdg/team", "{.status.plan.total}"), "1");
    // Two more of the group's reads (two resyncs, 4 s): still nothing written.
    let mark = Mark::now(&emu.url);
    mark.wait_for("ListTrafficDistributionGroups", 2, Duration::from_secs(30))
        .await;
    assert_eq!(
        attempts(&mark.calls(), WRITES),
        Vec::<String>::new(),
        "observe mode writes nothing"
    );
    assert_eq!(calls_of(&emu.url, "CreateTrafficDistributionGroup"), 0);

    annotate(bed, &ns, "tdg/team", "connectgr.io/management-policy=Full");
    wait_ready(bed, &ns, "tdg/team", "60s");
    assert_eq!(calls_of(&emu.url, "CreateTrafficDistributionGroup"), 1);
    assert_eq!(jsonpath(bed, &ns, "tdg/team", "{.status.plan}"), "");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_object_is_left_alone_until_its_time_and_reconcile_now_acts_within_seconds() {
    let bed = TestBed::shared();
    let ns = bed.namespace("e2e-pause");
    let emu = start_emulator(&["--replication-seconds", "1"]);
    // A long resync: whatever happens within the test is the annotations' doing.
    let _ctl = controller(bed, &ns, &emu.url, "10m");
    apply(bed, &ns, &replica_yaml());
    wait_ready(bed, &ns, "irep/support-center", "60s");
    let until = k8s_openapi::jiff::Timestamp::now()
        .checked_add(k8s_openapi::jiff::SignedDuration::from_secs(12))
        .unwrap();
    apply(
        bed,
        &ns,
        &group(
            "frozen",
            &format!("  annotations: {{connectgr.io/paused: \"{until}\"}}\n"),
        ),
    );
    eventually(Duration::from_secs(20), "tdg/frozen Paused", || async {
        condition(bed, &ns, "tdg/frozen", "Paused", "status") == "True"
    })
    .await;
    assert!(
        condition(bed, &ns, "tdg/frozen", "Paused", "message").contains(&until.to_string()),
        "the condition says until when"
    );
    assert_eq!(
        calls_of(&emu.url, "ListTrafficDistributionGroups"),
        0,
        "no reads"
    );
    assert_eq!(calls_of(&emu.url, "CreateTrafficDistributionGroup"), 0);
    // The time passes: the object is reconciled without any other change.
    wait_ready(bed, &ns, "tdg/frozen", "60s");
    assert_eq!(condition(bed, &ns, "tdg/frozen", "Paused", "status"), "");

    // A tag removed by hand: nothing looks again for 10 minutes, unless asked to.
    let arn = jsonpath(bed, &ns, "tdg/frozen", "{.status.arn}");
    let west = connect(&emu.url, "us-west-2").await;
    west.untag_resource()
        .resource_arn(&arn)
        .tag_keys("team")
        .send()
        .await
        .unwrap();
    let has_team_tag = || async {
        west.list_tags_for_resource()
            .resource_arn(&arn)
            .send()
            .await
            .unwrap()
            .tags()
            .is_some_and(|t| t.contains_key("team"))
    };
    // The controller demonstrably works meanwhile: a group applied after the change gets
    // created and Ready, and nothing after the change addressed the untouched group.
    let mark = Mark::now(&emu.url);
    apply(bed, &ns, &group("probe", ""));
    wait_ready(bed, &ns, "tdg/probe", "60s");
    let id = jsonpath(bed, &ns, "tdg/frozen", "{.status.id}");
    assert!(!id.is_empty());
    let touched: Vec<String> = mark
        .calls()
        .iter()
        .filter(|c| c["path"].as_str().unwrap_or_default().contains(&id))
        .map(|c| format!("{} {}", c["operation"], c["path"]))
        .collect();
    assert_eq!(touched, Vec::<String>::new(), "nothing looked at the group");
    assert!(!has_team_tag().await);
    annotate(bed, &ns, "tdg/frozen", "connectgr.io/reconcile-now=1");
    eventually(Duration::from_secs(10), "tag restored", has_team_tag).await;
    assert_eq!(
        jsonpath(bed, &ns, "tdg/frozen", "{.status.lastHandledReconcileNow}"),
        "1"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hand_made_group_stalls_already_exists_until_adopted_and_is_never_managed_twice() {
    let bed = TestBed::shared();
    let ns = bed.namespace("e2e-owner");
    let emu = start_emulator(&["--replication-seconds", "1"]);
    let _ctl = controller(bed, &ns, &emu.url, "4s");
    apply(bed, &ns, &replica_yaml());
    wait_ready(bed, &ns, "irep/support-center", "60s");
    let west = connect(&emu.url, "us-west-2").await;
    let made = west
        .create_traffic_distribution_group()
        .name("handmade")
        .instance_id(format!(
            "arn:aws:connect:us-west-2:123456789012:instance/{INSTANCE}"
        ))
        .send()
        .await
        .unwrap();
    let arn = made.arn().unwrap().to_string();

    apply(bed, &ns, &group("handmade", ""));
    eventually(Duration::from_secs(30), "AlreadyExists", || async {
        condition(bed, &ns, "tdg/handmade", "Stalled", "reason") == "AlreadyExists"
    })
    .await;
    assert!(condition(bed, &ns, "tdg/handmade", "Stalled", "message").contains(&arn));
    assert_eq!(calls_of(&emu.url, "TagResource"), 0, "not taken over");

    let adopted = group("handmade", "").replace("spec:\n", "spec:\n  adopt: true\n");
    apply(bed, &ns, &adopted);
    wait_ready(bed, &ns, "tdg/handmade", "60s");
    assert_eq!(jsonpath(bed, &ns, "tdg/handmade", "{.status.arn}"), arn);
    let tags = west
        .list_tags_for_resource()
        .resource_arn(&arn)
        .send()
        .await
        .unwrap();
    let owner = tags
        .tags()
        .and_then(|t| t.get("connectgr.io/owner"))
        .cloned()
        .unwrap_or_default();
    assert!(owner.starts_with(&format!("{ns}/handmade/")), "{owner}");

    // A second object naming the same group, even with adopt: true, never manages it.
    let twin = "apiVersion: connectgr.io/v1alpha1\nkind: TrafficDistributionGroup\nmetadata: {name: twin}\nspec:\n  replicaRef: {name: support-center}\n  name: handmade\n  adopt: true\n  tags: {team: other}\n";
    apply(bed, &ns, twin);
    eventually(Duration::from_secs(30), "twin AlreadyExists", || async {
        condition(bed, &ns, "tdg/twin", "Stalled", "reason") == "AlreadyExists"
    })
    .await;
    assert!(condition(bed, &ns, "tdg/twin", "Stalled", "message").contains(&owner));
    // A whole pass of the twin after that (reconcile-now looks again), then the checks.
    let mark = Mark::now(&emu.url);
    reconciled_now(bed, &ns, "tdg/twin", "look-again", Duration::from_secs(30)).await;
    assert_eq!(
        attempts(&mark.calls(), WRITES),
        Vec::<String>::new(),
        "the twin sends nothing"
    );
    let tags = west
        .list_tags_for_resource()
        .resource_arn(&arn)
        .send()
        .await
        .unwrap();
    assert_eq!(
        tags.tags().and_then(|t| t.get("team")).map(String::as_str),
        Some("support"),
        "the twin never wrote its tags"
    );
}
