//! `ConnectApi` over the unmodified `aws-sdk-connect` client: one client per region, every call
//! through the shared `Scheduler`, errors classified, calls counted in `/metrics`.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_connect::Client;
use aws_sdk_connect::error::ProvideErrorMetadata;
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
}

/// Sees every attempt's HTTP status, so throttling inside the SDK's retries still slows our
/// buckets down (the SDK would otherwise hide them).
#[derive(Debug)]
struct ThrottleObserver {
    region: String,
    scheduler: Scheduler,
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

fn classify<E, R>(err: aws_sdk_connect::error::SdkError<E, R>) -> ConnectError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    match &err {
        aws_sdk_connect::error::SdkError::ServiceError(se) => {
            let e = se.err();
            ConnectError::from_code(e.code(), e.message().unwrap_or("").to_string())
        }
        // The SDK's connect, attempt and operation timeouts: the region did not answer in time.
        aws_sdk_connect::error::SdkError::TimeoutError(_) => ConnectError::TimedOut(format!(
            "{}",
            aws_smithy_types::error::display::DisplayErrorContext(&err)
        )),
        aws_sdk_connect::error::SdkError::DispatchFailure(d) if d.is_timeout() => {
            ConnectError::TimedOut(format!(
                "{}",
                aws_smithy_types::error::display::DisplayErrorContext(&err)
            ))
        }
        _ => {
            let code = err.code().map(str::to_string);
            let msg = format!(
                "{}",
                aws_smithy_types::error::display::DisplayErrorContext(&err)
            );
            ConnectError::from_code(code.as_deref(), msg)
        }
    }
}

fn dist_map(d: &[t::Distribution]) -> BTreeMap<String, i32> {
    d.iter()
        .map(|d| (d.region().to_string(), d.percentage()))
        .collect()
}

fn dists(m: &BTreeMap<String, i32>) -> Vec<t::Distribution> {
    m.iter()
        .map(|(r, p)| {
            t::Distribution::builder()
                .region(r)
                .percentage(*p)
                .build()
                .expect("region and percentage set")
        })
        .collect()
}

fn group_info(g: &t::TrafficDistributionGroup) -> GroupInfo {
    GroupInfo {
        id: g.id().unwrap_or_default().into(),
        arn: g.arn().unwrap_or_default().into(),
        name: g.name().unwrap_or_default().into(),
        description: g.description().map(str::to_string),
        instance_arn: g.instance_arn().unwrap_or_default().into(),
        status: g
            .status()
            .map(|s| s.as_str().to_string())
            .unwrap_or_default(),
        is_default: g.is_default(),
        tags: g
            .tags()
            .map(|t| t.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default(),
    }
}

impl SdkConnect {
    pub fn new(config: SdkConnectConfig, scheduler: Scheduler) -> Self {
        Self {
            config,
            scheduler,
            clients: RwLock::new(HashMap::new()),
            configs: RwLock::new(HashMap::new()),
        }
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
        mut page: F,
    ) -> ConnectResult<Vec<T>>
    where
        F: FnMut(Client, Option<String>) -> Fut,
        Fut: Future<Output = ConnectResult<(Vec<T>, Option<String>)>>,
    {
        // Pages are joined once at the end into an exactly sized Vec: growing one Vec page by
        // page leaves up to half of it unused and copies it on every doubling (5,000 users held
        // for a resync add up).
        let mut pages: Vec<Vec<T>> = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let tok = token.clone();
            let (items, next) = self
                .call(region, operation, priority, |c| page(c, tok))
                .await?;
            pages.push(items);
            match next {
                Some(n) if !n.is_empty() && Some(&n) != token.as_ref() => token = Some(n),
                _ => return Ok(join_pages(pages)),
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

#[async_trait]
impl ConnectApi for SdkConnect {
    async fn describe_instance(
        &self,
        region: &str,
        instance_id: &str,
    ) -> ConnectResult<InstanceInfo> {
        self.call(
            region,
            "DescribeInstance",
            Priority::Normal,
            |c| async move {
                let out = c
                    .describe_instance()
                    .instance_id(instance_id)
                    .send()
                    .await
                    .map_err(classify)?;
                let i = out.instance().ok_or_else(|| {
                    ConnectError::Transient("DescribeInstance returned no instance".into())
                })?;
                let rc = out.replication_configuration();
                Ok(InstanceInfo {
                    id: i.id().unwrap_or_default().into(),
                    arn: i.arn().unwrap_or_default().into(),
                    alias: i.instance_alias().map(str::to_string),
                    status: i
                        .instance_status()
                        .map(|s| s.as_str().to_string())
                        .unwrap_or_default(),
                    identity_management_type: i
                        .identity_management_type()
                        .map(|s| s.as_str().to_string())
                        .unwrap_or_default(),
                    source_region: rc.and_then(|r| r.source_region()).map(str::to_string),
                    replication: rc
                        .map(|r| {
                            r.replication_status_summary_list()
                                .iter()
                                .map(|s| RegionReplication {
                                    region: s.region().unwrap_or_default().into(),
                                    status: s
                                        .replication_status()
                                        .map(|x| x.as_str().to_string())
                                        .unwrap_or_default(),
                                    reason: s.replication_status_reason().map(str::to_string),
                                })
                                .collect()
                        })
                        .unwrap_or_default(),
                    global_sign_in_endpoint: rc
                        .and_then(|r| r.global_sign_in_endpoint())
                        .map(str::to_string),
                })
            },
        )
        .await
    }

    async fn replicate_instance(
        &self,
        source_region: &str,
        instance_id: &str,
        replica_region: &str,
        replica_alias: &str,
        client_token: &str,
    ) -> ConnectResult<Identity> {
        self.call(
            source_region,
            "ReplicateInstance",
            Priority::Urgent,
            |c| async move {
                let out = c
                    .replicate_instance()
                    .instance_id(instance_id)
                    .replica_region(replica_region)
                    .replica_alias(replica_alias)
                    .client_token(client_token)
                    .send()
                    .await
                    .map_err(classify)?;
                Ok(Identity {
                    id: out.id().unwrap_or_default().into(),
                    arn: out.arn().unwrap_or_default().into(),
                })
            },
        )
        .await
    }

    async fn list_traffic_distribution_groups(
        &self,
        region: &str,
        instance_id: &str,
        priority: Priority,
    ) -> ConnectResult<Vec<GroupInfo>> {
        self.paginate(
            region,
            "ListTrafficDistributionGroups",
            priority,
            |c, tok| async move {
                let out = c
                    .list_traffic_distribution_groups()
                    .instance_id(instance_id)
                    .max_results(10)
                    .set_next_token(tok)
                    .send()
                    .await
                    .map_err(classify)?;
                let items: Vec<GroupInfo> = out
                    .traffic_distribution_group_summary_list()
                    .iter()
                    .map(|g| GroupInfo {
                        id: g.id().unwrap_or_default().into(),
                        arn: g.arn().unwrap_or_default().into(),
                        name: g.name().unwrap_or_default().into(),
                        description: None,
                        instance_arn: g.instance_arn().unwrap_or_default().into(),
                        status: g
                            .status()
                            .map(|s| s.as_str().to_string())
                            .unwrap_or_default(),
                        is_default: g.is_default(),
                        tags: BTreeMap::new(),
                    })
                    .collect();
                Ok((items, out.next_token().map(str::to_string)))
            },
        )
        .await
    }

    async fn describe_traffic_distribution_group(
        &self,
        region: &str,
        group: &str,
        priority: Priority,
    ) -> ConnectResult<GroupInfo> {
        self.call(
            region,
            "DescribeTrafficDistributionGroup",
            priority,
            |c| async move {
                let out = c
                    .describe_traffic_distribution_group()
                    .traffic_distribution_group_id(group)
                    .send()
                    .await
                    .map_err(classify)?;
                out.traffic_distribution_group()
                    .map(group_info)
                    .ok_or_else(|| {
                        ConnectError::Transient(
                            "DescribeTrafficDistributionGroup returned no group".into(),
                        )
                    })
            },
        )
        .await
    }

    async fn create_traffic_distribution_group(
        &self,
        region: &str,
        req: &CreateGroup,
    ) -> ConnectResult<Identity> {
        self.call(
            region,
            "CreateTrafficDistributionGroup",
            Priority::Urgent,
            |c| async move {
                let mut b = c
                    .create_traffic_distribution_group()
                    .instance_id(&req.instance_id)
                    .name(&req.name)
                    .set_description(req.description.clone())
                    .client_token(&req.client_token);
                for (k, v) in &req.tags {
                    b = b.tags(k, v);
                }
                let out = b.send().await.map_err(classify)?;
                Ok(Identity {
                    id: out.id().unwrap_or_default().into(),
                    arn: out.arn().unwrap_or_default().into(),
                })
            },
        )
        .await
    }

    async fn delete_traffic_distribution_group(
        &self,
        region: &str,
        group: &str,
    ) -> ConnectResult<()> {
        self.call(
            region,
            "DeleteTrafficDistributionGroup",
            Priority::Urgent,
            |c| async move {
                c.delete_traffic_distribution_group()
                    .traffic_distribution_group_id(group)
                    .send()
                    .await
                    .map_err(classify)?;
                Ok(())
            },
        )
        .await
    }

    async fn get_traffic_distribution(
        &self,
        region: &str,
        group: &str,
        priority: Priority,
    ) -> ConnectResult<Distribution> {
        self.call(region, "GetTrafficDistribution", priority, |c| async move {
            let out = c
                .get_traffic_distribution()
                .id(group)
                .send()
                .await
                .map_err(classify)?;
            Ok(Distribution {
                telephony: out
                    .telephony_config()
                    .map(|t| dist_map(t.distributions()))
                    .unwrap_or_default(),
                agents: out
                    .agent_config()
                    .map(|a| dist_map(a.distributions()))
                    .unwrap_or_default(),
                sign_in: out
                    .sign_in_config()
                    .map(|s| {
                        s.distributions()
                            .iter()
                            .map(|d| (d.region().to_string(), d.enabled()))
                            .collect()
                    })
                    .unwrap_or_default(),
            })
        })
        .await
    }

    async fn update_traffic_distribution(
        &self,
        region: &str,
        group: &str,
        update: &DistributionUpdate,
    ) -> ConnectResult<()> {
        self.call(
            region,
            "UpdateTrafficDistribution",
            Priority::Urgent,
            |c| async move {
                let mut b = c.update_traffic_distribution().id(group);
                if let Some(tel) = &update.telephony {
                    b = b.telephony_config(
                        t::TelephonyConfig::builder()
                            .set_distributions(Some(dists(tel)))
                            .build()
                            .expect("distributions set"),
                    );
                }
                if let Some(ag) = &update.agents {
                    b = b.agent_config(
                        t::AgentConfig::builder()
                            .set_distributions(Some(dists(ag)))
                            .build()
                            .expect("distributions set"),
                    );
                }
                if let Some(si) = &update.sign_in {
                    let d = si
                        .iter()
                        .map(|(r, e)| {
                            t::SignInDistribution::builder()
                                .region(r)
                                .enabled(*e)
                                .build()
                                .expect("region and enabled set")
                        })
                        .collect();
                    b = b.sign_in_config(
                        t::SignInConfig::builder()
                            .set_distributions(Some(d))
                            .build()
                            .expect("distributions set"),
                    );
                }
                b.send().await.map_err(classify)?;
                Ok(())
            },
        )
        .await
    }

    async fn list_group_users(
        &self,
        region: &str,
        group: &str,
        priority: Priority,
    ) -> ConnectResult<Vec<String>> {
        self.paginate(
            region,
            "ListTrafficDistributionGroupUsers",
            priority,
            |c, tok| group_users_page(c, group, tok),
        )
        .await
    }

    async fn list_group_users_page(
        &self,
        region: &str,
        group: &str,
        token: Option<String>,
        priority: Priority,
    ) -> ConnectResult<(Vec<String>, Option<String>)> {
        self.call(region, "ListTrafficDistributionGroupUsers", priority, |c| {
            group_users_page(c, group, token)
        })
        .await
    }

    async fn associate_group_user(
        &self,
        region: &str,
        group: &str,
        instance_id: &str,
        user_id: &str,
    ) -> ConnectResult<()> {
        self.call(
            region,
            "AssociateTrafficDistributionGroupUser",
            Priority::Bulk,
            |c| async move {
                c.associate_traffic_distribution_group_user()
                    .traffic_distribution_group_id(group)
                    .instance_id(instance_id)
                    .user_id(user_id)
                    .send()
                    .await
                    .map_err(classify)?;
                Ok(())
            },
        )
        .await
    }

    async fn disassociate_group_user(
        &self,
        region: &str,
        group: &str,
        instance_id: &str,
        user_id: &str,
    ) -> ConnectResult<()> {
        self.call(
            region,
            "DisassociateTrafficDistributionGroupUser",
            Priority::Bulk,
            |c| async move {
                c.disassociate_traffic_distribution_group_user()
                    .traffic_distribution_group_id(group)
                    .instance_id(instance_id)
                    .user_id(user_id)
                    .send()
                    .await
                    .map_err(classify)?;
                Ok(())
            },
        )
        .await
    }

    async fn list_users(
        &self,
        region: &str,
        instance_id: &str,
        priority: Priority,
    ) -> ConnectResult<Vec<UserInfo>> {
        self.paginate(region, "ListUsers", priority, |c, tok| async move {
            let out = c
                .list_users()
                .instance_id(instance_id)
                .max_results(1000)
                .set_next_token(tok)
                .send()
                .await
                .map_err(classify)?;
            let items: Vec<UserInfo> = out
                .user_summary_list()
                .iter()
                .map(|u| UserInfo {
                    id: u.id().unwrap_or_default().into(),
                    username: u.username().unwrap_or_default().into(),
                    ..Default::default()
                })
                .collect();
            Ok((items, out.next_token().map(str::to_string)))
        })
        .await
    }

    async fn search_users(
        &self,
        region: &str,
        instance_id: &str,
        priority: Priority,
    ) -> ConnectResult<Vec<UserInfo>> {
        self.paginate(region, "SearchUsers", priority, |c, tok| async move {
            let out = c
                .search_users()
                .instance_id(instance_id)
                .max_results(500)
                .set_next_token(tok)
                .send()
                .await
                .map_err(classify)?;
            let items: Vec<UserInfo> = out
                .users()
                .iter()
                .map(|u| UserInfo {
                    id: u.id().unwrap_or_default().into(),
                    username: u.username().unwrap_or_default().into(),
                    routing_profile_id: u.routing_profile_id().map(str::to_string),
                    hierarchy_group_id: u.hierarchy_group_id().map(str::to_string),
                    tags: u
                        .tags()
                        .map(|t| t.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                        .unwrap_or_default(),
                })
                .collect();
            Ok((items, out.next_token().map(str::to_string)))
        })
        .await
    }

    async fn list_routing_profiles(
        &self,
        region: &str,
        instance_id: &str,
    ) -> ConnectResult<Vec<NamedId>> {
        self.paginate(
            region,
            "ListRoutingProfiles",
            Priority::Normal,
            |c, tok| async move {
                let out = c
                    .list_routing_profiles()
                    .instance_id(instance_id)
                    .max_results(1000)
                    .set_next_token(tok)
                    .send()
                    .await
                    .map_err(classify)?;
                let items: Vec<NamedId> = out
                    .routing_profile_summary_list()
                    .iter()
                    .map(|r| NamedId {
                        id: r.id().unwrap_or_default().into(),
                        name: r.name().unwrap_or_default().into(),
                    })
                    .collect();
                Ok((items, out.next_token().map(str::to_string)))
            },
        )
        .await
    }

    async fn list_hierarchy_groups(
        &self,
        region: &str,
        instance_id: &str,
    ) -> ConnectResult<Vec<NamedId>> {
        self.paginate(
            region,
            "ListUserHierarchyGroups",
            Priority::Normal,
            |c, tok| async move {
                let out = c
                    .list_user_hierarchy_groups()
                    .instance_id(instance_id)
                    .max_results(1000)
                    .set_next_token(tok)
                    .send()
                    .await
                    .map_err(classify)?;
                let items: Vec<NamedId> = out
                    .user_hierarchy_group_summary_list()
                    .iter()
                    .map(|r| NamedId {
                        id: r.id().unwrap_or_default().into(),
                        name: r.name().unwrap_or_default().into(),
                    })
                    .collect();
                Ok((items, out.next_token().map(str::to_string)))
            },
        )
        .await
    }

    async fn list_phone_numbers(
        &self,
        region: &str,
        priority: Priority,
    ) -> ConnectResult<Vec<PhoneNumberInfo>> {
        self.paginate(
            region,
            "ListPhoneNumbersV2",
            priority,
            |c, tok| async move {
                let out = c
                    .list_phone_numbers_v2()
                    .max_results(1000)
                    .set_next_token(tok)
                    .send()
                    .await
                    .map_err(classify)?;
                let items: Vec<PhoneNumberInfo> = out
                    .list_phone_numbers_summary_list()
                    .iter()
                    .map(|p| PhoneNumberInfo {
                        id: p.phone_number_id().unwrap_or_default().into(),
                        arn: p.phone_number_arn().unwrap_or_default().into(),
                        number: p.phone_number().unwrap_or_default().into(),
                        target_arn: p.target_arn().map(str::to_string),
                        instance_id: p.instance_id().map(str::to_string),
                    })
                    .collect();
                Ok((items, out.next_token().map(str::to_string)))
            },
        )
        .await
    }

    async fn tag_resource(
        &self,
        region: &str,
        arn: &str,
        tags: &std::collections::BTreeMap<String, String>,
    ) -> ConnectResult<()> {
        let tags: std::collections::HashMap<String, String> =
            tags.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        self.call(region, "TagResource", Priority::Normal, |c| async move {
            c.tag_resource()
                .resource_arn(arn)
                .set_tags(Some(tags))
                .send()
                .await
                .map_err(classify)?;
            Ok(())
        })
        .await
    }

    async fn untag_resource(&self, region: &str, arn: &str, keys: &[String]) -> ConnectResult<()> {
        self.call(region, "UntagResource", Priority::Normal, |c| async move {
            c.untag_resource()
                .resource_arn(arn)
                .set_tag_keys(Some(keys.to_vec()))
                .send()
                .await
                .map_err(classify)?;
            Ok(())
        })
        .await
    }

    async fn update_phone_number(
        &self,
        region: &str,
        phone_number_id: &str,
        target_arn: &str,
        client_token: &str,
    ) -> ConnectResult<()> {
        self.call(
            region,
            "UpdatePhoneNumber",
            Priority::Normal,
            |c| async move {
                c.update_phone_number()
                    .phone_number_id(phone_number_id)
                    .target_arn(target_arn)
                    .client_token(client_token)
                    .send()
                    .await
                    .map_err(classify)?;
                Ok(())
            },
        )
        .await
    }

    async fn list_lambda_functions(
        &self,
        region: &str,
        instance_id: &str,
    ) -> ConnectResult<Vec<String>> {
        self.paginate(
            region,
            "ListLambdaFunctions",
            Priority::Normal,
            |c, tok| async move {
                let out = c
                    .list_lambda_functions()
                    .instance_id(instance_id)
                    .max_results(25)
                    .set_next_token(tok)
                    .send()
                    .await
                    .map_err(classify)?;
                Ok((
                    out.lambda_functions().to_vec(),
                    out.next_token().map(str::to_string),
                ))
            },
        )
        .await
    }

    async fn associate_lambda_function(
        &self,
        region: &str,
        instance_id: &str,
        function_arn: &str,
    ) -> ConnectResult<()> {
        self.call(
            region,
            "AssociateLambdaFunction",
            Priority::Normal,
            |c| async move {
                c.associate_lambda_function()
                    .instance_id(instance_id)
                    .function_arn(function_arn)
                    .send()
                    .await
                    .map_err(classify)?;
                Ok(())
            },
        )
        .await
    }

    // Real-time metrics (health gates)
    async fn list_queues(&self, region: &str, instance_id: &str) -> ConnectResult<Vec<NamedId>> {
        self.paginate(
            region,
            "ListQueues",
            Priority::Urgent,
            |c, tok| async move {
                let out = c
                    .list_queues()
                    .instance_id(instance_id)
                    .queue_types(aws_sdk_connect::types::QueueType::Standard)
                    .max_results(1000)
                    .set_next_token(tok)
                    .send()
                    .await
                    .map_err(classify)?;
                let items: Vec<NamedId> = out
                    .queue_summary_list()
                    .iter()
                    .map(|q| NamedId {
                        id: q.id().unwrap_or_default().into(),
                        name: q.name().unwrap_or_default().into(),
                    })
                    .collect();
                Ok((items, out.next_token().map(str::to_string)))
            },
        )
        .await
    }

    async fn get_current_metrics(
        &self,
        region: &str,
        instance_id: &str,
        filter: &MetricFilter,
    ) -> ConnectResult<CurrentMetrics> {
        use aws_sdk_connect::types::{
            Channel, CurrentMetric, CurrentMetricName as N, Filters, Unit,
        };
        self.call(
            region,
            "GetCurrentMetricData",
            Priority::Urgent,
            |c| async move {
                let filters = match filter {
                    MetricFilter::Queues(q) => Filters::builder().set_queues(Some(q.clone())),
                    MetricFilter::RoutingProfiles(r) => {
                        Filters::builder().set_routing_profiles(Some(r.clone()))
                    }
                }
                .channels(Channel::Voice)
                .build();
                let metric = |n: N, u: Unit| CurrentMetric::builder().name(n).unit(u).build();
                // No grouping: one instance-level row over the filter (each agent counted once);
                // OLDEST_CONTACT_AGE then comes in milliseconds (wave-2 reference §2.1).
                let out = c
                    .get_current_metric_data()
                    .instance_id(instance_id)
                    .filters(filters)
                    .current_metrics(metric(N::AgentsOnline, Unit::Count))
                    .current_metrics(metric(N::AgentsAvailable, Unit::Count))
                    .current_metrics(metric(N::AgentsOnContact, Unit::Count))
                    .current_metrics(metric(N::ContactsInQueue, Unit::Count))
                    .current_metrics(metric(N::OldestContactAge, Unit::Seconds))
                    .send()
                    .await
                    .map_err(classify)?;
                let mut m = CurrentMetrics::default();
                if let Some(row) = out.metric_results().first() {
                    for d in row.collections() {
                        let v = d.value();
                        match d.metric().and_then(|m| m.name()) {
                            Some(N::AgentsOnline) => m.agents_online = v,
                            Some(N::AgentsAvailable) => m.agents_available = v,
                            Some(N::AgentsOnContact) => m.agents_on_contact = v,
                            Some(N::ContactsInQueue) => m.contacts_in_queue = v,
                            Some(N::OldestContactAge) => {
                                m.oldest_contact_age_seconds = v.map(|ms| ms / 1000.0)
                            }
                            _ => {}
                        }
                    }
                }
                Ok(m)
            },
        )
        .await
    }

    // Preflight and cross-region routing
    async fn list_flows(
        &self,
        region: &str,
        instance_id: &str,
        module: bool,
    ) -> ConnectResult<Vec<FlowSummary>> {
        if module {
            return self
                .paginate(
                    region,
                    "ListContactFlowModules",
                    Priority::Background,
                    |c, tok| async move {
                        let out = c
                            .list_contact_flow_modules()
                            .instance_id(instance_id)
                            .max_results(1000)
                            .set_next_token(tok)
                            .send()
                            .await
                            .map_err(classify)?;
                        let items = out
                            .contact_flow_modules_summary_list()
                            .iter()
                            .map(|m| FlowSummary {
                                id: m.id().unwrap_or_default().to_string(),
                                arn: m.arn().map(str::to_string),
                                name: m.name().unwrap_or_default().to_string(),
                            })
                            .collect();
                        Ok((items, out.next_token().map(str::to_string)))
                    },
                )
                .await;
        }
        self.paginate(
            region,
            "ListContactFlows",
            Priority::Background,
            |c, tok| async move {
                let out = c
                    .list_contact_flows()
                    .instance_id(instance_id)
                    .max_results(1000)
                    .set_next_token(tok)
                    .send()
                    .await
                    .map_err(classify)?;
                let items = out
                    .contact_flow_summary_list()
                    .iter()
                    .map(|f| FlowSummary {
                        id: f.id().unwrap_or_default().to_string(),
                        arn: f.arn().map(str::to_string),
                        name: f.name().unwrap_or_default().to_string(),
                    })
                    .collect();
                Ok((items, out.next_token().map(str::to_string)))
            },
        )
        .await
    }

    async fn describe_flow_content(
        &self,
        region: &str,
        instance_id: &str,
        module: bool,
        id: &str,
    ) -> ConnectResult<String> {
        if module {
            return self
                .call(
                    region,
                    "DescribeContactFlowModule",
                    Priority::Background,
                    |c| async move {
                        let out = c
                            .describe_contact_flow_module()
                            .instance_id(instance_id)
                            .contact_flow_module_id(id)
                            .send()
                            .await
                            .map_err(classify)?;
                        Ok(out
                            .contact_flow_module()
                            .and_then(|m| m.content())
                            .unwrap_or_default()
                            .to_string())
                    },
                )
                .await;
        }
        self.call(
            region,
            "DescribeContactFlow",
            Priority::Background,
            |c| async move {
                let out = c
                    .describe_contact_flow()
                    .instance_id(instance_id)
                    .contact_flow_id(id)
                    .send()
                    .await
                    .map_err(classify)?;
                Ok(out
                    .contact_flow()
                    .and_then(|f| f.content())
                    .unwrap_or_default()
                    .to_string())
            },
        )
        .await
    }

    async fn list_bots(&self, region: &str, instance_id: &str) -> ConnectResult<Vec<LexBotRef>> {
        let mut all = Vec::new();
        for version in [t::LexVersion::V2, t::LexVersion::V1] {
            let page = self
                .paginate(region, "ListBots", Priority::Background, |c, tok| {
                    let version = version.clone();
                    async move {
                        let out = c
                            .list_bots()
                            .instance_id(instance_id)
                            .lex_version(version)
                            .max_results(25)
                            .set_next_token(tok)
                            .send()
                            .await
                            .map_err(classify)?;
                        let items: Vec<LexBotRef> = out
                            .lex_bots()
                            .iter()
                            .filter_map(|b| {
                                if let Some(v2) = b.lex_v2_bot() {
                                    return v2.alias_arn().map(|a| LexBotRef::V2 {
                                        alias_arn: a.to_string(),
                                    });
                                }
                                b.lex_bot().map(|v1| LexBotRef::V1 {
                                    name: v1.name().to_string(),
                                    lex_region: v1.lex_region().to_string(),
                                })
                            })
                            .collect();
                        Ok((items, out.next_token().map(str::to_string)))
                    }
                })
                .await?;
            all.extend(page);
        }
        Ok(all)
    }

    async fn list_replication_findings(
        &self,
        region: &str,
        instance_id: &str,
        resource_type: &str,
    ) -> ConnectResult<ReplicationFindings> {
        let pages = self
            .paginate(
                region,
                "ListReplicationFindings",
                Priority::Background,
                |c, tok| async move {
                    let out = c
                        .list_replication_findings()
                        .instance_id(instance_id)
                        .resource_type(resource_type)
                        .max_results(100)
                        .set_next_token(tok)
                        .send()
                        .await
                        .map_err(classify)?;
                    let findings: Vec<ReplicationFindingInfo> = out
                        .replication_findings_list()
                        .iter()
                        .map(|f| ReplicationFindingInfo {
                            resource_type: f.resource_type().to_string(),
                            name: f.name().map(str::to_string),
                            arn: Some(f.arn().to_string()).filter(|a| !a.is_empty()),
                            region: f.region().map(str::to_string),
                            reference_code: f.reference_code().map(str::to_string),
                            message: f.message().map(str::to_string),
                        })
                        .collect();
                    let drifted: Vec<(String, i64)> = out
                        .approximate_drifted_resource_counts()
                        .iter()
                        .map(|d| (d.region().to_string(), d.count()))
                        .collect();
                    Ok((
                        vec![ReplicationFindings { findings, drifted }],
                        out.next_token().map(str::to_string),
                    ))
                },
            )
            .await?;
        let mut all = ReplicationFindings::default();
        for p in pages {
            all.findings.extend(p.findings);
            // the counts are the same on every page
            all.drifted = p.drifted;
        }
        Ok(all)
    }

    async fn get_cross_region_routing(
        &self,
        region: &str,
        instance_id: &str,
    ) -> ConnectResult<Vec<String>> {
        self.call(
            region,
            "GetCrossRegionRouting",
            Priority::Urgent,
            |c| async move {
                let out = c
                    .get_cross_region_routing()
                    .instance_id(instance_id)
                    .send()
                    .await
                    .map_err(classify)?;
                Ok(out.isolated_regions().to_vec())
            },
        )
        .await
    }

    async fn update_cross_region_routing(
        &self,
        region: &str,
        instance_id: &str,
        isolated_all: bool,
    ) -> ConnectResult<()> {
        self.call(
            region,
            "UpdateCrossRegionRouting",
            Priority::Urgent,
            |c| async move {
                c.update_cross_region_routing()
                    .instance_id(instance_id)
                    .isolated_all(isolated_all)
                    .send()
                    .await
                    .map_err(classify)?;
                Ok(())
            },
        )
        .await
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
