//! RESPOND (Autonomous Response, formerly Antigena) actions: list, activate, clear, extend,
//! reactivate, create manual actions, summary.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::devices::{Device, device_from};
use super::intel::normalise_indicator;
use super::{Input, ReadBack, Written, send_confirmed_write, send_write};
use crate::client::Client;
use crate::error::{Error, Result};
use crate::request::ApiRequest;
use crate::shape::{Doc, Obj, RawText, Warning, Warnings, as_u64, read_list, sort_stable, wrong};
use crate::times::{Instant, iso_from_ms, window};

family_actions! {
    "list-respond-actions" => list_respond_actions,
    "activate-respond-action" => activate_respond_action,
    "clear-respond-action" => clear_respond_action,
    "extend-respond-action" => extend_respond_action,
    "reactivate-respond-action" => reactivate_respond_action,
    "create-manual-respond-action" => create_manual_respond_action,
    "get-respond-summary" => get_respond_summary,
}

/// Longest reason accepted: it is stored in the action history, not a document.
const MAX_REASON_CHARS: usize = 500;
/// Longest duration accepted (a year); anything longer is almost surely a unit mistake.
const MAX_DURATION_SECS: u64 = 365 * 24 * 3600;
/// Most connections one manual block takes.
const MAX_CONNECTIONS: usize = 100;

/// A RESPOND action (see the WIT `respond-action`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RespondAction {
    /// Action id.
    pub codeid: u64,
    /// Device id.
    pub did: Option<u64>,
    /// Device IP.
    pub ip: Option<String>,
    /// Kind of action.
    pub action: String,
    /// Readable name.
    pub label: Option<String>,
    /// What it blocks.
    pub detail: Option<String>,
    /// Created by hand.
    pub manual: bool,
    /// Who triggered it by hand.
    pub triggerer_username: Option<String>,
    /// Their reason.
    pub triggerer_reason: Option<String>,
    /// Breach score 0..1.
    pub score: f64,
    /// Triggering breach.
    pub pbid: Option<u64>,
    /// Model name.
    pub model: Option<String>,
    /// Model UUID.
    pub model_uuid: Option<String>,
    /// Start, epoch ms.
    pub start: Option<i64>,
    /// `start` in ISO 8601 UTC.
    pub start_iso: Option<String>,
    /// Expiry, epoch ms.
    pub expires: Option<i64>,
    /// `expires` in ISO 8601 UTC.
    pub expires_iso: Option<String>,
    /// Last change, epoch ms.
    pub updated: Option<i64>,
    /// `updated` in ISO 8601 UTC.
    pub updated_iso: Option<String>,
    /// Activated.
    pub active: bool,
    /// Cleared by hand.
    pub cleared: bool,
    /// Has blocked connections.
    pub blocked: bool,
    /// The appliance's object.
    pub raw: RawText,
    /// The fields that could not be read.
    pub warnings: Vec<Warning>,
}

/// Actions found, plus their devices when asked (see the WIT `respond-action-list`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RespondActionList {
    /// The actions, oldest first by start.
    pub actions: Vec<RespondAction>,
    /// The devices, when asked for.
    pub devices: Vec<Device>,
}

/// What a change did (see the WIT `respond-change`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RespondChange {
    /// The action.
    pub codeid: u64,
    /// What was done.
    pub state: String,
    /// Total duration now set, seconds.
    pub duration_seconds: Option<u64>,
    /// New expiry, epoch ms.
    pub expires: Option<i64>,
    /// `expires` in ISO 8601 UTC.
    pub expires_iso: Option<String>,
    /// The appliance's answer.
    pub raw: Value,
    /// `None` when the appliance confirmed the change; `Some(true)` when a gateway answered
    /// 502 or 504 instead and reading the action back showed the change applied.
    pub verified: Option<bool>,
}

/// Counts of active and pending actions (see the WIT `respond-summary`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RespondSummary {
    /// Pending actions.
    pub pending_count: u64,
    /// Active actions.
    pub active_count: u64,
    /// Devices with pending actions.
    pub pending_action_devices: Vec<u64>,
    /// Devices with active actions.
    pub active_action_devices: Vec<u64>,
    /// The appliance's answer.
    pub raw: RawText,
    /// The fields that could not be read.
    pub warnings: Vec<Warning>,
}

/// Input of `list-respond-actions` (see the WIT `respond-filter`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RespondFilter {
    /// Only this device.
    pub did: Option<u64>,
    /// Only this breach.
    pub pbid: Option<u64>,
    /// Include cleared actions.
    pub include_cleared: Option<bool>,
    /// Include history.
    pub include_history: Option<bool>,
    /// Only (not) awaiting confirmation.
    pub need_confirmation: Option<bool>,
    /// Return the devices too.
    pub include_devices: Option<bool>,
    /// Window start.
    pub start: Option<Instant>,
    /// Window end.
    pub end: Option<Instant>,
}

impl Input for RespondFilter {
    fn validate(&self) -> Result<()> {
        window(&self.start, &self.end).map(|_| ())
    }
}

/// Input of `activate-respond-action` and `clear-respond-action`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReasonInput {
    /// The action.
    pub codeid: u64,
    /// Why.
    pub reason: String,
}

impl Input for ReasonInput {
    fn validate(&self) -> Result<()> {
        check_reason(&self.reason)
    }
}

/// Input of `extend-respond-action` (see the WIT `respond-extension`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExtendInput {
    /// The action.
    pub codeid: u64,
    /// Seconds to add to the current expiry.
    pub extend_by_seconds: Option<u64>,
    /// New total duration from the start, seconds.
    pub total_duration_seconds: Option<u64>,
    /// Why.
    pub reason: String,
}

impl Input for ExtendInput {
    fn validate(&self) -> Result<()> {
        match (self.extend_by_seconds, self.total_duration_seconds) {
            (Some(_), Some(_)) | (None, None) => {
                return Err(Error::field(
                    "extend_by_seconds",
                    "give exactly one of `extend_by_seconds` (added to the current expiry) and `total_duration_seconds` \
                     (the new duration counted from the action's start, as the appliance takes it)",
                ));
            }
            (Some(by), None) => check_duration("extend_by_seconds", by)?,
            (None, Some(total)) => check_duration("total_duration_seconds", total)?,
        }
        check_reason(&self.reason)
    }
}

/// Input of `reactivate-respond-action`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReactivateInput {
    /// The action.
    pub codeid: u64,
    /// How long, seconds.
    pub duration_seconds: u64,
    /// Why.
    pub reason: String,
}

impl Input for ReactivateInput {
    fn validate(&self) -> Result<()> {
        check_duration("duration_seconds", self.duration_seconds)?;
        check_reason(&self.reason)
    }
}

/// The kinds of manual action, by friendly name (see the WIT `manual-action-kind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ManualActionKind {
    /// `connection`
    BlockConnections,
    /// `pol`
    EnforcePatternOfLife,
    /// `gpol`
    EnforceGroupPatternOfLife,
    /// `quarantine`
    Quarantine,
    /// `quarantineOutgoing`
    BlockOutgoing,
    /// `quarantineIncoming`
    BlockIncoming,
}

impl ManualActionKind {
    /// The appliance's name for the kind.
    pub fn api_name(self) -> &'static str {
        match self {
            ManualActionKind::BlockConnections => "connection",
            ManualActionKind::EnforcePatternOfLife => "pol",
            ManualActionKind::EnforceGroupPatternOfLife => "gpol",
            ManualActionKind::Quarantine => "quarantine",
            ManualActionKind::BlockOutgoing => "quarantineOutgoing",
            ManualActionKind::BlockIncoming => "quarantineIncoming",
        }
    }
}

/// A connection to block (see the WIT `blocked-connection`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BlockedConnection {
    /// Source IP or hostname.
    pub src: String,
    /// Destination IP or hostname.
    pub dst: String,
    /// Destination port.
    pub port: Option<u16>,
}

/// Input of `create-manual-respond-action` (see the WIT `manual-respond-action`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManualActionInput {
    /// Device.
    pub did: u64,
    /// Kind.
    pub action: ManualActionKind,
    /// Seconds.
    pub duration_seconds: u64,
    /// Why.
    pub reason: String,
    /// Connections, for `block_connections` only.
    #[serde(default)]
    pub connections: Vec<BlockedConnection>,
}

impl Input for ManualActionInput {
    fn validate(&self) -> Result<()> {
        check_duration("duration_seconds", self.duration_seconds)?;
        check_reason(&self.reason)?;
        if self.action == ManualActionKind::BlockConnections {
            if self.connections.is_empty() {
                return Err(Error::field(
                    "connections",
                    "is empty; `block_connections` needs at least one {src, dst, port?}",
                ));
            }
            if self.connections.len() > MAX_CONNECTIONS {
                return Err(Error::field(
                    "connections",
                    format!("has {} entries; give at most {MAX_CONNECTIONS}", self.connections.len()),
                ));
            }
            for (i, c) in self.connections.iter().enumerate() {
                normalise_indicator(&format!("connections[{i}].src"), &c.src, false)?;
                normalise_indicator(&format!("connections[{i}].dst"), &c.dst, false)?;
                if c.port == Some(0) {
                    return Err(Error::field(
                        &format!("connections[{i}].port"),
                        "is 0; give a port 1..65535 or leave it out for every port",
                    ));
                }
            }
        } else if !self.connections.is_empty() {
            return Err(Error::field(
                "connections",
                "is only for `block_connections`; leave it out for this kind of action",
            ));
        }
        Ok(())
    }
}

/// Input of `get-respond-summary`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SummaryInput {
    /// Window start.
    pub start: Option<Instant>,
    /// Window end.
    pub end: Option<Instant>,
}

impl Input for SummaryInput {
    fn validate(&self) -> Result<()> {
        window(&self.start, &self.end).map(|_| ())
    }
}

/// Lists RESPOND actions, oldest first by start; reads both reply shapes.
pub fn list_respond_actions(client: &Client, filter: RespondFilter) -> Result<RespondActionList> {
    let window = window(&filter.start, &filter.end)?;
    let request = ApiRequest::get("/antigena")
        .opt_param("did", filter.did)
        .opt_param("pbid", filter.pbid)
        .param("includecleared", filter.include_cleared.unwrap_or(false))
        .param("includehistory", filter.include_history.unwrap_or(false))
        .opt_param("needconfirming", filter.need_confirmation)
        .param("fulldevicedetails", filter.include_devices.unwrap_or(false))
        .opt_param("starttime", window.map(|w| w.0))
        .opt_param("endtime", window.map(|w| w.1));
    let answer = Doc::fetch(client, &request)?;
    let mut list = action_list(&answer)?;
    // The API documents no order; playbooks want a stable one.
    sort_stable(&mut list.actions, |a, b| {
        (a.start.unwrap_or(i64::MIN), a.codeid).cmp(&(b.start.unwrap_or(i64::MIN), b.codeid))
    });
    Ok(list)
}

/// Reads `/antigena` given as a parsed tree (its `raw` texts are then re-written from it).
pub fn parse_action_list(answer: &Value) -> Result<RespondActionList> {
    action_list(&Doc::from_value(answer))
}

/// Reads `/antigena`: an array of actions, or `{actions, devices}` with fulldevicedetails.
pub fn action_list(answer: &Doc) -> Result<RespondActionList> {
    let (items, at, keys, devices) = match &answer.value {
        Value::Array(items) => (items, "antigena".to_owned(), &[][..], Vec::new()),
        Value::Object(map) => {
            let items = match map.get("actions") {
                Some(Value::Array(items)) => items,
                other => return Err(wrong("antigena.actions", "an array", other.unwrap_or(&Value::Null))),
            };
            let devices = match map.get("devices") {
                Some(Value::Array(d)) => {
                    let d: Vec<&Value> = d.iter().collect();
                    read_list(&d, &answer.raw_items(&["devices"]), "antigena.devices", &device_from)
                }
                _ => Vec::new(),
            };
            (items, "antigena.actions".to_owned(), &["actions"][..], devices)
        }
        other => return Err(wrong("antigena", "an array or an object", other)),
    };
    let items: Vec<&Value> = items.iter().collect();
    let actions = read_list(&items, &answer.raw_items(keys), &at, &action_from);
    Ok(RespondActionList { actions, devices })
}

/// Activates a pending action.
pub fn activate_respond_action(client: &Client, input: ReasonInput) -> Result<RespondChange> {
    let body = json!({ "codeid": input.codeid, "activate": true, "reason": input.reason.trim() });
    change(client, input.codeid, "activation", "activated", &body, None, None)
}

/// Clears an action.
pub fn clear_respond_action(client: &Client, input: ReasonInput) -> Result<RespondChange> {
    let body = json!({ "codeid": input.codeid, "clear": true, "reason": input.reason.trim() });
    change(client, input.codeid, "clearing", "cleared", &body, None, None)
}

/// Extends an action: reads its start and expiry, then sends the new total duration.
pub fn extend_respond_action(client: &Client, input: ExtendInput) -> Result<RespondChange> {
    let current = find_action(client, input.codeid)?;
    let start = current.start.ok_or_else(|| no_time(input.codeid, "start"))?;
    let total = match (input.total_duration_seconds, input.extend_by_seconds) {
        (Some(total), _) => total,
        (None, Some(by)) => {
            let expires = current.expires.ok_or_else(|| no_time(input.codeid, "expiry"))?;
            // Round up so the action never ends before the asked-for instant.
            let run_ms = expires.saturating_sub(start).max(0) as u64;
            run_ms.div_ceil(1000).saturating_add(by)
        }
        (None, None) => {
            return Err(Error::field("extend_by_seconds", "give `extend_by_seconds` or `total_duration_seconds`"));
        }
    };
    let new_expiry = start.saturating_add(i64::try_from(total).unwrap_or(i64::MAX / 1000).saturating_mul(1000));
    let body = json!({ "codeid": input.codeid, "duration": total, "reason": input.reason.trim() });
    change(client, input.codeid, "extension", "extended", &body, Some(total), Some(new_expiry))
}

/// Reactivates a cleared or expired action.
pub fn reactivate_respond_action(client: &Client, input: ReactivateInput) -> Result<RespondChange> {
    let body = json!({ "codeid": input.codeid, "activate": true, "duration": input.duration_seconds, "reason": input.reason.trim() });
    change(client, input.codeid, "reactivation", "reactivated", &body, Some(input.duration_seconds), None)
}

/// Creates a manual action and returns its new codeid.
pub fn create_manual_respond_action(client: &Client, input: ManualActionInput) -> Result<RespondChange> {
    let mut body = Map::new();
    body.insert("did".into(), json!(input.did));
    body.insert("action".into(), json!(input.action.api_name()));
    body.insert("duration".into(), json!(input.duration_seconds));
    body.insert("reason".into(), json!(input.reason.trim()));
    if input.action == ManualActionKind::BlockConnections {
        let connections: Vec<Value> = input
            .connections
            .iter()
            .map(|c| {
                let mut o = Map::new();
                o.insert("src".into(), json!(c.src.trim()));
                o.insert("dst".into(), json!(c.dst.trim()));
                if let Some(port) = c.port {
                    o.insert("port".into(), json!(port));
                }
                Value::Object(o)
            })
            .collect();
        body.insert("connections".into(), Value::Array(connections));
    }
    let what = format!("creating a manual {} action on device {}", input.action.api_name(), input.did);
    let reason = input.reason.trim().to_owned();
    // After a gateway error the new action is looked for: manual, on this device, of this kind,
    // with this reason in its history, started no earlier than a minute before the request.
    let asked_at = crate::times::now_ms() - 60_000;
    let read_back = |c: &Client| -> Result<ReadBack> {
        let found = list_for_read_back(c)?.into_iter().find(|a| {
            a.manual
                && a.did == Some(input.did)
                && a.action == input.action.api_name()
                && a.triggerer_reason.as_deref() == Some(reason.as_str())
                && a.start.is_some_and(|s| s >= asked_at)
        });
        Ok(ReadBack {
            applied: found.is_some(),
            seen: json!({ "did": input.did, "action": input.action.api_name(), "found": found.map(|a| a.raw) }),
        })
    };
    let written = match send_write(client, &ApiRequest::post_json("/antigena/manual", &body), &what, &read_back) {
        Err(Error::Upstream { status: 400, message }) if refused_on_client_sensors(input.action) => {
            return Err(unsupported_on_device(input.action, input.did, &message));
        }
        other => other?,
    };
    let answer = match written {
        Written::Answered(answer) => answer.value,
        Written::Verified(raw) => {
            let codeid = raw["read_back"]["found"]["codeid"].as_u64().unwrap_or(0);
            return Ok(RespondChange {
                codeid,
                state: "created".into(),
                duration_seconds: Some(input.duration_seconds),
                expires: None,
                expires_iso: None,
                raw,
                verified: Some(true),
            });
        }
    };
    let read = Warnings::default();
    let o = Obj::item(&answer, "antigena/manual", &read)?;
    // The guide documents `{"codeid": n}` (reference, section 2.3); some versions answer
    // `{"code": n}` instead (issue 12, from real appliances).
    let codeid = if o.get("codeid").is_some() { o.id_u64("codeid")? } else { o.id_u64("code")? };
    // The guide says a failed creation answers codeid 0.
    if codeid == 0 {
        return Err(Error::Upstream {
            status: 200,
            message: format!(
                "the appliance did not create the {} action on device {} (codeid 0); check the device exists and RESPOND covers it",
                input.action.api_name(),
                input.did
            ),
        });
    }
    Ok(RespondChange {
        codeid,
        state: "created".into(),
        duration_seconds: Some(input.duration_seconds),
        expires: None,
        expires_iso: None,
        raw: answer,
        verified: None,
    })
}

/// The kinds a real 7.1.0 appliance refused with 400 on a client sensor (cSensor) device
/// (`api-inventory.md`, `POST /antigena/manual`): client sensors enforce neither pattern of
/// life nor an outgoing-only block.
fn refused_on_client_sensors(kind: ManualActionKind) -> bool {
    matches!(
        kind,
        ManualActionKind::EnforcePatternOfLife
            | ManualActionKind::EnforceGroupPatternOfLife
            | ManualActionKind::BlockOutgoing
    )
}

/// The error for a manual action of a kind the device does not take: nothing was created.
fn unsupported_on_device(kind: ManualActionKind, did: u64, said: &str) -> Error {
    Error::Unsupported(format!(
        "the appliance refused a manual `{}` action on device {did} (400: {said}); nothing was created. Appliances \
         refuse enforce_pattern_of_life (`pol`), enforce_group_pattern_of_life (`gpol`) and block_outgoing \
         (`quarantineOutgoing`) on client sensor (cSensor) devices: use quarantine, block_incoming or \
         block_connections for such a device, or check the device id",
        kind.api_name()
    ))
}

/// Every current, expired and cleared action, to read a change back.
fn list_for_read_back(client: &Client) -> Result<Vec<RespondAction>> {
    let request = ApiRequest::get("/antigena")
        .param("includecleared", true)
        .param("includehistory", true)
        .param("fulldevicedetails", false);
    Ok(parse_action_list(&client.send(&request)?)?.actions)
}

/// Reads the counts of active and pending actions.
pub fn get_respond_summary(client: &Client, input: SummaryInput) -> Result<RespondSummary> {
    let window = window(&input.start, &input.end)?;
    let request = ApiRequest::get("/antigena/summary")
        .opt_param("starttime", window.map(|w| w.0))
        .opt_param("endtime", window.map(|w| w.1));
    let answer = Doc::fetch(client, &request)?;
    let w = Warnings::default();
    let o = Obj::item(&answer.value, "antigena/summary", &w)?;
    Ok(RespondSummary {
        pending_count: o.opt_u64("pendingCount").unwrap_or(0),
        active_count: o.opt_u64("activeCount").unwrap_or(0),
        pending_action_devices: dids(&o, "pendingActionDevices"),
        active_action_devices: dids(&o, "activeActionDevices"),
        raw: answer.raw(),
        warnings: w.take(),
    })
}

/// The device ids listed at `key`; one that is not an id is a warning.
fn dids(o: &Obj<'_>, key: &str) -> Vec<u64> {
    let Some((items, at)) = o.opt_array(key) else { return Vec::new() };
    items.iter().enumerate().filter_map(|(i, v)| o.element(v, &format!("{at}[{i}]"), "a device id", as_u64)).collect()
}

/// Posts one change to `/antigena` and checks the appliance confirmed it.
fn change(
    client: &Client,
    codeid: u64,
    what: &str,
    state: &str,
    body: &Value,
    duration_seconds: Option<u64>,
    expires: Option<i64>,
) -> Result<RespondChange> {
    // Every body states the outcome (activate, clear, or a total duration from the action's
    // start), never a relative change, so a retry is safe; manual creation is not routed here.
    let request = ApiRequest::post_json("/antigena", body).idempotent(true);
    let what = format!("{what} of RESPOND action {codeid}");
    let now = crate::times::now_ms();
    let read_back = |c: &Client| -> Result<ReadBack> {
        let action = list_for_read_back(c)?.into_iter().find(|a| a.codeid == codeid);
        let applied = action.as_ref().is_some_and(|a| match state {
            "cleared" => a.cleared,
            // Within a second: the appliance may keep its own rounding of the duration.
            "extended" => a.expires.zip(expires).is_some_and(|(got, want)| (got - want).abs() <= 1_000),
            _ => a.active && !a.cleared && a.expires.is_none_or(|e| e > now),
        });
        Ok(ReadBack {
            applied,
            seen: json!({
                "codeid": codeid,
                "found": action.is_some(),
                "active": action.as_ref().map(|a| a.active),
                "cleared": action.as_ref().map(|a| a.cleared),
                "expires": action.as_ref().and_then(|a| a.expires),
            }),
        })
    };
    let (raw, verified) = send_confirmed_write(client, &request, &what, &read_back)?;
    Ok(RespondChange {
        codeid,
        state: state.into(),
        duration_seconds,
        expires,
        expires_iso: expires.map(iso_from_ms),
        raw,
        verified,
    })
}

/// The action with `codeid`, among the current, expired and cleared ones the appliance lists.
fn find_action(client: &Client, codeid: u64) -> Result<RespondAction> {
    let request = ApiRequest::get("/antigena")
        .param("includecleared", true)
        .param("includehistory", false)
        .param("fulldevicedetails", false);
    let answer = Doc::fetch(client, &request)?;
    action_list(&answer)?.actions.into_iter().find(|a| a.codeid == codeid).ok_or_else(|| {
        Error::NotFound(format!(
            "RESPOND action {codeid} is not among the appliance's current or recent actions; check the codeid with list-respond-actions"
        ))
    })
}

fn no_time(codeid: u64, what: &str) -> Error {
    Error::UnexpectedResponse(format!(
        "RESPOND action {codeid} has no {what} time, so its new total duration cannot be worked out; \
         give `total_duration_seconds` instead if you know it"
    ))
}

/// Normalises one action object as the appliance sends it; its identity is its codeid.
pub fn action_from(v: &Value, path: &str, raw: RawText) -> Result<RespondAction> {
    let w = Warnings::default();
    let o = Obj::item(v, path, &w)?;
    let codeid = o.id_u64("codeid")?;
    let (triggerer_username, triggerer_reason) = match o.opt_obj("triggerer") {
        Some(t) => (t.opt_str("username"), t.opt_str("reason")),
        None => (None, None),
    };
    let start = o.opt_i64("start");
    let expires = o.opt_i64("expires");
    // `updated` is milliseconds held in a string; opt_i64 reads both forms.
    let updated = o.opt_i64("updated");
    // `blocked` is a flag on current versions; a count has been seen in docs, read it as "any".
    let blocked = match o.get("blocked") {
        Some(Value::Number(n)) => n.as_f64().is_some_and(|f| f > 0.0),
        _ => o.opt_bool("blocked").unwrap_or(false),
    };
    Ok(RespondAction {
        codeid,
        did: o.opt_u64("did"),
        ip: o.opt_str("ip"),
        action: o.opt_str("action").unwrap_or_default(),
        label: o.opt_str("label"),
        detail: o.opt_str("detail"),
        manual: o.opt_bool("manual").unwrap_or(false),
        triggerer_username,
        triggerer_reason,
        score: o.opt_f64("score").unwrap_or(0.0),
        // Manual actions carry pbid 0: no breach.
        pbid: o.opt_u64("pbid").filter(|p| *p != 0),
        model: o.opt_str("model"),
        model_uuid: o.opt_str("modeluuid"),
        start,
        start_iso: start.map(iso_from_ms),
        expires,
        expires_iso: expires.map(iso_from_ms),
        updated,
        updated_iso: updated.map(iso_from_ms),
        active: o.opt_bool("active").unwrap_or(false),
        cleared: o.opt_bool("cleared").unwrap_or(false),
        blocked,
        raw,
        warnings: w.take(),
    })
}

fn check_reason(reason: &str) -> Result<()> {
    if reason.trim().is_empty() {
        return Err(Error::field("reason", "is empty; say why (it is recorded in the action history and audited)"));
    }
    if reason.chars().count() > MAX_REASON_CHARS {
        return Err(Error::field("reason", format!("is longer than {MAX_REASON_CHARS} characters; shorten it")));
    }
    Ok(())
}

fn check_duration(field: &str, secs: u64) -> Result<()> {
    if !(1..=MAX_DURATION_SECS).contains(&secs) {
        return Err(Error::field(
            field,
            format!("{secs} is outside 1..{MAX_DURATION_SECS} seconds (a year); durations are in seconds"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::actions::parse_input;
    use crate::actions::testing::Canned;
    use crate::connection::Connection;
    use crate::request::WireRequest;

    /// Answers every request with the next canned body and keeps what was sent.
    fn run<I: Input, O>(
        answers: &[&'static str],
        input: Value,
        f: fn(&Client, I) -> Result<O>,
    ) -> (Result<O>, Vec<WireRequest>) {
        let t = Canned::sequence(answers);
        let r =
            parse_input(input).and_then(|i| super::super::run(Connection::new("dt.example.com", "p", "s"), &t, i, f));
        (r, t.into_sent())
    }

    fn body(w: &WireRequest) -> String {
        String::from_utf8(w.body.clone().unwrap_or_default()).unwrap()
    }

    const ACTION: &str = r#"{"codeid":501,"did":12,"ip":"10.0.0.5","action":"quarantine","label":"Quarantine device","detail":"",
        "manual":false,"triggerer":null,"score":0.82,"pbid":10123,"model":"Device / Anomalous Connection","modeluuid":"u-1",
        "start":1705311000000,"expires":1705314600000,"updated":"1705311000123","blocked":false,"agemail":false,"aghost":false,
        "active":true,"cleared":false}"#;

    #[test]
    fn both_list_shapes_are_read_and_updated_is_read_from_its_string() {
        let plain = format!("[{ACTION}]");
        let list = parse_action_list(&serde_json::from_str(&plain).unwrap()).unwrap();
        let a = &list.actions[0];
        assert_eq!((a.codeid, a.did, a.pbid, a.updated), (501, Some(12), Some(10123), Some(1_705_311_000_123)));
        assert_eq!(a.expires_iso.as_deref(), Some("2024-01-15T10:30:00.000Z"));
        assert!(a.triggerer_username.is_none() && a.detail.is_none());
        let wrapped = format!(r#"{{"actions":[{ACTION}],"devices":[{{"did":12,"hostname":"ws-12"}}]}}"#);
        let list = parse_action_list(&serde_json::from_str(&wrapped).unwrap()).unwrap();
        assert_eq!((list.actions.len(), list.devices[0].hostname.as_deref()), (1, Some("ws-12")));
        let err = parse_action_list(&json!({"devices": []})).unwrap_err();
        assert!(err.message().contains("antigena.actions"), "{err}");
        let v = json!({"codeid": 7, "manual": true, "pbid": 0, "score": 0, "blocked": 3,
            "triggerer": {"username": "soc", "reason": "contain"}});
        let manual = action_from(&v, "a", RawText::of(&v)).unwrap();
        assert_eq!((manual.pbid, manual.blocked, manual.triggerer_reason.as_deref()), (None, true, Some("contain")));
    }

    #[test]
    fn extend_by_converts_to_the_new_total_from_the_start() {
        let list: &'static str = Box::leak(format!("[{ACTION}]").into_boxed_str());
        let (r, sent) = run(
            &[list, r#"{"response":"SUCCESS"}"#],
            json!({"codeid": 501, "extend_by_seconds": 1800, "reason": "more time"}),
            extend_respond_action,
        );
        let change = r.unwrap();
        // The action ran 3600 s from start to expiry; 1800 more makes 5400 in total.
        assert_eq!(change.duration_seconds, Some(5400));
        assert_eq!(change.expires, Some(1_705_311_000_000 + 5_400_000));
        assert_eq!(body(&sent[1]), r#"{"codeid":501,"duration":5400,"reason":"more time"}"#);
        let (r, _) =
            run(&[list], json!({"codeid": 9, "total_duration_seconds": 60, "reason": "x"}), extend_respond_action);
        assert_eq!(r.unwrap_err().case(), "not-found");
    }

    #[test]
    fn writes_send_the_documented_json_bodies() {
        let ok = r#"{"response":"SUCCESS"}"#;
        let (r, sent) = run(&[ok], json!({"codeid": 5, "reason": "confirmed"}), activate_respond_action);
        assert_eq!(r.unwrap().state, "activated");
        assert_eq!(body(&sent[0]), r#"{"codeid":5,"activate":true,"reason":"confirmed"}"#);
        let (_, sent) = run(&[ok], json!({"codeid": 5, "reason": "benign"}), clear_respond_action);
        assert_eq!(body(&sent[0]), r#"{"codeid":5,"clear":true,"reason":"benign"}"#);
        let (_, sent) =
            run(&[ok], json!({"codeid": 5, "duration_seconds": 600, "reason": "again"}), reactivate_respond_action);
        assert_eq!(body(&sent[0]), r#"{"codeid":5,"activate":true,"duration":600,"reason":"again"}"#);
        let (r, sent) = run(
            &[r#"{"codeid":9001}"#],
            json!({"did": 12, "action": "block_connections", "duration_seconds": 3600, "reason": "c2",
                   "connections": [{"src": "10.0.0.5", "dst": "evil.example.com", "port": 443}]}),
            create_manual_respond_action,
        );
        assert_eq!(r.unwrap().codeid, 9001);
        assert_eq!(sent[0].url, "https://dt.example.com/antigena/manual");
        assert_eq!(
            body(&sent[0]),
            r#"{"did":12,"action":"connection","duration":3600,"reason":"c2","connections":[{"src":"10.0.0.5","dst":"evil.example.com","port":443}]}"#
        );
        let (r, _) = run(
            &[r#"{"codeid":0}"#],
            json!({"did": 1, "action": "quarantine", "duration_seconds": 60, "reason": "x"}),
            create_manual_respond_action,
        );
        assert_eq!(r.unwrap_err().case(), "upstream");
    }

    #[test]
    fn bad_inputs_are_refused_before_sending() {
        for (input, field) in [
            (json!({"codeid": 1, "reason": "  "}), "reason"),
            (json!({"codeid": 1, "reason": "x".repeat(501)}), "reason"),
            (json!({"codeid": 1}), "reason"),
        ] {
            let (r, sent) = run(&[], input.clone(), clear_respond_action);
            let err = r.unwrap_err();
            assert_eq!((err.case(), sent.len()), ("invalid-input", 0), "{input}");
            assert!(err.message().contains(field), "{input}: {err}");
        }
        for input in [
            json!({"codeid": 1, "reason": "r"}),
            json!({"codeid": 1, "reason": "r", "extend_by_seconds": 5, "total_duration_seconds": 5}),
            json!({"codeid": 1, "reason": "r", "duration": 5}),
        ] {
            let (r, sent) = run(&[], input.clone(), extend_respond_action);
            assert_eq!((r.unwrap_err().case(), sent.len()), ("invalid-input", 0), "{input}");
        }
        for (input, field) in [
            (json!({"did": 1, "action": "block_connections", "duration_seconds": 60, "reason": "r"}), "connections"),
            (
                json!({"did": 1, "action": "quarantine", "duration_seconds": 60, "reason": "r", "connections": [{"src": "10.0.0.1", "dst": "10.0.0.2"}]}),
                "connections",
            ),
            (
                json!({"did": 1, "action": "block_connections", "duration_seconds": 60, "reason": "r", "connections": [{"src": "10.0.0.1", "dst": "x y"}]}),
                "connections[0].dst",
            ),
            (json!({"did": 1, "action": "quarantine", "duration_seconds": 0, "reason": "r"}), "duration_seconds"),
            (json!({"did": 1, "action": "isolate", "duration_seconds": 60, "reason": "r"}), "action"),
            (json!({"did": 1, "action": "quarantineOutgoing", "duration_seconds": 60, "reason": "r"}), "action"),
        ] {
            let (r, sent) = run(&[], input.clone(), create_manual_respond_action);
            let err = r.unwrap_err();
            assert_eq!((err.case(), sent.len()), ("invalid-input", 0), "{input}");
            assert!(err.message().contains(field), "{input}: {err}");
        }
        let (r, _) = run(&[], json!({"start": 1705311000000i64}), list_respond_actions);
        assert!(r.unwrap_err().message().contains("end"));
    }

    #[test]
    fn summary_reads_counts_and_device_ids() {
        let (r, sent) = run(
            &[r#"{"pendingCount":2,"activeCount":3,"pendingActionDevices":[4,"5"],"activeActionDevices":[6]}"#],
            json!({}),
            get_respond_summary,
        );
        let s = r.unwrap();
        assert_eq!(
            (s.pending_count, s.active_count, s.pending_action_devices, s.active_action_devices),
            (2, 3, vec![4, 5], vec![6])
        );
        assert_eq!(sent[0].url, "https://dt.example.com/antigena/summary");
        let (r, _) = run(&[r#"{"activeActionDevices":[{"did":1}, 2]}"#], json!({}), get_respond_summary);
        let s = r.unwrap();
        assert_eq!(s.active_action_devices, [2]);
        assert_eq!(s.warnings[0].path, "antigena/summary.activeActionDevices[0]");
    }
}
