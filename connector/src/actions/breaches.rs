//! Model breach actions: list, get, acknowledge, unacknowledge, comment, the connections behind
//! a breach (`/details`) and comments across breaches (`/mbcomments`).

use serde::{Deserialize, Serialize};
use std::sync::Arc;

use serde_json::value::RawValue;
use serde_json::{Value, json};

use super::{Input, PbidInput, ReadBack, Written, confirm_success, flag_set, send_confirmed_write, send_write};
use crate::client::Client;
use crate::error::{Error, Result};
use crate::request::ApiRequest;
use crate::shape::{Doc, Obj, RawText, TryVec, Warning, Warnings, as_i64, one_or_many, read_list, sort_stable};
use crate::times::{Instant, iso_from_ms, now_ms, window};

family_actions! {
    "list-model-breaches" => list_model_breaches,
    "get-model-breach" => get_model_breach,
    "acknowledge-model-breach" => acknowledge_model_breach,
    "unacknowledge-model-breach" => unacknowledge_model_breach,
    "add-model-breach-comment" => add_model_breach_comment,
    "list-model-breach-comments" => list_model_breach_comments,
    "get-model-breach-connections" => get_model_breach_connections,
    "list-comments" => list_comments,
}

/// The window listed when the filter gives none.
const DEFAULT_WINDOW_MS: i64 = 24 * 60 * 60 * 1000;
/// Longest comment accepted; longer text is almost surely a mistake in a playbook.
const MAX_COMMENT_CHARS: usize = 10_000;
/// Largest `count` accepted for `/details` and `/mbcomments`: a bound on the answer's size.
const MAX_ITEM_COUNT: u32 = 10_000;
/// Items `/details` and `/mbcomments` return when no count is given (the `/mbcomments` default).
const DEFAULT_ITEM_COUNT: u32 = 100;

/// Which model breaches to list (see the WIT `breach-filter`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BreachFilter {
    /// Start of the window.
    pub start: Option<Instant>,
    /// End of the window.
    pub end: Option<Instant>,
    /// Lowest score, 0..1.
    pub min_score: Option<f64>,
    /// Only this breach.
    pub pbid: Option<u64>,
    /// Only this device.
    pub did: Option<u64>,
    /// Only this model (local id).
    pub model_pid: Option<u64>,
    /// Only this model (UUID).
    pub model_uuid: Option<String>,
    /// Include acknowledged breaches.
    pub include_acknowledged: Option<bool>,
    /// Filter the window on creation time (default true).
    pub creation_time: Option<bool>,
    /// Leave out model logic.
    pub minimal: Option<bool>,
}

impl Input for BreachFilter {
    fn validate(&self) -> Result<()> {
        window(&self.start, &self.end)?;
        if let Some(score) = self.min_score
            && !(0.0..=1.0).contains(&score)
        {
            return Err(Error::field(
                "min_score",
                format!("{score} is outside 0.0..1.0 (breach scores are fractions; 0.7 means 70%)"),
            ));
        }
        if let Some(uuid) = &self.model_uuid
            && (uuid.is_empty() || uuid.len() > 64 || !uuid.chars().all(|c| c.is_ascii_hexdigit() || c == '-'))
        {
            return Err(Error::field("model_uuid", "is not a model UUID such as 80010119-6d7f-0000-0305-5e0000000325"));
        }
        Ok(())
    }
}

/// A model breach with the fields a playbook branches on (see the WIT `model-breach`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelBreach {
    /// Breach id.
    pub pbid: u64,
    /// First activity, epoch ms.
    pub time: i64,
    /// `time` in ISO 8601 UTC.
    pub time_iso: String,
    /// Creation, epoch ms.
    pub creation_time: i64,
    /// `creation_time` in ISO 8601 UTC.
    pub creation_time_iso: String,
    /// Score 0..1.
    pub score: f64,
    /// Model name.
    pub model_name: String,
    /// Model UUID.
    pub model_uuid: Option<String>,
    /// Model local id.
    pub model_pid: Option<u64>,
    /// Model category.
    pub model_category: Option<String>,
    /// Device id; -1 for a system breach (no device).
    pub device_did: Option<i64>,
    /// Device IP.
    pub device_ip: Option<String>,
    /// Device hostname.
    pub device_hostname: Option<String>,
    /// Device MAC.
    pub device_mac: Option<String>,
    /// Acknowledged or not.
    pub acknowledged: bool,
    /// Comment count.
    pub comment_count: u32,
    /// Threat Visualizer link.
    pub link: String,
    /// The appliance's object as the appliance wrote it: a part of the answer's text, so a big
    /// pull holds each breach once rather than also as a JSON tree or a copy.
    pub raw: RawText,
    /// The fields that could not be read.
    pub warnings: Vec<Warning>,
}

/// A comment on a model breach (see the WIT `breach-comment`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BreachComment {
    /// Breach id.
    pub pbid: u64,
    /// Text.
    pub message: String,
    /// Author.
    pub username: String,
    /// Epoch ms.
    pub time: i64,
    /// `time` in ISO 8601 UTC.
    pub time_iso: String,
    /// The appliance's object.
    pub raw: RawText,
    /// The fields that could not be read.
    pub warnings: Vec<Warning>,
}

/// The result of a state change (see the WIT `change-result`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChangeResult {
    /// The item changed.
    pub id: String,
    /// Its state now.
    pub state: String,
    /// The appliance's answer.
    pub raw: Value,
    /// `None` when the appliance confirmed the change; `Some(true)` when a gateway answered
    /// 502 or 504 instead and reading the item back showed the change applied.
    pub verified: Option<bool>,
}

/// Input of `add-model-breach-comment`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommentInput {
    /// The breach.
    pub pbid: u64,
    /// The comment text.
    pub message: String,
}

impl Input for CommentInput {
    fn validate(&self) -> Result<()> {
        if self.message.trim().is_empty() {
            return Err(Error::field("message", "is empty; write the comment text"));
        }
        if self.message.chars().count() > MAX_COMMENT_CHARS {
            return Err(Error::field("message", format!("is longer than {MAX_COMMENT_CHARS} characters")));
        }
        Ok(())
    }
}

/// Lists breaches matching `filter`, oldest first by creation time.
pub fn list_model_breaches(client: &Client, filter: BreachFilter) -> Result<Vec<ModelBreach>> {
    let window = match (&filter.start, &filter.end) {
        (Some(s), Some(e)) => Some((s.to_epoch_ms("start")?, e.to_epoch_ms("end")?)),
        // A pbid names one breach of any age; otherwise bound the answer, which can be a year of alerts.
        _ if filter.pbid.is_some() => None,
        _ => {
            let now = now_ms();
            Some((now - DEFAULT_WINDOW_MS, now))
        }
    };
    let request = ApiRequest::get("/modelbreaches")
        .opt_param("starttime", window.map(|w| w.0))
        .opt_param("endtime", window.map(|w| w.1))
        .opt_param("creationtime", window.map(|_| filter.creation_time.unwrap_or(true)))
        .opt_param("minscore", filter.min_score)
        .opt_param("pbid", filter.pbid)
        .opt_param("did", filter.did)
        .opt_param("pid", filter.model_pid)
        .opt_param("uuid", filter.model_uuid.as_deref())
        .param("includeacknowledged", filter.include_acknowledged.unwrap_or(false))
        .param("minimal", filter.minimal.unwrap_or(false))
        .param("deviceattop", true)
        .param("expandenums", true);
    // A big pull can be tens of megabytes: the answer is split into its items' text without
    // building a tree of the whole, and each item is read on its own, so memory stays near
    // twice the answer rather than ten times.
    let body = client.send_raw(&request)?;
    // A lone object is one breach, read as a single read: an answer wrapped in something else
    // must not pass for an empty list.
    let shape: Vec<u8> = body.iter().filter(|b| !b.is_ascii_whitespace()).take(3).copied().collect();
    if shape == b"{}" {
        return Ok(Vec::new());
    }
    let lone = shape.first() == Some(&b'{');
    let read = breaches_from_body(client, &request, body, "modelbreaches", &|i| format!("modelbreaches[{i}]"))?;
    let mut breaches = if lone { read.into_iter().try_vec()? } else { readable(read) };
    // The API documents no order; playbooks and pollers want oldest first and no repeats.
    sort_stable(&mut breaches, |a, b| (a.creation_time, a.pbid).cmp(&(b.creation_time, b.pbid)));
    breaches.dedup_by_key(|b| b.pbid);
    Ok(breaches)
}

/// Reads one breach by id.
pub fn get_model_breach(client: &Client, input: PbidInput) -> Result<ModelBreach> {
    let request =
        ApiRequest::get(format!("/modelbreaches/{}", input.pbid)).param("deviceattop", true).param("expandenums", true);
    let body = client.send_raw(&request)?;
    let missing = || Error::NotFound(format!("model breach {} does not exist on the appliance", input.pbid));
    // Appliances answer an unknown pbid with an empty object or list.
    let shape: Vec<u8> = body.iter().filter(|b| !b.is_ascii_whitespace()).take(5).copied().collect();
    if matches!(shape.as_slice(), b"{}" | b"[]" | b"[{}]") {
        return Err(missing());
    }
    breaches_from_body(client, &request, body, "modelbreach", &|_| "modelbreach".to_owned())?
        .into_iter()
        .next()
        .ok_or_else(missing)?
}

/// Acknowledges a breach.
pub fn acknowledge_model_breach(client: &Client, input: PbidInput) -> Result<ChangeResult> {
    set_acknowledged(client, input.pbid, "acknowledge")
}

/// Removes a breach's acknowledgement.
pub fn unacknowledge_model_breach(client: &Client, input: PbidInput) -> Result<ChangeResult> {
    set_acknowledged(client, input.pbid, "unacknowledge")
}

fn set_acknowledged(client: &Client, pbid: u64, verb: &str) -> Result<ChangeResult> {
    let mut body = serde_json::Map::new();
    body.insert(verb.to_owned(), Value::Bool(true));
    // Acknowledging twice leaves the breach acknowledged, so a retry is safe.
    let request = ApiRequest::post_json(format!("/modelbreaches/{pbid}/{verb}"), &body).idempotent(true);
    let what = format!("{verb} of model breach {pbid}");
    let wanted = verb == "acknowledge";
    let read_back = |c: &Client| -> Result<ReadBack> {
        let answer = c.send(&ApiRequest::get(format!("/modelbreaches/{pbid}")))?;
        let item = answer.as_array().and_then(|a| a.first()).unwrap_or(&answer);
        let acknowledged = item.get("acknowledged").cloned().unwrap_or(Value::Null);
        Ok(ReadBack {
            applied: flag_set(Some(&acknowledged)) == wanted,
            seen: json!({ "pbid": pbid, "acknowledged": acknowledged }),
        })
    };
    let (raw, verified) = send_confirmed_write(client, &request, &what, &read_back)?;
    Ok(ChangeResult { id: pbid.to_string(), state: format!("{verb}d"), raw, verified })
}

/// Adds a comment and returns it as stored.
pub fn add_model_breach_comment(client: &Client, input: CommentInput) -> Result<BreachComment> {
    let request =
        ApiRequest::post_json(format!("/modelbreaches/{}/comments", input.pbid), &json!({"message": input.message}));
    let what = format!("comment on model breach {}", input.pbid);
    // After a gateway error the comment is looked for among the breach's comments; the same
    // text posted earlier would also match, which still means the comment is there.
    let read_back = |c: &Client| -> Result<ReadBack> {
        let stored = list_model_breach_comments(c, PbidInput { pbid: input.pbid })?;
        let found = stored.iter().rev().find(|c| c.message == input.message);
        Ok(ReadBack {
            applied: found.is_some(),
            seen: json!({ "pbid": input.pbid, "comments": stored.len(), "found": found.map(|c| c.raw.clone()) }),
        })
    };
    let answer = match send_write(client, &request, &what, &read_back)? {
        Written::Answered(answer) => answer,
        Written::Verified(raw) => {
            let found = raw["read_back"]["found"].clone();
            return comment_from(input.pbid, &found, "comments[-1]", RawText::of(&found));
        }
    };
    // Some versions answer with the created comment, others only with SUCCESS.
    let created = answer.value.as_array().and_then(|a| a.first()).filter(|v| v.get("message").is_some());
    if let (Some(created), Some(raw)) = (created, answer.raw_items(&[]).into_iter().next()) {
        return comment_from(input.pbid, created, "comments[0]", raw);
    }
    confirm_success(&what, &answer.value)?;
    let stored = list_model_breach_comments(client, PbidInput { pbid: input.pbid })?;
    stored.into_iter().rev().find(|c| c.message == input.message).ok_or_else(|| {
        Error::UnexpectedResponse(format!(
            "the appliance confirmed the comment on model breach {} but does not list it; check the breach in the Threat Visualizer",
            input.pbid
        ))
    })
}

/// Lists a breach's comments, oldest first.
pub fn list_model_breach_comments(client: &Client, input: PbidInput) -> Result<Vec<BreachComment>> {
    let answer = Doc::fetch(client, &ApiRequest::get(format!("/modelbreaches/{}/comments", input.pbid)))?;
    let items: Vec<&Value> = crate::shape::array(&answer.value, "comments")?.iter().collect();
    let mut comments =
        read_list(&items, &answer.raw_items(&[]), "comments", &|v, path, raw| comment_from(input.pbid, v, path, raw));
    sort_stable(&mut comments, |a, b| a.time.cmp(&b.time));
    Ok(comments)
}

/// The breaches in a `/modelbreaches` answer, an array or one object, each read or, when its
/// identity cannot be read, the error saying why: the answer is named `path` in errors, its
/// `i`th breach `item_path(i)`.
/// Each item is parsed on its own and keeps its text as a range of the answer; any other shape
/// goes through the general path (and fails naming what was found).
fn breaches_from_body(
    client: &Client,
    request: &ApiRequest,
    body: Vec<u8>,
    path: &str,
    item_path: &dyn Fn(usize) -> String,
) -> Result<Vec<Result<ModelBreach>>> {
    let first = body.iter().find(|b| !b.is_ascii_whitespace()).copied();
    let is_array = first == Some(b'[');
    if !is_array && first != Some(b'{') {
        let answer = crate::client::parse_json(request, &body)?;
        one_or_many(&answer, path)?;
        return Ok(Vec::new());
    }
    let text = String::from_utf8(body).map_err(|e| {
        let why = <serde_json::Error as serde::de::Error>::custom(format!("not UTF-8: {}", e.utf8_error()));
        crate::client::invalid_json(request, &why, e.as_bytes())
    })?;
    let text = Arc::new(text);
    // Each item's place in the answer, as offsets, so the items can share the answer's text.
    let ranges: Vec<std::ops::Range<usize>> = {
        let bad = |e: serde_json::Error| crate::client::invalid_json(request, &e, text.as_bytes());
        let items: Vec<&RawValue> = if is_array {
            serde_json::from_str(&text).map_err(bad)?
        } else {
            vec![serde_json::from_str(&text).map_err(bad)?]
        };
        let base = text.as_ptr() as usize;
        items
            .iter()
            .map(|item| item.get().as_ptr() as usize - base..item.get().as_ptr() as usize - base + item.get().len())
            .collect()
    };
    Ok(ranges
        .into_iter()
        .enumerate()
        .map(|(i, range)| {
            // Valid JSON the tree cannot hold (a number beyond f64) leaves only this item unread.
            let v: Value = serde_json::from_str(&text[range.clone()]).map_err(|e| {
                crate::shape::wrong(&item_path(i), &format!("JSON a tree can hold ({e})"), &Value::Null)
            })?;
            read_breach(client, &v, &item_path(i), RawText::within(text.clone(), range))
        })
        .collect())
}

/// The breaches read, leaving out (and saying on stderr) those whose identity could not be read.
fn readable(items: Vec<Result<ModelBreach>>) -> Vec<ModelBreach> {
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        match item {
            Ok(b) => out.push(b),
            Err(e) => eprintln!("darktrace connector: left out of the list: {}", e.message()),
        }
    }
    out
}

/// The typed fields of one breach object, with `raw` its text. Its identity is its pbid and
/// a time (first activity or creation, each standing in for the other): a breach with no
/// readable time cannot be placed in a window or a poll.
fn read_breach(client: &Client, v: &Value, path: &str, raw: RawText) -> Result<ModelBreach> {
    let w = Warnings::default();
    let o = Obj::item(v, path, &w)?;
    let pbid = o.id_u64("pbid")?;
    let (time, creation_time) = match (o.opt_i64("time"), o.opt_i64("creationTime")) {
        (Some(t), c) => (t, c.unwrap_or(t)),
        (None, Some(c)) => (c, c),
        (None, None) => {
            return Err(o.id_i64("time").err().unwrap_or_else(|| crate::shape::wrong(&o.at("time"), "a time", v)));
        }
    };
    // `model` is `{then, now}` unless historicmodelonly; `then` is the model as it was at alert time.
    let model = o.opt_obj("model").map(|m| m.opt_obj("then").unwrap_or(m));
    let (model_name, model_uuid, model_pid, model_category) = match &model {
        Some(m) => {
            let category = match m.opt_str("category") {
                Some(c) => Some(c),
                None if m.opt_bool("compliance") == Some(true) => Some("Compliance".to_owned()),
                None => None,
            };
            (m.opt_str("name").unwrap_or_default(), m.opt_str("uuid"), m.opt_u64("pid"), category)
        }
        None => (String::new(), None, None, None),
    };
    // Without deviceattop the device sits in the first triggered component.
    let device = o.opt_obj("device").or_else(|| {
        let (components, at) = o.opt_array("triggeredComponents")?;
        o.child(components.first()?, format!("{at}[0]"))?.opt_obj("device")
    });
    let (device_did, device_ip, device_hostname, device_mac) = match &device {
        Some(d) => (d.opt_i64("did"), d.opt_str("ip"), d.opt_str("hostname"), d.opt_str("macaddress")),
        None => (None, None, None, None),
    };
    let score = o.opt_f64("score").unwrap_or(0.0);
    let acknowledged = o.opt_bool("acknowledged").unwrap_or(false);
    let comment_count = o.opt_u64("commentCount").unwrap_or(0).min(u64::from(u32::MAX)) as u32;
    Ok(ModelBreach {
        pbid,
        time,
        time_iso: iso_from_ms(time),
        creation_time,
        creation_time_iso: iso_from_ms(creation_time),
        score,
        model_name,
        model_uuid,
        model_pid,
        model_category,
        device_did,
        device_ip,
        device_hostname,
        device_mac,
        acknowledged,
        comment_count,
        link: format!("{}/#modelbreach/{pbid}", client.connection().base_url()),
        raw,
        warnings: w.take(),
    })
}

/// A comment; `pbid` is the breach asked about when the comment does not name its own.
fn comment_from(pbid: u64, v: &Value, path: &str, raw: RawText) -> Result<BreachComment> {
    let w = Warnings::default();
    let o = Obj::item(v, path, &w)?;
    let time = o.opt_i64("time").unwrap_or(0);
    Ok(BreachComment {
        pbid: o.opt_u64("pbid").unwrap_or(pbid),
        message: o.opt_str("message").unwrap_or_default(),
        username: o.opt_str("username").unwrap_or_default(),
        time,
        time_iso: iso_from_ms(time),
        raw,
        warnings: w.take(),
    })
}

/// Input of `list-comments` (see the WIT `comment-filter`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommentFilter {
    /// Start of the window.
    pub start: Option<Instant>,
    /// End of the window.
    pub end: Option<Instant>,
    /// Only this breach.
    pub pbid: Option<u64>,
    /// Most comments, 1..10000.
    pub count: Option<u32>,
}

impl Input for CommentFilter {
    fn validate(&self) -> Result<()> {
        window(&self.start, &self.end)?;
        check_count(self.count)
    }
}

/// Input of `get-model-breach-connections` (see the WIT `connections-query`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConnectionsQuery {
    /// The breach.
    pub pbid: u64,
    /// Most events, 1..10000.
    pub count: Option<u32>,
    /// Events to skip.
    pub offset: Option<u32>,
}

impl Input for ConnectionsQuery {
    fn validate(&self) -> Result<()> {
        check_count(self.count)
    }
}

/// The breach record at the head of a `/details` answer (see the WIT `breach-record`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BreachRecord {
    /// Breach id.
    pub pbid: u64,
    /// Model name.
    pub model_name: Option<String>,
    /// Model local id.
    pub model_pid: Option<u64>,
    /// Score 0..1.
    pub score: Option<f64>,
    /// Workflow state.
    pub state: Option<String>,
    /// Acknowledged or not.
    pub acknowledged: bool,
    /// First activity, epoch ms.
    pub time: Option<i64>,
    /// `time` in ISO 8601 UTC.
    pub time_iso: Option<String>,
    /// Creation, epoch ms.
    pub creation_time: Option<i64>,
    /// `creation_time` in ISO 8601 UTC.
    pub creation_time_iso: Option<String>,
    /// Breaching devices.
    pub device_ids: Vec<i64>,
    /// The appliance's record.
    pub raw: RawText,
    /// The fields that could not be read.
    pub warnings: Vec<Warning>,
}

/// One connection or event behind a breach (see the WIT `connection-event`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConnectionEvent {
    /// Event type.
    pub event_type: String,
    /// Epoch ms.
    pub time: Option<i64>,
    /// `time` in ISO 8601 UTC.
    pub time_iso: Option<String>,
    /// Source device id (negative for an external or aggregate endpoint).
    pub source_did: Option<i64>,
    /// Destination device id (negative for an external or aggregate endpoint).
    pub destination_did: Option<i64>,
    /// Source address or name.
    pub source: Option<String>,
    /// Destination address or name.
    pub destination: Option<String>,
    /// Destination port.
    pub destination_port: Option<u32>,
    /// Transport protocol.
    pub protocol: Option<String>,
    /// Application protocol.
    pub application_protocol: Option<String>,
    /// `in` or `out`.
    pub direction: Option<String>,
    /// The appliance's object.
    pub raw: RawText,
    /// The fields that could not be read.
    pub warnings: Vec<Warning>,
}

/// The connections behind a breach (see the WIT `breach-connections`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BreachConnections {
    /// The breach asked about.
    pub pbid: u64,
    /// The breach record, when the appliance put it first.
    pub breach: Option<BreachRecord>,
    /// The events, oldest first.
    pub events: Vec<ConnectionEvent>,
}

fn check_count(count: Option<u32>) -> Result<()> {
    match count {
        Some(c) if !(1..=MAX_ITEM_COUNT).contains(&c) => Err(Error::field(
            "count",
            format!("{c} is outside 1..{MAX_ITEM_COUNT}; narrow the request or page with `offset`"),
        )),
        _ => Ok(()),
    }
}

/// Reads the connections and events behind a breach; the breach record the appliance puts
/// first is returned apart.
pub fn get_model_breach_connections(client: &Client, input: ConnectionsQuery) -> Result<BreachConnections> {
    // `count` must not be combined with a time window (API guide), so none is sent.
    let request = ApiRequest::get("/details")
        .param("pbid", input.pbid)
        .param("count", input.count.unwrap_or(DEFAULT_ITEM_COUNT))
        .opt_param("offset", input.offset);
    let answer = Doc::fetch(client, &request)?;
    let items = crate::shape::array(&answer.value, "details")?;
    let raws = answer.raw_items(&[]);
    let mut breach = None;
    let mut events = Vec::with_capacity(items.len());
    for (i, v) in items.iter().enumerate() {
        let path = format!("details[{i}]");
        let raw = raws.get(i).cloned().unwrap_or_else(|| RawText::of(v));
        let kind = v.get("eventType").or(v.get("action")).and_then(Value::as_str).unwrap_or_default().to_owned();
        let read = if kind == "policybreach" && breach.is_none() {
            breach_record_from(v, &path, raw, input.pbid).map(|b| breach = Some(b))
        } else {
            connection_event_from(v, &path, raw, kind).map(|e| events.push(e))
        };
        if let Err(e) = read {
            eprintln!("darktrace connector: left out of the list: {}", e.message());
        }
    }
    // Appliances answer an unknown pbid with an empty list rather than 404.
    if breach.is_none() && events.is_empty() && input.offset.unwrap_or(0) == 0 {
        return Err(Error::NotFound(format!(
            "model breach {} has no record on the appliance; check the pbid",
            input.pbid
        )));
    }
    // The guide calls `/details` time-sorted without saying which way; sort so callers need not care.
    sort_stable(&mut events, |a, b| a.time.unwrap_or(i64::MIN).cmp(&b.time.unwrap_or(i64::MIN)));
    Ok(BreachConnections { pbid: input.pbid, breach, events })
}

/// Lists comments across breaches (`/mbcomments`), oldest first.
pub fn list_comments(client: &Client, filter: CommentFilter) -> Result<Vec<BreachComment>> {
    let window = window(&filter.start, &filter.end)?;
    let request = ApiRequest::get("/mbcomments")
        .opt_param("starttime", window.map(|w| w.0))
        .opt_param("endtime", window.map(|w| w.1))
        .opt_param("pbid", filter.pbid)
        .param("count", filter.count.unwrap_or(DEFAULT_ITEM_COUNT));
    let answer = Doc::fetch(client, &request)?;
    let items: Vec<&Value> = crate::shape::array(&answer.value, "mbcomments")?.iter().collect();
    // Across breaches, a comment's pbid is what it is about: part of its identity.
    let mut comments = read_list(&items, &answer.raw_items(&[]), "mbcomments", &|v, path, raw| {
        let pbid = Obj::item(v, path, &Warnings::default())?.id_u64("pbid")?;
        comment_from(pbid, v, path, raw)
    });
    // The appliance lists newest first; every other list here is oldest first.
    sort_stable(&mut comments, |a, b| (a.time, a.pbid).cmp(&(b.time, b.pbid)));
    Ok(comments)
}

/// The epoch ms of a `/details` item: `timems`, else `time` when it is numeric (it is usually a
/// readable `YYYY-MM-DD HH:MM:SS` string, which `timems` duplicates).
fn details_time(o: &Obj<'_>) -> Option<i64> {
    o.opt_i64("timems").or_else(|| o.get("time").and_then(as_i64))
}

/// The breach record at the head of a `/details` answer: the breach asked about (`asked`),
/// which stands in for a pbid the record does not give readably.
fn breach_record_from(v: &Value, path: &str, raw: RawText, asked: u64) -> Result<BreachRecord> {
    let w = Warnings::default();
    let o = Obj::item(v, path, &w)?;
    let pbid = o.opt_u64("pbid").unwrap_or(asked);
    let time = details_time(&o);
    let creation_time = o.opt_i64("creationTime");
    // Devices come as ids or as device objects.
    let device_ids = o.device_ids("devices");
    Ok(BreachRecord {
        pbid,
        model_name: o.opt_str("name"),
        model_pid: o.opt_u64("pid"),
        score: o.opt_f64("score"),
        state: o.opt_str("state"),
        acknowledged: o.opt_bool("acknowledged").unwrap_or(false),
        time,
        time_iso: time.map(iso_from_ms),
        creation_time,
        creation_time_iso: creation_time.map(iso_from_ms),
        device_ids,
        raw,
        warnings: w.take(),
    })
}

/// One event of a `/details` answer; events have no id, so any object is read.
fn connection_event_from(v: &Value, path: &str, raw: RawText, event_type: String) -> Result<ConnectionEvent> {
    let w = Warnings::default();
    let o = Obj::item(v, path, &w)?;
    let time = details_time(&o);
    let device = |key: &str| o.opt_obj(key).and_then(|d| d.opt_i64("did"));
    let source_did = o.opt_i64("sdid").or_else(|| device("sourceDevice"));
    let destination_did = o.opt_i64("ddid").or_else(|| device("destinationDevice"));
    let port = o.opt_u64("destinationPort").or_else(|| o.opt_u64("port"));
    Ok(ConnectionEvent {
        event_type,
        time,
        time_iso: time.map(iso_from_ms),
        source_did,
        destination_did,
        source: o.opt_str("source"),
        destination: o.opt_str("destination"),
        destination_port: port.and_then(|p| u32::try_from(p).ok()),
        protocol: o.opt_str("protocol"),
        application_protocol: o.opt_str("applicationprotocol"),
        direction: o.opt_str("direction"),
        raw,
        warnings: w.take(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::actions::testing::Canned;
    use crate::connection::Connection;

    /// Answers every request with one canned body and remembers the URLs asked for.
    fn with_answer<T>(body: &'static str, f: impl FnOnce(&Client) -> T) -> (T, Vec<String>) {
        let t = Canned::repeating(body);
        let conn = Connection::new("dt.example.com", "p", "s").unwrap();
        let out = f(&Client::new(conn, &t));
        (out, t.into_sent().into_iter().map(|r| r.url).collect())
    }

    // The shape of the appliance's `/details?pbid=` answer: the breach first (readable `time`,
    // `timems`), then events with `sdid`/`ddid` and devices as objects.
    const DETAILS: &str = r#"[
        {"time":"2025-03-02 08:00:05","timems":1740902405000,"pbid":501,"pid":12,"eventType":"policybreach",
         "creationTime":1740902410000,"name":"Device::Unusual Port","acknowledged":false,"state":"New",
         "score":0.61,"devices":[77],"components":[3]},
        {"time":"2025-03-02 08:00:04","timems":1740902404500,"eventType":"connection","sdid":77,"ddid":80,
         "port":443,"destinationPort":443,"protocol":"TCP","applicationprotocol":"HTTPS","direction":"out",
         "source":"10.1.1.7","destination":"10.1.1.9","sourceDevice":{"did":77},"destinationDevice":{"did":80}},
        {"time":"2025-03-02 07:59:00","timems":1740902340000,"eventType":"notice","sourceDevice":{"did":"77"}}
    ]"#;

    #[test]
    fn details_put_the_breach_record_apart_and_sort_the_events() {
        let (out, urls) = with_answer(DETAILS, |c| {
            get_model_breach_connections(c, ConnectionsQuery { pbid: 501, count: Some(20), offset: None })
        });
        let out = out.unwrap();
        let breach = out.breach.unwrap();
        assert_eq!((breach.pbid, breach.device_ids, breach.state.as_deref()), (501, vec![77], Some("New")));
        assert_eq!(breach.time_iso.as_deref(), Some("2025-03-02T08:00:05.000Z"));
        assert_eq!(out.events.len(), 2);
        assert_eq!(out.events[0].event_type, "notice");
        assert_eq!(out.events[0].source_did, Some(77));
        assert_eq!((out.events[1].destination_did, out.events[1].destination_port), (Some(80), Some(443)));
        assert_eq!(urls, ["https://dt.example.com/details?pbid=501&count=20"]);
    }

    #[test]
    fn details_of_an_unknown_breach_are_not_found() {
        let (out, _) = with_answer("[]", |c| {
            get_model_breach_connections(c, ConnectionsQuery { pbid: 9, count: None, offset: None })
        });
        assert_eq!(out.unwrap_err().case(), "not-found");
    }

    #[test]
    fn details_with_a_wrong_shape_keep_the_record_with_a_warning_naming_the_field() {
        let (out, _) = with_answer(r#"[{"eventType":"policybreach","pbid":"x","devices":[-1,"y"]}, 7]"#, |c| {
            get_model_breach_connections(c, ConnectionsQuery { pbid: 9, count: None, offset: None })
        });
        let breach = out.unwrap().breach.unwrap();
        assert_eq!((breach.pbid, breach.device_ids), (9, vec![-1]));
        let paths: Vec<&str> = breach.warnings.iter().map(|w| w.path.as_str()).collect();
        assert_eq!(paths, ["details[0].pbid", "details[0].devices[1]"]);
        assert_eq!(breach.raw.get(), r#"{"eventType":"policybreach","pbid":"x","devices":[-1,"y"]}"#);
    }

    #[test]
    fn mbcomments_come_back_oldest_first_with_their_pbid() {
        let body = r#"[{"time":1740902500000,"pbid":8,"username":"a","message":"second","pid":3,"name":"M::N"},
                       {"time":1740902400000,"pbid":9,"username":"b","message":"first","pid":3,"name":"M::N"}]"#;
        let (out, urls) = with_answer(body, |c| list_comments(c, CommentFilter::default()));
        let out = out.unwrap();
        assert_eq!(out.iter().map(|c| (c.pbid, c.message.as_str())).collect::<Vec<_>>(), [(9, "first"), (8, "second")]);
        assert_eq!(urls, ["https://dt.example.com/mbcomments?count=100"]);
    }

    #[test]
    fn comment_and_connection_inputs_are_checked() {
        let half = CommentFilter { start: Some(Instant::EpochMs(1_740_902_400_000)), ..Default::default() };
        assert!(half.validate().unwrap_err().message().contains("`end`"));
        let big = CommentFilter { count: Some(10_001), ..Default::default() };
        assert!(big.validate().unwrap_err().message().contains("`count`"));
        let zero = ConnectionsQuery { pbid: 1, count: Some(0), offset: None };
        assert!(zero.validate().unwrap_err().message().contains("`count`"));
    }
}
