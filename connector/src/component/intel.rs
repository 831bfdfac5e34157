//! WIT boundary for intel feed (Watched Domains) actions.

use super::bindings::exports::darktrace::connector::{intel_feed as wi, types as wt};
use super::breaches::warnings;
use super::{Component, instant, run};
use crate::actions::intel;

fn change(c: intel::WatchedDomainsChange) -> wi::WatchedDomainsChange {
    wi::WatchedDomainsChange {
        added: c.added,
        updated: c.updated,
        removed: c.removed,
        entries: c.entries,
        raw: c.raw.to_string(),
        verified: c.verified,
    }
}

impl wi::Guest for Component {
    fn list_watched_domains(c: wt::Connection, source: Option<String>) -> Result<Vec<wi::WatchedEntry>, wt::Error> {
        run(c, intel::ListInput { source }, intel::list_watched_domains, |list| {
            list.into_iter()
                .map(|e| wi::WatchedEntry {
                    name: e.name,
                    description: e.description,
                    expiry: e.expiry,
                    expiry_iso: e.expiry_iso,
                    source: e.source,
                    hostname: e.hostname,
                    iagn: e.iagn,
                    raw: e.raw.to_string(),
                    warnings: warnings(e.warnings),
                })
                .collect()
        })
    }

    fn add_watched_domains(
        c: wt::Connection,
        a: wi::WatchedDomainsAddition,
    ) -> Result<wi::WatchedDomainsChange, wt::Error> {
        let input = intel::AddInput {
            entries: a.entries,
            description: a.description,
            expiry: a.expiry.map(instant),
            source: a.source,
            hostname: a.hostname,
            iagn: a.iagn,
        };
        run(c, input, intel::add_watched_domains, change)
    }

    fn remove_watched_domains(c: wt::Connection, entries: Vec<String>) -> Result<wi::WatchedDomainsChange, wt::Error> {
        run(c, intel::RemoveInput { entries }, intel::remove_watched_domains, change)
    }
}
