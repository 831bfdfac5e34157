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
    let entry = cache_entry(&dir, &wasm, &config);
    let good = std::fs::read(&entry).unwrap();
    std::fs::write(&entry, b"not a precompiled component").unwrap();
    let host = Host::from_bytes(&wasm, config).expect("a corrupt entry is rebuilt");
    assert_eq!(host.identity(), "darktrace 0.1.0");
    assert_eq!(std::fs::read(&entry).unwrap().len(), good.len(), "the entry was rewritten");
    std::fs::remove_dir_all(&dir).ok();
}

/// An engine with the host's settings (no pooling by default), so its keys and native code match.
fn host_engine(config: &HostConfig) -> wasmtime::Engine {
    let mut engine_config = wasmtime::Config::new();
    engine_config.epoch_interruption(true);
    assert!(config.max_instances.is_none());
    wasmtime::Engine::new(&engine_config).unwrap()
}

/// The cache entry `config`'s host keeps for `wasm` in `dir`.
fn cache_entry(dir: &Path, wasm: &[u8], config: &HostConfig) -> std::path::PathBuf {
    host_test::cache::entry_paths(&host_engine(config), dir, wasm).0
}

/// The hostile component compiled to native code a host with `config` would load.
fn hostile_native(config: &HostConfig) -> Vec<u8> {
    let hostile = std::fs::read(&*super::sandbox::HOSTILE_WASM).unwrap();
    wasmtime::component::Component::new(&host_engine(config), &hostile).unwrap().serialize().unwrap()
}

/// A fresh cache directory holding the connector's entry and the hostile component's entry,
/// both written by this user's hosts: (dir, connector wasm, connector entry, hostile entry, config).
fn cache_with_two_entries(
    tag: &str,
) -> (std::path::PathBuf, Vec<u8>, std::path::PathBuf, std::path::PathBuf, HostConfig) {
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("cache-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let config = HostConfig { cache_dir: Some(dir.clone()), ..HostConfig::default() };
    let wasm = std::fs::read(host_test::CONNECTOR_WASM).unwrap();
    let hostile = std::fs::read(&*super::sandbox::HOSTILE_WASM).unwrap();
    Host::from_bytes(&wasm, config.clone()).unwrap();
    Host::from_bytes(&hostile, config.clone()).unwrap();
    let (connector_entry, hostile_entry) = (cache_entry(&dir, &wasm, &config), cache_entry(&dir, &hostile, &config));
    assert!(connector_entry.exists() && hostile_entry.exists());
    (dir, wasm, connector_entry, hostile_entry, config)
}

/// The hostile component's native code as an attacker would plant it under the connector's
/// entry name: with an HMAC tag made with `key` appended, or (`None`) as earlier versions stored
/// an entry: the bytes alone, their SHA-256 in the `.sha256` file beside them.
fn plant(connector_entry: &Path, native: &[u8], key: Option<&[u8]>) {
    use hmac::{KeyInit as _, Mac as _};
    use sha2::Digest as _;
    let native = native.to_vec();
    let tag: Vec<u8> = match key {
        Some(key) => {
            let name = connector_entry.file_stem().unwrap().to_str().unwrap();
            let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(key).unwrap();
            mac.update(&(name.len() as u64).to_le_bytes());
            mac.update(name.as_bytes());
            mac.update(&native);
            mac.finalize().into_bytes().to_vec()
        }
        None => {
            std::fs::write(connector_entry.with_extension("sha256"), hex::encode(sha2::Sha256::digest(&native)))
                .unwrap();
            Vec::new()
        }
    };
    std::fs::write(connector_entry, [native, tag].concat()).unwrap();
}

#[test]
fn other_native_code_planted_in_the_cache_with_a_recomputed_checksum_is_not_run() {
    let (dir, wasm, connector_entry, hostile_entry, config) = cache_with_two_entries("planted");
    plant(&connector_entry, &hostile_native(&config), None);
    let host = Host::from_bytes(&wasm, config.clone()).unwrap();
    assert_eq!(host.identity(), "darktrace 0.1.0", "the planted native code ran");
    // A whole entry of ours, with its valid tag, moved under another name does not verify either.
    std::fs::copy(&hostile_entry, &connector_entry).unwrap();
    let host = Host::from_bytes(&wasm, config).unwrap();
    assert_eq!(host.identity(), "darktrace 0.1.0", "an entry moved under another name ran");
    std::fs::remove_dir_all(&dir).ok();
}

#[cfg(unix)]
#[test]
fn the_cache_is_private_and_refused_when_others_could_have_written_it() {
    use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
    let (dir, wasm, connector_entry, _hostile_entry, config) = cache_with_two_entries("private");
    let mode = |p: &Path| std::fs::metadata(p).unwrap().mode() & 0o777;
    assert_eq!(mode(&dir), 0o700);
    assert_eq!(mode(&connector_entry), 0o600);
    assert_eq!(mode(&dir.join(host_test::cache::KEY_FILE)), 0o600);
    // Control: code tagged with this user's key is what the cache runs (only this user, or root,
    // can read the key; they need no cache to run code as this user).
    let key = std::fs::read(dir.join(host_test::cache::KEY_FILE)).unwrap();
    let native = hostile_native(&config);
    plant(&connector_entry, &native, Some(&key));
    assert_eq!(Host::from_bytes(&wasm, config.clone()).unwrap().identity(), "hostile 0.0.0");
    // The same authentic entry is refused once others may write the directory or the entry...
    let load = || Host::from_bytes(&wasm, config.clone()).unwrap().identity().to_owned();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
    assert_eq!(load(), "darktrace 0.1.0", "used a cache directory writable by others");
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
    plant(&connector_entry, &native, Some(&key));
    std::fs::set_permissions(&connector_entry, std::fs::Permissions::from_mode(0o666)).unwrap();
    assert_eq!(load(), "darktrace 0.1.0", "used an entry writable by others");
    // ...or when it is a symlink, or owned by another user (checkable only as root).
    plant(&connector_entry, &native, Some(&key));
    let elsewhere = dir.with_extension("elsewhere");
    std::fs::rename(&connector_entry, &elsewhere).unwrap();
    std::os::unix::fs::symlink(&elsewhere, &connector_entry).unwrap();
    assert_eq!(load(), "darktrace 0.1.0", "followed a symlinked entry");
    assert!(!std::fs::symlink_metadata(&connector_entry).unwrap().file_type().is_symlink(), "replaced by a file");
    plant(&connector_entry, &native, Some(&key));
    if std::os::unix::fs::chown(&connector_entry, Some(65534), None).is_ok() {
        assert_eq!(std::fs::metadata(&connector_entry).unwrap().uid(), 65534);
        assert_eq!(load(), "darktrace 0.1.0", "used an entry owned by another user");
    }
    std::fs::remove_dir_all(&dir).ok();
    std::fs::remove_file(&elsewhere).ok();
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
