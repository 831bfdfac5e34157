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
    let first = invoke(&conn, "search-devices", json!({"query": "hostname:\"*corp.example\"", "count": 5})).await.unwrap();
    let second = invoke(&conn, "search-devices", json!({"query": "hostname:\"*corp.example\"", "count": 5, "offset": 5})).await.unwrap();
    let ids = |page: &Value| page["devices"].as_array().unwrap().iter().map(|d| d["did"].as_u64().unwrap()).collect::<Vec<_>>();
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
