//! Zeek's log messages on the Broker backend (`libbroker/broker/zeek.hh`, `zeek.cc`),
//! sans-IO: build and parse LogCreate (type 2), LogWrite (3) and Batch (5).
//!
//! Every Zeek message is the Broker value `vector[count 1, count type, vector content]`:
//!
//! - LogCreate: `[enum stream_id, enum writer_id, writer_info, fields_data]`, with
//!   `writer_info = vector[string path, real rotation_base, real rotation_interval, real
//!   network_time, table{string->string} config, string post_proc_func]`
//!   (`WriterBackend::WriterInfo::ToBroker`) and `fields_data` a vector of
//!   `vector[string name, none|string secondary_name, count type, count subtype, bool
//!   optional]` (`broker/Data.cc` `threading_field_to_data`).
//! - LogWrite: `[enum stream_id, enum writer_id, string path, string serial_data]`, where
//!   `serial_data` is one record in Zeek's binary serialization ([`super::zeekser`]).
//! - Batch: `content` is a vector of complete messages; an invalid inner message makes
//!   the whole batch invalid (`zeek.cc`).
//!
//! LogWrite and Batch bytes are produced directly (they are the hot path) and are the
//! same bytes the generic Broker encoder gives for the same value (tested).

use super::{LogField, ZeekType};
use crate::data::bin;
use crate::data::Value;
use crate::error::{Error, Result};
use std::collections::BTreeMap;

/// `broker::zeek::ProtocolVersion`.
pub const PROTOCOL_VERSION: u64 = 1;
/// Zeek message types (`broker::zeek::Type`).
pub const TYPE_EVENT: u64 = 1;
pub const TYPE_LOG_CREATE: u64 = 2;
pub const TYPE_LOG_WRITE: u64 = 3;
pub const TYPE_IDENTIFIER_UPDATE: u64 = 4;
pub const TYPE_BATCH: u64 = 5;

/// The ASCII writer's enum name.
pub const WRITER_ASCII: &str = "Log::WRITER_ASCII";

/// `WriterBackend::WriterInfo` as a LogCreate carries it.
#[derive(Debug, Clone, PartialEq)]
pub struct WriterInfo {
    pub path: String,
    pub rotation_base: f64,
    pub rotation_interval: f64,
    pub network_time: f64,
    pub config: BTreeMap<String, String>,
    pub post_proc_func: String,
}

impl WriterInfo {
    /// What a worker sends: the path, zero rotation (the logger decides), `network_time`.
    pub fn new(path: &str, network_time: f64) -> WriterInfo {
        WriterInfo {
            path: path.into(),
            rotation_base: 0.0,
            rotation_interval: 0.0,
            network_time,
            config: BTreeMap::new(),
            post_proc_func: String::new(),
        }
    }
}

/// A parsed log message (a Batch is flattened into its members by [`parse`]).
#[derive(Debug, Clone, PartialEq)]
pub enum LogMessage {
    Create {
        stream: String,
        writer: String,
        info: WriterInfo,
        fields: Vec<LogField>,
    },
    Write {
        stream: String,
        writer: String,
        path: String,
        serial: Vec<u8>,
    },
}

fn header(kind: u64, out: &mut Vec<u8>) {
    out.extend_from_slice(&[0x0e, 0x03, 0x02]);
    out.extend_from_slice(&PROTOCOL_VERSION.to_be_bytes());
    out.push(0x02);
    out.extend_from_slice(&kind.to_be_bytes());
}

/// Appends a LogWrite of one serialized record (`serial` from
/// [`super::zeekser::encode_record`]).
pub fn encode_log_write(
    stream: &str,
    writer: &str,
    path: &str,
    serial: &[u8],
    out: &mut Vec<u8>,
) -> Result<()> {
    header(TYPE_LOG_WRITE, out);
    out.extend_from_slice(&[0x0e, 0x04, 0x0b]);
    bin::write_bytes(stream.as_bytes(), out)?;
    out.push(0x0b);
    bin::write_bytes(writer.as_bytes(), out)?;
    out.push(0x05);
    bin::write_bytes(path.as_bytes(), out)?;
    out.push(0x05);
    bin::write_bytes(serial, out)
}

/// A Batch of `n` complete messages whose encodings are concatenated in `messages`.
pub fn encode_batch(n: usize, messages: &[u8], out: &mut Vec<u8>) -> Result<()> {
    header(TYPE_BATCH, out);
    out.push(0x0e);
    bin::write_len(n, out)?;
    out.extend_from_slice(messages);
    Ok(())
}

/// The LogCreate message as a Broker value.
pub fn log_create_value(
    stream: &str,
    writer: &str,
    info: &WriterInfo,
    fields: &[LogField],
) -> Value {
    let info_v = Value::Vector(vec![
        Value::string(info.path.as_str()),
        Value::Real(info.rotation_base),
        Value::Real(info.rotation_interval),
        Value::Real(info.network_time),
        Value::Table(
            info.config
                .iter()
                .map(|(k, v)| (Value::string(k.as_str()), Value::string(v.as_str())))
                .collect(),
        ),
        Value::string(info.post_proc_func.as_str()),
    ]);
    let fields_v = Value::Vector(
        fields
            .iter()
            .map(|f| {
                Value::Vector(vec![
                    Value::string(f.name.as_str()),
                    Value::None,
                    Value::Count(u64::from(f.ty.tag())),
                    Value::Count(u64::from(f.ty.subtype())),
                    Value::Bool(f.optional),
                ])
            })
            .collect(),
    );
    Value::Vector(vec![
        Value::Count(PROTOCOL_VERSION),
        Value::Count(TYPE_LOG_CREATE),
        Value::Vector(vec![
            Value::Enum(stream.into()),
            Value::Enum(writer.into()),
            info_v,
            fields_v,
        ]),
    ])
}

/// The LogCreate message's bytes.
pub fn encode_log_create(
    stream: &str,
    writer: &str,
    info: &WriterInfo,
    fields: &[LogField],
) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    bin::try_encode(&log_create_value(stream, writer, info, fields), &mut out)?;
    Ok(out)
}

/// The Zeek message type of an encoded message (`[1, type, ...]`), or None if `bytes`
/// does not start like a Zeek message of protocol version 1.
pub fn message_type(bytes: &[u8]) -> Option<u64> {
    if bytes.len() < 21 || bytes[..3] != [0x0e, 0x03, 0x02] || bytes[11] != 0x02 {
        return None;
    }
    let v = u64::from_be_bytes(bytes[3..11].try_into().ok()?);
    if v != PROTOCOL_VERSION {
        return None;
    }
    Some(u64::from_be_bytes(bytes[12..20].try_into().ok()?))
}

/// Whether `bytes` is a LogCreate, LogWrite or Batch message (what a logger consumes).
pub fn is_log_message(bytes: &[u8]) -> bool {
    matches!(
        message_type(bytes),
        Some(TYPE_LOG_CREATE | TYPE_LOG_WRITE | TYPE_BATCH)
    )
}

struct Cur<'a> {
    b: &'a [u8],
    p: usize,
}

impl<'a> Cur<'a> {
    fn byte(&mut self, want: u8, what: &str) -> Result<()> {
        match self.b.get(self.p) {
            Some(&x) if x == want => {
                self.p += 1;
                Ok(())
            }
            _ => Err(Error::decode(format!("log message: expected {what}"))),
        }
    }
    fn str(&mut self, tag: u8, what: &str) -> Result<&'a [u8]> {
        self.byte(tag, what)?;
        let (n, used) = bin::read_varbyte(&self.b[self.p..])?;
        self.p += used;
        let n = n as usize;
        if self.b.len() - self.p < n {
            return Err(Error::decode(format!("log message: truncated {what}")));
        }
        let s = &self.b[self.p..self.p + n];
        self.p += n;
        Ok(s)
    }
}

fn utf8(b: &[u8], what: &str) -> Result<String> {
    String::from_utf8(b.to_vec())
        .map_err(|_| Error::decode(format!("log message: {what} is not valid UTF-8")))
}

/// A parsed message that borrows from the input where it can ([`parse_with`]).
#[derive(Debug, Clone, PartialEq)]
pub enum LogMessageRef<'a> {
    /// A LogCreate, or any message the generic decoder read.
    Owned(LogMessage),
    Write {
        stream: &'a str,
        writer: &'a str,
        path: &'a str,
        serial: &'a [u8],
    },
}

fn str_ref<'a>(b: &'a [u8], what: &str) -> Result<&'a str> {
    std::str::from_utf8(b)
        .map_err(|_| Error::decode(format!("log message: {what} is not valid UTF-8")))
}

/// Fast path for one LogWrite at the start of `b`: the message and its length.
fn parse_log_write_prefix(b: &[u8]) -> Result<(LogMessageRef<'_>, usize)> {
    parse_log_write_cached(b, &mut None)
}

/// [`parse_log_write_prefix`] that skips the UTF-8 check of a stream, writer and path
/// equal (byte for byte) to the previous message's, which passed it (`prev`).
fn parse_log_write_cached<'a>(
    b: &'a [u8],
    prev: &mut Option<(&'a str, &'a str, &'a str)>,
) -> Result<(LogMessageRef<'a>, usize)> {
    let mut c = Cur { b, p: 20 };
    c.byte(0x0e, "a content vector")?;
    c.byte(0x04, "a content vector of 4")?;
    let sb = c.str(0x0b, "the stream id (enum)")?;
    let wb = c.str(0x0b, "the writer id (enum)")?;
    let pb = c.str(0x05, "the path (string)")?;
    let (stream, writer, path) = match *prev {
        Some((s, w, p)) if s.as_bytes() == sb && w.as_bytes() == wb && p.as_bytes() == pb => {
            (s, w, p)
        }
        _ => {
            let t = (
                str_ref(sb, "stream id")?,
                str_ref(wb, "writer id")?,
                str_ref(pb, "path")?,
            );
            *prev = Some(t);
            t
        }
    };
    let serial = c.str(0x05, "serial_data (string)")?;
    Ok((
        LogMessageRef::Write {
            stream,
            writer,
            path,
            serial,
        },
        c.p,
    ))
}

fn as_str<'v>(v: &'v Value, what: &str) -> Result<&'v [u8]> {
    match v {
        Value::String(s) => Ok(s),
        _ => Err(Error::decode(format!(
            "LogCreate: {what} is a {}, not a string",
            v.type_name()
        ))),
    }
}

fn as_real(v: &Value, what: &str) -> Result<f64> {
    match v {
        Value::Real(r) => Ok(*r),
        _ => Err(Error::decode(format!(
            "LogCreate: {what} is a {}, not a real",
            v.type_name()
        ))),
    }
}

fn parse_create(content: &[Value]) -> Result<LogMessage> {
    if content.len() < 4 {
        return Err(Error::decode("LogCreate: fewer than 4 content fields"));
    }
    let (Value::Enum(stream), Value::Enum(writer)) = (&content[0], &content[1]) else {
        return Err(Error::decode(
            "LogCreate: stream id and writer id must be enum values",
        ));
    };
    let Value::Vector(wi) = &content[2] else {
        return Err(Error::decode("LogCreate: writer_info is not a vector"));
    };
    if wi.len() != 6 {
        return Err(Error::decode(format!(
            "LogCreate: writer_info has {} fields, not 6",
            wi.len()
        )));
    }
    let Value::Table(cfg) = &wi[4] else {
        return Err(Error::decode(
            "LogCreate: writer_info config is not a table",
        ));
    };
    let mut config = BTreeMap::new();
    for (k, v) in cfg {
        config.insert(
            utf8(as_str(k, "a config key")?, "config key")?,
            utf8(as_str(v, "a config value")?, "config value")?,
        );
    }
    let info = WriterInfo {
        path: utf8(as_str(&wi[0], "path")?, "path")?,
        rotation_base: as_real(&wi[1], "rotation_base")?,
        rotation_interval: as_real(&wi[2], "rotation_interval")?,
        network_time: as_real(&wi[3], "network_time")?,
        config,
        post_proc_func: utf8(as_str(&wi[5], "post_proc_func")?, "post_proc_func")?,
    };
    let Value::Vector(fd) = &content[3] else {
        return Err(Error::decode("LogCreate: fields_data is not a vector"));
    };
    let mut fields = Vec::with_capacity(fd.len());
    for (i, f) in fd.iter().enumerate() {
        let Value::Vector(parts) = f else {
            return Err(Error::decode(format!(
                "LogCreate: field {i} is not a vector"
            )));
        };
        if parts.len() < 5 {
            return Err(Error::decode(format!(
                "LogCreate: field {i} has fewer than 5 elements"
            )));
        }
        let name = utf8(as_str(&parts[0], "a field name")?, "field name")?;
        let (Value::Count(t), Value::Count(st), Value::Bool(opt)) =
            (&parts[2], &parts[3], &parts[4])
        else {
            return Err(Error::decode(format!(
                "LogCreate: field \"{name}\": type, subtype must be counts and optional a bool"
            )));
        };
        let ty = ZeekType::from_tags(*t as u32, *st as u32).map_err(|e| {
            Error::new(
                e.kind,
                format!("LogCreate: field \"{name}\": {}", e.message),
            )
        })?;
        fields.push(LogField {
            name,
            ty,
            optional: *opt,
        });
    }
    Ok(LogMessage::Create {
        stream: stream.clone(),
        writer: writer.clone(),
        info,
        fields,
    })
}

fn parse_value(v: &Value, out: &mut Vec<LogMessage>, in_batch: bool) -> Result<()> {
    let Value::Vector(top) = v else {
        return Err(Error::decode("log message: not a vector"));
    };
    let (Some(Value::Count(ver)), Some(Value::Count(ty)), Some(Value::Vector(content))) =
        (top.first(), top.get(1), top.get(2))
    else {
        return Err(Error::decode(
            "log message: not [count version, count type, vector content]",
        ));
    };
    if *ver != PROTOCOL_VERSION {
        return Err(Error::decode(format!(
            "log message: protocol version {ver}, expected 1"
        )));
    }
    match *ty {
        TYPE_LOG_CREATE => out.push(parse_create(content)?),
        TYPE_LOG_WRITE => {
            let [Value::Enum(stream), Value::Enum(writer), Value::String(path), Value::String(serial)] =
                content.as_slice()
            else {
                return Err(Error::decode(
                    "LogWrite: content is not [enum, enum, string path, string serial_data]",
                ));
            };
            out.push(LogMessage::Write {
                stream: stream.clone(),
                writer: writer.clone(),
                path: utf8(path, "path")?,
                serial: serial.clone(),
            });
        }
        TYPE_BATCH if !in_batch => {
            for m in content {
                parse_value(m, out, true)?;
            }
        }
        t => {
            return Err(Error::decode(format!(
                "log message: type {t} is not a LogCreate, LogWrite or Batch{}",
                if in_batch { " inside a batch" } else { "" }
            )))
        }
    }
    Ok(())
}

/// Parses a LogCreate, a LogWrite or a Batch of them into its messages, in order. Any
/// malformed part fails the whole message (as Broker's batch check does).
pub fn parse(bytes: &[u8]) -> Result<Vec<LogMessage>> {
    let mut out = Vec::new();
    parse_with(bytes, |m| {
        out.push(match m {
            LogMessageRef::Owned(c) => c,
            LogMessageRef::Write {
                stream,
                writer,
                path,
                serial,
            } => LogMessage::Write {
                stream: stream.into(),
                writer: writer.into(),
                path: path.into(),
                serial: serial.to_vec(),
            },
        })
    })?;
    Ok(out)
}

/// [`parse`], handing each message to `f` (LogWrites borrowed from `bytes`). The whole
/// message is checked before `f` sees any part of it.
pub fn parse_with<'a>(bytes: &'a [u8], mut f: impl FnMut(LogMessageRef<'a>)) -> Result<()> {
    match message_type(bytes) {
        Some(TYPE_LOG_WRITE) => {
            if let Ok((m, n)) = parse_log_write_prefix(bytes) {
                if n == bytes.len() {
                    f(m);
                    return Ok(());
                }
            }
        }
        Some(TYPE_BATCH) => {
            // Fast path: a batch of LogWrites in canonical form.
            let mut msgs = Vec::new();
            let fast = (|| -> Result<()> {
                let mut c = Cur { b: bytes, p: 20 };
                c.byte(0x0e, "a content vector")?;
                let (n, used) = bin::read_varbyte(&bytes[c.p..])?;
                c.p += used;
                // Each message takes more than 20 bytes: a count the input cannot hold
                // must not make us reserve gigabytes.
                msgs.reserve((n as usize).min(bytes.len() / 20));
                let mut prev = None;
                for _ in 0..n {
                    let rest = &bytes[c.p..];
                    if message_type(rest) != Some(TYPE_LOG_WRITE) {
                        return Err(Error::decode("not a LogWrite"));
                    }
                    let (m, len) = parse_log_write_cached(rest, &mut prev)?;
                    msgs.push(m);
                    c.p += len;
                }
                if c.p != bytes.len() {
                    return Err(Error::decode("trailing bytes"));
                }
                Ok(())
            })();
            if fast.is_ok() {
                msgs.into_iter().for_each(f);
                return Ok(());
            }
        }
        _ => {}
    }
    let v = bin::decode(bytes)?;
    let mut out = Vec::new();
    parse_value(&v, &mut out, false)?;
    out.into_iter().map(LogMessageRef::Owned).for_each(f);
    Ok(())
}
