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

#[macro_use]
mod by_name;

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

/// Sends requests through the host's wasi:http outgoing handler, using the world's own bindings
/// so a failed body read still carries its wasi:http `error-code` (a stalled body must end as
/// `timeout`, not as an opaque stream error).
struct WasiHttp;

/// How long to wait for the TCP (and TLS) connection; the host bounds the whole call separately.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long to wait for the answer's head. Asked of the host, which may enforce less; hosts that
/// cannot honour it ignore it and apply their own.
const FIRST_BYTE_TIMEOUT: Duration = Duration::from_secs(30);
/// The longest pause between parts of the answer's body, asked of the host likewise.
const BETWEEN_BYTES_TIMEOUT: Duration = Duration::from_secs(30);
/// Bytes read from the response stream at a time.
const READ_CHUNK: u64 = 64 * 1024;

impl Transport for WasiHttp {
    fn send(&self, request: &WireRequest, max_body_bytes: u64) -> Result<WireResponse> {
        use bindings::wasi::http::{outgoing_handler, types as ht};

        let at = authority(&request.url).to_owned();
        let (scheme, rest) = request
            .url
            .split_once("://")
            .ok_or_else(|| Error::Other(format!("failed to split the URL of a request to {at}")))?;
        let path_and_query = rest.find('/').map_or("/", |i| &rest[i..]);

        let entries: Vec<(String, Vec<u8>)> =
            request.headers.iter().map(|(k, v)| (k.clone(), v.as_bytes().to_vec())).collect();
        let headers = ht::Fields::from_list(&entries)
            .map_err(|e| Error::Other(format!("failed to set the request headers ({e:?})")))?;
        let outgoing = ht::OutgoingRequest::new(headers);
        let method = match request.method {
            Method::Get => ht::Method::Get,
            Method::Post => ht::Method::Post,
            Method::Delete => ht::Method::Delete,
        };
        outgoing.set_method(&method).map_err(|()| Error::Other("failed to set the method".into()))?;
        let scheme = if scheme == "https" { ht::Scheme::Https } else { ht::Scheme::Http };
        outgoing.set_scheme(Some(&scheme)).map_err(|()| Error::Other("failed to set the scheme".into()))?;
        outgoing.set_authority(Some(&at)).map_err(|()| Error::Other("failed to set the authority".into()))?;
        outgoing
            .set_path_with_query(Some(path_and_query))
            .map_err(|()| Error::Other("failed to set the path and query".into()))?;
        let body = outgoing.body().map_err(|()| Error::Other("failed to open the request body".into()))?;

        let options = ht::RequestOptions::new();
        // A host that does not support a timeout refuses to set it; its own limits then apply.
        let _ = options.set_connect_timeout(Some(nanos(CONNECT_TIMEOUT)));
        let _ = options.set_first_byte_timeout(Some(nanos(FIRST_BYTE_TIMEOUT)));
        let _ = options.set_between_bytes_timeout(Some(nanos(BETWEEN_BYTES_TIMEOUT)));
        let future = outgoing_handler::handle(outgoing, Some(options)).map_err(|code| error_code(&at, &code))?;

        write_body(&body, request.body.as_deref().unwrap_or_default(), &at)?;
        ht::OutgoingBody::finish(body, None).map_err(|code| error_code(&at, &code))?;

        let response = loop {
            match future.get() {
                Some(Ok(Ok(response))) => break response,
                Some(Ok(Err(code))) => return Err(error_code(&at, &code)),
                Some(Err(())) => return Err(Error::Other(format!("the answer from {at} was already taken"))),
                None => future.subscribe().block(),
            }
        };
        let status = response.status();
        let headers: Vec<(String, String)> = response
            .headers()
            .entries()
            .into_iter()
            .map(|(k, v)| (k, String::from_utf8_lossy(&v).into_owned()))
            .collect();
        let incoming =
            response.consume().map_err(|()| Error::Other(format!("failed to open the answer body from {at}")))?;
        let stream =
            incoming.stream().map_err(|()| Error::Other(format!("failed to read the answer body from {at}")))?;
        let mut bytes = Vec::new();
        // Room for the whole declared body at once: growing by doubling would copy a big answer
        // several times over and, at the last step, hold it one and a half times. Only a hint: a
        // length the memory cannot hold is left to the host's cap and the checks below.
        if let Some(length) = declared_length(&headers).filter(|&n| n <= max_body_bytes) {
            let _ = bytes.try_reserve_exact(usize::try_from(length).unwrap_or(0));
        }
        loop {
            match stream.blocking_read(READ_CHUNK) {
                Ok(chunk) if bytes.is_empty() && chunk.len() >= bytes.capacity() => bytes = chunk,
                Ok(chunk) => bytes.extend_from_slice(&chunk),
                Err(bindings::wasi::io::streams::StreamError::Closed) => break,
                Err(bindings::wasi::io::streams::StreamError::LastOperationFailed(e)) => {
                    return Err(match ht::http_error_code(&e) {
                        Some(code) => error_code(&at, &code),
                        None => body_error(&at, &e.to_debug_string(), max_body_bytes),
                    });
                }
            }
            if bytes.len() as u64 > max_body_bytes {
                return Err(too_large(&at, max_body_bytes));
            }
        }
        // The stream is a child of the body and must go first.
        drop(stream);
        drop(incoming);
        Ok(WireResponse { status, headers, body: bytes })
    }
}

/// The `content-length` of an answer, when it has one.
fn declared_length(headers: &[(String, String)]) -> Option<u64> {
    crate::client::header(headers, "content-length").and_then(|v| v.trim().parse().ok())
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// Writes the request body within the stream's write permits.
fn write_body(body: &bindings::wasi::http::types::OutgoingBody, mut bytes: &[u8], at: &str) -> Result<()> {
    if bytes.is_empty() {
        return Ok(());
    }
    let failed = |e: bindings::wasi::io::streams::StreamError| {
        Error::Transport(format!("sending the request body to {at} failed ({e:?}); try again"))
    };
    let out = body.write().map_err(|()| Error::Other("failed to open the request body stream".into()))?;
    while !bytes.is_empty() {
        let permit = out.check_write().map_err(failed)?;
        if permit == 0 {
            out.subscribe().block();
            continue;
        }
        let n = bytes.len().min(usize::try_from(permit).unwrap_or(usize::MAX));
        let (chunk, rest) = bytes.split_at(n);
        out.write(chunk).map_err(failed)?;
        bytes = rest;
    }
    match out.blocking_flush() {
        // With a `Content-Length` the host may take the last byte and let go of the body before
        // this flush: every byte is already with it, so the stream being closed is success here.
        // A real failure of the exchange still comes back from the response future.
        Ok(()) | Err(bindings::wasi::io::streams::StreamError::Closed) => Ok(()),
        Err(e) => Err(failed(e)),
    }
}

/// The error for a body read that failed without a wasi:http `error-code`. Hosts (wasmtime 48
/// among them) may attach their own error to the stream instead, so its text is all there is to
/// tell a stalled body (a timeout) or an oversized one from a broken connection.
fn body_error(at: &str, debug: &str, limit: u64) -> Error {
    let text = debug.to_ascii_lowercase();
    if text.contains("timeout") || text.contains("timed out") {
        Error::Timeout(format!(
            "{at} stopped sending its answer part way ({debug}); the appliance may be overloaded: try again later \
             or narrow the request"
        ))
    } else if text.contains("body size") || text.contains("bodysize") {
        Error::ResponseTooLarge(format!(
            "the answer from {at} is larger than the host allows ({debug}; the connector's own limit is {} MiB); \
             narrow the request (a shorter time window, minimal=true)",
            limit / (1024 * 1024)
        ))
    } else {
        Error::Transport(format!(
            "reading the answer from {at} failed ({debug}); try again, and check the network to the appliance"
        ))
    }
}

/// The typed error for an answer larger than the cap, naming the limit.
fn too_large(at: &str, limit: u64) -> Error {
    Error::ResponseTooLarge(format!(
        "the answer from {at} is larger than the {} limit; narrow the request (a shorter time window, minimal=true)",
        if limit >= 1024 * 1024 { format!("{} MiB", limit / (1024 * 1024)) } else { format!("{limit} byte") }
    ))
}

fn authority(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    rest.split('/').next().unwrap_or(rest)
}

/// Maps a wasi:http `error-code` to the connector's error case.
fn error_code(at: &str, code: &bindings::wasi::http::types::ErrorCode) -> Error {
    use bindings::wasi::http::types::ErrorCode as E;
    match code {
        E::DnsTimeout | E::ConnectionTimeout => Error::Timeout(format!(
            "{at} did not accept a connection in time ({code:?}); check the appliance is up and reachable"
        )),
        E::ConnectionReadTimeout | E::ConnectionWriteTimeout | E::HttpResponseTimeout => Error::Timeout(format!(
            "{at} accepted the request but did not answer in time ({code:?}); the appliance may be overloaded: \
             try again later or narrow the request"
        )),
        E::HttpResponseBodySize(limit) => Error::ResponseTooLarge(format!(
            "the answer from {at} is larger than the host allows ({} bytes); narrow the request (a shorter time window, minimal=true)",
            limit.map_or("its memory limit".to_owned(), |l| l.to_string())
        )),
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

// This and `wit_error` serve all 55 typed exports: one copy each, not one inlined into every export.
#[inline(never)]
pub(crate) fn connection(c: wt::Connection) -> Result<Connection> {
    let settings = crate::connection::Settings {
        clock_offset_seconds: c.clock_offset_seconds,
        max_attempts: c.max_attempts,
        max_retry_wait_seconds: c.max_retry_wait_seconds,
    };
    Connection::new(&c.api_address, &c.public_token, &c.private_token)?.with_settings(settings)
}

/// Runs a typed action and converts its result and error for the WIT boundary.
pub(crate) fn run<I: actions::Input, O, W>(
    c: wt::Connection,
    input: I,
    f: fn(&crate::Client, I) -> Result<O>,
    out: impl Fn(O) -> W,
) -> Result<W, wt::Error> {
    actions::run(connection(c), &WasiHttp, input, f).map(out).map_err(wit_error)
}

#[inline(never)]
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
        Error::ResponseTooLarge(m) => wt::Error::ResponseTooLarge(m),
        Error::Unsupported(m) => wt::Error::Unsupported(m),
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
        crate::manifest::compact()
    }

    fn invoke(c: wt::Connection, action: String, input: String) -> Result<String, wt::Error> {
        actions::invoke(connection(c), &WasiHttp, &action, &input).map_err(wit_error)
    }
}
