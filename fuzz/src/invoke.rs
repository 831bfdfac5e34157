//! `invoke_input`: input parsing and dispatch of every action through `actions::invoke`.

use darktrace_connector::actions::invoke;
use darktrace_connector::{WireRequest, WireResponse};

use crate::checks::{check_result, check_wire};
use crate::{PRIVATE_TOKEN, Recorder, action_at, connection};

/// Plausible 200 answers: the success shapes, empty lists and objects, and one record of each
/// common kind, so calls get past the request and into result mapping.
pub const CANNED_ANSWERS: &[&str] = &[
    r#"{"response":"SUCCESS"}"#,
    "[]",
    "{}",
    "",
    r#"[{"pbid":12345,"time":1705311000000,"creationTime":1705311000000,"score":0.91,"acknowledged":false,"model":{"then":{"name":"Device::Anomalous Connection","pid":17,"uuid":"80010119-6d7f-0000-0305-5e0000000325"}},"device":{"did":42,"ip":"10.0.0.5","hostname":"web-01"}}]"#,
    r#"{"version":"6.2.10","time":"2024-01-15 10:30","hostname":"dt-master","uptime":"12 days","deviceCount":120}"#,
    r#"{"did":42,"ip":"10.0.0.5","hostname":"web-01","firstSeen":1705000000000,"lastSeen":1705311000000,"typename":"Server"}"#,
    r#"[{"message":"Looked at it","time":1705311000000,"username":"analyst","pid":17}]"#,
];

/// The error cases a call can end in when every answer is a 200 with JSON: its input was bad,
/// the JSON had another shape, the item was missing from it, or the answer said the change
/// failed. Nothing about signatures, clocks, permissions, transport or time limits.
const CASES: &[&str] = &["invalid-input", "unexpected-response", "not-found", "upstream"];

/// Input: byte 0 picks the action (an index into `actions()`, wrapping), byte 1 the canned 200
/// answer every request gets, and the rest is the action's input text (invalid UTF-8 replaced).
///
/// Invariants: no panic; an error is a typed case from [`CASES`]; the private token is in no
/// request, result or error; every request passes [`check_wire`].
pub fn invoke_input(data: &[u8]) {
    let [action, answer, input @ ..] = data else { return };
    let action = action_at(*action);
    let body = CANNED_ANSWERS[usize::from(*answer) % CANNED_ANSWERS.len()];
    let input = String::from_utf8_lossy(input);
    let secret_may_appear = input.contains(PRIVATE_TOKEN);
    let transport = Recorder::new(|_: &WireRequest| WireResponse {
        status: 200,
        headers: vec![("Content-Type".into(), "application/json".into())],
        body: body.as_bytes().to_vec(),
    });
    let result = invoke(Ok(connection()), &transport, action, &input);
    for request in &transport.into_sent() {
        check_wire(request, secret_may_appear);
    }
    check_result(action, &result, CASES, secret_may_appear);
}
