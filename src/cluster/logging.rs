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
//! - What a logger killed with SIGKILL loses, exactly (tested by
//!   `bindings/python/tests/test_log_kill.py`): nothing it had written (its log worker
//!   hands the file bytes to the kernel whenever its queue runs empty, see
//!   [`crate::log::manager`]; no fsync, so a machine crash can lose the page cache);
//!   nothing the worker had not sent yet (the pending batch is re-routed or kept at
//!   node down); but the records in flight, sent and not yet written (the sockets'
//!   buffers, the logger's queue of at most `LogConfig::queue_limit` messages), are lost
//!   and cannot be counted: Broker has no acknowledgement for log messages and a Zeek
//!   logger sends none. A Zeek logger loses more at a kill (its writers buffer up to a
//!   second of records in memory).
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
    /// Pending LogWrites, per destination topic (a few loggers: a short list).
    batches: Vec<(String, TopicBatch)>,
    pending: usize,
    /// The size of the last batch sent (new batches start with that capacity).
    cap_hint: usize,
}

/// LogWrites for one topic, encoded one after the other behind room for the Batch
/// header, so that a batch of 128..16383 records leaves without being copied.
struct TopicBatch {
    /// `BATCH_PREFIX` bytes of room, then the messages.
    bytes: Vec<u8>,
    /// Where each message ends (offsets in `bytes`).
    ends: Vec<usize>,
}

/// A Batch header's length when its record count takes two varbyte bytes (128..16383):
/// `[1, 5, vector` (20 bytes) + the vector tag + the count.
const BATCH_PREFIX: usize = 23;

impl TopicBatch {
    fn new(capacity: usize) -> TopicBatch {
        let mut bytes = Vec::with_capacity(capacity.max(BATCH_PREFIX + 1024));
        bytes.resize(BATCH_PREFIX, 0);
        TopicBatch {
            bytes,
            ends: Vec::new(),
        }
    }

    /// The Batch message (the header written into the room when it fits exactly).
    fn into_payload(self) -> Result<Vec<u8>> {
        let mut head = Vec::with_capacity(32);
        message::encode_batch(self.ends.len(), &[], &mut head)?;
        let mut bytes = self.bytes;
        if head.len() == BATCH_PREFIX {
            bytes[..BATCH_PREFIX].copy_from_slice(&head);
            return Ok(bytes);
        }
        head.extend_from_slice(&bytes[BATCH_PREFIX..]);
        Ok(head)
    }
}

/// What the publishing thread sends.
pub(crate) struct Outgoing {
    pub topic: String,
    pub payload: Vec<u8>,
    pub receiver: Option<EndpointId>,
}

/// The sending state (inside the cluster state's lock).
pub(crate) struct Sender {
    /// In creation order (the order LogCreates leave in).
    streams: Vec<StreamState>,
    index: HashMap<String, usize>,
    /// The stream of the last write (most writes are to the same stream as the last).
    last: usize,
    /// One record's serialization (reused).
    serial: Vec<u8>,
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

fn no_stream(id: &str) -> Error {
    Error::not_found(format!(
        "no log stream {id} (create it with create_log_stream first)"
    ))
}

impl Sender {
    pub(crate) fn new(batch_size: usize, interval: Duration) -> Sender {
        let interval = if interval.is_zero() {
            Duration::from_millis(1)
        } else {
            interval
        };
        Sender {
            streams: Vec::new(),
            index: HashMap::new(),
            last: 0,
            serial: Vec::new(),
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
        if let Some(&i) = self.index.get(&stream.id) {
            if *self.streams[i].stream == stream {
                return Ok(());
            }
            return Err(Error::state(format!(
                "log stream {} already exists with other columns or path",
                stream.id
            )));
        }
        self.index.insert(stream.id.clone(), self.streams.len());
        self.streams.push(StreamState {
            stream: Arc::new(stream),
            create: None,
            announced: false,
            batches: Vec::new(),
            pending: 0,
            cap_hint: 0,
        });
        Ok(())
    }

    fn find(&mut self, id: &str) -> Option<usize> {
        if self
            .streams
            .get(self.last)
            .is_some_and(|s| s.stream.id == id)
        {
            return Some(self.last);
        }
        let i = *self.index.get(id)?;
        self.last = i;
        Some(i)
    }

    pub(crate) fn stream(&self, id: &str) -> Result<Arc<LogStream>> {
        self.index
            .get(id)
            .map(|&i| self.streams[i].stream.clone())
            .ok_or_else(|| no_stream(id))
    }

    pub(crate) fn pending_total(&self) -> usize {
        self.pending_total
    }

    /// Checks a record of stream `id` and encodes it as a LogWrite straight into the
    /// batch for `topic` (a live logger), or keeps it while there is none (`None`). The
    /// stream's writer comes to life with its first record. Returns whether the
    /// publishing thread should run now (a new writer to announce, or a full batch).
    pub(crate) fn write(
        &mut self,
        id: &str,
        record: &[Value],
        topic: Option<&str>,
    ) -> Result<bool> {
        let i = self.find(id).ok_or_else(|| no_stream(id))?;
        let Sender {
            streams,
            serial,
            buffer,
            stats,
            pending_total,
            batch_size,
            ..
        } = self;
        let s = &mut streams[i];
        // The serialization checks each value's type; what it does not see (a required
        // column unset, an unset set element) is looked at first. Any failure gets the
        // full check's error, which names the column.
        let unset_required = s.stream.fields.iter().zip(record).any(|(f, v)| match v {
            Value::None => !f.optional,
            Value::Set(items) => items.contains(&Value::None),
            _ => false,
        });
        serial.clear();
        if unset_required
            || record.len() != s.stream.fields.len()
            || zeekser::encode_record(&s.stream.fields, record, serial).is_err()
        {
            s.stream.check(record)?;
            serial.clear();
            zeekser::encode_record(&s.stream.fields, record, serial)?;
        }
        let first = s.create.is_none();
        if first {
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
        let Some(topic) = topic else {
            let mut out = Vec::with_capacity(serial.len() + 64);
            message::encode_log_write(
                &s.stream.id,
                message::WRITER_ASCII,
                &s.stream.path,
                serial,
                &mut out,
            )?;
            if buffer.len() >= LOG_BUFFER_LIMIT {
                buffer.pop_front();
                stats.dropped += 1;
            }
            buffer.push_back((s.stream.id.clone(), out));
            return Ok(first);
        };
        let b = match s.batches.iter().position(|(t, _)| t == topic) {
            Some(k) => &mut s.batches[k].1,
            None => {
                s.batches
                    .push((topic.to_string(), TopicBatch::new(s.cap_hint)));
                &mut s.batches.last_mut().expect("just pushed").1
            }
        };
        let before = b.bytes.len();
        if let Err(e) = message::encode_log_write(
            &s.stream.id,
            message::WRITER_ASCII,
            &s.stream.path,
            serial,
            &mut b.bytes,
        ) {
            b.bytes.truncate(before);
            return Err(e);
        }
        b.ends.push(b.bytes.len());
        s.pending += 1;
        *pending_total += 1;
        Ok(first || s.pending >= *batch_size)
    }

    /// Queues an encoded LogWrite for `topic` (a live logger), or keeps it while none is.
    /// Returns whether the publishing thread should run now (a batch is full).
    pub(crate) fn enqueue(&mut self, id: &str, bytes: Vec<u8>, topic: Option<&str>) -> bool {
        let Some(topic) = topic else {
            if self.buffer.len() >= LOG_BUFFER_LIMIT {
                self.buffer.pop_front();
                self.stats.dropped += 1;
            }
            self.buffer.push_back((id.to_string(), bytes));
            return false;
        };
        let Some(i) = self.find(id) else {
            return false;
        };
        let s = &mut self.streams[i];
        let b = match s.batches.iter().position(|(t, _)| t == topic) {
            Some(k) => &mut s.batches[k].1,
            None => {
                s.batches
                    .push((topic.to_string(), TopicBatch::new(s.cap_hint)));
                &mut s.batches.last_mut().expect("just pushed").1
            }
        };
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
        for s in self.streams.iter_mut() {
            if let Some(k) = s.batches.iter().position(|(t, _)| t == topic) {
                let (_, b) = s.batches.remove(k);
                let mut start = BATCH_PREFIX;
                for &end in &b.ends {
                    out.push((s.stream.id.clone(), b.bytes[start..end].to_vec()));
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
                .iter()
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
            for s in &self.streams {
                if let Some(c) = &s.create {
                    out.push(Outgoing {
                        topic: format!("zeek/logs/{}", s.stream.id),
                        payload: c.clone(),
                        receiver: Some(peer),
                    });
                }
            }
        }
        for s in self.streams.iter_mut() {
            if let (Some(c), false) = (&s.create, s.announced) {
                s.announced = true;
                out.push(Outgoing {
                    topic: format!("zeek/logs/{}", s.stream.id),
                    payload: c.clone(),
                    receiver: None,
                });
            }
            if s.pending == 0 || !(all || s.pending >= self.batch_size) {
                continue;
            }
            let mut batches = std::mem::take(&mut s.batches);
            batches.sort_by(|a, b| a.0.cmp(&b.0));
            for (t, b) in batches {
                if b.ends.is_empty() {
                    continue;
                }
                let n = b.ends.len();
                s.cap_hint = b.bytes.len().min(4 << 20);
                self.pending_total -= n;
                let Ok(payload) = b.into_payload() else {
                    // More than 2^32 records (never): counted, not silently lost.
                    self.stats.dropped += n as u64;
                    continue;
                };
                self.stats.sent += n as u64;
                self.stats.batches += 1;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::message::{parse, LogMessage};
    use crate::log::ZeekType;

    fn sender() -> Sender {
        let mut s = Sender::new(400, Duration::from_secs(1));
        s.create(LogStream::new("T::LOG", "t").column("seq", ZeekType::Count))
            .unwrap();
        s
    }

    fn seq_of(write: &[u8]) -> u64 {
        match &parse(write).unwrap()[..] {
            [LogMessage::Write { serial, .. }] => {
                u64::from_be_bytes(serial[serial.len() - 8..].try_into().unwrap())
            }
            m => panic!("not one LogWrite: {m:?}"),
        }
    }

    #[test]
    fn without_a_logger_the_buffer_is_bounded_and_every_drop_counted() {
        let mut s = sender();
        let n = LOG_BUFFER_LIMIT as u64 + 25;
        for i in 0..n {
            s.write("T::LOG", &[Value::Count(i)], None).unwrap();
        }
        let st = s.stats();
        assert_eq!((st.buffered, st.dropped), (LOG_BUFFER_LIMIT, 25));
        // The oldest went; the newest are kept, in order.
        let kept = s.take_buffer();
        assert_eq!(seq_of(&kept[0].1), 25);
        assert_eq!(seq_of(&kept.last().unwrap().1), n - 1);
    }

    #[test]
    fn batches_are_encoded_in_place_and_rerouted_whole() {
        let mut s = sender();
        for i in 0..1000u64 {
            let topic = if i % 2 == 0 {
                "zeek/cluster/node/a/"
            } else {
                "zeek/cluster/node/b/"
            };
            s.write("T::LOG", &[Value::Count(i)], Some(topic)).unwrap();
        }
        // Logger b goes: its 500 records come back one by one, in order.
        let back = s.take_topic("zeek/cluster/node/b/");
        assert_eq!(back.len(), 500);
        assert!(back
            .iter()
            .enumerate()
            .all(|(k, (_, w))| seq_of(w) == 2 * k as u64 + 1));
        let out = s.take_due(Instant::now() + Duration::from_secs(2));
        // The LogCreate broadcast, then one Batch of 500 for a (the header written into
        // the room kept for it) that parses into the 500 LogWrites in order.
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].topic, "zeek/logs/T::LOG");
        let msgs = parse(&out[1].payload).unwrap();
        assert_eq!(msgs.len(), 500);
        let mut one = Vec::new();
        message::encode_batch(
            500,
            &back
                .iter()
                .flat_map(|(_, w)| w.clone())
                .collect::<Vec<u8>>(),
            &mut one,
        )
        .unwrap();
        assert_eq!(out[1].payload.len(), one.len());
        // A small batch (fewer than 128 records) is copied behind a shorter header.
        for i in 0..3u64 {
            s.write("T::LOG", &[Value::Count(i)], Some("zeek/cluster/node/a/"))
                .unwrap();
        }
        s.request_flush();
        let out = s.take_due(Instant::now());
        assert_eq!(parse(&out[0].payload).unwrap().len(), 3);
        assert_eq!(s.stats().sent, 503);
    }
}
