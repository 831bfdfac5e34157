//! The sandbox against a hostile component (`tests/hostile/`): it exports the connector world
//! and, per action name, tries to escape, hoard memory, spin, sleep, trap or answer garbage.
//! Each attempt must end in a typed host error, and the same host must then serve calls again.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant as Clock};

use host_test::runtime::{CallError, CallErrorKind, Limits};

use super::support::*;

const MEMORY: usize = 32 * 1024 * 1024;
const DEADLINE: Duration = Duration::from_secs(2);

/// Builds the hostile component once per test run, into the same directory as the connector's
/// wasm build so its dependencies compile once.
pub(crate) static HOSTILE_WASM: LazyLock<PathBuf> = LazyLock::new(|| {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf();
    let target_dir = root.join("target/component");
    let output = Command::new(env!("CARGO"))
        .args(["build", "--locked", "--release", "--target", "wasm32-wasip2", "--manifest-path"])
        .arg(root.join("host-test/tests/hostile/Cargo.toml"))
        .env("CARGO_TARGET_DIR", &target_dir)
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .output()
        .expect("run cargo to build the hostile component");
    assert!(
        output.status.success(),
        "building the hostile component failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    target_dir.join("wasm32-wasip2/release/hostile_component.wasm")
});

fn hostile_host(max_instances: Option<u32>) -> Host {
    let config = HostConfig {
        limits: Limits { memory_bytes: MEMORY, deadline: DEADLINE },
        max_instances,
        ..HostConfig::default()
    };
    Host::load(&HOSTILE_WASM, config).expect("the hostile component loads like the connector")
}

/// One host shared by the tests below, so each also proves the host survived the others.
static HOSTILE: LazyLock<Host> = LazyLock::new(|| hostile_host(None));

fn conn_to(api_address: String) -> ConnectionParams {
    ConnectionParams {
        api_address,
        public_token: "public".into(),
        private_token: "private-hostile-test".into(),
        ..Default::default()
    }
}

async fn misbehave(action: &str, input: &str) -> CallError {
    let conn = conn_to("http://127.0.0.1:9".into());
    match HOSTILE.invoke(&conn, action, input).await {
        Ok(answer) => panic!("`{action}` should have been stopped, got {answer:?}"),
        Err(e) => e,
    }
}

/// After a misbehaviour: the same hostile host runs a well-behaved call, and the real connector
/// (another host in this process) still works against the simulator.
async fn hosts_still_serve() {
    let conn = conn_to("http://127.0.0.1:9".into());
    let pong = HOSTILE.invoke(&conn, "ping", "{}").await.expect("the host serves calls after a misbehaviour");
    assert_eq!(pong.unwrap(), r#"{"ok": true}"#);
    let (_sim, conn) = simulator().await;
    let status = invoke(&conn, "test-connection", json!({})).await.expect("the connector still works");
    assert_eq!(status["api_address"], conn.api_address.as_str(), "{status}");
}

#[tokio::test]
async fn reaching_another_host_is_denied_and_nothing_arrives_there() {
    let elsewhere = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = elsewhere.local_addr().unwrap().port();
    let (sim, conn) = simulator().await;
    let err = HOSTILE.invoke(&conn, "reach-elsewhere", &format!("http://127.0.0.1:{port}/steal")).await.unwrap_err();
    assert_eq!(err.kind(), CallErrorKind::Denied, "{err}");
    assert!(err.message().contains(&format!("http://127.0.0.1:{port}")), "names where it tried to go: {err}");
    assert!(
        err.message().contains(&format!("only http://127.0.0.1:{}", sim.addr().port())),
        "names what was allowed: {err}"
    );
    // Neither over wasi:http nor over a raw socket did anything connect.
    elsewhere.set_nonblocking(true).unwrap();
    assert_eq!(
        elsewhere.accept().map(|_| ()).unwrap_err().kind(),
        std::io::ErrorKind::WouldBlock,
        "a connection reached the other host"
    );
    assert!(sim.requests().is_empty());
    hosts_still_serve().await;
}

#[tokio::test]
async fn the_same_request_to_the_api_address_is_allowed() {
    let (sim, conn) = simulator().await;
    let answer = HOSTILE.invoke(&conn, "reach-api", "{}").await.expect("allowed").unwrap();
    // Unsigned, so the simulator refuses it, but it arrived: the policy is not deny-all.
    assert!(answer.contains("status"), "{answer}");
    assert_eq!(sim.requests().len(), 1);
}

#[tokio::test]
async fn host_files_and_environment_are_out_of_reach() {
    let conn = conn_to("http://127.0.0.1:9".into());
    let answer: Value =
        serde_json::from_str(&HOSTILE.invoke(&conn, "read-host", "{}").await.unwrap().unwrap()).unwrap();
    assert!(answer["file"].as_str().unwrap().starts_with("refused"), "{answer}");
    assert!(answer["dir"].as_str().unwrap().starts_with("refused"), "{answer}");
    assert_eq!(answer["env"], json!([]), "no environment variable is visible: {answer}");
}

#[tokio::test]
async fn unbounded_allocation_stops_at_the_memory_limit() {
    let err = misbehave("allocate-forever", "{}").await;
    assert_eq!(err.kind(), CallErrorKind::MemoryLimit, "{err}");
    assert!(err.message().contains("32 MiB memory limit"), "{err}");
    hosts_still_serve().await;
}

#[tokio::test]
async fn an_endless_loop_or_sleep_is_stopped_at_the_deadline() {
    // The loop is stopped by epoch interruption, the sleep (a host wait) by the call's timeout.
    for action in ["loop-forever", "sleep-forever"] {
        let started = Clock::now();
        let err = misbehave(action, "{}").await;
        assert_eq!(err.kind(), CallErrorKind::Deadline, "{action}: {err}");
        assert!(
            started.elapsed() < DEADLINE + Duration::from_secs(5),
            "{action} stopped late: {:?}",
            started.elapsed()
        );
        hosts_still_serve().await;
    }
}

#[tokio::test]
async fn a_trap_is_a_trap_error() {
    let err = misbehave("trap", "{}").await;
    assert_eq!(err.kind(), CallErrorKind::Trap, "{err}");
    assert!(err.message().contains("hostile 0.0.0"), "names the component: {err}");
    hosts_still_serve().await;
}

#[tokio::test]
async fn a_panic_is_a_trap_error_carrying_the_panic_message() {
    let err = misbehave("panic", "{}").await;
    assert_eq!(err.kind(), CallErrorKind::Trap, "{err}");
    assert!(err.message().contains("panicking on purpose"), "{err}");
    hosts_still_serve().await;
}

#[tokio::test]
async fn a_typed_function_that_traps_is_a_trap_error() {
    let conn = conn_to("http://127.0.0.1:9".into()).to_wit();
    let err = HOSTILE
        .call(Policy::deny_all(), async |c, store| {
            c.darktrace_connector_system().call_test_connection(store, &conn).await
        })
        .await
        .unwrap_err();
    assert_eq!(err.kind(), CallErrorKind::Trap, "{err}");
    hosts_still_serve().await;
}

#[tokio::test]
async fn an_answer_that_is_not_json_is_a_bad_answer() {
    let err = misbehave("answer-not-json", "{}").await;
    assert_eq!(err.kind(), CallErrorKind::BadAnswer, "{err}");
    assert!(err.message().contains("not JSON") && err.message().contains("<html>"), "{err}");
    hosts_still_serve().await;
}

#[tokio::test]
async fn an_answer_that_is_not_utf8_is_a_bad_answer() {
    let err = misbehave("answer-invalid-utf8", "{}").await;
    assert_eq!(err.kind(), CallErrorKind::BadAnswer, "{err}");
    hosts_still_serve().await;
}

#[tokio::test]
async fn a_flood_of_stderr_is_capped_not_kept() {
    let conn = conn_to("http://127.0.0.1:9".into());
    let (answer, report) = HOSTILE.invoke_with_policy(&conn, Policy::deny_all(), "flood-stderr", "{}").await.unwrap();
    assert_eq!(answer.unwrap(), r#"{"flooded": true}"#);
    assert!(report.stderr.len() <= 64 * 1024, "kept {} bytes of stderr", report.stderr.len());
    hosts_still_serve().await;
}

#[tokio::test]
async fn more_calls_than_instance_slots_is_a_capacity_error() {
    let host = hostile_host(Some(1));
    let conn = conn_to("http://127.0.0.1:9".into());
    let (sleeper, second) = tokio::join!(host.invoke(&conn, "sleep-forever", "{}"), async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        host.invoke(&conn, "ping", "{}").await
    });
    assert_eq!(sleeper.unwrap_err().kind(), CallErrorKind::Deadline);
    let err = second.unwrap_err();
    assert_eq!(err.kind(), CallErrorKind::Capacity, "{err}");
    assert!(err.message().contains("--max-instances"), "says what to do: {err}");
    // The slot is free again once the sleeper was stopped.
    assert_eq!(host.invoke(&conn, "ping", "{}").await.unwrap().unwrap(), r#"{"ok": true}"#);
}

/// This process's peak resident memory so far (Linux `VmHWM`), in bytes.
fn peak_rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("read /proc/self/status");
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).expect("VmHWM in /proc/self/status");
    line.split_whitespace().nth(1).and_then(|kb| kb.parse::<u64>().ok()).expect("VmHWM in kB") * 1024
}

#[tokio::test]
async fn header_maps_a_component_hoards_are_bounded_by_its_memory_limit() {
    // 8192 header maps of 120 KB each, under wasmtime's default 128 KiB per map and million
    // resources, would make the host hold about 1 GB; then 100000 maps of 8 KB, 800 MB.
    let conn = conn_to("http://127.0.0.1:9".into());
    for (input, stopped_by) in [("8192,120000", "header map larger than the 16 KiB"), ("100000,8000", "host resources")]
    {
        let before = peak_rss();
        let outcome = HOSTILE.invoke(&conn, "hoard-fields", input).await;
        let grown = peak_rss().saturating_sub(before);
        let err = outcome.expect_err("hoarding header maps must be stopped");
        assert_eq!(err.kind(), CallErrorKind::MemoryLimit, "{input}: {err}");
        assert!(err.message().contains(stopped_by), "{input}: {err}");
        // Not a timing: how much the host's peak memory grew while the call ran (other tests in
        // this process share the figure, hence the margin).
        eprintln!("{input}: host peak RSS grew by {} MiB during the hoarding call", grown >> 20);
        assert!(grown < 256 << 20, "{input}: the host grew by {} MiB", grown >> 20);
    }
    hosts_still_serve().await;
}

#[tokio::test]
async fn requests_started_without_reading_their_answers_are_refused_past_the_in_flight_limit() {
    let (sim, conn) = simulator().await;
    let answer = HOSTILE.invoke(&conn, "hold-requests", "12").await.expect("the call itself completes").unwrap();
    let answer: Value = serde_json::from_str(&answer).unwrap();
    let limit = host_test::runtime::MAX_IN_FLIGHT_REQUESTS as u64;
    assert_eq!(answer["answered"], limit, "{answer}");
    assert_eq!(answer["refused"], 12 - limit, "{answer}");
    assert_eq!(sim.requests().len() as u64, limit, "refused requests never left the host");
    hosts_still_serve().await;
}

#[tokio::test]
async fn an_ipv6_literal_api_address_connects() {
    // A one-answer HTTP server on [::1]; the policy, the connect and the Host header all see the
    // address without confusion over its brackets.
    let listener = tokio::net::TcpListener::bind("[::1]:0").await.expect("IPv6 loopback");
    let port = listener.local_addr().unwrap().port();
    let server = tokio::spawn(async move {
        use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
        let (mut socket, _) = listener.accept().await.unwrap();
        let mut head = vec![0u8; 4096];
        let n = socket.read(&mut head).await.unwrap();
        socket.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}").await.unwrap();
        String::from_utf8_lossy(&head[..n]).into_owned()
    });
    let conn = conn_to(format!("http://[::1]:{port}"));
    let answer = HOSTILE.invoke(&conn, "reach-api", "{}").await.expect("allowed").unwrap();
    assert!(answer.contains("status 200"), "{answer}");
    let request = server.await.unwrap();
    assert!(request.to_ascii_lowercase().contains(&format!("host: [::1]:{port}")), "{request}");
}
