//! The value type. CONTRACT shared by every module: the variants and field types below are
//! fixed; the data-model work adds Ord/Eq/Hash, constructors and conversions.

use crate::error::{Error, Result};
use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::{self, Write as _};
use std::hash::{Hash, Hasher};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

/// A transport protocol, with Broker's numbering (`port::protocol`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub enum Protocol {
    Unknown = 0,
    Tcp = 1,
    Udp = 2,
    Icmp = 3,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Port {
    pub number: u16,
    pub protocol: Protocol,
}

/// An IP address as Broker stores it: 16 bytes in network order, IPv4 v4-mapped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Address(pub [u8; 16]);

/// A subnet: the (masked) network address and the prefix length in IPv6 terms
/// (an IPv4 /24 is stored as 120), as Broker does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Subnet {
    pub network: Address,
    pub length: u8,
}

/// One Broker value. The variant order is Broker's tag order (`variant_tag`).
#[derive(Debug, Clone)]
pub enum Value {
    None,
    Bool(bool),
    Count(u64),
    Integer(i64),
    Real(f64),
    /// Bytes: Zeek strings may hold any byte.
    String(Vec<u8>),
    Address(Address),
    Subnet(Subnet),
    Port(Port),
    /// Nanoseconds since the Unix epoch.
    Timestamp(i64),
    /// Nanoseconds.
    Timespan(i64),
    /// The enum's (fully qualified) name; Broker carries no number.
    Enum(String),
    Set(BTreeSet<Value>),
    Table(BTreeMap<Value, Value>),
    Vector(Vec<Value>),
}

impl Value {
    /// Broker's type tag (`variant_tag`), also the first byte of the binary encoding.
    pub fn tag(&self) -> u8 {
        match self {
            Value::None => 0,
            Value::Bool(_) => 1,
            Value::Count(_) => 2,
            Value::Integer(_) => 3,
            Value::Real(_) => 4,
            Value::String(_) => 5,
            Value::Address(_) => 6,
            Value::Subnet(_) => 7,
            Value::Port(_) => 8,
            Value::Timestamp(_) => 9,
            Value::Timespan(_) => 10,
            Value::Enum(_) => 11,
            Value::Set(_) => 12,
            Value::Table(_) => 13,
            Value::Vector(_) => 14,
        }
    }
}

// Broker's total order: first by type tag, then by value, as `std::variant`'s `<` does in
// Broker. Reals compare as C++ doubles do, so -0.0 == 0.0 (a set holds only one of them,
// as in Broker). Broker leaves NaN unordered (undefined behaviour in a std::set); here a
// NaN equals every NaN and sorts after every number, so the order stays total.
impl Ord for Value {
    fn cmp(&self, other: &Self) -> Ordering {
        use Value::*;
        match (self, other) {
            (None, None) => Ordering::Equal,
            (Bool(a), Bool(b)) => a.cmp(b),
            (Count(a), Count(b)) => a.cmp(b),
            (Integer(a), Integer(b)) => a.cmp(b),
            (Real(a), Real(b)) => cmp_real(*a, *b),
            (String(a), String(b)) => a.cmp(b),
            (Address(a), Address(b)) => a.cmp(b),
            (Subnet(a), Subnet(b)) => a.cmp(b),
            (Port(a), Port(b)) => a.cmp(b),
            (Timestamp(a), Timestamp(b)) => a.cmp(b),
            (Timespan(a), Timespan(b)) => a.cmp(b),
            (Enum(a), Enum(b)) => a.cmp(b),
            (Set(a), Set(b)) => a.iter().cmp(b.iter()),
            // std::map's `<` is a lexicographic compare of (key, value) pairs; BTreeMap's
            // Ord is the same, which the golden bytes of tables inside sets confirm.
            (Table(a), Table(b)) => a.iter().cmp(b.iter()),
            (Vector(a), Vector(b)) => a.iter().cmp(b.iter()),
            _ => self.tag().cmp(&other.tag()),
        }
    }
}

fn cmp_real(a: f64, b: f64) -> Ordering {
    match a.partial_cmp(&b) {
        Some(o) => o,
        Option::None => match (a.is_nan(), b.is_nan()) {
            (true, true) => Ordering::Equal,
            (true, false) => Ordering::Greater,
            _ => Ordering::Less,
        },
    }
}

impl PartialOrd for Value {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Value {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Value {}

impl Hash for Value {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u8(self.tag());
        match self {
            Value::None => {}
            Value::Bool(b) => b.hash(state),
            Value::Count(c) => c.hash(state),
            Value::Integer(i) => i.hash(state),
            Value::Real(r) => {
                // Equal reals must hash alike: fold -0.0 into 0.0 and every NaN into one.
                let bits = if *r == 0.0 {
                    0u64
                } else if r.is_nan() {
                    u64::MAX
                } else {
                    r.to_bits()
                };
                bits.hash(state)
            }
            Value::String(s) => s.hash(state),
            Value::Address(a) => a.hash(state),
            Value::Subnet(s) => s.hash(state),
            Value::Port(p) => p.hash(state),
            Value::Timestamp(t) => t.hash(state),
            Value::Timespan(t) => t.hash(state),
            Value::Enum(e) => e.hash(state),
            Value::Set(s) => {
                state.write_usize(s.len());
                for x in s {
                    x.hash(state);
                }
            }
            Value::Table(t) => {
                state.write_usize(t.len());
                for (k, v) in t {
                    k.hash(state);
                    v.hash(state);
                }
            }
            Value::Vector(v) => {
                state.write_usize(v.len());
                for x in v {
                    x.hash(state);
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// Names and conversions

/// The `@data-type` names of Broker's JSON form, indexed by tag.
pub const TYPE_NAMES: [&str; 15] = [
    "none",
    "boolean",
    "count",
    "integer",
    "real",
    "string",
    "address",
    "subnet",
    "port",
    "timestamp",
    "timespan",
    "enum-value",
    "set",
    "table",
    "vector",
];

impl Value {
    /// Broker's name for this value's type (`"count"`, `"enum-value"`, ...).
    pub fn type_name(&self) -> &'static str {
        TYPE_NAMES[self.tag() as usize]
    }

    /// A string value from text.
    pub fn string(s: impl Into<String>) -> Value {
        Value::String(s.into().into_bytes())
    }

    /// An enum value from its (qualified) name.
    pub fn enum_value(name: impl Into<String>) -> Value {
        Value::Enum(name.into())
    }

    /// The string's bytes as text, if this is a string holding valid UTF-8.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(b) => std::str::from_utf8(b).ok(),
            _ => Option::None,
        }
    }

    pub fn as_count(&self) -> Option<u64> {
        match self {
            Value::Count(c) => Some(*c),
            _ => Option::None,
        }
    }

    pub fn as_vector(&self) -> Option<&[Value]> {
        match self {
            Value::Vector(v) => Some(v),
            _ => Option::None,
        }
    }

    /// The number of elements of a container (set, table, vector); None otherwise.
    pub fn container_len(&self) -> Option<usize> {
        match self {
            Value::Set(s) => Some(s.len()),
            Value::Table(t) => Some(t.len()),
            Value::Vector(v) => Some(v.len()),
            _ => Option::None,
        }
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Value::Bool(b)
    }
}
impl From<u64> for Value {
    fn from(c: u64) -> Self {
        Value::Count(c)
    }
}
impl From<i64> for Value {
    fn from(i: i64) -> Self {
        Value::Integer(i)
    }
}
impl From<f64> for Value {
    fn from(r: f64) -> Self {
        Value::Real(r)
    }
}
impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::String(s.as_bytes().to_vec())
    }
}
impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::String(s.into_bytes())
    }
}
impl From<Address> for Value {
    fn from(a: Address) -> Self {
        Value::Address(a)
    }
}
impl From<IpAddr> for Value {
    fn from(a: IpAddr) -> Self {
        Value::Address(a.into())
    }
}
impl From<Subnet> for Value {
    fn from(s: Subnet) -> Self {
        Value::Subnet(s)
    }
}
impl From<Port> for Value {
    fn from(p: Port) -> Self {
        Value::Port(p)
    }
}
impl From<Vec<Value>> for Value {
    fn from(v: Vec<Value>) -> Self {
        Value::Vector(v)
    }
}
impl From<BTreeSet<Value>> for Value {
    fn from(s: BTreeSet<Value>) -> Self {
        Value::Set(s)
    }
}
impl From<BTreeMap<Value, Value>> for Value {
    fn from(t: BTreeMap<Value, Value>) -> Self {
        Value::Table(t)
    }
}

// ---------------------------------------------------------------------------------------
// Address

const V4_MAPPED_PREFIX: [u8; 12] = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff];

impl Address {
    /// Whether this is an IPv4 address (stored v4-mapped, `::ffff:a.b.c.d`).
    pub fn is_v4(&self) -> bool {
        self.0[..12] == V4_MAPPED_PREFIX
    }

    pub fn from_v4(a: Ipv4Addr) -> Address {
        let mut b = [0u8; 16];
        b[..12].copy_from_slice(&V4_MAPPED_PREFIX);
        b[12..].copy_from_slice(&a.octets());
        Address(b)
    }

    /// The standard-library form: an `Ipv4Addr` for a v4-mapped address.
    pub fn to_ip(&self) -> IpAddr {
        if self.is_v4() {
            IpAddr::V4(Ipv4Addr::new(
                self.0[12], self.0[13], self.0[14], self.0[15],
            ))
        } else {
            IpAddr::V6(Ipv6Addr::from(self.0))
        }
    }

    /// Clears every bit after the first `len` (in IPv6 terms, 0..=128).
    pub fn masked(&self, len: u8) -> Address {
        let mut b = self.0;
        for (i, byte) in b.iter_mut().enumerate() {
            let first_bit = (i * 8) as u32;
            let len = u32::from(len);
            if len <= first_bit {
                *byte = 0;
            } else if len < first_bit + 8 {
                let keep = len - first_bit;
                *byte &= 0xffu8 << (8 - keep);
            }
        }
        Address(b)
    }
}

impl From<IpAddr> for Address {
    fn from(a: IpAddr) -> Self {
        match a {
            IpAddr::V4(v4) => Address::from_v4(v4),
            IpAddr::V6(v6) => Address(v6.octets()),
        }
    }
}
impl From<Ipv4Addr> for Address {
    fn from(a: Ipv4Addr) -> Self {
        Address::from_v4(a)
    }
}
impl From<Ipv6Addr> for Address {
    fn from(a: Ipv6Addr) -> Self {
        Address(a.octets())
    }
}

impl FromStr for Address {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        s.trim().parse::<IpAddr>().map(Address::from).map_err(|_| {
            Error::invalid(format!(
                "invalid address \"{s}\": expected IPv4 dotted quad or IPv6 text"
            ))
        })
    }
}

/// Dotted quad for IPv4 (v4-mapped), RFC 5952 text for IPv6, as CAF writes them.
impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.to_ip() {
            IpAddr::V4(a) => write!(f, "{a}"),
            IpAddr::V6(a) => write!(f, "{a}"),
        }
    }
}

// ---------------------------------------------------------------------------------------
// Subnet

impl Subnet {
    /// A subnet from an address and a prefix length in the address's own family terms
    /// (0..=32 for IPv4, 0..=128 for IPv6). Host bits are cleared, as Broker does.
    pub fn new(addr: Address, prefix_len: u8) -> Result<Subnet> {
        let length = if addr.is_v4() {
            if prefix_len > 32 {
                return Err(Error::invalid(format!(
                    "subnet prefix length {prefix_len} is out of range for IPv4 (0..=32)"
                )));
            }
            prefix_len + 96
        } else {
            if prefix_len > 128 {
                return Err(Error::invalid(format!(
                    "subnet prefix length {prefix_len} is out of range for IPv6 (0..=128)"
                )));
            }
            prefix_len
        };
        Ok(Subnet {
            network: addr.masked(length),
            length,
        })
    }

    /// Whether this is an IPv4 subnet (v4-mapped network, length >= 96).
    pub fn is_v4(&self) -> bool {
        self.network.is_v4() && self.length >= 96
    }

    /// The prefix length in the network's own family terms (IPv4 /24 gives 24).
    pub fn prefix_len(&self) -> u8 {
        if self.is_v4() {
            self.length - 96
        } else {
            self.length
        }
    }

    pub fn contains(&self, addr: &Address) -> bool {
        addr.masked(self.length) == self.network
    }
}

impl FromStr for Subnet {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        let t = s.trim();
        let Some((a, l)) = t.split_once('/') else {
            return Err(Error::invalid(format!(
                "invalid subnet \"{s}\": expected address/length"
            )));
        };
        let addr: Address = a.parse()?;
        let len: u8 = l.parse().map_err(|_| {
            Error::invalid(format!("invalid subnet \"{s}\": bad prefix length \"{l}\""))
        })?;
        Subnet::new(addr, len)
    }
}

impl fmt::Display for Subnet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_v4() {
            write!(f, "{}/{}", self.network, self.prefix_len())
        } else {
            // A v4-mapped network with a length below 96 (only from foreign bytes) is
            // shown in IPv6 terms rather than with a wrapped length.
            let a = Ipv6Addr::from(self.network.0);
            if self.network.is_v4() {
                write!(f, "{a}/{}", self.length)
            } else {
                write!(f, "{}/{}", self.network, self.length)
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// Port

impl Protocol {
    /// From Broker's number (0..=3).
    pub fn from_u8(n: u8) -> Option<Protocol> {
        match n {
            0 => Some(Protocol::Unknown),
            1 => Some(Protocol::Tcp),
            2 => Some(Protocol::Udp),
            3 => Some(Protocol::Icmp),
            _ => Option::None,
        }
    }

    /// `tcp`, `udp`, `icmp` or `?`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Protocol::Unknown => "?",
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
            Protocol::Icmp => "icmp",
        }
    }
}

impl Port {
    pub fn new(number: u16, protocol: Protocol) -> Port {
        Port { number, protocol }
    }
}

/// Broker's port syntax: `N/tcp`, `N/udp`, `N/icmp`; any other protocol text is
/// `unknown` (`N/?`); a bare number is TCP.
impl FromStr for Port {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        let t = s.trim();
        let (num, proto) = match t.split_once('/') {
            Some((n, p)) => (n, Some(p)),
            Option::None => (t, Option::None),
        };
        let number: u16 = num.parse().map_err(|_| {
            Error::invalid(format!(
                "invalid port \"{s}\": expected a number 0..=65535, then /tcp, /udp, /icmp or /?"
            ))
        })?;
        let protocol = match proto {
            Option::None => Protocol::Tcp,
            Some("tcp") => Protocol::Tcp,
            Some("udp") => Protocol::Udp,
            Some("icmp") => Protocol::Icmp,
            Some(_) => Protocol::Unknown,
        };
        Ok(Port { number, protocol })
    }
}

impl fmt::Display for Port {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.number, self.protocol.as_str())
    }
}

// ---------------------------------------------------------------------------------------
// Display: Zeek-like text

/// Writes a byte string the way Zeek prints strings: printable ASCII as is, everything
/// else as `\xNN`.
pub(crate) fn write_escaped_bytes(f: &mut impl fmt::Write, bytes: &[u8]) -> fmt::Result {
    for &b in bytes {
        match b {
            b'\\' => f.write_str("\\\\")?,
            0x20..=0x7e => f.write_char(b as char)?,
            _ => write!(f, "\\x{b:02x}")?,
        }
    }
    Ok(())
}

/// Splits nanoseconds since the epoch into a civil UTC date and time.
pub(crate) fn civil_from_ns(ns: i64) -> (i64, u32, u32, u32, u32, u32, u32) {
    let secs = ns.div_euclid(1_000_000_000);
    let nanos = ns.rem_euclid(1_000_000_000) as u32;
    let (y, m, d, hh, mm, ss) = civil_from_secs(secs);
    (y, m, d, hh, mm, ss, nanos)
}

pub(crate) fn civil_from_secs(secs: i64) -> (i64, u32, u32, u32, u32, u32) {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Howard Hinnant's days-to-civil algorithm.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = if m <= 2 { y + 1 } else { y };
    (
        y,
        m,
        d,
        (rem / 3600) as u32,
        ((rem % 3600) / 60) as u32,
        (rem % 60) as u32,
    )
}

/// Days since the epoch of a civil date (proleptic Gregorian).
pub(crate) fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(m);
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn write_timespan(f: &mut fmt::Formatter<'_>, ns: i64) -> fmt::Result {
    // Zeek prints intervals in the largest exact unit.
    let units: [(i64, &str); 7] = [
        (86_400_000_000_000, "d"),
        (3_600_000_000_000, "h"),
        (60_000_000_000, "min"),
        (1_000_000_000, "s"),
        (1_000_000, "ms"),
        (1_000, "us"),
        (1, "ns"),
    ];
    if ns == 0 {
        return f.write_str("0s");
    }
    for (n, u) in units {
        if ns % n == 0 {
            return write!(f, "{}{u}", ns / n);
        }
    }
    write!(f, "{ns}ns")
}

/// Zeek-like text: `T`/`F`, counts and integers in decimal, reals with `%g`-like
/// shortest form, strings quoted with `\xNN` escapes, timestamps as ISO 8601 UTC with
/// nanoseconds, containers as `{a, b}`, `{k -> v}` and `[a, b]`.
impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::None => f.write_str("nil"),
            Value::Bool(b) => f.write_str(if *b { "T" } else { "F" }),
            Value::Count(c) => write!(f, "{c}"),
            Value::Integer(i) => write!(f, "{i}"),
            Value::Real(r) => {
                if r.is_finite() && r.fract() == 0.0 && r.abs() < 1e16 {
                    write!(f, "{r:.1}")
                } else {
                    write!(f, "{r}")
                }
            }
            Value::String(s) => {
                f.write_char('"')?;
                for &b in s {
                    if b == b'"' {
                        f.write_str("\\\"")?;
                    } else {
                        write_escaped_bytes(f, &[b])?;
                    }
                }
                f.write_char('"')
            }
            Value::Address(a) => write!(f, "{a}"),
            Value::Subnet(s) => write!(f, "{s}"),
            Value::Port(p) => write!(f, "{p}"),
            Value::Timestamp(ns) => {
                let (y, mo, d, h, mi, s, n) = civil_from_ns(*ns);
                write!(f, "{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{n:09}Z")
            }
            Value::Timespan(ns) => write_timespan(f, *ns),
            Value::Enum(e) => f.write_str(e),
            Value::Set(s) => {
                f.write_char('{')?;
                for (i, x) in s.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{x}")?;
                }
                f.write_char('}')
            }
            Value::Table(t) => {
                f.write_char('{')?;
                for (i, (k, v)) in t.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{k} -> {v}")?;
                }
                f.write_char('}')
            }
            Value::Vector(v) => {
                f.write_char('[')?;
                for (i, x) in v.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{x}")?;
                }
                f.write_char(']')
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordering_follows_tags_then_values() {
        assert!(Value::Bool(true) < Value::Count(0));
        assert!(Value::Count(u64::MAX) < Value::Integer(i64::MIN));
        assert_eq!(Value::Real(-0.0), Value::Real(0.0));
        assert!(Value::Real(f64::NAN) > Value::Real(f64::INFINITY));
        assert_eq!(Value::Real(f64::NAN), Value::Real(f64::NAN));
        assert!(Value::from("a") < Value::from("ab"));
        assert!(Value::from("ab") < Value::from("zz"));
    }

    #[test]
    fn hash_agrees_with_eq() {
        use std::collections::HashSet;
        let mut s = HashSet::new();
        s.insert(Value::Real(0.0));
        assert!(s.contains(&Value::Real(-0.0)));
        s.insert(Value::Real(f64::NAN));
        assert!(s.contains(&Value::Real(-f64::NAN)));
        let t = |k: &str| Value::Table([(Value::from(k), Value::Count(1))].into_iter().collect());
        s.insert(t("a"));
        assert!(s.contains(&t("a")) && !s.contains(&t("b")));
        assert_eq!(s.len(), 3);
    }

    #[test]
    fn subnet_masks_and_keeps_family_terms() {
        let s: Subnet = "192.168.99.77/24".parse().unwrap();
        assert_eq!(s.length, 120);
        assert_eq!(s.to_string(), "192.168.99.0/24");
        let s: Subnet = "2001:db8::1/32".parse().unwrap();
        assert_eq!(s.to_string(), "2001:db8::/32");
        assert!("10.0.0.0/33".parse::<Subnet>().is_err());
        assert!("::/129".parse::<Subnet>().is_err());
        assert!(s.contains(&"2001:db8::5".parse().unwrap()));
    }

    #[test]
    fn ports_parse_like_broker() {
        assert_eq!(
            "80/tcp".parse::<Port>().unwrap(),
            Port::new(80, Protocol::Tcp)
        );
        assert_eq!(
            "53/udp".parse::<Port>().unwrap(),
            Port::new(53, Protocol::Udp)
        );
        assert_eq!(
            "8/icmp".parse::<Port>().unwrap(),
            Port::new(8, Protocol::Icmp)
        );
        assert_eq!(
            "0/?".parse::<Port>().unwrap(),
            Port::new(0, Protocol::Unknown)
        );
        assert_eq!(
            "7/sctp".parse::<Port>().unwrap(),
            Port::new(7, Protocol::Unknown)
        );
        assert_eq!("22".parse::<Port>().unwrap(), Port::new(22, Protocol::Tcp));
        assert!("70000/tcp".parse::<Port>().is_err());
        assert_eq!(Port::new(0, Protocol::Unknown).to_string(), "0/?");
    }

    #[test]
    fn addresses_map_v4() {
        let a: Address = "10.1.2.3".parse().unwrap();
        assert!(a.is_v4());
        assert_eq!(a.to_string(), "10.1.2.3");
        let b: Address = "2001:db8::1".parse().unwrap();
        assert_eq!(b.to_string(), "2001:db8::1");
        assert!(!b.is_v4());
    }

    #[test]
    fn civil_dates_round_trip() {
        for &secs in &[
            0i64,
            -1,
            86_399,
            1_649_574_000,
            -9_223_372_036,
            9_223_372_036,
        ] {
            let (y, m, d, hh, mm, ss) = civil_from_secs(secs);
            let back = days_from_civil(y, m, d) * 86_400
                + i64::from(hh) * 3600
                + i64::from(mm) * 60
                + i64::from(ss);
            assert_eq!(back, secs);
        }
        assert_eq!(civil_from_secs(1_649_574_000), (2022, 4, 10, 7, 0, 0));
    }

    #[test]
    fn display_is_zeek_like() {
        assert_eq!(Value::Timespan(1_500_000_000).to_string(), "1500ms");
        assert_eq!(Value::Timespan(-60_000_000_000).to_string(), "-1min");
        assert_eq!(
            Value::Timestamp(0).to_string(),
            "1970-01-01T00:00:00.000000000Z"
        );
        assert_eq!(
            Value::String(b"a\xff\"".to_vec()).to_string(),
            "\"a\\xff\\\"\""
        );
        let v = Value::Vector(vec![Value::Bool(true), Value::Real(1.0)]);
        assert_eq!(v.to_string(), "[T, 1.0]");
    }
}
