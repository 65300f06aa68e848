//! The deployment artefacts in deploy/ parse and cover what the controller does.

use std::collections::BTreeSet;

use crate::support::testbed::repo_root;

fn docs(path: &str) -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(repo_root().join(path)).unwrap();
    serde_yaml::Deserializer::from_str(&text)
        .map(|d| serde::Deserialize::deserialize(d).unwrap())
        .collect()
}

#[test]
fn rbac_grants_every_kind_and_its_status_subresource() {
    let role = docs("deploy/kustomize/rbac.yaml")
        .into_iter()
        .find(|d| d["kind"] == "ClusterRole")
        .expect("a ClusterRole");
    let granted: BTreeSet<String> = role["rules"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| {
            r["resources"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_str().unwrap().to_string())
        })
        .collect();
    for kind in [
        "instancereplicas",
        "trafficdistributiongroups",
        "agentmemberships",
        "trafficdistributions",
        "callerdenylists",
    ] {
        assert!(granted.contains(kind), "{kind}");
        assert!(granted.contains(&format!("{kind}/status")), "{kind}/status");
    }
    assert!(granted.contains("events"));
    assert!(granted.contains("leases"), "leader election needs Leases");
}

#[test]
fn a_deployment_with_more_than_one_replica_elects_a_leader_in_its_own_namespace() {
    let dep = docs("deploy/kustomize/deployment.yaml")
        .into_iter()
        .find(|d| d["kind"] == "Deployment")
        .expect("a Deployment");
    let c = &dep["spec"]["template"]["spec"]["containers"][0];
    let args: Vec<&str> = c["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    if dep["spec"]["replicas"].as_i64().unwrap_or(1) > 1 {
        assert!(args.contains(&"--leader-elect"), "{args:?}");
    }
    let env: Vec<&str> = c["env"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert!(
        env.contains(&"POD_NAMESPACE") && env.contains(&"POD_NAME"),
        "{env:?}"
    );
}

#[test]
fn the_iam_policy_allows_every_connect_operation_the_controller_calls() {
    let policy: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(repo_root().join("deploy/iam/policy.json")).unwrap(),
    )
    .unwrap();
    let allowed: BTreeSet<String> = policy["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| {
            s["Action"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| a.as_str().unwrap().to_string())
        })
        .collect();
    let sdk = std::fs::read_to_string(repo_root().join("src/connect/sdk.rs")).unwrap();
    let ops = regex::Regex::new(r#"\.(?:call|paginate)\(\s*[a-z_]+,\s*"([A-Za-z0-9]+)""#).unwrap();
    let mut n = 0;
    for cap in ops.captures_iter(&sdk) {
        n += 1;
        assert!(
            allowed.contains(&format!("connect:{}", &cap[1])),
            "policy lacks connect:{}",
            &cap[1]
        );
    }
    assert!(n >= 15, "found only {n} operations in sdk.rs");
}

#[test]
fn the_kustomize_bases_list_every_generated_crd() {
    let k = &docs("deploy/kustomize/kustomization.yaml")[0];
    let res: Vec<&str> = k["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap())
        .collect();
    assert!(res.contains(&"../../crds"), "{res:?}");
    // crds/Kustomization (no extension: `kubectl apply -f crds/` skips it)
    let k = &docs("crds/Kustomization")[0];
    let listed: BTreeSet<&str> = k["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap())
        .collect();
    let generated: BTreeSet<String> = std::fs::read_dir(repo_root().join("crds"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".yaml"))
        .collect();
    assert_eq!(
        listed,
        generated
            .iter()
            .map(String::as_str)
            .collect::<BTreeSet<_>>(),
        "crds/Kustomization lists every generated CRD"
    );
}

fn rules(path: &str, kind: &str) -> serde_json::Value {
    docs(path)
        .into_iter()
        .find(|d| d["kind"] == kind)
        .unwrap_or_else(|| panic!("a {kind} in {path}"))["rules"]
        .clone()
}

#[test]
fn the_namespaced_role_grants_exactly_the_cluster_roles_rules() {
    assert_eq!(
        rules("deploy/kustomize-namespaced/role.yaml", "Role"),
        rules("deploy/kustomize/rbac.yaml", "ClusterRole")
    );
}

#[test]
fn the_roles_grant_no_delete_no_wildcards_and_nothing_outside_what_the_controller_calls() {
    let rules = rules("deploy/kustomize/rbac.yaml", "ClusterRole");
    let allowed_verbs: BTreeSet<&str> = ["get", "list", "watch", "patch", "create", "update"]
        .into_iter()
        .collect();
    for r in rules.as_array().unwrap() {
        for field in ["apiGroups", "resources", "verbs"] {
            for v in r[field].as_array().unwrap() {
                assert_ne!(v, "*", "wildcard in {field}: {r}");
            }
        }
        for v in r["verbs"].as_array().unwrap() {
            assert!(allowed_verbs.contains(v.as_str().unwrap()), "{v} in {r}");
        }
        // `update` only where the code replaces whole objects: the leader election Lease.
        if r["verbs"].as_array().unwrap().iter().any(|v| v == "update") {
            assert_eq!(r["resources"], serde_json::json!(["leases"]), "{r}");
        }
    }
}

#[test]
fn the_kustomize_deployment_runs_the_image_make_image_tags() {
    let dep = docs("deploy/kustomize/deployment.yaml")
        .into_iter()
        .find(|d| d["kind"] == "Deployment")
        .unwrap();
    let spec = &dep["spec"]["template"]["spec"];
    assert_eq!(
        spec["containers"][0]["image"],
        format!(
            "ghcr.io/connect-gr/connect-gr:{}",
            env!("CARGO_PKG_VERSION")
        )
    );
    assert_eq!(spec["serviceAccountName"], "connect-gr");
}
