// Shared helpers for the endpoint tests (included with `mod endpoint_common;`).
#![allow(dead_code)]

use std::time::{Duration, Instant};
use zcluster::endpoint::{Endpoint, EndpointOptions, Message, MessageKind};
use zcluster::wire::EndpointId;

pub const T: Duration = Duration::from_secs(10);

pub fn id(b: u8) -> EndpointId {
    let mut x = [b; 16];
    x[6] = 0x40 | (b & 0x0f);
    x[8] = 0x80 | (b & 0x3f);
    EndpointId(x)
}

pub fn ep_with(f: impl FnOnce(&mut EndpointOptions)) -> Endpoint {
    let mut o = EndpointOptions::default();
    f(&mut o);
    Endpoint::new(o).expect("endpoint")
}

pub fn ep() -> Endpoint {
    ep_with(|_| {})
}

/// An endpoint on plain TCP (`Broker::disable_ssl=T`), for peers that speak Broker's
/// protocol on a bare socket (`RawPeer`, the Python implementation).
pub fn plain_ep_with(f: impl FnOnce(&mut EndpointOptions)) -> Endpoint {
    ep_with(|o| {
        o.tls.disable = true;
        f(o)
    })
}

pub fn plain_ep() -> Endpoint {
    plain_ep_with(|_| {})
}

/// The next message of one of `kinds`, skipping others; panics after `T`.
pub fn expect_kind(e: &Endpoint, kinds: &[MessageKind]) -> Message {
    let deadline = Instant::now() + T;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match e.next(Some(left)) {
            Some(m) if kinds.contains(&m.kind) => return m,
            Some(_) => continue,
            None => panic!("no message of kinds {kinds:?} within {T:?}"),
        }
    }
}

/// Statuses in order until `n` of them arrived (data messages skipped).
pub fn statuses(e: &Endpoint, n: usize) -> Vec<Message> {
    let deadline = Instant::now() + T;
    let mut out = Vec::new();
    while out.len() < n {
        let left = deadline.saturating_duration_since(Instant::now());
        match e.next(Some(left)) {
            Some(m) if m.is_status() => out.push(m),
            Some(_) => {}
            None => panic!("only {} of {n} statuses within {T:?}: {out:?}", out.len()),
        }
    }
    out
}

pub fn kinds(ms: &[Message]) -> Vec<MessageKind> {
    ms.iter().map(|m| m.kind).collect()
}

/// A Broker-encoded string value (tag 5, varbyte length, bytes) for payloads.
pub fn string_payload(s: &str) -> Vec<u8> {
    assert!(s.len() < 128);
    let mut v = vec![5, s.len() as u8];
    v.extend_from_slice(s.as_bytes());
    v
}

/// Peers `b` with `a` (listening on loopback) and waits for both sides' PeerAdded.
pub fn connect(a: &Endpoint, b: &Endpoint) -> u16 {
    let port = a.listen("127.0.0.1", 0).unwrap();
    b.peer("127.0.0.1", port, Duration::from_millis(100))
        .unwrap();
    expect_kind(a, &[MessageKind::PeerAdded]);
    expect_kind(b, &[MessageKind::PeerAdded]);
    port
}

/// Next data message, or None within `d`.
pub fn next_data(e: &Endpoint, d: Duration) -> Option<Message> {
    let deadline = Instant::now() + d;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match e.next(Some(left)) {
            Some(m) if m.kind == MessageKind::Event => return Some(m),
            Some(_) => continue,
            None => return None,
        }
    }
}

/// A hand-driven peer on a raw socket, for protocol-level tests (with `plain_ep`).
pub struct RawPeer {
    pub s: std::net::TcpStream,
    pub id: EndpointId,
}

use std::io::{Read, Write};
use zcluster::wire::handshake::HandshakeMsg;

impl RawPeer {
    pub fn connect(port: u16, id: EndpointId) -> RawPeer {
        let s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.set_read_timeout(Some(T)).unwrap();
        RawPeer { s, id }
    }

    pub fn write_raw(&mut self, b: &[u8]) {
        self.s.write_all(b).unwrap();
    }

    pub fn send(&mut self, m: &HandshakeMsg) {
        let mut b = Vec::new();
        m.encode_frame(&mut b);
        self.write_raw(&b);
    }

    /// Reads one frame payload; None on EOF.
    pub fn read_frame(&mut self) -> Option<Vec<u8>> {
        let mut len = [0u8; 4];
        self.s.read_exact(&mut len).ok()?;
        let mut p = vec![0u8; u32::from_be_bytes(len) as usize];
        self.s.read_exact(&mut p).ok()?;
        Some(p)
    }

    pub fn read_hs(&mut self) -> HandshakeMsg {
        let f = self.read_frame().expect("a handshake frame");
        HandshakeMsg::decode(&f).expect("a valid handshake message")
    }

    /// True once the other side closed (EOF), reading and discarding until then.
    pub fn closed(&mut self) -> bool {
        let mut b = [0u8; 4096];
        loop {
            match self.s.read(&mut b) {
                Ok(0) => return true,
                Ok(_) => continue,
                // A close with our bytes still unread arrives as a reset: closed all the same.
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return true,
                Err(_) => return false,
            }
        }
    }

    /// Full handshake against a listening endpoint (which sends probe first). Returns the
    /// endpoint's id and the filter it advertised.
    pub fn handshake(&mut self, my_filter: Vec<String>) -> (EndpointId, Vec<String>) {
        assert_eq!(self.read_hs(), HandshakeMsg::Probe);
        self.send(&HandshakeMsg::Hello {
            sender: self.id,
            min_version: 1,
            max_version: 99,
        });
        match self.read_hs() {
            // We are the originator.
            HandshakeMsg::Hello {
                sender,
                min_version: 1,
                max_version: 1,
            } => {
                assert!(self.id < sender);
                self.send(&HandshakeMsg::VersionSelect {
                    sender: self.id,
                    version: 1,
                });
                self.send(&HandshakeMsg::OriginatorSyn(my_filter));
                let HandshakeMsg::ResponderSynAck(f) = self.read_hs() else {
                    panic!("expected responder_syn_ack")
                };
                self.send(&HandshakeMsg::OriginatorAck);
                (sender, f)
            }
            HandshakeMsg::VersionSelect { sender, version: 1 } => {
                assert!(sender < self.id);
                let HandshakeMsg::OriginatorSyn(f) = self.read_hs() else {
                    panic!("expected originator_syn")
                };
                self.send(&HandshakeMsg::ResponderSynAck(my_filter));
                assert_eq!(self.read_hs(), HandshakeMsg::OriginatorAck);
                (sender, f)
            }
            m => panic!("unexpected {m:?}"),
        }
    }
}
