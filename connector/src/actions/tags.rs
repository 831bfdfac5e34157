//! Tag actions: tag definitions, a device's tags, a tag's devices, tagging and untagging.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::devices::{Device, device_from};
use super::{DidInput, Input, ReadBack, Written, confirm_success, send_confirmed_write, send_write};
use crate::client::Client;
use crate::error::{Error, Result};
use crate::request::{ApiRequest, Method};
use crate::shape::{Doc, Obj, RawText, Warning, Warnings, read_list, read_many, sort_stable};
use crate::times::iso_from_ms;

family_actions! {
    "list-tags" => list_tags,
    "list-device-tags" => list_device_tags,
    "list-tagged-devices" => list_tagged_devices,
    "add-device-tag" => add_device_tag,
    "remove-device-tag" => remove_device_tag,
}

/// Longest tag name accepted.
const MAX_TAG_CHARS: usize = 128;
/// Longest tag duration accepted: a year; leave the duration out for a permanent tag.
const MAX_DURATION_SECS: u32 = 31_536_000;

/// Checks a tag name given for `field`.
fn check_tag(field: &str, tag: &str) -> Result<()> {
    if tag.trim().is_empty() {
        return Err(Error::field(field, "is empty; give a tag name such as `Admin`"));
    }
    if tag.chars().count() > MAX_TAG_CHARS {
        return Err(Error::field(field, format!("is longer than {MAX_TAG_CHARS} characters")));
    }
    if tag.chars().any(char::is_control) {
        return Err(Error::field(field, "contains a line break or control character"));
    }
    Ok(())
}

/// A tag (see the WIT `tag`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Tag {
    /// Tag id.
    pub tid: u64,
    /// Name.
    pub name: String,
    /// Restricted or not.
    pub restricted: bool,
    /// Expiry on the device, epoch ms; none when it does not expire.
    pub expiry: Option<i64>,
    /// `expiry` in ISO 8601 UTC.
    pub expiry_iso: Option<String>,
    /// HSL hue.
    pub color: Option<u32>,
    /// Description.
    pub description: Option<String>,
    /// Visibility.
    pub visibility: Option<String>,
    /// The appliance's object.
    pub raw: RawText,
    /// The fields that could not be read.
    pub warnings: Vec<Warning>,
}

/// A tag-to-entity link (see the WIT `tag-entity`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TagEntity {
    /// Link id.
    pub teid: u64,
    /// Tag id.
    pub tid: u64,
    /// `Device` or `Credential`.
    pub entity_type: String,
    /// The did as text, or the credential.
    pub entity_value: String,
    /// The device id, for devices.
    pub did: Option<u64>,
    /// Valid or not.
    pub valid: Option<bool>,
    /// Expiry, epoch ms.
    pub expiry: Option<i64>,
    /// `expiry` in ISO 8601 UTC.
    pub expiry_iso: Option<String>,
    /// The appliance's object.
    pub raw: RawText,
    /// The fields that could not be read.
    pub warnings: Vec<Warning>,
}

/// A tag's entities and devices (see the WIT `tagged-devices`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TaggedDevices {
    /// The tag.
    pub tag: String,
    /// Links.
    pub entities: Vec<TagEntity>,
    /// Devices.
    pub devices: Vec<Device>,
}

/// The outcome of tagging or untagging (see the WIT `tag-change`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TagChange {
    /// The device.
    pub did: u64,
    /// The tag.
    pub tag: String,
    /// Tag id, when given.
    pub tid: Option<u64>,
    /// `tagged` or `untagged`.
    pub state: String,
    /// The appliance's answer.
    pub raw: Value,
    /// `None` when the appliance confirmed the change; `Some(true)` when a gateway answered
    /// 502 or 504 instead and reading the device's tags back showed the change applied.
    pub verified: Option<bool>,
}

/// Input of `list-tags`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListTagsInput {
    /// Only this tag.
    pub name: Option<String>,
}

impl Input for ListTagsInput {
    fn validate(&self) -> Result<()> {
        self.name.as_deref().map_or(Ok(()), |n| check_tag("name", n))
    }
}

/// Input of `list-tagged-devices`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TagInput {
    /// The tag name.
    pub tag: String,
}

impl Input for TagInput {
    fn validate(&self) -> Result<()> {
        check_tag("tag", &self.tag)
    }
}

/// Input of `add-device-tag`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddTagInput {
    /// The device.
    pub did: u64,
    /// The tag name.
    pub tag: String,
    /// How long, in seconds; permanent without.
    pub duration_seconds: Option<u32>,
}

impl Input for AddTagInput {
    fn validate(&self) -> Result<()> {
        check_tag("tag", &self.tag)?;
        match self.duration_seconds {
            Some(d) if !(1..=MAX_DURATION_SECS).contains(&d) => Err(Error::field(
                "duration_seconds",
                format!("{d} is outside 1..{MAX_DURATION_SECS} (a year); leave it out for a permanent tag"),
            )),
            _ => Ok(()),
        }
    }
}

/// Input of `remove-device-tag`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RemoveTagInput {
    /// The device.
    pub did: u64,
    /// The tag name.
    pub tag: String,
}

impl Input for RemoveTagInput {
    fn validate(&self) -> Result<()> {
        check_tag("tag", &self.tag)
    }
}

/// Lists tag definitions, or the one named.
pub fn list_tags(client: &Client, input: ListTagsInput) -> Result<Vec<Tag>> {
    let request = ApiRequest::get("/tags").opt_param("tag", input.name.as_deref().map(str::trim));
    match Doc::fetch(client, &request) {
        Ok(answer) => tags_from(&answer, "tags"),
        // A name works as a filter: no tag of that name is an empty list, not a failure.
        Err(Error::NotFound(_)) if input.name.is_some() => Ok(Vec::new()),
        Err(e) => Err(e),
    }
}

/// Lists the tags on a device.
pub fn list_device_tags(client: &Client, input: DidInput) -> Result<Vec<Tag>> {
    let answer = Doc::fetch(client, &ApiRequest::get("/tags/entities").param("did", input.did))?;
    tags_from(&answer, "tags")
}

/// Lists the entities and devices carrying a tag.
pub fn list_tagged_devices(client: &Client, input: TagInput) -> Result<TaggedDevices> {
    let tag = input.tag.trim().to_owned();
    let request = ApiRequest::get("/tags/entities").param("tag", &tag).param("fulldevicedetails", true);
    let answer = Doc::fetch(client, &request)?;
    // With fulldevicedetails the answer is `{entities, devices}`; without, a bare list of links.
    let none: &[Value] = &[];
    let list = |key: &str| match answer.value.get(key) {
        Some(Value::Array(items)) => items.as_slice(),
        _ => none,
    };
    let (entities, entity_keys, devices): (&[Value], &[&str], &[Value]) = match &answer.value {
        Value::Object(_) => (list("entities"), &["entities"], list("devices")),
        Value::Array(items) => (items.as_slice(), &[], none),
        _ => (none, &[], none),
    };
    let at = if entity_keys.is_empty() { "tagentities" } else { "tagentities.entities" };
    let entities: Vec<&Value> = entities.iter().collect();
    let entities = read_list(&entities, &answer.raw_items(entity_keys), at, &entity_from);
    let devices: Vec<&Value> = devices.iter().collect();
    let mut devices = read_list(&devices, &answer.raw_items(&["devices"]), "tagentities.devices", &device_from);
    sort_stable(&mut devices, |a, b| a.did.cmp(&b.did));
    Ok(TaggedDevices { tag, entities, devices })
}

/// Tags a device.
pub fn add_device_tag(client: &Client, input: AddTagInput) -> Result<TagChange> {
    let tag = input.tag.trim().to_owned();
    let mut fields = vec![("did", input.did.to_string()), ("tag", tag.clone())];
    if let Some(duration) = input.duration_seconds {
        fields.push(("duration", duration.to_string()));
    }
    let what = format!("tagging device {} with `{tag}`", input.did);
    // The appliance takes this POST as a form, not JSON.
    let request = ApiRequest::post_form("/tags/entities", &fields);
    let answer = match send_write(client, &request, &what, &|c| tag_read_back(c, input.did, &tag, true))? {
        Written::Answered(answer) => answer.value,
        Written::Verified(raw) => {
            return Ok(TagChange {
                did: input.did,
                tag,
                tid: None,
                state: "tagged".to_owned(),
                raw,
                verified: Some(true),
            });
        }
    };
    let tid = match answer.get("tid") {
        Some(_) => Obj::item(&answer, "tagentities", &Warnings::default())?.opt_u64("tid"),
        None => {
            confirm_success(&what, &answer)?;
            None
        }
    };
    Ok(TagChange { did: input.did, tag, tid, state: "tagged".to_owned(), raw: answer, verified: None })
}

/// Removes a tag from a device.
pub fn remove_device_tag(client: &Client, input: RemoveTagInput) -> Result<TagChange> {
    let tag = input.tag.trim().to_owned();
    let what = format!("removing `{tag}` from device {}", input.did);
    // Signed like a GET: the parameters travel in the query, there is no body.
    let request = ApiRequest::new(Method::Delete, "/tags/entities").param("did", input.did).param("tag", &tag);
    let (raw, verified) = send_confirmed_write(client, &request, &what, &|c| tag_read_back(c, input.did, &tag, false))?;
    Ok(TagChange { did: input.did, tag, tid: None, state: "untagged".to_owned(), raw, verified })
}

/// Reads the tags on device `did` back after a gateway error: applied when `tag` is there
/// (`present`) or gone (not `present`). Only the names are compared, as the appliance lists them.
fn tag_read_back(client: &Client, did: u64, tag: &str, present: bool) -> Result<ReadBack> {
    let answer = client.send(&ApiRequest::get("/tags/entities").param("did", did))?;
    let names: Vec<Value> = match &answer {
        Value::Array(items) => items.iter().filter_map(|t| t.get("name").cloned()).collect(),
        Value::Object(o) => o.get("name").cloned().into_iter().collect(),
        _ => Vec::new(),
    };
    let there = names.iter().any(|n| n.as_str() == Some(tag));
    Ok(ReadBack { applied: there == present, seen: json!({ "did": did, "tags": names }) })
}

/// Tags from a list (or a single object); an empty object means none.
fn tags_from(answer: &Doc, path: &str) -> Result<Vec<Tag>> {
    read_many(&answer.value, &answer.raw_items(&[]), path, &tag_from)
}

/// An expiry in epoch ms, where 0 means none.
fn expiry(o: &Obj) -> Option<i64> {
    o.opt_i64("expiry").filter(|e| *e > 0)
}

/// Normalises one tag object; its identity is its tid.
pub fn tag_from(v: &Value, path: &str, raw: RawText) -> Result<Tag> {
    let w = Warnings::default();
    let o = Obj::item(v, path, &w)?;
    let tid = o.id_u64("tid")?;
    let expiry = expiry(&o);
    let (color, description, visibility) = match o.opt_obj("data") {
        Some(d) => (
            d.opt_u64("color").map(|c| u32::try_from(c.min(360)).unwrap_or(360)),
            d.opt_str("description"),
            d.opt_str("visibility"),
        ),
        None => (None, None, None),
    };
    Ok(Tag {
        tid,
        name: o.opt_str("name").unwrap_or_default(),
        restricted: o.opt_bool("restricted").unwrap_or(false),
        expiry,
        expiry_iso: expiry.map(iso_from_ms),
        color,
        description,
        visibility,
        raw,
        warnings: w.take(),
    })
}

/// Normalises one tag-entity link; its identity is its teid and the tid it links.
pub fn entity_from(v: &Value, path: &str, raw: RawText) -> Result<TagEntity> {
    let w = Warnings::default();
    let o = Obj::item(v, path, &w)?;
    let teid = o.id_u64("teid")?;
    let tid = o.id_u64("tid")?;
    let entity_type = o.opt_str("entityType").unwrap_or_default();
    let entity_value = o.opt_str("entityValue").unwrap_or_default();
    let expiry = expiry(&o);
    Ok(TagEntity {
        teid,
        tid,
        did: if entity_type.eq_ignore_ascii_case("device") { entity_value.trim().parse().ok() } else { None },
        entity_type,
        entity_value,
        valid: o.opt_bool("valid"),
        expiry,
        expiry_iso: expiry.map(iso_from_ms),
        raw,
        warnings: w.take(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::actions::testing::Canned;
    use crate::actions::{invoke, parse_input};
    use crate::connection::Connection;
    use crate::request::WireRequest;
    use serde_json::json;

    /// Answers every request with one canned body and keeps what was sent.
    fn run(action: &str, input: &str, answer: &'static str) -> (Result<Value>, Vec<WireRequest>) {
        let t = Canned::repeating(answer);
        let out = invoke(Connection::new("dt.example.com", "p", "s"), &t, action, input)
            .map(|s| serde_json::from_str(&s).unwrap());
        (out, t.into_sent())
    }

    #[test]
    fn tag_objects_read_data_and_treat_zero_expiry_as_none() {
        let v = json!({"tid": 3, "expiry": 0, "thid": 3, "name": "Ops", "restricted": true,
            "data": {"auto": false, "color": 120, "description": "", "visibility": "Public"}, "isReferenced": true});
        let t = tag_from(&v, "t", RawText::of(&v)).unwrap();
        assert_eq!((t.tid, t.name.as_str(), t.restricted, t.expiry, t.color), (3, "Ops", true, None, Some(120)));
        assert_eq!((t.description, t.visibility.as_deref()), (None, Some("Public")));
        // Some tags carry `data` without `visibility` or `auto`.
        assert!(tag_from(&json!({"tid": 4, "name": "x", "data": {"color": 60}}), "t", RawText::of(&json!({}))).is_ok());
        assert!(
            tag_from(&json!({"name": "no id"}), "tags[2]", RawText::of(&json!({})))
                .unwrap_err()
                .message()
                .contains("tags[2].tid")
        );
    }

    #[test]
    fn entity_values_are_device_ids_as_text() {
        let e = entity_from(&json!({"teid": 1, "tehid": 1, "tid": 9, "thid": 0, "entityType": "Device", "entityValue": "2540", "valid": true}), "e", RawText::of(&json!({}))).unwrap();
        assert_eq!((e.did, e.entity_value.as_str()), (Some(2540), "2540"));
        let c = entity_from(
            &json!({"teid": 2, "tid": 9, "entityType": "Credential", "entityValue": "a.user"}),
            "e",
            RawText::of(&json!({})),
        )
        .unwrap();
        assert_eq!(c.did, None);
    }

    #[test]
    fn tagging_posts_a_form_and_reads_either_reply() {
        let (out, sent) =
            run("add-device-tag", r#"{"did": 7, "tag": "Watch list", "duration_seconds": 3600}"#, r#"{"tid": 57 }"#);
        assert_eq!(out.unwrap()["tid"], 57);
        assert_eq!(sent[0].body.as_deref(), Some(&b"did=7&tag=Watch%20list&duration=3600"[..]));
        assert!(sent[0].headers.iter().any(|(k, v)| k == "Content-Type" && v == "application/x-www-form-urlencoded"));
        let (out, _) = run("add-device-tag", r#"{"did": 7, "tag": "Watch"}"#, r#"{"response": "SUCCESS"}"#);
        assert_eq!(out.unwrap()["tid"], Value::Null);
        // The tag was applied; a tid that cannot be read is left null rather than failing the call.
        let (out, _) = run("add-device-tag", r#"{"did": 7, "tag": "Watch"}"#, r#"{"tid": "abc"}"#);
        assert_eq!(out.unwrap()["tid"], Value::Null);
    }

    #[test]
    fn untagging_is_a_delete_with_the_query_signed_and_no_body() {
        let (out, sent) = run("remove-device-tag", r#"{"did": 7, "tag": "Watch"}"#, r#"{"response": "SUCCESS"}"#);
        assert_eq!(out.unwrap()["state"], "untagged");
        assert!(sent[0].url.ends_with("/tags/entities?did=7&tag=Watch"), "{}", sent[0].url);
        assert!(sent[0].body.is_none());
    }

    #[test]
    fn tagged_devices_accept_the_full_and_the_bare_answer() {
        let full = r#"{"entities": [{"teid": 1, "tid": 9, "entityType": "Device", "entityValue": "12", "valid": true}],
            "devices": [{"did": 12, "interfaces": [{"mac": "aa:00:00:00:00:01", "ips": [{"ip": "10.9.9.9", "time": 1674546007}]}]}]}"#;
        let (out, _) = run("list-tagged-devices", r#"{"tag": "Admin"}"#, full);
        let out = out.unwrap();
        assert_eq!(out["entities"][0]["did"], 12);
        assert_eq!(out["devices"][0]["ip"], "10.9.9.9");
        let (out, _) = run(
            "list-tagged-devices",
            r#"{"tag": "Admin"}"#,
            r#"[{"teid": 1, "tid": 9, "entityType": "Device", "entityValue": "12"}]"#,
        );
        assert_eq!(out.unwrap()["devices"], json!([]));
    }

    #[test]
    fn bad_tag_inputs_name_the_field() {
        assert!(
            parse_input::<AddTagInput>(json!({"did": 1, "tag": " "}))
                .unwrap()
                .validate()
                .unwrap_err()
                .message()
                .starts_with("`tag`")
        );
        let long = parse_input::<AddTagInput>(json!({"did": 1, "tag": "x", "duration_seconds": 0})).unwrap();
        assert!(long.validate().unwrap_err().message().starts_with("`duration_seconds`"));
        assert!(parse_input::<ListTagsInput>(json!({"name": "a\nb"})).unwrap().validate().is_err());
    }

    #[test]
    fn connection_graphs_with_ranges_and_others_parse() {
        let answer = r#"{"deviceInfo": [{"did": 1, "similarityScore": 100, "graphData": [{"time": 1700000000000, "count": 4}],
            "info": {"totalUsed": 9, "totalServed": 0, "totalDevicesAndPorts": 9,
              "devicesAndPorts": [{"deviceAndPort": {"direction": "out", "device": -3, "port": "5001 - 10000"}, "size": 2}, {"deviceAndPort": "others", "size": 1}],
              "portsUsed": [{"port": 53, "size": 5, "firstTime": 1700000000000}, {"port": "5001 - 10000", "size": 3}, {"port": "others", "size": 1}],
              "portsServed": [], "devicesUsed": [{"did": 2, "size": 5}, {"did": -5, "size": 3}, {"did": "others", "size": 1}], "devicesServed": []}},
            {"did": 8, "similarityScore": 87, "graphData": [], "info": {}}]}"#;
        let (out, sent) = run("get-device-connection-info", r#"{"did": 1, "data_type": "sizeout"}"#, answer);
        let out = out.unwrap();
        assert!(sent[0].url.contains("/deviceinfo?did=1&datatype=sizeout&showallgraphdata=false"), "{}", sent[0].url);
        assert_eq!(out["ports_used"][1]["port"], "5001 - 10000");
        assert_eq!(out["ports_used"][1]["port_number"], Value::Null);
        assert_eq!(out["ports_used"][0]["port_number"], 53);
        assert_eq!(out["devices_used"][1]["peer"], "-5");
        assert_eq!(out["devices_used"][1]["did"], Value::Null);
        assert_eq!(out["devices_used"][2]["peer"], "others");
        assert_eq!(out["similar_devices"], json!([{"did": 8, "similarity_score": 87.0}]));
        assert_eq!((out["graph_points"].as_u64(), out["data_type"].as_str()), (Some(1), Some("sizeout")));
    }
}
