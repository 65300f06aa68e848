//! The Connect operations on Lambda associations, queues, real-time metrics, flows, Lex bots and replication findings: the bodies of
//! [`ConnectApi`] for [`SdkConnect`] (the trait impl in `mod.rs` calls these).

use super::*;

impl SdkConnect {
    pub(super) async fn list_lambda_functions(
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

    pub(super) async fn associate_lambda_function(
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

    pub(super) async fn list_queues(
        &self,
        region: &str,
        instance_id: &str,
    ) -> ConnectResult<Vec<NamedId>> {
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

    pub(super) async fn get_current_metrics(
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

    pub(super) async fn list_flows(
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

    pub(super) async fn describe_flow_content(
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

    pub(super) async fn list_bots(
        &self,
        region: &str,
        instance_id: &str,
    ) -> ConnectResult<Vec<LexBotRef>> {
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

    pub(super) async fn list_replication_findings(
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
}
