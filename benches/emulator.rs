//! Emulator throughput through the unmodified SDK, quotas off, several concurrent clients.
//! Writes target/bench/emulator.json (`common::write_json`, as every bench): requests, elapsed_s,
//! requests_per_s.
//! CONNECT_GR_BENCH_QUICK=1 makes it tiny.

mod common;

use std::time::Instant;

use aws_sdk_connect::config::{BehaviorVersion, Credentials, Region};
use connect_gr::emulator::{self, DEFAULT_INSTANCE_ID, EmulatorConfig};

fn client(endpoint: &str, region: &str) -> aws_sdk_connect::Client {
    let conf = aws_sdk_connect::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(region.to_string()))
        .endpoint_url(endpoint)
        .credentials_provider(Credentials::new("AKIDBENCH", "secret", None, None, "bench"))
        .build();
    aws_sdk_connect::Client::from_conf(conf)
}

fn main() -> anyhow::Result<()> {
    let quick = std::env::var("CONNECT_GR_BENCH_QUICK").is_ok_and(|v| v == "1");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let emu = emulator::start(EmulatorConfig { quotas: false, max_calls: 100_000, ..Default::default() }).await?;
        let endpoint = emu.endpoint_url();
        let clients = 8usize;
        let per_client = if quick { 50 } else { 5_000 };
        let users: Vec<String> = ["alice", "bob", "carol", "dave"]
            .iter()
            .map(|u| emulator::user_id(DEFAULT_INSTANCE_ID, u))
            .collect();
        // warm-up (connections)
        let warm = client(&endpoint, "us-west-2");
        for _ in 0..20 {
            warm.describe_instance().instance_id(DEFAULT_INSTANCE_ID).send().await?;
        }
        let start = Instant::now();
        let mut tasks = Vec::new();
        for c in 0..clients {
            let endpoint = endpoint.clone();
            let users = users.clone();
            tasks.push(tokio::spawn(async move {
                let cl = client(&endpoint, "us-west-2");
                for i in 0..per_client {
                    // a mix of cheap reads like the controller's steady state
                    let r = match (i + c) % 3 {
                        0 => cl.describe_instance().instance_id(DEFAULT_INSTANCE_ID).send().await.map(|_| ()).map_err(|e| anyhow::anyhow!("{e:?}")),
                        1 => cl.describe_user().instance_id(DEFAULT_INSTANCE_ID).user_id(&users[i % users.len()]).send().await.map(|_| ()).map_err(|e| anyhow::anyhow!("{e:?}")),
                        _ => cl.list_traffic_distribution_groups().send().await.map(|_| ()).map_err(|e| anyhow::anyhow!("{e:?}")),
                    };
                    r?;
                }
                anyhow::Ok(per_client)
            }));
        }
        let mut requests = 0usize;
        for t in tasks {
            requests += t.await??;
        }
        let elapsed = start.elapsed().as_secs_f64();
        let rps = requests as f64 / elapsed;
        let out = serde_json::json!({
            "requests": requests,
            "elapsed_s": elapsed,
            "requests_per_s": rps,
            "clients": clients,
            "quick": quick,
        });
        common::write_json("emulator", &out)?;
        println!("emulator: {requests} requests in {elapsed:.2} s = {rps:.0} requests/s ({clients} clients)");
        emu.shutdown().await;
        anyhow::Ok(())
    })
}
