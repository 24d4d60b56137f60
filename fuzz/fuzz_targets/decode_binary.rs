//! Broker's binary data codec: the body is `zcluster::fuzzing::decode_binary`.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| zcluster::fuzzing::decode_binary(data));
