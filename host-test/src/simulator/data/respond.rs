//! RESPOND (Antigena) actions: seeded from recent high-scoring breaches, in every state a
//! playbook meets (pending confirmation, active, expired, cleared, manual), and changed by the
//! API for the simulator's lifetime.

use serde_json::{Value, json};

use super::{API_USER, Breach, DAY_MS, Dataset, HOUR_MS, MINUTE_MS};
use crate::simulator::data::devices::Device;
use crate::simulator::rng::Rng;

/// Where a RESPOND action stands, as a playbook sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RespondState {
    /// Created, awaiting an operator's confirmation.
    Pending,
    /// Activated and not yet expired.
    Active,
    /// Activated and expired.
    Expired,
    /// Cleared by an operator.
    Cleared,
}

/// One entry of an action's history.
#[derive(Debug, Clone)]
pub(crate) struct HistoryEntry {
    pub(crate) time: i64,
    pub(crate) state: &'static str,
    pub(crate) username: Option<String>,
    pub(crate) reason: Option<String>,
}

/// A RESPOND action.
#[derive(Debug, Clone)]
pub(crate) struct RespondAction {
    pub(crate) codeid: u64,
    /// Index into [`Dataset::devices`].
    pub(crate) device: usize,
    /// pbid of the breach behind it; none for manual actions.
    pub(crate) pbid: Option<u64>,
    pub(crate) score: f64,
    pub(crate) model: String,
    pub(crate) model_uuid: String,
    pub(crate) action: &'static str,
    pub(crate) label: &'static str,
    pub(crate) detail: String,
    pub(crate) manual: bool,
    /// (username, reason) of whoever triggered it by hand.
    pub(crate) triggerer: Option<(String, String)>,
    pub(crate) start: i64,
    pub(crate) expires: i64,
    pub(crate) updated: i64,
    pub(crate) active: bool,
    pub(crate) cleared: bool,
    pub(crate) blocked: bool,
    /// `[{src, dst, port?}]` of a manual connection block.
    pub(crate) connections: Vec<Value>,
    /// Oldest first.
    pub(crate) history: Vec<HistoryEntry>,
}

impl RespondAction {
    /// The action's state at `now`.
    pub(crate) fn state(&self, now: i64) -> RespondState {
        match (self.cleared, self.active) {
            (true, _) => RespondState::Cleared,
            (false, true) if self.expires > now => RespondState::Active,
            (false, true) => RespondState::Expired,
            // A pending action nobody confirmed lapses at its expiry; it then reads as expired.
            (false, false) if self.expires > now => RespondState::Pending,
            (false, false) => RespondState::Expired,
        }
    }

    /// Records a change made through the API.
    pub(crate) fn record(&mut self, now: i64, state: &'static str, reason: Option<String>) {
        self.updated = now;
        self.history.push(HistoryEntry { time: now, state, username: Some(API_USER.to_owned()), reason });
    }
}

/// Every RESPOND action, plus the next id a manual action gets.
#[derive(Debug, Default)]
pub(crate) struct Respond {
    /// Ascending by codeid.
    pub(crate) actions: Vec<RespondAction>,
    pub(crate) next_codeid: u64,
    /// Devices monitored by a client sensor (cSensor), which refuse some manual actions.
    pub(crate) client_sensors: std::collections::BTreeSet<u64>,
}

impl Respond {
    /// The action with `codeid`, to change it.
    pub(crate) fn action_mut(&mut self, codeid: u64) -> Option<&mut RespondAction> {
        self.actions.iter_mut().find(|a| a.codeid == codeid)
    }

    /// The action with `codeid`.
    pub(crate) fn action(&self, codeid: u64) -> Option<&RespondAction> {
        self.actions.iter().find(|a| a.codeid == codeid)
    }
}

/// The automatic action kinds, with their readable labels.
const AUTOMATIC: &[(&str, &str)] = &[
    ("connection", "Block matching connections"),
    ("pol", "Enforce pattern of life"),
    ("gpol", "Enforce group pattern of life"),
    ("quarantine", "Quarantine device"),
    ("quarantineOutgoing", "Block all outgoing traffic"),
];

/// The label of an action kind.
pub(crate) fn label(action: &str) -> &'static str {
    match action {
        "connection" => "Block matching connections",
        "pol" => "Enforce pattern of life",
        "gpol" => "Enforce group pattern of life",
        "quarantine" => "Quarantine device",
        "quarantineOutgoing" => "Block all outgoing traffic",
        "quarantineIncoming" => "Block all incoming traffic",
        _ => "RESPOND action",
    }
}

const CLEAR_REASONS: &[&str] =
    &["Business-critical server, handled by the network team.", "Confirmed benign with the user."];

/// Seeds actions from the latest breaches scoring 0.5 or more, spread over the states.
pub(crate) fn generate(rng: &mut Rng, dataset: &Dataset, now: i64) -> Respond {
    let mut codeid = 3_000 + rng.range(0, 200) as u64;
    let candidates: Vec<&Breach> = dataset
        .breaches
        .iter()
        .rev()
        .filter(|b| b.score >= 0.5 && !dataset.devices[b.device].is_saas() && b.creation_time > now - 12 * DAY_MS)
        .take(24)
        .collect();
    let mut actions = Vec::with_capacity(candidates.len() + 2);
    for (i, breach) in candidates.into_iter().rev().enumerate() {
        codeid += rng.range(1, 4) as u64;
        let model = &dataset.models[breach.model];
        let &(action, label) = rng.pick(AUTOMATIC);
        let start = breach.creation_time + rng.range(5, 90) * 1000;
        let duration = rng.range(1, 24) * HOUR_MS;
        let device = &dataset.devices[breach.device];
        // States cycle so each appears several times whatever the seed.
        let (active, cleared) = match i % 4 {
            0 => (false, false),
            1 | 2 => (true, false),
            _ => (false, true),
        };
        // Recent actions still run, so pending and active ones exist whatever the seed.
        let expires = if !cleared && start > now - 2 * DAY_MS {
            (start + duration).max(now + rng.range(1, 6) * HOUR_MS)
        } else {
            start + duration
        };
        let mut a = RespondAction {
            codeid,
            device: breach.device,
            pbid: Some(breach.pbid),
            score: breach.score,
            model: model.name.to_owned(),
            model_uuid: model.uuid.clone(),
            action,
            label,
            detail: detail(action, device, rng),
            manual: false,
            triggerer: None,
            start,
            expires,
            updated: start,
            active,
            cleared,
            blocked: active && rng.chance(0.5),
            connections: Vec::new(),
            history: Vec::new(),
        };
        let first = if active || cleared { "created" } else { "created (requires confirmation)" };
        a.history.push(HistoryEntry { time: start, state: first, username: None, reason: None });
        if cleared {
            let at = (start + rng.range(1, 30) * MINUTE_MS).min(now - 1000);
            a.updated = at;
            a.history.push(HistoryEntry {
                time: at,
                state: "cleared",
                username: Some("soc.lead".into()),
                reason: Some(rng.pick(CLEAR_REASONS).to_string()),
            });
        }
        actions.push(a);
    }
    // Two manual actions: one running, one long expired (older than the 14-day listing window).
    let manual_devices: Vec<usize> = (0..dataset.devices.len()).filter(|&i| !dataset.devices[i].is_saas()).collect();
    if !manual_devices.is_empty() {
        for (age, duration) in [(2 * HOUR_MS, 6 * HOUR_MS), (20 * DAY_MS, DAY_MS)] {
            codeid += rng.range(1, 4) as u64;
            let device = *rng.pick(&manual_devices);
            let start = now - age;
            actions.push(RespondAction {
                codeid,
                device,
                pbid: None,
                score: 0.0,
                model: String::new(),
                model_uuid: String::new(),
                action: "quarantine",
                label: label("quarantine"),
                detail: String::new(),
                manual: true,
                triggerer: Some(("n.patel".into(), "Suspected ransomware staging; isolating pending IR.".into())),
                start,
                expires: start + duration,
                updated: start,
                active: true,
                cleared: false,
                blocked: true,
                connections: Vec::new(),
                history: vec![HistoryEntry {
                    time: start,
                    state: "created",
                    username: Some("n.patel".into()),
                    reason: Some("Suspected ransomware staging; isolating pending IR.".into()),
                }],
            });
        }
    }
    actions.sort_by_key(|a| a.codeid);
    Respond { actions, next_codeid: codeid + 1, client_sensors: Default::default() }
}

fn detail(action: &str, device: &Device, rng: &mut Rng) -> String {
    let ip = device.ip.as_deref().unwrap_or("the device");
    match action {
        "connection" => format!("{ip} → 198.51.100.{} port 443", rng.range(2, 250)),
        "quarantine" | "quarantineOutgoing" => String::new(),
        _ => format!("Restrict {ip} to its normal activity"),
    }
}

impl Dataset {
    /// An action as `/antigena` lists it.
    pub(crate) fn respond_json(&self, a: &RespondAction, history: bool, connections: bool) -> Value {
        let device = &self.devices[a.device];
        let mut v = json!({
            "codeid": a.codeid, "did": device.did, "ip": device.ip, "action": a.action, "label": a.label,
            "detail": a.detail, "manual": a.manual,
            "triggerer": a.triggerer.as_ref().map(|(u, r)| json!({ "username": u, "reason": r })),
            "score": a.score, "pbid": a.pbid.unwrap_or(0), "model": a.model, "modeluuid": a.model_uuid,
            "start": a.start, "expires": a.expires, "updated": a.updated.to_string(), "blocked": a.blocked,
            "agemail": false, "aghost": false, "active": a.active, "cleared": a.cleared,
        });
        if history {
            v["history"] = Value::Array(
                a.history
                    .iter()
                    .map(|h| json!({ "time": h.time, "state": h.state, "username": h.username, "reason": h.reason }))
                    .collect(),
            );
        }
        if connections {
            v["connections"] = Value::Array(a.connections.clone());
        }
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_767_225_600_000;

    #[test]
    fn seeded_actions_cover_every_state_and_link_to_breaches() {
        let d = Dataset::generate(42, 300, NOW);
        let states: Vec<RespondState> = d.respond.actions.iter().map(|a| a.state(NOW)).collect();
        for s in [RespondState::Pending, RespondState::Active, RespondState::Expired, RespondState::Cleared] {
            assert!(states.contains(&s), "no {s:?} action");
        }
        assert!(d.respond.actions.iter().filter_map(|a| a.pbid).all(|p| d.breach(p).is_some()));
        assert!(d.respond.actions.iter().any(|a| a.manual && a.triggerer.is_some()));
        assert!(d.respond.actions.windows(2).all(|w| w[0].codeid < w[1].codeid));
        assert!(d.respond.next_codeid > d.respond.actions.last().map_or(0, |a| a.codeid));
    }
}
