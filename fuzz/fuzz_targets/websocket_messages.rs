//! WebSocket API JSON both ways (protocol, fastjson, ack/error): the body is `zcluster::fuzzing::websocket_messages`.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| zcluster::fuzzing::websocket_messages(data));
