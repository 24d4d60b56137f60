//! The Broker peer core in each role and handshake stage, with simulated time: the body is `zcluster::fuzzing::peer_core`.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| zcluster::fuzzing::peer_core(data));
