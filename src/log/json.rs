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
    out.push(b'{');
    let mut first = true;
    for (f, v) in fields.iter().zip(vals) {
        if matches!(v, Value::None) {
            continue;
        }
        if !first {
            out.push(b',');
        }
        first = false;
        text::json_string(out, f.name.as_bytes());
        out.push(b':');
        value(out, &f.ty, v);
    }
    out.extend_from_slice(b"}\n");
}

fn double(out: &mut Vec<u8>, d: f64) {
    match text::json_double(d) {
        Some(s) => out.extend_from_slice(s.as_bytes()),
        None => out.extend_from_slice(b"null"),
    }
}

fn value(out: &mut Vec<u8>, ty: &ZeekType, v: &Value) {
    match v {
        Value::None => out.extend_from_slice(b"null"),
        Value::Bool(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Value::Integer(i) => out.extend_from_slice(text::i64_dec(*i).as_bytes()),
        Value::Count(c) => out.extend_from_slice(text::u64_dec(*c).as_bytes()),
        Value::Port(p) => out.extend_from_slice(text::u64_dec(u64::from(p.number)).as_bytes()),
        Value::Address(a) => text::json_string(out, text::addr_buf(a).as_bytes()),
        Value::Subnet(s) => text::json_string(out, text::subnet(s).as_bytes()),
        Value::Real(r) => double(out, *r),
        Value::Timestamp(ns) | Value::Timespan(ns) => double(out, text::ns_to_secs(*ns)),
        Value::String(s) if s.iter().all(|b| (0x20..0x7f).contains(b)) => text::json_string(out, s),
        Value::String(s) => text::json_string(out, &text::escape_utf8(s, false)),
        Value::Enum(s) => text::json_string(out, &text::escape_utf8(s.as_bytes(), false)),
        Value::Set(s) => array(out, ty, s.iter()),
        Value::Vector(s) => array(out, ty, s.iter()),
        Value::Table(_) => out.extend_from_slice(b"null"),
    }
}

fn array<'v>(out: &mut Vec<u8>, ty: &ZeekType, items: impl Iterator<Item = &'v Value>) {
    let elem_ty = match ty {
        ZeekType::Set(t) | ZeekType::Vector(t) => t.as_ref().clone(),
        other => other.clone(),
    };
    out.push(b'[');
    for (j, e) in items.enumerate() {
        if j > 0 {
            out.push(b',');
        }
        value(out, &elem_ty, e);
    }
    out.push(b']');
}
