"""Lossless pollers as Temporal workflows: one `PollAlerts` workflow per connection and kind.

The poll state lives in the workflow (its history), so a worker crash loses nothing: the
workflow resumes on another worker from its last recorded poll. Each poll is the connector's
`poll-model-breaches` or `poll-ai-analyst-incidents` activity, run by `darktrace-worker` (the
Rust worker, task queue `darktrace-connector`) with `{"connection": NAME, "input": {...}}`, so
no token enters a history. Every new item is handed exactly once to the child workflow or the
signal the user names:

- a child workflow gets the id `<poller id>/<item id>` and a reuse policy that rejects
  duplicates, so even a replay after a crash cannot start it twice;
- a signal is a command in the poller's own history, sent once and never again on replay.

Between polls the workflow sleeps on a durable timer. It continues as new every
`polls_per_run` polls (or when the server suggests it), carrying only the poll state, so its
history stays bounded however long it runs.

Written in Python rather than Rust: the official Rust SDK (`temporalio-sdk` 1.x) runs
activities well, but its workflow API is still marked preview, and child workflows,
external signals and continue-as-new are what this poller needs most; the Python SDK
(`temporalio` on PyPI) supports all three with a deterministic sandbox.

Run a workflow worker for it (and the playbooks) with `python examples/triage.py worker`, or
this module alone with `python darktrace_pollers.py worker`; start a poller with
`python darktrace_pollers.py start --connection NAME --child-workflow TriageBreach`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError

#: Task queue the Rust worker serves the connector's actions on (its default).
ACTIVITY_QUEUE = "darktrace-connector"
#: Task queue of the Python workflow worker (pollers and playbooks).
WORKFLOW_QUEUE = "darktrace-playbooks"

#: What each kind polls and which field identifies an item.
KINDS = {
    "model-breaches": ("poll-model-breaches", "pbid"),
    "ai-analyst-incidents": ("poll-ai-analyst-incidents", "id"),
}

# Cases a retry cannot fix; the worker marks them non-retryable too, this only saves attempts.
NON_RETRYABLE = ["invalid-input", "invalid-connection", "signature-rejected", "permission-denied", "not-found"]


def activity_options(args: dict[str, Any]) -> dict[str, Any]:
    """Timeouts and retries for a connector activity, from the workflow's arguments."""
    return {
        "task_queue": args.get("activity_task_queue") or ACTIVITY_QUEUE,
        "start_to_close_timeout": timedelta(seconds=args.get("activity_timeout_seconds") or 60),
        "retry_policy": RetryPolicy(
            initial_interval=timedelta(seconds=1),
            backoff_coefficient=2.0,
            maximum_interval=timedelta(seconds=60),
            non_retryable_error_types=NON_RETRYABLE,
        ),
    }


@workflow.defn(name="PollAlerts")
class PollAlerts:
    """Polls one connection for one kind of alert and hands each new item on exactly once.

    Arguments (one JSON object):
    - `connection`: the saved connection's name (resolved by the worker; never a token);
    - `kind`: `model-breaches` or `ai-analyst-incidents`;
    - `interval_seconds`: pause between polls when nothing more is waiting (default 60);
    - `options`: poll options (`min_score`, `first_lookback_seconds`, ...);
    - `child_workflow` (and optional `child_task_queue`): start this workflow per item with
      `{"connection": ..., "kind": ..., "item": {...}}`; or
    - `signal` and `signal_workflow_id`: signal that workflow with the same object per item;
    - `child_args`: more fields for each hand-off object (e.g. the child's own options);
    - `polls_per_run`: polls before continuing as new (default 50);
    - `max_polls`: stop after this many polls in total (default: never; for tests and benches);
    - `state`, `polls_done`: carried over by continue-as-new; leave unset.
    """

    def __init__(self) -> None:
        self._delivered = 0
        self._polls = 0

    @workflow.query(name="progress")
    def progress(self) -> dict[str, int]:
        """Polls run and items handed on in this run."""
        return {"polls": self._polls, "delivered": self._delivered}

    @workflow.run
    async def run(self, args: dict[str, Any]) -> dict[str, Any]:
        action, id_field = KINDS[args["kind"]]
        connection = args["connection"]
        state = args.get("state")
        polls_done = args.get("polls_done", 0)
        per_run = args.get("polls_per_run") or 50
        max_polls = args.get("max_polls")
        interval = timedelta(seconds=args.get("interval_seconds") or 60)
        options = activity_options(args)
        while True:
            poll_input = dict(args.get("options") or {})
            poll_input["state"] = state
            batch = await workflow.execute_activity(
                action, {"connection": connection, "input": poll_input}, **options
            )
            for item in batch["items"]:
                await self._hand_on(args, f"{item[id_field]}", item)
            # The new state is taken only after every item was handed on: a crash in between
            # replays the same hand-offs, which the history (or the child id) deduplicates.
            state = batch["state"]
            self._polls += 1
            polls_done += 1
            if max_polls is not None and polls_done >= max_polls:
                return {"state": state, "polls": polls_done}
            if batch.get("more"):
                continue
            if self._polls >= per_run or workflow.info().is_continue_as_new_suggested():
                workflow.continue_as_new({**args, "state": state, "polls_done": polls_done})
            await workflow.sleep(interval)

    async def _hand_on(self, args: dict[str, Any], item_id: str, item: dict[str, Any]) -> None:
        payload = {**(args.get("child_args") or {}), "connection": args["connection"], "kind": args["kind"], "item": item}
        if args.get("child_workflow"):
            try:
                await workflow.start_child_workflow(
                    args["child_workflow"],
                    payload,
                    id=f"{workflow.info().workflow_id}/{item_id}",
                    task_queue=args.get("child_task_queue") or workflow.info().task_queue,
                    id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                    parent_close_policy=workflow.ParentClosePolicy.ABANDON,
                )
            except WorkflowAlreadyStartedError:
                # Delivered by an earlier run (an item seen again inside the poll's overlap).
                return
        elif args.get("signal"):
            handle = workflow.get_external_workflow_handle(args["signal_workflow_id"])
            await handle.signal(args["signal"], payload)
        self._delivered += 1


def poller_id(connection: str, kind: str) -> str:
    """The poller's workflow id: one poller per connection and kind."""
    return f"poll/{connection}/{kind}"


async def _main() -> None:
    from temporalio.client import Client
    from temporalio.worker import Worker

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--address", default="127.0.0.1:7233", help="Temporal frontend host:port")
    parser.add_argument("--namespace", default="default")
    sub = parser.add_subparsers(dest="command", required=True)
    w = sub.add_parser("worker", help="run a workflow worker hosting PollAlerts")
    w.add_argument("--task-queue", default=WORKFLOW_QUEUE)
    s = sub.add_parser("start", help="start (or keep) the poller of one connection")
    s.add_argument("--connection", required=True)
    s.add_argument("--kind", choices=sorted(KINDS), default="model-breaches")
    s.add_argument("--interval", type=int, default=60, help="seconds between polls")
    s.add_argument("--options", default="{}", help="poll options as a JSON object")
    s.add_argument("--child-workflow", help="workflow type to start per item")
    s.add_argument("--child-task-queue", default=None)
    s.add_argument("--signal", help="signal name to send per item (with --signal-workflow-id)")
    s.add_argument("--signal-workflow-id")
    s.add_argument("--task-queue", default=WORKFLOW_QUEUE)
    a = parser.parse_args()
    client = await Client.connect(a.address, namespace=a.namespace)
    if a.command == "worker":
        await Worker(client, task_queue=a.task_queue, workflows=[PollAlerts]).run()
        return
    if not a.child_workflow and not (a.signal and a.signal_workflow_id):
        parser.error("give --child-workflow, or --signal with --signal-workflow-id")
    args = {
        "connection": a.connection,
        "kind": a.kind,
        "interval_seconds": a.interval,
        "options": json.loads(a.options),
        "child_workflow": a.child_workflow,
        "child_task_queue": a.child_task_queue,
        "signal": a.signal,
        "signal_workflow_id": a.signal_workflow_id,
    }
    wid = poller_id(a.connection, a.kind)
    try:
        await client.start_workflow("PollAlerts", args, id=wid, task_queue=a.task_queue)
        print(json.dumps({"started": wid}))
    except WorkflowAlreadyStartedError:
        print(json.dumps({"already_running": wid}))


def run_then_exit(main) -> None:
    """Runs the coroutine function `main` and ends the process with its exit code (a
    `sys.exit` inside it included) without the interpreter's finalization: the SDK's native
    threads can crash finalization (SIGSEGV, or SIGABRT in PyGILState_Release) after all the work
    is done and printed, turning a finished command into a failed one."""
    try:
        code = asyncio.run(main()) or 0
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    run_then_exit(_main)
