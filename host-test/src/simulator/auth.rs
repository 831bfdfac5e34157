//! DTAPI authentication as the appliance checks it: headers, date window and signature.
//!
//! The HMAC itself comes from `darktrace_connector::signing`, so the connector and the
//! simulator cannot drift apart on how a signature is computed; what lives here is the
//! server's side of the contract: rebuilding the signed target from the request as received.

use std::fmt;

use darktrace_connector::signing;
use time::format_description::FormatItem;
use time::macros::format_description;
use time::{Duration, OffsetDateTime, PrimitiveDateTime, UtcOffset};

/// How far `DTAPI-Date` may be from the appliance clock, either way.
pub const MAX_CLOCK_SKEW: Duration = Duration::minutes(30);

/// Why a request failed authentication.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthFailure {
    /// `DTAPI-Token`, `DTAPI-Date` or `DTAPI-Signature` is missing or empty.
    MissingHeaders,
    /// `DTAPI-Token` is not the configured public token.
    UnknownToken,
    /// `DTAPI-Signature` does not match the request.
    BadSignature,
    /// `DTAPI-Date` cannot be read or is more than [`MAX_CLOCK_SKEW`] from the appliance clock.
    BadDate,
}

impl fmt::Display for AuthFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AuthFailure::MissingHeaders => "a DTAPI header is missing",
            AuthFailure::UnknownToken => "the public token is not known",
            AuthFailure::BadSignature => "the signature does not match the request",
            AuthFailure::BadDate => "the date is unreadable or outside the 30 minute window",
        })
    }
}

impl std::error::Error for AuthFailure {}

/// Checks a request's DTAPI headers the way an appliance does.
///
/// `raw_query` is the query string exactly as it arrived (still percent-encoded), `headers` are
/// matched case-insensitively, and `now` is the appliance clock. The date is checked before the
/// signature, so a skewed clock is reported as such even when the signature is also wrong.
#[allow(clippy::too_many_arguments)] // The signature mirrors the parts of a request one by one.
pub fn verify(
    method: &str,
    path: &str,
    raw_query: Option<&str>,
    body: &[u8],
    headers: &[(String, String)],
    public_token: &str,
    private_token: &str,
    now: OffsetDateTime,
) -> Result<(), AuthFailure> {
    let (Some(token), Some(date), Some(given)) = (
        header(headers, signing::TOKEN_HEADER),
        header(headers, signing::DATE_HEADER),
        header(headers, signing::SIGNATURE_HEADER),
    ) else {
        return Err(AuthFailure::MissingHeaders);
    };
    if token != public_token {
        return Err(AuthFailure::UnknownToken);
    }
    let sent_at = parse_date(date).ok_or(AuthFailure::BadDate)?;
    if (sent_at - now).abs() > MAX_CLOCK_SKEW {
        return Err(AuthFailure::BadDate);
    }
    let target = signed_target(method, path, raw_query, body);
    // Case-sensitive on purpose: clients send lowercase hex, and whether an appliance accepts
    // uppercase is unknown, so a connector should not be allowed to rely on it.
    if signing::signature(private_token, public_token, date, &target) != given {
        return Err(AuthFailure::BadSignature);
    }
    Ok(())
}

/// The first non-empty value of header `name`, matched case-insensitively.
fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(key, _)| key.eq_ignore_ascii_case(name))
        .map(|(_, value)| value.as_str())
        .filter(|value| !value.is_empty())
}

/// Rebuilds the signed target from a request as received.
///
/// A body is signed byte for byte. A query is signed decoded, in the order received, because
/// clients sign values before percent-encoding them for the wire. A POST that carries its
/// parameters in the query instead of a body (as early integrations did) is signed like a GET.
pub(crate) fn signed_target(method: &str, path: &str, raw_query: Option<&str>, body: &[u8]) -> Vec<u8> {
    let takes_body = !matches!(method.to_ascii_uppercase().as_str(), "GET" | "DELETE" | "HEAD");
    if takes_body && !body.is_empty() {
        signing::signed_target(path, body)
    } else {
        signing::signed_target(path, &decode_query(raw_query.unwrap_or("")))
    }
}

/// The query as a client signed it: each key and value percent-decoded, `k=v` joined by `&`.
pub(crate) fn decode_query(raw: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len());
    for pair in raw.split('&').filter(|pair| !pair.is_empty()) {
        if !out.is_empty() {
            out.push(b'&');
        }
        match pair.split_once('=') {
            Some((key, value)) => {
                out.extend(percent_decode(key));
                out.push(b'=');
                out.extend(percent_decode(value));
            }
            None => out.extend(percent_decode(pair)),
        }
    }
    out
}

/// The query's parameters, decoded, in the order received. Invalid UTF-8 is replaced rather
/// than rejected: the parameter checks then report the value as wrong.
pub(crate) fn query_pairs(raw: &str) -> Vec<(String, String)> {
    raw.split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            let decode = |s: &str| String::from_utf8_lossy(&percent_decode(s)).into_owned();
            (decode(key), decode(value))
        })
        .collect()
}

/// Form-style percent-decoding: `%XX` becomes the byte, `+` a space (Python's `requests` encodes
/// spaces as `+`), and a malformed escape is kept literally as Python's `unquote` does.
fn percent_decode(s: &str) -> Vec<u8> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = bytes.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok());
                if let Some(byte) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    out.push(byte);
                    i += 3;
                    continue;
                }
                out.push(b'%');
            }
            other => out.push(other),
        }
        i += 1;
    }
    out
}

/// `20240115T103000`, as XSOAR's first integration and Elastic send it.
const COMPACT: &[FormatItem<'static>] = format_description!("[year][month][day]T[hour][minute][second]");
/// `2024-01-15 10:30:00`, as the Python SDK sends it (fractions tolerated).
const SPACED: &[FormatItem<'static>] =
    format_description!("[year]-[month]-[day] [hour]:[minute]:[second][optional [.[subsecond]]]");
/// `2024-01-15T10:30:00.123456`, the local part of Python's `isoformat()`.
const ISO: &[FormatItem<'static>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second][optional [.[subsecond]]]");

/// Reads a `DTAPI-Date` in any of the forms working clients send. A date without an offset is
/// UTC, as the API guide requires.
pub(crate) fn parse_date(value: &str) -> Option<OffsetDateTime> {
    let (local, offset) = split_offset(value.trim())?;
    [COMPACT, SPACED, ISO]
        .into_iter()
        .find_map(|format| PrimitiveDateTime::parse(local, format).ok())
        .map(|date| date.assume_offset(offset))
}

/// Splits a trailing `Z`, `+HH:MM`, `-HH:MM` or `+HHMM` off a date.
fn split_offset(value: &str) -> Option<(&str, UtcOffset)> {
    if let Some(local) = value.strip_suffix(['Z', 'z']) {
        return Some((local, UtcOffset::UTC));
    }
    for width in [6, 5] {
        let Some(split) = value.len().checked_sub(width) else {
            continue;
        };
        // A date is at least 15 characters, so this only ever looks past the date's own '-'s.
        if split < 15 {
            continue;
        }
        let (Some(local), Some(suffix)) = (value.get(..split), value.get(split..)) else {
            continue;
        };
        if let Some(offset) = parse_offset(suffix) {
            return Some((local, offset));
        }
    }
    Some((value, UtcOffset::UTC))
}

/// `+HH:MM`, `-HH:MM` or `+HHMM`.
fn parse_offset(suffix: &str) -> Option<UtcOffset> {
    let sign = match suffix.as_bytes().first()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let digits: String = suffix[1..].chars().filter(|c| *c != ':').collect();
    if digits.len() != 4 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let hours: i8 = digits[..2].parse().ok()?;
    let minutes: i8 = digits[2..].parse().ok()?;
    UtcOffset::from_hms(sign * hours, sign * minutes, 0).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;
    use time::macros::datetime;

    /// One entry of the shared signature vectors file.
    #[derive(Deserialize)]
    struct Vector {
        id: String,
        method: String,
        path_and_query: String,
        body: Option<String>,
        date: String,
        signature: String,
        public_token: String,
        private_token: String,
    }

    #[derive(Deserialize)]
    struct Vectors {
        vectors: Vec<Vector>,
    }

    fn vectors() -> Vec<Vector> {
        let text = include_str!("../../../connector/tests/data/signature-vectors.json");
        serde_json::from_str::<Vectors>(text).expect("signature-vectors.json parses").vectors
    }

    /// Percent-encodes a decoded query value the way a client would, spaces as `space`.
    fn encode(value: &str, space: &str) -> String {
        value
            .bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
                b' ' => space.to_owned(),
                _ => format!("%{b:02X}"),
            })
            .collect()
    }

    /// A vector as it travels: method, path, wire query, body and headers.
    struct Wire {
        method: String,
        path: String,
        query: Option<String>,
        body: Vec<u8>,
        headers: Vec<(String, String)>,
    }

    fn wire(v: &Vector, space: &str) -> Wire {
        let (path, query) = match v.path_and_query.split_once('?') {
            Some((path, query)) => (path, Some(query)),
            None => (v.path_and_query.as_str(), None),
        };
        let query = query.map(|q| {
            q.split('&')
                .map(|pair| match pair.split_once('=') {
                    Some((k, val)) => format!("{}={}", encode(k, space), encode(val, space)),
                    None => encode(pair, space),
                })
                .collect::<Vec<_>>()
                .join("&")
        });
        Wire {
            method: v.method.clone(),
            path: path.to_owned(),
            query,
            body: v.body.clone().unwrap_or_default().into_bytes(),
            headers: vec![
                ("DTAPI-Token".into(), v.public_token.clone()),
                ("DTAPI-Date".into(), v.date.clone()),
                ("DTAPI-Signature".into(), v.signature.clone()),
            ],
        }
    }

    fn check(w: &Wire, v: &Vector) -> Result<(), AuthFailure> {
        let now = parse_date(&v.date).expect("vector date parses");
        verify(&w.method, &w.path, w.query.as_deref(), &w.body, &w.headers, &v.public_token, &v.private_token, now)
    }

    /// Replaces the byte at `at` with a different printable character.
    fn flip(text: &str, at: usize) -> String {
        let mut bytes = text.as_bytes().to_vec();
        bytes[at] = if bytes[at] == b'0' { b'1' } else { b'0' };
        String::from_utf8(bytes).expect("ASCII stays UTF-8")
    }

    #[test]
    fn every_signature_vector_verifies_with_percent_and_plus_encoded_queries() {
        let all = vectors();
        assert!(all.len() >= 10, "expected the full vector set, got {}", all.len());
        for v in &all {
            for space in ["%20", "+"] {
                assert_eq!(check(&wire(v, space), v), Ok(()), "vector {} (space as {space})", v.id);
            }
        }
    }

    #[test]
    fn changing_one_byte_of_any_vector_signature_is_a_bad_signature() {
        for v in &vectors() {
            let mut w = wire(v, "%20");
            w.headers[2].1 = flip(&v.signature, v.signature.len() / 2);
            assert_eq!(check(&w, v), Err(AuthFailure::BadSignature), "vector {}", v.id);
        }
    }

    #[test]
    fn changing_one_byte_of_any_vector_request_is_a_bad_signature() {
        for v in &vectors() {
            let mut w = wire(v, "%20");
            if !w.body.is_empty() {
                let last = w.body.len() - 2;
                w.body[last] ^= 0x01;
            } else if let Some(query) = &w.query {
                w.query = Some(flip(query, query.len() - 1));
            } else {
                w.path.push('x');
            }
            assert_eq!(check(&w, v), Err(AuthFailure::BadSignature), "vector {}", v.id);
        }
    }

    fn status_request(date: &str) -> Vec<(String, String)> {
        let public = "0123456789abcdef0123456789abcdef01234567";
        let private = "fedcba9876543210fedcba9876543210fedcba98";
        let signature = signing::signature(private, public, date, b"/status");
        vec![
            ("dtapi-token".into(), public.into()),
            ("dtapi-date".into(), date.into()),
            ("dtapi-signature".into(), signature),
        ]
    }

    fn verify_status(headers: &[(String, String)], public: &str, now: OffsetDateTime) -> Result<(), AuthFailure> {
        let private = "fedcba9876543210fedcba9876543210fedcba98";
        verify("GET", "/status", None, b"", headers, public, private, now)
    }

    const PUBLIC: &str = "0123456789abcdef0123456789abcdef01234567";

    #[test]
    fn a_date_thirty_one_minutes_off_is_a_bad_date() {
        let headers = status_request("20240115T103000");
        assert_eq!(verify_status(&headers, PUBLIC, datetime!(2024-01-15 11:01:00 UTC)), Err(AuthFailure::BadDate));
        assert_eq!(verify_status(&headers, PUBLIC, datetime!(2024-01-15 09:59:00 UTC)), Err(AuthFailure::BadDate));
        assert_eq!(verify_status(&headers, PUBLIC, datetime!(2024-01-15 10:59:00 UTC)), Ok(()));
    }

    #[test]
    fn an_unreadable_date_is_a_bad_date() {
        let headers = status_request("15/01/2024 10:30");
        assert_eq!(verify_status(&headers, PUBLIC, datetime!(2024-01-15 10:30:00 UTC)), Err(AuthFailure::BadDate));
    }

    #[test]
    fn missing_headers_are_reported_as_missing() {
        let mut headers = status_request("20240115T103000");
        headers.remove(1);
        assert_eq!(
            verify_status(&headers, PUBLIC, datetime!(2024-01-15 10:30:00 UTC)),
            Err(AuthFailure::MissingHeaders)
        );
        assert_eq!(verify_status(&[], PUBLIC, datetime!(2024-01-15 10:30:00 UTC)), Err(AuthFailure::MissingHeaders));
    }

    #[test]
    fn a_wrong_public_token_is_an_unknown_token() {
        let headers = status_request("20240115T103000");
        let other = "1111111111111111111111111111111111111111";
        assert_eq!(verify_status(&headers, other, datetime!(2024-01-15 10:30:00 UTC)), Err(AuthFailure::UnknownToken));
    }

    #[test]
    fn uppercase_hex_signature_is_rejected() {
        let mut headers = status_request("20240115T103000");
        headers[2].1 = headers[2].1.to_uppercase();
        assert_eq!(verify_status(&headers, PUBLIC, datetime!(2024-01-15 10:30:00 UTC)), Err(AuthFailure::BadSignature));
    }

    #[test]
    fn every_date_form_clients_send_is_read_as_utc() {
        let expected = datetime!(2024-01-15 10:30:00 UTC);
        for form in ["20240115T103000", "2024-01-15 10:30:00", "2024-01-15T10:30:00+00:00", "2024-01-15T10:30:00Z"] {
            assert_eq!(parse_date(form), Some(expected), "{form}");
        }
        assert_eq!(parse_date("2024-01-15T10:30:00.123456+00:00"), Some(expected + Duration::microseconds(123_456)));
        assert_eq!(parse_date("2024-01-15T11:30:00+01:00"), Some(expected));
        assert_eq!(parse_date("2024-01-15T10:30:00.5Z"), Some(expected + Duration::milliseconds(500)));
    }

    #[test]
    fn malformed_percent_escapes_are_kept_literally() {
        assert_eq!(decode_query("a=%zz&b=%4"), b"a=%zz&b=%4");
        assert_eq!(decode_query("q=web+01%21&&x"), b"q=web 01!&x");
    }
}
