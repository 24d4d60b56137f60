//! The generic JSON parser: the body is `zcluster::fuzzing::parse_json`.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| zcluster::fuzzing::parse_json(data));
