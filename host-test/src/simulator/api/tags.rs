//! Tag endpoints: `/tags` and `/tags/entities` (list, tag with a form POST, untag with DELETE).

use serde_json::{Value, json};

use super::params::{Params, parse_id};
use super::{Answer, Reply};
use crate::simulator::auth;
use crate::simulator::data::Dataset;
use crate::simulator::data::tags::TagStore;

const NO_DEVICE: &str = "Device not found";
const NO_TAG: &str = "Tag not found";

/// The fields of a JSON object or form body, as text.
pub(super) fn body_fields(body: &[u8]) -> Result<Vec<(String, String)>, Reply> {
    let text = std::str::from_utf8(body).map_err(|_| Reply::input_error("the body is not UTF-8"))?.trim();
    if text.starts_with('{') {
        let json: Value = serde_json::from_str(text).map_err(|_| Reply::input_error("the body is not valid JSON"))?;
        let map = json.as_object().ok_or_else(|| Reply::input_error("the body must be a JSON object"))?;
        Ok(map
            .iter()
            .filter_map(|(k, v)| match v {
                Value::String(s) => Some((k.clone(), s.clone())),
                Value::Number(n) => Some((k.clone(), n.to_string())),
                Value::Bool(b) => Some((k.clone(), b.to_string())),
                _ => None,
            })
            .collect())
    } else {
        Ok(auth::query_pairs(text))
    }
}

/// `GET /tags`: every definition, or with `tag=` the one of that name (a single object).
pub(super) fn list(data: &mut Dataset, params: &Params, now_ms: i64) -> Answer {
    data.sync_tags(now_ms);
    let store = &data.tags;
    match params.text("tag") {
        Some(name) => store.find(name).map(|d| store.def_json(d)).ok_or_else(|| Reply::not_found(NO_TAG)),
        None => Ok(Value::Array(store.defs.iter().map(|d| store.def_json(d)).collect())),
    }
}

/// `GET /tags/entities`: with `did=` the tags on the device; with `tag=` the links to the tag,
/// wrapped with the devices when `fulldevicedetails=true`.
pub(super) fn entities(data: &mut Dataset, params: &Params, now_ms: i64) -> Answer {
    data.sync_tags(now_ms);
    let full = params.flag("fulldevicedetails", false)?;
    if let Some(did) = params.unsigned("did")? {
        data.device(did).ok_or_else(|| Reply::not_found(NO_DEVICE))?;
        return Ok(Value::Array(data.tags.device_tags(did)));
    }
    let name = params.text("tag").ok_or_else(|| Reply::input_error("did or tag is required"))?;
    let tid = data.tags.find(name).ok_or_else(|| Reply::not_found(NO_TAG))?.tid;
    let links: Vec<_> = data.tags.links.iter().filter(|l| l.tid == tid).collect();
    let entities: Vec<Value> = links.iter().map(|l| TagStore::link_json(l)).collect();
    if !full {
        return Ok(Value::Array(entities));
    }
    let devices: Vec<Value> = links.iter().filter_map(|l| data.device(l.did)).map(|d| d.to_json(true)).collect();
    Ok(json!({ "entities": entities, "devices": devices }))
}

/// `POST /tags/entities` with the **form** `did`, `tag` and optional `duration` (seconds).
/// Answers `{"tid": N}`; an unknown tag name is created, as in the Threat Visualizer.
pub(super) fn add(data: &mut Dataset, body: &[u8], headers: &[(String, String)], now_ms: i64) -> Answer {
    let is_json = headers.iter().any(|(k, v)| k == "content-type" && v.contains("json"))
        || body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{');
    if is_json {
        return Err(Reply::input_error("this endpoint takes a form body (did=...&tag=...), not JSON"));
    }
    let text = std::str::from_utf8(body).map_err(|_| Reply::input_error("the body is not UTF-8"))?;
    let fields = auth::query_pairs(text.trim());
    let get = |key: &str| fields.iter().find(|(k, v)| k == key && !v.is_empty()).map(|(_, v)| v.as_str());
    let did = parse_id("did", get("did").ok_or_else(|| Reply::input_error("did is required"))?)?;
    let tag =
        get("tag").map(str::trim).filter(|t| !t.is_empty()).ok_or_else(|| Reply::input_error("tag is required"))?;
    let duration = get("duration")
        .map(|d| {
            d.parse::<i64>()
                .ok()
                .filter(|d| *d > 0)
                .ok_or_else(|| Reply::input_error(format!("duration must be a positive number of seconds, not {d:?}")))
        })
        .transpose()?;
    data.device(did).ok_or_else(|| Reply::not_found(NO_DEVICE))?;
    let tid = data.add_tag(did, tag, duration, now_ms);
    Ok(json!({ "tid": tid }))
}

/// `DELETE /tags/entities?did=&tag=`: takes the tag off the device; SUCCESS whether it was on
/// or not.
pub(super) fn remove(data: &mut Dataset, params: &Params, now_ms: i64) -> Answer {
    let did = params.unsigned("did")?.ok_or_else(|| Reply::input_error("did is required"))?;
    let name = params.text("tag").ok_or_else(|| Reply::input_error("tag is required"))?;
    data.device(did).ok_or_else(|| Reply::not_found(NO_DEVICE))?;
    let tid = data.tags.find(name).ok_or_else(|| Reply::not_found(NO_TAG))?.tid;
    data.remove_tag(did, tid, now_ms);
    Ok(json!({ "response": "SUCCESS" }))
}
