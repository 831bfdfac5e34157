//! WIT boundary for device actions.

use super::bindings::exports::darktrace::connector::{devices as wd, types as wt};
use super::{Component, run};
use crate::actions::{DidInput, devices};

pub(crate) fn device(d: devices::Device) -> wd::Device {
    wd::Device {
        did: d.did,
        ip: d.ip,
        mac: d.mac,
        hostname: d.hostname,
        vendor: d.vendor,
        os: d.os,
        label: d.label,
        type_name: d.type_name,
        type_label: d.type_label,
        priority: d.priority,
        first_seen: d.first_seen,
        first_seen_iso: d.first_seen_iso,
        last_seen: d.last_seen,
        last_seen_iso: d.last_seen_iso,
        tags: d.tags,
        raw: d.raw.to_string(),
    }
}

impl wd::Guest for Component {
    fn get_device(c: wt::Connection, did: u64) -> Result<wd::Device, wt::Error> {
        run(c, DidInput { did }, devices::get_device, device)
    }

    fn search_devices(c: wt::Connection, q: wd::DeviceQuery) -> Result<wd::DevicePage, wt::Error> {
        let query = devices::DeviceQuery { query: q.query, count: q.count, offset: q.offset };
        run(c, query, devices::search_devices, |p| wd::DevicePage {
            total_count: p.total_count,
            offset: p.offset,
            devices: p.devices.into_iter().map(device).collect(),
        })
    }
}

