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

pub(crate) mod ascii;
pub(crate) mod json;
pub mod manager;
pub mod message;
pub mod text;
pub(crate) mod writer;
pub mod zeekser;

pub use writer::{zeek_date, LogWriter, PostProcessor, RotationInfo};

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

/// One column: its name, type, and whether it may be unset (`&optional`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogField {
    pub name: String,
    pub ty: ZeekType,
    /// `&optional`: the column may hold no value (`Value::None`).
    pub optional: bool,
}

impl LogField {
    /// A required column.
    pub fn new(name: impl Into<String>, ty: ZeekType) -> LogField {
        LogField {
            name: name.into(),
            ty,
            optional: false,
        }
    }

    /// An `&optional` column.
    pub fn optional(name: impl Into<String>, ty: ZeekType) -> LogField {
        LogField {
            name: name.into(),
            ty,
            optional: true,
        }
    }
}

/// A log stream as `Log::create_stream` makes one: an id (`MyProto::LOG`), a path
/// (`myproto`: the file `myproto.log`) and typed columns. Record fields flatten into
/// dotted names as Zeek does (`id.orig_h`, see [`LogStream::record`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogStream {
    pub id: String,
    pub path: String,
    pub fields: Vec<LogField>,
}

impl LogStream {
    pub fn new(id: impl Into<String>, path: impl Into<String>) -> LogStream {
        LogStream {
            id: id.into(),
            path: path.into(),
            fields: Vec::new(),
        }
    }

    /// Adds a required column.
    pub fn column(mut self, name: impl Into<String>, ty: ZeekType) -> LogStream {
        self.fields.push(LogField::new(name, ty));
        self
    }

    /// Adds an `&optional` column.
    pub fn optional_column(mut self, name: impl Into<String>, ty: ZeekType) -> LogStream {
        self.fields.push(LogField::optional(name, ty));
        self
    }

    /// Adds the fields of a record column `prefix`, flattened as Zeek does: `id` with
    /// `orig_h`, `orig_p` gives `id.orig_h`, `id.orig_p`.
    pub fn record(mut self, prefix: &str, fields: impl IntoIterator<Item = LogField>) -> LogStream {
        for f in fields {
            self.fields.push(LogField {
                name: format!("{prefix}.{}", f.name),
                ..f
            });
        }
        self
    }

    /// The stream's own checks: a non-empty id and path without NUL bytes (and the path
    /// without `/` parts that leave the log directory), at least one column, column
    /// names non-empty, unique, without tabs or newlines.
    pub fn validate(&self) -> Result<()> {
        if self.id.is_empty() || self.id.contains('\0') {
            return Err(Error::invalid(format!(
                "log stream id {:?}: must be non-empty and without NUL bytes",
                self.id
            )));
        }
        if self.path.is_empty()
            || self.path.contains('\0')
            || self.path.starts_with('/')
            || self.path.split('/').any(|p| p == ".." || p.is_empty())
        {
            return Err(Error::invalid(format!(
                "log stream {}: path {:?} must be a non-empty relative name without NUL bytes or '..'",
                self.id, self.path
            )));
        }
        if self.fields.is_empty() {
            return Err(Error::invalid(format!(
                "log stream {}: a stream needs at least one column",
                self.id
            )));
        }
        for (i, f) in self.fields.iter().enumerate() {
            if f.name.is_empty()
                || f.name
                    .bytes()
                    .any(|b| matches!(b, b'\t' | b'\n' | b'\r' | 0))
            {
                return Err(Error::invalid(format!(
                    "log stream {}: column {i} name {:?} must be non-empty, without tabs, newlines or NUL",
                    self.id, f.name
                )));
            }
            if self.fields[..i].iter().any(|g| g.name == f.name) {
                return Err(Error::invalid(format!(
                    "log stream {}: column \"{}\" appears twice",
                    self.id, f.name
                )));
            }
        }
        Ok(())
    }

    /// Checks a record (one value per column, in column order): a missing value for a
    /// required column or a value of the wrong type is an error naming the column.
    pub fn check(&self, record: &[Value]) -> Result<()> {
        check_record(&self.id, &self.fields, record)
    }

    /// The index of the column `name`.
    pub fn column_index(&self, name: &str) -> Option<usize> {
        self.fields.iter().position(|f| f.name == name)
    }
}

/// [`LogStream::check`] for any columns (`what` names the stream in errors).
pub fn check_record(what: &str, fields: &[LogField], record: &[Value]) -> Result<()> {
    if record.len() != fields.len() {
        return Err(Error::invalid(format!(
            "log stream {what}: the record has {} values, the stream has {} columns ({})",
            record.len(),
            fields.len(),
            fields
                .iter()
                .map(|f| f.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    for (f, v) in fields.iter().zip(record) {
        if matches!(v, Value::None) {
            if !f.optional {
                return Err(Error::invalid(format!(
                    "log stream {what}: column \"{}\" is required (not &optional) and has no value",
                    f.name
                )));
            }
            continue;
        }
        let elems_set = match v {
            Value::Set(s) => !s.contains(&Value::None),
            Value::Vector(s) => !s.iter().any(|e| matches!(e, Value::None)),
            _ => true,
        };
        if !f.ty.accepts(v) || !elems_set {
            return Err(Error::type_mismatch(format!(
                "log stream {what}: column \"{}\" is a {} and cannot take a {} value",
                f.name,
                f.ty.name(),
                describe_value_type(v)
            )));
        }
    }
    Ok(())
}

fn describe_value_type(v: &Value) -> String {
    match v {
        Value::Set(s) => match s.iter().find(|_| true) {
            Some(e) => format!("set of {}", e.type_name()),
            None => "set".into(),
        },
        Value::Vector(s) => match s.first() {
            Some(e) => format!("vector of {}", e.type_name()),
            None => "vector".into(),
        },
        v => v.type_name().into(),
    }
}

/// `Cluster::Info`, the record of `cluster.log` (path `cluster`): `ts: time`,
/// `node: string`, `message: string`.
pub fn cluster_log_fields() -> Vec<LogField> {
    cluster_log_stream().fields
}

/// `Cluster::LOG`, the stream of `cluster.log` (`Cluster::Info`).
pub fn cluster_log_stream() -> LogStream {
    LogStream::new(CLUSTER_LOG_ID, "cluster")
        .column("ts", ZeekType::Time)
        .column("node", ZeekType::String)
        .column("message", ZeekType::String)
}

/// The stream id of cluster.log.
pub const CLUSTER_LOG_ID: &str = "Cluster::LOG";

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

#[cfg(test)]
mod wire_tests;
