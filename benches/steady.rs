//! `steady`: Connect calls, CPU and peak memory for 20 converged objects holding 5,000 agents.
//!
//! The emulator runs as its own process, so CPU and RSS are the controller engine's alone. Time
//! is compressed by the quota scale: quotas are multiplied by `scale` and the resync period
//! divided by it, so every rate the bench measures is `scale` times the production rate.
mod common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use common::*;
use connect_gr::connect::SchedulerConfig;
use connect_gr::local::World;
use serde_json::json;

/// The production resync period (the controller's default).
const PRODUCTION_RESYNC_S: f64 = 300.0;

fn main() {
    init();
    // The controller's malloc settings, so rss_mib is what the controller would hold.
    connect_gr::controller::release_large_buffers();
    if let Err(e) = runtime().block_on(run()) {
        eprintln!("steady: could not run: {e:#}");
        std::process::exit(1);
    }
}

async fn run() -> anyhow::Result<()> {
    let quick = quick();
    let agents = if quick { 100 } else { 5_000 };
    // replica + group + distribution + 17 memberships = 20 objects
    let memberships = 17;
    let objects = 3 + memberships;
    let scale = quota_scale(if quick { 100.0 } else { 20.0 });
    let resync_s = PRODUCTION_RESYNC_S / scale;
    // Production time covered: 2 h in full mode, 10 min in quick mode.
    let window_s = if quick { 600.0 } else { 7_200.0 } / scale;
    println!(
        "steady: {objects} objects, {agents} agents, quota scale {scale}: resync {resync_s:.1} s, window {window_s:.0} s"
    );
    let emu = EmulatorProcess::spawn(agents, scale)?;
    let quotas = SchedulerConfig {
        scale: 1.0,
        ..SchedulerConfig::from_env()
    };
    let mut engine = engine_at(
        &emu.endpoint_url(),
        scale,
        Duration::from_secs_f64(resync_s),
    );
    engine.batch_window = Duration::from_secs(3600);
    let world = World::default();
    converge_base(&engine, &world).await?;
    world.apply_yaml(&memberships_yaml(agents, memberships), "bench")?;
    converge_all(&engine, &world, Duration::from_secs(3600)).await?;

    // Steady state: each object is reconciled when its requeue comes due, as in the controller.
    let before = emu.calls()?.len();
    let cpu0 = cpu_seconds();
    let t0 = Instant::now();
    let mut passes = 0;
    while t0.elapsed().as_secs_f64() < window_s {
        connect_gr::local::pass_due(&engine, &world, false).await;
        passes += 1;
        let next = world.due.lock().values().min().copied();
        let wait = next
            .map(|t| t.saturating_duration_since(tokio::time::Instant::now()))
            .unwrap_or_default()
            .clamp(Duration::from_millis(20), Duration::from_secs_f64(resync_s));
        tokio::time::sleep(wait).await;
    }
    let window = t0.elapsed().as_secs_f64();
    let cpu = cpu_seconds() - cpu0;
    let calls: Vec<_> = emu.calls()?.into_iter().skip(before).collect();
    drop(emu);

    let mut per_op: BTreeMap<String, usize> = BTreeMap::new();
    for c in &calls {
        *per_op.entry(c.operation.clone()).or_default() += 1;
    }
    // Measured rate / scale = production rate.
    let per_production_hour = |n: f64| n / window * 3600.0 / scale;
    let writes = calls.iter().filter(|c| is_write(&c.operation)).count();
    let reads = calls.len() - writes;
    let throttled = calls.iter().filter(|c| c.status == 429).count();
    // The budget is per operation: the busiest read operation against its own quota.
    let budget = quotas.background_budget;
    let read_share: BTreeMap<String, f64> = per_op
        .iter()
        .filter(|(op, _)| !is_write(op))
        .map(|(op, n)| {
            let quota_per_hour = quotas.quota(op).0 * 3600.0;
            (
                op.clone(),
                round(per_production_hour(*n as f64) / quota_per_hour, 4),
            )
        })
        .collect();
    let (busiest_op, busiest_share) = read_share
        .iter()
        .max_by(|a, b| a.1.total_cmp(b.1))
        .map(|(op, f)| (op.clone(), *f))
        .unwrap_or_default();
    let rss = peak_rss_mib();
    write_json(
        "steady",
        &json!({
            "objects": objects,
            "agents": agents,
            "writes_per_hour": round(per_production_hour(writes as f64), 1),
            "reads_per_hour": round(per_production_hour(reads as f64), 1),
            "read_budget_fraction": round(busiest_share, 4),
            "rss_mib": round(rss, 1),
            "cpu_s_per_hour": round(per_production_hour(cpu), 2),
            "background_budget": budget,
            "busiest_read_operation": busiest_op,
            "read_quota_fraction_by_operation": read_share,
            "throttled_responses": throttled,
            "calls_by_operation": per_op,
            "passes": passes,
            "resync_s": round(resync_s, 3),
            "production_resync_s": PRODUCTION_RESYNC_S,
            "window_s": round(window, 2),
            "production_hours": round(window * scale / 3600.0, 3),
            "quota_scale": scale,
            "quick": quick,
            "note": "controller engine alone (the emulator is a separate process); quotas x scale and resync / scale, so per-hour figures are measured rates / scale; read_budget_fraction = the busiest read operation's calls as a share of its quota (the budget is background_budget of it)",
        }),
    )?;
    check("writes_per_hour == 0", writes == 0, writes.to_string());
    check(
        "busiest read op within budget",
        busiest_share <= budget,
        format!("{busiest_op} {busiest_share:.3} of quota (budget {budget})"),
    );
    check("rss < 64 MiB", rss < 64.0, format!("{rss:.1} MiB"));
    Ok(())
}
