//! `steady`: Connect calls, CPU and peak memory for 20 converged objects holding 5,000 agents.
mod common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use common::*;
use connect_gr::connect::SchedulerConfig;
use connect_gr::demo::World;
use serde_json::json;

/// The production resync period the read rate is extrapolated to.
const DEFAULT_RESYNC_S: f64 = 300.0;

fn main() {
    init();
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
    let (resync_s, window_s) = if quick { (2.0, 6.0) } else { (5.0, 60.0) };
    let scale = quota_scale(20.0);
    println!(
        "steady: {objects} objects, {agents} agents, resync {resync_s} s, window {window_s} s, quota scale {scale}"
    );
    let emu = emulator(agents, scale).await?;
    let mut engine = engine(&emu, scale, Duration::from_secs_f64(resync_s));
    engine.batch_window = Duration::from_secs(3600);
    let world = World::default();
    converge_base(&engine, &world).await?;
    world.apply_yaml(&memberships_yaml(agents, memberships), "bench")?;
    converge_all(&engine, &world, Duration::from_secs(3600)).await?;

    let before = emu.calls().len();
    let cpu0 = cpu_seconds();
    let t0 = Instant::now();
    let mut passes = 0;
    while t0.elapsed().as_secs_f64() < window_s {
        let progress = connect_gr::demo::pass(&engine, &world, false).await;
        passes += 1;
        let wait = progress
            .iter()
            .map(|p| p.requeue)
            .min()
            .unwrap_or_default()
            .clamp(
                Duration::from_millis(100),
                Duration::from_secs_f64(resync_s),
            );
        tokio::time::sleep(wait).await;
    }
    let window = t0.elapsed().as_secs_f64();
    let cpu = cpu_seconds() - cpu0;
    let calls: Vec<_> = emu.calls().into_iter().skip(before).collect();
    emu.shutdown().await;

    let mut per_op: BTreeMap<String, usize> = BTreeMap::new();
    for c in &calls {
        *per_op.entry(c.operation.clone()).or_default() += 1;
    }
    let writes = calls.iter().filter(|c| is_write(&c.operation)).count();
    let reads = calls.len() - writes;
    let per_hour = 3600.0 / window;
    // Every pass in the window is one drift check of every object (the resync is no longer than
    // the pass interval); in production that happens once per default resync.
    let checks_per_hour = 3600.0 / DEFAULT_RESYNC_S;
    let per_check = |n: f64| n / passes.max(1) as f64 * checks_per_hour;
    let writes_per_hour = writes as f64 * per_hour;
    let reads_per_hour = per_check(reads as f64);
    let quotas = SchedulerConfig::default();
    let read_rate_sum: f64 = per_op
        .keys()
        .filter(|op| !is_write(op))
        .map(|op| quotas.quota(op).0)
        .sum();
    let read_budget_fraction = if read_rate_sum > 0.0 {
        reads_per_hour / 3600.0 / read_rate_sum
    } else {
        0.0
    };
    // The busiest read operation against its own quota (the budget is per operation).
    let (busiest_op, busiest_fraction) = per_op
        .iter()
        .filter(|(op, _)| !is_write(op))
        .map(|(op, n)| {
            (
                op.clone(),
                per_check(*n as f64) / 3600.0 / quotas.quota(op).0,
            )
        })
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .unwrap_or_default();
    let rss = peak_rss_mib();
    // CPU work is per pass, like the reads.
    let cpu_per_hour = per_check(cpu);
    write_json(
        "steady",
        &json!({
            "objects": objects,
            "agents": agents,
            "writes_per_hour": round(writes_per_hour, 1),
            "reads_per_hour": round(reads_per_hour, 1),
            "read_budget_fraction": round(read_budget_fraction, 5),
            "rss_mib": round(rss, 1),
            "cpu_s_per_hour": round(cpu_per_hour, 1),
            "busiest_read_operation": busiest_op,
            "busiest_operation_quota_fraction": round(busiest_fraction, 4),
            "measured_reads_per_hour_at_resync": round(reads as f64 * per_hour, 1),
            "measured_cpu_s_per_hour_at_resync": round(cpu * per_hour, 1),
            "resync_s": resync_s,
            "extrapolated_to_resync_s": DEFAULT_RESYNC_S,
            "window_s": round(window, 2),
            "passes": passes,
            "calls_by_operation": per_op,
            "quota_scale": scale,
            "quick": quick,
            "note": "rss_mib and cpu_s_per_hour are for the whole process (controller engine and in-process emulator); reads and cpu per hour = per pass (one drift check of every object) x 12 checks an hour at the default 5 min resync",
        }),
    )?;
    check("writes_per_hour == 0", writes == 0, writes.to_string());
    check(
        "reads within budget (<= 0.5)",
        read_budget_fraction <= 0.5,
        format!("{read_budget_fraction:.4}"),
    );
    check(
        "busiest read op within budget (<= 0.5)",
        busiest_fraction <= 0.5,
        format!("{busiest_fraction:.3}"),
    );
    check("rss < 64 MiB", rss < 64.0, format!("{rss:.1} MiB"));
    Ok(())
}
