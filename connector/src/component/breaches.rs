//! WIT boundary for model breach actions.

use super::bindings::exports::darktrace::connector::{model_breaches as wb, types as wt};
use super::{Component, instant, run};
use crate::actions::{PbidInput, breaches};
use crate::shape::Warning;

/// The WIT form of the warnings an item was read with; shared by every family.
pub(crate) fn warnings(list: Vec<Warning>) -> Vec<wt::Warning> {
    list.into_iter().map(|w| wt::Warning { path: w.path, expected: w.expected, found: w.found }).collect()
}

pub(crate) fn breach(b: breaches::ModelBreach) -> wb::ModelBreach {
    wb::ModelBreach {
        pbid: b.pbid,
        time: b.time,
        time_iso: b.time_iso,
        creation_time: b.creation_time,
        creation_time_iso: b.creation_time_iso,
        score: b.score,
        model_name: b.model_name,
        model_uuid: b.model_uuid,
        model_pid: b.model_pid,
        model_category: b.model_category,
        device_did: b.device_did,
        device_ip: b.device_ip,
        device_hostname: b.device_hostname,
        device_mac: b.device_mac,
        acknowledged: b.acknowledged,
        comment_count: b.comment_count,
        link: b.link,
        raw: b.raw.to_string(),
        warnings: warnings(b.warnings),
    }
}

pub(crate) fn comment(c: breaches::BreachComment) -> wb::BreachComment {
    wb::BreachComment {
        pbid: c.pbid,
        message: c.message,
        username: c.username,
        time: c.time,
        time_iso: c.time_iso,
        raw: c.raw.to_string(),
        warnings: warnings(c.warnings),
    }
}

fn breach_record(r: breaches::BreachRecord) -> wb::BreachRecord {
    wb::BreachRecord {
        pbid: r.pbid,
        model_name: r.model_name,
        model_pid: r.model_pid,
        score: r.score,
        state: r.state,
        acknowledged: r.acknowledged,
        time: r.time,
        time_iso: r.time_iso,
        creation_time: r.creation_time,
        creation_time_iso: r.creation_time_iso,
        device_ids: r.device_ids,
        raw: r.raw.to_string(),
        warnings: warnings(r.warnings),
    }
}

fn connection_event(e: breaches::ConnectionEvent) -> wb::ConnectionEvent {
    wb::ConnectionEvent {
        event_type: e.event_type,
        time: e.time,
        time_iso: e.time_iso,
        source_did: e.source_did,
        destination_did: e.destination_did,
        source: e.source,
        destination: e.destination,
        destination_port: e.destination_port,
        protocol: e.protocol,
        application_protocol: e.application_protocol,
        direction: e.direction,
        raw: e.raw.to_string(),
        warnings: warnings(e.warnings),
    }
}

pub(crate) fn change(c: breaches::ChangeResult) -> wt::ChangeResult {
    wt::ChangeResult { id: c.id, state: c.state, raw: c.raw.to_string(), verified: c.verified }
}

impl wb::Guest for Component {
    fn list_model_breaches(c: wt::Connection, f: wb::BreachFilter) -> Result<Vec<wb::ModelBreach>, wt::Error> {
        let filter = breaches::BreachFilter {
            start: f.start.map(instant),
            end: f.end.map(instant),
            min_score: f.min_score,
            pbid: f.pbid,
            did: f.did,
            model_pid: f.model_pid,
            model_uuid: f.model_uuid,
            include_acknowledged: f.include_acknowledged,
            creation_time: f.creation_time,
            minimal: f.minimal,
        };
        run(c, filter, breaches::list_model_breaches, |list| list.into_iter().map(breach).collect())
    }

    fn get_model_breach(c: wt::Connection, pbid: u64) -> Result<wb::ModelBreach, wt::Error> {
        run(c, PbidInput { pbid }, breaches::get_model_breach, breach)
    }

    fn acknowledge_model_breach(c: wt::Connection, pbid: u64) -> Result<wt::ChangeResult, wt::Error> {
        run(c, PbidInput { pbid }, breaches::acknowledge_model_breach, change)
    }

    fn unacknowledge_model_breach(c: wt::Connection, pbid: u64) -> Result<wt::ChangeResult, wt::Error> {
        run(c, PbidInput { pbid }, breaches::unacknowledge_model_breach, change)
    }

    fn add_model_breach_comment(c: wt::Connection, pbid: u64, message: String) -> Result<wb::BreachComment, wt::Error> {
        run(c, breaches::CommentInput { pbid, message }, breaches::add_model_breach_comment, comment)
    }

    fn list_model_breach_comments(c: wt::Connection, pbid: u64) -> Result<Vec<wb::BreachComment>, wt::Error> {
        run(c, PbidInput { pbid }, breaches::list_model_breach_comments, |list| list.into_iter().map(comment).collect())
    }

    fn get_model_breach_connections(
        c: wt::Connection,
        q: wb::ConnectionsQuery,
    ) -> Result<wb::BreachConnections, wt::Error> {
        let query = breaches::ConnectionsQuery { pbid: q.pbid, count: q.count, offset: q.offset };
        run(c, query, breaches::get_model_breach_connections, |out| wb::BreachConnections {
            pbid: out.pbid,
            breach: out.breach.map(breach_record),
            events: out.events.into_iter().map(connection_event).collect(),
        })
    }

    fn list_comments(c: wt::Connection, f: wb::CommentFilter) -> Result<Vec<wb::BreachComment>, wt::Error> {
        let filter = breaches::CommentFilter {
            start: f.start.map(instant),
            end: f.end.map(instant),
            pbid: f.pbid,
            count: f.count,
        };
        run(c, filter, breaches::list_comments, |list| list.into_iter().map(comment).collect())
    }
}
