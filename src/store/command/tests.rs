//! Expected bytes are assembled by hand from the field order in Broker's
//! `internal_command.hh` (`inspect` overloads) and the encoder rules in `format/bin.hh`.

use super::*;
use crate::error::ErrorKind;

fn s(x: &str) -> Value {
    Value::String(x.as_bytes().to_vec())
}

const A: [u8; 16] = [0xaa; 16];
const B: [u8; 16] = [0xbb; 16];

fn ent(e: [u8; 16], obj: u64) -> Vec<u8> {
    let mut v = e.to_vec();
    v.extend_from_slice(&obj.to_be_bytes());
    v
}

/// seq, sender (A, 7), receiver (B, 0), index
fn header(seq: u64, idx: u8) -> Vec<u8> {
    let mut v = seq.to_be_bytes().to_vec();
    v.extend(ent(A, 7));
    v.extend(ent(B, 0));
    v.push(idx);
    v
}

fn cmd(seq: u64, content: Command) -> InternalCommand {
    InternalCommand {
        seq,
        sender: EntityId::new(A, 7),
        receiver: EntityId::new(B, 0),
        content,
    }
}

fn check(c: InternalCommand, expected: Vec<u8>) {
    let bytes = c.to_bytes().unwrap();
    assert_eq!(bytes, expected, "encoding of {}", c.content.name());
    assert_eq!(
        InternalCommand::decode(&expected).unwrap(),
        c,
        "decoding of {}",
        c.content.name()
    );
    // Every strict prefix is refused with a decode error, never a panic.
    for cut in 0..expected.len() {
        let e = InternalCommand::decode(&expected[..cut]).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Decode);
    }
    let mut longer = expected.clone();
    longer.push(0);
    assert!(InternalCommand::decode(&longer)
        .unwrap_err()
        .message
        .contains("trailing"));
}

const KEY_K: [u8; 3] = [5, 1, b'k']; // string "k"
const COUNT_5: [u8; 9] = [2, 0, 0, 0, 0, 0, 0, 0, 5];

#[test]
fn put_bytes() {
    let mut e = header(2, 0);
    e.extend(KEY_K);
    e.extend(COUNT_5);
    e.push(1);
    e.extend(1_000_000_000i64.to_be_bytes());
    e.extend(ent(A, 7));
    check(
        cmd(
            2,
            Command::Put {
                key: s("k"),
                value: Value::Count(5),
                expiry: Some(1_000_000_000),
                publisher: EntityId::new(A, 7),
            },
        ),
        e,
    );
    let mut e = header(3, 0);
    e.extend(KEY_K);
    e.extend(COUNT_5);
    e.push(0);
    e.extend(ent([0; 16], 0));
    check(
        cmd(
            3,
            Command::Put {
                key: s("k"),
                value: Value::Count(5),
                expiry: None,
                publisher: EntityId::NIL,
            },
        ),
        e,
    );
}

#[test]
fn put_unique_and_result_bytes() {
    let mut e = header(0, 1);
    e.extend(KEY_K);
    e.extend(COUNT_5);
    e.push(0);
    e.extend(ent(A, 9)); // who
    e.extend(42u64.to_be_bytes()); // req_id
    e.extend(ent(A, 7)); // publisher
    check(
        cmd(
            0,
            Command::PutUnique {
                key: s("k"),
                value: Value::Count(5),
                expiry: None,
                who: EntityId::new(A, 9),
                req_id: 42,
                publisher: EntityId::new(A, 7),
            },
        ),
        e,
    );
    let mut e = header(5, 2);
    e.push(1);
    e.extend(ent(A, 9));
    e.extend(42u64.to_be_bytes());
    e.extend(ent(B, 0));
    check(
        cmd(
            5,
            Command::PutUniqueResult {
                inserted: true,
                who: EntityId::new(A, 9),
                req_id: 42,
                publisher: EntityId::new(B, 0),
            },
        ),
        e,
    );
}

#[test]
fn erase_expire_clear_bytes() {
    for (idx, c) in [
        (
            3u8,
            Command::Erase {
                key: s("k"),
                publisher: EntityId::new(B, 1),
            },
        ),
        (
            4u8,
            Command::Expire {
                key: s("k"),
                publisher: EntityId::new(B, 1),
            },
        ),
    ] {
        let mut e = header(9, idx);
        e.extend(KEY_K);
        e.extend(ent(B, 1));
        check(cmd(9, c), e);
    }
    let mut e = header(9, 7);
    e.extend(ent(B, 1));
    check(
        cmd(
            9,
            Command::Clear {
                publisher: EntityId::new(B, 1),
            },
        ),
        e,
    );
}

#[test]
fn add_subtract_bytes() {
    // add: key, value, init_type (u8), expiry, publisher
    let mut e = header(4, 5);
    e.extend(KEY_K);
    e.extend(COUNT_5);
    e.push(2); // init_type count
    e.push(1);
    e.extend((-5i64).to_be_bytes());
    e.extend(ent(A, 7));
    check(
        cmd(
            4,
            Command::Add {
                key: s("k"),
                value: Value::Count(5),
                init_type: 2,
                expiry: Some(-5),
                publisher: EntityId::new(A, 7),
            },
        ),
        e,
    );
    // subtract: key, value, expiry, publisher (no init_type)
    let mut e = header(4, 6);
    e.extend(KEY_K);
    e.extend(COUNT_5);
    e.push(0);
    e.extend(ent(A, 7));
    check(
        cmd(
            4,
            Command::Subtract {
                key: s("k"),
                value: Value::Count(5),
                expiry: None,
                publisher: EntityId::new(A, 7),
            },
        ),
        e,
    );
    // init_type beyond vector (14) is refused, as Broker's inspect(data::type) does.
    let mut bad = header(4, 5);
    bad.extend(KEY_K);
    bad.extend(COUNT_5);
    bad.push(15);
    bad.push(0);
    bad.extend(ent(A, 7));
    assert!(InternalCommand::decode(&bad)
        .unwrap_err()
        .message
        .contains("init_type"));
}

#[test]
fn control_bytes() {
    let mut e = header(0, 8);
    e.extend(10u64.to_be_bytes());
    e.extend(5u16.to_be_bytes());
    check(
        cmd(
            0,
            Command::AttachWriter {
                offset: 10,
                heartbeat_interval: 5,
            },
        ),
        e,
    );
    for (idx, c) in [
        (9u8, Command::Keepalive { seq: 77 }),
        (10u8, Command::CumulativeAck { seq: 77 }),
        (13u8, Command::RetransmitFailed { seq: 77 }),
    ] {
        let mut e = header(0, idx);
        e.extend(77u64.to_be_bytes());
        check(cmd(0, c), e);
    }
    let mut e = header(0, 11);
    e.push(3);
    for x in [2u64, 3, 300] {
        e.extend(x.to_be_bytes());
    }
    check(
        cmd(
            0,
            Command::Nack {
                seqs: vec![2, 3, 300],
            },
        ),
        e,
    );
    let mut e = header(0, 11);
    e.push(1);
    e.extend(0u64.to_be_bytes());
    check(cmd(0, Command::Nack { seqs: vec![0] }), e);
}

#[test]
fn ack_clone_bytes() {
    let mut state = Snapshot::new();
    state.insert(s("k"), Value::Count(5));
    state.insert(Value::Count(1), Value::Vector(vec![]));
    let mut e = header(1, 12);
    e.extend(1u64.to_be_bytes());
    e.extend(5u16.to_be_bytes());
    e.push(2);
    // Canonical order: count (tag 2) before string (tag 5).
    e.extend([2, 0, 0, 0, 0, 0, 0, 0, 1, 14, 0]);
    e.extend(KEY_K);
    e.extend(COUNT_5);
    check(
        cmd(
            1,
            Command::AckClone {
                offset: 1,
                heartbeat_interval: 5,
                state,
            },
        ),
        e,
    );
    // Broker's decoder refuses duplicate snapshot keys; so do we.
    let mut dup = header(1, 12);
    dup.extend(1u64.to_be_bytes());
    dup.extend(5u16.to_be_bytes());
    dup.push(2);
    dup.extend(KEY_K);
    dup.extend(COUNT_5);
    dup.extend(KEY_K);
    dup.extend(COUNT_5);
    assert!(InternalCommand::decode(&dup)
        .unwrap_err()
        .message
        .contains("duplicate"));
}

#[test]
fn hostile_counts_and_indices_are_refused_without_allocating() {
    let mut e = header(0, 11);
    e.extend([0xff, 0xff, 0xff, 0xff, 0x0f]); // 2^32-1 seqs, no bytes
    assert!(InternalCommand::decode(&e)
        .unwrap_err()
        .message
        .contains("announces"));
    let mut e = header(0, 12);
    e.extend(1u64.to_be_bytes());
    e.extend(5u16.to_be_bytes());
    e.extend([0xff, 0xff, 0xff, 0xff, 0x0f]);
    assert!(InternalCommand::decode(&e)
        .unwrap_err()
        .message
        .contains("announces"));
    let e = header(0, 14);
    assert!(InternalCommand::decode(&e)
        .unwrap_err()
        .message
        .contains("unknown content index 14"));
    let mut e = header(0, 11);
    e.extend([0x80, 0x80, 0x80, 0x80, 0x80, 0x01]);
    assert_eq!(
        InternalCommand::decode(&e).unwrap_err().kind,
        ErrorKind::Decode
    );
}

#[test]
fn tags_follow_brokers_table() {
    let p = EntityId::NIL;
    let all = vec![
        Command::Put {
            key: s("k"),
            value: Value::None,
            expiry: None,
            publisher: p,
        },
        Command::PutUnique {
            key: s("k"),
            value: Value::None,
            expiry: None,
            who: p,
            req_id: 0,
            publisher: p,
        },
        Command::PutUniqueResult {
            inserted: false,
            who: p,
            req_id: 0,
            publisher: p,
        },
        Command::Erase {
            key: s("k"),
            publisher: p,
        },
        Command::Expire {
            key: s("k"),
            publisher: p,
        },
        Command::Add {
            key: s("k"),
            value: Value::None,
            init_type: 0,
            expiry: None,
            publisher: p,
        },
        Command::Subtract {
            key: s("k"),
            value: Value::None,
            expiry: None,
            publisher: p,
        },
        Command::Clear { publisher: p },
        Command::AttachWriter {
            offset: 0,
            heartbeat_interval: 0,
        },
        Command::Keepalive { seq: 0 },
        Command::CumulativeAck { seq: 0 },
        Command::Nack { seqs: vec![] },
        Command::AckClone {
            offset: 0,
            heartbeat_interval: 0,
            state: Snapshot::new(),
        },
        Command::RetransmitFailed { seq: 0 },
    ];
    use CommandTag::*;
    let tags = [
        Action,
        Action,
        Action,
        Action,
        Action,
        Action,
        Action,
        Action,
        ProducerControl,
        ProducerControl,
        ConsumerControl,
        ConsumerControl,
        ProducerControl,
        ProducerControl,
    ];
    for (i, c) in all.into_iter().enumerate() {
        assert_eq!(c.index() as usize, i);
        assert_eq!(c.tag(), tags[i], "{}", c.name());
        let ic = InternalCommand {
            seq: i as u64,
            sender: p,
            receiver: p,
            content: c,
        };
        assert_eq!(
            InternalCommand::decode(&ic.to_bytes().unwrap()).unwrap(),
            ic
        );
    }
}

mod prop {
    use super::*;
    use proptest::prelude::*;

    fn value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::None),
            any::<bool>().prop_map(Value::Bool),
            any::<u64>().prop_map(Value::Count),
            any::<i64>().prop_map(Value::Integer),
            proptest::collection::vec(any::<u8>(), 0..8).prop_map(Value::String),
            any::<i64>().prop_map(Value::Timestamp),
        ];
        leaf.prop_recursive(2, 16, 4, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Vector),
                proptest::collection::btree_set(inner.clone(), 0..4).prop_map(Value::Set),
                proptest::collection::btree_map(inner.clone(), inner, 0..4).prop_map(Value::Table),
            ]
        })
    }

    fn entity() -> impl Strategy<Value = EntityId> {
        (any::<[u8; 16]>(), any::<u64>()).prop_map(|(e, o)| EntityId::new(e, o))
    }

    fn command() -> impl Strategy<Value = Command> {
        prop_oneof![
            (value(), value(), any::<Option<i64>>(), entity()).prop_map(
                |(key, value, expiry, publisher)| Command::Put {
                    key,
                    value,
                    expiry,
                    publisher
                }
            ),
            (value(), value(), 0u8..=14, any::<Option<i64>>(), entity()).prop_map(
                |(key, value, init_type, expiry, publisher)| Command::Add {
                    key,
                    value,
                    init_type,
                    expiry,
                    publisher
                }
            ),
            proptest::collection::vec(any::<u64>(), 0..10).prop_map(|seqs| Command::Nack { seqs }),
            (
                any::<u64>(),
                any::<u16>(),
                proptest::collection::btree_map(value(), value(), 0..5)
            )
                .prop_map(|(offset, heartbeat_interval, state)| Command::AckClone {
                    offset,
                    heartbeat_interval,
                    state
                }),
            (any::<bool>(), entity(), any::<u64>(), entity()).prop_map(
                |(inserted, who, req_id, publisher)| Command::PutUniqueResult {
                    inserted,
                    who,
                    req_id,
                    publisher
                }
            ),
        ]
    }

    proptest! {
        #[test]
        fn round_trip(seq in any::<u64>(), a in entity(), b in entity(), c in command()) {
            let ic = InternalCommand { seq, sender: a, receiver: b, content: c };
            let bytes = ic.to_bytes().unwrap();
            prop_assert_eq!(InternalCommand::decode(&bytes).unwrap(), ic);
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = InternalCommand::decode(&bytes);
        }
    }
}
