//! Sends signed requests through a [`Transport`] and turns every answer into JSON or a typed error.
//!
//! [`Client::send`] is the one request path: it signs, sends, maps the answer, retries idempotent
//! requests after 429/500/502/503 with capped exponential backoff that honours `Retry-After`, and
//! re-signs once with the appliance's own time after an `API DATE ERROR`.

use std::time::Duration;

use serde_json::Value;
use time::OffsetDateTime;

use crate::connection::Connection;
use crate::error::{Error, Result};
use crate::request::{ApiRequest, Method, WireRequest};

/// Default cap on a response body; larger answers fail instead of exhausting memory.
pub const DEFAULT_MAX_RESPONSE_BYTES: u64 = 256 * 1024 * 1024;

/// When and how often [`Client::send`] retries, and how much it may read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries after the first attempt (so at most `max_retries + 1` attempts).
    pub max_retries: u32,
    /// The most time spent waiting between attempts, over all retries of one request. A wait
    /// that would go past it is not started: the last error is returned at once.
    pub max_total_wait: Duration,
    /// The wait before the first retry; it doubles for each further retry.
    pub base_delay: Duration,
    /// The longest single computed wait (a `Retry-After` may ask for more, within the total).
    pub max_delay: Duration,
    /// The largest response body read, in bytes.
    pub max_response_bytes: u64,
}

impl Default for RetryPolicy {
    /// 3 retries; 20 s of waiting in all, which keeps a call that retries inside the host's
    /// default 30 s deadline (a sleeping guest outliving its deadline is stopped by the host,
    /// not given a typed error); 1 s, 2 s, 4 s backoff capped at 8 s; 256 MiB responses.
    fn default() -> Self {
        RetryPolicy {
            max_retries: 3,
            max_total_wait: Duration::from_secs(20),
            base_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(8),
            max_response_bytes: DEFAULT_MAX_RESPONSE_BYTES,
        }
    }
}

impl RetryPolicy {
    /// This policy with a connection's `max_attempts` and `max_retry_wait_seconds`, where set.
    pub fn with_settings(mut self, settings: crate::connection::Settings) -> Self {
        if let Some(attempts) = settings.max_attempts {
            self.max_retries = u32::from(attempts.max(1)) - 1;
        }
        if let Some(wait) = settings.max_retry_wait_seconds {
            self.max_total_wait = Duration::from_secs(wait.into());
        }
        self
    }

    /// The wait before retry number `retry` (0 for the first retry): `base_delay * 2^retry`
    /// capped at `max_delay`, or the server's `Retry-After` when that is longer.
    pub fn backoff(&self, retry: u32, retry_after: Option<Duration>) -> Duration {
        let exponential =
            self.base_delay.saturating_mul(1u32.checked_shl(retry).unwrap_or(u32::MAX)).min(self.max_delay);
        retry_after.map_or(exponential, |asked| asked.max(exponential))
    }
}

/// An HTTP answer as received.
#[derive(Debug, Clone, PartialEq)]
pub struct WireResponse {
    /// HTTP status code.
    pub status: u16,
    /// Header names and values.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl WireResponse {
    /// The first header named `name`, compared case-insensitively.
    pub fn header(&self, name: &str) -> Option<&str> {
        header(&self.headers, name)
    }
}

/// The first value of the header `name` (any case) in `headers`.
pub fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
}

/// Delivers a signed request and returns the answer. The component uses wasi:http; tests and
/// native tools plug in their own.
pub trait Transport {
    /// Sends `request`, reading at most `max_body_bytes` of the answer. Failures to deliver or
    /// read map to [`Error::Transport`] or [`Error::Timeout`]; an answer over the limit is
    /// [`Error::Transport`] naming the limit.
    fn send(&self, request: &WireRequest, max_body_bytes: u64) -> Result<WireResponse>;
}

/// A connection plus a transport: everything an action needs to talk to the appliance.
pub struct Client<'a> {
    conn: Connection,
    transport: &'a dyn Transport,
    clock: fn() -> OffsetDateTime,
    sleep: fn(Duration),
    policy: RetryPolicy,
}

impl<'a> Client<'a> {
    /// A client that signs with the current UTC time (plus the connection's fixed clock offset)
    /// and retries with [`RetryPolicy::default`] changed by the connection's settings.
    pub fn new(conn: Connection, transport: &'a dyn Transport) -> Self {
        let policy = RetryPolicy::default().with_settings(conn.settings());
        Client { conn, transport, clock: OffsetDateTime::now_utc, sleep: std::thread::sleep, policy }
    }

    /// Replaces the clock used for `DTAPI-Date` (tests pin it).
    pub fn with_clock(mut self, clock: fn() -> OffsetDateTime) -> Self {
        self.clock = clock;
        self
    }

    /// Replaces how the client waits between attempts (tests record instead of sleeping). The
    /// default, `std::thread::sleep`, waits on wasi:clocks inside the component.
    pub fn with_sleep(mut self, sleep: fn(Duration)) -> Self {
        self.sleep = sleep;
        self
    }

    /// Replaces the retry policy and response size cap.
    pub fn with_policy(mut self, policy: RetryPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// The connection in use.
    pub fn connection(&self) -> &Connection {
        &self.conn
    }

    /// Signs and sends `request` and returns the JSON answer, or the typed error it amounts to.
    ///
    /// Idempotent requests are retried after 429, 500, 502 and 503 (see [`RetryPolicy`]); the
    /// final error says how many attempts were made. After an `API DATE ERROR` the request is
    /// signed again once with the time the appliance's `Date` header gives, whatever the method:
    /// the appliance refused it before acting on it, so sending it again cannot duplicate
    /// anything. The offset applied is written to stderr, which the host captures. A
    /// connection's fixed clock offset is added to every signing time first.
    pub fn send(&self, request: &ApiRequest) -> Result<Value> {
        let body = self.send_raw(request)?;
        parse_json(request, &body)
    }

    /// [`Client::send`] without parsing: the body of the successful answer, for callers that
    /// read a large answer item by item instead of as one JSON tree.
    pub fn send_raw(&self, request: &ApiRequest) -> Result<Vec<u8>> {
        request.check_size()?;
        let fixed = time::Duration::seconds(self.conn.settings().clock_offset_seconds.unwrap_or(0).into());
        let mut attempts: u32 = 0;
        let mut retries: u32 = 0;
        let mut waited = Duration::ZERO;
        // The correction measured from the appliance's Date header, on top of `fixed`.
        let mut offset: Option<time::Duration> = None;
        loop {
            attempts += 1;
            let local_now = (self.clock)() + fixed;
            let wire = request.sign(&self.conn, local_now + offset.unwrap_or(time::Duration::ZERO));
            let response = self.transport.send(&wire, self.policy.max_response_bytes)?;
            let error = match check(request, &response) {
                Ok(()) => {
                    if let Some(offset) = offset {
                        eprintln!(
                            "darktrace: the appliance clock differs from this machine's by {} s; the request was signed \
                             again with the appliance's time and succeeded; fix time synchronisation (NTP){}",
                            (offset + fixed).whole_seconds(),
                            if fixed.is_zero() {
                                String::new()
                            } else {
                                format!(" or the connection's clock_offset_seconds ({})", fixed.whole_seconds())
                            }
                        );
                    }
                    return Ok(response.body);
                }
                Err(error) => error,
            };
            match error {
                Error::ClockSkew(_) if offset.is_none() => match server_clock_offset(&response, local_now) {
                    // Whoever answers chooses the Date: beyond the cap the request is not signed
                    // again (with a far-future date it would stay replayable for that long).
                    Some(measured) if measured.whole_seconds().abs() > MAX_CLOCK_CORRECTION_SECONDS => {
                        return Err(Error::ClockSkew(format!(
                            "{}: the appliance rejected the request date (API DATE ERROR) and its Date header puts its \
                             clock {} s from this machine's, beyond the {MAX_CLOCK_CORRECTION_SECONDS} s this client \
                             corrects by itself; nothing was sent again: check time synchronisation (NTP) on both, or \
                             set the connection's clock_offset_seconds if the difference is known and intended",
                            what(request),
                            measured.whole_seconds()
                        )));
                    }
                    Some(measured) => offset = Some(measured),
                    None => {
                        return Err(Error::ClockSkew(format!(
                            "{}: the appliance rejected the request date (API DATE ERROR) and its answer has no usable \
                             Date header to correct by; this machine's clock and the appliance's differ by more than \
                             30 minutes: check time synchronisation (NTP) on both",
                            what(request)
                        )));
                    }
                },
                Error::ClockSkew(_) => {
                    let measured = offset.map_or(0, |o| (o + fixed).whole_seconds());
                    return Err(Error::ClockSkew(format!(
                        "{}: the appliance rejected the request date (API DATE ERROR) even when signed with its own \
                         time; its Date header puts its clock {measured} s from this machine's: check time \
                         synchronisation (NTP) on both",
                        what(request)
                    )));
                }
                error
                    if retryable(&error, request.method())
                        && request.is_idempotent()
                        && retries < self.policy.max_retries =>
                {
                    let delay = self.policy.backoff(retries, retry_after(&response, local_now));
                    if waited + delay > self.policy.max_total_wait {
                        return Err(gave_up(
                            error,
                            attempts,
                            &format!(
                                "the next wait ({} s) would pass the {} s retry budget",
                                delay.as_secs_f64().ceil(),
                                self.policy.max_total_wait.as_secs()
                            ),
                        ));
                    }
                    (self.sleep)(delay);
                    waited += delay;
                    retries += 1;
                }
                error if retryable(&error, request.method()) && !request.is_idempotent() => {
                    return Err(gave_up(
                        error,
                        attempts,
                        "not retried: this request is not idempotent and a retry could apply it twice",
                    ));
                }
                error if retryable(&error, request.method()) => {
                    return Err(gave_up(error, attempts, "no retries left"));
                }
                error => return Err(error),
            }
        }
    }
}

/// The largest correction taken from an answer's `Date` header, matching the range of a
/// connection's `clock_offset_seconds` (one day).
pub const MAX_CLOCK_CORRECTION_SECONDS: i64 = 86_400;

/// `METHOD /path`, for messages.
fn what(request: &ApiRequest) -> String {
    format!("{} {}", request.method().as_str(), request.path())
}

/// The answers worth another attempt: the appliance (or a proxy in front of it) was busy or
/// briefly failing. Other statuses would fail the same way again. A 502 to a write is not
/// retried: the appliance behind the gateway may have applied it (a real 7.1.0 appliance's
/// gateway answered 502 to every DELETE that applied, `api-inventory.md`), so the write's
/// outcome is read back instead (`actions::send_write`).
fn retryable(error: &Error, method: Method) -> bool {
    match error {
        Error::RateLimited { .. } => true,
        Error::Upstream { status: 502, .. } => method == Method::Get,
        Error::Upstream { status, .. } => matches!(status, 500 | 503),
        _ => false,
    }
}

/// The final error after retrying stopped, saying how many attempts were made and why no more.
fn gave_up(error: Error, attempts: u32, why: &str) -> Error {
    let tried = if attempts == 1 { "1 attempt".to_owned() } else { format!("{attempts} attempts") };
    match error {
        Error::RateLimited { retry_after_seconds, message } => {
            Error::RateLimited { retry_after_seconds, message: format!("{message} (gave up after {tried}: {why})") }
        }
        Error::Upstream { status, message } => {
            Error::Upstream { status, message: format!("{message} (gave up after {tried}: {why})") }
        }
        other => other,
    }
}

/// `Retry-After` as a wait: delay-seconds, or an HTTP-date read against the answer's own `Date`
/// (falling back to `now`) so a skewed appliance clock does not distort it. `None` when absent
/// or unreadable.
pub fn retry_after(response: &WireResponse, now: OffsetDateTime) -> Option<Duration> {
    let value = response.header("retry-after")?.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = parse_http_date(value)?;
    let reference = response.header("date").and_then(parse_http_date).unwrap_or(now);
    let wait = at - reference;
    Some(Duration::from_secs(u64::try_from(wait.whole_seconds()).unwrap_or(0)))
}

/// The appliance's clock minus this machine's, from the answer's `Date` header, or `None` when
/// the header is missing or not an HTTP-date.
pub fn server_clock_offset(response: &WireResponse, local_now: OffsetDateTime) -> Option<time::Duration> {
    let server = parse_http_date(response.header("date")?)?;
    Some(server - local_now)
}

/// Parses an IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`), the only HTTP-date form servers
/// may send (RFC 9110, 5.6.7).
pub fn parse_http_date(value: &str) -> Option<OffsetDateTime> {
    // `[year]` also reads a signed year such as `-0001`, which IMF-fixdate (4DIGIT) never has and
    // which would make the client sign a `DTAPI-Date` of `-00010101T...`.
    if value.contains(['-', '+']) {
        return None;
    }
    let format = time::macros::format_description!(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
    );
    time::PrimitiveDateTime::parse(value.trim(), format).ok().map(time::PrimitiveDateTime::assume_utc)
}

/// The permission an endpoint most likely needs, for permission-denied messages (reference,
/// sections 2 and 1.7); the appliance never says which one is missing.
pub fn likely_permission(method: Method, path: &str) -> &'static str {
    let under = |prefix: &str| path == prefix || path.starts_with(&format!("{prefix}/"));
    if under("/modelbreaches") || under("/mbcomments") || (under("/details") && method == Method::Get) {
        if method == Method::Post && (path.ends_with("/acknowledge") || path.ends_with("/unacknowledge")) {
            "Acknowledge Model Alerts"
        } else {
            "Visualizer / View Model Breaches (with Unrestricted Devices)"
        }
    } else if under("/aianalyst") {
        if method == Method::Post && !path.ends_with("/comments") && !path.ends_with("/investigations") {
            "AI Analyst with Acknowledge Model Alerts"
        } else {
            "AI Analyst"
        }
    } else if under("/antigena") {
        "Darktrace RESPOND (Antigena), with Unrestricted Devices and Visualizer"
    } else if under("/intelfeed") {
        "Edit Domains"
    } else if under("/devices") && method == Method::Post {
        "Device Admin (with Unrestricted Devices)"
    } else if under("/tags") && method != Method::Get {
        "Device Admin (tagging)"
    } else if under("/status") || under("/summarystatistics") {
        "Status"
    } else if under("/advancedsearch") {
        "Advanced Search"
    } else if under("/models") || under("/components") {
        "View Models"
    } else {
        "Visualizer with Unrestricted Devices"
    }
}

/// Maps an HTTP answer to JSON or to the error case it means, following what appliances are
/// known to answer (see the reference, section 1.7).
pub fn interpret(request: &ApiRequest, response: &WireResponse) -> Result<Value> {
    check(request, response)?;
    parse_json(request, &response.body)
}

/// The JSON of a successful answer's body; an empty body is `null`.
pub fn parse_json(request: &ApiRequest, body: &[u8]) -> Result<Value> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Null);
    }
    serde_json::from_slice(body).map_err(|e| invalid_json(request, &e, body))
}

/// The error for a successful answer whose body is not the JSON expected.
pub fn invalid_json(request: &ApiRequest, e: &serde_json::Error, body: &[u8]) -> Error {
    Error::UnexpectedResponse(format!(
        "{} {} answered with invalid JSON ({e}): {}",
        request.method().as_str(),
        request.path(),
        excerpt(&String::from_utf8_lossy(body))
    ))
}

/// Maps an answer that is not a success to its typed error; `Ok` for a 2xx answer that is
/// neither a login page nor an API error message.
pub fn check(request: &ApiRequest, response: &WireResponse) -> Result<()> {
    let what = format!("{} {}", request.method().as_str(), request.path());
    let status = response.status;
    let text = String::from_utf8_lossy(&response.body);
    let excerpt = excerpt(&text);
    let permission = likely_permission(request.method(), request.path());

    // A busy appliance or the proxy in front of it often answers 429 and 5xx with an HTML page;
    // the status is what matters, and these are retried, so they are decided before the HTML check.
    if matches!(status, 429 | 500 | 502 | 503 | 504) {
        return Err(status_error(&what, status, response, &text, excerpt));
    }

    if (300..400).contains(&status) {
        let target = response.header("location").map(str::to_owned).unwrap_or_else(|| text.to_string());
        return Err(if target.contains("/403") {
            Error::PermissionDenied(format!(
                "{what} was redirected to /403: the token's user lacks the permission this endpoint needs, \
                 most likely \"{permission}\"; grant it on the appliance (System Config > Permissions) or use \
                 another token pair"
            ))
        } else {
            Error::PermissionDenied(format!(
                "{what} was redirected to {}: the endpoint is unknown to this appliance version or the token's \
                 user lacks API access or the permission it needs, most likely \"{permission}\"; check both on \
                 the appliance (System Config > Permissions)",
                if target.contains("/login") { "/login" } else { "another page" }
            ))
        });
    }

    let is_html = response.header("content-type").is_some_and(|c| c.to_ascii_lowercase().contains("text/html"))
        || text.trim_start().starts_with('<');
    if is_html {
        return Err(if text.contains("Log In | Darktrace") || text.to_ascii_lowercase().contains("login") {
            Error::PermissionDenied(format!(
                "{what} answered with the login page instead of JSON: the token's user lacks the permission \
                 for this endpoint, most likely \"{permission}\", or API access is disabled for it; grant it on \
                 the appliance (System Config > Permissions)"
            ))
        } else {
            Error::UnexpectedResponse(format!(
                "{what} answered with HTML (status {status}) instead of JSON: check the API address points \
                 at the Threat Visualizer itself, not a proxy or portal"
            ))
        });
    }

    if text.contains("API SIGNATURE ERROR") || (status == 401 && !text.contains("API DATE ERROR")) {
        return Err(Error::SignatureRejected(format!(
            "the appliance rejected the request signature (status {status}): check the private token belongs \
             to this public token and both come from this instance"
        )));
    }
    if text.contains("API DATE ERROR") {
        return Err(Error::ClockSkew(format!(
            "the appliance rejected the request date (status {status}): this machine's clock and the \
             appliance's differ by more than 30 minutes; check time synchronisation (NTP) on both"
        )));
    }

    match status {
        200..=299 => Ok(()),
        403 => Err(Error::PermissionDenied(format!(
            "{what} was refused (403): the token's user lacks the permission this endpoint needs, most likely \
             \"{permission}\"; {excerpt}"
        ))),
        404 => Err(Error::NotFound(format!("{what}: the appliance has no such item (404): {excerpt}"))),
        400 => Err(Error::Upstream {
            status,
            message: format!(
                "{what} was refused as bad input (400): {}; check the action's parameters",
                appliance_message(&text).unwrap_or(excerpt)
            ),
        }),
        500..=599 => Err(status_error(&what, status, response, &text, excerpt)),
        _ => Err(Error::Upstream { status, message: format!("{what} answered with status {status}: {excerpt}") }),
    }
}

/// The error for 429 and 5xx answers.
fn status_error(what: &str, status: u16, response: &WireResponse, text: &str, excerpt: String) -> Error {
    if status == 429 {
        let retry_after_seconds =
            retry_after(response, OffsetDateTime::now_utc()).map(|d| u32::try_from(d.as_secs()).unwrap_or(u32::MAX));
        return Error::RateLimited {
            retry_after_seconds,
            message: format!(
                "{what} was rate limited (429); wait {} and try again, and keep request rates modest",
                retry_after_seconds.map_or("a little".to_owned(), |s| format!("{s} s"))
            ),
        };
    }
    let said = if text.trim_start().starts_with('<') { format!("an HTML error page ({excerpt})") } else { excerpt };
    Error::Upstream {
        status,
        message: format!(
            "{what} failed on the appliance or a proxy in front of it ({status}); try again later: {said}"
        ),
    }
}

/// The `error` text of a Darktrace error body such as `{"error": "...", "response": "INPUT ERROR"}`.
fn appliance_message(text: &str) -> Option<String> {
    let v: Value = serde_json::from_str(text).ok()?;
    let error = v.get("error")?.as_str()?;
    Some(match v.get("response").and_then(Value::as_str) {
        Some(r) => format!("{r}: {error}"),
        None => error.to_owned(),
    })
}

/// A short, single-line excerpt of a body for error messages.
fn excerpt(text: &str) -> String {
    // Every answer gets one, so only the 200 characters shown are copied: copying the whole
    // body character by character cost a fifth of a small call's time and grew with the body.
    let text = text.trim_matches(|c: char| c.is_control() || c.is_whitespace());
    if text.is_empty() {
        return "(empty body)".to_owned();
    }
    let mut flat: String = text.chars().take(200).map(|c| if c.is_control() { ' ' } else { c }).collect();
    if text.chars().nth(200).is_some() {
        flat.push_str("...");
    }
    flat
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connection::Settings;

    #[test]
    fn an_excerpt_is_the_first_200_characters_on_one_line_without_surrounding_blanks() {
        assert_eq!(excerpt(" \r\n\t "), "(empty body)");
        assert_eq!(excerpt("\n  a\tb\u{7}c \n"), "a b c");
        let long = format!("\n{}é{}", "x".repeat(199), "y".repeat(5000));
        assert_eq!(excerpt(&long), format!("{}é...", "x".repeat(199)));
        assert_eq!(excerpt(&"z".repeat(200)), "z".repeat(200));
    }

    fn answer(status: u16, headers: &[(&str, &str)], body: &str) -> Result<Value> {
        let resp = WireResponse {
            status,
            headers: headers.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            body: body.as_bytes().to_vec(),
        };
        interpret(&ApiRequest::get("/modelbreaches"), &resp)
    }

    fn case(r: Result<Value>) -> &'static str {
        r.unwrap_err().case()
    }

    #[test]
    fn darktrace_error_answers_map_to_their_cases() {
        assert_eq!(case(answer(400, &[], r#"{"error":"API SIGNATURE ERROR"}"#)), "signature-rejected");
        assert_eq!(case(answer(400, &[], r#"{"error":"API DATE ERROR"}"#)), "clock-skew");
        assert_eq!(case(answer(401, &[], "")), "signature-rejected");
        assert_eq!(case(answer(302, &[("Location", "/login")], "Found. Redirecting to /login")), "permission-denied");
        assert_eq!(case(answer(302, &[], "Found. Redirecting to /403")), "permission-denied");
        assert_eq!(
            case(answer(200, &[("Content-Type", "text/html")], "<html><title>Log In | Darktrace</title></html>")),
            "permission-denied"
        );
        assert_eq!(case(answer(404, &[], r#"{"error":"not found"}"#)), "not-found");
        assert_eq!(case(answer(503, &[], "busy")), "upstream");
        assert_eq!(case(answer(200, &[], "{not json")), "unexpected-response");
    }

    #[test]
    fn input_error_carries_the_appliance_message() {
        let err = answer(400, &[], r#"{"error":"Invalid parameter minscore","response":"INPUT ERROR"}"#).unwrap_err();
        assert_eq!(err.case(), "upstream");
        assert!(err.message().contains("INPUT ERROR: Invalid parameter minscore"), "{err}");
    }

    #[test]
    fn rate_limit_reads_retry_after() {
        match answer(429, &[("Retry-After", "7")], "") {
            Err(Error::RateLimited { retry_after_seconds, .. }) => assert_eq!(retry_after_seconds, Some(7)),
            other => panic!("expected rate-limited, got {other:?}"),
        }
    }

    #[test]
    fn success_parses_json() {
        assert_eq!(answer(200, &[], r#"[1,2]"#).unwrap(), serde_json::json!([1, 2]));
    }

    /// Answers each request with the next scripted response and records what was sent.
    struct Script {
        answers: std::cell::RefCell<Vec<WireResponse>>,
        sent: std::cell::RefCell<Vec<WireRequest>>,
    }

    impl Script {
        fn new(answers: Vec<WireResponse>) -> Self {
            Script { answers: std::cell::RefCell::new(answers.into_iter().rev().collect()), sent: Default::default() }
        }
    }

    impl Transport for Script {
        fn send(&self, request: &WireRequest, _: u64) -> Result<WireResponse> {
            self.sent.borrow_mut().push(request.clone());
            self.answers.borrow_mut().pop().ok_or_else(|| Error::Other("the script ran out of answers".into()))
        }
    }

    fn wire(status: u16, headers: &[(&str, &str)], body: &str) -> WireResponse {
        WireResponse {
            status,
            headers: headers.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            body: body.as_bytes().to_vec(),
        }
    }

    thread_local! {
        static SLEPT: std::cell::RefCell<Vec<Duration>> = const { std::cell::RefCell::new(Vec::new()) };
    }

    fn record_sleep(d: Duration) {
        SLEPT.with(|s| s.borrow_mut().push(d));
    }

    fn slept() -> Vec<Duration> {
        SLEPT.with(|s| std::mem::take(&mut *s.borrow_mut()))
    }

    fn fixed_now() -> OffsetDateTime {
        time::macros::datetime!(2024-01-15 10:30:00 UTC)
    }

    /// Sends `request` through a scripted transport with a recording sleep; returns the outcome,
    /// the requests sent and the waits.
    fn drive(request: ApiRequest, answers: Vec<WireResponse>) -> (Result<Value>, Vec<WireRequest>, Vec<Duration>) {
        slept();
        let script = Script::new(answers);
        let conn = Connection::new("dt.example.com", "pub", "priv").unwrap();
        let client = Client::new(conn, &script).with_clock(fixed_now).with_sleep(record_sleep);
        let out = client.send(&request);
        let sent = script.sent.borrow().clone();
        (out, sent, slept())
    }

    #[test]
    fn backoff_doubles_from_the_base_and_stops_at_the_cap() {
        let p = RetryPolicy::default();
        let waits: Vec<u64> = (0..6).map(|n| p.backoff(n, None).as_secs()).collect();
        assert_eq!(waits, [1, 2, 4, 8, 8, 8]);
        assert_eq!(p.backoff(40, None), p.max_delay, "a huge retry number must not overflow");
    }

    #[test]
    fn backoff_honours_a_longer_retry_after_but_never_waits_less_than_computed() {
        let p = RetryPolicy::default();
        assert_eq!(p.backoff(0, Some(Duration::from_secs(5))), Duration::from_secs(5));
        assert_eq!(p.backoff(2, Some(Duration::from_secs(1))), Duration::from_secs(4));
    }

    #[test]
    fn retry_after_reads_seconds_and_http_dates_against_the_answers_own_date() {
        let now = fixed_now();
        assert_eq!(retry_after(&wire(429, &[("Retry-After", " 7 ")], ""), now), Some(Duration::from_secs(7)));
        let dated = wire(
            429,
            &[("Date", "Mon, 15 Jan 2024 12:00:00 GMT"), ("Retry-After", "Mon, 15 Jan 2024 12:00:30 GMT")],
            "",
        );
        assert_eq!(retry_after(&dated, now), Some(Duration::from_secs(30)));
        let past = wire(429, &[("Retry-After", "Mon, 15 Jan 2024 10:00:00 GMT")], "");
        assert_eq!(retry_after(&past, now), Some(Duration::ZERO));
        assert_eq!(retry_after(&wire(429, &[("Retry-After", "soon")], ""), now), None);
        assert_eq!(retry_after(&wire(429, &[], ""), now), None);
    }

    #[test]
    fn server_clock_offset_comes_from_the_date_header() {
        let r = wire(400, &[("Date", "Mon, 15 Jan 2024 12:30:00 GMT")], "");
        assert_eq!(server_clock_offset(&r, fixed_now()), Some(time::Duration::hours(2)));
        assert_eq!(server_clock_offset(&wire(400, &[("Date", "yesterday")], ""), fixed_now()), None);
        assert_eq!(server_clock_offset(&wire(400, &[], ""), fixed_now()), None);
    }

    #[test]
    fn a_get_is_retried_after_503_and_succeeds() {
        let (out, sent, waits) = drive(ApiRequest::get("/status"), vec![wire(503, &[], "busy"), wire(200, &[], "{}")]);
        assert_eq!(out.unwrap(), serde_json::json!({}));
        assert_eq!((sent.len(), waits), (2, vec![Duration::from_secs(1)]));
    }

    #[test]
    fn a_get_gives_up_after_the_last_retry_saying_how_many_attempts() {
        let (out, sent, waits) = drive(ApiRequest::get("/status"), vec![wire(502, &[], "bad gateway"); 5]);
        let err = out.unwrap_err();
        assert_eq!((err.case(), sent.len()), ("upstream", 4));
        assert!(err.message().contains("gave up after 4 attempts"), "{err}");
        assert_eq!(waits, [1, 2, 4].map(Duration::from_secs));
    }

    #[test]
    fn a_rate_limit_waits_as_asked_and_ends_rate_limited_with_the_retry_after() {
        let answers = vec![wire(429, &[("Retry-After", "3")], ""); 4];
        let (out, sent, waits) = drive(ApiRequest::get("/modelbreaches"), answers);
        match out {
            Err(Error::RateLimited { retry_after_seconds: Some(3), message }) => {
                assert!(message.contains("4 attempts"), "{message}")
            }
            other => panic!("expected rate-limited, got {other:?}"),
        }
        assert_eq!((sent.len(), waits), (4, [3, 3, 4].map(Duration::from_secs).to_vec()));
    }

    #[test]
    fn a_retry_after_past_the_budget_is_not_waited_for() {
        let (out, sent, waits) = drive(ApiRequest::get("/status"), vec![wire(429, &[("Retry-After", "600")], "")]);
        let err = out.unwrap_err();
        assert_eq!((err.case(), sent.len(), waits.len()), ("rate-limited", 1, 0));
        assert!(err.message().contains("retry budget"), "{err}");
    }

    #[test]
    fn a_write_answered_502_by_a_gateway_is_not_sent_again() {
        for request in [
            ApiRequest::new(Method::Delete, "/tags/entities").param("did", 1).param("tag", "x"),
            ApiRequest::post_json("/modelbreaches/1/acknowledge", &serde_json::json!({"acknowledge": true}))
                .idempotent(true),
        ] {
            let (out, sent, waits) = drive(request, vec![wire(502, &[], "bad gateway"), wire(200, &[], "{}")]);
            assert_eq!((out.unwrap_err().case(), sent.len(), waits.len()), ("upstream", 1, 0));
        }
    }

    #[test]
    fn a_comment_post_is_never_retried() {
        let request = ApiRequest::post_json("/modelbreaches/1/comments", &serde_json::json!({"message": "x"}));
        let (out, sent, waits) = drive(request, vec![wire(503, &[], ""), wire(200, &[], "{}")]);
        let err = out.unwrap_err();
        assert_eq!((err.case(), sent.len(), waits.len()), ("upstream", 1, 0));
        assert!(err.message().contains("1 attempt") && err.message().contains("not idempotent"), "{err}");
    }

    #[test]
    fn other_errors_are_not_retried() {
        let (out, sent, _) = drive(ApiRequest::get("/modelbreaches/9"), vec![wire(404, &[], r#"{"error":"no"}"#)]);
        assert_eq!((out.unwrap_err().case(), sent.len()), ("not-found", 1));
    }

    #[test]
    fn a_date_error_is_signed_again_with_the_appliances_time_once() {
        let date_error = wire(400, &[("Date", "Mon, 15 Jan 2024 12:30:00 GMT")], r#"{"error":"API DATE ERROR"}"#);
        let request = ApiRequest::post_json("/modelbreaches/1/comments", &serde_json::json!({"message": "x"}));
        let (out, sent, _) = drive(request.clone(), vec![date_error.clone(), wire(200, &[], "{}")]);
        assert!(out.is_ok(), "{out:?}");
        let date = |w: &WireRequest| w.headers.iter().find(|(k, _)| k == "DTAPI-Date").map(|(_, v)| v.clone());
        assert_eq!(
            sent.iter().map(date).collect::<Vec<_>>(),
            [Some("20240115T103000".into()), Some("20240115T123000".into())]
        );

        let (out, sent, _) = drive(request, vec![date_error.clone(), date_error]);
        let err = out.unwrap_err();
        assert_eq!((err.case(), sent.len()), ("clock-skew", 2));
        assert!(err.message().contains("7200 s"), "{err}");
    }

    /// [`drive`] on a connection with `settings`.
    fn drive_with(
        settings: Settings,
        request: ApiRequest,
        answers: Vec<WireResponse>,
    ) -> (Result<Value>, Vec<WireRequest>, Vec<Duration>) {
        slept();
        let script = Script::new(answers);
        let conn = Connection::new("dt.example.com", "pub", "priv").unwrap().with_settings(settings).unwrap();
        let out = Client::new(conn, &script).with_clock(fixed_now).with_sleep(record_sleep).send(&request);
        let sent = script.sent.borrow().clone();
        (out, sent, slept())
    }

    #[test]
    fn a_fixed_clock_offset_signs_with_the_appliances_time_from_the_first_attempt() {
        let settings = Settings { clock_offset_seconds: Some(7200), ..Settings::default() };
        let (out, sent, _) = drive_with(settings, ApiRequest::get("/status"), vec![wire(200, &[], "{}")]);
        assert!(out.is_ok());
        assert!(sent[0].headers.contains(&("DTAPI-Date".into(), "20240115T123000".into())), "{:?}", sent[0].headers);
    }

    #[test]
    fn a_wrong_fixed_offset_is_still_corrected_once_from_the_date_header() {
        let settings = Settings { clock_offset_seconds: Some(3600), ..Settings::default() };
        let date_error = wire(400, &[("Date", "Mon, 15 Jan 2024 12:30:00 GMT")], r#"{"error":"API DATE ERROR"}"#);
        let (out, sent, _) = drive_with(settings, ApiRequest::get("/status"), vec![date_error, wire(200, &[], "{}")]);
        assert!(out.is_ok(), "{out:?}");
        assert!(sent[1].headers.contains(&("DTAPI-Date".into(), "20240115T123000".into())), "{:?}", sent[1].headers);
    }

    #[test]
    fn max_attempts_and_retry_wait_come_from_the_connection() {
        let once = Settings { max_attempts: Some(1), ..Settings::default() };
        let (out, sent, waits) = drive_with(once, ApiRequest::get("/status"), vec![wire(503, &[], ""); 3]);
        assert_eq!((sent.len(), waits.len()), (1, 0));
        assert!(out.unwrap_err().message().contains("gave up after 1 attempt"));

        let short = Settings { max_retry_wait_seconds: Some(3), ..Settings::default() };
        let (out, sent, waits) = drive_with(short, ApiRequest::get("/status"), vec![wire(503, &[], ""); 5]);
        assert_eq!((sent.len(), waits), (3, [1, 2].map(Duration::from_secs).to_vec()));
        assert!(out.unwrap_err().message().contains("3 s retry budget"));
    }

    #[test]
    fn settings_out_of_range_are_invalid_connection_naming_the_field() {
        let conn = || Connection::new("dt.example.com", "pub", "priv").unwrap();
        for (settings, field) in [
            (Settings { max_attempts: Some(0), ..Settings::default() }, "max_attempts"),
            (Settings { max_attempts: Some(11), ..Settings::default() }, "max_attempts"),
            (Settings { max_retry_wait_seconds: Some(301), ..Settings::default() }, "max_retry_wait_seconds"),
            (Settings { clock_offset_seconds: Some(-90_000), ..Settings::default() }, "clock_offset_seconds"),
        ] {
            let err = conn().with_settings(settings).unwrap_err();
            assert_eq!(err.case(), "invalid-connection");
            assert!(err.message().starts_with(field), "{err}");
        }
    }

    #[test]
    fn a_date_more_than_a_day_away_is_clock_skew_and_nothing_is_sent_again() {
        let far = wire(400, &[("Date", "Thu, 15 Jan 2099 10:30:00 GMT")], r#"{"error":"API DATE ERROR"}"#);
        let request = ApiRequest::post_json("/modelbreaches/1/comments", &serde_json::json!({"message": "x"}));
        let (out, sent, _) = drive(request, vec![far, wire(200, &[], "{}")]);
        let err = out.unwrap_err();
        assert_eq!((err.case(), sent.len()), ("clock-skew", 1), "{err}");
        assert!(err.message().contains("beyond the 86400 s"), "{err}");
        // Inside the cap, the correction still happens (a day less a second).
        let near = wire(400, &[("Date", "Tue, 16 Jan 2024 10:29:59 GMT")], r#"{"error":"API DATE ERROR"}"#);
        let (out, sent, _) = drive(ApiRequest::get("/status"), vec![near, wire(200, &[], "{}")]);
        assert!(out.is_ok() && sent.len() == 2, "{out:?}");
    }

    #[test]
    fn a_date_error_without_a_usable_date_header_advises_time_sync() {
        let (out, sent, _) =
            drive(ApiRequest::get("/status"), vec![wire(400, &[("Date", "nope")], r#"{"error":"API DATE ERROR"}"#)]);
        let err = out.unwrap_err();
        assert_eq!((err.case(), sent.len()), ("clock-skew", 1));
        assert!(err.message().contains("no usable Date header") && err.message().contains("NTP"), "{err}");
    }

    #[test]
    fn an_http_date_with_a_signed_year_is_not_a_date() {
        assert!(parse_http_date("Mon, 15 Jan 2024 12:30:00 GMT").is_some());
        assert_eq!(parse_http_date("Mon, 01 Jan -0001 00:00:00 GMT"), None);
        assert_eq!(parse_http_date("Mon, 01 Jan +2024 00:00:00 GMT"), None);
    }

    #[test]
    fn an_html_502_from_a_proxy_is_upstream_not_a_login_page() {
        let e =
            answer(502, &[("Content-Type", "text/html")], "<html><title>502 Bad Gateway</title></html>").unwrap_err();
        assert_eq!(e.case(), "upstream");
    }

    #[test]
    fn permission_denied_names_the_likely_permission() {
        let login = wire(200, &[("Content-Type", "text/html")], "<html><title>Log In | Darktrace</title></html>");
        for (request, permission) in [
            (ApiRequest::get("/modelbreaches"), "View Model Breaches"),
            (ApiRequest::get("/antigena"), "RESPOND"),
            (ApiRequest::get("/aianalyst/incidentevents"), "AI Analyst"),
            (ApiRequest::post_json("/intelfeed", &serde_json::json!({})), "Edit Domains"),
            (ApiRequest::post_json("/devices", &serde_json::json!({})), "Device Admin"),
            (ApiRequest::get("/status"), "Status"),
        ] {
            let err = interpret(&request, &login).unwrap_err();
            assert_eq!(err.case(), "permission-denied");
            assert!(err.message().contains(permission), "{}: {err}", request.path());
        }
        let redirect = wire(302, &[("Location", "/403")], "Found. Redirecting to /403");
        let err = interpret(&ApiRequest::get("/modelbreaches"), &redirect).unwrap_err();
        assert!(err.message().contains("View Model Breaches"), "{err}");
    }
}
