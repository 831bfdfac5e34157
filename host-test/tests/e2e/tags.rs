//! Tag actions, end to end: tag definitions, a device's tags, a tag's devices, tagging and
//! untagging with real state changes in the simulator.

use super::support::*;

#[tokio::test]
async fn tags_are_listed_whole_or_by_name_and_an_unknown_name_lists_none() {
    let (_sim, conn) = simulator().await;
    let all = invoke(&conn, "list-tags", json!({})).await.unwrap();
    assert!(all.as_array().unwrap().len() >= 8);
    let one = invoke(&conn, "list-tags", json!({"name": "Finance"})).await.unwrap();
    assert_eq!(one.as_array().unwrap().len(), 1);
    assert_eq!(one[0]["name"], "Finance");
    assert!(one[0]["color"].is_u64() && one[0]["expiry"].is_null());
    assert_eq!(invoke(&conn, "list-tags", json!({"name": "No Such Tag"})).await.unwrap(), json!([]));
}

#[tokio::test]
async fn tagging_a_device_shows_on_the_device_and_the_tag_and_untagging_removes_it() {
    let (sim, conn) = simulator().await;
    let did = sim.known_dids()[2];
    let added = invoke(&conn, "add-device-tag", json!({"did": did, "tag": "Quarantine Review"})).await.unwrap();
    assert_eq!(added["state"], "tagged");
    assert!(added["tid"].is_u64(), "a new tag is created and its id returned: {added}");
    assert!(sim.device_tags(did).contains(&"Quarantine Review".to_owned()));
    let sent = sim.requests().last().unwrap().clone();
    assert_eq!(sent.method, "POST");
    assert!(sent.headers.iter().any(|(k, v)| k == "content-type" && v == "application/x-www-form-urlencoded"));

    let wit = conn.to_wit();
    let on_device = HOST
        .call(conn.policy(), async |c, s| c.darktrace_connector_tags().call_list_device_tags(s, &wit, did).await)
        .await
        .unwrap()
        .0
        .unwrap();
    assert!(on_device.iter().any(|t| t.name == "Quarantine Review" && t.expiry.is_none()));

    let tagged = invoke(&conn, "list-tagged-devices", json!({"tag": "Quarantine Review"})).await.unwrap();
    assert_eq!(tagged["entities"][0]["did"], did);
    assert_eq!(tagged["devices"][0]["did"], did);
    assert!(tagged["devices"][0]["tags"].as_array().unwrap().iter().any(|t| t == "Quarantine Review"));

    let removed = HOST
        .call(conn.policy(), async |c, s| {
            c.darktrace_connector_tags().call_remove_device_tag(s, &wit, did, "Quarantine Review").await
        })
        .await
        .unwrap()
        .0
        .unwrap();
    assert_eq!(removed.state, "untagged");
    assert!(!sim.device_tags(did).contains(&"Quarantine Review".to_owned()));
    assert_eq!(sim.requests().last().unwrap().method, "DELETE");
    // Removing again is not an error.
    invoke(&conn, "remove-device-tag", json!({"did": did, "tag": "Quarantine Review"})).await.unwrap();
    let history = invoke(&conn, "list-device-events", json!({"did": did, "event_type": "devicehistory", "count": 50}))
        .await
        .unwrap();
    let names: Vec<&str> = history
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["detail"] == "Quarantine Review")
        .filter_map(|e| e["name"].as_str())
        .collect();
    assert_eq!(names, ["addtag", "removetag"]);
}

#[tokio::test]
async fn a_tag_with_a_duration_carries_its_expiry() {
    let (sim, conn) = simulator().await;
    let did = sim.known_dids()[5];
    let wit = conn.to_wit();
    let change = HOST
        .call(conn.policy(), async |c, s| {
            c.darktrace_connector_tags().call_add_device_tag(s, &wit, did, "Watch", Some(3600)).await
        })
        .await
        .unwrap()
        .0
        .unwrap();
    assert_eq!(change.tid, Some(31));
    assert!(String::from_utf8_lossy(&sim.requests().last().unwrap().body).contains("duration=3600"));
    let tags = invoke(&conn, "list-device-tags", json!({"did": did})).await.unwrap();
    let watch = tags.as_array().unwrap().iter().find(|t| t["name"] == "Watch").unwrap().clone();
    let now = sim.now().unix_timestamp() * 1000;
    let expiry = watch["expiry"].as_i64().unwrap();
    assert!((now + 3_590_000..=now + 3_610_000).contains(&expiry), "{watch}");
    assert!(watch["expiry_iso"].as_str().unwrap().ends_with('Z'));
}

#[tokio::test]
async fn bad_tag_inputs_are_refused_before_anything_is_sent() {
    let (sim, conn) = simulator().await;
    for (action, input, field) in [
        ("add-device-tag", json!({"did": 1, "tag": "  "}), "tag"),
        ("add-device-tag", json!({"did": 1, "tag": "x", "duration_seconds": 0}), "duration_seconds"),
        ("remove-device-tag", json!({"did": 1}), "tag"),
        ("list-tagged-devices", json!({"tag": ""}), "tag"),
        ("list-tags", json!({"tag": "Admin"}), "tag"),
    ] {
        let err = invoke(&conn, action, input.clone()).await.unwrap_err();
        assert_eq!(err.case(), "invalid-input", "{action} {input}");
        assert!(err.message().contains(field), "{action} {input}: {err}");
    }
    assert!(sim.requests().is_empty());
    assert_eq!(case(invoke(&conn, "add-device-tag", json!({"did": 987_654_321, "tag": "Watch"})).await), "not-found");
    assert_eq!(case(invoke(&conn, "list-tagged-devices", json!({"tag": "No Such Tag"})).await), "not-found");
}
