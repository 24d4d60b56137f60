//! A fast path from a Broker JSON v1 data message straight to Broker's binary encoding,
//! for the WebSocket hot paths (what a client sends the server, what the server sends a
//! client). The general path (`data::json`: a JSON tree, then a `Value`, then the binary
//! encoding) allocates for every key, string and number; this one scans the text once and
//! writes the bytes.
//!
//! It takes only the common shape: value objects written `{"@data-type":..,"data":..}` in
//! that order, of the types none, boolean, count, integer, string (without escapes),
//! enum-value and vector, and the message's keys `type`, `topic`, `@data-type`, `data`
//! (`@data-type` before `data`). Anything else, and anything malformed, gives `None`, and
//! the caller takes the general path, which accepts every valid message and words the
//! errors. Where both accept a message they give the same bytes (tested below).

const NONE: u8 = 0;
const BOOL: u8 = 1;
const COUNT: u8 = 2;
const INTEGER: u8 = 3;
const STRING: u8 = 5;
const ENUM: u8 = 11;
const VECTOR: u8 = 14;

/// Nesting accepted on the fast path (deeper goes the general way, with its limits).
const MAX_DEPTH: usize = 32;

struct Scan<'a> {
    s: &'a [u8],
    pos: usize,
}

impl<'a> Scan<'a> {
    fn ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.s.get(self.pos) {
            self.pos += 1;
        }
    }

    fn eat(&mut self, c: u8) -> Option<()> {
        self.ws();
        (self.s.get(self.pos) == Some(&c)).then(|| self.pos += 1)
    }

    fn peek(&mut self) -> Option<u8> {
        self.ws();
        self.s.get(self.pos).copied()
    }

    /// A string without escapes or control characters: its raw bytes.
    fn string(&mut self) -> Option<&'a [u8]> {
        self.eat(b'"')?;
        let start = self.pos;
        let rest = &self.s[start..];
        let n = rest
            .iter()
            .position(|&c| c == b'"' || c == b'\\' || c < 0x20)?;
        if rest[n] != b'"' {
            return None;
        }
        self.pos = start + n + 1;
        Some(&rest[..n])
    }

    /// A JSON integer (no fraction or exponent, no leading zeros): (negative, digits).
    fn integer(&mut self) -> Option<(bool, &'a [u8])> {
        self.ws();
        let neg = self.s.get(self.pos) == Some(&b'-');
        let start = self.pos + usize::from(neg);
        let digits = self.s[start..]
            .iter()
            .position(|c| !c.is_ascii_digit())
            .unwrap_or(self.s.len() - start);
        let d = &self.s[start..start + digits];
        if d.is_empty() || (d.len() > 1 && d[0] == b'0') {
            return None;
        }
        // A fraction or exponent: a real-looking number, for the general path.
        if matches!(self.s.get(start + digits), Some(b'.' | b'e' | b'E')) {
            return None;
        }
        self.pos = start + digits;
        Some((neg, d))
    }

    fn key(&mut self, k: &[u8]) -> Option<()> {
        (self.string()? == k).then_some(())?;
        self.eat(b':')
    }

    /// `{"@data-type":T,"data":D}` appended to `out`.
    fn value(&mut self, out: &mut Vec<u8>, depth: usize) -> Option<()> {
        if depth > MAX_DEPTH {
            return None;
        }
        self.eat(b'{')?;
        self.key(b"@data-type")?;
        let ty = self.string()?;
        self.eat(b',')?;
        self.key(b"data")?;
        self.data(ty, out, depth)?;
        self.eat(b'}')
    }

    fn data(&mut self, ty: &[u8], out: &mut Vec<u8>, depth: usize) -> Option<()> {
        match ty {
            b"none" => {
                self.eat(b'{')?;
                self.eat(b'}')?;
                out.push(NONE);
            }
            b"boolean" => {
                self.ws();
                let rest = &self.s[self.pos..];
                let b = if rest.starts_with(b"true") {
                    self.pos += 4;
                    1
                } else if rest.starts_with(b"false") {
                    self.pos += 5;
                    0
                } else {
                    return None;
                };
                out.extend_from_slice(&[BOOL, b]);
            }
            b"count" => {
                let (neg, d) = self.integer()?;
                if neg {
                    return None;
                }
                let n: u64 = std::str::from_utf8(d).ok()?.parse().ok()?;
                out.push(COUNT);
                out.extend_from_slice(&n.to_be_bytes());
            }
            b"integer" => {
                let start = self.pos;
                let (_, _) = self.integer()?;
                let text = std::str::from_utf8(&self.s[start..self.pos]).ok()?;
                let n: i64 = text.trim_start().parse().ok()?;
                out.push(INTEGER);
                out.extend_from_slice(&n.to_be_bytes());
            }
            b"string" | b"enum-value" => {
                let s = self.string()?;
                // Enums are text; the general path checks nothing more for either.
                if ty == b"enum-value" {
                    std::str::from_utf8(s).ok()?;
                }
                out.push(if ty == b"string" { STRING } else { ENUM });
                super::super::data::bin::write_bytes(s, out).ok()?;
            }
            b"vector" => {
                self.eat(b'[')?;
                out.push(VECTOR);
                let at = out.len();
                let mut n = 0usize;
                if self.peek()? == b']' {
                    self.pos += 1;
                } else {
                    loop {
                        self.value(out, depth + 1)?;
                        n += 1;
                        match self.peek()? {
                            b',' => self.pos += 1,
                            b']' => {
                                self.pos += 1;
                                break;
                            }
                            _ => return None,
                        }
                    }
                }
                let mut len = Vec::with_capacity(5);
                super::super::data::bin::write_len(n, &mut len).ok()?;
                out.splice(at..at, len);
            }
            _ => return None,
        }
        Some(())
    }
}

/// A data message's (topic, binary payload), or None to take the general path.
pub fn data_message_to_bin(text: &str) -> Option<(String, Vec<u8>)> {
    let mut sc = Scan {
        s: text.as_bytes(),
        pos: 0,
    };
    sc.eat(b'{')?;
    let mut topic: Option<&[u8]> = None;
    let mut seen_type = false;
    let mut out = Vec::with_capacity(text.len() / 4);
    loop {
        match sc.string()? {
            b"type" if !seen_type => {
                sc.eat(b':')?;
                if sc.string()? != b"data-message" {
                    return None;
                }
                seen_type = true;
            }
            b"topic" if topic.is_none() => {
                sc.eat(b':')?;
                topic = Some(sc.string()?);
            }
            b"@data-type" if out.is_empty() => {
                sc.eat(b':')?;
                let ty = sc.string()?;
                sc.eat(b',')?;
                sc.key(b"data")?;
                sc.data(ty, &mut out, 0)?;
            }
            _ => return None,
        }
        match sc.peek()? {
            b',' => sc.pos += 1,
            b'}' => {
                sc.pos += 1;
                break;
            }
            _ => return None,
        }
    }
    sc.ws();
    if sc.pos != sc.s.len() || out.is_empty() {
        return None;
    }
    let topic = String::from_utf8(topic.unwrap_or_default().to_vec()).ok()?;
    Some((topic, out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::json::{data_message_from_json, data_message_to_json};
    use crate::data::{bin, Event, Value};

    fn general(text: &str) -> Option<(String, Vec<u8>)> {
        let m = data_message_from_json(text).ok()?;
        Some((m.topic, bin::encode_to_vec(&m.value)))
    }

    #[test]
    fn same_bytes_as_the_general_path() {
        let ev = Event::with_args(
            "Bench::x",
            vec![
                Value::String(b"hello".to_vec()),
                Value::Count(u64::MAX),
                Value::Integer(i64::MIN),
                Value::Integer(-5),
                Value::Integer(0),
                Value::Bool(true),
                Value::Bool(false),
                Value::None,
                Value::Enum("Log::WRITER_ASCII".into()),
                Value::Vector(vec![]),
                Value::Vector(vec![Value::Vector(vec![Value::Count(0)])]),
                Value::String(vec![b'x'; 300]),
            ],
        );
        let text = data_message_to_json("a/b", &ev.to_value());
        let fast = data_message_to_bin(&text).expect("the fast path takes this");
        assert_eq!(Some(fast.clone()), general(&text));
        assert_eq!(fast.1, ev.to_bytes());
        // Whitespace and a different key order at the top.
        let spaced = format!(
            " {{ \"topic\" : \"a/b\" , \"type\":\"data-message\", {} }} ",
            &text[text.find("\"@data-type\"").unwrap()..text.len() - 1]
        );
        assert_eq!(data_message_to_bin(&spaced), general(&spaced));
        assert!(data_message_to_bin(&spaced).is_some());
    }

    #[test]
    fn everything_else_goes_the_general_way() {
        for t in [
            "",
            "{",
            "[]",
            r#"{"type":"data-message","topic":"t","@data-type":"count","data":1.0}"#,
            r#"{"type":"data-message","topic":"t","@data-type":"count","data":-1}"#,
            r#"{"type":"data-message","topic":"t","@data-type":"count","data":01}"#,
            r#"{"type":"data-message","topic":"t","@data-type":"count","data":18446744073709551616}"#,
            r#"{"type":"data-message","topic":"t","@data-type":"integer","data":1e3}"#,
            r#"{"type":"data-message","topic":"t","@data-type":"real","data":1.5}"#,
            r#"{"type":"data-message","topic":"t","@data-type":"string","data":"a\"b"}"#,
            r#"{"type":"data-message","topic":"t\n","@data-type":"count","data":1}"#,
            r#"{"type":"data-message","topic":"t","data":1,"@data-type":"count"}"#,
            r#"{"type":"data-message","topic":"t","@data-type":"vector","data":[{"data":1,"@data-type":"count"}]}"#,
            r#"{"type":"data-message","topic":"t","@data-type":"count","data":1,"extra":1}"#,
            r#"{"type":"data-message","topic":"t","topic":"u","@data-type":"count","data":1}"#,
            r#"{"type":"nope","topic":"t","@data-type":"count","data":1}"#,
            r#"{"type":"data-message","topic":"t","@data-type":"count","data":1} x"#,
            r#"{"type":"data-message","topic":"t","@data-type":"vector","data":[,]}"#,
            r#"{"type":"data-message","topic":"t","@data-type":"address","data":"1.2.3.4"}"#,
        ] {
            assert_eq!(data_message_to_bin(t), None, "{t}");
        }
        // Where the fast path declines a valid message, the general one takes it.
        let t = r#"{"type":"data-message","topic":"t","@data-type":"vector","data":[{"data":1,"@data-type":"count"}]}"#;
        assert!(general(t).is_some());
        // Deep nesting declines (the general path has its own limit).
        let mut deep = String::from(r#"{"topic":"t","@data-type":"vector","data":["#);
        for _ in 0..40 {
            deep.push_str(r#"{"@data-type":"vector","data":["#);
        }
        for _ in 0..40 {
            deep.push_str("]}");
        }
        deep.push_str("]}");
        assert_eq!(data_message_to_bin(&deep), None);
    }
}
