//! The `host-test` command line: run any action of the component against an appliance, or
//! against the embedded simulator when no connection is given.

use std::io::{Read as _, Write as _};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use serde_json::{Value, json};

use crate::outbound::load_ca_file;
use crate::runtime::{ConnectionParams, GuestError, Host, HostConfig, Limits};
use crate::simulator::{Simulator, SimulatorConfig};

/// Environment variable holding the private token (never a plain flag: flags end up in shell
/// history and process listings).
const PRIVATE_TOKEN_ENV: &str = "DARKTRACE_PRIVATE_TOKEN";

#[derive(Parser, Debug)]
#[command(
    name = "host-test",
    version,
    about = "Run the Darktrace connector component under wasmtime",
    long_about = "Run the Darktrace connector component under wasmtime.\n\n\
        Give a connection with --api-address (or DARKTRACE_API_ADDRESS), --public-token (or \
        DARKTRACE_PUBLIC_TOKEN) and the private token in DARKTRACE_PRIVATE_TOKEN or \
        --private-token-file. With none of them, an embedded Darktrace simulator is started on \
        127.0.0.1 and used instead."
)]
struct Cli {
    /// Load this component instead of the one built with this host.
    #[arg(long, value_name = "FILE")]
    component: Option<PathBuf>,
    /// Trust this PEM CA certificate (file) for HTTPS, besides the public roots. Repeatable.
    #[arg(long, value_name = "FILE")]
    ca_cert: Vec<PathBuf>,
    /// Seconds an action may take in total.
    #[arg(long, value_name = "SECS", default_value_t = 30)]
    timeout: u64,
    /// Compile the component every time instead of using the precompiled cache
    /// (~/.cache/darktrace-connector, or DARKTRACE_CONNECTOR_CACHE).
    #[arg(long)]
    no_cache: bool,
    /// Memory an action may use, in MiB.
    #[arg(long, value_name = "MIB", default_value_t = 64)]
    memory: usize,
    /// The appliance's API address: host, host:port or https://host[:port].
    #[arg(long, env = "DARKTRACE_API_ADDRESS", value_name = "URL")]
    api_address: Option<String>,
    /// The public API token.
    #[arg(long, env = "DARKTRACE_PUBLIC_TOKEN", value_name = "TOKEN")]
    public_token: Option<String>,
    /// File holding the private API token (alternative to DARKTRACE_PRIVATE_TOKEN).
    #[arg(long, value_name = "FILE")]
    private_token_file: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// List the actions with a one-line description.
    Actions,
    /// Print an action's input and output JSON Schemas (the whole manifest without ACTION).
    Describe {
        /// Action name, e.g. list-model-breaches.
        action: Option<String>,
    },
    /// Check the token pair against the appliance.
    TestConnection,
    /// Run an action with JSON input; its JSON result goes to stdout.
    Run {
        /// Action name, e.g. list-model-breaches.
        action: String,
        /// The input as JSON text, or `-` to read it from stdin.
        #[arg(long, conflicts_with = "input_file", value_name = "JSON")]
        input: Option<String>,
        /// Read the input JSON from this file.
        #[arg(long, value_name = "FILE")]
        input_file: Option<PathBuf>,
    },
    /// Serve the Darktrace simulator in the foreground and print its URL and token pair.
    Simulator {
        /// Port on 127.0.0.1 (0 picks a free one).
        #[arg(long, default_value_t = 0)]
        port: u16,
        /// Public token the simulator accepts.
        #[arg(long, requires = "private_token", value_name = "TOKEN")]
        public_token: Option<String>,
        /// Private token the simulator accepts.
        #[arg(long, requires = "public_token", value_name = "TOKEN")]
        private_token: Option<String>,
    },
}

/// A failure and how the process ends.
enum Failure {
    /// The user's command line is wrong: exit 2.
    Usage(String),
    /// The connector answered with a typed error: exit 1.
    Guest { identity: String, error: GuestError },
    /// The host or the component failed: exit 1.
    Host(anyhow::Error),
}

impl From<anyhow::Error> for Failure {
    fn from(e: anyhow::Error) -> Self {
        Failure::Host(e)
    }
}

/// Entry point of the `host-test` binary.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("{}", json!({"error": "host", "message": format!("cannot start the async runtime: {e}")}));
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Usage(message)) => {
            eprintln!("{}", json!({"error": "usage", "message": message}));
            ExitCode::from(2)
        }
        Err(Failure::Guest { identity, error }) => {
            eprintln!("{}", json!({"error": error.case(), "message": error.message(), "connector": identity}));
            ExitCode::FAILURE
        }
        Err(Failure::Host(e)) => {
            eprintln!("{}", json!({"error": "host", "message": format!("{e:#}")}));
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<(), Failure> {
    if let Command::Simulator { port, public_token, private_token } = &cli.command {
        return serve_simulator(*port, public_token.clone(), private_token.clone()).await;
    }
    let host = load_host(&cli)?;
    match &cli.command {
        Command::Actions => {
            let manifest = manifest(&host).await?;
            let mut out = std::io::stdout().lock();
            for action in manifest["actions"].as_array().into_iter().flatten() {
                let _ = writeln!(
                    out,
                    "{:<30} {}{}",
                    action["name"].as_str().unwrap_or_default(),
                    action["description"].as_str().unwrap_or_default(),
                    if action["read_only"] == Value::Bool(false) { " (changes state)" } else { "" }
                );
            }
            Ok(())
        }
        Command::Describe { action } => {
            let manifest = manifest(&host).await?;
            let out = match action {
                None => manifest,
                Some(name) => manifest["actions"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .find(|a| a["name"] == name.as_str())
                    .cloned()
                    .ok_or_else(|| Failure::Usage(format!("unknown action `{name}`; `host-test actions` lists them")))?,
            };
            print_json(&out);
            Ok(())
        }
        Command::TestConnection => invoke(&cli, &host, "test-connection", "{}".into()).await,
        Command::Run { action, input, input_file } => {
            let input = read_input(input.as_deref(), input_file.as_ref())?;
            invoke(&cli, &host, action, input).await
        }
        Command::Simulator { .. } => unreachable!("handled above"),
    }
}

fn load_host(cli: &Cli) -> Result<Host, Failure> {
    let mut ca_certs = Vec::new();
    for path in &cli.ca_cert {
        ca_certs.extend(load_ca_file(path).map_err(|e| Failure::Usage(format!("{e:#}")))?);
    }
    if cli.timeout == 0 || cli.memory == 0 {
        return Err(Failure::Usage("--timeout and --memory must be greater than zero".into()));
    }
    let config = HostConfig {
        limits: Limits { memory_bytes: cli.memory * 1024 * 1024, deadline: Duration::from_secs(cli.timeout) },
        ca_certs,
        cache_dir: if cli.no_cache { None } else { crate::cache::default_dir() },
    };
    let path = cli.component.clone().unwrap_or_else(|| PathBuf::from(crate::CONNECTOR_WASM));
    Ok(Host::load(&path, config)?)
}

async fn manifest(host: &Host) -> Result<Value, Failure> {
    let text = host.describe().await?;
    Ok(serde_json::from_str(&text).context("the component's manifest is not JSON")?)
}

fn read_input(input: Option<&str>, file: Option<&PathBuf>) -> Result<String, Failure> {
    match (input, file) {
        (Some("-"), _) => {
            let mut text = String::new();
            std::io::stdin().read_to_string(&mut text).map_err(|e| Failure::Usage(format!("cannot read the input from stdin: {e}")))?;
            Ok(text)
        }
        (Some(json), _) => Ok(json.to_owned()),
        (None, Some(path)) => std::fs::read_to_string(path)
            .map_err(|e| Failure::Usage(format!("cannot read the input file {}: {e}", path.display()))),
        (None, None) => Ok("{}".into()),
    }
}

/// The connection from flags and environment, or `None` when nothing was given.
fn connection_from(cli: &Cli) -> Result<Option<ConnectionParams>, Failure> {
    let private_token = match (&cli.private_token_file, std::env::var(PRIVATE_TOKEN_ENV).ok()) {
        (Some(path), _) => Some(
            std::fs::read_to_string(path)
                .map_err(|e| Failure::Usage(format!("cannot read the private token file {}: {e}", path.display())))?
                .trim()
                .to_owned(),
        ),
        (None, env) => env.filter(|t| !t.is_empty()),
    };
    match (&cli.api_address, &cli.public_token, private_token) {
        (None, None, None) => Ok(None),
        (Some(api_address), Some(public_token), Some(private_token)) => Ok(Some(ConnectionParams {
            api_address: api_address.clone(),
            public_token: public_token.clone(),
            private_token,
        })),
        (address, public, private) => {
            let mut missing = Vec::new();
            if address.is_none() {
                missing.push("--api-address (or DARKTRACE_API_ADDRESS)");
            }
            if public.is_none() {
                missing.push("--public-token (or DARKTRACE_PUBLIC_TOKEN)");
            }
            if private.is_none() {
                missing.push("the private token in DARKTRACE_PRIVATE_TOKEN or --private-token-file");
            }
            Err(Failure::Usage(format!(
                "incomplete connection: also give {}; or give none of them to use the embedded simulator",
                missing.join(" and ")
            )))
        }
    }
}

async fn invoke(cli: &Cli, host: &Host, action: &str, input: String) -> Result<(), Failure> {
    let (conn, _simulator) = match connection_from(cli)? {
        Some(conn) => (conn, None),
        None => {
            let config = SimulatorConfig::default();
            let private_token = config.private_token.clone();
            let sim = Simulator::start(config).await.context("starting the embedded simulator")?;
            eprintln!("host-test: no connection given; using the embedded Darktrace simulator at {}", sim.url());
            let conn = ConnectionParams { api_address: sim.url(), public_token: sim.public_token().to_owned(), private_token };
            (conn, Some(sim))
        }
    };
    match host.invoke(&conn, action, &input).await? {
        Ok(output) => {
            let value: Value = serde_json::from_str(&output).context("the component returned invalid JSON")?;
            print_json(&value);
            Ok(())
        }
        Err(error) => Err(Failure::Guest { identity: host.identity().to_owned(), error }),
    }
}

async fn serve_simulator(port: u16, public_token: Option<String>, private_token: Option<String>) -> Result<(), Failure> {
    let mut config = SimulatorConfig { port, ..SimulatorConfig::default() };
    if let (Some(public), Some(private)) = (public_token, private_token) {
        config.public_token = public;
        config.private_token = private;
    }
    let private_token = config.private_token.clone();
    let sim = Simulator::start(config).await.context("starting the simulator")?;
    // The simulator's own demo tokens are not secrets; printing them is the point.
    println!("Darktrace simulator listening on {}", sim.url());
    println!("DARKTRACE_API_ADDRESS={}", sim.url());
    println!("DARKTRACE_PUBLIC_TOKEN={}", sim.public_token());
    println!("DARKTRACE_PRIVATE_TOKEN={private_token}");
    println!("Press Ctrl-C to stop.");
    tokio::signal::ctrl_c().await.context("waiting for Ctrl-C")?;
    sim.shutdown().await;
    Ok(())
}

/// Writes JSON to stdout; a closed pipe (`| head`) is not an error worth a panic.
fn print_json(value: &Value) {
    let text = serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string());
    let _ = writeln!(std::io::stdout().lock(), "{text}");
}
