//! The storage worker: SQLite commits off the network thread, with group commit.
//!
//! A SQLite master attached through a `StoreService` (an endpoint's or a cluster's) runs
//! over a `WorkerBackend`: the store's contents are kept in memory (loaded from the file
//! when the master attaches), every mutation is applied to that copy at once and queued
//! for the store's own storage thread, which commits everything queued since its last
//! commit in one SQLite transaction (group commit: puts that arrive while a commit is in
//! flight share the next one). Neither the I/O thread nor a host thread ever waits for
//! the disk on a put.
//!
//! One worker thread per SQLite store, not one per endpoint: a SQLite connection belongs to
//! one thread, each file syncs on its own (two stores' commits proceed in parallel rather
//! than queueing behind each other's fsync), and a node has a handful of persistent stores
//! at most (Zeek's `Cluster::stores`). Memory stores have no worker.
//!
//! Priority: the storage thread lowers its own CPU priority, as RocksDB does with its
//! background threads: under a full-speed put stream it is the busiest thread of the
//! process, and on a small machine it would otherwise compete on equal terms with the
//! endpoint I/O threads that carry every peer's latency. By default it runs under
//! `SCHED_IDLE` (backend option `zc_storage_idle`) with niceness +10 (`zc_storage_nice`,
//! which alone applies when `zc_storage_idle` is F). A nice value only lowers its share:
//! a waking I/O thread may still wait for it to finish its time slice (hundreds of µs,
//! measured: round-trip p99 0.7-1.2 ms beside a put stream at nice 10, 81-83 µs under
//! `SCHED_IDLE`; BENCHMARKS.md), while under `SCHED_IDLE` any waking thread preempts it at
//! once. It still gets all of an idle CPU, and a small share of a saturated one (Linux
//! gives `SCHED_IDLE` a minimal weight, not none): commits then come less often and carry
//! more writes each, and host puts wait once `MAX_PENDING_WRITES` are queued.
//!
//! Acknowledgement: every write gets a sequence number (`written_seq`); the worker
//! publishes the highest committed one (`durable_seq`). The master holds back every
//! command it emits after a write (its broadcast of the update to clones, its channel
//! acks to writing clones, handshakes carrying a snapshot) until that write is durable,
//! so a clone never sees, and a writing clone never gets acknowledged, what a crash could
//! still lose. Reads on the master see the in-memory state at once (read-your-writes,
//! as Broker's master answers from its backend right after applying a put).
//!
//! Errors: a commit that fails (disk full, a file made read-only, I/O error) is rolled
//! back and retried every `RETRY_INTERVAL` with everything queued since; meanwhile new
//! writes are refused with that error (as a failing synchronous put was before), `flush`
//! returns it, and the store's problems list gets it once. Nothing that failed was ever
//! acknowledged. Closing the store commits what is queued (one more try on failure) and
//! joins the thread, so the file is closed when the store is.
//!
//! Another SQLite library in the same process (Python's `sqlite3`, a system libsqlite3)
//! must not open a store's file while the store commits: two copies of SQLite in one
//! process do not see each other's POSIX locks (SQLite's "how to corrupt" 2.2.1), and the
//! worker may be mid-commit at any time; `flush` first (or use a separate process).
//!
//! Memory: the in-memory copy means a persistent store's contents must fit in memory
//! (Broker's SQLite backend reads from the file instead). That is the price of answering
//! reads without touching the disk on the I/O thread.

use super::backend::{Backend, BackendKind, MemoryBackend, SqliteBackend};
use crate::data::Value;
use crate::error::{Error, ErrorKind, Result};
use parking_lot::{Condvar, Mutex};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Writes a host thread may have queued ahead of the disk before its next write waits
/// (backpressure: the queue is bounded for host calls; writes arriving from clones on the
/// I/O thread are never held, their rate is bounded by the writers' channels).
pub const MAX_PENDING_WRITES: u64 = 65_536;

/// How long the worker waits before retrying a failed commit.
pub const RETRY_INTERVAL: Duration = Duration::from_millis(200);

enum Op {
    Put(Value, Value, Option<i64>),
    Erase(Value),
    Clear,
}

type Notify = Arc<dyn Fn() + Send + Sync>;

struct State {
    ops: Vec<Op>,
    /// Sequence number of the last write queued.
    written: u64,
    /// Sequence number of the last write committed.
    durable: u64,
    /// The error of the last failed commit, until a commit succeeds.
    failed: Option<Error>,
    /// Failed commit attempts so far.
    failures: u64,
    /// Errors not yet taken by `take_errors` (for the store's problems list).
    errors: Vec<Error>,
    closing: bool,
    /// The worker thread has ended (the store is closed).
    finished: bool,
    notify: Option<Notify>,
    /// Transactions committed (for tests and the benchmark: shows grouping).
    commits: u64,
}

/// The state shared between a `WorkerBackend`, its thread and the store's handles.
pub struct Durability {
    st: Mutex<State>,
    /// The worker waits on it for work.
    work: Condvar,
    /// `flush` callers wait on it for commits.
    done: Condvar,
}

impl std::fmt::Debug for Durability {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let st = self.st.lock();
        f.debug_struct("Durability")
            .field("written", &st.written)
            .field("durable", &st.durable)
            .finish()
    }
}

impl Durability {
    /// The sequence number of the last write queued.
    pub fn written(&self) -> u64 {
        self.st.lock().written
    }
    /// The sequence number of the last write committed.
    pub fn durable(&self) -> u64 {
        self.st.lock().durable
    }
    /// Transactions committed so far.
    pub fn commits(&self) -> u64 {
        self.st.lock().commits
    }
    /// Called (from the worker thread, no lock held) after every commit and failure.
    pub fn set_notify(&self, f: Notify) {
        self.st.lock().notify = Some(f);
    }
    /// Errors of failed commits since the last call.
    pub fn take_errors(&self) -> Vec<Error> {
        std::mem::take(&mut self.st.lock().errors)
    }

    /// Backpressure for host threads: waits while more than `max` writes are queued and
    /// not committed (returns at once when the worker failed or ended: the next write
    /// reports that).
    pub fn throttle(&self, max: u64) {
        let mut st = self.st.lock();
        while st.written - st.durable > max && st.failed.is_none() && !st.finished {
            self.done.wait(&mut st);
        }
    }

    /// Waits until every write up to `target` is committed. `deadline` None: no limit.
    /// A commit attempt that fails during the wait ends it with its error (a store whose
    /// last commit failed waits for the next retry's outcome); a closed store: `Closed`.
    pub fn wait_durable(&self, target: u64, deadline: Option<Instant>) -> Result<()> {
        let mut st = self.st.lock();
        let failures = st.failures;
        loop {
            if st.durable >= target {
                return Ok(());
            }
            if st.failures > failures {
                if let Some(e) = &st.failed {
                    return Err(e.clone());
                }
            }
            if st.finished {
                return Err(Error::closed(
                    "the store was closed before its writes were committed",
                ));
            }
            match deadline {
                None => self.done.wait(&mut st),
                Some(d) => {
                    if self.done.wait_until(&mut st, d).timed_out() && st.durable < target {
                        if let Some(e) = &st.failed {
                            return Err(e.clone());
                        }
                        return Err(Error::new(
                            ErrorKind::Timeout,
                            format!(
                                "{} of the store's writes not yet committed",
                                target - st.durable
                            ),
                        ));
                    }
                }
            }
        }
    }
}

/// A SQLite store whose commits run on its own storage thread (see the module docs).
pub struct WorkerBackend {
    mem: MemoryBackend,
    shared: Arc<Durability>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for WorkerBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorkerBackend")
            .field("shared", &self.shared)
            .finish()
    }
}

impl WorkerBackend {
    /// Loads the file's contents into memory and hands the connection to a new storage
    /// thread.
    pub fn start(sqlite: SqliteBackend) -> Result<WorkerBackend> {
        let mut mem = MemoryBackend::new();
        let expiries: BTreeMap<Value, i64> = sqlite.expiries()?.into_iter().collect();
        for (k, v) in sqlite.snapshot()? {
            let e = expiries.get(&k).copied();
            mem.put(&k, &v, e)?;
        }
        let shared = Arc::new(Durability {
            st: Mutex::new(State {
                ops: Vec::new(),
                written: 0,
                durable: 0,
                failed: None,
                failures: 0,
                errors: Vec::new(),
                closing: false,
                finished: false,
                notify: None,
                commits: 0,
            }),
            work: Condvar::new(),
            done: Condvar::new(),
        });
        let s2 = shared.clone();
        let name = format!(
            "zc-store-{}",
            sqlite
                .path()
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default()
        );
        let thread = std::thread::Builder::new()
            .name(name.chars().take(15).collect())
            .spawn(move || run(sqlite, s2))
            .map_err(|e| Error::new(ErrorKind::Io, format!("cannot start storage thread: {e}")))?;
        Ok(WorkerBackend {
            mem,
            shared,
            thread: Some(thread),
        })
    }

    pub fn durability(&self) -> Arc<Durability> {
        self.shared.clone()
    }

    /// Queues `op` after `apply` changed the in-memory copy; refused while the last
    /// commit failed.
    fn queue<T>(
        &mut self,
        op: Op,
        apply: impl FnOnce(&mut MemoryBackend) -> Result<T>,
    ) -> Result<T> {
        let mut st = self.shared.st.lock();
        if let Some(e) = &st.failed {
            return Err(e.clone());
        }
        let r = apply(&mut self.mem)?;
        st.ops.push(op);
        st.written += 1;
        drop(st);
        self.shared.work.notify_one();
        Ok(r)
    }
}

impl Drop for WorkerBackend {
    fn drop(&mut self) {
        {
            let mut st = self.shared.st.lock();
            st.closing = true;
            st.notify = None;
        }
        self.shared.work.notify_all();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        self.shared.st.lock().finished = true;
        self.shared.done.notify_all();
    }
}

fn commit(db: &mut SqliteBackend, ops: &[Op]) -> Result<()> {
    db.begin()?;
    let r = (|| {
        for op in ops {
            match op {
                Op::Put(k, v, e) => db.put(k, v, *e)?,
                Op::Erase(k) => {
                    db.erase(k)?;
                }
                Op::Clear => db.clear()?,
            }
        }
        db.commit()
    })();
    if r.is_err() {
        db.rollback();
    }
    r
}

/// The storage thread. It first lowers its own CPU priority (`SqliteOptions::storage_idle`
/// and `storage_nice`, see "Priority" above): a put stream at full speed keeps it busy,
/// and on a small machine it would otherwise take turns with the I/O threads, whose
/// wake-ups carry every peer's latency. An idle CPU runs it at full speed.
fn run(mut db: SqliteBackend, shared: Arc<Durability>) {
    if db.storage_idle() {
        if let Err(e) = crate::ffi::sched::set_current_thread_idle() {
            shared.st.lock().errors.push(Error::new(
                ErrorKind::Io,
                format!(
                    "store {}: cannot move the storage thread to SCHED_IDLE: {e}",
                    db.path().display()
                ),
            ));
        }
    }
    if let Err(e) = crate::ffi::sched::lower_current_thread_priority(db.storage_nice()) {
        shared.st.lock().errors.push(Error::new(
            ErrorKind::Io,
            format!(
                "store {}: cannot lower the storage thread's priority: {e}",
                db.path().display()
            ),
        ));
    }
    let mut batch: Vec<Op> = Vec::new();
    let mut last;
    let mut retrying = false;
    loop {
        let closing;
        {
            let mut st = shared.st.lock();
            if retrying {
                if !st.closing {
                    shared.work.wait_for(&mut st, RETRY_INTERVAL);
                }
            } else {
                while st.ops.is_empty() && !st.closing {
                    shared.work.wait(&mut st);
                }
            }
            // Everything queued while the last commit was in flight goes in this one.
            batch.append(&mut st.ops);
            last = st.written;
            closing = st.closing;
            if batch.is_empty() {
                return; // closing, nothing left
            }
        }
        let r = commit(&mut db, &batch);
        let notify = {
            let mut st = shared.st.lock();
            match r {
                Ok(()) => {
                    st.durable = last;
                    st.failed = None;
                    st.commits += 1;
                    batch.clear();
                    retrying = false;
                }
                Err(e) => {
                    let e = Error::new(
                        e.kind,
                        format!(
                            "{} ({} writes not committed{})",
                            e.message,
                            st.written - st.durable,
                            if closing {
                                "; given up: the store is closed"
                            } else {
                                "; retrying"
                            }
                        ),
                    );
                    if st.failed.is_none() || closing {
                        st.errors.push(e.clone());
                    }
                    st.failed = Some(e);
                    st.failures += 1;
                    retrying = true;
                }
            }
            st.notify.clone()
        };
        shared.done.notify_all();
        if let Some(f) = notify {
            f();
        }
        if closing && retrying {
            // Closed and the last try failed: those writes were never acknowledged
            // (flush callers got the error).
            return;
        }
    }
}

impl Backend for WorkerBackend {
    fn kind(&self) -> BackendKind {
        BackendKind::Sqlite
    }
    fn put(&mut self, key: &Value, value: &Value, expiry: Option<i64>) -> Result<()> {
        self.queue(Op::Put(key.clone(), value.clone(), expiry), |m| {
            m.put(key, value, expiry)
        })
    }
    fn get(&self, key: &Value) -> Result<Option<Value>> {
        self.mem.get(key)
    }
    fn exists(&self, key: &Value) -> Result<bool> {
        self.mem.exists(key)
    }
    fn erase(&mut self, key: &Value) -> Result<bool> {
        if !self.mem.exists(key)? {
            return Ok(false);
        }
        self.queue(Op::Erase(key.clone()), |m| m.erase(key))
    }
    fn keys(&self) -> Result<BTreeSet<Value>> {
        self.mem.keys()
    }
    fn size(&self) -> Result<u64> {
        self.mem.size()
    }
    fn clear(&mut self) -> Result<()> {
        self.queue(Op::Clear, |m| m.clear())
    }
    fn snapshot(&self) -> Result<BTreeMap<Value, Value>> {
        self.mem.snapshot()
    }
    fn expiries(&self) -> Result<Vec<(Value, i64)>> {
        self.mem.expiries()
    }
    fn expire_due(&mut self, now: i64) -> Result<Vec<Value>> {
        let due: Vec<Value> = self
            .mem
            .expiries()?
            .into_iter()
            .filter(|(_, t)| now > *t)
            .map(|(k, _)| k)
            .collect();
        let mut out = Vec::with_capacity(due.len());
        for k in due {
            if self.queue(Op::Erase(k.clone()), |m| m.erase(&k))? {
                out.push(k);
            }
        }
        Ok(out)
    }
    fn written_seq(&self) -> u64 {
        self.shared.written()
    }
    fn durable_seq(&self) -> u64 {
        self.shared.durable()
    }
    fn durability(&self) -> Option<Arc<Durability>> {
        Some(self.shared.clone())
    }
    fn with_storage_worker(self: Box<Self>) -> Result<Box<dyn Backend>> {
        Ok(self)
    }
}

#[cfg(test)]
mod tests;
