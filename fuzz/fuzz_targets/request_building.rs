//! Fuzz target `request_building`: see `darktrace_connector_fuzz::request_building` for the input format and invariants.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| darktrace_connector_fuzz::request_building(data));
