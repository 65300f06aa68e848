//! Phone numbers: Claim/Update/Release/Describe/ListPhoneNumbersV2 (G6, R5).

use serde_json::{Value, json};
use uuid::Uuid;

use super::common::*;
use super::{Ctx, R, Req};
use crate::emulator::error::{ApiError, invalid_parameter, not_found};
use crate::emulator::model::*;
use crate::emulator::page;
use crate::emulator::validate::{self as v, Body};

enum Target {
    Instance(String, String), // instance id, ARN in the calling region
    Tdg(String),              // tdg id
}

fn resolve_target(st: &State, ctx: &Ctx, bd: &Body) -> Result<Target, ApiError> {
    let target = b(ctx, bd.str("TargetArn"))?;
    let instance = b(ctx, bd.str("InstanceId"))?;
    match (target, instance) {
        (Some(_), Some(_)) => Err(invalid_parameter(
            "Send either TargetArn or InstanceId, not both",
        )),
        (None, None) => Err(invalid_parameter("TargetArn or InstanceId is required")),
        (None, Some(i)) => {
            let inst = find_instance(st, ctx, i, false)?;
            Ok(Target::Instance(inst.id.clone(), inst.arn(ctx.region)))
        }
        (Some(arn), None) => {
            let a = v::parse_arn(arn)
                .ok_or_else(|| invalid_parameter(format!("TargetArn {arn:?} is not an ARN")))?;
            if a.resource.starts_with("traffic-distribution-group/") {
                let id = find_tdg_id(st, ctx, arn)?;
                Ok(Target::Tdg(id))
            } else if a.resource.starts_with("instance/") && !a.resource[9..].contains('/') {
                if a.region != ctx.region {
                    return Err(invalid_parameter(format!(
                        "TargetArn {arn} is in {}; phone numbers are claimed to instances of the calling region {}",
                        a.region, ctx.region
                    )));
                }
                let inst = find_instance(st, ctx, arn, true)?;
                Ok(Target::Instance(inst.id.clone(), arn.to_string()))
            } else {
                Err(invalid_parameter(format!(
                    "TargetArn {arn} must be an instance ARN or a traffic distribution group ARN"
                )))
            }
        }
    }
}

/// G6 and G2 checks of a target for a number in `region`: returns (instance id, target ARN).
fn check_target(
    st: &State,
    ctx: &Ctx,
    target: &Target,
    number_region: &str,
) -> Result<(String, String), ApiError> {
    match target {
        Target::Instance(i, arn) => Ok((i.clone(), arn.clone())),
        Target::Tdg(id) => {
            let g = &st.tdgs[id];
            if g.region != number_region || g.region != ctx.region {
                return Err(invalid_parameter(format!(
                    "Traffic distribution group {} was created in {}; only numbers claimed in that region can belong to it (call in {})",
                    g.id, g.region, g.region
                )));
            }
            let status = g.status(ctx.now);
            if status != "ACTIVE" {
                return Err(not_found(format!(
                    "Traffic distribution group {} is {status}; numbers can be claimed to it only when it is ACTIVE",
                    g.id
                )));
            }
            Ok((g.instance_id.clone(), g.arn()))
        }
    }
}

fn phone_json(p: &Phone, now: f64, full: bool) -> Value {
    let mut v = json!({
        "PhoneNumberId": p.id, "PhoneNumberArn": p.arn(), "PhoneNumber": p.number,
        "PhoneNumberCountryCode": p.country, "PhoneNumberType": p.number_type,
        "TargetArn": p.target_arn, "InstanceId": p.instance_id,
    });
    if let Some(d) = &p.description {
        v["PhoneNumberDescription"] = json!(d);
    }
    if full {
        v["Tags"] = json!(p.tags);
        v["PhoneNumberStatus"] = json!({"Status": p.status(now)});
    }
    v
}

/// The number is visible in the calling region: by id in its own region; by ARN also from the
/// replica region of its traffic distribution group.
fn find_phone(st: &State, ctx: &Ctx, id_or_arn: &str, for_write: bool) -> Result<String, ApiError> {
    let is_arn = id_or_arn.starts_with("arn:");
    let id = id_or_arn.rsplit('/').next().unwrap_or(id_or_arn);
    if !v::UUID_RE.is_match(id) {
        return Err(invalid_parameter(format!(
            "{id_or_arn:?} is not a phone number id or ARN"
        )));
    }
    let missing = || {
        not_found(format!(
            "Phone number {id_or_arn} does not exist in {}",
            ctx.region
        ))
    };
    let p = st.phones.get(id).ok_or_else(missing)?;
    if p.region == ctx.region {
        return Ok(p.id.clone());
    }
    let in_tdg_replica = st
        .tdgs
        .values()
        .find(|g| g.arn() == p.target_arn)
        .and_then(|g| st.instances.get(&g.instance_id))
        .is_some_and(|i| i.replica_region() == Some(ctx.region));
    if is_arn && in_tdg_replica {
        if for_write {
            return Err(invalid_parameter(format!(
                "Phone number {} belongs to {}; change it in that region",
                p.number, p.region
            )));
        }
        return Ok(p.id.clone());
    }
    Err(missing())
}

pub(super) fn claim_phone(st: &mut State, ctx: &Ctx, req: &Req) -> R {
    let bd = body(req);
    let number = b(ctx, bd.req_str("PhoneNumber"))?;
    if !v::E164.is_match(number) {
        return Err(invalid_parameter(format!(
            "PhoneNumber {number:?} is not in E.164 format (+ and up to 15 digits)"
        )));
    }
    let desc = b(ctx, bd.str("PhoneNumberDescription"))?;
    if desc.is_some_and(|d| d.chars().count() > 500) {
        return Err(invalid_parameter(
            "PhoneNumberDescription must be at most 500 characters",
        ));
    }
    let tags = b(ctx, bd.tags("Tags"))?.unwrap_or_default();
    let token = client_token(ctx, &bd)?;
    let params = without(&req.body, "ClientToken");
    if let Some(r) = idem_lookup(st, ctx, token, &params, true) {
        return r;
    }
    let target = resolve_target(st, ctx, &bd)?;
    let (instance_id, target_arn) = check_target(st, ctx, &target, ctx.region)?;
    if let Some(p) = st.phones.values().find(|p| p.number == number) {
        return Err(invalid_parameter(format!(
            "Phone number {number} is already claimed ({}); claim another number",
            p.arn()
        )));
    }
    let p = Phone {
        id: Uuid::new_v4().to_string(),
        account: st.account().to_string(),
        number: number.to_string(),
        country: country_of(number).into(),
        number_type: type_of(number).into(),
        description: desc.map(str::to_string),
        tags,
        region: ctx.region.to_string(),
        instance_id,
        target_arn,
        ready_at: ctx.now + ctx.t.phone_claim_s,
    };
    let out = json!({"PhoneNumberId": p.id, "PhoneNumberArn": p.arn()});
    st.phones.insert(p.id.clone(), p);
    idem_store(st, ctx, token, params, &out);
    Ok(out)
}

pub(super) fn update_phone(st: &mut State, ctx: &Ctx, req: &Req) -> R {
    let bd = body(req);
    let token = client_token(ctx, &bd)?;
    let params = json!({"Id": req.labels[0], "Body": without(&req.body, "ClientToken")});
    if let Some(r) = idem_lookup(st, ctx, token, &params, true) {
        return r;
    }
    let id = find_phone(st, ctx, &req.labels[0], true)?;
    let p = &st.phones[&id];
    if p.status(ctx.now) == "IN_PROGRESS" {
        return Err(ApiError::new(
            "ResourceInUseException",
            format!(
                "Phone number {} has an operation in progress; retry when it is CLAIMED",
                p.number
            ),
        )
        .with("ResourceType", "PHONE_NUMBER")
        .with("ResourceId", p.arn()));
    }
    let number_region = p.region.clone();
    let target = resolve_target(st, ctx, &bd)?;
    let (instance_id, target_arn) = check_target(st, ctx, &target, &number_region)?;
    let p = st.phones.get_mut(&id).expect("phone");
    if p.target_arn != target_arn {
        p.target_arn = target_arn;
        p.instance_id = instance_id;
        p.ready_at = ctx.now + ctx.t.phone_claim_s;
    }
    let out = json!({"PhoneNumberId": p.id, "PhoneNumberArn": p.arn()});
    idem_store(st, ctx, token, params, &out);
    Ok(out)
}

pub(super) fn release_phone(st: &mut State, ctx: &Ctx, req: &Req) -> R {
    if let Some(t) = req.query.get("clientToken")
        && t.len() > 500
    {
        return Err(invalid_parameter(
            "clientToken must be at most 500 characters",
        ));
    }
    let id = find_phone(st, ctx, &req.labels[0], true)?;
    let p = &st.phones[&id];
    if p.status(ctx.now) == "IN_PROGRESS" {
        return Err(ApiError::new(
            "ResourceInUseException",
            format!(
                "Phone number {} has an operation in progress; retry when it is CLAIMED",
                p.number
            ),
        )
        .with("ResourceType", "PHONE_NUMBER")
        .with("ResourceId", p.arn()));
    }
    st.phones.remove(&id);
    Ok(json!({}))
}

pub(super) fn describe_phone(st: &mut State, ctx: &Ctx, req: &Req) -> R {
    let id = find_phone(st, ctx, &req.labels[0], false)?;
    Ok(json!({"ClaimedPhoneNumberSummary": phone_json(&st.phones[&id], ctx.now, true)}))
}

pub(super) fn list_phones(st: &mut State, ctx: &Ctx, req: &Req) -> R {
    let bd = body(req);
    let size = max_results(ctx, b(ctx, bd.int("MaxResults"))?, 100, 1000)?;
    let token = b(ctx, bd.str("NextToken"))?;
    let countries = b(ctx, bd.str_list("PhoneNumberCountryCodes"))?;
    let types = b(ctx, bd.str_list("PhoneNumberTypes"))?;
    if countries.as_ref().is_some_and(|c| c.len() > 10)
        || types.as_ref().is_some_and(|t| t.len() > 6)
    {
        return Err(invalid_parameter(
            "At most 10 PhoneNumberCountryCodes and 6 PhoneNumberTypes",
        ));
    }
    let prefix = b(ctx, bd.str("PhoneNumberPrefix"))?;
    let target = b(ctx, bd.str("TargetArn"))?;
    let instance = b(ctx, bd.str("InstanceId"))?;
    let target_filter: Option<String> = match target {
        Some(t) => Some(
            match resolve_target(st, ctx, &Body(&json!({"TargetArn": t})))? {
                Target::Instance(_, arn) => arn,
                Target::Tdg(id) => st.tdgs[&id].arn(),
            },
        ),
        None => None,
    };
    let instance_filter = match instance {
        Some(i) => Some(find_instance(st, ctx, i, false)?.id.clone()),
        None => None,
    };
    let items: Vec<&Phone> = st
        .phones
        .values()
        .filter(|p| {
            let tdg_replica = st
                .tdgs
                .values()
                .find(|g| g.arn() == p.target_arn)
                .and_then(|g| st.instances.get(&g.instance_id))
                .is_some_and(|i| i.replica_region() == Some(ctx.region));
            p.region == ctx.region || tdg_replica
        })
        .filter(|p| target_filter.as_ref().is_none_or(|t| *t == p.target_arn))
        .filter(|p| instance_filter.as_ref().is_none_or(|i| *i == p.instance_id))
        .filter(|p| {
            countries
                .as_ref()
                .is_none_or(|c| c.contains(&p.country.as_str()))
        })
        .filter(|p| {
            types
                .as_ref()
                .is_none_or(|t| t.contains(&p.number_type.as_str()))
        })
        .filter(|p| {
            prefix.is_none_or(|x| p.number.starts_with(x) || p.number.starts_with(&format!("+{x}")))
        })
        .collect();
    let (page, next) =
        page::paginate(ctx.op, items, |p| p.id.clone(), token, size).map_err(invalid_parameter)?;
    let mut out = json!({"ListPhoneNumbersSummaryList": page.into_iter().map(|p| phone_json(p, ctx.now, false)).collect::<Vec<_>>()});
    if let Some(n) = next {
        out["NextToken"] = json!(n);
    }
    Ok(out)
}
