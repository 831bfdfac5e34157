//! An embedded Darktrace Threat Visualizer simulator, for tests and demos.
//!
//! It serves the endpoints the connector uses (`/status`, `/modelbreaches` and its comments and
//! acknowledgement, `/mbcomments`, `/details?pbid=`, `/devices`, `/devicesearch`, the AI
//! Analyst's `/aianalyst/*`) on 127.0.0.1, checks DTAPI signatures exactly as an appliance does,
//! answers errors in the appliance's shapes, and records the requests it receives (the most recent
//! ones, see [`RequestLog`]). Its data is generated from a seed, relative to its start
//! time, and acknowledgements and comments persist for its lifetime.
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! use host_test::simulator::{Simulator, SimulatorConfig};
//! let sim = Simulator::start(SimulatorConfig::default()).await?;
//! println!("appliance at {} with {} breaches", sim.url(), sim.breach_count());
//! sim.shutdown().await;
//! # Ok(()) }
//! ```

mod api;
mod auth;
mod data;
mod fault;
mod rng;
mod tls;

#[cfg(test)]
mod tests;

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};

use anyhow::Context;
use time::{Duration, OffsetDateTime};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub use api::Rewrite;
pub use auth::{AuthFailure, MAX_CLOCK_SKEW, verify};
pub use data::respond::RespondState;
pub use fault::{Fault, LOGIN_PAGE};

/// The public token a default simulator accepts (a demo value, not a secret).
pub const DEMO_PUBLIC_TOKEN: &str = "5d1e7a0c3b9f48e2a6c4d8f0b2e4a6c8d0f2b4e6";
/// The private token a default simulator signs with (a demo value, not a secret).
pub const DEMO_PRIVATE_TOKEN: &str = "c0ffee5e7d8a9b0c1d2e3f4a5b6c7d8e9f0a1b2c";

/// How long [`Simulator::shutdown`] lets open connections finish before cutting them.
const SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(5);

/// How to start a [`Simulator`].
#[derive(Debug, Clone)]
pub struct SimulatorConfig {
    /// The public token requests must carry in `DTAPI-Token`.
    pub public_token: String,
    /// The private token signatures are keyed with.
    pub private_token: String,
    /// Dataset seed: the same seed gives the same devices, models and breaches.
    pub seed: u64,
    /// Port on 127.0.0.1; 0 picks a free one.
    pub port: u16,
    /// How many breaches to generate over the last 14 days.
    pub breaches: usize,
    /// The simulated appliance clock minus the real clock, in seconds, to exercise clock skew.
    pub clock_offset_secs: i64,
    /// "Audit Antigena" on: RESPOND POSTs without a `reason` fail with 400, as on appliances
    /// configured so.
    pub audit_respond: bool,
    /// Serve HTTPS with a self-signed certificate generated at start (see
    /// [`Simulator::certificate_pem`]), as an appliance fresh out of the box does.
    pub tls: bool,
    /// An upstream fault to play from the start (see [`Fault`]); change it with
    /// [`Simulator::set_fault`].
    pub fault: Option<Fault>,
    /// Read a request body sent with `Transfer-Encoding: chunked` as empty, as an appliance or
    /// a proxy in front of it that does not take chunked request bodies does (issue 12: such a
    /// request then fails its signature, `API SIGNATURE ERROR`). On by default: every client
    /// known to work with appliances sends `Content-Length`.
    pub strict_framing: bool,
    /// Answer with the shapes real appliances are known to write besides the reference's
    /// plainest ones: system breaches, acknowledgements as objects, numbers as strings,
    /// `{"code": n}` from `/antigena/manual` (see `data::Dataset::realistic`).
    pub realistic: bool,
}

impl Default for SimulatorConfig {
    fn default() -> Self {
        SimulatorConfig {
            public_token: DEMO_PUBLIC_TOKEN.to_owned(),
            private_token: DEMO_PRIVATE_TOKEN.to_owned(),
            seed: 42,
            port: 0,
            breaches: 300,
            clock_offset_secs: 0,
            audit_respond: true,
            tls: false,
            fault: None,
            strict_framing: true,
            realistic: false,
        }
    }
}

/// A request the simulator received, with the status it answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedRequest {
    /// HTTP method, e.g. `GET`.
    pub method: String,
    /// Path and query exactly as received (query still percent-encoded).
    pub path_and_query: String,
    /// Headers as received; names are lowercase.
    pub headers: Vec<(String, String)>,
    /// The body as received.
    pub body: Vec<u8>,
    /// The HTTP status the simulator answered with.
    pub status: u16,
}

/// The simulator's record of requests, bounded so a long-running `host-test simulator` (or a
/// client flooding it) cannot grow it without end: the most recent [`RequestLog::MAX_ENTRIES`]
/// requests and [`RequestLog::MAX_BODY_BYTES`] of bodies are kept, older ones dropped first.
/// The body of a request that failed authentication is never kept (its length is): anyone who
/// can reach the port can send one, and it is nobody's data.
#[derive(Debug, Default)]
pub struct RequestLog {
    entries: std::collections::VecDeque<RecordedRequest>,
    body_bytes: usize,
}

impl RequestLog {
    /// Most requests kept.
    pub const MAX_ENTRIES: usize = 10_000;
    /// Most body bytes kept over all requests.
    pub const MAX_BODY_BYTES: usize = 64 * 1024 * 1024;

    /// Records `request`; its body only when it was `authenticated`.
    pub fn push(&mut self, mut request: RecordedRequest, authenticated: bool) {
        if !authenticated {
            request.body = Vec::new();
        }
        self.body_bytes += request.body.len();
        self.entries.push_back(request);
        while self.entries.len() > Self::MAX_ENTRIES || self.body_bytes > Self::MAX_BODY_BYTES {
            match self.entries.pop_front() {
                Some(old) => self.body_bytes -= old.body.len(),
                None => break,
            }
        }
    }

    /// The requests kept, oldest first.
    pub fn to_vec(&self) -> Vec<RecordedRequest> {
        self.entries.iter().cloned().collect()
    }

    /// How many requests are kept.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether none is kept.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// A running simulator. Dropping it stops the server; [`Simulator::shutdown`] stops it
/// gracefully.
#[derive(Debug)]
pub struct Simulator {
    addr: SocketAddr,
    shared: Arc<api::Shared>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
    certificate: Option<tls::Certificate>,
}

impl Simulator {
    /// Generates the dataset and starts serving on 127.0.0.1 (never on other interfaces).
    pub async fn start(config: SimulatorConfig) -> anyhow::Result<Simulator> {
        let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, config.port))
            .await
            .with_context(|| format!("failed to bind the simulator to 127.0.0.1:{}", config.port))?;
        let addr = listener.local_addr().context("failed to read the simulator's address")?;
        let tls = if config.tls { Some(tls::generate()?) } else { None };
        let clock_offset = Duration::seconds(config.clock_offset_secs);
        let started = OffsetDateTime::now_utc() + clock_offset;
        let started_ms = (started.unix_timestamp_nanos() / 1_000_000) as i64;
        let shared = Arc::new(api::Shared {
            public_token: config.public_token,
            private_token: config.private_token,
            clock_offset,
            started,
            data: Mutex::new({
                let mut data = data::Dataset::generate(config.seed, config.breaches, started_ms);
                data.realistic = config.realistic;
                data
            }),
            log: Mutex::new(RequestLog::default()),
            audit_respond: config.audit_respond,
            fault: Mutex::new(config.fault),
            strict_framing: config.strict_framing,
            rewrite: Mutex::new(None),
        });
        let (stop, stopped) = oneshot::channel::<()>();
        let app = api::router(shared.clone());
        let (certificate, acceptor) = tls.unzip();
        let task = match acceptor {
            None => tokio::spawn(async move {
                let serve = axum::serve(listener, app).with_graceful_shutdown(async {
                    // A dropped sender also means stop.
                    let _ = stopped.await;
                });
                // Serving only ends on shutdown; an accept error is retried inside axum.
                let _ = serve.await;
            }),
            // The same router and shutdown; the listener hands over connections after their
            // TLS handshake.
            Some(acceptor) => tokio::spawn(async move {
                let listener = tls::Listener::new(listener, acceptor);
                let serve = axum::serve(listener, app).with_graceful_shutdown(async {
                    let _ = stopped.await;
                });
                let _ = serve.await;
            }),
        };
        Ok(Simulator { addr, shared, stop: Some(stop), task: Some(task), certificate })
    }

    /// The base URL, e.g. `http://127.0.0.1:40123`, or `https://127.0.0.1:40123` with TLS.
    pub fn url(&self) -> String {
        let scheme = if self.certificate.is_some() { "https" } else { "http" };
        format!("{scheme}://{}", self.addr)
    }

    /// The self-signed certificate served with TLS, as PEM (to trust it as a CA); `None` without TLS.
    pub fn certificate_pem(&self) -> Option<&str> {
        self.certificate.as_ref().map(|c| c.pem.as_str())
    }

    /// The SHA-256 of the certificate served with TLS (to pin it); `None` without TLS.
    pub fn certificate_sha256(&self) -> Option<[u8; 32]> {
        self.certificate.as_ref().map(|c| c.sha256)
    }

    /// The address the simulator listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The public token the simulator accepts.
    pub fn public_token(&self) -> &str {
        &self.shared.public_token
    }

    /// The private token the simulator verifies signatures with.
    pub fn private_token(&self) -> &str {
        &self.shared.private_token
    }

    /// The simulated appliance clock (real time plus the configured offset).
    pub fn now(&self) -> OffsetDateTime {
        self.shared.now()
    }

    /// Plays `fault` from the next request on (`None` answers normally again).
    pub fn set_fault(&self, fault: Option<Fault>) {
        *self.shared.fault() = fault;
    }

    /// Hands every successful JSON answer from the next request on to `rewrite` (`None` stops):
    /// tests use it to put an item of an odd shape, or numbers written a particular way, into a
    /// real answer.
    pub fn set_rewrite(&self, rewrite: Option<Rewrite>) {
        *self.shared.rewrite.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = rewrite;
    }

    /// The requests received so far, in order (the most recent ones: see [`RequestLog`]).
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.log().to_vec()
    }

    /// Adds a new breach with the given first-activity and creation times (epoch ms) and
    /// score, and returns its pbid; it is visible to the API at once.
    pub fn insert_breach(&self, time_ms: i64, creation_ms: i64, score: f64) -> u64 {
        self.shared.data().insert_breach(time_ms, creation_ms, score)
    }

    /// Marks device `did` as monitored by a client sensor (cSensor): manual RESPOND `pol`,
    /// `gpol` and `quarantineOutgoing` actions on it are then refused with 400, as a real
    /// appliance refuses them (`api-inventory.md`).
    pub fn set_client_sensor(&self, did: u64) {
        self.shared.data().respond.client_sensors.insert(did);
    }

    /// Adds many breaches at once, each `(time, creation time, score)` as [`Simulator::insert_breach`]
    /// takes them, and returns their pbids in the same order.
    pub fn insert_breaches(&self, breaches: &[(i64, i64, f64)]) -> Vec<u64> {
        let mut data = self.shared.data();
        breaches.iter().map(|&(time, creation, score)| data.insert_breach(time, creation, score)).collect()
    }

    /// Adds an AI Analyst incident event created at `created_ms` (epoch ms) with AI Analyst
    /// score `score` (0-100), in an incident of its own scored the same, and returns its id;
    /// it is visible to the API at once.
    pub fn insert_incident_event(&self, created_ms: i64, score: f64) -> String {
        self.shared.data().insert_incident_event(created_ms, score)
    }

    /// Adds many AI Analyst incident events at once, each `(creation time, score)` as
    /// [`Simulator::insert_incident_event`] takes them, and returns their ids in the same order.
    pub fn insert_incident_events(&self, events: &[(i64, f64)]) -> Vec<String> {
        let mut data = self.shared.data();
        events.iter().map(|&(created, score)| data.insert_incident_event(created, score)).collect()
    }

    /// How many breaches the dataset holds (acknowledged ones included).
    pub fn breach_count(&self) -> usize {
        self.shared.data().breaches.len()
    }

    /// Every breach id, ascending.
    pub fn known_pbids(&self) -> Vec<u64> {
        self.shared.data().breaches.iter().map(|b| b.pbid).collect()
    }

    /// Every device id, ascending.
    pub fn known_dids(&self) -> Vec<u64> {
        self.shared.data().devices.iter().map(|d| d.did).collect()
    }

    /// Whether breach `pbid` is acknowledged; `None` for an unknown breach.
    pub fn is_acknowledged(&self, pbid: u64) -> Option<bool> {
        self.shared.data().breach(pbid).map(|b| b.acknowledged)
    }

    /// The messages of the comments on breach `pbid`, oldest first (empty for an unknown breach).
    pub fn comments(&self, pbid: u64) -> Vec<String> {
        self.shared
            .data()
            .breach(pbid)
            .map(|b| b.comments.iter().map(|c| c.message.clone()).collect())
            .unwrap_or_default()
    }

    /// External hostnames with endpoint details, each with the ids of the devices that
    /// contacted it.
    pub fn external_endpoints(&self) -> Vec<(String, Vec<u64>)> {
        let data = self.shared.data();
        data.metadata
            .endpoints
            .iter()
            .map(|e| {
                let dids = e.devices.iter().filter_map(|&i| data.devices.get(i)).map(|d| d.did).collect();
                (e.hostname.to_owned(), dids)
            })
            .collect()
    }

    /// Every model's pid and UUID, ascending by pid.
    pub fn model_ids(&self) -> Vec<(u64, String)> {
        self.shared.data().models.iter().map(|m| (m.pid, m.uuid.clone())).collect()
    }

    /// Every subnet id, ascending.
    pub fn subnet_ids(&self) -> Vec<i64> {
        let mut sids: Vec<i64> = self.shared.data().metadata.subnets.iter().map(|s| s.sid).collect();
        sids.sort_unstable();
        sids
    }

    /// The Advanced Search query documents received so far, decoded, oldest first.
    pub fn search_documents(&self) -> Vec<serde_json::Value> {
        self.shared.data().metadata.searches.clone()
    }

    /// Every AI Analyst incident event id, in creation order.
    pub fn incident_event_ids(&self) -> Vec<String> {
        self.shared.data().ai_analyst.events.iter().map(|e| e.id.clone()).collect()
    }

    /// Whether AI Analyst incident event `uuid` is (acknowledged, pinned); `None` when unknown.
    pub fn incident_event_state(&self, uuid: &str) -> Option<(bool, bool)> {
        let data = self.shared.data();
        let ai = &data.ai_analyst;
        ai.event(uuid).map(|e| (ai.events[e].acknowledged, ai.events[e].pinned))
    }

    /// The messages of the comments on AI Analyst incident event `uuid`, oldest first.
    pub fn incident_event_comments(&self, uuid: &str) -> Vec<String> {
        let data = self.shared.data();
        let ai = &data.ai_analyst;
        ai.event(uuid).map(|e| ai.events[e].comments.iter().map(|c| c.message.clone()).collect()).unwrap_or_default()
    }

    /// Names of the tags on device `did` now (expired ones dropped); empty for an unknown device.
    pub fn device_tags(&self, did: u64) -> Vec<String> {
        let now = (self.now().unix_timestamp_nanos() / 1_000_000) as i64;
        let mut data = self.shared.data();
        data.sync_tags(now);
        data.device(did).map(|d| d.tag_names().map(str::to_owned).collect()).unwrap_or_default()
    }

    /// Device `did`'s label, priority and type name; `None` for an unknown device.
    pub fn device_settings(&self, did: u64) -> Option<(Option<String>, i64, String)> {
        self.shared.data().device(did).map(|d| (d.label.clone(), d.priority, d.typename.to_owned()))
    }

    /// Codeids of the RESPOND actions in `state` now, ascending.
    pub fn respond_codeids(&self, state: RespondState) -> Vec<u64> {
        let now = (self.now().unix_timestamp_nanos() / 1_000_000) as i64;
        self.shared.data().respond.actions.iter().filter(|a| a.state(now) == state).map(|a| a.codeid).collect()
    }

    /// RESPOND action `codeid` as `/antigena?includehistory=true` lists it; `None` when unknown.
    pub fn respond_action(&self, codeid: u64) -> Option<serde_json::Value> {
        let data = self.shared.data();
        data.respond.action(codeid).map(|a| data.respond_json(a, true, true))
    }

    /// The live watched entries as (name, source), in the order they were added.
    pub fn watched_domains(&self) -> Vec<(String, String)> {
        let now = (self.now().unix_timestamp_nanos() / 1_000_000) as i64;
        self.shared.data().intel.iter().filter(|e| e.live(now)).map(|e| (e.name.clone(), e.source.clone())).collect()
    }

    /// Stops accepting connections and waits (up to a few seconds) for open ones to finish.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(mut task) = self.task.take()
            && tokio::time::timeout(SHUTDOWN_GRACE, &mut task).await.is_err()
        {
            // Kept-alive client connections can hold a graceful shutdown open indefinitely.
            task.abort();
        }
    }
}

impl Drop for Simulator {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

#[cfg(test)]
mod request_log_tests {
    use super::{RecordedRequest, RequestLog};

    fn request(body: usize) -> RecordedRequest {
        RecordedRequest {
            method: "POST".into(),
            path_and_query: "/modelbreaches/1/comments".into(),
            headers: Vec::new(),
            body: vec![b'x'; body],
            status: 400,
        }
    }

    #[test]
    fn the_body_of_an_unauthenticated_request_is_not_kept() {
        let mut log = RequestLog::default();
        log.push(request(1 << 20), false);
        log.push(request(10), true);
        let kept = log.to_vec();
        assert_eq!((kept[0].body.len(), kept[1].body.len()), (0, 10));
    }

    #[test]
    fn the_log_keeps_the_most_recent_requests_within_its_bounds() {
        let mut log = RequestLog::default();
        for _ in 0..RequestLog::MAX_ENTRIES + 5 {
            log.push(request(0), false);
        }
        assert_eq!(log.len(), RequestLog::MAX_ENTRIES);
        let mut log = RequestLog::default();
        for _ in 0..100 {
            log.push(request(1 << 20), true);
        }
        let bytes: usize = log.to_vec().iter().map(|r| r.body.len()).sum();
        assert!(bytes <= RequestLog::MAX_BODY_BYTES && log.len() == RequestLog::MAX_BODY_BYTES >> 20, "{bytes}");
    }
}
