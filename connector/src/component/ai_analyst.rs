//! WIT boundary for AI Analyst actions.

use super::bindings::exports::darktrace::connector::{ai_analyst as wa, types as wt};
use super::breaches::change;
use super::breaches::warnings;
use super::{Component, instant, run};
use crate::actions::ai_analyst as a;

pub(crate) fn incident(e: a::IncidentEvent) -> wa::IncidentEvent {
    wa::IncidentEvent {
        id: e.id,
        group_id: e.group_id,
        title: e.title,
        category: e.category,
        group_category: e.group_category,
        aia_score: e.aia_score,
        group_score: e.group_score,
        acknowledged: e.acknowledged,
        pinned: e.pinned,
        created_at: e.created_at,
        created_at_iso: e.created_at_iso,
        summary: e.summary,
        mitre_tactics: e.mitre_tactics,
        breach_devices: e
            .breach_devices
            .into_iter()
            .map(|d| wa::BreachDevice { did: d.did, ip: d.ip, hostname: d.hostname, mac: d.mac })
            .collect(),
        related_pbids: e.related_pbids,
        link: e.link,
        raw: e.raw.to_string(),
        warnings: warnings(e.warnings),
    }
}

fn group(g: a::IncidentGroup) -> wa::IncidentGroup {
    wa::IncidentGroup {
        id: g.id,
        category: g.category,
        group_score: g.group_score,
        acknowledged: g.acknowledged,
        pinned: g.pinned,
        active: g.active,
        start: g.start,
        start_iso: g.start_iso,
        end: g.end,
        end_iso: g.end_iso,
        incident_event_ids: g.incident_event_ids,
        device_ids: g.device_ids,
        mitre_tactics: g.mitre_tactics,
        link: g.link,
        raw: g.raw.to_string(),
        warnings: warnings(g.warnings),
    }
}

fn comment(c: a::IncidentComment) -> wa::IncidentComment {
    wa::IncidentComment {
        incident_id: c.incident_id,
        message: c.message,
        username: c.username,
        time: c.time,
        time_iso: c.time_iso,
        raw: c.raw.to_string(),
        warnings: warnings(c.warnings),
    }
}

fn investigation(i: a::Investigation) -> wa::Investigation {
    wa::Investigation {
        id: i.id,
        status: i.status,
        did: i.did,
        investigate_time: i.investigate_time,
        investigate_time_iso: i.investigate_time_iso,
        time: i.time,
        time_iso: i.time_iso,
        incident_ids: i.incident_ids,
        related_pbids: i.related_pbids,
        raw: i.raw.to_string(),
        warnings: warnings(i.warnings),
    }
}

fn changes(list: Vec<crate::actions::breaches::ChangeResult>) -> Vec<wt::ChangeResult> {
    list.into_iter().map(change).collect()
}

impl wa::Guest for Component {
    fn list_ai_analyst_incidents(
        c: wt::Connection,
        f: wa::IncidentFilter,
    ) -> Result<Vec<wa::IncidentEvent>, wt::Error> {
        let filter = a::IncidentFilter {
            start: f.start.map(instant),
            end: f.end.map(instant),
            include_acknowledged: f.include_acknowledged,
            include_pinned: f.include_pinned,
            min_score: f.min_score,
            max_score: f.max_score,
            min_group_score: f.min_group_score,
            did: f.did,
            group_id: f.group_id,
            compliance: f.compliance,
            suspicious: f.suspicious,
            critical: f.critical,
            locale: f.locale,
        };
        run(c, filter, a::list_ai_analyst_incidents, |list| list.into_iter().map(incident).collect())
    }

    fn get_ai_analyst_incident(c: wt::Connection, uuid: String) -> Result<wa::IncidentEvent, wt::Error> {
        run(c, a::UuidInput { uuid }, a::get_ai_analyst_incident, incident)
    }

    fn list_ai_analyst_groups(c: wt::Connection, f: wa::GroupFilter) -> Result<Vec<wa::IncidentGroup>, wt::Error> {
        let filter = a::GroupFilter {
            start: f.start.map(instant),
            end: f.end.map(instant),
            include_acknowledged: f.include_acknowledged,
            include_pinned: f.include_pinned,
            min_score: f.min_score,
            max_score: f.max_score,
            did: f.did,
            compliance: f.compliance,
            suspicious: f.suspicious,
            critical: f.critical,
        };
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
