//! Zeek's ASCII log format: the header lines (`logging/writers/ascii/Ascii.cc`
//! `WriteHeader`) and one record (`threading/formatters/Ascii.cc` `Describe` into an
//! escaping `ODesc` with `enable_utf_8=T`, Zeek's default).

use super::text::{self, push_hex_escape};
use super::{AsciiOptions, LogField, ZeekType};
use crate::data::Value;

/// The header up to and including `#types`, with `open` the `#open` timestamp text.
pub(crate) fn header(opts: &AsciiOptions, path: &str, fields: &[LogField], open: &str) -> Vec<u8> {
    let mut out = Vec::new();
    let sep = &opts.separator;
    let mut line = |key: &str, val: &[u8]| {
        out.extend_from_slice(&opts.meta_prefix);
        out.extend_from_slice(key.as_bytes());
        out.extend_from_slice(sep);
        out.extend_from_slice(val);
        out.push(b'\n');
    };
    // The separator line uses a space, since the separator itself is its value.
    let mut first = opts.meta_prefix.clone();
    first.extend_from_slice(b"separator ");
    first.extend_from_slice(&text::header_escape(sep));
    first.push(b'\n');
    line("set_separator", &text::header_escape(&opts.set_separator));
    line("empty_field", &text::header_escape(&opts.empty_field));
    line("unset_field", &text::header_escape(&opts.unset_field));
    line("path", &text::header_escape(path.as_bytes()));
    line("open", open.as_bytes());
    let names: Vec<&[u8]> = fields.iter().map(|f| f.name.as_bytes()).collect();
    line("fields", &names.join(sep.as_slice()));
    let types: Vec<Vec<u8>> = fields.iter().map(|f| f.ty.name().into_bytes()).collect();
    line("types", &types.join(sep.as_slice()));
    first.extend_from_slice(&out);
    first
}

/// The `#close` line.
pub(crate) fn close_line(opts: &AsciiOptions, close: &str) -> Vec<u8> {
    let mut out = opts.meta_prefix.clone();
    out.extend_from_slice(b"close");
    out.extend_from_slice(&opts.separator);
    out.extend_from_slice(close.as_bytes());
    out.push(b'\n');
    out
}

/// An escaping `ODesc` (`EnableEscaping` + `EnableUTF8`) with its escape sequences.
/// Zeek keeps them in a `std::set` (sorted, no duplicates); here they are at most the
/// separator and, inside a container, the set separator, kept sorted the same way.
struct Desc<'a, 'o> {
    out: &'a mut Vec<u8>,
    sep: &'o [u8],
    set_sep: Option<&'o [u8]>,
    utf8: bool,
    /// [`Desc::special`] outside containers, by byte.
    special: &'o [bool; 256],
    /// Whether digits, `.` and `-` are all plain outside containers (numbers can then be
    /// written without looking at their bytes).
    num_plain: bool,
}

/// Bytes that are special whatever the separators: controls, non-ASCII, backslash.
const BASE_SPECIAL: [bool; 256] = {
    let mut t = [false; 256];
    let mut b = 0;
    while b < 256 {
        t[b] = b < 0x20 || b >= 0x7f || b == b'\\' as usize;
        b += 1;
    }
    t
};

impl<'a, 'o> Desc<'a, 'o> {
    fn new(
        out: &'a mut Vec<u8>,
        sep: &'o [u8],
        utf8: bool,
        special: &'o [bool; 256],
    ) -> Desc<'a, 'o> {
        let num_plain = !b"0123456789.-".iter().any(|&b| special[usize::from(b)]);
        Desc {
            out,
            sep,
            set_sep: None,
            utf8,
            special,
            num_plain,
        }
    }

    /// The escape sequences in `std::set` order.
    fn seqs(&self) -> [Option<&'o [u8]>; 2] {
        match self.set_sep {
            None => [Some(self.sep), None],
            Some(ss) if ss == self.sep => [Some(self.sep), None],
            Some(ss) if ss < self.sep => [Some(ss), Some(self.sep)],
            Some(ss) => [Some(self.sep), Some(ss)],
        }
    }

    /// Whether `add` may have to escape at byte `b`: controls, non-ASCII, backslash and
    /// the first byte of an escape sequence. Bytes without any pass through unchanged.
    fn special(&self, b: u8) -> bool {
        !(0x20..0x7f).contains(&b)
            || b == b'\\'
            || self.sep.first() == Some(&b)
            || self.set_sep.is_some_and(|s| s.first() == Some(&b))
    }

    fn plain(&mut self, seg: &[u8]) {
        if self.utf8 {
            let esc = text::escape_utf8(seg, true);
            self.out.extend_from_slice(&esc);
        } else {
            self.out.extend_from_slice(seg);
        }
    }

    /// Numbers may be written as they are (see `num_plain`).
    fn plain_num(&self) -> bool {
        self.num_plain && self.set_sep.is_none()
    }

    fn raw(&mut self, b: &[u8]) {
        self.out.extend_from_slice(b);
    }

    /// `ODesc::AddBytes` with escaping: backslashes and escape sequences become `\xNN`
    /// (backslash as `\\`); the stretches between them pass through `escape_utf8` with
    /// every control escaped. Without UTF-8, any byte outside printable ASCII is an escape
    /// point itself and the stretches pass raw.
    fn add(&mut self, bytes: &[u8]) {
        // Printable ASCII holding neither a backslash nor the start of an escape
        // sequence comes out as it is (what the general path below gives for it).
        let clean = match self.set_sep {
            None => !bytes.iter().any(|&b| self.special[usize::from(b)]),
            Some(_) => !bytes.iter().any(|&b| self.special(b)),
        };
        if clean {
            self.out.extend_from_slice(bytes);
            return;
        }
        let mut s = 0;
        while s < bytes.len() {
            let mut hit = None;
            'scan: for i in s..bytes.len() {
                if (!self.utf8 && !(0x20..0x7f).contains(&bytes[i])) || bytes[i] == b'\\' {
                    hit = Some((i, 1));
                    break;
                }
                for seq in self.seqs().into_iter().flatten() {
                    if !seq.is_empty() && bytes[i..].starts_with(seq) {
                        hit = Some((i, seq.len()));
                        break 'scan;
                    }
                }
            }
            match hit {
                Some((i, n)) => {
                    self.plain(&bytes[s..i]);
                    for &c in &bytes[i..i + n] {
                        if c == b'\\' {
                            self.out.extend_from_slice(b"\\\\");
                        } else {
                            push_hex_escape(self.out, c);
                        }
                    }
                    s = i + n;
                }
                None => {
                    self.plain(&bytes[s..]);
                    break;
                }
            }
        }
    }
}

/// One record line (with its newline). `vals` has been type-checked against `fields`.
pub(crate) fn record(opts: &AsciiOptions, fields: &[LogField], vals: &[Value]) -> Vec<u8> {
    let mut line = Vec::new();
    record_into(opts, fields, vals, &mut line);
    line
}

/// [`record`] appended to `out`.
pub(crate) fn record_into(
    opts: &AsciiOptions,
    fields: &[LogField],
    vals: &[Value],
    out: &mut Vec<u8>,
) {
    let start = out.len();
    // The special bytes: Zeek's default separator (a tab) is a control, special anyway.
    let own;
    let special = match opts.separator.first() {
        Some(&b) if !BASE_SPECIAL[usize::from(b)] => {
            let mut t = BASE_SPECIAL;
            t[usize::from(b)] = true;
            own = t;
            &own
        }
        _ => &BASE_SPECIAL,
    };
    {
        let mut d = Desc::new(out, &opts.separator, opts.enable_utf_8, special);
        for (i, (f, v)) in fields.iter().zip(vals).enumerate() {
            if i > 0 {
                d.raw(&opts.separator);
            }
            describe(&mut d, opts, &f.ty, v);
        }
    }
    out.push(b'\n');
    // A line must not look like a header line: escape its first byte.
    if !opts.meta_prefix.is_empty() && out[start..].starts_with(&opts.meta_prefix) {
        let first = out[start];
        let mut esc = Vec::with_capacity(4);
        push_hex_escape(&mut esc, first);
        out.splice(start..start + 1, esc);
    }
}

fn describe<'o>(d: &mut Desc<'_, 'o>, opts: &'o AsciiOptions, ty: &ZeekType, v: &Value) {
    match v {
        Value::None => d.add(&opts.unset_field),
        Value::Bool(b) => d.add(if *b { b"T" } else { b"F" }),
        // Digits, '.' and '-' need no escaping unless a separator starts with one.
        Value::Integer(i) if d.plain_num() => text::push_i64(d.out, *i),
        Value::Count(c) if d.plain_num() => text::push_u64(d.out, *c),
        Value::Port(p) if d.plain_num() => text::push_u64(d.out, u64::from(p.number)),
        Value::Address(a) if a.is_v4() && d.plain_num() => text::push_v4(d.out, a),
        Value::Real(r)
            if r.is_finite()
                && d.plain_num()
                && matches!(ty, ZeekType::Time | ZeekType::Interval) =>
        {
            text::push_fixed6(d.out, *r)
        }
        Value::Timestamp(ns) | Value::Timespan(ns) if d.plain_num() => {
            text::push_fixed6(d.out, text::ns_to_secs(*ns))
        }
        Value::Integer(i) => d.add(text::i64_dec(*i).as_bytes()),
        Value::Count(c) => d.add(text::u64_dec(*c).as_bytes()),
        Value::Port(p) => d.add(text::u64_dec(u64::from(p.number)).as_bytes()),
        Value::Address(a) => d.add(text::addr_buf(a).as_bytes()),
        Value::Subnet(s) => d.add(text::subnet(s).as_bytes()),
        Value::Real(r) => match ty {
            ZeekType::Time | ZeekType::Interval => d.add(text::fixed6(*r).as_bytes()),
            _ => d.add(text::double(*r).as_bytes()),
        },
        Value::Timestamp(ns) | Value::Timespan(ns) => {
            d.add(text::fixed6(text::ns_to_secs(*ns)).as_bytes())
        }
        Value::String(s) => string_like(d, opts, s),
        Value::Enum(s) => string_like(d, opts, s.as_bytes()),
        Value::Set(s) => container(d, opts, ty, s.iter()),
        Value::Vector(s) => container(d, opts, ty, s.iter()),
        // Type-checked before: log columns hold no tables.
        Value::Table(_) => d.add(&opts.unset_field),
    }
}

fn string_like(d: &mut Desc<'_, '_>, opts: &AsciiOptions, s: &[u8]) {
    if s.is_empty() {
        d.add(&opts.empty_field);
        return;
    }
    // A value equal to a marker gets its first byte escaped so it reads back as itself.
    if s == opts.unset_field.as_slice() || s == opts.empty_field.as_slice() {
        let mut hex = Vec::new();
        push_hex_escape(&mut hex, s[0]);
        d.raw(&hex);
        d.add(&s[1..]);
        return;
    }
    d.add(s);
}

fn container<'v, 'o>(
    d: &mut Desc<'_, 'o>,
    opts: &'o AsciiOptions,
    ty: &ZeekType,
    items: impl ExactSizeIterator<Item = &'v Value>,
) {
    if items.len() == 0 {
        d.add(&opts.empty_field);
        return;
    }
    let elem_ty: &ZeekType = match ty {
        ZeekType::Set(t) | ZeekType::Vector(t) => t,
        other => other,
    };
    // std::set semantics: inserting an existing sequence is a no-op, removing erases it.
    d.set_sep = Some(&opts.set_separator);
    for (j, e) in items.enumerate() {
        if j > 0 {
            d.raw(&opts.set_separator);
        }
        describe(d, opts, elem_ty, e);
    }
    d.set_sep = None;
}
