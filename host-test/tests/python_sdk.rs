//! An independent client, the community Python `darktrace-sdk`, authenticates against the
//! simulator: proof that the simulator verifies signatures the way real clients sign them.
//!
//! `.ci/run` installs the SDK into a venv and points `DARKTRACE_SDK_PYTHON` at its python.

use std::process::Command;

use host_test::simulator::{Simulator, SimulatorConfig};

const SCRIPT: &str = r#"
import json, sys
from darktrace import DarktraceClient
url, public, private, pbid = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
c = DarktraceClient(url, public, private, verify_ssl=False)
out = {
    "status": c.status.get()["version"],
    "breaches": len(c.breaches.get(minscore=0.5)),
    "search": c.devicesearch.get(query='hostname:"ws-*"', count=3)["totalCount"],
    "comment": c.breaches.add_comment(pbid, "from the python sdk, café"),
    "ack": c.breaches.acknowledge(pbid),
}
print(json.dumps(out))
"#;

#[tokio::test(flavor = "multi_thread")]
async fn the_python_sdk_authenticates_against_the_simulator() {
    let Some(python) = std::env::var_os("DARKTRACE_SDK_PYTHON") else {
        assert!(std::env::var_os("CI").is_none(), "CI must set DARKTRACE_SDK_PYTHON (see .ci/run)");
        eprintln!("skipped: set DARKTRACE_SDK_PYTHON to a python with darktrace-sdk installed (as .ci/run does)");
        return;
    };
    let sim = Simulator::start(SimulatorConfig::default()).await.unwrap();
    let pbid = sim.known_pbids().into_iter().find(|p| sim.is_acknowledged(*p) == Some(false)).unwrap();
    let args = [sim.url(), sim.public_token().to_owned(), sim.private_token().to_owned(), pbid.to_string()];
    let out = tokio::task::spawn_blocking(move || Command::new(python).arg("-c").arg(SCRIPT).args(&args).output())
        .await
        .unwrap()
        .expect("run the python sdk");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "the SDK failed: {stderr}");
    let result: serde_json::Value = serde_json::from_slice(&out.stdout).expect("the script prints JSON");
    assert!(result["status"].as_str().is_some_and(|v| !v.is_empty()), "{result}");
    assert!(result["breaches"].as_u64().unwrap() > 0, "{result}");
    assert!(result["search"].as_u64().unwrap() > 0, "{result}");
    assert_eq!(result["comment"]["response"], "SUCCESS", "{result}");
    assert_eq!(result["ack"]["response"], "SUCCESS", "{result}");
    assert_eq!(sim.is_acknowledged(pbid), Some(true));
    assert_eq!(sim.comments(pbid).last().map(String::as_str), Some("from the python sdk, café"));
    assert!(sim.requests().iter().all(|r| r.status == 200), "every SDK request must authenticate");
}
