//! Gate I/O of a gated rollout: real-time metric reads (ListQueues, ListRoutingProfiles,
//! GetCurrentMetricData) in the region the step sends more telephony to, the webhook POST
//! (`reconcile::webhook`) and the approval annotation. Each gate answers with a `plan::gates::GateOutcome`; a read error or
//! a timeout is Inconclusive, never a pass. The decisions live in `plan::gates`.

use std::time::Duration;

use crate::api::rollout::MetricScope;
use crate::api::{Gate, reasons};
use crate::connect::{CurrentMetrics, Distribution, MetricFilter};
use crate::plan::gates::{self, GateOutcome, GateResult};
use serde_json::json;

use super::{Ending, Engine, Verdict};

/// The step the gates are asked about.
pub struct Proposal<'a> {
    pub name: &'a str,
    pub namespace: &'a str,
    pub instance_id: &'a str,
    /// Where the gates read: the region that gets more telephony in this step.
    pub region: &'a str,
    /// The number of the step about to be taken (1-based) and the total.
    pub step: i32,
    pub of: i32,
    pub from: &'a Distribution,
    pub to: &'a Distribution,
    /// Value of connectgr.io/approve.
    pub approve: Option<&'a str>,
}

/// Every gate's outcome for the proposed step, in declaration order.
pub async fn evaluate(engine: &Engine, declared: &[Gate], p: &Proposal<'_>) -> Vec<GateOutcome> {
    let mut out = Vec::with_capacity(declared.len());
    for g in declared {
        let (result, message) = one(engine, g, p).await;
        out.push(GateOutcome {
            name: g.name.clone(),
            result,
            message,
        });
        crate::metrics::gate_result(result.as_str());
    }
    out
}

/// Whether the step sends more telephony to some region (else metric gates have nothing to
/// protect: agents moving ahead is what builds the capacity they look for).
fn telephony_moves(p: &Proposal<'_>) -> bool {
    p.to.telephony
        .iter()
        .any(|(r, t)| *t > p.from.telephony.get(r).copied().unwrap_or(0))
}

async fn one(engine: &Engine, g: &Gate, p: &Proposal<'_>) -> (GateResult, String) {
    let metric_gate = g.agents_available.is_some()
        || g.oldest_contact_age.is_some()
        || g.contacts_in_queue.is_some();
    if metric_gate && !telephony_moves(p) {
        return (
            GateResult::Pass,
            "no telephony moves in this step (agents only)".into(),
        );
    }
    if let Some(a) = &g.agents_available {
        return metric(engine, &a.scope, p, |m| {
            gates::threshold(
                "agents Available",
                m.agents_available,
                |v| v >= a.min as f64,
                &format!(">= {}", a.min),
                p.region,
            )
        })
        .await;
    }
    if let Some(o) = &g.oldest_contact_age {
        return metric(engine, &o.scope, p, |m| {
            gates::threshold(
                "oldest contact age (s)",
                m.oldest_contact_age_seconds,
                |v| v <= o.max_seconds as f64,
                &format!("<= {}", o.max_seconds),
                p.region,
            )
        })
        .await;
    }
    if let Some(c) = &g.contacts_in_queue {
        return metric(engine, &c.scope, p, |m| {
            gates::threshold(
                "contacts in queue",
                m.contacts_in_queue,
                |v| v <= c.max as f64,
                &format!("<= {}", c.max),
                p.region,
            )
        })
        .await;
    }
    if let Some(w) = &g.webhook {
        return webhook(engine, w, &g.name, p).await;
    }
    if g.approval.is_some() {
        return gates::approval(p.approve, p.step);
    }
    (
        GateResult::Fail,
        "the gate sets none of its kinds".to_string(),
    )
}

/// Reads the figures over the gate's scope in the receiving region and judges them.
async fn metric(
    engine: &Engine,
    scope: &MetricScope,
    p: &Proposal<'_>,
    judge: impl FnOnce(&CurrentMetrics) -> (GateResult, String),
) -> (GateResult, String) {
    let filter = match filter(engine, scope, p).await {
        Ok(f) => f,
        Err(e) => return e,
    };
    match engine
        .connect
        .get_current_metrics(p.region, p.instance_id, &filter)
        .await
    {
        Ok(m) => judge(&m),
        Err(e) => (
            GateResult::Inconclusive,
            format!("GetCurrentMetricData in {} failed: {e}", p.region),
        ),
    }
}

/// Queue or routing-profile names to ids (STANDARD queues when the scope names none).
async fn filter(
    engine: &Engine,
    scope: &MetricScope,
    p: &Proposal<'_>,
) -> Result<MetricFilter, (GateResult, String)> {
    let inconclusive = |what: &str, e| {
        (
            GateResult::Inconclusive,
            format!("{what} in {} failed: {e}", p.region),
        )
    };
    if !scope.routing_profiles.is_empty() {
        let all = engine
            .connect
            .list_routing_profiles(p.region, p.instance_id)
            .await
            .map_err(|e| inconclusive("ListRoutingProfiles", e))?;
        let ids = resolve(&scope.routing_profiles, &all, "routing profile")?;
        return Ok(MetricFilter::RoutingProfiles(ids));
    }
    let all = engine
        .connect
        .list_queues(p.region, p.instance_id)
        .await
        .map_err(|e| inconclusive("ListQueues", e))?;
    if scope.queues.is_empty() {
        if all.is_empty() {
            return Err((
                GateResult::Inconclusive,
                "the instance has no STANDARD queue".into(),
            ));
        }
        return Ok(MetricFilter::Queues(
            all.into_iter().take(100).map(|q| q.id).collect(),
        ));
    }
    Ok(MetricFilter::Queues(resolve(&scope.queues, &all, "queue")?))
}

fn resolve(
    names: &[String],
    all: &[crate::connect::NamedId],
    what: &str,
) -> Result<Vec<String>, (GateResult, String)> {
    names
        .iter()
        .map(|n| {
            all.iter()
                .find(|q| q.name == *n)
                .map(|q| q.id.clone())
                .ok_or_else(|| (GateResult::Fail, format!("no {what} named {n:?}")))
        })
        .collect()
}

/// The JSON body POSTed to a webhook gate.
pub fn webhook_body(gate: &str, p: &Proposal<'_>) -> serde_json::Value {
    json!({
        "gate": gate,
        "trafficDistribution": {"name": p.name, "namespace": p.namespace},
        "step": p.step,
        "of": p.of,
        "region": p.region,
        "from": {"telephony": p.from.telephony, "agents": p.from.agents},
        "to": {"telephony": p.to.telephony, "agents": p.to.agents},
    })
}

/// POST to an https:// webhook (`reconcile::webhook`): 2xx passes, other statuses fail; a host
/// outside `--allowed-webhook-hosts`, a bad `caBundle` or an answer over the size cap fails; no
/// answer within the timeout (or no connection) is inconclusive. Never a pass without a 2xx.
async fn webhook(
    engine: &Engine,
    w: &crate::api::rollout::WebhookGate,
    gate: &str,
    p: &Proposal<'_>,
) -> (GateResult, String) {
    let body = webhook_body(gate, p).to_string();
    let timeout = Duration::from_secs(w.timeout_seconds.clamp(1, 60) as u64);
    let url = &w.url;
    match super::webhook::post(
        url,
        w.ca_bundle.as_deref(),
        body,
        timeout,
        &engine.webhook_hosts,
    )
    .await
    {
        Ok(a) if (200..300).contains(&a.status) => (GateResult::Pass, answered(a.status, &a.body)),
        Ok(a) => (GateResult::Fail, answered(a.status, &a.body)),
        Err(e) if e.fails() => (GateResult::Fail, format!("webhook {url}: {e}")),
        Err(e) => (GateResult::Inconclusive, format!("webhook {url}: {e}")),
    }
}

fn answered(status: u16, body: &str) -> String {
    if body.is_empty() {
        format!("webhook answered {status}")
    } else {
        format!("webhook answered {status}: {body}")
    }
}

/// The first webhook gate whose host `--allowed-webhook-hosts` refuses (or whose URL is not an
/// https:// URL): the rollout is Stalled (reason WebhookHostNotAllowed) before any gate is asked.
pub fn refused_webhook(engine: &Engine, declared: &[Gate]) -> Option<Ending> {
    declared.iter().find_map(|g| {
        let w = g.webhook.as_ref()?;
        let e = super::webhook::allowed_host(&w.url, &engine.webhook_hosts).err()?;
        Some(Ending::new(
            Verdict::stalled(
                reasons::WEBHOOK_HOST_NOT_ALLOWED,
                format!(
                    "webhook gate {:?} is not called: {e}; the rollout waits until the controller's allow-list or the URL changes",
                    g.name
                ),
            ),
            engine.resync,
        ))
    })
}

/// Agents Available and the oldest waiting contact's age over the instance's STANDARD queues in
/// `region` (a drill's report); `None` when they cannot be read (a report, not a gate: nothing
/// is decided on it).
pub async fn figures(engine: &Engine, p: &Proposal<'_>) -> Option<crate::plan::drill::Figures> {
    let filter = filter(engine, &MetricScope::default(), p).await.ok()?;
    let m = engine
        .connect
        .get_current_metrics(p.region, p.instance_id, &filter)
        .await
        .ok()?;
    Some(crate::plan::drill::Figures {
        agents_available: m.agents_available.map(|v| v as i64),
        oldest_contact_age_seconds: m.oldest_contact_age_seconds.map(|v| v as i64),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(t: i32, a: i32) -> Distribution {
        let m = |e: i32| {
            [
                ("us-west-2".to_string(), 100 - e),
                ("us-east-1".to_string(), e),
            ]
            .into()
        };
        Distribution {
            telephony: m(t),
            agents: m(a),
            sign_in: Default::default(),
        }
    }

    fn proposal<'a>(from: &'a Distribution, to: &'a Distribution) -> Proposal<'a> {
        Proposal {
            name: "split",
            namespace: "ops",
            instance_id: "i",
            region: "us-east-1",
            step: 3,
            of: 11,
            from,
            to,
            approve: None,
        }
    }

    #[test]
    fn metric_gates_have_nothing_to_check_when_a_step_moves_only_agents() {
        let (a, b, c) = (split(10, 20), split(10, 30), split(20, 30));
        assert!(!telephony_moves(&proposal(&a, &b)));
        assert!(telephony_moves(&proposal(&b, &c)));
    }

    #[test]
    fn the_webhook_body_describes_the_proposed_step() {
        let (a, b) = (split(10, 20), split(20, 30));
        let v = webhook_body("synthetic-call", &proposal(&a, &b));
        assert_eq!(v["gate"], "synthetic-call");
        assert_eq!(v["trafficDistribution"]["namespace"], "ops");
        assert_eq!((v["step"].as_i64(), v["of"].as_i64()), (Some(3), Some(11)));
        assert_eq!(v["region"], "us-east-1");
        assert_eq!(v["to"]["telephony"]["us-east-1"], 20);
        assert_eq!(v["from"]["agents"]["us-east-1"], 20);
    }
}
