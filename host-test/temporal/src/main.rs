//! `darktrace-worker`: serves every Darktrace connector action as a Temporal activity.

use std::path::PathBuf;
use std::process::ExitCode;
use std::str::FromStr as _;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use clap::Parser;
use darktrace_temporal::activities::Activities;
use darktrace_temporal::executor::{ABORT_AFTER_ENV, Executor, ExecutorConfig};
use host_test::runtime::Limits;
use host_test::store::Store;
use temporalio_client::{Client, ClientOptions, ClientTlsOptions, Connection, ConnectionOptions, TlsOptions, Url};
use temporalio_sdk::runtime::worker_tuner::{FixedSizeSlotSupplier, TunerHolder};
use temporalio_sdk::{Runtime, Worker, WorkerOptions};

#[derive(Parser, Debug)]
#[command(
    name = "darktrace-worker",
    version,
    about = "Serve every Darktrace connector action as a Temporal activity",
    long_about = "Serve every Darktrace connector action as a Temporal activity.\n\n\
        Activity type = action name (e.g. list-model-breaches); one argument, the JSON object \
        {\"connection\": \"<saved connection name>\", \"input\": {...}}; result = the action's JSON. \
        Connections are resolved from this worker's own store (see `host-test connections`), so \
        no token ever enters a workflow history. A connector error fails the activity with an \
        application failure typed by its case (not-found, rate-limited, ...)."
)]
struct Cli {
    /// Temporal frontend address, host:port or a URL.
    #[arg(long, env = "TEMPORAL_ADDRESS", default_value = "127.0.0.1:7233", value_name = "ADDRESS")]
    address: String,
    /// Temporal namespace.
    #[arg(long, env = "TEMPORAL_NAMESPACE", default_value = "default")]
    namespace: String,
    /// Task queue the workflows schedule the connector's activities on.
    #[arg(long, default_value = "darktrace-connector")]
    task_queue: String,
    /// Most activities this worker runs at once (also the size of its instance pool).
    #[arg(long, value_name = "N", default_value_t = 16, value_parser = clap::value_parser!(u32).range(1..=1000))]
    concurrency: u32,
    /// The connection store (default: DARKTRACE_CONNECTIONS_FILE, else
    /// ~/.config/darktrace-connector/connections.json).
    #[arg(long, value_name = "FILE")]
    connections_file: Option<PathBuf>,
    /// Load this component instead of the one built with the host.
    #[arg(long, value_name = "FILE")]
    component: Option<PathBuf>,
    /// Seconds one action call may take in total.
    #[arg(long, value_name = "SECS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=3600))]
    timeout: u64,
    /// Memory one action call may use, in MiB.
    #[arg(long, value_name = "MIB", default_value_t = 64, value_parser = clap::value_parser!(u64).range(1..=4096))]
    memory: u64,
    /// Connect to Temporal over TLS (implied by --tls-ca and --tls-cert).
    #[arg(long)]
    tls: bool,
    /// PEM CA certificate of the Temporal frontend, when the system does not trust it.
    #[arg(long, value_name = "FILE")]
    tls_ca: Option<PathBuf>,
    /// PEM client certificate for mutual TLS (with --tls-key).
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// PEM private key of --tls-cert.
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Environment variable holding an API key for the Temporal service (never a flag value:
    /// flags show in process listings).
    #[arg(long, value_name = "VAR")]
    api_key_env: Option<String>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("darktrace-worker: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("darktrace-worker: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn read(path: &PathBuf, what: &str) -> anyhow::Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("cannot read the {what} {}", path.display()))
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let store = match &cli.connections_file {
        Some(p) => p.clone(),
        None => Store::default_path()?,
    };
    let abort_after = std::env::var(ABORT_AFTER_ENV).ok().filter(|v| !v.is_empty());
    if let Some(action) = &abort_after {
        eprintln!(
            "darktrace-worker: test hook {ABORT_AFTER_ENV}={action} is set: this worker aborts after its first send of it"
        );
    }
    let executor = Arc::new(Executor::new(ExecutorConfig {
        store,
        component: cli.component.clone().unwrap_or_else(|| PathBuf::from(host_test::CONNECTOR_WASM)),
        limits: Limits {
            memory_bytes: (cli.memory * 1024 * 1024) as usize,
            deadline: Duration::from_secs(cli.timeout),
        },
        cache_dir: host_test::cache::default_dir(),
        concurrency: cli.concurrency,
        abort_after,
    }));
    let identity = {
        let executor = executor.clone();
        tokio::task::spawn_blocking(move || executor.preload()).await??
    };

    let address = if cli.address.contains("://") {
        cli.address.clone()
    } else {
        let scheme = if cli.tls || cli.tls_ca.is_some() || cli.tls_cert.is_some() { "https" } else { "http" };
        format!("{scheme}://{}", cli.address)
    };
    let url =
        Url::from_str(&address).with_context(|| format!("--address `{}` is not host:port or a URL", cli.address))?;
    let tls = if url.scheme() == "https" {
        let client_tls_options = match (&cli.tls_cert, &cli.tls_key) {
            (Some(cert), Some(key)) => Some(
                ClientTlsOptions::builder()
                    .client_cert(read(cert, "client certificate")?)
                    .client_private_key(read(key, "client key")?)
                    .build(),
            ),
            _ => None,
        };
        let ca = cli.tls_ca.as_ref().map(|p| read(p, "CA certificate")).transpose()?;
        Some(TlsOptions::builder().maybe_server_root_ca_cert(ca).maybe_client_tls_options(client_tls_options).build())
    } else {
        None
    };
    let api_key = match &cli.api_key_env {
        Some(var) => Some(std::env::var(var).with_context(|| format!("--api-key-env: ${var} is not set"))?),
        None => None,
    };
    let options = ConnectionOptions::new(url).maybe_tls_options(tls).maybe_api_key(api_key).build();
    let connection = Connection::connect(options)
        .await
        .with_context(|| format!("cannot reach the Temporal frontend at {address}; is the server running?"))?;
    let client = Client::new(connection, ClientOptions::new(cli.namespace.clone()).build())?;

    let slots = cli.concurrency as usize;
    let tuner = TunerHolder::builder()
        .workflow_task_slot_supplier(FixedSizeSlotSupplier::new(1))
        .activity_task_slot_supplier(FixedSizeSlotSupplier::new(slots))
        .local_activity_task_slot_supplier(FixedSizeSlotSupplier::new(1))
        .nexus_task_slot_supplier(FixedSizeSlotSupplier::new(1))
        .build();
    let options =
        WorkerOptions::new(cli.task_queue.clone()).tuner(tuner).register_activities(Activities::new(executor)).build();
    let sdk_runtime = Runtime::from_current_tokio(Default::default())?;
    let mut worker = Worker::new(&sdk_runtime, client, options).map_err(|e| anyhow::anyhow!("{e}"))?;
    let shutdown = worker.shutdown_handle();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            eprintln!("darktrace-worker: shutting down after the running activities");
            shutdown();
        }
    });
    eprintln!(
        "darktrace-worker: {identity} serving task queue `{}` in namespace `{}` at {address}, {} at once",
        cli.task_queue, cli.namespace, cli.concurrency
    );
    worker.run().await.map_err(|e| anyhow::anyhow!("the worker stopped: {e}"))?;
    Ok(())
}
