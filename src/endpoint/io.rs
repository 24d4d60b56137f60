//! The I/O thread: every socket, the handshake state machine, routing, write batching.

use super::inbox::Deliveries;
use super::tap::{PeerCounters, Tap};
use super::transport::Transport;
use super::{
    Command, Hook, HookCtx, Message, MessageKind, OverflowPolicy, Payload, PeerInfo, Shared,
};
use crate::wire::envelope::{encode_frame, EnvelopeRef};
use crate::wire::filter::{filter_matches, normalize};
use crate::wire::handshake::{ec, HandshakeMsg};
use crate::wire::{
    self, EndpointId, EnvelopeType, Filter, DEFAULT_TTL, INTERNAL_TOPIC, MAX_HANDSHAKE_FRAME,
};
use crate::{Error, ErrorKind, Result};
use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token};
use std::collections::{BTreeSet, HashMap, VecDeque};
use std::io::ErrorKind as IoKind;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

pub(crate) const WAKER: Token = Token(0);

/// Tokens are small unique integers: hashing them with SipHash on every frame showed up in
/// profiles, so the maps keyed by them use the integer itself.
#[derive(Default, Clone, Copy)]
struct TokenHasher(u64);

impl std::hash::Hasher for TokenHasher {
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

type TokenMap<V> = HashMap<Token, V, std::hash::BuildHasherDefault<TokenHasher>>;
const READ_CHUNK: usize = 64 * 1024;
/// Bytes read from one connection per turn, so one busy peer cannot starve the others.
const READ_BUDGET: usize = 1 << 20;
/// Written bytes kept at the front of a write buffer before compacting it.
const COMPACT_AT: usize = 1 << 20;
const BYE_TOKEN_LEN: usize = 11;

pub(crate) fn spawn(
    shared: Arc<Shared>,
    poll: Poll,
    hook: Option<Box<dyn Hook>>,
) -> Result<JoinHandle<()>> {
    let name = format!("zc-ep-{}", &shared.id.to_string()[..8]);
    std::thread::Builder::new()
        .name(name)
        .stack_size(super::IO_THREAD_STACK)
        .spawn(move || {
            let s2 = shared.clone();
            let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
                Io::new(shared, poll, hook).run()
            }));
            if r.is_err() {
                // A bug: make the endpoint fail visibly (Closed) instead of hanging callers.
                let mut q = s2.cmds.lock();
                q.closed = true;
                q.publishes = 0;
                q.q.clear();
                q.bytes.clear();
                drop(q);
                s2.cmd_room.notify_all();
                s2.inbox.close();
            }
        })
        .map_err(|e| {
            Error::new(
                ErrorKind::Io,
                format!("spawning the endpoint's I/O thread: {e}"),
            )
        })
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
    stream: Transport,
    remote: SocketAddr,
    hs: Hs,
    outgoing: bool,
    request: Option<u64>,
    info: PeerInfo,
    peer_id: EndpointId,
    rbuf: Vec<u8>,
    rstart: usize,
    rend: usize,
    readable: bool,
    /// An event said the peer closed its side or the connection failed.
    hup: bool,
    wbuf: Vec<u8>,
    wpos: usize,
    /// Stream offset of `wbuf[0]`.
    base: u64,
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
    fn new(stream: Transport, remote: SocketAddr, hs: Hs, outgoing: bool, info: PeerInfo) -> Conn {
        Conn {
            stream,
            remote,
            hs,
            outgoing,
            request: None,
            info,
            peer_id: EndpointId::NIL,
            rbuf: Vec::new(),
            rstart: 0,
            rend: 0,
            readable: false,
            hup: false,
            wbuf: Vec::new(),
            wpos: 0,
            base: 0,
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
    Active(Token),
}

struct Request {
    host: String,
    port: u16,
    addr: SocketAddr,
    retry: Duration,
    state: ReqState,
}

struct Io {
    shared: Arc<Shared>,
    poll: Poll,
    listeners: TokenMap<TcpListener>,
    conns: TokenMap<Conn>,
    next_token: usize,
    requests: HashMap<u64, Request>,
    next_request: u64,
    subs: BTreeSet<String>,
    sub_filter: Filter,
    pending: VecDeque<Command>,
    /// Bytes of the `Payload::Shared` publishes in `pending`; those before
    /// `pending_used` belong to publishes already routed. Offsets are absolute (counted
    /// since the endpoint started, as the queue's `bytes_base`): `pending_bytes[0]` is at
    /// `pending_base`, and the queue's bytes continue right after ours.
    pending_bytes: Vec<u8>,
    pending_base: usize,
    pending_used: usize,
    deliveries: Deliveries,
    /// Data for the host goes into chunks (see `inbox::Deliveries`) unless a hook wants
    /// every message built on this thread.
    raw_deliveries: bool,
    scratch: Vec<u8>,
    targets: Vec<Token>,
    /// The publish (topic, receiver) `targets` was computed for, while still valid.
    targets_for: Option<(Arc<str>, EndpointId)>,
    bye_counter: u64,
    shutdown: Option<Instant>,
    more_work: bool,
    hook: Option<Box<dyn Hook>>,
    /// Taps (see `tap`): id, filter, sink.
    taps: Vec<(u64, Filter, Arc<dyn Tap>)>,
    /// The endpoint's own stores (`Endpoint::attach_master` / `attach_clone`), run before
    /// the hook once attached.
    stores: Option<Arc<crate::store::StoreService>>,
}

fn io_reason(e: &std::io::Error) -> String {
    e.to_string()
}

impl Io {
    fn new(shared: Arc<Shared>, poll: Poll, hook: Option<Box<dyn Hook>>) -> Io {
        Io {
            shared,
            poll,
            listeners: TokenMap::default(),
            conns: TokenMap::default(),
            next_token: 1,
            requests: HashMap::new(),
            next_request: 1,
            subs: BTreeSet::new(),
            sub_filter: Vec::new(),
            pending: VecDeque::new(),
            pending_bytes: Vec::new(),
            pending_base: 0,
            pending_used: 0,
            deliveries: Deliveries::default(),
            raw_deliveries: hook.is_none(),
            scratch: Vec::new(),
            targets: Vec::new(),
            targets_for: None,
            bye_counter: 0,
            shutdown: None,
            more_work: false,
            hook,
            taps: Vec::new(),
            stores: None,
        }
    }

    fn token(&mut self) -> Token {
        self.next_token += 1;
        Token(self.next_token)
    }

    fn run(mut self) {
        let mut events = Events::with_capacity(1024);
        loop {
            let timeout = self.timeout();
            if let Err(e) = self.poll.poll(&mut events, timeout) {
                if e.kind() != IoKind::Interrupted {
                    break;
                }
            }
            self.more_work = false;
            let mut woke = false;
            for ev in events.iter() {
                let t = ev.token();
                if t == WAKER {
                    woke = true;
                } else if self.listeners.contains_key(&t) {
                    self.accept(t);
                } else if let Some(c) = self.conns.get_mut(&t) {
                    if c.hs == Hs::Connecting {
                        self.check_connect(t);
                    } else {
                        if ev.is_readable() || ev.is_read_closed() || ev.is_error() {
                            c.readable = true;
                        }
                        if ev.is_read_closed() || ev.is_error() {
                            c.hup = true;
                        }
                        if ev.is_writable() || c.stream.write_needs_readable() {
                            c.dirty = true;
                        }
                    }
                }
            }
            if woke || !self.pending.is_empty() {
                self.take_commands();
            }
            self.process_pending();
            let readable: Vec<Token> = self
                .conns
                .iter()
                .filter(|(_, c)| c.readable)
                .map(|(t, _)| *t)
                .collect();
            for t in readable {
                self.read_conn(t);
            }
            self.timers();
            self.flush_all();
            // Writing may have made room in full peer queues: route what waited for it
            // in this same turn instead of sleeping until the next event.
            for _ in 0..4 {
                if !self.front_ready() {
                    break;
                }
                self.process_pending();
                self.flush_all();
            }
            self.reap();
            if self.front_ready()
                || self
                    .conns
                    .values()
                    .any(|c| c.readable && c.alive() && c.hs != Hs::Connecting)
                    && self.can_read()
            {
                self.more_work = true;
            }
            self.run_hook();
            self.shared.inbox.push_batch(&mut self.deliveries);
            if let Some(deadline) = self.shutdown {
                let flushed = self
                    .conns
                    .values()
                    .all(|c| c.wpos == c.wbuf.len() && c.bye_token.is_none());
                if (flushed && self.pending.is_empty()) || Instant::now() >= deadline {
                    break;
                }
            }
        }
        self.shared.peers.lock().clear();
        let mut q = self.shared.cmds.lock();
        q.closed = true;
        q.publishes = 0;
        q.q.clear();
        q.bytes = Vec::new();
        drop(q);
        self.shared.cmd_room.notify_all();
    }

    /// Passes this turn's deliveries through the hook; its publishes and subscriptions
    /// run next turn (at once: `more_work`).
    fn run_hook(&mut self) {
        if self.stores.is_none() && self.shared.stores_attached.load(Ordering::Acquire) {
            // From now on every message is built here, so the stores can see it.
            self.stores = self.shared.stores.lock().clone();
            self.raw_deliveries = false;
        }
        if self.hook.is_none() && self.stores.is_none() {
            return;
        }
        let mut ctx = HookCtx::new(self.shared.id);
        for m in self.deliveries.take_messages() {
            if let Some(s) = &self.stores {
                if s.on_message(&m, &mut ctx) {
                    continue;
                }
            }
            match self.hook.as_mut() {
                Some(h) => h.on_message(m, &mut ctx),
                None => ctx.deliver(m),
            }
        }
        let now = Instant::now();
        if let Some(s) = &self.stores {
            s.on_tick(now, &mut ctx);
        }
        if let Some(h) = self.hook.as_mut() {
            h.on_tick(now, &mut ctx);
        }
        for m in ctx.deliver {
            self.deliveries.push(m);
        }
        for (m, reason) in ctx.undecodable {
            let kind = if m.kind == MessageKind::Data {
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
            self.report_undecodable(peer, from, kind, &m.topic, &reason);
        }
        if !ctx.commands.is_empty() {
            self.pending.extend(ctx.commands);
            self.more_work = true;
        }
    }

    fn timeout(&self) -> Option<Duration> {
        if self.more_work {
            return Some(Duration::ZERO);
        }
        let now = Instant::now();
        let mut next: Option<Instant> = self.shutdown;
        if let Some(d) = self.hook.as_ref().and_then(|h| h.next_deadline()) {
            next = Some(next.map_or(d, |n| n.min(d)));
        }
        if let Some(d) = self.stores.as_ref().and_then(|s| s.next_deadline()) {
            next = Some(next.map_or(d, |n| n.min(d)));
        }
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
        next.map(|n| n.saturating_duration_since(now))
    }

    // -- commands -------------------------------------------------------------------

    fn take_commands(&mut self) {
        let mut q = self.shared.cmds.lock();
        q.wake_pending = false;
        if self.pending.is_empty() {
            // Swapped, not moved element by element; the queue keeps our old buffers.
            self.pending_bytes.clear();
            std::mem::swap(&mut self.pending, &mut q.q);
            std::mem::swap(&mut self.pending_bytes, &mut q.bytes);
            self.pending_base = q.bytes_base;
            self.pending_used = q.bytes_base;
        } else {
            self.pending_bytes.extend_from_slice(&q.bytes);
            q.bytes.clear();
            self.pending.append(&mut q.q);
        }
        q.bytes_base = self.pending_base + self.pending_bytes.len();
    }

    /// Whether a publish to `topic` must wait because a target peer's queue is full.
    /// A tap this publish would be offered to is full (see `Tap::full`).
    fn tap_full(&self, topic: &str, receiver: EndpointId) -> bool {
        receiver.is_nil()
            && self
                .taps
                .iter()
                .any(|(_, f, tap)| tap.full() && filter_matches(f, topic))
    }

    fn blocked(&self, topic: &str, receiver: EndpointId) -> bool {
        if self.tap_full(topic, receiver) {
            return true;
        }
        let cap = self.shared.opts.peer_buffer_size;
        self.shared.opts.peer_policy == OverflowPolicy::Backpressure
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

    /// Whether the first pending command can run now.
    fn front_ready(&self) -> bool {
        match self.pending.front() {
            None => false,
            Some(Command::Publish {
                topic, receiver, ..
            }) => !self.blocked(topic, *receiver),
            Some(_) => true,
        }
    }

    fn process_pending(&mut self) {
        let mut published = 0usize;
        // Peers may have changed since the last call (reads, handshakes, closes).
        self.targets_for = None;
        let cap = self.shared.opts.peer_buffer_size;
        let backpressure = self.shared.opts.peer_policy == OverflowPolicy::Backpressure;
        while let Some(cmd) = self.pending.front() {
            if let Command::Publish {
                topic, receiver, ..
            } = cmd
            {
                // Runs of publishes on one topic (the queue shares its Arc) reuse the
                // target list: the peers cannot change between them.
                let same = matches!(&self.targets_for,
                    Some((t, r)) if Arc::ptr_eq(t, topic) && r == receiver);
                if !same {
                    let (topic, receiver) = (topic.clone(), *receiver);
                    self.compute_targets(&topic, receiver);
                    self.targets_for = Some((topic, receiver));
                }
                if backpressure
                    && self
                        .targets
                        .iter()
                        .any(|t| self.conns.get(t).is_some_and(|c| c.frames.len() >= cap))
                {
                    break;
                }
                if let Some((t, r)) = &self.targets_for {
                    if self.tap_full(t, *r) {
                        break;
                    }
                }
            } else {
                self.targets_for = None;
            }
            let Some(cmd) = self.pending.pop_front() else {
                break;
            };
            match cmd {
                Command::Publish {
                    kind,
                    topic,
                    payload,
                    receiver,
                    counted,
                    origin,
                } => {
                    published += usize::from(counted);
                    match payload {
                        Payload::Owned(p) => self.publish(kind, &topic, &p, receiver, origin),
                        Payload::Shared { start, len } => {
                            let bytes = std::mem::take(&mut self.pending_bytes);
                            let at = start.wrapping_sub(self.pending_base);
                            let p = bytes.get(at..at.saturating_add(len)).unwrap_or_default();
                            self.publish(kind, &topic, p, receiver, origin);
                            self.pending_bytes = bytes;
                            self.pending_used = start + len;
                        }
                    }
                }
                Command::Listen(l) => {
                    let t = self.token();
                    let mut l = TcpListener::from_std(l);
                    if self
                        .poll
                        .registry()
                        .register(&mut l, t, Interest::READABLE)
                        .is_ok()
                    {
                        self.listeners.insert(t, l);
                        self.accept(t);
                    }
                }
                Command::Peer {
                    addr,
                    host,
                    port,
                    retry,
                } => {
                    let id = self.next_request;
                    self.next_request += 1;
                    self.requests.insert(
                        id,
                        Request {
                            host,
                            port,
                            addr,
                            retry,
                            state: ReqState::Waiting(Instant::now()),
                        },
                    );
                    self.start_connect(id);
                }
                Command::Unpeer { host, port, addrs } => self.unpeer(&host, port, &addrs),
                Command::Subscribe(p) => {
                    self.subs.insert(p);
                    self.subs_changed();
                }
                Command::Unsubscribe(p) => {
                    self.subs.remove(&p);
                    self.subs_changed();
                }
                Command::Tap {
                    id,
                    filter,
                    tap,
                    generation,
                } => {
                    self.taps.retain(|(i, _, _)| *i != id);
                    if let Some(tap) = tap {
                        self.taps.push((id, filter, tap.clone()));
                        self.recompute_advertisements();
                        tap.updated(generation);
                    } else {
                        self.recompute_advertisements();
                    }
                }
                Command::Deliver(m) => self.deliveries.push(m),
                Command::Shutdown => {
                    self.shutdown = Some(Instant::now() + self.shared.opts.shutdown_timeout);
                    for (_, mut l) in self.listeners.drain() {
                        let _ = self.poll.registry().deregister(&mut l);
                    }
                    // Broker's shutdown: every peer gets the goodbye, and we wait for the
                    // pongs (within the shutdown timeout) before closing.
                    let peered: Vec<Token> = self
                        .conns
                        .iter()
                        .filter(|(_, c)| c.hs == Hs::Peered)
                        .map(|(t, _)| *t)
                        .collect();
                    for t in peered {
                        self.say_goodbye(t, "shutting down".into());
                    }
                }
            }
        }
        self.compact_pending_bytes();
        if published > 0 {
            let mut q = self.shared.cmds.lock();
            q.publishes = q.publishes.saturating_sub(published);
            drop(q);
            self.shared.cmd_room.notify_all();
        }
    }

    /// Drops the bytes of routed publishes once they are the larger part (publishes can
    /// stay pending for long under backpressure while more arrive behind them).
    fn compact_pending_bytes(&mut self) {
        let used = self.pending_used - self.pending_base;
        if self.pending.is_empty() {
            self.pending_base += self.pending_bytes.len();
            self.pending_used = self.pending_base;
            self.pending_bytes.clear();
            return;
        }
        if used < (1 << 20) || used < self.pending_bytes.len() - used {
            return;
        }
        self.pending_bytes.drain(..used);
        self.pending_base = self.pending_used;
    }

    fn subs_changed(&mut self) {
        self.sub_filter = normalize(self.subs.iter().cloned().collect());
        self.recompute_advertisements();
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

    /// Routes a publish to `self.targets` (computed by `compute_targets` for it).
    fn publish(
        &mut self,
        kind: EnvelopeType,
        topic: &str,
        payload: &[u8],
        receiver: EndpointId,
        origin: u64,
    ) {
        self.shared
            .counters
            .published
            .fetch_add(1, Ordering::Relaxed);
        self.shared.counters.processed(kind);
        if kind == EnvelopeType::Data && receiver.is_nil() {
            self.offer_taps(topic, payload, origin);
            // A tap's publish (a WebSocket client's event) reaches this node's host too,
            // as Zeek raises a WebSocket client's events on the node that hosts it.
            if origin != 0 && filter_matches(&self.sub_filter, topic) {
                self.deliveries.push(Message {
                    kind: MessageKind::Data,
                    topic: topic.to_string(),
                    payload: payload.to_vec(),
                    sender: None,
                    peer: None,
                    text: String::new(),
                    node: None,
                });
            }
        }
        let targets = std::mem::take(&mut self.targets);
        let (id, ttl) = (self.shared.id, self.shared.opts.ttl);
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
        if self.shared.opts.peer_policy == OverflowPolicy::Disconnect {
            // An overflow may have just closed a target.
            self.targets_for = None;
        }
    }

    /// Queues one envelope frame for a peer, applying its overflow policy to droppable ones.
    fn enqueue(&mut self, t: Token, frame: &[u8], droppable: bool) {
        self.enqueue_with(t, droppable, |w| {
            w.extend_from_slice(frame);
            true
        });
    }

    /// `enqueue` with the frame written by `write` straight into the peer's buffer (it
    /// returns false, having written nothing, if the frame cannot be encoded).
    fn enqueue_with(
        &mut self,
        t: Token,
        droppable: bool,
        write: impl FnOnce(&mut Vec<u8>) -> bool,
    ) {
        let cap = self.shared.opts.peer_buffer_size;
        let policy = self.shared.opts.peer_policy;
        let counters = &self.shared.counters;
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
                    let written = c.base + (c.wpos + c.stream.in_flight()) as u64;
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

    fn control(&mut self, t: Token, receiver: EndpointId, kind: EnvelopeType, payload: &[u8]) {
        let mut buf = Vec::with_capacity(64 + payload.len());
        if encode_frame(
            &mut buf,
            self.shared.id,
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

    // -- peering --------------------------------------------------------------------

    fn start_connect(&mut self, id: u64) {
        let Some(r) = self.requests.get(&id) else {
            return;
        };
        let (addr, host, port) = (r.addr, r.host.clone(), r.port);
        let tls = self.shared.tls.as_ref();
        match TcpStream::connect(addr).and_then(|s| Transport::new(s, tls, false)) {
            Ok(mut s) => {
                let t = self.token();
                if let Err(e) = self.poll.registry().register(
                    &mut s,
                    t,
                    Interest::READABLE | Interest::WRITABLE,
                ) {
                    self.connect_failed(id, &io_reason(&e));
                    return;
                }
                let mut c = Conn::new(
                    s,
                    addr,
                    Hs::Connecting,
                    true,
                    PeerInfo {
                        id: None,
                        address: host,
                        port,
                    },
                );
                c.request = Some(id);
                c.deadline = Some(Instant::now() + self.shared.opts.handshake_timeout);
                self.conns.insert(t, c);
                if let Some(r) = self.requests.get_mut(&id) {
                    r.state = ReqState::Active(t);
                }
            }
            Err(e) => self.connect_failed(id, &io_reason(&e)),
        }
    }

    /// A connect attempt or handshake of a peering we initiated failed: report, then retry
    /// after the interval or give up.
    fn connect_failed(&mut self, id: u64, reason: &str) {
        let Some(r) = self.requests.get_mut(&id) else {
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
            self.requests.remove(&id);
        } else {
            r.state = ReqState::Waiting(Instant::now() + r.retry);
        }
    }

    fn check_connect(&mut self, t: Token) {
        let Some(c) = self.conns.get_mut(&t) else {
            return;
        };
        match c.stream.tcp().take_error() {
            Ok(Some(e)) | Err(e) => {
                c.kill = Some(io_reason(&e));
                return;
            }
            Ok(None) => {}
        }
        match c.stream.tcp().peer_addr() {
            Ok(_) => {
                let _ = c.stream.tcp().set_nodelay(true);
                c.hs = Hs::AwaitHelloOrVersionSelect;
                c.readable = true;
                c.send_hs(&HandshakeMsg::hello(self.shared.id));
            }
            Err(e) if e.kind() == IoKind::NotConnected => {}
            Err(e) => c.kill = Some(io_reason(&e)),
        }
    }

    fn accept(&mut self, lt: Token) {
        loop {
            let Some(l) = self.listeners.get(&lt) else {
                return;
            };
            match l.accept() {
                Ok((s, addr)) => {
                    if self.shutdown.is_some() {
                        continue;
                    }
                    let Ok(mut s) = Transport::new(s, self.shared.tls.as_ref(), true) else {
                        continue;
                    };
                    let t = self.token();
                    if self
                        .poll
                        .registry()
                        .register(&mut s, t, Interest::READABLE | Interest::WRITABLE)
                        .is_err()
                    {
                        continue;
                    }
                    let _ = s.tcp().set_nodelay(true);
                    let info = PeerInfo {
                        id: None,
                        address: addr.ip().to_string(),
                        port: addr.port(),
                    };
                    let mut c = Conn::new(s, addr, Hs::AwaitHello, false, info);
                    c.deadline = Some(Instant::now() + self.shared.opts.handshake_timeout);
                    c.readable = true;
                    c.send_hs(&HandshakeMsg::Probe);
                    self.conns.insert(t, c);
                }
                Err(e) if e.kind() == IoKind::WouldBlock => return,
                Err(e) if e.kind() == IoKind::Interrupted => continue,
                // Out of descriptors and the like: try again on the next event.
                Err(_) => return,
            }
        }
    }

    fn unpeer(&mut self, host: &str, port: u16, addrs: &[SocketAddr]) {
        let mut targets: Vec<Token> = Vec::new();
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
                self.say_goodbye(t, String::new());
            } else {
                c.silent = true;
                c.kill = Some("unpeered during the handshake".into());
            }
        }
    }

    /// Ends a peering as Broker does: a BYE ping, then the close once the pong arrives
    /// (or after `unpeer_timeout`). Reported as removed, with `why` if not empty.
    fn say_goodbye(&mut self, t: Token, why: String) {
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
        c.deadline = Some(Instant::now() + self.shared.opts.unpeer_timeout);
        let peer = c.peer_id;
        self.control(t, peer, EnvelopeType::Ping, &token);
    }

    fn peer_busy(&self, id: EndpointId, except: Token) -> bool {
        self.conns
            .iter()
            .any(|(t, c)| *t != except && c.alive() && c.peer_id == id)
    }

    fn advertised_filter(&self, except: Option<Token>) -> Filter {
        let mut f = self.sub_filter.clone();
        for (_, tf, tap) in &self.taps {
            if !tap.local_only() {
                f.extend(tf.iter().cloned());
            }
        }
        if self.shared.opts.forwarding {
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
        let peered: Vec<Token> = self
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

    fn update_snapshot(&self) {
        let mut peers: Vec<PeerInfo> = self
            .conns
            .values()
            .filter(|c| c.hs == Hs::Peered && c.alive())
            .map(|c| c.info.clone())
            .collect();
        peers.sort_by(|a, b| (a.address.as_str(), a.port).cmp(&(b.address.as_str(), b.port)));
        *self.shared.peers.lock() = peers;
        let subs: Filter = normalize(
            self.conns
                .values()
                .filter(|c| c.hs == Hs::Peered && c.alive())
                .flat_map(|c| c.filter.iter().cloned())
                .collect(),
        );
        *self.shared.peer_subs.lock() = subs;
    }

    // -- reading --------------------------------------------------------------------

    fn can_read(&self) -> bool {
        if self.shutdown.is_some() {
            // Only the goodbye pongs matter now; data is ignored (`handle_envelope`).
            return true;
        }
        if self.shared.opts.forwarding
            && self.shared.opts.peer_policy == OverflowPolicy::Backpressure
        {
            let cap = self.shared.opts.peer_buffer_size;
            if self
                .conns
                .values()
                .any(|c| c.hs == Hs::Peered && c.alive() && c.frames.len() >= cap)
            {
                return false;
            }
        }
        self.shared.inbox.has_room(self.deliveries.len())
    }

    fn read_conn(&mut self, t: Token) {
        let mut budget = READ_BUDGET;
        loop {
            let peered = match self.conns.get(&t) {
                Some(c) if c.readable && c.alive() => c.hs == Hs::Peered,
                _ => return,
            };
            if peered && !self.can_read() {
                return;
            }
            if budget == 0 {
                self.more_work = true;
                return;
            }
            let Some(c) = self.conns.get_mut(&t) else {
                return;
            };
            if c.rend == c.rbuf.len() {
                if c.rstart > 0 {
                    c.rbuf.copy_within(c.rstart..c.rend, 0);
                    c.rend -= c.rstart;
                    c.rstart = 0;
                } else {
                    let n = (c.rbuf.len() * 2).max(READ_CHUNK);
                    c.rbuf.resize(n, 0);
                }
            }
            let space = c.rbuf.len() - c.rend;
            match c.stream.read(&mut c.rbuf[c.rend..]) {
                Ok(0) => {
                    c.readable = false;
                    c.kill = Some(if c.rend > c.rstart {
                        "connection closed in the middle of a frame".into()
                    } else {
                        "connection closed by the peer".into()
                    });
                    return;
                }
                Ok(n) => {
                    c.rend += n;
                    budget = budget.saturating_sub(n);
                    // A short read took everything the socket held: data arriving later
                    // raises a new (edge) event, so the read that would only say
                    // WouldBlock is skipped. Not once the peer closed or failed, whose
                    // event is behind us: then read on until end of stream.
                    if n < space && !c.hup && !c.stream.buffered() {
                        c.readable = false;
                    }
                }
                Err(e) if e.kind() == IoKind::WouldBlock => {
                    c.readable = false;
                    return;
                }
                Err(e) if e.kind() == IoKind::Interrupted => continue,
                Err(e) => {
                    c.readable = false;
                    // A peer that closes with our data unread resets the connection
                    // instead of closing it: a partial frame is still the story.
                    c.kill = Some(if c.rend > c.rstart {
                        format!(
                            "connection closed in the middle of a frame ({})",
                            io_reason(&e)
                        )
                    } else {
                        io_reason(&e)
                    });
                    return;
                }
            }
            self.parse_frames(t);
        }
    }

    fn parse_frames(&mut self, t: Token) {
        let Some(c) = self.conns.get_mut(&t) else {
            return;
        };
        let buf = std::mem::take(&mut c.rbuf);
        let (mut start, end) = (c.rstart, c.rend);
        let max_frame = self.shared.opts.max_frame;
        loop {
            // One lookup of the connection per frame, passed on to the handlers.
            let (limit, peer) = match self.conns.get(&t) {
                Some(c) if !c.alive() => break,
                Some(c) if c.hs == Hs::Peered => (max_frame, Some(c.peer_id)),
                Some(_) => (MAX_HANDSHAKE_FRAME, None),
                None => break,
            };
            if peer.is_none() && end - start >= 2 {
                if let Some(why) = self.tls_instead(t, &buf[start..end]) {
                    if let Some(c) = self.conns.get_mut(&t) {
                        c.kill = Some(why.into());
                    }
                    break;
                }
            }
            match wire::next_frame(&buf[start..end], limit) {
                Ok(None) => break,
                Ok(Some((s, e))) => {
                    if let Some(c) = self.conns.get_mut(&t) {
                        c.first_frame = false;
                    }
                    let payload = &buf[start + s..start + e];
                    start += e;
                    match peer {
                        // Broker ignores empty frames after the handshake.
                        Some(_) if payload.is_empty() => {}
                        Some(id) => self.handle_envelope(t, id, payload),
                        None => self.handle_handshake(t, payload),
                    }
                }
                Err(e) => {
                    if let Some(c) = self.conns.get_mut(&t) {
                        c.kill = Some(e.message);
                    }
                    break;
                }
            }
        }
        if let Some(c) = self.conns.get_mut(&t) {
            c.rbuf = buf;
            if start == end {
                c.rstart = 0;
                c.rend = 0;
            } else {
                c.rstart = start;
                c.rend = end;
            }
        }
    }

    /// A TLS record where the stream's first frame should be: a handshake record (0x16,
    /// version 3.x) from a peer that dialled us with TLS, or an alert (0x15) from a TLS
    /// server we dialled. As a frame length either reads as megabytes ("oversized
    /// frame"); saying what it is helps whoever configures the two sides.
    fn tls_instead(&self, t: Token, bytes: &[u8]) -> Option<&'static str> {
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
    fn reject(&mut self, t: Token, code: u8, description: String) {
        let id = self.shared.id;
        let Some(c) = self.conns.get_mut(&t) else {
            return;
        };
        c.send_hs(&HandshakeMsg::DropConn {
            sender: id,
            code,
            description: description.clone(),
        });
        c.closing = Some(format!("{description} (error code {code})"));
        c.deadline = Some(Instant::now() + Duration::from_secs(1));
    }

    fn handle_handshake(&mut self, t: Token, payload: &[u8]) {
        let msg = match HandshakeMsg::decode(payload) {
            Ok(m) => m,
            Err(r) => return self.reject(t, r.code, r.description),
        };
        let Some(hs) = self.conns.get(&t).map(|c| c.hs) else {
            return;
        };
        let id = self.shared.id;
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
                    );
                }
                if id < sender {
                    if self.peer_busy(sender, t) {
                        self.redundant(t, ec::REDUNDANT_CONNECTION);
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
                    );
                }
                if self.peer_busy(sender, t) {
                    self.redundant(t, ec::LOGIC_ERROR);
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
                self.reject(t, ec::UNEXPECTED_HANDSHAKE_MESSAGE, what);
            }
        }
    }

    fn redundant(&mut self, t: Token, code: u8) {
        let id = self.shared.id;
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
        c.deadline = Some(Instant::now() + Duration::from_secs(1));
    }

    fn on_peered(&mut self, t: Token) {
        let Some(c) = self.conns.get_mut(&t) else {
            return;
        };
        c.hs = Hs::Peered;
        c.deadline = None;
        let info = c.info.clone();
        self.shared.peer_table.add(info.clone(), c.stats.clone());
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
    fn handle_envelope(&mut self, t: Token, last_hop: EndpointId, payload: &[u8]) {
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
            if self.shared.opts.validate_data {
                env.validate_data()
            } else {
                Ok(())
            }
        });
        if let Err(e) = checked {
            self.undecodable(t, &env, &e.message);
            return;
        }
        self.shared.counters.processed(env.kind);
        let id = self.shared.id;
        match env.kind {
            // Shutting down: the host takes no new messages (as Broker ignores them).
            EnvelopeType::Data | EnvelopeType::Command if self.shutdown.is_some() => {}
            EnvelopeType::Data | EnvelopeType::Command => self.route_incoming(t, last_hop, &env),
            EnvelopeType::RoutingUpdate => {
                if env.receiver.is_nil() || env.receiver == id {
                    if let (Some(c), Ok(f)) = (self.conns.get_mut(&t), env.routing_filter()) {
                        c.filter = normalize(f);
                        if self.shared.opts.forwarding {
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
    fn undecodable(&mut self, t: Token, env: &EnvelopeRef<'_>, reason: &str) {
        let Some(c) = self.conns.get(&t) else {
            return;
        };
        let (info, id) = (c.info.clone(), c.peer_id);
        self.report_undecodable(info, id, env.kind, env.topic, reason);
    }

    fn report_undecodable(
        &mut self,
        info: PeerInfo,
        sender: EndpointId,
        kind: EnvelopeType,
        topic: &str,
        reason: &str,
    ) {
        self.shared
            .counters
            .undecodable
            .fetch_add(1, Ordering::Relaxed);
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

    fn route_incoming(&mut self, from: Token, last_hop: EndpointId, env: &EnvelopeRef<'_>) {
        let id = self.shared.id;
        let counters = &self.shared.counters;
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
                MessageKind::Data
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
        if !self.shared.opts.forwarding || env.receiver == id || self.conns.len() < 2 {
            return;
        }
        let targets: Vec<Token> = self
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
            counters.ttl_dropped.fetch_add(1, Ordering::Relaxed);
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
                self.shared
                    .counters
                    .forwarded
                    .fetch_add(1, Ordering::Relaxed);
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

    // -- timers, writing, closing ---------------------------------------------------

    fn timers(&mut self) {
        let now = Instant::now();
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
        for c in self.conns.values_mut() {
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
            } else if c.stream.tls_handshaking() {
                "TLS handshake timed out".into()
            } else {
                "handshake timed out".into()
            });
        }
    }

    fn flush_all(&mut self) {
        for c in self.conns.values_mut() {
            if !c.dirty || c.hs == Hs::Connecting || c.kill.is_some() {
                continue;
            }
            c.dirty = false;
            while c.wpos < c.wbuf.len() {
                match c.stream.write(&c.wbuf[c.wpos..]) {
                    Ok(0) => {
                        c.kill = Some("the connection does not take more data".into());
                        break;
                    }
                    Ok(n) => c.wpos += n,
                    Err(e) if e.kind() == IoKind::WouldBlock => break,
                    Err(e) if e.kind() == IoKind::Interrupted => continue,
                    Err(e) => {
                        c.kill = Some(io_reason(&e));
                        break;
                    }
                }
            }
            if c.stream.take_read_hint() {
                c.readable = true;
            }
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
                // Only once the written part is at least as large as what remains, so
                // each byte moves at most about once (compacting a large backlog after
                // every write costed more than the writes).
                c.wbuf.drain(..c.wpos);
                c.base += c.wpos as u64;
                c.wpos = 0;
            }
        }
    }

    fn reap(&mut self) {
        let dead: Vec<Token> = self
            .conns
            .iter()
            .filter(|(_, c)| c.kill.is_some())
            .map(|(t, _)| *t)
            .collect();
        if dead.is_empty() {
            return;
        }
        let mut peers_changed = false;
        for t in dead {
            let Some(mut c) = self.conns.remove(&t) else {
                continue;
            };
            let _ = self.poll.registry().deregister(&mut c.stream);
            self.shared.peer_table.remove(&c.stats);
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
                        req.state = ReqState::Waiting(Instant::now());
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
                self.connect_failed(r, &reason);
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
