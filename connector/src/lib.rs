//! Darktrace Threat Visualizer connector.
//!
//! Built for `wasm32-wasip2` this crate is a WebAssembly component (see `wit/`); built natively
//! it is a plain library whose pure logic (signing, request building, response mapping, input
//! checks and normalisation) is unit tested and reused by the host's simulator.

pub mod actions;
pub mod client;
pub mod connection;
pub mod error;
pub mod manifest;
pub mod poll;
pub mod request;
pub mod shape;
pub mod signing;
pub mod times;

#[cfg(target_arch = "wasm32")]
mod component;

pub use client::{Client, Transport, WireResponse};
pub use connection::Connection;
pub use error::{Error, Result};
pub use request::{ApiRequest, WireRequest};
