//! CallerDenylist: the DynamoDB global table in both regions of the group, the declared numbers
//! (never touching agent-flagged ones) and the two Lambda functions associated with the instance in
//! both regions (associations are not mirrored, R4). The work itself is `crate::denylist`; this
//! file maps the object to its input and the observation to status.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt;

use super::steps::{Planned, Steps};
use super::*;
use crate::api::{CallerDenylist, CallerDenylistStatus, DenylistRegionStatus, reasons};
use crate::connect::arn_account;
use crate::denylist::dynamo::DynamoDenylist;
use crate::denylist::lambda_assoc::ConnectLambdaApi;
use crate::denylist::plan::{DenylistPlan, DenylistWrite, Landed, Seen, as_planned, outcome};
use crate::denylist::table::TableState;
use crate::denylist::{
    DenylistClients, DenylistInput, DenylistObservation, LambdaInput, number::NumberPolicy,
};

/// Where a denylist lives: its table and the two regions of its group.
#[derive(Debug, Clone)]
pub struct DenylistTarget {
    pub table: String,
    pub source: String,
    pub replica: String,
}

/// What the engine needs from DynamoDB (and the Lambda association calls), per pass: the reads
/// of the observe step and the writes of the execute step, kept apart so observe mode and
/// `connect-gr plan` read and never write.
#[async_trait]
pub trait DenylistBackend: Send + Sync {
    /// Every read. `connect` is the engine's Connect seam (Lambda associations go through the
    /// shared scheduler, quotas and call metrics like every other Connect call).
    async fn observe(
        &self,
        connect: Arc<dyn ConnectApi>,
        target: &DenylistTarget,
        lambda: Option<&LambdaInput>,
    ) -> Seen;
    /// Sends the planned writes; each one's result, in plan order.
    async fn execute(
        &self,
        connect: Arc<dyn ConnectApi>,
        target: &DenylistTarget,
        plan: &DenylistPlan,
    ) -> Vec<Landed>;
    async fn release(&self, table: &str, source: &str, owner: &str) -> Result<(), String>;
}

/// The production backend: SDK clients per region, from the standard AWS configuration
/// (`AWS_ENDPOINT_URL_DYNAMODB` / `AWS_ENDPOINT_URL_CONNECT` honoured).
#[derive(Default)]
pub struct SdkDenylist {
    configs: tokio::sync::Mutex<HashMap<String, aws_config::SdkConfig>>,
    /// DynamoDB's endpoint, when not the one of the environment (tests against moto).
    endpoint: Option<String>,
}

impl SdkDenylist {
    /// A backend whose DynamoDB clients all go to `endpoint`.
    pub fn with_endpoint(endpoint: impl Into<String>) -> Self {
        Self {
            endpoint: Some(endpoint.into()),
            ..Self::default()
        }
    }

    async fn dynamodb(&self, region: &str) -> aws_sdk_dynamodb::Client {
        let mut m = self.configs.lock().await;
        let c = match m.get(region) {
            Some(c) => c.clone(),
            None => {
                let c = aws_config::defaults(aws_config::BehaviorVersion::latest())
                    .region(aws_config::Region::new(region.to_string()))
                    .load()
                    .await;
                m.insert(region.to_string(), c.clone());
                c
            }
        };
        let mut b = aws_sdk_dynamodb::config::Builder::from(&c);
        if let Some(e) = &self.endpoint {
            b = b.endpoint_url(e);
        }
        aws_sdk_dynamodb::Client::from_conf(b.build())
    }

    async fn clients(
        &self,
        connect: Arc<dyn ConnectApi>,
        t: &DenylistTarget,
    ) -> DenylistClients<DynamoDenylist, ConnectLambdaApi> {
        DenylistClients::from_sdk(
            &t.table,
            self.dynamodb(&t.source).await,
            Some(self.dynamodb(&t.replica).await),
            connect,
            &[&t.source, &t.replica],
        )
    }
}

#[async_trait]
impl DenylistBackend for SdkDenylist {
    async fn observe(
        &self,
        connect: Arc<dyn ConnectApi>,
        target: &DenylistTarget,
        lambda: Option<&LambdaInput>,
    ) -> Seen {
        let clients = self.clients(connect, target).await;
        crate::denylist::steps::observe(&clients, lambda).await
    }

    async fn execute(
        &self,
        connect: Arc<dyn ConnectApi>,
        target: &DenylistTarget,
        plan: &DenylistPlan,
    ) -> Vec<Landed> {
        let clients = self.clients(connect, target).await;
        crate::denylist::steps::execute(&clients, plan).await
    }

    async fn release(&self, table: &str, source: &str, owner: &str) -> Result<(), String> {
        let store = DynamoDenylist::new(self.dynamodb(source).await, table);
        crate::denylist::release_declared(&store, owner)
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    }
}

/// The backend the controller uses: always the SDK one (DynamoDB is reached lazily, only when a
/// CallerDenylist exists).
pub async fn backend_from_env() -> Option<Arc<dyn DenylistBackend>> {
    Some(Arc::new(SdkDenylist::default()))
}

/// Entries the controller writes carry this owner, so it deletes only what it wrote.
pub fn owner(obj: &CallerDenylist) -> String {
    format!(
        "connectgr.io/{}/{}",
        obj.namespace().unwrap_or_default(),
        obj.name_any()
    )
}

fn state_text(s: &TableState, status: &Option<String>) -> String {
    match s {
        TableState::Missing => "MISSING".into(),
        TableState::Ready => status.clone().unwrap_or_else(|| "ACTIVE".into()),
        TableState::Waiting(w) => w.clone(),
        TableState::Failed { status, .. } => status.clone(),
    }
}

/// What a pass read: where the denylist lives and the backend's reads.
pub struct Observed {
    group: GroupRef,
    backend: Arc<dyn DenylistBackend>,
    seen: Seen,
}

/// The pass's decision and what it records.
pub struct Plan {
    target: DenylistTarget,
    group: GroupRef,
    backend: Arc<dyn DenylistBackend>,
    denylist: DenylistPlan,
    previous: CallerDenylistStatus,
    resync: Duration,
}

fn target(obj: &CallerDenylist, group: &GroupRef) -> DenylistTarget {
    DenylistTarget {
        table: obj.spec.table_name.clone(),
        source: group.source_region.clone(),
        replica: group.replica_region.clone(),
    }
}

fn lambda_input(obj: &CallerDenylist, group: &GroupRef) -> Option<LambdaInput> {
    obj.spec.lambda_functions.as_ref().map(|l| LambdaInput {
        instance_id: group.instance_id.clone(),
        account_id: arn_account(&group.arn).unwrap_or_default().to_string(),
        function_names: vec![l.add.clone(), l.check.clone()],
    })
}

#[async_trait]
impl Steps for CallerDenylist {
    type Desired = ();
    type Observed = Observed;
    type Read = ();
    type Plan = Plan;

    fn desired(&self) {}

    async fn observe(
        &self,
        engine: &Engine,
        objects: &dyn Objects,
        _: &(),
    ) -> Result<Result<Observed, Ending>, PassError> {
        let Some(backend) = engine.denylist.clone() else {
            return Ok(Err(Ending::new(
                Verdict::stalled(reasons::NO_DYNAMODB, "this engine runs without DynamoDB"),
                engine.resync,
            )));
        };
        let ns = self.namespace().unwrap_or_default();
        let group = match resolve_group(objects, &ns, &self.spec.group_ref.name).await? {
            Ok(g) => g,
            Err(wait) => return Ok(Err(wait)),
        };
        let seen = backend
            .observe(
                engine.connect.clone(),
                &target(self, &group),
                lambda_input(self, &group).as_ref(),
            )
            .await;
        Ok(Ok(Observed {
            group,
            backend,
            seen,
        }))
    }

    async fn observe_more(&self, _: &Engine, _: &mut Observed, _: ()) -> Result<(), PassError> {
        Ok(())
    }

    fn plan(
        &self,
        engine: &Engine,
        _: &(),
        o: &Observed,
        previous: &CallerDenylistStatus,
        _withheld: bool,
        now: Timestamp,
    ) -> Planned<Plan, ()> {
        let input = DenylistInput {
            declared: self.spec.numbers.clone(),
            owner: owner(self),
            number_policy: NumberPolicy::default(),
            lambda: lambda_input(self, &o.group),
            now: now.to_string(),
        };
        Planned::Final(Plan {
            target: target(self, &o.group),
            group: o.group.clone(),
            backend: o.backend.clone(),
            denylist: crate::denylist::plan::plan(&input, &o.seen),
            previous: previous.clone(),
            resync: engine.resync,
        })
    }

    fn planned_calls(plan: &Plan) -> Vec<String> {
        plan.denylist
            .writes
            .iter()
            .map(DenylistWrite::describe)
            .collect()
    }

    /// What the pass records when every planned write lands as planned.
    fn status_step(plan: &Plan) -> (CallerDenylistStatus, Vec<Note>, Ending) {
        let obs = outcome(&plan.denylist, &as_planned(&plan.denylist));
        let (status, notes, verdict) = recorded(plan, &obs);
        let ending = verdict.unwrap_or_else(|| {
            Ending::new(
                Verdict::progressing(reasons::WAITING, obs.errors_text()),
                PROGRESS_REQUEUE,
            )
        });
        (status, notes, ending)
    }

    async fn execute(
        &self,
        engine: &Engine,
        _: &dyn Objects,
        plan: &Plan,
        status: &mut CallerDenylistStatus,
        notes: &mut Vec<Note>,
        _now: Timestamp,
    ) -> Result<Option<Ending>, PassError> {
        let landed = plan
            .backend
            .execute(engine.connect.clone(), &plan.target, &plan.denylist)
            .await;
        let obs = outcome(&plan.denylist, &landed);
        let (s, n, ending) = recorded(plan, &obs);
        *status = s;
        *notes = n;
        match ending {
            Some(end) => Ok(Some(end)),
            None => Err(ConnectError::Transient(obs.errors_text()).into()),
        }
    }
}

pub async fn apply(
    engine: &Engine,
    obj: &CallerDenylist,
    objects: &dyn Objects,
    now: Timestamp,
) -> Pass<CallerDenylistStatus> {
    super::steps::run(engine, objects, obj, now).await
}

/// The status, Events and ending of a pass that came to `obs`; no ending (`None`) when a
/// transient failure should be retried with backoff.
fn recorded(
    plan: &Plan,
    obs: &DenylistObservation,
) -> (CallerDenylistStatus, Vec<Note>, Option<Ending>) {
    let mut status = plan.previous.clone();
    let mut notes = Vec::new();
    let group = &plan.group;
    status.region = Some(group.source_region.clone());
    status.id = Some(plan.target.table.clone());
    if let Some(c) = obs.counts {
        status.declared = Some(c.declared as i32);
        status.agent_flagged = Some(c.agent_flagged as i32);
        status.total = Some((c.declared + c.agent_flagged + c.manual + c.other) as i32);
    }
    if obs.entries.is_some() {
        status.managed_numbers = obs.managed_numbers.clone();
    }
    let lambda_ok = |region: &str| {
        obs.lambda
            .iter()
            .find(|r| r.region == region)
            .map(|r| r.all_associated())
    };
    let mut regions = vec![DenylistRegionStatus {
        region: obs.table.source.region.clone(),
        table: Some(state_text(
            &obs.table.source.state,
            &obs.table.source.status,
        )),
        replica: None,
        lambda_associated: lambda_ok(&obs.table.source.region),
    }];
    if let Some(r) = &obs.table.replica {
        regions.push(DenylistRegionStatus {
            region: r.region.clone(),
            table: None,
            replica: Some(state_text(&r.state, &r.status)),
            lambda_associated: lambda_ok(&r.region),
        });
    }
    status.regions = regions;
    notes.extend(
        obs.table
            .actions
            .iter()
            .map(|a| Note::normal(reasons::DENYLIST_TABLE, a.clone())),
    );
    if let Some(e) = &obs.entries
        && (!e.written.is_empty() || !e.deleted.is_empty())
    {
        notes.push(Note::normal(
            reasons::DENYLIST_ENTRIES,
            format!("wrote {}, removed {}", e.written.len(), e.deleted.len()),
        ));
    }
    let ending = if obs.ready {
        Some(Ending::new(
            Verdict::Ready(format!(
                "table {} answers in {} and {}",
                plan.target.table, group.source_region, group.replica_region
            )),
            plan.resync,
        ))
    } else if obs.stalled() {
        Some(Ending::new(
            Verdict::stalled(reasons::DENYLIST_REJECTED, obs.errors_text()),
            plan.resync,
        ))
    } else if obs.transient() {
        None
    } else {
        Some(Ending::new(
            Verdict::progressing(
                reasons::CREATING_TABLE,
                "waiting for the table and its replica",
            ),
            Duration::from_secs(3),
        ))
    };
    (status, notes, ending)
}

/// On deletion the table and agent-flagged numbers stay; only numbers this object wrote go.
pub async fn cleanup(
    engine: &Engine,
    obj: &CallerDenylist,
    _objects: &dyn Objects,
) -> Result<Option<String>, PassError> {
    let (Some(backend), Some(region)) = (
        engine.denylist.clone(),
        obj.status.as_ref().and_then(|s| s.region.clone()),
    ) else {
        return Ok(None);
    };
    backend
        .release(&obj.spec.table_name, &region, &owner(obj))
        .await
        .map_err(ConnectError::Transient)?;
    Ok(None)
}
