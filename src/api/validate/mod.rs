//! The admission checks of the CRDs (OpenAPI patterns, limits and CEL rules) as plain Rust
//! functions, for places without an API server (`connect-gr plan -f DIR`) and for the
//! controller's own defence in depth. The messages are the same strings the CEL rules carry
//! (`crd.rs` builds the rules from the constants below), so a user sees the same text either way.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::OnceLock;

use regex::Regex;

use super::agent_membership::{AgentMembershipSpec, AgentSelector};
use super::caller_denylist::CallerDenylistSpec;
use super::common::*;
use super::instance_replica::InstanceReplicaSpec;
use super::regions::{REGION_PATTERN, RegionPairs};
use super::traffic_distribution::TrafficDistributionSpec;
use super::traffic_distribution_group::TrafficDistributionGroupSpec;

/// One violation: the field path (as the API server prints it) and the message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

/// Messages shared with the CEL rules.
pub mod msg {
    pub const REPLICA_REGION_DIFFERS: &str = "replicaRegion must differ from sourceRegion";
    pub const ARN_REGION_IS_SOURCE: &str = "instanceId is an ARN of another region than sourceRegion: give the source instance's ARN (or its id)";
    pub const ALIAS_NOT_D: &str = "replicaAlias must not start with d-";
    pub const IMMUTABLE_INSTANCE_ID: &str = "instanceId is immutable";
    pub const IMMUTABLE_SOURCE_REGION: &str = "sourceRegion is immutable";
    pub const IMMUTABLE_REPLICA_REGION: &str = "replicaRegion is immutable";
    pub const IMMUTABLE_ALIAS: &str = "replicaAlias is immutable";
    pub const REF_XOR_ARN: &str = "set exactly one of replicaRef and instanceArn";
    pub const IMMUTABLE_INSTANCE: &str = "replicaRef and instanceArn are immutable";
    pub const IMMUTABLE_DEFAULT: &str = "default is immutable";
    pub const IMMUTABLE_NAME: &str = "name (the Connect name) is immutable";
    pub const IMMUTABLE_DESCRIPTION: &str =
        "description is immutable: Connect cannot change the description of an existing group";
    pub const IMMUTABLE_GROUP_REF: &str = "groupRef is immutable";
    pub const IMMUTABLE_TABLE: &str = "tableName is immutable";
    pub const TAG_AWS_PREFIX: &str = "tag keys must not start with aws:";
    pub const DEFAULT_GROUP_RETAINED: &str =
        "the default group cannot be deleted: deletionPolicy must be Retain when default is true";
    pub const USERS_OR_SELECTOR: &str = "declare at least one user or a selector";
    pub const SELECTOR_EMPTY: &str =
        "selector must set at least one of routingProfiles, hierarchyGroups and tags";
    pub const TWO_REGIONS: &str = "must list exactly two regions (rule D2)";
    pub const REGION_KEYS: &str = "keys must be AWS region names such as us-east-1";
    pub const MULTIPLE_OF_10: &str = "percentages must be multiples of 10 (rule D2)";
    pub const SUM_100: &str = "percentages must add up to 100 (rule D2)";
    pub const PERCENT_RANGE: &str = "percentages must be between 0 and 100";
    pub const SIGN_IN_ONE: &str = "signIn must enable at least one region (rule D3)";
    pub const SAME_REGIONS: &str = "telephony, agents and signIn must list the same two regions";
    pub const ONE_PART: &str = "set at least one of telephony, agents and signIn";
    pub const TELEPHONY_WITHOUT_AGENTS: &str = "telephony sends calls to a region that receives 0% of the agents; set allowTelephonyWithoutAgents: true to allow it (rule D4)";
    pub const STEP_MULTIPLE_OF_10: &str =
        "rollout.stepPercent must be a multiple of 10 between 10 and 100";
    pub const PAUSE_RANGE: &str = "rollout.pauseSeconds must be between 0 and 86400";
    pub const ONE_GATE_KIND: &str = "a gate sets exactly one of agentsAvailable, oldestContactAge, contactsInQueue, webhook, approval";
    pub const FAILURE_LIMIT_RANGE: &str = "rollout.failureLimit must be between 1 and 100";
    pub const WEBHOOK_URL: &str = "webhook.url must be an https:// URL";
    pub const CA_BUNDLE: &str = "webhook.caBundle must be base64 of PEM CA certificates";
    pub const DRIFT_PAUSE_RANGE: &str = "driftPauseSeconds must be between 0 and 604800";
    pub const REGION_NAME: &str = "must be an AWS region name such as us-east-1";
    pub const E164: &str = "must be a phone number in E.164 format such as +14255550100";
    pub const DUPLICATE: &str = "duplicate entry";

    /// The pair-table message (the table is part of the message).
    pub fn pair(table: &str) -> String {
        format!("sourceRegion and replicaRegion must be a replication pair (rule R1): {table}")
    }
    /// The map-pair message.
    pub fn map_pair(table: &str) -> String {
        format!("the two regions must be a replication pair (rule R1): {table}")
    }
}

fn re(cell: &'static OnceLock<Regex>, pattern: &str) -> &'static Regex {
    cell.get_or_init(|| Regex::new(pattern).expect("valid pattern"))
}

macro_rules! matcher {
    ($name:ident, $pat:expr) => {
        pub fn $name(s: &str) -> bool {
            static CELL: OnceLock<Regex> = OnceLock::new();
            re(&CELL, $pat).is_match(s)
        }
    };
}

matcher!(is_region, REGION_PATTERN);
matcher!(is_instance_id_or_arn, INSTANCE_ID_OR_ARN_PATTERN);
matcher!(is_instance_arn, INSTANCE_ARN_PATTERN);
matcher!(is_alias, ALIAS_PATTERN);
matcher!(is_connect_name, CONNECT_NAME_PATTERN);
matcher!(is_e164, E164_PATTERN);
matcher!(is_table_name, TABLE_NAME_PATTERN);
matcher!(is_lambda_name, LAMBDA_NAME_PATTERN);
matcher!(is_username, USERNAME_PATTERN);
matcher!(is_tag_key, TAG_KEY_PATTERN);
matcher!(is_object_name, OBJECT_NAME_PATTERN);

#[derive(Default)]
struct Errs(Vec<FieldError>);

impl Errs {
    fn push(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.0.push(FieldError {
            field: field.into(),
            message: message.into(),
        });
    }
    fn check(&mut self, ok: bool, field: &str, message: &str) {
        if !ok {
            self.push(field, message);
        }
    }
    fn done(self) -> Result<(), Vec<FieldError>> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(self.0)
        }
    }
}

fn pattern_msg(pattern: &str) -> String {
    format!("should match '{pattern}'")
}

fn check_len(e: &mut Errs, field: &str, s: &str, min: usize, max: usize) {
    let n = s.chars().count();
    if n < min {
        e.push(field, format!("should be at least {min} chars long"));
    } else if n > max {
        e.push(field, format!("may not be more than {max} bytes"));
    }
}

fn check_ref(e: &mut Errs, field: &str, r: &ObjectRef) {
    check_len(e, &format!("{field}.name"), &r.name, 1, REFERENCE_NAME_MAX);
    if !r.name.is_empty() && !is_object_name(&r.name) {
        e.push(format!("{field}.name"), pattern_msg(OBJECT_NAME_PATTERN));
    }
}

fn check_set<'a>(
    e: &mut Errs,
    field: &str,
    items: impl IntoIterator<Item = &'a String>,
    max: usize,
    item_ok: impl Fn(&str) -> bool,
    item_msg: &str,
) {
    let mut seen = std::collections::BTreeSet::new();
    let mut n = 0;
    for (i, it) in items.into_iter().enumerate() {
        n += 1;
        if !item_ok(it) {
            e.push(format!("{field}[{i}]"), item_msg);
        }
        if !seen.insert(it.as_str()) {
            e.push(
                format!("{field}[{i}]"),
                format!("{}: {it:?}", msg::DUPLICATE),
            );
        }
    }
    if n > max {
        e.push(field, format!("must have at most {max} items"));
    }
}

fn check_tags(e: &mut Errs, field: &str, tags: &BTreeMap<String, String>) {
    if tags.len() > MAX_TAGS {
        e.push(field, format!("must have at most {MAX_TAGS} items"));
    }
    for (k, v) in tags {
        if !is_tag_key(k) {
            e.push(format!("{field}[{k}]"), pattern_msg(TAG_KEY_PATTERN));
        }
        if k.starts_with("aws:") {
            e.push(field, msg::TAG_AWS_PREFIX);
        }
        if v.chars().count() > TAG_VALUE_MAX {
            e.push(
                format!("{field}[{k}]"),
                format!("may not be more than {TAG_VALUE_MAX} bytes"),
            );
        }
    }
}

/// Admission checks of an InstanceReplica spec.
pub fn instance_replica(
    s: &InstanceReplicaSpec,
    pairs: &RegionPairs,
) -> Result<(), Vec<FieldError>> {
    let mut e = Errs::default();
    e.check(
        is_instance_id_or_arn(&s.instance_id),
        "spec.instanceId",
        &pattern_msg(INSTANCE_ID_OR_ARN_PATTERN),
    );
    e.check(
        is_region(&s.source_region),
        "spec.sourceRegion",
        msg::REGION_NAME,
    );
    e.check(
        is_region(&s.replica_region),
        "spec.replicaRegion",
        msg::REGION_NAME,
    );
    check_len(&mut e, "spec.replicaAlias", &s.replica_alias, 1, ALIAS_MAX);
    e.check(
        is_alias(&s.replica_alias),
        "spec.replicaAlias",
        &pattern_msg(ALIAS_PATTERN),
    );
    e.check(
        !s.replica_alias.starts_with("d-"),
        "spec.replicaAlias",
        msg::ALIAS_NOT_D,
    );
    if s.instance_id.starts_with("arn:")
        && s.instance_id.split(':').nth(3) != Some(s.source_region.as_str())
    {
        e.push("spec", msg::ARN_REGION_IS_SOURCE);
    }
    if s.source_region == s.replica_region {
        e.push("spec", msg::REPLICA_REGION_DIFFERS);
    } else if !pairs.can_replicate(&s.source_region, &s.replica_region) {
        e.push("spec", msg::pair(&pairs.describe()));
    }
    e.done()
}

/// Transition checks of an InstanceReplica (update from `old` to `new`).
pub fn instance_replica_update(
    old: &InstanceReplicaSpec,
    new: &InstanceReplicaSpec,
) -> Result<(), Vec<FieldError>> {
    let mut e = Errs::default();
    e.check(
        old.instance_id == new.instance_id,
        "spec.instanceId",
        msg::IMMUTABLE_INSTANCE_ID,
    );
    e.check(
        old.source_region == new.source_region,
        "spec.sourceRegion",
        msg::IMMUTABLE_SOURCE_REGION,
    );
    e.check(
        old.replica_region == new.replica_region,
        "spec.replicaRegion",
        msg::IMMUTABLE_REPLICA_REGION,
    );
    e.check(
        old.replica_alias == new.replica_alias,
        "spec.replicaAlias",
        msg::IMMUTABLE_ALIAS,
    );
    e.done()
}

/// Admission checks of a TrafficDistributionGroup spec.
pub fn traffic_distribution_group(s: &TrafficDistributionGroupSpec) -> Result<(), Vec<FieldError>> {
    let mut e = Errs::default();
    if s.replica_ref.is_some() == s.instance_arn.is_some() {
        e.push("spec", msg::REF_XOR_ARN);
    }
    if let Some(r) = &s.replica_ref {
        check_ref(&mut e, "spec.replicaRef", r);
    }
    if let Some(a) = &s.instance_arn {
        e.check(
            is_instance_arn(a),
            "spec.instanceArn",
            &pattern_msg(INSTANCE_ARN_PATTERN),
        );
    }
    if let Some(n) = &s.name {
        check_len(&mut e, "spec.name", n, 1, TDG_NAME_MAX);
        e.check(
            is_connect_name(n),
            "spec.name",
            &pattern_msg(CONNECT_NAME_PATTERN),
        );
    }
    if let Some(d) = &s.description {
        check_len(&mut e, "spec.description", d, 1, DESCRIPTION_MAX);
        e.check(
            is_connect_name(d),
            "spec.description",
            &pattern_msg(CONNECT_NAME_PATTERN),
        );
    }
    check_tags(&mut e, "spec.tags", &s.tags);
    check_set(
        &mut e,
        "spec.phoneNumbers",
        &s.phone_numbers,
        MAX_GROUP_PHONE_NUMBERS,
        is_e164,
        msg::E164,
    );
    if s.default && s.deletion_policy == DeletionPolicy::Delete {
        e.push("spec", msg::DEFAULT_GROUP_RETAINED);
    }
    e.done()
}

/// Transition checks of a TrafficDistributionGroup.
pub fn traffic_distribution_group_update(
    old: &TrafficDistributionGroupSpec,
    new: &TrafficDistributionGroupSpec,
) -> Result<(), Vec<FieldError>> {
    let mut e = Errs::default();
    e.check(
        old.replica_ref == new.replica_ref && old.instance_arn == new.instance_arn,
        "spec",
        msg::IMMUTABLE_INSTANCE,
    );
    e.check(
        old.default == new.default,
        "spec.default",
        msg::IMMUTABLE_DEFAULT,
    );
    e.check(old.name == new.name, "spec", msg::IMMUTABLE_NAME);
    e.check(
        old.description == new.description,
        "spec",
        msg::IMMUTABLE_DESCRIPTION,
    );
    e.done()
}

fn check_selector(e: &mut Errs, sel: &AgentSelector) {
    if sel.is_empty() {
        e.push("spec.selector", msg::SELECTOR_EMPTY);
    }
    let name_ok = |s: &str| !s.is_empty() && s.chars().count() <= SELECTOR_NAME_MAX;
    let name_msg = format!("must be 1-{SELECTOR_NAME_MAX} characters");
    check_set(
        e,
        "spec.selector.routingProfiles",
        &sel.routing_profiles,
        MAX_SELECTOR_NAMES,
        name_ok,
        &name_msg,
    );
    check_set(
        e,
        "spec.selector.hierarchyGroups",
        &sel.hierarchy_groups,
        MAX_SELECTOR_NAMES,
        name_ok,
        &name_msg,
    );
    check_tags(e, "spec.selector.tags", &sel.tags);
}

/// Admission checks of an AgentMembership spec.
pub fn agent_membership(s: &AgentMembershipSpec) -> Result<(), Vec<FieldError>> {
    let mut e = Errs::default();
    check_ref(&mut e, "spec.groupRef", &s.group_ref);
    check_set(
        &mut e,
        "spec.users",
        &s.users,
        MAX_USERS,
        is_username,
        &pattern_msg(USERNAME_PATTERN),
    );
    if s.users.is_empty() && s.selector.is_none() {
        e.push("spec", msg::USERS_OR_SELECTOR);
    }
    if let Some(sel) = &s.selector {
        check_selector(&mut e, sel);
    }
    check_drift_pause(&mut e, s.drift_pause_seconds);
    e.done()
}

fn check_drift_pause(e: &mut Errs, seconds: i64) {
    e.check(
        (0..=super::drift::MAX_DRIFT_PAUSE_SECONDS).contains(&seconds),
        "spec.driftPauseSeconds",
        msg::DRIFT_PAUSE_RANGE,
    );
}

/// Transition checks of an AgentMembership.
pub fn agent_membership_update(
    old: &AgentMembershipSpec,
    new: &AgentMembershipSpec,
) -> Result<(), Vec<FieldError>> {
    let mut e = Errs::default();
    e.check(
        old.group_ref == new.group_ref,
        "spec.groupRef",
        msg::IMMUTABLE_GROUP_REF,
    );
    e.done()
}

/// Admission checks of a CallerDenylist spec.
pub fn caller_denylist(s: &CallerDenylistSpec) -> Result<(), Vec<FieldError>> {
    let mut e = Errs::default();
    check_ref(&mut e, "spec.groupRef", &s.group_ref);
    e.check(
        is_table_name(&s.table_name),
        "spec.tableName",
        &pattern_msg(TABLE_NAME_PATTERN),
    );
    check_set(
        &mut e,
        "spec.numbers",
        &s.numbers,
        MAX_DENYLIST_NUMBERS,
        is_e164,
        msg::E164,
    );
    if let Some(l) = &s.lambda_functions {
        e.check(
            is_lambda_name(&l.add),
            "spec.lambdaFunctions.add",
            &pattern_msg(LAMBDA_NAME_PATTERN),
        );
        e.check(
            is_lambda_name(&l.check),
            "spec.lambdaFunctions.check",
            &pattern_msg(LAMBDA_NAME_PATTERN),
        );
    }
    e.done()
}

/// Transition checks of a CallerDenylist.
pub fn caller_denylist_update(
    old: &CallerDenylistSpec,
    new: &CallerDenylistSpec,
) -> Result<(), Vec<FieldError>> {
    let mut e = Errs::default();
    e.check(
        old.group_ref == new.group_ref,
        "spec.groupRef",
        msg::IMMUTABLE_GROUP_REF,
    );
    e.check(
        old.table_name == new.table_name,
        "spec.tableName",
        msg::IMMUTABLE_TABLE,
    );
    e.done()
}

/// Validate one manifest (any of the five kinds, as parsed YAML/JSON). Objects of other kinds
/// or API groups are ignored (Ok). Parse errors are reported as a FieldError on `spec`.
pub fn manifest(doc: &serde_json::Value, pairs: &RegionPairs) -> Result<(), Vec<FieldError>> {
    use super::*;
    let api_version = doc.get("apiVersion").and_then(|v| v.as_str()).unwrap_or("");
    if api_version != format!("{GROUP}/{VERSION}") {
        return Ok(());
    }
    let kind = doc.get("kind").and_then(|v| v.as_str()).unwrap_or("");
    fn parse<T: serde::de::DeserializeOwned>(
        doc: &serde_json::Value,
    ) -> Result<T, Vec<FieldError>> {
        let spec = doc.get("spec").cloned().unwrap_or(serde_json::Value::Null);
        serde_json::from_value(spec).map_err(|err| {
            vec![FieldError {
                field: "spec".into(),
                message: err.to_string(),
            }]
        })
    }
    match kind {
        "InstanceReplica" => instance_replica(&parse(doc)?, pairs),
        "TrafficDistributionGroup" => traffic_distribution_group(&parse(doc)?),
        "AgentMembership" => agent_membership(&parse(doc)?),
        "TrafficDistribution" => traffic_distribution(&parse(doc)?, pairs),
        "CallerDenylist" => caller_denylist(&parse(doc)?),
        other => Err(vec![FieldError {
            field: "kind".into(),
            message: format!("unknown kind {other:?} in {GROUP}/{VERSION}"),
        }]),
    }
}

/// Transition checks for an update of one manifest (`old` and `new` of the same kind and name).
/// Objects of other kinds or API groups are ignored (Ok).
pub fn manifest_update(
    old: &serde_json::Value,
    new: &serde_json::Value,
) -> Result<(), Vec<FieldError>> {
    use super::*;
    if new.get("apiVersion").and_then(|v| v.as_str()) != Some(&format!("{GROUP}/{VERSION}")) {
        return Ok(());
    }
    fn spec<T: serde::de::DeserializeOwned>(doc: &serde_json::Value) -> Result<T, Vec<FieldError>> {
        serde_json::from_value(doc.get("spec").cloned().unwrap_or_default()).map_err(|err| {
            vec![FieldError {
                field: "spec".into(),
                message: err.to_string(),
            }]
        })
    }
    match new.get("kind").and_then(|v| v.as_str()).unwrap_or("") {
        "InstanceReplica" => instance_replica_update(&spec(old)?, &spec(new)?),
        "TrafficDistributionGroup" => traffic_distribution_group_update(&spec(old)?, &spec(new)?),
        "AgentMembership" => agent_membership_update(&spec(old)?, &spec(new)?),
        "TrafficDistribution" => traffic_distribution_update(&spec(old)?, &spec(new)?),
        "CallerDenylist" => caller_denylist_update(&spec(old)?, &spec(new)?),
        _ => Ok(()),
    }
}

mod distribution;
pub use distribution::{percentages, traffic_distribution, traffic_distribution_update};
