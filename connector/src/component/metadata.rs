//! WIT boundary for enrichment and metadata actions.

use super::bindings::exports::darktrace::connector::{metadata as wm, types as wt};
use super::breaches::warnings;
use super::{Component, instant, run};
use crate::actions::metadata;

fn model(m: metadata::Model) -> wm::Model {
    wm::Model {
        pid: m.pid,
        phid: m.phid,
        uuid: m.uuid,
        name: m.name,
        family: m.family,
        category: m.category,
        priority: m.priority,
        compliance: m.compliance,
        active: m.active,
        description: m.description,
        tags: m.tags,
        component_cids: m.component_cids,
        modified: m.modified,
        modified_iso: m.modified_iso,
        raw: m.raw.to_string(),
        warnings: warnings(m.warnings),
    }
}

fn subnet(s: metadata::Subnet) -> wm::Subnet {
    wm::Subnet {
        sid: s.sid,
        label: s.label,
        network: s.network,
        dhcp: s.dhcp,
        unique_usernames: s.unique_usernames,
        unique_hostnames: s.unique_hostnames,
        excluded: s.excluded,
        latitude: s.latitude,
        longitude: s.longitude,
        last_traffic: s.last_traffic,
        last_traffic_iso: s.last_traffic_iso,
        last_seen: s.last_seen,
        last_seen_iso: s.last_seen_iso,
        raw: s.raw.to_string(),
        warnings: warnings(s.warnings),
    }
}

impl wm::Guest for Component {
    fn get_endpoint_details(c: wt::Connection, q: wm::EndpointQuery) -> Result<wm::EndpointDetails, wt::Error> {
        let query = metadata::EndpointQuery {
            hostname: q.hostname,
            ip: q.ip,
            additional_info: q.additional_info,
            devices: q.devices,
            score: q.score,
        };
        run(c, query, metadata::get_endpoint_details, |d| wm::EndpointDetails {
            hostname: d.hostname,
            ip: d.ip,
            internal: d.internal,
            first_seen: d.first_seen,
            first_seen_iso: d.first_seen_iso,
            popularity: d.popularity,
            dga_score: d.dga_score,
            device_dids: d.device_dids,
            ips: d.ips,
            locations: d.locations.to_string(),
            raw: d.raw.to_string(),
            warnings: warnings(d.warnings),
        })
    }

    fn list_models(c: wt::Connection) -> Result<Vec<wm::Model>, wt::Error> {
        run(c, crate::actions::NoInput {}, metadata::list_models, |list| list.into_iter().map(model).collect())
    }

    fn get_model(c: wt::Connection, m: wm::ModelRef) -> Result<wm::Model, wt::Error> {
        run(c, metadata::ModelRef { uuid: m.uuid, pid: m.pid }, metadata::get_model, model)
    }

    fn get_model_component(c: wt::Connection, cid: u64) -> Result<wm::ModelComponent, wt::Error> {
        run(c, metadata::CidInput { cid }, metadata::get_model_component, |m| wm::ModelComponent {
            cid: m.cid,
            chid: m.chid,
            metric_id: m.metric_id,
            metric_name: m.metric_name,
            filters: m.filters.to_string(),
            raw: m.raw.to_string(),
            warnings: warnings(m.warnings),
        })
    }

    fn get_enums(c: wt::Connection, section: Option<String>) -> Result<String, wt::Error> {
        run(c, metadata::EnumsInput { section }, metadata::get_enums, |v| v.to_string())
    }

    fn advanced_search(c: wt::Connection, q: wm::SearchQuery) -> Result<wm::SearchResult, wt::Error> {
        let query = metadata::SearchQuery {
            query: q.query,
            start: q.start.map(instant),
            end: q.end.map(instant),
            size: q.size,
            offset: q.offset,
            legacy_get: q.legacy_get,
        };
        run(c, query, metadata::advanced_search, |r| wm::SearchResult {
            total_hits: r.total_hits,
            took_ms: r.took_ms,
            timed_out: r.timed_out,
            offset: r.offset,
            hits: r.hits.to_string(),
            raw: r.raw.to_string(),
            warnings: warnings(r.warnings),
        })
    }

    fn list_subnets(c: wt::Connection, f: wm::SubnetFilter) -> Result<Vec<wm::Subnet>, wt::Error> {
        let filter = metadata::SubnetFilter { sid: f.sid, seen_since_seconds: f.seen_since_seconds };
        run(c, filter, metadata::list_subnets, |list| list.into_iter().map(subnet).collect())
    }
}
