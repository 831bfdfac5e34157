//! Invariants over what goes on the wire and what comes back to the caller.

use darktrace_connector::{Result, WireRequest, signing};

use crate::{API_ADDRESS, PRIVATE_TOKEN, PUBLIC_TOKEN};

/// Every error case the connector has; anything else is not a typed error.
const ALL_CASES: &[&str] = &[
    "invalid-input",
    "invalid-connection",
    "signature-rejected",
    "clock-skew",
    "permission-denied",
    "not-found",
    "rate-limited",
    "transport",
    "timeout",
    "upstream",
    "unexpected-response",
    "response-too-large",
    "unsupported",
    "other",
];

/// The longest error message accepted.
const MAX_MESSAGE_BYTES: usize = 8 * 1024;

/// Characters a request path may carry as they are: RFC 3986 unreserved, `/`, and the `+` and
/// `=` of the base64 in a legacy Advanced Search path.
fn path_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-._~/+=".contains(&b)
}

/// Checks `text` holds only unreserved characters, well-formed `%XX` escapes and the
/// `separators`, and returns its `&`-separated `key=value` pairs decoded.
fn decode_pairs(what: &str, text: &str) -> Vec<(String, String)> {
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'%' {
            let hex = bytes.get(i + 1..i + 3).unwrap_or_else(|| panic!("{what} ends in a cut `%` escape: {text:?}"));
            assert!(
                hex.iter().all(|h| h.is_ascii_digit() || (b'A'..=b'F').contains(h)),
                "{what} has a malformed `%` escape: {text:?}"
            );
            i += 3;
        } else {
            assert!(
                b.is_ascii_alphanumeric() || b"-._~&=".contains(&b),
                "{what} carries the raw byte {b:#04x} where only unreserved characters and escapes belong: {text:?}"
            );
            i += 1;
        }
    }
    text.split('&')
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or_else(|| panic!("{what} has a pair without `=`: {text:?}"));
            assert!(!v.contains('='), "{what} has an unescaped `=` in a value: {text:?}");
            let decode = |s: &str| {
                percent_encoding::percent_decode_str(s)
                    .decode_utf8()
                    .unwrap_or_else(|_| panic!("{what} decodes to invalid UTF-8: {text:?}"))
                    .into_owned()
            };
            (decode(k), decode(v))
        })
        .collect()
}

/// The value of the only header named `name`.
fn header<'a>(request: &'a WireRequest, name: &str) -> &'a str {
    let mut found = request.headers.iter().filter(|(k, _)| k.eq_ignore_ascii_case(name));
    let (_, value) = found.next().unwrap_or_else(|| panic!("no {name} header: {request:?}"));
    assert!(found.next().is_none(), "two {name} headers: {request:?}");
    value
}

/// Checks a request a transport received: the URL is under the connection's address with a
/// path that needs no encoding and a query whose every key and value is percent-encoded, so no
/// value can add a parameter, a fragment or a line; the http crate parses it and a form reader
/// reads the same pairs back; the three
/// DTAPI headers are there and the signature is the HMAC of exactly what was sent; a JSON body
/// is ASCII JSON and a form body is encoded like a query. Unless `secret_may_appear` (the
/// fuzzer put the private token in the input itself), the private token appears nowhere.
pub fn check_wire(request: &WireRequest, secret_may_appear: bool) {
    let base = format!("https://{API_ADDRESS}");
    let rest =
        request.url.strip_prefix(&base).unwrap_or_else(|| panic!("the URL is not under {base}: {:?}", request.url));
    assert!(rest.starts_with('/'), "the URL has no path after the address: {:?}", request.url);
    let (path, query) = match rest.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (rest, None),
    };
    assert!(path.bytes().all(path_byte), "the path carries a character that needs encoding: {path:?}");
    let pairs = match query {
        Some(query) => {
            assert!(!query.is_empty(), "the URL ends in an empty `?`: {:?}", request.url);
            decode_pairs("the query", query)
        }
        None => Vec::new(),
    };

    // The http crate's parser is the one hyper, and so the host's sender, reads the URL with.
    let uri: http::Uri =
        request.url.parse().unwrap_or_else(|e| panic!("the URL does not parse ({e}): {:?}", request.url));
    assert_eq!(
        (uri.scheme_str(), uri.host(), uri.port_u16()),
        (Some("https"), Some(API_ADDRESS), None),
        "{:?}",
        request.url
    );
    assert_eq!((uri.path(), uri.query()), (path, query), "{:?}", request.url);
    let read_back: Vec<(String, String)> =
        form_urlencoded::parse(query.unwrap_or("").as_bytes()).into_owned().collect();
    assert_eq!(read_back, pairs, "a form reader reads other pairs from {:?}", request.url);

    for (name, value) in &request.headers {
        assert!(
            name.bytes().all(|b| b.is_ascii_graphic()) && value.bytes().all(|b| b == b' ' || b.is_ascii_graphic()),
            "a header carries a control or non-ASCII character: {name:?}: {value:?}"
        );
    }
    assert_eq!(header(request, signing::TOKEN_HEADER), PUBLIC_TOKEN);
    let date = header(request, signing::DATE_HEADER);
    assert!(
        date.len() == 15 && date.bytes().enumerate().all(|(i, b)| if i == 8 { b == b'T' } else { b.is_ascii_digit() }),
        "the date is not YYYYMMDDTHHMMSS: {date:?}"
    );
    let signature = header(request, signing::SIGNATURE_HEADER);
    let target = match &request.body {
        Some(body) => signing::signed_target(path, body),
        None => {
            let decoded: Vec<String> = pairs.iter().map(|(k, v)| format!("{k}={v}")).collect();
            signing::signed_target(path, decoded.join("&").as_bytes())
        }
    };
    assert_eq!(
        signature,
        signing::signature(PRIVATE_TOKEN, PUBLIC_TOKEN, date, &target),
        "the signature is not over what was sent: {request:?}"
    );

    if let Some(body) = &request.body {
        match header(request, "content-type") {
            "application/json" => {
                assert!(body.is_ascii(), "a JSON body carries non-ASCII bytes: {}", String::from_utf8_lossy(body));
                serde_json::from_slice::<serde_json::Value>(body)
                    .unwrap_or_else(|e| panic!("a JSON body does not parse ({e}): {}", String::from_utf8_lossy(body)));
            }
            "application/x-www-form-urlencoded" => {
                let text = std::str::from_utf8(body).expect("a form body is ASCII");
                if !text.is_empty() {
                    decode_pairs("the form body", text);
                }
            }
            other => panic!("unexpected content type {other:?}"),
        }
    }

    if !secret_may_appear {
        let body = request.body.as_deref().map(String::from_utf8_lossy).unwrap_or_default();
        assert!(!request.url.contains(PRIVATE_TOKEN), "the private token is in the URL");
        assert!(!body.contains(PRIVATE_TOKEN), "the private token is in the body");
        assert!(request.headers.iter().all(|(_, v)| !v.contains(PRIVATE_TOKEN)), "the private token is in a header");
    }
}

/// Checks what a call returned: a result is JSON text; an error is one of `allowed` (all of them
/// typed cases) with a non-empty message of at most 8 KiB. Unless `secret_may_appear`, neither
/// carries the private token.
pub fn check_result(action: &str, result: &Result<String>, allowed: &[&str], secret_may_appear: bool) {
    match result {
        Ok(text) => {
            serde_json::from_str::<serde_json::Value>(text)
                .unwrap_or_else(|e| panic!("{action}: the result is not JSON ({e}): {text}"));
            assert!(secret_may_appear || !text.contains(PRIVATE_TOKEN), "{action}: the private token is in the result");
        }
        Err(error) => {
            let case = error.case();
            assert!(ALL_CASES.contains(&case), "{action}: unknown error case {case}");
            assert!(allowed.contains(&case), "{action}: an error of case {case} cannot happen here: {error}");
            assert!(!error.message().trim().is_empty(), "{action}: a {case} error with an empty message");
            // Messages quote excerpts, never whole inputs or answers, whatever their size.
            assert!(
                error.message().len() <= MAX_MESSAGE_BYTES,
                "{action}: a {case} error of {} bytes",
                error.message().len()
            );
            let shown = format!("{error} {error:?}");
            assert!(secret_may_appear || !shown.contains(PRIVATE_TOKEN), "{action}: the private token is in the error");
        }
    }
}
