//! The host: sandbox policy, transport failures, what goes on the wire, the component cache and imports, end to end.

use super::support::*;

#[tokio::test]
async fn bad_inputs_are_invalid_input_and_send_nothing() {
    let (sim, conn) = simulator().await;
    for (action, input, field) in [
        ("list-model-breaches", json!({"min_score": 1.5}), "min_score"),
        ("list-model-breaches", json!({"start": 1705311000000i64}), "end"),
        ("list-model-breaches", json!({"minscore": 0.5}), "minscore"),
        ("list-model-breaches", json!({"start": 1705311000, "end": 1705314600}), "seconds"),
        ("get-model-breach", json!({"pbid": "12"}), "pbid"),
        ("get-model-breach", json!({}), "pbid"),
        ("add-model-breach-comment", json!({"pbid": 1, "message": ""}), "message"),
        ("search-devices", json!({"query": "x", "count": 0}), "count"),
        ("no-such-action", json!({}), "list-model-breaches"),
    ] {
        let err = invoke(&conn, action, input.clone()).await.unwrap_err();
        assert_eq!(err.case(), "invalid-input", "{action} {input}");
        assert!(err.message().contains(field), "{action} {input}: {}", err.message());
    }
    let raw = HOST.invoke(&conn, "get-device", "{\"did\": ").await.unwrap().unwrap_err();
    assert_eq!(raw.case(), "invalid-input");
    assert!(sim.requests().is_empty(), "bad input must not reach the appliance");
}

#[tokio::test]
async fn requests_outside_the_policy_are_denied_by_the_host() {
    let (sim, conn) = simulator().await;
    let elsewhere = Policy::only(Destination::parse("https://dt.example.com").unwrap());
    let err = HOST.invoke_with_policy(&conn, elsewhere, "test-connection", "{}").await.unwrap_err();
    assert_eq!(err.kind(), host_test::runtime::CallErrorKind::Denied, "{err}");
    assert!(err.message().contains(&format!("http://127.0.0.1:{}", sim.addr().port())), "{err}");
    assert!(err.message().contains("only https://dt.example.com:443"), "{err}");
    assert!(sim.requests().is_empty(), "a denied request must not leave the host");
}

#[tokio::test]
async fn unreachable_appliance_is_a_transport_error() {
    // Bind then drop a listener to get a port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let conn = ConnectionParams {
        api_address: format!("http://127.0.0.1:{port}"),
        public_token: "p".into(),
        private_token: "s".into(),
        ..Default::default()
    };
    let err = invoke(&conn, "test-connection", json!({})).await.unwrap_err();
    assert_eq!(err.case(), "transport");
    assert!(err.message().contains("refused"), "{}", err.message());
}

#[tokio::test]
async fn requests_carry_the_dtapi_headers_and_never_the_private_token() {
    let (sim, conn) = simulator().await;
    invoke(&conn, "list-model-breaches", json!({})).await.unwrap();
    invoke(&conn, "add-model-breach-comment", json!({"pbid": sim.known_pbids()[1], "message": "x"})).await.unwrap();
    let requests = sim.requests();
    assert!(requests.len() >= 2);
    for r in &requests {
        let names: Vec<String> = r.headers.iter().map(|(k, _)| k.to_ascii_lowercase()).collect();
        for h in ["dtapi-token", "dtapi-date", "dtapi-signature"] {
            assert!(names.contains(&h.to_owned()), "{h} missing on {}", r.path_and_query);
        }
        assert!(r.headers.iter().all(|(_, v)| !v.contains(&conn.private_token)), "private token sent in a header");
        assert!(!String::from_utf8_lossy(&r.body).contains(&conn.private_token));
        assert!(!r.path_and_query.contains(&conn.private_token));
        assert_eq!(r.status, 200, "{}", r.path_and_query);
    }
}

#[test]
fn a_corrupt_cache_entry_is_rebuilt_not_trusted() {
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("cache-test-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let wasm = std::fs::read(host_test::CONNECTOR_WASM).unwrap();
    let config = HostConfig { cache_dir: Some(dir.clone()), ..HostConfig::default() };
    Host::from_bytes(&wasm, config.clone()).expect("first load compiles and writes the cache");
    let entry = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|x| x == "cwasm"))
        .expect("a cache entry");
    let good = std::fs::read(&entry).unwrap();
    std::fs::write(&entry, b"not a precompiled component").unwrap();
    let host = Host::from_bytes(&wasm, config).expect("a corrupt entry is rebuilt");
    assert_eq!(host.identity(), "darktrace 0.1.0");
    assert_eq!(std::fs::read(&entry).unwrap().len(), good.len(), "the entry was rewritten");
    std::fs::remove_dir_all(&dir).ok();
}

/// The README lists every import of the built component, and nothing else may appear.
#[test]
fn the_component_imports_exactly_what_the_readme_lists() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md")).unwrap();
    let section = readme
        .split("<!-- imports:start -->")
        .nth(1)
        .and_then(|s| s.split("<!-- imports:end -->").next())
        .expect("imports section in README");
    let mut listed: Vec<String> = section
        .lines()
        .filter_map(|l| l.trim().strip_prefix("| `").and_then(|l| l.split('`').next()).map(str::to_owned))
        .collect();
    let mut actual = HOST.imports().to_vec();
    listed.sort();
    actual.sort();
    assert_eq!(actual, listed, "update the README's import table (and say why a new import is needed)");
}
