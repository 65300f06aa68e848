//! The chart's alerts (`prometheusRule.enabled`): the PrometheusRule rendered by `helm template`
//! passes `promtool check rules`, every alert has promtool unit tests that show it firing and
//! not firing (tests/promtool/), a runbook section (docs/runbook.md), and names only metrics the
//! controller registers (src/metrics.rs).
//!
//! promtool comes from `scripts/tools.d/promtool.sh` (`.tools/bin/promtool`, from Debian's
//! `prometheus` package 2.42).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;

use crate::support::testbed::repo_root;

fn promtool_bin() -> PathBuf {
    static INSTALL: Mutex<()> = Mutex::new(());
    let _once = INSTALL.lock().unwrap_or_else(|e| e.into_inner());
    let bin = repo_root().join(".tools/bin/promtool");
    if !bin.is_file() {
        let st = Command::new("bash")
            .arg(repo_root().join("scripts/tools.d/promtool.sh"))
            .status()
            .expect("run scripts/tools.d/promtool.sh");
        assert!(st.success(), "scripts/tools.d/promtool.sh failed");
    }
    bin
}

pub(crate) fn promtool(args: &[&str], dir: &Path) -> String {
    let out = Command::new(promtool_bin())
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .expect("promtool runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "promtool {args:?} failed:\n{text}");
    text
}

/// The PrometheusRule objects `helm template` renders with these `--set` values.
fn rendered_rules(sets: &[&str]) -> Vec<serde_json::Value> {
    crate::helm::template(sets)
        .into_iter()
        .filter(|d| d["kind"] == "PrometheusRule")
        .collect()
}

/// The rendered PrometheusRule's spec (`groups: [...]`): a Prometheus rule file.
fn rule_file() -> serde_json::Value {
    let rules = rendered_rules(&["prometheusRule.enabled=true"]);
    assert_eq!(rules.len(), 1, "one PrometheusRule: {rules:#?}");
    rules[0]["spec"].clone()
}

fn alerts(file: &serde_json::Value) -> Vec<serde_json::Value> {
    file["groups"]
        .as_array()
        .expect("groups")
        .iter()
        .flat_map(|g| g["rules"].as_array().expect("rules").clone())
        .filter(|r| r.get("alert").is_some())
        .collect()
}

fn alert_names(file: &serde_json::Value) -> BTreeSet<String> {
    alerts(file)
        .iter()
        .map(|r| r["alert"].as_str().unwrap().to_string())
        .collect()
}

/// A temporary directory holding `rules.yaml` (the rendered groups) and the unit tests.
fn workdir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("rules.yaml"),
        serde_norway::to_string(&rule_file()).unwrap(),
    )
    .unwrap();
    std::fs::copy(unit_tests_path(), dir.path().join("connect-gr.test.yaml")).unwrap();
    dir
}

fn unit_tests_path() -> PathBuf {
    repo_root().join("tests/promtool/connect-gr.test.yaml")
}

fn unit_tests() -> serde_json::Value {
    serde_norway::from_str(&std::fs::read_to_string(unit_tests_path()).unwrap()).unwrap()
}

#[test]
fn the_chart_renders_no_prometheus_rule_unless_prometheus_rule_is_enabled() {
    assert!(rendered_rules(&[]).is_empty());
    assert_eq!(rendered_rules(&["prometheusRule.enabled=true"]).len(), 1);
}

#[test]
fn the_rendered_prometheus_rule_carries_the_chart_labels_and_extra_labels() {
    let rules = rendered_rules(&[
        "prometheusRule.enabled=true",
        "prometheusRule.labels.release=kube-prometheus",
    ]);
    let labels = &rules[0]["metadata"]["labels"];
    assert_eq!(labels["release"], "kube-prometheus");
    assert_eq!(labels["app.kubernetes.io/name"], "connect-gr");
}

#[test]
fn the_rendered_rules_pass_promtool_check_rules() {
    let dir = workdir();
    let out = promtool(&["check", "rules", "rules.yaml"], dir.path());
    assert!(out.contains("SUCCESS"), "{out}");
}

#[test]
fn the_promtool_unit_tests_pass_on_the_rendered_rules() {
    let dir = workdir();
    let out = promtool(&["test", "rules", "connect-gr.test.yaml"], dir.path());
    assert!(out.contains("SUCCESS"), "{out}");
}

#[test]
fn every_alert_has_a_unit_test_where_it_fires_and_one_where_it_does_not() {
    let names = alert_names(&rule_file());
    assert!(!names.is_empty());
    let mut fires = BTreeSet::new();
    let mut silent = BTreeSet::new();
    for t in unit_tests()["tests"].as_array().unwrap() {
        for a in t["alert_rule_test"].as_array().unwrap() {
            let name = a["alertname"].as_str().unwrap().to_string();
            if a["exp_alerts"].as_array().is_some_and(|e| !e.is_empty()) {
                fires.insert(name);
            } else {
                silent.insert(name);
            }
        }
    }
    for n in &names {
        assert!(fires.contains(n), "{n}: no unit test where it fires");
        assert!(
            silent.contains(n),
            "{n}: no unit test where it does not fire"
        );
    }
    let tested: BTreeSet<_> = fires.union(&silent).cloned().collect();
    assert_eq!(tested, names, "unit tests name exactly the chart's alerts");
}

#[test]
fn every_alert_has_a_runbook_section_its_runbook_url_points_to() {
    let runbook = std::fs::read_to_string(repo_root().join("docs/runbook.md")).unwrap();
    for a in alerts(&rule_file()) {
        let name = a["alert"].as_str().unwrap();
        assert!(
            runbook.lines().any(|l| l == format!("## {name}")),
            "docs/runbook.md has no section `## {name}`"
        );
        let url = a["annotations"]["runbook_url"].as_str().unwrap_or_default();
        assert!(
            url.ends_with(&format!("docs/runbook.md#{}", name.to_lowercase())),
            "{name}: runbook_url {url:?}"
        );
    }
}

/// The metric family names the controller registers: the `registry.register("NAME", ...)` calls
/// of src/metrics.rs under the registry's prefix `connectgr` (a family with no series yet is
/// absent from the exposition, so the source is the complete list).
pub(crate) fn registered_families() -> BTreeSet<String> {
    let src = std::fs::read_to_string(repo_root().join("src/metrics.rs")).unwrap();
    assert!(src.contains("Registry::with_prefix(\"connectgr\")"));
    let register = regex::Regex::new(r#"registry\.register\(\s*"([a-z_]+)""#).unwrap();
    let names: BTreeSet<String> = register
        .captures_iter(&src)
        .map(|c| format!("connectgr_{}", &c[1]))
        .collect();
    assert!(names.contains("connectgr_leader"), "{names:?}");
    names
}

/// Metrics of a feature not built yet: alerts and dashboard panels on them are written against
/// these names (README: "needs"). Empty since FailoverDrill (issue 22) exports its own.
pub(crate) const PENDING_FAMILIES: &[&str] = &[];

#[test]
fn the_drill_period_sets_the_windows_of_the_drill_alert() {
    let rules = rendered_rules(&[
        "prometheusRule.enabled=true",
        "prometheusRule.drillPeriod=32d",
    ]);
    let text = serde_json::to_string(&rules[0]["spec"]).unwrap();
    assert!(text.contains("[32d]"), "{text}");
    assert!(!text.contains("[8d]"), "{text}");
}

#[test]
fn every_alert_names_only_metrics_the_controller_registers() {
    let mut families = registered_families();
    families.extend(PENDING_FAMILIES.iter().map(|f| f.to_string()));
    let metric = regex::Regex::new(r"connectgr_[a-z_]+").unwrap();
    for a in alerts(&rule_file()) {
        let expr = a["expr"].as_str().unwrap();
        let names: Vec<_> = metric.find_iter(expr).map(|m| m.as_str()).collect();
        assert!(!names.is_empty(), "{expr}");
        for n in names {
            let family = ["_total", "_bucket", "_sum", "_count"]
                .iter()
                .find_map(|s| n.strip_suffix(s))
                .unwrap_or(n);
            assert!(
                families.contains(family),
                "{}: {n} is not a metric the controller registers ({families:?})",
                a["alert"]
            );
        }
    }
}
