//! The Connect operations: routing of (method, path) to an operation, and each operation's
//! behaviour and rules (R1-R7, G1-G6, D1-D5, A1-A4).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde_json::{Map, Value, json};
use uuid::Uuid;

use super::error::{ApiError, invalid_parameter, invalid_request, not_found};
use super::model::*;
use super::page;
use super::validate::{self as v, Body};

/// Operations the emulator serves (name as in the model).
pub const OPERATIONS: &[&str] = &[
    "ReplicateInstance",
    "DescribeInstance",
    "ListInstances",
    "CreateTrafficDistributionGroup",
    "DescribeTrafficDistributionGroup",
    "ListTrafficDistributionGroups",
    "DeleteTrafficDistributionGroup",
    "UpdateTrafficDistribution",
    "GetTrafficDistribution",
    "AssociateTrafficDistributionGroupUser",
    "DisassociateTrafficDistributionGroupUser",
    "ListTrafficDistributionGroupUsers",
    "ListUsers",
    "SearchUsers",
    "DescribeUser",
    "CreateUser",
    "DeleteUser",
    "ListRoutingProfiles",
    "ListUserHierarchyGroups",
    "ClaimPhoneNumber",
    "UpdatePhoneNumber",
    "ReleasePhoneNumber",
    "DescribePhoneNumber",
    "ListPhoneNumbersV2",
    "AssociateLambdaFunction",
    "DisassociateLambdaFunction",
    "ListLambdaFunctions",
];

pub enum Route {
    Op(&'static str, Vec<String>),
    /// The path is known but not with this method.
    WrongMethod,
    Unknown,
}

/// Routes on the raw path split on `/` before percent-decoding each segment (labels may be ARNs
/// with `%3A`/`%2F`).
pub fn route(method: &str, raw_path: &str) -> Route {
    let segs: Vec<String> = raw_path
        .strip_prefix('/')
        .unwrap_or(raw_path)
        .split('/')
        .map(|s| {
            percent_encoding::percent_decode_str(s)
                .decode_utf8_lossy()
                .into_owned()
        })
        .collect();
    if segs.iter().any(|s| s.is_empty()) {
        return Route::Unknown;
    }
    let s: Vec<&str> = segs.iter().map(|s| s.as_str()).collect();
    let (op, labels): (&[(&str, &'static str)], Vec<String>) = match s.as_slice() {
        ["instance"] => (&[("GET", "ListInstances")], vec![]),
        ["instance", id] => (&[("GET", "DescribeInstance")], vec![id.to_string()]),
        ["instance", id, "replicate"] => (&[("POST", "ReplicateInstance")], vec![id.to_string()]),
        ["instance", id, "lambda-function"] => (
            &[
                ("PUT", "AssociateLambdaFunction"),
                ("DELETE", "DisassociateLambdaFunction"),
            ],
            vec![id.to_string()],
        ),
        ["instance", id, "lambda-functions"] => {
            (&[("GET", "ListLambdaFunctions")], vec![id.to_string()])
        }
        ["traffic-distribution-group"] => (&[("PUT", "CreateTrafficDistributionGroup")], vec![]),
        ["traffic-distribution-groups"] => (&[("GET", "ListTrafficDistributionGroups")], vec![]),
        ["traffic-distribution-group", id] => (
            &[
                ("GET", "DescribeTrafficDistributionGroup"),
                ("DELETE", "DeleteTrafficDistributionGroup"),
            ],
            vec![id.to_string()],
        ),
        ["traffic-distribution-group", id, "user"] => (
            &[
                ("PUT", "AssociateTrafficDistributionGroupUser"),
                ("DELETE", "DisassociateTrafficDistributionGroupUser"),
                ("GET", "ListTrafficDistributionGroupUsers"),
            ],
            vec![id.to_string()],
        ),
        ["traffic-distribution", id] => (
            &[
                ("PUT", "UpdateTrafficDistribution"),
                ("GET", "GetTrafficDistribution"),
            ],
            vec![id.to_string()],
        ),
        ["users-summary", inst] => (&[("GET", "ListUsers")], vec![inst.to_string()]),
        ["search-users"] => (&[("POST", "SearchUsers")], vec![]),
        ["tags", arn] => (
            &[
                ("POST", "TagResource"),
                ("DELETE", "UntagResource"),
                ("GET", "ListTagsForResource"),
            ],
            vec![arn.to_string()],
        ),
        ["users", inst] => (&[("PUT", "CreateUser")], vec![inst.to_string()]),
        ["users", inst, user] => (
            &[("GET", "DescribeUser"), ("DELETE", "DeleteUser")],
            vec![inst.to_string(), user.to_string()],
        ),
        ["routing-profiles-summary", inst] => {
            (&[("GET", "ListRoutingProfiles")], vec![inst.to_string()])
        }
        ["user-hierarchy-groups-summary", inst] => (
            &[("GET", "ListUserHierarchyGroups")],
            vec![inst.to_string()],
        ),
        ["phone-number", "claim"] if method == "POST" => (&[("POST", "ClaimPhoneNumber")], vec![]),
        ["phone-number", "list"] if method == "POST" => (&[("POST", "ListPhoneNumbersV2")], vec![]),
        ["phone-number", id] => (
            &[
                ("PUT", "UpdatePhoneNumber"),
                ("DELETE", "ReleasePhoneNumber"),
                ("GET", "DescribePhoneNumber"),
            ],
            vec![id.to_string()],
        ),
        _ => return Route::Unknown,
    };
    match op.iter().find(|(m, _)| *m == method) {
        Some((_, name)) => Route::Op(name, labels),
        None => Route::WrongMethod,
    }
}

/// Whether `op` declares InvalidParameterException (else bad input is InvalidRequestException).
pub fn param_error_type(op: &str) -> &'static str {
    match op {
        "ReplicateInstance"
        | "DescribeInstance"
        | "ListInstances"
        | "CreateTrafficDistributionGroup"
        | "DescribeTrafficDistributionGroup"
        | "ListTrafficDistributionGroups"
        | "DeleteTrafficDistributionGroup"
        | "UpdateTrafficDistribution"
        | "GetTrafficDistribution"
        | "AssociateTrafficDistributionGroupUser"
        | "DisassociateTrafficDistributionGroupUser"
        | "ListTrafficDistributionGroupUsers" => "InvalidRequestException",
        _ => "InvalidParameterException",
    }
}

pub struct Ctx<'a> {
    pub op: &'static str,
    pub region: &'a str,
    pub now: f64,
    pub t: &'a Timings,
    pub max_users: usize,
}

impl Ctx<'_> {
    pub fn bad(&self, msg: impl Into<String>) -> ApiError {
        ApiError::new(param_error_type(self.op), msg)
    }
}

pub struct Req {
    pub labels: Vec<String>,
    pub query: HashMap<String, String>,
    /// Every value of a repeated query parameter (UntagResource's `tagKeys`).
    pub query_all: Vec<(String, String)>,
    pub body: Value,
}

impl Req {
    fn q_int(&self, ctx: &Ctx, k: &str) -> Result<Option<i64>, ApiError> {
        match self.query.get(k) {
            None => Ok(None),
            Some(s) => s
                .parse::<i64>()
                .map(Some)
                .map_err(|_| ctx.bad(format!("{k} must be an integer, got {s:?}"))),
        }
    }
}

type R = Result<Value, ApiError>;

pub fn execute(st: &mut State, ctx: &Ctx, req: &Req) -> R {
    st.tick(ctx.now);
    match ctx.op {
        "ReplicateInstance" => replicate_instance(st, ctx, req),
        "DescribeInstance" => describe_instance(st, ctx, req),
        "ListInstances" => list_instances(st, ctx, req),
        "CreateTrafficDistributionGroup" => create_tdg(st, ctx, req),
        "DescribeTrafficDistributionGroup" => describe_tdg(st, ctx, req),
        "TagResource" => tag_resource(st, ctx, req),
        "UntagResource" => untag_resource(st, ctx, req),
        "ListTagsForResource" => list_tags(st, ctx, req),
        "ListTrafficDistributionGroups" => list_tdgs(st, ctx, req),
        "DeleteTrafficDistributionGroup" => delete_tdg(st, ctx, req),
        "UpdateTrafficDistribution" => update_distribution(st, ctx, req),
        "GetTrafficDistribution" => get_distribution(st, ctx, req),
        "AssociateTrafficDistributionGroupUser" => associate_user(st, ctx, req, true),
        "DisassociateTrafficDistributionGroupUser" => associate_user(st, ctx, req, false),
        "ListTrafficDistributionGroupUsers" => list_tdg_users(st, ctx, req),
        "ListUsers" => list_users(st, ctx, req),
        "SearchUsers" => search_users(st, ctx, req),
        "DescribeUser" => describe_user(st, ctx, req),
        "CreateUser" => create_user(st, ctx, req),
        "DeleteUser" => delete_user(st, ctx, req),
        "ListRoutingProfiles" => list_named(st, ctx, req, true),
        "ListUserHierarchyGroups" => list_named(st, ctx, req, false),
        "ClaimPhoneNumber" => claim_phone(st, ctx, req),
        "UpdatePhoneNumber" => update_phone(st, ctx, req),
        "ReleasePhoneNumber" => release_phone(st, ctx, req),
        "DescribePhoneNumber" => describe_phone(st, ctx, req),
        "ListPhoneNumbersV2" => list_phones(st, ctx, req),
        "AssociateLambdaFunction" => associate_lambda(st, ctx, req),
        "DisassociateLambdaFunction" => disassociate_lambda(st, ctx, req),
        "ListLambdaFunctions" => list_lambdas(st, ctx, req),
        other => Err(ApiError::new(
            "UnknownOperationException",
            format!("unknown operation {other}"),
        )),
    }
}

// ------------------------------------------------------------------ helpers

fn body<'a>(req: &'a Req) -> Body<'a> {
    Body(&req.body)
}

fn b<T>(ctx: &Ctx, r: Result<T, String>) -> Result<T, ApiError> {
    r.map_err(|m| ctx.bad(m))
}

/// Resolves an instance id (or ARN when `allow_arn`) to an instance present in the calling region.
fn find_instance<'s>(
    st: &'s State,
    ctx: &Ctx,
    id_or_arn: &str,
    allow_arn: bool,
) -> Result<&'s Instance, ApiError> {
    let id = if allow_arn {
        if !v::INSTANCE_ID_OR_ARN.is_match(id_or_arn) || id_or_arn.len() > 250 {
            return Err(ctx.bad(format!(
                "InstanceId {id_or_arn:?} is not an instance id or instance ARN"
            )));
        }
        id_or_arn.rsplit('/').next().unwrap_or(id_or_arn)
    } else {
        if !v::len_ok(id_or_arn, 1, 100) {
            return Err(ctx.bad("InstanceId must be 1-100 characters"));
        }
        id_or_arn
    };
    let inst = st
        .instances
        .get(id)
        .filter(|i| i.present_in(ctx.region))
        .ok_or_else(|| not_found(format!("Instance {id} does not exist in {}", ctx.region)))?;
    if id_or_arn.starts_with("arn:")
        && let Some(a) = v::parse_arn(id_or_arn)
        && (!inst.present_in(a.region) || a.account != inst.account)
    {
        return Err(not_found(format!("Instance {id_or_arn} does not exist")));
    }
    Ok(inst)
}

/// Mirrored resources of the instance must be readable in the calling region.
fn find_instance_mirrored<'s>(
    st: &'s State,
    ctx: &Ctx,
    id: &str,
) -> Result<&'s Instance, ApiError> {
    let inst = find_instance(st, ctx, id, false)?;
    if !inst.mirrored_in(ctx.region, ctx.now, ctx.t) {
        return Err(not_found(format!(
            "Instance {id} is still being replicated to {}; its resources are not available there yet",
            ctx.region
        )));
    }
    Ok(inst)
}

/// G3: by id or ARN in the source region, by ARN only from the replica region.
fn find_tdg_id(st: &State, ctx: &Ctx, id_or_arn: &str) -> Result<String, ApiError> {
    if !v::TDG_ID_OR_ARN.is_match(id_or_arn) {
        return Err(ctx.bad(format!(
            "{id_or_arn:?} is not a traffic distribution group id or ARN"
        )));
    }
    let is_arn = id_or_arn.starts_with("arn:");
    let id = id_or_arn.rsplit('/').next().unwrap_or(id_or_arn);
    let missing = || {
        not_found(format!(
            "Traffic distribution group {id_or_arn} does not exist in {}",
            ctx.region
        ))
    };
    let g = st.tdgs.get(id).ok_or_else(missing)?;
    let inst = st.instances.get(&g.instance_id).ok_or_else(missing)?;
    if !inst.present_in(ctx.region) {
        return Err(missing());
    }
    if is_arn {
        let a = v::parse_arn(id_or_arn).ok_or_else(missing)?;
        if a.region != g.region || a.account != g.account {
            return Err(missing());
        }
    } else if ctx.region != g.region {
        return Err(not_found(format!(
            "Traffic distribution group {id} not found in {}: from a replica region, address the group by its ARN ({})",
            ctx.region,
            g.arn()
        )));
    }
    Ok(g.id.clone())
}

fn dist_json(d: &[(String, i64)]) -> Value {
    json!({"Distributions": d.iter().map(|(r, p)| json!({"Region": r, "Percentage": p})).collect::<Vec<_>>()})
}

fn user_arn(inst: &Instance, region: &str, user_id: &str) -> String {
    format!("{}/agent/{user_id}", inst.arn(region))
}

/// Idempotency with ClientToken: same token and parameters give the same result; a different
/// request under the same token gives IdempotencyException when `strict`, else the original.
fn idem_lookup(
    st: &State,
    ctx: &Ctx,
    token: Option<&str>,
    params: &Value,
    strict: bool,
) -> Option<R> {
    let token = token?;
    let key = (
        st.account().to_string(),
        ctx.op.to_string(),
        token.to_string(),
    );
    let hit = st.idempotency.get(&key)?;
    if &hit.params == params || !strict {
        Some(Ok(hit.response.clone()))
    } else {
        Some(Err(ApiError::new(
            "IdempotencyException",
            format!(
                "ClientToken {token} was already used for a different {} request",
                ctx.op
            ),
        )))
    }
}

fn idem_store(st: &mut State, ctx: &Ctx, token: Option<&str>, params: Value, response: &Value) {
    if let Some(token) = token {
        let key = (
            st.account().to_string(),
            ctx.op.to_string(),
            token.to_string(),
        );
        st.idempotency.insert(
            key,
            Idem {
                params,
                response: response.clone(),
            },
        );
    }
}

fn without(body: &Value, key: &str) -> Value {
    let mut v = body.clone();
    if let Value::Object(m) = &mut v {
        m.remove(key);
    }
    v
}

fn client_token<'a>(ctx: &Ctx, bd: &Body<'a>) -> Result<Option<&'a str>, ApiError> {
    let t = b(ctx, bd.str("ClientToken"))?;
    if let Some(t) = t
        && !v::len_ok(t, 0, 500)
    {
        return Err(ctx.bad("ClientToken must be at most 500 characters"));
    }
    Ok(t)
}

fn max_results(ctx: &Ctx, n: Option<i64>, default: usize, max: usize) -> Result<usize, ApiError> {
    page::page_size(n, default, max).map_err(|m| ctx.bad(m))
}

fn next_token_after(ctx: &Ctx, token: Option<&str>) -> Result<Option<String>, ApiError> {
    match token {
        None => Ok(None),
        Some(t) => page::decode(ctx.op, t).map(Some).ok_or_else(|| {
            ctx.bad(format!(
                "The NextToken is not valid for {}; pass back the token of the previous page",
                ctx.op
            ))
        }),
    }
}

// ------------------------------------------------------------------ instances

fn replicate_instance(st: &mut State, ctx: &Ctx, req: &Req) -> R {
    let bd = body(req);
    let region = b(ctx, bd.req_str("ReplicaRegion"))?;
    if !v::len_ok(region, 8, 31) || !v::REGION.is_match(region) {
        return Err(ctx.bad(format!("ReplicaRegion {region:?} is not a region name")));
    }
    let alias = b(ctx, bd.str("ReplicaAlias"))?;
    if let Some(a) = alias
        && (!v::len_ok(a, 1, 45) || !v::alias_ok(a))
    {
        return Err(ctx.bad(format!(
            "ReplicaAlias {a:?} must be 1-45 letters, digits and hyphens, not starting with d-"
        )));
    }
    let token = client_token(ctx, &bd)?;
    let params =
        json!({"InstanceId": req.labels[0], "ReplicaRegion": region, "ReplicaAlias": alias});
    if let Some(r) = idem_lookup(st, ctx, token, &params, false) {
        return r;
    }
    let inst = find_instance(st, ctx, &req.labels[0], true)?.clone();
    if inst.region != ctx.region {
        return Err(invalid_request(format!(
            "Instance {} is a replica in {}; call ReplicateInstance in its source region {}",
            inst.id, ctx.region, inst.region
        )));
    }
    if region == inst.region {
        return Err(invalid_request(format!(
            "ReplicaRegion {region} is the instance's own region; choose the paired region"
        )));
    }
    if let Some(r) = &inst.replica {
        return Err(invalid_request(format!(
            "Instance {} is already replicated to {} by an earlier ReplicateInstance call; an instance has at most one replica",
            inst.id, r.region
        )));
    }
    if !st
        .region_pairs
        .iter()
        .any(|(a, b)| a == &inst.region && b == region)
    {
        let allowed: Vec<&str> = st
            .region_pairs
            .iter()
            .filter(|(a, _)| a == &inst.region)
            .map(|(_, b)| b.as_str())
            .collect();
        return Err(invalid_request(format!(
            "{} cannot be replicated to {region}: replication works only between paired regions (from {} to: {})",
            inst.region,
            inst.region,
            if allowed.is_empty() {
                "none".to_string()
            } else {
                allowed.join(", ")
            }
        )));
    }
    let Some(src_alias) = inst.alias.clone() else {
        return Err(invalid_request(format!(
            "Instance {} has no alias; only instances with an alias can be replicated",
            inst.id
        )));
    };
    if inst.status != "ACTIVE" {
        return Err(invalid_request(format!(
            "Instance {} is {}; it must be ACTIVE to be replicated",
            inst.id, inst.status
        )));
    }
    if inst.identity_management_type != "SAML" {
        return Err(invalid_request(format!(
            "Instance {} uses {} identity management; only SAML-enabled instances can be replicated",
            inst.id, inst.identity_management_type
        )));
    }
    let replica_alias = alias
        .map(str::to_string)
        .unwrap_or_else(|| src_alias.clone());
    if let Some(other) = st.instances.values().find(|o| {
        o.id != inst.id
            && ((o.region == region && o.alias.as_deref() == Some(replica_alias.as_str()))
                || o.replica
                    .as_ref()
                    .is_some_and(|r| r.region == region && r.alias == replica_alias))
    }) {
        return Err(ApiError::new(
            "ResourceConflictException",
            format!(
                "Resource name conflict in {region}: instance alias {replica_alias:?} is already used by instance {}; choose another ReplicaAlias (or remove that instance) and call ReplicateInstance again",
                other.id
            ),
        ));
    }
    let i = st.instances.get_mut(&inst.id).expect("instance");
    i.replica = Some(Replica {
        region: region.to_string(),
        alias: replica_alias,
        started: ctx.now,
        fails: inst.replication_fails,
    });
    st.create_default_tdg(&inst.id, ctx.now, ctx.t);
    let out = json!({"Id": inst.id, "Arn": inst.arn(region)});
    idem_store(st, ctx, token, params, &out);
    Ok(out)
}

fn instance_summary(i: &Instance, region: &str, now: f64, t: &Timings) -> Map<String, Value> {
    let is_replica = region != i.region;
    let status = if is_replica {
        match i.replication(now, t) {
            Replication::InProgress => "CREATION_IN_PROGRESS",
            Replication::Failed => "CREATION_FAILED",
            _ => "ACTIVE",
        }
    } else {
        i.status.as_str()
    };
    let alias = if is_replica {
        i.replica.as_ref().map(|r| r.alias.clone())
    } else {
        i.alias.clone()
    };
    let mut m = Map::new();
    m.insert("Id".into(), json!(i.id));
    m.insert("Arn".into(), json!(i.arn(region)));
    m.insert(
        "IdentityManagementType".into(),
        json!(i.identity_management_type),
    );
    if let Some(a) = &alias {
        m.insert("InstanceAlias".into(), json!(a));
        m.insert(
            "InstanceAccessUrl".into(),
            json!(format!("https://{a}.my.connect.aws")),
        );
    }
    m.insert(
        "CreatedTime".into(),
        json!(
            if is_replica {
                i.replica.as_ref().map(|r| r.started).unwrap_or(i.created)
            } else {
                i.created
            }
            .floor()
        ),
    );
    m.insert(
        "ServiceRole".into(),
        json!(format!(
            "arn:aws:iam::{}:role/aws-service-role/connect.amazonaws.com/AWSServiceRoleForAmazonConnect_{}",
            i.account,
            &i.id[..8]
        )),
    );
    m.insert("InstanceStatus".into(), json!(status));
    m.insert("InboundCallsEnabled".into(), json!(true));
    m.insert("OutboundCallsEnabled".into(), json!(true));
    m
}

fn describe_instance(st: &mut State, ctx: &Ctx, req: &Req) -> R {
    let inst = find_instance(st, ctx, &req.labels[0], false)?;
    let mut m = instance_summary(inst, ctx.region, ctx.now, ctx.t);
    if inst.region != ctx.region && inst.replication(ctx.now, ctx.t) == Replication::Failed {
        m.insert(
            "StatusReason".into(),
            json!({"Message": "Replication failed; contact AWS Support"}),
        );
    }
    m.insert("Tags".into(), json!({}));
    let mut out = json!({"Instance": m});
    if let Some(r) = &inst.replica {
        let rep = inst.replication(ctx.now, ctx.t);
        let status = replication_status(rep).unwrap_or("RESOURCE_REPLICATION_NOT_STARTED");
        let entry = |region: &str| {
            let mut e = json!({"Region": region, "ReplicationStatus": status});
            if rep == Replication::Failed {
                e["ReplicationStatusReason"] = json!(format!(
                    "Replication of instance {} to {} failed",
                    inst.id, r.region
                ));
            }
            e
        };
        out["ReplicationConfiguration"] = json!({
            "ReplicationStatusSummaryList": [entry(&inst.region), entry(&r.region)],
            "SourceRegion": inst.region,
            "GlobalSignInEndpoint": format!("https://{}.global.my.connect.aws", inst.alias.clone().unwrap_or_else(|| inst.id[..8].to_string())),
        });
    }
    Ok(out)
}

fn list_instances(st: &mut State, ctx: &Ctx, req: &Req) -> R {
    let size = max_results(ctx, req.q_int(ctx, "maxResults")?, 10, 10)?;
    let items: Vec<&Instance> = st
        .instances
        .values()
        .filter(|i| i.present_in(ctx.region))
        .collect();
    let (page, next) = page::paginate(
        ctx.op,
        items,
        |i| i.id.clone(),
        req.query.get("nextToken").map(|s| s.as_str()),
        size,
    )
    .map_err(|m| ctx.bad(m))?;
    let list: Vec<Value> = page
        .into_iter()
        .map(|i| Value::Object(instance_summary(i, ctx.region, ctx.now, ctx.t)))
        .collect();
    let mut out = json!({"InstanceSummaryList": list});
    if let Some(n) = next {
        out["NextToken"] = json!(n);
    }
    Ok(out)
}

// ------------------------------------------------------------------ traffic distribution groups

fn tdg_json(st: &State, g: &Tdg, now: f64) -> Value {
    let inst = &st.instances[&g.instance_id];
    let mut v = json!({
        "Id": g.id, "Arn": g.arn(), "Name": g.name,
        "InstanceArn": inst.arn(&inst.region), "Status": g.status(now), "Tags": g.tags,
        "IsDefault": g.is_default,
    });
    if let Some(d) = &g.description {
        v["Description"] = json!(d);
    }
    v
}

fn create_tdg(st: &mut State, ctx: &Ctx, req: &Req) -> R {
    let bd = body(req);
    let name = b(ctx, bd.req_str("Name"))?;
    if !v::len_ok(name, 1, 128) || !v::trimmed_ok(name) {
        return Err(ctx.bad("Name must be 1-128 characters without leading or trailing whitespace"));
    }
    let description = b(ctx, bd.str("Description"))?;
    if let Some(d) = description
        && (!v::len_ok(d, 1, 250) || !v::trimmed_ok(d))
    {
        return Err(
            ctx.bad("Description must be 1-250 characters without leading or trailing whitespace")
        );
    }
    let instance = b(ctx, bd.req_str("InstanceId"))?;
    let tags = b(ctx, bd.tags("Tags"))?.unwrap_or_default();
    let token = client_token(ctx, &bd)?;
    let params = without(&req.body, "ClientToken");
    if let Some(r) = idem_lookup(st, ctx, token, &params, false) {
        return r;
    }
    let inst = find_instance(st, ctx, instance, true)?.clone();
    let Some(replica) = inst.replica.clone() else {
        return Err(invalid_request(format!(
            "Instance {} is not replicated: call ReplicateInstance before creating a traffic distribution group",
            inst.id
        )));
    };
    if ctx.region != inst.region {
        return Err(invalid_request(format!(
            "Create traffic distribution groups in the source region {} (where ReplicateInstance was called), not in {}",
            inst.region, ctx.region
        )));
    }
    match inst.replication(ctx.now, ctx.t) {
        Replication::InProgress => {
            return Err(ApiError::new(
                "ResourceNotReadyException",
                format!(
                    "Replication of instance {} to {} is still in progress; retry when it is complete",
                    inst.id, replica.region
                ),
            ));
        }
        Replication::Failed => {
            return Err(invalid_request(format!(
                "Replication of instance {} failed",
                inst.id
            )));
        }
        _ => {}
    }
    if let Some(g) = st
        .tdgs
        .values()
        .find(|g| g.instance_id == inst.id && g.name == name)
    {
        return Err(ApiError::new(
            "ResourceConflictException",
            format!(
                "A traffic distribution group named {name:?} already exists for this instance ({})",
                g.arn()
            ),
        ));
    }
    if st
        .tdgs
        .values()
        .filter(|g| g.instance_id == inst.id)
        .count()
        >= 50
    {
        return Err(ApiError::new(
            "ServiceQuotaExceededException",
            "The instance already has 50 traffic distribution groups",
        ));
    }
    let g = Tdg {
        id: Uuid::new_v4().to_string(),
        account: inst.account.clone(),
        instance_id: inst.id.clone(),
        region: inst.region.clone(),
        name: name.to_string(),
        description: description.map(str::to_string),
        tags,
        is_default: false,
        created: ctx.now,
        active_at: ctx.now + ctx.t.tdg_create_s,
        update_until: 0.0,
        delete_at: None,
        creation_fails: false,
        telephony: vec![(inst.region.clone(), 100), (replica.region.clone(), 0)],
        agents: vec![(inst.region.clone(), 100), (replica.region.clone(), 0)],
        sign_in: None,
        users: BTreeSet::new(),
        client_token: token.map(str::to_string),
    };
    let out = json!({"Id": g.id, "Arn": g.arn()});
    st.tdgs.insert(g.id.clone(), g);
    idem_store(st, ctx, token, params, &out);
    Ok(out)
}

fn describe_tdg(st: &mut State, ctx: &Ctx, req: &Req) -> R {
    let id = find_tdg_id(st, ctx, &req.labels[0])?;
    Ok(json!({"TrafficDistributionGroup": tdg_json(st, &st.tdgs[&id], ctx.now)}))
}

/// The group a tagging call names by ARN (tags are only emulated for groups).
fn tagged_tdg(st: &State, ctx: &Ctx, arn: &str) -> Result<String, ApiError> {
    if !arn.starts_with("arn:") || !arn.contains(":traffic-distribution-group/") {
        return Err(ctx.bad(format!(
            "{arn:?}: this emulator tags traffic distribution groups only, addressed by ARN"
        )));
    }
    find_tdg_id(st, ctx, arn)
}

fn tag_resource(st: &mut State, ctx: &Ctx, req: &Req) -> R {
    let id = tagged_tdg(st, ctx, &req.labels[0])?;
    let bd = body(req);
    let tags = b(ctx, bd.tags("tags"))?.ok_or_else(|| ctx.bad("tags is required"))?;
    let g = st.tdgs.get_mut(&id).expect("found above");
    let mut merged = g.tags.clone();
    merged.extend(tags);
    if merged.len() > 50 {
        return Err(ctx.bad("a resource can carry at most 50 tags"));
    }
    g.tags = merged;
    Ok(json!({}))
}

fn untag_resource(st: &mut State, ctx: &Ctx, req: &Req) -> R {
    let id = tagged_tdg(st, ctx, &req.labels[0])?;
    let keys: Vec<&str> = req
        .query_all
        .iter()
        .filter(|(k, _)| k == "tagKeys")
        .map(|(_, v)| v.as_str())
        .collect();
    if keys.is_empty() || keys.len() > 50 {
        return Err(ctx.bad("tagKeys must name between 1 and 50 keys"));
    }
    let g = st.tdgs.get_mut(&id).expect("found above");
    for k in keys {
        g.tags.remove(k);
    }
    Ok(json!({}))
}

fn list_tags(st: &mut State, ctx: &Ctx, req: &Req) -> R {
    let id = tagged_tdg(st, ctx, &req.labels[0])?;
    Ok(json!({"tags": st.tdgs[&id].tags}))
}

fn list_tdgs(st: &mut State, ctx: &Ctx, req: &Req) -> R {
    let size = max_results(ctx, req.q_int(ctx, "maxResults")?, 10, 10)?;
    let filter = match req.query.get("instanceId") {
        None => None,
        Some(i) => match find_instance(st, ctx, i, true) {
            Ok(inst) => Some(inst.id.clone()),
            Err(e) if e.error_type == "ResourceNotFoundException" => Some(String::new()),
            Err(e) => return Err(e),
        },
    };
    let items: Vec<&Tdg> = st
        .tdgs
        .values()
        .filter(|g| filter.as_ref().is_none_or(|f| *f == g.instance_id))
        .filter(|g| {
            st.instances
                .get(&g.instance_id)
                .is_some_and(|i| i.present_in(ctx.region))
        })
        .collect();
    let (page, next) = page::paginate(
        ctx.op,
        items,
        |g| g.id.clone(),
        req.query.get("nextToken").map(|s| s.as_str()),
        size,
    )
    .map_err(|m| ctx.bad(m))?;
    let list: Vec<Value> = page
        .into_iter()
        .map(|g| {
            let inst = &st.instances[&g.instance_id];
            json!({"Id": g.id, "Arn": g.arn(), "Name": g.name, "InstanceArn": inst.arn(&inst.region),
                   "Status": g.status(ctx.now), "IsDefault": g.is_default})
        })
        .collect();
    let mut out = json!({"TrafficDistributionGroupSummaryList": list});
    if let Some(n) = next {
        out["NextToken"] = json!(n);
    }
    Ok(out)
}

fn delete_tdg(st: &mut State, ctx: &Ctx, req: &Req) -> R {
    // DeleteTrafficDistributionGroup declares no ResourceNotFoundException: unknown groups are
    // InvalidRequestException.
    let id = find_tdg_id(st, ctx, &req.labels[0]).map_err(|e| {
        if e.error_type == "ResourceNotFoundException" {
            invalid_request(e.message)
        } else {
            e
        }
    })?;
    let g = &st.tdgs[&id];
    if ctx.region != g.region {
        return Err(invalid_request(format!(
            "Delete traffic distribution group {} in its source region {}, not in {}",
            g.id, g.region, ctx.region
        )));
    }
    if g.is_default {
        return Err(invalid_request(format!(
            "{} is the default traffic distribution group; it cannot be deleted (it goes away with the replica, which only AWS Support can remove)",
            g.id
        )));
    }
    match g.status(ctx.now) {
        "PENDING_DELETION" => return Ok(json!({})),
        "CREATION_IN_PROGRESS" | "UPDATE_IN_PROGRESS" => {
            return Err(invalid_request(format!(
                "Traffic distribution group {} is {}; delete it once it is ACTIVE",
                g.id,
                g.status(ctx.now)
            )));
        }
        _ => {}
    }
    let arn = g.arn();
    if let Some(p) = st.phones.values().find(|p| p.target_arn == arn) {
        return Err(ApiError::new(
            "ResourceInUseException",
            format!(
                "Traffic distribution group {} still holds phone number {}; release it (ReleasePhoneNumber) or move it (UpdatePhoneNumber) first",
                g.id, p.number
            ),
        )
        .with("ResourceType", "PHONE_NUMBER")
        .with("ResourceId", p.arn()));
    }
    let g = st.tdgs.get_mut(&id).expect("tdg");
    g.delete_at = Some(ctx.now + ctx.t.tdg_delete_s);
    Ok(json!({}))
}

fn parse_pct(ctx: &Ctx, cfg: &Body, what: &str) -> Result<Vec<(String, i64)>, ApiError> {
    let list = b(ctx, cfg.list("Distributions"))?
        .ok_or_else(|| ctx.bad(format!("{what}.Distributions is required")))?;
    let mut out = Vec::new();
    for d in list {
        let d = Body(d);
        let region = b(ctx, d.req_str("Region"))?;
        let p = b(ctx, d.int("Percentage"))?
            .ok_or_else(|| ctx.bad(format!("{what}: Percentage is required")))?;
        out.push((region.to_string(), p));
    }
    Ok(out)
}

fn update_distribution(st: &mut State, ctx: &Ctx, req: &Req) -> R {
    let id = match find_tdg_id(st, ctx, &req.labels[0]) {
        Ok(id) => id,
        // D1: an unknown group is InvalidRequestException (a bare id from the replica stays
        // ResourceNotFoundException, G3).
        Err(e)
            if e.error_type == "ResourceNotFoundException" && !e.message.contains("by its ARN") =>
        {
            return Err(invalid_request(e.message));
        }
        Err(e) => return Err(e),
    };
    let g = &st.tdgs[&id];
    let status = g.status(ctx.now);
    if status != "ACTIVE" {
        return Err(invalid_request(format!(
            "Traffic distribution group {} is {status}; distributions can be updated only when it is ACTIVE",
            g.id
        )));
    }
    let inst = &st.instances[&g.instance_id];
    let regions = [inst.region.as_str(), inst.replica_region().unwrap_or("")];
    let bd = body(req);
    let tel = match b(ctx, bd.obj("TelephonyConfig"))? {
        Some(c) => Some(parse_pct(ctx, &c, "TelephonyConfig")?),
        None => None,
    };
    let ag = match b(ctx, bd.obj("AgentConfig"))? {
        Some(c) => Some(parse_pct(ctx, &c, "AgentConfig")?),
        None => None,
    };
    let si = match b(ctx, bd.obj("SignInConfig"))? {
        Some(c) => {
            let list = b(ctx, c.list("Distributions"))?
                .ok_or_else(|| ctx.bad("SignInConfig.Distributions is required"))?;
            let mut out = Vec::new();
            for d in list {
                let d = Body(d);
                let region = b(ctx, d.req_str("Region"))?;
                let e = b(ctx, d.bool("Enabled"))?
                    .ok_or_else(|| ctx.bad("SignInConfig: Enabled is required"))?;
                out.push((region.to_string(), e));
            }
            Some(out)
        }
        None => None,
    };
    if si.is_some() && !g.is_default {
        return Err(invalid_request(format!(
            "SignInConfig can be changed only on the default traffic distribution group; {} is not the default group (send AgentConfig and TelephonyConfig only)",
            g.id
        )));
    }
    if let Some(t) = &tel {
        v::percentages("TelephonyConfig", t, regions).map_err(invalid_request)?;
    }
    if let Some(a) = &ag {
        v::percentages("AgentConfig", a, regions).map_err(invalid_request)?;
    }
    if let Some(s) = &si {
        v::sign_in(s, regions).map_err(invalid_request)?;
    }
    let order = |mut d: Vec<(String, i64)>| {
        d.sort_by_key(|(r, _)| (r != regions[0]) as u8);
        d
    };
    let g = st.tdgs.get_mut(&id).expect("tdg");
    if let Some(t) = tel {
        g.telephony = order(t);
    }
    if let Some(a) = ag {
        g.agents = order(a);
    }
    if let Some(mut s) = si {
        s.sort_by_key(|(r, _)| (r != regions[0]) as u8);
        g.sign_in = Some(s);
    }
    g.update_until = ctx.now + ctx.t.tdg_update_s;
    Ok(json!({}))
}

fn get_distribution(st: &mut State, ctx: &Ctx, req: &Req) -> R {
    let id = find_tdg_id(st, ctx, &req.labels[0])?;
    let g = &st.tdgs[&id];
    let status = g.status(ctx.now);
    if status != "ACTIVE" {
        return Err(invalid_request(format!(
            "Traffic distribution group {} is {status}; its distribution can be read only when it is ACTIVE",
            g.id
        )));
    }
    let mut out = json!({
        "Id": g.id, "Arn": g.arn(),
        "TelephonyConfig": dist_json(&g.telephony),
        "AgentConfig": dist_json(&g.agents),
    });
    if let Some(s) = &g.sign_in {
        out["SignInConfig"] = json!({"Distributions": s.iter().map(|(r, e)| json!({"Region": r, "Enabled": e})).collect::<Vec<_>>()});
    }
    Ok(out)
}

fn associate_user(st: &mut State, ctx: &Ctx, req: &Req, associate: bool) -> R {
    let (user, instance) = if associate {
        let bd = body(req);
        (
            b(ctx, bd.req_str("UserId"))?.to_string(),
            b(ctx, bd.req_str("InstanceId"))?.to_string(),
        )
    } else {
        let q = |k: &str| {
            req.query
                .get(k)
                .cloned()
                .ok_or_else(|| ctx.bad(format!("{k} is required")))
        };
        (q("UserId")?, q("InstanceId")?)
    };
    if !v::len_ok(&instance, 1, 100) {
        return Err(ctx.bad("InstanceId must be 1-100 characters"));
    }
    let id = find_tdg_id(st, ctx, &req.labels[0])?;
    let g = &st.tdgs[&id];
    if ctx.region != g.region {
        return Err(invalid_request(format!(
            "Agents can be associated with traffic distribution group {} only in the region where it was created ({}), not in {}",
            g.id, g.region, ctx.region
        )));
    }
    let status = g.status(ctx.now);
    if status != "ACTIVE" {
        return Err(not_found(format!(
            "Traffic distribution group {} is {status}; users can be (dis)associated only when it is ACTIVE",
            g.id
        )));
    }
    let inst = st.instances[&g.instance_id].clone();
    let inst_id = instance.rsplit('/').next().unwrap_or(&instance);
    if inst_id != inst.id {
        return Err(not_found(format!(
            "Traffic distribution group {} belongs to instance {}, not {instance}",
            g.id, inst.id
        )));
    }
    let uid = if user.starts_with("arn:") {
        user.rsplit('/').next().unwrap_or(&user).to_string()
    } else {
        user.clone()
    };
    if associate {
        let u = st
            .users
            .get(&(inst.id.clone(), uid.clone()))
            .ok_or_else(|| {
                not_found(format!("User {user} is not a user of instance {}", inst.id))
            })?;
        let replica = inst.replica_region().unwrap_or_default();
        if !st.user_visible(u, &inst, replica, ctx.now, ctx.t) {
            return Err(not_found(format!(
                "User {} ({uid}) has not been replicated to {replica} yet; retry after replication has mirrored it",
                u.username
            )));
        }
        st.tdgs.get_mut(&id).expect("tdg").users.insert(uid);
    } else {
        if !st.users.contains_key(&(inst.id.clone(), uid.clone())) {
            return Err(not_found(format!(
                "User {user} is not a user of instance {}",
                inst.id
            )));
        }
        st.tdgs.get_mut(&id).expect("tdg").users.remove(&uid);
    }
    Ok(json!({}))
}

fn list_tdg_users(st: &mut State, ctx: &Ctx, req: &Req) -> R {
    let size = max_results(ctx, req.q_int(ctx, "maxResults")?, 10, 10)?;
    let after = next_token_after(ctx, req.query.get("nextToken").map(|s| s.as_str()))?;
    let id = find_tdg_id(st, ctx, &req.labels[0])?;
    let g = &st.tdgs[&id];
    let mut it: Box<dyn Iterator<Item = &String>> = match &after {
        Some(a) => Box::new(
            g.users
                .range::<String, _>((std::ops::Bound::Excluded(a), std::ops::Bound::Unbounded)),
        ),
        None => Box::new(g.users.iter()),
    };
    let page: Vec<&String> = it.by_ref().take(size).collect();
    let more = it.next().is_some();
    let mut out = json!({
        "TrafficDistributionGroupUserSummaryList": page.iter().map(|u| json!({"UserId": u})).collect::<Vec<_>>()
    });
    if more && let Some(l) = page.last() {
        out["NextToken"] = json!(page::encode(ctx.op, l));
    }
    Ok(out)
}

// ------------------------------------------------------------------ users

fn list_users(st: &mut State, ctx: &Ctx, req: &Req) -> R {
    let size = max_results(ctx, req.q_int(ctx, "maxResults")?, 100, 1000)?;
    let after = next_token_after(ctx, req.query.get("nextToken").map(|s| s.as_str()))?;
    let inst = find_instance_mirrored(st, ctx, &req.labels[0])?;
    let lo = (inst.id.clone(), after.clone().unwrap_or_default());
    let hi = (inst.id.clone(), "\u{10FFFF}".to_string());
    let mut list = Vec::with_capacity(size.min(1000));
    let mut last = None;
    let mut more = false;
    for ((_, uid), u) in st.users.range(lo..hi) {
        if after.as_deref() == Some(uid.as_str())
            || !st.user_visible(u, inst, ctx.region, ctx.now, ctx.t)
        {
            continue;
        }
        if list.len() == size {
            more = true;
            break;
        }
        list.push(json!({
            "Id": u.id, "Arn": user_arn(inst, ctx.region, &u.id), "Username": u.username,
            "LastModifiedTime": u.modified.floor(), "LastModifiedRegion": u.origin_region,
        }));
        last = Some(uid.clone());
    }
    let mut out = json!({"UserSummaryList": list});
    if more && let Some(l) = last {
        out["NextToken"] = json!(page::encode(ctx.op, &l));
    }
    Ok(out)
}

fn user_json(inst: &Instance, region: &str, u: &User, full: bool) -> Value {
    let mut v = json!({
        "Id": u.id, "Arn": user_arn(inst, region, &u.id), "Username": u.username,
        "IdentityInfo": {"FirstName": u.first_name, "LastName": u.last_name},
        "PhoneConfig": {"PhoneType": u.phone_type, "AutoAccept": u.auto_accept, "AfterContactWorkTimeLimit": u.acw_limit},
        "SecurityProfileIds": u.security_profile_ids,
        "RoutingProfileId": u.routing_profile_id,
        "Tags": u.tags,
    });
    if let Some(h) = &u.hierarchy_group_id {
        v["HierarchyGroupId"] = json!(h);
    }
    if full {
        if let Some(e) = &u.email {
            v["IdentityInfo"]["Email"] = json!(e);
        }
        if let Some(d) = &u.desk_phone {
            v["PhoneConfig"]["DeskPhoneNumber"] = json!(d);
        }
        v["LastModifiedTime"] = json!(u.modified.floor());
        v["LastModifiedRegion"] = json!(u.origin_region);
    }
    v
}

fn describe_user(st: &mut State, ctx: &Ctx, req: &Req) -> R {
    let inst = find_instance_mirrored(st, ctx, &req.labels[0])?;
    let uid = &req.labels[1];
    let u = st
        .users
        .get(&(inst.id.clone(), uid.clone()))
        .filter(|u| st.user_visible(u, inst, ctx.region, ctx.now, ctx.t))
        .ok_or_else(|| {
            not_found(format!(
                "User {uid} does not exist in instance {} ({})",
                inst.id, ctx.region
            ))
        })?;
    Ok(json!({"User": user_json(inst, ctx.region, u, true)}))
}

fn create_user(st: &mut State, ctx: &Ctx, req: &Req) -> R {
    let bd = body(req);
    let username = b(ctx, bd.req_str("Username"))?;
    if !v::len_ok(username, 1, 100) || !v::USERNAME.is_match(username) {
        return Err(ctx.bad(format!(
            "Username {username:?} must be 1-100 characters of letters, digits, _ - . @"
        )));
    }
    let sps = b(ctx, bd.str_list("SecurityProfileIds"))?
        .ok_or_else(|| ctx.bad("SecurityProfileIds is required"))?;
    if sps.is_empty() || sps.len() > 10 {
        return Err(ctx.bad("SecurityProfileIds must hold 1-10 ids"));
    }
    let rp = b(ctx, bd.req_str("RoutingProfileId"))?;
    let hg = b(ctx, bd.str("HierarchyGroupId"))?;
    let tags = b(ctx, bd.tags("Tags"))?.unwrap_or_default();
    let identity = b(ctx, bd.obj("IdentityInfo"))?;
    let phone = b(ctx, bd.obj("PhoneConfig"))?;
    let inst = find_instance_mirrored(st, ctx, &req.labels[0])?.clone();
    if !st
        .routing_profiles
        .contains_key(&(inst.id.clone(), rp.to_string()))
    {
        return Err(not_found(format!(
            "Routing profile {rp} does not exist in instance {}",
            inst.id
        )));
    }
    if let Some(h) = hg
        && !st
            .hierarchy_groups
            .contains_key(&(inst.id.clone(), h.to_string()))
    {
        return Err(not_found(format!(
            "Hierarchy group {h} does not exist in instance {}",
            inst.id
        )));
    }
    if st
        .usernames
        .contains_key(&(inst.id.clone(), username.to_lowercase()))
    {
        return Err(ApiError::new(
            "DuplicateResourceException",
            format!(
                "A user named {username} already exists in instance {}",
                inst.id
            ),
        ));
    }
    if st
        .users
        .range((inst.id.clone(), String::new())..)
        .take_while(|((i, _), _)| *i == inst.id)
        .count()
        >= ctx.max_users
    {
        return Err(ApiError::new(
            "LimitExceededException",
            format!(
                "Instance {} already has the maximum of {} users",
                inst.id, ctx.max_users
            ),
        ));
    }
    let mut u = st.new_user(
        &inst.id,
        username,
        rp.to_string(),
        hg.map(str::to_string),
        tags,
        ctx.region,
        ctx.now,
    );
    u.security_profile_ids = sps.iter().map(|s| s.to_string()).collect();
    if let Some(i) = identity {
        if let Some(f) = b(ctx, i.str("FirstName"))? {
            u.first_name = f.to_string();
        }
        if let Some(l) = b(ctx, i.str("LastName"))? {
            u.last_name = l.to_string();
        }
        u.email = b(ctx, i.str("Email"))?.map(str::to_string);
    }
    if let Some(p) = phone {
        if let Some(t) = b(ctx, p.str("PhoneType"))? {
            if t != "SOFT_PHONE" && t != "DESK_PHONE" {
                return Err(ctx.bad(format!("PhoneType {t:?} must be SOFT_PHONE or DESK_PHONE")));
            }
            u.phone_type = t.to_string();
        }
        u.auto_accept = b(ctx, p.bool("AutoAccept"))?.unwrap_or(false);
        u.acw_limit = b(ctx, p.int("AfterContactWorkTimeLimit"))?.unwrap_or(0);
        u.desk_phone = b(ctx, p.str("DeskPhoneNumber"))?.map(str::to_string);
    }
    let out = json!({"UserId": u.id, "UserArn": user_arn(&inst, ctx.region, &u.id)});
    st.insert_user(u);
    Ok(out)
}

fn delete_user(st: &mut State, ctx: &Ctx, req: &Req) -> R {
    let inst = find_instance_mirrored(st, ctx, &req.labels[0])?.clone();
    let uid = &req.labels[1];
    let visible = st
        .users
        .get(&(inst.id.clone(), uid.clone()))
        .is_some_and(|u| st.user_visible(u, &inst, ctx.region, ctx.now, ctx.t));
    if !visible {
        return Err(not_found(format!(
            "User {uid} does not exist in instance {}",
            inst.id
        )));
    }
    st.remove_user(&inst.id, uid);
    Ok(json!({}))
}

fn list_named(st: &mut State, ctx: &Ctx, req: &Req, routing: bool) -> R {
    let size = max_results(ctx, req.q_int(ctx, "maxResults")?, 100, 1000)?;
    let inst = find_instance_mirrored(st, ctx, &req.labels[0])?;
    let map = if routing {
        &st.routing_profiles
    } else {
        &st.hierarchy_groups
    };
    let items: Vec<&Named> = map.values().filter(|n| n.instance_id == inst.id).collect();
    let (page, next) = page::paginate(
        ctx.op,
        items,
        |n| n.id.clone(),
        req.query.get("nextToken").map(|s| s.as_str()),
        size,
    )
    .map_err(|m| ctx.bad(m))?;
    let kind = if routing {
        "routing-profile"
    } else {
        "agent-group"
    };
    let list: Vec<Value> = page
        .into_iter()
        .map(|n| {
            json!({"Id": n.id, "Arn": format!("{}/{kind}/{}", inst.arn(ctx.region), n.id), "Name": n.name,
                   "LastModifiedTime": n.modified.floor(), "LastModifiedRegion": inst.region})
        })
        .collect();
    let key = if routing {
        "RoutingProfileSummaryList"
    } else {
        "UserHierarchyGroupSummaryList"
    };
    let mut out = json!({ key: list });
    if let Some(n) = next {
        out["NextToken"] = json!(n);
    }
    Ok(out)
}

// SearchUsers ---------------------------------------------------------------

fn tag_cond(ctx: &Ctx, c: &Value, u: &User) -> Result<bool, ApiError> {
    let c = Body(c);
    let k = b(ctx, c.str("TagKey"))?.ok_or_else(|| ctx.bad("TagCondition.TagKey is required"))?;
    Ok(match b(ctx, c.str("TagValue"))? {
        Some(val) => u.tags.get(k).is_some_and(|x| x == val),
        None => u.tags.contains_key(k),
    })
}

fn hier_cond(ctx: &Ctx, c: &Value, u: &User) -> Result<bool, ApiError> {
    let c = Body(c);
    let val = b(ctx, c.str("Value"))?
        .ok_or_else(|| ctx.bad("HierarchyGroupCondition.Value is required"))?;
    if let Some(t) = b(ctx, c.str("HierarchyGroupMatchType"))?
        && t != "EXACT"
        && t != "WITH_CHILD_GROUPS"
    {
        return Err(ctx.bad(format!(
            "HierarchyGroupMatchType {t:?} must be EXACT or WITH_CHILD_GROUPS"
        )));
    }
    Ok(u.hierarchy_group_id.as_deref() == Some(val))
}

fn all_tags(ctx: &Ctx, list: &[Value], u: &User) -> Result<bool, ApiError> {
    for c in list {
        if !tag_cond(ctx, c, u)? {
            return Ok(false);
        }
    }
    Ok(true)
}

fn list_of<'a>(ctx: &Ctx, v: &'a Value, what: &str) -> Result<&'a Vec<Value>, ApiError> {
    v.as_array()
        .ok_or_else(|| ctx.bad(format!("{what} must be a list")))
}

fn search_filter(ctx: &Ctx, f: &Body, u: &User) -> Result<bool, ApiError> {
    if let Some(tf) = b(ctx, f.obj("TagFilter"))? {
        if let Some(or) = b(ctx, tf.list("OrConditions"))? {
            let mut any = false;
            for and in or {
                if all_tags(ctx, list_of(ctx, and, "TagFilter.OrConditions[]")?, u)? {
                    any = true;
                    break;
                }
            }
            if !any {
                return Ok(false);
            }
        }
        if let Some(and) = b(ctx, tf.list("AndConditions"))?
            && !all_tags(ctx, and, u)?
        {
            return Ok(false);
        }
        if let Some(tc) = tf.0.get("TagCondition").filter(|v| !v.is_null())
            && !tag_cond(ctx, tc, u)?
        {
            return Ok(false);
        }
    }
    if let Some(af) = b(ctx, f.obj("UserAttributeFilter"))? {
        let attr_and = |c: &Value| -> Result<bool, ApiError> {
            let c = Body(c);
            if let Some(t) = b(ctx, c.list("TagConditions"))?
                && !all_tags(ctx, t, u)?
            {
                return Ok(false);
            }
            if let Some(h) = c.0.get("HierarchyGroupCondition").filter(|v| !v.is_null())
                && !hier_cond(ctx, h, u)?
            {
                return Ok(false);
            }
            Ok(true)
        };
        if let Some(or) = b(ctx, af.list("OrConditions"))? {
            let mut any = false;
            for c in or {
                if attr_and(c)? {
                    any = true;
                    break;
                }
            }
            if !any {
                return Ok(false);
            }
        }
        if let Some(and) = af.0.get("AndCondition").filter(|v| !v.is_null())
            && !attr_and(and)?
        {
            return Ok(false);
        }
        if let Some(tc) = af.0.get("TagCondition").filter(|v| !v.is_null())
            && !tag_cond(ctx, tc, u)?
        {
            return Ok(false);
        }
        if let Some(h) = af.0.get("HierarchyGroupCondition").filter(|v| !v.is_null())
            && !hier_cond(ctx, h, u)?
        {
            return Ok(false);
        }
    }
    Ok(true)
}

fn criteria(ctx: &Ctx, c: &Value, u: &User, depth: usize) -> Result<bool, ApiError> {
    if depth > 8 {
        return Err(ctx.bad("SearchCriteria is nested too deeply"));
    }
    let c = Body(c);
    if c.0.as_object().is_none() {
        return Err(ctx.bad("SearchCriteria must be an object"));
    }
    if let Some(or) = b(ctx, c.list("OrConditions"))? {
        let mut any = false;
        for x in or {
            if criteria(ctx, x, u, depth + 1)? {
                any = true;
                break;
            }
        }
        if !any {
            return Ok(false);
        }
    }
    if let Some(and) = b(ctx, c.list("AndConditions"))? {
        for x in and {
            if !criteria(ctx, x, u, depth + 1)? {
                return Ok(false);
            }
        }
    }
    if let Some(sc) = b(ctx, c.obj("StringCondition"))? {
        let field = b(ctx, sc.str("FieldName"))?
            .ok_or_else(|| ctx.bad("StringCondition.FieldName is required"))?;
        let value = b(ctx, sc.str("Value"))?.unwrap_or("");
        let cmp = b(ctx, sc.str("ComparisonType"))?.unwrap_or("EXACT");
        let (hay, ci): (Vec<&str>, bool) = match field {
            "Username" => (vec![u.username.as_str()], true),
            "FirstName" => (vec![u.first_name.as_str()], true),
            "LastName" => (vec![u.last_name.as_str()], true),
            "RoutingProfileId" => (vec![u.routing_profile_id.as_str()], false),
            "SecurityProfileId" => (
                u.security_profile_ids.iter().map(|s| s.as_str()).collect(),
                false,
            ),
            "ResourceId" => (vec![u.id.as_str()], false),
            "HierarchyGroupId" => (
                u.hierarchy_group_id.iter().map(|s| s.as_str()).collect(),
                false,
            ),
            other => {
                return Err(ctx.bad(format!(
                    "StringCondition.FieldName {other:?} is not supported; use Username, FirstName, LastName, RoutingProfileId, SecurityProfileId, ResourceId or HierarchyGroupId"
                )));
            }
        };
        let norm = |s: &str| if ci { s.to_lowercase() } else { s.to_string() };
        let value = norm(value);
        let hit = hay.iter().any(|h| {
            let h = norm(h);
            match cmp {
                "STARTS_WITH" => h.starts_with(&value),
                "CONTAINS" => h.contains(&value),
                _ => h == value,
            }
        });
        if !["EXACT", "STARTS_WITH", "CONTAINS"].contains(&cmp) {
            return Err(ctx.bad(format!(
                "ComparisonType {cmp:?} must be STARTS_WITH, CONTAINS or EXACT"
            )));
        }
        if !hit {
            return Ok(false);
        }
    }
    if let Some(h) = c.0.get("HierarchyGroupCondition").filter(|v| !v.is_null())
        && !hier_cond(ctx, h, u)?
    {
        return Ok(false);
    }
    if c.0.get("ListCondition").is_some_and(|v| !v.is_null()) {
        return Err(ctx.bad("ListCondition (proficiencies) is not supported by the emulator"));
    }
    Ok(true)
}

fn search_users(st: &mut State, ctx: &Ctx, req: &Req) -> R {
    let bd = body(req);
    let inst_id = b(ctx, bd.req_str("InstanceId"))?;
    let size = max_results(ctx, b(ctx, bd.int("MaxResults"))?, 100, 500)?;
    let token = b(ctx, bd.str("NextToken"))?;
    if let Some(t) = token
        && !v::len_ok(t, 1, 2500)
    {
        return Err(ctx.bad("NextToken must be 1-2500 characters"));
    }
    let after = next_token_after(ctx, token)?;
    let filter = b(ctx, bd.obj("SearchFilter"))?;
    let crit = req.body.get("SearchCriteria").filter(|v| !v.is_null());
    let inst = find_instance_mirrored(st, ctx, inst_id)?;
    let lo = (inst.id.clone(), String::new());
    let mut matched: Vec<&User> = Vec::new();
    for ((i, _), u) in st.users.range(lo..) {
        if *i != inst.id {
            break;
        }
        if !st.user_visible(u, inst, ctx.region, ctx.now, ctx.t) {
            continue;
        }
        if let Some(f) = &filter
            && !search_filter(ctx, f, u)?
        {
            continue;
        }
        if let Some(c) = crit
            && !criteria(ctx, c, u, 0)?
        {
            continue;
        }
        matched.push(u);
    }
    let total = matched.len();
    let start = match &after {
        Some(a) => matched.partition_point(|u| u.id.as_str() <= a.as_str()),
        None => 0,
    };
    let end = (start + size).min(total);
    let list: Vec<Value> = matched[start..end]
        .iter()
        .map(|u| user_json(inst, ctx.region, u, false))
        .collect();
    let mut out = json!({"Users": list, "ApproximateTotalCount": total});
    if end < total {
        out["NextToken"] = json!(page::encode(ctx.op, &matched[end - 1].id));
    }
    Ok(out)
}

// ------------------------------------------------------------------ phone numbers

enum Target {
    Instance(String, String), // instance id, ARN in the calling region
    Tdg(String),              // tdg id
}

fn resolve_target(st: &State, ctx: &Ctx, bd: &Body) -> Result<Target, ApiError> {
    let target = b(ctx, bd.str("TargetArn"))?;
    let instance = b(ctx, bd.str("InstanceId"))?;
    match (target, instance) {
        (Some(_), Some(_)) => Err(invalid_parameter(
            "Send either TargetArn or InstanceId, not both",
        )),
        (None, None) => Err(invalid_parameter("TargetArn or InstanceId is required")),
        (None, Some(i)) => {
            let inst = find_instance(st, ctx, i, false)?;
            Ok(Target::Instance(inst.id.clone(), inst.arn(ctx.region)))
        }
        (Some(arn), None) => {
            let a = v::parse_arn(arn)
                .ok_or_else(|| invalid_parameter(format!("TargetArn {arn:?} is not an ARN")))?;
            if a.resource.starts_with("traffic-distribution-group/") {
                let id = find_tdg_id(st, ctx, arn)?;
                Ok(Target::Tdg(id))
            } else if a.resource.starts_with("instance/") && !a.resource[9..].contains('/') {
                if a.region != ctx.region {
                    return Err(invalid_parameter(format!(
                        "TargetArn {arn} is in {}; phone numbers are claimed to instances of the calling region {}",
                        a.region, ctx.region
                    )));
                }
                let inst = find_instance(st, ctx, arn, true)?;
                Ok(Target::Instance(inst.id.clone(), arn.to_string()))
            } else {
                Err(invalid_parameter(format!(
                    "TargetArn {arn} must be an instance ARN or a traffic distribution group ARN"
                )))
            }
        }
    }
}

/// G6 and G2 checks of a target for a number in `region`: returns (instance id, target ARN).
fn check_target(
    st: &State,
    ctx: &Ctx,
    target: &Target,
    number_region: &str,
) -> Result<(String, String), ApiError> {
    match target {
        Target::Instance(i, arn) => Ok((i.clone(), arn.clone())),
        Target::Tdg(id) => {
            let g = &st.tdgs[id];
            if g.region != number_region || g.region != ctx.region {
                return Err(invalid_parameter(format!(
                    "Traffic distribution group {} was created in {}; only numbers claimed in that region can belong to it (call in {})",
                    g.id, g.region, g.region
                )));
            }
            let status = g.status(ctx.now);
            if status != "ACTIVE" {
                return Err(not_found(format!(
                    "Traffic distribution group {} is {status}; numbers can be claimed to it only when it is ACTIVE",
                    g.id
                )));
            }
            Ok((g.instance_id.clone(), g.arn()))
        }
    }
}

fn phone_json(p: &Phone, now: f64, full: bool) -> Value {
    let mut v = json!({
        "PhoneNumberId": p.id, "PhoneNumberArn": p.arn(), "PhoneNumber": p.number,
        "PhoneNumberCountryCode": p.country, "PhoneNumberType": p.number_type,
        "TargetArn": p.target_arn, "InstanceId": p.instance_id,
    });
    if let Some(d) = &p.description {
        v["PhoneNumberDescription"] = json!(d);
    }
    if full {
        v["Tags"] = json!(p.tags);
        v["PhoneNumberStatus"] = json!({"Status": p.status(now)});
    }
    v
}

/// The number is visible in the calling region: by id in its own region; by ARN also from the
/// replica region of its traffic distribution group.
fn find_phone(st: &State, ctx: &Ctx, id_or_arn: &str, for_write: bool) -> Result<String, ApiError> {
    let is_arn = id_or_arn.starts_with("arn:");
    let id = id_or_arn.rsplit('/').next().unwrap_or(id_or_arn);
    if !v::UUID_RE.is_match(id) {
        return Err(invalid_parameter(format!(
            "{id_or_arn:?} is not a phone number id or ARN"
        )));
    }
    let missing = || {
        not_found(format!(
            "Phone number {id_or_arn} does not exist in {}",
            ctx.region
        ))
    };
    let p = st.phones.get(id).ok_or_else(missing)?;
    if p.region == ctx.region {
        return Ok(p.id.clone());
    }
    let in_tdg_replica = st
        .tdgs
        .values()
        .find(|g| g.arn() == p.target_arn)
        .and_then(|g| st.instances.get(&g.instance_id))
        .is_some_and(|i| i.replica_region() == Some(ctx.region));
    if is_arn && in_tdg_replica {
        if for_write {
            return Err(invalid_parameter(format!(
                "Phone number {} belongs to {}; change it in that region",
                p.number, p.region
            )));
        }
        return Ok(p.id.clone());
    }
    Err(missing())
}

fn claim_phone(st: &mut State, ctx: &Ctx, req: &Req) -> R {
    let bd = body(req);
    let number = b(ctx, bd.req_str("PhoneNumber"))?;
    if !v::E164.is_match(number) {
        return Err(invalid_parameter(format!(
            "PhoneNumber {number:?} is not in E.164 format (+ and up to 15 digits)"
        )));
    }
    let desc = b(ctx, bd.str("PhoneNumberDescription"))?;
    if desc.is_some_and(|d| d.chars().count() > 500) {
        return Err(invalid_parameter(
            "PhoneNumberDescription must be at most 500 characters",
        ));
    }
    let tags = b(ctx, bd.tags("Tags"))?.unwrap_or_default();
    let token = client_token(ctx, &bd)?;
    let params = without(&req.body, "ClientToken");
    if let Some(r) = idem_lookup(st, ctx, token, &params, true) {
        return r;
    }
    let target = resolve_target(st, ctx, &bd)?;
    let (instance_id, target_arn) = check_target(st, ctx, &target, ctx.region)?;
    if let Some(p) = st.phones.values().find(|p| p.number == number) {
        return Err(invalid_parameter(format!(
            "Phone number {number} is already claimed ({}); claim another number",
            p.arn()
        )));
    }
    let p = Phone {
        id: Uuid::new_v4().to_string(),
        account: st.account().to_string(),
        number: number.to_string(),
        country: country_of(number).into(),
        number_type: type_of(number).into(),
        description: desc.map(str::to_string),
        tags,
        region: ctx.region.to_string(),
        instance_id,
        target_arn,
        ready_at: ctx.now + ctx.t.phone_claim_s,
    };
    let out = json!({"PhoneNumberId": p.id, "PhoneNumberArn": p.arn()});
    st.phones.insert(p.id.clone(), p);
    idem_store(st, ctx, token, params, &out);
    Ok(out)
}

fn update_phone(st: &mut State, ctx: &Ctx, req: &Req) -> R {
    let bd = body(req);
    let token = client_token(ctx, &bd)?;
    let params = json!({"Id": req.labels[0], "Body": without(&req.body, "ClientToken")});
    if let Some(r) = idem_lookup(st, ctx, token, &params, true) {
        return r;
    }
    let id = find_phone(st, ctx, &req.labels[0], true)?;
    let p = &st.phones[&id];
    if p.status(ctx.now) == "IN_PROGRESS" {
        return Err(ApiError::new(
            "ResourceInUseException",
            format!(
                "Phone number {} has an operation in progress; retry when it is CLAIMED",
                p.number
            ),
        )
        .with("ResourceType", "PHONE_NUMBER")
        .with("ResourceId", p.arn()));
    }
    let number_region = p.region.clone();
    let target = resolve_target(st, ctx, &bd)?;
    let (instance_id, target_arn) = check_target(st, ctx, &target, &number_region)?;
    let p = st.phones.get_mut(&id).expect("phone");
    if p.target_arn != target_arn {
        p.target_arn = target_arn;
        p.instance_id = instance_id;
        p.ready_at = ctx.now + ctx.t.phone_claim_s;
    }
    let out = json!({"PhoneNumberId": p.id, "PhoneNumberArn": p.arn()});
    idem_store(st, ctx, token, params, &out);
    Ok(out)
}

fn release_phone(st: &mut State, ctx: &Ctx, req: &Req) -> R {
    if let Some(t) = req.query.get("clientToken")
        && t.len() > 500
    {
        return Err(invalid_parameter(
            "clientToken must be at most 500 characters",
        ));
    }
    let id = find_phone(st, ctx, &req.labels[0], true)?;
    let p = &st.phones[&id];
    if p.status(ctx.now) == "IN_PROGRESS" {
        return Err(ApiError::new(
            "ResourceInUseException",
            format!(
                "Phone number {} has an operation in progress; retry when it is CLAIMED",
                p.number
            ),
        )
        .with("ResourceType", "PHONE_NUMBER")
        .with("ResourceId", p.arn()));
    }
    st.phones.remove(&id);
    Ok(json!({}))
}

fn describe_phone(st: &mut State, ctx: &Ctx, req: &Req) -> R {
    let id = find_phone(st, ctx, &req.labels[0], false)?;
    Ok(json!({"ClaimedPhoneNumberSummary": phone_json(&st.phones[&id], ctx.now, true)}))
}

fn list_phones(st: &mut State, ctx: &Ctx, req: &Req) -> R {
    let bd = body(req);
    let size = max_results(ctx, b(ctx, bd.int("MaxResults"))?, 100, 1000)?;
    let token = b(ctx, bd.str("NextToken"))?;
    let countries = b(ctx, bd.str_list("PhoneNumberCountryCodes"))?;
    let types = b(ctx, bd.str_list("PhoneNumberTypes"))?;
    if countries.as_ref().is_some_and(|c| c.len() > 10)
        || types.as_ref().is_some_and(|t| t.len() > 6)
    {
        return Err(invalid_parameter(
            "At most 10 PhoneNumberCountryCodes and 6 PhoneNumberTypes",
        ));
    }
    let prefix = b(ctx, bd.str("PhoneNumberPrefix"))?;
    let target = b(ctx, bd.str("TargetArn"))?;
    let instance = b(ctx, bd.str("InstanceId"))?;
    let target_filter: Option<String> = match target {
        Some(t) => Some(
            match resolve_target(st, ctx, &Body(&json!({"TargetArn": t})))? {
                Target::Instance(_, arn) => arn,
                Target::Tdg(id) => st.tdgs[&id].arn(),
            },
        ),
        None => None,
    };
    let instance_filter = match instance {
        Some(i) => Some(find_instance(st, ctx, i, false)?.id.clone()),
        None => None,
    };
    let items: Vec<&Phone> = st
        .phones
        .values()
        .filter(|p| {
            let tdg_replica = st
                .tdgs
                .values()
                .find(|g| g.arn() == p.target_arn)
                .and_then(|g| st.instances.get(&g.instance_id))
                .is_some_and(|i| i.replica_region() == Some(ctx.region));
            p.region == ctx.region || tdg_replica
        })
        .filter(|p| target_filter.as_ref().is_none_or(|t| *t == p.target_arn))
        .filter(|p| instance_filter.as_ref().is_none_or(|i| *i == p.instance_id))
        .filter(|p| {
            countries
                .as_ref()
                .is_none_or(|c| c.contains(&p.country.as_str()))
        })
        .filter(|p| {
            types
                .as_ref()
                .is_none_or(|t| t.contains(&p.number_type.as_str()))
        })
        .filter(|p| {
            prefix.is_none_or(|x| p.number.starts_with(x) || p.number.starts_with(&format!("+{x}")))
        })
        .collect();
    let (page, next) =
        page::paginate(ctx.op, items, |p| p.id.clone(), token, size).map_err(invalid_parameter)?;
    let mut out = json!({"ListPhoneNumbersSummaryList": page.into_iter().map(|p| phone_json(p, ctx.now, false)).collect::<Vec<_>>()});
    if let Some(n) = next {
        out["NextToken"] = json!(n);
    }
    Ok(out)
}

// ------------------------------------------------------------------ Lambda (not mirrored, R4)

fn associate_lambda(st: &mut State, ctx: &Ctx, req: &Req) -> R {
    let bd = body(req);
    let arn = b(ctx, bd.req_str("FunctionArn"))?;
    if !v::len_ok(arn, 1, 140) {
        return Err(invalid_parameter("FunctionArn must be 1-140 characters"));
    }
    let caps = v::LAMBDA_ARN.captures(arn).ok_or_else(|| {
        invalid_parameter(format!("FunctionArn {arn:?} is not a Lambda function ARN"))
    })?;
    let fn_region = caps.get(1).map(|m| m.as_str()).unwrap_or_default();
    let inst = find_instance(st, ctx, &req.labels[0], false)?.clone();
    if fn_region != ctx.region {
        return Err(invalid_parameter(format!(
            "Lambda function {arn} is in {fn_region}; associate a function of {} (Lambda functions are not replicated: create one with the same name in each region)",
            ctx.region
        )));
    }
    let list = st
        .lambdas
        .entry((inst.id.clone(), ctx.region.to_string()))
        .or_default();
    if list.iter().any(|f| f == arn) {
        return Err(ApiError::new(
            "ResourceConflictException",
            format!(
                "Lambda function {arn} is already associated with instance {}",
                inst.id
            ),
        ));
    }
    if list.len() >= 50 {
        return Err(ApiError::new(
            "ServiceQuotaExceededException",
            "The instance already has 50 Lambda functions associated in this region",
        ));
    }
    list.push(arn.to_string());
    Ok(json!({}))
}

fn disassociate_lambda(st: &mut State, ctx: &Ctx, req: &Req) -> R {
    let arn = req
        .query
        .get("functionArn")
        .ok_or_else(|| invalid_parameter("functionArn is required"))?
        .clone();
    let inst = find_instance(st, ctx, &req.labels[0], false)?.clone();
    let list = st
        .lambdas
        .entry((inst.id.clone(), ctx.region.to_string()))
        .or_default();
    let before = list.len();
    list.retain(|f| *f != arn);
    if list.len() == before {
        return Err(not_found(format!(
            "Lambda function {arn} is not associated with instance {} in {}",
            inst.id, ctx.region
        )));
    }
    Ok(json!({}))
}

fn list_lambdas(st: &mut State, ctx: &Ctx, req: &Req) -> R {
    let size = max_results(ctx, req.q_int(ctx, "maxResults")?, 25, 25)?;
    let inst = find_instance(st, ctx, &req.labels[0], false)?;
    let mut fns = st
        .lambdas
        .get(&(inst.id.clone(), ctx.region.to_string()))
        .cloned()
        .unwrap_or_default();
    fns.sort();
    let (page, next) = page::paginate(
        ctx.op,
        fns,
        |f| f.clone(),
        req.query.get("nextToken").map(|s| s.as_str()),
        size,
    )
    .map_err(invalid_parameter)?;
    let mut out = json!({"LambdaFunctions": page});
    if let Some(n) = next {
        out["NextToken"] = json!(n);
    }
    Ok(out)
}

/// A user created through the control endpoint `POST /_emulator/users`.
pub fn control_create_user(
    st: &mut State,
    now: f64,
    t: &Timings,
    body: &Value,
) -> Result<Value, String> {
    let bd = Body(body);
    let username = bd.req_str("username")?;
    if !v::len_ok(username, 1, 100) || !v::USERNAME.is_match(username) {
        return Err(format!("username {username:?} is not valid"));
    }
    let inst_id = bd.str("instanceId")?.unwrap_or(DEFAULT_INSTANCE_ID);
    let inst = st
        .instances
        .get(inst_id)
        .ok_or_else(|| format!("no instance {inst_id}"))?
        .clone();
    if st
        .usernames
        .contains_key(&(inst.id.clone(), username.to_lowercase()))
    {
        return Err(format!("user {username} already exists"));
    }
    let find = |m: &BTreeMap<(String, String), Named>, key: &str| -> Option<String> {
        m.values()
            .find(|n| n.instance_id == inst.id && (n.name == key || n.id == key))
            .map(|n| n.id.clone())
    };
    let rp = match bd.str("routingProfile")? {
        Some(r) => {
            find(&st.routing_profiles, r).ok_or_else(|| format!("no routing profile {r}"))?
        }
        None => st
            .routing_profiles
            .values()
            .find(|n| n.instance_id == inst.id)
            .map(|n| n.id.clone())
            .ok_or("instance has no routing profile")?,
    };
    let hg = match bd.str("hierarchyGroup")? {
        Some(h) => {
            Some(find(&st.hierarchy_groups, h).ok_or_else(|| format!("no hierarchy group {h}"))?)
        }
        None => None,
    };
    let tags = bd.tags("tags").unwrap_or_default().unwrap_or_default();
    let region = bd.str("region")?.unwrap_or(&inst.region).to_string();
    let u = st.new_user(&inst.id, username, rp, hg, tags, &region, now);
    let _ = t;
    let out = json!({"UserId": u.id, "UserArn": user_arn(&inst, &region, &u.id)});
    st.insert_user(u);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_decode_labels_after_splitting() {
        match route(
            "GET",
            "/traffic-distribution-group/arn%3Aaws%3Aconnect%3Aus-west-2%3A123456789012%3Atraffic-distribution-group%2Fabc",
        ) {
            Route::Op(op, labels) => {
                assert_eq!(op, "DescribeTrafficDistributionGroup");
                assert_eq!(
                    labels,
                    vec!["arn:aws:connect:us-west-2:123456789012:traffic-distribution-group/abc"]
                );
            }
            _ => panic!("no route"),
        }
        assert!(matches!(route("PATCH", "/instance"), Route::WrongMethod));
        assert!(matches!(route("GET", "/nope"), Route::Unknown));
        assert!(matches!(route("GET", "/instance//x"), Route::Unknown));
        assert!(matches!(
            route("POST", "/phone-number/claim"),
            Route::Op("ClaimPhoneNumber", _)
        ));
        assert!(matches!(
            route("GET", "/phone-number/claim"),
            Route::Op("DescribePhoneNumber", _)
        ));
        assert!(matches!(
            route("DELETE", "/traffic-distribution-group/x/user"),
            Route::Op("DisassociateTrafficDistributionGroupUser", _)
        ));
    }
}
