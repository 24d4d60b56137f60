//! `zc_endpoint_*`, `zc_endpoint_options_*` and `zc_message_*`: the Broker-level endpoint.
//!
//! Threading: an endpoint handle may be shared between host threads; every call takes
//! `&Endpoint`. The endpoint's own I/O thread never runs host code: callbacks run inside
//! `zc_endpoint_poll` on the thread that calls it.

use super::event::{event_bytes_from_handle, event_into_handle, zc_event};
use super::handle::{kind, Registry};
use super::strings::{arg_bytes, arg_str, give_bytes, give_string};
use super::{guard, guard_void, out_ptr, write_out, zc_result};
use crate::cluster;
use crate::endpoint::{Endpoint, EndpointOptions, Message, MessageKind};
use crate::error::{Error, ErrorKind};
use parking_lot::Mutex;
use std::os::raw::{c_char, c_int, c_void};
use std::sync::Arc;
use std::time::Duration;

/// An endpoint (opaque). Freed with `zc_endpoint_free`.
pub struct zc_endpoint {
    _private: [u8; 0],
}

/// Endpoint options (opaque), set by name. Freed with `zc_endpoint_options_free`.
pub struct zc_endpoint_options {
    _private: [u8; 0],
}

/// A message taken from an endpoint (opaque). Freed with `zc_message_free`.
pub struct zc_message {
    _private: [u8; 0],
}

pub(crate) static ENDPOINTS: Registry<Endpoint> = Registry::new(kind::ENDPOINT, "zc_endpoint");
static OPTIONS: Registry<Mutex<EndpointOptions>> =
    Registry::new(kind::ENDPOINT_OPTIONS, "zc_endpoint_options");
pub(crate) static MESSAGES: Registry<Message> = Registry::new(kind::MESSAGE, "zc_message");

/// What a message is (`zc_message_kind` reports it). Numbers are stable. Each kind has
/// one name: `ZC_MESSAGE_PEER_ADDED` here, `MessageKind::PeerAdded` in Rust,
/// `MessageKind.PEER_ADDED` in Python.
///
/// The endpoint raises EVENT and COMMAND (what peers publish) and the peering statuses
/// (PEER_ADDED, PEER_LOST, PEER_REMOVED, PEER_UNAVAILABLE, ENDPOINT_DISCOVERED,
/// ENDPOINT_UNREACHABLE, PEER_REJECTED, PEER_INVALID, DESERIALIZATION_FAILED). The cluster
/// layer, a service riding on the endpoint, raises HELLO, NODE_UP and NODE_DOWN (and a
/// PEER_REJECTED for a hello from a node not in the layout); a bare endpoint never does.
/// ZC_MESSAGE_PEER_UNREACHABLE is the deprecated former name of ZC_MESSAGE_PEER_UNAVAILABLE
/// (same number).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum zc_msg_kind {
    /// A data envelope: `zc_message_topic`, `zc_message_data` (one Broker-encoded value).
    ZC_MESSAGE_EVENT = 0,
    /// A peering completed its handshake ("handshake successful").
    ZC_MESSAGE_PEER_ADDED = 1,
    /// A peering ended other than by us, including the peer's goodbye (its unpeer or
    /// shutdown): "lost connection to remote peer (reason)". Broker's `peer_lost`; a
    /// peering we initiated is retried.
    ZC_MESSAGE_PEER_LOST = 2,
    /// We ended a peering: our unpeer, our shutdown, a forced disconnect. Broker's
    /// `peer_removed`.
    ZC_MESSAGE_PEER_REMOVED = 3,
    /// A connect attempt failed (Broker's `peer_unavailable`); retried if asked. Formerly
    /// ZC_MESSAGE_PEER_UNREACHABLE (still defined, deprecated).
    ZC_MESSAGE_PEER_UNAVAILABLE = 4,
    /// First status of a new peering ("found a new peer in the network").
    ZC_MESSAGE_ENDPOINT_DISCOVERED = 5,
    /// Cluster layer: a `Cluster::hello(name, id)` arrived; `zc_message_node_name`, peer id.
    ZC_MESSAGE_HELLO = 6,
    /// Cluster layer: `Cluster::node_up(name, id)`; `zc_message_node_name`, peer id.
    ZC_MESSAGE_NODE_UP = 7,
    /// Cluster layer: `Cluster::node_down(name, id)`; `zc_message_node_name`, peer id.
    ZC_MESSAGE_NODE_DOWN = 8,
    /// Follows every PEER_LOST / PEER_REMOVED ("lost the last path"), as Broker's.
    ZC_MESSAGE_ENDPOINT_UNREACHABLE = 9,
    /// A connection was refused during the handshake (garbage, bad magic, wrong version,
    /// equal ids, timeout); `zc_message_text` says why.
    ZC_MESSAGE_PEER_REJECTED = 10,
    /// A command envelope (data-store traffic): topic and data.
    ZC_MESSAGE_COMMAND = 11,
    /// `zc_endpoint_unpeer` named no known peer (Broker's `peer_invalid`).
    ZC_MESSAGE_PEER_INVALID = 12,
    /// A message whose payload does not decode was dropped (Broker's
    /// `deserialization_failed`); the peering stays up. `zc_message_topic` gives its
    /// topic, `zc_message_text` the peer and the reason, the peer id and address as for
    /// other statuses. Counted in `zc_endpoint_stats.undecodable`.
    ZC_MESSAGE_DESERIALIZATION_FAILED = 13,
}

/// Every C number and the kind it stands for (the test `message_kinds` checks that the
/// names agree with Rust's, the header's and Python's).
pub fn message_kinds() -> [(zc_msg_kind, MessageKind); 14] {
    use zc_msg_kind::*;
    [
        (ZC_MESSAGE_EVENT, MessageKind::Event),
        (ZC_MESSAGE_PEER_ADDED, MessageKind::PeerAdded),
        (ZC_MESSAGE_PEER_LOST, MessageKind::PeerLost),
        (ZC_MESSAGE_PEER_REMOVED, MessageKind::PeerRemoved),
        (ZC_MESSAGE_PEER_UNAVAILABLE, MessageKind::PeerUnavailable),
        (
            ZC_MESSAGE_ENDPOINT_DISCOVERED,
            MessageKind::EndpointDiscovered,
        ),
        (ZC_MESSAGE_HELLO, cluster::HELLO),
        (ZC_MESSAGE_NODE_UP, cluster::NODE_UP),
        (ZC_MESSAGE_NODE_DOWN, cluster::NODE_DOWN),
        (
            ZC_MESSAGE_ENDPOINT_UNREACHABLE,
            MessageKind::EndpointUnreachable,
        ),
        (ZC_MESSAGE_PEER_REJECTED, MessageKind::PeerRejected),
        (ZC_MESSAGE_COMMAND, MessageKind::Command),
        (ZC_MESSAGE_PEER_INVALID, MessageKind::PeerInvalid),
        (
            ZC_MESSAGE_DESERIALIZATION_FAILED,
            MessageKind::DeserializationFailed,
        ),
    ]
}

/// The C number of a kind. Every kind the library raises has one (the endpoint's and the
/// cluster layer's: only the library's own services run behind the C API); a service
/// kind without one is an internal error, never a panic.
pub(crate) fn kind_of(k: MessageKind) -> Result<zc_msg_kind, Error> {
    use zc_msg_kind::*;
    Ok(match k {
        MessageKind::Event => ZC_MESSAGE_EVENT,
        MessageKind::Command => ZC_MESSAGE_COMMAND,
        MessageKind::EndpointDiscovered => ZC_MESSAGE_ENDPOINT_DISCOVERED,
        MessageKind::PeerAdded => ZC_MESSAGE_PEER_ADDED,
        MessageKind::PeerRemoved => ZC_MESSAGE_PEER_REMOVED,
        MessageKind::PeerLost => ZC_MESSAGE_PEER_LOST,
        MessageKind::EndpointUnreachable => ZC_MESSAGE_ENDPOINT_UNREACHABLE,
        MessageKind::PeerUnavailable => ZC_MESSAGE_PEER_UNAVAILABLE,
        MessageKind::PeerRejected => ZC_MESSAGE_PEER_REJECTED,
        MessageKind::PeerInvalid => ZC_MESSAGE_PEER_INVALID,
        MessageKind::DeserializationFailed => ZC_MESSAGE_DESERIALIZATION_FAILED,
        cluster::HELLO => ZC_MESSAGE_HELLO,
        cluster::NODE_UP => ZC_MESSAGE_NODE_UP,
        cluster::NODE_DOWN => ZC_MESSAGE_NODE_DOWN,
        MessageKind::Service(s) => {
            return Err(Error::new(
                ErrorKind::Internal,
                format!("the message kind {} has no C number", s.name()),
            ))
        }
    })
}

/// Counters of an endpoint, cumulative since it started.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct zc_endpoint_stats {
    /// Events dropped because the inbox was full (drop policies).
    pub inbox_dropped: u64,
    /// Envelopes dropped because a peer's queue was full (drop policies).
    pub peer_dropped: u64,
    /// Peers disconnected because their queue overflowed (`disconnect` policy).
    pub peer_overflow_disconnects: u64,
    /// Envelopes not forwarded because their hop limit ran out.
    pub ttl_dropped: u64,
    pub published: u64,
    pub received: u64,
    pub forwarded: u64,
    /// Envelopes dropped because their payload did not decode (each reported as a
    /// ZC_MESSAGE_DESERIALIZATION_FAILED status).
    pub undecodable: u64,
}

pub(crate) fn ms(timeout_ms: i64) -> Option<Duration> {
    (timeout_ms >= 0).then(|| Duration::from_millis(timeout_ms as u64))
}

/// Creates endpoint options with the defaults (forwarding on, backpressure everywhere).
/// The caller owns `*out` and frees it with `zc_endpoint_options_free`.
/// Errors: ZC_ERR_NULL.
#[no_mangle]
pub extern "C" fn zc_endpoint_options_new(out: *mut *mut zc_endpoint_options) -> zc_result {
    guard(|| {
        out_ptr(out, "out")?;
        write_out(out, OPTIONS.insert(Mutex::new(EndpointOptions::default())));
        Ok(())
    })
}

/// Sets an option by name: `Broker::forward_messages` (T/F), `broker.ttl`,
/// `Broker::peer_buffer_size`, `Broker::peer_overflow_policy` (`backpressure`,
/// `drop_newest`, `drop_oldest`, `disconnect`), `inbox_capacity`, `inbox_overflow_policy`,
/// `publish_queue`, `backpressure_timeout`, `max_frame`, `handshake_timeout`,
/// `unpeer_timeout`, `shutdown_timeout` (intervals: `250 msecs`, `2 secs`, `250ms` or
/// seconds), `id` (UUID text),
/// `validate_data` (T/F); TLS by Zeek's names: `Broker::disable_ssl` (T/F, default F:
/// anonymous TLS as a Zeek node), `Broker::ssl_cafile`, `Broker::ssl_capath`,
/// `Broker::ssl_certificate`, `Broker::ssl_keyfile`, `Broker::ssl_passphrase` (paths and
/// text; any of them set means certificate-authenticated TLS). Types, defaults and the
/// value grammar (the same for every `*_options_set`): docs/options.md, or
/// `zcluster options --scope endpoint`. Any thread.
/// Errors: ZC_ERR_NULL, ZC_ERR_UTF8, ZC_ERR_BAD_HANDLE, ZC_ERR_NOT_FOUND (unknown name;
/// the message suggests the closest), ZC_ERR_INVALID_ARGUMENT (bad value; the message
/// names the option, its type and the value).
#[no_mangle]
pub extern "C" fn zc_endpoint_options_set(
    opts: *mut zc_endpoint_options,
    name: *const c_char,
    value: *const c_char,
) -> zc_result {
    guard(|| {
        let o = OPTIONS.get(opts)?;
        let name = arg_str(name, "name")?;
        let value = arg_str(value, "value")?;
        let r = o.lock().set(name, value);
        r
    })
}

/// Frees options. NULL is a no-op.
#[no_mangle]
pub extern "C" fn zc_endpoint_options_free(opts: *mut zc_endpoint_options) {
    guard_void(|| OPTIONS.free(opts))
}

/// Creates an endpoint and starts its I/O thread. `opts` may be NULL (defaults); it is
/// only read, the caller keeps owning it. The caller owns `*out` (`zc_endpoint_free`).
/// Errors: ZC_ERR_NULL, ZC_ERR_BAD_HANDLE, ZC_ERR_INVALID_ARGUMENT (also a TLS
/// configuration error: a certificate option set without certificate or key, a file that
/// does not load, a wrong passphrase; the message names the option), ZC_ERR_IO.
#[no_mangle]
pub extern "C" fn zc_endpoint_new(
    opts: *const zc_endpoint_options,
    out: *mut *mut zc_endpoint,
) -> zc_result {
    guard(|| {
        out_ptr(out, "out")?;
        let o = if opts.is_null() {
            EndpointOptions::default()
        } else {
            OPTIONS.get(opts)?.lock().clone()
        };
        let ep = Endpoint::new(o)?;
        write_out(out, ENDPOINTS.insert(ep));
        Ok(())
    })
}

/// Shuts the endpoint down as Broker's shutdown: a goodbye to every peer (they report
/// PEER_LOST and reconnect if they initiated), flushing and waiting for the goodbye pongs
/// within its shutdown timeout; then closes its sockets,
/// joins its thread and frees the handle. Other threads' calls on the handle fail with
/// ZC_ERR_BAD_HANDLE or ZC_ERR_CLOSED afterwards. NULL is a no-op.
#[no_mangle]
pub extern "C" fn zc_endpoint_free(ep: *mut zc_endpoint) {
    guard_void(|| {
        if ep.is_null() {
            return Ok(());
        }
        let e = ENDPOINTS.remove(ep)?;
        e.close();
        Ok(())
    })
}

/// Writes the endpoint's id (UUID text) to `*out`; free it with `zc_string_free`.
/// Errors: ZC_ERR_NULL, ZC_ERR_BAD_HANDLE.
#[no_mangle]
pub extern "C" fn zc_endpoint_id(ep: *const zc_endpoint, out: *mut *mut c_char) -> zc_result {
    guard(|| {
        out_ptr(out, "out")?;
        let e = ENDPOINTS.get(ep)?;
        write_out(out, give_string(&e.id().to_string()));
        Ok(())
    })
}

/// Listens on `addr:port` (`""` = all IPv4 interfaces, port 0 = pick one); writes the bound
/// port to `*bound_port` (which may be NULL). Any thread.
/// Errors: ZC_ERR_NULL, ZC_ERR_UTF8, ZC_ERR_BAD_HANDLE, ZC_ERR_IO (address in use, ...),
/// ZC_ERR_CLOSED.
#[no_mangle]
pub extern "C" fn zc_endpoint_listen(
    ep: *const zc_endpoint,
    addr: *const c_char,
    port: u16,
    bound_port: *mut u16,
) -> zc_result {
    guard(|| {
        let e = ENDPOINTS.get(ep)?;
        let addr = arg_str(addr, "addr")?;
        let p = e.listen(addr, port)?;
        if !bound_port.is_null() {
            write_out(bound_port, p);
        }
        Ok(())
    })
}

/// Starts peering with `addr:port` and returns at once; the outcome arrives as messages
/// (PEER_ADDED, or PEER_UNAVAILABLE per failed attempt). With `retry_ms` > 0 failed
/// attempts repeat every `retry_ms` and a lost peering is re-established.
/// Errors: ZC_ERR_NULL, ZC_ERR_UTF8, ZC_ERR_BAD_HANDLE, ZC_ERR_INVALID_ARGUMENT (address
/// does not resolve), ZC_ERR_CLOSED.
#[no_mangle]
pub extern "C" fn zc_endpoint_peer(
    ep: *const zc_endpoint,
    addr: *const c_char,
    port: u16,
    retry_ms: u64,
) -> zc_result {
    guard(|| {
        let e = ENDPOINTS.get(ep)?;
        e.peer(
            arg_str(addr, "addr")?,
            port,
            Duration::from_millis(retry_ms),
        )
    })
}

/// Ends the peering with `addr:port` with Broker's goodbye (ping/pong): this side reports
/// PEER_REMOVED and stops retrying; the peer reports PEER_LOST and reconnects if it
/// initiated the peering (as Broker). Also cancels pending connect attempts.
/// Errors: ZC_ERR_NULL, ZC_ERR_UTF8, ZC_ERR_BAD_HANDLE, ZC_ERR_CLOSED.
#[no_mangle]
pub extern "C" fn zc_endpoint_unpeer(
    ep: *const zc_endpoint,
    addr: *const c_char,
    port: u16,
) -> zc_result {
    guard(|| {
        let e = ENDPOINTS.get(ep)?;
        e.unpeer(arg_str(addr, "addr")?, port)
    })
}

/// Subscribes to a topic prefix (plain byte-prefix match, as Broker's).
/// Errors: ZC_ERR_NULL, ZC_ERR_UTF8, ZC_ERR_BAD_HANDLE, ZC_ERR_CLOSED.
#[no_mangle]
pub extern "C" fn zc_endpoint_subscribe(
    ep: *const zc_endpoint,
    topic_prefix: *const c_char,
) -> zc_result {
    guard(|| {
        ENDPOINTS
            .get(ep)?
            .subscribe(arg_str(topic_prefix, "topic_prefix")?)
    })
}

/// Withdraws a subscription made with `zc_endpoint_subscribe`.
/// Errors: ZC_ERR_NULL, ZC_ERR_UTF8, ZC_ERR_BAD_HANDLE, ZC_ERR_CLOSED.
#[no_mangle]
pub extern "C" fn zc_endpoint_unsubscribe(
    ep: *const zc_endpoint,
    topic_prefix: *const c_char,
) -> zc_result {
    guard(|| {
        ENDPOINTS
            .get(ep)?
            .unsubscribe(arg_str(topic_prefix, "topic_prefix")?)
    })
}

/// Publishes `len` bytes holding exactly one Broker-encoded value (binary format) on
/// `topic` to every peer whose subscriptions match. The bytes are copied. Under
/// backpressure (the default) it waits up to the backpressure timeout for room.
/// Errors: ZC_ERR_NULL, ZC_ERR_UTF8, ZC_ERR_BAD_HANDLE, ZC_ERR_DECODE (not one value),
/// ZC_ERR_INVALID_ARGUMENT (topic too long or reserved), ZC_ERR_WOULD_BLOCK (no room
/// within the timeout), ZC_ERR_CLOSED.
#[no_mangle]
pub extern "C" fn zc_endpoint_publish_data(
    ep: *const zc_endpoint,
    topic: *const c_char,
    data: *const u8,
    len: usize,
) -> zc_result {
    guard(|| {
        let e = ENDPOINTS.get(ep)?;
        let topic = arg_str(topic, "topic")?;
        let bytes = arg_bytes(data, len, "data")?;
        // Checked without building the value (same errors as decoding).
        crate::data::bin::validate(bytes)?;
        e.publish(topic, bytes.to_vec())
    })
}

/// Publishes a Zeek event on `topic` to every peer whose subscriptions match. The event
/// is copied; the caller keeps owning it. Under backpressure (the default) it waits up to
/// the backpressure timeout for room.
/// Errors: ZC_ERR_NULL, ZC_ERR_UTF8, ZC_ERR_BAD_HANDLE, ZC_ERR_INVALID_ARGUMENT (topic too
/// long or reserved), ZC_ERR_WOULD_BLOCK (no room within the timeout), ZC_ERR_CLOSED.
#[no_mangle]
pub extern "C" fn zc_endpoint_publish(
    ep: *const zc_endpoint,
    topic: *const c_char,
    event: *const zc_event,
) -> zc_result {
    guard(|| {
        let e = ENDPOINTS.get(ep)?;
        let topic = arg_str(topic, "topic")?;
        // Encoded straight from the handle: no deep copy of the event per publish.
        e.publish(topic, event_bytes_from_handle(event)?)
    })
}

/// A descriptor that is readable exactly while messages wait (level-triggered), for
/// select/poll/epoll loops. Owned by the endpoint: do not read or close it.
/// Errors: ZC_ERR_NULL, ZC_ERR_BAD_HANDLE.
#[no_mangle]
pub extern "C" fn zc_endpoint_fd(ep: *const zc_endpoint, out: *mut c_int) -> zc_result {
    guard(|| {
        out_ptr(out, "out")?;
        write_out(out, ENDPOINTS.get(ep)?.fd());
        Ok(())
    })
}

/// Takes the next message: `timeout_ms` 0 returns at once, < 0 waits without limit (until
/// a message arrives or the endpoint is freed). The caller owns `*out` (`zc_message_free`).
/// Any thread. Errors: ZC_ERR_NULL, ZC_ERR_BAD_HANDLE, ZC_ERR_TIMEOUT (nothing arrived),
/// ZC_ERR_CLOSED (the endpoint was freed by another thread while waiting).
#[no_mangle]
pub extern "C" fn zc_endpoint_next(
    ep: *const zc_endpoint,
    timeout_ms: i64,
    out: *mut *mut zc_message,
) -> zc_result {
    guard(|| {
        out_ptr(out, "out")?;
        let e = ENDPOINTS.get(ep)?;
        write_out(out, next_message(&e, timeout_ms, "endpoint")?);
        Ok(())
    })
}

/// `zc_endpoint_next`'s wait, shared with `zc_cluster_next`: a registered message handle,
/// or Timeout / Closed (`what` names the owner in the message).
pub(crate) fn next_message(
    e: &Endpoint,
    timeout_ms: i64,
    what: &str,
) -> crate::Result<*mut zc_message> {
    let m = match ms(timeout_ms) {
        Some(d) if d.is_zero() => e.next(None),
        Some(d) => e.next(Some(d)),
        None => loop {
            if let Some(m) = e.next(Some(Duration::from_secs(3600))) {
                break Some(m);
            }
            if e.is_closed() {
                break None;
            }
        },
    };
    match m {
        Some(m) => Ok(MESSAGES.insert(m)),
        None if e.is_closed() => Err(Error::closed(format!(
            "the {what} is closed and its inbox is empty"
        ))),
        None => Err(Error::new(
            crate::ErrorKind::Timeout,
            format!("no message within {timeout_ms} ms"),
        )),
    }
}

/// A message callback: `msg` is borrowed for the duration of the call (do not free it;
/// copy what you need). Runs on the thread that calls `zc_endpoint_poll`.
pub type zc_message_cb = Option<extern "C" fn(msg: *const zc_message, userdata: *mut c_void)>;
/// Releases callback userdata; called exactly once, when the callback is replaced or the
/// endpoint is freed.
pub type zc_userdata_free_cb = Option<extern "C" fn(userdata: *mut c_void)>;

struct CbData {
    cb: extern "C" fn(*const zc_message, *mut c_void),
    userdata: *mut c_void,
    free: zc_userdata_free_cb,
}

// SAFETY: the callback and its userdata are only used on host threads inside
// `zc_endpoint_poll` (one at a time); the host promises they may be called from whichever
// thread calls poll, as the documentation states.
unsafe impl Send for CbData {}

impl CbData {
    fn call(&self, m: *const zc_message) {
        (self.cb)(m, self.userdata)
    }

    fn into_callback(self) -> Box<dyn FnMut(Message) + Send> {
        Box::new(move |m: Message| {
            let h: *mut zc_message = MESSAGES.insert(m);
            self.call(h);
            let _ = MESSAGES.free(h);
        })
    }
}

impl Drop for CbData {
    fn drop(&mut self) {
        if let Some(f) = self.free {
            f(self.userdata);
        }
    }
}

/// Sets the callback `zc_endpoint_poll` runs for each message (NULL `cb` clears it). The
/// previous callback's `userdata_free` runs. No internal lock is held while the callback
/// runs, so it may call any `zc_*` function except `zc_endpoint_poll` on the same endpoint.
/// Errors: ZC_ERR_BAD_HANDLE (then `userdata_free` is still called, so nothing leaks).
#[no_mangle]
pub extern "C" fn zc_endpoint_set_callback(
    ep: *const zc_endpoint,
    cb: zc_message_cb,
    userdata: *mut c_void,
    userdata_free: zc_userdata_free_cb,
) -> zc_result {
    let callback = message_callback(cb, userdata, userdata_free);
    guard(move || {
        let e = ENDPOINTS.get(ep)?;
        e.set_callback(callback);
        Ok(())
    })
}

/// Wraps a C callback for `Endpoint::set_callback`, shared with `zc_cluster_set_callback`.
/// A NULL `cb` gives None and runs `userdata_free` at once; otherwise `userdata_free` runs
/// when the returned callback is dropped (replaced, endpoint gone, or never installed).
pub(crate) fn message_callback(
    cb: zc_message_cb,
    userdata: *mut c_void,
    userdata_free: zc_userdata_free_cb,
) -> Option<Box<dyn FnMut(Message) + Send>> {
    match cb {
        Some(cb) => Some(
            CbData {
                cb,
                userdata,
                free: userdata_free,
            }
            .into_callback(),
        ),
        None => {
            if let Some(f) = userdata_free {
                f(userdata);
            }
            None
        }
    }
}

/// Runs the callback for every waiting message on the calling thread, waiting up to
/// `timeout_ms` for the first (0: do not wait). Writes how many were handled to `*handled`
/// (may be NULL). Without a callback nothing is taken.
/// Errors: ZC_ERR_BAD_HANDLE.
#[no_mangle]
pub extern "C" fn zc_endpoint_poll(
    ep: *const zc_endpoint,
    timeout_ms: i64,
    handled: *mut usize,
) -> zc_result {
    guard(|| {
        let e = ENDPOINTS.get(ep)?;
        let n = e.poll(Duration::from_millis(timeout_ms.max(0) as u64));
        if !handled.is_null() {
            write_out(handled, n);
        }
        Ok(())
    })
}

/// Number of established peerings. Errors: ZC_ERR_NULL, ZC_ERR_BAD_HANDLE.
#[no_mangle]
pub extern "C" fn zc_endpoint_peer_count(ep: *const zc_endpoint, out: *mut usize) -> zc_result {
    guard(|| {
        out_ptr(out, "out")?;
        write_out(out, ENDPOINTS.get(ep)?.peers().len());
        Ok(())
    })
}

/// Whether some peer subscribed to a prefix of `topic` (a publish would go out).
/// Errors: ZC_ERR_NULL, ZC_ERR_UTF8, ZC_ERR_BAD_HANDLE.
#[no_mangle]
pub extern "C" fn zc_endpoint_peer_subscribed(
    ep: *const zc_endpoint,
    topic: *const c_char,
    out: *mut bool,
) -> zc_result {
    guard(|| {
        out_ptr(out, "out")?;
        let e = ENDPOINTS.get(ep)?;
        let t = arg_str(topic, "topic")?;
        write_out(out, e.await_peer_subscription(t, Duration::ZERO));
        Ok(())
    })
}

/// Copies the endpoint's counters to `*out`. Errors: ZC_ERR_NULL, ZC_ERR_BAD_HANDLE.
#[no_mangle]
pub extern "C" fn zc_endpoint_get_stats(
    ep: *const zc_endpoint,
    out: *mut zc_endpoint_stats,
) -> zc_result {
    guard(|| {
        out_ptr(out, "out")?;
        let s = ENDPOINTS.get(ep)?.stats();
        write_out(
            out,
            zc_endpoint_stats {
                inbox_dropped: s.inbox_dropped,
                peer_dropped: s.peer_dropped,
                peer_overflow_disconnects: s.peer_overflow_disconnects,
                ttl_dropped: s.ttl_dropped,
                published: s.published,
                received: s.received,
                forwarded: s.forwarded,
                undecodable: s.undecodable,
            },
        );
        Ok(())
    })
}

/// An event message's Zeek event; the caller owns `*out` (`zc_event_free`).
/// Errors: ZC_ERR_NULL, ZC_ERR_BAD_HANDLE, ZC_ERR_TYPE (a status or command message, or
/// data that is not a Zeek event), ZC_ERR_DECODE.
#[no_mangle]
pub extern "C" fn zc_message_event(msg: *const zc_message, out: *mut *mut zc_event) -> zc_result {
    guard(|| {
        out_ptr(out, "out")?;
        let ev = MESSAGES.get(msg)?.event()?;
        write_out(out, event_into_handle(ev));
        Ok(())
    })
}

/// The message's kind. Errors: ZC_ERR_NULL, ZC_ERR_BAD_HANDLE.
#[no_mangle]
pub extern "C" fn zc_message_kind(msg: *const zc_message, out: *mut zc_msg_kind) -> zc_result {
    guard(|| {
        out_ptr(out, "out")?;
        write_out(out, kind_of(MESSAGES.get(msg)?.kind)?);
        Ok(())
    })
}

/// An event or command message's topic (free with `zc_string_free`).
/// Errors: ZC_ERR_NULL, ZC_ERR_BAD_HANDLE, ZC_ERR_TYPE (a status message has no topic).
#[no_mangle]
pub extern "C" fn zc_message_topic(msg: *const zc_message, out: *mut *mut c_char) -> zc_result {
    guard(|| {
        out_ptr(out, "out")?;
        let m = MESSAGES.get(msg)?;
        if m.is_status() && m.kind != MessageKind::DeserializationFailed {
            return Err(Error::type_mismatch("a status message has no topic"));
        }
        write_out(out, give_string(&m.topic));
        Ok(())
    })
}

/// An event or command message's payload bytes (Broker's binary encoding): `*out` gets a
/// library-owned copy (free with `zc_string_free`), `*len` its length.
/// Errors: ZC_ERR_NULL, ZC_ERR_BAD_HANDLE, ZC_ERR_TYPE (status message).
#[no_mangle]
pub extern "C" fn zc_message_data(
    msg: *const zc_message,
    out: *mut *mut u8,
    len: *mut usize,
) -> zc_result {
    guard(|| {
        out_ptr(out, "out")?;
        out_ptr(len, "len")?;
        let m = MESSAGES.get(msg)?;
        if m.is_status() {
            return Err(Error::type_mismatch("a status message has no data"));
        }
        write_out(len, m.payload.len());
        write_out(out, give_bytes(&m.payload) as *mut u8);
        Ok(())
    })
}

/// A status message's text, Broker's wording plus the reason (free with `zc_string_free`);
/// empty for event messages. Errors: ZC_ERR_NULL, ZC_ERR_BAD_HANDLE.
#[no_mangle]
pub extern "C" fn zc_message_text(msg: *const zc_message, out: *mut *mut c_char) -> zc_result {
    guard(|| {
        out_ptr(out, "out")?;
        write_out(out, give_string(&MESSAGES.get(msg)?.text));
        Ok(())
    })
}

/// The peer's endpoint id (UUID text; free with `zc_string_free`) of a status message, or
/// for an event the id of the peer it arrived from.
/// Errors: ZC_ERR_NULL, ZC_ERR_BAD_HANDLE, ZC_ERR_NOT_FOUND (not known, e.g. a failed connect).
#[no_mangle]
pub extern "C" fn zc_message_peer_id(msg: *const zc_message, out: *mut *mut c_char) -> zc_result {
    guard(|| {
        out_ptr(out, "out")?;
        let m = MESSAGES.get(msg)?;
        let id = m.peer.as_ref().and_then(|p| p.id).or(m.sender);
        let id = id.ok_or_else(|| Error::not_found("the message names no peer id"))?;
        write_out(out, give_string(&id.to_string()));
        Ok(())
    })
}

/// A status message's peer address (free with `zc_string_free`) and port (`port` may be
/// NULL). Errors: ZC_ERR_NULL, ZC_ERR_BAD_HANDLE, ZC_ERR_TYPE (event message).
#[no_mangle]
pub extern "C" fn zc_message_address(
    msg: *const zc_message,
    out: *mut *mut c_char,
    port: *mut u16,
) -> zc_result {
    guard(|| {
        out_ptr(out, "out")?;
        let m = MESSAGES.get(msg)?;
        let p = m
            .peer
            .as_ref()
            .ok_or_else(|| Error::type_mismatch("an event message has no peer address"))?;
        if !port.is_null() {
            write_out(port, p.port);
        }
        write_out(out, give_string(&p.address));
        Ok(())
    })
}

/// The cluster node a HELLO, NODE_UP or NODE_DOWN message is about (free with
/// `zc_string_free`); also set on a PEER_REJECTED for a hello from a node not in the
/// layout. Any thread.
/// Errors: ZC_ERR_NULL, ZC_ERR_BAD_HANDLE, ZC_ERR_TYPE (an event or command message),
/// ZC_ERR_NOT_FOUND (a status message that names no cluster node).
#[no_mangle]
pub extern "C" fn zc_message_node_name(msg: *const zc_message, out: *mut *mut c_char) -> zc_result {
    guard(|| {
        out_ptr(out, "out")?;
        let m = MESSAGES.get(msg)?;
        match (&m.node, m.is_status()) {
            (Some(n), _) => {
                write_out(out, give_string(n));
                Ok(())
            }
            (None, false) => Err(Error::type_mismatch(
                "an event or command message names no cluster node",
            )),
            (None, true) => Err(Error::not_found(
                "the status message names no cluster node (only HELLO, NODE_UP and NODE_DOWN do)",
            )),
        }
    })
}

/// Frees a message. NULL is a no-op.
#[no_mangle]
pub extern "C" fn zc_message_free(msg: *mut zc_message) {
    guard_void(|| MESSAGES.free(msg))
}

#[allow(dead_code)]
fn _assert_send_sync() {
    fn f<T: Send + Sync>() {}
    f::<Arc<Endpoint>>();
}
