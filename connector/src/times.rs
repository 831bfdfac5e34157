//! Instants in action inputs and outputs: epoch milliseconds in, ISO 8601 UTC beside them out.

use serde::{Deserialize, Deserializer, Serialize};
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::{OffsetDateTime, UtcOffset};

use crate::error::{Error, Result};

/// An instant as a user may give it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Instant {
    /// Milliseconds since the Unix epoch.
    EpochMs(i64),
    /// An ISO 8601 / RFC 3339 date-time with an offset.
    Iso8601(String),
}

impl<'de> Deserialize<'de> for Instant {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Int(i64),
            Text(String),
        }
        match Raw::deserialize(d).map_err(|_| {
            serde::de::Error::custom("expected epoch milliseconds (a whole number) or an ISO 8601 date-time string")
        })? {
            Raw::Int(ms) => Ok(Instant::EpochMs(ms)),
            Raw::Text(s) => match s.trim().parse::<i64>() {
                Ok(ms) => Ok(Instant::EpochMs(ms)),
                Err(_) => Ok(Instant::Iso8601(s)),
            },
        }
    }
}

/// Earliest instant accepted (2000-01-01): anything before is almost surely seconds given as
/// milliseconds, the classic bug that silently asks for alerts from January 1970.
const MIN_MS: i64 = 946_684_800_000;
/// Latest instant accepted (2200-01-01).
const MAX_MS: i64 = 7_258_118_400_000;

impl Instant {
    /// Epoch milliseconds, checked to be a plausible date. `field` names the input in errors.
    pub fn to_epoch_ms(&self, field: &str) -> Result<i64> {
        let ms = match self {
            Instant::EpochMs(ms) => *ms,
            Instant::Iso8601(s) => {
                let t = OffsetDateTime::parse(s.trim(), &Rfc3339).map_err(|_| {
                    Error::field(field, format!(
                        "`{}` is not an ISO 8601 date-time with an offset; write e.g. `2024-01-15T10:30:00Z` or give epoch milliseconds",
                        truncate(s)
                    ))
                })?;
                (t.unix_timestamp_nanos() / 1_000_000) as i64
            }
        };
        if !(MIN_MS..=MAX_MS).contains(&ms) {
            return Err(Error::field(
                field,
                format!(
                    "{ms} is not a date between 2000 and 2200 in epoch milliseconds{}",
                    if (MIN_MS / 1000..=MAX_MS / 1000).contains(&ms) {
                        " (it looks like seconds: multiply by 1000)"
                    } else {
                        ""
                    }
                ),
            ));
        }
        Ok(ms)
    }
}

/// Checks an optional time window: both ends or neither, the end not before the start, each a
/// plausible date. Returns it in epoch milliseconds. Errors name `start` or `end`.
pub fn window(start: &Option<Instant>, end: &Option<Instant>) -> Result<Option<(i64, i64)>> {
    match (start, end) {
        (Some(_), None) => Err(Error::field("end", "missing: give `start` and `end` together, or neither")),
        (None, Some(_)) => Err(Error::field("start", "missing: give `start` and `end` together, or neither")),
        (Some(s), Some(e)) => {
            let (s, e) = (s.to_epoch_ms("start")?, e.to_epoch_ms("end")?);
            if s > e {
                return Err(Error::field("end", "is before `start`"));
            }
            Ok(Some((s, e)))
        }
        (None, None) => Ok(None),
    }
}

/// Formats epoch milliseconds as ISO 8601 UTC with millisecond precision, e.g.
/// `2024-01-15T10:30:00.000Z`.
pub fn iso_from_ms(ms: i64) -> String {
    let fmt = format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z");
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| t.to_offset(UtcOffset::UTC).format(fmt).ok())
        .unwrap_or_else(|| ms.to_string())
}

/// The current time as epoch milliseconds.
pub fn now_ms() -> i64 {
    (OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64
}

fn truncate(s: &str) -> String {
    s.chars().take(64).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> Instant {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn numbers_numeric_strings_and_iso_dates_are_accepted() {
        assert_eq!(parse("1705311000000").to_epoch_ms("start").unwrap(), 1_705_311_000_000);
        assert_eq!(parse("\"1705311000000\"").to_epoch_ms("start").unwrap(), 1_705_311_000_000);
        assert_eq!(parse("\"2024-01-15T09:30:00Z\"").to_epoch_ms("start").unwrap(), 1_705_311_000_000);
        assert_eq!(parse("\"2024-01-15T10:30:00+01:00\"").to_epoch_ms("start").unwrap(), 1_705_311_000_000);
    }

    #[test]
    fn seconds_given_as_milliseconds_are_rejected_with_advice() {
        let err = parse("1705311000").to_epoch_ms("start").unwrap_err();
        assert!(err.message().contains("looks like seconds"), "{err}");
    }

    #[test]
    fn iso_without_offset_is_rejected_naming_the_field() {
        let err = parse("\"2024-01-15 10:30\"").to_epoch_ms("end").unwrap_err();
        assert!(err.message().starts_with("`end`"), "{err}");
    }

    #[test]
    fn iso_output_is_utc_with_milliseconds() {
        assert_eq!(iso_from_ms(1_705_311_000_123), "2024-01-15T09:30:00.123Z");
    }
}
