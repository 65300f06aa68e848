//! A `ConnectApi` that passes reads through and records writes instead of sending them: what
//! `connect-gr plan` and observe mode (`connectgr.io/management-policy: Observe`) report.

use std::sync::Arc;

use async_trait::async_trait;
use parking_lot::Mutex;

use super::*;

/// Passes reads through and records writes instead of sending them.
pub struct DryRun {
    pub inner: Arc<dyn ConnectApi>,
    pub writes: Mutex<Vec<String>>,
    /// Send the writes too and record only those that succeed (`connect-gr plan` runs the
    /// driver this way against the embedded emulator loaded with a snapshot of live Connect).
    pub forward: bool,
    /// Reads that failed (throttled, denied, 5xx, timed out; not NotFound, not a refusal), for
    /// `connect-gr plan --next-pass`.
    pub failed_reads: Mutex<Vec<FailedRead>>,
}

/// A read of Connect that failed: what depends on it is unknown, not "none".
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FailedRead {
    pub operation: String,
    pub region: String,
    pub error: String,
}

impl DryRun {
    pub fn new(inner: Arc<dyn ConnectApi>) -> Self {
        Self {
            inner,
            writes: Mutex::new(Vec::new()),
            forward: false,
            failed_reads: Mutex::new(Vec::new()),
        }
    }

    /// Records the writes that `inner` accepted.
    pub fn forwarding(inner: Arc<dyn ConnectApi>) -> Self {
        Self {
            forward: true,
            ..Self::new(inner)
        }
    }

    /// A write: recorded and answered with `answer`, or, when forwarding, sent and recorded once
    /// accepted.
    async fn write<T>(
        &self,
        region: &str,
        call: String,
        answer: T,
        send: impl std::future::Future<Output = ConnectResult<T>>,
    ) -> ConnectResult<T> {
        if !self.forward {
            self.record(region, call);
            return Ok(answer);
        }
        let sent = send.await;
        if sent.is_ok() {
            self.record(region, call);
        }
        sent
    }

    /// A read, passed through; a failure that is not an answer (NotFound, an invalid request) is
    /// recorded.
    async fn read<T>(
        &self,
        operation: &str,
        region: &str,
        call: impl std::future::Future<Output = ConnectResult<T>>,
    ) -> ConnectResult<T> {
        let r = call.await;
        if let Err(e) = &r
            && matches!(
                e,
                ConnectError::Throttled(_)
                    | ConnectError::Transient(_)
                    | ConnectError::AccessDenied(_)
            )
        {
            self.failed_reads.lock().push(FailedRead {
                operation: operation.into(),
                region: region.into(),
                error: e.to_string(),
            });
        }
        r
    }

    /// The reads that failed so far.
    pub fn failed_reads(&self) -> Vec<FailedRead> {
        self.failed_reads.lock().clone()
    }

    /// The writes recorded so far, `[region] Operation detail`.
    pub fn writes(&self) -> Vec<String> {
        self.writes.lock().clone()
    }

    fn record(&self, region: &str, call: String) {
        self.writes.lock().push(format!("[{region}] {call}"));
    }
}

#[async_trait]
impl ConnectApi for DryRun {
    fn server_now(&self) -> jiff::Timestamp {
        self.inner.server_now()
    }
    async fn describe_instance(&self, r: &str, i: &str) -> ConnectResult<InstanceInfo> {
        self.read("DescribeInstance", r, self.inner.describe_instance(r, i))
            .await
    }
    async fn replicate_instance(
        &self,
        r: &str,
        i: &str,
        rr: &str,
        alias: &str,
        t: &str,
    ) -> ConnectResult<Identity> {
        let answer = Identity {
            id: i.into(),
            arn: String::new(),
        };
        self.write(
            r,
            format!("ReplicateInstance instance={i} replicaRegion={rr} replicaAlias={alias}"),
            answer,
            self.inner.replicate_instance(r, i, rr, alias, t),
        )
        .await
    }
    async fn list_traffic_distribution_groups(
        &self,
        r: &str,
        i: &str,
        p: Priority,
    ) -> ConnectResult<Vec<GroupInfo>> {
        self.read(
            "ListTrafficDistributionGroups",
            r,
            self.inner.list_traffic_distribution_groups(r, i, p),
        )
        .await
    }
    async fn describe_traffic_distribution_group(
        &self,
        r: &str,
        g: &str,
        p: Priority,
    ) -> ConnectResult<GroupInfo> {
        self.read(
            "DescribeTrafficDistributionGroup",
            r,
            self.inner.describe_traffic_distribution_group(r, g, p),
        )
        .await
    }
    async fn create_traffic_distribution_group(
        &self,
        r: &str,
        req: &CreateGroup,
    ) -> ConnectResult<Identity> {
        self.write(
            r,
            format!(
                "CreateTrafficDistributionGroup name={} instance={}",
                req.name, req.instance_id
            ),
            Identity::default(),
            self.inner.create_traffic_distribution_group(r, req),
        )
        .await
    }
    async fn delete_traffic_distribution_group(&self, r: &str, g: &str) -> ConnectResult<()> {
        self.write(
            r,
            format!("DeleteTrafficDistributionGroup {g}"),
            (),
            self.inner.delete_traffic_distribution_group(r, g),
        )
        .await
    }
    async fn get_traffic_distribution(
        &self,
        r: &str,
        g: &str,
        p: Priority,
    ) -> ConnectResult<Distribution> {
        self.read(
            "GetTrafficDistribution",
            r,
            self.inner.get_traffic_distribution(r, g, p),
        )
        .await
    }
    async fn update_traffic_distribution(
        &self,
        r: &str,
        g: &str,
        u: &DistributionUpdate,
    ) -> ConnectResult<()> {
        self.write(
            r,
            format!(
                "UpdateTrafficDistribution {g} telephony={:?} agents={:?} signIn={:?}",
                u.telephony, u.agents, u.sign_in
            ),
            (),
            self.inner.update_traffic_distribution(r, g, u),
        )
        .await
    }
    async fn list_group_users(&self, r: &str, g: &str, p: Priority) -> ConnectResult<Vec<String>> {
        self.read(
            "ListTrafficDistributionGroupUsers",
            r,
            self.inner.list_group_users(r, g, p),
        )
        .await
    }
    async fn list_group_users_page(
        &self,
        r: &str,
        g: &str,
        t: Option<String>,
        p: Priority,
    ) -> ConnectResult<(Vec<String>, Option<String>)> {
        self.read(
            "ListTrafficDistributionGroupUsers",
            r,
            self.inner.list_group_users_page(r, g, t, p),
        )
        .await
    }
    async fn associate_group_user(&self, r: &str, g: &str, i: &str, u: &str) -> ConnectResult<()> {
        self.write(
            r,
            format!("AssociateTrafficDistributionGroupUser {g} user={u}"),
            (),
            self.inner.associate_group_user(r, g, i, u),
        )
        .await
    }
    async fn disassociate_group_user(
        &self,
        r: &str,
        g: &str,
        i: &str,
        u: &str,
    ) -> ConnectResult<()> {
        self.write(
            r,
            format!("DisassociateTrafficDistributionGroupUser {g} user={u}"),
            (),
            self.inner.disassociate_group_user(r, g, i, u),
        )
        .await
    }
    async fn list_users(&self, r: &str, i: &str, p: Priority) -> ConnectResult<UserList> {
        self.read("ListUsers", r, self.inner.list_users(r, i, p))
            .await
    }
    async fn list_user_ids(&self, r: &str, i: &str, p: Priority) -> ConnectResult<UserList> {
        self.read("ListUsers", r, self.inner.list_user_ids(r, i, p))
            .await
    }
    async fn search_users(&self, r: &str, i: &str, p: Priority) -> ConnectResult<UserList> {
        self.read("SearchUsers", r, self.inner.search_users(r, i, p))
            .await
    }
    async fn list_routing_profiles(&self, r: &str, i: &str) -> ConnectResult<Vec<NamedId>> {
        self.read(
            "ListRoutingProfiles",
            r,
            self.inner.list_routing_profiles(r, i),
        )
        .await
    }
    async fn list_hierarchy_groups(&self, r: &str, i: &str) -> ConnectResult<Vec<NamedId>> {
        self.read(
            "ListUserHierarchyGroups",
            r,
            self.inner.list_hierarchy_groups(r, i),
        )
        .await
    }
    async fn list_phone_numbers(
        &self,
        r: &str,
        p: Priority,
    ) -> ConnectResult<Vec<PhoneNumberInfo>> {
        self.read("ListPhoneNumbersV2", r, self.inner.list_phone_numbers(r, p))
            .await
    }
    async fn tag_resource(
        &self,
        r: &str,
        arn: &str,
        tags: &std::collections::BTreeMap<String, String>,
    ) -> ConnectResult<()> {
        self.write(
            r,
            format!("TagResource {arn} {tags:?}"),
            (),
            self.inner.tag_resource(r, arn, tags),
        )
        .await
    }
    async fn untag_resource(&self, r: &str, arn: &str, keys: &[String]) -> ConnectResult<()> {
        self.write(
            r,
            format!("UntagResource {arn} {keys:?}"),
            (),
            self.inner.untag_resource(r, arn, keys),
        )
        .await
    }
    async fn update_phone_number(
        &self,
        r: &str,
        id: &str,
        target: &str,
        t: &str,
    ) -> ConnectResult<()> {
        self.write(
            r,
            format!("UpdatePhoneNumber {id} target={target}"),
            (),
            self.inner.update_phone_number(r, id, target, t),
        )
        .await
    }
    async fn list_lambda_functions(&self, r: &str, i: &str) -> ConnectResult<Vec<String>> {
        self.read(
            "ListLambdaFunctions",
            r,
            self.inner.list_lambda_functions(r, i),
        )
        .await
    }
    async fn associate_lambda_function(&self, r: &str, i: &str, f: &str) -> ConnectResult<()> {
        self.write(
            r,
            format!("AssociateLambdaFunction instance={i} function={f}"),
            (),
            self.inner.associate_lambda_function(r, i, f),
        )
        .await
    }
    // Real-time metrics (health gates)
    async fn list_queues(&self, r: &str, i: &str) -> ConnectResult<Vec<NamedId>> {
        self.read("ListQueues", r, self.inner.list_queues(r, i))
            .await
    }
    async fn get_current_metrics(
        &self,
        r: &str,
        i: &str,
        f: &MetricFilter,
    ) -> ConnectResult<CurrentMetrics> {
        self.read(
            "GetCurrentMetricData",
            r,
            self.inner.get_current_metrics(r, i, f),
        )
        .await
    }
    // Preflight and cross-region routing
    async fn list_flows(&self, r: &str, i: &str, m: bool) -> ConnectResult<Vec<FlowSummary>> {
        self.read(
            if m {
                "ListContactFlowModules"
            } else {
                "ListContactFlows"
            },
            r,
            self.inner.list_flows(r, i, m),
        )
        .await
    }
    async fn describe_flow_content(
        &self,
        r: &str,
        i: &str,
        m: bool,
        id: &str,
    ) -> ConnectResult<String> {
        self.read(
            if m {
                "DescribeContactFlowModule"
            } else {
                "DescribeContactFlow"
            },
            r,
            self.inner.describe_flow_content(r, i, m, id),
        )
        .await
    }
    async fn list_bots(&self, r: &str, i: &str) -> ConnectResult<Vec<LexBotRef>> {
        self.read("ListBots", r, self.inner.list_bots(r, i)).await
    }
    async fn list_replication_findings(
        &self,
        r: &str,
        i: &str,
        t: &str,
    ) -> ConnectResult<ReplicationFindings> {
        self.read(
            "ListReplicationFindings",
            r,
            self.inner.list_replication_findings(r, i, t),
        )
        .await
    }
    async fn get_cross_region_routing(&self, r: &str, i: &str) -> ConnectResult<Vec<String>> {
        self.read(
            "GetCrossRegionRouting",
            r,
            self.inner.get_cross_region_routing(r, i),
        )
        .await
    }
    async fn update_cross_region_routing(&self, r: &str, i: &str, iso: bool) -> ConnectResult<()> {
        self.record(
            r,
            format!("UpdateCrossRegionRouting instance={i} isolatedAll={iso}"),
        );
        Ok(())
    }
}
