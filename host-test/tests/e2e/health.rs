//! Appliance health: status and summary statistics, end to end.

use super::support::*;

#[tokio::test]
async fn status_reports_version_clock_probes_and_subnets() {
    let (sim, conn) = simulator().await;
    let wit = conn.to_wit();
    let status = HOST
        .call(conn.policy(), async |c, s| c.darktrace_connector_system().call_get_status(s, &wit).await)
        .await
        .expect("no trap")
        .0
        .unwrap();
    assert!(status.version.is_some_and(|v| !v.is_empty()));
    assert_eq!(status.probe_count, Some(2));
    assert!(status.subnet_count.is_some_and(|n| n > 0));
    assert_eq!(status.device_count, Some(sim.known_dids().len() as u64));
    let drift = status.time.unwrap() - sim.now().unix_timestamp() * 1000;
    assert!(drift.abs() < 120_000, "appliance clock read {drift} ms off");
    assert!(status.probes_in_error.is_empty());
    let json = invoke(&conn, "get-status", json!({})).await.unwrap();
    assert_eq!(json["hostname"].as_str(), status.hostname.as_deref());
}

#[tokio::test]
async fn summary_statistics_type_the_default_counts_and_keep_event_counts_raw() {
    let (sim, conn) = simulator().await;
    let stats = invoke(&conn, "get-summary-statistics", json!({})).await.unwrap();
    assert!(stats["device_count"].as_u64().is_some_and(|n| n > 0));
    assert!(stats["respond_action_count"].as_u64().is_some_and(|n| n > 0));
    assert_eq!(stats["raw"]["bandwidth"].as_array().map(Vec::len), Some(28));
    let events = invoke(&conn, "get-summary-statistics", json!({"event_type": "networkdevicedetails", "hours": 6}))
        .await
        .unwrap();
    assert_eq!(events["raw"]["data"].as_array().map(Vec::len), Some(6));
    assert!(events["device_count"].is_null());
    assert!(sim.requests().last().unwrap().path_and_query.contains("eventtype=networkdevicedetails&hours=6"));
}

#[tokio::test]
async fn statistics_options_without_an_event_type_are_refused_before_sending() {
    let (sim, conn) = simulator().await;
    for (input, field) in [
        (json!({"hours": 6}), "hours"),
        (json!({"end": 1705311000000i64}), "end"),
        (json!({"event_type": "all"}), "event_type"),
    ] {
        let err = invoke(&conn, "get-summary-statistics", input.clone()).await.unwrap_err();
        assert_eq!(err.case(), "invalid-input", "{input}");
        assert!(err.message().contains(field), "{input}: {}", err.message());
    }
    assert!(sim.requests().is_empty());
}
