//! The flow scanner on realistic flow JSON: a table of flows, each with the finding expected
//! (or none).

use super::*;

/// A one-action flow of `ty` with these parameters (as console exports write them).
fn flow(ty: &str, params: &str) -> String {
    format!(
        r#"{{"Version":"2019-10-30","StartAction":"a1","Metadata":{{"entryPointPosition":{{"x":40,"y":40}},"ActionMetadata":{{"a1":{{"position":{{"x":200,"y":60}}}}}}}},"Actions":[{{"Identifier":"a1","Type":"{ty}","Parameters":{params},"Transitions":{{"NextAction":"end","Errors":[{{"NextAction":"end","ErrorType":"NoMatchingError"}}]}}}},{{"Identifier":"end","Type":"DisconnectParticipant","Parameters":{{}},"Transitions":{{}}}}]}}"#
    )
}

fn kinds_of(content: &str) -> Vec<(&'static str, Severity)> {
    scan(content)
        .hits
        .iter()
        .map(|h| (h.kind, h.severity))
        .collect()
}

/// (case name, flow content, expected (kind, severity) hits).
type Case = (&'static str, String, Vec<(&'static str, Severity)>);

const B: Severity = Severity::Blocking;
const W: Severity = Severity::Warning;

#[test]
fn table_of_realistic_flows_gives_the_expected_findings() {
    let cases: Vec<Case> = vec![
        (
            "Lambda ARN with a literal region (CHAOS fix 16)",
            flow("InvokeLambdaFunction", r#"{"LambdaFunctionARN":"arn:aws:lambda:us-west-2:123456789012:function:DenylistCheck","InvocationTimeLimitSeconds":"3","ResponseValidation":{"ResponseType":"STRING_MAP"}}"#),
            vec![(kinds::FLOW_HARDCODED_REGION, B)],
        ),
        (
            "Lambda ARN with $.AwsRegion",
            flow("InvokeLambdaFunction", r#"{"LambdaFunctionARN":"arn:aws:lambda:$.AwsRegion:123456789012:function:DenylistCheck","InvocationTimeLimitSeconds":"3"}"#),
            vec![],
        ),
        (
            "Lambda ARN with $['AwsRegion']",
            flow("InvokeLambdaFunction", r#"{"LambdaFunctionARN":"arn:aws:lambda:$['AwsRegion']:123456789012:function:DenylistCheck"}"#),
            vec![],
        ),
        (
            "Lambda ARN with a version qualifier and a literal region",
            flow("InvokeLambdaFunction", r#"{"LambdaFunctionARN":"arn:aws:lambda:eu-central-1:123456789012:function:Lookup:7","InvocationType":"SYNCHRONOUS"}"#),
            vec![(kinds::FLOW_HARDCODED_REGION, B)],
        ),
        (
            "Lex V2 alias ARN with a literal region (CHAOS fix 8)",
            flow("ConnectParticipantWithLexBot", r#"{"Text":"How can I help?","LexV2Bot":{"AliasArn":"arn:aws:lex:us-west-2:123456789012:bot-alias/ABCDEFGHIJ/TSTALIASID"},"LexTimeoutSeconds":{"Text":"300"}}"#),
            vec![(kinds::FLOW_HARDCODED_REGION, B)],
        ),
        (
            "Lex V2 alias ARN with $.AwsRegion (Lex GR keeps bot and alias ids)",
            flow("ConnectParticipantWithLexBot", r#"{"Text":"How can I help?","LexV2Bot":{"AliasArn":"arn:aws:lex:$.AwsRegion:123456789012:bot-alias/ABCDEFGHIJ/TSTALIASID"}}"#),
            vec![],
        ),
        (
            "Lex V1 bot with a literal region",
            flow("ConnectParticipantWithLexBot", r#"{"Text":"Say something","LexBot":{"Name":"OrderFlowers","Region":"us-east-1","Alias":"prod"}}"#),
            vec![(kinds::FLOW_HARDCODED_REGION, B)],
        ),
        (
            "queue ARN with a literal region (reference example)",
            flow("UpdateContactTargetQueue", r#"{"QueueId":"arn:aws:connect:us-east-1:123456789012:instance/4f5e3c1a-7b2d-4c8e-9a10-2b3c4d5e6f70/queue/9d2a"}"#),
            vec![(kinds::FLOW_REGIONAL_ARN, W)],
        ),
        (
            "queue by bare id",
            flow("UpdateContactTargetQueue", r#"{"QueueId":"9d2a4c6e-1111-2222-3333-444455556666"}"#),
            vec![],
        ),
        (
            "prompt ARN with a literal region",
            flow("MessageParticipant", r#"{"PromptId":"arn:aws:connect:us-west-2:123456789012:instance/4f5e3c1a-7b2d-4c8e-9a10-2b3c4d5e6f70/prompt/5e6f"}"#),
            vec![(kinds::FLOW_REGIONAL_ARN, W)],
        ),
        (
            "flow module ARN with a literal region",
            flow("InvokeFlowModule", r#"{"FlowModuleId":"arn:aws:connect:us-west-2:123456789012:instance/4f5e3c1a-7b2d-4c8e-9a10-2b3c4d5e6f70/flow-module/77aa"}"#),
            vec![(kinds::FLOW_REGIONAL_ARN, W)],
        ),
        (
            "transfer to another instance's flow by ARN",
            flow("TransferToFlow", r#"{"ContactFlowId":"arn:aws:connect:us-east-1:123456789012:instance/0000aaaa-7b2d-4c8e-9a10-2b3c4d5e6f70/contact-flow/12ab"}"#),
            vec![(kinds::FLOW_REGIONAL_ARN, W)],
        ),
        (
            "event hook to a flow ARN with a literal region",
            flow("UpdateContactEventHooks", r#"{"EventHooks":{"CustomerQueue":"arn:aws:connect:us-west-2:123456789012:instance/4f5e3c1a-7b2d-4c8e-9a10-2b3c4d5e6f70/contact-flow/aa11"}}"#),
            vec![(kinds::FLOW_REGIONAL_ARN, W)],
        ),
        (
            "a region inside prompt text is not a reference",
            flow("MessageParticipant", r#"{"Text":"Our us-west-2 data center is under maintenance; please hold."}"#),
            vec![],
        ),
        (
            "a bare region value in a contact attribute",
            flow("UpdateContactAttributes", r#"{"Attributes":{"homeRegion":"us-west-2"},"TargetContact":"Current"}"#),
            vec![(kinds::FLOW_REGION_LITERAL, W)],
        ),
        (
            "an S3 URL naming a region",
            flow("UpdateContactAttributes", r#"{"Attributes":{"greeting":"https://prompts.s3.us-west-2.amazonaws.com/welcome.wav"}}"#),
            vec![(kinds::FLOW_REGION_LITERAL, W)],
        ),
        (
            "a Lambda ARN read from an attribute nobody sets",
            flow("InvokeLambdaFunction", r#"{"LambdaFunctionARN":"$.Attributes.checkFn"}"#),
            vec![(kinds::FLOW_DYNAMIC_ARN, W)],
        ),
        (
            "a console export repeating a literal ARN in Metadata only",
            r#"{"Version":"2019-10-30","StartAction":"a1","Metadata":{"ActionMetadata":{"a1":{"parameters":{"LambdaFunctionARN":{"displayName":"arn:aws:lambda:us-west-2:123456789012:function:Old"}}}}},"Actions":[{"Identifier":"a1","Type":"InvokeLambdaFunction","Parameters":{"LambdaFunctionARN":"arn:aws:lambda:$.AwsRegion:123456789012:function:Old"},"Transitions":{}}]}"#.to_string(),
            vec![],
        ),
        (
            "content that is not JSON",
            "{\"Version\":\"2019-10-30\",".to_string(),
            vec![(kinds::FLOW_UNREADABLE, W)],
        ),
        (
            "the reference inbound flow: $.AwsRegion Lambda, literal-region queue ARN",
            include_str!("../emulator/default_flows/inbound-denylist-check.json").to_string(),
            vec![(kinds::FLOW_REGIONAL_ARN, W)],
        ),
        (
            "the reference queue-transfer flow is clean",
            include_str!("../emulator/default_flows/queue-transfer-denylist-add.json").to_string(),
            vec![],
        ),
    ];
    for (name, content, expected) in cases {
        assert_eq!(kinds_of(&content), expected, "{name}");
    }
}

#[test]
fn a_literal_hit_names_the_region_and_the_action_parameter() {
    let s = scan(&flow(
        "InvokeLambdaFunction",
        r#"{"LambdaFunctionARN":"arn:aws:lambda:us-west-2:123456789012:function:DenylistCheck"}"#,
    ));
    assert_eq!(s.hits[0].literal_region.as_deref(), Some("us-west-2"));
    assert_eq!(s.hits[0].location, "a1.LambdaFunctionARN");
}

#[test]
fn a_lambda_arn_built_in_set_contact_attributes_is_traced_to_that_block() {
    // REQ's workaround: build the ARN in an attribute, then invoke $.Attributes.<key>
    let good = r#"{"Version":"2019-10-30","StartAction":"set","Actions":[
        {"Identifier":"set","Type":"UpdateContactAttributes","Parameters":{"Attributes":{"fn":"arn:aws:lambda:$.AwsRegion:123456789012:function:Lookup"}},"Transitions":{"NextAction":"call"}},
        {"Identifier":"call","Type":"InvokeLambdaFunction","Parameters":{"LambdaFunctionARN":"$.Attributes.fn"},"Transitions":{}}]}"#;
    let s = scan(good);
    assert!(s.hits.is_empty(), "{:?}", s.hits);
    assert!(s.lambda_names.contains("Lookup"));
    let bad = good.replace("$.AwsRegion", "us-west-2");
    let s = scan(&bad);
    assert_eq!(
        s.hits.iter().map(|h| h.kind).collect::<Vec<_>>(),
        [kinds::FLOW_HARDCODED_REGION]
    );
    assert_eq!(s.hits[0].location, "set.Attributes.fn");
}

#[test]
fn referenced_lambda_names_and_lex_aliases_are_collected() {
    let s = scan(&flow(
        "InvokeLambdaFunction",
        r#"{"LambdaFunctionARN":"arn:aws:lambda:$.AwsRegion:123456789012:function:DenylistCheck"}"#,
    ));
    assert_eq!(s.lambda_names.iter().collect::<Vec<_>>(), ["DenylistCheck"]);
    let s = scan(&flow(
        "ConnectParticipantWithLexBot",
        r#"{"LexV2Bot":{"AliasArn":"arn:aws:lex:$.AwsRegion:123456789012:bot-alias/ABCDEFGHIJ/TSTALIASID"}}"#,
    ));
    assert!(
        s.lex_aliases
            .contains(&("ABCDEFGHIJ".to_string(), "TSTALIASID".to_string()))
    );
    assert_eq!(
        lambda_name("arn:aws:lambda:us-east-1:1:function:f:3"),
        Some("f")
    );
}
