//! What `connect-gr plan` prints: the writes a pass would make, grouped and counted (5,000
//! associations are one line, not 5,000), and where each object stands; as text, JSON or
//! Markdown (fit for a pull-request comment). Pure: input in, text out.

use std::collections::BTreeMap;

use serde::Serialize;

/// How many items of a group are named before "… N more".
const NAMED: usize = 3;

/// One object's standing after the planned pass.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ObjectLine {
    pub kind: String,
    pub name: String,
    /// Ready | Progressing | Stalled
    pub state: String,
    pub reason: String,
    pub message: String,
}

/// Writes of one operation on one target in one region.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    pub region: String,
    pub operation: String,
    /// The resource the calls act on (a group ARN, an instance), when they share one.
    pub target: String,
    pub count: usize,
    /// The first few items (users, numbers, details).
    pub items: Vec<String>,
}

/// A read of live Connect that failed: what depends on it is unknown, not "none".
pub use crate::connect::FailedRead;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    pub changes: Vec<Change>,
    pub calls: usize,
    pub objects: Vec<ObjectLine>,
    /// What the change waits for in Connect: replication, group creation, quota time.
    pub waits: Vec<String>,
    /// Reads of live Connect that failed: the plan may understate the change (exit code 1).
    pub failed_reads: Vec<FailedRead>,
}

impl Report {
    /// `writes` as a DryRun records them: `[region] Operation rest`.
    pub fn new(writes: &[String], objects: Vec<ObjectLine>) -> Self {
        let mut groups: BTreeMap<(String, String, String), Vec<String>> = BTreeMap::new();
        for w in writes {
            let (region, rest) = match w.strip_prefix('[').and_then(|r| r.split_once("] ")) {
                Some((region, rest)) => (region.to_string(), rest),
                None => (String::new(), w.as_str()),
            };
            let (op, detail) = rest.split_once(' ').unwrap_or((rest, ""));
            // Per-user calls share their group: `GROUP user=ID`.
            let (target, item) = match detail.split_once(" user=") {
                Some((group, user)) => (group.to_string(), user.to_string()),
                None => (String::new(), detail.to_string()),
            };
            groups
                .entry((region, op.to_string(), target))
                .or_default()
                .push(item);
        }
        let changes = groups
            .into_iter()
            .map(|((region, operation, target), mut items)| {
                items.sort();
                ((region, operation, target), items)
            })
            .map(|((region, operation, target), items)| Change {
                region,
                operation,
                target,
                count: items.len(),
                items: items.into_iter().take(NAMED).collect(),
            })
            .collect();
        Self {
            changes,
            calls: writes.len(),
            objects,
            waits: Vec::new(),
            failed_reads: Vec::new(),
        }
    }

    pub fn with_failed_reads(mut self, failed: Vec<FailedRead>) -> Self {
        self.failed_reads = failed;
        self
    }

    /// Whether a read the plan needs failed (the plan is then incomplete: exit code 1).
    pub fn reads_failed(&self) -> bool {
        !self.failed_reads.is_empty()
    }

    fn failed_text(&self) -> String {
        let mut out = format!(
            "\nReads that failed ({}): the plan may understate the change\n",
            self.failed_reads.len()
        );
        for f in &self.failed_reads {
            out.push_str(&format!("  [{}] {}: {}\n", f.region, f.operation, f.error));
        }
        out
    }

    fn failed_markdown(&self) -> String {
        let mut out = format!(
            "\n**Reads that failed** ({}): the plan may understate the change.\n\n| Region | Operation | Error |\n|---|---|---|\n",
            self.failed_reads.len()
        );
        for f in &self.failed_reads {
            out.push_str(&format!(
                "| {} | `{}` | {} |\n",
                f.region,
                f.operation,
                f.error.replace('|', "\\|")
            ));
        }
        out
    }

    pub fn with_waits(mut self, waits: Vec<String>) -> Self {
        self.waits = waits;
        self
    }

    pub fn has_changes(&self) -> bool {
        self.calls > 0
    }

    fn items_text(c: &Change) -> String {
        let mut s = c.items.join(", ");
        if c.count > c.items.len() {
            s.push_str(&format!(", … {} more", c.count - c.items.len()));
        }
        s
    }

    pub fn text(&self) -> String {
        let mut out = String::new();
        if self.reads_failed() {
            out.push_str(&self.failed_text());
            out.push('\n');
        }
        for o in &self.objects {
            out.push_str(&format!(
                "  {:<25} {:<22} {:<12} {}\n",
                o.kind,
                o.name,
                if o.state == "Ready" {
                    "Ready"
                } else {
                    &o.reason
                },
                o.message
            ));
        }
        if !self.has_changes() {
            out.push_str(
                "\nNo change: Connect already matches (or every resource waits for another).\n",
            );
            return out;
        }
        out.push_str(&format!(
            "\nCalls the controller would make ({}):\n",
            self.calls
        ));
        for c in &self.changes {
            let target = if c.target.is_empty() {
                String::new()
            } else {
                format!(" {}", c.target)
            };
            if c.count == 1 && c.target.is_empty() {
                out.push_str(&format!(
                    "  [{}] {} {}\n",
                    c.region, c.operation, c.items[0]
                ));
            } else {
                out.push_str(&format!(
                    "  [{}] {}{target} ×{}: {}\n",
                    c.region,
                    c.operation,
                    c.count,
                    Self::items_text(c)
                ));
            }
        }
        if !self.waits.is_empty() {
            out.push_str("\nWaits:\n");
            for w in &self.waits {
                out.push_str(&format!("  {w}\n"));
            }
        }
        out
    }

    pub fn json(&self) -> String {
        let mut v = serde_json::to_value(self).expect("a report serialises");
        v["changed"] = serde_json::Value::Bool(self.has_changes());
        serde_json::to_string_pretty(&v).expect("JSON")
    }

    pub fn markdown(&self) -> String {
        let mut out = String::from("### connect-gr plan\n\n");
        if self.reads_failed() {
            out.push_str(self.failed_markdown().trim_start());
            out.push('\n');
        }
        if self.has_changes() {
            out.push_str(&format!(
                "**{} call(s)** to Connect would be made.\n\n",
                self.calls
            ));
            out.push_str(
                "| Region | Operation | Target | Count | Items |\n|---|---|---|---:|---|\n",
            );
            for c in &self.changes {
                out.push_str(&format!(
                    "| {} | `{}` | {} | {} | {} |\n",
                    c.region,
                    c.operation,
                    if c.target.is_empty() {
                        "–".to_string()
                    } else {
                        format!("`{}`", c.target)
                    },
                    c.count,
                    Self::items_text(c).replace('|', "\\|")
                ));
            }
        } else {
            out.push_str("**No change**: Connect already matches the manifests.\n");
        }
        if !self.waits.is_empty() {
            out.push_str("\n**Waits**\n\n");
            for w in &self.waits {
                out.push_str(&format!("- {w}\n"));
            }
        }
        out.push_str("\n| Kind | Name | State | Reason | Message |\n|---|---|---|---|---|\n");
        for o in &self.objects {
            out.push_str(&format!(
                "| {} | {} | {} | {} | {} |\n",
                o.kind,
                o.name,
                o.state,
                o.reason,
                o.message.replace('|', "\\|")
            ));
        }
        out
    }
}

/// What a list of writes (as [`Report::new`] takes them) waits for in Connect: replication before
/// groups (G1), group creation (G2), and the quota time of bulk calls beyond their burst (Q1), from
/// `quota(operation) = (rate per second, burst)`.
pub fn waits(writes: &[String], quota: impl Fn(&str) -> (f64, f64)) -> Vec<String> {
    let mut counts: BTreeMap<(String, String), usize> = BTreeMap::new();
    for w in writes {
        let (region, rest) = match w.strip_prefix('[').and_then(|r| r.split_once("] ")) {
            Some((region, rest)) => (region.to_string(), rest),
            None => (String::new(), w.as_str()),
        };
        let op = rest.split(' ').next().unwrap_or(rest).to_string();
        *counts.entry((region, op)).or_default() += 1;
    }
    let mut out = Vec::new();
    for ((region, op), n) in &counts {
        match op.as_str() {
            "ReplicateInstance" => out.push(format!(
                "[{region}] replication: groups, agents and the split wait until the replica is INSTANCE_REPLICATION_COMPLETE (rule G1)"
            )),
            "CreateTrafficDistributionGroup" => out.push(format!(
                "[{region}] group creation: {n} group(s) wait to become ACTIVE before members and numbers (rule G2)"
            )),
            _ => {}
        }
        let (rate, burst) = quota(op);
        let beyond = (*n as f64 - burst).max(0.0);
        if rate > 0.0 && beyond / rate >= 1.0 {
            let secs = (beyond / rate).ceil() as u64;
            out.push(format!(
                "[{region}] quota time: {op} ×{n} at {rate}/s (burst {burst}) takes about {}",
                humantime::format_duration(std::time::Duration::from_secs(secs))
            ));
        }
    }
    out
}

/// Writes with ids and ARNs replaced by names (`names`: id or ARN → name), token by token
/// (`value` or `key=value`).
pub fn with_names(writes: &[String], names: &BTreeMap<String, String>) -> Vec<String> {
    writes
        .iter()
        .map(|w| {
            w.split(' ')
                .map(|t| match t.split_once('=') {
                    Some((k, v)) => match names.get(v) {
                        Some(n) => format!("{k}={n}"),
                        None => t.to_string(),
                    },
                    None => names.get(t).cloned().unwrap_or_else(|| t.to_string()),
                })
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Report {
        let mut writes = vec![
            "[us-west-2] UpdateTrafficDistribution arn:g telephony=Some({\"us-east-1\": 40, \"us-west-2\": 60}) agents=None signIn=None".to_string(),
        ];
        for u in ["u1", "u2", "u3", "u4", "u5"] {
            writes.push(format!(
                "[us-west-2] AssociateTrafficDistributionGroupUser arn:g user={u}"
            ));
        }
        Report::new(
            &writes,
            vec![
                ObjectLine {
                    kind: "AgentMembership".into(),
                    name: "team".into(),
                    state: "Progressing".into(),
                    reason: "Associating".into(),
                    message: "0/5 agents associated".into(),
                },
                ObjectLine {
                    kind: "TrafficDistribution".into(),
                    name: "split".into(),
                    state: "Progressing".into(),
                    reason: "Applied".into(),
                    message: "update sent; verifying".into(),
                },
            ],
        )
    }

    #[test]
    fn per_user_calls_are_one_counted_change_per_group() {
        let r = sample();
        assert_eq!(r.calls, 6);
        let assoc = r
            .changes
            .iter()
            .find(|c| c.operation == "AssociateTrafficDistributionGroupUser")
            .unwrap();
        assert_eq!((assoc.count, assoc.items.len()), (5, NAMED));
        assert_eq!(assoc.target, "arn:g");
        assert!(
            r.text().contains("×5: u1, u2, u3, … 2 more"),
            "{}",
            r.text()
        );
    }

    #[test]
    fn bulk_calls_beyond_the_burst_report_their_quota_time() {
        let writes: Vec<String> = (0..25)
            .map(|i| format!("[us-west-2] AssociateTrafficDistributionGroupUser g user=u{i}"))
            .collect();
        let w = waits(&writes, |_| (2.0, 5.0));
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(
            w[0].contains("×25 at 2/s (burst 5) takes about 10s"),
            "{w:?}"
        );
    }

    #[test]
    fn calls_within_the_burst_wait_for_nothing() {
        let writes = vec!["[us-west-2] UpdateTrafficDistribution g".to_string()];
        assert!(waits(&writes, |_| (2.0, 5.0)).is_empty());
    }

    #[test]
    fn replication_and_group_creation_are_waits_g1_g2() {
        let writes = vec![
            "[us-west-2] ReplicateInstance instance=i".to_string(),
            "[us-west-2] CreateTrafficDistributionGroup name=a instance=i".to_string(),
        ];
        let w = waits(&writes, |_| (2.0, 5.0));
        assert!(w[0].contains("group creation: 1 group(s)"), "{w:?}");
        assert!(w[1].contains("replication"), "{w:?}");
    }

    #[test]
    fn ids_and_arns_are_shown_by_name() {
        let names: BTreeMap<String, String> = [
            ("arn:g".to_string(), "support".to_string()),
            ("u1".to_string(), "alice".to_string()),
        ]
        .into();
        let w = with_names(
            &["[r] AssociateTrafficDistributionGroupUser arn:g user=u1".to_string()],
            &names,
        );
        assert_eq!(
            w,
            ["[r] AssociateTrafficDistributionGroupUser support user=alice"]
        );
    }

    #[test]
    fn no_writes_is_no_change() {
        let r = Report::new(&[], vec![]);
        assert!(!r.has_changes());
        assert!(r.text().contains("No change"));
        assert!(r.json().contains("\"changed\": false"));
    }

    fn failed() -> Vec<FailedRead> {
        vec![FailedRead {
            operation: "ListReplicationFindings".into(),
            region: "us-west-2".into(),
            error: "transient failure: InternalServiceException".into(),
        }]
    }

    #[test]
    fn failed_reads_are_a_section_of_every_output_and_not_a_change() {
        let r = Report::new(&[], vec![]).with_failed_reads(failed());
        assert!(r.reads_failed());
        assert!(!r.has_changes());
        let text = r.text();
        assert!(text.contains("Reads that failed (1)"), "{text}");
        assert!(
            text.contains("[us-west-2] ListReplicationFindings: transient failure"),
            "{text}"
        );
        let md = r.markdown();
        assert!(md.contains("**Reads that failed** (1)"), "{md}");
        assert!(
            md.contains("| us-west-2 | `ListReplicationFindings` |"),
            "{md}"
        );
        let v: serde_json::Value = serde_json::from_str(&r.json()).unwrap();
        assert_eq!(v["failed_reads"][0]["operation"], "ListReplicationFindings");
        assert_eq!(v["failed_reads"][0]["region"], "us-west-2");
    }

    #[test]
    fn a_plan_without_failed_reads_has_no_such_section() {
        let r = sample();
        assert!(!r.reads_failed());
        assert!(!r.text().contains("Reads that failed"));
        assert!(!r.markdown().contains("Reads that failed"));
    }

    #[test]
    fn the_markdown_matches_the_golden_file() {
        let golden = include_str!("../../tests/fixtures/plan.md");
        assert_eq!(sample().markdown(), golden);
    }
}
