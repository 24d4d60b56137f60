//! The logger's side: a log worker thread that owns the files, as a Zeek logger's writer
//! threads do. Log records reach it from the network (LogCreate / LogWrite / Batch
//! payloads handed over by the endpoint's I/O thread, which never touches a file) and
//! from this node itself (its own streams, its `Cluster::log`).
//!
//! - Writers are keyed by (writer, path), as `CreateWriterForRemoteLog` keys them. A
//!   LogCreate makes the writer with the fields **from the message**; a later LogCreate
//!   for an existing (writer, path) is ignored (the first schema wins), as in Zeek.
//! - A LogWrite whose (writer, path) has no writer is dropped; where Zeek drops it
//!   silently, zcluster counts it ([`LogStats::dropped_no_create`]) and keeps the reason
//!   ([`LogStats::last_drop`]). So are records whose values do not decode against the
//!   writer's fields (`dropped_malformed`) and whole messages that are no log message
//!   Broker would accept (`malformed_messages`).
//! - Any writer except `Log::WRITER_NONE` (which writes nothing, as in Zeek) is written by
//!   the ASCII writer, in TSV or JSON (`LogAscii::use_json`); zcluster has no other writer.
//! - Rotation (`Log::default_rotation_interval`, 0 = none), `Log::default_rotation_dir`
//!   and the post-processor apply to every writer, from this logger's configuration (as a
//!   Zeek logger takes them from its own filters and defaults, not from the message).
//! - Files: each writer buffers up to 256 KiB; everything written goes to the kernel
//!   whenever the worker's queue runs empty (and at least once a second), so a logger
//!   process killed with SIGKILL loses no record the worker had taken from its queue.
//!   (Zeek's writers flush once a second; the file bytes are the same.)
//! - Backpressure: the queue to the worker is bounded ([`LogConfig::queue_limit`]
//!   messages). When it is full, the sender waits: the I/O thread stops reading until
//!   the worker catches up, which backs the senders up over TCP. Nothing is dropped.

use super::message::{self, LogMessage, LogMessageRef, WriterInfo};
use super::{check_record, zeekser, LogField, LogFormat, LogStream, LogWriter, PostProcessor};
use crate::data::Value;
use crate::error::{Error, Result};
use parking_lot::Mutex;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::mpsc::{sync_channel, Receiver, RecvTimeoutError, SyncSender, TryRecvError};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime};

/// How a logger writes its files.
#[derive(Debug, Clone)]
pub struct LogConfig {
    /// Where the logs go.
    pub dir: PathBuf,
    /// `LogAscii::use_json`.
    pub format: LogFormat,
    /// `Log::default_rotation_interval`; None (Zeek's 0) for no rotation.
    pub rotation_interval: Option<Duration>,
    /// `Log::default_rotation_dir` (relative to `dir`); None for `dir` itself.
    pub rotation_dir: Option<PathBuf>,
    /// Runs on every rotated file (`Log::default_rotation_postprocessor_cmd` or a callback).
    pub post_processor: Option<PostProcessor>,
    /// Messages queued to the worker before senders wait.
    pub queue_limit: usize,
}

impl LogConfig {
    /// Zeek's defaults: ASCII, no rotation, in `dir`.
    pub fn new(dir: impl Into<PathBuf>) -> LogConfig {
        LogConfig {
            dir: dir.into(),
            format: LogFormat::Ascii,
            rotation_interval: None,
            rotation_dir: None,
            post_processor: None,
            queue_limit: 4096,
        }
    }
}

/// What the log worker did, cumulative.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogStats {
    /// Writers created (by a LogCreate or a local stream's first record).
    pub writers: u64,
    /// LogCreates for an existing (writer, path), ignored.
    pub creates_ignored: u64,
    /// Records written to files.
    pub records: u64,
    /// LogWrites dropped because no LogCreate made their (writer, path) writer.
    pub dropped_no_create: u64,
    /// Records dropped because their values did not fit the writer's fields.
    pub dropped_malformed: u64,
    /// Messages that were not valid LogCreate / LogWrite / Batch messages.
    pub malformed_messages: u64,
    /// Errors writing or rotating files.
    pub write_errors: u64,
    /// The last reason something was dropped or failed.
    pub last_drop: Option<String>,
    /// Files rotated.
    pub rotations: u64,
}

enum Job {
    Remote(Vec<u8>),
    Local {
        stream: Arc<LogStream>,
        record: Vec<Value>,
    },
    Flush(SyncSender<()>),
    Stop,
}

/// The log worker: a thread and the bounded queue to it.
pub struct LogManager {
    tx: Mutex<Option<SyncSender<Job>>>,
    thread: Mutex<Option<JoinHandle<()>>>,
    stats: Arc<Mutex<LogStats>>,
}

impl std::fmt::Debug for LogManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogManager").finish()
    }
}

impl LogManager {
    /// Starts the worker; the directory is created if missing.
    pub fn start(cfg: LogConfig) -> Result<LogManager> {
        std::fs::create_dir_all(&cfg.dir).map_err(|e| {
            Error::new(
                crate::ErrorKind::Io,
                format!("cannot create log directory {}: {e}", cfg.dir.display()),
            )
        })?;
        let (tx, rx) = sync_channel(cfg.queue_limit.max(1));
        let stats = Arc::new(Mutex::new(LogStats::default()));
        let st = stats.clone();
        let thread = std::thread::Builder::new()
            .name("zc-log".into())
            .spawn(move || Worker::new(cfg, st).run(rx))
            .map_err(|e| Error::internal(format!("cannot start the log thread: {e}")))?;
        Ok(LogManager {
            tx: Mutex::new(Some(tx)),
            thread: Mutex::new(Some(thread)),
            stats,
        })
    }

    fn send(&self, job: Job) -> Result<()> {
        let tx = self.tx.lock().clone();
        match tx {
            Some(tx) => tx
                .send(job)
                .map_err(|_| Error::closed("the log worker has stopped")),
            None => Err(Error::closed("the log worker has stopped")),
        }
    }

    /// Hands a received LogCreate / LogWrite / Batch payload to the worker (waits while
    /// the queue is full).
    pub fn submit_remote(&self, payload: Vec<u8>) -> Result<()> {
        self.send(Job::Remote(payload))
    }

    /// Writes a record of a local stream (checked by the caller).
    pub fn write_local(&self, stream: Arc<LogStream>, record: Vec<Value>) -> Result<()> {
        self.send(Job::Local { stream, record })
    }

    /// Waits until everything queued before is in the files.
    pub fn flush(&self) -> Result<()> {
        let (tx, rx) = sync_channel(1);
        self.send(Job::Flush(tx))?;
        rx.recv()
            .map_err(|_| Error::closed("the log worker has stopped"))
    }

    pub fn stats(&self) -> LogStats {
        self.stats.lock().clone()
    }

    /// Writes what is queued, closes every file (`#close`; final rotation when rotating)
    /// and stops the worker. Idempotent.
    pub fn close(&self) {
        if let Some(tx) = self.tx.lock().take() {
            let _ = tx.send(Job::Stop);
        }
        if let Some(t) = self.thread.lock().take() {
            let _ = t.join();
        }
    }
}

impl Drop for LogManager {
    fn drop(&mut self) {
        self.close();
    }
}

struct Entry {
    fields: Vec<LogField>,
    /// None for `Log::WRITER_NONE`.
    writer: Option<LogWriter>,
}

struct Worker {
    cfg: LogConfig,
    stats: Arc<Mutex<LogStats>>,
    /// writer -> path -> index in `entries`.
    writers: HashMap<String, HashMap<String, usize>>,
    entries: Vec<Entry>,
    /// The (writer, path, index) of the last remote write (most records in a row go to
    /// the same writer: no hashing for them).
    last: Option<(String, String, usize)>,
    /// A record decoded into (reused).
    rec: Vec<Value>,
    /// Records written and rotations since the shared counters were last updated (they
    /// are updated once per job, not per record).
    records: u64,
    rotations: u64,
}

impl Worker {
    fn new(cfg: LogConfig, stats: Arc<Mutex<LogStats>>) -> Worker {
        Worker {
            cfg,
            stats,
            writers: HashMap::new(),
            entries: Vec::new(),
            last: None,
            rec: Vec::new(),
            records: 0,
            rotations: 0,
        }
    }

    fn run(mut self, rx: Receiver<Job>) {
        let tick = Duration::from_millis(250);
        loop {
            // Whenever the queue runs empty, what was written goes to the kernel (so a
            // logger process that is killed loses no record it has taken from its
            // queue), then the worker waits.
            let job = match rx.try_recv() {
                Ok(j) => Ok(j),
                Err(TryRecvError::Disconnected) => break,
                Err(TryRecvError::Empty) => {
                    self.publish_counts();
                    self.flush_all();
                    rx.recv_timeout(tick)
                }
            };
            match job {
                Ok(Job::Remote(p)) => self.remote(&p),
                Ok(Job::Local { stream, record }) => self.local(&stream, &record),
                Ok(Job::Flush(done)) => {
                    self.flush_all();
                    self.publish_counts();
                    let _ = done.send(());
                }
                Ok(Job::Stop) | Err(RecvTimeoutError::Disconnected) => break,
                Err(RecvTimeoutError::Timeout) => {}
            }
            self.tick();
            self.publish_counts();
        }
        self.close_all();
        self.publish_counts();
    }

    /// Adds the records and rotations counted since the last call to the shared counters.
    fn publish_counts(&mut self) {
        if self.records == 0 && self.rotations == 0 {
            return;
        }
        let mut s = self.stats.lock();
        s.records += std::mem::take(&mut self.records);
        s.rotations += std::mem::take(&mut self.rotations);
    }

    fn drop_reason(&self, reason: String, f: impl FnOnce(&mut LogStats)) {
        let mut s = self.stats.lock();
        f(&mut s);
        s.last_drop = Some(reason);
    }

    fn create(&mut self, writer: &str, info: &WriterInfo, fields: Vec<LogField>) {
        if self
            .writers
            .get(writer)
            .is_some_and(|m| m.contains_key(&info.path))
        {
            self.stats.lock().creates_ignored += 1;
            return;
        }
        let w = if writer == "Log::WRITER_NONE" {
            None
        } else {
            match LogWriter::new(
                &self.cfg.dir,
                &info.path,
                fields.clone(),
                self.cfg.format,
                self.cfg.rotation_interval,
            ) {
                Ok(mut w) => {
                    w.set_rotation_dir(self.cfg.rotation_dir.clone());
                    w.set_post_processor(self.cfg.post_processor.clone());
                    Some(w)
                }
                Err(e) => {
                    self.drop_reason(
                        format!(
                            "cannot create writer ({writer}, {}): {}",
                            info.path, e.message
                        ),
                        |s| s.write_errors += 1,
                    );
                    return;
                }
            }
        };
        self.stats.lock().writers += 1;
        self.writers
            .entry(writer.to_string())
            .or_default()
            .insert(info.path.clone(), self.entries.len());
        self.entries.push(Entry { fields, writer: w });
    }

    fn remote(&mut self, payload: &[u8]) {
        // Checked whole before anything is written: a bad batch writes nothing.
        let mut msgs = Vec::new();
        if let Err(e) = message::parse_with(payload, |m| msgs.push(m)) {
            self.drop_reason(format!("malformed log message: {}", e.message), |s| {
                s.malformed_messages += 1
            });
            return;
        }
        let now = SystemTime::now();
        for m in msgs {
            match m {
                LogMessageRef::Owned(LogMessage::Create {
                    writer,
                    info,
                    fields,
                    ..
                }) => self.create(&writer, &info, fields),
                LogMessageRef::Owned(LogMessage::Write {
                    stream,
                    writer,
                    path,
                    serial,
                }) => self.remote_write(&stream, &writer, &path, &serial, now),
                LogMessageRef::Write {
                    stream,
                    writer,
                    path,
                    serial,
                } => self.remote_write(stream, writer, path, serial, now),
            }
        }
    }

    fn remote_write(
        &mut self,
        stream: &str,
        writer: &str,
        path: &str,
        serial: &[u8],
        now: SystemTime,
    ) {
        let cached = match &self.last {
            Some((w, p, i)) if w == writer && p == path => Some(*i),
            _ => None,
        };
        let idx = cached.or_else(|| {
            let i = *self.writers.get(writer)?.get(path)?;
            self.last = Some((writer.to_string(), path.to_string(), i));
            Some(i)
        });
        let Some(e) = idx.map(|i| &mut self.entries[i]) else {
            let reason = format!(
                "LogWrite for stream {stream}, writer {writer}, path {path} without a LogCreate: dropped"
            );
            self.drop_reason(reason, |s| s.dropped_no_create += 1);
            return;
        };
        if let Err(err) = zeekser::decode_record_reuse(&e.fields, serial, &mut self.rec) {
            let reason = format!("LogWrite for {path} ({stream}): {}", err.message);
            self.drop_reason(reason, |s| s.dropped_malformed += 1);
            return;
        }
        Self::write(
            &self.stats,
            &mut self.records,
            &mut self.rotations,
            e,
            &self.rec,
            now,
        );
    }

    fn write(
        stats: &Mutex<LogStats>,
        records: &mut u64,
        rotations: &mut u64,
        e: &mut Entry,
        rec: &[Value],
        now: SystemTime,
    ) {
        let Some(w) = e.writer.as_mut() else {
            return;
        };
        let before = w.next_rotation();
        match w.write_checked(rec, now) {
            Ok(()) => {
                *records += 1;
                if before.is_some() && w.next_rotation() != before {
                    *rotations += 1;
                }
            }
            Err(err) => {
                let mut s = stats.lock();
                s.write_errors += 1;
                s.last_drop = Some(err.message);
            }
        }
    }

    fn local(&mut self, stream: &LogStream, record: &[Value]) {
        let exists = self
            .writers
            .get(message::WRITER_ASCII)
            .is_some_and(|m| m.contains_key(&stream.path));
        if !exists {
            let info = WriterInfo::new(&stream.path, 0.0);
            self.create(message::WRITER_ASCII, &info, stream.fields.clone());
        }
        let Some(&i) = self
            .writers
            .get(message::WRITER_ASCII)
            .and_then(|m| m.get(&stream.path))
        else {
            return;
        };
        let e = &mut self.entries[i];
        if e.fields != stream.fields {
            // A remote LogCreate made this path first with another schema: it wins.
            if let Err(err) = check_record(&stream.id, &e.fields, record) {
                let reason = format!(
                    "record of {} for path {}: the writer has another schema: {}",
                    stream.id, stream.path, err.message
                );
                self.drop_reason(reason, |s| s.dropped_malformed += 1);
                return;
            }
        }
        Self::write(
            &self.stats,
            &mut self.records,
            &mut self.rotations,
            e,
            record,
            SystemTime::now(),
        );
    }

    fn tick(&mut self) {
        let now = SystemTime::now();
        for e in self.entries.iter_mut() {
            if let Some(w) = e.writer.as_mut() {
                match w.tick(now) {
                    Ok(Some(_)) => self.rotations += 1,
                    Ok(None) => {}
                    Err(err) => {
                        let mut s = self.stats.lock();
                        s.write_errors += 1;
                        s.last_drop = Some(err.message);
                    }
                }
            }
        }
    }

    fn flush_all(&mut self) {
        for e in self.entries.iter_mut() {
            if let Some(w) = e.writer.as_mut() {
                if let Err(err) = w.flush() {
                    let mut s = self.stats.lock();
                    s.write_errors += 1;
                    s.last_drop = Some(err.message);
                }
            }
        }
    }

    fn close_all(&mut self) {
        self.writers.clear();
        self.last = None;
        for mut e in self.entries.drain(..) {
            if let Some(w) = e.writer.as_mut() {
                if let Err(err) = w.close() {
                    let mut s = self.stats.lock();
                    s.write_errors += 1;
                    s.last_drop = Some(err.message);
                }
            }
        }
    }
}
