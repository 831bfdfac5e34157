//! The one request builder every action goes through.
//!
//! A request is described once (method, path, ordered parameters or body) and both the signed
//! target and the bytes on the wire are derived from that description, so they cannot drift:
//! GET parameters are signed decoded and sent percent-encoded, in the same order; a body is
//! serialised once and those exact bytes are signed and sent.

use std::fmt::{self, Display};

use serde::Serialize;
use time::OffsetDateTime;

use crate::connection::Connection;
use crate::error::{Error, Result};
use crate::signing;

/// Longest path and query sent. The web servers in front of appliances commonly refuse request
/// lines over 8 KiB with a bare 414 or a dropped connection; refusing first gives a clear error.
pub const MAX_PATH_AND_QUERY_BYTES: usize = 8 * 1024;
/// Largest request body sent.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// HTTP methods the connector uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// GET
    Get,
    /// POST
    Post,
    /// DELETE
    Delete,
}

impl Method {
    /// The method name on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Delete => "DELETE",
        }
    }
}

/// A request body, serialised once.
#[derive(Debug, Clone, PartialEq)]
pub struct Body {
    /// The exact bytes that are signed and sent.
    pub bytes: Vec<u8>,
    /// The `Content-Type` header value.
    pub content_type: &'static str,
}

/// A request to the Darktrace API, before signing.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiRequest {
    method: Method,
    path: String,
    params: Vec<(String, String)>,
    body: Option<Body>,
    idempotent: bool,
}

impl ApiRequest {
    /// A request with no parameters and no body. `path` starts with `/`. GET and DELETE are
    /// idempotent; a POST is not unless [`ApiRequest::idempotent`] says so.
    pub fn new(method: Method, path: impl Into<String>) -> Self {
        let idempotent = matches!(method, Method::Get | Method::Delete);
        ApiRequest { method, path: path.into(), params: Vec::new(), body: None, idempotent }
    }

    /// Marks whether sending this request twice has the same effect as sending it once, which
    /// decides whether the client may retry it after a 429 or 5xx. Set it on POSTs that state an
    /// absolute outcome (acknowledge, pin, a RESPOND action's new state); never on POSTs that
    /// create something (a comment, a manual RESPOND action), which a retry would duplicate.
    pub fn idempotent(mut self, idempotent: bool) -> Self {
        self.idempotent = idempotent;
        self
    }

    /// Whether the request may be sent again after a retryable failure.
    pub fn is_idempotent(&self) -> bool {
        self.idempotent
    }

    /// A GET request.
    pub fn get(path: impl Into<String>) -> Self {
        Self::new(Method::Get, path)
    }

    /// A POST request with a JSON body, serialised compactly with non-ASCII escaped so the signed
    /// bytes are plain ASCII whatever the appliance assumes about character sets.
    pub fn post_json(path: impl Into<String>, body: &impl Serialize) -> Self {
        let mut bytes = Vec::new();
        let mut ser = serde_json::Serializer::with_formatter(&mut bytes, AsciiFormatter);
        body.serialize(&mut ser).expect("serialising to memory cannot fail");
        Self { body: Some(Body { bytes, content_type: "application/json" }), ..Self::new(Method::Post, path) }
    }

    /// A POST request with a form body (`k=v&...`, percent-encoded).
    pub fn post_form<K: AsRef<str>, V: AsRef<str>>(path: impl Into<String>, fields: &[(K, V)]) -> Self {
        let encoded: Vec<String> =
            fields.iter().map(|(k, v)| format!("{}={}", encode(k.as_ref()), encode(v.as_ref()))).collect();
        let body = Body { bytes: encoded.join("&").into_bytes(), content_type: "application/x-www-form-urlencoded" };
        Self { body: Some(body), ..Self::new(Method::Post, path) }
    }

    /// Appends a query parameter. Parameters keep the order they are added in.
    pub fn param(mut self, key: &str, value: impl Display) -> Self {
        self.params.push((key.to_owned(), value.to_string()));
        self
    }

    /// Appends a query parameter when `value` is `Some`; empty values are dropped, as the API
    /// treats an empty parameter differently from a missing one.
    pub fn opt_param(self, key: &str, value: Option<impl Display>) -> Self {
        match value.map(|v| v.to_string()) {
            Some(v) if !v.is_empty() => self.param(key, v),
            _ => self,
        }
    }

    /// The method.
    pub fn method(&self) -> Method {
        self.method
    }

    /// The path, without query.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The body, if any.
    pub fn body(&self) -> Option<&Body> {
        self.body.as_ref()
    }

    /// Refuses a request larger than an appliance takes ([`MAX_PATH_AND_QUERY_BYTES`],
    /// [`MAX_BODY_BYTES`]), naming the parameter that makes it so, before anything is signed.
    pub fn check_size(&self) -> Result<()> {
        let sent =
            self.path.len() + self.params.iter().map(|(k, v)| encoded_len(k) + encoded_len(v) + 2).sum::<usize>();
        if sent > MAX_PATH_AND_QUERY_BYTES {
            let largest = self.params.iter().map(|(k, v)| (k, encoded_len(v))).max_by_key(|&(_, len)| len);
            let culprit = match largest {
                Some((k, len)) if len > self.path.len() => format!("the `{k}` parameter ({len} bytes encoded)"),
                _ => format!("the path ({} bytes)", self.path.len()),
            };
            return Err(Error::InvalidInput(format!(
                "the request would be {sent} bytes of path and query, over the {} KiB appliances accept; {culprit} is the \
                 largest part, so shorten that value",
                MAX_PATH_AND_QUERY_BYTES / 1024
            )));
        }
        match &self.body {
            Some(body) if body.bytes.len() > MAX_BODY_BYTES => Err(Error::InvalidInput(format!(
                "the request body would be {} bytes, over the {} MiB limit; send less in one call",
                body.bytes.len(),
                MAX_BODY_BYTES / (1024 * 1024)
            ))),
            _ => Ok(()),
        }
    }

    /// What gets signed before the public token and the date.
    pub fn signed_target(&self) -> Vec<u8> {
        match &self.body {
            Some(body) => signing::signed_target(&self.path, &body.bytes),
            None => signing::signed_target(&self.path, self.query(|s| s.to_owned()).as_bytes()),
        }
    }

    /// Path and percent-encoded query, as sent.
    pub fn path_and_query(&self) -> String {
        let query = self.query(encode);
        if query.is_empty() { self.path.clone() } else { format!("{}?{}", self.path, query) }
    }

    fn query(&self, enc: impl Fn(&str) -> String) -> String {
        let pairs: Vec<String> = self.params.iter().map(|(k, v)| format!("{}={}", enc(k), enc(v))).collect();
        pairs.join("&")
    }

    /// Signs the request for `conn` at `now` and returns what goes on the wire.
    pub fn sign(&self, conn: &Connection, now: OffsetDateTime) -> WireRequest {
        // One date, used for both the header and the signature.
        let date = signing::format_date(now);
        let signature = signing::signature(conn.private_token(), conn.public_token(), &date, &self.signed_target());
        let mut headers = vec![
            (signing::TOKEN_HEADER.to_owned(), conn.public_token().to_owned()),
            (signing::DATE_HEADER.to_owned(), date),
            (signing::SIGNATURE_HEADER.to_owned(), signature),
            ("Accept".to_owned(), "application/json".to_owned()),
        ];
        if let Some(body) = &self.body {
            headers.push(("Content-Type".to_owned(), body.content_type.to_owned()));
            // A length, never chunked framing: appliances and proxies that do not take chunked
            // request bodies see an empty body and answer `API SIGNATURE ERROR` (issue 12).
            headers.push(("Content-Length".to_owned(), body.bytes.len().to_string()));
        }
        WireRequest {
            method: self.method,
            url: format!("{}{}", conn.base_url(), self.path_and_query()),
            headers,
            body: self.body.as_ref().map(|b| b.bytes.clone()),
        }
    }
}

/// A signed request, ready for a transport.
#[derive(Clone, PartialEq)]
pub struct WireRequest {
    /// The method.
    pub method: Method,
    /// The absolute URL.
    pub url: String,
    /// Header names and values, in order.
    pub headers: Vec<(String, String)>,
    /// The body bytes, if any.
    pub body: Option<Vec<u8>>,
}

impl fmt::Debug for WireRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WireRequest")
            .field("method", &self.method)
            .field("url", &self.url)
            .field("headers", &self.headers)
            .field("body_len", &self.body.as_ref().map(Vec::len))
            .finish()
    }
}

/// Percent-encodes everything but RFC 3986 unreserved characters, so values such as `&`, `=`,
/// `#`, `%`, spaces and line breaks can never change the structure of a query or form body.
pub fn encode(s: &str) -> String {
    let mut out = String::with_capacity(encoded_len(s));
    for b in s.bytes() {
        if unreserved(b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The length of [`encode`]`(s)`, without building it.
fn encoded_len(s: &str) -> usize {
    s.bytes().map(|b| if unreserved(b) { 1 } else { 3 }).sum()
}

/// The bytes [`encode`] leaves as they are (RFC 3986 unreserved characters).
fn unreserved(b: u8) -> bool {
    matches!(b, b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~')
}

/// A compact JSON formatter that writes non-ASCII characters as `\uXXXX` escapes.
struct AsciiFormatter;

impl serde_json::ser::Formatter for AsciiFormatter {
    fn write_string_fragment<W: ?Sized + std::io::Write>(
        &mut self,
        writer: &mut W,
        fragment: &str,
    ) -> std::io::Result<()> {
        for c in fragment.chars() {
            if c.is_ascii() {
                writer.write_all(&[c as u8])?;
            } else {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    write!(writer, "\\u{unit:04x}")?;
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn get_parameters_are_signed_decoded_and_sent_encoded_in_the_same_order() {
        let r = ApiRequest::get("/devicesearch").param("query", "hostname:\"web 01\"").param("count", 50);
        assert_eq!(r.signed_target(), b"/devicesearch?query=hostname:\"web 01\"&count=50");
        assert_eq!(r.path_and_query(), "/devicesearch?query=hostname%3A%22web%2001%22&count=50");
    }

    #[test]
    fn an_oversized_query_is_refused_naming_its_largest_parameter() {
        let r = ApiRequest::get("/devicesearch").param("count", 10).param("query", "é".repeat(2000));
        let err = r.check_size().unwrap_err();
        assert_eq!(err.case(), "invalid-input");
        assert!(err.message().contains("`query` parameter (12000 bytes encoded)"), "{err}");
        assert!(ApiRequest::get("/devicesearch").param("query", "x".repeat(8000)).check_size().is_ok());
    }

    #[test]
    fn an_oversized_body_is_refused() {
        let r = ApiRequest::post_json("/intelfeed", &json!({"entries": "x".repeat(MAX_BODY_BYTES)}));
        assert!(r.check_size().unwrap_err().message().contains("1 MiB limit"));
    }

    #[test]
    fn query_injection_characters_are_encoded_on_the_wire() {
        let r = ApiRequest::get("/x").param("q", "a&b=c#d%e\nf+g");
        assert_eq!(r.path_and_query(), "/x?q=a%26b%3Dc%23d%25e%0Af%2Bg");
    }

    #[test]
    fn json_body_is_compact_and_signed_as_sent() {
        let r = ApiRequest::post_json("/modelbreaches/12345/comments", &json!({"message": "Investigated by SOAR"}));
        assert_eq!(r.body().unwrap().bytes, br#"{"message":"Investigated by SOAR"}"#);
        assert_eq!(r.signed_target(), br#"/modelbreaches/12345/comments?{"message":"Investigated by SOAR"}"#);
        assert_eq!(r.path_and_query(), "/modelbreaches/12345/comments");
    }

    #[test]
    fn json_body_escapes_non_ascii() {
        let r = ApiRequest::post_json("/c", &json!({"message": "café 🚀"}));
        assert_eq!(r.body().unwrap().bytes, br#"{"message":"caf\u00e9 \ud83d\ude80"}"#);
        let back: serde_json::Value = serde_json::from_slice(&r.body().unwrap().bytes).unwrap();
        assert_eq!(back["message"], "café 🚀");
    }

    #[test]
    fn form_body_is_signed_exactly_as_sent() {
        let r = ApiRequest::post_form("/aianalyst/acknowledge", &[("uuid", "a,b")]);
        assert_eq!(r.body().unwrap().bytes, b"uuid=a%2Cb");
        assert_eq!(r.signed_target(), b"/aianalyst/acknowledge?uuid=a%2Cb");
    }

    #[test]
    fn empty_and_missing_optional_parameters_are_dropped() {
        let r = ApiRequest::get("/status").opt_param("a", None::<u8>).opt_param("b", Some(""));
        assert_eq!(r.path_and_query(), "/status");
        assert_eq!(r.signed_target(), b"/status");
    }

    #[test]
    fn signed_request_carries_the_three_headers_and_not_the_private_token() {
        let conn = Connection::new("dt.example.com", "pub", "secret-private").unwrap();
        let now = time::macros::datetime!(2024-01-15 10:30:00 UTC);
        let wire = ApiRequest::get("/status").sign(&conn, now);
        assert_eq!(wire.url, "https://dt.example.com/status");
        let names: Vec<&str> = wire.headers.iter().map(|(k, _)| k.as_str()).collect();
        assert!(names.starts_with(&["DTAPI-Token", "DTAPI-Date", "DTAPI-Signature"]));
        assert!(wire.headers.iter().all(|(_, v)| !v.contains("secret-private")));
        assert_eq!(wire.headers[1].1, "20240115T103000");
    }

    #[test]
    fn a_request_with_a_body_declares_its_exact_length_and_one_without_declares_none() {
        let conn = Connection::new("dt.example.com", "pub", "secret-private").unwrap();
        let now = time::macros::datetime!(2024-01-15 10:30:00 UTC);
        let length = |w: &WireRequest| crate::client::header(&w.headers, "content-length").map(str::to_owned);
        let post = ApiRequest::post_json("/c", &json!({"message": "café"})).sign(&conn, now);
        assert_eq!(length(&post), Some(post.body.as_ref().unwrap().len().to_string()));
        let form = ApiRequest::post_form("/aianalyst/pin", &[("uuid", "a,b")]).sign(&conn, now);
        assert_eq!(length(&form).as_deref(), Some("10"));
        assert_eq!(length(&ApiRequest::get("/status").sign(&conn, now)), None);
        assert_eq!(length(&ApiRequest::new(Method::Delete, "/tags/entities").sign(&conn, now)), None);
    }

    #[test]
    fn gets_and_deletes_are_idempotent_and_posts_only_when_marked() {
        assert!(ApiRequest::get("/status").is_idempotent());
        assert!(ApiRequest::new(Method::Delete, "/tags/entities").is_idempotent());
        assert!(!ApiRequest::post_json("/modelbreaches/1/comments", &json!({"message": "x"})).is_idempotent());
        assert!(
            ApiRequest::post_json("/modelbreaches/1/acknowledge", &json!({"acknowledge": true}))
                .idempotent(true)
                .is_idempotent()
        );
    }
}
