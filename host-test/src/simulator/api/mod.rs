//! The HTTP side of the simulator: every request is recorded, authenticated, then routed.
//!
//! Routing is a plain `match` on method and path segments rather than axum's router: the
//! appliance authenticates before it routes (an unknown path with a good signature is a
//! redirect to `/login`, not a 404), and a malformed path id must be an `INPUT ERROR`, not an
//! extractor's own rejection text.

mod ai_analyst;
mod breaches;
mod devices;
mod health;
mod intel;
mod metadata;
mod params;
mod respond;
mod search;
mod tags;

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use time::macros::format_description;
use time::{Duration, OffsetDateTime};

use super::auth::{self, AuthFailure};
use super::data::Dataset;
use super::fault::{self, Fault, FaultReply};
use super::{RecordedRequest, RequestLog};
use params::Params;

/// The software version the simulated appliance reports.
const VERSION: &str = "6.2.37 (5f3c1a)";
/// The simulated appliance's hostname.
const HOSTNAME: &str = "dt-sim-master";
/// Largest request body read; anything bigger is refused as bad input.
const MAX_BODY: usize = 1 << 20;

/// State shared by the server task and the [`Simulator`](super::Simulator) handle.
#[derive(Debug)]
pub(crate) struct Shared {
    /// The accepted `DTAPI-Token`.
    pub(crate) public_token: String,
    /// The key signatures are checked with.
    pub(crate) private_token: String,
    /// Simulated appliance clock minus the real clock.
    pub(crate) clock_offset: Duration,
    /// The simulated clock when the simulator started.
    pub(crate) started: OffsetDateTime,
    /// Devices, models and breaches, changed by acknowledgements and comments.
    pub(crate) data: Mutex<Dataset>,
    /// The requests received, in order (bounded; see [`RequestLog`]).
    pub(crate) log: Mutex<RequestLog>,
    /// "Audit Antigena": every RESPOND POST must carry a reason.
    pub(crate) audit_respond: bool,
    /// The fault being played, if any (see [`Fault`]).
    pub(crate) fault: Mutex<Option<Fault>>,
    /// A chunked request body reads as empty (see `SimulatorConfig::strict_framing`).
    pub(crate) strict_framing: bool,
    /// The test's rewrite of successful answers, if any (see [`Rewrite`]).
    pub(crate) rewrite: Mutex<Option<Rewrite>>,
}

/// A test's rewrite of a successful answer: given the request path and the answer's JSON,
/// the text to send instead (any bytes; `None` keeps the answer). Set with
/// [`Simulator::set_rewrite`](super::Simulator::set_rewrite).
#[derive(Clone)]
pub struct Rewrite(pub Arc<RewriteFn>);

/// The function behind a [`Rewrite`]: request path and answer in, replacement text out.
pub type RewriteFn = dyn Fn(&str, &Value) -> Option<String> + Send + Sync;

impl std::fmt::Debug for Rewrite {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Rewrite(..)")
    }
}

impl Shared {
    /// The simulated appliance clock.
    pub(crate) fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc() + self.clock_offset
    }

    /// The dataset. A panic elsewhere while holding the lock leaves the data consistent (every
    /// change is a single assignment or push), so poisoning is ignored.
    pub(crate) fn data(&self) -> MutexGuard<'_, Dataset> {
        self.data.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The fault being played (poisoning ignored, as for the data).
    pub(crate) fn fault(&self) -> MutexGuard<'_, Option<Fault>> {
        self.fault.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The request log (poisoning ignored, as for the data).
    pub(crate) fn log(&self) -> MutexGuard<'_, RequestLog> {
        self.log.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The router: one handler for every method and path.
pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new().fallback(handle).with_state(shared)
}

/// An answer that is not a plain 200 with JSON.
#[derive(Debug)]
pub(crate) enum Reply {
    /// JSON with a status.
    Json(StatusCode, Value),
    /// 302 to a page of the web UI, as the appliance answers unknown paths and missing headers.
    Redirect(&'static str),
    /// A fault's answer.
    Fault(FaultReply),
}

/// What an endpoint returns: the JSON of a 200, or another reply.
pub(crate) type Answer = Result<Value, Reply>;

impl Reply {
    /// The appliance's answer to a failed authentication.
    fn auth(failure: AuthFailure) -> Reply {
        match failure {
            AuthFailure::MissingHeaders => Reply::login(),
            AuthFailure::UnknownToken | AuthFailure::BadSignature => {
                Reply::Json(StatusCode::BAD_REQUEST, json!({ "error": "API SIGNATURE ERROR" }))
            }
            AuthFailure::BadDate => Reply::Json(StatusCode::BAD_REQUEST, json!({ "error": "API DATE ERROR" })),
        }
    }

    /// 400 `INPUT ERROR`, saying what is wrong.
    pub(crate) fn input_error(message: impl Into<String>) -> Reply {
        Reply::Json(StatusCode::BAD_REQUEST, json!({ "error": message.into(), "response": "INPUT ERROR" }))
    }

    /// 404 with the appliance's message.
    pub(crate) fn not_found(message: &str) -> Reply {
        Reply::Json(StatusCode::NOT_FOUND, json!({ "error": message }))
    }

    /// 302 to the login page.
    pub(crate) fn login() -> Reply {
        Reply::Redirect("/login")
    }

    fn status(&self) -> StatusCode {
        match self {
            Reply::Json(status, _) => *status,
            Reply::Redirect(_) => StatusCode::FOUND,
            // 0 (no answer) is not a status code; recorded as such in `handle`.
            Reply::Fault(f) => StatusCode::from_u16(f.status()).unwrap_or(StatusCode::OK),
        }
    }
}

impl IntoResponse for Reply {
    fn into_response(self) -> Response {
        match self {
            Reply::Json(status, value) => (status, axum::Json(value)).into_response(),
            Reply::Redirect(to) => (
                StatusCode::FOUND,
                [(header::LOCATION, to), (header::CONTENT_TYPE, "text/plain; charset=utf-8")],
                format!("Found. Redirecting to {to}"),
            )
                .into_response(),
            Reply::Fault(f) => f.into_response(),
        }
    }
}

/// The one handler: reads the whole request, answers it and records it with its status.
async fn handle(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, MAX_BODY).await;
    let headers: Vec<(String, String)> = parts
        .headers
        .iter()
        .map(|(name, value)| (name.as_str().to_owned(), String::from_utf8_lossy(value.as_bytes()).into_owned()))
        .collect();
    let method = parts.method.as_str();
    let path = parts.uri.path();
    let chunked = headers
        .iter()
        .any(|(name, value)| name == "transfer-encoding" && value.to_ascii_lowercase().contains("chunked"));
    // What a front end that does not take chunked request bodies passes on: no body at all.
    let empty = bytes::Bytes::new();
    let reply = match &body {
        Ok(_) if chunked && shared.strict_framing => answer(&shared, method, path, parts.uri.query(), &empty, &headers),
        Ok(bytes) => answer(&shared, method, path, parts.uri.query(), bytes, &headers),
        Err(_) => Err(Reply::input_error(format!("the body is unreadable or larger than {MAX_BODY} bytes"))),
    };
    // Checked again for the log only: the body of a request that is not authenticated is not kept.
    let authenticated = body.as_ref().is_ok_and(|bytes| {
        auth::verify(
            method,
            path,
            parts.uri.query(),
            bytes,
            &headers,
            &shared.public_token,
            &shared.private_token,
            shared.now(),
        )
        .is_ok()
    });
    let status = match &reply {
        Ok(_) => StatusCode::OK.as_u16(),
        Err(Reply::Fault(f)) => f.status(),
        Err(reply) => reply.status().as_u16(),
    };
    shared.log().push(
        RecordedRequest {
            method: method.to_owned(),
            path_and_query: parts.uri.path_and_query().map_or(path, |pq| pq.as_str()).to_owned(),
            headers,
            body: body.map(|b| b.to_vec()).unwrap_or_default(),
            status,
        },
        authenticated,
    );
    if matches!(reply, Err(Reply::Fault(FaultReply::Silent))) {
        // Accept and never answer; the server task is aborted when the simulator stops.
        std::future::pending::<()>().await;
    }
    let rewrite = shared.rewrite.lock().unwrap_or_else(PoisonError::into_inner).clone();
    let mut response = match reply {
        Ok(value) => match rewrite.and_then(|r| (r.0)(path, &value)) {
            Some(text) => ([(header::CONTENT_TYPE, "application/json")], text).into_response(),
            None => axum::Json(value).into_response(),
        },
        Err(reply) => reply.into_response(),
    };
    // The simulated clock, so a client can measure the offset after an `API DATE ERROR`.
    let date = fault::date_header(shared.now(), shared.fault().as_ref());
    response.headers_mut().insert(header::DATE, date);
    response
}

/// Authenticates a request, then routes it to its endpoint.
fn answer(
    shared: &Shared,
    method: &str,
    path: &str,
    query: Option<&str>,
    body: &[u8],
    headers: &[(String, String)],
) -> Answer {
    let now = shared.now();
    auth::verify(method, path, query, body, headers, &shared.public_token, &shared.private_token, now)
        .map_err(Reply::auth)?;
    let playing = {
        let mut slot = shared.fault();
        let (now, later) = fault::take(&slot);
        *slot = later;
        now
    };
    if let Some(reply) = playing.as_ref().and_then(|f| fault::before_route(f, method)) {
        return Err(reply);
    }
    let routed = route(shared, method, path, query, body, headers, now)?;
    match &playing {
        Some(fault) => fault::after_route(fault, method, routed),
        None => Ok(routed),
    }
}

/// Routes an authenticated request to its endpoint.
fn route(
    shared: &Shared,
    method: &str,
    path: &str,
    query: Option<&str>,
    body: &[u8],
    headers: &[(String, String)],
    now: OffsetDateTime,
) -> Answer {
    let params = Params::new(query.map(auth::query_pairs).unwrap_or_default());
    let now_ms = (now.unix_timestamp_nanos() / 1_000_000) as i64;
    let segments: Vec<&str> = path.split('/').skip(1).collect();
    match (method, segments.as_slice()) {
        ("GET", ["status"]) => Ok(status(shared, now)),
        ("GET", ["modelbreaches"]) => breaches::list(&shared.data(), &params),
        ("GET", ["modelbreaches", pbid]) => breaches::one(&shared.data(), &params, pbid),
        ("GET", ["modelbreaches", pbid, "comments"]) => breaches::comments(&shared.data(), pbid),
        ("POST", ["modelbreaches", pbid, "comments"]) => breaches::add_comment(&mut shared.data(), pbid, body, now_ms),
        ("POST", ["modelbreaches", pbid, action]) if *action == "acknowledge" || *action == "unacknowledge" => {
            breaches::acknowledge(&mut shared.data(), pbid, action, &params, body)
        }
        ("GET", ["mbcomments"]) => breaches::mbcomments(&shared.data(), &params),
        ("GET", ["details"]) if params.text("pbid").is_some() => breaches::details(&shared.data(), &params),
        ("GET", ["aianalyst", "incidentevents"]) => ai_analyst::incident_events(&shared.data(), &params, now_ms),
        ("GET", ["aianalyst", "groups"]) => ai_analyst::groups(&shared.data(), &params, now_ms),
        ("POST", ["aianalyst", action]) if matches!(*action, "acknowledge" | "unacknowledge" | "pin" | "unpin") => {
            ai_analyst::change(&mut shared.data(), action, body)
        }
        ("GET", ["aianalyst", "incident", "comments"]) => ai_analyst::comments(&shared.data(), &params),
        ("POST", ["aianalyst", "incident", "comments"]) => ai_analyst::add_comment(&mut shared.data(), body, now_ms),
        ("GET", ["aianalyst", "investigations"]) => ai_analyst::investigation(&mut shared.data(), &params, now_ms),
        ("POST", ["aianalyst", "investigations"]) => ai_analyst::start_investigation(&mut shared.data(), body, now_ms),
        ("GET", ["devices"]) => devices::devices(&mut shared.data(), &params, now_ms),
        ("POST", ["devices"]) => devices::update(&mut shared.data(), body, now_ms),
        ("GET", ["devicesearch"]) => devices::search(&mut shared.data(), &params, now_ms),
        ("GET", ["devicesummary"]) => devices::summary(&mut shared.data(), &params, now_ms),
        ("GET", ["similardevices"]) => devices::similar(&mut shared.data(), &params, now_ms),
        ("GET", ["deviceinfo"]) => devices::device_info(&shared.data(), &params, now_ms),
        ("GET", ["details"]) if params.text("did").is_some() => devices::details(&mut shared.data(), &params, now_ms),
        ("GET", ["tags"]) => tags::list(&mut shared.data(), &params, now_ms),
        ("GET", ["tags", "entities"]) => tags::entities(&mut shared.data(), &params, now_ms),
        ("POST", ["tags", "entities"]) => tags::add(&mut shared.data(), body, headers, now_ms),
        ("DELETE", ["tags", "entities"]) => tags::remove(&mut shared.data(), &params, now_ms),
        ("GET", ["endpointdetails"]) => metadata::endpoint_details(&shared.data(), &params),
        ("GET", ["models"]) => metadata::models(&shared.data(), &params),
        ("GET", ["models", pid]) => metadata::model(&shared.data(), pid),
        ("GET", ["components", cid]) => metadata::component(&shared.data(), cid),
        ("GET", ["enums"]) => metadata::enums(&shared.data(), &params),
        ("GET", ["subnets"]) => metadata::subnets(&shared.data(), &params, now_ms),
        ("POST", ["advancedsearch", "api", "search"]) => metadata::search_post(&mut shared.data(), body, now_ms),
        // Standard base64 may put `/` in the query, so the rest of the path is the query.
        ("GET", ["advancedsearch", "api", "search", hash @ ..]) if !hash.is_empty() => {
            metadata::search_get(&mut shared.data(), &hash.join("/"), now_ms)
        }
        ("GET", ["antigena"]) => respond::list(&shared.data(), &params, now_ms),
        ("POST", ["antigena"]) => respond::change(&mut shared.data(), body, shared.audit_respond, now_ms),
        ("POST", ["antigena", "manual"]) => respond::manual(&mut shared.data(), body, shared.audit_respond, now_ms),
        ("GET", ["antigena", "summary"]) => respond::summary(&shared.data(), &params, now_ms),
        ("GET", ["intelfeed"]) => intel::list(&shared.data(), &params, now_ms),
        ("POST", ["intelfeed"]) => intel::change(&mut shared.data(), body, now_ms),
        ("GET", ["summarystatistics"]) => health::summary_statistics(&shared.data(), &params, now_ms),
        _ => Err(Reply::login()),
    }
}

/// `GET /status`: identity, clock and health of the simulated appliance.
fn status(shared: &Shared, now: OffsetDateTime) -> Value {
    let data = shared.data();
    let mut subnets: Vec<i64> = data.devices.iter().map(|d| d.sid).filter(|sid| *sid > 0).collect();
    subnets.sort_unstable();
    subnets.dedup();
    // A plausible uptime: the appliance was up for a while before the simulator started.
    let up = (now - shared.started) + Duration::days(17) + Duration::hours(5);
    let clock = now.format(format_description!("[year]-[month]-[day] [hour]:[minute]")).unwrap_or_default();
    let probe = |id: u64, label: &str, ip: &str| {
        json!({ "id": id, "label": label, "version": VERSION, "ipAddress": ip, "time": clock, "error": false,
            "bandwidthCurrent": 48_000_000 + id * 3_100_000, "connectionsPerMinuteCurrent": 900 + id * 35 })
    };
    json!({
        "version": VERSION,
        "hostname": HOSTNAME,
        "type": "master",
        "ipAddress": "127.0.0.1",
        "time": clock,
        "uptime": format!("{} days, {:02}:{:02}", up.whole_days(), up.whole_hours() % 24, up.whole_minutes() % 60),
        "mobileAppConfigured": false,
        "antigenaNetworkEnabled": true,
        "antigenaNetworkConfirmationMode": true,
        "cpu": 21,
        "memoryUsed": 58,
        "diskUtilization": 37,
        "load": 24,
        "darkflowQueue": 0,
        "bandwidthCurrent": 412_000_000,
        "bandwidthCurrentString": "412 Mbps",
        "bandwidthAverage": 388_000_000,
        "connectionsPerMinuteCurrent": 6120,
        "connectionsPerMinuteAverage": 5840,
        "subnets": subnets.len(),
        "devices": data.devices.len(),
        "models": data.models.len(),
        "probes": { "1": probe(1, "Branch office sensor", "10.0.1.5"), "2": probe(2, "Cloud vSensor", "10.0.2.5") },
    })
}
