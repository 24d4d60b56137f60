//! Zeek's JSON log format (`threading/formatters/JSON.cc` with the defaults
//! `json_timestamps=JSON::TS_EPOCH`, `json_include_unset_fields=F`,
//! `json_string_escape_policy=JSON::STRING_ESCAPE_POLICY_HEX`): one object per line,
//! unset fields left out, written by rapidjson's compact writer.

use super::text;
use super::{LogField, ZeekType};
use crate::data::Value;

/// One record line (with its newline). `vals` has been type-checked against `fields`.
pub(crate) fn record(fields: &[LogField], vals: &[Value]) -> Vec<u8> {
    let mut out = Vec::new();
    record_into(fields, vals, &mut out);
    out
}

/// [`record`] appended to `out`.
pub(crate) fn record_into(fields: &[LogField], vals: &[Value], out: &mut Vec<u8>) {
    record_with_keys(&keys(fields), fields, vals, out)
}

/// Each field's `"name":` as [`record_into`] writes it (a writer keeps them).
pub(crate) fn keys(fields: &[LogField]) -> Vec<Vec<u8>> {
    fields
        .iter()
        .map(|f| {
            let mut k = Vec::with_capacity(f.name.len() + 3);
            text::json_string(&mut k, f.name.as_bytes());
            k.push(b':');
            k
        })
        .collect()
}

/// [`record_into`] with the fields' [`keys`] made beforehand.
pub(crate) fn record_with_keys(
    keys: &[Vec<u8>],
    fields: &[LogField],
    vals: &[Value],
    out: &mut Vec<u8>,
) {
    out.push(b'{');
    let mut first = true;
    for ((f, k), v) in fields.iter().zip(keys).zip(vals) {
        if matches!(v, Value::None) {
            continue;
        }
        if !first {
            out.push(b',');
        }
        first = false;
        out.extend_from_slice(k);
        value(out, &f.ty, v);
    }
    out.extend_from_slice(b"}\n");
}

fn double(out: &mut Vec<u8>, d: f64) {
    if !text::json_double_into(out, d) {
        out.extend_from_slice(b"null");
    }
}

fn value(out: &mut Vec<u8>, ty: &ZeekType, v: &Value) {
    match v {
        Value::None => out.extend_from_slice(b"null"),
        Value::Bool(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Value::Integer(i) => text::push_i64(out, *i),
        Value::Count(c) => text::push_u64(out, *c),
        Value::Port(p) => text::push_u64(out, u64::from(p.number)),
        Value::Address(a) if a.is_v4() => {
            out.push(b'"');
            text::push_v4(out, a);
            out.push(b'"');
        }
        Value::Address(a) => text::json_string(out, text::addr_buf(a).as_bytes()),
        Value::Subnet(s) => text::json_string(out, text::subnet(s).as_bytes()),
        Value::Real(r) => double(out, *r),
        Value::Timestamp(ns) | Value::Timespan(ns) => double(out, text::ns_to_secs(*ns)),
        Value::String(s) if s.iter().all(|b| (0x20..0x7f).contains(b)) => text::json_string(out, s),
        Value::String(s) => text::json_string(out, &text::escape_utf8(s, false)),
        // Printable ASCII is what escape_utf8 leaves as it is.
        Value::Enum(s) if s.bytes().all(|b| (0x20..0x7f).contains(&b)) => {
            text::json_string(out, s.as_bytes())
        }
        Value::Enum(s) => text::json_string(out, &text::escape_utf8(s.as_bytes(), false)),
        Value::Set(s) => array(out, ty, s.iter()),
        Value::Vector(s) => array(out, ty, s.iter()),
        Value::Table(_) => out.extend_from_slice(b"null"),
    }
}

fn array<'v>(out: &mut Vec<u8>, ty: &ZeekType, items: impl Iterator<Item = &'v Value>) {
    let elem_ty: &ZeekType = match ty {
        ZeekType::Set(t) | ZeekType::Vector(t) => t,
        other => other,
    };
    out.push(b'[');
    for (j, e) in items.enumerate() {
        if j > 0 {
            out.push(b',');
        }
        value(out, elem_ty, e);
    }
    out.push(b']');
}
