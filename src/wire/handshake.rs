//! Handshake messages (phases 1 and 2): a one-byte type tag, then the fields.

use super::filter::{decode_filter, encode_filter};
use super::{read_varbyte, write_varbyte, EndpointId, Filter};

/// "ZEEK": every phase-1 message starts with it.
pub const MAGIC: u32 = 0x5A45_454B;
/// The only protocol version there is.
pub const PROTOCOL_VERSION: u8 = 1;

/// Broker's error codes (`broker::ec`), as `drop_conn` carries them. Values are fixed.
pub mod ec {
    pub const NONE: u8 = 0;
    pub const UNSPECIFIED: u8 = 1;
    pub const PEER_INCOMPATIBLE: u8 = 2;
    pub const PEER_INVALID: u8 = 3;
    pub const PEER_UNAVAILABLE: u8 = 4;
    pub const PEER_DISCONNECT_DURING_HANDSHAKE: u8 = 5;
    pub const PEER_TIMEOUT: u8 = 6;
    pub const SHUTTING_DOWN: u8 = 28;
    pub const INVALID_PEERING_REQUEST: u8 = 29;
    pub const REPEATED_PEERING_HANDSHAKE_REQUEST: u8 = 30;
    pub const UNEXPECTED_HANDSHAKE_MESSAGE: u8 = 31;
    pub const INVALID_HANDSHAKE_STATE: u8 = 32;
    pub const INVALID_MESSAGE: u8 = 20;
    pub const WRONG_MAGIC_NUMBER: u8 = 38;
    pub const REDUNDANT_CONNECTION: u8 = 39;
    pub const LOGIC_ERROR: u8 = 40;
    /// The highest code Broker knows (`invalid_json`).
    pub const MAX: u8 = 41;
}

pub const TAG_HELLO: u8 = 6;
pub const TAG_PROBE: u8 = 7;
pub const TAG_VERSION_SELECT: u8 = 8;
pub const TAG_DROP_CONN: u8 = 9;
pub const TAG_ORIGINATOR_SYN: u8 = 10;
pub const TAG_RESPONDER_SYN_ACK: u8 = 11;
pub const TAG_ORIGINATOR_ACK: u8 = 12;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HandshakeMsg {
    Hello {
        sender: EndpointId,
        min_version: u8,
        max_version: u8,
    },
    Probe,
    VersionSelect {
        sender: EndpointId,
        version: u8,
    },
    DropConn {
        sender: EndpointId,
        code: u8,
        description: String,
    },
    OriginatorSyn(Filter),
    ResponderSynAck(Filter),
    OriginatorAck,
}

/// Why a handshake message was refused: the `ec` code to put in `drop_conn`, and a text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reject {
    pub code: u8,
    pub description: String,
}

impl Reject {
    fn new(code: u8, d: impl Into<String>) -> Reject {
        Reject {
            code,
            description: d.into(),
        }
    }
}

impl HandshakeMsg {
    pub fn hello(sender: EndpointId) -> Self {
        HandshakeMsg::Hello {
            sender,
            min_version: PROTOCOL_VERSION,
            max_version: PROTOCOL_VERSION,
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            HandshakeMsg::Hello { .. } => "hello",
            HandshakeMsg::Probe => "probe",
            HandshakeMsg::VersionSelect { .. } => "version_select",
            HandshakeMsg::DropConn { .. } => "drop_conn",
            HandshakeMsg::OriginatorSyn(_) => "originator_syn",
            HandshakeMsg::ResponderSynAck(_) => "responder_syn_ack",
            HandshakeMsg::OriginatorAck => "originator_ack",
        }
    }

    /// Appends the payload (tag + fields, without the frame length).
    pub fn encode(&self, out: &mut Vec<u8>) {
        let magic = MAGIC.to_be_bytes();
        match self {
            HandshakeMsg::Hello {
                sender,
                min_version,
                max_version,
            } => {
                out.push(TAG_HELLO);
                out.extend_from_slice(&magic);
                out.extend_from_slice(&sender.0);
                out.push(*min_version);
                out.push(*max_version);
            }
            HandshakeMsg::Probe => {
                out.push(TAG_PROBE);
                out.extend_from_slice(&magic);
            }
            HandshakeMsg::VersionSelect { sender, version } => {
                out.push(TAG_VERSION_SELECT);
                out.extend_from_slice(&magic);
                out.extend_from_slice(&sender.0);
                out.push(*version);
            }
            HandshakeMsg::DropConn {
                sender,
                code,
                description,
            } => {
                out.push(TAG_DROP_CONN);
                out.extend_from_slice(&magic);
                out.extend_from_slice(&sender.0);
                out.push(*code);
                write_varbyte(description.len() as u32, out);
                out.extend_from_slice(description.as_bytes());
            }
            HandshakeMsg::OriginatorSyn(f) => {
                out.push(TAG_ORIGINATOR_SYN);
                encode_filter(f, out);
            }
            HandshakeMsg::ResponderSynAck(f) => {
                out.push(TAG_RESPONDER_SYN_ACK);
                encode_filter(f, out);
            }
            HandshakeMsg::OriginatorAck => out.push(TAG_ORIGINATOR_ACK),
        }
    }

    /// Appends a whole frame (length + payload).
    pub fn encode_frame(&self, out: &mut Vec<u8>) {
        let at = out.len();
        out.extend_from_slice(&[0; 4]);
        self.encode(out);
        let len = (out.len() - at - 4) as u32;
        out[at..at + 4].copy_from_slice(&len.to_be_bytes());
    }

    /// Decodes and validates one payload as Broker does (`wire_format::decode`, `check`):
    /// a bad magic number is `wrong_magic_number`, a version range without 1 is
    /// `peer_incompatible`, anything malformed is `invalid_message`.
    pub fn decode(buf: &[u8]) -> Result<HandshakeMsg, Reject> {
        let invalid =
            |what: &str| Reject::new(ec::INVALID_MESSAGE, format!("failed to parse {what}"));
        let (&tag, rest) = buf
            .split_first()
            .ok_or_else(|| invalid("an empty message"))?;
        let magic_and_id = |rest: &[u8], what: &str, extra: usize| -> Result<EndpointId, Reject> {
            if rest.len() < 20 + extra {
                return Err(invalid(what));
            }
            if u32::from_be_bytes([rest[0], rest[1], rest[2], rest[3]]) != MAGIC {
                return Err(Reject::new(ec::WRONG_MAGIC_NUMBER, "wrong magic number"));
            }
            let mut id = [0u8; 16];
            id.copy_from_slice(&rest[4..20]);
            Ok(EndpointId(id))
        };
        match tag {
            TAG_HELLO => {
                let sender = magic_and_id(rest, "hello", 2)?;
                if rest.len() != 22 {
                    return Err(invalid("hello"));
                }
                let (min_version, max_version) = (rest[20], rest[21]);
                if min_version > PROTOCOL_VERSION || max_version < PROTOCOL_VERSION {
                    return Err(Reject::new(
                        ec::PEER_INCOMPATIBLE,
                        "unsupported versions offered",
                    ));
                }
                Ok(HandshakeMsg::Hello {
                    sender,
                    min_version,
                    max_version,
                })
            }
            TAG_PROBE => {
                if rest.len() != 4 {
                    return Err(invalid("probe"));
                }
                if u32::from_be_bytes([rest[0], rest[1], rest[2], rest[3]]) != MAGIC {
                    return Err(Reject::new(ec::WRONG_MAGIC_NUMBER, "wrong magic number"));
                }
                Ok(HandshakeMsg::Probe)
            }
            TAG_VERSION_SELECT => {
                let sender = magic_and_id(rest, "version_select", 1)?;
                if rest.len() != 21 {
                    return Err(invalid("version_select"));
                }
                if rest[20] != PROTOCOL_VERSION {
                    return Err(Reject::new(
                        ec::PEER_INCOMPATIBLE,
                        "unsupported version selected",
                    ));
                }
                Ok(HandshakeMsg::VersionSelect {
                    sender,
                    version: rest[20],
                })
            }
            TAG_DROP_CONN => {
                let sender = magic_and_id(rest, "drop_conn", 2)?;
                let code = rest[20];
                let (len, used) = read_varbyte(&rest[21..]).ok_or_else(|| invalid("drop_conn"))?;
                let start = 21 + used;
                if rest.len() != start + len as usize {
                    return Err(invalid("drop_conn"));
                }
                let description = String::from_utf8_lossy(&rest[start..]).into_owned();
                Ok(HandshakeMsg::DropConn {
                    sender,
                    code,
                    description,
                })
            }
            TAG_ORIGINATOR_SYN => decode_filter(rest)
                .map(HandshakeMsg::OriginatorSyn)
                .map_err(|_| invalid("originator_syn")),
            TAG_RESPONDER_SYN_ACK => decode_filter(rest)
                .map(HandshakeMsg::ResponderSynAck)
                .map_err(|_| invalid("responder_syn_ack")),
            TAG_ORIGINATOR_ACK => {
                if !rest.is_empty() {
                    return Err(invalid("originator_ack"));
                }
                Ok(HandshakeMsg::OriginatorAck)
            }
            _ => Err(Reject::new(ec::INVALID_MESSAGE, "invalid message type tag")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(b: u8) -> EndpointId {
        EndpointId([b; 16])
    }

    fn round_trip(m: HandshakeMsg) -> Vec<u8> {
        let mut b = Vec::new();
        m.encode(&mut b);
        assert_eq!(HandshakeMsg::decode(&b), Ok(m));
        b
    }

    #[test]
    fn sizes_and_bytes_match_broker() {
        let h = round_trip(HandshakeMsg::hello(id(1)));
        assert_eq!(h.len(), 23);
        assert_eq!(&h[..5], &[6, 0x5a, 0x45, 0x45, 0x4b]);
        assert_eq!(&h[21..], &[1, 1]);
        assert_eq!(
            round_trip(HandshakeMsg::Probe),
            vec![7, 0x5a, 0x45, 0x45, 0x4b]
        );
        assert_eq!(
            round_trip(HandshakeMsg::VersionSelect {
                sender: id(2),
                version: 1
            })
            .len(),
            22
        );
        let d = round_trip(HandshakeMsg::DropConn {
            sender: id(3),
            code: 39,
            description: "redundant connection".into(),
        });
        assert_eq!(d.len(), 22 + 1 + 20);
        assert_eq!(d[21], 39);
        let s = round_trip(HandshakeMsg::OriginatorSyn(vec!["/foo/bar".into()]));
        assert_eq!(s, [&[10u8, 1, 8][..], b"/foo/bar"].concat());
        round_trip(HandshakeMsg::ResponderSynAck(vec![]));
        assert_eq!(round_trip(HandshakeMsg::OriginatorAck), vec![12]);
        let mut f = Vec::new();
        HandshakeMsg::Probe.encode_frame(&mut f);
        assert_eq!(&f[..4], &[0, 0, 0, 5]);
    }

    #[test]
    fn validation_uses_brokers_codes() {
        let mut h = Vec::new();
        HandshakeMsg::Hello {
            sender: id(1),
            min_version: 200,
            max_version: 201,
        }
        .encode(&mut h);
        assert_eq!(
            HandshakeMsg::decode(&h).unwrap_err().code,
            ec::PEER_INCOMPATIBLE
        );
        let mut h = Vec::new();
        HandshakeMsg::Hello {
            sender: id(1),
            min_version: 1,
            max_version: 99,
        }
        .encode(&mut h);
        assert!(HandshakeMsg::decode(&h).is_ok());
        h[1] = 0;
        assert_eq!(
            HandshakeMsg::decode(&h).unwrap_err().code,
            ec::WRONG_MAGIC_NUMBER
        );
        let mut v = Vec::new();
        HandshakeMsg::VersionSelect {
            sender: id(2),
            version: 2,
        }
        .encode(&mut v);
        assert_eq!(
            HandshakeMsg::decode(&v).unwrap_err().code,
            ec::PEER_INCOMPATIBLE
        );
        assert_eq!(
            HandshakeMsg::decode(&[]).unwrap_err().code,
            ec::INVALID_MESSAGE
        );
        assert_eq!(
            HandshakeMsg::decode(&[1, 2, 3]).unwrap_err().code,
            ec::INVALID_MESSAGE
        );
        assert_eq!(
            HandshakeMsg::decode(&[6, 0x5a]).unwrap_err().code,
            ec::INVALID_MESSAGE
        );
        assert_eq!(
            HandshakeMsg::decode(&[12, 0]).unwrap_err().code,
            ec::INVALID_MESSAGE
        );
        assert_eq!(
            HandshakeMsg::decode(&[10, 5, 1]).unwrap_err().code,
            ec::INVALID_MESSAGE
        );
    }
}
