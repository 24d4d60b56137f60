//! Property tests of the wire decoders: arbitrary bytes never panic, and everything we
//! encode decodes back to itself.

use proptest::prelude::*;
use zcluster::wire::envelope::{encode_frame, EnvelopeRef};
use zcluster::wire::filter::{decode_filter, encode_filter};
use zcluster::wire::handshake::HandshakeMsg;
use zcluster::wire::{next_frame, EndpointId, EnvelopeType};

fn id() -> impl Strategy<Value = EndpointId> {
    any::<[u8; 16]>().prop_map(EndpointId)
}

fn filter() -> impl Strategy<Value = Vec<String>> {
    prop::collection::vec("[a-z/<$>]{0,12}", 0..6)
}

fn hs() -> impl Strategy<Value = HandshakeMsg> {
    prop_oneof![
        id().prop_map(HandshakeMsg::hello),
        Just(HandshakeMsg::Probe),
        id().prop_map(|s| HandshakeMsg::VersionSelect {
            sender: s,
            version: 1
        }),
        (id(), any::<u8>(), ".{0,40}").prop_map(|(s, c, d)| HandshakeMsg::DropConn {
            sender: s,
            code: c,
            description: d
        }),
        filter().prop_map(HandshakeMsg::OriginatorSyn),
        filter().prop_map(HandshakeMsg::ResponderSynAck),
        Just(HandshakeMsg::OriginatorAck),
    ]
}

proptest! {
    #[test]
    fn decoders_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        let _ = HandshakeMsg::decode(&bytes);
        if let Ok(e) = EnvelopeRef::decode(&bytes) {
            let _ = e.validate_data();
            let _ = e.routing_filter();
        }
        let _ = decode_filter(&bytes);
        let _ = next_frame(&bytes, 1 << 16);
    }

    #[test]
    fn handshake_round_trip(m in hs()) {
        let mut b = Vec::new();
        m.encode_frame(&mut b);
        let (s, e) = next_frame(&b, 1 << 16).unwrap().unwrap();
        prop_assert_eq!(e, b.len());
        prop_assert_eq!(HandshakeMsg::decode(&b[s..e]).unwrap(), m);
    }

    #[test]
    fn filter_round_trip(f in filter()) {
        let mut b = Vec::new();
        encode_filter(&f, &mut b);
        prop_assert_eq!(decode_filter(&b).unwrap(), f);
    }

    #[test]
    fn envelope_round_trip(s in id(), r in id(), ttl in any::<u16>(), topic in "[a-z/]{0,30}",
                           kind in prop_oneof![Just(EnvelopeType::Command), Just(EnvelopeType::Ping), Just(EnvelopeType::Pong)],
                           payload in prop::collection::vec(any::<u8>(), 1..64)) {
        let mut b = Vec::new();
        encode_frame(&mut b, s, r, kind, ttl, &topic, &payload).unwrap();
        let e = EnvelopeRef::decode(&b[4..]).unwrap();
        prop_assert_eq!((e.sender, e.receiver, e.kind, e.ttl, e.topic, e.payload), (s, r, kind, ttl, topic.as_str(), &payload[..]));
    }
}
