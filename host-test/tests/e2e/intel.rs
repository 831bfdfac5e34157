//! Intel feed (Watched Domains) actions, end to end.

use super::support::*;

#[tokio::test]
async fn listing_shows_live_entries_with_sources_and_expiry() {
    let (sim, conn) = simulator().await;
    let list = invoke(&conn, "list-watched-domains", json!({})).await.unwrap();
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), sim.watched_domains().len(), "expired entries are not listed");
    assert!(list.iter().any(|e| e["expiry"].is_i64() && e["expiry_iso"].is_string()));
    assert!(list.iter().any(|e| e["expiry"].is_null() && e["hostname"] == true));
    assert!(sim.requests().last().unwrap().path_and_query.ends_with("fulldetails=true"));

    let wit = conn.to_wit();
    let soar = HOST
        .call(conn.policy(), async |c, s| {
            c.darktrace_connector_intel_feed().call_list_watched_domains(s, &wit, Some("SOAR")).await
        })
        .await
        .expect("no trap")
        .0
        .unwrap();
    assert!(!soar.is_empty() && soar.iter().all(|e| e.source.as_deref() == Some("SOAR")));
}

#[tokio::test]
async fn entries_are_added_updated_and_removed() {
    let (sim, conn) = simulator().await;
    let add = json!({"entries": ["Evil-C2.example.com", "203.0.113.50"], "description": "From incident 42",
                     "source": "Playbooks", "expiry": "2099-01-01T00:00:00Z", "iagn": true});
    let out = invoke(&conn, "add-watched-domains", add.clone()).await.unwrap();
    assert_eq!((out["added"].as_u64(), out["updated"].as_u64()), (Some(2), Some(0)));
    assert_eq!(out["entries"], json!(["evil-c2.example.com", "203.0.113.50"]));
    let watched = sim.watched_domains();
    assert!(watched.contains(&("evil-c2.example.com".into(), "Playbooks".into())));
    let again = invoke(&conn, "add-watched-domains", add).await.unwrap();
    assert_eq!((again["added"].as_u64(), again["updated"].as_u64()), (Some(0), Some(2)));

    let listed = invoke(&conn, "list-watched-domains", json!({"source": "Playbooks"})).await.unwrap();
    assert_eq!(listed[0]["expiry_iso"], "2099-01-01T00:00:00.000Z");
    assert_eq!((listed[0]["iagn"].clone(), listed[0]["description"].clone()), (json!(true), json!("From incident 42")));

    let before = sim.watched_domains().len();
    let removed = invoke(&conn, "remove-watched-domains", json!({"entries": ["evil-c2.example.com", "203.0.113.50"]}))
        .await
        .unwrap();
    assert_eq!(removed["removed"], 2);
    assert_eq!(sim.watched_domains().len(), before - 2);
    assert!(sim.requests().iter().all(|r| !String::from_utf8_lossy(&r.body).contains("removeall")));
}

#[tokio::test]
async fn bad_intel_inputs_name_the_field_and_send_nothing() {
    let (sim, conn) = simulator().await;
    for (action, input, field) in [
        ("add-watched-domains", json!({"entries": []}), "entries"),
        ("add-watched-domains", json!({"entries": ["http://evil.example.com/x"]}), "entries[0]"),
        (
            "add-watched-domains",
            json!({"entries": ["a.example.com"], "description": "a \"quoted\" text"}),
            "description",
        ),
        ("add-watched-domains", json!({"entries": ["a.example.com"], "expiry": 1}), "expiry"),
        ("remove-watched-domains", json!({"entries": ["a.example.com"], "removeall": true}), "removeall"),
        ("remove-watched-domains", json!({"entries": ["not a domain"]}), "entries[0]"),
        ("list-watched-domains", json!({"source": ""}), "source"),
    ] {
        let err = invoke(&conn, action, input.clone()).await.unwrap_err();
        assert_eq!(err.case(), "invalid-input", "{action} {input}");
        assert!(err.message().contains(field), "{action} {input}: {}", err.message());
    }
    assert!(sim.requests().is_empty());
}
