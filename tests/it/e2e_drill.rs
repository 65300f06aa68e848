//! End to end, failover drills (issue 22) on the real API server, controller and emulator: a run
//! on demand shifts, holds, reverts by itself and reports Succeeded; a failing abort gate while
//! holding reverts early (Aborted); a distribution not at its declared split is Skipped and
//! nothing moves; `* * * * *` starts a run by itself; a controller killed while holding still
//! reverts on time after its restart, to the split declared at revert time.

use std::time::Duration;

use crate::e2e::{Proc, apply, connect, eventually, group_arn, jsonpath, wait_ready};
use crate::e2e_gates::{controller, east_split, emulator, presence, setup, split};
use crate::support::markers::{Mark, ok_count};
use crate::support::testbed::TestBed;

/// A drill of `tdist/split` to all of us-east-1 (telephony and agents).
fn drill_yaml(name: &str, extra: &str) -> String {
    format!(
        "apiVersion: connectgr.io/v1alpha1\nkind: FailoverDrill\nmetadata: {{name: {name}}}\nspec:\n  distributionRef: {{name: split}}\n  target:\n    telephony: {{us-west-2: 0, us-east-1: 100}}\n    agents: {{us-west-2: 0, us-east-1: 100}}\n{extra}"
    )
}

fn field(bed: &TestBed, ns: &str, what: &str, path: &str) -> String {
    jsonpath(bed, ns, what, &format!("{{{path}}}"))
}

fn run_now(bed: &TestBed, ns: &str, name: &str, value: &str) {
    let out = bed.kubectl(&[
        "annotate",
        "-n",
        ns,
        &format!("drill/{name}"),
        &format!("connectgr.io/run-now={value}"),
        "--overwrite",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

async fn wait_result(bed: &TestBed, ns: &str, name: &str, secs: u64) -> String {
    let what = format!("drill/{name}");
    eventually(
        Duration::from_secs(secs),
        &format!("{what} has a last run"),
        || async { !field(bed, ns, &what, ".status.lastRun.result").is_empty() },
    )
    .await;
    field(bed, ns, &what, ".status.lastRun.result")
}

/// A drill test's world: the emulator, a controller, replica + group + members + split ready.
struct Scenario {
    bed: &'static TestBed,
    ns: String,
    emu: crate::e2e::Emulator,
    ctl: Option<Proc>,
    arn: String,
    east: aws_sdk_connect::Client,
    _dir: tempfile::TempDir,
}

async fn scenario(prefix: &str) -> Scenario {
    let bed = TestBed::shared();
    let ns = bed.namespace(prefix);
    let dir = tempfile::tempdir().unwrap();
    let emu = emulator(&dir);
    let ctl = controller(bed, &ns, &emu.url);
    setup(bed, &ns, &emu.url).await;
    let arn = group_arn(bed, &ns, "overflow").await;
    let east = connect(&emu.url, "us-east-1").await;
    Scenario {
        bed,
        ns,
        emu,
        ctl: Some(ctl),
        arn,
        east,
        _dir: dir,
    }
}

impl Scenario {
    fn field(&self, what: &str, path: &str) -> String {
        field(self.bed, &self.ns, what, path)
    }
    /// Applies drill `name`, starts a run and waits until it holds.
    async fn run_until_holding(&self, name: &str, extra: &str) {
        apply(self.bed, &self.ns, &drill_yaml(name, extra));
        wait_ready(self.bed, &self.ns, &format!("drill/{name}"), "30s");
        run_now(self.bed, &self.ns, name, "1");
        eventually(Duration::from_secs(60), "the drill holds", || async {
            self.field(&format!("drill/{name}"), ".status.phase") == "Holding"
        })
        .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_drill_on_demand_shifts_holds_reverts_by_itself_and_reports_succeeded() {
    let s = scenario("e2e-drill-demand").await;
    let (bed, ns) = (s.bed, s.ns.as_str());
    let generation = s.field("tdist/split", ".metadata.generation");
    assert_eq!(
        east_split(&s.east, &s.arn).await,
        Some((0, 0)),
        "nothing moves before a run"
    );
    s.run_until_holding("monthly", "  holdSeconds: 8\n").await;
    assert_eq!(
        east_split(&s.east, &s.arn).await,
        Some((100, 100)),
        "held at the target"
    );
    assert_eq!(s.field("tdist/split", ".status.rollout.phase"), "Drill");
    let hold_end = s.field("drill/monthly", ".status.current.holdEnd");
    assert!(!hold_end.is_empty(), "the hold's end is recorded");

    assert_eq!(wait_result(bed, ns, "monthly", 90).await, "Succeeded");
    assert_eq!(east_split(&s.east, &s.arn).await, Some((0, 0)), "reverted");
    assert_eq!(s.field("drill/monthly", ".status.phase"), "Idle");
    let last = |f: &str| s.field("drill/monthly", &format!(".status.lastRun.{f}"));
    assert_eq!(last("trigger"), "run-now");
    assert!(last("holdSeconds").parse::<i64>().unwrap() >= 8);
    assert!(!last("shiftSeconds").is_empty() && !last("revertSeconds").is_empty());
    assert_eq!(last("revertedTo"), "T 100/0 A 100/0");
    assert_eq!(
        s.field("tdist/split", ".metadata.generation"),
        generation,
        "the distribution's spec is untouched"
    );
    wait_ready(bed, ns, "tdist/split", "30s");
    assert_eq!(s.field("tdist/split", ".status.rollout.phase"), "");
    if bed.has_core_apis() {
        eventually(Duration::from_secs(30), "Events published", || async {
            let ev = crate::e2e_drift::events(bed, ns, "monthly");
            let has = |r: &str| ev.iter().any(|(reason, _)| reason == r);
            has("DrillStarted") && has("DrillSucceeded")
        })
        .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_abort_gate_that_fails_while_holding_reverts_early_as_aborted() {
    let s = scenario("e2e-drill-abort").await;
    s.run_until_holding(
        "gated",
        "  holdSeconds: 600\n  abortIf:\n  - {name: enough-agents, agentsAvailable: {min: 1}}\n",
    )
    .await;
    presence(
        &s.emu.url,
        r#"{"region":"us-east-1","availableFraction":0}"#,
    );
    assert_eq!(wait_result(s.bed, &s.ns, "gated", 60).await, "Aborted");
    assert_eq!(
        east_split(&s.east, &s.arn).await,
        Some((0, 0)),
        "reverted early"
    );
    let reason = s.field("drill/gated", ".status.lastRun.reason");
    assert!(reason.contains("enough-agents"), "{reason}");
    let gates = s.field("drill/gated", ".status.lastRun.steps[*].gates[*].result");
    assert!(
        gates.contains("Fail"),
        "the failing gate is in the report: {gates}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_distribution_not_at_its_declared_split_is_skipped_and_nothing_moves() {
    let s = scenario("e2e-drill-skip").await;
    let (bed, ns, emu, arn) = (s.bed, s.ns.as_str(), &s.emu, &s.arn);
    apply(
        bed,
        ns,
        &format!(
            "{}  driftPolicy: Report\n",
            split(0, "    stepPercent: 100\n")
        ),
    );
    wait_ready(bed, ns, "tdist/split", "30s");
    let west = connect(&emu.url, "us-west-2").await;
    crate::e2e_drift::set_telephony_by_hand(&west, arn, 70).await;
    eventually(Duration::from_secs(30), "the drift is reported", || async {
        !field(bed, ns, "tdist/split", ".status.drift.firstSeenTime").is_empty()
    })
    .await;
    apply(bed, ns, &drill_yaml("monthly", "  holdSeconds: 60\n"));
    let mark = Mark::now(&emu.url);
    run_now(bed, ns, "monthly", "1");
    assert_eq!(wait_result(bed, ns, "monthly", 60).await, "Skipped");
    let reason = field(bed, ns, "drill/monthly", ".status.lastRun.reason");
    assert!(
        reason.contains("not Ready") || reason.contains("outside the controller"),
        "{reason}"
    );
    assert_eq!(
        ok_count(&mark.calls(), "UpdateTrafficDistribution"),
        0,
        "nothing moves"
    );
    assert_eq!(field(bed, ns, "drill/monthly", ".status.phase"), "Idle");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_every_minute_schedule_starts_a_run_by_itself() {
    let s = scenario("e2e-drill-cron").await;
    let (bed, ns) = (s.bed, s.ns.as_str());
    apply(
        bed,
        ns,
        &drill_yaml("often", "  schedule: \"* * * * *\"\n  holdSeconds: 2\n"),
    );
    eventually(Duration::from_secs(30), "the next run is shown", || async {
        !field(bed, ns, "drill/often", ".status.nextRunTime").is_empty()
    })
    .await;
    assert_eq!(wait_result(bed, ns, "often", 150).await, "Succeeded");
    assert_eq!(
        field(bed, ns, "drill/often", ".status.lastRun.trigger"),
        "schedule"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_controller_killed_while_holding_reverts_on_time_to_the_split_declared_then() {
    let mut s = scenario("e2e-drill-restart").await;
    let (bed, ns) = (s.bed, s.ns.clone());
    let ns = ns.as_str();
    s.run_until_holding("monthly", "  holdSeconds: 15\n").await;
    let hold_end: jiff::Timestamp = field(bed, ns, "drill/monthly", ".status.current.holdEnd")
        .parse()
        .unwrap();
    drop(s.ctl.take());
    // A change of the declared split in Git while the drill holds (and the controller is down).
    apply(bed, ns, &split(30, "    stepPercent: 100\n"));
    let _ctl: Proc = controller(bed, ns, &s.emu.url);
    assert_eq!(wait_result(bed, ns, "monthly", 90).await, "Succeeded");
    assert_eq!(
        east_split(&s.east, &s.arn).await,
        Some((30, 30)),
        "reverted to the new declared split"
    );
    let reverted: jiff::Timestamp = field(bed, ns, "drill/monthly", ".status.lastRun.revertStart")
        .parse()
        .unwrap();
    assert!(
        reverted >= hold_end,
        "the revert began at {reverted}, before the hold's end {hold_end}"
    );
    assert!(
        reverted.as_second() - hold_end.as_second() <= 30,
        "the revert began at {reverted}, long after the hold's end {hold_end}"
    );
    assert_eq!(
        field(bed, ns, "drill/monthly", ".status.lastRun.revertedTo"),
        "T 70/30 A 70/30"
    );
    wait_ready(bed, ns, "tdist/split", "30s");
}

/// The emulator's clock as it answers `GET /_emulator/clock` (epoch seconds).
fn emulator_now(url: &str) -> f64 {
    let addr = url.trim_start_matches("http://");
    let (status, _, body) =
        crate::support::emulator::http_request(addr, "GET", "/_emulator/clock", &[], "");
    assert_eq!(status, 200, "{body}");
    serde_json::from_str::<serde_json::Value>(&body).unwrap()["now"]
        .as_f64()
        .unwrap()
}

fn advance_emulator(url: &str, seconds: f64) {
    let addr = url.trim_start_matches("http://");
    let (status, _, body) = crate::support::emulator::http_request(
        addr,
        "POST",
        "/_emulator/clock",
        &[("content-type", "application/json")],
        &format!("{{\"advanceSeconds\": {seconds}}}"),
    );
    assert_eq!(status, 200, "{body}");
}

/// A weekly schedule is tested without waiting a week: the drill's schedule runs on Connect's
/// clock (its answers' `Date` header), and the emulator's is moved to the next run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_weekly_schedule_runs_when_the_emulators_clock_reaches_it() {
    let s = scenario("e2e-drill-week").await;
    apply(
        s.bed,
        &s.ns,
        &drill_yaml(
            "weekly",
            "  schedule: \"0 3 * * 2\"\n  timeZone: Europe/Berlin\n  holdSeconds: 2\n",
        ),
    );
    eventually(Duration::from_secs(30), "the next run is shown", || async {
        !s.field("drill/weekly", ".status.nextRunTime").is_empty()
    })
    .await;
    let next: jiff::Timestamp = s
        .field("drill/weekly", ".status.nextRunTime")
        .parse()
        .unwrap();
    let ahead = next.as_second() as f64 - emulator_now(&s.emu.url);
    assert!(ahead > 60.0, "the next run is {ahead} s away");
    advance_emulator(&s.emu.url, ahead + 2.0);
    assert_eq!(wait_result(s.bed, &s.ns, "weekly", 180).await, "Succeeded");
    assert_eq!(
        s.field("drill/weekly", ".status.lastRun.trigger"),
        "schedule"
    );
    let started: jiff::Timestamp = s
        .field("drill/weekly", ".status.lastRun.start")
        .parse()
        .unwrap();
    assert!(started >= next, "started at {started}, before {next}");
}
