//! End-to-end tests: the built component, loaded under wasmtime, runs every action against the
//! embedded simulator over loopback HTTP. One test binary (one link, one compiled component),
//! one module per action family.

mod breaches;
mod devices;
mod host;
mod support;
mod system;
