//! `StoreClone`: a clone of a store (Broker's `clone_actor`, with the timing the Zeek reference gives
//! `Cluster::clone_*_interval`), without I/O.
//!
//! The clone keeps a full copy in memory, forwards every mutation to the master and
//! applies only what the master broadcasts back. Time enters through `now` (ns since the
//! epoch) on every call; the driver calls `tick(now)` every `TICK_INTERVAL_NS`.
//!
//! The three intervals:
//! - `resync_interval`: while no master is known, ask for one (`nack([0])` on the master
//!   topic) this often; the first request goes out at once.
//! - `stale_interval`: once the master has been out of reach this long (or, before the
//!   first snapshot, since the clone was created), reads fail with an `ErrorKind::Store`
//!   "stale" error. Negative: never stale.
//! - `mutation_buffer_interval`: mutations made without a master are buffered this long
//!   and sent after the next snapshot; older ones are dropped and reported by
//!   `take_lost`. Zero or negative: mutations without a master fail at once.
//!
//! Master loss is detected by the channel (no message for heartbeat_interval x
//! connection_timeout_factor ticks) or reported by the driver (`master_lost`, e.g. on a
//! peer_lost status). Writes the master had not acknowledged at that moment are put back
//! into the buffer and sent again after the resync: delivery is at least once for them (a
//! write that reached the old master just before it went away may be applied twice; for
//! put/erase/insert that is harmless, an increment would count twice).

use super::channel::{Consumer, ConsumerOutput, Producer, ProducerOutput};
use super::command::{Command, CommandTag, EntityId, InternalCommand, Snapshot};
use super::master::{hex, ChannelConfig};
use super::ops;
use super::{master_topic, Outgoing, StoreEvent, TICK_INTERVAL_NS};
use crate::data::Value;
use crate::error::{Error, ErrorKind, Result};
use std::collections::{BTreeMap, BTreeSet, VecDeque};

/// The clone's timing. Defaults: Zeek's `Broker::default_clone_*` (10 s, 5 min, 2 min).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CloneConfig {
    pub resync_interval: i64,
    pub stale_interval: i64,
    pub mutation_buffer_interval: i64,
    /// How often the driver calls `tick` (Broker: 100 ms).
    pub tick_interval: i64,
    pub channel: ChannelConfig,
}

impl Default for CloneConfig {
    fn default() -> Self {
        CloneConfig {
            resync_interval: 10_000_000_000,
            stale_interval: 300_000_000_000,
            mutation_buffer_interval: 120_000_000_000,
            tick_interval: TICK_INTERVAL_NS,
            channel: ChannelConfig::default(),
        }
    }
}

/// Where the clone stands with its master.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloneStatus {
    /// Never synchronised yet; created at `since`.
    Connecting { since: i64 },
    /// Has the master's state and receives its updates since `since`.
    Connected { since: i64 },
    /// Lost the master at `since`; serving the last known state until it goes stale.
    Disconnected { since: i64 },
}

/// A local mutation that never reached the master.
#[derive(Debug, Clone, PartialEq)]
pub struct LostMutation {
    pub command: Command,
    /// When the application made it.
    pub made_at: i64,
    pub reason: String,
}

pub struct StoreClone {
    name: String,
    id: EntityId,
    config: CloneConfig,
    store: BTreeMap<Value, Value>,
    status: CloneStatus,
    master: Option<EntityId>,
    input: Consumer<EntityId, Command>,
    /// The writer channel to the master, payload = (command, time it was made).
    output: Option<Producer<EntityId, (Command, i64)>>,
    /// Connection attempts so far (0 until the first loss of the master).
    epoch: u64,
    stalled: VecDeque<(Command, i64)>,
    /// Keys with writes of ours the master has not echoed back yet (count per key), and
    /// clears likewise: a local check of such a key would judge a value that is about to
    /// change (an `increment` then a `decrement` of a new key), so the master decides.
    in_flight: BTreeMap<Value, u32>,
    clears_in_flight: u32,
    lost: Vec<LostMutation>,
    next_req_id: u64,
    put_unique_pending: BTreeSet<u64>,
    put_unique_results: BTreeMap<u64, bool>,
    outgoing: Vec<Outgoing>,
    events: Vec<StoreEvent>,
    problems: Vec<Error>,
}

impl std::fmt::Debug for StoreClone {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreClone")
            .field("name", &self.name)
            .field("status", &self.status)
            .finish_non_exhaustive()
    }
}

impl StoreClone {
    /// Creates a clone of store `name` with identity `id` and asks for the master at once.
    pub fn new(name: &str, id: EntityId, config: CloneConfig, now: i64) -> Self {
        let mut input = Consumer::new(false);
        input.set_nack_timeout(config.channel.nack_timeout);
        input.set_connection_timeout_factor(config.channel.connection_timeout_factor);
        let tick = config.tick_interval.max(1);
        let retry = (config.resync_interval.max(tick) / tick).clamp(1, i64::from(u32::MAX));
        input.set_handshake_retry(retry as u32);
        let mut c = StoreClone {
            name: name.to_string(),
            id,
            config,
            store: BTreeMap::new(),
            status: CloneStatus::Connecting { since: now },
            master: None,
            input,
            output: None,
            epoch: 0,
            stalled: VecDeque::new(),
            in_flight: BTreeMap::new(),
            clears_in_flight: 0,
            lost: Vec::new(),
            next_req_id: 1,
            put_unique_pending: BTreeSet::new(),
            put_unique_results: BTreeMap::new(),
            outgoing: Vec::new(),
            events: Vec::new(),
            problems: Vec::new(),
        };
        c.request_master();
        c
    }

    pub fn name(&self) -> &str {
        &self.name
    }
    pub fn id(&self) -> EntityId {
        self.id
    }
    pub fn status(&self) -> CloneStatus {
        self.status
    }
    pub fn master(&self) -> Option<EntityId> {
        self.master
    }
    pub fn config(&self) -> &CloneConfig {
        &self.config
    }

    // -- reads ---------------------------------------------------------------------------

    /// Whether reads are answered now: `Ok` when connected or disconnected for less than
    /// the stale interval; `ErrorKind::WouldBlock` before the first snapshot (the caller
    /// may wait for it); `ErrorKind::Store` once stale.
    pub fn check_readable(&self, now: i64) -> Result<()> {
        let stale = |since: i64| {
            self.config.stale_interval >= 0
                && now.saturating_sub(since) >= self.config.stale_interval
        };
        match self.status {
            CloneStatus::Connected { .. } => Ok(()),
            CloneStatus::Disconnected { since } if stale(since) => Err(Error::new(
                ErrorKind::Store,
                format!(
                    "store '{}' is stale: no contact with its master for {:.1} s (Cluster::clone_stale_interval is {:.1} s)",
                    self.name,
                    secs(now.saturating_sub(since)),
                    secs(self.config.stale_interval)
                ),
            )),
            CloneStatus::Disconnected { .. } => Ok(()),
            CloneStatus::Connecting { since } if stale(since) => Err(Error::new(
                ErrorKind::Store,
                format!(
                    "store '{}' is stale: no master found in {:.1} s (Cluster::clone_stale_interval is {:.1} s)",
                    self.name,
                    secs(now.saturating_sub(since)),
                    secs(self.config.stale_interval)
                ),
            )),
            CloneStatus::Connecting { .. } => Err(Error::new(
                ErrorKind::WouldBlock,
                format!("store '{}': clone has not received its master's snapshot yet", self.name),
            )),
        }
    }

    pub fn get(&self, key: &Value, now: i64) -> Result<Value> {
        self.check_readable(now)?;
        self.store
            .get(key)
            .cloned()
            .ok_or_else(|| Error::not_found(format!("store '{}': no such key", self.name)))
    }
    pub fn get_index(&self, key: &Value, index: &Value, now: i64) -> Result<Value> {
        ops::retrieve(&self.get(key, now)?, index)
    }
    pub fn exists(&self, key: &Value, now: i64) -> Result<bool> {
        self.check_readable(now)?;
        Ok(self.store.contains_key(key))
    }
    pub fn keys(&self, now: i64) -> Result<BTreeSet<Value>> {
        self.check_readable(now)?;
        Ok(self.store.keys().cloned().collect())
    }
    /// Updates received from the master in the current synchronisation.
    pub fn updates(&self) -> u64 {
        self.input.next_seq().saturating_sub(1)
    }

    pub fn size(&self, now: i64) -> Result<u64> {
        self.check_readable(now)?;
        Ok(self.store.len() as u64)
    }

    // -- writes (forwarded; visible once the master's broadcast comes back) --------------

    pub fn put(&mut self, key: Value, value: Value, expiry: Option<i64>, now: i64) -> Result<()> {
        self.send_to_master(
            Command::Put {
                key,
                value,
                expiry,
                publisher: self.id,
            },
            now,
        )
    }
    /// Starts a put_unique; the answer arrives later: poll `take_put_unique_result(id)`.
    pub fn put_unique(
        &mut self,
        key: Value,
        value: Value,
        expiry: Option<i64>,
        now: i64,
    ) -> Result<u64> {
        let req_id = self.next_req_id;
        self.send_to_master(
            Command::PutUnique {
                key,
                value,
                expiry,
                who: self.id,
                req_id,
                publisher: self.id,
            },
            now,
        )?;
        self.next_req_id += 1;
        self.put_unique_pending.insert(req_id);
        Ok(req_id)
    }
    /// The master's answer to put_unique request `req_id`, once it arrived.
    pub fn take_put_unique_result(&mut self, req_id: u64) -> Option<bool> {
        self.put_unique_results.remove(&req_id)
    }
    pub fn erase(&mut self, key: Value, now: i64) -> Result<()> {
        self.send_to_master(
            Command::Erase {
                key,
                publisher: self.id,
            },
            now,
        )
    }
    pub fn clear(&mut self, now: i64) -> Result<()> {
        self.send_to_master(Command::Clear { publisher: self.id }, now)
    }
    /// Broker's `add`. A type clash with the value this clone holds is reported at once;
    /// the master has the last word otherwise.
    pub fn add(
        &mut self,
        key: Value,
        value: Value,
        init_type: u8,
        expiry: Option<i64>,
        now: i64,
    ) -> Result<()> {
        self.precheck(&key, |cur| match cur {
            Some(cur) => ops::add_to(&mut cur.clone(), &value),
            None if init_type == 0 => Err(Error::type_mismatch(format!(
                "cannot add a {} to a missing key without an init type",
                ops::type_name(value.tag())
            ))),
            None => ops::add_to(&mut ops::zero_of(init_type)?, &value),
        })?;
        self.send_to_master(
            Command::Add {
                key,
                value,
                init_type,
                expiry,
                publisher: self.id,
            },
            now,
        )
    }
    pub fn subtract(
        &mut self,
        key: Value,
        value: Value,
        expiry: Option<i64>,
        now: i64,
    ) -> Result<()> {
        let name = self.name.clone();
        self.precheck(&key, |cur| match cur {
            Some(cur) => ops::subtract_from(&mut cur.clone(), &value),
            None => Err(Error::not_found(format!(
                "store '{name}': cannot subtract from a missing key"
            ))),
        })?;
        self.send_to_master(
            Command::Subtract {
                key,
                value,
                expiry,
                publisher: self.id,
            },
            now,
        )
    }
    pub fn increment(
        &mut self,
        key: Value,
        amount: Value,
        expiry: Option<i64>,
        now: i64,
    ) -> Result<()> {
        let init = ops::increment_init_type(&amount);
        self.add(key, amount, init, expiry, now)
    }
    pub fn decrement(
        &mut self,
        key: Value,
        amount: Value,
        expiry: Option<i64>,
        now: i64,
    ) -> Result<()> {
        self.subtract(key, amount, expiry, now)
    }
    pub fn append(&mut self, key: Value, s: Value, expiry: Option<i64>, now: i64) -> Result<()> {
        self.add(key, s, 5, expiry, now)
    }
    pub fn insert_into(
        &mut self,
        key: Value,
        index: Value,
        value: Option<Value>,
        expiry: Option<i64>,
        now: i64,
    ) -> Result<()> {
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
    ) -> Result<()> {
        self.subtract(key, index, expiry, now)
    }
    pub fn push(&mut self, key: Value, value: Value, expiry: Option<i64>, now: i64) -> Result<()> {
        self.add(key, value, 14, expiry, now)
    }
    pub fn pop(&mut self, key: Value, expiry: Option<i64>, now: i64) -> Result<()> {
        self.subtract(key.clone(), key, expiry, now)
    }

    fn precheck(&self, key: &Value, f: impl FnOnce(Option<&Value>) -> Result<()>) -> Result<()> {
        if matches!(self.status, CloneStatus::Connecting { .. }) {
            return Ok(()); // nothing known yet: the master decides
        }
        if self.clears_in_flight > 0 || self.in_flight.contains_key(key) {
            return Ok(()); // our own earlier write will change the value: the master decides
        }
        f(self.store.get(key))
    }

    /// Whether every write of ours reached the master and was acknowledged (its effect,
    /// broadcast before the acknowledgement, is then in our copy).
    fn writes_settled(&self) -> bool {
        self.stalled.is_empty() && self.output.as_ref().is_none_or(|o| o.idle())
    }

    fn note_in_flight(&mut self, cmd: &Command) {
        match cmd {
            Command::Put { key, .. }
            | Command::PutUnique { key, .. }
            | Command::Erase { key, .. }
            | Command::Add { key, .. }
            | Command::Subtract { key, .. } => {
                *self.in_flight.entry(key.clone()).or_insert(0) += 1;
            }
            Command::Clear { .. } => self.clears_in_flight += 1,
            _ => {}
        }
    }

    /// The master echoed a write: when it is ours, one fewer in flight for that key.
    fn echoed(&mut self, key: Option<&Value>, publisher: EntityId) {
        if publisher != self.id {
            return;
        }
        match key {
            Some(k) => {
                if let Some(n) = self.in_flight.get_mut(k) {
                    *n -= 1;
                    if *n == 0 {
                        self.in_flight.remove(k);
                    }
                }
            }
            None => self.clears_in_flight = self.clears_in_flight.saturating_sub(1),
        }
    }

    fn send_to_master(&mut self, cmd: Command, now: i64) -> Result<()> {
        if let (CloneStatus::Connected { .. }, Some(out)) = (self.status, self.output.as_mut()) {
            if out.produce((cmd.clone(), now)).is_some() {
                self.note_in_flight(&cmd);
                self.pump(now);
                return Ok(());
            }
        }
        if self.config.mutation_buffer_interval <= 0 {
            return Err(Error::new(
                ErrorKind::Store,
                format!(
                    "store '{}': no master reachable and Cluster::clone_mutation_buffer_interval is 0: {} not applied",
                    self.name,
                    cmd.name()
                ),
            ));
        }
        self.note_in_flight(&cmd);
        self.stalled.push_back((cmd, now));
        Ok(())
    }

    // -- network and time ----------------------------------------------------------------

    /// Feeds one command received on the clone topic.
    pub fn handle_command(&mut self, cmd: InternalCommand, now: i64) {
        if self.input.initialized() && Some(&cmd.sender) != self.input.producer() {
            return; // not our master
        }
        let me = self.input_id();
        let for_me = cmd.receiver == me || cmd.receiver == self.writer_id();
        match cmd.content {
            // Updates are broadcast by the master's channel.
            c if c.tag() == CommandTag::Action => self.input.handle_event(cmd.seq, c),
            Command::AckClone {
                offset,
                heartbeat_interval,
                state,
            } if cmd.receiver == me && self.master.is_none() => {
                // A repeated ack_clone (same or other master) while attached is dropped.
                let accepted = self
                    .input
                    .handle_handshake(cmd.sender, offset, heartbeat_interval);
                if accepted {
                    self.master = Some(cmd.sender);
                    self.set_store(state, cmd.sender);
                    self.status = CloneStatus::Connected { since: now };
                    self.start_output(now);
                }
            }
            // Broker's master broadcasts keepalives (receiver nil).
            Command::Keepalive { seq }
                if (cmd.receiver == me || cmd.receiver.is_nil()) && self.input.initialized() =>
            {
                self.input.handle_heartbeat(seq)
            }
            Command::RetransmitFailed { seq } if cmd.receiver == me => {
                self.input.handle_retransmit_failed(seq)
            }
            Command::CumulativeAck { seq } if for_me => {
                if let (Some(out), Some(master)) = (self.output.as_mut(), self.master) {
                    if cmd.sender == master {
                        out.handle_ack(&master, seq);
                    }
                }
            }
            Command::Nack { seqs } if for_me => {
                if let (Some(out), Some(master)) = (self.output.as_mut(), self.master) {
                    if cmd.sender == master {
                        out.handle_nack(&master, &seqs);
                    }
                }
            }
            _ => {}
        }
        self.pump(now);
    }

    /// Advances time by one tick: channel timers, resync requests, buffer expiry.
    pub fn tick(&mut self, now: i64) {
        self.input.tick();
        if let Some(out) = self.output.as_mut() {
            out.tick();
        }
        self.pump(now);
        self.expire_stalled(now);
    }

    /// The driver learnt that the master's node went away (e.g. peer_lost).
    pub fn master_lost(&mut self, now: i64) {
        if self.master.is_none() {
            return;
        }
        self.master = None;
        self.input.reset();
        self.epoch += 1;
        if let Some(out) = self.output.take() {
            // Unacknowledged writes go back to the buffer, oldest first.
            let mut back: VecDeque<(Command, i64)> =
                out.unacknowledged().into_iter().map(|(_, p)| p).collect();
            back.extend(self.stalled.drain(..));
            self.stalled = back;
        }
        if let CloneStatus::Connected { .. } = self.status {
            self.status = CloneStatus::Disconnected { since: now };
        }
        self.request_master();
        self.expire_stalled(now);
    }

    /// Asks for a master now (e.g. a new peering appeared) instead of at the next resync;
    /// nothing while one is attached.
    pub fn resync_now(&mut self) {
        if self.master.is_none() {
            self.request_master();
        }
    }

    pub fn take_outgoing(&mut self) -> Vec<Outgoing> {
        std::mem::take(&mut self.outgoing)
    }
    pub fn take_events(&mut self) -> Vec<StoreEvent> {
        std::mem::take(&mut self.events)
    }
    /// Mutations dropped after `mutation_buffer_interval` without a master.
    pub fn take_lost(&mut self) -> Vec<LostMutation> {
        std::mem::take(&mut self.lost)
    }
    /// Drops the buffered mutations older than `mutation_buffer_interval` at `now` (what
    /// `tick` does), so that `take_lost` is exact whether or not a driver ticks.
    pub fn expire_buffer(&mut self, now: i64) {
        self.expire_stalled(now);
    }
    /// Protocol trouble (lost updates that forced a resync, ...), for logging.
    pub fn take_problems(&mut self) -> Vec<Error> {
        std::mem::take(&mut self.problems)
    }
    /// Mutations waiting for a master.
    pub fn buffered_mutations(&self) -> usize {
        self.stalled.len()
    }
    /// Every write made here was acknowledged by the master (none buffered for a master
    /// to come, none in flight).
    pub fn writes_acknowledged(&self) -> bool {
        self.unacknowledged_writes() == 0
    }
    /// Writes buffered or sent and not yet acknowledged by the master.
    pub fn unacknowledged_writes(&self) -> u64 {
        self.stalled.len() as u64 + self.output.as_ref().map_or(0, |o| o.unacked())
    }
    /// Broker's idle: has a master, nothing buffered, own writes acknowledged.
    pub fn idle(&self) -> bool {
        self.input.idle()
            && self.stalled.is_empty()
            && match &self.output {
                Some(o) => o.idle(),
                None => true,
            }
    }

    // -- internals -----------------------------------------------------------------------

    /// The identity of the input channel for the current connection attempt: `id` at
    /// first, a fresh one after each resync. A master that still remembers the previous
    /// channel (Broker's would answer with the old offset, which its buffer may no longer
    /// cover) then sees a new clone and sends a fresh snapshot.
    fn input_id(&self) -> EntityId {
        EntityId::new(
            self.id.endpoint,
            self.id.object.wrapping_add((2 * self.epoch) << 40),
        )
    }

    /// The writer channel's identity, fresh per connection for the same reason (a master
    /// ignores a repeated `attach_writer` from a writer it knows).
    fn writer_id(&self) -> EntityId {
        EntityId::new(
            self.id.endpoint,
            self.id.object.wrapping_add((2 * self.epoch + 1) << 40),
        )
    }

    fn request_master(&mut self) {
        self.outgoing.push(Outgoing {
            topic: master_topic(&self.name),
            unicast: None,
            command: InternalCommand {
                seq: 0,
                sender: self.input_id(),
                receiver: EntityId::NIL,
                content: Command::Nack { seqs: vec![0] },
            },
        });
    }

    fn expire_stalled(&mut self, now: i64) {
        let limit = self.config.mutation_buffer_interval;
        while let Some((_, made)) = self.stalled.front() {
            if now.saturating_sub(*made) <= limit.max(0) && limit > 0 {
                break;
            }
            let Some((command, made_at)) = self.stalled.pop_front() else {
                break;
            };
            self.lost.push(LostMutation {
                reason: format!(
                    "store '{}': {} made {:.1} s ago could not reach the master within Cluster::clone_mutation_buffer_interval ({:.1} s)",
                    self.name,
                    command.name(),
                    secs(now.saturating_sub(made_at)),
                    secs(limit.max(0))
                ),
                command,
                made_at,
            });
        }
    }

    fn start_output(&mut self, now: i64) {
        let Some(master) = self.master else { return };
        // The writer channel never times the master out by itself (that would discard the
        // unacknowledged writes); the input channel's heartbeat check does.
        let mut out = Producer::new(self.config.channel.heartbeat_interval, u16::MAX);
        out.add(master);
        self.output = Some(out);
        self.expire_stalled(now);
        let pending: Vec<(Command, i64)> = self.stalled.drain(..).collect();
        if let Some(out) = self.output.as_mut() {
            for p in pending {
                out.produce(p);
            }
        }
    }

    fn set_store(&mut self, state: Snapshot, publisher: EntityId) {
        for (k, old) in &self.store {
            match state.get(k) {
                None => self.events.push(StoreEvent::Erase {
                    key: k.clone(),
                    publisher: EntityId::NIL,
                }),
                Some(new) if new != old => self.events.push(StoreEvent::Update {
                    key: k.clone(),
                    old_value: old.clone(),
                    new_value: new.clone(),
                    expiry: None,
                    publisher,
                }),
                Some(_) => {}
            }
        }
        for (k, v) in &state {
            if !self.store.contains_key(k) {
                self.events.push(StoreEvent::Insert {
                    key: k.clone(),
                    value: v.clone(),
                    expiry: None,
                    publisher,
                });
            }
        }
        self.store = state;
    }

    fn apply_broadcast(&mut self, cmd: Command) {
        match cmd {
            Command::Put {
                key,
                value,
                expiry,
                publisher,
            } => {
                self.echoed(Some(&key), publisher);
                match self.store.insert(key.clone(), value.clone()) {
                    Some(old_value) => self.events.push(StoreEvent::Update {
                        key,
                        old_value,
                        new_value: value,
                        expiry,
                        publisher,
                    }),
                    None => self.events.push(StoreEvent::Insert {
                        key,
                        value,
                        expiry,
                        publisher,
                    }),
                }
            }
            Command::PutUniqueResult {
                inserted,
                who,
                req_id,
                ..
            } => {
                let ours = who == self.id && self.put_unique_pending.remove(&req_id);
                if ours {
                    self.put_unique_results.insert(req_id, inserted);
                }
            }
            Command::Erase { key, publisher } => {
                self.echoed(Some(&key), publisher);
                let existed = self.store.remove(&key).is_some();
                if existed {
                    self.events.push(StoreEvent::Erase { key, publisher });
                }
            }
            Command::Expire { key, publisher } => {
                let existed = self.store.remove(&key).is_some();
                if existed {
                    self.events.push(StoreEvent::Expire { key, publisher });
                }
            }
            Command::Clear { publisher } => {
                self.echoed(None, publisher);
                for key in std::mem::take(&mut self.store).into_keys() {
                    self.events.push(StoreEvent::Erase { key, publisher });
                }
            }
            _ => {}
        }
    }

    fn pump(&mut self, now: i64) {
        let master_topic = master_topic(&self.name);
        loop {
            let mut progressed = false;
            for o in self.input.take_outputs() {
                progressed = true;
                match o {
                    ConsumerOutput::Deliver { payload, .. } => self.apply_broadcast(payload),
                    ConsumerOutput::Lost { .. } => {}
                    ConsumerOutput::Ack { seq } => self.push_to_master(
                        &master_topic,
                        Command::CumulativeAck { seq },
                        self.input_id(),
                    ),
                    ConsumerOutput::Nack { seqs } => {
                        if self.input.initialized() {
                            self.push_to_master(
                                &master_topic,
                                Command::Nack { seqs },
                                self.input_id(),
                            );
                        } else {
                            self.request_master();
                        }
                    }
                    ConsumerOutput::Closed { reason } => {
                        self.problems.push(Error::new(
                            ErrorKind::Store,
                            format!("store '{}': {reason}; resynchronising", self.name),
                        ));
                        self.master_lost(now);
                    }
                    ConsumerOutput::ProducerTimeout => {
                        self.problems.push(Error::new(
                            ErrorKind::Store,
                            format!(
                                "store '{}': master {} silent for too long",
                                self.name,
                                self.master.map(|m| hex(&m.endpoint)).unwrap_or_default()
                            ),
                        ));
                        self.master_lost(now);
                    }
                }
            }
            let writer = self.writer_id();
            let outs = match self.output.as_mut() {
                Some(o) => o.take_outputs(),
                None => Vec::new(),
            };
            let mut lost_master = false;
            for o in outs {
                progressed = true;
                match o {
                    ProducerOutput::Handshake {
                        offset,
                        heartbeat_interval,
                        ..
                    } => self.push_to_master(
                        &master_topic,
                        Command::AttachWriter {
                            offset,
                            heartbeat_interval,
                        },
                        writer,
                    ),
                    ProducerOutput::Event {
                        seq,
                        payload: (content, _),
                        ..
                    } => {
                        let receiver = self.master.unwrap_or(EntityId::NIL);
                        self.outgoing.push(Outgoing {
                            topic: master_topic.clone(),
                            unicast: self.master.map(|m| m.endpoint),
                            command: InternalCommand {
                                seq,
                                sender: writer,
                                receiver,
                                content,
                            },
                        });
                    }
                    ProducerOutput::RetransmitFailed { seq, .. } => self.push_to_master(
                        &master_topic,
                        Command::RetransmitFailed { seq },
                        writer,
                    ),
                    ProducerOutput::Heartbeat { seq } => {
                        if let Some(out) = self.output.as_mut() {
                            out.resend_pending_handshakes();
                        }
                        self.outgoing.push(Outgoing {
                            topic: master_topic.clone(),
                            unicast: None,
                            command: InternalCommand {
                                seq: 0,
                                sender: writer,
                                receiver: EntityId::NIL,
                                content: Command::Keepalive { seq },
                            },
                        });
                    }
                    ProducerOutput::Dropped { .. } => lost_master = true,
                    ProducerOutput::HandshakeCompleted { .. } => {}
                }
            }
            if lost_master {
                self.problems.push(Error::new(
                    ErrorKind::Store,
                    format!(
                        "store '{}': the master refused our writer channel",
                        self.name
                    ),
                ));
                self.master_lost(now);
            }
            if !progressed {
                break;
            }
        }
        if self.writes_settled() {
            self.in_flight.clear();
            self.clears_in_flight = 0;
        }
    }

    fn push_to_master(&mut self, topic: &str, content: Command, sender: EntityId) {
        let receiver = self.master.unwrap_or(EntityId::NIL);
        self.outgoing.push(Outgoing {
            topic: topic.to_string(),
            unicast: self.master.map(|m| m.endpoint),
            command: InternalCommand {
                seq: 0,
                sender,
                receiver,
                content,
            },
        });
    }
}

fn secs(ns: i64) -> f64 {
    ns as f64 / 1e9
}
