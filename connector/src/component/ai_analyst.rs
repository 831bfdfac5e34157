//! WIT boundary for AI Analyst actions.

use super::bindings::exports::darktrace::connector::{ai_analyst as wa, types as wt};
use super::breaches::change;
use super::by_name::{each, opt, text};
use super::{Component, instant, run};
use crate::actions::ai_analyst as a;

pub(crate) fn incident(e: a::IncidentEvent) -> wa::IncidentEvent {
    by_name!(e, a::IncidentEvent => wa::IncidentEvent {
        id, group_id, title, category, group_category, aia_score, group_score, acknowledged, pinned, created_at,
        created_at_iso, summary, mitre_tactics, breach_devices => each(breach_device), related_pbids, link, raw => text, warnings => super::breaches::warnings,
    })
}

fn breach_device(d: a::BreachDevice) -> wa::BreachDevice {
    by_name!(d, a::BreachDevice => wa::BreachDevice { did, ip, hostname, mac })
}

fn group(g: a::IncidentGroup) -> wa::IncidentGroup {
    by_name!(g, a::IncidentGroup => wa::IncidentGroup {
        id, category, group_score, acknowledged, pinned, active, start, start_iso, end, end_iso, incident_event_ids,
        device_ids, mitre_tactics, link, raw => text, warnings => super::breaches::warnings,
    })
}

fn comment(c: a::IncidentComment) -> wa::IncidentComment {
    by_name!(c, a::IncidentComment => wa::IncidentComment { incident_id, message, username, time, time_iso, raw => text, warnings => super::breaches::warnings })
}

fn investigation(i: a::Investigation) -> wa::Investigation {
    by_name!(i, a::Investigation => wa::Investigation {
        id, status, did, investigate_time, investigate_time_iso, time, time_iso, incident_ids, related_pbids,
        raw => text, warnings => super::breaches::warnings,
    })
}

fn changes(list: Vec<crate::actions::breaches::ChangeResult>) -> Vec<wt::ChangeResult> {
    list.into_iter().map(change).collect()
}

impl wa::Guest for Component {
    fn list_ai_analyst_incidents(
        c: wt::Connection,
        f: wa::IncidentFilter,
    ) -> Result<Vec<wa::IncidentEvent>, wt::Error> {
        let filter = by_name!(f, wa::IncidentFilter => a::IncidentFilter {
            start => opt(instant), end => opt(instant), include_acknowledged, include_pinned, min_score, max_score,
            min_group_score, did, group_id, compliance, suspicious, critical, locale,
        });
        run(c, filter, a::list_ai_analyst_incidents, |list| list.into_iter().map(incident).collect())
    }

    fn get_ai_analyst_incident(c: wt::Connection, uuid: String) -> Result<wa::IncidentEvent, wt::Error> {
        run(c, a::UuidInput { uuid }, a::get_ai_analyst_incident, incident)
    }

    fn list_ai_analyst_groups(c: wt::Connection, f: wa::GroupFilter) -> Result<Vec<wa::IncidentGroup>, wt::Error> {
        let filter = by_name!(f, wa::GroupFilter => a::GroupFilter {
            start => opt(instant), end => opt(instant), include_acknowledged, include_pinned, min_score, max_score,
            did, compliance, suspicious, critical,
        });
        run(c, filter, a::list_ai_analyst_groups, |list| list.into_iter().map(group).collect())
    }

    fn get_ai_analyst_group(c: wt::Connection, group_id: String) -> Result<wa::IncidentGroup, wt::Error> {
        run(c, a::GroupIdInput { group_id }, a::get_ai_analyst_group, group)
    }

    fn acknowledge_ai_analyst_incident(
        c: wt::Connection,
        uuids: Vec<String>,
    ) -> Result<Vec<wt::ChangeResult>, wt::Error> {
        run(c, a::UuidsInput { uuids }, a::acknowledge_ai_analyst_incident, changes)
    }

    fn unacknowledge_ai_analyst_incident(
        c: wt::Connection,
        uuids: Vec<String>,
    ) -> Result<Vec<wt::ChangeResult>, wt::Error> {
        run(c, a::UuidsInput { uuids }, a::unacknowledge_ai_analyst_incident, changes)
    }

    fn pin_ai_analyst_incident(c: wt::Connection, uuids: Vec<String>) -> Result<Vec<wt::ChangeResult>, wt::Error> {
        run(c, a::UuidsInput { uuids }, a::pin_ai_analyst_incident, changes)
    }

    fn unpin_ai_analyst_incident(c: wt::Connection, uuids: Vec<String>) -> Result<Vec<wt::ChangeResult>, wt::Error> {
        run(c, a::UuidsInput { uuids }, a::unpin_ai_analyst_incident, changes)
    }

    fn add_ai_analyst_comment(
        c: wt::Connection,
        incident_id: String,
        message: String,
    ) -> Result<wa::IncidentComment, wt::Error> {
        run(c, a::IncidentCommentInput { incident_id, message }, a::add_ai_analyst_comment, comment)
    }

    fn list_ai_analyst_comments(c: wt::Connection, incident_id: String) -> Result<Vec<wa::IncidentComment>, wt::Error> {
        run(c, a::IncidentIdInput { incident_id }, a::list_ai_analyst_comments, |list| {
            list.into_iter().map(comment).collect()
        })
    }

    fn start_ai_analyst_investigation(
        c: wt::Connection,
        did: u64,
        investigate_time: wt::Instant,
    ) -> Result<wa::Investigation, wt::Error> {
        let input = a::InvestigationInput { did, investigate_time: instant(investigate_time) };
        run(c, input, a::start_ai_analyst_investigation, investigation)
    }

    fn get_ai_analyst_investigation(
        c: wt::Connection,
        investigation_id: String,
    ) -> Result<wa::Investigation, wt::Error> {
        run(c, a::InvestigationIdInput { investigation_id }, a::get_ai_analyst_investigation, investigation)
    }
}
