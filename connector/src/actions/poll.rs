//! Polling actions: new alerts since the last poll, exactly once (see [`crate::poll`]).

use serde::{Deserialize, Serialize};

use super::Input;
use super::ai_analyst::{self, IncidentEvent, IncidentFilter};
use super::breaches::{self, BreachFilter, ModelBreach};
use crate::client::Client;
use crate::error::{Error, Result};
use crate::poll::{self, DEFAULT_SETTINGS, PollSettings, PollState};
use crate::times::{Instant, iso_from_ms, now_ms};

family_actions! {
    "poll-model-breaches" => poll_model_breaches,
    "poll-ai-analyst-incidents" => poll_ai_analyst_incidents,
}

/// The state kind of model breach polls.
pub const BREACH_KIND: &str = "model-breaches";
/// The state kind of AI Analyst incident polls.
pub const INCIDENT_KIND: &str = "ai-analyst-incidents";

/// Options shared by the poll actions (see the WIT `poll-options`), plus the previous state.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PollInput {
    /// Lowest score to deliver: breach score 0..1, or incident (group) score 0..100.
    pub min_score: Option<f64>,
    /// Also deliver alerts that are already acknowledged (default true: an alert acknowledged
    /// before the poll saw it is still new to the platform).
    pub include_acknowledged: Option<bool>,
    /// Most items per poll, 1..10000 (default 500).
    pub max_items: Option<u32>,
    /// How far back the first poll looks, in seconds (default 86400).
    pub first_lookback_seconds: Option<u32>,
    /// How late an alert may become visible and still be delivered, in seconds (default 3600).
    pub overlap_seconds: Option<u32>,
    /// The state the previous poll returned; absent for the first poll.
    pub state: Option<String>,
}

impl Input for PollInput {
    fn validate(&self) -> Result<()> {
        if let Some(n) = self.max_items
            && !(1..=10_000).contains(&n)
        {
            return Err(Error::field("max_items", format!("{n} is outside 1..10000")));
        }
        if let Some(s) = self.first_lookback_seconds
            && !(60..=90 * 86_400).contains(&s)
        {
            return Err(Error::field(
                "first_lookback_seconds",
                format!("{s} is outside 60..7776000 (one minute to 90 days)"),
            ));
        }
        if let Some(s) = self.overlap_seconds
            && s > 86_400
        {
            return Err(Error::field("overlap_seconds", format!("{s} is more than 86400 (one day)")));
        }
        Ok(())
    }
}

impl PollInput {
    /// Checks `min_score` against the scale of what is polled.
    fn check_min_score(&self, max: f64, scale: &str) -> Result<()> {
        match self.min_score {
            Some(score) if !(0.0..=max).contains(&score) => {
                Err(Error::field("min_score", format!("{score} is outside 0..{max} ({scale})")))
            }
            _ => Ok(()),
        }
    }

    /// The poll settings these options ask for.
    pub fn settings(&self) -> PollSettings {
        PollSettings {
            max_items: self.max_items.map_or(DEFAULT_SETTINGS.max_items, |n| n as usize),
            first_lookback_ms: self
                .first_lookback_seconds
                .map_or(DEFAULT_SETTINGS.first_lookback_ms, |s| i64::from(s) * 1000),
            overlap_ms: self.overlap_seconds.map_or(DEFAULT_SETTINGS.overlap_ms, |s| i64::from(s) * 1000),
        }
    }
}

/// One poll's outcome (see the WIT `breach-poll`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Poll<T> {
    /// New items, oldest first by creation time.
    pub items: Vec<T>,
    /// The state to store and pass to the next poll.
    pub state: String,
    /// Whether more items are waiting (the cap was reached): poll again soon.
    pub more: bool,
    /// Start of the creation-time window asked for, ISO 8601 UTC.
    pub window_start: String,
    /// End of the window, ISO 8601 UTC.
    pub window_end: String,
}

/// Polls model breaches by creation time.
pub fn poll_model_breaches(client: &Client, input: PollInput) -> Result<Poll<ModelBreach>> {
    input.check_min_score(1.0, "breach scores are fractions; 0.7 means 70%")?;
    let settings = input.settings();
    let state = PollState::parse(input.state.as_deref(), BREACH_KIND)?;
    let now = now_ms();
    let (start, end) = poll::window(state.as_ref(), &settings, now);
    let fetch = |from: i64, to: i64| -> Result<Vec<(String, i64, ModelBreach)>> {
        let filter = BreachFilter {
            start: Some(Instant::EpochMs(from)),
            end: Some(Instant::EpochMs(to)),
            min_score: input.min_score,
            include_acknowledged: Some(input.include_acknowledged.unwrap_or(true)),
            creation_time: Some(true),
            ..BreachFilter::default()
        };
        let found = breaches::list_model_breaches(client, filter)?;
        Ok(found.into_iter().map(|b| (b.pbid.to_string(), b.creation_time, b)).collect())
    };
    let candidates = gather(&fetch, state.as_ref(), &settings, (start, end), "model breaches")?;
    let (items, next, more) = poll::select(state, BREACH_KIND, &settings, now, candidates);
    Ok(Poll { items, state: next.to_text(), more, window_start: iso_from_ms(start), window_end: iso_from_ms(end) })
}

/// Polls AI Analyst incident events by creation time.
pub fn poll_ai_analyst_incidents(client: &Client, input: PollInput) -> Result<Poll<IncidentEvent>> {
    input.check_min_score(100.0, "incident scores are percentages")?;
    let settings = input.settings();
    let state = PollState::parse(input.state.as_deref(), INCIDENT_KIND)?;
    let now = now_ms();
    let (start, end) = poll::window(state.as_ref(), &settings, now);
    let fetch = |from: i64, to: i64| -> Result<Vec<(String, i64, IncidentEvent)>> {
        let filter = IncidentFilter {
            start: Some(Instant::EpochMs(from)),
            end: Some(Instant::EpochMs(to)),
            include_acknowledged: Some(input.include_acknowledged.unwrap_or(true)),
            // Pinned events come back whatever the window; the cursor decides what is new.
            include_pinned: Some(false),
            min_group_score: input.min_score,
            ..IncidentFilter::default()
        };
        let found = ai_analyst::list_ai_analyst_incidents(client, filter)?;
        Ok(found.into_iter().map(|e| (e.id.clone(), e.created_at, e)).collect())
    };
    let candidates = gather(&fetch, state.as_ref(), &settings, (start, end), "AI Analyst incident events")?;
    let (items, next, more) = poll::select(state, INCIDENT_KIND, &settings, now, candidates);
    Ok(Poll { items, state: next.to_text(), more, window_start: iso_from_ms(start), window_end: iso_from_ms(end) })
}

/// Alerts as [`poll::select`] takes them: id, creation time (ms), item.
type Candidates<T> = Vec<(String, i64, T)>;

/// Lists the alerts of the creation-time `window`, oldest part first. An answer too large for
/// the host or the connector does not fail the poll: the part asked for is halved until its
/// answer fits (down to one millisecond), and the parts after it are asked for at the width
/// that last fitted (doubled after an empty one), so a burst costs one halving, not one per
/// part. Listing stops early, after a whole part, once it holds more new alerts than one poll
/// delivers: every alert up to the end of the parts listed is then among the candidates, so
/// [`poll::select`] delivers the oldest ones and reports `more`, and the next poll goes on from
/// its cursor. So a burst never wedges a poller.
fn gather<T>(
    fetch: &dyn Fn(i64, i64) -> Result<Candidates<T>>,
    state: Option<&PollState>,
    settings: &PollSettings,
    window: (i64, i64),
    what: &str,
) -> Result<Candidates<T>> {
    let wanted = settings.max_items.saturating_add(1);
    let (mut from, end) = window;
    // A part is `from..=from + width`; the first is the whole window, the common case.
    let mut width = end.saturating_sub(from).max(0);
    let mut found = Vec::new();
    let mut new = 0usize;
    loop {
        let to = from.saturating_add(width).min(end);
        match fetch(from, to) {
            Ok(items) => {
                // A part that ends before the window does holds only its own span, so alerts
                // of a later part that was not listed in full never count as listed.
                let items: Vec<_> = items.into_iter().filter(|(_, created, _)| to == end || *created <= to).collect();
                if items.is_empty() {
                    width = width.saturating_mul(2).max(1);
                }
                new += items.iter().filter(|(id, _, _)| state.is_none_or(|s| !s.seen.contains_key(id))).count();
                found.extend(items);
                if to >= end || new >= wanted {
                    return Ok(found);
                }
                from = to + 1;
            }
            Err(Error::ResponseTooLarge(_)) if to > from => width = (to - from) / 2,
            Err(Error::ResponseTooLarge(message)) => {
                return Err(Error::ResponseTooLarge(format!(
                    "the {what} created in the one millisecond {} are more than one answer may hold, so the poll \
                     cannot go past them ({message}); raise the host's answer size limit",
                    iso_from_ms(from)
                )));
            }
            Err(e) => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;

    /// Alerts `(id, created)`; a fetch of more than `cap` of them is too large, as an answer
    /// over the host's body cap is.
    fn capped(
        alerts: &[(String, i64)],
        cap: usize,
        calls: &RefCell<usize>,
        from: i64,
        to: i64,
    ) -> Result<Vec<(String, i64, String)>> {
        *calls.borrow_mut() += 1;
        let hits: Vec<_> = alerts
            .iter()
            .filter(|(_, t)| (from..=to).contains(t))
            .map(|(id, t)| (id.clone(), *t, id.clone()))
            .collect();
        if hits.len() > cap {
            return Err(Error::ResponseTooLarge("over the cap".into()));
        }
        Ok(hits)
    }

    #[test]
    fn a_window_over_the_cap_is_split_and_every_alert_delivered_once_across_polls() {
        let alerts: Vec<(String, i64)> =
            (0..5_000i64).map(|i| (format!("b{i}"), 1_000_000 + (i * 37) % 3_000)).collect();
        let settings = PollSettings { max_items: 400, first_lookback_ms: 10_000_000, overlap_ms: 3_600_000 };
        let now = 2_000_000;
        let calls = RefCell::new(0);
        let mut state: Option<PollState> = None;
        let mut delivered = std::collections::HashMap::<String, usize>::new();
        for _ in 0..50 {
            let window = poll::window(state.as_ref(), &settings, now);
            let fetch = |from, to| capped(&alerts, 300, &calls, from, to);
            let candidates = gather(&fetch, state.as_ref(), &settings, window, "alerts").unwrap();
            let (items, next, more) = poll::select(state, "k", &settings, now, candidates);
            for id in items {
                *delivered.entry(id).or_default() += 1;
            }
            state = PollState::parse(Some(&next.to_text()), "k").unwrap();
            if !more {
                break;
            }
        }
        assert_eq!(delivered.len(), alerts.len());
        assert!(delivered.values().all(|&n| n == 1));
        // One halving per poll, then parts of the width that fits: far fewer requests than
        // alerts (13 polls here, each re-reading its overlap window).
        assert!(*calls.borrow() < alerts.len() / 5, "{} requests", calls.borrow());
    }

    #[test]
    fn more_alerts_in_one_millisecond_than_an_answer_holds_is_a_clear_error() {
        let alerts: Vec<(String, i64)> = (0..10).map(|i| (format!("b{i}"), 5_000)).collect();
        let settings = PollSettings { max_items: 400, first_lookback_ms: 10_000, overlap_ms: 1_000 };
        let calls = RefCell::new(0);
        let fetch = |from, to| capped(&alerts, 3, &calls, from, to);
        let err = gather(&fetch, None, &settings, (0, 10_000), "alerts").unwrap_err();
        assert_eq!(err.case(), "response-too-large");
        assert!(err.message().contains("one millisecond"), "{err}");
    }
}
