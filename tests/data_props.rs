//! Property tests of the data model's two encodings: every type round-trips
//! binary -> value -> binary and value -> JSON -> value -> JSON unchanged; the decoders
//! never panic on arbitrary input.

use proptest::prelude::*;
use std::collections::{BTreeMap, BTreeSet};
use zcluster::data::{bin, json as bjson, Address, Port, Protocol, Subnet, Value};

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::None),
        any::<bool>().prop_map(Value::Bool),
        any::<u64>().prop_map(Value::Count),
        any::<i64>().prop_map(Value::Integer),
        // Subnormals are excluded: CAF's pack754 does not round-trip them (5e-324 reads back
        // as about -1.6e293), and we reproduce Broker's bytes, not IEEE's.
        any::<f64>()
            .prop_filter("subnormal", |f| !f.is_subnormal())
            .prop_map(Value::Real),
        proptest::collection::vec(any::<u8>(), 0..40).prop_map(Value::String),
        any::<String>().prop_map(Value::from),
        any::<[u8; 16]>().prop_map(|b| Value::Address(Address(b))),
        any::<[u8; 4]>().prop_map(|b| Value::Address(Address::from(std::net::Ipv4Addr::from(b)))),
        (any::<[u8; 16]>(), 0u8..=128)
            .prop_map(|(b, l)| Value::Subnet(Subnet::new(Address(b), l).unwrap())),
        (any::<[u8; 4]>(), 0u8..=32).prop_map(|(b, l)| Value::Subnet(
            Subnet::new(std::net::Ipv4Addr::from(b).into(), l).unwrap()
        )),
        (any::<u16>(), 0u8..4)
            .prop_map(|(n, p)| Value::Port(Port::new(n, Protocol::from_u8(p).unwrap()))),
        any::<i64>().prop_map(Value::Timestamp),
        any::<i64>().prop_map(Value::Timespan),
        "[A-Za-z:_]{0,20}".prop_map(Value::Enum),
    ]
}

fn value() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(4, 64, 8, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..8).prop_map(Value::Vector),
            proptest::collection::vec(inner.clone(), 0..8)
                .prop_map(|v| Value::Set(v.into_iter().collect::<BTreeSet<_>>())),
            proptest::collection::vec((inner.clone(), inner), 0..8)
                .prop_map(|v| Value::Table(v.into_iter().collect::<BTreeMap<_, _>>())),
        ]
    })
}

// JSON loses precision on purpose (ms timestamps, %f reals), so the JSON property is the
// fixed point after one trip, which is what the issue asks: JSON -> value -> JSON unchanged.
proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn binary_round_trips(v in value()) {
        let bytes = bin::encode_to_vec(&v);
        let back = bin::decode(&bytes).unwrap();
        prop_assert_eq!(&back, &v);
        prop_assert_eq!(bin::encode_to_vec(&back), bytes);
    }

    #[test]
    fn json_is_a_fixed_point_after_one_trip(v in value()) {
        let j1 = bjson::to_json(&v);
        zcluster::json::parse(&j1).unwrap();
        let v1 = bjson::from_json(&j1).unwrap();
        let j2 = bjson::to_json(&v1);
        let v2 = bjson::from_json(&j2).unwrap();
        prop_assert_eq!(bjson::to_json(&v2), j2);
    }

    #[test]
    fn binary_decoder_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        let _ = bin::decode(&bytes);
        let _ = bin::decode_prefix(&bytes);
    }

    #[test]
    fn truncations_are_errors(v in value(), cut in any::<prop::sample::Index>()) {
        let bytes = bin::encode_to_vec(&v);
        let n = cut.index(bytes.len());
        prop_assert!(bin::decode(&bytes[..n]).is_err());
    }

    #[test]
    fn validate_agrees_with_decode_on_values_and_mutations(
        v in value(),
        pos in any::<prop::sample::Index>(),
        b in any::<u8>(),
        cut in any::<prop::sample::Index>(),
    ) {
        // `validate` (what the endpoint runs per message) has a fast path of its own:
        // it must accept and refuse exactly what `decode` does, with the same error.
        let bytes = bin::encode_to_vec(&v);
        prop_assert!(bin::validate(&bytes).is_ok());
        let mut m = bytes.clone();
        let i = pos.index(m.len());
        m[i] = b;
        let n = cut.index(bytes.len() + 1);
        for input in [&m[..], &bytes[..n]] {
            match (bin::decode(input), bin::validate(input)) {
                (Ok(_), Ok(())) => {}
                (Err(e), Err(f)) => prop_assert_eq!(e.message, f.message),
                (d, f) => prop_assert!(false, "decode {:?} but validate {:?}", d.is_ok(), f),
            }
        }
    }

    #[test]
    fn validate_agrees_with_decode_on_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
        prop_assert_eq!(bin::decode(&bytes).is_ok(), bin::validate(&bytes).is_ok());
    }

    #[test]
    fn json_decoders_never_panic(s in ".{0,200}") {
        let _ = zcluster::json::parse(&s);
        let _ = bjson::from_json(&s);
        let _ = bjson::data_message_from_json(&s);
    }

    #[test]
    fn json_of_mutated_values_never_panics(v in value(), pos in any::<prop::sample::Index>(), b in any::<u8>()) {
        let mut j = bjson::to_json(&v).into_bytes();
        let i = pos.index(j.len());
        j[i] = b;
        if let Ok(s) = std::str::from_utf8(&j) {
            let _ = bjson::from_json(s);
        }
    }
}
