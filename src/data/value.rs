//! The value type. CONTRACT shared by every module: the variants and field types below are
//! fixed; the data-model work adds Ord/Eq/Hash, constructors and conversions.

use std::collections::{BTreeMap, BTreeSet};

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

// Broker's total order: first by type tag, then by value. Reals use IEEE total order so
// that the order is total (NaN included) and sets behave the same on every node.
impl Ord for Value {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        use Value::*;
        match (self, other) {
            (None, None) => std::cmp::Ordering::Equal,
            (Bool(a), Bool(b)) => a.cmp(b),
            (Count(a), Count(b)) => a.cmp(b),
            (Integer(a), Integer(b)) => a.cmp(b),
            (Real(a), Real(b)) => a.total_cmp(b),
            (String(a), String(b)) => a.cmp(b),
            (Address(a), Address(b)) => a.cmp(b),
            (Subnet(a), Subnet(b)) => a.cmp(b),
            (Port(a), Port(b)) => a.cmp(b),
            (Timestamp(a), Timestamp(b)) => a.cmp(b),
            (Timespan(a), Timespan(b)) => a.cmp(b),
            (Enum(a), Enum(b)) => a.cmp(b),
            (Set(a), Set(b)) => a.cmp(b),
            (Table(a), Table(b)) => a.cmp(b),
            (Vector(a), Vector(b)) => a.cmp(b),
            _ => self.tag().cmp(&other.tag()),
        }
    }
}

impl PartialOrd for Value {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Value {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == std::cmp::Ordering::Equal
    }
}

impl Eq for Value {}
