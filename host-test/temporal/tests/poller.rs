//! The `PollAlerts` workflow (host-test/temporal/workflows/darktrace_pollers.py), started by
//! `examples/triage.py poll`: it polls on a durable timer, keeps its state across
//! continue-as-new, and hands each new qualifying breach exactly once to `TriageBreach`.

mod support;

use std::process::Command;
use std::time::{Duration, Instant};

use support::*;

/// How long the poller may take to triage what was inserted.
const TRIAGE_TIMEOUT: Duration = Duration::from_secs(120);
/// How long fetching every history may take.
const AUDIT_TIMEOUT: Duration = Duration::from_secs(60);

fn now_ms() -> i64 {
    (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64
}

/// Waits until every breach in `pbids` has a comment, naming `what` on timeout.
fn wait_commented(tenant: &Tenant, pbids: &[u64], what: &str) {
    let start = Instant::now();
    while !pbids.iter().all(|p| !tenant.sim.comments(*p).is_empty()) {
        assert!(start.elapsed() < TRIAGE_TIMEOUT, "TRIAGE_TIMEOUT: {what}");
        std::thread::sleep(Duration::from_millis(250));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_poller_hands_each_new_breach_on_once_across_continue_as_new() {
    let Some((cli, python)) = tools() else { return };
    let dir = scratch("poller");
    let store = dir.join("connections.json");
    let tenants = tenants(1, &store, "po").await;
    let tenant = &tenants[0];
    let at = now_ms() - 600_000;
    let first = [tenant.sim.insert_breach(at, at, 0.9), tenant.sim.insert_breach(at + 1, at + 1, 0.85)];
    let low = tenant.sim.insert_breach(at + 2, at + 2, 0.3);

    let server = tokio::task::block_in_place(|| Server::start(&cli, &dir));
    let queue = format!("darktrace-connector-poller-{}", std::process::id());
    let wf_queue = format!("darktrace-playbooks-poller-{}", std::process::id());
    let mut w = worker("worker", &dir, &server, &store, &queue, &[]);
    tokio::task::block_in_place(|| wait_serving(&mut w));
    let triage = repo_root().join("examples/triage.py");
    let _workflows = Proc::spawn(
        "python-worker",
        &dir,
        Command::new(&python).arg(&triage).args(["--address", &server.address, "--task-queue", &wf_queue, "worker"]),
    );
    let started = Command::new(&python)
        .arg(&triage)
        .args(["--address", &server.address, "--task-queue", &wf_queue, "poll", "--connection", &tenant.name])
        .args(["--activity-task-queue", &queue, "--interval", "1", "--polls-per-run", "3"])
        .output()
        .unwrap();
    assert!(started.status.success(), "{}", String::from_utf8_lossy(&started.stderr));

    tokio::task::block_in_place(|| wait_commented(tenant, &first, "the first breaches"));
    // A breach created later is found by a later poll, in a later run of the workflow.
    let later = now_ms();
    let second = tenant.sim.insert_breach(later, later, 0.95);
    tokio::task::block_in_place(|| wait_commented(tenant, &[second], "the later breach"));
    // Let a few more polls (and continue-as-new) pass over the same breaches.
    tokio::time::sleep(Duration::from_secs(8)).await;

    for pbid in first.iter().chain([&second]) {
        assert_eq!(tenant.sim.comments(*pbid).len(), 1, "breach {pbid}: {:?}", tenant.sim.comments(*pbid));
        assert_eq!(tenant.sim.is_acknowledged(*pbid), Some(true));
    }
    assert!(tenant.sim.comments(low).is_empty(), "a breach under 0.8 was triaged");

    let histories = dir.join("histories.bin");
    let audit = tokio::task::block_in_place(|| {
        let out = Command::new(&python)
            .args(["-c", &exiting(AUDIT_SCRIPT), &server.address])
            .arg(&histories)
            .output()
            .unwrap();
        assert!(out.status.success(), "AUDIT_TIMEOUT ({AUDIT_TIMEOUT:?}): {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    });
    let summary: serde_json::Value = serde_json::from_str(audit.trim()).unwrap();
    assert!(summary["statuses"]["CONTINUED_AS_NEW"].as_u64().unwrap_or(0) >= 2, "{summary}");
    assert_eq!(summary["not_completed"], serde_json::json!([]), "{summary}");
    let text = String::from_utf8_lossy(&std::fs::read(&histories).unwrap()).into_owned();
    assert!(!text.contains(&tenant.private_token), "the private token is in a history");
}
