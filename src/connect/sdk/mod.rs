//! `ConnectApi` over the unmodified `aws-sdk-connect` client: one client per region, every call
//! through the shared `Scheduler`, errors classified, calls counted in `/metrics`.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_connect::Client;
use aws_sdk_connect::types as t;
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::BeforeDeserializationInterceptorContextRef;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use tokio::sync::RwLock;

use super::*;
use crate::metrics::{CallLabels, METRICS, PriorityLabel, RegionOperation};

/// How clients are built. Everything else follows the standard AWS configuration
/// (credential chain, `AWS_ENDPOINT_URL_CONNECT`, ...).
#[derive(Debug, Clone, Default)]
pub struct SdkConnectConfig {
    /// Overrides the endpoint (the emulator); `None` = the standard configuration.
    pub endpoint_url: Option<String>,
    /// Attempts per call including the SDK's own retries (default 3).
    pub max_attempts: Option<u32>,
}

pub struct SdkConnect {
    config: SdkConnectConfig,
    scheduler: Scheduler,
    /// One client per region and queue: each queue has its own timeouts (`Timeouts`); the
    /// clients of a region share its loaded configuration and HTTP connection pool.
    clients: RwLock<HashMap<(String, Priority), Client>>,
    configs: RwLock<HashMap<String, aws_config::SdkConfig>>,
    /// Writes are sent only while this allows them (the writer lease); `None` = always.
    fence: Option<super::WriteFence>,
    /// Connect's clock, from the `Date` header of every answer.
    clock: super::server_clock::ServerClock,
}

/// Sees every attempt's HTTP status, so throttling inside the SDK's retries still slows our
/// buckets down (the SDK would otherwise hide them).
#[derive(Debug)]
struct ThrottleObserver {
    region: String,
    scheduler: Scheduler,
    clock: super::server_clock::ServerClock,
}

impl Intercept for ThrottleObserver {
    fn name(&self) -> &'static str {
        "connect-gr-throttle-observer"
    }

    fn read_after_transmit(
        &self,
        context: &BeforeDeserializationInterceptorContextRef<'_>,
        _rc: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let status = context.response().status().as_u16();
        if let Some(date) = context.response().headers().get("date") {
            self.clock.observe(date, jiff::Timestamp::now());
        }
        let operation = cfg
            .load::<Metadata>()
            .map(|m| m.name().to_string())
            .unwrap_or_default();
        let throttled = status == 429;
        self.scheduler.record(&self.region, &operation, throttled);
        if throttled {
            METRICS
                .connect_throttled
                .get_or_create(&RegionOperation {
                    region: self.region.clone(),
                    operation,
                })
                .inc();
        }
        Ok(())
    }
}

impl std::fmt::Debug for Scheduler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Scheduler")
    }
}

use convert::{classify, dist_map, dists, group_info};

impl SdkConnect {
    pub fn new(config: SdkConnectConfig, scheduler: Scheduler) -> Self {
        Self {
            config,
            scheduler,
            clients: RwLock::new(HashMap::new()),
            configs: RwLock::new(HashMap::new()),
            fence: None,
            clock: Default::default(),
        }
    }

    /// Sends writes only while `fence` allows them (checked right before each write is sent).
    pub fn with_fence(mut self, fence: super::WriteFence) -> Self {
        self.fence = Some(fence);
        self
    }

    pub fn scheduler(&self) -> &Scheduler {
        &self.scheduler
    }

    async fn client(&self, region: &str, priority: Priority) -> Client {
        let key = (region.to_string(), priority);
        if let Some(c) = self.clients.read().await.get(&key) {
            return c.clone();
        }
        let mut clients = self.clients.write().await;
        if let Some(c) = clients.get(&key) {
            return c.clone();
        }
        // The region's loaded configuration (credentials, endpoint, retries), shared by its
        // queues' clients; each client gets the throttle observer and its queue's timeouts.
        // (Only looked at under the clients' write lock: one load per region.)
        let cached = self.configs.read().await.get(region).cloned();
        let shared = match cached {
            Some(c) => c,
            None => {
                let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
                    .region(aws_config::Region::new(region.to_string()))
                    .retry_config(
                        aws_config::retry::RetryConfig::standard()
                            .with_max_attempts(self.config.max_attempts.unwrap_or(3)),
                    );
                if let Some(url) = &self.config.endpoint_url {
                    loader = loader.endpoint_url(url);
                }
                let loaded = loader.load().await;
                self.configs
                    .write()
                    .await
                    .insert(region.to_string(), loaded.clone());
                loaded
            }
        };
        let conf = aws_sdk_connect::config::Builder::from(&shared)
            .interceptor(ThrottleObserver {
                region: region.to_string(),
                scheduler: self.scheduler.clone(),
                clock: self.clock.clone(),
            })
            .timeout_config(Timeouts::for_priority(priority).sdk())
            .build();
        let client = Client::from_conf(conf);
        clients.insert(key, client.clone());
        client
    }

    /// Follows NextToken until the service stops returning a new one (the SDK paginators' rule:
    /// an absent, empty or repeated token ends the listing).
    async fn paginate<T, F, Fut>(
        &self,
        region: &str,
        operation: &'static str,
        priority: Priority,
        page: F,
    ) -> ConnectResult<Vec<T>>
    where
        F: FnMut(Client, Option<String>) -> Fut,
        Fut: Future<Output = ConnectResult<(Vec<T>, Option<String>)>>,
    {
        // Pages are joined once at the end into an exactly sized Vec: growing one Vec page by
        // page leaves up to half of it unused and copies it on every doubling (5,000 users held
        // for a resync add up).
        let pages: Vec<Vec<T>> = self
            .paginate_into(region, operation, priority, Vec::new(), page)
            .await?;
        Ok(join_pages(pages))
    }

    /// As [`Self::paginate`], each page added to `into` as it arrives.
    async fn paginate_into<C, P, F, Fut>(
        &self,
        region: &str,
        operation: &'static str,
        priority: Priority,
        mut into: C,
        mut page: F,
    ) -> ConnectResult<C>
    where
        C: Extend<P>,
        F: FnMut(Client, Option<String>) -> Fut,
        Fut: Future<Output = ConnectResult<(P, Option<String>)>>,
    {
        let mut token: Option<String> = None;
        loop {
            let tok = token.clone();
            let (items, next) = self
                .call(region, operation, priority, |c| page(c, tok))
                .await?;
            into.extend([items]);
            match next {
                Some(n) if !n.is_empty() && Some(&n) != token.as_ref() => token = Some(n),
                _ => return Ok(into),
            }
        }
    }

    /// Waits for a token, sends, classifies, counts.
    async fn call<T, F, Fut>(
        &self,
        region: &str,
        operation: &'static str,
        priority: Priority,
        f: F,
    ) -> ConnectResult<T>
    where
        F: FnOnce(Client) -> Fut,
        Fut: Future<Output = ConnectResult<T>>,
    {
        let client = self.client(region, priority).await;
        let depth = self.scheduler.queue_depth();
        for (p, d) in Priority::ALL.iter().zip(depth) {
            METRICS
                .scheduler_queue_depth
                .get_or_create(&PriorityLabel {
                    priority: p.label().into(),
                })
                .set(d as i64);
        }
        let waited = self.scheduler.acquire(region, operation, priority).await;
        METRICS
            .scheduler_wait
            .get_or_create(&PriorityLabel {
                priority: priority.label().into(),
            })
            .observe(waited.as_secs_f64());
        if let Some(fence) = &self.fence
            && super::fence::is_write(operation)
            && !fence.allows()
        {
            return Err(super::fence::withheld(operation));
        }
        crate::metrics::count_call();
        let result = f(client).await;
        let outcome = match &result {
            Ok(_) => "ok",
            Err(e) => e.outcome(),
        };
        METRICS
            .connect_calls
            .get_or_create(&CallLabels {
                region: region.into(),
                operation: operation.into(),
                outcome: outcome.into(),
            })
            .inc();
        result
    }
}

mod convert;
mod directory;
mod groups;
mod preflight;

/// Each method delegates to the inherent method of the same name, in `groups.rs`,
/// `directory.rs` or `preflight.rs` (inherent methods take precedence, so there is no recursion).
#[async_trait]
impl ConnectApi for SdkConnect {
    fn server_now(&self) -> jiff::Timestamp {
        self.clock.at(jiff::Timestamp::now())
    }
    async fn describe_instance(
        &self,
        region: &str,
        instance_id: &str,
    ) -> ConnectResult<InstanceInfo> {
        SdkConnect::describe_instance(self, region, instance_id).await
    }

    async fn replicate_instance(
        &self,
        source_region: &str,
        instance_id: &str,
        replica_region: &str,
        replica_alias: &str,
        client_token: &str,
    ) -> ConnectResult<Identity> {
        SdkConnect::replicate_instance(
            self,
            source_region,
            instance_id,
            replica_region,
            replica_alias,
            client_token,
        )
        .await
    }

    async fn list_traffic_distribution_groups(
        &self,
        region: &str,
        instance_id: &str,
        priority: Priority,
    ) -> ConnectResult<Vec<GroupInfo>> {
        SdkConnect::list_traffic_distribution_groups(self, region, instance_id, priority).await
    }

    async fn describe_traffic_distribution_group(
        &self,
        region: &str,
        group: &str,
        priority: Priority,
    ) -> ConnectResult<GroupInfo> {
        SdkConnect::describe_traffic_distribution_group(self, region, group, priority).await
    }

    async fn create_traffic_distribution_group(
        &self,
        region: &str,
        req: &CreateGroup,
    ) -> ConnectResult<Identity> {
        SdkConnect::create_traffic_distribution_group(self, region, req).await
    }

    async fn delete_traffic_distribution_group(
        &self,
        region: &str,
        group: &str,
    ) -> ConnectResult<()> {
        SdkConnect::delete_traffic_distribution_group(self, region, group).await
    }

    async fn get_traffic_distribution(
        &self,
        region: &str,
        group: &str,
        priority: Priority,
    ) -> ConnectResult<Distribution> {
        SdkConnect::get_traffic_distribution(self, region, group, priority).await
    }

    async fn update_traffic_distribution(
        &self,
        region: &str,
        group: &str,
        update: &DistributionUpdate,
    ) -> ConnectResult<()> {
        SdkConnect::update_traffic_distribution(self, region, group, update).await
    }

    async fn list_group_users(
        &self,
        region: &str,
        group: &str,
        priority: Priority,
    ) -> ConnectResult<Vec<String>> {
        SdkConnect::list_group_users(self, region, group, priority).await
    }

    async fn list_group_users_page(
        &self,
        region: &str,
        group: &str,
        token: Option<String>,
        priority: Priority,
    ) -> ConnectResult<(Vec<String>, Option<String>)> {
        SdkConnect::list_group_users_page(self, region, group, token, priority).await
    }

    async fn associate_group_user(
        &self,
        region: &str,
        group: &str,
        instance_id: &str,
        user_id: &str,
    ) -> ConnectResult<()> {
        SdkConnect::associate_group_user(self, region, group, instance_id, user_id).await
    }

    async fn disassociate_group_user(
        &self,
        region: &str,
        group: &str,
        instance_id: &str,
        user_id: &str,
    ) -> ConnectResult<()> {
        SdkConnect::disassociate_group_user(self, region, group, instance_id, user_id).await
    }

    async fn list_users(
        &self,
        region: &str,
        instance_id: &str,
        priority: Priority,
    ) -> ConnectResult<UserList> {
        SdkConnect::list_users(self, region, instance_id, priority).await
    }

    async fn list_user_ids(
        &self,
        region: &str,
        instance_id: &str,
        priority: Priority,
    ) -> ConnectResult<UserList> {
        SdkConnect::list_user_ids(self, region, instance_id, priority).await
    }

    async fn search_users(
        &self,
        region: &str,
        instance_id: &str,
        priority: Priority,
    ) -> ConnectResult<UserList> {
        SdkConnect::search_users(self, region, instance_id, priority).await
    }

    async fn list_routing_profiles(
        &self,
        region: &str,
        instance_id: &str,
    ) -> ConnectResult<Vec<NamedId>> {
        SdkConnect::list_routing_profiles(self, region, instance_id).await
    }

    async fn list_hierarchy_groups(
        &self,
        region: &str,
        instance_id: &str,
    ) -> ConnectResult<Vec<NamedId>> {
        SdkConnect::list_hierarchy_groups(self, region, instance_id).await
    }

    async fn list_phone_numbers(
        &self,
        region: &str,
        priority: Priority,
    ) -> ConnectResult<Vec<PhoneNumberInfo>> {
        SdkConnect::list_phone_numbers(self, region, priority).await
    }

    async fn tag_resource(
        &self,
        region: &str,
        arn: &str,
        tags: &std::collections::BTreeMap<String, String>,
    ) -> ConnectResult<()> {
        SdkConnect::tag_resource(self, region, arn, tags).await
    }

    async fn untag_resource(&self, region: &str, arn: &str, keys: &[String]) -> ConnectResult<()> {
        SdkConnect::untag_resource(self, region, arn, keys).await
    }

    async fn update_phone_number(
        &self,
        region: &str,
        phone_number_id: &str,
        target_arn: &str,
        client_token: &str,
    ) -> ConnectResult<()> {
        SdkConnect::update_phone_number(self, region, phone_number_id, target_arn, client_token)
            .await
    }

    async fn list_lambda_functions(
        &self,
        region: &str,
        instance_id: &str,
    ) -> ConnectResult<Vec<String>> {
        SdkConnect::list_lambda_functions(self, region, instance_id).await
    }

    async fn associate_lambda_function(
        &self,
        region: &str,
        instance_id: &str,
        function_arn: &str,
    ) -> ConnectResult<()> {
        SdkConnect::associate_lambda_function(self, region, instance_id, function_arn).await
    }

    async fn list_queues(&self, region: &str, instance_id: &str) -> ConnectResult<Vec<NamedId>> {
        SdkConnect::list_queues(self, region, instance_id).await
    }

    async fn get_current_metrics(
        &self,
        region: &str,
        instance_id: &str,
        filter: &MetricFilter,
    ) -> ConnectResult<CurrentMetrics> {
        SdkConnect::get_current_metrics(self, region, instance_id, filter).await
    }

    async fn list_flows(
        &self,
        region: &str,
        instance_id: &str,
        module: bool,
    ) -> ConnectResult<Vec<FlowSummary>> {
        SdkConnect::list_flows(self, region, instance_id, module).await
    }

    async fn describe_flow_content(
        &self,
        region: &str,
        instance_id: &str,
        module: bool,
        id: &str,
    ) -> ConnectResult<String> {
        SdkConnect::describe_flow_content(self, region, instance_id, module, id).await
    }

    async fn list_bots(&self, region: &str, instance_id: &str) -> ConnectResult<Vec<LexBotRef>> {
        SdkConnect::list_bots(self, region, instance_id).await
    }

    async fn list_replication_findings(
        &self,
        region: &str,
        instance_id: &str,
        resource_type: &str,
    ) -> ConnectResult<ReplicationFindings> {
        SdkConnect::list_replication_findings(self, region, instance_id, resource_type).await
    }

    async fn get_cross_region_routing(
        &self,
        region: &str,
        instance_id: &str,
    ) -> ConnectResult<Vec<String>> {
        SdkConnect::get_cross_region_routing(self, region, instance_id).await
    }

    async fn update_cross_region_routing(
        &self,
        region: &str,
        instance_id: &str,
        isolated_all: bool,
    ) -> ConnectResult<()> {
        SdkConnect::update_cross_region_routing(self, region, instance_id, isolated_all).await
    }
}

/// Builds the production `ConnectApi`.
pub fn new_connect(config: SdkConnectConfig, scheduler: Scheduler) -> Arc<dyn ConnectApi> {
    Arc::new(SdkConnect::new(config, scheduler))
}

/// One ListTrafficDistributionGroupUsers page: the user ids and the next token.
async fn group_users_page(
    c: Client,
    group: &str,
    token: Option<String>,
) -> ConnectResult<(Vec<String>, Option<String>)> {
    let out = c
        .list_traffic_distribution_group_users()
        .traffic_distribution_group_id(group)
        .max_results(10)
        .set_next_token(token)
        .send()
        .await
        .map_err(classify)?;
    let items = out
        .traffic_distribution_group_user_summary_list()
        .iter()
        .filter_map(|u| u.user_id().map(str::to_string))
        .collect();
    Ok((items, out.next_token().map(str::to_string)))
}

/// One Vec of exactly the pages' length (the first page is reused when it is the only one).
fn join_pages<T>(mut pages: Vec<Vec<T>>) -> Vec<T> {
    if pages.len() == 1 {
        let mut only = pages.pop().unwrap_or_default();
        only.shrink_to_fit();
        return only;
    }
    let mut all = Vec::with_capacity(pages.iter().map(Vec::len).sum());
    for p in pages {
        all.extend(p);
    }
    all
}

#[cfg(test)]
mod tests {
    use super::join_pages;

    #[test]
    fn pages_are_joined_in_order_into_a_vec_of_exactly_their_length() {
        let all = join_pages(vec![vec![1, 2, 3], vec![], vec![4, 5]]);
        assert_eq!(all, vec![1, 2, 3, 4, 5]);
        assert_eq!(all.capacity(), 5);
        let mut one = Vec::with_capacity(10);
        one.extend([7, 8]);
        let only = join_pages(vec![one]);
        assert_eq!((only.clone(), only.capacity()), (vec![7, 8], 2));
        assert!(join_pages::<u8>(vec![]).is_empty());
    }
}
