//! Input validation: JSON member types, lengths and patterns from the model, and the percentage
//! rules of D2/D3. Each op reports bad input with the error type it declares (see `Ctx::bad`).

use std::sync::LazyLock;

use regex::Regex;
use serde_json::Value;

const UUID: &str = r"[a-f0-9]{8}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{12}";

pub static UUID_RE: LazyLock<Regex> = LazyLock::new(|| Regex::new(&format!("^{UUID}$")).unwrap());
pub static INSTANCE_ID_OR_ARN: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(&format!(
        r"^(arn:(aws|aws-us-gov):connect:[a-z]{{2}}-[a-z]+-[0-9]{{1}}:[0-9]{{1,20}}:instance/)?{UUID}$"
    ))
    .unwrap()
});
pub static TDG_ID_OR_ARN: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(&format!(
        r"^(arn:(aws|aws-us-gov):connect:[a-z]{{2}}-[a-z-]+-[0-9]{{1}}:[0-9]{{1,20}}:traffic-distribution-group/)?{UUID}$"
    ))
    .unwrap()
});
pub static REGION: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[a-z]{2}(-[a-z]+){1,2}(-[0-9])?$").unwrap());
pub static ALIAS: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^([\da-zA-Z]+)([-]*[\da-zA-Z])*$").unwrap());
pub static E164: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^\+[1-9]\d{1,14}$").unwrap());
pub static USERNAME: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[a-zA-Z0-9_\-.@]+$").unwrap());
pub static LAMBDA_ARN: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^arn:aws[a-z-]*:lambda:([a-z]{2}(-[a-z]+){1,2}-[0-9]):([0-9]{12}):function:([A-Za-z0-9_-]{1,64})(:[A-Za-z0-9$_-]+)?$").unwrap()
});

/// Alias pattern `^(?!d-)([\da-zA-Z]+)([-]*[\da-zA-Z])*$` (the regex crate has no lookahead).
pub fn alias_ok(s: &str) -> bool {
    !s.starts_with("d-") && ALIAS.is_match(s)
}

/// `Name128`/`Description250` pattern: no leading or trailing whitespace.
pub fn trimmed_ok(s: &str) -> bool {
    !s.is_empty() && !s.starts_with(char::is_whitespace) && !s.ends_with(char::is_whitespace)
}

pub fn len_ok(s: &str, min: usize, max: usize) -> bool {
    let n = s.chars().count();
    n >= min && n <= max
}

/// A parsed ARN `arn:partition:service:region:account:resource`.
pub struct Arn<'a> {
    pub region: &'a str,
    pub account: &'a str,
    pub resource: &'a str,
}

pub fn parse_arn(s: &str) -> Option<Arn<'_>> {
    let mut it = s.splitn(6, ':');
    if it.next()? != "arn" {
        return None;
    }
    let _partition = it.next()?;
    let _service = it.next()?;
    let region = it.next()?;
    let account = it.next()?;
    let resource = it.next()?;
    Some(Arn {
        region,
        account,
        resource,
    })
}

/// Type-checked access to a JSON request body; errors name the member.
pub struct Body<'a>(pub &'a Value);

impl<'a> Body<'a> {
    fn get(&self, k: &str) -> Option<&'a Value> {
        match self.0.get(k) {
            None | Some(Value::Null) => None,
            Some(v) => Some(v),
        }
    }
    pub fn str(&self, k: &str) -> Result<Option<&'a str>, String> {
        match self.get(k) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.as_str())),
            Some(_) => Err(format!("{k} must be a string")),
        }
    }
    pub fn req_str(&self, k: &str) -> Result<&'a str, String> {
        self.str(k)?.ok_or_else(|| format!("{k} is required"))
    }
    pub fn int(&self, k: &str) -> Result<Option<i64>, String> {
        match self.get(k) {
            None => Ok(None),
            Some(v) => v
                .as_i64()
                .map(Some)
                .ok_or_else(|| format!("{k} must be an integer")),
        }
    }
    pub fn bool(&self, k: &str) -> Result<Option<bool>, String> {
        match self.get(k) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(_) => Err(format!("{k} must be a boolean")),
        }
    }
    pub fn obj(&self, k: &str) -> Result<Option<Body<'a>>, String> {
        match self.get(k) {
            None => Ok(None),
            Some(v @ Value::Object(_)) => Ok(Some(Body(v))),
            Some(_) => Err(format!("{k} must be an object")),
        }
    }
    pub fn list(&self, k: &str) -> Result<Option<&'a Vec<Value>>, String> {
        match self.get(k) {
            None => Ok(None),
            Some(Value::Array(a)) => Ok(Some(a)),
            Some(_) => Err(format!("{k} must be a list")),
        }
    }
    pub fn str_list(&self, k: &str) -> Result<Option<Vec<&'a str>>, String> {
        match self.list(k)? {
            None => Ok(None),
            Some(a) => a
                .iter()
                .map(|v| {
                    v.as_str()
                        .ok_or_else(|| format!("{k} must be a list of strings"))
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Some),
        }
    }
    /// `TagMap`: 1..=50 entries, keys 1..=128, values ≤ 256.
    pub fn tags(
        &self,
        k: &str,
    ) -> Result<Option<std::collections::BTreeMap<String, String>>, String> {
        match self.get(k) {
            None => Ok(None),
            Some(Value::Object(m)) => {
                if m.is_empty() || m.len() > 50 {
                    return Err(format!("{k} must hold between 1 and 50 tags"));
                }
                let mut out = std::collections::BTreeMap::new();
                for (key, v) in m {
                    let v = v
                        .as_str()
                        .ok_or_else(|| format!("{k}.{key} must be a string"))?;
                    if !len_ok(key, 1, 128) || key.starts_with("aws:") {
                        return Err(format!(
                            "tag key {key:?} must be 1-128 characters and not start with aws:"
                        ));
                    }
                    if v.chars().count() > 256 {
                        return Err(format!(
                            "tag value of {key:?} is longer than 256 characters"
                        ));
                    }
                    out.insert(key.clone(), v.to_string());
                }
                Ok(Some(out))
            }
            Some(_) => Err(format!("{k} must be a map of strings")),
        }
    }
}

/// D2: a percentage distribution over exactly the two regions of the group, in steps of 10,
/// adding up to 100.
pub fn percentages(what: &str, dists: &[(String, i64)], regions: [&str; 2]) -> Result<(), String> {
    check_regions(what, dists.iter().map(|(r, _)| r.as_str()), regions)?;
    for (r, p) in dists {
        if !(0..=100).contains(p) {
            return Err(format!(
                "{what}: percentage for {r} is {p}; it must be between 0 and 100"
            ));
        }
        if p % 10 != 0 {
            return Err(format!(
                "{what}: percentage for {r} is {p}; percentages must be multiples of 10"
            ));
        }
    }
    let sum: i64 = dists.iter().map(|(_, p)| p).sum();
    if sum != 100 {
        return Err(format!(
            "{what}: percentages add up to {sum}; they must add up to 100"
        ));
    }
    Ok(())
}

/// D3: sign-in over both regions, at least one enabled.
pub fn sign_in(dists: &[(String, bool)], regions: [&str; 2]) -> Result<(), String> {
    check_regions(
        "SignInConfig",
        dists.iter().map(|(r, _)| r.as_str()),
        regions,
    )?;
    if !dists.iter().any(|(_, e)| *e) {
        return Err("SignInConfig: at least one region must stay enabled for sign-in".into());
    }
    Ok(())
}

fn check_regions<'a>(
    what: &str,
    got: impl Iterator<Item = &'a str>,
    regions: [&str; 2],
) -> Result<(), String> {
    let got: Vec<&str> = got.collect();
    let mut sorted = got.clone();
    sorted.sort_unstable();
    let mut want = regions.to_vec();
    want.sort_unstable();
    if sorted != want {
        return Err(format!(
            "{what} must list exactly the two regions of the group ({} and {}), each once; got [{}]",
            regions[0],
            regions[1],
            got.join(", ")
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const R: [&str; 2] = ["us-west-2", "us-east-1"];
    fn d(v: &[(&str, i64)]) -> Vec<(String, i64)> {
        v.iter().map(|(r, p)| (r.to_string(), *p)).collect()
    }

    #[test]
    fn percentage_rules() {
        assert!(percentages("T", &d(&[("us-west-2", 60), ("us-east-1", 40)]), R).is_ok());
        assert!(percentages("T", &d(&[("us-east-1", 100), ("us-west-2", 0)]), R).is_ok());
        assert!(
            percentages("T", &d(&[("us-west-2", 55), ("us-east-1", 45)]), R)
                .unwrap_err()
                .contains("multiples of 10")
        );
        assert!(
            percentages("T", &d(&[("us-west-2", 60), ("us-east-1", 60)]), R)
                .unwrap_err()
                .contains("add up to 120")
        );
        assert!(percentages("T", &d(&[("us-west-2", 100)]), R).is_err());
        assert!(percentages("T", &d(&[("us-west-2", 50), ("us-west-2", 50)]), R).is_err());
        assert!(percentages("T", &d(&[("us-west-2", 50), ("eu-west-2", 50)]), R).is_err());
        assert!(percentages("T", &d(&[("us-west-2", 110), ("us-east-1", -10)]), R).is_err());
    }

    #[test]
    fn sign_in_rules() {
        let s = |a: bool, b: bool| vec![("us-west-2".to_string(), a), ("us-east-1".to_string(), b)];
        assert!(sign_in(&s(true, true), R).is_ok());
        assert!(sign_in(&s(false, true), R).is_ok());
        assert!(sign_in(&s(false, false), R).is_err());
    }

    #[test]
    fn patterns() {
        assert!(alias_ok("support-center"));
        assert!(!alias_ok("d-123"));
        assert!(!alias_ok("-x"));
        assert!(!alias_ok("a_b"));
        assert!(E164.is_match("+14255550100"));
        assert!(!E164.is_match("14255550100"));
        assert!(TDG_ID_OR_ARN.is_match("arn:aws:connect:us-west-2:123456789012:traffic-distribution-group/4f5e3c1a-7b2d-4c8e-9a10-2b3c4d5e6f70"));
        assert!(!TDG_ID_OR_ARN.is_match("nope"));
        assert!(INSTANCE_ID_OR_ARN.is_match("4f5e3c1a-7b2d-4c8e-9a10-2b3c4d5e6f70"));
        assert!(trimmed_ok("a"));
        assert!(!trimmed_ok(" a"));
        let a = parse_arn("arn:aws:connect:us-east-1:123:instance/x/agent/y").unwrap();
        assert_eq!(
            (a.region, a.account, a.resource),
            ("us-east-1", "123", "instance/x/agent/y")
        );
    }
}
