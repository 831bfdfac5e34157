//! RESPOND (Autonomous Response) actions, end to end.

use host_test::simulator::RespondState;

use super::support::*;

fn codeids(list: &Value) -> Vec<u64> {
    list["actions"].as_array().unwrap().iter().map(|a| a["codeid"].as_u64().unwrap()).collect()
}

fn last_body(sim: &Simulator) -> Value {
    serde_json::from_slice(&sim.requests().last().unwrap().body).unwrap()
}

#[tokio::test]
async fn listing_shows_current_and_recent_actions_oldest_first_without_cleared_ones() {
    let (sim, conn) = simulator().await;
    let list = invoke(&conn, "list-respond-actions", json!({})).await.unwrap();
    let actions = list["actions"].as_array().unwrap();
    assert!(!actions.is_empty());
    assert!(actions.iter().all(|a| a["cleared"] == false));
    assert!(actions.windows(2).all(|w| w[0]["start"].as_i64() <= w[1]["start"].as_i64()), "sorted by start");
    assert!(actions.iter().any(|a| a["pbid"].is_u64() && a["model"].is_string() && a["updated"].is_i64()));
    assert_eq!(list["devices"], json!([]));

    let cleared = sim.respond_codeids(RespondState::Cleared);
    let with_cleared =
        invoke(&conn, "list-respond-actions", json!({"include_cleared": true, "include_devices": true})).await.unwrap();
    assert!(cleared.iter().any(|c| codeids(&with_cleared).contains(c)));
    let dids: Vec<&Value> = with_cleared["devices"].as_array().unwrap().iter().map(|d| &d["did"]).collect();
    assert!(
        with_cleared["actions"].as_array().unwrap().iter().all(|a| dids.contains(&&a["did"])),
        "every action's device is returned"
    );
    assert!(sim.requests().last().unwrap().path_and_query.contains("fulldevicedetails=true"));
}

#[tokio::test]
async fn a_pending_action_is_activated_with_its_reason_recorded() {
    let (sim, conn) = simulator().await;
    let pending = invoke(&conn, "list-respond-actions", json!({"need_confirmation": true})).await.unwrap();
    let listed = codeids(&pending);
    assert!(!listed.is_empty() && listed.iter().all(|c| sim.respond_codeids(RespondState::Pending).contains(c)));
    let codeid = listed[0];
    let out =
        invoke(&conn, "activate-respond-action", json!({"codeid": codeid, "reason": "Confirmed by SOAR playbook"}))
            .await
            .unwrap();
    assert_eq!((out["codeid"].as_u64(), out["state"].as_str()), (Some(codeid), Some("activated")));
    assert_eq!(last_body(&sim), json!({"codeid": codeid, "activate": true, "reason": "Confirmed by SOAR playbook"}));
    let now = sim.respond_action(codeid).unwrap();
    assert_eq!(now["active"], true);
    assert_eq!(now["history"].as_array().unwrap().last().unwrap()["reason"], "Confirmed by SOAR playbook");
    assert!(sim.respond_codeids(RespondState::Active).contains(&codeid));
}

/// The active count through the typed `get-respond-summary`.
async fn typed_active_count(conn: &ConnectionParams) -> u64 {
    let wit = conn.to_wit();
    let summary = HOST
        .call(conn.policy(), async |c, s| {
            c.darktrace_connector_respond().call_get_respond_summary(s, &wit, None, None).await
        })
        .await
        .expect("no trap")
        .0
        .unwrap();
    assert!(summary.active_action_devices.len() as u64 <= summary.active_count);
    summary.active_count
}

#[tokio::test]
async fn clearing_through_the_typed_interface_lowers_the_active_count() {
    let (sim, conn) = simulator().await;
    let wit = conn.to_wit();
    let before = typed_active_count(&conn).await;
    let codeid = sim.respond_codeids(RespondState::Active)[0];
    let change = HOST
        .call(conn.policy(), async |c, s| {
            c.darktrace_connector_respond()
                .call_clear_respond_action(s, &wit, codeid, "Benign: approved change window")
                .await
        })
        .await
        .expect("no trap")
        .0
        .unwrap();
    assert_eq!((change.codeid, change.state.as_str()), (codeid, "cleared"));
    assert!(sim.respond_codeids(RespondState::Cleared).contains(&codeid));
    let after = typed_active_count(&conn).await;
    assert_eq!(after + 1, before);
    let json = invoke(&conn, "get-respond-summary", json!({})).await.unwrap();
    assert_eq!(json["active_count"], after);
}

#[tokio::test]
async fn extending_converts_to_the_new_total_duration_from_the_start() {
    let (sim, conn) = simulator().await;
    let codeid = sim.respond_codeids(RespondState::Active)[0];
    let before = sim.respond_action(codeid).unwrap();
    let (start, expires) = (before["start"].as_i64().unwrap(), before["expires"].as_i64().unwrap());
    let out = invoke(
        &conn,
        "extend-respond-action",
        json!({"codeid": codeid, "extend_by_seconds": 1800, "reason": "Still investigating"}),
    )
    .await
    .unwrap();
    let total = out["duration_seconds"].as_i64().unwrap();
    assert_eq!(last_body(&sim)["duration"].as_i64(), Some(total), "the API takes the total, not the increment");
    let extended = sim.respond_action(codeid).unwrap()["expires"].as_i64().unwrap();
    assert!((1_800_000..1_801_000).contains(&(extended - expires)), "extended by {} ms", extended - expires);
    assert_eq!(out["expires"].as_i64(), Some(extended));

    invoke(
        &conn,
        "extend-respond-action",
        json!({"codeid": codeid, "total_duration_seconds": 600, "reason": "Shorten"}),
    )
    .await
    .unwrap();
    assert_eq!(sim.respond_action(codeid).unwrap()["expires"].as_i64(), Some(start + 600_000));
    assert_eq!(
        case(
            invoke(&conn, "extend-respond-action", json!({"codeid": 1, "extend_by_seconds": 60, "reason": "x"})).await
        ),
        "not-found"
    );
}

#[tokio::test]
async fn an_expired_action_is_reactivated_and_a_manual_block_gets_a_new_codeid() {
    let (sim, conn) = simulator().await;
    let expired = sim.respond_codeids(RespondState::Expired)[0];
    let out = invoke(
        &conn,
        "reactivate-respond-action",
        json!({"codeid": expired, "duration_seconds": 3600, "reason": "Activity resumed"}),
    )
    .await
    .unwrap();
    assert_eq!(out["state"], "reactivated");
    assert!(sim.respond_codeids(RespondState::Active).contains(&expired));

    let did = sim.known_dids()[3];
    let created = invoke(
        &conn,
        "create-manual-respond-action",
        json!({"did": did, "action": "block_connections", "duration_seconds": 7200, "reason": "Block C2 while IR runs",
               "connections": [{"src": "10.0.0.5", "dst": "c2.example.net", "port": 443}]}),
    )
    .await
    .unwrap();
    let codeid = created["codeid"].as_u64().unwrap();
    assert_eq!(last_body(&sim)["action"], "connection");
    let stored = sim.respond_action(codeid).unwrap();
    assert_eq!((stored["manual"].clone(), stored["did"].as_u64()), (json!(true), Some(did)));
    assert_eq!(stored["connections"][0]["dst"], "c2.example.net");
    let listed = invoke(&conn, "list-respond-actions", json!({"did": did})).await.unwrap();
    let mine = listed["actions"].as_array().unwrap().iter().find(|a| a["codeid"] == codeid).cloned().unwrap();
    assert_eq!(
        (mine["triggerer_reason"].as_str(), mine["pbid"].clone()),
        (Some("Block C2 while IR runs"), Value::Null)
    );
    let unknown = json!({"did": 999_999, "action": "quarantine", "duration_seconds": 60, "reason": "x"});
    assert_eq!(case(invoke(&conn, "create-manual-respond-action", unknown).await), "not-found");
}

#[tokio::test]
async fn an_unknown_codeid_is_not_found() {
    let (_sim, conn) = simulator().await;
    assert_eq!(case(invoke(&conn, "activate-respond-action", json!({"codeid": 1, "reason": "x"})).await), "not-found");
    assert_eq!(case(invoke(&conn, "clear-respond-action", json!({"codeid": 1, "reason": "x"})).await), "not-found");
}

#[tokio::test]
async fn bad_respond_inputs_name_the_field_and_send_nothing() {
    let (sim, conn) = simulator().await;
    for (action, input, field) in [
        ("activate-respond-action", json!({"codeid": 5, "reason": " "}), "reason"),
        ("clear-respond-action", json!({"codeid": 5}), "reason"),
        ("extend-respond-action", json!({"codeid": 5, "reason": "r"}), "extend_by_seconds"),
        (
            "extend-respond-action",
            json!({"codeid": 5, "reason": "r", "extend_by_seconds": 5, "total_duration_seconds": 5}),
            "total_duration_seconds",
        ),
        ("reactivate-respond-action", json!({"codeid": 5, "reason": "r", "duration_seconds": 0}), "duration_seconds"),
        (
            "create-manual-respond-action",
            json!({"did": 5, "action": "block_connections", "duration_seconds": 60, "reason": "r"}),
            "connections",
        ),
        (
            "create-manual-respond-action",
            json!({"did": 5, "action": "quarantine", "duration_seconds": 60, "reason": "r", "connections": [{"src": "10.0.0.1", "dst": "10.0.0.2"}]}),
            "connections",
        ),
        (
            "create-manual-respond-action",
            json!({"did": 5, "action": "pol", "duration_seconds": 60, "reason": "r"}),
            "action",
        ),
        ("list-respond-actions", json!({"start": "2024-01-15T10:30:00Z"}), "end"),
        ("get-respond-summary", json!({"end": 1705311000000i64}), "start"),
    ] {
        let err = invoke(&conn, action, input.clone()).await.unwrap_err();
        assert_eq!(err.case(), "invalid-input", "{action} {input}");
        assert!(err.message().contains(field), "{action} {input}: {}", err.message());
    }
    assert!(sim.requests().is_empty());
}
