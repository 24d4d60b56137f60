//! Logs on the ZeroMQ backend, as Zeek sends and receives them (reference zeek8.md 3.2,
//! 3.5, 4.3, 4.4; `Z:src/logging/WriterFrontend.cc` `Write` / `FlushWriteBuffer`,
//! `Z:src/cluster/backend/zeromq/ZeroMQ.cc` `DoPublishLogWrites`, `HandleLogMessages`).
//!
//! Sending (every node that does not write logs): records are buffered per writer, that
//! is per (stream, filter `default`, path), and a buffer is flushed as **one** `log-write`
//! message holding all its records when it holds `Log::write_buffer_size` (1000), when
//! `Log::flush_interval` (1 s) expires, at `flush_log` and at shutdown. The message is
//! Zeek's 4 frames `log-write`, our node id, `zeek-bin-serializer`, and the
//! `zeek-bin-serializer` payload (stream, writer `Log::WRITER_ASCII`, filter, path,
//! fields, records). They go to the node's single PUSH socket, connected to every
//! logger's layout port; libzmq hands each message to one of them in round robin, as in
//! Zeek. Records are encoded on the host's thread when they are written; the I/O thread
//! only sends bytes.
//!
//! Receiving (loggers, and the manager with `Cluster::manager_is_logger`): the PULL bound
//! on the layout port decodes each batch and hands its records to the node's log worker,
//! which writes `<path>.log` like any other log.
//!
//! Deliberate differences from Zeek:
//! - Backpressure instead of loss: where Zeek's `dontwait` send fails at the PUSH
//!   high-water mark ("Failed to send log write. HWM reached?") and the batch is lost,
//!   zcluster keeps the batch and sends it when there is room; `log_write` waits once
//!   `LOG_QUEUE_LIMIT` batches wait.
//! - A Zeek logger accepts a batch only for a stream, filter and schema its own scripts
//!   define (`WriteBatchFromRemote`). A zcluster logger has no scripts: it takes the
//!   schema from the batch, as Broker's LogCreate does (the first schema of a path wins;
//!   records that do not fit it are counted as dropped by the log worker). Batches for
//!   `Log::WRITER_NONE` write nothing, as that writer does. A batch that does not decode
//!   is counted (`logs_malformed`) and dropped whole; one in another format is counted
//!   (`wrong_format`), as Zeek's "Got log message in format ...".

use super::frames;
use super::node::{LogShared, LOG_QUEUE_LIMIT};
use super::ZmqStats;
use crate::data::Value;
use crate::endpoint::HookWaker;
use crate::error::Result;
use crate::log::manager::LogManager;
use crate::log::zeekser::{self, Field, Writer};
use crate::log::{LogField, LogStream};
use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Zeek's `Log::write_buffer_size` default.
pub const WRITE_BUFFER_SIZE: usize = 1000;
/// Zeek's `Log::flush_interval` default.
pub const FLUSH_INTERVAL: Duration = Duration::from_secs(1);

/// The filter every zcluster stream has (Zeek's default filter).
pub const DEFAULT_FILTER: &str = "default";

struct Pending {
    /// The payload up to and including the fields (`num_records` and the records follow).
    header: Vec<u8>,
    /// The records' values, back to back.
    body: Vec<u8>,
    n: u32,
    fields: Vec<LogField>,
}

/// The sending side: one write buffer per stream (see the module docs).
pub(crate) struct LogBatcher {
    shared: Arc<LogShared>,
    waker: Option<HookWaker>,
    buffer_size: usize,
    interval: Duration,
    pub(crate) next_flush: Instant,
    pending: HashMap<String, Pending>,
    /// Records not yet flushed.
    queued: usize,
    pub(crate) records_sent: u64,
    pub(crate) batches: u64,
}

/// The `zeek-bin-serializer` header of a stream's batches (everything before
/// `num_records`).
pub fn batch_header(stream: &LogStream) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(64 + 24 * stream.fields.len());
    let mut w = Writer { out: &mut out };
    w.bytes(stream.id.as_bytes())?;
    w.bytes(crate::log::message::WRITER_ASCII.as_bytes())?;
    w.bytes(DEFAULT_FILTER.as_bytes())?;
    w.bytes(stream.path.as_bytes())?;
    w.u32(stream.fields.len() as u32);
    for f in &stream.fields {
        w.field(&Field::from(f))?;
    }
    Ok(out)
}

impl LogBatcher {
    pub(crate) fn new(
        shared: Arc<LogShared>,
        waker: Option<HookWaker>,
        buffer_size: usize,
        interval: Duration,
    ) -> LogBatcher {
        let interval = interval.max(Duration::from_millis(1));
        LogBatcher {
            shared,
            waker,
            buffer_size: buffer_size.max(1),
            interval,
            next_flush: Instant::now() + interval,
            pending: HashMap::new(),
            queued: 0,
            records_sent: 0,
            batches: 0,
        }
    }

    /// Adds one record (already checked against the stream); a full buffer is sent.
    /// Returns whether the buffers were empty before (the flush timer starts: wake the
    /// thread that runs it).
    pub(crate) fn add(&mut self, stream: &LogStream, record: &[Value]) -> Result<bool> {
        if !self.pending.contains_key(&stream.id) {
            let header = batch_header(stream)?;
            self.pending.insert(
                stream.id.clone(),
                Pending {
                    header,
                    body: Vec::new(),
                    n: 0,
                    fields: stream.fields.clone(),
                },
            );
        }
        let p = self.pending.get_mut(&stream.id).expect("inserted above");
        if p.fields != stream.fields {
            return Err(crate::Error::state(format!(
                "log stream {} changed its columns",
                stream.id
            )));
        }
        let mark = p.body.len();
        let mut w = Writer { out: &mut p.body };
        for (f, v) in p.fields.iter().zip(record) {
            if let Err(e) = w.value(&f.ty, 0, v) {
                p.body.truncate(mark);
                return Err(crate::Error::new(
                    e.kind,
                    format!("field \"{}\": {}", f.name, e.message),
                ));
            }
        }
        p.n += 1;
        let first = self.queued == 0;
        if first {
            let now = Instant::now();
            if self.next_flush <= now {
                self.next_flush = now + self.interval;
            }
        }
        self.queued += 1;
        if p.n as usize >= self.buffer_size {
            let id = stream.id.clone();
            self.send(&id);
            self.wake();
        }
        Ok(first)
    }

    fn wake(&self) {
        if let Some(w) = &self.waker {
            w.wake();
        }
    }

    fn send(&mut self, id: &str) {
        let Some(p) = self.pending.get_mut(id) else {
            return;
        };
        if p.n == 0 {
            return;
        }
        let mut payload = Vec::with_capacity(p.header.len() + 4 + p.body.len());
        payload.extend_from_slice(&p.header);
        payload.extend_from_slice(&p.n.to_be_bytes());
        payload.append(&mut p.body);
        self.records_sent += u64::from(p.n);
        self.queued -= p.n as usize;
        self.batches += 1;
        p.n = 0;
        self.shared
            .out
            .lock()
            .push_back((frames::ZEEK_BIN_SERIALIZER.to_vec(), payload));
    }

    /// When the next interval flush is due (None while nothing waits).
    pub(crate) fn deadline(&self) -> Option<Instant> {
        (self.queued > 0).then_some(self.next_flush)
    }

    /// Whether the flush interval has expired with records waiting.
    pub(crate) fn due(&self, now: Instant) -> bool {
        now >= self.next_flush && self.queued > 0
    }

    /// Sends every buffer that holds records (the flush interval, `flush_log`, shutdown).
    pub(crate) fn flush(&mut self, now: Instant) {
        if now >= self.next_flush {
            self.next_flush = now + self.interval;
        }
        if self.queued == 0 {
            return;
        }
        let mut ids: Vec<String> = self.pending.keys().cloned().collect();
        ids.sort();
        for id in ids {
            self.send(&id);
        }
        self.wake();
    }

    /// Batches waiting for room in the PUSH queue (hosts wait at `LOG_QUEUE_LIMIT`).
    pub(crate) fn backlog_full(&self) -> bool {
        self.shared.out.lock().len() >= LOG_QUEUE_LIMIT
    }

    /// Records buffered, not yet handed to the socket.
    pub(crate) fn queued(&self) -> usize {
        self.queued
    }
}

/// Connects the log framework to a started ZeroMQ node: a node that writes logs gets the
/// sink that writes received batches (`mgr`); the others get their write buffers.
pub(crate) fn attach(
    cl: &crate::cluster::Cluster,
    z: &super::ZmqRuntime,
    mgr: Option<Arc<LogManager>>,
) -> Option<LogBatcher> {
    match mgr {
        Some(m) => {
            *z.logs.sink.lock() = Some(logger_sink(m, z.stats.clone()));
            None
        }
        None => {
            let o = cl.options();
            let size = o.count_value("Log::write_buffer_size");
            let iv = o.interval_secs("Log::flush_interval");
            let iv = if iv.is_finite() && iv > 0.0 {
                Duration::from_secs_f64(iv)
            } else {
                FLUSH_INTERVAL
            };
            Some(LogBatcher::new(
                z.logs.clone(),
                Some(z.waker.clone()),
                usize::try_from(size).unwrap_or(WRITE_BUFFER_SIZE),
                iv,
            ))
        }
    }
}

/// The logger's sink: decodes each `zeek-bin-serializer` batch and hands its records to
/// the log worker (waiting while its queue is full, which stops this node's reading and
/// backs the senders up).
pub(crate) fn logger_sink(mgr: Arc<LogManager>, stats: Arc<ZmqStats>) -> super::LogSink {
    let mut streams: HashMap<(String, String), Arc<LogStream>> = HashMap::new();
    Box::new(move |_sender: &[u8], format: &[u8], payload: &[u8]| {
        if format != frames::ZEEK_BIN_SERIALIZER {
            stats.wrong_format.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let (h, records) = match zeekser::decode_log_batch(payload) {
            Ok(x) => x,
            Err(_) => {
                stats.logs_malformed.fetch_add(1, Ordering::Relaxed);
                return;
            }
        };
        let fields: Vec<LogField> = match h.fields.iter().map(Field::to_log_field).collect() {
            Ok(f) => f,
            Err(_) => {
                stats.logs_malformed.fetch_add(1, Ordering::Relaxed);
                return;
            }
        };
        stats
            .log_records_received
            .fetch_add(records.len() as u64, Ordering::Relaxed);
        if h.writer_name == "Log::WRITER_NONE" {
            return;
        }
        let key = (h.stream_name, h.path);
        let stream = match streams.get(&key) {
            Some(s) if s.fields == fields => s.clone(),
            _ => {
                let mut s = LogStream::new(key.0.as_str(), key.1.as_str());
                s.fields = fields;
                let s = Arc::new(s);
                streams.insert(key, s.clone());
                s
            }
        };
        for r in records {
            if mgr.write_local(stream.clone(), r).is_err() {
                return;
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::ZeekType;

    #[test]
    fn a_batch_is_what_encode_log_batch_makes() {
        let stream = LogStream::new("My::LOG", "my")
            .column("ts", ZeekType::Time)
            .column("msg", ZeekType::String)
            .optional_column("n", ZeekType::Count);
        let recs = vec![
            vec![Value::Real(1.5), Value::string("hi"), Value::Count(3)],
            vec![Value::Real(2.0), Value::string(""), Value::None],
        ];
        let hdr = zeekser::LogWriteHeader::new(
            "My::LOG",
            "Log::WRITER_ASCII",
            "default",
            "my",
            &stream.fields,
        );
        let want = zeekser::encode_log_batch(&hdr, &stream.fields, &recs).unwrap();
        let shared = Arc::new(LogShared::default());
        let mut b = LogBatcher::new(shared.clone(), None, 2, FLUSH_INTERVAL);
        b.add(&stream, &recs[0]).unwrap();
        assert!(shared.out.lock().is_empty());
        b.add(&stream, &recs[1]).unwrap();
        let (fmt, got) = shared.out.lock().pop_front().unwrap();
        assert_eq!(fmt, b"zeek-bin-serializer");
        assert_eq!(got, want);
        assert_eq!((b.records_sent, b.batches, b.queued()), (2, 1, 0));
        // The interval flush sends a partial buffer.
        b.add(&stream, &recs[0]).unwrap();
        assert!(!b.due(Instant::now()));
        assert!(b.due(Instant::now() + FLUSH_INTERVAL * 2));
        b.flush(Instant::now() + FLUSH_INTERVAL * 2);
        let (_, got) = shared.out.lock().pop_front().unwrap();
        let want1 = zeekser::encode_log_batch(&hdr, &stream.fields, &recs[..1]).unwrap();
        assert_eq!(got, want1);
    }
}
