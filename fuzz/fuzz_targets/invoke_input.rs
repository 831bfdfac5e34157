//! Fuzz target `invoke_input`: see `darktrace_connector_fuzz::invoke_input` for the input format and invariants.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| darktrace_connector_fuzz::invoke_input(data));
