//! Real-time metrics (health gates): `ListQueues` and `GetCurrentMetricData`, answered from the
//! presence model (`emulator::presence`). With global routing the figures are one combined view
//! of both regions, whichever region is called; without it each region reports its own agents
//! and queues (wave-2 reference §1.3, §2.1, §3).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};

use super::common::{b, body, find_instance, find_instance_mirrored, max_results};
use super::{Ctx, R, Req};
use crate::emulator::error::ApiError;
use crate::emulator::model::State;
use crate::emulator::page;
use crate::emulator::presence::{self, Agent, AgentState, Queue, QueueType};
use crate::emulator::roster;

pub(super) fn list_queues(st: &mut State, ctx: &Ctx, req: &Req) -> R {
    let size = max_results(ctx, req.q_int(ctx, "maxResults")?, 100, 1000)?;
    let inst = find_instance_mirrored(st, ctx, &req.labels[0])?;
    let types: Vec<&str> = req
        .query_all
        .iter()
        .filter(|(k, _)| k == "queueTypes")
        .map(|(_, v)| v.as_str())
        .collect();
    if types.len() > 2 {
        return Err(ctx.bad("queueTypes takes at most 2 values"));
    }
    if let Some(t) = types.iter().find(|t| !["STANDARD", "AGENT"].contains(t)) {
        return Err(ctx.bad(format!(
            "queueTypes value {t:?} is not one of STANDARD, AGENT"
        )));
    }
    let items: Vec<Queue> = roster::queues(st, &inst.id)
        .into_iter()
        .filter(|q| types.is_empty() || types.contains(&q.queue_type.as_str()))
        .collect();
    let (page, next) = page::paginate(
        ctx.op,
        items,
        |q| q.id.clone(),
        req.query.get("nextToken").map(|s| s.as_str()),
        size,
    )
    .map_err(|m| ctx.bad(m))?;
    let base = inst.arn(ctx.region);
    let list: Vec<Value> = page
        .into_iter()
        .map(|q| {
            let mut v = json!({"Id": q.id, "Arn": format!("{base}/queue/{}", q.id),
                               "QueueType": q.queue_type.as_str(),
                               "LastModifiedTime": inst.created.floor(), "LastModifiedRegion": inst.region});
            if let Some(n) = q.name {
                v["Name"] = json!(n);
            }
            v
        })
        .collect();
    let mut out = json!({ "QueueSummaryList": list });
    if let Some(n) = next {
        out["NextToken"] = json!(n);
    }
    Ok(out)
}

const METRICS: &[(&str, &str)] = &[
    ("AGENTS_ONLINE", "COUNT"),
    ("AGENTS_AVAILABLE", "COUNT"),
    ("AGENTS_ON_CALL", "COUNT"),
    ("AGENTS_NON_PRODUCTIVE", "COUNT"),
    ("AGENTS_AFTER_CONTACT_WORK", "COUNT"),
    ("AGENTS_ERROR", "COUNT"),
    ("AGENTS_STAFFED", "COUNT"),
    ("CONTACTS_IN_QUEUE", "COUNT"),
    ("OLDEST_CONTACT_AGE", "SECONDS"),
    ("CONTACTS_SCHEDULED", "COUNT"),
    ("AGENTS_ON_CONTACT", "COUNT"),
    ("SLOTS_ACTIVE", "COUNT"),
    ("SLOTS_AVAILABLE", "COUNT"),
];
const GROUPINGS: &[&str] = &[
    "QUEUE",
    "CHANNEL",
    "ROUTING_PROFILE",
    "ROUTING_STEP_EXPRESSION",
    "AGENT_STATUS",
    "SUBTYPE",
    "VALIDATION_TEST_TYPE",
];
const CHANNELS: &[&str] = &["VOICE", "CHAT", "TASK"];

/// A request checked against the documented rules.
struct MetricRequest {
    queues: Option<BTreeSet<String>>,
    routing_profiles: Option<BTreeSet<String>>,
    channels: Vec<String>,
    groupings: Vec<String>,
    metrics: Vec<(String, String)>,
    sort: (String, bool),
    size: usize,
    token: Option<String>,
}

/// A bare id from an id or an ARN (`.../queue/<id>`, `.../routing-profile/<id>`).
fn bare(s: &str) -> String {
    s.rsplit('/').next().unwrap_or(s).to_string()
}

fn id_list(
    ctx: &Ctx,
    f: &crate::emulator::validate::Body,
    k: &str,
) -> Result<Option<BTreeSet<String>>, ApiError> {
    match b(ctx, f.str_list(k))? {
        None => Ok(None),
        Some(l) if l.is_empty() || l.len() > 100 => {
            Err(ctx.bad(format!("Filters.{k} must hold 1-100 ids or ARNs")))
        }
        Some(l) => Ok(Some(l.into_iter().map(bare).collect())),
    }
}

fn parse(ctx: &Ctx, req: &Req) -> Result<MetricRequest, ApiError> {
    let bd = body(req);
    let filters = b(ctx, bd.obj("Filters"))?.ok_or_else(|| ctx.bad("Filters is required"))?;
    let queues = id_list(ctx, &filters, "Queues")?;
    let routing_profiles = id_list(ctx, &filters, "RoutingProfiles")?;
    if queues.is_some() && routing_profiles.is_some() {
        return Err(ApiError::new(
            "InvalidRequestException",
            "Filters take queues or routing profiles, not both",
        ));
    }
    if queues.is_none() && routing_profiles.is_none() {
        return Err(
            ctx.bad("GetCurrentMetricData requires Filters.Queues or Filters.RoutingProfiles")
        );
    }
    for k in [
        "RoutingStepExpressions",
        "AgentStatuses",
        "Subtypes",
        "ValidationTestTypes",
    ] {
        if b(ctx, filters.list(k))?.is_some() {
            return Err(ApiError::new(
                "InvalidRequestException",
                format!("Filters.{k} is not modelled by the emulator"),
            ));
        }
    }
    let channels: Vec<String> = match b(ctx, filters.str_list("Channels"))? {
        None => Vec::new(),
        Some(c) if c.len() > 4 => return Err(ctx.bad("Filters.Channels holds at most 4 channels")),
        Some(c) => {
            if let Some(x) = c.iter().find(|x| !CHANNELS.contains(x)) {
                return Err(ctx.bad(format!(
                    "channel {x:?} is not supported: VOICE, CHAT or TASK"
                )));
            }
            c.into_iter().map(str::to_string).collect()
        }
    };
    let groupings: Vec<String> = b(ctx, bd.str_list("Groupings"))?
        .unwrap_or_default()
        .into_iter()
        .map(str::to_string)
        .collect();
    if groupings.len() > 2 {
        return Err(ctx.bad("Groupings holds at most 2 groupings"));
    }
    if let Some(g) = groupings.iter().find(|g| !GROUPINGS.contains(&g.as_str())) {
        return Err(ctx.bad(format!("grouping {g:?} is not a Grouping")));
    }
    if let Some(g) = groupings
        .iter()
        .find(|g| !["QUEUE", "CHANNEL", "ROUTING_PROFILE"].contains(&g.as_str()))
    {
        return Err(ApiError::new(
            "InvalidRequestException",
            format!("grouping {g} needs a filter the emulator does not model"),
        ));
    }
    let list =
        b(ctx, bd.list("CurrentMetrics"))?.ok_or_else(|| ctx.bad("CurrentMetrics is required"))?;
    if list.is_empty() {
        return Err(ctx.bad("CurrentMetrics must name at least one metric"));
    }
    let mut metrics = Vec::new();
    for m in list {
        let m = crate::emulator::validate::Body(m);
        if b(ctx, m.str("MetricId"))?.is_some() {
            return Err(ApiError::new(
                "InvalidRequestException",
                "custom metrics (MetricId) are not modelled by the emulator",
            ));
        }
        let name = b(ctx, m.req_str("Name"))?;
        let Some((_, unit)) = METRICS.iter().find(|(n, _)| *n == name) else {
            return Err(ctx.bad(format!("{name:?} is not a CurrentMetricName")));
        };
        if let Some(u) = b(ctx, m.str("Unit"))?
            && !["SECONDS", "COUNT", "PERCENT"].contains(&u)
        {
            return Err(ctx.bad(format!("Unit {u:?} is not SECONDS, COUNT or PERCENT")));
        }
        metrics.push((name.to_string(), unit.to_string()));
    }
    if groupings.iter().any(|g| g == "ROUTING_PROFILE")
        && routing_profiles.is_none()
        && metrics.iter().any(|(n, _)| {
            [
                "CONTACTS_SCHEDULED",
                "CONTACTS_IN_QUEUE",
                "OLDEST_CONTACT_AGE",
            ]
            .contains(&n.as_str())
        })
    {
        return Err(ApiError::new(
            "InvalidRequestException",
            "grouped by ROUTING_PROFILE, CONTACTS_SCHEDULED, CONTACTS_IN_QUEUE and OLDEST_CONTACT_AGE need a routing-profile filter",
        ));
    }
    let sort = match b(ctx, bd.list("SortCriteria"))? {
        None => ("AGENTS_ONLINE".to_string(), false),
        Some(l) if l.len() > 1 => return Err(ctx.bad("SortCriteria holds at most 1 entry")),
        Some(l) if l.is_empty() => ("AGENTS_ONLINE".to_string(), false),
        Some(l) => {
            let s = crate::emulator::validate::Body(&l[0]);
            let by = b(ctx, s.str("SortByMetric"))?.unwrap_or("AGENTS_ONLINE");
            if !METRICS.iter().any(|(n, _)| *n == by) {
                return Err(ctx.bad(format!("{by:?} is not a CurrentMetricName")));
            }
            if by.starts_with("SLOTS_") {
                return Err(ApiError::new(
                    "InvalidRequestException",
                    format!("cannot sort on {by}"),
                ));
            }
            let asc = match b(ctx, s.str("SortOrder"))? {
                None | Some("DESCENDING") => false,
                Some("ASCENDING") => true,
                Some(o) => {
                    return Err(ctx.bad(format!("SortOrder {o:?} is not ASCENDING or DESCENDING")));
                }
            };
            (by.to_string(), asc)
        }
    };
    let size = max_results(ctx, b(ctx, bd.int("MaxResults"))?, 100, 100)?;
    let token = b(ctx, bd.str("NextToken"))?.map(str::to_string);
    Ok(MetricRequest {
        queues,
        routing_profiles,
        channels,
        groupings,
        metrics,
        sort,
        size,
        token,
    })
}

/// One result row before it is rendered: its dimensions and what it counts.
struct Row {
    dims: Value,
    key: String,
    agents: Vec<Agent>,
    /// (contacts waiting, oldest age in seconds) over the row's STANDARD queues.
    waiting: (u64, f64),
}

fn value(row: &Row, metric: &str, grouped: bool) -> Value {
    let count = |s: AgentState| row.agents.iter().filter(|a| a.state == s).count() as f64;
    let v = match metric {
        "AGENTS_AVAILABLE" => count(AgentState::Available),
        "AGENTS_ON_CONTACT" | "AGENTS_ON_CALL" => count(AgentState::OnContact),
        "AGENTS_ONLINE" | "AGENTS_STAFFED" | "SLOTS_ACTIVE" => {
            count(AgentState::Available) + count(AgentState::OnContact)
        }
        "SLOTS_AVAILABLE" => count(AgentState::Available),
        "CONTACTS_IN_QUEUE" => row.waiting.0 as f64,
        // Without groupings Connect reports this one in milliseconds (wave-2 reference §2.1).
        "OLDEST_CONTACT_AGE" if grouped => row.waiting.1.floor(),
        "OLDEST_CONTACT_AGE" => (row.waiting.1 * 1000.0).floor(),
        _ => 0.0,
    };
    json!(v)
}

pub(super) fn get_current_metric_data(st: &mut State, ctx: &Ctx, req: &Req) -> R {
    let inst = find_instance(st, ctx, &req.labels[0], false)?.clone();
    let r = parse(ctx, req)?;
    let visible = presence::visible_regions(&inst, ctx.region);
    let agents: Vec<Agent> = roster::agents(st, &inst)
        .into_iter()
        .filter(|a| visible.contains(&a.region))
        .collect();
    let queues = roster::queues(st, &inst.id);
    let rp_names: BTreeMap<String, ()> = st
        .routing_profiles
        .values()
        .filter(|n| n.instance_id == inst.id)
        .map(|n| (n.id.clone(), ()))
        .collect();
    // The queues and routing profiles in scope of the filter.
    let scoped_queues: Vec<&Queue> = queues
        .iter()
        .filter(|q| match (&r.queues, &r.routing_profiles) {
            (Some(f), _) => f.contains(&q.id),
            (_, Some(rps)) => q.queue_type == QueueType::Standard && rps.contains(&q.owner),
            _ => false,
        })
        .collect();
    let scoped_rps: Vec<String> = match &r.routing_profiles {
        Some(f) => f
            .iter()
            .filter(|id| rp_names.contains_key(*id))
            .cloned()
            .collect(),
        None => rp_names.keys().cloned().collect(),
    };
    let waiting = |qs: &[&Queue], channel: Option<&str>| -> (u64, f64) {
        if channel.is_some_and(|c| c != "VOICE") {
            return (0, 0.0);
        }
        let mut n = 0;
        let mut oldest: f64 = 0.0;
        for _q in qs.iter().filter(|q| q.queue_type == QueueType::Standard) {
            for reg in &visible {
                let p = st.presence.of(reg);
                n += p.contacts_in_queue;
                if p.contacts_in_queue > 0 {
                    oldest = oldest.max(p.oldest_contact_age_seconds);
                }
            }
        }
        (n, oldest)
    };
    let in_scope = |a: &Agent, qs: &[&Queue]| -> bool {
        match &r.routing_profiles {
            Some(f) => f.contains(&a.routing_profile_id),
            None => qs.iter().any(|q| presence::serves(a, q)),
        }
    };
    let channels: Vec<Option<String>> = if r.groupings.iter().any(|g| g == "CHANNEL") {
        let c = if r.channels.is_empty() {
            CHANNELS.iter().map(|s| s.to_string()).collect()
        } else {
            r.channels.clone()
        };
        c.into_iter().map(Some).collect()
    } else {
        vec![None]
    };
    let by_queue = r.groupings.iter().any(|g| g == "QUEUE");
    let by_rp = r.groupings.iter().any(|g| g == "ROUTING_PROFILE");
    let queue_sets: Vec<Option<&Queue>> = if by_queue {
        scoped_queues.iter().map(|q| Some(*q)).collect()
    } else {
        vec![None]
    };
    let rp_sets: Vec<Option<&String>> = if by_rp {
        scoped_rps.iter().map(Some).collect()
    } else {
        vec![None]
    };
    let base = inst.arn(ctx.region);
    let mut rows = Vec::new();
    for q in &queue_sets {
        for rp in &rp_sets {
            for ch in &channels {
                let qs: Vec<&Queue> = match q {
                    Some(q) => vec![*q],
                    None => scoped_queues.clone(),
                };
                let qs: Vec<&Queue> = match rp {
                    Some(rp) => qs
                        .into_iter()
                        .filter(|q| q.queue_type == QueueType::Standard && q.owner == **rp)
                        .collect(),
                    None => qs,
                };
                let row_agents: Vec<Agent> = agents
                    .iter()
                    .filter(|a| in_scope(a, &qs) && rp.is_none_or(|rp| a.routing_profile_id == *rp))
                    .filter(|a| q.is_none_or(|q| presence::serves(a, q)))
                    .cloned()
                    .collect();
                let mut dims = json!({});
                let mut key = String::new();
                for g in &r.groupings {
                    match g.as_str() {
                        "QUEUE" => {
                            if let Some(q) = q {
                                dims["Queue"] =
                                    json!({"Id": q.id, "Arn": format!("{base}/queue/{}", q.id)});
                                key.push_str(&q.id);
                            }
                        }
                        "ROUTING_PROFILE" => {
                            if let Some(rp) = rp {
                                dims["RoutingProfile"] = json!({"Id": rp, "Arn": format!("{base}/routing-profile/{rp}")});
                                key.push_str(rp);
                            }
                        }
                        "CHANNEL" => {
                            if let Some(c) = ch {
                                dims["Channel"] = json!(c);
                                key.push_str(c);
                            }
                        }
                        _ => {}
                    }
                }
                let w = waiting(&qs, ch.as_deref());
                rows.push(Row {
                    dims,
                    key,
                    agents: row_agents,
                    waiting: w,
                });
            }
        }
    }
    if r.queues.is_some() && scoped_queues.is_empty() {
        rows.clear();
    }
    let grouped = !r.groupings.is_empty();
    let sort_value = |row: &Row| value(row, &r.sort.0, grouped).as_f64().unwrap_or(0.0);
    rows.sort_by(|a, b| {
        let o = sort_value(a).total_cmp(&sort_value(b));
        (if r.sort.1 { o } else { o.reverse() }).then_with(|| a.key.cmp(&b.key))
    });
    let total = rows.len();
    let indexed: Vec<(usize, Row)> = rows.into_iter().enumerate().collect();
    let (page, next) = page::paginate(
        ctx.op,
        indexed,
        |(i, _)| format!("{i:08}"),
        r.token.as_deref(),
        r.size,
    )
    .map_err(|m| ctx.bad(m))?;
    let results: Vec<Value> = page
        .into_iter()
        .map(|(_, row)| {
            let collections: Vec<Value> = r
                .metrics
                .iter()
                .map(|(n, u)| json!({"Metric": {"Name": n, "Unit": u}, "Value": value(&row, n, grouped)}))
                .collect();
            json!({"Dimensions": row.dims, "Collections": collections})
        })
        .collect();
    let mut out = json!({
        "MetricResults": results,
        "DataSnapshotTime": ctx.now.floor(),
        "ApproximateTotalCount": total,
    });
    if let Some(n) = next {
        out["NextToken"] = json!(n);
    }
    Ok(out)
}
