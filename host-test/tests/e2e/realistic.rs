//! The tolerant reader, end to end: answers of the shapes real appliances write (the
//! simulator's realistic mode, each variant cited in `Dataset::realistic`), items with fields
//! nothing can read (put into real answers with `Simulator::set_rewrite`), and `raw` kept as
//! the appliance's own text.

use std::sync::Arc;

use host_test::simulator::Rewrite;

use super::support::*;

/// A realistic simulator and its connection.
async fn realistic() -> (Simulator, ConnectionParams) {
    simulator_with(SimulatorConfig { realistic: true, ..SimulatorConfig::default() }).await
}

/// Every `warnings` list anywhere in `v`, flattened.
fn warnings(v: &Value) -> Vec<Value> {
    match v {
        Value::Object(map) => map
            .iter()
            .flat_map(|(k, v)| match (k.as_str(), v) {
                ("warnings", Value::Array(list)) => list.clone(),
                ("raw", _) => Vec::new(),
                _ => warnings(v),
            })
            .collect(),
        Value::Array(items) => items.iter().flat_map(warnings).collect(),
        _ => Vec::new(),
    }
}

/// The items of a list action's output: the array itself, or the list under `key`.
fn items<'a>(out: &'a Value, key: Option<&str>) -> &'a Vec<Value> {
    key.map_or(out, |k| &out[k]).as_array().expect("a list of items")
}

/// Rewrites the answer to `path` (and only that path): the item at `index` of the list found
/// under `keys` gets `field` set to an object, which no field of any item is read as.
fn spoil(path: &'static str, keys: &'static [&'static str], index: usize, field: &'static str) -> Rewrite {
    Rewrite(Arc::new(move |at: &str, answer: &Value| {
        if at != path {
            return None;
        }
        let mut answer = answer.clone();
        let list = keys.iter().fold(&mut answer, |v, k| &mut v[*k]);
        let item = list.as_array_mut()?.get_mut(index)?;
        item[field] = json!({"odd": [1, 2]});
        Some(answer.to_string())
    }))
}

/// One list action and where to spoil one of its items.
struct Case {
    action: &'static str,
    input: Value,
    /// The request path whose answer is rewritten.
    path: String,
    /// Where the items are in the answer.
    keys: &'static [&'static str],
    index: usize,
    field: &'static str,
    /// The items in the action's output: the output itself, or the list under this key.
    output_key: Option<&'static str>,
    /// The warning's path.
    warning: String,
}

#[tokio::test]
async fn every_list_action_keeps_an_item_it_cannot_fully_read_with_a_warning_naming_the_field() {
    let (sim, conn) = simulator().await;
    let pbid = *sim.known_pbids().last().unwrap();
    let did = sim.known_dids()[0];
    let uuid = sim.incident_event_ids().pop().unwrap();
    invoke(&conn, "add-model-breach-comment", json!({"pbid": pbid, "message": "first"})).await.unwrap();
    invoke(&conn, "add-model-breach-comment", json!({"pbid": pbid, "message": "second"})).await.unwrap();
    invoke(&conn, "add-ai-analyst-comment", json!({"incident_id": uuid, "message": "seen"})).await.unwrap();
    let tagged = sim.known_dids().into_iter().find(|d| !sim.device_tags(*d).is_empty()).unwrap();
    let tag = sim.device_tags(tagged).remove(0);
    let case = |action: &'static str, input: Value, path: String, keys: &'static [&'static str], field, at: &str| {
        Case { action, input, path, keys, index: 1, field, output_key: None, warning: format!("{at}[1].{field}") }
    };
    let cases = [
        case("list-model-breaches", json!({}), "/modelbreaches".into(), &[], "score", "modelbreaches"),
        case("poll-model-breaches", json!({}), "/modelbreaches".into(), &[], "score", "modelbreaches"),
        case(
            "list-model-breach-comments",
            json!({"pbid": pbid}),
            format!("/modelbreaches/{pbid}/comments"),
            &[],
            "username",
            "comments",
        ),
        case("list-comments", json!({}), "/mbcomments".into(), &[], "message", "mbcomments"),
        case("get-model-breach-connections", json!({"pbid": pbid}), "/details".into(), &[], "protocol", "details"),
        case(
            "list-ai-analyst-incidents",
            json!({}),
            "/aianalyst/incidentevents".into(),
            &[],
            "title",
            "incidentevents",
        ),
        case(
            "poll-ai-analyst-incidents",
            json!({}),
            "/aianalyst/incidentevents".into(),
            &[],
            "title",
            "incidentevents",
        ),
        case("list-ai-analyst-groups", json!({}), "/aianalyst/groups".into(), &[], "category", "groups"),
        Case {
            index: 0,
            warning: "comments[0].username".into(),
            ..case(
                "list-ai-analyst-comments",
                json!({"incident_id": uuid}),
                "/aianalyst/incident/comments".into(),
                &["comments"],
                "username",
                "comments",
            )
        },
        case("list-devices", json!({}), "/devices".into(), &[], "hostname", "devices"),
        case(
            "search-devices",
            json!({"query": "hostname:\"*corp.example\"", "count": 5}),
            "/devicesearch".into(),
            &["devices"],
            "hostname",
            "devicesearch.devices",
        ),
        case("list-similar-devices", json!({"did": did}), "/similardevices".into(), &[], "hostname", "similardevices"),
        case("list-device-events", json!({"did": did}), "/details".into(), &[], "timems", "details"),
        case("list-tags", json!({}), "/tags".into(), &[], "name", "tags"),
        Case {
            index: 0,
            warning: "tags[0].name".into(),
            ..case("list-device-tags", json!({"did": tagged}), "/tags/entities".into(), &[], "name", "tags")
        },
        Case {
            index: 0,
            warning: "tagentities.entities[0].entityType".into(),
            ..case(
                "list-tagged-devices",
                json!({"tag": tag}),
                "/tags/entities".into(),
                &["entities"],
                "entityType",
                "tagentities.entities",
            )
        },
        case("list-models", json!({}), "/models".into(), &[], "name", "models"),
        case("list-subnets", json!({}), "/subnets".into(), &[], "label", "subnets"),
        case("list-respond-actions", json!({}), "/antigena".into(), &[], "label", "antigena"),
        case("list-watched-domains", json!({}), "/intelfeed".into(), &[], "description", "intelfeed"),
    ];
    for mut c in cases {
        c.output_key = match c.action {
            "search-devices" => Some("devices"),
            "get-model-breach-connections" => Some("events"),
            "list-tagged-devices" => Some("entities"),
            "list-respond-actions" => Some("actions"),
            "poll-model-breaches" | "poll-ai-analyst-incidents" => Some("items"),
            _ => None,
        };
        let (action, input) = (c.action, c.input.clone());
        let plain = invoke(&conn, action, input.clone()).await.unwrap_or_else(|e| panic!("{action}: {e:?}"));
        assert!(warnings(&plain).is_empty(), "{action}: the plain answer reads without warnings: {plain}");
        let count = items(&plain, c.output_key).len();
        assert!(count > c.index, "{action}: the simulator lists {count} items, too few to spoil one");

        sim.set_rewrite(Some(spoil(Box::leak(c.path.clone().into_boxed_str()), c.keys, c.index, c.field)));
        let odd = invoke(&conn, action, input).await;
        sim.set_rewrite(None);
        let odd = odd.unwrap_or_else(|e| panic!("{action}: one odd item failed the list: {e:?}"));
        assert_eq!(items(&odd, c.output_key).len(), count, "{action}: every item is still listed");
        let found = warnings(&odd);
        assert_eq!(found.len(), 1, "{action}: {found:?}");
        assert_eq!(found[0]["path"], c.warning, "{action}");
        assert!(found[0]["found"].as_str().unwrap().starts_with("an object {\"odd\""), "{action}: {found:?}");
        assert!(!found[0]["expected"].as_str().unwrap().is_empty());
    }
}

#[tokio::test]
async fn a_single_read_fails_only_when_the_items_id_cannot_be_read() {
    let (sim, conn) = simulator().await;
    let pbid = *sim.known_pbids().last().unwrap();
    let path: &'static str = Box::leak(format!("/modelbreaches/{pbid}").into_boxed_str());
    let set = |field: &'static str, to: Value| {
        Rewrite(Arc::new(move |at: &str, answer: &Value| {
            let mut answer = answer.clone();
            (at == path).then(|| {
                answer[field] = to.clone();
                answer.to_string()
            })
        }))
    };
    sim.set_rewrite(Some(set("commentCount", json!("many"))));
    let read = invoke(&conn, "get-model-breach", json!({"pbid": pbid})).await.unwrap();
    assert_eq!(read["pbid"], pbid);
    assert_eq!(
        (read["comment_count"].clone(), read["warnings"][0]["path"].clone()),
        (json!(0), json!("modelbreach.commentCount"))
    );

    sim.set_rewrite(Some(set("pbid", json!("not an id"))));
    let err = invoke(&conn, "get-model-breach", json!({"pbid": pbid})).await.unwrap_err();
    assert_eq!(err.case(), "unexpected-response");
    assert!(err.message().contains("`modelbreach.pbid`"), "{}", err.message());
}

#[tokio::test]
async fn raw_is_the_appliances_text_with_its_numbers_as_written() {
    let (sim, conn) = simulator().await;
    // Each family's answers, with numbers that a parse and re-serialisation would rewrite.
    let odd_numbers = Rewrite(Arc::new(|_: &str, answer: &Value| {
        let text = answer.to_string();
        let marked = text.replacen("{\"", "{\"big\":12345678901234567890,\"ratio\":1.50,\"exp\":1e3,\"", 1);
        (marked != text).then_some(marked)
    }));
    sim.set_rewrite(Some(odd_numbers));
    let pbid = *sim.known_pbids().last().unwrap();
    for (action, input) in [
        ("get-model-breach", json!({"pbid": pbid})),
        ("list-model-breaches", json!({})),
        ("list-devices", json!({})),
        ("list-subnets", json!({})),
        ("list-ai-analyst-incidents", json!({})),
        ("list-respond-actions", json!({})),
        ("get-status", json!({})),
        ("list-watched-domains", json!({})),
    ] {
        let out = HOST.invoke(&conn, action, &input.to_string()).await.expect("no trap").unwrap();
        assert!(
            out.contains("\"big\":12345678901234567890,\"ratio\":1.50,\"exp\":1e3"),
            "{action}: raw rewrote the appliance's numbers: {}",
            &out[..out.len().min(400)]
        );
    }
    // The typed exports carry the same text.
    let wit = conn.to_wit();
    let breach = HOST
        .call(conn.policy(), async |c, s| {
            c.darktrace_connector_model_breaches().call_get_model_breach(s, &wit, pbid).await
        })
        .await
        .expect("no trap")
        .0
        .unwrap();
    assert!(breach.raw.starts_with("{\"big\":12345678901234567890,\"ratio\":1.50,\"exp\":1e3,"), "{}", breach.raw);
    assert!(breach.warnings.is_empty());
}

#[tokio::test]
async fn system_breaches_are_listed_with_device_id_minus_one() {
    let (sim, conn) = realistic().await;
    let start = (sim.now().unix_timestamp() - 20 * 86_400) * 1000;
    let end = sim.now().unix_timestamp() * 1000;
    let input = json!({"start": start, "end": end, "include_acknowledged": true});
    let list = invoke(&conn, "list-model-breaches", input).await.unwrap();
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), sim.breach_count(), "every breach is listed, system breaches included");
    let system: Vec<&Value> = list.iter().filter(|b| b["device_did"] == -1).collect();
    assert!(!system.is_empty());
    for b in system {
        let raw: Value = b["raw"].clone();
        assert_eq!(raw["device"], json!({"did": -1}));
        assert!(b["device_ip"].is_null() && b["warnings"].as_array().unwrap().is_empty(), "{b}");
    }
    assert!(warnings(&json!(list)).is_empty());
}

#[tokio::test]
async fn acknowledgements_written_as_objects_read_as_acknowledged() {
    let (sim, conn) = realistic().await;
    let start = (sim.now().unix_timestamp() - 20 * 86_400) * 1000;
    let end = sim.now().unix_timestamp() * 1000;
    let list = invoke(&conn, "list-model-breaches", json!({"start": start, "end": end, "include_acknowledged": true}))
        .await
        .unwrap();
    let acked: Vec<&Value> = list.as_array().unwrap().iter().filter(|b| b["raw"]["acknowledged"].is_object()).collect();
    assert!(!acked.is_empty());
    for b in &acked {
        assert_eq!(b["acknowledged"], true, "{b}");
        assert!(sim.is_acknowledged(b["pbid"].as_u64().unwrap()).unwrap());
    }
}

#[tokio::test]
async fn numbers_written_as_strings_are_read() {
    let (_sim, conn) = realistic().await;
    // A breach's device id as a string (fixture Darktrace/breach_details.json).
    let list = invoke(&conn, "list-model-breaches", json!({})).await.unwrap();
    let with_string_did =
        list.as_array().unwrap().iter().find(|b| b["raw"]["device"]["did"].is_string()).expect("a string did");
    assert_eq!(with_string_did["device_did"].as_i64().unwrap().to_string(), with_string_did["raw"]["device"]["did"]);
    // AI Analyst scores as strings ("72.9").
    let events = invoke(&conn, "list-ai-analyst-incidents", json!({})).await.unwrap();
    let event = &events[0];
    assert!(event["raw"]["aiaScore"].is_string(), "{event}");
    assert_eq!(
        event["aia_score"].as_f64().unwrap().to_string(),
        event["raw"]["aiaScore"].as_str().unwrap().trim_end_matches(".0")
    );
    assert!(event["group_score"].is_f64() || event["group_score"].is_u64());
    // A subnet's `lastSeen` as fractional milliseconds in a string (fixture DarktraceAdmin/tagged_devices.json).
    let subnets = invoke(&conn, "list-subnets", json!({})).await.unwrap();
    for s in subnets.as_array().unwrap() {
        let written = s["raw"]["lastSeen"].as_str().unwrap();
        assert_eq!(s["last_seen"].as_i64().unwrap().to_string(), written.split('.').next().unwrap());
        assert_eq!(s["last_traffic"], s["raw"]["mostRecentTraffic"]);
    }
    assert!(warnings(&json!([list, events, subnets])).is_empty());
}

#[tokio::test]
async fn saas_accounts_in_subnet_minus_nine_are_read_as_devices() {
    let (_sim, conn) = realistic().await;
    let devices = invoke(&conn, "list-devices", json!({})).await.unwrap();
    let saas: Vec<&Value> = devices.as_array().unwrap().iter().filter(|d| d["raw"]["sid"] == -9).collect();
    assert!(!saas.is_empty());
    assert!(saas.iter().all(|d| d["hostname"].as_str().unwrap().starts_with("SaaS::") && d["warnings"] == json!([])));
}

#[tokio::test]
async fn a_manual_respond_action_answered_with_code_returns_its_codeid() {
    let (sim, conn) = realistic().await;
    let did = sim.known_dids()[0];
    let input = json!({"did": did, "action": "quarantine", "duration_seconds": 600, "reason": "contain"});
    let out = invoke(&conn, "create-manual-respond-action", input).await.unwrap();
    let codeid = out["codeid"].as_u64().unwrap();
    assert!(out["raw"]["code"] == codeid && out["raw"].get("codeid").is_none(), "{out}");
    assert!(sim.respond_action(codeid).is_some());
}

#[tokio::test]
async fn fields_are_read_under_the_names_the_reference_documents() {
    let (sim, conn) = simulator().await;
    // `/devicesummary`: the device is the object at `data.devices` (reference section 2.4).
    let did = sim.known_dids()[0];
    let summary = invoke(&conn, "get-device-summary", json!({"did": did})).await.unwrap();
    assert!(summary["raw"]["data"]["devices"].is_object());
    assert_eq!(summary["device"]["did"], did);
    // `/subnets`: `mostRecentTraffic` and `lastSeen`, epoch ms (reference section 2.6).
    let subnets = invoke(&conn, "list-subnets", json!({})).await.unwrap();
    assert!(subnets.as_array().unwrap().iter().all(|s| s["last_traffic"].is_i64() && s["last_seen_iso"].is_string()));
    // `/intelfeed`: expiry as `YYYY-MM-DDTHH:MM:SS` with no offset, UTC (reference section 2.5).
    let feed = invoke(&conn, "list-watched-domains", json!({})).await.unwrap();
    let dated = feed.as_array().unwrap().iter().find(|e| e["raw"]["expiry"].is_string()).unwrap();
    let written = dated["raw"]["expiry"].as_str().unwrap();
    assert_eq!(written.len(), 19, "{written}");
    assert_eq!(dated["expiry_iso"].as_str().unwrap(), format!("{written}.000Z"));
    assert!(warnings(&json!([summary, subnets, feed])).is_empty());
}
