//! The signing ground truth: every published vector, through the signing functions and through
//! the request builder.

use darktrace_connector::Connection;
use darktrace_connector::request::ApiRequest;
use darktrace_connector::signing;
use serde_json::Value;
use time::macros::format_description;

fn vectors() -> Vec<Value> {
    let doc: Value = serde_json::from_str(include_str!("data/signature-vectors.json")).expect("vectors file is JSON");
    doc["vectors"].as_array().expect("vectors array").clone()
}

fn s<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key].as_str().unwrap_or_else(|| panic!("{} has no {key}", v["id"]))
}

#[test]
fn every_vector_signs_to_the_expected_signature() {
    let all = vectors();
    assert!(all.len() >= 16, "the vectors file lost entries");
    for v in &all {
        let (path, query) = match s(v, "path_and_query").split_once('?') {
            Some((p, q)) => (p, q.as_bytes().to_vec()),
            None => (s(v, "path_and_query"), Vec::new()),
        };
        let payload = match v["body"].as_str() {
            Some(body) => body.as_bytes().to_vec(),
            None => query,
        };
        let target = signing::signed_target(path, &payload);
        assert_eq!(String::from_utf8_lossy(&target), s(v, "signed_string"), "{}", v["id"]);
        let sig = signing::signature(s(v, "private_token"), s(v, "public_token"), s(v, "date"), &target);
        assert_eq!(sig, s(v, "signature"), "vector {}", v["id"]);
    }
}

fn vector(id: &str) -> Value {
    vectors().into_iter().find(|v| v["id"] == id).unwrap_or_else(|| panic!("no vector {id}"))
}

fn signed_header(req: &ApiRequest, v: &Value) -> (String, Vec<(String, String)>) {
    let conn = Connection::new("dt.example.com", s(v, "public_token"), s(v, "private_token")).unwrap();
    let date =
        time::PrimitiveDateTime::parse(s(v, "date"), format_description!("[year][month][day]T[hour][minute][second]"))
            .expect("builder vectors use the compact date")
            .assume_utc();
    let wire = req.sign(&conn, date);
    (wire.url, wire.headers)
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> &'a str {
    &headers.iter().find(|(k, _)| k == name).unwrap().1
}

#[test]
fn request_builder_reproduces_the_multi_parameter_get_vector() {
    let v = vector("V3");
    let req = ApiRequest::get("/modelbreaches")
        .param("starttime", 1_705_311_000_000i64)
        .param("endtime", 1_705_314_600_000i64)
        .param("minscore", 0.5)
        .param("includeacknowledged", false)
        .param("expandenums", true);
    let (url, headers) = signed_header(&req, &v);
    assert_eq!(url, format!("https://dt.example.com{}", s(&v, "path_and_query")));
    assert_eq!(header(&headers, "DTAPI-Signature"), s(&v, "signature"));
    assert_eq!(header(&headers, "DTAPI-Date"), s(&v, "date"));
}

#[test]
fn request_builder_signs_decoded_and_sends_encoded_values() {
    let v = vector("V8");
    let req = ApiRequest::get("/devicesearch").param("query", "hostname:\"web 01\"").param("count", 50);
    let (url, headers) = signed_header(&req, &v);
    assert_eq!(url, "https://dt.example.com/devicesearch?query=hostname%3A%22web%2001%22&count=50");
    assert_eq!(header(&headers, "DTAPI-Signature"), s(&v, "signature"));
}

#[test]
fn request_builder_reproduces_the_json_post_vectors() {
    for (id, path, body) in [
        ("V5", "/modelbreaches/12345/comments", serde_json::json!({"message": "Investigated by SOAR"})),
        ("V9", "/modelbreaches/12345/acknowledge", serde_json::json!({"acknowledge": true})),
    ] {
        let v = vector(id);
        let (_, headers) = signed_header(&ApiRequest::post_json(path, &body), &v);
        assert_eq!(header(&headers, "DTAPI-Signature"), s(&v, "signature"), "{id}");
    }
}

#[test]
fn request_builder_reproduces_the_form_post_vectors() {
    let v = vector("V6b");
    let req = ApiRequest::post_form(
        "/aianalyst/acknowledge",
        &[("uuid", "bc64f242-ce29-4f35-bc94-230991116564,750d9a5e-8df9-43fb-b3a3-1d1915dbc5fc")],
    );
    let (_, headers) = signed_header(&req, &v);
    assert_eq!(header(&headers, "DTAPI-Signature"), s(&v, "signature"));
}
