//! HTTPS to an appliance with its own self-signed certificate (the simulator with `tls: true`):
//! refused by default, trusted through its CA certificate or a SHA-256 pin, refused with a wrong
//! pin, and a pinned host still reaching a plain-HTTP appliance.

use std::sync::Mutex;

use host_test::outbound::load_ca_file;
use host_test::outbound::tls::Fingerprint;
use rustls_pki_types::pem::PemObject as _;

use super::support::*;

/// Loads are serialised so the first one compiles and writes the cache and the others read it.
static LOADING: Mutex<()> = Mutex::new(());

/// A host of its own with these trust settings, loading the component from the tests' cache.
fn host_trusting(ca_pem: Option<&str>, pins: Vec<Fingerprint>) -> Host {
    let ca_certs = match ca_pem {
        Some(pem) => {
            let file = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!(
                "simulator-ca-{}-{:x}.pem",
                std::process::id(),
                file_tag(pem)
            ));
            std::fs::write(&file, pem).expect("write the simulator's certificate");
            let certs = load_ca_file(&file).expect("the simulator's PEM is a certificate file");
            std::fs::remove_file(&file).ok();
            certs
        }
        None => Vec::new(),
    };
    let cache_dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("component-cache");
    let config = HostConfig { ca_certs, pins, cache_dir: Some(cache_dir), ..HostConfig::default() };
    let _one_at_a_time = LOADING.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    Host::from_bytes(&std::fs::read(host_test::CONNECTOR_WASM).expect("the built component"), config)
        .expect("load the component")
}

/// A file-name suffix that differs between certificates, so parallel tests never share a file.
fn file_tag(pem: &str) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    pem.hash(&mut h);
    h.finish()
}

async fn https_simulator() -> (Simulator, ConnectionParams) {
    simulator_with(SimulatorConfig { tls: true, ..Default::default() }).await
}

async fn test_connection(host: &Host, conn: &ConnectionParams) -> Result<String, GuestError> {
    host.invoke(conn, "test-connection", "{}").await.expect("no trap")
}

#[tokio::test]
async fn the_https_simulator_serves_a_self_signed_certificate_for_its_url() {
    let (sim, conn) = https_simulator().await;
    assert!(conn.api_address.starts_with("https://127.0.0.1:"), "{}", conn.api_address);
    let pem = sim.certificate_pem().expect("a TLS simulator has a certificate");
    assert!(pem.starts_with("-----BEGIN CERTIFICATE-----"), "{pem}");
    let der = rustls_pki_types::CertificateDer::from_pem_slice(pem.as_bytes()).expect("one PEM certificate");
    assert_eq!(sim.certificate_sha256(), Some(host_test::outbound::tls::fingerprint(&der)));
    let (plain, _) = simulator().await;
    assert!(plain.certificate_pem().is_none() && plain.url().starts_with("http://"));
}

#[tokio::test]
async fn a_default_host_refuses_the_self_signed_certificate_and_says_how_to_trust_it() {
    let (sim, conn) = https_simulator().await;
    let err = test_connection(&host_trusting(None, Vec::new()), &conn).await.unwrap_err();
    assert_eq!(err.case(), "transport", "{}", err.message());
    let message = err.message();
    assert!(message.contains("TLS") && message.contains("not trusted"), "{message}");
    assert!(message.contains("--ca-cert") && message.contains("--pin"), "{message}");
    let sha256 = host_test::outbound::tls::format_fingerprint(&sim.certificate_sha256().unwrap());
    assert!(message.contains(&sha256), "the presented certificate's SHA-256 is shown: {message}");
    assert!(sim.requests().is_empty(), "nothing is sent over an untrusted connection");
}

#[tokio::test]
async fn a_host_trusting_the_simulators_certificate_as_a_ca_connects() {
    let (sim, conn) = https_simulator().await;
    let host = host_trusting(sim.certificate_pem(), Vec::new());
    test_connection(&host, &conn).await.expect("the certificate verifies against its own CA entry");
    let breaches = host.invoke(&conn, "list-model-breaches", "{}").await.unwrap().expect("an action over HTTPS");
    assert!(breaches.starts_with('['), "{breaches}");
    assert_eq!(sim.requests().len(), 2);
}

#[tokio::test]
async fn a_host_with_the_right_pin_connects_and_still_reaches_a_plain_http_appliance() {
    let (sim, conn) = https_simulator().await;
    let host = host_trusting(None, vec![[0xAB; 32], sim.certificate_sha256().unwrap()]);
    test_connection(&host, &conn).await.expect("a pinned certificate is accepted");
    assert_eq!(sim.requests().len(), 1);

    let (plain, plain_conn) = simulator().await;
    test_connection(&host, &plain_conn).await.expect("pins change nothing for plain HTTP");
    assert_eq!(plain.requests().len(), 1);
}

#[tokio::test]
async fn a_host_with_a_wrong_pin_refuses_and_says_no_pin_matched() {
    let (sim, conn) = https_simulator().await;
    let mut wrong = sim.certificate_sha256().unwrap();
    wrong[0] ^= 1;
    let host = host_trusting(None, vec![wrong]);
    let err = test_connection(&host, &conn).await.unwrap_err();
    assert_eq!(err.case(), "transport", "{}", err.message());
    assert!(
        err.message().contains("TLS") && err.message().contains("matches none of the 1 pinned"),
        "{}",
        err.message()
    );
    assert!(sim.requests().is_empty());

    let (plain, plain_conn) = simulator().await;
    test_connection(&host, &plain_conn).await.expect("the same host still works for a plain-HTTP appliance");
    assert_eq!(plain.requests().len(), 1);
}
