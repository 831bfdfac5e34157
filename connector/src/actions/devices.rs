//! Device actions: read one device, search devices.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{DidInput, Input};
use crate::client::Client;
use crate::error::{Error, Result};
use crate::request::ApiRequest;
use crate::shape::Obj;
use crate::times::iso_from_ms;

family_actions! {
    "get-device" => get_device,
    "search-devices" => search_devices,
}

/// Most devices `/devicesearch` returns per page.
const MAX_SEARCH_COUNT: u32 = 300;

/// A device (see the WIT `device`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Device {
    /// Device id.
    pub did: u64,
    /// IP address.
    pub ip: Option<String>,
    /// MAC address.
    pub mac: Option<String>,
    /// Hostname.
    pub hostname: Option<String>,
    /// NIC vendor.
    pub vendor: Option<String>,
    /// Operating system.
    pub os: Option<String>,
    /// Operator label.
    pub label: Option<String>,
    /// Type name.
    pub type_name: Option<String>,
    /// Readable type.
    pub type_label: Option<String>,
    /// Priority -5..5.
    pub priority: i32,
    /// First seen, epoch ms.
    pub first_seen: Option<i64>,
    /// `first_seen` in ISO 8601 UTC.
    pub first_seen_iso: Option<String>,
    /// Last seen, epoch ms.
    pub last_seen: Option<i64>,
    /// `last_seen` in ISO 8601 UTC.
    pub last_seen_iso: Option<String>,
    /// Tag names.
    pub tags: Vec<String>,
    /// The appliance's object.
    pub raw: Value,
}

/// Input of `search-devices` (see the WIT `device-query`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeviceQuery {
    /// Search text or field filters.
    pub query: String,
    /// Page size, 1..300.
    pub count: Option<u32>,
    /// Devices to skip.
    pub offset: Option<u32>,
}

impl Input for DeviceQuery {
    fn validate(&self) -> Result<()> {
        if self.query.trim().is_empty() {
            return Err(Error::field("query", "is empty; give text such as `web` or filters such as `hostname:\"web*\"`"));
        }
        if self.query.chars().count() > 1024 {
            return Err(Error::field("query", "is longer than 1024 characters"));
        }
        if let Some(count) = self.count
            && !(1..=MAX_SEARCH_COUNT).contains(&count)
        {
            return Err(Error::field("count", format!("{count} is outside 1..{MAX_SEARCH_COUNT}; page with `offset` for more")));
        }
        Ok(())
    }
}

/// One page of search results (see the WIT `device-page`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DevicePage {
    /// Matching devices in total.
    pub total_count: u64,
    /// This page's offset.
    pub offset: u32,
    /// This page.
    pub devices: Vec<Device>,
}

/// Reads one device.
pub fn get_device(client: &Client, input: DidInput) -> Result<Device> {
    let request = ApiRequest::get("/devices").param("did", input.did).param("includetags", true);
    let answer = client.send(&request)?;
    // Appliances answer an unknown did with an empty object or list rather than 404.
    let item = match &answer {
        Value::Array(items) => items.first(),
        Value::Object(map) if !map.is_empty() => Some(&answer),
        _ => None,
    }
    .ok_or_else(|| Error::NotFound(format!("device {} is not known to the appliance", input.did)))?;
    device_from(item, "device")
}

/// Searches devices.
pub fn search_devices(client: &Client, input: DeviceQuery) -> Result<DevicePage> {
    let offset = input.offset.unwrap_or(0);
    let request = ApiRequest::get("/devicesearch")
        .param("query", input.query.trim())
        .param("count", input.count.unwrap_or(100))
        .param("offset", offset);
    let answer = client.send(&request)?;
    let o = Obj::new(&answer, "devicesearch")?;
    let devices = match o.opt_array("devices")? {
        Some((items, at)) => items
            .iter()
            .enumerate()
            .map(|(i, v)| device_from(v, &format!("{at}[{i}]")))
            .collect::<Result<Vec<_>>>()?,
        None => Vec::new(),
    };
    Ok(DevicePage { total_count: o.opt_u64("totalCount")?.unwrap_or(devices.len() as u64), offset, devices })
}

/// Normalises one device object as the appliance sends it.
pub fn device_from(v: &Value, path: &str) -> Result<Device> {
    let o = Obj::new(v, path)?;
    let first_seen = o.opt_i64("firstSeen")?;
    let last_seen = o.opt_i64("lastSeen")?;
    let tags = match o.opt_array("tags")? {
        Some((items, at)) => items
            .iter()
            .enumerate()
            .filter_map(|(i, t)| match t {
                Value::String(s) => Some(Ok(s.clone())),
                _ => Obj::new(t, format!("{at}[{i}]")).and_then(|t| t.opt_str("name")).transpose(),
            })
            .collect::<Result<Vec<_>>>()?,
        None => Vec::new(),
    };
    Ok(Device {
        did: o.u64("did")?,
        ip: o.opt_str("ip")?,
        mac: o.opt_str("macaddress")?,
        hostname: o.opt_str("hostname")?,
        vendor: o.opt_str("vendor")?,
        os: o.opt_str("os")?,
        label: o.opt_str("devicelabel")?,
        type_name: o.opt_str("typename")?,
        type_label: o.opt_str("typelabel")?,
        priority: o.opt_i64("priority")?.unwrap_or(0).clamp(-5, 5) as i32,
        first_seen,
        first_seen_iso: first_seen.map(iso_from_ms),
        last_seen,
        last_seen_iso: last_seen.map(iso_from_ms),
        tags,
        raw: v.clone(),
    })
}
