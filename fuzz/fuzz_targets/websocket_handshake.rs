//! A WebSocket client's byte stream: the upgrade, frames, messages: the body is `zcluster::fuzzing::websocket_handshake`.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| zcluster::fuzzing::websocket_handshake(data));
