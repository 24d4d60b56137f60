//! The one grammar of option text (see the module docs of `options`), and the pieces of
//! Zeek's scanner the layout parser shares with it (interval units, string escapes).

use super::value::{OptionValue, Port};
use super::Type;
use std::net::IpAddr;

/// Parses `text` as a value of type `ty`; None when it is not one.
pub(crate) fn parse(ty: Type, text: &str) -> Option<OptionValue> {
    let t = text.trim();
    Some(match ty {
        Type::Bool => OptionValue::Bool(parse_bool(t)?),
        Type::Interval => OptionValue::Interval(parse_interval_text(t)?),
        Type::Count => OptionValue::Count(parse_count(t)?),
        Type::Int => OptionValue::Int(t.parse::<i64>().ok()?),
        Type::Double => OptionValue::Double(t.parse::<f64>().ok().filter(|d| d.is_finite())?),
        Type::Str => {
            if t.len() >= 2 && t.starts_with('"') && t.ends_with('"') {
                match unescape_string(&t[1..t.len() - 1]) {
                    Ok(s) => OptionValue::String(s),
                    Err(_) => OptionValue::String(text.to_string()),
                }
            } else {
                OptionValue::String(text.to_string())
            }
        }
        Type::Pattern => match t.strip_prefix('/').and_then(|r| r.strip_suffix('/')) {
            Some(inner) if t.len() >= 2 => OptionValue::Pattern(inner.to_string()),
            _ => OptionValue::Pattern(text.to_string()),
        },
        Type::Port => match Port::parse(t) {
            Ok(p) => OptionValue::Port(p),
            Err(_) => OptionValue::Port(Port::tcp(t.parse::<u16>().ok()?)),
        },
        Type::Addr => {
            let inner = t
                .strip_prefix('[')
                .and_then(|r| r.strip_suffix(']'))
                .unwrap_or(t);
            OptionValue::Addr(inner.parse::<IpAddr>().ok()?)
        }
        Type::Enum(names) => OptionValue::Enum(enum_constant(names, t)?.to_string()),
    })
}

/// `T`, `F`, `true`, `false` in any case, `1`, `0`.
pub fn parse_bool(t: &str) -> Option<bool> {
    let t = t.trim();
    if t == "1" || ["T", "true"].iter().any(|w| w.eq_ignore_ascii_case(t)) {
        Some(true)
    } else if t == "0" || ["F", "false"].iter().any(|w| w.eq_ignore_ascii_case(t)) {
        Some(false)
    } else {
        None
    }
}

/// A decimal count, or Zeek's `0x` hex.
fn parse_count(t: &str) -> Option<u64> {
    match t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None if !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()) => t.parse().ok(),
        None => None,
    }
}

/// The constant of `names` that `t` names: the full name, its last `::` component, or that
/// component without the prefix every constant shares (short forms in any case).
fn enum_constant(names: &'static [&'static str], t: &str) -> Option<&'static str> {
    let last = |n: &'static str| n.rsplit("::").next().unwrap_or(n);
    let prefix_len = if names.len() > 1 {
        let first = last(names[0]);
        let mut len = first.len();
        for n in &names[1..] {
            let n = last(n);
            len = first
                .bytes()
                .zip(n.bytes())
                .take(len)
                .take_while(|(a, b)| a == b)
                .count();
        }
        first[..len].rfind('_').map_or(0, |i| i + 1)
    } else {
        0
    };
    names
        .iter()
        .find(|n| **n == t)
        .or_else(|| names.iter().find(|n| last(n).eq_ignore_ascii_case(t)))
        .or_else(|| {
            names.iter().find(|n| {
                let short = &last(n)[prefix_len..];
                !short.is_empty() && short.eq_ignore_ascii_case(t)
            })
        })
        .copied()
}

/// The seconds of one of Zeek's interval units (`src/scan.l`: `usec`, `msec`, `sec`, `min`,
/// `hr`, `day`, each optionally followed by `s`). Case-sensitive, as Zeek's scanner is.
pub(crate) fn zeek_interval_unit(word: &str) -> Option<f64> {
    let base = match word.strip_suffix('s') {
        Some(b) if matches!(b, "usec" | "msec" | "sec" | "min" | "hr" | "day") => b,
        _ => word,
    };
    Some(match base {
        "day" => 86400.0,
        "hr" => 3600.0,
        "min" => 60.0,
        "sec" => 1.0,
        "msec" => 1e-3,
        "usec" => 1e-6,
        _ => return None,
    })
}

/// The short suffixes the option text also takes (not Zeek's).
fn short_unit(word: &str) -> Option<f64> {
    Some(match word {
        "s" => 1.0,
        "ms" => 1e-3,
        "us" => 1e-6,
        _ => return None,
    })
}

/// The length of Zeek's `FLOAT` at the start of `s`: `(D* "."? D | D "."? D*)`, then an
/// optional exponent `[eE][-+]?D`.
fn float_len(s: &[u8]) -> usize {
    let digits = |from: usize| s[from..].iter().take_while(|b| b.is_ascii_digit()).count();
    let mut i = digits(0);
    let int_digits = i;
    if s.get(i) == Some(&b'.') {
        let frac = digits(i + 1);
        if int_digits == 0 && frac == 0 {
            return 0;
        }
        i += 1 + frac;
    } else if int_digits == 0 {
        return 0;
    }
    if matches!(s.get(i), Some(b'e' | b'E')) {
        let mut j = i + 1;
        if matches!(s.get(j), Some(b'-' | b'+')) {
            j += 1;
        }
        let e = digits(j);
        if e > 0 {
            i = j + e;
        }
    }
    i
}

/// Sums interval terms; `extended` also takes the short suffixes.
fn interval_terms(text: &str, extended: bool) -> Option<f64> {
    let mut rest = text.trim();
    if rest.is_empty() {
        return None;
    }
    let mut total = 0.0;
    while !rest.is_empty() {
        let sign_len = usize::from(rest.starts_with(['-', '+']));
        let n = float_len(&rest.as_bytes()[sign_len..]);
        if n == 0 {
            return None;
        }
        let num: f64 = rest[..sign_len + n].parse().ok()?;
        rest = rest[sign_len + n..].trim_start_matches([' ', '\t']);
        let word_len = rest.bytes().take_while(|b| b.is_ascii_alphabetic()).count();
        let word = &rest[..word_len];
        let unit = zeek_interval_unit(word).or_else(|| extended.then(|| short_unit(word))?)?;
        total += num * unit;
        rest = rest[word_len..].trim_start();
    }
    total.is_finite().then_some(total)
}

/// An interval in Zeek's syntax (`1.0 min`, `30secs`, `250 msecs`, `-5 sec`), several terms
/// summed as Zeek prints them (`1.0 min 30.0 secs`). No bare numbers: `5` is a count.
pub fn parse_interval(text: &str) -> Option<f64> {
    interval_terms(text, false)
}

/// An interval as option text takes it: Zeek's syntax, a plain number of seconds
/// (`2.5`), or the short suffixes `us`, `ms`, `s` (`250ms`).
pub fn parse_interval_text(text: &str) -> Option<f64> {
    let t = text.trim();
    if let Ok(v) = t.parse::<f64>() {
        return (v.is_finite() && float_len(t.trim_start_matches(['-', '+']).as_bytes()) > 0)
            .then_some(v);
    }
    interval_terms(t, true)
}

/// The body of a Zeek string literal (between the quotes) with Zeek's escapes resolved:
/// `\n \t \r \a \b \f \v`, `\xHH`, octal `\NNN`, and `\c` for any other `c`. The error
/// gives the char offset of the bad escape in `body` and what is wrong; an unescaped `"`
/// in the body is an error too.
pub fn unescape_string(body: &str) -> Result<String, (usize, String)> {
    let chars: Vec<char> = body.chars().collect();
    let mut bytes: Vec<u8> = Vec::with_capacity(body.len());
    let mut i = 0;
    let push = |bytes: &mut Vec<u8>, c: char| {
        let mut b = [0u8; 4];
        bytes.extend_from_slice(c.encode_utf8(&mut b).as_bytes());
    };
    while i < chars.len() {
        let c = chars[i];
        i += 1;
        match c {
            '"' => return Err((i - 1, "unescaped `\"` inside a string literal".to_string())),
            '\\' => {
                let esc_pos = i;
                let Some(&e) = chars.get(i) else {
                    return Err((i - 1, "unterminated string literal".to_string()));
                };
                i += 1;
                match e {
                    'n' => bytes.push(b'\n'),
                    't' => bytes.push(b'\t'),
                    'r' => bytes.push(b'\r'),
                    'a' => bytes.push(7),
                    'b' => bytes.push(8),
                    'f' => bytes.push(12),
                    'v' => bytes.push(11),
                    'x' => {
                        let mut v = 0u32;
                        let mut n = 0;
                        while n < 2 && chars.get(i).is_some_and(|c| c.is_ascii_hexdigit()) {
                            v = v * 16 + chars[i].to_digit(16).unwrap_or(0);
                            i += 1;
                            n += 1;
                        }
                        if n == 0 {
                            return Err((esc_pos, "expected hex digits after \\x".to_string()));
                        }
                        bytes.push(v as u8);
                    }
                    '0'..='7' => {
                        let mut v = e.to_digit(8).unwrap_or(0);
                        let mut n = 1;
                        while n < 3 && chars.get(i).is_some_and(|c| ('0'..='7').contains(c)) {
                            v = v * 8 + chars[i].to_digit(8).unwrap_or(0);
                            i += 1;
                            n += 1;
                        }
                        bytes.push((v & 0xff) as u8);
                    }
                    other => push(&mut bytes, other),
                }
            }
            c => push(&mut bytes, c),
        }
    }
    String::from_utf8(bytes).map_err(|_| {
        (
            0,
            "string literal is not valid UTF-8 after escapes".to_string(),
        )
    })
}
