//! The activity contract on a real Temporal dev server, seen from a workflow in another language
//! (a Python probe workflow calling the activities by name): results, failure types, which
//! failures retry, and Retry-After as the next retry delay.

mod support;

use std::process::Command;

use host_test::simulator::Fault;
use host_test::store::Store;
use serde_json::{Value, json};
use support::*;

/// Runs each case as a workflow that calls one activity and reports its result or failure.
const PROBE: &str = r#"
import asyncio, json, os, sys, uuid
from datetime import timedelta
from temporalio import workflow
from temporalio.client import Client
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError
from temporalio.worker import Worker, UnsandboxedWorkflowRunner

@workflow.defn(name="Probe")
class Probe:
    @workflow.run
    async def run(self, case):
        try:
            result = await workflow.execute_activity(
                case["action"], case["arg"], task_queue=case["queue"],
                start_to_close_timeout=timedelta(seconds=60),
                retry_policy=RetryPolicy(maximum_attempts=case.get("attempts", 1),
                                         initial_interval=timedelta(milliseconds=100)))
            return {"ok": result}
        except ActivityError as e:
            c = e.cause
            delay = getattr(c, "next_retry_delay", None)
            return {"type": getattr(c, "type", None), "non_retryable": getattr(c, "non_retryable", None),
                    "message": str(c), "next_retry_delay": delay.total_seconds() if delay else None}

async def main():
    address, queue, cases = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
    client = await Client.connect(address)
    probe_queue = "probe-" + str(uuid.uuid4())
    out = []
    async with Worker(client, task_queue=probe_queue, workflows=[Probe], workflow_runner=UnsandboxedWorkflowRunner()):
        for case in cases:
            case["queue"] = queue
            out.append(await client.execute_workflow(Probe.run, case, id="probe-" + str(uuid.uuid4()),
                                                     task_queue=probe_queue))
    print(json.dumps(out))
asyncio.run(main())
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn activities_answer_by_action_name_with_typed_failures_and_retry_after() {
    let Some((cli, python)) = tools() else { return };
    let dir = scratch("contract");
    let store_path = dir.join("connections.json");
    let tenants = tenants(2, &store_path, "ct").await;
    let (lab, busy) = (&tenants[0], &tenants[1]);
    // The busy appliance answers its next two requests 429 with Retry-After: 2; its connection
    // does not retry by itself, so the activity sees `rate-limited`.
    busy.sim.set_fault(Some(Fault::Status { status: 429, retry_after_secs: Some(2), times: Some(2) }));
    Store::at(store_path.clone()).modify(&busy.name, |c| c.max_attempts = Some(1)).unwrap();

    let server = tokio::task::block_in_place(|| Server::start(&cli, &dir));
    let queue = format!("darktrace-connector-contract-{}", std::process::id());
    let mut w = worker("worker", &dir, &server, &store_path, &queue, &[]);
    tokio::task::block_in_place(|| wait_serving(&mut w));

    let arg = |name: &str, input: Value| json!({"connection": name, "input": input});
    let cases = json!([
        {"action": "get-status", "arg": arg(&lab.name, json!({}))},
        {"action": "get-model-breach", "arg": arg(&lab.name, json!({"pbid": 987654})), "attempts": 5},
        {"action": "get-status", "arg": {"connection": lab.name, "private_token": lab.private_token}, "attempts": 5},
        {"action": "get-status", "arg": arg("no-such-connection", json!({})), "attempts": 5},
        {"action": "get-device", "arg": arg(&lab.name, json!({"did": "seven"})), "attempts": 5},
        {"action": "get-status", "arg": arg(&busy.name, json!({}))},
        {"action": "get-status", "arg": arg(&busy.name, json!({})), "attempts": 3},
    ]);
    let out = tokio::task::block_in_place(|| {
        Command::new(&python)
            .args(["-c", &exiting(PROBE), &server.address, &queue, &cases.to_string()])
            .output()
            .unwrap()
    });
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "the probe failed ({}): stderr: {stderr}; stdout: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout)
    );
    let results: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();

    assert!(results[0]["ok"].is_object(), "get-status returns the action's JSON: {}", results[0]);
    let failure =
        |i: usize| (results[i]["type"].as_str().unwrap_or("-").to_owned(), results[i]["non_retryable"].clone());
    assert_eq!(failure(1), ("not-found".into(), json!(true)), "{}", results[1]);
    assert_eq!(failure(2), ("invalid-input".into(), json!(true)), "{}", results[2]);
    assert!(!results[2].to_string().contains(&lab.private_token), "a failure echoed the token: {}", results[2]);
    assert_eq!(failure(3), ("invalid-connection".into(), json!(true)), "{}", results[3]);
    assert_eq!(failure(4), ("invalid-input".into(), json!(true)), "{}", results[4]);
    assert_eq!(failure(5), ("rate-limited".into(), json!(false)), "{}", results[5]);
    assert_eq!(results[5]["next_retry_delay"], json!(2.0), "Retry-After is the next delay: {}", results[5]);
    // With retries allowed, the attempt after the appliance's delay succeeds.
    assert!(results[6]["ok"].is_object(), "{}", results[6]);
    // Non-retryable failures ran once even with 5 attempts allowed.
    let statuses: Vec<u16> =
        lab.sim.requests().iter().filter(|r| r.path_and_query.contains("987654")).map(|r| r.status).collect();
    assert_eq!(statuses.len(), 1, "not-found must not be retried: {statuses:?}");
}
