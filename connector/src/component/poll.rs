//! WIT boundary for the polling actions.

use super::bindings::exports::darktrace::connector::{polling as wp, types as wt};
use super::{Component, run};
use crate::actions::poll::{self, PollInput};

fn input(options: wp::PollOptions, state: Option<String>) -> PollInput {
    PollInput {
        min_score: options.min_score,
        include_acknowledged: options.include_acknowledged,
        max_items: options.max_items,
        first_lookback_seconds: options.first_lookback_seconds,
        overlap_seconds: options.overlap_seconds,
        state,
    }
}

impl wp::Guest for Component {
    fn poll_model_breaches(
        c: wt::Connection,
        options: wp::PollOptions,
        state: Option<String>,
    ) -> Result<wp::BreachPoll, wt::Error> {
        run(c, input(options, state), poll::poll_model_breaches, |p| wp::BreachPoll {
            items: p.items.into_iter().map(super::breaches::breach).collect(),
            state: p.state,
            more: p.more,
            window_start: p.window_start,
            window_end: p.window_end,
        })
    }

    fn poll_ai_analyst_incidents(
        c: wt::Connection,
        options: wp::PollOptions,
        state: Option<String>,
    ) -> Result<wp::IncidentPoll, wt::Error> {
        run(c, input(options, state), poll::poll_ai_analyst_incidents, |p| wp::IncidentPoll {
            items: p.items.into_iter().map(super::ai_analyst::incident).collect(),
            state: p.state,
            more: p.more,
            window_start: p.window_start,
            window_end: p.window_end,
        })
    }
}
