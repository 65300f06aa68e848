//! TrafficDistribution steps of issue 12: the preflight gate (a move of telephony into a region
//! with blocking findings is refused unless `spec.acceptRisks` lists their kinds) and
//! cross-region routing (`spec.crossRegionRouting`, default group only).
//!
//! The gate reads the findings the InstanceReplica's preflight wrote (`status.preflight`, via
//! the reconciler's `Objects`) instead of reading every flow again on the failover path: the
//! failover stays fast and its Connect budget is not spent on flows. The region telephony moves
//! away from is probed (DescribeInstance) only when the move would be refused: when it fails as an
//! outage does (connection failure, timeout, 5xx), it is down and the move goes through; a
//! throttled or NotFound answer is an answer (issue 25: fail closed).

use std::collections::BTreeSet;

use kube::ResourceExt;

use super::*;
use crate::api::preflight::CrossRegionRouting;
use crate::api::{TrafficDistribution, TrafficDistributionStatus, reasons};
use crate::connect::{Distribution, DistributionUpdate};
use crate::plan::preflight_gate::{Findings, down_after_probe, refuse, regions_left};

/// `Some(ending)` (Stalled, PreflightBlocking or PreflightUnknown) when the update must not be
/// sent. Fails closed (`plan::preflight_gate`): a missing group, InstanceReplica or
/// `status.preflight` is unknown findings, and a region left is down only when its probe failed
/// as an outage does.
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
    let tdg_name = &obj.spec.group_ref.name;
    let replica = match objects.group(&ns, tdg_name).await? {
        None => Err(format!(
            "TrafficDistributionGroup {ns}/{tdg_name} not found"
        )),
        Some(tdg) => Ok(tdg.spec.replica_ref.as_ref().map(|r| r.name.clone())),
    };
    let preflight = match replica {
        Err(why) => Err(why),
        Ok(None) => Ok(None),
        Ok(Some(name)) => match objects.replica(&ns, &name).await? {
            None => Err(format!("InstanceReplica {ns}/{name} not found")),
            Some(r) => match r.status.and_then(|s| s.preflight) {
                None => Err(format!(
                    "InstanceReplica {ns}/{name} has no status.preflight"
                )),
                Some(p) => Ok(Some(p)),
            },
        },
    };
    let findings = match &preflight {
        Err(why) => Findings::Unknown(why.clone()),
        Ok(None) => Findings::NotManaged,
        Ok(Some(p)) => Findings::Known(p),
    };
    let before = &observed.telephony;
    let accepted = &obj.spec.accept_risks;
    if refuse(&findings, before, after, accepted, &BTreeSet::new()).is_none() {
        return Ok(None);
    }
    let mut down = BTreeSet::new();
    for region in regions_left(before, after) {
        let probe = engine
            .connect
            .describe_instance(&region, &group.instance_id)
            .await
            .map(|_| ());
        if down_after_probe(&probe) {
            down.insert(region);
        }
    }
    Ok(
        refuse(&findings, before, after, accepted, &down).map(|(reason, m)| {
            // Unknown findings may appear soon (the replica's next preflight): look again sooner.
            let again = if reason == reasons::PREFLIGHT_UNKNOWN {
                engine.resync.min(std::time::Duration::from_secs(15))
            } else {
                engine.resync
            };
            Ending::new(Verdict::stalled(reason, m), again)
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
