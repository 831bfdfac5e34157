//! On the wire, end to end (issue 12): request bodies framed with `Content-Length` against a
//! simulator that, like a front end taking no chunked bodies, reads a chunked body as empty;
//! writes whose outcome a gateway left unknown (502, 504) read back and reported `verified`;
//! answers over the host's cap as `response-too-large`; manual RESPOND refusals on client
//! sensors; and pollers that split a window too large for the host and never wedge.

use std::collections::HashMap;
use std::time::Duration;

use host_test::outbound::ResponseLimits;
use host_test::runtime::Limits;
use host_test::simulator::{Fault, RespondState};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::support::*;

/// The body cap of [`SMALL_CAP`]: a burst of a few hundred alerts is over it.
const SMALL_CAP_BYTES: u64 = 1024 * 1024;

/// A host whose answers may be at most [`SMALL_CAP_BYTES`], to force pollers to split windows.
/// Its calls may take 3 minutes: a debug-built simulator takes seconds to render a window of
/// thousands of breaches, and a poll through a burst renders the window about twice over.
static SMALL_CAP: LazyLock<Host> = LazyLock::new(|| {
    let config = HostConfig {
        limits: Limits { deadline: Duration::from_secs(180), ..Limits::default() },
        cache_dir: host_test::cache::default_dir(),
        ..HostConfig::default()
    };
    Host::load(Path::new(host_test::CONNECTOR_WASM), config)
        .expect("load the component")
        .with_response_limits(ResponseLimits { max_body_bytes: Some(SMALL_CAP_BYTES), ..ResponseLimits::default() })
});

/// Runs `action` on `host` and returns its output parsed; a trap fails the test.
async fn invoke_on(host: &Host, conn: &ConnectionParams, action: &str, input: &Value) -> Result<Value, GuestError> {
    let out = host.invoke(conn, action, &input.to_string()).await.expect("no trap")?;
    Ok(serde_json::from_str(&out).expect("invoke returns JSON"))
}

fn now_ms(sim: &Simulator) -> i64 {
    (sim.now().unix_timestamp_nanos() / 1_000_000) as i64
}

#[tokio::test]
async fn every_write_action_sends_a_content_length_and_works_against_a_simulator_that_drops_chunked_bodies() {
    let (sim, conn) = simulator().await;
    let pbid = sim.known_pbids()[5];
    let did = sim.known_dids()[4];
    let uuid = sim.incident_event_ids()[0].clone();
    let pending = sim.respond_codeids(RespondState::Pending)[0];
    let active = sim.respond_codeids(RespondState::Active)[0];
    let expired = sim.respond_codeids(RespondState::Expired)[0];
    let calls = [
        ("acknowledge-model-breach", json!({"pbid": pbid})),
        ("unacknowledge-model-breach", json!({"pbid": pbid})),
        ("add-model-breach-comment", json!({"pbid": pbid, "message": "framed — café"})),
        ("acknowledge-ai-analyst-incident", json!({"uuids": [uuid]})),
        ("pin-ai-analyst-incident", json!({"uuids": [uuid]})),
        ("add-ai-analyst-comment", json!({"incident_id": uuid, "message": "framed"})),
        ("start-ai-analyst-investigation", json!({"did": did, "investigate_time": now_ms(&sim) - 3_600_000})),
        ("update-device", json!({"did": did, "label": "Framed", "priority": 2})),
        ("add-device-tag", json!({"did": did, "tag": "Framed"})),
        ("remove-device-tag", json!({"did": did, "tag": "Framed"})),
        ("add-watched-domains", json!({"entries": ["framed.example.com"], "source": "Playbooks"})),
        ("remove-watched-domains", json!({"entries": ["framed.example.com"]})),
        ("activate-respond-action", json!({"codeid": pending, "reason": "framed"})),
        ("extend-respond-action", json!({"codeid": active, "extend_by_seconds": 60, "reason": "framed"})),
        ("clear-respond-action", json!({"codeid": active, "reason": "framed"})),
        ("reactivate-respond-action", json!({"codeid": expired, "duration_seconds": 600, "reason": "framed"})),
        (
            "create-manual-respond-action",
            json!({"did": did, "action": "quarantine", "duration_seconds": 600, "reason": "framed"}),
        ),
    ];
    for (action, input) in calls {
        invoke(&conn, action, input).await.unwrap_or_else(|e| panic!("{action}: {} {}", e.case(), e.message()));
    }
    let with_body: Vec<_> = sim.requests().into_iter().filter(|r| !r.body.is_empty()).collect();
    assert!(with_body.len() >= 15, "{} requests with a body", with_body.len());
    for r in &with_body {
        let header = |name: &str| r.headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
        assert_eq!(
            header("content-length"),
            Some(r.body.len().to_string().as_str()),
            "{} {}",
            r.method,
            r.path_and_query
        );
        assert_eq!(header("transfer-encoding"), None, "{} {}", r.method, r.path_and_query);
        assert_eq!(r.status, 200, "{} {}", r.method, r.path_and_query);
    }
}

/// Sends one signed POST with its body in HTTP/1.1 chunked framing and returns the status line
/// and body of the answer.
async fn post_chunked(sim: &Simulator, path: &str, body: &str) -> String {
    let date = darktrace_connector::signing::format_date(sim.now());
    let target = darktrace_connector::signing::signed_target(path, body.as_bytes());
    let signature = darktrace_connector::signing::signature(sim.private_token(), sim.public_token(), &date, &target);
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: {}\r\nDTAPI-Token: {}\r\nDTAPI-Date: {date}\r\nDTAPI-Signature: {signature}\r\n\
         Content-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n{:x}\r\n{body}\r\n0\r\n\r\n",
        sim.addr(),
        sim.public_token(),
        body.len()
    );
    let mut stream = tokio::net::TcpStream::connect(sim.addr()).await.expect("connect to the simulator");
    stream.write_all(request.as_bytes()).await.expect("send");
    let mut answer = String::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_string(&mut answer))
        .await
        .expect("the simulator answers within 10 s")
        .expect("read");
    answer
}

#[tokio::test]
async fn a_chunked_request_body_reads_as_empty_so_its_signature_fails_unless_strict_framing_is_off() {
    let (sim, _conn) = simulator().await;
    let pbid = sim.known_pbids()[1];
    let path = format!("/modelbreaches/{pbid}/comments");
    let answer = post_chunked(&sim, &path, r#"{"message":"chunked"}"#).await;
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert!(answer.contains("API SIGNATURE ERROR"), "{answer}");
    assert!(sim.comments(pbid).iter().all(|m| m != "chunked"));

    let (lenient, _) = simulator_with(SimulatorConfig { strict_framing: false, ..Default::default() }).await;
    let answer = post_chunked(&lenient, &path, r#"{"message":"chunked"}"#).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(lenient.comments(pbid).iter().any(|m| m == "chunked"));
}

fn gateway(method: &str, status: u16, applied: bool) -> Option<Fault> {
    Some(Fault::GatewayErrorOnWrite { method: method.into(), status, applied })
}

#[tokio::test]
async fn a_delete_answered_502_after_it_applied_is_read_back_and_reported_verified() {
    let (sim, conn) = simulator().await;
    let did = sim.known_dids()[2];
    invoke(&conn, "add-device-tag", json!({"did": did, "tag": "Gateway"})).await.unwrap();
    sim.set_fault(gateway("DELETE", 502, true));
    let out = invoke(&conn, "remove-device-tag", json!({"did": did, "tag": "Gateway"})).await.unwrap();
    assert_eq!((out["state"].as_str(), out["verified"].as_bool()), (Some("untagged"), Some(true)));
    assert_eq!(out["raw"]["gateway_status"], 502);
    assert!(out["raw"]["read_back"]["tags"].as_array().unwrap().iter().all(|t| t != "Gateway"), "{out}");
    assert!(!sim.device_tags(did).contains(&"Gateway".to_owned()));
    let deletes = sim.requests().iter().filter(|r| r.method == "DELETE").count();
    assert_eq!(deletes, 1, "a 502 to a write is read back, not sent again");
    // The typed export carries the same.
    sim.set_fault(None);
    invoke(&conn, "add-device-tag", json!({"did": did, "tag": "Gateway"})).await.unwrap();
    sim.set_fault(gateway("DELETE", 502, true));
    let wit = conn.to_wit();
    let typed = HOST
        .call(conn.policy(), async |c, s| {
            c.darktrace_connector_tags().call_remove_device_tag(s, &wit, did, "Gateway").await
        })
        .await
        .unwrap()
        .0
        .unwrap();
    assert_eq!(typed.verified, Some(true));
}

#[tokio::test]
async fn a_delete_answered_502_that_did_not_apply_is_an_upstream_error_saying_to_retry() {
    let (sim, conn) = simulator().await;
    let did = sim.known_dids()[2];
    invoke(&conn, "add-device-tag", json!({"did": did, "tag": "Gateway"})).await.unwrap();
    sim.set_fault(gateway("DELETE", 502, false));
    let err = invoke(&conn, "remove-device-tag", json!({"did": did, "tag": "Gateway"})).await.unwrap_err();
    match &err {
        GuestError::Upstream(u) => assert_eq!(u.status, 502),
        other => panic!("expected upstream, got {other:?}"),
    }
    assert!(err.message().contains("not applied") && err.message().contains("safe to try again"), "{}", err.message());
    assert!(sim.device_tags(did).contains(&"Gateway".to_owned()));
    sim.set_fault(None);
    let retried = invoke(&conn, "remove-device-tag", json!({"did": did, "tag": "Gateway"})).await.unwrap();
    assert_eq!(retried["verified"], Value::Null, "confirmed by the appliance itself");
}

#[tokio::test]
async fn posts_answered_504_are_verified_when_applied_and_errors_when_not() {
    let (sim, conn) = simulator().await;
    let pbid = sim.known_pbids().into_iter().find(|&p| sim.is_acknowledged(p) == Some(false)).unwrap();
    let uuid = sim.incident_event_ids()[1].clone();
    let did = sim.known_dids()[6];

    sim.set_fault(gateway("POST", 504, true));
    let acked = invoke(&conn, "acknowledge-model-breach", json!({"pbid": pbid})).await.unwrap();
    assert_eq!((acked["verified"].as_bool(), acked["raw"]["gateway_status"].as_u64()), (Some(true), Some(504)));
    assert_eq!(sim.is_acknowledged(pbid), Some(true));
    let pinned = invoke(&conn, "pin-ai-analyst-incident", json!({"uuids": [uuid]})).await.unwrap();
    assert_eq!(pinned[0]["verified"], true);
    let updated =
        invoke(&conn, "update-device", json!({"did": did, "label": "Verified", "priority": 3})).await.unwrap();
    assert_eq!(updated["verified"], true);
    let watched = invoke(&conn, "add-watched-domains", json!({"entries": ["verified.example.com"]})).await.unwrap();
    assert_eq!(watched["verified"], true);
    let comment = invoke(&conn, "add-model-breach-comment", json!({"pbid": pbid, "message": "through a 504"})).await;
    assert_eq!(comment.unwrap()["message"], "through a 504");
    assert_eq!(sim.comments(pbid).iter().filter(|m| *m == "through a 504").count(), 1);
    let manual = json!({"did": did, "action": "quarantine", "duration_seconds": 600, "reason": "through a 504"});
    let created = invoke(&conn, "create-manual-respond-action", manual).await.unwrap();
    assert_eq!(created["verified"], true);
    assert!(sim.respond_action(created["codeid"].as_u64().unwrap()).is_some());

    sim.set_fault(gateway("POST", 504, false));
    for (action, input) in [
        ("unacknowledge-model-breach", json!({"pbid": pbid})),
        ("unpin-ai-analyst-incident", json!({"uuids": [uuid]})),
        ("add-model-breach-comment", json!({"pbid": pbid, "message": "lost"})),
    ] {
        let err = invoke(&conn, action, input).await.unwrap_err();
        assert_eq!(err.case(), "upstream", "{action}");
        assert!(
            err.message().contains("not applied") && err.message().contains("safe to try again"),
            "{action}: {}",
            err.message()
        );
    }
    assert_eq!(sim.is_acknowledged(pbid), Some(true));
    assert!(sim.comments(pbid).iter().all(|m| m != "lost"));
}

#[tokio::test]
async fn a_manual_respond_action_a_client_sensor_refuses_is_unsupported_and_says_what_to_use() {
    let (sim, conn) = simulator().await;
    let did = sim.known_dids()[3];
    sim.set_client_sensor(did);
    for action in ["enforce_pattern_of_life", "enforce_group_pattern_of_life", "block_outgoing"] {
        let input = json!({"did": did, "action": action, "duration_seconds": 600, "reason": "contain"});
        let err = invoke(&conn, "create-manual-respond-action", input).await.unwrap_err();
        assert_eq!(err.case(), "unsupported", "{action}: {}", err.message());
        assert!(err.message().contains("client sensor") && err.message().contains("quarantine"), "{}", err.message());
    }
    let input = json!({"did": did, "action": "quarantine", "duration_seconds": 600, "reason": "contain"});
    invoke(&conn, "create-manual-respond-action", input).await.unwrap();
}

#[tokio::test]
async fn an_answer_over_the_hosts_cap_is_response_too_large_not_transport() {
    let (sim, conn) = simulator_with(SimulatorConfig { breaches: 3000, ..Default::default() }).await;
    let input = json!({"start": 946_684_800_000i64, "end": now_ms(&sim), "include_acknowledged": true});
    let err = invoke_on(&SMALL_CAP, &conn, "list-model-breaches", &input).await.unwrap_err();
    assert_eq!(err.case(), "response-too-large", "{}", err.message());
    assert!(err.message().contains("narrow the request"), "{}", err.message());
}

/// Polls `kind` on [`SMALL_CAP`] until a poll says nothing more is waiting, counting each
/// delivered id; returns the final state.
async fn drain(
    conn: &ConnectionParams,
    kind: &str,
    id: &str,
    state: Option<String>,
    delivered: &mut HashMap<String, usize>,
) -> Option<String> {
    let mut state = state;
    for _ in 0..200 {
        let mut input = json!({"max_items": 5000, "overlap_seconds": 3600});
        if let Some(s) = &state {
            input["state"] = json!(s);
        }
        let out = invoke_on(&SMALL_CAP, conn, kind, &input)
            .await
            .unwrap_or_else(|e| panic!("{kind}: {} {}", e.case(), e.message()));
        for item in out["items"].as_array().unwrap() {
            *delivered.entry(item[id].to_string()).or_default() += 1;
        }
        let text = out["state"].as_str().unwrap().to_owned();
        assert!(text.len() <= 60 * 1024, "a state of {} bytes", text.len());
        state = Some(text);
        if out["more"] == false {
            return state;
        }
    }
    panic!("{kind} never caught up");
}

#[tokio::test]
async fn a_storm_inside_one_overlap_window_is_delivered_exactly_once_and_polling_goes_on() {
    let seed = std::env::var("STORM_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(0x5707u64);
    let mut rng = seed;
    let mut next = move |n: i64| {
        rng = rng.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        ((rng >> 33) as i64).rem_euclid(n)
    };
    let (sim, conn) = simulator_with(SimulatorConfig { breaches: 50, ..Default::default() }).await;
    // A first poll of each kind, before the storm, so the storm lands inside the overlap window.
    let mut breaches = HashMap::new();
    let mut events = HashMap::new();
    let b_state = drain(&conn, "poll-model-breaches", "pbid", None, &mut breaches).await;
    let e_state = drain(&conn, "poll-ai-analyst-incidents", "id", None, &mut events).await;
    let (before_b, before_e) = (breaches.len(), events.len());

    let now = now_ms(&sim);
    let storm: Vec<(i64, i64, f64)> = (0..5_000)
        .map(|_| {
            let created = now - next(30 * 60_000);
            (created - next(600_000), created, 0.1 + next(90) as f64 / 100.0)
        })
        .collect();
    let pbids = sim.insert_breaches(&storm);
    let ai_storm: Vec<(i64, f64)> = (0..2_000).map(|_| (now - next(30 * 60_000), 10.0 + next(90) as f64)).collect();
    let uuids = sim.insert_incident_events(&ai_storm);

    let b_state = drain(&conn, "poll-model-breaches", "pbid", b_state, &mut breaches).await;
    let e_state = drain(&conn, "poll-ai-analyst-incidents", "id", e_state, &mut events).await;
    for pbid in &pbids {
        assert_eq!(breaches.get(&pbid.to_string()), Some(&1), "seed {seed} (STORM_SEED): breach {pbid}");
    }
    for uuid in &uuids {
        assert_eq!(events.get(&json!(uuid).to_string()), Some(&1), "seed {seed} (STORM_SEED): event {uuid}");
    }
    assert_eq!(breaches.len(), before_b + pbids.len(), "seed {seed}: something else was delivered");
    assert_eq!(events.len(), before_e + uuids.len(), "seed {seed}: something else was delivered");
    assert!(breaches.values().chain(events.values()).all(|&n| n == 1), "seed {seed}: a repeat");

    // Polling goes on after the storm: new alerts come through, once.
    let after = now_ms(&sim);
    let late = sim.insert_breach(after - 1_000, after, 0.9);
    let late_event = sim.insert_incident_event(after, 80.0);
    drain(&conn, "poll-model-breaches", "pbid", b_state, &mut breaches).await;
    drain(&conn, "poll-ai-analyst-incidents", "id", e_state, &mut events).await;
    assert_eq!(breaches.get(&late.to_string()), Some(&1));
    assert_eq!(events.get(&json!(late_event).to_string()), Some(&1));
    assert!(sim.requests().iter().all(|r| r.status == 200), "every request was answered normally");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_native_transport_frames_bodies_the_same_way() {
    let (sim, conn) = simulator().await;
    let pbid = sim.known_pbids()[2];
    let transport = host_test::native::NativeTransport::new();
    let (address, public, private) = (conn.api_address.clone(), conn.public_token.clone(), conn.private_token.clone());
    let out = tokio::task::spawn_blocking(move || {
        let connection = darktrace_connector::Connection::new(&address, &public, &private);
        let input = json!({"pbid": pbid, "message": "native — framed"}).to_string();
        darktrace_connector::actions::invoke(connection, &transport, "add-model-breach-comment", &input)
    })
    .await
    .unwrap()
    .unwrap_or_else(|e| panic!("{e}"));
    assert!(out.contains("native"), "{out}");
    let post = sim.requests().into_iter().find(|r| r.method == "POST").unwrap();
    let length = post.headers.iter().find(|(k, _)| k == "content-length").map(|(_, v)| v.clone());
    assert_eq!(length, Some(post.body.len().to_string()));
    assert!(post.headers.iter().all(|(k, _)| k != "transfer-encoding"));
}
