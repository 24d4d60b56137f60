//! Broker's WebSocket JSON encoding ("v1"): every value is `{"@data-type": T, "data": V}`.
//!
//! Writing produces exactly the bytes Broker's `format::json::v1` encoder produces (compact,
//! same key order), with these deliberate differences, all so that the output is always
//! valid JSON (Broker's is not for these inputs):
//! - control characters other than \b \f \n \r \t are written `\u00XX` (Broker writes
//!   them raw, and \v as the invalid escape `\v`);
//! - bytes of a string that are not valid UTF-8 are replaced by U+FFFD (Broker writes
//!   them raw). The binary encoding is the lossless one;
//! - NaN and infinities, which `printf("%f")` writes as the non-JSON `nan`/`inf`, are
//!   written as the JSON strings `"nan"`, `"inf"`, `"-inf"` (read back by `from_json`).
//!
//! Other Broker behaviour kept on purpose: reals are `printf("%f")` (6 fractional digits,
//! so 1e-7 becomes 0.000000); timestamps are UTC ISO 8601 without a zone, truncated to
//! milliseconds, and for instants before 1970 the seconds are truncated toward zero and
//! the milliseconds printed as 000, exactly as Broker's `encode_to_buf` does; timespans
//! use the largest of ns/us/ms/s that is exact; sets and tables are in canonical order.
//!
//! Reading is lenient, as Broker's and beyond: integers are accepted for reals; timestamps
//! with or without fraction (any number of digits, truncated to ns), with `T` or a space,
//! with or without a zone (`Z`, `+HH:MM`, `+HHMM`, `+HH`; no zone means UTC); timespans
//! with units ns, us, ms, s, min, h, d, a sign, and a decimal fraction (`1.5s`); duplicate
//! set elements collapse and a repeated table key keeps its last value.

use super::value::{civil_from_secs, days_from_civil, Address, Port, Subnet, Value, TYPE_NAMES};
use crate::error::{Error, Result};
use crate::json::{self, JsonValue};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

// ---------------------------------------------------------------------------------------
// Writing

/// Broker's JSON text for `v` (compact, `{"@data-type":..,"data":..}`).
pub fn to_json(v: &Value) -> String {
    let mut out = String::with_capacity(64);
    write_value(&mut out, v, true);
    out
}

/// Appends Broker's JSON for `v`; with `braces = false` only the two members
/// (`"@data-type":..,"data":..`) are written, for embedding in a message object.
pub fn write_value(out: &mut String, v: &Value, braces: bool) {
    if braces {
        out.push('{');
    }
    out.push_str("\"@data-type\":\"");
    out.push_str(v.type_name());
    out.push_str("\",\"data\":");
    match v {
        Value::None => out.push_str("{}"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Count(c) => {
            let _ = write!(out, "{c}");
        }
        Value::Integer(i) => {
            let _ = write!(out, "{i}");
        }
        Value::Real(r) => out.push_str(&format_real(*r)),
        Value::String(s) => write_broker_string(out, s),
        Value::Address(a) => write_broker_string(out, a.to_string().as_bytes()),
        Value::Subnet(s) => write_broker_string(out, s.to_string().as_bytes()),
        Value::Port(p) => write_broker_string(out, p.to_string().as_bytes()),
        Value::Timestamp(ns) => {
            out.push('"');
            out.push_str(&format_timestamp(*ns));
            out.push('"');
        }
        Value::Timespan(ns) => {
            out.push('"');
            out.push_str(&format_timespan(*ns));
            out.push('"');
        }
        Value::Enum(e) => write_broker_string(out, e.as_bytes()),
        Value::Set(s) => write_list(out, s.iter()),
        Value::Vector(xs) => write_list(out, xs.iter()),
        Value::Table(t) => {
            out.push('[');
            for (i, (k, x)) in t.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str("{\"key\":");
                write_value(out, k, true);
                out.push_str(",\"value\":");
                write_value(out, x, true);
                out.push('}');
            }
            out.push(']');
        }
    }
    if braces {
        out.push('}');
    }
}

fn write_list<'a>(out: &mut String, xs: impl Iterator<Item = &'a Value>) {
    out.push('[');
    for (i, x) in xs.enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_value(out, x, true);
    }
    out.push(']');
}

/// A string as Broker quotes it, made valid JSON (see the module documentation).
pub fn write_broker_string(out: &mut String, bytes: &[u8]) {
    let text = String::from_utf8_lossy(bytes);
    json::write_string(out, &text);
}

/// `printf("%f", r)`: fixed notation with 6 fractional digits, rounded correctly (ties to
/// even on the exact binary value, as glibc does). Non-finite values become the JSON
/// strings `"nan"`, `"inf"`, `"-inf"`.
pub fn format_real(r: f64) -> String {
    if r.is_nan() {
        "\"nan\"".to_string()
    } else if r.is_infinite() {
        if r > 0.0 { "\"inf\"" } else { "\"-inf\"" }.to_string()
    } else {
        format!("{r:.6}")
    }
}

/// Broker's timestamp text: `YYYY-MM-DDThh:mm:ss.mmm`, UTC, no zone (see module doc for
/// the pre-1970 quirk it reproduces).
pub fn format_timestamp(ns: i64) -> String {
    // std::chrono's to_time_t and duration_cast truncate toward zero; C++ % keeps the sign.
    let secs = ns / 1_000_000_000;
    let msecs = (ns / 1_000_000) % 1000;
    let (y, m, d, hh, mm, ss) = civil_from_secs(secs);
    let ms = if msecs > 0 { msecs } else { 0 };
    format!("{y:04}-{m:02}-{d:02}T{hh:02}:{mm:02}:{ss:02}.{ms:03}")
}

/// Broker's timespan text: the largest of ns, us, ms, s that is exact; zero is `0s`.
pub fn format_timespan(ns: i64) -> String {
    if ns == 0 {
        return "0s".to_string();
    }
    let mut v = ns;
    for unit in ["ns", "us", "ms"] {
        if v % 1000 != 0 {
            return format!("{v}{unit}");
        }
        v /= 1000;
    }
    format!("{v}s")
}

// ---------------------------------------------------------------------------------------
// Data messages

/// A data message as the WebSocket API carries it.
#[derive(Debug, Clone, PartialEq)]
pub struct DataMessage {
    pub topic: String,
    pub value: Value,
}

/// `{"type":"data-message","topic":..,"@data-type":..,"data":..}`, as Broker writes it.
pub fn data_message_to_json(topic: &str, v: &Value) -> String {
    let mut out = String::with_capacity(64 + topic.len());
    out.push_str("{\"type\":\"data-message\",\"topic\":");
    write_broker_string(&mut out, topic.as_bytes());
    out.push(',');
    write_value(&mut out, v, false);
    out.push('}');
    out
}

/// Reads a data message. A missing `type` is accepted (Broker does not check it); any
/// other type than `data-message` is refused. A missing topic is the empty string, as in
/// Broker.
pub fn data_message_from_json(text: &str) -> Result<DataMessage> {
    let j = json::parse(text)?;
    data_message_from_json_value(&j)
}

pub fn data_message_from_json_value(j: &JsonValue) -> Result<DataMessage> {
    if j.as_object().is_none() {
        return Err(Error::parse(format!(
            "a data message must be a JSON object, got {}",
            j.kind()
        )));
    }
    if let Some(t) = j.get("type") {
        if t.as_str() != Some("data-message") {
            return Err(Error::parse(format!(
                "\"type\" must be \"data-message\", got {}",
                t.as_str()
                    .map_or_else(|| t.kind().to_string(), |s| format!("\"{s}\""))
            )));
        }
    }
    let topic = match j.get("topic") {
        None => String::new(),
        Some(JsonValue::String(s)) => s.clone(),
        Some(other) => {
            return Err(Error::parse(format!(
                "\"topic\" must be a string, got {}",
                other.kind()
            )))
        }
    };
    let value = from_json_value(j)?;
    Ok(DataMessage { topic, value })
}

// ---------------------------------------------------------------------------------------
// Reading

/// Reads Broker JSON text (one `{"@data-type":..,"data":..}` object).
pub fn from_json(text: &str) -> Result<Value> {
    let j = json::parse(text)?;
    from_json_value(&j)
}

/// Converts a parsed JSON object in Broker's form to a value. Errors name the path to
/// the offending part (`data[2].key`) and what was expected.
pub fn from_json_value(j: &JsonValue) -> Result<Value> {
    convert(j).map_err(|e| match e.path.is_empty() {
        true => Error::parse(e.what),
        false => Error::parse(format!("at {}: {}", e.path, e.what)),
    })
}

struct ConvError {
    path: String,
    what: String,
}

impl ConvError {
    fn new(what: impl Into<String>) -> Self {
        ConvError {
            path: String::new(),
            what: what.into(),
        }
    }
    fn within(mut self, seg: &str) -> Self {
        if self.path.is_empty() || self.path.starts_with('[') {
            self.path = format!("{seg}{}", self.path);
        } else {
            self.path = format!("{seg}.{}", self.path);
        }
        self
    }
}

type CResult<T> = std::result::Result<T, ConvError>;

fn convert(j: &JsonValue) -> CResult<Value> {
    if j.as_object().is_none() {
        return Err(ConvError::new(format!(
            "expected an object with \"@data-type\" and \"data\", got {}",
            j.kind()
        )));
    }
    let ty = match j.get("@data-type") {
        Some(JsonValue::String(s)) => s.as_str(),
        Some(other) => {
            return Err(ConvError::new(format!(
                "\"@data-type\" must be a string, got {}",
                other.kind()
            )))
        }
        None => return Err(ConvError::new("missing \"@data-type\"")),
    };
    if !TYPE_NAMES.contains(&ty) {
        return Err(ConvError::new(format!(
            "unknown @data-type \"{ty}\" (expected one of {})",
            TYPE_NAMES.join(", ")
        )));
    }
    if ty == "none" {
        return Ok(Value::None);
    }
    let Some(data) = j.get("data") else {
        return Err(ConvError::new(format!(
            "missing \"data\" for @data-type \"{ty}\""
        )));
    };
    convert_data(ty, data).map_err(|e| e.within("data"))
}

fn want_str<'a>(ty: &str, d: &'a JsonValue) -> CResult<&'a str> {
    d.as_str()
        .ok_or_else(|| ConvError::new(format!("{ty} must be a JSON string, got {}", d.kind())))
}

fn want_array<'a>(ty: &str, d: &'a JsonValue) -> CResult<&'a [JsonValue]> {
    d.as_array()
        .ok_or_else(|| ConvError::new(format!("{ty} must be a JSON array, got {}", d.kind())))
}

fn convert_data(ty: &str, d: &JsonValue) -> CResult<Value> {
    Ok(match ty {
        "boolean" => Value::Bool(d.as_bool().ok_or_else(|| {
            ConvError::new(format!("boolean must be true or false, got {}", d.kind()))
        })?),
        "count" => Value::Count(d.as_u64().ok_or_else(|| {
            ConvError::new(format!(
                "count must be an integer 0..=18446744073709551615 without a decimal point, got {}",
                describe(d)
            ))
        })?),
        "integer" => Value::Integer(d.as_i64().ok_or_else(|| {
            ConvError::new(format!(
                "integer must be a 64-bit integer without a decimal point, got {}",
                describe(d)
            ))
        })?),
        "real" => Value::Real(parse_real(d)?),
        "string" => Value::String(want_str(ty, d)?.as_bytes().to_vec()),
        "address" => {
            let s = want_str(ty, d)?;
            Value::Address(
                s.parse::<Address>()
                    .map_err(|e| ConvError::new(e.message))?,
            )
        }
        "subnet" => {
            let s = want_str(ty, d)?;
            Value::Subnet(s.parse::<Subnet>().map_err(|e| ConvError::new(e.message))?)
        }
        "port" => {
            let s = want_str(ty, d)?;
            Value::Port(s.parse::<Port>().map_err(|e| ConvError::new(e.message))?)
        }
        "timestamp" => {
            let s = want_str(ty, d)?;
            Value::Timestamp(parse_timestamp(s).map_err(|e| ConvError::new(e.message))?)
        }
        "timespan" => {
            let s = want_str(ty, d)?;
            Value::Timespan(parse_timespan(s).map_err(|e| ConvError::new(e.message))?)
        }
        "enum-value" => Value::Enum(want_str(ty, d)?.to_string()),
        "vector" => {
            let a = want_array(ty, d)?;
            let mut xs = Vec::with_capacity(a.len());
            for (i, x) in a.iter().enumerate() {
                xs.push(convert(x).map_err(|e| e.within(&format!("[{i}]")))?);
            }
            Value::Vector(xs)
        }
        "set" => {
            let a = want_array(ty, d)?;
            let mut s = BTreeSet::new();
            for (i, x) in a.iter().enumerate() {
                s.insert(convert(x).map_err(|e| e.within(&format!("[{i}]")))?);
            }
            Value::Set(s)
        }
        "table" => {
            let a = want_array(ty, d)?;
            let mut t = BTreeMap::new();
            for (i, x) in a.iter().enumerate() {
                let at = |e: ConvError| e.within(&format!("[{i}]"));
                if x.as_object().is_none() {
                    return Err(at(ConvError::new(format!(
                        "table entry must be an object with \"key\" and \"value\", got {}",
                        x.kind()
                    ))));
                }
                let k = x
                    .get("key")
                    .ok_or_else(|| at(ConvError::new("table entry without \"key\"")))?;
                let v = x
                    .get("value")
                    .ok_or_else(|| at(ConvError::new("table entry without \"value\"")))?;
                let k = convert(k).map_err(|e| at(e.within("key")))?;
                let v = convert(v).map_err(|e| at(e.within("value")))?;
                t.insert(k, v);
            }
            Value::Table(t)
        }
        other => return Err(ConvError::new(format!("unknown @data-type \"{other}\""))),
    })
}

fn describe(d: &JsonValue) -> String {
    match d {
        JsonValue::Number(n) => n.as_str().to_string(),
        other => other.kind().to_string(),
    }
}

fn parse_real(d: &JsonValue) -> CResult<f64> {
    match d {
        JsonValue::Number(n) => n.as_f64().ok_or_else(|| {
            ConvError::new(format!("real {} is out of range for a double", n.as_str()))
        }),
        JsonValue::String(s) => match s.to_ascii_lowercase().as_str() {
            "nan" | "-nan" | "+nan" => Ok(f64::NAN),
            "inf" | "+inf" | "infinity" | "+infinity" => Ok(f64::INFINITY),
            "-inf" | "-infinity" => Ok(f64::NEG_INFINITY),
            _ => Err(ConvError::new(format!(
                "real must be a JSON number (or \"nan\", \"inf\", \"-inf\"), got \"{s}\""
            ))),
        },
        other => Err(ConvError::new(format!(
            "real must be a JSON number, got {}",
            other.kind()
        ))),
    }
}

/// Parses an ISO 8601 date-time as Broker's clients send it (see module doc).
pub fn parse_timestamp(s: &str) -> Result<i64> {
    let bad = |why: &str| {
        Error::invalid(format!(
            "invalid timestamp \"{s}\": {why} (expected YYYY-MM-DDThh:mm:ss[.fraction][Z|+hh:mm])"
        ))
    };
    let b = s.trim().as_bytes();
    let mut i = 0;
    let num = |i: &mut usize, n: usize, what: &str| -> Result<i64> {
        if *i + n > b.len() || !b[*i..*i + n].iter().all(u8::is_ascii_digit) {
            return Err(bad(&format!("expected {n} digits for the {what}")));
        }
        let v = b[*i..*i + n]
            .iter()
            .fold(0i64, |a, &c| a * 10 + i64::from(c - b'0'));
        *i += n;
        Ok(v)
    };
    let sep = |i: &mut usize, c: &[u8], what: &str| -> Result<()> {
        if *i < b.len() && c.contains(&b[*i]) {
            *i += 1;
            Ok(())
        } else {
            Err(bad(&format!("expected {what}")))
        }
    };
    let year = num(&mut i, 4, "year")?;
    sep(&mut i, b"-", "'-' after the year")?;
    let month = num(&mut i, 2, "month")?;
    sep(&mut i, b"-", "'-' after the month")?;
    let day = num(&mut i, 2, "day")?;
    sep(&mut i, b"T t", "'T' between date and time")?;
    let hour = num(&mut i, 2, "hour")?;
    sep(&mut i, b":", "':' after the hour")?;
    let minute = num(&mut i, 2, "minute")?;
    sep(&mut i, b":", "':' after the minute")?;
    let second = num(&mut i, 2, "second")?;
    if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month as u32) {
        return Err(bad("no such date"));
    }
    if hour > 23 || minute > 59 || second > 60 {
        return Err(bad("no such time of day"));
    }
    let mut nanos: i64 = 0;
    if i < b.len() && (b[i] == b'.' || b[i] == b',') {
        i += 1;
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            if i - start < 9 {
                nanos = nanos * 10 + i64::from(b[i] - b'0');
            }
            i += 1;
        }
        if i == start {
            return Err(bad("expected digits after the decimal point"));
        }
        for _ in (i - start)..9 {
            nanos *= 10;
        }
    }
    let mut offset_secs: i64 = 0;
    if i < b.len() {
        match b[i] {
            b'Z' | b'z' => i += 1,
            b'+' | b'-' => {
                let sign = if b[i] == b'-' { -1 } else { 1 };
                i += 1;
                let oh = num(&mut i, 2, "zone hours")?;
                let mut om = 0;
                if i < b.len() {
                    if b[i] == b':' {
                        i += 1;
                    }
                    om = num(&mut i, 2, "zone minutes")?;
                }
                if oh > 23 || om > 59 {
                    return Err(bad("zone offset out of range"));
                }
                offset_secs = sign * (oh * 3600 + om * 60);
            }
            _ => return Err(bad("unexpected text after the time")),
        }
    }
    if i != b.len() {
        return Err(bad("unexpected text after the zone"));
    }
    let days = days_from_civil(year, month as u32, day as u32);
    let secs = days * 86_400 + hour * 3600 + minute * 60 + second - offset_secs;
    secs.checked_mul(1_000_000_000)
        .and_then(|x| x.checked_add(nanos))
        .ok_or_else(|| bad("out of the range of 64-bit nanoseconds (1677..2262)"))
}

fn days_in_month(y: i64, m: u32) -> i64 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ => {
            if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 {
                29
            } else {
                28
            }
        }
    }
}

/// Parses `<number><unit>` (units ns, us, ms, s, min, h, d; optional sign and decimal
/// fraction; whitespace between number and unit allowed) into nanoseconds.
pub fn parse_timespan(s: &str) -> Result<i64> {
    let bad = |why: &str| {
        Error::invalid(format!(
            "invalid timespan \"{s}\": {why} (expected <integer><unit>, unit one of ns, us, ms, s, min, h, d)"
        ))
    };
    let t = s.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-' || c == '+'))
        .ok_or_else(|| bad("missing unit"))?;
    let (num, unit) = t.split_at(split);
    let unit = unit.trim();
    let scale: i128 = match unit {
        "ns" => 1,
        "us" => 1_000,
        "ms" => 1_000_000,
        "s" => 1_000_000_000,
        "min" => 60_000_000_000,
        "h" => 3_600_000_000_000,
        "d" => 86_400_000_000_000,
        _ => return Err(bad(&format!("unknown unit \"{unit}\""))),
    };
    let (neg, digits) = match num.as_bytes().first() {
        Some(b'-') => (true, &num[1..]),
        Some(b'+') => (false, &num[1..]),
        _ => (false, num),
    };
    let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
    if int.is_empty() && frac.is_empty() {
        return Err(bad("missing number"));
    }
    if !int.bytes().all(|c| c.is_ascii_digit()) || !frac.bytes().all(|c| c.is_ascii_digit()) {
        return Err(bad("malformed number"));
    }
    if digits.contains('.') && frac.is_empty() {
        return Err(bad("expected digits after the decimal point"));
    }
    let too_big = || bad("out of the range of 64-bit nanoseconds");
    let mut total: i128 = 0;
    for c in int.bytes() {
        total = total
            .checked_mul(10)
            .and_then(|x| x.checked_add(i128::from(c - b'0')))
            .ok_or_else(too_big)?;
        if total > i128::from(i64::MAX) {
            return Err(too_big());
        }
    }
    total *= scale;
    // The fraction, to nanosecond precision (further digits are truncated).
    let mut f_scale = scale;
    for c in frac.bytes() {
        if f_scale < 10 {
            break;
        }
        f_scale /= 10;
        total += i128::from(c - b'0') * f_scale;
    }
    let total = if neg { -total } else { total };
    i64::try_from(total).map_err(|_| too_big())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::bin;

    fn norm(s: &str) -> String {
        // Whitespace outside strings only (the examples have no spaces inside strings
        // that matter, except "Hello World!", kept by re-serialising).
        json::parse(s).unwrap().to_compact()
    }

    #[test]
    fn scalars_as_broker_writes_them() {
        assert_eq!(to_json(&Value::None), r#"{"@data-type":"none","data":{}}"#);
        assert_eq!(
            to_json(&Value::Count(u64::MAX)),
            r#"{"@data-type":"count","data":18446744073709551615}"#
        );
        assert_eq!(
            to_json(&Value::Integer(i64::MIN)),
            r#"{"@data-type":"integer","data":-9223372036854775808}"#
        );
        assert_eq!(
            to_json(&Value::Real(-7.5)),
            r#"{"@data-type":"real","data":-7.500000}"#
        );
        assert_eq!(
            to_json(&Value::Real(1e-7)),
            r#"{"@data-type":"real","data":0.000000}"#
        );
        assert_eq!(
            to_json(&Value::Real(f64::INFINITY)),
            r#"{"@data-type":"real","data":"inf"}"#
        );
        assert_eq!(
            to_json(&Value::Timestamp(1_649_574_000_123_456_789)),
            r#"{"@data-type":"timestamp","data":"2022-04-10T07:00:00.123"}"#
        );
        assert_eq!(format_timestamp(-1), "1970-01-01T00:00:00.000");
        assert_eq!(format_timestamp(-1_500_000_000), "1969-12-31T23:59:59.000");
        assert_eq!(format_timespan(1_500_000_000), "1500ms");
        assert_eq!(format_timespan(-250_000_000), "-250ms");
        assert_eq!(format_timespan(3_000_000_000), "3s");
        assert_eq!(format_timespan(7), "7ns");
        assert_eq!(format_timespan(7_000), "7us");
        assert_eq!(format_timespan(0), "0s");
        assert_eq!(
            to_json(&Value::Port("8080/tcp".parse().unwrap())),
            r#"{"@data-type":"port","data":"8080/tcp"}"#
        );
        assert_eq!(
            to_json(&Value::Enum("foo".into())),
            r#"{"@data-type":"enum-value","data":"foo"}"#
        );
        assert_eq!(
            to_json(&Value::String(b"a\"\\\n\x0b\x01\xff".to_vec())),
            "{\"@data-type\":\"string\",\"data\":\"a\\\"\\\\\\n\\u000b\\u0001\u{fffd}\"}"
        );
    }

    #[test]
    fn documented_examples_round_trip() {
        // doc/web-socket.rst @674c4f9c, value by value: (documented JSON, value, what
        // Broker emits for it when that differs from the document).
        let s = |x: &str| Value::from(x);
        let cases: Vec<(&str, Value, Option<&str>)> = vec![
            (r#"{"@data-type": "none", "data": {}}"#, Value::None, None),
            (
                r#"{"@data-type": "boolean", "data": true}"#,
                Value::Bool(true),
                None,
            ),
            (
                r#"{"@data-type": "boolean", "data": false}"#,
                Value::Bool(false),
                None,
            ),
            (
                r#"{"@data-type": "count", "data": 123}"#,
                Value::Count(123),
                None,
            ),
            (
                r#"{"@data-type": "integer", "data": -7}"#,
                Value::Integer(-7),
                None,
            ),
            (
                r#"{"@data-type": "real", "data": -7.5}"#,
                Value::Real(-7.5),
                Some(r#"{"@data-type":"real","data":-7.500000}"#),
            ),
            (
                r#"{"@data-type": "timespan", "data": "1500ms"}"#,
                Value::Timespan(1_500_000_000),
                None,
            ),
            (
                r#"{"@data-type": "timestamp", "data": "2022-04-10T07:00:00.000"}"#,
                Value::Timestamp(1_649_574_000_000_000_000),
                None,
            ),
            (
                r#"{"@data-type": "string", "data": "Hello World!"}"#,
                s("Hello World!"),
                None,
            ),
            (
                r#"{"@data-type": "enum-value", "data": "foo"}"#,
                Value::Enum("foo".into()),
                None,
            ),
            (
                r#"{"@data-type": "address", "data": "2001:db8::"}"#,
                Value::Address("2001:db8::".parse().unwrap()),
                None,
            ),
            (
                r#"{"@data-type": "subnet", "data": "255.255.255.0/24"}"#,
                Value::Subnet("255.255.255.0/24".parse().unwrap()),
                None,
            ),
            (
                r#"{"@data-type": "port", "data": "8080/tcp"}"#,
                Value::Port("8080/tcp".parse().unwrap()),
                None,
            ),
            (
                r#"{"@data-type": "vector", "data": [{"@data-type": "count", "data": 42}, {"@data-type": "integer", "data": 23}]}"#,
                Value::Vector(vec![Value::Count(42), Value::Integer(23)]),
                None,
            ),
            (
                r#"{"@data-type": "set", "data": [{"@data-type": "string", "data": "foo"}, {"@data-type": "string", "data": "bar"}]}"#,
                Value::Set([s("foo"), s("bar")].into_iter().collect()),
                // Broker's sets are ordered: "bar" comes first.
                Some(
                    r#"{"@data-type":"set","data":[{"@data-type":"string","data":"bar"},{"@data-type":"string","data":"foo"}]}"#,
                ),
            ),
            (
                r#"{"@data-type": "table", "data": [
                    {"key": {"@data-type": "string", "data": "first-name"}, "value": {"@data-type": "string", "data": "John"}},
                    {"key": {"@data-type": "string", "data": "last-name"}, "value": {"@data-type": "string", "data": "Doe"}}]}"#,
                Value::Table(
                    [(s("first-name"), s("John")), (s("last-name"), s("Doe"))]
                        .into_iter()
                        .collect(),
                ),
                None,
            ),
        ];
        for (doc, want, emitted) in cases {
            let v = from_json(doc).unwrap_or_else(|e| panic!("{doc}: {e}"));
            assert_eq!(v, want, "{doc}");
            let out = to_json(&v);
            match emitted {
                Some(e) => assert_eq!(out, e),
                None => assert_eq!(out, norm(doc), "{doc}"),
            }
            assert_eq!(from_json(&out).unwrap(), v);
        }
    }

    #[test]
    fn documented_event_messages_round_trip() {
        let doc = r#"{"type": "data-message", "topic": "/foo/bar", "@data-type": "vector", "data": [
            {"@data-type": "count", "data": 1}, {"@data-type": "count", "data": 1},
            {"@data-type": "vector", "data": [{"@data-type": "string", "data": "event_1"},
              {"@data-type": "vector", "data": [{"@data-type": "integer", "data": 42}, {"@data-type": "string", "data": "test"}]},
              {"@data-type": "vector", "data": [{"@data-type": "vector", "data": [{"@data-type": "count", "data": 1},
                {"@data-type": "timestamp", "data": "2023-04-18T14:13:14.000"}]}]}]}]}"#;
        let m = data_message_from_json(doc).unwrap();
        assert_eq!(m.topic, "/foo/bar");
        let ev = crate::data::Event::from_value(&m.value).unwrap();
        assert_eq!(ev.name, "event_1");
        assert_eq!(ev.args, vec![Value::Integer(42), Value::from("test")]);
        assert_eq!(ev.network_timestamp(), Some(1_681_827_194_000_000_000));
        assert_eq!(data_message_to_json(&m.topic, &m.value), norm(doc));
        let count =
            r#"{"type": "data-message", "topic": "/foo/bar", "@data-type": "count", "data": 1}"#;
        let m = data_message_from_json(count).unwrap();
        assert_eq!(data_message_to_json(&m.topic, &m.value), norm(count));
        // The btest example of broker.md 2.5.
        let bt = r#"{"type":"data-message","topic":"/test","@data-type":"vector","data":[{"@data-type":"count","data":1},{"@data-type":"port","data":"8080/tcp"},{"@data-type":"table","data":[{"key":{"@data-type":"string","data":"first-name"},"value":{"@data-type":"string","data":"John"}}]}]}"#;
        let m = data_message_from_json(bt).unwrap();
        assert_eq!(data_message_to_json(&m.topic, &m.value), bt);
    }

    #[test]
    fn lenient_reading() {
        let ts = |s: &str| parse_timestamp(s).unwrap();
        assert_eq!(ts("2022-04-10T07:00:00"), 1_649_574_000_000_000_000);
        assert_eq!(ts("2022-04-10T07:00:00Z"), 1_649_574_000_000_000_000);
        assert_eq!(ts("2022-04-10 09:00:00+02:00"), 1_649_574_000_000_000_000);
        assert_eq!(ts("2022-04-10T02:00:00-0500"), 1_649_574_000_000_000_000);
        assert_eq!(
            ts("2022-04-10T07:00:00.123456789123Z"),
            1_649_574_000_123_456_789
        );
        assert_eq!(ts("1969-12-31T23:59:59.5"), -500_000_000);
        assert!(parse_timestamp("2022-02-30T00:00:00").is_err());
        assert!(parse_timestamp("2022-04-10").is_err());
        assert!(parse_timestamp("9999-01-01T00:00:00").is_err());
        let sp = |s: &str| parse_timespan(s).unwrap();
        assert_eq!(sp("1500ms"), 1_500_000_000);
        assert_eq!(sp("-3us"), -3_000);
        assert_eq!(sp("2min"), 120_000_000_000);
        assert_eq!(sp("1h"), 3_600_000_000_000);
        assert_eq!(sp("1d"), 86_400_000_000_000);
        assert_eq!(sp("1.5s"), 1_500_000_000);
        assert_eq!(sp("10 ns"), 10);
        assert!(parse_timespan("5 weeks").is_err());
        assert!(parse_timespan("s").is_err());
        assert!(parse_timespan("99999999999d").is_err());
        let v = from_json(r#"{"@data-type":"real","data":3}"#).unwrap();
        assert_eq!(v, Value::Real(3.0));
        let v = from_json(r#"{"@data-type":"set","data":[{"@data-type":"count","data":1},{"@data-type":"count","data":1}]}"#).unwrap();
        assert_eq!(v.container_len(), Some(1));
    }

    #[test]
    fn precise_errors() {
        let e = from_json(r#"{"@data-type":"count","data":1.0}"#).unwrap_err();
        assert!(
            e.message.contains("at data: count must be an integer"),
            "{e}"
        );
        let e = from_json(r#"{"@data-type":"count","data":-1}"#).unwrap_err();
        assert!(e.message.contains("got -1"), "{e}");
        let e = from_json(r#"{"@data-type":"vector","data":[{"@data-type":"count","data":1},{"@data-type":"bogus","data":1}]}"#).unwrap_err();
        assert!(
            e.message
                .contains("at data[1]: unknown @data-type \"bogus\""),
            "{e}"
        );
        let e = from_json(r#"{"@data-type":"table","data":[{"key":{"@data-type":"port","data":"x/tcp"},"value":{"@data-type":"none"}}]}"#).unwrap_err();
        assert!(
            e.message.contains("at data[0].key.data: invalid port"),
            "{e}"
        );
        let e = from_json("[1]").unwrap_err();
        assert!(e.message.contains("expected an object"), "{e}");
        let e = from_json("{").unwrap_err();
        assert!(e.message.starts_with("1:2:"), "{e}");
        let e = data_message_from_json(r#"{"type":"ack","endpoint":"x"}"#).unwrap_err();
        assert!(e.message.contains("data-message"), "{e}");
    }

    #[test]
    fn golden_values_survive_json_twice() {
        // value -> JSON -> value -> JSON is stable for every golden value.
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/golden/values.tsv");
        let text = std::fs::read_to_string(&path).unwrap();
        for line in text.lines().skip(1).filter(|l| !l.is_empty()) {
            let hex = line.rsplit('\t').next().unwrap();
            let bytes: Vec<u8> = (0..hex.len() / 2)
                .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap())
                .collect();
            let v = bin::decode(&bytes).unwrap();
            let j1 = to_json(&v);
            json::parse(&j1).unwrap_or_else(|e| panic!("{line}: our JSON is not JSON: {e}"));
            let v2 = from_json(&j1).unwrap_or_else(|e| panic!("{line}: {e}"));
            assert_eq!(to_json(&v2), j1, "{line}");
        }
    }
}
