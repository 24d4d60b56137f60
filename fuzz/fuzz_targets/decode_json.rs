//! Broker's JSON data codec: the body is `zcluster::fuzzing::decode_json`.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| zcluster::fuzzing::decode_json(data));
