//! The Broker peer core (`endpoint::proto::Core`) fed arbitrary bytes the way the mio
//! driver feeds it: one core, in either role, at any handshake stage (a scripted prefix
//! of valid handshake messages from the remote side), then a sequence of operations read
//! from the input: bytes arriving in chunks of any size (split anywhere), time passing,
//! partial writes, the host's subscribe/publish/unpeer/shutdown, a second connection, the
//! socket closing.
//!
//! Invariants checked after every operation: no data or command message reaches the host
//! before the connection's handshake completed (nor after shutdown began); a connection
//! is reported peered at most once and closed at most once, and a closed one stays dead;
//! everything the core writes is a stream of frames that decode as handshake messages or
//! envelopes; a connection in its handshake always has a deadline; the whole scripted
//! handshake peers, a part of it leaves the handshake pending; and once the handshake
//! timeout has passed, no connection is still in its handshake.

use super::input::{Input, Out};
use crate::data::{Event, Value};
use crate::endpoint::proto::{Config, ConnId, ConnState, Core, Event as CoreEvent};
use crate::endpoint::{Counters, OverflowPolicy};
use crate::wire::{self, EndpointId, EnvelopeRef, EnvelopeType, HandshakeMsg};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

fn our_id() -> EndpointId {
    EndpointId([0x50; 16])
}

/// The remote side's id: below ours (it originates) or above.
pub(crate) fn peer_id(smaller: bool) -> EndpointId {
    EndpointId(if smaller { [0x20; 16] } else { [0x70; 16] })
}

fn remote(n: u8) -> SocketAddr {
    ([127, 0, 0, n], 47000).into()
}

/// The topics the scripted peer subscribes to (and we do, so data is delivered).
pub(crate) const PEER_FILTER: [&str; 2] = ["a", "zeek/"];

/// The handshake messages the remote side sends, in order, until peered.
pub(crate) fn script(outgoing: bool, peer_smaller: bool) -> Vec<Vec<u8>> {
    let p = peer_id(peer_smaller);
    let filter: Vec<String> = PEER_FILTER.iter().map(|s| s.to_string()).collect();
    let vs = HandshakeMsg::VersionSelect {
        sender: p,
        version: wire::PROTOCOL_VERSION,
    };
    let msgs = match (outgoing, peer_smaller) {
        // We accepted (sent probe); the peer says hello, and the smaller id originates.
        (false, true) => vec![
            HandshakeMsg::hello(p),
            vs,
            HandshakeMsg::OriginatorSyn(filter),
            HandshakeMsg::OriginatorAck,
        ],
        (false, false) => vec![
            HandshakeMsg::hello(p),
            HandshakeMsg::ResponderSynAck(filter),
        ],
        // We connected (sent hello); the peer answers probe, then as above.
        (true, true) => vec![
            HandshakeMsg::Probe,
            vs,
            HandshakeMsg::OriginatorSyn(filter),
            HandshakeMsg::OriginatorAck,
        ],
        (true, false) => vec![
            HandshakeMsg::Probe,
            HandshakeMsg::hello(p),
            HandshakeMsg::ResponderSynAck(filter),
        ],
    };
    msgs.iter()
        .map(|m| {
            let mut f = Vec::new();
            m.encode_frame(&mut f);
            f
        })
        .collect()
}

struct Conn {
    id: ConnId,
    rbuf: Vec<u8>,
    /// Everything the core wrote on it (checked frame by frame).
    written: Vec<u8>,
    checked: usize,
    peered: bool,
    closed: bool,
    /// The whole scripted handshake was fed in its first chunk.
    full_script: bool,
}

struct Harness {
    core: Core,
    now: Instant,
    start: Instant,
    conns: Vec<Conn>,
    shutdown: bool,
    delivered: usize,
}

impl Harness {
    fn conn(&mut self, i: usize) -> Option<&mut Conn> {
        self.conns.get_mut(i)
    }

    /// The driver's read: append, let the core take whole frames, keep the rest.
    fn feed(&mut self, i: usize, bytes: &[u8]) {
        let now = self.now;
        let Some(c) = self.conns.get_mut(i) else {
            return;
        };
        let st = self.core.conn_state(c.id);
        if st == ConnState::Dead || (st == ConnState::Peered && !self.core.can_read()) {
            return;
        }
        c.rbuf.extend_from_slice(bytes);
        let used = self.core.receive(c.id, &c.rbuf, now);
        assert!(used <= c.rbuf.len(), "the core took more bytes than it had");
        c.rbuf.drain(..used);
    }

    /// The driver's write: the transport takes up to `max` bytes of what is queued.
    fn write(&mut self, i: usize, max: usize, in_flight: usize) {
        let Some(c) = self.conns.get_mut(i) else {
            return;
        };
        if !self.core.want_write(c.id, true) {
            return;
        }
        let out = self.core.transmit(c.id);
        let n = out.len().min(max);
        c.written.extend_from_slice(&out[..n]);
        let held = in_flight.min(out.len() - n);
        self.core.wrote(c.id, n);
        self.core.write_done(c.id, held);
    }

    fn turn(&mut self) {
        let now = self.now;
        self.core.handle_timeout(now, |_| false);
        self.core.reap(now);
        self.check();
    }

    fn check(&mut self) {
        while let Some(ev) = self.core.poll_event() {
            match ev {
                CoreEvent::Connect { request, .. } => {
                    // Reconnects of a lost peering: refused (one connection per run).
                    self.core
                        .connect_failed(request, "refused by the harness", self.now);
                }
                CoreEvent::Peered { .. } => {
                    let core = &self.core;
                    let c = self
                        .conns
                        .iter_mut()
                        .find(|c| {
                            !c.peered
                                && !c.closed
                                && matches!(
                                    core.conn_state(c.id),
                                    ConnState::Peered | ConnState::Dead
                                )
                        })
                        .expect("a peered event names a connection that was in its handshake");
                    c.peered = true;
                }
                CoreEvent::Closed { conn, .. } => {
                    let c = self
                        .conns
                        .iter_mut()
                        .find(|c| c.id == conn)
                        .expect("closed a connection the driver knows");
                    assert!(!c.closed, "connection {conn} closed twice");
                    c.closed = true;
                }
                CoreEvent::PeersChanged { .. } => {}
            }
        }
        let any_peered = self.conns.iter().any(|c| c.peered);
        for m in self.core.deliveries.take_messages() {
            if m.sender.is_some() && m.peer.is_none() {
                assert!(any_peered, "delivered {m:?} before any handshake completed");
                assert!(!self.shutdown, "delivered {m:?} after shutdown began");
                self.delivered += 1;
            }
        }
        let timeout = self.core.poll_timeout();
        for c in &mut self.conns {
            let st = self.core.conn_state(c.id);
            if c.closed {
                assert_eq!(st, ConnState::Dead, "a closed connection came back");
            }
            if st == ConnState::Handshake {
                assert!(timeout.is_some(), "a handshake without a deadline");
            }
            // What the core wrote: whole frames, each a handshake message or an envelope.
            while let Ok(Some((s, e))) = wire::next_frame(&c.written[c.checked..], usize::MAX) {
                let f = &c.written[c.checked + s..c.checked + e];
                assert!(
                    HandshakeMsg::decode(f).is_ok() || EnvelopeRef::decode(f).is_ok(),
                    "the core wrote a frame that does not decode: {f:?}"
                );
                c.checked += e;
            }
        }
    }
}

fn policy(b: u8) -> OverflowPolicy {
    match b % 4 {
        0 => OverflowPolicy::Backpressure,
        1 => OverflowPolicy::DropNewest,
        2 => OverflowPolicy::DropOldest,
        _ => OverflowPolicy::Disconnect,
    }
}

fn event_payload(n: u8) -> Vec<u8> {
    Event::with_args("fuzz", vec![Value::Count(u64::from(n))]).to_bytes()
}

/// Opens connection `i` in the role `outgoing` and feeds the first `stage` scripted
/// handshake messages, as one chunk.
fn open(h: &mut Harness, outgoing: bool, peer_smaller: bool, stage: usize) {
    let n = h.conns.len();
    let id = 100 + n;
    let now = h.now;
    if outgoing {
        let a = remote(n as u8 + 1);
        h.core
            .peer(a, a.ip().to_string(), a.port(), Duration::ZERO, now);
        let mut request = None;
        while let Some(ev) = h.core.poll_event() {
            if let CoreEvent::Connect { request: r, .. } = ev {
                request = Some(r);
            }
        }
        let Some(request) = request else {
            return;
        };
        h.core.connecting(request, id, now);
        h.core.connected(id);
    } else {
        h.core.accepted(id, remote(n as u8 + 1), now);
    }
    let msgs = script(outgoing, peer_smaller);
    let stage = stage % (msgs.len() + 1);
    h.conns.push(Conn {
        id,
        rbuf: Vec::new(),
        written: Vec::new(),
        checked: 0,
        peered: false,
        closed: false,
        full_script: stage == msgs.len(),
    });
    let prefix: Vec<u8> = msgs[..stage].concat();
    h.write(n, usize::MAX, 0);
    h.feed(n, &prefix);
    h.write(n, usize::MAX, 0);
    h.check();
    let st = h.core.conn_state(id);
    let c = &h.conns[n];
    if n == 0 {
        // The first connection: the script peers exactly when it is whole.
        if c.full_script {
            assert_eq!(st, ConnState::Peered, "the whole handshake did not peer");
        } else {
            assert_eq!(st, ConnState::Handshake, "a partial handshake did not wait");
        }
    }
}

/// Operations, one byte each (then their arguments).
pub(crate) mod op {
    /// Bytes for connection 0 (u16 length, bytes).
    pub const FEED: u8 = 0;
    /// Bytes for connection 1.
    pub const FEED1: u8 = 1;
    /// Time passes: u8 × 100 ms.
    pub const TICK: u8 = 2;
    /// The transport takes u16 bytes of connection (u8 & 1), holding u8 in flight.
    pub const WRITE: u8 = 3;
    /// The host: u8 selects subscribe, unsubscribe, publish, unpeer, shutdown.
    pub const HOST: u8 = 4;
    /// A second connection: u8 = flags (outgoing, peer smaller), u8 = stage.
    pub const OPEN: u8 = 5;
    /// The socket of connection (u8 & 1) ends.
    pub const CLOSE: u8 = 6;
    pub const COUNT: u8 = 7;
}

/// Input: flags (bit 0 outgoing, bit 1 peer id smaller, bits 2-3 overflow policy, bit 4
/// forwarding off), the handshake stage, then operations (see `op`).
pub fn peer_core(data: &[u8]) {
    run(data);
}

/// [`peer_core`], returning the data and command messages delivered to the host.
pub(crate) fn run(data: &[u8]) -> usize {
    let mut inp = Input::new(data);
    let flags = inp.u8();
    let stage = usize::from(inp.u8());
    let (outgoing, peer_smaller) = (flags & 1 != 0, flags & 2 != 0);
    let cfg = Config {
        id: our_id(),
        forwarding: flags & 0x10 == 0,
        ttl: wire::DEFAULT_TTL,
        peer_buffer_size: 4,
        peer_policy: policy(flags >> 2),
        max_frame: 1 << 16,
        handshake_timeout: HANDSHAKE_TIMEOUT,
        unpeer_timeout: Duration::from_secs(3),
        shutdown_timeout: Duration::from_secs(2),
        validate_data: true,
    };
    let now = Instant::now();
    let mut h = Harness {
        core: Core::new(cfg, Arc::new(Counters::default()), false),
        now,
        start: now,
        conns: Vec::new(),
        shutdown: false,
        delivered: 0,
    };
    for p in PEER_FILTER {
        h.core.subscribe(p.to_string());
    }
    open(&mut h, outgoing, peer_smaller, stage);
    let mut ops = 0;
    while !inp.is_empty() && ops < 2000 {
        ops += 1;
        match inp.u8() % op::COUNT {
            op::FEED => {
                let b = inp.bytes();
                h.feed(0, b);
            }
            op::FEED1 => {
                let b = inp.bytes();
                h.feed(1, b);
            }
            op::TICK => {
                h.now += Duration::from_millis(100) * u32::from(inp.u8());
                h.turn();
            }
            op::WRITE => {
                let i = usize::from(inp.u8() & 1);
                let max = usize::from(inp.u16());
                let held = usize::from(inp.u8());
                h.write(i, max, held);
            }
            op::HOST => host(&mut h, inp.u8()),
            op::OPEN => {
                let f = inp.u8();
                let s = usize::from(inp.u8());
                if h.conns.len() < 2 {
                    open(&mut h, f & 1 != 0, f & 2 != 0, s);
                }
            }
            _ => {
                let i = usize::from(inp.u8() & 1);
                if let Some(c) = h.conn(i) {
                    let id = c.id;
                    h.core.close(id, "connection closed by the peer".into());
                }
            }
        }
        h.turn();
    }
    // Everything written, and the handshake timeout (and the goodbye's) long past: no
    // connection is left in its handshake.
    for _ in 0..3 {
        for i in 0..h.conns.len() {
            h.write(i, usize::MAX, 0);
        }
        h.now += HANDSHAKE_TIMEOUT + Duration::from_secs(5);
        h.turn();
    }
    for c in &h.conns {
        assert_ne!(
            h.core.conn_state(c.id),
            ConnState::Handshake,
            "a handshake outlived its timeout ({:?} after the start)",
            h.now - h.start
        );
    }
    h.delivered
}

fn host(h: &mut Harness, b: u8) {
    let now = h.now;
    match b % 6 {
        0 => h.core.subscribe(format!("a{}", b >> 3)),
        1 => h.core.unsubscribe("a"),
        2 | 3 => {
            let topic: Arc<str> = Arc::from(if b & 8 != 0 { "a/x" } else { "zeek/y" });
            let receiver = EndpointId::NIL;
            if h.core.publish_ready(&topic, receiver) {
                let kind = if b & 0x10 != 0 {
                    EnvelopeType::Command
                } else {
                    EnvelopeType::Data
                };
                h.core.publish(kind, &topic, &event_payload(b), receiver, 0);
            }
        }
        4 => {
            let a = remote(1 + (b >> 3) % 2);
            h.core.unpeer(&a.ip().to_string(), a.port(), &[a], now);
        }
        _ => {
            h.core.shutdown(now);
            h.shutdown = true;
        }
    }
}

/// A seed: the flags and stage, then operations.
pub(crate) fn seed(flags: u8, stage: u8, ops: impl FnOnce(&mut Out)) -> Vec<u8> {
    let mut o = Out::default();
    o.u8(flags).u8(stage);
    ops(&mut o);
    o.0
}

/// An envelope frame from the scripted peer.
pub(crate) fn envelope(
    peer_smaller: bool,
    kind: EnvelopeType,
    topic: &str,
    payload: &[u8],
) -> Vec<u8> {
    let mut f = Vec::new();
    wire::envelope::encode_frame(
        &mut f,
        peer_id(peer_smaller),
        EndpointId::NIL,
        kind,
        wire::DEFAULT_TTL,
        topic,
        payload,
    )
    .expect("a seed envelope encodes");
    f
}

pub(crate) fn data_payload(n: u8) -> Vec<u8> {
    event_payload(n)
}
