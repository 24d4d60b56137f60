//! Cluster options in C: a string-keyed configuration object (librdkafka's model), so new
//! options never change the ABI.

use super::handle::{kind, Registry};
use super::strings::{arg_str, give_string};
use super::{guard, guard_void, out_ptr, write_out, zc_result};
use crate::cluster::Options;
use parking_lot::Mutex;
use std::os::raw::c_char;

/// A set of cluster options by Zeek name, every one at its documented default until set.
/// Calls on one handle are serialized internally, so it may be shared between threads.
pub struct zc_options {
    _private: [u8; 0],
}

pub(crate) static OPTIONS: Registry<Mutex<Options>> = Registry::new(kind::OPTIONS, "zc_options");

/// Creates an options object with every option at its default (free with
/// `zc_options_free`). Errors: ZC_ERR_NULL.
#[no_mangle]
pub unsafe extern "C" fn zc_options_new(out: *mut *mut zc_options) -> zc_result {
    guard(|| {
        out_ptr(out, "out")?;
        write_out(out, OPTIONS.insert(Mutex::new(Options::new())));
        Ok(())
    })
}

/// Sets option `key` (its Zeek name, e.g. "Cluster::retry_interval") from `value` in Zeek
/// syntax: bools `T`/`F`/`true`/`false`/`1`/`0`; intervals as Zeek writes them (`1.0 min`,
/// `30 secs`, `250 msecs`, `2 hrs`, `1 day`) or a plain number of seconds; counts; ports
/// `9991/tcp`; strings as they are (or one quoted Zeek literal); patterns `/re/`; enums
/// `Broker::SQLITE` or `SQLITE`. Every option with its type, default and doc:
/// docs/options.md, or `zcluster options --scope cluster`. Errors: ZC_ERR_NULL,
/// ZC_ERR_UTF8, ZC_ERR_BAD_HANDLE, ZC_ERR_NOT_FOUND (unknown option; the message suggests
/// the closest and lists every option), ZC_ERR_INVALID_ARGUMENT (bad value; the message
/// names the option, its type and the value). A failed call leaves the option unchanged.
#[no_mangle]
pub unsafe extern "C" fn zc_options_set(
    opts: *mut zc_options,
    key: *const c_char,
    value: *const c_char,
) -> zc_result {
    guard(|| {
        let o = OPTIONS.get(opts)?;
        let key = arg_str(key, "key")?;
        let value = arg_str(value, "value")?;
        let result = o.lock().set(key, value);
        result
    })
}

/// The current value of option `key` as text, freed with `zc_string_free`: strings bare
/// (no quotes), patterns `/re/`, intervals as Zeek prints them ("1.0 min"), bools "T"/"F",
/// enums by full name. `zc_options_set` accepts the text back. Errors: ZC_ERR_NULL,
/// ZC_ERR_UTF8, ZC_ERR_BAD_HANDLE, ZC_ERR_NOT_FOUND.
#[no_mangle]
pub unsafe extern "C" fn zc_options_get(
    opts: *const zc_options,
    key: *const c_char,
    out: *mut *mut c_char,
) -> zc_result {
    guard(|| {
        out_ptr(out, "out")?;
        let o = OPTIONS.get(opts)?;
        let key = arg_str(key, "key")?;
        let text = o.lock().get_text(key)?;
        write_out(out, give_string(&text));
        Ok(())
    })
}

/// Every option the library accepts, as a JSON array (the table docs/options.md is made
/// from): objects with `scope` ("cluster" for `zc_options_set`, "endpoint",
/// "websocket", "store", "backend"), `name`, `aliases`, `type` (Zeek's type name: bool,
/// count, int, double, interval, string, pattern, port, addr, enum), `values` (an enum's
/// constants), `default` (as option text) and `doc`. The caller frees `*out` with
/// `zc_string_free`. Errors: ZC_ERR_NULL.
#[no_mangle]
pub unsafe extern "C" fn zc_options_catalogue_json(out: *mut *mut c_char) -> zc_result {
    guard(|| {
        out_ptr(out, "out")?;
        write_out(out, give_string(&crate::options::docs::json()));
        Ok(())
    })
}

/// Frees an options object. NULL is a no-op; clusters created with it keep their copy.
#[no_mangle]
pub unsafe extern "C" fn zc_options_free(opts: *mut zc_options) {
    guard_void(|| OPTIONS.free(opts));
}
