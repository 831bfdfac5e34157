//! Device endpoints: `/devices` (read and update), `/devicesearch`, `/similardevices`,
//! `/deviceinfo`, `/details?did=` and `/devicesummary`.

use serde_json::{Value, json};

use super::params::Params;
use super::search::{OrderBy, Query};
use super::{Answer, Reply};
use crate::simulator::data::activity::{Event, HistoryEntry, Kind, Peer};
use crate::simulator::data::devices::{DEVICE_TYPES, Device};
use crate::simulator::data::{Dataset, readable_time};

const NOT_FOUND: &str = "Device not found";
/// Default `/devices` window: seven days, in seconds.
const DEVICES_WINDOW_SECS: i64 = 7 * 86_400;
/// Default `/devicesearch` window: 28 days, in seconds.
const SEARCH_WINDOW_SECS: i64 = 28 * 86_400;
/// Largest `/devicesearch` page the appliance serves.
const MAX_SEARCH_COUNT: u64 = 300;

/// `GET /devices`: one device for `did`, `ip` or `mac`; otherwise the devices seen within
/// `seensince`, by id, at most `count`.
pub(super) fn devices(data: &mut Dataset, params: &Params, now_ms: i64) -> Answer {
    data.sync_tags(now_ms);
    let data = &*data;
    let include_tags = params.flag("includetags", false)?;
    let single =
        |found: Option<&Device>| found.map(|d| d.to_json(include_tags)).ok_or_else(|| Reply::not_found(NOT_FOUND));
    if let Some(did) = params.unsigned("did")? {
        return single(data.device(did));
    }
    if let Some(ip) = params.text("ip") {
        return single(data.devices.iter().find(|d| d.ip.as_deref() == Some(ip)));
    }
    if let Some(mac) = params.text("mac") {
        return single(data.devices.iter().find(|d| d.mac.as_deref().is_some_and(|m| m.eq_ignore_ascii_case(mac))));
    }
    let cutoff = now_ms.saturating_sub(params.seen_since(DEVICES_WINDOW_SECS)?.saturating_mul(1000));
    let sid = params.signed("sid")?;
    let count = params.unsigned("count")?.map_or(usize::MAX, |c| usize::try_from(c).unwrap_or(usize::MAX));
    let mut seen: Vec<&Device> =
        data.devices.iter().filter(|d| d.last_seen >= cutoff && sid.is_none_or(|sid| d.sid == sid)).collect();
    seen.sort_by_key(|d| d.did);
    Ok(Value::Array(seen.into_iter().take(count).map(|d| d.to_json(include_tags)).collect()))
}

/// `GET /devicesearch`: one page of the devices matching `query`.
pub(super) fn search(data: &mut Dataset, params: &Params, now_ms: i64) -> Answer {
    data.sync_tags(now_ms);
    let data = &*data;
    let count = params.unsigned("count")?.unwrap_or(100);
    if count > MAX_SEARCH_COUNT {
        return Err(Reply::input_error(format!("count must be at most {MAX_SEARCH_COUNT}")));
    }
    let offset = params.unsigned("offset")?.unwrap_or(0);
    let order_by = params.text("orderBy").unwrap_or("lastSeen");
    let order_by =
        OrderBy::parse(order_by).ok_or_else(|| Reply::input_error(format!("orderBy {order_by:?} is not supported")))?;
    let descending = match params.text("order") {
        None | Some("asc") => false,
        Some("desc") => true,
        Some(other) => {
            return Err(Reply::input_error(format!("order must be asc or desc, not {other:?}")));
        }
    };
    let cutoff = now_ms.saturating_sub(params.seen_since(SEARCH_WINDOW_SECS)?.saturating_mul(1000));
    let query = Query::parse(params.text("query").unwrap_or(""));

    let mut hits: Vec<&Device> = data.devices.iter().filter(|d| d.last_seen >= cutoff && query.matches(d)).collect();
    hits.sort_by(|a, b| order_by.compare(a, b, descending));
    let total = hits.len();
    let skip = usize::try_from(offset).unwrap_or(usize::MAX);
    let page: Vec<Value> = hits.into_iter().skip(skip).take(count as usize).map(|d| d.to_json(true)).collect();
    // `count` reports the size of this page, so a client can tell a short last page.
    let returned = page.len();
    Ok(json!({ "totalCount": total, "devices": page, "offset": offset, "count": returned }))
}

/// Largest `/similardevices` and `/deviceinfo` similar-device count served.
const MAX_SIMILAR: u64 = 100;
/// One hour, the `/deviceinfo` graph interval, in ms.
const GRAPH_INTERVAL_MS: i64 = 3_600_000;
/// The `/deviceinfo` span: four weeks, in ms.
const GRAPH_SPAN_MS: i64 = 28 * 24 * GRAPH_INTERVAL_MS;
/// Ports above this are reported as one range, as the appliance groups ephemeral ports.
const EPHEMERAL_FROM: u16 = 5001;
/// Ports and peers listed by name before the rest become `others`.
const TOP: usize = 8;

/// The device a `did` parameter names: 400 when it is missing or malformed, 404 when unknown.
fn required_device<'a>(data: &'a Dataset, params: &Params) -> Result<&'a Device, Reply> {
    let did = params.unsigned("did")?.ok_or_else(|| Reply::input_error("did is required"))?;
    data.device(did).ok_or_else(|| Reply::not_found(NOT_FOUND))
}

/// `POST /devices` (JSON or form): sets `label`, `priority` (-5..5) and `type` of device `did`.
pub(super) fn update(data: &mut Dataset, body: &[u8], now_ms: i64) -> Answer {
    let fields = super::tags::body_fields(body)?;
    let get = |key: &str| fields.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str());
    let did = get("did").ok_or_else(|| Reply::input_error("did is required"))?;
    let did = super::params::parse_id("did", did)?;
    let priority = get("priority")
        .map(|p| {
            p.parse::<i64>()
                .ok()
                .filter(|p| (-5..=5).contains(p))
                .ok_or_else(|| Reply::input_error(format!("priority must be an integer from -5 to 5, not {p:?}")))
        })
        .transpose()?;
    let kind = get("type")
        .map(|t| {
            t.parse::<u32>()
                .ok()
                .and_then(|id| DEVICE_TYPES.iter().find(|(tid, _, _)| *tid == id))
                .ok_or_else(|| Reply::input_error(format!("type {t:?} is not a device type id")))
        })
        .transpose()?;
    let label = get("label").map(str::to_owned);
    if priority.is_none() && kind.is_none() && label.is_none() {
        return Err(Reply::input_error("give at least one of label, priority and type"));
    }
    let device = data.devices.iter_mut().find(|d| d.did == did).ok_or_else(|| Reply::not_found(NOT_FOUND))?;
    let mut changes = Vec::new();
    if let Some(label) = label {
        device.label = (!label.is_empty()).then(|| label.clone());
        changes.push(("label", label));
    }
    if let Some(priority) = priority {
        device.priority = priority;
        changes.push(("priority", priority.to_string()));
    }
    if let Some((_, typename, typelabel)) = kind {
        device.typename = typename;
        device.typelabel = typelabel;
        changes.push(("type", (*typelabel).to_owned()));
    }
    for (name, value) in changes {
        data.record_history(did, now_ms, HistoryEntry::new(name, &value, "API"));
    }
    Ok(json!({ "response": "SUCCESS" }))
}

/// `GET /similardevices?did=&count=`: devices like this one, most similar first, each with a
/// `score` out of 100.
pub(super) fn similar(data: &mut Dataset, params: &Params, now_ms: i64) -> Answer {
    data.sync_tags(now_ms);
    let device = required_device(data, params)?;
    let count = params.unsigned("count")?.unwrap_or(10);
    if count > MAX_SIMILAR {
        return Err(Reply::input_error(format!("count must be at most {MAX_SIMILAR}")));
    }
    let full = params.flag("fulldevicedetails", false)?;
    Ok(Value::Array(
        data.similar_devices(device.did)
            .into_iter()
            .take(count as usize)
            .map(|(score, d)| {
                let mut v = d.to_json(full);
                v["score"] = json!(score);
                v
            })
            .collect(),
    ))
}

/// Which `/deviceinfo` measure to graph.
#[derive(Clone, Copy)]
enum Measure {
    Connections,
    SizeOut,
    SizeIn,
}

/// `GET /deviceinfo`: the device's connection graph over four weeks, plus those of
/// `similardevices` similar devices.
pub(super) fn device_info(data: &Dataset, params: &Params, now_ms: i64) -> Answer {
    let device = required_device(data, params)?;
    let measure = match params.text("datatype").unwrap_or("co") {
        "co" | "connections" => Measure::Connections,
        "sizeout" => Measure::SizeOut,
        "sizein" => Measure::SizeIn,
        other => return Err(Reply::input_error(format!("datatype must be co, sizeout or sizein, not {other:?}"))),
    };
    let all = params.flag("showallgraphdata", true)?;
    params.flag("fulldevicedetails", false)?;
    let domain = params.text("externaldomain").map(str::to_ascii_lowercase);
    let similar = params.unsigned("similardevices")?.unwrap_or(0);
    if similar > MAX_SIMILAR {
        return Err(Reply::input_error(format!("similardevices must be at most {MAX_SIMILAR}")));
    }
    let mut entries = vec![graph(data, device.did, 100, measure, all, domain.as_deref(), now_ms)];
    for (score, d) in data.similar_devices(device.did).into_iter().take(similar as usize) {
        entries.push(graph(data, d.did, score, measure, all, domain.as_deref(), now_ms));
    }
    Ok(json!({ "deviceInfo": entries }))
}

/// One device's `/deviceinfo` entry.
fn graph(
    data: &Dataset,
    did: u64,
    similarity: u32,
    measure: Measure,
    all: bool,
    domain: Option<&str>,
    now_ms: i64,
) -> Value {
    let since = now_ms - GRAPH_SPAN_MS;
    let events: Vec<&Event> = data
        .activity
        .events
        .iter()
        .filter(|e| e.did == did && e.time >= since && matches!(e.kind, Kind::Connection { .. }))
        .filter(|e| domain.is_none_or(|dom| matches!(&e.peer, Some(Peer::External(_, host)) if host == dom || host.ends_with(&format!(".{dom}")))))
        .collect();
    let size = |e: &Event| match measure {
        Measure::Connections => 1,
        Measure::SizeOut => e.bytes_out,
        Measure::SizeIn => e.bytes_in,
    };
    let mut buckets: std::collections::BTreeMap<i64, u64> = std::collections::BTreeMap::new();
    if all {
        let mut t = since - since.rem_euclid(GRAPH_INTERVAL_MS);
        while t <= now_ms {
            buckets.insert(t, 0);
            t += GRAPH_INTERVAL_MS;
        }
    }
    for e in &events {
        *buckets.entry(e.time - e.time.rem_euclid(GRAPH_INTERVAL_MS)).or_default() += size(e);
    }
    let graph: Vec<Value> = buckets.into_iter().map(|(time, count)| json!({ "time": time, "count": count })).collect();
    // Ports and peers, largest first; ephemeral ports become one range and the tail `others`.
    let mut ports: Vec<(Value, u64, i64)> = Vec::new();
    let mut peers: Vec<(Value, u64, i64)> = Vec::new();
    let mut pairs: Vec<(Value, Value, u64)> = Vec::new();
    for e in &events {
        let port = if e.port >= EPHEMERAL_FROM { json!("5001 - 10000") } else { json!(e.port) };
        let peer = match &e.peer {
            Some(Peer::Device(d)) => json!(d),
            Some(Peer::External(group, _)) => json!(group),
            None => json!(0),
        };
        add(&mut ports, port.clone(), size(e), e.time);
        add(&mut peers, peer.clone(), size(e), e.time);
        match pairs.iter_mut().find(|(p, d, _)| *p == port && *d == peer) {
            Some(pair) => pair.2 += size(e),
            None => pairs.push((port, peer, size(e))),
        }
    }
    let total: u64 = events.iter().map(|e| size(e)).sum();
    let ports = top(ports, "port");
    let peers = top(peers, "did");
    pairs.sort_by_key(|p| std::cmp::Reverse(p.2));
    let mut devices_and_ports: Vec<Value> = pairs
        .iter()
        .take(TOP)
        .map(|(port, device, size)| json!({ "deviceAndPort": { "direction": "out", "device": device, "port": port }, "size": size }))
        .collect();
    let rest: u64 = pairs.iter().skip(TOP).map(|p| p.2).sum();
    if rest > 0 {
        devices_and_ports.push(json!({ "deviceAndPort": "others", "size": rest }));
    }
    json!({ "did": did, "similarityScore": similarity, "graphData": graph,
        "info": { "totalUsed": total, "totalServed": 0, "totalDevicesAndPorts": total, "devicesAndPorts": devices_and_ports,
            "portsUsed": ports, "portsServed": [], "devicesUsed": peers, "devicesServed": [] } })
}

fn add(list: &mut Vec<(Value, u64, i64)>, key: Value, size: u64, time: i64) {
    match list.iter_mut().find(|(k, _, _)| *k == key) {
        Some(item) => {
            item.1 += size;
            item.2 = item.2.min(time);
        }
        None => list.push((key, size, time)),
    }
}

/// The largest `TOP` entries with their first time, then the rest as `others` without one.
fn top(mut list: Vec<(Value, u64, i64)>, key: &str) -> Vec<Value> {
    list.sort_by_key(|e| std::cmp::Reverse(e.1));
    let mut out: Vec<Value> =
        list.iter().take(TOP).map(|(k, size, first)| json!({ key: k, "size": size, "firstTime": first })).collect();
    let rest: u64 = list.iter().skip(TOP).map(|e| e.1).sum();
    if rest > 0 {
        out.push(json!({ key: "others", "size": rest }));
    }
    out
}

/// `GET /details?did=`: the device's events of one `eventtype`, newest first; `count` caps
/// them and must not be combined with a time window.
pub(super) fn details(data: &mut Dataset, params: &Params, now_ms: i64) -> Answer {
    data.sync_tags(now_ms);
    let device = required_device(data, params)?;
    let did = device.did;
    let window = params.window()?;
    let count = params.unsigned("count")?;
    if count.is_some() && window.is_some() {
        return Err(Reply::input_error("count cannot be combined with a time window"));
    }
    params.flag("fulldevicedetails", false)?;
    let event_type = params.text("eventtype").unwrap_or("connection");
    let in_window = |t: i64| window.is_none_or(|(start, end)| (start..=end).contains(&t));
    let mut found: Vec<(i64, Value)> = match event_type {
        "modelbreach" => data
            .breaches
            .iter()
            .filter(|b| data.devices[b.device].did == did && in_window(b.time))
            .map(|b| {
                let model = &data.models[b.model];
                (b.time, json!({ "time": readable_time(b.time), "timems": b.time, "eventType": "policybreach", "pbid": b.pbid,
                    "pid": model.pid, "name": model.name, "score": b.score, "acknowledged": b.acknowledged,
                    "creationTime": b.creation_time, "creationTimestamp": readable_time(b.creation_time) }))
            })
            .collect(),
        "connection" | "unusualconnection" | "newconnection" | "notice" | "devicehistory" => data
            .activity
            .events
            .iter()
            .filter(|e| e.did == did && in_window(e.time))
            .filter(|e| match (event_type, e.kind) {
                ("connection", Kind::Connection { .. }) => true,
                ("unusualconnection", Kind::Connection { unusual, .. }) => unusual,
                ("newconnection", Kind::Connection { new, .. }) => new,
                ("notice", Kind::Notice) | ("devicehistory", Kind::History) => true,
                _ => false,
            })
            .map(|e| (e.time, e.json.clone()))
            .collect(),
        other => return Err(Reply::input_error(format!("eventtype {other:?} is not supported"))),
    };
    found.sort_by_key(|f| std::cmp::Reverse(f.0));
    let limit = count.map_or(usize::MAX, |c| usize::try_from(c).unwrap_or(usize::MAX));
    Ok(Value::Array(found.into_iter().take(limit).map(|(_, v)| v).collect()))
}

/// `GET /devicesummary?did=`: the device with its similar devices, breaches, graph and recent
/// connections, under `data`. Sections with nothing in them are empty.
pub(super) fn summary(data: &mut Dataset, params: &Params, now_ms: i64) -> Answer {
    data.sync_tags(now_ms);
    let device = required_device(data, params)?;
    let did = device.did;
    let similar: Vec<Value> = data
        .similar_devices(did)
        .into_iter()
        .take(3)
        .map(|(score, d)| {
            let mut v = d.to_json(false);
            v["score"] = json!(score);
            v
        })
        .collect();
    let shape = crate::simulator::data::Shape { minimal: true, device_at_top: true, historic_model_only: true };
    let breaches: Vec<Value> = data
        .breaches
        .iter()
        .filter(|b| data.devices[b.device].did == did)
        .rev()
        .take(5)
        .map(|b| data.render(b, shape))
        .collect();
    let details: Vec<Value> = data
        .activity
        .events
        .iter()
        .rev()
        .filter(|e| e.did == did && matches!(e.kind, Kind::Connection { .. }))
        .take(10)
        .map(|e| e.json.clone())
        .collect();
    let info = if details.is_empty() {
        json!([])
    } else {
        json!([graph(data, did, 100, Measure::Connections, false, None, now_ms)])
    };
    // The device is the object at `data.devices` (reference section 2.4, `/devicesummary`: the
    // guide's response schema, "one device object, not a list").
    Ok(json!({ "data": { "devices": device.to_json(true), "similardevices": similar, "modelbreaches": breaches,
        "deviceinfo": info, "details": details } }))
}
