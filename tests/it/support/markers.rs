//! Positive markers for tests that assert "nothing happened": never a fixed sleep, always proof
//! that the controller ran a pass after the change, and only then the assertion.
//!
//! - The emulator's call log (`GET /_emulator/calls?since=N`): take a [`Mark`] (the log's length)
//!   right after the change, wait ([`Mark::wait_for`]) for enough successful reads of an
//!   operation the object's pass always makes, then look at the calls after the mark. Each test
//!   reads its own emulator's log, and only the part after its own mark. A failed or throttled
//!   read never counts as a pass (fail closed).
//! - The object's status: [`generation_observed`] (`status.observedGeneration` reached
//!   `metadata.generation`: a pass ran on the current spec) and [`reconciled_now`] (the pass that
//!   handled a fresh `connectgr.io/reconcile-now` value wrote it to
//!   `status.lastHandledReconcileNow`: a whole pass ran after the call).
#![allow(dead_code)]

use std::time::{Duration, Instant};

use serde_json::Value;

use super::testbed::TestBed;

/// The Connect operations that write (what "nothing was sent" is about).
pub const WRITES: &[&str] = &[
    "ReplicateInstance",
    "CreateTrafficDistributionGroup",
    "DeleteTrafficDistributionGroup",
    "UpdateTrafficDistribution",
    "AssociateTrafficDistributionGroupUser",
    "DisassociateTrafficDistributionGroupUser",
    "UpdatePhoneNumber",
    "TagResource",
    "UntagResource",
    "AssociateLambdaFunction",
    "DisassociateLambdaFunction",
];

/// A position in one emulator's call log.
#[derive(Clone, Debug)]
pub struct Mark {
    url: String,
    index: usize,
}

/// `url`: the emulator's base URL (`http://127.0.0.1:port`) or address (`127.0.0.1:port`).
fn calls_since(url: &str, since: usize) -> Vec<Value> {
    let addr = url.trim_start_matches("http://");
    let (status, _, body) = super::emulator::http_request(
        addr,
        "GET",
        &format!("/_emulator/calls?since={since}"),
        &[],
        "",
    );
    assert_eq!(status, 200, "GET /_emulator/calls: {body}");
    serde_json::from_str(&body).expect("call log JSON")
}

/// Successful calls of `op` in `calls`.
pub fn ok_count(calls: &[Value], op: &str) -> usize {
    calls
        .iter()
        .filter(|c| c["operation"] == op && c["status"] == 200)
        .count()
}

/// Every call of `calls` to one of `ops` (successful or not: an attempt is an attempt), as
/// "Operation region status".
pub fn attempts(calls: &[Value], ops: &[&str]) -> Vec<String> {
    calls
        .iter()
        .filter(|c| ops.contains(&c["operation"].as_str().unwrap_or_default()))
        .map(|c| format!("{} {} {}", c["operation"], c["region"], c["status"]))
        .collect()
}

/// The emulator-clock times (seconds) of the successful `op` calls in `calls`, in order.
pub fn times(calls: &[Value], op: &str) -> Vec<f64> {
    calls
        .iter()
        .filter(|c| c["operation"] == op && c["status"] == 200)
        .filter_map(|c| c["time"].as_f64())
        .collect()
}

impl Mark {
    /// The end of the emulator's call log now: what comes later happened after this point.
    pub fn now(url: &str) -> Mark {
        Mark {
            url: url.to_string(),
            index: calls_since(url, 0).len(),
        }
    }

    /// The calls recorded after the mark.
    pub fn calls(&self) -> Vec<Value> {
        calls_since(&self.url, self.index)
    }

    /// Waits until at least `n` successful `op` calls were recorded after the mark and returns
    /// every call after the mark. Two reads that a pass makes in its observe step mean one whole
    /// pass ran after the mark (a pass of one object runs its observe, plan and execute before
    /// the next pass of that object starts); panics with the calls seen after `timeout`.
    pub async fn wait_for(&self, op: &str, n: usize, timeout: Duration) -> Vec<Value> {
        let start = Instant::now();
        loop {
            let calls = self.calls();
            if ok_count(&calls, op) >= n {
                return calls;
            }
            if start.elapsed() > timeout {
                let ops: Vec<String> = calls
                    .iter()
                    .map(|c| format!("{} {}", c["operation"], c["status"]))
                    .collect();
                panic!(
                    "timed out after {timeout:?} waiting for {n} successful {op} after the mark; calls after it: {ops:?}"
                );
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

fn jsonpath(bed: &TestBed, ns: &str, what: &str, path: &str) -> String {
    let out = bed.kubectl(&["get", "-n", ns, what, "-o", &format!("jsonpath={path}")]);
    String::from_utf8_lossy(&out.stdout).to_string()
}

async fn until(timeout: Duration, what: &str, mut f: impl FnMut() -> Option<String>) {
    let start = Instant::now();
    loop {
        let last = match f() {
            None => return,
            Some(last) => last,
        };
        if start.elapsed() > timeout {
            panic!("timed out after {timeout:?} waiting for {what}; last seen: {last}");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Waits until `what`'s `status.observedGeneration` reached its `metadata.generation`: the
/// controller ran a pass on the spec as it is now (call it after the spec change).
pub async fn generation_observed(bed: &TestBed, ns: &str, what: &str, timeout: Duration) {
    until(timeout, &format!("{what} observedGeneration"), || {
        let got = jsonpath(
            bed,
            ns,
            what,
            "{.metadata.generation} {.status.observedGeneration}",
        );
        let mut it = got.split_whitespace();
        match (it.next(), it.next()) {
            (Some(g), Some(o)) if g == o => None,
            _ => Some(got),
        }
    })
    .await;
}

/// Annotates `what` with `connectgr.io/reconcile-now=value` (a value not used before on it) and
/// waits until `status.lastHandledReconcileNow` says `value`: a whole pass of the controller
/// that runs now ended after this call.
pub async fn reconciled_now(bed: &TestBed, ns: &str, what: &str, value: &str, timeout: Duration) {
    let kv = format!("connectgr.io/reconcile-now={value}");
    let out = bed.kubectl(&["annotate", "-n", ns, what, &kv, "--overwrite"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    until(timeout, &format!("{what} to handle {kv}"), || {
        let got = jsonpath(bed, ns, what, "{.status.lastHandledReconcileNow}");
        (got != value).then_some(got)
    })
    .await;
}
