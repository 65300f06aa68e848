use super::*;
use proptest::prelude::*;

const D: Duration = Duration::from_secs(15);

fn s(secs: f64) -> Duration {
    Duration::from_secs_f64(secs)
}

fn held_by(holder: &str, version: u64, beat: u64) -> LeaseRecord {
    LeaseRecord {
        holder: holder.into(),
        version,
        beat,
        duration: D,
        released: false,
        since: "2026-01-01T00:00:00Z".into(),
    }
}

#[test]
fn an_absent_lease_is_created() {
    assert_eq!(decide("east", None, None, s(0.0)), Decision::Create);
    let r = next_record("east", None, &Decision::Create, D, "t0").unwrap();
    assert_eq!((r.holder.as_str(), r.version, r.beat), ("east", 1, 0));
}

#[test]
fn a_lease_of_mine_is_renewed_on_the_version_and_beat_as_read() {
    let r = held_by("east", 4, 9);
    let d = decide("east", Some(&r), None, s(100.0));
    assert_eq!(
        d,
        Decision::Renew {
            version: 4,
            beat: 9
        }
    );
    let next = next_record("east", Some(&r), &d, D, "later").unwrap();
    assert_eq!(
        (next.version, next.beat),
        (4, 10),
        "renewal keeps the fencing token"
    );
    assert_eq!(next.since, r.since, "since is when the holder acquired it");
}

#[test]
fn a_released_lease_is_taken_over_at_once_with_a_new_fencing_token() {
    let r = LeaseRecord {
        released: true,
        ..held_by("east", 4, 9)
    };
    let d = decide("west", Some(&r), None, s(0.0));
    assert_eq!(
        d,
        Decision::TakeOver {
            version: 4,
            beat: 9
        }
    );
    let next = next_record("west", Some(&r), &d, D, "now").unwrap();
    assert_eq!(
        (next.holder.as_str(), next.version, next.beat),
        ("west", 5, 0)
    );
}

#[test]
fn another_holders_lease_is_not_taken_before_it_stayed_unchanged_a_whole_lease_on_my_clock() {
    let r = held_by("east", 1, 3);
    let seen = observe(None, &r, s(10.0));
    assert_eq!(
        decide("west", Some(&r), Some(seen), s(10.0)),
        Decision::Wait {
            holder: "east".into(),
            expires_at: s(25.0)
        }
    );
    let later = observe(Some(seen), &r, s(24.9));
    assert!(matches!(
        decide("west", Some(&r), Some(later), s(24.9)),
        Decision::Wait { .. }
    ));
    let expired = observe(Some(later), &r, s(25.0));
    assert_eq!(
        decide("west", Some(&r), Some(expired), s(25.0)),
        Decision::TakeOver {
            version: 1,
            beat: 3
        }
    );
}

#[test]
fn a_renewal_seen_by_the_taker_starts_its_clock_again() {
    let r = held_by("east", 1, 3);
    let seen = observe(None, &r, s(0.0));
    let renewed = held_by("east", 1, 4);
    let seen = observe(Some(seen), &renewed, s(14.0));
    assert_eq!(seen.first_seen, s(14.0));
    assert!(matches!(
        decide("west", Some(&renewed), Some(seen), s(20.0)),
        Decision::Wait { expires_at, .. } if expires_at == s(29.0)
    ));
}

#[test]
fn a_taker_without_a_sighting_of_this_state_never_takes_over_on_its_first_read() {
    let r = held_by("east", 1, 3);
    let stale = Sighting {
        state: (1, 2),
        first_seen: s(0.0),
    };
    assert!(matches!(
        decide("west", Some(&r), Some(stale), s(1000.0)),
        Decision::Wait { .. }
    ));
    assert!(matches!(
        decide("west", Some(&r), None, s(1000.0)),
        Decision::Wait { .. }
    ));
}

#[test]
fn the_holder_may_write_until_duration_minus_margin_after_it_sent_its_last_successful_renewal() {
    let m = margin(D);
    assert_eq!(m, s(3.0));
    let sent = s(100.0);
    assert!(may_write(s(100.0), Some(sent), D, m));
    assert!(may_write(s(111.999), Some(sent), D, m));
    assert!(!may_write(s(112.0), Some(sent), D, m), "the fencing bound");
    assert_eq!(write_deadline(sent, D, m), s(112.0));
}

#[test]
fn failed_renewals_do_not_extend_the_right_to_write() {
    // Renewals at 105 and 110 failed (the table did not answer): the last successful one is
    // the one sent at 100, so the right ends at 112 whatever was attempted since.
    let last_success = Some(s(100.0));
    let m = margin(D);
    assert!(may_write(s(111.0), last_success, D, m));
    assert!(!may_write(s(113.0), last_success, D, m));
}

#[test]
fn a_stale_holder_that_holds_no_successful_renewal_may_not_write_at_all() {
    assert!(!may_write(s(0.0), None, D, margin(D)));
}

#[test]
fn the_margin_is_a_fifth_of_the_lease_and_at_least_a_second_but_never_more_than_half() {
    assert_eq!(margin(s(10.0)), s(2.0));
    assert_eq!(margin(s(3.0)), s(1.0));
    assert_eq!(margin(s(1.0)), s(0.5));
    assert_eq!(renew_every(s(15.0)), s(5.0));
}

/// The outcome of one race: the real time at which the taker takes over, and whether the old
/// holder may still write then (on its own clock).
fn race(
    duration_s: u64,
    sent_real: f64,
    read_delay: f64,
    poll: f64,
    holder_rate: f64,
    taker_rate: f64,
    margin_of: impl Fn(Duration) -> Duration,
) -> (f64, bool) {
    let d = Duration::from_secs(duration_s);
    let holder_clock = |t: f64| s(7.0 + t * holder_rate);
    let taker_clock = |t: f64| s(1000.0 + t * taker_rate);
    let record = held_by("east", 3, 8);
    let record = LeaseRecord {
        duration: d,
        ..record
    };
    // The renewal (sent at `sent_real`) was applied and then first read by the taker.
    let mut t = sent_real + read_delay;
    let mut sighting = None;
    loop {
        let now = taker_clock(t);
        let seen = observe(sighting, &record, now);
        sighting = Some(seen);
        if let Decision::TakeOver { .. } = decide("west", Some(&record), sighting, now) {
            let holder_may = may_write(
                holder_clock(t),
                Some(holder_clock(sent_real)),
                d,
                margin_of(d),
            );
            return (t, holder_may);
        }
        t += poll;
    }
}

proptest! {
    /// Never two writers: whenever a taker takes over (a dead or cut-off holder's lease left
    /// unchanged), the old holder's right to write has already ended on its own clock, for clocks
    /// whose rates differ by up to 5 % each way and any read delay and poll period.
    #[test]
    fn never_two_holders_that_may_both_write_with_bounded_clock_drift(
        duration_s in 3u64..60,
        sent_real in 0.0f64..1000.0,
        read_delay in 0.0f64..20.0,
        poll in 0.05f64..5.0,
        holder_drift in -0.05f64..0.05,
        taker_drift in -0.05f64..0.05,
    ) {
        let (_, holder_may) = race(duration_s, sent_real, read_delay, poll,
            1.0 + holder_drift, 1.0 + taker_drift, margin);
        prop_assert!(!holder_may);
    }
}

#[test]
fn without_the_margin_a_slow_holder_clock_would_still_write_after_a_fast_taker_took_over() {
    // The property above can fail: drop the margin and let the clocks drift apart.
    let (_, holder_may) = race(15, 10.0, 0.0, 0.05, 0.95, 1.05, |_| Duration::ZERO);
    assert!(holder_may, "the margin is what keeps the two apart");
}
