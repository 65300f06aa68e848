//! One writer across clusters (issue 21): the writer lease in DynamoDB, the background task that
//! acquires and renews it, and the shared state the reconcile driver consults before a pass
//! (`may_write`). The decisions are pure, in [`crate::plan::writer_lease`]; this file reads the
//! clock and the table.
//!
//! Table: partition key `name` (S); one item per lease (`connect-gr`), attributes `holder` (S),
//! `version` (N, the fencing token), `beat` (N), `durationMs` (N), `released` (BOOL), `since`
//! (S). Every write is conditional on what was read, so two clusters never both succeed.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType,
    ScalarAttributeType, TableStatus,
};
use parking_lot::Mutex;

use crate::plan::writer_lease::{self as plan, Decision, LeaseRecord, Sighting};

/// The item every cluster competes for.
pub const LEASE_ITEM: &str = "connect-gr";

/// The shared view of the lease: read by every pass, written by the lease task.
pub struct WriterLease {
    me: String,
    duration: Duration,
    margin: Duration,
    origin: Instant,
    state: Mutex<Held>,
    /// Set when this cluster becomes the holder (a new fencing token): the next pass drops the
    /// engine's caches, so the first writes rest on fresh reads of live Connect.
    fresh_start: AtomicBool,
    /// Bumped on every acquisition: the controllers reconcile everything at once.
    acquired: tokio::sync::watch::Sender<u64>,
}

#[derive(Debug, Default, Clone)]
struct Held {
    /// When the last successful renewal (or acquisition) was sent, on `origin`'s clock.
    last_sent: Option<Duration>,
    /// The version this cluster holds (when `last_sent` is set).
    version: u64,
    /// The holder as last seen, and since when it holds the lease.
    holder: Option<(String, String)>,
}

impl WriterLease {
    pub fn new(cluster: &str, duration: Duration) -> Self {
        Self {
            me: cluster.to_string(),
            duration,
            margin: plan::margin(duration),
            origin: Instant::now(),
            state: Mutex::new(Held::default()),
            fresh_start: AtomicBool::new(false),
            acquired: tokio::sync::watch::channel(0).0,
        }
    }

    /// This controller's monotonic clock.
    pub fn now(&self) -> Duration {
        self.origin.elapsed()
    }

    pub fn cluster(&self) -> &str {
        &self.me
    }

    pub fn duration(&self) -> Duration {
        self.duration
    }

    /// Self-fencing: may a write be sent now?
    pub fn may_write(&self) -> bool {
        let last = self.state.lock().last_sent;
        plan::may_write(self.now(), last, self.duration, self.margin)
    }

    /// `status.writer`: the holder as last seen, if any was seen.
    pub fn writer(&self) -> Option<crate::api::common::Writer> {
        self.state
            .lock()
            .holder
            .as_ref()
            .map(|(cluster, since)| crate::api::common::Writer {
                cluster: cluster.clone(),
                since: since.clone(),
            })
    }

    /// True once after this cluster became the holder.
    pub fn take_fresh_start(&self) -> bool {
        self.fresh_start.swap(false, Ordering::AcqRel)
    }

    /// Changes each time this cluster becomes the holder.
    pub fn acquisitions(&self) -> tokio::sync::watch::Receiver<u64> {
        self.acquired.subscribe()
    }

    fn set_holder(&self, holder: &str, since: &str) {
        let mut s = self.state.lock();
        let changed = s.holder.as_ref().map(|(h, _)| h.as_str()) != Some(holder);
        if changed {
            if let Some((old, _)) = &s.holder {
                crate::metrics::writer(old, false);
            }
            crate::metrics::writer(holder, true);
        }
        s.holder = Some((holder.to_string(), since.to_string()));
    }

    /// A successful write of the lease, sent at `sent`.
    fn held(&self, record: &LeaseRecord, sent: Duration) {
        let new_term = {
            let mut s = self.state.lock();
            let new_term = s.last_sent.is_none() || s.version != record.version;
            s.last_sent = Some(sent);
            s.version = record.version;
            new_term
        };
        self.set_holder(&record.holder, &record.since);
        if new_term {
            tracing::info!(cluster = %self.me, version = record.version, "writer lease acquired: this cluster writes to Connect");
            self.fresh_start.store(true, Ordering::Release);
            self.acquired.send_modify(|n| *n += 1);
        }
    }

    /// Someone else holds it (or a conditional write lost): stop writing at once.
    fn lost(&self) {
        let mut s = self.state.lock();
        if s.last_sent.take().is_some() {
            tracing::warn!(cluster = %self.me, "writer lease lost: writes withheld");
        }
    }
}

/// Errors of the lease table (any: the lease task retries; the fencing bound does the rest).
#[derive(Debug, thiserror::Error)]
pub enum LeaseError {
    #[error("writer lease table: {0}")]
    Table(String),
    #[error("writer lease table: timed out after {0:?}")]
    TimedOut(Duration),
}

/// The outcome of a conditional write.
#[derive(Debug, PartialEq, Eq)]
pub enum Written {
    Ok,
    /// The condition failed: someone else wrote first.
    Conflict,
}

/// The lease table in one region.
#[derive(Clone)]
pub struct LeaseTable {
    client: Client,
    table: String,
}

fn err<E: ProvideErrorMetadata + std::fmt::Debug>(op: &str, e: &E) -> LeaseError {
    LeaseError::Table(format!(
        "{op}: {}",
        e.message()
            .or(e.code())
            .map(str::to_string)
            .unwrap_or_else(|| format!("{e:?}"))
    ))
}

fn n(v: u64) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

fn s(v: &str) -> AttributeValue {
    AttributeValue::S(v.to_string())
}

impl LeaseTable {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    /// Standard AWS configuration (`AWS_ENDPOINT_URL_DYNAMODB` honoured), `region` when given.
    pub async fn from_env(table: &str, region: Option<&str>) -> Self {
        let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
        if let Some(r) = region {
            loader = loader.region(aws_config::Region::new(r.to_string()));
        }
        Self::new(Client::new(&loader.load().await), table)
    }

    /// Creates the table (partition key `name`, on demand) when it is missing, and waits until
    /// it is ACTIVE.
    pub async fn ensure(&self) -> Result<(), LeaseError> {
        for _ in 0..120 {
            match self
                .client
                .describe_table()
                .table_name(&self.table)
                .send()
                .await
            {
                Ok(out) => {
                    let status = out.table().and_then(|t| t.table_status().cloned());
                    if status.is_none() || status == Some(TableStatus::Active) {
                        return Ok(());
                    }
                }
                Err(e) => {
                    let e = e.into_service_error();
                    if !e.is_resource_not_found_exception() {
                        return Err(err("DescribeTable", &e));
                    }
                    tracing::info!(table = %self.table, "creating the writer lease table");
                    let created = self
                        .client
                        .create_table()
                        .table_name(&self.table)
                        .attribute_definitions(
                            AttributeDefinition::builder()
                                .attribute_name("name")
                                .attribute_type(ScalarAttributeType::S)
                                .build()
                                .expect("attribute definition"),
                        )
                        .key_schema(
                            KeySchemaElement::builder()
                                .attribute_name("name")
                                .key_type(KeyType::Hash)
                                .build()
                                .expect("key schema"),
                        )
                        .billing_mode(BillingMode::PayPerRequest)
                        .send()
                        .await;
                    if let Err(e) = created {
                        let e = e.into_service_error();
                        // Another cluster created it first.
                        if !e.is_resource_in_use_exception() {
                            return Err(err("CreateTable", &e));
                        }
                    }
                }
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        Err(LeaseError::Table(format!(
            "table {} did not become ACTIVE",
            self.table
        )))
    }

    /// The lease item (strongly consistent read).
    pub async fn read(&self) -> Result<Option<LeaseRecord>, LeaseError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("name", s(LEASE_ITEM))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| err("GetItem", &e.into_service_error()))?;
        let Some(item) = out.item() else {
            return Ok(None);
        };
        let num = |k: &str| -> u64 {
            item.get(k)
                .and_then(|v| v.as_n().ok())
                .and_then(|v| v.parse().ok())
                .unwrap_or(0)
        };
        let text = |k: &str| -> String {
            item.get(k)
                .and_then(|v| v.as_s().ok())
                .cloned()
                .unwrap_or_default()
        };
        Ok(Some(LeaseRecord {
            holder: text("holder"),
            version: num("version"),
            beat: num("beat"),
            duration: Duration::from_millis(num("durationMs")),
            released: item
                .get("released")
                .and_then(|v| v.as_bool().ok())
                .copied()
                .unwrap_or(false),
            since: text("since"),
        }))
    }

    /// Writes `next` on condition that the item is as `decision` read it.
    pub async fn write(
        &self,
        decision: &Decision,
        next: &LeaseRecord,
    ) -> Result<Written, LeaseError> {
        let mut put = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("name", s(LEASE_ITEM))
            .item("holder", s(&next.holder))
            .item("version", n(next.version))
            .item("beat", n(next.beat))
            .item("durationMs", n(next.duration.as_millis() as u64))
            .item("released", AttributeValue::Bool(next.released))
            .item("since", s(&next.since));
        put = match decision {
            Decision::Create => put.condition_expression("attribute_not_exists(#n)"),
            Decision::TakeOver { version, beat } => put
                .condition_expression("#v = :v AND #b = :b")
                .expression_attribute_values(":v", n(*version))
                .expression_attribute_values(":b", n(*beat)),
            Decision::Renew { version, beat } => put
                .condition_expression("#v = :v AND #b = :b AND #h = :h")
                .expression_attribute_values(":v", n(*version))
                .expression_attribute_values(":b", n(*beat))
                .expression_attribute_values(":h", s(&next.holder))
                .expression_attribute_names("#h", "holder"),
            Decision::Wait { .. } => return Ok(Written::Conflict),
        };
        put = match decision {
            Decision::Create => put.expression_attribute_names("#n", "name"),
            _ => put
                .expression_attribute_names("#v", "version")
                .expression_attribute_names("#b", "beat"),
        };
        match put.send().await {
            Ok(_) => Ok(Written::Ok),
            Err(e) => {
                let e = e.into_service_error();
                if e.is_conditional_check_failed_exception() {
                    Ok(Written::Conflict)
                } else {
                    Err(err("PutItem", &e))
                }
            }
        }
    }

    /// Lets go of the lease held by `me` at `version`: anyone may take it at once.
    pub async fn release(&self, me: &str, version: u64) -> Result<Written, LeaseError> {
        let r = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("name", s(LEASE_ITEM))
            .update_expression("SET #r = :t, #b = #b + :one")
            .condition_expression("#h = :me AND #v = :v")
            .expression_attribute_names("#r", "released")
            .expression_attribute_names("#b", "beat")
            .expression_attribute_names("#h", "holder")
            .expression_attribute_names("#v", "version")
            .expression_attribute_values(":t", AttributeValue::Bool(true))
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":me", s(me))
            .expression_attribute_values(":v", n(version))
            .send()
            .await;
        match r {
            Ok(_) => Ok(Written::Ok),
            Err(e) => {
                let e = e.into_service_error();
                if e.is_conditional_check_failed_exception() {
                    Ok(Written::Conflict)
                } else {
                    Err(err("UpdateItem", &e))
                }
            }
        }
    }
}

fn wall_clock() -> String {
    jiff::Timestamp::now().to_string()
}

/// Bounds one table call by a third of the lease (a hung call must not outlive the fence).
async fn bounded<T>(
    limit: Duration,
    f: impl std::future::Future<Output = Result<T, LeaseError>>,
) -> Result<T, LeaseError> {
    tokio::time::timeout(limit, f)
        .await
        .unwrap_or(Err(LeaseError::TimedOut(limit)))
}

/// One round: read, decide, write. Returns the sighting to keep and when to look again.
pub async fn step(
    lease: &WriterLease,
    table: &LeaseTable,
    sighting: Option<Sighting>,
) -> (Option<Sighting>, Duration) {
    let every = plan::renew_every(lease.duration);
    let record = match bounded(every, table.read()).await {
        Ok(r) => r,
        Err(e) => {
            tracing::warn!(error = %e, "writer lease: read failed; writes stop at the fencing bound unless a renewal succeeds");
            return (sighting, every.min(Duration::from_secs(1)));
        }
    };
    let now = lease.now();
    let sighting = record.as_ref().map(|r| plan::observe(sighting, r, now));
    let decision = plan::decide(&lease.me, record.as_ref(), sighting, now);
    if let Decision::Wait { holder, expires_at } = &decision {
        lease.lost();
        if let Some(r) = &record {
            lease.set_holder(holder, &r.since);
        }
        let until = expires_at.saturating_sub(now);
        return (sighting, every.min(until).max(Duration::from_millis(100)));
    }
    let next = plan::next_record(
        &lease.me,
        record.as_ref(),
        &decision,
        lease.duration,
        &wall_clock(),
    )
    .expect("a write decision has a next record");
    let sent = lease.now();
    match bounded(every, table.write(&decision, &next)).await {
        Ok(Written::Ok) => {
            lease.held(&next, sent);
            (Some(plan::observe(None, &next, lease.now())), every)
        }
        Ok(Written::Conflict) => {
            lease.lost();
            (None, Duration::from_millis(100))
        }
        Err(e) => {
            tracing::warn!(error = %e, "writer lease: renewal failed; writes stop at the fencing bound unless a renewal succeeds");
            (sighting, every.min(Duration::from_secs(1)))
        }
    }
}

/// Keeps competing for the lease until the task is dropped.
pub async fn run(lease: Arc<WriterLease>, table: LeaseTable) {
    let compete = async {
        let mut sighting = None;
        loop {
            let (next, wait) = step(&lease, &table, sighting).await;
            sighting = next;
            tokio::time::sleep(wait).await;
        }
    };
    // The gauge follows the fencing bound even while a call to the table hangs.
    let gauge = async {
        loop {
            crate::metrics::writer(&lease.me, lease.may_write());
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    };
    tokio::join!(compete, gauge);
}

/// Planned handover (SIGTERM): stop writing, then let go so another cluster takes over at once.
pub async fn release(lease: &WriterLease, table: &LeaseTable) {
    let version = {
        let mut s = lease.state.lock();
        if s.last_sent.take().is_none() {
            return;
        }
        s.version
    };
    crate::metrics::writer(&lease.me, false);
    match bounded(
        plan::renew_every(lease.duration),
        table.release(&lease.me, version),
    )
    .await
    {
        Ok(Written::Ok) => tracing::info!(cluster = %lease.me, "writer lease released"),
        Ok(Written::Conflict) => tracing::info!("writer lease already held by another cluster"),
        Err(e) => tracing::warn!(error = %e, "writer lease not released; it expires by itself"),
    }
}

/// The one check of the reconcile driver: must this pass withhold its writes (as observe mode
/// does)? When this cluster just became the holder, the engine's caches are dropped first, so
/// its first writes rest on fresh reads of live Connect.
pub fn withheld(engine: &crate::reconcile::Engine) -> bool {
    let Some(lease) = &engine.writer else {
        return false;
    };
    if lease.take_fresh_start() {
        engine.members.lock().clear();
        engine.users.lock().clear();
    }
    !lease.may_write()
}

/// A gate in front of every Connect write: a pass that began while this cluster held the lease
/// sends no write after the fencing bound.
pub fn fence(lease: Arc<WriterLease>) -> crate::connect::WriteFence {
    crate::connect::WriteFence::new(move || lease.may_write())
}

/// Fires each time this cluster becomes the holder (the controllers then reconcile every object
/// at once, so a standby that took over does not wait for each object's next resync); never
/// without a writer lease.
pub fn on_acquired(lease: Option<Arc<WriterLease>>) -> futures::stream::BoxStream<'static, ()> {
    use futures::StreamExt;
    match lease {
        Some(l) => futures::stream::unfold(l.acquisitions(), |mut rx| async move {
            rx.changed().await.ok()?;
            Some(((), rx))
        })
        .boxed(),
        None => futures::stream::pending().boxed(),
    }
}
