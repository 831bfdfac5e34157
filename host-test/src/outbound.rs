//! Outgoing HTTP for the component: the sandbox policy (which authorities it may reach) and the
//! sender (TCP, TLS with the platform's roots plus any CA the user trusts, HTTP/1.1).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context as _, bail};
use http_body_util::BodyExt;
use hyper_util::rt::TokioIo;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName};
use tokio::net::TcpStream;
use wasmtime_wasi_http::{Error as HttpError, RequestOptions, WasiBody};

pub mod tls;

/// Which destinations a component may reach: `scheme://host:port` triples, nothing else.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Policy {
    allowed: Vec<Destination>,
}

/// One allowed destination.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Destination {
    /// `http` or `https`.
    pub scheme: String,
    /// Lower-case host name or IP literal; an IPv6 literal without its URL brackets (`::1`), as
    /// a socket address and a TLS server name want it.
    pub host: String,
    /// Port, with the scheme's default filled in.
    pub port: u16,
}

impl Destination {
    /// Parses `scheme://host[:port]`.
    pub fn parse(url: &str) -> anyhow::Result<Self> {
        let uri: http::Uri = url.parse().with_context(|| format!("`{url}` is not a URL"))?;
        Self::of(&uri).with_context(|| format!("`{url}` has no scheme or host"))
    }

    /// The destination of an absolute URI; `None` without a scheme or host.
    pub fn of_uri(uri: &http::Uri) -> Option<Self> {
        Self::of(uri)
    }

    fn of(uri: &http::Uri) -> Option<Self> {
        let scheme = uri.scheme_str()?.to_ascii_lowercase();
        let host = uri.host()?.to_ascii_lowercase();
        // `http::Uri` keeps an IPv6 literal's brackets; connecting and TLS need the address alone.
        let host = match host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
            Some(inner) => inner.to_owned(),
            None => host,
        };
        let port = uri.port_u16().unwrap_or(if scheme == "https" { 443 } else { 80 });
        Some(Destination { scheme, host, port })
    }

    /// Whether the host is this machine: `localhost`, 127.0.0.0/8 or `::1` (plain http there
    /// never crosses a network).
    pub fn is_loopback(&self) -> bool {
        self.host == "localhost"
            || self.host.ends_with(".localhost")
            || self.host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
    }
}

impl std::fmt::Display for Destination {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.host.contains(':') {
            write!(f, "{}://[{}]:{}", self.scheme, self.host, self.port)
        } else {
            write!(f, "{}://{}:{}", self.scheme, self.host, self.port)
        }
    }
}

impl Policy {
    /// A policy that allows nothing.
    pub fn deny_all() -> Self {
        Policy::default()
    }

    /// A policy that allows exactly `destination`.
    pub fn only(destination: Destination) -> Self {
        Policy { allowed: vec![destination] }
    }

    /// Whether `uri` may be requested.
    pub fn allows(&self, uri: &http::Uri) -> bool {
        Destination::of(uri).is_some_and(|d| self.allowed.contains(&d))
    }
}

/// `only http://host:port`, or `nothing allowed`, for messages.
impl std::fmt::Display for Policy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.allowed.is_empty() {
            return f.write_str("nothing allowed");
        }
        let list: Vec<String> = self.allowed.iter().map(Destination::to_string).collect();
        write!(f, "only {}", list.join(", "))
    }
}

/// Sends requests the policy allowed. Built once per host; cheap to share.
pub struct Sender {
    tls: Arc<rustls::ClientConfig>,
    connect_timeout: Duration,
    idle: Mutex<HashMap<Destination, Vec<Idle>>>,
}

/// A kept-alive HTTP/1.1 connection waiting for its next request.
struct Idle {
    sender: hyper::client::conn::http1::SendRequest<WasiBody>,
    since: std::time::Instant,
}

/// Kept-alive connections per destination: enough for the pool of concurrent calls.
const MAX_IDLE_PER_DESTINATION: usize = 32;
/// An idle connection older than this is closed rather than reused (servers drop them too).
const IDLE_EXPIRY: Duration = Duration::from_secs(30);

/// Reads PEM certificates from `path` to trust in addition to the public roots.
pub fn load_ca_file(path: &std::path::Path) -> anyhow::Result<Vec<CertificateDer<'static>>> {
    let certs = CertificateDer::pem_file_iter(path)
        .with_context(|| format!("cannot read CA certificate file {}", path.display()))?
        .collect::<Result<Vec<_>, _>>()
        .with_context(|| format!("{} is not a PEM certificate file", path.display()))?;
    if certs.is_empty() {
        bail!("{} holds no PEM certificate (expected -----BEGIN CERTIFICATE-----)", path.display());
    }
    Ok(certs)
}

impl Sender {
    /// A sender trusting the bundled public roots plus `extra_roots`, and any certificate whose
    /// SHA-256 is in `pins` (see [`tls`]).
    pub fn new(
        extra_roots: &[CertificateDer<'static>],
        pins: &[tls::Fingerprint],
        connect_timeout: Duration,
    ) -> anyhow::Result<Self> {
        Self::with_trust(extra_roots, pins, false, connect_timeout)
    }

    /// [`Sender::new`], or with `pin_only` a sender that accepts only the pinned certificates
    /// and no CA chain at all (see [`tls::verifier_with`]).
    pub fn with_trust(
        extra_roots: &[CertificateDer<'static>],
        pins: &[tls::Fingerprint],
        pin_only: bool,
        connect_timeout: Duration,
    ) -> anyhow::Result<Self> {
        let mut roots = rustls::RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() };
        for cert in extra_roots {
            roots.add(cert.clone()).context("a CA certificate could not be used as a trust anchor")?;
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let verifier = tls::verifier_with(roots, pins, pin_only, provider.clone())?;
        // `dangerous()` only because the verifier is our own: it is webpki's plus pins.
        let tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .context("TLS configuration")?
            .dangerous()
            .with_custom_certificate_verifier(verifier)
            .with_no_client_auth();
        Ok(Sender { tls: Arc::new(tls), connect_timeout, idle: Mutex::new(HashMap::new()) })
    }

    /// Sends one request and returns the response once its head arrived; the body streams.
    pub async fn send(
        &self,
        mut request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
    ) -> Result<http::Response<WasiBody>, HttpError> {
        let dest = Destination::of(request.uri()).ok_or(HttpError::HttpRequestUriInvalid)?;
        // Only the path goes in the request line when not talking to a proxy.
        let path = request.uri().path_and_query().map_or("/", |p| p.as_str()).to_owned();
        *request.uri_mut() = path.parse().map_err(|_| HttpError::HttpRequestUriInvalid)?;

        // A kept-alive connection saves the TCP (and TLS) handshake; one that turns out closed
        // hands the request back unsent, and a new connection takes it.
        while let Some(mut idle) = self.take_idle(&dest) {
            match idle.try_send_request(request).await {
                Ok(response) => {
                    self.keep(dest, idle);
                    return Ok(response.map(|body| body.map_err(HttpError::from).boxed_unsync()));
                }
                Err(mut failed) => match failed.take_message() {
                    Some(unsent) => request = unsent,
                    None => return Err(HttpError::from(failed.into_error())),
                },
            }
        }

        let connect_timeout =
            options.and_then(|o| o.connect_timeout).unwrap_or(self.connect_timeout).min(self.connect_timeout);
        let tcp = tokio::time::timeout(connect_timeout, TcpStream::connect((dest.host.as_str(), dest.port)))
            .await
            .map_err(|_| HttpError::ConnectionTimeout)?
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::ConnectionRefused => HttpError::ConnectionRefused,
                _ => HttpError::Connect(e),
            })?;
        let _ = tcp.set_nodelay(true);

        let (response, sender) = if dest.scheme == "https" {
            let name = ServerName::try_from(dest.host.clone()).map_err(HttpError::InvalidDnsNameError)?;
            let tls = tokio::time::timeout(
                connect_timeout,
                tokio_rustls::TlsConnector::from(self.tls.clone()).connect(name, tcp),
            )
            .await
            .map_err(|_| HttpError::ConnectionTimeout)?
            .map_err(|e| tls::handshake_error(&dest, e))?;
            exchange(TokioIo::new(tls), request).await?
        } else {
            exchange(TokioIo::new(tcp), request).await?
        };
        self.keep(dest, sender);
        Ok(response.map(|body| body.map_err(HttpError::from).boxed_unsync()))
    }

    /// An idle connection to `dest` that can take a request now, if any.
    fn take_idle(&self, dest: &Destination) -> Option<hyper::client::conn::http1::SendRequest<WasiBody>> {
        let mut idle = self.idle.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let list = idle.get_mut(dest)?;
        list.retain(|c| !c.sender.is_closed() && c.since.elapsed() < IDLE_EXPIRY);
        // Not ready means its previous answer is still being read: leave it for later.
        let ready = list.iter().position(|c| c.sender.is_ready())?;
        Some(list.swap_remove(ready).sender)
    }

    /// Keeps a connection for reuse once its current answer has been read.
    fn keep(&self, dest: Destination, sender: hyper::client::conn::http1::SendRequest<WasiBody>) {
        let mut idle = self.idle.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let list = idle.entry(dest).or_default();
        list.retain(|c| !c.sender.is_closed() && c.since.elapsed() < IDLE_EXPIRY);
        if list.len() < MAX_IDLE_PER_DESTINATION {
            list.push(Idle { sender, since: std::time::Instant::now() });
        }
    }
}

async fn exchange<IO>(
    io: IO,
    request: http::Request<WasiBody>,
) -> Result<(http::Response<hyper::body::Incoming>, hyper::client::conn::http1::SendRequest<WasiBody>), HttpError>
where
    IO: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let (mut sender, connection) = hyper::client::conn::http1::handshake(io).await?;
    // The connection task ends when the server closes the connection, an answer is abandoned
    // half-read, or the last handle to it (the pool's) is dropped.
    tokio::spawn(async move {
        let _ = connection.await;
    });
    let response = sender.send_request(request).await?;
    Ok((response, sender))
}

/// An answer body holding one of its call's in-flight permits until it is read to the end or
/// dropped (see the runtime's `MAX_IN_FLIGHT_REQUESTS`).
pub struct Permitted<B> {
    inner: B,
    permit: Option<tokio::sync::OwnedSemaphorePermit>,
}

impl<B> Permitted<B> {
    /// Wraps `inner`, holding `permit`.
    pub fn new(inner: B, permit: tokio::sync::OwnedSemaphorePermit) -> Self {
        Permitted { inner, permit: Some(permit) }
    }
}

impl<B: hyper::body::Body + Unpin> hyper::body::Body for Permitted<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<hyper::body::Frame<Self::Data>, Self::Error>>> {
        let polled = std::pin::Pin::new(&mut self.inner).poll_frame(cx);
        if matches!(polled, std::task::Poll::Ready(None | Some(Err(_)))) {
            self.permit = None;
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        self.inner.size_hint()
    }
}

/// Limits on each answer a component reads, enforced on the host so a slow, silent or flooding
/// server ends in a wasi:http error the component maps to `timeout` or a size error, never in a
/// hang that only the call deadline would end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResponseLimits {
    /// From sending the request to the answer's head.
    pub first_byte: Duration,
    /// Longest pause between two parts of the body.
    pub between_bytes: Duration,
    /// Largest body; `None` derives it from the call's memory limit (see the runtime).
    pub max_body_bytes: Option<u64>,
}

impl Default for ResponseLimits {
    fn default() -> Self {
        ResponseLimits {
            first_byte: Duration::from_secs(30),
            between_bytes: Duration::from_secs(30),
            max_body_bytes: None,
        }
    }
}

impl Sender {
    /// [`Sender::send`] within limits: the head must arrive within the first-byte timeout (the
    /// component's own request option when shorter) and before `deadline`; the body then streams
    /// through [`LimitedBody`]. Waits past `deadline` are cut short so the component still gets
    /// a typed timeout before its call is stopped.
    pub async fn send_limited(
        &self,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        limits: ResponseLimits,
        max_body_bytes: u64,
        deadline: tokio::time::Instant,
    ) -> Result<http::Response<WasiBody>, HttpError> {
        let asked = |o: Option<Duration>, host: Duration| o.filter(|d| !d.is_zero()).map_or(host, |d| d.min(host));
        let first_byte = asked(options.and_then(|o| o.first_byte_timeout), limits.first_byte);
        let between_bytes = asked(options.and_then(|o| o.between_bytes_timeout), limits.between_bytes);
        let until = (tokio::time::Instant::now() + first_byte).min(deadline);
        let response = tokio::time::timeout_at(until, self.send(request, options))
            .await
            .map_err(|_| HttpError::ConnectionReadTimeout)??;
        Ok(response.map(|body| LimitedBody::new(body, between_bytes, max_body_bytes, deadline).boxed_unsync()))
    }
}

/// A response body that fails with `ConnectionReadTimeout` when a pause between parts exceeds its
/// limit, `HttpResponseTimeout` at the call's deadline (a server dribbling a byte at a time never
/// trips the pause limit), and `HttpResponseBodySize` once more than its byte limit arrived.
pub struct LimitedBody {
    inner: WasiBody,
    between_bytes: Duration,
    pause: std::pin::Pin<Box<tokio::time::Sleep>>,
    deadline: std::pin::Pin<Box<tokio::time::Sleep>>,
    received: u64,
    max_bytes: u64,
    done: bool,
}

impl LimitedBody {
    /// Wraps `inner`; the clocks start now.
    pub fn new(inner: WasiBody, between_bytes: Duration, max_bytes: u64, deadline: tokio::time::Instant) -> Self {
        LimitedBody {
            inner,
            between_bytes,
            pause: Box::pin(tokio::time::sleep(between_bytes)),
            deadline: Box::pin(tokio::time::sleep_until(deadline)),
            received: 0,
            max_bytes,
            done: false,
        }
    }

    fn fail(
        &mut self,
        error: HttpError,
    ) -> std::task::Poll<Option<Result<hyper::body::Frame<bytes::Bytes>, HttpError>>> {
        // One error ends the body; later polls see its end, not a second error.
        self.done = true;
        std::task::Poll::Ready(Some(Err(error)))
    }
}

impl hyper::body::Body for LimitedBody {
    type Data = bytes::Bytes;
    type Error = HttpError;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<hyper::body::Frame<Self::Data>, Self::Error>>> {
        use std::task::Poll;
        if self.done {
            return Poll::Ready(None);
        }
        match std::pin::Pin::new(&mut self.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                let len = frame.data_ref().map_or(0, |d| d.len() as u64);
                self.received = self.received.saturating_add(len);
                if self.received > self.max_bytes {
                    let max = self.max_bytes;
                    return self.fail(HttpError::HttpResponseBodySize(Some(max)));
                }
                let next = tokio::time::Instant::now() + self.between_bytes;
                self.pause.as_mut().reset(next);
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(e))) => self.fail(e),
            Poll::Ready(None) => {
                self.done = true;
                Poll::Ready(None)
            }
            Poll::Pending => {
                if self.deadline.as_mut().poll(cx).is_ready() {
                    return self.fail(HttpError::HttpResponseTimeout);
                }
                if self.pause.as_mut().poll(cx).is_ready() {
                    return self.fail(HttpError::ConnectionReadTimeout);
                }
                Poll::Pending
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.done || self.inner.is_end_stream()
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_ipv6_literal_is_kept_without_brackets_for_connect_and_tls_and_shown_with_them() {
        let d = Destination::parse("https://[::1]:8443").unwrap();
        assert_eq!((d.host.as_str(), d.port), ("::1", 8443));
        assert_eq!(d.to_string(), "https://[::1]:8443");
        assert!(matches!(ServerName::try_from(d.host.clone()).unwrap(), ServerName::IpAddress(_)));
        assert!(Policy::only(d).allows(&"https://[::1]:8443/status".parse().unwrap()));
    }

    #[test]
    fn loopback_is_localhost_127_and_ipv6_one_and_nothing_else() {
        for url in ["http://localhost", "http://127.0.0.1:80", "http://127.1.2.3", "http://[::1]:8080"] {
            assert!(Destination::parse(url).unwrap().is_loopback(), "{url}");
        }
        for url in ["http://10.0.0.1", "http://dt.example.com", "http://localhost.example.com", "http://[::2]"] {
            assert!(!Destination::parse(url).unwrap().is_loopback(), "{url}");
        }
    }
}
