//! The Helm chart `deploy/helm/connect-gr`: `helm lint`, the values schema, `helm template`
//! against the kustomize base (the parts they share must agree: RBAC rules, the Deployment's
//! container and security contexts, the CRDs), Pod Security `restricted` admission of the
//! rendered pod, and `helm install` / `helm upgrade` (with a CRD change) / `helm uninstall` into a
//! test bed of its own, with the controller run as the chart's ServiceAccount.
//!
//! Helm comes from `scripts/tools.d/helm.sh` (`.tools/bin/helm`, Go module proxy).

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use crate::e2e::{Proc, eventually, start_emulator};
use crate::support::rbac;
use crate::support::testbed::{TestBed, repo_root};

const CHART: &str = "deploy/helm/connect-gr";
const BIN: &str = env!("CARGO_BIN_EXE_connect-gr");

fn helm_bin() -> PathBuf {
    let bin = repo_root().join(".tools/bin/helm");
    if !bin.is_file() {
        let st = Command::new("bash")
            .arg(repo_root().join("scripts/tools.d/helm.sh"))
            .status()
            .expect("run scripts/tools.d/helm.sh");
        assert!(st.success(), "scripts/tools.d/helm.sh failed");
    }
    bin
}

/// `helm ARGS` with its own (empty) configuration and cache directories.
fn helm(args: &[&str], kubeconfig: Option<&Path>) -> Output {
    let home = std::env::temp_dir().join(format!("connect-gr-helm-{}", std::process::id()));
    let mut cmd = Command::new(helm_bin());
    cmd.args(args)
        .env("HELM_CONFIG_HOME", home.join("config"))
        .env("HELM_CACHE_HOME", home.join("cache"))
        .env("HELM_DATA_HOME", home.join("data"))
        .stdin(Stdio::null());
    if let Some(k) = kubeconfig {
        cmd.env("KUBECONFIG", k);
    }
    cmd.output().expect("helm runs")
}

fn helm_ok(args: &[&str], kubeconfig: Option<&Path>) -> String {
    let out = helm(args, kubeconfig);
    assert!(
        out.status.success(),
        "helm {args:?} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn yaml_docs(text: &str) -> Vec<serde_json::Value> {
    serde_norway::Deserializer::from_str(text)
        .map(|d| serde::Deserialize::deserialize(d).unwrap())
        .filter(|v: &serde_json::Value| !v.is_null())
        .collect()
}

/// `helm template connect-gr CHART -n connect-gr-system` with `--set` values.
pub(crate) fn template(sets: &[&str]) -> Vec<serde_json::Value> {
    let chart = repo_root().join(CHART).display().to_string();
    let mut args = vec![
        "template",
        "connect-gr",
        &chart,
        "--namespace",
        "connect-gr-system",
    ];
    for s in sets {
        args.extend(["--set", s]);
    }
    yaml_docs(&helm_ok(&args, None))
}

/// `kubectl kustomize DIR` (the kustomize built into kubectl).
fn kustomize(dir: &str) -> Vec<serde_json::Value> {
    let kubectl = kubectl_bin();
    let out = Command::new(kubectl)
        .arg("kustomize")
        .arg(repo_root().join(dir))
        .output()
        .expect("kubectl runs");
    assert!(
        out.status.success(),
        "kubectl kustomize {dir}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    yaml_docs(&String::from_utf8_lossy(&out.stdout))
}

fn kubectl_bin() -> PathBuf {
    let venv = repo_root().join(".tools/venv/bin/kubectl");
    if venv.is_file() {
        venv
    } else {
        PathBuf::from("kubectl")
    }
}

fn find<'a>(docs: &'a [serde_json::Value], kind: &str) -> &'a serde_json::Value {
    docs.iter()
        .find(|d| d["kind"] == kind)
        .unwrap_or_else(|| panic!("no {kind} rendered"))
}

fn kinds(docs: &[serde_json::Value]) -> Vec<String> {
    let mut k: Vec<String> = docs
        .iter()
        .map(|d| d["kind"].as_str().unwrap().to_string())
        .collect();
    k.sort();
    k.dedup();
    k
}

#[test]
fn helm_lint_passes_for_the_defaults_and_each_documented_variant() {
    let chart = repo_root().join(CHART).display().to_string();
    for sets in [
        vec![],
        vec!["scope=Namespace"],
        vec!["metrics.serviceMonitor.enabled=true"],
        vec!["aws.roleArn=arn:aws:iam::111122223333:role/connect-gr"],
        vec!["replicaCount=1", "leaderElection.enabled=false"],
        vec!["crds.install=false", "networkPolicy.enabled=false"],
    ] {
        let mut args = vec!["lint", &chart, "--strict"];
        for s in &sets {
            args.extend(["--set", s]);
        }
        let out = helm_ok(&args, None);
        assert!(out.contains("0 chart(s) failed"), "{sets:?}: {out}");
    }
}

#[test]
fn the_chart_follows_the_crate_version_and_ships_the_generated_crds() {
    let chart: serde_json::Value = serde_norway::from_str(
        &std::fs::read_to_string(repo_root().join(CHART).join("Chart.yaml")).unwrap(),
    )
    .unwrap();
    assert_eq!(chart["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(chart["appVersion"], env!("CARGO_PKG_VERSION"));
    let list = |dir: &Path| -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|n| n.ends_with(".yaml"))
            .collect();
        v.sort();
        v
    };
    let generated = repo_root().join("crds");
    let shipped = repo_root().join(CHART).join("files/crds");
    assert_eq!(list(&generated), list(&shipped));
    for name in list(&generated) {
        assert_eq!(
            std::fs::read_to_string(generated.join(&name)).unwrap(),
            std::fs::read_to_string(shipped.join(&name)).unwrap(),
            "{CHART}/files/crds/{name} is stale: run `make crds`"
        );
    }
}

/// The fields of the Deployment the chart and the kustomize base share.
fn shared_deployment_parts(dep: &serde_json::Value) -> serde_json::Value {
    let spec = &dep["spec"]["template"]["spec"];
    let mut c = spec["containers"][0].clone();
    c.as_object_mut().unwrap().remove("imagePullPolicy");
    serde_json::json!({
        "replicas": dep["spec"]["replicas"],
        "strategy": dep["spec"]["strategy"],
        "podAnnotations": dep["spec"]["template"]["metadata"]["annotations"],
        "serviceAccountName": spec["serviceAccountName"],
        "podSecurityContext": spec["securityContext"],
        "container": c,
    })
}

#[test]
fn helm_template_agrees_with_the_kustomize_base_on_rbac_the_deployment_and_the_crds() {
    for (dir, sets, role) in [
        ("deploy/kustomize", vec![], "ClusterRole"),
        (
            "deploy/kustomize-namespaced",
            vec!["scope=Namespace"],
            "Role",
        ),
    ] {
        let helm = template(&sets);
        let kust = kustomize(dir);
        assert_eq!(
            find(&helm, role)["rules"],
            find(&kust, role)["rules"],
            "{role} rules ({dir})"
        );
        let other = if role == "Role" {
            "ClusterRole"
        } else {
            "Role"
        };
        assert!(!kinds(&helm).contains(&other.to_string()), "{sets:?}");
        assert!(!kinds(&kust).contains(&other.to_string()), "{dir}");
        assert_eq!(
            shared_deployment_parts(find(&helm, "Deployment")),
            shared_deployment_parts(find(&kust, "Deployment")),
            "Deployment ({dir})"
        );
        assert_eq!(
            find(&helm, "ServiceAccount")["metadata"]["name"],
            find(&kust, "ServiceAccount")["metadata"]["name"]
        );
        // The same CRDs, whatever labels and annotations each adds.
        let crds = |docs: &[serde_json::Value]| -> Vec<(serde_json::Value, serde_json::Value)> {
            let mut v: Vec<_> = docs
                .iter()
                .filter(|d| d["kind"] == "CustomResourceDefinition")
                .map(|d| (d["metadata"]["name"].clone(), d["spec"].clone()))
                .collect();
            v.sort_by_key(|(n, _)| n.as_str().unwrap().to_string());
            v
        };
        assert_eq!(crds(&helm).len(), 6);
        assert_eq!(crds(&helm), crds(&kust), "CRDs ({dir})");
    }
    // The chart adds what kustomize users add themselves: a PDB, a NetworkPolicy, a Service.
    let helm = template(&[]);
    for kind in [
        "PodDisruptionBudget",
        "NetworkPolicy",
        "Service",
        "ServiceAccount",
    ] {
        assert!(kinds(&helm).contains(&kind.to_string()), "{kind}");
    }
    assert!(!kinds(&helm).contains(&"ServiceMonitor".to_string()));
    let crd = helm
        .iter()
        .find(|d| d["kind"] == "CustomResourceDefinition")
        .unwrap();
    assert_eq!(
        crd["metadata"]["annotations"]["helm.sh/resource-policy"], "keep",
        "helm uninstall must not delete the CRDs (and every custom resource with them)"
    );
}

#[test]
fn chart_values_set_what_they_say() {
    let docs = template(&[
        "aws.roleArn=arn:aws:iam::111122223333:role/connect-gr",
        "aws.region=eu-west-2",
        "metrics.serviceMonitor.enabled=true",
        "metrics.port=9090",
        "controller.concurrency=8",
        "controller.logLevel=debug",
        "controller.quotas={ListUsers=20/40}",
        "controller.allowedWebhookHosts={*.svc,gate.example.com}",
        "image.digest=sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        "replicaCount=3",
    ]);
    assert_eq!(
        find(&docs, "ServiceAccount")["metadata"]["annotations"]["eks.amazonaws.com/role-arn"],
        "arn:aws:iam::111122223333:role/connect-gr"
    );
    let dep = find(&docs, "Deployment");
    assert_eq!(dep["spec"]["replicas"], 3);
    let c = &dep["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(
        c["image"],
        "ghcr.io/connect-gr/connect-gr@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
    );
    let env: std::collections::BTreeMap<String, String> = c["env"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| Some((e["name"].as_str()?.into(), e["value"].as_str()?.into())))
        .collect();
    assert_eq!(env["AWS_REGION"], "eu-west-2");
    assert_eq!(env["CONNECT_GR_METRICS_ADDR"], "0.0.0.0:9090");
    assert_eq!(env["CONNECT_GR_CONCURRENCY"], "8");
    assert_eq!(env["RUST_LOG"], "debug");
    assert_eq!(env["CONNECT_GR_QUOTAS"], "ListUsers=20/40");
    assert!(
        c["args"].as_array().unwrap().contains(&serde_json::json!(
            "--allowed-webhook-hosts=*.svc,gate.example.com"
        )),
        "{}",
        c["args"]
    );
    assert_eq!(c["ports"][0]["containerPort"], 9090);
    let sm = find(&docs, "ServiceMonitor");
    assert_eq!(sm["spec"]["endpoints"][0]["port"], "metrics");
    assert_eq!(find(&docs, "Service")["spec"]["ports"][0]["port"], 9090);
    // NetworkPolicy: metrics in; DNS, the API server and AWS out.
    let np = find(&docs, "NetworkPolicy");
    assert_eq!(
        np["spec"]["policyTypes"],
        serde_json::json!(["Ingress", "Egress"])
    );
    assert_eq!(np["spec"]["ingress"][0]["ports"][0]["port"], "metrics");
    let egress_ports: Vec<i64> = np["spec"]["egress"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| r["ports"].as_array().unwrap().clone())
        .map(|p| p["port"].as_i64().unwrap())
        .collect();
    assert_eq!(egress_ports, [53, 53, 443, 6443]);
}

#[test]
fn the_values_schema_and_the_templates_refuse_what_would_not_work() {
    let chart = repo_root().join(CHART).display().to_string();
    for (set, why) in [
        ("scope=Everywhere", "/scope"),
        ("replicaCount=0", "/replicaCount"),
        ("replicaCuont=2", "replicaCuont"),
        ("aws.region=Oregon", "/aws/region"),
        ("aws.roleArn=connect-gr", "/aws/roleArn"),
        (
            "controller.resyncInterval=soon",
            "/controller/resyncInterval",
        ),
        (
            "securityContext.allowPrivilegeEscalation=true",
            "/securityContext/allowPrivilegeEscalation",
        ),
        (
            "podSecurityContext.runAsNonRoot=false",
            "/podSecurityContext/runAsNonRoot",
        ),
        ("image.digest=latest", "/image/digest"),
        (
            "leaderElection.enabled=false",
            "replicaCount > 1 needs leaderElection.enabled",
        ),
    ] {
        let out = helm(&["template", "connect-gr", &chart, "--set", set], None);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{set} was accepted");
        assert!(err.contains(why), "{set}: expected {why:?} in {err}");
    }
}

/// The pod of the rendered Deployment, as a Pod in namespace `ns`.
fn rendered_pod(ns: &str, name: &str) -> serde_json::Value {
    let docs = template(&[]);
    let tpl = find(&docs, "Deployment")["spec"]["template"].clone();
    serde_json::json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": ns, "labels": tpl["metadata"]["labels"]},
        "spec": tpl["spec"],
    })
}

#[test]
fn the_rendered_pod_is_admitted_where_pod_security_restricted_is_enforced() {
    let bed = TestBed::shared();
    bed.require_core_apis("the apiextensions-apiserver has no Pods");
    let ns = bed.namespace("pss");
    bed.kubectl_ok(&[
        "label",
        "namespace",
        &ns,
        "pod-security.kubernetes.io/enforce=restricted",
        "pod-security.kubernetes.io/enforce-version=latest",
    ]);
    let create = |pod: &serde_json::Value| {
        bed.kubectl_stdin(
            &["create", "--dry-run=server", "-n", &ns, "-f", "-"],
            Some(&pod.to_string()),
        )
    };
    let out = create(&rendered_pod(&ns, "connect-gr"));
    assert!(
        out.status.success(),
        "restricted refused the chart's pod: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The same pod without its container securityContext is refused: the check can fail.
    let mut loose = rendered_pod(&ns, "loose");
    loose["spec"]["containers"][0]
        .as_object_mut()
        .unwrap()
        .remove("securityContext");
    let out = create(&loose);
    assert!(!out.status.success(), "restricted is not enforced here");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("violates PodSecurity"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A copy of the chart as a later release would ship it: version 0.1.1-next, and a CRD change
/// (InstanceReplica gains an optional `spec.notes` and a printer column).
fn next_chart(dir: &Path) -> PathBuf {
    let src = repo_root().join(CHART);
    let dst = dir.join("connect-gr");
    let out = Command::new("cp")
        .arg("-r")
        .arg(&src)
        .arg(&dst)
        .output()
        .unwrap();
    assert!(out.status.success());
    let chart = dst.join("Chart.yaml");
    let text = std::fs::read_to_string(&chart).unwrap().replace(
        &format!("version: {}", env!("CARGO_PKG_VERSION")),
        "version: 0.1.1-next",
    );
    std::fs::write(&chart, text).unwrap();
    let crd_path = dst.join("files/crds/instancereplicas.connectgr.io.yaml");
    let mut crd: serde_json::Value =
        serde_norway::from_str(&std::fs::read_to_string(&crd_path).unwrap()).unwrap();
    let v = &mut crd["spec"]["versions"][0];
    v["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]["notes"] =
        serde_json::json!({"type": "string", "description": "Free text (added in 0.1.1)."});
    v["additionalPrinterColumns"]
        .as_array_mut()
        .unwrap()
        .push(serde_json::json!({"name": "Notes", "type": "string", "jsonPath": ".spec.notes"}));
    std::fs::write(&crd_path, serde_norway::to_string(&crd).unwrap()).unwrap();
    dst
}

/// The controller as the installed Deployment's pod would run: the container's args and env
/// (downward-API fields resolved), the chart's ServiceAccount token, on the host.
fn run_installed_pod(bed: &TestBed, ns: &str, pod: &str, aws_env: &[(&str, &str)]) -> Proc {
    let dep: serde_json::Value = serde_json::from_str(&bed.kubectl_ok(&[
        "get",
        "-n",
        ns,
        "deployment/connect-gr",
        "-o",
        "json",
    ]))
    .unwrap();
    let spec = &dep["spec"]["template"]["spec"];
    let c = &spec["containers"][0];
    let sa = spec["serviceAccountName"].as_str().unwrap();
    let kubeconfig = rbac::kubeconfig(bed, ns, sa);
    let args: Vec<String> = serde_json::from_value(c["args"].clone()).unwrap();
    let mut cmd = Command::new(BIN);
    cmd.args(&args).env_clear().env("PATH", "/usr/bin:/bin");
    for e in c["env"].as_array().unwrap() {
        let name = e["name"].as_str().unwrap();
        let value = match (
            e["value"].as_str(),
            e["valueFrom"]["fieldRef"]["fieldPath"].as_str(),
        ) {
            (Some(v), _) => v.to_string(),
            (None, Some("metadata.name")) => pod.to_string(),
            (None, Some("metadata.namespace")) => ns.to_string(),
            other => panic!("env {name}: {other:?}"),
        };
        cmd.env(name, value);
    }
    cmd.env("KUBECONFIG", &kubeconfig)
        .env("CONNECT_GR_BENCH_QUOTA_SCALE", "20")
        .envs(aws_env.iter().copied())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(bed.dir().join(format!("controller-{pod}.log"))).unwrap());
    Proc(cmd.spawn().expect("spawn controller"))
}

fn jsonpath(bed: &TestBed, args: &[&str], path: &str) -> String {
    let mut a = vec!["get"];
    a.extend_from_slice(args);
    let p = format!("jsonpath={path}");
    a.extend(["-o", &p]);
    bed.kubectl_ok(&a)
}

fn crd_names() -> Vec<String> {
    std::fs::read_dir(repo_root().join("crds"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter_map(|n| n.strip_suffix(".yaml").map(str::to_string))
        .collect()
}

/// From zero on a cluster of its own: CRDs applied by hand first (as `kubectl apply -k` users
/// have them), the documented adoption, `helm install`, the controller as the chart's
/// ServiceAccount reconciling an example to Ready in another namespace (ClusterRole), `helm
/// upgrade` to a chart with a CRD change (the CRD is upgraded, objects keep working and may use
/// the new field), `helm uninstall` (CRDs and objects stay), and a re-install that adopts them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn helm_install_upgrade_with_a_crd_change_and_uninstall_in_a_test_bed_of_its_own() {
    let bed = TestBed::isolated("helm");
    bed.require_core_apis("helm install needs namespaces, RBAC and tokens");
    let kc = bed.kubeconfig_path().to_path_buf();
    let kc = Some(kc.as_path());
    let chart = repo_root().join(CHART).display().to_string();
    let crds = repo_root().join("crds").display().to_string();
    let ns = "connect-gr-system";
    let emu = start_emulator(&["--replication-seconds", "1"]);
    let metrics_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
        .to_string();
    let install_args = |chart: &str| -> Vec<String> {
        [
            "--namespace",
            ns,
            "--set",
            &format!("aws.endpoints.connect={}", emu.url),
            "--set",
            &format!("metrics.port={metrics_port}"),
            "--set",
            "controller.resyncInterval=4s",
            "--set",
            "aws.roleArn=arn:aws:iam::111122223333:role/connect-gr",
        ]
        .iter()
        .map(|s| s.to_string())
        .chain(std::iter::once(chart.to_string()))
        .collect()
    };

    // CRDs from `kubectl apply` (kustomize users): Helm refuses to take them over as they are...
    bed.kubectl_ok(&["apply", "--server-side", "-f", &crds]);
    let mut args = vec!["install", "connect-gr", "--create-namespace"];
    let ia = install_args(&chart);
    args.extend(ia.iter().map(String::as_str));
    let out = helm(&args, kc);
    assert!(!out.status.success(), "helm took CRDs it does not own");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("invalid ownership metadata"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // ...until they are adopted the way the README says.
    for crd in crd_names() {
        let crd = format!("crd/{crd}");
        bed.kubectl_ok(&[
            "label",
            "--overwrite",
            &crd,
            "app.kubernetes.io/managed-by=Helm",
        ]);
        bed.kubectl_ok(&[
            "annotate",
            "--overwrite",
            &crd,
            "meta.helm.sh/release-name=connect-gr",
            &format!("meta.helm.sh/release-namespace={ns}"),
        ]);
    }
    helm_ok(&args, kc);
    bed.kubectl_ok(&[
        "wait",
        "--for=condition=Established",
        "--timeout=60s",
        "-f",
        &crds,
    ]);
    assert_eq!(
        jsonpath(
            &bed,
            &["-n", ns, "deployment/connect-gr"],
            "{.spec.replicas}"
        ),
        "2"
    );
    assert_eq!(
        jsonpath(
            &bed,
            &["-n", ns, "serviceaccount/connect-gr"],
            "{.metadata.annotations.eks\\.amazonaws\\.com/role-arn}"
        ),
        "arn:aws:iam::111122223333:role/connect-gr"
    );
    for what in [
        "poddisruptionbudget/connect-gr",
        "networkpolicy/connect-gr",
        "service/connect-gr-metrics",
    ] {
        bed.kubectl_ok(&["get", "-n", ns, what]);
    }
    bed.kubectl_ok(&[
        "get",
        "clusterrole/connect-gr",
        "clusterrolebinding/connect-gr",
    ]);

    // The pod (no kubelet here): the Deployment's container on the host, as the chart's
    // ServiceAccount; objects in another namespace (ClusterRole), the Lease in the release's.
    let aws = [
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
    ];
    let ctl = run_installed_pod(&bed, ns, "connect-gr-0", &aws);
    let team = bed.namespace("team");
    let example =
        std::fs::read_to_string(repo_root().join("deploy/examples/instance-replica.yaml")).unwrap();
    let applied = bed.kubectl_stdin(&["apply", "-n", &team, "-f", "-"], Some(&example));
    assert!(applied.status.success(), "{applied:?}");
    let wait = |what: &str| {
        let out = bed.kubectl(&[
            "wait",
            "-n",
            &team,
            "--for=condition=Ready",
            what,
            "--timeout=120s",
        ]);
        assert!(
            out.status.success(),
            "{what} not Ready: {}\ncontroller log:\n{}",
            String::from_utf8_lossy(&out.stderr),
            std::fs::read_to_string(bed.dir().join("controller-connect-gr-0.log"))
                .unwrap_or_default()
        );
    };
    wait("instancereplica/support-center");
    assert!(
        jsonpath(
            &bed,
            &["-n", ns, "lease/connect-gr"],
            "{.spec.holderIdentity}"
        )
        .starts_with("connect-gr-0_")
    );

    // helm upgrade to a chart whose CRD changed.
    let tmp = tempfile::tempdir().unwrap();
    let next = next_chart(tmp.path()).display().to_string();
    let mut up = vec!["upgrade", "connect-gr"];
    let ua = install_args(&next);
    up.extend(ua.iter().map(String::as_str));
    helm_ok(&up, kc);
    assert_eq!(
        jsonpath(
            &bed,
            &["crd/instancereplicas.connectgr.io"],
            "{.spec.versions[0].schema.openAPIV3Schema.properties.spec.properties.notes.type}"
        ),
        "string",
        "helm upgrade upgraded the CRD"
    );
    assert_eq!(
        jsonpath(
            &bed,
            &["crd/instancereplicas.connectgr.io"],
            "{.metadata.annotations.helm\\.sh/resource-policy}"
        ),
        "keep"
    );
    let with_notes = example.replace(
        "  replicaAlias: support-center-east",
        "  replicaAlias: support-center-east\n  notes: moved east in 0.1.1",
    );
    let applied = bed.kubectl_stdin(&["apply", "-n", &team, "-f", "-"], Some(&with_notes));
    assert!(applied.status.success(), "{applied:?}");
    assert_eq!(
        jsonpath(
            &bed,
            &["-n", &team, "instancereplica/support-center"],
            "{.spec.notes}"
        ),
        "moved east in 0.1.1",
        "the new field is kept, not pruned"
    );
    let generation = jsonpath(
        &bed,
        &["-n", &team, "instancereplica/support-center"],
        "{.metadata.generation}",
    );
    eventually(
        Duration::from_secs(60),
        "the controller observes the new generation",
        || async {
            jsonpath(
                &bed,
                &["-n", &team, "instancereplica/support-center"],
                "{.status.observedGeneration}",
            ) == generation
        },
    )
    .await;
    wait("instancereplica/support-center");
    let history = helm_ok(&["history", "connect-gr", "-n", ns, "-o", "json"], kc);
    let history: serde_json::Value = serde_json::from_str(&history).unwrap();
    assert_eq!(history.as_array().unwrap().len(), 2, "{history}");
    assert_eq!(history[1]["chart"], "connect-gr-0.1.1-next");
    drop(ctl);

    // helm uninstall keeps the CRDs and with them the objects; a re-install adopts them.
    helm_ok(&["uninstall", "connect-gr", "-n", ns], kc);
    assert!(
        !bed.kubectl(&["get", "-n", ns, "deployment/connect-gr"])
            .status
            .success()
    );
    bed.kubectl_ok(&["get", "crd/instancereplicas.connectgr.io"]);
    bed.kubectl_ok(&["get", "-n", &team, "instancereplica/support-center"]);
    let mut args = vec!["install", "connect-gr"];
    args.extend(ia.iter().map(String::as_str));
    helm_ok(&args, kc);
    bed.kubectl_ok(&["get", "-n", ns, "deployment/connect-gr"]);
}
