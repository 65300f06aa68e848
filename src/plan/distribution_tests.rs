use super::*;
use proptest::prelude::*;

const W: &str = "us-west-2";
const E: &str = "us-east-1";

fn m(w: i32, e: i32) -> BTreeMap<String, i32> {
    [(W.to_string(), w), (E.to_string(), e)]
        .into_iter()
        .collect()
}

fn s(w: bool, e: bool) -> BTreeMap<String, bool> {
    [(W.to_string(), w), (E.to_string(), e)]
        .into_iter()
        .collect()
}

fn group(default: bool) -> GroupFacts {
    GroupFacts {
        is_default: default,
        status: "ACTIVE".into(),
        regions: [W.into(), E.into()],
    }
}

fn observed(t: (i32, i32), a: (i32, i32)) -> Distribution {
    Distribution {
        telephony: m(t.0, t.1),
        agents: m(a.0, a.1),
        sign_in: s(true, true),
    }
}

fn desired(t: (i32, i32), a: (i32, i32)) -> DesiredDistribution {
    DesiredDistribution {
        telephony: Some(m(t.0, t.1)),
        agents: Some(m(a.0, a.1)),
        ..Default::default()
    }
}

#[test]
fn d2_percentages_must_add_up_to_100() {
    let d = desired((60, 30), (50, 50));
    assert!(matches!(
        plan(&d, &group(true), &observed((50, 50), (50, 50)), None),
        Decision::Refuse { rule: "D2", .. }
    ));
}

#[test]
fn d2_percentages_must_be_multiples_of_10() {
    let d = desired((55, 45), (50, 50));
    assert!(matches!(
        plan(&d, &group(true), &observed((50, 50), (50, 50)), None),
        Decision::Refuse { rule: "D2", .. }
    ));
}

#[test]
fn d2_regions_must_be_the_groups_regions() {
    let d = DesiredDistribution {
        telephony: Some([("eu-west-2".to_string(), 100), (E.to_string(), 0)].into()),
        ..Default::default()
    };
    assert!(matches!(
        plan(&d, &group(true), &observed((50, 50), (50, 50)), None),
        Decision::Refuse { rule: "D2", .. }
    ));
}

#[test]
fn g4_sign_in_on_a_non_default_group_is_refused() {
    let d = DesiredDistribution {
        sign_in: Some(s(true, true)),
        ..desired((50, 50), (50, 50))
    };
    assert!(matches!(
        plan(&d, &group(false), &observed((50, 50), (50, 50)), None),
        Decision::Refuse { rule: "G4", .. }
    ));
}

#[test]
fn d3_at_least_one_sign_in_region_must_be_enabled() {
    let d = DesiredDistribution {
        sign_in: Some(s(false, false)),
        ..Default::default()
    };
    assert!(matches!(
        plan(&d, &group(true), &observed((50, 50), (50, 50)), None),
        Decision::Refuse { rule: "D3", .. }
    ));
}

#[test]
fn d4_telephony_to_a_region_without_agents_is_refused() {
    let d = desired((0, 100), (100, 0));
    let r = plan(&d, &group(true), &observed((50, 50), (50, 50)), None);
    assert!(
        matches!(&r, Decision::Refuse { rule: "D4", reason } if reason.contains(E)),
        "{r:?}"
    );
}

#[test]
fn d4_telephony_alone_is_checked_against_the_observed_agents() {
    let d = DesiredDistribution {
        telephony: Some(m(0, 100)),
        ..Default::default()
    };
    assert!(matches!(
        plan(&d, &group(true), &observed((50, 50), (100, 0)), None),
        Decision::Refuse { rule: "D4", .. }
    ));
}

#[test]
fn d4_can_be_overridden_explicitly() {
    let d = DesiredDistribution {
        allow_telephony_without_agents: true,
        ..desired((0, 100), (100, 0))
    };
    assert!(matches!(
        plan(&d, &group(true), &observed((50, 50), (50, 50)), None),
        Decision::Update { .. }
    ));
}

#[test]
fn d1_a_group_that_is_not_active_is_waited_for() {
    let mut g = group(true);
    g.status = "UPDATE_IN_PROGRESS".into();
    assert!(matches!(
        plan(
            &desired((60, 40), (50, 50)),
            &g,
            &observed((50, 50), (50, 50)),
            None
        ),
        Decision::Wait { .. }
    ));
}

#[test]
fn a_matching_split_needs_no_call() {
    assert_eq!(
        plan(
            &desired((60, 40), (50, 50)),
            &group(true),
            &observed((60, 40), (50, 50)),
            None
        ),
        Decision::InSync
    );
}

#[test]
fn only_the_parts_that_differ_are_sent() {
    match plan(
        &desired((60, 40), (50, 50)),
        &group(true),
        &observed((50, 50), (50, 50)),
        None,
    ) {
        Decision::Update { update, last_step } => {
            assert_eq!(update.telephony, Some(m(60, 40)));
            assert_eq!(update.agents, None);
            assert_eq!(update.sign_in, None);
            assert!(last_step);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn d5_full_failover_is_one_update_with_all_three_parts() {
    let d = DesiredDistribution {
        sign_in: Some(s(false, true)),
        ..desired((0, 100), (0, 100))
    };
    match plan(&d, &group(true), &observed((50, 50), (50, 50)), None) {
        Decision::Update { update, .. } => {
            assert_eq!(update.telephony, Some(m(0, 100)));
            assert_eq!(update.agents, Some(m(0, 100)));
            assert_eq!(update.sign_in, Some(s(false, true)));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_rollout_moves_at_most_one_step_and_waits_the_pause() {
    let d = DesiredDistribution {
        rollout: Some(Rollout {
            step_percent: 10,
            pause: Duration::from_secs(60),
        }),
        ..desired((80, 20), (50, 50))
    };
    let o = observed((50, 50), (50, 50));
    match plan(&d, &group(true), &o, None) {
        Decision::Update { update, last_step } => {
            assert_eq!(update.telephony, Some(m(60, 40)));
            assert!(!last_step);
        }
        other => panic!("{other:?}"),
    }
    assert!(
        matches!(plan(&d, &group(true), &o, Some(Duration::from_secs(10))), Decision::Wait { after, .. } if after == Duration::from_secs(50))
    );
}

#[test]
fn preferred_region_is_the_one_taking_most_calls() {
    let regions = [W.to_string(), E.to_string()];
    assert_eq!(preferred_regions(&m(0, 100), &regions)[0], E);
    assert_eq!(preferred_regions(&m(60, 40), &regions)[0], W);
}

#[test]
fn summary_reads_in_region_order() {
    let d = observed((60, 40), (50, 50));
    assert_eq!(
        summary(&d, &[W.into(), E.into()]),
        "T 60/40 A 50/50 S on/on"
    );
}

fn split() -> impl Strategy<Value = (i32, i32)> {
    (0..=10i32).prop_map(|x| (x * 10, 100 - x * 10))
}

proptest! {
    #[test]
    fn every_rollout_step_is_valid_and_the_rollout_terminates(
        t0 in split(), a0 in split(), t1 in split(), a1 in split(), step in 1..=10i32,
    ) {
        let d = DesiredDistribution { rollout: Some(Rollout { step_percent: step * 10, pause: Duration::ZERO }), ..desired(t1, a1) };
        let mut o = observed(t0, a0);
        if stranded_region(&o, false).is_some() || validate(&d, &group(true), &o).is_err() {
            return Ok(());
        }
        for _ in 0..12 {
            match plan(&d, &group(true), &o, Some(Duration::ZERO)) {
                Decision::InSync => return Ok(()),
                Decision::Update { update, .. } => {
                    if let Some(t) = update.telephony { o.telephony = t; }
                    if let Some(a) = update.agents { o.agents = a; }
                    prop_assert_eq!(o.telephony.values().sum::<i32>(), 100);
                    prop_assert_eq!(o.agents.values().sum::<i32>(), 100);
                    prop_assert!(o.telephony.values().all(|p| p % 10 == 0));
                    prop_assert!(stranded_region(&o, false).is_none(), "step strands calls: {:?}", o);
                }
                other => prop_assert!(false, "unexpected {:?}", other),
            }
        }
        prop_assert!(false, "rollout did not converge");
    }

    #[test]
    fn valid_percentages_are_accepted_and_invalid_sums_refused(w in 0..=10i32, e in 0..=10i32) {
        let d = DesiredDistribution { telephony: Some(m(w * 10, e * 10)), allow_telephony_without_agents: true, ..Default::default() };
        let ok = validate(&d, &group(true), &observed((50, 50), (50, 50))).is_ok();
        prop_assert_eq!(ok, w + e == 10);
    }
}

#[test]
fn steps_left_counts_the_largest_gap_of_telephony_or_agents_in_steps() {
    let d = |t: i32, a: i32| Distribution {
        telephony: [
            ("us-east-1".to_string(), 100 - t),
            ("us-west-2".to_string(), t),
        ]
        .into(),
        agents: [
            ("us-east-1".to_string(), 100 - a),
            ("us-west-2".to_string(), a),
        ]
        .into(),
        sign_in: Default::default(),
    };
    assert_eq!(steps_left(&d(100, 50), &d(0, 50), 10), 10);
    assert_eq!(steps_left(&d(50, 100), &d(50, 0), 20), 5);
    assert_eq!(steps_left(&d(60, 60), &d(60, 60), 10), 0);
    assert_eq!(
        steps_left(&d(60, 50), &d(40, 20), 10),
        3,
        "agents' gap is the larger"
    );
}
