//! Batches: `zc_endpoint_publish_many`, `zc_endpoint_next_many` and `zc_cluster_next_many`,
//! so that a binding pays one foreign call per batch instead of several per message
//! (the Python package's `publish_many` / `next_many`).
//!
//! The batch format `next_many` writes is one buffer of records (little-endian):
//! - a run of events (kind `ZC_MESSAGE_EVENT`, consecutive messages with one topic and one
//!   sender): `u8 0, u32 n, u32 topic_len, u32 peer_id_len` (13 bytes,
//!   `ZC_BATCH_RUN_HEADER_LEN`), the topic, the sender's id, then `n` times `u32 data_len`,
//!   then the `n` payloads (Broker's binary encoding) back to back;
//! - any other message: `u8 kind, u16 port, u32 topic_len, u32 data_len, u32 text_len,
//!   u32 peer_id_len, u32 address_len, u32 node_len` (27 bytes, `ZC_BATCH_HEADER_LEN`)
//!   followed by those six byte strings in that order: topic and data for commands (and
//!   the dropped message's topic for DESERIALIZATION_FAILED); text, address, port and
//!   node name for statuses; peer_id is the sender or the peer a status is about ("" when
//!   unknown).
//!
//! Runs keep the per-event cost of reading a batch to one length and one payload.

use super::endpoint::{kind_of, zc_endpoint, zc_msg_kind, ENDPOINTS};
use super::strings::{arg_bytes, arg_str, give_bytes};
use super::{guard, out_ptr, write_out, zc_result};
use crate::endpoint::{Endpoint, Message};
use crate::error::{Error, ErrorKind};
use std::os::raw::c_char;
use std::time::Duration;

/// Bytes of a record header in a `next_many` batch (a message other than an event).
pub const ZC_BATCH_HEADER_LEN: usize = 27;
/// Bytes of the header of a run of events in a `next_many` batch.
pub const ZC_BATCH_RUN_HEADER_LEN: usize = 13;

fn arg_lens<'a>(p: *const usize, count: usize) -> crate::Result<&'a [usize]> {
    if count == 0 {
        return Ok(&[]);
    }
    if p.is_null() {
        return Err(Error::new(ErrorKind::NullArgument, "lens is NULL"));
    }
    if count > isize::MAX as usize / std::mem::size_of::<usize>() {
        return Err(Error::invalid(format!("count {count} is too large")));
    }
    // SAFETY: non-NULL; the caller promises `count` readable lengths that outlive the call.
    Ok(unsafe { std::slice::from_raw_parts(p, count) })
}

/// Publishes `count` values on `topic`: `data` holds them back to back, each in Broker's
/// binary encoding (as `zc_endpoint_publish_data` takes one), `lens[i]` is the length of
/// the i-th. Every value is checked first: if one is malformed nothing is published
/// (ZC_ERR_DECODE names its index). Under backpressure each publish waits as
/// `zc_endpoint_publish_data` does. `*published` (may be NULL) gets how many went out,
/// also when a publish fails part-way (ZC_ERR_WOULD_BLOCK, ZC_ERR_CLOSED): the values
/// before that index were published, the rest were not. Any thread.
/// Errors: ZC_ERR_NULL (ep, topic; data or lens with a non-zero count), ZC_ERR_UTF8,
/// ZC_ERR_BAD_HANDLE, ZC_ERR_INVALID_ARGUMENT (lengths that do not add up to a size,
/// topic too long or reserved), ZC_ERR_DECODE, ZC_ERR_WOULD_BLOCK, ZC_ERR_CLOSED.
#[no_mangle]
pub extern "C" fn zc_endpoint_publish_many(
    ep: *const zc_endpoint,
    topic: *const c_char,
    data: *const u8,
    lens: *const usize,
    count: usize,
    published: *mut usize,
) -> zc_result {
    if !published.is_null() {
        write_out(published, 0);
    }
    guard(|| {
        let e = ENDPOINTS.get(ep)?;
        let topic = arg_str(topic, "topic")?;
        let lens = arg_lens(lens, count)?;
        let total = lens.iter().try_fold(0usize, |a, &l| a.checked_add(l));
        let Some(total) = total else {
            return Err(Error::invalid("the lengths add up to more than a size_t"));
        };
        let bytes = arg_bytes(data, total, "data")?;
        let mut at = 0;
        for (i, &l) in lens.iter().enumerate() {
            crate::data::bin::validate(&bytes[at..at + l]).map_err(|err| {
                Error::new(err.kind, format!("value {i} of the batch: {}", err.message))
            })?;
            at += l;
        }
        let mut at = 0;
        for (i, &l) in lens.iter().enumerate() {
            e.publish(topic, bytes[at..at + l].to_vec())
                .map_err(|err| {
                    Error::new(
                        err.kind,
                        format!("after {i} of {count} values: {}", err.message),
                    )
                })?;
            at += l;
            if !published.is_null() {
                write_out(published, i + 1);
            }
        }
        Ok(())
    })
}

fn put_str(out: &mut Vec<u8>, s: &[u8]) {
    out.extend_from_slice(s);
}

/// The text of the last id written (most records of a batch share one sender).
#[derive(Default)]
struct IdCache {
    id: Option<crate::wire::EndpointId>,
    text: String,
}

impl IdCache {
    fn text(&mut self, id: Option<crate::wire::EndpointId>) -> &str {
        match id {
            None => "",
            Some(i) => {
                if self.id != Some(i) {
                    self.id = Some(i);
                    self.text = i.to_string();
                }
                &self.text
            }
        }
    }
}

/// Appends one record of the batch format.
fn encode_record(m: &Message, out: &mut Vec<u8>, ids: &mut IdCache) -> crate::Result<()> {
    let is_data = !m.is_status();
    let topic = m.topic.as_bytes();
    let data: &[u8] = &m.payload;
    let text = m.text.as_bytes();
    let peer_id = match (is_data, &m.sender, &m.peer) {
        (true, Some(s), _) => ids.text(Some(*s)),
        (false, _, Some(p)) => ids.text(p.id),
        _ => "",
    };
    let (address, port) = match &m.peer {
        Some(p) if !is_data => (p.address.as_bytes(), p.port),
        _ => (&[][..], 0),
    };
    let node = m.node.as_deref().unwrap_or("").as_bytes();
    out.push(kind_of(m.kind)? as u8);
    out.extend_from_slice(&port.to_le_bytes());
    for s in [topic, data, text, peer_id.as_bytes(), address, node] {
        out.extend_from_slice(&(s.len() as u32).to_le_bytes());
    }
    for s in [topic, data, text, peer_id.as_bytes(), address, node] {
        put_str(out, s);
    }
    Ok(())
}

fn next_many(
    e: &Endpoint,
    max: usize,
    timeout_ms: i64,
    buf: *mut *mut u8,
    len: *mut usize,
    count: *mut usize,
    what: &str,
) -> crate::Result<()> {
    if max == 0 {
        return Err(Error::invalid("max must be at least 1"));
    }
    let mut msgs = Vec::new();
    let n = match super::endpoint::ms(timeout_ms) {
        Some(d) if d.is_zero() => e.next_batch(&mut msgs, max, None),
        Some(d) => e.next_batch(&mut msgs, max, Some(d)),
        None => loop {
            let n = e.next_batch(&mut msgs, max, Some(Duration::from_secs(3600)));
            if n > 0 || e.is_closed() {
                break n;
            }
        },
    };
    if n == 0 {
        // A closed endpoint hands out what it still holds; only an empty one is Closed.
        if e.is_closed() {
            return Err(Error::closed(format!(
                "the {what} is closed and its inbox is empty"
            )));
        }
        return Err(Error::new(
            ErrorKind::Timeout,
            format!("no message within {timeout_ms} ms"),
        ));
    }
    let size: usize = msgs
        .iter()
        .map(|m| ZC_BATCH_HEADER_LEN + m.topic.len() + m.payload.len() + m.text.len() + 80)
        .sum();
    let mut out = Vec::with_capacity(size);
    let mut ids = IdCache::default();
    let mut i = 0;
    while i < msgs.len() {
        let m = &msgs[i];
        if m.kind != crate::endpoint::MessageKind::Event {
            encode_record(m, &mut out, &mut ids)?;
            i += 1;
            continue;
        }
        // A run: the following events with the same topic and sender.
        let mut j = i + 1;
        while j < msgs.len()
            && msgs[j].kind == crate::endpoint::MessageKind::Event
            && msgs[j].topic == m.topic
            && msgs[j].sender == m.sender
        {
            j += 1;
        }
        let peer = ids.text(m.sender).as_bytes().to_vec();
        out.push(zc_msg_kind::ZC_MESSAGE_EVENT as u8);
        out.extend_from_slice(&((j - i) as u32).to_le_bytes());
        out.extend_from_slice(&(m.topic.len() as u32).to_le_bytes());
        out.extend_from_slice(&(peer.len() as u32).to_le_bytes());
        out.extend_from_slice(m.topic.as_bytes());
        out.extend_from_slice(&peer);
        for x in &msgs[i..j] {
            out.extend_from_slice(&(x.payload.len() as u32).to_le_bytes());
        }
        for x in &msgs[i..j] {
            out.extend_from_slice(&x.payload);
        }
        i = j;
    }
    write_out(len, out.len());
    write_out(count, n);
    write_out(buf, give_bytes(&out) as *mut u8);
    Ok(())
}

/// Takes up to `max` waiting messages in one call: waits up to `timeout_ms` for the first
/// (0: not at all, < 0: without limit), then takes whatever else is already waiting, in
/// order. `*buf` gets a library-owned buffer of `*len` bytes holding `*count` messages
/// (free it with `zc_string_free`), as records, little-endian:
/// - a run of events with one topic and sender: `u8 0 (ZC_MESSAGE_EVENT), u32 n,
///   u32 topic_len, u32 peer_id_len` (ZC_BATCH_RUN_HEADER_LEN bytes), the topic, the
///   sender's id, `n` times `u32 data_len`, then the `n` payloads (Broker's binary
///   encoding) back to back; it counts as `n` messages;
/// - any other message: `u8 kind, u16 port, u32 topic_len, u32 data_len, u32 text_len,
///   u32 peer_id_len, u32 address_len, u32 node_len` (ZC_BATCH_HEADER_LEN bytes), then
///   those six strings in that order (`zc_message_*` give the same fields).
///
/// Any thread. Errors: ZC_ERR_NULL, ZC_ERR_BAD_HANDLE, ZC_ERR_INVALID_ARGUMENT (max 0),
/// ZC_ERR_TIMEOUT (nothing arrived), ZC_ERR_CLOSED (closed and nothing left).
#[no_mangle]
pub extern "C" fn zc_endpoint_next_many(
    ep: *const zc_endpoint,
    max: usize,
    timeout_ms: i64,
    buf: *mut *mut u8,
    len: *mut usize,
    count: *mut usize,
) -> zc_result {
    guard(|| {
        out_ptr(buf, "buf")?;
        out_ptr(len, "len")?;
        out_ptr(count, "count")?;
        let e = ENDPOINTS.get(ep)?;
        next_many(&e, max, timeout_ms, buf, len, count, "endpoint")
    })
}

/// `zc_endpoint_next_many` on a started cluster node's endpoint (also HELLO, NODE_UP and
/// NODE_DOWN records, with the node's name). Errors: those of `zc_endpoint_next_many`,
/// and ZC_ERR_STATE (not started).
#[no_mangle]
pub extern "C" fn zc_cluster_next_many(
    cl: *const super::cluster::zc_cluster,
    max: usize,
    timeout_ms: i64,
    buf: *mut *mut u8,
    len: *mut usize,
    count: *mut usize,
) -> zc_result {
    guard(|| {
        out_ptr(buf, "buf")?;
        out_ptr(len, "len")?;
        out_ptr(count, "count")?;
        let c = super::cluster::CLUSTERS.get(cl)?;
        let rt = c.running()?;
        next_many(
            rt.endpoint(),
            max,
            timeout_ms,
            buf,
            len,
            count,
            "cluster node",
        )
    })
}
