//! WIT boundary for RESPOND actions.

use super::bindings::exports::darktrace::connector::{respond as wr, types as wt};
use super::breaches::warnings;
use super::devices::device;
use super::{Component, instant, run};
use crate::actions::respond;

fn action(a: respond::RespondAction) -> wr::RespondAction {
    wr::RespondAction {
        codeid: a.codeid,
        did: a.did,
        ip: a.ip,
        action: a.action,
        label: a.label,
        detail: a.detail,
        manual: a.manual,
        triggerer_username: a.triggerer_username,
        triggerer_reason: a.triggerer_reason,
        score: a.score,
        pbid: a.pbid,
        model: a.model,
        model_uuid: a.model_uuid,
        start: a.start,
        start_iso: a.start_iso,
        expires: a.expires,
        expires_iso: a.expires_iso,
        updated: a.updated,
        updated_iso: a.updated_iso,
        active: a.active,
        cleared: a.cleared,
        blocked: a.blocked,
        raw: a.raw.to_string(),
        warnings: warnings(a.warnings),
    }
}

fn change(c: respond::RespondChange) -> wr::RespondChange {
    wr::RespondChange {
        codeid: c.codeid,
        state: c.state,
        duration_seconds: c.duration_seconds,
        expires: c.expires,
        expires_iso: c.expires_iso,
        raw: c.raw.to_string(),
        verified: c.verified,
    }
}

fn kind(k: wr::ManualActionKind) -> respond::ManualActionKind {
    use respond::ManualActionKind as K;
    match k {
        wr::ManualActionKind::BlockConnections => K::BlockConnections,
        wr::ManualActionKind::EnforcePatternOfLife => K::EnforcePatternOfLife,
        wr::ManualActionKind::EnforceGroupPatternOfLife => K::EnforceGroupPatternOfLife,
        wr::ManualActionKind::Quarantine => K::Quarantine,
        wr::ManualActionKind::BlockOutgoing => K::BlockOutgoing,
        wr::ManualActionKind::BlockIncoming => K::BlockIncoming,
    }
}

impl wr::Guest for Component {
    fn list_respond_actions(c: wt::Connection, f: wr::RespondFilter) -> Result<wr::RespondActionList, wt::Error> {
        let filter = respond::RespondFilter {
            did: f.did,
            pbid: f.pbid,
            include_cleared: f.include_cleared,
            include_history: f.include_history,
            need_confirmation: f.need_confirmation,
            include_devices: f.include_devices,
            start: f.start.map(instant),
            end: f.end.map(instant),
        };
        run(c, filter, respond::list_respond_actions, |l| wr::RespondActionList {
            actions: l.actions.into_iter().map(action).collect(),
            devices: l.devices.into_iter().map(device).collect(),
        })
    }

    fn activate_respond_action(c: wt::Connection, codeid: u64, reason: String) -> Result<wr::RespondChange, wt::Error> {
        run(c, respond::ReasonInput { codeid, reason }, respond::activate_respond_action, change)
    }

    fn clear_respond_action(c: wt::Connection, codeid: u64, reason: String) -> Result<wr::RespondChange, wt::Error> {
        run(c, respond::ReasonInput { codeid, reason }, respond::clear_respond_action, change)
    }

    fn extend_respond_action(c: wt::Connection, e: wr::RespondExtension) -> Result<wr::RespondChange, wt::Error> {
        let input = respond::ExtendInput {
            codeid: e.codeid,
            extend_by_seconds: e.extend_by_seconds,
            total_duration_seconds: e.total_duration_seconds,
            reason: e.reason,
        };
        run(c, input, respond::extend_respond_action, change)
    }

    fn reactivate_respond_action(
        c: wt::Connection,
        codeid: u64,
        duration_seconds: u64,
        reason: String,
    ) -> Result<wr::RespondChange, wt::Error> {
        run(
            c,
            respond::ReactivateInput { codeid, duration_seconds, reason },
            respond::reactivate_respond_action,
            change,
        )
    }

    fn create_manual_respond_action(
        c: wt::Connection,
        a: wr::ManualRespondAction,
    ) -> Result<wr::RespondChange, wt::Error> {
        let input = respond::ManualActionInput {
            did: a.did,
            action: kind(a.action),
            duration_seconds: a.duration_seconds,
            reason: a.reason,
            connections: a
                .connections
                .into_iter()
                .map(|b| respond::BlockedConnection { src: b.src, dst: b.dst, port: b.port })
                .collect(),
        };
        run(c, input, respond::create_manual_respond_action, change)
    }

    fn get_respond_summary(
        c: wt::Connection,
        start: Option<wt::Instant>,
        end: Option<wt::Instant>,
    ) -> Result<wr::RespondSummary, wt::Error> {
        let input = respond::SummaryInput { start: start.map(instant), end: end.map(instant) };
        run(c, input, respond::get_respond_summary, |s| wr::RespondSummary {
            pending_count: s.pending_count,
            active_count: s.active_count,
            pending_action_devices: s.pending_action_devices,
            active_action_devices: s.active_action_devices,
            raw: s.raw.to_string(),
            warnings: warnings(s.warnings),
        })
    }
}
