//! The C ABI. The only module with `unsafe` and `extern "C"`; thin over the core.
//!
//! Conventions (see STYLE.md): every fallible call returns `zc_result` and writes its
//! outputs only on success; `zc_last_error()` explains the last failure on the calling
//! thread; every body runs inside `guard`, so no panic crosses the boundary; handles are
//! registry tokens (`handle::Registry`), so a freed, stale or wrong-type handle is an error
//! code, never a crash.

#![allow(non_camel_case_types)]
#![allow(clippy::missing_safety_doc)]

pub mod batch;
pub mod cluster;
pub mod endpoint;
pub mod endpoint_store;
pub mod event;
pub mod handle;
pub mod layout;
pub mod log;
pub mod options;
pub mod result;
pub(crate) mod sched;
pub mod store;
pub mod store_flush;
pub mod strings;
pub mod value;
pub mod websocket;
pub mod zeromq;
pub(crate) mod zmq_opts;

pub use result::zc_result;

use crate::error::{Error, ErrorKind};
use std::panic::{catch_unwind, AssertUnwindSafe};

/// Runs an entry point's body: maps `Err` to its result code and records the message for
/// `zc_last_error`; turns a panic into `ZC_ERR_INTERNAL` instead of unwinding into C.
pub(crate) fn guard<F>(f: F) -> zc_result
where
    F: FnOnce() -> crate::Result<()>,
{
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(())) => zc_result::ZC_OK,
        Ok(Err(e)) => fail(&e),
        Err(panic) => fail(&panic_error(panic)),
    }
}

/// Like `guard` for entry points that return a plain value instead of a `zc_result`
/// (queries such as `zc_cluster_is_enabled`): on failure they return `default` and the
/// message is available through `zc_last_error`.
pub(crate) fn guard_value<T, F>(default: T, f: F) -> T
where
    F: FnOnce() -> crate::Result<T>,
{
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(v)) => v,
        Ok(Err(e)) => {
            fail(&e);
            default
        }
        Err(panic) => {
            fail(&panic_error(panic));
            default
        }
    }
}

/// Runs a `void` entry point (the `_free` family): failures only set `zc_last_error`.
pub(crate) fn guard_void<F>(f: F)
where
    F: FnOnce() -> crate::Result<()>,
{
    let _ = guard(f);
}

fn panic_error(panic: Box<dyn std::any::Any + Send>) -> Error {
    let what = if let Some(s) = panic.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s.clone()
    } else {
        "unknown panic".to_string()
    };
    Error::new(
        ErrorKind::Internal,
        format!("internal error (a bug in zcluster): {what}"),
    )
}

fn fail(e: &Error) -> zc_result {
    strings::set_last_error(&e.message);
    zc_result::from_kind(e.kind)
}

/// Checks an out-pointer argument is non-NULL.
pub(crate) fn out_ptr<T>(p: *mut T, what: &str) -> crate::Result<()> {
    if p.is_null() {
        Err(Error::new(
            ErrorKind::NullArgument,
            format!("{what} is NULL"),
        ))
    } else {
        Ok(())
    }
}

/// Writes an out-parameter. Callers check it with `out_ptr` before doing any work, so
/// that nothing is written unless the whole call succeeds.
pub(crate) fn write_out<T>(p: *mut T, v: T) {
    // SAFETY: p was checked non-NULL by `out_ptr`; the caller promises it points to a T.
    unsafe { p.write(v) }
}
