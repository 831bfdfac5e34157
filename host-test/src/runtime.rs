//! Loads the connector component once and runs each action call in a fresh, limited store.
//!
//! Two layers of errors: the outer [`CallError`] is the host stopping the call (a denied
//! destination, the deadline, the memory cap, a trap, a malformed answer, a host bug); the inner
//! [`GuestError`] is the connector's typed answer.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context as _, anyhow};
use http_body_util::BodyExt as _;
use rustls_pki_types::CertificateDer;
use wasmtime::component::{Linker, ResourceTable, ResourceTableError};
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig, ResourceLimiter, Store, Trap};
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{
    Error as HttpError, RequestOptions, WasiBody, WasiHttpCtx, WasiHttpCtxView, WasiHttpHooks, WasiHttpView,
};

use crate::outbound::{Destination, Policy, ResponseLimits, Sender};

mod call_error;
pub use call_error::{CallError, CallErrorKind};

// The generated glue (`ConnectorPre`, `call_*`, ...) has no doc comments; the WIT items it
// re-exports carry the WIT's.
#[allow(missing_docs)]
mod bindings {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "connector",
        exports: { default: async },
        with: {
            "wasi:http": wasmtime_wasi_http::p2::bindings::http,
            "wasi:io": wasmtime_wasi::p2::bindings::io,
            "wasi:clocks": wasmtime_wasi::p2::bindings::clocks,
        },
    });
}

pub use bindings::Connector;
pub use bindings::exports::darktrace::connector::types::{Error as GuestError, Instant};
/// The typed interfaces of the component, one module each (`model_breaches`, `devices`, ...).
pub use bindings::exports::darktrace::connector::*;

/// Per pooled memory and table, how much of what a call dirtied is reset in place (and stays
/// resident) rather than unmapped; bigger calls fall back to unmapping the rest.
const KEEP_RESIDENT_BYTES: usize = 1 << 20;
/// How often the epoch advances; deadlines are counted in these ticks.
const EPOCH_TICK: Duration = Duration::from_millis(10);
/// Extra time the whole call gets beyond the guest deadline, for host I/O to unwind.
const IO_GRACE: Duration = Duration::from_secs(2);
/// How long before the call's deadline a pending HTTP wait is cut short, so the component still
/// has time to turn it into a typed `timeout` instead of being stopped mid-wait.
const HTTP_DEADLINE_MARGIN: Duration = Duration::from_secs(1);

/// Bytes one wasi:http `fields` resource (a header map the component builds) may take on the host.
/// The connector's requests carry a handful of short headers; wasmtime's default is 128 KiB.
pub const FIELD_SIZE_LIMIT: usize = 16 * 1024;
/// Outgoing requests one call may have in flight (sent, answer not yet read or dropped). The
/// connector sends one at a time.
pub const MAX_IN_FLIGHT_REQUESTS: usize = 4;

/// Per-call limits.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Linear memory a call may use.
    pub memory_bytes: usize,
    /// Wall-clock time a call may take, guest execution and HTTP included.
    pub deadline: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { memory_bytes: 64 * 1024 * 1024, deadline: Duration::from_secs(30) }
    }
}

impl Limits {
    /// Most host resources (header maps, requests, responses, streams, pollables) a call may hold
    /// at once: with each header map capped at [`FIELD_SIZE_LIMIT`], a quarter of the memory
    /// limit at most, and never fewer than 64 (the connector holds about ten).
    pub fn max_resources(&self) -> usize {
        (self.memory_bytes / 4 / FIELD_SIZE_LIMIT).clamp(64, 1 << 20)
    }
}

/// Host settings.
#[derive(Debug, Clone, Default)]
pub struct HostConfig {
    /// Per-call limits.
    pub limits: Limits,
    /// CA certificates to trust beside the public roots (`--ca-cert`).
    pub ca_certs: Vec<CertificateDer<'static>>,
    /// SHA-256 fingerprints of server certificates to accept even when they do not verify, such
    /// as an appliance's self-signed one (`--pin`); other certificates are verified as usual.
    pub pins: Vec<crate::outbound::tls::Fingerprint>,
    /// Directory of precompiled components; `None` compiles every time.
    pub cache_dir: Option<std::path::PathBuf>,
    /// With `Some(n)`, instances come from wasmtime's pooling allocator sized for `n` calls at
    /// once (faster instantiation, and a hard cap on concurrent calls); `None` allocates on demand.
    pub max_instances: Option<u32>,
    /// Accept only server certificates whose SHA-256 is in `pins`: no CA chain, public or
    /// `ca_certs`, is trusted (`--pin-only`).
    pub pin_only: bool,
    /// Allow plain `http://` to hosts other than loopback (`--allow-insecure-http`); without it
    /// such a request is refused before anything is sent.
    pub allow_insecure_http: bool,
}

pub use darktrace_connector::connection::Settings;

/// Connection parameters as the user gives them. `Debug` never shows the private token.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct ConnectionParams {
    /// API address.
    pub api_address: String,
    /// Public token.
    pub public_token: String,
    /// Private token.
    pub private_token: String,
    /// Clock offset and retry settings; all unset by default.
    pub settings: Settings,
}

impl std::fmt::Debug for ConnectionParams {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectionParams")
            .field("api_address", &self.api_address)
            .field("public_token", &self.public_token)
            .field("private_token", &"<redacted>")
            .field("settings", &self.settings)
            .finish()
    }
}

impl ConnectionParams {
    /// The WIT record handed to the component.
    pub fn to_wit(&self) -> types::Connection {
        types::Connection {
            api_address: self.api_address.clone(),
            public_token: self.public_token.clone(),
            private_token: self.private_token.clone(),
            clock_offset_seconds: self.settings.clock_offset_seconds,
            max_attempts: self.settings.max_attempts,
            max_retry_wait_seconds: self.settings.max_retry_wait_seconds,
        }
    }

    /// The sandbox policy for calls on this connection: only its API address may be reached.
    /// An unusable address allows nothing (the component refuses it before sending anyway).
    pub fn policy(&self) -> Policy {
        darktrace_connector::Connection::new(&self.api_address, &self.public_token, &self.private_token)
            .ok()
            .and_then(|c| Destination::parse(&c.base_url()).ok())
            .map_or_else(Policy::deny_all, Policy::only)
    }
}

/// Store data: WASI, wasi:http and the outgoing-request hook, plus limits.
pub struct Ctx {
    table: ResourceTable,
    wasi: WasiCtx,
    http: WasiHttpCtx,
    hooks: Hooks,
    limiter: Limiter,
    stderr: MemoryOutputPipe,
}

/// Caps linear memory per call and records the peak, for reports and benchmarks.
struct Limiter {
    memory_cap: usize,
    peak: usize,
    /// Set once a growth past the cap was refused, so the trap that follows is reported as the
    /// memory limit rather than as a bug.
    refused: bool,
}

impl ResourceLimiter for Limiter {
    fn memory_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        if desired > self.memory_cap {
            self.refused = true;
            return Ok(false);
        }
        self.peak = self.peak.max(desired);
        Ok(true)
    }

    fn table_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        // The connector's tables stay tiny; a runaway table is a bug or an attack.
        Ok(desired <= 100_000)
    }
}

/// The HTTP hook: checks every outgoing request against the call's policy before sending.
struct Hooks {
    policy: Policy,
    sender: Arc<Sender>,
    denied: Arc<Mutex<Vec<String>>>,
    limits: ResponseLimits,
    max_body_bytes: u64,
    /// When HTTP waits must end: the call's deadline less [`HTTP_DEADLINE_MARGIN`].
    http_deadline: tokio::time::Instant,
    /// Permits for requests in flight ([`MAX_IN_FLIGHT_REQUESTS`]); each answer's body holds one
    /// until it is read to the end or dropped.
    in_flight: Arc<tokio::sync::Semaphore>,
    /// Plain http to hosts other than loopback is allowed.
    allow_insecure_http: bool,
}

impl WasiView for Ctx {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

impl WasiHttpView for Ctx {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView { ctx: &mut self.http, table: &mut self.table, hooks: &mut self.hooks }
    }
}

type IoFuture = Box<dyn Future<Output = Result<(), HttpError>> + Send>;

impl WasiHttpHooks for Hooks {
    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        _fut: Box<dyn Future<Output = Result<(), HttpError>> + Send>,
    ) -> Box<dyn Future<Output = Result<(http::Response<WasiBody>, IoFuture), HttpError>> + Send> {
        let allowed = self.policy.allows(request.uri());
        if !allowed {
            let dest = Destination::parse(&request.uri().to_string())
                .map_or_else(|_| request.uri().to_string(), |d| d.to_string());
            self.denied.lock().expect("denied list lock").push(dest);
        }
        let refusal = if allowed {
            insecure_http(request.uri(), self.allow_insecure_http).map(|why| HttpError::InternalError(Some(why)))
        } else {
            Some(HttpError::HttpRequestDenied)
        };
        // Taken now, so a component that starts requests without reading their answers is
        // refused at the limit instead of piling up connections and buffered answers.
        let permit = match refusal {
            Some(_) => None,
            None => self.in_flight.clone().try_acquire_owned().ok(),
        };
        let sender = self.sender.clone();
        let (limits, max_body_bytes, deadline) = (self.limits, self.max_body_bytes, self.http_deadline);
        Box::new(async move {
            if let Some(refusal) = refusal {
                return Err(refusal);
            }
            let Some(permit) = permit else {
                return Err(HttpError::InternalError(Some(format!(
                    "more than {MAX_IN_FLIGHT_REQUESTS} requests in flight in one call; read or drop an answer before \
                     sending another"
                ))));
            };
            let response = sender.send_limited(request, options, limits, max_body_bytes, deadline).await?;
            let response = response.map(|body| crate::outbound::Permitted::new(body, permit).boxed_unsync());
            Ok((response, Box::new(async { Ok(()) }) as IoFuture))
        })
    }
}

/// Why a request to `uri` must not be sent in the clear, or `None` when it may: https, loopback,
/// or plain http explicitly allowed.
fn insecure_http(uri: &http::Uri, allowed: bool) -> Option<String> {
    let dest = Destination::of_uri(uri)?;
    if dest.scheme != "http" || allowed || dest.is_loopback() {
        return None;
    }
    Some(format!(
        "plain http to {dest} refused: the request, its signature and the answer would cross the network \
         unencrypted; use https://, or allow it for this connection with --allow-insecure-http"
    ))
}

/// What one call left behind, for error messages and tests.
#[derive(Debug, Default, Clone)]
pub struct CallReport {
    /// Destinations the component tried to reach and the policy refused.
    pub denied: Vec<String>,
    /// What the component wrote to stderr.
    pub stderr: String,
    /// The most linear memory the instance had, in bytes.
    pub peak_memory_bytes: usize,
}

/// The loaded component, ready to run calls.
pub struct Host {
    engine: Engine,
    pre: bindings::ConnectorPre<Ctx>,
    sender: Arc<Sender>,
    limits: Limits,
    allow_insecure_http: bool,
    response_limits: ResponseLimits,
    identity: String,
    imports: Vec<String>,
}

impl Host {
    /// Compiles the component at `path` and prepares it for calls.
    pub fn load(path: &Path, config: HostConfig) -> anyhow::Result<Host> {
        let bytes = std::fs::read(path).with_context(|| format!("cannot read the component {}", path.display()))?;
        Self::from_bytes(&bytes, config).with_context(|| format!("cannot load the component {}", path.display()))
    }

    /// Compiles the component from its bytes and prepares it for calls.
    pub fn from_bytes(wasm: &[u8], config: HostConfig) -> anyhow::Result<Host> {
        let mut engine_config = Config::new();
        // Epochs bound guest execution; host I/O is bounded by the call timeout.
        engine_config.epoch_interruption(true);
        if let Some(n) = config.max_instances {
            let mut pool = PoolingAllocationConfig::default();
            // One connector instance holds several core instances, memories and tables
            // (the main module plus the std/WASI glue), hence the headroom per call.
            pool.total_component_instances(n)
                .total_core_instances(n * 8)
                .total_memories(n * 4)
                .total_tables(n * 8)
                .max_memory_size(config.limits.memory_bytes)
                // A call dirties a few hundred KiB. Resetting just those pages (found with
                // PAGEMAP_SCAN where the kernel has it) and keeping them mapped saves the next
                // call in the slot ~20 page faults and the madvise that would unmap them; the
                // contents are still reset, so nothing leaks between calls.
                .linear_memory_keep_resident(KEEP_RESIDENT_BYTES)
                .table_keep_resident(KEEP_RESIDENT_BYTES)
                .pagemap_scan(wasmtime::Enabled::Auto);
            engine_config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
        }
        let engine = Engine::new(&engine_config).map_err(|e| anyhow!("{e:?}"))?;
        start_epoch_ticker(&engine);

        let component = crate::cache::compile(&engine, wasm, config.cache_dir.as_deref())
            .map_err(|e| anyhow!("{e:?}"))
            .context("not a valid component")?;
        let imports = component.component_type().imports(&engine).map(|(name, _)| name.to_owned()).collect();
        let mut linker = Linker::<Ctx>::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker).map_err(|e| anyhow!("{e:?}"))?;
        wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker).map_err(|e| anyhow!("{e:?}"))?;
        let instance_pre = linker
            .instantiate_pre(&component)
            .map_err(|e| anyhow!("{e:?}"))
            .context("the component needs imports this host does not provide")?;
        let pre = bindings::ConnectorPre::new(instance_pre)
            .map_err(|e| anyhow!("{e:?}"))
            .context("the component does not export the darktrace:connector world")?;
        if config.pin_only && config.pins.is_empty() {
            anyhow::bail!("pin-only TLS needs at least one pinned certificate fingerprint (--pin)");
        }
        let sender =
            Arc::new(Sender::with_trust(&config.ca_certs, &config.pins, config.pin_only, Duration::from_secs(10))?);
        let mut host = Host {
            engine,
            pre,
            sender,
            limits: config.limits,
            allow_insecure_http: config.allow_insecure_http,
            response_limits: ResponseLimits::default(),
            identity: String::new(),
            imports,
        };
        host.identity = host.read_identity()?;
        Ok(host)
    }

    /// Replaces the limits on each HTTP answer (default: 30 s to the first byte, 30 s between
    /// bytes, bodies up to a quarter of the memory limit). A builder rather than a
    /// [`HostConfig`] field so existing `HostConfig { .. }` literals keep compiling.
    pub fn with_response_limits(mut self, limits: ResponseLimits) -> Self {
        self.response_limits = limits;
        self
    }

    /// The limits on each HTTP answer.
    pub fn response_limits(&self) -> ResponseLimits {
        self.response_limits
    }

    /// The interfaces the component imports, e.g. `wasi:http/outgoing-handler@0.2.12`.
    pub fn imports(&self) -> &[String] {
        &self.imports
    }

    /// `name version` of the loaded connector, from its manifest.
    pub fn identity(&self) -> &str {
        &self.identity
    }

    fn read_identity(&self) -> anyhow::Result<String> {
        let manifest = block_on_fresh_runtime(self.describe())?;
        let doc: serde_json::Value = serde_json::from_str(&manifest).context("the component's manifest is not JSON")?;
        Ok(format!(
            "{} {}",
            doc["id"].as_str().unwrap_or("connector"),
            doc["version"].as_str().unwrap_or("(unknown version)")
        ))
    }

    fn store(&self, policy: Policy) -> (Store<Ctx>, Arc<Mutex<Vec<String>>>) {
        let stderr = MemoryOutputPipe::new(64 * 1024);
        let wasi = WasiCtx::builder()
            .stderr(stderr.clone())
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .build();
        let denied = Arc::new(Mutex::new(Vec::new()));
        // Host memory a component can make the host hold, bounded per call and derived from the
        // memory limit (see README, Security and limits): resources, header maps, requests.
        let mut table = ResourceTable::new();
        table.set_max_capacity(self.limits.max_resources());
        let mut http = WasiHttpCtx::new();
        http.set_field_size_limit(FIELD_SIZE_LIMIT);
        let ctx = Ctx {
            table,
            wasi,
            http,
            hooks: Hooks {
                policy,
                sender: self.sender.clone(),
                denied: denied.clone(),
                limits: self.response_limits,
                // The component holds the whole body, then parses it into a larger tree, so
                // a quarter of its memory is the most it can take without running out.
                max_body_bytes: self.response_limits.max_body_bytes.unwrap_or(self.limits.memory_bytes as u64 / 4),
                http_deadline: tokio::time::Instant::now()
                    + self.limits.deadline.saturating_sub(HTTP_DEADLINE_MARGIN.min(self.limits.deadline / 4)),
                in_flight: Arc::new(tokio::sync::Semaphore::new(MAX_IN_FLIGHT_REQUESTS)),
                allow_insecure_http: self.allow_insecure_http,
            },
            limiter: Limiter { memory_cap: self.limits.memory_bytes, peak: 0, refused: false },
            stderr,
        };
        let mut store = Store::new(&self.engine, ctx);
        store.limiter(|ctx| &mut ctx.limiter);
        let ticks = (self.limits.deadline.as_millis() / EPOCH_TICK.as_millis()).max(1) as u64;
        store.set_epoch_deadline(ticks);
        store.epoch_deadline_trap();
        (store, denied)
    }

    /// Instantiates the component in a fresh store under `policy` and runs `f` on it, within
    /// the deadline. The host stopping the call (denied destination, deadline, memory, trap,
    /// malformed answer) is the outer error.
    pub async fn call<R>(
        &self,
        policy: Policy,
        f: impl AsyncFnOnce(&Connector, &mut Store<Ctx>) -> wasmtime::Result<R>,
    ) -> Result<(R, CallReport), CallError> {
        let (mut store, denied) = self.store(policy);
        let outcome = tokio::time::timeout(self.limits.deadline + IO_GRACE, async {
            let instance = self.pre.instantiate_async(&mut store).await.map_err(|e| self.instantiation_failed(e))?;
            f(&instance, &mut store).await.map_err(Stopped::Running)
        })
        .await;
        let report = CallReport {
            denied: denied.lock().expect("denied list lock").clone(),
            stderr: String::from_utf8_lossy(&store.data().stderr.contents()).into_owned(),
            peak_memory_bytes: store.data().limiter.peak,
        };
        if !report.denied.is_empty() {
            // Whatever the component made of the refusal, it tried to leave its sandbox.
            return Err(CallError::new(
                CallErrorKind::Denied,
                format!(
                    "{} tried to reach {} outside its policy ({allowed}); the host refused, nothing was sent there, \
                     and the call was stopped. Check the connection's API address; a component that does this with a \
                     correct address must not be trusted",
                    self.identity,
                    report.denied.join(", "),
                    allowed = store.data().hooks.policy,
                ),
            ));
        }
        match outcome {
            Ok(Ok(value)) => Ok((value, report)),
            Ok(Err(Stopped::Instantiating(e))) => Err(e),
            Ok(Err(Stopped::Running(e))) => Err(self.explain(e, &report, store.data().limiter.refused)),
            Err(_) => Err(CallError::new(
                CallErrorKind::Deadline,
                format!(
                    "{} did not finish within the {:?} deadline (waiting on the network or a clock) and was stopped; \
                     raise --timeout or check the appliance",
                    self.identity, self.limits.deadline
                ),
            )),
        }
    }

    fn instantiation_failed(&self, e: wasmtime::Error) -> Stopped {
        let error = if e.downcast_ref::<wasmtime::PoolConcurrencyLimitError>().is_some() {
            CallError::new(
                CallErrorKind::Capacity,
                format!(
                    "{} has no free instance slot ({e}); wait for running calls or raise --max-instances",
                    self.identity
                ),
            )
        } else {
            CallError::new(CallErrorKind::Host, format!("{} could not be instantiated: {e:?}", self.identity))
        };
        Stopped::Instantiating(error)
    }

    fn explain(&self, e: wasmtime::Error, report: &CallReport, memory_refused: bool) -> CallError {
        let (kind, what) = match e.downcast_ref::<Trap>() {
            _ if e.is::<ResourceTableError>() => (
                CallErrorKind::MemoryLimit,
                format!(
                    "held more than {} host resources at once (HTTP header maps, requests, answers, streams) and was \
                     stopped; each call may hold that many, a share of its {} MiB memory limit: raise --memory if the \
                     work is legitimate",
                    self.limits.max_resources(),
                    self.limits.memory_bytes / (1024 * 1024)
                ),
            ),
            _ if e.downcast_ref::<wasmtime_wasi_http::FieldMapError>()
                == Some(&wasmtime_wasi_http::FieldMapError::TotalSizeTooBig) =>
            {
                (
                    CallErrorKind::MemoryLimit,
                    format!(
                        "built an HTTP header map larger than the {} KiB the host allows one and was stopped; the \
                         component is faulty or hostile",
                        FIELD_SIZE_LIMIT / 1024
                    ),
                )
            }
            Some(Trap::Interrupt) => (
                CallErrorKind::Deadline,
                format!(
                    "exceeded its {:?} deadline and was stopped; raise --timeout if the work is legitimate",
                    self.limits.deadline
                ),
            ),
            Some(trap) if memory_refused || report.stderr.contains("memory allocation") => (
                CallErrorKind::MemoryLimit,
                format!(
                    "ran out of its {} MiB memory limit and was stopped ({trap}); raise --memory or ask for less (a smaller count or time window)",
                    self.limits.memory_bytes / (1024 * 1024)
                ),
            ),
            Some(trap) => (
                CallErrorKind::Trap,
                format!("trapped ({trap}), a bug in the component; report it with the input that caused it"),
            ),
            // Not a trap: wasmtime refused what the component handed back (a string that is not
            // UTF-8, a pointer out of bounds, an unknown handle).
            None => (
                CallErrorKind::BadAnswer,
                format!(
                    "broke the component model's rules in its answer and was stopped: {e:#}; the component is faulty"
                ),
            ),
        };
        let stderr = report.stderr.trim();
        let message = if stderr.is_empty() {
            format!("{} {what}", self.identity)
        } else {
            format!("{} {what}; it wrote: {}", self.identity, stderr.chars().take(2000).collect::<String>())
        };
        CallError::new(kind, message)
    }

    /// Runs `action` with JSON `input` on `conn` through the generic interface.
    pub async fn invoke(
        &self,
        conn: &ConnectionParams,
        action: &str,
        input: &str,
    ) -> Result<Result<String, GuestError>, CallError> {
        self.invoke_with_policy(conn, conn.policy(), action, input).await.map(|(r, _)| r)
    }

    /// [`Host::invoke`] under an explicit policy, also returning the call report. A result
    /// that is not JSON is a [`CallErrorKind::BadAnswer`].
    pub async fn invoke_with_policy(
        &self,
        conn: &ConnectionParams,
        policy: Policy,
        action: &str,
        input: &str,
    ) -> Result<(Result<String, GuestError>, CallReport), CallError> {
        let wit = conn.to_wit();
        let (result, report) = self
            .call(policy, async |c, store| {
                c.darktrace_connector_generic().call_invoke(store, &wit, action, input).await
            })
            .await?;
        if let Ok(text) = &result
            && let Err(e) = serde_json::from_str::<serde::de::IgnoredAny>(text)
        {
            let start: String = text.chars().take(80).collect();
            return Err(CallError::new(
                CallErrorKind::BadAnswer,
                format!(
                    "{} answered `{action}` with text that is not JSON ({e}), starting {start:?}; the component is faulty",
                    self.identity
                ),
            ));
        }
        Ok((result, report))
    }

    /// The component's manifest.
    pub async fn describe(&self) -> Result<String, CallError> {
        self.call(Policy::deny_all(), async |c, store| c.darktrace_connector_generic().call_describe(store).await)
            .await
            .map(|(r, _)| r)
    }
}

/// Where a call stopped, before or after the component was running.
enum Stopped {
    Instantiating(CallError),
    Running(wasmtime::Error),
}

/// Runs a future to completion on a private runtime in its own thread, so it works whether or
/// not the caller is inside a tokio runtime (used once, at load time).
fn block_on_fresh_runtime<F: Future + Send>(f: F) -> F::Output
where
    F::Output: Send,
{
    std::thread::scope(|s| {
        s.spawn(|| {
            tokio::runtime::Builder::new_current_thread().enable_all().build().expect("tokio runtime").block_on(f)
        })
        .join()
        .expect("load-time runtime thread panicked")
    })
}

/// Advances the engine's epoch so deadlines fire; stops when the engine is dropped.
fn start_epoch_ticker(engine: &Engine) {
    let weak = engine.weak();
    std::thread::Builder::new()
        .name("epoch-ticker".into())
        .spawn(move || {
            while let Some(engine) = weak.upgrade() {
                engine.increment_epoch();
                drop(engine);
                std::thread::sleep(EPOCH_TICK);
            }
        })
        .expect("spawning the epoch ticker thread");
}

impl GuestError {
    /// The kebab-case case name, as printed by the CLI.
    pub fn case(&self) -> &'static str {
        match self {
            GuestError::InvalidInput(_) => "invalid-input",
            GuestError::InvalidConnection(_) => "invalid-connection",
            GuestError::SignatureRejected(_) => "signature-rejected",
            GuestError::ClockSkew(_) => "clock-skew",
            GuestError::PermissionDenied(_) => "permission-denied",
            GuestError::NotFound(_) => "not-found",
            GuestError::RateLimited(_) => "rate-limited",
            GuestError::Transport(_) => "transport",
            GuestError::Timeout(_) => "timeout",
            GuestError::Upstream(_) => "upstream",
            GuestError::UnexpectedResponse(_) => "unexpected-response",
            GuestError::ResponseTooLarge(_) => "response-too-large",
            GuestError::Unsupported(_) => "unsupported",
            GuestError::Other(_) => "other",
        }
    }

    /// The message.
    pub fn message(&self) -> String {
        match self {
            GuestError::InvalidInput(m)
            | GuestError::InvalidConnection(m)
            | GuestError::SignatureRejected(m)
            | GuestError::ClockSkew(m)
            | GuestError::PermissionDenied(m)
            | GuestError::NotFound(m)
            | GuestError::Transport(m)
            | GuestError::Timeout(m)
            | GuestError::UnexpectedResponse(m)
            | GuestError::ResponseTooLarge(m)
            | GuestError::Unsupported(m)
            | GuestError::Other(m) => m.clone(),
            GuestError::RateLimited(r) => r.message.clone(),
            GuestError::Upstream(u) => u.message.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_http_leaves_the_host_only_for_loopback_unless_allowed() {
        let uri = |u: &str| u.parse::<http::Uri>().unwrap();
        let refused = insecure_http(&uri("http://dt.example.com/status"), false).expect("refused");
        assert!(refused.contains("--allow-insecure-http"), "{refused}");
        assert_eq!(insecure_http(&uri("http://dt.example.com/status"), true), None);
        assert_eq!(insecure_http(&uri("https://dt.example.com/status"), false), None);
        assert_eq!(insecure_http(&uri("http://127.0.0.1:8080/status"), false), None);
        assert_eq!(insecure_http(&uri("http://[::1]:8080/status"), false), None);
    }

    #[test]
    fn host_resources_per_call_are_a_share_of_the_memory_limit() {
        let limits = |mib: usize| Limits { memory_bytes: mib << 20, ..Limits::default() };
        assert_eq!(limits(64).max_resources(), 1024);
        assert_eq!(limits(32).max_resources() * FIELD_SIZE_LIMIT, 8 << 20);
        assert_eq!(limits(1).max_resources(), 64, "never fewer than the connector needs");
    }
}
