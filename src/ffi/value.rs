//! `zc_value`: Broker values through the C ABI.
//!
//! Ownership: every `zc_value*` a call hands out belongs to the caller, who frees it with
//! `zc_value_free`. Container builders (`zc_value_set_insert`, `zc_value_table_insert`,
//! `zc_value_vector_push`) take ownership of the element handles they are given **only on
//! success** (librdkafka style): afterwards those handles are invalid and must not be
//! freed; on failure the caller still owns them. Getters that return containers' elements
//! return deep copies. Strings returned are freed with `zc_string_free`.
//!
//! Threads: any thread may call any of these functions; a value handle may be shared
//! between threads (each call locks it briefly).

use super::handle::{kind, Registry};
use super::strings::{arg_bytes, arg_str, give_bytes, give_string};
use super::{guard, guard_void, out_ptr, write_out, zc_result};
use crate::data::{bin, json as bjson, Address, Port, Protocol, Subnet, Value};
use crate::error::{Error, Result};
use parking_lot::Mutex;
use std::os::raw::{c_char, c_int};

/// An opaque Broker value (any of the 15 types).
pub struct zc_value {
    _private: [u8; 0],
}

/// Broker's data types, numbered as Broker's type tags (the first byte of the binary
/// encoding).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum zc_type {
    ZC_TYPE_NONE = 0,
    ZC_TYPE_BOOL = 1,
    ZC_TYPE_COUNT = 2,
    ZC_TYPE_INTEGER = 3,
    ZC_TYPE_REAL = 4,
    ZC_TYPE_STRING = 5,
    ZC_TYPE_ADDRESS = 6,
    ZC_TYPE_SUBNET = 7,
    ZC_TYPE_PORT = 8,
    ZC_TYPE_TIMESTAMP = 9,
    ZC_TYPE_TIMESPAN = 10,
    ZC_TYPE_ENUM = 11,
    ZC_TYPE_SET = 12,
    ZC_TYPE_TABLE = 13,
    ZC_TYPE_VECTOR = 14,
}

/// A port's transport protocol, numbered as Broker numbers them.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum zc_protocol {
    ZC_PROTO_UNKNOWN = 0,
    ZC_PROTO_TCP = 1,
    ZC_PROTO_UDP = 2,
    ZC_PROTO_ICMP = 3,
}

pub(crate) static VALUES: Registry<Mutex<Value>> = Registry::new(kind::VALUE, "zc_value");

/// Registers a value and returns its handle (the caller of the C API owns it).
pub(crate) fn value_into_handle(v: Value) -> *mut zc_value {
    VALUES.insert(Mutex::new(v))
}

/// A copy of the value behind a handle.
pub(crate) fn value_from_handle(p: *const zc_value) -> Result<Value> {
    Ok(VALUES.get(p)?.lock().clone())
}

/// Takes the value out of a handle and invalidates the handle (ownership transfer).
pub(crate) fn value_take_handle(p: *const zc_value) -> Result<Value> {
    let arc = VALUES.remove(p)?;
    let v = std::mem::replace(&mut *arc.lock(), Value::None);
    Ok(v)
}

fn give(out: *mut *mut zc_value, v: Value) {
    write_out(out, value_into_handle(v));
}

fn make(out: *mut *mut zc_value, f: impl FnOnce() -> Result<Value>) -> zc_result {
    guard(|| {
        out_ptr(out, "out")?;
        let v = f()?;
        give(out, v);
        Ok(())
    })
}

fn wrong_type(v: &Value, want: &str) -> Error {
    Error::type_mismatch(format!("value is a {}, not a {want}", v.type_name()))
}

// ---------------------------------------------------------------------------------------
// Constructors

/// Creates a `none` value in `*out`. Errors: ZC_ERR_NULL.
#[no_mangle]
pub unsafe extern "C" fn zc_value_none(out: *mut *mut zc_value) -> zc_result {
    make(out, || Ok(Value::None))
}

/// Creates a boolean. Errors: ZC_ERR_NULL.
#[no_mangle]
pub unsafe extern "C" fn zc_value_bool(b: bool, out: *mut *mut zc_value) -> zc_result {
    make(out, || Ok(Value::Bool(b)))
}

/// Creates a count (unsigned 64-bit). Errors: ZC_ERR_NULL.
#[no_mangle]
pub unsafe extern "C" fn zc_value_count(n: u64, out: *mut *mut zc_value) -> zc_result {
    make(out, || Ok(Value::Count(n)))
}

/// Creates an integer (signed 64-bit). Errors: ZC_ERR_NULL.
#[no_mangle]
pub unsafe extern "C" fn zc_value_integer(n: i64, out: *mut *mut zc_value) -> zc_result {
    make(out, || Ok(Value::Integer(n)))
}

/// Creates a real (any double, NaN and infinities included). Errors: ZC_ERR_NULL.
#[no_mangle]
pub unsafe extern "C" fn zc_value_real(r: f64, out: *mut *mut zc_value) -> zc_result {
    make(out, || Ok(Value::Real(r)))
}

/// Creates a string from `len` arbitrary bytes (NULs and non-UTF-8 allowed; `bytes` may
/// be NULL only when `len` is 0). The bytes are copied. Errors: ZC_ERR_NULL.
#[no_mangle]
pub unsafe extern "C" fn zc_value_string(
    bytes: *const u8,
    len: usize,
    out: *mut *mut zc_value,
) -> zc_result {
    make(out, || {
        Ok(Value::String(arg_bytes(bytes, len, "bytes")?.to_vec()))
    })
}

/// Creates a string from NUL-terminated UTF-8 text. Errors: ZC_ERR_NULL, ZC_ERR_UTF8.
#[no_mangle]
pub unsafe extern "C" fn zc_value_string_utf8(
    text: *const c_char,
    out: *mut *mut zc_value,
) -> zc_result {
    make(out, || Ok(Value::from(arg_str(text, "text")?)))
}

/// Creates an address from text ("10.0.0.1", "2001:db8::1"; IPv4 is stored v4-mapped).
/// Errors: ZC_ERR_NULL, ZC_ERR_UTF8, ZC_ERR_INVALID_ARGUMENT (not an address).
#[no_mangle]
pub unsafe extern "C" fn zc_value_address(
    text: *const c_char,
    out: *mut *mut zc_value,
) -> zc_result {
    make(out, || {
        Ok(Value::Address(arg_str(text, "text")?.parse::<Address>()?))
    })
}

/// Creates an address from 16 bytes in network order (IPv4 as `::ffff:a.b.c.d`).
/// Errors: ZC_ERR_NULL.
#[no_mangle]
pub unsafe extern "C" fn zc_value_address_bytes(
    bytes16: *const u8,
    out: *mut *mut zc_value,
) -> zc_result {
    make(out, || {
        let b = arg_bytes(bytes16, 16, "bytes16")?;
        let mut a = [0u8; 16];
        a.copy_from_slice(b);
        Ok(Value::Address(Address(a)))
    })
}

/// Creates a subnet from "address/length" text, the length in the address's own family
/// terms ("10.0.0.0/8", "2001:db8::/32"); host bits are cleared.
/// Errors: ZC_ERR_NULL, ZC_ERR_UTF8, ZC_ERR_INVALID_ARGUMENT.
#[no_mangle]
pub unsafe extern "C" fn zc_value_subnet(
    text: *const c_char,
    out: *mut *mut zc_value,
) -> zc_result {
    make(out, || {
        Ok(Value::Subnet(arg_str(text, "text")?.parse::<Subnet>()?))
    })
}

/// Creates a port; `proto` is a `zc_protocol` number (0..=3).
/// Errors: ZC_ERR_NULL, ZC_ERR_INVALID_ARGUMENT (unknown protocol number).
#[no_mangle]
pub unsafe extern "C" fn zc_value_port(
    number: u16,
    proto: c_int,
    out: *mut *mut zc_value,
) -> zc_result {
    make(out, || {
        let protocol = u8::try_from(proto)
            .ok()
            .and_then(Protocol::from_u8)
            .ok_or_else(|| {
                Error::invalid(format!("protocol {proto} is not a zc_protocol (0..=3)"))
            })?;
        Ok(Value::Port(Port { number, protocol }))
    })
}

/// Creates a timestamp from nanoseconds since the Unix epoch (UTC). Errors: ZC_ERR_NULL.
#[no_mangle]
pub unsafe extern "C" fn zc_value_timestamp(ns: i64, out: *mut *mut zc_value) -> zc_result {
    make(out, || Ok(Value::Timestamp(ns)))
}

/// Creates a timespan from nanoseconds. Errors: ZC_ERR_NULL.
#[no_mangle]
pub unsafe extern "C" fn zc_value_timespan(ns: i64, out: *mut *mut zc_value) -> zc_result {
    make(out, || Ok(Value::Timespan(ns)))
}

/// Creates an enum value from its qualified name ("Cluster::WORKER").
/// Errors: ZC_ERR_NULL, ZC_ERR_UTF8.
#[no_mangle]
pub unsafe extern "C" fn zc_value_enum(name: *const c_char, out: *mut *mut zc_value) -> zc_result {
    make(out, || Ok(Value::Enum(arg_str(name, "name")?.to_string())))
}

/// Creates an empty set. Errors: ZC_ERR_NULL.
#[no_mangle]
pub unsafe extern "C" fn zc_value_set_new(out: *mut *mut zc_value) -> zc_result {
    make(out, || Ok(Value::Set(Default::default())))
}

/// Creates an empty table. Errors: ZC_ERR_NULL.
#[no_mangle]
pub unsafe extern "C" fn zc_value_table_new(out: *mut *mut zc_value) -> zc_result {
    make(out, || Ok(Value::Table(Default::default())))
}

/// Creates an empty vector. Errors: ZC_ERR_NULL.
#[no_mangle]
pub unsafe extern "C" fn zc_value_vector_new(out: *mut *mut zc_value) -> zc_result {
    make(out, || Ok(Value::Vector(Vec::new())))
}

// ---------------------------------------------------------------------------------------
// Type and accessors

/// Writes the value's type to `*out`. Errors: ZC_ERR_NULL, ZC_ERR_BAD_HANDLE.
#[no_mangle]
pub unsafe extern "C" fn zc_value_type(v: *const zc_value, out: *mut zc_type) -> zc_result {
    guard(|| {
        out_ptr(out, "out")?;
        let tag = VALUES.get(v)?.lock().tag();
        use zc_type::*;
        let t = [
            ZC_TYPE_NONE,
            ZC_TYPE_BOOL,
            ZC_TYPE_COUNT,
            ZC_TYPE_INTEGER,
            ZC_TYPE_REAL,
            ZC_TYPE_STRING,
            ZC_TYPE_ADDRESS,
            ZC_TYPE_SUBNET,
            ZC_TYPE_PORT,
            ZC_TYPE_TIMESTAMP,
            ZC_TYPE_TIMESPAN,
            ZC_TYPE_ENUM,
            ZC_TYPE_SET,
            ZC_TYPE_TABLE,
            ZC_TYPE_VECTOR,
        ][tag as usize];
        write_out(out, t);
        Ok(())
    })
}

fn get<T>(v: *const zc_value, out: *mut T, f: impl FnOnce(&Value) -> Result<T>) -> zc_result {
    guard(|| {
        out_ptr(out, "out")?;
        let arc = VALUES.get(v)?;
        let r = f(&arc.lock())?;
        write_out(out, r);
        Ok(())
    })
}

/// Reads a boolean. Errors: ZC_ERR_NULL, ZC_ERR_BAD_HANDLE, ZC_ERR_TYPE (other type).
#[no_mangle]
pub unsafe extern "C" fn zc_value_get_bool(v: *const zc_value, out: *mut bool) -> zc_result {
    get(v, out, |x| match x {
        Value::Bool(b) => Ok(*b),
        o => Err(wrong_type(o, "boolean")),
    })
}

/// Reads a count. Errors: ZC_ERR_NULL, ZC_ERR_BAD_HANDLE, ZC_ERR_TYPE.
#[no_mangle]
pub unsafe extern "C" fn zc_value_get_count(v: *const zc_value, out: *mut u64) -> zc_result {
    get(v, out, |x| match x {
        Value::Count(n) => Ok(*n),
        o => Err(wrong_type(o, "count")),
    })
}

/// Reads an integer. Errors: ZC_ERR_NULL, ZC_ERR_BAD_HANDLE, ZC_ERR_TYPE.
#[no_mangle]
pub unsafe extern "C" fn zc_value_get_integer(v: *const zc_value, out: *mut i64) -> zc_result {
    get(v, out, |x| match x {
        Value::Integer(n) => Ok(*n),
        o => Err(wrong_type(o, "integer")),
    })
}

/// Reads a real. Errors: ZC_ERR_NULL, ZC_ERR_BAD_HANDLE, ZC_ERR_TYPE.
#[no_mangle]
pub unsafe extern "C" fn zc_value_get_real(v: *const zc_value, out: *mut f64) -> zc_result {
    get(v, out, |x| match x {
        Value::Real(r) => Ok(*r),
        o => Err(wrong_type(o, "real")),
    })
}

/// Reads a string's bytes: `*ptr` gets a library-owned, NUL-terminated copy (the bytes may
/// hold NULs of their own and need not be UTF-8), `*len` (if `len` is not NULL) its length
/// without the terminator. Free `*ptr` with `zc_string_free`.
/// Errors: ZC_ERR_NULL, ZC_ERR_BAD_HANDLE, ZC_ERR_TYPE.
#[no_mangle]
pub unsafe extern "C" fn zc_value_get_string(
    v: *const zc_value,
    ptr: *mut *mut c_char,
    len: *mut usize,
) -> zc_result {
    guard(|| {
        out_ptr(ptr, "ptr")?;
        let arc = VALUES.get(v)?;
        let g = arc.lock();
        let Value::String(b) = &*g else {
            return Err(wrong_type(&g, "string"));
        };
        if !len.is_null() {
            write_out(len, b.len());
        }
        write_out(ptr, give_bytes(b));
        Ok(())
    })
}

fn get_text(
    v: *const zc_value,
    out: *mut *mut c_char,
    f: impl FnOnce(&Value) -> Result<String>,
) -> zc_result {
    guard(|| {
        out_ptr(out, "out")?;
        let arc = VALUES.get(v)?;
        let s = f(&arc.lock())?;
        write_out(out, give_string(&s));
        Ok(())
    })
}

/// Reads an address as text ("10.0.0.1", "2001:db8::1"); free with `zc_string_free`.
/// Errors: ZC_ERR_NULL, ZC_ERR_BAD_HANDLE, ZC_ERR_TYPE.
#[no_mangle]
pub unsafe extern "C" fn zc_value_get_address(
    v: *const zc_value,
    out: *mut *mut c_char,
) -> zc_result {
    get_text(v, out, |x| match x {
        Value::Address(a) => Ok(a.to_string()),
        o => Err(wrong_type(o, "address")),
    })
}

/// Copies an address's 16 bytes (network order, IPv4 v4-mapped) into `out16`.
/// Errors: ZC_ERR_NULL, ZC_ERR_BAD_HANDLE, ZC_ERR_TYPE.
#[no_mangle]
pub unsafe extern "C" fn zc_value_get_address_bytes(
    v: *const zc_value,
    out16: *mut u8,
) -> zc_result {
    get(v, out16 as *mut [u8; 16], |x| match x {
        Value::Address(a) => Ok(a.0),
        o => Err(wrong_type(o, "address")),
    })
}

/// Reads a subnet as "address/length" text (length in the family's own terms); free
/// with `zc_string_free`. Errors: ZC_ERR_NULL, ZC_ERR_BAD_HANDLE, ZC_ERR_TYPE.
#[no_mangle]
pub unsafe extern "C" fn zc_value_get_subnet(
    v: *const zc_value,
    out: *mut *mut c_char,
) -> zc_result {
    get_text(v, out, |x| match x {
        Value::Subnet(s) => Ok(s.to_string()),
        o => Err(wrong_type(o, "subnet")),
    })
}

/// Reads a port's number and protocol. Errors: ZC_ERR_NULL, ZC_ERR_BAD_HANDLE, ZC_ERR_TYPE.
#[no_mangle]
pub unsafe extern "C" fn zc_value_get_port(
    v: *const zc_value,
    number: *mut u16,
    proto: *mut zc_protocol,
) -> zc_result {
    guard(|| {
        out_ptr(number, "number")?;
        out_ptr(proto, "proto")?;
        let arc = VALUES.get(v)?;
        let g = arc.lock();
        let Value::Port(p) = &*g else {
            return Err(wrong_type(&g, "port"));
        };
        let pr = match p.protocol {
            Protocol::Unknown => zc_protocol::ZC_PROTO_UNKNOWN,
            Protocol::Tcp => zc_protocol::ZC_PROTO_TCP,
            Protocol::Udp => zc_protocol::ZC_PROTO_UDP,
            Protocol::Icmp => zc_protocol::ZC_PROTO_ICMP,
        };
        write_out(number, p.number);
        write_out(proto, pr);
        Ok(())
    })
}

/// Reads a timestamp (ns since the epoch). Errors: ZC_ERR_NULL, ZC_ERR_BAD_HANDLE, ZC_ERR_TYPE.
#[no_mangle]
pub unsafe extern "C" fn zc_value_get_timestamp(v: *const zc_value, out: *mut i64) -> zc_result {
    get(v, out, |x| match x {
        Value::Timestamp(t) => Ok(*t),
        o => Err(wrong_type(o, "timestamp")),
    })
}

/// Reads a timespan (ns). Errors: ZC_ERR_NULL, ZC_ERR_BAD_HANDLE, ZC_ERR_TYPE.
#[no_mangle]
pub unsafe extern "C" fn zc_value_get_timespan(v: *const zc_value, out: *mut i64) -> zc_result {
    get(v, out, |x| match x {
        Value::Timespan(t) => Ok(*t),
        o => Err(wrong_type(o, "timespan")),
    })
}

/// Reads an enum value's name; free with `zc_string_free`.
/// Errors: ZC_ERR_NULL, ZC_ERR_BAD_HANDLE, ZC_ERR_TYPE.
#[no_mangle]
pub unsafe extern "C" fn zc_value_get_enum(v: *const zc_value, out: *mut *mut c_char) -> zc_result {
    get_text(v, out, |x| match x {
        Value::Enum(e) => Ok(e.clone()),
        o => Err(wrong_type(o, "enum-value")),
    })
}

// ---------------------------------------------------------------------------------------
// Containers

fn same(a: *const zc_value, b: *const zc_value) -> Result<()> {
    if a == b {
        Err(Error::invalid("a container cannot be inserted into itself"))
    } else {
        Ok(())
    }
}

/// Inserts `elem` into `set`. On success the set owns `elem` (the handle becomes invalid;
/// do not free it); an element already present leaves the set unchanged (still ZC_OK, and
/// `elem` is still consumed). On failure the caller keeps `elem`.
/// Errors: ZC_ERR_NULL, ZC_ERR_BAD_HANDLE, ZC_ERR_TYPE (not a set), ZC_ERR_INVALID_ARGUMENT
/// (`elem` is `set`).
#[no_mangle]
pub unsafe extern "C" fn zc_value_set_insert(set: *mut zc_value, elem: *mut zc_value) -> zc_result {
    guard(|| {
        same(set, elem)?;
        let c = VALUES.get(set)?;
        VALUES.get(elem)?;
        let mut g = c.lock();
        if !matches!(&*g, Value::Set(_)) {
            return Err(wrong_type(&g, "set"));
        }
        let x = value_take_handle(elem)?;
        if let Value::Set(s) = &mut *g {
            s.insert(x);
        }
        Ok(())
    })
}

/// Inserts or replaces `key -> val` in `table`. On success the table owns both handles;
/// on failure the caller keeps both. Errors: ZC_ERR_NULL, ZC_ERR_BAD_HANDLE, ZC_ERR_TYPE,
/// ZC_ERR_INVALID_ARGUMENT (a handle is the table itself, or key and val are one handle).
#[no_mangle]
pub unsafe extern "C" fn zc_value_table_insert(
    table: *mut zc_value,
    key: *mut zc_value,
    val: *mut zc_value,
) -> zc_result {
    guard(|| {
        same(table, key)?;
        same(table, val)?;
        if key == val {
            return Err(Error::invalid("key and val are the same handle"));
        }
        let c = VALUES.get(table)?;
        VALUES.get(key)?;
        VALUES.get(val)?;
        let mut g = c.lock();
        if !matches!(&*g, Value::Table(_)) {
            return Err(wrong_type(&g, "table"));
        }
        let k = value_take_handle(key)?;
        let v = value_take_handle(val)?;
        if let Value::Table(t) = &mut *g {
            t.insert(k, v);
        }
        Ok(())
    })
}

/// Appends `elem` to `vec`. On success the vector owns `elem`; on failure the caller keeps
/// it. Errors: ZC_ERR_NULL, ZC_ERR_BAD_HANDLE, ZC_ERR_TYPE, ZC_ERR_INVALID_ARGUMENT.
#[no_mangle]
pub unsafe extern "C" fn zc_value_vector_push(
    vec: *mut zc_value,
    elem: *mut zc_value,
) -> zc_result {
    guard(|| {
        same(vec, elem)?;
        let c = VALUES.get(vec)?;
        VALUES.get(elem)?;
        let mut g = c.lock();
        if !matches!(&*g, Value::Vector(_)) {
            return Err(wrong_type(&g, "vector"));
        }
        let x = value_take_handle(elem)?;
        if let Value::Vector(xs) = &mut *g {
            xs.push(x);
        }
        Ok(())
    })
}

/// Writes the number of elements of a set, table or vector (bytes of a string) to `*out`.
/// Errors: ZC_ERR_NULL, ZC_ERR_BAD_HANDLE, ZC_ERR_TYPE (a scalar).
#[no_mangle]
pub unsafe extern "C" fn zc_value_size(v: *const zc_value, out: *mut usize) -> zc_result {
    get(v, out, |x| match x {
        Value::String(s) => Ok(s.len()),
        o => o.container_len().ok_or_else(|| wrong_type(o, "container")),
    })
}

/// Copies element `index` of a vector, or of a set in its canonical order, into a new
/// value `*out` (owned by the caller). Errors: ZC_ERR_NULL, ZC_ERR_BAD_HANDLE,
/// ZC_ERR_TYPE (not a vector or set; use zc_value_table_entry_at for tables),
/// ZC_ERR_NOT_FOUND (index out of range).
#[no_mangle]
pub unsafe extern "C" fn zc_value_at(
    v: *const zc_value,
    index: usize,
    out: *mut *mut zc_value,
) -> zc_result {
    guard(|| {
        out_ptr(out, "out")?;
        let arc = VALUES.get(v)?;
        let g = arc.lock();
        let (x, n) = match &*g {
            Value::Vector(xs) => (xs.get(index).cloned(), xs.len()),
            Value::Set(s) => (s.iter().nth(index).cloned(), s.len()),
            o => return Err(wrong_type(o, "vector or set")),
        };
        let x =
            x.ok_or_else(|| Error::not_found(format!("index {index} is out of range (size {n})")))?;
        drop(g);
        give(out, x);
        Ok(())
    })
}

/// Copies entry `index` (in canonical key order) of a table into new values `*key` and
/// `*val` (both owned by the caller). Errors: ZC_ERR_NULL, ZC_ERR_BAD_HANDLE, ZC_ERR_TYPE,
/// ZC_ERR_NOT_FOUND (index out of range).
#[no_mangle]
pub unsafe extern "C" fn zc_value_table_entry_at(
    t: *const zc_value,
    index: usize,
    key: *mut *mut zc_value,
    val: *mut *mut zc_value,
) -> zc_result {
    guard(|| {
        out_ptr(key, "key")?;
        out_ptr(val, "val")?;
        let arc = VALUES.get(t)?;
        let g = arc.lock();
        let Value::Table(m) = &*g else {
            return Err(wrong_type(&g, "table"));
        };
        let (k, x) = m
            .iter()
            .nth(index)
            .map(|(k, x)| (k.clone(), x.clone()))
            .ok_or_else(|| {
                Error::not_found(format!("index {index} is out of range (size {})", m.len()))
            })?;
        drop(g);
        give(key, k);
        give(val, x);
        Ok(())
    })
}

/// Looks `key` up in a table and copies its value into `*val` (owned by the caller);
/// `key` stays the caller's. Errors: ZC_ERR_NULL, ZC_ERR_BAD_HANDLE, ZC_ERR_TYPE,
/// ZC_ERR_NOT_FOUND (no such key).
#[no_mangle]
pub unsafe extern "C" fn zc_value_table_get(
    t: *const zc_value,
    key: *const zc_value,
    val: *mut *mut zc_value,
) -> zc_result {
    guard(|| {
        out_ptr(val, "val")?;
        let k = value_from_handle(key)?;
        let arc = VALUES.get(t)?;
        let g = arc.lock();
        let Value::Table(m) = &*g else {
            return Err(wrong_type(&g, "table"));
        };
        let x = m
            .get(&k)
            .cloned()
            .ok_or_else(|| Error::not_found(format!("no key {k} in the table")))?;
        drop(g);
        give(val, x);
        Ok(())
    })
}

/// Whether a set holds `elem` (or a table holds the key `elem`); `elem` stays the
/// caller's. Errors: ZC_ERR_NULL, ZC_ERR_BAD_HANDLE, ZC_ERR_TYPE.
#[no_mangle]
pub unsafe extern "C" fn zc_value_contains(
    c: *const zc_value,
    elem: *const zc_value,
    out: *mut bool,
) -> zc_result {
    guard(|| {
        out_ptr(out, "out")?;
        let x = value_from_handle(elem)?;
        let arc = VALUES.get(c)?;
        let g = arc.lock();
        let r = match &*g {
            Value::Set(s) => s.contains(&x),
            Value::Table(t) => t.contains_key(&x),
            o => return Err(wrong_type(o, "set or table")),
        };
        write_out(out, r);
        Ok(())
    })
}

// ---------------------------------------------------------------------------------------
// Whole values

/// Deep-copies `v` into a new value `*out`. Errors: ZC_ERR_NULL, ZC_ERR_BAD_HANDLE.
#[no_mangle]
pub unsafe extern "C" fn zc_value_copy(v: *const zc_value, out: *mut *mut zc_value) -> zc_result {
    make(out, || value_from_handle(v))
}

/// Whether `a` equals `b` in Broker's sense (same type and value; -0.0 equals 0.0).
/// Errors: ZC_ERR_NULL, ZC_ERR_BAD_HANDLE.
#[no_mangle]
pub unsafe extern "C" fn zc_value_equal(
    a: *const zc_value,
    b: *const zc_value,
    out: *mut bool,
) -> zc_result {
    guard(|| {
        out_ptr(out, "out")?;
        let x = value_from_handle(a)?;
        let y = value_from_handle(b)?;
        write_out(out, x == y);
        Ok(())
    })
}

/// Compares in Broker's total order (type tag first, then value): `*out` is -1, 0 or 1.
/// Errors: ZC_ERR_NULL, ZC_ERR_BAD_HANDLE.
#[no_mangle]
pub unsafe extern "C" fn zc_value_compare(
    a: *const zc_value,
    b: *const zc_value,
    out: *mut c_int,
) -> zc_result {
    guard(|| {
        out_ptr(out, "out")?;
        let x = value_from_handle(a)?;
        let y = value_from_handle(b)?;
        write_out(out, x.cmp(&y) as c_int);
        Ok(())
    })
}

/// Broker's WebSocket JSON for `v` (`{"@data-type":..,"data":..}`, compact); free with
/// `zc_string_free`. Non-UTF-8 string bytes become U+FFFD; NaN/inf become "nan"/"inf".
/// Errors: ZC_ERR_NULL, ZC_ERR_BAD_HANDLE.
#[no_mangle]
pub unsafe extern "C" fn zc_value_to_json(v: *const zc_value, out: *mut *mut c_char) -> zc_result {
    get_text(v, out, |x| Ok(bjson::to_json(x)))
}

/// Parses Broker's WebSocket JSON (leniently, see the Rust docs of `data::json`) into a
/// new value. Errors: ZC_ERR_NULL, ZC_ERR_UTF8, ZC_ERR_PARSE (message names line:column
/// or the path to the bad part, e.g. "at data[1].key: ...").
#[no_mangle]
pub unsafe extern "C" fn zc_value_from_json(
    text: *const c_char,
    out: *mut *mut zc_value,
) -> zc_result {
    make(out, || bjson::from_json(arg_str(text, "text")?))
}

/// Broker's binary encoding of `v` (tag byte + payload): `*bytes` gets a library-owned
/// buffer of `*len` bytes (NUL-terminated for convenience); free it with `zc_string_free`.
/// Errors: ZC_ERR_NULL, ZC_ERR_BAD_HANDLE, ZC_ERR_INVALID_ARGUMENT (a length over 2^32-1).
#[no_mangle]
pub unsafe extern "C" fn zc_value_to_binary(
    v: *const zc_value,
    bytes: *mut *mut u8,
    len: *mut usize,
) -> zc_result {
    guard(|| {
        out_ptr(bytes, "bytes")?;
        out_ptr(len, "len")?;
        let arc = VALUES.get(v)?;
        let mut buf = Vec::new();
        bin::try_encode(&arc.lock(), &mut buf)?;
        write_out(len, buf.len());
        write_out(bytes, give_bytes(&buf) as *mut u8);
        Ok(())
    })
}

/// Decodes exactly one value from `len` bytes of Broker's binary encoding (depth limit 64).
/// Errors: ZC_ERR_NULL, ZC_ERR_DECODE (with the offset and what was wrong).
#[no_mangle]
pub unsafe extern "C" fn zc_value_from_binary(
    bytes: *const u8,
    len: usize,
    out: *mut *mut zc_value,
) -> zc_result {
    make(out, || bin::decode(arg_bytes(bytes, len, "bytes")?))
}

/// Zeek-like text of `v` (`T`, `42`, `"a\xff"`, `{1, 2}`, `{k -> v}`, `[a, b]`, ...);
/// free with `zc_string_free`. Errors: ZC_ERR_NULL, ZC_ERR_BAD_HANDLE.
#[no_mangle]
pub unsafe extern "C" fn zc_value_to_string(
    v: *const zc_value,
    out: *mut *mut c_char,
) -> zc_result {
    get_text(v, out, |x| Ok(x.to_string()))
}

/// Frees a value. NULL is a no-op; a freed or foreign handle is ignored and noted in
/// `zc_last_error`. Handles given to a container by a successful insert/push must not be
/// freed.
#[no_mangle]
pub unsafe extern "C" fn zc_value_free(v: *mut zc_value) {
    guard_void(|| VALUES.free(v));
}
