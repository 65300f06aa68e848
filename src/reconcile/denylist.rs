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

use super::*;
use crate::api::{CallerDenylist, CallerDenylistStatus, DenylistRegionStatus, reasons};
use crate::connect::arn_account;
use crate::denylist::table::TableState;
use crate::denylist::{
    DenylistClients, DenylistInput, DenylistObservation, LambdaInput, number::NumberPolicy,
    reconcile_denylist,
};

/// What the engine needs from DynamoDB (and the Lambda association calls), per pass.
#[async_trait]
pub trait DenylistBackend: Send + Sync {
    /// `connect` is the engine's Connect seam (Lambda associations go through the shared
    /// scheduler, quotas and call metrics like every other Connect call).
    async fn reconcile(
        &self,
        connect: Arc<dyn ConnectApi>,
        table: &str,
        source: &str,
        replica: &str,
        input: &DenylistInput,
    ) -> DenylistObservation;
    async fn release(&self, table: &str, source: &str, owner: &str) -> Result<(), String>;
}

/// The production backend: SDK clients per region, from the standard AWS configuration
/// (`AWS_ENDPOINT_URL_DYNAMODB` / `AWS_ENDPOINT_URL_CONNECT` honoured).
#[derive(Default)]
pub struct SdkDenylist {
    configs: tokio::sync::Mutex<HashMap<String, aws_config::SdkConfig>>,
}

impl SdkDenylist {
    async fn config(&self, region: &str) -> aws_config::SdkConfig {
        let mut m = self.configs.lock().await;
        if let Some(c) = m.get(region) {
            return c.clone();
        }
        let c = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new(region.to_string()))
            .load()
            .await;
        m.insert(region.to_string(), c.clone());
        c
    }
}

#[async_trait]
impl DenylistBackend for SdkDenylist {
    async fn reconcile(
        &self,
        connect: Arc<dyn ConnectApi>,
        table: &str,
        source: &str,
        replica: &str,
        input: &DenylistInput,
    ) -> DenylistObservation {
        let (s, r) = (self.config(source).await, self.config(replica).await);
        let clients = DenylistClients::from_sdk(
            table,
            aws_sdk_dynamodb::Client::new(&s),
            Some(aws_sdk_dynamodb::Client::new(&r)),
            connect,
            &[source, replica],
        );
        reconcile_denylist(input, &clients).await
    }

    async fn release(&self, table: &str, source: &str, owner: &str) -> Result<(), String> {
        let s = self.config(source).await;
        let store =
            crate::denylist::dynamo::DynamoDenylist::new(aws_sdk_dynamodb::Client::new(&s), table);
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

pub async fn apply(
    engine: &Engine,
    obj: &CallerDenylist,
    objects: &dyn Objects,
    now: Timestamp,
) -> Pass<CallerDenylistStatus> {
    let mut status = obj.status.clone().unwrap_or_default();
    let mut notes = Vec::new();
    let result = steps(engine, obj, objects, now, &mut status, &mut notes).await;
    Pass {
        status,
        notes,
        result,
    }
}

async fn steps(
    engine: &Engine,
    obj: &CallerDenylist,
    objects: &dyn Objects,
    now: Timestamp,
    status: &mut CallerDenylistStatus,
    notes: &mut Vec<Note>,
) -> Result<Ending, PassError> {
    let Some(backend) = engine.denylist.clone() else {
        return Ok(Ending::new(
            Verdict::stalled(reasons::NO_DYNAMODB, "this engine runs without DynamoDB"),
            engine.resync,
        ));
    };
    let ns = obj.namespace().unwrap_or_default();
    let group = match resolve_group(objects, &ns, &obj.spec.group_ref.name).await? {
        Ok(g) => g,
        Err(wait) => return Ok(wait),
    };
    let input = DenylistInput {
        declared: obj.spec.numbers.clone(),
        owner: owner(obj),
        number_policy: NumberPolicy::default(),
        lambda: obj.spec.lambda_functions.as_ref().map(|l| LambdaInput {
            instance_id: group.instance_id.clone(),
            account_id: arn_account(&group.arn).unwrap_or_default().to_string(),
            function_names: vec![l.add.clone(), l.check.clone()],
        }),
        now: now.to_string(),
    };
    let obs = backend
        .reconcile(
            engine.connect.clone(),
            &obj.spec.table_name,
            &group.source_region,
            &group.replica_region,
            &input,
        )
        .await;
    status.region = Some(group.source_region.clone());
    status.id = Some(obj.spec.table_name.clone());
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
    let errors = obs
        .errors
        .iter()
        .map(|e| e.to_string())
        .collect::<Vec<_>>()
        .join("; ");
    let (verdict, requeue) = if obs.ready {
        (
            Verdict::Ready(format!(
                "table {} answers in {} and {}",
                obj.spec.table_name, group.source_region, group.replica_region
            )),
            engine.resync,
        )
    } else if obs.stalled() {
        (
            Verdict::stalled(reasons::DENYLIST_REJECTED, errors),
            engine.resync,
        )
    } else if obs.transient() {
        return Err(ConnectError::Transient(errors).into());
    } else {
        (
            Verdict::progressing(
                reasons::CREATING_TABLE,
                "waiting for the table and its replica",
            ),
            Duration::from_secs(3),
        )
    };
    Ok(Ending::new(verdict, requeue))
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
