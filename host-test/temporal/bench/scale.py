"""Scale bench: N simulated tenants polled every 30 s, by Temporal (3 darktrace-worker processes
and one PollAlerts workflow per tenant) and by one `host-test poll --follow` process per tenant.

    cargo build --release -p darktrace-temporal -p host-test
    .ci/venv/bin/python host-test/temporal/bench/scale.py --tenants 500 --minutes 10

Every tenant gets a new breach every minute (staggered). Measured per setup, after a warm-up:
poll lag (a breach's creation to its delivery: the collector's signal for Temporal, the JSON
line on stdout for the CLI), p50 and p99; polls (activities) per second; CPU and peak memory of
the processes doing the polling, per tenant. Prints one JSON object per setup and a Markdown
table. Everything runs on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import atexit
import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from datetime import timedelta
from pathlib import Path

from temporalio import workflow

ROOT = Path(__file__).resolve().parents[3]
if not workflow.unsafe.in_sandbox():
    sys.path.insert(0, str(ROOT / "host-test" / "temporal" / "workflows"))
with workflow.unsafe.imports_passed_through():
    from darktrace_pollers import PollAlerts

TICKS = os.sysconf("SC_CLK_TCK")
CHILDREN: list[subprocess.Popen] = []


def popen(*args, **kwargs) -> subprocess.Popen:
    """Starts a process that is killed when the bench exits, however it exits."""
    p = subprocess.Popen(*args, **kwargs)
    CHILDREN.append(p)
    return p


atexit.register(lambda: [p.kill() for p in CHILDREN if p.poll() is None])


@workflow.defn(name="BenchCollector")
class BenchCollector:
    """Receives every delivered breach as a signal; the signal's event time is its delivery."""

    def __init__(self) -> None:
        self.count = 0
        self.done = False

    @workflow.signal(name="alert")
    def alert(self, payload: dict) -> None:
        self.count += 1

    @workflow.signal(name="stop")
    def stop(self) -> None:
        self.done = True

    @workflow.run
    async def run(self) -> int:
        await workflow.wait_condition(lambda: self.done)
        return self.count


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def proc_cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TICKS
    except (OSError, IndexError):
        return 0.0


def proc_rss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


class Sampler:
    """CPU seconds over the window and peak summed RSS of a set of processes."""

    def __init__(self, pids: list[int]) -> None:
        self.pids = pids
        self.cpu0 = sum(proc_cpu_seconds(p) for p in pids)
        self.peak_rss = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.stop.wait(2.0):
            self.peak_rss = max(self.peak_rss, sum(proc_rss_kib(p) for p in self.pids))

    def finish(self) -> tuple[float, int]:
        self.stop.set()
        self.thread.join()
        return sum(proc_cpu_seconds(p) for p in self.pids) - self.cpu0, self.peak_rss


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def start_tenants(args, store: Path, seconds: int) -> subprocess.Popen:
    p = popen(
        [str(args.bin_dir / "bench-tenants"), "--tenants", str(args.tenants), "--store", str(store),
         "--seconds", str(seconds), "--breach-every", "60"],
        stdout=subprocess.PIPE, text=True,
    )
    assert p.stdout.readline().strip() == "ready", "bench-tenants did not start"
    return p


async def temporal_setup(args, work: Path) -> dict:
    from temporalio.client import Client
    from temporalio.worker import UnsandboxedWorkflowRunner, Worker

    store = work / "temporal-connections.json"
    env = {**os.environ, "DARKTRACE_CONNECTIONS_FILE": str(store)}
    total = args.warmup + args.seconds
    tenants = start_tenants(args, store, total + 60)
    port = free_port()
    address = f"127.0.0.1:{port}"
    server = popen(
        [args.temporal, "server", "start-dev", "--ip", "127.0.0.1", "--port", str(port), "--headless",
         "--log-level", "error"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    for _ in range(120):
        try:
            client = await Client.connect(address)
            await client.workflow_service.get_system_info(__import__("temporalio.api.workflowservice.v1", fromlist=["x"]).GetSystemInfoRequest())
            break
        except Exception:
            await asyncio.sleep(0.5)
    workers = []
    try:
        return await _temporal_measure(args, work, env, address, client, server, workers)
    finally:
        for p in [*workers, server, tenants]:
            p.kill()
            p.wait()


async def _temporal_measure(args, work, env, address, client, server, workers) -> dict:
    from temporalio.worker import UnsandboxedWorkflowRunner, Worker

    for i in range(args.workers):
        workers.append(popen(
            [str(args.bin_dir / "darktrace-worker"), "--address", address, "--concurrency", "8"],
            env=env, stderr=open(work / f"worker-{i}.err", "w"),
        ))
    for i in range(args.workers):
        for _ in range(600):
            if "serving task queue" in (work / f"worker-{i}.err").read_text():
                break
            await asyncio.sleep(0.2)
    queue = "bench-workflows"
    async with Worker(client, task_queue=queue, workflows=[PollAlerts, BenchCollector],
                      max_cached_workflows=args.tenants + 10,
                      # This file touches the file system at import; the bench trusts its workflows.
                      workflow_runner=UnsandboxedWorkflowRunner()):
        collector = await client.start_workflow(BenchCollector.run, id="bench-collector", task_queue=queue)
        for i in range(args.tenants):
            await client.start_workflow(
                PollAlerts.run,
                {"connection": f"bench-{i:04d}", "kind": "model-breaches", "interval_seconds": args.interval,
                 "options": {"first_lookback_seconds": 60}, "signal": "alert",
                 "signal_workflow_id": "bench-collector", "activity_timeout_seconds": 60},
                id=f"poll/bench-{i:04d}", task_queue=queue,
            )
        await asyncio.sleep(args.warmup)
        pids = [w.pid for w in workers]
        sampler = Sampler(pids)
        others = Sampler([server.pid, os.getpid()])
        t0 = time.time()
        await asyncio.sleep(args.seconds)
        t1 = time.time()
        cpu, rss = sampler.finish()
        other_cpu, other_rss = others.finish()
        history = await collector.fetch_history()
        lags, polls = [], 0
        for event in history.events:
            if event.HasField("workflow_execution_signaled_event_attributes"):
                attrs = event.workflow_execution_signaled_event_attributes
                if attrs.signal_name != "alert":
                    continue
                at = event.event_time.ToMilliseconds() / 1000
                item = json.loads(attrs.input.payloads[0].data)["item"]
                if t0 <= item["creation_time"] / 1000 and at <= t1:
                    lags.append(at - item["creation_time"] / 1000)
        # Activities: every poll the pollers ran in the window, counted from the appliances' logs.
        await collector.signal(BenchCollector.stop)
    return {
        "setup": f"Temporal: {args.workers} darktrace-worker, {args.tenants} PollAlerts workflows",
        "delivered": len(lags),
        "lag_p50_s": percentile(lags, 0.5),
        "lag_p99_s": percentile(lags, 0.99),
        "worker_cpu_percent": 100 * cpu / (t1 - t0),
        "worker_cpu_ms_per_tenant_minute": 1000 * cpu / args.tenants / ((t1 - t0) / 60),
        "worker_peak_rss_mib": rss / 1024,
        "worker_rss_kib_per_tenant": rss / args.tenants,
        "server_and_python_cpu_percent": 100 * other_cpu / (t1 - t0),
        "server_and_python_peak_rss_mib": other_rss / 1024,
        "window_s": t1 - t0,
        "expected_polls_per_s": args.tenants / args.interval,
    }


def cli_setup(args, work: Path) -> dict:
    store = work / "cli-connections.json"
    total = args.warmup + args.seconds
    tenants = start_tenants(args, store, total + 60)
    env = {**os.environ, "DARKTRACE_CONNECTIONS_FILE": str(store)}
    lags: list[float] = []
    lock = threading.Lock()
    window = [float("inf"), float("inf")]
    procs = []

    def reader(p: subprocess.Popen) -> None:
        for line in p.stdout:
            at = time.time()
            try:
                created = json.loads(line)["creation_time"] / 1000
            except (ValueError, KeyError):
                continue
            if window[0] <= created and at <= window[1]:
                with lock:
                    lags.append(at - created)

    for i in range(args.tenants):
        p = popen(
            [str(args.bin_dir / "host-test"), *(["--component", args.component] if args.component else []), "--connection", f"bench-{i:04d}", "--max-instances", "2", "poll",
             "model-breaches", "--state-file", str(work / f"state-{i}"), "--follow", "--interval", str(args.interval),
             "--options", '{"first_lookback_seconds": 60}'],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        )
        procs.append(p)
        threading.Thread(target=reader, args=(p,), daemon=True).start()
    time.sleep(args.warmup)
    sampler = Sampler([p.pid for p in procs])
    t0 = time.time()
    window[0] = t0
    time.sleep(args.seconds)
    t1 = time.time()
    window[1] = t1
    cpu, rss = sampler.finish()
    for p in [*procs, tenants]:
        p.kill()
        p.wait()
    return {
        "setup": f"CLI: {args.tenants} `host-test poll --follow` processes",
        "delivered": len(lags),
        "lag_p50_s": percentile(lags, 0.5),
        "lag_p99_s": percentile(lags, 0.99),
        "worker_cpu_percent": 100 * cpu / (t1 - t0),
        "worker_cpu_ms_per_tenant_minute": 1000 * cpu / args.tenants / ((t1 - t0) / 60),
        "worker_peak_rss_mib": rss / 1024,
        "worker_rss_kib_per_tenant": rss / args.tenants,
        "window_s": t1 - t0,
        "expected_polls_per_s": args.tenants / args.interval,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tenants", type=int, default=500)
    parser.add_argument("--minutes", type=float, default=10, help="measured window per setup")
    parser.add_argument("--warmup", type=int, default=60, help="seconds before measuring")
    parser.add_argument("--interval", type=int, default=30, help="seconds between polls")
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--cli-tenants", type=int, default=None, help="tenants for the CLI setup (default --tenants)")
    parser.add_argument("--skip-cli", action="store_true")
    parser.add_argument("--component", help="component for the CLI setup (default: the one host-test was built with)")
    parser.add_argument("--temporal", default=str(Path(sys.executable).parent / "temporal"))
    parser.add_argument("--bin-dir", type=Path, default=ROOT / "target" / "release")
    args = parser.parse_args()
    args.seconds = int(args.minutes * 60)
    work = Path(tempfile.mkdtemp(prefix="dt-scale-"))
    os.environ.setdefault("DARKTRACE_CONNECTOR_CACHE", str(work / "cache"))
    results = [asyncio.run(temporal_setup(args, work))]
    print(json.dumps(results[-1]), flush=True)
    if not args.skip_cli:
        if args.cli_tenants:
            args.tenants = args.cli_tenants
        results.append(cli_setup(args, work))
        print(json.dumps(results[-1]), flush=True)
    print("\n| setup | delivered | lag p50 | lag p99 | polls/s | polling CPU | CPU ms per tenant-minute | peak RSS | RSS per tenant |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in results:
        print(f"| {r['setup']} | {r['delivered']} | {r['lag_p50_s'] or 0:.1f} s | {r['lag_p99_s'] or 0:.1f} s | "
              f"{r['expected_polls_per_s']:.1f} | {r['worker_cpu_percent']:.0f}% | "
              f"{r['worker_cpu_ms_per_tenant_minute']:.1f} | {r['worker_peak_rss_mib']:.0f} MiB | "
              f"{r['worker_rss_kib_per_tenant']:.0f} KiB |")


if __name__ == "__main__":
    main()
