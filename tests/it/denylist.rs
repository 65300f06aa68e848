//! Integration suite: denylist. The handlers, the table management and the entry sync against
//! moto (a real DynamoDB wire peer), the CLI end to end, and a handler in a local Lambda runtime.

use std::collections::BTreeSet;

use connect_gr::denylist::dynamo::DynamoDenylist;
use connect_gr::denylist::entry::Source;
use connect_gr::denylist::handlers::{DenylistStore, handle_add, handle_check};
use connect_gr::denylist::number::NumberPolicy;
use connect_gr::denylist::steps::{ensure_global_table, sync_entries};
use connect_gr::denylist::table::TableAdmin;
use serde_json::Value;

use crate::support::moto::{Moto, repo_root};

const TABLE: &str = "DenylistingTable";
const SOURCE: &str = "us-west-2";
const REPLICA: &str = "us-east-1";
const NOW: &str = "2026-11-23T14:00:00Z";

fn fixture(name: &str) -> Value {
    let path = repo_root().join("tests/fixtures/connect-events").join(name);
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

/// A table that exists and is ACTIVE (moto creates tables ACTIVE at once).
async fn table(moto: &Moto, region: &str) -> DynamoDenylist {
    let t = DynamoDenylist::new(moto.dynamodb(region), TABLE);
    let obs = ensure_global_table::<_, DynamoDenylist>(&t, None).await;
    assert!(obs.errors.is_empty(), "{:?}", obs.errors);
    t
}

#[tokio::test]
async fn handlers_on_recorded_connect_events() {
    let moto = Moto::start();
    let t = table(&moto, SOURCE).await;
    let p = NumberPolicy::default();
    // Nobody is denied yet.
    let r = handle_check(&t, &fixture("inbound-e164.json"), &p)
        .await
        .unwrap();
    assert_eq!(r["Success"], "false");
    // An agent flags the caller; the event carries a formatted number.
    let r = handle_add(&t, &fixture("agent-flag-formatted.json"), &p, NOW)
        .await
        .unwrap();
    assert_eq!(r["Success"], "true", "{r:?}");
    let e = t
        .get("+14255550100")
        .await
        .unwrap()
        .expect("stored in E.164");
    assert_eq!(e.source, Source::Agent);
    assert_eq!(e.added_by.as_deref(), Some("alice"));
    assert_eq!(e.added_at.as_deref(), Some(NOW));
    assert_eq!(
        e.contact_id.as_deref(),
        Some("5b684483-2f39-4f37-a08c-000000000002")
    );
    assert!(
        e.instance_arn
            .unwrap()
            .starts_with("arn:aws:connect:us-east-1:")
    );
    // The same caller in E.164 and in national format is denied; another caller is not.
    for f in ["inbound-e164.json", "inbound-national.json"] {
        let r = handle_check(&t, &fixture(f), &p).await.unwrap();
        assert_eq!(r["Success"], "true", "{f}");
    }
    let r = handle_check(&t, &fixture("inbound-clean.json"), &p)
        .await
        .unwrap();
    assert_eq!(r["Success"], "false");
    // No number / a withheld number: a clear error result, and nothing written.
    for f in ["chat-no-number.json", "inbound-anonymous.json"] {
        let r = handle_add(&t, &fixture(f), &p, NOW).await.unwrap();
        assert_eq!(r["Success"], "false", "{f}");
        assert!(!r["Error"].is_empty());
        let r = handle_check(&t, &fixture(f), &p).await.unwrap();
        assert_eq!(r["Success"], "false", "{f}");
        assert!(r.contains_key("Error"));
    }
    assert_eq!(t.scan().await.unwrap().len(), 1);
}

#[tokio::test]
async fn handler_table_failure_is_an_error() {
    let moto = Moto::start();
    // No table: the check must fail (flow Error branch), not answer "false".
    let t = DynamoDenylist::new(moto.dynamodb(SOURCE), "NoSuchTable");
    let err = handle_check(&t, &fixture("inbound-e164.json"), &NumberPolicy::default())
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("ResourceNotFoundException"), "{err}");
}

#[tokio::test]
async fn entry_sync_against_moto_keeps_agent_flags() {
    let moto = Moto::start();
    let t = table(&moto, SOURCE).await;
    let owner = "connectgr.io/support/support-denylist";
    let p = NumberPolicy::default();
    handle_add(&t, &fixture("agent-flag-formatted.json"), &p, NOW)
        .await
        .unwrap();
    let declared: BTreeSet<String> = ["+14255550100", "+12065550123", "+12065550124"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let r = sync_entries(&t, &declared, owner, NOW).await.unwrap();
    assert_eq!(r.written, vec!["+12065550123", "+12065550124"]);
    assert_eq!(r.declared_elsewhere, vec!["+14255550100"]);
    assert_eq!(
        (r.counts.declared, r.counts.agent_flagged, r.counts.total),
        (2, 1, 3)
    );
    // An agent flags a declared number: it becomes agent-flagged and stays when undeclared.
    let mut ev = fixture("agent-flag-formatted.json");
    ev["Details"]["ContactData"]["CustomerEndpoint"]["Address"] = "+1 206 555 0124".into();
    handle_add(&t, &ev, &p, NOW).await.unwrap();
    let r = sync_entries(&t, &BTreeSet::new(), owner, NOW)
        .await
        .unwrap();
    assert_eq!(r.deleted, vec!["+12065550123"]);
    let left: Vec<String> = t
        .scan()
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.contact_number)
        .collect();
    assert_eq!(left, vec!["+12065550124", "+14255550100"]);
    // Conditional delete: a number that is no longer ours is kept even if asked.
    assert!(!t.delete_if_managed("+14255550100", owner).await.unwrap());
    // Conditional put: never clobbers an agent entry.
    let e = connect_gr::denylist::table::declared_entry("+14255550100", owner, NOW);
    assert!(!t.put_if_absent(&e).await.unwrap());
    assert_eq!(
        t.get("+14255550100").await.unwrap().unwrap().source,
        Source::Agent
    );
}

#[tokio::test]
async fn scan_paginates() {
    let moto = Moto::start();
    let t = table(&moto, SOURCE).await;
    // Items large enough that moto's 1 MB scan page limit splits the scan.
    let pad = "x".repeat(100_000);
    for i in 0..25 {
        let mut e =
            connect_gr::denylist::entry::Entry::bare(format!("+1206555{i:04}"), Source::Manual);
        e.added_by = Some(pad.clone());
        t.put_agent(&e).await.unwrap();
    }
    assert_eq!(t.scan().await.unwrap().len(), 25);
}

#[tokio::test]
async fn table_management_against_moto() {
    let moto = Moto::start();
    let src = DynamoDenylist::new(moto.dynamodb(SOURCE), TABLE);
    let rep = DynamoDenylist::new(moto.dynamodb(REPLICA), TABLE);
    // Pass 1: creates the table in the source region only.
    let obs = ensure_global_table(&src, Some(&rep)).await;
    assert_eq!(obs.actions, vec![format!("CreateTable {SOURCE}")]);
    assert!(!obs.ready());
    let info = src.describe_table().await.unwrap().unwrap();
    assert_eq!(info.hash_key.as_deref(), Some("ContactNumber"));
    assert_eq!(info.hash_key_type.as_deref(), Some("S"));
    assert_eq!(info.billing_mode.as_deref(), Some("PAY_PER_REQUEST"));
    assert_eq!(info.stream_view_type.as_deref(), Some("NEW_AND_OLD_IMAGES"));
    assert!(rep.describe_table().await.unwrap().is_none());
    // Pass 2: ACTIVE; asks for the replica (moto answers 200 and creates nothing).
    let obs = ensure_global_table(&src, Some(&rep)).await;
    assert!(obs.errors.is_empty(), "{:?}", obs.errors);
    assert_eq!(
        obs.actions,
        vec![format!(
            "UpdateTable {SOURCE} ReplicaUpdates Create {REPLICA}"
        )]
    );
    assert!(obs.source.state.is_ready());
    assert!(!obs.ready());
}

// ---------------------------------------------------------------------------------------------
// Replica statuses moto cannot show: moto accepts `UpdateTable ReplicaUpdates` but never lists a
// replica. `Scripted` forwards everything to moto and replaces `Replicas` in `DescribeTable`
// with a scripted status, recording the calls made.

use connect_gr::denylist::entry::Entry;
use connect_gr::denylist::error::DenylistError;
use connect_gr::denylist::lambda_assoc::LambdaAssociations;
use connect_gr::denylist::table::{ReplicaInfo, TableInfo, TableState};
use connect_gr::denylist::{DenylistClients, DenylistInput, LambdaInput, reconcile_denylist};
use parking_lot::Mutex;

struct Scripted {
    inner: DynamoDenylist,
    replica: Mutex<Option<(String, String, Option<String>)>>,
    calls: Mutex<Vec<String>>,
}

impl Scripted {
    fn new(inner: DynamoDenylist) -> Self {
        Self {
            inner,
            replica: Mutex::new(None),
            calls: Mutex::new(Vec::new()),
        }
    }
    fn set_replica(&self, region: &str, status: &str, description: Option<&str>) {
        *self.replica.lock() = Some((region.into(), status.into(), description.map(Into::into)));
    }
}

impl TableAdmin for Scripted {
    fn region(&self) -> &str {
        self.inner.region()
    }
    fn table_name(&self) -> &str {
        TableAdmin::table_name(&self.inner)
    }
    async fn describe_table(&self) -> Result<Option<TableInfo>, DenylistError> {
        self.calls.lock().push("DescribeTable".into());
        let mut info = self.inner.describe_table().await?;
        if let (Some(i), Some((region, status, description))) =
            (&mut info, self.replica.lock().clone())
        {
            i.replicas = vec![ReplicaInfo {
                region,
                status,
                status_description: description,
            }];
        }
        Ok(info)
    }
    async fn create_table(&self) -> Result<(), DenylistError> {
        self.calls.lock().push("CreateTable".into());
        self.inner.create_table().await
    }
    async fn enable_stream(&self) -> Result<(), DenylistError> {
        self.calls
            .lock()
            .push("UpdateTable StreamSpecification".into());
        self.inner.enable_stream().await
    }
    async fn create_replica(&self, region: &str) -> Result<(), DenylistError> {
        self.calls
            .lock()
            .push(format!("UpdateTable ReplicaUpdates Create {region}"));
        self.inner.create_replica(region).await
    }
}

impl DenylistStore for Scripted {
    async fn get(&self, n: &str) -> Result<Option<Entry>, DenylistError> {
        self.inner.get(n).await
    }
    async fn put_agent(&self, e: &Entry) -> Result<(), DenylistError> {
        self.inner.put_agent(e).await
    }
    async fn put_if_absent(&self, e: &Entry) -> Result<bool, DenylistError> {
        self.inner.put_if_absent(e).await
    }
    async fn delete_if_managed(&self, n: &str, o: &str) -> Result<bool, DenylistError> {
        self.inner.delete_if_managed(n, o).await
    }
    async fn delete_unless_agent(&self, n: &str, f: bool) -> Result<bool, DenylistError> {
        self.inner.delete_unless_agent(n, f).await
    }
    async fn scan(&self) -> Result<Vec<Entry>, DenylistError> {
        self.inner.scan().await
    }
}

/// Connect's Lambda association in one region (the emulator implements the real API; this fake
/// stands in until the end-to-end test uses it).
struct FakeConnect {
    region: String,
    associated: Mutex<Vec<String>>,
}

impl LambdaAssociations for FakeConnect {
    fn region(&self) -> &str {
        &self.region
    }
    async fn list_lambda_functions(&self, _: &str) -> Result<Vec<String>, DenylistError> {
        Ok(self.associated.lock().clone())
    }
    async fn associate_lambda_function(&self, _: &str, arn: &str) -> Result<(), DenylistError> {
        self.associated.lock().push(arn.into());
        Ok(())
    }
}

#[tokio::test]
async fn reconcile_against_moto_with_scripted_replica_statuses() {
    let moto = Moto::start();
    let clients = DenylistClients {
        source: Scripted::new(DynamoDenylist::new(moto.dynamodb(SOURCE), TABLE)),
        replica: Some(Scripted::new(DynamoDenylist::new(
            moto.dynamodb(REPLICA),
            TABLE,
        ))),
        connect: vec![
            FakeConnect {
                region: SOURCE.into(),
                associated: Mutex::new(vec![]),
            },
            FakeConnect {
                region: REPLICA.into(),
                associated: Mutex::new(vec![]),
            },
        ],
    };
    let mut input = DenylistInput {
        declared: vec!["+1 (206) 555-0123".into(), "2065550124".into()],
        owner: "connectgr.io/support/support-denylist".into(),
        number_policy: NumberPolicy::default(),
        lambda: Some(LambdaInput {
            instance_id: "arn:aws:connect:us-west-2:123456789012:instance/c8c0e68d".into(),
            account_id: String::new(),
            function_names: vec!["denylist-add".into(), "denylist-check".into()],
        }),
        now: NOW.into(),
    };
    // Pass 1: CreateTable; functions associated in both regions with each region's ARN.
    let obs = reconcile_denylist(&input, &clients).await;
    assert_eq!(obs.table.actions, vec![format!("CreateTable {SOURCE}")]);
    assert!(!obs.ready && obs.waiting(), "{obs:?}");
    for (c, region) in clients.connect.iter().zip([SOURCE, REPLICA]) {
        assert_eq!(
            c.associated.lock().clone(),
            vec![
                format!("arn:aws:lambda:{region}:123456789012:function:denylist-add"),
                format!("arn:aws:lambda:{region}:123456789012:function:denylist-check"),
            ]
        );
    }
    // Pass 2: the table is ACTIVE (moto): entries written, replica requested.
    let obs = reconcile_denylist(&input, &clients).await;
    assert_eq!(
        clients.source.calls.lock().last().unwrap(),
        &format!("UpdateTable ReplicaUpdates Create {REPLICA}")
    );
    assert_eq!(obs.managed_numbers, vec!["+12065550123", "+12065550124"]);
    assert_eq!(obs.counts.unwrap().declared, 2);
    assert!(!obs.ready);
    // Each replica status, as DescribeTable would show it.
    let calls_before = clients.source.calls.lock().len();
    for status in ["CREATING", "UPDATING"] {
        clients.source.set_replica(REPLICA, status, None);
        let obs = reconcile_denylist(&input, &clients).await;
        assert_eq!(
            obs.table.replica.as_ref().unwrap().state,
            TableState::Waiting(status.into())
        );
        assert!(obs.waiting() && !obs.ready);
        assert!(
            obs.table.actions.is_empty(),
            "no second replica request while {status}"
        );
    }
    clients.source.set_replica(REPLICA, "ACTIVE", None);
    let obs = reconcile_denylist(&input, &clients).await;
    assert!(obs.ready, "{obs:?}");
    assert!(obs.errors.is_empty());
    for (status, desc) in [
        ("CREATION_FAILED", Some("KMS key not found")),
        ("INACCESSIBLE_ENCRYPTION_CREDENTIALS", None),
        ("REGION_DISABLED", None),
        ("REPLICATION_NOT_AUTHORIZED", None),
    ] {
        clients.source.set_replica(REPLICA, status, desc);
        let obs = reconcile_denylist(&input, &clients).await;
        assert!(obs.stalled() && !obs.ready, "{status}");
        let e = obs
            .errors
            .iter()
            .find(|e| e.operation == "ReplicaStatus")
            .unwrap();
        assert!(e.message.contains(status), "{e}");
        if let Some(d) = desc {
            assert!(e.message.contains(d));
        }
    }
    assert!(
        clients.source.calls.lock()[calls_before..]
            .iter()
            .all(|c| c == "DescribeTable" || c.starts_with("Scan")),
        "only reads while the replica exists: {:?}",
        &clients.source.calls.lock()[calls_before..]
    );
    // An invalid declared number: terminal, and the entry sync does not run (nothing deleted).
    clients.source.set_replica(REPLICA, "ACTIVE", None);
    input.declared = vec!["not a number".into()];
    let obs = reconcile_denylist(&input, &clients).await;
    assert!(obs.stalled());
    assert_eq!(obs.invalid_numbers.len(), 1);
    assert_eq!(clients.source.scan().await.unwrap().len(), 2);
    // Removing a declared number removes only that one.
    input.declared = vec!["+12065550123".into()];
    let obs = reconcile_denylist(&input, &clients).await;
    assert!(obs.ready);
    assert_eq!(obs.managed_numbers, vec!["+12065550123"]);
}

#[tokio::test]
async fn standalone_table_in_replica_region_is_a_conflict() {
    let moto = Moto::start();
    let src = DynamoDenylist::new(moto.dynamodb(SOURCE), TABLE);
    let rep = DynamoDenylist::new(moto.dynamodb(REPLICA), TABLE);
    // The seed document followed in both regions: two independent tables.
    src.create_table().await.unwrap();
    rep.create_table().await.unwrap();
    let obs = ensure_global_table(&src, Some(&rep)).await;
    assert!(obs.actions.is_empty());
    assert!(matches!(
        obs.replica.unwrap().state,
        TableState::Failed { .. }
    ));
    assert!(obs.errors[0].is_terminal());
    assert!(
        obs.errors[0].message.contains("already exists"),
        "{}",
        obs.errors[0]
    );
}

// ---------------------------------------------------------------------------------------------
// The CLI end to end against moto.

fn cli(moto: &Moto, args: &[&str]) -> (bool, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_connect-gr"))
        .arg("denylist")
        .args(args)
        .args(["--table", TABLE, "--region", SOURCE])
        .envs(moto.env())
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test]
async fn cli_list_add_remove() {
    let moto = Moto::start();
    let t = table(&moto, SOURCE).await;
    handle_add(
        &t,
        &fixture("agent-flag-formatted.json"),
        &NumberPolicy::default(),
        NOW,
    )
    .await
    .unwrap();
    let (ok, out, err) = cli(
        &moto,
        &[
            "add",
            "(206) 555-0123",
            "+44 20 7946 0958",
            "--added-by",
            "bob",
        ],
    );
    assert!(ok, "{out}{err}");
    assert!(
        out.contains("added +12065550123") && out.contains("added +442079460958"),
        "{out}"
    );
    // Adding an agent-flagged number leaves it agent-flagged.
    let (ok, out, _) = cli(&moto, &["add", "+1 425 555 0100"]);
    assert!(ok && out.contains("already denied (source agent)"), "{out}");
    let (ok, out, _) = cli(&moto, &["list"]);
    assert!(ok);
    assert!(out.contains("NUMBER") && out.contains("3 entries"), "{out}");
    let line = out.lines().find(|l| l.starts_with("+12065550123")).unwrap();
    assert!(line.contains("manual") && line.contains("bob"), "{line}");
    let line = out.lines().find(|l| l.starts_with("+14255550100")).unwrap();
    assert!(
        line.contains("agent") && line.contains("alice") && line.contains(NOW),
        "{line}"
    );
    // Malformed input: nothing changes.
    let (ok, _, err) = cli(&moto, &["add", "+1206555012x", "+12065550199"]);
    assert!(!ok && err.contains("unexpected character"), "{err}");
    assert!(t.get("+12065550199").await.unwrap().is_none());
    // Remove: agent flag refused without --force.
    let (ok, out, err) = cli(&moto, &["remove", "425-555-0100", "+12065550123"]);
    assert!(!ok, "{out}");
    assert!(
        out.contains("refused: +14255550100") && err.contains("kept"),
        "{out}{err}"
    );
    assert!(out.contains("removed +12065550123"));
    assert!(t.get("+14255550100").await.unwrap().is_some());
    let (ok, out, _) = cli(&moto, &["remove", "--force", "+14255550100"]);
    assert!(
        ok && out.contains("removed +14255550100 (source agent)"),
        "{out}"
    );
    let (ok, out, _) = cli(&moto, &["list", "--json"]);
    assert!(ok);
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 1);
    assert_eq!(v[0]["contact_number"], "+442079460958");
}

// ---------------------------------------------------------------------------------------------
// A built handler in a local Lambda runtime: cargo-lambda's Runtime API emulator
// (`cargo lambda watch --only-lambda-apis`) runs the bootstrap binary that cargo built for this
// test binary, and `cargo lambda invoke` sends recorded events to it.

struct Killed(std::process::Child);
impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn invoke(port: u16, event: &str) -> Value {
    // `timeout`: a function that died would leave the invoke waiting forever.
    let out = std::process::Command::new("timeout")
        .arg("60")
        .arg(crate::support::moto::venv_bin("cargo-lambda"))
        .args([
            "lambda",
            "invoke",
            "-A",
            "127.0.0.1",
            "-P",
            &port.to_string(),
            "--data-file",
        ])
        .arg(
            repo_root()
                .join("tests/fixtures/connect-events")
                .join(event),
        )
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)))
}

#[tokio::test]
async fn built_handlers_in_cargo_lambda_runtime() {
    let moto = Moto::start();
    let _t = table(&moto, "us-east-1").await;
    let venv = repo_root().join(".tools/venv/bin");
    let path = format!(
        "{}:{}",
        venv.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    for (bin, event, expect) in [
        (
            env!("CARGO_BIN_EXE_denylist-check"),
            "inbound-e164.json",
            "false",
        ),
        (
            env!("CARGO_BIN_EXE_denylist-add"),
            "agent-flag-formatted.json",
            "true",
        ),
        (
            env!("CARGO_BIN_EXE_denylist-check"),
            "inbound-e164.json",
            "true",
        ),
        (
            env!("CARGO_BIN_EXE_denylist-check"),
            "chat-no-number.json",
            "false",
        ),
    ] {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let _watch = Killed(
            std::process::Command::new(venv.join("cargo-lambda"))
                .args([
                    "lambda",
                    "watch",
                    "--only-lambda-apis",
                    "-A",
                    "127.0.0.1",
                    "-P",
                    &port.to_string(),
                ])
                .current_dir(repo_root())
                .env("PATH", &path)
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .unwrap(),
        );
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                std::time::Instant::now() < deadline,
                "cargo lambda watch did not start"
            );
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        let _fun = Killed(
            std::process::Command::new(bin)
                .envs(moto.env())
                .env("AWS_REGION", "us-east-1")
                .env("AWS_LAMBDA_FUNCTION_NAME", "_")
                .env("AWS_LAMBDA_FUNCTION_VERSION", "1")
                .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
                .env(
                    "AWS_LAMBDA_RUNTIME_API",
                    format!("http://127.0.0.1:{port}/.rt"),
                )
                .env("TABLE_NAME", TABLE)
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .unwrap(),
        );
        let v = invoke(port, event);
        assert_eq!(v["Success"], expect, "{bin} {event}: {v}");
    }
}
