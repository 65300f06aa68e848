//! Global routing: Get/UpdateCrossRegionRouting (wave-2 reference §1). One isolation flag per
//! instance, readable and settable from either region; only for replicated instances enabled for
//! global routing (InvalidRequestException otherwise, the reference's suggested default).

use serde_json::{Value, json};

use super::common::*;
use super::{Ctx, R, Req};
use crate::emulator::error::{ApiError, invalid_request};
use crate::emulator::model::*;

/// `ACGRInstanceIdOrArn`: 1-250 characters, an id or an instance ARN.
fn instance<'s>(st: &'s State, ctx: &Ctx, label: &str) -> Result<&'s Instance, ApiError> {
    if label.is_empty() || label.chars().count() > 250 {
        return Err(ctx.bad("InstanceId must be 1-250 characters"));
    }
    let inst = find_instance(st, ctx, label, label.starts_with("arn:"))?;
    if inst.replica.is_none() || !inst.global_routing {
        return Err(invalid_request(format!(
            "Instance {} is not enabled for global routing: cross-region routing is available only for replicated instances with global routing (ask AWS Support to enable it)",
            inst.id
        )));
    }
    Ok(inst)
}

fn isolated_regions(inst: &Instance) -> Vec<String> {
    if !inst.isolated {
        return vec![];
    }
    std::iter::once(inst.region.clone())
        .chain(inst.replica_region().map(str::to_string))
        .collect()
}

pub(super) fn get_cross_region_routing(st: &mut State, ctx: &Ctx, req: &Req) -> R {
    let inst = instance(st, ctx, &req.labels[0])?;
    Ok(json!({"IsolatedRegions": isolated_regions(inst)}))
}

pub(super) fn update_cross_region_routing(st: &mut State, ctx: &Ctx, req: &Req) -> R {
    let isolated = match req.body.get("IsolatedAll") {
        Some(Value::Bool(b)) => *b,
        None | Some(Value::Null) => return Err(ctx.bad("IsolatedAll is required")),
        Some(_) => return Err(ctx.bad("IsolatedAll must be a boolean")),
    };
    let id = instance(st, ctx, &req.labels[0])?.id.clone();
    if let Some(i) = st.instances.get_mut(&id) {
        i.isolated = isolated;
    }
    Ok(json!({}))
}
