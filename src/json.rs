//! A small, strict JSON reader and writer of our own (RFC 8259), used by the layout's JSON
//! form and by Broker's WebSocket JSON encoding.
//!
//! - Numbers keep their text (`JsonNumber`), so u64::MAX, i64::MIN and Broker's `%f`
//!   reals survive exactly; `as_u64`/`as_i64`/`as_f64` interpret them on demand.
//! - Objects keep their members in document order (Broker's messages have a fixed key
//!   order); duplicate keys are refused.
//! - The parser is bounded (`ParseLimits`: nesting depth and input size) and reports
//!   errors as `line:column: what was expected`; it never panics.

use crate::error::{Error, Result};
use std::fmt::Write as _;

/// A JSON number, kept as its (validated) text.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct JsonNumber(String);

impl JsonNumber {
    /// A number from text; the text must be an RFC 8259 number.
    pub fn from_text(text: &str) -> Result<JsonNumber> {
        if is_json_number(text) {
            Ok(JsonNumber(text.to_string()))
        } else {
            Err(Error::invalid(format!("\"{text}\" is not a JSON number")))
        }
    }

    /// The shortest text that reads back as `f` (None for NaN and infinities, which
    /// JSON cannot represent). Integral values keep a `.0` so they stay reals.
    pub fn from_f64(f: f64) -> Option<JsonNumber> {
        if !f.is_finite() {
            return None;
        }
        let mut s = format!("{f:?}");
        if !s.contains(['.', 'e', 'E']) {
            s.push_str(".0");
        }
        // Rust's Debug form ("1e-7", "1e300") is valid JSON number syntax.
        Some(JsonNumber(s))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether the text is an integer (no fraction, no exponent).
    pub fn is_integer(&self) -> bool {
        !self.0.contains(['.', 'e', 'E'])
    }

    pub fn as_u64(&self) -> Option<u64> {
        if self.is_integer() {
            self.0.parse().ok()
        } else {
            None
        }
    }

    pub fn as_i64(&self) -> Option<i64> {
        if self.is_integer() {
            self.0.parse().ok()
        } else {
            None
        }
    }

    /// The number as a double (integers too); None only if it overflows to infinity.
    pub fn as_f64(&self) -> Option<f64> {
        self.0.parse::<f64>().ok().filter(|f| f.is_finite())
    }
}

impl From<u64> for JsonNumber {
    fn from(n: u64) -> Self {
        JsonNumber(n.to_string())
    }
}
impl From<i64> for JsonNumber {
    fn from(n: i64) -> Self {
        JsonNumber(n.to_string())
    }
}
impl From<u32> for JsonNumber {
    fn from(n: u32) -> Self {
        JsonNumber(n.to_string())
    }
}
impl From<i32> for JsonNumber {
    fn from(n: i32) -> Self {
        JsonNumber(n.to_string())
    }
}

fn is_json_number(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    if b.get(i) == Some(&b'-') {
        i += 1;
    }
    match b.get(i) {
        Some(b'0') => i += 1,
        Some(b'1'..=b'9') => {
            while matches!(b.get(i), Some(b'0'..=b'9')) {
                i += 1;
            }
        }
        _ => return false,
    }
    if b.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while matches!(b.get(i), Some(b'0'..=b'9')) {
            i += 1;
        }
        if i == start {
            return false;
        }
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        let start = i;
        while matches!(b.get(i), Some(b'0'..=b'9')) {
            i += 1;
        }
        if i == start {
            return false;
        }
    }
    i == b.len()
}

/// A JSON value.
#[derive(Debug, Clone, PartialEq)]
pub enum JsonValue {
    Null,
    Bool(bool),
    Number(JsonNumber),
    String(String),
    Array(Vec<JsonValue>),
    /// Members in document order; keys are unique.
    Object(Vec<(String, JsonValue)>),
}

impl JsonValue {
    /// The member `key` of an object (None for other values or a missing key).
    pub fn get(&self, key: &str) -> Option<&JsonValue> {
        match self {
            JsonValue::Object(m) => m.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            JsonValue::String(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_bool(&self) -> Option<bool> {
        match self {
            JsonValue::Bool(b) => Some(*b),
            _ => None,
        }
    }

    pub fn as_number(&self) -> Option<&JsonNumber> {
        match self {
            JsonValue::Number(n) => Some(n),
            _ => None,
        }
    }

    pub fn as_u64(&self) -> Option<u64> {
        self.as_number().and_then(JsonNumber::as_u64)
    }

    pub fn as_i64(&self) -> Option<i64> {
        self.as_number().and_then(JsonNumber::as_i64)
    }

    pub fn as_f64(&self) -> Option<f64> {
        self.as_number().and_then(JsonNumber::as_f64)
    }

    pub fn as_array(&self) -> Option<&[JsonValue]> {
        match self {
            JsonValue::Array(a) => Some(a),
            _ => None,
        }
    }

    pub fn as_object(&self) -> Option<&[(String, JsonValue)]> {
        match self {
            JsonValue::Object(m) => Some(m),
            _ => None,
        }
    }

    /// A short name of the value's kind, for error messages.
    pub fn kind(&self) -> &'static str {
        match self {
            JsonValue::Null => "null",
            JsonValue::Bool(_) => "a boolean",
            JsonValue::Number(_) => "a number",
            JsonValue::String(_) => "a string",
            JsonValue::Array(_) => "an array",
            JsonValue::Object(_) => "an object",
        }
    }

    /// Compact text (no whitespace), members in stored order.
    pub fn to_compact(&self) -> String {
        let mut s = String::new();
        write_value(&mut s, self, None, 0);
        s
    }

    /// Pretty text: two-space indentation, one member or element per line.
    pub fn to_pretty(&self) -> String {
        let mut s = String::new();
        write_value(&mut s, self, Some(2), 0);
        s
    }

    pub fn object(members: Vec<(&str, JsonValue)>) -> JsonValue {
        JsonValue::Object(
            members
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect(),
        )
    }

    pub fn string(s: impl Into<String>) -> JsonValue {
        JsonValue::String(s.into())
    }
}

impl From<u64> for JsonValue {
    fn from(n: u64) -> Self {
        JsonValue::Number(n.into())
    }
}
impl From<i64> for JsonValue {
    fn from(n: i64) -> Self {
        JsonValue::Number(n.into())
    }
}
impl From<bool> for JsonValue {
    fn from(b: bool) -> Self {
        JsonValue::Bool(b)
    }
}
impl From<&str> for JsonValue {
    fn from(s: &str) -> Self {
        JsonValue::String(s.to_string())
    }
}
impl From<String> for JsonValue {
    fn from(s: String) -> Self {
        JsonValue::String(s)
    }
}

// ---------------------------------------------------------------------------------------
// Writer

/// Appends `s` as a JSON string literal: `"` and `\` escaped, the usual short escapes
/// for \b \f \n \r \t, `\u00XX` for every other control character.
pub fn write_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{08}' => out.push_str("\\b"),
            '\u{0c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// A JSON string literal for `s`.
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    write_string(&mut out, s);
    out
}

fn newline(out: &mut String, indent: Option<usize>, level: usize) {
    if let Some(n) = indent {
        out.push('\n');
        for _ in 0..n * level {
            out.push(' ');
        }
    }
}

fn write_value(out: &mut String, v: &JsonValue, indent: Option<usize>, level: usize) {
    match v {
        JsonValue::Null => out.push_str("null"),
        JsonValue::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        JsonValue::Number(n) => out.push_str(n.as_str()),
        JsonValue::String(s) => write_string(out, s),
        JsonValue::Array(a) => {
            if a.is_empty() {
                out.push_str("[]");
                return;
            }
            out.push('[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                newline(out, indent, level + 1);
                write_value(out, x, indent, level + 1);
            }
            newline(out, indent, level);
            out.push(']');
        }
        JsonValue::Object(m) => {
            if m.is_empty() {
                out.push_str("{}");
                return;
            }
            out.push('{');
            for (i, (k, x)) in m.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                newline(out, indent, level + 1);
                write_string(out, k);
                out.push(':');
                if indent.is_some() {
                    out.push(' ');
                }
                write_value(out, x, indent, level + 1);
            }
            newline(out, indent, level);
            out.push('}');
        }
    }
}

// ---------------------------------------------------------------------------------------
// Parser

/// Bounds for parsing untrusted text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParseLimits {
    /// Deepest array/object nesting accepted.
    pub max_depth: usize,
    /// Longest input accepted, in bytes.
    pub max_size: usize,
}

impl Default for ParseLimits {
    fn default() -> Self {
        ParseLimits {
            max_depth: 128,
            max_size: 64 * 1024 * 1024,
        }
    }
}

/// Parses one JSON document (surrounding whitespace allowed) with default limits.
pub fn parse(text: &str) -> Result<JsonValue> {
    parse_with(text, &ParseLimits::default())
}

/// Parses one JSON document from bytes, which must be UTF-8.
pub fn parse_bytes(bytes: &[u8]) -> Result<JsonValue> {
    match std::str::from_utf8(bytes) {
        Ok(s) => parse(s),
        Err(e) => {
            let p = Parser {
                s: bytes,
                pos: e.valid_up_to(),
                limits: ParseLimits::default(),
            };
            Err(p.err("invalid UTF-8"))
        }
    }
}

pub fn parse_with(text: &str, limits: &ParseLimits) -> Result<JsonValue> {
    if text.len() > limits.max_size {
        return Err(Error::parse(format!(
            "1:1: JSON text of {} bytes exceeds the size limit of {} bytes",
            text.len(),
            limits.max_size
        )));
    }
    let mut p = Parser {
        s: text.as_bytes(),
        pos: 0,
        limits: *limits,
    };
    p.ws();
    let v = p.value(0)?;
    p.ws();
    if p.pos < p.s.len() {
        return Err(p.err("unexpected text after the JSON value"));
    }
    Ok(v)
}

struct Parser<'a> {
    s: &'a [u8],
    pos: usize,
    limits: ParseLimits,
}

impl Parser<'_> {
    /// line:column (1-based; columns count characters) of the current position.
    fn location(&self) -> (usize, usize) {
        let upto = &self.s[..self.pos.min(self.s.len())];
        let line = upto.iter().filter(|&&b| b == b'\n').count() + 1;
        let line_start = upto.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
        let col = upto[line_start..]
            .iter()
            .filter(|&&b| b & 0xc0 != 0x80)
            .count()
            + 1;
        (line, col)
    }

    fn err(&self, what: &str) -> Error {
        let (l, c) = self.location();
        Error::parse(format!("{l}:{c}: {what}"))
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.pos).copied()
    }

    fn ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.pos += 1;
        }
    }

    fn found(&self) -> String {
        match self.peek() {
            None => "end of input".to_string(),
            Some(b) if b.is_ascii_graphic() => format!("'{}'", b as char),
            Some(b) => format!("byte 0x{b:02x}"),
        }
    }

    fn literal(&mut self, word: &str, v: JsonValue) -> Result<JsonValue> {
        if self.s[self.pos..].starts_with(word.as_bytes()) {
            self.pos += word.len();
            Ok(v)
        } else {
            Err(self.err(&format!("invalid literal: expected {word}")))
        }
    }

    fn value(&mut self, depth: usize) -> Result<JsonValue> {
        match self.peek() {
            Some(b'{') => self.object(depth + 1),
            Some(b'[') => self.array(depth + 1),
            Some(b'"') => Ok(JsonValue::String(self.string()?)),
            Some(b't') => self.literal("true", JsonValue::Bool(true)),
            Some(b'f') => self.literal("false", JsonValue::Bool(false)),
            Some(b'n') => self.literal("null", JsonValue::Null),
            Some(b'-' | b'0'..=b'9') => self.number(),
            _ => Err(self.err(&format!("expected a JSON value, found {}", self.found()))),
        }
    }

    fn check_depth(&self, depth: usize) -> Result<()> {
        if depth > self.limits.max_depth {
            Err(self.err(&format!(
                "nesting deeper than {} (the depth limit)",
                self.limits.max_depth
            )))
        } else {
            Ok(())
        }
    }

    fn array(&mut self, depth: usize) -> Result<JsonValue> {
        self.check_depth(depth)?;
        self.pos += 1;
        let mut items = Vec::new();
        self.ws();
        if self.peek() == Some(b']') {
            self.pos += 1;
            return Ok(JsonValue::Array(items));
        }
        loop {
            self.ws();
            items.push(self.value(depth)?);
            self.ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b']') => {
                    self.pos += 1;
                    return Ok(JsonValue::Array(items));
                }
                _ => {
                    return Err(self.err(&format!(
                        "expected ',' or ']' in array, found {}",
                        self.found()
                    )))
                }
            }
        }
    }

    fn object(&mut self, depth: usize) -> Result<JsonValue> {
        self.check_depth(depth)?;
        self.pos += 1;
        let mut members: Vec<(String, JsonValue)> = Vec::new();
        self.ws();
        if self.peek() == Some(b'}') {
            self.pos += 1;
            return Ok(JsonValue::Object(members));
        }
        loop {
            self.ws();
            if self.peek() != Some(b'"') {
                return Err(self.err(&format!(
                    "expected a string key in object, found {}",
                    self.found()
                )));
            }
            let key_at = self.pos;
            let key = self.string()?;
            if members.iter().any(|(k, _)| *k == key) {
                self.pos = key_at;
                return Err(self.err(&format!("duplicate key \"{key}\" in object")));
            }
            self.ws();
            if self.peek() != Some(b':') {
                return Err(self.err(&format!(
                    "expected ':' after object key, found {}",
                    self.found()
                )));
            }
            self.pos += 1;
            self.ws();
            let v = self.value(depth)?;
            members.push((key, v));
            self.ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b'}') => {
                    self.pos += 1;
                    return Ok(JsonValue::Object(members));
                }
                _ => {
                    return Err(self.err(&format!(
                        "expected ',' or '}}' in object, found {}",
                        self.found()
                    )))
                }
            }
        }
    }

    fn number(&mut self) -> Result<JsonValue> {
        let start = self.pos;
        while matches!(
            self.peek(),
            Some(b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9')
        ) {
            self.pos += 1;
        }
        // The scanned bytes are ASCII, so this slice is valid UTF-8.
        let text = std::str::from_utf8(&self.s[start..self.pos]).unwrap_or("");
        if !is_json_number(text) {
            self.pos = start;
            return Err(self.err(&format!("invalid number \"{text}\"")));
        }
        Ok(JsonValue::Number(JsonNumber(text.to_string())))
    }

    fn hex4(&mut self) -> Result<u32> {
        let mut v = 0u32;
        for _ in 0..4 {
            let d = match self.peek() {
                Some(c @ b'0'..=b'9') => c - b'0',
                Some(c @ b'a'..=b'f') => c - b'a' + 10,
                Some(c @ b'A'..=b'F') => c - b'A' + 10,
                _ => return Err(self.err("expected 4 hex digits after \\u")),
            };
            v = v * 16 + u32::from(d);
            self.pos += 1;
        }
        Ok(v)
    }

    fn string(&mut self) -> Result<String> {
        self.pos += 1; // opening quote
        let mut out: Vec<u8> = Vec::new();
        loop {
            let Some(b) = self.peek() else {
                return Err(self.err("unterminated string"));
            };
            match b {
                b'"' => {
                    self.pos += 1;
                    break;
                }
                b'\\' => {
                    self.pos += 1;
                    let Some(e) = self.peek() else {
                        return Err(self.err("unterminated escape"));
                    };
                    self.pos += 1;
                    match e {
                        b'"' => out.push(b'"'),
                        b'\\' => out.push(b'\\'),
                        b'/' => out.push(b'/'),
                        b'b' => out.push(8),
                        b'f' => out.push(12),
                        b'n' => out.push(b'\n'),
                        b'r' => out.push(b'\r'),
                        b't' => out.push(b'\t'),
                        b'u' => {
                            let hi = self.hex4()?;
                            let cp = if (0xd800..0xdc00).contains(&hi) {
                                if self.s[self.pos..].starts_with(b"\\u") {
                                    self.pos += 2;
                                    let lo = self.hex4()?;
                                    if !(0xdc00..0xe000).contains(&lo) {
                                        return Err(self.err(
                                            "high surrogate not followed by a low surrogate",
                                        ));
                                    }
                                    0x10000 + ((hi - 0xd800) << 10) + (lo - 0xdc00)
                                } else {
                                    return Err(self.err("unpaired high surrogate"));
                                }
                            } else if (0xdc00..0xe000).contains(&hi) {
                                return Err(self.err("unpaired low surrogate"));
                            } else {
                                hi
                            };
                            let c =
                                char::from_u32(cp).ok_or_else(|| self.err("invalid \\u escape"))?;
                            let mut buf = [0u8; 4];
                            out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                        }
                        _ => {
                            self.pos -= 1;
                            return Err(self.err(&format!("invalid escape \\{}", e as char)));
                        }
                    }
                }
                0..=0x1f => {
                    return Err(
                        self.err(&format!("unescaped control character 0x{b:02x} in string"))
                    );
                }
                _ => {
                    // Copy the run of plain bytes up to the next quote, escape or control.
                    let run = self.s[self.pos..]
                        .iter()
                        .position(|&c| c == b'"' || c == b'\\' || c < 0x20)
                        .unwrap_or(self.s.len() - self.pos);
                    out.extend_from_slice(&self.s[self.pos..self.pos + run]);
                    self.pos += run;
                }
            }
        }
        // The input is a &str and escapes produce whole characters, so this holds.
        String::from_utf8(out).map_err(|_| self.err("invalid UTF-8 in string"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_writes_round_trip() {
        let text = r#"{"a":[1,-2,3.5e-7,true,false,null],"b":"x\"\\\n\u00e9\ud83d\ude00","c":{}}"#;
        let v = parse(text).unwrap();
        assert_eq!(v.get("b").and_then(JsonValue::as_str), Some("x\"\\\né😀"));
        let compact = v.to_compact();
        assert_eq!(parse(&compact).unwrap(), v);
        assert_eq!(parse(&v.to_pretty()).unwrap(), v);
        assert!(v.to_pretty().contains("\n  \"a\": [\n    1,"));
    }

    #[test]
    fn big_integers_survive() {
        let v = parse("[18446744073709551615,-9223372036854775808]").unwrap();
        let a = v.as_array().unwrap();
        assert_eq!(a[0].as_u64(), Some(u64::MAX));
        assert_eq!(a[1].as_i64(), Some(i64::MIN));
        assert_eq!(a[0].as_i64(), None);
        assert_eq!(
            v.to_compact(),
            "[18446744073709551615,-9223372036854775808]"
        );
        assert_eq!(parse("1.0").unwrap().as_u64(), None);
        assert_eq!(parse("1.0").unwrap().as_f64(), Some(1.0));
    }

    #[test]
    fn errors_name_line_and_column() {
        let e = parse("{\n  \"a\": tru\n}").unwrap_err();
        assert_eq!(e.message, "2:8: invalid literal: expected true");
        let e = parse("[1,]").unwrap_err();
        assert_eq!(e.message, "1:4: expected a JSON value, found ']'");
        let e = parse("{\"a\":1,\"a\":2}").unwrap_err();
        assert!(e.message.starts_with("1:8: duplicate key"), "{e}");
        assert!(parse("01").is_err());
        assert!(parse("1.").is_err());
        assert!(parse("-").is_err());
        assert!(parse("\"\u{1}\"").is_err());
        assert!(parse("\"\\ud800\"").is_err());
        assert!(parse("").unwrap_err().message.contains("end of input"));
        assert!(parse("[] x").unwrap_err().message.contains("1:4"));
        assert_eq!(
            parse_bytes(b"\"\xff\"").unwrap_err().message,
            "1:2: invalid UTF-8"
        );
    }

    #[test]
    fn limits_hold() {
        let deep = "[".repeat(100_000);
        let e = parse(&deep).unwrap_err();
        assert!(e.message.contains("depth limit"), "{e}");
        let ok = format!("{}{}", "[".repeat(128), "]".repeat(128));
        assert!(parse(&ok).is_ok());
        let lim = ParseLimits {
            max_depth: 8,
            max_size: 4,
        };
        assert!(parse_with("[1,2]", &lim)
            .unwrap_err()
            .message
            .contains("size limit"));
    }

    #[test]
    fn escaping_is_valid_json() {
        let s = "\u{1}\u{b}\u{7f}é\"";
        let q = quote(s);
        assert_eq!(q, "\"\\u0001\\u000b\u{7f}é\\\"\"");
        assert_eq!(parse(&q).unwrap().as_str(), Some(s));
    }

    #[test]
    fn numbers_from_floats() {
        assert_eq!(JsonNumber::from_f64(1.0).unwrap().as_str(), "1.0");
        assert_eq!(JsonNumber::from_f64(1e-7).unwrap().as_str(), "1e-7");
        assert!(JsonNumber::from_f64(f64::NAN).is_none());
        assert!(JsonNumber::from_text("1e").is_err());
    }
}
