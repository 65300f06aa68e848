//! `convergence`: 5,000 agents across 5 AgentMemberships converge against the emulator with the
//! AWS default quotas (scaled), compared with the quota bound and with the public samples' loop.
mod common;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use common::*;
use connect_gr::local::World;
use serde_json::json;

const OP: &str = "AssociateTrafficDistributionGroupUser";
/// AWS default rate of AssociateTrafficDistributionGroupUser (rule Q1), requests per second.
const RATE: f64 = 2.0;

fn main() {
    init();
    if let Err(e) = runtime().block_on(run()) {
        eprintln!("convergence: could not run: {e:#}");
        std::process::exit(1);
    }
}

async fn run() -> anyhow::Result<()> {
    let quick = quick();
    let agents = if quick { 100 } else { 5_000 };
    let objects = 5;
    // Quick: a low scale so the burst (2.5 s of quota) does not cover the whole batch.
    let scale = quota_scale(if quick { 5.0 } else { 20.0 });
    println!("convergence: {agents} agents, {objects} memberships, quota scale {scale}");

    // --- connect-gr ---
    let emu = emulator(agents, scale).await?;
    let mut engine = engine(&emu, scale, Duration::from_secs(300));
    // One batch per membership pass, so the measurement is the scheduler, not the demo's sleeps.
    engine.batch_window = Duration::from_secs(3600);
    let world = World::default();
    converge_base(&engine, &world).await?;
    let before = emu.calls().len();
    world.apply_yaml(&memberships_yaml(agents, objects), "bench")?;
    let t0 = Instant::now();
    converge_all(&engine, &world, Duration::from_secs(3600)).await?;
    let elapsed = t0.elapsed().as_secs_f64();
    let calls: Vec<_> = emu.calls().into_iter().skip(before).collect();
    let throttled = calls.iter().filter(|c| c.status == 429).count();
    let assoc_ok = calls
        .iter()
        .filter(|c| c.operation == OP && c.status == 200)
        .count();
    // Every agent needed exactly one successful association; the rest would be duplicates.
    let members = group_members(&emu);
    let duplicates = assoc_ok.saturating_sub(agents);
    let rate = RATE * scale;
    let bound = agents as f64 / rate;
    let ratio = elapsed / bound;
    let throttled_fraction = throttled as f64 / calls.len().max(1) as f64;
    emu.shutdown().await;
    if members < agents {
        anyhow::bail!("only {members}/{agents} agents associated");
    }

    // --- baseline: sequential loop, one associate per agent, plain SDK, retry on throttling ---
    let emu = emulator(agents, scale).await?;
    let engine2 = common::engine(&emu, scale, Duration::from_secs(300));
    let world2 = World::default();
    converge_base(&engine2, &world2).await?;
    let arn = world2.groups.lock()[0]
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
    let before = emu.calls().len();
    let t0 = Instant::now();
    for i in 1..=agents {
        let user = connect_gr::emulator::user_id(INSTANCE, &username(i));
        loop {
            let r = client
                .associate_traffic_distribution_group_user()
                .traffic_distribution_group_id(&arn)
                .instance_id(INSTANCE)
                .user_id(&user)
                .send()
                .await;
            match r {
                Ok(_) => break,
                Err(e) => {
                    let throttled = e
                        .as_service_error()
                        .and_then(|s| aws_sdk_connect::error::ProvideErrorMetadata::code(s))
                        == Some("ThrottlingException")
                        || e.raw_response().is_some_and(|r| r.status().as_u16() == 429);
                    if !throttled {
                        anyhow::bail!("baseline: {e:?}");
                    }
                }
            }
        }
    }
    let baseline = t0.elapsed().as_secs_f64();
    let base_log: Vec<_> = emu.calls().into_iter().skip(before).collect();
    let base_calls = base_log.len();
    let base_throttled = base_log.iter().filter(|c| c.status == 429).count();
    let base_members = group_members(&emu);
    emu.shutdown().await;
    if base_members < agents {
        anyhow::bail!("baseline: only {base_members}/{agents} agents associated");
    }

    let speedup = baseline / elapsed;
    write_json(
        "convergence",
        &json!({
            "agents": agents,
            "calls": calls.len(),
            "elapsed_s": round(elapsed, 3),
            "quota_bound_s": round(bound, 3),
            "ratio_to_bound": round(ratio, 4),
            "throttled_fraction": round(throttled_fraction, 5),
            "duplicate_writes": duplicates,
            "baseline_elapsed_s": round(baseline, 3),
            "speedup_vs_baseline": round(speedup, 3),
            "memberships": objects,
            "quota_scale": scale,
            "elapsed_s_unscaled": round(elapsed * scale, 1),
            "baseline_elapsed_s_unscaled": round(baseline * scale, 1),
            "baseline_calls": base_calls,
            "baseline_throttled_fraction": round(base_throttled as f64 / base_calls.max(1) as f64, 5),
            "quick": quick,
        }),
    )?;
    check(
        "ratio_to_bound <= 1.10",
        ratio <= 1.10,
        format!("{ratio:.3}"),
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
    // Not a target: the baseline loop is quota-bound too; what it costs is throttled calls.
    println!(
        "  info   speedup vs baseline          {speedup:.2}x (baseline: {:.1}% of its calls throttled)",
        base_throttled as f64 / base_calls.max(1) as f64 * 100.0
    );
    Ok(())
}

/// Members of every group in the emulator's state (source region).
fn group_members(emu: &connect_gr::emulator::RunningEmulator) -> usize {
    let state = emu.state_json();
    let mut seen = BTreeSet::new();
    collect_users(&state, &mut seen);
    seen.len()
}

fn collect_users(v: &serde_json::Value, out: &mut BTreeSet<String>) {
    match v {
        serde_json::Value::Object(m) => {
            for (k, x) in m {
                if k == "users" && x.is_array() && m.contains_key("status") {
                    for u in x.as_array().into_iter().flatten() {
                        if let Some(s) = u.as_str() {
                            out.insert(s.to_string());
                        }
                    }
                } else {
                    collect_users(x, out);
                }
            }
        }
        serde_json::Value::Array(a) => a.iter().for_each(|x| collect_users(x, out)),
        _ => {}
    }
}
