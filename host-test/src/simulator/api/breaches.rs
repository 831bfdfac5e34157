//! Model breach endpoints: `/modelbreaches` and its sub-resources, and `/mbcomments`.

use serde_json::{Value, json};

use super::params::{Params, parse_id};
use super::{Answer, Reply};
use crate::simulator::auth;
use crate::simulator::data::{API_USER, Breach, Comment, Dataset, Shape};

const NOT_FOUND: &str = "Model breach not found";

/// Reads the flags that change a breach object's structure. The defaults are those the API
/// guide gives for API callers.
fn shape(params: &Params) -> Result<Shape, Reply> {
    Ok(Shape {
        minimal: params.flag("minimal", false)?,
        device_at_top: params.flag("deviceattop", true)?,
        historic_model_only: params.flag("historicmodelonly", false)?,
    })
}

/// `GET /modelbreaches`: breaches matching the filters, ascending by `time`.
pub(super) fn list(data: &Dataset, params: &Params) -> Answer {
    let window = params.window()?;
    let on_creation = params.flag("creationtime", false)?;
    let min_score = params.number("minscore")?;
    if min_score.is_some_and(|s| !(0.0..=1.0).contains(&s)) {
        return Err(Reply::input_error("minscore must be between 0 and 1"));
    }
    let pbids = params.id_list("pbid")?;
    let did = params.unsigned("did")?;
    let pid = params.unsigned("pid")?;
    let uuid = params.text("uuid");
    let include_acknowledged = params.flag("includeacknowledged", false)?;
    let saas_only = params.flag("saasonly", false)?;
    let shape = shape(params)?;
    // Accepted so that clients pinning them are not refused; they change nothing here.
    for key in ["expandenums", "includesuppressed", "includebreachurl"] {
        params.flag(key, false)?;
    }

    let mut hits: Vec<&Breach> = data
        .breaches
        .iter()
        .filter(|b| {
            let model = &data.models[b.model];
            let at = if on_creation { b.creation_time } else { b.time };
            window.is_none_or(|(start, end)| (start..=end).contains(&at))
                && min_score.is_none_or(|s| b.score >= s)
                && pbids.as_ref().is_none_or(|ids| ids.contains(&b.pbid))
                && did.is_none_or(|did| data.devices[b.device].did == did)
                && pid.is_none_or(|pid| model.pid == pid)
                && uuid.is_none_or(|uuid| model.uuid == uuid)
                // Asking for a breach by id returns it whatever its state.
                && (include_acknowledged || pbids.is_some() || !b.acknowledged)
                && (!saas_only || data.devices[b.device].is_saas())
        })
        .collect();
    hits.sort_by_key(|b| (b.time, b.pbid));
    Ok(Value::Array(hits.into_iter().map(|b| data.render(b, shape)).collect()))
}

/// `GET /modelbreaches/{pbid}`: one breach object.
pub(super) fn one(data: &Dataset, params: &Params, pbid: &str) -> Answer {
    let breach = find(data, pbid)?;
    Ok(data.render(breach, shape(params)?))
}

/// `GET /modelbreaches/{pbid}/comments`: the breach's comments, oldest first.
pub(super) fn comments(data: &Dataset, pbid: &str) -> Answer {
    let breach = find(data, pbid)?;
    Ok(Value::Array(breach.comments.iter().map(|c| data.comment_json(breach, c)).collect()))
}

/// `POST /modelbreaches/{pbid}/comments` with JSON `{"message": "..."}`.
pub(super) fn add_comment(data: &mut Dataset, pbid: &str, body: &[u8], now_ms: i64) -> Answer {
    let pbid = parse_id("pbid", pbid)?;
    let breach = data.breach_mut(pbid).ok_or_else(|| Reply::not_found(NOT_FOUND))?;
    let message = serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| v.get("message").and_then(Value::as_str).map(str::to_owned))
        .filter(|m| !m.trim().is_empty())
        .ok_or_else(|| Reply::input_error("the body must be JSON with a non-empty \"message\""))?;
    breach.comments.push(Comment { time: now_ms, username: API_USER.to_owned(), message });
    Ok(json!({ "response": "SUCCESS" }))
}

/// `POST /modelbreaches/{pbid}/acknowledge` or `/unacknowledge`. The body says
/// `{"acknowledge": true}` (or `"true"`), or is the form `acknowledge=true`; early clients put
/// that form in the query instead, which is accepted too.
pub(super) fn acknowledge(data: &mut Dataset, pbid: &str, action: &str, params: &Params, body: &[u8]) -> Answer {
    let pbid = parse_id("pbid", pbid)?;
    let breach = data.breach_mut(pbid).ok_or_else(|| Reply::not_found(NOT_FOUND))?;
    let text = std::str::from_utf8(body).map_err(|_| Reply::input_error("the body is not UTF-8"))?.trim();
    let value = if text.starts_with('{') {
        let json: Value = serde_json::from_str(text).map_err(|_| Reply::input_error("the body is not valid JSON"))?;
        match json.get(action) {
            Some(Value::Bool(b)) => Some(b.to_string()),
            Some(Value::String(s)) => Some(s.clone()),
            _ => None,
        }
    } else if !text.is_empty() {
        auth::query_pairs(text).into_iter().find(|(k, _)| k == action).map(|(_, v)| v)
    } else {
        params.text(action).map(str::to_owned)
    };
    if value.as_deref() != Some("true") {
        return Err(Reply::input_error(format!("{action}=true is required")));
    }
    breach.acknowledged = action == "acknowledge";
    Ok(json!({ "response": "SUCCESS" }))
}

/// `GET /mbcomments`: comments across breaches, newest first, at most `count` (default 100).
pub(super) fn mbcomments(data: &Dataset, params: &Params) -> Answer {
    let window = params.window()?;
    let pbid = params.unsigned("pbid")?;
    let count = params.unsigned("count")?.unwrap_or(100);
    let mut found: Vec<(&Breach, &Comment)> = data
        .breaches
        .iter()
        .filter(|b| pbid.is_none_or(|id| b.pbid == id))
        .flat_map(|b| b.comments.iter().map(move |c| (b, c)))
        .filter(|(_, c)| window.is_none_or(|(start, end)| (start..=end).contains(&c.time)))
        .collect();
    found.sort_by(|(a, x), (b, y)| y.time.cmp(&x.time).then(b.pbid.cmp(&a.pbid)));
    let limit = usize::try_from(count).unwrap_or(usize::MAX);
    Ok(Value::Array(found.into_iter().take(limit).map(|(b, c)| data.mbcomment_json(b, c)).collect()))
}

/// The breach a path's `{pbid}` names: 400 if it is not a number, 404 if it is unknown.
fn find<'a>(data: &'a Dataset, pbid: &str) -> Result<&'a Breach, Reply> {
    let pbid = parse_id("pbid", pbid)?;
    data.breach(pbid).ok_or_else(|| Reply::not_found(NOT_FOUND))
}

/// Most items `/details` returns when no count is given.
const DETAILS_DEFAULT_COUNT: u64 = 100;

/// `GET /details?pbid=`: the breach record first, then the connections and notices behind it.
/// `count` caps the events and must not come with a time window, as the API guide says.
pub(super) fn details(data: &Dataset, params: &Params) -> Answer {
    let count = params.unsigned("count")?;
    let window = params.window()?;
    if count.is_some() && window.is_some() {
        return Err(Reply::input_error("count cannot be combined with a time window (starttime/endtime or from/to)"));
    }
    let offset = params.unsigned("offset")?.unwrap_or(0);
    let Some(pbid) = params.unsigned("pbid")? else {
        return Err(Reply::input_error("one of did, pbid, msg or blockedconnections is required"));
    };
    let breach = data.breach(pbid).ok_or_else(|| Reply::not_found(NOT_FOUND))?;
    let mut items = data.breach_details(
        breach,
        usize::try_from(count.unwrap_or(DETAILS_DEFAULT_COUNT)).unwrap_or(usize::MAX),
        usize::try_from(offset).unwrap_or(usize::MAX),
    );
    if let Some((start, end)) = window {
        // The breach record stays first whatever the window, as the appliance sends it.
        let mut rest = items.split_off(1);
        rest.retain(|e| e["timems"].as_i64().is_some_and(|t| (start..=end).contains(&t)));
        items.extend(rest);
    }
    Ok(Value::Array(items))
}
