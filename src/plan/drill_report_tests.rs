use std::collections::BTreeMap;
use std::path::PathBuf;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use super::*;
use crate::api::common::ObjectRef;
use crate::api::failover_drill::{
    DrillPhase, DrillResult, DrillRun, DrillStep, DrillTarget, FailoverDrillSpec,
    FailoverDrillStatus,
};
use crate::api::rollout::GateStatus;

fn t(s: &str) -> Time {
    Time(s.parse().expect("RFC 3339"))
}

fn split(west: i32, east: i32) -> BTreeMap<String, i32> {
    BTreeMap::from([("us-west-2".into(), west), ("us-east-1".into(), east)])
}

fn gate(name: &str, result: &str, message: &str) -> GateStatus {
    GateStatus {
        name: name.into(),
        result: result.into(),
        message: message.into(),
        time: None,
    }
}

fn step(time: &str, phase: &str, split: &str, gates: Vec<GateStatus>) -> DrillStep {
    DrillStep {
        phase: phase.into(),
        time: t(time),
        split: Some(split.into()),
        gates,
        agents_available: Some(42),
        oldest_contact_age_seconds: Some(12),
    }
}

fn succeeded() -> DrillRun {
    DrillRun {
        id: "20261201T030000Z-schedule".into(),
        trigger: "schedule".into(),
        start: t("2026-12-01T03:00:00Z"),
        end: Some(t("2026-12-01T03:17:40Z")),
        result: Some(DrillResult::Succeeded),
        reason: "held T 0/100 A 0/100 for 900 s and reverted to T 60/40 A 60/40".into(),
        from: Some("T 60/40 A 60/40".into()),
        reverted_to: Some("T 60/40 A 60/40".into()),
        hold_start: Some(t("2026-12-01T03:01:20Z")),
        hold_end: Some(t("2026-12-01T03:16:20Z")),
        revert_start: Some(t("2026-12-01T03:16:20Z")),
        shift_seconds: Some(80),
        hold_seconds: Some(900),
        revert_seconds: Some(80),
        steps: vec![
            step(
                "2026-12-01T03:00:00Z",
                "Shifting",
                "T 40/60 A 40/60",
                vec![gate(
                    "queues-healthy",
                    "Pass",
                    "oldest contact 12 s <= 120 s",
                )],
            ),
            step(
                "2026-12-01T03:01:20Z",
                "Holding",
                "T 0/100 A 0/100",
                vec![gate(
                    "queues-healthy",
                    "Pass",
                    "oldest contact 12 s <= 120 s",
                )],
            ),
            step(
                "2026-12-01T03:16:20Z",
                "Reverting",
                "T 60/40 A 60/40",
                vec![],
            ),
        ],
    }
}

fn aborted() -> DrillRun {
    DrillRun {
        id: "20261124T030000Z-run-now".into(),
        trigger: "run-now".into(),
        start: t("2026-11-24T03:00:00Z"),
        end: Some(t("2026-11-24T03:06:10Z")),
        result: Some(DrillResult::Aborted),
        reason: "gate queues-healthy failed while holding: oldest contact 310 s > 120 s".into(),
        from: Some("T 60/40 A 60/40".into()),
        reverted_to: Some("T 60/40 A 60/40".into()),
        hold_start: Some(t("2026-11-24T03:01:20Z")),
        hold_end: Some(t("2026-11-24T03:16:20Z")),
        revert_start: Some(t("2026-11-24T03:04:50Z")),
        shift_seconds: Some(80),
        hold_seconds: Some(210),
        revert_seconds: Some(80),
        steps: vec![step(
            "2026-11-24T03:04:50Z",
            "Holding",
            "T 0/100 A 0/100",
            vec![gate(
                "queues-healthy",
                "Fail",
                "oldest contact 310 s > 120 s",
            )],
        )],
    }
}

/// A weekly drill of support/support-split with two runs kept: one Succeeded with steps and
/// gate results, one Aborted.
fn fixture() -> FailoverDrill {
    let mut d = FailoverDrill::new(
        "monthly",
        FailoverDrillSpec {
            distribution_ref: ObjectRef::new("support-split"),
            schedule: Some("0 3 * * 2".into()),
            time_zone: "UTC".into(),
            target: DrillTarget {
                telephony: Some(split(0, 100)),
                agents: Some(split(0, 100)),
            },
            hold_seconds: 900,
            rollout: None,
            abort_if: vec![],
            suspend: false,
            history_limit: 5,
        },
    );
    d.metadata.namespace = Some("support".into());
    d.status = Some(FailoverDrillStatus {
        phase: DrillPhase::Idle,
        next_run_time: Some(t("2026-12-08T03:00:00Z")),
        last_run: Some(succeeded()),
        runs: vec![succeeded(), aborted()],
        ..Default::default()
    });
    d
}

fn golden_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/drill-report.md")
}

/// The Markdown report of the fixture is the golden file, byte for byte (`UPDATE_GOLDEN=1`
/// rewrites it; review the diff).
#[test]
fn the_markdown_report_matches_the_golden_file() {
    let got = render(&fixture(), Format::Markdown);
    if std::env::var("UPDATE_GOLDEN").is_ok_and(|v| v == "1") {
        std::fs::write(golden_path(), &got).unwrap();
    }
    let want = std::fs::read_to_string(golden_path())
        .expect("tests/fixtures/drill-report.md (UPDATE_GOLDEN=1 writes it)");
    assert_eq!(
        got, want,
        "the Markdown report differs from tests/fixtures/drill-report.md (UPDATE_GOLDEN=1 rewrites it)"
    );
}

#[test]
fn the_markdown_report_is_headed_with_the_namespace_and_name() {
    let md = markdown(&fixture());
    assert!(
        md.starts_with("## Failover drill support/monthly\n"),
        "{md}"
    );
}

#[test]
fn the_markdown_summary_describes_the_last_run() {
    let md = markdown(&fixture());
    for want in [
        "| Result | Succeeded |",
        "| Start (UTC) | 2026-12-01 03:00:00 UTC |",
        "| End (UTC) | 2026-12-01 03:17:40 UTC |",
        "| Target split | telephony us-east-1 100 / us-west-2 0; agents us-east-1 100 / us-west-2 0 |",
        "| Hold | 900 s |",
        "| Schedule | 0 3 * * 2 (UTC) |",
        "| Shift seconds | 80 |",
    ] {
        assert!(md.contains(want), "{want}\n{md}");
    }
}

#[test]
fn the_markdown_steps_show_gate_results_agents_and_oldest_contact_age() {
    let md = markdown(&fixture());
    assert!(
        md.contains("| 2026-12-01 03:01:20 UTC | Holding | T 0/100 A 0/100 | queues-healthy: Pass (oldest contact 12 s <= 120 s) | 42 | 12 |"),
        "{md}"
    );
}

#[test]
fn the_markdown_history_lists_every_run_kept_newest_first() {
    let md = markdown(&fixture());
    let history = md.split("### History").nth(1).expect("a History section");
    let ok = history.find("| Succeeded |").expect("the succeeded run");
    let ab = history.find("| Aborted |").expect("the aborted run");
    assert!(ok < ab, "{history}");
}

#[test]
fn a_pipe_in_a_reason_does_not_break_the_markdown_table() {
    let mut d = fixture();
    d.status.as_mut().unwrap().last_run.as_mut().unwrap().reason = "a | b\nc".into();
    let md = markdown(&d);
    assert!(md.contains("| Reason | a \\| b c |"), "{md}");
}

#[test]
fn a_drill_that_never_ran_says_so_in_every_format() {
    let mut d = fixture();
    d.status = None;
    assert!(markdown(&d).contains("| Result | no run yet |"));
    assert!(
        text(&d).contains("last result:  no run yet"),
        "{}",
        text(&d)
    );
    let v: serde_json::Value = serde_json::from_str(&render(&d, Format::Json)).unwrap();
    assert_eq!(v["runs"], serde_json::json!([]));
    assert!(v["lastRun"].is_null());
}

#[test]
fn the_text_report_summarises_the_drill_and_tabulates_runs_and_steps() {
    let txt = text(&fixture());
    for want in [
        "FailoverDrill support/monthly",
        "distribution: support-split",
        "schedule:     0 3 * * 2 (UTC)",
        "next run:     2026-12-08 03:00:00 UTC",
        "phase:        Idle",
        "last result:  Succeeded (2026-12-01 03:00:00 UTC)",
        "Runs (newest first):",
        "Steps of run 20261201T030000Z-schedule:",
        "queues-healthy: Pass",
    ] {
        assert!(txt.contains(want), "{want}\n{txt}");
    }
    let aborted = txt
        .lines()
        .find(|l| l.contains("Aborted"))
        .expect("the aborted run");
    assert!(aborted.contains("2026-11-24 03:00:00 UTC"), "{aborted}");
    assert!(aborted.contains("gate queues-healthy failed"), "{aborted}");
}

#[test]
fn the_text_report_shows_a_run_in_progress() {
    let mut d = fixture();
    let s = d.status.as_mut().unwrap();
    s.phase = DrillPhase::Holding;
    s.current = Some(DrillRun {
        result: None,
        end: None,
        ..succeeded()
    });
    let txt = text(&d);
    assert!(txt.contains("phase:        Holding"), "{txt}");
    assert!(
        txt.contains("in progress:  run 20261201T030000Z-schedule since 2026-12-01 03:00:00 UTC"),
        "{txt}"
    );
}

#[test]
fn the_json_report_carries_name_namespace_and_the_status_runs() {
    let v: serde_json::Value = serde_json::from_str(&render(&fixture(), Format::Json)).unwrap();
    assert_eq!(v["name"], "monthly");
    assert_eq!(v["namespace"], "support");
    assert_eq!(v["lastRun"]["result"], "Succeeded");
    assert_eq!(v["runs"][1]["result"], "Aborted");
    assert_eq!(v["runs"][0]["steps"][1]["gates"][0]["result"], "Pass");
    assert_eq!(v["runs"][0]["shiftSeconds"], 80);
    assert_eq!(v["nextRunTime"], "2026-12-08T03:00:00Z");
}

#[test]
fn an_on_demand_suspended_drill_says_how_it_runs() {
    let mut d = fixture();
    d.spec.schedule = None;
    d.spec.suspend = true;
    assert!(
        text(&d).contains("on demand only (annotation connectgr.io/run-now), suspended"),
        "{}",
        text(&d)
    );
}

#[test]
fn formats_parse_from_their_names() {
    assert_eq!("text".parse::<Format>(), Ok(Format::Text));
    assert_eq!("json".parse::<Format>(), Ok(Format::Json));
    assert_eq!("markdown".parse::<Format>(), Ok(Format::Markdown));
    assert!("yaml".parse::<Format>().is_err());
}
