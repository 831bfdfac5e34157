//! Connection checks and the manifest, end to end.

use super::support::*;

#[tokio::test]
async fn test_connection_reports_the_appliance() {
    let (_sim, conn) = simulator().await;
    let wit = conn.to_wit();
    let status = HOST
        .call(conn.policy(), async |c, s| c.darktrace_connector_system().call_test_connection(s, &wit).await)
        .await
        .unwrap()
        .0
        .expect("the simulator accepts its own token pair");
    assert_eq!(status.api_address, conn.api_address);
    assert!(status.version.is_some_and(|v| !v.is_empty()));
    assert!(status.appliance_time.is_some());
    invoke(&conn, "test-connection", json!({})).await.unwrap();
}

#[tokio::test]
async fn wrong_private_token_is_signature_rejected() {
    let (_sim, mut conn) = simulator().await;
    conn.private_token = "0000000000000000000000000000000000000000".into();
    assert_eq!(case(invoke(&conn, "test-connection", json!({})).await), "signature-rejected");
}

#[tokio::test]
async fn unknown_public_token_is_signature_rejected() {
    let (_sim, mut conn) = simulator().await;
    conn.public_token = "not-the-simulators-token".into();
    assert_eq!(case(invoke(&conn, "test-connection", json!({})).await), "signature-rejected");
}

#[tokio::test]
async fn appliance_clock_an_hour_off_is_clock_skew() {
    // With a usable Date header the connector corrects the offset itself (see faults.rs).
    let (_sim, conn) = simulator_with(SimulatorConfig {
        clock_offset_secs: 3600,
        fault: Some(host_test::simulator::Fault::UnusableDateHeader),
        ..Default::default()
    })
    .await;
    let err = invoke(&conn, "test-connection", json!({})).await.unwrap_err();
    assert_eq!(err.case(), "clock-skew");
    assert!(err.message().contains("NTP"), "{}", err.message());
}

#[tokio::test]
async fn malformed_connection_is_invalid_connection() {
    let (sim, conn) = simulator().await;
    for (address, public) in [("ftp://127.0.0.1", "p"), ("http://127.0.0.1/api", "p"), ("", "p"), ("127.0.0.1:1", "")] {
        let bad = ConnectionParams { api_address: address.into(), public_token: public.into(), ..conn.clone() };
        assert_eq!(case(invoke(&bad, "test-connection", json!({})).await), "invalid-connection", "{address}");
    }
    assert!(sim.requests().is_empty());
}

#[tokio::test]
async fn describe_returns_the_manifest() {
    let text = HOST.describe().await.unwrap();
    assert_eq!(serde_json::from_str::<Value>(&text).unwrap(), *MANIFEST);
    assert_eq!(HOST.identity(), "darktrace 0.1.0");
}

/// A new action is not done until an end-to-end test runs it: this names the ones that lack one.
#[test]
fn every_manifest_action_has_an_end_to_end_test() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/e2e");
    let sources: String =
        std::fs::read_dir(dir).unwrap().map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap()).collect();
    let missing: Vec<&str> = MANIFEST["actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .filter(|name| {
            !sources.contains(&format!("\"{name}\"")) && !sources.contains(&format!("call_{}", name.replace('-', "_")))
        })
        .collect();
    assert!(missing.is_empty(), "actions without an end-to-end test in tests/e2e: {missing:?}");
}
