//! Broker's channel reliability (`internal/channel.hh`) as pure state machines: one
//! producer, any number of consumers, over an unreliable, unordered transport.
//!
//! Nothing here does I/O or reads a clock. The owner feeds in received messages and calls
//! `tick()` at a fixed period (Broker: 100 ms); each call may queue outputs, which the
//! owner collects with `take_outputs()` and turns into commands on the wire:
//!
//! | output | Broker command |
//! | --- | --- |
//! | `ProducerOutput::Handshake` | `ack_clone` (master) or `attach_writer` (writer) |
//! | `ProducerOutput::Event` | the action command, `seq` = event seq |
//! | `ProducerOutput::Heartbeat` | `keepalive` |
//! | `ProducerOutput::RetransmitFailed` | `retransmit_failed` |
//! | `ConsumerOutput::Ack` / `Nack` | `cumulative_ack` / `nack` |
//!
//! Sequence numbers follow Broker: the producer's counter starts at 1, so the first event
//! carries 2 and an acknowledged sequence number of 0 means "added, never acked"; a
//! `nack([0])` asks for the handshake. Beyond Broker, the consumer reports a producer
//! that stayed silent for `heartbeat_interval * connection_timeout_factor` ticks
//! (`ConsumerOutput::ProducerTimeout`) and bounds its out-of-order buffer.

use std::collections::VecDeque;

/// Broker's store defaults (`defaults::store`): heartbeat every 5 ticks, NACK after 2
/// idle ticks, peers time out after 100 missed heartbeats.
pub const DEFAULT_HEARTBEAT_INTERVAL: u16 = 5;
pub const DEFAULT_NACK_TIMEOUT: u16 = 2;
pub const DEFAULT_CONNECTION_TIMEOUT_FACTOR: u16 = 100;
/// Events further ahead of the next expected one than this are ignored (a hostile or
/// broken producer cannot make a consumer buffer without bound); NACKs recover them.
pub const MAX_OUT_OF_ORDER: u64 = 65_536;

#[derive(Debug, Clone, PartialEq)]
pub enum ProducerOutput<H, P> {
    /// Unicast: tell `to` where its stream starts.
    Handshake {
        to: H,
        offset: u64,
        heartbeat_interval: u16,
    },
    /// An event; `to == None` is a broadcast to all consumers, `Some` a retransmission.
    Event { to: Option<H>, seq: u64, payload: P },
    /// Unicast: `seq` is no longer available.
    RetransmitFailed { to: H, seq: u64 },
    /// Broadcast: the producer is alive and its latest sequence number is `seq`.
    Heartbeat { seq: u64 },
    /// A consumer was removed (timeout or protocol error).
    Dropped { consumer: H, reason: String },
    /// A consumer acknowledged for the first time.
    HandshakeCompleted { consumer: H },
}

#[derive(Debug, Clone)]
struct Path<H> {
    hdl: H,
    offset: u64,
    acked: u64,
    last_seen: u64,
}

/// The sending side of a channel.
#[derive(Debug, Clone)]
pub struct Producer<H, P> {
    seq: u64,
    tick: u64,
    last_broadcast: u64,
    buf: VecDeque<(u64, P)>,
    paths: Vec<Path<H>>,
    heartbeat_interval: u16,
    connection_timeout_factor: u16,
    out: Vec<ProducerOutput<H, P>>,
}

impl<H: Clone + PartialEq, P: Clone> Default for Producer<H, P> {
    fn default() -> Self {
        Self::new(
            DEFAULT_HEARTBEAT_INTERVAL,
            DEFAULT_CONNECTION_TIMEOUT_FACTOR,
        )
    }
}

impl<H: Clone + PartialEq, P: Clone> Producer<H, P> {
    pub fn new(heartbeat_interval: u16, connection_timeout_factor: u16) -> Self {
        Producer {
            seq: 1,
            tick: 1,
            last_broadcast: 1,
            buf: VecDeque::new(),
            paths: Vec::new(),
            heartbeat_interval,
            connection_timeout_factor: connection_timeout_factor.max(1),
            out: Vec::new(),
        }
    }

    /// Sends `payload` to every consumer. With no consumer nothing is sequenced or kept
    /// (Broker suppresses such broadcasts); returns the sequence number otherwise.
    pub fn produce(&mut self, payload: P) -> Option<u64> {
        if self.paths.is_empty() {
            return None;
        }
        self.seq += 1;
        self.buf.push_back((self.seq, payload.clone()));
        self.last_broadcast = self.tick;
        self.out.push(ProducerOutput::Event {
            to: None,
            seq: self.seq,
            payload,
        });
        Some(self.seq)
    }

    /// Adds a consumer and sends it the handshake. Returns false if it already exists.
    pub fn add(&mut self, hdl: H) -> bool {
        if self.find(&hdl).is_some() {
            return false;
        }
        self.paths.push(Path {
            hdl: hdl.clone(),
            offset: self.seq,
            acked: 0,
            last_seen: self.tick,
        });
        self.out.push(ProducerOutput::Handshake {
            to: hdl,
            offset: self.seq,
            heartbeat_interval: self.heartbeat_interval,
        });
        true
    }

    /// Sends the handshake again to every consumer that has not acknowledged it yet
    /// (Broker's writer re-sends `attach_writer` with each heartbeat).
    pub fn resend_pending_handshakes(&mut self) {
        for p in &self.paths {
            if p.acked == 0 {
                self.out.push(ProducerOutput::Handshake {
                    to: p.hdl.clone(),
                    offset: p.offset,
                    heartbeat_interval: self.heartbeat_interval,
                });
            }
        }
    }

    /// Whether `hdl` acknowledged its handshake at some point.
    pub fn handshake_completed(&self, hdl: &H) -> bool {
        self.find(hdl).is_some_and(|i| self.paths[i].acked != 0)
    }

    /// Removes a consumer (e.g. its peer went away).
    pub fn remove(&mut self, hdl: &H) -> bool {
        match self.find(hdl) {
            Some(i) => {
                self.paths.remove(i);
                self.trim();
                true
            }
            None => false,
        }
    }

    pub fn handle_ack(&mut self, hdl: &H, seq: u64) {
        let Some(i) = self.find(hdl) else { return };
        let p = &mut self.paths[i];
        if p.acked > seq {
            return; // a blast from the past
        }
        p.last_seen = self.tick;
        if p.acked == 0 {
            self.out.push(ProducerOutput::HandshakeCompleted {
                consumer: hdl.clone(),
            });
        } else if p.acked == seq {
            return;
        }
        // Never accept an ack beyond what we produced.
        p.acked = seq.min(self.seq);
        self.trim();
    }

    pub fn handle_nack(&mut self, hdl: &H, seqs: &[u64]) {
        let Some(&first) = seqs.first() else { return };
        let Some(i) = self.find(hdl) else {
            if seqs == [0] {
                self.add(hdl.clone());
            }
            return;
        };
        self.paths[i].last_seen = self.tick;
        if seqs.windows(2).any(|w| w[0] > w[1]) {
            self.paths.remove(i);
            self.out.push(ProducerOutput::Dropped {
                consumer: hdl.clone(),
                reason: "nack with unsorted sequence numbers".into(),
            });
            self.trim();
            return;
        }
        if first == 0 {
            let offset = self.paths[i].offset;
            self.out.push(ProducerOutput::Handshake {
                to: hdl.clone(),
                offset,
                heartbeat_interval: self.heartbeat_interval,
            });
            return;
        }
        self.handle_ack(hdl, first - 1);
        for &seq in seqs {
            match self.buf.iter().find(|(s, _)| *s == seq) {
                Some((_, p)) => self.out.push(ProducerOutput::Event {
                    to: Some(hdl.clone()),
                    seq,
                    payload: p.clone(),
                }),
                None => self.out.push(ProducerOutput::RetransmitFailed {
                    to: hdl.clone(),
                    seq,
                }),
            }
        }
    }

    /// Advances time by one tick: heartbeats and consumer timeouts.
    pub fn tick(&mut self) {
        self.tick += 1;
        if self.heartbeat_interval == 0 {
            return;
        }
        if self.last_broadcast + u64::from(self.heartbeat_interval) <= self.tick {
            self.last_broadcast = self.tick;
            self.out.push(ProducerOutput::Heartbeat { seq: self.seq });
        }
        let timeout = self.connection_timeout();
        let tick = self.tick;
        let mut dropped = Vec::new();
        self.paths.retain(|p| {
            if tick - p.last_seen >= timeout {
                dropped.push(p.hdl.clone());
                false
            } else {
                true
            }
        });
        for d in dropped {
            self.out.push(ProducerOutput::Dropped {
                consumer: d,
                reason: format!("no message from the consumer for {timeout} ticks"),
            });
        }
        self.trim();
    }

    fn trim(&mut self) {
        if self.paths.is_empty() {
            self.buf.clear();
            return;
        }
        let acked = self.paths.iter().map(|p| p.acked).min().unwrap_or(0);
        while matches!(self.buf.front(), Some((s, _)) if *s <= acked) {
            self.buf.pop_front();
        }
    }

    fn find(&self, hdl: &H) -> Option<usize> {
        self.paths.iter().position(|p| p.hdl == *hdl)
    }

    pub fn take_outputs(&mut self) -> Vec<ProducerOutput<H, P>> {
        std::mem::take(&mut self.out)
    }
    pub fn seq(&self) -> u64 {
        self.seq
    }
    pub fn next_seq(&self) -> u64 {
        self.seq + 1
    }
    pub fn consumers(&self) -> Vec<H> {
        self.paths.iter().map(|p| p.hdl.clone()).collect()
    }
    pub fn has_consumer(&self, hdl: &H) -> bool {
        self.find(hdl).is_some()
    }
    /// Events kept for retransmission (not yet acknowledged by every consumer).
    pub fn unacknowledged(&self) -> Vec<(u64, P)> {
        self.buf.iter().cloned().collect()
    }
    pub fn heartbeat_interval(&self) -> u16 {
        self.heartbeat_interval
    }
    pub fn connection_timeout(&self) -> u64 {
        u64::from(self.heartbeat_interval) * u64::from(self.connection_timeout_factor)
    }
    /// Every consumer acknowledged everything.
    pub fn idle(&self) -> bool {
        self.paths.iter().all(|p| p.acked == self.seq)
    }
    /// Events produced that the slowest consumer has not acknowledged (all of them
    /// while no consumer is attached).
    pub fn unacked(&self) -> u64 {
        let min = self.paths.iter().map(|p| p.acked).min().unwrap_or(0);
        self.seq.saturating_sub(min)
    }
    /// Some consumer never acknowledged its handshake.
    pub fn has_pending_paths(&self) -> bool {
        self.paths.iter().any(|p| p.acked == 0)
    }
}

// ---------------------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq)]
pub enum ConsumerOutput<P> {
    /// The next event, in order.
    Deliver { seq: u64, payload: P },
    /// The producer could not retransmit `seq`; delivered in its place when losses are
    /// tolerated (the master's writer inputs).
    Lost { seq: u64 },
    /// Send `cumulative_ack(seq)` to the producer.
    Ack { seq: u64 },
    /// Send `nack(seqs)`; `[0]` asks for the handshake (broadcast while no producer).
    Nack { seqs: Vec<u64> },
    /// The consumer gave up (lost event with losses not tolerated) and was reset.
    Closed { reason: String },
    /// No message from the producer for the connection timeout; the consumer was reset
    /// and asks for a new handshake from now on.
    ProducerTimeout,
}

/// The receiving side of a channel.
#[derive(Debug, Clone)]
pub struct Consumer<H, P> {
    producer: Option<H>,
    next_seq: u64,
    last_seq: u64,
    buf: VecDeque<(u64, Option<P>)>,
    tick: u64,
    last_tick_seq: u64,
    idle_ticks: u32,
    heartbeat_interval: u16,
    nack_timeout: u16,
    handshake_retry: u32,
    connection_timeout_factor: u16,
    tolerate_loss: bool,
    last_heard: u64,
    out: Vec<ConsumerOutput<P>>,
}

impl<H: Clone + PartialEq, P: Clone> Consumer<H, P> {
    /// `tolerate_loss`: true for the master's writer inputs (Broker logs and goes on),
    /// false for clones (a lost update means the copy is broken: close and resync).
    pub fn new(tolerate_loss: bool) -> Self {
        Consumer {
            producer: None,
            next_seq: 0,
            last_seq: 0,
            buf: VecDeque::new(),
            tick: 1,
            last_tick_seq: 0,
            idle_ticks: 0,
            heartbeat_interval: 0,
            nack_timeout: DEFAULT_NACK_TIMEOUT,
            handshake_retry: u32::from(DEFAULT_NACK_TIMEOUT),
            connection_timeout_factor: DEFAULT_CONNECTION_TIMEOUT_FACTOR,
            tolerate_loss,
            last_heard: 1,
            out: Vec::new(),
        }
    }

    pub fn set_nack_timeout(&mut self, ticks: u16) {
        self.nack_timeout = ticks.max(1);
    }
    /// Ticks between `nack([0])` requests while no producer is known.
    pub fn set_handshake_retry(&mut self, ticks: u32) {
        self.handshake_retry = ticks.max(1);
    }
    pub fn set_connection_timeout_factor(&mut self, f: u16) {
        self.connection_timeout_factor = f.max(1);
    }

    /// Starts the stream after `offset`. Returns false (and ignores it) when already
    /// initialised.
    pub fn handle_handshake(&mut self, producer: H, offset: u64, heartbeat_interval: u16) -> bool {
        if self.initialized() {
            return false;
        }
        self.producer = Some(producer);
        self.next_seq = offset.saturating_add(1);
        self.last_seq = self.next_seq;
        self.heartbeat_interval = heartbeat_interval;
        self.last_heard = self.tick;
        while matches!(self.buf.front(), Some((s, _)) if *s <= offset) {
            self.buf.pop_front();
        }
        self.try_consume_buffer();
        if self.initialized() {
            self.send_ack();
        }
        true
    }

    pub fn handle_heartbeat(&mut self, seq: u64) {
        if self.last_seq == 0 {
            return;
        }
        self.last_heard = self.tick;
        if seq == 0 {
            return;
        }
        if seq.saturating_add(1) > self.last_seq {
            self.last_seq = seq.saturating_add(1);
        }
    }

    pub fn handle_event(&mut self, seq: u64, payload: P) {
        if self.initialized() {
            self.last_heard = self.tick;
        }
        if self.next_seq == seq && seq != 0 {
            self.out.push(ConsumerOutput::Deliver { seq, payload });
            self.bump_seq();
            self.try_consume_buffer();
        } else if seq > self.next_seq {
            if self.initialized() && seq - self.next_seq > MAX_OUT_OF_ORDER {
                return;
            }
            if self.buf.len() as u64 >= MAX_OUT_OF_ORDER {
                return;
            }
            if seq > self.last_seq {
                self.last_seq = seq;
            }
            match self.buf.iter().position(|(s, _)| *s >= seq) {
                None => self.buf.push_back((seq, Some(payload))),
                Some(i) if self.buf[i].0 != seq => self.buf.insert(i, (seq, Some(payload))),
                Some(i) => {
                    if self.buf[i].1.is_none() {
                        self.buf[i].1 = Some(payload);
                    }
                }
            }
        }
    }

    pub fn handle_retransmit_failed(&mut self, seq: u64) {
        if !self.initialized() {
            return;
        }
        self.last_heard = self.tick;
        if self.next_seq == seq {
            if !self.consume_nil(seq) {
                return;
            }
            self.bump_seq();
            self.try_consume_buffer();
        } else if seq > self.next_seq && seq - self.next_seq <= MAX_OUT_OF_ORDER {
            match self.buf.iter().position(|(s, _)| *s >= seq) {
                None => self.buf.push_back((seq, None)),
                Some(i) if self.buf[i].0 != seq => self.buf.insert(i, (seq, None)),
                Some(_) => {}
            }
        }
    }

    /// Advances time by one tick: NACKs for gaps, periodic ACKs, handshake requests, and
    /// the producer timeout.
    pub fn tick(&mut self) {
        self.tick += 1;
        if !self.initialized() {
            self.idle_ticks += 1;
            if self.idle_ticks >= self.handshake_retry {
                self.idle_ticks = 0;
                self.out.push(ConsumerOutput::Nack { seqs: vec![0] });
            }
            return;
        }
        if self.heartbeat_interval > 0 {
            let timeout =
                u64::from(self.heartbeat_interval) * u64::from(self.connection_timeout_factor);
            if self.tick - self.last_heard >= timeout {
                self.reset();
                self.out.push(ConsumerOutput::ProducerTimeout);
                return;
            }
        }
        let progressed = self.next_seq > self.last_tick_seq;
        self.last_tick_seq = self.next_seq;
        let ack_due = self.heartbeat_interval > 0
            && (self.tick - 1) % u64::from(self.heartbeat_interval) == 0;
        if progressed {
            self.idle_ticks = 0;
            if ack_due {
                self.send_ack();
            }
            return;
        }
        self.idle_ticks += 1;
        if self.next_seq < self.last_seq && self.idle_ticks >= u32::from(self.nack_timeout) {
            self.idle_ticks = 0;
            let mut seqs = Vec::new();
            let mut i = self.next_seq;
            for (found, _) in self
                .buf
                .iter()
                .map(|(s, p)| (*s, p))
                .chain(std::iter::once((self.last_seq, &None)))
            {
                while i < found && (seqs.len() as u64) < MAX_OUT_OF_ORDER {
                    seqs.push(i);
                    i += 1;
                }
                i = found.saturating_add(1);
            }
            if !seqs.is_empty() {
                self.out.push(ConsumerOutput::Nack { seqs });
            }
            return;
        }
        if ack_due {
            self.send_ack();
        }
    }

    /// Forgets the producer and all state; the next ticks ask for a new handshake.
    pub fn reset(&mut self) {
        self.producer = None;
        self.next_seq = 0;
        self.last_seq = 0;
        self.buf.clear();
        self.last_tick_seq = 0;
        self.idle_ticks = 0;
        self.heartbeat_interval = 0;
    }

    fn consume_nil(&mut self, seq: u64) -> bool {
        if self.tolerate_loss {
            self.out.push(ConsumerOutput::Lost { seq });
            true
        } else {
            self.reset();
            self.out.push(ConsumerOutput::Closed {
                reason: format!("update {seq} was lost: the producer can no longer retransmit it"),
            });
            false
        }
    }

    fn bump_seq(&mut self) {
        self.next_seq += 1;
        if self.next_seq > self.last_seq {
            self.last_seq = self.next_seq;
        }
    }

    fn try_consume_buffer(&mut self) {
        while matches!(self.buf.front(), Some((s, _)) if *s == self.next_seq) {
            let Some((seq, p)) = self.buf.pop_front() else {
                break;
            };
            match p {
                Some(payload) => self.out.push(ConsumerOutput::Deliver { seq, payload }),
                None => {
                    if !self.consume_nil(seq) {
                        return;
                    }
                }
            }
            self.bump_seq();
        }
    }

    fn send_ack(&mut self) {
        self.out.push(ConsumerOutput::Ack {
            seq: self.next_seq.saturating_sub(1),
        });
    }

    pub fn take_outputs(&mut self) -> Vec<ConsumerOutput<P>> {
        std::mem::take(&mut self.out)
    }
    pub fn initialized(&self) -> bool {
        self.next_seq != 0
    }
    pub fn producer(&self) -> Option<&H> {
        self.producer.as_ref()
    }
    pub fn next_seq(&self) -> u64 {
        self.next_seq
    }
    pub fn last_seq(&self) -> u64 {
        self.last_seq
    }
    /// Initialised, nothing buffered, nothing known missing.
    pub fn idle(&self) -> bool {
        self.initialized() && self.buf.is_empty() && self.next_seq == self.last_seq
    }
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }
    /// Ticks since creation (Broker's `num_ticks`).
    pub fn num_ticks(&self) -> u64 {
        self.tick - 1
    }
    /// Consecutive ticks without progress.
    pub fn idle_ticks(&self) -> u32 {
        self.idle_ticks
    }
}

#[cfg(test)]
mod tests;
