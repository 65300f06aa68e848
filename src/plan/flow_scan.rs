//! The flow scanner: which parameters of a flow-language document name a region literally
//! instead of `$.AwsRegion` (wave-2 reference §4.2). Pure: content in, hits out.
//!
//! - Lambda or Lex ARN with a literal region, or a V1 `LexBot.Region` literal: blocking (the
//!   replica would call the other region's function or bot, CHAOS fixes 8 and 16).
//! - Another ARN with a literal region (queue, flow, prompt, module): warning.
//! - A bare region literal in an executable parameter (not in prompt text): warning.
//! - A Lambda ARN read from a contact attribute is traced to the Set contact attributes block
//!   that builds it; one that cannot be traced: warning.
//!
//! `Metadata` (console layout data) does not execute and is not scanned.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::LazyLock;

use regex::Regex;
use serde_json::Value;

use crate::api::preflight::{Severity, kinds};

/// One parameter that names a region.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct FlowHit {
    pub kind: &'static str,
    pub severity: Severity,
    /// `<action identifier>.<parameter path>`.
    pub location: String,
    pub value: String,
    /// The region literal it names (None for dynamic or unreadable).
    pub literal_region: Option<String>,
}

/// What a flow refers to and what in it names a region.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FlowScan {
    pub hits: Vec<FlowHit>,
    /// Names of the Lambda functions it invokes (from static or traced ARNs).
    pub lambda_names: BTreeSet<String>,
    /// Lex V2 bot aliases it talks to, as (bot id, alias id).
    pub lex_aliases: BTreeSet<(String, String)>,
}

const REGION: &str = r"[a-z]{2}-(?:gov-)?(?:north|south|east|west|central|northeast|northwest|southeast|southwest)-\d";

static SERVICE_ARN: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(&format!(
        r"arn:aws[a-z-]*:([a-z0-9-]+):({REGION}|\$\.AwsRegion|\$\['AwsRegion'\]|[^:]*):"
    ))
    .unwrap()
});
static BARE_REGION: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(&format!(r"\b({REGION})\b")).unwrap());
static IS_REGION: LazyLock<Regex> = LazyLock::new(|| Regex::new(&format!("^{REGION}$")).unwrap());
static LAMBDA_NAME: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^arn:aws[a-z-]*:lambda:[^:]+:[^:]*:function:([A-Za-z0-9_-]{1,64})").unwrap()
});
static LEX_ALIAS: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^arn:aws[a-z-]*:lex:[^:]+:[^:]*:bot-alias/([0-9A-Za-z]+)/([0-9A-Za-z]+)").unwrap()
});
static ATTRIBUTE_REF: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^\$\.Attributes\.([A-Za-z0-9_.-]+)$").unwrap());

/// Parameter keys whose values are spoken or shown text, never a reference.
const TEXT_KEYS: &[&str] = &["Text", "SSML", "Message", "Description", "Name"];

/// Scans a flow or module's content (the flow-language JSON as a string).
pub fn scan(content: &str) -> FlowScan {
    let mut out = FlowScan::default();
    let doc: Value = match serde_json::from_str(content) {
        Ok(d) => d,
        Err(e) => {
            out.hits.push(FlowHit {
                kind: kinds::FLOW_UNREADABLE,
                severity: Severity::Warning,
                location: String::new(),
                value: format!("not JSON: {e}"),
                literal_region: None,
            });
            return out;
        }
    };
    let actions = doc
        .get("Actions")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    // contact attributes set anywhere in the flow (for tracing dynamic ARNs)
    let mut attributes: BTreeMap<String, String> = BTreeMap::new();
    for a in &actions {
        if a.get("Type").and_then(Value::as_str) == Some("UpdateContactAttributes")
            && let Some(m) = a
                .pointer("/Parameters/Attributes")
                .and_then(Value::as_object)
        {
            for (k, v) in m {
                if let Some(s) = v.as_str() {
                    attributes.insert(k.clone(), s.to_string());
                }
            }
        }
    }
    for a in &actions {
        let id = a.get("Identifier").and_then(Value::as_str).unwrap_or("?");
        if let Some(p) = a.get("Parameters") {
            walk(p, id, "", &attributes, &mut out);
        }
    }
    out.hits.sort();
    out.hits.dedup();
    out
}

fn walk(v: &Value, id: &str, path: &str, attrs: &BTreeMap<String, String>, out: &mut FlowScan) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                let p = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                walk(x, id, &p, attrs, out);
            }
        }
        Value::Array(xs) => {
            for (i, x) in xs.iter().enumerate() {
                walk(x, id, &format!("{path}[{i}]"), attrs, out);
            }
        }
        Value::String(s) => string(s, id, path, attrs, out),
        _ => {}
    }
}

fn hit(
    out: &mut FlowScan,
    kind: &'static str,
    sev: Severity,
    loc: String,
    value: &str,
    r: Option<&str>,
) {
    out.hits.push(FlowHit {
        kind,
        severity: sev,
        location: loc,
        value: value.to_string(),
        literal_region: r.map(str::to_string),
    });
}

fn string(s: &str, id: &str, path: &str, attrs: &BTreeMap<String, String>, out: &mut FlowScan) {
    let loc = format!("{id}.{path}");
    let key = path.rsplit('.').next().unwrap_or(path);
    // a Lambda ARN taken from a contact attribute: trace it to the block that sets it
    if key == "LambdaFunctionARN"
        && let Some(c) = ATTRIBUTE_REF.captures(s)
    {
        match attrs.get(&c[1]) {
            Some(built) => refs(built, out),
            None => hit(
                out,
                kinds::FLOW_DYNAMIC_ARN,
                Severity::Warning,
                loc,
                s,
                None,
            ),
        }
        return;
    }
    refs(s, out);
    if path.ends_with("LexBot.Region") && IS_REGION.is_match(s) {
        hit(
            out,
            kinds::FLOW_HARDCODED_REGION,
            Severity::Blocking,
            loc,
            s,
            Some(s),
        );
        return;
    }
    let mut arn_found = false;
    for c in SERVICE_ARN.captures_iter(s) {
        arn_found = true;
        let (service, region) = (&c[1], &c[2]);
        if !IS_REGION.is_match(region) {
            continue;
        }
        let (kind, sev) = if service == "lambda" || service == "lex" {
            (kinds::FLOW_HARDCODED_REGION, Severity::Blocking)
        } else {
            (kinds::FLOW_REGIONAL_ARN, Severity::Warning)
        };
        hit(out, kind, sev, loc.clone(), s, Some(region));
    }
    if arn_found || TEXT_KEYS.contains(&key) || s.contains(char::is_whitespace) {
        return;
    }
    if let Some(c) = BARE_REGION.captures(s) {
        hit(
            out,
            kinds::FLOW_REGION_LITERAL,
            Severity::Warning,
            loc,
            s,
            Some(&c[1]),
        );
    }
}

/// Records the Lambda function name or Lex alias an ARN refers to.
fn refs(s: &str, out: &mut FlowScan) {
    if let Some(c) = LAMBDA_NAME.captures(s) {
        out.lambda_names.insert(c[1].to_string());
    }
    if let Some(c) = LEX_ALIAS.captures(s) {
        out.lex_aliases.insert((c[1].to_string(), c[2].to_string()));
    }
}

/// The function name of a Lambda ARN.
pub fn lambda_name(arn: &str) -> Option<&str> {
    LAMBDA_NAME
        .captures(arn)
        .and_then(|c| c.get(1))
        .map(|m| m.as_str())
}

/// (bot id, alias id) of a Lex V2 alias ARN.
pub fn lex_alias(arn: &str) -> Option<(String, String)> {
    LEX_ALIAS
        .captures(arn)
        .map(|c| (c[1].to_string(), c[2].to_string()))
}

#[cfg(test)]
#[path = "flow_scan_tests.rs"]
mod tests;
