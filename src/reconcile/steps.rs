//! The steps of a reconcile pass as a contract: a kind says what it wants (`desired`), reads
//! everything it decides on (`observe`, and `observe_more` for a fact the plan asks for), decides
//! once (`plan`, pure), and sends only the planned writes (`execute`), recording each as it
//! lands; `status` is what the plan recorded plus what landed. [`run`] is the only place that
//! sequences them, and the only place that knows that writes may be withheld (observe mode,
//! `connect-gr plan`): then the plan's writes go into `status.plan` and nothing is executed.

use async_trait::async_trait;
use k8s_openapi::jiff::Timestamp;

use super::*;

/// The plan asks for one more fact, or is final.
pub enum Planned<P, R> {
    Read(R),
    Final(P),
}

/// A kind's reconcile, step by step.
#[async_trait]
pub trait Steps: driver::Managed {
    type Desired: Send + Sync;
    type Observed: Send + Sync;
    /// A fact the plan may ask for (read only when it matters).
    type Read: Send + Sync;
    type Plan: Send + Sync;

    fn desired(&self) -> Self::Desired;

    /// Every read the decision needs; `Ok(Err(ending))` when the pass cannot go on yet (a
    /// referenced object missing).
    async fn observe(
        &self,
        engine: &Engine,
        objects: &dyn Objects,
        desired: &Self::Desired,
    ) -> Result<Result<Self::Observed, Ending>, PassError>;

    /// Reads what the plan asked for into `observed`.
    async fn observe_more(
        &self,
        engine: &Engine,
        observed: &mut Self::Observed,
        read: Self::Read,
    ) -> Result<(), PassError>;

    /// Pure: the one decision of the pass.
    fn plan(
        &self,
        engine: &Engine,
        desired: &Self::Desired,
        observed: &Self::Observed,
        previous: &Self::Status,
        withheld: bool,
        now: Timestamp,
    ) -> Planned<Self::Plan, Self::Read>;

    /// `[region] Operation detail` of each planned write.
    fn planned_calls(plan: &Self::Plan) -> Vec<String>;

    /// The status, Events and ending the plan records before any write.
    fn status_step(plan: &Self::Plan) -> (Self::Status, Vec<Note>, Ending);

    /// Sends the planned writes in order, recording each in `status` as it lands. `Some(ending)`
    /// when a write was refused in a way the plan foresaw.
    async fn execute(
        &self,
        engine: &Engine,
        objects: &dyn Objects,
        plan: &Self::Plan,
        status: &mut Self::Status,
        notes: &mut Vec<Note>,
        now: Timestamp,
    ) -> Result<Option<Ending>, PassError>;
}

/// At most this many facts are read on the plan's request in one pass (each is asked once).
const MAX_EXTRA_READS: usize = 4;

/// One pass of `obj` through its steps.
pub async fn run<K: Steps>(
    engine: &Engine,
    objects: &dyn Objects,
    obj: &K,
    now: Timestamp,
) -> Pass<K::Status> {
    let previous = obj.status().cloned().unwrap_or_default();
    let unchanged = |result| Pass {
        status: previous.clone(),
        notes: vec![],
        result,
    };
    let desired = obj.desired();
    let mut observed = match obj.observe(engine, objects, &desired).await {
        Ok(Ok(o)) => o,
        Ok(Err(end)) => return unchanged(Ok(end)),
        Err(e) => return unchanged(Err(e)),
    };
    let withheld = engine.observe_only;
    let mut reads = 0;
    let plan = loop {
        match obj.plan(engine, &desired, &observed, &previous, withheld, now) {
            Planned::Final(p) => break p,
            Planned::Read(_) if reads == MAX_EXTRA_READS => {
                return unchanged(Ok(Ending::wait(
                    api::reasons::WAITING,
                    "the plan kept asking for facts; trying again",
                )));
            }
            Planned::Read(r) => {
                reads += 1;
                if let Err(e) = obj.observe_more(engine, &mut observed, r).await {
                    return unchanged(Err(e));
                }
            }
        }
    };
    let (mut status, mut notes, ending) = K::status_step(&plan);
    let calls = K::planned_calls(&plan);
    if withheld {
        status.set_plan(Some(api::common::PlannedCalls {
            total: calls.len() as i32,
            calls,
        }));
        return Pass {
            status,
            notes,
            result: Ok(ending),
        };
    }
    let result = obj
        .execute(engine, objects, &plan, &mut status, &mut notes, now)
        .await
        .map(|rejected| rejected.unwrap_or(ending));
    Pass {
        status,
        notes,
        result,
    }
}
