//! Runs one activity: resolves the connection from the worker's store, runs the action in the
//! same sandbox as the CLI (a fresh store per call, the connection's own allowed host, the
//! memory and time limits), and turns the outcome into the activity's result or failure.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use host_test::outbound::load_ca_file;
use host_test::outbound::tls::parse_fingerprint;
use host_test::runtime::{Host, HostConfig, Limits};
use host_test::store::{Saved, Store};
use serde_json::Value;

use crate::contract::{Failure, call_failure, guest_failure, parse_input};
use crate::dedupe;

/// Environment variable for tests only: when it names an action, the worker aborts its process
/// right after the connector's call for that action returned on a first attempt, before the
/// result is reported, as a worker killed between the send and the report would. Never set it
/// in production.
pub const ABORT_AFTER_ENV: &str = "DARKTRACE_WORKER_TEST_ABORT_AFTER";

/// How the executor loads the component and limits each call.
#[derive(Debug, Clone)]
pub struct ExecutorConfig {
    /// The connection store the worker resolves names from.
    pub store: PathBuf,
    /// The component to run.
    pub component: PathBuf,
    /// Memory and time limits of each call.
    pub limits: Limits,
    /// Directory of precompiled components (`None` compiles at start).
    pub cache_dir: Option<PathBuf>,
    /// Most calls at once (the size of the instance pool).
    pub concurrency: u32,
    /// See [`ABORT_AFTER_ENV`].
    pub abort_after: Option<String>,
}

/// Who is running: the activity's identity and attempt, from Temporal.
#[derive(Debug, Clone)]
pub struct Attempt {
    /// The workflow that scheduled the activity.
    pub workflow_id: String,
    /// The activity's id within that workflow.
    pub activity_id: String,
    /// 1 for the first attempt.
    pub attempt: u32,
    /// When the activity was first scheduled, epoch milliseconds.
    pub scheduled_ms: i64,
}

/// The trust a connection adds to the host: its CA file, its pinned fingerprints, whether only
/// the pins are trusted (`pin_only`) and whether plain http may leave loopback
/// (`allow_insecure_http`). Hosts are shared between the connections that trust the same things.
type TrustKey = (Option<PathBuf>, Vec<String>, bool, bool);

/// Runs activities; shared by every task of a worker.
pub struct Executor {
    config: ExecutorConfig,
    store: Store,
    hosts: Mutex<HashMap<TrustKey, Arc<Host>>>,
}

impl Executor {
    /// An executor; the component is loaded on first use for each kind of trust. Call
    /// [`Executor::preload`] to fail early on a broken component.
    pub fn new(config: ExecutorConfig) -> Self {
        let store = Store::at(config.store.clone());
        Executor { config, store, hosts: Mutex::new(HashMap::new()) }
    }

    /// Loads the component for connections without their own trust, and returns its identity.
    pub fn preload(&self) -> anyhow::Result<String> {
        Ok(self.host((None, Vec::new(), false, false))?.identity().to_owned())
    }

    fn host(&self, key: TrustKey) -> anyhow::Result<Arc<Host>> {
        if let Some(host) = self.hosts.lock().expect("hosts lock").get(&key) {
            return Ok(host.clone());
        }
        let mut ca_certs = Vec::new();
        if let Some(path) = &key.0 {
            ca_certs = load_ca_file(path)?;
        }
        let pins = key.1.iter().map(|p| parse_fingerprint(p)).collect::<anyhow::Result<Vec<_>>>()?;
        let config = HostConfig {
            limits: self.config.limits.clone(),
            ca_certs,
            pins,
            cache_dir: self.config.cache_dir.clone(),
            max_instances: Some(self.config.concurrency),
            pin_only: key.2,
            allow_insecure_http: key.3,
        };
        let host = Arc::new(Host::load(&self.config.component, config)?);
        // Two tasks may load the same host at once; the first one kept wins, both work.
        Ok(self.hosts.lock().expect("hosts lock").entry(key).or_insert(host).clone())
    }

    /// Runs `action` with the activity argument `data` (JSON bytes) and returns its JSON result.
    pub async fn run(&self, action: &str, data: &[u8], attempt: &Attempt) -> Result<Value, Failure> {
        let given = parse_input(action, data)?;
        let saved = self.connection(&given.connection)?;
        let key = (saved.ca_cert.clone(), saved.pins.clone(), saved.pin_only, saved.allow_insecure_http);
        let host = {
            let executor_host = tokio::task::block_in_place(|| self.host(key));
            executor_host.map_err(|e| {
                Failure::new(
                    "invalid-connection",
                    format!("cannot prepare the host for connection `{}`: {e:#}", given.connection),
                )
            })?
        };
        let params = saved.params();
        if attempt.attempt > 1
            && let Some((read_action, read_input)) = dedupe::read_back(action, &given.input)
        {
            // Fails (and retries later) rather than risk writing twice when the read fails.
            let read = call(&host, &params, read_action, &read_input).await?;
            if let Some(result) = dedupe::applied_result(action, &given.input, &read, attempt.scheduled_ms) {
                eprintln!(
                    "darktrace-worker: `{action}` of activity {} in workflow {} (attempt {}) was already applied; reporting it without sending it again",
                    attempt.activity_id, attempt.workflow_id, attempt.attempt
                );
                return Ok(result);
            }
        }
        let result = call(&host, &params, action, &given.input).await?;
        if attempt.attempt == 1 && self.config.abort_after.as_deref() == Some(action) {
            eprintln!("darktrace-worker: {ABORT_AFTER_ENV}={action}: aborting after the send, before the report");
            std::process::abort();
        }
        Ok(result)
    }

    fn connection(&self, name: &str) -> Result<Saved, Failure> {
        let saved = self.store.get(name).map_err(|e| Failure::new("invalid-connection", format!("{e:#}")))?;
        saved.check_not_expired().map_err(|e| Failure::new("invalid-connection", format!("{e:#}")))?;
        Ok(saved)
    }
}

async fn call(
    host: &Host,
    params: &host_test::runtime::ConnectionParams,
    action: &str,
    input: &Value,
) -> Result<Value, Failure> {
    let text = host
        .invoke(params, action, &input.to_string())
        .await
        .map_err(|e| call_failure(&e))?
        .map_err(|e| guest_failure(&e))?;
    // The host already checked the result is JSON.
    serde_json::from_str(&text)
        .map_err(|e| Failure::new("bad-answer", format!("`{action}` answered with bad JSON: {e}")))
}
