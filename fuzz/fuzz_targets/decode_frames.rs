//! What the I/O thread reads from a peer: a stream of length-prefixed frames, each a
//! handshake message or an envelope. Every decoder must return a value or an error on any
//! bytes; a decoded handshake message re-encodes to what was read, and an envelope's
//! topic, filter and data payload checks never panic.
#![no_main]
use libfuzzer_sys::fuzz_target;
use zcluster::wire::{self, EnvelopeRef, HandshakeMsg};

fuzz_target!(|data: &[u8]| {
    let mut rest = data;
    // A bounded frame limit keeps the oversize path reachable with small inputs.
    while let Ok(Some((start, end))) = wire::next_frame(rest, 1 << 12) {
        let payload = &rest[start..end];
        if let Ok(msg) = HandshakeMsg::decode(payload) {
            let mut again = Vec::new();
            msg.encode(&mut again);
            assert_eq!(HandshakeMsg::decode(&again).ok().map(|m| m.name()), Some(msg.name()));
        }
        // What the I/O thread does after the handshake: header first, then the payload
        // checks (a bad payload drops one message, not the peering).
        if let Ok(env) = EnvelopeRef::decode_header(payload) {
            let _ = env.check_payload();
            let _ = env.validate_data();
        }
        if let Ok(env) = EnvelopeRef::decode(payload) {
            let _ = env.validate_data();
            let _ = env.routing_filter();
            let owned = env.to_owned();
            let mut frame = Vec::new();
            if owned.encode_frame(&mut frame).is_ok() {
                let (s, e) = wire::next_frame(&frame, usize::MAX).unwrap().unwrap();
                let back = EnvelopeRef::decode(&frame[s..e]).expect("our own envelope decodes");
                assert_eq!(back.payload, env.payload);
                assert_eq!(back.topic, env.topic);
            }
        }
        let _ = wire::filter::decode_filter(payload);
        rest = &rest[end..];
    }
});
