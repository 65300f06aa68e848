//! Harness: the emulator as a child process (`connect-gr emulator --listen 127.0.0.1:0`), an
//! `aws-sdk-connect` client per region pointed at it, and the control endpoints.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};

use aws_sdk_connect::config::{BehaviorVersion, Credentials, Region};
use serde_json::Value;

pub const ACCOUNT: &str = "123456789012";
pub const INSTANCE_ID: &str = "4f5e3c1a-7b2d-4c8e-9a10-2b3c4d5e6f70";
pub const SOURCE: &str = "us-west-2";
pub const REPLICA: &str = "us-east-1";

pub struct Emulator {
    child: Child,
    pub addr: String,
    /// This emulator's own recording of its responses (`--record-responses`), one file per
    /// emulator: a test reads its own, never the directory.
    pub recording: std::path::PathBuf,
}

impl Emulator {
    /// Default state, quotas off.
    pub fn start() -> Emulator {
        Self::start_with(&["--quotas", "off"])
    }

    /// Extra command-line arguments (e.g. `["--quotas", "on"]`, `["--state", path]`).
    pub fn start_with(args: &[&str]) -> Emulator {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_connect-gr"));
        cmd.args(["emulator", "--listen", "127.0.0.1:0"]).args(args);
        let dir = std::env::var("CONNECT_GR_RECORD_DIR").unwrap_or_else(|_| {
            concat!(env!("CARGO_MANIFEST_DIR"), "/target/emulator-responses").to_string()
        });
        let recording =
            std::path::PathBuf::from(format!("{dir}/{}-{}.jsonl", std::process::id(), unique()));
        cmd.arg("--record-responses").arg(&recording);
        cmd.stdout(Stdio::piped()).stderr(Stdio::inherit());
        let mut child = cmd.spawn().expect("spawn connect-gr emulator");
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("read listening line");
        let addr = line
            .trim()
            .strip_prefix("listening on http://")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .to_string();
        Emulator {
            child,
            addr,
            recording,
        }
    }

    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn client(&self, region: &str) -> aws_sdk_connect::Client {
        connect_client(&self.endpoint(), region)
    }

    /// A raw HTTP request (used for control endpoints and malformed-input tests).
    pub fn http(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> (u16, Vec<(String, String)>, String) {
        http_request(&self.addr, method, path, headers, body)
    }

    fn control(&self, method: &str, path: &str, body: &str) -> Value {
        let (status, _, text) =
            self.http(method, path, &[("content-type", "application/json")], body);
        assert_eq!(status, 200, "{method} {path}: {text}");
        serde_json::from_str(&text).expect("control JSON")
    }

    pub fn state(&self) -> Value {
        self.control("GET", "/_emulator/state", "")
    }
    pub fn calls(&self) -> Vec<Value> {
        self.control("GET", "/_emulator/calls", "")
            .as_array()
            .cloned()
            .unwrap_or_default()
    }
    pub fn fault(&self, fault: Value) {
        self.control("POST", "/_emulator/faults", &fault.to_string());
    }
    pub fn clear_faults(&self) {
        self.control("DELETE", "/_emulator/faults", "");
    }
    pub fn advance(&self, seconds: f64) {
        self.control(
            "POST",
            "/_emulator/clock",
            &serde_json::json!({"advanceSeconds": seconds}).to_string(),
        );
    }
    pub fn reset(&self) {
        self.control("POST", "/_emulator/reset", "");
    }
    pub fn set_quotas(&self, enabled: bool) {
        self.control(
            "POST",
            "/_emulator/quotas",
            &serde_json::json!({"enabled": enabled}).to_string(),
        );
    }
    /// Replaces the instance's replication findings (what ListReplicationFindings reports).
    pub fn set_replication_findings(&self, findings: Value) {
        self.control(
            "POST",
            "/_emulator/replication-findings",
            &serde_json::json!({"findings": findings}).to_string(),
        );
    }
    /// Creates a user directly (no quota, no call log); returns its id.
    pub fn create_user(&self, spec: Value) -> String {
        self.control("POST", "/_emulator/users", &spec.to_string())["UserId"]
            .as_str()
            .expect("UserId")
            .to_string()
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn unique() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}

/// The unmodified SDK client with static test credentials, pointed at `endpoint`.
pub fn connect_client(endpoint: &str, region: &str) -> aws_sdk_connect::Client {
    let conf = aws_sdk_connect::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(region.to_string()))
        .endpoint_url(endpoint)
        .credentials_provider(Credentials::new("AKIDTEST", "secret", None, None, "test"))
        .build();
    aws_sdk_connect::Client::from_conf(conf)
}

/// Same, with the SDK's standard retry allowed `attempts` tries (throttling backoff is jittered,
/// so three tries against a 2 req/s bucket are not always enough).
pub fn connect_client_with_attempts(
    endpoint: &str,
    region: &str,
    attempts: u32,
) -> aws_sdk_connect::Client {
    let conf = aws_sdk_connect::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(region.to_string()))
        .endpoint_url(endpoint)
        .credentials_provider(Credentials::new("AKIDTEST", "secret", None, None, "test"))
        .retry_config(
            aws_sdk_connect::config::retry::RetryConfig::standard().with_max_attempts(attempts),
        )
        .build();
    aws_sdk_connect::Client::from_conf(conf)
}

/// Same, with the SDK's retries turned off (to observe raw errors).
pub fn connect_client_no_retry(endpoint: &str, region: &str) -> aws_sdk_connect::Client {
    let conf = aws_sdk_connect::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(region.to_string()))
        .endpoint_url(endpoint)
        .credentials_provider(Credentials::new("AKIDTEST", "secret", None, None, "test"))
        .retry_config(aws_sdk_connect::config::retry::RetryConfig::disabled())
        .build();
    aws_sdk_connect::Client::from_conf(conf)
}

/// Deterministic user id (UUID v5 in the instance id's namespace, name = username).
pub fn user_id(username: &str) -> String {
    let ns = uuid::Uuid::parse_str(INSTANCE_ID).unwrap();
    uuid::Uuid::new_v5(&ns, username.as_bytes()).to_string()
}

pub fn routing_profile_id(name: &str) -> String {
    let ns = uuid::Uuid::parse_str(INSTANCE_ID).unwrap();
    uuid::Uuid::new_v5(&ns, format!("routing-profile:{name}").as_bytes()).to_string()
}

pub fn hierarchy_group_id(name: &str) -> String {
    let ns = uuid::Uuid::parse_str(INSTANCE_ID).unwrap();
    uuid::Uuid::new_v5(&ns, format!("hierarchy-group:{name}").as_bytes()).to_string()
}

/// Minimal blocking HTTP/1.1 client (Connection: close).
pub fn http_request(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, Vec<(String, String)>, String) {
    let mut s = TcpStream::connect(addr).expect("connect emulator");
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\ncontent-length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    req.push_str(body);
    s.write_all(req.as_bytes()).expect("write");
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).expect("read");
    let text = String::from_utf8_lossy(&raw).to_string();
    let (head, rest) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.lines();
    let status: u16 = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let hdrs: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_lowercase(), v.trim().to_string()))
        .collect();
    let chunked = hdrs
        .iter()
        .any(|(k, v)| k == "transfer-encoding" && v.contains("chunked"));
    let body = if chunked {
        dechunk(rest)
    } else {
        rest.to_string()
    };
    (status, hdrs, body)
}

fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = s.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        s = rest[n..].trim_start_matches("\r\n");
    }
    out
}

pub const SIGV4_WEST: &str = "AWS4-HMAC-SHA256 Credential=AKIDTEST/20260101/us-west-2/connect/aws4_request, SignedHeaders=host, Signature=00";
