//! Intel feed (Watched Domains) actions: list, add and remove watched entries.

use std::net::{Ipv4Addr, Ipv6Addr};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;

use super::{Input, ReadBack, Written, confirm_success, send_write};
use crate::client::Client;
use crate::error::{Error, Result};
use crate::request::ApiRequest;
use crate::shape::{Doc, Obj, RawText, Warning, Warnings, array, as_i64, read_list};
use crate::times::{Instant, iso_from_ms, now_ms};

family_actions! {
    "list-watched-domains" => list_watched_domains,
    "add-watched-domains" => add_watched_domains,
    "remove-watched-domains" => remove_watched_domains,
}

/// Most entries one addition sends: `addlist` is a single body field, and a list this long is
/// already far beyond what a playbook adds at once.
const MAX_ADD_ENTRIES: usize = 1000;
/// Most entries one removal handles: each is its own request.
const MAX_REMOVE_ENTRIES: usize = 100;
/// The appliance's limits: description under 256 characters, source under 64.
const MAX_DESCRIPTION_CHARS: usize = 255;
const MAX_SOURCE_CHARS: usize = 63;

/// One watched entry (see the WIT `watched-entry`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WatchedEntry {
    /// Domain, hostname, IP or CIDR.
    pub name: String,
    /// Description.
    pub description: Option<String>,
    /// Expiry, epoch ms.
    pub expiry: Option<i64>,
    /// `expiry` in ISO 8601 UTC.
    pub expiry_iso: Option<String>,
    /// Source (list).
    pub source: Option<String>,
    /// Exact-hostname match.
    pub hostname: bool,
    /// Automatic RESPOND against it.
    pub iagn: Option<bool>,
    /// The appliance's entry.
    pub raw: RawText,
    /// The fields that could not be read.
    pub warnings: Vec<Warning>,
}

/// What a change to the watched list did (see the WIT `watched-domains-change`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WatchedDomainsChange {
    /// Newly added.
    pub added: u64,
    /// Updated.
    pub updated: u64,
    /// Removed.
    pub removed: u64,
    /// The entries sent.
    pub entries: Vec<String>,
    /// The appliance's answer(s).
    pub raw: Value,
    /// `None` when the appliance confirmed every change; `Some(true)` when a gateway answered
    /// 502 or 504 to at least one request and reading the list back showed the change applied.
    pub verified: Option<bool>,
}

/// Input of `list-watched-domains`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListInput {
    /// Only entries of this source.
    pub source: Option<String>,
}

impl Input for ListInput {
    fn validate(&self) -> Result<()> {
        if let Some(source) = &self.source {
            check_source(source)?;
        }
        Ok(())
    }
}

/// Input of `add-watched-domains` (see the WIT `watched-domains-addition`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddInput {
    /// Entries to add.
    pub entries: Vec<String>,
    /// Description, < 256 chars, no quotes.
    pub description: Option<String>,
    /// When they stop being watched.
    pub expiry: Option<Instant>,
    /// Source (list), < 64 chars.
    pub source: Option<String>,
    /// Exact hostnames.
    pub hostname: Option<bool>,
    /// Automatic RESPOND.
    pub iagn: Option<bool>,
}

impl Input for AddInput {
    fn validate(&self) -> Result<()> {
        normalised_entries(&self.entries, MAX_ADD_ENTRIES)?;
        if let Some(d) = &self.description {
            if d.chars().count() > MAX_DESCRIPTION_CHARS {
                return Err(Error::field(
                    "description",
                    format!("is longer than {MAX_DESCRIPTION_CHARS} characters; shorten it"),
                ));
            }
            // The appliance stores the description inside its own quoting: a quote breaks it.
            if d.contains(['"', '\'']) || d.chars().any(char::is_control) {
                return Err(Error::field(
                    "description",
                    "contains quotes or line breaks, which the appliance refuses; remove them",
                ));
            }
        }
        if let Some(s) = &self.source {
            check_source(s)?;
        }
        if let Some(expiry) = &self.expiry
            && expiry.to_epoch_ms("expiry")? <= now_ms()
        {
            return Err(Error::field(
                "expiry",
                "is in the past; give a future instant, or none for entries that never expire",
            ));
        }
        Ok(())
    }
}

/// Input of `remove-watched-domains`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RemoveInput {
    /// Entries to remove.
    pub entries: Vec<String>,
}

impl Input for RemoveInput {
    fn validate(&self) -> Result<()> {
        normalised_entries(&self.entries, MAX_REMOVE_ENTRIES).map(|_| ())
    }
}

/// Lists the watched entries with their details.
pub fn list_watched_domains(client: &Client, input: ListInput) -> Result<Vec<WatchedEntry>> {
    let request = ApiRequest::get("/intelfeed")
        .opt_param("source", input.source.as_deref().map(str::trim))
        .param("fulldetails", true);
    let answer = Doc::fetch(client, &request)?;
    let items: Vec<&Value> = array(&answer.value, "intelfeed")?.iter().collect();
    Ok(read_list(&items, &answer.raw_items(&[]), "intelfeed", &entry_from))
}

/// Adds entries to the watched list in one request.
pub fn add_watched_domains(client: &Client, input: AddInput) -> Result<WatchedDomainsChange> {
    let entries = normalised_entries(&input.entries, MAX_ADD_ENTRIES)?;
    let mut body = Map::new();
    body.insert("addlist".into(), Value::String(entries.join(",")));
    if let Some(d) = input.description.as_deref().map(str::trim).filter(|d| !d.is_empty()) {
        body.insert("description".into(), json!(d));
    }
    if let Some(s) = input.source.as_deref().map(str::trim) {
        body.insert("source".into(), json!(s));
    }
    if let Some(expiry) = &input.expiry {
        body.insert("expiry".into(), json!(readable_utc(expiry.to_epoch_ms("expiry")?)));
    }
    // Pinned so an appliance default can never turn on automatic RESPOND unasked.
    body.insert("hostname".into(), json!(input.hostname.unwrap_or(false)));
    body.insert("iagn".into(), json!(input.iagn.unwrap_or(false)));
    let what = "adding to the watched domains";
    let request = ApiRequest::post_json("/intelfeed", &body);
    let answer = match send_write(client, &request, what, &|c| watched_read_back(c, &entries, true))? {
        Written::Answered(answer) => answer.value,
        Written::Verified(raw) => {
            // The appliance's counts are unknown; every entry is on the list now.
            return Ok(WatchedDomainsChange { added: 0, updated: 0, removed: 0, entries, raw, verified: Some(true) });
        }
    };
    confirm_success(what, &answer)?;
    let counts = Warnings::default();
    let (added, updated) = match Obj::item(&answer, "intelfeed", &counts) {
        Ok(o) => (o.opt_u64("added").unwrap_or(0), o.opt_u64("updated").unwrap_or(0)),
        Err(_) => (0, 0),
    };
    Ok(WatchedDomainsChange { added, updated, removed: 0, entries, raw: answer, verified: None })
}

/// Reads the watched list back after a gateway error: applied when every entry in `entries` is
/// listed (`present`) or none is (not `present`). Names compare case-insensitively, as entries
/// are sent lowercased.
fn watched_read_back(client: &Client, entries: &[String], present: bool) -> Result<ReadBack> {
    let answer = client.send(&ApiRequest::get("/intelfeed"))?;
    let listed: Vec<String> = array(&answer, "intelfeed")?
        .iter()
        .filter_map(|v| v.as_str().or_else(|| v.get("name").and_then(Value::as_str)))
        .map(str::to_ascii_lowercase)
        .collect();
    let there: Vec<&String> = entries.iter().filter(|e| listed.contains(&e.to_ascii_lowercase())).collect();
    let applied = if present { there.len() == entries.len() } else { there.is_empty() };
    Ok(ReadBack { applied, seen: json!({ "listed": there, "of": entries }) })
}

/// Removes entries one request at a time: `removeentry` names a single entry, and `removeall`
/// (which wipes every source) is deliberately never sent.
pub fn remove_watched_domains(client: &Client, input: RemoveInput) -> Result<WatchedDomainsChange> {
    let entries = normalised_entries(&input.entries, MAX_REMOVE_ENTRIES)?;
    let mut answers = Vec::with_capacity(entries.len());
    let mut verified = None;
    for entry in &entries {
        let what = format!("removing `{entry}` from the watched domains");
        let request = ApiRequest::post_json("/intelfeed", &json!({ "removeentry": entry }));
        let one = std::slice::from_ref(entry);
        match send_write(client, &request, &what, &|c| watched_read_back(c, one, false))? {
            Written::Answered(answer) => {
                let answer = answer.value;
                confirm_success(&what, &answer)?;
                answers.push(answer);
            }
            Written::Verified(raw) => {
                verified = Some(true);
                answers.push(raw);
            }
        }
    }
    Ok(WatchedDomainsChange {
        added: 0,
        updated: 0,
        removed: entries.len() as u64,
        entries,
        raw: Value::Array(answers),
        verified,
    })
}

/// Normalises one entry as the appliance sends it: a bare name (without fulldetails) or an
/// object with details. Its identity is its name.
pub fn entry_from(v: &Value, path: &str, raw: RawText) -> Result<WatchedEntry> {
    if let Value::String(name) = v {
        return Ok(WatchedEntry {
            name: name.clone(),
            description: None,
            expiry: None,
            expiry_iso: None,
            source: None,
            hostname: false,
            iagn: None,
            raw,
            warnings: Vec::new(),
        });
    }
    let w = Warnings::default();
    let o = Obj::item(v, path, &w)?;
    let name = o.id_str("name")?;
    // Expiry comes as ms, an ISO date with or without offset, or a readable date depending on
    // the version.
    let expiry = match o.get("expiry") {
        Some(Value::String(s)) => {
            let ms = parse_date_ms(s);
            if ms.is_none() {
                o.warn(&o.at("expiry"), "a date such as 2024-01-15T10:30:00", &Value::String(s.clone()));
            }
            ms
        }
        Some(_) => o.opt_i64("expiry"),
        None => None,
    }
    .filter(|ms| *ms > 0);
    Ok(WatchedEntry {
        name,
        description: o.opt_str("description"),
        expiry,
        expiry_iso: expiry.map(iso_from_ms),
        source: o.opt_str("source"),
        hostname: o.opt_bool("hostname").unwrap_or(false),
        iagn: o.opt_bool("iagn"),
        raw,
        warnings: w.take(),
    })
}

/// Epoch ms from a numeric string, an RFC 3339 date, `YYYY-MM-DDTHH:MM:SS[.fff]` with no
/// offset or `YYYY-MM-DD HH:MM[:SS]` (both UTC).
fn parse_date_ms(text: &str) -> Option<i64> {
    let text = text.trim();
    if let Some(ms) = as_i64(&Value::String(text.to_owned())) {
        return Some(ms);
    }
    if let Ok(t) = OffsetDateTime::parse(text, &Rfc3339) {
        return Some((t.unix_timestamp_nanos() / 1_000_000) as i64);
    }
    let long = format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");
    let short = format_description!("[year]-[month]-[day] [hour]:[minute]");
    // The guide's `fulldetails` example writes `YYYY-MM-DDTHH:MM:SS` with no offset, meaning UTC
    // (reference, section 2.5).
    let iso = format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]");
    let iso_fraction = format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond]");
    time::PrimitiveDateTime::parse(text, long)
        .or_else(|_| time::PrimitiveDateTime::parse(text, short))
        .or_else(|_| time::PrimitiveDateTime::parse(text, iso))
        .or_else(|_| time::PrimitiveDateTime::parse(text, iso_fraction))
        .ok()
        .map(|t| (t.assume_utc().unix_timestamp_nanos() / 1_000_000) as i64)
}

/// `YYYY-MM-DD HH:MM:SS` in UTC, the form integrations send `expiry` in.
fn readable_utc(ms: i64) -> String {
    let fmt = format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| t.format(fmt).ok())
        .unwrap_or_else(|| ms.to_string())
}

fn check_source(source: &str) -> Result<()> {
    let s = source.trim();
    if s.is_empty() {
        return Err(Error::field("source", "is empty; give a source name or leave it out"));
    }
    if s.chars().count() > MAX_SOURCE_CHARS {
        return Err(Error::field("source", format!("is longer than {MAX_SOURCE_CHARS} characters")));
    }
    if s.chars().any(|c| c.is_control() || c == '"' || c == ',') {
        return Err(Error::field("source", "contains quotes, commas or line breaks; use a plain name"));
    }
    Ok(())
}

/// Checks and normalises the entries (trimmed, names lowercased, duplicates dropped).
fn normalised_entries(entries: &[String], max: usize) -> Result<Vec<String>> {
    if entries.is_empty() {
        return Err(Error::field("entries", "is empty; give at least one domain, hostname, IP address or CIDR range"));
    }
    if entries.len() > max {
        return Err(Error::field("entries", format!("has {} entries; give at most {max} per call", entries.len())));
    }
    let mut out: Vec<String> = Vec::with_capacity(entries.len());
    for (i, entry) in entries.iter().enumerate() {
        let entry = normalise_indicator(&format!("entries[{i}]"), entry, true)?;
        if !out.contains(&entry) {
            out.push(entry);
        }
    }
    Ok(out)
}

/// Checks that `value` is an IP address, a hostname such as `c2.example.com`, or (when
/// `allow_cidr`) a CIDR range, and returns it trimmed with names lowercased. `field` names the
/// input in errors.
pub fn normalise_indicator(field: &str, value: &str, allow_cidr: bool) -> Result<String> {
    let v = value.trim();
    if v.is_empty() {
        return Err(Error::field(field, "is empty"));
    }
    if v.parse::<Ipv4Addr>().is_ok() || v.parse::<Ipv6Addr>().is_ok() {
        return Ok(v.to_ascii_lowercase());
    }
    if let Some((ip, bits)) = v.split_once('/') {
        let max = if ip.parse::<Ipv4Addr>().is_ok() {
            Some(32)
        } else if ip.parse::<Ipv6Addr>().is_ok() {
            Some(128)
        } else {
            None
        };
        if let Some(max) = max {
            return match bits.parse::<u8>() {
                Ok(b) if allow_cidr && b <= max => Ok(v.to_ascii_lowercase()),
                _ if !allow_cidr => {
                    Err(Error::field(field, format!("`{}` is a range; give a single IP address or hostname", short(v))))
                }
                _ => Err(Error::field(field, format!("`{}` has a prefix length outside 0..{max}", short(v)))),
            };
        }
    }
    if v.contains("://") || v.contains('/') {
        return Err(Error::field(
            field,
            format!("`{}` looks like a URL; give only the host, e.g. evil.example.com", short(v)),
        ));
    }
    let host = v.trim_end_matches('.');
    let labels_ok = host.split('.').all(|l| {
        (1..=63).contains(&l.len())
            && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            && !l.starts_with('-')
            && !l.ends_with('-')
    });
    if host.len() > 253
        || !host.contains('.')
        || !labels_ok
        || host.rsplit('.').next().is_some_and(|tld| tld.chars().all(|c| c.is_ascii_digit()))
    {
        return Err(Error::field(
            field,
            format!(
                "`{}` is not a hostname such as evil.example.com, an IP address{}",
                short(v),
                if allow_cidr { " or a CIDR range such as 203.0.113.0/24" } else { "" }
            ),
        ));
    }
    Ok(host.to_ascii_lowercase())
}

fn short(s: &str) -> String {
    s.chars().take(80).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::actions::parse_input;
    use crate::actions::testing::Canned;
    use crate::connection::Connection;
    use crate::request::WireRequest;

    /// Answers every request with the next canned body and keeps what was sent.
    fn run<I: Input, O>(
        answers: &[&'static str],
        input: Value,
        f: fn(&Client, I) -> Result<O>,
    ) -> (Result<O>, Vec<WireRequest>) {
        let t = Canned::sequence(answers);
        let r =
            parse_input(input).and_then(|i| super::super::run(Connection::new("dt.example.com", "p", "s"), &t, i, f));
        (r, t.into_sent())
    }

    #[test]
    fn full_details_and_bare_names_are_both_read() {
        let (r, sent) = run(
            &[
                r#"[{"name":"evil.example.com","description":"C2","expiry":"2030-01-02 03:04:05","source":"SOAR","hostname":true,"iagn":false},
                 {"name":"203.0.113.9","expiry":1893456000000},"bare.example.net"]"#,
            ],
            json!({}),
            list_watched_domains,
        );
        let list = r.unwrap();
        assert_eq!(sent[0].url, "https://dt.example.com/intelfeed?fulldetails=true");
        assert_eq!(list[0].expiry_iso.as_deref(), Some("2030-01-02T03:04:05.000Z"));
        assert!(list[0].hostname && list[0].source.as_deref() == Some("SOAR"));
        assert_eq!(list[1].expiry, Some(1_893_456_000_000));
        assert_eq!((list[2].name.as_str(), list[2].expiry), ("bare.example.net", None));
    }

    #[test]
    fn an_entry_without_a_name_is_left_out_and_the_others_are_kept() {
        let (r, _) = run(
            &[r#"[{"description":"x"},{"name":"a.example","expiry":"2030-01-02T03:04:05","hostname":[]}]"#],
            json!({}),
            list_watched_domains,
        );
        let list = r.unwrap();
        assert_eq!(list.len(), 1);
        // The reference's `fulldetails` form: no offset, meaning UTC.
        assert_eq!(list[0].expiry_iso.as_deref(), Some("2030-01-02T03:04:05.000Z"));
        assert_eq!(list[0].warnings[0].path, "intelfeed[1].hostname");
        assert_eq!(list[0].raw.get(), r#"{"name":"a.example","expiry":"2030-01-02T03:04:05","hostname":[]}"#);
    }

    #[test]
    fn adding_sends_one_comma_joined_list_with_pinned_flags() {
        let (r, sent) = run(
            &[r#"{"added":2,"updated":1,"response":"SUCCESS"}"#],
            json!({"entries": [" Evil.Example.com ", "203.0.113.0/24", "evil.example.com"], "description": "From SOAR", "expiry": "2099-01-01T00:00:00Z"}),
            add_watched_domains,
        );
        let change = r.unwrap();
        assert_eq!((change.added, change.updated), (2, 1));
        assert_eq!(change.entries, ["evil.example.com", "203.0.113.0/24"]);
        let body = String::from_utf8(sent[0].body.clone().unwrap()).unwrap();
        assert_eq!(
            body,
            r#"{"addlist":"evil.example.com,203.0.113.0/24","description":"From SOAR","expiry":"2099-01-01 00:00:00","hostname":false,"iagn":false}"#
        );
    }

    #[test]
    fn removing_sends_one_removeentry_per_entry_and_never_removeall() {
        let ok = r#"{"response":"SUCCESS"}"#;
        let (r, sent) = run(&[ok, ok], json!({"entries": ["a.example.com", "198.51.100.7"]}), remove_watched_domains);
        assert_eq!(r.unwrap().removed, 2);
        let bodies: Vec<String> = sent.iter().map(|w| String::from_utf8(w.body.clone().unwrap()).unwrap()).collect();
        assert_eq!(bodies, [r#"{"removeentry":"a.example.com"}"#, r#"{"removeentry":"198.51.100.7"}"#]);
        assert!(bodies.iter().all(|b| !b.contains("removeall")));
    }

    #[test]
    fn bad_entries_and_fields_are_refused_naming_the_field() {
        for (input, field) in [
            (json!({"entries": []}), "entries"),
            (json!({"entries": ["https://evil.example.com/x"]}), "entries[0]"),
            (json!({"entries": ["ok.example.com", "not a host"]}), "entries[1]"),
            (json!({"entries": ["10.0.0.0/33"]}), "entries[0]"),
            (json!({"entries": ["1.2.3"]}), "entries[0]"),
            (json!({"entries": ["a.example.com"], "description": "say \"hi\""}), "description"),
            (json!({"entries": ["a.example.com"], "description": "x".repeat(256)}), "description"),
            (json!({"entries": ["a.example.com"], "source": "s".repeat(64)}), "source"),
            (json!({"entries": ["a.example.com"], "expiry": "2001-01-01T00:00:00Z"}), "expiry"),
            (json!({"entries": ["a.example.com"], "removeall": true}), "removeall"),
        ] {
            let (r, sent) = run(&[], input.clone(), add_watched_domains);
            let err = r.unwrap_err();
            assert_eq!((err.case(), sent.len()), ("invalid-input", 0), "{input}: {err}");
            assert!(err.message().contains(field), "{input}: {err}");
        }
        let many: Vec<String> = (0..101).map(|i| format!("h{i}.example.com")).collect();
        let (r, _) = run(&[], json!({"entries": many}), remove_watched_domains);
        assert!(r.unwrap_err().message().contains("at most 100"));
    }

    #[test]
    fn indicators_accept_ips_hostnames_and_ranges_only_where_allowed() {
        assert_eq!(normalise_indicator("x", "2001:DB8::1", false).unwrap(), "2001:db8::1");
        assert_eq!(normalise_indicator("x", "Host-1.Example.COM.", false).unwrap(), "host-1.example.com");
        assert!(normalise_indicator("x", "10.0.0.0/8", false).is_err());
        assert!(normalise_indicator("x", "-bad.example.com", true).is_err());
    }
}
