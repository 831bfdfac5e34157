//! `state_and_times`: the poll state text a platform hands back, the poll window and selection,
//! input instants and HTTP dates.

use darktrace_connector::WireResponse;
use darktrace_connector::client::{parse_http_date, retry_after, server_clock_offset};
use darktrace_connector::poll::{self, PollSettings, PollState};
use darktrace_connector::times::{self, Instant, iso_from_ms};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// The instants inputs accept, 2000-01-01 to 2200-01-01 in epoch milliseconds.
const PLAUSIBLE_MS: std::ops::RangeInclusive<i64> = 946_684_800_000..=7_258_118_400_000;

/// Input: UTF-8 text (invalid bytes replaced), one field per line:
/// 1. a poll state as a platform would pass it back;
/// 2. numbers: kind (even: model breaches, odd: AI Analyst incidents), max items, first
///    look-back seconds, overlap seconds, now in ms, any i64 for `iso_from_ms` (each clamped to
///    what the poll actions allow);
/// 3. candidates the appliance returned, `id:created_ms` separated by commas;
/// 4. and 5. two instants as JSON (`1705311000000`, `"2024-01-15T10:30:00Z"`);
/// 6. an HTTP date, used as `Retry-After` and `Date`.
///
/// Invariants: no panic; a refused state is invalid-input naming `state`; an accepted one
/// round-trips through its text; the window is ordered; a poll delivers at most `max_items`
/// new items, none already seen nor older than the window, with a state that round-trips and a
/// cursor that never goes back; an accepted instant is a plausible date whose ISO form reads
/// back to it; a refused one names its field; a checked window is ordered.
pub fn state_and_times(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let mut lines = text.split('\n');
    let mut line = || lines.next().unwrap_or("");
    let state_text = line();
    let numbers: Vec<i64> = line().split_whitespace().map(|n| n.parse().unwrap_or(0)).collect();
    let number = |i: usize| numbers.get(i).copied().unwrap_or(0);
    let candidates: Vec<(String, i64, ())> = line()
        .split(',')
        .filter_map(|c| c.split_once(':'))
        .map(|(id, created)| (id.to_owned(), created.trim().parse().unwrap_or(0), ()))
        .collect();
    let (first, second, http_date) = (line(), line(), line());

    let kind = if number(0) % 2 == 0 { "model-breaches" } else { "ai-analyst-incidents" };
    let settings = PollSettings {
        max_items: number(1).clamp(1, 10_000) as usize,
        first_lookback_ms: number(2).clamp(60, 90 * 86_400) * 1000,
        overlap_ms: number(3).clamp(0, 86_400) * 1000,
    };
    let now = number(4).clamp(*PLAUSIBLE_MS.start(), *PLAUSIBLE_MS.end());
    check_poll(state_text, kind, &settings, now, candidates);

    assert!(!iso_from_ms(number(5)).is_empty());
    let instants = [first, second].map(|t| serde_json::from_str::<Instant>(t).ok());
    for (field, instant) in ["start", "end"].iter().zip(&instants) {
        let Some(instant) = instant else { continue };
        match instant.to_epoch_ms(field) {
            Ok(ms) => {
                assert!(PLAUSIBLE_MS.contains(&ms), "{instant:?} gave {ms}");
                let iso = iso_from_ms(ms);
                let back =
                    OffsetDateTime::parse(&iso, &Rfc3339).unwrap_or_else(|e| panic!("{iso} does not parse: {e}"));
                assert_eq!((back.unix_timestamp_nanos() / 1_000_000) as i64, ms, "{iso}");
            }
            Err(e) => {
                assert_eq!(e.case(), "invalid-input", "{e}");
                assert!(e.message().contains(&format!("`{field}`")), "{e}");
            }
        }
    }
    if let Ok(Some((start, end))) = times::window(&instants[0], &instants[1]) {
        assert!(start <= end);
    }

    let _ = parse_http_date(http_date);
    let response = WireResponse {
        status: 429,
        headers: vec![("Retry-After".into(), http_date.into()), ("Date".into(), second.into())],
        body: Vec::new(),
    };
    let local = OffsetDateTime::from_unix_timestamp(now / 1000).expect("a plausible date");
    let _ = retry_after(&response, local);
    let _ = server_clock_offset(&response, local);
}

/// One poll from `state_text` over `candidates`, with its invariants.
fn check_poll(state_text: &str, kind: &str, settings: &PollSettings, now: i64, candidates: Vec<(String, i64, ())>) {
    let state = match PollState::parse(Some(state_text), kind) {
        Ok(state) => state,
        Err(e) => {
            assert_eq!(e.case(), "invalid-input", "{e}");
            assert!(e.message().contains("`state`"), "{e}");
            return;
        }
    };
    if let Some(state) = &state {
        assert_eq!(
            PollState::parse(Some(&state.to_text()), kind),
            Ok(Some(state.clone())),
            "the state does not round-trip"
        );
    }
    let (start, end) = poll::window(state.as_ref(), settings, now);
    assert!(start <= end, "window {start}..{end}");
    let ids: Vec<(String, i64)> = candidates.iter().map(|(id, created, _)| (id.clone(), *created)).collect();
    let with_ids = ids.into_iter().map(|(id, created)| (id.clone(), created, (id, created))).collect();
    let (items, next, more) = poll::select(state.clone(), kind, settings, now, with_ids);
    assert!(items.len() <= settings.max_items);
    assert!(!more || items.len() == settings.max_items, "more with room left");
    let mut delivered = std::collections::BTreeSet::new();
    for (id, created) in &items {
        assert!(delivered.insert(id), "{id} delivered twice");
        assert!(*created >= start, "{id} is older than the window");
        assert!(state.as_ref().is_none_or(|s| !s.seen.contains_key(id)), "{id} was already delivered");
        assert!(
            next.seen.contains_key(id) || *created < next.cursor.saturating_sub(settings.overlap_ms),
            "{id} is not remembered"
        );
    }
    if let Some(state) = &state {
        assert!(next.cursor >= state.cursor, "the cursor went back");
    }
    assert_eq!(PollState::parse(Some(&next.to_text()), kind), Ok(Some(next)), "the next state does not round-trip");
}
