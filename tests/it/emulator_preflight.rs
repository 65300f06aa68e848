//! Emulator: contact flows and modules (content stored as given, mirrored to the replica), Lex
//! bot associations (not mirrored), ListReplicationFindings, Get/UpdateCrossRegionRouting, with
//! the unmodified `aws-sdk-connect` client (wave-2 reference §1, §4, §5.2, §7).

use aws_sdk_connect::types::{ContactFlowType, LexV2Bot, LexVersion};
use serde_json::json;

use crate::support::emulator::*;

const FLOW: &str = r#"{"Version":"2019-10-30","StartAction":"a","Metadata":{},"Actions":[{"Identifier":"a","Type":"InvokeLambdaFunction","Parameters":{"LambdaFunctionARN":"arn:aws:lambda:us-west-2:123456789012:function:Check"},"Transitions":{}}]}"#;
const FIXED: &str = r#"{"Version":"2019-10-30","StartAction":"a","Metadata":{},"Actions":[{"Identifier":"a","Type":"InvokeLambdaFunction","Parameters":{"LambdaFunctionARN":"arn:aws:lambda:$.AwsRegion:123456789012:function:Check"},"Transitions":{}}]}"#;

async fn replicate(emu: &Emulator) {
    emu.client(SOURCE)
        .replicate_instance()
        .instance_id(INSTANCE_ID)
        .replica_region(REPLICA)
        .replica_alias("support-center-east")
        .send()
        .await
        .expect("replicate");
    emu.advance(5.0);
}

async fn flow_names(c: &aws_sdk_connect::Client) -> Vec<String> {
    let out = c
        .list_contact_flows()
        .instance_id(INSTANCE_ID)
        .send()
        .await
        .unwrap();
    let mut names: Vec<String> = out
        .contact_flow_summary_list()
        .iter()
        .filter_map(|f| f.name().map(str::to_string))
        .collect();
    names.sort();
    names
}

/// Every new operation with successes and declared errors (the model-conformance test records
/// these responses and holds them against botocore's model).
pub async fn preflight_operations_scenario(emu: &Emulator) {
    let west = emu.client(SOURCE);
    let east = emu.client(REPLICA);
    let f = west
        .create_contact_flow()
        .instance_id(INSTANCE_ID)
        .name("model-flow")
        .r#type(ContactFlowType::ContactFlow)
        .content(FLOW)
        .send()
        .await
        .unwrap();
    let fid = f.contact_flow_id().unwrap().to_string();
    let _ = west
        .create_contact_flow()
        .instance_id(INSTANCE_ID)
        .name("model-flow")
        .r#type(ContactFlowType::ContactFlow)
        .content(FLOW)
        .send()
        .await
        .unwrap_err();
    let _ = west
        .create_contact_flow()
        .instance_id(INSTANCE_ID)
        .name("broken")
        .r#type(ContactFlowType::ContactFlow)
        .content("{not json")
        .send()
        .await
        .unwrap_err();
    west.list_contact_flows()
        .instance_id(INSTANCE_ID)
        .send()
        .await
        .unwrap();
    west.describe_contact_flow()
        .instance_id(INSTANCE_ID)
        .contact_flow_id(&fid)
        .send()
        .await
        .unwrap();
    let _ = west
        .describe_contact_flow()
        .instance_id(INSTANCE_ID)
        .contact_flow_id("00000000-0000-4000-8000-000000000000")
        .send()
        .await
        .unwrap_err();
    west.update_contact_flow_content()
        .instance_id(INSTANCE_ID)
        .contact_flow_id(&fid)
        .content(FIXED)
        .send()
        .await
        .unwrap();
    let m = west
        .create_contact_flow_module()
        .instance_id(INSTANCE_ID)
        .name("model-module")
        .content(FIXED)
        .send()
        .await
        .unwrap();
    west.list_contact_flow_modules()
        .instance_id(INSTANCE_ID)
        .send()
        .await
        .unwrap();
    west.describe_contact_flow_module()
        .instance_id(INSTANCE_ID)
        .contact_flow_module_id(m.id().unwrap())
        .send()
        .await
        .unwrap();
    west.associate_bot()
        .instance_id(INSTANCE_ID)
        .lex_v2_bot(
            LexV2Bot::builder()
                .alias_arn("arn:aws:lex:us-west-2:123456789012:bot-alias/ABCDEFGHIJ/TSTALIASID")
                .build(),
        )
        .send()
        .await
        .unwrap();
    let _ = west
        .associate_bot()
        .instance_id(INSTANCE_ID)
        .lex_v2_bot(
            LexV2Bot::builder()
                .alias_arn("arn:aws:lex:us-west-2:123456789012:bot-alias/ABCDEFGHIJ/TSTALIASID")
                .build(),
        )
        .send()
        .await
        .unwrap_err();
    west.list_bots()
        .instance_id(INSTANCE_ID)
        .lex_version(LexVersion::V2)
        .send()
        .await
        .unwrap();
    emu.set_replication_findings(json!([{
        "resourceType": "QUEUE", "name": "Billing", "referenceCode": "RESOURCE_NAME_CONFLICT",
        "message": "A queue named Billing already exists in us-east-1; rename one of them"
    }]));
    west.list_replication_findings()
        .instance_id(INSTANCE_ID)
        .resource_type("QUEUE")
        .send()
        .await
        .unwrap();
    let _ = west
        .list_replication_findings()
        .instance_id(INSTANCE_ID)
        .resource_type("NOT_A_TYPE")
        .send()
        .await
        .unwrap_err();
    east.update_cross_region_routing()
        .instance_id(INSTANCE_ID)
        .isolated_all(true)
        .send()
        .await
        .unwrap();
    west.get_cross_region_routing()
        .instance_id(INSTANCE_ID)
        .send()
        .await
        .unwrap();
    let _ = west
        .update_cross_region_routing()
        .instance_id(INSTANCE_ID)
        .send()
        .await
        .unwrap_err();
    east.update_cross_region_routing()
        .instance_id(INSTANCE_ID)
        .isolated_all(false)
        .send()
        .await
        .unwrap();
    emu.set_replication_findings(json!([]));
}

#[tokio::test]
async fn default_state_has_flows_one_of_which_hard_codes_the_source_lambda_arn() {
    let emu = Emulator::start();
    let west = emu.client(SOURCE);
    let names = flow_names(&west).await;
    assert_eq!(
        names,
        [
            "Denylist add transfer",
            "Inbound denylist check",
            "Legacy support inbound"
        ]
    );
    let list = west
        .list_contact_flows()
        .instance_id(INSTANCE_ID)
        .send()
        .await
        .unwrap();
    let legacy = list
        .contact_flow_summary_list()
        .iter()
        .find(|f| f.name() == Some("Legacy support inbound"))
        .unwrap();
    let d = west
        .describe_contact_flow()
        .instance_id(INSTANCE_ID)
        .contact_flow_id(legacy.id().unwrap())
        .send()
        .await
        .unwrap();
    let content = d.contact_flow().unwrap().content().unwrap();
    assert!(content.contains("arn:aws:lambda:us-west-2:123456789012:function:DenylistCheck"));
    // the content is the flow-language document as a string, not an object
    let doc: serde_json::Value = serde_json::from_str(content).unwrap();
    assert_eq!(doc["Version"], "2019-10-30");
}

#[tokio::test]
async fn flows_are_mirrored_to_the_replica_byte_for_byte_and_edits_follow() {
    let emu = Emulator::start();
    let west = emu.client(SOURCE);
    let east = emu.client(REPLICA);
    replicate(&emu).await;
    let id = west
        .create_contact_flow()
        .instance_id(INSTANCE_ID)
        .name("Mirrored")
        .r#type(ContactFlowType::ContactFlow)
        .content(FLOW)
        .send()
        .await
        .unwrap()
        .contact_flow_id()
        .unwrap()
        .to_string();
    // not yet mirrored
    assert!(!flow_names(&east).await.contains(&"Mirrored".to_string()));
    emu.advance(3.0);
    let read = |c: aws_sdk_connect::Client, id: String| async move {
        c.describe_contact_flow()
            .instance_id(INSTANCE_ID)
            .contact_flow_id(id)
            .send()
            .await
            .unwrap()
            .contact_flow()
            .unwrap()
            .clone()
    };
    let e = read(east.clone(), id.clone()).await;
    assert_eq!(e.content(), Some(FLOW));
    assert!(e.arn().unwrap().contains(":us-east-1:"));
    west.update_contact_flow_content()
        .instance_id(INSTANCE_ID)
        .contact_flow_id(&id)
        .content(FIXED)
        .send()
        .await
        .unwrap();
    assert_eq!(read(east.clone(), id.clone()).await.content(), Some(FLOW));
    emu.advance(3.0);
    assert_eq!(read(east.clone(), id.clone()).await.content(), Some(FIXED));
    // the replica does not take edits
    let err = east
        .update_contact_flow_content()
        .instance_id(INSTANCE_ID)
        .contact_flow_id(&id)
        .content(FLOW)
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        err.into_service_error().meta().code(),
        Some("InvalidRequestException")
    );
}

#[tokio::test]
async fn bot_associations_are_per_region_and_not_mirrored() {
    let emu = Emulator::start();
    replicate(&emu).await;
    let alias = "arn:aws:lex:us-west-2:123456789012:bot-alias/ABCDEFGHIJ/TSTALIASID";
    emu.client(SOURCE)
        .associate_bot()
        .instance_id(INSTANCE_ID)
        .lex_v2_bot(LexV2Bot::builder().alias_arn(alias).build())
        .send()
        .await
        .unwrap();
    emu.advance(10.0);
    let count = |c: aws_sdk_connect::Client| async move {
        c.list_bots()
            .instance_id(INSTANCE_ID)
            .lex_version(LexVersion::V2)
            .send()
            .await
            .unwrap()
            .lex_bots()
            .len()
    };
    assert_eq!(count(emu.client(SOURCE)).await, 1);
    assert_eq!(count(emu.client(REPLICA)).await, 0);
}

#[tokio::test]
async fn replication_findings_come_from_the_settable_model_with_drift_counts() {
    let emu = Emulator::start();
    replicate(&emu).await;
    emu.set_replication_findings(json!([
        {"resourceType": "CONTACT_FLOW", "name": "Inbound", "referenceCode": "LAMBDA_NOT_FOUND",
         "message": "The flow references a Lambda function that is not associated in us-east-1"},
        {"resourceType": "QUEUE", "name": "Billing", "referenceCode": "RESOURCE_NAME_CONFLICT",
         "message": "rename"}
    ]));
    let out = emu
        .client(REPLICA)
        .list_replication_findings()
        .instance_id(INSTANCE_ID)
        .resource_type("CONTACT_FLOW")
        .send()
        .await
        .unwrap();
    let f = out.replication_findings_list();
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].reference_code(), Some("LAMBDA_NOT_FOUND"));
    assert_eq!(f[0].region(), Some(REPLICA));
    let east = out
        .approximate_drifted_resource_counts()
        .iter()
        .find(|c| c.region() == REPLICA)
        .unwrap();
    assert_eq!(east.count(), 1);
    emu.set_replication_findings(json!([]));
    let out = emu
        .client(SOURCE)
        .list_replication_findings()
        .instance_id(INSTANCE_ID)
        .resource_type("CONTACT_FLOW")
        .send()
        .await
        .unwrap();
    assert!(out.replication_findings_list().is_empty());
}

#[tokio::test]
async fn cross_region_routing_is_one_setting_read_and_written_from_either_region() {
    let emu = Emulator::start();
    // not replicated yet: not an ACGR instance with global routing
    let err = emu
        .client(SOURCE)
        .get_cross_region_routing()
        .instance_id(INSTANCE_ID)
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        err.into_service_error().meta().code(),
        Some("InvalidRequestException")
    );
    replicate(&emu).await;
    let isolated = |c: aws_sdk_connect::Client| async move {
        c.get_cross_region_routing()
            .instance_id(INSTANCE_ID)
            .send()
            .await
            .unwrap()
            .isolated_regions()
            .to_vec()
    };
    assert!(isolated(emu.client(SOURCE)).await.is_empty());
    emu.client(REPLICA)
        .update_cross_region_routing()
        .instance_id(INSTANCE_ID)
        .isolated_all(true)
        .send()
        .await
        .unwrap();
    let mut got = isolated(emu.client(SOURCE)).await;
    got.sort();
    assert_eq!(got, [REPLICA, SOURCE]);
    // the Rust builder does not require IsolatedAll; the emulator does
    let err = emu
        .client(SOURCE)
        .update_cross_region_routing()
        .instance_id(INSTANCE_ID)
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        err.into_service_error().meta().code(),
        Some("InvalidRequestException")
    );
}

#[tokio::test]
async fn cross_region_routing_is_refused_for_an_instance_without_global_routing() {
    let dir = tempfile_dir();
    let path = format!("{dir}/state.yaml");
    std::fs::write(
        &path,
        format!(
            "instances:\n- id: {INSTANCE_ID}\n  alias: support-center\n  region: {SOURCE}\n  replicated: true\n  globalRouting: false\n"
        ),
    )
    .unwrap();
    let emu = Emulator::start_with(&["--quotas", "off", "--state", &path]);
    let err = emu
        .client(SOURCE)
        .update_cross_region_routing()
        .instance_id(INSTANCE_ID)
        .isolated_all(true)
        .send()
        .await
        .unwrap_err();
    let e = err.into_service_error();
    assert_eq!(e.meta().code(), Some("InvalidRequestException"));
    assert!(e.meta().message().unwrap().contains("global routing"));
}

fn tempfile_dir() -> String {
    let dir = std::env::temp_dir().join(format!(
        "connect-gr-preflight-{}-{}",
        std::process::id(),
        uuid::Uuid::new_v4()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir.to_string_lossy().into_owned()
}
