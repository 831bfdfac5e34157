//! The component boundary: generated bindings, the wasi:http transport, and the conversions
//! between WIT types and the connector's own types. Everything else is plain Rust.

mod bindings {
    wit_bindgen::generate!({
        path: "../wit",
        world: "connector",
        generate_all,
    });
}

use std::time::Duration;

mod ai_analyst;
mod breaches;
mod devices;
mod intel;
mod metadata;
mod poll;
mod respond;
mod system;
mod tags;

use bindings::exports::darktrace::connector::{generic, types as wt};

use crate::actions;
use crate::client::{Transport, WireResponse};
use crate::connection::Connection;
use crate::error::{Error, Result};
use crate::request::{Method, WireRequest};
use crate::times::Instant;

/// The component; each family's `Guest` impl lives in the submodule of that name.
pub(crate) struct Component;

bindings::export!(Component with_types_in bindings);

/// Sends requests through the host's wasi:http outgoing handler (via waki).
struct WasiHttp;

/// How long to wait for the TCP (and TLS) connection; the host bounds the whole call separately.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Bytes read from the response stream at a time.
const READ_CHUNK: u64 = 64 * 1024;

impl Transport for WasiHttp {
    fn send(&self, request: &WireRequest, max_body_bytes: u64) -> Result<WireResponse> {
        let method = match request.method {
            Method::Get => waki::Method::Get,
            Method::Post => waki::Method::Post,
            Method::Delete => waki::Method::Delete,
        };
        let mut headers = Vec::with_capacity(request.headers.len());
        for (k, v) in &request.headers {
            let name = waki::header::HeaderName::from_bytes(k.as_bytes())
                .map_err(|_| Error::Other(format!("failed to set header `{k}`")))?;
            headers.push((name, v.as_str()));
        }
        let mut builder = waki::Client::new()
            .request(method, &request.url)
            .headers(headers)
            .connect_timeout(CONNECT_TIMEOUT);
        if let Some(body) = &request.body {
            builder = builder.body(body.clone());
        }
        let response = builder.send().map_err(|e| transport_error(&request.url, &e))?;
        let status = response.status_code();
        let headers = response
            .headers()
            .iter()
            .map(|(k, v)| (k.as_str().to_owned(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
            .collect();
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk(READ_CHUNK).map_err(|e| transport_error(&request.url, &e))? {
            body.extend_from_slice(&chunk);
            if body.len() as u64 > max_body_bytes {
                return Err(Error::Transport(format!(
                    "the answer from {} is larger than the {} MiB limit; narrow the request (a shorter time window, minimal=true)",
                    authority(&request.url),
                    max_body_bytes / (1024 * 1024)
                )));
            }
        }
        Ok(WireResponse { status, headers, body })
    }
}

fn authority(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    rest.split('/').next().unwrap_or(rest)
}

fn transport_error(url: &str, e: &anyhow::Error) -> Error {
    use waki::ErrorCode as E;
    let at = authority(url);
    let Some(code) = e.downcast_ref::<E>() else {
        return Error::Transport(format!("talking to {at} failed: {e}"));
    };
    match code {
        E::DnsTimeout | E::ConnectionTimeout | E::ConnectionReadTimeout | E::ConnectionWriteTimeout | E::HttpResponseTimeout => {
            Error::Timeout(format!("{at} did not answer in time ({code:?}); check the appliance is up and reachable"))
        }
        E::HttpRequestDenied => Error::Transport(format!(
            "the host refused to send a request to {at}: its policy only allows the connection's API address"
        )),
        E::DnsError(_) | E::DestinationNotFound => {
            Error::Transport(format!("{at} could not be resolved; check the API address"))
        }
        E::ConnectionRefused => Error::Transport(format!("{at} refused the connection; check the address and port")),
        E::TlsProtocolError | E::TlsCertificateError | E::TlsAlertReceived(_) => Error::Transport(format!(
            "TLS with {at} failed ({code:?}); if the appliance uses its own certificate authority, give the host its CA certificate"
        )),
        E::InternalError(Some(message)) => Error::Transport(format!("talking to {at} failed: {message}")),
        other => Error::Transport(format!("talking to {at} failed: {other:?}")),
    }
}

pub(crate) fn connection(c: wt::Connection) -> Result<Connection> {
    Connection::new(&c.api_address, &c.public_token, &c.private_token)
}

/// Runs a typed action and converts its result and error for the WIT boundary.
pub(crate) fn run<I: actions::Input, O, W>(c: wt::Connection, input: I, f: fn(&crate::Client, I) -> Result<O>, out: impl Fn(O) -> W) -> Result<W, wt::Error> {
    actions::run(connection(c), &WasiHttp, input, f).map(out).map_err(wit_error)
}

fn wit_error(e: Error) -> wt::Error {
    match e {
        Error::InvalidInput(m) => wt::Error::InvalidInput(m),
        Error::InvalidConnection(m) => wt::Error::InvalidConnection(m),
        Error::SignatureRejected(m) => wt::Error::SignatureRejected(m),
        Error::ClockSkew(m) => wt::Error::ClockSkew(m),
        Error::PermissionDenied(m) => wt::Error::PermissionDenied(m),
        Error::NotFound(m) => wt::Error::NotFound(m),
        Error::RateLimited { retry_after_seconds, message } => {
            wt::Error::RateLimited(wt::RateLimit { retry_after_seconds, message })
        }
        Error::Transport(m) => wt::Error::Transport(m),
        Error::Timeout(m) => wt::Error::Timeout(m),
        Error::Upstream { status, message } => wt::Error::Upstream(wt::UpstreamFailure { status, message }),
        Error::UnexpectedResponse(m) => wt::Error::UnexpectedResponse(m),
        Error::Other(m) => wt::Error::Other(m),
    }
}

pub(crate) fn instant(i: wt::Instant) -> Instant {
    match i {
        wt::Instant::EpochMs(ms) => Instant::EpochMs(ms),
        wt::Instant::Iso8601(s) => Instant::Iso8601(s),
    }
}

impl generic::Guest for Component {
    fn describe() -> String {
        crate::manifest::MANIFEST.to_owned()
    }

    fn invoke(c: wt::Connection, action: String, input: String) -> Result<String, wt::Error> {
        actions::invoke(connection(c), &WasiHttp, &action, &input).map_err(wit_error)
    }
}
