//! Write intents (issue 25): a split write is recorded in `status.pendingSplit` before it is
//! sent, so a crash between the write and the status write is not taken for someone else's
//! drift after the restart. Pure.

use crate::api::traffic_distribution::LastAppliedSplit;
use crate::connect::Distribution;

/// Whether Connect has every declared part of `intent`.
pub fn taken(intent: &LastAppliedSplit, observed: &Distribution) -> bool {
    intent
        .telephony
        .as_ref()
        .is_none_or(|t| *t == observed.telephony)
        && intent.agents.as_ref().is_none_or(|a| *a == observed.agents)
        && intent
            .sign_in
            .as_ref()
            .is_none_or(|s| *s == observed.sign_in)
}

/// What the controller last applied, given the recorded `last_applied` and a `pending` intent
/// whose outcome was never recorded: the intent when Connect has it (the write went through
/// before the crash), else the recorded split (the write never arrived; anything else is drift).
pub fn last_applied(
    recorded: Option<LastAppliedSplit>,
    pending: Option<LastAppliedSplit>,
    observed: &Distribution,
) -> Option<LastAppliedSplit> {
    match pending {
        Some(p) if taken(&p, observed) => Some(p),
        _ => recorded,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn split(w2: i32, e1: i32) -> BTreeMap<String, i32> {
        [("us-west-2".to_string(), w2), ("us-east-1".to_string(), e1)].into()
    }

    fn dist(w2: i32, e1: i32) -> Distribution {
        Distribution {
            telephony: split(w2, e1),
            agents: split(w2, e1),
            sign_in: Default::default(),
        }
    }

    fn declared(w2: i32, e1: i32) -> LastAppliedSplit {
        LastAppliedSplit {
            telephony: Some(split(w2, e1)),
            agents: None,
            sign_in: None,
        }
    }

    #[test]
    fn a_write_connect_took_before_a_crash_becomes_last_applied() {
        let got = last_applied(
            Some(declared(100, 0)),
            Some(declared(70, 30)),
            &dist(70, 30),
        );
        assert_eq!(got, Some(declared(70, 30)));
    }

    #[test]
    fn a_write_that_never_arrived_leaves_last_applied_as_recorded() {
        let got = last_applied(
            Some(declared(100, 0)),
            Some(declared(70, 30)),
            &dist(100, 0),
        );
        assert_eq!(got, Some(declared(100, 0)));
    }

    #[test]
    fn a_split_that_is_neither_recorded_nor_intended_stays_drift() {
        let got = last_applied(
            Some(declared(100, 0)),
            Some(declared(70, 30)),
            &dist(50, 50),
        );
        assert_eq!(got, Some(declared(100, 0)));
    }

    #[test]
    fn without_an_intent_the_recorded_split_stands() {
        assert_eq!(
            last_applied(Some(declared(100, 0)), None, &dist(70, 30)),
            Some(declared(100, 0))
        );
        assert_eq!(last_applied(None, None, &dist(70, 30)), None);
    }

    #[test]
    fn only_declared_parts_of_an_intent_are_compared() {
        let mut observed = dist(70, 30);
        observed.agents = split(0, 100);
        assert!(taken(&declared(70, 30), &observed));
        let with_agents = LastAppliedSplit {
            agents: Some(split(70, 30)),
            ..declared(70, 30)
        };
        assert!(!taken(&with_agents, &observed));
    }
}
