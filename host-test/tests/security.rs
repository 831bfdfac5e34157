//! The `host-test` binary against a local attacker and hostile input (issue 15): each test plays
//! one attack, and none of them may make the private token appear in any output.

mod common;

use std::path::PathBuf;

use common::{SECRET, against, checked, command, host_test, scratch, simulator, store_in, text};
use host_test::simulator::{Simulator, SimulatorConfig};

#[test]
fn numeric_flags_out_of_range_are_usage_errors_not_panics() {
    for args in [
        &["--timeout", "9223372036854775807", "actions"][..],
        &["--timeout", "0", "actions"],
        &["--memory", "18446744073709551615", "actions"],
        &["--max-attempts", "256", "actions"],
        &["--max-instances", "4294967296", "actions"],
        &["poll", "model-breaches", "--state-file", "/nonexistent/s", "--interval", "18446744073709551615"],
    ] {
        let out = host_test(args, &[]);
        let stderr = text(&out).1;
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        assert!(stderr.contains(args[0]) || stderr.contains(args[args.len() - 2]), "names the flag: {stderr}");
    }
}

#[test]
fn a_private_token_file_that_never_ends_is_refused_after_a_bound() {
    let args = ["--api-address", "http://127.0.0.1:9", "--public-token", "p", "--private-token-file", "/dev/zero"];
    let out = host_test(&[&args[..], &["test-connection"]].concat(), &[]);
    let stderr = text(&out).1;
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("/dev/zero is larger than"), "{stderr}");
}

#[test]
fn connections_list_never_prints_terminal_escape_sequences() {
    let dir = scratch("escapes");
    let store = store_in(&dir);
    let address = "https://dt.example.com\u{1b}]0;owned\u{7}\u{1b}[2J";
    let added = host_test(
        &["connections", "add", "lab", "--api-address", address, "--public-token", "p\u{1b}[31m", "--no-test"],
        &[("DARKTRACE_CONNECTIONS_FILE", &store), ("DARKTRACE_PRIVATE_TOKEN", SECRET)],
    );
    assert!(added.status.success(), "{}", text(&added).1);
    for args in [&["connections", "list"][..], &["connections", "list", "--json"]] {
        let out = host_test(args, &[("DARKTRACE_CONNECTIONS_FILE", &store)]);
        assert!(out.status.success(), "{}", text(&out).1);
        assert!(!out.stdout.iter().any(|&b| b == 0x1b || b == 0x07), "{:?}", text(&out).0);
        assert!(text(&out).0.contains("dt.example.com"), "{}", text(&out).0);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_relative_ca_cert_is_saved_as_an_absolute_path() {
    let sim = Simulator::start(SimulatorConfig { private_token: SECRET.into(), tls: true, ..Default::default() })
        .await
        .unwrap();
    let dir = scratch("relative-ca");
    std::fs::write(dir.join("ca.pem"), sim.certificate_pem().unwrap()).unwrap();
    let store = store_in(&dir);
    let (url, public) = (sim.url(), sim.public_token().to_owned());
    let (added, listed) = tokio::task::spawn_blocking(move || {
        let env = [("DARKTRACE_CONNECTIONS_FILE", store.as_str()), ("DARKTRACE_PRIVATE_TOKEN", SECRET)];
        let add =
            ["connections", "add", "lab", "--api-address", &url, "--public-token", &public, "--ca-cert", "ca.pem"];
        let added = checked(command(&env).current_dir(&dir).args(add).output().unwrap());
        (added, host_test(&["connections", "list", "--json"], &env))
    })
    .await
    .unwrap();
    assert!(added.status.success(), "{}", text(&added).1);
    let list: serde_json::Value = serde_json::from_str(&text(&listed).0).unwrap();
    let saved = PathBuf::from(list[0]["ca_cert"].as_str().unwrap());
    assert!(saved.is_absolute(), "{saved:?}");
    assert!(saved.ends_with("ca.pem") && saved.exists(), "{saved:?}");
}

#[test]
fn plain_http_to_another_host_is_refused_before_anything_is_sent_unless_allowed_and_saved() {
    // 192.0.2.1 is TEST-NET-1: nothing answers there, and nothing may be sent there.
    let env = [
        ("DARKTRACE_API_ADDRESS", "http://192.0.2.1:8080"),
        ("DARKTRACE_PUBLIC_TOKEN", "p"),
        ("DARKTRACE_PRIVATE_TOKEN", SECRET),
    ];
    let out = host_test(&["--timeout", "20", "test-connection"], &env);
    let stderr = text(&out).1;
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("plain http to http://192.0.2.1:8080 refused"), "{stderr}");
    assert!(stderr.contains("--allow-insecure-http"), "says how to allow it: {stderr}");
    // The explicit choice is saved with the connection.
    let dir = scratch("insecure-http");
    let store = store_in(&dir);
    let env = [("DARKTRACE_CONNECTIONS_FILE", store.as_str()), ("DARKTRACE_PRIVATE_TOKEN", SECRET)];
    let add = ["connections", "add", "lab", "--api-address", "http://192.0.2.1", "--public-token", "p"];
    assert!(host_test(&[&add[..], &["--no-test", "--allow-insecure-http"]].concat(), &env).status.success());
    let list: serde_json::Value =
        serde_json::from_str(&text(&host_test(&["connections", "list", "--json"], &env)).0).unwrap();
    assert_eq!(list[0]["allow_insecure_http"], true, "{list}");
}

#[tokio::test(flavor = "multi_thread")]
async fn plain_http_to_loopback_needs_no_flag() {
    let sim = simulator().await;
    let out = against(&sim, SECRET, &["test-connection"]).await;
    assert!(out.status.success(), "{}", text(&out).1);
}

#[tokio::test(flavor = "multi_thread")]
async fn conformance_writes_to_the_configured_appliance_only_with_live() {
    let sim = simulator().await;
    let out = against(&sim, SECRET, &["conformance"]).await;
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    assert!(stdout.contains("conformance:"), "{stdout}");
    assert!(stderr.contains("--live"), "says the connection was not used: {stderr}");
    assert!(sim.requests().is_empty(), "the configured appliance received {} requests", sim.requests().len());
}

#[test]
fn a_misspelt_or_empty_darktrace_variable_is_an_error_not_the_simulator() {
    for (name, value) in [("DARKTRACE_API_ADRESS", "https://dt.example.com"), ("DARKTRACE_PUBLIC_TOKEN", "")] {
        let out = host_test(&["run", "get-status"], &[(name, value)]);
        let stderr = text(&out).1;
        assert_eq!(out.status.code(), Some(2), "{name}: {stderr}");
        assert!(stderr.contains(name), "names the variable: {stderr}");
        assert!(!stderr.contains("embedded Darktrace simulator"), "{stderr}");
    }
    // A variable of another tool that only shares the prefix is not a connection setting.
    let out = host_test(&["run", "get-status"], &[("DARKTRACE_SDK_PYTHON", "python3")]);
    assert!(out.status.success(), "{}", text(&out).1);
}

#[cfg(unix)]
#[test]
fn a_store_readable_by_others_is_refused_with_the_chmod_to_run() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = scratch("store-mode");
    let store = store_in(&dir);
    let env = [("DARKTRACE_CONNECTIONS_FILE", store.as_str()), ("DARKTRACE_PRIVATE_TOKEN", SECRET)];
    let add = ["connections", "add", "lab", "--api-address", "https://dt.example.com", "--public-token", "p"];
    assert!(host_test(&[&add[..], &["--no-test"]].concat(), &env).status.success());
    assert_eq!(std::fs::metadata(&store).unwrap().permissions().mode() & 0o777, 0o600);
    std::fs::set_permissions(&store, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = host_test(&["connections", "list"], &env);
    let stderr = text(&out).1;
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("chmod 600"), "{stderr}");
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread")]
async fn a_symlink_planted_at_the_poll_state_file_is_replaced_not_followed() {
    let sim = simulator().await;
    let dir = scratch("poll-symlink");
    // A dangling link: the poll starts afresh, and its state must not land where the link points.
    let victim = dir.join("victim");
    let state = dir.join("poll.state");
    std::os::unix::fs::symlink(&victim, &state).unwrap();
    let file = state.to_string_lossy().into_owned();
    let out = against(&sim, SECRET, &["poll", "model-breaches", "--state-file", &file]).await;
    assert!(out.status.success(), "{}", text(&out).1);
    assert!(!victim.exists(), "the state was written through the link");
    assert!(std::fs::symlink_metadata(&state).unwrap().is_file());
    let names: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(names.len(), 1, "a temporary file was left behind: {names:?}");
}

#[cfg(target_os = "linux")]
#[test]
fn the_process_writes_no_core_dump() {
    let mut child = command(&[]).args(["simulator"]).stdout(std::process::Stdio::piped()).spawn().unwrap();
    // Its first line means it is up (and past the start-up code that turns dumps off).
    let mut line = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(child.stdout.as_mut().unwrap()), &mut line).unwrap();
    let limits = std::fs::read_to_string(format!("/proc/{}/limits", child.id())).unwrap();
    let _ = child.kill();
    let _ = child.wait();
    let core = limits.lines().find(|l| l.starts_with("Max core file size")).unwrap().to_owned();
    let fields: Vec<&str> = core.split_whitespace().collect();
    assert_eq!(&fields[4..6], ["0", "0"], "{core}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_simulator_keeps_no_body_of_an_unauthenticated_request() {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let sim = simulator().await;
    let body = vec![b'z'; 512 * 1024];
    let mut socket = tokio::net::TcpStream::connect(sim.addr()).await.unwrap();
    let head = format!(
        "POST /modelbreaches/1/comments HTTP/1.1\r\nhost: {}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        sim.addr(),
        body.len()
    );
    socket.write_all(head.as_bytes()).await.unwrap();
    socket.write_all(&body).await.unwrap();
    let mut answer = Vec::new();
    socket.read_to_end(&mut answer).await.unwrap();
    let log = sim.requests();
    assert_eq!(log.len(), 1);
    assert!(log[0].body.is_empty(), "kept {} bytes of an unauthenticated body", log[0].body.len());
}

#[tokio::test(flavor = "multi_thread")]
async fn pin_only_refuses_a_certificate_its_ca_vouches_for_unless_it_is_pinned() {
    let sim = Simulator::start(SimulatorConfig { private_token: SECRET.into(), tls: true, ..Default::default() })
        .await
        .unwrap();
    let dir = scratch("pin-only");
    let ca = dir.join("ca.pem");
    std::fs::write(&ca, sim.certificate_pem().unwrap()).unwrap();
    let right = host_test::outbound::tls::format_fingerprint(&sim.certificate_sha256().unwrap());
    let wrong = "AB".repeat(32);
    let (url, public, ca) = (sim.url(), sim.public_token().to_owned(), ca.to_string_lossy().into_owned());
    let [trusted_ca, pin_only_wrong, pin_only_right, no_pin] = tokio::task::spawn_blocking(move || {
        let env = [
            ("DARKTRACE_API_ADDRESS", url.as_str()),
            ("DARKTRACE_PUBLIC_TOKEN", public.as_str()),
            ("DARKTRACE_PRIVATE_TOKEN", SECRET),
        ];
        let run = |extra: &[&str]| host_test(&[extra, &["test-connection"]].concat(), &env);
        [
            run(&["--ca-cert", &ca, "--pin", &wrong]),
            run(&["--ca-cert", &ca, "--pin", &wrong, "--pin-only"]),
            run(&["--pin", &right, "--pin-only"]),
            run(&["--pin-only"]),
        ]
    })
    .await
    .unwrap();
    assert!(trusted_ca.status.success(), "without --pin-only the CA vouches: {}", text(&trusted_ca).1);
    let stderr = text(&pin_only_wrong).1;
    assert_eq!(pin_only_wrong.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("only pinned certificates are accepted"), "{stderr}");
    assert!(pin_only_right.status.success(), "{}", text(&pin_only_right).1);
    assert_eq!(no_pin.status.code(), Some(2), "{}", text(&no_pin).1);
}

#[cfg(unix)]
#[test]
fn a_relative_ca_path_in_an_older_store_is_refused_not_resolved_here() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = scratch("old-relative-ca");
    let store = store_in(&dir);
    let old = serde_json::json!({"version": 1, "connections": [{
        "name": "lab", "api_address": "https://dt.example.com", "public_token": "p", "private_token": SECRET,
        "ca_cert": "ca.pem", "created": "2026-01-01T00:00:00Z"
    }]});
    std::fs::write(&store, old.to_string()).unwrap();
    std::fs::set_permissions(&store, std::fs::Permissions::from_mode(0o600)).unwrap();
    let out = host_test(&["--connection", "lab", "test-connection"], &[("DARKTRACE_CONNECTIONS_FILE", &store)]);
    let stderr = text(&out).1;
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("`ca.pem` is relative"), "{stderr}");
}
