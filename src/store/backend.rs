//! Storage backends: an in-memory map and SQLite (Broker's `memory` and `sqlite`).
//!
//! Keys and values are Broker values; expiries are absolute nanoseconds since the Unix
//! epoch. The SQLite file uses Broker's own schema (`detail/sqlite_backend.cc`):
//! `meta(key text primary key, value text)` and
//! `store(key blob primary key, value blob, expiry integer)` with Broker-binary blobs, so a
//! file written by Broker opens here and the reverse.
//!
//! Durability: by default the file runs in WAL mode with `synchronous=FULL`. Every
//! mutation is its own transaction and `put` returns only after SQLite committed it, which
//! in WAL+FULL means the WAL was fsync'ed. A put reported done therefore survives a crash
//! of the process (kill -9) and, as far as the disk honours fsync, power loss.
//! `synchronous=NORMAL` in WAL mode still survives a process crash but may lose the last
//! commits on power loss; `OFF` may lose them on an OS crash; `DELETE` journal mode with
//! FULL is as safe as WAL but slower. These are selectable with `SqliteOptions`, per
//! store through `Cluster::set_store_option` (C: `zc_cluster_set_store_option`, Python:
//! `Cluster.set_store_options`), Zeek's `Cluster::stores[name]$options$sqlite` fields.

use super::codec::{decode_value, encode_value};
use crate::data::Value;
use crate::error::{Error, ErrorKind, Result};
use rusqlite::{params, Connection, OpenFlags, OptionalExtension};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Which backend a store uses (`Broker::BackendType`; RocksDB was removed from Broker).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackendKind {
    Memory,
    Sqlite,
}

impl BackendKind {
    /// The Zeek enum name (`Broker::MEMORY`, `Broker::SQLITE`).
    pub fn zeek_name(self) -> &'static str {
        match self {
            BackendKind::Memory => "Broker::MEMORY",
            BackendKind::Sqlite => "Broker::SQLITE",
        }
    }

    /// Parses `Broker::MEMORY` / `Broker::SQLITE` (also without the `Broker::` prefix,
    /// any case). `Broker::ROCKSDB` is refused with a clear message.
    pub fn from_zeek_name(s: &str) -> Result<Self> {
        let bare = s.strip_prefix("Broker::").unwrap_or(s);
        match bare.to_ascii_uppercase().as_str() {
            "MEMORY" => Ok(BackendKind::Memory),
            "SQLITE" => Ok(BackendKind::Sqlite),
            "ROCKSDB" => Err(Error::invalid(
                "backend Broker::ROCKSDB is not supported (Broker removed it in 2.1.0); use Broker::MEMORY or Broker::SQLITE",
            )),
            _ => Err(Error::invalid(format!(
                "unknown backend '{s}': expected Broker::MEMORY or Broker::SQLITE"
            ))),
        }
    }
}

/// One backend. All methods report failures; nothing is silently skipped.
pub trait Backend: Send {
    fn kind(&self) -> BackendKind;
    /// Inserts or overwrites; `expiry` (absolute ns) replaces any previous expiry.
    fn put(&mut self, key: &Value, value: &Value, expiry: Option<i64>) -> Result<()>;
    fn get(&self, key: &Value) -> Result<Option<Value>>;
    fn exists(&self, key: &Value) -> Result<bool>;
    /// Returns whether the key was present.
    fn erase(&mut self, key: &Value) -> Result<bool>;
    fn keys(&self) -> Result<BTreeSet<Value>>;
    fn size(&self) -> Result<u64>;
    fn clear(&mut self) -> Result<()>;
    fn snapshot(&self) -> Result<BTreeMap<Value, Value>>;
    /// Every key that has an expiry, with it.
    fn expiries(&self) -> Result<Vec<(Value, i64)>>;
    /// Removes the entries whose expiry lies before `now` (Broker's master: `now > expiry`)
    /// and returns their keys.
    fn expire_due(&mut self, now: i64) -> Result<Vec<Value>>;

    /// Backends whose commits run on a storage worker (`storage::WorkerBackend`): the
    /// sequence number of the last write handed to it. Others: 0 (durable on return).
    fn written_seq(&self) -> u64 {
        0
    }
    /// The sequence number of the last write known durable (0 for synchronous backends,
    /// which are always caught up).
    fn durable_seq(&self) -> u64 {
        0
    }
    /// The worker's shared state (`flush` waits on it); None without a worker.
    fn durability(&self) -> Option<std::sync::Arc<super::storage::Durability>> {
        None
    }
    /// This backend as a store service runs it: SQLite moves its connection to a storage
    /// thread (`storage::WorkerBackend`); memory stays as it is.
    fn with_storage_worker(self: Box<Self>) -> Result<Box<dyn Backend>>;
}

// ---------------------------------------------------------------------------------------

/// Broker's `memory` backend.
#[derive(Debug, Default)]
pub struct MemoryBackend {
    entries: BTreeMap<Value, (Value, Option<i64>)>,
}

impl MemoryBackend {
    pub fn new() -> Self {
        Self::default()
    }
}

impl Backend for MemoryBackend {
    fn kind(&self) -> BackendKind {
        BackendKind::Memory
    }
    fn with_storage_worker(self: Box<Self>) -> Result<Box<dyn Backend>> {
        Ok(self)
    }
    fn put(&mut self, key: &Value, value: &Value, expiry: Option<i64>) -> Result<()> {
        self.entries.insert(key.clone(), (value.clone(), expiry));
        Ok(())
    }
    fn get(&self, key: &Value) -> Result<Option<Value>> {
        Ok(self.entries.get(key).map(|(v, _)| v.clone()))
    }
    fn exists(&self, key: &Value) -> Result<bool> {
        Ok(self.entries.contains_key(key))
    }
    fn erase(&mut self, key: &Value) -> Result<bool> {
        Ok(self.entries.remove(key).is_some())
    }
    fn keys(&self) -> Result<BTreeSet<Value>> {
        Ok(self.entries.keys().cloned().collect())
    }
    fn size(&self) -> Result<u64> {
        Ok(self.entries.len() as u64)
    }
    fn clear(&mut self) -> Result<()> {
        self.entries.clear();
        Ok(())
    }
    fn snapshot(&self) -> Result<BTreeMap<Value, Value>> {
        Ok(self
            .entries
            .iter()
            .map(|(k, (v, _))| (k.clone(), v.clone()))
            .collect())
    }
    fn expiries(&self) -> Result<Vec<(Value, i64)>> {
        Ok(self
            .entries
            .iter()
            .filter_map(|(k, (_, e))| e.map(|e| (k.clone(), e)))
            .collect())
    }
    fn expire_due(&mut self, now: i64) -> Result<Vec<Value>> {
        let due: Vec<Value> = self
            .entries
            .iter()
            .filter(|(_, (_, e))| matches!(e, Some(t) if now > *t))
            .map(|(k, _)| k.clone())
            .collect();
        for k in &due {
            self.entries.remove(k);
        }
        Ok(due)
    }
}

// ---------------------------------------------------------------------------------------

/// `PRAGMA synchronous` (Broker option `synchronous`, `Broker::SQLITE_SYNCHRONOUS_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Synchronous {
    Off,
    Normal,
    Full,
    Extra,
}

/// `PRAGMA journal_mode` (Broker option `journal_mode`, `Broker::SQLITE_JOURNAL_MODE_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JournalMode {
    Delete,
    Wal,
}

/// SQLite tuning; the default (WAL + FULL) makes every acknowledged put crash-safe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SqliteOptions {
    pub synchronous: Synchronous,
    pub journal_mode: JournalMode,
    /// Run `PRAGMA integrity_check` when opening; anything but "ok" refuses the file.
    pub integrity_check: bool,
    /// zcluster's: niceness added to the storage thread that commits (0-19, default 10;
    /// `crate::store::storage`), so a full-speed put stream's commits yield the CPU to
    /// the I/O threads.
    pub storage_nice: u8,
    /// zcluster's: the storage thread runs under `SCHED_IDLE` (default true;
    /// `crate::store::storage`): any waking thread preempts it at once.
    pub storage_idle: bool,
}

impl Default for SqliteOptions {
    fn default() -> Self {
        SqliteOptions {
            synchronous: Synchronous::Full,
            journal_mode: JournalMode::Wal,
            integrity_check: false,
            storage_nice: DEFAULT_STORAGE_NICE,
            storage_idle: true,
        }
    }
}

/// The default of `SqliteOptions::storage_nice` (the catalogue's `zc_storage_nice`).
pub const DEFAULT_STORAGE_NICE: u8 = 10;

impl SqliteOptions {
    /// Applies one Broker backend option by its Broker name and enum value, e.g.
    /// `("synchronous", "Broker::SQLITE_SYNCHRONOUS_NORMAL")`.
    pub fn set(&mut self, name: &str, value: &str) -> Result<()> {
        match name {
            "synchronous" => {
                let v = value.strip_prefix("Broker::SQLITE_SYNCHRONOUS_").ok_or_else(|| {
                    Error::invalid(format!("SQLite option 'synchronous': '{value}' does not start with Broker::SQLITE_SYNCHRONOUS_"))
                })?;
                self.synchronous = match v {
                    "OFF" => Synchronous::Off,
                    "NORMAL" => Synchronous::Normal,
                    "FULL" => Synchronous::Full,
                    "EXTRA" => Synchronous::Extra,
                    _ => return Err(Error::invalid(format!("SQLite option 'synchronous': '{value}' is not one of OFF, NORMAL, FULL, EXTRA"))),
                };
            }
            "journal_mode" => {
                let v = value.strip_prefix("Broker::SQLITE_JOURNAL_MODE_").ok_or_else(|| {
                    Error::invalid(format!("SQLite option 'journal_mode': '{value}' does not start with Broker::SQLITE_JOURNAL_MODE_"))
                })?;
                self.journal_mode = match v {
                    "DELETE" => JournalMode::Delete,
                    "WAL" => JournalMode::Wal,
                    _ => return Err(Error::invalid(format!("SQLite option 'journal_mode': '{value}' is not one of DELETE, WAL"))),
                };
            }
            "integrity_check" => {
                self.integrity_check = match value {
                    "T" | "true" | "1" => true,
                    "F" | "false" | "0" => false,
                    _ => return Err(Error::invalid(format!("SQLite option 'integrity_check': '{value}' is not a bool (T/F)"))),
                };
            }
            "zc_storage_nice" => {
                self.storage_nice = match value.parse::<u8>() {
                    Ok(n) if n <= 19 => n,
                    _ => return Err(Error::invalid(format!("SQLite option 'zc_storage_nice': '{value}' is not a niceness from 0 to 19"))),
                };
            }
            "zc_storage_idle" => {
                self.storage_idle = match value {
                    "T" | "true" | "1" => true,
                    "F" | "false" | "0" => false,
                    _ => return Err(Error::invalid(format!("SQLite option 'zc_storage_idle': '{value}' is not a bool (T/F)"))),
                };
            }
            _ => {
                return Err(Error::invalid(format!(
                    "unknown SQLite option '{name}': expected synchronous, journal_mode, integrity_check, zc_storage_nice or zc_storage_idle"
                )))
            }
        }
        Ok(())
    }
}

/// Checks that a store name can be used as a file name component: not empty, no `/` or
/// `\`, not `.` or `..` and no `..` inside, no NUL.
pub fn validate_store_name(name: &str) -> Result<()> {
    let bad = if name.is_empty() {
        Some("it is empty")
    } else if name.contains('\0') {
        Some("it contains a NUL character")
    } else if name.contains('/') || name.contains('\\') {
        Some("it contains a path separator")
    } else if name.contains("..") || name == "." {
        Some("it contains '..' or is '.'")
    } else {
        None
    };
    match bad {
        Some(why) => Err(Error::new(
            ErrorKind::Store,
            format!(
                "invalid store name {name:?}: {why}; a store name must be usable as a file name"
            ),
        )),
        None => Ok(()),
    }
}

/// `<dir>/<name>.sqlite`, as `Cluster::create_store` builds it from `default_store_dir`.
pub fn default_sqlite_path(dir: &str, name: &str) -> Result<PathBuf> {
    validate_store_name(name)?;
    Ok(Path::new(dir).join(format!("{name}.sqlite")))
}

/// Broker's `sqlite` backend over rusqlite (bundled SQLite).
pub struct SqliteBackend {
    conn: Connection,
    path: PathBuf,
    storage_nice: u8,
    storage_idle: bool,
}

impl std::fmt::Debug for SqliteBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteBackend")
            .field("path", &self.path)
            .finish()
    }
}

fn store_err(path: &Path, what: &str, e: impl std::fmt::Display) -> Error {
    Error::new(
        ErrorKind::Store,
        format!("SQLite store {}: {what}: {e}", path.display()),
    )
}

fn classify_open_error(path: &Path, e: rusqlite::Error) -> Error {
    use rusqlite::ErrorCode;
    if let rusqlite::Error::SqliteFailure(f, _) = &e {
        match f.code {
            ErrorCode::NotADatabase | ErrorCode::DatabaseCorrupt => {
                return store_err(
                    path,
                    "the file is not a SQLite database or is corrupt (left untouched)",
                    e,
                )
            }
            ErrorCode::ReadOnly => {
                return store_err(
                    path,
                    "the database is read-only (check the file's permissions)",
                    e,
                )
            }
            ErrorCode::CannotOpen | ErrorCode::PermissionDenied => {
                return Error::new(
                    ErrorKind::Io,
                    format!("SQLite store {}: cannot open: {e}", path.display()),
                )
            }
            _ => {}
        }
    }
    store_err(path, "cannot initialise", e)
}

impl SqliteBackend {
    /// Opens or creates the database at `path`. The parent directory must exist.
    /// A corrupt, foreign or read-only file is refused with an `ErrorKind::Store` error
    /// and left exactly as it was.
    pub fn open(path: impl AsRef<Path>, opts: &SqliteOptions) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        if path.as_os_str().is_empty() {
            return Err(Error::new(ErrorKind::Store, "SQLite store: empty path"));
        }
        let parent = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        if !parent.is_dir() {
            return Err(Error::new(
                ErrorKind::Io,
                format!(
                    "SQLite store {}: directory {} does not exist (create it first or set Cluster::default_store_dir)",
                    path.display(),
                    parent.display()
                ),
            ));
        }
        if path.is_dir() {
            return Err(Error::new(
                ErrorKind::Store,
                format!("SQLite store {}: path is a directory", path.display()),
            ));
        }
        if path.exists() {
            let md = std::fs::metadata(&path)?;
            if md.permissions().readonly() {
                return Err(store_err(
                    &path,
                    "the database is read-only",
                    "file has no write permission",
                ));
            }
        }
        let conn = Connection::open_with_flags(
            &path,
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| classify_open_error(&path, e))?;
        if conn
            .is_readonly(rusqlite::DatabaseName::Main)
            .unwrap_or(false)
        {
            return Err(store_err(
                &path,
                "the database is read-only",
                "opened read-only",
            ));
        }
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(|e| classify_open_error(&path, e))?;
        // The first statement touches the file header: a foreign file fails here.
        let jm = match opts.journal_mode {
            JournalMode::Wal => "WAL",
            JournalMode::Delete => "DELETE",
        };
        let got: String = conn
            .query_row(&format!("PRAGMA journal_mode={jm}"), [], |r| r.get(0))
            .map_err(|e| classify_open_error(&path, e))?;
        if !got.eq_ignore_ascii_case(jm) {
            return Err(store_err(
                &path,
                "cannot set journal_mode",
                format!("SQLite kept '{got}'"),
            ));
        }
        let sync = match opts.synchronous {
            Synchronous::Off => "OFF",
            Synchronous::Normal => "NORMAL",
            Synchronous::Full => "FULL",
            Synchronous::Extra => "EXTRA",
        };
        conn.execute_batch(&format!("PRAGMA synchronous={sync};"))
            .map_err(|e| classify_open_error(&path, e))?;
        if opts.integrity_check {
            let res: String = conn
                .query_row("PRAGMA integrity_check", [], |r| r.get(0))
                .map_err(|e| classify_open_error(&path, e))?;
            if res != "ok" {
                return Err(store_err(
                    &path,
                    "integrity check failed (file left untouched)",
                    res,
                ));
            }
        }
        conn.execute_batch(
            "create table if not exists meta(key text primary key, value text);
             create table if not exists store(key blob primary key, value blob, expiry integer);",
        )
        .map_err(|e| classify_open_error(&path, e))?;
        // A Broker-written file has no such column set to check beyond the tables; verify
        // the store table has Broker's columns so a foreign table of that name is refused.
        let cols: Vec<String> = {
            let mut st = conn
                .prepare("PRAGMA table_info(store)")
                .map_err(|e| classify_open_error(&path, e))?;
            let rows = st
                .query_map([], |r| r.get::<_, String>(1))
                .map_err(|e| classify_open_error(&path, e))?;
            rows.collect::<std::result::Result<_, _>>()
                .map_err(|e| classify_open_error(&path, e))?
        };
        if cols != ["key", "value", "expiry"] {
            return Err(store_err(
                &path,
                "table 'store' does not have Broker's columns (key, value, expiry)",
                format!("{cols:?}"),
            ));
        }
        conn.execute(
            "replace into meta(key, value) values('zcluster_version', ?1)",
            params![crate::VERSION],
        )
        .map_err(|e| classify_open_error(&path, e))?;
        Ok(SqliteBackend {
            conn,
            path,
            storage_nice: opts.storage_nice,
            storage_idle: opts.storage_idle,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The niceness its storage thread takes (`SqliteOptions::storage_nice`).
    pub fn storage_nice(&self) -> u8 {
        self.storage_nice
    }

    /// Whether its storage thread runs under `SCHED_IDLE` (`SqliteOptions::storage_idle`).
    pub fn storage_idle(&self) -> bool {
        self.storage_idle
    }

    fn err(&self, what: &str, e: impl std::fmt::Display) -> Error {
        store_err(&self.path, what, e)
    }

    /// Starts a transaction (the storage worker groups its writes in one).
    pub(crate) fn begin(&self) -> Result<()> {
        self.conn
            .execute_batch("BEGIN IMMEDIATE")
            .map_err(|e| self.err("cannot begin a transaction", e))
    }
    pub(crate) fn commit(&self) -> Result<()> {
        self.conn
            .execute_batch("COMMIT")
            .map_err(|e| self.err("commit failed", e))
    }
    pub(crate) fn rollback(&self) {
        let _ = self.conn.execute_batch("ROLLBACK");
    }
    #[cfg(test)]
    pub(crate) fn conn(&self) -> &Connection {
        &self.conn
    }

    fn blob(v: &Value) -> Result<Vec<u8>> {
        let mut b = Vec::with_capacity(32);
        encode_value(v, &mut b)?;
        Ok(b)
    }

    fn unblob(&self, b: &[u8], what: &str) -> Result<Value> {
        decode_value(b).map_err(|e| self.err(&format!("stored {what} does not decode"), e))
    }
}

impl Backend for SqliteBackend {
    fn kind(&self) -> BackendKind {
        BackendKind::Sqlite
    }
    fn with_storage_worker(self: Box<Self>) -> Result<Box<dyn Backend>> {
        Ok(Box::new(super::storage::WorkerBackend::start(*self)?))
    }
    fn put(&mut self, key: &Value, value: &Value, expiry: Option<i64>) -> Result<()> {
        let (k, v) = (Self::blob(key)?, Self::blob(value)?);
        self.conn
            .prepare_cached("replace into store(key, value, expiry) values(?1, ?2, ?3)")
            .and_then(|mut s| s.execute(params![k, v, expiry]))
            .map_err(|e| self.err("put failed", e))?;
        Ok(())
    }
    fn get(&self, key: &Value) -> Result<Option<Value>> {
        let k = Self::blob(key)?;
        let row: Option<Vec<u8>> = self
            .conn
            .prepare_cached("select value from store where key = ?1")
            .and_then(|mut s| s.query_row(params![k], |r| r.get(0)).optional())
            .map_err(|e| self.err("get failed", e))?;
        row.map(|b| self.unblob(&b, "value")).transpose()
    }
    fn exists(&self, key: &Value) -> Result<bool> {
        let k = Self::blob(key)?;
        self.conn
            .prepare_cached("select 1 from store where key = ?1")
            .and_then(|mut s| s.exists(params![k]))
            .map_err(|e| self.err("exists failed", e))
    }
    fn erase(&mut self, key: &Value) -> Result<bool> {
        let k = Self::blob(key)?;
        let n = self
            .conn
            .prepare_cached("delete from store where key = ?1")
            .and_then(|mut s| s.execute(params![k]))
            .map_err(|e| self.err("erase failed", e))?;
        Ok(n > 0)
    }
    fn keys(&self) -> Result<BTreeSet<Value>> {
        let mut st = self
            .conn
            .prepare_cached("select key from store")
            .map_err(|e| self.err("keys failed", e))?;
        let rows = st
            .query_map([], |r| r.get::<_, Vec<u8>>(0))
            .map_err(|e| self.err("keys failed", e))?;
        let mut out = BTreeSet::new();
        for r in rows {
            let b = r.map_err(|e| self.err("keys failed", e))?;
            out.insert(self.unblob(&b, "key")?);
        }
        Ok(out)
    }
    fn size(&self) -> Result<u64> {
        let n: i64 = self
            .conn
            .query_row("select count(*) from store", [], |r| r.get(0))
            .map_err(|e| self.err("size failed", e))?;
        Ok(n as u64)
    }
    fn clear(&mut self) -> Result<()> {
        self.conn
            .execute("delete from store", [])
            .map_err(|e| self.err("clear failed", e))?;
        Ok(())
    }
    fn snapshot(&self) -> Result<BTreeMap<Value, Value>> {
        let mut st = self
            .conn
            .prepare_cached("select key, value from store")
            .map_err(|e| self.err("snapshot failed", e))?;
        let rows = st
            .query_map([], |r| {
                Ok((r.get::<_, Vec<u8>>(0)?, r.get::<_, Vec<u8>>(1)?))
            })
            .map_err(|e| self.err("snapshot failed", e))?;
        let mut out = BTreeMap::new();
        for r in rows {
            let (k, v) = r.map_err(|e| self.err("snapshot failed", e))?;
            out.insert(self.unblob(&k, "key")?, self.unblob(&v, "value")?);
        }
        Ok(out)
    }
    fn expiries(&self) -> Result<Vec<(Value, i64)>> {
        let mut st = self
            .conn
            .prepare_cached("select key, expiry from store where expiry is not null")
            .map_err(|e| self.err("expiries failed", e))?;
        let rows = st
            .query_map([], |r| Ok((r.get::<_, Vec<u8>>(0)?, r.get::<_, i64>(1)?)))
            .map_err(|e| self.err("expiries failed", e))?;
        let mut out = Vec::new();
        for r in rows {
            let (k, t) = r.map_err(|e| self.err("expiries failed", e))?;
            out.push((self.unblob(&k, "key")?, t));
        }
        Ok(out)
    }
    fn expire_due(&mut self, now: i64) -> Result<Vec<Value>> {
        let tx = self
            .conn
            .transaction()
            .map_err(|e| store_err(&self.path, "expire failed", e))?;
        let mut due = Vec::new();
        {
            let mut st = tx
                .prepare_cached("select key from store where expiry is not null and expiry < ?1")
                .map_err(|e| store_err(&self.path, "expire failed", e))?;
            let rows = st
                .query_map(params![now], |r| r.get::<_, Vec<u8>>(0))
                .map_err(|e| store_err(&self.path, "expire failed", e))?;
            for r in rows {
                due.push(r.map_err(|e| store_err(&self.path, "expire failed", e))?);
            }
        }
        tx.execute(
            "delete from store where expiry is not null and expiry < ?1",
            params![now],
        )
        .map_err(|e| store_err(&self.path, "expire failed", e))?;
        tx.commit()
            .map_err(|e| store_err(&self.path, "expire failed", e))?;
        due.iter().map(|b| self.unblob(b, "key")).collect()
    }
}

#[cfg(test)]
mod tests;
