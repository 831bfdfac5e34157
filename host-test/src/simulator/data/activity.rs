//! What devices did: connections (some unusual, some to endpoints never used before), protocol
//! notices and history entries, generated over the last two days and added to as operators
//! tag and relabel devices. `/details`, `/deviceinfo`, `/similardevices` and `/devicesummary`
//! are answered from here.

use serde_json::{Value, json};

use super::devices::Device;
use super::{Dataset, HOUR_MS, MINUTE_MS, readable_time};
use crate::simulator::rng::Rng;

/// How far back generated activity reaches.
const SPAN_MS: i64 = 48 * HOUR_MS;

/// What kind of event a record is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A connection, perhaps unusual, perhaps to an endpoint the device never used before.
    Connection { unusual: bool, new: bool },
    /// A protocol notice.
    Notice,
    /// A change to the device.
    History,
}

/// Who the device talked to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Peer {
    /// A device the appliance models.
    Device(u64),
    /// An external endpoint: the group id (negative, as `/deviceinfo` gives it) and hostname.
    External(i64, String),
}

/// One event of one device.
#[derive(Debug, Clone)]
pub(crate) struct Event {
    pub(crate) did: u64,
    pub(crate) time: i64,
    pub(crate) kind: Kind,
    pub(crate) peer: Option<Peer>,
    pub(crate) port: u16,
    pub(crate) bytes_out: u64,
    pub(crate) bytes_in: u64,
    /// The event as `/details` returns it.
    pub(crate) json: Value,
}

/// Every device's events, oldest first per device.
#[derive(Debug, Default)]
pub(crate) struct Activity {
    pub(crate) events: Vec<Event>,
    next_nid: u64,
}

/// A history entry to record: what changed, the new value and why.
pub(crate) struct HistoryEntry<'a> {
    name: &'a str,
    value: &'a str,
    reason: &'a str,
}

impl<'a> HistoryEntry<'a> {
    /// An entry such as `addtag` `Watch` by `API`.
    pub(crate) fn new(name: &'a str, value: &'a str, reason: &'a str) -> Self {
        HistoryEntry { name, value, reason }
    }
}

/// External endpoints: hostname, address, group id, country and whether contacting it is unusual
/// for this network. Reserved documentation domains and addresses only.
#[rustfmt::skip]
const EXTERNAL: &[(&str, &str, i64, &str, bool)] = &[
    ("update.vendor.example", "192.0.2.10", -3, "United States", false),
    ("login.saas.example", "192.0.2.44", -3, "Ireland", false),
    ("files.share.example", "198.51.100.7", -4, "Germany", false),
    ("api.crm.example", "198.51.100.23", -4, "United States", false),
    ("time.ntp.example", "192.0.2.123", -5, "Netherlands", false),
    ("mirror.packages.example", "203.0.113.15", -5, "Sweden", false),
    ("paste.drop.test", "203.0.113.66", -6, "Seychelles", true),
    ("cdn-4821.fastfiles.test", "203.0.113.201", -6, "Moldova", true),
];

/// Services: destination port, transport and application protocol.
const WEB: (u16, &str, &str) = (443, "TCP", "HTTPS");
const SERVICES: &[(u16, &str, &str)] = &[
    (443, "TCP", "HTTPS"),
    (80, "TCP", "HTTP"),
    (53, "UDP", "DNS"),
    (123, "UDP", "NTP"),
    (445, "TCP", "SMB"),
    (22, "TCP", "SSH"),
    (3389, "TCP", "RDP"),
];

/// Notices: type and message.
#[rustfmt::skip]
const NOTICES: &[(&str, &str, u16)] = &[
    ("SSL::Invalid_Server_Cert", "The server's certificate did not validate against the trust store.", 443),
    ("HTTP::Unusual_User_Agent", "A user agent rarely seen on this network made the request.", 80),
    ("DNS::Long_Query", "A DNS query with an unusually long label was sent.", 53),
    ("SSH::Login_Failure", "Several SSH logins failed in a row.", 22),
];

fn uid(rng: &mut Rng) -> String {
    const CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let body: String = (0..16).map(|_| CHARS[rng.index(CHARS.len())] as char).collect();
    format!("C{body}")
}

/// The short device object events carry.
pub(crate) fn brief(d: &Device) -> Value {
    let mut v = json!({ "id": d.did, "did": d.did, "sid": d.sid, "typename": d.typename, "typelabel": d.typelabel,
        "time": d.first_seen.to_string() });
    for (key, value) in [("ip", &d.ip), ("hostname", &d.hostname), ("macaddress", &d.mac), ("devicelabel", &d.label)] {
        if let Some(value) = value {
            v[key] = json!(value);
        }
    }
    v
}

fn name_of(d: &Device) -> String {
    d.label.clone().or_else(|| d.hostname.clone()).or_else(|| d.ip.clone()).unwrap_or_else(|| d.did.to_string())
}

/// Generates two days of activity for every network device (SaaS accounts make no connections).
pub(crate) fn generate(rng: &mut Rng, devices: &[Device], now: i64) -> Activity {
    let servers: Vec<&Device> = devices.iter().filter(|d| matches!(d.typename, "server" | "dnsserver")).collect();
    let mut events = Vec::new();
    let mut nid = 40_000 + rng.range(0, 900) as u64;
    for d in devices.iter().filter(|d| !d.is_saas()) {
        let busy = if d.typename == "server" {
            40
        } else if d.typename == "mobile" {
            12
        } else {
            28
        };
        let until = d.last_seen.min(now);
        let from = until - SPAN_MS;
        for _ in 0..rng.range(busy / 2, busy) {
            let time = rng.range(from, until);
            let external = rng.chance(0.6) || servers.is_empty();
            let (peer, dest_json, destination, (port, proto, app), unusual) = if external {
                let (host, ip, group, country, rare) = EXTERNAL[rng.index(EXTERNAL.len())];
                let unusual = rare || rng.chance(0.04);
                let dest = json!({ "ip": ip, "hostname": host, "country": country, "ippopularity": if rare { "0" } else { "71" },
                    "connectionippopularity": if rare { "0" } else { "38" } });
                let service = if host.starts_with("time.") { (123, "UDP", "NTP") } else { WEB };
                (Peer::External(group, host.to_owned()), dest, host.to_owned(), service, unusual)
            } else {
                let server = servers[rng.index(servers.len())];
                let service = SERVICES[rng.index(SERVICES.len())];
                (
                    Peer::Device(server.did),
                    brief(server),
                    name_of(server),
                    service,
                    service.0 == 3389 && rng.chance(0.5),
                )
            };
            let new = unusual && rng.chance(0.5);
            // Ephemeral destination ports now and then, which `/deviceinfo` reports as a range.
            let port = if !external && rng.chance(0.08) { rng.range(5001, 10_000) as u16 } else { port };
            let status = if rng.chance(0.1) { "failed" } else { "ongoing" };
            let mut json = json!({ "time": readable_time(time), "timems": time, "action": "connection", "eventType": "connection",
                "uid": uid(rng), "status": status, "sdid": d.did, "port": port, "sourcePort": rng.range(32_768, 60_999),
                "destinationPort": port, "direction": "out", "applicationprotocol": app, "protocol": proto,
                "sourceDevice": brief(d), "destinationDevice": dest_json, "source": name_of(d), "destination": destination });
            if let Peer::Device(ddid) = peer {
                json["ddid"] = json!(ddid);
            }
            let bytes_out = rng.range(200, 90_000) as u64;
            events.push(Event {
                did: d.did,
                time,
                kind: Kind::Connection { unusual, new },
                peer: Some(peer),
                port,
                bytes_out,
                bytes_in: bytes_out * rng.range(1, 30) as u64,
                json,
            });
        }
        for _ in 0..rng.range(0, 3) {
            let time = rng.range(from, until);
            let (kind, msg, port) = NOTICES[rng.index(NOTICES.len())];
            nid += rng.range(1, 40) as u64;
            let (host, ip, group, _, _) = EXTERNAL[rng.index(EXTERNAL.len())];
            let json = json!({ "time": readable_time(time), "timems": time, "action": "notice", "eventType": "notice", "nid": nid,
                "uid": uid(rng), "direction": "out", "mlid": 300 + rng.range(0, 60), "type": kind, "msg": msg,
                "destinationPort": port, "details": format!("{} bytes seen in the connection.", rng.range(300, 9000)),
                "sourceDevice": brief(d), "destinationDevice": { "ip": ip, "hostname": host }, "source": name_of(d), "destination": host });
            events.push(Event {
                did: d.did,
                time,
                kind: Kind::Notice,
                peer: Some(Peer::External(group, host.to_owned())),
                port,
                bytes_out: 0,
                bytes_in: 0,
                json,
            });
        }
    }
    events.sort_by_key(|e| (e.did, e.time));
    Activity { events, next_nid: nid }
}

impl Dataset {
    /// Adds a history entry for device `did` at `time`.
    pub(crate) fn record_history(&mut self, did: u64, time: i64, entry: HistoryEntry<'_>) {
        let Some(device) = self.device(did) else { return };
        let json = json!({ "time": readable_time(time), "timems": time, "eventType": "deviceHistory", "name": entry.name,
            "value": entry.value, "reason": entry.reason, "device": brief(device), "deviceName": name_of(device) });
        self.activity.next_nid += 1;
        self.activity.events.push(Event {
            did,
            time,
            kind: Kind::History,
            peer: None,
            port: 0,
            bytes_out: 0,
            bytes_in: 0,
            json,
        });
    }

    /// Seeds history with when each device got its generated tags.
    pub(crate) fn seed_history(&mut self) {
        let entries: Vec<(u64, i64, String)> = self
            .tags
            .links
            .iter()
            .filter_map(|l| {
                let device = self.device(l.did)?;
                let name = self.tags.defs.iter().find(|d| d.tid == l.tid)?.name.clone();
                Some((l.did, device.first_seen + 3 * HOUR_MS + (l.teid as i64 % 50) * MINUTE_MS, name))
            })
            .collect();
        for (did, time, name) in entries {
            self.record_history(did, time, HistoryEntry::new("addtag", &name, "Operator"));
        }
    }

    /// Devices like `did`, most similar first, with a score out of 100: same type, subnet,
    /// operating system and vendor count, as do shared peers.
    pub(crate) fn similar_devices(&self, did: u64) -> Vec<(u32, &Device)> {
        let Some(me) = self.device(did) else { return Vec::new() };
        let mut scored: Vec<(u32, &Device)> = self
            .devices
            .iter()
            .filter(|d| d.did != did)
            .map(|d| {
                let mut score = 40;
                score += if d.typename == me.typename { 25 } else { 0 };
                score += if d.sid == me.sid { 15 } else { 0 };
                score += if d.os.is_some() && d.os == me.os { 10 } else { 0 };
                score += if d.vendor.is_some() && d.vendor == me.vendor { 5 } else { 0 };
                // A stable tie-break so equal devices do not all score the same.
                score += ((d.did ^ did) % 5) as u32;
                (score.min(99), d)
            })
            .collect();
        scored.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.did.cmp(&b.1.did)));
        scored
    }
}
