//! One observation of a group per interval, shared by every kind that refers to it: the group,
//! its memberships and the cleanup read `DescribeTrafficDistributionGroup` through
//! [`Engine::describe_group`] instead of each describing it every pass. Holds the describe
//! result (ids, status, tags: a few hundred bytes per group) keyed by ARN.
//!
//! Fail closed: a remembered value is used only while fresh (`plan::read_ttl`), only when it
//! said ACTIVE (a group in transition is read every time), never for an urgent read (failover)
//! and never under `connectgr.io/reconcile-now`; a failed read is not remembered; a write to the
//! group forgets it.

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::Mutex;
use tokio::time::Instant;

use super::Engine;
use crate::connect::{ConnectResult, GroupInfo, Priority};
use crate::plan::read_ttl::{self, Reuse};

/// ARN -> (when the read started, what it said).
pub type GroupsCache = Arc<Mutex<HashMap<String, (Instant, GroupInfo)>>>;

impl Engine {
    /// `DescribeTrafficDistributionGroup`, shared within [`read_ttl::group_ttl`] of the resync.
    pub async fn describe_group(
        &self,
        region: &str,
        arn: &str,
        priority: Priority,
    ) -> ConnectResult<GroupInfo> {
        let started = Instant::now();
        if priority != Priority::Urgent {
            let fresh = super::driver::fresh_reads_requested();
            let remembered = self
                .groups
                .lock()
                .get(arn)
                .map(|(at, g)| (started.saturating_duration_since(*at), g.clone()));
            let age = remembered.as_ref().map(|(age, _)| *age);
            if let Some((_, g)) = remembered
                && g.status == "ACTIVE"
                && read_ttl::reuse(age, read_ttl::group_ttl(self.resync), fresh) == Reuse::Use
            {
                return Ok(g);
            }
        }
        let g = self
            .connect
            .describe_traffic_distribution_group(region, arn, priority)
            .await?;
        self.groups
            .lock()
            .insert(arn.to_string(), (started, g.clone()));
        Ok(g)
    }

    /// A write to the group (tags, distribution, deletion): the next look reads it.
    pub fn forget_group(&self, arn: &str) {
        self.groups.lock().remove(arn);
    }
}
