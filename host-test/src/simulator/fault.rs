//! Upstream faults the simulator can play, so tests can prove every one ends in the right typed
//! outcome: permission pages, busy or failing answers, clock trouble, oversized, slow or silent
//! answers, and broken JSON.
//!
//! A fault applies to authenticated API requests only (a request that fails its signature or
//! date check still gets the appliance's own error), except [`Fault::UnusableDateHeader`], which
//! spoils the `Date` header of every answer.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::macros::format_description;

/// The login page an appliance serves when a token's user lacks a permission (reference 1.7).
pub const LOGIN_PAGE: &str = "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Log In | Darktrace</title></head>\
<body><form action=\"/login\" method=\"post\"><input name=\"username\"><input name=\"password\" type=\"password\">\
<button>Log In</button></form></body></html>\n";

/// What the simulator does wrong, set with `SimulatorConfig::fault` or `Simulator::set_fault`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// 200 with the HTML login page instead of JSON.
    LoginPage,
    /// 302 to `/login`, as for an endpoint the token's user may not use.
    RedirectToLogin,
    /// 302 to `/403`, as for a missing permission.
    RedirectToForbidden,
    /// Answer `status` (429, 500, 502 or 503; 502 and 503 with a proxy's HTML page, 429 with
    /// `Retry-After` when given) to the next `times` requests, then answer normally; `None`
    /// means always.
    Status {
        /// The HTTP status.
        status: u16,
        /// The `Retry-After` header, in seconds.
        retry_after_secs: Option<u32>,
        /// How many requests get it; `None` for all.
        times: Option<u32>,
    },
    /// Every answer's `Date` header is unreadable, so a client cannot measure the clock offset
    /// (combine with `SimulatorConfig::clock_offset_secs` for an `API DATE ERROR`).
    UnusableDateHeader,
    /// 200 with a JSON array of more than `bytes` bytes.
    Oversized {
        /// The least body size.
        bytes: usize,
    },
    /// The real answer, one byte every `interval` after the head.
    Dribble {
        /// The pause before each byte.
        interval: Duration,
    },
    /// Accept the request and never answer (recorded with status 0).
    Silent,
    /// The real answer cut off half way.
    TruncatedJson,
    /// A list answer wrapped in an object, `{"data": [...]}`.
    ObjectForList,
    /// The real answer with every number under this key turned into a string.
    StringForNumber {
        /// The JSON key, e.g. `pbid`.
        field: String,
    },
    /// A gateway in front of the appliance answers `status` (502 or 504, with its HTML page) to
    /// every request with `method` (e.g. `DELETE`, `POST`); other methods answer normally, so a
    /// client can read the change back. With `applied` the appliance behind it has made the
    /// change first; without, nothing changed. A real 7.1.0 appliance's gateway answered 502 to
    /// every DELETE although each one applied (`api-inventory.md`, "What a real 7.1.0 appliance
    /// did").
    GatewayErrorOnWrite {
        /// The method answered so, upper case.
        method: String,
        /// 502 or 504.
        status: u16,
        /// Whether the change is made before the gateway's answer.
        applied: bool,
    },
}

/// A fault's answer, ready to send.
#[derive(Debug)]
pub(crate) enum FaultReply {
    /// HTML with a status.
    Html(StatusCode, String),
    /// A busy or failing status.
    Status { status: StatusCode, retry_after_secs: Option<u32> },
    /// 200 with these bytes as `application/json`.
    Raw(Vec<u8>),
    /// 200 with these bytes, one at a time.
    Dribble(Vec<u8>, Duration),
    /// No answer at all.
    Silent,
}

impl FaultReply {
    /// The status recorded in the request log; 0 when nothing is answered.
    pub(crate) fn status(&self) -> u16 {
        match self {
            FaultReply::Html(status, _) => status.as_u16(),
            FaultReply::Status { status, .. } => status.as_u16(),
            FaultReply::Raw(_) | FaultReply::Dribble(..) => 200,
            FaultReply::Silent => 0,
        }
    }
}

/// Consumes one use of `fault` for an authenticated request: returns the fault to play now and
/// what remains for later requests.
pub(crate) fn take(fault: &Option<Fault>) -> (Option<Fault>, Option<Fault>) {
    match fault {
        Some(Fault::Status { status, retry_after_secs, times: Some(n) }) => {
            let now = if *n > 0 { fault.clone() } else { None };
            let left = n.saturating_sub(1);
            let later = (left > 0).then_some(Fault::Status {
                status: *status,
                retry_after_secs: *retry_after_secs,
                times: Some(left),
            });
            (now, later)
        }
        other => (other.clone(), other.clone()),
    }
}

/// The gateway's answer to a write, for [`Fault::GatewayErrorOnWrite`].
fn gateway(status: u16) -> super::api::Reply {
    super::api::Reply::Fault(FaultReply::Status {
        status: StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY),
        retry_after_secs: None,
    })
}

/// The answer a fault gives instead of routing a `method` request, if it replaces the answer.
pub(crate) fn before_route(fault: &Fault, method: &str) -> Option<super::api::Reply> {
    use super::api::Reply;
    Some(match fault {
        Fault::GatewayErrorOnWrite { method: m, status, applied: false } if m.eq_ignore_ascii_case(method) => {
            gateway(*status)
        }
        Fault::GatewayErrorOnWrite { .. } => return None,
        Fault::LoginPage => Reply::Fault(FaultReply::Html(StatusCode::OK, LOGIN_PAGE.to_owned())),
        Fault::RedirectToLogin => Reply::Redirect("/login"),
        Fault::RedirectToForbidden => Reply::Redirect("/403"),
        Fault::Status { status, retry_after_secs, .. } => Reply::Fault(FaultReply::Status {
            status: StatusCode::from_u16(*status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE),
            retry_after_secs: *retry_after_secs,
        }),
        Fault::Oversized { bytes } => Reply::Fault(FaultReply::Raw(oversized(*bytes))),
        Fault::Silent => Reply::Fault(FaultReply::Silent),
        Fault::UnusableDateHeader
        | Fault::Dribble { .. }
        | Fault::TruncatedJson
        | Fault::ObjectForList
        | Fault::StringForNumber { .. } => return None,
    })
}

/// The answer a fault makes of the real answer `value` to a `method` request, if it changes it.
pub(crate) fn after_route(fault: &Fault, method: &str, value: Value) -> Result<Value, super::api::Reply> {
    use super::api::Reply;
    let bytes = |v: &Value| serde_json::to_vec(v).unwrap_or_default();
    match fault {
        Fault::GatewayErrorOnWrite { method: m, status, applied: true } if m.eq_ignore_ascii_case(method) => {
            Err(gateway(*status))
        }
        Fault::Dribble { interval } => Err(Reply::Fault(FaultReply::Dribble(bytes(&value), *interval))),
        Fault::TruncatedJson => {
            let mut all = bytes(&value);
            all.truncate(all.len() / 2);
            Err(Reply::Fault(FaultReply::Raw(all)))
        }
        Fault::ObjectForList if value.is_array() => Ok(json!({ "data": value })),
        Fault::StringForNumber { field } => Ok(numbers_to_strings(value, field)),
        _ => Ok(value),
    }
}

fn numbers_to_strings(value: Value, field: &str) -> Value {
    match value {
        Value::Array(items) => Value::Array(items.into_iter().map(|v| numbers_to_strings(v, field)).collect()),
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| match v {
                    Value::Number(n) if k == field => (k, Value::String(format!("n{n}"))),
                    other => {
                        let inner = numbers_to_strings(other, field);
                        (k, inner)
                    }
                })
                .collect(),
        ),
        other => other,
    }
}

/// A JSON array of 1 KiB strings, just over `bytes` long.
fn oversized(bytes: usize) -> Vec<u8> {
    let item = format!("\"{}\"", "x".repeat(1022));
    let mut out = Vec::with_capacity(bytes + 2048);
    out.push(b'[');
    while out.len() <= bytes {
        if out.len() > 1 {
            out.push(b',');
        }
        out.extend_from_slice(item.as_bytes());
    }
    out.push(b']');
    out
}

/// The `Date` header for an answer at simulated time `now`: an IMF-fixdate, or with
/// [`Fault::UnusableDateHeader`] a value no client can read.
pub(crate) fn date_header(now: OffsetDateTime, fault: Option<&Fault>) -> HeaderValue {
    if fault == Some(&Fault::UnusableDateHeader) {
        return HeaderValue::from_static("today");
    }
    let format =
        format_description!("[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT");
    now.to_offset(time::UtcOffset::UTC)
        .format(format)
        .ok()
        .and_then(|s| HeaderValue::from_str(&s).ok())
        .unwrap_or_else(|| HeaderValue::from_static("today"))
}

impl IntoResponse for FaultReply {
    fn into_response(self) -> Response {
        match self {
            FaultReply::Html(status, page) => {
                (status, [(header::CONTENT_TYPE, "text/html; charset=utf-8")], page).into_response()
            }
            FaultReply::Status { status, retry_after_secs } => {
                let mut response = match status.as_u16() {
                    // What the reverse proxy in front of an appliance answers when it is down.
                    502..=504 => {
                        let title = format!("{} {}", status.as_u16(), status.canonical_reason().unwrap_or("Error"));
                        let page = format!(
                            "<html><head><title>{title}</title></head><body><center><h1>{title}</h1></center><hr><center>nginx</center></body></html>\n"
                        );
                        (status, [(header::CONTENT_TYPE, "text/html")], page).into_response()
                    }
                    429 => (status, axum::Json(json!({ "error": "Too many requests" }))).into_response(),
                    _ => (status, axum::Json(json!({ "error": "Internal Server Error" }))).into_response(),
                };
                if let Some(seconds) = retry_after_secs {
                    response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(seconds));
                }
                response
            }
            FaultReply::Raw(bytes) => {
                (StatusCode::OK, [(header::CONTENT_TYPE, "application/json")], bytes).into_response()
            }
            FaultReply::Dribble(bytes, interval) => {
                let body = Dribble { bytes: Bytes::from(bytes), interval, pause: None };
                (StatusCode::OK, [(header::CONTENT_TYPE, "application/json")], axum::body::Body::new(body))
                    .into_response()
            }
            // Never sent: the handler holds the connection open instead (see `api::handle`).
            FaultReply::Silent => StatusCode::GATEWAY_TIMEOUT.into_response(),
        }
    }
}

/// A body that yields one byte after each pause.
struct Dribble {
    bytes: Bytes,
    interval: Duration,
    pause: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl hyper::body::Body for Dribble {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<hyper::body::Frame<Bytes>, Self::Error>>> {
        if self.bytes.is_empty() {
            return Poll::Ready(None);
        }
        let interval = self.interval;
        let pause = self.pause.get_or_insert_with(|| Box::pin(tokio::time::sleep(interval)));
        if pause.as_mut().poll(cx).is_pending() {
            return Poll::Pending;
        }
        self.pause = None;
        let byte = self.bytes.split_to(1);
        Poll::Ready(Some(Ok(hyper::body::Frame::data(byte))))
    }

    fn is_end_stream(&self) -> bool {
        self.bytes.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_status_fault_for_k_requests_plays_k_times_then_stops() {
        let mut fault = Some(Fault::Status { status: 503, retry_after_secs: None, times: Some(2) });
        let mut played = 0;
        for _ in 0..4 {
            let (now, later) = take(&fault);
            played += usize::from(now.is_some());
            fault = later;
        }
        assert_eq!((played, fault), (2, None));
    }

    #[test]
    fn an_unlimited_fault_plays_every_time() {
        let fault = Some(Fault::LoginPage);
        assert_eq!(take(&fault), (fault.clone(), fault));
    }

    #[test]
    fn oversized_answers_are_json_arrays_over_the_size() {
        let body = oversized(10_000);
        assert!(body.len() > 10_000);
        let parsed: Value = serde_json::from_slice(&body).expect("oversized body is JSON");
        assert!(parsed.as_array().is_some_and(|a| a.len() >= 10));
    }

    #[test]
    fn wrong_shapes_keep_everything_else() {
        let v = json!([{"pbid": 5, "device": {"did": 7}}]);
        assert_eq!(after_route(&Fault::ObjectForList, "GET", v.clone()).unwrap(), json!({"data": v}));
        let changed = after_route(&Fault::StringForNumber { field: "did".into() }, "GET", v).unwrap();
        assert_eq!(changed, json!([{"pbid": 5, "device": {"did": "n7"}}]));
    }

    #[test]
    fn a_gateway_error_on_writes_answers_only_its_method_before_or_after_the_change() {
        let fault = |applied| Fault::GatewayErrorOnWrite { method: "DELETE".into(), status: 502, applied };
        assert!(before_route(&fault(false), "GET").is_none());
        assert!(before_route(&fault(true), "DELETE").is_none(), "the change must be made first");
        assert!(matches!(before_route(&fault(false), "delete"), Some(super::super::api::Reply::Fault(_))));
        assert!(after_route(&fault(true), "DELETE", json!({})).is_err());
        assert_eq!(after_route(&fault(true), "GET", json!([1])).unwrap(), json!([1]));
    }

    #[test]
    fn the_date_header_is_an_http_date_of_the_simulated_clock() {
        let at = time::macros::datetime!(2024-01-15 10:30:05 UTC);
        assert_eq!(date_header(at, None), "Mon, 15 Jan 2024 10:30:05 GMT");
        assert_eq!(date_header(at, Some(&Fault::UnusableDateHeader)), "today");
    }
}
