//! The report of a FailoverDrill (`connect-gr drill report`): its schedule, the last run with
//! its steps, and the runs kept in status, as text, JSON or Markdown (fit to paste in a change
//! ticket). Pure: the object in, text out; no clock reads (times are those recorded in status).

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::ResourceExt;
use serde_json::json;

use crate::api::failover_drill::{DrillRun, DrillStep, DrillTarget, FailoverDrill};

/// Output format of the report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Text,
    Json,
    Markdown,
}

impl std::str::FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "text" => Ok(Self::Text),
            "json" => Ok(Self::Json),
            "markdown" | "md" => Ok(Self::Markdown),
            other => Err(format!("unknown output {other:?}: text, json or markdown")),
        }
    }
}

pub fn render(drill: &FailoverDrill, format: Format) -> String {
    match format {
        Format::Text => text(drill),
        Format::Json => serde_json::to_string_pretty(&json_value(drill)).expect("JSON"),
        Format::Markdown => markdown(drill),
    }
}

/// `namespace/name` (name alone when the object has no namespace).
fn full_name(d: &FailoverDrill) -> String {
    match d.namespace() {
        Some(ns) => format!("{ns}/{}", d.name_any()),
        None => d.name_any(),
    }
}

/// A recorded time in UTC, to the second.
fn utc(t: &Time) -> String {
    t.0.strftime("%Y-%m-%d %H:%M:%S UTC").to_string()
}

fn utc_or_dash(t: Option<&Time>) -> String {
    t.map(utc).unwrap_or_else(|| "-".into())
}

fn secs(s: Option<i64>) -> String {
    s.map(|s| s.to_string()).unwrap_or_else(|| "-".into())
}

fn result(r: &DrillRun) -> &'static str {
    r.result.map(|r| r.as_str()).unwrap_or("InProgress")
}

/// "0 3 * * 2 (UTC)", or on demand only.
fn schedule(d: &FailoverDrill) -> String {
    let s = match &d.spec.schedule {
        Some(s) => format!("{s} ({})", d.spec.time_zone),
        None => "on demand only (annotation connectgr.io/run-now)".into(),
    };
    if d.spec.suspend {
        format!("{s}, suspended")
    } else {
        s
    }
}

/// "telephony us-east-1 100 / us-west-2 0; agents us-east-1 100 / us-west-2 0".
pub fn target(t: &DrillTarget) -> String {
    let channel = |name: &str, m: &Option<std::collections::BTreeMap<String, i32>>| {
        m.as_ref().map(|m| {
            let regions: Vec<String> = m.iter().map(|(r, p)| format!("{r} {p}")).collect();
            format!("{name} {}", regions.join(" / "))
        })
    };
    let parts: Vec<String> = [
        channel("telephony", &t.telephony),
        channel("agents", &t.agents),
    ]
    .into_iter()
    .flatten()
    .collect();
    if parts.is_empty() {
        "-".into()
    } else {
        parts.join("; ")
    }
}

/// The run the report is about: the last one that ended (else the newest kept).
fn last_run(d: &FailoverDrill) -> Option<&DrillRun> {
    let s = d.status.as_ref()?;
    s.last_run.as_ref().or_else(|| s.runs.first())
}

/// The runs kept, newest first (the last run included even if status.runs lacks it).
fn history(d: &FailoverDrill) -> Vec<&DrillRun> {
    let Some(s) = d.status.as_ref() else {
        return vec![];
    };
    let mut runs: Vec<&DrillRun> = s.runs.iter().collect();
    if let Some(l) = &s.last_run
        && !runs.iter().any(|r| r.id == l.id)
    {
        runs.insert(0, l);
    }
    runs
}

fn gates(step: &DrillStep) -> String {
    let g: Vec<String> = step
        .gates
        .iter()
        .map(|g| {
            if g.message.is_empty() {
                format!("{}: {}", g.name, g.result)
            } else {
                format!("{}: {} ({})", g.name, g.result, g.message)
            }
        })
        .collect();
    if g.is_empty() {
        "-".into()
    } else {
        g.join("; ")
    }
}

fn or_dash(s: &str) -> &str {
    if s.is_empty() { "-" } else { s }
}

// ---------------------------------------------------------------------------------------------
// Text

pub fn text(d: &FailoverDrill) -> String {
    let status = d.status.clone().unwrap_or_default();
    let mut out = format!("FailoverDrill {}\n", full_name(d));
    let line = |out: &mut String, k: &str, v: &str| out.push_str(&format!("  {k:<14}{v}\n"));
    line(&mut out, "distribution:", &d.spec.distribution_ref.name);
    line(&mut out, "target:", &target(&d.spec.target));
    line(&mut out, "hold:", &format!("{} s", d.spec.hold_seconds));
    line(&mut out, "schedule:", &schedule(d));
    line(
        &mut out,
        "next run:",
        &status
            .next_run_time
            .as_ref()
            .map(utc)
            .unwrap_or_else(|| "none scheduled".into()),
    );
    line(&mut out, "phase:", &format!("{:?}", status.phase));
    if let Some(c) = &status.current {
        line(
            &mut out,
            "in progress:",
            &format!("run {} since {}", c.id, utc(&c.start)),
        );
    }
    let last = match last_run(d) {
        Some(r) if r.reason.is_empty() => format!("{} ({})", result(r), utc(&r.start)),
        Some(r) => format!("{} ({}): {}", result(r), utc(&r.start), r.reason),
        None => "no run yet".into(),
    };
    line(&mut out, "last result:", &last);
    let runs = history(d);
    if runs.is_empty() {
        return out;
    }
    out.push_str("\nRuns (newest first):\n");
    out.push_str(&format!(
        "  {:<24} {:<10} {:>6} {:>6} {:>7}  {}\n",
        "START", "RESULT", "SHIFT", "HOLD", "REVERT", "REASON"
    ));
    for r in &runs {
        out.push_str(&format!(
            "  {:<24} {:<10} {:>6} {:>6} {:>7}  {}\n",
            utc(&r.start),
            result(r),
            secs(r.shift_seconds),
            secs(r.hold_seconds),
            secs(r.revert_seconds),
            or_dash(&r.reason)
        ));
    }
    if let Some(r) = last_run(d)
        && !r.steps.is_empty()
    {
        out.push_str(&format!("\nSteps of run {}:\n", r.id));
        out.push_str(&format!(
            "  {:<24} {:<10} {:<20} {:>6} {:>7}  {}\n",
            "TIME", "PHASE", "SPLIT", "AGENTS", "OLDEST", "GATES"
        ));
        for s in &r.steps {
            out.push_str(&format!(
                "  {:<24} {:<10} {:<20} {:>6} {:>7}  {}\n",
                utc(&s.time),
                s.phase,
                s.split.as_deref().unwrap_or("-"),
                secs(s.agents_available),
                secs(s.oldest_contact_age_seconds),
                gates(s)
            ));
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// JSON

pub fn json_value(d: &FailoverDrill) -> serde_json::Value {
    let status = d.status.clone().unwrap_or_default();
    json!({
        "name": d.name_any(),
        "namespace": d.namespace(),
        "distribution": d.spec.distribution_ref.name,
        "schedule": d.spec.schedule,
        "timeZone": d.spec.time_zone,
        "suspend": d.spec.suspend,
        "phase": status.phase,
        "nextRunTime": status.next_run_time,
        "current": status.current,
        "lastRun": status.last_run,
        "runs": status.runs,
    })
}

// ---------------------------------------------------------------------------------------------
// Markdown

/// A table cell: no pipes or line breaks that would break the table.
fn cell(s: &str) -> String {
    let s = s.replace('|', "\\|").replace(['\n', '\r'], " ");
    if s.is_empty() { "-".into() } else { s }
}

fn row(out: &mut String, cells: &[String]) {
    out.push_str("| ");
    out.push_str(
        &cells
            .iter()
            .map(|c| cell(c))
            .collect::<Vec<_>>()
            .join(" | "),
    );
    out.push_str(" |\n");
}

fn header(out: &mut String, names: &[&str]) {
    row(
        out,
        &names.iter().map(|n| n.to_string()).collect::<Vec<_>>(),
    );
    out.push_str(&format!("|{}\n", "---|".repeat(names.len())));
}

pub fn markdown(d: &FailoverDrill) -> String {
    let status = d.status.clone().unwrap_or_default();
    let last = last_run(d);
    let mut out = format!("## Failover drill {}\n\n", full_name(d));
    header(&mut out, &["Field", "Value"]);
    let mut kv = |k: &str, v: String| row(&mut out, &[k.to_string(), v]);
    kv(
        "Distribution",
        format!("TrafficDistribution {}", d.spec.distribution_ref.name),
    );
    kv("Target split", target(&d.spec.target));
    kv("Hold", format!("{} s", d.spec.hold_seconds));
    kv("Schedule", schedule(d));
    kv(
        "Next run",
        status
            .next_run_time
            .as_ref()
            .map(utc)
            .unwrap_or_else(|| "none scheduled".into()),
    );
    if let Some(c) = &status.current {
        kv(
            "In progress",
            format!("run {} since {} ({:?})", c.id, utc(&c.start), status.phase),
        );
    }
    match last {
        Some(r) => {
            kv("Run", format!("{} ({})", r.id, or_dash(&r.trigger)));
            kv("Result", result(r).to_string());
            kv("Start (UTC)", utc(&r.start));
            kv("End (UTC)", utc_or_dash(r.end.as_ref()));
            kv("Split before", r.from.clone().unwrap_or_default());
            kv("Reverted to", r.reverted_to.clone().unwrap_or_default());
            kv("Shift seconds", secs(r.shift_seconds));
            kv("Hold seconds", secs(r.hold_seconds));
            kv("Revert seconds", secs(r.revert_seconds));
            kv("Reason", r.reason.clone());
        }
        None => kv("Result", "no run yet".into()),
    }
    if let Some(r) = last
        && !r.steps.is_empty()
    {
        out.push_str(&format!("\n### Steps of run {}\n\n", r.id));
        header(
            &mut out,
            &[
                "Time (UTC)",
                "Phase",
                "Split",
                "Gates",
                "Agents available",
                "Oldest contact age (s)",
            ],
        );
        for s in &r.steps {
            row(
                &mut out,
                &[
                    utc(&s.time),
                    s.phase.clone(),
                    s.split.clone().unwrap_or_default(),
                    gates(s),
                    secs(s.agents_available),
                    secs(s.oldest_contact_age_seconds),
                ],
            );
        }
    }
    let runs = history(d);
    if !runs.is_empty() {
        out.push_str("\n### History\n\n");
        header(
            &mut out,
            &[
                "Run",
                "Start (UTC)",
                "End (UTC)",
                "Result",
                "Shift s",
                "Hold s",
                "Revert s",
                "Reason",
            ],
        );
        for r in runs {
            row(
                &mut out,
                &[
                    r.id.clone(),
                    utc(&r.start),
                    utc_or_dash(r.end.as_ref()),
                    result(r).to_string(),
                    secs(r.shift_seconds),
                    secs(r.hold_seconds),
                    secs(r.revert_seconds),
                    r.reason.clone(),
                ],
            );
        }
    }
    out
}

#[cfg(test)]
#[path = "drill_report_tests.rs"]
mod tests;
