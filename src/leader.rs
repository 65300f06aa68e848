//! Leader election on a `coordination.k8s.io/v1` Lease, so two replicas of the controller can run
//! (one acts, the other stands by) without both calling Connect. Same protocol as client-go's
//! leaderelection: the holder renews `renewTime` well within `leaseDurationSeconds`; anyone may
//! take a lease whose renewal is older than its duration; updates carry the resourceVersion so two
//! candidates cannot both win. The decision is pure (time is an argument); `LeaderElector` does
//! the I/O.

use std::time::Duration;

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use kube::api::{Api, ObjectMeta, PostParams};

/// What a candidate should do about a lease it read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Nobody holds it, or the holder stopped renewing it: take it.
    Take,
    /// We hold it: renew it.
    Renew,
    /// Someone else holds it until then.
    Wait { holder: String, until: Timestamp },
}

/// Decides from the lease's spec (None: no lease yet), our identity and the time.
pub fn decide(spec: Option<&LeaseSpec>, me: &str, now: Timestamp) -> Decision {
    let Some(spec) = spec else {
        return Decision::Take;
    };
    let holder = spec.holder_identity.clone().unwrap_or_default();
    if holder.is_empty() {
        return Decision::Take;
    }
    if holder == me {
        return Decision::Renew;
    }
    let renewed = spec
        .renew_time
        .as_ref()
        .or(spec.acquire_time.as_ref())
        .map(|t| t.0);
    let duration =
        SignedDuration::from_secs(spec.lease_duration_seconds.unwrap_or(15).max(1) as i64);
    match renewed {
        Some(t) if now < t + duration => Decision::Wait {
            holder,
            until: t + duration,
        },
        _ => Decision::Take,
    }
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
}

impl LeaderElector {
    pub fn new(api: Api<Lease>, name: &str, identity: &str, lease_duration: Duration) -> Self {
        Self {
            api,
            name: name.to_string(),
            identity: identity.to_string(),
            lease_duration,
            retry: (lease_duration / 5).max(Duration::from_millis(200)),
        }
    }

    pub fn identity(&self) -> &str {
        &self.identity
    }

    /// One attempt: take or renew the lease if we may. Ok(true) when we hold it afterwards.
    async fn try_once(&self) -> kube::Result<bool> {
        let now = Timestamp::now();
        let current = self.api.get_opt(&self.name).await?;
        let spec = current.as_ref().and_then(|l| l.spec.as_ref());
        let decision = decide(spec, &self.identity, now);
        if let Decision::Wait { .. } = decision {
            return Ok(false);
        }
        let spec = next_spec(spec, &decision, &self.identity, self.lease_duration, now);
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
            Ok(_) => Ok(true),
            Err(kube::Error::Api(e)) if e.code == 409 => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Waits until this candidate holds the lease.
    pub async fn acquire(&self) {
        let mut announced = false;
        loop {
            match self.try_once().await {
                Ok(true) => {
                    tracing::info!(lease = %self.name, identity = %self.identity, "became leader");
                    return;
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

    /// Renews the lease until a renewal has not succeeded for most of the lease duration (or
    /// someone else took it); returns then, and the caller must stop acting.
    pub async fn hold(&self) {
        let renew_every = self.lease_duration / 3;
        let give_up_after = self.lease_duration.mul_f64(2.0 / 3.0);
        let mut last_ok = tokio::time::Instant::now();
        loop {
            tokio::time::sleep(renew_every.min(self.retry * 2)).await;
            match self.try_once().await {
                Ok(true) => last_ok = tokio::time::Instant::now(),
                Ok(false) => {
                    tracing::error!(lease = %self.name, "leadership lost to another replica");
                    return;
                }
                Err(e) => tracing::warn!(lease = %self.name, error = %e, "lease renewal failed"),
            }
            if last_ok.elapsed() > give_up_after {
                tracing::error!(lease = %self.name, "could not renew the lease in time");
                return;
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

    #[test]
    fn a_missing_lease_is_taken() {
        assert_eq!(decide(None, "a", t(0)), Decision::Take);
    }

    #[test]
    fn a_released_lease_is_taken_at_once() {
        let spec = released(&held_by("b", 10, 15));
        assert_eq!(decide(Some(&spec), "a", t(11)), Decision::Take);
    }

    #[test]
    fn the_holder_renews_its_own_lease() {
        assert_eq!(
            decide(Some(&held_by("a", 10, 15)), "a", t(100)),
            Decision::Renew
        );
    }

    #[test]
    fn a_live_lease_of_another_replica_is_respected_until_it_expires() {
        let spec = held_by("b", 10, 15);
        assert_eq!(
            decide(Some(&spec), "a", t(24)),
            Decision::Wait {
                holder: "b".into(),
                until: t(25)
            }
        );
        assert_eq!(decide(Some(&spec), "a", t(25)), Decision::Take);
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
