//! Stores over a real endpoint: `StoreService` owns the masters and clones attached to one
//! endpoint and drives them from its I/O thread (as part of the endpoint's `Hook`);
//! `Store` is the host-side handle.
//!
//! Threads and wake-ups: every master and clone sits behind its own mutex, shared by the
//! host-side `Store` and the service. The I/O thread feeds received command envelopes to
//! them, ticks them every `TICK_INTERVAL_NS`, and is the only one that publishes their
//! outgoing commands, so commands leave in the order a master or clone produced them. A
//! host call that produces commands (a put on a clone, a put on a master with clones)
//! leaves them in the object and wakes the I/O thread (`HookWaker`, coalesced: one wake-up
//! per burst), whose next turn publishes them.
//!
//! Durability: a SQLite master's writes (local or from clones) are applied to its
//! in-memory copy at once and committed by the store's storage thread, in groups
//! (`super::storage`): no host call and no I/O turn waits for the disk. What a write sends
//! to clones (the update, the channel ack to a writing clone) leaves only once the write
//! is committed. `Store::flush` waits until every earlier write of the store is
//! committed (SQLite master), acknowledged by the master (clone), or returns at once
//! (memory master). Reads on a master see its writes at once (read-your-writes).

use super::backend::Backend;
use super::clone::{CloneConfig, LostMutation, StoreClone};
use super::command::{EntityId, InternalCommand};
use super::master::{ChannelConfig, Master};
use super::storage::Durability;
use super::{clone_topic, master_topic, BackendKind, Outgoing, TICK_INTERVAL_NS};
use crate::data::Value;
use crate::endpoint::{HookCtx, HookWaker, Message, MessageKind};
use crate::error::{Error, ErrorKind, Result};
use crate::wire::EndpointId;
use parking_lot::{Condvar, Mutex};
use std::collections::{BTreeSet, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

/// Problems kept per store for `Store::take_problems` (older ones are dropped).
const PROBLEM_LIMIT: usize = 1000;

/// How long a clone's `put_unique` waits for the master's answer by default.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// Nanoseconds since the Unix epoch.
pub fn now_ns() -> i64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_nanos() as i64)
        .unwrap_or(0)
}

// One per store, in an Arc: the size difference between the variants does not matter.
#[allow(clippy::large_enum_variant)]
enum Role {
    Master(Mutex<Option<Master>>),
    Clone(Mutex<Option<StoreClone>>),
}

struct Entry {
    name: String,
    role: Role,
    backend: BackendKind,
    /// Signalled whenever the I/O thread fed the object (clones wait on it).
    changed: Condvar,
    problems: Mutex<VecDeque<Error>>,
    lost: Mutex<Vec<LostMutation>>,
    /// A SQLite master's storage worker.
    durability: Option<Arc<Durability>>,
}

impl Entry {
    fn note_problems(&self, errs: Vec<Error>) {
        if errs.is_empty() {
            return;
        }
        let mut p = self.problems.lock();
        for e in errs {
            if p.len() >= PROBLEM_LIMIT {
                p.pop_front();
            }
            p.push_back(e);
        }
    }

    /// Moves everything the object produced out of it: commands into `out`, events
    /// dropped (nothing consumes them yet), problems and lost mutations into the entry.
    fn drain(&self, out: &mut Vec<Outgoing>) {
        match &self.role {
            Role::Master(m) => {
                let mut g = m.lock();
                if let Some(m) = g.as_mut() {
                    out.extend(m.take_outgoing());
                    m.take_events();
                    let errs = m.take_remote_errors();
                    drop(g);
                    self.note_problems(errs);
                    if let Some(d) = &self.durability {
                        self.note_problems(d.take_errors());
                    }
                }
            }
            Role::Clone(c) => {
                let mut g = c.lock();
                if let Some(c) = g.as_mut() {
                    out.extend(c.take_outgoing());
                    c.take_events();
                    let errs = c.take_problems();
                    let lost = c.take_lost();
                    drop(g);
                    self.note_problems(errs);
                    if !lost.is_empty() {
                        self.lost.lock().extend(lost);
                    }
                }
            }
        }
    }
}

struct Registry {
    entries: Vec<Arc<Entry>>,
    next_object: u64,
    /// Topics to subscribe on the next I/O turn.
    pending_subs: Vec<String>,
}

/// The stores attached to one endpoint. Shared (`Arc`) between the endpoint's hook and
/// the host; see the module documentation.
pub struct StoreService {
    endpoint: [u8; 16],
    /// Consume store traffic for stores not attached here (a cluster's service owns every
    /// store topic); off for an endpoint's own service, which leaves such traffic to the
    /// endpoint's hook or the host.
    consume_unknown: bool,
    reg: Mutex<Registry>,
    waker: Mutex<Option<HookWaker>>,
    wake_pending: AtomicBool,
    closed: AtomicBool,
    next_tick: Mutex<Option<Instant>>,
}

impl std::fmt::Debug for StoreService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreService")
            .field("stores", &self.reg.lock().entries.len())
            .finish()
    }
}

impl StoreService {
    /// A service for the endpoint with id `endpoint` (its stores' entity ids use it).
    pub fn new(endpoint: EndpointId) -> Arc<StoreService> {
        Self::build(endpoint, true)
    }

    /// The service behind `Endpoint::attach_master` / `attach_clone`.
    pub(crate) fn for_endpoint(endpoint: EndpointId) -> Arc<StoreService> {
        Self::build(endpoint, false)
    }

    fn build(endpoint: EndpointId, consume_unknown: bool) -> Arc<StoreService> {
        Arc::new(StoreService {
            endpoint: endpoint.0,
            consume_unknown,
            reg: Mutex::new(Registry {
                entries: Vec::new(),
                next_object: 1,
                pending_subs: Vec::new(),
            }),
            waker: Mutex::new(None),
            wake_pending: AtomicBool::new(false),
            closed: AtomicBool::new(false),
            next_tick: Mutex::new(None),
        })
    }

    /// Connects the service to its endpoint's I/O thread (call once the endpoint exists).
    pub fn set_waker(&self, waker: HookWaker) {
        *self.waker.lock() = Some(waker);
        self.kick();
    }

    /// A hook for a plain endpoint that runs only this service (`Endpoint::with_hook`).
    pub fn hook(self: &Arc<Self>) -> Box<dyn crate::endpoint::Hook> {
        Box::new(crate::endpoint::service::StoresStage::owning(self.clone()))
    }

    fn kick(&self) {
        if self.wake_pending.swap(true, Ordering::AcqRel) {
            return;
        }
        let waker = self.waker.lock().clone();
        match waker {
            Some(w) => w.wake(),
            None => {
                // No endpoint yet (a cluster not started): nothing can carry the commands,
                // and clones resynchronise once it exists; do not let them pile up.
                let entries = self.reg.lock().entries.clone();
                let mut out = Vec::new();
                for e in &entries {
                    e.drain(&mut out);
                }
                self.wake_pending.store(false, Ordering::Release);
            }
        }
    }

    /// Detaches every store: handles report `Closed` from now on, SQLite files are closed.
    pub fn close(&self) {
        self.closed.store(true, Ordering::Release);
        let entries = std::mem::take(&mut self.reg.lock().entries);
        for e in entries {
            match &e.role {
                Role::Master(m) => *m.lock() = None,
                Role::Clone(c) => *c.lock() = None,
            }
            e.changed.notify_all();
        }
    }

    /// The names of the stores attached here, in attach order.
    pub fn names(&self) -> Vec<String> {
        self.reg
            .lock()
            .entries
            .iter()
            .map(|e| e.name.clone())
            .collect()
    }

    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    /// Entries and updates of every attached store (metrics).
    pub fn stats(&self) -> Vec<crate::metrics::StoreMetrics> {
        let entries = self.reg.lock().entries.clone();
        let now = now_ns();
        entries
            .iter()
            .map(|e| {
                let (role, entries, updates) = match &e.role {
                    Role::Master(m) => match m.lock().as_ref() {
                        Some(m) => ("master", m.size().unwrap_or(0), m.updates()),
                        None => ("master", 0, 0),
                    },
                    Role::Clone(c) => match c.lock().as_ref() {
                        Some(c) => ("clone", c.size(now).unwrap_or(0), c.updates()),
                        None => ("clone", 0, 0),
                    },
                };
                crate::metrics::StoreMetrics {
                    name: e.name.clone(),
                    role,
                    entries,
                    updates,
                }
            })
            .collect()
    }

    fn find(&self, name: &str) -> Option<Arc<Entry>> {
        self.reg
            .lock()
            .entries
            .iter()
            .find(|e| e.name == name)
            .cloned()
    }

    /// Attaches the master of store `name` over `backend`; usable at once. A second
    /// attach of the same name returns the existing master; a name with a clone here is
    /// a `State` error.
    pub fn attach_master(self: &Arc<Self>, name: &str, backend: Box<dyn Backend>) -> Result<Store> {
        if let Some(e) = self.find(name) {
            return match e.role {
                Role::Master(_) => Ok(self.handle(e)),
                Role::Clone(_) => Err(Error::state(format!(
                    "store '{name}': this endpoint already has a clone of it"
                ))),
            };
        }
        let kind = backend.kind();
        let backend = backend.with_storage_worker()?;
        let durability = backend.durability();
        if let Some(d) = &durability {
            // Each commit may release held commands: the I/O thread's next turn sends them.
            let svc = Arc::downgrade(self);
            d.set_notify(Arc::new(move || {
                if let Some(s) = svc.upgrade() {
                    s.kick();
                }
            }));
        }
        self.add_arc(
            name,
            |id| {
                Ok((
                    Role::Master(Mutex::new(Some(Master::new(
                        name,
                        id,
                        backend,
                        ChannelConfig::default(),
                    )?))),
                    kind,
                ))
            },
            master_topic(name),
            durability,
        )
    }

    /// Attaches a clone of store `name`; it asks for its master at once and then every
    /// `config.resync_interval` until one answers.
    pub fn attach_clone(self: &Arc<Self>, name: &str, config: CloneConfig) -> Result<Store> {
        if let Some(e) = self.find(name) {
            return match e.role {
                Role::Clone(_) => Ok(self.handle(e)),
                Role::Master(_) => Err(Error::state(format!(
                    "store '{name}': this endpoint already has its master"
                ))),
            };
        }
        let now = now_ns();
        self.add_arc(
            name,
            |id| {
                Ok((
                    Role::Clone(Mutex::new(Some(StoreClone::new(name, id, config, now)))),
                    BackendKind::Memory,
                ))
            },
            clone_topic(name),
            None,
        )
    }

    fn handle(self: &Arc<Self>, entry: Arc<Entry>) -> Store {
        Store {
            entry,
            service: self.clone(),
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
        }
    }

    fn add_arc(
        self: &Arc<Self>,
        name: &str,
        make: impl FnOnce(EntityId) -> Result<(Role, BackendKind)>,
        topic: String,
        durability: Option<Arc<Durability>>,
    ) -> Result<Store> {
        if self.is_closed() {
            return Err(Error::closed(format!(
                "store '{name}': the endpoint is closed"
            )));
        }
        let mut reg = self.reg.lock();
        let id = EntityId::new(self.endpoint, reg.next_object);
        let (role, backend) = make(id)?;
        reg.next_object += 1;
        let entry = Arc::new(Entry {
            name: name.to_string(),
            role,
            backend,
            changed: Condvar::new(),
            problems: Mutex::new(VecDeque::new()),
            lost: Mutex::new(Vec::new()),
            durability,
        });
        reg.entries.push(entry.clone());
        reg.pending_subs.push(topic);
        drop(reg);
        self.kick();
        Ok(self.handle(entry))
    }

    // -- the I/O-thread side -------------------------------------------------------------

    /// Feeds a command message on a store topic to its master or clone. Returns whether
    /// the message was store traffic (and so consumed); statuses are never consumed.
    pub fn on_message(&self, msg: &Message, ctx: &mut HookCtx) -> bool {
        match msg.kind {
            MessageKind::Command => {}
            MessageKind::PeerLost | MessageKind::PeerRemoved => {
                if let Some(id) = msg.peer.as_ref().and_then(|p| p.id) {
                    self.peer_gone(id);
                    self.flush(ctx);
                }
                return false;
            }
            MessageKind::PeerAdded => {
                self.peer_added();
                self.flush(ctx);
                return false;
            }
            _ => return false,
        }
        let (name, is_master_topic) = if let Some(n) = msg.topic.strip_suffix("/<$>/data/master") {
            (n, true)
        } else if let Some(n) = msg.topic.strip_suffix("/<$>/data/clone") {
            (n, false)
        } else {
            return false;
        };
        let Some(entry) = self.find(name) else {
            return self.consume_unknown; // store traffic for a store we do not have
        };
        // Broker drops a payload that does not decode; so do we, and report it.
        let cmd = match InternalCommand::decode(&msg.payload) {
            Ok(cmd) => cmd,
            Err(e) => {
                ctx.undecodable(msg, &format!("store command: {}", e.message));
                return true;
            }
        };
        let now = now_ns();
        match (&entry.role, is_master_topic) {
            (Role::Master(m), true) => {
                if let Some(m) = m.lock().as_mut() {
                    m.handle_command(cmd, now);
                }
            }
            (Role::Clone(c), false) => {
                if let Some(c) = c.lock().as_mut() {
                    c.handle_command(cmd, now);
                }
            }
            _ => return true,
        }
        entry.changed.notify_all();
        let mut out = Vec::new();
        entry.drain(&mut out);
        publish(out, ctx);
        true
    }

    fn peer_gone(&self, peer: EndpointId) {
        let now = now_ns();
        for e in self.reg.lock().entries.iter() {
            match &e.role {
                Role::Master(m) => {
                    if let Some(m) = m.lock().as_mut() {
                        m.peer_lost(peer.0);
                    }
                }
                Role::Clone(c) => {
                    if let Some(c) = c.lock().as_mut() {
                        if c.master().map(|m| m.endpoint) == Some(peer.0) {
                            c.master_lost(now);
                        }
                    }
                }
            }
            e.changed.notify_all();
        }
    }

    /// A new peering may be the master's node: clones without a master ask again now
    /// rather than at their next resync.
    fn peer_added(&self) {
        for e in self.reg.lock().entries.iter() {
            if let Role::Clone(c) = &e.role {
                if let Some(c) = c.lock().as_mut() {
                    c.resync_now();
                }
            }
        }
    }

    /// Runs on every I/O turn: subscriptions of new stores, ticks every 100 ms, and the
    /// commands host calls left in the objects.
    pub fn on_tick(&self, now: Instant, ctx: &mut HookCtx) {
        self.wake_pending.store(false, Ordering::Release);
        let subs = std::mem::take(&mut self.reg.lock().pending_subs);
        for s in subs {
            ctx.subscribe(&s);
        }
        let tick = {
            let mut nt = self.next_tick.lock();
            match *nt {
                Some(t) if now < t => false,
                _ => {
                    *nt = Some(now + Duration::from_nanos(TICK_INTERVAL_NS as u64));
                    true
                }
            }
        };
        if tick {
            let ns = now_ns();
            for e in self.reg.lock().entries.iter() {
                match &e.role {
                    Role::Master(m) => {
                        if let Some(m) = m.lock().as_mut() {
                            m.tick(ns);
                        }
                    }
                    Role::Clone(c) => {
                        if let Some(c) = c.lock().as_mut() {
                            c.tick(ns);
                        }
                    }
                }
                e.changed.notify_all();
            }
        }
        self.flush(ctx);
    }

    fn flush(&self, ctx: &mut HookCtx) {
        let entries = self.reg.lock().entries.clone();
        let mut out = Vec::new();
        for e in &entries {
            e.drain(&mut out);
        }
        publish(out, ctx);
    }

    /// When the next tick is due (none while no store is attached).
    pub fn next_deadline(&self) -> Option<Instant> {
        if self.reg.lock().entries.is_empty() {
            return None;
        }
        Some(self.next_tick.lock().unwrap_or_else(Instant::now))
    }
}

fn publish(out: Vec<Outgoing>, ctx: &mut HookCtx) {
    for o in out {
        let bytes = match o.command.to_bytes() {
            Ok(b) => b,
            Err(_) => continue, // a value beyond Broker's limits: cannot be sent
        };
        ctx.publish_command(&o.topic, bytes, o.unicast.map(EndpointId));
    }
}

/// A host-side handle to one store (master or clone). Cheap to clone; may be shared
/// between threads. Once its endpoint or cluster is closed every call is `Closed`.
#[derive(Clone)]
pub struct Store {
    entry: Arc<Entry>,
    service: Arc<StoreService>,
    request_timeout: Duration,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("name", &self.entry.name)
            .field("master", &self.is_master())
            .finish()
    }
}

impl PartialEq for Store {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.entry, &other.entry)
    }
}

/// Converts an expiry given as a duration (None: never) into the core's relative ns.
fn exp(expiry: Option<Duration>) -> Option<i64> {
    expiry.map(|d| d.as_nanos().min(i64::MAX as u128) as i64)
}

impl Store {
    pub fn name(&self) -> &str {
        &self.entry.name
    }
    pub fn is_master(&self) -> bool {
        matches!(self.entry.role, Role::Master(_))
    }
    /// The backend: the master's; a clone keeps its copy in memory.
    pub fn backend(&self) -> BackendKind {
        self.entry.backend
    }
    /// How long a clone's `put_unique` waits for the master's answer.
    pub fn set_request_timeout(&mut self, t: Duration) {
        self.request_timeout = t;
    }

    fn closed(&self) -> Error {
        Error::closed(format!(
            "store '{}': its endpoint or cluster is closed",
            self.entry.name
        ))
    }

    fn with_master<T>(&self, f: impl FnOnce(&mut Master, i64) -> Result<T>) -> Option<Result<T>> {
        let Role::Master(m) = &self.entry.role else {
            return None;
        };
        let mut g = m.lock();
        let (r, wake) = match g.as_mut() {
            Some(m) => {
                let r = f(m, now_ns());
                (r, m.has_outgoing())
            }
            None => (Err(self.closed()), true),
        };
        drop(g);
        // A write with nothing to send (no clone attached) needs no I/O turn: a put
        // stream into a lone master must not keep waking the endpoint's I/O thread.
        // Held commands go out on the storage worker's kick after the commit.
        if wake {
            self.service.kick();
        }
        if let Some(d) = &self.entry.durability {
            d.throttle(super::storage::MAX_PENDING_WRITES);
        }
        Some(r)
    }

    fn with_clone<T>(&self, f: impl FnOnce(&mut StoreClone, i64) -> Result<T>) -> Result<T> {
        let Role::Clone(c) = &self.entry.role else {
            return Err(Error::new(ErrorKind::Internal, "store role mismatch"));
        };
        let mut g = c.lock();
        let r = match g.as_mut() {
            Some(c) => f(c, now_ns()),
            None => Err(self.closed()),
        };
        drop(g);
        self.service.kick();
        r
    }

    /// A mutation: on a master applied (and durable) before returning; on a clone
    /// forwarded to the master (or buffered while it has none).
    fn mutate(
        &self,
        on_master: impl FnOnce(&mut Master, i64) -> Result<()>,
        on_clone: impl FnOnce(&mut StoreClone, i64) -> Result<()>,
    ) -> Result<()> {
        match self.with_master(on_master) {
            Some(r) => r,
            None => self.with_clone(on_clone),
        }
    }

    /// A read; on a clone without its first snapshot waits up to `timeout` for it.
    fn read<T>(
        &self,
        timeout: Duration,
        on_master: impl FnOnce(&Master) -> Result<T>,
        on_clone: impl Fn(&StoreClone, i64) -> Result<T>,
    ) -> Result<T> {
        match &self.entry.role {
            Role::Master(m) => {
                let mut g = m.lock();
                let Some(m) = g.as_mut() else {
                    return Err(self.closed());
                };
                // Expiry is exact for reads, whether or not the I/O thread ticked yet.
                m.expire_due(now_ns());
                let r = on_master(m);
                drop(g);
                self.service.kick();
                r
            }
            Role::Clone(c) => {
                let deadline = Instant::now() + timeout;
                let mut g = c.lock();
                loop {
                    let r = match g.as_ref() {
                        Some(c) => on_clone(c, now_ns()),
                        None => return Err(self.closed()),
                    };
                    match r {
                        Err(e) if e.kind == ErrorKind::WouldBlock => {
                            if self.entry.changed.wait_until(&mut g, deadline).timed_out() {
                                return Err(Error::new(
                                    ErrorKind::Timeout,
                                    format!("{} (waited {:?})", e.message, timeout),
                                ));
                            }
                        }
                        other => return other,
                    }
                }
            }
        }
    }

    pub fn put(&self, key: Value, value: Value, expiry: Option<Duration>) -> Result<()> {
        let (k2, v2) = (key.clone(), value.clone());
        self.mutate(
            |m, now| m.put(key, value, exp(expiry), now),
            |c, now| c.put(k2, v2, exp(expiry), now),
        )
    }

    /// Inserts only if the key is absent; returns whether it did. On a clone this asks
    /// the master and waits for its answer (up to the request timeout).
    pub fn put_unique(&self, key: Value, value: Value, expiry: Option<Duration>) -> Result<bool> {
        let (k2, v2) = (key.clone(), value.clone());
        if let Some(r) = self.with_master(|m, now| m.put_unique(key, value, exp(expiry), now)) {
            return r;
        }
        let req = self.with_clone(|c, now| c.put_unique(k2, v2, exp(expiry), now))?;
        let Role::Clone(c) = &self.entry.role else {
            return Err(self.closed());
        };
        let deadline = Instant::now() + self.request_timeout;
        let mut g = c.lock();
        loop {
            match g.as_mut() {
                None => return Err(self.closed()),
                Some(c) => {
                    if let Some(inserted) = c.take_put_unique_result(req) {
                        return Ok(inserted);
                    }
                }
            }
            if self.entry.changed.wait_until(&mut g, deadline).timed_out() {
                return Err(Error::new(
                    ErrorKind::Timeout,
                    format!(
                        "store '{}': no put_unique answer from the master within {:?}",
                        self.entry.name, self.request_timeout
                    ),
                ));
            }
        }
    }

    /// The value of `key` (`NotFound` if absent). A clone waits up to `timeout` for its
    /// first snapshot; a stale clone fails with a `Store` error.
    pub fn get(&self, key: &Value, timeout: Duration) -> Result<Value> {
        self.read(timeout, |m| m.get(key), |c, now| c.get(key, now))
    }
    /// An element inside the value of `key` (Broker's `get_index_from_value`).
    pub fn get_index(&self, key: &Value, index: &Value, timeout: Duration) -> Result<Value> {
        self.read(
            timeout,
            |m| m.get_index(key, index),
            |c, now| c.get_index(key, index, now),
        )
    }
    pub fn exists(&self, key: &Value, timeout: Duration) -> Result<bool> {
        self.read(timeout, |m| m.exists(key), |c, now| c.exists(key, now))
    }
    pub fn keys(&self, timeout: Duration) -> Result<BTreeSet<Value>> {
        self.read(timeout, |m| m.keys(), |c, now| c.keys(now))
    }
    pub fn erase(&self, key: Value) -> Result<()> {
        let k2 = key.clone();
        self.mutate(|m, now| m.erase(key, now), |c, now| c.erase(k2, now))
    }
    pub fn clear(&self) -> Result<()> {
        self.mutate(|m, now| m.clear(now), |c, now| c.clear(now))
    }
    pub fn increment(&self, key: Value, amount: Value, expiry: Option<Duration>) -> Result<()> {
        let (k2, a2) = (key.clone(), amount.clone());
        self.mutate(
            |m, now| m.increment(key, amount, exp(expiry), now).map(drop),
            |c, now| c.increment(k2, a2, exp(expiry), now),
        )
    }
    pub fn decrement(&self, key: Value, amount: Value, expiry: Option<Duration>) -> Result<()> {
        let (k2, a2) = (key.clone(), amount.clone());
        self.mutate(
            |m, now| m.decrement(key, amount, exp(expiry), now).map(drop),
            |c, now| c.decrement(k2, a2, exp(expiry), now),
        )
    }
    pub fn append(&self, key: Value, s: Value, expiry: Option<Duration>) -> Result<()> {
        let (k2, s2) = (key.clone(), s.clone());
        self.mutate(
            |m, now| m.append(key, s, exp(expiry), now).map(drop),
            |c, now| c.append(k2, s2, exp(expiry), now),
        )
    }
    /// Set insert (`value` None) or table insert.
    pub fn insert_into(
        &self,
        key: Value,
        index: Value,
        value: Option<Value>,
        expiry: Option<Duration>,
    ) -> Result<()> {
        let (k2, i2, v2) = (key.clone(), index.clone(), value.clone());
        self.mutate(
            |m, now| m.insert_into(key, index, value, exp(expiry), now).map(drop),
            |c, now| c.insert_into(k2, i2, v2, exp(expiry), now),
        )
    }
    pub fn remove_from(&self, key: Value, index: Value, expiry: Option<Duration>) -> Result<()> {
        let (k2, i2) = (key.clone(), index.clone());
        self.mutate(
            |m, now| m.remove_from(key, index, exp(expiry), now).map(drop),
            |c, now| c.remove_from(k2, i2, exp(expiry), now),
        )
    }
    pub fn push(&self, key: Value, value: Value, expiry: Option<Duration>) -> Result<()> {
        let (k2, v2) = (key.clone(), value.clone());
        self.mutate(
            |m, now| m.push(key, value, exp(expiry), now).map(drop),
            |c, now| c.push(k2, v2, exp(expiry), now),
        )
    }
    pub fn pop(&self, key: Value, expiry: Option<Duration>) -> Result<()> {
        let k2 = key.clone();
        self.mutate(
            |m, now| m.pop(key, exp(expiry), now).map(drop),
            |c, now| c.pop(k2, exp(expiry), now),
        )
    }

    /// Waits until every write made through this store before the call is durable, up to
    /// `timeout` (`Duration::MAX`: no limit). SQLite master: committed by the storage
    /// worker (a kill -9 after this returns loses none of them); memory master: at once;
    /// clone: acknowledged by its master, which for a SQLite master means committed (the
    /// master's channel acks come every heartbeat interval, 500 ms by default; a clone
    /// without a master waits for one, buffered writes included).
    /// Errors: `Timeout`; a failed commit's `Store`/`Io` error; `Closed`.
    pub fn flush(&self, timeout: Duration) -> Result<()> {
        let deadline = Instant::now().checked_add(timeout);
        match &self.entry.role {
            Role::Master(m) => {
                if m.lock().is_none() {
                    return Err(self.closed());
                }
                let Some(d) = &self.entry.durability else {
                    return Ok(());
                };
                // Every write this thread made is queued: its number is at most this.
                let target = d.written();
                d.wait_durable(target, deadline).map_err(|e| {
                    if e.kind == ErrorKind::Closed {
                        self.closed()
                    } else {
                        Error::new(
                            e.kind,
                            format!("store '{}': flush: {}", self.entry.name, e.message),
                        )
                    }
                })
            }
            Role::Clone(c) => {
                let mut g = c.lock();
                loop {
                    match g.as_ref() {
                        None => return Err(self.closed()),
                        Some(c) if c.writes_acknowledged() => return Ok(()),
                        Some(_) => {}
                    }
                    let timed_out = match deadline {
                        Some(d) => self.entry.changed.wait_until(&mut g, d).timed_out(),
                        None => {
                            self.entry.changed.wait(&mut g);
                            false
                        }
                    };
                    if timed_out {
                        let n = match g.as_ref() {
                            None => return Err(self.closed()),
                            Some(c) if c.writes_acknowledged() => return Ok(()),
                            Some(c) => c.unacknowledged_writes(),
                        };
                        return Err(Error::new(
                            ErrorKind::Timeout,
                            format!(
                                "store '{}': flush: {n} writes not yet acknowledged by the master within {:?}",
                                self.entry.name, timeout
                            ),
                        ));
                    }
                }
            }
        }
    }

    /// Transactions the storage worker committed (SQLite master), else 0: with group
    /// commit, fewer than the writes.
    pub fn commits(&self) -> u64 {
        self.entry.durability.as_ref().map_or(0, |d| d.commits())
    }

    /// Whether a clone has its master now (a master: always true).
    pub fn connected(&self) -> bool {
        match &self.entry.role {
            Role::Master(_) => !self.service.is_closed(),
            Role::Clone(c) => c
                .lock()
                .as_ref()
                .is_some_and(|c| matches!(c.status(), super::CloneStatus::Connected { .. })),
        }
    }

    /// Mutations a clone dropped after `clone_mutation_buffer_interval` without a master.
    pub fn take_lost_mutations(&self) -> Vec<LostMutation> {
        let mut out = std::mem::take(&mut *self.entry.lost.lock());
        if let Role::Clone(c) = &self.entry.role {
            if let Some(c) = c.lock().as_mut() {
                c.expire_buffer(now_ns());
                out.extend(c.take_lost());
            }
        }
        out
    }

    /// Problems seen in the background: failed writes from remote clones (master),
    /// resynchronisations (clone). Up to the last 1000.
    pub fn take_problems(&self) -> Vec<Error> {
        self.entry.problems.lock().drain(..).collect()
    }

    /// Mutations a clone holds for its master.
    pub fn buffered_mutations(&self) -> usize {
        match &self.entry.role {
            Role::Master(_) => 0,
            Role::Clone(c) => c.lock().as_ref().map_or(0, |c| c.buffered_mutations()),
        }
    }
}
