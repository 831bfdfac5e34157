//! Lossless incremental polling: every alert is delivered exactly once across polls, as long as
//! the platform stores each returned state after handling its items.
//!
//! The appliance has no cursors, only time windows, and alerts can be created long after their
//! first activity, share one millisecond, or become visible a little after their creation time.
//! So a poll asks for alerts by *creation* time from `cursor - overlap` to now, drops the ones
//! already delivered (remembered only while they are inside the overlap window, so the state
//! stays small), delivers the rest oldest first up to the cap, and moves the cursor to the
//! creation time of the last one delivered. Alerts that share that millisecond but did not fit
//! under the cap come next time; the cursor never jumps to "now", so a clock difference with the
//! appliance cannot skip anything.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Version of the state format.
const STATE_VERSION: u32 = 1;

/// The largest state text a poll returns. The connector takes a state back up to
/// [`MAX_STATE_INPUT_BYTES`]; platforms store it per poller, so it is kept well below that: a
/// burst of more alerts than fit inside one overlap window raises the window's floor instead
/// (see [`PollState::floor`]).
pub const MAX_STATE_BYTES: usize = 60 * 1024;

/// The largest state text the connector takes back (the `state` input's own limit, above the
/// 64 KiB other strings get): room for [`MAX_STATE_BYTES`] plus the ids that share the cursor's
/// millisecond, which are never dropped.
pub const MAX_STATE_INPUT_BYTES: usize = 512 * 1024;

/// The lowest cursor a state may carry: minus 2200-01-01 in epoch ms. A poll's cursor only grows
/// from a plausible window start (or from the creation times the appliance lists, whatever they
/// are), so only an edited state goes below it, and there `cursor - overlap` would overflow.
const MIN_CURSOR_MS: i64 = -7_258_118_400_000;

/// How a poll behaves; every field has a default.
#[derive(Debug, Clone, PartialEq)]
pub struct PollSettings {
    /// Most items one poll returns; the rest come in the next polls.
    pub max_items: usize,
    /// How far back the first poll looks, in ms.
    pub first_lookback_ms: i64,
    /// How late (after its creation time) an alert may become visible and still be delivered, in ms.
    pub overlap_ms: i64,
}

/// Defaults: 500 items, a 24 hour first look-back, a 1 hour overlap.
pub const DEFAULT_SETTINGS: PollSettings =
    PollSettings { max_items: 500, first_lookback_ms: 24 * 3600 * 1000, overlap_ms: 3600 * 1000 };

/// What a platform stores between polls (as JSON text, opaque to it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PollState {
    /// Format version.
    pub version: u32,
    /// What is polled (`model-breaches`, `ai-analyst-incidents`): a state is not reusable across kinds.
    pub kind: String,
    /// Creation time (ms) of the newest alert delivered, or the start of the first window.
    pub cursor: i64,
    /// Alerts delivered whose creation time is inside the overlap window: id to creation time.
    pub seen: BTreeMap<String, i64>,
    /// The lowest creation time the next window asks for, when a burst made the state drop the
    /// ids of alerts older than it to stay under [`MAX_STATE_BYTES`]. Every alert visible then
    /// and created before it had been delivered, so the only cost is that one created before it
    /// that becomes visible only later is not delivered. Absent normally (and in states written
    /// before it existed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub floor: Option<i64>,
}

impl PollState {
    /// Reads the state a previous poll returned; `None` starts a first poll.
    pub fn parse(text: Option<&str>, kind: &str) -> Result<Option<PollState>> {
        let Some(text) = text.filter(|t| !t.trim().is_empty()) else { return Ok(None) };
        let state: PollState = serde_json::from_str(text).map_err(|e| {
            Error::field(
                "state",
                format!(
                    "is not a state returned by a previous poll ({e}); pass it back unchanged, or omit it to start over"
                ),
            )
        })?;
        if state.version != STATE_VERSION || state.kind != kind {
            return Err(Error::field(
                "state",
                format!(
                    "was returned by a `{}` poll (version {}), not by a `{kind}` poll; omit it to start over",
                    state.kind, state.version
                ),
            ));
        }
        if state.cursor < MIN_CURSOR_MS {
            return Err(Error::field(
                "state",
                format!(
                    "has the cursor {}, which no poll returns; pass the state back unchanged, or omit it to start over",
                    state.cursor
                ),
            ));
        }
        Ok(Some(state))
    }

    /// The state as the JSON text handed to the platform.
    pub fn to_text(&self) -> String {
        serde_json::to_string(self).expect("a poll state always serialises")
    }

    /// Drops the ids of the oldest delivered alerts, whole milliseconds at a time and never at
    /// the cursor's (alerts there may still be waiting), until the text fits in `budget` bytes,
    /// and raises [`PollState::floor`] above what was dropped. Returns whether anything was.
    fn shrink_to(&mut self, budget: usize) -> bool {
        let mut size = self.to_text().len();
        if size <= budget {
            return false;
        }
        // Room for the `floor` field this may add.
        let budget = budget.saturating_sub(32);
        let mut by_time: Vec<(i64, &String)> = self.seen.iter().map(|(id, t)| (*t, id)).collect();
        by_time.sort_unstable();
        let mut drop = Vec::new();
        let mut floor = self.floor;
        let mut i = 0;
        while size > budget && i < by_time.len() && by_time[i].0 < self.cursor {
            let t = by_time[i].0;
            while i < by_time.len() && by_time[i].0 == t {
                // `"id":t,` in the JSON text.
                size = size.saturating_sub(by_time[i].1.len() + t.to_string().len() + 4);
                drop.push(by_time[i].1.clone());
                i += 1;
            }
            floor = Some(floor.map_or(t + 1, |f| f.max(t + 1)));
        }
        for id in &drop {
            self.seen.remove(id);
        }
        self.floor = floor;
        !drop.is_empty()
    }
}

/// The creation-time window (ms) to ask the appliance for.
pub fn window(state: Option<&PollState>, settings: &PollSettings, now_ms: i64) -> (i64, i64) {
    let start = match state {
        Some(s) => (s.cursor - settings.overlap_ms).max(s.floor.unwrap_or(i64::MIN)),
        None => now_ms - settings.first_lookback_ms,
    };
    (start, now_ms.max(start))
}

/// Picks what to deliver from the alerts the appliance returned for [`window`] (`id`, creation
/// time, item), oldest first, and computes the next state. Returns the items, the state, and
/// whether more are waiting.
pub fn select<T>(
    state: Option<PollState>,
    kind: &str,
    settings: &PollSettings,
    now_ms: i64,
    mut candidates: Vec<(String, i64, T)>,
) -> (Vec<T>, PollState, bool) {
    let (start, _) = window(state.as_ref(), settings, now_ms);
    let mut next = state.unwrap_or(PollState {
        version: STATE_VERSION,
        kind: kind.to_owned(),
        cursor: start,
        seen: BTreeMap::new(),
        floor: None,
    });
    candidates.retain(|(id, created, _)| *created >= start && !next.seen.contains_key(id));
    candidates.sort_by(|a, b| (a.1, &a.0).cmp(&(b.1, &b.0)));
    // An id listed twice with different creation times is not adjacent after the sort; the
    // earliest listing is kept, so the id is delivered once.
    let mut listed = std::collections::HashSet::new();
    candidates.retain(|(id, _, _)| listed.insert(id.clone()));
    let more = candidates.len() > settings.max_items;
    candidates.truncate(settings.max_items);
    let mut items = Vec::with_capacity(candidates.len());
    for (id, created, item) in candidates {
        next.cursor = next.cursor.max(created);
        next.seen.insert(id, created);
        items.push(item);
    }
    // Anything older than the next window's start can never be returned again.
    let horizon = next.cursor - settings.overlap_ms;
    next.seen.retain(|_, created| *created >= horizon);
    if next.floor.is_some_and(|f| f <= horizon) {
        next.floor = None;
    }
    next.shrink_to(MAX_STATE_BYTES);
    (items, next, more)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(max_items: usize) -> PollSettings {
        PollSettings { max_items, first_lookback_ms: 10_000, overlap_ms: 1_000 }
    }

    /// A small deterministic generator, so a failing seed can be replayed.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        }
        fn below(&mut self, n: u64) -> u64 {
            self.next() % n.max(1)
        }
    }

    /// An alert: id, creation time, and when it becomes visible (never before creation, at most
    /// the overlap later).
    #[derive(Clone, Debug)]
    struct Alert {
        id: String,
        created: i64,
        visible: i64,
    }

    /// One random timeline: alerts with bursts sharing a millisecond and late visibility, polls
    /// at random moments with random caps, the state round-tripped through text every time (as
    /// a restarted host would read it back). Returns how often each alert was delivered.
    fn run_timeline(seed: u64) -> (Vec<Alert>, BTreeMap<String, usize>) {
        let mut rng = Rng(seed);
        let s0 = settings(1 + rng.below(20) as usize);
        let horizon = 50_000i64;
        let mut alerts = Vec::new();
        let mut t = 0i64;
        while t < horizon {
            t += rng.below(400) as i64;
            let burst = if rng.below(8) == 0 { 2 + rng.below(12) } else { 1 };
            for _ in 0..burst {
                let late = if rng.below(5) == 0 { rng.below(s0.overlap_ms as u64) as i64 } else { 0 };
                alerts.push(Alert { id: format!("a{}", alerts.len()), created: t, visible: t + late });
            }
        }
        let mut delivered: BTreeMap<String, usize> = BTreeMap::new();
        let mut state_text: Option<String> = None;
        let mut now = s0.first_lookback_ms / 2;
        let end = horizon + 5 * s0.overlap_ms;
        while now < end {
            now += 1 + rng.below(2_000) as i64;
            let polls = if now >= end { 200 } else { 1 };
            for _ in 0..polls {
                let mut s = s0.clone();
                s.max_items = 1 + rng.below(30) as usize;
                let state = PollState::parse(state_text.as_deref(), "k").unwrap();
                let (start, stop) = window(state.as_ref(), &s, now);
                let visible: Vec<(String, i64, String)> = alerts
                    .iter()
                    .filter(|a| a.visible <= now && a.created >= start && a.created <= stop)
                    .map(|a| (a.id.clone(), a.created, a.id.clone()))
                    .collect();
                let (items, next, more) = select(state, "k", &s, now, visible);
                for id in items {
                    *delivered.entry(id).or_default() += 1;
                }
                state_text = Some(next.to_text());
                if !more && polls > 1 {
                    break;
                }
            }
        }
        (alerts, delivered)
    }

    #[test]
    fn every_alert_is_delivered_exactly_once_across_random_timelines() {
        let base = std::env::var("POLL_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(0x5EED_u64);
        for case in 0..2_000u64 {
            let seed = base.wrapping_add(case);
            let (alerts, delivered) = run_timeline(seed);
            for a in &alerts {
                let n = delivered.get(&a.id).copied().unwrap_or(0);
                assert_eq!(n, 1, "seed {seed} (replay with POLL_SEED={seed}): alert {a:?} delivered {n} times");
            }
            assert_eq!(delivered.len(), alerts.len(), "seed {seed}: delivered something that does not exist");
        }
    }

    #[test]
    fn state_stays_bounded_by_the_overlap_window() {
        let s = settings(1_000);
        let mut state = None;
        for round in 0..100i64 {
            let batch: Vec<_> = (0..50).map(|i| (format!("{round}-{i}"), round * 10_000 + i, ())).collect();
            let (_, next, _) = select(state, "k", &s, round * 10_000 + 100, batch);
            assert!(next.seen.len() <= 50, "seen grew to {}", next.seen.len());
            state = Some(next);
        }
    }

    #[test]
    fn a_burst_larger_than_the_state_holds_raises_the_floor_and_still_delivers_each_alert_once() {
        // 20,000 alerts with UUID-sized ids inside one overlap window, all visible at once.
        let s = PollSettings { max_items: 700, first_lookback_ms: 100_000, overlap_ms: 3_600_000 };
        let alerts: Vec<(String, i64)> =
            (0..20_000i64).map(|i| (format!("{:08x}-0000-4000-8000-{i:012x}", i * 7919), 50_000 + i / 3)).collect();
        let now = 60_000;
        let mut state_text: Option<String> = None;
        let mut delivered = std::collections::HashMap::<String, usize>::new();
        for _ in 0..100 {
            let state = PollState::parse(state_text.as_deref(), "k").unwrap();
            let (start, end) = window(state.as_ref(), &s, now);
            let listed: Vec<_> = alerts
                .iter()
                .filter(|(_, t)| (start..=end).contains(t))
                .map(|(id, t)| (id.clone(), *t, id.clone()))
                .collect();
            let (items, next, more) = select(state, "k", &s, now, listed);
            for id in items {
                *delivered.entry(id).or_default() += 1;
            }
            let text = next.to_text();
            assert!(text.len() <= MAX_STATE_BYTES, "a state of {} bytes", text.len());
            state_text = Some(text);
            if !more {
                break;
            }
        }
        assert_eq!(delivered.len(), alerts.len());
        assert!(delivered.values().all(|&n| n == 1));
        let last = PollState::parse(state_text.as_deref(), "k").unwrap().unwrap();
        assert!(last.floor.is_some(), "the burst should have raised the floor");
    }

    #[test]
    fn a_state_written_before_the_floor_existed_is_read() {
        let old = r#"{"version":1,"kind":"k","cursor":5,"seen":{"a":5}}"#;
        let state = PollState::parse(Some(old), "k").unwrap().unwrap();
        assert_eq!((state.cursor, state.floor), (5, None));
        assert_eq!(state.to_text(), old, "a state without a floor is written as before");
    }

    #[test]
    fn an_id_listed_twice_with_different_creation_times_is_delivered_once() {
        let listed = vec![("a".to_owned(), 5_000, 1), ("b".to_owned(), 6_000, 2), ("a".to_owned(), 7_000, 3)];
        let (items, next, _) = select(None, "k", &settings(10), 8_000, listed);
        assert_eq!(items, [1, 2]);
        assert_eq!(next.seen.get("a"), Some(&5_000));
    }

    #[test]
    fn a_state_with_a_cursor_no_poll_returns_is_refused_instead_of_overflowing_the_window() {
        let text =
            |cursor| PollState { version: 1, kind: "k".into(), cursor, seen: BTreeMap::new(), floor: None }.to_text();
        for cursor in [i64::MIN, MIN_CURSOR_MS - 1] {
            let err = PollState::parse(Some(&text(cursor)), "k").unwrap_err();
            assert!(err.message().starts_with("`state`") && err.message().contains("cursor"), "{err}");
        }
        // Whatever creation time the appliance lists, the state a poll returns is accepted back.
        let (_, next, _) = select(None, "k", &settings(10), 8_000, vec![("a".to_owned(), i64::MAX, ())]);
        assert_eq!(PollState::parse(Some(&next.to_text()), "k").unwrap(), Some(next));
    }

    #[test]
    fn a_state_from_another_kind_is_refused_naming_the_field() {
        let text =
            PollState { version: 1, kind: "model-breaches".into(), cursor: 0, seen: BTreeMap::new(), floor: None }
                .to_text();
        let err = PollState::parse(Some(&text), "ai-analyst-incidents").unwrap_err();
        assert!(err.message().starts_with("`state`"), "{err}");
        assert!(PollState::parse(Some("{garbage"), "k").is_err());
        assert_eq!(PollState::parse(Some("  "), "k").unwrap(), None);
    }
}
