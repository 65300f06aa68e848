//! The chart with `prometheusRule.enabled` and `grafanaDashboard.enabled` passes a server-side
//! dry run on the test bed (`kubectl apply --server-side --dry-run=server`). The PrometheusRule
//! kind comes from a minimal CRD written for these tests (tests/crds/; the upstream one is not
//! available offline), applied to the test bed first.

use std::time::Duration;

use crate::support::testbed::{TestBed, repo_root};

const CRD: &str = "tests/crds/monitoring.coreos.com_prometheusrules.yaml";

fn install_prometheus_rule_crd(bed: &TestBed) {
    let crd = std::fs::read_to_string(repo_root().join(CRD)).unwrap();
    let out = bed.kubectl_stdin(
        &[
            "apply",
            "--server-side",
            "--field-manager=connect-gr-tests",
            "-f",
            "-",
        ],
        Some(&crd),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    bed.kubectl_ok(&[
        "wait",
        "--for=condition=Established",
        "crd/prometheusrules.monitoring.coreos.com",
        &format!("--timeout={}s", Duration::from_secs(30).as_secs()),
    ]);
}

fn dry_run(bed: &TestBed, ns: &str, docs: &[serde_json::Value]) -> std::process::Output {
    let yaml = docs
        .iter()
        .map(|d| serde_norway::to_string(d).unwrap())
        .collect::<Vec<_>>()
        .join("---\n");
    bed.kubectl_stdin(
        &[
            "apply",
            "--server-side",
            "--force-conflicts",
            "--field-manager=dry-run",
            "--dry-run=server",
            "-n",
            ns,
            "-f",
            "-",
        ],
        Some(&yaml),
    )
}

/// `helm template` with both enabled, into namespace `ns` (the chart's objects name it).
fn rendered(ns: &str) -> Vec<serde_json::Value> {
    crate::helm::template(&[
        "prometheusRule.enabled=true",
        "grafanaDashboard.enabled=true",
    ])
    .into_iter()
    .map(|mut d| {
        if d["metadata"]["namespace"].is_string() {
            d["metadata"]["namespace"] = ns.into();
        }
        d
    })
    .collect()
}

#[test]
fn the_chart_with_alerts_and_dashboard_passes_a_server_side_dry_run_on_the_test_bed() {
    let bed = TestBed::shared();
    bed.require_core_apis("the apiextensions-apiserver serves no ConfigMaps");
    install_prometheus_rule_crd(bed);
    let ns = bed.namespace("monitoring");
    let docs = rendered(&ns);
    let kinds: Vec<_> = docs.iter().map(|d| d["kind"].as_str().unwrap()).collect();
    assert!(kinds.contains(&"PrometheusRule"), "{kinds:?}");
    let out = dry_run(bed, &ns, &docs);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains(
            "prometheusrule.monitoring.coreos.com/connect-gr serverside-applied (server dry run)"
        ),
        "{stdout}"
    );
    assert!(
        stdout.contains("configmap/connect-gr-dashboard serverside-applied (server dry run)"),
        "{stdout}"
    );
}

#[test]
fn a_prometheus_rule_whose_rule_has_no_expr_is_refused_by_the_dry_run() {
    let bed = TestBed::shared();
    bed.require_core_apis("the apiextensions-apiserver serves no ConfigMaps");
    install_prometheus_rule_crd(bed);
    let ns = bed.namespace("monitoring-bad");
    let mut rule = rendered(&ns)
        .into_iter()
        .find(|d| d["kind"] == "PrometheusRule")
        .unwrap();
    rule["spec"]["groups"][0]["rules"][0]
        .as_object_mut()
        .unwrap()
        .remove("expr");
    let out = dry_run(bed, &ns, &[rule]);
    assert!(!out.status.success(), "a rule without expr was accepted");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("expr"), "{err}");
}
