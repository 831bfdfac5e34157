//! HTTPS for the simulator: a self-signed certificate generated at start (as a fresh appliance
//! has), and a listener that completes TLS handshakes before axum sees the connection.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

/// How long a client may take to finish its handshake; a silent one must not hold a slot.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The simulator's certificate, for tests and the CLI to trust or pin.
#[derive(Debug, Clone)]
pub(super) struct Certificate {
    /// PEM text of the certificate.
    pub(super) pem: String,
    /// SHA-256 of its DER bytes.
    pub(super) sha256: [u8; 32],
}

/// Generates a self-signed certificate for `127.0.0.1` and `localhost` (the simulator's URL uses
/// the IP address; the name is there for clients that prefer it) and the acceptor serving it.
pub(super) fn generate() -> anyhow::Result<(Certificate, TlsAcceptor)> {
    let mut params = rcgen::CertificateParams::default();
    params.subject_alt_names = vec![
        rcgen::SanType::IpAddress(IpAddr::V4(Ipv4Addr::LOCALHOST)),
        rcgen::SanType::DnsName("localhost".try_into().context("`localhost` as a certificate name")?),
    ];
    params.distinguished_name.push(rcgen::DnType::CommonName, "Darktrace simulator");
    params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
    let key = rcgen::KeyPair::generate().context("failed to generate the simulator's TLS key")?;
    let cert = params.self_signed(&key).context("failed to sign the simulator's TLS certificate")?;
    let der: CertificateDer<'static> = cert.der().clone();
    let private = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("the simulator's TLS configuration")?
        .with_no_client_auth()
        .with_single_cert(vec![der.clone()], private)
        .context("the simulator's TLS certificate and key do not fit together")?;
    let certificate = Certificate { pem: cert.pem(), sha256: crate::outbound::tls::fingerprint(&der) };
    Ok((certificate, TlsAcceptor::from(Arc::new(config))))
}

/// A listener that yields connections once their TLS handshake succeeded. Handshakes run in
/// their own tasks so a slow or failing client never delays the others; failed ones (a client
/// that refuses the certificate, say) are dropped, as a TLS server does.
pub(super) struct Listener {
    tcp: TcpListener,
    acceptor: TlsAcceptor,
    handshakes: JoinSet<Option<(TlsStream<TcpStream>, SocketAddr)>>,
}

impl Listener {
    /// Serves TLS with `acceptor` on the connections `tcp` accepts.
    pub(super) fn new(tcp: TcpListener, acceptor: TlsAcceptor) -> Self {
        Listener { tcp, acceptor, handshakes: JoinSet::new() }
    }
}

impl axum::serve::Listener for Listener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            tokio::select! {
                accepted = self.tcp.accept() => match accepted {
                    Ok((tcp, addr)) => {
                        let acceptor = self.acceptor.clone();
                        self.handshakes.spawn(async move {
                            let tls = tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await.ok()?.ok()?;
                            Some((tls, addr))
                        });
                    }
                    // Accept errors (a connection reset before it was taken, too many open
                    // files) pass; back off briefly as axum's own listener does.
                    Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
                },
                Some(done) = self.handshakes.join_next(), if !self.handshakes.is_empty() => {
                    if let Ok(Some(connection)) = done {
                        return connection;
                    }
                }
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.tcp.local_addr()
    }
}
