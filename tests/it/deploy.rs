//! The deployment artefacts in deploy/ parse and cover what the controller does.

use std::collections::BTreeSet;

use crate::support::testbed::{TestBed, find_kubectl, repo_root};

fn docs(path: &str) -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(repo_root().join(path)).unwrap();
    serde_norway::Deserializer::from_str(&text)
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
        "failoverdrills",
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

/// Every AWS operation the code calls, as IAM actions: Connect from `src/connect/sdk/` (the
/// operation named in each rate-limited call, cross-checked against the SDK methods invoked),
/// DynamoDB from `src/denylist/dynamo.rs` and `src/writer_lease.rs` (the SDK methods invoked).
fn called_actions() -> BTreeSet<String> {
    let camel = |snake: &str| -> String {
        snake
            .split('_')
            .map(|w| {
                let mut c = w.chars();
                c.next()
                    .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                    .unwrap_or_default()
            })
            .collect()
    };
    let dir = repo_root().join("src/connect/sdk");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert!(
        files.len() > 1,
        "the SDK implementation in {}",
        dir.display()
    );
    let sdk: String = files
        .iter()
        .map(|f| std::fs::read_to_string(f).unwrap())
        .collect();
    let named: BTreeSet<String> =
        regex::Regex::new(r#"\.(?:call|paginate|paginate_into)\(\s*[a-z_]+,\s*"([A-Za-z0-9]+)""#)
            .unwrap()
            .captures_iter(&sdk)
            .map(|c| c[1].to_string())
            .collect();
    let invoked: BTreeSet<String> = regex::Regex::new(r"\bc\s*\.\s*([a-z][a-z0-9_]*)\(\)")
        .unwrap()
        .captures_iter(&sdk)
        .map(|c| camel(&c[1]))
        .filter(|op| op != "Clone")
        .collect();
    assert_eq!(
        named, invoked,
        "the operation names given to the rate limiter are the SDK operations called"
    );
    assert!(named.len() >= 20, "found only {} operations", named.len());
    let dynamo = ["src/denylist/dynamo.rs", "src/writer_lease.rs"]
        .map(|f| std::fs::read_to_string(repo_root().join(f)).unwrap())
        .concat();
    let ddb: BTreeSet<String> =
        regex::Regex::new(r"(?:client|self\.client)\s*\.\s*([a-z][a-z0-9_]*)\(\)")
            .unwrap()
            .captures_iter(&dynamo)
            .map(|c| camel(&c[1]))
            // accessors of the client, not operations
            .filter(|op| !["Clone", "Config"].contains(&op.as_str()))
            .collect();
    assert!(
        ddb.contains("PutItem") && ddb.contains("CreateTable"),
        "{ddb:?}"
    );
    named
        .iter()
        .map(|op| format!("connect:{op}"))
        .chain(ddb.iter().map(|op| format!("dynamodb:{op}")))
        .collect()
}

/// Actions AWS checks on the caller because of an operation the code calls (not called
/// themselves): the action, and the operation that needs it.
const DEPENDENT: &[(&str, &str)] = &[
    // UpdateTable with ReplicaUpdates (a global table replica in the other region)
    ("dynamodb:CreateTableReplica", "dynamodb:UpdateTable"),
    ("dynamodb:Query", "dynamodb:UpdateTable"),
    ("dynamodb:UpdateItem", "dynamodb:UpdateTable"),
    ("dynamodb:BatchWriteItem", "dynamodb:UpdateTable"),
    ("iam:CreateServiceLinkedRole", "dynamodb:UpdateTable"),
    // Connect adds itself to the function's resource policy
    ("lambda:AddPermission", "connect:AssociateLambdaFunction"),
    // ReplicateInstance needs what creating an instance needs
    ("ds:DescribeDirectories", "connect:ReplicateInstance"),
    ("ds:CreateAlias", "connect:ReplicateInstance"),
    ("ds:AuthorizeApplication", "connect:ReplicateInstance"),
    ("iam:PutRolePolicy", "connect:ReplicateInstance"),
];

fn policy(path: &str) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(repo_root().join(path)).unwrap()).unwrap()
}

fn strings(v: &serde_json::Value) -> Vec<String> {
    match v {
        serde_json::Value::String(s) => vec![s.clone()],
        serde_json::Value::Array(a) => a.iter().map(|x| x.as_str().unwrap().to_string()).collect(),
        other => panic!("expected a string or an array: {other}"),
    }
}

fn actions(policy: &serde_json::Value, dependent: bool) -> BTreeSet<String> {
    policy["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["Sid"].as_str().unwrap().starts_with("Dependent") == dependent)
        .flat_map(|s| strings(&s["Action"]))
        .collect()
}

fn is_read(action: &str) -> bool {
    let op = action.split(':').nth(1).unwrap();
    [
        "Describe", "List", "Get", "Search", "Scan", "Query", "BatchGet",
    ]
    .iter()
    .any(|p| op.starts_with(p))
}

#[test]
fn the_iam_policy_allows_every_operation_the_code_calls_and_nothing_else() {
    let called = called_actions();
    let p = policy("deploy/iam/policy.json");
    assert_eq!(p["Version"], "2012-10-17");
    let allowed = actions(&p, false);
    let missing: Vec<_> = called.difference(&allowed).collect();
    let extra: Vec<_> = allowed.difference(&called).collect();
    assert!(missing.is_empty(), "policy.json lacks {missing:?}");
    assert!(
        extra.is_empty(),
        "policy.json allows {extra:?}, which the code never calls (a dependent action goes in a statement whose Sid starts with Dependent, and in DEPENDENT)"
    );
    for a in actions(&p, true) {
        let (_, needed_by) = DEPENDENT
            .iter()
            .find(|(d, _)| *d == a)
            .unwrap_or_else(|| panic!("{a}: no reason listed in DEPENDENT"));
        assert!(
            called.contains(*needed_by),
            "{a} is there for {needed_by}, which the code no longer calls"
        );
    }
    for s in p["Statement"].as_array().unwrap() {
        assert_eq!(s["Effect"], "Allow");
        for a in strings(&s["Action"]) {
            assert!(!a.contains('*'), "wildcard action {a}");
        }
        // Connect and DynamoDB statements name resources by ARN, never "*".
        if strings(&s["Action"])
            .iter()
            .any(|a| a.starts_with("connect:") || a.starts_with("dynamodb:"))
        {
            for r in strings(&s["Resource"]) {
                assert!(
                    r.starts_with("arn:aws:connect:") || r.starts_with("arn:aws:dynamodb:"),
                    "{}: resource {r}",
                    s["Sid"]
                );
                assert!(
                    r.contains(":${aws:PrincipalAccount}:"),
                    "{r}: own account only"
                );
            }
        }
    }
}

#[test]
fn traffic_distribution_groups_are_authorized_by_their_source_region_arn() {
    // AWS authorizes calls on a group against its ARN, which carries the region it was created
    // in (the source region), also for calls sent to the replica region's endpoint.
    let p = policy("deploy/iam/policy.json");
    for s in p["Statement"].as_array().unwrap() {
        let groups: Vec<String> = strings(&s["Resource"])
            .into_iter()
            .filter(|r| r.contains(":traffic-distribution-group/"))
            .collect();
        for g in &groups {
            assert!(
                g.starts_with("arn:aws:connect:us-west-2:"),
                "{g}: the source region of the default pair"
            );
        }
        if strings(&s["Action"]).contains(&"connect:UpdateTrafficDistribution".to_string()) {
            assert!(
                !groups.is_empty(),
                "UpdateTrafficDistribution names the groups"
            );
        }
    }
}

#[test]
fn the_read_only_policy_allows_exactly_the_read_operations() {
    let called = called_actions();
    let ro = policy("deploy/iam/policy-readonly.json");
    let allowed = actions(&ro, false);
    assert!(
        actions(&ro, true).is_empty(),
        "no dependent actions for reads"
    );
    let reads: BTreeSet<String> = called.iter().filter(|a| is_read(a)).cloned().collect();
    assert_eq!(allowed, reads);
    for s in ro["Statement"].as_array().unwrap() {
        for r in strings(&s["Resource"]) {
            assert!(r.starts_with("arn:aws:"), "{r}");
        }
    }
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

/// Every file under `dir` (recursively), sorted.
fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out.sort();
    out
}

/// `kubectl apply --server-side --dry-run=server` of every Kubernetes manifest under deploy/:
/// the kustomize bases as built, the Helm chart as rendered, every other YAML file as it is.
#[test]
fn everything_under_deploy_passes_a_server_side_dry_run_on_the_test_bed() {
    let bed = TestBed::shared();
    bed.require_core_apis("the apiextensions-apiserver serves only CRDs");
    let ns = bed.namespace("dry-run");
    let _ = bed.kubectl(&["create", "namespace", "connect-gr-system"]);
    let dry_run = |what: &str, yaml: &str, namespace: Option<&str>| {
        let mut args = vec![
            "apply",
            "--server-side",
            "--force-conflicts",
            "--field-manager=dry-run",
            "--dry-run=server",
            "-f",
            "-",
        ];
        if let Some(n) = namespace {
            args.extend(["-n", n]);
        }
        let out = bed.kubectl_stdin(&args, Some(yaml));
        assert!(
            out.status.success(),
            "{what}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let applied = String::from_utf8_lossy(&out.stdout);
        assert!(applied.contains("(server dry run)"), "{what}: {applied}");
        applied.lines().count()
    };
    let root = repo_root();
    let mut checked = Vec::new();
    let deploy = root.join("deploy");
    // kustomize bases: every directory with a kustomization.yaml
    for k in walk(&deploy)
        .into_iter()
        .filter(|p| p.file_name().unwrap() == "kustomization.yaml")
    {
        let dir = k.parent().unwrap();
        let out = std::process::Command::new(find_kubectl())
            .arg("kustomize")
            .arg(dir)
            .output()
            .unwrap();
        assert!(out.status.success(), "kustomize {}", dir.display());
        let n = dry_run(
            &dir.display().to_string(),
            &String::from_utf8_lossy(&out.stdout),
            None,
        );
        assert!(n >= 9, "{}: {n} objects", dir.display());
        checked.push(dir.to_path_buf());
    }
    // the Helm chart, rendered for each scope
    for sets in [vec![], vec!["scope=Namespace"]] {
        let docs = crate::helm::template(&sets);
        let yaml = docs
            .iter()
            .map(|d| serde_norway::to_string(d).unwrap())
            .collect::<Vec<_>>()
            .join("---\n");
        let n = dry_run(&format!("helm template {sets:?}"), &yaml, None);
        assert!(n >= 12, "helm template {sets:?}: {n} objects");
    }
    checked.push(deploy.join("helm"));
    // every other manifest as it is (examples into a namespace of their own)
    for f in walk(&deploy) {
        if checked.iter().any(|c| f.starts_with(c))
            || f.extension().is_none_or(|e| e != "yaml" && e != "yml")
            || f.components().any(|c| c.as_os_str() == "testdata")
            || f.file_name()
                .unwrap()
                .to_string_lossy()
                .ends_with("_test.yaml")
        {
            continue;
        }
        let text = std::fs::read_to_string(&f).unwrap();
        let namespaced = f.starts_with(deploy.join("examples"));
        dry_run(
            &f.display().to_string(),
            &text,
            namespaced.then_some(ns.as_str()),
        );
    }
}
