//! Preflight findings assembly: (what was read in both regions) -> findings, status, the
//! `FailoverReady` verdict, and which findings refuse a move of telephony into a region. Pure.

use std::collections::{BTreeMap, BTreeSet};

use crate::api::preflight::{
    FindingResource, MAX_LISTED_FINDINGS, PreflightFinding, PreflightStatus, Severity, kinds,
};

use super::flow_scan;

/// A flow or module as read in one region.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObservedFlow {
    pub region: String,
    /// ContactFlow | ContactFlowModule.
    pub resource_type: &'static str,
    pub name: String,
    pub arn: Option<String>,
    pub content: String,
}

/// A Lex bot association of one region: a V2 alias ARN or a V1 bot name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BotAssociation {
    V2 { alias_arn: String },
    V1 { name: String, lex_region: String },
}

impl BotAssociation {
    /// Same key in both regions = the same bot: a V2 alias and its Lex GR replica keep the bot
    /// and alias ids; a V1 bot by name.
    fn key(&self) -> String {
        match self {
            Self::V2 { alias_arn } => flow_scan::lex_alias(alias_arn)
                .map(|(b, a)| format!("{b}/{a}"))
                .unwrap_or_else(|| alias_arn.clone()),
            Self::V1 { name, .. } => name.clone(),
        }
    }
    fn display(&self) -> (String, Option<String>) {
        match self {
            Self::V2 { alias_arn } => (self.key(), Some(alias_arn.clone())),
            Self::V1 { name, lex_region } => (format!("{name} ({lex_region})"), None),
        }
    }
}

/// One of Connect's replication findings (ListReplicationFindings), as given.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ConnectFinding {
    pub resource_type: String,
    pub name: String,
    pub arn: Option<String>,
    pub region: String,
    pub reference_code: Option<String>,
    pub message: String,
}

/// Everything the preflight read.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PreflightInput {
    pub source_region: String,
    pub replica_region: String,
    /// (region, replication status) from DescribeInstance.
    pub replication: Vec<(String, String)>,
    /// The resource a ResourceConflictException named.
    pub conflict: Option<String>,
    pub flows: Vec<ObservedFlow>,
    /// region -> associated Lambda function ARNs.
    pub lambdas: BTreeMap<String, Vec<String>>,
    /// region -> Lex bot associations.
    pub bots: BTreeMap<String, Vec<BotAssociation>>,
    /// (number, ARN) claimed in the source region, in no group.
    pub numbers_not_in_group: Vec<(String, String)>,
    pub users_not_mirrored: usize,
    pub connect_findings: Vec<ConnectFinding>,
    /// (resource type, region, count) of resources not yet in sync.
    pub drift: Vec<(String, String, i64)>,
}

fn finding(
    kind: &str,
    severity: Severity,
    resource: (&str, String, Option<String>),
    region: &str,
    message: String,
    fix: &str,
) -> PreflightFinding {
    PreflightFinding {
        kind: kind.into(),
        severity,
        resource: FindingResource {
            resource_type: resource.0.into(),
            name: resource.1,
            arn: resource.2,
        },
        region: region.into(),
        message,
        fix: Some(fix.into()),
        reference_code: None,
    }
}

fn fix_for(kind: &str) -> &'static str {
    match kind {
        kinds::FLOW_HARDCODED_REGION => {
            "use $.AwsRegion in the ARN (arn:aws:lambda:$.AwsRegion:...), or Lex V2 Global Resiliency with arn:aws:lex:$.AwsRegion:..."
        }
        kinds::FLOW_REGIONAL_ARN => "refer to the resource by its id instead of a regional ARN",
        kinds::FLOW_REGION_LITERAL => "derive the region from $.AwsRegion",
        kinds::FLOW_DYNAMIC_ARN => {
            "set the attribute in a Set contact attributes block of the flow, with $.AwsRegion"
        }
        _ => "fix the flow content so that it is a flow-language document",
    }
}

/// Every finding, blocking first, then by kind, region and resource.
pub fn findings(input: &PreflightInput) -> Vec<PreflightFinding> {
    let mut out = Vec::new();
    let regions = [input.source_region.as_str(), input.replica_region.as_str()];
    for (region, status) in &input.replication {
        if status != "INSTANCE_REPLICATION_COMPLETE" {
            out.push(finding(
                kinds::REPLICATION_INCOMPLETE,
                Severity::Blocking,
                ("Instance", region.clone(), None),
                region,
                format!("replication to {region} is {status}"),
                "wait for INSTANCE_REPLICATION_COMPLETE (or resolve the failure Connect reports)",
            ));
        }
    }
    if let Some(c) = &input.conflict {
        out.push(finding(
            kinds::REPLICATION_CONFLICT,
            Severity::Blocking,
            ("Resource", c.clone(), None),
            &input.replica_region,
            format!("ReplicateInstance reported a conflict: {c}"),
            "rename or remove the conflicting resource in the replica region; replication resumes",
        ));
    }
    // Blocking means "works in one region, breaks in the other": a Lambda function associated
    // in no region fails everywhere already, so findings about it are warnings.
    let anywhere: BTreeSet<&str> = input
        .lambdas
        .values()
        .flatten()
        .filter_map(|a| flow_scan::lambda_name(a))
        .collect();
    let dead = |name: Option<&str>| name.is_some_and(|n| !anywhere.contains(n));
    const DEAD: &str = " (the function is associated in no region: the flow fails in both)";
    // flows: a literal region breaks the flow where it runs in another region
    let mut referenced: BTreeMap<String, BTreeSet<(String, String)>> = BTreeMap::new();
    for f in &input.flows {
        let scan = flow_scan::scan(&f.content);
        for h in &scan.hits {
            if h.literal_region.as_deref() == Some(f.region.as_str()) {
                continue;
            }
            let what = match &h.literal_region {
                Some(r) => format!("names {r} literally"),
                None => "cannot be checked".to_string(),
            };
            let unused = dead(flow_scan::lambda_name(&h.value));
            out.push(finding(
                h.kind,
                if unused {
                    Severity::Warning
                } else {
                    h.severity
                },
                (f.resource_type, f.name.clone(), f.arn.clone()),
                &f.region,
                format!(
                    "{} {:?} {what} at {}: {}{}",
                    f.resource_type,
                    f.name,
                    h.location,
                    h.value,
                    if unused { DEAD } else { "" }
                ),
                fix_for(h.kind),
            ));
        }
        for n in scan.lambda_names {
            referenced
                .entry(n)
                .or_default()
                .insert((f.region.clone(), f.name.clone()));
        }
    }
    // Lambda functions: same name associated in both regions
    let names = |r: &str| -> BTreeMap<String, String> {
        input
            .lambdas
            .get(r)
            .into_iter()
            .flatten()
            .filter_map(|a| flow_scan::lambda_name(a).map(|n| (n.to_string(), a.clone())))
            .collect()
    };
    let by_region: BTreeMap<&str, BTreeMap<String, String>> =
        regions.iter().map(|r| (*r, names(r))).collect();
    let mut reported: BTreeSet<(String, String)> = BTreeSet::new();
    for (i, r) in regions.iter().enumerate() {
        let other = regions[1 - i];
        for (name, arn) in &by_region[r] {
            if !by_region[other].contains_key(name) {
                reported.insert((name.clone(), other.to_string()));
                out.push(finding(
                    kinds::LAMBDA_ONE_REGION,
                    Severity::Blocking,
                    ("LambdaFunction", name.clone(), Some(arn.clone())),
                    other,
                    format!("Lambda function {name} is associated in {r} but no function of that name is associated in {other}"),
                    "create the function with the same name in the other region and associate it (AssociateLambdaFunction); Lambda functions are not replicated",
                ));
            }
        }
    }
    for (name, uses) in &referenced {
        for (region, flow) in uses {
            if by_region
                .get(region.as_str())
                .is_some_and(|m| !m.contains_key(name))
                && reported.insert((name.clone(), region.clone()))
            {
                out.push(finding(
                    kinds::LAMBDA_NOT_ASSOCIATED,
                    if dead(Some(name)) { Severity::Warning } else { Severity::Blocking },
                    ("LambdaFunction", name.clone(), None),
                    region,
                    format!(
                        "flow {flow:?} invokes Lambda function {name}, which is not associated with the instance in {region}{}",
                        if dead(Some(name)) { DEAD } else { "" }
                    ),
                    "associate a function of that name in this region (AssociateLambdaFunction)",
                ));
            }
        }
    }
    // Lex bots: associated in both regions (a V2 alias's replica keeps its ids)
    for (i, r) in regions.iter().enumerate() {
        let other = regions[1 - i];
        let theirs: BTreeSet<String> = input
            .bots
            .get(other)
            .into_iter()
            .flatten()
            .map(BotAssociation::key)
            .collect();
        for b in input.bots.get(*r).into_iter().flatten() {
            if !theirs.contains(&b.key()) {
                let (name, arn) = b.display();
                out.push(finding(
                    kinds::LEX_BOT_ONE_REGION,
                    Severity::Blocking,
                    ("LexBot", name.clone(), arn),
                    other,
                    format!("Lex bot {name} is associated in {r} only"),
                    "replicate the bot (Lex V2 Global Resiliency) and associate the replica's alias ARN in the other region (AssociateBot); bot associations are not replicated",
                ));
            }
        }
    }
    for (number, arn) in &input.numbers_not_in_group {
        out.push(finding(
            kinds::NUMBER_NOT_IN_GROUP,
            Severity::Warning,
            ("PhoneNumber", number.clone(), Some(arn.clone())),
            &input.replica_region,
            format!("{number} is in no traffic distribution group: its calls stay in {} whatever the split", input.source_region),
            "add it to a TrafficDistributionGroup's phoneNumbers",
        ));
    }
    if input.users_not_mirrored > 0 {
        out.push(finding(
            kinds::USERS_NOT_MIRRORED,
            Severity::Warning,
            ("User", format!("{} users", input.users_not_mirrored), None),
            &input.replica_region,
            format!(
                "{} users of the source are not yet mirrored to {}",
                input.users_not_mirrored, input.replica_region
            ),
            "wait for replication to mirror them",
        ));
    }
    for c in &input.connect_findings {
        let mut f = finding(
            kinds::REPLICATION_FINDING,
            Severity::Blocking,
            (&c.resource_type, c.name.clone(), c.arn.clone()),
            &c.region,
            c.message.clone(),
            "act on Connect's message; the reference code names the class of problem",
        );
        f.reference_code = c.reference_code.clone();
        out.push(f);
    }
    for (rt, region, n) in &input.drift {
        if *n > 0 {
            out.push(finding(
                kinds::REPLICATION_DRIFT,
                Severity::Warning,
                (rt, format!("{n} {rt} resources"), None),
                region,
                format!("Connect reports about {n} {rt} resources not yet in sync in {region}"),
                "wait for replication to catch up; Connect's counts are eventually consistent",
            ));
        }
    }
    out.sort_by(|a, b| {
        (a.severity, &a.kind, &a.region, &a.resource, &a.message).cmp(&(
            b.severity,
            &b.kind,
            &b.region,
            &b.resource,
            &b.message,
        ))
    });
    out.dedup_by(|a, b| a.kind == b.kind && a.region == b.region && a.resource == b.resource);
    out
}

/// `status.preflight`: the first findings (blocking first) and the counts of all.
pub fn status(all: &[PreflightFinding]) -> PreflightStatus {
    let blocking = all
        .iter()
        .filter(|f| f.severity == Severity::Blocking)
        .count();
    PreflightStatus {
        findings: all.iter().take(MAX_LISTED_FINDINGS).cloned().collect(),
        total: all.len() as i64,
        blocking: blocking as i64,
        warnings: (all.len() - blocking) as i64,
    }
}

/// `FailoverReady`: (true, reason, message) when nothing is blocking.
pub fn failover_ready(st: &PreflightStatus) -> (bool, &'static str, String) {
    if st.blocking == 0 {
        (
            true,
            crate::api::reasons::NO_BLOCKING_FINDINGS,
            format!("no blocking findings ({} warnings)", st.warnings),
        )
    } else {
        let first: Vec<String> = st
            .findings
            .iter()
            .filter(|f| f.severity == Severity::Blocking)
            .take(3)
            .map(|f| format!("{} {} in {}", f.kind, f.resource.name, f.region))
            .collect();
        (
            false,
            crate::api::reasons::BLOCKING_FINDINGS,
            format!("{} blocking findings: {}", st.blocking, first.join("; ")),
        )
    }
}

/// The blocking findings that refuse moving telephony into `region`, less the accepted kinds.
pub fn refusing<'a>(
    st: &'a PreflightStatus,
    region: &str,
    accepted: &[String],
) -> Vec<&'a PreflightFinding> {
    st.findings
        .iter()
        .filter(|f| f.severity == Severity::Blocking && f.region == region)
        .filter(|f| !accepted.iter().any(|k| k == &f.kind))
        .collect()
}

/// Whether moving telephony from `before` to `after` is refused: a region that gains telephony
/// has blocking findings whose kinds are not in `accepted`. A move away from a region that is
/// `down` is never refused (the emergency must go through). Returns the Stalled message.
pub fn refuse_move(
    st: &PreflightStatus,
    before: &BTreeMap<String, i32>,
    after: &BTreeMap<String, i32>,
    accepted: &[String],
    down: &BTreeSet<String>,
) -> Option<String> {
    let pct = |m: &BTreeMap<String, i32>, r: &str| m.get(r).copied().unwrap_or(0);
    let regions: BTreeSet<&String> = before.keys().chain(after.keys()).collect();
    if regions
        .iter()
        .any(|r| pct(after, r) < pct(before, r) && down.contains(*r))
    {
        return None;
    }
    let refused: Vec<&PreflightFinding> = regions
        .iter()
        .filter(|r| pct(after, r) > pct(before, r))
        .flat_map(|r| refusing(st, r, accepted))
        .collect();
    if refused.is_empty() {
        return None;
    }
    let kinds: BTreeSet<&str> = refused.iter().map(|f| f.kind.as_str()).collect();
    let first: Vec<String> = refused
        .iter()
        .take(3)
        .map(|f| {
            format!(
                "{} {} in {}: {}",
                f.kind, f.resource.name, f.region, f.message
            )
        })
        .collect();
    Some(format!(
        "telephony would move into a region with {} blocking preflight findings: {}; fix them or list the kinds in spec.acceptRisks ({})",
        refused.len(),
        first.join("; "),
        kinds.into_iter().collect::<Vec<_>>().join(", ")
    ))
}

#[cfg(test)]
#[path = "preflight_tests.rs"]
mod tests;
