//! Model breach actions, end to end.

use super::support::*;

pub async fn typed_list(
    conn: &ConnectionParams,
    filter: model_breaches::BreachFilter,
) -> Result<Vec<model_breaches::ModelBreach>, GuestError> {
    let wit = conn.to_wit();
    HOST.call(conn.policy(), async |c, s| {
        c.darktrace_connector_model_breaches().call_list_model_breaches(s, &wit, &filter).await
    })
    .await
    .expect("no trap")
    .0
}

pub fn empty_filter() -> model_breaches::BreachFilter {
    model_breaches::BreachFilter {
        start: None,
        end: None,
        min_score: None,
        pbid: None,
        did: None,
        model_pid: None,
        model_uuid: None,
        include_acknowledged: None,
        creation_time: None,
        minimal: None,
    }
}

#[tokio::test]
async fn listing_defaults_to_the_last_day_oldest_first() {
    let (sim, conn) = simulator().await;
    let list = typed_list(&conn, empty_filter()).await.unwrap();
    assert!(!list.is_empty(), "the seeded simulator has breaches in the last day");
    assert!(list.len() < sim.breach_count());
    assert!(list.windows(2).all(|w| (w[0].creation_time, w[0].pbid) <= (w[1].creation_time, w[1].pbid)));
    let day_ago = sim.now().unix_timestamp() * 1000 - 24 * 3600 * 1000 - 60_000;
    assert!(list.iter().all(|b| b.creation_time >= day_ago && !b.acknowledged));
    assert!(list.iter().all(|b| b.link == format!("{}/#modelbreach/{}", conn.api_address, b.pbid)));
    let raw: Value = serde_json::from_str(&list[0].raw).unwrap();
    assert_eq!(raw["pbid"], list[0].pbid);
    let sent = sim.requests().last().unwrap().path_and_query.clone();
    assert!(sent.contains("creationtime=true") && sent.contains("starttime=") && sent.contains("endtime="), "{sent}");
}

#[tokio::test]
async fn min_score_and_window_filter_through_both_entry_points() {
    let (sim, conn) = simulator().await;
    let now = sim.now().unix_timestamp() * 1000;
    let start = now - 7 * 24 * 3600 * 1000;
    let mut filter = empty_filter();
    filter.start = Some(Instant::EpochMs(start));
    filter.end = Some(Instant::EpochMs(now));
    filter.min_score = Some(0.6);
    let typed = typed_list(&conn, filter).await.unwrap();
    assert!(!typed.is_empty() && typed.iter().all(|b| b.score >= 0.6));

    let iso = |ms: i64| {
        time::OffsetDateTime::from_unix_timestamp(ms / 1000)
            .unwrap()
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap()
    };
    let json =
        invoke(&conn, "list-model-breaches", json!({"start": iso(start), "end": now, "min_score": 0.6})).await.unwrap();
    let pbids: Vec<u64> = json.as_array().unwrap().iter().map(|b| b["pbid"].as_u64().unwrap()).collect();
    assert_eq!(pbids, typed.iter().map(|b| b.pbid).collect::<Vec<_>>(), "typed and JSON paths must agree");
}

#[tokio::test]
async fn get_model_breach_matches_its_list_entry_and_unknown_is_not_found() {
    let (sim, conn) = simulator().await;
    let pbid = *sim.known_pbids().last().unwrap();
    let listed =
        invoke(&conn, "list-model-breaches", json!({"pbid": pbid, "include_acknowledged": true})).await.unwrap();
    let got = invoke(&conn, "get-model-breach", json!({"pbid": pbid})).await.unwrap();
    assert_eq!(listed[0]["pbid"], got["pbid"]);
    assert_eq!(listed[0]["model_name"], got["model_name"]);
    assert_eq!(listed[0]["device_did"], got["device_did"]);
    assert_eq!(case(invoke(&conn, "get-model-breach", json!({"pbid": 999_999_999})).await), "not-found");
}

#[tokio::test]
async fn acknowledge_and_unacknowledge_change_the_appliance_state() {
    let (sim, conn) = simulator().await;
    let pbid = sim.known_pbids().into_iter().find(|p| sim.is_acknowledged(*p) == Some(false)).unwrap();
    let out = invoke(&conn, "acknowledge-model-breach", json!({"pbid": pbid})).await.unwrap();
    assert_eq!(out["state"], "acknowledged");
    assert_eq!(sim.is_acknowledged(pbid), Some(true));
    let window = json!({"start": 946_684_800_000i64, "end": sim.now().unix_timestamp() * 1000});
    let listed = |v: &Value| v.as_array().unwrap().iter().find(|b| b["pbid"] == pbid).cloned();
    let hidden = invoke(&conn, "list-model-breaches", window.clone()).await.unwrap();
    assert_eq!(listed(&hidden), None, "acknowledged breaches are hidden unless asked for");
    let mut with_acked = window.clone();
    with_acked["include_acknowledged"] = json!(true);
    let shown = invoke(&conn, "list-model-breaches", with_acked).await.unwrap();
    assert_eq!(listed(&shown).unwrap()["acknowledged"], true);

    let wit = conn.to_wit();
    let typed = HOST
        .call(conn.policy(), async |c, s| {
            c.darktrace_connector_model_breaches().call_unacknowledge_model_breach(s, &wit, pbid).await
        })
        .await
        .unwrap()
        .0
        .unwrap();
    assert_eq!((typed.id, typed.state.as_str()), (pbid.to_string(), "unacknowledged"));
    assert_eq!(sim.is_acknowledged(pbid), Some(false));
    assert_eq!(case(invoke(&conn, "acknowledge-model-breach", json!({"pbid": 999_999_999})).await), "not-found");
}

#[tokio::test]
async fn comments_are_stored_signed_correctly_even_with_unicode() {
    let (sim, conn) = simulator().await;
    let pbid = sim.known_pbids()[0];
    let before =
        invoke(&conn, "get-model-breach", json!({"pbid": pbid})).await.unwrap()["comment_count"].as_u64().unwrap();
    let message = "Triaged by SOAR — café ✓ \"quoted\" & 100% <ok>";
    let added = invoke(&conn, "add-model-breach-comment", json!({"pbid": pbid, "message": message})).await.unwrap();
    assert_eq!(added["message"], message);
    assert_eq!(added["pbid"], pbid);
    assert!(!added["username"].as_str().unwrap().is_empty());
    assert_eq!(sim.comments(pbid).last().map(String::as_str), Some(message));
    let after =
        invoke(&conn, "get-model-breach", json!({"pbid": pbid})).await.unwrap()["comment_count"].as_u64().unwrap();
    assert_eq!(after, before + 1);
    let listed = invoke(&conn, "list-model-breach-comments", json!({"pbid": pbid})).await.unwrap();
    let listed = listed.as_array().unwrap();
    assert_eq!(listed.last().unwrap()["message"], message);
    assert!(listed.windows(2).all(|w| w[0]["time"].as_i64() <= w[1]["time"].as_i64()));
}

#[tokio::test]
async fn breach_connections_put_the_breach_record_apart_from_the_events() {
    let (sim, conn) = simulator().await;
    let pbid = *sim.known_pbids().last().unwrap();
    let out = invoke(&conn, "get-model-breach-connections", json!({"pbid": pbid})).await.unwrap();
    assert_eq!((out["pbid"].as_u64(), out["breach"]["pbid"].as_u64()), (Some(pbid), Some(pbid)));
    assert_eq!(out["breach"]["raw"]["eventType"], "policybreach");
    let events = out["events"].as_array().unwrap();
    assert!(!events.is_empty() && events.iter().all(|e| e["event_type"] != "policybreach"));
    assert!(events.windows(2).all(|w| w[0]["time"].as_i64() <= w[1]["time"].as_i64()), "oldest first");
    let got = invoke(&conn, "get-model-breach", json!({"pbid": pbid})).await.unwrap();
    assert_eq!(out["breach"]["device_ids"], json!([got["device_did"]]));

    let wit = conn.to_wit();
    let query = model_breaches::ConnectionsQuery { pbid, count: Some(2), offset: Some(1) };
    let typed = HOST
        .call(conn.policy(), async |c, s| {
            c.darktrace_connector_model_breaches().call_get_model_breach_connections(s, &wit, query).await
        })
        .await
        .expect("no trap")
        .0
        .unwrap();
    assert_eq!(typed.events.len(), 2.min(events.len() - 1));
    assert!(last_sent(&sim).ends_with(&format!("/details?pbid={pbid}&count=2&offset=1")));
    assert_eq!(case(invoke(&conn, "get-model-breach-connections", json!({"pbid": 999_999_999})).await), "not-found");
    assert_eq!(
        case(invoke(&conn, "get-model-breach-connections", json!({"pbid": pbid, "count": 0})).await),
        "invalid-input"
    );
}

fn last_sent(sim: &Simulator) -> String {
    sim.requests().last().map(|r| r.path_and_query.clone()).unwrap_or_default()
}

#[tokio::test]
async fn comments_across_breaches_are_listed_oldest_first_and_include_new_ones() {
    let (sim, conn) = simulator().await;
    let pbid = sim.known_pbids()[3];
    invoke(&conn, "add-model-breach-comment", json!({"pbid": pbid, "message": "Seen across breaches"})).await.unwrap();
    let one = invoke(&conn, "list-comments", json!({"pbid": pbid})).await.unwrap();
    let one = one.as_array().unwrap();
    assert_eq!(one.last().unwrap()["message"], "Seen across breaches");
    assert!(one.iter().all(|c| c["pbid"] == pbid));

    let now = sim.now().unix_timestamp() * 1000 + 1000;
    let filter = model_breaches::CommentFilter {
        start: Some(Instant::EpochMs(now - 14 * 24 * 3600 * 1000)),
        end: Some(Instant::EpochMs(now)),
        pbid: None,
        count: Some(500),
    };
    let wit = conn.to_wit();
    let all = HOST
        .call(conn.policy(), async |c, s| {
            c.darktrace_connector_model_breaches().call_list_comments(s, &wit, &filter).await
        })
        .await
        .expect("no trap")
        .0
        .unwrap();
    assert!(all.len() > one.len(), "comments on many breaches");
    assert!(all.windows(2).all(|w| w[0].time <= w[1].time), "oldest first");
    assert!(all.iter().any(|c| c.pbid == pbid && c.message == "Seen across breaches"));
    let sent = last_sent(&sim);
    assert!(sent.starts_with("/mbcomments?starttime=") && sent.ends_with("&count=500"), "{sent}");
}
