//! Integration suite: the unmodified `aws-sdk-connect` client against `connect-gr emulator`
//! over HTTP. One test per rule id of connect-gr-spec.md (named after it) plus wire behaviour.

use aws_sdk_connect::error::ProvideErrorMetadata;
use aws_sdk_connect::types::{
    AgentConfig, Distribution, SignInConfig, SignInDistribution, TelephonyConfig,
};
use serde_json::json;

use crate::support::emulator::*;

fn code<E: ProvideErrorMetadata + std::fmt::Debug>(
    e: &aws_sdk_connect::error::SdkError<E, aws_sdk_connect::config::http::HttpResponse>,
) -> String {
    e.as_service_error()
        .and_then(|s| s.code())
        .unwrap_or_else(|| panic!("not a service error: {e:?}"))
        .to_string()
}

fn dist(a: (&str, i32), b: (&str, i32)) -> Vec<Distribution> {
    [a, b]
        .iter()
        .map(|(r, p)| {
            Distribution::builder()
                .region(*r)
                .percentage(*p)
                .build()
                .unwrap()
        })
        .collect()
}

fn sign_in(west: bool, east: bool) -> SignInConfig {
    SignInConfig::builder()
        .set_distributions(Some(vec![
            SignInDistribution::builder()
                .region(SOURCE)
                .enabled(west)
                .build()
                .unwrap(),
            SignInDistribution::builder()
                .region(REPLICA)
                .enabled(east)
                .build()
                .unwrap(),
        ]))
        .build()
        .unwrap()
}

/// Replicates the default instance to us-east-1 and waits (virtual clock) for completion.
/// Returns the default TDG's (id, arn).
async fn replicated(emu: &Emulator) -> (String, String) {
    let west = emu.client(SOURCE);
    west.replicate_instance()
        .instance_id(INSTANCE_ID)
        .replica_region(REPLICA)
        .replica_alias("support-center-east")
        .send()
        .await
        .expect("replicate");
    emu.advance(5.0);
    let list = west
        .list_traffic_distribution_groups()
        .instance_id(INSTANCE_ID)
        .send()
        .await
        .unwrap();
    let g = list
        .traffic_distribution_group_summary_list()
        .iter()
        .find(|g| g.is_default())
        .expect("default tdg");
    (g.id().unwrap().to_string(), g.arn().unwrap().to_string())
}

async fn create_group(emu: &Emulator, name: &str) -> (String, String) {
    let west = emu.client(SOURCE);
    let out = west
        .create_traffic_distribution_group()
        .name(name)
        .instance_id(INSTANCE_ID)
        .send()
        .await
        .expect("create tdg");
    emu.advance(2.0);
    (
        out.id().unwrap().to_string(),
        out.arn().unwrap().to_string(),
    )
}

#[tokio::test]
async fn describe_instance_default_state_and_sigv4_region() {
    let emu = Emulator::start();
    let west = emu.client(SOURCE);
    let out = west
        .describe_instance()
        .instance_id(INSTANCE_ID)
        .send()
        .await
        .unwrap();
    let i = out.instance().unwrap();
    assert_eq!(i.instance_alias(), Some("support-center"));
    assert_eq!(i.instance_status().unwrap().as_str(), "ACTIVE");
    assert_eq!(i.identity_management_type().unwrap().as_str(), "SAML");
    assert!(
        i.arn()
            .unwrap()
            .contains(":us-west-2:123456789012:instance/")
    );
    assert!(out.replication_configuration().is_none());
    // not in us-east-1 before replication
    let east = emu.client(REPLICA);
    let e = east
        .describe_instance()
        .instance_id(INSTANCE_ID)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "ResourceNotFoundException");
    // no SigV4 -> AccessDeniedException 403 with the AWS error shape
    let (status, headers, body) = emu.http("GET", &format!("/instance/{INSTANCE_ID}"), &[], "");
    assert_eq!(status, 403);
    assert!(
        headers
            .iter()
            .any(|(k, v)| k == "x-amzn-errortype" && v == "AccessDeniedException")
    );
    assert!(headers.iter().any(|(k, _)| k == "x-amzn-requestid"));
    assert!(body.contains("\"Message\""));
}

#[tokio::test]
async fn r1_replication_only_between_paired_regions() {
    let emu = Emulator::start();
    let west = emu.client(SOURCE);
    let e = west
        .replicate_instance()
        .instance_id(INSTANCE_ID)
        .replica_region("eu-west-2")
        .replica_alias("x")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "InvalidRequestException");
    assert!(
        e.as_service_error()
            .unwrap()
            .message()
            .unwrap()
            .contains("paired")
    );
}

#[tokio::test]
async fn r2_replicate_instance_preconditions() {
    let emu = Emulator::start();
    let west = emu.client(SOURCE);
    let same = west
        .replicate_instance()
        .instance_id(INSTANCE_ID)
        .replica_region(SOURCE)
        .replica_alias("x")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&same), "InvalidRequestException");
    west.replicate_instance()
        .instance_id(INSTANCE_ID)
        .replica_region(REPLICA)
        .replica_alias("east")
        .send()
        .await
        .unwrap();
    let again = west
        .replicate_instance()
        .instance_id(INSTANCE_ID)
        .replica_region(REPLICA)
        .replica_alias("east2")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&again), "InvalidRequestException");
    assert!(
        again
            .as_service_error()
            .unwrap()
            .message()
            .unwrap()
            .contains("already replicated")
    );
}

#[tokio::test]
async fn r2_conflict_no_alias_not_saml_not_active() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.yaml");
    let id = |n: u8| format!("00000000-0000-4000-8000-0000000000{n:02}");
    std::fs::write(
        &path,
        format!(
            "accounts: [{{id: '123456789012'}}]\ninstances:\n  - {{id: {}, region: us-west-2, alias: a1}}\n  - {{id: {}, region: us-west-2}}\n  - {{id: {}, region: us-west-2, alias: a3, identityManagementType: CONNECT_MANAGED}}\n  - {{id: {}, region: us-west-2, alias: a4, status: CREATION_IN_PROGRESS}}\n  - {{id: {}, region: us-east-1, alias: taken}}\n",
            id(1), id(2), id(3), id(4), id(5)
        ),
    )
    .unwrap();
    let emu = Emulator::start_with(&["--quotas", "off", "--state", path.to_str().unwrap()]);
    let west = emu.client(SOURCE);
    let rep = |i: String, alias: &'static str| {
        let west = west.clone();
        async move {
            west.replicate_instance()
                .instance_id(i)
                .replica_region(REPLICA)
                .replica_alias(alias)
                .send()
                .await
        }
    };
    for n in [2, 3, 4] {
        let e = rep(id(n), "fresh").await.unwrap_err();
        assert_eq!(code(&e), "InvalidRequestException", "instance {n}");
    }
    let e = rep(id(1), "taken").await.unwrap_err();
    assert_eq!(code(&e), "ResourceConflictException");
    assert!(
        e.as_service_error()
            .unwrap()
            .message()
            .unwrap()
            .contains("taken")
    );
    // resolving the conflict and calling again resumes
    rep(id(1), "free").await.unwrap();
}

#[tokio::test]
async fn r3_replica_same_id_async_status() {
    let emu = Emulator::start();
    let west = emu.client(SOURCE);
    let out = west
        .replicate_instance()
        .instance_id(INSTANCE_ID)
        .replica_region(REPLICA)
        .replica_alias("east")
        .send()
        .await
        .unwrap();
    assert_eq!(out.id(), Some(INSTANCE_ID));
    assert!(out.arn().unwrap().contains(":us-east-1:"));
    let d = west
        .describe_instance()
        .instance_id(INSTANCE_ID)
        .send()
        .await
        .unwrap();
    let rc = d.replication_configuration().unwrap();
    assert_eq!(rc.source_region(), Some(SOURCE));
    assert!(rc.global_sign_in_endpoint().is_some());
    let statuses: Vec<&str> = rc
        .replication_status_summary_list()
        .iter()
        .map(|s| s.replication_status().unwrap().as_str())
        .collect();
    assert!(
        statuses
            .iter()
            .all(|s| *s == "INSTANCE_REPLICATION_IN_PROGRESS"),
        "{statuses:?}"
    );
    emu.advance(3.0);
    let d = emu
        .client(REPLICA)
        .describe_instance()
        .instance_id(INSTANCE_ID)
        .send()
        .await
        .unwrap();
    assert!(d.instance().unwrap().arn().unwrap().contains(":us-east-1:"));
    let rc = d.replication_configuration().unwrap();
    assert!(
        rc.replication_status_summary_list().iter().all(|s| s
            .replication_status()
            .unwrap()
            .as_str()
            == "INSTANCE_REPLICATION_COMPLETE")
    );
}

#[tokio::test]
async fn r4_users_mirrored_lambdas_not() {
    let emu = Emulator::start();
    replicated(&emu).await;
    let east = emu.client(REPLICA);
    let users = east
        .list_users()
        .instance_id(INSTANCE_ID)
        .max_results(1000)
        .send()
        .await
        .unwrap();
    assert_eq!(users.user_summary_list().len(), 304);
    let west = emu.client(SOURCE);
    west.associate_lambda_function()
        .instance_id(INSTANCE_ID)
        .function_arn("arn:aws:lambda:us-west-2:123456789012:function:denylist-check")
        .send()
        .await
        .unwrap();
    let e = west
        .associate_lambda_function()
        .instance_id(INSTANCE_ID)
        .function_arn("arn:aws:lambda:us-east-1:123456789012:function:denylist-check")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "InvalidParameterException");
    let dup = west
        .associate_lambda_function()
        .instance_id(INSTANCE_ID)
        .function_arn("arn:aws:lambda:us-west-2:123456789012:function:denylist-check")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&dup), "ResourceConflictException");
    let in_east = east
        .list_lambda_functions()
        .instance_id(INSTANCE_ID)
        .send()
        .await
        .unwrap();
    assert!(in_east.lambda_functions().is_empty());
    let in_west = west
        .list_lambda_functions()
        .instance_id(INSTANCE_ID)
        .send()
        .await
        .unwrap();
    assert_eq!(in_west.lambda_functions().len(), 1);
}

#[tokio::test]
async fn r5_default_group_takes_unassigned_numbers() {
    let emu = Emulator::start();
    let (_, arn) = replicated(&emu).await;
    let west = emu.client(SOURCE);
    let nums = west
        .list_phone_numbers_v2()
        .target_arn(&arn)
        .send()
        .await
        .unwrap();
    assert_eq!(nums.list_phone_numbers_summary_list().len(), 4);
    let g = west
        .describe_traffic_distribution_group()
        .traffic_distribution_group_id(&arn)
        .send()
        .await
        .unwrap();
    let g = g.traffic_distribution_group().unwrap();
    assert!(g.is_default());
    assert_eq!(g.status().unwrap().as_str(), "ACTIVE");
}

#[tokio::test]
async fn r6_no_api_to_delete_replica_or_default_group() {
    let emu = Emulator::start();
    let (id, _) = replicated(&emu).await;
    let e = emu
        .client(SOURCE)
        .delete_traffic_distribution_group()
        .traffic_distribution_group_id(&id)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "InvalidRequestException");
}

#[tokio::test]
async fn r7_source_region_rediscovered_from_list() {
    let emu = Emulator::start();
    replicated(&emu).await;
    let east = emu.client(REPLICA);
    let l = east
        .list_traffic_distribution_groups()
        .send()
        .await
        .unwrap();
    let g = &l.traffic_distribution_group_summary_list()[0];
    assert!(g.instance_arn().unwrap().contains(":us-west-2:"));
}

#[tokio::test]
async fn g1_create_tdg_only_in_source_after_replication() {
    let emu = Emulator::start();
    let west = emu.client(SOURCE);
    let e = west
        .create_traffic_distribution_group()
        .name("g")
        .instance_id(INSTANCE_ID)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "InvalidRequestException");
    west.replicate_instance()
        .instance_id(INSTANCE_ID)
        .replica_region(REPLICA)
        .replica_alias("east")
        .send()
        .await
        .unwrap();
    let e = west
        .create_traffic_distribution_group()
        .name("g")
        .instance_id(INSTANCE_ID)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "ResourceNotReadyException");
    emu.advance(3.0);
    let e = emu
        .client(REPLICA)
        .create_traffic_distribution_group()
        .name("g")
        .instance_id(INSTANCE_ID)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "InvalidRequestException");
    west.create_traffic_distribution_group()
        .name("g")
        .instance_id(INSTANCE_ID)
        .send()
        .await
        .unwrap();
    let dup = west
        .create_traffic_distribution_group()
        .name("g")
        .instance_id(INSTANCE_ID)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&dup), "ResourceConflictException");
}

#[tokio::test]
async fn g2_tdg_status_lifecycle() {
    let emu = Emulator::start();
    replicated(&emu).await;
    let west = emu.client(SOURCE);
    let out = west
        .create_traffic_distribution_group()
        .name("g2")
        .instance_id(INSTANCE_ID)
        .send()
        .await
        .unwrap();
    let id = out.id().unwrap();
    let st = |s: &str| s.to_string();
    let status = || async {
        west.describe_traffic_distribution_group()
            .traffic_distribution_group_id(id)
            .send()
            .await
            .unwrap()
            .traffic_distribution_group()
            .unwrap()
            .status()
            .unwrap()
            .as_str()
            .to_string()
    };
    assert_eq!(status().await, st("CREATION_IN_PROGRESS"));
    let e = west
        .get_traffic_distribution()
        .id(id)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "InvalidRequestException");
    emu.advance(2.0);
    assert_eq!(status().await, "ACTIVE");
    west.update_traffic_distribution()
        .id(id)
        .telephony_config(
            TelephonyConfig::builder()
                .set_distributions(Some(dist((SOURCE, 50), (REPLICA, 50))))
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(status().await, "UPDATE_IN_PROGRESS");
    emu.advance(2.0);
    assert_eq!(status().await, "ACTIVE");
    west.delete_traffic_distribution_group()
        .traffic_distribution_group_id(id)
        .send()
        .await
        .unwrap();
    assert_eq!(status().await, "PENDING_DELETION");
    emu.advance(2.0);
    let e = west
        .describe_traffic_distribution_group()
        .traffic_distribution_group_id(id)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "ResourceNotFoundException");
}

#[tokio::test]
async fn g3_replica_region_needs_arn() {
    let emu = Emulator::start();
    let (id, arn) = replicated(&emu).await;
    let east = emu.client(REPLICA);
    let e = east
        .describe_traffic_distribution_group()
        .traffic_distribution_group_id(&id)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "ResourceNotFoundException");
    east.describe_traffic_distribution_group()
        .traffic_distribution_group_id(&arn)
        .send()
        .await
        .unwrap();
    east.get_traffic_distribution()
        .id(&arn)
        .send()
        .await
        .unwrap();
    emu.client(SOURCE)
        .get_traffic_distribution()
        .id(&id)
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn g4_sign_in_only_on_default_group() {
    let emu = Emulator::start();
    let (default_id, _) = replicated(&emu).await;
    let (id, _) = create_group(&emu, "custom").await;
    let west = emu.client(SOURCE);
    let e = west
        .update_traffic_distribution()
        .id(&id)
        .sign_in_config(sign_in(true, true))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "InvalidRequestException");
    west.update_traffic_distribution()
        .id(&default_id)
        .sign_in_config(sign_in(true, true))
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn g5_delete_rules() {
    let emu = Emulator::start();
    replicated(&emu).await;
    let (id, arn) = create_group(&emu, "numbers").await;
    let west = emu.client(SOURCE);
    let claim = west
        .claim_phone_number()
        .phone_number("+14255550199")
        .target_arn(&arn)
        .send()
        .await
        .unwrap();
    emu.advance(2.0);
    let e = emu
        .client(REPLICA)
        .delete_traffic_distribution_group()
        .traffic_distribution_group_id(&arn)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "InvalidRequestException");
    let e = west
        .delete_traffic_distribution_group()
        .traffic_distribution_group_id(&id)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "ResourceInUseException");
    west.release_phone_number()
        .phone_number_id(claim.phone_number_id().unwrap())
        .send()
        .await
        .unwrap();
    west.delete_traffic_distribution_group()
        .traffic_distribution_group_id(&id)
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn g6_numbers_claimed_in_source_region() {
    let emu = Emulator::start();
    replicated(&emu).await;
    let (_, arn) = create_group(&emu, "phones").await;
    let east = emu.client(REPLICA);
    let e = east
        .claim_phone_number()
        .phone_number("+14255550198")
        .target_arn(&arn)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "InvalidParameterException");
    let west = emu.client(SOURCE);
    let c = west
        .claim_phone_number()
        .phone_number("+14255550198")
        .target_arn(&arn)
        .send()
        .await
        .unwrap();
    let pid = c.phone_number_id().unwrap();
    let d = west
        .describe_phone_number()
        .phone_number_id(pid)
        .send()
        .await
        .unwrap();
    assert_eq!(
        d.claimed_phone_number_summary()
            .unwrap()
            .phone_number_status()
            .unwrap()
            .status()
            .unwrap()
            .as_str(),
        "IN_PROGRESS"
    );
    emu.advance(2.0);
    let d = west
        .describe_phone_number()
        .phone_number_id(pid)
        .send()
        .await
        .unwrap();
    assert_eq!(
        d.claimed_phone_number_summary()
            .unwrap()
            .phone_number_status()
            .unwrap()
            .status()
            .unwrap()
            .as_str(),
        "CLAIMED"
    );
    // from the replica region: ARN only
    let parn = c.phone_number_arn().unwrap();
    assert_eq!(
        code(
            &east
                .describe_phone_number()
                .phone_number_id(pid)
                .send()
                .await
                .unwrap_err()
        ),
        "ResourceNotFoundException"
    );
    east.describe_phone_number()
        .phone_number_id(parn)
        .send()
        .await
        .unwrap();
    // a number claimed in the replica region cannot join the source group
    let inst_arn = format!("arn:aws:connect:us-east-1:{ACCOUNT}:instance/{INSTANCE_ID}");
    let r = east
        .claim_phone_number()
        .phone_number("+12065550100")
        .target_arn(&inst_arn)
        .send()
        .await
        .unwrap();
    emu.advance(2.0);
    let e = east
        .update_phone_number()
        .phone_number_id(r.phone_number_id().unwrap())
        .target_arn(&arn)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "InvalidParameterException");
}

#[tokio::test]
async fn d1_update_needs_existing_active_group() {
    let emu = Emulator::start();
    replicated(&emu).await;
    let west = emu.client(SOURCE);
    let e = west
        .update_traffic_distribution()
        .id("00000000-0000-4000-8000-000000000000")
        .agent_config(
            AgentConfig::builder()
                .set_distributions(Some(dist((SOURCE, 50), (REPLICA, 50))))
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "InvalidRequestException");
    let out = west
        .create_traffic_distribution_group()
        .name("d1")
        .instance_id(INSTANCE_ID)
        .send()
        .await
        .unwrap();
    let e = west
        .update_traffic_distribution()
        .id(out.id().unwrap())
        .agent_config(
            AgentConfig::builder()
                .set_distributions(Some(dist((SOURCE, 50), (REPLICA, 50))))
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "InvalidRequestException");
}

#[tokio::test]
async fn d2_percentages_multiples_of_ten_sum_100_parts_optional() {
    let emu = Emulator::start();
    let (id, _) = replicated(&emu).await;
    let west = emu.client(SOURCE);
    let tel = |a, b| {
        TelephonyConfig::builder()
            .set_distributions(Some(dist((SOURCE, a), (REPLICA, b))))
            .build()
            .unwrap()
    };
    for (a, b) in [(55, 45), (60, 60), (100, 10)] {
        let e = west
            .update_traffic_distribution()
            .id(&id)
            .telephony_config(tel(a, b))
            .send()
            .await
            .unwrap_err();
        assert_eq!(code(&e), "InvalidRequestException", "{a}/{b}");
    }
    let one = TelephonyConfig::builder()
        .set_distributions(Some(vec![
            Distribution::builder()
                .region(SOURCE)
                .percentage(100)
                .build()
                .unwrap(),
        ]))
        .build()
        .unwrap();
    assert_eq!(
        code(
            &west
                .update_traffic_distribution()
                .id(&id)
                .telephony_config(one)
                .send()
                .await
                .unwrap_err()
        ),
        "InvalidRequestException"
    );
    west.update_traffic_distribution()
        .id(&id)
        .telephony_config(tel(60, 40))
        .send()
        .await
        .unwrap();
    emu.advance(2.0);
    west.update_traffic_distribution()
        .id(&id)
        .agent_config(
            AgentConfig::builder()
                .set_distributions(Some(dist((SOURCE, 70), (REPLICA, 30))))
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    emu.advance(2.0);
    let g = west
        .get_traffic_distribution()
        .id(&id)
        .send()
        .await
        .unwrap();
    let pct = |d: &[Distribution]| {
        d.iter()
            .map(|x| (x.region().to_string(), x.percentage()))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        pct(g.telephony_config().unwrap().distributions()),
        vec![(SOURCE.to_string(), 60), (REPLICA.to_string(), 40)]
    );
    assert_eq!(
        pct(g.agent_config().unwrap().distributions()),
        vec![(SOURCE.to_string(), 70), (REPLICA.to_string(), 30)]
    );
}

#[tokio::test]
async fn d3_sign_in_at_least_one_enabled() {
    let emu = Emulator::start();
    let (id, _) = replicated(&emu).await;
    let west = emu.client(SOURCE);
    let e = west
        .update_traffic_distribution()
        .id(&id)
        .sign_in_config(sign_in(false, false))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "InvalidRequestException");
    west.update_traffic_distribution()
        .id(&id)
        .sign_in_config(sign_in(false, true))
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn d4_agent_distribution_in_ten_percent_steps() {
    let emu = Emulator::start();
    let (id, _) = replicated(&emu).await;
    let west = emu.client(SOURCE);
    let e = west
        .update_traffic_distribution()
        .id(&id)
        .agent_config(
            AgentConfig::builder()
                .set_distributions(Some(dist((SOURCE, 95), (REPLICA, 5))))
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "InvalidRequestException");
}

#[tokio::test]
async fn d5_full_failover_from_replica_region_by_arn() {
    let emu = Emulator::start();
    let (_, arn) = replicated(&emu).await;
    let east = emu.client(REPLICA);
    east.update_traffic_distribution()
        .id(&arn)
        .sign_in_config(sign_in(false, true))
        .agent_config(
            AgentConfig::builder()
                .set_distributions(Some(dist((SOURCE, 0), (REPLICA, 100))))
                .build()
                .unwrap(),
        )
        .telephony_config(
            TelephonyConfig::builder()
                .set_distributions(Some(dist((SOURCE, 0), (REPLICA, 100))))
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    emu.advance(2.0);
    let g = east
        .get_traffic_distribution()
        .id(&arn)
        .send()
        .await
        .unwrap();
    let t = g.telephony_config().unwrap().distributions();
    assert!(
        t.iter()
            .any(|d| d.region() == REPLICA && d.percentage() == 100)
    );
    let s = g.sign_in_config().unwrap().distributions();
    assert!(s.iter().any(|d| d.region() == SOURCE && !d.enabled()));
}

#[tokio::test]
async fn a1_associate_only_in_source_region() {
    let emu = Emulator::start();
    let (_, arn) = replicated(&emu).await;
    let e = emu
        .client(REPLICA)
        .associate_traffic_distribution_group_user()
        .traffic_distribution_group_id(&arn)
        .user_id(user_id("alice"))
        .instance_id(INSTANCE_ID)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "InvalidRequestException");
    emu.client(SOURCE)
        .associate_traffic_distribution_group_user()
        .traffic_distribution_group_id(&arn)
        .user_id(user_id("alice"))
        .instance_id(INSTANCE_ID)
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn a2_associate_not_found_cases_and_mirroring() {
    let emu = Emulator::start();
    let (id, _) = replicated(&emu).await;
    let west = emu.client(SOURCE);
    let assoc = |g: String, u: String| {
        let west = west.clone();
        async move {
            west.associate_traffic_distribution_group_user()
                .traffic_distribution_group_id(g)
                .user_id(u)
                .instance_id(INSTANCE_ID)
                .send()
                .await
        }
    };
    let e = assoc(
        "00000000-0000-4000-8000-000000000000".into(),
        user_id("alice"),
    )
    .await
    .unwrap_err();
    assert_eq!(code(&e), "ResourceNotFoundException");
    let e = assoc(id.clone(), "00000000-0000-4000-8000-000000000000".into())
        .await
        .unwrap_err();
    assert_eq!(code(&e), "ResourceNotFoundException");
    let fresh = west
        .create_traffic_distribution_group()
        .name("fresh")
        .instance_id(INSTANCE_ID)
        .send()
        .await
        .unwrap();
    let e = assoc(fresh.id().unwrap().into(), user_id("alice"))
        .await
        .unwrap_err();
    assert_eq!(code(&e), "ResourceNotFoundException");
    // a brand-new user must first be mirrored
    let out = west
        .create_user()
        .instance_id(INSTANCE_ID)
        .username("newbie")
        .security_profile_ids("sp")
        .routing_profile_id(routing_profile_id("Basic Routing Profile"))
        .send()
        .await
        .unwrap();
    let e = assoc(id.clone(), out.user_id().unwrap().into())
        .await
        .unwrap_err();
    assert_eq!(code(&e), "ResourceNotFoundException");
    assert!(
        e.as_service_error()
            .unwrap()
            .message()
            .unwrap()
            .contains("replicated")
    );
    emu.advance(3.0);
    assoc(id.clone(), out.user_id().unwrap().into())
        .await
        .unwrap();
    // idempotent re-association, user in several groups
    assoc(id.clone(), user_id("bob")).await.unwrap();
    assoc(id.clone(), user_id("bob")).await.unwrap();
    emu.advance(2.0);
    assoc(fresh.id().unwrap().into(), user_id("bob"))
        .await
        .unwrap();
}

#[tokio::test]
async fn a3_disassociate_uses_query_parameters() {
    let emu = Emulator::start();
    let (id, _) = replicated(&emu).await;
    let west = emu.client(SOURCE);
    west.associate_traffic_distribution_group_user()
        .traffic_distribution_group_id(&id)
        .user_id(user_id("carol"))
        .instance_id(INSTANCE_ID)
        .send()
        .await
        .unwrap();
    west.disassociate_traffic_distribution_group_user()
        .traffic_distribution_group_id(&id)
        .user_id(user_id("carol"))
        .instance_id(INSTANCE_ID)
        .send()
        .await
        .unwrap();
    // non-member: 200
    west.disassociate_traffic_distribution_group_user()
        .traffic_distribution_group_id(&id)
        .user_id(user_id("carol"))
        .instance_id(INSTANCE_ID)
        .send()
        .await
        .unwrap();
    // the path form of seed 003 is not an operation
    let (status, headers, _) = emu.http(
        "DELETE",
        &format!("/traffic-distribution-group/{id}/user/{}", user_id("carol")),
        &[("authorization", SIGV4_WEST)],
        "",
    );
    assert_eq!(status, 404);
    assert!(
        headers
            .iter()
            .any(|(k, v)| k == "x-amzn-errortype" && v == "UnknownOperationException")
    );
    let l = west
        .list_traffic_distribution_group_users()
        .traffic_distribution_group_id(&id)
        .send()
        .await
        .unwrap();
    assert!(l.traffic_distribution_group_user_summary_list().is_empty());
}

#[tokio::test]
async fn a4_page_sizes_and_pagination() {
    let emu = Emulator::start();
    let (id, _) = replicated(&emu).await;
    let west = emu.client(SOURCE);
    for i in 1..=25 {
        west.associate_traffic_distribution_group_user()
            .traffic_distribution_group_id(&id)
            .user_id(user_id(&format!("agent{i:03}")))
            .instance_id(INSTANCE_ID)
            .send()
            .await
            .unwrap();
    }
    let e = west
        .list_traffic_distribution_group_users()
        .traffic_distribution_group_id(&id)
        .max_results(11)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "InvalidRequestException");
    let pages: Vec<_> = west
        .list_traffic_distribution_group_users()
        .traffic_distribution_group_id(&id)
        .into_paginator()
        .send()
        .collect::<Vec<_>>()
        .await;
    assert_eq!(pages.len(), 3);
    let n: usize = pages
        .iter()
        .map(|p| {
            p.as_ref()
                .unwrap()
                .traffic_distribution_group_user_summary_list()
                .len()
        })
        .sum();
    assert_eq!(n, 25);
    let users: Vec<_> = west
        .list_users()
        .instance_id(INSTANCE_ID)
        .max_results(1000)
        .into_paginator()
        .items()
        .send()
        .collect::<Vec<_>>()
        .await;
    assert_eq!(users.len(), 304);
    let pages: Vec<_> = west
        .list_users()
        .instance_id(INSTANCE_ID)
        .max_results(100)
        .into_paginator()
        .send()
        .collect::<Vec<_>>()
        .await;
    assert_eq!(pages.len(), 4);
    assert_eq!(
        code(
            &west
                .list_users()
                .instance_id(INSTANCE_ID)
                .max_results(1001)
                .send()
                .await
                .unwrap_err()
        ),
        "InvalidParameterException"
    );
    // SearchUsers: selectors
    use aws_sdk_connect::types::*;
    let sales = routing_profile_id("Sales Routing Profile");
    let crit = UserSearchCriteria::builder()
        .string_condition(
            StringCondition::builder()
                .field_name("RoutingProfileId")
                .value(&sales)
                .comparison_type(StringComparisonType::Exact)
                .build(),
        )
        .build();
    let found: Vec<_> = west
        .search_users()
        .instance_id(INSTANCE_ID)
        .search_criteria(crit)
        .max_results(500)
        .into_paginator()
        .items()
        .send()
        .collect::<Vec<_>>()
        .await;
    assert_eq!(found.len(), 100);
    let tier1 = hierarchy_group_id("Tier 1");
    let crit = UserSearchCriteria::builder()
        .hierarchy_group_condition(
            HierarchyGroupCondition::builder()
                .value(&tier1)
                .hierarchy_group_match_type(HierarchyGroupMatchType::Exact)
                .build(),
        )
        .build();
    let out = west
        .search_users()
        .instance_id(INSTANCE_ID)
        .search_criteria(crit)
        .max_results(500)
        .send()
        .await
        .unwrap();
    assert_eq!(out.users().len(), 150);
    assert_eq!(out.approximate_total_count(), Some(150));
    let filter = UserSearchFilter::builder()
        .tag_filter(
            ControlPlaneTagFilter::builder()
                .tag_condition(
                    TagCondition::builder()
                        .tag_key("team")
                        .tag_value("support")
                        .build(),
                )
                .build(),
        )
        .build();
    let out = west
        .search_users()
        .instance_id(INSTANCE_ID)
        .search_filter(filter)
        .max_results(500)
        .send()
        .await
        .unwrap();
    assert_eq!(out.users().len(), 202);
    assert_eq!(
        code(
            &west
                .search_users()
                .instance_id(INSTANCE_ID)
                .max_results(501)
                .send()
                .await
                .unwrap_err()
        ),
        "InvalidParameterException"
    );
}

#[tokio::test]
async fn q1_throttling_and_sdk_retry() {
    let emu = Emulator::start_with(&["--quotas", "on"]);
    let raw = connect_client_no_retry(&emu.endpoint(), SOURCE);
    let mut throttled = 0;
    for _ in 0..8 {
        if let Err(e) = raw
            .describe_instance()
            .instance_id(INSTANCE_ID)
            .send()
            .await
        {
            assert_eq!(code(&e), "ThrottlingException");
            assert_eq!(e.raw_response().unwrap().status().as_u16(), 429);
            throttled += 1;
        }
    }
    assert!(
        throttled >= 2,
        "burst 5 must throttle 8 back-to-back calls, got {throttled}"
    );
    // ListUsers has its own, larger bucket
    for _ in 0..10 {
        raw.list_users()
            .instance_id(INSTANCE_ID)
            .send()
            .await
            .unwrap();
    }
    // the SDK retries throttling by itself (given enough attempts for the bucket to refill)
    let sdk = connect_client_with_attempts(&emu.endpoint(), SOURCE, 10);
    for _ in 0..4 {
        sdk.describe_instance()
            .instance_id(INSTANCE_ID)
            .send()
            .await
            .expect("retried");
    }
    assert!(
        emu.calls()
            .iter()
            .any(|c| c["errorType"] == "ThrottlingException")
    );
}

#[tokio::test]
async fn client_tokens_are_idempotent() {
    let emu = Emulator::start();
    let west = emu.client(SOURCE);
    let r1 = west
        .replicate_instance()
        .instance_id(INSTANCE_ID)
        .replica_region(REPLICA)
        .replica_alias("east")
        .client_token("tok-1")
        .send()
        .await
        .unwrap();
    let r2 = west
        .replicate_instance()
        .instance_id(INSTANCE_ID)
        .replica_region(REPLICA)
        .replica_alias("east")
        .client_token("tok-1")
        .send()
        .await
        .unwrap();
    assert_eq!(r1.arn(), r2.arn());
    emu.advance(3.0);
    let g1 = west
        .create_traffic_distribution_group()
        .name("idem")
        .instance_id(INSTANCE_ID)
        .client_token("tok-2")
        .send()
        .await
        .unwrap();
    let g2 = west
        .create_traffic_distribution_group()
        .name("idem")
        .instance_id(INSTANCE_ID)
        .client_token("tok-2")
        .send()
        .await
        .unwrap();
    assert_eq!(g1.id(), g2.id());
    let tok = "8e3a3b1c-1111-4222-8333-444455556666";
    let inst_arn = format!("arn:aws:connect:us-west-2:{ACCOUNT}:instance/{INSTANCE_ID}");
    let c1 = west
        .claim_phone_number()
        .phone_number("+14255550177")
        .target_arn(&inst_arn)
        .client_token(tok)
        .send()
        .await
        .unwrap();
    let c2 = west
        .claim_phone_number()
        .phone_number("+14255550177")
        .target_arn(&inst_arn)
        .client_token(tok)
        .send()
        .await
        .unwrap();
    assert_eq!(c1.phone_number_id(), c2.phone_number_id());
    let e = west
        .claim_phone_number()
        .phone_number("+14255550178")
        .target_arn(&inst_arn)
        .client_token(tok)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "IdempotencyException");
}

#[tokio::test]
async fn bad_input_gets_aws_error_shape_and_faults_and_reset() {
    let emu = Emulator::start();
    let auth = [
        ("authorization", SIGV4_WEST),
        ("content-type", "application/json"),
    ];
    let (s, h, b) = emu.http(
        "POST",
        &format!("/instance/{INSTANCE_ID}/replicate"),
        &auth,
        "{not json",
    );
    assert_eq!(s, 400);
    assert!(
        h.iter()
            .any(|(k, v)| k == "x-amzn-errortype" && v == "InvalidRequestException"),
        "{h:?}"
    );
    assert!(b.contains("Message"));
    let (s, _, _) = emu.http(
        "POST",
        &format!("/instance/{INSTANCE_ID}/replicate"),
        &auth,
        "{\"ReplicaRegion\": 7}",
    );
    assert_eq!(s, 400);
    let (s, _, _) = emu.http(
        "POST",
        &format!("/instance/{INSTANCE_ID}/replicate"),
        &auth,
        &format!(
            "{{\"ReplicaRegion\":\"us-east-1\",\"ReplicaAlias\":\"{}\"}}",
            "a".repeat(46)
        ),
    );
    assert_eq!(s, 400);
    let (s, _, _) = emu.http("PATCH", "/instance", &auth, "");
    assert_eq!(s, 405);
    let (s, h, _) = emu.http("GET", "/no/such/thing", &auth, "");
    assert_eq!(s, 404);
    assert!(h.iter().any(|(k, _)| k == "x-amzn-errortype"));
    // state untouched
    let st = emu.state();
    assert!(st["instances"][0]["replica"].is_null());
    // faults: injected errors, region outage, then cleared
    emu.fault(json!({"operation": "DescribeInstance", "errorType": "InternalServiceException", "count": 1}));
    let raw = connect_client_no_retry(&emu.endpoint(), SOURCE);
    let e = raw
        .describe_instance()
        .instance_id(INSTANCE_ID)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "InternalServiceException");
    raw.describe_instance()
        .instance_id(INSTANCE_ID)
        .send()
        .await
        .unwrap();
    emu.fault(json!({"region": "us-west-2", "regionDown": true}));
    let e = raw.list_instances().send().await.unwrap_err();
    assert_eq!(e.raw_response().unwrap().status().as_u16(), 503);
    emu.clear_faults();
    // the SDK retries a transient 500
    emu.fault(
        json!({"operation": "ListInstances", "errorType": "InternalServiceException", "count": 1}),
    );
    emu.client(SOURCE)
        .list_instances()
        .send()
        .await
        .expect("retried past one 500");
    let calls = emu.calls();
    assert!(calls.iter().all(|c| c.get("time").is_some()
        && c.get("operation").is_some()
        && c.get("status").is_some()));
    // reset: back to the start
    emu.client(SOURCE)
        .replicate_instance()
        .instance_id(INSTANCE_ID)
        .replica_region(REPLICA)
        .replica_alias("east")
        .send()
        .await
        .unwrap();
    emu.reset();
    assert!(emu.state()["instances"][0]["replica"].is_null());
    assert!(emu.calls().is_empty());
}

#[tokio::test]
async fn users_create_describe_delete_and_control_user() {
    let emu = Emulator::start();
    let west = emu.client(SOURCE);
    let d = west
        .describe_user()
        .instance_id(INSTANCE_ID)
        .user_id(user_id("alice"))
        .send()
        .await
        .unwrap();
    let u = d.user().unwrap();
    assert_eq!(u.username(), Some("alice"));
    assert_eq!(
        u.tags().unwrap().get("team").map(String::as_str),
        Some("support")
    );
    let dup = west
        .create_user()
        .instance_id(INSTANCE_ID)
        .username("alice")
        .security_profile_ids("sp")
        .routing_profile_id(routing_profile_id("Basic Routing Profile"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&dup), "DuplicateResourceException");
    let id = emu.create_user(json!({"username": "zed", "routingProfile": "Sales Routing Profile", "hierarchyGroup": "Tier 1", "tags": {"team": "x"}}));
    assert_eq!(id, user_id("zed"));
    west.delete_user()
        .instance_id(INSTANCE_ID)
        .user_id(&id)
        .send()
        .await
        .unwrap();
    assert_eq!(
        code(
            &west
                .describe_user()
                .instance_id(INSTANCE_ID)
                .user_id(&id)
                .send()
                .await
                .unwrap_err()
        ),
        "ResourceNotFoundException"
    );
    let rp = west
        .list_routing_profiles()
        .instance_id(INSTANCE_ID)
        .send()
        .await
        .unwrap();
    assert_eq!(rp.routing_profile_summary_list().len(), 2);
    let hg = west
        .list_user_hierarchy_groups()
        .instance_id(INSTANCE_ID)
        .send()
        .await
        .unwrap();
    assert_eq!(hg.user_hierarchy_group_summary_list().len(), 2);
    let li = west.list_instances().send().await.unwrap();
    assert_eq!(li.instance_summary_list().len(), 1);
    let nums = west
        .list_phone_numbers_v2()
        .instance_id(INSTANCE_ID)
        .send()
        .await
        .unwrap();
    assert_eq!(nums.list_phone_numbers_summary_list().len(), 4);
}

/// Python with botocore: the AWS CLI's venv under .tools, else the system python3.
fn botocore_python() -> Option<String> {
    let venv = concat!(env!("CARGO_MANIFEST_DIR"), "/.tools/venv/bin/python");
    [venv, "python3"].into_iter().map(str::to_string).find(|p| {
        std::process::Command::new(p)
            .args(["-c", "import botocore"])
            .output()
            .is_ok_and(|o| o.status.success())
    })
}

#[tokio::test]
async fn responses_match_botocore_service_model() {
    // A scenario touching every operation (successes and declared errors), recorded to its own
    // file; then that recording, and only it, is held against the model (not the shared
    // directory: other tests' files may be half-written, or left over from another build).
    let emu = Emulator::start();
    let (id, arn) = replicated(&emu).await;
    let west = emu.client(SOURCE);
    let east = emu.client(REPLICA);
    let (gid, garn) = create_group(&emu, "model").await;
    west.tag_resource()
        .resource_arn(&garn)
        .tags("team", "support")
        .send()
        .await
        .unwrap();
    west.list_tags_for_resource()
        .resource_arn(&garn)
        .send()
        .await
        .unwrap();
    west.untag_resource()
        .resource_arn(&garn)
        .tag_keys("team")
        .send()
        .await
        .unwrap();
    west.describe_instance()
        .instance_id(INSTANCE_ID)
        .send()
        .await
        .unwrap();
    east.describe_instance()
        .instance_id(INSTANCE_ID)
        .send()
        .await
        .unwrap();
    west.list_instances().send().await.unwrap();
    east.describe_traffic_distribution_group()
        .traffic_distribution_group_id(&arn)
        .send()
        .await
        .unwrap();
    let _ = east
        .describe_traffic_distribution_group()
        .traffic_distribution_group_id(&id)
        .send()
        .await;
    west.get_traffic_distribution()
        .id(&id)
        .send()
        .await
        .unwrap();
    west.get_traffic_distribution()
        .id(&gid)
        .send()
        .await
        .unwrap();
    for u in ["alice", "bob"] {
        west.associate_traffic_distribution_group_user()
            .traffic_distribution_group_id(&id)
            .user_id(user_id(u))
            .instance_id(INSTANCE_ID)
            .send()
            .await
            .unwrap();
    }
    let _ = west
        .associate_traffic_distribution_group_user()
        .traffic_distribution_group_id(&id)
        .user_id("00000000-0000-4000-8000-000000000000")
        .instance_id(INSTANCE_ID)
        .send()
        .await;
    west.disassociate_traffic_distribution_group_user()
        .traffic_distribution_group_id(&id)
        .user_id(user_id("bob"))
        .instance_id(INSTANCE_ID)
        .send()
        .await
        .unwrap();
    west.list_traffic_distribution_group_users()
        .traffic_distribution_group_id(&id)
        .send()
        .await
        .unwrap();
    west.list_users()
        .instance_id(INSTANCE_ID)
        .max_results(1000)
        .send()
        .await
        .unwrap();
    west.search_users()
        .instance_id(INSTANCE_ID)
        .max_results(500)
        .send()
        .await
        .unwrap();
    west.describe_user()
        .instance_id(INSTANCE_ID)
        .user_id(user_id("alice"))
        .send()
        .await
        .unwrap();
    let _ = west
        .describe_user()
        .instance_id(INSTANCE_ID)
        .user_id("nobody")
        .send()
        .await;
    let u = west
        .create_user()
        .instance_id(INSTANCE_ID)
        .username("model-user")
        .security_profile_ids("sp")
        .routing_profile_id(routing_profile_id("Basic Routing Profile"))
        .send()
        .await
        .unwrap();
    west.delete_user()
        .instance_id(INSTANCE_ID)
        .user_id(u.user_id().unwrap())
        .send()
        .await
        .unwrap();
    west.list_routing_profiles()
        .instance_id(INSTANCE_ID)
        .send()
        .await
        .unwrap();
    west.list_user_hierarchy_groups()
        .instance_id(INSTANCE_ID)
        .send()
        .await
        .unwrap();
    let c = west
        .claim_phone_number()
        .phone_number("+14255550150")
        .target_arn(&garn)
        .send()
        .await
        .unwrap();
    west.describe_phone_number()
        .phone_number_id(c.phone_number_id().unwrap())
        .send()
        .await
        .unwrap();
    let _ = west
        .release_phone_number()
        .phone_number_id(c.phone_number_id().unwrap())
        .send()
        .await;
    emu.advance(2.0);
    let inst_arn = format!("arn:aws:connect:us-west-2:{ACCOUNT}:instance/{INSTANCE_ID}");
    west.update_phone_number()
        .phone_number_id(c.phone_number_id().unwrap())
        .target_arn(&inst_arn)
        .send()
        .await
        .unwrap();
    west.list_phone_numbers_v2().send().await.unwrap();
    east.list_phone_numbers_v2()
        .target_arn(&arn)
        .send()
        .await
        .unwrap();
    emu.advance(2.0);
    west.release_phone_number()
        .phone_number_id(c.phone_number_id().unwrap())
        .send()
        .await
        .unwrap();
    west.associate_lambda_function()
        .instance_id(INSTANCE_ID)
        .function_arn("arn:aws:lambda:us-west-2:123456789012:function:f")
        .send()
        .await
        .unwrap();
    west.list_lambda_functions()
        .instance_id(INSTANCE_ID)
        .send()
        .await
        .unwrap();
    west.disassociate_lambda_function()
        .instance_id(INSTANCE_ID)
        .function_arn("arn:aws:lambda:us-west-2:123456789012:function:f")
        .send()
        .await
        .unwrap();
    west.update_traffic_distribution()
        .id(&gid)
        .sign_in_config(sign_in(true, true))
        .send()
        .await
        .unwrap_err();
    west.delete_traffic_distribution_group()
        .traffic_distribution_group_id(&gid)
        .send()
        .await
        .unwrap();
    let _ = west
        .delete_traffic_distribution_group()
        .traffic_distribution_group_id(&id)
        .send()
        .await;
    west.list_traffic_distribution_groups()
        .send()
        .await
        .unwrap();
    // Real-time metrics (health gates)
    let queues = east
        .list_queues()
        .instance_id(INSTANCE_ID)
        .send()
        .await
        .unwrap();
    let q = queues.queue_summary_list()[0].id().unwrap().to_string();
    let metric = |n| {
        aws_sdk_connect::types::CurrentMetric::builder()
            .name(n)
            .build()
    };
    use aws_sdk_connect::types::CurrentMetricName as M;
    east.get_current_metric_data()
        .instance_id(INSTANCE_ID)
        .filters(
            aws_sdk_connect::types::Filters::builder()
                .queues(&q)
                .build(),
        )
        .groupings(aws_sdk_connect::types::Grouping::Queue)
        .current_metrics(metric(M::AgentsAvailable))
        .current_metrics(metric(M::OldestContactAge))
        .send()
        .await
        .unwrap();
    let _ = east
        .get_current_metric_data()
        .instance_id(INSTANCE_ID)
        .current_metrics(metric(M::AgentsOnline))
        .send()
        .await;
    crate::emulator_preflight::preflight_operations_scenario(&emu).await;
    let recording = emu.recording.clone();
    drop(emu); // the process is gone: its recording is complete
    let files = [recording.to_string_lossy().to_string()];
    let python =
        botocore_python().expect("python with botocore (scripts/tools.d/awscli.sh installs it)");
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/it/emulator/validate_model.py"
    );
    let out = std::process::Command::new(python)
        .arg(script)
        .args(&files)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{text}");
    eprintln!("{text}");
}

/// The AWS CLI: .tools/venv/bin/aws if present, else `aws` on PATH.
fn aws_cli() -> String {
    let venv = concat!(env!("CARGO_MANIFEST_DIR"), "/.tools/venv/bin/aws");
    if std::path::Path::new(venv).exists() {
        venv.to_string()
    } else {
        "aws".to_string()
    }
}

fn run_aws(emu: &Emulator, region: &str, args: &[&str]) -> (bool, String) {
    let out = std::process::Command::new(aws_cli())
        .args(args)
        .args([
            "--endpoint-url",
            &emu.endpoint(),
            "--region",
            region,
            "--output",
            "json",
        ])
        .env("AWS_ACCESS_KEY_ID", "AKIDTEST")
        .env("AWS_SECRET_ACCESS_KEY", "secret")
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .env("AWS_MAX_ATTEMPTS", "1")
        .output()
        .expect("run aws (scripts/tools.d/awscli.sh installs it)");
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// Every `aws connect` command of the seeds (000: update-traffic-distribution x3; 003:
/// associate/disassociate-traffic-distribution-group-user), unchanged but for the placeholders,
/// `--endpoint-url` and `--region`, with the documented result.
#[tokio::test]
async fn seed_aws_cli_commands() {
    let emu = Emulator::start();
    let (id, arn) = replicated(&emu).await;
    let tdg_id_or_arn = [id.as_str(), arn.as_str()];
    // seed 000, 1: both sign-in regions enabled (50/50 sign-in servers)
    let both = r#"{"SignInConfig":{"Distributions":[{"Region":"us-west-2","Enabled":true},{"Region":"us-east-1","Enabled":true}]}}"#;
    let (ok, out) = run_aws(
        &emu,
        SOURCE,
        &[
            "connect",
            "update-traffic-distribution",
            "--id",
            tdg_id_or_arn[0],
            "--cli-input-json",
            both,
        ],
    );
    assert!(ok, "{out}");
    emu.advance(2.0);
    // seed 000, 2: 100 % of sign-ins to us-east-1 (from the replica region: ARN)
    let east_only = r#"{"SignInConfig":{"Distributions":[{"Region":"us-west-2","Enabled":false},{"Region":"us-east-1","Enabled":true}]}}"#;
    let (ok, out) = run_aws(
        &emu,
        REPLICA,
        &[
            "connect",
            "update-traffic-distribution",
            "--id",
            tdg_id_or_arn[1],
            "--cli-input-json",
            east_only,
        ],
    );
    assert!(ok, "{out}");
    emu.advance(2.0);
    // seed 000, 3: move all telephony, agents and sign-in from us-west-2 to us-east-1
    let all = r#"{"SignInConfig":{"Distributions":[{"Region":"us-west-2","Enabled":false},{"Region":"us-east-1","Enabled":true}]},
      "AgentConfig":{"Distributions":[{"Region":"us-west-2","Percentage":0},{"Region":"us-east-1","Percentage":100}]},
      "TelephonyConfig":{"Distributions":[{"Region":"us-west-2","Percentage":0},{"Region":"us-east-1","Percentage":100}]}}"#;
    let (ok, out) = run_aws(
        &emu,
        SOURCE,
        &[
            "connect",
            "update-traffic-distribution",
            "--id",
            &arn,
            "--cli-input-json",
            all,
        ],
    );
    assert!(ok, "{out}");
    emu.advance(2.0);
    let (ok, out) = run_aws(
        &emu,
        REPLICA,
        &["connect", "get-traffic-distribution", "--id", &arn],
    );
    assert!(ok, "{out}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        v["TelephonyConfig"]["Distributions"][1],
        json!({"Region": "us-east-1", "Percentage": 100})
    );
    assert_eq!(
        v["AgentConfig"]["Distributions"][1],
        json!({"Region": "us-east-1", "Percentage": 100})
    );
    assert_eq!(
        v["SignInConfig"]["Distributions"][0],
        json!({"Region": "us-west-2", "Enabled": false})
    );
    // the same from the replica region with a bare id fails (ARN required)
    let (ok, out) = run_aws(
        &emu,
        REPLICA,
        &[
            "connect",
            "update-traffic-distribution",
            "--id",
            &id,
            "--cli-input-json",
            both,
        ],
    );
    assert!(!ok && out.contains("ResourceNotFoundException"), "{out}");
    // seed 003: associate and disassociate an agent
    let alice = user_id("alice");
    let (ok, out) = run_aws(
        &emu,
        SOURCE,
        &[
            "connect",
            "associate-traffic-distribution-group-user",
            "--traffic-distribution-group-id",
            &id,
            "--user-id",
            &alice,
            "--instance-id",
            INSTANCE_ID,
        ],
    );
    assert!(ok, "{out}");
    let (ok, out) = run_aws(
        &emu,
        SOURCE,
        &[
            "connect",
            "list-traffic-distribution-group-users",
            "--traffic-distribution-group-id",
            &id,
        ],
    );
    assert!(ok && out.contains(&alice), "{out}");
    let (ok, out) = run_aws(
        &emu,
        SOURCE,
        &[
            "connect",
            "disassociate-traffic-distribution-group-user",
            "--instance-id",
            INSTANCE_ID,
            "--traffic-distribution-group-id",
            &id,
            "--user-id",
            &alice,
        ],
    );
    assert!(ok, "{out}");
    let (ok, out) = run_aws(
        &emu,
        SOURCE,
        &[
            "connect",
            "list-traffic-distribution-group-users",
            "--traffic-distribution-group-id",
            &id,
        ],
    );
    assert!(ok && !out.contains(&alice), "{out}");
}

#[tokio::test]
async fn groups_are_tagged_and_untagged_by_arn_and_describe_shows_the_tags() {
    let emu = Emulator::start();
    replicated(&emu).await;
    let (id, arn) = create_group(&emu, "tagged").await;
    let west = emu.client(SOURCE);
    west.tag_resource()
        .resource_arn(&arn)
        .tags("team", "support")
        .tags("cost-center", "42")
        .tags("tier", "gold")
        .send()
        .await
        .unwrap();
    west.untag_resource()
        .resource_arn(&arn)
        .tag_keys("tier")
        .tag_keys("cost-center")
        .send()
        .await
        .unwrap();
    let listed = west
        .list_tags_for_resource()
        .resource_arn(&arn)
        .send()
        .await
        .unwrap();
    let tags = listed.tags().unwrap();
    assert_eq!(tags.len(), 1);
    assert_eq!(tags["team"], "support");
    let described = west
        .describe_traffic_distribution_group()
        .traffic_distribution_group_id(&id)
        .send()
        .await
        .unwrap();
    assert_eq!(
        described
            .traffic_distribution_group()
            .unwrap()
            .tags()
            .unwrap()["team"],
        "support"
    );
    let e = west
        .tag_resource()
        .resource_arn(&arn)
        .tags("aws:reserved", "x")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "InvalidParameterException");
    let e = west
        .tag_resource()
        .resource_arn(arn.replace(&id, "00000000-0000-4000-8000-000000000000"))
        .tags("team", "x")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "ResourceNotFoundException");
}
