//! Zeek's text renderings of single values and its byte-escaping helpers, reproduced from
//! Zeek 9.1-dev (`src/threading/Formatter.cc`, `src/Desc.cc`, `src/util.cc`,
//! `src/3rdparty/zeek_inet_ntop.c`). Shared by the log writers and by pool hashing.

use crate::data::{Address, Subnet};

const HEX: &[u8; 16] = b"0123456789abcdef";

/// `\xNN` with lowercase hex (`util::bytetohex`).
pub(crate) fn push_hex_escape(out: &mut Vec<u8>, b: u8) {
    out.extend_from_slice(b"\\x");
    out.push(HEX[usize::from(b >> 4)]);
    out.push(HEX[usize::from(b & 0x0f)]);
}

/// A small stack buffer for rendering numbers without allocating.
pub(crate) struct StackBuf {
    b: [u8; 64],
    n: usize,
}

impl StackBuf {
    pub(crate) fn new() -> StackBuf {
        StackBuf { b: [0; 64], n: 0 }
    }
    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.b[..self.n]
    }
    fn push(&mut self, c: u8) {
        if self.n < self.b.len() {
            self.b[self.n] = c;
            self.n += 1;
        }
    }
}

impl std::fmt::Write for StackBuf {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let bytes = s.as_bytes();
        if self.n + bytes.len() > self.b.len() {
            return Err(std::fmt::Error);
        }
        self.b[self.n..self.n + bytes.len()].copy_from_slice(bytes);
        self.n += bytes.len();
        Ok(())
    }
}

const DIGITS2: &[u8; 200] = b"\
0001020304050607080910111213141516171819\
2021222324252627282930313233343536373839\
4041424344454647484950515253545556575859\
6061626364656667686970717273747576777879\
8081828384858687888990919293949596979899";

/// `v`'s decimal digits right-aligned in `buf`; returns where they start.
fn dec_digits(mut v: u64, buf: &mut [u8; 20]) -> usize {
    let mut i = 20;
    while v >= 100 {
        let r = (v % 100) as usize;
        v /= 100;
        i -= 2;
        buf[i..i + 2].copy_from_slice(&DIGITS2[2 * r..2 * r + 2]);
    }
    if v >= 10 {
        let r = v as usize;
        i -= 2;
        buf[i..i + 2].copy_from_slice(&DIGITS2[2 * r..2 * r + 2]);
    } else {
        i -= 1;
        buf[i] = b'0' + v as u8;
    }
    i
}

/// `v` in decimal, appended to `out`.
pub(crate) fn push_u64(out: &mut Vec<u8>, v: u64) {
    let mut buf = [0u8; 20];
    let i = dec_digits(v, &mut buf);
    out.extend_from_slice(&buf[i..]);
}

/// `v` in decimal, with a minus sign when negative, appended to `out`.
pub(crate) fn push_i64(out: &mut Vec<u8>, v: i64) {
    if v < 0 {
        out.push(b'-');
    }
    push_u64(out, v.unsigned_abs());
}

/// An IPv4 address (the last four bytes of `a`) as a dotted quad, appended to `out`.
pub(crate) fn push_v4(out: &mut Vec<u8>, a: &Address) {
    for (k, &o) in a.0[12..16].iter().enumerate() {
        if k > 0 {
            out.push(b'.');
        }
        if o >= 100 {
            out.push(b'0' + o / 100);
            let r = usize::from(o % 100);
            out.extend_from_slice(&DIGITS2[2 * r..2 * r + 2]);
        } else if o >= 10 {
            let r = usize::from(o);
            out.extend_from_slice(&DIGITS2[2 * r..2 * r + 2]);
        } else {
            out.push(b'0' + o);
        }
    }
}

/// `v` in decimal.
pub(crate) fn u64_dec(v: u64) -> StackBuf {
    let mut out = StackBuf::new();
    let mut buf = [0u8; 20];
    let i = dec_digits(v, &mut buf);
    out.b[..20 - i].copy_from_slice(&buf[i..]);
    out.n = 20 - i;
    out
}

/// `v` in decimal, with a minus sign when negative.
pub(crate) fn i64_dec(v: i64) -> StackBuf {
    if v >= 0 {
        return u64_dec(v as u64);
    }
    let digits = u64_dec(v.unsigned_abs());
    let mut out = StackBuf::new();
    out.push(b'-');
    for &c in digits.as_bytes() {
        out.push(c);
    }
    out
}

/// [`addr`] into a stack buffer (IPv4 without formatting machinery).
pub(crate) fn addr_buf(a: &Address) -> StackBuf {
    if a.is_v4() {
        let mut out = StackBuf::new();
        for (k, &o) in a.0[12..16].iter().enumerate() {
            if k > 0 {
                out.push(b'.');
            }
            let mut buf = [0u8; 20];
            let i = dec_digits(u64::from(o), &mut buf);
            for &c in &buf[i..] {
                out.push(c);
            }
        }
        return out;
    }
    let mut out = StackBuf::new();
    let _ = std::fmt::Write::write_str(&mut out, &addr(a));
    out
}

/// [`fixed6`] appended to `out` (without allocating for the values logs hold).
pub(crate) fn push_fixed6(out: &mut Vec<u8>, d: f64) {
    match fixed6_fast(d) {
        Some(b) => out.extend_from_slice(b.as_bytes()),
        None => out.extend_from_slice(fixed6(d).as_bytes()),
    }
}

/// `format!("{d:.6}")` for finite `|d| < 2^43` with integer arithmetic: `|d|` is exactly
/// `m * 2^e`, so `|d| * 10^6` is `m * 10^6 / 2^-e`, rounded half to even as the
/// formatter rounds the exact value. None outside that range (the formatter then runs).
fn fixed6_fast(d: f64) -> Option<StackBuf> {
    if !d.is_finite() || d.abs() >= (1u64 << 43) as f64 {
        return None;
    }
    let bits = d.to_bits();
    let biased = ((bits >> 52) & 0x7ff) as i32;
    let frac = bits & ((1u64 << 52) - 1);
    let (m, e) = if biased == 0 {
        (frac, -1074)
    } else {
        (frac | (1u64 << 52), biased - 1075)
    };
    let n = u128::from(m) * 1_000_000;
    let q: u64 = if e >= 0 {
        // |d| < 2^43: m * 2^e * 10^6 < 2^63.
        (n << e) as u64
    } else {
        let s = (-e) as u32;
        if s >= 120 {
            0 // |d| * 10^6 < 2^53 * 2^20 / 2^120: far below one half
        } else {
            let q = n >> s;
            let r = n & ((1u128 << s) - 1);
            let half = 1u128 << (s - 1);
            (if r > half || (r == half && q & 1 == 1) {
                q + 1
            } else {
                q
            }) as u64
        }
    };
    let mut out = StackBuf::new();
    if d.is_sign_negative() {
        out.push(b'-');
    }
    let int = u64_dec(q / 1_000_000);
    let f = q % 1_000_000;
    out.b[out.n..out.n + int.n].copy_from_slice(int.as_bytes());
    out.n += int.n;
    out.b[out.n] = b'.';
    let mut x = f;
    for k in (1..=6).rev() {
        out.b[out.n + k] = b'0' + (x % 10) as u8;
        x /= 10;
    }
    out.n += 7;
    Some(out)
}

/// An address as Zeek prints it (`IPAddr::AsString`): dotted quad for IPv4 (v4-mapped),
/// otherwise the BSD `inet_ntop` algorithm Zeek ships: the first longest run (>= 2) of zero
/// groups becomes `::`, and `::a.b.c.d`-style tails for IPv4-compatible forms.
pub fn addr(a: &Address) -> String {
    let b = &a.0;
    if a.is_v4() {
        return format!("{}.{}.{}.{}", b[12], b[13], b[14], b[15]);
    }
    let words: Vec<u16> = (0..8)
        .map(|i| u16::from(b[2 * i]) << 8 | u16::from(b[2 * i + 1]))
        .collect();
    // Longest run of zero words; the first one wins a tie.
    let (mut best_base, mut best_len) = (None::<usize>, 0usize);
    let mut cur: Option<(usize, usize)> = None;
    for (i, &w) in words.iter().enumerate() {
        if w == 0 {
            cur = Some(match cur {
                None => (i, 1),
                Some((base, len)) => (base, len + 1),
            });
        } else if let Some((base, len)) = cur.take() {
            if best_base.is_none() || len > best_len {
                best_base = Some(base);
                best_len = len;
            }
        }
    }
    if let Some((base, len)) = cur {
        if best_base.is_none() || len > best_len {
            best_base = Some(base);
            best_len = len;
        }
    }
    if best_len < 2 {
        best_base = None;
    }
    let mut s = String::new();
    let in_run = |i: usize| best_base.is_some_and(|base| i >= base && i < base + best_len);
    let mut i = 0;
    while i < 8 {
        if in_run(i) {
            if Some(i) == best_base {
                s.push(':');
            }
            i += 1;
            continue;
        }
        if i != 0 {
            s.push(':');
        }
        if i == 6
            && best_base == Some(0)
            && (best_len == 6
                || (best_len == 7 && words[7] != 0x0001)
                || (best_len == 5 && words[5] == 0xffff)
                || (best_len == 4 && words[4] == 0xffff && words[5] == 0))
        {
            s.push_str(&format!("{}.{}.{}.{}", b[12], b[13], b[14], b[15]));
            return s;
        }
        s.push_str(&format!("{:x}", words[i]));
        i += 1;
    }
    if best_base.is_some_and(|base| base + best_len == 8) {
        s.push(':');
    }
    s
}

/// A subnet as Zeek prints it (`IPPrefix::AsString`): address, `/`, the length in the
/// address family's terms.
pub fn subnet(s: &Subnet) -> String {
    let len = if s.network.is_v4() {
        i32::from(s.length) - 96
    } else {
        i32::from(s.length)
    };
    format!("{}/{}", addr(&s.network), len)
}

/// `Formatter::Render(double)`: fixed notation with six decimals, as time and interval
/// columns print (`std::to_chars(.., fixed, 6)`).
pub fn fixed6(d: f64) -> String {
    if d.is_nan() {
        return if d.is_sign_negative() {
            "-nan".into()
        } else {
            "nan".into()
        };
    }
    format!("{d:.6}")
}

/// `ODesc::Add(double, no_exp=true)` as a double column prints: six decimals with
/// trailing zeros (and a bare trailing point) removed, then `.0` appended when the value
/// is within 1e-9 of an integer; `nan`, `inf`, `-inf` as such; `-0.0` prints `0.0`.
pub fn double(d: f64) -> String {
    if d.is_nan() {
        return "nan".into();
    }
    let neg = d < 0.0;
    let a = d.abs();
    let mut s = if a.is_infinite() {
        "inf".to_string()
    } else {
        format!("{a:.6}")
    };
    if a.is_finite() {
        while s.ends_with('0') {
            s.pop();
        }
        if s.ends_with('.') {
            s.pop();
        }
    }
    if neg {
        s.insert(0, '-');
    }
    if d.is_finite() && (d - d.round()).abs() < 1e-9 && !s.contains('e') {
        s.push_str(".0");
    }
    s
}

/// Seconds as Zeek holds a time or interval: Broker's nanoseconds converted the way
/// `duration_cast<duration<double>>` does (`ns as f64 / 1e9`).
pub fn ns_to_secs(ns: i64) -> f64 {
    ns as f64 / 1e9
}

/// Bytes a lead byte says its UTF-8 sequence has (`getNumBytesForUTF8`).
fn utf8_len(lead: u8) -> usize {
    match lead {
        0xc0..=0xdf => 2,
        0xe0..=0xef => 3,
        0xf0..=0xf7 => 4,
        0xf8..=0xfb => 5,
        0xfc..=0xff => 6,
        _ => 1,
    }
}

/// `check_ok_utf8`: one well-formed UTF-8 character that is not a C0/C1 control, DEL, in
/// the private use area U+E000..U+F8FF, or U+FFF0..U+FFFF.
fn ok_utf8(seq: &[u8]) -> bool {
    let Ok(s) = std::str::from_utf8(seq) else {
        return false;
    };
    let mut chars = s.chars();
    let (Some(c), None) = (chars.next(), chars.next()) else {
        return false;
    };
    let c = u32::from(c);
    !(c <= 0x1f
        || c == 0x7f
        || (0x80..=0x9f).contains(&c)
        || (0xe000..=0xf8ff).contains(&c)
        || (0xfff0..=0xffff).contains(&c))
}

/// `util::escape_utf8(val, flags)`. With `escape_controls` (ESCAPE_PRINTABLE_CONTROLS)
/// `\b \f \n \r \t` are `\xNN`-escaped too; other controls always are here (our callers
/// always pass ESCAPE_UNPRINTABLE_CONTROLS). Valid UTF-8 passes through unless any byte
/// of the input is bad: then Zeek returns its fully escaped variant, in which every
/// non-ASCII byte is `\xNN`.
pub(crate) fn escape_utf8(val: &[u8], escape_controls: bool) -> Vec<u8> {
    let mut utf = Vec::with_capacity(val.len());
    let mut escaped = Vec::with_capacity(val.len());
    let mut bad = false;
    let mut i = 0;
    while i < val.len() {
        let ch = val[i];
        let soft_control = matches!(ch, 0x08 | 0x0c | b'\n' | b'\r' | b'\t');
        if (0x20..0x7f).contains(&ch) || (!escape_controls && soft_control) {
            if !bad {
                utf.push(ch);
            }
            escaped.push(ch);
            i += 1;
            continue;
        }
        if bad {
            push_hex_escape(&mut escaped, ch);
            i += 1;
            continue;
        }
        let n = utf8_len(ch);
        if i + n > val.len() || !ok_utf8(&val[i..i + n]) {
            bad = true;
            push_hex_escape(&mut escaped, ch);
            i += 1;
        } else {
            for &b in &val[i..i + n] {
                push_hex_escape(&mut escaped, b);
            }
            utf.extend_from_slice(&val[i..i + n]);
            i += n;
        }
    }
    if bad {
        escaped
    } else {
        utf
    }
}

/// `util::get_escaped_string(str, escape_all=false)` as header values use it: bytes
/// outside `!`..`~` (whitespace, controls, non-ASCII) become `\xNN`.
pub(crate) fn header_escape(s: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len());
    for &c in s {
        if (0x21..=0x7e).contains(&c) {
            out.push(c);
        } else {
            push_hex_escape(&mut out, c);
        }
    }
    out
}

/// A JSON number as rapidjson's `Writer::Double` writes it (`dtoa` + `Prettify`): the
/// shortest round-trip digits, plain notation for decimal exponents -6 < kk <= 21
/// (integers get `.0`), otherwise `d.ddde[-]X`. `None` for NaN and infinities (Zeek's
/// `NullDoubleWriter` writes `null`).
///
/// rapidjson finds the digits with Grisu2, which for a small share of doubles yields a
/// longer (still round-tripping) digit string than the shortest one Rust finds; both
/// parse to the same double.
pub fn json_double(d: f64) -> Option<String> {
    let mut out = Vec::new();
    if !json_double_into(&mut out, d) {
        return None;
    }
    String::from_utf8(out).ok()
}

/// [`json_double`] appended to `out`, without allocating; false (nothing written) for
/// NaN and infinities.
pub(crate) fn json_double_into(out: &mut Vec<u8>, d: f64) -> bool {
    if !d.is_finite() {
        return false;
    }
    if d == 0.0 {
        out.extend_from_slice(if d.is_sign_negative() {
            b"-0.0"
        } else {
            b"0.0"
        });
        return true;
    }
    if d < 0.0 {
        out.push(b'-');
    }
    let mut sci = StackBuf::new();
    if std::fmt::Write::write_fmt(&mut sci, format_args!("{:e}", d.abs())).is_err() {
        return false;
    }
    let sci = sci.as_bytes();
    let Some(epos) = sci.iter().position(|&c| c == b'e') else {
        return false;
    };
    // The exponent: an optional '-' and up to three digits.
    let (neg, edigits) = match &sci[epos + 1..] {
        [b'-', rest @ ..] => (true, rest),
        rest => (false, rest),
    };
    if edigits.is_empty() || edigits.len() > 4 || !edigits.iter().all(u8::is_ascii_digit) {
        return false;
    }
    let e = edigits
        .iter()
        .fold(0i32, |a, &c| a * 10 + i32::from(c - b'0'));
    let exp = if neg { -e } else { e };
    let mut digits = [0u8; 40];
    let mut len = 0usize;
    for &c in &sci[..epos] {
        if c != b'.' && len < digits.len() {
            digits[len] = c;
            len += 1;
        }
    }
    let digits = &digits[..len];
    let len = len as i32;
    let k = exp - len + 1;
    let kk = len + k;
    let push_exp = |out: &mut Vec<u8>, x: i32| {
        if x < 0 {
            out.push(b'-');
        }
        out.extend_from_slice(u64_dec(u64::from(x.unsigned_abs())).as_bytes());
    };
    if 0 <= k && kk <= 21 {
        out.extend_from_slice(digits);
        out.extend(std::iter::repeat_n(b'0', k as usize));
        out.extend_from_slice(b".0");
    } else if 0 < kk && kk <= 21 {
        let (a, b) = digits.split_at(kk as usize);
        out.extend_from_slice(a);
        out.push(b'.');
        out.extend_from_slice(b);
    } else if -6 < kk && kk <= 0 {
        out.extend_from_slice(b"0.");
        out.extend(std::iter::repeat_n(b'0', (-kk) as usize));
        out.extend_from_slice(digits);
    } else if len == 1 {
        out.extend_from_slice(digits);
        out.push(b'e');
        push_exp(out, kk - 1);
    } else {
        let (a, b) = digits.split_at(1);
        out.extend_from_slice(a);
        out.push(b'.');
        out.extend_from_slice(b);
        out.push(b'e');
        push_exp(out, kk - 1);
    }
    true
}

/// A JSON string as rapidjson writes it (default flags): `"` and `\` escaped, `\b \t \n
/// \f \r` by name, other bytes below 0x20 as `\u00XX` (uppercase hex), everything else
/// (including UTF-8) raw.
pub(crate) fn json_string(out: &mut Vec<u8>, s: &[u8]) {
    const UHEX: &[u8; 16] = b"0123456789ABCDEF";
    out.push(b'"');
    // Most strings need no escape at all: copy them whole.
    if !s.iter().any(|&c| c < 0x20 || c == b'"' || c == b'\\') {
        out.extend_from_slice(s);
        out.push(b'"');
        return;
    }
    for &c in s {
        match c {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            0x08 => out.extend_from_slice(b"\\b"),
            b'\t' => out.extend_from_slice(b"\\t"),
            b'\n' => out.extend_from_slice(b"\\n"),
            0x0c => out.extend_from_slice(b"\\f"),
            b'\r' => out.extend_from_slice(b"\\r"),
            0x00..=0x1f => {
                out.extend_from_slice(b"\\u00");
                out.push(UHEX[usize::from(c >> 4)]);
                out.push(UHEX[usize::from(c & 0x0f)]);
            }
            _ => out.push(c),
        }
    }
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv6Addr;

    fn v6(s: &str) -> String {
        addr(&Address(s.parse::<Ipv6Addr>().unwrap().octets()))
    }

    #[test]
    fn addresses_render_like_zeek_inet_ntop() {
        assert_eq!(
            addr(&Address::from_v4("10.0.0.1".parse().unwrap())),
            "10.0.0.1"
        );
        assert_eq!(v6("::"), "::");
        assert_eq!(v6("::1"), "::1");
        assert_eq!(v6("2001:db8::1"), "2001:db8::1");
        assert_eq!(v6("fe80::1:0:0:1"), "fe80::1:0:0:1");
        // Equal runs: the first wins.
        assert_eq!(v6("1:0:0:2:3:0:0:4"), "1::2:3:0:0:4");
        // A single zero group is not shortened.
        assert_eq!(v6("1:0:2:3:4:5:6:7"), "1:0:2:3:4:5:6:7");
        // IPv4-compatible forms keep the dotted tail, as BSD inet_ntop does (Rust does not);
        // a 7-group run never gets there (the run check comes first), so ::2 stays hex.
        assert_eq!(v6("::2"), "::2");
        assert_eq!(v6("::1.2.3.4"), "::1.2.3.4");
        assert_eq!(v6("::ffff:0:1.2.3.4"), "::ffff:0:1.2.3.4");
        assert_eq!(v6("1::"), "1::");
    }

    #[test]
    fn subnets() {
        let s: Subnet = "10.1.0.0/16".parse().unwrap();
        assert_eq!(subnet(&s), "10.1.0.0/16");
        let s: Subnet = "2001:db8::/32".parse().unwrap();
        assert_eq!(subnet(&s), "2001:db8::/32");
    }

    #[test]
    fn doubles_like_odesc() {
        assert_eq!(double(1.0), "1.0");
        assert_eq!(double(0.5), "0.5");
        assert_eq!(double(-2.25), "-2.25");
        assert_eq!(double(-0.0), "0.0");
        assert_eq!(double(12.3456789), "12.345679");
        assert_eq!(double(1e-9), "0"); // rounds to 0 but is not within 1e-9 of it
        assert_eq!(double(5e-10), "0.0");
        assert_eq!(double(1.0000001), "1");
        assert_eq!(double(123456789012.0), "123456789012.0");
        assert_eq!(double(f64::NAN), "nan");
        assert_eq!(double(f64::INFINITY), "inf");
        assert_eq!(double(f64::NEG_INFINITY), "-inf");
    }

    #[test]
    fn fixed6_like_render() {
        assert_eq!(fixed6(1700000000.5), "1700000000.500000");
        assert_eq!(fixed6(0.0078125), "0.007812"); // exact tie: half to even, as to_chars
        assert_eq!(fixed6(-1.5), "-1.500000");
        assert_eq!(fixed6(f64::INFINITY), "inf");
        assert_eq!(fixed6(f64::NAN), "nan");
    }

    fn xorshift(state: &mut u64) -> u64 {
        *state ^= *state << 13;
        *state ^= *state >> 7;
        *state ^= *state << 17;
        *state
    }

    #[test]
    fn fixed6_fast_path_matches_the_formatter() {
        let mut st = 0x9e37_79b9_7f4a_7c15u64;
        let check = |d: f64| {
            let mut got = Vec::new();
            push_fixed6(&mut got, d);
            assert_eq!(got, fixed6(d).as_bytes(), "{d:e} ({:#x})", d.to_bits());
        };
        for d in [
            0.0,
            -0.0,
            0.5e-6,
            1.5e-6,
            2.5e-6,
            -0.5e-6,
            0.0078125,
            1e-300,
            5e-324,
            1.0,
            -1.0,
            1700000000.0,
            1700000000.000001,
            1700000000.1234565,
            8.796093022207e12,
            8.796093022208e12,
            9.5e12,
            f64::MAX,
            f64::MIN_POSITIVE,
        ] {
            check(d);
        }
        for _ in 0..200_000 {
            let r = xorshift(&mut st);
            // Random bit patterns (any exponent), times around now, small intervals, and
            // exact ties (multiples of 2^-k at the seventh decimal).
            check(f64::from_bits(r));
            check(1.7e9 + (r % 1_000_000_000) as f64 / 1e6 + (r >> 60) as f64 * 1e-7);
            check((r % 10_000_000) as f64 / 1e6);
            check((r % (1 << 40)) as f64 / (1u64 << (r >> 58)) as f64);
            check(-((r % 4096) as f64) / 8192.0);
        }
    }

    #[test]
    fn json_doubles_round_trip() {
        let mut st = 0x1234_5678_9abc_def1u64;
        for _ in 0..100_000 {
            let d = f64::from_bits(xorshift(&mut st));
            match json_double(d) {
                Some(s) => assert_eq!(s.parse::<f64>().unwrap(), d, "{s}"),
                None => assert!(!d.is_finite()),
            }
        }
    }

    #[test]
    fn json_doubles_like_rapidjson() {
        assert_eq!(json_double(1.0).unwrap(), "1.0");
        assert_eq!(json_double(-0.0).unwrap(), "-0.0");
        assert_eq!(json_double(0.001).unwrap(), "0.001");
        assert_eq!(json_double(1e-7).unwrap(), "1e-7");
        assert_eq!(json_double(1.5e-7).unwrap(), "1.5e-7");
        assert_eq!(json_double(1700000000.123456).unwrap(), "1700000000.123456");
        assert_eq!(json_double(1e20).unwrap(), "100000000000000000000.0");
        assert_eq!(json_double(1e21).unwrap(), "1e21");
        assert_eq!(json_double(1e22).unwrap(), "1e22");
        assert_eq!(json_double(1.25e22).unwrap(), "1.25e22");
        assert_eq!(json_double(123.456).unwrap(), "123.456");
        assert_eq!(json_double(0.000001).unwrap(), "0.000001");
        assert_eq!(json_double(-5e-324).unwrap(), "-5e-324");
        assert!(json_double(f64::NAN).is_none());
    }

    #[test]
    fn escape_utf8_follows_zeek() {
        // Valid UTF-8 passes; controls are escaped.
        assert_eq!(
            escape_utf8("héllo\u{1}".as_bytes(), false),
            b"h\\xc3\\xa9llo\\x01".to_vec()
        );
        assert_eq!(
            escape_utf8("héllo".as_bytes(), false),
            "héllo".as_bytes().to_vec()
        );
        assert_eq!(escape_utf8(b"a\nb", false), b"a\nb".to_vec());
        assert_eq!(escape_utf8(b"a\nb", true), b"a\\x0ab".to_vec());
        // One bad byte switches the whole string to the escaped variant.
        assert_eq!(
            escape_utf8(b"\xc3\xa9\xff", false),
            b"\\xc3\\xa9\\xff".to_vec()
        );
        // Truncated sequence, PUA, DEL.
        assert_eq!(escape_utf8(b"\xe2\x82", false), b"\\xe2\\x82".to_vec());
        assert_eq!(
            escape_utf8("\u{e000}".as_bytes(), false),
            b"\\xee\\x80\\x80".to_vec()
        );
        assert_eq!(escape_utf8(b"\x7f", false), b"\\x7f".to_vec());
    }

    #[test]
    fn header_escaping() {
        assert_eq!(header_escape(b"\t"), b"\\x09".to_vec());
        assert_eq!(header_escape(b"(empty)"), b"(empty)".to_vec());
        assert_eq!(header_escape(b"a b\\"), b"a\\x20b\\".to_vec());
    }
}
