//! UpdateTrafficDistribution and GetTrafficDistribution (D1-D5, G4).

use serde_json::{Value, json};

use super::common::*;
use super::{Ctx, R, Req};
use crate::emulator::error::{ApiError, invalid_request};
use crate::emulator::model::*;
use crate::emulator::validate::{self as v, Body};

fn dist_json(d: &[(String, i64)]) -> Value {
    json!({"Distributions": d.iter().map(|(r, p)| json!({"Region": r, "Percentage": p})).collect::<Vec<_>>()})
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

pub(super) fn update_distribution(st: &mut State, ctx: &Ctx, req: &Req) -> R {
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

pub(super) fn get_distribution(st: &mut State, ctx: &Ctx, req: &Req) -> R {
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
