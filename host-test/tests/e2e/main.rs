//! End-to-end tests: the built component, loaded under wasmtime, runs every action against the
//! embedded simulator over loopback HTTP. One test binary (one link, one compiled component),
//! one module per action family.

mod ai_analyst;
mod bad_input;
mod breaches;
mod conformance;
mod devices;
mod faults;
mod health;
mod host;
mod intel;
mod metadata;
mod poll;
mod realistic;
mod respond;
mod sandbox;
mod support;
mod system;
mod tags;
mod tls;
mod typed_exports;
mod wire;
