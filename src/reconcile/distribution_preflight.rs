//! TrafficDistribution steps of issue 12: the preflight gate (a move of telephony into a region
//! with blocking findings is refused unless `spec.acceptRisks` lists their kinds) and
//! cross-region routing (`spec.crossRegionRouting`, default group only).
//!
//! The gate reads the findings the InstanceReplica's preflight wrote (`status.preflight`, via
//! the reconciler's `Objects`) instead of reading every flow again on the failover path: the
//! failover stays fast and its Connect budget is not spent on flows. The region telephony moves
//! away from is probed (DescribeInstance) only when the move would be refused: when it does not
//! answer, it is down and the move goes through.

use std::collections::BTreeSet;

use kube::ResourceExt;

use super::*;
use crate::api::preflight::CrossRegionRouting;
use crate::api::{TrafficDistribution, TrafficDistributionStatus, reasons};
use crate::connect::{Distribution, DistributionUpdate};
use crate::plan::preflight::refuse_move;

/// `Some(ending)` (Stalled, PreflightBlocking) when the update must not be sent.
pub async fn gate(
    engine: &Engine,
    objects: &dyn Objects,
    obj: &TrafficDistribution,
    group: &GroupRef,
    observed: &Distribution,
    update: &DistributionUpdate,
) -> Result<Option<Ending>, PassError> {
    let Some(after) = &update.telephony else {
        return Ok(None);
    };
    let ns = obj.namespace().unwrap_or_default();
    let Some(tdg) = objects.group(&ns, &obj.spec.group_ref.name).await? else {
        return Ok(None);
    };
    let Some(replica_name) = tdg.spec.replica_ref.as_ref().map(|r| r.name.clone()) else {
        return Ok(None);
    };
    let Some(preflight) = objects
        .replica(&ns, &replica_name)
        .await?
        .and_then(|r| r.status)
        .and_then(|s| s.preflight)
    else {
        return Ok(None);
    };
    let before = &observed.telephony;
    let none = BTreeSet::new();
    if refuse_move(&preflight, before, after, &obj.spec.accept_risks, &none).is_none() {
        return Ok(None);
    }
    let mut down = BTreeSet::new();
    for (region, pct) in before {
        if after.get(region).copied().unwrap_or(0) < *pct
            && let Err(e) = engine
                .connect
                .describe_instance(region, &group.instance_id)
                .await
            && e.class() != ErrorClass::Terminal
        {
            down.insert(region.clone());
        }
    }
    Ok(
        refuse_move(&preflight, before, after, &obj.spec.accept_risks, &down).map(|m| {
            Ending::new(
                Verdict::stalled(reasons::PREFLIGHT_BLOCKING, m),
                engine.resync,
            )
        }),
    )
}

/// Reads cross-region routing and applies `spec.crossRegionRouting` through the preferred
/// region, falling back to the other one like the distribution. `Some(ending)` (Stalled) when
/// it cannot be applied: the group is not the default one, or Connect rejects the request (an
/// instance not enabled for global routing) - no retry loop, the next resync tries again.
pub async fn routing(
    engine: &Engine,
    obj: &TrafficDistribution,
    group: &GroupRef,
    order: &[String; 2],
    status: &mut TrafficDistributionStatus,
) -> Result<Option<Ending>, PassError> {
    let Some(want) = obj.spec.cross_region_routing else {
        status.cross_region_routing = None;
        return Ok(None);
    };
    if !group.is_default {
        return Ok(Some(Ending::new(
            Verdict::stalled(
                reasons::GLOBAL_ROUTING_UNAVAILABLE,
                "crossRegionRouting applies to the default traffic distribution group only",
            ),
            engine.resync,
        )));
    }
    let connect = &engine.connect;
    let id = group.instance_id.as_str();
    let stalled = |e: &ConnectError| {
        Ending::new(
            Verdict::stalled(
                reasons::GLOBAL_ROUTING_UNAVAILABLE,
                format!("cross-region routing cannot be read or changed: {e}"),
            ),
            engine.resync,
        )
    };
    let read = super::fallback::in_either(
        &engine.health,
        order,
        crate::connect::Priority::Urgent,
        |r| async move { connect.get_cross_region_routing(&r, id).await },
    )
    .await;
    let isolated = match read {
        Ok((list, _)) => !list.is_empty(),
        Err(e) if e.class() == ErrorClass::Terminal => return Ok(Some(stalled(&e))),
        Err(e) => return Err(e.into()),
    };
    let seen = if isolated {
        CrossRegionRouting::Isolated
    } else {
        CrossRegionRouting::Enabled
    };
    if seen != want {
        let iso = want == CrossRegionRouting::Isolated;
        match super::fallback::in_either(
            &engine.health,
            order,
            crate::connect::Priority::Urgent,
            |r| async move { connect.update_cross_region_routing(&r, id, iso).await },
        )
        .await
        {
            Ok(_) => {}
            Err(e) if e.class() == ErrorClass::Terminal => return Ok(Some(stalled(&e))),
            Err(e) => return Err(e.into()),
        }
    }
    status.cross_region_routing = Some(want);
    if let Some(split) = &status.split
        && !split.contains("routing")
    {
        status.split = Some(format!("{split}, routing {want:?}"));
    }
    Ok(None)
}
