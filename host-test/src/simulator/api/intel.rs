//! Intel feed endpoints: `GET /intelfeed` (names, sources or full details) and `POST /intelfeed`
//! (JSON or form) with `addentry`/`addlist`, `removeentry` or `removeall`.

use serde_json::{Value, json};

use super::params::Params;
use super::{Answer, Reply};
use crate::simulator::auth;
use crate::simulator::data::Dataset;
use crate::simulator::data::intel::{DEFAULT_SOURCE, WatchedEntry};

/// `GET /intelfeed`: live entries as names, their sources with `sources=true`, or objects with
/// `fulldetails=true`; `source=` narrows to one source.
pub(super) fn list(data: &Dataset, params: &Params, now: i64) -> Answer {
    let sources = params.flag("sources", false)?;
    let full = params.flag("fulldetails", false)?;
    let source = params.text("source");
    let live = data.intel.iter().filter(|e| e.live(now) && source.is_none_or(|s| e.source == s));
    if sources {
        let mut names: Vec<&str> = data.intel.iter().map(|e| e.source.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        return Ok(json!(names));
    }
    Ok(Value::Array(live.map(|e| if full { e.to_json() } else { json!(e.name) }).collect()))
}

/// The body's fields as text, from JSON or from a form.
fn fields(body: &[u8]) -> Result<Vec<(String, String)>, Reply> {
    let text = std::str::from_utf8(body).map_err(|_| Reply::input_error("the body is not UTF-8"))?.trim();
    if !text.starts_with('{') {
        return Ok(auth::query_pairs(text));
    }
    let Ok(Value::Object(map)) = serde_json::from_str::<Value>(text) else {
        return Err(Reply::input_error("the body is not a valid JSON object"));
    };
    map.into_iter()
        .map(|(k, v)| match v {
            Value::String(s) => Ok((k, s)),
            Value::Bool(b) => Ok((k, b.to_string())),
            Value::Number(n) => Ok((k, n.to_string())),
            other => Err(Reply::input_error(format!("{k} must be a string, not {other}"))),
        })
        .collect()
}

/// `POST /intelfeed`.
pub(super) fn change(data: &mut Dataset, body: &[u8], now: i64) -> Answer {
    let fields = fields(body)?;
    let get = |key: &str| fields.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str()).filter(|v| !v.is_empty());
    let flag = |key: &str| match get(key) {
        None => Ok(false),
        Some("true") => Ok(true),
        Some("false") => Ok(false),
        Some(v) => Err(Reply::input_error(format!("{key} must be true or false, not {v:?}"))),
    };
    if flag("removeall")? {
        let removed = data.intel.len();
        data.intel.clear();
        return Ok(json!({ "removed": removed, "response": "SUCCESS" }));
    }
    if let Some(entry) = get("removeentry") {
        let source = get("source");
        data.intel.retain(|e| !(e.name == entry.trim() && source.is_none_or(|s| e.source == s)));
        return Ok(json!({ "response": "SUCCESS" }));
    }
    let names: Vec<String> = get("addentry")
        .into_iter()
        .chain(get("addlist"))
        .flat_map(|list| list.split([',', '\n']))
        .map(|n| n.trim().to_owned())
        .filter(|n| !n.is_empty())
        .collect();
    if names.is_empty() {
        return Err(Reply::input_error("give addentry, addlist, removeentry or removeall"));
    }
    let description = get("description").unwrap_or("").to_owned();
    if description.chars().count() >= 256 || description.contains('"') {
        return Err(Reply::input_error("description must be under 256 characters, without quotes"));
    }
    let source = get("source").unwrap_or(DEFAULT_SOURCE).to_owned();
    if source.chars().count() >= 64 {
        return Err(Reply::input_error("source must be under 64 characters"));
    }
    let expiry = get("expiry")
        .map(|e| {
            auth::parse_date(e)
                .map(|t| (t.unix_timestamp_nanos() / 1_000_000) as i64)
                .ok_or_else(|| Reply::input_error(format!("expiry must be a date like 2024-01-15 10:30:00, not {e:?}")))
        })
        .transpose()?;
    let (hostname, iagn) = (flag("hostname")?, flag("iagn")?);
    let (mut added, mut updated) = (0u64, 0u64);
    for name in names {
        let entry =
            WatchedEntry { name, description: description.clone(), source: source.clone(), expiry, hostname, iagn };
        match data.intel.iter_mut().find(|e| e.name == entry.name && e.source == entry.source && e.live(now)) {
            Some(existing) => {
                *existing = entry;
                updated += 1;
            }
            None => {
                data.intel.push(entry);
                added += 1;
            }
        }
    }
    Ok(json!({ "added": added, "updated": updated, "response": "SUCCESS" }))
}
