//! Connection and appliance checks: the connection test, the appliance's health and its
//! summary statistics.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::OffsetDateTime;
use time::macros::format_description;

use super::{Input, NoInput};
use crate::client::Client;
use crate::error::{Error, Result};
use crate::request::ApiRequest;
use crate::shape::{Doc, Obj, RawText, Warning, Warnings, as_u64};
use crate::times::{Instant, iso_from_ms, now_ms};

family_actions! {
    "test-connection" => test_connection,
    "get-status" => get_status,
    "get-summary-statistics" => get_summary_statistics,
}

/// Most hourly intervals `hours` may ask for (30 days).
const MAX_HOURS: u32 = 720;
/// `eventtype` categories and types; a value is one of them or a category followed by a type.
const EVENT_CATEGORIES: &[&str] = &["saas", "csensor", "network", "loginput"];
const EVENT_TYPES: &[&str] = &["notices", "devicedetails", "modelevents"];

/// What a successful connection test found (see the WIT `connection-status`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConnectionStatus {
    /// The normalised API address.
    pub api_address: String,
    /// Appliance version.
    pub version: Option<String>,
    /// Appliance hostname.
    pub hostname: Option<String>,
    /// Appliance clock, ISO 8601 UTC.
    pub appliance_time: Option<String>,
    /// When the check ran, ISO 8601 UTC.
    pub checked_at: String,
}

/// Signs one cheap request and reports what the appliance says about itself.
pub fn test_connection(client: &Client, _: NoInput) -> Result<ConnectionStatus> {
    // fast=true skips subnet connectivity checks, which can take seconds on big deployments.
    let answer = client.send(&ApiRequest::get("/status").param("fast", true))?;
    let read = Warnings::default();
    let o = Obj::item(&answer, "status", &read)?;
    Ok(ConnectionStatus {
        api_address: client.connection().base_url(),
        version: o.opt_str("version"),
        hostname: o.opt_str("hostname"),
        appliance_time: o.opt_str("time").and_then(|t| appliance_time(&t)),
        checked_at: iso_from_ms(now_ms()),
    })
}

/// `/status` reports its clock as `YYYY-MM-DD HH:MM[:SS]` in UTC.
fn appliance_time(text: &str) -> Option<String> {
    appliance_time_ms(text).map(iso_from_ms)
}

/// Epoch ms of a `/status` clock reading.
fn appliance_time_ms(text: &str) -> Option<i64> {
    let long = format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");
    let short = format_description!("[year]-[month]-[day] [hour]:[minute]");
    let t = time::PrimitiveDateTime::parse(text.trim(), long)
        .or_else(|_| time::PrimitiveDateTime::parse(text.trim(), short))
        .ok()?;
    let t: OffsetDateTime = t.assume_utc();
    Some((t.unix_timestamp_nanos() / 1_000_000) as i64)
}

/// The appliance's health (see the WIT `appliance-status`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ApplianceStatus {
    /// Version.
    pub version: Option<String>,
    /// Hostname.
    pub hostname: Option<String>,
    /// Appliance type.
    pub appliance_type: Option<String>,
    /// Clock, epoch ms.
    pub time: Option<i64>,
    /// `time` in ISO 8601 UTC.
    pub time_iso: Option<String>,
    /// Uptime text.
    pub uptime: Option<String>,
    /// Probes.
    pub probe_count: Option<u64>,
    /// Subnets.
    pub subnet_count: Option<u64>,
    /// Devices.
    pub device_count: Option<u64>,
    /// Probes reporting an error.
    pub probes_in_error: Vec<String>,
    /// The appliance's object.
    pub raw: RawText,
    /// The fields that could not be read.
    pub warnings: Vec<Warning>,
}

/// Input of `get-summary-statistics` (see the WIT `statistics-query`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatisticsQuery {
    /// Event counts instead of the default summary.
    pub event_type: Option<String>,
    /// Hourly intervals back from `end`.
    pub hours: Option<u32>,
    /// End of the intervals.
    pub end: Option<Instant>,
}

impl Input for StatisticsQuery {
    fn validate(&self) -> Result<()> {
        if let Some(kind) = &self.event_type {
            check_event_type(kind)?;
        }
        if let Some(hours) = self.hours {
            if !(1..=MAX_HOURS).contains(&hours) {
                return Err(Error::field("hours", format!("{hours} is outside 1..{MAX_HOURS}")));
            }
            if self.event_type.is_none() {
                return Err(Error::field("hours", "needs `event_type`: the default summary always covers 28 days"));
            }
        }
        if let Some(end) = &self.end {
            end.to_epoch_ms("end")?;
            if self.event_type.is_none() {
                return Err(Error::field("end", "needs `event_type`: the default summary always ends now"));
            }
        }
        Ok(())
    }
}

/// Summary statistics (see the WIT `summary-statistics`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SummaryStatistics {
    /// Devices, last 7 days.
    pub device_count: Option<u64>,
    /// Subnets, last 7 days.
    pub subnet_count: Option<u64>,
    /// Credentials, last 28 days.
    pub credential_count: Option<u64>,
    /// RESPOND actions, last 7 days.
    pub respond_action_count: Option<u64>,
    /// Devices under RESPOND actions, last 7 days.
    pub respond_device_count: Option<u64>,
    /// The appliance's answer.
    pub raw: RawText,
    /// The fields that could not be read.
    pub warnings: Vec<Warning>,
}

/// Reads `/status` in full (subnet checks included) and types the health fields.
pub fn get_status(client: &Client, _: NoInput) -> Result<ApplianceStatus> {
    let answer = Doc::fetch(client, &ApiRequest::get("/status"))?;
    let w = Warnings::default();
    let o = Obj::item(&answer.value, "status", &w)?;
    let time = o.opt_str("time").and_then(|t| appliance_time_ms(&t));
    let mut probes_in_error = Vec::new();
    let probes: Vec<(String, &Value)> = match o.get("probes") {
        Some(Value::Object(map)) => map.iter().map(|(k, v)| (k.clone(), v)).collect(),
        Some(Value::Array(items)) => items.iter().enumerate().map(|(i, v)| (i.to_string(), v)).collect(),
        _ => Vec::new(),
    };
    for (key, probe) in &probes {
        let Some(p) = o.child(probe, format!("status.probes.{key}")) else { continue };
        if p.opt_bool("error") == Some(true) {
            probes_in_error.push(p.opt_str("label").or_else(|| p.opt_str("id")).unwrap_or_else(|| key.clone()));
        }
    }
    Ok(ApplianceStatus {
        version: o.opt_str("version"),
        hostname: o.opt_str("hostname"),
        appliance_type: o.opt_str("type"),
        time,
        time_iso: time.map(iso_from_ms),
        uptime: o.opt_str("uptime"),
        probe_count: o.get("probes").and_then(count),
        subnet_count: o.get("subnets").and_then(count),
        device_count: o.get("devices").and_then(count),
        probes_in_error,
        raw: answer.raw(),
        warnings: w.take(),
    })
}

/// Reads `/summarystatistics`; only the default summary has the typed counts.
pub fn get_summary_statistics(client: &Client, query: StatisticsQuery) -> Result<SummaryStatistics> {
    let end = query.end.as_ref().map(|e| e.to_epoch_ms("end")).transpose()?;
    let request = ApiRequest::get("/summarystatistics")
        .opt_param("eventtype", query.event_type.as_deref().map(|k| k.trim().to_ascii_lowercase()))
        .opt_param("hours", query.hours)
        .opt_param("endtime", end);
    let doc = Doc::fetch(client, &request)?;
    let answer = &doc.value;
    // The answer's shape depends on `eventtype`: a count is typed only where it is a number (or
    // a number written as a string).
    let number = |v: Option<&Value>| v.and_then(as_u64);
    let devicecount = answer.get("devicecount");
    Ok(SummaryStatistics {
        device_count: number(devicecount.and_then(|d| d.get("total")).or(devicecount.filter(|d| !d.is_object()))),
        subnet_count: number(answer.get("subnets")),
        credential_count: number(answer.get("usercredentialcount")),
        respond_action_count: number(answer.get("antigenaActions")),
        respond_device_count: number(answer.get("antigenaDevices")),
        raw: doc.raw(),
        warnings: Vec::new(),
    })
}

/// A count given as a number, or as the entries of a list or map.
fn count(v: &Value) -> Option<u64> {
    match v {
        Value::Number(n) => n.as_u64(),
        Value::Array(items) => Some(items.len() as u64),
        Value::Object(map) => Some(map.len() as u64),
        _ => None,
    }
}

fn check_event_type(kind: &str) -> Result<()> {
    let k = kind.trim().to_ascii_lowercase();
    let valid = EVENT_CATEGORIES.contains(&k.as_str())
        || EVENT_TYPES.contains(&k.as_str())
        || EVENT_CATEGORIES.iter().any(|c| k.strip_prefix(c).is_some_and(|t| EVENT_TYPES.contains(&t)));
    if !valid {
        return Err(Error::field(
            "event_type",
            format!(
                "`{}` is not a category ({}), a type ({}) or a category followed by a type such as networkdevicedetails",
                kind.chars().take(40).collect::<String>(),
                EVENT_CATEGORIES.join(", "),
                EVENT_TYPES.join(", ")
            ),
        ));
    }
    if k == "saasdevicedetails" {
        return Err(Error::field("event_type", "the saas category cannot take devicedetails; use saas or saasnotices"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::actions::testing::Canned;
    use crate::actions::{invoke, parse_input};
    use crate::connection::Connection;
    use crate::request::WireRequest;
    use serde_json::json;

    /// Answers with one canned body and keeps what was sent.
    fn run<I: Input, O>(
        answer: &'static str,
        input: Value,
        f: fn(&Client, I) -> Result<O>,
    ) -> (Result<O>, Vec<WireRequest>) {
        let t = Canned::repeating(answer);
        let r =
            parse_input(input).and_then(|i| super::super::run(Connection::new("dt.example.com", "p", "s"), &t, i, f));
        (r, t.into_sent())
    }

    #[test]
    fn status_types_clock_probes_and_counts() {
        let (r, _) = run(
            r#"{"version":"6.2.1","hostname":"dt-master","type":"master","time":"2024-01-15 09:30","uptime":"3 days, 01:02",
               "subnets":14,"devices":512,"probes":{"3":{"label":"Branch","error":true},"4":{"label":"DC","error":false}}}"#,
            json!({}),
            get_status,
        );
        let s = r.unwrap();
        assert_eq!(s.time, Some(1_705_311_000_000));
        assert_eq!((s.probe_count, s.subnet_count, s.device_count), (Some(2), Some(14), Some(512)));
        assert_eq!(s.probes_in_error, ["Branch"]);
        let (r, _) = run(r#"{"version":"6.2.1","probes":{"1":"up"}}"#, json!({}), get_status);
        let s = r.unwrap();
        assert_eq!((s.version.as_deref(), s.probe_count), (Some("6.2.1"), Some(1)));
        assert_eq!(s.warnings[0].path, "status.probes.1");
    }

    #[test]
    fn summary_statistics_types_the_default_counts_and_keeps_other_shapes_raw() {
        let (r, sent) = run(
            r#"{"usercredentialcount":82,"subnets":23,"antigenaDevices":4,"antigenaActions":5,"devicecount":{"total":519,"saas":{"total":3}}}"#,
            json!({}),
            get_summary_statistics,
        );
        let s = r.unwrap();
        assert_eq!(
            (s.device_count, s.subnet_count, s.credential_count, s.respond_action_count, s.respond_device_count),
            (Some(519), Some(23), Some(82), Some(5), Some(4))
        );
        assert_eq!(sent[0].url, "https://dt.example.com/summarystatistics");
        let (r, sent) = run(
            r#"{"events":3,"data":[]}"#,
            json!({"event_type": "networkDeviceDetails", "hours": 24, "end": 1705311000000i64}),
            get_summary_statistics,
        );
        assert_eq!(r.unwrap().device_count, None);
        assert_eq!(
            sent[0].url,
            "https://dt.example.com/summarystatistics?eventtype=networkdevicedetails&hours=24&endtime=1705311000000"
        );
    }

    #[test]
    fn statistics_inputs_are_checked_before_sending() {
        for (input, field) in [
            (r#"{"event_type": "everything"}"#, "event_type"),
            (r#"{"event_type": "saasdevicedetails"}"#, "event_type"),
            (r#"{"hours": 5}"#, "hours"),
            (r#"{"event_type": "saas", "hours": 0}"#, "hours"),
            (r#"{"end": 1705311000000}"#, "end"),
        ] {
            let t = Canned::repeating("{}");
            let err =
                invoke(Connection::new("dt.example.com", "p", "s"), &t, "get-summary-statistics", input).unwrap_err();
            assert_eq!((err.case(), t.sent.borrow().len()), ("invalid-input", 0), "{input}");
            assert!(err.message().contains(field), "{input}: {err}");
        }
    }
}
