//! The simulated network: devices and the tags on them.

use serde_json::{Value, json};

use super::{DAY_MS, HOUR_MS, MINUTE_MS, readable_time};
use crate::simulator::rng::Rng;

/// A tag definition, as `/tags` would list it.
#[derive(Debug)]
pub(crate) struct Tag {
    pub(crate) tid: u64,
    pub(crate) name: &'static str,
    pub(crate) color: u32,
    pub(crate) description: &'static str,
    pub(crate) restricted: bool,
    pub(crate) auto: bool,
}

/// The tags an operator of a mid-sized corporate network might have defined.
#[rustfmt::skip]
pub(crate) const TAGS: &[Tag] = &[
    Tag { tid: 4, name: "Admin", color: 210, description: "Used for administration", restricted: false, auto: false },
    Tag { tid: 7, name: "Internet Facing System", color: 115, description: "Reachable from outside", restricted: false, auto: false },
    Tag { tid: 9, name: "Domain Controller", color: 35, description: "", restricted: false, auto: true },
    Tag { tid: 13, name: "Finance", color: 285, description: "Finance department", restricted: false, auto: false },
    Tag { tid: 18, name: "Security Device", color: 5, description: "Scanners and sensors", restricted: true, auto: false },
    Tag { tid: 22, name: "Guest Wi-Fi", color: 60, description: "", restricted: false, auto: false },
    Tag { tid: 26, name: "Multiple Users", color: 170, description: "Shared by several users", restricted: false, auto: true },
    Tag { tid: 31, name: "Watch", color: 350, description: "Under investigation", restricted: false, auto: false },
];

/// Device types by the id `POST /devices` takes as `type` (the appliance's `sourcedevicetypes`
/// enum): id, type name and readable label.
#[rustfmt::skip]
pub(crate) const DEVICE_TYPES: &[(u32, &str, &str)] = &[
    (1, "desktop", "Desktop"), (2, "laptop", "Laptop"), (3, "server", "Server"), (4, "mobile", "Mobile Phone"),
    (5, "printer", "Printer"), (6, "ipcamera", "IP Camera"), (7, "firewall", "Firewall"), (8, "dnsserver", "DNS Server"),
    (9, "saasprovider", "SaaS Provider"), (10, "iot", "IoT Device"), (11, "tablet", "Tablet"),
];

/// A device the simulated appliance has seen.
#[derive(Debug, Clone)]
pub(crate) struct Device {
    pub(crate) did: u64,
    pub(crate) sid: i64,
    pub(crate) hostname: Option<String>,
    pub(crate) ip: Option<String>,
    pub(crate) mac: Option<String>,
    pub(crate) vendor: Option<String>,
    pub(crate) os: Option<String>,
    pub(crate) label: Option<String>,
    pub(crate) typename: &'static str,
    pub(crate) typelabel: &'static str,
    pub(crate) priority: i64,
    pub(crate) first_seen: i64,
    pub(crate) last_seen: i64,
    /// Indices into [`TAGS`]: the tags the device was generated with.
    pub(crate) tags: Vec<usize>,
    /// The tag objects on the device now, as `/devices?includetags=true` shows them; kept in
    /// step with the tag store (see `Dataset::sync_tags`).
    pub(crate) applied_tags: Vec<Value>,
    /// Earlier addresses, newest first, each with when it was seen.
    previous_ips: Vec<(String, i64)>,
    credentials: Vec<String>,
}

impl Device {
    /// Whether this is a SaaS account rather than a host on the network.
    pub(crate) fn is_saas(&self) -> bool {
        self.sid < 0
    }

    /// Names of the device's tags.
    pub(crate) fn tag_names(&self) -> impl Iterator<Item = &str> + '_ {
        self.applied_tags.iter().filter_map(|t| t["name"].as_str())
    }

    /// The device object as `/devices` returns it. Unknown fields are left out, as the appliance
    /// does, and so is a zero priority.
    pub(crate) fn to_json(&self, include_tags: bool) -> Value {
        let mut d = json!({ "did": self.did, "sid": self.sid, "typename": self.typename, "typelabel": self.typelabel,
            "firstSeen": self.first_seen, "lastSeen": self.last_seen });
        let fields = [
            ("hostname", &self.hostname),
            ("ip", &self.ip),
            ("macaddress", &self.mac),
            ("vendor", &self.vendor),
            ("os", &self.os),
            ("devicelabel", &self.label),
        ];
        for (key, value) in fields {
            if let Some(value) = value {
                d[key] = json!(value);
            }
        }
        if let Some(ip) = &self.ip {
            let current = (ip.clone(), self.last_seen - self.last_seen % HOUR_MS);
            let ips: Vec<Value> = std::iter::once(&current)
                .chain(&self.previous_ips)
                .map(|(ip, at)| json!({ "ip": ip, "timems": at, "time": readable_time(*at), "sid": self.sid }))
                .collect();
            d["ips"] = json!(ips);
        }
        if self.priority != 0 {
            d["priority"] = json!(self.priority);
        }
        if !self.credentials.is_empty() {
            let credentials: Vec<Value> =
                self.credentials.iter().map(|c| json!({ "credential": c, "lastSeen": self.last_seen })).collect();
            d["credentials"] = json!(credentials);
        }
        if include_tags {
            d["tags"] = json!(self.applied_tags);
        }
        d
    }
}

/// A seeded tag object as it appears on a device, never expiring.
pub(crate) fn tag_json(tag: &Tag) -> Value {
    json!({
        "tid": tag.tid, "thid": tag.tid, "name": tag.name, "restricted": tag.restricted, "expiry": 0,
        "data": { "auto": tag.auto, "color": tag.color, "description": tag.description, "visibility": "Public" },
        "isReferenced": true,
    })
}

/// One kind of device on the network and how many of it there are.
struct Profile {
    /// Hostname pattern; `#` is replaced by the zero-padded number, `None` for no hostname.
    hostname: Option<(&'static str, usize)>,
    count: usize,
    typename: &'static str,
    typelabel: &'static str,
    /// Subnet id and the first three octets of its /24.
    subnet: (i64, &'static str),
    os: &'static [&'static str],
    vendors: &'static [&'static str],
    /// Tag names every device of this kind carries, and ones a few carry.
    tags: &'static [&'static str],
    sometimes_tags: &'static [&'static str],
    priority: (i64, i64),
    /// Whether the device sits on the network permanently (never dormant).
    always_on: bool,
    /// Whether a user logs in on it (so it has credentials and may roam).
    personal: bool,
}

const APPLE: &str = "Apple, Inc.";
const WINDOWS: &[&str] = &["Windows 10 or 11", "Windows 11"];
const PC_VENDORS: &[&str] = &["Dell Inc.", "HP Inc.", "LCFC(HeFei) Electronics Technology co., ltd"];
const SERVER_VENDORS: &[&str] = &["VMware, Inc.", "Super Micro Computer, Inc."];

// One row per kind of device, so rustfmt leaves the table alone.
#[rustfmt::skip]
const PROFILES: &[Profile] = &[
    Profile { hostname: Some(("ws-fin-#.corp.example", 3)), count: 8, typename: "desktop", typelabel: "Desktop",
        subnet: (3, "10.10.3"), os: WINDOWS, vendors: PC_VENDORS, tags: &["Finance"], sometimes_tags: &["Admin"],
        priority: (0, 2), always_on: false, personal: true },
    Profile { hostname: Some(("ws-hr-#.corp.example", 3)), count: 5, typename: "desktop", typelabel: "Desktop",
        subnet: (3, "10.10.3"), os: WINDOWS, vendors: PC_VENDORS, tags: &[], sometimes_tags: &["Multiple Users"],
        priority: (0, 0), always_on: false, personal: true },
    Profile { hostname: Some(("lt-eng-#.corp.example", 3)), count: 10, typename: "laptop", typelabel: "Laptop",
        subnet: (4, "10.10.4"), os: &["macOS", "Windows 11", "Linux 3.11 and newer"],
        vendors: &["Apple, Inc.", "Dell Inc.", "Framework Computer Inc."], tags: &[], sometimes_tags: &["Admin", "Watch"],
        priority: (0, 1), always_on: false, personal: true },
    Profile { hostname: Some(("lt-sales-#.corp.example", 3)), count: 6, typename: "laptop", typelabel: "Laptop",
        subnet: (4, "10.10.4"), os: &["Windows 11", "macOS"], vendors: &["Apple, Inc.", "HP Inc."], tags: &[],
        sometimes_tags: &[], priority: (0, 0), always_on: false, personal: true },
    Profile { hostname: Some(("srv-db-#.corp.example", 2)), count: 4, typename: "server", typelabel: "Server",
        subnet: (1, "10.0.1"), os: &["Linux 3.11 and newer"], vendors: SERVER_VENDORS, tags: &[], sometimes_tags: &[],
        priority: (3, 5), always_on: true, personal: false },
    Profile { hostname: Some(("web-#.dmz.corp.example", 2)), count: 4, typename: "server", typelabel: "Server",
        subnet: (2, "10.0.2"), os: &["Linux 3.11 and newer"], vendors: SERVER_VENDORS, tags: &["Internet Facing System"],
        sometimes_tags: &[], priority: (2, 4), always_on: true, personal: false },
    Profile { hostname: Some(("dc-#.corp.example", 2)), count: 2, typename: "server", typelabel: "Server",
        subnet: (1, "10.0.1"), os: &["Windows Server 2019", "Windows Server 2022"], vendors: SERVER_VENDORS,
        tags: &["Domain Controller"], sometimes_tags: &[], priority: (5, 5), always_on: true, personal: false },
    Profile { hostname: Some(("fs-#.corp.example", 2)), count: 2, typename: "server", typelabel: "Server",
        subnet: (1, "10.0.1"), os: &["Windows Server 2022"], vendors: SERVER_VENDORS, tags: &[], sometimes_tags: &[],
        priority: (3, 4), always_on: true, personal: false },
    Profile { hostname: Some(("phone-#", 3)), count: 6, typename: "mobile", typelabel: "Mobile Phone",
        subnet: (6, "10.20.6"), os: &["iOS", "Android"], vendors: &["Apple, Inc.", "Samsung Electronics Co.,Ltd"],
        tags: &[], sometimes_tags: &[], priority: (0, 0), always_on: false, personal: false },
    Profile { hostname: Some(("prn-floor#.corp.example", 2)), count: 3, typename: "printer", typelabel: "Printer",
        subnet: (5, "10.10.5"), os: &[], vendors: &["Brother Industries, Ltd.", "Xerox Corporation"], tags: &[],
        sometimes_tags: &[], priority: (0, 0), always_on: true, personal: false },
    Profile { hostname: Some(("cam-lobby-#", 2)), count: 2, typename: "ipcamera", typelabel: "IP Camera",
        subnet: (5, "10.10.5"), os: &["Linux 2.6"], vendors: &["Axis Communications AB"], tags: &[],
        sometimes_tags: &[], priority: (0, 1), always_on: true, personal: false },
    Profile { hostname: Some(("fw-edge-#.corp.example", 2)), count: 1, typename: "firewall", typelabel: "Firewall",
        subnet: (1, "10.0.1"), os: &[], vendors: &["Fortinet, Inc."], tags: &["Security Device"], sometimes_tags: &[],
        priority: (4, 4), always_on: true, personal: false },
    Profile { hostname: Some(("ns-#.corp.example", 2)), count: 2, typename: "dnsserver", typelabel: "DNS Server",
        subnet: (1, "10.0.1"), os: &["Linux 3.11 and newer"], vendors: SERVER_VENDORS, tags: &[], sometimes_tags: &[],
        priority: (3, 3), always_on: true, personal: false },
    // Guests show up by address only: no DHCP hostname, nothing known but the network card.
    Profile { hostname: None, count: 3, typename: "desktop", typelabel: "Desktop", subnet: (7, "10.30.7"), os: &[],
        vendors: &["Intel Corporate", "Realtek Semiconductor Corp."], tags: &["Guest Wi-Fi"], sometimes_tags: &[],
        priority: (-1, 0), always_on: false, personal: false },
];

/// Users of the simulated company, for credentials and SaaS accounts.
pub(crate) const USERS: &[&str] = &[
    "a.moreau",
    "b.okafor",
    "c.lindqvist",
    "d.tanaka",
    "e.rossi",
    "f.nguyen",
    "g.kowalski",
    "h.silva",
    "i.haddad",
    "j.murphy",
    "k.berger",
    "l.chen",
    "m.dubois",
    "n.patel",
    "o.larsen",
    "p.novak",
];

const LABELS: &[&str] = &["Build agent", "Reception PC", "Jump host", "Backup target", "Kiosk", "Test bench"];

/// SaaS accounts the appliance watches: module name and subnet id (SaaS subnets are negative).
const SAAS: &[(&str, i64)] = &[("Office365", -9), ("Salesforce", -11)];

/// Generates the network. `now` is the simulated clock when the simulator starts, in ms.
pub(crate) fn generate(rng: &mut Rng, now: i64) -> Vec<Device> {
    let mut devices = Vec::new();
    let mut did = 1000;
    let mut next_host: Vec<(&str, i64)> = Vec::new();
    for profile in PROFILES {
        for n in 1..=profile.count {
            did += rng.range(1, 4) as u64;
            let base = profile.subnet.1;
            let host = match next_host.iter_mut().find(|(b, _)| *b == base) {
                Some((_, h)) => {
                    *h += rng.range(1, 6);
                    *h
                }
                None => {
                    let h = rng.range(10, 30);
                    next_host.push((base, h));
                    h
                }
            };
            devices.push(network_device(rng, profile, n, did, format!("{base}.{host}"), now));
        }
    }
    for (module, sid) in SAAS {
        did += rng.range(1, 4) as u64;
        let user = rng.pick(USERS);
        devices.push(Device {
            did,
            sid: *sid,
            hostname: Some(format!("SaaS::{module}: {user}@corp.example")),
            ip: None,
            mac: None,
            vendor: None,
            os: None,
            label: None,
            typename: "saasprovider",
            typelabel: "SaaS Provider",
            priority: 0,
            first_seen: now - rng.range(60 * 1440, 300 * 1440) * MINUTE_MS,
            last_seen: now - rng.range(1, 90) * MINUTE_MS,
            tags: Vec::new(),
            applied_tags: Vec::new(),
            previous_ips: Vec::new(),
            credentials: vec![format!("{user}@corp.example")],
        });
    }
    devices
}

fn network_device(rng: &mut Rng, p: &Profile, n: usize, did: u64, ip: String, now: i64) -> Device {
    let hostname = p.hostname.map(|(pattern, width)| pattern.replace('#', &format!("{n:0width$}")));
    // Most devices were active recently; some were away for days, a few long enough to fall
    // outside the default seven-day `/devices` window.
    let last_seen = if p.always_on || rng.chance(0.75) {
        now - rng.range(0, 6 * 60) * MINUTE_MS
    } else if rng.chance(0.6) {
        now - rng.range(26, 6 * 24) * HOUR_MS
    } else {
        now - rng.range(8, 25) * DAY_MS
    };
    let mut tags: Vec<usize> = p.tags.iter().filter_map(|name| tag_index(name)).collect();
    for name in p.sometimes_tags {
        if rng.chance(0.3) {
            tags.extend(tag_index(name));
        }
    }
    let mut previous_ips = Vec::new();
    if p.personal && rng.chance(0.4) {
        let (base, _) = ip.rsplit_once('.').unwrap_or((ip.as_str(), ""));
        let at = last_seen - last_seen % HOUR_MS - rng.range(2, 20) * DAY_MS;
        previous_ips.push((format!("{base}.{}", rng.range(100, 250)), at));
    }
    let os = (!p.os.is_empty()).then(|| *rng.pick(p.os));
    // Apple's systems run on Apple hardware and nothing else does, on this network at least.
    let apple_os = matches!(os, Some("macOS" | "iOS"));
    let vendors: Vec<&str> = p.vendors.iter().copied().filter(|v| (*v == APPLE) == apple_os).collect();
    let vendor = if vendors.is_empty() { *rng.pick(p.vendors) } else { *rng.pick(&vendors) };
    Device {
        did,
        sid: p.subnet.0,
        hostname,
        ip: Some(ip),
        mac: Some(mac(rng)),
        vendor: Some(vendor.to_owned()),
        os: os.map(str::to_owned),
        label: rng.chance(0.12).then(|| rng.pick(LABELS).to_string()),
        typename: p.typename,
        typelabel: p.typelabel,
        priority: rng.range(p.priority.0, p.priority.1),
        first_seen: last_seen - rng.range(20, 500) * DAY_MS,
        last_seen,
        applied_tags: tags.iter().map(|&i| tag_json(&TAGS[i])).collect(),
        tags,
        previous_ips,
        credentials: if p.personal { vec![rng.pick(USERS).to_string()] } else { Vec::new() },
    }
}

fn tag_index(name: &str) -> Option<usize> {
    TAGS.iter().position(|t| t.name == name)
}

/// A unicast, globally administered MAC address.
fn mac(rng: &mut Rng) -> String {
    let bytes = rng.next_u64().to_be_bytes();
    let first = bytes[0] & 0b1111_1100;
    std::iter::once(first).chain(bytes[1..6].iter().copied()).map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(":")
}
