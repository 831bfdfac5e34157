//! Fuzz target `response_parsing`: see `darktrace_connector_fuzz::response_parsing` for the input format and invariants.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| darktrace_connector_fuzz::response_parsing(data));
