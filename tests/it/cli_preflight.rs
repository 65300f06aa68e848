//! `connect-gr preflight -f DIR` and the preflight section of `connect-gr plan`, against the
//! emulator (reads only; exit 2 when a finding is blocking).

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_connect-gr");

fn state(flow_region: &str, east_lambda: bool) -> String {
    let flow = format!(
        r#"{{"Version":"2019-10-30","StartAction":"a","Actions":[{{"Identifier":"a","Type":"InvokeLambdaFunction","Parameters":{{"LambdaFunctionARN":"arn:aws:lambda:{flow_region}:123456789012:function:Check"}},"Transitions":{{}}}}]}}"#
    );
    let east = if east_lambda {
        "\n      us-east-1: [\"arn:aws:lambda:us-east-1:123456789012:function:Check\"]"
    } else {
        ""
    };
    format!(
        "instances:\n  - id: 4f5e3c1a-7b2d-4c8e-9a10-2b3c4d5e6f70\n    alias: support-center\n    region: us-west-2\n    replicated: true\n    replicaRegion: us-east-1\n    replicaAlias: support-center-east\n    routingProfiles: [Basic Routing Profile]\n    lambdaFunctions:\n      us-west-2: [\"arn:aws:lambda:us-west-2:123456789012:function:Check\"]{east}\n    contactFlows:\n      - name: Inbound\n        content: {}\n",
        serde_json::to_string(&flow).unwrap()
    )
}

/// Runs `connect-gr ARGS -f <instance-replica example>` against an emulator with this state.
fn run(state_yaml: &str, args: &[&str]) -> (Option<i32>, String) {
    let dir = std::env::temp_dir().join(format!(
        "connect-gr-preflight-cli-{}-{}",
        std::process::id(),
        uuid::Uuid::new_v4()
    ));
    std::fs::create_dir_all(dir.join("m")).unwrap();
    let state = dir.join("state.yaml");
    std::fs::write(&state, state_yaml).unwrap();
    std::fs::copy(
        crate::support::testbed::repo_root().join("deploy/examples/instance-replica.yaml"),
        dir.join("m/instance-replica.yaml"),
    )
    .unwrap();
    let mut emu = Command::new(BIN)
        .args(["emulator", "--listen", "127.0.0.1:0", "--state"])
        .arg(&state)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(emu.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap()
        .to_string();
    let out = Command::new(BIN)
        .args(args)
        .arg("-f")
        .arg(dir.join("m"))
        .args(["--endpoint-url", &url])
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_REGION", "us-west-2")
        .output()
        .unwrap();
    let _ = emu.kill();
    let _ = emu.wait();
    (
        out.status.code(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[test]
fn preflight_exits_2_and_names_the_blocking_findings() {
    let (code, out) = run(&state("us-west-2", false), &["preflight"]);
    assert_eq!(code, Some(2), "{out}");
    assert!(out.contains("BLOCKING FlowHardcodedRegion"), "{out}");
    assert!(out.contains("LambdaOneRegion"), "{out}");
}

#[test]
fn preflight_exits_0_when_nothing_is_blocking_and_plan_shows_the_same_section() {
    let fixed = state("$.AwsRegion", true);
    let (code, out) = run(&fixed, &["preflight"]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("support-center: 0 blocking"), "{out}");
    let (code, out) = run(&state("us-west-2", true), &["plan"]);
    assert_eq!(code, Some(0), "no change to make: {out}");
    assert!(out.contains("Preflight (failover readiness)"), "{out}");
    assert!(out.contains("1 blocking"), "{out}");
}
