//! Broker's `internal_command` (`libbroker/broker/internal_command.hh`), the payload of a
//! command envelope on a store topic, encoded with Broker's generic binary rules
//! (broker.md 6.4, 6.5): `seq` u64, `sender` entity_id, `receiver` entity_id, then the
//! content variant as a u8 index followed by the alternative's fields in declaration
//! order. Integers are big-endian; `optional<T>` is a u8 flag then T; an entity_id is 16
//! raw endpoint bytes then the object u64; vectors and maps are a varbyte count then the
//! elements; `data` is a tagged value.

use super::codec::{decode_value_prefix, encode_value, read_varbyte, write_len};
use crate::data::Value;
use crate::error::{Error, Result};
use std::collections::BTreeMap;

/// Broker's `entity_id`: an endpoint plus an object number (0 = the endpoint itself).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct EntityId {
    pub endpoint: [u8; 16],
    pub object: u64,
}

impl EntityId {
    /// The nil id: all-zero endpoint, object 0 (Broker: broadcast receiver).
    pub const NIL: EntityId = EntityId {
        endpoint: [0; 16],
        object: 0,
    };

    pub fn new(endpoint: [u8; 16], object: u64) -> Self {
        EntityId { endpoint, object }
    }

    pub fn is_nil(&self) -> bool {
        *self == Self::NIL
    }
}

/// A store snapshot as `ack_clone` carries it (Broker: `unordered_map<data, data>`).
pub type Snapshot = BTreeMap<Value, Value>;

/// Broker's `command_tag`: who may send a command and how a channel treats it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommandTag {
    Action,
    ProducerControl,
    ConsumerControl,
}

/// The content alternatives, in Broker's variant order (the index is on the wire).
/// Expiries are relative timespans in nanoseconds.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    Put {
        key: Value,
        value: Value,
        expiry: Option<i64>,
        publisher: EntityId,
    },
    PutUnique {
        key: Value,
        value: Value,
        expiry: Option<i64>,
        who: EntityId,
        req_id: u64,
        publisher: EntityId,
    },
    PutUniqueResult {
        inserted: bool,
        who: EntityId,
        req_id: u64,
        publisher: EntityId,
    },
    Erase {
        key: Value,
        publisher: EntityId,
    },
    Expire {
        key: Value,
        publisher: EntityId,
    },
    Add {
        key: Value,
        value: Value,
        init_type: u8,
        expiry: Option<i64>,
        publisher: EntityId,
    },
    Subtract {
        key: Value,
        value: Value,
        expiry: Option<i64>,
        publisher: EntityId,
    },
    Clear {
        publisher: EntityId,
    },
    AttachWriter {
        offset: u64,
        heartbeat_interval: u16,
    },
    Keepalive {
        seq: u64,
    },
    CumulativeAck {
        seq: u64,
    },
    Nack {
        seqs: Vec<u64>,
    },
    AckClone {
        offset: u64,
        heartbeat_interval: u16,
        state: Snapshot,
    },
    RetransmitFailed {
        seq: u64,
    },
}

impl Command {
    /// The variant index Broker writes.
    pub fn index(&self) -> u8 {
        match self {
            Command::Put { .. } => 0,
            Command::PutUnique { .. } => 1,
            Command::PutUniqueResult { .. } => 2,
            Command::Erase { .. } => 3,
            Command::Expire { .. } => 4,
            Command::Add { .. } => 5,
            Command::Subtract { .. } => 6,
            Command::Clear { .. } => 7,
            Command::AttachWriter { .. } => 8,
            Command::Keepalive { .. } => 9,
            Command::CumulativeAck { .. } => 10,
            Command::Nack { .. } => 11,
            Command::AckClone { .. } => 12,
            Command::RetransmitFailed { .. } => 13,
        }
    }

    /// Broker's `command_tag_by_type`.
    pub fn tag(&self) -> CommandTag {
        match self.index() {
            0..=7 => CommandTag::Action,
            8 | 9 | 12 | 13 => CommandTag::ProducerControl,
            _ => CommandTag::ConsumerControl,
        }
    }

    /// Broker's pretty name (`put`, `ack_clone`, ...).
    pub fn name(&self) -> &'static str {
        const NAMES: [&str; 14] = [
            "put",
            "put_unique",
            "put_unique_result",
            "erase",
            "expire",
            "add",
            "subtract",
            "clear",
            "attach_writer",
            "keepalive",
            "cumulative_ack",
            "nack",
            "ack_clone",
            "retransmit_failed",
        ];
        NAMES[self.index() as usize]
    }
}

/// One `internal_command`.
#[derive(Debug, Clone, PartialEq)]
pub struct InternalCommand {
    pub seq: u64,
    pub sender: EntityId,
    /// `EntityId::NIL` for broadcasts.
    pub receiver: EntityId,
    pub content: Command,
}

fn put_entity(e: &EntityId, out: &mut Vec<u8>) {
    out.extend_from_slice(&e.endpoint);
    out.extend_from_slice(&e.object.to_be_bytes());
}

fn put_opt_span(e: &Option<i64>, out: &mut Vec<u8>) {
    match e {
        Some(t) => {
            out.push(1);
            out.extend_from_slice(&t.to_be_bytes());
        }
        None => out.push(0),
    }
}

impl InternalCommand {
    /// Appends Broker's encoding. Fails only for lengths beyond Broker's 32-bit varbyte.
    pub fn encode(&self, out: &mut Vec<u8>) -> Result<()> {
        out.extend_from_slice(&self.seq.to_be_bytes());
        put_entity(&self.sender, out);
        put_entity(&self.receiver, out);
        out.push(self.content.index());
        match &self.content {
            Command::Put {
                key,
                value,
                expiry,
                publisher,
            } => {
                encode_value(key, out)?;
                encode_value(value, out)?;
                put_opt_span(expiry, out);
                put_entity(publisher, out);
            }
            Command::PutUnique {
                key,
                value,
                expiry,
                who,
                req_id,
                publisher,
            } => {
                encode_value(key, out)?;
                encode_value(value, out)?;
                put_opt_span(expiry, out);
                put_entity(who, out);
                out.extend_from_slice(&req_id.to_be_bytes());
                put_entity(publisher, out);
            }
            Command::PutUniqueResult {
                inserted,
                who,
                req_id,
                publisher,
            } => {
                out.push(u8::from(*inserted));
                put_entity(who, out);
                out.extend_from_slice(&req_id.to_be_bytes());
                put_entity(publisher, out);
            }
            Command::Erase { key, publisher } | Command::Expire { key, publisher } => {
                encode_value(key, out)?;
                put_entity(publisher, out);
            }
            Command::Add {
                key,
                value,
                init_type,
                expiry,
                publisher,
            } => {
                encode_value(key, out)?;
                encode_value(value, out)?;
                out.push(*init_type);
                put_opt_span(expiry, out);
                put_entity(publisher, out);
            }
            Command::Subtract {
                key,
                value,
                expiry,
                publisher,
            } => {
                encode_value(key, out)?;
                encode_value(value, out)?;
                put_opt_span(expiry, out);
                put_entity(publisher, out);
            }
            Command::Clear { publisher } => put_entity(publisher, out),
            Command::AttachWriter {
                offset,
                heartbeat_interval,
            } => {
                out.extend_from_slice(&offset.to_be_bytes());
                out.extend_from_slice(&heartbeat_interval.to_be_bytes());
            }
            Command::Keepalive { seq }
            | Command::CumulativeAck { seq }
            | Command::RetransmitFailed { seq } => out.extend_from_slice(&seq.to_be_bytes()),
            Command::Nack { seqs } => {
                write_len(seqs.len(), out)?;
                for s in seqs {
                    out.extend_from_slice(&s.to_be_bytes());
                }
            }
            Command::AckClone {
                offset,
                heartbeat_interval,
                state,
            } => {
                out.extend_from_slice(&offset.to_be_bytes());
                out.extend_from_slice(&heartbeat_interval.to_be_bytes());
                write_len(state.len(), out)?;
                for (k, v) in state {
                    encode_value(k, out)?;
                    encode_value(v, out)?;
                }
            }
        }
        Ok(())
    }

    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        let mut out = Vec::with_capacity(64);
        self.encode(&mut out)?;
        Ok(out)
    }

    /// Decodes one command that must fill `input` exactly. Never panics; every failure
    /// names the field and the byte offset.
    pub fn decode(input: &[u8]) -> Result<Self> {
        let mut r = Reader { input, pos: 0 };
        let seq = r.u64("seq")?;
        let sender = r.entity("sender")?;
        let receiver = r.entity("receiver")?;
        let idx = r.u8("content index")?;
        let content = match idx {
            0 => Command::Put {
                key: r.value("put.key")?,
                value: r.value("put.value")?,
                expiry: r.opt_span("put.expiry")?,
                publisher: r.entity("put.publisher")?,
            },
            1 => Command::PutUnique {
                key: r.value("put_unique.key")?,
                value: r.value("put_unique.value")?,
                expiry: r.opt_span("put_unique.expiry")?,
                who: r.entity("put_unique.who")?,
                req_id: r.u64("put_unique.req_id")?,
                publisher: r.entity("put_unique.publisher")?,
            },
            2 => Command::PutUniqueResult {
                inserted: r.u8("put_unique_result.inserted")? != 0,
                who: r.entity("put_unique_result.who")?,
                req_id: r.u64("put_unique_result.req_id")?,
                publisher: r.entity("put_unique_result.publisher")?,
            },
            3 => Command::Erase {
                key: r.value("erase.key")?,
                publisher: r.entity("erase.publisher")?,
            },
            4 => Command::Expire {
                key: r.value("expire.key")?,
                publisher: r.entity("expire.publisher")?,
            },
            5 => {
                let key = r.value("add.key")?;
                let value = r.value("add.value")?;
                let at = r.pos;
                let init_type = r.u8("add.init_type")?;
                if init_type > super::ops::MAX_TYPE_TAG {
                    return Err(Error::decode(format!("command: add.init_type {init_type} at offset {at} is not a Broker type (0..=14)")));
                }
                Command::Add {
                    key,
                    value,
                    init_type,
                    expiry: r.opt_span("add.expiry")?,
                    publisher: r.entity("add.publisher")?,
                }
            }
            6 => Command::Subtract {
                key: r.value("subtract.key")?,
                value: r.value("subtract.value")?,
                expiry: r.opt_span("subtract.expiry")?,
                publisher: r.entity("subtract.publisher")?,
            },
            7 => Command::Clear {
                publisher: r.entity("clear.publisher")?,
            },
            8 => Command::AttachWriter {
                offset: r.u64("attach_writer.offset")?,
                heartbeat_interval: r.u16("attach_writer.heartbeat_interval")?,
            },
            9 => Command::Keepalive {
                seq: r.u64("keepalive.seq")?,
            },
            10 => Command::CumulativeAck {
                seq: r.u64("cumulative_ack.seq")?,
            },
            11 => {
                let n = r.len("nack.seqs count")?;
                if n.saturating_mul(8) > r.remaining() {
                    return Err(r.err(&format!(
                        "nack.seqs announces {n} entries but only {} bytes remain",
                        r.remaining()
                    )));
                }
                let mut seqs = Vec::with_capacity(n);
                for _ in 0..n {
                    seqs.push(r.u64("nack.seqs entry")?);
                }
                Command::Nack { seqs }
            }
            12 => {
                let offset = r.u64("ack_clone.offset")?;
                let heartbeat_interval = r.u16("ack_clone.heartbeat_interval")?;
                let n = r.len("ack_clone.state count")?;
                if n.saturating_mul(2) > r.remaining() {
                    return Err(r.err(&format!(
                        "ack_clone.state announces {n} entries but only {} bytes remain",
                        r.remaining()
                    )));
                }
                let mut state = Snapshot::new();
                for _ in 0..n {
                    let at = r.pos;
                    let k = r.value("ack_clone.state key")?;
                    let v = r.value("ack_clone.state value")?;
                    if state.insert(k, v).is_some() {
                        return Err(Error::decode(format!(
                            "command: ack_clone.state has a duplicate key at offset {at}"
                        )));
                    }
                }
                Command::AckClone {
                    offset,
                    heartbeat_interval,
                    state,
                }
            }
            13 => Command::RetransmitFailed {
                seq: r.u64("retransmit_failed.seq")?,
            },
            other => {
                return Err(Error::decode(format!(
                    "command: unknown content index {other} at offset 56 (expected 0..=13)"
                )))
            }
        };
        if r.remaining() != 0 {
            return Err(r.err(&format!(
                "{} trailing byte(s) after a {} command",
                r.remaining(),
                content.name()
            )));
        }
        Ok(InternalCommand {
            seq,
            sender,
            receiver,
            content,
        })
    }
}

struct Reader<'a> {
    input: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn remaining(&self) -> usize {
        self.input.len() - self.pos
    }
    fn err(&self, msg: &str) -> Error {
        Error::decode(format!("command: {msg} (offset {})", self.pos))
    }
    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8]> {
        if self.remaining() < n {
            return Err(self.err(&format!(
                "truncated {what}: need {n} byte(s), have {}",
                self.remaining()
            )));
        }
        let s = &self.input[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }
    fn u8(&mut self, what: &str) -> Result<u8> {
        Ok(self.take(1, what)?[0])
    }
    fn u16(&mut self, what: &str) -> Result<u16> {
        let b = self.take(2, what)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }
    fn u64(&mut self, what: &str) -> Result<u64> {
        let mut a = [0u8; 8];
        a.copy_from_slice(self.take(8, what)?);
        Ok(u64::from_be_bytes(a))
    }
    fn entity(&mut self, what: &str) -> Result<EntityId> {
        let mut endpoint = [0u8; 16];
        endpoint.copy_from_slice(self.take(16, what)?);
        let object = self.u64(what)?;
        Ok(EntityId { endpoint, object })
    }
    fn opt_span(&mut self, what: &str) -> Result<Option<i64>> {
        match self.u8(what)? {
            0 => Ok(None),
            _ => Ok(Some(self.u64(what)? as i64)),
        }
    }
    fn len(&mut self, what: &str) -> Result<usize> {
        let (v, used) = read_varbyte(&self.input[self.pos..])
            .map_err(|e| self.err(&format!("{what}: {}", e.message)))?;
        self.pos += used;
        Ok(v as usize)
    }
    fn value(&mut self, what: &str) -> Result<Value> {
        let (v, used) = decode_value_prefix(&self.input[self.pos..])
            .map_err(|e| self.err(&format!("{what}: {}", e.message)))?;
        self.pos += used;
        Ok(v)
    }
}

#[cfg(test)]
mod tests;
