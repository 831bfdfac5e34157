//! Every action, reachable by name with JSON (for `invoke`) and as a typed Rust function (for the
//! typed WIT exports). Both paths run the same code: parse and check the input, check the
//! connection, then talk to the appliance.

/// Declares a family's action table, `ACTIONS`: `family_actions! { "name" => function, ... }`.
/// Each function takes the client and a typed [`Input`] and returns a serialisable result.
macro_rules! family_actions {
    ($($name:literal => $f:path),* $(,)?) => {
        /// This family's actions, by name.
        pub const ACTIONS: &[super::ActionDef] = &[
            $(super::ActionDef { name: $name, run: |c, t, v| super::json_action(c, t, v, $f) }),*
        ];
    };
}

pub mod ai_analyst;
pub mod breaches;
pub mod devices;
mod input;
pub mod intel;
pub mod metadata;
pub mod poll;
pub mod respond;
pub mod system;
pub mod tags;

/// Every family's action table. A new family adds its `ACTIONS` here.
const FAMILIES: &[&[ActionDef]] = &[
    system::ACTIONS,
    breaches::ACTIONS,
    devices::ACTIONS,
    ai_analyst::ACTIONS,
    tags::ACTIONS,
    metadata::ACTIONS,
    respond::ACTIONS,
    intel::ACTIONS,
    poll::ACTIONS,
];

/// Every action the connector offers.
pub fn actions() -> impl Iterator<Item = &'static ActionDef> {
    FAMILIES.iter().flat_map(|family| family.iter())
}

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::client::{Client, Transport};
use crate::connection::Connection;
use crate::error::{Error, Result};

/// An action's input: deserialised from JSON or converted from WIT, then checked before anything
/// is sent.
pub trait Input: DeserializeOwned {
    /// Checks values serde cannot (ranges, pairs of fields). Errors name the field.
    fn validate(&self) -> Result<()> {
        Ok(())
    }
}

/// Runs a typed action: checks the input, then the connection, then calls `f`.
pub fn run<I: Input, O>(
    conn: Result<Connection>,
    transport: &dyn Transport,
    input: I,
    f: fn(&Client, I) -> Result<O>,
) -> Result<O> {
    input.validate()?;
    f(&client(conn, transport)?, input)
}

/// The client for an action whose input passed its checks; kept out of the generic `run` so it
/// is compiled once.
#[inline(never)]
fn client(conn: Result<Connection>, transport: &dyn Transport) -> Result<Client<'_>> {
    Ok(Client::new(conn?, transport))
}

/// One entry of the action table.
pub struct ActionDef {
    /// The kebab-case action name, the same as the WIT function name.
    pub name: &'static str,
    /// Runs the action from JSON input to JSON output text.
    pub run: fn(Result<Connection>, &dyn Transport, Value) -> Result<String>,
}

fn json_action<I: Input, O: Serialize>(
    conn: Result<Connection>,
    transport: &dyn Transport,
    input: Value,
    f: fn(&Client, I) -> Result<O>,
) -> Result<String> {
    let input = parse_input(input)?;
    let output = run(conn, transport, input, f)?;
    encode(&output)
}

/// Results up to this size are written in one pass; larger ones are counted first.
const ONE_PASS_BYTES: usize = 64 * 1024;

/// The JSON text of `output`, written straight to text (a tree first would double a big pull).
/// A large result goes into a buffer sized exactly by a counting pass: a growing buffer would
/// hold its old and new allocations at once, half again the output at the worst moment. Most
/// results are small, and are written once into a buffer allowed to grow to [`ONE_PASS_BYTES`].
fn encode(output: &dyn erased::Serialize) -> Result<String> {
    let mut first = Capped { text: Vec::new(), full: false };
    let text = match output.write_json(&mut first) {
        Ok(()) => first.text,
        Err(e) if !first.full => return Err(encode_error(e)),
        Err(_) => {
            drop(first);
            let mut count = Count(0);
            output.write_json(&mut count).map_err(encode_error)?;
            let mut text = Vec::with_capacity(count.0);
            output.write_json(&mut text).map_err(encode_error)?;
            text
        }
    };
    String::from_utf8(text).map_err(|e| Error::Other(format!("could not encode the result as JSON: {e}")))
}

/// A buffer that refuses to grow past [`ONE_PASS_BYTES`], and says so in `full`.
struct Capped {
    text: Vec<u8>,
    full: bool,
}

impl std::io::Write for Capped {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.text.len() + buf.len() > ONE_PASS_BYTES {
            self.full = true;
            return Err(std::io::Error::other("the result is larger than one pass writes"));
        }
        self.text.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Counts the bytes written to it.
struct Count(usize);

impl std::io::Write for Count {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0 += buf.len();
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// One compiled serialiser per output type whatever the writer: the writer is a trait object.
mod erased {
    /// A value that writes itself as JSON to any writer.
    pub trait Serialize {
        fn write_json(&self, out: &mut dyn std::io::Write) -> serde_json::Result<()>;
    }

    impl<T: serde::Serialize> Serialize for T {
        fn write_json(&self, out: &mut dyn std::io::Write) -> serde_json::Result<()> {
            serde_json::to_writer(out, self)
        }
    }
}

/// Largest input document `invoke` takes: room for thousands of watched domains, far below what
/// would strain the component's memory.
pub const MAX_INPUT_BYTES: usize = 4 * 1024 * 1024;
/// Longest string an input value may be: far above any real id, name, comment or query.
pub const MAX_INPUT_STRING_BYTES: usize = 64 * 1024;

/// The longest string the input value at `path` may be: a poll's `state` is the connector's own
/// text and may be longer than other values (see [`crate::poll::MAX_STATE_INPUT_BYTES`]).
fn limit_of(path: &str) -> usize {
    if path == "state" { crate::poll::MAX_STATE_INPUT_BYTES } else { MAX_INPUT_STRING_BYTES }
}

/// The error for a result serde_json cannot encode; out of line so `json_action` copies stay small.
fn encode_error(e: serde_json::Error) -> Error {
    Error::Other(format!("could not encode the result as JSON: {e}"))
}

/// Runs the action called `action` with JSON `input` text and returns JSON text.
pub fn invoke(conn: Result<Connection>, transport: &dyn Transport, action: &str, input: &str) -> Result<String> {
    let def = actions().find(|a| a.name == action).ok_or_else(|| {
        let names: Vec<&str> = actions().map(|a| a.name).collect();
        Error::InvalidInput(format!(
            "unknown action `{}`; the actions are: {}",
            action.chars().take(80).collect::<String>(),
            names.join(", ")
        ))
    })?;
    if input.len() > MAX_INPUT_BYTES {
        return Err(Error::InvalidInput(format!(
            "the input is {} bytes; an action takes at most {} MiB of JSON, so split the work into several calls",
            input.len(),
            MAX_INPUT_BYTES / (1024 * 1024)
        )));
    }
    let input = if input.trim().is_empty() {
        Value::Object(Default::default())
    } else {
        serde_json::from_str(input).map_err(|e| {
            Error::InvalidInput(format!("the input is not valid JSON ({e}); give a JSON object such as {{}}"))
        })?
    };
    (def.run)(conn, transport, input)
}

/// Deserialises an action input, naming the offending field on error.
pub fn parse_input<I: DeserializeOwned>(input: Value) -> Result<I> {
    input::from_value(checked_input(input)?)
}

/// The checks before deserialising, kept out of the generic `parse_input` so they are compiled once.
fn checked_input(input: Value) -> Result<Value> {
    let input = if input.is_null() { Value::Object(Default::default()) } else { input };
    if !input.is_object() {
        return Err(Error::InvalidInput("the input must be a JSON object, e.g. {\"pbid\": 123}".into()));
    }
    if let Some((path, len)) = oversized_string(&input, String::new()) {
        return Err(Error::InvalidInput(format!(
            "`{path}`: a string of {len} bytes is too long; values are limited to {} KiB",
            limit_of(&path) / 1024
        )));
    }
    Ok(input)
}

/// The path (`a.b[2]`, as in other input errors) and length of the first string in `value` longer
/// than [`MAX_INPUT_STRING_BYTES`].
fn oversized_string(value: &Value, path: String) -> Option<(String, usize)> {
    match value {
        Value::String(s) if s.len() > limit_of(&path) => Some((path, s.len())),
        Value::Array(items) => items.iter().enumerate().find_map(|(i, v)| oversized_string(v, format!("{path}[{i}]"))),
        Value::Object(map) => map.iter().find_map(|(k, v)| {
            let key = if path.is_empty() { k.clone() } else { format!("{path}.{k}") };
            // Keys count too: an unknown key is echoed in the refusal.
            if k.len() > MAX_INPUT_STRING_BYTES {
                Some((key.chars().take(40).collect(), k.len()))
            } else {
                oversized_string(v, key)
            }
        }),
        _ => None,
    }
}

/// Accepts the shapes appliances use to say a change succeeded: `{"response": "SUCCESS"}`,
/// `{"aianalyst": "SUCCESS"}`, the Unified View `[{"replicate": true, ...}]` array, a list of
/// created items, or an empty body.
pub fn confirm_success(what: &str, answer: &Value) -> Result<()> {
    match answer {
        Value::Null => Ok(()),
        Value::Array(_) => Ok(()),
        Value::Object(map) if map.values().any(|v| v.as_str().is_some_and(|s| s.eq_ignore_ascii_case("success"))) => {
            Ok(())
        }
        Value::Object(map) if map.contains_key("error") => {
            Err(Error::Upstream { status: 200, message: format!("{what} was refused: {}", map["error"]) })
        }
        other => Err(Error::UnexpectedResponse(format!(
            "{what}: the appliance did not confirm the change (answered `{}`); check the item's state on the appliance",
            other.to_string().chars().take(200).collect::<String>()
        ))),
    }
}

/// What reading a change back showed, for [`send_write`].
#[derive(Debug, Clone, PartialEq)]
pub struct ReadBack {
    /// Whether the item is in the state the write asked for.
    pub applied: bool,
    /// What was read: the item's relevant fields, as the appliance gave them.
    pub seen: Value,
}

/// How a write ended, from [`send_write`].
#[derive(Debug, Clone, PartialEq)]
pub enum Written {
    /// The appliance answered the write itself; the answer, for the caller to check.
    Answered(crate::shape::Doc),
    /// The gateway in front of the appliance answered 502 or 504, and reading the item back
    /// showed the change applied. The value is `{"gateway_status": n, "read_back": <seen>}`,
    /// the result's `raw`.
    Verified(Value),
}

impl Written {
    /// `verified` as results carry it: absent when the appliance confirmed the change itself,
    /// `true` when it was read back after a gateway error.
    pub fn verified(&self) -> Option<bool> {
        matches!(self, Written::Verified(_)).then_some(true)
    }
}

/// The statuses after which a write's outcome is unknown: a gateway (502) or its timeout (504)
/// answered instead of the appliance, which may have applied the change. A real 7.1.0 appliance's
/// gateway answered 502 to every DELETE although each one applied (`api-inventory.md`).
fn outcome_unknown(error: &Error) -> Option<u16> {
    match error {
        Error::Upstream { status: status @ (502 | 504), .. } => Some(*status),
        _ => None,
    }
}

/// Sends a write (`what` names it for messages). When a gateway answers 502 or 504 instead of
/// the appliance, the change may or may not have applied, so it is read back with `read_back`:
/// applied gives [`Written::Verified`]; not applied is an `upstream` error saying nothing changed
/// and a retry is safe; a read-back that fails is an `upstream` error saying the outcome is
/// unknown. Never a plain failure for a change that applied.
pub fn send_write(
    client: &Client,
    request: &crate::request::ApiRequest,
    what: &str,
    read_back: &dyn Fn(&Client) -> Result<ReadBack>,
) -> Result<Written> {
    let error = match crate::shape::Doc::fetch(client, request) {
        Ok(answer) => return Ok(Written::Answered(answer)),
        Err(error) => error,
    };
    let Some(status) = outcome_unknown(&error) else { return Err(error) };
    match read_back(client) {
        Ok(ReadBack { applied: true, seen }) => {
            Ok(Written::Verified(serde_json::json!({ "gateway_status": status, "read_back": seen })))
        }
        Ok(ReadBack { applied: false, seen }) => Err(Error::Upstream {
            status,
            message: format!(
                "{what}: a gateway in front of the appliance answered {status}, and reading back shows the change \
                 was not applied (saw {}); nothing changed, so it is safe to try again",
                excerpt(&seen)
            ),
        }),
        Err(read_error) => Err(Error::Upstream {
            status,
            message: format!(
                "{what}: a gateway in front of the appliance answered {status}, so whether the change applied is \
                 unknown, and reading it back failed ({read_error}); {}",
                if request.is_idempotent() {
                    "the change is safe to repeat: try again"
                } else {
                    "check the item on the appliance before trying again, as repeating it could apply it twice"
                }
            ),
        }),
    }
}

/// [`send_write`] for a write whose answer is a plain confirmation (`SUCCESS`): the result's
/// `raw` and `verified`, from the appliance's own answer once it is checked to confirm the
/// change, or from the read-back after a gateway error.
pub fn send_confirmed_write(
    client: &Client,
    request: &crate::request::ApiRequest,
    what: &str,
    read_back: &dyn Fn(&Client) -> Result<ReadBack>,
) -> Result<(Value, Option<bool>)> {
    let written = send_write(client, request, what, read_back)?;
    let verified = written.verified();
    match written {
        Written::Answered(answer) => {
            confirm_success(what, &answer.value)?;
            Ok((answer.value, verified))
        }
        Written::Verified(raw) => Ok((raw, verified)),
    }
}

/// A value as compact JSON, at most 300 characters, for messages.
fn excerpt(value: &Value) -> String {
    let text = value.to_string();
    match text.char_indices().nth(300) {
        Some((i, _)) => format!("{}...", &text[..i]),
        None => text,
    }
}

/// Whether a flag the appliance gives reads as set: `true`, or an object (recent versions give
/// `"acknowledged": {"time": ..., "username": ...}`), a non-zero number or `"true"`.
pub fn flag_set(value: Option<&Value>) -> bool {
    match value {
        Some(Value::Bool(b)) => *b,
        Some(Value::Object(_)) => true,
        Some(Value::Number(n)) => n.as_f64().is_some_and(|n| n != 0.0),
        Some(Value::String(s)) => s.eq_ignore_ascii_case("true"),
        _ => false,
    }
}

/// Input of actions that take a single model breach id.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PbidInput {
    /// The model breach id.
    pub pbid: u64,
}

impl Input for PbidInput {}

/// Input of actions that take a single device id.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DidInput {
    /// The device id.
    pub did: u64,
}

impl Input for DidInput {}

/// Input of actions that take nothing.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoInput {}

impl Input for NoInput {}

/// Test doubles shared by the action families' unit tests.
#[cfg(test)]
pub(crate) mod testing {
    use std::cell::RefCell;

    use crate::client::{Transport, WireResponse};
    use crate::error::Result;
    use crate::request::WireRequest;

    /// A transport that answers 200 with canned bodies and records every request it was given.
    pub(crate) struct Canned {
        answers: RefCell<Vec<&'static str>>,
        repeat: bool,
        /// The requests, in order.
        pub(crate) sent: RefCell<Vec<WireRequest>>,
    }

    impl Canned {
        /// Answers every request with `body`.
        pub(crate) fn repeating(body: &'static str) -> Self {
            Canned { answers: RefCell::new(vec![body]), repeat: true, sent: RefCell::default() }
        }

        /// Answers with `bodies` in order, then with `null`.
        pub(crate) fn sequence(bodies: &[&'static str]) -> Self {
            Canned { answers: RefCell::new(bodies.to_vec()), repeat: false, sent: RefCell::default() }
        }

        /// The requests sent so far.
        pub(crate) fn into_sent(self) -> Vec<WireRequest> {
            self.sent.into_inner()
        }
    }

    impl Transport for Canned {
        fn send(&self, request: &WireRequest, _: u64) -> Result<WireResponse> {
            self.sent.borrow_mut().push(request.clone());
            let mut answers = self.answers.borrow_mut();
            let body = match (self.repeat, answers.is_empty()) {
                (true, false) => answers[0],
                (false, false) => answers.remove(0),
                (_, true) => "null",
            };
            Ok(WireResponse { status: 200, headers: Vec::new(), body: body.as_bytes().to_vec() })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::WireResponse;
    use crate::request::WireRequest;
    use std::cell::RefCell;

    /// A transport that must not be reached.
    struct Unreachable(RefCell<usize>);
    impl Transport for Unreachable {
        fn send(&self, _: &WireRequest, _: u64) -> Result<WireResponse> {
            *self.0.borrow_mut() += 1;
            Err(Error::Other("sent".into()))
        }
    }

    fn try_invoke(action: &str, input: &str) -> (Result<String>, usize) {
        let t = Unreachable(RefCell::new(0));
        let r = invoke(Connection::new("dt.example.com", "p", "s"), &t, action, input);
        let sent = *t.0.borrow();
        (r, sent)
    }

    #[test]
    fn unknown_action_is_invalid_input_listing_the_actions() {
        let (r, sent) = try_invoke("list-breaches", "{}");
        let err = r.unwrap_err();
        assert_eq!((err.case(), sent), ("invalid-input", 0));
        assert!(err.message().contains("list-model-breaches"), "{err}");
    }

    #[test]
    fn bad_inputs_name_the_field_and_send_nothing() {
        for (action, input, field) in [
            ("get-model-breach", "{}", "pbid"),
            ("get-model-breach", r#"{"pbid": "abc"}"#, "pbid"),
            ("get-model-breach", r#"{"pbid": -1}"#, "pbid"),
            ("list-model-breaches", r#"{"min_score": 1.5}"#, "min_score"),
            ("list-model-breaches", r#"{"minscore": 0.5}"#, "minscore"),
            ("list-model-breaches", r#"{"start": 1705311000000}"#, "end"),
            ("list-model-breaches", r#"{"start": "yesterday", "end": 1705311000000}"#, "start"),
            ("add-model-breach-comment", r#"{"pbid": 1, "message": "  "}"#, "message"),
            ("search-devices", r#"{"query": "x", "count": 301}"#, "count"),
            ("get-device", "[1]", "object"),
            ("get-device", "{not json", "JSON"),
        ] {
            let (r, sent) = try_invoke(action, input);
            let err = r.unwrap_err();
            assert_eq!((err.case(), sent), ("invalid-input", 0), "{action} {input}: {err}");
            assert!(err.message().contains(field), "{action} {input}: {err}");
        }
    }

    #[test]
    fn results_small_and_large_encode_as_serde_json_writes_them() {
        for n in [3, ONE_PASS_BYTES / 4] {
            let value: Vec<Value> = (0..n).map(|i| serde_json::json!({"i": i, "s": "é\"x"})).collect();
            assert_eq!(encode(&value).unwrap(), serde_json::to_string(&value).unwrap(), "{n} items");
        }
    }

    #[test]
    fn an_oversized_string_is_refused_naming_its_path() {
        let long = "x".repeat(MAX_INPUT_STRING_BYTES + 1);
        let input = serde_json::json!({"entries": [{"name": "ok"}, {"name": long}]}).to_string();
        let (r, sent) = try_invoke("add-watched-domains", &input);
        let err = r.unwrap_err();
        assert_eq!((err.case(), sent), ("invalid-input", 0));
        assert!(err.message().starts_with("`entries[1].name`: a string of 65537 bytes is too long"), "{err}");
    }

    #[test]
    fn an_oversized_input_is_refused_before_parsing() {
        let input = format!("{{\"query\": \"{}\"}}", " ".repeat(MAX_INPUT_BYTES));
        let (r, sent) = try_invoke("search-devices", &input);
        let err = r.unwrap_err();
        assert_eq!((err.case(), sent), ("invalid-input", 0));
        assert!(err.message().contains("at most 4 MiB"), "{err}");
    }

    #[test]
    fn input_is_checked_before_the_connection() {
        let t = Unreachable(RefCell::new(0));
        let err = invoke(Connection::new("", "p", "s"), &t, "get-model-breach", "{}").unwrap_err();
        assert_eq!(err.case(), "invalid-input");
        let err = invoke(Connection::new("", "p", "s"), &t, "get-model-breach", r#"{"pbid":1}"#).unwrap_err();
        assert_eq!(err.case(), "invalid-connection");
    }

    /// Answers writes with `write_status` and GETs with 200 and `read_body`.
    struct Gateway {
        write_status: u16,
        read_body: &'static str,
        sent: RefCell<Vec<String>>,
    }

    impl Transport for Gateway {
        fn send(&self, request: &WireRequest, _: u64) -> Result<WireResponse> {
            self.sent.borrow_mut().push(request.method.as_str().to_owned());
            let (status, body) = match request.method {
                crate::request::Method::Get => (200, self.read_body),
                _ if matches!(self.write_status, 502 | 504) => {
                    (self.write_status, "<html><title>502 Bad Gateway</title></html>")
                }
                _ => (self.write_status, r#"{"error": "no such item"}"#),
            };
            Ok(WireResponse { status, headers: Vec::new(), body: body.as_bytes().to_vec() })
        }
    }

    fn write_through(write_status: u16, read_body: &'static str) -> (Result<Written>, Vec<String>) {
        let gateway = Gateway { write_status, read_body, sent: RefCell::default() };
        let client = Client::new(Connection::new("dt.example.com", "p", "s").unwrap(), &gateway);
        let request = crate::request::ApiRequest::new(crate::request::Method::Delete, "/tags/entities");
        let read_back = |c: &Client| -> Result<ReadBack> {
            let seen = c.send(&crate::request::ApiRequest::get("/tags/entities"))?;
            Ok(ReadBack { applied: seen.as_array().is_some_and(Vec::is_empty), seen })
        };
        let out = send_write(&client, &request, "removing `x`", &read_back);
        (out, gateway.sent.into_inner())
    }

    #[test]
    fn a_write_a_gateway_answered_502_is_verified_by_reading_it_back() {
        let (out, sent) = write_through(502, "[]");
        let written = out.unwrap();
        assert_eq!(written.verified(), Some(true));
        assert_eq!(written, Written::Verified(serde_json::json!({"gateway_status": 502, "read_back": []})));
        assert_eq!(sent, ["DELETE", "GET"], "the write is not sent again");
    }

    #[test]
    fn a_write_read_back_as_not_applied_is_upstream_saying_a_retry_is_safe() {
        let (out, _) = write_through(504, r#"[{"name": "x"}]"#);
        let err = out.unwrap_err();
        assert!(matches!(err, Error::Upstream { status: 504, .. }), "{err:?}");
        assert!(err.message().contains("not applied") && err.message().contains("safe to try again"), "{err}");
    }

    #[test]
    fn a_write_whose_read_back_fails_is_upstream_saying_the_outcome_is_unknown() {
        let (out, _) = write_through(502, "{not json");
        let err = out.unwrap_err();
        assert!(matches!(err, Error::Upstream { status: 502, .. }), "{err:?}");
        assert!(err.message().contains("unknown") && err.message().contains("safe to repeat"), "{err}");
    }

    #[test]
    fn other_write_failures_are_not_read_back() {
        let (out, sent) = write_through(404, "[]");
        assert_eq!((out.unwrap_err().case(), sent.len()), ("not-found", 1));
    }

    #[test]
    fn flags_read_as_set_from_booleans_objects_and_numbers() {
        use serde_json::json;
        for (value, set) in [
            (json!(true), true),
            (json!({"time": 1, "username": "a"}), true),
            (json!(1), true),
            (json!("true"), true),
            (json!(false), false),
            (json!(0), false),
            (Value::Null, false),
        ] {
            assert_eq!(flag_set(Some(&value)), set, "{value}");
        }
        assert!(!flag_set(None));
    }

    #[test]
    fn a_poll_state_may_be_longer_than_other_strings() {
        let state = "x".repeat(MAX_INPUT_STRING_BYTES + 1);
        let (r, _) = try_invoke("poll-model-breaches", &serde_json::json!({ "state": state }).to_string());
        let err = r.unwrap_err();
        assert!(err.message().starts_with("`state`") && !err.message().contains("too long"), "{err}");
        let huge = "x".repeat(crate::poll::MAX_STATE_INPUT_BYTES + 1);
        let (r, sent) = try_invoke("poll-model-breaches", &serde_json::json!({ "state": huge }).to_string());
        assert_eq!(sent, 0);
        assert!(r.unwrap_err().message().contains("too long"));
    }

    #[test]
    fn success_shapes_seen_in_the_wild_are_accepted() {
        use serde_json::json;
        for ok in [
            json!({"response": "SUCCESS"}),
            json!({"aianalyst": "SUCCESS"}),
            json!([{"replicate": true, "data": []}]),
            Value::Null,
        ] {
            assert!(confirm_success("x", &ok).is_ok(), "{ok}");
        }
        assert_eq!(confirm_success("x", &json!({"error": "no"})).unwrap_err().case(), "upstream");
        assert_eq!(confirm_success("x", &json!(5)).unwrap_err().case(), "unexpected-response");
    }
}
