//! The store's single entry point to Broker's binary value encoding.
//!
//! Every store module (SQLite blobs, command payloads) goes through these four functions,
//! so switching to `crate::data::bin` is a change of this file only.
//!
//! INTERIM: `crate::data::bin` (branch `data`) is not on main yet. Until it is merged the
//! bodies below use a minimal private codec (`interim`) that follows broker.md section 1
//! and 6.4. It is deleted when main has the real codec; no other module may use it.

use crate::data::Value;
use crate::error::{Error, Result};

/// Appends the tagged binary encoding of `v` (tag byte + payload).
pub(crate) fn encode_value(v: &Value, out: &mut Vec<u8>) -> Result<()> {
    interim::encode(v, out, 0)
}

/// Decodes one tagged value from the front of `input`; returns it and the bytes used.
pub(crate) fn decode_value_prefix(input: &[u8]) -> Result<(Value, usize)> {
    let mut pos = 0;
    let v = interim::decode(input, &mut pos, 0)?;
    Ok((v, pos))
}

/// Decodes exactly one tagged value that must fill `input`.
pub(crate) fn decode_value(input: &[u8]) -> Result<Value> {
    let (v, used) = decode_value_prefix(input)?;
    if used != input.len() {
        return Err(Error::decode(format!(
            "{} trailing byte(s) after a value of {} byte(s)",
            input.len() - used,
            used
        )));
    }
    Ok(v)
}

/// Unsigned LEB128 on 32 bits, as Broker writes lengths.
pub(crate) fn write_varbyte(mut value: u32, out: &mut Vec<u8>) {
    loop {
        let byte = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

/// Reads a varbyte (at most 5 bytes, value must fit 32 bits); returns it and its length.
pub(crate) fn read_varbyte(input: &[u8]) -> Result<(u32, usize)> {
    let mut value: u64 = 0;
    for (i, &b) in input.iter().enumerate().take(5) {
        value |= u64::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            return u32::try_from(value)
                .map(|v| (v, i + 1))
                .map_err(|_| Error::decode("varbyte length exceeds 32 bits"));
        }
    }
    if input.len() < 5 {
        Err(Error::decode("truncated varbyte length"))
    } else {
        Err(Error::decode("varbyte length longer than 5 bytes"))
    }
}

/// Writes a length as a varbyte, refusing lengths Broker cannot represent.
pub(crate) fn write_len(len: usize, out: &mut Vec<u8>) -> Result<()> {
    let v = u32::try_from(len)
        .map_err(|_| Error::invalid(format!("length {len} exceeds Broker's 32-bit limit")))?;
    write_varbyte(v, out);
    Ok(())
}

mod interim {
    use super::{read_varbyte, write_len};
    use crate::data::{Address, Port, Protocol, Subnet, Value};
    use crate::error::{Error, Result};
    use std::collections::{BTreeMap, BTreeSet};

    const MAX_DEPTH: usize = 64;

    pub(super) fn encode(v: &Value, out: &mut Vec<u8>, depth: usize) -> Result<()> {
        if depth > MAX_DEPTH {
            return Err(Error::invalid("value nested too deeply to encode"));
        }
        out.push(v.tag());
        match v {
            Value::None => {}
            Value::Bool(b) => out.push(u8::from(*b)),
            Value::Count(c) => out.extend_from_slice(&c.to_be_bytes()),
            Value::Integer(i) => out.extend_from_slice(&i.to_be_bytes()),
            Value::Real(r) => out.extend_from_slice(&r.to_bits().to_be_bytes()),
            Value::String(s) => {
                write_len(s.len(), out)?;
                out.extend_from_slice(s);
            }
            Value::Address(a) => out.extend_from_slice(&a.0),
            Value::Subnet(s) => {
                out.extend_from_slice(&s.network.0);
                out.push(s.length);
            }
            Value::Port(p) => {
                out.extend_from_slice(&p.number.to_be_bytes());
                out.push(p.protocol as u8);
            }
            Value::Timestamp(t) | Value::Timespan(t) => out.extend_from_slice(&t.to_be_bytes()),
            Value::Enum(e) => {
                write_len(e.len(), out)?;
                out.extend_from_slice(e.as_bytes());
            }
            Value::Set(s) => {
                write_len(s.len(), out)?;
                for x in s {
                    encode(x, out, depth + 1)?;
                }
            }
            Value::Table(t) => {
                write_len(t.len(), out)?;
                for (k, x) in t {
                    encode(k, out, depth + 1)?;
                    encode(x, out, depth + 1)?;
                }
            }
            Value::Vector(xs) => {
                write_len(xs.len(), out)?;
                for x in xs {
                    encode(x, out, depth + 1)?;
                }
            }
        }
        Ok(())
    }

    fn take<'a>(input: &'a [u8], pos: &mut usize, n: usize) -> Result<&'a [u8]> {
        let end = pos.checked_add(n).filter(|&e| e <= input.len()).ok_or_else(|| {
            Error::decode(format!("truncated value: need {n} byte(s) at offset {pos}"))
        })?;
        let s = &input[*pos..end];
        *pos = end;
        Ok(s)
    }

    fn u64_at(input: &[u8], pos: &mut usize) -> Result<u64> {
        let b = take(input, pos, 8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_be_bytes(a))
    }

    fn len_at(input: &[u8], pos: &mut usize) -> Result<usize> {
        let (v, used) = read_varbyte(&input[*pos..])?;
        *pos += used;
        Ok(v as usize)
    }

    pub(super) fn decode(input: &[u8], pos: &mut usize, depth: usize) -> Result<Value> {
        if depth > MAX_DEPTH {
            return Err(Error::decode("value nested too deeply"));
        }
        let tag = take(input, pos, 1)?[0];
        Ok(match tag {
            0 => Value::None,
            1 => Value::Bool(take(input, pos, 1)?[0] != 0),
            2 => Value::Count(u64_at(input, pos)?),
            3 => Value::Integer(u64_at(input, pos)? as i64),
            4 => Value::Real(f64::from_bits(u64_at(input, pos)?)),
            5 => {
                let n = len_at(input, pos)?;
                Value::String(take(input, pos, n)?.to_vec())
            }
            6 => {
                let mut a = [0u8; 16];
                a.copy_from_slice(take(input, pos, 16)?);
                Value::Address(Address(a))
            }
            7 => {
                let mut a = [0u8; 16];
                a.copy_from_slice(take(input, pos, 16)?);
                let length = take(input, pos, 1)?[0];
                Value::Subnet(Subnet { network: Address(a), length })
            }
            8 => {
                let b = take(input, pos, 3)?;
                let protocol = match b[2] {
                    0 => Protocol::Unknown,
                    1 => Protocol::Tcp,
                    2 => Protocol::Udp,
                    3 => Protocol::Icmp,
                    p => return Err(Error::decode(format!("bad port protocol {p}"))),
                };
                Value::Port(Port { number: u16::from_be_bytes([b[0], b[1]]), protocol })
            }
            9 => Value::Timestamp(u64_at(input, pos)? as i64),
            10 => Value::Timespan(u64_at(input, pos)? as i64),
            11 => {
                let n = len_at(input, pos)?;
                let s = take(input, pos, n)?;
                Value::Enum(
                    String::from_utf8(s.to_vec())
                        .map_err(|_| Error::decode("enum name is not UTF-8"))?,
                )
            }
            12 => {
                let n = len_at(input, pos)?;
                let mut s = BTreeSet::new();
                for _ in 0..n {
                    s.insert(decode(input, pos, depth + 1)?);
                }
                Value::Set(s)
            }
            13 => {
                let n = len_at(input, pos)?;
                let mut t = BTreeMap::new();
                for _ in 0..n {
                    let k = decode(input, pos, depth + 1)?;
                    let v = decode(input, pos, depth + 1)?;
                    t.insert(k, v);
                }
                Value::Table(t)
            }
            14 => {
                let n = len_at(input, pos)?;
                let mut xs = Vec::new();
                for _ in 0..n {
                    xs.push(decode(input, pos, depth + 1)?);
                }
                Value::Vector(xs)
            }
            t => return Err(Error::decode(format!("unknown value tag {t}"))),
        })
    }
}
