//! Log streams through the C ABI: define a stream (`zc_log_stream`), create it on a
//! cluster node, write records, flush, read the counters.
//!
//! A record is a vector `zc_value` with one element per column, in column order (a
//! `zc_value_none` for an unset `&optional` column). Column types are Zeek type names:
//! `bool`, `int`, `count`, `double`, `time`, `interval`, `string`, `addr`, `subnet`,
//! `port`, `enum`, `set[T]`, `vector[T]` (T one of the others). Dotted names (`id.orig_h`)
//! are how record fields are flattened, as in Zeek.
//!
//! Threads: any thread may call any of these; a stream handle may be shared (each call
//! locks it briefly).

use super::cluster::{zc_cluster, CLUSTERS};
use super::handle::{kind, Registry};
use super::strings::arg_str;
use super::value::{value_from_handle, zc_value};
use super::{guard, guard_void, out_ptr, write_out, zc_result};
use crate::data::Value;
use crate::error::Error;
use crate::log::{LogField, LogStream, ZeekType};
use parking_lot::Mutex;
use std::os::raw::c_char;

/// An opaque log stream definition (id, path, columns).
pub struct zc_log_stream {
    _private: [u8; 0],
}

static STREAMS: Registry<Mutex<LogStream>> = Registry::new(kind::LOG_STREAM, "zc_log_stream");

/// Counters of a node's logging: the sending side (every node) and the writing side (a
/// node that writes logs; zero elsewhere).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct zc_log_stats {
    /// Records sent to loggers in batches.
    pub sent: u64,
    /// Batches published.
    pub batches: u64,
    /// Records waiting for a logger to come up.
    pub buffered: u64,
    /// Records dropped because no logger came up before the buffer filled.
    pub dropped: u64,
    /// Records queued for the next batch.
    pub pending: u64,
    /// Writer side: writers created.
    pub writers: u64,
    /// Writer side: records written to files.
    pub records: u64,
    /// Writer side: LogWrites dropped because their (writer, path) had no LogCreate.
    pub dropped_no_create: u64,
    /// Writer side: records whose values did not fit the writer's fields.
    pub dropped_malformed: u64,
    /// Writer side: messages that were no valid LogCreate / LogWrite / Batch.
    pub malformed_messages: u64,
    /// Writer side: file write or rotation errors.
    pub write_errors: u64,
    /// Writer side: files rotated.
    pub rotations: u64,
}

/// A new stream definition with id `id` (`"MyProto::LOG"`) and path `path` (`"myproto"`:
/// the file `myproto.log`), without columns yet. Free it with `zc_log_stream_free`.
/// Errors: ZC_ERR_NULL, ZC_ERR_UTF8.
#[no_mangle]
pub unsafe extern "C" fn zc_log_stream_new(
    id: *const c_char,
    path: *const c_char,
    out: *mut *mut zc_log_stream,
) -> zc_result {
    guard(|| {
        out_ptr(out, "out")?;
        let id = arg_str(id, "id")?;
        let path = arg_str(path, "path")?;
        write_out(out, STREAMS.insert(Mutex::new(LogStream::new(id, path))));
        Ok(())
    })
}

/// Appends a column named `name` of Zeek type `type` (`"count"`, `"set[addr]"`, ...),
/// `&optional` when `optional` is true.
/// Errors: ZC_ERR_NULL, ZC_ERR_UTF8, ZC_ERR_BAD_HANDLE, ZC_ERR_INVALID_ARGUMENT (an
/// unknown type, an empty name or one with a tab or newline, a name already used).
#[no_mangle]
pub unsafe extern "C" fn zc_log_stream_add_column(
    stream: *mut zc_log_stream,
    name: *const c_char,
    type_name: *const c_char,
    optional: bool,
) -> zc_result {
    guard(|| {
        let s = STREAMS.get(stream)?;
        let name = arg_str(name, "name")?;
        let ty = ZeekType::parse(arg_str(type_name, "type")?)?;
        let mut g = s.lock();
        if name.is_empty() || name.bytes().any(|b| matches!(b, b'\t' | b'\n' | b'\r')) {
            return Err(Error::invalid(format!(
                "column name {name:?} must be non-empty, without tabs or newlines"
            )));
        }
        if g.fields.iter().any(|f| f.name == name) {
            return Err(Error::invalid(format!(
                "log stream {}: column \"{name}\" appears twice",
                g.id
            )));
        }
        g.fields.push(LogField {
            name: name.to_string(),
            ty,
            optional,
        });
        Ok(())
    })
}

/// Frees a stream definition (streams created on a cluster keep their copy). NULL is a
/// no-op.
#[no_mangle]
pub unsafe extern "C" fn zc_log_stream_free(stream: *mut zc_log_stream) {
    guard_void(|| STREAMS.free(stream));
}

/// `Log::create_stream`: creates the stream on the node (before or after
/// `zc_cluster_start`); the definition is copied. The same definition again is ZC_OK.
/// Errors: ZC_ERR_NULL, ZC_ERR_BAD_HANDLE, ZC_ERR_INVALID_ARGUMENT (empty id or path, a
/// path with `..`, no columns), ZC_ERR_STATE (another definition under the same id).
#[no_mangle]
pub unsafe extern "C" fn zc_cluster_create_log_stream(
    cl: *const zc_cluster,
    stream: *const zc_log_stream,
) -> zc_result {
    guard(|| {
        let c = CLUSTERS.get(cl)?;
        let s = STREAMS.get(stream)?.lock().clone();
        c.create_log_stream(s)
    })
}

/// `Log::write(id, record)`: `record` is a vector with one value per column (copied; the
/// caller keeps it). On a node that writes logs it goes to the log files, elsewhere to a
/// logger (round robin), kept while none is up. May wait while many records are queued
/// for sending (backpressure).
/// Errors: ZC_ERR_NULL, ZC_ERR_UTF8, ZC_ERR_BAD_HANDLE, ZC_ERR_STATE (not started),
/// ZC_ERR_NOT_FOUND (no such stream), ZC_ERR_TYPE (not a vector, or a value the column's
/// type does not take: the message names the column), ZC_ERR_INVALID_ARGUMENT (wrong
/// number of values, no value for a required column), ZC_ERR_CLOSED.
#[no_mangle]
pub unsafe extern "C" fn zc_cluster_log_write(
    cl: *const zc_cluster,
    stream_id: *const c_char,
    record: *const zc_value,
) -> zc_result {
    guard(|| {
        let c = CLUSTERS.get(cl)?;
        let id = arg_str(stream_id, "stream_id")?;
        let rec = match value_from_handle(record)? {
            Value::Vector(v) => v,
            other => {
                return Err(Error::type_mismatch(format!(
                    "a log record is a vector of column values, not a {}",
                    other.type_name()
                )))
            }
        };
        c.log_write(id, rec)
    })
}

/// Sends the records queued on this node now; on a node that writes logs, waits until
/// the records written so far are in the files.
/// Errors: ZC_ERR_NULL, ZC_ERR_BAD_HANDLE, ZC_ERR_STATE (not started), ZC_ERR_CLOSED.
#[no_mangle]
pub unsafe extern "C" fn zc_cluster_log_flush(cl: *const zc_cluster) -> zc_result {
    guard(|| CLUSTERS.get(cl)?.running()?.flush_log())
}

/// Writes the node's logging counters to `*out`.
/// Errors: ZC_ERR_NULL, ZC_ERR_BAD_HANDLE, ZC_ERR_STATE (not started).
#[no_mangle]
pub unsafe extern "C" fn zc_cluster_log_stats(
    cl: *const zc_cluster,
    out: *mut zc_log_stats,
) -> zc_result {
    guard(|| {
        out_ptr(out, "out")?;
        let c = CLUSTERS.get(cl)?;
        let rt = c.running()?;
        let s = rt.log_send_stats();
        let mut o = zc_log_stats {
            sent: s.sent,
            batches: s.batches,
            buffered: s.buffered as u64,
            dropped: s.dropped,
            pending: s.pending as u64,
            ..Default::default()
        };
        if let Some(w) = rt.log_stats() {
            o.writers = w.writers;
            o.records = w.records;
            o.dropped_no_create = w.dropped_no_create;
            o.dropped_malformed = w.dropped_malformed;
            o.malformed_messages = w.malformed_messages;
            o.write_errors = w.write_errors;
            o.rotations = w.rotations;
        }
        write_out(out, o);
        Ok(())
    })
}
