//! Enrichment data: the external endpoints the network talks to, the subnets, the connection
//! log that Advanced Search reads, and the enumerations.
//!
//! Everything is linked to the generated devices: endpoints list the devices that contacted
//! them, subnets are those the devices sit on, and every connection record comes from one of
//! them. External names are reserved example domains and addresses come from the
//! documentation ranges, so nothing here can ever resolve or route.

use serde_json::{Value, json};
use time::OffsetDateTime;
use time::macros::format_description;

use super::components::RARE_HOSTS;
use super::devices::Device;
use super::{DAY_MS, HOUR_MS, MINUTE_MS};
use crate::simulator::rng::Rng;

/// How far back the connection log reaches.
const LOG_MS: i64 = 2 * DAY_MS;
/// How many connection records the log holds.
const LOG_RECORDS: usize = 480;

/// Names almost every device contacts: the common services of the simulated company.
const POPULAR_HOSTS: &[&str] = &["www.example.com", "login.example.com", "mail.example.net", "updates.example.org"];

/// Rare names that look machine-generated (domain generation algorithms).
const DGA_LIKE: &[&str] = &["a83f1c0e9b2d.example.org", "x9q2.dyn.example.net"];

/// Where external addresses are located: country, country code, city, latitude, longitude.
const PLACES: &[(&str, &str, &str, f64, f64)] = &[
    ("United States", "US", "Ashburn", 39.0438, -77.4874),
    ("Ireland", "IE", "Dublin", 53.3498, -6.2603),
    ("Germany", "DE", "Frankfurt am Main", 50.1109, 8.6821),
    ("Netherlands", "NL", "Amsterdam", 52.3676, 4.9041),
    ("Singapore", "SG", "Singapore", 1.3521, 103.8198),
    ("Romania", "RO", "Bucharest", 44.4268, 26.1025),
];

/// An external endpoint (hostname and the addresses it resolved to).
#[derive(Debug, Clone)]
pub(crate) struct Endpoint {
    pub(crate) hostname: &'static str,
    /// Addresses, each with an index into [`PLACES`].
    pub(crate) ips: Vec<(String, usize)>,
    /// First contact from the network (ms).
    pub(crate) first_seen: i64,
    /// 0 (everyone talks to it) to 100 (nobody does).
    pub(crate) rarity: u32,
    pub(crate) dga_score: u32,
    /// Indices into the dataset's devices, ascending.
    pub(crate) devices: Vec<usize>,
}

/// A monitored subnet.
#[derive(Debug, Clone)]
pub(crate) struct Subnet {
    pub(crate) sid: i64,
    pub(crate) label: &'static str,
    pub(crate) network: String,
    pub(crate) dhcp: bool,
    pub(crate) unique_usernames: bool,
    pub(crate) unique_hostnames: bool,
    pub(crate) excluded: bool,
    pub(crate) location: Option<(f64, f64)>,
    pub(crate) first_seen: i64,
    pub(crate) last_traffic: i64,
}

/// Enrichment data, plus the Advanced Search query documents received (oldest first).
#[derive(Debug, Default)]
pub(crate) struct Metadata {
    pub(crate) endpoints: Vec<Endpoint>,
    pub(crate) subnets: Vec<Subnet>,
    /// Advanced Search records (`_source` objects), newest first.
    pub(crate) records: Vec<Value>,
    /// Every decoded Advanced Search query document, in the order received.
    pub(crate) searches: Vec<Value>,
}

/// Labels of the subnets the device profiles use, by sid.
const SUBNET_LABELS: &[(i64, &str)] = &[
    (1, "Core servers"),
    (2, "DMZ"),
    (3, "Office desktops"),
    (4, "Office laptops"),
    (5, "Facilities"),
    (6, "Mobile devices"),
    (7, "Guest Wi-Fi"),
];

/// Generates the enrichment data for `devices`. `now` is the simulated clock at start, in ms.
pub(crate) fn generate(rng: &mut Rng, devices: &[Device], now: i64) -> Metadata {
    let network: Vec<usize> =
        (0..devices.len()).filter(|&i| !devices[i].is_saas() && devices[i].ip.is_some()).collect();
    let endpoints = endpoints(rng, &network, now);
    let subnets = subnets(rng, devices, now);
    let records = records(rng, devices, &network, &endpoints, now);
    Metadata { endpoints, subnets, records, searches: Vec::new() }
}

fn endpoints(rng: &mut Rng, network: &[usize], now: i64) -> Vec<Endpoint> {
    let mut next_ip = 10;
    let mut endpoint = |rng: &mut Rng, hostname: &'static str, popular: bool| {
        let ips = (0..rng.range(1, if popular { 3 } else { 1 }))
            .map(|_| {
                next_ip += rng.range(1, 9);
                let net = rng.pick(&["192.0.2", "198.51.100", "203.0.113"]);
                (format!("{net}.{}", next_ip % 250 + 2), rng.index(PLACES.len()))
            })
            .collect();
        let how_many = if popular { rng.range(12, 30) } else { rng.range(1, 5) } as usize;
        let mut devices: Vec<usize> = (0..how_many.min(network.len())).map(|_| *rng.pick(network)).collect();
        devices.sort_unstable();
        devices.dedup();
        Endpoint {
            hostname,
            ips,
            first_seen: if popular {
                now - rng.range(300, 900) * DAY_MS
            } else {
                now - rng.range(2, 20 * 24) * HOUR_MS
            },
            rarity: if popular { rng.range(0, 15) as u32 } else { rng.range(88, 100) as u32 },
            dga_score: if DGA_LIKE.contains(&hostname) { rng.range(70, 96) as u32 } else { rng.range(0, 8) as u32 },
            devices,
        }
    };
    let mut all: Vec<Endpoint> = POPULAR_HOSTS.iter().map(|h| endpoint(rng, h, true)).collect();
    all.extend(RARE_HOSTS.iter().map(|h| endpoint(rng, h, false)));
    all
}

fn subnets(rng: &mut Rng, devices: &[Device], now: i64) -> Vec<Subnet> {
    let mut subnets: Vec<Subnet> = SUBNET_LABELS
        .iter()
        .filter_map(|&(sid, label)| {
            let members: Vec<&Device> = devices.iter().filter(|d| d.sid == sid).collect();
            let ip = members.iter().find_map(|d| d.ip.as_deref())?;
            let (base, _) = ip.rsplit_once('.')?;
            let personal = matches!(sid, 3 | 4 | 6 | 7);
            Some(Subnet {
                sid,
                label,
                network: format!("{base}.0/24"),
                dhcp: personal,
                unique_usernames: matches!(sid, 3 | 4),
                unique_hostnames: matches!(sid, 3 | 4),
                excluded: false,
                // The guest network has no site configured, as often happens.
                location: (sid != 7).then_some((48.8566, 2.3522)),
                first_seen: members.iter().map(|d| d.first_seen).min().unwrap_or(now),
                last_traffic: members.iter().map(|d| d.last_seen).max().unwrap_or(now),
            })
        })
        .collect();
    // A retired VPN pool: excluded, and quiet for longer than a short `seensince` covers.
    let retired = now - rng.range(35, 60) * DAY_MS;
    subnets.push(Subnet {
        sid: 8,
        label: "Old VPN pool",
        network: "10.99.8.0/24".to_owned(),
        dhcp: false,
        unique_usernames: true,
        unique_hostnames: false,
        excluded: true,
        location: None,
        first_seen: retired - 400 * DAY_MS,
        last_traffic: retired,
    });
    subnets
}

/// The connection log: DNS lookups, TLS and HTTP sessions and plain connections from network
/// devices to the external endpoints, newest first, as Advanced Search stores them.
fn records(rng: &mut Rng, devices: &[Device], network: &[usize], endpoints: &[Endpoint], now: i64) -> Vec<Value> {
    if network.is_empty() || endpoints.is_empty() {
        return Vec::new();
    }
    let mut times: Vec<i64> = (0..LOG_RECORDS).map(|_| now - MINUTE_MS / 2 - rng.range(0, LOG_MS)).collect();
    times.sort_unstable_by(|a, b| b.cmp(a));
    times
        .into_iter()
        .enumerate()
        .map(|(n, at)| {
            let endpoint = rng.pick(endpoints);
            let device = &devices[match endpoint.devices.as_slice() {
                [] => *rng.pick(network),
                known => *rng.pick(known),
            }];
            let source_ip = device.ip.clone().unwrap_or_default();
            let (dest_ip, _) = rng.pick(&endpoint.ips).clone();
            let uid = format!("C{:016x}", rng.next_u64() >> 4);
            let kind = *rng.pick(&["conn", "dns", "ssl", "ssl", "http"]);
            let mut fields = json!({
                "epochdate": at as f64 / 1000.0, "uid": uid, "source_ip": source_ip,
                "source_port": rng.range(49_152, 65_535), "sdid": device.did,
            });
            match kind {
                "dns" => {
                    fields["dest_ip"] = json!("10.0.1.53");
                    fields["dest_port"] = json!(53);
                    fields["proto"] = json!("udp");
                    fields["query"] = json!(endpoint.hostname);
                    fields["qtype_name"] = json!("A");
                    fields["rcode_name"] = json!("NOERROR");
                    fields["answers"] = json!(endpoint.ips.iter().map(|(ip, _)| ip).collect::<Vec<_>>());
                }
                "ssl" => {
                    fields["dest_ip"] = json!(dest_ip);
                    fields["dest_port"] = json!(443);
                    fields["proto"] = json!("tcp");
                    fields["server_name"] = json!(endpoint.hostname);
                    fields["version"] = json!(*rng.pick(&["TLSv12", "TLSv13", "TLSv13"]));
                    fields["established"] = json!(true);
                }
                "http" => {
                    fields["dest_ip"] = json!(dest_ip);
                    fields["dest_port"] = json!(80);
                    fields["proto"] = json!("tcp");
                    fields["host"] = json!(endpoint.hostname);
                    fields["method"] = json!(*rng.pick(&["GET", "GET", "POST"]));
                    fields["uri"] = json!(*rng.pick(&["/", "/api/v2/status", "/static/app.js", "/update/check"]));
                    fields["status_code"] = json!(*rng.pick(&[200, 200, 204, 301, 404]));
                    fields["user_agent"] = json!(*rng.pick(&["Mozilla/5.0 (Windows NT 10.0; Win64; x64)", "curl/8.5.0", "Microsoft-CryptoAPI/10.0"]));
                }
                _ => {
                    fields["dest_ip"] = json!(dest_ip);
                    fields["dest_port"] = json!(*rng.pick(&[443, 443, 80, 8443, 22]));
                    fields["proto"] = json!("tcp");
                    fields["service"] = json!(*rng.pick(&["ssl", "http", "ssh"]));
                    fields["duration"] = json!(rng.range(1, 90_000) as f64 / 1000.0);
                    fields["orig_bytes"] = json!(rng.range(200, 2_000_000));
                    fields["resp_bytes"] = json!(rng.range(200, 9_000_000));
                    fields["conn_state"] = json!(*rng.pick(&["SF", "SF", "S0", "RSTO"]));
                }
            }
            json!({
                "@type": kind, "@timestamp": iso(at), "@fields": fields,
                "@message": format!("{} {source_ip} -> {} {}", kind, fields["dest_ip"].as_str().unwrap_or(""), endpoint.hostname),
                "_id": format!("{:x}{n:04x}", at),
            })
        })
        .collect()
}

/// ISO 8601 UTC with milliseconds, as Kibana writes `@timestamp`.
pub(crate) fn iso(ms: i64) -> String {
    let format = format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z");
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| t.format(format).ok())
        .unwrap_or_default()
}

impl Endpoint {
    /// Location objects for the endpoint's addresses.
    pub(crate) fn locations(&self) -> Vec<Value> {
        self.ips
            .iter()
            .filter_map(|(ip, place)| {
                let (country, code, city, latitude, longitude) = PLACES.get(*place)?;
                Some(json!({ "ip": ip, "country": country, "countrycode": code, "city": city,
                    "latitude": latitude, "longitude": longitude }))
            })
            .collect()
    }
}

impl Subnet {
    /// The subnet object as `/subnets` returns it.
    pub(crate) fn to_json(&self) -> Value {
        // `mostRecentTraffic` and `lastSeen`, epoch ms, as the guide's response schema names them
        // (reference section 2.6, `/subnets`).
        let mut s = json!({
            "sid": self.sid, "auto": false, "dhcp": self.dhcp, "firstSeen": self.first_seen,
            "label": self.label, "mostRecentTraffic": self.last_traffic, "lastSeen": self.last_traffic,
            "network": self.network,
            "shid": 3000 + self.sid * 7, "uniqueUsernames": self.unique_usernames,
            "uniqueHostnames": self.unique_hostnames, "excluded": self.excluded, "modelExcluded": self.excluded,
        });
        if let Some((latitude, longitude)) = self.location {
            s["latitude"] = json!(latitude);
            s["longitude"] = json!(longitude);
        }
        s
    }
}

/// `/enums`: the code tables the appliance uses, by section.
pub(crate) fn enums(devices: &[Device]) -> Value {
    let mut types: Vec<(&str, &str)> = devices.iter().map(|d| (d.typename, d.typelabel)).collect();
    types.sort_unstable();
    types.dedup();
    let device_types: Vec<Value> = types
        .iter()
        .enumerate()
        .map(|(i, (name, label))| json!({ "id": i + 1, "name": name, "label": label }))
        .collect();
    let countries: Vec<Value> = PLACES.iter().map(|(name, code, ..)| json!({ "code": code, "name": name })).collect();
    json!({
        "countries": countries,
        "sourcedevicetypes": device_types,
        "protocols": [{ "code": 1, "name": "ICMP" }, { "code": 6, "name": "TCP" }, { "code": 17, "name": "UDP" }],
        "applicationprotocols": [
            { "code": 1, "name": "HTTP" }, { "code": 2, "name": "SSL" }, { "code": 3, "name": "DNS" },
            { "code": 4, "name": "SMB" }, { "code": 5, "name": "SSH" }, { "code": 6, "name": "RDP" },
        ],
        "eventtypes": ["connection", "unusualconnection", "newconnection", "notice", "devicehistory", "modelbreach"],
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::simulator::data::Dataset;

    const NOW: i64 = 1_767_225_600_000;

    #[test]
    fn enrichment_is_linked_to_the_generated_devices() {
        let d = Dataset::generate(42, 50, NOW);
        let m = &d.metadata;
        assert!(m.endpoints.iter().all(|e| !e.ips.is_empty() && e.devices.iter().all(|&i| i < d.devices.len())));
        assert!(m.endpoints.iter().any(|e| e.dga_score >= 70) && m.endpoints.iter().any(|e| e.rarity <= 15));
        assert!(m.subnets.iter().any(|s| s.excluded && s.last_traffic < NOW - 30 * DAY_MS));
        for s in &m.subnets {
            assert!(s.excluded || d.devices.iter().any(|x| x.sid == s.sid), "subnet {} has devices", s.sid);
        }
        assert_eq!(m.records.len(), LOG_RECORDS);
        let times: Vec<&str> = m.records.iter().filter_map(|r| r["@timestamp"].as_str()).collect();
        assert!(times.windows(2).all(|w| w[0] >= w[1]), "newest first");
        assert!(m.records.iter().all(|r| { d.device(r["@fields"]["sdid"].as_u64().unwrap_or(0)).is_some() }));
    }
}
