//! The preflight section of `connect-gr preflight` and `connect-gr plan`: each InstanceReplica's
//! findings, blocking first. Pure: statuses in, text out.

use serde_json::{Value, json};

use crate::api::preflight::{PreflightStatus, Severity};

/// (InstanceReplica name, its preflight) for each replica that has one.
pub type Sections = [(String, PreflightStatus)];

pub fn any_blocking(s: &Sections) -> bool {
    s.iter().any(|(_, p)| p.blocking > 0)
}

fn severity(s: Severity) -> &'static str {
    match s {
        Severity::Blocking => "BLOCKING",
        Severity::Warning => "warning",
    }
}

pub fn text(s: &Sections) -> String {
    let mut out = String::from("\nPreflight (failover readiness):\n");
    if s.is_empty() {
        out.push_str("  no InstanceReplica with a completed replication to check\n");
    }
    for (name, p) in s {
        out.push_str(&format!(
            "  InstanceReplica {name}: {} blocking, {} warnings\n",
            p.blocking, p.warnings
        ));
        for f in &p.findings {
            out.push_str(&format!(
                "    {:<8} {:<22} {:<10} {} {}: {}\n",
                severity(f.severity),
                f.kind,
                f.region,
                f.resource.resource_type,
                f.resource.name,
                f.message
            ));
            if let Some(fix) = &f.fix {
                out.push_str(&format!("             fix: {fix}\n"));
            }
        }
        if p.total > p.findings.len() as i64 {
            out.push_str(&format!(
                "    … {} more\n",
                p.total - p.findings.len() as i64
            ));
        }
    }
    out
}

pub fn markdown(s: &Sections) -> String {
    let mut out = String::from("\n### Preflight (failover readiness)\n\n");
    out.push_str(
        "| Replica | Severity | Kind | Region | Resource | Message |\n|---|---|---|---|---|---|\n",
    );
    for (name, p) in s {
        for f in &p.findings {
            out.push_str(&format!(
                "| {name} | {} | `{}` | {} | {} {} | {} |\n",
                severity(f.severity),
                f.kind,
                f.region,
                f.resource.resource_type,
                f.resource.name.replace('|', "\\|"),
                f.message.replace('|', "\\|")
            ));
        }
    }
    out
}

pub fn json_value(s: &Sections) -> Value {
    json!(
        s.iter()
            .map(|(name, p)| json!({"instanceReplica": name, "preflight": p}))
            .collect::<Vec<_>>()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::preflight::{FindingResource, PreflightFinding};

    fn sections(blocking: bool) -> Vec<(String, PreflightStatus)> {
        let f = PreflightFinding {
            kind: "FlowHardcodedRegion".into(),
            severity: if blocking {
                Severity::Blocking
            } else {
                Severity::Warning
            },
            resource: FindingResource {
                resource_type: "ContactFlow".into(),
                name: "Legacy support inbound".into(),
                arn: None,
            },
            region: "us-east-1".into(),
            message: "names us-west-2 literally".into(),
            fix: Some("use $.AwsRegion".into()),
            reference_code: None,
        };
        vec![(
            "support-center".into(),
            PreflightStatus {
                findings: vec![f],
                total: 3,
                blocking: i64::from(blocking),
                warnings: i64::from(!blocking) + 2,
            },
        )]
    }

    #[test]
    fn the_text_names_each_finding_its_fix_and_what_is_not_listed() {
        let t = text(&sections(true));
        assert!(
            t.contains("InstanceReplica support-center: 1 blocking, 2 warnings"),
            "{t}"
        );
        assert!(t.contains("BLOCKING FlowHardcodedRegion"), "{t}");
        assert!(t.contains("fix: use $.AwsRegion"), "{t}");
        assert!(t.contains("… 2 more"), "{t}");
    }

    #[test]
    fn only_blocking_findings_make_the_preflight_fail() {
        assert!(any_blocking(&sections(true)));
        assert!(!any_blocking(&sections(false)));
        assert!(markdown(&sections(true)).contains("| support-center | BLOCKING |"));
        assert_eq!(json_value(&sections(true))[0]["preflight"]["blocking"], 1);
    }
}
