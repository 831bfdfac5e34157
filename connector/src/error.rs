//! The connector's error type: the Rust twin of the WIT `error` variant.

use std::fmt;

/// Why an action failed. Each case matches the WIT `error` case of the same name, and every
/// message says what was wrong and what to do. No message ever contains the private token:
/// it is only ever used as an HMAC key.
#[derive(Debug, Clone, PartialEq)]
pub enum Error {
    /// Bad action input; nothing was sent.
    InvalidInput(String),
    /// Unusable connection parameters; nothing was sent.
    InvalidConnection(String),
    /// The appliance rejected the signature.
    SignatureRejected(String),
    /// The appliance rejected the date.
    ClockSkew(String),
    /// The token lacks a permission or the endpoint is not available.
    PermissionDenied(String),
    /// The item does not exist.
    NotFound(String),
    /// The appliance asked to slow down.
    RateLimited {
        /// `Retry-After`, in seconds, when given.
        retry_after_seconds: Option<u32>,
        /// What happened and what to do.
        message: String,
    },
    /// The request could not be delivered or the answer not read.
    Transport(String),
    /// No answer in time.
    Timeout(String),
    /// Another HTTP error status.
    Upstream {
        /// The HTTP status.
        status: u16,
        /// What the appliance said, and advice.
        message: String,
    },
    /// A 2xx answer that is not the expected JSON.
    UnexpectedResponse(String),
    /// The answer is larger than the connector or the host reads: the appliance answered, so
    /// this is not [`Error::Transport`]; a narrower request will do.
    ResponseTooLarge(String),
    /// The appliance refused an action the item does not support (a manual RESPOND `pol`,
    /// `gpol` or `quarantineOutgoing` on a client sensor device); nothing changed.
    Unsupported(String),
    /// Anything else.
    Other(String),
}

/// Shorthand for results carrying [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// The kebab-case case name, as in WIT and in the CLI's JSON error output.
    pub fn case(&self) -> &'static str {
        match self {
            Error::InvalidInput(_) => "invalid-input",
            Error::InvalidConnection(_) => "invalid-connection",
            Error::SignatureRejected(_) => "signature-rejected",
            Error::ClockSkew(_) => "clock-skew",
            Error::PermissionDenied(_) => "permission-denied",
            Error::NotFound(_) => "not-found",
            Error::RateLimited { .. } => "rate-limited",
            Error::Transport(_) => "transport",
            Error::Timeout(_) => "timeout",
            Error::Upstream { .. } => "upstream",
            Error::UnexpectedResponse(_) => "unexpected-response",
            Error::ResponseTooLarge(_) => "response-too-large",
            Error::Unsupported(_) => "unsupported",
            Error::Other(_) => "other",
        }
    }

    /// The human-readable message.
    pub fn message(&self) -> &str {
        match self {
            Error::InvalidInput(m)
            | Error::InvalidConnection(m)
            | Error::SignatureRejected(m)
            | Error::ClockSkew(m)
            | Error::PermissionDenied(m)
            | Error::NotFound(m)
            | Error::Transport(m)
            | Error::Timeout(m)
            | Error::UnexpectedResponse(m)
            | Error::ResponseTooLarge(m)
            | Error::Unsupported(m)
            | Error::Other(m) => m,
            Error::RateLimited { message, .. } | Error::Upstream { message, .. } => message,
        }
    }

    /// Shorthand for an invalid-input error about one field.
    pub fn field(field: &str, problem: impl fmt::Display) -> Self {
        Error::InvalidInput(format!("`{field}`: {problem}"))
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.case(), self.message())
    }
}

impl std::error::Error for Error {}
