//! Findings assembly: each source of findings, the region each concerns, status bounds,
//! FailoverReady and which findings refuse a move into a region.

use std::collections::{BTreeMap, BTreeSet};

use super::*;

const W2: &str = "us-west-2";
const E1: &str = "us-east-1";
const HARDCODED: &str = r#"{"Version":"2019-10-30","StartAction":"a","Actions":[{"Identifier":"a","Type":"InvokeLambdaFunction","Parameters":{"LambdaFunctionARN":"arn:aws:lambda:us-west-2:123456789012:function:DenylistCheck"},"Transitions":{}}]}"#;

fn base() -> PreflightInput {
    PreflightInput {
        source_region: W2.into(),
        replica_region: E1.into(),
        replication: vec![(E1.into(), "INSTANCE_REPLICATION_COMPLETE".into())],
        ..Default::default()
    }
}

fn flow(region: &str, content: &str) -> ObservedFlow {
    ObservedFlow {
        region: region.into(),
        resource_type: "ContactFlow",
        name: "Legacy support inbound".into(),
        arn: Some(format!(
            "arn:aws:connect:{region}:123456789012:instance/i/contact-flow/f"
        )),
        content: content.into(),
    }
}

fn lambda(region: &str, name: &str) -> String {
    format!("arn:aws:lambda:{region}:123456789012:function:{name}")
}

fn kinds_regions(f: &[PreflightFinding]) -> Vec<(&str, &str)> {
    f.iter()
        .map(|f| (f.kind.as_str(), f.region.as_str()))
        .collect()
}

#[test]
fn a_clean_replica_has_no_findings_and_is_failover_ready() {
    let f = findings(&base());
    assert!(f.is_empty(), "{f:?}");
    assert!(failover_ready(&status(&f)).0);
}

#[test]
fn a_source_region_lambda_arn_breaks_the_flow_in_the_replica_only() {
    let mut i = base();
    i.lambdas
        .insert(W2.into(), vec![lambda(W2, "DenylistCheck")]);
    i.lambdas
        .insert(E1.into(), vec![lambda(E1, "DenylistCheck")]);
    i.flows = vec![flow(W2, HARDCODED), flow(E1, HARDCODED)];
    let f = findings(&i);
    assert_eq!(kinds_regions(&f), [(kinds::FLOW_HARDCODED_REGION, E1)]);
    assert_eq!(f[0].severity, Severity::Blocking);
    assert!(f[0].message.contains("us-west-2"));
    assert!(f[0].fix.as_deref().unwrap().contains("$.AwsRegion"));
}

#[test]
fn a_lambda_associated_in_one_region_only_is_blocking_for_the_other() {
    let mut i = base();
    i.lambdas
        .insert(W2.into(), vec![lambda(W2, "DenylistCheck")]);
    let f = findings(&i);
    assert_eq!(kinds_regions(&f), [(kinds::LAMBDA_ONE_REGION, E1)]);
}

#[test]
fn lambda_names_that_differ_between_regions_give_a_finding_each_way() {
    let mut i = base();
    i.lambdas.insert(W2.into(), vec![lambda(W2, "Check")]);
    i.lambdas.insert(E1.into(), vec![lambda(E1, "Check-east")]);
    let f = findings(&i);
    assert_eq!(
        kinds_regions(&f),
        [
            (kinds::LAMBDA_ONE_REGION, E1),
            (kinds::LAMBDA_ONE_REGION, W2)
        ]
    );
}

#[test]
fn a_flow_invoking_a_lambda_associated_in_one_region_is_reported_once_for_the_other() {
    let mut i = base();
    let good = HARDCODED.replace("us-west-2", "$.AwsRegion");
    i.flows = vec![flow(W2, &good), flow(E1, &good)];
    i.lambdas
        .insert(W2.into(), vec![lambda(W2, "DenylistCheck")]);
    assert_eq!(
        kinds_regions(&findings(&i)),
        [(kinds::LAMBDA_ONE_REGION, E1)]
    );
}

#[test]
fn a_function_associated_in_no_region_gives_warnings_not_blocking_findings() {
    // the flow fails in both regions already: a failover makes nothing worse
    let mut i = base();
    i.flows = vec![flow(W2, HARDCODED), flow(E1, HARDCODED)];
    let f = findings(&i);
    assert_eq!(
        kinds_regions(&f),
        [
            (kinds::FLOW_HARDCODED_REGION, E1),
            (kinds::LAMBDA_NOT_ASSOCIATED, E1),
            (kinds::LAMBDA_NOT_ASSOCIATED, W2)
        ]
    );
    assert!(f.iter().all(|f| f.severity == Severity::Warning), "{f:?}");
    assert!(f[0].message.contains("associated in no region"), "{f:?}");
    assert!(failover_ready(&status(&f)).0);
}

#[test]
fn a_lex_bot_in_one_region_is_blocking_unless_its_replica_is_associated() {
    let mut i = base();
    let alias = |r: &str| BotAssociation::V2 {
        alias_arn: format!("arn:aws:lex:{r}:123456789012:bot-alias/ABCDEFGHIJ/TSTALIASID"),
    };
    i.bots.insert(W2.into(), vec![alias(W2)]);
    assert_eq!(
        kinds_regions(&findings(&i)),
        [(kinds::LEX_BOT_ONE_REGION, E1)]
    );
    i.bots.insert(E1.into(), vec![alias(E1)]);
    assert!(findings(&i).is_empty());
}

#[test]
fn numbers_users_replication_and_connect_findings_are_reported() {
    let mut i = base();
    i.replication = vec![(E1.into(), "INSTANCE_REPLICATION_IN_PROGRESS".into())];
    i.conflict = Some("queue Billing".into());
    i.numbers_not_in_group = vec![("+14255550199".into(), "arn:pn".into())];
    i.users_not_mirrored = 3;
    i.connect_findings = vec![ConnectFinding {
        resource_type: "QUEUE".into(),
        name: "Billing".into(),
        region: E1.into(),
        reference_code: Some("RESOURCE_NAME_CONFLICT".into()),
        message: "rename".into(),
        ..Default::default()
    }];
    i.drift = vec![
        ("QUEUE".into(), E1.into(), 2),
        ("PROMPT".into(), E1.into(), 0),
    ];
    let f = findings(&i);
    assert_eq!(
        kinds_regions(&f),
        [
            (kinds::REPLICATION_CONFLICT, E1),
            (kinds::REPLICATION_FINDING, E1),
            (kinds::REPLICATION_INCOMPLETE, E1),
            (kinds::NUMBER_NOT_IN_GROUP, E1),
            (kinds::REPLICATION_DRIFT, E1),
            (kinds::USERS_NOT_MIRRORED, E1),
        ]
    );
    let rf = f
        .iter()
        .find(|f| f.kind == kinds::REPLICATION_FINDING)
        .unwrap();
    assert_eq!(rf.reference_code.as_deref(), Some("RESOURCE_NAME_CONFLICT"));
    assert!(f.iter().any(|f| f.message.contains("3 users")));
    let st = status(&f);
    assert_eq!((st.total, st.blocking, st.warnings), (6, 3, 3));
    let (ready, reason, message) = failover_ready(&st);
    assert!(!ready);
    assert_eq!(reason, crate::api::reasons::BLOCKING_FINDINGS);
    assert!(message.starts_with("3 blocking findings"), "{message}");
}

#[test]
fn status_lists_a_bounded_number_of_findings_but_counts_all() {
    let mut i = base();
    i.numbers_not_in_group = (0..50)
        .map(|n| (format!("+1425555{n:04}"), format!("arn:{n}")))
        .collect();
    let st = status(&findings(&i));
    assert_eq!(st.findings.len(), MAX_LISTED_FINDINGS);
    assert_eq!(st.total, 50);
}

#[test]
fn only_unaccepted_blocking_findings_about_the_target_region_refuse_a_move() {
    let mut i = base();
    i.lambdas
        .insert(W2.into(), vec![lambda(W2, "DenylistCheck")]);
    i.lambdas
        .insert(E1.into(), vec![lambda(E1, "DenylistCheck")]);
    i.flows = vec![flow(E1, HARDCODED)];
    i.numbers_not_in_group = vec![("+14255550199".into(), "arn:pn".into())];
    let st = status(&findings(&i));
    assert_eq!(refusing(&st, E1, &[]).len(), 1);
    assert!(refusing(&st, W2, &[]).is_empty());
    assert!(refusing(&st, E1, &[kinds::FLOW_HARDCODED_REGION.to_string()]).is_empty());
}

fn split(w2: i32, e1: i32) -> BTreeMap<String, i32> {
    [(W2.to_string(), w2), (E1.to_string(), e1)].into()
}

fn hardcoded_status() -> PreflightStatus {
    let mut i = base();
    i.lambdas
        .insert(W2.into(), vec![lambda(W2, "DenylistCheck")]);
    i.lambdas
        .insert(E1.into(), vec![lambda(E1, "DenylistCheck")]);
    i.flows = vec![flow(E1, HARDCODED)];
    status(&findings(&i))
}

#[test]
fn a_failover_onto_a_replica_with_blocking_findings_is_refused_naming_them() {
    let msg = refuse_move(
        &hardcoded_status(),
        &split(100, 0),
        &split(0, 100),
        &[],
        &BTreeSet::new(),
    )
    .expect("refused");
    assert!(
        msg.contains("FlowHardcodedRegion Legacy support inbound in us-east-1"),
        "{msg}"
    );
    assert!(
        msg.contains("spec.acceptRisks (FlowHardcodedRegion)"),
        "{msg}"
    );
}

#[test]
fn accepted_kinds_let_the_move_through() {
    assert!(
        refuse_move(
            &hardcoded_status(),
            &split(100, 0),
            &split(0, 100),
            &[kinds::FLOW_HARDCODED_REGION.to_string()],
            &BTreeSet::new(),
        )
        .is_none()
    );
}

#[test]
fn a_failover_away_from_a_region_that_is_down_is_never_refused() {
    let down: BTreeSet<String> = [W2.to_string()].into();
    assert!(
        refuse_move(
            &hardcoded_status(),
            &split(100, 0),
            &split(0, 100),
            &[],
            &down
        )
        .is_none()
    );
}

#[test]
fn moving_telephony_back_to_a_region_without_findings_is_not_refused() {
    let none = BTreeSet::new();
    assert!(
        refuse_move(
            &hardcoded_status(),
            &split(0, 100),
            &split(100, 0),
            &[],
            &none
        )
        .is_none()
    );
    // the agent-only or unchanged split moves no telephony
    assert!(
        refuse_move(
            &hardcoded_status(),
            &split(50, 50),
            &split(50, 50),
            &[],
            &none
        )
        .is_none()
    );
}
