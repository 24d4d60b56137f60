//! Broker's frame stream: handshake messages and envelopes: the body is `zcluster::fuzzing::decode_frames`.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| zcluster::fuzzing::decode_frames(data));
