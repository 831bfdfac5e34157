//! Why the host stopped a call: the outer error layer, for failures of the sandbox or of the
//! component itself, as opposed to the connector's own typed answers ([`super::GuestError`]).

use std::fmt;

/// What kind of failure stopped a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallErrorKind {
    /// The component tried to reach a destination outside the call's policy. The requests never
    /// left the host, and the call fails whatever the component answered.
    Denied,
    /// The call ran past its deadline, computing or waiting, and was stopped.
    Deadline,
    /// The component asked for more linear memory than its limit and could not go on.
    MemoryLimit,
    /// The component trapped: a bug in it, or a deliberate abort.
    Trap,
    /// The component answered with something its contract rules out: a string that is not
    /// UTF-8, a result that breaks the component model's rules, or text that is not JSON where
    /// JSON is promised.
    BadAnswer,
    /// Every instance slot is busy (the host's `max_instances`); try again or raise the limit.
    Capacity,
    /// The host itself failed; a bug to report.
    Host,
}

impl CallErrorKind {
    /// The kebab-case name printed by the CLI, e.g. `memory-limit`.
    pub fn as_str(self) -> &'static str {
        match self {
            CallErrorKind::Denied => "denied",
            CallErrorKind::Deadline => "deadline",
            CallErrorKind::MemoryLimit => "memory-limit",
            CallErrorKind::Trap => "trap",
            CallErrorKind::BadAnswer => "bad-answer",
            CallErrorKind::Capacity => "capacity",
            CallErrorKind::Host => "host",
        }
    }
}

/// A call the host stopped, with a message naming the component, what happened and what to do.
#[derive(Debug)]
pub struct CallError {
    kind: CallErrorKind,
    message: String,
}

impl CallError {
    pub(crate) fn new(kind: CallErrorKind, message: impl Into<String>) -> Self {
        CallError { kind, message: message.into() }
    }

    /// What kind of failure it was.
    pub fn kind(&self) -> CallErrorKind {
        self.kind
    }

    /// The whole message.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for CallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for CallError {}
