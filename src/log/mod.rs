//! Writing Zeek log files: Zeek's ASCII (TSV with `#` header lines) and JSON formats,
//! byte for byte as Zeek 9.1-dev's ASCII writer writes them with its default options
//! (`scripts/base/frameworks/logging/writers/ascii.zeek`), so Zeek's own tools and
//! third-party readers (zat, parsezeeklogs, zeek-cut) parse our files.
//!
//! - `text`: single-value renderings and escaping (shared with pool hashing).
//! - `ascii`, `json`: one record (and the ASCII header) as bytes.
//! - `writer`: [`LogWriter`], the file: buffering, flushing, `#open`/`#close`, rotation.
//!
//! Field values are [`crate::data::Value`]s; [`ZeekType`] names the column type (the
//! `#types` line) and says which Broker variant a column takes.

mod ascii;
mod json;
pub mod text;
mod writer;

pub use writer::{zeek_date, LogWriter};

use crate::data::Value;
use crate::error::{Error, Result};

/// A Zeek log column type (as the `#types` header names it).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ZeekType {
    /// Broker `bool`.
    Bool,
    /// Broker `integer`.
    Int,
    /// Broker `count`.
    Count,
    /// Broker `real`.
    Double,
    /// Broker `timestamp` (a `real` is taken as seconds since the epoch).
    Time,
    /// Broker `timespan` (a `real` is taken as seconds).
    Interval,
    /// Broker `string` (any bytes).
    String,
    /// Broker `address`.
    Addr,
    /// Broker `subnet`.
    Subnet,
    /// Broker `port`: the column holds the number only, as Zeek logs it.
    Port,
    /// Broker `enum_value`.
    Enum,
    /// Broker `set` (a `vector` is accepted too); Zeek logs have no tables.
    Set(Box<ZeekType>),
    /// Broker `vector`.
    Vector(Box<ZeekType>),
}

impl ZeekType {
    /// The `#types` name: `time`, `string`, `set[addr]`, `vector[string]`, ...
    pub fn name(&self) -> String {
        match self {
            ZeekType::Bool => "bool".into(),
            ZeekType::Int => "int".into(),
            ZeekType::Count => "count".into(),
            ZeekType::Double => "double".into(),
            ZeekType::Time => "time".into(),
            ZeekType::Interval => "interval".into(),
            ZeekType::String => "string".into(),
            ZeekType::Addr => "addr".into(),
            ZeekType::Subnet => "subnet".into(),
            ZeekType::Port => "port".into(),
            ZeekType::Enum => "enum".into(),
            ZeekType::Set(t) => format!("set[{}]", t.name()),
            ZeekType::Vector(t) => format!("vector[{}]", t.name()),
        }
    }

    /// Parses a `#types` name (the inverse of [`ZeekType::name`]); containers may not nest.
    pub fn parse(s: &str) -> Result<ZeekType> {
        let inner = |rest: &str| -> Result<Box<ZeekType>> {
            let t = ZeekType::parse(rest)?;
            if matches!(t, ZeekType::Set(_) | ZeekType::Vector(_)) {
                return Err(Error::invalid(format!(
                    "log type \"{s}\": containers in log columns do not nest"
                )));
            }
            Ok(Box::new(t))
        };
        Ok(match s {
            "bool" => ZeekType::Bool,
            "int" => ZeekType::Int,
            "count" => ZeekType::Count,
            "double" => ZeekType::Double,
            "time" => ZeekType::Time,
            "interval" => ZeekType::Interval,
            "string" => ZeekType::String,
            "addr" => ZeekType::Addr,
            "subnet" => ZeekType::Subnet,
            "port" => ZeekType::Port,
            "enum" => ZeekType::Enum,
            _ => {
                if let Some(r) = s.strip_prefix("set[").and_then(|r| r.strip_suffix(']')) {
                    ZeekType::Set(inner(r)?)
                } else if let Some(r) = s.strip_prefix("vector[").and_then(|r| r.strip_suffix(']'))
                {
                    ZeekType::Vector(inner(r)?)
                } else {
                    return Err(Error::invalid(format!(
                        "unknown log type \"{s}\": expected bool, int, count, double, time, interval, string, \
                         addr, subnet, port, enum, set[T] or vector[T]"
                    )));
                }
            }
        })
    }

    /// Whether `v` may fill a column of this type. `Value::None` (unset) always may.
    pub fn accepts(&self, v: &Value) -> bool {
        match (self, v) {
            (_, Value::None) => true,
            (ZeekType::Bool, Value::Bool(_))
            | (ZeekType::Int, Value::Integer(_))
            | (ZeekType::Count, Value::Count(_))
            | (ZeekType::Double, Value::Real(_))
            | (ZeekType::Time, Value::Timestamp(_) | Value::Real(_))
            | (ZeekType::Interval, Value::Timespan(_) | Value::Real(_))
            | (ZeekType::String, Value::String(_))
            | (ZeekType::Addr, Value::Address(_))
            | (ZeekType::Subnet, Value::Subnet(_))
            | (ZeekType::Port, Value::Port(_))
            | (ZeekType::Enum, Value::Enum(_)) => true,
            (ZeekType::Set(t), Value::Set(s)) => s.iter().all(|e| t.accepts(e)),
            (ZeekType::Set(t) | ZeekType::Vector(t), Value::Vector(s)) => {
                s.iter().all(|e| t.accepts(e))
            }
            _ => false,
        }
    }
}

/// The on-disk format (`LogAscii::use_json`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Zeek's tab-separated format with `#` header lines.
    Ascii,
    /// One JSON object per line, no header (`LogAscii::use_json=T`).
    Json,
}

/// The ASCII writer's markers (`LogAscii::separator` etc.); `Default` is Zeek's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AsciiOptions {
    /// `\t`.
    pub separator: Vec<u8>,
    /// `,`.
    pub set_separator: Vec<u8>,
    /// `(empty)`.
    pub empty_field: Vec<u8>,
    /// `-`.
    pub unset_field: Vec<u8>,
    /// `#`.
    pub meta_prefix: Vec<u8>,
    /// `LogAscii::enable_utf_8` (default true): valid UTF-8 passes unescaped. When false,
    /// every byte outside printable ASCII is `\xNN`-escaped.
    pub enable_utf_8: bool,
}

impl Default for AsciiOptions {
    fn default() -> Self {
        AsciiOptions {
            separator: b"\t".to_vec(),
            set_separator: b",".to_vec(),
            empty_field: b"(empty)".to_vec(),
            unset_field: b"-".to_vec(),
            meta_prefix: b"#".to_vec(),
            enable_utf_8: true,
        }
    }
}

/// One column: its name and type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogField {
    pub name: String,
    pub ty: ZeekType,
}

impl LogField {
    pub fn new(name: impl Into<String>, ty: ZeekType) -> LogField {
        LogField {
            name: name.into(),
            ty,
        }
    }
}

/// `Cluster::Info`, the record of `cluster.log` (path `cluster`): `ts: time`,
/// `node: string`, `message: string`.
pub fn cluster_log_fields() -> Vec<LogField> {
    vec![
        LogField::new("ts", ZeekType::Time),
        LogField::new("node", ZeekType::String),
        LogField::new("message", ZeekType::String),
    ]
}

/// A `cluster.log` record as `Cluster::log` builds it (`[ts, node, message]`), with
/// `ts_ns` in nanoseconds since the epoch.
pub fn cluster_log_record(ts_ns: i64, node: &str, message: &str) -> Vec<Value> {
    vec![
        Value::Timestamp(ts_ns),
        Value::string(node),
        Value::string(message),
    ]
}

#[cfg(test)]
mod tests;
