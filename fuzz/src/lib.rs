//! Fuzz harnesses for the connector's pure logic, built natively.
//!
//! Each target is a plain function over bytes, so the same code runs under libFuzzer
//! (`fuzz_targets/`, through cargo-fuzz) and replays the seed corpus under `cargo test` on stable.
//! A target returns normally when every invariant holds and panics (which libFuzzer reports as a
//! crash) when one does not. See `README.md` beside this crate for how to run them.

mod checks;
mod inputs;
mod invoke;
mod request;
mod response;
pub mod seeds;
mod state;
mod transport;

pub use checks::{check_result, check_wire};
pub use inputs::{VALID_INPUTS, valid_input};
pub use invoke::invoke_input;
pub use request::request_building;
pub use response::response_parsing;
pub use state::state_and_times;
pub use transport::Recorder;

use darktrace_connector::Connection;

/// A harness: runs one input, panics when an invariant breaks.
pub type Target = fn(&[u8]);

/// Every target by name, as `fuzz_targets/<name>.rs` and `corpus/<name>/` call it.
pub const TARGETS: &[(&str, Target)] = &[
    ("invoke_input", invoke_input),
    ("request_building", request_building),
    ("response_parsing", response_parsing),
    ("state_and_times", state_and_times),
];

/// The appliance address every harness connects to; nothing is ever sent over a network.
pub const API_ADDRESS: &str = "dt.fuzz.example";
/// The public token of the harnesses' connection.
pub const PUBLIC_TOKEN: &str = "fuzz-public-6c1f";
/// The private token of the harnesses' connection: long and unusual, so finding it in any output
/// means it leaked rather than that the fuzzer happened to write it.
pub const PRIVATE_TOKEN: &str = "fuzz-private-9d27b4e0a3c8f15e";

/// The harnesses' connection.
pub fn connection() -> Connection {
    Connection::new(API_ADDRESS, PUBLIC_TOKEN, PRIVATE_TOKEN).expect("the harness connection is valid")
}

/// Picks the action `index` designates, wrapping around the action list.
pub fn action_at(index: u8) -> &'static str {
    let names: Vec<&'static str> = darktrace_connector::actions::actions().map(|a| a.name).collect();
    names[usize::from(index) % names.len()]
}
