//! AI Analyst actions, end to end.

use super::support::*;

const WEEK_MS: i64 = 7 * 24 * 3600 * 1000;

fn now_ms(sim: &Simulator) -> i64 {
    (sim.now().unix_timestamp_nanos() / 1_000_000) as i64
}

fn last_request(sim: &Simulator) -> String {
    sim.requests().last().map(|r| r.path_and_query.clone()).unwrap_or_default()
}

/// Two incident events that are neither acknowledged nor pinned.
fn untouched_events(sim: &Simulator) -> (String, String) {
    let mut ids =
        sim.incident_event_ids().into_iter().filter(|id| sim.incident_event_state(id) == Some((false, false)));
    (ids.next().expect("an untouched event"), ids.next().expect("a second untouched event"))
}

#[tokio::test]
async fn incidents_default_to_the_last_week_plus_pinned_ones_oldest_first() {
    let (sim, conn) = simulator().await;
    let list = invoke(&conn, "list-ai-analyst-incidents", json!({})).await.unwrap();
    let list = list.as_array().unwrap();
    assert!(!list.is_empty(), "the seeded simulator has recent incidents");
    let created: Vec<i64> = list.iter().map(|e| e["created_at"].as_i64().unwrap()).collect();
    assert!(created.windows(2).all(|w| w[0] <= w[1]), "oldest first");
    let week_ago = now_ms(&sim) - WEEK_MS - 60_000;
    assert!(
        list.iter()
            .all(|e| e["acknowledged"] == false
                && (e["created_at"].as_i64().unwrap() >= week_ago || e["pinned"] == true))
    );
    assert!(
        list.iter().any(|e| e["pinned"] == true && e["created_at"].as_i64().unwrap() < week_ago),
        "old pinned incidents are included"
    );
    for e in list {
        let group = e["group_id"].as_str().unwrap();
        assert_eq!(e["link"], format!("{}/#aiagroup/{group}", conn.api_address));
        let summary = e["summary"].as_str().unwrap();
        assert!(!summary.is_empty() && !summary.contains("{}"), "rendered summary: {summary}");
        assert!(!e["related_pbids"].as_array().unwrap().is_empty());
    }
    let shapes: Vec<bool> = list.iter().map(|e| e["raw"]["summary"].is_object()).collect();
    assert!(shapes.contains(&true) && shapes.contains(&false), "both summary shapes are handled");
    let sent = last_request(&sim);
    assert!(sent.contains("includeallpinned=true") && sent.contains("includeacknowledged=false"), "{sent}");
}

#[tokio::test]
async fn category_flags_use_the_group_prefix_for_events_and_the_bare_name_for_incidents() {
    let (sim, conn) = simulator().await;
    let all = json!({"start": 946_684_800_000i64, "end": now_ms(&sim), "include_acknowledged": true});
    let mut critical = all.clone();
    critical["critical"] = json!(true);
    let events = invoke(&conn, "list-ai-analyst-incidents", critical.clone()).await.unwrap();
    let events = events.as_array().unwrap();
    assert!(!events.is_empty() && events.iter().all(|e| e["group_category"] == "critical"));
    assert!(last_request(&sim).contains("groupcritical=true"));
    let everything = invoke(&conn, "list-ai-analyst-incidents", all).await.unwrap();
    assert!(everything.as_array().unwrap().len() > events.len(), "the flag filters");

    let groups = invoke(&conn, "list-ai-analyst-groups", critical).await.unwrap();
    let groups = groups.as_array().unwrap();
    assert!(!groups.is_empty() && groups.iter().all(|g| g["category"] == "critical"));
    let sent = last_request(&sim);
    assert!(sent.contains("&critical=true") && !sent.contains("groupcritical"), "{sent}");
}

#[tokio::test]
async fn an_incident_event_is_read_by_uuid_through_the_typed_function() {
    let (sim, conn) = simulator().await;
    let uuid = sim.incident_event_ids().pop().unwrap();
    let wit = conn.to_wit();
    let typed = HOST
        .call(conn.policy(), async |c, s| {
            c.darktrace_connector_ai_analyst().call_get_ai_analyst_incident(s, &wit, &uuid).await
        })
        .await
        .expect("no trap")
        .0
        .unwrap();
    assert_eq!(typed.id, uuid);
    let json = invoke(&conn, "get-ai-analyst-incident", json!({"uuid": uuid})).await.unwrap();
    assert_eq!(
        (json["title"].as_str(), json["created_at"].as_i64()),
        (Some(typed.title.as_str()), Some(typed.created_at))
    );
    assert_eq!(json["summary"], typed.summary);
    let raw: Value = serde_json::from_str(&typed.raw).unwrap();
    assert_eq!(raw["id"], uuid);
    let unknown = "00000000-0000-4000-8000-000000000000";
    assert_eq!(case(invoke(&conn, "get-ai-analyst-incident", json!({"uuid": unknown})).await), "not-found");
}

#[tokio::test]
async fn incidents_list_their_events_and_one_is_read_by_its_group_id() {
    let (sim, conn) = simulator().await;
    let groups = invoke(&conn, "list-ai-analyst-groups", json!({"include_acknowledged": true})).await.unwrap();
    let groups = groups.as_array().unwrap();
    assert!(!groups.is_empty());
    let starts: Vec<i64> = groups.iter().map(|g| g["start"].as_i64().unwrap()).collect();
    assert!(starts.windows(2).all(|w| w[0] <= w[1]), "oldest first");
    let group = groups.iter().max_by_key(|g| g["incident_event_ids"].as_array().unwrap().len()).unwrap();
    let id = group["id"].as_str().unwrap();
    let got = invoke(&conn, "get-ai-analyst-group", json!({"group_id": id})).await.unwrap();
    assert_eq!(got["incident_event_ids"], group["incident_event_ids"]);
    assert_eq!(got["link"], format!("{}/#aiagroup/{id}", conn.api_address));
    let events = invoke(&conn, "list-ai-analyst-incidents", json!({"group_id": id})).await.unwrap();
    let mut event_ids: Vec<&str> = events.as_array().unwrap().iter().map(|e| e["id"].as_str().unwrap()).collect();
    let mut listed: Vec<&str> =
        group["incident_event_ids"].as_array().unwrap().iter().map(|e| e.as_str().unwrap()).collect();
    event_ids.sort_unstable();
    listed.sort_unstable();
    assert_eq!(event_ids, listed, "the incident's events are the ones listed under its id");
    assert!(sim.requests().iter().all(|r| r.status == 200));
    let unknown = "g00000000-0000-4000-8000-000000000000";
    assert_eq!(case(invoke(&conn, "get-ai-analyst-group", json!({"group_id": unknown})).await), "not-found");
}

#[tokio::test]
async fn acknowledging_and_pinning_change_the_appliance_state() {
    let (sim, conn) = simulator().await;
    let (a, b) = untouched_events(&sim);
    let out = invoke(&conn, "acknowledge-ai-analyst-incident", json!({"uuids": [a, b]})).await.unwrap();
    assert_eq!(
        out,
        json!([{"id": a, "state": "acknowledged", "raw": {"aianalyst": "SUCCESS"}, "verified": null}, {"id": b, "state": "acknowledged", "raw": {"aianalyst": "SUCCESS"}, "verified": null}])
    );
    assert_eq!(
        (sim.incident_event_state(&a), sim.incident_event_state(&b)),
        (Some((true, false)), Some((true, false)))
    );
    let sent = sim.requests().pop().unwrap();
    assert_eq!(sent.body, format!("uuid={a}%2C{b}").into_bytes(), "one form body with both ids");
    let window = json!({"start": 946_684_800_000i64, "end": now_ms(&sim)});
    let hidden = invoke(&conn, "list-ai-analyst-incidents", window.clone()).await.unwrap();
    assert!(hidden.as_array().unwrap().iter().all(|e| e["id"] != a), "acknowledged events are hidden unless asked for");

    let wit = conn.to_wit();
    let ids = vec![a.clone()];
    let typed = HOST
        .call(conn.policy(), async |c, s| {
            c.darktrace_connector_ai_analyst().call_unacknowledge_ai_analyst_incident(s, &wit, &ids).await
        })
        .await
        .expect("no trap")
        .0
        .unwrap();
    assert_eq!((typed[0].id.as_str(), typed[0].state.as_str()), (a.as_str(), "unacknowledged"));
    assert_eq!(sim.incident_event_state(&a), Some((false, false)));
    let out = invoke(&conn, "unacknowledge-ai-analyst-incident", json!({"uuids": [b]})).await.unwrap();
    assert_eq!(out[0]["state"], "unacknowledged");
    assert_eq!(sim.incident_event_state(&b), Some((false, false)));

    let pinned = invoke(&conn, "pin-ai-analyst-incident", json!({"uuids": [a]})).await.unwrap();
    assert_eq!((pinned[0]["state"].as_str(), &pinned[0]["raw"]), (Some("pinned"), &json!({"response": "SUCCESS"})));
    assert_eq!(sim.incident_event_state(&a), Some((false, true)));
    invoke(&conn, "unpin-ai-analyst-incident", json!({"uuids": [a]})).await.unwrap();
    assert_eq!(sim.incident_event_state(&a), Some((false, false)));
    let unknown = "00000000-0000-4000-8000-000000000000";
    assert_eq!(case(invoke(&conn, "pin-ai-analyst-incident", json!({"uuids": [unknown]})).await), "not-found");
}

#[tokio::test]
async fn comments_on_an_incident_are_stored_and_listed_oldest_first() {
    let (sim, conn) = simulator().await;
    let uuid = sim.incident_event_ids()[0].clone();
    let message = "Escalated by SOAR — café ✓ \"quoted\" & 100%";
    let added =
        invoke(&conn, "add-ai-analyst-comment", json!({"incident_id": uuid, "message": message})).await.unwrap();
    assert_eq!((added["message"].as_str(), added["incident_id"].as_str()), (Some(message), Some(uuid.as_str())));
    assert_eq!(sim.incident_event_comments(&uuid), [message]);
    invoke(&conn, "add-ai-analyst-comment", json!({"incident_id": uuid, "message": "second"})).await.unwrap();

    let wit = conn.to_wit();
    let typed = HOST
        .call(conn.policy(), async |c, s| {
            c.darktrace_connector_ai_analyst().call_list_ai_analyst_comments(s, &wit, &uuid).await
        })
        .await
        .expect("no trap")
        .0
        .unwrap();
    assert_eq!(typed.iter().map(|c| c.message.as_str()).collect::<Vec<_>>(), [message, "second"]);
    let listed = invoke(&conn, "list-ai-analyst-comments", json!({"incident_id": uuid})).await.unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 2);
    assert!(listed.as_array().unwrap().windows(2).all(|w| w[0]["time"].as_i64() <= w[1]["time"].as_i64()));
}

#[tokio::test]
async fn an_investigation_moves_from_pending_to_finished_and_finds_the_breach() {
    let (sim, conn) = simulator().await;
    let pbid = *sim.known_pbids().last().unwrap();
    let breach = invoke(&conn, "get-model-breach", json!({"pbid": pbid})).await.unwrap();
    let did = breach["device_did"].as_u64().unwrap();
    let at = breach["time_iso"].as_str().unwrap().to_owned();
    let wit = conn.to_wit();
    let when = Instant::Iso8601(at.clone());
    let started = HOST
        .call(conn.policy(), async |c, s| {
            c.darktrace_connector_ai_analyst().call_start_ai_analyst_investigation(s, &wit, did, &when).await
        })
        .await
        .expect("no trap")
        .0
        .unwrap();
    assert_eq!((started.status.as_str(), started.did), ("pending", i64::try_from(did).ok()));
    let body: Value = serde_json::from_slice(&sim.requests().pop().unwrap().body).unwrap();
    let seconds = breach["time"].as_i64().unwrap() / 1000;
    assert_eq!(body, json!({"investigateTime": seconds.to_string(), "did": did}), "epoch seconds, as a string");

    let mut statuses = Vec::new();
    let mut last = Value::Null;
    for _ in 0..3 {
        last = invoke(&conn, "get-ai-analyst-investigation", json!({"investigation_id": started.id})).await.unwrap();
        statuses.push(last["status"].as_str().unwrap().to_owned());
    }
    assert_eq!(statuses, ["pending", "processing", "finished"]);
    assert_eq!(last["investigate_time"], seconds * 1000, "seconds are read back as milliseconds");
    assert!(last["time_iso"].as_str().unwrap().ends_with('Z'));
    assert!(last["related_pbids"].as_array().unwrap().contains(&json!(pbid)));
    let found = last["incident_ids"][0].as_str().unwrap();
    let incident = invoke(&conn, "get-ai-analyst-incident", json!({"uuid": found})).await.unwrap();
    assert!(incident["related_pbids"].as_array().unwrap().contains(&json!(pbid)));
    let again = json!({"did": did, "investigate_time": breach["time"]});
    let second = invoke(&conn, "start-ai-analyst-investigation", again).await.unwrap();
    assert_eq!(
        (second["status"].as_str(), second["investigate_time"].as_i64()),
        (Some("pending"), Some(seconds * 1000))
    );
    assert_ne!(second["id"].as_str(), Some(started.id.as_str()));
    let unknown = json!({"investigation_id": "no-such-investigation"});
    assert_eq!(case(invoke(&conn, "get-ai-analyst-investigation", unknown).await), "not-found");
}

#[tokio::test]
async fn bad_ai_analyst_inputs_name_the_field_and_send_nothing() {
    let (sim, conn) = simulator().await;
    let uuid = "0c8e1f2a-3b4c-4d5e-8f60-718293a4b5c6";
    for (action, input, field) in [
        ("list-ai-analyst-incidents", json!({"locale": "en"}), "locale"),
        ("list-ai-analyst-incidents", json!({"min_score": 0.5, "max_score": 0.2}), "max_score"),
        ("list-ai-analyst-incidents", json!({"min_group_score": 150}), "min_group_score"),
        ("list-ai-analyst-incidents", json!({"group_id": uuid}), "group_id"),
        ("list-ai-analyst-incidents", json!({"start": 1_740_902_400_000i64}), "end"),
        ("list-ai-analyst-groups", json!({"groupcritical": true}), "groupcritical"),
        ("get-ai-analyst-incident", json!({"uuid": format!("g{uuid}")}), "uuid"),
        ("get-ai-analyst-group", json!({"group_id": uuid}), "group_id"),
        ("acknowledge-ai-analyst-incident", json!({"uuids": []}), "uuids"),
        ("pin-ai-analyst-incident", json!({"uuids": [uuid, "x"]}), "uuids[1]"),
        ("unpin-ai-analyst-incident", json!({"uuid": uuid}), "uuid"),
        ("add-ai-analyst-comment", json!({"incident_id": uuid, "message": " "}), "message"),
        ("list-ai-analyst-comments", json!({"incident_id": "12"}), "incident_id"),
        ("start-ai-analyst-investigation", json!({"did": 1, "investigate_time": 1_740_902_400}), "investigate_time"),
        ("get-ai-analyst-investigation", json!({"investigation_id": "a/b"}), "investigation_id"),
    ] {
        match invoke(&conn, action, input.clone()).await {
            Err(GuestError::InvalidInput(message)) => assert!(message.contains(field), "{action} {input}: {message}"),
            other => panic!("{action} {input}: expected invalid-input, got {other:?}"),
        }
    }
    assert!(sim.requests().is_empty(), "nothing is sent for a bad input");
}
