//! Outgoing HTTP for the component: the sandbox policy (which authorities it may reach) and the
//! sender (TCP, TLS with the platform's roots plus any CA the user trusts, HTTP/1.1).

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, bail};
use http_body_util::BodyExt;
use hyper_util::rt::TokioIo;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName};
use tokio::net::TcpStream;
use wasmtime_wasi_http::{Error as HttpError, RequestOptions, WasiBody};

/// Which destinations a component may reach: `scheme://host:port` triples, nothing else.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Policy {
    allowed: Vec<Destination>,
}

/// One allowed destination.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Destination {
    /// `http` or `https`.
    pub scheme: String,
    /// Lower-case host name or IP literal.
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

    fn of(uri: &http::Uri) -> Option<Self> {
        let scheme = uri.scheme_str()?.to_ascii_lowercase();
        let host = uri.host()?.to_ascii_lowercase();
        let port = uri.port_u16().unwrap_or(if scheme == "https" { 443 } else { 80 });
        Some(Destination { scheme, host, port })
    }
}

impl std::fmt::Display for Destination {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}://{}:{}", self.scheme, self.host, self.port)
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

/// Sends requests the policy allowed. Built once per host; cheap to share.
pub struct Sender {
    tls: Arc<rustls::ClientConfig>,
    connect_timeout: Duration,
}

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
    /// A sender trusting the bundled public roots plus `extra_roots`.
    pub fn new(extra_roots: &[CertificateDer<'static>], connect_timeout: Duration) -> anyhow::Result<Self> {
        let mut roots = rustls::RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() };
        for cert in extra_roots {
            roots.add(cert.clone()).context("a CA certificate could not be used as a trust anchor")?;
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .context("TLS configuration")?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(Sender { tls: Arc::new(tls), connect_timeout })
    }

    /// Sends one request and returns the response once its head arrived; the body streams.
    pub async fn send(
        &self,
        mut request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
    ) -> Result<http::Response<WasiBody>, HttpError> {
        let dest = Destination::of(request.uri()).ok_or(HttpError::HttpRequestUriInvalid)?;
        let connect_timeout = options.and_then(|o| o.connect_timeout).unwrap_or(self.connect_timeout).min(self.connect_timeout);
        let tcp = tokio::time::timeout(connect_timeout, TcpStream::connect((dest.host.as_str(), dest.port)))
            .await
            .map_err(|_| HttpError::ConnectionTimeout)?
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::ConnectionRefused => HttpError::ConnectionRefused,
                _ => HttpError::Connect(e),
            })?;
        let _ = tcp.set_nodelay(true);

        // Only the path goes in the request line when not talking to a proxy.
        let path = request.uri().path_and_query().map_or("/", |p| p.as_str()).to_owned();
        *request.uri_mut() = path.parse().map_err(|_| HttpError::HttpRequestUriInvalid)?;

        let response = if dest.scheme == "https" {
            let name = ServerName::try_from(dest.host.clone()).map_err(HttpError::InvalidDnsNameError)?;
            let tls = tokio::time::timeout(
                connect_timeout,
                tokio_rustls::TlsConnector::from(self.tls.clone()).connect(name, tcp),
            )
            .await
            .map_err(|_| HttpError::ConnectionTimeout)?
            .map_err(HttpError::Tls)?;
            exchange(TokioIo::new(tls), request).await?
        } else {
            exchange(TokioIo::new(tcp), request).await?
        };
        Ok(response.map(|body| body.map_err(HttpError::from).boxed_unsync()))
    }
}

async fn exchange<IO>(io: IO, request: http::Request<WasiBody>) -> Result<http::Response<hyper::body::Incoming>, HttpError>
where
    IO: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let (mut sender, connection) = hyper::client::conn::http1::handshake(io).await?;
    // The connection task ends by itself when the response body is done or dropped.
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(sender.send_request(request).await?)
}
