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
fn the_kustomization_lists_every_generated_crd() {
    let k = &docs("deploy/kustomize/kustomization.yaml")[0];
    let res: Vec<&str> = k["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap())
        .collect();
    for entry in std::fs::read_dir(repo_root().join("crds")).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        assert!(
            res.contains(&format!("../../crds/{name}").as_str()),
            "{name} missing from kustomization"
        );
    }
}
