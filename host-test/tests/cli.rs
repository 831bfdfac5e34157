//! The `host-test` binary as a user runs it: exit codes, JSON on stdout, JSON errors on stderr,
//! and the private token nowhere in any output.

mod common;

use std::process::{Command, Output};

use common::{SECRET, against, host_test, scratch, simulator, store_in, text};
use host_test::simulator::{Simulator, SimulatorConfig};

#[test]
fn without_a_connection_the_embedded_simulator_answers() {
    let out = host_test(&["run", "list-model-breaches", "--input", r#"{"min_score":0.5}"#], &[]);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("embedded Darktrace simulator"), "{stderr}");
    let breaches: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let breaches = breaches.as_array().unwrap();
    assert!(!breaches.is_empty());
    assert!(breaches.iter().all(|b| b["score"].as_f64().unwrap() >= 0.5));
}

#[tokio::test(flavor = "multi_thread")]
async fn wrong_private_token_exits_1_with_signature_rejected() {
    let sim = simulator().await;
    let out = against(&sim, "0123456789", &["test-connection"]).await;
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stdout.is_empty());
    let err: serde_json::Value = serde_json::from_str(stderr.trim()).expect("the error is one JSON line");
    assert_eq!(err["error"], "signature-rejected");
    assert_eq!(err["connector"], "darktrace 0.1.0");
}

#[test]
fn usage_errors_exit_2() {
    let out = host_test(&["test-connection"], &[("DARKTRACE_API_ADDRESS", "https://dt.example.com")]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).1.contains("incomplete connection"));
    assert_eq!(host_test(&["run"], &[]).status.code(), Some(2));
    assert_eq!(host_test(&["describe", "no-such-action"], &[]).status.code(), Some(2));
}

#[test]
fn actions_and_describe_come_from_the_manifest() {
    let out = host_test(&["actions"], &[]);
    let listing = text(&out).0;
    assert!(out.status.success());
    assert!(listing.lines().any(|l| l.starts_with("list-model-breaches")));
    assert!(listing.lines().any(|l| l.starts_with("acknowledge-model-breach") && l.ends_with("(changes state)")));
    let out = host_test(&["describe", "get-model-breach"], &[]);
    let entry: serde_json::Value = serde_json::from_str(&text(&out).0).unwrap();
    assert_eq!(entry["input"]["required"], serde_json::json!(["pbid"]));
    // The output schema printed alone resolves its `$ref`s: it carries the records it names.
    let output = jsonschema::validator_for(&entry["output"]).expect("the output schema compiles alone");
    assert!(!output.is_valid(&serde_json::json!({"pbid": 1})), "an incomplete breach is refused");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_private_token_never_appears_in_any_output() {
    let sim = simulator().await;
    let url = sim.url();
    let token_file = std::env::temp_dir().join(format!("dt-private-{}", std::process::id()));
    std::fs::write(&token_file, SECRET).unwrap();
    let file = token_file.to_string_lossy().into_owned();
    let pbid = sim.known_pbids()[0].to_string();
    let runs: Vec<Vec<String>> = vec![
        vec!["test-connection".into()],
        vec!["run".into(), "list-model-breaches".into()],
        vec!["run".into(), "get-model-breach".into(), "--input".into(), format!(r#"{{"pbid": {pbid}}}"#)],
        vec!["run".into(), "get-model-breach".into(), "--input".into(), r#"{"pbid": 1}"#.into()],
        vec![
            "run".into(),
            "add-model-breach-comment".into(),
            "--input".into(),
            format!(r#"{{"pbid": {pbid}, "message": "m"}}"#),
        ],
        vec!["run".into(), "list-model-breaches".into(), "--input".into(), r#"{"min_score": 7}"#.into()],
        vec!["run".into(), "no-such-action".into()],
        vec![
            "--private-token-file".into(),
            file.clone(),
            "run".into(),
            "get-device".into(),
            "--input".into(),
            r#"{"did": 1}"#.into(),
        ],
        vec!["--api-address".into(), "ftp://bad".into(), "test-connection".into()],
    ];
    let public = sim.public_token().to_owned();
    let outputs = tokio::task::spawn_blocking(move || {
        runs.iter()
            .map(|args| {
                let args: Vec<&str> = args.iter().map(String::as_str).collect();
                let env = [
                    ("DARKTRACE_API_ADDRESS", url.as_str()),
                    ("DARKTRACE_PUBLIC_TOKEN", public.as_str()),
                    ("DARKTRACE_PRIVATE_TOKEN", SECRET),
                ];
                (args.join(" "), host_test(&args, &env))
            })
            .collect::<Vec<_>>()
    })
    .await
    .unwrap();
    std::fs::remove_file(&token_file).ok();
    assert!(outputs.iter().any(|(_, o)| o.status.success()) && outputs.iter().any(|(_, o)| !o.status.success()));
    for (args, out) in &outputs {
        let (stdout, stderr) = text(out);
        assert!(!stdout.contains(SECRET) && !stderr.contains(SECRET), "`{args}` printed the private token");
    }
    for r in sim.requests() {
        assert!(r.headers.iter().all(|(_, v)| !v.contains(SECRET)), "sent in a header of {}", r.path_and_query);
    }
}

/// A connection store of the test's own, in the test target dir.
fn store_file(tag: &str) -> String {
    store_in(&scratch(&format!("store-{tag}")))
}

/// Runs host-test with a store file and a private token (if any) in the environment.
fn with_store(store: &str, args: &[&str], private: Option<&str>) -> Output {
    let mut env = vec![("DARKTRACE_CONNECTIONS_FILE", store)];
    if let Some(p) = private {
        env.push(("DARKTRACE_PRIVATE_TOKEN", p));
    }
    host_test(args, &env)
}

#[tokio::test(flavor = "multi_thread")]
async fn connection_lifecycle_add_list_test_rotate_remove() {
    let sim = simulator().await;
    let store = store_file("lifecycle");
    let (url, public) = (sim.url(), sim.public_token().to_owned());
    let outputs = tokio::task::spawn_blocking(move || {
        let add = |name: &str, private: &str| {
            with_store(
                &store,
                &["connections", "add", name, "--api-address", &url, "--public-token", &public],
                Some(private),
            )
        };
        let refused = add("lab", "wrong-private-token");
        let added = add("lab", SECRET);
        let duplicate = add("lab", SECRET);
        let list = with_store(&store, &["connections", "list"], None);
        let list_json = with_store(&store, &["connections", "list", "--json"], None);
        let used = with_store(&store, &["--connection", "lab", "run", "list-model-breaches"], None);
        let tested = with_store(&store, &["connections", "test", "lab"], None);
        let bad_rotate =
            with_store(&store, &["connections", "rotate", "lab", "--public-token", &public], Some("not-the-right-one"));
        let still_works = with_store(&store, &["--connection", "lab", "test-connection"], None);
        let good_rotate =
            with_store(&store, &["connections", "rotate", "lab", "--public-token", &public], Some(SECRET));
        let after_list = with_store(&store, &["connections", "list", "--json"], None);
        let removed = with_store(&store, &["connections", "remove", "lab"], None);
        let gone = with_store(&store, &["--connection", "lab", "test-connection"], None);
        vec![
            refused,
            added,
            duplicate,
            list,
            list_json,
            used,
            tested,
            bad_rotate,
            still_works,
            good_rotate,
            after_list,
            removed,
            gone,
        ]
    })
    .await
    .unwrap();
    let [
        refused,
        added,
        duplicate,
        list,
        list_json,
        used,
        tested,
        bad_rotate,
        still_works,
        good_rotate,
        after_list,
        removed,
        gone,
    ] = <[Output; 13]>::try_from(outputs).unwrap();
    assert_eq!(refused.status.code(), Some(1), "a failing test refuses the add: {}", text(&refused).1);
    assert!(text(&refused).1.contains("signature-rejected"));
    assert!(added.status.success(), "{}", text(&added).1);
    assert_eq!(duplicate.status.code(), Some(2), "names are unique");
    assert!(text(&list).0.lines().any(|l| l.starts_with("lab ")));
    let listed: serde_json::Value = serde_json::from_str(&text(&list_json).0).unwrap();
    assert_eq!(listed[0]["last_test"]["result"], "ok");
    assert!(used.status.success(), "{}", text(&used).1);
    assert!(tested.status.success());
    assert_eq!(bad_rotate.status.code(), Some(1));
    assert!(still_works.status.success(), "a failed rotation keeps the old pair: {}", text(&still_works).1);
    assert!(good_rotate.status.success(), "{}", text(&good_rotate).1);
    let after: serde_json::Value = serde_json::from_str(&text(&after_list).0).unwrap();
    assert!(after[0]["last_used"].is_string(), "{after}");
    assert!(removed.status.success());
    assert_eq!(gone.status.code(), Some(1));
    for out in [
        &refused,
        &added,
        &duplicate,
        &list,
        &list_json,
        &used,
        &tested,
        &bad_rotate,
        &still_works,
        &good_rotate,
        &after_list,
        &removed,
        &gone,
    ] {
        let (stdout, stderr) = text(out);
        assert!(!stdout.contains(SECRET) && !stderr.contains(SECRET), "the private token was printed");
    }
}

#[test]
fn an_expired_connection_is_refused_with_its_date() {
    let store = store_file("expired");
    let added = with_store(
        &store,
        &[
            "connections",
            "add",
            "old",
            "--api-address",
            "https://dt.example.com",
            "--public-token",
            "p",
            "--no-test",
            "--expires",
            "2999-01-01",
        ],
        Some(SECRET),
    );
    assert!(added.status.success(), "{}", text(&added).1);
    // Age the saved connection by editing the store as another tool would.
    let edited = std::fs::read_to_string(&store).unwrap().replace("2999-01-01", "2001-02-03");
    std::fs::write(&store, edited).unwrap();
    let out = with_store(&store, &["--connection", "old", "test-connection"], None);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).1.contains("expired on 2001-02-03"), "{}", text(&out).1);
    let past = with_store(
        &store,
        &[
            "connections",
            "add",
            "older",
            "--api-address",
            "x",
            "--public-token",
            "p",
            "--no-test",
            "--expires",
            "2001-01-01",
        ],
        Some(SECRET),
    );
    assert_eq!(past.status.code(), Some(2));
}

#[test]
fn concurrent_processes_lose_no_connection() {
    let store = store_file("concurrent");
    let children: Vec<_> = (0..6)
        .map(|i| {
            let mut cmd = Command::new(env!("CARGO_BIN_EXE_host-test"));
            cmd.env("DARKTRACE_CONNECTIONS_FILE", &store)
                .env("DARKTRACE_PRIVATE_TOKEN", SECRET)
                .env("DARKTRACE_CONNECTOR_CACHE", concat!(env!("CARGO_TARGET_TMPDIR"), "/component-cache"))
                .args([
                    "connections",
                    "add",
                    &format!("c{i}"),
                    "--api-address",
                    "https://dt.example.com",
                    "--public-token",
                    "p",
                    "--no-test",
                ]);
            cmd.spawn().unwrap()
        })
        .collect();
    for mut child in children {
        assert!(child.wait().unwrap().success());
    }
    let list = with_store(&store, &["connections", "list", "--json"], None);
    let all: serde_json::Value = serde_json::from_str(&text(&list).0).unwrap();
    assert_eq!(all.as_array().unwrap().len(), 6, "{all}");
}

#[test]
fn a_damaged_store_is_a_clear_error_and_stays_as_it_was() {
    let store = store_file("damaged");
    std::fs::write(&store, "{\"version\": 1, \"connections\": [").unwrap();
    #[cfg(unix)]
    std::fs::set_permissions(&store, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    let out = with_store(&store, &["connections", "list"], None);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).1.contains("damaged"), "{}", text(&out).1);
    assert_eq!(std::fs::read_to_string(&store).unwrap(), "{\"version\": 1, \"connections\": [");
}

#[test]
fn the_store_keeps_every_connection_field_of_the_manifest() {
    let manifest: serde_json::Value = serde_json::from_str(darktrace_connector::manifest::MANIFEST).unwrap();
    let saved = serde_json::to_value(host_test::store::Saved {
        name: "n".into(),
        api_address: "a".into(),
        public_token: "p".into(),
        private_token: "s".into(),
        ca_cert: None,
        pins: Vec::new(),
        clock_offset_seconds: Some(0),
        max_attempts: Some(1),
        max_retry_wait_seconds: Some(0),
        created: "c".into(),
        expires: None,
        last_used: None,
        last_test: None,
        allow_insecure_http: false,
        pin_only: false,
    })
    .unwrap();
    for field in manifest["connection"]["properties"].as_object().unwrap().keys() {
        assert!(saved.get(field).is_some(), "the store does not keep the manifest's connection field `{field}`");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn poll_writes_each_new_breach_once_and_keeps_its_state_file() {
    let sim = simulator().await;
    let state =
        std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("poll-{}.state", std::process::id()));
    let _ = std::fs::remove_file(&state);
    let (url, public, file) = (sim.url(), sim.public_token().to_owned(), state.to_string_lossy().into_owned());
    let run = move || {
        let env = [
            ("DARKTRACE_API_ADDRESS", url.as_str()),
            ("DARKTRACE_PUBLIC_TOKEN", public.as_str()),
            ("DARKTRACE_PRIVATE_TOKEN", SECRET),
        ];
        let out =
            host_test(&["poll", "model-breaches", "--state-file", &file, "--options", r#"{"max_items": 5}"#], &env);
        assert!(out.status.success(), "{}", text(&out).1);
        text(&out)
            .0
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["pbid"].as_u64().unwrap())
            .collect::<Vec<_>>()
    };
    let run = std::sync::Arc::new(run);
    let first = {
        let r = run.clone();
        tokio::task::spawn_blocking(move || r()).await.unwrap()
    };
    assert!(first.len() > 5, "capped polls continue until drained");
    assert!(state.exists());
    let second = {
        let r = run.clone();
        tokio::task::spawn_blocking(move || r()).await.unwrap()
    };
    assert!(second.is_empty(), "nothing new, nothing written: {second:?}");
    let now = sim.now().unix_timestamp() * 1000;
    let pbid = sim.insert_breach(now - 10_000, now - 1_000, 0.8);
    let third = {
        let r = run.clone();
        tokio::task::spawn_blocking(move || r()).await.unwrap()
    };
    assert_eq!(third, vec![pbid]);
    std::fs::remove_file(&state).ok();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_pin_reaches_a_self_signed_appliance_and_a_malformed_pin_exits_2() {
    let sim = Simulator::start(SimulatorConfig { private_token: SECRET.into(), tls: true, ..Default::default() })
        .await
        .unwrap();
    let pin = host_test::outbound::tls::format_fingerprint(&sim.certificate_sha256().unwrap());
    let (url, public) = (sim.url(), sim.public_token().to_owned());
    let [pinned, pinned_plain_hex, unpinned, malformed] = tokio::task::spawn_blocking(move || {
        let env = [
            ("DARKTRACE_API_ADDRESS", url.as_str()),
            ("DARKTRACE_PUBLIC_TOKEN", public.as_str()),
            ("DARKTRACE_PRIVATE_TOKEN", SECRET),
        ];
        let plain_hex = pin.replace(':', "").to_ascii_lowercase();
        [
            host_test(&["--pin", &pin, "test-connection"], &env),
            host_test(&["--pin", &plain_hex, "test-connection"], &env),
            host_test(&["test-connection"], &env),
            host_test(&["--pin", "AB:CD:not-a-fingerprint", "test-connection"], &env),
        ]
    })
    .await
    .unwrap();
    assert!(pinned.status.success(), "{}", text(&pinned).1);
    assert!(pinned_plain_hex.status.success(), "{}", text(&pinned_plain_hex).1);
    assert_eq!(unpinned.status.code(), Some(1), "{}", text(&unpinned).1);
    let err: serde_json::Value = serde_json::from_str(text(&unpinned).1.trim()).expect("the error is one JSON line");
    assert_eq!(err["error"], "transport");
    assert!(err["message"].as_str().is_some_and(|m| m.contains("TLS") && m.contains("--pin")), "{err}");
    assert_eq!(malformed.status.code(), Some(2), "{}", text(&malformed).1);
    let err: serde_json::Value = serde_json::from_str(text(&malformed).1.trim()).expect("the error is one JSON line");
    assert_eq!(err["error"], "usage");
    assert!(err["message"].as_str().is_some_and(|m| m.starts_with("--pin:") && m.contains("not a hex digit")), "{err}");
    assert_eq!(sim.requests().len(), 2, "only the pinned runs reached the appliance");
}

#[test]
fn the_tls_simulator_prints_its_fingerprint_and_writes_its_certificate() {
    use std::io::BufRead as _;
    use std::process::Stdio;
    /// How long the simulator may take to start and print its details.
    const STARTUP: std::time::Duration = std::time::Duration::from_secs(60);
    let cert_file = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("simulator-cert-{}.pem", std::process::id()));
    let _ = std::fs::remove_file(&cert_file);
    let mut child = Command::new(env!("CARGO_BIN_EXE_host-test"))
        .args(["simulator", "--tls", "--cert-out"])
        .arg(&cert_file)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start host-test simulator");
    let stdout = child.stdout.take().unwrap();
    let (lines_tx, lines) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = lines_tx.send(line);
        }
    });
    let mut printed = Vec::new();
    while !printed.iter().any(|l: &String| l.starts_with("Certificate written")) {
        match lines.recv_timeout(STARTUP) {
            Ok(line) => printed.push(line),
            Err(e) => {
                let _ = child.kill();
                panic!("the simulator did not print its certificate within {STARTUP:?} ({e}); it printed {printed:?}");
            }
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    let address =
        printed.iter().find_map(|l| l.strip_prefix("DARKTRACE_API_ADDRESS=")).expect("the address is printed");
    assert!(address.starts_with("https://127.0.0.1:"), "{printed:?}");
    let sha256 = printed
        .iter()
        .find_map(|l| l.strip_prefix("Certificate SHA-256: "))
        .and_then(|l| l.split(' ').next())
        .expect("the fingerprint is printed");
    let pem = std::fs::read(&cert_file).expect("--cert-out wrote the certificate");
    std::fs::remove_file(&cert_file).ok();
    use rustls_pki_types::pem::PemObject as _;
    let der = rustls_pki_types::CertificateDer::from_pem_slice(&pem).expect("a PEM certificate");
    assert_eq!(sha256, host_test::outbound::tls::format_fingerprint(&host_test::outbound::tls::fingerprint(&der)));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_corrected_clock_offset_is_reported_and_a_fixed_one_needs_no_correction() {
    let sim = Simulator::start(SimulatorConfig {
        private_token: SECRET.into(),
        clock_offset_secs: 7200,
        ..Default::default()
    })
    .await
    .unwrap();
    let (url, public) = (sim.url(), sim.public_token().to_owned());
    let (measured, fixed) = tokio::task::spawn_blocking(move || {
        let env = [
            ("DARKTRACE_API_ADDRESS", url.as_str()),
            ("DARKTRACE_PUBLIC_TOKEN", public.as_str()),
            ("DARKTRACE_PRIVATE_TOKEN", SECRET),
        ];
        (host_test(&["run", "get-status"], &env), host_test(&["--clock-offset", "7200", "run", "get-status"], &env))
    })
    .await
    .unwrap();
    let (_, stderr) = text(&measured);
    assert!(measured.status.success(), "{stderr}");
    assert!(stderr.contains("clock differs from this machine's by 7199 s") || stderr.contains("by 7200 s"), "{stderr}");
    let (_, stderr) = text(&fixed);
    assert!(fixed.status.success(), "{stderr}");
    assert!(!stderr.contains("clock differs"), "{stderr}");
    let statuses: Vec<u16> = sim.requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses, [400, 200, 200], "one date error for the first run, none for the second");
}

#[test]
fn an_out_of_range_retry_setting_is_invalid_connection() {
    let out = host_test(&["--max-attempts", "0", "run", "get-status"], &[]);
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1));
    let err: serde_json::Value = serde_json::from_str(stderr.lines().last().unwrap()).unwrap();
    assert_eq!(err["error"], "invalid-connection", "{stderr}");
    assert!(err["message"].as_str().unwrap().starts_with("max_attempts"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_answer_over_max_response_is_response_too_large_naming_the_limit() {
    let sim = Simulator::start(SimulatorConfig { private_token: SECRET.into(), breaches: 3000, ..Default::default() })
        .await
        .unwrap();
    let (url, public) = (sim.url(), sim.public_token().to_owned());
    let out = tokio::task::spawn_blocking(move || {
        let env = [
            ("DARKTRACE_API_ADDRESS", url.as_str()),
            ("DARKTRACE_PUBLIC_TOKEN", public.as_str()),
            ("DARKTRACE_PRIVATE_TOKEN", SECRET),
        ];
        host_test(
            &[
                "--max-response",
                "1",
                "run",
                "list-model-breaches",
                "--input",
                r#"{"start": 946684800000, "end": 7258118400000, "include_acknowledged": true, "minimal": false}"#,
            ],
            &env,
        )
    })
    .await
    .unwrap();
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let err: serde_json::Value = serde_json::from_str(stderr.lines().last().unwrap()).unwrap();
    assert_eq!(err["error"], "response-too-large", "{stderr}");
    assert!(err["message"].as_str().unwrap().contains("1048576"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_poll_batch_that_cannot_be_printed_leaves_the_state_file_alone_and_comes_again() {
    let sim = simulator().await;
    let state =
        std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("poll-closed-{}.state", std::process::id()));
    let _ = std::fs::remove_file(&state);
    let (url, public, file) = (sim.url(), sim.public_token().to_owned(), state.to_string_lossy().into_owned());
    let closed = tokio::task::spawn_blocking(move || {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_host-test"));
        cmd.env("DARKTRACE_CONNECTOR_CACHE", concat!(env!("CARGO_TARGET_TMPDIR"), "/component-cache"))
            .args(["poll", "model-breaches", "--state-file", &file])
            .env("DARKTRACE_API_ADDRESS", &url)
            .env("DARKTRACE_PUBLIC_TOKEN", &public)
            .env("DARKTRACE_PRIVATE_TOKEN", SECRET)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        let mut child = cmd.spawn().expect("run host-test");
        // The reader goes away before the batch is printed: every write fails.
        drop(child.stdout.take());
        child.wait_with_output().expect("wait for host-test")
    })
    .await
    .unwrap();
    let stderr = String::from_utf8_lossy(&closed.stderr);
    assert!(!closed.status.success(), "{stderr}");
    assert!(stderr.contains("cannot write the batch") && stderr.contains("comes again"), "{stderr}");
    assert!(!state.exists(), "the state of a batch that was not printed must not be saved");
    let file = state.to_string_lossy().into_owned();
    let again = against(&sim, SECRET, &["poll", "model-breaches", "--state-file", &file]).await;
    assert!(again.status.success(), "{}", text(&again).1);
    assert!(!text(&again).0.is_empty(), "the batch comes again");
    assert!(state.exists());
    std::fs::remove_file(&state).ok();
}
