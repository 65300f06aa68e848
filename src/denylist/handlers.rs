//! The logic of the two Lambda handlers (rules L2, L3), pure over [`DenylistStore`].
//!
//! * `denylist-add` (the agent's "denylist" quick connect, seed 004 function A): reads the
//!   caller's number from the Connect event, normalises it to E.164 and puts it into the table
//!   as agent-flagged (`Source: agent`, `AddedBy`, `AddedAt`, `ContactId`, `InstanceArn`). An agent
//!   flag always wins: the put replaces a declared or manual entry for the same number (so the
//!   controller will never delete it), never the reverse. Answers `{"Success":"true"}`.
//! * `denylist-check` (the inbound flow, function B): answers `{"Success":"true"}` when the
//!   caller's number is in the table, else `{"Success":"false"}`.
//!
//! A missing or malformed number never crashes and never writes: both answer
//! `{"Success":"false","Error":"<what is wrong>","ErrorCode":"MissingNumber|MalformedNumber"}`.
//! A failure of the table (DynamoDB unreachable, throttled, missing) is returned as an error, so
//! the Lambda invocation fails and the flow takes its Error branch (seed 004: play a prompt and
//! continue to the queue, i.e. fail open).
//!
//! Where the number comes from: `Details.ContactData.CustomerEndpoint.Address`, else the
//! `CustomerNumber` function input parameter (the seed's transfer flow sends it). Who flagged
//! it: the first of the parameters `AddedBy`, `AgentUsername`, `AgentUserName`, `AgentName`,
//! `AgentId`, `AgentARN` (in `Details.Parameters`, then `Details.ContactData.Attributes`);
//! `unknown-agent` when the flow passes none.

use std::collections::BTreeMap;
use std::future::Future;

use serde_json::Value;

use super::entry::{Entry, Source};
use super::error::DenylistError;
use super::number::{NumberError, NumberPolicy, normalize_with};

/// Default table name (seed 004), overridden by the `TABLE_NAME` environment variable.
pub const DEFAULT_TABLE_NAME: &str = "DenylistingTable";
/// `AddedBy` of an agent flag when the flow passes no agent identity.
pub const UNKNOWN_AGENT: &str = "unknown-agent";

const AGENT_KEYS: &[&str] = &[
    "AddedBy",
    "AgentUsername",
    "AgentUserName",
    "AgentName",
    "AgentId",
    "AgentARN",
];

/// A handler's answer: a flat string map (Connect's `STRING_MAP` response validation).
pub type Response = BTreeMap<String, String>;

/// The table, as the handlers, the CLI and the entry sync see it. Numbers are E.164.
pub trait DenylistStore: Send + Sync {
    /// The entry for `number`, if any (strongly consistent read of the local replica).
    fn get(
        &self,
        number: &str,
    ) -> impl Future<Output = Result<Option<Entry>, DenylistError>> + Send;

    /// Puts an agent flag, replacing whatever entry the number had (agent flags win).
    fn put_agent(&self, entry: &Entry) -> impl Future<Output = Result<(), DenylistError>> + Send;

    /// Puts `entry` only if the number has no entry yet (`attribute_not_exists(ContactNumber)`).
    /// `Ok(false)`: an entry exists (nothing was written).
    fn put_if_absent(
        &self,
        entry: &Entry,
    ) -> impl Future<Output = Result<bool, DenylistError>> + Send;

    /// Deletes the entry only if it is `Source = declared AND ManagedBy = owner`.
    /// `Ok(false)`: it is gone or no longer ours (e.g. an agent flagged it meanwhile).
    fn delete_if_managed(
        &self,
        number: &str,
        owner: &str,
    ) -> impl Future<Output = Result<bool, DenylistError>> + Send;

    /// Deletes the entry unless it is agent-flagged (`force`: unconditionally).
    /// `Ok(false)`: nothing deleted (absent, or agent-flagged without `force`).
    fn delete_unless_agent(
        &self,
        number: &str,
        force: bool,
    ) -> impl Future<Output = Result<bool, DenylistError>> + Send;

    /// Every entry (a paginated, consistent scan).
    fn scan(&self) -> impl Future<Output = Result<Vec<Entry>, DenylistError>> + Send;
}

/// What the handlers read from a Connect Lambda event. Parsing never fails: the event is a
/// JSON value and every field is optional (Connect adds fields over time; chat and task contacts
/// have `CustomerEndpoint: null`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ContactInfo {
    /// The caller's number as Connect sent it (not normalised).
    pub number: Option<String>,
    pub contact_id: Option<String>,
    pub instance_arn: Option<String>,
    pub agent: Option<String>,
}

impl ContactInfo {
    pub fn from_event(event: &Value) -> Self {
        let s = |p: &str| {
            event
                .pointer(p)
                .and_then(Value::as_str)
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(str::to_string)
        };
        let number = s("/Details/ContactData/CustomerEndpoint/Address")
            .or_else(|| s("/Details/Parameters/CustomerNumber"));
        let agent = AGENT_KEYS
            .iter()
            .find_map(|k| s(&format!("/Details/Parameters/{k}")))
            .or_else(|| {
                AGENT_KEYS
                    .iter()
                    .find_map(|k| s(&format!("/Details/ContactData/Attributes/{k}")))
            });
        Self {
            number,
            contact_id: s("/Details/ContactData/ContactId"),
            instance_arn: s("/Details/ContactData/InstanceARN"),
            agent,
        }
    }

    /// The caller's number in E.164, or the error result to answer.
    pub fn normalised_number(&self, policy: &NumberPolicy) -> Result<String, Response> {
        match &self.number {
            None => Err(error_response(
                "MissingNumber",
                "the event has no caller number (Details.ContactData.CustomerEndpoint.Address)",
            )),
            Some(raw) => normalize_with(raw, policy).map_err(|e| malformed(&e)),
        }
    }
}

fn malformed(e: &NumberError) -> Response {
    error_response("MalformedNumber", &e.to_string())
}

/// `{"Success":"false","Error":message,"ErrorCode":code}`.
pub fn error_response(code: &str, message: &str) -> Response {
    let mut r = Response::new();
    r.insert("Success".into(), "false".into());
    r.insert("Error".into(), message.to_string());
    r.insert("ErrorCode".into(), code.to_string());
    r
}

fn success(ok: bool) -> Response {
    let mut r = Response::new();
    r.insert("Success".into(), ok.to_string());
    r
}

/// `denylist-check`: `{"Success":"true"}` when the caller is denied, `{"Success":"false"}` when
/// not, an error result for a missing or malformed number; `Err` only when the table fails.
pub async fn handle_check<S: DenylistStore>(
    store: &S,
    event: &Value,
    policy: &NumberPolicy,
) -> Result<Response, DenylistError> {
    let info = ContactInfo::from_event(event);
    let number = match info.normalised_number(policy) {
        Ok(n) => n,
        Err(resp) => {
            tracing::warn!(contact_id = ?info.contact_id, error = %resp["Error"], "denylist-check: no usable number");
            return Ok(resp);
        }
    };
    let denied = store.get(&number).await?.is_some();
    tracing::info!(contact_id = ?info.contact_id, denied, "denylist-check");
    Ok(success(denied))
}

/// `denylist-add`: flags the caller's number as agent-flagged; `{"Success":"true"}`, an error
/// result (and no write) for a missing or malformed number; `Err` only when the table fails.
/// `now` is the RFC 3339 time recorded as `AddedAt`.
pub async fn handle_add<S: DenylistStore>(
    store: &S,
    event: &Value,
    policy: &NumberPolicy,
    now: &str,
) -> Result<Response, DenylistError> {
    let info = ContactInfo::from_event(event);
    let number = match info.normalised_number(policy) {
        Ok(n) => n,
        Err(resp) => {
            tracing::warn!(contact_id = ?info.contact_id, error = %resp["Error"], "denylist-add: no usable number, nothing written");
            return Ok(resp);
        }
    };
    let entry = agent_entry(&number, &info, now);
    store.put_agent(&entry).await?;
    tracing::info!(contact_id = ?info.contact_id, added_by = ?entry.added_by, "denylist-add: number flagged");
    Ok(success(true))
}

/// The entry an agent flag writes.
pub fn agent_entry(number: &str, info: &ContactInfo, now: &str) -> Entry {
    Entry {
        contact_number: number.to_string(),
        source: Source::Agent,
        added_by: Some(
            info.agent
                .clone()
                .unwrap_or_else(|| UNKNOWN_AGENT.to_string()),
        ),
        added_at: Some(now.to_string()),
        contact_id: info.contact_id.clone(),
        instance_arn: info.instance_arn.clone(),
        managed_by: None,
    }
}

/// Table name for the Lambda functions: `TABLE_NAME`, default `DenylistingTable`.
pub fn table_name_from_env() -> String {
    std::env::var("TABLE_NAME")
        .ok()
        .filter(|t| !t.trim().is_empty())
        .unwrap_or_else(|| DEFAULT_TABLE_NAME.to_string())
}

/// An in-memory [`DenylistStore`] with the same conditional semantics as the DynamoDB one, for
/// unit tests of everything built on the store.
#[derive(Debug, Default)]
pub struct MemoryStore {
    pub entries: parking_lot::Mutex<BTreeMap<String, Entry>>,
    /// When set, every call fails with this error.
    pub fail: parking_lot::Mutex<Option<DenylistError>>,
}

impl MemoryStore {
    pub fn with(entries: impl IntoIterator<Item = Entry>) -> Self {
        let s = Self::default();
        for e in entries {
            s.entries.lock().insert(e.contact_number.clone(), e);
        }
        s
    }

    fn check(&self) -> Result<(), DenylistError> {
        match &*self.fail.lock() {
            Some(e) => Err(e.clone()),
            None => Ok(()),
        }
    }
}

impl DenylistStore for MemoryStore {
    async fn get(&self, number: &str) -> Result<Option<Entry>, DenylistError> {
        self.check()?;
        Ok(self.entries.lock().get(number).cloned())
    }

    async fn put_agent(&self, entry: &Entry) -> Result<(), DenylistError> {
        self.check()?;
        self.entries
            .lock()
            .insert(entry.contact_number.clone(), entry.clone());
        Ok(())
    }

    async fn put_if_absent(&self, entry: &Entry) -> Result<bool, DenylistError> {
        self.check()?;
        let mut m = self.entries.lock();
        if m.contains_key(&entry.contact_number) {
            return Ok(false);
        }
        m.insert(entry.contact_number.clone(), entry.clone());
        Ok(true)
    }

    async fn delete_if_managed(&self, number: &str, owner: &str) -> Result<bool, DenylistError> {
        self.check()?;
        let mut m = self.entries.lock();
        if m.get(number).is_some_and(|e| e.is_managed_by(owner)) {
            m.remove(number);
            return Ok(true);
        }
        Ok(false)
    }

    async fn delete_unless_agent(&self, number: &str, force: bool) -> Result<bool, DenylistError> {
        self.check()?;
        let mut m = self.entries.lock();
        match m.get(number) {
            Some(e) if force || !e.is_agent_flagged() => {
                m.remove(number);
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn scan(&self) -> Result<Vec<Entry>, DenylistError> {
        self.check()?;
        Ok(self.entries.lock().values().cloned().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event(address: Option<&str>) -> Value {
        let endpoint = match address {
            Some(a) => json!({"Address": a, "Type": "TELEPHONE_NUMBER"}),
            None => Value::Null,
        };
        json!({
            "Name": "ContactFlowEvent",
            "Details": {
                "ContactData": {
                    "ContactId": "c-1",
                    "InstanceARN": "arn:aws:connect:us-east-1:123456789012:instance/i-1",
                    "CustomerEndpoint": endpoint,
                    "Attributes": {}
                },
                "Parameters": {"AgentUsername": "alice"}
            }
        })
    }

    fn block_on<F: Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(f)
    }

    const NOW: &str = "2026-11-23T14:00:00Z";

    #[test]
    fn add_then_check_in_any_format() {
        let store = MemoryStore::default();
        let p = NumberPolicy::default();
        let r = block_on(handle_add(
            &store,
            &event(Some("+1 (425) 555-0100")),
            &p,
            NOW,
        ))
        .unwrap();
        assert_eq!(r, success(true));
        let e = store.entries.lock()["+14255550100"].clone();
        assert_eq!(e.source, Source::Agent);
        assert_eq!(e.added_by.as_deref(), Some("alice"));
        assert_eq!(e.added_at.as_deref(), Some(NOW));
        assert_eq!(e.contact_id.as_deref(), Some("c-1"));
        assert!(e.instance_arn.unwrap().ends_with("instance/i-1"));
        for f in ["+14255550100", "14255550100", "+1-425-555-0100"] {
            let r = block_on(handle_check(&store, &event(Some(f)), &p)).unwrap();
            assert_eq!(r["Success"], "true", "{f}");
        }
        let r = block_on(handle_check(&store, &event(Some("+14255550199")), &p)).unwrap();
        assert_eq!(r, success(false));
    }

    #[test]
    fn missing_or_malformed_number_never_writes() {
        let store = MemoryStore::default();
        let p = NumberPolicy::default();
        for ev in [
            event(None),
            event(Some("")),
            event(Some("anonymous")),
            event(Some("+1")),
            json!({}),
            json!(null),
            json!({"Details": {"ContactData": {"CustomerEndpoint": {"Address": 42}}}}),
        ] {
            let r = block_on(handle_add(&store, &ev, &p, NOW)).unwrap();
            assert_eq!(r["Success"], "false", "{ev}");
            assert!(!r["Error"].is_empty());
            let r = block_on(handle_check(&store, &ev, &p)).unwrap();
            assert_eq!(r["Success"], "false", "{ev}");
            assert!(r.contains_key("Error"));
        }
        assert!(store.entries.lock().is_empty());
        let r = block_on(handle_check(&store, &event(None), &p)).unwrap();
        assert_eq!(r["ErrorCode"], "MissingNumber");
        let r = block_on(handle_check(&store, &event(Some("abc")), &p)).unwrap();
        assert_eq!(r["ErrorCode"], "MalformedNumber");
    }

    #[test]
    fn customer_number_parameter_is_a_fallback() {
        let ev = json!({"Details": {"ContactData": {"CustomerEndpoint": null},
                        "Parameters": {"CustomerNumber": "+44 20 7946 0958"}}});
        let info = ContactInfo::from_event(&ev);
        assert_eq!(
            info.normalised_number(&NumberPolicy::default()).unwrap(),
            "+442079460958"
        );
        assert_eq!(info.agent, None);
        assert_eq!(
            agent_entry("+442079460958", &info, NOW).added_by.as_deref(),
            Some(UNKNOWN_AGENT)
        );
    }

    #[test]
    fn agent_from_attributes() {
        let ev = json!({"Details": {"ContactData": {"Attributes": {"AgentId": "u-7"}}, "Parameters": {}}});
        assert_eq!(ContactInfo::from_event(&ev).agent.as_deref(), Some("u-7"));
    }

    #[test]
    fn agent_flag_wins_over_declared() {
        let mut declared = Entry::bare("+14255550100", Source::Declared);
        declared.managed_by = Some("connectgr.io/ns/x".into());
        let store = MemoryStore::with([declared]);
        block_on(handle_add(
            &store,
            &event(Some("+14255550100")),
            &NumberPolicy::default(),
            NOW,
        ))
        .unwrap();
        let e = store.entries.lock()["+14255550100"].clone();
        assert!(e.is_agent_flagged());
        assert!(!e.is_managed_by("connectgr.io/ns/x"));
    }

    #[test]
    fn store_failure_is_an_error_not_an_answer() {
        let store = MemoryStore::default();
        *store.fail.lock() = Some(DenylistError::transient("GetItem", "down"));
        let p = NumberPolicy::default();
        assert!(block_on(handle_check(&store, &event(Some("+14255550100")), &p)).is_err());
        assert!(block_on(handle_add(&store, &event(Some("+14255550100")), &p, NOW)).is_err());
    }
}
