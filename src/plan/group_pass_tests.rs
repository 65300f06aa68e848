//! `decide` of a TrafficDistributionGroup pass: ownership, lifecycle, numbers and tags.

use serde_json::json;

use super::*;

const W2: &str = "us-west-2";
const E1: &str = "us-east-1";
const ME: &str = "support/team/uid-1";
const INSTANCE_ARN: &str = "arn:aws:connect:us-west-2:111122223333:instance/i-1";

fn obj(extra: serde_json::Value) -> TrafficDistributionGroup {
    let mut spec = json!({"replicaRef": {"name": "support-center"}});
    for (k, v) in extra.as_object().cloned().unwrap_or_default() {
        spec[k] = v;
    }
    serde_json::from_value(json!({
        "apiVersion": "connectgr.io/v1alpha1",
        "kind": "TrafficDistributionGroup",
        "metadata": {"name": "team", "namespace": "support", "uid": "uid-1"},
        "spec": spec,
    }))
    .unwrap()
}

fn placement() -> Placement {
    Placement {
        instance_id: "i-1".into(),
        source_region: W2.into(),
        replica_region: E1.into(),
    }
}

fn group(status: &str, tags: &[(&str, &str)]) -> GroupInfo {
    GroupInfo {
        id: "g1".into(),
        arn: "arn:aws:connect:us-west-2:111122223333:traffic-distribution-group/g1".into(),
        name: "team".into(),
        description: None,
        instance_arn: INSTANCE_ARN.into(),
        status: status.into(),
        is_default: false,
        tags: tags
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    }
}

fn number(n: &str, target: &str) -> PhoneNumberInfo {
    PhoneNumberInfo {
        id: format!("id-{n}"),
        arn: format!("arn:number/{n}"),
        number: n.into(),
        target_arn: Some(target.into()),
        instance_id: Some("i-1".into()),
    }
}

fn desired(o: &TrafficDistributionGroup) -> DesiredGroup {
    DesiredGroup {
        name: o.spec.name.clone().unwrap_or_else(|| "team".into()),
        default: o.spec.default,
        phone_numbers: o.spec.phone_numbers.iter().cloned().collect(),
    }
}

struct Case {
    obj: TrafficDistributionGroup,
    groups: Vec<GroupInfo>,
    served: String,
    described: Option<GroupInfo>,
    numbers: Option<Vec<PhoneNumberInfo>>,
}

impl Case {
    fn new(obj: TrafficDistributionGroup, groups: Vec<GroupInfo>) -> Self {
        Self {
            obj,
            groups,
            served: W2.into(),
            described: None,
            numbers: None,
        }
    }
    fn decide(&self, previous: &TrafficDistributionGroupStatus) -> Decided {
        let d = desired(&self.obj);
        let p = placement();
        decide(
            &Facts {
                obj: &self.obj,
                desired: &d,
                placement: &p,
                groups: &self.groups,
                served: &self.served,
                owner: ME,
                described: self.described.as_ref(),
                numbers: self.numbers.as_deref(),
                was_settled: false,
                resync: Duration::from_secs(300),
            },
            previous,
        )
    }
    fn plan(&self, previous: &TrafficDistributionGroupStatus) -> Plan {
        match self.decide(previous) {
            Decided::Plan(p) => *p,
            Decided::Read(r) => panic!("expected a plan, asked for {r:?}"),
        }
    }
    fn read(&self, previous: &TrafficDistributionGroupStatus) -> Read {
        match self.decide(previous) {
            Decided::Read(r) => r,
            Decided::Plan(p) => panic!("expected a read, planned {:?}", p.writes),
        }
    }
}

fn recorded() -> TrafficDistributionGroupStatus {
    TrafficDistributionGroupStatus {
        id: Some("g1".into()),
        owner: Some(ME.into()),
        ..Default::default()
    }
}

fn reason(p: &Plan) -> String {
    match &p.ending.verdict {
        Verdict::Ready(_) => "Ready".into(),
        Verdict::Progressing { reason, .. } | Verdict::Stalled { reason, .. } => reason.clone(),
    }
}

#[test]
fn a_missing_group_is_created_with_the_owner_tag_and_nothing_else_is_read() {
    let p = Case::new(obj(json!({"tags": {"team": "a"}})), vec![]).plan(&Default::default());
    match &p.writes[..] {
        [
            Write::Create {
                region, request, ..
            },
        ] => {
            assert_eq!(region, W2);
            assert_eq!(request.tags.get(OWNER_TAG).map(String::as_str), Some(ME));
            assert_eq!(request.tags.get("team").map(String::as_str), Some("a"));
        }
        w => panic!("{w:?}"),
    }
    assert_eq!(reason(&p), reasons::CREATING);
}

#[test]
fn a_missing_default_group_waits_for_replicate_instance_r5() {
    let p = Case::new(obj(json!({"default": true})), vec![]).plan(&Default::default());
    assert!(p.writes.is_empty());
    assert_eq!(reason(&p), reasons::WAITING_FOR_DEFAULT_GROUP);
}

#[test]
fn a_group_found_by_name_is_described_before_it_is_claimed() {
    let c = Case::new(obj(json!({})), vec![group("ACTIVE", &[])]);
    assert!(matches!(
        c.read(&Default::default()),
        Read::Described { .. }
    ));
}

#[test]
fn an_untagged_group_is_not_taken_without_adopt() {
    let mut c = Case::new(obj(json!({})), vec![group("ACTIVE", &[])]);
    c.described = Some(group("ACTIVE", &[]));
    let p = c.plan(&Default::default());
    assert_eq!(reason(&p), reasons::ALREADY_EXISTS);
    assert!(p.writes.is_empty());
}

#[test]
fn an_untagged_group_with_adopt_is_claimed_and_the_owner_recorded_when_the_tag_lands() {
    let mut c = Case::new(obj(json!({"adopt": true})), vec![group("ACTIVE", &[])]);
    c.described = Some(group("ACTIVE", &[]));
    c.numbers = Some(vec![]);
    let p = c.plan(&Default::default());
    assert!(matches!(&p.writes[0], Write::Claim { owner, .. } if owner == ME));
    assert_eq!(p.status.owner, None);
    let mut status = p.status.clone();
    let mut notes = vec![];
    landed(&mut status, &mut notes, &p.writes[0]);
    assert_eq!(status.owner.as_deref(), Some(ME));
    assert!(notes.iter().any(|n| n.reason == reasons::ADOPTED));
}

#[test]
fn a_group_another_object_owns_is_never_taken_even_with_adopt() {
    let mut c = Case::new(obj(json!({"adopt": true})), vec![group("ACTIVE", &[])]);
    c.described = Some(group("ACTIVE", &[(OWNER_TAG, "other/team/uid-9")]));
    let p = c.plan(&Default::default());
    assert_eq!(reason(&p), reasons::ALREADY_EXISTS);
    assert!(p.writes.is_empty());
}

#[test]
fn with_the_source_region_down_the_group_is_recorded_and_nothing_is_written() {
    let mut c = Case::new(
        obj(json!({"phoneNumbers": ["+14255550101"]})),
        vec![group("ACTIVE", &[])],
    );
    c.served = E1.into();
    let p = c.plan(&recorded());
    assert_eq!(reason(&p), reasons::SOURCE_REGION_UNAVAILABLE);
    assert!(p.writes.is_empty());
    assert_eq!(p.status.status.as_deref(), Some("ACTIVE"));
}

#[test]
fn a_group_not_active_waits_g2() {
    let c = Case::new(obj(json!({})), vec![group("CREATION_IN_PROGRESS", &[])]);
    let p = c.plan(&recorded());
    assert_eq!(reason(&p), reasons::GROUP_NOT_ACTIVE);
}

#[test]
fn an_active_group_reads_the_numbers_then_moves_declared_ones_in_and_undeclared_managed_ones_out() {
    let g = group("ACTIVE", &[]);
    let mut c = Case::new(
        obj(json!({"phoneNumbers": ["+14255550101"]})),
        vec![g.clone()],
    );
    assert!(matches!(c.read(&recorded()), Read::Numbers { .. }));
    c.numbers = Some(vec![
        number("+14255550101", INSTANCE_ARN),
        number("+14255550102", &g.arn),
    ]);
    let mut previous = recorded();
    previous.managed_phone_numbers = vec!["+14255550102".into()];
    let p = c.plan(&previous);
    let moves: Vec<(String, bool)> = p
        .writes
        .iter()
        .filter_map(|w| match w {
            Write::Number { number, into, .. } => Some((number.clone(), *into)),
            _ => None,
        })
        .collect();
    assert_eq!(
        moves,
        vec![
            ("+14255550101".into(), true),
            ("+14255550102".into(), false)
        ]
    );
    assert_eq!(p.ending.requeue, PROGRESS_REQUEUE);
}

#[test]
fn a_person_added_tag_stays_and_a_declared_one_is_set() {
    let g = group("ACTIVE", &[("added-by-hand", "x")]);
    let mut c = Case::new(obj(json!({"tags": {"team": "a"}})), vec![g.clone()]);
    c.numbers = Some(vec![]);
    assert!(matches!(c.read(&recorded()), Read::Described { .. }));
    c.described = Some(g);
    let p = c.plan(&recorded());
    assert!(
        matches!(&p.writes[..], [Write::Tag { tags, .. }] if tags.get("team").map(String::as_str) == Some("a"))
    );
    assert_eq!(
        p.tags_landed.as_ref().map(|t| t.managed_tags.clone()),
        Some(vec!["team".to_string()])
    );
}

#[test]
fn nothing_declared_and_nothing_set_before_reads_no_tags() {
    let mut c = Case::new(obj(json!({})), vec![group("ACTIVE", &[])]);
    c.numbers = Some(vec![]);
    let p = c.plan(&recorded());
    assert!(p.writes.is_empty());
    assert_eq!(reason(&p), "Ready");
}
