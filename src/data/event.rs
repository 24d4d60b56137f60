//! A Zeek event on top of Broker data. CONTRACT: the struct's fields are fixed; the
//! data-model work adds the conversion to and from Broker's `[1, 1, [name, args, meta?]]`.

use super::Value;
use crate::error::{Error, Result};

/// A Zeek event: a name, its arguments, and Zeek's optional metadata as `(key, value)`
/// pairs (key 1 = network timestamp; keys >= 200 are free for users).
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub name: String,
    pub args: Vec<Value>,
    pub metadata: Vec<(u64, Value)>,
}

/// Zeek's metadata key for the network timestamp.
pub const METADATA_NETWORK_TIMESTAMP: u64 = 1;
/// The first metadata key free for users.
pub const METADATA_USER_START: u64 = 200;

// Broker's binary type tags used by the event layout below.
const VECTOR: u8 = 14;
const COUNT: u8 = 2;
const STRING: u8 = 5;

impl Event {
    /// An event without arguments or metadata.
    pub fn new(name: impl Into<String>) -> Event {
        Event {
            name: name.into(),
            args: Vec::new(),
            metadata: Vec::new(),
        }
    }

    /// An event with arguments and no metadata.
    pub fn with_args(name: impl Into<String>, args: Vec<Value>) -> Event {
        Event {
            name: name.into(),
            args,
            metadata: Vec::new(),
        }
    }

    /// Zeek's message layout: `[count 1, count 1, [name, [args...], metadata?]]`; the
    /// metadata vector (of `[count key, value]` pairs) is present only when non-empty,
    /// as Zeek writes it.
    pub fn to_value(&self) -> Value {
        let mut content = vec![
            Value::from(self.name.as_str()),
            Value::Vector(self.args.clone()),
        ];
        if !self.metadata.is_empty() {
            content.push(Value::Vector(
                self.metadata
                    .iter()
                    .map(|(k, v)| Value::Vector(vec![Value::Count(*k), v.clone()]))
                    .collect(),
            ));
        }
        Value::Vector(vec![
            Value::Count(1),
            Value::Count(1),
            Value::Vector(content),
        ])
    }

    /// Reads a Zeek event with Zeek's validation (`broker/zeek.hh`): an outer vector of at
    /// least 3 elements, version count 1, type count 1 (event), content a vector of at
    /// least 2 elements: a string name (UTF-8 here), a vector of arguments and, optionally,
    /// a vector of `[count, value]` metadata pairs where key 1 must hold a timestamp.
    pub fn from_value(v: &Value) -> Result<Event> {
        let bad = |why: String| Error::type_mismatch(format!("not a Zeek event: {why}"));
        let outer = v
            .as_vector()
            .ok_or_else(|| bad(format!("expected a vector, got {}", v.type_name())))?;
        if outer.len() < 3 {
            return Err(bad(format!(
                "expected [version, type, content], got {} element(s)",
                outer.len()
            )));
        }
        match &outer[0] {
            Value::Count(1) => {}
            Value::Count(n) => {
                return Err(bad(format!("unsupported format version {n} (expected 1)")))
            }
            other => {
                return Err(bad(format!(
                    "version must be a count, got {}",
                    other.type_name()
                )))
            }
        }
        match &outer[1] {
            Value::Count(1) => {}
            Value::Count(n) => return Err(bad(format!("message type {n} is not an event (1)"))),
            other => {
                return Err(bad(format!(
                    "message type must be a count, got {}",
                    other.type_name()
                )))
            }
        }
        let content = outer[2].as_vector().ok_or_else(|| {
            bad(format!(
                "content must be a vector, got {}",
                outer[2].type_name()
            ))
        })?;
        if content.len() < 2 {
            return Err(bad(format!(
                "content needs [name, args], got {} element(s)",
                content.len()
            )));
        }
        let name = match &content[0] {
            Value::String(b) => String::from_utf8(b.clone())
                .map_err(|_| bad("event name is not valid UTF-8".to_string()))?,
            other => {
                return Err(bad(format!(
                    "name must be a string, got {}",
                    other.type_name()
                )))
            }
        };
        let args = content[1]
            .as_vector()
            .ok_or_else(|| {
                bad(format!(
                    "args must be a vector, got {}",
                    content[1].type_name()
                ))
            })?
            .to_vec();
        let mut metadata = Vec::new();
        if let Some(meta) = content.get(2) {
            let entries = meta.as_vector().ok_or_else(|| {
                bad(format!(
                    "metadata must be a vector, got {}",
                    meta.type_name()
                ))
            })?;
            for (i, e) in entries.iter().enumerate() {
                let pair = match e.as_vector() {
                    Some(p) if p.len() == 2 => p,
                    _ => {
                        return Err(bad(format!(
                            "metadata entry {i} must be a [count, value] pair"
                        )))
                    }
                };
                let key = pair[0]
                    .as_count()
                    .ok_or_else(|| bad(format!("metadata entry {i}: key must be a count")))?;
                if key == METADATA_NETWORK_TIMESTAMP && !matches!(pair[1], Value::Timestamp(_)) {
                    return Err(bad(format!(
                        "metadata entry {i}: key 1 (network timestamp) must hold a timestamp, got {}",
                        pair[1].type_name()
                    )));
                }
                metadata.push((key, pair[1].clone()));
            }
        }
        Ok(Event {
            name,
            args,
            metadata,
        })
    }

    /// The network timestamp (metadata key 1), in ns since the epoch.
    pub fn network_timestamp(&self) -> Option<i64> {
        self.metadata.iter().find_map(|(k, v)| match (k, v) {
            (&METADATA_NETWORK_TIMESTAMP, Value::Timestamp(t)) => Some(*t),
            _ => None,
        })
    }

    /// Sets (or replaces) the network timestamp.
    pub fn set_network_timestamp(&mut self, ns: i64) {
        self.metadata
            .retain(|(k, _)| *k != METADATA_NETWORK_TIMESTAMP);
        self.metadata
            .insert(0, (METADATA_NETWORK_TIMESTAMP, Value::Timestamp(ns)));
    }

    /// The binary payload of a data message carrying this event.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(48 + self.name.len() + 16 * self.args.len());
        self.encode_into(&mut out);
        out
    }

    /// Appends the binary payload of a data message carrying this event: the encoding of
    /// `to_value()`, written directly (no intermediate value, no copies of the arguments).
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        use super::bin::{encode, write_varbyte};
        out.push(VECTOR);
        write_varbyte(3, out);
        for _ in 0..2 {
            out.push(COUNT);
            out.extend_from_slice(&1u64.to_be_bytes());
        }
        out.push(VECTOR);
        write_varbyte(if self.metadata.is_empty() { 2 } else { 3 }, out);
        out.push(STRING);
        write_varbyte(self.name.len() as u32, out);
        out.extend_from_slice(self.name.as_bytes());
        out.push(VECTOR);
        write_varbyte(self.args.len() as u32, out);
        for a in &self.args {
            encode(a, out);
        }
        if !self.metadata.is_empty() {
            out.push(VECTOR);
            write_varbyte(self.metadata.len() as u32, out);
            for (k, v) in &self.metadata {
                out.push(VECTOR);
                write_varbyte(2, out);
                out.push(COUNT);
                out.extend_from_slice(&k.to_be_bytes());
                encode(v, out);
            }
        }
    }

    /// The name of the event a data message payload carries, read from the payload's first
    /// bytes without decoding the arguments (None when the payload does not start the way
    /// an event's encoding does: `[count 1, count 1, [string name, ...]]`). It does not
    /// validate the rest; `from_bytes` does.
    pub fn name_of(bytes: &[u8]) -> Option<&[u8]> {
        use super::bin::read_varbyte;
        let mut at = 0usize;
        let mut take = |n: usize| -> Option<&[u8]> {
            let s = bytes.get(at..at.checked_add(n)?)?;
            at += n;
            Some(s)
        };
        if take(1)? != [VECTOR] || take(1)? != [3] {
            return None;
        }
        for _ in 0..2 {
            if take(9)? != [COUNT, 0, 0, 0, 0, 0, 0, 0, 1] {
                return None;
            }
        }
        if take(1)? != [VECTOR] || !matches!(take(1)?, [2] | [3]) || take(1)? != [STRING] {
            return None;
        }
        let (len, used) = read_varbyte(bytes.get(at..)?).ok()?;
        at += used;
        bytes.get(at..at.checked_add(len as usize)?)
    }

    /// Decodes a data message payload as an event.
    pub fn from_bytes(bytes: &[u8]) -> Result<Event> {
        Event::from_value(&super::bin::decode(bytes)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn direct_encoding_equals_the_values_encoding() {
        let mut with_meta = Event::with_args(
            "Demo::ping",
            vec![Value::String(b"hello".to_vec()), Value::Count(42)],
        );
        with_meta.set_network_timestamp(1_700_000_000_000_000_000);
        with_meta
            .metadata
            .push((200, Value::Vector(vec![Value::Bool(true)])));
        let long_name = Event::with_args("x".repeat(300), vec![Value::None; 200]);
        for e in [
            Event::new("Demo::empty"),
            Event::with_args(
                "Demo::ping",
                vec![Value::String(b"hello".to_vec()), Value::Count(42)],
            ),
            with_meta,
            long_name,
        ] {
            assert_eq!(e.to_bytes(), crate::data::bin::encode_to_vec(&e.to_value()));
            assert_eq!(Event::from_bytes(&e.to_bytes()).unwrap(), e);
            assert_eq!(Event::name_of(&e.to_bytes()), Some(e.name.as_bytes()));
        }
        // Not events: other values, truncations, a wrong version.
        assert_eq!(
            Event::name_of(&crate::data::bin::encode_to_vec(&Value::Count(1))),
            None
        );
        let b = Event::new("Demo::x").to_bytes();
        // Header (21 bytes), name vector and its string tag and length (3), the name (7).
        for cut in 0..21 + 3 + 7 {
            assert_eq!(Event::name_of(&b[..cut]), None, "cut at {cut}");
        }
        let mut v2 = b.clone();
        v2[10] = 2;
        assert_eq!(Event::name_of(&v2), None);
    }

    #[test]
    fn golden_demo_ping_matches_broker() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../shared/golden/event_demo_ping.payload.hex");
        let hex =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let hex = hex.trim();
        let bytes: Vec<u8> = (0..hex.len() / 2)
            .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap())
            .collect();
        let ev = Event::with_args("Demo::ping", vec![Value::from("hi"), Value::Count(1)]);
        assert_eq!(ev.to_bytes(), bytes);
        assert_eq!(Event::from_bytes(&bytes).unwrap(), ev);
    }

    #[test]
    fn metadata_round_trips_and_is_validated() {
        let mut ev = Event::with_args("a", vec![]);
        ev.set_network_timestamp(42);
        ev.metadata.push((200, Value::from("x")));
        let back = Event::from_value(&ev.to_value()).unwrap();
        assert_eq!(back, ev);
        assert_eq!(back.network_timestamp(), Some(42));
        let bad = Value::Vector(vec![
            Value::Count(1),
            Value::Count(1),
            Value::Vector(vec![
                Value::from("a"),
                Value::Vector(vec![]),
                Value::Vector(vec![Value::Vector(vec![Value::Count(1), Value::Count(5)])]),
            ]),
        ]);
        let e = Event::from_value(&bad).unwrap_err();
        assert!(e.message.contains("key 1"), "{e}");
        for (v, what) in [
            (Value::Count(1), "expected a vector"),
            (
                Value::Vector(vec![
                    Value::Count(2),
                    Value::Count(1),
                    Value::Vector(vec![]),
                ]),
                "version 2",
            ),
            (
                Value::Vector(vec![
                    Value::Count(1),
                    Value::Count(3),
                    Value::Vector(vec![]),
                ]),
                "type 3",
            ),
            (
                Value::Vector(vec![
                    Value::Count(1),
                    Value::Count(1),
                    Value::Vector(vec![Value::Count(1), Value::Vector(vec![])]),
                ]),
                "name must be a string",
            ),
        ] {
            let e = Event::from_value(&v).unwrap_err();
            assert!(e.message.contains(what), "{e} vs {what}");
        }
    }
}
