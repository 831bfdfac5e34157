//! Query parameters, read strictly: a malformed value is an `INPUT ERROR`, never a panic and
//! never silently ignored, so connector bugs surface against the simulator.

use super::Reply;
use crate::simulator::auth;

/// Decoded query parameters in the order received. Empty values count as absent, as clients
/// are expected to drop them.
#[derive(Debug, Default)]
pub(crate) struct Params(Vec<(String, String)>);

impl Params {
    /// Parameters from decoded `(key, value)` pairs.
    pub(crate) fn new(pairs: Vec<(String, String)>) -> Self {
        Params(pairs)
    }

    /// The first non-empty value of `key`.
    pub(crate) fn text(&self, key: &str) -> Option<&str> {
        self.0.iter().find(|(k, v)| k == key && !v.is_empty()).map(|(_, v)| v.as_str())
    }

    /// A non-negative integer.
    pub(crate) fn unsigned(&self, key: &str) -> Result<Option<u64>, Reply> {
        self.text(key).map(|v| parse_id(key, v)).transpose()
    }

    /// An integer that may be negative (subnet ids of SaaS modules are).
    pub(crate) fn signed(&self, key: &str) -> Result<Option<i64>, Reply> {
        self.text(key)
            .map(|v| v.parse().map_err(|_| Reply::input_error(format!("{key} must be an integer, not {v:?}"))))
            .transpose()
    }

    /// A decimal number.
    pub(crate) fn number(&self, key: &str) -> Result<Option<f64>, Reply> {
        self.text(key)
            .map(|v| match v.parse::<f64>() {
                Ok(n) if n.is_finite() => Ok(n),
                _ => Err(Reply::input_error(format!("{key} must be a number, not {v:?}"))),
            })
            .transpose()
    }

    /// A boolean, written `true` or `false` as the API guide requires.
    pub(crate) fn flag(&self, key: &str, default: bool) -> Result<bool, Reply> {
        match self.text(key) {
            None => Ok(default),
            Some("true") => Ok(true),
            Some("false") => Ok(false),
            Some(v) => Err(Reply::input_error(format!("{key} must be true or false, not {v:?}"))),
        }
    }

    /// A comma-separated list of ids, as `pbid=1,2` is sometimes written.
    pub(crate) fn id_list(&self, key: &str) -> Result<Option<Vec<u64>>, Reply> {
        self.text(key).map(|v| v.split(',').map(|id| parse_id(key, id.trim())).collect()).transpose()
    }

    /// The time window in ms, from `starttime`/`endtime` or else `from`/`to`. Each pair must
    /// be complete, and the end must not come before the start.
    pub(crate) fn window(&self) -> Result<Option<(i64, i64)>, Reply> {
        let window = match (self.text("starttime"), self.text("endtime")) {
            (Some(start), Some(end)) => Some((millis("starttime", start)?, millis("endtime", end)?)),
            (None, None) => match (self.text("from"), self.text("to")) {
                (Some(from), Some(to)) => Some((date("from", from)?, date("to", to)?)),
                (None, None) => None,
                _ => return Err(Reply::input_error("from and to must be given together")),
            },
            _ => {
                return Err(Reply::input_error("starttime and endtime must be given together"));
            }
        };
        match window {
            Some((start, end)) if end < start => {
                Err(Reply::input_error("the end of the time window is before its start"))
            }
            other => Ok(other),
        }
    }

    /// `seensince` in seconds: a number of seconds or a count with a unit (`5hour`, `6day`).
    pub(crate) fn seen_since(&self, default_secs: i64) -> Result<i64, Reply> {
        let Some(value) = self.text("seensince") else {
            return Ok(default_secs);
        };
        let bad =
            || Reply::input_error(format!("seensince must be seconds or a duration like 5hour or 6day, not {value:?}"));
        let digits = value.find(|c: char| !c.is_ascii_digit()).unwrap_or(value.len());
        let amount: i64 = value[..digits].parse().map_err(|_| bad())?;
        let unit = match value[digits..].trim_end_matches('s') {
            "" | "sec" | "second" => 1,
            "min" | "minute" => 60,
            "hour" | "hr" => 3600,
            "day" => 86_400,
            "week" => 604_800,
            _ => return Err(bad()),
        };
        amount.checked_mul(unit).ok_or_else(bad)
    }
}

/// An id in a path or parameter: a non-negative integer.
pub(crate) fn parse_id(key: &str, value: &str) -> Result<u64, Reply> {
    value.parse().map_err(|_| Reply::input_error(format!("{key} must be a non-negative integer, not {value:?}")))
}

/// `starttime`/`endtime` values: epoch milliseconds.
fn millis(key: &str, value: &str) -> Result<i64, Reply> {
    value.parse().map_err(|_| Reply::input_error(format!("{key} must be epoch milliseconds, not {value:?}")))
}

/// `from`/`to` values: `YYYY-MM-DD HH:MM:SS`, or the ISO forms some clients send instead.
fn date(key: &str, value: &str) -> Result<i64, Reply> {
    auth::parse_date(value)
        .map(|t| (t.unix_timestamp_nanos() / 1_000_000) as i64)
        .ok_or_else(|| Reply::input_error(format!("{key} must be a date like 2024-01-15 10:30:00, not {value:?}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> Params {
        Params::new(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect())
    }

    #[test]
    fn a_start_without_an_end_is_an_input_error() {
        assert!(params(&[("starttime", "1")]).window().is_err());
        assert!(params(&[("to", "2024-01-15 10:30:00")]).window().is_err());
        assert_eq!(params(&[("starttime", "1"), ("endtime", "2")]).window().ok(), Some(Some((1, 2))));
    }

    #[test]
    fn from_and_to_are_read_as_utc_dates() {
        let window = params(&[("from", "2024-01-15 10:30:00"), ("to", "2024-01-15T11:30:00.00Z")]).window();
        assert_eq!(window.ok(), Some(Some((1_705_314_600_000, 1_705_318_200_000))));
    }

    #[test]
    fn seensince_takes_seconds_or_a_unit() {
        assert_eq!(params(&[("seensince", "3600")]).seen_since(0).ok(), Some(3600));
        assert_eq!(params(&[("seensince", "5hour")]).seen_since(0).ok(), Some(18_000));
        assert_eq!(params(&[("seensince", "6days")]).seen_since(0).ok(), Some(518_400));
        assert!(params(&[("seensince", "soon")]).seen_since(0).is_err());
        assert!(params(&[("seensince", "ünf")]).seen_since(0).is_err());
    }

    #[test]
    fn booleans_must_be_lowercase_words() {
        assert_eq!(params(&[("minimal", "true")]).flag("minimal", false).ok(), Some(true));
        assert!(params(&[("minimal", "True")]).flag("minimal", false).is_err());
        assert_eq!(params(&[]).flag("deviceattop", true).ok(), Some(true));
    }
}
