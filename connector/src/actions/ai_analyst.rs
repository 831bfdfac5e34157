//! Cyber AI Analyst actions: incident events and incidents (groups), their acknowledgement and
//! pinning, comments, and investigations started on demand.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::breaches::ChangeResult;
use super::{Input, ReadBack, confirm_success, flag_set, send_confirmed_write};
use crate::client::Client;
use crate::error::{Error, Result};
use crate::request::ApiRequest;
use crate::shape::{Doc, Obj, RawText, Warning, Warnings, as_text, one_or_many, read_list, read_many, sort_stable};
use crate::times::{Instant, iso_from_ms, window};

family_actions! {
    "list-ai-analyst-incidents" => list_ai_analyst_incidents,
    "get-ai-analyst-incident" => get_ai_analyst_incident,
    "list-ai-analyst-groups" => list_ai_analyst_groups,
    "get-ai-analyst-group" => get_ai_analyst_group,
    "acknowledge-ai-analyst-incident" => acknowledge_ai_analyst_incident,
    "unacknowledge-ai-analyst-incident" => unacknowledge_ai_analyst_incident,
    "pin-ai-analyst-incident" => pin_ai_analyst_incident,
    "unpin-ai-analyst-incident" => unpin_ai_analyst_incident,
    "add-ai-analyst-comment" => add_ai_analyst_comment,
    "list-ai-analyst-comments" => list_ai_analyst_comments,
    "start-ai-analyst-investigation" => start_ai_analyst_investigation,
    "get-ai-analyst-investigation" => get_ai_analyst_investigation,
}

/// The locales `/aianalyst/incidentevents` documents; anything else is refused before sending,
/// since the appliance silently falls back to English.
pub const LOCALES: &[&str] =
    &["en_GB", "en_US", "de_DE", "es_ES", "es_419", "fr_FR", "it_IT", "ja_JP", "ko_KR", "pt_BR", "zh_Hans", "zh_Hant"];
/// Most event ids one acknowledge/pin call takes: a bound on the form body.
const MAX_UUIDS: usize = 100;
/// Longest comment accepted.
const MAX_COMMENT_CHARS: usize = 10_000;
/// Deepest summary template rendered; real summaries nest three levels.
const MAX_SUMMARY_DEPTH: usize = 16;
/// Below this a time is taken as seconds: 1e11 seconds is the year 5138, 1e11 ms is 1973.
const SECONDS_BELOW: i64 = 100_000_000_000;

/// Which incident events to list (see the WIT `incident-filter`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IncidentFilter {
    /// Start of the window.
    pub start: Option<Instant>,
    /// End of the window.
    pub end: Option<Instant>,
    /// Include acknowledged events.
    pub include_acknowledged: Option<bool>,
    /// Include pinned events outside the window (default true).
    pub include_pinned: Option<bool>,
    /// Lowest event score, 0..100.
    pub min_score: Option<f64>,
    /// Highest event score, 0..100.
    pub max_score: Option<f64>,
    /// Lowest incident score, 0..100.
    pub min_group_score: Option<f64>,
    /// Only this device.
    pub did: Option<u64>,
    /// Only this incident.
    pub group_id: Option<String>,
    /// Only compliance incidents.
    pub compliance: Option<bool>,
    /// Only suspicious incidents.
    pub suspicious: Option<bool>,
    /// Only critical incidents.
    pub critical: Option<bool>,
    /// Language of titles and summaries.
    pub locale: Option<String>,
}

impl Input for IncidentFilter {
    fn validate(&self) -> Result<()> {
        window(&self.start, &self.end)?;
        scores(self.min_score, self.max_score)?;
        percent("min_group_score", self.min_group_score)?;
        if let Some(id) = &self.group_id {
            check_group_id("group_id", id)?;
        }
        if let Some(locale) = &self.locale
            && !LOCALES.contains(&locale.as_str())
        {
            return Err(Error::field(
                "locale",
                format!("`{}` is not a locale the AI Analyst offers; use one of {}", clip(locale), LOCALES.join(", ")),
            ));
        }
        Ok(())
    }
}

/// Which incidents to list (see the WIT `group-filter`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupFilter {
    /// Start of the window.
    pub start: Option<Instant>,
    /// End of the window.
    pub end: Option<Instant>,
    /// Include acknowledged incidents.
    pub include_acknowledged: Option<bool>,
    /// Include pinned incidents outside the window (default true).
    pub include_pinned: Option<bool>,
    /// Lowest incident score, 0..100.
    pub min_score: Option<f64>,
    /// Highest incident score, 0..100.
    pub max_score: Option<f64>,
    /// Only this device.
    pub did: Option<u64>,
    /// Only compliance incidents.
    pub compliance: Option<bool>,
    /// Only suspicious incidents.
    pub suspicious: Option<bool>,
    /// Only critical incidents.
    pub critical: Option<bool>,
}

impl Input for GroupFilter {
    fn validate(&self) -> Result<()> {
        window(&self.start, &self.end)?;
        scores(self.min_score, self.max_score)
    }
}

/// Input of actions that take one incident event id.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UuidInput {
    /// The event id, a UUID.
    pub uuid: String,
}

impl Input for UuidInput {
    fn validate(&self) -> Result<()> {
        check_uuid("uuid", &self.uuid)
    }
}

/// Input of actions that take one incident id.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupIdInput {
    /// The incident id, `g` followed by a UUID.
    pub group_id: String,
}

impl Input for GroupIdInput {
    fn validate(&self) -> Result<()> {
        check_group_id("group_id", &self.group_id)
    }
}

/// Input of the acknowledge, unacknowledge, pin and unpin actions.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UuidsInput {
    /// Event ids, UUIDs.
    pub uuids: Vec<String>,
}

impl Input for UuidsInput {
    fn validate(&self) -> Result<()> {
        if self.uuids.is_empty() {
            return Err(Error::field("uuids", "is empty; give one or more incident event ids"));
        }
        if self.uuids.len() > MAX_UUIDS {
            return Err(Error::field(
                "uuids",
                format!("has {} ids; give at most {MAX_UUIDS} per call", self.uuids.len()),
            ));
        }
        for (i, uuid) in self.uuids.iter().enumerate() {
            check_uuid(&format!("uuids[{i}]"), uuid)?;
        }
        Ok(())
    }
}

/// Input of `list-ai-analyst-comments`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IncidentIdInput {
    /// The event id, a UUID.
    pub incident_id: String,
}

impl Input for IncidentIdInput {
    fn validate(&self) -> Result<()> {
        check_uuid("incident_id", &self.incident_id)
    }
}

/// Input of `add-ai-analyst-comment`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IncidentCommentInput {
    /// The event id, a UUID.
    pub incident_id: String,
    /// The comment text.
    pub message: String,
}

impl Input for IncidentCommentInput {
    fn validate(&self) -> Result<()> {
        check_uuid("incident_id", &self.incident_id)?;
        if self.message.trim().is_empty() {
            return Err(Error::field("message", "is empty; write the comment text"));
        }
        if self.message.chars().count() > MAX_COMMENT_CHARS {
            return Err(Error::field("message", format!("is longer than {MAX_COMMENT_CHARS} characters")));
        }
        Ok(())
    }
}

/// Input of `start-ai-analyst-investigation`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InvestigationInput {
    /// The device to investigate.
    pub did: u64,
    /// The instant to investigate around.
    pub investigate_time: Instant,
}

impl Input for InvestigationInput {
    fn validate(&self) -> Result<()> {
        self.investigate_time.to_epoch_ms("investigate_time").map(|_| ())
    }
}

/// Input of `get-ai-analyst-investigation`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InvestigationIdInput {
    /// The investigation id.
    pub investigation_id: String,
}

impl Input for InvestigationIdInput {
    fn validate(&self) -> Result<()> {
        let id = self.investigation_id.trim();
        if id.is_empty() || id.len() > 128 || !id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
            return Err(Error::field(
                "investigation_id",
                "is not an investigation id (letters, digits, `-` and `_`, as start-ai-analyst-investigation returns it)",
            ));
        }
        Ok(())
    }
}

/// A device an incident event is about (see the WIT `breach-device`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BreachDevice {
    /// Device id (signed: the appliance's sentinel ids are negative); a SaaS account is a
    /// device too, in the appliance's pseudo-subnet -9.
    pub did: Option<i64>,
    /// IP address.
    pub ip: Option<String>,
    /// Hostname or identifier.
    pub hostname: Option<String>,
    /// MAC address.
    pub mac: Option<String>,
}

/// An incident event (see the WIT `incident-event`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IncidentEvent {
    /// Event id.
    pub id: String,
    /// Incident id.
    pub group_id: Option<String>,
    /// Title.
    pub title: String,
    /// Event category.
    pub category: Option<String>,
    /// Incident category.
    pub group_category: Option<String>,
    /// Event score 0..100.
    pub aia_score: Option<f64>,
    /// Incident score 0..100.
    pub group_score: Option<f64>,
    /// Acknowledged or not.
    pub acknowledged: bool,
    /// Pinned or not.
    pub pinned: bool,
    /// Creation, epoch ms.
    pub created_at: i64,
    /// `created_at` in ISO 8601 UTC.
    pub created_at_iso: String,
    /// Readable summary.
    pub summary: String,
    /// MITRE tactics.
    pub mitre_tactics: Vec<String>,
    /// Devices involved.
    pub breach_devices: Vec<BreachDevice>,
    /// Related model breach ids.
    pub related_pbids: Vec<u64>,
    /// Threat Visualizer link.
    pub link: Option<String>,
    /// The appliance's object.
    pub raw: RawText,
    /// The fields that could not be read.
    pub warnings: Vec<Warning>,
}

/// An incident (see the WIT `incident-group`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IncidentGroup {
    /// Incident id.
    pub id: String,
    /// Category.
    pub category: Option<String>,
    /// Score 0..100.
    pub group_score: Option<f64>,
    /// Acknowledged or not.
    pub acknowledged: bool,
    /// Pinned or not.
    pub pinned: bool,
    /// Still receiving events.
    pub active: bool,
    /// Start, epoch ms.
    pub start: Option<i64>,
    /// `start` in ISO 8601 UTC.
    pub start_iso: Option<String>,
    /// End, epoch ms.
    pub end: Option<i64>,
    /// `end` in ISO 8601 UTC.
    pub end_iso: Option<String>,
    /// Event ids.
    pub incident_event_ids: Vec<String>,
    /// Device ids (negative ids are the appliance's sentinels).
    pub device_ids: Vec<i64>,
    /// MITRE tactics.
    pub mitre_tactics: Vec<String>,
    /// Threat Visualizer link.
    pub link: String,
    /// The appliance's object.
    pub raw: RawText,
    /// The fields that could not be read.
    pub warnings: Vec<Warning>,
}

/// A comment on an incident event (see the WIT `incident-comment`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IncidentComment {
    /// Event id.
    pub incident_id: String,
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

/// An investigation (see the WIT `investigation`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Investigation {
    /// Investigation id.
    pub id: String,
    /// `pending`, `processing` or `finished`.
    pub status: String,
    /// Device investigated.
    pub did: Option<i64>,
    /// Instant investigated, epoch ms.
    pub investigate_time: Option<i64>,
    /// `investigate_time` in ISO 8601 UTC.
    pub investigate_time_iso: Option<String>,
    /// When requested, epoch ms.
    pub time: Option<i64>,
    /// `time` in ISO 8601 UTC.
    pub time_iso: Option<String>,
    /// Incident event ids found.
    pub incident_ids: Vec<String>,
    /// Related model breach ids.
    pub related_pbids: Vec<u64>,
    /// The appliance's object.
    pub raw: RawText,
    /// The fields that could not be read.
    pub warnings: Vec<Warning>,
}

/// Lists incident events, oldest first by creation time, without repeats.
pub fn list_ai_analyst_incidents(client: &Client, filter: IncidentFilter) -> Result<Vec<IncidentEvent>> {
    let window = window(&filter.start, &filter.end)?;
    // Category flags are `group*` here but bare on `/aianalyst/groups` (API guide).
    let request = ApiRequest::get("/aianalyst/incidentevents")
        .opt_param("starttime", window.map(|w| w.0))
        .opt_param("endtime", window.map(|w| w.1))
        .param("includeacknowledged", filter.include_acknowledged.unwrap_or(false))
        .param("includeallpinned", filter.include_pinned.unwrap_or(true))
        .opt_param("minscore", filter.min_score)
        .opt_param("maxscore", filter.max_score)
        .opt_param("mingroupscore", filter.min_group_score)
        .opt_param("did", filter.did)
        .opt_param("groupid", filter.group_id.as_deref())
        .opt_param("groupcompliance", filter.compliance)
        .opt_param("groupsuspicious", filter.suspicious)
        .opt_param("groupcritical", filter.critical)
        .opt_param("locale", filter.locale.as_deref());
    let answer = Doc::fetch(client, &request)?;
    let mut events = read_many(&answer.value, &answer.raw_items(&[]), "incidentevents", &|v, path, raw| {
        incident_from(client, v, path, raw)
    })?;
    // No documented order, and appliances have been seen to repeat an event.
    sort_stable(&mut events, |a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
    events.dedup_by(|a, b| a.id == b.id);
    Ok(events)
}

/// Reads one incident event by id.
pub fn get_ai_analyst_incident(client: &Client, input: UuidInput) -> Result<IncidentEvent> {
    // `uuid` overrides every other filter on the appliance, window and acknowledgement included.
    let answer = Doc::fetch(client, &ApiRequest::get("/aianalyst/incidentevents").param("uuid", input.uuid.trim()))?;
    let (at, item) = one_or_many(&answer.value, "incidentevents")?
        .into_iter()
        .enumerate()
        .find(|(_, v)| v.get("id").and_then(Value::as_str).is_some_and(|id| id.eq_ignore_ascii_case(input.uuid.trim())))
        .ok_or_else(|| {
            Error::NotFound(format!("AI Analyst incident event {} is not known to the appliance", input.uuid.trim()))
        })?;
    incident_from(client, item, &format!("incidentevents[{at}]"), item_raw(&answer, at, item))
}

/// Lists incidents, oldest first by start, without repeats.
pub fn list_ai_analyst_groups(client: &Client, filter: GroupFilter) -> Result<Vec<IncidentGroup>> {
    let window = window(&filter.start, &filter.end)?;
    let request = ApiRequest::get("/aianalyst/groups")
        .opt_param("starttime", window.map(|w| w.0))
        .opt_param("endtime", window.map(|w| w.1))
        .param("includeacknowledged", filter.include_acknowledged.unwrap_or(false))
        .param("includeallpinned", filter.include_pinned.unwrap_or(true))
        .opt_param("minscore", filter.min_score)
        .opt_param("maxscore", filter.max_score)
        .opt_param("did", filter.did)
        .opt_param("compliance", filter.compliance)
        .opt_param("suspicious", filter.suspicious)
        .opt_param("critical", filter.critical);
    let answer = Doc::fetch(client, &request)?;
    let mut groups =
        read_many(&answer.value, &answer.raw_items(&[]), "groups", &|v, path, raw| group_from(client, v, path, raw))?;
    sort_stable(&mut groups, |a, b| (a.start, &a.id).cmp(&(b.start, &b.id)));
    groups.dedup_by(|a, b| a.id == b.id);
    Ok(groups)
}

/// Reads one incident by id.
pub fn get_ai_analyst_group(client: &Client, input: GroupIdInput) -> Result<IncidentGroup> {
    let id = input.group_id.trim();
    let answer = Doc::fetch(client, &ApiRequest::get("/aianalyst/groups").param("groupid", id))?;
    let (at, item) = one_or_many(&answer.value, "groups")?
        .into_iter()
        .enumerate()
        .find(|(_, v)| v.get("id").and_then(Value::as_str).is_some_and(|g| g.eq_ignore_ascii_case(id)))
        .ok_or_else(|| Error::NotFound(format!("AI Analyst incident {id} is not known to the appliance")))?;
    group_from(client, item, &format!("groups[{at}]"), item_raw(&answer, at, item))
}

/// Acknowledges incident events.
pub fn acknowledge_ai_analyst_incident(client: &Client, input: UuidsInput) -> Result<Vec<ChangeResult>> {
    change_state(client, input, "acknowledge", "acknowledged")
}

/// Removes incident events' acknowledgement.
pub fn unacknowledge_ai_analyst_incident(client: &Client, input: UuidsInput) -> Result<Vec<ChangeResult>> {
    change_state(client, input, "unacknowledge", "unacknowledged")
}

/// Pins incident events.
pub fn pin_ai_analyst_incident(client: &Client, input: UuidsInput) -> Result<Vec<ChangeResult>> {
    change_state(client, input, "pin", "pinned")
}

/// Unpins incident events.
pub fn unpin_ai_analyst_incident(client: &Client, input: UuidsInput) -> Result<Vec<ChangeResult>> {
    change_state(client, input, "unpin", "unpinned")
}

fn change_state(client: &Client, input: UuidsInput, verb: &str, state: &str) -> Result<Vec<ChangeResult>> {
    let mut uuids: Vec<String> = input.uuids.iter().map(|u| u.trim().to_ascii_lowercase()).collect();
    uuids.dedup();
    // These endpoints take a form body, not JSON (API guide); several ids go comma-separated.
    // Each verb sets a flag to one value, so a retry is safe.
    let request = ApiRequest::post_form(format!("/aianalyst/{verb}"), &[("uuid", uuids.join(","))]).idempotent(true);
    let what = format!("{verb} of AI Analyst incident event(s) {}", uuids.join(", "));
    // The flag each verb sets, and the value it sets it to.
    let (flag, wanted) = match verb {
        "acknowledge" => ("acknowledged", true),
        "unacknowledge" => ("acknowledged", false),
        "pin" => ("pinned", true),
        _ => ("pinned", false),
    };
    let read_back = |c: &Client| -> Result<ReadBack> {
        let mut seen = serde_json::Map::new();
        let mut applied = true;
        // One read per event: `uuid` overrides every other filter, acknowledgement included.
        for uuid in &uuids {
            let answer = c.send(&ApiRequest::get("/aianalyst/incidentevents").param("uuid", uuid))?;
            let value = one_or_many(&answer, "incidentevents")?
                .into_iter()
                .find(|v| v.get("id").and_then(Value::as_str).is_some_and(|id| id.eq_ignore_ascii_case(uuid)))
                .and_then(|v| v.get(flag).cloned())
                .unwrap_or(Value::Null);
            applied &= flag_set(Some(&value)) == wanted;
            seen.insert(uuid.clone(), json!({ flag: value }));
        }
        Ok(ReadBack { applied, seen: Value::Object(seen) })
    };
    let (raw, verified) = send_confirmed_write(client, &request, &what, &read_back)?;
    Ok(uuids.into_iter().map(|id| ChangeResult { id, state: state.to_owned(), raw: raw.clone(), verified }).collect())
}

/// Adds a comment to an incident event and returns it as stored.
pub fn add_ai_analyst_comment(client: &Client, input: IncidentCommentInput) -> Result<IncidentComment> {
    let incident_id = input.incident_id.trim().to_owned();
    let request = ApiRequest::post_json(
        "/aianalyst/incident/comments",
        &json!({"incident_id": incident_id, "message": input.message}),
    );
    let answer = client.send(&request)?;
    confirm_success(&format!("comment on AI Analyst incident event {incident_id}"), &answer)?;
    let stored = list_ai_analyst_comments(client, IncidentIdInput { incident_id: incident_id.clone() })?;
    stored.into_iter().rev().find(|c| c.message == input.message).ok_or_else(|| {
        Error::UnexpectedResponse(format!(
            "the appliance confirmed the comment on AI Analyst incident event {incident_id} but does not list it \
             (some 7.x versions are reported to drop these comments); check the incident in the Threat Visualizer"
        ))
    })
}

/// Lists the comments on an incident event, oldest first.
pub fn list_ai_analyst_comments(client: &Client, input: IncidentIdInput) -> Result<Vec<IncidentComment>> {
    let incident_id = input.incident_id.trim();
    let answer =
        Doc::fetch(client, &ApiRequest::get("/aianalyst/incident/comments").param("incident_id", incident_id))?;
    // Documented as `{"comments": [...]}`; a bare list is accepted too.
    let (items, at, keys): (&Vec<Value>, &str, &[&str]) = match &answer.value {
        Value::Array(items) => (items, "comments", &[]),
        Value::Object(map) => match map.get("comments") {
            Some(Value::Array(items)) => (items, "comments", &["comments"]),
            Some(other) => return Err(crate::shape::wrong("comments", "an array", other)),
            None => return Ok(Vec::new()),
        },
        other => return Err(crate::shape::wrong("answer", "an object", other)),
    };
    let items: Vec<&Value> = items.iter().collect();
    let mut comments = read_list(&items, &answer.raw_items(keys), at, &|v, path, raw| {
        let w = Warnings::default();
        let o = Obj::item(v, path, &w)?;
        let time = o.opt_i64("time").unwrap_or(0);
        Ok(IncidentComment {
            incident_id: o.opt_str("incident_id").unwrap_or_else(|| incident_id.to_owned()),
            message: o.opt_str("message").unwrap_or_default(),
            username: o.opt_str("username").unwrap_or_default(),
            time,
            time_iso: iso_from_ms(time),
            raw,
            warnings: w.take(),
        })
    });
    sort_stable(&mut comments, |a, b| a.time.cmp(&b.time));
    Ok(comments)
}

/// Starts an investigation of a device around an instant.
pub fn start_ai_analyst_investigation(client: &Client, input: InvestigationInput) -> Result<Investigation> {
    let ms = input.investigate_time.to_epoch_ms("investigate_time")?;
    // The guide's examples give epoch seconds, as a string.
    let body = json!({"investigateTime": (ms / 1000).to_string(), "did": input.did});
    let answer = Doc::fetch(client, &ApiRequest::post_json("/aianalyst/investigations", &body))?;
    let item = match &answer.value {
        Value::Array(items) => items.first().unwrap_or(&Value::Null),
        other => other,
    };
    let mut started = investigation_from(item, "investigation", item_raw(&answer, 0, item))?;
    // The reply may carry only the id; fill in what was asked for.
    started.did = started.did.or(i64::try_from(input.did).ok());
    if started.investigate_time.is_none() {
        let whole_seconds = ms - ms.rem_euclid(1000);
        started.investigate_time = Some(whole_seconds);
        started.investigate_time_iso = Some(iso_from_ms(whole_seconds));
    }
    Ok(started)
}

/// Reads an investigation and its progress.
pub fn get_ai_analyst_investigation(client: &Client, input: InvestigationIdInput) -> Result<Investigation> {
    let id = input.investigation_id.trim();
    let answer = Doc::fetch(client, &ApiRequest::get("/aianalyst/investigations").param("investigationId", id))?;
    let items = match &answer.value {
        Value::Object(map) if map.is_empty() => Vec::new(),
        other => one_or_many(other, "investigations")?,
    };
    let (at, item) = items
        .into_iter()
        .enumerate()
        .find(|(_, v)| investigation_id(v).is_some_and(|got| got == id))
        .ok_or_else(|| Error::NotFound(format!("AI Analyst investigation {id} is not known to the appliance")))?;
    investigation_from(item, &format!("investigations[{at}]"), item_raw(&answer, at, item))
}

/// The text of the `at`th item of `answer` (an array, or one object), which is `item`.
fn item_raw(answer: &Doc, at: usize, item: &Value) -> RawText {
    answer.raw_items(&[]).into_iter().nth(at).unwrap_or_else(|| RawText::of(item))
}

/// Normalises one incident event as the appliance sends it. Its identity is its id and its
/// creation time, which places it in a poll.
pub fn incident_from(client: &Client, v: &Value, path: &str, raw: RawText) -> Result<IncidentEvent> {
    let w = Warnings::default();
    let o = Obj::item(v, path, &w)?;
    let id = o.id_str("id")?;
    let group_id = o.opt_str("currentGroup");
    let created_at = o.id_i64("createdAt")?;
    let breach_devices = match o.opt_array("breachDevices") {
        Some((items, at)) => items
            .iter()
            .enumerate()
            .filter_map(|(i, d)| {
                let d = o.child(d, format!("{at}[{i}]"))?;
                Some(BreachDevice {
                    did: d.opt_i64("did"),
                    ip: d.opt_str("ip"),
                    hostname: d.opt_str("hostname").or_else(|| d.opt_str("identifier")),
                    mac: d.opt_str("mac"),
                })
            })
            .collect(),
        None => Vec::new(),
    };
    let related_pbids = match o.opt_array("relatedBreaches") {
        Some((items, at)) => {
            items.iter().enumerate().filter_map(|(i, b)| o.child(b, format!("{at}[{i}]"))?.opt_u64("pbid")).collect()
        }
        None => Vec::new(),
    };
    let summary = match o.get("summary") {
        Some(s) => render_summary(s, 0),
        None => String::new(),
    };
    Ok(IncidentEvent {
        link: group_id.as_ref().map(|g| format!("{}/#aiagroup/{g}", client.connection().base_url())),
        id,
        group_id,
        title: o.opt_str("title").unwrap_or_default(),
        category: o.opt_str("category"),
        group_category: o.opt_str("groupCategory"),
        aia_score: o.opt_f64("aiaScore"),
        group_score: o.opt_f64("groupScore"),
        acknowledged: o.opt_bool("acknowledged").unwrap_or(false),
        pinned: o.opt_bool("pinned").unwrap_or(false),
        created_at,
        created_at_iso: iso_from_ms(created_at),
        summary,
        mitre_tactics: strings(&o, "mitreTactics"),
        breach_devices,
        related_pbids,
        raw,
        warnings: w.take(),
    })
}

/// Normalises one incident (group) as the appliance sends it; its identity is its id.
pub fn group_from(client: &Client, v: &Value, path: &str, raw: RawText) -> Result<IncidentGroup> {
    let w = Warnings::default();
    let o = Obj::item(v, path, &w)?;
    let id = o.id_str("id")?;
    let start = o.opt_i64("start");
    let end = o.opt_i64("end");
    let incident_event_ids = match o.opt_array("incidentEvents") {
        Some((items, at)) => items
            .iter()
            .enumerate()
            .filter_map(|(i, e)| match e {
                Value::String(s) => Some(s.clone()),
                _ => o.child(e, format!("{at}[{i}]"))?.opt_str("uuid"),
            })
            .collect(),
        None => Vec::new(),
    };
    let device_ids = o.device_ids("devices");
    Ok(IncidentGroup {
        link: format!("{}/#aiagroup/{id}", client.connection().base_url()),
        id,
        category: o.opt_str("category"),
        group_score: o.opt_f64("groupScore"),
        acknowledged: o.opt_bool("acknowledged").unwrap_or(false),
        pinned: o.opt_bool("pinned").unwrap_or(false),
        active: o.opt_bool("active").unwrap_or(false),
        start,
        start_iso: start.map(iso_from_ms),
        end,
        end_iso: end.map(iso_from_ms),
        incident_event_ids,
        device_ids,
        mitre_tactics: strings(&o, "mitreTactics"),
        raw,
        warnings: w.take(),
    })
}

fn investigation_id(v: &Value) -> Option<String> {
    ["investigationId", "id"].iter().find_map(|k| as_text(v.get(*k)?).filter(|s| !s.is_empty()))
}

/// Normalises an investigation; its `time` and `investigationTime` are epoch seconds. Its
/// identity is its id (`investigationId`, or `id`).
fn investigation_from(v: &Value, path: &str, raw: RawText) -> Result<Investigation> {
    let w = Warnings::default();
    let o = Obj::item(v, path, &w)?;
    let id = match investigation_id(v) {
        Some(id) => id,
        None => o.id_str("investigationId")?,
    };
    let investigate_time = o.opt_i64("investigationTime").or_else(|| o.opt_i64("investigateTime")).map(seconds_to_ms);
    let time = o.opt_i64("time").map(seconds_to_ms);
    let mut incident_ids = Vec::new();
    let mut related_pbids = Vec::new();
    if let Some((items, at)) = o.opt_array("incidents") {
        for (i, item) in items.iter().enumerate() {
            match item {
                Value::String(s) => incident_ids.push(s.clone()),
                _ => {
                    let Some(inc) = o.child(item, format!("{at}[{i}]")) else { continue };
                    if let Some(uuid) = inc.opt_str("uuid").or_else(|| inc.opt_str("id")) {
                        incident_ids.push(uuid);
                    }
                    related_pbids.extend(pbids_of(&inc));
                }
            }
        }
    }
    related_pbids.extend(pbids_of(&o));
    related_pbids.sort_unstable();
    related_pbids.dedup();
    Ok(Investigation {
        id,
        status: o.opt_str("status").or_else(|| o.opt_str("state")).unwrap_or_else(|| "pending".to_owned()),
        did: o.opt_i64("did"),
        investigate_time,
        investigate_time_iso: investigate_time.map(iso_from_ms),
        time,
        time_iso: time.map(iso_from_ms),
        incident_ids,
        related_pbids,
        raw,
        warnings: w.take(),
    })
}

/// Breach ids listed under `pbids` (numbers) or `relatedBreaches` (objects with `pbid`).
fn pbids_of(o: &Obj<'_>) -> Vec<u64> {
    let mut out = Vec::new();
    if let Some((items, at)) = o.opt_array("pbids") {
        for (i, p) in items.iter().enumerate() {
            out.extend(o.element(p, &format!("{at}[{i}]"), "a model breach id", crate::shape::as_u64));
        }
    }
    if let Some((items, at)) = o.opt_array("relatedBreaches") {
        for (i, b) in items.iter().enumerate() {
            out.extend(o.child(b, format!("{at}[{i}]")).and_then(|b| b.opt_u64("pbid")));
        }
    }
    out
}

/// Epoch seconds to milliseconds; a value already in milliseconds is kept, so an appliance that
/// switches units does not produce dates in 1970 or in the year 50000.
fn seconds_to_ms(t: i64) -> i64 {
    if t.abs() < SECONDS_BELOW { t.saturating_mul(1000) } else { t }
}

/// Renders a summary: a plain string as is, or a `formatString` template with each `{}` replaced
/// by its rendered replacement (a nested template, a string, a number, or a host or device
/// object shown by its identifier, hostname or IP).
pub fn render_summary(v: &Value, depth: usize) -> String {
    if depth > MAX_SUMMARY_DEPTH {
        return String::new();
    }
    match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Array(items) => items.iter().map(|i| render_summary(i, depth + 1)).collect::<Vec<_>>().join(", "),
        Value::Null => String::new(),
        Value::Object(map) => {
            let template = match map.get("value") {
                Some(Value::String(s)) => s.clone(),
                Some(inner @ Value::Object(_)) => return entity_name(inner),
                Some(other) => return render_summary(other, depth + 1),
                None => return entity_name(v),
            };
            let is_template = map.get("valueType").and_then(Value::as_str) == Some("formatString");
            let Some(Value::Array(replacements)) = map.get("replacements").filter(|_| is_template) else {
                return template;
            };
            let mut out = String::with_capacity(template.len());
            let mut parts = template.split("{}");
            let mut replacements = replacements.iter();
            if let Some(first) = parts.next() {
                out.push_str(first);
            }
            for part in parts {
                match replacements.next() {
                    Some(r) => out.push_str(&render_summary(r, depth + 1)),
                    None => out.push_str("{}"),
                }
                out.push_str(part);
            }
            out
        }
    }
}

/// A readable name for a host or device object in a summary.
fn entity_name(v: &Value) -> String {
    ["hostname", "identifier", "ip", "value"]
        .iter()
        .find_map(|k| v.get(*k).and_then(Value::as_str).filter(|s| !s.is_empty()))
        .unwrap_or_default()
        .to_owned()
}

/// The strings of the array at `key`; an element that is not one is a warning.
fn strings(o: &Obj<'_>, key: &str) -> Vec<String> {
    match o.opt_array(key) {
        Some((items, at)) => items
            .iter()
            .enumerate()
            .filter_map(|(i, s)| o.element(s, &format!("{at}[{i}]"), "a string", |v| v.as_str().map(str::to_owned)))
            .collect(),
        None => Vec::new(),
    }
}

fn percent(field: &str, score: Option<f64>) -> Result<()> {
    match score {
        Some(s) if !(0.0..=100.0).contains(&s) => {
            Err(Error::field(field, format!("{s} is outside 0..100 (AI Analyst scores are percentages)")))
        }
        _ => Ok(()),
    }
}

fn scores(min: Option<f64>, max: Option<f64>) -> Result<()> {
    percent("min_score", min)?;
    percent("max_score", max)?;
    if let (Some(lo), Some(hi)) = (min, max)
        && lo > hi
    {
        return Err(Error::field("max_score", format!("{hi} is below `min_score` {lo}")));
    }
    Ok(())
}

fn is_uuid(s: &str) -> bool {
    let groups: Vec<&str> = s.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, len)| g.len() == len && g.chars().all(|c| c.is_ascii_hexdigit()))
}

fn check_uuid(field: &str, value: &str) -> Result<()> {
    let v = value.trim();
    if is_uuid(v) {
        return Ok(());
    }
    let hint = if v.strip_prefix('g').is_some_and(is_uuid) {
        " (that is an incident id: drop the leading `g` only if you mean the event of the same id)"
    } else {
        ""
    };
    Err(Error::field(
        field,
        format!("`{}` is not an incident event id such as 4f0a8b2c-1d3e-4f5a-9b6c-7d8e9f0a1b2c{hint}", clip(v)),
    ))
}

fn check_group_id(field: &str, value: &str) -> Result<()> {
    let v = value.trim();
    if let Some(rest) = v.strip_prefix('g')
        && is_uuid(rest)
    {
        return Ok(());
    }
    let hint = if is_uuid(v) { " (that looks like an event id: incident ids start with `g`)" } else { "" };
    Err(Error::field(
        field,
        format!("`{}` is not an incident id such as g4f0a8b2c-1d3e-4f5a-9b6c-7d8e9f0a1b2c{hint}", clip(v)),
    ))
}

fn clip(s: &str) -> String {
    s.chars().take(64).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::actions::testing::Canned;
    use crate::connection::Connection;

    /// The URL and body of each request sent.
    type Sent = Vec<(String, Option<Vec<u8>>)>;

    /// Answers requests in turn from canned bodies and remembers what was sent.
    fn with_answers<T>(bodies: &[&'static str], f: impl FnOnce(&Client) -> T) -> (T, Sent) {
        let t = Canned::sequence(bodies);
        let conn = Connection::new("dt.example.com", "p", "s").unwrap();
        let out = f(&Client::new(conn, &t));
        (out, t.into_sent().into_iter().map(|r| (r.url, r.body)).collect())
    }

    const UUID: &str = "0c8e1f2a-3b4c-4d5e-8f60-718293a4b5c6";
    const GROUP: &str = "g0c8e1f2a-3b4c-4d5e-8f60-718293a4b5c6";

    // Shaped as 6.x appliances answer: a structured summary template with nested replacements.
    const STRUCTURED: &str = r#"[{"id":"0c8e1f2a-3b4c-4d5e-8f60-718293a4b5c6","currentGroup":"g0c8e1f2a-3b4c-4d5e-8f60-718293a4b5c6",
        "title":"Unusual Data Transfer","category":"suspicious","groupCategory":"critical","aiaScore":72,"groupScore":55.5,
        "acknowledged":false,"pinned":true,"createdAt":1740902400000,"mitreTactics":["exfiltration"],
        "summary":{"valueType":"formatString","value":"{}\n\nReview the transfer.","replacements":[
            {"valueType":"formatString","value":"The device {} sent {} to {}.","replacements":[
                {"valueType":"device","value":{"identifier":"ws-07","hostname":"ws-07.corp.example","ip":"10.0.0.7","did":7}},
                {"valueType":"string","value":"2 GB"},
                {"valueType":"externalHost","value":{"identifier":"files.example.net","ip":null}}]}]},
        "breachDevices":[{"identifier":"ws-07","hostname":"ws-07.corp.example","ip":"10.0.0.7","mac":null,"did":7,"sid":3}],
        "relatedBreaches":[{"modelName":"Anomalous Connection::Data Sent","pbid":10123,"threatScore":61,"timestamp":1740902300000}]}]"#;

    #[test]
    fn structured_summaries_are_rendered_with_their_replacements() {
        let (out, sent) = with_answers(&[STRUCTURED], |c| list_ai_analyst_incidents(c, IncidentFilter::default()));
        let event = &out.unwrap()[0];
        assert_eq!(
            event.summary,
            "The device ws-07.corp.example sent 2 GB to files.example.net.\n\nReview the transfer."
        );
        assert_eq!(event.group_id.as_deref(), Some(GROUP));
        assert_eq!(event.link.as_deref(), Some(format!("https://dt.example.com/#aiagroup/{GROUP}").as_str()));
        assert_eq!((event.related_pbids.clone(), event.breach_devices[0].did), (vec![10123], Some(7)));
        assert_eq!(event.created_at_iso, "2025-03-02T08:00:00.000Z");
        assert_eq!(
            sent[0].0,
            "https://dt.example.com/aianalyst/incidentevents?includeacknowledged=false&includeallpinned=true"
        );
    }

    #[test]
    fn plain_string_summaries_and_repeated_events_are_handled() {
        let body = r#"[{"id":"0c8e1f2a-3b4c-4d5e-8f60-718293a4b5c6","createdAt":"1740902400000","summary":"A plain summary.","title":"T"},
                       {"id":"0c8e1f2a-3b4c-4d5e-8f60-718293a4b5c6","createdAt":1740902400000,"summary":"A plain summary.","title":"T"}]"#;
        let (out, _) = with_answers(&[body], |c| list_ai_analyst_incidents(c, IncidentFilter::default()));
        let out = out.unwrap();
        assert_eq!(out.len(), 1, "repeats are dropped");
        assert_eq!((out[0].summary.as_str(), out[0].link.as_deref()), ("A plain summary.", None));
    }

    #[test]
    fn a_summary_with_too_few_replacements_keeps_its_placeholders() {
        let v = json!({"valueType":"formatString","value":"{} and {}","replacements":[{"valueType":"string","value":"one"}]});
        assert_eq!(render_summary(&v, 0), "one and {}");
    }

    #[test]
    fn incident_filter_sends_group_prefixed_flags_and_groups_send_bare_ones() {
        let filter = IncidentFilter {
            critical: Some(true),
            min_group_score: Some(50.0),
            locale: Some("fr_FR".into()),
            ..Default::default()
        };
        let (_, sent) = with_answers(&["[]"], |c| list_ai_analyst_incidents(c, filter));
        assert!(sent[0].0.ends_with("mingroupscore=50&groupcritical=true&locale=fr_FR"), "{}", sent[0].0);
        let (_, sent) = with_answers(&["[]"], |c| {
            list_ai_analyst_groups(c, GroupFilter { critical: Some(true), ..Default::default() })
        });
        assert!(sent[0].0.ends_with("includeallpinned=true&critical=true"), "{}", sent[0].0);
    }

    #[test]
    fn bad_filters_and_ids_name_the_field() {
        let check = |r: Result<()>, field: &str| {
            let err = r.unwrap_err();
            assert_eq!(err.case(), "invalid-input");
            assert!(err.message().starts_with(&format!("`{field}`")), "{err}");
        };
        check(IncidentFilter { locale: Some("en".into()), ..Default::default() }.validate(), "locale");
        check(IncidentFilter { min_score: Some(101.0), ..Default::default() }.validate(), "min_score");
        check(
            IncidentFilter { min_score: Some(60.0), max_score: Some(50.0), ..Default::default() }.validate(),
            "max_score",
        );
        check(IncidentFilter { min_group_score: Some(-1.0), ..Default::default() }.validate(), "min_group_score");
        check(IncidentFilter { group_id: Some(UUID.into()), ..Default::default() }.validate(), "group_id");
        check(
            IncidentFilter { start: Some(Instant::EpochMs(1_740_902_400_000)), ..Default::default() }.validate(),
            "end",
        );
        check(GroupFilter { max_score: Some(100.5), ..Default::default() }.validate(), "max_score");
        check(UuidInput { uuid: GROUP.into() }.validate(), "uuid");
        check(GroupIdInput { group_id: UUID.into() }.validate(), "group_id");
        check(UuidsInput { uuids: vec![] }.validate(), "uuids");
        check(UuidsInput { uuids: vec![UUID.into(), "nope".into()] }.validate(), "uuids[1]");
        check(IncidentCommentInput { incident_id: UUID.into(), message: " ".into() }.validate(), "message");
        check(
            InvestigationInput { did: 1, investigate_time: Instant::EpochMs(1_740_902_400) }.validate(),
            "investigate_time",
        );
        check(InvestigationIdInput { investigation_id: "a b".into() }.validate(), "investigation_id");
        assert!(UuidsInput { uuids: vec![UUID.to_uppercase()] }.validate().is_ok());
    }

    #[test]
    fn state_changes_send_one_form_body_and_accept_both_success_shapes() {
        let other = "11111111-2222-4333-8444-555555555555";
        for reply in [r#"{"response":"SUCCESS"}"#, r#"{"aianalyst":"SUCCESS"}"#] {
            let input = UuidsInput { uuids: vec![UUID.into(), other.into()] };
            let (out, sent) = with_answers(&[reply], |c| pin_ai_analyst_incident(c, input));
            let out = out.unwrap();
            assert_eq!(
                out.iter().map(|r| (r.id.as_str(), r.state.as_str())).collect::<Vec<_>>(),
                [(UUID, "pinned"), (other, "pinned")]
            );
            assert_eq!(sent[0].0, "https://dt.example.com/aianalyst/pin");
            assert_eq!(sent[0].1.as_deref(), Some(format!("uuid={UUID}%2C{other}").as_bytes()));
        }
        let input = UuidsInput { uuids: vec![UUID.into()] };
        let (out, _) = with_answers(&[r#"{"response":"FAILED"}"#], |c| acknowledge_ai_analyst_incident(c, input));
        assert_eq!(out.unwrap_err().case(), "unexpected-response");
    }

    #[test]
    fn comments_are_read_from_the_comments_object_and_a_new_one_is_found_after_posting() {
        let listed = r#"{"comments":[{"username":"b","time":1740902500000,"incident_id":"0c8e1f2a-3b4c-4d5e-8f60-718293a4b5c6","message":"later"},
                                     {"username":"a","time":1740902400000,"incident_id":"0c8e1f2a-3b4c-4d5e-8f60-718293a4b5c6","message":"earlier"}]}"#;
        let input = IncidentCommentInput { incident_id: UUID.into(), message: "later".into() };
        let (out, sent) = with_answers(&[r#"{"response":"SUCCESS"}"#, listed], |c| add_ai_analyst_comment(c, input));
        assert_eq!(out.unwrap().username, "b");
        assert_eq!(sent[0].1.as_deref(), Some(format!(r#"{{"incident_id":"{UUID}","message":"later"}}"#).as_bytes()));
        assert_eq!(sent[1].0, format!("https://dt.example.com/aianalyst/incident/comments?incident_id={UUID}"));
        let (out, _) =
            with_answers(&[listed], |c| list_ai_analyst_comments(c, IncidentIdInput { incident_id: UUID.into() }));
        assert_eq!(out.unwrap().iter().map(|c| c.message.as_str()).collect::<Vec<_>>(), ["earlier", "later"]);
        let input = IncidentCommentInput { incident_id: UUID.into(), message: "dropped".into() };
        let (out, _) =
            with_answers(&[r#"{"response":"SUCCESS"}"#, r#"{"comments":[]}"#], |c| add_ai_analyst_comment(c, input));
        assert_eq!(out.unwrap_err().case(), "unexpected-response");
    }

    #[test]
    fn investigations_send_seconds_and_read_seconds_back_as_milliseconds() {
        let input =
            InvestigationInput { did: 12, investigate_time: Instant::Iso8601("2025-03-02T08:00:00.750Z".into()) };
        let (out, sent) =
            with_answers(&[r#"{"investigationId":"inv-1"}"#], |c| start_ai_analyst_investigation(c, input));
        let out = out.unwrap();
        assert_eq!(sent[0].1.as_deref(), Some(br#"{"investigateTime":"1740902400","did":12}"#.as_slice()));
        assert_eq!(
            (out.id.as_str(), out.status.as_str(), out.did, out.investigate_time),
            ("inv-1", "pending", Some(12), Some(1_740_902_400_000))
        );

        let body = r#"{"investigationId":"inv-1","status":"finished","did":12,"investigationTime":1740902400,"time":"1740902460",
                       "incidents":[{"uuid":"0c8e1f2a-3b4c-4d5e-8f60-718293a4b5c6","relatedBreaches":[{"pbid":10123}]}]}"#;
        let (out, sent) = with_answers(&[body], |c| {
            get_ai_analyst_investigation(c, InvestigationIdInput { investigation_id: "inv-1".into() })
        });
        let out = out.unwrap();
        assert_eq!(sent[0].0, "https://dt.example.com/aianalyst/investigations?investigationId=inv-1");
        assert_eq!((out.time, out.time_iso.as_deref()), (Some(1_740_902_460_000), Some("2025-03-02T08:01:00.000Z")));
        assert_eq!((out.incident_ids, out.related_pbids), (vec![UUID.to_owned()], vec![10123]));
        let (out, _) = with_answers(&["[]"], |c| {
            get_ai_analyst_investigation(c, InvestigationIdInput { investigation_id: "x".into() })
        });
        assert_eq!(out.unwrap_err().case(), "not-found");
    }

    #[test]
    fn groups_read_event_ids_and_devices() {
        let body = r#"[{"id":"g0c8e1f2a-3b4c-4d5e-8f60-718293a4b5c6","active":true,"acknowledged":false,"pinned":false,
            "incidentEvents":[{"uuid":"0c8e1f2a-3b4c-4d5e-8f60-718293a4b5c6","start":1740902400000,"title":"T","triggerDid":7,"visible":true}],
            "mitreTactics":["exfiltration"],"devices":[7,9],"category":"critical","groupScore":55.5,"start":1740902400000,"end":1740906000000}]"#;
        let (out, _) = with_answers(&[body], |c| get_ai_analyst_group(c, GroupIdInput { group_id: GROUP.into() }));
        let g = out.unwrap();
        assert_eq!((g.incident_event_ids, g.device_ids), (vec![UUID.to_owned()], vec![7, 9]));
        assert_eq!(g.end_iso.as_deref(), Some("2025-03-02T09:00:00.000Z"));
        let (out, _) = with_answers(&["[]"], |c| get_ai_analyst_group(c, GroupIdInput { group_id: GROUP.into() }));
        assert_eq!(out.unwrap_err().case(), "not-found");
        let (out, _) = with_answers(&[r#"[{"id":"g1","devices":["x",-1]},{"devices":[]},{"id":"g2"}]"#], |c| {
            list_ai_analyst_groups(c, GroupFilter::default())
        });
        let groups = out.unwrap();
        assert_eq!(
            groups.iter().map(|g| g.id.as_str()).collect::<Vec<_>>(),
            ["g1", "g2"],
            "the one without an id is left out"
        );
        assert_eq!(groups[0].device_ids, [-1]);
        assert_eq!(groups[0].warnings[0].path, "groups[0].devices[0]");
    }
}
