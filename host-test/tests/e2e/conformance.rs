//! The data-driven conformance suite (`conformance/suite.json`), under wasmtime and under jco on
//! Node.js: both must pass, with the same outcome for every case.

use std::process::Command;

use host_test::conformance::{CaseResult, Outcome, Suite, judge_all, run_wasmtime};

use super::support::*;

async fn bound_suite(conn: &ConnectionParams) -> Suite {
    Suite::committed().unwrap().bind(&HOST, conn).await.expect("bind the suite")
}

#[tokio::test]
async fn the_conformance_suite_passes_under_wasmtime() {
    let (_sim, conn) = simulator().await;
    let suite = bound_suite(&conn).await;
    assert!(suite.cases.len() >= 10);
    let results = run_wasmtime(&HOST, &conn, &suite).await;
    let failures = judge_all(&suite, &results).unwrap();
    assert!(failures.is_empty(), "conformance failures under wasmtime:\n{}", failures.join("\n"));
}

/// The shape of an outcome that must not depend on the runtime: success with the same keys, or
/// the same error case.
fn signature(outcome: &Outcome) -> String {
    match outcome {
        Outcome::Ok(Value::Object(map)) => format!("ok {:?}", map.keys().collect::<Vec<_>>()),
        Outcome::Ok(Value::Array(items)) => format!(
            "ok array, first item keys {:?}",
            items.first().and_then(Value::as_object).map(|m| m.keys().collect::<Vec<_>>())
        ),
        Outcome::Ok(other) => format!("ok {other}"),
        Outcome::Error { case, .. } => format!("error {case}"),
        Outcome::Failure(f) => format!("failure {f}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_conformance_suite_gives_the_same_outcomes_under_jco_on_node() {
    let node_dir = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../conformance/node"));
    if !node_dir.join("node_modules/@bytecodealliance/jco").exists() {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must install the jco runner (npm install in conformance/node, see .ci/run)"
        );
        eprintln!("skipped: run `npm install` in conformance/node to enable the jco runner");
        return;
    }
    // The transpiled module must sit inside conformance/node so Node resolves preview2-shim.
    let out_dir = node_dir.join("out");
    let jco = Command::new("node")
        .current_dir(node_dir)
        .args([
            "node_modules/@bytecodealliance/jco/dist/jco.js",
            "transpile",
            host_test::CONNECTOR_WASM,
            "-o",
            "out",
            "--name",
            "connector",
            "--quiet",
        ])
        .output()
        .expect("run jco");
    assert!(jco.status.success(), "jco transpile failed: {}", String::from_utf8_lossy(&jco.stderr));

    let (_sim, conn) = simulator().await;
    let suite = bound_suite(&conn).await;
    let suite_file = std::env::temp_dir().join(format!("conformance-{}.json", std::process::id()));
    std::fs::write(&suite_file, serde_json::to_string(&suite).unwrap()).unwrap();
    let args = [
        "run.mjs".to_owned(),
        out_dir.join("connector.js").to_string_lossy().into_owned(),
        suite_file.to_string_lossy().into_owned(),
        conn.api_address.clone(),
        conn.public_token.clone(),
    ];
    let dir = node_dir.to_owned();
    let private = conn.private_token.clone();
    let node = tokio::task::spawn_blocking(move || {
        Command::new("node").current_dir(dir).args(&args).env("DARKTRACE_PRIVATE_TOKEN", private).output()
    })
    .await
    .unwrap()
    .expect("run node");
    std::fs::remove_file(&suite_file).ok();
    assert!(node.status.success(), "the node runner failed: {}", String::from_utf8_lossy(&node.stderr));
    let under_node: Vec<CaseResult> = String::from_utf8_lossy(&node.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad runner line {l}: {e}")))
        .collect();
    let failures = judge_all(&suite, &under_node).unwrap();
    assert!(failures.is_empty(), "conformance failures under jco:\n{}", failures.join("\n"));

    // The same suite under wasmtime on a fresh simulator with the same seed.
    let (_sim2, conn2) = simulator().await;
    let under_wasmtime = run_wasmtime(&HOST, &conn2, &suite).await;
    for (n, w) in under_node.iter().zip(&under_wasmtime) {
        assert_eq!(signature(&n.outcome), signature(&w.outcome), "case `{}` differs between jco and wasmtime", n.name);
    }
}
