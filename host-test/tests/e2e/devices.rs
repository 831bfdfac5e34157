//! Device actions, end to end.

use super::support::*;

#[tokio::test]
async fn get_device_and_unknown_device() {
    let (sim, conn) = simulator().await;
    let did = sim.known_dids()[3];
    let wit = conn.to_wit();
    let device = HOST
        .call(conn.policy(), async |c, s| c.darktrace_connector_devices().call_get_device(s, &wit, did).await)
        .await
        .unwrap()
        .0
        .unwrap();
    assert_eq!(device.did, did);
    assert!(device.ip.is_some() && device.last_seen_iso.is_some());
    invoke(&conn, "get-device", json!({"did": did})).await.unwrap();
    assert_eq!(case(invoke(&conn, "get-device", json!({"did": 987_654_321})).await), "not-found");
}

#[tokio::test]
async fn search_devices_pages_and_encodes_field_filters() {
    let (sim, conn) = simulator().await;
    let first =
        invoke(&conn, "search-devices", json!({"query": "hostname:\"*corp.example\"", "count": 5})).await.unwrap();
    let second =
        invoke(&conn, "search-devices", json!({"query": "hostname:\"*corp.example\"", "count": 5, "offset": 5}))
            .await
            .unwrap();
    let ids = |page: &Value| {
        page["devices"].as_array().unwrap().iter().map(|d| d["did"].as_u64().unwrap()).collect::<Vec<_>>()
    };
    assert_eq!(ids(&first).len(), 5);
    assert!(first["total_count"].as_u64().unwrap() > 10);
    assert!(ids(&first).iter().all(|d| !ids(&second).contains(d)), "pages overlap");
    let sent = sim.requests().last().unwrap().path_and_query.clone();
    assert!(sent.starts_with("/devicesearch?query=hostname%3A%22%2Acorp.example%22&count=5&offset=5"), "{sent}");

    let wit = conn.to_wit();
    let query = devices::DeviceQuery { query: "no-such-host-anywhere".into(), count: None, offset: None };
    let empty = HOST
        .call(conn.policy(), async |c, s| c.darktrace_connector_devices().call_search_devices(s, &wit, &query).await)
        .await
        .unwrap()
        .0
        .unwrap();
    assert_eq!((empty.total_count, empty.devices.len()), (0, 0));
}

#[tokio::test]
async fn list_devices_takes_seen_since_in_seconds_or_units_and_includes_tags() {
    let (sim, conn) = simulator().await;
    let week = invoke(&conn, "list-devices", json!({})).await.unwrap();
    let hour = invoke(&conn, "list-devices", json!({"seen_since": 3600})).await.unwrap();
    let day = invoke(&conn, "list-devices", json!({"seen_since": "6hour"})).await.unwrap();
    let (week, hour, day) = (week.as_array().unwrap(), hour.as_array().unwrap(), day.as_array().unwrap());
    assert!(
        !hour.is_empty() && hour.len() <= day.len() && day.len() < week.len(),
        "{} {} {}",
        hour.len(),
        day.len(),
        week.len()
    );
    assert!(week.windows(2).all(|w| w[0]["did"].as_u64() < w[1]["did"].as_u64()));
    assert!(week.iter().any(|d| !d["tags"].as_array().unwrap().is_empty()));
    let sent = sim.requests().last().unwrap().path_and_query.clone();
    assert_eq!(sent, "/devices?seensince=6hour&includetags=true");

    let wit = conn.to_wit();
    let filter =
        devices::DeviceListFilter { seen_since: Some("2day".into()), count: Some(3), include_tags: Some(false) };
    let three = HOST
        .call(conn.policy(), async |c, s| c.darktrace_connector_devices().call_list_devices(s, &wit, &filter).await)
        .await
        .unwrap()
        .0
        .unwrap();
    assert_eq!(three.len(), 3);
    assert!(three.iter().all(|d| d.tags.is_empty()));
}

#[tokio::test]
async fn device_summary_similar_devices_and_connection_graph_describe_one_device() {
    let (sim, conn) = simulator().await;
    let did = *sim.known_dids().first().unwrap();
    let summary = invoke(&conn, "get-device-summary", json!({"did": did})).await.unwrap();
    assert_eq!(summary["did"], did);
    assert_eq!(summary["device"]["did"], did);
    assert_eq!(summary["similar_device_dids"].as_array().unwrap().len(), 3);
    assert!(summary["event_count"].as_u64().unwrap() > 0);
    assert!(summary["sections"]["modelbreaches"].is_array());
    assert_eq!(case(invoke(&conn, "get-device-summary", json!({"did": 987_654_321})).await), "not-found");

    let similar = invoke(&conn, "list-similar-devices", json!({"did": did, "count": 4})).await.unwrap();
    let scores: Vec<f64> = similar.as_array().unwrap().iter().map(|s| s["score"].as_f64().unwrap()).collect();
    assert_eq!(scores.len(), 4);
    assert!(scores.windows(2).all(|w| w[0] >= w[1]) && scores.iter().all(|s| (0.0..=100.0).contains(s)));
    assert!(similar[0]["device"]["did"].as_u64().unwrap() != did);
    assert!(sim.requests().last().unwrap().path_and_query.starts_with("/similardevices?did="));

    let wit = conn.to_wit();
    let query = devices::ConnectionInfoQuery {
        did,
        data_type: Some(devices::GraphData::SizeOut),
        external_domain: None,
        show_all_graph_data: Some(false),
        similar_devices: Some(2),
    };
    let info = HOST
        .call(conn.policy(), async |c, s| {
            c.darktrace_connector_devices().call_get_device_connection_info(s, &wit, &query).await
        })
        .await
        .unwrap()
        .0
        .unwrap();
    assert_eq!(info.did, did);
    assert!(info.total_used > 0 && info.graph_points > 0 && !info.ports_used.is_empty());
    assert_eq!(info.similar_devices.len(), 2);
    assert!(
        info.devices_used.iter().any(|p| p.peer.starts_with('-') && p.did.is_none()),
        "external groups have negative ids"
    );
    assert!(sim.requests().last().unwrap().path_and_query.contains("datatype=sizeout"));

    let json =
        invoke(&conn, "get-device-connection-info", json!({"did": did, "show_all_graph_data": true})).await.unwrap();
    assert!(json["graph_points"].as_u64().unwrap() >= 24 * 27, "every hour of four weeks");
    assert_eq!(json["data_type"], "connections");
}

#[tokio::test]
async fn device_events_are_typed_oldest_first_with_iso_times() {
    let (sim, conn) = simulator().await;
    let did = *sim.known_dids().first().unwrap();
    let events = invoke(&conn, "list-device-events", json!({"did": did, "count": 20})).await.unwrap();
    let events = events.as_array().unwrap();
    assert!(!events.is_empty() && events.len() <= 20);
    assert!(events.windows(2).all(|w| w[0]["time"].as_i64() <= w[1]["time"].as_i64()));
    assert!(events.iter().all(|e| e["event_type"] == "connection" && e["port"].is_u64() && e["protocol"].is_string()));
    assert!(events.iter().all(|e| e["source_did"] == did));
    let sent = sim.requests().last().unwrap().path_and_query.clone();
    assert!(sent.starts_with(&format!("/details?did={did}&eventtype=connection&count=20")), "{sent}");

    let now = sim.now().unix_timestamp() * 1000;
    let wit = conn.to_wit();
    let query = devices::DeviceEventQuery {
        did,
        event_type: Some(devices::EventType::Connection),
        count: None,
        start: Some(Instant::EpochMs(now - 12 * 3600 * 1000)),
        end: Some(Instant::EpochMs(now)),
    };
    let windowed = HOST
        .call(conn.policy(), async |c, s| {
            c.darktrace_connector_devices().call_list_device_events(s, &wit, &query).await
        })
        .await
        .unwrap()
        .0
        .unwrap();
    assert!(windowed.iter().all(|e| e.time >= now - 12 * 3600 * 1000 && e.time_iso.ends_with('Z')));

    for event_type in ["unusualconnection", "newconnection", "notice", "devicehistory", "modelbreach"] {
        invoke(&conn, "list-device-events", json!({"did": did, "event_type": event_type})).await.unwrap();
    }
    let err = invoke(&conn, "list-device-events", json!({"did": did, "count": 5, "start": now - 1000, "end": now}))
        .await
        .unwrap_err();
    assert_eq!(err.case(), "invalid-input");
    assert!(err.message().contains("count"), "{}", err.message());
}

#[tokio::test]
async fn update_device_changes_label_priority_and_type() {
    let (sim, conn) = simulator().await;
    let did = sim.known_dids()[1];
    let out =
        invoke(&conn, "update-device", json!({"did": did, "label": "Jump host (SOC)", "priority": -2})).await.unwrap();
    assert_eq!((out["id"].as_str(), out["state"].as_str()), (Some(did.to_string().as_str()), Some("updated")));
    let (label, priority, _) = sim.device_settings(did).unwrap();
    assert_eq!((label.as_deref(), priority), (Some("Jump host (SOC)"), -2));
    let sent = sim.requests().last().unwrap().clone();
    assert_eq!(
        String::from_utf8_lossy(&sent.body),
        format!(r#"{{"did":{did},"label":"Jump host (SOC)","priority":-2}}"#)
    );

    let wit = conn.to_wit();
    let update = devices::DeviceUpdate { did, label: None, priority: None, type_id: Some(3) };
    HOST.call(conn.policy(), async |c, s| c.darktrace_connector_devices().call_update_device(s, &wit, &update).await)
        .await
        .unwrap()
        .0
        .unwrap();
    assert_eq!(sim.device_settings(did).unwrap().2, "server");
    let got = invoke(&conn, "get-device", json!({"did": did})).await.unwrap();
    assert_eq!((got["label"].as_str(), got["type_name"].as_str()), (Some("Jump host (SOC)"), Some("server")));
}

#[tokio::test]
async fn bad_device_inputs_are_refused_before_anything_is_sent() {
    let (sim, conn) = simulator().await;
    for (action, input, field) in [
        ("list-devices", json!({"seen_since": "soon"}), "seen_since"),
        ("list-devices", json!({"seen_since": 1_705_311_000}), "seen_since"),
        ("list-devices", json!({"count": 0}), "count"),
        ("list-similar-devices", json!({"did": 1, "count": 101}), "count"),
        ("get-device-connection-info", json!({"did": 1, "data_type": "bytes"}), "data_type"),
        ("get-device-connection-info", json!({"did": 1, "external_domain": "a b"}), "external_domain"),
        ("list-device-events", json!({"did": 1, "start": 1_705_311_000_000_i64}), "end"),
        ("list-device-events", json!({"did": 1, "event_type": "everything"}), "event_type"),
        ("update-device", json!({"did": 1}), "label"),
        ("update-device", json!({"did": 1, "priority": 9}), "priority"),
    ] {
        let err = invoke(&conn, action, input.clone()).await.unwrap_err();
        assert_eq!(err.case(), "invalid-input", "{action} {input}");
        assert!(err.message().contains(field), "{action} {input}: {}", err.message());
    }
    assert!(sim.requests().is_empty());
    assert_eq!(case(invoke(&conn, "update-device", json!({"did": 987_654_321, "priority": 1})).await), "not-found");
    assert_eq!(case(invoke(&conn, "list-similar-devices", json!({"did": 987_654_321})).await), "not-found");
}
