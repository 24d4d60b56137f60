//! Broker's store commands as they arrive in command envelopes: the decoder must return a
//! command or an error on any bytes, and a decoded command must survive its own encoding.
#![no_main]
use libfuzzer_sys::fuzz_target;
use zcluster::store::InternalCommand;

fuzz_target!(|data: &[u8]| {
    if let Ok(cmd) = InternalCommand::decode(data) {
        if let Ok(again) = cmd.to_bytes() {
            let back = InternalCommand::decode(&again).expect("our own encoding must decode");
            assert_eq!(back.to_bytes().ok(), Some(again));
        }
    }
});
