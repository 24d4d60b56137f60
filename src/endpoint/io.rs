//! The I/O thread: a driver for the protocol core (`proto`). It owns the sockets (through
//! the `stream` seam), the waker, the timer and the host's command queue; it moves bytes
//! between the sockets and the core and carries out what the core asks (open, write,
//! close). Broker's rules (handshake, routing, filters, TTL, goodbye, overflow) are the
//! core's, not this file's.

use super::proto::{ConnId, ConnState, Core, Event, IdMap};
use super::service::{Services, StoresStage};
use super::stream::{BrokerTransports, ByteStream, Transports};
use super::{Command, Hook, HookCtx, Payload, Shared};
use crate::{Error, ErrorKind, Result};
use mio::net::TcpListener;
use mio::{Events, Interest, Poll, Token};
use std::collections::VecDeque;
use std::io::ErrorKind as IoKind;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

pub(crate) const WAKER: Token = Token(0);

const READ_CHUNK: usize = 64 * 1024;
/// Bytes read from one connection per turn, so one busy peer cannot starve the others.
const READ_BUDGET: usize = 1 << 20;

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
                s2.fail();
            }
        })
        .map_err(|e| {
            Error::new(
                ErrorKind::Io,
                format!("spawning the endpoint's I/O thread: {e}"),
            )
        })
}

/// A connection's socket side; its protocol side is the core's.
struct Sock {
    stream: Box<dyn ByteStream>,
    /// The TCP connect has not completed.
    connecting: bool,
    rbuf: Vec<u8>,
    rstart: usize,
    rend: usize,
    readable: bool,
    /// An event said the peer closed its side or the connection failed.
    hup: bool,
    /// The socket became writable (or a transport handshake wants a retry).
    writable: bool,
}

impl Sock {
    fn new(stream: Box<dyn ByteStream>, connecting: bool) -> Sock {
        Sock {
            stream,
            connecting,
            rbuf: Vec::new(),
            rstart: 0,
            rend: 0,
            readable: !connecting,
            hup: false,
            writable: false,
        }
    }
}

struct Io {
    shared: Arc<Shared>,
    poll: Poll,
    core: Core,
    transports: Box<dyn Transports>,
    listeners: IdMap<TcpListener>,
    socks: IdMap<Sock>,
    next_token: usize,
    pending: VecDeque<Command>,
    /// Bytes of the `Payload::Shared` publishes in `pending`; those before
    /// `pending_used` belong to publishes already routed. Offsets are absolute (counted
    /// since the endpoint started, as the queue's `bytes_base`): `pending_bytes[0]` is at
    /// `pending_base`, and the queue's bytes continue right after ours.
    pending_bytes: Vec<u8>,
    pending_base: usize,
    pending_used: usize,
    more_work: bool,
    /// The services on this endpoint, in order: the endpoint's own stores once attached
    /// (`Endpoint::attach_master` / `attach_clone`), then the hook it was made with.
    services: Services,
    stores_attached: bool,
}

fn io_reason(e: &std::io::Error) -> String {
    e.to_string()
}

impl Io {
    fn new(shared: Arc<Shared>, poll: Poll, hook: Option<Box<dyn Hook>>) -> Io {
        let cfg = super::proto::Config::new(shared.id, &shared.opts);
        let core = Core::new(cfg, shared.counters.clone(), hook.is_none());
        let transports = Box::new(BrokerTransports(shared.tls.clone()));
        Io {
            shared,
            poll,
            core,
            transports,
            listeners: IdMap::default(),
            socks: IdMap::default(),
            next_token: 1,
            pending: VecDeque::new(),
            pending_bytes: Vec::new(),
            pending_base: 0,
            pending_used: 0,
            more_work: false,
            services: Services::new(hook.into_iter().collect()),
            stores_attached: false,
        }
    }

    fn token(&mut self) -> usize {
        self.next_token += 1;
        self.next_token
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
            let mut connected = Vec::new();
            for ev in events.iter() {
                let t = ev.token();
                if t == WAKER {
                    woke = true;
                } else if self.listeners.contains_key(&t.0) {
                    self.accept(t.0);
                } else if let Some(s) = self.socks.get_mut(&t.0) {
                    if s.connecting {
                        connected.push(t.0);
                    } else {
                        if ev.is_readable() || ev.is_read_closed() || ev.is_error() {
                            s.readable = true;
                        }
                        if ev.is_read_closed() || ev.is_error() {
                            s.hup = true;
                        }
                        if ev.is_writable() || s.stream.write_needs_readable() {
                            s.writable = true;
                        }
                    }
                }
            }
            for t in connected {
                self.check_connect(t);
            }
            if woke || !self.pending.is_empty() {
                self.take_commands();
            }
            self.process_pending();
            let readable: Vec<ConnId> = self
                .socks
                .iter()
                .filter(|(_, s)| s.readable)
                .map(|(t, _)| *t)
                .collect();
            for t in readable {
                self.read_conn(t);
            }
            let socks = &self.socks;
            self.core.handle_timeout(Instant::now(), |t| {
                socks.get(&t).is_some_and(|s| s.stream.handshaking())
            });
            self.drive_events();
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
            self.core.reap(Instant::now());
            self.drive_events();
            if self.front_ready()
                || self.socks.iter().any(|(t, s)| {
                    s.readable && !s.connecting && self.core.conn_state(*t) != ConnState::Dead
                }) && self.can_read()
            {
                self.more_work = true;
            }
            self.run_hook();
            self.shared.inbox.push_batch(&mut self.core.deliveries);
            if let Some(deadline) = self.core.shutdown_deadline() {
                if (self.core.flushed() && self.pending.is_empty()) || Instant::now() >= deadline {
                    break;
                }
            }
        }
        self.shared.peers.lock().clear();
        self.shared.refuse_commands();
    }

    /// Carries out what the core asked for: connects, closes, the peer snapshots.
    fn drive_events(&mut self) {
        while let Some(ev) = self.core.poll_event() {
            match ev {
                Event::Connect { request, addr } => self.start_connect(request, addr),
                Event::Peered { info, stats } => self.shared.peer_table.add(info, stats),
                Event::Closed { conn, stats } => {
                    self.shared.peer_table.remove(&stats);
                    if let Some(mut s) = self.socks.remove(&conn) {
                        let _ = self.poll.registry().deregister(&mut s.stream);
                    }
                }
                Event::PeersChanged { peers, subs } => {
                    *self.shared.peers.lock() = peers;
                    *self.shared.peer_subs.lock() = subs;
                }
            }
        }
    }

    /// Passes this turn's deliveries through the hook; its publishes and subscriptions
    /// run next turn (at once: `more_work`).
    fn run_hook(&mut self) {
        if !self.stores_attached && self.shared.stores_attached.load(Ordering::Acquire) {
            self.stores_attached = true;
            if let Some(s) = self.shared.stores.lock().clone() {
                // From now on every message is built here, so the stores can see it.
                self.services.push_front(Box::new(StoresStage::new(s)));
                self.core.set_raw_deliveries(false);
            }
        }
        if self.services.is_empty() {
            return;
        }
        let mut ctx = HookCtx::new(self.shared.id);
        for m in self.core.deliveries.take_messages() {
            self.services.on_message(m, &mut ctx);
        }
        self.services.on_tick(Instant::now(), &mut ctx);
        for m in ctx.deliver {
            self.core.deliveries.push(m);
        }
        for (m, reason) in ctx.undecodable {
            self.core.undecodable_message(&m, &reason);
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
        let mut next: Option<Instant> = self.core.poll_timeout();
        if let Some(d) = self.services.next_deadline() {
            next = Some(next.map_or(d, |n| n.min(d)));
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

    /// Whether the first pending command can run now.
    fn front_ready(&self) -> bool {
        match self.pending.front() {
            None => false,
            Some(Command::Publish {
                topic, receiver, ..
            }) => !self.core.blocked(topic, *receiver),
            Some(_) => true,
        }
    }

    fn process_pending(&mut self) {
        let mut published = 0usize;
        // Peers may have changed since the last call (reads, handshakes, closes).
        self.core.invalidate_targets();
        while let Some(cmd) = self.pending.front() {
            if let Command::Publish {
                topic, receiver, ..
            } = cmd
            {
                if !self.core.publish_ready(topic, *receiver) {
                    break;
                }
            } else {
                self.core.invalidate_targets();
            }
            let Some(cmd) = self.pending.pop_front() else {
                break;
            };
            if let Command::Publish {
                kind,
                topic,
                payload,
                receiver,
                counted,
                origin,
            } = cmd
            {
                // The hot path: no clock read, no events (a publish opens or closes
                // nothing; an overflow's close is reaped at the end of the turn).
                published += usize::from(counted);
                match payload {
                    Payload::Owned(p) => self.core.publish(kind, &topic, &p, receiver, origin),
                    Payload::Shared { start, len } => {
                        let at = start.wrapping_sub(self.pending_base);
                        let p = self
                            .pending_bytes
                            .get(at..at.saturating_add(len))
                            .unwrap_or_default();
                        self.core.publish(kind, &topic, p, receiver, origin);
                        self.pending_used = start + len;
                    }
                }
                continue;
            }
            let now = Instant::now();
            match cmd {
                // Routed above.
                Command::Publish { .. } => {}
                Command::Listen(l) => {
                    let t = self.token();
                    let mut l = TcpListener::from_std(l);
                    if self
                        .poll
                        .registry()
                        .register(&mut l, Token(t), Interest::READABLE)
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
                } => self.core.peer(addr, host, port, retry, now),
                Command::Unpeer { host, port, addrs } => self.core.unpeer(&host, port, &addrs, now),
                Command::Subscribe(p) => self.core.subscribe(p),
                Command::Unsubscribe(p) => self.core.unsubscribe(&p),
                Command::Tap {
                    id,
                    filter,
                    tap,
                    generation,
                } => {
                    self.core.set_tap(id, filter, tap.clone());
                    if let Some(tap) = tap {
                        tap.updated(generation);
                    }
                }
                Command::Deliver(m) => self.core.deliver(m),
                Command::Shutdown => {
                    for (_, mut l) in self.listeners.drain() {
                        let _ = self.poll.registry().deregister(&mut l);
                    }
                    self.core.shutdown(now);
                }
            }
            self.drive_events();
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

    // -- connections ----------------------------------------------------------------

    fn start_connect(&mut self, request: u64, addr: std::net::SocketAddr) {
        let now = Instant::now();
        match self.transports.connect(addr) {
            Ok(mut s) => {
                let t = self.token();
                if let Err(e) = self.poll.registry().register(
                    &mut s,
                    Token(t),
                    Interest::READABLE | Interest::WRITABLE,
                ) {
                    self.core.connect_failed(request, &io_reason(&e), now);
                    return;
                }
                self.socks.insert(t, Sock::new(s, true));
                self.core.connecting(request, t, now);
            }
            Err(e) => self.core.connect_failed(request, &io_reason(&e), now),
        }
    }

    fn check_connect(&mut self, t: ConnId) {
        let Some(s) = self.socks.get_mut(&t) else {
            return;
        };
        match s.stream.connect_status() {
            Ok(true) => {
                s.stream.set_nodelay();
                s.connecting = false;
                s.readable = true;
                self.core.connected(t);
            }
            Ok(false) => {}
            Err(e) => self.core.close(t, io_reason(&e)),
        }
    }

    fn accept(&mut self, lt: ConnId) {
        loop {
            let Some(l) = self.listeners.get(&lt) else {
                return;
            };
            match l.accept() {
                Ok((s, addr)) => {
                    if self.core.is_shutting_down() {
                        continue;
                    }
                    let Ok(mut s) = self.transports.accept(s) else {
                        continue;
                    };
                    let t = self.token();
                    if self
                        .poll
                        .registry()
                        .register(&mut s, Token(t), Interest::READABLE | Interest::WRITABLE)
                        .is_err()
                    {
                        continue;
                    }
                    s.set_nodelay();
                    self.socks.insert(t, Sock::new(s, false));
                    self.core.accepted(t, addr, Instant::now());
                }
                Err(e) if e.kind() == IoKind::WouldBlock => return,
                Err(e) if e.kind() == IoKind::Interrupted => continue,
                // Out of descriptors and the like: try again on the next event.
                Err(_) => return,
            }
        }
    }

    // -- reading --------------------------------------------------------------------

    fn can_read(&self) -> bool {
        if self.core.is_shutting_down() {
            return true;
        }
        self.core.can_read() && self.shared.inbox.has_room(self.core.deliveries.len())
    }

    fn read_conn(&mut self, t: ConnId) {
        let mut budget = READ_BUDGET;
        loop {
            let peered = match self.core.conn_state(t) {
                ConnState::Dead | ConnState::Connecting => return,
                st => st == ConnState::Peered,
            };
            match self.socks.get(&t) {
                Some(s) if s.readable => {}
                _ => return,
            }
            if peered && !self.can_read() {
                return;
            }
            if budget == 0 {
                self.more_work = true;
                return;
            }
            let Some(s) = self.socks.get_mut(&t) else {
                return;
            };
            if s.rend == s.rbuf.len() {
                if s.rstart > 0 {
                    s.rbuf.copy_within(s.rstart..s.rend, 0);
                    s.rend -= s.rstart;
                    s.rstart = 0;
                } else {
                    let n = (s.rbuf.len() * 2).max(READ_CHUNK);
                    s.rbuf.resize(n, 0);
                }
            }
            let space = s.rbuf.len() - s.rend;
            match s.stream.read(&mut s.rbuf[s.rend..]) {
                Ok(0) => {
                    s.readable = false;
                    let why = if s.rend > s.rstart {
                        "connection closed in the middle of a frame".into()
                    } else {
                        "connection closed by the peer".into()
                    };
                    self.core.close(t, why);
                    return;
                }
                Ok(n) => {
                    s.rend += n;
                    budget = budget.saturating_sub(n);
                    // A short read took everything the socket held: data arriving later
                    // raises a new (edge) event, so the read that would only say
                    // WouldBlock is skipped. Not once the peer closed or failed, whose
                    // event is behind us: then read on until end of stream.
                    if n < space && !s.hup && !s.stream.buffered() {
                        s.readable = false;
                    }
                }
                Err(e) if e.kind() == IoKind::WouldBlock => {
                    s.readable = false;
                    return;
                }
                Err(e) if e.kind() == IoKind::Interrupted => continue,
                Err(e) => {
                    s.readable = false;
                    // A peer that closes with our data unread resets the connection
                    // instead of closing it: a partial frame is still the story.
                    let why = if s.rend > s.rstart {
                        format!(
                            "connection closed in the middle of a frame ({})",
                            io_reason(&e)
                        )
                    } else {
                        io_reason(&e)
                    };
                    self.core.close(t, why);
                    return;
                }
            }
            let used = self
                .core
                .receive(t, &s.rbuf[s.rstart..s.rend], Instant::now());
            s.rstart += used;
            if s.rstart == s.rend {
                s.rstart = 0;
                s.rend = 0;
            }
            self.drive_events();
        }
    }

    // -- writing --------------------------------------------------------------------

    fn flush_all(&mut self) {
        for (&t, s) in self.socks.iter_mut() {
            if s.connecting || !self.core.want_write(t, s.writable) {
                continue;
            }
            s.writable = false;
            loop {
                let buf = self.core.transmit(t);
                if buf.is_empty() {
                    break;
                }
                match s.stream.write(buf) {
                    Ok(0) => {
                        self.core
                            .close(t, "the connection does not take more data".into());
                        break;
                    }
                    Ok(n) => self.core.wrote(t, n),
                    Err(e) if e.kind() == IoKind::WouldBlock => break,
                    Err(e) if e.kind() == IoKind::Interrupted => continue,
                    Err(e) => {
                        self.core.close(t, io_reason(&e));
                        break;
                    }
                }
            }
            if s.stream.take_read_hint() {
                s.readable = true;
            }
            self.core.write_done(t, s.stream.in_flight());
        }
    }
}
