//! The complete plan (issue 14): `connect-gr plan` reads live Connect (here the emulator), runs the
//! driver on a snapshot until the manifests converge, and lists every write; the real controller
//! on the real API server then makes exactly those writes.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;

use crate::e2e::{Emulator, Proc, apply, controller_command, start_emulator, wait_ready};
use crate::support::testbed::{TestBed, repo_root};

const BIN: &str = env!("CARGO_BIN_EXE_connect-gr");

const EXAMPLES: &[&str] = crate::e2e::CONNECT_EXAMPLES;

/// The examples, copied so a test can edit them.
fn manifests(dir: &std::path::Path) -> PathBuf {
    for n in EXAMPLES {
        std::fs::copy(repo_root().join("deploy/examples").join(n), dir.join(n)).unwrap();
    }
    dir.to_path_buf()
}

/// `connect-gr plan -o json`: exit code and the parsed report.
fn plan(emu: &Emulator, ns: &str, dir: &std::path::Path) -> (i32, serde_json::Value) {
    plan_with(emu, ns, &["-f".as_ref(), dir.as_os_str()])
}

fn plan_with(emu: &Emulator, ns: &str, args: &[&std::ffi::OsStr]) -> (i32, serde_json::Value) {
    let out = Command::new(BIN)
        .args(["plan", "-n", ns, "-o", "json"])
        .args(args)
        .env("AWS_ENDPOINT_URL_CONNECT", &emu.url)
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_REGION", "us-west-2")
        .env("CONNECT_GR_BENCH_QUOTA_SCALE", "20")
        .output()
        .expect("run connect-gr plan");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let report = serde_json::from_str(&stdout).unwrap_or_else(|e| {
        panic!(
            "plan output is not JSON ({e}):\n{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code().unwrap_or(-1), report)
}

/// Operation → number of calls, from a plan report.
fn planned(report: &serde_json::Value) -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    for c in report["changes"].as_array().into_iter().flatten() {
        *out.entry(c["operation"].as_str().unwrap().to_string())
            .or_default() += c["count"].as_u64().unwrap();
    }
    out
}

/// Operation → number of successful writes, from the emulator's call log.
fn written(emu: &Emulator) -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    for (_, op) in crate::e2e::successful_writes(&emu.url) {
        *out.entry(op).or_default() += 1;
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_plan_lists_every_write_the_controller_then_makes_and_nothing_once_converged() {
    let bed = TestBed::shared();
    let ns = bed.namespace("e2e-plan");
    let emu = start_emulator(&["--replication-seconds", "1"]);
    let tmp = tempfile::tempdir().unwrap();
    let dir = manifests(tmp.path());

    // A fresh instance: replication, both groups, every agent, the split.
    let (code, report) = plan(&emu, &ns, &dir);
    assert_eq!(code, 2, "changes planned: {report:#}");
    let want = planned(&report);
    assert_eq!(want.get("ReplicateInstance"), Some(&1), "{want:?}");
    assert_eq!(
        want.get("CreateTrafficDistributionGroup"),
        Some(&1),
        "{want:?}"
    );
    assert_eq!(
        want.get("AssociateTrafficDistributionGroupUser"),
        Some(&153),
        "{want:?}"
    );
    assert!(want.contains_key("UpdateTrafficDistribution"), "{want:?}");
    assert!(
        report["waits"].as_array().is_some_and(|w| !w.is_empty()),
        "waits reported: {report:#}"
    );
    assert_eq!(written(&emu), BTreeMap::new(), "planning wrote nothing");

    // The controller makes exactly those writes.
    let _ctl = Proc(
        controller_command(bed, &ns, &emu.url, &format!("controller-{ns}.log"))
            .args(["--metrics-addr", "127.0.0.1:0"])
            .spawn()
            .expect("spawn controller"),
    );
    for n in EXAMPLES {
        apply(bed, &ns, &std::fs::read_to_string(dir.join(n)).unwrap());
    }
    for what in [
        "irep/support-center",
        "tdg/support-default",
        "tdg/support-overflow",
        "agm/support-agents",
        "tdist/support-split",
    ] {
        wait_ready(bed, &ns, what, "90s");
    }
    assert_eq!(
        written(&emu),
        want,
        "the controller's writes are the plan's"
    );

    // Converged: no change, exit 0.
    let (code, report) = plan(&emu, &ns, &dir);
    assert_eq!((code, planned(&report)), (0, BTreeMap::new()), "{report:#}");

    // The cluster's objects as they are: no change either.
    let kubeconfig = bed.kubeconfig_path().as_os_str();
    let (code, report) = plan_with(&emu, &ns, &["--kubeconfig".as_ref(), kubeconfig]);
    assert_eq!((code, planned(&report)), (0, BTreeMap::new()), "{report:#}");
    assert_eq!(
        report["objects"].as_array().map(Vec::len),
        Some(5),
        "{report:#}"
    );

    // A spec edit: just that change, exit 2.
    let split = dir.join("traffic-distribution.yaml");
    let text = std::fs::read_to_string(&split).unwrap().replacen(
        "telephony:\n    us-west-2: 50\n    us-east-1: 50",
        "telephony:\n    us-west-2: 60\n    us-east-1: 40",
        1,
    );
    std::fs::write(&split, text).unwrap();
    let (code, report) = plan(&emu, &ns, &dir);
    assert_eq!(code, 2, "{report:#}");
    let one_update = BTreeMap::from([("UpdateTrafficDistribution".to_string(), 1)]);
    assert_eq!(planned(&report), one_update, "{report:#}");

    // The same edit on top of the cluster's objects (a merge's dry run).
    let (code, report) = plan_with(
        &emu,
        &ns,
        &[
            "--kubeconfig".as_ref(),
            kubeconfig,
            "-f".as_ref(),
            split.as_os_str(),
        ],
    );
    assert_eq!((code, planned(&report)), (2, one_update), "{report:#}");
}
