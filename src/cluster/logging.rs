//! Log streams of a cluster node, sent as a Zeek worker sends them with the Broker
//! backend (reference/zeek8.md 4.2), and handed to the log worker on a node that writes
//! logs.
//!
//! - A stream is created locally ([`Runtime::create_log_stream`]); its writer comes to
//!   life with its first record. Then a LogCreate is **broadcast** on
//!   `zeek/logs/<stream id>`, and from then on re-sent **directly** (envelope receiver
//!   set) to every node that comes up, as `SendAllWritersTo` does. Deliberate
//!   difference: Zeek sends them at `peer_added` to every peer; zcluster sends them when
//!   the peer's `Cluster::hello` arrives, so only cluster nodes get them (not controllers
//!   or other clients peering with the node), still before any LogWrite to that node.
//! - Each record becomes one LogWrite, addressed to the node topic of the next live
//!   logger in round robin (`Cluster::rr_log_topic` with
//!   `Cluster::enable_round_robin_logging`, the default) or the first live one, the
//!   manager when `Cluster::manager_is_logger`. LogWrites are queued per stream and
//!   topic and go out as one Batch per topic when the stream has
//!   `Broker::log_batch_size` (400) pending, every `Broker::log_batch_interval` (1 s), at
//!   unpeer and at shutdown.
//! - Deliberate differences from Zeek, which drops records nobody can take: while no
//!   logger is alive, records are kept (up to [`LOG_BUFFER_LIMIT`], then the oldest is
//!   dropped and counted) and sent when a logger says hello; the batch pending for a
//!   logger that goes down is re-routed to the others (or kept). Records already sent to
//!   a logger that dies before writing them are lost, as with Zeek.
//! - Backpressure: the host's `log_write` waits while [`PENDING_LIMIT`] records are queued
//!   for sending (the publishing thread waits on the endpoint's own bounded queue).
//! - Publishing runs on one thread per node (`zc-log-send`), so LogCreates and batches
//!   leave in order; the endpoint's I/O thread only raises flags.
//!
//! On a node that writes logs, records go straight to the log worker
//! ([`crate::log::manager`]), and received LogCreate / LogWrite / Batch messages are
//! handed to it by the I/O thread.

use crate::data::Value;
use crate::endpoint::Endpoint;
use crate::error::{Error, Result};
use crate::log::message::{self, WriterInfo};
use crate::log::{zeekser, LogStream};
use crate::wire::EndpointId;
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

/// Records kept while no logger is reachable; older ones are dropped and counted.
pub const LOG_BUFFER_LIMIT: usize = 100_000;
/// Records queued for sending before `log_write` waits.
pub const PENDING_LIMIT: usize = 20_000;

/// Counters of the sending side.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LogSendStats {
    /// Records sent in batches so far.
    pub sent: u64,
    /// Batches published.
    pub batches: u64,
    /// Records waiting for a logger to come up.
    pub buffered: usize,
    /// Records dropped because no logger came up before the buffer filled.
    pub dropped: u64,
    /// Records queued for the next batch.
    pub pending: usize,
}

struct StreamState {
    stream: Arc<LogStream>,
    /// The LogCreate bytes (made when the writer comes to life).
    create: Option<Vec<u8>>,
    announced: bool,
    /// Pending LogWrites, per destination topic.
    batches: HashMap<String, TopicBatch>,
    pending: usize,
}

#[derive(Default)]
struct TopicBatch {
    bytes: Vec<u8>,
    ends: Vec<usize>,
}

/// What the publishing thread sends.
pub(crate) struct Outgoing {
    pub topic: String,
    pub payload: Vec<u8>,
    pub receiver: Option<EndpointId>,
}

/// The sending state (inside the cluster state's lock).
pub(crate) struct Sender {
    streams: HashMap<String, StreamState>,
    order: Vec<String>,
    /// (stream id, LogWrite bytes) waiting for a logger.
    buffer: VecDeque<(String, Vec<u8>)>,
    peers_to_greet: Vec<EndpointId>,
    flush_requested: bool,
    batch_size: usize,
    pub(crate) interval: Duration,
    pub(crate) next_flush: Instant,
    stats: LogSendStats,
    pending_total: usize,
    pub(crate) stopping: bool,
}

impl Sender {
    pub(crate) fn new(batch_size: usize, interval: Duration) -> Sender {
        let interval = if interval.is_zero() {
            Duration::from_millis(1)
        } else {
            interval
        };
        Sender {
            streams: HashMap::new(),
            order: Vec::new(),
            buffer: VecDeque::new(),
            peers_to_greet: Vec::new(),
            flush_requested: false,
            batch_size: batch_size.max(1),
            interval,
            next_flush: Instant::now() + interval,
            stats: LogSendStats::default(),
            pending_total: 0,
            stopping: false,
        }
    }

    /// Registers a stream; the same definition again is fine, another one is an error.
    pub(crate) fn create(&mut self, stream: LogStream) -> Result<()> {
        stream.validate()?;
        if let Some(s) = self.streams.get(&stream.id) {
            if *s.stream == stream {
                return Ok(());
            }
            return Err(Error::state(format!(
                "log stream {} already exists with other columns or path",
                stream.id
            )));
        }
        self.order.push(stream.id.clone());
        self.streams.insert(
            stream.id.clone(),
            StreamState {
                stream: Arc::new(stream),
                create: None,
                announced: false,
                batches: HashMap::new(),
                pending: 0,
            },
        );
        Ok(())
    }

    pub(crate) fn stream(&self, id: &str) -> Result<Arc<LogStream>> {
        self.streams
            .get(id)
            .map(|s| s.stream.clone())
            .ok_or_else(|| {
                Error::not_found(format!(
                    "no log stream {id} (create it with create_log_stream first)"
                ))
            })
    }

    /// Whether the stream's writer exists (it had a record).
    pub(crate) fn has_create(&self, id: &str) -> bool {
        self.streams.get(id).is_some_and(|s| s.create.is_some())
    }

    pub(crate) fn pending_total(&self) -> usize {
        self.pending_total
    }

    /// Checks and encodes a record as a LogWrite; the writer comes to life.
    pub(crate) fn encode(&mut self, id: &str, record: &[Value]) -> Result<Vec<u8>> {
        let s = self.streams.get_mut(id).ok_or_else(|| {
            Error::not_found(format!(
                "no log stream {id} (create it with create_log_stream first)"
            ))
        })?;
        s.stream.check(record)?;
        let mut serial = Vec::with_capacity(16 * record.len());
        zeekser::encode_record(&s.stream.fields, record, &mut serial)?;
        let mut out = Vec::with_capacity(serial.len() + 64);
        message::encode_log_write(
            &s.stream.id,
            message::WRITER_ASCII,
            &s.stream.path,
            &serial,
            &mut out,
        )?;
        if s.create.is_none() {
            let now = SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .map(|d| d.as_secs_f64())
                .unwrap_or(0.0);
            s.create = Some(message::encode_log_create(
                &s.stream.id,
                message::WRITER_ASCII,
                &WriterInfo::new(&s.stream.path, now),
                &s.stream.fields,
            )?);
        }
        Ok(out)
    }

    /// Queues an encoded LogWrite for `topic` (a live logger), or keeps it while none is.
    /// Returns whether the publishing thread should run now (a batch is full).
    pub(crate) fn enqueue(&mut self, id: &str, bytes: Vec<u8>, topic: Option<String>) -> bool {
        let Some(topic) = topic else {
            if self.buffer.len() >= LOG_BUFFER_LIMIT {
                self.buffer.pop_front();
                self.stats.dropped += 1;
            }
            self.buffer.push_back((id.to_string(), bytes));
            return false;
        };
        let Some(s) = self.streams.get_mut(id) else {
            return false;
        };
        let b = s.batches.entry(topic).or_default();
        b.bytes.extend_from_slice(&bytes);
        b.ends.push(b.bytes.len());
        s.pending += 1;
        self.pending_total += 1;
        s.pending >= self.batch_size
    }

    /// The buffered records, to route again (a logger came up).
    pub(crate) fn take_buffer(&mut self) -> Vec<(String, Vec<u8>)> {
        self.buffer.drain(..).collect()
    }

    /// Takes the records pending for `topic` (its logger went down), to route again.
    pub(crate) fn take_topic(&mut self, topic: &str) -> Vec<(String, Vec<u8>)> {
        let mut out = Vec::new();
        for (id, s) in self.streams.iter_mut() {
            if let Some(b) = s.batches.remove(topic) {
                let mut start = 0;
                for &end in &b.ends {
                    out.push((id.clone(), b.bytes[start..end].to_vec()));
                    start = end;
                }
                s.pending -= b.ends.len();
                self.pending_total -= b.ends.len();
            }
        }
        out
    }

    /// A new peer: it gets every existing writer's LogCreate directly.
    pub(crate) fn greet(&mut self, peer: EndpointId) {
        self.peers_to_greet.push(peer);
    }

    pub(crate) fn request_flush(&mut self) {
        self.flush_requested = true;
    }

    /// Whether the publishing thread has something to do now.
    pub(crate) fn has_work(&self, now: Instant) -> bool {
        self.flush_requested
            || !self.peers_to_greet.is_empty()
            || self.stopping
            || (now >= self.next_flush && self.pending_total > 0)
            || self
                .streams
                .values()
                .any(|s| s.pending >= self.batch_size || (s.create.is_some() && !s.announced))
    }

    /// Everything due now, in the order it must leave: direct LogCreates to new peers,
    /// broadcast LogCreates of new writers, then one Batch per stream and topic for the
    /// streams that are full (or all when flushing).
    pub(crate) fn take_due(&mut self, now: Instant) -> Vec<Outgoing> {
        let mut out = Vec::new();
        let all = self.flush_requested || self.stopping || now >= self.next_flush;
        if now >= self.next_flush {
            self.next_flush = now + self.interval;
        }
        self.flush_requested = false;
        for peer in std::mem::take(&mut self.peers_to_greet) {
            for id in &self.order {
                let s = &self.streams[id];
                if let Some(c) = &s.create {
                    out.push(Outgoing {
                        topic: format!("zeek/logs/{id}"),
                        payload: c.clone(),
                        receiver: Some(peer),
                    });
                }
            }
        }
        for id in &self.order {
            let Some(s) = self.streams.get_mut(id) else {
                continue;
            };
            if let (Some(c), false) = (&s.create, s.announced) {
                s.announced = true;
                out.push(Outgoing {
                    topic: format!("zeek/logs/{id}"),
                    payload: c.clone(),
                    receiver: None,
                });
            }
            if s.pending == 0 || !(all || s.pending >= self.batch_size) {
                continue;
            }
            let mut topics: Vec<String> = s.batches.keys().cloned().collect();
            topics.sort();
            for t in topics {
                let Some(b) = s.batches.remove(&t) else {
                    continue;
                };
                let mut payload = Vec::with_capacity(b.bytes.len() + 32);
                if message::encode_batch(b.ends.len(), &b.bytes, &mut payload).is_err() {
                    continue;
                }
                self.stats.sent += b.ends.len() as u64;
                self.stats.batches += 1;
                self.pending_total -= b.ends.len();
                out.push(Outgoing {
                    topic: t,
                    payload,
                    receiver: None,
                });
            }
            s.pending = 0;
        }
        out
    }

    pub(crate) fn stats(&self) -> LogSendStats {
        LogSendStats {
            buffered: self.buffer.len(),
            pending: self.pending_total,
            ..self.stats
        }
    }
}

/// Publishes what `take_due` gave (on the publishing thread or a flushing host thread).
pub(crate) fn publish_all(ep: &Endpoint, out: Vec<Outgoing>) {
    for o in out {
        let _ = match o.receiver {
            Some(r) => ep.publish_direct(&o.topic, o.payload, r),
            None => ep.publish(&o.topic, o.payload),
        };
    }
}
