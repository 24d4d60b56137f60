//! `zc_store_flush`: waiting until a store's writes are durable.

use super::guard;
use super::result::zc_result;
use super::store::{zc_store, STORES};
use crate::error::{Error, Result};
use std::time::Duration;

fn flush_timeout(ms: i64) -> Result<Duration> {
    match ms {
        -1 => Ok(Duration::MAX),
        m if m >= 0 => Ok(Duration::from_millis(m as u64)),
        m => Err(Error::invalid(format!(
            "timeout_ms {m}: expected -1 (no limit) or 0 or more milliseconds"
        ))),
    }
}

/// Waits until every write made through this store (any handle, any thread) before the
/// call is durable, at most `timeout_ms` milliseconds (-1: no limit; 0: only checks).
/// SQLite master: committed to the file by the store's storage thread, so a kill -9 of
/// the process after this returns loses none of them (puts themselves return as soon as
/// the write is applied in memory and queued; commits are grouped). Memory master:
/// returns at once. Clone: returns once the master acknowledged every write made here
/// (a SQLite master acknowledges only what it committed; Broker's channel acks come every
/// heartbeat interval, 500 ms by default, so expect up to that); a clone without a master
/// waits for one. Any thread; may block up to `timeout_ms`.
/// Errors: ZC_ERR_NULL, ZC_ERR_BAD_HANDLE, ZC_ERR_INVALID_ARGUMENT (timeout_ms below -1),
/// ZC_ERR_TIMEOUT (not all durable in time: the message says how many are not),
/// ZC_ERR_STORE or ZC_ERR_IO (a commit failed, e.g. the disk is full: the message is
/// SQLite's; the store retries and refuses new writes meanwhile), ZC_ERR_CLOSED (the
/// store's cluster or endpoint is closed).
#[no_mangle]
pub unsafe extern "C" fn zc_store_flush(store: *const zc_store, timeout_ms: i64) -> zc_result {
    guard(|| {
        let t = flush_timeout(timeout_ms)?;
        STORES.get(store)?.store.flush(t)
    })
}
