//! SearchUsers: SearchCriteria and SearchFilter.

use serde_json::{Value, json};

use super::common::*;
use super::users::user_json;
use super::{Ctx, R, Req};
use crate::emulator::error::ApiError;
use crate::emulator::model::*;
use crate::emulator::page;
use crate::emulator::validate::{self as v, Body};

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

pub(super) fn search_users(st: &mut State, ctx: &Ctx, req: &Req) -> R {
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
