//! End to end, one writer across two clusters (issue 21): two API servers (the shared test bed
//! and one of its own), moto as the DynamoDB of the writer lease, one emulator, and a controller
//! per cluster on the same manifests, each with its own `--cluster-name` and AWS access key id,
//! so the emulator's call log (`accessKeyId`) tells which controller wrote.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use connect_gr::connect::fence::is_write;

use crate::e2e::{Proc, apply, connect, controller_command, eventually, group_arn, jsonpath};
use crate::e2e_gates::{east_split, split};
use crate::support::moto::Moto;
use crate::support::testbed::TestBed;

const TABLE: &str = "connect-gr-writer";
const LEASE: &str = "10s";

struct Cluster<'a> {
    bed: &'a TestBed,
    name: &'static str,
    key: &'static str,
}

fn lease_controller(c: &Cluster, ns: &str, emu: &str, moto: &Moto, log: &str) -> Proc {
    Proc(
        controller_command(c.bed, ns, emu, log)
            .args(["--metrics-addr", "127.0.0.1:0"])
            .args(["--cluster-name", c.name, "--writer-lease-table", TABLE])
            .args(["--writer-lease-duration", LEASE])
            .env("AWS_ACCESS_KEY_ID", c.key)
            .env("AWS_ENDPOINT_URL_DYNAMODB", &moto.endpoint)
            .env("CONNECT_GR_RESYNC_INTERVAL", "3s")
            .env("RUST_LOG", "info,connect_gr=debug")
            .spawn()
            .expect("spawn controller"),
    )
}

/// The emulator's call log.
fn calls(url: &str) -> Vec<serde_json::Value> {
    let addr = url.trim_start_matches("http://");
    let (_, _, body) =
        crate::support::emulator::http_request(addr, "GET", "/_emulator/calls", &[], "");
    serde_json::from_str(&body).unwrap()
}

/// The access key ids of the writes in the call log from entry `from` on.
fn writers(url: &str, from: usize) -> BTreeSet<String> {
    calls(url)
        .iter()
        .skip(from)
        .filter(|c| is_write(c["operation"].as_str().unwrap_or("")))
        .map(|c| c["accessKeyId"].as_str().unwrap_or("unsigned").to_string())
        .collect()
}

/// Writes by `key` in the call log from entry `from` on.
fn writes_by(url: &str, from: usize, key: &str) -> usize {
    calls(url)
        .iter()
        .skip(from)
        .filter(|c| is_write(c["operation"].as_str().unwrap_or("")) && c["accessKeyId"] == key)
        .count()
}

fn writer_of(bed: &TestBed, ns: &str) -> String {
    jsonpath(bed, ns, "tdist/split", "{.status.writer.cluster}")
}

/// The second cluster: an API server of its own with the CRDs and the same namespace.
fn second_cluster(ns: &str) -> TestBed {
    let bed = TestBed::isolated("writer-lease");
    let crds = crate::support::testbed::repo_root().join("crds");
    let crds = crds.to_str().unwrap();
    bed.kubectl_ok(&["apply", "--server-side", "-f", crds]);
    bed.kubectl_ok(&[
        "wait",
        "--for=condition=Established",
        "--timeout=60s",
        "-f",
        crds,
    ]);
    if bed.has_core_apis() {
        bed.kubectl_ok(&["create", "namespace", ns]);
    }
    bed
}

fn manifests(east: i32) -> String {
    format!(
        "{}---\n{}---\n{}",
        crate::e2e::replica_yaml(),
        crate::e2e::group_yaml("overflow", "Retain"),
        split(east, "    stepPercent: 100\n")
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_lease_holder_writes_and_the_survivor_writes_a_failover_after_the_holder_is_killed()
 {
    let a = TestBed::shared();
    let ns = a.namespace("e2e-writer");
    let b = second_cluster(&ns);
    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    let emu = crate::e2e_gates::emulator(&dir);
    let east = Cluster {
        bed: a,
        name: "east",
        key: "AKIDEAST",
    };
    let west = Cluster {
        bed: &b,
        name: "west",
        key: "AKIDWEST",
    };
    let mut procs = [
        Some(lease_controller(
            &east,
            &ns,
            &emu.url,
            &moto,
            "writer-east.log",
        )),
        Some(lease_controller(
            &west,
            &ns,
            &emu.url,
            &moto,
            "writer-west.log",
        )),
    ];
    for c in [&east, &west] {
        apply(c.bed, &ns, &manifests(0));
    }
    // Both clusters report the same holder and Ready (the standby from its reads of Connect).
    eventually(
        Duration::from_secs(120),
        "both clusters Ready, naming the same writer",
        || async {
            let (wa, wb) = (writer_of(a, &ns), writer_of(&b, &ns));
            let ready = |bed: &TestBed| {
                jsonpath(
                    bed,
                    &ns,
                    "tdist/split",
                    "{.status.conditions[?(@.type==\"Ready\")].status}",
                ) == "True"
            };
            !wa.is_empty() && wa == wb && ready(a) && ready(&b)
        },
    )
    .await;
    let holder = writer_of(a, &ns);
    let (winner, loser, wi) = if holder == "east" {
        (&east, &west, 0)
    } else {
        (&west, &east, 1)
    };
    assert_eq!(
        writers(&emu.url, 0),
        BTreeSet::from([winner.key.to_string()]),
        "only the holder's access key appears among the writes"
    );
    let arn = group_arn(a, &ns, "overflow").await;
    let c = connect(&emu.url, "us-west-2").await;

    // SIGKILL the holder; the failover is applied in the other cluster only.
    let mark = calls(&emu.url).len();
    procs[wi].take().unwrap().0.kill().expect("SIGKILL");
    let killed = Instant::now();
    apply(loser.bed, &ns, &manifests(100));
    eventually(
        Duration::from_secs(30),
        "the failover in Connect within 30 s of the holder's death (10 s lease)",
        || async { east_split(&c, &arn).await == Some((100, 100)) },
    )
    .await;
    eprintln!(
        "writer lease: failover in Connect {:.1}s after SIGKILL of the holder (lease {LEASE})",
        killed.elapsed().as_secs_f64()
    );
    assert_eq!(
        writers(&emu.url, mark),
        BTreeSet::from([loser.key.to_string()]),
        "after the kill, only the survivor writes"
    );

    // The old holder restarts with a stale spec (its cluster never saw the failover): it
    // reports the survivor as the writer and writes nothing.
    let mark = calls(&emu.url).len();
    let restarted = lease_controller(winner, &ns, &emu.url, &moto, "writer-restarted.log");
    eventually(
        Duration::from_secs(60),
        "the restarted old holder names the survivor and plans the stale split's writes",
        || async {
            writer_of(winner.bed, &ns) == loser.name
                && jsonpath(winner.bed, &ns, "tdist/split", "{.status.plan.total}")
                    .parse::<i32>()
                    .is_ok_and(|n| n > 0)
        },
    )
    .await;
    assert_eq!(
        writes_by(&emu.url, mark, winner.key),
        0,
        "a stale cluster without the lease writes nothing"
    );
    assert_eq!(east_split(&c, &arn).await, Some((100, 100)));

    // SIGTERM of the survivor: it releases the lease and the restarted cluster takes over at
    // once, well before a lease would have run out.
    let survivor = procs[1 - wi].take().unwrap();
    let term = Instant::now();
    let pid = survivor.0.id().to_string();
    assert!(
        std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    eventually(
        Duration::from_secs(8),
        "the other cluster holds the lease after a SIGTERM, before 10 s",
        || async { writer_of(winner.bed, &ns) == winner.name },
    )
    .await;
    eprintln!(
        "writer lease: handover after SIGTERM in {:.1}s",
        term.elapsed().as_secs_f64()
    );
    drop(survivor);
    drop(restarted);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_holder_cut_off_from_the_lease_table_stops_writing_within_the_fencing_bound() {
    let bed = TestBed::shared();
    let ns = bed.namespace("e2e-writer-cut");
    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    let emu = crate::e2e_gates::emulator(&dir);
    let east = Cluster {
        bed,
        name: "east",
        key: "AKIDEAST",
    };
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let metrics = format!("127.0.0.1:{port}");
    let _ctl = Proc(
        controller_command(bed, &ns, &emu.url, "writer-cut.log")
            .args(["--metrics-addr", &metrics])
            .args(["--cluster-name", "east", "--writer-lease-table", TABLE])
            .args(["--writer-lease-duration", LEASE])
            .env("AWS_ACCESS_KEY_ID", east.key)
            .env("AWS_ENDPOINT_URL_DYNAMODB", &moto.endpoint)
            .env("CONNECT_GR_RESYNC_INTERVAL", "3s")
            .spawn()
            .expect("spawn controller"),
    );
    let writer_gauge = || {
        let (_, _, body) =
            crate::support::emulator::http_request(&metrics, "GET", "/metrics", &[], "");
        body.lines()
            .find(|l| l.starts_with("connectgr_writer{cluster=\"east\"}"))
            .and_then(|l| l.split_whitespace().last())
            .map(str::to_string)
            .unwrap_or_default()
    };
    apply(bed, &ns, &manifests(0));
    eventually(
        Duration::from_secs(120),
        "Ready, written by the only cluster",
        || async {
            writer_of(bed, &ns) == "east"
                && jsonpath(
                    bed,
                    &ns,
                    "tdist/split",
                    "{.status.conditions[?(@.type==\"Ready\")].status}",
                ) == "True"
        },
    )
    .await;
    let arn = group_arn(bed, &ns, "overflow").await;
    let c = connect(&emu.url, "us-west-2").await;
    assert_eq!(writer_gauge(), "1");
    // The lease table goes away: the holder's right to write ends at most `lease - margin`
    // (8 s) after its last successful renewal, which was at most a third of the lease ago.
    drop(moto);
    let cut = Instant::now();
    eventually(
        Duration::from_secs(12),
        "connectgr_writer of the cut-off holder at 0 within the fencing bound (8 s after the last renewal)",
        || async { writer_gauge() == "0" },
    )
    .await;
    eprintln!(
        "writer lease: a holder cut off from the table stopped writing {:.1}s after the table went away (lease {LEASE})",
        cut.elapsed().as_secs_f64()
    );
    let mark = calls(&emu.url).len();
    apply(bed, &ns, &manifests(100));
    eventually(
        Duration::from_secs(60),
        "the split's writes planned, not sent",
        || async {
            jsonpath(bed, &ns, "tdist/split", "{.status.plan.total}")
                .parse::<i32>()
                .is_ok_and(|n| n > 0)
        },
    )
    .await;
    assert_eq!(
        writes_by(&emu.url, mark, east.key),
        0,
        "no write {:.1}s after the lease table went away",
        cut.elapsed().as_secs_f64()
    );
    assert_eq!(east_split(&c, &arn).await, Some((0, 0)));
}
