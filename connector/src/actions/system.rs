//! Connection and appliance checks.

use serde::Serialize;
use time::OffsetDateTime;
use time::macros::format_description;

use super::NoInput;
use crate::client::Client;
use crate::error::Result;
use crate::request::ApiRequest;
use crate::shape::Obj;
use crate::times::{iso_from_ms, now_ms};

family_actions! {
    "test-connection" => test_connection,
}

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
    let o = Obj::new(&answer, "status")?;
    Ok(ConnectionStatus {
        api_address: client.connection().base_url(),
        version: o.opt_str("version")?,
        hostname: o.opt_str("hostname")?,
        appliance_time: o.opt_str("time")?.and_then(|t| appliance_time(&t)),
        checked_at: iso_from_ms(now_ms()),
    })
}

/// `/status` reports its clock as `YYYY-MM-DD HH:MM[:SS]` in UTC.
fn appliance_time(text: &str) -> Option<String> {
    let long = format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");
    let short = format_description!("[year]-[month]-[day] [hour]:[minute]");
    let t = time::PrimitiveDateTime::parse(text.trim(), long)
        .or_else(|_| time::PrimitiveDateTime::parse(text.trim(), short))
        .ok()?;
    let t: OffsetDateTime = t.assume_utc();
    Some(iso_from_ms((t.unix_timestamp_nanos() / 1_000_000) as i64))
}
