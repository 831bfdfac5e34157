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
    let filter = BreachFilter {
        start: Some(Instant::EpochMs(start)),
        end: Some(Instant::EpochMs(end)),
        min_score: input.min_score,
        include_acknowledged: Some(input.include_acknowledged.unwrap_or(true)),
        creation_time: Some(true),
        ..BreachFilter::default()
    };
    let found = breaches::list_model_breaches(client, filter)?;
    let candidates = found.into_iter().map(|b| (b.pbid.to_string(), b.creation_time, b)).collect();
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
    let filter = IncidentFilter {
        start: Some(Instant::EpochMs(start)),
        end: Some(Instant::EpochMs(end)),
        include_acknowledged: Some(input.include_acknowledged.unwrap_or(true)),
        // Pinned events come back whatever the window; the cursor decides what is new.
        include_pinned: Some(false),
        min_group_score: input.min_score,
        ..IncidentFilter::default()
    };
    let found = ai_analyst::list_ai_analyst_incidents(client, filter)?;
    let candidates = found.into_iter().map(|e| (e.id.clone(), e.created_at, e)).collect();
    let (items, next, more) = poll::select(state, INCIDENT_KIND, &settings, now, candidates);
    Ok(Poll { items, state: next.to_text(), more, window_start: iso_from_ms(start), window_end: iso_from_ms(end) })
}
