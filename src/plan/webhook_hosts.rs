//! Which hosts webhook gates may call (`connect-gr controller --allowed-webhook-hosts`): a comma
//! list of host globs. Pure: a host name in, allowed or not out.

use std::fmt;
use std::str::FromStr;

/// The default: services inside the cluster and the local host.
pub const DEFAULT_ALLOWED_WEBHOOK_HOSTS: &str = "*.svc,*.svc.cluster.local,localhost,127.0.0.1";

/// Host globs: `*` stands for one or more characters (dots included, so `*.svc` matches
/// `checker.ops.svc`); matching ignores case and a trailing dot; IPv6 brackets are optional.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowedHosts(Vec<String>);

impl Default for AllowedHosts {
    fn default() -> Self {
        DEFAULT_ALLOWED_WEBHOOK_HOSTS
            .parse()
            .expect("the default allow-list parses")
    }
}

impl AllowedHosts {
    /// Whether `host` (a URL's host, as the HTTP client connects to it) matches a glob.
    pub fn allows(&self, host: &str) -> bool {
        let host = normalise(host);
        !host.is_empty() && self.0.iter().any(|g| glob_matches(g, &host))
    }

    pub fn globs(&self) -> &[String] {
        &self.0
    }
}

impl fmt::Display for AllowedHosts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.join(","))
    }
}

impl FromStr for AllowedHosts {
    type Err = String;

    /// A comma list of globs; an empty list allows no host.
    fn from_str(s: &str) -> Result<Self, String> {
        let mut out = Vec::new();
        for g in s.split(',').map(str::trim).filter(|g| !g.is_empty()) {
            let ok = g
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-.*:[]_".contains(c));
            if !ok {
                return Err(format!(
                    "{g:?} is not a host glob (letters, digits, '-', '.', ':', '*')"
                ));
            }
            out.push(normalise(g));
        }
        Ok(Self(out))
    }
}

fn normalise(h: &str) -> String {
    let h = h.trim().trim_end_matches('.').to_ascii_lowercase();
    match h.strip_prefix('[').and_then(|r| r.strip_suffix(']')) {
        Some(inner) => inner.to_string(),
        None => h,
    }
}

/// `*` matches one or more characters; everything else matches itself (case already folded).
pub fn glob_matches(glob: &str, host: &str) -> bool {
    fn go(g: &[u8], h: &[u8]) -> bool {
        match g.split_first() {
            None => h.is_empty(),
            Some((b'*', rest)) => (1..=h.len()).any(|i| go(rest, &h[i..])),
            Some((c, rest)) => h.first() == Some(c) && go(rest, &h[1..]),
        }
    }
    go(glob.as_bytes(), host.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn default() -> AllowedHosts {
        AllowedHosts::default()
    }

    #[test]
    fn the_default_allows_cluster_services_and_the_local_host() {
        let a = default();
        for h in [
            "checker.ops.svc",
            "checker.ops.svc.cluster.local",
            "localhost",
            "127.0.0.1",
            "Checker.OPS.svc.",
        ] {
            assert!(a.allows(h), "{h}");
        }
    }

    #[test]
    fn the_default_refuses_hosts_outside_the_cluster() {
        let a = default();
        for h in [
            "checker.example.com",
            "169.254.169.254",
            "svc",
            "evil.svc.example.com",
            "127.0.0.2",
            "localhost.example.com",
            "",
        ] {
            assert!(!a.allows(h), "{h}");
        }
    }

    #[test]
    fn a_star_stands_for_one_or_more_characters_dots_included() {
        assert!(glob_matches("*.example.com", "a.b.example.com"));
        assert!(glob_matches("gate-*.example.com", "gate-1.example.com"));
        assert!(!glob_matches("*.example.com", "example.com"));
        assert!(!glob_matches("*.example.com", ".example.com"));
        assert!(!glob_matches("gate.example.com", "gate.example.co"));
    }

    #[test]
    fn ipv6_hosts_match_with_or_without_brackets() {
        let a: AllowedHosts = "::1".parse().unwrap();
        assert!(a.allows("[::1]"));
        assert!(a.allows("::1"));
    }

    #[test]
    fn an_empty_list_allows_no_host() {
        let a: AllowedHosts = "".parse().unwrap();
        assert!(a.globs().is_empty());
        assert!(!a.allows("localhost"));
    }

    #[test]
    fn a_glob_with_a_scheme_or_path_is_refused_at_parse_time() {
        assert!("https://gate.example.com".parse::<AllowedHosts>().is_err());
        assert!("gate.example.com/x".parse::<AllowedHosts>().is_err());
    }

    #[test]
    fn the_list_prints_as_it_is_given() {
        assert_eq!(default().to_string(), DEFAULT_ALLOWED_WEBHOOK_HOSTS);
    }
}
