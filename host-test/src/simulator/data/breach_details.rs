//! What `/details?pbid=` answers: the breach record (event type `policybreach`) followed by the
//! connections and notices behind it.
//!
//! The events are derived from the breach and a generator seeded by its pbid, so they are the
//! same on every call and need no storage.

use serde_json::{Value, json};

use super::{Breach, Dataset, MINUTE_MS, readable_time};
use crate::simulator::rng::Rng;

/// Mixes a pbid into a seed so neighbouring breaches get unrelated events.
const DETAILS_SEED: u64 = 0x5eed_de7a_11ed_0001;

/// Application protocols, their transport and usual port.
const SERVICES: &[(&str, &str, u64)] = &[
    ("HTTPS", "TCP", 443),
    ("HTTP", "TCP", 80),
    ("DNS", "UDP", 53),
    ("SMB", "TCP", 445),
    ("SSH", "TCP", 22),
    ("RDP", "TCP", 3389),
    ("LDAP", "TCP", 389),
];

const EXTERNAL: &[(&str, &str)] = &[
    ("198.51.100.23", "updates.example-cdn.net"),
    ("203.0.113.77", "storage.example-files.org"),
    ("192.0.2.140", "api.example-telemetry.com"),
];

const NOTICES: &[(&str, &str)] = &[
    ("SMB::ReadSuccess", "Read a file from a share it rarely uses"),
    ("SSL::Invalid_Server_Cert", "Certificate validation failed for the server"),
    ("DNS::Unusual_Query", "Queried a name no other device has asked for"),
];

impl Dataset {
    /// The breach as the first `/details` record.
    fn policybreach_json(&self, b: &Breach) -> Value {
        let model = &self.models[b.model];
        let device = &self.devices[b.device];
        let cids: Vec<Value> = b.components.iter().filter_map(|c| c.get("cid").cloned()).collect();
        let fired: Vec<Value> = cids.iter().take(1).cloned().collect();
        let fired_at: Vec<Value> = b.components.iter().take(1).filter_map(|c| c.get("time").cloned()).collect();
        json!({
            "time": readable_time(b.time), "timems": b.time, "pbid": b.pbid, "pid": model.pid,
            "eventType": "policybreach", "action": "policybreach",
            "creationTime": b.creation_time, "creationTimestamp": readable_time(b.creation_time),
            "name": model.name, "components": cids, "didRestrictions": [], "didExclusions": [],
            "throttle": 3600, "sharedEndpoints": false, "interval": 3600, "sequenced": false, "active": true,
            "retired": false, "acknowledged": b.acknowledged,
            "state": if b.acknowledged { "Acknowledged" } else { "New" },
            "score": b.score, "commentCount": b.comments.len(),
            "componentBreaches": fired, "componentBreachTimes": fired_at,
            "devices": [device.did], "deviceLabels": [device.label.clone().unwrap_or_default()],
        })
    }

    /// A device as `/details` events embed it.
    fn details_device(&self, device: usize) -> Value {
        let d = &self.devices[device];
        let mut v = json!({ "id": d.did, "did": d.did, "sid": d.sid, "time": d.first_seen.to_string(),
            "typename": d.typename, "typelabel": d.typelabel });
        for (key, value) in [("ip", &d.ip), ("macaddress", &d.mac), ("hostname", &d.hostname), ("os", &d.os)] {
            if let Some(value) = value {
                v[key] = json!(value);
            }
        }
        v
    }

    /// The events behind breach `b`, oldest first.
    fn breach_events(&self, b: &Breach) -> Vec<Value> {
        let mut rng = Rng::new(DETAILS_SEED ^ b.pbid);
        let source = b.device;
        let source_device = self.details_device(source);
        let source_ip = self.devices[source].ip.clone().unwrap_or_default();
        let internal: Vec<usize> = (0..self.devices.len())
            .filter(|&d| d != source && !self.devices[d].is_saas() && self.devices[d].ip.is_some())
            .collect();
        let n = rng.range(3, 12);
        let start = b.time - rng.range(2, 10) * MINUTE_MS;
        let mut times: Vec<i64> = (0..n).map(|_| rng.range(start, b.creation_time.max(start))).collect();
        times.sort_unstable();
        times
            .into_iter()
            .map(|at| {
                if rng.chance(0.2) {
                    let (kind, msg) = *rng.pick(NOTICES);
                    return json!({ "time": readable_time(at), "timems": at, "action": "notice", "eventType": "notice",
                        "nid": rng.range(100_000, 999_999), "mlid": rng.range(10, 400), "type": kind, "msg": msg,
                        "details": "", "sourceDevice": source_device.clone() });
                }
                let (app, proto, port) = *rng.pick(SERVICES);
                let mut event = json!({
                    "time": readable_time(at), "timems": at, "action": "connection", "eventType": "connection",
                    "uid": format!("C{:016x}", rng.next_u64()), "sdid": self.devices[source].did,
                    "port": port, "sourcePort": rng.range(32_768, 60_999), "destinationPort": port,
                    "direction": "out", "applicationprotocol": app, "protocol": proto,
                    "sourceDevice": source_device.clone(), "source": source_ip,
                    "recentbytesout": rng.range(60, 90_000), "recentbytesin": rng.range(60, 400_000),
                });
                if internal.is_empty() || rng.chance(0.5) {
                    let (ip, host) = *rng.pick(EXTERNAL);
                    event["destination"] = json!(ip);
                    event["destinationDevice"] = json!({ "ip": ip, "hostname": host });
                } else {
                    let d = *rng.pick(&internal);
                    event["ddid"] = json!(self.devices[d].did);
                    event["destination"] = json!(self.devices[d].ip);
                    event["destinationDevice"] = self.details_device(d);
                }
                event
            })
            .collect()
    }

    /// `/details?pbid=` for breach `b`: its record, then events `offset..offset + count`.
    pub(crate) fn breach_details(&self, b: &Breach, count: usize, offset: usize) -> Vec<Value> {
        std::iter::once(self.policybreach_json(b))
            .chain(self.breach_events(b).into_iter().skip(offset).take(count))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_767_225_600_000;

    #[test]
    fn details_start_with_the_breach_and_repeat_identically() {
        let d = Dataset::generate(42, 50, NOW);
        let b = &d.breaches[10];
        let first = d.breach_details(b, 100, 0);
        assert_eq!(first[0]["eventType"], "policybreach");
        assert_eq!(first[0]["pbid"], b.pbid);
        assert!(first.len() >= 4 && first[1..].iter().all(|e| e["eventType"] != "policybreach"));
        assert_eq!(first, d.breach_details(b, 100, 0));
        let paged = d.breach_details(b, 1, 1);
        assert_eq!((paged.len(), &paged[1]), (2, &first[2]));
    }
}
