//! The writer lease (issue 21): which of several clusters may write to Connect. Pure: the lease
//! record as read from the table, what this controller saw of it and when (its own monotonic
//! clock, passed in as a `Duration` since any fixed origin), and the decisions. No clock reads.
//!
//! The record carries a fencing token (`version`, bumped on every change of holder) and a
//! heartbeat (`beat`, bumped on every renewal). Connect cannot check the token, so safety rests on
//! time, measured on each side's own clock only:
//! - a taker takes over only after the record has stayed unchanged (same version and beat) for a
//!   whole lease duration, measured from when *it* first saw that state ("signal then poll");
//! - a holder writes only until `duration - margin` after it *sent* its last successful renewal
//!   (self-fencing). The renewal was applied after it was sent, and the taker read it after it was
//!   applied, so the holder's deadline falls before the taker's, by the margin, as long as the two
//!   clocks' rates differ by less than `margin / duration` and writes in flight land within what
//!   is left of the margin.

use std::time::Duration;

/// The lease item as stored (partition key `name`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseRecord {
    /// Cluster name of the holder.
    pub holder: String,
    /// Fencing token: bumped on every change of holder (acquire, takeover).
    pub version: u64,
    /// Heartbeat: bumped on every renewal.
    pub beat: u64,
    /// The lease duration the holder promised to honour.
    pub duration: Duration,
    /// The holder let go (SIGTERM): anyone may take it at once.
    pub released: bool,
    /// When the holder acquired it (RFC 3339, the holder's wall clock; shown, never compared).
    pub since: String,
}

impl LeaseRecord {
    /// What an observer compares to tell whether the holder is alive.
    pub fn state(&self) -> (u64, u64) {
        (self.version, self.beat)
    }
}

/// What this controller saw of the record: its (version, beat) and when it first saw that state
/// unchanged, on its own monotonic clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sighting {
    pub state: (u64, u64),
    pub first_seen: Duration,
}

/// Updates the sighting after a read at `now`: the same state keeps its first sighting, a new
/// state (a renewal, a takeover) starts the clock again.
pub fn observe(previous: Option<Sighting>, record: &LeaseRecord, now: Duration) -> Sighting {
    match previous {
        Some(s) if s.state == record.state() => s,
        _ => Sighting {
            state: record.state(),
            first_seen: now,
        },
    }
}

/// What to do after a read of the table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// No record: create it (condition: the item does not exist), version 1.
    Create,
    /// Mine: bump the beat (condition: holder, version and beat as read).
    Renew { version: u64, beat: u64 },
    /// Released, or not renewed for a whole lease on my clock: take it (condition: version and
    /// beat as read), version + 1.
    TakeOver { version: u64, beat: u64 },
    /// Someone else's and alive (as far as I can tell): look again; it can be taken at
    /// `expires_at` on my clock if nothing changes.
    Wait {
        holder: String,
        expires_at: Duration,
    },
}

/// The decision for `me` given the record read at `now` and the sighting of it (from
/// [`observe`] with that same read).
pub fn decide(
    me: &str,
    record: Option<&LeaseRecord>,
    sighting: Option<Sighting>,
    now: Duration,
) -> Decision {
    let Some(r) = record else {
        return Decision::Create;
    };
    if r.released {
        return Decision::TakeOver {
            version: r.version,
            beat: r.beat,
        };
    }
    if r.holder == me {
        return Decision::Renew {
            version: r.version,
            beat: r.beat,
        };
    }
    let first_seen = match sighting {
        Some(s) if s.state == r.state() => s.first_seen,
        // A sighting of another state (or none): the clock starts now.
        _ => now,
    };
    let expires_at = first_seen + r.duration;
    if now >= expires_at {
        Decision::TakeOver {
            version: r.version,
            beat: r.beat,
        }
    } else {
        Decision::Wait {
            holder: r.holder.clone(),
            expires_at,
        }
    }
}

/// The record after a successful write of `decision` by `me` (`since`: my wall clock, RFC 3339,
/// used when the holder changes).
pub fn next_record(
    me: &str,
    current: Option<&LeaseRecord>,
    decision: &Decision,
    duration: Duration,
    since: &str,
) -> Option<LeaseRecord> {
    let fresh = |version: u64| LeaseRecord {
        holder: me.to_string(),
        version,
        beat: 0,
        duration,
        released: false,
        since: since.to_string(),
    };
    match decision {
        Decision::Create => Some(fresh(1)),
        Decision::TakeOver { version, .. } => Some(fresh(version + 1)),
        Decision::Renew { version, beat } => Some(LeaseRecord {
            holder: me.to_string(),
            version: *version,
            beat: beat + 1,
            duration,
            released: false,
            since: current
                .map(|c| c.since.clone())
                .unwrap_or_else(|| since.to_string()),
        }),
        Decision::Wait { .. } => None,
    }
}

/// The safety margin for a lease of `duration`: a fifth of it, at least one second (clock rate
/// differences, writes in flight).
pub fn margin(duration: Duration) -> Duration {
    (duration / 5).max(Duration::from_secs(1)).min(duration / 2)
}

/// How often the holder renews (and a standby polls): a third of the lease.
pub fn renew_every(duration: Duration) -> Duration {
    duration / 3
}

/// Self-fencing: may the holder still send a write at `now`? Only within `duration - margin` of
/// the moment it *sent* its last successful renewal (or acquisition). No successful renewal
/// (never acquired, or lost): no.
pub fn may_write(
    now: Duration,
    last_renewal_sent_at: Option<Duration>,
    duration: Duration,
    margin: Duration,
) -> bool {
    last_renewal_sent_at.is_some_and(|sent| now < sent + duration.saturating_sub(margin))
}

/// When the right to write ends (for logs and tests): `sent + duration - margin`.
pub fn write_deadline(
    last_renewal_sent_at: Duration,
    duration: Duration,
    margin: Duration,
) -> Duration {
    last_renewal_sent_at + duration.saturating_sub(margin)
}

#[cfg(test)]
#[path = "writer_lease_tests.rs"]
mod tests;
