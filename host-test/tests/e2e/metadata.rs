//! Enrichment and metadata actions, end to end.

use super::support::*;

fn now_ms(sim: &Simulator) -> i64 {
    (sim.now().unix_timestamp_nanos() / 1_000_000) as i64
}

#[tokio::test]
async fn endpoint_details_of_a_rare_hostname_list_its_devices_ips_and_popularity() {
    let (sim, conn) = simulator().await;
    let (hostname, dids) = sim
        .external_endpoints()
        .into_iter()
        .find(|(h, d)| h == "cdn-sync.example.net" && !d.is_empty())
        .expect("a seeded rare endpoint with devices");
    let out = invoke(&conn, "get-endpoint-details", json!({"hostname": hostname})).await.unwrap();
    let mut expected = dids.clone();
    expected.sort_unstable();
    expected.dedup();
    let got: Vec<u64> = out["device_dids"].as_array().unwrap().iter().map(|d| d.as_u64().unwrap()).collect();
    assert_eq!(got, expected);
    assert_eq!(out["hostname"], hostname);
    assert_eq!(out["internal"], false);
    assert!(out["popularity"].as_f64().unwrap() <= 12.0, "a rare endpoint is unpopular: {}", out["popularity"]);
    assert!(out["first_seen_iso"].as_str().unwrap().ends_with('Z'));
    assert!(!out["ips"].as_array().unwrap().is_empty());
    assert_eq!(out["locations"].as_array().unwrap().len(), out["ips"].as_array().unwrap().len());
    let sent = sim.requests().last().unwrap().path_and_query.clone();
    assert_eq!(sent, format!("/endpointdetails?hostname={hostname}&additionalinfo=true&devices=true&score=true"));

    // The same endpoint looked up by one of its addresses names the hostname.
    let ip = out["ips"][0].as_str().unwrap().to_owned();
    let by_ip = invoke(&conn, "get-endpoint-details", json!({"ip": ip, "devices": false})).await.unwrap();
    assert_eq!((by_ip["hostname"].as_str(), by_ip["ip"].as_str()), (Some(hostname.as_str()), Some(ip.as_str())));
    assert_eq!(by_ip["device_dids"], json!([]));

    // A name nobody contacted: no first-seen time, popularity 0.
    let never = invoke(&conn, "get-endpoint-details", json!({"hostname": "never-seen.example.org"})).await.unwrap();
    assert_eq!((never["first_seen"].clone(), never["popularity"].as_f64()), (Value::Null, Some(0.0)));
}

#[tokio::test]
async fn an_internal_ip_is_answered_as_internal_with_the_device_holding_it() {
    let (sim, conn) = simulator().await;
    let did = sim.known_dids()[0];
    let device = invoke(&conn, "get-device", json!({"did": did})).await.unwrap();
    let ip = device["ip"].as_str().unwrap().to_owned();
    let out = invoke(&conn, "get-endpoint-details", json!({"ip": ip})).await.unwrap();
    assert_eq!(out["internal"], true);
    assert_eq!(out["device_dids"], json!([did]));
    assert_eq!((out["popularity"].clone(), out["first_seen"].clone()), (Value::Null, Value::Null));
    assert_eq!(out["raw"]["name"], "internal_ip");
}

#[tokio::test]
async fn endpoint_details_need_exactly_one_well_formed_hostname_or_ip_and_send_nothing_otherwise() {
    let (sim, conn) = simulator().await;
    for (input, field) in [
        (json!({}), "hostname"),
        (json!({"hostname": "a.example", "ip": "192.0.2.1"}), "ip"),
        (json!({"ip": "192.0.2.999"}), "ip"),
        (json!({"hostname": "https://a.example/path"}), "hostname"),
        (json!({"hostname": "a.example", "colour": "red"}), "colour"),
    ] {
        let err = invoke(&conn, "get-endpoint-details", input.clone()).await.unwrap_err();
        assert_eq!(err.case(), "invalid-input", "{input}");
        assert!(err.to_string().contains(field), "{input}: {err}");
    }
    assert!(sim.requests().is_empty());
}

#[tokio::test]
async fn models_are_listed_by_pid_with_family_category_and_real_line_breaks() {
    let (sim, conn) = simulator().await;
    let wit = conn.to_wit();
    let models = HOST
        .call(conn.policy(), async |c, s| c.darktrace_connector_metadata().call_list_models(s, &wit).await)
        .await
        .unwrap()
        .0
        .unwrap();
    let ids: Vec<(u64, String)> = models.iter().map(|m| (m.pid, m.uuid.clone().unwrap_or_default())).collect();
    assert_eq!(ids, sim.model_ids());
    for m in &models {
        assert!(m.name.starts_with(&format!("{}::", m.family)), "{} / {}", m.name, m.family);
        assert!(m.category.is_some() && !m.component_cids.is_empty() && m.modified_iso.is_some());
        let description = m.description.as_deref().unwrap();
        assert!(description.contains("\n\nAction:") && !description.contains("\\n"), "{description:?}");
    }
    assert!(models.iter().any(|m| m.category.as_deref() == Some("Compliance") && m.compliance));
    let json = invoke(&conn, "list-models", json!({})).await.unwrap();
    assert_eq!(json.as_array().unwrap().len(), models.len());
}

#[tokio::test]
async fn a_model_read_by_uuid_or_by_pid_is_the_same_and_unknown_models_are_not_found() {
    let (sim, conn) = simulator().await;
    let (pid, uuid) = sim.model_ids()[4].clone();
    let by_uuid = invoke(&conn, "get-model", json!({"uuid": uuid})).await.unwrap();
    let by_pid = invoke(&conn, "get-model", json!({"pid": pid})).await.unwrap();
    assert_eq!(by_uuid, by_pid);
    assert_eq!(by_uuid["pid"], pid);
    let sent: Vec<String> = sim.requests().iter().map(|r| r.path_and_query.clone()).collect();
    assert_eq!(sent, vec![format!("/models?uuid={uuid}"), format!("/models/{pid}")]);
    assert_eq!(case(invoke(&conn, "get-model", json!({"pid": 999_999})).await), "not-found");
    assert_eq!(
        case(invoke(&conn, "get-model", json!({"uuid": "00000000-0000-4000-8000-000000000000"})).await),
        "not-found"
    );
    assert_eq!(case(invoke(&conn, "get-model", json!({"uuid": uuid, "pid": pid})).await), "invalid-input");
}

#[tokio::test]
async fn a_models_components_are_read_by_cid_with_metric_and_filters() {
    let (sim, conn) = simulator().await;
    let model = invoke(&conn, "get-model", json!({"pid": sim.model_ids()[0].0})).await.unwrap();
    let cid = model["component_cids"][0].as_u64().unwrap();
    let wit = conn.to_wit();
    let component = HOST
        .call(conn.policy(), async |c, s| c.darktrace_connector_metadata().call_get_model_component(s, &wit, cid).await)
        .await
        .unwrap()
        .0
        .unwrap();
    assert_eq!(component.cid, cid);
    assert!(component.metric_id.is_some() && component.chid.is_some());
    let filters: Value = serde_json::from_str(&component.filters).unwrap();
    assert!(!filters.as_array().unwrap().is_empty());
    let json = invoke(&conn, "get-model-component", json!({"cid": cid})).await.unwrap();
    assert_eq!(json["filters"], filters);
    assert_eq!(case(invoke(&conn, "get-model-component", json!({"cid": 1})).await), "not-found");
}

#[tokio::test]
async fn enums_come_whole_or_by_section_and_an_unknown_section_is_not_found() {
    let (sim, conn) = simulator().await;
    assert_eq!(case(invoke(&conn, "get-enums", json!({"section": "a b"})).await), "invalid-input");
    assert!(sim.requests().is_empty());
    let wit = conn.to_wit();
    let all = HOST
        .call(conn.policy(), async |c, s| c.darktrace_connector_metadata().call_get_enums(s, &wit, None).await)
        .await
        .unwrap()
        .0
        .unwrap();
    let all: Value = serde_json::from_str(&all).unwrap();
    assert!(all["countries"].is_array() && all["sourcedevicetypes"].is_array());
    let countries = invoke(&conn, "get-enums", json!({"section": "countries"})).await.unwrap();
    assert_eq!(countries, json!({"countries": all["countries"]}));
    assert_eq!(sim.requests().last().unwrap().path_and_query, "/enums?responsedata=countries");
    assert_eq!(case(invoke(&conn, "get-enums", json!({"section": "nosuchsection"})).await), "not-found");
}

#[tokio::test]
async fn advanced_search_posts_a_base64_query_with_empty_fields_and_a_custom_timeframe() {
    let (sim, conn) = simulator().await;
    let out = invoke(&conn, "advanced-search", json!({"query": "@type:\"ssl\"", "size": 5})).await.unwrap();
    let hits = out["hits"].as_array().unwrap();
    assert_eq!(hits.len(), 5);
    assert!(out["total_hits"].as_u64().unwrap() > 5);
    assert!(hits.iter().all(|h| h["_source"]["@type"] == "ssl"));
    let request = sim.requests().last().unwrap().clone();
    assert_eq!((request.method.as_str(), request.path_and_query.as_str()), ("POST", "/advancedsearch/api/search"));
    let body: Value = serde_json::from_slice(&request.body).unwrap();
    assert!(body["hash"].is_string());
    let document = sim.search_documents().pop().unwrap();
    assert_eq!(document["fields"], json!([]));
    assert_eq!(document["timeframe"], "custom");
    assert_eq!((document["size"].as_u64(), document["offset"].as_u64()), (Some(5), Some(0)));
    // The default window is the last 24 hours.
    let from = time::OffsetDateTime::parse(
        document["time"]["from"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    let hours = (sim.now() - from).whole_minutes() as f64 / 60.0;
    assert!((23.9..24.1).contains(&hours), "{hours}");
}

#[tokio::test]
async fn advanced_search_pages_with_offset_over_an_explicit_window() {
    let (sim, conn) = simulator().await;
    let end = now_ms(&sim);
    let start = end - 36 * 3600 * 1000;
    let page = |offset: u32| {
        invoke(
            &conn,
            "advanced-search",
            json!({"query": "*", "start": start, "end": end, "size": 20, "offset": offset}),
        )
    };
    let (first, second) = (page(0).await.unwrap(), page(20).await.unwrap());
    let ids = |p: &Value| {
        p["hits"].as_array().unwrap().iter().map(|h| h["_id"].as_str().unwrap().to_owned()).collect::<Vec<_>>()
    };
    assert_eq!((ids(&first).len(), ids(&second).len()), (20, 20));
    assert!(ids(&first).iter().all(|id| !ids(&second).contains(id)), "pages overlap");
    assert_eq!(first["total_hits"], second["total_hits"]);
    assert_eq!(second["offset"], 20);
}

#[tokio::test]
async fn the_legacy_get_form_sends_url_safe_base64_without_padding_in_the_path() {
    let (sim, conn) = simulator().await;
    let end = now_ms(&sim);
    let start = end - 48 * 3600 * 1000;
    // `???` and `>>>` would put `/` and `+` into standard base64; three lengths give every padding.
    for pad in ["", "x", "xy"] {
        let query = format!("??? >>> {pad}");
        let legacy =
            invoke(&conn, "advanced-search", json!({"query": query, "start": start, "end": end, "legacy_get": true}))
                .await
                .unwrap();
        let post = invoke(&conn, "advanced-search", json!({"query": query, "start": start, "end": end})).await.unwrap();
        assert_eq!(legacy["total_hits"], post["total_hits"], "both forms run the same query");
    }
    let paths: Vec<String> = sim
        .requests()
        .into_iter()
        .filter(|r| r.method == "GET")
        .map(|r| r.path_and_query.strip_prefix("/advancedsearch/api/search/").unwrap().to_owned())
        .collect();
    assert_eq!(paths.len(), 3);
    for c in ['-', '_'] {
        assert!(paths.iter().any(|p| p.contains(c)), "no `{c}` in {paths:?}");
    }
    assert!(paths.iter().all(|p| !p.contains(['/', '+', '=', '%'])), "{paths:?}");
    let documents = sim.search_documents();
    assert!(documents.iter().all(|d| d["fields"] == json!([]) && d["timeframe"] == "custom"));

    // A query that matches: both forms find the same records.
    let dns = json!({"query": "@type:\"dns\"", "start": start, "end": end, "size": 10});
    let post = invoke(&conn, "advanced-search", dns.clone()).await.unwrap();
    let mut legacy_input = dns;
    legacy_input["legacy_get"] = json!(true);
    let legacy = invoke(&conn, "advanced-search", legacy_input).await.unwrap();
    assert!(post["total_hits"].as_u64().unwrap() > 10);
    assert_eq!((&legacy["total_hits"], &legacy["hits"]), (&post["total_hits"], &post["hits"]));
}

#[tokio::test]
async fn advanced_search_refuses_bad_input_before_sending_anything() {
    let (sim, conn) = simulator().await;
    for (input, field) in [
        (json!({"query": "  "}), "query"),
        (json!({"query": "*", "size": 0}), "size"),
        (json!({"query": "*", "size": 10_001}), "size"),
        (json!({"query": "*", "start": 1_705_311_000_000i64}), "end"),
        (json!({"query": "*", "start": "yesterday", "end": 1_705_311_000_000i64}), "start"),
        (json!({"size": 5}), "query"),
    ] {
        let err = invoke(&conn, "advanced-search", input.clone()).await.unwrap_err();
        assert_eq!(err.case(), "invalid-input", "{input}");
        assert!(err.to_string().contains(field), "{input}: {err}");
    }
    assert!(sim.requests().is_empty());
}

#[tokio::test]
async fn subnets_are_listed_by_sid_and_filtered_by_recent_traffic() {
    let (sim, conn) = simulator().await;
    let err = invoke(&conn, "list-subnets", json!({"seen_since_seconds": 200 * 86_400})).await.unwrap_err();
    assert!(err.case() == "invalid-input" && err.to_string().contains("seen_since_seconds"), "{err}");
    assert!(sim.requests().is_empty());

    let all = invoke(&conn, "list-subnets", json!({})).await.unwrap();
    let sids = |v: &Value| v.as_array().unwrap().iter().map(|s| s["sid"].as_i64().unwrap()).collect::<Vec<_>>();
    assert_eq!(sids(&all), sim.subnet_ids());
    let retired = all.as_array().unwrap().iter().find(|s| s["excluded"] == true).expect("an excluded subnet");
    assert!(
        all.as_array()
            .unwrap()
            .iter()
            .any(|s| s["network"].as_str().is_some_and(|n| n.ends_with(".0/24")) && s["latitude"].is_f64())
    );

    let recent = invoke(&conn, "list-subnets", json!({"seen_since_seconds": 7 * 86_400})).await.unwrap();
    assert!(!sids(&recent).is_empty() && !sids(&recent).contains(&retired["sid"].as_i64().unwrap()));
    assert_eq!(sim.requests().last().unwrap().path_and_query, "/subnets?seensince=604800");

    let one = invoke(&conn, "list-subnets", json!({"sid": sids(&all)[0]})).await.unwrap();
    assert_eq!(sids(&one), vec![sids(&all)[0]]);
    assert_eq!(case(invoke(&conn, "list-subnets", json!({"sid": 4242})).await), "not-found");
}
