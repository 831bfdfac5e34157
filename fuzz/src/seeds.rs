//! The seed corpus and the `invoke_input` dictionary, generated here so they stay in step with
//! the action list. `UPDATE_SEEDS=1 cargo test` (in `fuzz/`) writes them; a plain `cargo test`
//! fails when the committed files differ.

use darktrace_connector::actions::actions;
use darktrace_connector::manifest::MANIFEST;
use serde_json::Value;

use crate::invoke::CANNED_ANSWERS;
use crate::valid_input;

/// One seed file: the target it feeds, its file name and its bytes.
pub struct Seed {
    /// The fuzz target (`fuzz/corpus/<target>/`).
    pub target: &'static str,
    /// The file name, `seed-` and a readable description.
    pub name: String,
    /// The contents.
    pub bytes: Vec<u8>,
}

fn seed(target: &'static str, name: impl Into<String>, bytes: impl Into<Vec<u8>>) -> Seed {
    Seed { target, name: format!("seed-{}", name.into()), bytes: bytes.into() }
}

/// The index of `action` in `actions()`, as the first byte of an input selects it.
fn index(action: &str) -> u8 {
    let i = actions().position(|a| a.name == action).unwrap_or_else(|| panic!("no action {action}"));
    u8::try_from(i).expect("fewer than 256 actions")
}

/// A poll state as a platform would pass it back.
const STATE: &str = r#"{"version":1,"kind":"model-breaches","cursor":1705311000000,"seen":{"12345":1705311000000}}"#;

/// Every seed, for every target.
pub fn all() -> Vec<Seed> {
    let mut seeds = Vec::new();

    for (i, action) in actions().enumerate() {
        let answer = (i % CANNED_ANSWERS.len()) as u8;
        let input = valid_input(action.name);
        seeds.push(seed("invoke_input", action.name, [&[i as u8, answer][..], input.as_bytes()].concat()));
    }
    let state_input = serde_json::json!({ "max_items": 2, "state": STATE }).to_string();
    for (name, action, input) in [
        ("hostile-query", "search-devices", r#"{"query":"x&injected=1#frag\nline %41 ü"}"#),
        ("negative-id", "get-model-breach", r#"{"pbid":-1}"#),
        ("not-json", "get-device", "{not json"),
        ("array-input", "get-device", "[1]"),
        ("seconds-not-ms", "list-model-breaches", r#"{"start":1705311000,"end":1705311999}"#),
        ("poll-with-state", "poll-model-breaches", state_input.as_str()),
    ] {
        seeds.push(seed("invoke_input", name, [&[index(action), 4][..], input.as_bytes()].concat()));
    }

    let login = "Content-Type: text/html\n\n<html><title>Log In | Darktrace</title></html>";
    let date_error = "Date: Mon, 15 Jan 2024 12:30:00 GMT\n\n{\"error\":\"API DATE ERROR\"}";
    for (name, action, status, answer) in [
        ("breaches-ok", "list-model-breaches", 200, format!("Content-Type: application/json\n\n{}", CANNED_ANSWERS[4])),
        ("status-ok", "get-status", 200, format!("\n\n{}", CANNED_ANSWERS[5])),
        ("device-ok", "get-device", 200, format!("\n\n{}", CANNED_ANSWERS[6])),
        ("ack-ok", "acknowledge-model-breach", 200, "\n\n{\"response\":\"SUCCESS\"}".to_owned()),
        ("truncated-json", "get-model-breach", 200, "\n\n[{\"pbid\":12345,\"time\":17053".to_owned()),
        (
            "huge-numbers",
            "list-model-breaches",
            200,
            "\n\n[{\"pbid\":18446744073709551616,\"time\":1e999,\"score\":-0.0}]".to_owned(),
        ),
        ("wrong-shape", "get-device", 200, "\n\n{\"did\":\"forty-two\",\"ip\":[]}".to_owned()),
        ("login-page", "list-devices", 200, login.to_owned()),
        ("redirect-login", "get-model", 302, "Location: /login\n\nFound. Redirecting to /login".to_owned()),
        ("date-error", "add-model-breach-comment", 400, date_error.to_owned()),
        // A signed year in the Date header once made the client re-sign with `-0001...` as DTAPI-Date.
        (
            "date-error-signed-year",
            "get-status",
            400,
            "Date: Mon, 01 Jan -0001 00:00:00 GMT\n\n{\"error\":\"API DATE ERROR\"}".to_owned(),
        ),
        ("signature-error", "get-status", 401, "\n\n{\"error\":\"API SIGNATURE ERROR\"}".to_owned()),
        ("not-found", "get-model-component", 404, "\n\n{\"error\":\"Not found\"}".to_owned()),
        ("rate-limited", "list-tags", 429, "Retry-After: 7\n\n".to_owned()),
        ("proxy-502", "get-enums", 502, "Content-Type: text/html\n\n<html>Bad Gateway</html>".to_owned()),
        ("poll-page", "poll-ai-analyst-incidents", 200, "\n\n[]".to_owned()),
    ] {
        let status: u16 = status;
        seeds.push(seed(
            "response_parsing",
            name,
            [&[index(action)][..], &status.to_be_bytes(), answer.as_bytes()].concat(),
        ));
    }

    // `arbitrary` reads structure from any bytes; these give it text with every separator.
    for (name, bytes) in [
        ("separators", b"\x00\x02\x03/a.b\x02q=&#%\n \x01v\x7f\xff+=;?#".to_vec()),
        ("unicode", "\u{1}\u{3}caf\u{e9} \u{1f680}&x=y\u{3}%zz\u{0}\u{2}k\u{2}v\u{1}\u{4}".as_bytes().to_vec()),
        ("counting", (0..=255u8).collect()),
    ] {
        seeds.push(seed("request_building", name, bytes));
    }

    for (name, text) in [
        (
            "poll-continues",
            format!("{STATE}\n0 2 86400 3600 1705314600000 1705311000000\n12346:1705312000000,12345:1705311000000,12347:1705313000000\n\"2024-01-15T10:30:00Z\"\n1705311000000\nMon, 15 Jan 2024 10:30:00 GMT"),
        ),
        (
            "first-poll",
            "\n1 500 3600 60 1705314600000 -1\na-1:1705314000000\n\"1705311000000\"\n\"2024-01-15T11:30:00+01:00\"\nnot a date".to_owned(),
        ),
        ("wrong-kind", format!("{}\n1\n\n1705311000\n\"yesterday\"\n", STATE)),
        // A hand-edited state whose cursor overflowed the window arithmetic.
        ("extreme-cursor", "{\"version\":1,\"kind\":\"model-breaches\",\"cursor\":-9223372036854775000,\"seen\":{}}\n0 500 86400 3600 1705314600000 0".to_owned()),
        // Found by this target: an id listed twice with different times was delivered twice.
        ("duplicate-id", "\n0 500 86400 3600 1705314600000 0\n12345:1705312000000,12346:1705311500000,12345:1705311000000".to_owned()),
    ] {
        seeds.push(seed("state_and_times", name, text));
    }
    seeds
}

/// The libFuzzer dictionaries, by target (`fuzz/dict/<target>.dict`).
pub fn dictionaries() -> Vec<(&'static str, String)> {
    vec![("invoke_input", invoke_dictionary()), ("response_parsing", response_dictionary())]
}

/// Writes `tokens` in libFuzzer's dictionary format.
fn dictionary(tokens: std::collections::BTreeSet<String>) -> String {
    let mut out = String::from("# Generated by fuzz/src/seeds.rs (UPDATE_SEEDS=1 cargo test); do not edit.\n");
    for token in tokens {
        let escaped: String = token
            .chars()
            .flat_map(|c| match c {
                '"' | '\\' => vec!['\\', c],
                '\n' => vec!['\\', 'x', '0', 'A'],
                c => vec![c],
            })
            .collect();
        out.push_str(&format!("\"{escaped}\"\n"));
    }
    out
}

/// The words answers are told apart by: the appliance's error texts, the headers the client
/// reads, HTML markers and JSON edge values.
fn response_dictionary() -> String {
    let tokens = [
        "API SIGNATURE ERROR",
        "API DATE ERROR",
        "INPUT ERROR",
        "SUCCESS",
        "\"error\":",
        "\"response\":",
        "Retry-After: ",
        "Date: ",
        "Location: ",
        "Content-Type: ",
        "text/html",
        "application/json",
        "/login",
        "/403",
        "Log In | Darktrace",
        "<html>",
        "\n\n",
        "Mon, 15 Jan 2024 12:30:00 GMT",
        "1e999",
        "-0",
        "18446744073709551616",
        "null",
        "[]",
        "{}",
    ];
    dictionary(tokens.iter().map(|t| t.to_string()).collect())
}

/// A libFuzzer dictionary for `invoke_input`: every input property name of the manifest, quoted
/// as JSON keys, and the JSON punctuation and values the inputs use.
fn invoke_dictionary() -> String {
    let manifest: Value = serde_json::from_str(MANIFEST).expect("the manifest is JSON");
    let mut tokens = std::collections::BTreeSet::new();
    for action in manifest["actions"].as_array().expect("actions") {
        for name in action["input"]["properties"].as_object().into_iter().flatten().map(|(k, _)| k) {
            tokens.insert(format!("\"{name}\":"));
        }
    }
    for extra in [
        "{",
        "}",
        "[",
        "]",
        ",",
        "null",
        "true",
        "false",
        "-1",
        "1e999",
        "18446744073709551616",
        "\"\"",
        "\\u0000",
        "2024-01-15T10:30:00Z",
    ] {
        tokens.insert(extra.to_owned());
    }
    dictionary(tokens)
}
