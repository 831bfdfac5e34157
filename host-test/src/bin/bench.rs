//! Benchmarks, measured side by side in one run and reported as medians and ratios (never as
//! absolute pass/fail thresholds: machines are shared and noisy).
//!
//! `cargo run --release -p host-test --bin bench [-- --iterations N] [--python PATH]`
//! (`benches/run.sh` also installs the Python SDK into a venv for the Python column).

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use clap::Parser;
use darktrace_connector::actions::{PbidInput, breaches};
use darktrace_connector::{Client, Connection};
use host_test::native::NativeTransport;
use host_test::outbound::Policy;
use host_test::runtime::{ConnectionParams, Host, HostConfig, Limits};
use host_test::simulator::{Simulator, SimulatorConfig};

#[derive(Parser)]
#[command(about = "Benchmark the connector component against a native client and the Python SDK")]
struct Args {
    /// Calls per measurement.
    #[arg(long, default_value_t = 200)]
    iterations: usize,
    /// Python with darktrace-sdk installed (default: $DARKTRACE_SDK_PYTHON); skipped without it.
    #[arg(long, env = "DARKTRACE_SDK_PYTHON")]
    python: Option<String>,
    /// Breaches in the big-pull dataset.
    #[arg(long, default_value_t = 10_000)]
    big_pull: usize,
    /// Run only `--iterations` warm `get-model-breach` calls of one kind and print their median,
    /// nothing else: a steady workload for profilers (`valgrind --tool=callgrind`, `perf`).
    #[arg(long, value_enum)]
    only: Option<Only>,
    /// Instance slots in the pooling allocator for the warm and concurrency measurements; 0
    /// allocates on demand (valgrind cannot reserve the address space of a large pool).
    #[arg(long, default_value_t = 128)]
    pool: u32,
    /// Benchmark this component instead of the one built with this host (e.g. a build with
    /// other optimisation settings).
    #[arg(long, value_name = "FILE")]
    component: Option<std::path::PathBuf>,
}

/// The single workloads `--only` runs.
#[derive(Clone, Copy, clap::ValueEnum)]
enum Only {
    /// Through the component.
    Component,
    /// The native client.
    Native,
    /// Through the component, refused before any HTTP.
    Refused,
    /// 64 calls in flight through the component, `--iterations / 10` rounds.
    ComponentConcurrent,
    /// 64 calls in flight through the native client, `--iterations / 10` rounds.
    NativeConcurrent,
}

/// Median, min and max of a sample, in microseconds.
struct Stats {
    median: f64,
    min: f64,
    max: f64,
}

fn stats(mut sample: Vec<Duration>) -> Stats {
    sample.sort();
    let us = |d: &Duration| d.as_secs_f64() * 1e6;
    Stats { median: us(&sample[sample.len() / 2]), min: us(&sample[0]), max: us(&sample[sample.len() - 1]) }
}

fn row(what: &str, s: &Stats, baseline: Option<&Stats>) {
    let ratio = baseline.map_or("1.00x (baseline)".to_owned(), |b| format!("{:.2}x", s.median / b.median));
    println!("| {what} | {:.0} | {:.0} | {:.0} | {ratio} |", s.median, s.min, s.max);
}

fn header(title: &str) {
    println!(
        "\n### {title}\n\n| measurement | median µs | min µs | max µs | ratio to baseline |\n| --- | --- | --- | --- | --- |"
    );
}

async fn start(breach_count: usize) -> anyhow::Result<(Simulator, ConnectionParams)> {
    let config = SimulatorConfig { breaches: breach_count, ..SimulatorConfig::default() };
    let private_token = config.private_token.clone();
    let sim = Simulator::start(config).await?;
    let conn = ConnectionParams {
        api_address: sim.url(),
        public_token: sim.public_token().to_owned(),
        private_token,
        ..Default::default()
    };
    Ok((sim, conn))
}

fn load(wasm: &Path, max_instances: Option<u32>, memory_mib: usize) -> anyhow::Result<Host> {
    let config = HostConfig {
        limits: Limits { memory_bytes: memory_mib << 20, deadline: Duration::from_secs(120) },
        cache_dir: host_test::cache::default_dir(),
        max_instances,
        ..HostConfig::default()
    };
    Host::load(wasm, config)
}

/// Calls per round of the warm measurements (see [`warm`]).
const ROUND: usize = 50;

/// Times `iterations` calls of `action` through the component, one fresh store each.
async fn component_calls(
    host: &Host,
    conn: &ConnectionParams,
    action: &str,
    input: &str,
    iterations: usize,
) -> anyhow::Result<Vec<Duration>> {
    let mut out = Vec::with_capacity(iterations);
    for _ in 0..iterations {
        let t = Instant::now();
        host.invoke(conn, action, input).await?.map_err(|e| anyhow::anyhow!("{action}: {}", e.message()))?;
        out.push(t.elapsed());
    }
    Ok(out)
}

/// A native action: the connector's own code, natively compiled, on a client.
type NativeAction = Arc<dyn Fn(&Client) -> darktrace_connector::Result<()> + Send + Sync>;

/// Times `iterations` native calls of `f` on a blocking thread (the connector's code is
/// synchronous), sharing `transport` and so its kept-alive connections with earlier rounds.
async fn native_calls(
    transport: &Arc<NativeTransport>,
    conn: &Connection,
    iterations: usize,
    f: &NativeAction,
) -> anyhow::Result<Vec<Duration>> {
    let (transport, conn, f) = (transport.clone(), conn.clone(), f.clone());
    tokio::task::spawn_blocking(move || {
        let client = Client::new(conn, transport.as_ref());
        let mut out = Vec::with_capacity(iterations);
        for _ in 0..iterations {
            let t = Instant::now();
            f(&client)?;
            out.push(t.elapsed());
        }
        Ok(out)
    })
    .await?
}

/// Per-call times of one warm action natively, through the component and (with `refused`)
/// through the component refused before any HTTP.
struct Warm {
    native: Vec<Duration>,
    component: Vec<Duration>,
    refused: Vec<Duration>,
}

/// Measures `n` warm calls of each kind in alternating rounds of [`ROUND`] calls, so that load
/// from other processes, which drifts over seconds on a shared machine, falls on every kind
/// alike and the ratios stay comparable.
async fn warm(
    host: &Host,
    conn: &ConnectionParams,
    action: &str,
    input: &str,
    n: usize,
    refused: bool,
    f: NativeAction,
) -> anyhow::Result<Warm> {
    let transport = Arc::new(NativeTransport::new());
    let native_conn = Connection::new(&conn.api_address, &conn.public_token, &conn.private_token)?;
    // One untimed call each: connections opened, caches filled.
    native_calls(&transport, &native_conn, 1, &f).await?;
    component_calls(host, conn, action, input, 1).await?;
    let mut out = Warm { native: Vec::with_capacity(n), component: Vec::with_capacity(n), refused: Vec::new() };
    let mut left = n;
    while left > 0 {
        let k = left.min(ROUND);
        out.native.extend(native_calls(&transport, &native_conn, k, &f).await?);
        out.component.extend(component_calls(host, conn, action, input, k).await?);
        if refused {
            out.refused.extend(refused_calls(host, conn, k).await?);
        }
        left -= k;
    }
    Ok(out)
}

#[tokio::main(flavor = "multi_thread")]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let n = args.iterations.max(5);
    let (sim, conn) = start(300).await?;
    let pbid = *sim.known_pbids().last().context("the simulator has breaches")?;
    let wasm = args.component.clone().unwrap_or_else(|| host_test::CONNECTOR_WASM.into());
    let host = Arc::new(load(&wasm, Some(args.pool).filter(|&n| n > 0), 64)?);
    if let Some(only) = args.only {
        return profile_workload(only, &host, &conn, pbid, n).await;
    }
    println!(
        "# Benchmarks\n\n{n} calls per measurement against the embedded simulator on loopback; component = the connector under wasmtime with a fresh store per call."
    );

    // 1. Warm action latency.
    let get_input = format!(r#"{{"pbid": {pbid}}}"#);
    let list_input = "{}";
    let python = match &args.python {
        Some(py) => Some(python_sdk(py, &conn, pbid, n)?),
        None => None,
    };
    for (action, input) in [("get-model-breach", get_input.as_str()), ("list-model-breaches", list_input)] {
        header(&format!("Warm `{action}`"));
        let f: NativeAction = match action {
            "get-model-breach" => Arc::new(move |c| breaches::get_model_breach(c, PbidInput { pbid }).map(drop)),
            _ => Arc::new(|c| breaches::list_model_breaches(c, Default::default()).map(drop)),
        };
        // The refused call is instantiation, JSON in and out and the error path without any
        // HTTP: the part of the component's time that is not the request itself.
        let sample = warm(&host, &conn, action, input, n, action == "get-model-breach", f).await?;
        let (native, component) = (stats(sample.native), stats(sample.component));
        row("native Rust client (same signing code)", &native, None);
        row("component under wasmtime", &component, Some(&native));
        if !sample.refused.is_empty() {
            row("component, same call refused before any HTTP", &stats(sample.refused), Some(&native));
        }
        if let Some(py) = &python {
            let s = stats(py[action].clone());
            row("Python darktrace-sdk", &s, Some(&native));
            println!("\ncomponent is {:.1}x faster than the Python SDK", s.median / component.median);
        }
    }

    // 2. Cold start, as a user runs the CLI.
    header("Cold start: process start to first result (`host-test run get-model-breach`)");
    let exe = std::env::current_exe()?.with_file_name("host-test");
    let cache = std::env::temp_dir().join(format!("bench-cache-{}", std::process::id()));
    let cold = |cache_setting: &str| -> anyhow::Result<Duration> {
        let t = Instant::now();
        let out = Command::new(&exe)
            .arg("--component")
            .arg(&wasm)
            .args(["run", "get-model-breach", "--input", &get_input])
            .env("DARKTRACE_API_ADDRESS", &conn.api_address)
            .env("DARKTRACE_PUBLIC_TOKEN", &conn.public_token)
            .env("DARKTRACE_PRIVATE_TOKEN", &conn.private_token)
            .env("DARKTRACE_CONNECTOR_CACHE", cache_setting)
            .output()?;
        anyhow::ensure!(out.status.success(), "host-test failed: {}", String::from_utf8_lossy(&out.stderr));
        Ok(t.elapsed())
    };
    cold(cache.to_str().unwrap_or("off"))?;
    let runs = 7;
    let with_cache = stats((0..runs).map(|_| cold(cache.to_str().unwrap_or("off"))).collect::<anyhow::Result<_>>()?);
    let without = stats((0..runs).map(|_| cold("off")).collect::<anyhow::Result<_>>()?);
    row("with the precompiled cache", &with_cache, None);
    row("compiling the component", &without, Some(&with_cache));
    let _ = std::fs::remove_dir_all(&cache);

    // 3. Instantiation per call.
    header("Store + instantiation per call (no guest call)");
    let on_demand = load(&wasm, None, 64)?;
    let pooled = stats(instantiation(&host, n).await?);
    let default = stats(instantiation(&on_demand, n).await?);
    row("pooling allocator (the CLI default)", &pooled, None);
    row("on-demand allocator", &default, Some(&pooled));
    drop(on_demand);

    // 4. Big pull.
    let (big_sim, big_conn) = start(args.big_pull).await?;
    let window = r#"{"start": 946684800000, "end": 7258118400000, "include_acknowledged": true, "minimal": false}"#;
    let big_host = load(&wasm, Some(4), 1024)?;
    let t = Instant::now();
    let (result, report) =
        big_host.invoke_with_policy(&big_conn, big_conn.policy(), "list-model-breaches", window).await?;
    let component_time = t.elapsed();
    let items = serde_json::from_str::<serde_json::Value>(&result.map_err(|e| anyhow::anyhow!(e.message()))?)?
        .as_array()
        .map_or(0, Vec::len);
    let (native_time, payload) = {
        let conn = Connection::new(&big_conn.api_address, &big_conn.public_token, &big_conn.private_token)?;
        let filter: breaches::BreachFilter = serde_json::from_str(window)?;
        let transport = NativeTransport::new();
        tokio::task::spawn_blocking(move || {
            let counting = Counting { inner: &transport, bytes: 0.into() };
            let t = Instant::now();
            breaches::list_model_breaches(&Client::new(conn, &counting), filter)?;
            let elapsed = t.elapsed();
            Ok::<_, darktrace_connector::Error>((elapsed, counting.bytes.into_inner()))
        })
        .await??
    };
    println!("\n### Big pull: {items} breaches, minimal=false, {:.1} MB of JSON\n", payload as f64 / 1e6);
    println!("| measurement | value |\n| --- | --- |");
    println!("| native throughput | {:.1} MB/s |", payload as f64 / 1e6 / native_time.as_secs_f64());
    println!("| component throughput | {:.1} MB/s |", payload as f64 / 1e6 / component_time.as_secs_f64());
    println!(
        "| component / native throughput | {:.0}% |",
        100.0 * native_time.as_secs_f64() / component_time.as_secs_f64()
    );
    println!(
        "| component peak linear memory | {:.1} MB ({:.1}x the payload) |",
        report.peak_memory_bytes as f64 / 1e6,
        report.peak_memory_bytes as f64 / payload.max(1) as f64
    );
    drop(big_sim);

    // 5. Concurrency.
    // Alternating bursts, for the same reason as the warm rounds.
    let in_flight = 64;
    let bursts = 3;
    let rounds = (n / 10 / bursts).max(2);
    let (mut native_rate, mut component_rate) = (0.0, 0.0);
    let transport = Arc::new(NativeTransport::new());
    // One untimed call per task each: every side's 64 connections are open before timing.
    native_concurrent(&transport, &conn, pbid, in_flight, 1).await?;
    component_concurrent(&host, &conn, &get_input, in_flight, 1).await?;
    for _ in 0..bursts {
        native_rate += native_concurrent(&transport, &conn, pbid, in_flight, rounds).await? / bursts as f64;
        component_rate += component_concurrent(&host, &conn, &get_input, in_flight, rounds).await? / bursts as f64;
    }
    println!(
        "\n### Concurrency: {in_flight} `get-model-breach` calls in flight on {} cores\n",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    println!("| measurement | calls/s |\n| --- | --- |");
    println!(
        "| native | {native_rate:.0} |\n| component | {component_rate:.0} ({:.0}% of native) |",
        100.0 * component_rate / native_rate
    );

    // 6. Size.
    let size = std::fs::metadata(&wasm)?.len();
    println!(
        "\n### Component size\n\n{} bytes ({:.0} KB), release profile `component` (opt-level s, LTO, stripped)",
        size,
        size as f64 / 1024.0
    );
    drop(sim);
    Ok(())
}

/// Times `n` calls of `get-model-breach` that the component refuses before any HTTP:
/// instantiation, JSON in and out and the error path, the part of a call that is not the request.
async fn refused_calls(host: &Host, conn: &ConnectionParams, n: usize) -> anyhow::Result<Vec<Duration>> {
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        let refused = host.invoke(conn, "get-model-breach", r#"{"pbid": "not a number"}"#).await?;
        anyhow::ensure!(refused.is_err(), "the bad input was accepted");
        out.push(t.elapsed());
    }
    Ok(out)
}

/// Calls per second with `in_flight` tasks each making `rounds` component calls of
/// `get-model-breach` one after the other, as an async host serves concurrent requests: the
/// tasks spread over the runtime's worker threads, one per core, as the native side's threads do.
async fn component_concurrent(
    host: &Arc<Host>,
    conn: &ConnectionParams,
    input: &str,
    in_flight: usize,
    rounds: usize,
) -> anyhow::Result<f64> {
    let t = Instant::now();
    let mut tasks = Vec::with_capacity(in_flight);
    for _ in 0..in_flight {
        let (host, conn, input) = (host.clone(), conn.clone(), input.to_owned());
        tasks.push(tokio::spawn(async move {
            for _ in 0..rounds {
                host.invoke(&conn, "get-model-breach", &input).await?.map_err(|e| anyhow::anyhow!(e.message()))?;
            }
            anyhow::Ok(())
        }));
    }
    for task in tasks {
        task.await??;
    }
    Ok((rounds * in_flight) as f64 / t.elapsed().as_secs_f64())
}

/// Calls per second with `in_flight` native clients each making `rounds` calls, one blocking
/// thread each (the native client is synchronous, as the connector's code is), over `transport`'s
/// kept-alive connections as the component's calls use the host's.
async fn native_concurrent(
    transport: &Arc<NativeTransport>,
    conn: &ConnectionParams,
    pbid: u64,
    in_flight: usize,
    rounds: usize,
) -> anyhow::Result<f64> {
    let t = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..in_flight {
        let transport = transport.clone();
        let conn = Connection::new(&conn.api_address, &conn.public_token, &conn.private_token)?;
        workers.push(tokio::task::spawn_blocking(move || {
            let client = Client::new(conn, transport.as_ref());
            (0..rounds).try_for_each(|_| breaches::get_model_breach(&client, PbidInput { pbid }).map(drop))
        }));
    }
    for w in workers {
        w.await??;
    }
    Ok((rounds * in_flight) as f64 / t.elapsed().as_secs_f64())
}

/// Runs one workload for a profiler and prints its median (or rate).
async fn profile_workload(
    only: Only,
    host: &Arc<Host>,
    conn: &ConnectionParams,
    pbid: u64,
    n: usize,
) -> anyhow::Result<()> {
    let input = format!(r#"{{"pbid": {pbid}}}"#);
    let median = |s: Vec<Duration>| stats(s).median;
    match only {
        Only::Component => println!(
            "component median {:.0} µs",
            median(component_calls(host, conn, "get-model-breach", &input, n).await?)
        ),
        Only::Native => {
            let f: NativeAction = Arc::new(move |c| breaches::get_model_breach(c, PbidInput { pbid }).map(drop));
            let connection = Connection::new(&conn.api_address, &conn.public_token, &conn.private_token)?;
            println!(
                "native median {:.0} µs",
                median(native_calls(&Arc::new(NativeTransport::new()), &connection, n, &f).await?)
            );
        }
        Only::Refused => println!("refused median {:.0} µs", median(refused_calls(host, conn, n).await?)),
        Only::ComponentConcurrent => {
            println!("component {:.0} calls/s", component_concurrent(host, conn, &input, 64, (n / 10).max(3)).await?);
        }
        Only::NativeConcurrent => {
            let transport = Arc::new(NativeTransport::new());
            println!("native {:.0} calls/s", native_concurrent(&transport, conn, pbid, 64, (n / 10).max(3)).await?);
        }
    }
    Ok(())
}

/// Times `n` fresh stores with an instantiated component and no guest call.
async fn instantiation(host: &Host, n: usize) -> anyhow::Result<Vec<Duration>> {
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        host.call(Policy::deny_all(), async |_c, _s| Ok(())).await?;
        out.push(t.elapsed());
    }
    Ok(out)
}

/// A transport that counts the response bytes it delivers.
struct Counting<'a> {
    inner: &'a NativeTransport,
    bytes: std::sync::atomic::AtomicU64,
}

impl darktrace_connector::Transport for Counting<'_> {
    fn send(
        &self,
        request: &darktrace_connector::WireRequest,
        max: u64,
    ) -> darktrace_connector::Result<darktrace_connector::WireResponse> {
        let response = self.inner.send(request, max)?;
        self.bytes.fetch_add(response.body.len() as u64, std::sync::atomic::Ordering::Relaxed);
        Ok(response)
    }
}

/// Runs benches/python_sdk.py and returns its per-call durations by action.
fn python_sdk(
    python: &str,
    conn: &ConnectionParams,
    pbid: u64,
    n: usize,
) -> anyhow::Result<std::collections::HashMap<String, Vec<Duration>>> {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../benches/python_sdk.py");
    let out = Command::new(python)
        .args([script, &conn.api_address, &conn.public_token, &pbid.to_string(), &n.to_string()])
        .env("DARKTRACE_PRIVATE_TOKEN", &conn.private_token)
        .output()
        .context("running the Python SDK benchmark")?;
    anyhow::ensure!(out.status.success(), "the Python SDK benchmark failed: {}", String::from_utf8_lossy(&out.stderr));
    let raw: std::collections::HashMap<String, Vec<f64>> = serde_json::from_slice(&out.stdout)?;
    Ok(raw.into_iter().map(|(k, v)| (k, v.into_iter().map(Duration::from_secs_f64).collect())).collect())
}
