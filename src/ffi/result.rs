//! Result codes and the library-level entry points (`zc_version`, `zc_result_str`, ...).

use super::strings;
use crate::error::ErrorKind;
use std::os::raw::{c_char, c_int};

/// The result of every fallible call. The numbers are part of the ABI: never renumber
/// them, only add new ones at the end.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum zc_result {
    /// Success.
    ZC_OK = 0,
    /// A required pointer argument was NULL.
    ZC_ERR_NULL = 1,
    /// An argument is out of range or malformed.
    ZC_ERR_INVALID_ARGUMENT = 2,
    /// Text that must be UTF-8 is not.
    ZC_ERR_UTF8 = 3,
    /// A handle is freed, unknown, or of another type than the call takes.
    ZC_ERR_BAD_HANDLE = 4,
    /// The object, or the endpoint it belongs to, is closed.
    ZC_ERR_CLOSED = 5,
    /// A document (layout, JSON, option value) does not parse; the message names where.
    ZC_ERR_PARSE = 6,
    /// Bytes do not decode as Broker's binary format.
    ZC_ERR_DECODE = 7,
    /// A value has another type than the operation needs.
    ZC_ERR_TYPE = 8,
    /// The named node, option, key or peer does not exist.
    ZC_ERR_NOT_FOUND = 9,
    /// An operating-system I/O failure.
    ZC_ERR_IO = 10,
    /// A bounded wait ran out.
    ZC_ERR_TIMEOUT = 11,
    /// The call would have to wait (a full buffer) and was asked not to.
    ZC_ERR_WOULD_BLOCK = 12,
    /// A peer violated the protocol.
    ZC_ERR_PROTOCOL = 13,
    /// The call conflicts with the object's state (already started, duplicate, ...).
    ZC_ERR_STATE = 14,
    /// A data-store failure (backend error, stale clone, ...).
    ZC_ERR_STORE = 15,
    /// A bug in zcluster (a caught panic or a broken invariant).
    ZC_ERR_INTERNAL = 16,
}

impl zc_result {
    pub(crate) fn from_kind(kind: ErrorKind) -> zc_result {
        use zc_result::*;
        match kind {
            ErrorKind::NullArgument => ZC_ERR_NULL,
            ErrorKind::BadHandle => ZC_ERR_BAD_HANDLE,
            ErrorKind::InvalidArgument => ZC_ERR_INVALID_ARGUMENT,
            ErrorKind::Utf8 => ZC_ERR_UTF8,
            ErrorKind::Parse => ZC_ERR_PARSE,
            ErrorKind::Decode => ZC_ERR_DECODE,
            ErrorKind::Type => ZC_ERR_TYPE,
            ErrorKind::NotFound => ZC_ERR_NOT_FOUND,
            ErrorKind::Io => ZC_ERR_IO,
            ErrorKind::Timeout => ZC_ERR_TIMEOUT,
            ErrorKind::WouldBlock => ZC_ERR_WOULD_BLOCK,
            ErrorKind::Closed => ZC_ERR_CLOSED,
            ErrorKind::Protocol => ZC_ERR_PROTOCOL,
            ErrorKind::State => ZC_ERR_STATE,
            ErrorKind::Store => ZC_ERR_STORE,
            ErrorKind::Internal => ZC_ERR_INTERNAL,
        }
    }
}

/// The ABI version. The Python package refuses a library whose ABI version differs from
/// the one it was written for. Bumped on any incompatible change to the C API.
pub const ZC_ABI_VERSION: u32 = 1;

/// The library's version as a static NUL-terminated string ("0.1.0"). Never NULL; do not
/// free it. Any thread.
#[no_mangle]
pub extern "C" fn zc_version() -> *const c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr() as *const c_char
}

/// The ABI version of the library (`ZC_ABI_VERSION` of the header it was built with).
#[no_mangle]
pub extern "C" fn zc_abi_version() -> u32 {
    ZC_ABI_VERSION
}

/// The name of a result code ("ZC_ERR_NULL") as a static string; never NULL, do not free.
/// Takes an `int` so that any number, even one that is no code, is safe to pass:
/// unknown numbers give "ZC_ERR_UNKNOWN".
#[no_mangle]
pub extern "C" fn zc_result_str(code: c_int) -> *const c_char {
    let s: &'static str = match code {
        0 => "ZC_OK\0",
        1 => "ZC_ERR_NULL\0",
        2 => "ZC_ERR_INVALID_ARGUMENT\0",
        3 => "ZC_ERR_UTF8\0",
        4 => "ZC_ERR_BAD_HANDLE\0",
        5 => "ZC_ERR_CLOSED\0",
        6 => "ZC_ERR_PARSE\0",
        7 => "ZC_ERR_DECODE\0",
        8 => "ZC_ERR_TYPE\0",
        9 => "ZC_ERR_NOT_FOUND\0",
        10 => "ZC_ERR_IO\0",
        11 => "ZC_ERR_TIMEOUT\0",
        12 => "ZC_ERR_WOULD_BLOCK\0",
        13 => "ZC_ERR_PROTOCOL\0",
        14 => "ZC_ERR_STATE\0",
        15 => "ZC_ERR_STORE\0",
        16 => "ZC_ERR_INTERNAL\0",
        _ => "ZC_ERR_UNKNOWN\0",
    };
    s.as_ptr() as *const c_char
}

/// The message of the last failed call on the calling thread, or "" if none failed yet.
/// The pointer stays valid until the next failing zc_* call on this thread; do not free it.
/// Never NULL.
#[no_mangle]
pub extern "C" fn zc_last_error() -> *const c_char {
    strings::last_error_ptr()
}

/// Frees a string that a zc_* call returned to the caller. NULL is a no-op; a pointer the
/// library did not hand out (or already freed) is ignored and noted in `zc_last_error`,
/// never freed twice. Any thread.
#[no_mangle]
pub unsafe extern "C" fn zc_string_free(s: *mut c_char) {
    super::guard_void(|| strings::free_string(s));
}
