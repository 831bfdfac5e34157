//! The simulated appliance's data: devices, models, breaches and comments, generated from a
//! seed, plus the state changes (acknowledgements, comments) made through the API.
//!
//! Times are relative to the simulated clock at start, so "the last 24 hours" always has
//! breaches; everything else is fixed by the seed.

pub(crate) mod activity;
pub(crate) mod ai_analyst;
pub(crate) mod breach_details;
pub(crate) mod components;
pub(crate) mod devices;
pub(crate) mod intel;
pub(crate) mod metadata;
pub(crate) mod models;
pub(crate) mod respond;
pub(crate) mod tags;

use serde_json::{Value, json};
use time::OffsetDateTime;
use time::macros::format_description;

use crate::simulator::rng::Rng;
use devices::Device;
use models::{Model, Target};

/// One minute in milliseconds.
pub(crate) const MINUTE_MS: i64 = 60_000;
/// One hour in milliseconds.
pub(crate) const HOUR_MS: i64 = 60 * MINUTE_MS;
/// One day in milliseconds.
pub(crate) const DAY_MS: i64 = 24 * HOUR_MS;

/// How far back the breach history reaches.
const HISTORY_MS: i64 = 14 * DAY_MS;

/// The user the API token belongs to: the author of comments posted through the API.
pub(crate) const API_USER: &str = "api-user";

/// `YYYY-MM-DD HH:MM:SS` (UTC) for epoch milliseconds, as the appliance writes readable times.
pub(crate) fn readable_time(ms: i64) -> String {
    let format = format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| t.format(format).ok())
        .unwrap_or_default()
}

/// A comment on a breach.
#[derive(Debug, Clone)]
pub(crate) struct Comment {
    pub(crate) time: i64,
    pub(crate) username: String,
    pub(crate) message: String,
}

/// A model breach (model alert).
#[derive(Debug)]
pub(crate) struct Breach {
    pub(crate) pbid: u64,
    /// First relevant activity (ms).
    pub(crate) time: i64,
    /// When the alert was created (ms); never before `time`.
    pub(crate) creation_time: i64,
    pub(crate) score: f64,
    /// Index into [`Dataset::models`].
    pub(crate) model: usize,
    /// Index into [`Dataset::devices`].
    pub(crate) device: usize,
    pub(crate) acknowledged: bool,
    /// Oldest first.
    pub(crate) comments: Vec<Comment>,
    /// `triggeredComponents`, without devices.
    components: Vec<Value>,
}

/// How a breach object is shaped, from the `/modelbreaches` flags of the same names.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Shape {
    pub(crate) minimal: bool,
    pub(crate) device_at_top: bool,
    pub(crate) historic_model_only: bool,
}

/// Everything the simulated appliance knows.
#[derive(Debug)]
pub(crate) struct Dataset {
    pub(crate) devices: Vec<Device>,
    pub(crate) models: Vec<Model>,
    /// In creation order, so ascending by `pbid`.
    pub(crate) breaches: Vec<Breach>,
    /// Endpoints, subnets and the Advanced Search log (see [`metadata`]).
    pub(crate) metadata: metadata::Metadata,
    /// AI Analyst incidents, comments and investigations.
    pub(crate) ai_analyst: ai_analyst::AiAnalyst,
    /// Tag definitions and the tags on devices.
    pub(crate) tags: tags::TagStore,
    /// Connections, notices and history of devices.
    pub(crate) activity: activity::Activity,
    /// RESPOND actions, changed by activations, clears, extensions and manual actions.
    pub(crate) respond: respond::Respond,
    /// The intel feed (Watched Domains).
    pub(crate) intel: Vec<intel::WatchedEntry>,
    /// Realistic mode: answers carry the shapes real appliances write beyond the reference's
    /// plainest ones, each from a cited source:
    /// - every seventh breach is a system breach, `"device": {"did": -1}` (issue 12, from real
    ///   appliances; reference section 3.1: "System alerts may have no meaningful device");
    /// - an acknowledged breach says `"acknowledged": {"time": ms, "username": ...}` (issue 12:
    ///   recent versions);
    /// - numbers written as strings: a breach's device `did` (fixture
    ///   `Darktrace/breach_details.json`, `"did": "1272"`), AI Analyst scores such as
    ///   `"aiaScore": "72.9"` (issue 12) and a subnet's `lastSeen` as fractional milliseconds
    ///   `"1674507235803.297"` (fixture `DarktraceAdmin/tagged_devices.json`, "Last Updated");
    /// - SaaS accounts as devices of sid -9 in AI Analyst events (fixture
    ///   `DarktraceAIA/ai_analyst_incident.json`; the default dataset has them too);
    /// - `POST /antigena/manual` answers `{"code": n}` (issue 12: some versions) instead of the
    ///   reference's `{"codeid": n}` (section 2.3).
    pub(crate) realistic: bool,
}

impl Dataset {
    /// Generates the data for `seed`, with `breach_count` breaches up to `now` (ms).
    pub(crate) fn generate(seed: u64, breach_count: usize, now: i64) -> Dataset {
        let mut rng = Rng::new(seed);
        let devices = devices::generate(&mut rng, now);
        let models = models::generate(&mut rng, now);
        let breaches = generate_breaches(&mut rng, &models, &devices, breach_count, now);
        let mut dataset = Dataset {
            devices,
            models,
            breaches,
            ai_analyst: ai_analyst::AiAnalyst::default(),
            metadata: metadata::Metadata::default(),
            tags: tags::TagStore::default(),
            activity: activity::Activity::default(),
            respond: respond::Respond::default(),
            intel: Vec::new(),
            realistic: false,
        };
        dataset.ai_analyst = ai_analyst::generate(&mut rng, &dataset, now);
        dataset.metadata = metadata::generate(&mut rng, &dataset.devices, now);
        dataset.tags = tags::TagStore::generate(&mut rng, &dataset.devices, now);
        dataset.activity = activity::generate(&mut rng, &dataset.devices, now);
        dataset.respond = respond::generate(&mut rng, &dataset, now);
        dataset.intel = intel::generate(&mut rng, now);
        dataset.seed_history();
        dataset.sync_tags(now);
        dataset
    }

    /// Adds a breach as the appliance would when a model fires: the next pbid, on the first
    /// model and device, with the given first-activity and creation times (ms). Tests use it to
    /// stage timelines (late creation, bursts sharing a millisecond).
    pub(crate) fn insert_breach(&mut self, time: i64, creation_time: i64, score: f64) -> u64 {
        let pbid = self.breaches.last().map_or(10_000, |b| b.pbid + 1);
        let components = self.breaches.first().map(|b| b.components.clone()).unwrap_or_default();
        self.breaches.push(Breach {
            pbid,
            time,
            creation_time: creation_time.max(time),
            score,
            model: 0,
            device: 0,
            acknowledged: false,
            comments: Vec::new(),
            components,
        });
        pbid
    }

    /// The breach with id `pbid`.
    pub(crate) fn breach(&self, pbid: u64) -> Option<&Breach> {
        self.breaches.binary_search_by_key(&pbid, |b| b.pbid).ok().map(|i| &self.breaches[i])
    }

    /// The breach with id `pbid`, to change it.
    pub(crate) fn breach_mut(&mut self, pbid: u64) -> Option<&mut Breach> {
        self.breaches.binary_search_by_key(&pbid, |b| b.pbid).ok().map(|i| &mut self.breaches[i])
    }

    /// The device with id `did`.
    pub(crate) fn device(&self, did: u64) -> Option<&Device> {
        self.devices.iter().find(|d| d.did == did)
    }

    /// The breach object as `/modelbreaches` returns it.
    pub(crate) fn render(&self, breach: &Breach, shape: Shape) -> Value {
        let model = &self.models[breach.model];
        let trim = |m: &Value| {
            if shape.minimal { models::minimal(m) } else { m.clone() }
        };
        let then = trim(model.then(breach.creation_time));
        let model_json =
            if shape.historic_model_only { then } else { json!({ "then": then, "now": trim(model.now()) }) };
        let device = self.devices[breach.device].to_json(false);
        let components: Vec<Value> = if shape.minimal {
            Vec::new()
        } else {
            breach
                .components
                .iter()
                .map(|c| {
                    let mut c = c.clone();
                    if !shape.device_at_top {
                        c["device"] = device.clone();
                    }
                    c
                })
                .collect()
        };
        let mut out = json!({
            "pbid": breach.pbid, "time": breach.time, "creationTime": breach.creation_time,
            "commentCount": breach.comments.len(), "score": breach.score, "acknowledged": breach.acknowledged,
            "model": model_json, "triggeredComponents": components,
        });
        if shape.device_at_top {
            out["device"] = device;
        }
        if self.realistic {
            self.realistic_breach(breach, &mut out);
        }
        out
    }

    /// Whether `breach` is a system breach in realistic mode.
    pub(crate) fn is_system_breach(&self, breach: &Breach) -> bool {
        self.realistic && breach.pbid.is_multiple_of(7)
    }

    /// The realistic variants of a breach object (see [`Dataset::realistic`] for the sources).
    fn realistic_breach(&self, breach: &Breach, out: &mut Value) {
        if self.is_system_breach(breach) {
            let system = json!({ "did": -1 });
            if out.get("device").is_some() {
                out["device"] = system.clone();
            }
            if let Some(components) = out["triggeredComponents"].as_array_mut() {
                for c in components.iter_mut().filter(|c| c.get("device").is_some()) {
                    c["device"] = system.clone();
                }
            }
        } else if let Some(did) = out["device"].get("did").and_then(Value::as_u64) {
            out["device"]["did"] = json!(did.to_string());
        }
        if breach.acknowledged {
            let at = breach.comments.last().map_or(breach.creation_time, |c| c.time);
            out["acknowledged"] = json!({ "time": at, "username": ANALYSTS[breach.pbid as usize % ANALYSTS.len()] });
        }
    }

    /// A comment as `/modelbreaches/{pbid}/comments` lists it.
    pub(crate) fn comment_json(&self, breach: &Breach, comment: &Comment) -> Value {
        json!({ "message": comment.message, "username": comment.username, "time": comment.time,
            "pid": self.models[breach.model].pid })
    }

    /// A comment as `/mbcomments` lists it: with the breach id and the model name.
    pub(crate) fn mbcomment_json(&self, breach: &Breach, comment: &Comment) -> Value {
        let model = &self.models[breach.model];
        json!({ "time": comment.time, "pbid": breach.pbid, "username": comment.username,
            "message": comment.message, "pid": model.pid, "name": model.name })
    }
}

const ANALYSTS: &[&str] = &["m.dubois", "n.patel", "soc.tier1", "soc.lead"];
const REMARKS: &[&str] = &[
    "Checked with the device owner: expected activity.",
    "Escalated to incident response.",
    "Destination belongs to a software vendor we use.",
    "Device isolated while we investigate.",
    "False positive: nightly backup job.",
    "Asked the user to confirm the login location.",
    "Watching for a repeat over the next day.",
    "Ticket raised with the network team.",
];

fn generate_breaches(rng: &mut Rng, models: &[Model], devices: &[Device], n: usize, now: i64) -> Vec<Breach> {
    // Alerts cluster towards the present (density grows as the exponent rises), so the most
    // recent day is well populated even with few breaches.
    let mut creations: Vec<i64> =
        (0..n).map(|_| now - MINUTE_MS - (HISTORY_MS as f64 * rng.unit().powf(1.5)) as i64).collect();
    creations.sort_unstable();
    // Several alerts from one event can share a creation millisecond; a poller whose cursor is
    // "the last creationTime seen" must not skip the second one. One such group is recent.
    if n >= 20 {
        let last = n as i64 - 3;
        let recent = rng.range(((n - n / 8) as i64).min(last), last) as usize;
        for start in [recent, rng.range(1, last) as usize, rng.range(1, last) as usize] {
            creations[start + 1] = creations[start];
            if rng.chance(0.5) {
                creations[start + 2] = creations[start];
            }
        }
    }
    let pool = |target: Target| -> Vec<usize> {
        (0..devices.len())
            .filter(|&i| {
                let d = &devices[i];
                match target {
                    Target::Saas => d.is_saas(),
                    Target::Network => !d.is_saas(),
                    Target::Infrastructure => {
                        matches!(d.typename, "server" | "dnsserver" | "firewall")
                    }
                }
            })
            .collect()
    };
    let pools = [pool(Target::Network), pool(Target::Saas), pool(Target::Infrastructure)];
    let unnamed: Vec<usize> = (0..devices.len()).filter(|&i| devices[i].hostname.is_none()).collect();
    let network_models: Vec<usize> = (0..models.len()).filter(|&m| models[m].target() == Target::Network).collect();
    // Rarer the more severe, as on a real network.
    let weights: Vec<u64> = models.iter().map(|m| 6 - u64::from(m.priority.min(5))).collect();
    let forced_unnamed = n / 2;

    let mut pbid = 10_000 + rng.range(0, 40) as u64;
    let mut cbid = 70_000 + rng.range(0, 500) as u64;
    let mut breaches = Vec::with_capacity(n);
    for (i, creation) in creations.into_iter().enumerate() {
        pbid += rng.range(1, 3) as u64;
        let late = rng.chance(0.1);
        let delay = if late { rng.range(60, 20 * 60) * MINUTE_MS } else { rng.range(2, 600) * 1000 };
        let time = creation - delay;
        let (model, device) = if i == forced_unnamed && !unnamed.is_empty() {
            // At least one alert on a device known only by its address, so consumers meet a
            // breach without a hostname.
            (*rng.pick(&network_models), *rng.pick(&unnamed))
        } else {
            let model = weighted(rng, &weights);
            let candidates = match models[model].target() {
                Target::Network => &pools[0],
                Target::Saas => &pools[1],
                Target::Infrastructure => &pools[2],
            };
            let active: Vec<usize> = candidates.iter().copied().filter(|&d| devices[d].last_seen >= time).collect();
            let from = if active.is_empty() { candidates } else { &active };
            (model, *rng.pick(from))
        };
        let components = models[model]
            .components
            .iter()
            .enumerate()
            .map(|(k, c)| {
                cbid += rng.range(1, 3) as u64;
                let at = if k == 0 { time } else { rng.range(time, creation) };
                c.triggered(rng, cbid, at)
            })
            .collect();
        let comments = if rng.chance(0.3) {
            let mut comments: Vec<Comment> = (0..rng.range(1, 3))
                .map(|_| Comment {
                    time: rng.range(creation + 1000, now),
                    username: rng.pick(ANALYSTS).to_string(),
                    message: rng.pick(REMARKS).to_string(),
                })
                .collect();
            comments.sort_by_key(|c| c.time);
            comments
        } else {
            Vec::new()
        };
        breaches.push(Breach {
            pbid,
            time,
            creation_time: creation,
            score: score(rng, models[model].priority),
            model,
            device,
            acknowledged: rng.chance(0.2),
            comments,
            components,
        });
    }
    breaches
}

/// An index drawn with the given weights (which must not all be zero).
fn weighted(rng: &mut Rng, weights: &[u64]) -> usize {
    let total: u64 = weights.iter().sum();
    let mut roll = rng.range(0, total as i64 - 1) as u64;
    for (i, &w) in weights.iter().enumerate() {
        if roll < w {
            return i;
        }
        roll -= w;
    }
    weights.len() - 1
}

/// A breach score between 0 and 1, higher for more severe models, with 3 or 4 decimals.
fn score(rng: &mut Rng, priority: u8) -> f64 {
    let (lo, hi) = match priority {
        5 => (0.55, 1.0),
        4 => (0.4, 0.95),
        3 => (0.3, 0.85),
        _ => (0.15, 0.7),
    };
    let raw = lo + (hi - lo) * rng.unit();
    let scale = if rng.chance(0.5) { 1000.0 } else { 10_000.0 };
    ((raw * scale).round() / scale).min(1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_767_225_600_000; // 2026-01-01 00:00:00 UTC

    #[test]
    fn same_seed_gives_the_same_dataset() {
        let a = Dataset::generate(42, 300, NOW);
        let b = Dataset::generate(42, 300, NOW);
        let render = |d: &Dataset| -> Vec<Value> {
            let shape = Shape { minimal: false, device_at_top: true, historic_model_only: false };
            d.breaches.iter().map(|b| d.render(b, shape)).collect()
        };
        assert_eq!(render(&a), render(&b));
        assert_ne!(render(&a), render(&Dataset::generate(43, 300, NOW)));
    }

    #[test]
    fn dataset_has_the_variety_consumers_must_handle() {
        let d = Dataset::generate(42, 300, NOW);
        assert!((55..=65).contains(&d.devices.len()));
        assert!(d.models.len() >= 30);
        assert_eq!(d.breaches.len(), 300);
        assert!(
            d.devices.iter().any(|x| { x.is_saas() && x.hostname.as_deref().is_some_and(|h| h.starts_with("SaaS::")) })
        );
        assert!(d.breaches.iter().any(|b| d.devices[b.device].hostname.is_none()), "a breach without hostname");
        let same_creation = d.breaches.windows(2).filter(|w| w[0].creation_time == w[1].creation_time).count();
        assert!(same_creation >= 3, "breaches sharing a creationTime: {same_creation}");
        assert!(d.breaches.iter().any(|b| b.creation_time - b.time > HOUR_MS), "late-created breaches");
        assert!(d.breaches.iter().all(|b| b.creation_time >= b.time && b.creation_time <= NOW));
        assert!(d.breaches.iter().all(|b| (0.0..=1.0).contains(&b.score)));
        assert!(d.breaches.iter().filter(|b| b.creation_time > NOW - DAY_MS).count() >= 20);
        assert!(d.breaches.windows(2).all(|w| w[0].pbid < w[1].pbid));
        let acknowledged = d.breaches.iter().filter(|b| b.acknowledged).count();
        assert!((30..=90).contains(&acknowledged), "acknowledged: {acknowledged}");
        let commented = d.breaches.iter().filter(|b| !b.comments.is_empty()).count();
        assert!((60..=120).contains(&commented), "commented: {commented}");
    }

    #[test]
    fn tiny_datasets_are_generated_without_panicking() {
        for n in [0, 1, 2, 5, 19, 20] {
            assert_eq!(Dataset::generate(7, n, NOW).breaches.len(), n);
        }
    }

    #[test]
    fn minimal_shape_trims_model_logic_and_components() {
        let d = Dataset::generate(42, 50, NOW);
        let b = &d.breaches[0];
        let shape = Shape { minimal: true, device_at_top: true, historic_model_only: true };
        let v = d.render(b, shape);
        assert!(v["model"].get("logic").is_none() && v["model"].get("description").is_none());
        assert!(v["model"]["name"].is_string());
        assert_eq!(v["triggeredComponents"], json!([]));
        let full = d.render(b, Shape { minimal: false, device_at_top: false, historic_model_only: false });
        assert!(full["model"]["then"]["logic"].is_object());
        assert!(full.get("device").is_none());
        assert!(full["triggeredComponents"][0]["device"]["did"].is_u64());
    }

    #[test]
    fn readable_time_is_utc_seconds() {
        assert_eq!(readable_time(NOW + 1500), "2026-01-01 00:00:01");
    }
}
