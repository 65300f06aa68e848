//! Leader election on a `coordination.k8s.io/v1` Lease, so two replicas of the controller can run
//! (one acts, the other stands by) without both calling Connect. Same protocol as client-go's
//! leaderelection: the holder renews `renewTime` well within `leaseDurationSeconds`; anyone may
//! take a lease whose renewal is older than its duration; updates carry the resourceVersion so two
//! candidates cannot both win. Expiry is measured on the local clock from when a record was
//! last seen to change (client-go's observedTime); a renewal attempt has a timeout, and the
//! holder stops acting 2/3 of the lease after it sent its last successful renewal, before anyone
//! else may take over. The decision is pure (time is an argument); `LeaderElector` does the I/O.

use std::time::Duration;

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, ObjectMeta, PostParams};

/// What a candidate should do about a lease it read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Nobody holds it, or the holder stopped renewing it: take it.
    Take,
    /// We hold it: renew it.
    Renew,
    /// Someone else holds it for at least this much longer (local time).
    Wait { holder: String, remaining: Duration },
}

/// A lease record as this replica saw it, and when (local monotonic time, as an offset from
/// any fixed start) it last saw it change. As client-go: expiry is measured on the local clock
/// from that moment, never by comparing the holder's `renewTime` with our clock (clock skew
/// between nodes does not matter).
#[derive(Debug, Clone, PartialEq)]
pub struct Observed {
    pub record: Option<LeaseSpec>,
    pub changed_at: Duration,
}

/// What we know after reading `record` at local time `now`, given what we saw before.
pub fn observe(previous: Option<&Observed>, record: Option<&LeaseSpec>, now: Duration) -> Observed {
    match previous {
        Some(p) if p.record.as_ref() == record => p.clone(),
        _ => Observed {
            record: record.cloned(),
            changed_at: now,
        },
    }
}

/// Decides from what we observed, our identity and the local time `now`.
pub fn decide(observed: &Observed, me: &str, now: Duration) -> Decision {
    let Some(spec) = &observed.record else {
        return Decision::Take;
    };
    let holder = spec.holder_identity.clone().unwrap_or_default();
    if holder.is_empty() {
        return Decision::Take;
    }
    if holder == me {
        return Decision::Renew;
    }
    let duration = Duration::from_secs(spec.lease_duration_seconds.unwrap_or(15).max(1) as u64);
    let expires = observed.changed_at + duration;
    if now < expires {
        Decision::Wait {
            holder,
            remaining: expires - now,
        }
    } else {
        Decision::Take
    }
}

/// How long one renewal may take: well inside the lease (client-go's renew deadline is 2/3 of
/// it; one attempt gets a fifth, at least 200 ms).
pub fn renew_timeout(lease: Duration) -> Duration {
    (lease / 5).max(Duration::from_millis(200))
}

/// When the holder must stop acting: 2/3 of the lease after it *sent* its last successful
/// renewal (the others measure expiry from when they saw that renewal, which is later), so it
/// stops before any other replica may take over.
pub fn stop_acting_at(last_renewal_sent: Duration, lease: Duration) -> Duration {
    last_renewal_sent + lease.mul_f64(2.0 / 3.0)
}

/// The spec to write for `decision` (Take or Renew).
pub fn next_spec(
    current: Option<&LeaseSpec>,
    decision: &Decision,
    me: &str,
    lease_duration: Duration,
    now: Timestamp,
) -> LeaseSpec {
    let mut spec = current.cloned().unwrap_or_default();
    let transitions = spec.lease_transitions.unwrap_or(0);
    if *decision == Decision::Take {
        spec.acquire_time = Some(MicroTime(now));
        if current.is_some_and(|c| {
            c.holder_identity
                .as_deref()
                .is_some_and(|h| h != me && !h.is_empty())
        }) {
            spec.lease_transitions = Some(transitions + 1);
        } else {
            spec.lease_transitions = Some(transitions);
        }
    }
    spec.holder_identity = Some(me.to_string());
    spec.lease_duration_seconds = Some(lease_duration.as_secs().max(1) as i32);
    spec.renew_time = Some(MicroTime(now));
    spec
}

/// The spec that gives a lease up (on a clean shutdown, so a standby takes over at once).
pub fn released(current: &LeaseSpec) -> LeaseSpec {
    LeaseSpec {
        holder_identity: None,
        lease_duration_seconds: Some(1),
        ..current.clone()
    }
}

/// Campaigns for and keeps one Lease.
pub struct LeaderElector {
    api: Api<Lease>,
    name: String,
    identity: String,
    lease_duration: Duration,
    retry: Duration,
    /// Local monotonic time starts here.
    epoch: std::time::Instant,
    observed: parking_lot::Mutex<Option<Observed>>,
}

impl LeaderElector {
    pub fn new(api: Api<Lease>, name: &str, identity: &str, lease_duration: Duration) -> Self {
        Self {
            api,
            name: name.to_string(),
            identity: identity.to_string(),
            lease_duration,
            retry: (lease_duration / 5).max(Duration::from_millis(200)),
            epoch: std::time::Instant::now(),
            observed: parking_lot::Mutex::new(None),
        }
    }

    pub fn identity(&self) -> &str {
        &self.identity
    }

    fn local_now(&self) -> Duration {
        self.epoch.elapsed()
    }

    /// One attempt: take or renew the lease if we may. Ok(true) when we hold it afterwards.
    async fn try_once(&self) -> kube::Result<bool> {
        let current = self.api.get_opt(&self.name).await?;
        let spec = current.as_ref().and_then(|l| l.spec.as_ref());
        let local = self.local_now();
        let seen = {
            let mut o = self.observed.lock();
            let seen = observe(o.as_ref(), spec, local);
            *o = Some(seen.clone());
            seen
        };
        let decision = decide(&seen, &self.identity, local);
        if let Decision::Wait { .. } = decision {
            return Ok(false);
        }
        let spec = next_spec(
            spec,
            &decision,
            &self.identity,
            self.lease_duration,
            Timestamp::now(),
        );
        let result = match current {
            None => {
                let lease = Lease {
                    metadata: ObjectMeta {
                        name: Some(self.name.clone()),
                        ..ObjectMeta::default()
                    },
                    spec: Some(spec),
                };
                self.api.create(&PostParams::default(), &lease).await
            }
            Some(mut lease) => {
                // Carries the resourceVersion: a concurrent writer makes this a 409.
                lease.spec = Some(spec);
                self.api
                    .replace(&self.name, &PostParams::default(), &lease)
                    .await
            }
        };
        match result {
            Ok(l) => {
                *self.observed.lock() = Some(observe(None, l.spec.as_ref(), self.local_now()));
                Ok(true)
            }
            Err(kube::Error::Api(e)) if e.code == 409 => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// One attempt bounded by `budget`; a hung call is a failed attempt.
    async fn try_within(&self, budget: Duration) -> kube::Result<bool> {
        match tokio::time::timeout(budget, self.try_once()).await {
            Ok(r) => r,
            Err(_) => Err(kube::Error::Service(
                format!("lease update timed out after {budget:?}").into(),
            )),
        }
    }

    /// Waits until this candidate holds the lease. Returns the local time the successful write
    /// was sent (for [`Self::hold`]).
    pub async fn acquire(&self) -> Duration {
        let mut announced = false;
        loop {
            let sent = self.local_now();
            match self.try_within(renew_timeout(self.lease_duration)).await {
                Ok(true) => {
                    tracing::info!(lease = %self.name, identity = %self.identity, "became leader");
                    return sent;
                }
                Ok(false) => {
                    if !announced {
                        tracing::info!(lease = %self.name, "another replica leads; standing by");
                        announced = true;
                    }
                }
                Err(e) => tracing::warn!(lease = %self.name, error = %e, "leader election"),
            }
            tokio::time::sleep(self.retry).await;
        }
    }

    /// Renews the lease (each attempt bounded by [`renew_timeout`]) and returns, so that the
    /// caller stops acting, when someone else took it or at [`stop_acting_at`] the last
    /// successful renewal: before the lease can have expired for anyone else.
    pub async fn hold(&self, acquired_sent: Duration) {
        let lease = self.lease_duration;
        let renew_every = (lease / 3).min(self.retry * 2);
        let mut last_sent = acquired_sent;
        loop {
            let deadline = stop_acting_at(last_sent, lease);
            let wake = (self.local_now() + renew_every).min(deadline);
            tokio::time::sleep(wake.saturating_sub(self.local_now())).await;
            let sent = self.local_now();
            if sent >= deadline {
                tracing::error!(lease = %self.name, "could not renew the lease in time");
                return;
            }
            let budget = renew_timeout(lease).min(deadline - sent);
            match self.try_within(budget).await {
                Ok(true) => {
                    crate::metrics::leader_renewal("ok");
                    last_sent = sent
                }
                Ok(false) => {
                    crate::metrics::leader_renewal("lost");
                    tracing::error!(lease = %self.name, "leadership lost to another replica");
                    return;
                }
                Err(e) => {
                    crate::metrics::leader_renewal("failed");
                    tracing::warn!(lease = %self.name, error = %e, "lease renewal failed")
                }
            }
        }
    }

    /// Gives the lease up if we hold it.
    pub async fn release(&self) {
        let Ok(Some(mut lease)) = self.api.get_opt(&self.name).await else {
            return;
        };
        let Some(spec) = &lease.spec else { return };
        if spec.holder_identity.as_deref() != Some(self.identity.as_str()) {
            return;
        }
        lease.spec = Some(released(spec));
        match self
            .api
            .replace(&self.name, &PostParams::default(), &lease)
            .await
        {
            Ok(_) => tracing::info!(lease = %self.name, "leadership released"),
            Err(e) => tracing::warn!(lease = %self.name, error = %e, "could not release the lease"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: i64) -> Timestamp {
        Timestamp::from_second(1_800_000_000 + s).unwrap()
    }

    fn held_by(holder: &str, renewed: i64, duration: i32) -> LeaseSpec {
        LeaseSpec {
            holder_identity: Some(holder.into()),
            renew_time: Some(MicroTime(t(renewed))),
            acquire_time: Some(MicroTime(t(0))),
            lease_duration_seconds: Some(duration),
            lease_transitions: Some(3),
            ..LeaseSpec::default()
        }
    }

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    fn seen(spec: Option<&LeaseSpec>, at: u64) -> Observed {
        observe(None, spec, secs(at))
    }

    #[test]
    fn a_missing_lease_is_taken() {
        assert_eq!(decide(&seen(None, 0), "a", secs(0)), Decision::Take);
    }

    #[test]
    fn a_released_lease_is_taken_at_once() {
        let spec = released(&held_by("b", 10, 15));
        assert_eq!(
            decide(&seen(Some(&spec), 11), "a", secs(11)),
            Decision::Take
        );
    }

    #[test]
    fn the_holder_renews_its_own_lease() {
        let spec = held_by("a", 10, 15);
        assert_eq!(
            decide(&seen(Some(&spec), 0), "a", secs(100)),
            Decision::Renew
        );
    }

    #[test]
    fn a_live_lease_of_another_replica_is_respected_for_its_duration_from_when_it_was_seen() {
        let spec = held_by("b", 10, 15);
        let o = seen(Some(&spec), 100);
        assert_eq!(
            decide(&o, "a", secs(114)),
            Decision::Wait {
                holder: "b".into(),
                remaining: secs(1)
            }
        );
        assert_eq!(decide(&o, "a", secs(115)), Decision::Take);
    }

    #[test]
    fn a_holder_clock_far_behind_ours_does_not_make_its_lease_look_expired() {
        // renewTime says an hour ago by our clock; we have only just seen the record.
        let spec = held_by("b", -3600, 15);
        let o = seen(Some(&spec), 50);
        assert!(matches!(decide(&o, "a", secs(51)), Decision::Wait { .. }));
    }

    #[test]
    fn a_holder_clock_far_ahead_of_ours_does_not_keep_a_dead_lease_alive() {
        // renewTime an hour in our future; the record has not changed for a lease duration.
        let spec = held_by("b", 3600, 15);
        let o = seen(Some(&spec), 50);
        assert_eq!(decide(&o, "a", secs(65)), Decision::Take);
    }

    #[test]
    fn a_renewal_restarts_the_local_expiry_and_an_unchanged_record_does_not() {
        let first = seen(Some(&held_by("b", 10, 15)), 100);
        let same = observe(Some(&first), Some(&held_by("b", 10, 15)), secs(110));
        assert_eq!(same.changed_at, secs(100));
        let renewed = observe(Some(&first), Some(&held_by("b", 20, 15)), secs(110));
        assert_eq!(renewed.changed_at, secs(110));
        assert!(matches!(
            decide(&renewed, "a", secs(120)),
            Decision::Wait { .. }
        ));
    }

    #[test]
    fn the_holder_stops_acting_before_anyone_else_may_take_the_lease() {
        let lease = secs(15);
        // We sent the renewal at 100; the others saw it no earlier than 100, so they wait until
        // at least 115; we stop at 110.
        let sent = secs(100);
        assert_eq!(stop_acting_at(sent, lease), secs(110));
        assert!(stop_acting_at(sent, lease) < sent + lease);
    }

    #[test]
    fn one_renewal_attempt_is_bounded_well_inside_the_lease() {
        for lease in [secs(3), secs(15), secs(60)] {
            assert!(
                renew_timeout(lease) < lease.mul_f64(2.0 / 3.0) / 2,
                "{lease:?}"
            );
        }
        assert_eq!(renew_timeout(secs(15)), secs(3));
    }

    #[test]
    fn taking_over_from_another_holder_counts_a_transition() {
        let spec = held_by("b", 10, 15);
        let next = next_spec(
            Some(&spec),
            &Decision::Take,
            "a",
            Duration::from_secs(15),
            t(30),
        );
        assert_eq!(next.holder_identity.as_deref(), Some("a"));
        assert_eq!(next.lease_transitions, Some(4));
        assert_eq!(next.acquire_time, Some(MicroTime(t(30))));
        assert_eq!(next.renew_time, Some(MicroTime(t(30))));
    }

    #[test]
    fn renewing_keeps_the_acquire_time_and_transitions() {
        let spec = held_by("a", 10, 15);
        let next = next_spec(
            Some(&spec),
            &Decision::Renew,
            "a",
            Duration::from_secs(15),
            t(20),
        );
        assert_eq!(next.acquire_time, Some(MicroTime(t(0))));
        assert_eq!(next.lease_transitions, Some(3));
        assert_eq!(next.renew_time, Some(MicroTime(t(20))));
    }
}
