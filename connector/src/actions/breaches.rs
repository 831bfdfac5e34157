//! Model breach actions: list, get, acknowledge, unacknowledge, comment.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{Input, PbidInput, confirm_success};
use crate::client::Client;
use crate::error::{Error, Result};
use crate::request::ApiRequest;
use crate::shape::{Obj, one_or_many};
use crate::times::{Instant, iso_from_ms, now_ms};

family_actions! {
    "list-model-breaches" => list_model_breaches,
    "get-model-breach" => get_model_breach,
    "acknowledge-model-breach" => acknowledge_model_breach,
    "unacknowledge-model-breach" => unacknowledge_model_breach,
    "add-model-breach-comment" => add_model_breach_comment,
    "list-model-breach-comments" => list_model_breach_comments,
}

/// The window listed when the filter gives none.
const DEFAULT_WINDOW_MS: i64 = 24 * 60 * 60 * 1000;
/// Longest comment accepted; longer text is almost surely a mistake in a playbook.
const MAX_COMMENT_CHARS: usize = 10_000;

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
        match (&self.start, &self.end) {
            (Some(_), None) => return Err(Error::field("end", "missing: give `start` and `end` together, or neither")),
            (None, Some(_)) => return Err(Error::field("start", "missing: give `start` and `end` together, or neither")),
            (Some(s), Some(e)) => {
                if s.to_epoch_ms("start")? > e.to_epoch_ms("end")? {
                    return Err(Error::field("end", "is before `start`"));
                }
            }
            (None, None) => {}
        }
        if let Some(score) = self.min_score
            && !(0.0..=1.0).contains(&score)
        {
            return Err(Error::field("min_score", format!("{score} is outside 0.0..1.0 (breach scores are fractions; 0.7 means 70%)")));
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
    /// Device id.
    pub device_did: Option<u64>,
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
    /// The appliance's object.
    pub raw: Value,
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
    pub raw: Value,
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
    let answer = client.send(&request)?;
    let mut breaches = one_or_many(&answer, "modelbreaches")?
        .into_iter()
        .enumerate()
        .map(|(i, v)| breach_from(client, v, &format!("modelbreaches[{i}]")))
        .collect::<Result<Vec<_>>>()?;
    // The API documents no order; playbooks and pollers want oldest first and no repeats.
    breaches.sort_by_key(|b| (b.creation_time, b.pbid));
    breaches.dedup_by_key(|b| b.pbid);
    Ok(breaches)
}

/// Reads one breach by id.
pub fn get_model_breach(client: &Client, input: PbidInput) -> Result<ModelBreach> {
    let request = ApiRequest::get(format!("/modelbreaches/{}", input.pbid))
        .param("deviceattop", true)
        .param("expandenums", true);
    let answer = client.send(&request)?;
    let item = one_or_many(&answer, "modelbreach")?
        .into_iter()
        .next()
        .filter(|v| v.as_object().is_some_and(|o| !o.is_empty()))
        .ok_or_else(|| Error::NotFound(format!("model breach {} does not exist on the appliance", input.pbid)))?;
    breach_from(client, item, "modelbreach")
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
    let request = ApiRequest::post_json(format!("/modelbreaches/{pbid}/{verb}"), &body);
    let answer = client.send(&request)?;
    confirm_success(&format!("{verb} of model breach {pbid}"), &answer)?;
    Ok(ChangeResult { id: pbid.to_string(), state: format!("{verb}d"), raw: answer })
}

/// Adds a comment and returns it as stored.
pub fn add_model_breach_comment(client: &Client, input: CommentInput) -> Result<BreachComment> {
    let request = ApiRequest::post_json(format!("/modelbreaches/{}/comments", input.pbid), &json!({"message": input.message}));
    let answer = client.send(&request)?;
    // Some versions answer with the created comment, others only with SUCCESS.
    if let Some(created) = answer.as_array().and_then(|a| a.first()).filter(|v| v.get("message").is_some()) {
        return comment_from(input.pbid, created, "comments[0]");
    }
    confirm_success(&format!("comment on model breach {}", input.pbid), &answer)?;
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
    let answer = client.send(&ApiRequest::get(format!("/modelbreaches/{}/comments", input.pbid)))?;
    let items = crate::shape::array(&answer, "comments")?;
    let mut comments = items
        .iter()
        .enumerate()
        .map(|(i, v)| comment_from(input.pbid, v, &format!("comments[{i}]")))
        .collect::<Result<Vec<_>>>()?;
    comments.sort_by_key(|c| c.time);
    Ok(comments)
}

/// Normalises one breach object as the appliance sends it.
pub fn breach_from(client: &Client, v: &Value, path: &str) -> Result<ModelBreach> {
    let o = Obj::new(v, path)?;
    let pbid = o.u64("pbid")?;
    let time = o.i64("time")?;
    let creation_time = o.opt_i64("creationTime")?.unwrap_or(time);
    // `model` is `{then, now}` unless historicmodelonly; `then` is the model as it was at alert time.
    let model = match o.opt_obj("model")? {
        Some(m) => match m.opt_obj("then")? {
            Some(then) => Some(then),
            None => Some(m),
        },
        None => None,
    };
    let (model_name, model_uuid, model_pid, model_category) = match &model {
        Some(m) => {
            let category = match m.opt_str("category")? {
                Some(c) => Some(c),
                None if m.opt_bool("compliance")? == Some(true) => Some("Compliance".to_owned()),
                None => None,
            };
            (m.opt_str("name")?.unwrap_or_default(), m.opt_str("uuid")?, m.opt_u64("pid")?, category)
        }
        None => (String::new(), None, None, None),
    };
    // Without deviceattop the device sits in the first triggered component.
    let device = match o.opt_obj("device")? {
        Some(d) => Some(d),
        None => match o.opt_array("triggeredComponents")? {
            Some((components, at)) => match components.first() {
                Some(c) => Obj::new(c, format!("{at}[0]"))?.opt_obj("device")?,
                None => None,
            },
            None => None,
        },
    };
    let (device_did, device_ip, device_hostname, device_mac) = match &device {
        Some(d) => (d.opt_u64("did")?, d.opt_str("ip")?, d.opt_str("hostname")?, d.opt_str("macaddress")?),
        None => (None, None, None, None),
    };
    let score = o.opt_f64("score")?.unwrap_or(0.0);
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
        acknowledged: o.opt_bool("acknowledged")?.unwrap_or(false),
        comment_count: o.opt_u64("commentCount")?.unwrap_or(0).min(u64::from(u32::MAX)) as u32,
        link: format!("{}/#modelbreach/{pbid}", client.connection().base_url()),
        raw: v.clone(),
    })
}

fn comment_from(pbid: u64, v: &Value, path: &str) -> Result<BreachComment> {
    let o = Obj::new(v, path)?;
    let time = o.opt_i64("time")?.unwrap_or(0);
    Ok(BreachComment {
        pbid: o.opt_u64("pbid")?.unwrap_or(pbid),
        message: o.opt_str("message")?.unwrap_or_default(),
        username: o.opt_str("username")?.unwrap_or_default(),
        time,
        time_iso: iso_from_ms(time),
        raw: v.clone(),
    })
}
