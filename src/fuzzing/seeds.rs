//! Seed inputs, made with our own encoders: real messages of every kind each target
//! reads, so the fuzzers start past the first length checks.

use super::input::Out;
use super::peer_core::{self as pc, op};
use super::zeromq::{self as zq, sock};
use crate::data::{bin, json as bjson, Event, Value};
use crate::log::{message, zeekser, LogField, ZeekType};
use crate::store::command::{Command, EntityId, InternalCommand};
use crate::wire::{self, EndpointId, Envelope, EnvelopeType, HandshakeMsg};
use std::collections::{BTreeMap, BTreeSet};

pub(crate) fn seeds(target: &str) -> Vec<(String, Vec<u8>)> {
    match target {
        "decode_binary" => values()
            .into_iter()
            .map(|(n, v)| (n, bin::encode_to_vec(&v)))
            .collect(),
        "decode_json" => values()
            .into_iter()
            .map(|(n, v)| (n, bjson::to_json(&v).into_bytes()))
            .chain([(
                "data_message".into(),
                bjson::data_message_to_json("zeek/event/x", &ping_event().to_value()).into_bytes(),
            )])
            .collect(),
        "parse_json" => values()
            .into_iter()
            .map(|(n, v)| (n, bjson::to_json(&v).into_bytes()))
            .chain([(
                "pretty".into(),
                b"{\n  \"a\": [1, -2.5e3, true, null, \"\\u00e9\\n\"],\n  \"b\": {}\n}".to_vec(),
            )])
            .collect(),
        "decode_frames" => frames(),
        "decode_store_command" => commands()
            .into_iter()
            .map(|(n, c)| (n, c.to_bytes().expect("a seed command encodes")))
            .collect(),
        "peer_core" => peer_core(),
        "zeromq_messages" => zeromq(),
        "log_messages" => log_messages(),
        "zeek_log_batch" => zeek_log_batches(),
        "websocket_handshake" => websocket_handshake(),
        "websocket_messages" => websocket_messages(),
        _ => Vec::new(),
    }
}

fn ping_event() -> Event {
    Event::with_args("demo::ping", vec![Value::string("hello"), Value::Count(42)])
}

fn values() -> Vec<(String, Value)> {
    let addr: crate::data::Address = "2001:db8::1".parse().expect("an address");
    let v4: crate::data::Address = "10.1.2.3".parse().expect("an address");
    let net: crate::data::Subnet = "192.168.0.0/16".parse().expect("a subnet");
    let port: crate::data::Port = "443/tcp".parse().expect("a port");
    let mut table = BTreeMap::new();
    table.insert(Value::string("k"), Value::Integer(-7));
    table.insert(
        Value::Count(1),
        Value::Vector(vec![Value::None, Value::Bool(true)]),
    );
    vec![
        ("event".into(), ping_event().to_value()),
        (
            "scalars".into(),
            Value::Vector(vec![
                Value::None,
                Value::Bool(false),
                Value::Count(u64::MAX),
                Value::Integer(i64::MIN),
                Value::Real(-0.5),
                Value::Timestamp(1_700_000_000_123_456_789),
                Value::Timespan(-1_500_000_000),
                Value::enum_value("Conn::LOG"),
            ]),
        ),
        (
            "net".into(),
            Value::Vector(vec![
                Value::from(addr),
                Value::from(v4),
                Value::from(net),
                Value::from(port),
            ]),
        ),
        (
            "set".into(),
            Value::Set(BTreeSet::from([Value::string("a"), Value::Count(2)])),
        ),
        ("table".into(), Value::Table(table)),
        (
            "bytes".into(),
            Value::String(vec![0xff, 0x00, b'\t', b'"', b'\\', 0xe9]),
        ),
    ]
}

fn hs_frame(m: &HandshakeMsg) -> Vec<u8> {
    let mut f = Vec::new();
    m.encode_frame(&mut f);
    f
}

fn frames() -> Vec<(String, Vec<u8>)> {
    let a = EndpointId([0x11; 16]);
    let b = EndpointId([0x22; 16]);
    let filter = vec!["zeek/".to_string(), "a".to_string()];
    let mut handshake = Vec::new();
    for m in [
        HandshakeMsg::hello(a),
        HandshakeMsg::Probe,
        HandshakeMsg::VersionSelect {
            sender: a,
            version: wire::PROTOCOL_VERSION,
        },
        HandshakeMsg::OriginatorSyn(filter.clone()),
        HandshakeMsg::ResponderSynAck(filter.clone()),
        HandshakeMsg::OriginatorAck,
        HandshakeMsg::DropConn {
            sender: a,
            code: wire::ec::REDUNDANT_CONNECTION,
            description: "redundant connection".into(),
        },
    ] {
        handshake.extend(hs_frame(&m));
    }
    let mut envelopes = Vec::new();
    let ev = ping_event().to_bytes();
    let cmd = commands()[0].1.to_bytes().expect("a seed command encodes");
    for (kind, topic, payload) in [
        (EnvelopeType::Data, "zeek/event/x", &ev[..]),
        (EnvelopeType::Command, "s/<$>/data/clone", &cmd[..]),
        (
            EnvelopeType::Ping,
            wire::INTERNAL_TOPIC,
            b"BYE\0\0\0\0\0\0\0\x01",
        ),
        (EnvelopeType::Pong, wire::INTERNAL_TOPIC, b"x"),
    ] {
        Envelope {
            sender: a,
            receiver: EndpointId::NIL,
            kind,
            ttl: wire::DEFAULT_TTL,
            topic: topic.into(),
            payload: payload.to_vec(),
        }
        .encode_frame(&mut envelopes)
        .expect("a seed envelope encodes");
    }
    Envelope::routing_update(a, b, &filter)
        .encode_frame(&mut envelopes)
        .expect("a seed envelope encodes");
    vec![
        ("handshake".into(), handshake),
        ("envelopes".into(), envelopes),
    ]
}

fn commands() -> Vec<(String, InternalCommand)> {
    let who = EntityId::new([0x33; 16], 7);
    let c = |seq, content| InternalCommand {
        seq,
        sender: who,
        receiver: EntityId::new([0; 16], 0),
        content,
    };
    vec![
        (
            "put".into(),
            c(
                1,
                Command::Put {
                    key: Value::string("k"),
                    value: Value::Count(1),
                    expiry: Some(5_000_000_000),
                    publisher: who,
                },
            ),
        ),
        (
            "put_unique".into(),
            c(
                2,
                Command::PutUnique {
                    key: Value::Count(9),
                    value: Value::string("v"),
                    expiry: None,
                    who,
                    req_id: 3,
                    publisher: who,
                },
            ),
        ),
        (
            "erase".into(),
            c(
                3,
                Command::Erase {
                    key: Value::string("k"),
                    publisher: who,
                },
            ),
        ),
        (
            "add".into(),
            c(
                4,
                Command::Add {
                    key: Value::string("n"),
                    value: Value::Count(2),
                    init_type: 2,
                    expiry: None,
                    publisher: who,
                },
            ),
        ),
        ("clear".into(), c(5, Command::Clear { publisher: who })),
        (
            "attach_writer".into(),
            c(
                0,
                Command::AttachWriter {
                    offset: 0,
                    heartbeat_interval: 10,
                },
            ),
        ),
        (
            "nack".into(),
            c(
                6,
                Command::Nack {
                    seqs: vec![1, 2, 5],
                },
            ),
        ),
        (
            "cumulative_ack".into(),
            c(7, Command::CumulativeAck { seq: 4 }),
        ),
        ("keepalive".into(), c(8, Command::Keepalive { seq: 4 })),
    ]
}

fn peer_core() -> Vec<(String, Vec<u8>)> {
    let mut v = Vec::new();
    for flags in 0u8..4 {
        let (outgoing, smaller) = (flags & 1 != 0, flags & 2 != 0);
        let n = pc::script(outgoing, smaller).len() as u8;
        let role = format!(
            "{}_{}",
            if outgoing { "out" } else { "in" },
            if smaller { "lo" } else { "hi" }
        );
        // Each stage, then the rest of the handshake split into bytes of one.
        for stage in 0..n {
            let rest: Vec<u8> = pc::script(outgoing, smaller)[usize::from(stage)..].concat();
            v.push((
                format!("{role}_stage{stage}_bytewise"),
                pc::seed(flags, stage, |o| {
                    for b in &rest {
                        o.u8(op::FEED).bytes(&[*b]);
                        o.u8(op::WRITE).u8(0).u16(3).u8(0);
                    }
                }),
            ));
        }
        // Peered, then traffic of every kind, time, the host, a goodbye.
        let ev = pc::data_payload(1);
        let mut traffic = Vec::new();
        traffic.extend(pc::envelope(smaller, EnvelopeType::Data, "a/b", &ev));
        traffic.extend(pc::envelope(smaller, EnvelopeType::Data, "zeek/x", &[0xff]));
        traffic.extend(pc::envelope(
            smaller,
            EnvelopeType::Command,
            "a/<$>/data/c",
            b"\0",
        ));
        traffic.extend(pc::envelope(
            smaller,
            EnvelopeType::Ping,
            wire::INTERNAL_TOPIC,
            b"BYE\0\0\0\0\0\0\0\x01",
        ));
        let mut ru = Vec::new();
        Envelope::routing_update(pc::peer_id(smaller), EndpointId::NIL, &["b".to_string()])
            .encode_frame(&mut ru)
            .expect("a routing update encodes");
        traffic.extend(ru);
        traffic.extend([0, 0, 0, 0]); // an empty frame (ignored)
        v.push((
            format!("{role}_peered_traffic"),
            pc::seed(flags | 0x04, n, |o| {
                let (a, b) = traffic.split_at(traffic.len() / 3);
                o.u8(op::FEED).bytes(a);
                o.u8(op::HOST).u8(2).u8(op::HOST).u8(8);
                o.u8(op::WRITE).u8(0).u16(10).u8(4);
                o.u8(op::FEED).bytes(b);
                o.u8(op::TICK).u8(5);
                o.u8(op::HOST).u8(4);
                o.u8(op::WRITE).u8(0).u16(0xffff).u8(0);
                o.u8(op::TICK).u8(50);
            }),
        ));
        // Peered, then a second connection from the same peer (redundant), a shutdown.
        v.push((
            format!("{role}_second_connection"),
            pc::seed(flags | 0x0c, n, |o| {
                o.u8(op::OPEN).u8(flags ^ 1).u8(0);
                o.u8(op::FEED1)
                    .bytes(&pc::script(outgoing, smaller).concat());
                o.u8(op::HOST).u8(5);
                o.u8(op::TICK).u8(30);
                o.u8(op::CLOSE).u8(0);
            }),
        ));
    }
    // Garbage where a handshake message should be: a TLS ClientHello, a bad magic.
    v.push((
        "tls_instead".into(),
        pc::seed(0, 0, |o| {
            o.u8(op::FEED).bytes(&[0x16, 0x03, 0x01, 0x00, 0x2e, 0x01]);
        }),
    ));
    let mut bad = hs_frame(&HandshakeMsg::hello(pc::peer_id(true)));
    bad[5] ^= 0xff;
    v.push((
        "bad_magic".into(),
        pc::seed(0, 0, |o| {
            o.u8(op::FEED).bytes(&bad);
        }),
    ));
    v
}

fn zeromq() -> Vec<(String, Vec<u8>)> {
    let other = "zeromq_w1_99";
    let hello = Event::with_args(
        crate::zeromq::frames::ZMQ_HELLO_EVENT,
        vec![Value::string("worker-1"), Value::string(other)],
    )
    .to_bytes();
    let nodeid = format!("{}{other}.", zq::NODEID_PREFIX);
    let ev = ping_event().to_bytes();
    let cmd = crate::zeromq::frames::store_payload(
        EndpointId::NIL,
        &commands()[0].1.to_bytes().expect("a seed command encodes"),
    );
    let (fields, records) = log_records();
    let hdr =
        zeekser::LogWriteHeader::new("Test::LOG", "Log::WRITER_ASCII", "default", "test", &fields);
    let batch = zeekser::encode_log_batch(&hdr, &fields, &records).expect("a seed batch encodes");
    let mut o = Out::default();
    zq::message(
        &mut o,
        sock::XPUB,
        &[&crate::zeromq::frames::sub_frame(true, zq::PROBE)],
    );
    zq::message(
        &mut o,
        sock::XPUB,
        &[&crate::zeromq::frames::sub_frame(true, &nodeid)],
    );
    zq::message(
        &mut o,
        sock::XSUB,
        &[
            b"zeek.cluster.nodeid.x.",
            other.as_bytes(),
            b"broker-bin-v1",
            &hello,
        ],
    );
    zq::message(
        &mut o,
        sock::XSUB,
        &[b"zeek.event", other.as_bytes(), b"broker-bin-v1", &ev],
    );
    zq::message(
        &mut o,
        sock::XSUB,
        &[
            b"s/<$>/data/clone",
            other.as_bytes(),
            b"zcluster-store-v1",
            &cmd,
        ],
    );
    zq::message(
        &mut o,
        sock::XSUB,
        &[b"a", other.as_bytes(), b"broker-json-v1", b"{}"],
    );
    zq::message(
        &mut o,
        sock::XSUB,
        &[b"a", other.as_bytes(), b"broker-bin-v1"],
    );
    zq::message(
        &mut o,
        sock::PULL,
        &[
            b"log-write",
            other.as_bytes(),
            b"zeek-bin-serializer",
            &batch,
        ],
    );
    zq::message(&mut o, sock::TICK, &[b"", b"", b"", b""]);
    zq::message(
        &mut o,
        sock::XPUB,
        &[&crate::zeromq::frames::sub_frame(false, &nodeid)],
    );
    // The hello, time (20 s per part), then the nodeid subscription.
    let hello_then_sub = |ticks: usize| {
        let mut h = Out::default();
        let hello_msg: [&[u8]; 4] = [
            b"zeek.cluster.nodeid.x.",
            other.as_bytes(),
            b"broker-bin-v1",
            &hello,
        ];
        zq::message(&mut h, sock::XSUB, &hello_msg);
        zq::message(&mut h, sock::TICK, &vec![&b""[..]; ticks]);
        let sub = crate::zeromq::frames::sub_frame(true, &nodeid);
        zq::message(&mut h, sock::XPUB, &[&sub]);
        h.0
    };
    vec![
        ("session".into(), o.0),
        ("hello_first".into(), hello_then_sub(1)),
        // 80 s after the hello (hello_expiration is 60 s), its half has expired.
        ("hello_expired".into(), hello_then_sub(4)),
    ]
}

/// Columns of every type a log may have, and records for them.
fn log_records() -> (Vec<LogField>, Vec<Vec<Value>>) {
    let fields = vec![
        LogField::new("ts", ZeekType::Time),
        LogField::new("uid", ZeekType::String),
        LogField::new("id.orig_h", ZeekType::Addr),
        LogField::new("id.orig_p", ZeekType::Port),
        LogField::new("net", ZeekType::Subnet),
        LogField::new("ok", ZeekType::Bool),
        LogField::new("n", ZeekType::Count),
        LogField::new("i", ZeekType::Int),
        LogField::new("d", ZeekType::Double),
        LogField::new("dur", ZeekType::Interval),
        LogField::new("proto", ZeekType::Enum),
        LogField::optional("tags", ZeekType::Set(Box::new(ZeekType::String))),
        LogField::optional("v", ZeekType::Vector(Box::new(ZeekType::Count))),
    ];
    let rec = |s: &str, tags: Value| {
        vec![
            Value::Timestamp(1_700_000_000_500_000_000),
            Value::string(s),
            Value::from(
                "10.0.0.1"
                    .parse::<crate::data::Address>()
                    .expect("an address"),
            ),
            Value::from("80/tcp".parse::<crate::data::Port>().expect("a port")),
            Value::from(
                "10.0.0.0/8"
                    .parse::<crate::data::Subnet>()
                    .expect("a subnet"),
            ),
            Value::Bool(true),
            Value::Count(3),
            Value::Integer(-4),
            Value::Real(0.25),
            Value::Timespan(1_500_000),
            Value::enum_value("tcp"),
            tags,
            Value::Vector(vec![Value::Count(1), Value::Count(2)]),
        ]
    };
    let records = vec![
        rec(
            "C1",
            Value::Set(BTreeSet::from([Value::string("a"), Value::string("b,c")])),
        ),
        rec("tab\there\nnl \u{e9} \\x", Value::None),
        rec("", Value::Set(BTreeSet::new())),
    ];
    (fields, records)
}

fn log_messages() -> Vec<(String, Vec<u8>)> {
    let (fields, records) = log_records();
    let info = message::WriterInfo::new("test", 1.5);
    let create = message::encode_log_create("Test::LOG", "Log::WRITER_ASCII", &info, &fields)
        .expect("a seed LogCreate encodes");
    let mut writes = Vec::new();
    let mut one = Vec::new();
    for r in &records {
        let mut serial = Vec::new();
        zeekser::encode_record(&fields, r, &mut serial).expect("a seed record encodes");
        let mut w = Vec::new();
        message::encode_log_write("Test::LOG", "Log::WRITER_ASCII", "test", &serial, &mut w)
            .expect("a seed LogWrite encodes");
        if one.is_empty() {
            one = w.clone();
        }
        writes.extend(w);
    }
    let mut batch = Vec::new();
    message::encode_batch(records.len(), &writes, &mut batch).expect("a seed batch encodes");
    vec![
        ("create_write".into(), Out::parts(&[&create, &one])),
        ("create_batch".into(), Out::parts(&[&create, &batch])),
        ("write_without_create".into(), Out::parts(&[&one])),
    ]
}

fn zeek_log_batches() -> Vec<(String, Vec<u8>)> {
    let (fields, records) = log_records();
    let hdr =
        zeekser::LogWriteHeader::new("Test::LOG", "Log::WRITER_ASCII", "default", "test", &fields);
    let all = zeekser::encode_log_batch(&hdr, &fields, &records).expect("a seed batch encodes");
    let none = zeekser::encode_log_batch::<Vec<Value>>(&hdr, &fields, &[]).expect("an empty batch");
    vec![("records".into(), all), ("empty".into(), none)]
}

/// A client frame as a browser sends it (masked).
fn ws_frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mut f = vec![0x80 | opcode];
    let n = payload.len();
    if n < 126 {
        f.push(0x80 | n as u8);
    } else {
        f.push(0x80 | 126);
        f.extend_from_slice(&(n as u16).to_be_bytes());
    }
    let key = [0x12, 0x34, 0x56, 0x78];
    f.extend_from_slice(&key);
    f.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
    f
}

fn client_texts() -> Vec<String> {
    let data = bjson::data_message_to_json("zeek/event/x", &ping_event().to_value());
    let general = bjson::data_message_to_json(
        "t",
        &Event::with_args(
            "e",
            vec![
                Value::Real(1.5),
                Value::from(
                    "10.0.0.1"
                        .parse::<crate::data::Address>()
                        .expect("an address"),
                ),
            ],
        )
        .to_value(),
    );
    vec![r#"["zeek/", "a"]"#.into(), data, general, "{}".into()]
}

fn websocket_handshake() -> Vec<(String, Vec<u8>)> {
    let req = format!(
        "GET {} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\
         X-Application-Name: fuzz/1.0\r\n\r\n",
        crate::websocket::protocol::PATH
    );
    let mut stream = Out::default();
    stream.bytes(req.as_bytes());
    let mut stream = stream.0;
    for t in client_texts() {
        stream.extend(ws_frame(1, t.as_bytes()));
    }
    stream.extend(ws_frame(2, b"[\"b\"]"));
    stream.extend(ws_frame(9, b"ping"));
    stream.extend(ws_frame(8, &[0x03, 0xe8]));
    let mut whole = vec![255];
    whole.extend(&stream);
    let mut small = vec![6];
    small.extend(&stream);
    let mut bad_uri = vec![255];
    bad_uri.extend(Out::parts(&[req
        .replace("/v1/messages/json", "/x")
        .as_bytes()]));
    vec![
        ("session".into(), whole),
        ("session_small_reads".into(), small),
        ("bad_uri".into(), bad_uri),
    ]
}

fn websocket_messages() -> Vec<(String, Vec<u8>)> {
    let texts = client_texts();
    let to_server: Vec<&[u8]> = texts.iter().map(|t| t.as_bytes()).collect();
    let mut a = vec![0];
    a.extend(Out::parts(&to_server));
    let ack = crate::websocket::protocol::ack_json("zeek-websocket-1", "8.0.0");
    let err = crate::websocket::protocol::error_json(
        "deserialization_failed",
        "failed to decode JSON object",
    );
    let mut b = vec![1];
    b.extend(Out::parts(&[
        ack.as_bytes(),
        texts[1].as_bytes(),
        texts[2].as_bytes(),
        err.as_bytes(),
    ]));
    vec![("to_server".into(), a), ("to_client".into(), b)]
}
