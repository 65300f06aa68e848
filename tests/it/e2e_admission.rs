//! The admission warnings shipped in `deploy/kustomize/admission-warnings.yaml`
//! (ValidatingAdmissionPolicy, `validationActions: [Warn]`) on the real API server: `kubectl apply`
//! prints the warning and the object is accepted.

use std::time::{Duration, Instant};

use crate::support::testbed::TestBed;

const POLICIES: &str = "deploy/kustomize/admission-warnings.yaml";

/// `kubectl apply` of `yaml` in `ns`; returns stderr (where kubectl prints warnings).
fn apply(bed: &TestBed, ns: &str, yaml: &str) -> String {
    let out = bed.kubectl_stdin(&["apply", "-n", ns, "-f", "-"], Some(yaml));
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(out.status.success(), "kubectl apply failed: {stderr}");
    stderr
}

/// Applies until a warning containing `needle` is printed (a new policy takes a moment to be
/// enforced), at most 30 s. Each try changes an annotation: kubectl sends nothing for an apply
/// that changes nothing, and then no admission runs.
fn warned(bed: &TestBed, ns: &str, yaml: &str, needle: &str) -> String {
    let start = Instant::now();
    for n in 0.. {
        let attempt = yaml.replacen(
            "metadata: {name: ",
            &format!("metadata: {{annotations: {{try: \"{n}\"}}, name: "),
            1,
        );
        let stderr = apply(bed, ns, &attempt);
        if stderr.contains("Warning") && stderr.contains(needle) {
            return stderr;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "no warning {needle:?}; last stderr: {stderr}"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    unreachable!()
}

fn exists(bed: &TestBed, ns: &str, what: &str) -> bool {
    bed.kubectl(&["get", "-n", ns, what]).status.success()
}

#[test]
fn risky_but_legal_changes_are_accepted_with_a_warning() {
    let bed = TestBed::shared();
    bed.require_core_apis("the apiextensions flavour has no admission policies");
    let root = crate::support::testbed::repo_root();
    let out = bed.kubectl(&["apply", "-f", root.join(POLICIES).to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let ns = bed.namespace("e2e-admission");

    let group = "apiVersion: connectgr.io/v1alpha1\nkind: TrafficDistributionGroup\nmetadata: {name: lines}\nspec:\n  replicaRef: {name: support-center}\n  phoneNumbers: [\"+14255550103\"]\n  deletionPolicy: Delete\n";
    warned(
        bed,
        &ns,
        group,
        "deletionPolicy Delete on a group that lists phone numbers",
    );
    assert!(exists(bed, &ns, "tdg/lines"), "accepted");

    // An Exact membership that would select nobody is not just warned about: it is refused.
    let empty = "apiVersion: connectgr.io/v1alpha1\nkind: AgentMembership\nmetadata: {name: nobody}\nspec:\n  groupRef: {name: lines}\n  mode: Exact\n";
    let out = bed.kubectl_stdin(&["apply", "-n", &ns, "-f", "-"], Some(empty));
    assert!(
        !out.status.success(),
        "an empty Exact membership is refused"
    );

    let split = |west: i32, rollout: &str| {
        format!(
            "apiVersion: connectgr.io/v1alpha1\nkind: TrafficDistribution\nmetadata: {{name: split}}\nspec:\n  groupRef: {{name: lines}}\n  telephony: {{us-west-2: {west}, us-east-1: {}}}\n  agents: {{us-west-2: 50, us-east-1: 50}}\n{rollout}",
            100 - west
        )
    };
    let first = apply(bed, &ns, &split(100, ""));
    assert!(
        !first.contains("more than 50 points"),
        "a create is not a jump: {first}"
    );
    warned(bed, &ns, &split(0, ""), "more than 50 points in one step");
    // The same jump with a rollout: no warning.
    let stepped = apply(
        bed,
        &ns,
        &split(100, "  rollout: {stepPercent: 10, pauseSeconds: 5}\n"),
    );
    assert!(!stepped.contains("more than 50 points"), "{stepped}");
    // A small move: no warning either.
    let small = apply(
        bed,
        &ns,
        &split(60, "  rollout: {stepPercent: 10, pauseSeconds: 5}\n"),
    );
    assert!(!small.contains("Warning"), "{small}");
    let _ = bed.kubectl(&["delete", "-f", root.join(POLICIES).to_str().unwrap()]);
}
