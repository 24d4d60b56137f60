//! The Broker-level endpoint: one mio I/O thread, peering, topic routing, delivery to the host.
//!
//! Threading: `Endpoint::new` spawns one I/O thread that owns every socket. Host threads
//! never touch sockets: they append commands to a shared queue and wake the thread through
//! a `mio::Waker` (only when it is not already awake, so a burst of publishes costs one
//! wake-up). The thread drains the whole queue per turn, routes, and writes each peer's
//! accumulated frames with one `write` per turn, so many small messages share a syscall.
//! Messages for the host go into one bounded inbox (`inbox`), read through `next`, through
//! callbacks inside `poll` (run on the caller's thread), or signalled on `fd`. A transport
//! whose socket can be shared under a lock may send a host's publish on the host's thread
//! while nothing is queued before it (`DirectPublish`; the ZeroMQ backend does).
//!
//! Transport: every peering runs in TLS set up as Broker sets it up (anonymous by default,
//! authenticated with certificates; `EndpointOptions::tls`), or plain TCP with
//! `Broker::disable_ssl`. The TLS layer sits under the protocol (`transport`): the
//! handshake state machine, routing and write batching below are the same for both.
//!
//! Layers: `proto` is Broker's peer protocol as a sans-IO core (bytes and the current time
//! in; bytes to write, deliveries, connects/closes and its next deadline out), tested in
//! memory by `proto_tests`. `io` is the mio thread that drives it: sockets, the waker,
//! timers, the host's command queue and the hooks. `stream` is the seam between them: a
//! `ByteStream` per connection made by a `Transports` (plain TCP or TLS today), so a new
//! transport touches neither the core nor the layers above the endpoint.
//!
//! Payloads are opaque bytes here: a data envelope carries one Broker-encoded value, a
//! command envelope a store command. The event layer (`data`) encodes and decodes them.
//! Command envelopes travel exactly like data (by filter, or addressed to one peer with
//! `publish_command(.., Some(id))`) and reach the host as `MessageKind::Command`.
//!
//! Routing (Broker's rules, plus what Broker leaves out):
//! - A peer gets a message if its advertised filter matches the topic (byte prefix) or the
//!   message is addressed to it; never the peer it came from. We always write our own id
//!   as sender (the last hop). Our inbox never sees our own publishes.
//! - With forwarding on, what we advertise to peer P is our subscriptions plus every
//!   other peer's filter (split horizon: never P's own back), re-sent as a routing update
//!   addressed to P whenever it changes. So in a tree every subscriber gets each message
//!   exactly once, in publish order per publisher (one TCP stream per hop, FIFO routing).
//! - Each hop decrements the TTL and a message with TTL 1 is not forwarded. On a cycle,
//!   messages are duplicated (once per path) until the TTL runs out, and a withdrawn
//!   subscription can keep circulating in the filters (count-to-infinity): use a tree, or
//!   turn forwarding off as Zeek's cluster does.
//! - Unpeering says goodbye with Broker's BYE ping, and so does closing (or dropping) the
//!   endpoint, as Broker's `shutdown` does: every peer gets the ping and the close waits
//!   for the pongs (at most `shutdown_timeout`). As in Broker, the side that receives a
//!   goodbye reports `PeerLost` ("lost connection to remote peer (the peer said
//!   goodbye)") and, if it initiated the peering, keeps retrying on its retry interval:
//!   only our own `unpeer` ends our retries. So a peer that restarts (`zeekctl restart`,
//!   a clean exit) is peered with again.
//! - Only a broken stream ends a connection: bad framing, a frame over `max_frame`, an
//!   envelope header that does not decode, a handshake message out of place. A data,
//!   command or routing-update envelope whose payload does not decode is dropped, counted
//!   (`Stats::undecodable`) and reported as `DeserializationFailed` (peer, topic, reason);
//!   the peering stays up.
//! - A connection whose first bytes are a TLS record (a TLS client dialling us, a TLS
//!   server answering our hello with an alert) is closed as exactly that ("peer started a
//!   TLS handshake; this endpoint has TLS disabled"), not as an oversized frame.
//!
//! Statuses, and Broker's names for the same events (`sc` status codes, `ec` errors;
//! the texts are Broker's, with the reason appended in parentheses where we have one):
//!
//! | `MessageKind`          | Broker                          | when |
//! |------------------------|---------------------------------|------|
//! | `EndpointDiscovered`   | `sc::endpoint_discovered`       | a peering completed (first status) |
//! | `PeerAdded`            | `sc::peer_added`                | "handshake successful" |
//! | `PeerRemoved`          | `sc::peer_removed`              | we ended it: our `unpeer`, our close, a `disconnect` overflow, a goodbye without pong |
//! | `PeerLost`             | `sc::peer_lost`                 | anything else, including the peer's goodbye (its unpeer or shutdown) |
//! | `EndpointUnreachable`  | `sc::endpoint_unreachable`      | after each `PeerRemoved`/`PeerLost` |
//! | `PeerUnavailable`      | `ec::peer_unavailable`          | a connect attempt failed (retried if asked) |
//! | `PeerInvalid`          | `ec::peer_invalid`              | `unpeer` named no known peer |
//! | `DeserializationFailed`| `ec::deserialization_failed`    | a message's payload did not decode; dropped |
//! | `PeerRejected`         | (Broker only logs these)        | a connection refused during the handshake |
//!
//! Message kinds (`MessageKind`), and whose they are: the endpoint raises the deliveries
//! (`Event`, `Command`) and the peering statuses above, and names nothing above itself. A
//! service stage riding on the endpoint (`service`: the cluster framework, the stores, a
//! host's own) may raise the endpoint's statuses and kinds of its own,
//! `MessageKind::Service(ServiceKind)`, which the service defines: the cluster layer's
//! `cluster::HELLO`, `cluster::NODE_UP` and `cluster::NODE_DOWN` (`cluster::kinds`). Each
//! kind has one name (`MessageKind::name`): `PeerUnavailable` in Rust is
//! `ZC_MESSAGE_PEER_UNAVAILABLE` in C and `MessageKind.PEER_UNAVAILABLE` in Python, with
//! the same C number everywhere (`ffi::endpoint::message_kinds`; the test
//! `message_kinds` fails if the Rust, C and Python lists diverge).

pub(crate) mod inbox;
mod io;
pub(crate) mod proto;
#[cfg(test)]
mod proto_tests;
pub mod service;
mod stream;
mod transport;

pub(crate) use transport::Transport;
pub use transport::{TlsMode, TlsOptions};
pub mod tap;

use crate::wire::{EndpointId, EnvelopeType};
use crate::{Error, ErrorKind, Result};
use inbox::Inbox;
use parking_lot::{Condvar, Mutex};
use std::collections::VecDeque;
use std::net::{SocketAddr, ToSocketAddrs};
use std::os::fd::RawFd;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
pub use tap::{PeerStats, Tap};

/// The stack reserved for an endpoint's I/O thread. Hooks (cluster, stores) decode, drop,
/// clone, compare and encode values there, some of which recurse once per nesting level:
/// about 1.3 KB per level in a debug build at worst, so values at the nesting limit
/// (`data::bin::DEFAULT_MAX_DEPTH`, 4096) need about 6 MB. Reserved address space, not
/// memory: only the pages a deep value touches are ever committed.
pub const IO_THREAD_STACK: usize = 32 * 1024 * 1024;

/// What to do when a bounded buffer (the inbox, or a peer's outgoing queue) is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OverflowPolicy {
    /// Stop taking more: publishers wait (up to `backpressure_timeout`, then
    /// `ErrorKind::WouldBlock`), and the I/O thread stops reading from peers, so TCP
    /// pushes back on the remote publishers. Nothing is lost.
    Backpressure,
    /// Drop the message that does not fit (counted).
    DropNewest,
    /// Drop the oldest waiting message to make room (counted).
    DropOldest,
    /// Disconnect the peer whose queue overflows (peer queues only), as Broker's default.
    Disconnect,
}

impl OverflowPolicy {
    /// Parses Broker's names (`broker.peer-overflow-policy`) plus `backpressure`.
    pub fn parse(s: &str) -> Result<OverflowPolicy> {
        Ok(match s {
            "backpressure" => OverflowPolicy::Backpressure,
            "drop_newest" => OverflowPolicy::DropNewest,
            "drop_oldest" => OverflowPolicy::DropOldest,
            "disconnect" => OverflowPolicy::Disconnect,
            _ => {
                return Err(Error::invalid(format!(
                    "overflow policy '{s}': expected backpressure, drop_newest, drop_oldest or disconnect"
                )))
            }
        })
    }
}

/// Endpoint configuration. `Default` gives a plain Broker endpoint (forwarding on).
#[derive(Debug, Clone)]
pub struct EndpointOptions {
    /// Relay messages between peers and propagate subscriptions (Broker's default; Zeek's
    /// cluster nodes turn it off).
    pub forwarding: bool,
    /// Hop limit written on published envelopes; forwarded envelopes lose one per hop and
    /// are dropped at zero.
    pub ttl: u16,
    /// Events and commands waiting for the host (statuses are not counted).
    pub inbox_capacity: usize,
    /// `Backpressure`, `DropNewest` or `DropOldest`.
    pub inbox_policy: OverflowPolicy,
    /// Envelopes queued for one peer and not yet taken by the kernel.
    pub peer_buffer_size: usize,
    pub peer_policy: OverflowPolicy,
    /// Publishes queued for the I/O thread before `publish` waits.
    pub publish_queue: usize,
    /// How long `publish` waits for room under backpressure before `WouldBlock`.
    pub backpressure_timeout: Duration,
    /// Largest accepted envelope frame.
    pub max_frame: usize,
    /// A connection must finish the handshake within this time.
    pub handshake_timeout: Duration,
    /// Wait this long for the goodbye pong after `unpeer` (Broker: 3 s).
    pub unpeer_timeout: Duration,
    /// On drop, flush outgoing data for at most this long.
    pub shutdown_timeout: Duration,
    /// A fixed id (tests, reproducible setups); `None` draws a random one.
    pub id: Option<EndpointId>,
    /// Check every incoming data payload on the I/O thread; one that does not decode is
    /// dropped and reported (`DeserializationFailed`), and the peering stays up. Off saves
    /// the check when the host decodes anyway (and then sees the bad payload itself).
    pub validate_data: bool,
    /// TLS by Zeek's options (`Broker::disable_ssl`, `Broker::ssl_*`): anonymous TLS by
    /// default, as a Zeek node; see `transport` for Broker's exact setup.
    pub tls: TlsOptions,
}

impl Default for EndpointOptions {
    fn default() -> Self {
        EndpointOptions {
            forwarding: true,
            ttl: crate::wire::DEFAULT_TTL,
            inbox_capacity: 65536,
            inbox_policy: OverflowPolicy::Backpressure,
            peer_buffer_size: 65536,
            peer_policy: OverflowPolicy::Backpressure,
            publish_queue: 65536,
            backpressure_timeout: Duration::from_secs(5),
            max_frame: crate::wire::DEFAULT_MAX_FRAME,
            handshake_timeout: Duration::from_secs(10),
            unpeer_timeout: Duration::from_secs(3),
            shutdown_timeout: Duration::from_secs(2),
            id: None,
            validate_data: true,
            tls: TlsOptions::default(),
        }
    }
}

impl EndpointOptions {
    /// Sets an option by name (librdkafka style, so new options never change the C ABI);
    /// the names, types and defaults are the catalogue's `Scope::Endpoint`
    /// (`crate::options`, docs/options.md), values in its grammar. Names: Zeek's where it
    /// has one (`Broker::forward_messages`, `Broker::peer_buffer_size`,
    /// `Broker::peer_overflow_policy`), Broker's config key (`broker.ttl`), or ours:
    /// `inbox_capacity`, `inbox_overflow_policy`, `publish_queue`, `backpressure_timeout`,
    /// `max_frame`, `handshake_timeout`, `unpeer_timeout`, `shutdown_timeout` (intervals:
    /// `250 msecs`, `2 secs`, `250ms`, or seconds), `id` (UUID text), `validate_data`;
    /// TLS by Zeek's names: `Broker::disable_ssl` (default F), `Broker::ssl_cafile`,
    /// `Broker::ssl_capath`, `Broker::ssl_certificate`, `Broker::ssl_keyfile`,
    /// `Broker::ssl_passphrase` (or Broker's keys `broker.disable-ssl`,
    /// `broker.ssl.cafile`, ..., `broker.ssl.key`).
    pub fn set(&mut self, key: &str, value: &str) -> Result<()> {
        let spec = crate::options::lookup(&[crate::options::Scope::Endpoint], key)?;
        let v = spec.parse(value)?;
        let count = |min: u64| -> Result<usize> {
            let n = v.as_count().unwrap_or(0).max(min);
            usize::try_from(n).map_err(|_| spec.refuse(value, "is too large"))
        };
        let duration = || -> Result<Duration> {
            match v.as_secs() {
                Some(s) if (0.0..=1e9).contains(&s) => Ok(Duration::from_secs_f64(s)),
                _ => Err(spec.refuse(value, "is out of range (0 to 1e9 seconds)")),
            }
        };
        let flag = || v.as_bool().unwrap_or(false);
        let text = || v.as_str().unwrap_or_default().to_string();
        match spec.name {
            "Broker::forward_messages" => self.forwarding = flag(),
            "broker.ttl" => {
                self.ttl = match v.as_count() {
                    Some(t @ 1..=65535) => t as u16,
                    _ => return Err(spec.refuse(value, "is not a hop limit (1 to 65535)")),
                }
            }
            "Broker::peer_buffer_size" => self.peer_buffer_size = count(1)?,
            "Broker::peer_overflow_policy" => self.peer_policy = OverflowPolicy::parse(&text())?,
            "inbox_capacity" => self.inbox_capacity = count(1)?,
            "inbox_overflow_policy" => self.inbox_policy = OverflowPolicy::parse(&text())?,
            "publish_queue" => self.publish_queue = count(1)?,
            "backpressure_timeout" => self.backpressure_timeout = duration()?,
            "max_frame" => self.max_frame = count(64)?,
            "handshake_timeout" => self.handshake_timeout = duration()?,
            "unpeer_timeout" => self.unpeer_timeout = duration()?,
            "shutdown_timeout" => self.shutdown_timeout = duration()?,
            "id" => {
                let t = text();
                self.id = if t.is_empty() {
                    None
                } else {
                    Some(EndpointId::parse(&t)?)
                }
            }
            "validate_data" => self.validate_data = flag(),
            "Broker::disable_ssl" => self.tls.disable = flag(),
            "Broker::ssl_cafile" => self.tls.cafile = text(),
            "Broker::ssl_capath" => self.tls.capath = text(),
            "Broker::ssl_certificate" => self.tls.certificate = text(),
            "Broker::ssl_keyfile" => self.tls.keyfile = text(),
            "Broker::ssl_passphrase" => self.tls.passphrase = text(),
            other => {
                return Err(Error::new(
                    crate::ErrorKind::Internal,
                    format!("endpoint option {other} is in the catalogue but not applied"),
                ))
            }
        }
        Ok(())
    }
}

/// Who a status message is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerInfo {
    /// Unknown until the handshake told us (e.g. for a failed connect).
    pub id: Option<EndpointId>,
    pub address: String,
    pub port: u16,
}

/// What a message is: one name per kind in Rust, C (`ZC_MESSAGE_<NAME>`) and Python
/// (`MessageKind.<NAME>`), `name()` in snake case (`zcluster run` prints it). The status
/// kinds follow Broker's `sc` and `ec` names.
///
/// The endpoint raises every kind but `Service`: the deliveries (`Event`, `Command`) and
/// its peering statuses. `Service` kinds are raised by a service stage riding on the
/// endpoint (`service`), which defines them: the endpoint names none of them. The
/// cluster layer's are `cluster::HELLO`, `cluster::NODE_UP` and `cluster::NODE_DOWN`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MessageKind {
    /// A data envelope: `topic` and `payload` (one Broker-encoded value, usually a Zeek
    /// event).
    Event,
    /// A command envelope (data-store traffic): `topic` and `payload`.
    Command,
    /// First status of a new peering ("found a new peer in the network").
    EndpointDiscovered,
    /// The handshake completed ("handshake successful").
    PeerAdded,
    /// We ended a peering: our `unpeer`, our close, a forced disconnect (overflow)
    /// ("removed connection to remote peer"). Broker's `peer_removed`.
    PeerRemoved,
    /// A peering ended otherwise, including by the peer's goodbye (its unpeer or
    /// shutdown): "lost connection to remote peer (reason)". Broker's `peer_lost`. A
    /// peering we initiated is retried.
    PeerLost,
    /// Follows every `PeerRemoved`/`PeerLost` ("lost the last path").
    EndpointUnreachable,
    /// A connect attempt failed (Broker's `peer_unavailable` error); retried if asked.
    PeerUnavailable,
    /// A connection was refused or dropped during the handshake (garbage, bad magic,
    /// wrong version, equal ids, timeout, redundant connection, ...). A service may raise
    /// it too (the cluster layer: a hello from a node not in the layout).
    PeerRejected,
    /// `unpeer` named no known peer or pending peering (Broker's `peer_invalid` error).
    PeerInvalid,
    /// A message whose payload does not decode was dropped (Broker's
    /// `deserialization_failed` error); `peer`, `topic` and `text` say which and why. The
    /// peering stays up. Counted in `Stats::undecodable`.
    DeserializationFailed,
    /// A status a service stage raised: `peer`, `node` and `text` as that service says.
    Service(ServiceKind),
}

/// A message kind a service stage defines and raises (`MessageKind::Service`), e.g. the
/// cluster layer's `cluster::NODE_UP`. Its name is its identity: snake case, and no other
/// kind's name (the C and Python names are derived from it; the test `message_kinds`
/// checks the crate's). The endpoint only carries it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ServiceKind(&'static str);

impl ServiceKind {
    pub const fn new(name: &'static str) -> ServiceKind {
        ServiceKind(name)
    }

    pub const fn name(self) -> &'static str {
        self.0
    }
}

impl MessageKind {
    /// The kinds the endpoint itself raises, in the order of their C numbers.
    pub const ENDPOINT: [MessageKind; 11] = [
        MessageKind::Event,
        MessageKind::PeerAdded,
        MessageKind::PeerLost,
        MessageKind::PeerRemoved,
        MessageKind::PeerUnavailable,
        MessageKind::EndpointDiscovered,
        MessageKind::EndpointUnreachable,
        MessageKind::PeerRejected,
        MessageKind::Command,
        MessageKind::PeerInvalid,
        MessageKind::DeserializationFailed,
    ];

    /// The former name of `Event`.
    #[deprecated(
        note = "renamed MessageKind::Event (C ZC_MESSAGE_EVENT, Python MessageKind.EVENT)"
    )]
    #[allow(non_upper_case_globals)]
    pub const Data: MessageKind = MessageKind::Event;

    /// The kind's name in snake case: `ZC_MESSAGE_<NAME>` in C, `MessageKind.<NAME>` in
    /// Python, the variant's name in camel case in Rust.
    pub const fn name(self) -> &'static str {
        match self {
            MessageKind::Event => "event",
            MessageKind::Command => "command",
            MessageKind::EndpointDiscovered => "endpoint_discovered",
            MessageKind::PeerAdded => "peer_added",
            MessageKind::PeerRemoved => "peer_removed",
            MessageKind::PeerLost => "peer_lost",
            MessageKind::EndpointUnreachable => "endpoint_unreachable",
            MessageKind::PeerUnavailable => "peer_unavailable",
            MessageKind::PeerRejected => "peer_rejected",
            MessageKind::PeerInvalid => "peer_invalid",
            MessageKind::DeserializationFailed => "deserialization_failed",
            MessageKind::Service(k) => k.name(),
        }
    }
}

impl std::fmt::Display for MessageKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A message for the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub kind: MessageKind,
    /// Data and command messages: the topic.
    pub topic: String,
    /// Data and command messages: the payload bytes.
    pub payload: Vec<u8>,
    /// Data and command messages: the last hop (the peer we received it from).
    pub sender: Option<EndpointId>,
    /// Status messages: the peer concerned.
    pub peer: Option<PeerInfo>,
    /// Status messages: Broker's text ("handshake successful", ...), plus the reason.
    pub text: String,
    /// Service messages: the name the service gives the peer (the cluster layer: the
    /// node's name in the layout).
    pub node: Option<String>,
}

impl Message {
    /// An event for the host, with no sender or peer.
    pub fn event_message(topic: impl Into<String>, payload: Vec<u8>) -> Message {
        Message {
            kind: MessageKind::Event,
            topic: topic.into(),
            payload,
            sender: None,
            peer: None,
            text: String::new(),
            node: None,
        }
    }

    pub fn status(kind: MessageKind, peer: PeerInfo, text: impl Into<String>) -> Message {
        Message {
            kind,
            topic: String::new(),
            payload: Vec::new(),
            sender: None,
            peer: Some(peer),
            text: text.into(),
            node: None,
        }
    }

    /// Decodes a data message's payload (one Broker value).
    pub fn value(&self) -> Result<crate::data::Value> {
        if self.kind != MessageKind::Event {
            return Err(Error::type_mismatch(format!(
                "a {} message carries no data value",
                self.kind
            )));
        }
        crate::data::bin::decode(&self.payload)
    }

    /// Decodes a data message's payload as a Zeek event (`[1, 1, [name, args, meta?]]`).
    pub fn event(&self) -> Result<crate::data::Event> {
        if self.kind != MessageKind::Event {
            return Err(Error::type_mismatch(format!(
                "a {} message carries no event",
                self.kind
            )));
        }
        crate::data::Event::from_bytes(&self.payload)
    }

    pub fn is_status(&self) -> bool {
        !matches!(self.kind, MessageKind::Event | MessageKind::Command)
    }

    /// Counted against the inbox capacity: events, commands, and the reports of dropped
    /// undecodable messages (so a peer sending garbage meets backpressure too).
    fn is_bounded(&self) -> bool {
        !self.is_status() || self.kind == MessageKind::DeserializationFailed
    }
}

/// Counters, cumulative since the endpoint started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Events and commands dropped because the inbox was full (drop policies).
    pub inbox_dropped: u64,
    /// Envelopes dropped because a peer's queue was full (drop policies).
    pub peer_dropped: u64,
    /// Peers disconnected because their queue overflowed (`Disconnect` policy).
    pub peer_overflow_disconnects: u64,
    /// Envelopes not forwarded because their hop limit ran out.
    pub ttl_dropped: u64,
    /// Envelopes published locally / received from peers / forwarded to peers.
    pub published: u64,
    pub received: u64,
    pub forwarded: u64,
    /// Envelopes dropped because their payload did not decode (each reported as a
    /// `DeserializationFailed` status).
    pub undecodable: u64,
    /// Publishes the endpoint's WebSocket client transports dropped (`disconnected_policy
    /// = drop` while not connected, or still queued when a client ended for good).
    pub websocket_client_dropped: u64,
}

#[derive(Default)]
pub(crate) struct Counters {
    pub(crate) peer_dropped: AtomicU64,
    pub(crate) peer_overflow_disconnects: AtomicU64,
    pub(crate) ttl_dropped: AtomicU64,
    pub(crate) published: AtomicU64,
    pub(crate) received: AtomicU64,
    pub(crate) forwarded: AtomicU64,
    pub(crate) undecodable: AtomicU64,
    pub(crate) websocket_client_dropped: AtomicU64,
    /// Broker's `broker_processed_messages_total{type}`: messages through the core, by
    /// envelope type (index `type - 1`: data, command, routing-update, ping, pong):
    /// those received from peers and those published locally.
    pub(crate) processed: [AtomicU64; 5],
}

impl Counters {
    pub(crate) fn processed(&self, kind: crate::wire::EnvelopeType) {
        self.processed[kind as usize - 1].fetch_add(1, Ordering::Relaxed);
    }
}

fn processed_of(shared: &Shared) -> [u64; 5] {
    let p = &shared.counters.processed;
    std::array::from_fn(|i| p[i].load(Ordering::Relaxed))
}

pub(crate) enum Command {
    Listen(std::net::TcpListener),
    Peer {
        addr: SocketAddr,
        host: String,
        port: u16,
        retry: Duration,
    },
    Unpeer {
        host: String,
        port: u16,
        addrs: Vec<SocketAddr>,
    },
    Subscribe(String),
    Unsubscribe(String),
    Publish {
        kind: EnvelopeType,
        /// Shared with the queue's last topic: repeated publishes on one topic allocate
        /// nothing for it.
        topic: Arc<str>,
        payload: Payload,
        receiver: EndpointId,
        /// Counted in `CmdQueue::publishes` (host publishes); a hook's are not.
        counted: bool,
        /// 0, or the tap origin that published it (`Endpoint::publish_from`).
        origin: u64,
    },
    /// Adds, updates (same id) or removes (`tap: None`) a tap; then calls its
    /// `updated(generation)`.
    Tap {
        id: u64,
        filter: crate::wire::Filter,
        tap: Option<Arc<dyn Tap>>,
        generation: u64,
    },
    /// Hands a message to the host (and its hook) as if the I/O thread had produced it.
    Deliver(Message),
    Shutdown,
}

/// A publish's payload: small ones are copied into the queue's byte buffer, so the host
/// frees its own vector at once (same thread: glibc's cheap path) instead of the I/O
/// thread freeing, one by one, blocks another thread allocated.
pub(crate) enum Payload {
    Owned(Vec<u8>),
    /// `len` bytes at absolute offset `start` of the bytes that travel with the queue.
    Shared {
        start: usize,
        len: usize,
    },
}

/// Payloads up to this size are copied into the queue's byte buffer.
pub(crate) const SHARED_PAYLOAD_MAX: usize = 4096;

pub(crate) struct CmdQueue {
    pub(crate) q: VecDeque<Command>,
    /// Publishes queued here or held by the I/O thread and not yet routed.
    pub(crate) publishes: usize,
    /// A wake-up is already on its way; no need for another.
    pub(crate) wake_pending: bool,
    pub(crate) closed: bool,
    /// The topic of the last publish, reused while publishes stay on it.
    pub(crate) last_topic: Option<Arc<str>>,
    /// Bytes of the `Payload::Shared` publishes in `q`.
    pub(crate) bytes: Vec<u8>,
    /// Absolute offset of `bytes[0]`: bytes ever queued before it. Payload offsets are
    /// absolute, so the I/O thread appends whole queues without rewriting them.
    pub(crate) bytes_base: usize,
}

pub(crate) struct Shared {
    pub(crate) id: EndpointId,
    pub(crate) opts: EndpointOptions,
    pub(crate) cmds: Mutex<CmdQueue>,
    pub(crate) cmd_room: Condvar,
    pub(crate) waker: Arc<mio::Waker>,
    pub(crate) inbox: Inbox,
    pub(crate) counters: Arc<Counters>,
    pub(crate) peers: Mutex<Vec<PeerInfo>>,
    pub(crate) peer_subs: Mutex<Vec<String>>,
    /// The TLS context every peering uses (None: plain TCP).
    pub(crate) tls: Option<openssl::ssl::SslContext>,
    pub(crate) peer_table: tap::PeerTable,
    pub(crate) next_origin: AtomicU64,
    /// The stores attached with `attach_master` / `attach_clone`, created on first use;
    /// the I/O thread picks the service up when `stores_attached` turns true.
    pub(crate) stores: Mutex<Option<Arc<crate::store::StoreService>>>,
    pub(crate) stores_attached: std::sync::atomic::AtomicBool,
    /// A transport that can send a publish from the publishing thread itself (see
    /// `DirectPublish`); set by its I/O thread at start.
    pub(crate) direct: once_cell::sync::OnceCell<Arc<dyn DirectPublish>>,
    /// A transport whose socket a host thread waiting in `next` may read itself (see
    /// `LeadReceive`); set by its I/O thread at start.
    pub(crate) lead: once_cell::sync::OnceCell<Arc<dyn LeadReceive>>,
}

impl Shared {
    /// The I/O thread stopped: commands fail with `Closed` from now on, what is queued is
    /// dropped, and hosts waiting for room return.
    pub(crate) fn refuse_commands(&self) {
        let mut q = self.cmds.lock();
        q.closed = true;
        q.publishes = 0;
        q.q.clear();
        q.bytes = Vec::new();
        drop(q);
        self.cmd_room.notify_all();
    }

    /// After a panic on an I/O thread (a bug): the endpoint fails visibly (`Closed`) and
    /// hosts waiting in `next` return, instead of hanging.
    pub(crate) fn fail(&self) {
        self.refuse_commands();
        self.inbox.close();
    }
}

/// A transport's way to send a host publish on the publishing thread, skipping the hand-off
/// to the I/O thread and its wake-up (the ZeroMQ backend, whose socket is shared under a
/// lock). `publish_on` calls it under the command queue's lock, and only while no publish
/// is queued or held by the I/O thread, so publishes keep their order. It must not block.
/// Returns false when the publish has to take the queue after all (not ready yet, no
/// room: the I/O thread then holds it and applies backpressure or the drop policy).
pub(crate) trait DirectPublish: Send + Sync {
    fn try_publish(
        &self,
        kind: EnvelopeType,
        topic: &str,
        payload: &[u8],
        receiver: EndpointId,
    ) -> bool;
}

/// `timeout` from now; a timeout too large for the clock (`Duration::MAX`) waits a year.
fn deadline_after(timeout: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(timeout)
        .unwrap_or_else(|| now + Duration::from_secs(365 * 24 * 3600))
}

/// A transport whose receiving socket a host thread may read itself while it waits for
/// messages (leader/follower; the ZeroMQ backend): the waiting host reads the socket and
/// runs the hooks on its own thread, then takes what they delivered, so a message reaches
/// it without a hand-off from the I/O thread and its wake-up. `lead` returns once the
/// inbox holds something, at `deadline`, or at once when it cannot lead (another thread
/// leads, the transport stopped); the caller then waits on the inbox as usual. Only one
/// thread reads the socket and runs the hooks at a time: the I/O thread stops reading it
/// while a host leads.
pub(crate) trait LeadReceive: Send + Sync {
    fn lead(&self, inbox: &Inbox, deadline: Instant);
}

type Callback = Box<dyn FnMut(Message) + Send>;

/// Code that runs on the endpoint's I/O thread, for the layers built on the endpoint (the
/// cluster framework, data stores): it sees every message before the host does, decides
/// what the host gets, and may publish. It runs whether or not the host polls, so a
/// protocol exchange (a hello, a store's acks) never waits for the host. It must not block.
/// On a transport with `LeadReceive` (ZeroMQ) it may also run on a host thread waiting in
/// `next`, never on two threads at once.
pub trait Hook: Send {
    /// Called for each message bound for the host; deliver it (or others) through `ctx`.
    fn on_message(&mut self, msg: Message, ctx: &mut HookCtx);
    /// Called once per loop turn after messages, and at `next_deadline`.
    fn on_tick(&mut self, _now: Instant, _ctx: &mut HookCtx) {}
    /// When `on_tick` next needs to run, if nothing else wakes the thread before.
    fn next_deadline(&self) -> Option<Instant> {
        None
    }
}

/// Wakes an endpoint's I/O thread (see `Endpoint::hook_waker`). Harmless after the
/// endpoint closed.
#[derive(Clone)]
pub struct HookWaker(Arc<mio::Waker>);

impl HookWaker {
    pub fn wake(&self) {
        let _ = self.0.wake();
    }
}

/// What a hook may do from the I/O thread.
pub struct HookCtx {
    id: EndpointId,
    pub(crate) deliver: Vec<Message>,
    pub(crate) commands: Vec<Command>,
    /// Messages a layer could not decode: (the message, the reason).
    pub(crate) undecodable: Vec<(Message, String)>,
}

impl HookCtx {
    pub(crate) fn new(id: EndpointId) -> HookCtx {
        HookCtx {
            id,
            deliver: Vec::new(),
            commands: Vec::new(),
            undecodable: Vec::new(),
        }
    }

    /// Reports a data or command message whose payload this layer cannot decode (a store
    /// command, say) as the endpoint reports its own: dropped, counted in
    /// `Stats::undecodable`, and a `DeserializationFailed` status naming the peer, the
    /// topic and `reason` goes to the host.
    pub fn undecodable(&mut self, msg: &Message, reason: &str) {
        self.undecodable.push((
            Message {
                kind: msg.kind,
                topic: msg.topic.clone(),
                payload: Vec::new(),
                sender: msg.sender,
                peer: None,
                text: String::new(),
                node: None,
            },
            reason.to_string(),
        ));
    }

    /// This endpoint's id.
    pub fn id(&self) -> EndpointId {
        self.id
    }

    /// Hands a message to the host (inbox, fd, callbacks).
    pub fn deliver(&mut self, msg: Message) {
        self.deliver.push(msg);
    }

    /// Publishes a data envelope (one Broker-encoded value) as the host's `publish` does.
    pub fn publish(&mut self, topic: &str, payload: Vec<u8>) {
        self.commands.push(Command::Publish {
            kind: EnvelopeType::Data,
            topic: Arc::from(topic),
            payload: Payload::Owned(payload),
            receiver: EndpointId::NIL,
            counted: false,
            origin: 0,
        });
    }

    /// Publishes a command envelope (store traffic), to one endpoint or to all (`None`).
    pub fn publish_command(&mut self, topic: &str, payload: Vec<u8>, receiver: Option<EndpointId>) {
        self.commands.push(Command::Publish {
            kind: EnvelopeType::Command,
            topic: Arc::from(topic),
            payload: Payload::Owned(payload),
            receiver: receiver.unwrap_or(EndpointId::NIL),
            counted: false,
            origin: 0,
        });
    }

    /// Subscribes a topic prefix, as the host's `subscribe` does.
    pub fn subscribe(&mut self, prefix: &str) {
        self.commands.push(Command::Subscribe(prefix.to_string()));
    }
}

/// A Broker endpoint. All methods take `&self` and may be called from any host thread.
pub struct Endpoint {
    shared: Arc<Shared>,
    thread: Mutex<Option<JoinHandle<()>>>,
    callback: Mutex<Option<Callback>>,
    /// Serializes `poll` callers so callbacks never run concurrently with themselves.
    poll_lock: Mutex<()>,
}

impl Endpoint {
    pub fn new(opts: EndpointOptions) -> Result<Endpoint> {
        Self::with_hook(opts, None)
    }

    /// An endpoint whose I/O thread runs `hook` on every message before the host sees it
    /// (see `Hook`).
    pub fn with_hook(opts: EndpointOptions, hook: Option<Box<dyn Hook>>) -> Result<Endpoint> {
        Self::with_io(opts, hook, io::spawn)
    }

    /// The transport seam: an endpoint whose I/O thread is `spawn`'s (Broker's mio thread
    /// for `with_hook`; the ZeroMQ backend's thread in `crate::zeromq`). The host side
    /// (command queue, publish backpressure, inbox, fd, next, callbacks, stats) is the
    /// same for every transport; the thread takes commands from `Shared::cmds`, wakes on
    /// `Shared::waker` (registered in the `Poll` it is given) and delivers into
    /// `Shared::inbox`, running `hook` on the way.
    pub(crate) fn with_io(
        opts: EndpointOptions,
        hook: Option<Box<dyn Hook>>,
        spawn: impl FnOnce(Arc<Shared>, mio::Poll, Option<Box<dyn Hook>>) -> Result<JoinHandle<()>>,
    ) -> Result<Endpoint> {
        if opts.inbox_policy == OverflowPolicy::Disconnect {
            return Err(Error::invalid("inbox_policy: disconnect applies to peers only; expected backpressure, drop_newest or drop_oldest"));
        }
        if opts.ttl == 0 {
            return Err(Error::invalid("ttl: must be at least 1"));
        }
        let id = match opts.id {
            Some(id) if id.is_nil() => return Err(Error::invalid("id: the nil id is reserved")),
            Some(id) => id,
            None => EndpointId::random()?,
        };
        // A TLS configuration error fails here, at start (Broker aborts the process).
        let tls = opts.tls.context()?;
        let poll = mio::Poll::new()
            .map_err(|e| Error::new(ErrorKind::Io, format!("creating the poll instance: {e}")))?;
        let waker = Arc::new(
            mio::Waker::new(poll.registry(), io::WAKER)
                .map_err(|e| Error::new(ErrorKind::Io, format!("creating the waker: {e}")))?,
        );
        let inbox = Inbox::new(opts.inbox_capacity, opts.inbox_policy, waker.clone())?;
        let shared = Arc::new(Shared {
            id,
            opts,
            cmds: Mutex::new(CmdQueue {
                q: VecDeque::new(),
                publishes: 0,
                wake_pending: false,
                closed: false,
                last_topic: None,
                bytes: Vec::new(),
                bytes_base: 0,
            }),
            cmd_room: Condvar::new(),
            waker,
            inbox,
            counters: Arc::default(),
            peers: Mutex::new(Vec::new()),
            peer_subs: Mutex::new(Vec::new()),
            tls,
            peer_table: tap::PeerTable::default(),
            next_origin: AtomicU64::new(1),
            stores: Mutex::new(None),
            stores_attached: std::sync::atomic::AtomicBool::new(false),
            direct: once_cell::sync::OnceCell::new(),
            lead: once_cell::sync::OnceCell::new(),
        });
        let thread = spawn(shared.clone(), poll, hook)?;
        Ok(Endpoint {
            shared,
            thread: Mutex::new(Some(thread)),
            callback: Mutex::new(None),
            poll_lock: Mutex::new(()),
        })
    }

    pub fn id(&self) -> EndpointId {
        self.shared.id
    }

    /// A handle that makes the I/O thread run a turn (and so its hook's `on_tick`) soon,
    /// for hooks whose state host threads change (data stores).
    pub fn hook_waker(&self) -> HookWaker {
        HookWaker(self.shared.waker.clone())
    }

    pub fn options(&self) -> &EndpointOptions {
        &self.shared.opts
    }

    fn send(&self, cmd: Command) -> Result<()> {
        let mut q = self.shared.cmds.lock();
        if q.closed {
            return Err(Error::closed("the endpoint is shut down"));
        }
        q.q.push_back(cmd);
        let wake = !q.wake_pending;
        q.wake_pending = true;
        drop(q);
        if wake {
            self.shared
                .waker
                .wake()
                .map_err(|e| Error::new(ErrorKind::Io, format!("waking the I/O thread: {e}")))?;
        }
        Ok(())
    }

    /// Listens on `addr:port` (`""` = all IPv4 interfaces, port 0 = pick one) and returns
    /// the bound port. May be called several times.
    pub fn listen(&self, addr: &str, port: u16) -> Result<u16> {
        let host = if addr.is_empty() { "0.0.0.0" } else { addr };
        let l = std::net::TcpListener::bind((host, port))
            .map_err(|e| Error::new(ErrorKind::Io, format!("listen on {host}:{port}: {e}")))?;
        l.set_nonblocking(true)?;
        let bound = l.local_addr()?.port();
        self.send(Command::Listen(l))?;
        Ok(bound)
    }

    /// Starts peering with `addr:port` and returns at once; the outcome arrives as status
    /// messages (`PeerAdded`, or `PeerUnavailable` per failed attempt). With a non-zero
    /// `retry` a failed attempt is repeated every `retry`, and a peering lost later (also
    /// by the peer's goodbye) is re-established, as Broker does for peerings it
    /// initiated, until our own `unpeer`.
    pub fn peer(&self, addr: &str, port: u16, retry: Duration) -> Result<()> {
        let sa = (addr, port)
            .to_socket_addrs()
            .map_err(|e| Error::invalid(format!("peer address {addr}:{port}: {e}")))?
            .next()
            .ok_or_else(|| {
                Error::invalid(format!("peer address {addr}:{port} resolves to nothing"))
            })?;
        self.send(Command::Peer {
            addr: sa,
            host: addr.to_string(),
            port,
            retry,
        })
    }

    /// Ends the peering with `addr:port` the way Broker does: a goodbye ping, then the
    /// connection closes when the pong arrives (or after `unpeer_timeout`). We report
    /// `PeerRemoved` and stop retrying; the peer reports `PeerLost` and, if it initiated
    /// the peering, reconnects (Broker's rules). Also cancels pending connect attempts.
    pub fn unpeer(&self, addr: &str, port: u16) -> Result<()> {
        let addrs = (addr, port)
            .to_socket_addrs()
            .map(|i| i.collect())
            .unwrap_or_default();
        self.send(Command::Unpeer {
            host: addr.to_string(),
            port,
            addrs,
        })
    }

    /// Subscribes to a topic prefix (byte-prefix match, as Broker's).
    pub fn subscribe(&self, prefix: &str) -> Result<()> {
        self.send(Command::Subscribe(prefix.to_string()))
    }

    pub fn unsubscribe(&self, prefix: &str) -> Result<()> {
        self.send(Command::Unsubscribe(prefix.to_string()))
    }

    /// Publishes a data envelope whose payload is one Broker-encoded value, to every peer
    /// whose filter matches. This endpoint's own inbox does not see it.
    pub fn publish(&self, topic: &str, payload: Vec<u8>) -> Result<()> {
        self.publish_envelope(EnvelopeType::Data, topic, payload, EndpointId::NIL)
    }

    /// Publishes a data envelope to one directly connected peer only (the envelope's
    /// receiver set, as Broker's `publish(peer, topic, data)`), regardless of its filter.
    pub fn publish_direct(
        &self,
        topic: &str,
        payload: Vec<u8>,
        receiver: EndpointId,
    ) -> Result<()> {
        self.publish_envelope(EnvelopeType::Data, topic, payload, receiver)
    }

    /// Publishes one Broker value (encoded here) as a data envelope.
    pub fn publish_value(&self, topic: &str, value: &crate::data::Value) -> Result<()> {
        let mut payload = Vec::new();
        crate::data::bin::try_encode(value, &mut payload)?;
        self.publish(topic, payload)
    }

    /// Publishes a Zeek event (encoded here) as a data envelope.
    pub fn publish_event(&self, topic: &str, event: &crate::data::Event) -> Result<()> {
        self.publish(topic, event.to_bytes())
    }

    /// Publishes a command envelope (store traffic). With a receiver it goes only to that
    /// (directly connected) peer, regardless of filters.
    pub fn publish_command(
        &self,
        topic: &str,
        payload: Vec<u8>,
        receiver: Option<EndpointId>,
    ) -> Result<()> {
        self.publish_envelope(
            EnvelopeType::Command,
            topic,
            payload,
            receiver.unwrap_or(EndpointId::NIL),
        )
    }

    fn publish_envelope(
        &self,
        kind: EnvelopeType,
        topic: &str,
        payload: Vec<u8>,
        receiver: EndpointId,
    ) -> Result<()> {
        self.publish_inner(kind, topic, payload, receiver, 0, true)
    }

    /// A handle for the layers beside the endpoint (WebSocket server and client, metrics)
    /// that run on threads of their own: it publishes, taps and reads counters, and keeps
    /// working (with `Closed` errors) after the endpoint closed.
    pub fn handle(&self) -> EndpointHandle {
        EndpointHandle {
            shared: self.shared.clone(),
        }
    }

    /// Connects to a Zeek WebSocket API server (`ws://host:port/v1/messages/json`)
    /// instead of peering: subscribes `topics` there, delivers what the server sends like
    /// peer messages, and sends the host's publishes to it (see `websocket::client`).
    /// Statuses arrive as for peerings; a non-zero `retry` reconnects after failures.
    pub fn connect_websocket(
        &self,
        url: &str,
        topics: &[String],
        retry: Duration,
    ) -> Result<crate::websocket::client::ClientHandle> {
        if self.is_closed() {
            return Err(Error::closed("the endpoint is shut down"));
        }
        self.connect_websocket_with(url, topics, retry, &Default::default())
    }

    /// `connect_websocket` with client options (TLS verification, CA, client
    /// certificate, application name; see `websocket::ClientOptions`).
    pub fn connect_websocket_with(
        &self,
        url: &str,
        topics: &[String],
        retry: Duration,
        opts: &crate::websocket::ClientOptions,
    ) -> Result<crate::websocket::client::ClientHandle> {
        if self.is_closed() {
            return Err(Error::closed("the endpoint is shut down"));
        }
        crate::websocket::client::connect(self.handle(), url, topics.to_vec(), retry, opts)
    }

    /// Counters of every established peering.
    pub fn peer_stats(&self) -> Vec<PeerStats> {
        self.shared.peer_table.snapshot()
    }

    fn publish_inner(
        &self,
        kind: EnvelopeType,
        topic: &str,
        payload: Vec<u8>,
        receiver: EndpointId,
        origin: u64,
        wait: bool,
    ) -> Result<()> {
        publish_on(&self.shared, kind, topic, payload, receiver, origin, wait)
    }
}

fn send_on(shared: &Shared, cmd: Command) -> Result<()> {
    let mut q = shared.cmds.lock();
    if q.closed {
        return Err(Error::closed("the endpoint is shut down"));
    }
    q.q.push_back(cmd);
    let wake = !q.wake_pending;
    q.wake_pending = true;
    drop(q);
    if wake {
        shared
            .waker
            .wake()
            .map_err(|e| Error::new(ErrorKind::Io, format!("waking the I/O thread: {e}")))?;
    }
    Ok(())
}

/// See `Endpoint::handle`.
#[derive(Clone)]
pub struct EndpointHandle {
    shared: Arc<Shared>,
}

impl EndpointHandle {
    /// The endpoint's counters, for the transports beside it (the WebSocket client).
    pub(crate) fn counters(&self) -> Arc<Counters> {
        self.shared.counters.clone()
    }

    /// Makes the I/O thread run a turn soon (a tap with room again, `Tap::full`).
    pub fn hook_waker(&self) -> HookWaker {
        HookWaker(self.shared.waker.clone())
    }

    pub fn id(&self) -> EndpointId {
        self.shared.id
    }

    /// Host publishes queued or held by the I/O thread, not yet routed.
    pub(crate) fn queued_publishes(&self) -> usize {
        self.shared.cmds.lock().publishes
    }

    /// A new tap origin id (never 0).
    pub fn new_origin(&self) -> u64 {
        self.shared.next_origin.fetch_add(1, Ordering::Relaxed)
    }

    /// Publishes a data envelope on behalf of a tap origin (a WebSocket client): it goes
    /// to the peers whose filter matches, to the host (and its hook) if one of its
    /// subscriptions matches, and to every tap whose filter matches (a tap that serves
    /// several origins skips the publisher itself). With `wait` false it never waits for
    /// room: a full publish queue is `ErrorKind::WouldBlock` at once.
    pub fn publish_from(
        &self,
        origin: u64,
        topic: &str,
        payload: Vec<u8>,
        wait: bool,
    ) -> Result<()> {
        publish_on(
            &self.shared,
            EnvelopeType::Data,
            topic,
            payload,
            EndpointId::NIL,
            origin,
            wait,
        )
    }

    /// Registers (or, with the same id, replaces the filter of) a tap: see `tap`. Once
    /// the I/O thread applied it (and advertised the new filter to the peers) it calls
    /// `tap.updated(generation)`.
    pub fn set_tap(
        &self,
        id: u64,
        filter: Vec<String>,
        tap: Arc<dyn Tap>,
        generation: u64,
    ) -> Result<()> {
        send_on(
            &self.shared,
            Command::Tap {
                id,
                filter: crate::wire::filter::normalize(filter),
                tap: Some(tap),
                generation,
            },
        )
    }

    /// Removes a tap. Messages already offered to it stay with it.
    pub fn remove_tap(&self, id: u64) -> Result<()> {
        send_on(
            &self.shared,
            Command::Tap {
                id,
                filter: Vec::new(),
                tap: None,
                generation: 0,
            },
        )
    }

    /// Hands a message to the host (through the hook, if any), in order with the I/O
    /// thread's own deliveries.
    pub fn deliver(&self, msg: Message) -> Result<()> {
        send_on(&self.shared, Command::Deliver(msg))
    }

    pub fn stats(&self) -> Stats {
        stats_of(&self.shared)
    }

    /// Messages processed by type (data, command, routing-update, ping, pong), as
    /// Broker's `broker_processed_messages_total`.
    pub fn processed_messages(&self) -> [u64; 5] {
        processed_of(&self.shared)
    }

    pub fn peer_stats(&self) -> Vec<PeerStats> {
        self.shared.peer_table.snapshot()
    }

    pub fn pending(&self) -> usize {
        self.shared.inbox.len()
    }

    pub fn inbox_capacity(&self) -> usize {
        self.shared.opts.inbox_capacity
    }

    pub fn is_closed(&self) -> bool {
        self.shared.cmds.lock().closed
    }
}

fn stats_of(shared: &Shared) -> Stats {
    let c = &shared.counters;
    Stats {
        inbox_dropped: shared.inbox.dropped.load(Ordering::Relaxed),
        peer_dropped: c.peer_dropped.load(Ordering::Relaxed),
        peer_overflow_disconnects: c.peer_overflow_disconnects.load(Ordering::Relaxed),
        ttl_dropped: c.ttl_dropped.load(Ordering::Relaxed),
        published: c.published.load(Ordering::Relaxed),
        received: c.received.load(Ordering::Relaxed),
        forwarded: c.forwarded.load(Ordering::Relaxed),
        undecodable: c.undecodable.load(Ordering::Relaxed),
        websocket_client_dropped: c.websocket_client_dropped.load(Ordering::Relaxed),
    }
}

#[allow(clippy::too_many_arguments)]
fn publish_on(
    s: &Shared,
    kind: EnvelopeType,
    topic: &str,
    payload: Vec<u8>,
    receiver: EndpointId,
    origin: u64,
    wait: bool,
) -> Result<()> {
    {
        if topic.len() > u16::MAX as usize {
            return Err(Error::invalid(format!(
                "topic of {} bytes exceeds the limit of 65535 bytes",
                topic.len()
            )));
        }
        if topic.starts_with(crate::wire::INTERNAL_TOPIC) {
            return Err(Error::invalid(format!(
                "topic '{topic}': topics starting with <$> are reserved"
            )));
        }
        let mut q = s.cmds.lock();
        if q.publishes >= s.opts.publish_queue && !q.closed && !wait {
            return Err(Error::new(
                ErrorKind::WouldBlock,
                format!(
                    "publish on '{topic}': {} messages wait for slow peers",
                    q.publishes
                ),
            ));
        }
        if q.publishes >= s.opts.publish_queue && !q.closed {
            let deadline = Instant::now() + s.opts.backpressure_timeout;
            while q.publishes >= s.opts.publish_queue && !q.closed {
                if s.cmd_room.wait_until(&mut q, deadline).timed_out()
                    && q.publishes >= s.opts.publish_queue
                {
                    return Err(Error::new(
                        ErrorKind::WouldBlock,
                        format!(
                            "publish on '{topic}': {} messages wait for slow peers; no room within {:?}",
                            q.publishes, s.opts.backpressure_timeout
                        ),
                    ));
                }
            }
        }
        if q.closed {
            return Err(Error::closed("the endpoint is shut down"));
        }
        // Nothing of ours queued or in flight: the transport may send it right here.
        if q.publishes == 0 && q.q.is_empty() {
            if let Some(d) = s.direct.get() {
                if d.try_publish(kind, topic, &payload, receiver) {
                    return Ok(());
                }
            }
        }
        q.publishes += 1;
        let topic = match &q.last_topic {
            Some(t) if **t == *topic => t.clone(),
            _ => {
                let t: Arc<str> = Arc::from(topic);
                q.last_topic = Some(t.clone());
                t
            }
        };
        let payload = if payload.len() <= SHARED_PAYLOAD_MAX {
            let start = q.bytes_base + q.bytes.len();
            q.bytes.extend_from_slice(&payload);
            Payload::Shared {
                start,
                len: payload.len(),
            }
        } else {
            Payload::Owned(payload)
        };
        q.q.push_back(Command::Publish {
            kind,
            topic,
            payload,
            receiver,
            counted: true,
            origin,
        });
        let wake = !q.wake_pending;
        q.wake_pending = true;
        drop(q);
        if wake {
            s.waker
                .wake()
                .map_err(|e| Error::new(ErrorKind::Io, format!("waking the I/O thread: {e}")))?;
        }
        Ok(())
    }
}

impl Endpoint {
    /// A descriptor that is readable exactly while messages wait in the inbox. Owned by
    /// the endpoint: do not read from or close it.
    pub fn fd(&self) -> RawFd {
        self.shared.inbox.fd()
    }

    /// The next message: `None` timeout returns at once, otherwise waits up to `timeout`.
    pub fn next(&self, timeout: Option<Duration>) -> Option<Message> {
        let deadline = timeout.map(deadline_after);
        self.lead_until(deadline);
        self.shared.inbox.pop(deadline)
    }

    /// With a transport that lets hosts read its socket (`LeadReceive`), waits for the
    /// first message by reading it on this thread while the inbox is empty.
    fn lead_until(&self, deadline: Option<Instant>) {
        if let (Some(d), Some(lead)) = (deadline, self.shared.lead.get()) {
            if self.shared.inbox.is_empty() && Instant::now() < d {
                lead.lead(&self.shared.inbox, d);
            }
        }
    }

    /// Moves up to `max` waiting messages, in order, to the end of `out` under one lock
    /// of the inbox (cheaper than `next` per message at high rates); waits up to `timeout`
    /// for the first (`None`: returns at once). Returns how many it moved.
    pub fn next_batch(
        &self,
        out: &mut Vec<Message>,
        max: usize,
        timeout: Option<Duration>,
    ) -> usize {
        let deadline = timeout.map(deadline_after);
        if max > 0 {
            self.lead_until(deadline);
        }
        self.shared.inbox.pop_batch(out, max, deadline)
    }

    /// Messages waiting in the inbox.
    pub fn pending(&self) -> usize {
        self.shared.inbox.len()
    }

    /// Sets (or clears) the callback that `poll` runs for each message.
    pub fn set_callback(&self, cb: Option<Box<dyn FnMut(Message) + Send>>) {
        *self.callback.lock() = cb;
    }

    /// Runs the callback, on the calling thread, for every waiting message; waits up to
    /// `timeout` for the first. Returns how many messages were handled. Without a callback
    /// it handles nothing. No lock of the endpoint is held while the callback runs, so it
    /// may call any method except `poll` and `set_callback`.
    pub fn poll(&self, timeout: Duration) -> usize {
        let _serial = self.poll_lock.lock();
        let Some(mut cb) = self.callback.lock().take() else {
            return 0;
        };
        let mut n = 0;
        let mut deadline = Some(deadline_after(timeout));
        self.lead_until(deadline);
        // Taken in batches: one lock of the inbox per batch, not per message.
        let mut batch = Vec::new();
        while self.shared.inbox.pop_batch(&mut batch, 256, deadline) > 0 {
            for m in batch.drain(..) {
                cb(m);
                n += 1;
            }
            deadline = None;
        }
        let mut slot = self.callback.lock();
        if slot.is_none() {
            *slot = Some(cb);
        }
        n
    }

    /// The peers with a completed handshake, as the I/O thread last saw them.
    pub fn peers(&self) -> Vec<PeerInfo> {
        self.shared.peers.lock().clone()
    }

    /// The union of the filters our peers advertised (Broker's `peer_subscriptions`).
    pub fn peer_subscriptions(&self) -> Vec<String> {
        self.shared.peer_subs.lock().clone()
    }

    /// Waits until some peer's filter covers `topic`, i.e. a publish on it would go out.
    pub fn await_peer_subscription(&self, topic: &str, timeout: Duration) -> bool {
        let deadline = deadline_after(timeout);
        loop {
            if crate::wire::filter_matches(&self.shared.peer_subs.lock(), topic) {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    /// Waits until at least `n` peerings are established.
    pub fn await_peers(&self, n: usize, timeout: Duration) -> bool {
        let deadline = deadline_after(timeout);
        loop {
            if self.shared.peers.lock().len() >= n {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    /// Shuts the endpoint down (also done on drop) as Broker's `shutdown`: says goodbye
    /// to every peer (we report `PeerRemoved`, they `PeerLost`, and reconnect if they
    /// initiated), flushes what it can and waits for the pongs within `shutdown_timeout`,
    /// closes every socket, joins the I/O thread. Data arriving meanwhile is ignored.
    /// Afterwards commands
    /// fail with `Closed`, blocked `next` calls return, and queued messages can still be
    /// taken. Idempotent.
    pub fn close(&self) {
        {
            let mut q = self.shared.cmds.lock();
            if !q.closed {
                q.q.push_back(Command::Shutdown);
                q.closed = true;
                q.wake_pending = true;
            }
        }
        self.shared.cmd_room.notify_all();
        let _ = self.shared.waker.wake();
        if let Some(t) = self.thread.lock().take() {
            let _ = t.join();
        }
        self.shared.inbox.close();
        // Store handles outlive the endpoint: they report Closed from now on.
        if let Some(s) = self.shared.stores.lock().as_ref() {
            s.close();
        }
    }

    /// The store service of this endpoint, created (and handed to the I/O thread) on
    /// first use.
    fn store_service(&self) -> Result<Arc<crate::store::StoreService>> {
        if self.is_closed() {
            return Err(Error::closed("the endpoint is shut down"));
        }
        let mut slot = self.shared.stores.lock();
        if let Some(s) = slot.as_ref() {
            return Ok(s.clone());
        }
        let s = crate::store::StoreService::for_endpoint(self.shared.id);
        s.set_waker(self.hook_waker());
        *slot = Some(s.clone());
        self.shared.stores_attached.store(true, Ordering::Release);
        drop(slot);
        let _ = self.shared.waker.wake();
        Ok(s)
    }

    /// Broker's `endpoint::attach_master(name, backend, options)`: the master of store
    /// `name` on this endpoint, over a memory or SQLite backend (`options`: Broker's
    /// backend options, see `BackendOptions::set`; the SQLite file defaults to
    /// `<name>.sqlite` in the working directory and is created if missing). Usable at once;
    /// clones on peers find it through the store's master topic. The same code as a
    /// cluster's `create_store`. Attaching again gives another handle to the same master;
    /// a name with a clone here is a `State` error.
    pub fn attach_master(
        &self,
        name: &str,
        backend: crate::store::BackendKind,
        options: &crate::store::BackendOptions,
    ) -> Result<crate::store::Store> {
        if name.is_empty() {
            return Err(Error::invalid("store name is empty"));
        }
        let service = self.store_service()?;
        let backend = options.open_backend(name, backend)?;
        service.attach_master(name, backend)
    }

    /// Broker's `endpoint::attach_clone(name, resync_interval, stale_interval,
    /// mutation_buffer_interval)`: a clone of store `name` (its intervals in `config`),
    /// which asks for its master among this endpoint's peers at once, on every new
    /// peering, and every resync interval until one answers. Reads wait for the first
    /// snapshot up to their timeout.
    pub fn attach_clone(
        &self,
        name: &str,
        config: crate::store::CloneConfig,
    ) -> Result<crate::store::Store> {
        if name.is_empty() {
            return Err(Error::invalid("store name is empty"));
        }
        self.store_service()?.attach_clone(name, config)
    }

    /// Whether `close` ran (or the endpoint was dropped).
    pub fn is_closed(&self) -> bool {
        self.shared.cmds.lock().closed
    }

    pub fn stats(&self) -> Stats {
        stats_of(&self.shared)
    }

    /// Messages processed by type (data, command, routing-update, ping, pong), as
    /// Broker's `broker_processed_messages_total`.
    pub fn processed_messages(&self) -> [u64; 5] {
        processed_of(&self.shared)
    }
}

impl Drop for Endpoint {
    fn drop(&mut self) {
        self.close();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_longer_than_the_clock_reaches_neither_panic_nor_hang() {
        let mut o = EndpointOptions::default();
        o.tls.disable = true;
        let ep = Endpoint::new(o).unwrap();
        ep.close();
        let t0 = Instant::now();
        assert!(ep.next(Some(Duration::MAX)).is_none(), "closed and empty");
        let mut v = Vec::new();
        assert_eq!(ep.next_batch(&mut v, 10, Some(Duration::MAX)), 0);
        assert_eq!(ep.poll(Duration::MAX), 0, "no callback: nothing handled");
        assert!(!ep.await_peers(1, Duration::from_millis(10)));
        assert!(t0.elapsed() < Duration::from_secs(5));
    }

    #[test]
    fn options_by_name() {
        let mut o = EndpointOptions::default();
        o.set("Broker::forward_messages", "F").unwrap();
        assert!(!o.forwarding);
        o.set("Broker::peer_overflow_policy", "drop_oldest")
            .unwrap();
        assert_eq!(o.peer_policy, OverflowPolicy::DropOldest);
        o.set("backpressure_timeout", "250ms").unwrap();
        assert_eq!(o.backpressure_timeout, Duration::from_millis(250));
        o.set("handshake_timeout", "1.5").unwrap();
        assert_eq!(o.handshake_timeout, Duration::from_millis(1500));
        o.set("id", "5746d8ee-3644-5bd2-9f54-d5a44c26c2a1").unwrap();
        assert_eq!(
            o.id.unwrap().to_string(),
            "5746d8ee-3644-5bd2-9f54-d5a44c26c2a1"
        );
        assert_eq!(o.set("nope", "1").unwrap_err().kind, ErrorKind::NotFound);
        assert!(o.set("broker.ttl", "0").is_err());
        assert!(o.set("inbox_overflow_policy", "disconnect").is_err());
        assert!(o
            .set("Broker::forward_messages", "maybe")
            .unwrap_err()
            .message
            .contains("boolean"));
        assert!(o.set("unpeer_timeout", "-1").is_err());
    }
}
