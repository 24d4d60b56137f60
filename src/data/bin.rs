//! Broker's native binary encoding of data (`format::bin::v1`), byte-identical to what a
//! real Broker writes: one tag byte per value, big-endian fixed-width numbers, varbyte
//! (unsigned LEB128 on 32 bits) lengths and counts, sets and tables in canonical order,
//! reals through CAF's `pack754`.
//!
//! Decoding is strict and bounded: every length is checked against the remaining input,
//! nothing is preallocated from an untrusted count beyond what the remaining input could
//! hold, nesting is limited by `Limits::max_depth`, and the total number of values by
//! `Limits::max_values`. Duplicate set elements or table keys are refused, as Broker's
//! decoder refuses them.
//!
//! Depth: Broker itself has no nesting limit (its peers send and accept depth 100 and
//! 400). Ours, `DEFAULT_MAX_DEPTH` (4096), is ten times the deepest Broker is known to
//! exchange, and a frame could never hold more than `max_frame / 2` levels anyway. Decoding,
//! validating and encoding walk nesting with a stack on the heap, not by recursion, so the
//! limit costs no thread stack there. Dropping, cloning and comparing a `Value` do
//! recurse (roughly 0.2 KB, 1 KB and 1.3 KB of stack per level in a debug build, a
//! fraction of that optimised): the endpoint's I/O thread gets a stack sized for values
//! at the limit (`endpoint::IO_THREAD_STACK`), and a host thread that clones or compares
//! values thousands of levels deep needs a few MB of stack in a debug build.

use super::value::{Address, Port, Protocol, Subnet, Value};
use crate::error::{Error, Result};
use std::collections::{BTreeMap, BTreeSet};

/// Bounds for decoding untrusted bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Deepest container nesting accepted (a scalar at top level has depth 0).
    pub max_depth: usize,
    /// Most values (scalars and containers, at every level) in one decoded value.
    pub max_values: usize,
}

/// The default nesting limit (see the module docs).
pub const DEFAULT_MAX_DEPTH: usize = 4096;

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_depth: DEFAULT_MAX_DEPTH,
            max_values: 16 * 1024 * 1024,
        }
    }
}

/// The most bytes a varbyte may take: 5 groups of 7 bits cover a u32.
pub const MAX_VARBYTE_LEN: usize = 5;

/// Appends `value` as a varbyte (unsigned LEB128). Broker computes varbytes on 32 bits;
/// callers never pass more (a length above u32::MAX cannot be encoded and is refused by
/// `encode` before it gets here).
pub fn write_varbyte(value: u32, out: &mut Vec<u8>) {
    let mut x = value;
    while x > 0x7f {
        out.push((x as u8 & 0x7f) | 0x80);
        x >>= 7;
    }
    out.push(x as u8);
}

/// Reads a varbyte from the front of `input`; returns the value and the bytes used.
/// At most 5 bytes, and the value must fit in a u32.
pub fn read_varbyte(input: &[u8]) -> Result<(u32, usize)> {
    let mut x: u64 = 0;
    for i in 0..MAX_VARBYTE_LEN {
        let Some(&b) = input.get(i) else {
            return Err(Error::decode(format!(
                "truncated varbyte: input ends after {i} byte(s)"
            )));
        };
        x |= u64::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            return u32::try_from(x)
                .map(|v| (v, i + 1))
                .map_err(|_| Error::decode(format!("varbyte value {x} does not fit in 32 bits")));
        }
    }
    Err(Error::decode("varbyte longer than 5 bytes"))
}

// ---------------------------------------------------------------------------------------
// Reals: CAF's pack754 / unpack754

const PACKED_NAN: u64 = 0xFFFF_FFFF_FFFF_FFFF;
const PACKED_PINF: u64 = 0xFFF0_0000_0000_0000;
const PACKED_NINF: u64 = 0x7FF0_0000_0000_0000;
const PACKED_NZERO: u64 = 0x8000_0000_0000_0000;

/// CAF's `pack754` for doubles, bit for bit. Normal numbers come out as their IEEE bits;
/// NaN is all ones, +inf is `fff0..` and -inf `7ff0..` (swapped against IEEE), and
/// subnormals go through CAF's normalisation loop, whose exponent wraps (5e-324 gives
/// `fcd0000000000000`).
pub fn pack754(f: f64) -> u64 {
    if f.is_nan() {
        return PACKED_NAN;
    }
    if f.is_infinite() {
        return if f.is_sign_negative() {
            PACKED_NINF
        } else {
            PACKED_PINF
        };
    }
    if f == 0.0 {
        return if f.is_sign_negative() {
            PACKED_NZERO
        } else {
            0
        };
    }
    if f.is_normal() {
        // CAF's loop reproduces the IEEE bits exactly for normal numbers (tested below).
        return f.to_bits();
    }
    pack754_loop(f)
}

/// CAF's algorithm, step by step (subnormals need its exact wrapping behaviour).
fn pack754_loop(f: f64) -> u64 {
    let (sign, mut fnorm) = if f < 0.0 { (1u64, -f) } else { (0u64, f) };
    let mut shift: u64 = 0;
    while fnorm >= 2.0 {
        fnorm /= 2.0;
        shift = shift.wrapping_add(1);
    }
    while fnorm < 1.0 {
        fnorm *= 2.0;
        shift = shift.wrapping_sub(1);
    }
    fnorm -= 1.0;
    let pownum = (1u64 << 52) as f64;
    let significand = (fnorm * (pownum + 0.5)) as u64;
    let exp = shift.wrapping_add(1023);
    (sign << 63) | (exp << 52) | significand
}

/// CAF's `unpack754` for doubles, bit for bit (the inverse of `pack754` on everything
/// `pack754` produces; other patterns decode as CAF decodes them).
pub fn unpack754(i: u64) -> f64 {
    match i {
        0 => return 0.0,
        PACKED_NZERO => return -0.0,
        PACKED_PINF => return f64::INFINITY,
        PACKED_NINF => return f64::NEG_INFINITY,
        PACKED_NAN => return f64::NAN,
        _ => {}
    }
    let e = (i >> 52) & 0x7ff;
    if (1..=2046).contains(&e) {
        // 1.f * 2^(e-1023) is exact in this range: the same as CAF's loop.
        return f64::from_bits(i);
    }
    unpack754_loop(i)
}

fn unpack754_loop(i: u64) -> f64 {
    let mut result = (i & ((1u64 << 52) - 1)) as f64;
    result /= (1u64 << 52) as f64;
    result += 1.0;
    let mut shift = (((i as i64) >> 52) & 0x7ff) - 1023;
    while shift > 0 {
        result *= 2.0;
        shift -= 1;
    }
    while shift < 0 {
        result /= 2.0;
        shift += 1;
    }
    if (i >> 63) & 1 == 1 {
        -result
    } else {
        result
    }
}

// ---------------------------------------------------------------------------------------
// Encoding

/// Appends the binary encoding of `v` (tag byte and payload) to `out`.
///
/// Broker's varbyte is 32 bits wide: a string or container longer than u32::MAX cannot
/// be represented. `encode` writes such a length truncated to 32 bits, as Broker does
/// (the bytes are then unreadable); use `try_encode` where sizes are not under control.
pub fn encode(v: &Value, out: &mut Vec<u8>) {
    encode_impl(v, out, false).unwrap_or(())
}

/// Like `encode`, but refuses (with `InvalidArgument`) a length above u32::MAX instead of
/// truncating it. On error, `out` may hold a partial encoding.
pub fn try_encode(v: &Value, out: &mut Vec<u8>) -> Result<()> {
    encode_impl(v, out, true)
}

/// The binary encoding of `v` as a new buffer.
pub fn encode_to_vec(v: &Value) -> Vec<u8> {
    let mut out = Vec::with_capacity(64);
    encode(v, &mut out);
    out
}

fn put_len(len: usize, out: &mut Vec<u8>, strict: bool) -> Result<()> {
    if strict {
        write_len(len, out)
    } else {
        write_varbyte(len as u32, out);
        Ok(())
    }
}

/// Containers being written by `encode_impl` (a heap stack instead of recursion, so deep
/// values cost no thread stack).
enum Walk<'v> {
    Seq(std::slice::Iter<'v, Value>),
    Set(std::collections::btree_set::Iter<'v, Value>),
    Table(
        std::collections::btree_map::Iter<'v, Value, Value>,
        Option<&'v Value>,
    ),
}

fn encode_impl(v: &Value, out: &mut Vec<u8>, strict: bool) -> Result<()> {
    let mut stack: Vec<Walk<'_>> = Vec::new();
    let mut next = Some(v);
    loop {
        if let Some(v) = next.take() {
            if let Some(w) = encode_head(v, out, strict)? {
                stack.push(w);
            }
        }
        let Some(top) = stack.last_mut() else {
            return Ok(());
        };
        next = match top {
            Walk::Seq(it) => it.next(),
            Walk::Set(it) => it.next(),
            Walk::Table(it, pending) => match pending.take() {
                Some(x) => Some(x),
                None => it.next().map(|(k, x)| {
                    *pending = Some(x);
                    k
                }),
            },
        };
        if next.is_none() {
            stack.pop();
        }
    }
}

/// Writes a scalar completely, or a container's tag and length (its elements follow).
fn encode_head<'v>(v: &'v Value, out: &mut Vec<u8>, strict: bool) -> Result<Option<Walk<'v>>> {
    out.push(v.tag());
    match v {
        Value::None => {}
        Value::Bool(b) => out.push(u8::from(*b)),
        Value::Count(c) => out.extend_from_slice(&c.to_be_bytes()),
        Value::Integer(i) => out.extend_from_slice(&i.to_be_bytes()),
        Value::Real(r) => out.extend_from_slice(&pack754(*r).to_be_bytes()),
        Value::String(s) => {
            put_len(s.len(), out, strict)?;
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
            put_len(e.len(), out, strict)?;
            out.extend_from_slice(e.as_bytes());
        }
        Value::Set(s) => {
            put_len(s.len(), out, strict)?;
            return Ok(Some(Walk::Set(s.iter())));
        }
        Value::Table(t) => {
            put_len(t.len(), out, strict)?;
            return Ok(Some(Walk::Table(t.iter(), None)));
        }
        Value::Vector(xs) => {
            put_len(xs.len(), out, strict)?;
            return Ok(Some(Walk::Seq(xs.iter())));
        }
    }
    Ok(None)
}

/// Appends a varbyte length; refuses lengths that do not fit Broker's 32-bit varbyte.
pub fn write_len(len: usize, out: &mut Vec<u8>) -> Result<()> {
    let n = u32::try_from(len)
        .map_err(|_| Error::invalid(format!("length {len} exceeds Broker's 32-bit limit")))?;
    write_varbyte(n, out);
    Ok(())
}

/// Appends varbyte length + bytes (Broker's string encoding).
pub fn write_bytes(bytes: &[u8], out: &mut Vec<u8>) -> Result<()> {
    write_len(bytes.len(), out)?;
    out.extend_from_slice(bytes);
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Decoding

/// Decodes exactly one value that must fill all of `input`, with default limits.
pub fn decode(input: &[u8]) -> Result<Value> {
    decode_with(input, &Limits::default())
}

/// Decodes exactly one value that must fill all of `input`.
pub fn decode_with(input: &[u8], limits: &Limits) -> Result<Value> {
    let (v, used) = decode_prefix_with(input, limits)?;
    if used != input.len() {
        return Err(Error::decode(format!(
            "{} trailing byte(s) after the value at offset {used}",
            input.len() - used
        )));
    }
    Ok(v)
}

/// Decodes one value from the front of `input`; returns it and the bytes it used.
pub fn decode_prefix(input: &[u8]) -> Result<(Value, usize)> {
    decode_prefix_with(input, &Limits::default())
}

pub fn decode_prefix_with(input: &[u8], limits: &Limits) -> Result<(Value, usize)> {
    let mut d = Decoder {
        input,
        pos: 0,
        limits: *limits,
        values: 0,
    };
    let v = d.value(0)?;
    Ok((v, d.pos))
}

/// Checks that `input` holds exactly one well-formed value, with default limits, exactly
/// as `decode` would (same errors), without building it: scalars, strings and vectors are
/// walked in place; only sets and tables are built, since their duplicate check needs the
/// elements. This is what the endpoint runs on every incoming data message.
pub fn validate(input: &[u8]) -> Result<()> {
    if well_formed_fast(input) {
        return Ok(());
    }
    let mut d = Decoder {
        input,
        pos: 0,
        limits: Limits::default(),
        values: 0,
    };
    d.skip(0)?;
    if d.pos != input.len() {
        return Err(Error::decode(format!(
            "{} trailing byte(s) after the value at offset {}",
            input.len() - d.pos,
            d.pos
        )));
    }
    Ok(())
}

/// The common case of `validate` in one flat loop: true only if `input` is exactly one
/// well-formed value under the default limits. It bails out (false) on anything it does
/// not handle itself (sets, tables, long varbytes, any error), and `validate` then runs
/// the full walk, which produces the precise error or accepts.
fn well_formed_fast(input: &[u8]) -> bool {
    let limits = Limits::default();
    // Every value takes at least its tag byte, so the value limit cannot be reached.
    if input.len() > limits.max_values {
        return false;
    }
    // Elements still to read in each enclosing vector; `depth` vectors are open. Counts
    // here are one-byte varbytes (< 128) and nesting deeper than 16 goes the slow way,
    // so this stays a few bytes to clear (a 64-entry array cost a memset per message).
    let mut open = [0u8; 16];
    let mut depth = 0usize;
    // Values still to read at the current level (the top level holds one).
    let mut left = 1usize;
    let mut pos = 0usize;
    let n = input.len();
    // A one-byte varbyte, or None (longer ones go the slow way).
    let short_len = |pos: usize| -> Option<usize> {
        match input.get(pos) {
            Some(&b) if b < 0x80 => Some(b as usize),
            _ => None,
        }
    };
    loop {
        while left == 0 {
            if depth == 0 {
                return pos == n;
            }
            depth -= 1;
            left = usize::from(open[depth]);
        }
        left -= 1;
        let Some(&tag) = input.get(pos) else {
            return false;
        };
        pos += 1;
        let need = match tag {
            0 => 0,
            1 => 1,
            2 | 3 | 4 | 9 | 10 => 8,
            6 => 16,
            7 => {
                if pos + 17 > n || input[pos + 16] > 128 {
                    return false;
                }
                17
            }
            8 => {
                if pos + 3 > n || input[pos + 2] > 3 {
                    return false;
                }
                3
            }
            5 | 11 => {
                let Some(len) = short_len(pos) else {
                    return false;
                };
                pos += 1;
                if pos + len > n {
                    return false;
                }
                if tag == 11 && std::str::from_utf8(&input[pos..pos + len]).is_err() {
                    return false;
                }
                len
            }
            14 => {
                if depth >= limits.max_depth.min(open.len()) {
                    return false;
                }
                let Some(count) = short_len(pos) else {
                    return false;
                };
                pos += 1;
                if count > n - pos {
                    return false;
                }
                // `left` came from a one-byte count (or is the top level's 0 here).
                open[depth] = left as u8;
                depth += 1;
                left = count;
                0
            }
            _ => return false,
        };
        if pos + need > n {
            return false;
        }
        pos += need;
    }
}

struct Decoder<'a> {
    input: &'a [u8],
    pos: usize,
    limits: Limits,
    values: usize,
}

const TAG_NAMES: [&str; 15] = super::value::TYPE_NAMES;

impl<'a> Decoder<'a> {
    fn remaining(&self) -> usize {
        self.input.len() - self.pos
    }

    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8]> {
        if self.remaining() < n {
            return Err(Error::decode(format!(
                "truncated {what} at offset {}: need {n} byte(s), {} left",
                self.pos,
                self.remaining()
            )));
        }
        let s = &self.input[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    fn array<const N: usize>(&mut self, what: &str) -> Result<[u8; N]> {
        let s = self.take(N, what)?;
        let mut a = [0u8; N];
        a.copy_from_slice(s);
        Ok(a)
    }

    fn varbyte(&mut self, what: &str, suffix: &str) -> Result<usize> {
        let at = self.pos;
        let (v, n) = read_varbyte(&self.input[self.pos..])
            .map_err(|e| Error::decode(format!("{what}{suffix} at offset {at}: {}", e.message)))?;
        self.pos += n;
        Ok(v as usize)
    }

    fn bytes(&mut self, what: &str) -> Result<&'a [u8]> {
        let len = self.varbyte(what, " length")?;
        self.take(len, what)
    }

    /// A container's element count, checked against what the remaining input could
    /// hold (each element takes at least `min_bytes`), so no huge reservation happens.
    fn count(&mut self, what: &str, min_bytes: usize) -> Result<usize> {
        let at = self.pos;
        let n = self.varbyte(what, " size")?;
        if n.saturating_mul(min_bytes) > self.remaining() {
            return Err(Error::decode(format!(
                "{what} at offset {at} announces {n} element(s) but only {} byte(s) follow",
                self.remaining()
            )));
        }
        Ok(n)
    }

    fn count_value(&mut self) -> Result<()> {
        self.values += 1;
        if self.values > self.limits.max_values {
            return Err(Error::decode(format!(
                "more than {} values (the size limit)",
                self.limits.max_values
            )));
        }
        Ok(())
    }

    fn too_deep(&self, tag: u8, at: usize) -> Error {
        Error::decode(format!(
            "{} at offset {at}: nesting deeper than {} (the depth limit)",
            TAG_NAMES[tag as usize], self.limits.max_depth
        ))
    }

    /// Reads one value's head: a complete scalar, or an opened container (its count read)
    /// when `depth` containers enclose it.
    fn head(&mut self, depth: usize) -> Result<Head> {
        self.count_value()?;
        let at = self.pos;
        let [tag] = self.array::<1>("type tag")?;
        let v = match tag {
            0 => Value::None,
            1 => Value::Bool(self.array::<1>("boolean")?[0] != 0),
            2 => Value::Count(u64::from_be_bytes(self.array("count")?)),
            3 => Value::Integer(i64::from_be_bytes(self.array("integer")?)),
            4 => Value::Real(unpack754(u64::from_be_bytes(self.array("real")?))),
            5 => Value::String(self.bytes("string")?.to_vec()),
            6 => Value::Address(Address(self.array("address")?)),
            7 => {
                let network = Address(self.array("subnet address")?);
                let [length] = self.array::<1>("subnet length")?;
                if length > 128 {
                    return Err(Error::decode(format!(
                        "subnet at offset {at}: prefix length {length} exceeds 128"
                    )));
                }
                // Kept as sent (Broker does not mask on decode either), so the bytes
                // re-encode identically.
                Value::Subnet(Subnet { network, length })
            }
            8 => {
                let number = u16::from_be_bytes(self.array("port number")?);
                let [p] = self.array::<1>("port protocol")?;
                let protocol = Protocol::from_u8(p).ok_or_else(|| {
                    Error::decode(format!(
                        "port at offset {at}: unknown protocol number {p} (0..=3)"
                    ))
                })?;
                Value::Port(Port { number, protocol })
            }
            9 => Value::Timestamp(i64::from_be_bytes(self.array("timestamp")?)),
            10 => Value::Timespan(i64::from_be_bytes(self.array("timespan")?)),
            11 => {
                let b = self.bytes("enum name")?;
                let name = std::str::from_utf8(b).map_err(|e| {
                    Error::decode(format!(
                        "enum value at offset {at}: name is not UTF-8 (invalid byte at {})",
                        e.valid_up_to()
                    ))
                })?;
                Value::Enum(name.to_string())
            }
            12..=14 => {
                if depth >= self.limits.max_depth {
                    return Err(self.too_deep(tag, at));
                }
                let (what, min) = match tag {
                    12 => ("set", 1),
                    13 => ("table", 2),
                    _ => ("vector", 1),
                };
                let n = self.count(what, min)?;
                let cap = n.min(4096);
                return Ok(Head::Open(Open {
                    tag,
                    at,
                    left: if tag == 13 { 2 * n } else { n },
                    xs: Vec::with_capacity(if tag == 13 { 0 } else { cap }),
                    kvs: Vec::with_capacity(if tag == 13 { cap } else { 0 }),
                    key: None,
                    sorted: true,
                }));
            }
            t => {
                return Err(Error::decode(format!(
                    "unknown type tag {t} at offset {at}"
                )));
            }
        };
        Ok(Head::Done(v))
    }

    /// Decodes one value enclosed by `depth` containers. Nesting is walked with a stack
    /// on the heap, not by recursion: the depth limit costs memory, never thread stack.
    fn value(&mut self, depth: usize) -> Result<Value> {
        let mut stack: Vec<Open> = Vec::new();
        loop {
            let mut v = match self.head(depth + stack.len())? {
                Head::Done(v) => v,
                Head::Open(o) if o.left > 0 => {
                    stack.push(o);
                    continue;
                }
                Head::Open(o) => o.finish()?,
            };
            // Hand the finished value to its container; finish those that fill up.
            loop {
                let Some(top) = stack.last_mut() else {
                    return Ok(v);
                };
                top.push(v);
                if top.left > 0 {
                    break;
                }
                let done = stack.pop().expect("checked above");
                v = done.finish()?;
            }
        }
    }

    /// `value` without the result: the same checks, the same errors, no allocation except
    /// for sets and tables (see `validate`). Iterative too: open vectors are counts on a
    /// heap stack.
    fn skip(&mut self, depth: usize) -> Result<()> {
        // Elements still to read in each open vector.
        let mut open: Vec<usize> = Vec::new();
        loop {
            let at = self.pos;
            let d = depth + open.len();
            match self.input.get(at) {
                Some(5) => {
                    self.count_value()?;
                    self.pos += 1;
                    self.bytes("string")?;
                }
                Some(11) => {
                    self.count_value()?;
                    self.pos += 1;
                    let b = self.bytes("enum name")?;
                    if let Err(e) = std::str::from_utf8(b) {
                        return Err(Error::decode(format!(
                            "enum value at offset {at}: name is not UTF-8 (invalid byte at {})",
                            e.valid_up_to()
                        )));
                    }
                }
                Some(14) => {
                    self.count_value()?;
                    if d >= self.limits.max_depth {
                        return Err(self.too_deep(14, at));
                    }
                    self.pos += 1;
                    let n = self.count("vector", 1)?;
                    if n > 0 {
                        open.push(n);
                        continue;
                    }
                }
                // Scalars, sets and tables (duplicates need the elements), unknown tags
                // (the error): as `value`.
                _ => {
                    self.value(d)?;
                }
            }
            // One value done at this level: count it off its vector, closing full ones.
            loop {
                let Some(left) = open.last_mut() else {
                    return Ok(());
                };
                *left -= 1;
                if *left > 0 {
                    break;
                }
                open.pop();
            }
        }
    }
}

/// What `Decoder::head` read.
enum Head {
    Done(Value),
    Open(Open),
}

/// A container being decoded (on `Decoder::value`'s heap stack).
struct Open {
    tag: u8,
    /// Offset of its tag (for errors).
    at: usize,
    /// Values still to read (a table's keys and values count separately).
    left: usize,
    xs: Vec<Value>,
    kvs: Vec<(Value, Value)>,
    /// A table's key waiting for its value.
    key: Option<Value>,
    /// Elements (keys) arrived strictly increasing so far.
    sorted: bool,
}

impl Open {
    fn push(&mut self, v: Value) {
        self.left -= 1;
        match self.tag {
            12 => {
                if self.sorted && self.xs.last().is_some_and(|last| *last >= v) {
                    self.sorted = false;
                }
                self.xs.push(v);
            }
            13 => match self.key.take() {
                None => self.key = Some(v),
                Some(k) => {
                    if self.sorted && self.kvs.last().is_some_and(|(last, _)| *last >= k) {
                        self.sorted = false;
                    }
                    self.kvs.push((k, v));
                }
            },
            _ => self.xs.push(v),
        }
    }

    fn finish(self) -> Result<Value> {
        let at = self.at;
        match self.tag {
            12 => {
                // Broker writes sets sorted: build the tree in bulk when the elements
                // arrived strictly increasing (the common case); otherwise insert one by
                // one, refusing duplicates as Broker does.
                if self.sorted {
                    return Ok(Value::Set(self.xs.into_iter().collect()));
                }
                let mut s = BTreeSet::new();
                for (i, x) in self.xs.into_iter().enumerate() {
                    if !s.insert(x) {
                        return Err(Error::decode(format!(
                            "set at offset {at}: element {i} is a duplicate"
                        )));
                    }
                }
                Ok(Value::Set(s))
            }
            13 => {
                if self.sorted {
                    return Ok(Value::Table(self.kvs.into_iter().collect()));
                }
                let mut t = BTreeMap::new();
                for (i, (k, x)) in self.kvs.into_iter().enumerate() {
                    if t.insert(k, x).is_some() {
                        return Err(Error::decode(format!(
                            "table at offset {at}: key {i} is a duplicate"
                        )));
                    }
                }
                Ok(Value::Table(t))
            }
            _ => Ok(Value::Vector(self.xs)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unhex(s: &str) -> Vec<u8> {
        (0..s.len() / 2)
            .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap())
            .collect()
    }

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    fn golden_path(name: &str) -> std::path::PathBuf {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../shared/golden")
            .join(name)
    }

    fn golden_rows() -> Vec<(String, String, String, Vec<u8>)> {
        let path = golden_path("values.tsv");
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
            panic!(
                "{}: {e} (shared/golden must sit beside the repo)",
                path.display()
            )
        });
        text.lines()
            .skip(1)
            .filter(|l| !l.trim().is_empty())
            .map(|l| {
                let f: Vec<&str> = l.split('\t').collect();
                assert_eq!(f.len(), 4, "bad golden line {l}");
                (
                    f[0].to_string(),
                    f[1].to_string(),
                    f[2].to_string(),
                    unhex(f[3]),
                )
            })
            .collect()
    }

    fn a(s: &str) -> Value {
        Value::Address(s.parse().unwrap())
    }

    /// The golden values, built independently from their names and literals.
    fn expected(name: &str) -> Value {
        use Value::*;
        let s = |x: &str| Value::from(x);
        let set = |xs: Vec<Value>| Set(xs.into_iter().collect());
        let table = |xs: Vec<(Value, Value)>| Table(xs.into_iter().collect());
        match name {
            "none" => None,
            "bool_true" => Bool(true),
            "bool_false" => Bool(false),
            "count_zero" => Count(0),
            "count_max" => Count(u64::MAX),
            "int_neg7" => Integer(-7),
            "int_min" => Integer(i64::MIN),
            "int_max" => Integer(i64::MAX),
            "real_1_5" => Real(1.5),
            "real_neg_7_25" => Real(-7.25),
            "real_neg_zero" => Real(-0.0),
            "real_1e308" => Real(1e308),
            "real_pos_inf" => Real(f64::INFINITY),
            "real_neg_inf" => Real(f64::NEG_INFINITY),
            "string_empty" => s(""),
            "string_utf8" => s("ünïcode ✓"),
            "string_non_utf8" => String(vec![0xff, 0xfe, 0x00, b'A', 0x80]),
            "string_200" => s(&"x".repeat(200)),
            "addr_v4" => a("10.1.2.3"),
            "addr_v6" => a("2001:db8::1"),
            "subnet_v4_0" => Subnet("0.0.0.0/0".parse().unwrap()),
            "subnet_v4_24" => Subnet("192.168.99.0/24".parse().unwrap()),
            "subnet_v4_32" => Subnet("10.0.0.1/32".parse().unwrap()),
            "subnet_v6_0" => Subnet("::/0".parse().unwrap()),
            "subnet_v6_128" => Subnet("2001:db8::1/128".parse().unwrap()),
            "port_tcp" => Port("443/tcp".parse().unwrap()),
            "port_udp" => Port("53/udp".parse().unwrap()),
            "port_icmp" => Port("8/icmp".parse().unwrap()),
            "port_unknown" => Port("0/?".parse().unwrap()),
            "timestamp" => Timestamp(1_649_574_000_000_000_000),
            "timestamp_ns" => Timestamp(1_649_574_000_123_456_789),
            "timestamp_before_epoch" => Timestamp(-1),
            "timespan_1_5s" => Timespan(1_500_000_000),
            "timespan_neg" => Timespan(-250_000_000),
            "timespan_zero" => Timespan(0),
            "enum" => Enum("Cluster::WORKER".into()),
            "set_ints" => set(vec![Integer(1), Integer(2), Integer(3)]),
            "set_mixed" => set(vec![
                Bool(false),
                Count(5),
                Integer(-1),
                a("10.0.0.1"),
                s("b"),
            ]),
            "set_strings" => set(vec![s(""), s("a"), s("zz"), s("ab")]),
            "set_empty" => set(vec![]),
            "table_str_count" => table(vec![(s("b"), Count(2)), (s("a"), Count(1))]),
            "table_mixed_keys" => table(vec![
                (a("10.0.0.1"), s("addr")),
                (s("z"), None),
                (Integer(7), Port("22/tcp".parse().unwrap())),
            ]),
            "table_empty" => table(vec![]),
            "table_multi_index" => table(vec![
                (Vector(vec![Count(2), s("b")]), Bool(true)),
                (Vector(vec![Count(1), s("z")]), Bool(false)),
            ]),
            "set_of_vectors" => set(vec![
                Vector(vec![s("a"), Integer(1)]),
                Vector(vec![s("a"), Integer(2)]),
                Vector(vec![s("b"), Integer(1)]),
            ]),
            "vector_nested" => Vector(vec![
                Integer(1),
                s("two"),
                Vector(vec![Real(3.0), Vector(vec![])]),
                Vector(vec![Enum("A::B".into())]),
            ]),
            "vector_empty" => Vector(vec![]),
            other => panic!("golden value {other} has no expectation here"),
        }
    }

    #[test]
    fn golden_values_match_broker_byte_for_byte() {
        let rows = golden_rows();
        assert_eq!(rows.len(), 47, "values.tsv should hold 47 values");
        for (name, ty, _lit, bytes) in rows {
            let want = expected(&name);
            assert_eq!(want.type_name(), ty, "{name}: type name");
            let enc = encode_to_vec(&want);
            assert_eq!(
                hex(&enc),
                hex(&bytes),
                "{name}: our encoding differs from Broker's"
            );
            let dec = decode(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(dec, want, "{name}: decoded value");
            assert_eq!(encode_to_vec(&dec), bytes, "{name}: decode/encode identity");
            if let (Value::Real(x), Value::Real(y)) = (&dec, &want) {
                assert_eq!(x.to_bits(), y.to_bits(), "{name}: real bits");
            }
        }
    }

    #[test]
    fn pack754_fast_path_equals_cafs_loop() {
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        for _ in 0..200_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let f = f64::from_bits(x);
            if f.is_normal() {
                assert_eq!(pack754_loop(f), f.to_bits(), "{f:e}");
                assert_eq!(unpack754_loop(x).to_bits(), f.to_bits(), "{f:e}");
            }
        }
    }

    #[test]
    fn subnormals_follow_caf() {
        assert_eq!(pack754(5e-324), 0xfcd0_0000_0000_0000);
        let back = unpack754(0xfcd0_0000_0000_0000);
        assert!(back < -1.5e293 && back > -1.7e293, "{back:e}");
        assert_eq!(pack754(f64::NAN), u64::MAX);
        assert!(unpack754(u64::MAX).is_nan());
        assert_eq!(pack754(-0.0), 0x8000_0000_0000_0000);
    }

    #[test]
    fn varbytes() {
        for v in [0u32, 1, 127, 128, 200, 16_383, 16_384, u32::MAX] {
            let mut b = Vec::new();
            write_varbyte(v, &mut b);
            assert_eq!(read_varbyte(&b).unwrap(), (v, b.len()));
        }
        let mut b = Vec::new();
        write_varbyte(200, &mut b);
        assert_eq!(b, [0xc8, 0x01]);
        assert!(read_varbyte(&[0x80, 0x80])
            .unwrap_err()
            .message
            .contains("truncated"));
        assert!(read_varbyte(&[0xff, 0xff, 0xff, 0xff, 0x7f])
            .unwrap_err()
            .message
            .contains("32 bits"));
        assert!(read_varbyte(&[0x80; 6])
            .unwrap_err()
            .message
            .contains("longer than 5"));
    }

    #[test]
    fn bad_input_gives_precise_errors() {
        let e = decode(&[]).unwrap_err();
        assert!(e.message.contains("truncated type tag at offset 0"), "{e}");
        let e = decode(&[2, 0, 0]).unwrap_err();
        assert!(e.message.contains("truncated count at offset 1"), "{e}");
        let e = decode(&[0x0f]).unwrap_err();
        assert!(e.message.contains("unknown type tag 15"), "{e}");
        let e = decode(&[0, 0]).unwrap_err();
        assert!(e.message.contains("trailing"), "{e}");
        let e = decode(&[8, 0, 1, 4]).unwrap_err();
        assert!(e.message.contains("protocol number 4"), "{e}");
        let e = decode(&[0x0e, 0xff, 0xff, 0xff, 0xff, 0x0f]).unwrap_err();
        assert!(e.message.contains("announces 4294967295"), "{e}");
        let e = decode(&[0x0c, 2, 0, 0]).unwrap_err();
        assert!(e.message.contains("duplicate"), "{e}");
        let e = decode(&[0x05, 5, b'a']).unwrap_err();
        assert!(e.message.contains("truncated string"), "{e}");
        // Deep nesting: a million nested vectors fail at the limit, no stack overflow.
        let mut deep = Vec::new();
        for _ in 0..1_000_000 {
            deep.extend_from_slice(&[0x0e, 1]);
        }
        deep.push(0);
        let e = decode(&deep).unwrap_err();
        assert!(e.message.contains("depth limit"), "{e}");
        let lim = Limits {
            max_depth: 64,
            max_values: 3,
        };
        let e = decode_with(&[0x0e, 3, 0, 0, 0], &lim).unwrap_err();
        assert!(e.message.contains("size limit"), "{e}");
        // Exactly at the depth limit is fine, and re-encodes to the same bytes (encoding
        // is iterative too); one more level is refused by decode and validate alike.
        let mut ok = Vec::new();
        for _ in 0..DEFAULT_MAX_DEPTH {
            ok.extend_from_slice(&[0x0e, 1]);
        }
        ok.push(0);
        let v = decode(&ok).unwrap();
        assert_eq!(encode_to_vec(&v), ok);
        validate(&ok).unwrap();
        let mut over = vec![0x0e, 1];
        over.extend_from_slice(&ok);
        assert!(decode(&over)
            .unwrap_err()
            .message
            .contains("nesting deeper than 4096"));
        assert!(validate(&over)
            .unwrap_err()
            .message
            .contains("nesting deeper than 4096"));
        // A set and a table at the limit (their elements are built, not walked).
        let mut st = vec![0x0c, 1];
        st.extend_from_slice(&ok[2..]);
        decode(&st).unwrap();
        validate(&st).unwrap();
        let mut tb = vec![0x0d, 1, 0];
        tb.extend_from_slice(&ok[2..]);
        decode(&tb).unwrap();
    }

    #[test]
    fn fast_validation_never_accepts_what_decode_refuses() {
        let mut inputs: Vec<Vec<u8>> = golden_rows().into_iter().map(|r| r.3).collect();
        for b in inputs.clone() {
            for cut in 0..b.len() {
                inputs.push(b[..cut].to_vec());
            }
            for i in 0..b.len() {
                for x in [0u8, 1, 0x0b, 0x0e, 0x7f, 0x80, 0xff] {
                    let mut c = b.clone();
                    c[i] = x;
                    inputs.push(c);
                }
            }
        }
        let mut accepted = 0;
        for b in &inputs {
            if well_formed_fast(b) {
                accepted += 1;
                assert!(decode(b).is_ok(), "fast path accepted {}", hex(b));
            }
        }
        // The fast path does handle the common values (strings, counts, vectors, ...).
        assert!(accepted > 20, "only {accepted} inputs took the fast path");
        // An event as Zeek sends it takes the fast path.
        let ev = crate::data::Event::with_args(
            "Demo::ping",
            vec![Value::String(b"hello".to_vec()), Value::Count(7)],
        );
        assert!(well_formed_fast(&ev.to_bytes()));
        // Nesting up to the fast path's own limit takes it; deeper goes the slow way.
        let max = DEFAULT_MAX_DEPTH;
        for levels in [1usize, 15, 16, 17, 64, 65, 400, max, max + 1] {
            let deep: Vec<u8> = std::iter::repeat_n([14u8, 1], levels)
                .flatten()
                .chain([0])
                .collect();
            assert!(decode(&deep).is_ok() == (levels <= max), "{levels}");
            assert_eq!(well_formed_fast(&deep), levels <= 16, "{levels}");
            assert_eq!(validate(&deep).is_ok(), levels <= max, "{levels}");
        }
        // Vectors of 2..127 elements nested inside each other keep their counts.
        let v = Value::Vector(vec![
            Value::Vector(vec![Value::Count(1); 127]),
            Value::Vector(vec![Value::None; 3]),
            Value::Count(2),
        ]);
        let mut b = Vec::new();
        encode(&v, &mut b);
        assert!(well_formed_fast(&b));
        let mut t = b.clone();
        t.push(0);
        assert!(!well_formed_fast(&t));
    }

    #[test]
    fn validate_agrees_with_decode() {
        let mut inputs: Vec<Vec<u8>> = golden_rows().into_iter().map(|r| r.3).collect();
        // Every truncation and a few corruptions of each golden value, plus trailing bytes.
        for b in inputs.clone() {
            for cut in 0..b.len() {
                inputs.push(b[..cut].to_vec());
            }
            let mut t = b.clone();
            t.push(0);
            inputs.push(t);
            for i in 0..b.len() {
                for x in [0u8, 0x0b, 0x0e, 0xff] {
                    let mut c = b.clone();
                    c[i] = x;
                    inputs.push(c);
                }
            }
        }
        // Nesting beyond the depth limit.
        let deep: Vec<u8> = std::iter::repeat_n([14u8, 1], DEFAULT_MAX_DEPTH + 1)
            .flatten()
            .chain([0])
            .collect();
        inputs.push(deep);
        for b in &inputs {
            match (decode(b), validate(b)) {
                (Ok(_), Ok(())) => {}
                (Err(e), Err(f)) => assert_eq!(e.message, f.message, "input {}", hex(b)),
                (d, v) => panic!("decode {d:?} but validate {v:?} for {}", hex(b)),
            }
        }
    }

    #[test]
    fn decode_prefix_reports_length() {
        let (v, n) = decode_prefix(&[0x01, 0x01, 0xaa, 0xbb]).unwrap();
        assert_eq!(v, Value::Bool(true));
        assert_eq!(n, 2);
    }

    #[test]
    fn unsorted_sets_are_canonicalised() {
        // set {3, 1} as sent out of order decodes and re-encodes sorted.
        let mut b = vec![0x0c, 2];
        encode(&Value::Integer(3), &mut b);
        encode(&Value::Integer(1), &mut b);
        let v = decode(&b).unwrap();
        let re = encode_to_vec(&v);
        assert_eq!(re[2..11], encode_to_vec(&Value::Integer(1))[..]);
    }
}
