//! The `host-test` binary as a user runs it: exit codes, JSON on stdout, JSON errors on stderr,
//! and the private token nowhere in any output.

use std::process::{Command, Output};

use host_test::simulator::{Simulator, SimulatorConfig};

/// A private token distinctive enough that any leak is found by a plain search.
const SECRET: &str = "feedfacecafebeef0123456789abcdefdeadbeef";

fn host_test(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_host-test"));
    // A cache of our own: tests must not depend on, or write into, the user's cache.
    cmd.env("DARKTRACE_CONNECTOR_CACHE", concat!(env!("CARGO_TARGET_TMPDIR"), "/component-cache"));
    cmd.args(args).env_remove("DARKTRACE_API_ADDRESS").env_remove("DARKTRACE_PUBLIC_TOKEN").env_remove("DARKTRACE_PRIVATE_TOKEN");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run host-test")
}

fn text(o: &Output) -> (String, String) {
    (String::from_utf8_lossy(&o.stdout).into_owned(), String::from_utf8_lossy(&o.stderr).into_owned())
}

async fn simulator() -> Simulator {
    Simulator::start(SimulatorConfig { private_token: SECRET.into(), ..Default::default() }).await.unwrap()
}

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
    let (url, public) = (sim.url(), sim.public_token().to_owned());
    let out = tokio::task::spawn_blocking(move || {
        let env = [("DARKTRACE_API_ADDRESS", url.as_str()), ("DARKTRACE_PUBLIC_TOKEN", public.as_str()), ("DARKTRACE_PRIVATE_TOKEN", "0123456789")];
        host_test(&["test-connection"], &env)
    })
    .await
    .unwrap();
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
        vec!["run".into(), "add-model-breach-comment".into(), "--input".into(), format!(r#"{{"pbid": {pbid}, "message": "m"}}"#)],
        vec!["run".into(), "list-model-breaches".into(), "--input".into(), r#"{"min_score": 7}"#.into()],
        vec!["run".into(), "no-such-action".into()],
        vec!["--private-token-file".into(), file.clone(), "run".into(), "get-device".into(), "--input".into(), r#"{"did": 1}"#.into()],
        vec!["--api-address".into(), "ftp://bad".into(), "test-connection".into()],
    ];
    let public = sim.public_token().to_owned();
    let outputs = tokio::task::spawn_blocking(move || {
        runs.iter()
            .map(|args| {
                let args: Vec<&str> = args.iter().map(String::as_str).collect();
                let env = [("DARKTRACE_API_ADDRESS", url.as_str()), ("DARKTRACE_PUBLIC_TOKEN", public.as_str()), ("DARKTRACE_PRIVATE_TOKEN", SECRET)];
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
