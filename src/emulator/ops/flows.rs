//! Contact flows and flow modules (Create/Describe/List/UpdateContent; content stored as given,
//! mirrored to the replica, R4), Lex bot associations (AssociateBot/ListBots, per region, not
//! mirrored), ListReplicationFindings (wave-2 reference §4, §5.2, §7).

use std::collections::BTreeMap;

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::common::*;
use super::{Ctx, R, Req};
use crate::emulator::error::{ApiError, invalid_request, not_found};
use crate::emulator::flows::{BotSpec, FindingSpec, Flow, FlowKind, bot_json, flow_id};
use crate::emulator::model::*;
use crate::emulator::page;
use crate::emulator::validate as v;

const FLOW_TYPES: &[&str] = &[
    "CONTACT_FLOW",
    "CUSTOMER_QUEUE",
    "CUSTOMER_HOLD",
    "CUSTOMER_WHISPER",
    "AGENT_HOLD",
    "AGENT_WHISPER",
    "OUTBOUND_WHISPER",
    "AGENT_TRANSFER",
    "QUEUE_TRANSFER",
    "CAMPAIGN",
];

/// Resource types ListReplicationFindings accepts (§7).
const FINDING_TYPES: &[&str] = &[
    "AGENT",
    "AGENT_GROUP",
    "AGENT_GROUP_LEVEL",
    "AGENT_STATE",
    "ATTRIBUTE",
    "CONTACT_FLOW",
    "DATA_TABLE",
    "DATA_TABLE_ATTRIBUTE",
    "DATA_TABLE_RECORD",
    "DATA_TABLE_VALUE",
    "FLOW_MODULE",
    "FLOW_MODULE_ALIAS",
    "FLOW_MODULE_VERSION",
    "METRIC",
    "NOTIFICATION",
    "OPERATING_HOURS",
    "PHONE_NUMBER",
    "PROMPT",
    "QUEUE",
    "REPORT",
    "ROUTING_PROFILE",
    "SECURITY_PROFILE",
    "TASK_TEMPLATE",
    "TEST_CASE",
    "TRANSFER_DESTINATION",
    "VIEW",
    "WORKSPACE",
];

fn sha(content: &str) -> String {
    hex(&Sha256::digest(content.as_bytes()))
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// PUBLISHED content must be a flow-language document (InvalidContactFlowException otherwise).
fn check_content(content: &str, module: bool) -> Result<(), ApiError> {
    let problem = match serde_json::from_str::<Value>(content) {
        Err(e) => Some(format!("Content is not valid JSON: {e}")),
        Ok(d) if d.get("Version").and_then(Value::as_str) != Some("2019-10-30") => {
            Some("Content must have Version 2019-10-30".to_string())
        }
        Ok(d) if !d.get("Actions").is_some_and(Value::is_array) => {
            Some("Content must have an Actions list".to_string())
        }
        Ok(_) => None,
    };
    match problem {
        None => Ok(()),
        Some(m) if module => Err(
            ApiError::new("InvalidContactFlowModuleException", m.clone())
                .with("Problems", json!([{"message": m}])),
        ),
        Some(m) => Err(ApiError::new("InvalidContactFlowException", m.clone())
            .with("problems", json!([{"message": m}]))),
    }
}

fn create(st: &mut State, ctx: &Ctx, req: &Req, kind: FlowKind) -> R {
    let bd = body(req);
    let name = b(ctx, bd.req_str("Name"))?;
    let content = b(ctx, bd.req_str("Content"))?;
    let max_name = if kind == FlowKind::Module { 127 } else { 512 };
    if !v::len_ok(name, 1, max_name) {
        return Err(ctx.bad(format!("Name must be 1-{max_name} characters")));
    }
    if !v::len_ok(content, 1, 256_000) {
        return Err(ctx.bad("Content must be 1-256000 characters"));
    }
    let flow_type = match kind {
        FlowKind::Flow => {
            let t = b(ctx, bd.req_str("Type"))?;
            if !FLOW_TYPES.contains(&t) {
                return Err(ctx.bad(format!("Type {t:?} is not a ContactFlowType")));
            }
            t.to_string()
        }
        FlowKind::Module => "MODULE".to_string(),
    };
    let status = b(ctx, bd.str("Status"))?.unwrap_or("PUBLISHED");
    if !["PUBLISHED", "SAVED"].contains(&status) {
        return Err(ctx.bad(format!("Status {status:?} must be PUBLISHED or SAVED")));
    }
    if status == "PUBLISHED" {
        check_content(content, kind == FlowKind::Module)?;
    }
    let description = b(ctx, bd.str("Description"))?.map(str::to_string);
    let tags = b(ctx, bd.tags("Tags"))?.unwrap_or_default();
    let inst = find_instance(st, ctx, &req.labels[0], false)?.clone();
    if inst.region != ctx.region {
        return Err(invalid_request(format!(
            "Flows of a replicated instance are edited in its source region {}; replication mirrors them to {}",
            inst.region, ctx.region
        )));
    }
    let id = flow_id(&inst.id, kind, name);
    if st
        .flows
        .flows
        .values()
        .any(|f| f.instance_id == inst.id && f.kind == kind && f.name.eq_ignore_ascii_case(name))
    {
        return Err(ApiError::new(
            "DuplicateResourceException",
            "A resource with the specified name already exists",
        ));
    }
    let flow = Flow {
        id: id.clone(),
        instance_id: inst.id.clone(),
        kind,
        name: name.to_string(),
        flow_type,
        description,
        content: content.to_string(),
        previous_content: None,
        status: status.to_string(),
        version: 1,
        origin_region: ctx.region.to_string(),
        created: ctx.now,
        modified: ctx.now,
        tags: tags.into_iter().collect::<BTreeMap<_, _>>(),
    };
    let arn = flow.arn(&inst, ctx.region);
    let digest = sha(content);
    st.flows.flows.insert((inst.id.clone(), id.clone()), flow);
    Ok(match kind {
        FlowKind::Flow => {
            json!({"ContactFlowId": id, "ContactFlowArn": arn, "FlowContentSha256": digest})
        }
        FlowKind::Module => json!({"Id": id, "Arn": arn}),
    })
}

pub(super) fn create_flow(st: &mut State, ctx: &Ctx, req: &Req) -> R {
    create(st, ctx, req, FlowKind::Flow)
}

pub(super) fn create_module(st: &mut State, ctx: &Ctx, req: &Req) -> R {
    create(st, ctx, req, FlowKind::Module)
}

/// The flow id of a DescribeContactFlow label: an id or ARN, optionally with `:$SAVED` or
/// `:{version}`.
fn label_id(label: &str) -> &str {
    let last = label.rsplit('/').next().unwrap_or(label);
    last.split(':').next().unwrap_or(last)
}

fn visible<'s>(
    st: &'s State,
    ctx: &Ctx,
    inst: &Instance,
    kind: FlowKind,
    label: &str,
) -> Result<(&'s Flow, &'s str), ApiError> {
    let id = label_id(label);
    st.flows
        .flows
        .get(&(inst.id.clone(), id.to_string()))
        .filter(|f| f.kind == kind)
        .and_then(|f| Some((f, f.content_in(inst, ctx.region, ctx.now, ctx.t)?)))
        .ok_or_else(|| not_found(format!("{label} does not exist in {}", ctx.region)))
}

pub(super) fn describe_flow(st: &mut State, ctx: &Ctx, req: &Req) -> R {
    let inst = find_instance(st, ctx, &req.labels[0], false)?;
    let (f, content) = visible(st, ctx, inst, FlowKind::Flow, &req.labels[1])?;
    let mut out = json!({
        "Arn": f.arn(inst, ctx.region), "Id": f.id, "Name": f.name, "Type": f.flow_type,
        "State": "ACTIVE", "Status": f.status, "Content": content,
        "FlowContentSha256": sha(content), "Version": f.version,
        "LastModifiedTime": f.modified.floor(), "LastModifiedRegion": f.origin_region,
    });
    if let Some(d) = &f.description {
        out["Description"] = json!(d);
    }
    if !f.tags.is_empty() {
        out["Tags"] = json!(f.tags);
    }
    Ok(json!({"ContactFlow": out}))
}

pub(super) fn describe_module(st: &mut State, ctx: &Ctx, req: &Req) -> R {
    let inst = find_instance(st, ctx, &req.labels[0], false)?;
    let (f, content) = visible(st, ctx, inst, FlowKind::Module, &req.labels[1])?;
    let mut out = json!({
        "Arn": f.arn(inst, ctx.region), "Id": f.id, "Name": f.name, "State": "ACTIVE",
        "Status": f.status, "Content": content, "FlowModuleContentSha256": sha(content),
        "Version": f.version,
    });
    if let Some(d) = &f.description {
        out["Description"] = json!(d);
    }
    Ok(json!({"ContactFlowModule": out}))
}

fn list(
    st: &State,
    ctx: &Ctx,
    req: &Req,
    kind: FlowKind,
) -> Result<(Vec<Value>, Option<String>), ApiError> {
    let size = max_results(ctx, req.q_int(ctx, "maxResults")?, 100, 1000)?;
    let types: Vec<&str> = req
        .query_all
        .iter()
        .filter(|(k, _)| k == "contactFlowTypes")
        .map(|(_, v)| v.as_str())
        .collect();
    if let Some(t) = types.iter().find(|t| !FLOW_TYPES.contains(t)) {
        return Err(ctx.bad(format!("contactFlowTypes {t:?} is not a ContactFlowType")));
    }
    if let Some(s) = req.query.get("state")
        && !["ACTIVE", "ARCHIVED"].contains(&s.as_str())
    {
        return Err(ctx.bad(format!("state {s:?} must be ACTIVE or ARCHIVED")));
    }
    let archived = req.query.get("state").is_some_and(|s| s == "ARCHIVED");
    let inst = find_instance(st, ctx, &req.labels[0], false)?;
    let items: Vec<&Flow> = st
        .flows
        .flows
        .values()
        .filter(|f| f.instance_id == inst.id && f.kind == kind && !archived)
        .filter(|f| types.is_empty() || types.contains(&f.flow_type.as_str()))
        .filter(|f| f.content_in(inst, ctx.region, ctx.now, ctx.t).is_some())
        .collect();
    let (page, next) = page::paginate(
        ctx.op,
        items,
        |f| f.id.clone(),
        req.query.get("nextToken").map(|s| s.as_str()),
        size,
    )
    .map_err(|m| ctx.bad(m))?;
    let rows = page
        .into_iter()
        .map(|f| match kind {
            FlowKind::Flow => json!({
                "Id": f.id, "Arn": f.arn(inst, ctx.region), "Name": f.name,
                "ContactFlowType": f.flow_type, "ContactFlowState": "ACTIVE",
                "ContactFlowStatus": f.status,
            }),
            FlowKind::Module => json!({
                "Id": f.id, "Arn": f.arn(inst, ctx.region), "Name": f.name, "State": "ACTIVE",
            }),
        })
        .collect();
    Ok((rows, next))
}

pub(super) fn list_flows(st: &mut State, ctx: &Ctx, req: &Req) -> R {
    let (rows, next) = list(st, ctx, req, FlowKind::Flow)?;
    let mut out = json!({"ContactFlowSummaryList": rows});
    if let Some(n) = next {
        out["NextToken"] = json!(n);
    }
    Ok(out)
}

pub(super) fn list_modules(st: &mut State, ctx: &Ctx, req: &Req) -> R {
    let (rows, next) = list(st, ctx, req, FlowKind::Module)?;
    let mut out = json!({"ContactFlowModulesSummaryList": rows});
    if let Some(n) = next {
        out["NextToken"] = json!(n);
    }
    Ok(out)
}

fn update_content(st: &mut State, ctx: &Ctx, req: &Req, kind: FlowKind) -> R {
    let content = b(ctx, body(req).req_str("Content"))?.to_string();
    if !v::len_ok(&content, 1, 256_000) {
        return Err(ctx.bad("Content must be 1-256000 characters"));
    }
    check_content(&content, kind == FlowKind::Module)?;
    let inst = find_instance(st, ctx, &req.labels[0], false)?.clone();
    let id = visible(st, ctx, &inst, kind, &req.labels[1])?.0.id.clone();
    let f = st
        .flows
        .flows
        .get_mut(&(inst.id.clone(), id))
        .ok_or_else(|| not_found(format!("{} does not exist", req.labels[1])))?;
    if f.origin_region != ctx.region {
        return Err(invalid_request(format!(
            "Flow {} is edited in its source region {}; replication mirrors it to {}",
            f.id, f.origin_region, ctx.region
        )));
    }
    f.previous_content = Some(std::mem::replace(&mut f.content, content));
    f.modified = ctx.now;
    f.version += 1;
    Ok(json!({}))
}

pub(super) fn update_flow_content(st: &mut State, ctx: &Ctx, req: &Req) -> R {
    update_content(st, ctx, req, FlowKind::Flow)
}

// ---------------------------------------------------------------- Lex bots

pub(super) fn associate_bot(st: &mut State, ctx: &Ctx, req: &Req) -> R {
    let bd = body(req);
    client_token(ctx, &bd)?;
    let v2 = b(ctx, bd.obj("LexV2Bot"))?;
    let v1 = b(ctx, bd.obj("LexBot"))?;
    let bot = match (v1, v2) {
        (None, Some(v2)) => {
            let arn = b(ctx, v2.req_str("AliasArn"))?;
            if !v::len_ok(arn, 1, 100) || !arn.starts_with("arn:") || !arn.contains(":bot-alias/") {
                return Err(ctx.bad(format!("AliasArn {arn:?} is not a Lex V2 bot alias ARN")));
            }
            BotSpec::V2(arn.to_string())
        }
        (Some(v1), None) => {
            let name = b(ctx, v1.req_str("Name"))?;
            let region = b(ctx, v1.req_str("LexRegion"))?;
            if !v::len_ok(name, 1, 50) || !v::len_ok(region, 1, 60) {
                return Err(ctx.bad("LexBot Name must be 1-50 and LexRegion 1-60 characters"));
            }
            BotSpec::V1 {
                name: name.to_string(),
                lex_region: region.to_string(),
            }
        }
        _ => return Err(ctx.bad("Give exactly one of LexBot and LexV2Bot")),
    };
    let inst = find_instance(st, ctx, &req.labels[0], false)?.clone();
    let list = st
        .flows
        .bots
        .entry((inst.id.clone(), ctx.region.to_string()))
        .or_default();
    if list.contains(&bot) {
        return Err(ApiError::new(
            "ResourceConflictException",
            format!(
                "The bot is already associated with instance {} in {}",
                inst.id, ctx.region
            ),
        ));
    }
    list.push(bot);
    Ok(json!({}))
}

pub(super) fn list_bots(st: &mut State, ctx: &Ctx, req: &Req) -> R {
    let size = max_results(ctx, req.q_int(ctx, "maxResults")?, 25, 25)?;
    let version = req
        .query
        .get("lexVersion")
        .ok_or_else(|| ctx.bad("lexVersion is required"))?;
    let want_v2 = match version.as_str() {
        "V1" => false,
        "V2" => true,
        other => return Err(ctx.bad(format!("lexVersion {other:?} must be V1 or V2"))),
    };
    let inst = find_instance(st, ctx, &req.labels[0], false)?;
    let bots: Vec<Value> = st
        .flows
        .bots
        .get(&(inst.id.clone(), ctx.region.to_string()))
        .into_iter()
        .flatten()
        .filter(|b| matches!(b, BotSpec::V2(_)) == want_v2)
        .map(bot_json)
        .collect();
    let (page, next) = page::paginate(
        ctx.op,
        bots,
        |b| b.to_string(),
        req.query.get("nextToken").map(|s| s.as_str()),
        size,
    )
    .map_err(|m| ctx.bad(m))?;
    let mut out = json!({"LexBots": page});
    if let Some(n) = next {
        out["NextToken"] = json!(n);
    }
    Ok(out)
}

// ---------------------------------------------------------------- replication findings

pub(super) fn list_replication_findings(st: &mut State, ctx: &Ctx, req: &Req) -> R {
    let size = max_results(ctx, req.q_int(ctx, "maxResults")?, 100, 100)?;
    let rt = req
        .query
        .get("resourceType")
        .ok_or_else(|| ctx.bad("resourceType is required"))?
        .clone();
    if !FINDING_TYPES.contains(&rt.as_str()) {
        return Err(invalid_request(format!(
            "resourceType {rt:?} is not a replication resource type"
        )));
    }
    let inst = find_instance(st, ctx, &req.labels[0], true)?.clone();
    let Some(replica) = inst.replica_region().map(str::to_string) else {
        return Err(invalid_request(format!(
            "Instance {} is not set up for Global Resiliency",
            inst.id
        )));
    };
    let findings: Vec<&FindingSpec> = st
        .flows
        .findings
        .get(&inst.id)
        .into_iter()
        .flatten()
        .filter(|f| f.resource_type == rt)
        .collect();
    let region_of = |f: &FindingSpec| f.region.clone().unwrap_or_else(|| replica.clone());
    let rows: Vec<(String, Value)> = findings
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let mut v = json!({
                "Region": region_of(f), "ResourceType": f.resource_type, "Name": f.name,
                "Operation": f.operation, "ReferenceCode": f.reference_code, "Message": f.message,
            });
            let id = f.id.clone().unwrap_or_else(|| {
                uuid::Uuid::new_v5(
                    &uuid::Uuid::NAMESPACE_OID,
                    format!("{}:{rt}:{}", inst.id, f.name).as_bytes(),
                )
                .to_string()
            });
            let kind = rt.to_lowercase().replace('_', "-");
            let arn = f
                .arn
                .clone()
                .unwrap_or_else(|| format!("{}/{kind}/{id}", inst.arn(&region_of(f))));
            v["Id"] = json!(id);
            v["Arn"] = json!(arn);
            (format!("{i:06}"), v)
        })
        .collect();
    let (page, next) = page::paginate(
        ctx.op,
        rows,
        |(k, _)| k.clone(),
        req.query.get("nextToken").map(|s| s.as_str()),
        size,
    )
    .map_err(invalid_request)?;
    let regions = [inst.region.clone(), replica.clone()];
    let replicating = inst.replication(ctx.now, ctx.t);
    let counts: Vec<Value> = regions
        .iter()
        .map(|r| {
            let n = findings.iter().filter(|f| region_of(f) == *r).count();
            json!({"Region": r, "Count": n, "Timestamp": ctx.now.floor()})
        })
        .collect();
    let statuses: Vec<Value> = regions
        .iter()
        .map(|r| {
            let failed = findings.iter().any(|f| region_of(f) == *r);
            let s = match (replicating, failed) {
                (Replication::InProgress, _) => "IN_PROGRESS",
                (_, true) => "FAILED",
                _ => "COMPLETE",
            };
            json!({"Region": r, "Status": s})
        })
        .collect();
    let mut out = json!({
        "ReplicationFindingsList": page.into_iter().map(|(_, v)| v).collect::<Vec<_>>(),
        "ApproximateDriftedResourceCounts": counts,
        "ResourceReplicationStatuses": statuses,
    });
    if let Some(n) = next {
        out["NextToken"] = json!(n);
    }
    Ok(out)
}

/// `POST /_emulator/replication-findings`: `{"instanceId"?, "findings": [FindingSpec...]}`
/// replaces the instance's findings (the default instance when `instanceId` is omitted).
pub fn control_set_findings(st: &mut State, body: &Value) -> Result<Value, String> {
    let id = body
        .get("instanceId")
        .and_then(Value::as_str)
        .unwrap_or(DEFAULT_INSTANCE_ID)
        .to_lowercase();
    if !st.instances.contains_key(&id) {
        return Err(format!("no instance {id}"));
    }
    let findings: Vec<FindingSpec> =
        serde_json::from_value(body.get("findings").cloned().unwrap_or(json!([])))
            .map_err(|e| format!("invalid findings: {e}"))?;
    if let Some(f) = findings
        .iter()
        .find(|f| !FINDING_TYPES.contains(&f.resource_type.as_str()))
    {
        return Err(format!(
            "resourceType {:?} is not a replication resource type",
            f.resource_type
        ));
    }
    let n = findings.len();
    if findings.is_empty() {
        st.flows.findings.remove(&id);
    } else {
        st.flows.findings.insert(id.clone(), findings);
    }
    Ok(json!({"instanceId": id, "findings": n}))
}
