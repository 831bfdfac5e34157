//! WIT boundary for connection and appliance checks.

use super::bindings::exports::darktrace::connector::{system as ws, types as wt};
use super::by_name::{opt, text};
use super::{Component, instant, run};
use crate::actions::{NoInput, system};

impl ws::Guest for Component {
    fn test_connection(c: wt::Connection) -> Result<ws::ConnectionStatus, wt::Error> {
        run(c, NoInput {}, system::test_connection, |s| {
            by_name!(s, system::ConnectionStatus => ws::ConnectionStatus {
                api_address, version, hostname, appliance_time, checked_at,
            })
        })
    }

    fn get_status(c: wt::Connection) -> Result<ws::ApplianceStatus, wt::Error> {
        run(c, NoInput {}, system::get_status, |s| {
            by_name!(s, system::ApplianceStatus => ws::ApplianceStatus {
                version, hostname, appliance_type, time, time_iso, uptime, probe_count, subnet_count, device_count,
                probes_in_error, raw => text, warnings => super::breaches::warnings,
            })
        })
    }

    fn get_summary_statistics(c: wt::Connection, q: ws::StatisticsQuery) -> Result<ws::SummaryStatistics, wt::Error> {
        let query =
            by_name!(q, ws::StatisticsQuery => system::StatisticsQuery { event_type, hours, end => opt(instant) });
        run(c, query, system::get_summary_statistics, |s| {
            by_name!(s, system::SummaryStatistics => ws::SummaryStatistics {
                device_count, subnet_count, credential_count, respond_action_count, respond_device_count, raw => text, warnings => super::breaches::warnings,
            })
        })
    }
}
