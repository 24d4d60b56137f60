//! Zeek's ZeroMQ multipart messages: events, hello, store commands, subscriptions, log-writes: the body is `zcluster::fuzzing::zeromq_messages`.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| zcluster::fuzzing::zeromq_messages(data));
