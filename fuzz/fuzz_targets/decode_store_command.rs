//! Store commands (command envelopes, zcluster-store-v1): the body is `zcluster::fuzzing::decode_store_command`.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| zcluster::fuzzing::decode_store_command(data));
