//! Tags: the definitions the appliance knows and the links that put them on devices, with
//! durations that run out. Every change is mirrored into the devices' `applied_tags` and into
//! their history, as the appliance records tag changes.

use serde_json::{Value, json};

use super::Dataset;
use super::activity::HistoryEntry;
use super::devices::{Device, TAGS};
use crate::simulator::rng::Rng;

/// A tag definition.
#[derive(Debug, Clone)]
pub(crate) struct TagDef {
    pub(crate) tid: u64,
    pub(crate) name: String,
    color: u32,
    description: String,
    pub(crate) restricted: bool,
    auto: bool,
}

/// A tag on a device. `expiry` is epoch ms, 0 for a tag that stays.
#[derive(Debug, Clone)]
pub(crate) struct TagLink {
    pub(crate) teid: u64,
    pub(crate) tid: u64,
    pub(crate) did: u64,
    pub(crate) expiry: i64,
}

/// Tag definitions and links.
#[derive(Debug, Default)]
pub(crate) struct TagStore {
    pub(crate) defs: Vec<TagDef>,
    pub(crate) links: Vec<TagLink>,
    next_tid: u64,
    next_teid: u64,
}

/// Colours given to tags created through the API, as the UI cycles through hues.
const NEW_TAG_COLORS: &[u32] = &[20, 95, 140, 200, 245, 320];

impl TagStore {
    /// The seeded definitions, plus a link for every tag a device was generated with. One
    /// seeded link expires within the day, so consumers meet an expiry.
    pub(crate) fn generate(rng: &mut Rng, devices: &[Device], now: i64) -> TagStore {
        let defs: Vec<TagDef> = TAGS
            .iter()
            .map(|t| TagDef {
                tid: t.tid,
                name: t.name.to_owned(),
                color: t.color,
                description: t.description.to_owned(),
                restricted: t.restricted,
                auto: t.auto,
            })
            .collect();
        let mut store = TagStore {
            next_tid: defs.iter().map(|d| d.tid).max().unwrap_or(0) + 1,
            defs,
            links: Vec::new(),
            next_teid: 2_000 + rng.range(0, 300) as u64,
        };
        for d in devices {
            for &i in &d.tags {
                store.next_teid += rng.range(1, 4) as u64;
                store.links.push(TagLink { teid: store.next_teid, tid: TAGS[i].tid, did: d.did, expiry: 0 });
            }
        }
        if let Some(link) = store.links.iter_mut().find(|l| l.tid == 31) {
            link.expiry = now + rng.range(2, 20) * super::HOUR_MS;
        }
        store
    }

    /// The definition named `name` (exact, else ignoring ASCII case as the UI does).
    pub(crate) fn find(&self, name: &str) -> Option<&TagDef> {
        self.defs
            .iter()
            .find(|d| d.name == name)
            .or_else(|| self.defs.iter().find(|d| d.name.eq_ignore_ascii_case(name)))
    }

    fn def(&self, tid: u64) -> Option<&TagDef> {
        self.defs.iter().find(|d| d.tid == tid)
    }

    /// A definition as `/tags` lists it.
    pub(crate) fn def_json(&self, def: &TagDef) -> Value {
        let referenced = self.links.iter().any(|l| l.tid == def.tid);
        json!({ "tid": def.tid, "expiry": 0, "thid": def.tid, "name": def.name, "restricted": def.restricted,
            "data": { "auto": def.auto, "color": def.color, "description": def.description, "visibility": "Public" },
            "isReferenced": referenced })
    }

    /// The tag objects on device `did`, as `/tags/entities?did=` and `includetags` show them.
    pub(crate) fn device_tags(&self, did: u64) -> Vec<Value> {
        self.links
            .iter()
            .filter(|l| l.did == did)
            .filter_map(|l| {
                let mut tag = self.def_json(self.def(l.tid)?);
                tag["expiry"] = json!(l.expiry);
                Some(tag)
            })
            .collect()
    }

    /// A link as `/tags/entities?tag=` lists it.
    pub(crate) fn link_json(link: &TagLink) -> Value {
        json!({ "teid": link.teid, "tehid": link.teid, "tid": link.tid, "thid": 0, "entityType": "Device",
            "entityValue": link.did.to_string(), "valid": true, "expiry": link.expiry })
    }
}

impl Dataset {
    /// Drops links whose time is up (recording why in the device's history) and refreshes
    /// the devices' tag objects. Called before anything that shows tags.
    pub(crate) fn sync_tags(&mut self, now: i64) {
        let (expired, kept): (Vec<TagLink>, Vec<TagLink>) =
            self.tags.links.drain(..).partition(|l| l.expiry > 0 && l.expiry <= now);
        self.tags.links = kept;
        for link in expired {
            let name = self.tags.def(link.tid).map(|d| d.name.clone()).unwrap_or_default();
            self.record_history(link.did, link.expiry, HistoryEntry::new("removetag", &name, "Expired"));
        }
        for device in &mut self.devices {
            device.applied_tags = self.tags.device_tags(device.did);
        }
    }

    /// Puts tag `name` on device `did`, creating the tag if no tag has that name, for
    /// `duration_secs` or for good. Tagging again replaces the expiry. Returns the tag id.
    pub(crate) fn add_tag(&mut self, did: u64, name: &str, duration_secs: Option<i64>, now: i64) -> u64 {
        let tid = match self.tags.find(name) {
            Some(def) => def.tid,
            None => {
                let tid = self.tags.next_tid;
                self.tags.next_tid += 1;
                let color = NEW_TAG_COLORS[(tid as usize) % NEW_TAG_COLORS.len()];
                self.tags.defs.push(TagDef {
                    tid,
                    name: name.to_owned(),
                    color,
                    description: String::new(),
                    restricted: false,
                    auto: false,
                });
                tid
            }
        };
        let expiry = duration_secs.map_or(0, |s| now.saturating_add(s.saturating_mul(1000)));
        match self.tags.links.iter_mut().find(|l| l.did == did && l.tid == tid) {
            Some(link) => link.expiry = expiry,
            None => {
                self.tags.next_teid += 1;
                let teid = self.tags.next_teid;
                self.tags.links.push(TagLink { teid, tid, did, expiry });
            }
        }
        let tag_name = self.tags.def(tid).map(|d| d.name.clone()).unwrap_or_default();
        self.record_history(did, now, HistoryEntry::new("addtag", &tag_name, "API"));
        self.sync_tags(now);
        tid
    }

    /// Takes tag `tid` off device `did`; whether it was on.
    pub(crate) fn remove_tag(&mut self, did: u64, tid: u64, now: i64) -> bool {
        let before = self.tags.links.len();
        self.tags.links.retain(|l| !(l.did == did && l.tid == tid));
        let removed = self.tags.links.len() < before;
        if removed {
            let name = self.tags.def(tid).map(|d| d.name.clone()).unwrap_or_default();
            self.record_history(did, now, HistoryEntry::new("removetag", &name, "API"));
        }
        self.sync_tags(now);
        removed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_767_225_600_000; // 2026-01-01 00:00:00 UTC

    #[test]
    fn a_tag_with_a_duration_expires_and_the_history_says_so() {
        let mut d = Dataset::generate(42, 50, NOW);
        let did = d.devices[0].did;
        let tid = d.add_tag(did, "Short Lived", Some(60), NOW);
        assert!(d.device(did).is_some_and(|x| x.tag_names().any(|n| n == "Short Lived")));
        d.sync_tags(NOW + 59_000);
        assert!(d.tags.links.iter().any(|l| l.did == did && l.tid == tid));
        d.sync_tags(NOW + 61_000);
        assert!(!d.tags.links.iter().any(|l| l.did == did && l.tid == tid));
        assert!(d.device(did).is_some_and(|x| x.tag_names().all(|n| n != "Short Lived")));
        let reasons: Vec<&str> = d
            .activity
            .events
            .iter()
            .filter(|e| e.did == did && e.json["value"] == "Short Lived")
            .filter_map(|e| e.json["reason"].as_str())
            .collect();
        assert_eq!(reasons, ["API", "Expired"]);
    }

    #[test]
    fn tagging_twice_keeps_one_link_and_an_unknown_name_creates_the_tag_once() {
        let mut d = Dataset::generate(42, 50, NOW);
        let did = d.devices[3].did;
        let before = d.tags.defs.len();
        let a = d.add_tag(did, "Brand New", None, NOW);
        let b = d.add_tag(did, "brand new", Some(10), NOW);
        assert_eq!((a, d.tags.defs.len()), (b, before + 1));
        assert_eq!(d.tags.links.iter().filter(|l| l.did == did && l.tid == a).count(), 1);
        assert!(d.remove_tag(did, a, NOW));
        assert!(!d.remove_tag(did, a, NOW));
    }

    #[test]
    fn every_network_device_has_connections_and_seeded_tags_have_history() {
        let d = Dataset::generate(42, 50, NOW);
        for device in d.devices.iter().filter(|x| !x.is_saas()) {
            assert!(
                d.activity
                    .events
                    .iter()
                    .any(|e| e.did == device.did && matches!(e.kind, super::super::activity::Kind::Connection { .. }))
            );
        }
        assert!(d.activity.events.iter().any(|e| e.kind == super::super::activity::Kind::History));
        assert!(d.tags.links.iter().any(|l| l.expiry > NOW), "a seeded tag that expires");
    }
}
