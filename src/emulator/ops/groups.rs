//! Traffic distribution groups and their users: Create/Describe/List/Delete (G1-G5, R6, R7),
//! Associate/Disassociate/ListTrafficDistributionGroupUsers (A1-A4).

use std::collections::BTreeSet;

use serde_json::{Value, json};
use uuid::Uuid;

use super::common::*;
use super::{Ctx, R, Req};
use crate::emulator::error::{ApiError, invalid_request, not_found};
use crate::emulator::model::*;
use crate::emulator::page;
use crate::emulator::validate as v;

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

pub(super) fn create_tdg(st: &mut State, ctx: &Ctx, req: &Req) -> R {
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

pub(super) fn describe_tdg(st: &mut State, ctx: &Ctx, req: &Req) -> R {
    let id = find_tdg_id(st, ctx, &req.labels[0])?;
    Ok(json!({"TrafficDistributionGroup": tdg_json(st, &st.tdgs[&id], ctx.now)}))
}

pub(super) fn list_tdgs(st: &mut State, ctx: &Ctx, req: &Req) -> R {
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

pub(super) fn delete_tdg(st: &mut State, ctx: &Ctx, req: &Req) -> R {
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

pub(super) fn associate_tdg_user(st: &mut State, ctx: &Ctx, req: &Req) -> R {
    associate_user(st, ctx, req, true)
}

pub(super) fn disassociate_tdg_user(st: &mut State, ctx: &Ctx, req: &Req) -> R {
    associate_user(st, ctx, req, false)
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

pub(super) fn list_tdg_users(st: &mut State, ctx: &Ctx, req: &Req) -> R {
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
