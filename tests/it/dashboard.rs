//! The chart's Grafana dashboard (`grafanaDashboard.enabled`): a ConfigMap with the sidecar label
//! `grafana_dashboard: "1"` holding `files/dashboards/connect-gr.json`, whose every query parses
//! as PromQL (promtool, through a recording-rule file) and names only metrics the controller
//! registers (src/metrics.rs) and a running controller exports (a real scrape of `/metrics` from
//! an e2e controller that reconciled a replica, a group, members and a split).

use std::collections::BTreeSet;
use std::time::Duration;

use crate::alerts::{PENDING_FAMILIES, promtool, registered_families};
use crate::e2e::{
    apply, connect, controller_command, eventually, free_port, group_arn, group_yaml, members_yaml,
    replica_yaml, reqwest_get, split_yaml, start_emulator, wait_ready,
};
use crate::e2e_drift::set_telephony_by_hand;
use crate::support::testbed::TestBed;

fn config_maps(sets: &[&str]) -> Vec<serde_json::Value> {
    crate::helm::template(sets)
        .into_iter()
        .filter(|d| d["kind"] == "ConfigMap" && d["metadata"]["labels"]["grafana_dashboard"] == "1")
        .collect()
}

fn dashboard() -> serde_json::Value {
    let cms = config_maps(&["grafanaDashboard.enabled=true"]);
    assert_eq!(cms.len(), 1, "{cms:#?}");
    serde_json::from_str(cms[0]["data"]["connect-gr.json"].as_str().unwrap()).unwrap()
}

/// Every PromQL expression of the dashboard: panel targets and annotation queries, with Grafana's
/// `$__rate_interval` replaced by a duration.
fn queries(d: &serde_json::Value) -> Vec<String> {
    let mut out = vec![];
    for p in d["panels"].as_array().unwrap() {
        for t in p["targets"].as_array().unwrap() {
            out.push(t["expr"].as_str().unwrap().to_string());
        }
    }
    for a in d["annotations"]["list"].as_array().unwrap() {
        out.push(a["expr"].as_str().unwrap().to_string());
    }
    out.into_iter()
        .map(|q| q.replace("$__rate_interval", "5m"))
        .collect()
}

#[test]
fn the_dashboard_config_map_is_rendered_only_when_grafana_dashboard_is_enabled() {
    assert!(config_maps(&[]).is_empty());
    assert_eq!(config_maps(&["grafanaDashboard.enabled=true"]).len(), 1);
}

#[test]
fn every_dashboard_query_parses_as_promql() {
    let qs = queries(&dashboard());
    assert!(qs.len() >= 10, "{qs:?}");
    let rules: Vec<_> = qs
        .iter()
        .enumerate()
        .map(|(i, q)| serde_json::json!({"record": format!("dashboard:query_{i}"), "expr": q}))
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let file = serde_json::json!({"groups": [{"name": "dashboard", "rules": rules}]});
    std::fs::write(
        dir.path().join("queries.yaml"),
        serde_norway::to_string(&file).unwrap(),
    )
    .unwrap();
    let out = promtool(&["check", "rules", "queries.yaml"], dir.path());
    assert!(out.contains("SUCCESS"), "{out}");
}

/// The metric families each dashboard query names (`_total`, `_bucket`, ... stripped).
fn named_families() -> Vec<(String, Vec<String>)> {
    let metric = regex::Regex::new(r"connectgr_[a-z_]+").unwrap();
    queries(&dashboard())
        .into_iter()
        .map(|q| {
            let names = metric
                .find_iter(&q)
                .map(|m| {
                    let n = m.as_str();
                    ["_total", "_bucket", "_sum", "_count"]
                        .iter()
                        .find_map(|s| n.strip_suffix(s))
                        .unwrap_or(n)
                        .to_string()
                })
                .collect();
            (q, names)
        })
        .collect()
}

#[test]
fn every_dashboard_query_names_only_metrics_the_controller_registers() {
    let mut families = registered_families();
    families.extend(PENDING_FAMILIES.iter().map(|f| f.to_string()));
    for (q, names) in named_families() {
        assert!(!names.is_empty(), "{q}");
        for n in names {
            assert!(families.contains(&n), "{q}: {n} is not registered");
        }
    }
}

/// The families a `/metrics` exposition declares (`# TYPE name kind`), and those with samples.
fn scraped(text: &str) -> (BTreeSet<String>, BTreeSet<String>) {
    let declared = text
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_string)
        .collect::<BTreeSet<_>>();
    let with_samples = text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .filter_map(|l| l.split(['{', ' ']).next())
        .filter_map(|n| {
            declared
                .iter()
                .filter(|f| n.starts_with(f.as_str()))
                .max_by_key(|f| f.len())
                .cloned()
        })
        .collect();
    (declared, with_samples)
}

/// Families a controller exports only once something happened that this scenario does not do (a
/// family without samples is absent from the exposition); each must be registered.
const SAMPLES_ONLY_AFTER: &[(&str, &str)] = &[
    (
        "connectgr_connect_throttled_responses",
        "a 429 from Connect",
    ),
    ("connectgr_drift_corrections", "a drift was corrected"),
    ("connectgr_rollout_steps", "a gated rollout step"),
    ("connectgr_rollout_gate_results", "a gate check"),
    (
        "connectgr_leader_lease_renewals",
        "a renewal (--leader-elect)",
    ),
    ("connectgr_writer", "a writer lease (--writer-lease-table)"),
];

/// A real controller (the e2e set-up: test bed, emulator, the controller binary) reconciles a
/// replica, a group, members and a split (driftPolicy Report), whose telephony is then changed in
/// Connect by hand; its `/metrics` then has the drift (live split, drift state 2, since when it
/// differs) and declares every family a dashboard query names (except those of features still to
/// come, `PENDING_FAMILIES`, and those `SAMPLES_ONLY_AFTER` events this scenario does not cause).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_dashboard_query_names_only_metrics_a_running_controller_exports() {
    let bed = TestBed::shared();
    let ns = bed.namespace("dashboard");
    let emu = start_emulator(&["--replication-seconds", "1"]);
    let port = free_port();
    let mut cmd = controller_command(bed, &ns, &emu.url, &format!("controller-{ns}.log"));
    cmd.args(["--metrics-addr", &format!("127.0.0.1:{port}")]);
    let _ctl = crate::e2e::Proc(cmd.spawn().expect("spawn controller"));
    apply(bed, &ns, &replica_yaml());
    apply(bed, &ns, &group_yaml("overflow", "Delete"));
    apply(bed, &ns, &members_yaml("overflow", 1, 5));
    apply(
        bed,
        &ns,
        &(split_yaml("overflow", 60, 50) + "  driftPolicy: Report\n"),
    );
    wait_ready(bed, &ns, "trafficdistribution/split", "120s");
    let url = format!("http://127.0.0.1:{port}/metrics");
    let expected = [
        "connectgr_split_live_percent",
        "connectgr_split_declared_percent",
        "connectgr_drift_pause_seconds",
        "connectgr_drift_state",
        "connectgr_failover_ready",
        "connectgr_leader",
        "connectgr_reconciles",
        "connectgr_connect_calls",
    ];
    eventually(
        Duration::from_secs(30),
        "the per-object families have samples",
        || async {
            let (_, with_samples) = scraped(&reqwest_get(&url).await);
            expected.iter().all(|f| with_samples.contains(*f))
        },
    )
    .await;
    // A split changed in Connect by hand under driftPolicy Report: left alone, and it shows.
    let arn = group_arn(bed, &ns, "overflow").await;
    set_telephony_by_hand(&connect(&emu.url, "us-west-2").await, &arn, 20).await;
    let series =
        |name: &str, labels: &str| format!("{name}{{namespace=\"{ns}\",name=\"split\"{labels}}}");
    let live = series(
        "connectgr_split_live_percent",
        ",channel=\"telephony\",region=\"us-west-2\"",
    ) + " 20";
    let left_alone = format!(
        "connectgr_drift_state{{kind=\"TrafficDistribution\",namespace=\"{ns}\",name=\"split\"}} 2"
    );
    let differs = series("connectgr_split_differs_since_timestamp_seconds", "");
    eventually(
        Duration::from_secs(60),
        "the drift left alone shows in the live split, the drift state and since when it differs",
        || async {
            let text = reqwest_get(&url).await;
            text.contains(&live) && text.contains(&left_alone) && text.contains(&differs)
        },
    )
    .await;
    let text = reqwest_get(&url).await;
    let (declared, _) = scraped(&text);
    let registered = registered_families();
    for (q, names) in named_families() {
        for n in names {
            let elsewhere = SAMPLES_ONLY_AFTER
                .iter()
                .any(|(f, _)| *f == n && registered.contains(*f));
            assert!(
                declared.contains(&n) || elsewhere || PENDING_FAMILIES.contains(&n.as_str()),
                "{q}: {n} is not in the controller's /metrics:\n{text}"
            );
        }
    }
    assert!(
        text.contains(&format!(
            "connectgr_split_declared_percent{{namespace=\"{ns}\",name=\"split\",channel=\"telephony\",region=\"us-west-2\"}} 60"
        )),
        "{text}"
    );
}
