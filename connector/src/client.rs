//! Sends signed requests through a [`Transport`] and turns every answer into JSON or a typed error.

use serde_json::Value;
use time::OffsetDateTime;

use crate::connection::Connection;
use crate::error::{Error, Result};
use crate::request::{ApiRequest, WireRequest};

/// Default cap on a response body; larger answers fail instead of exhausting memory.
pub const DEFAULT_MAX_RESPONSE_BYTES: u64 = 256 * 1024 * 1024;

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
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// Delivers a signed request and returns the answer. The component uses wasi:http; tests and
/// native tools plug in their own.
pub trait Transport {
    /// Sends `request`, reading at most `max_body_bytes` of the answer. Failures to deliver or
    /// read map to [`Error::Transport`] or [`Error::Timeout`].
    fn send(&self, request: &WireRequest, max_body_bytes: u64) -> Result<WireResponse>;
}

/// A connection plus a transport: everything an action needs to talk to the appliance.
pub struct Client<'a> {
    conn: Connection,
    transport: &'a dyn Transport,
    clock: fn() -> OffsetDateTime,
    max_response_bytes: u64,
}

impl<'a> Client<'a> {
    /// A client that signs with the current UTC time.
    pub fn new(conn: Connection, transport: &'a dyn Transport) -> Self {
        Client { conn, transport, clock: OffsetDateTime::now_utc, max_response_bytes: DEFAULT_MAX_RESPONSE_BYTES }
    }

    /// Replaces the clock used for `DTAPI-Date` (tests pin it).
    pub fn with_clock(mut self, clock: fn() -> OffsetDateTime) -> Self {
        self.clock = clock;
        self
    }

    /// The connection in use.
    pub fn connection(&self) -> &Connection {
        &self.conn
    }

    /// Signs and sends `request` and returns the JSON answer, or the typed error it amounts to.
    pub fn send(&self, request: &ApiRequest) -> Result<Value> {
        let wire = request.sign(&self.conn, (self.clock)());
        let response = self.transport.send(&wire, self.max_response_bytes)?;
        interpret(request, &response)
    }
}

/// Maps an HTTP answer to JSON or to the error case it means, following what appliances are
/// known to answer (see the reference, section 1.7).
pub fn interpret(request: &ApiRequest, response: &WireResponse) -> Result<Value> {
    let what = format!("{} {}", request.method().as_str(), request.path());
    let status = response.status;
    let text = String::from_utf8_lossy(&response.body);
    let excerpt = excerpt(&text);

    if (300..400).contains(&status) {
        let target = response.header("location").map(str::to_owned).unwrap_or_else(|| text.to_string());
        return Err(if target.contains("/403") {
            Error::PermissionDenied(format!(
                "{what} was redirected to /403: the token's user lacks the permission this endpoint needs; \
                 grant it on the appliance (System Config > Permissions) or use another token pair"
            ))
        } else {
            Error::PermissionDenied(format!(
                "{what} was redirected to {}: the endpoint is unknown to this appliance version or the token \
                 pair has no API access; check the token's user has API access and the needed permissions",
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
                 for this endpoint, or API access is disabled for it"
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
        200..=299 => {
            if response.body.iter().all(u8::is_ascii_whitespace) {
                return Ok(Value::Null);
            }
            serde_json::from_slice(&response.body).map_err(|e| {
                Error::UnexpectedResponse(format!("{what} answered with invalid JSON ({e}): {excerpt}"))
            })
        }
        403 => Err(Error::PermissionDenied(format!(
            "{what} was refused (403): the token's user lacks the permission this endpoint needs; {excerpt}"
        ))),
        404 => Err(Error::NotFound(format!("{what}: the appliance has no such item (404): {excerpt}"))),
        429 => {
            let retry_after_seconds = response.header("retry-after").and_then(|v| v.trim().parse::<u32>().ok());
            Err(Error::RateLimited {
                retry_after_seconds,
                message: format!(
                    "{what} was rate limited (429); wait {} and try again",
                    retry_after_seconds.map_or("a little".to_owned(), |s| format!("{s} s"))
                ),
            })
        }
        400 => Err(Error::Upstream {
            status,
            message: format!(
                "{what} was refused as bad input (400): {}; check the action's parameters",
                appliance_message(&text).unwrap_or(excerpt)
            ),
        }),
        500..=599 => Err(Error::Upstream {
            status,
            message: format!("{what} failed on the appliance ({status}); try again later: {excerpt}"),
        }),
        _ => Err(Error::Upstream { status, message: format!("{what} answered with status {status}: {excerpt}") }),
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
    let flat: String = text.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    let flat = flat.trim();
    if flat.is_empty() {
        return "(empty body)".to_owned();
    }
    match flat.char_indices().nth(200) {
        Some((i, _)) => format!("{}...", &flat[..i]),
        None => flat.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
