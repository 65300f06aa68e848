//! One batch window of an AgentMembership's association calls: joins and leaves side by side at
//! bulk priority, each success recorded in the members cache as it lands.

use futures::StreamExt;

use super::*;
use crate::connect::ConnectResult;
use crate::plan::sweep::Write;

/// How many association calls are in flight at once (the scheduler paces them).
const CONCURRENCY: usize = 8;

/// What one batch window of association calls did.
pub(super) struct Batch {
    pub(super) added: usize,
    pub(super) removed: usize,
    /// Associations Connect answered NotFound (A2: not a user of both regions yet).
    pub(super) not_found: Vec<String>,
    /// Disassociations Connect answered NotFound: not a member, or the group not ACTIVE (Connect
    /// answers NotFound for both); a cleanup checks which before it lets go.
    pub(super) leaves_not_found: usize,
    pub(super) first_error: Option<ConnectError>,
}

/// One association call, unless the batch window closed (then `None`).
async fn call(
    engine: &Engine,
    group: &GroupRef,
    deadline: tokio::time::Instant,
    assoc: bool,
    id: String,
) -> (bool, String, Option<ConnectResult<()>>) {
    if tokio::time::Instant::now() >= deadline {
        return (assoc, id, None);
    }
    let (region, arn, instance) = (&group.source_region, &group.arn, &group.instance_id);
    let r = if assoc {
        engine
            .connect
            .associate_group_user(region, arn, instance, &id)
            .await
    } else {
        engine
            .connect
            .disassociate_group_user(region, arn, instance, &id)
            .await
    };
    (assoc, id, Some(r))
}

/// Runs (associate?, user id) calls at bulk priority until done or the batch window closes;
/// records each success in the members cache. Joins and leaves are separate operations with
/// separate quota buckets (rule Q1), so they run side by side, each with several calls in flight
/// (the scheduler paces each): a mixed change takes max(joins, leaves) / rate, not the sum.
pub(super) async fn run_batch(
    engine: &Engine,
    group: &GroupRef,
    calls: Vec<(bool, String)>,
) -> Batch {
    let deadline = tokio::time::Instant::now() + engine.batch_window;
    let mut batch = Batch {
        added: 0,
        removed: 0,
        not_found: Vec::new(),
        leaves_not_found: 0,
        first_error: None,
    };
    let (joins, leaves): (Vec<_>, Vec<_>) = calls.into_iter().partition(|(assoc, _)| *assoc);
    let lane = |calls: Vec<(bool, String)>| {
        futures::stream::iter(
            calls
                .into_iter()
                .map(move |(assoc, id)| call(engine, group, deadline, assoc, id)),
        )
        .buffer_unordered(CONCURRENCY)
    };
    let mut stream = futures::stream::select(lane(leaves), lane(joins));
    while let Some((assoc, id, r)) = stream.next().await {
        match r {
            None => {}
            Some(Ok(())) if assoc => {
                batch.added += 1;
                engine.record_write(&group.arn, Write::Associated(id));
            }
            Some(Ok(())) => {
                batch.removed += 1;
                engine.record_write(&group.arn, Write::Disassociated(id));
            }
            Some(Err(ConnectError::NotFound(_))) if assoc => batch.not_found.push(id),
            // Not a member (any more): the goal of a disassociation is met.
            Some(Err(ConnectError::NotFound(_))) => {
                batch.leaves_not_found += 1;
                engine.record_write(&group.arn, Write::Disassociated(id));
            }
            Some(Err(e)) if batch.first_error.is_none() => batch.first_error = Some(e),
            Some(Err(_)) => {}
        }
    }
    batch
}
