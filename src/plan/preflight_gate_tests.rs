//! The preflight gate fails closed (issue 25): only an outage opens it, unknown findings refuse.

use std::collections::{BTreeMap, BTreeSet};

use super::*;
use crate::api::preflight::{FindingResource, PreflightFinding, Severity, kinds};

const W2: &str = "us-west-2";
const E1: &str = "us-east-1";

fn split(w2: i32, e1: i32) -> BTreeMap<String, i32> {
    [(W2.to_string(), w2), (E1.to_string(), e1)].into()
}

fn blocking_in_replica() -> PreflightStatus {
    PreflightStatus {
        findings: vec![PreflightFinding {
            kind: kinds::FLOW_HARDCODED_REGION.into(),
            severity: Severity::Blocking,
            resource: FindingResource {
                resource_type: "ContactFlow".into(),
                name: "inbound".into(),
                arn: None,
            },
            region: E1.into(),
            message: "calls a us-west-2 Lambda".into(),
            fix: None,
            reference_code: None,
        }],
        total: 1,
        blocking: 1,
        warnings: 0,
    }
}

fn down(regions: &[&str]) -> BTreeSet<String> {
    regions.iter().map(|r| r.to_string()).collect()
}

#[test]
fn only_outages_count_as_a_region_down() {
    let cases = [
        (Ok(()), false),
        (Err(ConnectError::Throttled("rate".into())), false),
        (Err(ConnectError::NotFound("no instance".into())), false),
        (Err(ConnectError::AccessDenied("denied".into())), false),
        (Err(ConnectError::Invalid("bad".into())), false),
        (Err(ConnectError::NotReady("busy".into())), false),
        (
            Err(ConnectError::Transient("503 ServiceUnavailable".into())),
            true,
        ),
        (
            Err(ConnectError::Transient(
                "dispatch failure: connection refused".into(),
            )),
            true,
        ),
        (Err(ConnectError::Transient("timeout".into())), true),
        (
            Err(ConnectError::from_code(
                Some("InternalServiceException"),
                "500",
            )),
            true,
        ),
        (
            Err(ConnectError::from_code(
                Some("ServiceUnavailableException"),
                "down",
            )),
            true,
        ),
        (
            Err(ConnectError::from_code(None, "dispatch failure: io error")),
            true,
        ),
        (
            Err(ConnectError::from_code(
                Some("UnrecognizedClientException"),
                "bad key",
            )),
            false,
        ),
        (
            Err(ConnectError::from_code(Some("ValidationException"), "bad")),
            false,
        ),
    ];
    for (probe, want) in cases {
        assert_eq!(down_after_probe(&probe), want, "{probe:?}");
    }
}

#[test]
fn blocking_findings_refuse_a_move_into_the_replica_while_the_source_only_throttles() {
    let st = blocking_in_replica();
    let throttled = Err(ConnectError::Throttled("rate".into()));
    let d: BTreeSet<String> = down_after_probe(&throttled)
        .then(|| W2.to_string())
        .into_iter()
        .collect();
    let (reason, _) = refuse(
        &Findings::Known(&st),
        &split(100, 0),
        &split(70, 30),
        &[],
        &d,
    )
    .expect("refused");
    assert_eq!(reason, reasons::PREFLIGHT_BLOCKING);
}

#[test]
fn blocking_findings_do_not_refuse_leaving_a_region_that_is_down() {
    let st = blocking_in_replica();
    let f = Findings::Known(&st);
    assert!(refuse(&f, &split(100, 0), &split(0, 100), &[], &down(&[W2])).is_none());
}

#[test]
fn unknown_findings_refuse_a_move_into_a_region_as_preflight_unknown() {
    for why in [
        "TrafficDistributionGroup support/g not found",
        "InstanceReplica support/r not found",
        "InstanceReplica support/r has no status.preflight",
    ] {
        let (reason, message) = refuse(
            &Findings::Unknown(why.into()),
            &split(100, 0),
            &split(70, 30),
            &[],
            &BTreeSet::new(),
        )
        .expect("refused");
        assert_eq!(reason, reasons::PREFLIGHT_UNKNOWN);
        assert!(message.contains(why) && message.contains(E1), "{message}");
    }
}

#[test]
fn unknown_findings_do_not_refuse_leaving_a_region_that_is_down() {
    let f = Findings::Unknown("no status.preflight".into());
    assert!(refuse(&f, &split(100, 0), &split(0, 100), &[], &down(&[W2])).is_none());
}

#[test]
fn unknown_findings_let_a_move_through_when_accept_risks_lists_preflight_unknown() {
    let f = Findings::Unknown("no status.preflight".into());
    let accepted = [reasons::PREFLIGHT_UNKNOWN.to_string()];
    assert!(
        refuse(
            &f,
            &split(100, 0),
            &split(0, 100),
            &accepted,
            &BTreeSet::new()
        )
        .is_none()
    );
}

#[test]
fn a_change_that_moves_no_telephony_into_a_region_is_never_refused() {
    let f = Findings::Unknown("no status.preflight".into());
    let none = BTreeSet::new();
    assert!(refuse(&f, &split(50, 50), &split(50, 50), &[], &none).is_none());
    let st = blocking_in_replica();
    // back toward the source, away from the replica with findings
    assert!(
        refuse(
            &Findings::Known(&st),
            &split(0, 100),
            &split(100, 0),
            &[],
            &none
        )
        .is_none()
    );
}

#[test]
fn a_group_without_an_instance_replica_is_not_gated() {
    assert!(
        refuse(
            &Findings::NotManaged,
            &split(100, 0),
            &split(0, 100),
            &[],
            &BTreeSet::new()
        )
        .is_none()
    );
}

#[test]
fn the_regions_left_are_the_ones_losing_telephony() {
    assert_eq!(
        regions_left(&split(100, 0), &split(70, 30)),
        vec![W2.to_string()]
    );
    assert!(regions_left(&split(50, 50), &split(50, 50)).is_empty());
}
