//! `failover`: with a bulk association batch in flight, the time from a TrafficDistribution
//! change to the emulator answering UpdateTrafficDistribution.
mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::*;
use connect_gr::local::World;
use connect_gr::reconcile::driver::run_pass;
use k8s_openapi::jiff::Timestamp;
use serde_json::json;

fn main() {
    init();
    if let Err(e) = runtime().block_on(run()) {
        eprintln!("failover: could not run: {e:#}");
        std::process::exit(1);
    }
}

fn split_yaml(west: u32) -> String {
    let east = 100 - west;
    format!(
        "apiVersion: connectgr.io/v1alpha1\nkind: TrafficDistribution\nmetadata:\n  name: support-split\nspec:\n  groupRef:\n    name: support-default\n  telephony:\n    us-west-2: {west}\n    us-east-1: {east}\n  agents:\n    us-west-2: 50\n    us-east-1: 50\n  signIn:\n    us-west-2: true\n    us-east-1: true\n  allowTelephonyWithoutAgents: false\n"
    )
}

fn updates(emu: &connect_gr::emulator::RunningEmulator) -> usize {
    emu.calls()
        .iter()
        .filter(|c| c.operation == "UpdateTrafficDistribution" && c.status == 200)
        .count()
}

async fn run() -> anyhow::Result<()> {
    let quick = quick();
    let (agents, samples) = if quick { (300, 5) } else { (5_000, 20) };
    // Quick mode: a low scale so the small batch stays in flight for every sample.
    let scale = quota_scale(if quick { 5.0 } else { 20.0 });
    println!("failover: {samples} samples with {agents} agents in flight, quota scale {scale}");
    let emu = emulator(agents, scale).await?;
    let mut engine = engine(&emu, scale, Duration::from_secs(300));
    engine.batch_window = Duration::from_secs(3600);
    let world = World::default();
    converge_base(&engine, &world).await?;
    // The TrafficDistribution is reconciled only by the sampler, as the controller never runs two
    // passes of one object at once; the batch drives the rest of `world`.
    let split = World::default();
    let tds = std::mem::take(&mut *world.distributions.lock());
    split.distributions.lock().extend(tds);
    world.apply_yaml(&memberships_yaml(agents, 5), "bench")?;
    // The batch and the samples run concurrently on this task (the reconcilers' futures are
    // not `Send`, so no spawn).
    let done = AtomicBool::new(false);
    let batch = async {
        let r = converge_all(&engine, &world, Duration::from_secs(3600)).await;
        done.store(true, Ordering::SeqCst);
        r
    };
    let (times, in_flight) = {
        let sampling = sample(&emu, &engine, &world, &split, samples, &done);
        tokio::pin!(batch, sampling);
        let mut batch_running = true;
        let (times, in_flight) = loop {
            tokio::select! {
                r = &mut batch, if batch_running => { batch_running = false; r?; }
                r = &mut sampling => break r?,
            }
        };
        (times, in_flight)
    };
    let batch_done = done.load(Ordering::SeqCst);
    let restart_s = restart_with_source_down(&emu, &world, &split, scale, agents).await?;
    emu.shutdown().await;
    let mut times = times;
    times.sort_by(f64::total_cmp);
    let pct = |p: f64| times[((p * times.len() as f64).ceil() as usize).clamp(1, times.len()) - 1];
    let (p50, p99) = (pct(0.50), pct(0.99));
    write_json(
        "failover",
        &json!({
            "samples": times.len(),
            "p50_s": round(p50, 4),
            "p99_s": round(p99, 4),
            "max_s": round(*times.last().unwrap_or(&0.0), 4),
            "samples_with_batch_in_flight": in_flight,
            "batch_finished_during_run": batch_done,
            "agents": agents,
            "quota_scale": scale,
            "quick": quick,
            "restart_to_update_s": round(restart_s, 4),
        }),
    )?;
    check("p99 < 250 ms", p99 < 0.25, format!("{p99:.3} s"));
    check(
        "restart with the source down: failover under 5 s",
        restart_s < 5.0,
        format!("{restart_s:.3} s"),
    );
    check(
        "batch in flight for every sample",
        in_flight == samples,
        format!("{in_flight}/{samples}"),
    );
    Ok(())
}

async fn sample(
    emu: &connect_gr::emulator::RunningEmulator,
    engine: &connect_gr::reconcile::Engine,
    world: &World,
    split: &World,
    samples: usize,
    done: &AtomicBool,
) -> anyhow::Result<(Vec<f64>, usize)> {
    // Let the batch get going.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let mut times = Vec::new();
    let mut in_flight = 0;
    for i in 0..samples {
        if !done.load(Ordering::SeqCst) {
            in_flight += 1;
        }
        let before = updates(emu);
        split.apply_yaml(&split_yaml(if i % 2 == 0 { 60 } else { 50 }), "bench")?;
        let t0 = Instant::now();
        loop {
            // One pass of the TrafficDistribution through the driver the controller runs.
            let obj = split.distributions.lock()[0].clone();
            let out = run_pass(engine, world, &obj, Timestamp::now(), 0).await;
            split.distributions.lock()[0].status = Some(out.status);
            if updates(emu) > before {
                break;
            }
            if t0.elapsed() > Duration::from_secs(60) {
                anyhow::bail!("no UpdateTrafficDistribution within 60 s");
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        times.push(t0.elapsed().as_secs_f64());
        // Let the group leave UPDATE_IN_PROGRESS before the next change.
        tokio::time::sleep(Duration::from_millis(1300)).await;
    }
    Ok((times, in_flight))
}

/// A controller restarted (a fresh engine: no member or user caches; the objects keep their
/// status, as in the cluster) while `agents` agents are managed and the source region is down:
/// seconds from the start to UpdateTrafficDistribution through the replica. The memberships'
/// passes run alongside, as the controller's per-kind loops do.
async fn restart_with_source_down(
    emu: &connect_gr::emulator::RunningEmulator,
    world: &World,
    split: &World,
    scale: f64,
    agents: usize,
) -> anyhow::Result<f64> {
    let before_restart = common::engine(emu, scale, Duration::from_secs(300));
    converge_all(&before_restart, world, Duration::from_secs(3600)).await?;
    drop(before_restart);
    emu.add_fault(connect_gr::emulator::server::Fault {
        region: Some("us-west-2".into()),
        region_down: true,
        ..Default::default()
    });
    let before = updates(emu);
    split.apply_yaml(&split_yaml(0), "bench")?;
    let t0 = Instant::now();
    let engine = common::engine(emu, scale, Duration::from_secs(300));
    let split = async {
        loop {
            let obj = split.distributions.lock()[0].clone();
            let out = run_pass(&engine, world, &obj, Timestamp::now(), 0).await;
            split.distributions.lock()[0].status = Some(out.status);
            if updates(emu) > before {
                return Ok(t0.elapsed().as_secs_f64());
            }
            if t0.elapsed() > Duration::from_secs(60) {
                anyhow::bail!("no UpdateTrafficDistribution through the replica within 60 s");
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    };
    let others = async {
        let memberships = world.memberships.lock().clone();
        for m in memberships {
            let _ = run_pass(&engine, world, &m, Timestamp::now(), 0).await;
        }
    };
    let (elapsed, ()) = tokio::join!(split, others);
    let east = emu
        .calls()
        .iter()
        .rev()
        .find(|c| c.operation == "UpdateTrafficDistribution" && c.status == 200)
        .and_then(|c| c.region.clone());
    anyhow::ensure!(
        east.as_deref() == Some("us-east-1"),
        "the failover went through {east:?}, not the replica"
    );
    println!("failover: restart with us-west-2 down and {agents} agents managed");
    elapsed
}
