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
use crate::runtime::{CallError, ConnectionParams, GuestError, Host, HostConfig, Limits, Settings};
use crate::simulator::{Simulator, SimulatorConfig};
use crate::store::{Saved, Store, TestRecord};

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
    /// Accept the server certificate with this SHA-256 fingerprint (hex, colons allowed) even if
    /// it does not verify, e.g. an appliance's self-signed one; others are verified as usual.
    /// Repeatable.
    #[arg(long, value_name = "SHA256")]
    pin: Vec<String>,
    /// Accept only the certificates given with --pin (or saved with the connection): no CA chain,
    /// public or --ca-cert, is trusted.
    #[arg(long)]
    pin_only: bool,
    /// Allow plain http:// to a host other than this machine (loopback is always allowed):
    /// requests and answers, alert data included, then cross the network unencrypted.
    #[arg(long)]
    allow_insecure_http: bool,
    /// Seconds an action may take in total (1 to 86400).
    #[arg(long, value_name = "SECS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    timeout: u64,
    /// Compile the component every time instead of using the precompiled cache
    /// (~/.cache/darktrace-connector, or DARKTRACE_CONNECTOR_CACHE).
    #[arg(long)]
    no_cache: bool,
    /// Most action calls at once; instances come from a pool of this size.
    #[arg(long, value_name = "N", default_value_t = 16, value_parser = clap::value_parser!(u32).range(1..=1000))]
    max_instances: u32,
    /// Memory an action may use, in MiB (1 to 16384): the component's linear memory plus what the
    /// host keeps for it (answer bodies, headers and other resources; see README).
    #[arg(long, value_name = "MIB", default_value_t = 64, value_parser = clap::value_parser!(u64).range(1..=16_384))]
    memory: u64,
    /// Largest answer body the host passes to the component, in MiB (default: a quarter of
    /// --memory); a larger answer ends as a `transport` error naming the limit.
    #[arg(long, value_name = "MIB", value_parser = clap::value_parser!(u64).range(1..=4096))]
    max_response: Option<u64>,
    /// The appliance's API address: host, host:port or https://host[:port].
    #[arg(long, env = "DARKTRACE_API_ADDRESS", value_name = "URL")]
    api_address: Option<String>,
    /// The public API token.
    #[arg(long, env = "DARKTRACE_PUBLIC_TOKEN", value_name = "TOKEN")]
    public_token: Option<String>,
    /// File holding the private API token (alternative to DARKTRACE_PRIVATE_TOKEN).
    #[arg(long, value_name = "FILE")]
    private_token_file: Option<PathBuf>,
    /// Seconds to add to this machine's clock when signing, for an appliance whose clock is
    /// known to differ (positive when it is ahead). Without it an API DATE ERROR is still
    /// corrected once from the appliance's Date header, by up to a day.
    #[arg(long, value_name = "SECS", allow_hyphen_values = true)]
    clock_offset: Option<i32>,
    /// Most sends of a request that fails with 429, 500, 502 or 503, the first included
    /// (1 = no retry; default 4). Only requests safe to repeat are sent again.
    // The connector checks these three (an `invalid-connection` naming the field); their types
    // bound what can be typed, so nothing here can overflow.
    #[arg(long, value_name = "N")]
    max_attempts: Option<u8>,
    /// Most seconds spent waiting between the attempts of one request (0 to 300; default 20).
    #[arg(long, value_name = "SECS")]
    max_retry_wait: Option<u16>,
    /// Use this saved connection (see `connections`).
    #[arg(long, value_name = "NAME", conflicts_with_all = ["api_address", "public_token", "private_token_file"])]
    connection: Option<String>,
    /// The connection store (default: DARKTRACE_CONNECTIONS_FILE, else
    /// ~/.config/darktrace-connector/connections.json).
    #[arg(long, value_name = "FILE")]
    connections_file: Option<PathBuf>,
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
    /// Poll new alerts: each is written once as a JSON line on stdout, and the state file is
    /// saved (atomically) after each batch, so an interrupted run resumes where it stopped.
    Poll {
        /// What to poll.
        #[arg(value_parser = ["model-breaches", "ai-analyst-incidents"])]
        kind: String,
        /// Where the poll state is kept between runs (created on the first poll).
        #[arg(long, value_name = "FILE")]
        state_file: PathBuf,
        /// Keep polling every --interval seconds until Ctrl-C.
        #[arg(long)]
        follow: bool,
        /// Seconds between polls with --follow.
        #[arg(long, value_name = "SECS", default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=86_400))]
        interval: u64,
        /// Poll options as a JSON object: min_score, include_acknowledged, max_items,
        /// first_lookback_seconds, overlap_seconds.
        #[arg(long, value_name = "JSON")]
        options: Option<String>,
    },
    /// Manage saved connections.
    Connections {
        #[command(subcommand)]
        command: ConnectionsCommand,
    },
    /// Run the conformance suite through wasmtime and print one JSON line per case. The suite
    /// acknowledges, comments and changes devices, so it runs against the embedded simulator
    /// unless --live is given.
    Conformance {
        /// A suite file instead of the committed conformance/suite.json.
        #[arg(long, value_name = "FILE")]
        suite: Option<PathBuf>,
        /// Run against the configured appliance (flags, environment or --connection); its alerts
        /// and devices are changed by the suite's writes.
        #[arg(long)]
        live: bool,
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
        /// Serve HTTPS with a self-signed certificate generated at start; its SHA-256 is printed.
        #[arg(long)]
        tls: bool,
        /// With --tls, write the certificate (PEM) to this file, for --ca-cert.
        #[arg(long, requires = "tls", value_name = "FILE")]
        cert_out: Option<PathBuf>,
        /// Answer with the shapes real appliances write beyond the reference's plainest ones:
        /// system breaches, acknowledgements as objects, numbers as strings, `{"code": n}`.
        #[arg(long)]
        realistic: bool,
    },
}

#[derive(Subcommand, Debug)]
enum ConnectionsCommand {
    /// Save a new connection after testing it. The private token is read from a hidden prompt
    /// on a terminal, else --private-token-file, DARKTRACE_PRIVATE_TOKEN or stdin.
    Add {
        /// Unique name; it cannot be changed later.
        name: String,
        /// The appliance's API address: host, host:port or https://host[:port].
        #[arg(long, value_name = "URL")]
        api_address: String,
        /// The public API token.
        #[arg(long, value_name = "TOKEN")]
        public_token: String,
        /// File holding the private API token.
        #[arg(long, value_name = "FILE")]
        private_token_file: Option<PathBuf>,
        /// PEM CA certificate to trust for this appliance.
        #[arg(long, value_name = "FILE")]
        ca_cert: Option<PathBuf>,
        /// SHA-256 fingerprint of the appliance's own certificate to accept (repeatable).
        #[arg(long, value_name = "SHA256")]
        pin: Vec<String>,
        /// Accept only the pinned certificates for this connection, no CA chain.
        #[arg(long, requires = "pin")]
        pin_only: bool,
        /// Allow this connection plain http:// to a host other than this machine.
        #[arg(long)]
        allow_insecure_http: bool,
        /// Last day the connection may be used, YYYY-MM-DD (UTC).
        #[arg(long, value_name = "DATE")]
        expires: Option<String>,
        /// Save without testing the token pair first.
        #[arg(long)]
        no_test: bool,
    },
    /// List saved connections (never their private tokens).
    List {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Test a saved connection's token pair.
    Test {
        /// Connection name.
        name: String,
    },
    /// Replace a connection's token pair; the new pair is tested first and the old one stays if
    /// the test fails.
    Rotate {
        /// Connection name.
        name: String,
        /// The new public API token.
        #[arg(long, value_name = "TOKEN")]
        public_token: String,
        /// File holding the new private API token.
        #[arg(long, value_name = "FILE")]
        private_token_file: Option<PathBuf>,
    },
    /// Delete a saved connection.
    Remove {
        /// Connection name.
        name: String,
    },
}

/// A failure and how the process ends.
enum Failure {
    /// The user's command line is wrong: exit 2.
    Usage(String),
    /// The connector answered with a typed error: exit 1.
    Guest { identity: String, error: GuestError },
    /// The host stopped the call (denied, deadline, memory limit, trap, bad answer): exit 1.
    Stopped(CallError),
    /// The host or the component failed: exit 1.
    Host(anyhow::Error),
}

impl From<CallError> for Failure {
    fn from(e: CallError) -> Self {
        Failure::Stopped(e)
    }
}

impl From<anyhow::Error> for Failure {
    fn from(e: anyhow::Error) -> Self {
        Failure::Host(e)
    }
}

/// Entry point of the `host-test` binary.
pub fn main() -> ExitCode {
    disable_core_dumps();
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
        Err(Failure::Stopped(e)) => {
            eprintln!("{}", json!({"error": e.kind().as_str(), "message": e.message()}));
            ExitCode::FAILURE
        }
        Err(Failure::Host(e)) => {
            eprintln!("{}", json!({"error": "host", "message": format!("{e:#}")}));
            ExitCode::FAILURE
        }
    }
}

/// Keeps the private token out of core dumps: none is written for this process, and
/// `PR_SET_DUMPABLE` 0 also stops other processes of this user from attaching to it (ptrace) or
/// reading its memory through /proc. Best effort: a failure leaves the defaults.
fn disable_core_dumps() {
    #[cfg(target_os = "linux")]
    // SAFETY: plain system calls on this process with valid arguments.
    unsafe {
        let none = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
        libc::setrlimit(libc::RLIMIT_CORE, &none);
        libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0);
    }
}

async fn run(cli: Cli) -> Result<(), Failure> {
    if let Command::Simulator { port, public_token, private_token, tls, cert_out, realistic } = &cli.command {
        let tokens = (public_token.clone(), private_token.clone());
        return serve_simulator(*port, tokens, *tls, cert_out.as_deref(), *realistic).await;
    }
    let saved = match &cli.connection {
        Some(name) => {
            let saved = store(&cli)?.get(name)?;
            saved.check_not_expired()?;
            Some(saved)
        }
        None => None,
    };
    if let Command::Connections { command } = &cli.command {
        return connections(&cli, command).await;
    }
    let host = load_host(&cli, saved.as_ref().map(Trust::of).unwrap_or_default())?;
    let outcome = run_command(&cli, &host).await;
    if let Some(saved) = &saved {
        // Every use counts, whatever its outcome.
        store(&cli)?.modify(&saved.name, |c| c.last_used = Some(crate::store::now()))?;
    }
    outcome
}

async fn run_command(cli: &Cli, host: &Host) -> Result<(), Failure> {
    match &cli.command {
        Command::Actions => {
            let manifest = manifest(host).await?;
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
            let manifest = manifest(host).await?;
            let out = match action {
                None => manifest,
                Some(name) => manifest["actions"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .find(|a| a["name"] == name.as_str())
                    .map(|a| standalone(a.clone(), &manifest["$defs"]))
                    .ok_or_else(|| {
                        Failure::Usage(format!("unknown action `{name}`; `host-test actions` lists them"))
                    })?,
            };
            print_json(&out);
            Ok(())
        }
        Command::TestConnection => invoke(cli, host, "test-connection", "{}".into()).await,
        Command::Run { action, input, input_file } => {
            let input = read_input(input.as_deref(), input_file.as_ref())?;
            invoke(cli, host, action, input).await
        }
        Command::Conformance { suite, live } => conformance(cli, host, suite.as_ref(), *live).await,
        Command::Poll { kind, state_file, follow, interval, options } => {
            poll(cli, host, kind, state_file, *follow, Duration::from_secs(*interval), options.as_deref()).await
        }
        Command::Simulator { .. } | Command::Connections { .. } => unreachable!("handled above"),
    }
}

/// What a saved connection adds to the host's trust: its CA file, its pinned fingerprints, and
/// whether it is pin-only or may use plain http to another host.
#[derive(Default)]
struct Trust<'a> {
    ca: Option<&'a std::path::Path>,
    pins: &'a [String],
    pin_only: bool,
    allow_insecure_http: bool,
}

impl<'a> Trust<'a> {
    fn of(saved: &'a Saved) -> Self {
        Trust {
            ca: saved.ca_cert.as_deref(),
            pins: &saved.pins,
            pin_only: saved.pin_only,
            allow_insecure_http: saved.allow_insecure_http,
        }
    }
}

fn parse_pins<'a>(pins: impl Iterator<Item = &'a String>) -> Result<Vec<[u8; 32]>, Failure> {
    pins.map(|pin| crate::outbound::tls::parse_fingerprint(pin).map_err(|e| Failure::Usage(format!("--pin: {e:#}"))))
        .collect()
}

fn load_host(cli: &Cli, trust: Trust<'_>) -> Result<Host, Failure> {
    // Saved before paths were made absolute: resolved against whatever directory this command
    // runs in, a planted `ca.pem` there would be trusted.
    if let Some(ca) = trust.ca.filter(|p| p.is_relative()) {
        return Err(Failure::Usage(format!(
            "the connection's saved CA certificate path `{}` is relative, so it would name a different file in \
             every directory; remove the connection and add it again with --ca-cert (saved absolute now)",
            crate::fsutil::printable(&ca.display().to_string())
        )));
    }
    let mut ca_certs = Vec::new();
    for path in cli.ca_cert.iter().map(PathBuf::as_path).chain(trust.ca) {
        ca_certs.extend(load_ca_file(path).map_err(|e| Failure::Usage(format!("{e:#}")))?);
    }
    let pins = parse_pins(cli.pin.iter().chain(trust.pins))?;
    let pin_only = cli.pin_only || trust.pin_only;
    if pin_only && pins.is_empty() {
        return Err(Failure::Usage(
            "--pin-only accepts only pinned certificates, and none was given: add --pin SHA256".into(),
        ));
    }
    // Both bounded by clap (at most 16 GiB, one day), so neither product overflows.
    let memory_bytes = usize::try_from(cli.memory * 1024 * 1024)
        .map_err(|_| Failure::Usage(format!("--memory {} MiB is more than this machine can address", cli.memory)))?;
    let config = HostConfig {
        limits: Limits { memory_bytes, deadline: Duration::from_secs(cli.timeout) },
        ca_certs,
        pins,
        cache_dir: if cli.no_cache { None } else { crate::cache::default_dir() },
        max_instances: Some(cli.max_instances),
        pin_only,
        allow_insecure_http: cli.allow_insecure_http || trust.allow_insecure_http,
    };
    let path = cli.component.clone().unwrap_or_else(|| PathBuf::from(crate::CONNECTOR_WASM));
    let host = Host::load(&path, config)?;
    Ok(match cli.max_response {
        Some(mib) => {
            let limits =
                crate::outbound::ResponseLimits { max_body_bytes: Some(mib * 1024 * 1024), ..host.response_limits() };
            host.with_response_limits(limits)
        }
        None => host,
    })
}

async fn manifest(host: &Host) -> Result<Value, Failure> {
    let text = host.describe().await?;
    Ok(serde_json::from_str(&text).context("the component's manifest is not JSON")?)
}

fn read_input(input: Option<&str>, file: Option<&PathBuf>) -> Result<String, Failure> {
    match (input, file) {
        (Some("-"), _) => {
            let mut text = String::new();
            std::io::stdin()
                .take(crate::fsutil::MAX_INPUT_FILE_BYTES + 1)
                .read_to_string(&mut text)
                .map_err(|e| Failure::Usage(format!("cannot read the input from stdin: {e}")))?;
            if text.len() as u64 > crate::fsutil::MAX_INPUT_FILE_BYTES {
                return Err(Failure::Usage(format!(
                    "the input on stdin is larger than the {} bytes allowed",
                    crate::fsutil::MAX_INPUT_FILE_BYTES
                )));
            }
            Ok(text)
        }
        (Some(json), _) => Ok(json.to_owned()),
        (None, Some(path)) => crate::fsutil::read_bounded_string(path, crate::fsutil::MAX_INPUT_FILE_BYTES)
            .map_err(|e| Failure::Usage(format!("cannot read the input file {}: {e}", path.display()))),
        (None, None) => Ok("{}".into()),
    }
}

/// `base` with the settings given on the command line in place of its own.
fn settings_over(cli: &Cli, base: Settings) -> Settings {
    Settings {
        clock_offset_seconds: cli.clock_offset.or(base.clock_offset_seconds),
        max_attempts: cli.max_attempts.or(base.max_attempts),
        max_retry_wait_seconds: cli.max_retry_wait.or(base.max_retry_wait_seconds),
    }
}

/// The connection from a saved name, flags and environment, or `None` when nothing was given.
fn connection_from(cli: &Cli) -> Result<Option<ConnectionParams>, Failure> {
    if let Some(name) = &cli.connection {
        let mut params = store(cli)?.get(name)?.params();
        params.settings = settings_over(cli, params.settings);
        return Ok(Some(params));
    }
    // Set but empty is a mistake (an unset shell variable, a bad template), not "no connection".
    for name in ["DARKTRACE_API_ADDRESS", "DARKTRACE_PUBLIC_TOKEN", PRIVATE_TOKEN_ENV] {
        if std::env::var_os(name).is_some_and(|v| v.is_empty()) {
            return Err(Failure::Usage(format!(
                "{name} is set but empty; give it a value (with the other connection settings), or unset it to use \
                 the embedded simulator"
            )));
        }
    }
    let private_token = match (&cli.private_token_file, std::env::var(PRIVATE_TOKEN_ENV).ok()) {
        (Some(path), _) => Some(read_token_file(path)?),
        (None, env) => env.filter(|t| !t.is_empty()),
    };
    match (&cli.api_address, &cli.public_token, private_token) {
        (None, None, None) => {
            check_no_stray_environment()?;
            Ok(None)
        }
        (Some(api_address), Some(public_token), Some(private_token)) => Ok(Some(ConnectionParams {
            api_address: api_address.clone(),
            public_token: public_token.clone(),
            private_token,
            settings: settings_over(cli, Settings::default()),
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

/// Variables this host reads; any other `DARKTRACE_*` name that looks like a connection setting
/// is taken for a misspelling.
const KNOWN_ENV: [&str; 5] = [
    "DARKTRACE_API_ADDRESS",
    "DARKTRACE_PUBLIC_TOKEN",
    PRIVATE_TOKEN_ENV,
    crate::store::STORE_ENV,
    crate::cache::CACHE_ENV,
];

/// Before falling back to the embedded simulator: a connection variable that is set but empty,
/// or a `DARKTRACE_*` variable that looks like a misspelt one, means the user meant a real
/// appliance, so it is an error naming the variable rather than a silent switch to demo data.
fn check_no_stray_environment() -> Result<(), Failure> {
    const CONNECTION_WORDS: [&str; 9] = ["API", "ADDR", "URL", "HOST", "TOKEN", "PUBLIC", "PRIVATE", "SECRET", "KEY"];
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy();
        if name.starts_with("DARKTRACE_")
            && !KNOWN_ENV.contains(&name.as_ref())
            && CONNECTION_WORDS.iter().any(|w| name[10..].contains(w))
        {
            return Err(Failure::Usage(format!(
                "{} is set, but host-test reads no such variable (it reads {}); fix its name, or unset it to use the \
                 embedded simulator",
                crate::fsutil::printable(&name),
                KNOWN_ENV[..3].join(", ")
            )));
        }
    }
    Ok(())
}

/// The connection to use, starting the embedded simulator when none was given (it lives as
/// long as the returned handle).
async fn connect(cli: &Cli) -> Result<(ConnectionParams, Option<Simulator>), Failure> {
    match connection_from(cli)? {
        Some(conn) => Ok((conn, None)),
        None => embedded(cli).await,
    }
}

/// Starts the embedded simulator and returns a connection to it.
async fn embedded(cli: &Cli) -> Result<(ConnectionParams, Option<Simulator>), Failure> {
    let config = SimulatorConfig::default();
    let private_token = config.private_token.clone();
    let sim = Simulator::start(config).await.context("starting the embedded simulator")?;
    eprintln!("host-test: no connection given; using the embedded Darktrace simulator at {}", sim.url());
    let conn = ConnectionParams {
        api_address: sim.url(),
        public_token: sim.public_token().to_owned(),
        private_token,
        settings: settings_over(cli, Settings::default()),
    };
    Ok((conn, Some(sim)))
}

async fn conformance(cli: &Cli, host: &Host, suite_file: Option<&PathBuf>, live: bool) -> Result<(), Failure> {
    let suite = match suite_file {
        Some(path) => {
            let text = crate::fsutil::read_bounded_string(path, crate::fsutil::MAX_INPUT_FILE_BYTES)
                .map_err(|e| Failure::Usage(format!("cannot read {}: {e}", path.display())))?;
            serde_json::from_str(&text)
                .map_err(|e| Failure::Usage(format!("{} is not a conformance suite: {e}", path.display())))?
        }
        None => crate::conformance::Suite::committed()?,
    };
    // The suite writes (acknowledges, comments, tags): only against a real appliance when asked.
    let (conn, _simulator) = if live {
        match connection_from(cli)? {
            Some(conn) => (conn, None),
            None => {
                return Err(Failure::Usage(
                    "--live needs a connection (--connection, or --api-address, --public-token and the private token)"
                        .into(),
                ));
            }
        }
    } else {
        if cli.connection.is_some() || cli.api_address.is_some() || cli.public_token.is_some() {
            eprintln!(
                "host-test: conformance runs against the embedded simulator; the connection given is not used \
                 (add --live to run the suite, writes included, against it)"
            );
        }
        embedded(cli).await?
    };
    let suite = suite.bind(host, &conn).await?;
    let results = crate::conformance::run_wasmtime(host, &conn, &suite).await;
    let mut failed = 0;
    let mut out = std::io::stdout().lock();
    for (case, result) in suite.cases.iter().zip(&results) {
        let verdict = crate::conformance::judge(case, &result.outcome);
        failed += usize::from(verdict.is_err());
        let _ = writeln!(out, "{}", json!({"name": case.name, "pass": verdict.is_ok(), "why": verdict.err()}));
    }
    let _ = writeln!(out, "conformance: {} passed, {failed} failed", results.len() - failed);
    if failed > 0 {
        return Err(Failure::Host(anyhow::anyhow!("{failed} conformance case(s) failed")));
    }
    Ok(())
}

async fn invoke(cli: &Cli, host: &Host, action: &str, input: String) -> Result<(), Failure> {
    let (conn, _simulator) = connect(cli).await?;
    let (result, report) = host.invoke_with_policy(&conn, conn.policy(), action, &input).await?;
    // The connector's notes (such as a clock offset it corrected) are for the operator.
    for line in report.stderr.lines().filter(|l| !l.trim().is_empty()) {
        eprintln!("{line}");
    }
    match result {
        Ok(output) => {
            let value: Value = serde_json::from_str(&output).context("the component returned invalid JSON")?;
            print_json(&value);
            Ok(())
        }
        Err(error) => Err(Failure::Guest { identity: host.identity().to_owned(), error }),
    }
}

async fn serve_simulator(
    port: u16,
    (public_token, private_token): (Option<String>, Option<String>),
    tls: bool,
    cert_out: Option<&std::path::Path>,
    realistic: bool,
) -> Result<(), Failure> {
    let mut config = SimulatorConfig { port, tls, realistic, ..SimulatorConfig::default() };
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
    if let (Some(sha256), Some(pem)) = (sim.certificate_sha256(), sim.certificate_pem()) {
        println!("Certificate SHA-256: {} (use it with --pin)", crate::outbound::tls::format_fingerprint(&sha256));
        if let Some(path) = cert_out {
            // Public, so readable by others; written like every other file, never through a link.
            crate::fsutil::write_atomically(path, pem.as_bytes(), 0o644).map_err(|e| {
                Failure::Usage(format!("cannot write the certificate to --cert-out {}: {e:#}", path.display()))
            })?;
            println!("Certificate written to {} (use it with --ca-cert)", path.display());
        }
    }
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

fn store(cli: &Cli) -> Result<Store, Failure> {
    let path = match &cli.connections_file {
        Some(p) => p.clone(),
        None => Store::default_path()?,
    };
    Ok(Store::at(path))
}

/// Reads a private token for `connections add` or `rotate`: from the file, the environment, a
/// hidden prompt on a terminal, or the first line of stdin.
fn read_private_token(file: Option<&PathBuf>) -> Result<String, Failure> {
    use std::io::IsTerminal as _;
    let token = if let Some(path) = file {
        read_token_file(path)?
    } else if let Some(t) = std::env::var(PRIVATE_TOKEN_ENV).ok().filter(|t| !t.is_empty()) {
        t
    } else if std::io::stdin().is_terminal() {
        rpassword::prompt_password("Private token (not shown): ")
            .map_err(|e| Failure::Usage(format!("cannot read the private token: {e}")))?
    } else {
        let mut line = String::new();
        std::io::BufRead::read_line(&mut std::io::stdin().lock().take(crate::fsutil::MAX_TOKEN_FILE_BYTES), &mut line)
            .map_err(|e| Failure::Usage(format!("cannot read the private token from stdin: {e}")))?;
        line
    };
    let token = token.trim().to_owned();
    if token.is_empty() {
        return Err(Failure::Usage("the private token is empty".into()));
    }
    Ok(token)
}

/// A private token from a file, read up to [`crate::fsutil::MAX_TOKEN_FILE_BYTES`] (so
/// `/dev/zero` or a wrong, huge file ends in an error, not an endless read) and trimmed.
fn read_token_file(path: &std::path::Path) -> Result<String, Failure> {
    crate::fsutil::read_bounded_string(path, crate::fsutil::MAX_TOKEN_FILE_BYTES)
        .map(|t| t.trim().to_owned())
        .map_err(|e| Failure::Usage(format!("cannot read the private token file {}: {e}", path.display())))
}

/// Runs test-connection for `params`; the error is the connector's typed error.
async fn test_pair(host: &Host, params: &ConnectionParams) -> Result<Result<(), GuestError>, Failure> {
    Ok(host.invoke(params, "test-connection", "{}").await?.map(|_| ()))
}

fn test_record(outcome: &Result<(), GuestError>) -> TestRecord {
    TestRecord {
        at: crate::store::now(),
        result: outcome.as_ref().map_or_else(|e| e.case().to_owned(), |()| "ok".to_owned()),
    }
}

/// Tests a token pair with a host that trusts what the connection trusts (its CA, its pins).
async fn test_with(
    cli: &Cli,
    trust: Trust<'_>,
    params: &ConnectionParams,
) -> Result<(Result<(), GuestError>, String), Failure> {
    let host = load_host(cli, trust)?;
    Ok((test_pair(&host, params).await?, host.identity().to_owned()))
}

async fn connections(cli: &Cli, command: &ConnectionsCommand) -> Result<(), Failure> {
    let store = store(cli)?;
    let guest_failure = |identity: String, error: GuestError| Failure::Guest { identity, error };
    match command {
        ConnectionsCommand::Add {
            name,
            api_address,
            public_token,
            private_token_file,
            ca_cert,
            pin,
            pin_only,
            allow_insecure_http,
            expires,
            no_test,
        } => {
            let pins: Vec<String> =
                parse_pins(pin.iter())?.iter().map(crate::outbound::tls::format_fingerprint).collect();
            crate::store::check_name(name).map_err(|e| Failure::Usage(e.to_string()))?;
            if let Some(date) = expires {
                crate::store::check_expiry(date).map_err(|e| Failure::Usage(format!("{e:#}")))?;
            }
            if store.list()?.iter().any(|c| &c.name == name) {
                return Err(Failure::Usage(format!(
                    "a connection named `{name}` already exists; names are fixed: remove it first or pick another name"
                )));
            }
            let private_token = read_private_token(private_token_file.as_ref())?;
            let params = ConnectionParams {
                api_address: api_address.clone(),
                public_token: public_token.clone(),
                private_token,
                settings: settings_over(cli, Settings::default()),
            };
            let mut saved = Saved {
                name: name.clone(),
                api_address: params.api_address.clone(),
                public_token: params.public_token.clone(),
                private_token: params.private_token.clone(),
                // Absolute, so the saved path names this file whatever directory a later command
                // runs in; checked now, so a typo fails here and not on first use.
                ca_cert: match ca_cert {
                    Some(path) => {
                        load_ca_file(path).map_err(|e| Failure::Usage(format!("--ca-cert: {e:#}")))?;
                        Some(crate::store::absolute_path(path)?)
                    }
                    None => None,
                },
                pins,
                clock_offset_seconds: params.settings.clock_offset_seconds,
                max_attempts: params.settings.max_attempts,
                max_retry_wait_seconds: params.settings.max_retry_wait_seconds,
                created: crate::store::now(),
                expires: expires.clone(),
                last_used: None,
                last_test: None,
                allow_insecure_http: *allow_insecure_http,
                pin_only: *pin_only,
            };
            if !no_test {
                let (outcome, identity) = test_with(cli, Trust::of(&saved), &params).await?;
                saved.last_test = Some(test_record(&outcome));
                outcome.map_err(|e| guest_failure(identity, e))?;
            }
            store.add(saved)?;
            eprintln!("host-test: saved connection `{name}` in {}", store.path().display());
            Ok(())
        }
        ConnectionsCommand::List { json } => {
            let all = store.list()?;
            if *json {
                print_json(&Value::Array(all.iter().map(Saved::summary).collect()));
                return Ok(());
            }
            let mut out = std::io::stdout().lock();
            let _ = writeln!(
                out,
                "{:<20} {:<32} {:<12} {:<21} {:<11} {:<21} LAST TEST",
                "NAME", "API ADDRESS", "PUBLIC", "CREATED", "EXPIRES", "LAST USED"
            );
            // Every field is shown through `printable`: a store edited by hand, or an address saved
            // with --no-test, may hold escape sequences that would otherwise drive the terminal.
            let p = crate::fsutil::printable;
            for c in &all {
                let s = c.summary();
                let _ = writeln!(
                    out,
                    "{:<20} {:<32} {:<12} {:<21} {:<11} {:<21} {}",
                    p(&c.name),
                    p(&c.api_address),
                    p(s["public_token"].as_str().unwrap_or_default()),
                    p(&c.created),
                    p(c.expires.as_deref().unwrap_or("-")),
                    p(c.last_used.as_deref().unwrap_or("never")),
                    p(&c.last_test.as_ref().map_or("-".to_owned(), |t| format!("{} at {}", t.result, t.at))),
                );
            }
            Ok(())
        }
        ConnectionsCommand::Test { name } => {
            let saved = store.get(name)?;
            saved.check_not_expired()?;
            let (outcome, identity) = test_with(cli, Trust::of(&saved), &saved.params()).await?;
            let record = test_record(&outcome);
            store.modify(name, |c| {
                c.last_used = Some(record.at.clone());
                c.last_test = Some(record.clone());
            })?;
            outcome.map_err(|e| guest_failure(identity, e))?;
            print_json(&json!({"name": name, "result": "ok", "at": record.at}));
            Ok(())
        }
        ConnectionsCommand::Rotate { name, public_token, private_token_file } => {
            let saved = store.get(name)?;
            let private_token = read_private_token(private_token_file.as_ref())?;
            let params = ConnectionParams { public_token: public_token.clone(), private_token, ..saved.params() };
            let (outcome, identity) = test_with(cli, Trust::of(&saved), &params).await?;
            let record = test_record(&outcome);
            if let Err(error) = outcome {
                eprintln!("host-test: the new token pair failed its test; `{name}` keeps its current pair");
                return Err(guest_failure(identity, error));
            }
            store.modify(name, |c| {
                c.public_token = params.public_token.clone();
                c.private_token = params.private_token.clone();
                c.last_test = Some(record);
            })?;
            eprintln!("host-test: `{name}` now uses the new token pair");
            Ok(())
        }
        ConnectionsCommand::Remove { name } => {
            store.remove(name)?;
            eprintln!("host-test: removed connection `{name}`");
            Ok(())
        }
    }
}

/// Writes `text` to `path` atomically (see [`crate::fsutil::write_atomically`]): a crash or
/// Ctrl-C leaves the old file or the new one, and no planted symlink is followed.
fn write_atomically(path: &std::path::Path, text: &str) -> anyhow::Result<()> {
    crate::fsutil::write_atomically(path, text.as_bytes(), 0o600)
}

async fn poll(
    cli: &Cli,
    host: &Host,
    kind: &str,
    state_file: &std::path::Path,
    follow: bool,
    interval: Duration,
    options: Option<&str>,
) -> Result<(), Failure> {
    let mut input: Value = match options {
        Some(text) => serde_json::from_str(text).map_err(|e| Failure::Usage(format!("--options is not JSON: {e}")))?,
        None => json!({}),
    };
    if !input.is_object() {
        return Err(Failure::Usage("--options must be a JSON object".into()));
    }
    let (conn, _simulator) = connect(cli).await?;
    let action = format!("poll-{kind}");
    loop {
        let state = match crate::fsutil::read_bounded_string(state_file, crate::fsutil::MAX_INPUT_FILE_BYTES) {
            Ok(text) => Some(text.trim().to_owned()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(Failure::Usage(format!("cannot read the state file {}: {e}", state_file.display()))),
        };
        input["state"] = state.map_or(Value::Null, Value::String);
        let input_text = input.to_string();
        let call = host.invoke(&conn, &action, &input_text);
        // Ctrl-C during a poll drops it before anything is written: the state file stays as it was.
        let result = tokio::select! {
            r = call => r?,
            _ = tokio::signal::ctrl_c() => return Ok(()),
        };
        let more = match result {
            Ok(text) => {
                let batch: Value = serde_json::from_str(&text).context("the component returned invalid JSON")?;
                let next = batch["state"].as_str().context("the poll result has no state")?;
                // Print the whole batch, then save its state: a batch that could not be printed
                // (stdout closed, disk full) leaves the state as it was, so it comes again.
                let mut out = std::io::stdout().lock();
                let printed = batch["items"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .try_for_each(|item| writeln!(out, "{item}"))
                    .and_then(|()| out.flush());
                drop(out);
                printed.map_err(|e| {
                    Failure::Host(anyhow::anyhow!(
                        "cannot write the batch to stdout ({e}); the state file was left as it was, so the batch \
                         comes again next time"
                    ))
                })?;
                write_atomically(state_file, next).map_err(|e| {
                    Failure::Host(anyhow::anyhow!("cannot save the state file {}: {e:#}", state_file.display()))
                })?;
                batch["more"] == Value::Bool(true)
            }
            Err(error) if follow => {
                // A failed poll changes nothing; report it and try again next interval.
                eprintln!(
                    "{}",
                    json!({"error": error.case(), "message": error.message(), "connector": host.identity()})
                );
                false
            }
            Err(error) => return Err(Failure::Guest { identity: host.identity().to_owned(), error }),
        };
        if more {
            continue;
        }
        if !follow {
            return Ok(());
        }
        tokio::select! {
            _ = tokio::time::sleep(interval) => {}
            _ = tokio::signal::ctrl_c() => return Ok(()),
        }
    }
}

/// `action` with the manifest's `$defs` its output schema refers to (transitively) copied into
/// that schema, so the schema printed alone still resolves every `$ref`.
fn standalone(mut action: Value, defs: &Value) -> Value {
    fn refs(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::Object(m) => {
                if let Some(name) = m.get("$ref").and_then(Value::as_str).and_then(|r| r.strip_prefix("#/$defs/")) {
                    out.push(name.to_owned());
                }
                m.values().for_each(|x| refs(x, out));
            }
            Value::Array(a) => a.iter().for_each(|x| refs(x, out)),
            _ => {}
        }
    }
    let (mut todo, mut needed) = (Vec::new(), serde_json::Map::new());
    refs(&action["output"], &mut todo);
    while let Some(name) = todo.pop() {
        if !needed.contains_key(&name) {
            refs(&defs[&name], &mut todo);
            needed.insert(name.clone(), defs[&name].clone());
        }
    }
    if !needed.is_empty() {
        action["output"]["$defs"] = Value::Object(needed);
    }
    action
}
