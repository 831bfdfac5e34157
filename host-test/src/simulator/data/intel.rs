//! The intel feed (Watched Domains): entries from a few sources, some expiring, changed by the
//! API for the simulator's lifetime. Names use documentation-reserved domains and addresses.

use serde_json::{Value, json};

use super::{DAY_MS, readable_time};
use crate::simulator::rng::Rng;

/// The source an entry gets when the caller names none.
pub(crate) const DEFAULT_SOURCE: &str = "default";

/// One watched entry.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct WatchedEntry {
    pub(crate) name: String,
    pub(crate) description: String,
    pub(crate) source: String,
    /// Epoch ms; none for entries that never expire.
    pub(crate) expiry: Option<i64>,
    pub(crate) hostname: bool,
    pub(crate) iagn: bool,
}

impl WatchedEntry {
    /// Whether the entry is still watched at `now`.
    pub(crate) fn live(&self, now: i64) -> bool {
        self.expiry.is_none_or(|e| e > now)
    }

    /// The entry as `/intelfeed?fulldetails=true` lists it: `expiry` as `YYYY-MM-DDTHH:MM:SS`
    /// with no offset, meaning UTC, as the guide's example writes it (reference section 2.5).
    pub(crate) fn to_json(&self) -> Value {
        let expiry = self.expiry.map(|ms| readable_time(ms).replacen(' ', "T", 1));
        json!({ "name": self.name, "description": self.description, "source": self.source,
            "expiry": expiry, "hostname": self.hostname, "iagn": self.iagn })
    }
}

#[rustfmt::skip]
const SEEDS: &[(&str, &str, &str, bool)] = &[
    ("c2-relay.example", "Command and control relay seen in phishing campaign", "Threat Intel Platform", false),
    ("update-check.invalid", "Fake updater domain", "Threat Intel Platform", false),
    ("cdn-assets.example.net", "Malvertising redirector", "Threat Intel Platform", true),
    ("198.51.100.23", "Scanner hitting the VPN gateway", "SOAR", false),
    ("203.0.113.0/24", "Bulletproof hosting range", "SOAR", false),
    ("login-portal.example.org", "Credential harvesting page", "SOAR", true),
    ("pastebin-mirror.test", "Exfiltration drop", DEFAULT_SOURCE, false),
    ("192.0.2.77", "Known miner pool", DEFAULT_SOURCE, false),
];

/// The seeded feed: every seed entry, about half with an expiry, one of them already lapsed.
pub(crate) fn generate(rng: &mut Rng, now: i64) -> Vec<WatchedEntry> {
    SEEDS
        .iter()
        .enumerate()
        .map(|(i, &(name, description, source, hostname))| WatchedEntry {
            name: name.to_owned(),
            description: description.to_owned(),
            source: source.to_owned(),
            expiry: match i {
                1 => Some(now - rng.range(1, 5) * DAY_MS),
                _ if rng.chance(0.5) => Some(now + rng.range(3, 90) * DAY_MS),
                _ => None,
            },
            hostname,
            iagn: i == 0,
        })
        .collect()
}
