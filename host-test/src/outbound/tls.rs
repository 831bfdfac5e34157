//! Server certificate checks for HTTPS: the usual webpki verification against the public roots
//! plus any CA the user trusts (`--ca-cert`), and pinning of one appliance's own certificate by
//! its SHA-256 fingerprint (`--pin`).
//!
//! The rule, chosen because it can only widen trust to exactly the certificates the user named:
//! a leaf certificate whose SHA-256 (over its DER bytes) equals a pin is accepted for the
//! connection's host even when it is self-signed, expired or issued for another name (a pin is
//! the user's decision about that exact certificate); any other certificate is verified normally.
//! In every case the handshake signature is still checked against the presented certificate's
//! key, so a peer that merely replays a pinned certificate without its private key is refused.
//! There is deliberately no switch that turns verification off. The strict mode (`--pin-only`)
//! narrows trust instead: only pinned certificates are accepted and no CA chain is consulted,
//! so neither a public CA nor a `--ca-cert` one can vouch for a man in the middle.

use std::fmt;
use std::sync::Arc;

use anyhow::Context as _;
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::{CertificateError, DigitallySignedStruct, DistinguishedName, OtherError, RootCertStore, SignatureScheme};
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};
use sha2::{Digest as _, Sha256};
use wasmtime_wasi_http::Error as HttpError;

/// A SHA-256 fingerprint of a certificate's DER bytes.
pub type Fingerprint = [u8; 32];

/// The SHA-256 fingerprint of a DER certificate, as `openssl x509 -fingerprint -sha256` computes it.
pub fn fingerprint(der: &[u8]) -> Fingerprint {
    Sha256::digest(der).into()
}

/// Formats a fingerprint as upper-case hex pairs joined by colons (OpenSSL's style), which
/// [`parse_fingerprint`] reads back.
pub fn format_fingerprint(fp: &Fingerprint) -> String {
    fp.iter().map(|b| format!("{b:02X}")).collect::<Vec<_>>().join(":")
}

/// Parses a SHA-256 fingerprint: 64 hex digits, any case, colons allowed between them
/// (`ab12...` or `AB:12:...`, as OpenSSL and browsers print it).
pub fn parse_fingerprint(text: &str) -> anyhow::Result<Fingerprint> {
    const HOW: &str = "expected the certificate's SHA-256 as 64 hex digits, colons allowed \
        (`openssl x509 -in cert.pem -noout -fingerprint -sha256` prints it)";
    let digits: String = text.trim().chars().filter(|&c| c != ':').collect();
    if let Some(bad) = digits.chars().find(|c| !c.is_ascii_hexdigit()) {
        anyhow::bail!("`{text}` is not a SHA-256 fingerprint: `{bad}` is not a hex digit; {HOW}");
    }
    if digits.len() != 64 {
        anyhow::bail!("`{text}` is not a SHA-256 fingerprint: it has {} hex digits, not 64; {HOW}", digits.len());
    }
    let mut fp = [0u8; 32];
    hex::decode_to_slice(&digits, &mut fp).with_context(|| format!("`{text}` is not a SHA-256 fingerprint; {HOW}"))?;
    Ok(fp)
}

/// The certificate verifier for a host: webpki over `roots`, plus `pins` (see the module doc).
pub fn verifier(
    roots: RootCertStore,
    pins: &[Fingerprint],
    provider: Arc<CryptoProvider>,
) -> anyhow::Result<Arc<dyn ServerCertVerifier>> {
    verifier_with(roots, pins, false, provider)
}

/// [`verifier`], or with `pin_only` one that accepts exactly the pinned leaf certificates and
/// refuses every other, whatever CA signed it.
pub fn verifier_with(
    roots: RootCertStore,
    pins: &[Fingerprint],
    pin_only: bool,
    provider: Arc<CryptoProvider>,
) -> anyhow::Result<Arc<dyn ServerCertVerifier>> {
    if pin_only && pins.is_empty() {
        anyhow::bail!("pin-only TLS needs at least one pinned certificate fingerprint (--pin)");
    }
    let webpki = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .build()
        .context("cannot build the TLS certificate verifier from the trusted roots")?;
    Ok(Arc::new(PinningVerifier { webpki, pins: pins.to_vec(), pin_only, provider }))
}

/// webpki verification, bypassed only for a leaf certificate whose SHA-256 is pinned.
#[derive(Debug)]
struct PinningVerifier {
    webpki: Arc<WebPkiServerVerifier>,
    pins: Vec<Fingerprint>,
    /// Refuse every certificate that is not pinned, without consulting webpki.
    pin_only: bool,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for PinningVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let presented = fingerprint(end_entity);
        if self.pins.contains(&presented) {
            return Ok(ServerCertVerified::assertion());
        }
        if self.pin_only {
            return Err(rustls::Error::InvalidCertificate(CertificateError::Other(OtherError(Arc::new(Untrusted {
                cause: CertificateError::ApplicationVerificationFailure,
                presented,
                pins: self.pins.len(),
                pin_only: true,
            })))));
        }
        self.webpki.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now).map_err(
            |e| match e {
                // Carry what the user needs to fix it (the fingerprint, whether pins were tried) to
                // `handshake_error`, which turns it into one message.
                rustls::Error::InvalidCertificate(cause) => {
                    rustls::Error::InvalidCertificate(CertificateError::Other(OtherError(Arc::new(Untrusted {
                        cause,
                        presented,
                        pins: self.pins.len(),
                        pin_only: false,
                    }))))
                }
                other => other,
            },
        )
    }

    // The handshake signatures are checked with the provider's algorithms whether or not the
    // certificate was pinned: this is what proves the server holds the certificate's key.
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider.signature_verification_algorithms.supported_schemes()
    }

    fn root_hint_subjects(&self) -> Option<&[DistinguishedName]> {
        self.webpki.root_hint_subjects()
    }
}

/// A certificate that failed verification and matched no pin.
#[derive(Debug)]
struct Untrusted {
    cause: CertificateError,
    presented: Fingerprint,
    pins: usize,
    pin_only: bool,
}

impl fmt::Display for Untrusted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.pin_only {
            return write!(
                f,
                "only pinned certificates are accepted (pin-only), and its SHA-256 matches none of the {} pinned \
                 fingerprint(s), whatever CA signed it",
                self.pins
            );
        }
        match &self.cause {
            // rustls prints these two as bare variant names; say what they mean.
            CertificateError::UnknownIssuer => {
                f.write_str("it is not signed by a trusted certificate authority (self-signed, or a private CA)")?
            }
            CertificateError::BadSignature => f.write_str("its signature does not verify")?,
            cause => write!(f, "{cause}")?,
        }
        if self.pins > 0 {
            write!(f, ", and its SHA-256 matches none of the {} pinned fingerprint(s)", self.pins)?;
        }
        Ok(())
    }
}

impl std::error::Error for Untrusted {}

/// The error for a failed TLS handshake with `dest`: an untrusted certificate becomes a message
/// that names TLS, says why, gives the presented certificate's SHA-256 and says how to trust it;
/// other failures stay TLS errors.
pub fn handshake_error(dest: &impl fmt::Display, error: std::io::Error) -> HttpError {
    let untrusted = error.get_ref().and_then(|inner| inner.downcast_ref::<rustls::Error>()).and_then(|e| match e {
        rustls::Error::InvalidCertificate(CertificateError::Other(OtherError(other))) => {
            other.downcast_ref::<Untrusted>()
        }
        _ => None,
    });
    match untrusted {
        // The component reports an internal error's text as is, so this reaches the user whole.
        Some(u) => HttpError::InternalError(Some(format!(
            "TLS: the certificate of {dest} is not trusted: {u}; trust its CA with --ca-cert FILE, or pin this certificate \
             with --pin SHA256 after checking that {} is the appliance's own certificate fingerprint",
            format_fingerprint(&u.presented)
        ))),
        None => HttpError::Tls(error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEX: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn a_fingerprint_parses_from_plain_hex_in_either_case() {
        let lower = parse_fingerprint(HEX).unwrap();
        assert_eq!(lower[0], 0x01);
        assert_eq!(lower[31], 0xef);
        assert_eq!(parse_fingerprint(&HEX.to_ascii_uppercase()).unwrap(), lower);
    }

    #[test]
    fn a_fingerprint_parses_with_colons_as_openssl_prints_it() {
        let fp = parse_fingerprint(HEX).unwrap();
        let printed = format_fingerprint(&fp);
        assert_eq!(printed.len(), 32 * 3 - 1);
        assert!(printed.starts_with("01:23:45:67:89:AB"));
        assert_eq!(parse_fingerprint(&printed).unwrap(), fp);
        assert_eq!(parse_fingerprint(&format!("  {}\n", printed.to_ascii_lowercase())).unwrap(), fp);
    }

    #[test]
    fn a_malformed_fingerprint_is_refused_with_what_was_wrong() {
        let short = parse_fingerprint(&HEX[..62]).unwrap_err().to_string();
        assert!(short.contains("62 hex digits, not 64"), "{short}");
        let long = parse_fingerprint(&format!("{HEX}00")).unwrap_err().to_string();
        assert!(long.contains("66 hex digits"), "{long}");
        let bad = parse_fingerprint(&HEX.replace('a', "g")).unwrap_err().to_string();
        assert!(bad.contains("`g` is not a hex digit") && bad.contains("openssl x509"), "{bad}");
        assert!(parse_fingerprint("").unwrap_err().to_string().contains("0 hex digits"));
        assert!(parse_fingerprint("sha256:ab").is_err(), "a prefix is not part of the fingerprint");
    }

    #[test]
    fn the_fingerprint_is_the_sha256_of_the_der_bytes() {
        // SHA-256 of the empty string, a known answer.
        assert_eq!(hex::encode(fingerprint(b"")), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    }

    fn self_signed() -> CertificateDer<'static> {
        let key = rcgen::KeyPair::generate().unwrap();
        let params = rcgen::CertificateParams::new(vec!["appliance.example".to_owned()]).unwrap();
        params.self_signed(&key).unwrap().der().clone()
    }

    fn check(pins: &[Fingerprint], cert: &CertificateDer<'_>, name: &str) -> Result<ServerCertVerified, rustls::Error> {
        check_with(pins, false, &[], cert, name)
    }

    fn check_with(
        pins: &[Fingerprint],
        pin_only: bool,
        cas: &[CertificateDer<'static>],
        cert: &CertificateDer<'_>,
        name: &str,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut roots = RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() };
        for ca in cas {
            roots.add(ca.clone()).unwrap();
        }
        let v = verifier_with(roots, pins, pin_only, provider).unwrap();
        let name = ServerName::try_from(name.to_owned()).unwrap();
        v.verify_server_cert(cert, &[], &name, &[], UnixTime::now())
    }

    #[test]
    fn a_pinned_self_signed_certificate_is_accepted_even_for_another_name() {
        let cert = self_signed();
        let pins = [[7u8; 32], fingerprint(&cert)];
        assert!(check(&pins, &cert, "appliance.example").is_ok());
        assert!(check(&pins, &cert, "10.0.0.5").is_ok(), "the pin is the trust decision, whatever the name");
    }

    #[test]
    fn in_pin_only_mode_a_certificate_signed_by_a_trusted_ca_is_refused_unless_pinned() {
        let cert = self_signed();
        // The certificate is its own trusted CA here: webpki alone would accept it.
        assert!(check_with(&[[7u8; 32]], false, std::slice::from_ref(&cert), &cert, "appliance.example").is_ok());
        let err = check_with(&[[7u8; 32]], true, std::slice::from_ref(&cert), &cert, "appliance.example").unwrap_err();
        let io = std::io::Error::new(std::io::ErrorKind::InvalidData, err);
        let message = handshake_error(&"https://appliance.example:443", io).to_string();
        assert!(message.contains("only pinned certificates are accepted"), "{message}");
        assert!(check_with(&[fingerprint(&cert)], true, &[], &cert, "appliance.example").is_ok());
    }

    #[test]
    fn an_unpinned_self_signed_certificate_is_refused_with_its_fingerprint() {
        let cert = self_signed();
        let err = check(&[[7u8; 32]], &cert, "appliance.example").unwrap_err();
        let io = std::io::Error::new(std::io::ErrorKind::InvalidData, err);
        let message = handshake_error(&"https://appliance.example:443", io).to_string();
        assert!(message.contains("TLS: the certificate of https://appliance.example:443 is not trusted"), "{message}");
        assert!(message.contains("matches none of the 1 pinned"), "{message}");
        assert!(message.contains(&format_fingerprint(&fingerprint(&cert))), "{message}");
        assert!(message.contains("--ca-cert") && message.contains("--pin"), "{message}");
    }
}
