//! WIT boundary for connection and appliance checks.

use super::bindings::exports::darktrace::connector::{system as ws, types as wt};
use super::{Component, run};
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
}

