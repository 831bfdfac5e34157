//! `request_building`: `ApiRequest` to `WireRequest` with signing, on arbitrary paths,
//! parameters and bodies.

use arbitrary::{Arbitrary, Unstructured};
use darktrace_connector::ApiRequest;
use darktrace_connector::request::{Method, encode};
use darktrace_connector::signing;
use serde_json::{Map, Number, Value};
use time::OffsetDateTime;

use crate::checks::check_wire;
use crate::{API_ADDRESS, PRIVATE_TOKEN, connection};

/// What kind of request to build.
#[derive(Arbitrary, Debug)]
enum Kind {
    Get,
    Delete,
    Json,
    Form,
}

/// The request, as the fuzzer describes it.
#[derive(Arbitrary, Debug)]
struct Case {
    kind: Kind,
    /// Path segments; only characters a path may carry are kept, as every action's paths are
    /// built from constants, numbers and base64.
    segments: Vec<String>,
    /// Parameters added with `param`, then with `opt_param`.
    params: Vec<(String, String)>,
    optional: Vec<(String, Option<String>)>,
    /// The fields of a form body.
    form: Vec<(String, String)>,
    idempotent: Option<bool>,
    /// The signing time, folded into years 0000 to 9999 (what `DTAPI-Date` can write).
    seconds: i64,
    nanos: u32,
    /// A string run through `encode` on its own.
    loose: String,
}

/// A JSON value of at most `depth` levels, drawn from `u`.
fn json(u: &mut Unstructured, depth: u32) -> arbitrary::Result<Value> {
    let top = if depth == 0 { 5 } else { 7 };
    Ok(match u.int_in_range(0..=top)? {
        0 => Value::Null,
        1 => Value::Bool(u.arbitrary()?),
        2 => Value::from(u.arbitrary::<i64>()?),
        3 => Value::from(u.arbitrary::<u64>()?),
        4 => Number::from_f64(u.arbitrary()?).map_or(Value::Null, Value::Number),
        5 => Value::String(u.arbitrary()?),
        6 => Value::Array((0..u.int_in_range(0..=4)?).map(|_| json(u, depth - 1)).collect::<Result<_, _>>()?),
        _ => {
            let mut map = Map::new();
            for _ in 0..u.int_in_range(0..=4)? {
                map.insert(u.arbitrary()?, json(u, depth - 1)?);
            }
            Value::Object(map)
        }
    })
}

/// Reads a form or query text back into pairs, as a server would.
fn read_pairs(text: &str) -> Vec<(String, String)> {
    form_urlencoded::parse(text.as_bytes()).into_owned().collect()
}

/// Input: bytes for `arbitrary`: the request kind, path segments, parameters, optional
/// parameters, form fields, a JSON body, the idempotent flag and the signing time.
///
/// Invariants: no panic; the wire request passes [`check_wire`] (URL parses under the address,
/// no raw separators, signature over exactly what was sent, private token absent unless the
/// fuzzer wrote it); the query reads back to the same pairs in order (empty or missing optional
/// values dropped); a JSON body reads back to the value given, a form body to its fields; the
/// date header is the signing time; `Content-Type` is there exactly when a body is;
/// idempotence follows the method unless set; `encode` output decodes back to its input.
pub fn request_building(data: &[u8]) {
    let mut u = Unstructured::new(data);
    let Ok(case) = Case::arbitrary(&mut u) else { return };
    let Ok(body) = json(&mut u, 3) else { return };

    let encoded = encode(&case.loose);
    assert!(encoded.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~%".contains(&b)), "{encoded}");
    let decoded = percent_encoding::percent_decode_str(&encoded).decode_utf8().expect("encode output is ASCII");
    assert_eq!(decoded, case.loose, "encode does not decode back");

    let segments: Vec<String> = case
        .segments
        .iter()
        .map(|s| s.chars().filter(|c| c.is_ascii_alphanumeric() || "-._~+=".contains(*c)).collect())
        .collect();
    let path = format!("/{}", segments.join("/"));
    let mut request = match case.kind {
        Kind::Get => ApiRequest::get(path.clone()),
        Kind::Delete => ApiRequest::new(Method::Delete, path.clone()),
        Kind::Json => ApiRequest::post_json(path.clone(), &body),
        Kind::Form => ApiRequest::post_form(path.clone(), &case.form),
    };
    let default_idempotent = matches!(case.kind, Kind::Get | Kind::Delete);
    if let Some(idempotent) = case.idempotent {
        request = request.idempotent(idempotent);
    }
    assert_eq!(request.is_idempotent(), case.idempotent.unwrap_or(default_idempotent));

    let mut expected = Vec::new();
    for (k, v) in &case.params {
        request = request.param(k, v);
        expected.push((k.clone(), v.clone()));
    }
    for (k, v) in &case.optional {
        request = request.opt_param(k, v.as_deref());
        if let Some(v) = v.as_ref().filter(|v| !v.is_empty()) {
            expected.push((k.clone(), v.clone()));
        }
    }

    const FIRST: i64 = -62_167_219_200; // 0000-01-01T00:00:00Z
    const SPAN: i64 = 253_402_300_800 - FIRST; // to 10000-01-01T00:00:00Z
    let seconds = FIRST + case.seconds.rem_euclid(SPAN);
    let now = OffsetDateTime::from_unix_timestamp(seconds).expect("inside 0000..9999")
        + time::Duration::nanoseconds(i64::from(case.nanos % 1_000_000_000));
    let wire = request.sign(&connection(), now);

    let strings = case.params.iter().flat_map(|(k, v)| [k, v]).chain(case.form.iter().flat_map(|(k, v)| [k, v]));
    let secret_may_appear =
        strings.chain(case.optional.iter().map(|(k, _)| k)).chain(&segments).any(|s| s.contains(PRIVATE_TOKEN))
            || case.optional.iter().any(|(_, v)| v.as_deref().is_some_and(|v| v.contains(PRIVATE_TOKEN)))
            || body.to_string().contains(PRIVATE_TOKEN);
    check_wire(&wire, secret_may_appear);

    let query = wire.url.split_once('?').map_or("", |(_, q)| q);
    assert_eq!(read_pairs(query), expected, "the query does not read back: {}", wire.url);
    assert_eq!(wire.url, format!("https://{API_ADDRESS}{}", request.path_and_query()));
    assert!(request.path_and_query().starts_with(&path));
    let date = wire.headers.iter().find(|(k, _)| k == signing::DATE_HEADER).map(|(_, v)| v.as_str());
    assert_eq!(date, Some(signing::format_date(now).as_str()));
    let content_type = wire.headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("content-type"));
    assert_eq!(content_type, wire.body.is_some(), "Content-Type without a body or a body without it");

    match case.kind {
        Kind::Get | Kind::Delete => assert_eq!(wire.body, None),
        Kind::Json => {
            let sent: Value =
                serde_json::from_slice(wire.body.as_deref().expect("a JSON body")).expect("check_wire parsed it");
            let plain: Value = serde_json::from_str(&body.to_string()).expect("serde_json reads its own output");
            assert_eq!(sent, plain, "the ASCII-escaped body reads back to another value");
        }
        Kind::Form => {
            let sent = std::str::from_utf8(wire.body.as_deref().expect("a form body")).expect("ASCII");
            assert_eq!(read_pairs(sent), case.form, "the form body does not read back: {sent}");
        }
    }
}
