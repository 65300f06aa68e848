//! `mixed`: one `Exact` AgentMembership changes from agents 1..N/2 to N/2+1..N (N/2 leave, N/2
//! join) with the AWS default quotas (scaled). Associate and disassociate have separate quota
//! buckets (rule Q1), so the bound is max(joins, leaves) / rate. Measured side by side with a
//! sequential script (disassociate the leavers, then associate the joiners, retrying on
//! throttling), through the same driver the controller runs.
mod common;

use std::time::{Duration, Instant};

use common::*;
use connect_gr::local::World;
use serde_json::json;

const JOIN: &str = "AssociateTrafficDistributionGroupUser";
const LEAVE: &str = "DisassociateTrafficDistributionGroupUser";
/// AWS default rate of both operations (rule Q1), requests per second.
const RATE: f64 = 2.0;

fn main() {
    init();
    if let Err(e) = runtime().block_on(run()) {
        eprintln!("mixed: could not run: {e:#}");
        std::process::exit(1);
    }
}

fn membership(from: usize, to: usize) -> String {
    let mut y = "apiVersion: connectgr.io/v1alpha1\nkind: AgentMembership\nmetadata: {name: team}\nspec:\n  groupRef: {name: support-default}\n  mode: Exact\n  users:\n".to_string();
    for i in from..=to {
        y.push_str(&format!("    - {}\n", username(i)));
    }
    y
}

/// An emulator whose group holds agents 1..=half, reconciled by the engine.
async fn set_up(
    agents: usize,
    scale: f64,
) -> anyhow::Result<(
    connect_gr::emulator::RunningEmulator,
    connect_gr::reconcile::Engine,
    World,
)> {
    let emu = emulator(agents, scale).await?;
    let mut engine = engine(&emu, scale, Duration::from_secs(300));
    engine.batch_window = Duration::from_secs(3600);
    let world = World::default();
    converge_base(&engine, &world).await?;
    world.apply_yaml(&membership(1, agents / 2), "first half")?;
    converge_all(&engine, &world, Duration::from_secs(3600)).await?;
    Ok((emu, engine, world))
}

async fn run() -> anyhow::Result<()> {
    let quick = quick();
    let agents = if quick { 200 } else { 5_000 };
    let scale = quota_scale(if quick { 5.0 } else { 20.0 });
    let (joins, leaves) = (agents - agents / 2, agents / 2);
    println!("mixed: {leaves} leave, {joins} join, quota scale {scale}");

    // --- connect-gr, through the driver ---
    let (emu, engine, world) = set_up(agents, scale).await?;
    let before = emu.calls().len();
    world.apply_yaml(&membership(agents / 2 + 1, agents), "second half")?;
    let t0 = Instant::now();
    converge_all(&engine, &world, Duration::from_secs(3600)).await?;
    let controller_s = t0.elapsed().as_secs_f64();
    let calls: Vec<_> = emu.calls().into_iter().skip(before).collect();
    let ok = |op: &str| {
        calls
            .iter()
            .filter(|c| c.operation == op && c.status == 200)
            .count()
    };
    let duplicates = ok(JOIN).saturating_sub(joins) + ok(LEAVE).saturating_sub(leaves);
    let throttled = calls.iter().filter(|c| c.status == 429).count();
    let throttled_fraction = throttled as f64 / calls.len().max(1) as f64;
    emu.shutdown().await;
    if ok(JOIN) < joins || ok(LEAVE) < leaves {
        anyhow::bail!(
            "only {}/{joins} joins and {}/{leaves} leaves",
            ok(JOIN),
            ok(LEAVE)
        );
    }

    // --- the sequential script ---
    let (emu, _engine, world) = set_up(agents, scale).await?;
    let arn = world.groups.lock()[0]
        .status
        .as_ref()
        .and_then(|s| s.arn.clone())
        .ok_or_else(|| anyhow::anyhow!("group has no ARN"))?;
    let conf = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new(SOURCE))
        .endpoint_url(emu.endpoint_url())
        .load()
        .await;
    let client = aws_sdk_connect::Client::new(&conf);
    let t0 = Instant::now();
    for (join, range) in [(false, 1..=agents / 2), (true, agents / 2 + 1..=agents)] {
        for i in range {
            let user = connect_gr::emulator::user_id(INSTANCE, &username(i));
            loop {
                let r = if join {
                    client
                        .associate_traffic_distribution_group_user()
                        .traffic_distribution_group_id(&arn)
                        .instance_id(INSTANCE)
                        .user_id(&user)
                        .send()
                        .await
                        .map(|_| ())
                        .map_err(|e| e.into_service_error().to_string())
                } else {
                    client
                        .disassociate_traffic_distribution_group_user()
                        .traffic_distribution_group_id(&arn)
                        .instance_id(INSTANCE)
                        .user_id(&user)
                        .send()
                        .await
                        .map(|_| ())
                        .map_err(|e| e.into_service_error().to_string())
                };
                match r {
                    Ok(()) => break,
                    Err(e) if e.contains("Throttl") || e.contains("Rate exceeded") => {}
                    Err(e) => anyhow::bail!("script: {e}"),
                }
            }
        }
    }
    let script_s = t0.elapsed().as_secs_f64();
    emu.shutdown().await;

    let bound = joins.max(leaves) as f64 / (RATE * scale);
    let ratio = controller_s / bound;
    let speedup = script_s / controller_s;
    write_json(
        "mixed",
        &json!({
            "joins": joins,
            "leaves": leaves,
            "controller_s": round(controller_s, 3),
            "bound_s": round(bound, 3),
            "ratio_to_bound": round(ratio, 4),
            "script_s": round(script_s, 3),
            "speedup_vs_script": round(speedup, 3),
            "throttled_fraction": round(throttled_fraction, 5),
            "duplicate_writes": duplicates,
            "quota_scale": scale,
            "quick": quick,
        }),
    )?;
    check(
        "ratio_to_bound <= 1.10",
        ratio <= 1.10,
        format!("{ratio:.3}"),
    );
    check(
        "speedup_vs_script >= 1.8",
        speedup >= 1.8,
        format!("{speedup:.2}x"),
    );
    check(
        "throttled_fraction <= 1%",
        throttled_fraction <= 0.01,
        format!("{:.2}%", throttled_fraction * 100.0),
    );
    check(
        "duplicate_writes == 0",
        duplicates == 0,
        duplicates.to_string(),
    );
    Ok(())
}
