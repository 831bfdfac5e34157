//! WIT boundary for connection and appliance checks.

use super::bindings::exports::darktrace::connector::{system as ws, types as wt};
use super::breaches::warnings;
use super::{Component, instant, run};
use crate::actions::{NoInput, system};

impl ws::Guest for Component {
    fn test_connection(c: wt::Connection) -> Result<ws::ConnectionStatus, wt::Error> {
        run(c, NoInput {}, system::test_connection, |s| ws::ConnectionStatus {
            api_address: s.api_address,
            version: s.version,
            hostname: s.hostname,
            appliance_time: s.appliance_time,
            checked_at: s.checked_at,
        })
    }

    fn get_status(c: wt::Connection) -> Result<ws::ApplianceStatus, wt::Error> {
        run(c, NoInput {}, system::get_status, |s| ws::ApplianceStatus {
            version: s.version,
            hostname: s.hostname,
            appliance_type: s.appliance_type,
            time: s.time,
            time_iso: s.time_iso,
            uptime: s.uptime,
            probe_count: s.probe_count,
            subnet_count: s.subnet_count,
            device_count: s.device_count,
            probes_in_error: s.probes_in_error,
            raw: s.raw.to_string(),
            warnings: warnings(s.warnings),
        })
    }

    fn get_summary_statistics(c: wt::Connection, q: ws::StatisticsQuery) -> Result<ws::SummaryStatistics, wt::Error> {
        let query = system::StatisticsQuery { event_type: q.event_type, hours: q.hours, end: q.end.map(instant) };
        run(c, query, system::get_summary_statistics, |s| ws::SummaryStatistics {
            device_count: s.device_count,
            subnet_count: s.subnet_count,
            credential_count: s.credential_count,
            respond_action_count: s.respond_action_count,
            respond_device_count: s.respond_device_count,
            raw: s.raw.to_string(),
            warnings: warnings(s.warnings),
        })
    }
}
