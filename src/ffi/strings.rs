//! Strings across the boundary: reading C arguments (NULL and UTF-8 checked), handing out
//! library-owned strings that only `zc_string_free` frees, and the thread-local last error.

use crate::error::{Error, ErrorKind};
use once_cell::sync::Lazy;
use parking_lot::Mutex;
use std::cell::RefCell;
use std::collections::HashMap;
use std::ffi::{CStr, CString};
use std::os::raw::c_char;

thread_local! {
    static LAST_ERROR: RefCell<CString> = RefCell::new(CString::default());
}

/// Address -> allocation length of the strings handed out and not yet freed: lets
/// `zc_string_free` refuse a foreign or double-freed pointer instead of corrupting the heap.
static LIVE_STRINGS: Lazy<Mutex<HashMap<usize, usize>>> = Lazy::new(|| Mutex::new(HashMap::new()));

pub(crate) fn set_last_error(msg: &str) {
    let c = CString::new(msg.replace('\0', "\\0")).unwrap_or_default();
    LAST_ERROR.with(|e| *e.borrow_mut() = c);
}

pub(crate) fn last_error_ptr() -> *const c_char {
    // The CString lives in the thread-local until the next failure replaces it.
    LAST_ERROR.with(|e| e.borrow().as_ptr())
}

/// Reads a required NUL-terminated UTF-8 argument.
pub(crate) fn arg_str<'a>(p: *const c_char, what: &str) -> crate::Result<&'a str> {
    let bytes = arg_bytes_cstr(p, what)?;
    std::str::from_utf8(bytes).map_err(|e| {
        Error::new(
            ErrorKind::Utf8,
            format!(
                "{what} is not valid UTF-8 (invalid byte at offset {})",
                e.valid_up_to()
            ),
        )
    })
}

/// Reads an optional NUL-terminated UTF-8 argument (NULL gives None).
pub(crate) fn arg_opt_str<'a>(p: *const c_char, what: &str) -> crate::Result<Option<&'a str>> {
    if p.is_null() {
        Ok(None)
    } else {
        arg_str(p, what).map(Some)
    }
}

/// Reads a required NUL-terminated argument as bytes.
pub(crate) fn arg_bytes_cstr<'a>(p: *const c_char, what: &str) -> crate::Result<&'a [u8]> {
    if p.is_null() {
        return Err(Error::new(
            ErrorKind::NullArgument,
            format!("{what} is NULL"),
        ));
    }
    // SAFETY: non-NULL; the caller promises a NUL-terminated string that outlives the call.
    Ok(unsafe { CStr::from_ptr(p) }.to_bytes())
}

/// Reads a (pointer, length) byte argument; NULL is allowed only with length 0.
pub(crate) fn arg_bytes<'a>(p: *const u8, len: usize, what: &str) -> crate::Result<&'a [u8]> {
    if p.is_null() {
        if len == 0 {
            return Ok(&[]);
        }
        return Err(Error::new(
            ErrorKind::NullArgument,
            format!("{what} is NULL"),
        ));
    }
    if len > isize::MAX as usize {
        return Err(Error::invalid(format!("{what}: length {len} is too large")));
    }
    // SAFETY: non-NULL; the caller promises `len` readable bytes that outlive the call.
    Ok(unsafe { std::slice::from_raw_parts(p, len) })
}

/// Hands out a library-owned copy of `bytes`, NUL-terminated (the bytes may hold NULs
/// of their own; callers that need them get the length separately). Freed with
/// `zc_string_free`.
pub(crate) fn give_bytes(bytes: &[u8]) -> *mut c_char {
    let mut v = Vec::with_capacity(bytes.len() + 1);
    v.extend_from_slice(bytes);
    v.push(0);
    let boxed = v.into_boxed_slice();
    let len = boxed.len();
    let p = Box::into_raw(boxed) as *mut u8 as *mut c_char;
    LIVE_STRINGS.lock().insert(p as usize, len);
    p
}

/// Hands out a library-owned copy of `s`. Freed with `zc_string_free`.
pub(crate) fn give_string(s: &str) -> *mut c_char {
    give_bytes(s.as_bytes())
}

pub(crate) fn free_string(p: *mut c_char) -> crate::Result<()> {
    if p.is_null() {
        return Ok(());
    }
    let addr = p as usize;
    let Some(len) = LIVE_STRINGS.lock().remove(&addr) else {
        return Err(Error::new(
            ErrorKind::BadHandle,
            "zc_string_free: pointer was not returned by zcluster, or is already freed",
        ));
    };
    // SAFETY: `addr` came from `give_bytes` (it was in LIVE_STRINGS), which leaked a
    // boxed slice of exactly `len` bytes; it is removed from the set, so freed once.
    unsafe {
        drop(Box::from_raw(std::ptr::slice_from_raw_parts_mut(
            p as *mut u8,
            len,
        )));
    }
    Ok(())
}
