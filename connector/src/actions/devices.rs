//! Device actions: read one device, search and list devices, a device's summary, similar
//! devices, connection graph and events, and updates to its label, priority and type.

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Value, json};

use super::breaches::ChangeResult;
use super::{DidInput, Input, ReadBack, Written, confirm_success, send_write};
use crate::client::Client;
use crate::error::{Error, Result};
use crate::request::ApiRequest;
use crate::shape::{Doc, Obj, RawText, Warning, Warnings, as_i64, read_list, read_many, sort_stable, wrong};
use crate::times::{Instant, iso_from_ms, window};

family_actions! {
    "get-device" => get_device,
    "search-devices" => search_devices,
    "list-devices" => list_devices,
    "get-device-summary" => get_device_summary,
    "list-similar-devices" => list_similar_devices,
    "get-device-connection-info" => get_device_connection_info,
    "list-device-events" => list_device_events,
    "update-device" => update_device,
}

/// Most devices `/devicesearch` returns per page.
const MAX_SEARCH_COUNT: u32 = 300;

/// A device (see the WIT `device`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Device {
    /// Device id.
    pub did: u64,
    /// IP address.
    pub ip: Option<String>,
    /// MAC address.
    pub mac: Option<String>,
    /// Hostname.
    pub hostname: Option<String>,
    /// NIC vendor.
    pub vendor: Option<String>,
    /// Operating system.
    pub os: Option<String>,
    /// Operator label.
    pub label: Option<String>,
    /// Type name.
    pub type_name: Option<String>,
    /// Readable type.
    pub type_label: Option<String>,
    /// Priority -5..5.
    pub priority: i32,
    /// First seen, epoch ms.
    pub first_seen: Option<i64>,
    /// `first_seen` in ISO 8601 UTC.
    pub first_seen_iso: Option<String>,
    /// Last seen, epoch ms.
    pub last_seen: Option<i64>,
    /// `last_seen` in ISO 8601 UTC.
    pub last_seen_iso: Option<String>,
    /// Tag names.
    pub tags: Vec<String>,
    /// The appliance's object.
    pub raw: RawText,
    /// The fields that could not be read.
    pub warnings: Vec<Warning>,
}

/// Input of `search-devices` (see the WIT `device-query`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeviceQuery {
    /// Search text or field filters.
    pub query: String,
    /// Page size, 1..300.
    pub count: Option<u32>,
    /// Devices to skip.
    pub offset: Option<u32>,
}

impl Input for DeviceQuery {
    fn validate(&self) -> Result<()> {
        if self.query.trim().is_empty() {
            return Err(Error::field(
                "query",
                "is empty; give text such as `web` or filters such as `hostname:\"web*\"`",
            ));
        }
        if self.query.chars().count() > 1024 {
            return Err(Error::field("query", "is longer than 1024 characters"));
        }
        if let Some(count) = self.count
            && !(1..=MAX_SEARCH_COUNT).contains(&count)
        {
            return Err(Error::field(
                "count",
                format!("{count} is outside 1..{MAX_SEARCH_COUNT}; page with `offset` for more"),
            ));
        }
        Ok(())
    }
}

/// One page of search results (see the WIT `device-page`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DevicePage {
    /// Matching devices in total.
    pub total_count: u64,
    /// This page's offset.
    pub offset: u32,
    /// This page.
    pub devices: Vec<Device>,
}

/// Reads one device.
pub fn get_device(client: &Client, input: DidInput) -> Result<Device> {
    let request = ApiRequest::get("/devices").param("did", input.did).param("includetags", true);
    let answer = Doc::fetch(client, &request)?;
    // Appliances answer an unknown did with an empty object or list rather than 404.
    let item = match &answer.value {
        Value::Array(items) => items.first(),
        Value::Object(map) if !map.is_empty() => Some(&answer.value),
        _ => None,
    }
    .ok_or_else(|| Error::NotFound(format!("device {} is not known to the appliance", input.did)))?;
    let raw = answer.raw_items(&[]).into_iter().next().unwrap_or_else(|| RawText::of(item));
    device_from(item, "device", raw)
}

/// Searches devices.
pub fn search_devices(client: &Client, input: DeviceQuery) -> Result<DevicePage> {
    let offset = input.offset.unwrap_or(0);
    let request = ApiRequest::get("/devicesearch")
        .param("query", input.query.trim())
        .param("count", input.count.unwrap_or(100))
        .param("offset", offset);
    let answer = Doc::fetch(client, &request)?;
    let page = Warnings::default();
    let o = Obj::item(&answer.value, "devicesearch", &page)?;
    let devices = match o.opt_array("devices") {
        Some((items, at)) => {
            let items: Vec<&Value> = items.iter().collect();
            read_list(&items, &answer.raw_items(&["devices"]), &at, &device_from)
        }
        None => Vec::new(),
    };
    let total_count = o.opt_u64("totalCount").unwrap_or(devices.len() as u64);
    Ok(DevicePage { total_count, offset, devices })
}

/// Normalises one device object as the appliance sends it; its identity is its did.
pub fn device_from(v: &Value, path: &str, raw: RawText) -> Result<Device> {
    let w = Warnings::default();
    let o = Obj::item(v, path, &w)?;
    let did = o.id_u64("did")?;
    let first_seen = o.opt_i64("firstSeen");
    let last_seen = o.opt_i64("lastSeen");
    let tags = match o.opt_array("tags") {
        Some((items, at)) => items
            .iter()
            .enumerate()
            .filter_map(|(i, t)| match t {
                Value::String(s) => Some(s.clone()),
                _ => o.child(t, format!("{at}[{i}]"))?.opt_str("name"),
            })
            .collect(),
        None => Vec::new(),
    };
    // Newer appliances describe some devices (agents, cloud hosts) only through `interfaces`.
    let (interface_ip, interface_mac) = latest_interface_address(&o);
    Ok(Device {
        did,
        ip: o.opt_str("ip").or(interface_ip),
        mac: o.opt_str("macaddress").or(interface_mac),
        hostname: o.opt_str("hostname"),
        vendor: o.opt_str("vendor"),
        os: o.opt_str("os"),
        label: o.opt_str("devicelabel"),
        type_name: o.opt_str("typename"),
        type_label: o.opt_str("typelabel"),
        priority: o.opt_i64("priority").unwrap_or(0).clamp(-5, 5) as i32,
        first_seen,
        first_seen_iso: first_seen.map(iso_from_ms),
        last_seen,
        last_seen_iso: last_seen.map(iso_from_ms),
        tags,
        raw,
        warnings: w.take(),
    })
}

/// The most recently seen address among a device's `interfaces[].ips[]`, with its interface's
/// MAC. Those times are epoch **seconds**, unlike every other device time.
fn latest_interface_address(o: &Obj) -> (Option<String>, Option<String>) {
    let Some((interfaces, at)) = o.opt_array("interfaces") else {
        return (None, None);
    };
    let mut best: Option<(i64, Option<String>, Option<String>)> = None;
    for (i, interface) in interfaces.iter().enumerate() {
        let Some(interface) = o.child(interface, format!("{at}[{i}]")) else { continue };
        let mac = interface.opt_str("mac");
        let Some((ips, ips_at)) = interface.opt_array("ips") else { continue };
        for (j, ip) in ips.iter().enumerate() {
            let Some(ip) = o.child(ip, format!("{ips_at}[{j}]")) else { continue };
            let seen_secs = ip.opt_i64("time").unwrap_or(0);
            if best.as_ref().is_none_or(|(t, _, _)| seen_secs > *t) {
                best = Some((seen_secs, ip.opt_str("ip"), mac.clone()));
            }
        }
    }
    best.map_or((None, None), |(_, ip, mac)| (ip, mac))
}

/// Longest `seen_since` accepted: anything longer is almost surely an epoch time given by mistake.
const MAX_SEEN_SINCE_SECS: u64 = 366 * 86_400;
/// Most devices `list-devices` asks for.
const MAX_LIST_COUNT: u32 = 100_000;
/// Most similar devices asked for.
const MAX_SIMILAR: u32 = 100;
/// Similar devices listed when the input gives no count.
const DEFAULT_SIMILAR: u32 = 10;
/// Most events `list-device-events` asks for.
const MAX_EVENTS: u32 = 10_000;
/// Events listed when the input gives neither a count nor a window, so the answer stays bounded.
const DEFAULT_EVENTS: u32 = 100;
/// Longest label accepted.
const MAX_LABEL_CHARS: usize = 256;

/// Reads an optional value given as a JSON string or a whole number, as text.
fn text_or_number<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<Option<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Number(u64),
        Text(String),
    }
    Ok(Option::<Raw>::deserialize(d)
        .map_err(|_| {
            serde::de::Error::custom("expected seconds (a whole number) or text such as \"5hour\" or \"6day\"")
        })?
        .map(|raw| match raw {
            Raw::Number(n) => n.to_string(),
            Raw::Text(s) => s,
        }))
}

/// Checks a `seensince` value and returns it in the form the appliance takes: plain seconds, or
/// a count with a singular unit (`5hour`). Accepts plural units and `s`/`m`/`h`/`d`/`w` too.
pub fn seen_since_param(value: &str) -> Result<String> {
    let value = value.trim();
    let digits = value.find(|c: char| !c.is_ascii_digit()).unwrap_or(value.len());
    let (amount, unit) = value.split_at(digits);
    let bad = |why: &str| Error::field("seen_since", format!("`{}` {why}", value.chars().take(40).collect::<String>()));
    let amount: u64 = amount.parse().map_err(|_| {
        bad("is not a duration; give seconds (3600) or a number with a unit: 30min, 5hour, 6day, 2week")
    })?;
    let (unit, secs) = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "s" | "sec" | "secs" | "second" | "seconds" => ("", 1),
        "m" | "min" | "mins" | "minute" | "minutes" => ("min", 60),
        "h" | "hr" | "hrs" | "hour" | "hours" => ("hour", 3600),
        "d" | "day" | "days" => ("day", 86_400),
        "w" | "week" | "weeks" => ("week", 604_800),
        _ => return Err(bad("has an unknown unit; use min, hour, day or week")),
    };
    if amount == 0 {
        return Err(bad("is zero; give a positive duration"));
    }
    if amount.saturating_mul(secs) > MAX_SEEN_SINCE_SECS {
        return Err(bad("is longer than a year; if it is an epoch time, give the duration since then instead"));
    }
    Ok(format!("{amount}{unit}"))
}

/// Input of `list-devices` (see the WIT `device-list-filter`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeviceListFilter {
    /// Seconds or a count with a unit.
    #[serde(default, deserialize_with = "text_or_number")]
    pub seen_since: Option<String>,
    /// At most this many devices.
    pub count: Option<u32>,
    /// Include tags (default true).
    pub include_tags: Option<bool>,
}

impl Input for DeviceListFilter {
    fn validate(&self) -> Result<()> {
        if let Some(seen_since) = &self.seen_since {
            seen_since_param(seen_since)?;
        }
        if let Some(count) = self.count
            && !(1..=MAX_LIST_COUNT).contains(&count)
        {
            return Err(Error::field(
                "count",
                format!("{count} is outside 1..{MAX_LIST_COUNT}; narrow `seen_since` instead"),
            ));
        }
        Ok(())
    }
}

/// Lists the devices seen in the window, by id.
pub fn list_devices(client: &Client, filter: DeviceListFilter) -> Result<Vec<Device>> {
    let seen_since = filter.seen_since.as_deref().map(seen_since_param).transpose()?;
    let request = ApiRequest::get("/devices")
        .opt_param("seensince", seen_since)
        .opt_param("count", filter.count)
        .param("includetags", filter.include_tags.unwrap_or(true));
    let answer = Doc::fetch(client, &request)?;
    let mut devices = read_many(&answer.value, &answer.raw_items(&[]), "devices", &device_from)?;
    sort_stable(&mut devices, |a, b| a.did.cmp(&b.did));
    Ok(devices)
}

/// The appliance's summary of a device (see the WIT `device-summary`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeviceSummary {
    /// Device id.
    pub did: u64,
    /// The device, when included.
    pub device: Option<Device>,
    /// Breach ids in the summary.
    pub model_breach_pbids: Vec<u64>,
    /// Similar device ids in the summary.
    pub similar_device_dids: Vec<u64>,
    /// Events in the summary.
    pub event_count: u32,
    /// The sections object, as the appliance wrote it.
    pub sections: RawText,
    /// The appliance's answer.
    pub raw: RawText,
    /// The fields that could not be read.
    pub warnings: Vec<Warning>,
}

/// Reads a device's summary.
pub fn get_device_summary(client: &Client, input: DidInput) -> Result<DeviceSummary> {
    let doc = Doc::fetch(client, &ApiRequest::get("/devicesummary").param("did", input.did))?;
    let answer = &doc.value;
    let not_found = || Error::NotFound(format!("device {} is not known to the appliance", input.did));
    if answer.is_null() || answer.as_object().is_some_and(|o| o.is_empty()) {
        return Err(not_found());
    }
    let w = Warnings::default();
    let top = Obj::item(answer, "devicesummary", &w)?;
    // The sections are in `data` (reference, `/devicesummary`); accept them unwrapped too.
    let (sections, path, keys): (&Value, &str, &[&str]) = match top.get("data") {
        Some(data) => (data, "devicesummary.data", &["data"]),
        None => (answer, "devicesummary", &[]),
    };
    let o = Obj::item(sections, path, &w)?;
    // The device is the object at `data.devices` (reference, `/devicesummary`: "one device
    // object, not a list"); older simulators and some versions say `device`, or give a list.
    let key = if o.get("devices").is_some() { "devices" } else { "device" };
    let device = match o.get(key) {
        Some(Value::Array(items)) => {
            items.first().map(|v| (v, doc.raw_items(&[keys, &[key]].concat()).into_iter().next()))
        }
        Some(v) => Some((v, doc.raw_at(&[keys, &[key]].concat()))),
        None => None,
    }
    .filter(|(v, _)| v.as_object().is_some_and(|m| !m.is_empty()))
    .and_then(|(v, raw)| {
        let path = format!("{path}.{key}");
        match device_from(v, &path, raw.unwrap_or_else(|| RawText::of(v))) {
            Ok(device) => Some(device),
            Err(_) => {
                o.warn(&format!("{path}.did"), "a device id", v.get("did").unwrap_or(&Value::Null));
                None
            }
        }
    });
    let ids = |key: &str, id: &str| -> Vec<u64> {
        section(&o, key)
            .iter()
            .enumerate()
            .filter_map(|(i, v)| o.child(v, format!("{path}.{key}[{i}]"))?.opt_u64(id))
            .collect()
    };
    Ok(DeviceSummary {
        did: input.did,
        device,
        model_breach_pbids: ids("modelbreaches", "pbid"),
        similar_device_dids: ids("similardevices", "did"),
        event_count: u32::try_from(section(&o, "details").len()).unwrap_or(u32::MAX),
        sections: doc.raw_at(keys).unwrap_or_else(|| RawText::of(sections)),
        raw: doc.raw(),
        warnings: w.take(),
    })
}

/// A summary section that is a list; an absent, null or empty-object section is an empty list,
/// and anything else a warning and an empty list.
fn section<'a>(o: &Obj<'a>, key: &str) -> &'a [Value] {
    match o.get(key) {
        None => &[],
        Some(Value::Object(m)) if m.is_empty() => &[],
        Some(Value::Array(items)) => items.as_slice(),
        Some(other) => {
            o.warn(&o.at(key), "an array", other);
            &[]
        }
    }
}

/// Input of `list-similar-devices`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimilarInput {
    /// The device.
    pub did: u64,
    /// How many, 1..100.
    pub count: Option<u32>,
}

impl Input for SimilarInput {
    fn validate(&self) -> Result<()> {
        match self.count {
            Some(count) if !(1..=MAX_SIMILAR).contains(&count) => {
                Err(Error::field("count", format!("{count} is outside 1..{MAX_SIMILAR}")))
            }
            _ => Ok(()),
        }
    }
}

/// A device and its similarity score (see the WIT `similar-device`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SimilarDevice {
    /// 0..100.
    pub score: f64,
    /// The device.
    pub device: Device,
}

/// Lists the devices most similar to one device, most similar first.
pub fn list_similar_devices(client: &Client, input: SimilarInput) -> Result<Vec<SimilarDevice>> {
    // The path form `/similardevices/<did>` fails on appliances; only the query form works.
    let request = ApiRequest::get("/similardevices")
        .param("did", input.did)
        .param("count", input.count.unwrap_or(DEFAULT_SIMILAR))
        .param("fulldevicedetails", false);
    let answer = Doc::fetch(client, &request)?;
    let mut similar = read_many(&answer.value, &answer.raw_items(&[]), "similardevices", &|v, path, raw| {
        let mut device = device_from(v, path, raw)?;
        let score = v.get("score").filter(|s| !s.is_null());
        let read = score.and_then(crate::shape::as_f64);
        if let (Some(found), None) = (score, read) {
            device.warnings.push(Warning {
                path: format!("{path}.score"),
                expected: "a number".to_owned(),
                found: crate::shape::describe(found),
            });
        }
        Ok(SimilarDevice { score: read.unwrap_or(0.0).clamp(0.0, 100.0), device })
    })?;
    sort_stable(&mut similar, |a, b| b.score.total_cmp(&a.score));
    Ok(similar)
}

/// What a connection graph counts (see the WIT `graph-data`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum GraphData {
    /// Connections.
    #[default]
    #[serde(rename = "connections", alias = "co")]
    Connections,
    /// Bytes sent.
    #[serde(rename = "sizeout", alias = "size_out")]
    SizeOut,
    /// Bytes received.
    #[serde(rename = "sizein", alias = "size_in")]
    SizeIn,
}

impl GraphData {
    /// The `datatype` value the appliance takes.
    fn param(self) -> &'static str {
        match self {
            GraphData::Connections => "co",
            GraphData::SizeOut => "sizeout",
            GraphData::SizeIn => "sizein",
        }
    }
}

/// Input of `get-device-connection-info` (see the WIT `connection-info-query`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConnectionInfoQuery {
    /// The device.
    pub did: u64,
    /// What to count.
    pub data_type: Option<GraphData>,
    /// Only traffic to this domain.
    pub external_domain: Option<String>,
    /// Include zero intervals.
    pub show_all_graph_data: Option<bool>,
    /// Similar devices to include, 1..100.
    pub similar_devices: Option<u32>,
}

impl Input for ConnectionInfoQuery {
    fn validate(&self) -> Result<()> {
        if let Some(domain) = &self.external_domain {
            let d = domain.trim();
            if d.is_empty()
                || d.len() > 253
                || !d.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '*'))
            {
                return Err(Error::field(
                    "external_domain",
                    "is not a domain name such as example.com; leave it out for all traffic",
                ));
            }
        }
        match self.similar_devices {
            Some(n) if !(1..=MAX_SIMILAR).contains(&n) => {
                Err(Error::field("similar_devices", format!("{n} is outside 1..{MAX_SIMILAR}; leave it out for none")))
            }
            _ => Ok(()),
        }
    }
}

/// A port in a connection graph (see the WIT `port-usage`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PortUsage {
    /// Port, range or `others`.
    pub port: String,
    /// The single port, when it is one.
    pub port_number: Option<u32>,
    /// Connections or bytes.
    pub size: u64,
    /// First use, epoch ms.
    pub first_time: Option<i64>,
    /// `first_time` in ISO 8601 UTC.
    pub first_time_iso: Option<String>,
}

/// A peer in a connection graph (see the WIT `peer-usage`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PeerUsage {
    /// Device id, group id or `others`.
    pub peer: String,
    /// The device id, when it is one device.
    pub did: Option<u64>,
    /// Connections or bytes.
    pub size: u64,
    /// First contact, epoch ms.
    pub first_time: Option<i64>,
    /// `first_time` in ISO 8601 UTC.
    pub first_time_iso: Option<String>,
}

/// A similar device in a graph answer (see the WIT `graph-peer-device`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GraphPeerDevice {
    /// Device id.
    pub did: u64,
    /// Similarity 0..100.
    pub similarity_score: Option<f64>,
}

/// A device's connection graph (see the WIT `connection-info`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConnectionInfo {
    /// Device id.
    pub did: u64,
    /// What the graph counts.
    pub data_type: GraphData,
    /// Total as a client.
    pub total_used: u64,
    /// Total as a server.
    pub total_served: u64,
    /// Total over devices and ports.
    pub total_devices_and_ports: u64,
    /// Points in the time series.
    pub graph_points: u32,
    /// Ports used.
    pub ports_used: Vec<PortUsage>,
    /// Ports served.
    pub ports_served: Vec<PortUsage>,
    /// Peers used.
    pub devices_used: Vec<PeerUsage>,
    /// Peers served.
    pub devices_served: Vec<PeerUsage>,
    /// Similar devices in the answer.
    pub similar_devices: Vec<GraphPeerDevice>,
    /// The device's graph.
    pub graph: Value,
    /// The appliance's answer.
    pub raw: RawText,
    /// The fields that could not be read.
    pub warnings: Vec<Warning>,
}

/// Reads a device's connection graph.
pub fn get_device_connection_info(client: &Client, input: ConnectionInfoQuery) -> Result<ConnectionInfo> {
    let data_type = input.data_type.unwrap_or_default();
    // `fulldevicedetails` and `showallgraphdata` change the answer's structure, so both are pinned.
    let request = ApiRequest::get("/deviceinfo")
        .param("did", input.did)
        .param("datatype", data_type.param())
        .opt_param("externaldomain", input.external_domain.as_deref().map(str::trim))
        .param("showallgraphdata", input.show_all_graph_data.unwrap_or(false))
        .param("fulldevicedetails", false)
        .opt_param("similardevices", input.similar_devices);
    let doc = Doc::fetch(client, &request)?;
    let w = Warnings::default();
    let o = Obj::item(&doc.value, "deviceinfo", &w)?;
    let (entries, at) = o.opt_array("deviceInfo").unwrap_or((&EMPTY, "deviceinfo.deviceInfo".to_owned()));
    let mut own = None;
    let mut similar_devices = Vec::new();
    for (i, entry) in entries.iter().enumerate() {
        let Some(e) = o.child(entry, format!("{at}[{i}]")) else { continue };
        // Negative ids are groups of endpoints (reference fixture DarktraceAdmin/conn_info.json).
        let did = e.opt_i64("did");
        if own.is_none() && did.is_none_or(|d| u64::try_from(d) == Ok(input.did)) {
            own = Some(e);
        } else if let Some(did) = did.and_then(|d| u64::try_from(d).ok()) {
            similar_devices.push(GraphPeerDevice { did, similarity_score: e.opt_f64("similarityScore") });
        }
    }
    let e = own.ok_or_else(|| {
        Error::NotFound(format!("the appliance has no connection graph for device {}; check the device id", input.did))
    })?;
    let graph_points = match e.opt_array("graphData") {
        Some((points, _)) => u32::try_from(points.len()).unwrap_or(u32::MAX),
        None => 0,
    };
    let info = e.opt_obj("info");
    let (total_used, total_served, total_devices_and_ports) = match &info {
        Some(i) => (
            i.opt_u64("totalUsed").unwrap_or(0),
            i.opt_u64("totalServed").unwrap_or(0),
            i.opt_u64("totalDevicesAndPorts").unwrap_or(0),
        ),
        None => (0, 0, 0),
    };
    let list = |key: &str| -> Vec<Obj<'_>> {
        match info.as_ref().and_then(|i| i.opt_array(key)) {
            Some((items, at)) => {
                items.iter().enumerate().filter_map(|(n, v)| o.child(v, format!("{at}[{n}]"))).collect()
            }
            None => Vec::new(),
        }
    };
    let ports = |key: &str| -> Vec<PortUsage> {
        list(key)
            .iter()
            .map(|p| {
                let port = p.get("port").map(loose_text).unwrap_or_default();
                let first_time = p.opt_i64("firstTime");
                PortUsage {
                    port_number: port.trim().parse().ok(),
                    port,
                    size: p.opt_u64("size").unwrap_or(0),
                    first_time,
                    first_time_iso: first_time.map(iso_from_ms),
                }
            })
            .collect()
    };
    let peers = |key: &str| -> Vec<PeerUsage> {
        list(key)
            .iter()
            .map(|p| {
                let peer = p.get("did").map(loose_text).unwrap_or_default();
                let first_time = p.opt_i64("firstTime");
                PeerUsage {
                    // Zero and negative ids stand for groups of endpoints, not for devices.
                    did: peer.trim().parse::<u64>().ok().filter(|d| *d > 0),
                    peer,
                    size: p.opt_u64("size").unwrap_or(0),
                    first_time,
                    first_time_iso: first_time.map(iso_from_ms),
                }
            })
            .collect()
    };
    Ok(ConnectionInfo {
        did: input.did,
        data_type,
        total_used,
        total_served,
        total_devices_and_ports,
        graph_points,
        ports_used: ports("portsUsed"),
        ports_served: ports("portsServed"),
        devices_used: peers("devicesUsed"),
        devices_served: peers("devicesServed"),
        similar_devices,
        graph: json!({ "graphData": e.get("graphData").cloned().unwrap_or(json!([])), "info": e.get("info").cloned().unwrap_or(json!({})) }),
        raw: doc.raw(),
        warnings: w.take(),
    })
}

static EMPTY: Vec<Value> = Vec::new();

/// A scalar as text, whatever its JSON type (ports and ids come as numbers, ranges or `others`).
fn loose_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// The kind of events to list (see the WIT `event-type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
pub enum EventType {
    /// Connections.
    #[default]
    #[serde(rename = "connection")]
    Connection,
    /// Unusual connections.
    #[serde(rename = "unusualconnection", alias = "unusual_connection")]
    UnusualConnection,
    /// New connections.
    #[serde(rename = "newconnection", alias = "new_connection")]
    NewConnection,
    /// Notices.
    #[serde(rename = "notice")]
    Notice,
    /// Device history.
    #[serde(rename = "devicehistory", alias = "device_history")]
    DeviceHistory,
    /// Model breaches.
    #[serde(rename = "modelbreach", alias = "model_breach")]
    ModelBreach,
}

impl EventType {
    /// The `eventtype` value the appliance takes.
    fn param(self) -> &'static str {
        match self {
            EventType::Connection => "connection",
            EventType::UnusualConnection => "unusualconnection",
            EventType::NewConnection => "newconnection",
            EventType::Notice => "notice",
            EventType::DeviceHistory => "devicehistory",
            EventType::ModelBreach => "modelbreach",
        }
    }
}

/// Input of `list-device-events` (see the WIT `device-event-query`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeviceEventQuery {
    /// The device.
    pub did: u64,
    /// The kind of event.
    pub event_type: Option<EventType>,
    /// At most this many.
    pub count: Option<u32>,
    /// Window start.
    pub start: Option<Instant>,
    /// Window end.
    pub end: Option<Instant>,
}

impl Input for DeviceEventQuery {
    fn validate(&self) -> Result<()> {
        if window(&self.start, &self.end)?.is_some() && self.count.is_some() {
            return Err(Error::field(
                "count",
                "cannot be combined with a time window (the appliance refuses it); give one or the other",
            ));
        }
        match self.count {
            Some(count) if !(1..=MAX_EVENTS).contains(&count) => {
                Err(Error::field("count", format!("{count} is outside 1..{MAX_EVENTS}; use a time window for more")))
            }
            _ => Ok(()),
        }
    }
}

/// One event of a device (see the WIT `device-event`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeviceEvent {
    /// The appliance's event type.
    pub event_type: String,
    /// Epoch ms.
    pub time: i64,
    /// `time` in ISO 8601 UTC.
    pub time_iso: String,
    /// Connection id.
    pub uid: Option<String>,
    /// `in` or `out`.
    pub direction: Option<String>,
    /// Source name.
    pub source: Option<String>,
    /// Destination name.
    pub destination: Option<String>,
    /// Source IP.
    pub source_ip: Option<String>,
    /// Destination IP.
    pub destination_ip: Option<String>,
    /// Source device id (negative for a group of external endpoints).
    pub source_did: Option<i64>,
    /// Destination device id (negative for a group of external endpoints).
    pub destination_did: Option<i64>,
    /// Port.
    pub port: Option<u32>,
    /// Transport protocol.
    pub protocol: Option<String>,
    /// Application protocol.
    pub application_protocol: Option<String>,
    /// Connection status.
    pub status: Option<String>,
    /// Notice type, history action or model name.
    pub name: Option<String>,
    /// Notice message, history value or breach score.
    pub detail: Option<String>,
    /// The appliance's object.
    pub raw: RawText,
    /// The fields that could not be read.
    pub warnings: Vec<Warning>,
}

/// Lists a device's events, oldest first.
pub fn list_device_events(client: &Client, input: DeviceEventQuery) -> Result<Vec<DeviceEvent>> {
    let window = match (&input.start, &input.end) {
        (Some(s), Some(e)) => Some((s.to_epoch_ms("start")?, e.to_epoch_ms("end")?)),
        _ => None,
    };
    let count = match window {
        Some(_) => None,
        None => Some(input.count.unwrap_or(DEFAULT_EVENTS)),
    };
    let request = ApiRequest::get("/details")
        .param("did", input.did)
        .param("eventtype", input.event_type.unwrap_or_default().param())
        .opt_param("count", count)
        .opt_param("starttime", window.map(|w| w.0))
        .opt_param("endtime", window.map(|w| w.1))
        .param("fulldevicedetails", false);
    let answer = Doc::fetch(client, &request)?;
    let mut events = read_many(&answer.value, &answer.raw_items(&[]), "details", &event_from)?;
    // The guide calls `/details` time-sorted without saying which way.
    sort_stable(&mut events, |a, b| a.time.cmp(&b.time));
    Ok(events)
}

/// Normalises one `/details` event. Events have no id; their time places them in the list,
/// so an event without a readable time cannot be listed.
pub fn event_from(v: &Value, path: &str, raw: RawText) -> Result<DeviceEvent> {
    let w = Warnings::default();
    let o = Obj::item(v, path, &w)?;
    // `timems` is milliseconds; `time` is usually "YYYY-MM-DD HH:MM:SS" UTC but ms on some records.
    let time = match o.opt_i64("timems") {
        Some(ms) => ms,
        None => match o.get("time") {
            Some(Value::String(s)) if s.contains('-') => readable_ms(s).ok_or_else(|| {
                wrong(&format!("{path}.time"), "a date such as 2024-01-15 10:30:00", &Value::String(s.clone()))
            })?,
            Some(_) => o.id_i64("time")?,
            None => o.id_i64("timems")?,
        },
    };
    let end = |key: &str| -> (Option<String>, Option<i64>) {
        match o.opt_obj(key) {
            Some(d) => (d.opt_str("ip"), d.get("did").and_then(as_i64)),
            None => (None, None),
        }
    };
    let (source_ip, source_did) = end("sourceDevice");
    let (destination_ip, destination_did) = end("destinationDevice");
    let text = |key: &str| o.get(key).map(loose_text).filter(|s| !s.is_empty());
    let name = text("type").filter(|_| o.get("nid").is_some()).or_else(|| text("name"));
    Ok(DeviceEvent {
        event_type: text("eventType").or_else(|| text("action")).unwrap_or_else(|| "unknown".to_owned()),
        time,
        time_iso: iso_from_ms(time),
        uid: text("uid"),
        direction: text("direction"),
        source: text("source"),
        destination: text("destination"),
        source_ip,
        destination_ip,
        source_did: source_did.or_else(|| o.get("sdid").and_then(as_i64)),
        destination_did: destination_did.or_else(|| o.get("ddid").and_then(as_i64)),
        port: o
            .get("port")
            .or_else(|| o.get("destinationPort"))
            .and_then(loose_u64)
            .and_then(|p| u32::try_from(p).ok()),
        protocol: text("protocol"),
        application_protocol: text("applicationprotocol"),
        status: text("status"),
        name,
        detail: text("msg").or_else(|| text("value")).or_else(|| text("score")),
        raw,
        warnings: w.take(),
    })
}

/// A whole number given as a number or numeric text; anything else (`others`, ranges) is none.
fn loose_u64(v: &Value) -> Option<u64> {
    match v {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// Epoch ms of a readable UTC time such as `2024-01-15 10:30:00`.
fn readable_ms(s: &str) -> Option<i64> {
    let format = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");
    let t = time::PrimitiveDateTime::parse(s.trim(), format).ok()?.assume_utc();
    Some((t.unix_timestamp_nanos() / 1_000_000) as i64)
}

/// Input of `update-device` (see the WIT `device-update`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeviceUpdate {
    /// The device.
    pub did: u64,
    /// New label; empty removes it.
    pub label: Option<String>,
    /// New priority, -5..5.
    pub priority: Option<i32>,
    /// New type id.
    pub type_id: Option<u32>,
}

impl Input for DeviceUpdate {
    fn validate(&self) -> Result<()> {
        if self.label.is_none() && self.priority.is_none() && self.type_id.is_none() {
            return Err(Error::field("label", "missing: give at least one of `label`, `priority` and `type_id`"));
        }
        if let Some(label) = &self.label {
            if label.chars().count() > MAX_LABEL_CHARS {
                return Err(Error::field("label", format!("is longer than {MAX_LABEL_CHARS} characters")));
            }
            if label.chars().any(char::is_control) {
                return Err(Error::field("label", "contains a line break or control character; give one line of text"));
            }
        }
        if let Some(priority) = self.priority
            && !(-5..=5).contains(&priority)
        {
            return Err(Error::field("priority", format!("{priority} is outside -5..5")));
        }
        Ok(())
    }
}

/// Changes a device's label, priority or type.
pub fn update_device(client: &Client, input: DeviceUpdate) -> Result<ChangeResult> {
    let mut body = serde_json::Map::new();
    body.insert("did".into(), json!(input.did));
    if let Some(label) = &input.label {
        body.insert("label".into(), json!(label.trim()));
    }
    if let Some(priority) = input.priority {
        body.insert("priority".into(), json!(priority));
    }
    if let Some(type_id) = input.type_id {
        body.insert("type".into(), json!(type_id));
    }
    let what = format!("update of device {}", input.did);
    let written =
        send_write(client, &ApiRequest::post_json("/devices", &body), &what, &|c| device_read_back(c, &input))?;
    let verified = written.verified();
    let raw = match written {
        Written::Answered(answer) => {
            let answer = answer.value;
            // Some versions answer with the updated device rather than SUCCESS.
            if answer.get("did").is_none() {
                confirm_success(&what, &answer)?;
            }
            answer
        }
        Written::Verified(raw) => raw,
    };
    Ok(ChangeResult { id: input.did.to_string(), state: "updated".to_owned(), raw, verified })
}

/// Reads device `update.did` back after a gateway error: applied when its label and priority
/// are those asked for. The appliance leaves out an empty label and a priority of 0 (reference,
/// `GET /devices`). A type alone cannot be compared (the device lists a type name, the update
/// gives a type id), so its outcome stays unknown.
fn device_read_back(client: &Client, update: &DeviceUpdate) -> Result<ReadBack> {
    if update.label.is_none() && update.priority.is_none() {
        return Err(Error::Other(
            "a device type change cannot be read back: the device lists a type name, not the id given".into(),
        ));
    }
    let answer = client.send(&ApiRequest::get("/devices").param("did", update.did))?;
    let device = answer.as_array().and_then(|a| a.first()).unwrap_or(&answer);
    let label = device.get("devicelabel").and_then(Value::as_str).unwrap_or("");
    let priority = device.get("priority").and_then(Value::as_i64).unwrap_or(0);
    let applied = update.label.as_deref().is_none_or(|l| l.trim() == label)
        && update.priority.is_none_or(|p| i64::from(p) == priority);
    Ok(ReadBack {
        applied,
        seen: json!({ "did": update.did, "devicelabel": device.get("devicelabel"), "priority": device.get("priority") }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seen_since_takes_seconds_or_units_and_refuses_the_rest() {
        assert_eq!(seen_since_param("3600").unwrap(), "3600");
        assert_eq!(seen_since_param("5hour").unwrap(), "5hour");
        assert_eq!(seen_since_param("6days").unwrap(), "6day");
        assert_eq!(seen_since_param("30 min").unwrap(), "30min");
        for bad in ["", "soon", "5 fortnights", "0", "1705311000", "53week", "-5hour"] {
            let err = seen_since_param(bad).unwrap_err();
            assert!(err.message().starts_with("`seen_since`"), "{bad}: {err}");
        }
    }

    #[test]
    fn seen_since_is_accepted_as_a_number_or_text() {
        let f: DeviceListFilter = crate::actions::parse_input(json!({"seen_since": 3600})).unwrap();
        assert_eq!(f.seen_since.as_deref(), Some("3600"));
        let f: DeviceListFilter = crate::actions::parse_input(json!({"seen_since": "2week"})).unwrap();
        assert!(f.validate().is_ok());
        assert!(crate::actions::parse_input::<DeviceListFilter>(json!({"seen_since": true})).is_err());
    }

    #[test]
    fn events_refuse_a_count_with_a_window_and_half_windows() {
        let q = |v: Value| crate::actions::parse_input::<DeviceEventQuery>(v).unwrap().validate();
        let err =
            q(json!({"did": 1, "count": 5, "start": 1_705_311_000_000_i64, "end": 1_705_312_000_000_i64})).unwrap_err();
        assert!(err.message().starts_with("`count`"), "{err}");
        assert!(q(json!({"did": 1, "start": 1_705_311_000_000_i64})).unwrap_err().message().starts_with("`end`"));
        assert!(q(json!({"did": 1, "count": 0})).is_err());
        assert!(q(json!({"did": 1, "event_type": "unusual_connection", "count": 10})).is_ok());
        assert!(crate::actions::parse_input::<DeviceEventQuery>(json!({"did": 1, "event_type": "bogus"})).is_err());
    }

    #[test]
    fn update_needs_something_to_change_and_a_priority_in_range() {
        let u = |v: Value| crate::actions::parse_input::<DeviceUpdate>(v).unwrap().validate();
        assert!(u(json!({"did": 1})).unwrap_err().message().contains("at least one"));
        assert!(u(json!({"did": 1, "priority": 6})).unwrap_err().message().starts_with("`priority`"));
        assert!(u(json!({"did": 1, "label": "a\nb"})).is_err());
        assert!(u(json!({"did": 1, "label": ""})).is_ok());
        assert!(u(json!({"did": 1, "priority": -5, "type_id": 3})).is_ok());
    }

    #[test]
    fn connection_events_prefer_timems_and_read_both_ends() {
        let v = json!({"time": "2024-01-15 09:30:00", "timems": 1_705_311_000_123_i64, "eventType": "connection",
            "uid": "Cabc", "port": 443, "protocol": "TCP", "applicationprotocol": "HTTPS", "direction": "out",
            "sourceDevice": {"did": 12, "ip": "10.0.0.5"}, "destinationDevice": {"ip": "203.0.113.9", "ippopularity": "0"},
            "source": "ws-1", "destination": "example.net", "status": "ongoing"});
        let e = event_from(&v, "details[0]", RawText::of(&v)).unwrap();
        assert_eq!((e.time, e.time_iso.as_str()), (1_705_311_000_123, "2024-01-15T09:30:00.123Z"));
        assert_eq!((e.source_did, e.destination_did), (Some(12), None));
        assert_eq!(e.destination_ip.as_deref(), Some("203.0.113.9"));
        assert_eq!((e.port, e.protocol.as_deref()), (Some(443), Some("TCP")));
    }

    #[test]
    fn events_without_timems_read_the_readable_time_and_notices_keep_their_type() {
        let v = json!({"time": "2024-01-15 09:30:00", "eventType": "notice", "nid": 7, "type": "SSH::Brute", "msg": "many logins",
            "destinationPort": "22"});
        let e = event_from(&v, "details[0]", RawText::of(&v)).unwrap();
        assert_eq!(e.time, 1_705_311_000_000);
        assert_eq!(
            (e.name.as_deref(), e.detail.as_deref(), e.port),
            (Some("SSH::Brute"), Some("many logins"), Some(22))
        );
        let err = event_from(&json!({"time": "yesterday-ish"}), "details[3]", RawText::of(&json!(null))).unwrap_err();
        assert!(err.message().contains("details[3].time"), "{err}");
        let err = event_from(&json!({"eventType": "connection"}), "details[4]", RawText::of(&json!(null))).unwrap_err();
        assert_eq!(err.case(), "unexpected-response");
    }

    #[test]
    fn interface_addresses_fill_in_a_missing_ip_and_their_times_are_seconds() {
        let v = json!({"did": 5, "interfaces": [
            {"mac": "aa:bb:cc:00:00:01", "ips": [{"ip": "10.1.1.1", "time": 1_674_546_000}]},
            {"mac": "aa:bb:cc:00:00:02", "ips": [{"ip": "10.2.2.2", "time": 1_674_546_007}]}]});
        let d = device_from(&v, "device", RawText::of(&v)).unwrap();
        assert_eq!((d.ip.as_deref(), d.mac.as_deref()), (Some("10.2.2.2"), Some("aa:bb:cc:00:00:02")));
    }
}
