//! AWS regions and the replication pair table (spec rule R1), in one place.
//!
//! The default table is [`DEFAULT_PAIRS`]; [`RegionPairs::with_extra`] extends it (from a flag or
//! a config file). Pairs are directional (source -> replica); a pair marked `both_ways` also
//! allows the reverse direction. A traffic distribution group spans the two regions of one pair,
//! in either order.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

/// One allowed replication: `source` may be replicated to `replica`, and the reverse too when
/// `both_ways` is set.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RegionPair {
    pub source: String,
    pub replica: String,
    pub both_ways: bool,
}

impl RegionPair {
    pub fn new(source: &str, replica: &str, both_ways: bool) -> Self {
        Self {
            source: source.to_string(),
            replica: replica.to_string(),
            both_ways,
        }
    }
}

impl fmt::Display for RegionPair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let arrow = if self.both_ways { "<->" } else { "->" };
        write!(f, "{} {} {}", self.source, arrow, self.replica)
    }
}

/// Parses `a<->b` / `a:b` (both ways) or `a->b` (one way).
impl FromStr for RegionPair {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        let (a, b, both) = if let Some((a, b)) = s.split_once("<->") {
            (a, b, true)
        } else if let Some((a, b)) = s.split_once("->") {
            (a, b, false)
        } else if let Some((a, b)) = s.split_once(':') {
            (a, b, true)
        } else {
            return Err(format!(
                "region pair {s:?}: expected SOURCE<->REPLICA, SOURCE:REPLICA or SOURCE->REPLICA"
            ));
        };
        let (a, b) = (a.trim(), b.trim());
        for r in [a, b] {
            if !is_region_name(r) {
                return Err(format!(
                    "region pair {s:?}: {r:?} is not an AWS region name"
                ));
            }
        }
        if a == b {
            return Err(format!("region pair {s:?}: the two regions must differ"));
        }
        Ok(RegionPair::new(a, b, both))
    }
}

/// The default pair table of rule R1.
pub const DEFAULT_PAIRS: &[(&str, &str, bool)] = &[
    ("us-east-1", "us-west-2", true),
    ("eu-central-1", "eu-west-2", true),
    ("ap-northeast-1", "ap-northeast-3", false),
];

/// The replication pair table (R1), possibly extended from configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegionPairs {
    pairs: Vec<RegionPair>,
}

impl Default for RegionPairs {
    fn default() -> Self {
        Self {
            pairs: DEFAULT_PAIRS
                .iter()
                .map(|(a, b, both)| RegionPair::new(a, b, *both))
                .collect(),
        }
    }
}

impl RegionPairs {
    /// The default table plus `extra` pairs (duplicates are ignored).
    pub fn with_extra(extra: impl IntoIterator<Item = RegionPair>) -> Self {
        let mut t = Self::default();
        for p in extra {
            if !t.pairs.contains(&p) {
                t.pairs.push(p);
            }
        }
        t
    }

    pub fn pairs(&self) -> &[RegionPair] {
        &self.pairs
    }

    /// May an instance in `source` be replicated to `replica`?
    pub fn can_replicate(&self, source: &str, replica: &str) -> bool {
        self.pairs.iter().any(|p| {
            (p.source == source && p.replica == replica)
                || (p.both_ways && p.source == replica && p.replica == source)
        })
    }

    /// Do `a` and `b` form a pair in either direction (the two regions of a replicated instance)?
    pub fn is_pair(&self, a: &str, b: &str) -> bool {
        self.pairs
            .iter()
            .any(|p| (p.source == a && p.replica == b) || (p.source == b && p.replica == a))
    }

    /// The region paired with `region` (the first one in the table), if any.
    pub fn partner(&self, region: &str) -> Option<&str> {
        self.pairs.iter().find_map(|p| {
            if p.source == region {
                Some(p.replica.as_str())
            } else if p.replica == region {
                Some(p.source.as_str())
            } else {
                None
            }
        })
    }

    /// Every region that appears in the table, sorted.
    pub fn regions(&self) -> BTreeSet<&str> {
        self.pairs
            .iter()
            .flat_map(|p| [p.source.as_str(), p.replica.as_str()])
            .collect()
    }

    /// Human-readable list, e.g. `us-east-1 <-> us-west-2, ap-northeast-1 -> ap-northeast-3`.
    pub fn describe(&self) -> String {
        self.pairs
            .iter()
            .map(|p| p.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// CEL expression (on `self.<src>` / `self.<dst>` string fields) that is true when the two
    /// fields form an allowed replication (directional).
    pub fn cel_can_replicate(&self, src: &str, dst: &str) -> String {
        let mut alts = Vec::new();
        for p in &self.pairs {
            alts.push(format!(
                "(self.{src} == '{}' && self.{dst} == '{}')",
                p.source, p.replica
            ));
            if p.both_ways {
                alts.push(format!(
                    "(self.{src} == '{}' && self.{dst} == '{}')",
                    p.replica, p.source
                ));
            }
        }
        alts.join(" || ")
    }

    /// CEL expression on a map `self` keyed by region: true when its keys are the two regions
    /// of one pair (either order). Assumes the map has exactly two keys.
    pub fn cel_map_is_pair(&self) -> String {
        let mut seen = BTreeSet::new();
        let mut alts = Vec::new();
        for p in &self.pairs {
            let key = if p.source < p.replica {
                (p.source.clone(), p.replica.clone())
            } else {
                (p.replica.clone(), p.source.clone())
            };
            if seen.insert(key.clone()) {
                alts.push(format!("('{}' in self && '{}' in self)", key.0, key.1));
            }
        }
        alts.join(" || ")
    }
}

/// Shape of an AWS region name (`us-east-1`, `ap-northeast-3`, `us-gov-west-1`).
pub const REGION_PATTERN: &str = "^[a-z]{2}(-[a-z]+)+-[0-9]{1,2}$";

/// Does `s` look like an AWS region name?
pub fn is_region_name(s: &str) -> bool {
    static RE: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    RE.get_or_init(|| regex::Regex::new(REGION_PATTERN).expect("region regex"))
        .is_match(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_table_follows_rule_r1() {
        let t = RegionPairs::default();
        assert!(t.can_replicate("us-east-1", "us-west-2"));
        assert!(t.can_replicate("us-west-2", "us-east-1"));
        assert!(t.can_replicate("eu-central-1", "eu-west-2"));
        assert!(t.can_replicate("eu-west-2", "eu-central-1"));
        assert!(t.can_replicate("ap-northeast-1", "ap-northeast-3"));
        assert!(!t.can_replicate("ap-northeast-3", "ap-northeast-1"));
        assert!(!t.can_replicate("us-east-1", "eu-west-2"));
        assert!(!t.can_replicate("us-east-1", "us-east-1"));
        assert!(t.is_pair("ap-northeast-3", "ap-northeast-1"));
        assert!(!t.is_pair("us-east-1", "us-east-2"));
        assert_eq!(t.partner("us-west-2"), Some("us-east-1"));
        assert_eq!(t.partner("sa-east-1"), None);
    }

    #[test]
    fn extra_pairs_extend_the_table() {
        let extra: RegionPair = "ca-central-1<->us-east-2".parse().unwrap();
        let t = RegionPairs::with_extra([extra.clone(), extra]);
        assert_eq!(t.pairs().len(), 4);
        assert!(t.can_replicate("us-east-2", "ca-central-1"));
        let one: RegionPair = "eu-west-1->eu-west-3".parse().unwrap();
        assert!(!one.both_ways);
        assert!("us-east-1".parse::<RegionPair>().is_err());
        assert!("us-east-1:us-east-1".parse::<RegionPair>().is_err());
        assert!("US-EAST-1:us-west-2".parse::<RegionPair>().is_err());
    }

    #[test]
    fn region_names() {
        for ok in [
            "us-east-1",
            "ap-northeast-3",
            "us-gov-west-1",
            "eu-central-2",
        ] {
            assert!(is_region_name(ok), "{ok}");
        }
        for bad in [
            "",
            "us-east",
            "US-EAST-1",
            "useast1",
            "us-east-1a",
            "us_east_1",
        ] {
            assert!(!is_region_name(bad), "{bad}");
        }
    }

    #[test]
    fn cel_expressions_mention_every_pair() {
        let t = RegionPairs::default();
        let e = t.cel_can_replicate("sourceRegion", "replicaRegion");
        assert!(
            e.contains("(self.sourceRegion == 'us-west-2' && self.replicaRegion == 'us-east-1')")
        );
        assert!(!e.contains("self.sourceRegion == 'ap-northeast-3'"));
        let m = t.cel_map_is_pair();
        assert!(m.contains("('ap-northeast-1' in self && 'ap-northeast-3' in self)"));
    }
}
