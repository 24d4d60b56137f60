//! Byte-for-byte tests of Zeek's log serialization and the Broker log messages against
//! the golden vectors and worked examples of reference/zeek8.md 3.3, 4.2 and 4.3.

use super::message::{self, LogMessage, WriterInfo};
use super::zeekser::{self, Field, LogWriteHeader, Reader, Writer};
use super::{cluster_log_stream, LogField, LogStream, ZeekType};
use crate::data::{bin, Address, Port, Protocol, Subnet, Value};

fn unhex(s: &str) -> Vec<u8> {
    let s: String = s.chars().filter(|c| c.is_ascii_hexdigit()).collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// Hex and quoted ASCII pieces, as the reference writes byte strings.
fn bytes(parts: &[&str]) -> Vec<u8> {
    let mut out = Vec::new();
    for p in parts {
        if let Some(q) = p.strip_prefix('"') {
            out.extend_from_slice(q.strip_suffix('"').unwrap().as_bytes());
        } else {
            out.extend(unhex(p));
        }
    }
    out
}

#[test]
fn golden_zeromq_log_batch_encodes_byte_for_byte() {
    // reference/zeek8.md 4.3: the unit test at Serializer.cc:148-190 (116 bytes).
    let golden = bytes(&[
        "0000000c",
        "\"Log::UNKNOWN\"",
        "00000010",
        "\"Log::WRITER_NONE\"",
        "00000007",
        "\"default\"",
        "00000007",
        "\"my-path\"",
        "00000001",
        "00 00000002",
        "\"ts\"",
        "00000005 00000016 00",
        "00000002",
        "00000005 00000016 01 3ff0000000000000",
        "00000005 00000016 01 4000000000000000",
    ]);
    assert_eq!(golden.len(), 116);
    // The unit test's field has subtype 22 and so do its values: the low-level writer
    // takes the value subtype as given.
    let field = Field {
        name: "ts".into(),
        secondary_name: None,
        ty: 5,
        subtype: 22,
        optional: false,
    };
    let mut out = Vec::new();
    let mut w = Writer { out: &mut out };
    for s in ["Log::UNKNOWN", "Log::WRITER_NONE", "default", "my-path"] {
        w.bytes(s.as_bytes()).unwrap();
    }
    w.u32(1);
    w.field(&field).unwrap();
    w.u32(2);
    for d in [1.0, 2.0] {
        w.value(&ZeekType::Time, 22, &Value::Real(d)).unwrap();
    }
    assert_eq!(out, golden);

    // The decoder reads it back (value subtypes are ignored, as Zeek does)...
    let (h, recs) = zeekser::decode_log_batch(&golden).unwrap();
    assert_eq!(h.stream_name, "Log::UNKNOWN");
    assert_eq!(h.writer_name, "Log::WRITER_NONE");
    assert_eq!(h.filter_name, "default");
    assert_eq!(h.path, "my-path");
    assert_eq!(h.fields, vec![field.clone()]);
    assert_eq!(recs, vec![vec![Value::Real(1.0)], vec![Value::Real(2.0)]]);
    // ... and the public batch encoder gives the same bytes apart from the value subtype,
    // which Zeek's own writers leave at 0.
    let cols = [LogField::new("ts", ZeekType::Time)];
    let mut hdr = LogWriteHeader::new(
        "Log::UNKNOWN",
        "Log::WRITER_NONE",
        "default",
        "my-path",
        &cols,
    );
    hdr.fields[0].subtype = 22;
    let enc = zeekser::encode_log_batch(&hdr, &cols, &recs).unwrap();
    let mut expect = golden.clone();
    for off in [86usize, 103] {
        assert_eq!(&expect[off..off + 4], &[0, 0, 0, 0x16]);
        expect[off + 3] = 0;
    }
    assert_eq!(enc, expect);
}

#[test]
fn golden_broker_event_encodes_byte_for_byte() {
    // reference/zeek8.md 3.3: Supervisor::node_status("TEST", 42) with ts metadata 0.0.
    let golden = bytes(&[
        "0e 03 02 0000000000000001 02 0000000000000001 0e 03 05 17",
        "\"Supervisor::node_status\"",
        "0e 02 05 04",
        "\"TEST\"",
        "02 000000000000002a 0e 01 0e 02 02 0000000000000001 09 0000000000000000",
    ]);
    assert_eq!(golden.len(), 86);
    let mut ev = crate::data::Event::with_args(
        "Supervisor::node_status",
        vec![Value::string("TEST"), Value::Count(42)],
    );
    ev.set_network_timestamp(0);
    assert_eq!(ev.to_bytes(), golden);
}

fn cluster_example() -> (Vec<u8>, Vec<u8>, Vec<u8>, Vec<u8>) {
    let serial = bytes(&[
        "00 00 00 03",
        "00 00 00 05 00 00 00 00 01 3f f8 00 00 00 00 00 00",
        "00 00 00 07 00 00 00 00 01 00 00 00 02 77 31",
        "00 00 00 07 00 00 00 00 01 00 00 00 02 68 69",
    ]);
    let write = [
        bytes(&["0e 03 02 0000000000000001 02 0000000000000003 0e 04 0b 0c"]),
        b"Cluster::LOG".to_vec(),
        bytes(&["0b 11"]),
        b"Log::WRITER_ASCII".to_vec(),
        bytes(&["05 07"]),
        b"cluster".to_vec(),
        bytes(&["05 33"]),
        serial.clone(),
    ]
    .concat();
    let batch = [
        bytes(&["0e 03 02 0000000000000001 02 0000000000000005 0e 01"]),
        write.clone(),
    ]
    .concat();
    let field = |name: &str, ty: u8| {
        [
            bytes(&["0e 05 05"]),
            vec![name.len() as u8],
            name.as_bytes().to_vec(),
            bytes(&["00 02 00000000000000"]),
            vec![ty],
            bytes(&["02 0000000000000000 01 00"]),
        ]
        .concat()
    };
    let create = [
        bytes(&["0e 03 02 0000000000000001 02 0000000000000002 0e 04 0b 0c"]),
        b"Cluster::LOG".to_vec(),
        bytes(&["0b 11"]),
        b"Log::WRITER_ASCII".to_vec(),
        bytes(&["0e 06 05 07"]),
        b"cluster".to_vec(),
        bytes(&["04 0000000000000000 04 0000000000000000 04 3ff8000000000000 0d 00 05 00"]),
        bytes(&["0e 03"]),
        field("ts", 5),
        field("node", 7),
        field("message", 7),
    ]
    .concat();
    (serial, write, batch, create)
}

#[test]
fn worked_example_log_write_batch_and_create() {
    let (serial, write, batch, create) = cluster_example();
    assert_eq!(serial.len(), 51);
    assert_eq!(write.len(), 117);
    assert_eq!(create.len(), 187);
    let st = cluster_log_stream();
    let rec = vec![Value::Real(1.5), Value::string("w1"), Value::string("hi")];
    let mut s = Vec::new();
    zeekser::encode_record(&st.fields, &rec, &mut s).unwrap();
    assert_eq!(s, serial);
    // A Broker timestamp of 1.5 s serializes the same.
    let mut s2 = Vec::new();
    let rec_ts = vec![
        Value::Timestamp(1_500_000_000),
        Value::string("w1"),
        Value::string("hi"),
    ];
    zeekser::encode_record(&st.fields, &rec_ts, &mut s2).unwrap();
    assert_eq!(s2, serial);
    assert_eq!(zeekser::decode_record(&st.fields, &serial).unwrap(), rec);

    let mut w = Vec::new();
    message::encode_log_write(
        "Cluster::LOG",
        message::WRITER_ASCII,
        "cluster",
        &serial,
        &mut w,
    )
    .unwrap();
    assert_eq!(w, write);
    // The hand-made bytes are what the generic Broker encoder gives for the same value.
    let generic = Value::Vector(vec![
        Value::Count(1),
        Value::Count(3),
        Value::Vector(vec![
            Value::Enum("Cluster::LOG".into()),
            Value::Enum("Log::WRITER_ASCII".into()),
            Value::string("cluster"),
            Value::String(serial.clone()),
        ]),
    ]);
    assert_eq!(bin::encode_to_vec(&generic), write);

    let mut b = Vec::new();
    message::encode_batch(1, &w, &mut b).unwrap();
    assert_eq!(b, batch);

    let info = WriterInfo::new("cluster", 1.5);
    let c = message::encode_log_create("Cluster::LOG", message::WRITER_ASCII, &info, &st.fields)
        .unwrap();
    assert_eq!(c, create);

    // Parsing: each form, through the fast path and the generic one.
    assert_eq!(message::message_type(&create), Some(2));
    assert_eq!(message::message_type(&write), Some(3));
    assert_eq!(message::message_type(&batch), Some(5));
    let want_write = LogMessage::Write {
        stream: "Cluster::LOG".into(),
        writer: "Log::WRITER_ASCII".into(),
        path: "cluster".into(),
        serial: serial.clone(),
    };
    assert_eq!(message::parse(&write).unwrap(), vec![want_write.clone()]);
    assert_eq!(message::parse(&batch).unwrap(), vec![want_write.clone()]);
    let parsed = message::parse(&create).unwrap();
    assert_eq!(
        parsed,
        vec![LogMessage::Create {
            stream: "Cluster::LOG".into(),
            writer: "Log::WRITER_ASCII".into(),
            info,
            fields: st.fields.clone(),
        }]
    );
    // A batch holding a LogCreate and a LogWrite (generic path).
    let mut both = c.clone();
    both.extend_from_slice(&w);
    let mut mixed = Vec::new();
    message::encode_batch(2, &both, &mut mixed).unwrap();
    let p = message::parse(&mixed).unwrap();
    assert_eq!(p.len(), 2);
    assert_eq!(p[1], want_write);
    // An invalid inner message invalidates the batch.
    let mut bad = both.clone();
    bad.extend_from_slice(&bin::encode_to_vec(&Value::Count(7)));
    let mut badb = Vec::new();
    message::encode_batch(3, &bad, &mut badb).unwrap();
    assert!(message::parse(&badb).is_err());
    // Events are not log messages.
    let ev = crate::data::Event::new("X::y").to_bytes();
    assert!(!message::is_log_message(&ev));
}

fn every_type_stream() -> LogStream {
    use ZeekType::*;
    LogStream::new("MyProto::LOG", "myproto")
        .column("b", Bool)
        .column("i", Int)
        .column("c", Count)
        .column("d", Double)
        .column("t", Time)
        .column("iv", Interval)
        .column("s", String)
        .record(
            "id",
            [
                LogField::new("orig_h", Addr),
                LogField::new("orig_p", Port),
                LogField::new("resp_h", Addr),
            ],
        )
        .column("net", Subnet)
        .column("proto", Enum)
        .column("tags", Set(Box::new(String)))
        .column("nums", Vector(Box::new(Count)))
        .optional_column("note", String)
}

#[test]
fn every_type_round_trips_with_exact_bytes() {
    let st = every_type_stream();
    st.validate().unwrap();
    assert_eq!(st.fields[7].name, "id.orig_h");
    let v6: std::net::Ipv6Addr = "2001:db8::1".parse().unwrap();
    let rec = vec![
        Value::Bool(true),
        Value::Integer(-5),
        Value::Count(7),
        Value::Real(0.25),
        Value::Real(2.0),
        Value::Real(0.5),
        Value::string("x"),
        Value::Address(Address::from_v4("10.0.0.1".parse().unwrap())),
        Value::Port(Port {
            number: 80,
            protocol: Protocol::Tcp,
        }),
        Value::Address(Address(v6.octets())),
        Value::Subnet(Subnet::new(Address::from_v4("10.1.0.0".parse().unwrap()), 16).unwrap()),
        Value::Enum("tcp".into()),
        Value::Vector(vec![Value::string("b"), Value::string("a")]),
        Value::Vector(vec![Value::Count(1), Value::Count(2)]),
        Value::None,
    ];
    st.check(&rec).unwrap();
    let mut s = Vec::new();
    zeekser::encode_record(&st.fields, &rec, &mut s).unwrap();
    let expect = bytes(&[
        "0000000f",
        "00000001 00000000 01 0000000000000001",
        "00000002 00000000 01 fffffffffffffffb",
        "00000003 00000000 01 0000000000000007",
        "00000004 00000000 01 3fd0000000000000",
        "00000005 00000000 01 4000000000000000",
        "00000006 00000000 01 3fe0000000000000",
        "00000007 00000000 01 00000001 78",
        "0000000b 00000000 01 04 0a000001",
        "0000000a 00000000 01 0000000000000050 00000001",
        "0000000b 00000000 01 06 20010db8000000000000000000000001",
        // IPPrefix's length is IPv6-relative: a /16 is 112 (0x70).
        "0000000c 00000000 01 70 04 0a010000",
        "00000009 00000000 01 00000003 746370",
        "0000000e 00000000 01 0000000000000002 00000007 00000000 01 00000001 62 00000007 00000000 01 00000001 61",
        "00000013 00000000 01 0000000000000002 00000003 00000000 01 0000000000000001 00000003 00000000 01 0000000000000002",
        "00000007 00000000 00",
    ]);
    assert_eq!(s, expect);
    assert_eq!(zeekser::decode_record(&st.fields, &s).unwrap(), rec);
    // Fields: set[string] is TABLE with subtype STRING; the optional flag travels.
    let mut fb = Vec::new();
    let mut w = Writer { out: &mut fb };
    w.field(&Field::from(&st.fields[12])).unwrap();
    w.field(&Field::from(&st.fields[14])).unwrap();
    assert_eq!(
        fb,
        bytes(&[
            "00 00000004",
            "\"tags\"",
            "0000000e 00000007 00",
            "00 00000004",
            "\"note\"",
            "00000007 00000000 01"
        ])
    );
    let mut r = Reader::new(&fb);
    assert_eq!(r.field().unwrap().to_log_field().unwrap(), st.fields[12]);
    assert_eq!(r.field().unwrap().to_log_field().unwrap(), st.fields[14]);
    // The whole ZeroMQ batch round-trips.
    let hdr = LogWriteHeader::new(&st.id, "Log::WRITER_ASCII", "default", &st.path, &st.fields);
    let recs = vec![rec.clone(), rec.clone()];
    let p = zeekser::encode_log_batch(&hdr, &st.fields, &recs).unwrap();
    let (h2, back) = zeekser::decode_log_batch(&p).unwrap();
    assert_eq!(h2, hdr);
    assert_eq!(back, recs);
}

#[test]
fn record_checks_name_the_column() {
    let st = every_type_stream();
    let mut rec = vec![Value::None; st.fields.len()];
    let e = st.check(&rec).unwrap_err();
    assert!(
        e.message.contains("column \"b\" is required"),
        "{}",
        e.message
    );
    rec[0] = Value::Bool(true);
    rec[1] = Value::Count(1);
    let e = st.check(&rec).unwrap_err();
    assert_eq!(e.kind, crate::ErrorKind::Type);
    assert!(e.message.contains("column \"i\" is a int"), "{}", e.message);
    let e = st.check(&rec[..3]).unwrap_err();
    assert!(e.message.contains("has 15 columns"), "{}", e.message);
    // set elements of the wrong type
    let mut ok = vec![
        Value::Bool(true),
        Value::Integer(1),
        Value::Count(1),
        Value::Real(1.0),
    ];
    ok.extend(vec![Value::Real(1.0), Value::Real(1.0), Value::string("s")]);
    ok.extend(vec![
        Value::Address(Address::from_v4("1.2.3.4".parse().unwrap())),
        Value::Port(Port {
            number: 1,
            protocol: Protocol::Udp,
        }),
        Value::Address(Address::from_v4("1.2.3.4".parse().unwrap())),
        Value::Subnet(Subnet::new(Address::from_v4("1.2.3.0".parse().unwrap()), 24).unwrap()),
        Value::Enum("udp".into()),
        Value::Vector(vec![Value::Count(1)]),
        Value::Vector(vec![]),
        Value::None,
    ]);
    let e = st.check(&ok).unwrap_err();
    assert!(
        e.message.contains("column \"tags\" is a set[string]"),
        "{}",
        e.message
    );
    ok[12] = Value::Vector(vec![]);
    st.check(&ok).unwrap();
    // Streams that cannot be.
    assert!(LogStream::new("", "p")
        .column("a", ZeekType::Bool)
        .validate()
        .is_err());
    assert!(LogStream::new("A::LOG", "../x")
        .column("a", ZeekType::Bool)
        .validate()
        .is_err());
    assert!(LogStream::new("A::LOG", "p").validate().is_err());
    assert!(LogStream::new("A::LOG", "p")
        .column("a", ZeekType::Bool)
        .column("a", ZeekType::Int)
        .validate()
        .is_err());
}

#[test]
fn malformed_serialization_is_an_error_not_a_panic() {
    let st = every_type_stream();
    let rec = vec![
        Value::Bool(false),
        Value::Integer(0),
        Value::Count(0),
        Value::Real(0.0),
        Value::Real(0.0),
        Value::Real(0.0),
        Value::string(""),
        Value::Address(Address::from_v4("1.2.3.4".parse().unwrap())),
        Value::Port(Port {
            number: 1,
            protocol: Protocol::Icmp,
        }),
        Value::Address(Address::from_v4("1.2.3.4".parse().unwrap())),
        Value::Subnet(Subnet::new(Address::from_v4("1.2.3.0".parse().unwrap()), 24).unwrap()),
        Value::Enum("icmp".into()),
        Value::Vector(vec![Value::string("a")]),
        Value::Vector(vec![Value::Count(3)]),
        Value::string("n"),
    ];
    let mut s = Vec::new();
    zeekser::encode_record(&st.fields, &rec, &mut s).unwrap();
    for n in 0..s.len() {
        assert!(zeekser::decode_record(&st.fields, &s[..n]).is_err());
    }
    let mut extra = s.clone();
    extra.push(0);
    assert!(zeekser::decode_record(&st.fields, &extra).is_err());
    // A huge container count is refused without allocating.
    let f = [LogField::new(
        "v",
        ZeekType::Vector(Box::new(ZeekType::Count)),
    )];
    let huge = bytes(&["00000001 00000013 00000000 01 7fffffffffffffff"]);
    assert!(zeekser::decode_record(&f, &huge).is_err());
    // A value whose type is not the field's.
    let f = [LogField::new("c", ZeekType::Count)];
    let wrong = bytes(&["00000001 00000002 00000000 01 0000000000000001"]);
    assert!(zeekser::decode_record(&f, &wrong).is_err());
    for n in 0..60 {
        let _ = message::parse(&cluster_example().3[..n]);
    }
}

#[test]
fn reusing_decoder_agrees_with_the_general_one() {
    let st = every_type_stream();
    let v4 = |s: &str| Value::Address(Address::from_v4(s.parse().unwrap()));
    let v6: std::net::Ipv6Addr = "2001:db8::1".parse().unwrap();
    let recs = [
        vec![
            Value::Bool(true),
            Value::Integer(-5),
            Value::Count(u64::MAX),
            Value::Real(-0.0),
            Value::Real(1.7e9),
            Value::Real(0.5),
            Value::string("héllo\t\u{1}"),
            v4("10.0.0.1"),
            Value::Port(Port {
                number: 65535,
                protocol: Protocol::Udp,
            }),
            Value::Address(Address(v6.octets())),
            Value::Subnet(Subnet::new(Address::from_v4("1.2.3.0".parse().unwrap()), 24).unwrap()),
            Value::Enum("tcp".into()),
            Value::Vector(vec![Value::string("a"), Value::string("")]),
            Value::Vector(vec![]),
            Value::None,
        ],
        vec![
            Value::Bool(false),
            Value::Integer(i64::MIN),
            Value::Count(0),
            Value::Real(f64::NAN),
            Value::Real(-1.0),
            Value::Real(f64::INFINITY),
            Value::string(""),
            Value::Address(Address(v6.octets())),
            Value::Port(Port {
                number: 0,
                protocol: Protocol::Unknown,
            }),
            v4("255.255.255.255"),
            Value::Subnet(Subnet::new(Address(v6.octets()), 32).unwrap()),
            Value::Enum(String::new()),
            Value::Vector(vec![]),
            Value::Vector(vec![Value::Count(1), Value::Count(2)]),
            Value::string("a longer note than before"),
        ],
    ];
    let mut out = Vec::new();
    for round in 0..3 {
        for rec in &recs {
            let mut s = Vec::new();
            zeekser::encode_record(&st.fields, rec, &mut s).unwrap();
            zeekser::decode_record_reuse(&st.fields, &s, &mut out).unwrap();
            let general = zeekser::decode_record(&st.fields, &s).unwrap();
            // NaN != NaN: compare the encodings of what each decoder gave.
            let (mut a, mut b) = (Vec::new(), Vec::new());
            zeekser::encode_record(&st.fields, &out, &mut a).unwrap();
            zeekser::encode_record(&st.fields, &general, &mut b).unwrap();
            assert_eq!(a, b, "round {round}");
            assert_eq!(a, s);
            if round == 0 {
                // Every truncation and every single-byte corruption: both decoders agree
                // on success or failure, and on the values when they succeed.
                for n in 0..s.len() {
                    let mut o = out.clone();
                    assert_eq!(
                        zeekser::decode_record_reuse(&st.fields, &s[..n], &mut o).is_ok(),
                        zeekser::decode_record(&st.fields, &s[..n]).is_ok()
                    );
                }
                for i in 0..s.len() {
                    for x in [0x00u8, 0x01, 0x04, 0x06, 0x80, 0xff] {
                        let mut m = s.clone();
                        m[i] = x;
                        let mut o = out.clone();
                        let r1 = zeekser::decode_record_reuse(&st.fields, &m, &mut o);
                        let r2 = zeekser::decode_record(&st.fields, &m);
                        assert_eq!(r1.is_ok(), r2.is_ok(), "byte {i} = {x:#x}");
                        if let (Ok(()), Ok(g)) = (r1, r2) {
                            let (mut a, mut b) = (Vec::new(), Vec::new());
                            zeekser::encode_record(&st.fields, &o, &mut a).unwrap();
                            zeekser::encode_record(&st.fields, &g, &mut b).unwrap();
                            assert_eq!(a, b, "byte {i} = {x:#x}");
                        }
                    }
                }
            }
        }
    }
}

#[test]
fn a_batch_claiming_billions_of_messages_is_an_error_not_an_allocation() {
    // [1, 5, vector of 2^32-1 ...] with nothing after the count.
    let mut b = Vec::new();
    message::encode_batch(0, &[], &mut b).unwrap();
    b.truncate(b.len() - 1);
    b.extend_from_slice(&[0xff, 0xff, 0xff, 0xff, 0x0f]);
    assert!(message::parse(&b).is_err());
    // And a real LogWrite after such a count.
    let (_, write, _, _) = cluster_example();
    b.extend_from_slice(&write);
    assert!(message::parse(&b).is_err());
}

#[test]
fn a_zeek_batch_of_billions_of_fieldless_records_is_an_error_not_an_allocation() {
    // Found by fuzzing (zeek_log_batch): no fields, 2^32-1 records of no bytes each used
    // to reserve 96 GiB and loop 4 billion times.
    let hdr = zeekser::LogWriteHeader::new("A::LOG", "Log::WRITER_ASCII", "default", "a", &[]);
    let mut b = zeekser::encode_log_batch::<Vec<Value>>(&hdr, &[], &[]).unwrap();
    let n = b.len();
    b[n - 4..].copy_from_slice(&[0xff; 4]);
    let e = zeekser::decode_log_batch(&b).unwrap_err();
    assert!(e.message.contains("records of no fields"), "{e}");
    // No fields and no records is still a (useless) batch.
    b[n - 4..].copy_from_slice(&[0; 4]);
    assert!(zeekser::decode_log_batch(&b).unwrap().1.is_empty());
}
