//! The simulated Cyber AI Analyst: incident events grouped into incidents, built on the
//! dataset's own breaches and devices, plus comments and investigations made through the API.
//!
//! Half of the events carry a plain-string summary and half the structured `formatString`
//! template newer appliances send, so clients meet both.

use serde_json::{Value, json};

use super::{DAY_MS, Dataset, MINUTE_MS};
use crate::simulator::rng::Rng;

/// How many incidents to seed (each with one to four events).
const GROUPS: usize = 14;
/// The appliance's default AI Analyst window.
pub(crate) const DEFAULT_WINDOW_MS: i64 = 7 * DAY_MS;
/// How far either side of the investigated instant an investigation looks.
const INVESTIGATION_REACH_MS: i64 = 60 * MINUTE_MS;

/// One kind of finding the AI Analyst writes up.
struct Kind {
    title: &'static str,
    category: &'static str,
    summariser: &'static str,
    tactics: &'static [&'static str],
    phase: u8,
    /// The opening sentence; `{}` is the device, then the detail.
    lead: &'static str,
    detail: &'static [&'static str],
    advice: &'static str,
}

#[rustfmt::skip]
const KINDS: &[Kind] = &[
    Kind { title: "Unusual Repeated Connections to a Rare Endpoint", category: "suspicious", summariser: "BeaconSummary",
        tactics: &["command-and-control"], phase: 4,
        lead: "The device {} made regular connections to {}, an endpoint no other device on the network contacts.",
        detail: &["cdn-update.example.net", "telemetry.example.org", "203.0.113.45"],
        advice: "A steady rhythm to a rare destination can be automated software, but it is also how implants check in." },
    Kind { title: "Large Data Upload to a New External Host", category: "critical", summariser: "ExfilSummary",
        tactics: &["exfiltration"], phase: 6,
        lead: "The device {} sent an unusually large volume of data ({}) to an external host it had not used before.",
        detail: &["3.2 GB", "870 MB", "1.4 GB"],
        advice: "Confirm whether the transfer was a sanctioned backup or sync before closing this incident." },
    Kind { title: "Scanning of Internal Hosts", category: "suspicious", summariser: "ScanSummary",
        tactics: &["discovery"], phase: 3,
        lead: "The device {} probed {} internal addresses on common service ports within a short period.",
        detail: &["212", "64", "1,024"],
        advice: "Scans from a workstation are rarely expected; check for vulnerability-management tools first." },
    Kind { title: "Suspicious Remote Administration Activity", category: "critical", summariser: "LateralMovementSummary",
        tactics: &["lateral-movement", "execution"], phase: 5,
        lead: "The device {} used {} to administer hosts it does not normally manage.",
        detail: &["SMB and remote service creation", "WinRM", "RDP"],
        advice: "Remote execution across several hosts is a common step in ransomware deployment." },
    Kind { title: "Possible Takeover of a SaaS Account", category: "critical", summariser: "SaasHijackSummary",
        tactics: &["initial-access", "persistence"], phase: 2,
        lead: "The account {} logged in from {} and then changed its security settings.",
        detail: &["an unusual location", "a hosting provider's network", "two countries within an hour"],
        advice: "Reset the account's credentials and review its recent mailbox and sharing rules." },
    Kind { title: "Unusual Use of Administrative Credentials", category: "suspicious", summariser: "CredentialSummary",
        tactics: &["privilege-escalation", "credential-access"], phase: 3,
        lead: "The device {} authenticated with {} for the first time.",
        detail: &["a domain administrator account", "a service account", "several privileged accounts"],
        advice: "Check that the administrator expected to use this device did so." },
    Kind { title: "Policy Violation: Unapproved Remote Access Software", category: "compliance", summariser: "ComplianceSummary",
        tactics: &["command-and-control"], phase: 4,
        lead: "The device {} connected to {}, a remote access service not approved on this network.",
        detail: &["a commercial remote desktop relay", "a screen-sharing service"],
        advice: "Remove the software or add it to the approved list." },
    Kind { title: "Connections to a Newly Registered Domain", category: "informational", summariser: "RareDomainSummary",
        tactics: &["command-and-control"], phase: 4,
        lead: "The device {} resolved and contacted {}, a domain registered in the last few days.",
        detail: &["login-portal-example.net", "files-share-example.org"],
        advice: "New domains are often short-lived phishing or staging infrastructure." },
];

/// Categories from least to most severe; an incident takes its most severe event's.
const SEVERITY: &[&str] = &["informational", "compliance", "suspicious", "critical"];

/// A comment on an incident event.
#[derive(Debug, Clone)]
pub(crate) struct IncidentComment {
    pub(crate) time: i64,
    pub(crate) username: String,
    pub(crate) message: String,
}

/// An incident event.
#[derive(Debug)]
pub(crate) struct IncidentEvent {
    pub(crate) id: String,
    /// Index into [`AiAnalyst::groups`].
    pub(crate) group: usize,
    kind: usize,
    detail: usize,
    pub(crate) aia_score: f64,
    pub(crate) created_at: i64,
    period: (i64, i64),
    /// Index into [`Dataset::devices`].
    pub(crate) device: usize,
    /// Indices into [`Dataset::breaches`].
    breaches: Vec<usize>,
    pub(crate) acknowledged: bool,
    pub(crate) pinned: bool,
    /// Whether the summary is the structured template (else a plain string).
    structured: bool,
    user_triggered: bool,
    activity: String,
    /// Oldest first.
    pub(crate) comments: Vec<IncidentComment>,
}

/// An incident: a group of events.
#[derive(Debug)]
pub(crate) struct IncidentGroup {
    pub(crate) id: String,
    /// Indices into [`AiAnalyst::events`], oldest first.
    pub(crate) events: Vec<usize>,
    pub(crate) score: f64,
    active: bool,
}

/// An investigation asked for through the API.
#[derive(Debug)]
pub(crate) struct Investigation {
    pub(crate) id: String,
    pub(crate) did: u64,
    /// The instant investigated, epoch seconds (as the API speaks).
    investigate_secs: i64,
    /// When it was asked for, epoch seconds.
    time_secs: i64,
    /// GETs answered so far: the status advances one step per GET.
    pub(crate) polls: u32,
    /// The event it produced once finished, an index into [`AiAnalyst::events`].
    result: Option<usize>,
}

/// Everything the simulated AI Analyst knows.
#[derive(Debug, Default)]
pub(crate) struct AiAnalyst {
    /// In creation order.
    pub(crate) events: Vec<IncidentEvent>,
    pub(crate) groups: Vec<IncidentGroup>,
    pub(crate) investigations: Vec<Investigation>,
    /// Seeds ids of events and investigations made after start.
    rng: Option<Rng>,
}

/// Indices of the breaches on `device`, oldest first (never empty for a breach's own device).
fn breaches_of_device(data: &Dataset, device: usize) -> Vec<usize> {
    (0..data.breaches.len()).filter(|&b| data.breaches[b].device == device).collect()
}

/// Seeds incidents on the dataset's breaches. `now` is the simulated clock at start, in ms.
pub(crate) fn generate(rng: &mut Rng, data: &Dataset, now: i64) -> AiAnalyst {
    let mut ai = AiAnalyst { rng: Some(Rng::new(rng.next_u64())), ..AiAnalyst::default() };
    if data.breaches.is_empty() {
        return ai;
    }
    for g in 0..GROUPS {
        let seed = rng.index(data.breaches.len());
        let device = data.breaches[seed].device;
        let nearby = breaches_of_device(data, device);
        let group = ai.groups.len();
        let mut events = Vec::new();
        for _ in 0..rng.range(1, 4) {
            let at = *rng.pick(&nearby);
            let breach = &data.breaches[at];
            let mut related = vec![at];
            if nearby.len() > 1 && rng.chance(0.4) {
                let other = *rng.pick(&nearby);
                if other != at {
                    related.push(other);
                }
            }
            let created_at = (breach.creation_time + rng.range(1, 40) * MINUTE_MS).min(now - 1000);
            let kind = if data.devices[device].is_saas() { 4 } else { rng.index(KINDS.len()) };
            events.push(ai.events.len());
            ai.events.push(IncidentEvent {
                id: rng.uuid(),
                group,
                kind,
                detail: rng.index(KINDS[kind].detail.len()),
                aia_score: rng.range(20, 99) as f64,
                created_at,
                period: (breach.time - rng.range(1, 20) * MINUTE_MS, breach.creation_time.min(created_at)),
                device,
                breaches: related,
                acknowledged: rng.chance(0.2),
                pinned: rng.chance(0.12),
                // Alternating guarantees both summary shapes whatever the seed.
                structured: ai.events.len().is_multiple_of(2),
                user_triggered: false,
                activity: format!("{:08x}", rng.next_u64() >> 32),
                comments: Vec::new(),
            });
        }
        events.sort_by_key(|&e| ai.events[e].created_at);
        let score = (rng.range(1000, 9500) as f64 + rng.unit()).round() / 100.0;
        let id = format!("g{}", ai.events[events[0]].id);
        let newest = events.iter().map(|&e| ai.events[e].created_at).max().unwrap_or(now);
        ai.groups.push(IncidentGroup { id, events, score, active: now - newest < DAY_MS || g == 0 });
    }
    // Clients must meet a pinned incident outside the default window, and acknowledged ones.
    if let Some(oldest) = (0..ai.events.len()).min_by_key(|&e| ai.events[e].created_at)
        && ai.events[oldest].created_at < now - DEFAULT_WINDOW_MS
    {
        ai.events[oldest].pinned = true;
        ai.events[oldest].acknowledged = false;
    }
    if !ai.events.iter().any(|e| e.acknowledged && !e.pinned)
        && let Some(e) = ai.events.iter_mut().rev().find(|e| !e.pinned)
    {
        e.acknowledged = true;
    }
    ai
}

impl AiAnalyst {
    /// The event with id `uuid` (case-insensitive), as an index.
    pub(crate) fn event(&self, uuid: &str) -> Option<usize> {
        self.events.iter().position(|e| e.id.eq_ignore_ascii_case(uuid))
    }

    /// The incident with id `id` (case-insensitive), as an index.
    pub(crate) fn group(&self, id: &str) -> Option<usize> {
        self.groups.iter().position(|g| g.id.eq_ignore_ascii_case(id))
    }

    /// An incident is acknowledged when all its events are.
    pub(crate) fn group_acknowledged(&self, g: usize) -> bool {
        self.groups[g].events.iter().all(|&e| self.events[e].acknowledged)
    }

    /// An incident is pinned when any of its events is.
    pub(crate) fn group_pinned(&self, g: usize) -> bool {
        self.groups[g].events.iter().any(|&e| self.events[e].pinned)
    }

    /// The incident's most severe event category.
    pub(crate) fn group_category(&self, g: usize) -> &'static str {
        self.groups[g]
            .events
            .iter()
            .map(|&e| KINDS[self.events[e].kind].category)
            .max_by_key(|c| SEVERITY.iter().position(|s| s == c))
            .unwrap_or("informational")
    }

    /// First and last activity of an incident (ms).
    pub(crate) fn group_span(&self, g: usize) -> (i64, i64) {
        let events = self.groups[g].events.iter().map(|&e| &self.events[e]);
        let start = events.clone().map(|e| e.period.0).min().unwrap_or(0);
        let end = events.map(|e| e.period.1).max().unwrap_or(0);
        (start, end)
    }

    /// Starts an investigation and returns its id.
    pub(crate) fn start_investigation(&mut self, did: u64, investigate_secs: i64, now_ms: i64) -> String {
        let rng = self.rng.get_or_insert_with(|| Rng::new(0));
        let id = rng.uuid();
        self.investigations.push(Investigation {
            id: id.clone(),
            did,
            investigate_secs,
            time_secs: now_ms / 1000,
            polls: 0,
            result: None,
        });
        id
    }
}

impl Dataset {
    /// Adds an incident event created at `created_at` (ms) with AI Analyst score `score`, in an
    /// incident of its own, on the device of the newest breach, as the AI Analyst writes one up
    /// when it finishes an analysis; returns its id. It is visible to the API at once.
    pub(crate) fn insert_incident_event(&mut self, created_at: i64, score: f64) -> String {
        let breach = self.breaches.len().checked_sub(1);
        let device = breach.map_or(0, |b| self.breaches[b].device);
        let kind = if self.devices.get(device).is_some_and(|d| d.is_saas()) { 4 } else { 0 };
        let ai = &mut self.ai_analyst;
        let rng = ai.rng.get_or_insert_with(|| Rng::new(0));
        let id = rng.uuid();
        let activity = format!("{:08x}", rng.next_u64() >> 32);
        let group = ai.groups.len();
        ai.events.push(IncidentEvent {
            id: id.clone(),
            group,
            kind,
            detail: 0,
            aia_score: score,
            created_at,
            period: (created_at - 10 * MINUTE_MS, created_at),
            device,
            breaches: breach.into_iter().collect(),
            acknowledged: false,
            pinned: false,
            structured: ai.events.len().is_multiple_of(2),
            user_triggered: false,
            activity,
            comments: Vec::new(),
        });
        ai.groups.push(IncidentGroup { id: format!("g{id}"), events: vec![ai.events.len() - 1], score, active: true });
        id
    }

    /// Ids of the devices an incident involves, in order of appearance.
    pub(crate) fn group_dids(&self, g: usize) -> Vec<u64> {
        let mut dids: Vec<u64> = Vec::new();
        for &e in &self.ai_analyst.groups[g].events {
            let did = self.devices[self.ai_analyst.events[e].device].did;
            if !dids.contains(&did) {
                dids.push(did);
            }
        }
        dids
    }

    /// A device as `breachDevices` and summaries show it.
    fn ai_device_json(&self, device: usize) -> Value {
        let d = &self.devices[device];
        let identifier = d.hostname.clone().or_else(|| d.ip.clone()).unwrap_or_else(|| format!("device {}", d.did));
        let subnet = d.ip.as_deref().and_then(|ip| ip.rsplit_once('.')).map(|(net, _)| format!("{net}.0/24"));
        json!({ "identifier": identifier, "hostname": d.hostname, "ip": d.ip, "mac": d.mac, "subnet": subnet,
            "did": d.did, "sid": d.sid })
    }

    /// The event's summary: the structured template or the same text flattened.
    fn summary_json(&self, e: &IncidentEvent) -> Value {
        let kind = &KINDS[e.kind];
        let detail = kind.detail.get(e.detail).copied().unwrap_or_default();
        let device = self.ai_device_json(e.device);
        if e.structured {
            json!({ "valueType": "formatString", "value": format!("{{}}\n\n{}", kind.advice), "replacements": [
                { "valueType": "formatString", "value": kind.lead, "replacements": [
                    { "valueType": "device", "value": device },
                    { "valueType": "string", "value": detail },
                ] },
            ] })
        } else {
            let name = device["identifier"].as_str().unwrap_or_default();
            let lead = kind.lead.replacen("{}", name, 1).replacen("{}", detail, 1);
            json!(format!("{lead}\n\n{}", kind.advice))
        }
    }

    /// An incident event as `/aianalyst/incidentevents` returns it.
    pub(crate) fn incident_json(&self, index: usize) -> Value {
        let e = &self.ai_analyst.events[index];
        let kind = &KINDS[e.kind];
        let group = &self.ai_analyst.groups[e.group];
        let related: Vec<Value> = e
            .breaches
            .iter()
            .map(|&b| {
                let b = &self.breaches[b];
                json!({ "modelName": self.models[b.model].name, "pbid": b.pbid,
                    "threatScore": (b.score * 100.0).round(), "timestamp": b.time })
            })
            .collect();
        let device = self.ai_device_json(e.device);
        let bullets = json!([
            { "detailKey": "Device", "valueType": "device", "detailValues": [device] },
            { "detailKey": "Time", "valueType": "timeRange", "detailValues": [{ "start": e.period.0, "end": e.period.1 }] },
        ]);
        let details = json!([{ "blockType": "single", "blocks": [{ "blockHeader": "Device Details", "bulletBlocks": [bullets] }] }]);
        let mut out = json!({
            "summariser": kind.summariser,
            "acknowledged": e.acknowledged,
            "pinned": e.pinned,
            "createdAt": e.created_at,
            "attackPhases": [kind.phase],
            "mitreTactics": kind.tactics,
            "title": kind.title,
            "id": e.id,
            "children": [e.id],
            "category": kind.category,
            "currentGroup": group.id,
            "groupCategory": self.ai_analyst.group_category(e.group),
            "groupScore": group.score,
            "groupPreviousGroups": [],
            "activityId": e.activity,
            "groupingIds": [e.activity],
            "groupByActivity": false,
            "userTriggered": e.user_triggered,
            "externalTriggered": false,
        });
        let rest = json!({
            "aiaScore": e.aia_score,
            "summary": self.summary_json(e),
            "periods": [{ "start": e.period.0, "end": e.period.1 }],
            "breachDevices": [device.clone()],
            "relatedBreaches": related,
            "details": details,
            "explanations": [],
            "figures": [],
        });
        if let (Some(out), Value::Object(rest)) = (out.as_object_mut(), rest) {
            out.extend(rest);
        }
        if self.realistic {
            // Scores written as strings (issue 12: `"72.9"`); see `Dataset::realistic`.
            for key in ["aiaScore", "groupScore"] {
                if let Some(score) = out[key].as_f64() {
                    out[key] = json!(format!("{score:.1}"));
                }
            }
        }
        out
    }

    /// An incident as `/aianalyst/groups` returns it.
    pub(crate) fn group_json(&self, g: usize) -> Value {
        let group = &self.ai_analyst.groups[g];
        let (start, end) = self.ai_analyst.group_span(g);
        let mut tactics: Vec<&str> = Vec::new();
        for &e in &group.events {
            for t in KINDS[self.ai_analyst.events[e].kind].tactics {
                if !tactics.contains(t) {
                    tactics.push(t);
                }
            }
        }
        let events: Vec<Value> = group
            .events
            .iter()
            .map(|&e| {
                let ev = &self.ai_analyst.events[e];
                json!({ "uuid": ev.id, "start": ev.period.0, "title": KINDS[ev.kind].title,
                    "triggerDid": self.devices[ev.device].did, "visible": true })
            })
            .collect();
        let dids = self.group_dids(g);
        json!({
            "id": group.id, "active": group.active, "acknowledged": self.ai_analyst.group_acknowledged(g),
            "pinned": self.ai_analyst.group_pinned(g),
            "userTriggered": group.events.iter().any(|&e| self.ai_analyst.events[e].user_triggered),
            "externalTriggered": false, "previousIds": [], "incidentEvents": events, "mitreTactics": tactics,
            "devices": dids, "initialDevices": dids.first().map(|d| vec![*d]).unwrap_or_default(),
            "category": self.ai_analyst.group_category(g), "groupScore": group.score, "start": start, "end": end, "edges": [],
        })
    }

    /// A comment as `/aianalyst/incident/comments` lists it.
    pub(crate) fn incident_comment_json(&self, e: usize, c: &IncidentComment) -> Value {
        json!({ "username": c.username, "time": c.time, "incident_id": self.ai_analyst.events[e].id, "message": c.message })
    }

    /// Answers a poll of investigation `i`: advances it one step (pending, processing,
    /// finished) and, on finishing, writes up the device's breaches within an hour either side
    /// as a new incident event.
    pub(crate) fn poll_investigation(&mut self, i: usize, now_ms: i64) -> Value {
        let step = self.ai_analyst.investigations[i].polls;
        self.ai_analyst.investigations[i].polls = step.saturating_add(1);
        let status = match step {
            0 => "pending",
            1 => "processing",
            _ => "finished",
        };
        if status == "finished" && self.ai_analyst.investigations[i].result.is_none() && step == 2 {
            self.finish_investigation(i, now_ms);
        }
        let inv = &self.ai_analyst.investigations[i];
        let incidents: Vec<Value> = inv
            .result
            .filter(|_| status == "finished")
            .map(|e| {
                let ev = &self.ai_analyst.events[e];
                let pbids: Vec<Value> = ev.breaches.iter().map(|&b| json!({ "pbid": self.breaches[b].pbid })).collect();
                json!({ "uuid": ev.id, "title": KINDS[ev.kind].title, "relatedBreaches": pbids })
            })
            .into_iter()
            .collect();
        json!({ "investigationId": inv.id, "did": inv.did, "investigationTime": inv.investigate_secs,
            "time": inv.time_secs, "status": status, "incidents": incidents })
    }

    fn finish_investigation(&mut self, i: usize, now_ms: i64) {
        let inv = &self.ai_analyst.investigations[i];
        let Some(device) = self.devices.iter().position(|d| d.did == inv.did) else { return };
        let at = inv.investigate_secs.saturating_mul(1000);
        let found: Vec<usize> = breaches_of_device(self, device)
            .into_iter()
            .filter(|&b| (self.breaches[b].time - at).abs() <= INVESTIGATION_REACH_MS)
            .collect();
        let Some(&first) = found.first() else { return };
        let rng = self.ai_analyst.rng.get_or_insert_with(|| Rng::new(0));
        let id = rng.uuid();
        let activity = format!("{:08x}", rng.next_u64() >> 32);
        let kind = if self.devices[device].is_saas() { 4 } else { rng.index(KINDS.len()) };
        let detail = rng.index(KINDS[kind].detail.len());
        let group = self.ai_analyst.groups.len();
        let event = self.ai_analyst.events.len();
        let breach = &self.breaches[first];
        self.ai_analyst.events.push(IncidentEvent {
            id: id.clone(),
            group,
            kind,
            detail,
            aia_score: 50.0,
            created_at: now_ms,
            period: (breach.time, breach.creation_time),
            device,
            breaches: found,
            acknowledged: false,
            pinned: false,
            structured: true,
            user_triggered: true,
            activity,
            comments: Vec::new(),
        });
        self.ai_analyst.groups.push(IncidentGroup {
            id: format!("g{id}"),
            events: vec![event],
            score: 50.0,
            active: true,
        });
        self.ai_analyst.investigations[i].result = Some(event);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_767_225_600_000; // 2026-01-01 00:00:00 UTC

    #[test]
    fn incidents_have_the_variety_clients_must_handle() {
        let d = Dataset::generate(42, 300, NOW);
        let ai = &d.ai_analyst;
        assert_eq!(ai.groups.len(), GROUPS);
        assert!((GROUPS..=4 * GROUPS).contains(&ai.events.len()));
        assert!(ai.groups.iter().any(|g| g.events.len() > 1), "an incident with several events");
        assert!(ai.events.iter().any(|e| e.pinned && e.created_at < NOW - DEFAULT_WINDOW_MS), "an old pinned event");
        assert!(ai.events.iter().any(|e| e.acknowledged));
        let shapes: Vec<Value> = (0..ai.events.len()).map(|e| d.incident_json(e)["summary"].clone()).collect();
        assert!(shapes.iter().any(Value::is_string) && shapes.iter().any(Value::is_object));
        for (i, e) in ai.events.iter().enumerate() {
            let v = d.incident_json(i);
            assert_eq!(v["currentGroup"], ai.groups[e.group].id);
            assert!(v["relatedBreaches"].as_array().is_some_and(|r| !r.is_empty()));
            assert!(e.created_at <= NOW);
        }
        assert!(ai.groups.iter().all(|g| g.id.starts_with('g') && g.id.len() == 37));
    }

    #[test]
    fn an_investigation_advances_one_step_per_poll() {
        let mut d = Dataset::generate(42, 300, NOW);
        let breach = d.breaches.last().map(|b| (d.devices[b.device].did, b.time / 1000)).unwrap();
        let id = d.ai_analyst.start_investigation(breach.0, breach.1, NOW);
        let i = d.ai_analyst.investigations.iter().position(|x| x.id == id).unwrap();
        let statuses: Vec<Value> = (0..4).map(|_| d.poll_investigation(i, NOW)["status"].clone()).collect();
        assert_eq!(statuses, [json!("pending"), json!("processing"), json!("finished"), json!("finished")]);
        let done = d.poll_investigation(i, NOW);
        assert_eq!(done["incidents"].as_array().map(Vec::len), Some(1));
        assert_eq!(done["investigationTime"], breach.1);
    }

    #[test]
    fn no_breaches_means_no_incidents() {
        assert!(Dataset::generate(7, 0, NOW).ai_analyst.events.is_empty());
    }
}
