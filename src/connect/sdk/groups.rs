//! The Connect operations on instances, replication, traffic distribution groups, their split, members and cross-region routing: the bodies of
//! [`ConnectApi`] for [`SdkConnect`] (the trait impl in `mod.rs` calls these).

use super::*;

impl SdkConnect {
    pub(super) async fn describe_instance(
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

    pub(super) async fn replicate_instance(
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

    pub(super) async fn list_traffic_distribution_groups(
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

    pub(super) async fn describe_traffic_distribution_group(
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

    pub(super) async fn create_traffic_distribution_group(
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

    pub(super) async fn delete_traffic_distribution_group(
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

    pub(super) async fn get_traffic_distribution(
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

    pub(super) async fn update_traffic_distribution(
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

    pub(super) async fn list_group_users(
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

    pub(super) async fn list_group_users_page(
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

    pub(super) async fn associate_group_user(
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

    pub(super) async fn disassociate_group_user(
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

    pub(super) async fn get_cross_region_routing(
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

    pub(super) async fn update_cross_region_routing(
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
