//! End-to-end checks of a running simulator through a minimal signed HTTP client.
//!
//! The client signs on its own (decoded query or exact body, via the connector's signing
//! module) rather than through the simulator's verification code, so the two sides are checked
//! against each other.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use darktrace_connector::signing;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};

use super::{Simulator, SimulatorConfig};

/// How long a test waits for the simulator to answer one request.
const REPLY_TIMEOUT: Duration = Duration::from_secs(10);

/// An HTTP answer.
#[derive(Debug)]
struct Answer {
    status: u16,
    location: Option<String>,
    body: Vec<u8>,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("body is not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }
}

/// Keys the client signs with.
struct Keys<'a> {
    public: &'a str,
    private: &'a str,
}

fn keys(sim: &Simulator) -> Keys<'_> {
    Keys { public: sim.public_token(), private: sim.private_token() }
}

/// Percent-encodes like Python's `urlencode`: unreserved characters kept, space as `+`.
fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            b' ' => "+".to_owned(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A request before signing.
struct Call<'a> {
    method: &'a str,
    path: &'a str,
    params: &'a [(&'a str, &'a str)],
    body: Option<&'a str>,
}

fn get<'a>(path: &'a str, params: &'a [(&'a str, &'a str)]) -> Call<'a> {
    Call { method: "GET", path, params, body: None }
}

fn post<'a>(path: &'a str, body: &'a str) -> Call<'a> {
    Call { method: "POST", path, params: &[], body: Some(body) }
}

/// Sends `call` signed with `keys` and a date from `date_of` the simulated clock.
async fn send_signed(sim: &Simulator, keys: &Keys<'_>, call: &Call<'_>, date: &str) -> Answer {
    let decoded: Vec<String> = call.params.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let wire: Vec<String> = call.params.iter().map(|(k, v)| format!("{}={}", encode(k), encode(v))).collect();
    let signed = match call.body {
        Some(body) => signing::signed_target(call.path, body.as_bytes()),
        None => signing::signed_target(call.path, decoded.join("&").as_bytes()),
    };
    let signature = signing::signature(keys.private, keys.public, date, &signed);
    let uri = if wire.is_empty() { call.path.to_owned() } else { format!("{}?{}", call.path, wire.join("&")) };
    let headers = [
        (signing::TOKEN_HEADER, keys.public.to_owned()),
        (signing::DATE_HEADER, date.to_owned()),
        (signing::SIGNATURE_HEADER, signature),
    ];
    send(sim.addr(), call.method, &uri, &headers, call.body.unwrap_or("")).await
}

/// Sends `call` correctly signed for the simulator's current clock.
async fn call(sim: &Simulator, call: &Call<'_>) -> Answer {
    send_signed(sim, &keys(sim), call, &signing::format_date(sim.now())).await
}

/// One HTTP/1.1 exchange on a fresh connection.
async fn send(addr: SocketAddr, method: &str, uri: &str, headers: &[(&str, String)], body: &str) -> Answer {
    let exchange = async {
        let stream = tokio::net::TcpStream::connect(addr).await.expect("connect to the simulator");
        let (mut sender, connection) =
            hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.expect("HTTP handshake");
        tokio::spawn(connection);
        let mut request = hyper::Request::builder().method(method).uri(uri).header("host", addr.to_string());
        for (name, value) in headers {
            request = request.header(*name, value);
        }
        if body.starts_with('{') {
            request = request.header("content-type", "application/json");
        } else if !body.is_empty() {
            request = request.header("content-type", "application/x-www-form-urlencoded");
        }
        let request = request.body(Full::new(Bytes::from(body.to_owned()))).expect("valid request");
        let response = sender.send_request(request).await.expect("response from the simulator");
        let status = response.status().as_u16();
        let location = response.headers().get("location").and_then(|v| v.to_str().ok()).map(str::to_owned);
        let body = response.into_body().collect().await.expect("response body").to_bytes().to_vec();
        Answer { status, location, body }
    };
    tokio::time::timeout(REPLY_TIMEOUT, exchange).await.expect("the simulator answered in time")
}

async fn start(breaches: usize) -> Simulator {
    Simulator::start(SimulatorConfig { breaches, ..SimulatorConfig::default() }).await.expect("simulator starts")
}

fn input_error(answer: &Answer) -> bool {
    answer.status == 400 && answer.json()["response"] == "INPUT ERROR"
}

#[tokio::test]
async fn status_reports_version_hostname_and_the_simulated_clock() {
    let sim = Simulator::start(SimulatorConfig { clock_offset_secs: -7200, breaches: 10, ..Default::default() })
        .await
        .expect("simulator starts");
    let answer = call(&sim, &get("/status", &[])).await;
    assert_eq!(answer.status, 200);
    let status = answer.json();
    assert!(status["version"].as_str().is_some_and(|v| v.starts_with("6.")));
    assert!(status["hostname"].is_string());
    let reported = status["time"].as_str().expect("time is a string");
    let reported = time::PrimitiveDateTime::parse(
        reported,
        time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]"),
    )
    .expect("time reads as YYYY-MM-DD HH:MM")
    .assume_utc();
    assert!((sim.now() - reported).abs() < time::Duration::minutes(2), "reported {reported}, simulated {}", sim.now());
    sim.shutdown().await;
}

#[tokio::test]
async fn unknown_path_with_a_good_signature_redirects_to_login() {
    let sim = start(10).await;
    let answer = call(&sim, &get("/nosuchendpoint", &[])).await;
    assert_eq!(answer.status, 302);
    assert_eq!(answer.location.as_deref(), Some("/login"));
    assert_eq!(answer.body, b"Found. Redirecting to /login");
}

#[tokio::test]
async fn request_without_dtapi_headers_redirects_to_login() {
    let sim = start(10).await;
    let answer = send(sim.addr(), "GET", "/status", &[], "").await;
    assert_eq!((answer.status, answer.location.as_deref()), (302, Some("/login")));
}

#[tokio::test]
async fn wrong_private_token_is_an_api_signature_error() {
    let sim = start(10).await;
    let wrong = Keys { public: sim.public_token(), private: "0000000000000000000000000000000000000000" };
    let answer = send_signed(&sim, &wrong, &get("/status", &[]), &signing::format_date(sim.now())).await;
    assert_eq!(answer.status, 400);
    assert_eq!(answer.json(), json!({ "error": "API SIGNATURE ERROR" }));
}

#[tokio::test]
async fn appliance_clock_an_hour_ahead_is_an_api_date_error() {
    let sim = Simulator::start(SimulatorConfig { clock_offset_secs: 3600, breaches: 10, ..Default::default() })
        .await
        .expect("simulator starts");
    let real_now = signing::format_date(time::OffsetDateTime::now_utc());
    let answer = send_signed(&sim, &keys(&sim), &get("/status", &[]), &real_now).await;
    assert_eq!(answer.status, 400);
    assert_eq!(answer.json(), json!({ "error": "API DATE ERROR" }));
    assert_eq!(call(&sim, &get("/status", &[])).await.status, 200);
}

#[tokio::test]
async fn acknowledge_and_unacknowledge_change_the_breach_state() {
    let sim = start(60).await;
    let pbid = sim.known_pbids().into_iter().find(|p| sim.is_acknowledged(*p) == Some(false)).expect("an open breach");
    let path = format!("/modelbreaches/{pbid}/acknowledge");
    let answer = call(&sim, &post(&path, r#"{"acknowledge": true}"#)).await;
    assert_eq!((answer.status, answer.json()), (200, json!({ "response": "SUCCESS" })));
    assert_eq!(sim.is_acknowledged(pbid), Some(true));

    let listed = call(&sim, &get("/modelbreaches", &[("pbid", &pbid.to_string())])).await.json();
    assert_eq!(listed[0]["acknowledged"], true);

    let path = format!("/modelbreaches/{pbid}/unacknowledge");
    assert_eq!(call(&sim, &post(&path, "unacknowledge=true")).await.status, 200);
    assert_eq!(sim.is_acknowledged(pbid), Some(false));
}

#[tokio::test]
async fn acknowledging_an_unknown_breach_is_not_found() {
    let sim = start(10).await;
    let missing = sim.known_pbids().last().copied().unwrap_or(0) + 1000;
    let answer = call(&sim, &post(&format!("/modelbreaches/{missing}/acknowledge"), r#"{"acknowledge":"true"}"#)).await;
    assert_eq!((answer.status, answer.json()), (404, json!({ "error": "Model breach not found" })));
}

#[tokio::test]
async fn posted_comment_is_stored_counted_and_listed_last() {
    let sim = start(30).await;
    let pbid = sim.known_pbids()[3];
    let before = call(&sim, &get(&format!("/modelbreaches/{pbid}"), &[])).await.json()["commentCount"].as_u64();
    let path = format!("/modelbreaches/{pbid}/comments");
    let answer = call(&sim, &post(&path, r#"{"message":"Checked by the connector test"}"#)).await;
    assert_eq!((answer.status, answer.json()), (200, json!({ "response": "SUCCESS" })));
    assert_eq!(sim.comments(pbid).last().map(String::as_str), Some("Checked by the connector test"));

    let listed = call(&sim, &get(&path, &[])).await.json();
    let last = listed.as_array().and_then(|a| a.last()).expect("at least one comment");
    assert_eq!(
        (last["message"].as_str(), last["username"].as_str()),
        (Some("Checked by the connector test"), Some("api-user"))
    );
    let after = call(&sim, &get(&format!("/modelbreaches/{pbid}"), &[])).await.json()["commentCount"].as_u64();
    assert_eq!(after, before.map(|n| n + 1));

    let all = call(&sim, &get("/mbcomments", &[("pbid", &pbid.to_string())])).await.json();
    assert_eq!(all[0]["message"], "Checked by the connector test", "newest first");
}

#[tokio::test]
async fn comment_without_a_message_is_an_input_error() {
    let sim = start(10).await;
    let path = format!("/modelbreaches/{}/comments", sim.known_pbids()[0]);
    assert!(input_error(&call(&sim, &post(&path, r#"{"text":"x"}"#)).await));
    assert!(input_error(&call(&sim, &post(&path, "message=hello")).await));
}

#[tokio::test]
async fn devicesearch_count_over_300_is_an_input_error() {
    let sim = start(10).await;
    assert!(input_error(&call(&sim, &get("/devicesearch", &[("query", "web"), ("count", "301")])).await));
    assert_eq!(call(&sim, &get("/devicesearch", &[("query", "web"), ("count", "300")])).await.status, 200);
}

#[tokio::test]
async fn devicesearch_field_filters_match_wildcards_and_page() {
    let sim = start(10).await;
    let page =
        call(&sim, &get("/devicesearch", &[("query", r#"hostname:"web*""#), ("count", "2"), ("orderBy", "hostname")]))
            .await
            .json();
    let total = page["totalCount"].as_u64().expect("totalCount");
    assert!(total >= 3, "web servers: {total}");
    let names: Vec<&str> =
        page["devices"].as_array().expect("devices").iter().filter_map(|d| d["hostname"].as_str()).collect();
    assert_eq!(names.len(), 2);
    assert!(names.iter().all(|n| n.starts_with("web")) && names[0] < names[1], "{names:?}");

    let both = call(&sim, &get("/devicesearch", &[("query", r#"hostname:"web*" hostname:"dc*""#)])).await.json();
    assert!(both["totalCount"].as_u64() > Some(total), "repeated fields are alternatives");
    let none = call(&sim, &get("/devicesearch", &[("query", r#"hostname:"web*" type:"laptop""#)])).await.json();
    assert_eq!(none["totalCount"], 0, "different fields must all match");
}

#[tokio::test]
async fn device_is_found_by_id_and_an_unknown_id_is_not_found() {
    let sim = start(10).await;
    let did = sim.known_dids()[0];
    let device = call(&sim, &get("/devices", &[("did", &did.to_string()), ("includetags", "true")])).await.json();
    assert_eq!(device["did"], did);
    assert!(device["tags"].is_array());
    let missing = call(&sim, &get("/devices", &[("did", "1")])).await;
    assert_eq!((missing.status, missing.json()), (404, json!({ "error": "Device not found" })));
}

#[tokio::test]
async fn last_day_of_breaches_is_sorted_by_time_and_hides_acknowledged() {
    let sim = start(300).await;
    let now = (sim.now().unix_timestamp_nanos() / 1_000_000) as i64;
    let (start, end) = ((now - 86_400_000).to_string(), now.to_string());
    let params = [("starttime", start.as_str()), ("endtime", end.as_str()), ("minimal", "true")];
    let breaches = call(&sim, &get("/modelbreaches", &params)).await.json();
    let breaches = breaches.as_array().expect("an array");
    assert!(breaches.len() >= 10, "breaches in the last day: {}", breaches.len());
    let times: Vec<i64> = breaches.iter().filter_map(|b| b["time"].as_i64()).collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]));
    assert!(breaches.iter().all(|b| b["acknowledged"] == false && b["triggeredComponents"] == json!([])));
}

#[tokio::test]
async fn malformed_parameters_are_input_errors() {
    let sim = start(10).await;
    assert!(input_error(&call(&sim, &get("/modelbreaches/abc", &[])).await));
    assert!(input_error(&call(&sim, &get("/modelbreaches", &[("minscore", "high")])).await));
    assert!(input_error(&call(&sim, &get("/modelbreaches", &[("starttime", "1")])).await));
    assert!(input_error(&call(&sim, &get("/modelbreaches", &[("includeacknowledged", "True")])).await));
    let unknown = call(&sim, &get("/modelbreaches/1", &[])).await;
    assert_eq!(unknown.status, 404);
}

#[tokio::test]
async fn every_request_is_recorded_with_its_status() {
    let sim = start(10).await;
    call(&sim, &get("/devicesearch", &[("query", "web 01")])).await;
    send(sim.addr(), "GET", "/status", &[], "").await;
    let log = sim.requests();
    assert_eq!(log.len(), 2);
    assert_eq!(
        (log[0].method.as_str(), log[0].path_and_query.as_str(), log[0].status),
        ("GET", "/devicesearch?query=web+01", 200)
    );
    assert!(log[0].headers.iter().any(|(k, _)| k == "dtapi-signature"));
    assert_eq!(log[1].status, 302);
}

#[tokio::test]
async fn dropping_the_simulator_stops_the_server() {
    let sim = start(1).await;
    let addr = sim.addr();
    drop(sim);
    let deadline = tokio::time::Instant::now() + REPLY_TIMEOUT;
    while tokio::net::TcpStream::connect(addr).await.is_ok() {
        assert!(tokio::time::Instant::now() < deadline, "the server still accepts connections after drop");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
