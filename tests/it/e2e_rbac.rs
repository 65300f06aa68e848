//! End to end with an identity that lacks a permission: the controller runs as a ServiceAccount
//! whose Role grants everything it needs except `get` on TrafficDistributionGroups. A failed read
//! must never be taken for "the group is gone": deleting an AgentMembership with
//! `deletionPolicy: Delete` either takes its agents out or holds the finalizer, never drops the
//! finalizer with the agents left in the group.

use std::process::Stdio;
use std::time::Duration;

use crate::e2e::{
    Proc, agent_ids, apply, connect, controller_command, group_arn, group_yaml, jsonpath, members,
    named_members_yaml, replica_yaml, start_emulator, wait_ready,
};
use crate::support::markers::generation_observed;
use crate::support::rbac::{self, SERVICE_ACCOUNT, kubectl_as};
use crate::support::testbed::TestBed;

/// The Role of the limited identity; `group_verbs` are its verbs on TrafficDistributionGroups.
fn role_yaml(group_verbs: &str) -> String {
    format!(
        r#"apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {{name: connect-gr-limited}}
rules:
- apiGroups: [connectgr.io]
  resources: [instancereplicas, agentmemberships, trafficdistributions, callerdenylists]
  verbs: [get, list, watch, patch, update]
- apiGroups: [connectgr.io]
  resources: [trafficdistributiongroups]
  verbs: [{group_verbs}]
- apiGroups: [connectgr.io]
  resources: ["*/status"]
  verbs: [get, patch, update]
- apiGroups: [events.k8s.io, ""]
  resources: [events]
  verbs: [create, patch]
---
apiVersion: v1
kind: ServiceAccount
metadata: {{name: connect-gr-limited}}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {{name: connect-gr-limited}}
roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: Role, name: connect-gr-limited}}
subjects: [{{kind: ServiceAccount, name: connect-gr-limited}}]
"#
    )
}

/// A kubeconfig for the ServiceAccount: the test bed's server and CA, a bound token.
fn limited_kubeconfig(bed: &TestBed, ns: &str) -> std::path::PathBuf {
    let out = bed.kubectl(&[
        "create",
        "token",
        "connect-gr-limited",
        "-n",
        ns,
        "--duration",
        "1h",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let token = String::from_utf8(out.stdout).unwrap().trim().to_string();
    let admin: serde_norway::Value =
        serde_norway::from_str(&std::fs::read_to_string(bed.kubeconfig_path()).unwrap()).unwrap();
    let ca = admin["clusters"][0]["cluster"]["certificate-authority-data"]
        .as_str()
        .unwrap()
        .to_string();
    let path = bed.dir().join(format!("kubeconfig-limited-{ns}"));
    std::fs::write(
        &path,
        format!(
            "apiVersion: v1\nkind: Config\nclusters: [{{name: t, cluster: {{server: \"{}\", certificate-authority-data: {ca}}}}}]\nusers: [{{name: limited, user: {{token: {token}}}}}]\ncontexts: [{{name: t, context: {{cluster: t, user: limited, namespace: {ns}}}}}]\ncurrent-context: t\n",
            bed.server_url()
        ),
    )
    .unwrap();
    path
}

fn exists(bed: &TestBed, ns: &str, what: &str) -> bool {
    let out = bed.kubectl(&["get", "-n", ns, what, "-o", "name"]);
    out.status.success()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn while_the_group_cache_cannot_sync_deleting_a_membership_holds_the_finalizer_and_never_strands_agents()
 {
    let bed = TestBed::shared();
    bed.require_core_apis("the test bed has no RBAC (apiextensions flavour)");
    let ns = bed.namespace("e2e-rbac");
    let emu = start_emulator(&["--replication-seconds", "1"]);
    let admin = Proc(
        controller_command(bed, &ns, &emu.url, &format!("controller-{ns}.log"))
            .args(["--metrics-addr", "127.0.0.1:0"])
            .spawn()
            .expect("spawn controller"),
    );
    apply(
        bed,
        &ns,
        &format!(
            "{}---\n{}---\n{}",
            replica_yaml(),
            group_yaml("team", "Retain"),
            named_members_yaml("leaving", "team", 1, 10, "Delete"),
        ),
    );
    wait_ready(bed, &ns, "agm/leaving", "120s");
    let west = connect(&emu.url, "us-west-2").await;
    let arn = group_arn(bed, &ns, "team").await;
    assert_eq!(members(&west, &arn).await, agent_ids(&west, 1, 10).await);
    drop(admin);

    // The same controller, as an identity that may get groups but not list or watch them: its
    // cache of groups (the reflector store the passes read) never finishes its first list.
    apply(bed, &ns, &role_yaml("get, patch, update"));
    let kubeconfig = limited_kubeconfig(bed, &ns);
    let limited = Proc(
        controller_command(bed, &ns, &emu.url, &format!("controller-limited-{ns}.log"))
            .args(["--metrics-addr", "127.0.0.1:0"])
            .env("KUBECONFIG", &kubeconfig)
            .stdout(Stdio::null())
            .spawn()
            .expect("spawn limited controller"),
    );
    let generation = |bed: &TestBed| -> i64 {
        jsonpath(bed, &ns, "agm/leaving", "{.metadata.generation}")
            .parse()
            .unwrap_or(0)
    };
    let before = generation(bed);
    let out = bed.kubectl(&["delete", "-n", &ns, "agm/leaving", "--wait=false"]);
    assert!(out.status.success());

    // The deletion bumped metadata.generation: once status.observedGeneration reached it, a
    // pass of the limited controller ran on the deleting object (or the object is gone).
    let deleted = async {
        while exists(bed, &ns, "agm/leaving") {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    };
    tokio::select! {
        _ = generation_observed(bed, &ns, "agm/leaving", Duration::from_secs(60)) => {}
        _ = deleted => {}
    }
    if !exists(bed, &ns, "agm/leaving") {
        assert!(
            members(&west, &arn).await.is_empty(),
            "the finalizer was dropped with agents left in the group"
        );
    }
    let last_reason = jsonpath(
        bed,
        &ns,
        "agm/leaving",
        "{.status.conditions[?(@.type==\"Reconciling\")].reason}",
    );
    assert!(exists(bed, &ns, "agm/leaving"), "held by the finalizer");
    assert!(
        generation(bed) > before,
        "the marker is a pass after the deletion (generation {before} -> {})",
        generation(bed)
    );
    assert_eq!(last_reason, "KubernetesReadFailed", "status says why");
    assert_eq!(
        members(&west, &arn).await.len(),
        10,
        "nothing removed blind"
    );

    // Grant `list` and `watch`: the cache syncs, the cleanup goes through and the agents leave.
    apply(bed, &ns, &role_yaml("get, list, watch, patch, update"));
    let out = bed.kubectl(&[
        "wait",
        "-n",
        &ns,
        "--for=delete",
        "agm/leaving",
        "--timeout=90s",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(members(&west, &arn).await.is_empty());
    drop(limited);
}

/// The shipped Role grants what the controller calls and nothing else: as the shipped
/// ServiceAccount, what the Role grants works, and every request for something it does not grant
/// is refused by the API server (403 Forbidden), not merely absent from a file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_shipped_role_refuses_every_verb_and_resource_it_does_not_grant() {
    let bed = TestBed::shared();
    bed.require_core_apis("the test bed has no RBAC (apiextensions flavour)");
    let ns = bed.namespace("rbac-refused");
    rbac::bind_shipped_role(bed, &ns);
    apply(
        bed,
        &ns,
        &format!("{}---\n{}", replica_yaml(), group_yaml("team", "Retain")),
    );
    let kc = rbac::kubeconfig(bed, &ns, SERVICE_ACCOUNT);
    let group = bed.kubectl_ok(&["get", "-n", &ns, "tdg/team", "-o", "json"]);
    let mut renamed: serde_json::Value = serde_json::from_str(&group).unwrap();
    renamed["metadata"]["name"] = "copy".into();
    for k in [
        "resourceVersion",
        "uid",
        "creationTimestamp",
        "managedFields",
    ] {
        renamed["metadata"].as_object_mut().unwrap().remove(k);
    }
    let renamed = renamed.to_string();

    // Granted: read, watch (list), patch; status by patch; Events; the Lease.
    let lease = format!(
        "{{\"apiVersion\":\"coordination.k8s.io/v1\",\"kind\":\"Lease\",\"metadata\":{{\"name\":\"connect-gr\",\"namespace\":\"{ns}\"}},\"spec\":{{\"holderIdentity\":\"test\"}}}}"
    );
    for (args, stdin) in [
        (vec!["get", "tdg/team", "irep/support-center"], None),
        (vec!["get", "agm,tdist,cdl"], None),
        (
            vec![
                "patch",
                "tdg/team",
                "--type=merge",
                "-p",
                r#"{"metadata":{"labels":{"t":"1"}}}"#,
            ],
            None,
        ),
        (vec!["create", "-f", "-"], Some(lease.as_str())),
        (vec!["get", "lease/connect-gr"], None),
    ] {
        let out = kubectl_as(&kc, &args, stdin);
        assert!(
            out.status.success(),
            "{args:?} should be granted: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    // Status is written the way the controller writes it: server-side apply, no get.
    {
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        let cfg = kube::Config::from_custom_kubeconfig(
            kube::config::Kubeconfig::read_from(&kc).unwrap(),
            &Default::default(),
        )
        .await
        .unwrap();
        let client = kube::Client::try_from(cfg).unwrap();
        let api: kube::Api<connect_gr::api::TrafficDistributionGroup> =
            kube::Api::namespaced(client, &ns);
        let patch = serde_json::json!({
            "apiVersion": "connectgr.io/v1alpha1",
            "kind": "TrafficDistributionGroup",
            "status": {"observedGeneration": 1},
        });
        api.patch_status(
            "team",
            &kube::api::PatchParams::apply("connect-gr").force(),
            &kube::api::Patch::Apply(&patch),
        )
        .await
        .expect("status by server-side apply is granted");
    }

    // Refused: everything else the controller never does.
    let other = bed.namespace("rbac-other");
    for (args, stdin) in [
        (vec!["delete", "tdg/team", "--wait=false"], None),
        (vec!["create", "-f", "-"], Some(renamed.as_str())),
        (vec!["replace", "-f", "-"], Some(group.as_str())),
        (vec!["get", "secrets"], None),
        (vec!["get", "configmaps"], None),
        (vec!["get", "pods"], None),
        (vec!["get", "irep", "--all-namespaces"], None),
        (vec!["get", "irep", "-n", other.as_str()], None),
        (vec!["get", "leases"], None),
        (vec!["delete", "lease/connect-gr"], None),
        (vec!["get", "events.events.k8s.io"], None),
        (vec!["get", "crd"], None),
        (vec!["create", "namespace", "intruder"], None),
    ] {
        let out = kubectl_as(&kc, &args, stdin);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} was allowed");
        assert!(
            err.contains("forbidden") || err.contains("Forbidden"),
            "{args:?}: expected 403 Forbidden, got {err}"
        );
    }
    // The object is untouched by the refused delete.
    bed.kubectl_ok(&["get", "-n", &ns, "tdg/team"]);
    let can_i = |verb: &str, what: &str| -> String {
        let sa = format!("system:serviceaccount:{ns}:{SERVICE_ACCOUNT}");
        let out = bed.kubectl(&["auth", "can-i", verb, what, "-n", &ns, "--as", &sa]);
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    for kind in [
        "instancereplicas",
        "trafficdistributiongroups",
        "agentmemberships",
        "trafficdistributions",
        "callerdenylists",
    ] {
        for verb in ["get", "list", "watch", "patch"] {
            assert_eq!(
                can_i(verb, &format!("{kind}.connectgr.io")),
                "yes",
                "{verb} {kind}"
            );
        }
        for verb in ["create", "update", "delete", "deletecollection"] {
            assert_eq!(
                can_i(verb, &format!("{kind}.connectgr.io")),
                "no",
                "{verb} {kind}"
            );
        }
    }
}
