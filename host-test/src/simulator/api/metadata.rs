//! Enrichment and metadata endpoints: `/endpointdetails`, `/models`, `/components/{cid}`,
//! `/enums`, Advanced Search (both forms) and `/subnets`.

use std::net::IpAddr;

use serde_json::{Map, Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::params::{Params, parse_id};
use super::search::{glob, tokens, unquote};
use super::{Answer, Reply};
use crate::simulator::data::Dataset;
use crate::simulator::data::metadata::{Endpoint, iso};

/// Largest Advanced Search page.
const MAX_SEARCH_SIZE: u64 = 10_000;
/// Advanced Search page size when the query gives none.
const DEFAULT_SEARCH_SIZE: u64 = 50;
/// Window searched when the query gives no `time` and no `timeframe` (Kibana's 15 minutes).
const DEFAULT_TIMEFRAME_SECS: i64 = 900;
/// Longest `seensince` for `/subnets`: six months.
const MAX_SUBNET_SEEN_SINCE_SECS: i64 = 183 * 86_400;

/// `GET /endpointdetails?hostname=|ip=`: what the network knows about an endpoint.
pub(super) fn endpoint_details(data: &Dataset, params: &Params) -> Answer {
    let additional = params.flag("additionalinfo", false)?;
    let with_devices = params.flag("devices", false)?;
    let with_score = params.flag("score", false)?;
    let devices_json = |e: &Endpoint| -> Value {
        Value::Array(e.devices.iter().filter_map(|&i| data.devices.get(i)).map(|d| d.to_json(false)).collect())
    };
    match (params.text("hostname"), params.text("ip")) {
        (Some(_), Some(_)) => Err(Reply::input_error("give hostname or ip, not both")),
        (None, None) => Err(Reply::input_error("hostname or ip is required")),
        (Some(hostname), None) => {
            let found = data.metadata.endpoints.iter().find(|e| e.hostname.eq_ignore_ascii_case(hostname));
            let mut out = json!({ "hostname": hostname });
            if let Some(e) = found {
                out["firsttime"] = json!(e.first_seen);
            }
            if with_devices {
                out["devices"] = found.map_or_else(|| json!([]), devices_json);
            }
            if additional {
                out["ips"] = json!(
                    found
                        .map(|e| e.ips.iter().map(|(ip, _)| json!({ "ip": ip })).collect::<Vec<_>>())
                        .unwrap_or_default()
                );
                out["locations"] = json!(found.map(Endpoint::locations).unwrap_or_default());
            }
            if with_score {
                // Never seen: as rare as can be.
                out["popularity"] = json!(found.map_or(0, |e| 100 - e.rarity));
                out["dgascore"] = json!(found.map_or(0, |e| e.dga_score));
            }
            Ok(out)
        }
        (None, Some(ip)) => {
            let addr: IpAddr =
                ip.parse().map_err(|_| Reply::input_error(format!("ip must be an IP address, not {ip:?}")))?;
            if is_internal(addr) {
                return Ok(internal_ip(data, ip, with_devices));
            }
            let found = data.metadata.endpoints.iter().find(|e| e.ips.iter().any(|(a, _)| a == ip));
            let mut out = json!({ "ip": ip });
            if let Some(e) = found {
                out["firsttime"] = json!(e.first_seen);
                out["hostname"] = json!(e.hostname);
                if let Some(location) = e.locations().into_iter().find(|l| l["ip"] == ip) {
                    for key in ["country", "countrycode", "city", "latitude", "longitude"] {
                        out[key] = location[key].clone();
                    }
                }
            }
            if with_devices {
                out["devices"] = found.map_or_else(|| json!([]), devices_json);
            }
            if with_score {
                out["popularity"] = json!(found.map_or(0, |e| 100 - e.rarity));
            }
            Ok(out)
        }
    }
}

/// The appliance's different answer for an address inside the network.
fn internal_ip(data: &Dataset, ip: &str, with_devices: bool) -> Value {
    let mut out = json!({ "ip": ip, "name": "internal_ip" });
    if let Some(d) = data.devices.iter().find(|d| d.ip.as_deref() == Some(ip)) {
        out["did"] = json!(d.did);
        out["sid"] = json!(d.sid);
        if let Some(hostname) = &d.hostname {
            out["hostname"] = json!(hostname);
        }
        if with_devices {
            out["devices"] = json!([d.to_json(false)]);
        }
    } else if with_devices {
        out["devices"] = json!([]);
    }
    out
}

fn is_internal(addr: IpAddr) -> bool {
    match addr {
        IpAddr::V4(v4) => v4.is_private() || v4.is_loopback() || v4.is_link_local(),
        IpAddr::V6(v6) => v6.is_loopback() || v6.is_unique_local() || v6.is_unicast_link_local(),
    }
}

/// `GET /models`, or `?uuid=` for one model (a single object, `[]` when unknown).
pub(super) fn models(data: &Dataset, params: &Params) -> Answer {
    if let Some(uuid) = params.text("uuid") {
        return Ok(data
            .models
            .iter()
            .find(|m| m.uuid.eq_ignore_ascii_case(uuid))
            .map_or_else(|| json!([]), |m| m.now().clone()));
    }
    Ok(Value::Array(data.models.iter().map(|m| m.now().clone()).collect()))
}

/// `GET /models/{pid}`: one model object.
pub(super) fn model(data: &Dataset, pid: &str) -> Answer {
    let pid = parse_id("pid", pid)?;
    data.models
        .iter()
        .find(|m| m.pid == pid)
        .map(|m| m.now().clone())
        .ok_or_else(|| Reply::not_found("Model not found"))
}

/// `GET /components/{cid}`: one component definition.
pub(super) fn component(data: &Dataset, cid: &str) -> Answer {
    let cid = parse_id("cid", cid)?;
    data.models
        .iter()
        .flat_map(|m| m.components.iter())
        .find(|c| c.cid == cid)
        .map(|c| c.definition())
        .ok_or_else(|| Reply::not_found("Component not found"))
}

/// `GET /enums`, optionally restricted to one section with `responsedata` (`{}` when the
/// section does not exist, as `responsedata` does for unknown fields).
pub(super) fn enums(data: &Dataset, params: &Params) -> Answer {
    let all = crate::simulator::data::metadata::enums(&data.devices);
    match params.text("responsedata") {
        None => Ok(all),
        Some(section) => {
            let mut out = Map::new();
            if let Some(value) = all.get(section) {
                out.insert(section.to_owned(), value.clone());
            }
            Ok(Value::Object(out))
        }
    }
}

/// `GET /subnets`: subnets by sid, optionally one (`sid`) or those with traffic within `seensince`.
pub(super) fn subnets(data: &Dataset, params: &Params, now_ms: i64) -> Answer {
    let sid = params.signed("sid")?;
    let cutoff = match params.text("seensince") {
        None => None,
        Some(_) => {
            let secs = params.seen_since(0)?;
            if !(1..=MAX_SUBNET_SEEN_SINCE_SECS).contains(&secs) {
                return Err(Reply::input_error("seensince must be between 1 second and 6 months"));
            }
            Some(now_ms - secs * 1000)
        }
    };
    let found: Vec<Value> = data
        .metadata
        .subnets
        .iter()
        .filter(|s| sid.is_none_or(|sid| s.sid == sid) && cutoff.is_none_or(|c| s.last_traffic >= c))
        .map(|s| {
            let mut v = s.to_json();
            if data.realistic {
                // Fractional milliseconds as a string, as in fixture DarktraceAdmin/tagged_devices.json
                // ("Last Updated": "1674507235803.297"); see `Dataset::realistic`.
                v["lastSeen"] = json!(format!("{}.297", s.last_traffic));
            }
            v
        })
        .collect();
    if let Some(sid) = sid
        && !data.metadata.subnets.iter().any(|s| s.sid == sid)
    {
        return Err(Reply::not_found(&format!("Subnet {sid} not found")));
    }
    Ok(Value::Array(found))
}

/// `POST /advancedsearch/api/search` with the JSON body `{"hash": "<base64 query>"}` (6.1+).
pub(super) fn search_post(data: &mut Dataset, body: &[u8], now_ms: i64) -> Answer {
    let hash = serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| v.get("hash").and_then(Value::as_str).map(str::to_owned))
        .ok_or_else(|| Reply::input_error("the body must be JSON {\"hash\": \"<base64 query>\"}"))?;
    search(data, &hash, now_ms)
}

/// `GET /advancedsearch/api/search/<base64 query>`: the legacy form, the query in the path.
pub(super) fn search_get(data: &mut Dataset, hash: &str, now_ms: i64) -> Answer {
    // A client may percent-encode the `/`, `+` and `=` of base64 in the path; both are read.
    search(data, &percent_decode(hash), now_ms)
}

fn search(data: &mut Dataset, hash: &str, now_ms: i64) -> Answer {
    let bytes = base64_decode(hash).ok_or_else(|| Reply::input_error("the query hash is not valid base64"))?;
    let document: Value =
        serde_json::from_slice(&bytes).map_err(|_| Reply::input_error("the decoded query is not JSON"))?;
    let doc = document.as_object().ok_or_else(|| Reply::input_error("the query must be a JSON object"))?;
    if !doc.get("fields").is_some_and(Value::is_array) {
        return Err(Reply::input_error("the query needs a \"fields\" array (empty for every field)"));
    }
    let size = number(doc, "size")?.unwrap_or(DEFAULT_SEARCH_SIZE);
    if !(1..=MAX_SEARCH_SIZE).contains(&size) {
        return Err(Reply::input_error(format!("size must be between 1 and {MAX_SEARCH_SIZE}")));
    }
    let offset = number(doc, "offset")?.unwrap_or(0);
    let (from, to) = window(doc, now_ms)?;
    let query = Query::parse(doc.get("search").and_then(Value::as_str).unwrap_or("*"));
    let matching: Vec<&Value> = data
        .metadata
        .records
        .iter()
        .filter(|r| {
            let at = r["@fields"]["epochdate"].as_f64().map_or(0, |s| (s * 1000.0) as i64);
            (from..=to).contains(&at) && query.matches(r)
        })
        .collect();
    let total = matching.len();
    let hits: Vec<Value> = matching
        .into_iter()
        .skip(usize::try_from(offset).unwrap_or(usize::MAX))
        .take(usize::try_from(size).unwrap_or(usize::MAX))
        .map(|r| {
            let mut source = r.clone();
            let id = source.as_object_mut().and_then(|o| o.shift_remove("_id")).unwrap_or(Value::Null);
            let day = source["@timestamp"].as_str().map(|t| t.get(..10).unwrap_or("").replace('-', ".")).unwrap_or_default();
            json!({ "_index": format!("logstash-darktrace-{day}"), "_type": "doc", "_id": id, "_score": null,
                "_source": source, "sort": [source["@fields"]["epochdate"].as_f64().map_or(0, |s| (s * 1000.0) as i64)] })
        })
        .collect();
    data.metadata.searches.push(document.clone());
    Ok(json!({
        "took": 2 + total / 40, "timed_out": false,
        "_shards": { "total": 2, "successful": 2, "skipped": 0, "failed": 0 },
        "hits": { "total": total, "max_score": null, "hits": hits },
        "darktraceChildError": "",
        "kibana": { "index": ["logstash-darktrace-*"], "per_page": size, "time": { "from": iso(from), "to": iso(to) } },
    }))
}

fn number(doc: &Map<String, Value>, key: &str) -> Result<Option<u64>, Reply> {
    match doc.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v
            .as_u64()
            .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
            .map(Some)
            .ok_or_else(|| Reply::input_error(format!("{key} must be a non-negative integer"))),
    }
}

/// The window in ms: `time{from,to}` (ISO) or `time{starttime,endtime}` (ms) with
/// `timeframe: "custom"`, or else `timeframe` in seconds back from now.
fn window(doc: &Map<String, Value>, now_ms: i64) -> Result<(i64, i64), Reply> {
    let timeframe = doc.get("timeframe");
    if let Some(time) = doc.get("time").and_then(Value::as_object) {
        if timeframe.and_then(Value::as_str) != Some("custom") {
            return Err(Reply::input_error("timeframe must be \"custom\" when time gives the window"));
        }
        let at = |iso_key: &str, ms_key: &str| -> Result<i64, Reply> {
            if let Some(ms) = time.get(ms_key).and_then(Value::as_i64) {
                return Ok(ms);
            }
            time.get(iso_key)
                .and_then(Value::as_str)
                .and_then(|s| OffsetDateTime::parse(s, &Rfc3339).ok())
                .map(|t| (t.unix_timestamp_nanos() / 1_000_000) as i64)
                .ok_or_else(|| {
                    Reply::input_error(format!(
                        "time.{iso_key} must be an ISO 8601 date-time (or give time.{ms_key} in ms)"
                    ))
                })
        };
        let (from, to) = (at("from", "starttime")?, at("to", "endtime")?);
        if to < from {
            return Err(Reply::input_error("the end of the time window is before its start"));
        }
        return Ok((from, to));
    }
    let secs = match timeframe {
        None => DEFAULT_TIMEFRAME_SECS,
        Some(v) => v
            .as_i64()
            .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
            .filter(|s| *s > 0)
            .ok_or_else(|| Reply::input_error("timeframe must be seconds, or \"custom\" with time{from,to}"))?,
    };
    Ok((now_ms - secs.saturating_mul(1000), now_ms))
}

/// A Kibana-style query: `field:value` terms (`@type`, `@fields.<name>`, `*` in values),
/// free words matched anywhere, `*` for everything; `AND` between terms is implied.
struct Query {
    terms: Vec<Term>,
}

enum Term {
    Field(Vec<String>, String),
    Word(String),
}

impl Query {
    fn parse(text: &str) -> Query {
        let terms = tokens(text)
            .into_iter()
            .filter(|t| !t.eq_ignore_ascii_case("and") && t != "*")
            .map(|t| match t.split_once(':') {
                Some((field, value)) if field.starts_with('@') => {
                    Term::Field(field.split('.').map(str::to_owned).collect(), unquote(value).to_lowercase())
                }
                _ => Term::Word(unquote(&t).to_lowercase()),
            })
            .collect();
        Query { terms }
    }

    fn matches(&self, record: &Value) -> bool {
        self.terms.iter().all(|term| match term {
            Term::Field(path, pattern) => {
                let value = path.iter().try_fold(record, |v, key| v.get(key));
                value.is_some_and(|v| texts(v).iter().any(|t| glob(pattern, &t.to_lowercase())))
            }
            Term::Word(word) => texts(&record["@fields"])
                .iter()
                .chain(texts(&record["@message"]).iter())
                .any(|t| t.to_lowercase().contains(word.as_str())),
        })
    }
}

/// Every scalar in `v`, as text.
fn texts(v: &Value) -> Vec<String> {
    match v {
        Value::String(s) => vec![s.clone()],
        Value::Number(n) => vec![n.to_string()],
        Value::Bool(b) => vec![b.to_string()],
        Value::Array(items) => items.iter().flat_map(texts).collect(),
        Value::Object(map) => map.values().flat_map(texts).collect(),
        Value::Null => Vec::new(),
    }
}

/// Standard base64, padding optional; `None` for anything else.
/// Decodes the query hash in either alphabet, padded or not: the appliance accepts URL-safe
/// base64 without padding in a GET path (`api-inventory.md`, "What a real 7.1.0 appliance did")
/// and standard base64 in the POST body (reference, Advanced Search). Which form was signed is
/// decided by the signature check, over the path as transmitted, before this runs.
fn base64_decode(text: &str) -> Option<Vec<u8>> {
    use base64::Engine as _;
    let text = text.trim().trim_end_matches('=');
    let engine = if text.contains(['-', '_']) {
        base64::engine::general_purpose::URL_SAFE_NO_PAD
    } else {
        base64::engine::general_purpose::STANDARD_NO_PAD
    };
    engine.decode(text).ok()
}

/// Decodes `%XX` escapes; anything malformed is kept as it is.
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = (bytes[i] == b'%')
            .then(|| text.get(i + 1..i + 3))
            .flatten()
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match escaped {
            Some(b) => {
                out.push(b);
                i += 3;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_round_trips_with_and_without_padding() {
        let text = br#"{"search":"a:\"???>>>\""}"#;
        let encoded = darktrace_connector::actions::metadata::base64(text);
        assert_eq!(base64_decode(&encoded).as_deref(), Some(&text[..]));
        assert_eq!(base64_decode(encoded.trim_end_matches('=')).as_deref(), Some(&text[..]));
        assert_eq!(base64_decode("not base64!"), None);
        assert_eq!(percent_decode("ab%2Fcd%2b%3D%zz"), "ab/cd+=%zz");
    }

    #[test]
    fn query_terms_match_fields_types_and_free_words() {
        let record = json!({"@type": "ssl", "@fields": {"dest_port": 443, "server_name": "cdn-sync.example.net"}, "@message": "x"});
        assert!(Query::parse("*").matches(&record));
        assert!(Query::parse("@type:\"ssl\" AND @fields.dest_port:\"443\"").matches(&record));
        assert!(Query::parse("@fields.server_name:*.example.net").matches(&record));
        assert!(Query::parse("cdn-sync").matches(&record));
        assert!(!Query::parse("@type:dns").matches(&record));
        assert!(!Query::parse("@fields.nothing:x").matches(&record));
    }

    #[test]
    fn glob_star_matches_any_run() {
        assert!(glob("a*c", "abbbc") && glob("*", "") && glob("a*", "a") && !glob("a*c", "abd"));
    }
}
