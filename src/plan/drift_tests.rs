use super::*;
use proptest::prelude::*;

fn t(s: i64) -> Timestamp {
    Timestamp::from_second(1_800_000_000 + s).unwrap()
}

fn change(to: &str) -> Vec<DriftChange> {
    vec![DriftChange {
        field: "telephony".into(),
        from: "us-west-2=60% us-east-1=40%".into(),
        to: to.into(),
    }]
}

fn facts<'a>(
    changes: Vec<DriftChange>,
    previous: Option<&'a DriftStatus>,
    policy: DriftPolicy,
    now: Timestamp,
) -> Facts<'a> {
    Facts {
        changes,
        generation_applied: true,
        spec_hash: "h1",
        previous,
        policy,
        pause_seconds: 8,
        now,
        resume: false,
    }
}

fn reported(d: Decision) -> (DriftStatus, bool) {
    match d {
        Decision::Report { drift, new } => (drift, new),
        other => panic!("expected Report, got {other:?}"),
    }
}

#[test]
fn no_difference_is_in_sync() {
    let d = decide(facts(vec![], None, DriftPolicy::Correct, t(0)));
    assert_eq!(d, Decision::InSync);
}

#[test]
fn a_change_is_reported_at_once_left_alone_for_the_pause_then_corrected() {
    let c = change("us-west-2=90% us-east-1=10%");
    let (first, new) = reported(decide(facts(c.clone(), None, DriftPolicy::Correct, t(0))));
    assert!(new, "first seen: an Event");
    assert_eq!(first.first_seen_time, Time(t(0)));
    assert_eq!(first.correction_time, Some(Time(t(8))));
    assert!(first.message.contains("60%") && first.message.contains("90%"));
    assert!(
        first.message.contains("left alone until"),
        "{}",
        first.message
    );
    // A later pass within the pause: same drift, no new Event, same times.
    let (again, new) = reported(decide(facts(
        c.clone(),
        Some(&first),
        DriftPolicy::Correct,
        t(7),
    )));
    assert!(!new);
    assert_eq!(again, first);
    // At the correction time.
    match decide(facts(c, Some(&first), DriftPolicy::Correct, t(8))) {
        Decision::Correct { why, new, .. } => {
            assert_eq!(why, Why::PauseOver);
            assert!(!new);
        }
        other => panic!("expected Correct, got {other:?}"),
    }
}

#[test]
fn a_pause_of_zero_corrects_on_the_pass_that_sees_it() {
    let mut f = facts(change("x"), None, DriftPolicy::Correct, t(0));
    f.pause_seconds = 0;
    assert!(matches!(
        decide(f),
        Decision::Correct {
            why: Why::PauseOver,
            new: true,
            ..
        }
    ));
}

#[test]
fn report_is_never_corrected() {
    let c = change("x");
    let (first, _) = reported(decide(facts(c.clone(), None, DriftPolicy::Report, t(0))));
    assert_eq!(first.correction_time, None);
    assert!(first.message.contains("not corrected"));
    for later in [1, 8, 3600, 86_400 * 365] {
        let (d, new) = reported(decide(facts(
            c.clone(),
            Some(&first),
            DriftPolicy::Report,
            t(later),
        )));
        assert!(!new);
        assert_eq!(d.first_seen_time, Time(t(0)));
    }
}

#[test]
fn resume_corrects_at_once_under_either_policy() {
    for policy in [DriftPolicy::Correct, DriftPolicy::Report] {
        let c = change("x");
        let (first, _) = reported(decide(facts(c.clone(), None, policy, t(0))));
        let mut f = facts(c, Some(&first), policy, t(1));
        f.resume = true;
        assert!(
            matches!(
                decide(f),
                Decision::Correct {
                    why: Why::Resumed,
                    ..
                }
            ),
            "{policy}"
        );
    }
}

#[test]
fn a_spec_change_during_a_paused_correction_wins() {
    let c = change("x");
    let (first, _) = reported(decide(facts(c.clone(), None, DriftPolicy::Correct, t(0))));
    let mut f = facts(c, Some(&first), DriftPolicy::Correct, t(2));
    f.generation_applied = false;
    f.spec_hash = "h2";
    assert_eq!(
        decide(f),
        Decision::InSync,
        "the new spec is applied at once"
    );
}

#[test]
fn changing_only_the_drift_settings_keeps_the_drift_and_its_start() {
    // A responder sets driftPolicy: Report during the pause: not a reason to undo their work.
    let c = change("x");
    let (first, _) = reported(decide(facts(c.clone(), None, DriftPolicy::Correct, t(0))));
    let mut f = facts(c, Some(&first), DriftPolicy::Report, t(5));
    f.generation_applied = false; // generation moved, the hash of the rest did not
    let (d, new) = reported(decide(f));
    assert!(!new);
    assert_eq!(d.first_seen_time, Time(t(0)));
    assert_eq!(d.correction_time, None);
    assert_eq!(d.policy, DriftPolicy::Report);
}

#[test]
fn a_controller_restart_during_the_pause_continues_it() {
    // Process 1 sees the drift at t0 and writes status.drift; it dies. Process 2 starts at
    // t5 with nothing in memory but the object's status (here: a JSON round trip).
    let c = change("x");
    let (first, _) = reported(decide(facts(c.clone(), None, DriftPolicy::Correct, t(0))));
    let stored: DriftStatus =
        serde_json::from_value(serde_json::to_value(&first).unwrap()).unwrap();
    let (d, new) = reported(decide(facts(
        c.clone(),
        Some(&stored),
        DriftPolicy::Correct,
        t(5),
    )));
    assert!(!new, "no second DriftDetected after a restart");
    assert_eq!(d.correction_time, Some(Time(t(8))), "not restarted at t5");
    assert!(matches!(
        decide(facts(c, Some(&stored), DriftPolicy::Correct, t(8))),
        Decision::Correct { .. }
    ));
}

#[test]
fn a_further_change_during_the_pause_is_a_new_drift_with_a_new_pause() {
    let (first, _) = reported(decide(facts(change("a"), None, DriftPolicy::Correct, t(0))));
    let (d, new) = reported(decide(facts(
        change("b"),
        Some(&first),
        DriftPolicy::Correct,
        t(6),
    )));
    assert!(new);
    assert_eq!(d.first_seen_time, Time(t(6)));
    assert_eq!(d.correction_time, Some(Time(t(14))));
}

#[test]
fn the_recheck_is_at_the_correction_time_and_at_most_a_resync_away() {
    let (d, _) = reported(decide(facts(change("a"), None, DriftPolicy::Correct, t(0))));
    let resync = std::time::Duration::from_secs(300);
    assert_eq!(
        recheck_after(&d, t(3), resync),
        std::time::Duration::from_millis(5_200)
    );
    assert_eq!(
        recheck_after(&d, t(3), std::time::Duration::from_secs(2)),
        std::time::Duration::from_secs(2)
    );
    let (r, _) = reported(decide(facts(change("a"), None, DriftPolicy::Report, t(0))));
    assert_eq!(recheck_after(&r, t(3), resync), resync);
}

#[test]
fn resume_acts_once_per_value() {
    let a: BTreeMap<String, String> = [(RESUME_ANNOTATION.to_string(), "1".to_string())].into();
    assert_eq!(resume_requested(Some(&a), None), Some("1"));
    assert_eq!(resume_requested(Some(&a), Some("1")), None);
    assert_eq!(resume_requested(Some(&a), Some("0")), Some("1"));
    assert_eq!(resume_requested(None, None), None);
}

#[test]
fn split_changes_name_only_the_parts_the_controller_applied() {
    let regions = ["us-west-2".to_string(), "us-east-1".to_string()];
    let m = |w: i32| -> BTreeMap<String, i32> {
        [
            ("us-west-2".to_string(), w),
            ("us-east-1".to_string(), 100 - w),
        ]
        .into()
    };
    let observed = Distribution {
        telephony: m(90),
        agents: m(0),
        sign_in: Default::default(),
    };
    let last = LastAppliedSplit {
        telephony: Some(m(60)),
        agents: None, // not declared: its change is nobody's business
        sign_in: None,
    };
    let c = split_changes(Some(&last), &observed, &regions);
    assert_eq!(
        c,
        vec![DriftChange {
            field: "telephony".into(),
            from: "us-west-2=60% us-east-1=40%".into(),
            to: "us-west-2=90% us-east-1=10%".into(),
        }]
    );
    assert!(split_changes(None, &observed, &regions).is_empty());
    let same = declared_split(true, true, false, &observed);
    assert!(split_changes(Some(&same), &observed, &regions).is_empty());
}

fn ids(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

#[test]
fn membership_changes_are_split_by_who_made_them() {
    let (_, kept) = encode_kept(&ids(&["alice", "bob", "carol"]));
    let kept = decode_kept(&kept);
    let diff = MembershipDiff {
        // bob was kept and is gone: taken out by hand. dave is a new selector match.
        associate: ids(&["bob", "dave"]),
        // carol was kept and nobody declares her now: ours to remove. mallory was put in.
        disassociate: ids(&["carol", "mallory"]),
    };
    let s = split_membership(&diff, Some(&kept));
    assert_eq!(s.now.associate, ids(&["dave"]));
    assert_eq!(s.now.disassociate, ids(&["carol"]));
    assert_eq!(s.outside.associate, ids(&["bob"]));
    assert_eq!(s.outside.disassociate, ids(&["mallory"]));
    let c = membership_changes(&s.outside, |id| id.to_string());
    assert_eq!(c[0].field, "agent bob");
    assert_eq!(
        (c[0].from.as_str(), c[0].to.as_str()),
        ("member", "not a member")
    );
    assert_eq!(
        (c[1].from.as_str(), c[1].to.as_str()),
        ("not a member", "member")
    );
    // Nothing recorded yet: all of it is the controller's own work.
    assert_eq!(split_membership(&diff, None).now, diff);
}

#[test]
fn spec_hash_is_stable_and_tells_specs_apart() {
    let a = serde_json::json!({"telephony": {"us-west-2": 60}});
    let b = serde_json::json!({"telephony": {"us-west-2": 70}});
    assert_eq!(spec_hash(&a), spec_hash(&a.clone()));
    assert_ne!(spec_hash(&a), spec_hash(&b));
    assert_eq!(spec_hash(&a).len(), 16);
    // FNV-1a of "" is the offset basis: the function is the documented one.
    assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
    assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
}

proptest! {
    #[test]
    fn kept_fingerprints_round_trip(set in proptest::collection::btree_set("[a-z0-9-]{1,36}", 0..200)) {
        let v: Vec<String> = set.iter().cloned().collect();
        let (n, s) = encode_kept(&v);
        prop_assert_eq!(n as usize, decode_kept(&s).len());
        prop_assert_eq!(s.len(), n as usize * 12);
        let back = decode_kept(&s);
        for id in &v {
            prop_assert!(back.contains(&member_fingerprint(id)));
        }
    }

    /// Every change is reported at once; under Correct it is corrected exactly from
    /// first_seen + pause on (or on resume), under Report never (but on resume); a spec
    /// change always applies.
    #[test]
    fn the_decision_follows_the_policy_at_every_instant(
        pause in 0i64..100,
        seen_at in 0i64..50,
        now_off in 0i64..200,
        report in any::<bool>(),
        resume in any::<bool>(),
        spec_changed in any::<bool>(),
        drift_settings_only in any::<bool>(),
    ) {
        let policy = if report { DriftPolicy::Report } else { DriftPolicy::Correct };
        let c = change("x");
        let mut f0 = facts(c.clone(), None, policy, t(seen_at));
        f0.pause_seconds = pause;
        let first = match decide(f0) {
            Decision::Report { drift, .. } | Decision::Correct { drift, .. } => drift,
            Decision::InSync => unreachable!("a change is never InSync"),
        };
        let now = t(seen_at + now_off);
        let mut f = facts(c, Some(&first), policy, now);
        f.pause_seconds = pause;
        f.resume = resume;
        if spec_changed {
            f.generation_applied = false;
            if !drift_settings_only {
                f.spec_hash = "other";
            }
        }
        let d = decide(f);
        if spec_changed && !drift_settings_only {
            prop_assert_eq!(d, Decision::InSync);
        } else if resume {
            let corrected = matches!(d, Decision::Correct { why: Why::Resumed, .. });
            prop_assert!(corrected);
        } else if !report && now_off >= pause {
            let corrected = matches!(d, Decision::Correct { why: Why::PauseOver, .. });
            prop_assert!(corrected);
        } else {
            let held = matches!(&d, Decision::Report { new: false, drift } if drift.first_seen_time == Time(t(seen_at)));
            prop_assert!(held, "{:?}", d);
        }
    }
}
