//! Garbage peers are dropped with a status while everyone else keeps being served.

mod endpoint_common;
use endpoint_common::*;
use std::time::Duration;
use zcluster::endpoint::{Endpoint, MessageKind::*};
use zcluster::wire::envelope::{encode_frame, EnvelopeRef};
use zcluster::wire::handshake::{ec, HandshakeMsg};
use zcluster::wire::{EndpointId, EnvelopeType};

/// a listens and is peered with a healthy b that subscribes to /ok.
fn setup() -> (Endpoint, Endpoint, u16) {
    let a = plain_ep_with(|o| o.handshake_timeout = Duration::from_millis(500));
    let b = plain_ep();
    let port = connect(&a, &b);
    b.subscribe("/ok").unwrap();
    assert!(a.await_peer_subscription("/ok", T));
    (a, b, port)
}

fn still_serves(a: &Endpoint, b: &Endpoint, tag: &str) {
    a.publish("/ok", string_payload(tag)).unwrap();
    assert_eq!(
        next_data(b, T).expect("healthy peer still served").payload,
        string_payload(tag)
    );
    assert_eq!(a.peers().len(), 1);
}

fn rejected(a: &Endpoint) -> String {
    let m = expect_kind(a, &[PeerRejected]);
    m.text
}

#[test]
fn junk_bytes() {
    let (a, b, port) = setup();
    let mut r = RawPeer::connect(port, id(0x50));
    assert_eq!(r.read_hs(), HandshakeMsg::Probe);
    r.write_raw(&[0, 0, 0, 5, 0xde, 0xad, 0xbe, 0xef, 0x00]);
    match r.read_hs() {
        HandshakeMsg::DropConn { code, .. } => assert_eq!(code, ec::INVALID_MESSAGE),
        m => panic!("{m:?}"),
    }
    assert!(r.closed());
    assert!(rejected(&a).contains("invalid message type tag"));
    still_serves(&a, &b, "junk");
}

#[test]
fn bad_magic() {
    let (a, b, port) = setup();
    let mut r = RawPeer::connect(port, id(0x51));
    assert_eq!(r.read_hs(), HandshakeMsg::Probe);
    let mut hello = Vec::new();
    HandshakeMsg::hello(r.id).encode_frame(&mut hello);
    hello[5] ^= 0xff;
    r.write_raw(&hello);
    match r.read_hs() {
        HandshakeMsg::DropConn { code, sender, .. } => {
            assert_eq!(code, ec::WRONG_MAGIC_NUMBER);
            assert_eq!(sender, a.id());
        }
        m => panic!("{m:?}"),
    }
    assert!(r.closed());
    assert!(rejected(&a).contains("wrong magic number"));
    still_serves(&a, &b, "magic");
}

#[test]
fn wrong_version() {
    let (a, b, port) = setup();
    let mut r = RawPeer::connect(port, id(0x52));
    assert_eq!(r.read_hs(), HandshakeMsg::Probe);
    r.send(&HandshakeMsg::Hello {
        sender: r.id,
        min_version: 200,
        max_version: 201,
    });
    match r.read_hs() {
        HandshakeMsg::DropConn { code, .. } => assert_eq!(code, ec::PEER_INCOMPATIBLE),
        m => panic!("{m:?}"),
    }
    assert!(r.closed());
    rejected(&a);
    still_serves(&a, &b, "version");
}

#[test]
fn oversized_handshake_frame_is_refused_without_allocating() {
    let (a, b, port) = setup();
    let mut r = RawPeer::connect(port, id(0x53));
    r.write_raw(&[0x7f, 0xff, 0xff, 0xff, 6]);
    assert!(r.closed());
    assert!(rejected(&a).contains("exceeds the limit"));
    still_serves(&a, &b, "oversized");
}

#[test]
fn close_in_the_middle_of_a_frame() {
    let (a, b, port) = setup();
    let mut r = RawPeer::connect(port, id(0x54));
    // Read the probe first: closing with unread data would send a reset instead of a FIN.
    assert_eq!(r.read_hs(), HandshakeMsg::Probe);
    r.write_raw(&[0, 0, 0, 23, 6, 0x5a, 0x45]);
    drop(r);
    assert!(rejected(&a).contains("middle of a frame"));
    still_serves(&a, &b, "midframe");
}

#[test]
fn silent_peer_times_out() {
    let (a, b, port) = setup();
    let mut r = RawPeer::connect(port, id(0x55));
    assert!(rejected(&a).contains("handshake timed out"));
    assert!(r.closed());
    still_serves(&a, &b, "silent");
}

#[test]
fn probe_late_in_the_handshake_aborts_it() {
    let (a, b, port) = setup();
    // Smallest id: we are the originator and a waits for originator_syn.
    let mut r = RawPeer::connect(
        port,
        EndpointId::parse("00000000-0000-4000-8000-000000000000").unwrap(),
    );
    assert_eq!(r.read_hs(), HandshakeMsg::Probe);
    r.send(&HandshakeMsg::Hello {
        sender: r.id,
        min_version: 1,
        max_version: 99,
    });
    assert!(matches!(r.read_hs(), HandshakeMsg::Hello { .. }));
    r.send(&HandshakeMsg::VersionSelect {
        sender: r.id,
        version: 1,
    });
    r.send(&HandshakeMsg::Probe);
    match r.read_hs() {
        HandshakeMsg::DropConn { code, .. } => assert_eq!(code, ec::UNEXPECTED_HANDSHAKE_MESSAGE),
        m => panic!("{m:?}"),
    }
    rejected(&a);
    still_serves(&a, &b, "probe");
}

#[test]
fn malformed_envelope_after_the_handshake_drops_the_peer() {
    let (a, b, port) = setup();
    let mut r = RawPeer::connect(port, id(0x56));
    let (aid, filter) = r.handshake(vec!["/raw".into()]);
    assert_eq!(aid, a.id());
    assert_eq!(
        filter,
        vec!["/ok".to_string()],
        "a forwards b's subscription"
    );
    expect_kind(&a, &[PeerAdded]);
    // An envelope of unknown type 9.
    let mut f = Vec::new();
    encode_frame(&mut f, r.id, aid, EnvelopeType::Data, 16, "/x", &[5, 0]).unwrap();
    f[4 + 32] = 9;
    r.write_raw(&f);
    let m = expect_kind(&a, &[PeerLost]);
    assert!(m.text.contains("malformed envelope"), "{}", m.text);
    assert_eq!(m.peer.unwrap().id, Some(r.id));
    expect_kind(&a, &[EndpointUnreachable]);
    still_serves(&a, &b, "envelope");
}

#[test]
fn oversized_operational_frame_drops_the_peer() {
    let a = plain_ep_with(|o| o.max_frame = 1000);
    let port = a.listen("127.0.0.1", 0).unwrap();
    let mut r = RawPeer::connect(port, id(0x57));
    r.handshake(vec![]);
    expect_kind(&a, &[PeerAdded]);
    r.write_raw(&[0, 0, 4, 0]);
    let m = expect_kind(&a, &[PeerLost]);
    assert!(m.text.contains("exceeds the limit of 1000"), "{}", m.text);
}

#[test]
fn raw_peer_exchanges_data_and_ping_both_ways() {
    let a = plain_ep();
    let port = a.listen("127.0.0.1", 0).unwrap();
    a.subscribe("/to-a").unwrap();
    let mut r = RawPeer::connect(port, id(0x58));
    let (aid, filter) = r.handshake(vec!["/to-raw".into()]);
    assert_eq!(filter, vec!["/to-a".to_string()]);
    // Data to a, byte-checked on arrival.
    let mut f = Vec::new();
    encode_frame(
        &mut f,
        r.id,
        EndpointId::NIL,
        EnvelopeType::Data,
        16,
        "/to-a/x",
        b"\x05\x0bhello world",
    )
    .unwrap();
    r.write_raw(&f);
    let m = next_data(&a, T).unwrap();
    assert_eq!(m.topic, "/to-a/x");
    assert_eq!(m.payload, b"\x05\x0bhello world");
    assert_eq!(m.sender, Some(r.id));
    // Data from a, byte-checked: sender = a's id, receiver nil, TTL 16.
    a.publish("/to-raw/y", b"\x05\x02hi".to_vec()).unwrap();
    let p = r.read_frame().unwrap();
    let e = EnvelopeRef::decode(&p).unwrap();
    assert_eq!(
        (e.sender, e.receiver, e.kind, e.ttl, e.topic),
        (aid, EndpointId::NIL, EnvelopeType::Data, 16, "/to-raw/y")
    );
    assert_eq!(e.payload, b"\x05\x02hi");
    // Ping -> pong with the same payload, addressed to us.
    let mut f = Vec::new();
    encode_frame(&mut f, r.id, aid, EnvelopeType::Ping, 1, "<$>", b"foo").unwrap();
    r.write_raw(&f);
    let p = r.read_frame().unwrap();
    let e = EnvelopeRef::decode(&p).unwrap();
    assert_eq!(
        (e.sender, e.receiver, e.kind, e.topic, e.payload),
        (aid, r.id, EnvelopeType::Pong, "<$>", &b"foo"[..])
    );
    // A subscription change arrives as a routing update addressed to us.
    a.subscribe("/more").unwrap();
    let p = r.read_frame().unwrap();
    let e = EnvelopeRef::decode(&p).unwrap();
    assert_eq!((e.kind, e.receiver), (EnvelopeType::RoutingUpdate, r.id));
    assert_eq!(
        e.routing_filter().unwrap(),
        vec!["/more".to_string(), "/to-a".to_string()]
    );
}

fn data_frame(r: &RawPeer, topic: &str, payload: &[u8]) -> Vec<u8> {
    let mut f = Vec::new();
    encode_frame(
        &mut f,
        r.id,
        EndpointId::NIL,
        EnvelopeType::Data,
        16,
        topic,
        payload,
    )
    .unwrap();
    f
}

/// `levels` nested one-element vectors around a `none`.
fn nested(levels: usize) -> Vec<u8> {
    let mut v: Vec<u8> = std::iter::repeat_n([14u8, 1], levels).flatten().collect();
    v.push(0);
    v
}

#[test]
fn undecodable_messages_are_dropped_and_reported_and_the_peering_stays_up() {
    use zcluster::data::bin::DEFAULT_MAX_DEPTH;
    let (a, b, port) = setup();
    a.subscribe("/in").unwrap();
    let mut r = RawPeer::connect(port, id(0x59));
    r.handshake(vec![]);
    expect_kind(&a, &[PeerAdded]);
    let mut f = data_frame(&r, "/in/1", &string_payload("first"));
    // A string announcing 11 bytes that carries 5.
    f.extend(data_frame(&r, "/in/2", b"\x05\x0bhello"));
    // One level deeper than the limit.
    f.extend(data_frame(&r, "/in/3", &nested(DEFAULT_MAX_DEPTH + 1)));
    // A command envelope without payload, and a routing update that is no filter.
    let mut g = Vec::new();
    encode_frame(
        &mut g,
        r.id,
        EndpointId::NIL,
        EnvelopeType::Command,
        16,
        "/in/4",
        b"",
    )
    .unwrap();
    encode_frame(
        &mut g,
        r.id,
        a.id(),
        EnvelopeType::RoutingUpdate,
        16,
        "<$>",
        b"\xff",
    )
    .unwrap();
    f.extend(g);
    // Nesting 400 deep (as Broker sends) and exactly at the limit are fine.
    f.extend(data_frame(&r, "/in/5", &nested(400)));
    f.extend(data_frame(&r, "/in/6", &nested(DEFAULT_MAX_DEPTH)));
    f.extend(data_frame(&r, "/in/7", &string_payload("last")));
    r.write_raw(&f);
    let mut data = Vec::new();
    let mut bad = Vec::new();
    let deadline = std::time::Instant::now() + T;
    while data.len() < 4 || bad.len() < 4 {
        assert!(std::time::Instant::now() < deadline, "{data:?} {bad:?}");
        let Some(m) = a.next(Some(Duration::from_millis(100))) else {
            continue;
        };
        match m.kind {
            Event => data.push((m.topic.clone(), m.payload.clone())),
            DeserializationFailed => bad.push(m),
            PeerLost | PeerRemoved | EndpointUnreachable => panic!("the peering dropped: {m:?}"),
            _ => {}
        }
    }
    assert_eq!(
        data,
        [
            ("/in/1".to_string(), string_payload("first")),
            ("/in/5".to_string(), nested(400)),
            ("/in/6".to_string(), nested(DEFAULT_MAX_DEPTH)),
            ("/in/7".to_string(), string_payload("last")),
        ]
    );
    let topics: Vec<&str> = bad.iter().map(|m| m.topic.as_str()).collect();
    assert_eq!(topics, ["/in/2", "/in/3", "/in/4", "<$>"]);
    for m in &bad {
        assert_eq!(m.peer.as_ref().unwrap().id, Some(r.id), "{m:?}");
        assert!(
            m.text.contains(&format!("on topic '{}'", m.topic)),
            "{}",
            m.text
        );
    }
    assert!(bad[0].text.contains("truncated string"), "{}", bad[0].text);
    assert!(
        bad[1].text.contains("nesting deeper than 4096"),
        "{}",
        bad[1].text
    );
    assert!(
        bad[2].text.contains("command envelope without payload"),
        "{}",
        bad[2].text
    );
    assert!(bad[3].text.contains("routing update"), "{}", bad[3].text);
    assert_eq!(a.stats().undecodable, 4);
    assert_eq!(a.peers().len(), 2);
    // The raw peer is still served both ways (a ping is answered) and b is unaffected.
    let mut p = Vec::new();
    encode_frame(&mut p, r.id, a.id(), EnvelopeType::Ping, 1, "<$>", b"still").unwrap();
    r.write_raw(&p);
    loop {
        let e = r.read_frame().unwrap();
        let e = EnvelopeRef::decode(&e).unwrap();
        if e.kind == EnvelopeType::Pong {
            assert_eq!(e.payload, b"still");
            break;
        }
    }
    a.publish("/ok", string_payload("after-bad")).unwrap();
    assert_eq!(
        next_data(&b, T).unwrap().payload,
        string_payload("after-bad")
    );
    assert!(a.next(Some(Duration::from_millis(200))).is_none());
}

#[test]
fn values_round_trip_through_publish_value() {
    use zcluster::data::Value;
    let (a, b, _port) = setup();
    let v = Value::Vector(vec![
        Value::Count(7),
        Value::String(b"x".to_vec()),
        Value::Real(1.5),
    ]);
    a.publish_value("/ok/v", &v).unwrap();
    let m = next_data(&b, T).unwrap();
    assert_eq!(m.value().unwrap(), v);
}

#[test]
fn a_close_right_after_data_or_well_after_it_is_noticed() {
    // The I/O thread stops reading after a short read (edge-triggered readiness) unless
    // the peer's close was reported: both a close that arrives with the data and one that
    // arrives later, once the data was read, must deliver the data and then PeerLost.
    let a = plain_ep();
    a.subscribe("/to-a").unwrap();
    let port = a.listen("127.0.0.1", 0).unwrap();
    for (i, pause_ms) in [0u64, 0, 0, 30, 30, 30].into_iter().enumerate() {
        let mut r = RawPeer::connect(port, id(0x60 + i as u8));
        r.handshake(vec![]);
        expect_kind(&a, &[PeerAdded]);
        let mut f = Vec::new();
        for k in 0..3 {
            let p = string_payload(&format!("{i}-{k}"));
            encode_frame(
                &mut f,
                r.id,
                EndpointId::NIL,
                EnvelopeType::Data,
                16,
                "/to-a/x",
                &p,
            )
            .unwrap();
        }
        r.write_raw(&f);
        if pause_ms > 0 {
            std::thread::sleep(Duration::from_millis(pause_ms));
        }
        // FIN, not RST: the endpoint's routing update may sit unread on our side.
        r.s.shutdown(std::net::Shutdown::Write).unwrap();
        for k in 0..3 {
            let m = next_data(&a, T).expect("data before the close");
            assert_eq!(m.payload, string_payload(&format!("{i}-{k}")));
        }
        let m = expect_kind(&a, &[PeerLost]);
        assert!(m.text.contains("closed by the peer"), "{}", m.text);
    }
}

#[test]
fn a_tls_client_on_a_plain_endpoint_is_named_as_such() {
    let (a, b, port) = setup();
    // The first bytes of a TLS 1.2/1.3 ClientHello record.
    let mut r = RawPeer::connect(port, id(0x70));
    r.write_raw(&[
        0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03,
    ]);
    let text = rejected(&a);
    assert!(
        text.contains("peer started a TLS handshake; this endpoint has TLS disabled"),
        "{text}"
    );
    assert!(!text.contains("exceeds"), "{text}");
    assert!(r.closed());
    // A real TLS client (the openssl CLI), where installed.
    if let Ok(mut child) = std::process::Command::new("openssl")
        .args(["s_client", "-connect", &format!("127.0.0.1:{port}")])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
    {
        let text = rejected(&a);
        assert!(text.contains("peer started a TLS handshake"), "{text}");
        let _ = child.kill();
        let _ = child.wait();
    }
    still_serves(&a, &b, "tls");
}

#[test]
fn a_tls_server_we_dial_is_named_as_such() {
    // A server that answers our hello with a TLS alert record, as a TLS-only Broker does.
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let server = std::thread::spawn(move || {
        use std::io::{Read, Write};
        let (mut s, _) = l.accept().unwrap();
        let mut buf = [0u8; 64];
        let _ = s.read(&mut buf);
        // TLS alert: handshake_failure.
        let _ = s.write_all(&[0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x28]);
        std::thread::sleep(Duration::from_millis(200));
    });
    let b = plain_ep();
    b.peer("127.0.0.1", port, Duration::ZERO).unwrap();
    let m = expect_kind(&b, &[PeerUnavailable]);
    assert!(
        m.text
            .contains("TLS alert: it expects TLS; this endpoint has TLS disabled"),
        "{}",
        m.text
    );
    server.join().unwrap();
}
