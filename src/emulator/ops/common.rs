//! Helpers shared by the operations: request body access, instance and group lookup,
//! ClientToken idempotency, page sizes and tokens.

use serde_json::Value;

use super::{Ctx, R, Req};
use crate::emulator::error::{ApiError, not_found};
use crate::emulator::model::*;
use crate::emulator::page;
use crate::emulator::validate::{self as v, Body};

pub(super) fn body<'a>(req: &'a Req) -> Body<'a> {
    Body(&req.body)
}

pub(super) fn b<T>(ctx: &Ctx, r: Result<T, String>) -> Result<T, ApiError> {
    r.map_err(|m| ctx.bad(m))
}

/// Resolves an instance id (or ARN when `allow_arn`) to an instance present in the calling region.
pub(super) fn find_instance<'s>(
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
pub(super) fn find_instance_mirrored<'s>(
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
pub(super) fn find_tdg_id(st: &State, ctx: &Ctx, id_or_arn: &str) -> Result<String, ApiError> {
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

/// Idempotency with ClientToken: same token and parameters give the same result; a different
/// request under the same token gives IdempotencyException when `strict`, else the original.
pub(super) fn idem_lookup(
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

pub(super) fn idem_store(
    st: &mut State,
    ctx: &Ctx,
    token: Option<&str>,
    params: Value,
    response: &Value,
) {
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

pub(super) fn without(body: &Value, key: &str) -> Value {
    let mut v = body.clone();
    if let Value::Object(m) = &mut v {
        m.remove(key);
    }
    v
}

pub(super) fn client_token<'a>(ctx: &Ctx, bd: &Body<'a>) -> Result<Option<&'a str>, ApiError> {
    let t = b(ctx, bd.str("ClientToken"))?;
    if let Some(t) = t
        && !v::len_ok(t, 0, 500)
    {
        return Err(ctx.bad("ClientToken must be at most 500 characters"));
    }
    Ok(t)
}

pub(super) fn max_results(
    ctx: &Ctx,
    n: Option<i64>,
    default: usize,
    max: usize,
) -> Result<usize, ApiError> {
    page::page_size(n, default, max).map_err(|m| ctx.bad(m))
}

pub(super) fn next_token_after(ctx: &Ctx, token: Option<&str>) -> Result<Option<String>, ApiError> {
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
