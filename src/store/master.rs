//! The authoritative copy of a store (Broker's `master_actor`), without I/O.
//!
//! Local calls (`put`, `increment`, ...) apply at once and return their result or error.
//! Commands from the network go through `handle_command`; time goes through `tick`.
//! Everything to send is collected with `take_outgoing`, store events with `take_events`,
//! and failures of commands that came from remote writers (Broker only logs those; the
//! protocol has no way to report them) with `take_remote_errors`.

use super::backend::Backend;
use super::channel::{Consumer, ConsumerOutput, Producer, ProducerOutput};
use super::command::{Command, CommandTag, EntityId, InternalCommand, Snapshot};
use super::ops;
use super::{clone_topic, Outgoing, StoreEvent};
use crate::data::Value;
use crate::error::{Error, ErrorKind, Result};
use std::collections::{BTreeMap, BTreeSet};

/// Channel timing, in ticks; Broker's defaults (`broker.store.*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChannelConfig {
    pub heartbeat_interval: u16,
    pub nack_timeout: u16,
    pub connection_timeout_factor: u16,
}

impl Default for ChannelConfig {
    fn default() -> Self {
        ChannelConfig {
            heartbeat_interval: super::channel::DEFAULT_HEARTBEAT_INTERVAL,
            nack_timeout: super::channel::DEFAULT_NACK_TIMEOUT,
            connection_timeout_factor: super::channel::DEFAULT_CONNECTION_TIMEOUT_FACTOR,
        }
    }
}

pub struct Master {
    name: String,
    id: EntityId,
    backend: Box<dyn Backend>,
    config: ChannelConfig,
    output: Producer<EntityId, Command>,
    /// Mutations applied (each one broadcast, or suppressed without clones).
    processed: u64,
    inputs: BTreeMap<EntityId, Consumer<EntityId, Command>>,
    /// Snapshots sent with a handshake, kept until acknowledged so that a repeated
    /// handshake carries the same state for the same offset (Broker: `open_handshakes`).
    open_handshakes: BTreeMap<EntityId, Snapshot>,
    expirations: BTreeMap<Value, i64>,
    next_expiry: Option<i64>,
    /// Commands to send, each with the backend's `written_seq` when it was emitted: held
    /// until that write is durable (a storage worker's backend; others release at once).
    outgoing: Vec<(u64, Outgoing)>,
    events: Vec<StoreEvent>,
    remote_errors: Vec<Error>,
}

impl std::fmt::Debug for Master {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Master")
            .field("name", &self.name)
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl Master {
    /// Attaches a master for store `name` with identity `id` (the endpoint's id plus an
    /// object number) over `backend`. Expiries already in the backend are reloaded.
    pub fn new(
        name: &str,
        id: EntityId,
        backend: Box<dyn Backend>,
        config: ChannelConfig,
    ) -> Result<Self> {
        let expirations: BTreeMap<Value, i64> = backend.expiries()?.into_iter().collect();
        let next_expiry = expirations.values().copied().min();
        Ok(Master {
            name: name.to_string(),
            id,
            backend,
            config,
            output: Producer::new(config.heartbeat_interval, config.connection_timeout_factor),
            processed: 0,
            inputs: BTreeMap::new(),
            open_handshakes: BTreeMap::new(),
            expirations,
            next_expiry,
            outgoing: Vec::new(),
            events: Vec::new(),
            remote_errors: Vec::new(),
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }
    pub fn id(&self) -> EntityId {
        self.id
    }
    pub fn backend_kind(&self) -> super::BackendKind {
        self.backend.kind()
    }

    // -- reads ---------------------------------------------------------------------------

    /// The value of `key`; `ErrorKind::NotFound` if absent.
    pub fn get(&self, key: &Value) -> Result<Value> {
        self.backend.get(key)?.ok_or_else(|| self.no_such_key())
    }
    /// `get_index_from_value`: an element inside the value of `key`.
    pub fn get_index(&self, key: &Value, index: &Value) -> Result<Value> {
        ops::retrieve(&self.get(key)?, index)
    }
    pub fn exists(&self, key: &Value) -> Result<bool> {
        self.backend.exists(key)
    }
    pub fn keys(&self) -> Result<BTreeSet<Value>> {
        self.backend.keys()
    }
    /// Updates (mutations) applied so far, as Broker's
    /// `broker_store_processed_updates_total` counts them, with or without clones.
    pub fn updates(&self) -> u64 {
        self.processed
    }

    pub fn size(&self) -> Result<u64> {
        self.backend.size()
    }
    /// Every key and value.
    pub fn snapshot(&self) -> Result<Snapshot> {
        self.backend.snapshot()
    }

    fn no_such_key(&self) -> Error {
        Error::not_found(format!("store '{}': no such key", self.name))
    }

    // -- local writes (expiry: relative ns; now: ns since the epoch) ---------------------

    pub fn put(&mut self, key: Value, value: Value, expiry: Option<i64>, now: i64) -> Result<()> {
        self.local(
            Command::Put {
                key,
                value,
                expiry,
                publisher: self.id,
            },
            now,
        )
        .map(|_| ())
    }
    /// Inserts only if `key` is absent; returns whether it did.
    pub fn put_unique(
        &mut self,
        key: Value,
        value: Value,
        expiry: Option<i64>,
        now: i64,
    ) -> Result<bool> {
        let cmd = Command::PutUnique {
            key,
            value,
            expiry,
            who: EntityId::NIL,
            req_id: 0,
            publisher: self.id,
        };
        Ok(matches!(self.local(cmd, now)?, Some(Value::Bool(true))))
    }
    pub fn erase(&mut self, key: Value, now: i64) -> Result<()> {
        self.local(
            Command::Erase {
                key,
                publisher: self.id,
            },
            now,
        )
        .map(|_| ())
    }
    pub fn clear(&mut self, now: i64) -> Result<()> {
        self.local(Command::Clear { publisher: self.id }, now)
            .map(|_| ())
    }
    /// Broker's `add`; returns the new value.
    pub fn add(
        &mut self,
        key: Value,
        value: Value,
        init_type: u8,
        expiry: Option<i64>,
        now: i64,
    ) -> Result<Value> {
        self.local(
            Command::Add {
                key,
                value,
                init_type,
                expiry,
                publisher: self.id,
            },
            now,
        )
        .map(|v| v.unwrap_or(Value::None))
    }
    /// Broker's `subtract`; a missing key is `ErrorKind::NotFound`.
    pub fn subtract(
        &mut self,
        key: Value,
        value: Value,
        expiry: Option<i64>,
        now: i64,
    ) -> Result<Value> {
        self.local(
            Command::Subtract {
                key,
                value,
                expiry,
                publisher: self.id,
            },
            now,
        )
        .map(|v| v.unwrap_or(Value::None))
    }
    pub fn increment(
        &mut self,
        key: Value,
        amount: Value,
        expiry: Option<i64>,
        now: i64,
    ) -> Result<Value> {
        let init = ops::increment_init_type(&amount);
        self.add(key, amount, init, expiry, now)
    }
    pub fn decrement(
        &mut self,
        key: Value,
        amount: Value,
        expiry: Option<i64>,
        now: i64,
    ) -> Result<Value> {
        self.subtract(key, amount, expiry, now)
    }
    pub fn append(&mut self, key: Value, s: Value, expiry: Option<i64>, now: i64) -> Result<Value> {
        self.add(key, s, 5, expiry, now)
    }
    /// Set insert (`value == None`) or table insert (`Some(value)`).
    pub fn insert_into(
        &mut self,
        key: Value,
        index: Value,
        value: Option<Value>,
        expiry: Option<i64>,
        now: i64,
    ) -> Result<Value> {
        match value {
            None => self.add(key, index, 12, expiry, now),
            Some(v) => self.add(key, Value::Vector(vec![index, v]), 13, expiry, now),
        }
    }
    pub fn remove_from(
        &mut self,
        key: Value,
        index: Value,
        expiry: Option<i64>,
        now: i64,
    ) -> Result<Value> {
        self.subtract(key, index, expiry, now)
    }
    pub fn push(
        &mut self,
        key: Value,
        value: Value,
        expiry: Option<i64>,
        now: i64,
    ) -> Result<Value> {
        self.add(key, value, 14, expiry, now)
    }
    pub fn pop(&mut self, key: Value, expiry: Option<i64>, now: i64) -> Result<Value> {
        self.subtract(key.clone(), key, expiry, now)
    }

    // -- network -------------------------------------------------------------------------

    /// Feeds one command received on the master topic.
    pub fn handle_command(&mut self, cmd: InternalCommand, now: i64) {
        if !cmd.receiver.is_nil() && cmd.receiver != self.id {
            return; // meant for another master
        }
        let sender = cmd.sender;
        match cmd.content.tag() {
            CommandTag::Action => {
                if let Some(input) = self.inputs.get_mut(&sender) {
                    input.handle_event(cmd.seq, cmd.content);
                }
            }
            CommandTag::ProducerControl => match (self.inputs.get_mut(&sender), cmd.content) {
                (Some(input), Command::Keepalive { seq }) => input.handle_heartbeat(seq),
                (Some(input), Command::RetransmitFailed { seq }) => {
                    input.handle_retransmit_failed(seq)
                }
                (Some(_), _) => {} // repeated attach_writer or a bogus command: ignored, as Broker does
                (
                    None,
                    Command::AttachWriter {
                        offset,
                        heartbeat_interval,
                    },
                ) => {
                    let mut input = Consumer::new(true);
                    input.set_nack_timeout(self.config.nack_timeout);
                    input.set_connection_timeout_factor(self.config.connection_timeout_factor);
                    input.handle_handshake(sender, offset, heartbeat_interval);
                    self.inputs.insert(sender, input);
                }
                (None, _) => {}
            },
            CommandTag::ConsumerControl => match cmd.content {
                Command::CumulativeAck { seq } => self.output.handle_ack(&sender, seq),
                Command::Nack { seqs } => {
                    // A clone that asks for a handshake after completing one lost its state
                    // (it reset): start it over from the current state instead of replaying
                    // from its old offset, which the buffer may no longer cover.
                    if seqs == [0] && self.output.handshake_completed(&sender) {
                        self.output.remove(&sender);
                        self.open_handshakes.remove(&sender);
                    }
                    self.output.handle_nack(&sender, &seqs)
                }
                _ => {}
            },
        }
        self.pump(now);
    }

    /// Advances time by one tick (every `TICK_INTERVAL_NS`): channel timers and expiry.
    pub fn tick(&mut self, now: i64) {
        self.output.tick();
        for input in self.inputs.values_mut() {
            input.tick();
        }
        self.expire(now);
        self.pump(now);
    }

    /// Removes the entries due by `now` (what `tick` does), without advancing the channel
    /// timers: lets reads see expiry at once, and works without a driver.
    pub fn expire_due(&mut self, now: i64) {
        self.expire(now);
        self.pump(now);
    }

    /// Forgets every clone and writer on `endpoint` (its peering went away).
    pub fn peer_lost(&mut self, endpoint: [u8; 16]) {
        for c in self.output.consumers() {
            if c.endpoint == endpoint {
                self.output.remove(&c);
                self.open_handshakes.remove(&c);
            }
        }
        self.inputs.retain(|k, _| k.endpoint != endpoint);
    }

    /// The commands ready to send: everything emitted up to the last durable write of a
    /// backend with a storage worker (what a later write caused stays held, in order);
    /// everything for a synchronous backend.
    pub fn take_outgoing(&mut self) -> Vec<Outgoing> {
        let durable = self.backend.durable_seq();
        let n = self
            .outgoing
            .iter()
            .position(|(gate, _)| *gate > durable)
            .unwrap_or(self.outgoing.len());
        self.outgoing.drain(..n).map(|(_, o)| o).collect()
    }
    /// Whether anything waits to be sent (released or held).
    pub fn has_outgoing(&self) -> bool {
        !self.outgoing.is_empty()
    }
    /// Commands held until writes are durable.
    pub fn held_outgoing(&self) -> usize {
        self.outgoing.len()
    }
    pub fn take_events(&mut self) -> Vec<StoreEvent> {
        std::mem::take(&mut self.events)
    }
    pub fn take_remote_errors(&mut self) -> Vec<Error> {
        std::mem::take(&mut self.remote_errors)
    }

    /// The clones currently attached.
    pub fn clones(&self) -> Vec<EntityId> {
        self.output.consumers()
    }
    /// Broker's idle: every clone acknowledged everything, no handshake or writer input
    /// pending.
    pub fn idle(&self) -> bool {
        self.output.idle()
            && self.open_handshakes.is_empty()
            && self.inputs.values().all(|i| i.idle())
    }

    // -- internals -----------------------------------------------------------------------

    /// A local write: applied at once, and what it broadcasts is ready for
    /// `take_outgoing` when this returns (not only after the next tick).
    fn local(&mut self, cmd: Command, now: i64) -> Result<Option<Value>> {
        let r = self.apply(cmd, now);
        self.pump(now);
        r
    }

    fn expire(&mut self, now: i64) {
        // `next_expiry` is a lower bound of every pending expiry, so most ticks stop here.
        match self.next_expiry {
            Some(t) if now > t => {}
            _ => return,
        }
        match self.backend.expire_due(now) {
            Ok(keys) => {
                for key in keys {
                    self.expirations.remove(&key);
                    self.events.push(StoreEvent::Expire {
                        key: key.clone(),
                        publisher: self.id,
                    });
                    self.broadcast(Command::Expire {
                        key,
                        publisher: self.id,
                    });
                }
                self.expirations.retain(|_, t| now <= *t);
                self.next_expiry = self.expirations.values().copied().min();
            }
            Err(e) => self.remote_errors.push(e),
        }
    }

    fn set_expire(&mut self, key: &Value, at: Option<i64>) {
        match at {
            Some(t) => {
                self.expirations.insert(key.clone(), t);
                self.next_expiry = Some(self.next_expiry.map_or(t, |n| n.min(t)));
            }
            None => {
                self.expirations.remove(key);
            }
        }
    }

    fn broadcast(&mut self, cmd: Command) {
        self.processed += 1;
        self.output.produce(cmd);
    }

    /// Applies an action command. Returns the resulting value for add/subtract and the
    /// `inserted` flag for put_unique.
    fn apply(&mut self, cmd: Command, now: i64) -> Result<Option<Value>> {
        let abs = |e: Option<i64>| e.map(|s| now.saturating_add(s));
        let result = match cmd {
            Command::Put {
                key,
                value,
                expiry,
                publisher,
            } => {
                let old = self.backend.get(&key)?;
                self.backend.put(&key, &value, abs(expiry))?;
                self.set_expire(&key, abs(expiry));
                self.events.push(match old {
                    Some(old_value) => StoreEvent::Update {
                        key: key.clone(),
                        old_value,
                        new_value: value.clone(),
                        expiry,
                        publisher,
                    },
                    None => StoreEvent::Insert {
                        key: key.clone(),
                        value: value.clone(),
                        expiry,
                        publisher,
                    },
                });
                self.broadcast(Command::Put {
                    key,
                    value,
                    expiry,
                    publisher,
                });
                None
            }
            Command::PutUnique {
                key,
                value,
                expiry,
                who,
                req_id,
                publisher,
            } => {
                let inserted = if self.backend.exists(&key)? {
                    false
                } else {
                    self.backend.put(&key, &value, abs(expiry))?;
                    self.set_expire(&key, abs(expiry));
                    self.events.push(StoreEvent::Insert {
                        key: key.clone(),
                        value: value.clone(),
                        expiry,
                        publisher,
                    });
                    self.broadcast(Command::Put {
                        key,
                        value,
                        expiry,
                        publisher,
                    });
                    true
                };
                self.broadcast(Command::PutUniqueResult {
                    inserted,
                    who,
                    req_id,
                    publisher: self.id,
                });
                Some(Value::Bool(inserted))
            }
            Command::Erase { key, publisher } => {
                if self.backend.erase(&key)? {
                    self.expirations.remove(&key);
                    self.events.push(StoreEvent::Erase {
                        key: key.clone(),
                        publisher,
                    });
                    self.broadcast(Command::Erase { key, publisher });
                }
                None
            }
            Command::Add {
                key,
                value,
                init_type,
                expiry,
                publisher,
            } => {
                let old = self.backend.get(&key)?;
                let new =
                    ops::apply_add(self.backend.as_mut(), &key, &value, init_type, abs(expiry))?;
                self.set_expire(&key, abs(expiry));
                self.events.push(match old {
                    Some(old_value) => StoreEvent::Update {
                        key: key.clone(),
                        old_value,
                        new_value: new.clone(),
                        expiry: None,
                        publisher,
                    },
                    None => StoreEvent::Insert {
                        key: key.clone(),
                        value: new.clone(),
                        expiry: None,
                        publisher,
                    },
                });
                // Clones get the result, never the arithmetic.
                self.broadcast(Command::Put {
                    key,
                    value: new.clone(),
                    expiry: None,
                    publisher,
                });
                Some(new)
            }
            Command::Subtract {
                key,
                value,
                expiry,
                publisher,
            } => {
                let old = self.backend.get(&key)?.ok_or_else(|| {
                    Error::new(
                        ErrorKind::NotFound,
                        format!("store '{}': cannot subtract from a missing key", self.name),
                    )
                })?;
                let new = ops::apply_subtract(self.backend.as_mut(), &key, &value, abs(expiry))?;
                self.set_expire(&key, abs(expiry));
                self.events.push(StoreEvent::Update {
                    key: key.clone(),
                    old_value: old,
                    new_value: new.clone(),
                    expiry: None,
                    publisher,
                });
                self.broadcast(Command::Put {
                    key,
                    value: new.clone(),
                    expiry: None,
                    publisher,
                });
                Some(new)
            }
            Command::Clear { publisher } => {
                let keys = self.backend.keys()?;
                self.backend.clear()?;
                self.expirations.clear();
                for key in keys {
                    self.events.push(StoreEvent::Erase { key, publisher });
                }
                self.broadcast(Command::Clear { publisher });
                None
            }
            other => {
                return Err(Error::protocol(format!(
                    "store '{}': a writer may not send '{}'",
                    self.name,
                    other.name()
                )));
            }
        };
        Ok(result)
    }

    /// Turns channel outputs into commands and applies delivered writer commands.
    fn pump(&mut self, now: i64) {
        loop {
            let mut progressed = false;
            let writers: Vec<EntityId> = self.inputs.keys().copied().collect();
            for w in writers {
                let outs = match self.inputs.get_mut(&w) {
                    Some(i) => i.take_outputs(),
                    None => continue,
                };
                for o in outs {
                    progressed = true;
                    match o {
                        ConsumerOutput::Deliver { payload, .. } => {
                            if let Err(e) = self.apply(payload, now) {
                                self.remote_errors.push(Error::new(
                                    e.kind,
                                    format!("write from {}: {}", hex(&w.endpoint), e.message),
                                ));
                            }
                        }
                        ConsumerOutput::Lost { seq } => self.remote_errors.push(Error::new(
                            ErrorKind::Store,
                            format!(
                                "store '{}': write {seq} from {} was lost in transit",
                                self.name,
                                hex(&w.endpoint)
                            ),
                        )),
                        ConsumerOutput::Ack { seq } => {
                            self.send_to(w, Command::CumulativeAck { seq })
                        }
                        ConsumerOutput::Nack { seqs } => self.send_to(w, Command::Nack { seqs }),
                        ConsumerOutput::Closed { .. } | ConsumerOutput::ProducerTimeout => {
                            self.inputs.remove(&w);
                        }
                    }
                }
            }
            for o in self.output.take_outputs() {
                progressed = true;
                match o {
                    ProducerOutput::Handshake {
                        to,
                        offset,
                        heartbeat_interval,
                    } => {
                        let state = match self.open_handshakes.get(&to) {
                            Some(s) => s.clone(),
                            None => match self.backend.snapshot() {
                                Ok(s) => {
                                    self.open_handshakes.insert(to, s.clone());
                                    s
                                }
                                Err(e) => {
                                    self.remote_errors.push(e);
                                    continue;
                                }
                            },
                        };
                        self.emit(
                            Some(to),
                            offset,
                            to,
                            Command::AckClone {
                                offset,
                                heartbeat_interval,
                                state,
                            },
                        );
                    }
                    ProducerOutput::Event { to, seq, payload } => {
                        self.emit(to, seq, EntityId::NIL, payload)
                    }
                    ProducerOutput::RetransmitFailed { to, seq } => {
                        self.emit(Some(to), 0, to, Command::RetransmitFailed { seq })
                    }
                    ProducerOutput::Heartbeat { seq } => {
                        self.emit(None, 0, EntityId::NIL, Command::Keepalive { seq })
                    }
                    ProducerOutput::Dropped { consumer, .. } => {
                        self.open_handshakes.remove(&consumer);
                        self.inputs.remove(&consumer);
                    }
                    ProducerOutput::HandshakeCompleted { consumer } => {
                        self.open_handshakes.remove(&consumer);
                    }
                }
            }
            if !progressed {
                break;
            }
        }
    }

    fn send_to(&mut self, writer: EntityId, content: Command) {
        self.emit(Some(writer), 0, writer, content);
    }

    fn emit(&mut self, to: Option<EntityId>, seq: u64, receiver: EntityId, content: Command) {
        let gate = self.backend.written_seq();
        self.outgoing.push((
            gate,
            Outgoing {
                topic: clone_topic(&self.name),
                unicast: to.map(|t| t.endpoint),
                command: InternalCommand {
                    seq,
                    sender: self.id,
                    receiver,
                    content,
                },
            },
        ));
    }
}

pub(crate) fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}
