//! Option values: the Zeek constants a layout file or an option holds (ports, intervals,
//! patterns, ...), and how Zeek prints them.

use std::fmt;
use std::net::IpAddr;

/// A port's transport protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Protocol {
    Unknown = 0,
    Tcp = 1,
    Udp = 2,
    Icmp = 3,
}

impl Protocol {
    pub fn name(self) -> &'static str {
        match self {
            Protocol::Unknown => "unknown",
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
            Protocol::Icmp => "icmp",
        }
    }

    pub fn from_name(s: &str) -> Option<Protocol> {
        match s {
            "unknown" => Some(Protocol::Unknown),
            "tcp" => Some(Protocol::Tcp),
            "udp" => Some(Protocol::Udp),
            "icmp" => Some(Protocol::Icmp),
            _ => None,
        }
    }

    pub fn from_i32(v: i32) -> Option<Protocol> {
        [
            Protocol::Unknown,
            Protocol::Tcp,
            Protocol::Udp,
            Protocol::Icmp,
        ]
        .into_iter()
        .find(|p| *p as i32 == v)
    }

    /// The largest port number Zeek accepts for the protocol (ICMP and unknown ports are
    /// 8-bit in Zeek's scanner).
    pub fn max_number(self) -> u32 {
        match self {
            Protocol::Tcp | Protocol::Udp => 65535,
            Protocol::Icmp | Protocol::Unknown => 255,
        }
    }
}

/// A Zeek port: number and protocol ("47761/tcp").
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Port {
    pub number: u16,
    pub protocol: Protocol,
}

impl Port {
    /// `0/unknown`: Zeek's default for `Cluster::Node$p`, meaning "does not listen".
    pub const UNSET: Port = Port {
        number: 0,
        protocol: Protocol::Unknown,
    };

    pub fn tcp(number: u16) -> Port {
        Port {
            number,
            protocol: Protocol::Tcp,
        }
    }

    /// Parses "47761/tcp"; the error says what was expected.
    pub fn parse(s: &str) -> Result<Port, String> {
        let Some((num, proto)) = s.split_once('/') else {
            return Err(format!("expected a port such as 47761/tcp, found \"{s}\""));
        };
        let Some(protocol) = Protocol::from_name(proto) else {
            return Err(format!(
                "bad port protocol \"{proto}\" in \"{s}\" (expected tcp, udp, icmp or unknown)"
            ));
        };
        if num.is_empty() || !num.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!("expected a port such as 47761/tcp, found \"{s}\""));
        }
        match num.parse::<u32>() {
            Ok(n) if n <= protocol.max_number() => Ok(Port {
                number: n as u16,
                protocol,
            }),
            _ => Err(format!(
                "bad port number in \"{s}\" (0-{} for {})",
                protocol.max_number(),
                protocol.name()
            )),
        }
    }
}

impl fmt::Display for Port {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.number, self.protocol.name())
    }
}

/// The value of a `redef` in a layout, or of an option: the Zeek constant types a layout
/// can hold.
#[derive(Debug, Clone, PartialEq)]
pub enum OptionValue {
    Bool(bool),
    Count(u64),
    Int(i64),
    Double(f64),
    /// Seconds (Zeek intervals are doubles and may be negative).
    Interval(f64),
    String(String),
    /// The pattern's source text between the slashes.
    Pattern(String),
    Port(Port),
    Addr(IpAddr),
    /// An enum constant by its full name ("Broker::SQLITE").
    Enum(String),
    Set(Vec<OptionValue>),
}

impl OptionValue {
    /// What kind of value this is, for messages ("a bool", "an interval").
    pub fn kind(&self) -> &'static str {
        match self {
            OptionValue::Bool(_) => "a bool",
            OptionValue::Count(_) => "a count",
            OptionValue::Int(_) => "an int",
            OptionValue::Double(_) => "a double",
            OptionValue::Interval(_) => "an interval",
            OptionValue::String(_) => "a string",
            OptionValue::Pattern(_) => "a pattern",
            OptionValue::Port(_) => "a port",
            OptionValue::Addr(_) => "an address",
            OptionValue::Enum(_) => "an enum constant",
            OptionValue::Set(_) => "a set",
        }
    }
}

/// Zeek syntax: `T`, `5`, `1.0 min`, `"text"`, `/re/`, `47761/tcp`, `[fe80::1]`,
/// `Broker::SQLITE`, `set("a", "b")`.
impl fmt::Display for OptionValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OptionValue::Bool(b) => f.write_str(if *b { "T" } else { "F" }),
            OptionValue::Count(c) => write!(f, "{c}"),
            OptionValue::Int(i) => write!(f, "{i:+}"),
            OptionValue::Double(d) => f.write_str(&format_double(*d)),
            OptionValue::Interval(s) => f.write_str(&format_interval(*s)),
            OptionValue::String(s) => f.write_str(&quote(s)),
            OptionValue::Pattern(p) => write!(f, "/{p}/"),
            OptionValue::Port(p) => write!(f, "{p}"),
            OptionValue::Addr(IpAddr::V4(a)) => write!(f, "{a}"),
            OptionValue::Addr(IpAddr::V6(a)) => write!(f, "[{a}]"),
            OptionValue::Enum(e) => f.write_str(e),
            OptionValue::Set(items) => {
                f.write_str("set(")?;
                for (i, v) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{v}")?;
                }
                f.write_str(")")
            }
        }
    }
}

/// A Zeek string literal with the escapes Zeek's scanner understands.
pub(crate) fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A double as Zeek prints it: up to six significant decimals, and always a ".0" on
/// integral values ("60.0", "1.5").
pub(crate) fn format_double(d: f64) -> String {
    if !d.is_finite() {
        return format!("{d}");
    }
    let mut s = format!("{:.6}", d);
    while s.ends_with('0') {
        s.pop();
    }
    if s.ends_with('.') {
        s.push('0');
    }
    s
}

/// An interval as Zeek's `IntervalVal::ValDescribe` writes it: whole days, hours, minutes,
/// seconds, milliseconds, then the rest in microseconds, each with its unit ("1.0 min",
/// "1.0 min 30.0 secs", "0 secs").
pub fn format_interval(secs: f64) -> String {
    const UNITS: [(f64, &str); 6] = [
        (86400.0, "day"),
        (3600.0, "hr"),
        (60.0, "min"),
        (1.0, "sec"),
        (1e-3, "msec"),
        (1e-6, "usec"),
    ];
    if secs == 0.0 || !secs.is_finite() {
        return if secs.is_finite() {
            "0 secs".to_string()
        } else {
            format!("{secs} secs")
        };
    }
    let mut v = secs;
    let mut parts: Vec<String> = Vec::new();
    for (i, (unit, word)) in UNITS.iter().enumerate() {
        let n;
        if i == UNITS.len() - 1 {
            n = v / unit;
            if (n - 0.0).abs() < 1e-6 {
                if parts.is_empty() {
                    parts.push("0 secs".to_string());
                }
                break;
            }
        } else {
            if !(v >= *unit || v <= -unit) {
                continue;
            }
            let q = v / unit;
            n = if q < 0.0 { q.ceil() } else { q.floor() };
            v -= n * unit;
        }
        let plural = if (n - 1.0).abs() < 1e-6 || (n + 1.0).abs() < 1e-6 {
            ""
        } else {
            "s"
        };
        parts.push(format!("{} {word}{plural}", format_double(n)));
    }
    parts.join(" ")
}

pub use super::grammar::parse_interval;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_print_as_zeek_does() {
        assert_eq!(format_interval(60.0), "1.0 min");
        assert_eq!(format_interval(1.0), "1.0 sec");
        assert_eq!(format_interval(30.0), "30.0 secs");
        assert_eq!(format_interval(90.0), "1.0 min 30.0 secs");
        assert_eq!(format_interval(7200.0), "2.0 hrs");
        assert_eq!(format_interval(0.0), "0 secs");
        assert_eq!(format_interval(0.5), "500.0 msecs");
        assert_eq!(format_interval(-60.0), "-1.0 min");
        assert_eq!(format_interval(2.0 * 86400.0), "2.0 days");
    }

    #[test]
    fn ports_parse_and_check_ranges() {
        assert_eq!(Port::parse("47761/tcp"), Ok(Port::tcp(47761)));
        assert_eq!(Port::parse("0/unknown"), Ok(Port::UNSET));
        assert_eq!(Port::parse("53/udp").map(|p| p.protocol), Ok(Protocol::Udp));
        assert!(Port::parse("65536/tcp")
            .unwrap_err()
            .contains("bad port number"));
        assert!(Port::parse("256/icmp")
            .unwrap_err()
            .contains("0-255 for icmp"));
        assert!(Port::parse("80/sctp")
            .unwrap_err()
            .contains("bad port protocol"));
        assert!(Port::parse("80").is_err());
    }
}
