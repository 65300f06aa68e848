//! End to end, health-gated rollouts (issue 10) on the real API server, controller and
//! emulator: gates that pass, a region whose agents go offline (pause, abort, restore, resume),
//! the approval annotation and a webhook gate served by the test. D4 is checked at every split
//! the test observes in Connect.

use std::sync::Arc;
use std::sync::atomic::{AtomicU16, AtomicU64, Ordering};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::e2e::{
    Proc, apply, connect, controller_command, eventually, group_arn, group_yaml, jsonpath,
    replica_yaml, start_emulator, wait_ready,
};
use crate::support::markers::{Mark, attempts};
use crate::support::testbed::TestBed;

const INSTANCE: &str = "4f5e3c1a-7b2d-4c8e-9a10-2b3c4d5e6f70";

/// Ten Basic agents, no global routing: each region's metrics count its own agents.
pub(crate) fn emulator(dir: &tempfile::TempDir) -> crate::e2e::Emulator {
    let path = dir.path().join("state.yaml");
    let users: Vec<String> = (1..=10)
        .map(|i| format!("{{username: agent{i:03}}}"))
        .collect();
    std::fs::write(
        &path,
        format!(
            "instances:\n  - {{id: {INSTANCE}, region: us-west-2, alias: support-center, globalRouting: false, routingProfiles: [Basic Routing Profile], phoneNumbers: [\"+14255550103\"], users: [{}]}}\n",
            users.join(", ")
        ),
    )
    .unwrap();
    start_emulator(&[
        "--state",
        path.to_str().unwrap(),
        "--replication-seconds",
        "1",
        "--tdg-update-seconds",
        "0.5",
    ])
}

pub(crate) fn controller(bed: &TestBed, ns: &str, emulator: &str) -> Proc {
    Proc(
        controller_command(bed, ns, emulator, &format!("controller-{ns}.log"))
            .args(["--metrics-addr", "127.0.0.1:0"])
            .env("CONNECT_GR_RESYNC_INTERVAL", "3s")
            .env("RUST_LOG", "info,connect_gr=debug")
            .spawn()
            .expect("spawn controller"),
    )
}

fn members() -> String {
    let users: Vec<String> = (1..=10).map(|i| format!("agent{i:03}")).collect();
    format!(
        "apiVersion: connectgr.io/v1alpha1\nkind: AgentMembership\nmetadata: {{name: members}}\nspec:\n  groupRef: {{name: overflow}}\n  mode: Exact\n  users: [{}]\n",
        users.join(", ")
    )
}

/// A split toward `east` percent in us-east-1 (telephony and agents), gated by `rollout`.
pub(crate) fn split(east: i32, rollout: &str) -> String {
    format!(
        "apiVersion: connectgr.io/v1alpha1\nkind: TrafficDistribution\nmetadata: {{name: split}}\nspec:\n  groupRef: {{name: overflow}}\n  driftPauseSeconds: 0\n  telephony: {{us-west-2: {}, us-east-1: {east}}}\n  agents: {{us-west-2: {}, us-east-1: {east}}}\n  rollout:\n{rollout}",
        100 - east,
        100 - east
    )
}

/// Replica, group and members ready, the split at 100/0.
pub(crate) async fn setup(bed: &TestBed, ns: &str, url: &str) {
    apply(
        bed,
        ns,
        &format!(
            "{}---\n{}---\n{}---\n{}",
            replica_yaml(),
            group_yaml("overflow", "Retain"),
            members(),
            split(0, "    stepPercent: 100\n")
        ),
    );
    wait_ready(bed, ns, "agm/members", "90s");
    wait_ready(bed, ns, "tdist/split", "60s");
    let _ = url;
}

/// (telephony, agents) in us-east-1 as Connect has them; None while the group is busy.
pub(crate) async fn east_split(c: &aws_sdk_connect::Client, arn: &str) -> Option<(i32, i32)> {
    let d = c.get_traffic_distribution().id(arn).send().await.ok()?;
    let pick = |l: &[aws_sdk_connect::types::Distribution]| {
        l.iter()
            .find(|d| d.region() == "us-east-1")
            .map(|d| d.percentage())
    };
    Some((
        pick(d.telephony_config()?.distributions())?,
        pick(d.agent_config()?.distributions())?,
    ))
}

/// D4 for two regions: a region with telephony has agents.
fn d4(t: i32, a: i32) -> bool {
    (t == 0 || a > 0) && (t == 100 || a < 100)
}

fn annotate(bed: &TestBed, ns: &str, kv: &str) {
    let out = bed.kubectl(&["annotate", "-n", ns, "tdist/split", kv, "--overwrite"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

pub(crate) fn rollout(bed: &TestBed, ns: &str, field: &str) -> String {
    jsonpath(
        bed,
        ns,
        "tdist/split",
        &format!("{{.status.rollout.{field}}}"),
    )
}

pub(crate) fn presence(url: &str, body: &str) {
    let addr = url.trim_start_matches("http://");
    let (s, _, t) = crate::support::emulator::http_request(
        addr,
        "POST",
        "/_emulator/presence",
        &[("content-type", "application/json")],
        body,
    );
    assert_eq!(s, 200, "{t}");
}

/// Watches Connect until `done` and returns every split seen, asserting D4 on each.
async fn watch_until(
    c: &aws_sdk_connect::Client,
    arn: &str,
    secs: u64,
    done: (i32, i32),
) -> Vec<(i32, i32)> {
    let mut seen: Vec<(i32, i32)> = Vec::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(secs);
    while std::time::Instant::now() < deadline {
        if let Some(s) = east_split(c, arn).await {
            assert!(
                d4(s.0, s.1),
                "D4 broken at T {} A {} (us-east-1); seen {seen:?}",
                s.0,
                s.1
            );
            if seen.last() != Some(&s) {
                seen.push(s);
            }
            if s == done {
                return seen;
            }
        }
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    panic!("not at {done:?} after {secs}s; seen {seen:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_shift_in_10_percent_steps_completes_with_every_gate_passing_and_d4_at_every_step() {
    let bed = TestBed::shared();
    let ns = bed.namespace("e2e-gates-pass");
    let dir = tempfile::tempdir().unwrap();
    let emu = emulator(&dir);
    let _ctl = controller(bed, &ns, &emu.url);
    setup(bed, &ns, &emu.url).await;
    let arn = group_arn(bed, &ns, "overflow").await;
    let east = connect(&emu.url, "us-east-1").await;
    apply(
        bed,
        &ns,
        &split(
            100,
            "    stepPercent: 10\n    pauseSeconds: 1\n    gates:\n    - {name: enough-agents, agentsAvailable: {min: 1}}\n    - {name: short-waits, oldestContactAge: {maxSeconds: 60}}\n    - {name: small-queue, contactsInQueue: {max: 5, queues: [Basic Queue]}}\n",
        ),
    );
    let seen = watch_until(&east, &arn, 120, (100, 100)).await;
    assert!(seen.len() >= 8, "the shift went in steps: {seen:?}");
    assert!(
        seen.windows(2).all(|w| w[1].0 <= w[1].1 || w[1].1 == 100),
        "telephony never leads agents into us-east-1: {seen:?}"
    );
    wait_ready(bed, &ns, "tdist/split", "30s");
    eventually(Duration::from_secs(10), "phase Complete", || async {
        rollout(bed, &ns, "phase") == "Complete"
    })
    .await;
    let results = rollout(bed, &ns, "gates[*].result");
    assert_eq!(results, "Pass Pass Pass", "every gate passed the last step");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agents_going_offline_pause_then_abort_to_the_starting_split_and_resume_restarts() {
    let bed = TestBed::shared();
    let ns = bed.namespace("e2e-gates-abort");
    let dir = tempfile::tempdir().unwrap();
    let emu = emulator(&dir);
    let _ctl = controller(bed, &ns, &emu.url);
    setup(bed, &ns, &emu.url).await;
    let arn = group_arn(bed, &ns, "overflow").await;
    let east = connect(&emu.url, "us-east-1").await;
    apply(
        bed,
        &ns,
        &split(
            100,
            "    stepPercent: 10\n    pauseSeconds: 2\n    failureLimit: 2\n    gates:\n    - {name: enough-agents, agentsAvailable: {min: 1}}\n",
        ),
    );
    eventually(Duration::from_secs(60), "a few steps taken", || async {
        east_split(&east, &arn).await.is_some_and(|(t, _)| t >= 20)
    })
    .await;
    presence(&emu.url, r#"{"region":"us-east-1","availableFraction":0}"#);
    eventually(
        Duration::from_secs(30),
        "paused on a failed gate",
        || async {
            rollout(bed, &ns, "phase") == "Paused" && rollout(bed, &ns, "gates[0].result") == "Fail"
        },
    )
    .await;
    eventually(Duration::from_secs(30), "aborted", || async {
        rollout(bed, &ns, "phase") == "Aborted"
    })
    .await;
    eventually(
        Duration::from_secs(20),
        "Stalled, reason RolloutAborted",
        || async {
            jsonpath(
                bed,
                &ns,
                "tdist/split",
                "{.status.conditions[?(@.type==\"Stalled\")].reason}",
            ) == "RolloutAborted"
        },
    )
    .await;
    let ready = jsonpath(
        bed,
        &ns,
        "tdist/split",
        "{.status.conditions[?(@.type==\"Ready\")].status}",
    );
    assert_eq!(ready, "False");
    eventually(
        Duration::from_secs(20),
        "the starting split is back",
        || async { east_split(&east, &arn).await == Some((0, 0)) },
    )
    .await;
    // Two of the split's reads after the abort landed: a whole pass ran since.
    let mark = Mark::now(&emu.url);
    mark.wait_for("GetTrafficDistribution", 2, Duration::from_secs(30))
        .await;
    assert_eq!(
        attempts(&mark.calls(), &["UpdateTrafficDistribution"]),
        Vec::<String>::new(),
        "an aborted rollout stays put: nothing sent"
    );
    assert_eq!(
        east_split(&east, &arn).await,
        Some((0, 0)),
        "an aborted rollout stays put"
    );

    presence(&emu.url, r#"{"region":"us-east-1","availableFraction":1}"#);
    annotate(bed, &ns, "connectgr.io/resume=1");
    watch_until(&east, &arn, 120, (100, 100)).await;
    wait_ready(bed, &ns, "tdist/split", "30s");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_approval_gate_waits_for_the_annotation_of_each_step_or_all() {
    let bed = TestBed::shared();
    let ns = bed.namespace("e2e-gates-approve");
    let dir = tempfile::tempdir().unwrap();
    let emu = emulator(&dir);
    let _ctl = controller(bed, &ns, &emu.url);
    setup(bed, &ns, &emu.url).await;
    let arn = group_arn(bed, &ns, "overflow").await;
    let east = connect(&emu.url, "us-east-1").await;
    apply(
        bed,
        &ns,
        &split(
            50,
            "    stepPercent: 50\n    pauseSeconds: 1\n    gates:\n    - {name: ops, approval: {}}\n",
        ),
    );
    eventually(Duration::from_secs(30), "waiting for approval", || async {
        rollout(bed, &ns, "gates[0].result") == "Pending"
    })
    .await;
    assert_eq!(rollout(bed, &ns, "phase"), "Paused");
    // Two of the split's reads while it waits: a whole pass ran since.
    let mark = Mark::now(&emu.url);
    mark.wait_for("GetTrafficDistribution", 2, Duration::from_secs(30))
        .await;
    assert_eq!(
        attempts(&mark.calls(), &["UpdateTrafficDistribution"]),
        Vec::<String>::new(),
        "nothing sent unapproved"
    );
    assert_eq!(
        east_split(&east, &arn).await,
        Some((0, 0)),
        "nothing moves unapproved"
    );
    annotate(bed, &ns, "connectgr.io/approve=1");
    eventually(Duration::from_secs(30), "step 1 taken", || async {
        east_split(&east, &arn).await == Some((0, 50))
    })
    .await;
    eventually(Duration::from_secs(30), "step 2 waits", || async {
        rollout(bed, &ns, "step") == "1" && rollout(bed, &ns, "gates[0].result") == "Pending"
    })
    .await;
    annotate(bed, &ns, "connectgr.io/approve=all");
    watch_until(&east, &arn, 60, (50, 50)).await;
    wait_ready(bed, &ns, "tdist/split", "30s");
}

/// An https webhook with a CA of its own, answering with `status` after `delay_ms`; counts
/// requests. Returns its URL on 127.0.0.1 and its CA as a `caBundle` (base64 of PEM).
fn webhook(
    status: Arc<AtomicU16>,
    delay_ms: Arc<AtomicU64>,
    hits: Arc<AtomicU64>,
) -> (String, String) {
    use rcgen::{
        BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair, KeyUsagePurpose, SanType,
    };
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign];
    let ca_key = KeyPair::generate().unwrap();
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca, ca_key);
    let mut leaf = CertificateParams::new(vec!["localhost".to_string()]).unwrap();
    leaf.subject_alt_names
        .push(SanType::IpAddress(std::net::Ipv4Addr::LOCALHOST.into()));
    let leaf_key = KeyPair::generate().unwrap();
    let leaf_cert = leaf.signed_by(&leaf_key, &issuer).unwrap();
    let tls = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(
        vec![leaf_cert.der().clone()],
        rustls::pki_types::PrivateKeyDer::try_from(leaf_key.serialize_der()).unwrap(),
    )
    .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(tls));
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let listener = tokio::net::TcpListener::from_std(listener).unwrap();
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                continue;
            };
            let (status, delay, hits) = (status.clone(), delay_ms.clone(), hits.clone());
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut s) = acceptor.accept(tcp).await else {
                    return;
                };
                let mut buf = vec![0u8; 8192];
                let _ = s.read(&mut buf).await;
                hits.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(delay.load(Ordering::SeqCst))).await;
                let code = status.load(Ordering::SeqCst);
                let _ = s
                    .write_all(
                        format!(
                            "HTTP/1.1 {code} X\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                        )
                        .as_bytes(),
                    )
                    .await;
                let _ = s.shutdown().await;
            });
        }
    });
    (
        format!("https://{addr}/gate"),
        base64::Engine::encode(&base64::engine::general_purpose::STANDARD, ca_cert.pem()),
    )
}

/// A rollout of one 50 % step gated by the webhook at `url`, trusting `ca`.
fn webhook_rollout(url: &str, ca: &str) -> String {
    format!(
        "    stepPercent: 50\n    pauseSeconds: 1\n    failureLimit: 100\n    onFailure: Pause\n    gates:\n    - {{name: synthetic-call, webhook: {{url: \"{url}\", timeoutSeconds: 1, caBundle: \"{ca}\"}}}}\n"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_https_webhook_gate_passes_on_2xx_fails_on_other_statuses_and_a_timeout_is_inconclusive()
{
    let bed = TestBed::shared();
    let ns = bed.namespace("e2e-gates-webhook");
    let dir = tempfile::tempdir().unwrap();
    let emu = emulator(&dir);
    let _ctl = controller(bed, &ns, &emu.url);
    setup(bed, &ns, &emu.url).await;
    let arn = group_arn(bed, &ns, "overflow").await;
    let east = connect(&emu.url, "us-east-1").await;
    let (status, delay, hits) = (
        Arc::new(AtomicU16::new(500)),
        Arc::new(AtomicU64::new(0)),
        Arc::new(AtomicU64::new(0)),
    );
    let (url, ca) = webhook(status.clone(), delay.clone(), hits.clone());
    apply(bed, &ns, &split(50, &webhook_rollout(&url, &ca)));
    eventually(Duration::from_secs(30), "a 500 fails the gate", || async {
        rollout(bed, &ns, "gates[0].result") == "Fail"
            && rollout(bed, &ns, "gates[0].message").contains("500")
    })
    .await;
    assert_eq!(rollout(bed, &ns, "phase"), "Paused");
    assert_eq!(east_split(&east, &arn).await, Some((0, 0)));
    delay.store(3000, Ordering::SeqCst);
    status.store(200, Ordering::SeqCst);
    eventually(
        Duration::from_secs(30),
        "a timeout is inconclusive",
        || async { rollout(bed, &ns, "gates[0].result") == "Inconclusive" },
    )
    .await;
    assert_eq!(
        east_split(&east, &arn).await,
        Some((0, 0)),
        "nothing moves on a timeout"
    );
    delay.store(0, Ordering::SeqCst);
    watch_until(&east, &arn, 60, (50, 50)).await;
    wait_ready(bed, &ns, "tdist/split", "30s");
    assert!(hits.load(Ordering::SeqCst) >= 3);
}

fn stalled(bed: &TestBed, ns: &str, field: &str) -> String {
    jsonpath(
        bed,
        ns,
        "tdist/split",
        &format!("{{.status.conditions[?(@.type==\"Stalled\")].{field}}}"),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_host_outside_allowed_webhook_hosts_is_refused_with_a_reason_and_never_called() {
    let bed = TestBed::shared();
    let ns = bed.namespace("e2e-gates-webhook-host");
    let dir = tempfile::tempdir().unwrap();
    let emu = emulator(&dir);
    let _ctl = Proc(
        controller_command(bed, &ns, &emu.url, &format!("controller-{ns}.log"))
            .args(["--metrics-addr", "127.0.0.1:0"])
            .args([
                "--allowed-webhook-hosts",
                "*.svc,*.svc.cluster.local,localhost",
            ])
            .env("CONNECT_GR_RESYNC_INTERVAL", "3s")
            .spawn()
            .expect("spawn controller"),
    );
    setup(bed, &ns, &emu.url).await;
    let arn = group_arn(bed, &ns, "overflow").await;
    let east = connect(&emu.url, "us-east-1").await;
    let hits = Arc::new(AtomicU64::new(0));
    let (url, ca) = webhook(
        Arc::new(AtomicU16::new(200)),
        Arc::new(AtomicU64::new(0)),
        hits.clone(),
    );
    assert!(url.starts_with("https://127.0.0.1:"), "{url}");
    apply(bed, &ns, &split(50, &webhook_rollout(&url, &ca)));
    let generation = jsonpath(bed, &ns, "tdist/split", "{.metadata.generation}");
    eventually(
        Duration::from_secs(30),
        "Stalled WebhookHostNotAllowed",
        || async {
            stalled(bed, &ns, "status") == "True"
                && stalled(bed, &ns, "reason") == "WebhookHostNotAllowed"
                && jsonpath(bed, &ns, "tdist/split", "{.status.observedGeneration}") == generation
        },
    )
    .await;
    let message = stalled(bed, &ns, "message");
    assert!(
        message.contains("127.0.0.1") && message.contains("--allowed-webhook-hosts"),
        "{message}"
    );
    assert_eq!(
        hits.load(Ordering::SeqCst),
        0,
        "the refused host is never called"
    );
    assert_eq!(
        east_split(&east, &arn).await,
        Some((0, 0)),
        "nothing moves without the gate"
    );
}
