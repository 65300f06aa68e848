//! Unit tests of the types, the generated CRDs and the Rust validation functions.

use std::collections::BTreeMap;

use proptest::prelude::*;
use serde_json::json;

use super::validate::{self, msg};
use super::*;

fn pairs() -> RegionPairs {
    RegionPairs::default()
}

fn map<V: Clone>(kv: &[(&str, V)]) -> BTreeMap<String, V> {
    kv.iter().map(|(k, v)| (k.to_string(), v.clone())).collect()
}

fn irep() -> InstanceReplicaSpec {
    InstanceReplicaSpec {
        instance_id: "4f5e3c1a-7b2d-4c8e-9a10-2b3c4d5e6f70".into(),
        source_region: "us-west-2".into(),
        replica_region: "us-east-1".into(),
        replica_alias: "support-center-east".into(),
    }
}

fn tdg() -> TrafficDistributionGroupSpec {
    TrafficDistributionGroupSpec {
        replica_ref: Some(ObjectRef::new("support-center")),
        instance_arn: None,
        default: true,
        name: None,
        description: Some("Default group".into()),
        tags: map(&[("team", "support".to_string())]),
        phone_numbers: vec!["+14255550100".into()],
        deletion_policy: DeletionPolicy::Retain,
        adopt: false,
    }
}

fn tdist() -> TrafficDistributionSpec {
    TrafficDistributionSpec {
        group_ref: ObjectRef::new("support-default"),
        telephony: Some(map(&[("us-west-2", 60), ("us-east-1", 40)])),
        agents: Some(map(&[("us-west-2", 50), ("us-east-1", 50)])),
        sign_in: Some(map(&[("us-west-2", true), ("us-east-1", true)])),
        allow_telephony_without_agents: false,
        rollout: None,
        drift_policy: None,
        drift_pause_seconds: 3600,
        accept_risks: vec![],
        cross_region_routing: None,
    }
}

fn agm() -> AgentMembershipSpec {
    AgentMembershipSpec {
        group_ref: ObjectRef::new("support-default"),
        mode: MembershipMode::Additive,
        users: vec!["alice".into(), "bob".into()],
        selector: None,
        deletion_policy: DeletionPolicy::Retain,
        drift_policy: None,
        drift_pause_seconds: 3600,
    }
}

fn cdl() -> CallerDenylistSpec {
    CallerDenylistSpec {
        group_ref: ObjectRef::new("support-default"),
        table_name: "DenylistingTable".into(),
        numbers: vec!["+12065550123".into()],
        lambda_functions: Some(LambdaFunctions {
            add: "denylist-add".into(),
            check: "denylist-check".into(),
        }),
    }
}

fn messages<T>(r: Result<T, Vec<validate::FieldError>>) -> Vec<String> {
    match r {
        Ok(_) => vec![],
        Err(e) => e.into_iter().map(|e| e.to_string()).collect(),
    }
}

fn assert_rejects<T>(r: Result<T, Vec<validate::FieldError>>, needle: &str) {
    let m = messages(r);
    assert!(
        m.iter().any(|m| m.contains(needle)),
        "expected an error containing {needle:?}, got {m:?}"
    );
}

#[test]
fn valid_specs_pass() {
    validate::instance_replica(&irep(), &pairs()).unwrap();
    validate::traffic_distribution_group(&tdg()).unwrap();
    validate::agent_membership(&agm()).unwrap();
    validate::traffic_distribution(&tdist(), &pairs()).unwrap();
    validate::caller_denylist(&cdl()).unwrap();
}

#[test]
fn instance_replica_rules() {
    let p = pairs();
    let mut s = irep();
    s.replica_region = "us-west-2".into();
    assert_rejects(
        validate::instance_replica(&s, &p),
        msg::REPLICA_REGION_DIFFERS,
    );
    s.replica_region = "eu-west-2".into();
    assert_rejects(
        validate::instance_replica(&s, &p),
        "replication pair (rule R1)",
    );
    let mut s = irep();
    s.source_region = "ap-northeast-3".into();
    s.replica_region = "ap-northeast-1".into();
    assert_rejects(validate::instance_replica(&s, &p), "replication pair");
    let extended = RegionPairs::with_extra(["ap-northeast-3->ap-northeast-1".parse().unwrap()]);
    validate::instance_replica(&s, &extended).unwrap();
    let mut s = irep();
    s.source_region = "US-WEST-2".into();
    assert_rejects(validate::instance_replica(&s, &p), msg::REGION_NAME);
    let mut s = irep();
    s.instance_id = "not-an-id".into();
    assert_rejects(validate::instance_replica(&s, &p), "spec.instanceId");
    s.instance_id =
        "arn:aws:connect:us-west-2:123456789012:instance/4f5e3c1a-7b2d-4c8e-9a10-2b3c4d5e6f70"
            .into();
    validate::instance_replica(&s, &p).unwrap();
    let mut s = irep();
    s.replica_alias = "d-abc".into();
    assert_rejects(validate::instance_replica(&s, &p), msg::ALIAS_NOT_D);
    s.replica_alias = "a".repeat(46);
    assert_rejects(
        validate::instance_replica(&s, &p),
        "may not be more than 45",
    );
    s.replica_alias = "-east".into();
    assert_rejects(validate::instance_replica(&s, &p), "should match");
    let mut new = irep();
    new.replica_alias = "other".into();
    new.instance_id = "00000000-0000-0000-0000-000000000000".into();
    let m = messages(validate::instance_replica_update(&irep(), &new));
    assert!(m.iter().any(|m| m.contains(msg::IMMUTABLE_ALIAS)));
    assert!(m.iter().any(|m| m.contains(msg::IMMUTABLE_INSTANCE_ID)));
    validate::instance_replica_update(&irep(), &irep()).unwrap();
}

#[test]
fn traffic_distribution_group_rules() {
    let mut s = tdg();
    s.instance_arn = Some(
        "arn:aws:connect:us-west-2:123456789012:instance/4f5e3c1a-7b2d-4c8e-9a10-2b3c4d5e6f70"
            .into(),
    );
    assert_rejects(validate::traffic_distribution_group(&s), msg::REF_XOR_ARN);
    s.replica_ref = None;
    validate::traffic_distribution_group(&s).unwrap();
    s.instance_arn = None;
    assert_rejects(validate::traffic_distribution_group(&s), msg::REF_XOR_ARN);
    let mut s = tdg();
    s.instance_arn = None;
    s.deletion_policy = DeletionPolicy::Delete;
    assert_rejects(
        validate::traffic_distribution_group(&s),
        msg::DEFAULT_GROUP_RETAINED,
    );
    let mut s = tdg();
    s.phone_numbers = vec!["4255550100".into()];
    assert_rejects(validate::traffic_distribution_group(&s), msg::E164);
    s.phone_numbers = vec!["+14255550100".into(), "+14255550100".into()];
    assert_rejects(validate::traffic_distribution_group(&s), msg::DUPLICATE);
    let mut s = tdg();
    s.tags.insert("aws:owner".into(), "x".into());
    assert_rejects(
        validate::traffic_distribution_group(&s),
        msg::TAG_AWS_PREFIX,
    );
    let mut s = tdg();
    s.name = Some(" padded".into());
    assert_rejects(validate::traffic_distribution_group(&s), "spec.name");
    s.name = Some("x".repeat(129));
    assert_rejects(validate::traffic_distribution_group(&s), "128");
    let mut s = tdg();
    s.tags = (0..51).map(|i| (format!("k{i}"), "v".into())).collect();
    assert_rejects(validate::traffic_distribution_group(&s), "at most 50");

    let mut new = tdg();
    new.default = false;
    new.name = Some("renamed".into());
    let m = messages(validate::traffic_distribution_group_update(&tdg(), &new));
    assert!(m.iter().any(|m| m.contains(msg::IMMUTABLE_DEFAULT)));
    assert!(m.iter().any(|m| m.contains(msg::IMMUTABLE_NAME)));
    let mut new = tdg();
    new.description = Some("changed".into());
    let m = messages(validate::traffic_distribution_group_update(&tdg(), &new));
    assert!(m.iter().any(|m| m.contains(msg::IMMUTABLE_DESCRIPTION)));
    let mut new = tdg();
    new.tags.insert("tier".into(), "gold".into());
    new.phone_numbers.push("+14255550101".into());
    validate::traffic_distribution_group_update(&tdg(), &new).unwrap();
}

#[test]
fn agent_membership_rules() {
    let mut s = agm();
    s.users.clear();
    assert_rejects(validate::agent_membership(&s), msg::USERS_OR_SELECTOR);
    s.selector = Some(AgentSelector::default());
    assert_rejects(validate::agent_membership(&s), msg::SELECTOR_EMPTY);
    s.selector = Some(AgentSelector {
        routing_profiles: vec!["Basic Routing Profile".into()],
        ..Default::default()
    });
    validate::agent_membership(&s).unwrap();
    let mut s = agm();
    s.users.push("bad user".into());
    assert_rejects(validate::agent_membership(&s), "spec.users[2]");
    let mut s = agm();
    s.group_ref.name = "Not_A_Name".into();
    assert_rejects(validate::agent_membership(&s), "spec.groupRef.name");
    let mut new = agm();
    new.group_ref.name = "other".into();
    assert_rejects(
        validate::agent_membership_update(&agm(), &new),
        msg::IMMUTABLE_GROUP_REF,
    );
    let mut new = agm();
    new.mode = MembershipMode::Exact;
    validate::agent_membership_update(&agm(), &new).unwrap();
}

#[test]
fn traffic_distribution_rules() {
    let p = pairs();
    let check = |f: &dyn Fn(&mut TrafficDistributionSpec), needle: &str| {
        let mut s = tdist();
        f(&mut s);
        assert_rejects(validate::traffic_distribution(&s, &p), needle);
    };
    check(
        &|s| s.telephony = Some(map(&[("us-west-2", 55), ("us-east-1", 45)])),
        msg::MULTIPLE_OF_10,
    );
    check(
        &|s| s.telephony = Some(map(&[("us-west-2", 60), ("us-east-1", 60)])),
        msg::SUM_100,
    );
    check(
        &|s| s.agents = Some(map(&[("us-west-2", 100)])),
        msg::TWO_REGIONS,
    );
    check(
        &|s| s.agents = Some(map(&[("us-west-2", 50), ("eu-west-2", 50)])),
        "replication pair",
    );
    check(
        &|s| s.agents = Some(map(&[("us-west-2", 150), ("us-east-1", -50)])),
        msg::PERCENT_RANGE,
    );
    check(
        &|s| s.agents = Some(map(&[("uswest2", 50), ("us-east-1", 50)])),
        msg::REGION_KEYS,
    );
    check(
        &|s| s.sign_in = Some(map(&[("us-west-2", false), ("us-east-1", false)])),
        msg::SIGN_IN_ONE,
    );
    check(
        &|s| {
            s.telephony = Some(map(&[("eu-central-1", 50), ("eu-west-2", 50)]));
            s.agents = Some(map(&[("eu-central-1", 50), ("eu-west-2", 50)]));
        },
        msg::SAME_REGIONS,
    );
    check(
        &|s| {
            s.telephony = None;
            s.agents = None;
            s.sign_in = None;
        },
        msg::ONE_PART,
    );
    check(
        &|s| {
            s.telephony = Some(map(&[("us-west-2", 0), ("us-east-1", 100)]));
            s.agents = Some(map(&[("us-west-2", 100), ("us-east-1", 0)]));
        },
        msg::TELEPHONY_WITHOUT_AGENTS,
    );
    check(
        &|s| {
            s.rollout = Some(Rollout {
                step_percent: 15,
                ..Default::default()
            })
        },
        msg::STEP_MULTIPLE_OF_10,
    );
    check(
        &|s| {
            s.rollout = Some(Rollout {
                pause_seconds: 90_000,
                ..Default::default()
            })
        },
        msg::PAUSE_RANGE,
    );
    check(
        &|s| {
            s.rollout = Some(Rollout {
                gates: vec![crate::api::Gate {
                    name: "two-kinds".into(),
                    agents_available: None,
                    oldest_contact_age: None,
                    contacts_in_queue: None,
                    webhook: None,
                    approval: None,
                }],
                ..Default::default()
            })
        },
        msg::ONE_GATE_KIND,
    );
    check(
        &|s| {
            s.rollout = Some(Rollout {
                failure_limit: 0,
                ..Default::default()
            })
        },
        msg::FAILURE_LIMIT_RANGE,
    );
    check(
        &|s| {
            s.rollout = Some(Rollout {
                gates: vec![crate::api::Gate {
                    name: "tls".into(),
                    agents_available: None,
                    oldest_contact_age: None,
                    contacts_in_queue: None,
                    webhook: Some(crate::api::rollout::WebhookGate {
                        url: "http://checker.example/gate".into(),
                        timeout_seconds: 5,
                        ca_bundle: None,
                    }),
                    approval: None,
                }],
                ..Default::default()
            })
        },
        msg::WEBHOOK_URL,
    );
    check(
        &|s| {
            s.rollout = Some(Rollout {
                gates: vec![crate::api::Gate {
                    name: "tls".into(),
                    agents_available: None,
                    oldest_contact_age: None,
                    contacts_in_queue: None,
                    webhook: Some(crate::api::rollout::WebhookGate {
                        url: "https://checker.ops.svc/gate".into(),
                        timeout_seconds: 5,
                        ca_bundle: Some("bm90IGEgY2VydGlmaWNhdGU=".into()),
                    }),
                    approval: None,
                }],
                ..Default::default()
            })
        },
        msg::CA_BUNDLE,
    );
    check(&|s| s.drift_pause_seconds = -1, msg::DRIFT_PAUSE_RANGE);
    check(&|s| s.drift_pause_seconds = 604_801, msg::DRIFT_PAUSE_RANGE);
    // explicit opt-in allows telephony without agents
    let mut s = tdist();
    s.telephony = Some(map(&[("us-west-2", 0), ("us-east-1", 100)]));
    s.agents = Some(map(&[("us-west-2", 100), ("us-east-1", 0)]));
    s.allow_telephony_without_agents = true;
    validate::traffic_distribution(&s, &p).unwrap();
    // full failover (D5)
    let mut s = tdist();
    s.telephony = Some(map(&[("us-west-2", 0), ("us-east-1", 100)]));
    s.agents = Some(map(&[("us-west-2", 0), ("us-east-1", 100)]));
    s.sign_in = Some(map(&[("us-west-2", false), ("us-east-1", true)]));
    validate::traffic_distribution(&s, &p).unwrap();
    let mut new = tdist();
    new.group_ref.name = "other".into();
    assert_rejects(
        validate::traffic_distribution_update(&tdist(), &new),
        msg::IMMUTABLE_GROUP_REF,
    );
}

#[test]
fn caller_denylist_rules() {
    let mut s = cdl();
    s.table_name = "ab".into();
    assert_rejects(validate::caller_denylist(&s), "spec.tableName");
    let mut s = cdl();
    s.numbers = vec!["+0123".into()];
    assert_rejects(validate::caller_denylist(&s), msg::E164);
    let mut s = cdl();
    s.lambda_functions.as_mut().unwrap().check = "arn:aws:lambda:x".into();
    assert_rejects(validate::caller_denylist(&s), "spec.lambdaFunctions.check");
    let mut new = cdl();
    new.table_name = "Other".into();
    assert_rejects(
        validate::caller_denylist_update(&cdl(), &new),
        msg::IMMUTABLE_TABLE,
    );
}

#[test]
fn manifest_dispatches_on_kind() {
    let p = pairs();
    let doc = json!({
        "apiVersion": "connectgr.io/v1alpha1", "kind": "TrafficDistribution",
        "metadata": {"name": "x"},
        "spec": {"groupRef": {"name": "g"}, "telephony": {"us-west-2": 70, "us-east-1": 20}}
    });
    assert_rejects(validate::manifest(&doc, &p), msg::SUM_100);
    let other = json!({"apiVersion": "v1", "kind": "ConfigMap"});
    validate::manifest(&other, &p).unwrap();
    let broken =
        json!({"apiVersion": "connectgr.io/v1alpha1", "kind": "CallerDenylist", "spec": {}});
    assert_rejects(validate::manifest(&broken, &p), "missing field");
}

#[test]
fn manifest_update_dispatches_on_kind() {
    let old = json!({"apiVersion": "connectgr.io/v1alpha1", "kind": "AgentMembership",
        "spec": {"groupRef": {"name": "a"}, "users": ["alice"]}});
    let mut new = old.clone();
    new["spec"]["users"] = json!(["alice", "bob"]);
    validate::manifest_update(&old, &new).unwrap();
    new["spec"]["groupRef"]["name"] = json!("b");
    assert_rejects(
        validate::manifest_update(&old, &new),
        msg::IMMUTABLE_GROUP_REF,
    );
}

proptest! {
    /// Any two multiples of 10 adding up to 100 pass; anything else fails with the right message.
    #[test]
    fn percentages_rule_d2(a in -20i32..130, b in -20i32..130) {
        let m = map(&[("us-west-2", a), ("us-east-1", b)]);
        let r = validate::percentages("spec.telephony", &m, &pairs());
        let ok = (0..=100).contains(&a) && (0..=100).contains(&b) && a % 10 == 0 && b % 10 == 0 && a + b == 100;
        prop_assert_eq!(r.is_ok(), ok);
        if a % 10 != 0 || b % 10 != 0 {
            prop_assert!(messages(r.clone()).iter().any(|m| m.contains(msg::MULTIPLE_OF_10)));
        }
        if a + b != 100 {
            prop_assert!(messages(r).iter().any(|m| m.contains(msg::SUM_100)));
        }
    }

    /// Valid splits in steps of 10: always accepted, for every pair of the table, in any order.
    #[test]
    fn every_valid_split_passes(t in 0i32..=10, g in 0i32..=10, pair in 0usize..3, swap: bool) {
        let table = pairs();
        let p = &table.pairs()[pair];
        let (r1, r2) = if swap { (&p.replica, &p.source) } else { (&p.source, &p.replica) };
        let mut s = tdist();
        s.telephony = Some(map(&[(r1, t * 10), (r2, 100 - t * 10)]));
        s.agents = Some(map(&[(r1, g * 10), (r2, 100 - g * 10)]));
        s.sign_in = Some(map(&[(r1, true), (r2, g > 0)]));
        s.allow_telephony_without_agents = true;
        prop_assert!(validate::traffic_distribution(&s, &table).is_ok());
        // D4: without the opt-in, telephony to a region without agents is refused
        s.allow_telephony_without_agents = false;
        let starved = (t > 0 && g == 0) || (t < 10 && g == 10);
        prop_assert_eq!(validate::traffic_distribution(&s, &table).is_err(), starved);
    }

    /// E.164: '+', a non-zero digit, then 1-14 digits.
    #[test]
    fn e164(n in "\\+?[0-9]{0,17}") {
        let ok = n.starts_with('+') && n.len() >= 3 && n.len() <= 16 && !n[1..].starts_with('0');
        prop_assert_eq!(validate::is_e164(&n), ok);
    }
}

#[test]
fn crds_have_names_columns_and_rules() {
    let crds = crd::all_crds(&pairs());
    let names: Vec<_> = crds
        .iter()
        .map(|c| c.metadata.name.clone().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "instancereplicas.connectgr.io",
            "trafficdistributiongroups.connectgr.io",
            "agentmemberships.connectgr.io",
            "trafficdistributions.connectgr.io",
            "callerdenylists.connectgr.io",
            "failoverdrills.connectgr.io"
        ]
    );
    for c in &crds {
        assert_eq!(c.spec.scope, "Namespaced");
        assert_eq!(
            c.spec.names.categories.as_deref(),
            Some(&["connectgr".to_string()][..])
        );
        assert_eq!(c.spec.names.short_names.as_ref().map(|s| s.len()), Some(1));
        let v = &c.spec.versions[0];
        assert!(v.subresources.as_ref().unwrap().status.is_some());
        let cols = v.additional_printer_columns.as_ref().unwrap();
        assert!(cols.iter().any(|c| c.name == "Ready"));
        assert!(cols.iter().any(|c| c.name == "Age"));
        let json = serde_json::to_string(c).unwrap();
        assert!(
            json.contains("x-kubernetes-validations"),
            "{}",
            c.spec.names.kind
        );
        assert!(json.contains("\"x-kubernetes-list-map-keys\":[\"type\"]"));
    }
}

/// Every property of every spec and status has a description (the `kubectl explain` text).
#[test]
fn every_field_is_documented() {
    fn walk(path: &str, v: &serde_json::Value, missing: &mut Vec<String>) {
        if let Some(props) = v.get("properties").and_then(|p| p.as_object()) {
            for (k, p) in props {
                let sub = format!("{path}.{k}");
                if p.get("description").is_none() {
                    missing.push(sub.clone());
                }
                walk(&sub, p, missing);
            }
        }
        if let Some(items) = v.get("items") {
            walk(&format!("{path}[]"), items, missing);
        }
    }
    let mut missing = Vec::new();
    for c in crd::all_crds(&pairs()) {
        let v = serde_json::to_value(&c.spec.versions[0].schema).unwrap();
        let schema = &v["openAPIV3Schema"];
        for top in ["spec", "status"] {
            walk(
                &format!("{}.{top}", c.spec.names.kind),
                &schema["properties"][top],
                &mut missing,
            );
        }
    }
    assert!(
        missing.is_empty(),
        "fields without description: {missing:?}"
    );
}

#[test]
fn extra_pairs_reach_the_cel_rules() {
    let extended = RegionPairs::with_extra(["ca-central-1<->us-east-2".parse().unwrap()]);
    let yaml = crd::multi_doc_yaml(&extended);
    assert!(yaml.contains("ca-central-1"));
    assert!(!crd::multi_doc_yaml(&pairs()).contains("ca-central-1"));
}

#[test]
fn status_round_trips_with_camel_case_names() {
    let st = AgentMembershipStatus {
        observed_generation: Some(3),
        associated: Some("4980/5000".into()),
        pending_count: Some(20),
        ..Default::default()
    };
    let v = serde_json::to_value(&st).unwrap();
    assert_eq!(
        v,
        json!({"observedGeneration": 3, "associated": "4980/5000", "pendingCount": 20})
    );
    let td = TrafficDistributionStatus {
        split: Some("T 60/40 A 50/50".into()),
        served_by: Some("us-east-1".into()),
        ..Default::default()
    };
    assert_eq!(
        serde_json::to_value(&td).unwrap(),
        json!({"split": "T 60/40 A 50/50", "servedBy": "us-east-1"})
    );
}
