//! Upstream faults, one test each: the simulator plays the fault (`SimulatorConfig::fault` or
//! `Simulator::set_fault`) and the component must end in the right typed outcome, with the
//! right number of attempts, never a hang, panic or trap; afterwards the same host runs a normal
//! action fine.
//!
//! Timeout cases use [`LIMITED`], a host with small response limits and a short deadline, so a
//! stalled server costs a second or two, not the default 30 s.

use std::time::{Duration, Instant as Clock};

use host_test::outbound::ResponseLimits;
use host_test::runtime::Limits;
use host_test::simulator::Fault;

use crate::support::*;

/// The deadline of [`LIMITED`]'s calls.
const LIMITED_DEADLINE: Duration = Duration::from_secs(3);

/// A host whose answers must start within 1 s, pause at most 500 ms, stay under 1 MiB, and whose
/// calls end after [`LIMITED_DEADLINE`].
static LIMITED: LazyLock<Host> = LazyLock::new(|| {
    let config = HostConfig {
        limits: Limits { deadline: LIMITED_DEADLINE, ..Limits::default() },
        cache_dir: host_test::cache::default_dir(),
        ..HostConfig::default()
    };
    Host::load(Path::new(host_test::CONNECTOR_WASM), config).expect("load the component").with_response_limits(
        ResponseLimits {
            first_byte: Duration::from_secs(1),
            between_bytes: Duration::from_millis(500),
            max_body_bytes: Some(1024 * 1024),
        },
    )
});

async fn faulty(fault: Fault) -> (Simulator, ConnectionParams) {
    simulator_with(SimulatorConfig { fault: Some(fault), ..Default::default() }).await
}

/// Loads [`LIMITED`] now, so its compile time does not count in a test's timing.
fn limited_host_ready() {
    LazyLock::force(&LIMITED);
}

/// Runs `action` on [`LIMITED`]; a trap or a missed deadline fails the test.
async fn invoke_limited(conn: &ConnectionParams, action: &str, input: Value) -> Result<String, GuestError> {
    LIMITED.invoke(conn, action, &input.to_string()).await.expect("no trap and no missed deadline")
}

/// Clears the fault and checks a normal action now works on `host`.
async fn recovers(sim: &Simulator, conn: &ConnectionParams, host: &Host) {
    sim.set_fault(None);
    let out = host.invoke(conn, "get-status", "{}").await.expect("no trap");
    assert!(out.is_ok(), "a normal action after the fault failed: {out:?}");
}

fn api_requests(sim: &Simulator) -> usize {
    sim.requests().len()
}

#[tokio::test]
async fn the_html_login_page_is_permission_denied_naming_the_permission() {
    let (sim, conn) = faulty(Fault::LoginPage).await;
    let err = invoke(&conn, "list-model-breaches", json!({})).await.unwrap_err();
    assert_eq!(err.case(), "permission-denied");
    assert!(err.message().contains("View Model Breaches"), "{}", err.message());
    assert_eq!(api_requests(&sim), 1, "a permission problem is not retried");
    recovers(&sim, &conn, &HOST).await;
}

#[tokio::test]
async fn a_redirect_to_login_is_permission_denied_naming_the_permission() {
    let (sim, conn) = faulty(Fault::RedirectToLogin).await;
    let err = invoke(&conn, "get-status", json!({})).await.unwrap_err();
    assert_eq!(err.case(), "permission-denied");
    assert!(err.message().contains("/login") && err.message().contains("\"Status\""), "{}", err.message());
    recovers(&sim, &conn, &HOST).await;
}

#[tokio::test]
async fn a_redirect_to_403_is_permission_denied_naming_the_permission() {
    let (sim, conn) = faulty(Fault::RedirectToForbidden).await;
    let err = invoke(&conn, "list-respond-actions", json!({})).await.unwrap_err();
    assert_eq!(err.case(), "permission-denied");
    assert!(err.message().contains("/403") && err.message().contains("RESPOND"), "{}", err.message());
    recovers(&sim, &conn, &HOST).await;
}

#[tokio::test]
async fn a_get_is_retried_after_one_503_and_succeeds_after_sleeping_in_the_guest() {
    let (sim, conn) = faulty(Fault::Status { status: 503, retry_after_secs: None, times: Some(1) }).await;
    let started = Clock::now();
    let out = invoke(&conn, "get-status", json!({})).await.expect("the retry succeeds");
    assert_eq!(out["hostname"], "dt-sim-master");
    let statuses: Vec<u16> = sim.requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses, [503, 200]);
    // std::thread::sleep in the guest waits on wasi clocks: the first backoff is 1 s.
    assert!(started.elapsed() >= Duration::from_millis(950), "no backoff: {:?}", started.elapsed());
}

#[tokio::test]
async fn a_get_that_keeps_getting_502_ends_upstream_after_four_attempts() {
    let (sim, conn) = faulty(Fault::Status { status: 502, retry_after_secs: None, times: None }).await;
    let err = invoke(&conn, "get-model-breach", json!({"pbid": sim.known_pbids()[0]})).await.unwrap_err();
    match &err {
        GuestError::Upstream(u) => assert_eq!(u.status, 502),
        other => panic!("expected upstream, got {other:?}"),
    }
    assert!(err.message().contains("gave up after 4 attempts"), "{}", err.message());
    assert_eq!(api_requests(&sim), 4);
    recovers(&sim, &conn, &HOST).await;
}

#[tokio::test]
async fn a_comment_post_is_not_retried_after_500() {
    let (sim, conn) = faulty(Fault::Status { status: 500, retry_after_secs: None, times: Some(1) }).await;
    let pbid = sim.known_pbids()[0];
    let err = invoke(&conn, "add-model-breach-comment", json!({"pbid": pbid, "message": "seen"})).await.unwrap_err();
    assert_eq!(err.case(), "upstream");
    assert!(err.message().contains("1 attempt") && err.message().contains("not idempotent"), "{}", err.message());
    assert_eq!(api_requests(&sim), 1);
    assert!(sim.comments(pbid).iter().all(|c| c != "seen"));
    recovers(&sim, &conn, &HOST).await;
}

#[tokio::test]
async fn an_acknowledgement_is_retried_after_429_honouring_retry_after() {
    let (sim, conn) = faulty(Fault::Status { status: 429, retry_after_secs: Some(1), times: Some(2) }).await;
    let pbid = sim.known_pbids()[0];
    invoke(&conn, "acknowledge-model-breach", json!({"pbid": pbid})).await.expect("the third attempt succeeds");
    let statuses: Vec<u16> = sim.requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses, [429, 429, 200]);
    assert_eq!(sim.is_acknowledged(pbid), Some(true));
}

#[tokio::test]
async fn a_retry_after_beyond_the_retry_budget_ends_rate_limited_at_once() {
    let (sim, conn) = faulty(Fault::Status { status: 429, retry_after_secs: Some(120), times: None }).await;
    match invoke(&conn, "get-status", json!({})).await {
        Err(GuestError::RateLimited(r)) => {
            assert_eq!(r.retry_after_seconds, Some(120));
            assert!(r.message.contains("1 attempt"), "{}", r.message);
        }
        other => panic!("expected rate-limited, got {other:?}"),
    }
    assert_eq!(api_requests(&sim), 1);
    recovers(&sim, &conn, &HOST).await;
}

#[tokio::test]
async fn a_clock_two_hours_off_is_corrected_from_the_date_header_and_reported() {
    let (sim, conn) = simulator_with(SimulatorConfig { clock_offset_secs: 7200, ..Default::default() }).await;
    let (out, report) = HOST.invoke_with_policy(&conn, conn.policy(), "test-connection", "{}").await.expect("no trap");
    assert!(out.is_ok(), "{out:?}");
    let statuses: Vec<u16> = sim.requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses, [400, 200], "one API DATE ERROR, then the corrected request");
    assert!(report.stderr.contains("by 7199 s") || report.stderr.contains("by 7200 s"), "{}", report.stderr);
}

#[tokio::test]
async fn a_connections_fixed_clock_offset_signs_right_the_first_time() {
    let (sim, mut conn) = simulator_with(SimulatorConfig { clock_offset_secs: 7200, ..Default::default() }).await;
    conn.settings.clock_offset_seconds = Some(7200);
    let (out, report) = HOST.invoke_with_policy(&conn, conn.policy(), "test-connection", "{}").await.expect("no trap");
    assert!(out.is_ok(), "{out:?}");
    let statuses: Vec<u16> = sim.requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses, [200], "no API DATE ERROR round trip");
    assert!(report.stderr.is_empty(), "nothing to report: {}", report.stderr);
}

#[tokio::test]
async fn a_connection_with_one_attempt_sends_a_failing_get_once() {
    let (sim, mut conn) = faulty(Fault::Status { status: 503, retry_after_secs: None, times: None }).await;
    conn.settings.max_attempts = Some(1);
    let err = invoke(&conn, "get-status", json!({})).await.unwrap_err();
    assert_eq!(err.case(), "upstream");
    assert!(err.message().contains("gave up after 1 attempt"), "{}", err.message());
    assert_eq!(api_requests(&sim), 1);
}

#[tokio::test]
async fn a_connection_with_no_retry_wait_gives_up_instead_of_waiting() {
    let (sim, mut conn) = faulty(Fault::Status { status: 503, retry_after_secs: None, times: None }).await;
    conn.settings.max_retry_wait_seconds = Some(0);
    let started = Clock::now();
    let err = invoke(&conn, "get-status", json!({})).await.unwrap_err();
    assert!(err.message().contains("0 s retry budget"), "{}", err.message());
    assert_eq!(api_requests(&sim), 1);
    assert!(started.elapsed() < Duration::from_secs(1), "waited {:?}", started.elapsed());
}

#[tokio::test]
async fn connection_settings_out_of_range_are_invalid_connection_and_send_nothing() {
    let (sim, conn) = simulator().await;
    for (settings, field) in [
        (Settings { max_attempts: Some(0), ..Settings::default() }, "max_attempts"),
        (Settings { max_retry_wait_seconds: Some(3600), ..Settings::default() }, "max_retry_wait_seconds"),
        (Settings { clock_offset_seconds: Some(i32::MIN), ..Settings::default() }, "clock_offset_seconds"),
    ] {
        let err = invoke(&ConnectionParams { settings, ..conn.clone() }, "get-status", json!({})).await.unwrap_err();
        assert_eq!(err.case(), "invalid-connection");
        assert!(err.message().starts_with(field), "{}", err.message());
    }
    assert!(sim.requests().is_empty());
}

#[tokio::test]
async fn a_date_error_without_a_usable_date_header_is_clock_skew() {
    let (sim, conn) = simulator_with(SimulatorConfig {
        clock_offset_secs: -7200,
        fault: Some(Fault::UnusableDateHeader),
        ..Default::default()
    })
    .await;
    let err = invoke(&conn, "list-model-breaches", json!({})).await.unwrap_err();
    assert_eq!(err.case(), "clock-skew");
    assert!(err.message().contains("no usable Date header") && err.message().contains("NTP"), "{}", err.message());
    assert_eq!(api_requests(&sim), 1);
}

#[tokio::test]
async fn an_answer_over_the_size_limit_is_response_too_large_naming_the_limit() {
    let (sim, conn) = faulty(Fault::Oversized { bytes: 2 * 1024 * 1024 }).await;
    let err = invoke_limited(&conn, "list-models", json!({})).await.unwrap_err();
    assert_eq!(err.case(), "response-too-large");
    assert!(err.message().contains("larger than") && err.message().contains("1048576"), "{}", err.message());
    recovers(&sim, &conn, &LIMITED).await;
}

#[tokio::test]
async fn a_server_that_never_answers_is_a_timeout_after_the_first_byte_limit() {
    let (sim, conn) = faulty(Fault::Silent).await;
    limited_host_ready();
    let started = Clock::now();
    let err = invoke_limited(&conn, "get-status", json!({})).await.unwrap_err();
    assert_eq!(err.case(), "timeout", "{}", err.message());
    assert!(started.elapsed() < Duration::from_secs(2), "took {:?}", started.elapsed());
    assert_eq!(api_requests(&sim), 1, "a timeout is not retried");
    recovers(&sim, &conn, &LIMITED).await;
}

#[tokio::test]
async fn a_body_that_stalls_is_a_timeout_after_the_between_bytes_limit() {
    let (sim, conn) = faulty(Fault::Dribble { interval: Duration::from_secs(2) }).await;
    limited_host_ready();
    let started = Clock::now();
    let err = invoke_limited(&conn, "get-status", json!({})).await.unwrap_err();
    assert_eq!(err.case(), "timeout", "{}", err.message());
    assert!(started.elapsed() < Duration::from_secs(2), "took {:?}", started.elapsed());
    recovers(&sim, &conn, &LIMITED).await;
}

#[tokio::test]
async fn a_body_dribbled_a_byte_at_a_time_is_a_timeout_within_the_deadline() {
    let (sim, conn) = faulty(Fault::Dribble { interval: Duration::from_millis(200) }).await;
    limited_host_ready();
    let started = Clock::now();
    let err = invoke_limited(&conn, "get-status", json!({})).await.unwrap_err();
    assert_eq!(err.case(), "timeout", "{}", err.message());
    assert!(started.elapsed() < LIMITED_DEADLINE, "took {:?}", started.elapsed());
    recovers(&sim, &conn, &LIMITED).await;
}

#[tokio::test]
async fn truncated_json_is_an_unexpected_response() {
    let (sim, conn) = faulty(Fault::TruncatedJson).await;
    let err = invoke(&conn, "list-model-breaches", json!({})).await.unwrap_err();
    assert_eq!(err.case(), "unexpected-response");
    assert!(err.message().contains("invalid JSON"), "{}", err.message());
    recovers(&sim, &conn, &HOST).await;
}

#[tokio::test]
async fn an_object_where_a_list_is_expected_is_an_unexpected_response() {
    let (sim, conn) = faulty(Fault::ObjectForList).await;
    let err = invoke(&conn, "list-model-breaches", json!({})).await.unwrap_err();
    assert_eq!(err.case(), "unexpected-response");
    // `{"data": [...]}` reads as one breach without a pbid: the message names the field path.
    assert!(err.message().contains("`modelbreaches[0].pbid`"), "{}", err.message());
    recovers(&sim, &conn, &HOST).await;
}

#[tokio::test]
async fn a_string_where_a_number_is_expected_is_a_warning_naming_the_field_path() {
    // The fault writes `"n0.83"`, which no reader takes for a number: every breach is still
    // listed, its score at the default, with a warning naming the field (README, tolerant reading).
    let (sim, conn) = faulty(Fault::StringForNumber { field: "score".into() }).await;
    let list = invoke(&conn, "list-model-breaches", json!({})).await.unwrap();
    let list = list.as_array().unwrap();
    assert!(!list.is_empty());
    for b in list {
        let w = &b["warnings"][0];
        assert!(
            w["path"].as_str().unwrap().ends_with("].score") && w["found"].as_str().unwrap().starts_with("a string"),
            "{w}"
        );
        assert_eq!(b["score"], 0.0);
    }
    recovers(&sim, &conn, &HOST).await;
}
