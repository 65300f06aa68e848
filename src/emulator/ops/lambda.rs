//! Lambda function associations, per region (not mirrored, R4).

use serde_json::json;

use super::common::*;
use super::{Ctx, R, Req};
use crate::emulator::error::{ApiError, invalid_parameter, not_found};
use crate::emulator::model::*;
use crate::emulator::page;
use crate::emulator::validate as v;

pub(super) fn associate_lambda(st: &mut State, ctx: &Ctx, req: &Req) -> R {
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

pub(super) fn disassociate_lambda(st: &mut State, ctx: &Ctx, req: &Req) -> R {
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

pub(super) fn list_lambdas(st: &mut State, ctx: &Ctx, req: &Req) -> R {
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
