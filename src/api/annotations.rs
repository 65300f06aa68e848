//! The annotations every kind understands, and their pure parsing (time is an argument).

use std::collections::BTreeMap;

use k8s_openapi::jiff::Timestamp;

/// `Full` (default) or `Observe`: read Connect, write nothing, report the plan.
pub const MANAGEMENT_POLICY: &str = "connectgr.io/management-policy";
/// `"true"` or an RFC 3339 time until which the object is left alone (no reads, no writes).
pub const PAUSED: &str = "connectgr.io/paused";
/// Any new value: a pass at once, with every read fresh (no cached members or users).
pub const RECONCILE_NOW: &str = "connectgr.io/reconcile-now";
/// Any new value: resume a paused correction (corrects a drift at once) or an aborted/paused
/// rollout. The last value acted on is kept in `status.lastHandledResume`: one value acts once.
pub const RESUME: &str = "connectgr.io/resume";
/// `"<step>"` or `"all"`: approve rollout steps.
pub const APPROVE: &str = "connectgr.io/approve";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ManagementPolicy {
    Full,
    Observe,
}

/// The object's management policy; `observe_all` is `connect-gr controller --observe-only`.
/// An unknown value is taken as `Observe`: when in doubt, write nothing.
pub fn management_policy(
    annotations: &BTreeMap<String, String>,
    observe_all: bool,
) -> ManagementPolicy {
    if observe_all {
        return ManagementPolicy::Observe;
    }
    match annotations.get(MANAGEMENT_POLICY).map(|v| v.trim()) {
        None | Some("") | Some("Full") => ManagementPolicy::Full,
        Some(_) => ManagementPolicy::Observe,
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pause {
    No,
    Indefinitely,
    Until(Timestamp),
    /// The value is neither "true"/"false" nor an RFC 3339 time: left alone until it is fixed.
    Invalid(String),
}

/// Whether the object is paused at `now`. A time in the past means not paused (any more).
pub fn pause(annotations: &BTreeMap<String, String>, now: Timestamp) -> Pause {
    let Some(v) = annotations.get(PAUSED).map(|v| v.trim()) else {
        return Pause::No;
    };
    match v {
        "" | "false" => Pause::No,
        "true" => Pause::Indefinitely,
        t => match t.parse::<Timestamp>() {
            Ok(until) if until > now => Pause::Until(until),
            Ok(_) => Pause::No,
            Err(_) => Pause::Invalid(t.to_string()),
        },
    }
}

/// A `reconcile-now` value not handled yet (compared with the one recorded in status).
pub fn reconcile_now_requested<'a>(
    annotations: &'a BTreeMap<String, String>,
    last_handled: Option<&str>,
) -> Option<&'a str> {
    annotations
        .get(RECONCILE_NOW)
        .map(String::as_str)
        .filter(|v| !v.is_empty() && Some(*v) != last_handled)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ann(k: &str, v: &str) -> BTreeMap<String, String> {
        [(k.to_string(), v.to_string())].into()
    }
    fn t(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn management_policy_is_full_unless_observe_is_asked_for_and_unknown_values_observe() {
        assert_eq!(
            management_policy(&BTreeMap::new(), false),
            ManagementPolicy::Full
        );
        assert_eq!(
            management_policy(&ann(MANAGEMENT_POLICY, "Full"), false),
            ManagementPolicy::Full
        );
        assert_eq!(
            management_policy(&ann(MANAGEMENT_POLICY, "Observe"), false),
            ManagementPolicy::Observe
        );
        assert_eq!(
            management_policy(&ann(MANAGEMENT_POLICY, "ReadOnly?"), false),
            ManagementPolicy::Observe
        );
        assert_eq!(
            management_policy(&ann(MANAGEMENT_POLICY, "Full"), true),
            ManagementPolicy::Observe,
            "--observe-only wins"
        );
    }

    #[test]
    fn pause_until_a_time_ends_at_that_time() {
        let a = ann(PAUSED, "2026-12-01T12:00:00Z");
        assert_eq!(
            pause(&a, t("2026-12-01T11:00:00Z")),
            Pause::Until(t("2026-12-01T12:00:00Z"))
        );
        assert_eq!(pause(&a, t("2026-12-01T12:00:01Z")), Pause::No);
    }

    #[test]
    fn pause_true_is_indefinite_and_garbage_is_reported() {
        let now = t("2026-12-01T11:00:00Z");
        assert_eq!(pause(&ann(PAUSED, "true"), now), Pause::Indefinitely);
        assert_eq!(pause(&ann(PAUSED, "false"), now), Pause::No);
        assert_eq!(pause(&BTreeMap::new(), now), Pause::No);
        assert!(matches!(
            pause(&ann(PAUSED, "tomorrow"), now),
            Pause::Invalid(_)
        ));
    }

    #[test]
    fn reconcile_now_acts_once_per_value() {
        let a = ann(RECONCILE_NOW, "1");
        assert_eq!(reconcile_now_requested(&a, None), Some("1"));
        assert_eq!(reconcile_now_requested(&a, Some("1")), None);
        assert_eq!(reconcile_now_requested(&a, Some("0")), Some("1"));
        assert_eq!(reconcile_now_requested(&BTreeMap::new(), None), None);
    }
}
