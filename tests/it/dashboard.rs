//! The chart's Grafana dashboard (`grafanaDashboard.enabled`): a ConfigMap with the sidecar label
//! `grafana_dashboard: "1"` holding `files/dashboards/connect-gr.json`, whose every query parses
//! as PromQL (promtool, through a recording-rule file) and names only metrics the controller
//! registers (src/metrics.rs).

use crate::alerts::{promtool, registered_families};

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

#[test]
fn every_dashboard_query_names_only_metrics_the_controller_registers() {
    let families = registered_families();
    let metric = regex::Regex::new(r"connectgr_[a-z_]+").unwrap();
    for q in queries(&dashboard()) {
        let names: Vec<_> = metric.find_iter(&q).map(|m| m.as_str()).collect();
        assert!(!names.is_empty(), "{q}");
        for n in names {
            let family = ["_total", "_bucket", "_sum", "_count"]
                .iter()
                .find_map(|s| n.strip_suffix(s))
                .unwrap_or(n);
            assert!(families.contains(family), "{q}: {n} is not registered");
        }
    }
}
