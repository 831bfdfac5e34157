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

use bindings::exports::darktrace::connector::{devices as wd, generic, model_breaches as wb, system as ws, types as wt};

use crate::actions::{self, DidInput, NoInput, PbidInput, breaches, devices, system};
use crate::client::{Transport, WireResponse};
use crate::connection::Connection;
use crate::error::{Error, Result};
use crate::request::{Method, WireRequest};
use crate::times::Instant;

struct Component;

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

fn connection(c: wt::Connection) -> Result<Connection> {
    Connection::new(&c.api_address, &c.public_token, &c.private_token)
}

fn run<I: actions::Input, O, W>(c: wt::Connection, input: I, f: fn(&crate::Client, I) -> Result<O>, out: impl Fn(O) -> W) -> Result<W, wt::Error> {
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

fn instant(i: wt::Instant) -> Instant {
    match i {
        wt::Instant::EpochMs(ms) => Instant::EpochMs(ms),
        wt::Instant::Iso8601(s) => Instant::Iso8601(s),
    }
}

fn breach(b: breaches::ModelBreach) -> wb::ModelBreach {
    wb::ModelBreach {
        pbid: b.pbid,
        time: b.time,
        time_iso: b.time_iso,
        creation_time: b.creation_time,
        creation_time_iso: b.creation_time_iso,
        score: b.score,
        model_name: b.model_name,
        model_uuid: b.model_uuid,
        model_pid: b.model_pid,
        model_category: b.model_category,
        device_did: b.device_did,
        device_ip: b.device_ip,
        device_hostname: b.device_hostname,
        device_mac: b.device_mac,
        acknowledged: b.acknowledged,
        comment_count: b.comment_count,
        link: b.link,
        raw: b.raw.to_string(),
    }
}

fn comment(c: breaches::BreachComment) -> wb::BreachComment {
    wb::BreachComment { pbid: c.pbid, message: c.message, username: c.username, time: c.time, time_iso: c.time_iso, raw: c.raw.to_string() }
}

fn change(c: breaches::ChangeResult) -> wt::ChangeResult {
    wt::ChangeResult { id: c.id, state: c.state, raw: c.raw.to_string() }
}

fn device(d: devices::Device) -> wd::Device {
    wd::Device {
        did: d.did,
        ip: d.ip,
        mac: d.mac,
        hostname: d.hostname,
        vendor: d.vendor,
        os: d.os,
        label: d.label,
        type_name: d.type_name,
        type_label: d.type_label,
        priority: d.priority,
        first_seen: d.first_seen,
        first_seen_iso: d.first_seen_iso,
        last_seen: d.last_seen,
        last_seen_iso: d.last_seen_iso,
        tags: d.tags,
        raw: d.raw.to_string(),
    }
}

impl ws::Guest for Component {
    fn test_connection(c: wt::Connection) -> Result<ws::ConnectionStatus, wt::Error> {
        run(c, NoInput {}, system::test_connection, |s| ws::ConnectionStatus {
            api_address: s.api_address,
            version: s.version,
            hostname: s.hostname,
            appliance_time: s.appliance_time,
            checked_at: s.checked_at,
        })
    }
}

impl wb::Guest for Component {
    fn list_model_breaches(c: wt::Connection, f: wb::BreachFilter) -> Result<Vec<wb::ModelBreach>, wt::Error> {
        let filter = breaches::BreachFilter {
            start: f.start.map(instant),
            end: f.end.map(instant),
            min_score: f.min_score,
            pbid: f.pbid,
            did: f.did,
            model_pid: f.model_pid,
            model_uuid: f.model_uuid,
            include_acknowledged: f.include_acknowledged,
            creation_time: f.creation_time,
            minimal: f.minimal,
        };
        run(c, filter, breaches::list_model_breaches, |list| list.into_iter().map(breach).collect())
    }

    fn get_model_breach(c: wt::Connection, pbid: u64) -> Result<wb::ModelBreach, wt::Error> {
        run(c, PbidInput { pbid }, breaches::get_model_breach, breach)
    }

    fn acknowledge_model_breach(c: wt::Connection, pbid: u64) -> Result<wt::ChangeResult, wt::Error> {
        run(c, PbidInput { pbid }, breaches::acknowledge_model_breach, change)
    }

    fn unacknowledge_model_breach(c: wt::Connection, pbid: u64) -> Result<wt::ChangeResult, wt::Error> {
        run(c, PbidInput { pbid }, breaches::unacknowledge_model_breach, change)
    }

    fn add_model_breach_comment(c: wt::Connection, pbid: u64, message: String) -> Result<wb::BreachComment, wt::Error> {
        run(c, breaches::CommentInput { pbid, message }, breaches::add_model_breach_comment, comment)
    }

    fn list_model_breach_comments(c: wt::Connection, pbid: u64) -> Result<Vec<wb::BreachComment>, wt::Error> {
        run(c, PbidInput { pbid }, breaches::list_model_breach_comments, |list| list.into_iter().map(comment).collect())
    }
}

impl wd::Guest for Component {
    fn get_device(c: wt::Connection, did: u64) -> Result<wd::Device, wt::Error> {
        run(c, DidInput { did }, devices::get_device, device)
    }

    fn search_devices(c: wt::Connection, q: wd::DeviceQuery) -> Result<wd::DevicePage, wt::Error> {
        let query = devices::DeviceQuery { query: q.query, count: q.count, offset: q.offset };
        run(c, query, devices::search_devices, |p| wd::DevicePage {
            total_count: p.total_count,
            offset: p.offset,
            devices: p.devices.into_iter().map(device).collect(),
        })
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
