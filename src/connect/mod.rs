//! The cloud seam: the `ConnectApi` trait the reconcilers call, its `aws-sdk-connect`
//! implementation (one client per region), error classification, the shared request scheduler
//! (per region and operation token buckets with priorities) and outbound-call metrics.

mod dry_run;
mod error;
pub mod fence;
pub mod ratelimit;
mod sdk;
pub mod server_clock;
mod timeouts;
mod types;
mod types_preflight;

pub use dry_run::{DryRun, FailedRead};
pub use error::{ConnectError, ErrorClass};
pub use fence::WriteFence;
pub use ratelimit::{
    Priority, QUEUED, QueueTime, Scheduler, SchedulerConfig, parse_background_budget,
    parse_quota_override,
};
pub use sdk::{SdkConnect, SdkConnectConfig, new_connect};
pub use timeouts::Timeouts;
pub use types::*;
pub use types_preflight::*;

use async_trait::async_trait;

pub type ConnectResult<T> = Result<T, ConnectError>;

/// Every Connect operation the reconcilers need. `region` is the region whose endpoint is called;
/// ids may be bare ids or ARNs as the operation allows (rule G3: from the replica region a group is
/// addressed only by ARN). `priority` says which queue of the scheduler the call waits in.
#[async_trait]
pub trait ConnectApi: Send + Sync {
    /// Connect's time now, as its answers' `Date` headers show it (our clock where nothing says
    /// otherwise): what a FailoverDrill's schedule runs on.
    fn server_now(&self) -> jiff::Timestamp {
        jiff::Timestamp::now()
    }
    async fn describe_instance(
        &self,
        region: &str,
        instance_id: &str,
    ) -> ConnectResult<InstanceInfo>;
    async fn replicate_instance(
        &self,
        source_region: &str,
        instance_id: &str,
        replica_region: &str,
        replica_alias: &str,
        client_token: &str,
    ) -> ConnectResult<Identity>;
    async fn list_traffic_distribution_groups(
        &self,
        region: &str,
        instance_id: &str,
        priority: Priority,
    ) -> ConnectResult<Vec<GroupInfo>>;
    async fn describe_traffic_distribution_group(
        &self,
        region: &str,
        group: &str,
        priority: Priority,
    ) -> ConnectResult<GroupInfo>;
    async fn create_traffic_distribution_group(
        &self,
        region: &str,
        req: &CreateGroup,
    ) -> ConnectResult<Identity>;
    async fn delete_traffic_distribution_group(
        &self,
        region: &str,
        group: &str,
    ) -> ConnectResult<()>;
    async fn get_traffic_distribution(
        &self,
        region: &str,
        group: &str,
        priority: Priority,
    ) -> ConnectResult<Distribution>;
    async fn update_traffic_distribution(
        &self,
        region: &str,
        group: &str,
        update: &DistributionUpdate,
    ) -> ConnectResult<()>;
    async fn list_group_users(
        &self,
        region: &str,
        group: &str,
        priority: Priority,
    ) -> ConnectResult<Vec<String>>;
    /// One page of a group's members (10 ids at most) and the token of the next, for paced
    /// drift-check sweeps.
    async fn list_group_users_page(
        &self,
        region: &str,
        group: &str,
        token: Option<String>,
        priority: Priority,
    ) -> ConnectResult<(Vec<String>, Option<String>)>;
    async fn associate_group_user(
        &self,
        region: &str,
        group: &str,
        instance_id: &str,
        user_id: &str,
    ) -> ConnectResult<()>;
    async fn disassociate_group_user(
        &self,
        region: &str,
        group: &str,
        instance_id: &str,
        user_id: &str,
    ) -> ConnectResult<()>;
    async fn list_users(
        &self,
        region: &str,
        instance_id: &str,
        priority: Priority,
    ) -> ConnectResult<UserList>;
    /// The ids of every user (ListUsers, the usernames left empty): what "is this user there"
    /// needs.
    async fn list_user_ids(
        &self,
        region: &str,
        instance_id: &str,
        priority: Priority,
    ) -> ConnectResult<UserList> {
        let users = self.list_users(region, instance_id, priority).await?;
        let mut ids = UserList::default();
        for u in users.iter() {
            ids.push(u.id, "", None);
        }
        Ok(ids)
    }
    /// All users with routing profile, hierarchy group and tags (SearchUsers, 500 a page).
    async fn search_users(
        &self,
        region: &str,
        instance_id: &str,
        priority: Priority,
    ) -> ConnectResult<UserList>;
    async fn list_routing_profiles(
        &self,
        region: &str,
        instance_id: &str,
    ) -> ConnectResult<Vec<NamedId>>;
    async fn list_hierarchy_groups(
        &self,
        region: &str,
        instance_id: &str,
    ) -> ConnectResult<Vec<NamedId>>;
    /// Numbers claimed in `region`, to the instance or a group (ListPhoneNumbersV2 without target).
    async fn list_phone_numbers(
        &self,
        region: &str,
        priority: Priority,
    ) -> ConnectResult<Vec<PhoneNumberInfo>>;
    async fn update_phone_number(
        &self,
        region: &str,
        phone_number_id: &str,
        target_arn: &str,
        client_token: &str,
    ) -> ConnectResult<()>;
    /// Sets tags on a resource (TagResource); other tags stay.
    async fn tag_resource(
        &self,
        region: &str,
        arn: &str,
        tags: &std::collections::BTreeMap<String, String>,
    ) -> ConnectResult<()>;
    /// Removes tag keys from a resource (UntagResource).
    async fn untag_resource(&self, region: &str, arn: &str, keys: &[String]) -> ConnectResult<()>;
    async fn list_lambda_functions(
        &self,
        region: &str,
        instance_id: &str,
    ) -> ConnectResult<Vec<String>>;
    async fn associate_lambda_function(
        &self,
        region: &str,
        instance_id: &str,
        function_arn: &str,
    ) -> ConnectResult<()>;
    // Real-time metrics (health gates)
    /// STANDARD queues of the instance (ListQueues with queueTypes=STANDARD).
    async fn list_queues(&self, region: &str, instance_id: &str) -> ConnectResult<Vec<NamedId>>;
    /// Agents and queue figures over `filter` as `region` reports them (GetCurrentMetricData;
    /// on a global-routing instance one combined view of both regions).
    async fn get_current_metrics(
        &self,
        region: &str,
        instance_id: &str,
        filter: &MetricFilter,
    ) -> ConnectResult<CurrentMetrics>;
    // Preflight and cross-region routing
    /// Flows (`module = false`, ListContactFlows) or flow modules (ListContactFlowModules).
    async fn list_flows(
        &self,
        region: &str,
        instance_id: &str,
        module: bool,
    ) -> ConnectResult<Vec<FlowSummary>>;
    /// The published content of a flow or module (DescribeContactFlow / DescribeContactFlowModule).
    async fn describe_flow_content(
        &self,
        region: &str,
        instance_id: &str,
        module: bool,
        id: &str,
    ) -> ConnectResult<String>;
    /// Lex bot associations of the instance in `region` (ListBots, V2 then V1).
    async fn list_bots(&self, region: &str, instance_id: &str) -> ConnectResult<Vec<LexBotRef>>;
    async fn list_replication_findings(
        &self,
        region: &str,
        instance_id: &str,
        resource_type: &str,
    ) -> ConnectResult<ReplicationFindings>;
    /// The regions with cross-region routing off (GetCrossRegionRouting).
    async fn get_cross_region_routing(
        &self,
        region: &str,
        instance_id: &str,
    ) -> ConnectResult<Vec<String>>;
    /// UpdateCrossRegionRouting with `IsolatedAll` always set.
    async fn update_cross_region_routing(
        &self,
        region: &str,
        instance_id: &str,
        isolated_all: bool,
    ) -> ConnectResult<()>;
}
