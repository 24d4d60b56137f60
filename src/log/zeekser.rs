//! Zeek's binary serialization of log fields and values (sans-IO).
//!
//! This is `BinarySerializationFormat` (`src/SerializationFormat.cc`) as Zeek's logging
//! uses it through `threading::Field::Write` and `threading::Value::Write`
//! (`src/threading/SerialTypes.cc`). Everything is big-endian: `int32`/`uint32` 4 bytes,
//! `int64`/`uint64` 8 bytes, `bool` and `char` 1 byte, `double` the raw IEEE-754 bits
//! (not Broker's pack754), strings a `u32` length and the bytes.
//!
//! - A **Field** is `bool have_2nd [string secondary_name] string name, int32 type,
//!   int32 subtype, bool optional`; `type`/`subtype` are Zeek's `TypeTag` numbers
//!   ([`tag`]). A set column is `TABLE` with the element type as subtype, a vector column
//!   `VECTOR` likewise, other columns have subtype `VOID`.
//! - A **Value** is `int32 type, int32 subtype, bool present`, then (if present) its
//!   payload: bool/int an `int64`, count a `uint64`, port `uint64 number, int32 proto`,
//!   addr `char family (4|6)` and 4 or 16 bytes, subnet `char length (IPv6-relative, as
//!   `IPPrefix` holds it), char family` and the bytes, double/time/interval a `double`,
//!   string/enum a string, set/vector `int64 n` and n Values. Zeek builds values with
//!   `threading::Value{tag}`, so the value subtype is always 0 and readers ignore it.
//! - The Broker backend's LogWrite carries one record as `int32 num_fields` and the
//!   values ([`encode_record`], [`decode_record`]).
//! - The `zeek-bin-serializer` log-write payload of pluggable backends (ZeroMQ frame 4)
//!   is `string stream, string writer, string filter, string path, u32 num_fields,
//!   fields, u32 num_records, records x fields values` ([`encode_log_batch`],
//!   [`decode_log_batch`]).
//!
//! Mapping to zcluster's data model: a column's [`ZeekType`] decides the tag a value is
//! written with. `time`/`interval` accept a Broker timestamp/timespan (nanoseconds,
//! converted as `ns / 1e9`) or a real (seconds); `port` writes the number and protocol of
//! a Broker port; `set` accepts a Broker set or vector and writes the elements in the
//! order given (Zeek writes its table's iteration order). Decoding gives reals for
//! `double`/`time`/`interval` (no rounding through nanoseconds) and a `Value::Vector` for
//! sets, so the file a logger writes keeps the sender's element order as Zeek's does.
//! `Value::None` is a value with `present = F` (an unset optional column).

use super::{LogField, ZeekType};
use crate::data::{Address, Port, Protocol, Subnet, Value};
use crate::error::{Error, Result};

/// Zeek's `TypeTag` numbers (`src/Type.h`) as the serialization carries them.
pub mod tag {
    pub const VOID: u32 = 0;
    pub const BOOL: u32 = 1;
    pub const INT: u32 = 2;
    pub const COUNT: u32 = 3;
    pub const DOUBLE: u32 = 4;
    pub const TIME: u32 = 5;
    pub const INTERVAL: u32 = 6;
    pub const STRING: u32 = 7;
    pub const PATTERN: u32 = 8;
    pub const ENUM: u32 = 9;
    pub const PORT: u32 = 10;
    pub const ADDR: u32 = 11;
    pub const SUBNET: u32 = 12;
    pub const TABLE: u32 = 14;
    pub const FUNC: u32 = 17;
    pub const FILE: u32 = 18;
    pub const VECTOR: u32 = 19;
}

impl ZeekType {
    /// The `TypeTag` of a value or field of this type (`TABLE` for sets).
    pub fn tag(&self) -> u32 {
        match self {
            ZeekType::Bool => tag::BOOL,
            ZeekType::Int => tag::INT,
            ZeekType::Count => tag::COUNT,
            ZeekType::Double => tag::DOUBLE,
            ZeekType::Time => tag::TIME,
            ZeekType::Interval => tag::INTERVAL,
            ZeekType::String => tag::STRING,
            ZeekType::Addr => tag::ADDR,
            ZeekType::Subnet => tag::SUBNET,
            ZeekType::Port => tag::PORT,
            ZeekType::Enum => tag::ENUM,
            ZeekType::Set(_) => tag::TABLE,
            ZeekType::Vector(_) => tag::VECTOR,
        }
    }

    /// A field's subtype: the element type of a set or vector, VOID otherwise.
    pub fn subtype(&self) -> u32 {
        match self {
            ZeekType::Set(t) | ZeekType::Vector(t) => t.tag(),
            _ => tag::VOID,
        }
    }

    /// The column type of a field with this `type` and `subtype`, as zcluster supports
    /// them (no pattern, func or file columns; containers do not nest).
    pub fn from_tags(ty: u32, subtype: u32) -> Result<ZeekType> {
        let atomic = |t: u32| -> Option<ZeekType> {
            Some(match t {
                tag::BOOL => ZeekType::Bool,
                tag::INT => ZeekType::Int,
                tag::COUNT => ZeekType::Count,
                tag::DOUBLE => ZeekType::Double,
                tag::TIME => ZeekType::Time,
                tag::INTERVAL => ZeekType::Interval,
                tag::STRING => ZeekType::String,
                tag::ENUM => ZeekType::Enum,
                tag::PORT => ZeekType::Port,
                tag::ADDR => ZeekType::Addr,
                tag::SUBNET => ZeekType::Subnet,
                _ => return None,
            })
        };
        let r = match ty {
            tag::TABLE => atomic(subtype).map(|t| ZeekType::Set(Box::new(t))),
            tag::VECTOR => atomic(subtype).map(|t| ZeekType::Vector(Box::new(t))),
            t => atomic(t),
        };
        r.ok_or_else(|| {
            Error::type_mismatch(format!(
                "log field of Zeek type {ty} subtype {subtype}: zcluster logs only bool, int, count, \
                 double, time, interval, string, enum, port, addr, subnet and sets/vectors of those"
            ))
        })
    }
}

/// A `threading::Field` as serialized: what a log column is on the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    pub name: String,
    /// `secondary_name` (input framework only; None for logs).
    pub secondary_name: Option<String>,
    /// `TypeTag` of the column.
    pub ty: u32,
    /// `TypeTag` of a container's elements, VOID otherwise.
    pub subtype: u32,
    pub optional: bool,
}

impl From<&LogField> for Field {
    fn from(f: &LogField) -> Field {
        Field {
            name: f.name.clone(),
            secondary_name: None,
            ty: f.ty.tag(),
            subtype: f.ty.subtype(),
            optional: f.optional,
        }
    }
}

impl Field {
    /// The column this field describes (errors for types zcluster does not log).
    pub fn to_log_field(&self) -> Result<LogField> {
        let ty = ZeekType::from_tags(self.ty, self.subtype)
            .map_err(|e| Error::type_mismatch(format!("field \"{}\": {}", self.name, e.message)))?;
        Ok(LogField {
            name: self.name.clone(),
            ty,
            optional: self.optional,
        })
    }
}

// ---------------------------------------------------------------------------------------
// Primitives

/// Appends `BinarySerializationFormat` primitives to a byte buffer.
pub struct Writer<'a> {
    pub out: &'a mut Vec<u8>,
}

impl Writer<'_> {
    pub fn u16(&mut self, v: u16) {
        self.out.extend_from_slice(&v.to_be_bytes());
    }
    pub fn i32(&mut self, v: i32) {
        self.out.extend_from_slice(&v.to_be_bytes());
    }
    pub fn u32(&mut self, v: u32) {
        self.out.extend_from_slice(&v.to_be_bytes());
    }
    pub fn i64(&mut self, v: i64) {
        self.out.extend_from_slice(&v.to_be_bytes());
    }
    pub fn u64(&mut self, v: u64) {
        self.out.extend_from_slice(&v.to_be_bytes());
    }
    pub fn bool(&mut self, v: bool) {
        self.out.push(u8::from(v));
    }
    pub fn char(&mut self, v: u8) {
        self.out.push(v);
    }
    /// `htond`: the raw IEEE-754 bits, big-endian.
    pub fn double(&mut self, v: f64) {
        self.out.extend_from_slice(&v.to_bits().to_be_bytes());
    }
    /// `u32` length + bytes. Errors above 4 GiB.
    pub fn bytes(&mut self, b: &[u8]) -> Result<()> {
        let n = u32::try_from(b.len()).map_err(|_| {
            Error::invalid(format!(
                "a string of {} bytes exceeds Zeek's 32-bit length",
                b.len()
            ))
        })?;
        self.u32(n);
        self.out.extend_from_slice(b);
        Ok(())
    }

    /// `Field::Write`.
    pub fn field(&mut self, f: &Field) -> Result<()> {
        match &f.secondary_name {
            Some(s) => {
                self.bool(true);
                self.bytes(s.as_bytes())?;
            }
            None => self.bool(false),
        }
        self.bytes(f.name.as_bytes())?;
        self.u32(f.ty);
        self.u32(f.subtype);
        self.bool(f.optional);
        Ok(())
    }

    /// `Value::Write` of `v` as a value of Zeek type `ty` with the given value subtype
    /// (Zeek writes 0). `v` must be one `ty` accepts ([`ZeekType::accepts`]), else a Type
    /// error.
    pub fn value(&mut self, ty: &ZeekType, subtype: u32, v: &Value) -> Result<()> {
        self.u32(ty.tag());
        self.u32(subtype);
        if matches!(v, Value::None) {
            self.bool(false);
            return Ok(());
        }
        self.bool(true);
        let mismatch = || {
            Error::type_mismatch(format!(
                "a {} value cannot be serialized as Zeek type {}",
                v.type_name(),
                ty.name()
            ))
        };
        match (ty, v) {
            (ZeekType::Bool, Value::Bool(b)) => self.i64(i64::from(*b)),
            (ZeekType::Int, Value::Integer(i)) => self.i64(*i),
            (ZeekType::Count, Value::Count(c)) => self.u64(*c),
            (ZeekType::Double, Value::Real(d))
            | (ZeekType::Time, Value::Real(d))
            | (ZeekType::Interval, Value::Real(d)) => self.double(*d),
            (ZeekType::Time, Value::Timestamp(ns)) | (ZeekType::Interval, Value::Timespan(ns)) => {
                self.double(*ns as f64 / 1e9)
            }
            (ZeekType::String, Value::String(s)) => self.bytes(s)?,
            (ZeekType::Enum, Value::Enum(s)) => self.bytes(s.as_bytes())?,
            (ZeekType::Port, Value::Port(p)) => {
                self.u64(u64::from(p.number));
                self.i32(p.protocol as i32);
            }
            (ZeekType::Addr, Value::Address(a)) => self.addr(a),
            (ZeekType::Subnet, Value::Subnet(s)) => {
                self.char(s.length);
                self.addr(&s.network);
            }
            (ZeekType::Set(t) | ZeekType::Vector(t), Value::Vector(items)) => {
                self.i64(items.len() as i64);
                for e in items {
                    if matches!(e, Value::None) {
                        return Err(Error::type_mismatch(format!(
                            "a {} cannot hold an unset element",
                            ty.name()
                        )));
                    }
                    self.value(t, 0, e)?;
                }
            }
            (ZeekType::Set(t), Value::Set(items)) => {
                self.i64(items.len() as i64);
                for e in items {
                    self.value(t, 0, e)?;
                }
            }
            _ => return Err(mismatch()),
        }
        Ok(())
    }

    fn addr(&mut self, a: &Address) {
        if a.is_v4() {
            self.char(4);
            self.out.extend_from_slice(&a.0[12..16]);
        } else {
            self.char(6);
            self.out.extend_from_slice(&a.0);
        }
    }
}

/// Reads `BinarySerializationFormat` primitives; every error names what was being read.
pub struct Reader<'a> {
    input: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub fn new(input: &'a [u8]) -> Reader<'a> {
        Reader { input, pos: 0 }
    }
    /// Bytes consumed so far.
    pub fn position(&self) -> usize {
        self.pos
    }
    pub fn remaining(&self) -> usize {
        self.input.len() - self.pos
    }
    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8]> {
        if self.remaining() < n {
            return Err(Error::decode(format!(
                "zeek serialization: truncated {what} at byte {} (need {n}, have {})",
                self.pos,
                self.remaining()
            )));
        }
        let s = &self.input[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }
    fn arr<const N: usize>(&mut self, what: &str) -> Result<[u8; N]> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N, what)?);
        Ok(a)
    }
    pub fn u32(&mut self, what: &str) -> Result<u32> {
        Ok(u32::from_be_bytes(self.arr(what)?))
    }
    pub fn i32(&mut self, what: &str) -> Result<i32> {
        Ok(i32::from_be_bytes(self.arr(what)?))
    }
    pub fn i64(&mut self, what: &str) -> Result<i64> {
        Ok(i64::from_be_bytes(self.arr(what)?))
    }
    pub fn u64(&mut self, what: &str) -> Result<u64> {
        Ok(u64::from_be_bytes(self.arr(what)?))
    }
    pub fn bool(&mut self, what: &str) -> Result<bool> {
        match self.take(1, what)?[0] {
            0 => Ok(false),
            1 => Ok(true),
            b => Err(Error::decode(format!(
                "zeek serialization: {what} is {b:#04x}, not a bool (0 or 1)"
            ))),
        }
    }
    pub fn char(&mut self, what: &str) -> Result<u8> {
        Ok(self.take(1, what)?[0])
    }
    pub fn double(&mut self, what: &str) -> Result<f64> {
        Ok(f64::from_bits(self.u64(what)?))
    }
    pub fn bytes(&mut self, what: &str) -> Result<&'a [u8]> {
        let n = self.u32(what)? as usize;
        self.take(n, what)
    }
    pub fn string(&mut self, what: &str) -> Result<String> {
        let b = self.bytes(what)?;
        String::from_utf8(b.to_vec())
            .map_err(|_| Error::decode(format!("zeek serialization: {what} is not valid UTF-8")))
    }

    /// `Field::Read`.
    pub fn field(&mut self) -> Result<Field> {
        let secondary_name = if self.bool("field have_2nd")? {
            Some(self.string("field secondary_name")?)
        } else {
            None
        };
        let name = self.string("field name")?;
        let ty = self.u32("field type")?;
        let subtype = self.u32("field subtype")?;
        let optional = self.bool("field optional")?;
        Ok(Field {
            name,
            secondary_name,
            ty,
            subtype,
            optional,
        })
    }

    /// `Value::Read` of a value for a column of type `ty`: the value's own type tag must
    /// be `ty`'s (the subtype is ignored, as Zeek does).
    pub fn value(&mut self, ty: &ZeekType) -> Result<Value> {
        self.value_depth(ty, 0)
    }

    /// [`Reader::value`] into `slot`, reusing the allocation a string or enum value there
    /// already has (the log worker decodes every record into the same values).
    pub fn value_into(&mut self, ty: &ZeekType, slot: &mut Value) -> Result<()> {
        // The common case read with few bounds checks: a present value of a fixed-size
        // type, or a string / enum. Anything else (unset, containers, errors) takes the
        // general path from the same position, which also gives the precise error.
        let start = self.pos;
        if let Some(done) = self.value_fast(ty, slot) {
            if done {
                return Ok(());
            }
        }
        self.pos = start;
        *slot = self.value(ty)?;
        Ok(())
    }

    /// [`Reader::value_into`]'s fast path: Some(true) when it decoded the value.
    fn value_fast(&mut self, ty: &ZeekType, slot: &mut Value) -> Option<bool> {
        let rest = &self.input[self.pos..];
        let head = rest.get(..9)?;
        let t = u32::from_be_bytes(head[..4].try_into().ok()?);
        if t != ty.tag() || head[8] != 1 {
            return Some(false);
        }
        let body = &rest[9..];
        let be8 =
            |b: &[u8]| -> Option<u64> { Some(u64::from_be_bytes(b.get(..8)?.try_into().ok()?)) };
        let used = match ty {
            ZeekType::Bool => {
                *slot = Value::Bool(be8(body)? != 0);
                8
            }
            ZeekType::Int => {
                *slot = Value::Integer(be8(body)? as i64);
                8
            }
            ZeekType::Count => {
                *slot = Value::Count(be8(body)?);
                8
            }
            ZeekType::Double | ZeekType::Time | ZeekType::Interval => {
                *slot = Value::Real(f64::from_bits(be8(body)?));
                8
            }
            ZeekType::Port => {
                let n = be8(body)?;
                let p = i32::from_be_bytes(body.get(8..12)?.try_into().ok()?);
                let protocol = match p {
                    0 => Protocol::Unknown,
                    1 => Protocol::Tcp,
                    2 => Protocol::Udp,
                    3 => Protocol::Icmp,
                    _ => return Some(false),
                };
                let number = u16::try_from(n).ok()?;
                *slot = Value::Port(Port { number, protocol });
                12
            }
            ZeekType::Addr => match body.first()? {
                4 => {
                    let b: [u8; 4] = body.get(1..5)?.try_into().ok()?;
                    *slot = Value::Address(Address::from_v4(std::net::Ipv4Addr::from(b)));
                    5
                }
                6 => {
                    *slot = Value::Address(Address(body.get(1..17)?.try_into().ok()?));
                    17
                }
                _ => return Some(false),
            },
            ZeekType::String | ZeekType::Enum => {
                let n = u32::from_be_bytes(body.get(..4)?.try_into().ok()?) as usize;
                let b = body.get(4..4 + n)?;
                if *ty == ZeekType::String {
                    match slot {
                        Value::String(v) => {
                            v.clear();
                            v.extend_from_slice(b);
                        }
                        _ => *slot = Value::String(b.to_vec()),
                    }
                } else {
                    match (std::str::from_utf8(b), &mut *slot) {
                        (Ok(s), Value::Enum(e)) => {
                            e.clear();
                            e.push_str(s);
                        }
                        _ => *slot = Value::Enum(String::from_utf8_lossy(b).into_owned()),
                    }
                }
                4 + n
            }
            _ => return Some(false),
        };
        self.pos += 9 + used;
        Some(true)
    }

    fn value_depth(&mut self, ty: &ZeekType, depth: usize) -> Result<Value> {
        let t = self.u32("value type")?;
        let _subtype = self.u32("value subtype")?;
        if t != ty.tag() {
            return Err(Error::type_mismatch(format!(
                "zeek serialization: a value of type tag {t} where the field's type is {} (tag {})",
                ty.name(),
                ty.tag()
            )));
        }
        if !self.bool("value present")? {
            return Ok(Value::None);
        }
        Ok(match ty {
            ZeekType::Bool => Value::Bool(self.i64("bool")? != 0),
            ZeekType::Int => Value::Integer(self.i64("int")?),
            ZeekType::Count => Value::Count(self.u64("count")?),
            ZeekType::Double | ZeekType::Time | ZeekType::Interval => {
                Value::Real(self.double("double")?)
            }
            ZeekType::String => Value::String(self.bytes("string")?.to_vec()),
            ZeekType::Enum => {
                Value::Enum(String::from_utf8_lossy(self.bytes("enum")?).into_owned())
            }
            ZeekType::Port => {
                let n = self.u64("port")?;
                let proto = match self.i32("port proto")? {
                    0 => Protocol::Unknown,
                    1 => Protocol::Tcp,
                    2 => Protocol::Udp,
                    3 => Protocol::Icmp,
                    p => {
                        return Err(Error::decode(format!(
                            "zeek serialization: port protocol {p} (expected 0..3)"
                        )))
                    }
                };
                let number = u16::try_from(n).map_err(|_| {
                    Error::decode(format!("zeek serialization: port number {n} exceeds 65535"))
                })?;
                Value::Port(Port {
                    number,
                    protocol: proto,
                })
            }
            ZeekType::Addr => Value::Address(self.addr("addr")?),
            ZeekType::Subnet => {
                let length = self.char("subnet length")?;
                let network = self.addr("subnet")?;
                let max = 128;
                if length > max || (network.is_v4() && length < 96) {
                    return Err(Error::decode(format!(
                        "zeek serialization: subnet length {length} is out of range"
                    )));
                }
                Value::Subnet(Subnet {
                    network: network.masked(length),
                    length,
                })
            }
            ZeekType::Set(e) | ZeekType::Vector(e) => {
                if depth > 0 {
                    return Err(Error::decode("zeek serialization: nested containers"));
                }
                let n = self.i64("container size")?;
                // Each element takes at least 9 bytes: refuse sizes the input cannot hold.
                if n < 0 || (n as u64) > (self.remaining() / 9) as u64 {
                    return Err(Error::decode(format!(
                        "zeek serialization: container size {n} with {} bytes left",
                        self.remaining()
                    )));
                }
                let mut items = Vec::with_capacity(n as usize);
                for _ in 0..n {
                    let v = self.value_depth(e, depth + 1)?;
                    if matches!(v, Value::None) {
                        return Err(Error::decode(
                            "zeek serialization: an unset container element",
                        ));
                    }
                    items.push(v);
                }
                Value::Vector(items)
            }
        })
    }

    fn addr(&mut self, what: &str) -> Result<Address> {
        match self.char(what)? {
            4 => {
                let b: [u8; 4] = self.arr(what)?;
                Ok(Address::from_v4(std::net::Ipv4Addr::from(b)))
            }
            6 => Ok(Address(self.arr(what)?)),
            f => Err(Error::decode(format!(
                "zeek serialization: {what} family {f} (expected 4 or 6)"
            ))),
        }
    }
}

// ---------------------------------------------------------------------------------------
// Records and batches

/// Appends one record as the Broker backend's LogWrite `serial_data` holds it
/// (`int32 num_fields`, then each value). `record` must have one value per field and
/// each must fit its column ([`super::LogStream::check`] says which does not).
pub fn encode_record(fields: &[LogField], record: &[Value], out: &mut Vec<u8>) -> Result<()> {
    if fields.len() != record.len() {
        return Err(Error::invalid(format!(
            "record has {} values for {} fields",
            record.len(),
            fields.len()
        )));
    }
    let mut w = Writer { out };
    w.u32(fields.len() as u32);
    for (f, v) in fields.iter().zip(record) {
        w.value(&f.ty, 0, v)
            .map_err(|e| Error::new(e.kind, format!("field \"{}\": {}", f.name, e.message)))?;
    }
    Ok(())
}

/// Decodes a LogWrite's `serial_data` against the writer's fields: the value count must
/// equal the field count and each value's type its field's.
pub fn decode_record(fields: &[LogField], bytes: &[u8]) -> Result<Vec<Value>> {
    let mut out = Vec::with_capacity(fields.len());
    decode_record_into(fields, bytes, &mut out)?;
    Ok(out)
}

/// [`decode_record`] into `out` (cleared first), reusing its allocation.
pub fn decode_record_into(fields: &[LogField], bytes: &[u8], out: &mut Vec<Value>) -> Result<()> {
    out.clear();
    let mut r = Reader::new(bytes);
    let n = r.i32("num_fields")?;
    if n < 0 || n as usize != fields.len() {
        return Err(Error::invalid(format!(
            "record has {n} values, the writer has {} fields",
            fields.len()
        )));
    }
    for f in fields {
        out.push(
            r.value(&f.ty)
                .map_err(|e| Error::new(e.kind, format!("field \"{}\": {}", f.name, e.message)))?,
        );
    }
    if r.remaining() != 0 {
        return Err(Error::decode(format!(
            "zeek serialization: {} bytes after the record",
            r.remaining()
        )));
    }
    Ok(())
}

/// [`decode_record_into`] that reuses the values already in `out` (their string
/// allocations) when it holds a record of the same fields from an earlier call. The
/// result is the same; on error `out` holds partly decoded values.
pub fn decode_record_reuse(fields: &[LogField], bytes: &[u8], out: &mut Vec<Value>) -> Result<()> {
    let mut r = Reader::new(bytes);
    let n = r.i32("num_fields")?;
    if n < 0 || n as usize != fields.len() {
        return Err(Error::invalid(format!(
            "record has {n} values, the writer has {} fields",
            fields.len()
        )));
    }
    out.resize(fields.len(), Value::None);
    for (f, slot) in fields.iter().zip(out.iter_mut()) {
        r.value_into(&f.ty, slot)
            .map_err(|e| Error::new(e.kind, format!("field \"{}\": {}", f.name, e.message)))?;
    }
    if r.remaining() != 0 {
        return Err(Error::decode(format!(
            "zeek serialization: {} bytes after the record",
            r.remaining()
        )));
    }
    Ok(())
}

/// The header of a `zeek-bin-serializer` log-write (`logging::detail::LogWriteHeader`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogWriteHeader {
    /// The stream's enum name, `Conn::LOG`.
    pub stream_name: String,
    /// The writer's enum name, `Log::WRITER_ASCII`.
    pub writer_name: String,
    /// The filter's name, `default`.
    pub filter_name: String,
    /// The path, `conn`.
    pub path: String,
    pub fields: Vec<Field>,
}

/// The `zeek-bin-serializer` payload for a batch of records of one (stream, writer,
/// filter, path): what a pluggable cluster backend (ZeroMQ) sends as frame 4 of a
/// `log-write` message. Values are written as Zeek does (value subtype 0); every record
/// must have one value per field, each fitting its column, else the error names the
/// record and the field.
///
/// ```
/// use zcluster::log::{zeekser, LogField, ZeekType};
/// use zcluster::data::Value;
/// let fields = [LogField::new("ts", ZeekType::Time), LogField::new("msg", ZeekType::String)];
/// let header = zeekser::LogWriteHeader::new("My::LOG", "Log::WRITER_ASCII", "default", "my", &fields);
/// let recs = vec![vec![Value::Real(1.5), Value::string("hi")]];
/// let payload = zeekser::encode_log_batch(&header, &fields, &recs).unwrap();
/// let (h, back) = zeekser::decode_log_batch(&payload).unwrap();
/// assert_eq!(h.path, "my");
/// assert_eq!(back, recs);
/// ```
pub fn encode_log_batch<R: AsRef<[Value]>>(
    header: &LogWriteHeader,
    fields: &[LogField],
    records: &[R],
) -> Result<Vec<u8>> {
    if header.fields.len() != fields.len() {
        return Err(Error::invalid(format!(
            "the header has {} fields, the columns {}",
            header.fields.len(),
            fields.len()
        )));
    }
    let mut out = Vec::with_capacity(64 + records.len() * fields.len() * 16);
    let mut w = Writer { out: &mut out };
    w.bytes(header.stream_name.as_bytes())?;
    w.bytes(header.writer_name.as_bytes())?;
    w.bytes(header.filter_name.as_bytes())?;
    w.bytes(header.path.as_bytes())?;
    w.u32(header.fields.len() as u32);
    for f in &header.fields {
        w.field(f)?;
    }
    let n = u32::try_from(records.len())
        .map_err(|_| Error::invalid("more than 2^32 records in one batch"))?;
    w.u32(n);
    for (i, rec) in records.iter().enumerate() {
        let rec = rec.as_ref();
        if rec.len() != fields.len() {
            return Err(Error::invalid(format!(
                "record {i} has {} values for {} fields",
                rec.len(),
                fields.len()
            )));
        }
        for (f, v) in fields.iter().zip(rec) {
            w.value(&f.ty, 0, v).map_err(|e| {
                Error::new(
                    e.kind,
                    format!("record {i}, field \"{}\": {}", f.name, e.message),
                )
            })?;
        }
    }
    Ok(out)
}

impl LogWriteHeader {
    /// A header for `fields` (their serialized form).
    pub fn new(
        stream_name: &str,
        writer_name: &str,
        filter_name: &str,
        path: &str,
        fields: &[LogField],
    ) -> LogWriteHeader {
        LogWriteHeader {
            stream_name: stream_name.into(),
            writer_name: writer_name.into(),
            filter_name: filter_name.into(),
            path: path.into(),
            fields: fields.iter().map(Field::from).collect(),
        }
    }
}

/// Decodes a `zeek-bin-serializer` log-write payload into its header and records (the
/// values read against the header's fields). Fields of types zcluster does not log are
/// an error.
pub fn decode_log_batch(bytes: &[u8]) -> Result<(LogWriteHeader, Vec<Vec<Value>>)> {
    let mut r = Reader::new(bytes);
    let stream_name = r.string("stream name")?;
    let writer_name = r.string("writer name")?;
    let filter_name = r.string("filter name")?;
    let path = r.string("path")?;
    let nf = r.u32("num_fields")? as usize;
    if nf > r.remaining() / 11 {
        return Err(Error::decode(format!(
            "zeek serialization: {nf} fields with {} bytes left",
            r.remaining()
        )));
    }
    let mut fields = Vec::with_capacity(nf);
    for _ in 0..nf {
        fields.push(r.field()?);
    }
    let cols: Vec<LogField> = fields
        .iter()
        .map(Field::to_log_field)
        .collect::<Result<_>>()?;
    let nr = r.u32("num_records")? as usize;
    // Records of no fields take no bytes: without this, 4 bytes could ask for 2^32 of
    // them (found by fuzzing). A log has at least one field.
    if nf == 0 && nr > 0 {
        return Err(Error::decode(format!(
            "zeek serialization: {nr} records of no fields"
        )));
    }
    if nf > 0 && nr > r.remaining() / (9 * nf) {
        return Err(Error::decode(format!(
            "zeek serialization: {nr} records with {} bytes left",
            r.remaining()
        )));
    }
    let mut records = Vec::with_capacity(nr);
    for i in 0..nr {
        let mut rec = Vec::with_capacity(nf);
        for c in &cols {
            rec.push(r.value(&c.ty).map_err(|e| {
                Error::new(
                    e.kind,
                    format!("record {i}, field \"{}\": {}", c.name, e.message),
                )
            })?);
        }
        records.push(rec);
    }
    if r.remaining() != 0 {
        return Err(Error::decode(format!(
            "zeek serialization: {} bytes after the last record",
            r.remaining()
        )));
    }
    Ok((
        LogWriteHeader {
            stream_name,
            writer_name,
            filter_name,
            path,
            fields,
        },
        records,
    ))
}
