//! The Python triage playbook (examples/triage.py) over 50 simulated tenants on a real Temporal
//! dev server, with 3 `darktrace-worker` processes, two of which die mid-run: one aborts itself
//! right after the appliance applied a comment and before it reported it (the test-only
//! `DARKTRACE_WORKER_TEST_ABORT_AFTER` hook), one is SIGKILLed by the test. Every qualifying
//! breach must still be handled exactly once, no workflow may fail, and no token may appear in
//! any workflow history.

mod support;

use std::process::Command;
use std::time::{Duration, Instant};

use support::*;

/// Tenants the playbook runs over.
const TENANTS: usize = 50;
/// Breach scores inserted in each tenant; the playbook triages those at 0.8 and above.
const SCORES: [f64; 3] = [0.93, 0.82, 0.45];
/// How long the whole playbook run may take, worker deaths and retries included.
const PLAYBOOK_TIMEOUT: Duration = Duration::from_secs(300);
/// How long to wait for the first comments before killing a worker.
const PROGRESS_TIMEOUT: Duration = Duration::from_secs(120);
/// How long fetching every history may take.
const AUDIT_TIMEOUT: Duration = Duration::from_secs(120);
/// The text every playbook comment starts with.
const COMMENT_PREFIX: &str = "Triaged by the Temporal playbook";

fn comments_written(tenants: &[Tenant]) -> usize {
    tenants
        .iter()
        .flat_map(|t| t.sim.known_pbids().into_iter().map(|p| t.sim.comments(p).len()).collect::<Vec<_>>())
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_python_playbook_handles_every_breach_once_across_worker_deaths_and_leaks_no_token() {
    let Some((cli, python)) = tools() else { return };
    let dir = scratch("playbook");
    let store = dir.join("connections.json");
    let tenants = tenants(TENANTS, &store, "pb").await;
    let now = host_test::store::now();
    let now_ms = time_ms(&now);
    let mut qualifying = Vec::new();
    for t in &tenants {
        for (i, score) in SCORES.iter().enumerate() {
            let at = now_ms - 3_600_000 + i as i64 * 60_000;
            let pbid = t.sim.insert_breach(at, at, *score);
            if *score >= 0.8 {
                qualifying.push((t.name.clone(), pbid));
            }
        }
    }

    let server = tokio::task::block_in_place(|| Server::start(&cli, &dir));
    let queue = format!("darktrace-connector-e2e-{}", std::process::id());
    let wf_queue = format!("darktrace-playbooks-e2e-{}", std::process::id());
    let mut workers = [
        worker(
            "worker-0",
            &dir,
            &server,
            &store,
            &queue,
            &[("DARKTRACE_WORKER_TEST_ABORT_AFTER", "add-model-breach-comment")],
        ),
        worker("worker-1", &dir, &server, &store, &queue, &[]),
        worker("worker-2", &dir, &server, &store, &queue, &[]),
    ];
    tokio::task::block_in_place(|| workers.iter_mut().for_each(wait_serving));

    let triage = support::repo_root().join("examples/triage.py");
    let _workflow_worker = Proc::spawn(
        "python-worker",
        &dir,
        Command::new(&python).arg(&triage).args(["--address", &server.address, "--task-queue", &wf_queue, "worker"]),
    );
    let mut run = Command::new(&python);
    run.arg(&triage).args(["--address", &server.address, "--task-queue", &wf_queue, "run"]);
    run.args(["--activity-task-queue", &queue, "--activity-timeout", "10", "--run-id", "e2e"]);
    for t in &tenants {
        run.args(["--connection", &t.name]);
    }
    let mut playbook = Proc::spawn("playbook", &dir, &mut run);

    // Kill a worker once the playbook is under way.
    let started = Instant::now();
    while comments_written(&tenants) < qualifying.len() / 5 {
        assert!(started.elapsed() < PROGRESS_TIMEOUT, "PROGRESS_TIMEOUT: {}", playbook.stderr());
        if let Ok(Some(status)) = playbook.child.try_wait() {
            panic!("the playbook ended ({status}) before the worker could be killed: {}", playbook.stderr());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    workers[1].kill();

    let status = loop {
        if let Some(status) = playbook.child.try_wait().unwrap() {
            break status;
        }
        assert!(started.elapsed() < PLAYBOOK_TIMEOUT, "PLAYBOOK_TIMEOUT: {}", playbook.stderr());
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let out = std::fs::read_to_string(dir.join("playbook.out")).unwrap();
    assert!(status.success(), "the playbook failed ({status}): {out}\n{}", playbook.stderr());

    // The worker with the hook died right after a comment reached an appliance, and the retry
    // on another worker found that comment instead of writing it again.
    let abort = workers[0].child.try_wait().unwrap();
    assert!(abort.is_some_and(|s| !s.success()), "worker-0 should have aborted: {}", workers[0].stderr());
    assert!(workers[0].stderr().contains("aborting after the send"), "{}", workers[0].stderr());
    let others = format!("{}{}", workers[1].stderr(), workers[2].stderr());
    assert!(others.contains("was already applied"), "no retry found its write already applied: {others}");

    // Every qualifying breach: one comment, acknowledged; its device tagged once. Others untouched.
    let mut triaged = 0;
    for line in out.lines() {
        let result: serde_json::Value = serde_json::from_str(line).unwrap();
        triaged += result["result"]["triaged"].as_array().map_or(0, Vec::len);
    }
    assert_eq!(triaged, qualifying.len(), "{out}");
    for t in &tenants {
        for pbid in t.sim.known_pbids() {
            let comments = t.sim.comments(pbid);
            let posts = t
                .sim
                .requests()
                .iter()
                .filter(|r| {
                    r.method == "POST" && r.path_and_query.starts_with(&format!("/modelbreaches/{pbid}/comments"))
                })
                .count();
            if qualifying.contains(&(t.name.clone(), pbid)) {
                assert_eq!(comments.len(), 1, "{} breach {pbid}: {comments:?}", t.name);
                assert!(comments[0].starts_with(COMMENT_PREFIX), "{comments:?}");
                assert_eq!(posts, 1, "{} breach {pbid} got {posts} comment requests", t.name);
                assert_eq!(t.sim.is_acknowledged(pbid), Some(true), "{} breach {pbid}", t.name);
            } else {
                assert!(comments.is_empty() && posts == 0, "{} breach {pbid} was not to be triaged", t.name);
                assert_eq!(t.sim.is_acknowledged(pbid), Some(false));
            }
        }
        for did in t.sim.known_dids() {
            let tags = t.sim.device_tags(did);
            assert!(tags.iter().filter(|n| *n == "triaged").count() <= 1, "{} device {did}: {tags:?}", t.name);
        }
        assert!(t.sim.known_dids().iter().any(|d| t.sim.device_tags(*d).contains(&"triaged".to_owned())));
    }

    // No workflow failed, and no token is in any history.
    let histories = dir.join("histories.bin");
    let audit = tokio::task::block_in_place(|| {
        let mut cmd = Command::new(&python);
        cmd.args(["-c", &exiting(AUDIT_SCRIPT), &server.address]).arg(&histories);
        run_with_timeout(&mut cmd, AUDIT_TIMEOUT, "AUDIT_TIMEOUT: fetching the histories")
    });
    let summary: serde_json::Value = serde_json::from_str(audit.trim()).unwrap_or_else(|e| panic!("{e}: {audit}"));
    assert_eq!(summary["not_completed"], serde_json::json!([]), "{summary}");
    assert!(summary["histories"].as_u64().unwrap() as usize >= TENANTS + qualifying.len(), "{summary}");
    let bytes = std::fs::read(&histories).unwrap();
    let text = String::from_utf8_lossy(&bytes);
    assert!(text.contains(&tenants[0].name) && text.contains("add-model-breach-comment"), "the audit saw no payloads");
    for t in &tenants {
        assert!(!text.contains(&t.private_token), "{}'s private token is in a workflow history", t.name);
        assert!(!text.contains(&t.public_token), "{}'s public token is in a workflow history", t.name);
    }
}

fn time_ms(rfc3339: &str) -> i64 {
    let t = time::OffsetDateTime::parse(rfc3339, &time::format_description::well_known::Rfc3339).unwrap();
    (t.unix_timestamp_nanos() / 1_000_000) as i64
}

/// Runs `cmd` to completion and returns its stdout, or panics naming `what` after `timeout`.
fn run_with_timeout(cmd: &mut Command, timeout: Duration, what: &str) -> String {
    let out = tempfile_path(what);
    let err = out.with_extension("err");
    let mut child =
        cmd.stdout(std::fs::File::create(&out).unwrap()).stderr(std::fs::File::create(&err).unwrap()).spawn().unwrap();
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > timeout {
            let _ = child.kill();
            panic!("{what}: not within {timeout:?}");
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let stderr = std::fs::read_to_string(&err).unwrap_or_default();
    assert!(status.success(), "{what} failed ({status}): {stderr}");
    std::fs::read_to_string(&out).unwrap()
}

fn tempfile_path(what: &str) -> std::path::PathBuf {
    let slug: String = what.chars().filter(char::is_ascii_alphanumeric).take(20).collect();
    std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("{slug}-{}.out", std::process::id()))
}
