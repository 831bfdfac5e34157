//! Health endpoints beyond `/status`: `GET /summarystatistics`.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::params::Params;
use super::{Answer, Reply};
use crate::simulator::data::respond::RespondState;
use crate::simulator::data::{DAY_MS, Dataset, HOUR_MS, readable_time};

const CATEGORIES: &[&str] = &["saas", "csensor", "network", "loginput"];
const TYPES: &[&str] = &["notices", "devicedetails", "modelevents"];

/// `GET /summarystatistics`: the 28-day summary, or with `eventtype` hourly event counts.
pub(super) fn summary_statistics(data: &Dataset, params: &Params, now: i64) -> Answer {
    let event_type = params.text("eventtype");
    let hours = params.unsigned("hours")?;
    let end = params.signed("endtime")?;
    let to = params.text("to");
    if event_type.is_none() && (hours.is_some() || end.is_some() || to.is_some()) {
        return Err(Reply::input_error("endtime, to and hours need eventtype"));
    }
    let Some(kind) = event_type else {
        return Ok(default_summary(data, now));
    };
    let valid = CATEGORIES.contains(&kind)
        || TYPES.contains(&kind)
        || CATEGORIES.iter().any(|c| kind.strip_prefix(c).is_some_and(|t| TYPES.contains(&t)));
    if !valid || kind == "saasdevicedetails" {
        return Err(Reply::input_error(format!("eventtype {kind:?} is not a known category or type")));
    }
    let hours = hours.unwrap_or(24);
    if !(1..=8760).contains(&hours) {
        return Err(Reply::input_error("hours must be between 1 and 8760"));
    }
    let end = match (end, to) {
        (Some(ms), _) => ms,
        (None, Some(to)) => crate::simulator::auth::parse_date(to)
            .map(|t| (t.unix_timestamp_nanos() / 1_000_000) as i64)
            .ok_or_else(|| Reply::input_error(format!("to must be a date like 2024-01-15 10:30:00, not {to:?}")))?,
        (None, None) => now,
    };
    // Deterministic counts from the kind and the hour, so repeated calls agree.
    let salt = kind.bytes().map(u64::from).sum::<u64>();
    let hour_start = end - end.rem_euclid(HOUR_MS);
    let samples: Vec<Value> = (0..hours as i64)
        .rev()
        .map(|i| {
            let t = hour_start - i * HOUR_MS;
            let events = (t / HOUR_MS) as u64 % 97 * 13 + salt;
            json!({ "timems": t, "time": readable_time(t), "events": events })
        })
        .collect();
    let total: u64 = samples.iter().filter_map(|s| s["events"].as_u64()).sum();
    Ok(json!({ "events": total, "data": samples }))
}

fn default_summary(data: &Dataset, now: i64) -> Value {
    let week = now - 7 * DAY_MS;
    let recent: Vec<_> = data.devices.iter().filter(|d| d.last_seen >= week).collect();
    let mut counts: BTreeMap<String, Value> = BTreeMap::new();
    let mut saas: BTreeMap<String, u64> = BTreeMap::new();
    for d in &recent {
        if d.is_saas() {
            let service = d
                .hostname
                .as_deref()
                .and_then(|h| h.strip_prefix("SaaS::"))
                .and_then(|h| h.split("::").next())
                .unwrap_or("Other");
            *saas.entry(service.to_owned()).or_default() += 1;
        } else {
            let n = counts.get(d.typename).and_then(Value::as_u64).unwrap_or(0);
            counts.insert(d.typename.to_owned(), json!(n + 1));
        }
    }
    let saas_total: u64 = saas.values().sum();
    let mut saas_json: serde_json::Map<String, Value> = saas.into_iter().map(|(k, v)| (k, json!(v))).collect();
    saas_json.insert("total".into(), json!(saas_total));
    let servers = recent.iter().filter(|d| matches!(d.typename, "server" | "dnsserver" | "fileserver")).count() as u64;
    let total = recent.len() as u64;
    counts.insert("saas".into(), Value::Object(saas_json));
    counts.insert("licenseIPCount".into(), json!(recent.iter().filter(|d| d.ip.is_some()).count()));
    counts.insert("totalClient".into(), json!(total.saturating_sub(servers).saturating_sub(saas_total)));
    counts.insert("totalServer".into(), json!(servers));
    counts.insert("totalOther".into(), json!(0));
    counts.insert("total".into(), json!(total));
    let mut subnets: Vec<i64> = recent.iter().map(|d| d.sid).filter(|s| *s > 0).collect();
    subnets.sort_unstable();
    subnets.dedup();
    let activated: Vec<_> = data
        .respond
        .actions
        .iter()
        .filter(|a| a.active && a.expires >= week && a.state(now) != RespondState::Cleared)
        .collect();
    let mut devices: Vec<usize> = activated.iter().map(|a| a.device).collect();
    devices.sort_unstable();
    devices.dedup();
    let day_start = now - now.rem_euclid(DAY_MS);
    let bandwidth: Vec<Value> = (0..28)
        .rev()
        .map(|i| {
            let t = day_start - i * DAY_MS;
            json!({ "timems": t, "time": readable_time(t), "kb": 280_000_000 + (t / DAY_MS) % 13 * 9_000_000 })
        })
        .collect();
    json!({
        "usercredentialcount": data.devices.len() * 2 + 7,
        "subnets": subnets.len(),
        "patterns": 1_200_000 + data.breaches.len() * 37,
        "bandwidth": bandwidth,
        "antigenaDevices": devices.len(),
        "antigenaActions": activated.len(),
        "devicecount": counts,
    })
}
