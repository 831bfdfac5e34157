//! WIT boundary for tag actions.

use super::bindings::exports::darktrace::connector::{tags as wtag, types as wt};
use super::breaches::warnings;
use super::devices::device;
use super::{Component, run};
use crate::actions::{DidInput, tags};

fn tag(t: tags::Tag) -> wtag::Tag {
    wtag::Tag {
        tid: t.tid,
        name: t.name,
        restricted: t.restricted,
        expiry: t.expiry,
        expiry_iso: t.expiry_iso,
        color: t.color,
        description: t.description,
        visibility: t.visibility,
        raw: t.raw.to_string(),
        warnings: warnings(t.warnings),
    }
}

fn change(c: tags::TagChange) -> wtag::TagChange {
    wtag::TagChange { did: c.did, tag: c.tag, tid: c.tid, state: c.state, raw: c.raw.to_string(), verified: c.verified }
}

impl wtag::Guest for Component {
    fn list_tags(c: wt::Connection, name: Option<String>) -> Result<Vec<wtag::Tag>, wt::Error> {
        run(c, tags::ListTagsInput { name }, tags::list_tags, |list| list.into_iter().map(tag).collect())
    }

    fn list_device_tags(c: wt::Connection, did: u64) -> Result<Vec<wtag::Tag>, wt::Error> {
        run(c, DidInput { did }, tags::list_device_tags, |list| list.into_iter().map(tag).collect())
    }

    fn list_tagged_devices(c: wt::Connection, tag_name: String) -> Result<wtag::TaggedDevices, wt::Error> {
        run(c, tags::TagInput { tag: tag_name }, tags::list_tagged_devices, |t| wtag::TaggedDevices {
            tag: t.tag,
            entities: t
                .entities
                .into_iter()
                .map(|e| wtag::TagEntity {
                    teid: e.teid,
                    tid: e.tid,
                    entity_type: e.entity_type,
                    entity_value: e.entity_value,
                    did: e.did,
                    valid: e.valid,
                    expiry: e.expiry,
                    expiry_iso: e.expiry_iso,
                    raw: e.raw.to_string(),
                    warnings: warnings(e.warnings),
                })
                .collect(),
            devices: t.devices.into_iter().map(device).collect(),
        })
    }

    fn add_device_tag(
        c: wt::Connection,
        did: u64,
        tag_name: String,
        duration_seconds: Option<u32>,
    ) -> Result<wtag::TagChange, wt::Error> {
        run(c, tags::AddTagInput { did, tag: tag_name, duration_seconds }, tags::add_device_tag, change)
    }

    fn remove_device_tag(c: wt::Connection, did: u64, tag_name: String) -> Result<wtag::TagChange, wt::Error> {
        run(c, tags::RemoveTagInput { did, tag: tag_name }, tags::remove_device_tag, change)
    }
}
