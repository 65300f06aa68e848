//! The controller as the shipped ServiceAccount: `connect-gr`, bound only to the shipped
//! namespaced Role (`deploy/kustomize-namespaced/role.yaml`, whose rules equal the ClusterRole's
//! and the Helm chart's), with a bound token from the TokenRequest API (`kubectl create token`).

#![allow(dead_code)]

use std::path::PathBuf;

use super::testbed::{TestBed, find_kubectl, repo_root};

/// The ServiceAccount of the chart and the kustomize base.
pub const SERVICE_ACCOUNT: &str = "connect-gr";

/// The YAML documents of a file under the repository root.
pub fn docs(path: &str) -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(repo_root().join(path)).unwrap();
    serde_norway::Deserializer::from_str(&text)
        .map(|d| serde::Deserialize::deserialize(d).unwrap())
        .filter(|v: &serde_json::Value| !v.is_null())
        .collect()
}

/// The shipped Role, its RoleBinding and the ServiceAccount, for namespace `ns`.
pub fn shipped_role_yaml(ns: &str) -> String {
    let mut out = vec![serde_json::json!({
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": {"name": SERVICE_ACCOUNT, "namespace": ns},
    })];
    for mut d in docs("deploy/kustomize-namespaced/role.yaml") {
        d["metadata"]["namespace"] = ns.into();
        if d["kind"] == "RoleBinding" {
            for s in d["subjects"].as_array_mut().unwrap() {
                s["namespace"] = ns.into();
            }
        }
        out.push(d);
    }
    out.iter()
        .map(|d| serde_norway::to_string(d).unwrap())
        .collect::<Vec<_>>()
        .join("---\n")
}

/// Applies the ServiceAccount and the shipped Role and RoleBinding in `ns`.
pub fn bind_shipped_role(bed: &TestBed, ns: &str) {
    let out = bed.kubectl_stdin(
        &[
            "apply",
            "--server-side",
            "--field-manager=e2e-rbac",
            "-n",
            ns,
            "-f",
            "-",
        ],
        Some(&shipped_role_yaml(ns)),
    );
    assert!(
        out.status.success(),
        "binding the shipped Role: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A bound token of ServiceAccount `sa` in `ns` (TokenRequest API), valid for two hours.
pub fn token(bed: &TestBed, ns: &str, sa: &str) -> String {
    let out = bed.kubectl_ok(&["create", "token", sa, "-n", ns, "--duration", "2h"]);
    out.trim().to_string()
}

/// A kubeconfig for ServiceAccount `sa` in `ns`: the test bed's server and CA, a bound token.
pub fn kubeconfig(bed: &TestBed, ns: &str, sa: &str) -> PathBuf {
    let token = token(bed, ns, sa);
    let path = bed.dir().join(format!("kubeconfig-sa-{ns}-{sa}"));
    std::fs::write(
        &path,
        format!(
            "apiVersion: v1\nkind: Config\nclusters: [{{name: t, cluster: {{server: \"{}\", certificate-authority: {}}}}}]\nusers: [{{name: {sa}, user: {{token: {token}}}}}]\ncontexts: [{{name: t, context: {{cluster: t, user: {sa}, namespace: {ns}}}}}]\ncurrent-context: t\n",
            bed.server_url(),
            bed.dir().join("pki/ca.crt").display(),
        ),
    )
    .unwrap();
    path
}

/// The kubeconfig the end-to-end controllers run with: on kube-apiserver, the shipped
/// ServiceAccount bound only to the shipped Role in `ns`; the apiextensions-apiserver has no
/// RBAC and no tokens, so there the admin's.
pub fn controller_kubeconfig(bed: &TestBed, ns: &str) -> PathBuf {
    if !bed.has_core_apis() {
        return bed.kubeconfig_path().to_path_buf();
    }
    bind_shipped_role(bed, ns);
    kubeconfig(bed, ns, SERVICE_ACCOUNT)
}

/// kubectl with another identity's kubeconfig (`stdin` piped in when given).
pub fn kubectl_as(
    kubeconfig: &std::path::Path,
    args: &[&str],
    stdin: Option<&str>,
) -> std::process::Output {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let mut child = Command::new(find_kubectl())
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("kubectl runs");
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
    }
    child.wait_with_output().unwrap()
}
