//! End-to-end: the built component, loaded under wasmtime, runs every action against the
//! embedded simulator over loopback HTTP.

use std::path::Path;
use std::sync::LazyLock;

use host_test::outbound::{Destination, Policy};
use host_test::runtime::{ConnectionParams, GuestError, Host, HostConfig, Instant, model_breaches, devices};
use host_test::simulator::{Simulator, SimulatorConfig};
use serde_json::{Value, json};

/// One compiled component for the whole test binary: compiling is the slow part.
static HOST: LazyLock<Host> =
    LazyLock::new(|| Host::load(Path::new(host_test::CONNECTOR_WASM), HostConfig::default()).expect("load the component"));

static MANIFEST: LazyLock<Value> =
    LazyLock::new(|| serde_json::from_str(darktrace_connector::manifest::MANIFEST).expect("manifest JSON"));

async fn simulator() -> (Simulator, ConnectionParams) {
    simulator_with(SimulatorConfig::default()).await
}

async fn simulator_with(config: SimulatorConfig) -> (Simulator, ConnectionParams) {
    let private_token = config.private_token.clone();
    let sim = Simulator::start(config).await.expect("start the simulator");
    let conn = ConnectionParams { api_address: sim.url(), public_token: sim.public_token().to_owned(), private_token };
    (sim, conn)
}

/// Runs an action through `invoke`, checks the output against the manifest's schema, and
/// returns it parsed.
async fn invoke(conn: &ConnectionParams, action: &str, input: Value) -> Result<Value, GuestError> {
    let out = HOST.invoke(conn, action, &input.to_string()).await.expect("no trap")?;
    let value: Value = serde_json::from_str(&out).expect("invoke returns JSON");
    let schema = MANIFEST["actions"].as_array().unwrap().iter().find(|a| a["name"] == action).expect("action in manifest")["output"].clone();
    let validator = jsonschema::validator_for(&schema).expect("output schema compiles");
    let errors: Vec<String> = validator.iter_errors(&value).map(|e| format!("{} at {}", e, e.instance_path())).collect();
    assert!(errors.is_empty(), "{action} output does not match the manifest: {errors:?}");
    Ok(value)
}

fn case(r: Result<Value, GuestError>) -> &'static str {
    match r {
        Ok(v) => panic!("expected an error, got {v}"),
        Err(e) => e.case(),
    }
}

async fn typed_list(conn: &ConnectionParams, filter: model_breaches::BreachFilter) -> Result<Vec<model_breaches::ModelBreach>, GuestError> {
    let wit = conn.to_wit();
    HOST.call(conn.policy(), async |c, s| c.darktrace_connector_model_breaches().call_list_model_breaches(s, &wit, &filter).await)
        .await
        .expect("no trap")
        .0
}

fn empty_filter() -> model_breaches::BreachFilter {
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
async fn test_connection_reports_the_appliance() {
    let (_sim, conn) = simulator().await;
    let wit = conn.to_wit();
    let status = HOST
        .call(conn.policy(), async |c, s| c.darktrace_connector_system().call_test_connection(s, &wit).await)
        .await
        .unwrap()
        .0
        .expect("the simulator accepts its own token pair");
    assert_eq!(status.api_address, conn.api_address);
    assert!(status.version.is_some_and(|v| !v.is_empty()));
    assert!(status.appliance_time.is_some());
    invoke(&conn, "test-connection", json!({})).await.unwrap();
}

#[tokio::test]
async fn wrong_private_token_is_signature_rejected() {
    let (_sim, mut conn) = simulator().await;
    conn.private_token = "0000000000000000000000000000000000000000".into();
    assert_eq!(case(invoke(&conn, "test-connection", json!({})).await), "signature-rejected");
}

#[tokio::test]
async fn unknown_public_token_is_signature_rejected() {
    let (_sim, mut conn) = simulator().await;
    conn.public_token = "not-the-simulators-token".into();
    assert_eq!(case(invoke(&conn, "test-connection", json!({})).await), "signature-rejected");
}

#[tokio::test]
async fn appliance_clock_an_hour_off_is_clock_skew() {
    let (_sim, conn) = simulator_with(SimulatorConfig { clock_offset_secs: 3600, ..Default::default() }).await;
    let err = invoke(&conn, "test-connection", json!({})).await.unwrap_err();
    assert_eq!(err.case(), "clock-skew");
    assert!(err.message().contains("NTP"), "{}", err.message());
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

    let iso = |ms: i64| time::OffsetDateTime::from_unix_timestamp(ms / 1000).unwrap().format(&time::format_description::well_known::Rfc3339).unwrap();
    let json = invoke(&conn, "list-model-breaches", json!({"start": iso(start), "end": now, "min_score": 0.6})).await.unwrap();
    let pbids: Vec<u64> = json.as_array().unwrap().iter().map(|b| b["pbid"].as_u64().unwrap()).collect();
    assert_eq!(pbids, typed.iter().map(|b| b.pbid).collect::<Vec<_>>(), "typed and JSON paths must agree");
}

#[tokio::test]
async fn get_model_breach_matches_its_list_entry_and_unknown_is_not_found() {
    let (sim, conn) = simulator().await;
    let pbid = *sim.known_pbids().last().unwrap();
    let listed = invoke(&conn, "list-model-breaches", json!({"pbid": pbid, "include_acknowledged": true})).await.unwrap();
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
        .call(conn.policy(), async |c, s| c.darktrace_connector_model_breaches().call_unacknowledge_model_breach(s, &wit, pbid).await)
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
    let before = invoke(&conn, "get-model-breach", json!({"pbid": pbid})).await.unwrap()["comment_count"].as_u64().unwrap();
    let message = "Triaged by SOAR — café ✓ \"quoted\" & 100% <ok>";
    let added = invoke(&conn, "add-model-breach-comment", json!({"pbid": pbid, "message": message})).await.unwrap();
    assert_eq!(added["message"], message);
    assert_eq!(added["pbid"], pbid);
    assert!(!added["username"].as_str().unwrap().is_empty());
    assert_eq!(sim.comments(pbid).last().map(String::as_str), Some(message));
    let after = invoke(&conn, "get-model-breach", json!({"pbid": pbid})).await.unwrap()["comment_count"].as_u64().unwrap();
    assert_eq!(after, before + 1);
    let listed = invoke(&conn, "list-model-breach-comments", json!({"pbid": pbid})).await.unwrap();
    let listed = listed.as_array().unwrap();
    assert_eq!(listed.last().unwrap()["message"], message);
    assert!(listed.windows(2).all(|w| w[0]["time"].as_i64() <= w[1]["time"].as_i64()));
}

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

#[tokio::test]
async fn bad_inputs_are_invalid_input_and_send_nothing() {
    let (sim, conn) = simulator().await;
    for (action, input, field) in [
        ("list-model-breaches", json!({"min_score": 1.5}), "min_score"),
        ("list-model-breaches", json!({"start": 1705311000000i64}), "end"),
        ("list-model-breaches", json!({"minscore": 0.5}), "minscore"),
        ("list-model-breaches", json!({"start": 1705311000, "end": 1705314600}), "seconds"),
        ("get-model-breach", json!({"pbid": "12"}), "pbid"),
        ("get-model-breach", json!({}), "pbid"),
        ("add-model-breach-comment", json!({"pbid": 1, "message": ""}), "message"),
        ("search-devices", json!({"query": "x", "count": 0}), "count"),
        ("no-such-action", json!({}), "list-model-breaches"),
    ] {
        let err = invoke(&conn, action, input.clone()).await.unwrap_err();
        assert_eq!(err.case(), "invalid-input", "{action} {input}");
        assert!(err.message().contains(field), "{action} {input}: {}", err.message());
    }
    let raw = HOST.invoke(&conn, "get-device", "{\"did\": ").await.unwrap().unwrap_err();
    assert_eq!(raw.case(), "invalid-input");
    assert!(sim.requests().is_empty(), "bad input must not reach the appliance");
}

#[tokio::test]
async fn malformed_connection_is_invalid_connection() {
    let (sim, conn) = simulator().await;
    for (address, public) in [("ftp://127.0.0.1", "p"), ("http://127.0.0.1/api", "p"), ("", "p"), ("127.0.0.1:1", "")] {
        let bad = ConnectionParams { api_address: address.into(), public_token: public.into(), ..conn.clone() };
        assert_eq!(case(invoke(&bad, "test-connection", json!({})).await), "invalid-connection", "{address}");
    }
    assert!(sim.requests().is_empty());
}

#[tokio::test]
async fn requests_outside_the_policy_are_denied_by_the_host() {
    let (sim, conn) = simulator().await;
    let elsewhere = Policy::only(Destination::parse("https://dt.example.com").unwrap());
    let (result, report) = HOST.invoke_with_policy(&conn, elsewhere, "test-connection", "{}").await.unwrap();
    let err = result.unwrap_err();
    assert_eq!(err.case(), "transport");
    assert!(err.message().contains("refused"), "{}", err.message());
    assert_eq!(report.denied, vec![format!("http://127.0.0.1:{}", sim.addr().port())]);
    assert!(sim.requests().is_empty(), "a denied request must not leave the host");
}

#[tokio::test]
async fn unreachable_appliance_is_a_transport_error() {
    // Bind then drop a listener to get a port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let conn = ConnectionParams { api_address: format!("http://127.0.0.1:{port}"), public_token: "p".into(), private_token: "s".into() };
    let err = invoke(&conn, "test-connection", json!({})).await.unwrap_err();
    assert_eq!(err.case(), "transport");
    assert!(err.message().contains("refused"), "{}", err.message());
}

#[tokio::test]
async fn requests_carry_the_dtapi_headers_and_never_the_private_token() {
    let (sim, conn) = simulator().await;
    invoke(&conn, "list-model-breaches", json!({})).await.unwrap();
    invoke(&conn, "add-model-breach-comment", json!({"pbid": sim.known_pbids()[1], "message": "x"})).await.unwrap();
    let requests = sim.requests();
    assert!(requests.len() >= 2);
    for r in &requests {
        let names: Vec<String> = r.headers.iter().map(|(k, _)| k.to_ascii_lowercase()).collect();
        for h in ["dtapi-token", "dtapi-date", "dtapi-signature"] {
            assert!(names.contains(&h.to_owned()), "{h} missing on {}", r.path_and_query);
        }
        assert!(r.headers.iter().all(|(_, v)| !v.contains(&conn.private_token)), "private token sent in a header");
        assert!(!String::from_utf8_lossy(&r.body).contains(&conn.private_token));
        assert!(!r.path_and_query.contains(&conn.private_token));
        assert_eq!(r.status, 200, "{}", r.path_and_query);
    }
}

#[tokio::test]
async fn describe_returns_the_manifest() {
    let text = HOST.describe().await.unwrap();
    assert_eq!(serde_json::from_str::<Value>(&text).unwrap(), *MANIFEST);
    assert_eq!(HOST.identity(), "darktrace 0.1.0");
}

#[test]
fn a_corrupt_cache_entry_is_rebuilt_not_trusted() {
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("cache-test-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let wasm = std::fs::read(host_test::CONNECTOR_WASM).unwrap();
    let config = HostConfig { cache_dir: Some(dir.clone()), ..HostConfig::default() };
    Host::from_bytes(&wasm, config.clone()).expect("first load compiles and writes the cache");
    let entry = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).find(|p| p.extension().is_some_and(|x| x == "cwasm")).expect("a cache entry");
    let good = std::fs::read(&entry).unwrap();
    std::fs::write(&entry, b"not a precompiled component").unwrap();
    let host = Host::from_bytes(&wasm, config).expect("a corrupt entry is rebuilt");
    assert_eq!(host.identity(), "darktrace 0.1.0");
    assert_eq!(std::fs::read(&entry).unwrap().len(), good.len(), "the entry was rewritten");
    std::fs::remove_dir_all(&dir).ok();
}

/// The README lists every import of the built component, and nothing else may appear.
#[test]
fn the_component_imports_exactly_what_the_readme_lists() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md")).unwrap();
    let section = readme.split("<!-- imports:start -->").nth(1).and_then(|s| s.split("<!-- imports:end -->").next()).expect("imports section in README");
    let mut listed: Vec<String> = section
        .lines()
        .filter_map(|l| l.trim().strip_prefix("| `").and_then(|l| l.split('`').next()).map(str::to_owned))
        .collect();
    let mut actual = HOST.imports().to_vec();
    listed.sort();
    actual.sort();
    assert_eq!(actual, listed, "update the README's import table (and say why a new import is needed)");
}
