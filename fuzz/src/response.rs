//! `response_parsing`: every action's answer handling, and `client::interpret`, on answers the
//! fuzzer writes.

use darktrace_connector::actions::invoke;
use darktrace_connector::client::{interpret, retry_after, server_clock_offset};
use darktrace_connector::{ApiRequest, Error, WireRequest, WireResponse};
use time::OffsetDateTime;

use crate::checks::{check_result, check_wire};
use crate::{PRIVATE_TOKEN, Recorder, action_at, connection, valid_input};

/// Cases that need something other than an answer: a bad connection, a failed or slow transport
/// (this one always answers), or an internal failure.
const IMPOSSIBLE: &[&str] = &["invalid-connection", "transport", "timeout", "other"];

/// Statuses the client retries idempotent requests after, sleeping between attempts.
const RETRIED: &[u16] = &[429, 500, 502, 503];

/// Splits `text` into `Name: value` header lines, up to the first empty line, and the body.
fn split_head(raw: &[u8]) -> (Vec<(String, String)>, Vec<u8>) {
    let (head, body) = match raw.windows(2).position(|w| w == b"\n\n") {
        Some(at) => (&raw[..at], &raw[at + 2..]),
        None => (raw, &[][..]),
    };
    let headers = String::from_utf8_lossy(head)
        .lines()
        .filter_map(|line| line.split_once(':').map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned())))
        .collect();
    (headers, body.to_vec())
}

/// Checks `interpret` against the parts of its contract that depend on the status alone.
fn check_interpret(request: &ApiRequest, response: &WireResponse) {
    let result = interpret(request, response);
    let status = response.status;
    let text = String::from_utf8_lossy(&response.body);
    match &result {
        Ok(value) => {
            assert!((200..300).contains(&status), "status {status} was taken as success");
            let expected = if response.body.iter().all(u8::is_ascii_whitespace) {
                serde_json::Value::Null
            } else {
                serde_json::from_slice(&response.body).expect("success means the body is JSON")
            };
            assert_eq!(*value, expected, "the value is not the body's JSON");
        }
        Err(error) => {
            assert!(!IMPOSSIBLE.contains(&error.case()), "interpret gave {}: {error}", error.case());
            let shown = format!("{error} {error:?}");
            assert!(text.contains(PRIVATE_TOKEN) || !shown.contains(PRIVATE_TOKEN), "the private token is in {shown}");
        }
    }
    match (status, &result) {
        (429, Err(Error::RateLimited { .. })) => {}
        (429, other) => panic!("429 gave {other:?}"),
        (500 | 502 | 503 | 504, Err(Error::Upstream { status: s, .. })) => assert_eq!(*s, status),
        (500 | 502 | 503 | 504, other) => panic!("{status} gave {other:?}"),
        (300..=399, Err(Error::PermissionDenied(_))) => {}
        (300..=399, other) => panic!("redirect {status} gave {other:?}"),
        _ => {}
    }
}

/// Input: byte 0 picks the action, which is called with its fixed valid input; bytes 1 and 2
/// are the answer's status (big-endian, any `u16`); the rest is the answer as text: header lines
/// `Name: value` up to the first empty line, then the body bytes.
///
/// Every request of the call gets that answer. For the statuses the client retries after, a
/// `Retry-After` longer than its whole retry budget is put first, so it gives up at once instead
/// of sleeping; the fuzzer's own `Retry-After` is still read by the direct `interpret` checks.
///
/// Invariants: no panic; `interpret` maps 429, 5xx and redirects to their cases and 2xx success
/// to exactly the body's JSON; the call's error is a typed case other than the ones only a
/// connection or transport can cause; the private token is in no request, result or error
/// unless the answer itself carried it; every request passes [`check_wire`].
pub fn response_parsing(data: &[u8]) {
    let [action, hi, lo, raw @ ..] = data else { return };
    let action = action_at(*action);
    let status = u16::from_be_bytes([*hi, *lo]);
    let (headers, body) = split_head(raw);
    let response = WireResponse { status, headers, body };

    let now = OffsetDateTime::now_utc();
    let _ = retry_after(&response, now);
    let _ = server_clock_offset(&response, now);
    for request in [
        ApiRequest::get("/modelbreaches"),
        ApiRequest::post_json("/modelbreaches/1/comments", &serde_json::json!({"message": "x"})),
        ApiRequest::post_form("/aianalyst/acknowledge", &[("uuid", "x")]),
    ] {
        check_interpret(&request, &response);
    }

    let secret_may_appear = String::from_utf8_lossy(&response.body).contains(PRIVATE_TOKEN)
        || response.headers.iter().any(|(k, v)| k.contains(PRIVATE_TOKEN) || v.contains(PRIVATE_TOKEN));
    let mut answer = response;
    if RETRIED.contains(&status) {
        answer.headers.insert(0, ("Retry-After".into(), "86400".into()));
    }
    let transport = Recorder::new(|_: &WireRequest| answer.clone());
    let result = invoke(Ok(connection()), &transport, action, valid_input(action));
    let sent = transport.into_sent();
    assert!(!sent.is_empty(), "{action}: its valid input sent nothing");
    for request in &sent {
        check_wire(request, false);
    }
    check_result(action, &result, ALL_BUT_IMPOSSIBLE, secret_may_appear);
}

/// The cases an answer can lead to.
const ALL_BUT_IMPOSSIBLE: &[&str] = &[
    "invalid-input",
    "signature-rejected",
    "clock-skew",
    "permission-denied",
    "not-found",
    "rate-limited",
    "upstream",
    "unexpected-response",
    // A 400 to a manual RESPOND action a client sensor does not take.
    "unsupported",
];
