//! TagResource, UntagResource, ListTagsForResource (traffic distribution groups only).

use serde_json::json;

use super::common::*;
use super::{Ctx, R, Req};
use crate::emulator::error::ApiError;
use crate::emulator::model::*;

/// The group a tagging call names by ARN (tags are only emulated for groups).
fn tagged_tdg(st: &State, ctx: &Ctx, arn: &str) -> Result<String, ApiError> {
    if !arn.starts_with("arn:") || !arn.contains(":traffic-distribution-group/") {
        return Err(ctx.bad(format!(
            "{arn:?}: this emulator tags traffic distribution groups only, addressed by ARN"
        )));
    }
    find_tdg_id(st, ctx, arn)
}

pub(super) fn tag_resource(st: &mut State, ctx: &Ctx, req: &Req) -> R {
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

pub(super) fn untag_resource(st: &mut State, ctx: &Ctx, req: &Req) -> R {
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

pub(super) fn list_tags(st: &mut State, ctx: &Ctx, req: &Req) -> R {
    let id = tagged_tdg(st, ctx, &req.labels[0])?;
    Ok(json!({"tags": st.tdgs[&id].tags}))
}
