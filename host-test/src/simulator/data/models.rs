//! The simulated model catalogue: what can breach, and the model objects breaches embed.

use serde_json::{Value, json};

use super::components::{Component, Kind, attack_phase};
use super::{DAY_MS, HOUR_MS, MINUTE_MS, readable_time};
use crate::simulator::rng::Rng;

/// A model definition: name (`Family::Name`), priority 0-5, compliance flag, components and
/// a description. The category follows from priority and compliance, as on the appliance.
struct Definition {
    name: &'static str,
    priority: u8,
    compliance: bool,
    kinds: &'static [Kind],
    description: &'static str,
}

const fn def(name: &'static str, priority: u8, kinds: &'static [Kind], description: &'static str) -> Definition {
    Definition { name, priority, compliance: false, kinds, description }
}

const fn compliance(name: &'static str, priority: u8, kinds: &'static [Kind], description: &'static str) -> Definition {
    Definition { name, priority, compliance: true, kinds, description }
}

use Kind::*;

// One entry per model, so rustfmt leaves the table alone.
#[rustfmt::skip]
const DEFINITIONS: &[Definition] = &[
    def("Anomalous Connection::Large Upload to Rare Domain", 4, &[DataTransfer, RareExternal],
        "A device sent an unusually large volume of data to an endpoint the network rarely talks to.\\n\\nAction: check what was sent and whether the destination is a sanctioned service."),
    def("Anomalous Connection::Unusual Admin RDP", 3, &[Rdp],
        "A device opened a remote desktop session to a host it does not normally administer.\\n\\nAction: confirm the session with the device owner."),
    def("Anomalous Connection::Outbound SSH to Rare Host", 3, &[Ssh, RareExternal],
        "SSH from inside the network to an external address seen by few or no other devices.\\n\\nAction: verify the destination and the user behind the session."),
    def("Anomalous Connection::Repeated Failed Connections", 2, &[FailedConnections],
        "Many failed connection attempts to the same external endpoint, which can indicate a dead command channel.\\n\\nAction: identify the process making the attempts."),
    def("Anomalous File::Executable from Rare Endpoint", 4, &[Download],
        "A Windows executable was downloaded from a domain that is rare for the network.\\n\\nAction: retrieve the file hash and check it against threat intelligence."),
    def("Anomalous File::Script over Plain HTTP", 3, &[Download, UserAgent],
        "A script file arrived over unencrypted HTTP from an unusual location.\\n\\nAction: review the script and the device's subsequent activity."),
    def("Anomalous Server Activity::New Outbound from Server", 3, &[RareExternal],
        "A server that normally only answers requests started talking to a new external endpoint.\\n\\nAction: check for recent changes or compromise on the server."),
    compliance("Compliance::Remote Support Tool", 2, &[RemoteTool],
        "A remote support tool connected to its cloud relay.\\n\\nAction: confirm the tool is approved."),
    compliance("Compliance::Cleartext Password", 1, &[Cleartext],
        "Credentials crossed the network unencrypted.\\n\\nAction: move the service to an encrypted protocol."),
    compliance("Compliance::Peer to Peer File Sharing", 1, &[PeerToPeer],
        "BitTorrent traffic from a corporate device.\\n\\nAction: remind the user of the acceptable use policy."),
    def("Compromise::Regular Beaconing to Rare Destination", 5, &[Beacon],
        "Connections at regular intervals to a destination few devices contact, typical of command and control.\\n\\nAction: isolate the device and investigate the beaconing process."),
    def("Compromise::Watched Domain Lookup", 5, &[WatchedDomain],
        "The device looked up a domain on the watched list.\\n\\nAction: treat as a likely compromise and investigate immediately."),
    def("Compromise::DNS Tunnelling Indicators", 4, &[DnsVolume],
        "A high volume of long, random-looking DNS queries to one domain.\\n\\nAction: check for data being smuggled out over DNS."),
    def("Compromise::Beacon over Self-Signed TLS", 5, &[Beacon, SelfSignedTls, RareExternal],
        "Regular TLS connections to an endpoint presenting a self-signed certificate.\\n\\nAction: block the endpoint and examine the device."),
    def("Compromise::Ransomware File Rewrites", 5, &[SmbRewrites],
        "The device renamed many files on a share with a new extension, as encrypting malware does.\\n\\nAction: disconnect the device at once."),
    def("Device::New User Agent to Rare Host", 2, &[UserAgent, RareExternal],
        "A user agent never seen on this device made requests to a rare host.\\n\\nAction: identify the software responsible."),
    def("Device::Attack Tool User Agent", 4, &[UserAgent],
        "HTTP requests carried the user agent of a known scanning or attack tool.\\n\\nAction: confirm whether a sanctioned test is under way."),
    def("Device::Internal Port Sweep", 3, &[PortScan],
        "Connections to a large number of ports across internal hosts in a short time.\\n\\nAction: check whether the device is an authorised scanner."),
    def("Device::Kerberos Failures Burst", 3, &[AuthFailures],
        "A burst of failed Kerberos pre-authentication for many accounts.\\n\\nAction: look for password spraying."),
    def("Anomalous Connection::Tor Exit Node", 4, &[Tor],
        "The device connected to a known Tor exit node.\\n\\nAction: find out whether Tor use is expected."),
    def("Antigena::Block Suspected Beacon", 5, &[Beacon],
        "Autonomous response: block connections to a suspected command and control endpoint.\\n\\nAction: review the block and extend or clear it."),
    def("Antigena::Quarantine Ransomware Activity", 5, &[SmbRewrites],
        "Autonomous response: quarantine a device rewriting files on network shares.\\n\\nAction: release the device only once it is clean."),
    def("SaaS::Login from Unusual Country", 4, &[SaasLogin],
        "A SaaS account logged in from a country it has not used before.\\n\\nAction: confirm with the user and reset credentials if in doubt."),
    def("SaaS::External Forwarding Rule", 4, &[SaasInboxRule],
        "A mailbox rule now forwards mail to an external address.\\n\\nAction: remove the rule unless the user created it on purpose."),
    def("SaaS::Mass File Download", 3, &[SaasDownloads],
        "An account downloaded far more files than usual from cloud storage.\\n\\nAction: check whether the user is leaving the company."),
    def("System::Sensor Traffic Drop", 2, &[SystemNotice],
        "A sensor reported much less traffic than usual.\\n\\nAction: check the span port or mirror configuration."),
    def("System::Sensor Heartbeat Missed", 3, &[SystemNotice],
        "A sensor has not reported in for several intervals.\\n\\nAction: check the sensor's health and connectivity."),
    def("Unusual Activity::Large Internal Copy", 3, &[InternalTransfer],
        "An unusually large volume of data was copied between internal hosts.\\n\\nAction: confirm the copy is a sanctioned backup or migration."),
    def("Unusual Activity::Sustained Rare Cloud Connections", 2, &[RareExternal, DataTransfer],
        "Long-lived connections to a cloud host few devices use.\\n\\nAction: identify the service behind the host."),
    def("User::Impossible Travel", 4, &[SaasLogin, SaasLogin],
        "Two logins for one account from places too far apart for the time between them.\\n\\nAction: treat the account as compromised until shown otherwise."),
];

/// Which devices a model breaches on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Target {
    /// Hosts on the network.
    Network,
    /// SaaS accounts.
    Saas,
    /// Infrastructure (system health models).
    Infrastructure,
}

/// A model in the simulated catalogue.
#[derive(Debug)]
pub(crate) struct Model {
    pub(crate) pid: u64,
    pub(crate) uuid: String,
    pub(crate) name: &'static str,
    pub(crate) priority: u8,
    pub(crate) components: Vec<Component>,
    /// The current definition as JSON (`model.now`).
    now: Value,
    /// The definition before the last edit, and when that edit was made (ms), for models
    /// edited recently enough that older breaches still carry the earlier version.
    previous: Option<(Value, i64)>,
}

impl Model {
    /// Which devices this model breaches on.
    pub(crate) fn target(&self) -> Target {
        if self.name.starts_with("SaaS::") || self.name.starts_with("User::") {
            Target::Saas
        } else if self.name.starts_with("System::") {
            Target::Infrastructure
        } else {
            Target::Network
        }
    }

    /// The model as it stood at `time` (ms): `model.then` of a breach at that time.
    pub(crate) fn then(&self, time: i64) -> &Value {
        match &self.previous {
            Some((old, edited)) if time < *edited => old,
            _ => &self.now,
        }
    }

    /// The model as it stands now: `model.now`.
    pub(crate) fn now(&self) -> &Value {
        &self.now
    }
}

/// The model object with the fields `minimal=true` leaves out removed.
pub(crate) fn minimal(model: &Value) -> Value {
    let mut model = model.clone();
    if let Some(fields) = model.as_object_mut() {
        // `shift_remove` keeps the remaining fields in the appliance's order.
        fields.shift_remove("logic");
        fields.shift_remove("description");
    }
    model
}

/// Builds the catalogue. `now` is the simulated clock at start, in ms.
pub(crate) fn generate(rng: &mut Rng, now: i64) -> Vec<Model> {
    let mut pid = 80;
    let mut phid = 900;
    let mut cid = 2400;
    let mut cfid = 31000;
    DEFINITIONS
        .iter()
        .map(|d| {
            pid += rng.range(1, 9) as u64;
            let components: Vec<Component> = d
                .kinds
                .iter()
                .map(|&kind| {
                    cid += rng.range(1, 5) as u64;
                    let component = Component { cid, chid: cid + 1700, kind, first_cfid: cfid };
                    cfid += component.filter_count() + rng.range(0, 3) as u64;
                    component
                })
                .collect();
            let uuid = rng.uuid();
            let version = rng.range(2, 40);
            phid += rng.range(1, 30) as u64;
            let created = now - rng.range(200 * 1440, 900 * 1440) * MINUTE_MS;
            // A quarter of the models were edited during the breach history, so `then` and
            // `now` differ for their older breaches, as they do on a real appliance.
            let previous = rng.chance(0.25).then(|| {
                let edited = now - rng.range(12, 13 * 24) * HOUR_MS;
                let old_modified = edited - rng.range(30, 200) * DAY_MS;
                let old = object(d, pid, phid, &uuid, version, old_modified, &components, None, false);
                phid += rng.range(1, 5) as u64;
                (old, edited)
            });
            let modified = previous.as_ref().map_or_else(|| created + rng.range(1, 150) * DAY_MS, |(_, e)| *e);
            let message =
                previous.as_ref().map(|_| *rng.pick(&["Tuned thresholds", "Reduced false positives", "Added tag"]));
            let edited_version = version + i64::from(previous.is_some());
            let now_json =
                object(d, pid, phid, &uuid, edited_version, modified, &components, message, previous.is_some());
            Model { pid, uuid, name: d.name, priority: d.priority, components, now: now_json, previous }
        })
        .collect()
}

/// The model object as breaches embed it.
#[allow(clippy::too_many_arguments)] // One call site; a parameter struct would only rename these.
fn object(
    d: &Definition,
    pid: u64,
    phid: u64,
    uuid: &str,
    version: i64,
    modified: i64,
    components: &[Component],
    message: Option<&str>,
    edited: bool,
) -> Value {
    let category = match (d.compliance, d.priority) {
        (true, _) => "Compliance",
        (false, 5) => "Critical",
        (false, 4) => "Suspicious",
        _ => "Informational",
    };
    let logic = if components.len() == 1 {
        json!({ "data": [components[0].cid], "type": "componentList", "version": 1 })
    } else {
        let data: Vec<Value> = components.iter().map(|c| json!({ "cid": c.cid, "weight": 1 })).collect();
        json!({ "data": data, "targetScore": 1, "type": "weightedComponentList", "version": 1 })
    };
    let mut tags: Vec<&str> = components.iter().map(|c| attack_phase(c.kind)).filter(|t| !t.is_empty()).collect();
    tags.dedup();
    if edited {
        tags.push("Reviewed");
    }
    let antigena = if d.name.starts_with("Antigena::") {
        json!({ "action": if d.name.contains("Quarantine") { "quarantine" } else { "connection" }, "duration": 3600, "confirm": false })
    } else {
        json!({})
    };
    let editor = if edited { json!({ "by": "soc.lead", "userID": 12 }) } else { json!({ "by": "System" }) };
    let mut model = json!({
        "name": d.name, "pid": pid, "phid": phid, "uuid": uuid, "logic": logic,
        "throttle": if d.priority >= 4 { 3600 } else { 86400 },
        "sharedEndpoints": false,
        "actions": { "alert": true, "antigena": antigena, "breach": true, "model": true,
            "setPriority": false, "setTag": false, "setType": false },
        "tags": tags, "interval": if components.len() > 1 { 3600 } else { 0 }, "delay": 0,
        "sequenced": components.len() > 1, "active": true, "modified": readable_time(modified),
        "activeTimes": { "devices": {}, "tags": {}, "type": "exclusions", "version": 2 },
        "autoUpdatable": !edited, "autoUpdate": true, "autoSuppress": true,
        "description": d.description, "behaviour": if d.priority >= 4 { "decreasing" } else { "flat" },
        "defeats": [], "created": { "by": "System" }, "edited": editor, "version": version,
        "priority": d.priority, "category": category, "compliance": d.compliance,
    });
    if let Some(message) = message {
        model["message"] = json!(message);
    }
    model
}
