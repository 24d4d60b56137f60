//! Envelopes (phase 3): a 37-byte header (sender, receiver, type, TTL, topic length), the
//! topic, then a type-specific payload carried here as opaque bytes.

use super::filter::{decode_filter, encode_filter};
use super::{EndpointId, Filter};
use crate::{Error, Result};

pub const ENVELOPE_HEADER_LEN: usize = 37;
/// Broker's default hop limit (`defaults::ttl`).
pub const DEFAULT_TTL: u16 = 16;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum EnvelopeType {
    Data = 1,
    Command = 2,
    RoutingUpdate = 3,
    Ping = 4,
    Pong = 5,
}

impl EnvelopeType {
    pub fn from_u8(b: u8) -> Option<EnvelopeType> {
        Some(match b {
            1 => EnvelopeType::Data,
            2 => EnvelopeType::Command,
            3 => EnvelopeType::RoutingUpdate,
            4 => EnvelopeType::Ping,
            5 => EnvelopeType::Pong,
            _ => return None,
        })
    }
}

/// A decoded envelope borrowing its topic and payload from the frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EnvelopeRef<'a> {
    pub sender: EndpointId,
    pub receiver: EndpointId,
    pub kind: EnvelopeType,
    pub ttl: u16,
    pub topic: &'a str,
    pub payload: &'a [u8],
}

/// An owned envelope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    pub sender: EndpointId,
    pub receiver: EndpointId,
    pub kind: EnvelopeType,
    pub ttl: u16,
    pub topic: String,
    pub payload: Vec<u8>,
}

impl<'a> EnvelopeRef<'a> {
    /// Checks that a data envelope's payload is exactly one well-formed Broker value (as
    /// Broker's `data_envelope::do_parse` requires). `decode` only checks the tag, so the
    /// I/O thread can choose whether to pay for the full check.
    pub fn validate_data(&self) -> Result<()> {
        if self.kind == EnvelopeType::Data {
            crate::data::bin::validate(self.payload).map_err(|e| {
                Error::decode(format!("data envelope on '{}': {}", self.topic, e.message))
            })?;
        }
        Ok(())
    }

    /// Decodes one frame payload. The topic must be UTF-8 and the type known; a data
    /// payload must at least hold a type tag (its full check belongs to the data codec),
    /// a routing update must hold a well-formed filter.
    pub fn decode(buf: &'a [u8]) -> Result<EnvelopeRef<'a>> {
        let e = Self::decode_header(buf)?;
        e.check_payload()?;
        Ok(e)
    }

    /// The payload checks of `decode`, for an envelope from `decode_header`.
    pub fn check_payload(&self) -> Result<()> {
        match self.kind {
            EnvelopeType::Data if !matches!(self.payload.first(), Some(&t) if t <= 14) => Err(
                Error::decode("data envelope payload does not start with a data type tag"),
            ),
            EnvelopeType::Command if self.payload.is_empty() => {
                Err(Error::decode("command envelope without payload"))
            }
            EnvelopeType::RoutingUpdate => decode_filter(self.payload).map(|_| ()),
            _ => Ok(()),
        }
    }

    /// `decode` without the payload checks: the header (ids, a known type, TTL, a UTF-8
    /// topic inside the frame). The endpoint drops a message whose payload is bad but
    /// keeps the peering; a bad header means the stream itself cannot be trusted.
    pub fn decode_header(buf: &'a [u8]) -> Result<EnvelopeRef<'a>> {
        if buf.len() < ENVELOPE_HEADER_LEN {
            return Err(Error::decode(format!(
                "envelope of {} bytes is shorter than the {ENVELOPE_HEADER_LEN}-byte header",
                buf.len()
            )));
        }
        let mut sender = [0u8; 16];
        sender.copy_from_slice(&buf[0..16]);
        let mut receiver = [0u8; 16];
        receiver.copy_from_slice(&buf[16..32]);
        let kind = EnvelopeType::from_u8(buf[32])
            .ok_or_else(|| Error::decode(format!("unknown envelope type {}", buf[32])))?;
        let ttl = u16::from_be_bytes([buf[33], buf[34]]);
        let tlen = u16::from_be_bytes([buf[35], buf[36]]) as usize;
        let end = ENVELOPE_HEADER_LEN + tlen;
        if buf.len() < end {
            return Err(Error::decode(format!(
                "envelope topic of {tlen} bytes runs past the end of a {}-byte frame",
                buf.len()
            )));
        }
        let topic = std::str::from_utf8(&buf[ENVELOPE_HEADER_LEN..end])
            .map_err(|_| Error::decode("envelope topic is not UTF-8"))?;
        let payload = &buf[end..];
        Ok(EnvelopeRef {
            sender: EndpointId(sender),
            receiver: EndpointId(receiver),
            kind,
            ttl,
            topic,
            payload,
        })
    }

    pub fn to_owned(&self) -> Envelope {
        Envelope {
            sender: self.sender,
            receiver: self.receiver,
            kind: self.kind,
            ttl: self.ttl,
            topic: self.topic.to_string(),
            payload: self.payload.to_vec(),
        }
    }

    /// The filter of a routing update.
    pub fn routing_filter(&self) -> Result<Filter> {
        decode_filter(self.payload)
    }
}

impl Envelope {
    pub fn as_ref(&self) -> EnvelopeRef<'_> {
        EnvelopeRef {
            sender: self.sender,
            receiver: self.receiver,
            kind: self.kind,
            ttl: self.ttl,
            topic: &self.topic,
            payload: &self.payload,
        }
    }

    /// A routing update carrying `filter`, addressed to `receiver` as Broker does.
    pub fn routing_update(sender: EndpointId, receiver: EndpointId, filter: &[String]) -> Envelope {
        let mut payload = Vec::new();
        encode_filter(filter, &mut payload);
        Envelope {
            sender,
            receiver,
            kind: EnvelopeType::RoutingUpdate,
            ttl: DEFAULT_TTL,
            topic: super::INTERNAL_TOPIC.to_string(),
            payload,
        }
    }

    pub fn encode_frame(&self, out: &mut Vec<u8>) -> Result<()> {
        encode_frame(
            out,
            self.sender,
            self.receiver,
            self.kind,
            self.ttl,
            &self.topic,
            &self.payload,
        )
    }
}

/// Appends one envelope frame (length prefix included) without building an `Envelope`.
pub fn encode_frame(
    out: &mut Vec<u8>,
    sender: EndpointId,
    receiver: EndpointId,
    kind: EnvelopeType,
    ttl: u16,
    topic: &str,
    payload: &[u8],
) -> Result<()> {
    let tlen = u16::try_from(topic.len()).map_err(|_| {
        Error::invalid(format!(
            "topic of {} bytes exceeds the limit of 65535 bytes",
            topic.len()
        ))
    })?;
    let len = ENVELOPE_HEADER_LEN + topic.len() + payload.len();
    let len = u32::try_from(len)
        .map_err(|_| Error::invalid(format!("envelope of {len} bytes is too large")))?;
    out.reserve(4 + len as usize);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(&sender.0);
    out.extend_from_slice(&receiver.0);
    out.push(kind as u8);
    out.extend_from_slice(&ttl.to_be_bytes());
    out.extend_from_slice(&tlen.to_be_bytes());
    out.extend_from_slice(topic.as_bytes());
    out.extend_from_slice(payload);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    // The data envelope of Broker's internal/wire_format.test.cc.
    const DATA_HEX: &str = "5746d8ee36445bd29f54d5a44c26c2a1c0551e8d392b509ba47bae46f75befac0100100006666f6f626172050b68656c6c6f20776f726c64";

    #[test]
    fn brokers_data_envelope_example() {
        let bytes = hex(DATA_HEX);
        let e = EnvelopeRef::decode(&bytes).unwrap();
        assert_eq!(e.sender.to_string(), "5746d8ee-3644-5bd2-9f54-d5a44c26c2a1");
        assert_eq!(
            e.receiver.to_string(),
            "c0551e8d-392b-509b-a47b-ae46f75befac"
        );
        assert_eq!(e.kind, EnvelopeType::Data);
        assert_eq!(e.ttl, 16);
        assert_eq!(e.topic, "foobar");
        assert_eq!(e.payload, b"\x05\x0bhello world");
        let mut out = Vec::new();
        e.to_owned().encode_frame(&mut out).unwrap();
        assert_eq!(&out[..4], &(bytes.len() as u32).to_be_bytes());
        assert_eq!(&out[4..], &bytes[..]);
    }

    #[test]
    fn malformed_envelopes_are_refused() {
        let bytes = hex(DATA_HEX);
        assert!(EnvelopeRef::decode(&bytes[..36]).is_err());
        let mut t = bytes.clone();
        t[32] = 6;
        assert!(EnvelopeRef::decode(&t).is_err());
        let mut t = bytes.clone();
        t[36] = 200;
        assert!(EnvelopeRef::decode(&t).is_err());
        // A data envelope without payload.
        assert!(EnvelopeRef::decode(&bytes[..43]).is_err());
        let mut t = bytes.clone();
        t[37] = 0xff;
        assert!(EnvelopeRef::decode(&t).is_err());
        // A well-formed header whose value is truncated passes decode, fails validation.
        let mut t = bytes.clone();
        t.pop();
        let e = EnvelopeRef::decode(&t).unwrap();
        assert!(e.validate_data().is_err());
        assert!(EnvelopeRef::decode(&bytes).unwrap().validate_data().is_ok());
    }

    #[test]
    fn routing_update_and_ping() {
        let a = EndpointId([1; 16]);
        let b = EndpointId([2; 16]);
        let ru = Envelope::routing_update(a, b, &["/test".to_string()]);
        let mut out = Vec::new();
        ru.encode_frame(&mut out).unwrap();
        let e = EnvelopeRef::decode(&out[4..]).unwrap();
        assert_eq!(e.kind, EnvelopeType::RoutingUpdate);
        assert_eq!(e.topic, "<$>");
        assert_eq!(e.receiver, b);
        assert_eq!(e.routing_filter().unwrap(), vec!["/test".to_string()]);
        let mut bad = out[4..].to_vec();
        bad.push(1);
        assert!(EnvelopeRef::decode(&bad).is_err());
        let mut p = Vec::new();
        encode_frame(&mut p, a, b, EnvelopeType::Ping, 1, "<$>", b"foo").unwrap();
        assert_eq!(EnvelopeRef::decode(&p[4..]).unwrap().payload, b"foo");
        assert!(encode_frame(
            &mut p,
            a,
            b,
            EnvelopeType::Data,
            1,
            &"x".repeat(70000),
            b"\0"
        )
        .is_err());
    }
}
