//! Zeek-bin-serializer log-write batches, rendered by the writers: the body is `zcluster::fuzzing::zeek_log_batch`.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| zcluster::fuzzing::zeek_log_batch(data));
