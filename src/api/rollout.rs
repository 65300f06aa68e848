//! Health gates of a TrafficDistribution rollout (`spec.rollout.gates`, `failureLimit`,
//! `onFailure`) and their status (`status.rollout.phase`, `gates`).

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// One check before each rollout step; exactly one of its kinds is set.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Gate {
    /// Name of the gate (status, Events).
    pub name: String,
    /// At least `min` agents Available (GetCurrentMetricData AGENTS_AVAILABLE) in the region that
    /// gets more telephony in the step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agents_available: Option<AgentsAvailableGate>,
    /// The oldest waiting contact is at most `maxSeconds` old in that region.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oldest_contact_age: Option<OldestContactAgeGate>,
    /// At most `max` contacts wait in queue in that region.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contacts_in_queue: Option<ContactsInQueueGate>,
    /// POST of the proposed step as JSON to an https:// URL whose host the controller's
    /// --allowed-webhook-hosts admits: 2xx passes, any other status (or an answer over 64 KiB)
    /// fails, no answer within timeoutSeconds is inconclusive.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook: Option<WebhookGate>,
    /// Waits until annotation connectgr.io/approve is the next step number or "all".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approval: Option<ApprovalGate>,
}

/// Which queues a metric gate reads: STANDARD queue names or routing-profile names (not both;
/// neither: every STANDARD queue).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MetricScope {
    /// STANDARD queue names.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub queues: Vec<String>,
    /// Routing profile names.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub routing_profiles: Vec<String>,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AgentsAvailableGate {
    /// Fewest Available agents that pass.
    pub min: i64,
    #[serde(flatten)]
    pub scope: MetricScope,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct OldestContactAgeGate {
    /// Oldest waiting contact age that passes, in seconds.
    pub max_seconds: i64,
    #[serde(flatten)]
    pub scope: MetricScope,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ContactsInQueueGate {
    /// Most waiting contacts that pass.
    pub max: i64,
    #[serde(flatten)]
    pub scope: MetricScope,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct WebhookGate {
    /// https:// URL the proposed step is POSTed to (its host must match the controller's
    /// --allowed-webhook-hosts).
    pub url: String,
    /// Seconds to wait for an answer (1..60); no answer in time is inconclusive.
    #[serde(default = "default_timeout")]
    #[schemars(default = "default_timeout")]
    pub timeout_seconds: i64,
    /// PEM CA certificates (base64) trusted for this webhook's server, in addition to the
    /// system trust store.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_bundle: Option<String>,
}

fn default_timeout() -> i64 {
    5
}

/// The certificates of a webhook gate's `caBundle` (base64 of PEM); at least one.
pub fn ca_bundle_certs(
    b64: &str,
) -> Result<Vec<rustls::pki_types::CertificateDer<'static>>, String> {
    use base64::Engine as _;
    use rustls::pki_types::pem::PemObject;
    let pem = base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .map_err(|e| format!("not base64: {e}"))?;
    let certs = rustls::pki_types::CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("not PEM certificates: {e}"))?;
    if certs.is_empty() {
        return Err("no PEM certificate in it".into());
    }
    Ok(certs)
}

/// Manual approval through the connectgr.io/approve annotation (no spec edit needed).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, JsonSchema)]
pub struct ApprovalGate {}

/// What happens after failureLimit consecutive failed or inconclusive checks.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default, JsonSchema)]
pub enum OnFailure {
    /// Restore the split in effect when the rollout began; Stalled with reason RolloutAborted.
    #[default]
    Abort,
    /// Hold the current step until connectgr.io/resume.
    Pause,
}

/// The last result of one gate.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GateStatus {
    /// The gate's name.
    pub name: String,
    /// Pass | Fail | Inconclusive | Pending.
    pub result: String,
    /// What the gate saw (figures, webhook status, the approval awaited).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
    /// When the gate was checked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time: Option<Time>,
}

/// Where a gated rollout started (restored on abort).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RolloutStart {
    /// Telephony percentages per region.
    #[serde(default)]
    pub telephony: std::collections::BTreeMap<String, i32>,
    /// Agent percentages per region.
    #[serde(default)]
    pub agents: std::collections::BTreeMap<String, i32>,
    /// Sign-in regions.
    #[serde(default)]
    pub sign_in: std::collections::BTreeMap<String, bool>,
}
