//! Zeek's ZeroMQ messages, sans-IO: what a received multipart message is, and the frames
//! of what we send (reference zeek8.md 3.2; `ZeroMQ.cc` `DoPublishEvent`,
//! `DoPublishLogWrites`, `HandleXPubMessages`, `HandleXSubMessages`).

use crate::wire::EndpointId;

/// The event serializer's wire name (`Cluster::EVENT_SERIALIZER_BROKER_BIN_V1`).
pub const BROKER_BIN_V1: &[u8] = b"broker-bin-v1";
/// The JSON event serializer's name (`Cluster::EVENT_SERIALIZER_BROKER_JSON_V1`); we do
/// not speak it and count such messages as a wrong format.
pub const BROKER_JSON_V1: &[u8] = b"broker-json-v1";
/// The log serializer's name (`Cluster::LOG_SERIALIZER_ZEEK_BIN_V1`).
pub const ZEEK_BIN_SERIALIZER: &[u8] = b"zeek-bin-serializer";
/// The first frame of a log batch.
pub const LOG_WRITE: &[u8] = b"log-write";
/// zcluster's extension: data-store commands over the same sockets. Frame 4 is the
/// receiver's endpoint id (16 bytes, all zero for every clone/master of the topic) and
/// then the store command as on Broker. Zeek nodes never subscribe to store topics
/// (`<name>/<$>/data/...`), so ZeroMQ's sender-side filtering never sends them one.
pub const ZC_STORE_V1: &[u8] = b"zcluster-store-v1";

/// `Cluster::Backend::ZeroMQ::hello(name: string, id: string)`.
pub const ZMQ_HELLO_EVENT: &str = "Cluster::Backend::ZeroMQ::hello";

/// What one multipart message read from the node's XSUB (events) is.
#[derive(Debug, PartialEq, Eq)]
pub enum Incoming<'a> {
    /// A `broker-bin-v1` event.
    Event {
        topic: &'a [u8],
        sender: &'a [u8],
        payload: &'a [u8],
    },
    /// Our store extension.
    Store {
        topic: &'a [u8],
        sender: &'a [u8],
        receiver: EndpointId,
        payload: &'a [u8],
    },
    /// Dropped and counted: why.
    Bad(Drop),
}

/// Why a received message was dropped (each has its counter).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Drop {
    /// Not 4 frames (`zeek_cluster_zeromq_msg_errors_total`).
    FrameCount(usize),
    /// A format other than `broker-bin-v1` ("ProcessEventMessage: Wrong format").
    Format,
    /// A store message too short to hold its receiver.
    Truncated,
}

/// Classifies the frames of an XSUB message.
pub fn classify<'a>(frames: &[&'a [u8]]) -> Incoming<'a> {
    if frames.len() != 4 {
        return Incoming::Bad(Drop::FrameCount(frames.len()));
    }
    let (topic, sender, format, payload) = (frames[0], frames[1], frames[2], frames[3]);
    if format == BROKER_BIN_V1 {
        Incoming::Event {
            topic,
            sender,
            payload,
        }
    } else if format == ZC_STORE_V1 {
        if payload.len() < 16 {
            return Incoming::Bad(Drop::Truncated);
        }
        let mut r = [0u8; 16];
        r.copy_from_slice(&payload[..16]);
        Incoming::Store {
            topic,
            sender,
            receiver: EndpointId(r),
            payload: &payload[16..],
        }
    } else {
        Incoming::Bad(Drop::Format)
    }
}

/// A subscription change seen on the node's XPUB: one frame, `\x01prefix` or `\x00prefix`.
#[derive(Debug, PartialEq, Eq)]
pub enum SubChange<'a> {
    Subscribe(&'a [u8]),
    Unsubscribe(&'a [u8]),
}

/// Parses an XPUB message (None: not 1 frame, or a first byte other than 0/1).
pub fn sub_change<'a>(frames: &[&'a [u8]]) -> Option<SubChange<'a>> {
    match frames {
        [f] => match f.split_first() {
            Some((1, t)) => Some(SubChange::Subscribe(t)),
            Some((0, t)) => Some(SubChange::Unsubscribe(t)),
            _ => None,
        },
        _ => None,
    }
}

/// The one frame that subscribes (`true`) or unsubscribes a prefix on an XSUB socket.
pub fn sub_frame(subscribe: bool, prefix: &str) -> Vec<u8> {
    let mut f = Vec::with_capacity(prefix.len() + 1);
    f.push(u8::from(subscribe));
    f.extend_from_slice(prefix.as_bytes());
    f
}

/// The receiver prefix of a store payload.
pub fn store_payload(receiver: EndpointId, command: &[u8]) -> Vec<u8> {
    let mut p = Vec::with_capacity(16 + command.len());
    p.extend_from_slice(&receiver.0);
    p.extend_from_slice(command);
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_zeek_frames() {
        let f: [&[u8]; 4] = [
            b"zeek.cluster.worker",
            b"zeromq_w",
            b"broker-bin-v1",
            b"\x0e",
        ];
        assert_eq!(
            classify(&f),
            Incoming::Event {
                topic: b"zeek.cluster.worker",
                sender: b"zeromq_w",
                payload: b"\x0e"
            }
        );
        assert_eq!(classify(&f[..3]), Incoming::Bad(Drop::FrameCount(3)));
        let j: [&[u8]; 4] = [b"t", b"s", BROKER_JSON_V1, b"{}"];
        assert_eq!(classify(&j), Incoming::Bad(Drop::Format));
        let s: [&[u8]; 4] = [b"t", b"s", ZC_STORE_V1, b"short"];
        assert_eq!(classify(&s), Incoming::Bad(Drop::Truncated));
        let p = store_payload(EndpointId([7; 16]), b"cmd");
        let s: [&[u8]; 4] = [b"t", b"s", ZC_STORE_V1, &p];
        assert_eq!(
            classify(&s),
            Incoming::Store {
                topic: b"t",
                sender: b"s",
                receiver: EndpointId([7; 16]),
                payload: b"cmd"
            }
        );
    }

    #[test]
    fn subscription_frames() {
        assert_eq!(sub_frame(true, "a.b"), b"\x01a.b");
        assert_eq!(sub_frame(false, "a.b"), b"\x00a.b");
        assert_eq!(
            sub_change(&[b"\x01zeek.x"]),
            Some(SubChange::Subscribe(b"zeek.x"))
        );
        assert_eq!(
            sub_change(&[b"\x00zeek.x"]),
            Some(SubChange::Unsubscribe(b"zeek.x"))
        );
        assert_eq!(sub_change(&[b"\x02zeek.x"]), None);
        assert_eq!(sub_change(&[b""]), None);
        assert_eq!(sub_change(&[b"\x01a", b"b"]), None);
    }
}
