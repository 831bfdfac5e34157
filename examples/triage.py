"""A triage playbook on Temporal, in Python, calling the Darktrace connector's actions by name.

For each connection: poll new model breaches; for each one scoring 0.8 or more, read its
device, tag the device, comment on the breach and acknowledge it. Every step is an activity
named after the connector's action (`poll-model-breaches`, `get-device`, `add-device-tag`,
`add-model-breach-comment`, `acknowledge-model-breach`) run by `darktrace-worker` on the task
queue `darktrace-connector`; its one argument is `{"connection": NAME, "input": {...}}`, so
the workflow knows connection names and never a token.

    python examples/triage.py worker                        # workflow worker (keep running)
    python examples/triage.py run --connection lab          # one triage pass, prints JSON
    python examples/triage.py poll --connection lab         # keep triaging as breaches arrive

`run` starts one `Triage` workflow per connection and waits for all of them; each qualifying
breach gets a child workflow `TriageBreach` whose id is made of the connection and the breach
id, so a breach is never triaged twice. `poll` starts the `PollAlerts` poller (see
host-test/temporal/workflows/darktrace_pollers.py) with `TriageBreach` as its child workflow.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

from temporalio import workflow
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError

if not workflow.unsafe.in_sandbox():
    # The pollers live beside the worker crate; the sandbox re-runs this module without file access.
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "host-test" / "temporal" / "workflows"))
with workflow.unsafe.imports_passed_through():
    from darktrace_pollers import WORKFLOW_QUEUE, PollAlerts, activity_options, poller_id, run_then_exit

#: Breaches scoring at least this much are triaged.
MIN_SCORE = 0.8
#: The tag put on each qualifying breach's device.
DEFAULT_TAG = "triaged"


@workflow.defn(name="TriageBreach")
class TriageBreach:
    """Triages one breach: read its device, tag it, comment on the breach, acknowledge it.

    Argument: `{"connection": NAME, "item": <a poll-model-breaches item>, "tag": ..., ...}`.
    """

    @workflow.run
    async def run(self, args: dict[str, Any]) -> dict[str, Any]:
        connection, breach = args["connection"], args["item"]
        tag = args.get("tag") or DEFAULT_TAG
        opts = activity_options(args)

        async def act(action: str, given: dict[str, Any]) -> Any:
            return await workflow.execute_activity(action, {"connection": connection, "input": given}, **opts)

        pbid, did = breach["pbid"], breach["device_did"]
        device = await act("get-device", {"did": did})
        await act("add-device-tag", {"did": did, "tag": tag})
        name = device.get("hostname") or device.get("ip") or f"device {did}"
        message = f"Triaged by the Temporal playbook: score {breach['score']:.2f}, {name} tagged {tag}."
        await act("add-model-breach-comment", {"pbid": pbid, "message": message})
        await act("acknowledge-model-breach", {"pbid": pbid})
        return {"pbid": pbid, "did": did, "device": name, "tag": tag}


@workflow.defn(name="Triage")
class Triage:
    """One triage pass over a connection's new breaches.

    Argument: `{"connection": NAME, "min_score": 0.8, "tag": ..., "poll_options": {...}}`.
    Returns the triaged breaches and how many the poll delivered.
    """

    @workflow.run
    async def run(self, args: dict[str, Any]) -> dict[str, Any]:
        connection = args["connection"]
        min_score = args.get("min_score", MIN_SCORE)
        opts = activity_options(args)
        state, seen, children = None, 0, []
        while True:
            poll = dict(args.get("poll_options") or {})
            poll.update({"min_score": min_score, "state": state})
            batch = await workflow.execute_activity(
                "poll-model-breaches", {"connection": connection, "input": poll}, **opts
            )
            for item in batch["items"]:
                seen += 1
                if item["score"] < min_score:
                    continue
                child = {**args, "item": item}
                try:
                    children.append(
                        await workflow.start_child_workflow(
                            TriageBreach.run,
                            child,
                            id=f"{workflow.info().workflow_id}/{item['pbid']}",
                            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                        )
                    )
                except WorkflowAlreadyStartedError:
                    pass
            state = batch["state"]
            if not batch.get("more"):
                break
        triaged = [await c for c in children]
        return {"connection": connection, "polled": seen, "triaged": triaged}


async def _main() -> None:
    from temporalio.client import Client, WorkflowFailureError
    from temporalio.worker import Worker

    parser = argparse.ArgumentParser(description="Darktrace triage playbook on Temporal")
    parser.add_argument("--address", default="127.0.0.1:7233", help="Temporal frontend host:port")
    parser.add_argument("--namespace", default="default")
    parser.add_argument("--task-queue", default=WORKFLOW_QUEUE, help="the workflows' task queue")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("worker", help="run the workflow worker (Triage, TriageBreach, PollAlerts)")
    for name, text in (("run", "triage new breaches once and print the outcome"), ("poll", "start pollers")):
        p = sub.add_parser(name, help=text)
        p.add_argument("--connection", action="append", required=True, help="saved connection name (repeatable)")
        p.add_argument("--tag", default=DEFAULT_TAG)
        p.add_argument("--activity-task-queue", default=None, help="the Rust worker's task queue")
        p.add_argument("--activity-timeout", type=int, default=60, help="seconds one activity attempt may take")
        p.add_argument("--poll-options", default="{}", help="poll options as a JSON object")
        p.add_argument("--run-id", default="triage", help="prefix of the workflow ids")
    sub.choices["poll"].add_argument("--interval", type=int, default=60, help="seconds between polls")
    sub.choices["poll"].add_argument("--polls-per-run", type=int, default=50, help="polls before continuing as new")
    a = parser.parse_args()

    client = await Client.connect(a.address, namespace=a.namespace)
    if a.command == "worker":
        worker = Worker(client, task_queue=a.task_queue, workflows=[Triage, TriageBreach, PollAlerts])
        await worker.run()
        return
    common = {
        "tag": a.tag,
        "activity_task_queue": a.activity_task_queue,
        "activity_timeout_seconds": a.activity_timeout,
    }
    if a.command == "poll":
        for connection in a.connection:
            args = {
                **common,
                "connection": connection,
                "kind": "model-breaches",
                "interval_seconds": a.interval,
                "polls_per_run": a.polls_per_run,
                "options": {**json.loads(a.poll_options), "min_score": MIN_SCORE},
                "child_workflow": "TriageBreach",
                "child_args": common,
            }
            try:
                await client.start_workflow(
                    PollAlerts.run, args, id=poller_id(connection, "model-breaches"), task_queue=a.task_queue
                )
                print(json.dumps({"poller": poller_id(connection, "model-breaches"), "started": True}))
            except WorkflowAlreadyStartedError:
                print(json.dumps({"poller": poller_id(connection, "model-breaches"), "started": False}))
        return
    handles = []
    for connection in a.connection:
        args = {**common, "connection": connection, "poll_options": json.loads(a.poll_options)}
        handles.append(
            await client.start_workflow(Triage.run, args, id=f"{a.run_id}/{connection}", task_queue=a.task_queue)
        )
    failed = 0
    for handle in handles:
        try:
            print(json.dumps({"workflow_id": handle.id, "result": await handle.result()}), flush=True)
        except WorkflowFailureError as e:
            failed += 1
            cause = e.cause
            print(json.dumps({"workflow_id": handle.id, "failed": f"{cause}"}), flush=True)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    run_then_exit(_main)
