//! `bench-tenants`: many simulated Darktrace tenants for the scale bench
//! (host-test/temporal/bench/scale.py), in one process on 127.0.0.1.
//!
//! Starts N simulators with their own token pairs, saves a connection to each in a new store,
//! prints `ready` on stdout, then gives every tenant a new breach every `--breach-every`
//! seconds (tenants staggered evenly) until `--seconds` have passed, and prints one JSON line:
//! breaches created and API requests served.

use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::Context as _;
use clap::Parser;
use host_test::simulator::{Simulator, SimulatorConfig};
use host_test::store::{Saved, Store};

#[derive(Parser, Debug)]
#[command(name = "bench-tenants", about = "Simulated tenants for the Temporal scale bench")]
struct Cli {
    /// How many tenants.
    #[arg(long, default_value_t = 500)]
    tenants: usize,
    /// The connection store to create (must not exist).
    #[arg(long)]
    store: PathBuf,
    /// Seconds between two new breaches of one tenant.
    #[arg(long, default_value_t = 60)]
    breach_every: u64,
    /// Seconds to run.
    #[arg(long, default_value_t = 600)]
    seconds: u64,
    /// Connection name prefix.
    #[arg(long, default_value = "bench")]
    prefix: String,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let store = Store::at(cli.store.clone());
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH)?.as_nanos();
    let mut sims = Vec::with_capacity(cli.tenants);
    for i in 0..cli.tenants {
        let sim = Simulator::start(SimulatorConfig {
            public_token: format!("benchpub{i:04}"),
            private_token: format!("benchsecret{i:04}{nanos:032x}"),
            seed: i as u64 + 1,
            breaches: 0,
            ..Default::default()
        })
        .await?;
        store
            .add(Saved {
                name: format!("{}-{i:04}", cli.prefix),
                api_address: sim.url(),
                public_token: sim.public_token().to_owned(),
                private_token: sim.private_token().to_owned(),
                ca_cert: None,
                pins: Vec::new(),
                pin_only: false,
                allow_insecure_http: false,
                clock_offset_seconds: None,
                max_attempts: None,
                max_retry_wait_seconds: None,
                created: host_test::store::now(),
                expires: None,
                last_used: None,
                last_test: None,
            })
            .context("saving a connection")?;
        sims.push(sim);
    }
    println!("ready");
    let start = Instant::now();
    let period = Duration::from_secs(cli.breach_every.max(1));
    let step = period / cli.tenants.max(1) as u32;
    let mut created = 0u64;
    let mut tick = 0u64;
    while start.elapsed() < Duration::from_secs(cli.seconds) {
        let i = (tick as usize) % cli.tenants;
        let now_ms = SystemTime::now().duration_since(UNIX_EPOCH)?.as_millis() as i64;
        // Scores spread over 0.5..1 so every breach passes a 0.5 filter.
        let score = 0.5 + ((tick * 7919) % 500) as f64 / 1000.0;
        sims[i].insert_breach(now_ms, now_ms, score);
        created += 1;
        tick += 1;
        let next = start + step * tick as u32;
        tokio::time::sleep_until(next.into()).await;
    }
    let requests: usize = sims.iter().map(|s| s.requests().len()).sum();
    println!(
        "{}",
        serde_json::json!({"breaches_created": created, "requests": requests, "seconds": start.elapsed().as_secs_f64()})
    );
    Ok(())
}
