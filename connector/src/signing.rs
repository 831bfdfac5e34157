//! DTAPI request signing: the one place that knows how Darktrace authenticates a request.
//!
//! Every request carries `DTAPI-Token` (the public token), `DTAPI-Date` (UTC) and
//! `DTAPI-Signature`: lowercase hex HMAC-SHA1, keyed with the private token, over
//! `<signed target>\n<public token>\n<date>`. The signed target is the path, plus `?` and the
//! decoded query for a GET, or `?` and the exact body bytes for a POST; the bare path otherwise.

use hmac::{Hmac, KeyInit, Mac};
use sha1::Sha1;
use time::OffsetDateTime;
use time::format_description::FormatItem;
use time::macros::format_description;

/// Header carrying the public token.
pub const TOKEN_HEADER: &str = "DTAPI-Token";
/// Header carrying the request date.
pub const DATE_HEADER: &str = "DTAPI-Date";
/// Header carrying the signature.
pub const SIGNATURE_HEADER: &str = "DTAPI-Signature";

/// The `DTAPI-Date` form the connector sends: compact, UTC, with nothing that needs encoding.
const DATE_FORMAT: &[FormatItem<'static>] = format_description!("[year][month][day]T[hour][minute][second]");

/// Formats `now` (converted to UTC) as a `DTAPI-Date` value, e.g. `20240115T103000`.
pub fn format_date(now: OffsetDateTime) -> String {
    now.to_offset(time::UtcOffset::UTC)
        .format(DATE_FORMAT)
        .expect("the compact date format has only numeric components")
}

/// The signed target of a request: `path`, then `?` and `query_or_body` when that is not empty.
///
/// Never produces an empty `?`: appliances are only known to accept the bare path.
pub fn signed_target(path: &str, query_or_body: &[u8]) -> Vec<u8> {
    let mut target = Vec::with_capacity(path.len() + 1 + query_or_body.len());
    target.extend_from_slice(path.as_bytes());
    if !query_or_body.is_empty() {
        target.push(b'?');
        target.extend_from_slice(query_or_body);
    }
    target
}

/// Computes the `DTAPI-Signature` value for a signed target.
pub fn signature(private_token: &str, public_token: &str, date: &str, target: &[u8]) -> String {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = Hmac::<Sha1>::new_from_slice(private_token.as_bytes()).expect("HMAC-SHA1 takes keys of any length");
    mac.update(target);
    mac.update(b"\n");
    mac.update(public_token.as_bytes());
    mac.update(b"\n");
    mac.update(date.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn date_is_compact_utc() {
        let t = datetime!(2024-01-15 11:30:00 +01:00);
        assert_eq!(format_date(t), "20240115T103000");
    }

    #[test]
    fn bare_path_is_signed_without_question_mark() {
        assert_eq!(signed_target("/status", b""), b"/status");
        assert_eq!(signed_target("/status", b"fast=true"), b"/status?fast=true");
    }

    #[test]
    fn signature_is_forty_lowercase_hex_digits() {
        let s = signature("k", "p", "20240115T103000", b"/status");
        assert_eq!(s.len(), 40);
        assert!(s.chars().all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c)));
    }
}
