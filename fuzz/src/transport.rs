//! A transport that answers from a closure and keeps every request it was given.

use std::cell::RefCell;

use darktrace_connector::{Result, Transport, WireRequest, WireResponse};

/// More requests than any action makes for one call; past it, an action is looping on the
/// canned answer, which is a bug the harness reports.
const MAX_REQUESTS: usize = 1_000;

/// Answers every request with `answer(request)` and records the requests, in order.
pub struct Recorder<F: Fn(&WireRequest) -> WireResponse> {
    answer: F,
    sent: RefCell<Vec<WireRequest>>,
}

impl<F: Fn(&WireRequest) -> WireResponse> Recorder<F> {
    /// A recorder that answers with `answer`.
    pub fn new(answer: F) -> Self {
        Recorder { answer, sent: RefCell::default() }
    }

    /// The requests received so far.
    pub fn into_sent(self) -> Vec<WireRequest> {
        self.sent.into_inner()
    }
}

impl<F: Fn(&WireRequest) -> WireResponse> Transport for Recorder<F> {
    fn send(&self, request: &WireRequest, _max_body_bytes: u64) -> Result<WireResponse> {
        let mut sent = self.sent.borrow_mut();
        sent.push(request.clone());
        assert!(sent.len() <= MAX_REQUESTS, "one call sent more than {MAX_REQUESTS} requests; last: {request:?}");
        Ok((self.answer)(request))
    }
}
