//! Polling: every alert delivered exactly once across polls, through the component, against
//! the simulator with alerts staged at chosen times.

use std::collections::BTreeMap;

use super::support::*;

/// Polls until the appliance has nothing more, passing each state back (as a platform that
/// stores it would), and returns every delivered id in order.
async fn drain(
    conn: &ConnectionParams,
    action: &str,
    options: Value,
    state: &mut Option<String>,
    id: &str,
) -> Vec<String> {
    let mut delivered = Vec::new();
    for _ in 0..1_000 {
        let mut input = options.clone();
        input["state"] = state.clone().map_or(Value::Null, Value::String);
        let out = invoke(conn, action, input).await.expect("poll");
        let items = out["items"].as_array().unwrap();
        let created: Vec<i64> = items
            .iter()
            .map(|i| i[if id == "pbid" { "creation_time" } else { "created_at" }].as_i64().unwrap())
            .collect();
        assert!(created.windows(2).all(|w| w[0] <= w[1]), "a batch must be oldest first");
        delivered.extend(items.iter().map(|i| i[id].to_string().trim_matches('"').to_owned()));
        *state = Some(out["state"].as_str().unwrap().to_owned());
        if out["more"] == false {
            return delivered;
        }
    }
    panic!("polling never drained");
}

fn counts(ids: &[String]) -> BTreeMap<String, usize> {
    let mut c = BTreeMap::new();
    for id in ids {
        *c.entry(id.clone()).or_default() += 1;
    }
    c
}

#[tokio::test]
async fn capped_polls_deliver_every_recent_breach_exactly_once() {
    let (sim, conn) = simulator().await;
    let mut state = None;
    let delivered = drain(&conn, "poll-model-breaches", json!({"max_items": 7}), &mut state, "pbid").await;
    let now = sim.now().unix_timestamp() * 1000;
    let listed = invoke(
        &conn,
        "list-model-breaches",
        json!({"start": now - 86_400_000 - 60_000, "end": now + 60_000, "include_acknowledged": true}),
    )
    .await
    .unwrap();
    let listed: Vec<String> = listed.as_array().unwrap().iter().map(|b| b["pbid"].to_string()).collect();
    assert!(delivered.len() > 7, "several capped polls were needed");
    assert!(counts(&delivered).values().all(|n| *n == 1), "a breach was delivered twice");
    assert_eq!(counts(&delivered).keys().collect::<Vec<_>>(), counts(&listed).keys().collect::<Vec<_>>());
    // Nothing new: nothing delivered.
    assert!(drain(&conn, "poll-model-breaches", json!({"max_items": 7}), &mut state, "pbid").await.is_empty());
}

#[tokio::test]
async fn late_created_same_millisecond_and_out_of_order_breaches_are_delivered_once() {
    let (sim, conn) = simulator().await;
    let mut state = None;
    drain(&conn, "poll-model-breaches", json!({}), &mut state, "pbid").await;
    let now = sim.now().unix_timestamp() * 1000;
    let mut staged = vec![sim.insert_breach(now - 5 * 86_400_000, now - 1_000, 0.9)];
    staged.extend((0..5).map(|_| sim.insert_breach(now - 60_000, now - 2_000, 0.5)));
    // Visible only now, created half an hour ago: before the cursor, inside the overlap.
    staged.push(sim.insert_breach(now - 1_800_000, now - 1_800_000, 0.4));
    let delivered = drain(&conn, "poll-model-breaches", json!({"max_items": 2}), &mut state, "pbid").await;
    let mut expected: Vec<String> = staged.iter().map(u64::to_string).collect();
    expected.sort();
    let mut got = delivered.clone();
    got.sort();
    assert_eq!(got, expected);
}

#[tokio::test]
async fn random_timelines_through_the_component_deliver_exactly_once() {
    let seed: u64 = std::env::var("POLL_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(20_261_123);
    let mut rng = seed;
    let mut next = move |n: u64| {
        rng = rng.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        (rng >> 33) % n.max(1)
    };
    let (sim, conn) = simulator().await;
    let state_file = std::env::temp_dir().join(format!("poll-state-{}-{seed}", std::process::id()));
    let mut delivered = Vec::new();
    let mut expected: Vec<String> = Vec::new();
    let mut first = true;
    for _round in 0..25 {
        let now = sim.now().unix_timestamp() * 1000;
        let burst_at = now - 1_000 * next(1_200) as i64;
        for _ in 0..next(5) {
            let created = if next(3) == 0 { burst_at } else { now - 1_000 * next(1_200) as i64 };
            let first_activity = created - 60_000 * next(600) as i64;
            expected.push(sim.insert_breach(first_activity, created, 0.5).to_string());
        }
        // A restarted host reads the state back from its file.
        let mut state = std::fs::read_to_string(&state_file).ok();
        let options = json!({"max_items": 1 + next(4), "first_lookback_seconds": 86_400});
        let got = if next(2) == 0 {
            drain(&conn, "poll-model-breaches", options, &mut state, "pbid").await
        } else {
            let mut input = options;
            input["state"] = state.clone().map_or(Value::Null, Value::String);
            let out = invoke(&conn, "poll-model-breaches", input).await.unwrap();
            state = Some(out["state"].as_str().unwrap().to_owned());
            out["items"].as_array().unwrap().iter().map(|b| b["pbid"].to_string()).collect()
        };
        if first {
            // The first poll also picks up the seeded breaches of the last day.
            let now = sim.now().unix_timestamp() * 1000;
            let listed = invoke(
                &conn,
                "list-model-breaches",
                json!({"start": now - 86_400_000 - 60_000, "end": now, "include_acknowledged": true}),
            )
            .await
            .unwrap();
            expected.extend(listed.as_array().unwrap().iter().map(|b| b["pbid"].to_string()));
            first = false;
        }
        delivered.extend(got);
        std::fs::write(&state_file, state.unwrap()).unwrap();
    }
    let mut state = std::fs::read_to_string(&state_file).ok();
    delivered.extend(drain(&conn, "poll-model-breaches", json!({}), &mut state, "pbid").await);
    std::fs::remove_file(&state_file).ok();
    let got = counts(&delivered);
    assert!(got.values().all(|n| *n == 1), "seed {seed} (replay with POLL_SEED={seed}): duplicates {got:?}");
    let want = counts(&expected);
    assert_eq!(
        got.keys().collect::<Vec<_>>(),
        want.keys().collect::<Vec<_>>(),
        "seed {seed} (replay with POLL_SEED={seed})"
    );
    let size = state.unwrap().len();
    assert!(size < 4_096, "the state grew to {size} bytes");
}

#[tokio::test]
async fn ai_analyst_incident_polls_deliver_each_event_once() {
    let (sim, conn) = simulator().await;
    let mut state = None;
    let options = json!({"max_items": 3, "first_lookback_seconds": 30 * 86_400});
    let delivered = drain(&conn, "poll-ai-analyst-incidents", options.clone(), &mut state, "id").await;
    let now = sim.now().unix_timestamp() * 1000;
    let listed = invoke(
        &conn,
        "list-ai-analyst-incidents",
        json!({"start": now - 30 * 86_400_000 - 60_000, "end": now + 60_000, "include_acknowledged": true, "include_pinned": false}),
    )
    .await
    .unwrap();
    let listed: Vec<String> = listed.as_array().unwrap().iter().map(|e| e["id"].as_str().unwrap().to_owned()).collect();
    assert!(!delivered.is_empty());
    assert!(counts(&delivered).values().all(|n| *n == 1));
    assert_eq!(counts(&delivered).keys().collect::<Vec<_>>(), counts(&listed).keys().collect::<Vec<_>>());
    assert!(drain(&conn, "poll-ai-analyst-incidents", options, &mut state, "id").await.is_empty());
}

#[tokio::test]
async fn a_state_from_another_poll_or_a_bad_option_is_invalid_input() {
    let (sim, conn) = simulator().await;
    let out = invoke(&conn, "poll-model-breaches", json!({"max_items": 1})).await.unwrap();
    let breach_state = out["state"].as_str().unwrap().to_owned();
    let before = sim.requests().len();
    for (input, field) in [
        (json!({"state": breach_state}), "state"),
        (json!({"state": "{not a state"}), "state"),
        (json!({"min_score": 150}), "min_score"),
        (json!({"max_items": 0}), "max_items"),
    ] {
        let err = invoke(&conn, "poll-ai-analyst-incidents", input.clone()).await.unwrap_err();
        assert_eq!(err.case(), "invalid-input", "{input}");
        assert!(err.message().contains(field), "{input}: {}", err.message());
    }
    assert_eq!(case(invoke(&conn, "poll-model-breaches", json!({"min_score": 1.5})).await), "invalid-input");
    assert_eq!(sim.requests().len(), before, "bad input must not reach the appliance");

    let wit = conn.to_wit();
    let options = polling::PollOptions {
        min_score: None,
        include_acknowledged: None,
        max_items: Some(2),
        first_lookback_seconds: None,
        overlap_seconds: None,
    };
    let typed = HOST
        .call(conn.policy(), async |c, s| {
            c.darktrace_connector_polling().call_poll_model_breaches(s, &wit, options, None).await
        })
        .await
        .unwrap()
        .0
        .unwrap();
    assert_eq!(typed.items.len(), 2);
    assert!(typed.more);
}
