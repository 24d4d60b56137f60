//! `zc_event`: Zeek events through the C ABI.
//!
//! Ownership: an event handle belongs to the caller and is freed with `zc_event_free`.
//! `zc_event_add_arg` takes ownership of the value handle on success only. Getters return
//! copies. Threads: any thread; an event handle may be shared (each call locks it).

use super::handle::{kind, Registry};
use super::strings::{arg_str, give_string};
use super::value::{value_from_handle, value_into_handle, value_take_handle, zc_value, VALUES};
use super::{guard, guard_void, out_ptr, write_out, zc_result};
use crate::data::Event;
use crate::error::{Error, Result};
use parking_lot::Mutex;
use std::os::raw::c_char;

/// An opaque Zeek event: a name, arguments and metadata.
pub struct zc_event {
    _private: [u8; 0],
}

static EVENTS: Registry<Mutex<Event>> = Registry::new(kind::EVENT, "zc_event");

/// A copy of the event behind a handle (for the endpoint and cluster layers).
pub(crate) fn event_from_handle(p: *const zc_event) -> Result<Event> {
    Ok(EVENTS.get(p)?.lock().clone())
}

/// The binary encoding of a handle's event, made under its lock (no copy of the event).
pub(crate) fn event_bytes_from_handle(p: *const zc_event) -> Result<Vec<u8>> {
    Ok(EVENTS.get(p)?.lock().to_bytes())
}

/// Registers an event and returns its handle, owned by the C caller.
pub(crate) fn event_into_handle(ev: Event) -> *mut zc_event {
    EVENTS.insert(Mutex::new(ev))
}

/// Creates an event named `name` (e.g. "Demo::ping") without arguments.
/// Errors: ZC_ERR_NULL, ZC_ERR_UTF8, ZC_ERR_INVALID_ARGUMENT (empty name).
#[no_mangle]
pub unsafe extern "C" fn zc_event_new(name: *const c_char, out: *mut *mut zc_event) -> zc_result {
    guard(|| {
        out_ptr(out, "out")?;
        let n = arg_str(name, "name")?;
        if n.is_empty() {
            return Err(Error::invalid("event name is empty"));
        }
        write_out(out, event_into_handle(Event::new(n)));
        Ok(())
    })
}

/// Appends `value` to the event's arguments. On success the event owns `value` (do not
/// free it); on failure the caller keeps it. Errors: ZC_ERR_NULL, ZC_ERR_BAD_HANDLE.
#[no_mangle]
pub unsafe extern "C" fn zc_event_add_arg(ev: *mut zc_event, value: *mut zc_value) -> zc_result {
    guard(|| {
        let e = EVENTS.get(ev)?;
        VALUES.get(value)?;
        let v = value_take_handle(value)?;
        e.lock().args.push(v);
        Ok(())
    })
}

/// The event's name; free with `zc_string_free`. Errors: ZC_ERR_NULL, ZC_ERR_BAD_HANDLE.
#[no_mangle]
pub unsafe extern "C" fn zc_event_name(ev: *const zc_event, out: *mut *mut c_char) -> zc_result {
    guard(|| {
        out_ptr(out, "out")?;
        let name = EVENTS.get(ev)?.lock().name.clone();
        write_out(out, give_string(&name));
        Ok(())
    })
}

/// The number of arguments. Errors: ZC_ERR_NULL, ZC_ERR_BAD_HANDLE.
#[no_mangle]
pub unsafe extern "C" fn zc_event_arg_count(ev: *const zc_event, out: *mut usize) -> zc_result {
    guard(|| {
        out_ptr(out, "out")?;
        let n = EVENTS.get(ev)?.lock().args.len();
        write_out(out, n);
        Ok(())
    })
}

/// Copies argument `index` into a new value `*out` (owned by the caller).
/// Errors: ZC_ERR_NULL, ZC_ERR_BAD_HANDLE, ZC_ERR_NOT_FOUND (index out of range).
#[no_mangle]
pub unsafe extern "C" fn zc_event_arg(
    ev: *const zc_event,
    index: usize,
    out: *mut *mut zc_value,
) -> zc_result {
    guard(|| {
        out_ptr(out, "out")?;
        let e = EVENTS.get(ev)?;
        let g = e.lock();
        let v = g.args.get(index).cloned().ok_or_else(|| {
            Error::not_found(format!(
                "argument {index} is out of range (the event has {})",
                g.args.len()
            ))
        })?;
        drop(g);
        write_out(out, value_into_handle(v));
        Ok(())
    })
}

/// Sets the network timestamp (metadata key 1) in ns since the epoch.
/// Errors: ZC_ERR_BAD_HANDLE, ZC_ERR_NULL.
#[no_mangle]
pub unsafe extern "C" fn zc_event_set_timestamp(ev: *mut zc_event, ns: i64) -> zc_result {
    guard(|| {
        EVENTS.get(ev)?.lock().set_network_timestamp(ns);
        Ok(())
    })
}

/// Reads the network timestamp (metadata key 1). Errors: ZC_ERR_NULL, ZC_ERR_BAD_HANDLE,
/// ZC_ERR_NOT_FOUND (the event carries none).
#[no_mangle]
pub unsafe extern "C" fn zc_event_get_timestamp(ev: *const zc_event, out: *mut i64) -> zc_result {
    guard(|| {
        out_ptr(out, "out")?;
        let ts = EVENTS.get(ev)?.lock().network_timestamp();
        let ts = ts.ok_or_else(|| Error::not_found("the event has no network timestamp"))?;
        write_out(out, ts);
        Ok(())
    })
}

/// The event as Broker data, `[1, 1, [name, [args...], metadata?]]`, in a new value.
/// Errors: ZC_ERR_NULL, ZC_ERR_BAD_HANDLE.
#[no_mangle]
pub unsafe extern "C" fn zc_event_to_value(
    ev: *const zc_event,
    out: *mut *mut zc_value,
) -> zc_result {
    guard(|| {
        out_ptr(out, "out")?;
        let v = EVENTS.get(ev)?.lock().to_value();
        write_out(out, value_into_handle(v));
        Ok(())
    })
}

/// Reads an event from Broker data with Zeek's validation; `v` stays the caller's.
/// Errors: ZC_ERR_NULL, ZC_ERR_BAD_HANDLE, ZC_ERR_TYPE (not a valid Zeek event; the
/// message says why).
#[no_mangle]
pub unsafe extern "C" fn zc_event_from_value(
    v: *const zc_value,
    out: *mut *mut zc_event,
) -> zc_result {
    guard(|| {
        out_ptr(out, "out")?;
        let ev = Event::from_value(&value_from_handle(v)?)?;
        write_out(out, event_into_handle(ev));
        Ok(())
    })
}

/// Deep-copies an event. Errors: ZC_ERR_NULL, ZC_ERR_BAD_HANDLE.
#[no_mangle]
pub unsafe extern "C" fn zc_event_copy(ev: *const zc_event, out: *mut *mut zc_event) -> zc_result {
    guard(|| {
        out_ptr(out, "out")?;
        let e = event_from_handle(ev)?;
        write_out(out, event_into_handle(e));
        Ok(())
    })
}

/// Frees an event. NULL is a no-op; a freed or foreign handle is ignored and noted in
/// `zc_last_error`.
#[no_mangle]
pub unsafe extern "C" fn zc_event_free(ev: *mut zc_event) {
    guard_void(|| EVENTS.free(ev));
}
