//! The activity contract, free of any Temporal type so it can be tested on its own:
//!
//! - the activity type is the action name (`list-model-breaches`, ...);
//! - its one argument is `{"connection": "<saved connection name>", "input": {...}}`; the
//!   worker resolves the connection from its own store, so no token is ever in a history;
//! - the result is the action's JSON result;
//! - a connector error is an application failure whose type is the error case; the cases a
//!   retry cannot fix are non-retryable, and `rate-limited` asks for the appliance's
//!   Retry-After as the next retry delay.

use std::time::Duration;

use host_test::runtime::{CallError, CallErrorKind, GuestError};
use serde_json::Value;

/// Error cases a retry cannot fix: the activity fails at once instead of retrying.
pub const NON_RETRYABLE: [&str; 5] =
    ["invalid-input", "invalid-connection", "signature-rejected", "permission-denied", "not-found"];

/// The one argument of every activity.
#[derive(Debug, Clone, PartialEq)]
pub struct ActivityInput {
    /// Name of a connection saved in the worker's store.
    pub connection: String,
    /// The action's input object.
    pub input: Value,
}

/// Why an activity failed, ready to become a Temporal application failure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// The failure's type: the connector's error case (`not-found`, ...) or, when the host
    /// stopped the call, its kind (`deadline`, `denied`, ...).
    pub kind: String,
    /// What went wrong and what to do; never a token.
    pub message: String,
    /// Whether Temporal must not retry.
    pub non_retryable: bool,
    /// The delay before the next attempt, overriding the retry policy's backoff.
    pub next_retry_delay: Option<Duration>,
}

impl Failure {
    /// A failure of `kind`, retryable unless the kind is one of [`NON_RETRYABLE`].
    pub fn new(kind: &str, message: impl Into<String>) -> Self {
        Failure {
            kind: kind.to_owned(),
            message: message.into(),
            non_retryable: NON_RETRYABLE.contains(&kind),
            next_retry_delay: None,
        }
    }

    /// A bad activity argument: non-retryable `invalid-input`.
    pub fn invalid_input(message: impl Into<String>) -> Self {
        Failure::new("invalid-input", message)
    }
}

/// Reads the activity's argument: JSON `{"connection": NAME, "input": {...}}`. `input` may be
/// left out for actions without parameters.
pub fn parse_input(action: &str, data: &[u8]) -> Result<ActivityInput, Failure> {
    let how = "give one argument, a JSON object {\"connection\": \"<saved connection name>\", \"input\": {...}}";
    let value: Value = serde_json::from_slice(data)
        .map_err(|e| Failure::invalid_input(format!("the argument of `{action}` is not JSON ({e}); {how}")))?;
    let Value::Object(mut object) = value else {
        return Err(Failure::invalid_input(format!("the argument of `{action}` is not a JSON object; {how}")));
    };
    if let Some(extra) = object.keys().find(|k| !matches!(k.as_str(), "connection" | "input")) {
        return Err(Failure::invalid_input(format!(
            "the argument of `{action}` has an unknown field `{extra}`; {how} (tokens are never passed: the worker reads them from its store)"
        )));
    }
    let connection = match object.remove("connection") {
        Some(Value::String(name)) if !name.is_empty() => name,
        _ => {
            return Err(Failure::invalid_input(format!(
                "the argument of `{action}` has no `connection` string; {how}"
            )));
        }
    };
    let input = match object.remove("input") {
        None | Some(Value::Null) => Value::Object(Default::default()),
        Some(v @ Value::Object(_)) => v,
        Some(_) => {
            return Err(Failure::invalid_input(format!(
                "the `input` of `{action}` is not a JSON object; give the action's input object"
            )));
        }
    };
    Ok(ActivityInput { connection, input })
}

/// The failure for a connector's typed error.
pub fn guest_failure(error: &GuestError) -> Failure {
    let mut failure = Failure::new(error.case(), error.message());
    if let GuestError::RateLimited(limit) = error {
        failure.next_retry_delay = limit.retry_after_seconds.map(|s| Duration::from_secs(u64::from(s)));
    }
    failure
}

/// The failure for a call the host stopped. A denied destination or a component breaking its
/// contract will do the same again; the deadline, memory and a busy pool may pass.
pub fn call_failure(error: &CallError) -> Failure {
    let kind = error.kind();
    let mut failure = Failure::new(kind.as_str(), error.message());
    failure.non_retryable = matches!(kind, CallErrorKind::Denied | CallErrorKind::BadAnswer | CallErrorKind::Trap);
    failure
}

#[cfg(test)]
mod tests {
    use super::*;
    use host_test::runtime::types::RateLimit;

    #[test]
    fn the_argument_is_a_connection_name_and_an_input_object() {
        let parsed = parse_input("get-device", br#"{"connection": "lab", "input": {"did": 7}}"#).unwrap();
        assert_eq!(parsed.connection, "lab");
        assert_eq!(parsed.input["did"], 7);
        let bare = parse_input("get-status", br#"{"connection": "lab"}"#).unwrap();
        assert_eq!(bare.input, serde_json::json!({}));
    }

    #[test]
    fn a_token_in_the_argument_is_refused_as_invalid_input() {
        let err = parse_input("get-status", br#"{"connection": "lab", "private_token": "s3cret"}"#).unwrap_err();
        assert_eq!(err.kind, "invalid-input");
        assert!(err.non_retryable);
        assert!(err.message.contains("private_token") && !err.message.contains("s3cret"), "{}", err.message);
    }

    #[test]
    fn malformed_arguments_are_non_retryable_invalid_input() {
        for bad in [&b"not json"[..], b"[]", br#"{"input": {}}"#, br#"{"connection": "lab", "input": 3}"#] {
            let err = parse_input("get-status", bad).unwrap_err();
            assert_eq!((err.kind.as_str(), err.non_retryable), ("invalid-input", true), "{}", err.message);
        }
    }

    #[test]
    fn connector_errors_keep_their_case_and_only_fixable_ones_retry() {
        let not_found = guest_failure(&GuestError::NotFound("no breach 9".into()));
        assert_eq!((not_found.kind.as_str(), not_found.non_retryable), ("not-found", true));
        let transport = guest_failure(&GuestError::Transport("refused".into()));
        assert_eq!((transport.kind.as_str(), transport.non_retryable), ("transport", false));
        for case in NON_RETRYABLE {
            assert!(Failure::new(case, "").non_retryable, "{case}");
        }
    }

    #[test]
    fn rate_limited_carries_retry_after_as_the_next_delay() {
        let limited = GuestError::RateLimited(RateLimit { retry_after_seconds: Some(7), message: "slow down".into() });
        let failure = guest_failure(&limited);
        assert_eq!(failure.kind, "rate-limited");
        assert!(!failure.non_retryable);
        assert_eq!(failure.next_retry_delay, Some(Duration::from_secs(7)));
        let unsaid = GuestError::RateLimited(RateLimit { retry_after_seconds: None, message: "slow down".into() });
        assert_eq!(guest_failure(&unsaid).next_retry_delay, None);
    }
}
