//! Enrichment and metadata actions: external endpoint details, the model catalogue and its
//! components, enumerations, Advanced Search and subnets.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use time::PrimitiveDateTime;
use time::macros::format_description;

use super::Input;
use crate::client::Client;
use crate::error::{Error, Result};
use crate::request::ApiRequest;
use crate::shape::{Doc, Obj, RawText, Warning, Warnings, as_u64, one_or_many, read_many, sort_stable, wrong};
use crate::times::{Instant, iso_from_ms, now_ms, window};

family_actions! {
    "get-endpoint-details" => get_endpoint_details,
    "list-models" => list_models,
    "get-model" => get_model,
    "get-model-component" => get_model_component,
    "get-enums" => get_enums,
    "advanced-search" => advanced_search,
    "list-subnets" => list_subnets,
}

/// Most records one Advanced Search page may hold.
pub const MAX_SEARCH_SIZE: u32 = 10_000;
/// Records per Advanced Search page when the input gives no size (the appliance's own default).
pub const DEFAULT_SEARCH_SIZE: u32 = 50;
/// The window searched when the input gives none.
const DEFAULT_SEARCH_WINDOW_MS: i64 = 24 * 60 * 60 * 1000;
/// Longest `seensince` for `/subnets`: the appliance keeps six months; 180 days is always inside.
pub const MAX_SUBNET_SEEN_SINCE_SECS: u32 = 180 * 24 * 60 * 60;
/// Longest Advanced Search expression accepted; it travels base64-encoded, possibly in a URL path.
const MAX_QUERY_CHARS: usize = 4096;

// ---------------------------------------------------------------------------------------------
// Endpoint details

/// Input of `get-endpoint-details` (see the WIT `endpoint-query`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EndpointQuery {
    /// External hostname.
    pub hostname: Option<String>,
    /// IP address.
    pub ip: Option<String>,
    /// Ask for the IPs and locations of a hostname (default true).
    pub additional_info: Option<bool>,
    /// Ask for the devices that connected recently (default true).
    pub devices: Option<bool>,
    /// Ask for the rarity score (default true).
    pub score: Option<bool>,
}

impl Input for EndpointQuery {
    fn validate(&self) -> Result<()> {
        match (&self.hostname, &self.ip) {
            (Some(_), Some(_)) => Err(Error::field("ip", "give `hostname` or `ip`, not both")),
            (None, None) => Err(Error::field("hostname", "missing: give `hostname` (e.g. cdn.example.net) or `ip`")),
            (Some(hostname), None) => check_hostname(hostname),
            (None, Some(ip)) => check_ip(ip).map(|_| ()),
        }
    }
}

fn check_hostname(hostname: &str) -> Result<()> {
    let h = hostname.trim();
    if h.is_empty() {
        return Err(Error::field("hostname", "is empty; give a hostname such as cdn.example.net"));
    }
    if h.len() > 253 {
        return Err(Error::field("hostname", "is longer than 253 characters, the limit for a DNS name"));
    }
    if h.contains("://") || h.chars().any(|c| c.is_whitespace() || c.is_control() || "/?#@".contains(c)) {
        return Err(Error::field(
            "hostname",
            format!(
                "`{}` is not a bare hostname; give only the name, e.g. cdn.example.net, without scheme, port or path",
                short(h)
            ),
        ));
    }
    Ok(())
}

fn check_ip(ip: &str) -> Result<IpAddr> {
    ip.trim().parse().map_err(|_| Error::field("ip", format!("`{}` is not an IPv4 or IPv6 address", short(ip))))
}

/// What the appliance knows about an endpoint (see the WIT `endpoint-details`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EndpointDetails {
    /// Hostname.
    pub hostname: Option<String>,
    /// IP address.
    pub ip: Option<String>,
    /// An internal address.
    pub internal: bool,
    /// First seen, epoch ms.
    pub first_seen: Option<i64>,
    /// `first_seen` in ISO 8601 UTC.
    pub first_seen_iso: Option<String>,
    /// 0..100, 100 minus rarity.
    pub popularity: Option<f64>,
    /// DGA score.
    pub dga_score: Option<f64>,
    /// Devices that connected recently.
    pub device_dids: Vec<u64>,
    /// Resolved IPs.
    pub ips: Vec<String>,
    /// Locations (a JSON array, as the appliance wrote it).
    pub locations: RawText,
    /// The appliance's answer.
    pub raw: RawText,
    /// The fields that could not be read.
    pub warnings: Vec<Warning>,
}

/// Reads what the appliance knows about a hostname or IP.
pub fn get_endpoint_details(client: &Client, input: EndpointQuery) -> Result<EndpointDetails> {
    let ip = input.ip.as_deref().map(check_ip).transpose()?;
    let hostname = input.hostname.as_deref().map(str::trim);
    let request = ApiRequest::get("/endpointdetails")
        .opt_param("hostname", hostname)
        .opt_param("ip", ip)
        .param("additionalinfo", input.additional_info.unwrap_or(true))
        .param("devices", input.devices.unwrap_or(true))
        .param("score", input.score.unwrap_or(true));
    let answer = Doc::fetch(client, &request)?;
    endpoint_from(&answer, hostname, ip)
}

/// Normalises an `/endpointdetails` answer, for external endpoints and internal addresses alike.
pub fn endpoint_from(answer: &Doc, hostname: Option<&str>, ip: Option<IpAddr>) -> Result<EndpointDetails> {
    let w = Warnings::default();
    let o = Obj::item(&answer.value, "endpointdetails", &w)?;
    let internal = o.get("name").and_then(Value::as_str) == Some("internal_ip");
    let first_seen = o.opt_i64("firsttime");
    let popularity = match o.opt_f64("popularity") {
        Some(p) => Some(p),
        // Older answers give only the rarity score; popularity is its complement.
        None => o.opt_f64("rarityscore").or_else(|| o.opt_f64("rarity")).map(|r| 100.0 - r),
    }
    .map(|p| p.clamp(0.0, 100.0));
    let mut device_dids = Vec::new();
    if let Some((items, at)) = o.opt_array("devices") {
        for (i, d) in items.iter().enumerate() {
            let path = format!("{at}[{i}]");
            device_dids.extend(match d {
                Value::Object(_) => o.child(d, path).and_then(|d| d.opt_u64("did")),
                other => o.element(other, &path, "a device object or id", as_u64),
            });
        }
    }
    // Internal answers may name the one device at the top level instead.
    device_dids.extend(o.opt_u64("did"));
    device_dids.sort_unstable();
    device_dids.dedup();
    let mut ips = Vec::new();
    if let Some((items, at)) = o.opt_array("ips") {
        for (i, item) in items.iter().enumerate() {
            let path = format!("{at}[{i}]");
            match item {
                Value::String(s) => ips.push(s.clone()),
                Value::Object(_) => ips.extend(o.child(item, path).and_then(|i| i.opt_str("ip"))),
                other => o.warn(&path, "an IP address or an object with `ip`", other),
            }
        }
    }
    let locations = match o.opt_array("locations") {
        Some(_) => answer.raw_at(&["locations"]).unwrap_or_else(|| RawText::of(&json!([]))),
        None => RawText::of(&json!([])),
    };
    Ok(EndpointDetails {
        hostname: o.opt_str("hostname").or_else(|| hostname.map(str::to_owned)),
        ip: o.opt_str("ip").or_else(|| ip.map(|ip| ip.to_string())),
        internal,
        first_seen,
        first_seen_iso: first_seen.map(iso_from_ms),
        popularity,
        dga_score: o.opt_f64("dgascore"),
        device_dids,
        ips,
        locations,
        raw: answer.raw(),
        warnings: w.take(),
    })
}

// ---------------------------------------------------------------------------------------------
// Models and components

/// A model from the catalogue (see the WIT `model`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Model {
    /// Local model id.
    pub pid: u64,
    /// Version id.
    pub phid: Option<u64>,
    /// UUID.
    pub uuid: Option<String>,
    /// Full name.
    pub name: String,
    /// Name before the first `::`.
    pub family: String,
    /// Category.
    pub category: Option<String>,
    /// Priority 0..5.
    pub priority: Option<u8>,
    /// Compliance model.
    pub compliance: bool,
    /// Active.
    pub active: Option<bool>,
    /// Description with real newlines.
    pub description: Option<String>,
    /// Tags.
    pub tags: Vec<String>,
    /// Component ids in the logic.
    pub component_cids: Vec<u64>,
    /// Last modification, epoch ms.
    pub modified: Option<i64>,
    /// `modified` in ISO 8601 UTC.
    pub modified_iso: Option<String>,
    /// The appliance's object.
    pub raw: RawText,
    /// The fields that could not be read.
    pub warnings: Vec<Warning>,
}

/// Input of `get-model` (see the WIT `model-ref`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelRef {
    /// Model UUID.
    pub uuid: Option<String>,
    /// Local model id.
    pub pid: Option<u64>,
}

impl Input for ModelRef {
    fn validate(&self) -> Result<()> {
        match (&self.uuid, self.pid) {
            (Some(_), Some(_)) => Err(Error::field("pid", "give `uuid` or `pid`, not both")),
            (None, None) => Err(Error::field("uuid", "missing: give the model's `uuid` or its local `pid`")),
            (Some(uuid), None) if !is_uuid(uuid) => {
                Err(Error::field("uuid", "is not a model UUID such as 80010119-6d7f-0000-0305-5e0000000325"))
            }
            _ => Ok(()),
        }
    }
}

fn is_uuid(s: &str) -> bool {
    !s.is_empty() && s.len() <= 64 && s.chars().all(|c| c.is_ascii_hexdigit() || c == '-')
}

/// Input of `get-model-component`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CidInput {
    /// Component id.
    pub cid: u64,
}

impl Input for CidInput {}

/// A model component (see the WIT `model-component`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelComponent {
    /// Component id.
    pub cid: u64,
    /// Version id.
    pub chid: Option<u64>,
    /// Metric id.
    pub metric_id: Option<u64>,
    /// Metric name.
    pub metric_name: Option<String>,
    /// Filters (a JSON array, as the appliance wrote it).
    pub filters: RawText,
    /// The appliance's object.
    pub raw: RawText,
    /// The fields that could not be read.
    pub warnings: Vec<Warning>,
}

/// Lists the model catalogue, by pid.
pub fn list_models(client: &Client, _: super::NoInput) -> Result<Vec<Model>> {
    let answer = Doc::fetch(client, &ApiRequest::get("/models"))?;
    let mut models = read_many(&answer.value, &answer.raw_items(&[]), "models", &model_from)?;
    sort_stable(&mut models, |a, b| a.pid.cmp(&b.pid));
    Ok(models)
}

/// Reads one model by UUID or pid.
pub fn get_model(client: &Client, input: ModelRef) -> Result<Model> {
    let request = match (&input.uuid, input.pid) {
        (Some(uuid), _) => ApiRequest::get("/models").param("uuid", uuid.trim()),
        (None, Some(pid)) => ApiRequest::get(format!("/models/{pid}")),
        (None, None) => return Err(Error::field("uuid", "missing: give the model's `uuid` or its local `pid`")),
    };
    let answer = Doc::fetch(client, &request)?;
    let wanted = match (&input.uuid, input.pid) {
        (Some(uuid), _) => format!("with uuid {uuid}"),
        (None, pid) => format!("{}", pid.unwrap_or_default()),
    };
    // The appliance ignores parameters it does not know, so a list may be the whole catalogue:
    // only the model that was asked for counts.
    let raws = answer.raw_items(&[]);
    for (i, v) in one_or_many(&answer.value, "model")?.into_iter().enumerate() {
        if v.as_object().is_some_and(|o| o.is_empty()) {
            continue;
        }
        let raw = raws.get(i).cloned().unwrap_or_else(|| RawText::of(v));
        // Among many, a model whose pid cannot be read is not the one asked for.
        let Ok(model) = model_from(v, &format!("model[{i}]"), raw) else { continue };
        let matches = match (&input.uuid, input.pid) {
            (Some(uuid), _) => model.uuid.as_deref().is_some_and(|u| u.eq_ignore_ascii_case(uuid.trim())),
            (None, pid) => Some(model.pid) == pid,
        };
        if matches {
            return Ok(model);
        }
    }
    Err(Error::NotFound(format!("model {wanted} is not known to the appliance; list-models shows the catalogue")))
}

/// Normalises one model object as `/models` sends it; its identity is its pid.
pub fn model_from(v: &Value, path: &str, raw: RawText) -> Result<Model> {
    let w = Warnings::default();
    let o = Obj::item(v, path, &w)?;
    let pid = o.id_u64("pid")?;
    let name = o.opt_str("name").unwrap_or_default();
    let family = name.split_once("::").map_or(name.as_str(), |(f, _)| f).trim().to_owned();
    let priority = o.opt_u64("priority").map(|p| p.min(5) as u8);
    let compliance = o.opt_bool("compliance").unwrap_or(false);
    let category = match o.opt_str("category") {
        Some(c) => Some(c),
        None if compliance => Some("Compliance".to_owned()),
        // `/models` objects often carry no category; the priority decides it as in the UI.
        None => priority.map(|p| {
            match p {
                5 => "Critical",
                4 => "Suspicious",
                _ => "Informational",
            }
            .to_owned()
        }),
    };
    let tags = match o.opt_array("tags") {
        Some((items, at)) => items
            .iter()
            .enumerate()
            .filter_map(|(i, t)| o.element(t, &format!("{at}[{i}]"), "a tag name", |v| v.as_str().map(str::to_owned)))
            .collect(),
        None => Vec::new(),
    };
    let mut component_cids = Vec::new();
    if let Some(logic) = o.opt_obj("logic")
        && let Some(Value::Array(data)) = logic.get("data")
    {
        // `componentList` logic lists cids; `weightedComponentList` lists `{cid, weight}`.
        for item in data {
            match item {
                Value::Object(m) => component_cids.extend(m.get("cid").and_then(as_u64)),
                other => component_cids.extend(as_u64(other)),
            }
        }
    }
    let modified = match o.get("modified") {
        Some(Value::String(s)) if s.contains('-') => {
            let ms = ms_from_readable(s);
            if ms.is_none() {
                o.warn(&o.at("modified"), "a date such as 2024-01-15 10:30:00", &Value::String(s.clone()));
            }
            ms
        }
        Some(_) => o.opt_i64("modified"),
        None => None,
    };
    Ok(Model {
        pid,
        phid: o.opt_u64("phid"),
        uuid: o.opt_str("uuid"),
        name,
        family,
        category,
        priority,
        compliance,
        active: o.opt_bool("active"),
        description: o.opt_str("description").map(|d| real_newlines(&d)),
        tags,
        component_cids,
        modified,
        modified_iso: modified.map(iso_from_ms),
        raw,
        warnings: w.take(),
    })
}

/// Model descriptions carry line breaks as the two characters `\n`.
pub fn real_newlines(text: &str) -> String {
    text.replace("\\r\\n", "\n").replace("\\n", "\n")
}

/// Epoch ms from the appliance's readable UTC time `YYYY-MM-DD HH:MM:SS` (or an RFC 3339 date).
pub fn ms_from_readable(text: &str) -> Option<i64> {
    let text = text.trim();
    let readable = format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");
    let at = PrimitiveDateTime::parse(text, readable)
        .map(PrimitiveDateTime::assume_utc)
        .or_else(|_| time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339))
        .ok()?;
    Some((at.unix_timestamp_nanos() / 1_000_000) as i64)
}

/// Reads one component by cid.
pub fn get_model_component(client: &Client, input: CidInput) -> Result<ModelComponent> {
    let answer = Doc::fetch(client, &ApiRequest::get(format!("/components/{}", input.cid)))?;
    let raws = answer.raw_items(&[]);
    for (i, v) in one_or_many(&answer.value, "component")?.into_iter().enumerate() {
        if v.as_object().is_some_and(|o| o.is_empty()) {
            continue;
        }
        let raw = raws.get(i).cloned().unwrap_or_else(|| RawText::of(v));
        // Among many, a component whose cid cannot be read is not the one asked for.
        let Ok(component) = component_from(v, &format!("component[{i}]"), raw) else { continue };
        if component.cid == input.cid {
            return Ok(component);
        }
    }
    Err(Error::NotFound(format!(
        "model component {} is not known to the appliance; get-model lists a model's component ids",
        input.cid
    )))
}

/// Normalises one component object as `/components` sends it; its identity is its cid.
pub fn component_from(v: &Value, path: &str, raw: RawText) -> Result<ModelComponent> {
    let w = Warnings::default();
    let o = Obj::item(v, path, &w)?;
    let cid = o.id_u64("cid")?;
    // The metric is an id (`mlid`) or an object `{mlid, name, label}`, depending on the version.
    let (mut metric_id, mut metric_name) = (o.opt_u64("mlid"), None);
    match o.get("metric") {
        Some(Value::Object(_)) => {
            if let Some(m) = o.opt_obj("metric") {
                metric_id = metric_id.or_else(|| m.opt_u64("mlid"));
                metric_name = m.opt_str("name");
            }
        }
        Some(Value::String(s)) if as_u64(&Value::String(s.clone())).is_none() => metric_name = Some(s.clone()),
        Some(_) => metric_id = metric_id.or_else(|| o.opt_u64("metric")),
        None => {}
    }
    // The filters as written: `raw` is a part of the answer, and so is their text within it.
    let filters = match o.opt_array("filters") {
        Some(_) => filters_text(&raw).unwrap_or_else(|| RawText::of(&json!([]))),
        None => RawText::of(&json!([])),
    };
    Ok(ModelComponent { cid, chid: o.opt_u64("chid"), metric_id, metric_name, filters, raw, warnings: w.take() })
}

/// The text of the `filters` array in a component's text.
fn filters_text(raw: &RawText) -> Option<RawText> {
    raw.at(&["filters"])
}

// ---------------------------------------------------------------------------------------------
// Enums

/// Input of `get-enums`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnumsInput {
    /// Only this section, e.g. `countries`.
    pub section: Option<String>,
}

impl Input for EnumsInput {
    fn validate(&self) -> Result<()> {
        if let Some(section) = &self.section
            && (section.is_empty()
                || section.len() > 64
                || !section.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
        {
            return Err(Error::field(
                "section",
                "is not a section name such as `countries` or `sourcedevicetypes` (letters, digits and _ only); leave it out for every section",
            ));
        }
        Ok(())
    }
}

/// Reads the enumerations, or one section of them.
pub fn get_enums(client: &Client, input: EnumsInput) -> Result<RawText> {
    let request = ApiRequest::get("/enums").opt_param("responsedata", input.section.as_deref());
    let answer = Doc::fetch(client, &request)?;
    match (&answer.value, &input.section) {
        (Value::Object(map), Some(section)) if !map.contains_key(section) => Err(Error::NotFound(format!(
            "the appliance has no enum section `{section}`; call get-enums without a section to see them all"
        ))),
        // The enumerations are returned as the appliance wrote them.
        (Value::Object(_) | Value::Array(_), _) => Ok(answer.raw()),
        (other, _) => Err(wrong("enums", "an object", other)),
    }
}

// ---------------------------------------------------------------------------------------------
// Advanced Search

/// Input of `advanced-search` (see the WIT `search-query`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SearchQuery {
    /// The search expression.
    pub query: String,
    /// Start of the window.
    pub start: Option<Instant>,
    /// End of the window.
    pub end: Option<Instant>,
    /// Page size, 1..10000.
    pub size: Option<u32>,
    /// Records to skip.
    pub offset: Option<u32>,
    /// Use the pre-6.1 GET form.
    pub legacy_get: Option<bool>,
}

impl Input for SearchQuery {
    fn validate(&self) -> Result<()> {
        if self.query.trim().is_empty() {
            return Err(Error::field(
                "query",
                "is empty; give an expression such as @type:\"dns\", or * for every record",
            ));
        }
        if self.query.chars().count() > MAX_QUERY_CHARS {
            return Err(Error::field("query", format!("is longer than {MAX_QUERY_CHARS} characters")));
        }
        window(&self.start, &self.end)?;
        if let Some(size) = self.size
            && !(1..=MAX_SEARCH_SIZE).contains(&size)
        {
            return Err(Error::field(
                "size",
                format!("{size} is outside 1..{MAX_SEARCH_SIZE}; page with `offset` for more"),
            ));
        }
        Ok(())
    }
}

/// One page of search results (see the WIT `search-result`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SearchResult {
    /// Matching records in total.
    pub total_hits: u64,
    /// Search time on the appliance, ms.
    pub took_ms: u64,
    /// The search timed out.
    pub timed_out: bool,
    /// This page's offset.
    pub offset: u32,
    /// This page's records (a JSON array, as the appliance wrote it).
    pub hits: RawText,
    /// The appliance's answer.
    pub raw: RawText,
    /// The fields that could not be read.
    pub warnings: Vec<Warning>,
}

/// The query document Advanced Search expects: `fields` must be present (empty means every
/// field) and `timeframe` must be `custom` for the window in `time` to apply.
pub fn search_document(query: &str, window: (i64, i64), size: u32, offset: u32) -> Value {
    json!({
        "search": query.trim(),
        "fields": [],
        "offset": offset,
        "size": size,
        "timeframe": "custom",
        "time": { "from": iso_from_ms(window.0), "to": iso_from_ms(window.1) },
    })
}

/// The request for a query document: `POST` with `{"hash": <base64>}` (6.1+), or the legacy GET
/// with the base64 in the path. In the path it is URL-safe base64 without padding, signed exactly
/// as sent: a 7.1.0 appliance verifies the path as transmitted, accepts that form and rejects
/// standard base64 whose `/`, `+` and `=` were percent-encoded after signing
/// (`api-inventory.md`, "What a real 7.1.0 appliance did").
pub fn search_request(document: &Value, legacy_get: bool) -> ApiRequest {
    let text = document.to_string();
    if legacy_get {
        ApiRequest::get(format!("/advancedsearch/api/search/{}", base64_url(text.as_bytes())))
    } else {
        ApiRequest::post_json("/advancedsearch/api/search", &json!({ "hash": base64(text.as_bytes()) }))
    }
}

/// Runs an Advanced Search query and returns one page.
pub fn advanced_search(client: &Client, input: SearchQuery) -> Result<SearchResult> {
    let window = match window(&input.start, &input.end)? {
        Some(w) => w,
        None => {
            let now = now_ms();
            (now - DEFAULT_SEARCH_WINDOW_MS, now)
        }
    };
    let offset = input.offset.unwrap_or(0);
    let document = search_document(&input.query, window, input.size.unwrap_or(DEFAULT_SEARCH_SIZE), offset);
    let answer = Doc::fetch(client, &search_request(&document, input.legacy_get.unwrap_or(false)))?;
    search_result_from(&answer, offset)
}

/// Normalises an Advanced Search answer (Elasticsearch-shaped).
pub fn search_result_from(answer: &Doc, offset: u32) -> Result<SearchResult> {
    let w = Warnings::default();
    let o = Obj::item(&answer.value, "advancedsearch", &w)?;
    let Some(hits) = o.get("hits").filter(|h| h.is_object()) else {
        // A refused query comes back as 200 with an error text instead of hits.
        if let Some(error) =
            o.get("error").or(o.get("darktraceChildError")).and_then(Value::as_str).filter(|e| !e.is_empty())
        {
            return Err(Error::Upstream {
                status: 200,
                message: format!("Advanced Search refused the query: {}; check the query syntax", short(error)),
            });
        }
        return Err(wrong("advancedsearch.hits", "an object", o.get("hits").unwrap_or(&Value::Null)));
    };
    let hits = o.child(hits, o.at("hits")).ok_or_else(|| wrong("advancedsearch.hits", "an object", hits))?;
    let (records, text) = match hits.opt_array("hits") {
        Some((items, _)) => (items.len(), answer.raw_at(&["hits", "hits"]).unwrap_or_else(|| RawText::of(&json!([])))),
        None => (0, RawText::of(&json!([]))),
    };
    // Elasticsearch 7 and later give `total` as `{value, relation}`, earlier versions as a number.
    let total_hits = match hits.get("total") {
        Some(Value::Object(_)) => hits.opt_obj("total").and_then(|t| t.opt_u64("value")),
        Some(_) => hits.opt_u64("total"),
        None => None,
    }
    .unwrap_or(records as u64);
    Ok(SearchResult {
        total_hits,
        took_ms: o.opt_u64("took").unwrap_or(0),
        timed_out: o.opt_bool("timed_out").unwrap_or(false),
        offset,
        hits: text,
        raw: answer.raw(),
        warnings: w.take(),
    })
}

/// Standard base64 (RFC 4648, with `+`, `/` and `=` padding), as the appliance decodes it.
pub fn base64(bytes: &[u8]) -> String {
    use ::base64::Engine as _;
    ::base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// URL-safe base64 without padding (RFC 4648 section 5: `-` and `_`, no `=`), which needs no
/// escaping in a URL path.
pub fn base64_url(bytes: &[u8]) -> String {
    use ::base64::Engine as _;
    ::base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

// ---------------------------------------------------------------------------------------------
// Subnets

/// Input of `list-subnets` (see the WIT `subnet-filter`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubnetFilter {
    /// Only this subnet.
    pub sid: Option<i64>,
    /// Only subnets with traffic in the last this many seconds.
    pub seen_since_seconds: Option<u32>,
}

impl Input for SubnetFilter {
    fn validate(&self) -> Result<()> {
        if let Some(secs) = self.seen_since_seconds
            && !(1..=MAX_SUBNET_SEEN_SINCE_SECS).contains(&secs)
        {
            return Err(Error::field(
                "seen_since_seconds",
                format!(
                    "{secs} is outside 1..{MAX_SUBNET_SEEN_SINCE_SECS} (180 days; the appliance looks back at most six months)"
                ),
            ));
        }
        Ok(())
    }
}

/// A subnet (see the WIT `subnet`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Subnet {
    /// Subnet id.
    pub sid: i64,
    /// Label.
    pub label: Option<String>,
    /// CIDR network.
    pub network: Option<String>,
    /// DHCP tracked.
    pub dhcp: bool,
    /// Devices tracked by username.
    pub unique_usernames: bool,
    /// Devices tracked by hostname.
    pub unique_hostnames: bool,
    /// Excluded from monitoring.
    pub excluded: bool,
    /// Latitude.
    pub latitude: Option<f64>,
    /// Longitude.
    pub longitude: Option<f64>,
    /// Last traffic, epoch ms.
    pub last_traffic: Option<i64>,
    /// `last_traffic` in ISO 8601 UTC.
    pub last_traffic_iso: Option<String>,
    /// Last seen, epoch ms.
    pub last_seen: Option<i64>,
    /// `last_seen` in ISO 8601 UTC.
    pub last_seen_iso: Option<String>,
    /// The appliance's object.
    pub raw: RawText,
    /// The fields that could not be read.
    pub warnings: Vec<Warning>,
}

/// Lists subnets, by sid.
pub fn list_subnets(client: &Client, input: SubnetFilter) -> Result<Vec<Subnet>> {
    let request =
        ApiRequest::get("/subnets").opt_param("sid", input.sid).opt_param("seensince", input.seen_since_seconds);
    let answer = Doc::fetch(client, &request)?;
    let mut subnets = read_many(&answer.value, &answer.raw_items(&[]), "subnets", &subnet_from)?;
    sort_stable(&mut subnets, |a, b| a.sid.cmp(&b.sid));
    Ok(subnets)
}

/// Normalises one subnet object as `/subnets` sends it; its identity is its sid (negative for
/// the appliance's own pseudo-subnets, such as -9 for SaaS).
pub fn subnet_from(v: &Value, path: &str, raw: RawText) -> Result<Subnet> {
    let w = Warnings::default();
    let o = Obj::item(v, path, &w)?;
    let sid = o.id_i64("sid")?;
    // The guide's response schema names the times `mostRecentTraffic` and `lastSeen`, epoch ms
    // (reference, section 2.6 `/subnets`); `lastTraffic` is read when neither is given.
    let last_traffic = o.opt_i64("mostRecentTraffic").or_else(|| o.opt_i64("lastTraffic"));
    let last_seen = o.opt_i64("lastSeen");
    Ok(Subnet {
        sid,
        label: o.opt_str("label"),
        network: o.opt_str("network"),
        dhcp: o.opt_bool("dhcp").unwrap_or(false),
        unique_usernames: o.opt_bool("uniqueUsernames").unwrap_or(false),
        unique_hostnames: o.opt_bool("uniqueHostnames").unwrap_or(false),
        excluded: o.opt_bool("excluded").unwrap_or(false),
        latitude: o.opt_f64("latitude"),
        longitude: o.opt_f64("longitude"),
        last_traffic,
        last_traffic_iso: last_traffic.map(iso_from_ms),
        last_seen,
        last_seen_iso: last_seen.map(iso_from_ms),
        raw,
        warnings: w.take(),
    })
}

fn short(s: &str) -> String {
    s.chars().take(80).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::actions::parse_input;

    fn invalid<I: Input>(input: Value) -> String {
        let parsed: Result<I> = parse_input(input);
        let err = parsed.and_then(|i| i.validate()).unwrap_err();
        assert_eq!(err.case(), "invalid-input", "{err}");
        err.message().to_owned()
    }

    #[test]
    fn endpoint_query_needs_exactly_one_of_hostname_or_ip() {
        assert!(invalid::<EndpointQuery>(json!({})).contains("hostname"));
        assert!(invalid::<EndpointQuery>(json!({"hostname": "a.example", "ip": "192.0.2.1"})).contains("ip"));
        assert!(invalid::<EndpointQuery>(json!({"ip": "192.0.2.300"})).contains("ip"));
        assert!(invalid::<EndpointQuery>(json!({"hostname": "https://a.example/x"})).contains("hostname"));
        assert!(invalid::<EndpointQuery>(json!({"hostname": " "})).contains("hostname"));
        let ok: EndpointQuery = parse_input(json!({"ip": "2001:db8::1"})).unwrap();
        ok.validate().unwrap();
    }

    #[test]
    fn external_endpoint_answer_is_typed() {
        let v = json!({"hostname": "cdn.example.net", "firsttime": 1_596_775_643_000i64, "devices": [{"did": 12}, {"did": 3}],
            "ips": [{"ip": "192.0.2.7"}, "198.51.100.9"], "locations": [{"country": "X"}], "popularity": 12, "dgascore": 3});
        let d = endpoint_from(&Doc::from_value(&v), Some("cdn.example.net"), None).unwrap();
        assert_eq!(d.device_dids, vec![3, 12]);
        assert_eq!(d.ips, vec!["192.0.2.7", "198.51.100.9"]);
        assert_eq!(d.first_seen_iso.as_deref(), Some("2020-08-07T04:47:23.000Z"));
        assert_eq!((d.popularity, d.dga_score, d.internal), (Some(12.0), Some(3.0), false));
        assert_eq!(d.locations.get(), r#"[{"country":"X"}]"#);
    }

    #[test]
    fn internal_ip_answer_is_recognised_with_its_other_fields() {
        let v = json!({"name": "internal_ip", "ip": "10.0.1.5", "did": 1044, "devices": [1044, "1050"]});
        let d = endpoint_from(&Doc::from_value(&v), None, Some("10.0.1.5".parse().unwrap())).unwrap();
        assert!(d.internal);
        assert_eq!(d.device_dids, vec![1044, 1050]);
        assert_eq!((d.popularity, d.first_seen, d.ip.as_deref()), (None, None, Some("10.0.1.5")));
        assert_eq!(d.locations.get(), "[]");
    }

    #[test]
    fn rarity_alone_gives_popularity() {
        let d =
            endpoint_from(&Doc::from_value(&json!({"hostname": "x.example", "rarityscore": 97})), None, None).unwrap();
        assert_eq!(d.popularity, Some(3.0));
    }

    #[test]
    fn model_without_category_gets_one_from_priority_and_real_newlines() {
        let v = json!({"pid": 287, "phid": 69331, "uuid": "80010119-6d7f-0000-0305-5e0000000325",
            "name": "Compromise::Ransomware::Ransom Words", "priority": 4, "active": true,
            "description": "First line.\\n\\nAction: look.", "modified": "2021-08-13 20:59:30", "tags": ["AP: Exploit"],
            "logic": {"data": [{"cid": 254503, "weight": 1}, {"cid": 254504, "weight": 1}], "type": "weightedComponentList"}});
        let m = model_from(&v, "model", RawText::of(&v)).unwrap();
        assert_eq!(m.family, "Compromise");
        assert_eq!(m.category.as_deref(), Some("Suspicious"));
        assert_eq!(m.description.as_deref(), Some("First line.\n\nAction: look."));
        assert_eq!(m.modified_iso.as_deref(), Some("2021-08-13T20:59:30.000Z"));
        assert_eq!(m.component_cids, vec![254503, 254504]);
        assert_eq!(m.tags, vec!["AP: Exploit"]);
    }

    #[test]
    fn compliance_models_and_plain_cid_logic() {
        let v = json!({"pid": 9, "name": "Compliance::Cleartext", "priority": 1, "compliance": true, "logic": {"data": [77], "type": "componentList"}});
        let m = model_from(&v, "model", RawText::of(&v)).unwrap();
        assert_eq!((m.category.as_deref(), m.component_cids.as_slice()), (Some("Compliance"), &[77u64][..]));
        assert_eq!(
            model_from(&json!({"name": "x"}), "model", RawText::of(&json!(null))).unwrap_err().case(),
            "unexpected-response"
        );
    }

    #[test]
    fn model_ref_needs_exactly_one_key() {
        assert!(invalid::<ModelRef>(json!({})).contains("uuid"));
        assert!(invalid::<ModelRef>(json!({"uuid": "abc", "pid": 3})).contains("pid"));
        assert!(invalid::<ModelRef>(json!({"uuid": "not a uuid"})).contains("uuid"));
    }

    #[test]
    fn component_metric_as_object_or_id() {
        let v = json!({"cid": 5, "chid": 9, "metric": {"mlid": 1, "name": "externalconnections"}, "filters": [{"id": "A"}]});
        let c = component_from(&v, "c", RawText::of(&v)).unwrap();
        assert_eq!(
            (c.metric_id, c.metric_name.as_deref(), c.filters.clone()),
            (Some(1), Some("externalconnections"), RawText::of(&json!([{"id": "A"}])))
        );
        let c = component_from(&json!({"cid": 5, "mlid": 4}), "c", RawText::of(&json!({}))).unwrap();
        assert_eq!((c.metric_id, c.filters.get()), (Some(4), "[]"));
    }

    #[test]
    fn enum_section_names_are_checked() {
        assert!(invalid::<EnumsInput>(json!({"section": "a&b"})).contains("section"));
        assert!(invalid::<EnumsInput>(json!({"section": ""})).contains("section"));
    }

    #[test]
    fn base64_is_standard_with_padding() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"??>"), "Pz8+");
        assert_eq!(base64(&[0xfb, 0xff]), "+/8=");
    }

    #[test]
    fn search_document_has_empty_fields_and_a_custom_timeframe() {
        let d = search_document(" @type:\"dns\" ", (1_705_311_000_000, 1_705_314_600_000), 50, 100);
        assert_eq!(d["fields"], json!([]));
        assert_eq!(d["timeframe"], "custom");
        assert_eq!(d["time"]["from"], "2024-01-15T09:30:00.000Z");
        assert_eq!(
            (d["search"].as_str(), d["size"].as_u64(), d["offset"].as_u64()),
            (Some("@type:\"dns\""), Some(50), Some(100))
        );
    }

    #[test]
    fn legacy_search_path_is_url_safe_base64_without_padding_signed_exactly_as_sent() {
        // `???` and `>>>` would put `/` and `+` in standard base64; three lengths give every padding.
        let mut seen = [false; 2];
        for pad in 0..3 {
            let doc = search_document(
                &format!("a:\"???>>>{}\"", "x".repeat(pad)),
                (1_705_311_000_000, 1_705_314_600_000),
                50,
                0,
            );
            let r = search_request(&doc, true);
            let hash = r.path().strip_prefix("/advancedsearch/api/search/").unwrap();
            assert!(!hash.contains(['/', '+', '=', '%']), "{hash}");
            seen[0] |= hash.contains('_');
            seen[1] |= hash.contains('-');
            assert_eq!(r.signed_target(), r.path().as_bytes(), "signed path must be the path sent");
            assert_eq!(r.path_and_query(), r.path());
            use ::base64::Engine as _;
            let decoded = ::base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(hash).unwrap();
            assert_eq!(decoded, doc.to_string().into_bytes());
        }
        assert_eq!(seen, [true; 2]);
        let post = search_request(&json!({"search": "*"}), false);
        assert_eq!(post.path(), "/advancedsearch/api/search");
        let body: Value = serde_json::from_slice(&post.body().unwrap().bytes).unwrap();
        assert_eq!(body["hash"], base64(br#"{"search":"*"}"#));
    }

    #[test]
    fn search_input_is_checked() {
        assert!(invalid::<SearchQuery>(json!({"query": " "})).contains("query"));
        assert!(invalid::<SearchQuery>(json!({"query": "*", "size": 0})).contains("size"));
        assert!(invalid::<SearchQuery>(json!({"query": "*", "size": 10001})).contains("size"));
        assert!(invalid::<SearchQuery>(json!({"query": "*", "start": 1_705_311_000_000i64})).contains("end"));
        assert!(
            invalid::<SearchQuery>(json!({"query": "*", "start": 1_705_311_000_000i64, "end": 1_705_300_000_000i64}))
                .contains("end")
        );
    }

    #[test]
    fn search_totals_as_number_or_object_and_refusals() {
        let old = json!({"took": 3, "timed_out": false, "hits": {"total": 8001, "hits": [{"_id": "a"}]}});
        let r = search_result_from(&Doc::from_value(&old), 0).unwrap();
        assert_eq!((r.total_hits, r.took_ms, r.hits.get()), (8001, 3, r#"[{"_id":"a"}]"#));
        let new = json!({"took": 1, "hits": {"total": {"value": 12, "relation": "eq"}, "hits": []}});
        assert_eq!(search_result_from(&Doc::from_value(&new), 5).unwrap().total_hits, 12);
        let refused = json!({"error": "Failed to parse query"});
        assert_eq!(search_result_from(&Doc::from_value(&refused), 0).unwrap_err().case(), "upstream");
        assert_eq!(
            search_result_from(&Doc::from_value(&json!({"took": 1})), 0).unwrap_err().case(),
            "unexpected-response"
        );
    }

    #[test]
    fn subnets_are_typed_and_seensince_is_bounded() {
        // The reference's names (section 2.6): `mostRecentTraffic` and `lastSeen`, epoch ms.
        let v = json!({"sid": 3, "label": "Office", "network": "10.10.3.0/24", "dhcp": true, "uniqueUsernames": false,
            "uniqueHostnames": true, "excluded": false, "latitude": "51.5", "longitude": -0.12,
            "mostRecentTraffic": 1_705_311_000_000i64, "lastSeen": "1705311060000"});
        let s = subnet_from(&v, "s", RawText::of(&v)).unwrap();
        assert_eq!((s.sid, s.dhcp, s.unique_hostnames, s.latitude), (3, true, true, Some(51.5)));
        assert_eq!(s.last_traffic_iso.as_deref(), Some("2024-01-15T09:30:00.000Z"));
        assert_eq!(s.last_seen_iso.as_deref(), Some("2024-01-15T09:31:00.000Z"));
        assert!(s.warnings.is_empty(), "{:?}", s.warnings);
        let old = json!({"sid": -9, "lastTraffic": 1_705_311_000_000i64});
        let s = subnet_from(&old, "s", RawText::of(&old)).unwrap();
        assert_eq!((s.sid, s.last_traffic), (-9, Some(1_705_311_000_000)));
        assert!(invalid::<SubnetFilter>(json!({"seen_since_seconds": 0})).contains("seen_since_seconds"));
        assert!(invalid::<SubnetFilter>(json!({"seen_since_seconds": 15_552_001})).contains("seen_since_seconds"));
    }
}
