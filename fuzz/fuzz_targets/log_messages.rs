//! Broker-side LogCreate/LogWrite/Batch, rendered by the ASCII and JSON writers: the body is `zcluster::fuzzing::log_messages`.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| zcluster::fuzzing::log_messages(data));
