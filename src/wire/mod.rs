//! Broker's native peer protocol (version 1, Broker 2.3+): framing, handshake, envelopes.
//!
//! Every message in every phase is a frame: a big-endian `u32` payload length, then the
//! payload. Phases 1 and 2 exchange handshake messages (`handshake`), phase 3 exchanges
//! envelopes (`envelope`). Everything here is pure encoding: no sockets.

pub mod envelope;
pub mod filter;
pub mod handshake;
pub mod id;

pub use envelope::{Envelope, EnvelopeRef, EnvelopeType, DEFAULT_TTL, ENVELOPE_HEADER_LEN};
pub use filter::{filter_matches, Filter};
pub use handshake::{ec, HandshakeMsg, MAGIC, PROTOCOL_VERSION};
pub use id::EndpointId;

/// Frames during the handshake are tiny (the largest is a filter); anything bigger than
/// this is garbage or an attack, and is refused before allocating.
pub const MAX_HANDSHAKE_FRAME: usize = 64 * 1024;

/// Default bound of an operational frame (an envelope); configurable per endpoint.
pub const DEFAULT_MAX_FRAME: usize = 16 * 1024 * 1024;

/// The reserved topic of routing updates, pings and pongs.
pub const INTERNAL_TOPIC: &str = "<$>";

// Varbytes are the data codec's (`data::bin`), shared so both agree on every edge case.
pub(crate) use crate::data::bin::write_varbyte;

/// `data::bin::read_varbyte` as an Option, for decoders that attach their own context.
pub(crate) fn read_varbyte(buf: &[u8]) -> Option<(u32, usize)> {
    crate::data::bin::read_varbyte(buf).ok()
}

/// Appends one frame (length prefix + payload) to `out`.
pub fn write_frame(payload: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    out.extend_from_slice(payload);
}

/// Finds the next complete frame at the front of `buf`.
///
/// Returns `Ok(None)` when more bytes are needed, `Ok(Some((start, end)))` with the payload
/// range otherwise (the next frame starts at `end`). A frame announcing more than `max`
/// bytes is an error before anything is allocated.
pub fn next_frame(buf: &[u8], max: usize) -> crate::Result<Option<(usize, usize)>> {
    if buf.len() < 4 {
        return Ok(None);
    }
    let len = u32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]) as usize;
    if len > max {
        return Err(crate::Error::protocol(format!(
            "frame of {len} bytes exceeds the limit of {max} bytes"
        )));
    }
    if buf.len() < 4 + len {
        return Ok(None);
    }
    Ok(Some((4, 4 + len)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varbyte_round_trip_and_limits() {
        for n in [0u32, 1, 0x7f, 0x80, 300, 16383, 16384, u32::MAX] {
            let mut b = Vec::new();
            write_varbyte(n, &mut b);
            assert_eq!(read_varbyte(&b), Some((n, b.len())));
        }
        let mut b = Vec::new();
        write_varbyte(300, &mut b);
        assert_eq!(b, [0xac, 0x02]);
        assert_eq!(read_varbyte(&[0x80, 0x80]), None);
        assert_eq!(read_varbyte(&[0xff, 0xff, 0xff, 0xff, 0xff, 0x01]), None);
        // 5 bytes whose value exceeds 32 bits.
        assert_eq!(read_varbyte(&[0xff, 0xff, 0xff, 0xff, 0x7f]), None);
    }

    #[test]
    fn frames() {
        let mut b = Vec::new();
        write_frame(b"abc", &mut b);
        assert_eq!(b, [0, 0, 0, 3, b'a', b'b', b'c']);
        assert_eq!(next_frame(&b, 10).unwrap(), Some((4, 7)));
        assert_eq!(next_frame(&b[..6], 10).unwrap(), None);
        assert_eq!(next_frame(&b[..3], 10).unwrap(), None);
        assert!(next_frame(&[0x7f, 0xff, 0xff, 0xff], 1 << 20).is_err());
    }
}
