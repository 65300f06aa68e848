//! Users (ListUsers, DescribeUser, CreateUser, DeleteUser; mirrored per R4), routing profiles and
//! hierarchy groups, and the control endpoint that creates users.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::common::*;
use super::{Ctx, R, Req};
use crate::emulator::error::{ApiError, not_found};
use crate::emulator::model::*;
use crate::emulator::page;
use crate::emulator::validate::{self as v, Body};

pub(super) fn user_arn(inst: &Instance, region: &str, user_id: &str) -> String {
    format!("{}/agent/{user_id}", inst.arn(region))
}

pub(super) fn list_users(st: &mut State, ctx: &Ctx, req: &Req) -> R {
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

pub(super) fn user_json(inst: &Instance, region: &str, u: &User, full: bool) -> Value {
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

pub(super) fn describe_user(st: &mut State, ctx: &Ctx, req: &Req) -> R {
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

pub(super) fn create_user(st: &mut State, ctx: &Ctx, req: &Req) -> R {
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

pub(super) fn delete_user(st: &mut State, ctx: &Ctx, req: &Req) -> R {
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

pub(super) fn list_routing_profiles(st: &mut State, ctx: &Ctx, req: &Req) -> R {
    list_named(st, ctx, req, true)
}

pub(super) fn list_hierarchy_groups(st: &mut State, ctx: &Ctx, req: &Req) -> R {
    list_named(st, ctx, req, false)
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
