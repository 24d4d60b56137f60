//! The first targets: Broker's binary and JSON data codecs, the generic JSON parser, the
//! frame stream a peer sends, and store commands.

use crate::data::{bin, json as bjson, Value};
use crate::store::InternalCommand;
use crate::wire::{self, EnvelopeRef, HandshakeMsg};

/// Subnormal reals do not survive CAF's pack754 (a Broker quirk we reproduce), so the
/// round-trip checks skip values holding one.
pub(crate) fn has_subnormal(v: &Value) -> bool {
    match v {
        Value::Real(r) => r.is_subnormal(),
        Value::Set(s) => s.iter().any(has_subnormal),
        Value::Vector(xs) => xs.iter().any(has_subnormal),
        Value::Table(t) => t.iter().any(|(k, x)| has_subnormal(k) || has_subnormal(x)),
        _ => false,
    }
}

/// Broker's binary decoder on arbitrary bytes: a value or an error, and a decoded value
/// survives its own encoding.
pub fn decode_binary(data: &[u8]) {
    if let Ok(v) = bin::decode(data) {
        let again = bin::encode_to_vec(&v);
        if !has_subnormal(&v) {
            let back = bin::decode(&again).expect("our own encoding must decode");
            assert_eq!(back, v);
            assert_eq!(bin::encode_to_vec(&back), again);
        }
    }
    let _ = bin::decode_prefix(data);
    let _ = bin::validate(data);
    let _ = crate::data::Event::name_of(data);
    let _ = crate::data::Event::from_bytes(data);
}

/// Broker's JSON decoder (values and data messages): a value or an error; a decoded
/// value's JSON decodes again.
pub fn decode_json(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(v) = bjson::from_json(text) {
        let j = bjson::to_json(&v);
        bjson::from_json(&j).expect("our own JSON must decode");
    }
    let _ = bjson::data_message_from_json(text);
}

/// The generic JSON parser: what it accepts survives its own writer.
pub fn parse_json(data: &[u8]) {
    if let Ok(v) = crate::json::parse_bytes(data) {
        assert_eq!(
            crate::json::parse(&v.to_compact()).expect("compact output parses"),
            v
        );
        assert_eq!(
            crate::json::parse(&v.to_pretty()).expect("pretty output parses"),
            v
        );
    }
}

/// A stream of length-prefixed frames, each a handshake message or an envelope: every
/// decoder returns a value or an error; a handshake message re-encodes to one of the same
/// kind, an envelope re-encodes to the same topic and payload.
pub fn decode_frames(data: &[u8]) {
    let mut rest = data;
    // A bounded frame limit keeps the oversize path reachable with small inputs.
    while let Ok(Some((start, end))) = wire::next_frame(rest, 1 << 12) {
        let payload = &rest[start..end];
        if let Ok(msg) = HandshakeMsg::decode(payload) {
            let mut again = Vec::new();
            msg.encode(&mut again);
            assert_eq!(
                HandshakeMsg::decode(&again).ok().map(|m| m.name()),
                Some(msg.name())
            );
        }
        // What the core does after the handshake: header first, then the payload checks
        // (a bad payload drops one message, not the peering).
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
                let (s, e) = wire::next_frame(&frame, usize::MAX)
                    .expect("our own frame")
                    .expect("a whole frame");
                let back = EnvelopeRef::decode(&frame[s..e]).expect("our own envelope decodes");
                assert_eq!(back.payload, env.payload);
                assert_eq!(back.topic, env.topic);
            }
        }
        let _ = wire::filter::decode_filter(payload);
        rest = &rest[end..];
    }
}

/// Store commands as they arrive in command envelopes (Broker) and `zcluster-store-v1`
/// messages (ZeroMQ): a command or an error, and a decoded command survives its own
/// encoding.
pub fn decode_store_command(data: &[u8]) {
    if let Ok(cmd) = InternalCommand::decode(data) {
        if let Ok(again) = cmd.to_bytes() {
            let back = InternalCommand::decode(&again).expect("our own encoding must decode");
            assert_eq!(back.to_bytes().ok(), Some(again));
        }
    }
}
