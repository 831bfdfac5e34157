//! Fuzz target `state_and_times`: see `darktrace_connector_fuzz::state_and_times` for the input format and invariants.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| darktrace_connector_fuzz::state_and_times(data));
