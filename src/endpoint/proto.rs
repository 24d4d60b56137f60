//! The Broker peer/router core, sans I/O: no socket, no clock read, no thread.
//!
//! In the shape of quinn-proto's `Connection`: the driver (`io`, the mio thread) hands it
//! what happened (bytes received on a connection, a connect that completed, a socket that
//! failed, the host's commands) together with the current time, and takes back what the
//! core decided: bytes to write per connection (`transmit` / `on_written`), messages for
//! the host (`deliveries`), connections to open or close (`poll_event`), and when it next
//! needs `handle_timeout` (`poll_timeout`). Broker's rules live here and only here:
//!
//! - the handshake state machine in both roles (probe/hello, version select, the SYN /
//!   SYN-ACK / ACK filter exchange), equal ids, redundant-connection resolution (the
//!   smaller id originates; a second connection to a known peer is dropped with
//!   `redundant_connection` or `logic_error` as Broker does), the handshake timeout;
//! - routing by advertised filters, the TTL, forwarding with split-horizon advertisements;
//! - ping/pong, the BYE goodbye of unpeer and shutdown, peering requests and their retry;
//! - the per-peer queue with its overflow policies (backpressure, drop newest/oldest,
//!   disconnect), counted as the queue of frames not yet taken by the transport.
//!
//! Connections are named by the driver (`ConnId`, any unique integer). Every entry point
//! takes `now` where time matters; the core keeps deadlines, never reads a clock, so the
//! in-memory tests (`proto_tests`) run it with simulated time.

use super::inbox::Deliveries;
use super::tap::{PeerCounters, Tap};
use super::{Counters, Message, MessageKind, OverflowPolicy, PeerInfo};
use crate::wire::envelope::{encode_frame, EnvelopeRef};
use crate::wire::filter::{filter_matches, normalize};
use crate::wire::handshake::{ec, HandshakeMsg};
use crate::wire::{
    self, EndpointId, EnvelopeType, Filter, DEFAULT_TTL, INTERNAL_TOPIC, MAX_HANDSHAKE_FRAME,
};
use std::collections::{BTreeSet, HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A connection, as the driver names it.
pub(crate) type ConnId = usize;

/// Connection ids are small unique integers: hashing them with SipHash on every frame
/// showed up in profiles, so the maps keyed by them use the integer itself.
#[derive(Default, Clone, Copy)]
pub(crate) struct IdHasher(u64);

impl std::hash::Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8) | u64::from(b);
        }
    }
    fn write_usize(&mut self, n: usize) {
        self.0 = n as u64;
    }
}

pub(crate) type IdMap<V> = HashMap<ConnId, V, std::hash::BuildHasherDefault<IdHasher>>;

/// Written bytes kept at the front of a write buffer before compacting it.
const COMPACT_AT: usize = 1 << 20;
const BYE_TOKEN_LEN: usize = 11;

/// What the core needs of the endpoint's options.
#[derive(Debug, Clone)]
pub(crate) struct Config {
    pub(crate) id: EndpointId,
    pub(crate) forwarding: bool,
    pub(crate) ttl: u16,
    pub(crate) peer_buffer_size: usize,
    pub(crate) peer_policy: OverflowPolicy,
    pub(crate) max_frame: usize,
    pub(crate) handshake_timeout: Duration,
    pub(crate) unpeer_timeout: Duration,
    pub(crate) shutdown_timeout: Duration,
    pub(crate) validate_data: bool,
}

impl Config {
    pub(crate) fn new(id: EndpointId, o: &super::EndpointOptions) -> Config {
        Config {
            id,
            forwarding: o.forwarding,
            ttl: o.ttl,
            peer_buffer_size: o.peer_buffer_size,
            peer_policy: o.peer_policy,
            max_frame: o.max_frame,
            handshake_timeout: o.handshake_timeout,
            unpeer_timeout: o.unpeer_timeout,
            shutdown_timeout: o.shutdown_timeout,
            validate_data: o.validate_data,
        }
    }
}

/// What the driver must do for the core.
pub(crate) enum Event {
    /// Open a connection to `addr` for peering request `request`, then report it with
    /// `connecting` (or `connect_failed`).
    Connect { request: u64, addr: SocketAddr },
    /// A peering completed (for the driver's per-peer metrics table).
    Peered {
        info: PeerInfo,
        stats: Arc<PeerCounters>,
    },
    /// The core is done with the connection: close the socket and forget it.
    Closed {
        conn: ConnId,
        stats: Arc<PeerCounters>,
    },
    /// The set of peers or their subscriptions changed (the host's snapshot).
    PeersChanged { peers: Vec<PeerInfo>, subs: Filter },
}

/// Where a connection stands, for the driver's read loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ConnState {
    /// Unknown, closing or closed: read nothing more.
    Dead,
    /// The TCP connect has not completed.
    Connecting,
    Handshake,
    Peered,
}

/// Handshake position of a connection (`connect_state` in Broker's connector).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Hs {
    /// Outgoing TCP connect in progress.
    Connecting,
    /// We connected and sent hello.
    AwaitHelloOrVersionSelect,
    /// We accepted and sent probe.
    AwaitHello,
    /// We are the responder and sent hello.
    AwaitVersionSelect,
    AwaitOriginatorSyn,
    AwaitResponderSynAck,
    AwaitOriginatorAck,
    Peered,
}

struct Frame {
    start: u64,
    end: u64,
    droppable: bool,
}

struct Conn {
    remote: SocketAddr,
    hs: Hs,
    outgoing: bool,
    request: Option<u64>,
    info: PeerInfo,
    peer_id: EndpointId,
    wbuf: Vec<u8>,
    wpos: usize,
    /// Stream offset of `wbuf[0]`.
    base: u64,
    /// Bytes after `wpos` that the transport took in a write that blocked and must be
    /// offered again unchanged (TLS): never dropped by an overflow policy.
    in_flight: usize,
    /// Envelope frames queued and not yet fully written (the peer's buffer occupancy).
    frames: VecDeque<Frame>,
    dirty: bool,
    filter: Filter,
    advertised: Option<Filter>,
    deadline: Option<Instant>,
    /// Set when we end the peering (unpeer, overflow): reported as removed.
    removed: Option<String>,
    bye_token: Option<[u8; BYE_TOKEN_LEN]>,
    remote_bye: bool,
    /// Write what is queued, then close with this reason (after drop_conn).
    closing: Option<String>,
    /// Close at the end of this turn with this reason.
    kill: Option<String>,
    /// Close without a status (redundant connections).
    silent: bool,
    /// Per-peer counters (metrics), registered while peered.
    stats: Arc<PeerCounters>,
    /// No frame read yet: the first bytes may be a TLS record instead.
    first_frame: bool,
}

impl Conn {
    fn new(remote: SocketAddr, hs: Hs, outgoing: bool, info: PeerInfo) -> Conn {
        Conn {
            remote,
            hs,
            outgoing,
            request: None,
            info,
            peer_id: EndpointId::NIL,
            wbuf: Vec::new(),
            wpos: 0,
            base: 0,
            in_flight: 0,
            frames: VecDeque::new(),
            dirty: false,
            filter: Vec::new(),
            advertised: None,
            deadline: None,
            removed: None,
            bye_token: None,
            remote_bye: false,
            closing: None,
            kill: None,
            silent: false,
            stats: Arc::default(),
            first_frame: true,
        }
    }

    fn alive(&self) -> bool {
        self.kill.is_none() && self.closing.is_none()
    }

    fn send_hs(&mut self, m: &HandshakeMsg) {
        m.encode_frame(&mut self.wbuf);
        self.dirty = true;
    }
}

#[derive(Debug, Clone, Copy)]
enum ReqState {
    Waiting(Instant),
    /// `Event::Connect` is out; the driver has not answered yet.
    Dialing,
    Active(ConnId),
}

struct Request {
    host: String,
    port: u16,
    addr: SocketAddr,
    retry: Duration,
    state: ReqState,
}

/// The peer/router core of one endpoint (see the module docs).
pub(crate) struct Core {
    cfg: Config,
    counters: Arc<Counters>,
    conns: IdMap<Conn>,
    requests: HashMap<u64, Request>,
    next_request: u64,
    subs: BTreeSet<String>,
    sub_filter: Filter,
    /// Messages for the host, this turn.
    pub(crate) deliveries: Deliveries,
    /// Data for the host goes into chunks (see `inbox::Deliveries`) unless a service wants
    /// every message built.
    raw_deliveries: bool,
    scratch: Vec<u8>,
    targets: Vec<ConnId>,
    /// The publish (topic, receiver) `targets` was computed for, while still valid.
    targets_for: Option<(Arc<str>, EndpointId)>,
    bye_counter: u64,
    shutdown: Option<Instant>,
    /// Taps (see `tap`): id, filter, sink.
    taps: Vec<(u64, Filter, Arc<dyn Tap>)>,
    events: VecDeque<Event>,
}

impl Core {
    pub(crate) fn new(cfg: Config, counters: Arc<Counters>, raw_deliveries: bool) -> Core {
        Core {
            cfg,
            counters,
            conns: IdMap::default(),
            requests: HashMap::new(),
            next_request: 1,
            subs: BTreeSet::new(),
            sub_filter: Vec::new(),
            deliveries: Deliveries::default(),
            raw_deliveries,
            scratch: Vec::new(),
            targets: Vec::new(),
            targets_for: None,
            bye_counter: 0,
            shutdown: None,
            taps: Vec::new(),
            events: VecDeque::new(),
        }
    }

    /// The next thing the driver must do, if any.
    pub(crate) fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// From now on every delivered message is built (a service reads them).
    pub(crate) fn set_raw_deliveries(&mut self, raw: bool) {
        self.raw_deliveries = raw;
    }

    /// Forgets the cached targets of the last publish (peers may have changed).
    pub(crate) fn invalidate_targets(&mut self) {
        self.targets_for = None;
    }

    // -- queries ------------------------------------------------------------------

    pub(crate) fn conn_state(&self, conn: ConnId) -> ConnState {
        match self.conns.get(&conn) {
            Some(c) if !c.alive() => ConnState::Dead,
            Some(c) if c.hs == Hs::Connecting => ConnState::Connecting,
            Some(c) if c.hs == Hs::Peered => ConnState::Peered,
            Some(_) => ConnState::Handshake,
            None => ConnState::Dead,
        }
    }

    pub(crate) fn is_shutting_down(&self) -> bool {
        self.shutdown.is_some()
    }

    /// When shutdown must end at the latest, once it started.
    pub(crate) fn shutdown_deadline(&self) -> Option<Instant> {
        self.shutdown
    }

    /// Everything queued is written and no goodbye waits for its pong.
    pub(crate) fn flushed(&self) -> bool {
        self.conns
            .values()
            .all(|c| c.wpos == c.wbuf.len() && c.bye_token.is_none())
    }

    /// Whether peered connections may be read now (the part of backpressure that is the
    /// core's: with forwarding, a full peer queue stops reading; the driver adds the
    /// inbox's room).
    pub(crate) fn can_read(&self) -> bool {
        if self.shutdown.is_some() {
            // Only the goodbye pongs matter now; data is ignored (`handle_envelope`).
            return true;
        }
        if self.cfg.forwarding && self.cfg.peer_policy == OverflowPolicy::Backpressure {
            let cap = self.cfg.peer_buffer_size;
            if self
                .conns
                .values()
                .any(|c| c.hs == Hs::Peered && c.alive() && c.frames.len() >= cap)
            {
                return false;
            }
        }
        true
    }

    /// When `handle_timeout` must run next.
    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        let mut next: Option<Instant> = self.shutdown;
        let mut consider = |d: Instant| next = Some(next.map_or(d, |n| n.min(d)));
        for r in self.requests.values() {
            if let ReqState::Waiting(at) = r.state {
                consider(at);
            }
        }
        for c in self.conns.values() {
            if let Some(d) = c.deadline {
                consider(d);
            }
        }
        next
    }

    // -- connections (driver side) ----------------------------------------------

    /// The driver opened connection `conn` for `request` (after `Event::Connect`); the
    /// TCP connect is in progress.
    pub(crate) fn connecting(&mut self, request: u64, conn: ConnId, now: Instant) {
        self.targets_for = None;
        let Some(r) = self.requests.get_mut(&request) else {
            // Unpeered meanwhile.
            let mut c = Conn::new(
                ([0, 0, 0, 0], 0).into(),
                Hs::Connecting,
                true,
                PeerInfo {
                    id: None,
                    address: String::new(),
                    port: 0,
                },
            );
            c.silent = true;
            c.kill = Some("unpeered during the handshake".into());
            self.conns.insert(conn, c);
            return;
        };
        r.state = ReqState::Active(conn);
        let mut c = Conn::new(
            r.addr,
            Hs::Connecting,
            true,
            PeerInfo {
                id: None,
                address: r.host.clone(),
                port: r.port,
            },
        );
        c.request = Some(request);
        c.deadline = Some(now + self.cfg.handshake_timeout);
        self.conns.insert(conn, c);
    }

    /// The TCP connect of `conn` completed: we speak first (hello).
    pub(crate) fn connected(&mut self, conn: ConnId) {
        self.targets_for = None;
        let id = self.cfg.id;
        if let Some(c) = self.conns.get_mut(&conn) {
            if c.hs == Hs::Connecting {
                c.hs = Hs::AwaitHelloOrVersionSelect;
                c.send_hs(&HandshakeMsg::hello(id));
            }
        }
    }

    /// The driver accepted connection `conn` from `remote`: the responder sends probe.
    pub(crate) fn accepted(&mut self, conn: ConnId, remote: SocketAddr, now: Instant) {
        self.targets_for = None;
        let info = PeerInfo {
            id: None,
            address: remote.ip().to_string(),
            port: remote.port(),
        };
        let mut c = Conn::new(remote, Hs::AwaitHello, false, info);
        c.deadline = Some(now + self.cfg.handshake_timeout);
        c.send_hs(&HandshakeMsg::Probe);
        self.conns.insert(conn, c);
    }

    /// The connection failed or ended underneath (EOF, an I/O error): closed this turn.
    pub(crate) fn close(&mut self, conn: ConnId, reason: String) {
        self.targets_for = None;
        if let Some(c) = self.conns.get_mut(&conn) {
            if c.kill.is_none() {
                c.kill = Some(reason);
            }
        }
    }

    /// A connect attempt for `request` failed before there was a connection: report,
    /// then retry after the interval or give up.
    pub(crate) fn connect_failed(&mut self, request: u64, reason: &str, now: Instant) {
        let Some(r) = self.requests.get_mut(&request) else {
            return;
        };
        let info = PeerInfo {
            id: None,
            address: r.host.clone(),
            port: r.port,
        };
        self.deliveries.push(Message::status(
            MessageKind::PeerUnavailable,
            info,
            format!("unable to connect to remote peer ({reason})"),
        ));
        if r.retry.is_zero() || self.shutdown.is_some() {
            self.requests.remove(&request);
        } else {
            r.state = ReqState::Waiting(now + r.retry);
        }
    }

    // -- writing ------------------------------------------------------------------

    /// Whether the driver should write `conn` now: new bytes were queued, or `event`
    /// (the socket became writable). Clears the core's mark.
    pub(crate) fn want_write(&mut self, conn: ConnId, event: bool) -> bool {
        let Some(c) = self.conns.get_mut(&conn) else {
            return false;
        };
        if !(c.dirty || event) || c.hs == Hs::Connecting || c.kill.is_some() {
            return false;
        }
        c.dirty = false;
        true
    }

    /// The bytes queued for `conn` and not yet written (empty once the connection is
    /// closing for good).
    pub(crate) fn transmit(&self, conn: ConnId) -> &[u8] {
        match self.conns.get(&conn) {
            Some(c) if c.kill.is_none() => &c.wbuf[c.wpos..],
            _ => &[],
        }
    }

    /// The transport took `n` bytes of `transmit`.
    pub(crate) fn wrote(&mut self, conn: ConnId, n: usize) {
        if let Some(c) = self.conns.get_mut(&conn) {
            c.wpos = (c.wpos + n).min(c.wbuf.len());
        }
    }

    /// A round of writes on `conn` ended (all written, or the transport would block);
    /// `in_flight` bytes after the written ones are held by the transport.
    pub(crate) fn write_done(&mut self, conn: ConnId, in_flight: usize) {
        self.targets_for = None;
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        c.in_flight = in_flight;
        let written = c.base + c.wpos as u64;
        while c.frames.front().is_some_and(|f| f.end <= written) {
            c.frames.pop_front();
        }
        c.stats.set_queued(c.frames.len());
        if c.wpos == c.wbuf.len() {
            c.base += c.wpos as u64;
            c.wbuf.clear();
            c.wpos = 0;
            if let Some(reason) = c.closing.take() {
                c.kill = Some(reason);
            }
        } else if c.wpos >= COMPACT_AT && c.wpos >= c.wbuf.len() - c.wpos {
            // Only once the written part is at least as large as what remains, so each
            // byte moves at most about once (compacting a large backlog after every write
            // costed more than the writes).
            c.wbuf.drain(..c.wpos);
            c.base += c.wpos as u64;
            c.wpos = 0;
        }
    }

    // -- commands -----------------------------------------------------------------

    /// Peers with `addr` (`host`:`port` as the host named it), retrying every `retry`
    /// (zero: once).
    pub(crate) fn peer(
        &mut self,
        addr: SocketAddr,
        host: String,
        port: u16,
        retry: Duration,
        now: Instant,
    ) {
        self.targets_for = None;
        let id = self.next_request;
        self.next_request += 1;
        self.requests.insert(
            id,
            Request {
                host,
                port,
                addr,
                retry,
                state: ReqState::Waiting(now),
            },
        );
        self.start_connect(id);
    }

    fn start_connect(&mut self, id: u64) {
        let Some(r) = self.requests.get_mut(&id) else {
            return;
        };
        r.state = ReqState::Dialing;
        let addr = r.addr;
        self.events.push_back(Event::Connect { request: id, addr });
    }

    pub(crate) fn subscribe(&mut self, prefix: String) {
        self.targets_for = None;
        self.subs.insert(prefix);
        self.subs_changed();
    }

    pub(crate) fn unsubscribe(&mut self, prefix: &str) {
        self.targets_for = None;
        self.subs.remove(prefix);
        self.subs_changed();
    }

    /// Adds, updates (same id) or removes (`tap: None`) a tap.
    pub(crate) fn set_tap(&mut self, id: u64, filter: Filter, tap: Option<Arc<dyn Tap>>) {
        self.targets_for = None;
        self.taps.retain(|(i, _, _)| *i != id);
        if let Some(tap) = tap {
            self.taps.push((id, filter, tap));
        }
        self.recompute_advertisements();
    }

    /// A message for the host, as if it came from the network.
    pub(crate) fn deliver(&mut self, m: Message) {
        self.targets_for = None;
        self.deliveries.push(m);
    }

    /// Broker's shutdown: every peer gets the goodbye, and we wait for the pongs (within
    /// the shutdown timeout) before closing.
    pub(crate) fn shutdown(&mut self, now: Instant) {
        self.targets_for = None;
        self.shutdown = Some(now + self.cfg.shutdown_timeout);
        let peered: Vec<ConnId> = self
            .conns
            .iter()
            .filter(|(_, c)| c.hs == Hs::Peered)
            .map(|(t, _)| *t)
            .collect();
        for t in peered {
            self.say_goodbye(t, "shutting down".into(), now);
        }
    }

    fn subs_changed(&mut self) {
        self.sub_filter = normalize(self.subs.iter().cloned().collect());
        self.recompute_advertisements();
    }

    /// Whether a publish to `topic` (to `receiver`, or all if nil) may be routed now: not
    /// under backpressure with a target peer's queue full. Computes its targets for the
    /// `publish` that follows.
    pub(crate) fn publish_ready(&mut self, topic: &Arc<str>, receiver: EndpointId) -> bool {
        if self.tap_full(topic, receiver) {
            return false;
        }
        self.ensure_targets(topic, receiver);
        let cap = self.cfg.peer_buffer_size;
        !(self.cfg.peer_policy == OverflowPolicy::Backpressure
            && self
                .targets
                .iter()
                .any(|t| self.conns.get(t).is_some_and(|c| c.frames.len() >= cap)))
    }

    /// A tap this publish would be offered to is full (see `Tap::full`): the publish
    /// waits, as for a full peer queue.
    fn tap_full(&self, topic: &str, receiver: EndpointId) -> bool {
        receiver.is_nil()
            && self
                .taps
                .iter()
                .any(|(_, f, tap)| tap.full() && filter_matches(f, topic))
    }

    /// `publish_ready` without the cache (for a look at the queue's front).
    pub(crate) fn blocked(&self, topic: &str, receiver: EndpointId) -> bool {
        if self.tap_full(topic, receiver) {
            return true;
        }
        let cap = self.cfg.peer_buffer_size;
        self.cfg.peer_policy == OverflowPolicy::Backpressure
            && self.conns.values().any(|c| {
                c.hs == Hs::Peered
                    && c.alive()
                    && c.frames.len() >= cap
                    && (if receiver.is_nil() {
                        filter_matches(&c.filter, topic)
                    } else {
                        c.peer_id == receiver
                    })
            })
    }

    fn ensure_targets(&mut self, topic: &Arc<str>, receiver: EndpointId) {
        // Runs of publishes on one topic (the queue shares its Arc) reuse the target
        // list: the peers cannot change between them.
        let same = matches!(&self.targets_for,
            Some((t, r)) if Arc::ptr_eq(t, topic) && *r == receiver);
        if !same {
            self.compute_targets(topic, receiver);
            self.targets_for = Some((topic.clone(), receiver));
        }
    }

    /// The peers a publish on `topic` (to `receiver`, or all if nil) goes to, into
    /// `self.targets` (reused: no allocation per message).
    fn compute_targets(&mut self, topic: &str, receiver: EndpointId) {
        self.targets.clear();
        for (t, c) in &self.conns {
            if c.hs == Hs::Peered
                && c.alive()
                && (if receiver.is_nil() {
                    filter_matches(&c.filter, topic)
                } else {
                    c.peer_id == receiver
                })
            {
                self.targets.push(*t);
            }
        }
    }

    /// Routes a local publish (`origin`: 0, or the tap that published it).
    pub(crate) fn publish(
        &mut self,
        kind: EnvelopeType,
        topic: &Arc<str>,
        payload: &[u8],
        receiver: EndpointId,
        origin: u64,
    ) {
        self.ensure_targets(topic, receiver);
        self.counters.published.fetch_add(1, Ordering::Relaxed);
        self.counters.processed(kind);
        if kind == EnvelopeType::Data && receiver.is_nil() {
            self.offer_taps(topic, payload, origin);
            // A tap's publish (a WebSocket client's event) reaches this node's host too,
            // as Zeek raises a WebSocket client's events on the node that hosts it.
            if origin != 0 && filter_matches(&self.sub_filter, topic) {
                self.deliveries
                    .push(Message::event_message(&**topic, payload.to_vec()));
            }
        }
        let targets = std::mem::take(&mut self.targets);
        let (id, ttl) = (self.cfg.id, self.cfg.ttl);
        if let [t] = targets[..] {
            // One target (the common case): encode straight into its write buffer.
            self.enqueue_with(t, true, |w| {
                encode_frame(w, id, receiver, kind, ttl, topic, payload).is_ok()
            });
        } else if !targets.is_empty() {
            let mut frame = std::mem::take(&mut self.scratch);
            frame.clear();
            if encode_frame(&mut frame, id, receiver, kind, ttl, topic, payload).is_ok() {
                for &t in &targets {
                    self.enqueue(t, &frame, true);
                }
            }
            self.scratch = frame;
        }
        self.targets = targets;
        if self.cfg.peer_policy == OverflowPolicy::Disconnect {
            // An overflow may have just closed a target.
            self.targets_for = None;
        }
    }

    /// Queues one envelope frame for a peer, applying its overflow policy to droppable ones.
    fn enqueue(&mut self, t: ConnId, frame: &[u8], droppable: bool) {
        self.enqueue_with(t, droppable, |w| {
            w.extend_from_slice(frame);
            true
        });
    }

    /// `enqueue` with the frame written by `write` straight into the peer's buffer (it
    /// returns false, having written nothing, if the frame cannot be encoded).
    fn enqueue_with(
        &mut self,
        t: ConnId,
        droppable: bool,
        write: impl FnOnce(&mut Vec<u8>) -> bool,
    ) {
        let cap = self.cfg.peer_buffer_size;
        let policy = self.cfg.peer_policy;
        let counters = &self.counters;
        let Some(c) = self.conns.get_mut(&t) else {
            return;
        };
        if droppable && c.frames.len() >= cap {
            if policy != OverflowPolicy::Backpressure {
                c.stats.dropped.fetch_add(1, Ordering::Relaxed);
            }
            match policy {
                OverflowPolicy::Backpressure => {}
                OverflowPolicy::DropNewest => {
                    counters.peer_dropped.fetch_add(1, Ordering::Relaxed);
                    return;
                }
                OverflowPolicy::DropOldest => {
                    // Not what a blocked TLS write holds on to (offered again as is).
                    let written = c.base + (c.wpos + c.in_flight) as u64;
                    if let Some(i) = c
                        .frames
                        .iter()
                        .position(|f| f.droppable && f.start >= written)
                    {
                        let (s, e) = (c.frames[i].start, c.frames[i].end);
                        let len = e - s;
                        let (ls, le) = ((s - c.base) as usize, (e - c.base) as usize);
                        c.wbuf.drain(ls..le);
                        c.frames.remove(i);
                        for f in c.frames.iter_mut().skip(i) {
                            f.start -= len;
                            f.end -= len;
                        }
                        counters.peer_dropped.fetch_add(1, Ordering::Relaxed);
                    } else {
                        counters.peer_dropped.fetch_add(1, Ordering::Relaxed);
                        return;
                    }
                }
                OverflowPolicy::Disconnect => {
                    counters
                        .peer_overflow_disconnects
                        .fetch_add(1, Ordering::Relaxed);
                    counters.peer_dropped.fetch_add(1, Ordering::Relaxed);
                    c.removed = Some("backpressure overflow".into());
                    c.kill = Some("backpressure overflow".into());
                    return;
                }
            }
        }
        let len0 = c.wbuf.len();
        if !write(&mut c.wbuf) {
            c.wbuf.truncate(len0);
            return;
        }
        let start = c.base + len0 as u64;
        c.frames.push_back(Frame {
            start,
            end: c.base + c.wbuf.len() as u64,
            droppable,
        });
        c.stats.add_out(c.wbuf.len() - len0, c.frames.len());
        c.dirty = true;
    }

    fn control(&mut self, t: ConnId, receiver: EndpointId, kind: EnvelopeType, payload: &[u8]) {
        let mut buf = Vec::with_capacity(64 + payload.len());
        if encode_frame(
            &mut buf,
            self.cfg.id,
            receiver,
            kind,
            DEFAULT_TTL,
            INTERNAL_TOPIC,
            payload,
        )
        .is_ok()
        {
            self.enqueue(t, &buf, false);
        }
    }

    // -- peering ------------------------------------------------------------------

    /// Ends the peering(s) and requests with `host`:`port` (or one of `addrs`).
    pub(crate) fn unpeer(&mut self, host: &str, port: u16, addrs: &[SocketAddr], now: Instant) {
        self.targets_for = None;
        let mut targets: Vec<ConnId> = Vec::new();
        let ids: Vec<u64> = self
            .requests
            .iter()
            .filter(|(_, r)| (r.host == host && r.port == port) || addrs.contains(&r.addr))
            .map(|(id, _)| *id)
            .collect();
        let removed_request = !ids.is_empty();
        for id in ids {
            if let Some(Request {
                state: ReqState::Active(t),
                ..
            }) = self.requests.remove(&id)
            {
                targets.push(t);
            }
        }
        for (t, c) in &self.conns {
            if (c.info.address == host && c.info.port == port) || addrs.contains(&c.remote) {
                targets.push(*t);
            }
        }
        targets.sort();
        targets.dedup();
        if targets.is_empty() && !removed_request {
            self.deliveries.push(Message::status(
                MessageKind::PeerInvalid,
                PeerInfo {
                    id: None,
                    address: host.to_string(),
                    port,
                },
                "cannot unpeer from unknown peer",
            ));
        }
        for t in targets {
            let Some(c) = self.conns.get_mut(&t) else {
                continue;
            };
            c.request = None;
            if c.hs == Hs::Peered {
                self.say_goodbye(t, String::new(), now);
            } else {
                c.silent = true;
                c.kill = Some("unpeered during the handshake".into());
            }
        }
    }

    /// Ends a peering as Broker does: a BYE ping, then the close once the pong arrives
    /// (or after `unpeer_timeout`). Reported as removed, with `why` if not empty.
    fn say_goodbye(&mut self, t: ConnId, why: String, now: Instant) {
        let Some(c) = self.conns.get_mut(&t) else {
            return;
        };
        if c.hs != Hs::Peered || c.bye_token.is_some() || !c.alive() {
            return;
        }
        self.bye_counter += 1;
        let mut token = [0u8; BYE_TOKEN_LEN];
        token[..3].copy_from_slice(b"BYE");
        token[3..].copy_from_slice(&self.bye_counter.to_be_bytes());
        c.bye_token = Some(token);
        c.removed = Some(why);
        c.deadline = Some(now + self.cfg.unpeer_timeout);
        let peer = c.peer_id;
        self.control(t, peer, EnvelopeType::Ping, &token);
    }

    fn peer_busy(&self, id: EndpointId, except: ConnId) -> bool {
        self.conns
            .iter()
            .any(|(t, c)| *t != except && c.alive() && c.peer_id == id)
    }

    fn advertised_filter(&self, except: Option<ConnId>) -> Filter {
        let mut f = self.sub_filter.clone();
        for (_, tf, tap) in &self.taps {
            if !tap.local_only() {
                f.extend(tf.iter().cloned());
            }
        }
        if self.cfg.forwarding {
            for (t, c) in &self.conns {
                if Some(*t) != except && c.hs == Hs::Peered && c.alive() {
                    f.extend(c.filter.iter().cloned());
                }
            }
        }
        normalize(f)
    }

    /// Sends each peer a routing update if what we advertise to it changed. With
    /// forwarding, a peer is offered our subscriptions plus every other peer's filter
    /// (never its own back: split horizon), so subscriptions travel along a tree.
    fn recompute_advertisements(&mut self) {
        let peered: Vec<ConnId> = self
            .conns
            .iter()
            .filter(|(_, c)| c.hs == Hs::Peered && c.alive())
            .map(|(t, _)| *t)
            .collect();
        for t in peered {
            let f = self.advertised_filter(Some(t));
            let Some(c) = self.conns.get_mut(&t) else {
                continue;
            };
            if c.advertised.as_ref() != Some(&f) {
                let mut payload = Vec::new();
                wire::filter::encode_filter(&f, &mut payload);
                c.advertised = Some(f);
                let peer = c.peer_id;
                self.control(t, peer, EnvelopeType::RoutingUpdate, &payload);
            }
        }
    }

    fn update_snapshot(&mut self) {
        let mut peers: Vec<PeerInfo> = self
            .conns
            .values()
            .filter(|c| c.hs == Hs::Peered && c.alive())
            .map(|c| c.info.clone())
            .collect();
        peers.sort_by(|a, b| (a.address.as_str(), a.port).cmp(&(b.address.as_str(), b.port)));
        let subs: Filter = normalize(
            self.conns
                .values()
                .filter(|c| c.hs == Hs::Peered && c.alive())
                .flat_map(|c| c.filter.iter().cloned())
                .collect(),
        );
        self.events.push_back(Event::PeersChanged { peers, subs });
    }

    // -- reading ------------------------------------------------------------------

    /// Bytes received on `conn`: parses every complete frame and acts on it. Returns
    /// how many bytes it consumed (the rest is an incomplete frame: offer it again with
    /// what follows).
    pub(crate) fn receive(&mut self, conn: ConnId, buf: &[u8], now: Instant) -> usize {
        self.targets_for = None;
        let mut start = 0;
        let end = buf.len();
        let max_frame = self.cfg.max_frame;
        loop {
            // One lookup of the connection per frame, passed on to the handlers.
            let (limit, peer) = match self.conns.get(&conn) {
                Some(c) if !c.alive() => break,
                Some(c) if c.hs == Hs::Peered => (max_frame, Some(c.peer_id)),
                Some(_) => (MAX_HANDSHAKE_FRAME, None),
                None => break,
            };
            if peer.is_none() && end - start >= 2 {
                if let Some(why) = self.tls_instead(conn, &buf[start..end]) {
                    if let Some(c) = self.conns.get_mut(&conn) {
                        c.kill = Some(why.into());
                    }
                    break;
                }
            }
            match wire::next_frame(&buf[start..end], limit) {
                Ok(None) => break,
                Ok(Some((s, e))) => {
                    if let Some(c) = self.conns.get_mut(&conn) {
                        c.first_frame = false;
                    }
                    let payload = &buf[start + s..start + e];
                    start += e;
                    match peer {
                        // Broker ignores empty frames after the handshake.
                        Some(_) if payload.is_empty() => {}
                        Some(id) => self.handle_envelope(conn, id, payload),
                        None => self.handle_handshake(conn, payload, now),
                    }
                }
                Err(e) => {
                    if let Some(c) = self.conns.get_mut(&conn) {
                        c.kill = Some(e.message);
                    }
                    break;
                }
            }
        }
        start
    }

    /// A TLS record where the stream's first frame should be: a handshake record (0x16,
    /// version 3.x) from a peer that dialled us with TLS, or an alert (0x15) from a TLS
    /// server we dialled. As a frame length either reads as megabytes ("oversized
    /// frame"); saying what it is helps whoever configures the two sides.
    fn tls_instead(&self, t: ConnId, bytes: &[u8]) -> Option<&'static str> {
        let c = self.conns.get(&t)?;
        if !c.first_frame || bytes[1] != 0x03 {
            return None;
        }
        match bytes[0] {
            0x16 => Some("peer started a TLS handshake; this endpoint has TLS disabled"),
            0x15 if c.outgoing => Some(
                "peer answered with a TLS alert: it expects TLS; this endpoint has TLS disabled",
            ),
            _ => None,
        }
    }

    /// Sends drop_conn with Broker's code, then closes once it is written.
    fn reject(&mut self, t: ConnId, code: u8, description: String, now: Instant) {
        let id = self.cfg.id;
        let Some(c) = self.conns.get_mut(&t) else {
            return;
        };
        c.send_hs(&HandshakeMsg::DropConn {
            sender: id,
            code,
            description: description.clone(),
        });
        c.closing = Some(format!("{description} (error code {code})"));
        c.deadline = Some(now + Duration::from_secs(1));
    }

    fn handle_handshake(&mut self, t: ConnId, payload: &[u8], now: Instant) {
        let msg = match HandshakeMsg::decode(payload) {
            Ok(m) => m,
            Err(r) => return self.reject(t, r.code, r.description, now),
        };
        let Some(hs) = self.conns.get(&t).map(|c| c.hs) else {
            return;
        };
        let id = self.cfg.id;
        if let HandshakeMsg::DropConn {
            sender,
            code,
            description,
        } = &msg
        {
            let redundant = *code == ec::REDUNDANT_CONNECTION && self.peer_busy(*sender, t);
            let Some(c) = self.conns.get_mut(&t) else {
                return;
            };
            if redundant {
                // The other connection to this peer wins; this request is served.
                if let Some(r) = c.request.take() {
                    self.requests.remove(&r);
                }
                c.silent = true;
                c.kill = Some("redundant connection".into());
            } else {
                c.kill = Some(format!(
                    "the peer dropped the connection: {description} (error code {code})"
                ));
            }
            return;
        }
        let Some(c) = self.conns.get_mut(&t) else {
            return;
        };
        match (hs, msg) {
            (
                Hs::AwaitHelloOrVersionSelect | Hs::AwaitHello | Hs::AwaitVersionSelect,
                HandshakeMsg::Probe,
            ) => {}
            (
                Hs::AwaitHelloOrVersionSelect | Hs::AwaitHello,
                HandshakeMsg::Hello { sender, .. },
            ) => {
                if sender == id {
                    return self.reject(
                        t,
                        ec::INVALID_PEERING_REQUEST,
                        "the peer has our own endpoint id".into(),
                        now,
                    );
                }
                if id < sender {
                    if self.peer_busy(sender, t) {
                        self.redundant(t, ec::REDUNDANT_CONNECTION, now);
                        return;
                    }
                    let f = self.advertised_filter(None);
                    let c = self.conns.get_mut(&t).expect("checked above");
                    c.peer_id = sender;
                    c.info.id = Some(sender);
                    c.send_hs(&HandshakeMsg::VersionSelect {
                        sender: id,
                        version: wire::PROTOCOL_VERSION,
                    });
                    c.send_hs(&HandshakeMsg::OriginatorSyn(f.clone()));
                    c.advertised = Some(f);
                    c.hs = Hs::AwaitResponderSynAck;
                } else {
                    c.send_hs(&HandshakeMsg::hello(id));
                    c.hs = Hs::AwaitVersionSelect;
                }
            }
            (
                Hs::AwaitHelloOrVersionSelect | Hs::AwaitVersionSelect,
                HandshakeMsg::VersionSelect { sender, .. },
            ) => {
                if sender == id {
                    return self.reject(
                        t,
                        ec::INVALID_PEERING_REQUEST,
                        "the peer has our own endpoint id".into(),
                        now,
                    );
                }
                if self.peer_busy(sender, t) {
                    self.redundant(t, ec::LOGIC_ERROR, now);
                    return;
                }
                let c = self.conns.get_mut(&t).expect("checked above");
                c.peer_id = sender;
                c.info.id = Some(sender);
                c.hs = Hs::AwaitOriginatorSyn;
            }
            (Hs::AwaitOriginatorSyn, HandshakeMsg::OriginatorSyn(f)) => {
                c.filter = normalize(f);
                let adv = self.advertised_filter(None);
                let c = self.conns.get_mut(&t).expect("checked above");
                c.send_hs(&HandshakeMsg::ResponderSynAck(adv.clone()));
                c.advertised = Some(adv);
                c.hs = Hs::AwaitOriginatorAck;
            }
            (Hs::AwaitResponderSynAck, HandshakeMsg::ResponderSynAck(f)) => {
                c.filter = normalize(f);
                c.send_hs(&HandshakeMsg::OriginatorAck);
                self.on_peered(t);
            }
            (Hs::AwaitOriginatorAck, HandshakeMsg::OriginatorAck) => self.on_peered(t),
            (state, m) => {
                let what = format!("unexpected {} during the handshake ({state:?})", m.name());
                self.reject(t, ec::UNEXPECTED_HANDSHAKE_MESSAGE, what, now);
            }
        }
    }

    fn redundant(&mut self, t: ConnId, code: u8, now: Instant) {
        let id = self.cfg.id;
        let Some(c) = self.conns.get_mut(&t) else {
            return;
        };
        c.send_hs(&HandshakeMsg::DropConn {
            sender: id,
            code,
            description: "redundant connection".into(),
        });
        c.silent = true;
        c.closing = Some("redundant connection".into());
        c.deadline = Some(now + Duration::from_secs(1));
    }

    fn on_peered(&mut self, t: ConnId) {
        let Some(c) = self.conns.get_mut(&t) else {
            return;
        };
        c.hs = Hs::Peered;
        c.deadline = None;
        let info = c.info.clone();
        self.events.push_back(Event::Peered {
            info: info.clone(),
            stats: c.stats.clone(),
        });
        self.deliveries.push(Message::status(
            MessageKind::EndpointDiscovered,
            info.clone(),
            "found a new peer in the network",
        ));
        self.deliveries.push(Message::status(
            MessageKind::PeerAdded,
            info,
            "handshake successful",
        ));
        self.update_snapshot();
        self.recompute_advertisements();
    }

    /// An envelope from the peered connection `t`, whose peer is `last_hop`.
    fn handle_envelope(&mut self, t: ConnId, last_hop: EndpointId, payload: &[u8]) {
        if let Some(c) = self.conns.get(&t) {
            c.stats.add_in(payload.len());
        }
        // A header that does not decode: the stream cannot be trusted any more.
        let env = match EnvelopeRef::decode_header(payload) {
            Ok(e) => e,
            Err(e) => {
                if let Some(c) = self.conns.get_mut(&t) {
                    c.kill = Some(format!("malformed envelope: {}", e.message));
                }
                return;
            }
        };
        // A payload that does not decode: this message is dropped, counted and reported;
        // the peering stays up (as with Broker).
        let checked = env.check_payload().and_then(|()| {
            if self.cfg.validate_data {
                env.validate_data()
            } else {
                Ok(())
            }
        });
        if let Err(e) = checked {
            self.undecodable(t, &env, &e.message);
            return;
        }
        self.counters.processed(env.kind);
        let id = self.cfg.id;
        match env.kind {
            // Shutting down: the host takes no new messages (as Broker ignores them).
            EnvelopeType::Data | EnvelopeType::Command if self.shutdown.is_some() => {}
            EnvelopeType::Data | EnvelopeType::Command => self.route_incoming(t, last_hop, &env),
            EnvelopeType::RoutingUpdate => {
                if env.receiver.is_nil() || env.receiver == id {
                    if let (Some(c), Ok(f)) = (self.conns.get_mut(&t), env.routing_filter()) {
                        c.filter = normalize(f);
                        if self.cfg.forwarding {
                            self.recompute_advertisements();
                        }
                        self.update_snapshot();
                    }
                }
            }
            EnvelopeType::Ping => {
                if let Some(c) = self.conns.get_mut(&t) {
                    // The peer leaves (its unpeer or shutdown). As Broker, this is a
                    // lost peer, and a peering we initiated keeps retrying.
                    if env.payload.len() == BYE_TOKEN_LEN && env.payload.starts_with(b"BYE") {
                        c.remote_bye = true;
                    }
                }
                self.control(t, env.sender, EnvelopeType::Pong, env.payload);
            }
            EnvelopeType::Pong => {
                if let Some(c) = self.conns.get_mut(&t) {
                    if c.bye_token.as_ref().map(|b| &b[..]) == Some(env.payload) {
                        c.kill = Some(String::new());
                    }
                }
            }
        }
    }

    /// Drops an envelope whose payload does not decode: counted, and reported to the host
    /// as `DeserializationFailed` naming the peer, the topic and the reason.
    fn undecodable(&mut self, t: ConnId, env: &EnvelopeRef<'_>, reason: &str) {
        let Some(c) = self.conns.get(&t) else {
            return;
        };
        let (info, id) = (c.info.clone(), c.peer_id);
        self.report_undecodable(info, id, env.kind, env.topic, reason);
    }

    /// A service found a delivered message undecodable: reported as if the core had.
    pub(crate) fn undecodable_message(&mut self, m: &Message, reason: &str) {
        let kind = if m.kind == MessageKind::Event {
            EnvelopeType::Data
        } else {
            EnvelopeType::Command
        };
        let from = m.sender.unwrap_or(EndpointId::NIL);
        let peer = self
            .conns
            .values()
            .find(|c| c.peer_id == from)
            .map(|c| c.info.clone())
            .unwrap_or(PeerInfo {
                id: m.sender,
                address: String::new(),
                port: 0,
            });
        self.report_undecodable(peer, from, kind, &m.topic, reason);
    }

    fn report_undecodable(
        &mut self,
        info: PeerInfo,
        sender: EndpointId,
        kind: EnvelopeType,
        topic: &str,
        reason: &str,
    ) {
        self.counters.undecodable.fetch_add(1, Ordering::Relaxed);
        let kind = match kind {
            EnvelopeType::Data => "data",
            EnvelopeType::Command => "command",
            EnvelopeType::RoutingUpdate => "routing update",
            EnvelopeType::Ping => "ping",
            EnvelopeType::Pong => "pong",
        };
        let text = format!(
            "dropped an undecodable {kind} message from {}:{} on topic '{topic}': {reason}",
            info.address, info.port
        );
        let mut m = Message::status(MessageKind::DeserializationFailed, info, text);
        m.topic = topic.to_string();
        m.sender = Some(sender);
        self.deliveries.push(m);
    }

    fn route_incoming(&mut self, from: ConnId, last_hop: EndpointId, env: &EnvelopeRef<'_>) {
        let id = self.cfg.id;
        let counters = &self.counters;
        counters.received.fetch_add(1, Ordering::Relaxed);
        let last_hop = Some(last_hop);
        if env.kind == EnvelopeType::Data && env.receiver.is_nil() {
            for (_, f, tap) in &self.taps {
                if !tap.local_only() && filter_matches(f, env.topic) {
                    tap.offer(env.topic, env.payload, 0);
                }
            }
        }
        // A message addressed to us is for us whatever we subscribed to (store traffic
        // to a master or clone); a broadcast one only if a subscription matches.
        if env.receiver == id
            || (env.receiver.is_nil() && filter_matches(&self.sub_filter, env.topic))
        {
            let kind = if env.kind == EnvelopeType::Data {
                MessageKind::Event
            } else {
                MessageKind::Command
            };
            if self.raw_deliveries {
                self.deliveries
                    .push_raw(kind, env.topic, env.payload, last_hop);
            } else {
                self.deliveries.push(Message {
                    kind,
                    topic: env.topic.to_string(),
                    payload: env.payload.to_vec(),
                    sender: last_hop,
                    peer: None,
                    text: String::new(),
                    node: None,
                });
            }
        }
        if !self.cfg.forwarding || env.receiver == id || self.conns.len() < 2 {
            return;
        }
        let targets: Vec<ConnId> = self
            .conns
            .iter()
            .filter(|(t, c)| {
                **t != from
                    && c.hs == Hs::Peered
                    && c.alive()
                    && (if env.receiver.is_nil() {
                        filter_matches(&c.filter, env.topic)
                    } else {
                        c.peer_id == env.receiver
                    })
            })
            .map(|(t, _)| *t)
            .collect();
        if targets.is_empty() {
            return;
        }
        if env.ttl <= 1 {
            self.counters.ttl_dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let mut frame = std::mem::take(&mut self.scratch);
        frame.clear();
        if encode_frame(
            &mut frame,
            id,
            env.receiver,
            env.kind,
            env.ttl - 1,
            env.topic,
            env.payload,
        )
        .is_ok()
        {
            for t in targets {
                self.counters.forwarded.fetch_add(1, Ordering::Relaxed);
                self.enqueue(t, &frame, true);
            }
        }
        self.scratch = frame;
    }

    /// Offers a data message to every tap whose filter matches, except its origin's.
    fn offer_taps(&self, topic: &str, payload: &[u8], origin: u64) {
        for (id, f, tap) in &self.taps {
            if *id != origin && filter_matches(f, topic) {
                tap.offer(topic, payload, origin);
            }
        }
    }

    // -- timers, closing ----------------------------------------------------------

    /// Runs what is due at `now`: peering retries, handshake and goodbye timeouts.
    /// `transport_handshaking` says whether a connection's transport (TLS) is still in
    /// its own handshake, for the timeout's reason.
    pub(crate) fn handle_timeout(
        &mut self,
        now: Instant,
        transport_handshaking: impl Fn(ConnId) -> bool,
    ) {
        self.targets_for = None;
        let due: Vec<u64> = self
            .requests
            .iter()
            .filter(|(_, r)| matches!(r.state, ReqState::Waiting(at) if at <= now))
            .map(|(id, _)| *id)
            .collect();
        if self.shutdown.is_none() {
            for id in due {
                self.start_connect(id);
            }
        }
        for (t, c) in self.conns.iter_mut() {
            if c.kill.is_some() {
                continue;
            }
            match c.deadline {
                Some(d) if d <= now => {}
                _ => continue,
            }
            c.kill = Some(if c.closing.is_some() {
                c.closing.clone().unwrap_or_default()
            } else if c.bye_token.is_some() {
                c.removed = Some("timeout during graceful disconnect".into());
                "timeout during graceful disconnect".into()
            } else if c.hs == Hs::Connecting {
                "connect timed out".into()
            } else if transport_handshaking(*t) {
                "TLS handshake timed out".into()
            } else {
                "handshake timed out".into()
            });
        }
    }

    /// Closes the connections that ended this turn: statuses for the host, retries for
    /// the peerings we initiated, `Event::Closed` for the driver.
    pub(crate) fn reap(&mut self, now: Instant) {
        let mut dead: Vec<ConnId> = self
            .conns
            .iter()
            .filter(|(_, c)| c.kill.is_some())
            .map(|(t, _)| *t)
            .collect();
        if dead.is_empty() {
            return;
        }
        self.targets_for = None;
        dead.sort_unstable();
        let mut peers_changed = false;
        for t in dead {
            let Some(mut c) = self.conns.remove(&t) else {
                continue;
            };
            self.events.push_back(Event::Closed {
                conn: t,
                stats: c.stats.clone(),
            });
            let reason = c.kill.take().unwrap_or_default();
            if c.hs == Hs::Peered {
                peers_changed = true;
                // Only we remove a peering (unpeer, overflow, shutdown): a goodbye from
                // the peer is a lost peer, as in Broker.
                let removed = c.removed.is_some();
                let why = match &c.removed {
                    Some(r) if !r.is_empty() => r.clone(),
                    Some(_) => reason,
                    None if c.remote_bye => "the peer said goodbye".to_string(),
                    None => reason,
                };
                let (kind, mut text) = if removed {
                    (
                        MessageKind::PeerRemoved,
                        "removed connection to remote peer".to_string(),
                    )
                } else {
                    (
                        MessageKind::PeerLost,
                        "lost connection to remote peer".to_string(),
                    )
                };
                if !why.is_empty() {
                    text = format!("{text} ({why})");
                }
                self.deliveries
                    .push(Message::status(kind, c.info.clone(), text));
                self.deliveries.push(Message::status(
                    MessageKind::EndpointUnreachable,
                    c.info.clone(),
                    "lost the last path",
                ));
                if let Some(r) = c.request {
                    if removed {
                        self.requests.remove(&r);
                    } else if let Some(req) = self.requests.get_mut(&r) {
                        // Reconnect at once, then every retry interval (Broker's behaviour
                        // for peerings it initiated).
                        req.state = ReqState::Waiting(now);
                        if req.retry.is_zero() {
                            self.requests.remove(&r);
                        }
                    }
                }
            } else if c.silent {
                if let Some(r) = c.request {
                    self.requests.remove(&r);
                }
            } else if let Some(r) = c.request {
                self.connect_failed(r, &reason, now);
            } else {
                self.deliveries.push(Message::status(
                    MessageKind::PeerRejected,
                    c.info.clone(),
                    format!(
                        "rejected connection {} {}:{} ({reason})",
                        if c.outgoing { "to" } else { "from" },
                        c.info.address,
                        c.info.port
                    ),
                ));
            }
        }
        if peers_changed {
            self.update_snapshot();
            self.recompute_advertisements();
        }
    }
}
