//! RESPOND endpoints: `GET`/`POST /antigena`, `POST /antigena/manual`, `GET /antigena/summary`.
//! Both POSTs take JSON only, as the API guide says; with audit on, every POST needs a reason.

use std::collections::BTreeSet;

use serde_json::{Map, Value, json};

use super::params::Params;
use super::{Answer, Reply};
use crate::simulator::data::respond::{RespondAction, RespondState, label};
use crate::simulator::data::{API_USER, DAY_MS, Dataset};

const NOT_FOUND: &str = "Antigena action not found";
/// Actions that expired this long ago still appear in an unwindowed list.
const HISTORY_MS: i64 = 14 * DAY_MS;
const MANUAL_KINDS: &[&str] = &["connection", "pol", "gpol", "quarantine", "quarantineOutgoing", "quarantineIncoming"];

/// The JSON object body of a RESPOND POST.
fn json_body(body: &[u8]) -> Result<Map<String, Value>, Reply> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(Reply::input_error("this endpoint takes a JSON object body")),
    }
}

/// A JSON boolean, also written as the string `"true"`/`"false"`.
fn flag(map: &Map<String, Value>, key: &str) -> Result<bool, Reply> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(Value::String(s)) if s == "true" || s == "false" => Ok(s == "true"),
        Some(other) => Err(Reply::input_error(format!("{key} must be a boolean, not {other}"))),
    }
}

/// A positive integer field.
fn positive(map: &Map<String, Value>, key: &str) -> Result<Option<u64>, Reply> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v
            .as_u64()
            .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
            .filter(|n| *n > 0)
            .map(Some)
            .ok_or_else(|| Reply::input_error(format!("{key} must be a positive integer, not {v}"))),
    }
}

/// The `reason`, required when audit is on.
fn reason(map: &Map<String, Value>, audit: bool) -> Result<Option<String>, Reply> {
    let reason = map.get("reason").and_then(Value::as_str).map(str::trim).filter(|r| !r.is_empty()).map(str::to_owned);
    if audit && reason.is_none() {
        return Err(Reply::input_error("reason is required: Audit Antigena is enabled on this appliance"));
    }
    Ok(reason)
}

/// `GET /antigena`: actions matching the filters, newest first; wrapped with the devices when
/// `fulldevicedetails=true`.
pub(super) fn list(data: &Dataset, params: &Params, now: i64) -> Answer {
    let window = params.window()?;
    let full = params.flag("fulldevicedetails", false)?;
    let include_cleared = params.flag("includecleared", false)?;
    let history = params.flag("includehistory", false)?;
    let connections = params.flag("includeconnections", false)?;
    let need_confirming = params.text("needconfirming").map(|_| params.flag("needconfirming", false)).transpose()?;
    let did = params.unsigned("did")?;
    let pbid = params.unsigned("pbid")?;
    let mut hits: Vec<&RespondAction> = data
        .respond
        .actions
        .iter()
        .filter(|a| {
            let state = a.state(now);
            let in_time = match window {
                Some((start, end)) => a.start <= end && a.expires >= start,
                None => a.expires > now - HISTORY_MS,
            };
            in_time
                && (include_cleared || state != RespondState::Cleared)
                && need_confirming.is_none_or(|n| n == (state == RespondState::Pending))
                && did.is_none_or(|did| data.devices[a.device].did == did)
                && pbid.is_none_or(|p| a.pbid == Some(p))
        })
        .collect();
    // Newest first: the connector must not rely on any order.
    hits.sort_by_key(|a| std::cmp::Reverse((a.start, a.codeid)));
    let actions: Vec<Value> = hits.iter().map(|a| data.respond_json(a, history, connections)).collect();
    if !full {
        return Ok(Value::Array(actions));
    }
    let devices: BTreeSet<usize> = hits.iter().map(|a| a.device).collect();
    let devices: Vec<Value> = devices.into_iter().map(|d| data.devices[d].to_json(true)).collect();
    Ok(json!({ "actions": actions, "devices": devices }))
}

/// `POST /antigena` with `{codeid, activate|clear|duration, reason}`.
pub(super) fn change(data: &mut Dataset, body: &[u8], audit: bool, now: i64) -> Answer {
    let map = json_body(body)?;
    let codeid = positive(&map, "codeid")?.ok_or_else(|| Reply::input_error("codeid is required"))?;
    let activate = flag(&map, "activate")?;
    let clear = flag(&map, "clear")?;
    let duration = positive(&map, "duration")?;
    let reason = reason(&map, audit)?;
    if activate && clear {
        return Err(Reply::input_error("activate and clear cannot be combined"));
    }
    if !activate && !clear && duration.is_none() {
        return Err(Reply::input_error("give activate, clear or duration"));
    }
    let action = data.respond.action_mut(codeid).ok_or_else(|| Reply::not_found(NOT_FOUND))?;
    let state = action.state(now);
    let ms = |secs: u64| i64::try_from(secs).unwrap_or(i64::MAX / 1000).saturating_mul(1000);
    if clear {
        action.cleared = true;
        action.active = false;
        action.record(now, "cleared", reason);
    } else if activate {
        match (state, duration) {
            (RespondState::Pending, _) => {
                action.active = true;
                if let Some(d) = duration {
                    action.expires = action.start.saturating_add(ms(d));
                }
                action.record(now, "activated", reason);
            }
            (RespondState::Active, _) => {
                return Err(Reply::input_error("the action is already active; give duration alone to extend it"));
            }
            (_, None) => return Err(Reply::input_error("reactivating a cleared or expired action needs a duration")),
            (previous, Some(d)) => {
                action.active = true;
                action.cleared = false;
                action.start = now;
                action.expires = now.saturating_add(ms(d));
                let how =
                    if previous == RespondState::Cleared { "reactivated (cleared)" } else { "reactivated (expired)" };
                action.record(now, how, reason);
            }
        }
    } else if let Some(d) = duration {
        if state == RespondState::Cleared {
            return Err(Reply::input_error(
                "a cleared action cannot be extended; reactivate it with activate and a duration",
            ));
        }
        // The duration is the new total from the start, not an increment.
        action.expires = action.start.saturating_add(ms(d));
        action.record(now, "extended", reason);
    }
    Ok(json!({ "response": "SUCCESS" }))
}

/// `POST /antigena/manual` with `{did, action, duration, reason, connections?}`.
pub(super) fn manual(data: &mut Dataset, body: &[u8], audit: bool, now: i64) -> Answer {
    let map = json_body(body)?;
    let did = positive(&map, "did")?.ok_or_else(|| Reply::input_error("did is required"))?;
    let action = map.get("action").and_then(Value::as_str).ok_or_else(|| Reply::input_error("action is required"))?;
    let action = MANUAL_KINDS
        .iter()
        .copied()
        .find(|k| *k == action)
        .ok_or_else(|| Reply::input_error(format!("action must be one of {}", MANUAL_KINDS.join(", "))))?;
    let duration = positive(&map, "duration")?.ok_or_else(|| Reply::input_error("duration is required"))?;
    let reason = reason(&map, audit)?;
    let connections = match map.get("connections") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items.clone(),
        Some(_) => return Err(Reply::input_error("connections must be an array of {src, dst, port}")),
    };
    if action == "connection" {
        let well_formed = |c: &Value| {
            c.get("src").and_then(Value::as_str).is_some_and(|s| !s.is_empty())
                && c.get("dst").and_then(Value::as_str).is_some_and(|s| !s.is_empty())
                && c.get("port").is_none_or(|p| p.as_u64().is_some_and(|p| (1..=65535).contains(&p)))
        };
        if connections.is_empty() || !connections.iter().all(well_formed) {
            return Err(Reply::input_error("the connection action needs connections [{src, dst, port?}]"));
        }
    }
    let device = data.devices.iter().position(|d| d.did == did).ok_or_else(|| Reply::not_found("Device not found"))?;
    // A real 7.1.0 appliance answered 400 to `pol`, `gpol` and `quarantineOutgoing` on a client
    // sensor device (`api-inventory.md`, `POST /antigena/manual`). The body it gave is not
    // recorded there; this is the appliance's usual `INPUT ERROR` shape.
    if data.respond.client_sensors.contains(&did) && matches!(action, "pol" | "gpol" | "quarantineOutgoing") {
        return Err(Reply::input_error(format!("Action {action} is not supported on client sensor devices")));
    }
    let codeid = data.respond.next_codeid;
    data.respond.next_codeid += 1;
    let secs = i64::try_from(duration).unwrap_or(i64::MAX / 1000);
    let mut created = RespondAction {
        codeid,
        device,
        pbid: None,
        score: 0.0,
        model: String::new(),
        model_uuid: String::new(),
        action,
        label: label(action),
        detail: String::new(),
        manual: true,
        triggerer: Some((API_USER.to_owned(), reason.clone().unwrap_or_default())),
        start: now,
        expires: now.saturating_add(secs.saturating_mul(1000)),
        updated: now,
        active: true,
        cleared: false,
        blocked: false,
        connections,
        history: Vec::new(),
    };
    created.record(now, "created", reason);
    data.respond.actions.push(created);
    // Some versions answer `{"code": n}` (issue 12) instead of the reference's `{"codeid": n}`
    // (section 2.3); see `Dataset::realistic`.
    Ok(if data.realistic { json!({ "code": codeid }) } else { json!({ "codeid": codeid }) })
}

/// `GET /antigena/summary`: counts now, or active actions during a window (no pending then).
pub(super) fn summary(data: &Dataset, params: &Params, now: i64) -> Answer {
    let window = params.window()?;
    let mut pending = (0u64, BTreeSet::new());
    let mut active = (0u64, BTreeSet::new());
    for a in &data.respond.actions {
        let did = data.devices[a.device].did;
        match window {
            None => match a.state(now) {
                RespondState::Pending => {
                    pending.0 += 1;
                    pending.1.insert(did);
                }
                RespondState::Active => {
                    active.0 += 1;
                    active.1.insert(did);
                }
                _ => {}
            },
            Some((start, end)) => {
                if a.active && !a.cleared && a.start <= end && a.expires >= start {
                    active.0 += 1;
                    active.1.insert(did);
                }
            }
        }
    }
    Ok(json!({
        "pendingCount": pending.0, "activeCount": active.0,
        "pendingActionDevices": pending.1.into_iter().collect::<Vec<_>>(),
        "activeActionDevices": active.1.into_iter().collect::<Vec<_>>(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::simulator::data::respond::RespondState;

    const NOW: i64 = 1_767_225_600_000;

    fn pending(data: &Dataset) -> u64 {
        data.respond.actions.iter().find(|a| a.state(NOW) == RespondState::Pending).map(|a| a.codeid).unwrap()
    }

    #[test]
    fn with_audit_on_a_post_without_reason_is_an_input_error() {
        let mut data = Dataset::generate(42, 300, NOW);
        let codeid = pending(&data);
        let body = format!(r#"{{"codeid":{codeid},"activate":true}}"#);
        let Err(Reply::Json(status, v)) = change(&mut data, body.as_bytes(), true, NOW) else {
            panic!("expected a 400")
        };
        assert_eq!((status.as_u16(), v["response"].as_str()), (400, Some("INPUT ERROR")));
        assert_eq!(data.respond.action(codeid).map(|a| a.active), Some(false), "nothing changed");
        let manual = br#"{"did":1,"action":"quarantine","duration":60}"#;
        assert!(super::manual(&mut data, manual, true, NOW).is_err());
        // With audit off the same request goes through.
        assert!(change(&mut data, body.as_bytes(), false, NOW).is_ok());
        assert_eq!(data.respond.action(codeid).map(|a| a.active), Some(true));
    }

    #[test]
    fn extend_sets_the_total_duration_from_the_start_and_form_bodies_are_refused() {
        let mut data = Dataset::generate(42, 300, NOW);
        let codeid = pending(&data);
        let start = data.respond.action(codeid).map(|a| a.start).unwrap();
        let body = format!(r#"{{"codeid":{codeid},"duration":7200,"reason":"r"}}"#);
        change(&mut data, body.as_bytes(), true, NOW).unwrap();
        assert_eq!(data.respond.action(codeid).map(|a| a.expires), Some(start + 7_200_000));
        assert!(change(&mut data, format!("codeid={codeid}&clear=true&reason=r").as_bytes(), true, NOW).is_err());
        let unknown = br#"{"codeid":1,"clear":true,"reason":"r"}"#;
        let Err(Reply::Json(status, _)) = change(&mut data, unknown, true, NOW) else { panic!("expected a 404") };
        assert_eq!(status.as_u16(), 404);
    }
}
