//! Cyber AI Analyst endpoints: `/aianalyst/incidentevents`, `/aianalyst/groups`, the
//! acknowledge/pin form posts, incident comments and investigations.
//!
//! As on the appliance, unknown parameters are ignored, so a client that sends the bare
//! `critical` flag to `/incidentevents` (which wants `groupcritical`) gets unfiltered results.

use serde_json::{Value, json};

use super::params::Params;
use super::{Answer, Reply};
use crate::simulator::auth;
use crate::simulator::data::ai_analyst::{DEFAULT_WINDOW_MS, IncidentComment};
use crate::simulator::data::{API_USER, Dataset};

/// The locales the AI Analyst writes in.
const LOCALES: &[&str] =
    &["en_GB", "en_US", "de_DE", "es_ES", "es_419", "fr_FR", "it_IT", "ja_JP", "ko_KR", "pt_BR", "zh_Hans", "zh_Hant"];
/// Categories and the flag that selects each, on `/incidentevents` and on `/groups`.
const CATEGORY_FLAGS: &[(&str, &str, &str)] = &[
    ("compliance", "groupcompliance", "compliance"),
    ("suspicious", "groupsuspicious", "suspicious"),
    ("critical", "groupcritical", "critical"),
];
const EVENT_NOT_FOUND: &str = "AI Analyst incident event not found";
const INVESTIGATION_NOT_FOUND: &str = "Investigation not found";

/// The window in ms: only `endtime` means the week before it, only `starttime` means up to
/// now, neither means the last seven days.
fn window(params: &Params, now_ms: i64) -> Result<(i64, i64), Reply> {
    let (start, end) = match (params.signed("starttime")?, params.signed("endtime")?) {
        (Some(s), Some(e)) => (s, e),
        (None, Some(e)) => (e - DEFAULT_WINDOW_MS, e),
        (Some(s), None) => (s, now_ms),
        (None, None) => (now_ms - DEFAULT_WINDOW_MS, now_ms),
    };
    if end < start {
        return Err(Reply::input_error("the end of the time window is before its start"));
    }
    Ok((start, end))
}

/// A score bound, 0 to 100.
fn score(params: &Params, key: &str) -> Result<Option<f64>, Reply> {
    match params.number(key)? {
        Some(s) if !(0.0..=100.0).contains(&s) => Err(Reply::input_error(format!("{key} must be between 0 and 100"))),
        other => Ok(other),
    }
}

/// The categories asked for through `flag` names (column 1 or 2 of [`CATEGORY_FLAGS`]); `None`
/// when no flag is set, meaning every category.
fn categories(params: &Params, group_prefixed: bool) -> Result<Option<Vec<&'static str>>, Reply> {
    let mut chosen = Vec::new();
    for (category, prefixed, bare) in CATEGORY_FLAGS {
        if params.flag(if group_prefixed { prefixed } else { bare }, false)? {
            chosen.push(*category);
        }
    }
    Ok(if chosen.is_empty() { None } else { Some(chosen) })
}

/// `GET /aianalyst/incidentevents`: events matching the filters, oldest first. `uuid`
/// overrides every filter and `groupid` every filter but `uuid`.
pub(super) fn incident_events(data: &Dataset, params: &Params, now_ms: i64) -> Answer {
    if let Some(locale) = params.text("locale")
        && !LOCALES.contains(&locale)
    {
        return Err(Reply::input_error(format!("locale {locale:?} is not supported")));
    }
    let ai = &data.ai_analyst;
    if let Some(uuid) = params.text("uuid") {
        return Ok(Value::Array(ai.event(uuid).map(|e| data.incident_json(e)).into_iter().collect()));
    }
    if let Some(id) = params.text("groupid") {
        let events = ai.group(id).map(|g| ai.groups[g].events.clone()).unwrap_or_default();
        return Ok(Value::Array(events.into_iter().map(|e| data.incident_json(e)).collect()));
    }
    let (start, end) = window(params, now_ms)?;
    let include_acknowledged = params.flag("includeacknowledged", false)?;
    let include_pinned = params.flag("includeallpinned", true)?;
    let only_pinned = params.flag("includeonlypinned", false)?;
    let (min, max) = (score(params, "minscore")?, score(params, "maxscore")?);
    let (min_group, max_group) = (score(params, "mingroupscore")?, score(params, "maxgroupscore")?);
    let did = params.unsigned("did")?;
    let exclude_did = params.unsigned("excludedid")?;
    let categories = categories(params, true)?;
    let mut hits: Vec<usize> = (0..ai.events.len())
        .filter(|&i| {
            let e = &ai.events[i];
            let group = &ai.groups[e.group];
            let device = data.devices[e.device].did;
            ((start..=end).contains(&e.created_at) || (include_pinned && e.pinned))
                && (!only_pinned || e.pinned)
                && (include_acknowledged || !e.acknowledged)
                && min.is_none_or(|m| e.aia_score >= m)
                && max.is_none_or(|m| e.aia_score <= m)
                && min_group.is_none_or(|m| group.score >= m)
                && max_group.is_none_or(|m| group.score <= m)
                && did.is_none_or(|d| device == d)
                && exclude_did.is_none_or(|d| device != d)
                && categories.as_ref().is_none_or(|c| c.contains(&ai.group_category(e.group)))
        })
        .collect();
    hits.sort_by_key(|&i| (ai.events[i].created_at, i));
    Ok(Value::Array(hits.into_iter().map(|e| data.incident_json(e)).collect()))
}

/// `GET /aianalyst/groups`: incidents matching the filters, oldest first. `groupid` overrides
/// every filter; `uuid` names the incident holding that event.
pub(super) fn groups(data: &Dataset, params: &Params, now_ms: i64) -> Answer {
    let ai = &data.ai_analyst;
    if let Some(id) = params.text("groupid") {
        return Ok(Value::Array(ai.group(id).map(|g| data.group_json(g)).into_iter().collect()));
    }
    if let Some(uuid) = params.text("uuid") {
        let group = ai.event(uuid).map(|e| ai.events[e].group);
        return Ok(Value::Array(group.map(|g| data.group_json(g)).into_iter().collect()));
    }
    let (start, end) = window(params, now_ms)?;
    let include_acknowledged = params.flag("includeacknowledged", false)?;
    let include_pinned = params.flag("includeallpinned", true)?;
    let (min, max) = (score(params, "minscore")?, score(params, "maxscore")?);
    let did = params.unsigned("did")?;
    let categories = categories(params, false)?;
    let mut hits: Vec<usize> = (0..ai.groups.len())
        .filter(|&g| {
            let (first, last) = ai.group_span(g);
            let score = ai.groups[g].score;
            // An incident is in the window when its activity overlaps it.
            ((first <= end && last >= start) || (include_pinned && ai.group_pinned(g)))
                && (include_acknowledged || !ai.group_acknowledged(g))
                && min.is_none_or(|m| score >= m)
                && max.is_none_or(|m| score <= m)
                && did.is_none_or(|d| data.group_dids(g).contains(&d))
                && categories.as_ref().is_none_or(|c| c.contains(&ai.group_category(g)))
        })
        .collect();
    hits.sort_by_key(|&g| (ai.group_span(g).0, g));
    Ok(Value::Array(hits.into_iter().map(|g| data.group_json(g)).collect()))
}

/// `POST /aianalyst/{acknowledge,unacknowledge,pin,unpin}` with the form body
/// `uuid=<id>[,<id>...]`. Every id must exist, or nothing changes.
pub(super) fn change(data: &mut Dataset, action: &str, body: &[u8]) -> Answer {
    let text = std::str::from_utf8(body).map_err(|_| Reply::input_error("the body is not UTF-8"))?.trim();
    if text.starts_with('{') || text.starts_with('[') {
        return Err(Reply::input_error("this endpoint takes a form body uuid=<id>[,<id>...], not JSON"));
    }
    let ids: Vec<String> = auth::query_pairs(text)
        .into_iter()
        .filter(|(k, _)| k == "uuid")
        .flat_map(|(_, v)| v.split(',').map(|s| s.trim().to_owned()).collect::<Vec<_>>())
        .filter(|s| !s.is_empty())
        .collect();
    if ids.is_empty() {
        return Err(Reply::input_error("uuid is required"));
    }
    let ai = &mut data.ai_analyst;
    let found = ids
        .iter()
        .map(|id| ai.event(id).ok_or_else(|| Reply::not_found(EVENT_NOT_FOUND)))
        .collect::<Result<Vec<_>, _>>()?;
    for e in found {
        let event = &mut ai.events[e];
        match action {
            "acknowledge" => event.acknowledged = true,
            "unacknowledge" => event.acknowledged = false,
            "pin" => event.pinned = true,
            _ => event.pinned = false,
        }
    }
    // Both reply shapes are seen in the wild; the acknowledgements use the AI Analyst one.
    Ok(if action.ends_with("acknowledge") {
        json!({ "aianalyst": "SUCCESS" })
    } else {
        json!({ "response": "SUCCESS" })
    })
}

/// `GET /aianalyst/incident/comments?incident_id=`: `{"comments": [...]}`, oldest first.
pub(super) fn comments(data: &Dataset, params: &Params) -> Answer {
    let id = params.text("incident_id").ok_or_else(|| Reply::input_error("incident_id is required"))?;
    let e = data.ai_analyst.event(id).ok_or_else(|| Reply::not_found(EVENT_NOT_FOUND))?;
    let comments: Vec<Value> =
        data.ai_analyst.events[e].comments.iter().map(|c| data.incident_comment_json(e, c)).collect();
    Ok(json!({ "comments": comments }))
}

/// `POST /aianalyst/incident/comments` with JSON `{"incident_id": "...", "message": "..."}`.
pub(super) fn add_comment(data: &mut Dataset, body: &[u8], now_ms: i64) -> Answer {
    let json: Value = serde_json::from_slice(body)
        .map_err(|_| Reply::input_error("the body must be JSON {\"incident_id\": ..., \"message\": ...}"))?;
    let id =
        json.get("incident_id").and_then(Value::as_str).ok_or_else(|| Reply::input_error("incident_id is required"))?;
    let message = json
        .get("message")
        .and_then(Value::as_str)
        .filter(|m| !m.trim().is_empty())
        .ok_or_else(|| Reply::input_error("message is required"))?;
    let e = data.ai_analyst.event(id).ok_or_else(|| Reply::not_found(EVENT_NOT_FOUND))?;
    data.ai_analyst.events[e].comments.push(IncidentComment {
        time: now_ms,
        username: API_USER.to_owned(),
        message: message.to_owned(),
    });
    Ok(json!({ "response": "SUCCESS" }))
}

/// `investigateTime` at or above this is milliseconds (1e11 seconds is the year 5138), which this
/// endpoint does not take.
const MAX_SECONDS: i64 = 100_000_000_000;

/// `POST /aianalyst/investigations` with JSON `{"investigateTime": "<epoch seconds>", "did": N}`.
pub(super) fn start_investigation(data: &mut Dataset, body: &[u8], now_ms: i64) -> Answer {
    let json: Value = serde_json::from_slice(body).map_err(|_| {
        Reply::input_error("the body must be JSON {\"investigateTime\": \"<epoch seconds>\", \"did\": <device id>}")
    })?;
    let did = json
        .get("did")
        .and_then(|v| v.as_u64().or_else(|| v.as_str().and_then(|s| s.parse().ok())))
        .ok_or_else(|| Reply::input_error("did is required"))?;
    let secs = json
        .get("investigateTime")
        .and_then(|v| v.as_i64().or_else(|| v.as_str().and_then(|s| s.trim().parse().ok())))
        .ok_or_else(|| Reply::input_error("investigateTime is required, in epoch seconds"))?;
    if !(0..MAX_SECONDS).contains(&secs) {
        return Err(Reply::input_error("investigateTime must be epoch seconds"));
    }
    if data.device(did).is_none() {
        return Err(Reply::not_found("Device not found"));
    }
    let id = data.ai_analyst.start_investigation(did, secs, now_ms);
    Ok(json!({ "investigationId": id }))
}

/// `GET /aianalyst/investigations[?investigationId=]`: one investigation, advanced one step,
/// or every investigation as it stands.
pub(super) fn investigation(data: &mut Dataset, params: &Params, now_ms: i64) -> Answer {
    let Some(id) = params.text("investigationId") else {
        let all: Vec<Value> =
            data.ai_analyst.investigations.iter().map(|i| json!({ "investigationId": i.id, "did": i.did })).collect();
        return Ok(Value::Array(all));
    };
    let i = data
        .ai_analyst
        .investigations
        .iter()
        .position(|i| i.id == id)
        .ok_or_else(|| Reply::not_found(INVESTIGATION_NOT_FOUND))?;
    Ok(data.poll_investigation(i, now_ms))
}
