//! ReplicateInstance, DescribeInstance, ListInstances (R1-R3).

use serde_json::{Map, Value, json};

use super::common::*;
use super::{Ctx, R, Req};
use crate::emulator::error::{ApiError, invalid_request};
use crate::emulator::model::*;
use crate::emulator::page;
use crate::emulator::validate as v;

pub(super) fn replicate_instance(st: &mut State, ctx: &Ctx, req: &Req) -> R {
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

pub(super) fn describe_instance(st: &mut State, ctx: &Ctx, req: &Req) -> R {
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

pub(super) fn list_instances(st: &mut State, ctx: &Ctx, req: &Req) -> R {
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
