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
    let admin: serde_yaml::Value =
        serde_yaml::from_str(&std::fs::read_to_string(bed.kubeconfig_path()).unwrap()).unwrap();
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
async fn without_get_on_groups_deleting_a_membership_holds_the_finalizer_and_never_strands_agents()
{
    let bed = TestBed::shared();
    if !bed.has_core_apis() {
        eprintln!("skipped: the test bed has no RBAC (apiextensions flavour)");
        return;
    }
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

    // The same controller, as an identity that may list and watch groups but not get them.
    apply(bed, &ns, &role_yaml("list, watch, patch, update"));
    let kubeconfig = limited_kubeconfig(bed, &ns);
    let limited = Proc(
        controller_command(bed, &ns, &emu.url, &format!("controller-limited-{ns}.log"))
            .args(["--metrics-addr", "127.0.0.1:0"])
            .env("KUBECONFIG", &kubeconfig)
            .stdout(Stdio::null())
            .spawn()
            .expect("spawn limited controller"),
    );
    let out = bed.kubectl(&["delete", "-n", &ns, "agm/leaving", "--wait=false"]);
    assert!(out.status.success());

    // Several resyncs (4 s) later: the object is held by its finalizer, or its agents are out.
    let mut last_reason = String::new();
    for _ in 0..40 {
        tokio::time::sleep(Duration::from_millis(500)).await;
        if !exists(bed, &ns, "agm/leaving") {
            assert!(
                members(&west, &arn).await.is_empty(),
                "the finalizer was dropped with agents left in the group"
            );
            break;
        }
        last_reason = jsonpath(
            bed,
            &ns,
            "agm/leaving",
            "{.status.conditions[?(@.type==\"Reconciling\")].reason}",
        );
    }
    assert!(exists(bed, &ns, "agm/leaving"), "held by the finalizer");
    assert_eq!(last_reason, "KubernetesReadFailed", "status says why");
    assert_eq!(
        members(&west, &arn).await.len(),
        10,
        "nothing removed blind"
    );

    // Grant `get`: the cleanup goes through and the agents leave.
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
