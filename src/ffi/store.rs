//! Data stores in C: `zc_cluster_create_store` and the `zc_store_*` operations.
//!
//! A `zc_store` is a handle to one master or clone of the cluster that created it. Values
//! go in as borrowed `const zc_value*` (copied; the caller keeps and frees them) and come
//! out as new `zc_value*` the caller frees with `zc_value_free`. Expiries are in
//! milliseconds, 0 meaning "never". Timeouts (`timeout_ms`) matter for clones only: how
//! long a read waits for the clone's first snapshot from its master.
//!
//! Threads: a store handle may be shared between threads. Once its cluster (or endpoint,
//! for `zc_endpoint_attach_master` / `zc_endpoint_attach_clone`) is freed every operation
//! fails with ZC_ERR_CLOSED (free the handle with `zc_store_free` still).

use super::cluster::{zc_cluster, CLUSTERS};
use super::handle::{kind, Registry};
use super::strings::{arg_str, give_string};
use super::value::{value_from_handle, value_into_handle, zc_value};
use super::{guard, guard_void, out_ptr, write_out, zc_result};
use crate::data::Value;
use crate::error::{Error, Result};
use crate::store::{BackendKind, Store};
use std::os::raw::c_char;
use std::time::Duration;

/// A data store: a master or a clone (see `zc_cluster_create_store`).
pub struct zc_store {
    _private: [u8; 0],
}

/// A store's backend (`Broker::BackendType`).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum zc_backend {
    ZC_BACKEND_MEMORY = 0,
    ZC_BACKEND_SQLITE = 1,
}

/// The handle's object: the store and the rest of its `Cluster::StoreInfo`.
pub(crate) struct StoreObj {
    pub(crate) store: Store,
    pub(crate) master_node: String,
    pub(crate) backend: BackendKind,
    pub(crate) sqlite_path: String,
    pub(crate) intervals: [i64; 3],
}

pub(crate) static STORES: Registry<StoreObj> = Registry::new(kind::STORE, "zc_store");

fn expiry(ms: i64) -> Result<Option<Duration>> {
    match ms {
        0 => Ok(None),
        m if m > 0 => Ok(Some(Duration::from_millis(m as u64))),
        m => Err(Error::invalid(format!(
            "expiry_ms {m}: expected 0 (never) or a positive number of milliseconds"
        ))),
    }
}

fn timeout(ms: i64) -> Result<Duration> {
    if ms < 0 {
        return Err(Error::invalid(format!(
            "timeout_ms {ms}: expected 0 or more milliseconds"
        )));
    }
    Ok(Duration::from_millis(ms as u64))
}

fn val(p: *const zc_value, what: &str) -> Result<Value> {
    if p.is_null() {
        return Err(Error::new(
            crate::ErrorKind::NullArgument,
            format!("{what} is NULL"),
        ));
    }
    value_from_handle(p)
}

/// Sets one field of the `Cluster::stores[name]` entry before `zc_cluster_create_store`
/// of that name, as `redef Cluster::stores += { [name] = [...] }` does in Zeek (an entry
/// overrides the defaults). `key`: `backend` (`Broker::MEMORY`, `Broker::SQLITE`),
/// `master_node`, `path` (the SQLite file), `synchronous`
/// (`Broker::SQLITE_SYNCHRONOUS_OFF|NORMAL|FULL|EXTRA` or just `NORMAL`...; default FULL),
/// `journal_mode` (`Broker::SQLITE_JOURNAL_MODE_DELETE|WAL` or `WAL`...; default WAL),
/// `integrity_check` (T/F), `clone_resync_interval`, `clone_stale_interval`,
/// `clone_mutation_buffer_interval` (intervals such as "10 secs"); values in the grammar of
/// every `*_options_set` (docs/options.md). Any thread.
/// Errors: ZC_ERR_NULL, ZC_ERR_UTF8, ZC_ERR_BAD_HANDLE, ZC_ERR_NOT_FOUND (unknown key),
/// ZC_ERR_INVALID_ARGUMENT (bad value), ZC_ERR_STATE (the store is already created).
#[no_mangle]
pub unsafe extern "C" fn zc_cluster_set_store_option(
    cl: *const zc_cluster,
    name: *const c_char,
    key: *const c_char,
    value: *const c_char,
) -> zc_result {
    guard(|| {
        let c = CLUSTERS.get(cl)?;
        let name = arg_str(name, "name")?;
        let key = arg_str(key, "key")?;
        let value = arg_str(value, "value")?;
        c.set_store_option(name, key, value)
    })
}

/// `Cluster::create_store(name, persistent)`: on the master node (or when the cluster is
/// not enabled) a master usable at once, its SQLite file created if missing when the
/// backend is SQLite; elsewhere a clone that answers reads once its master's node is
/// connected. May be called before or after `zc_cluster_start`; creating a store again
/// gives a new handle to the same store. `*out` is a new handle, freed with
/// `zc_store_free`. Errors: ZC_ERR_NULL, ZC_ERR_UTF8, ZC_ERR_BAD_HANDLE, ZC_ERR_STORE (a
/// name with path characters for a file-backed store, a corrupt or unwritable SQLite
/// file, a missing directory), ZC_ERR_NOT_FOUND (the master node is not in the layout),
/// ZC_ERR_STATE (no master node: no manager and no `Cluster::default_master_node`).
/// Any thread.
#[no_mangle]
pub unsafe extern "C" fn zc_cluster_create_store(
    cl: *const zc_cluster,
    name: *const c_char,
    persistent: bool,
    out: *mut *mut zc_store,
) -> zc_result {
    guard(|| {
        out_ptr(out, "out")?;
        let c = CLUSTERS.get(cl)?;
        let name = arg_str(name, "name")?;
        let info = c.create_store(name, persistent)?;
        let store = info
            .store
            .clone()
            .ok_or_else(|| Error::new(crate::ErrorKind::Internal, "create_store gave no store"))?;
        let obj = StoreObj {
            store,
            master_node: info.master_node.clone(),
            backend: info.backend,
            sqlite_path: info.options.sqlite_path.clone(),
            intervals: [
                info.clone_resync_interval,
                info.clone_stale_interval,
                info.clone_mutation_buffer_interval,
            ],
        };
        write_out(out, STORES.insert(obj));
        Ok(())
    })
}

/// Frees a store handle (the store itself lives on in its cluster). NULL is a no-op.
#[no_mangle]
pub unsafe extern "C" fn zc_store_free(store: *mut zc_store) {
    guard_void(|| STORES.free(store));
}

/// The store's name, freed with `zc_string_free`. Errors: ZC_ERR_NULL, ZC_ERR_BAD_HANDLE.
#[no_mangle]
pub unsafe extern "C" fn zc_store_name(store: *const zc_store, out: *mut *mut c_char) -> zc_result {
    guard(|| {
        out_ptr(out, "out")?;
        write_out(out, give_string(STORES.get(store)?.store.name()));
        Ok(())
    })
}

/// `StoreInfo$master`: whether this handle is the master (else a clone).
/// Errors: ZC_ERR_NULL, ZC_ERR_BAD_HANDLE.
#[no_mangle]
pub unsafe extern "C" fn zc_store_is_master(store: *const zc_store, out: *mut bool) -> zc_result {
    guard(|| {
        out_ptr(out, "out")?;
        write_out(out, STORES.get(store)?.store.is_master());
        Ok(())
    })
}

/// `StoreInfo$backend`: the backend the record asks for (a clone keeps its copy in
/// memory whatever its master uses). Errors: ZC_ERR_NULL, ZC_ERR_BAD_HANDLE.
#[no_mangle]
pub unsafe extern "C" fn zc_store_backend(
    store: *const zc_store,
    out: *mut zc_backend,
) -> zc_result {
    guard(|| {
        out_ptr(out, "out")?;
        let b = match STORES.get(store)?.backend {
            BackendKind::Memory => zc_backend::ZC_BACKEND_MEMORY,
            BackendKind::Sqlite => zc_backend::ZC_BACKEND_SQLITE,
        };
        write_out(out, b);
        Ok(())
    })
}

/// `StoreInfo$master_node` ("" outside a cluster), freed with `zc_string_free`.
/// Errors: ZC_ERR_NULL, ZC_ERR_BAD_HANDLE.
#[no_mangle]
pub unsafe extern "C" fn zc_store_master_node(
    store: *const zc_store,
    out: *mut *mut c_char,
) -> zc_result {
    guard(|| {
        out_ptr(out, "out")?;
        write_out(out, give_string(&STORES.get(store)?.master_node));
        Ok(())
    })
}

/// `StoreInfo$options$sqlite$path` ("" when not set), freed with `zc_string_free`.
/// Errors: ZC_ERR_NULL, ZC_ERR_BAD_HANDLE.
#[no_mangle]
pub unsafe extern "C" fn zc_store_sqlite_path(
    store: *const zc_store,
    out: *mut *mut c_char,
) -> zc_result {
    guard(|| {
        out_ptr(out, "out")?;
        write_out(out, give_string(&STORES.get(store)?.sqlite_path));
        Ok(())
    })
}

/// `StoreInfo$clone_resync_interval`, `$clone_stale_interval` and
/// `$clone_mutation_buffer_interval`, in seconds. Errors: ZC_ERR_NULL, ZC_ERR_BAD_HANDLE.
#[no_mangle]
pub unsafe extern "C" fn zc_store_clone_intervals(
    store: *const zc_store,
    resync: *mut f64,
    stale: *mut f64,
    mutation_buffer: *mut f64,
) -> zc_result {
    guard(|| {
        out_ptr(resync, "resync")?;
        out_ptr(stale, "stale")?;
        out_ptr(mutation_buffer, "mutation_buffer")?;
        let i = STORES.get(store)?.intervals;
        write_out(resync, i[0] as f64 / 1e9);
        write_out(stale, i[1] as f64 / 1e9);
        write_out(mutation_buffer, i[2] as f64 / 1e9);
        Ok(())
    })
}

fn with_store(store: *const zc_store, f: impl FnOnce(&Store) -> Result<()>) -> zc_result {
    guard(|| f(&STORES.get(store)?.store))
}

/// Sets `key` to `value` (both borrowed). On a master the write is applied before this
/// returns (reads see it at once) and, with SQLite, queued for the store's storage thread,
/// which commits it with the writes around it; `zc_store_flush` waits until it is on
/// disk. On a clone it is sent to the master (or buffered up to
/// `clone_mutation_buffer_interval` while it has none). ZC_ERR_STORE also while the
/// storage thread's last commit failed (e.g. disk full).
/// Errors: ZC_ERR_NULL, ZC_ERR_BAD_HANDLE, ZC_ERR_INVALID_ARGUMENT (negative expiry),
/// ZC_ERR_STORE (backend failure; a clone without master and no buffering), ZC_ERR_CLOSED.
#[no_mangle]
pub unsafe extern "C" fn zc_store_put(
    store: *const zc_store,
    key: *const zc_value,
    value: *const zc_value,
    expiry_ms: i64,
) -> zc_result {
    with_store(store, |s| {
        s.put(val(key, "key")?, val(value, "value")?, expiry(expiry_ms)?)
    })
}

/// Sets `key` only if it is absent; `*inserted` says whether it was. On a clone this asks
/// the master and waits for its answer (up to 10 s: ZC_ERR_TIMEOUT). Errors as
/// `zc_store_put`, plus ZC_ERR_TIMEOUT.
#[no_mangle]
pub unsafe extern "C" fn zc_store_put_unique(
    store: *const zc_store,
    key: *const zc_value,
    value: *const zc_value,
    expiry_ms: i64,
    inserted: *mut bool,
) -> zc_result {
    guard(|| {
        out_ptr(inserted, "inserted")?;
        let s = STORES.get(store)?;
        let r = s
            .store
            .put_unique(val(key, "key")?, val(value, "value")?, expiry(expiry_ms)?)?;
        write_out(inserted, r);
        Ok(())
    })
}

/// The value of `key` as a new handle (free with `zc_value_free`). A clone waits up to
/// `timeout_ms` for its first snapshot (ZC_ERR_TIMEOUT). Errors: ZC_ERR_NOT_FOUND (no such
/// key), ZC_ERR_STORE (a stale clone: the message says since when), ZC_ERR_NULL,
/// ZC_ERR_BAD_HANDLE, ZC_ERR_INVALID_ARGUMENT, ZC_ERR_CLOSED.
#[no_mangle]
pub unsafe extern "C" fn zc_store_get(
    store: *const zc_store,
    key: *const zc_value,
    timeout_ms: i64,
    out: *mut *mut zc_value,
) -> zc_result {
    guard(|| {
        out_ptr(out, "out")?;
        let s = STORES.get(store)?;
        let v = s.store.get(&val(key, "key")?, timeout(timeout_ms)?)?;
        write_out(out, value_into_handle(v));
        Ok(())
    })
}

/// An element inside the value of `key` (Broker's `get_index_from_value`): a vector
/// element by count index, a table value by key, a set membership as bool. Errors as
/// `zc_store_get`, plus ZC_ERR_TYPE (the value is not a container).
#[no_mangle]
pub unsafe extern "C" fn zc_store_get_index(
    store: *const zc_store,
    key: *const zc_value,
    index: *const zc_value,
    timeout_ms: i64,
    out: *mut *mut zc_value,
) -> zc_result {
    guard(|| {
        out_ptr(out, "out")?;
        let s = STORES.get(store)?;
        let v = s.store.get_index(
            &val(key, "key")?,
            &val(index, "index")?,
            timeout(timeout_ms)?,
        )?;
        write_out(out, value_into_handle(v));
        Ok(())
    })
}

/// Whether `key` exists. Errors as `zc_store_get` (never ZC_ERR_NOT_FOUND).
#[no_mangle]
pub unsafe extern "C" fn zc_store_exists(
    store: *const zc_store,
    key: *const zc_value,
    timeout_ms: i64,
    out: *mut bool,
) -> zc_result {
    guard(|| {
        out_ptr(out, "out")?;
        let s = STORES.get(store)?;
        let v = s.store.exists(&val(key, "key")?, timeout(timeout_ms)?)?;
        write_out(out, v);
        Ok(())
    })
}

/// Every key, as a new set value (free with `zc_value_free`). Errors as `zc_store_get`.
#[no_mangle]
pub unsafe extern "C" fn zc_store_keys(
    store: *const zc_store,
    timeout_ms: i64,
    out: *mut *mut zc_value,
) -> zc_result {
    guard(|| {
        out_ptr(out, "out")?;
        let s = STORES.get(store)?;
        let k = s.store.keys(timeout(timeout_ms)?)?;
        write_out(out, value_into_handle(Value::Set(k.into_iter().collect())));
        Ok(())
    })
}

/// Removes `key` (absent: nothing happens). Errors as `zc_store_put`.
#[no_mangle]
pub unsafe extern "C" fn zc_store_erase(store: *const zc_store, key: *const zc_value) -> zc_result {
    with_store(store, |s| s.erase(val(key, "key")?))
}

/// Removes every key. Errors as `zc_store_put`.
#[no_mangle]
pub unsafe extern "C" fn zc_store_clear(store: *const zc_store) -> zc_result {
    with_store(store, |s| s.clear())
}

/// Adds `amount` (count, integer, real or timespan) to the value of `key`, starting
/// from zero when absent. Errors as `zc_store_put`, plus ZC_ERR_TYPE (the value is of
/// another type).
#[no_mangle]
pub unsafe extern "C" fn zc_store_increment(
    store: *const zc_store,
    key: *const zc_value,
    amount: *const zc_value,
    expiry_ms: i64,
) -> zc_result {
    with_store(store, |s| {
        s.increment(val(key, "key")?, val(amount, "amount")?, expiry(expiry_ms)?)
    })
}

/// Subtracts `amount` from the value of `key`. Errors as `zc_store_increment`, plus
/// ZC_ERR_NOT_FOUND (a missing key).
#[no_mangle]
pub unsafe extern "C" fn zc_store_decrement(
    store: *const zc_store,
    key: *const zc_value,
    amount: *const zc_value,
    expiry_ms: i64,
) -> zc_result {
    with_store(store, |s| {
        s.decrement(val(key, "key")?, val(amount, "amount")?, expiry(expiry_ms)?)
    })
}

/// Appends the string `s` to the string value of `key` (absent: ""). Errors as
/// `zc_store_increment`.
#[no_mangle]
pub unsafe extern "C" fn zc_store_append(
    store: *const zc_store,
    key: *const zc_value,
    s: *const zc_value,
    expiry_ms: i64,
) -> zc_result {
    with_store(store, |st| {
        st.append(val(key, "key")?, val(s, "s")?, expiry(expiry_ms)?)
    })
}

/// Inserts `index` into the set value of `key` (`value` NULL), or `index -> value` into
/// its table value; an absent key starts as an empty set or table. Errors as
/// `zc_store_increment`.
#[no_mangle]
pub unsafe extern "C" fn zc_store_insert_into(
    store: *const zc_store,
    key: *const zc_value,
    index: *const zc_value,
    value: *const zc_value,
    expiry_ms: i64,
) -> zc_result {
    with_store(store, |s| {
        let v = if value.is_null() {
            None
        } else {
            Some(value_from_handle(value)?)
        };
        s.insert_into(
            val(key, "key")?,
            val(index, "index")?,
            v,
            expiry(expiry_ms)?,
        )
    })
}

/// Removes `index` from the set or table value of `key`. Errors as `zc_store_decrement`.
#[no_mangle]
pub unsafe extern "C" fn zc_store_remove_from(
    store: *const zc_store,
    key: *const zc_value,
    index: *const zc_value,
    expiry_ms: i64,
) -> zc_result {
    with_store(store, |s| {
        s.remove_from(val(key, "key")?, val(index, "index")?, expiry(expiry_ms)?)
    })
}

/// Appends `value` to the vector value of `key` (absent: an empty vector). Errors as
/// `zc_store_increment`.
#[no_mangle]
pub unsafe extern "C" fn zc_store_push(
    store: *const zc_store,
    key: *const zc_value,
    value: *const zc_value,
    expiry_ms: i64,
) -> zc_result {
    with_store(store, |s| {
        s.push(val(key, "key")?, val(value, "value")?, expiry(expiry_ms)?)
    })
}

/// Removes the last element of the vector value of `key`. Errors as `zc_store_decrement`.
#[no_mangle]
pub unsafe extern "C" fn zc_store_pop(
    store: *const zc_store,
    key: *const zc_value,
    expiry_ms: i64,
) -> zc_result {
    with_store(store, |s| s.pop(val(key, "key")?, expiry(expiry_ms)?))
}

/// Whether a clone has its master now: it received the master's snapshot and has not lost
/// it since (a master: true). False once the cluster is freed. Errors: ZC_ERR_NULL,
/// ZC_ERR_BAD_HANDLE. Any thread.
#[no_mangle]
pub unsafe extern "C" fn zc_store_connected(store: *const zc_store, out: *mut bool) -> zc_result {
    guard(|| {
        out_ptr(out, "out")?;
        write_out(out, STORES.get(store)?.store.connected());
        Ok(())
    })
}

/// One line per entry (a newline inside an entry becomes a space), and how many.
fn lines(entries: Vec<String>) -> (usize, String) {
    let n = entries.len();
    let text = entries
        .into_iter()
        .map(|e| e.replace(['\n', '\r'], " ") + "\n")
        .collect();
    (n, text)
}

/// Takes the mutations this clone made without a master and dropped once
/// `clone_mutation_buffer_interval` passed (each is reported once): `*count` gets their
/// number, `*text` one line per mutation saying which operation, when and why (a new
/// string, "" when none, freed with `zc_string_free`). A master has none. Errors:
/// ZC_ERR_NULL, ZC_ERR_BAD_HANDLE. Any thread.
#[no_mangle]
pub unsafe extern "C" fn zc_store_take_lost_mutations(
    store: *const zc_store,
    count: *mut usize,
    text: *mut *mut c_char,
) -> zc_result {
    guard(|| {
        out_ptr(count, "count")?;
        out_ptr(text, "text")?;
        let s = STORES.get(store)?;
        let (n, t) = lines(
            s.store
                .take_lost_mutations()
                .into_iter()
                .map(|m| m.reason)
                .collect(),
        );
        write_out(count, n);
        write_out(text, give_string(&t));
        Ok(())
    })
}

/// Takes the problems seen in the background since the last call (the last 1000 at
/// most): on a master, writes from clones it could not apply (a wrong type, a missing
/// key), which the protocol cannot report to the clone that made them; on a clone, its
/// resynchronisations. `*count` and `*text` as in `zc_store_take_lost_mutations`. Errors:
/// ZC_ERR_NULL, ZC_ERR_BAD_HANDLE. Any thread.
#[no_mangle]
pub unsafe extern "C" fn zc_store_take_problems(
    store: *const zc_store,
    count: *mut usize,
    text: *mut *mut c_char,
) -> zc_result {
    guard(|| {
        out_ptr(count, "count")?;
        out_ptr(text, "text")?;
        let s = STORES.get(store)?;
        let (n, t) = lines(
            s.store
                .take_problems()
                .into_iter()
                .map(|e| e.message)
                .collect(),
        );
        write_out(count, n);
        write_out(text, give_string(&t));
        Ok(())
    })
}
