//! Device endpoints: `/devices` and `/devicesearch`.

use serde_json::{Value, json};

use super::params::Params;
use super::search::{OrderBy, Query};
use super::{Answer, Reply};
use crate::simulator::data::Dataset;
use crate::simulator::data::devices::Device;

const NOT_FOUND: &str = "Device not found";
/// Default `/devices` window: seven days, in seconds.
const DEVICES_WINDOW_SECS: i64 = 7 * 86_400;
/// Default `/devicesearch` window: 28 days, in seconds.
const SEARCH_WINDOW_SECS: i64 = 28 * 86_400;
/// Largest `/devicesearch` page the appliance serves.
const MAX_SEARCH_COUNT: u64 = 300;

/// `GET /devices`: one device for `did`, `ip` or `mac`; otherwise the devices seen within
/// `seensince`, by id, at most `count`.
pub(super) fn devices(data: &Dataset, params: &Params, now_ms: i64) -> Answer {
    let include_tags = params.flag("includetags", false)?;
    let single = |found: Option<&Device>| {
        found
            .map(|d| d.to_json(include_tags))
            .ok_or_else(|| Reply::not_found(NOT_FOUND))
    };
    if let Some(did) = params.unsigned("did")? {
        return single(data.device(did));
    }
    if let Some(ip) = params.text("ip") {
        return single(data.devices.iter().find(|d| d.ip.as_deref() == Some(ip)));
    }
    if let Some(mac) = params.text("mac") {
        return single(data.devices.iter().find(|d| {
            d.mac
                .as_deref()
                .is_some_and(|m| m.eq_ignore_ascii_case(mac))
        }));
    }
    let cutoff =
        now_ms.saturating_sub(params.seen_since(DEVICES_WINDOW_SECS)?.saturating_mul(1000));
    let sid = params.signed("sid")?;
    let count = params
        .unsigned("count")?
        .map_or(usize::MAX, |c| usize::try_from(c).unwrap_or(usize::MAX));
    let mut seen: Vec<&Device> = data
        .devices
        .iter()
        .filter(|d| d.last_seen >= cutoff && sid.is_none_or(|sid| d.sid == sid))
        .collect();
    seen.sort_by_key(|d| d.did);
    Ok(Value::Array(
        seen.into_iter()
            .take(count)
            .map(|d| d.to_json(include_tags))
            .collect(),
    ))
}

/// `GET /devicesearch`: one page of the devices matching `query`.
pub(super) fn search(data: &Dataset, params: &Params, now_ms: i64) -> Answer {
    let count = params.unsigned("count")?.unwrap_or(100);
    if count > MAX_SEARCH_COUNT {
        return Err(Reply::input_error(format!(
            "count must be at most {MAX_SEARCH_COUNT}"
        )));
    }
    let offset = params.unsigned("offset")?.unwrap_or(0);
    let order_by = params.text("orderBy").unwrap_or("lastSeen");
    let order_by = OrderBy::parse(order_by)
        .ok_or_else(|| Reply::input_error(format!("orderBy {order_by:?} is not supported")))?;
    let descending = match params.text("order") {
        None | Some("asc") => false,
        Some("desc") => true,
        Some(other) => {
            return Err(Reply::input_error(format!(
                "order must be asc or desc, not {other:?}"
            )));
        }
    };
    let cutoff = now_ms.saturating_sub(params.seen_since(SEARCH_WINDOW_SECS)?.saturating_mul(1000));
    let query = Query::parse(params.text("query").unwrap_or(""));

    let mut hits: Vec<&Device> = data
        .devices
        .iter()
        .filter(|d| d.last_seen >= cutoff && query.matches(d))
        .collect();
    hits.sort_by(|a, b| order_by.compare(a, b, descending));
    let total = hits.len();
    let skip = usize::try_from(offset).unwrap_or(usize::MAX);
    let page: Vec<Value> = hits
        .into_iter()
        .skip(skip)
        .take(count as usize)
        .map(|d| d.to_json(true))
        .collect();
    // `count` reports the size of this page, so a client can tell a short last page.
    let returned = page.len();
    Ok(json!({ "totalCount": total, "devices": page, "offset": offset, "count": returned }))
}
