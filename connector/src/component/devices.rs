//! WIT boundary for device actions.

use super::bindings::exports::darktrace::connector::{devices as wd, types as wt};
use super::breaches::change;
use super::breaches::warnings;
use super::{Component, instant, run};
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
        warnings: warnings(d.warnings),
    }
}

fn graph_data(g: devices::GraphData) -> wd::GraphData {
    match g {
        devices::GraphData::Connections => wd::GraphData::Connections,
        devices::GraphData::SizeOut => wd::GraphData::SizeOut,
        devices::GraphData::SizeIn => wd::GraphData::SizeIn,
    }
}

fn port(p: devices::PortUsage) -> wd::PortUsage {
    wd::PortUsage {
        port: p.port,
        port_number: p.port_number,
        size: p.size,
        first_time: p.first_time,
        first_time_iso: p.first_time_iso,
    }
}

fn peer(p: devices::PeerUsage) -> wd::PeerUsage {
    wd::PeerUsage { peer: p.peer, did: p.did, size: p.size, first_time: p.first_time, first_time_iso: p.first_time_iso }
}

fn event(e: devices::DeviceEvent) -> wd::DeviceEvent {
    wd::DeviceEvent {
        event_type: e.event_type,
        time: e.time,
        time_iso: e.time_iso,
        uid: e.uid,
        direction: e.direction,
        source: e.source,
        destination: e.destination,
        source_ip: e.source_ip,
        destination_ip: e.destination_ip,
        source_did: e.source_did,
        destination_did: e.destination_did,
        port: e.port,
        protocol: e.protocol,
        application_protocol: e.application_protocol,
        status: e.status,
        name: e.name,
        detail: e.detail,
        raw: e.raw.to_string(),
        warnings: warnings(e.warnings),
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

    fn list_devices(c: wt::Connection, f: wd::DeviceListFilter) -> Result<Vec<wd::Device>, wt::Error> {
        let filter =
            devices::DeviceListFilter { seen_since: f.seen_since, count: f.count, include_tags: f.include_tags };
        run(c, filter, devices::list_devices, |list| list.into_iter().map(device).collect())
    }

    fn get_device_summary(c: wt::Connection, did: u64) -> Result<wd::DeviceSummary, wt::Error> {
        run(c, DidInput { did }, devices::get_device_summary, |s| wd::DeviceSummary {
            did: s.did,
            device: s.device.map(device),
            model_breach_pbids: s.model_breach_pbids,
            similar_device_dids: s.similar_device_dids,
            event_count: s.event_count,
            sections: s.sections.to_string(),
            raw: s.raw.to_string(),
            warnings: warnings(s.warnings),
        })
    }

    fn list_similar_devices(
        c: wt::Connection,
        did: u64,
        count: Option<u32>,
    ) -> Result<Vec<wd::SimilarDevice>, wt::Error> {
        run(c, devices::SimilarInput { did, count }, devices::list_similar_devices, |list| {
            list.into_iter().map(|s| wd::SimilarDevice { score: s.score, device: device(s.device) }).collect()
        })
    }

    fn get_device_connection_info(
        c: wt::Connection,
        q: wd::ConnectionInfoQuery,
    ) -> Result<wd::ConnectionInfo, wt::Error> {
        let query = devices::ConnectionInfoQuery {
            did: q.did,
            data_type: q.data_type.map(|d| match d {
                wd::GraphData::Connections => devices::GraphData::Connections,
                wd::GraphData::SizeOut => devices::GraphData::SizeOut,
                wd::GraphData::SizeIn => devices::GraphData::SizeIn,
            }),
            external_domain: q.external_domain,
            show_all_graph_data: q.show_all_graph_data,
            similar_devices: q.similar_devices,
        };
        run(c, query, devices::get_device_connection_info, |i| wd::ConnectionInfo {
            did: i.did,
            data_type: graph_data(i.data_type),
            total_used: i.total_used,
            total_served: i.total_served,
            total_devices_and_ports: i.total_devices_and_ports,
            graph_points: i.graph_points,
            ports_used: i.ports_used.into_iter().map(port).collect(),
            ports_served: i.ports_served.into_iter().map(port).collect(),
            devices_used: i.devices_used.into_iter().map(peer).collect(),
            devices_served: i.devices_served.into_iter().map(peer).collect(),
            similar_devices: i
                .similar_devices
                .into_iter()
                .map(|p| wd::GraphPeerDevice { did: p.did, similarity_score: p.similarity_score })
                .collect(),
            graph: i.graph.to_string(),
            raw: i.raw.to_string(),
            warnings: warnings(i.warnings),
        })
    }

    fn list_device_events(c: wt::Connection, q: wd::DeviceEventQuery) -> Result<Vec<wd::DeviceEvent>, wt::Error> {
        let query = devices::DeviceEventQuery {
            did: q.did,
            event_type: q.event_type.map(|t| match t {
                wd::EventType::Connection => devices::EventType::Connection,
                wd::EventType::UnusualConnection => devices::EventType::UnusualConnection,
                wd::EventType::NewConnection => devices::EventType::NewConnection,
                wd::EventType::Notice => devices::EventType::Notice,
                wd::EventType::DeviceHistory => devices::EventType::DeviceHistory,
                wd::EventType::ModelBreach => devices::EventType::ModelBreach,
            }),
            count: q.count,
            start: q.start.map(instant),
            end: q.end.map(instant),
        };
        run(c, query, devices::list_device_events, |list| list.into_iter().map(event).collect())
    }

    fn update_device(c: wt::Connection, u: wd::DeviceUpdate) -> Result<wt::ChangeResult, wt::Error> {
        let update = devices::DeviceUpdate { did: u.did, label: u.label, priority: u.priority, type_id: u.type_id };
        run(c, update, devices::update_device, change)
    }
}
