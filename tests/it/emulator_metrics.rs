//! Real-time metrics in the emulator: the presence model behind `ListQueues` and
//! `GetCurrentMetricData`, queried with the unmodified `aws-sdk-connect` client
//! (wave-2 reference §1.3, §2.1, §3). Responses are recorded and held against the botocore
//! model by `emulator::responses_match_botocore_service_model`.

use aws_sdk_connect::error::ProvideErrorMetadata;
use aws_sdk_connect::types::{
    AgentConfig, Channel, CurrentMetric, CurrentMetricName, Distribution, Filters, Grouping,
    QueueType, Unit,
};

use crate::support::emulator::*;

const USERS: [&str; 4] = ["alice", "bob", "carol", "dave"];

/// A replicated instance with four Basic agents in its default group; `global` sets the
/// instance's global-routing flag.
fn start(global: bool) -> (Emulator, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.yaml");
    let users: Vec<String> = USERS.iter().map(|u| format!("{{username: {u}}}")).collect();
    std::fs::write(
        &path,
        format!(
            "instances:\n  - {{id: {INSTANCE_ID}, region: {SOURCE}, alias: sc, replicated: true, replicaRegion: {REPLICA}, globalRouting: {global}, routingProfiles: [Basic Routing Profile, Sales Routing Profile], users: [{}]}}\n",
            users.join(", ")
        ),
    )
    .unwrap();
    let emu = Emulator::start_with(&["--quotas", "off", "--state", path.to_str().unwrap()]);
    (emu, dir)
}

fn dist(west: i32, east: i32) -> AgentConfig {
    let d = |r: &str, p| {
        Distribution::builder()
            .region(r)
            .percentage(p)
            .build()
            .unwrap()
    };
    AgentConfig::builder()
        .distributions(d(SOURCE, west))
        .distributions(d(REPLICA, east))
        .build()
        .unwrap()
}

/// Puts the four users in the default group and splits agents `west`/`east`.
async fn split_agents(emu: &Emulator, west: i32, east: i32) {
    let c = emu.client(SOURCE);
    let groups = c
        .list_traffic_distribution_groups()
        .instance_id(INSTANCE_ID)
        .send()
        .await
        .unwrap();
    let id = groups.traffic_distribution_group_summary_list()[0]
        .id()
        .unwrap()
        .to_string();
    for u in USERS {
        c.associate_traffic_distribution_group_user()
            .traffic_distribution_group_id(&id)
            .user_id(user_id(u))
            .instance_id(INSTANCE_ID)
            .send()
            .await
            .unwrap();
    }
    c.update_traffic_distribution()
        .id(&id)
        .agent_config(dist(west, east))
        .send()
        .await
        .unwrap();
    emu.advance(2.0);
}

async fn queue_ids(emu: &Emulator, region: &str) -> Vec<(String, Option<String>)> {
    let out = emu
        .client(region)
        .list_queues()
        .instance_id(INSTANCE_ID)
        .queue_types(QueueType::Standard)
        .send()
        .await
        .unwrap();
    out.queue_summary_list()
        .iter()
        .map(|q| (q.id().unwrap().to_string(), q.name().map(str::to_string)))
        .collect()
}

async fn basic_queue(emu: &Emulator) -> String {
    queue_ids(emu, SOURCE)
        .await
        .into_iter()
        .find(|(_, n)| n.as_deref() == Some("Basic Queue"))
        .expect("Basic Queue")
        .0
}

/// One metric on the Basic Queue, grouped by queue, as `region` reports it.
async fn metric(emu: &Emulator, region: &str, name: CurrentMetricName) -> f64 {
    let q = basic_queue(emu).await;
    let out = emu
        .client(region)
        .get_current_metric_data()
        .instance_id(INSTANCE_ID)
        .filters(
            Filters::builder()
                .queues(&q)
                .channels(Channel::Voice)
                .build(),
        )
        .groupings(Grouping::Queue)
        .current_metrics(
            CurrentMetric::builder()
                .name(name)
                .unit(Unit::Count)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let r = &out.metric_results()[0];
    assert_eq!(
        r.dimensions().unwrap().queue().unwrap().id(),
        Some(q.as_str())
    );
    r.collections()[0].value().expect("a value")
}

fn presence(emu: &Emulator, body: &str) -> (u16, String) {
    let (s, _, t) = emu.http(
        "POST",
        "/_emulator/presence",
        &[("content-type", "application/json")],
        body,
    );
    (s, t)
}

#[tokio::test]
async fn list_queues_has_a_standard_queue_per_routing_profile_and_an_agent_queue_per_user() {
    let (emu, _dir) = start(true);
    let standard = queue_ids(&emu, REPLICA).await;
    let mut names: Vec<String> = standard.iter().filter_map(|(_, n)| n.clone()).collect();
    names.sort();
    assert_eq!(names, ["Basic Queue", "Sales Queue"]);
    let all = emu
        .client(SOURCE)
        .list_queues()
        .instance_id(INSTANCE_ID)
        .max_results(3)
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .unwrap();
    let agent = all
        .iter()
        .filter(|q| q.queue_type() == Some(&QueueType::Agent))
        .count();
    assert_eq!((all.len(), agent), (2 + USERS.len(), USERS.len()));
    assert_eq!(
        queue_ids(&emu, SOURCE).await,
        standard,
        "queues are mirrored"
    );
}

#[tokio::test]
async fn without_global_routing_each_region_counts_the_agents_its_distribution_gives_it() {
    let (emu, _dir) = start(false);
    assert_eq!(
        metric(&emu, SOURCE, CurrentMetricName::AgentsAvailable).await,
        4.0
    );
    assert_eq!(
        metric(&emu, REPLICA, CurrentMetricName::AgentsAvailable).await,
        0.0
    );
    split_agents(&emu, 50, 50).await;
    assert_eq!(
        metric(&emu, REPLICA, CurrentMetricName::AgentsAvailable).await,
        2.0
    );
    assert_eq!(
        metric(&emu, SOURCE, CurrentMetricName::AgentsAvailable).await,
        2.0
    );
}

#[tokio::test]
async fn with_global_routing_both_regions_report_one_combined_view() {
    let (emu, _dir) = start(true);
    split_agents(&emu, 50, 50).await;
    let (s, t) = presence(&emu, r#"{"region":"us-east-1","availableFraction":0.5}"#);
    assert_eq!(s, 200, "{t}");
    for r in [SOURCE, REPLICA] {
        assert_eq!(
            metric(&emu, r, CurrentMetricName::AgentsAvailable).await,
            3.0,
            "{r}"
        );
    }
}

#[tokio::test]
async fn presence_takes_agents_offline_or_on_contact_in_one_region() {
    let (emu, _dir) = start(false);
    split_agents(&emu, 0, 100).await;
    presence(
        &emu,
        r#"{"region":"us-east-1","availableFraction":0.25,"onContactFraction":0.5}"#,
    );
    assert_eq!(
        metric(&emu, REPLICA, CurrentMetricName::AgentsAvailable).await,
        1.0
    );
    assert_eq!(
        metric(&emu, REPLICA, CurrentMetricName::AgentsOnContact).await,
        2.0
    );
    assert_eq!(
        metric(&emu, REPLICA, CurrentMetricName::AgentsOnline).await,
        3.0
    );
    presence(&emu, r#"{"region":"us-east-1","availableFraction":0}"#);
    assert_eq!(
        metric(&emu, REPLICA, CurrentMetricName::AgentsAvailable).await,
        0.0
    );
}

#[tokio::test]
async fn contacts_in_queue_and_oldest_age_come_from_presence_in_seconds_when_grouped_and_milliseconds_when_not()
 {
    let (emu, _dir) = start(false);
    presence(
        &emu,
        r#"{"region":"us-west-2","contactsInQueue":3,"oldestContactAgeSeconds":42}"#,
    );
    assert_eq!(
        metric(&emu, SOURCE, CurrentMetricName::ContactsInQueue).await,
        3.0
    );
    assert_eq!(
        metric(&emu, SOURCE, CurrentMetricName::OldestContactAge).await,
        42.0
    );
    assert_eq!(
        metric(&emu, REPLICA, CurrentMetricName::ContactsInQueue).await,
        0.0
    );
    let q = basic_queue(&emu).await;
    let out = emu
        .client(SOURCE)
        .get_current_metric_data()
        .instance_id(INSTANCE_ID)
        .filters(Filters::builder().queues(&q).build())
        .current_metrics(
            CurrentMetric::builder()
                .name(CurrentMetricName::OldestContactAge)
                .unit(Unit::Seconds)
                .build(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(
        out.metric_results()[0].collections()[0].value(),
        Some(42000.0)
    );
    assert_eq!(out.approximate_total_count(), Some(1));
    assert!(out.data_snapshot_time().is_some());
}

fn code<E: ProvideErrorMetadata>(
    e: &aws_sdk_connect::error::SdkError<E, aws_sdk_connect::config::http::HttpResponse>,
) -> String {
    e.as_service_error()
        .and_then(|s| s.code())
        .unwrap_or("not a service error")
        .to_string()
}

#[tokio::test]
async fn get_current_metric_data_rejects_what_connect_rejects() {
    let (emu, _dir) = start(true);
    let c = emu.client(SOURCE);
    let q = basic_queue(&emu).await;
    let avail = || {
        CurrentMetric::builder()
            .name(CurrentMetricName::AgentsAvailable)
            .build()
    };
    let e = c
        .get_current_metric_data()
        .instance_id(INSTANCE_ID)
        .current_metrics(avail())
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "InvalidParameterException", "Filters is required");
    let e = c
        .get_current_metric_data()
        .instance_id(INSTANCE_ID)
        .filters(
            Filters::builder()
                .queues(&q)
                .routing_profiles(routing_profile_id("Basic Routing Profile"))
                .build(),
        )
        .current_metrics(avail())
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        code(&e),
        "InvalidRequestException",
        "queues or routing profiles"
    );
    let e = c
        .get_current_metric_data()
        .instance_id(INSTANCE_ID)
        .filters(Filters::builder().queues(&q).build())
        .current_metrics(avail())
        .max_results(101)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "InvalidParameterException", "MaxResults 1-100");
    let e = c
        .get_current_metric_data()
        .instance_id(INSTANCE_ID)
        .filters(Filters::builder().queues(&q).build())
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        code(&e),
        "InvalidParameterException",
        "CurrentMetrics is required"
    );
    let e = c
        .get_current_metric_data()
        .instance_id("00000000-0000-4000-8000-000000000000")
        .filters(Filters::builder().queues(&q).build())
        .current_metrics(avail())
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "ResourceNotFoundException");
    let (s, _) = presence(&emu, r#"{"region":"us-east-1","availableFraction":1.5}"#);
    assert_eq!(s, 400);
}

#[tokio::test]
async fn routing_profile_filters_and_groupings_count_the_profiles_agents() {
    let (emu, _dir) = start(true);
    let basic = routing_profile_id("Basic Routing Profile");
    let out = emu
        .client(REPLICA)
        .get_current_metric_data()
        .instance_id(INSTANCE_ID)
        .filters(Filters::builder().routing_profiles(&basic).build())
        .groupings(Grouping::RoutingProfile)
        .current_metrics(
            CurrentMetric::builder()
                .name(CurrentMetricName::AgentsOnline)
                .unit(Unit::Count)
                .build(),
        )
        .current_metrics(
            CurrentMetric::builder()
                .name(CurrentMetricName::ContactsInQueue)
                .unit(Unit::Count)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let r = &out.metric_results()[0];
    assert_eq!(
        r.dimensions().unwrap().routing_profile().unwrap().id(),
        Some(basic.as_str())
    );
    assert_eq!(r.collections()[0].value(), Some(4.0));
    assert_eq!(r.collections().len(), 2, "every requested metric is there");
}
