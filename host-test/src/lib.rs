//! The wasmtime host for the Darktrace connector component: loads it, runs its actions under a
//! sandbox policy, and ships an embedded Darktrace simulator so everything works offline.

pub mod cache;
pub mod cli;
pub mod conformance;
pub mod fsutil;
pub mod native;
pub mod outbound;
pub mod runtime;
pub mod simulator;
pub mod store;

/// Path of the connector component built by this crate's build script.
pub const CONNECTOR_WASM: &str = env!("CONNECTOR_WASM");
