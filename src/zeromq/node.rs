//! A node's ZeroMQ sockets on their own thread: XSUB (events in, subscriptions out), XPUB
//! (events out, everyone's subscriptions in), and the log PUSH / PULL, behind the
//! endpoint's host side (`Endpoint::with_io`). Hosts publish into XPUB themselves while
//! nothing is queued (`Xpub`); the thread waits on the sockets' `ZMQ_FD`s in its epoll
//! set (see the threading notes in the module above).

use super::frames::{self, Incoming, SubChange};
use super::membership::{Action, Membership};
use super::{endpoint_id_of, zmq_err, NodeConfig};
use crate::endpoint::inbox::{Deliveries, Inbox};
use crate::endpoint::{
    Command, Counters, DirectPublish, Hook, HookCtx, Message, MessageKind, Payload, PeerInfo,
    Shared,
};
use crate::error::{Error, Result};
use crate::ffi::zmq_opts::{self, RawContext};
use crate::wire::{EndpointId, EnvelopeType};
use parking_lot::Mutex;
use std::collections::{BTreeSet, HashMap, VecDeque};
use std::os::fd::RawFd;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

macro_rules! stats {
    ($($(#[$m:meta])* $name:ident),* $(,)?) => {
        /// Counters of the ZeroMQ backend, cumulative since the node started. Every drop
        /// of bad input has one (`zeek_cluster_zeromq_*` in Zeek where it has one).
        #[derive(Default, Debug)]
        pub struct ZmqStats {
            $($(#[$m])* pub $name: AtomicU64,)*
        }
        impl ZmqStats {
            /// Every counter by name, in declaration order.
            pub fn snapshot(&self) -> Vec<(&'static str, u64)> {
                vec![$((stringify!($name), self.$name.load(Ordering::Relaxed)),)*]
            }
            /// One counter by name.
            pub fn get(&self, name: &str) -> Option<u64> {
                match name {
                    $(stringify!($name) => Some(self.$name.load(Ordering::Relaxed)),)*
                    _ => None,
                }
            }
        }
    };
}

stats! {
    /// Messages with the wrong number of frames (`zeek_cluster_zeromq_msg_errors_total`).
    msg_errors,
    /// Events in a format other than `broker-bin-v1`.
    wrong_format,
    /// Payloads that are not a valid Broker value (Zeek: "Unserialize error").
    undecodable,
    /// Events on a topic this node did not subscribe.
    unsubscribed,
    /// Our own messages coming back (dropped by sender id, as Zeek does).
    own_dropped,
    /// Publishes dropped at the XPUB high-water mark (`zc_overflow_policy = drop`;
    /// `zeek_cluster_zeromq_xpub_drops_total`).
    xpub_drops,
    /// Times a publish met a full XPUB queue and waited (backpressure).
    xpub_blocked,
    /// Publishes held until the ready-to-publish probe completed.
    held_until_ready,
    /// Events sent / received.
    events_sent,
    events_received,
    /// Of the events received, those a host thread waiting in `next` read itself
    /// (leader/follower on XSUB; the node's thread read the others).
    events_read_by_host,
    /// Subscriptions and unsubscriptions seen on XPUB.
    subscriptions_seen,
    unsubscriptions_seen,
    /// Log batches sent, received, and received without a sink (dropped).
    logs_sent,
    logs_received,
    logs_unhandled,
    /// Log batches that waited for room in the PUSH queue.
    logs_blocked,
    /// Received log batches that did not decode as `zeek-bin-serializer` (dropped whole).
    logs_malformed,
    /// Log records in the batches received.
    log_records_received,
    /// Handshake failures reported by the socket monitors (Zeek: fatal).
    handshake_failures,
    /// Zeek's reporter warnings of the hello (expired, duplicate, unknown node).
    warnings,
    /// 1 once the ready-to-publish probe came back.
    ready,
}

/// Where received log batches go: `(sender node id, format name, payload)`. Runs on the
/// backend's I/O thread and must not block. This is the seam for the log-write
/// (`zeek-bin-serializer`) decoder.
pub type LogSink = Box<dyn FnMut(&[u8], &[u8], &[u8]) + Send>;

/// Log batches on their way out, and the sink for those coming in.
#[derive(Default)]
pub struct LogShared {
    pub(crate) out: Mutex<VecDeque<(Vec<u8>, Vec<u8>)>>,
    pub(crate) sink: Mutex<Option<LogSink>>,
}

/// Log batches queued for the PUSH socket before `publish_log_write` refuses more.
pub(crate) const LOG_QUEUE_LIMIT: usize = 10_000;

const MON_HANDSHAKE_FAILED_NO_DETAIL: u16 = 0x0800;
const MON_HANDSHAKE_FAILED_PROTOCOL: u16 = 0x2000;
const MON_HANDSHAKE_FAILED_AUTH: u16 = 0x4000;

static SEQ: AtomicU64 = AtomicU64::new(0);

struct Out {
    topic: Arc<str>,
    format: &'static [u8],
    payload: Vec<u8>,
    counted: bool,
    /// A local publish not yet offered to the taps (one of them was full), with its
    /// origin: offered before it is sent.
    offer: Option<u64>,
}

/// The node's XPUB socket, shared by its thread and the host threads that publish straight
/// into it (`DirectPublish`, no hand-off to the node's thread). libzmq sockets are not
/// thread-safe: every use is under the lock (whose barrier libzmq asks for when a socket
/// changes threads), and no thread waits inside libzmq on it: the node's thread waits on
/// the socket's `ZMQ_FD` in its epoll set, which only the kernel reads meanwhile.
pub(crate) struct Xpub {
    state: Mutex<XpubState>,
    node_id: Vec<u8>,
    drop_at_hwm: bool,
    stats: Arc<ZmqStats>,
    counters: Arc<Counters>,
    waker: Arc<mio::Waker>,
    /// libzmq processes a socket's pending commands inside `send` too, taking the signal
    /// off its `ZMQ_FD`: a host send that leaves subscriptions waiting sets this and wakes
    /// the node's thread, which reads XPUB on its next turn.
    recheck: AtomicBool,
    /// A host send skipped that question (a dense burst): the node's thread asks XPUB
    /// `LATE_CHECK` after it first sees this set.
    late_check: AtomicBool,
}

/// Sends closer together than this are a burst (see `Xpub::try_publish`).
const DENSE: Duration = Duration::from_micros(50);
/// In a burst, every this many sends still ask XPUB for waiting subscriptions.
const CHECK_EVERY: u32 = 32;
/// How long after a skipped question the node's thread asks XPUB itself.
const LATE_CHECK: Duration = Duration::from_millis(1);

struct XpubState {
    /// None once the node's thread stopped (the context can only close without it).
    sock: Option<zmq::Socket>,
    /// Hosts may send directly: the probe came back and the node's thread holds no
    /// publish (`out` is empty).
    direct: bool,
    /// The last direct send, and the direct sends since XPUB was last asked for waiting
    /// subscriptions.
    last_send: Option<Instant>,
    unchecked: u32,
}

impl Xpub {
    /// One 4-frame message, without waiting; counted as sent.
    fn send(&self, st: &mut XpubState, topic: &str, format: &[u8], payload: &[u8]) -> Sent {
        let Some(sock) = st.sock.as_ref() else {
            return Sent::Yes;
        };
        match sock.send(topic.as_bytes(), zmq::SNDMORE | zmq::DONTWAIT) {
            Ok(()) => {}
            Err(zmq::Error::EAGAIN) => return Sent::Full,
            // ETERM and the like: the socket is going away; nothing more to do.
            Err(_) => return Sent::Yes,
        }
        // A multipart message is atomic: once its first frame is in, so are the rest.
        let _ = sock.send(&self.node_id[..], zmq::SNDMORE);
        let _ = sock.send(format, zmq::SNDMORE);
        let _ = sock.send(payload, 0);
        self.stats.events_sent.fetch_add(1, Ordering::Relaxed);
        self.counters.published.fetch_add(1, Ordering::Relaxed);
        Sent::Yes
    }

    /// Whether subscriptions wait on XPUB (this processes its pending commands, so its
    /// `ZMQ_FD` signals again for the next ones).
    fn input_waiting(st: &XpubState) -> bool {
        st.sock
            .as_ref()
            .and_then(|s| s.get_events().ok())
            .is_some_and(|e| e.contains(zmq::POLLIN))
    }

    fn drop_full(&self) {
        self.stats.xpub_drops.fetch_add(1, Ordering::Relaxed);
        self.counters.peer_dropped.fetch_add(1, Ordering::Relaxed);
    }

    fn close(&self) {
        let mut st = self.state.lock();
        st.direct = false;
        st.sock = None;
    }
}

impl DirectPublish for Xpub {
    fn try_publish(
        &self,
        kind: EnvelopeType,
        topic: &str,
        payload: &[u8],
        receiver: EndpointId,
    ) -> bool {
        let mut st = self.state.lock();
        if !st.direct {
            return false;
        }
        let store;
        let (format, data) = if kind == EnvelopeType::Command {
            store = frames::store_payload(receiver, payload);
            (frames::ZC_STORE_V1, &store[..])
        } else {
            (frames::BROKER_BIN_V1, payload)
        };
        match self.send(&mut st, topic, format, data) {
            Sent::Yes => {}
            Sent::Full if self.drop_at_hwm => self.drop_full(),
            // The node's thread holds it and waits for room (backpressure).
            Sent::Full => return false,
        }
        // Asking XPUB costs a system call (a `poll` of its mailbox). A send within
        // `DENSE` of the one before skips it, but every `CHECK_EVERY`th: libzmq takes a
        // socket's commands inside `send` at most about once a millisecond, so a burst
        // needs few checks; the node's thread checks within `LATE_CHECK` after the burst
        // (`late_check`), so no subscription waits longer whatever the host does next.
        let now = Instant::now();
        let dense = st.last_send.is_some_and(|t| now.duration_since(t) < DENSE);
        st.last_send = Some(now);
        st.unchecked += 1;
        if dense && st.unchecked < CHECK_EVERY {
            drop(st);
            if !self.late_check.swap(true, Ordering::AcqRel) {
                let _ = self.waker.wake();
            }
            return true;
        }
        st.unchecked = 0;
        let waiting = Self::input_waiting(&st);
        drop(st);
        if waiting {
            self.recheck.store(true, Ordering::Release);
            let _ = self.waker.wake();
        }
        true
    }
}

type Spawn =
    Box<dyn FnOnce(Arc<Shared>, mio::Poll, Option<Box<dyn Hook>>) -> Result<JoinHandle<()>> + Send>;

fn set<T>(r: std::result::Result<T, zmq::Error>, what: &str) -> Result<T> {
    r.map_err(|e| zmq_err(what, e))
}

/// Creates and connects the sockets now (so a bad endpoint fails `start`), and returns
/// the function that runs them on the endpoint's I/O thread. `ctx`: the libzmq context
/// to share (the proxy's, when this node runs it: one context per process, so the
/// node's connections to its own proxy are served by the same I/O threads; see the
/// module docs); None: a context of its own with one I/O thread.
pub(crate) fn spawn_node(
    cfg: NodeConfig,
    stats: Arc<ZmqStats>,
    logs: Arc<LogShared>,
    ctx: Option<Arc<RawContext>>,
) -> Result<Spawn> {
    let ctx = match ctx {
        Some(c) => c,
        None => Arc::new(RawContext::new(1)?),
    };
    let mut xpub = ctx.socket(zmq_opts::ZMQ_XPUB)?;
    let xsub = ctx.socket(zmq_opts::ZMQ_XSUB)?;
    set(xpub.set_linger(cfg.linger_ms), "linger_ms")?;
    crate::ffi::zmq_opts::set_int_option(
        &mut xpub,
        crate::ffi::zmq_opts::ZMQ_XPUB_NODROP,
        i32::from(cfg.xpub_nodrop),
    )?;
    set(xpub.set_xpub_verbose(true), "XPUB_VERBOSE")?;
    set(xpub.set_sndhwm(cfg.xpub_sndhwm), "xpub_sndhwm")?;
    set(xpub.set_sndbuf(cfg.xpub_sndbuf), "xpub_sndbuf")?;
    set(xsub.set_rcvhwm(cfg.xsub_rcvhwm), "xsub_rcvhwm")?;
    set(xsub.set_rcvbuf(cfg.xsub_rcvbuf), "xsub_rcvbuf")?;
    set(xsub.set_linger(0), "linger")?;
    for sock in [&xpub, &xsub] {
        set(sock.set_ipv6(cfg.ipv6), "ipv6")?;
    }
    if cfg.curve.client_enabled() {
        super::proxy::curve_client(&xpub, &cfg.curve)?;
        super::proxy::curve_client(&xsub, &cfg.curve)?;
    }
    let seq = SEQ.fetch_add(1, Ordering::Relaxed);
    let mut monitors = Vec::new();
    let monitor = |s: &zmq::Socket, what: &str, monitors: &mut Vec<(String, zmq::Socket)>| {
        let addr = format!("inproc://zc-monitor-{what}-{seq}");
        set(
            s.monitor(&addr, zmq::SocketEvent::ALL as i32),
            "zmq_socket_monitor",
        )?;
        let m = ctx.socket(zmq_opts::ZMQ_PAIR)?;
        set(m.connect(&addr), "monitor")?;
        monitors.push((what.to_string(), m));
        Ok::<(), Error>(())
    };
    monitor(&xpub, "xpub", &mut monitors)?;
    monitor(&xsub, "xsub", &mut monitors)?;
    if cfg.connect_xsub_endpoint.is_empty() || cfg.connect_xpub_endpoint.is_empty() {
        return Err(Error::invalid(
            "ZeroMQ: connect_xsub_endpoint and connect_xpub_endpoint must be set",
        ));
    }
    set(
        xsub.connect(&cfg.connect_xsub_endpoint),
        &format!(
            "Failed to connect xsub socket {}",
            cfg.connect_xsub_endpoint
        ),
    )?;
    set(
        xpub.connect(&cfg.connect_xpub_endpoint),
        &format!(
            "Failed to connect xpub socket {}",
            cfg.connect_xpub_endpoint
        ),
    )?;
    let mut zap = None;
    let pull = if cfg.listen_log_endpoint.is_empty() {
        None
    } else {
        let p = ctx.socket(zmq_opts::ZMQ_PULL)?;
        set(p.set_ipv6(cfg.ipv6), "ipv6")?;
        set(p.set_rcvhwm(cfg.log_rcvhwm), "log_rcvhwm")?;
        set(p.set_rcvbuf(cfg.log_rcvbuf), "log_rcvbuf")?;
        set(p.set_linger(0), "linger")?;
        if cfg.curve.server_enabled() {
            super::proxy::curve_server(&p, &cfg.curve)?;
            zap = Some(super::proxy::start_zap(
                ctx.socket(zmq_opts::ZMQ_REP)?,
                &cfg.curve.client_publickey,
            )?);
        }
        set(
            p.bind(&cfg.listen_log_endpoint),
            &format!("Failed to bind pull socket {}", cfg.listen_log_endpoint),
        )?;
        Some(p)
    };
    let push = if cfg.connect_log_endpoints.is_empty() {
        None
    } else {
        let p = ctx.socket(zmq_opts::ZMQ_PUSH)?;
        set(p.set_ipv6(cfg.ipv6), "ipv6")?;
        set(p.set_sndhwm(cfg.log_sndhwm), "log_sndhwm")?;
        set(p.set_sndbuf(cfg.log_sndbuf), "log_sndbuf")?;
        set(p.set_linger(cfg.linger_ms), "linger_ms")?;
        set(p.set_immediate(cfg.log_immediate), "log_immediate")?;
        if cfg.curve.client_enabled() {
            super::proxy::curve_client(&p, &cfg.curve)?;
        }
        monitor(&p, "log-push", &mut monitors)?;
        for e in &cfg.connect_log_endpoints {
            set(p.connect(e), &format!("Failed to connect push socket {e}"))?;
        }
        Some(p)
    };
    // The sockets' signalling descriptors, waited on in the thread's epoll set.
    let xpub_fd = set(xpub.get_fd(), "ZMQ_FD")?;
    Ok(Box::new(
        move |shared: Arc<Shared>, poll: mio::Poll, hook| {
            let name = format!(
                "zc-zmq-{}",
                &cfg.node_name.chars().take(8).collect::<String>()
            );
            let my_eid = endpoint_id_of(&cfg.node_id);
            let members = Membership::new(
                &cfg.node_name,
                &cfg.node_id,
                &cfg.nodeid_prefix,
                cfg.hello_expiration,
            );
            let probe = format!("{}{}.1.", cfg.internal_topic_prefix, cfg.node_id);
            let xpub = Arc::new(Xpub {
                state: Mutex::new(XpubState {
                    sock: Some(xpub),
                    direct: false,
                    last_send: None,
                    unchecked: 0,
                }),
                node_id: cfg.node_id.as_bytes().to_vec(),
                drop_at_hwm: cfg.drop_at_hwm,
                stats: stats.clone(),
                counters: shared.counters.clone(),
                waker: shared.waker.clone(),
                recheck: AtomicBool::new(false),
                late_check: AtomicBool::new(false),
            });
            let _ = shared.direct.set(xpub.clone());
            let xsub_fd = set(xsub.get_fd(), "ZMQ_FD")?;
            let node = Node {
                shared,
                hook,
                xpub,
                xpub_fd,
                xsub,
                push,
                pull,
                monitors,
                my_eid,
                cfg,
                subs: BTreeSet::new(),
                taps: Vec::new(),
                told: BTreeSet::new(),
                out: VecDeque::new(),
                ready: false,
                probe,
                members,
                peers: HashMap::new(),
                seen: BTreeSet::new(),
                deliveries: Deliveries::default(),
                stats,
                logs,
                shutdown: None,
                more: false,
                xsub_drained: false,
                xpub_more: true,
                pull_more: true,
                sent: false,
                blocked: false,
                log_blocked: false,
                frames: Vec::new(),
                actions: Vec::new(),
                last_sender: (Vec::new(), endpoint_id_of("")),
                host_leads: false,
                xsub_registered: true,
                sleep_until: None,
                late_check_at: None,
                _zap: zap,
                _ctx: ctx,
            };
            let shared = node.shared.clone();
            let cell = Arc::new(Mutex::new(Some(node)));
            // Host threads waiting in `next` read XSUB themselves (`Lead`); without the
            // descriptors it needs, the node's thread reads it, as before.
            if let Ok(lead) = Lead::new(&cell, &poll, xsub_fd, &shared) {
                let _ = shared.lead.set(Arc::new(lead));
            }
            std::thread::Builder::new()
                .name(name)
                .spawn(move || {
                    let run_cell = cell.clone();
                    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
                        run(&run_cell, poll)
                    }));
                    // The node leaves the cell on this thread, so that hosts stop leading
                    // and the sockets and the context close here.
                    let node = cell.lock().take();
                    if r.is_err() {
                        shared.fail();
                    }
                    drop(node);
                })
                .map_err(|e| {
                    Error::new(
                        crate::ErrorKind::Io,
                        format!("spawning the ZeroMQ I/O thread: {e}"),
                    )
                })
        },
    ))
}

type Cell = Arc<Mutex<Option<Node>>>;

const XSUB: mio::Token = mio::Token(1);
const XPUB: mio::Token = mio::Token(2);
const PULL: mio::Token = mio::Token(3);
const MON0: usize = 16;
/// In a leading host's own epoll set.
const LEAD_XSUB: mio::Token = mio::Token(1);
const LEAD_INBOX: mio::Token = mio::Token(2);

/// Leader/follower on XSUB (`endpoint::LeadReceive`). A host thread waiting in `next`
/// with an empty inbox takes XSUB's descriptor out of the node's epoll set, waits on it
/// (and on the inbox's lead pipe) in an epoll set of its own, and on each message reads
/// XSUB, runs the hooks and pushes into the inbox itself, under the node's lock; it gives
/// the descriptor back before it returns. Raw libzmq's receiver reads its socket on its
/// own thread; before this, every received event cost one more sleeping thread to wake
/// (the node's, then the host's). The node's thread keeps everything else: commands,
/// timers, XPUB, the log sockets, the monitors, and XSUB whenever no host waits.
struct Lead {
    cell: Cell,
    /// The node's epoll set, where XSUB's descriptor is taken out and put back.
    registry: mio::Registry,
    xsub_fd: RawFd,
    /// The leader's epoll set (XSUB's descriptor and the inbox's lead pipe, always
    /// registered) and its events; whoever holds the lock leads.
    host: Mutex<(mio::Poll, mio::Events)>,
}

impl Lead {
    fn new(
        cell: &Cell,
        poll: &mio::Poll,
        xsub_fd: RawFd,
        shared: &Shared,
    ) -> std::io::Result<Lead> {
        let host = mio::Poll::new()?;
        let inbox_fd = shared.inbox.lead_fd()?;
        let reg = host.registry();
        reg.register(
            &mut mio::unix::SourceFd(&xsub_fd),
            LEAD_XSUB,
            mio::Interest::READABLE,
        )?;
        reg.register(
            &mut mio::unix::SourceFd(&inbox_fd),
            LEAD_INBOX,
            mio::Interest::READABLE,
        )?;
        Ok(Lead {
            cell: cell.clone(),
            registry: poll.registry().try_clone()?,
            xsub_fd,
            host: Mutex::new((host, mio::Events::with_capacity(4))),
        })
    }

    /// Gives XSUB back to the node's thread.
    fn give_back(&self, node: &mut Node) {
        node.host_leads = false;
        let back = self.registry.register(
            &mut mio::unix::SourceFd(&self.xsub_fd),
            XSUB,
            mio::Interest::READABLE,
        );
        // Not registered again (it cannot fail on a valid descriptor): the node's
        // thread reads XSUB every millisecond instead, and registers it itself.
        node.xsub_registered = back.is_ok();
        if !node.xsub_drained || !node.xsub_registered {
            let _ = node.shared.waker.wake();
        }
    }

    fn lead_inner(&self, inbox: &Inbox, deadline: Instant) {
        let Some(mut host) = self.host.try_lock() else {
            return; // another host thread leads
        };
        let first = {
            let mut g = self.cell.lock();
            let Some(node) = g.as_mut() else { return };
            if node.shutdown.is_some() || !node.xsub_registered {
                return;
            }
            if self
                .registry
                .deregister(&mut mio::unix::SourceFd(&self.xsub_fd))
                .is_err()
            {
                return;
            }
            node.host_leads = true;
            // Read first unless the last read ended at EAGAIN: the descriptor signals only
            // what arrives from then on, and this thread's epoll set, where it always
            // stays, holds that signal if it came.
            !node.xsub_drained
        };
        let mut readable = first;
        loop {
            let more = {
                let mut g = self.cell.lock();
                let Some(node) = g.as_mut() else {
                    return; // the node's thread stopped
                };
                if node.shutdown.is_some() {
                    self.give_back(node);
                    return;
                }
                if readable || !node.xsub_drained {
                    node.host_turn()
                } else {
                    false
                }
            };
            if !inbox.is_empty() {
                break;
            }
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            if more {
                readable = true;
                continue;
            }
            if !inbox.arm_lead() {
                // A kick (the node's thread used XSUB or is stopping), or the inbox
                // closed: look again, or leave when there is nothing to read.
                if inbox.is_empty() && !inbox.closed() {
                    readable = true;
                    continue;
                }
                break;
            }
            let (poll, events) = &mut *host;
            let _ = poll.poll(events, Some(deadline - now));
            inbox.disarm_lead();
            readable = events.iter().any(|e| e.token() == LEAD_XSUB);
        }
        let mut g = self.cell.lock();
        if let Some(node) = g.as_mut() {
            self.give_back(node);
        }
    }
}

impl crate::endpoint::LeadReceive for Lead {
    fn lead(&self, inbox: &Inbox, deadline: Instant) {
        // A panic in a hook on this thread closes the endpoint, as on the node's thread.
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            self.lead_inner(inbox, deadline)
        }));
        if r.is_err() {
            let node = self.cell.lock().take();
            if let Some(n) = &node {
                n.shared.fail();
                let _ = n.shared.waker.wake();
            }
            drop(node);
        }
    }
}

struct Node {
    shared: Arc<Shared>,
    hook: Option<Box<dyn Hook>>,
    xpub: Arc<Xpub>,
    xpub_fd: RawFd,
    xsub: zmq::Socket,
    push: Option<zmq::Socket>,
    pull: Option<zmq::Socket>,
    monitors: Vec<(String, zmq::Socket)>,
    my_eid: EndpointId,
    cfg: NodeConfig,
    /// The host's subscriptions.
    subs: BTreeSet<String>,
    /// Taps (the WebSocket server's clients) and their filters, as on Broker
    /// (`endpoint::tap`): offered the events from the cluster their filters match, and the
    /// node's own publishes.
    taps: Vec<(u64, crate::wire::Filter, Arc<dyn crate::endpoint::tap::Tap>)>,
    /// What XSUB was told: the host's subscriptions and the taps' filters.
    told: BTreeSet<String>,
    /// Publishes waiting: before the probe came back, or for room at the high-water mark.
    out: VecDeque<Out>,
    ready: bool,
    probe: String,
    members: Membership,
    /// Node id -> status info of the nodes whose hello completed.
    peers: HashMap<String, PeerInfo>,
    /// Every subscription seen on XPUB (for `peer_subscriptions`).
    seen: BTreeSet<String>,
    deliveries: Deliveries,
    stats: Arc<ZmqStats>,
    logs: Arc<LogShared>,
    shutdown: Option<Instant>,
    more: bool,
    /// The last read of XSUB ended at EAGAIN, and nothing used the socket since: its
    /// `ZMQ_FD` signals the next message (libzmq's edge-triggered descriptor).
    xsub_drained: bool,
    /// XPUB or PULL may hold messages their descriptor will not signal (a read stopped
    /// before EAGAIN, or a send took the socket's pending commands).
    xpub_more: bool,
    pull_more: bool,
    /// This turn sent on XPUB.
    sent: bool,
    /// The last send met the high-water mark: retry soon.
    blocked: bool,
    log_blocked: bool,
    frames: Vec<zmq::Message>,
    actions: Vec<Action>,
    /// The last sender frame seen and its endpoint id.
    last_sender: (Vec<u8>, EndpointId),
    /// A host thread leads XSUB (`Lead`): the node's thread does not read it.
    host_leads: bool,
    /// XSUB's descriptor is in the node's epoll set (false only if giving it back
    /// failed: then the thread reads XSUB every millisecond).
    xsub_registered: bool,
    /// When the node's thread asks XPUB after host sends that skipped it (`Xpub::late_check`).
    late_check_at: Option<Instant>,
    /// When the node's thread, asleep, next wakes by itself (a leading host that sets an
    /// earlier timer wakes it).
    sleep_until: Option<Instant>,
    _zap: Option<super::proxy::Zap>,
    // Dropped last: closing the context waits for the sockets.
    _ctx: Arc<RawContext>,
}

impl Drop for Node {
    fn drop(&mut self) {
        // Hosts hold the XPUB socket too (`Shared::direct`): closed here, so that the
        // context (dropped last) can close.
        self.xpub.close();
    }
}

/// The node's thread: waits in the endpoint's epoll set, then runs a turn under the
/// node's lock (which a leading host takes for its own turns in between).
fn run(cell: &Cell, mut poll: mio::Poll) {
    let mut mon = {
        let mut g = cell.lock();
        let Some(node) = g.as_mut() else { return };
        if !node.start(&poll) {
            return;
        }
        vec![true; node.monitors.len()]
    };
    let mut events = mio::Events::with_capacity(16);
    loop {
        let timeout = {
            let mut g = cell.lock();
            let Some(node) = g.as_mut() else { return };
            let t = Duration::from_millis(node.timeout() as u64);
            // What it sleeps towards (not the rounded-up timeout: a leading host compares
            // its own deadlines with it).
            node.sleep_until = Some(node.deadline().unwrap_or_else(|| Instant::now() + t));
            t
        };
        match poll.poll(&mut events, Some(timeout)) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => break,
        }
        let mut g = cell.lock();
        let Some(node) = g.as_mut() else { return };
        node.sleep_until = None;
        if !node.turn(&events, &mut mon) {
            break;
        }
    }
    if let Some(node) = cell.lock().as_mut() {
        node.stop();
    }
}

/// Reads one multipart message (without waiting for the first frame) into `frames`;
/// returns the frame count (None: nothing to read). At most 64 frames are kept.
fn recv_multipart(sock: &zmq::Socket, frames: &mut Vec<zmq::Message>) -> Option<usize> {
    let mut n = 0;
    loop {
        if frames.len() <= n {
            frames.push(zmq::Message::new());
        }
        let slot = n.min(63);
        let flags = if n == 0 { zmq::DONTWAIT } else { 0 };
        match sock.recv(&mut frames[slot], flags) {
            Ok(()) => {}
            Err(zmq::Error::EINTR) if n > 0 => continue,
            Err(_) => return if n == 0 { None } else { Some(n) },
        }
        n += 1;
        if !frames[slot].get_more() {
            return Some(n);
        }
    }
}

impl Node {
    /// Before the first turn: the probe, and every descriptor in the epoll set. False:
    /// the node cannot run (reported to the host).
    fn start(&mut self, poll: &mio::Poll) -> bool {
        // The ready-to-publish probe (`DoReadyToPublishCallback`).
        let probe = frames::sub_frame(true, &self.probe);
        let _ = self.xsub.send(probe, 0);
        // Every socket's `ZMQ_FD` in the endpoint's epoll set, beside the waker: one
        // `epoll_wait` per turn instead of `zmq_poll`'s two `poll`s plus one `ZMQ_EVENTS`
        // (itself a `poll`) per socket and pass. The descriptors are edge-triggered: each
        // socket is read until EAGAIN, or marked to be read again on the next turn.
        let mut fds = vec![(XSUB, self.xsub.get_fd()), (XPUB, Ok(self.xpub_fd))];
        if let Some(p) = &self.pull {
            fds.push((PULL, p.get_fd()));
        }
        for (i, (_, m)) in self.monitors.iter().enumerate() {
            fds.push((mio::Token(MON0 + i), m.get_fd()));
        }
        for (token, fd) in fds {
            let registered = fd.map_err(|e| e.to_string()).and_then(|fd| {
                poll.registry()
                    .register(
                        &mut mio::unix::SourceFd(&fd),
                        token,
                        mio::Interest::READABLE,
                    )
                    .map_err(|e| e.to_string())
            });
            if let Err(e) = registered {
                self.status(
                    MessageKind::PeerUnavailable,
                    format!("ZeroMQ: cannot wait on a socket's descriptor: {e}"),
                );
                self.shared.inbox.push_batch(&mut self.deliveries);
                self.stop();
                return false;
            }
        }
        true
    }

    /// One turn of the node's thread after its wait; false: the node stops.
    fn turn(&mut self, events: &mio::Events, mon: &mut [bool]) -> bool {
        let (mut r_xsub, mut r_xpub, mut r_pull) = (false, false, false);
        for ev in events.iter() {
            match ev.token() {
                XSUB => r_xsub = true,
                XPUB => r_xpub = true,
                PULL => r_pull = true,
                mio::Token(t) if t >= MON0 => {
                    if let Some(m) = mon.get_mut(t - MON0) {
                        *m = true;
                    }
                }
                _ => {}
            }
        }
        self.more = false;
        self.sent = false;
        self.take_commands();
        let mut recheck = self.xpub.recheck.swap(false, Ordering::Acquire);
        // A burst of host sends skipped asking XPUB: ask `LATE_CHECK` after seeing it
        // (not at once, which would wake this thread on every send of the burst).
        if self.xpub.late_check.load(Ordering::Acquire) {
            let now = Instant::now();
            match self.late_check_at {
                None => self.late_check_at = Some(now + LATE_CHECK),
                Some(at) if now >= at => {
                    self.late_check_at = None;
                    self.xpub.late_check.store(false, Ordering::Release);
                    recheck = true;
                }
                Some(_) => {}
            }
        }
        if r_xpub || recheck || std::mem::take(&mut self.xpub_more) {
            self.read_xpub();
        }
        // While a host leads XSUB, it reads it; a descriptor that could not be put back in
        // the epoll set is read on every turn.
        let read_xsub = !self.host_leads
            && self.shutdown.is_none()
            && self.shared.inbox.has_room(self.deliveries.len())
            && !self.any_remote_tap_full();
        if read_xsub && (r_xsub || !self.xsub_drained || !self.xsub_registered) {
            self.read_xsub();
        }
        if self.pull.is_some() && (r_pull || std::mem::take(&mut self.pull_more)) {
            self.read_pull();
        }
        for (i, m) in mon.iter_mut().enumerate() {
            if std::mem::take(m) {
                self.read_monitor(i);
            }
        }
        self.flush_out();
        self.flush_logs();
        let now = Instant::now();
        let mut acts = std::mem::take(&mut self.actions);
        self.members.tick(now, &mut acts);
        self.apply(acts);
        self.run_hook();
        self.shared.inbox.push_batch(&mut self.deliveries);
        self.settle_xpub();
        // A subscription sent on XSUB may have taken its descriptor's signal, and a
        // shutdown must reach the leader: it looks again.
        if self.host_leads && (!self.xsub_drained || self.shutdown.is_some()) {
            self.shared.inbox.kick_lead();
        }
        if let Some(deadline) = self.shutdown {
            if (self.out.is_empty() && self.logs.out.lock().is_empty())
                || Instant::now() >= deadline
            {
                return false;
            }
        }
        true
    }

    /// A leading host's turn (`Lead`): XSUB, the hooks, the inbox, on the host's thread.
    /// Returns whether XSUB may hold more than this turn read.
    fn host_turn(&mut self) -> bool {
        self.more = false;
        self.sent = false;
        if self.shared.inbox.has_room(self.deliveries.len()) && !self.any_remote_tap_full() {
            let before = self.stats.events_received.load(Ordering::Relaxed);
            self.read_xsub();
            let read = self.stats.events_received.load(Ordering::Relaxed) - before;
            self.stats
                .events_read_by_host
                .fetch_add(read, Ordering::Relaxed);
        }
        let more = self.more;
        self.run_hook();
        self.shared.inbox.push_batch(&mut self.deliveries);
        self.settle_xpub();
        // What only the node's thread does: held publishes, XPUB's subscriptions, and a
        // timer (of the hook, of the hello) earlier than the one it sleeps to.
        let earlier = match (self.deadline(), self.sleep_until) {
            (Some(d), Some(s)) => d < s,
            (Some(_), None) => true,
            (None, _) => false,
        };
        if !self.out.is_empty() || self.xpub_more || earlier {
            let _ = self.shared.waker.wake();
        }
        more || self.more
    }

    /// Hosts publish directly while nothing is held here (order per publisher); a send
    /// of this turn may have taken XPUB's signal (see `Xpub::recheck`).
    fn settle_xpub(&mut self) {
        let direct =
            self.ready && self.out.is_empty() && self.shutdown.is_none() && self.taps.is_empty();
        let mut st = self.xpub.state.lock();
        st.direct = direct;
        if self.sent && Xpub::input_waiting(&st) {
            self.xpub_more = true;
            self.more = true;
        }
    }

    fn stop(&mut self) {
        self.xpub.close();
        self.shared.peers.lock().clear();
        self.shared.refuse_commands();
        // A leading host stops waiting on XSUB.
        self.shared.inbox.kick_lead();
    }

    /// The earliest moment the node's thread has something to do by itself.
    fn deadline(&self) -> Option<Instant> {
        let now = Instant::now();
        let mut next = self.shutdown;
        let mut consider = |d: Option<Instant>| {
            if let Some(d) = d {
                next = Some(next.map_or(d, |n: Instant| n.min(d)));
            }
        };
        consider(self.hook.as_ref().and_then(|h| h.next_deadline()));
        consider(self.members.next_deadline());
        consider(self.late_check_at);
        if (self.blocked && self.ready) || self.log_blocked || !self.xsub_registered {
            consider(Some(now + Duration::from_millis(1)));
        }
        next
    }

    fn timeout(&self) -> i64 {
        if self.more {
            return 0;
        }
        match self.deadline() {
            // Rounded up: epoll counts whole milliseconds.
            Some(n) => {
                (n.saturating_duration_since(Instant::now()).as_micros() as i64 + 999) / 1000
            }
            None => 1000,
        }
    }

    fn take_commands(&mut self) {
        let (cmds, bytes, base) = {
            let mut q = self.shared.cmds.lock();
            q.wake_pending = false;
            if q.q.is_empty() {
                return;
            }
            let cmds = std::mem::take(&mut q.q);
            let bytes = std::mem::take(&mut q.bytes);
            let base = q.bytes_base;
            q.bytes_base = base + bytes.len();
            (cmds, bytes, base)
        };
        let mut done = 0usize;
        for c in cmds {
            done += self.command(c, &bytes, base);
        }
        self.done(done);
    }

    fn done(&self, n: usize) {
        if n > 0 {
            let mut q = self.shared.cmds.lock();
            q.publishes = q.publishes.saturating_sub(n);
            drop(q);
            self.shared.cmd_room.notify_all();
        }
    }

    fn status(&mut self, kind: MessageKind, text: String) {
        self.deliveries.push(Message::status(
            kind,
            PeerInfo {
                id: None,
                address: String::new(),
                port: 0,
            },
            text,
        ));
    }

    /// Handles one command; returns how many counted publishes it finished.
    fn command(&mut self, c: Command, bytes: &[u8], base: usize) -> usize {
        match c {
            Command::Publish {
                kind,
                topic,
                payload,
                receiver,
                counted,
                origin,
            } => {
                let p: &[u8] = match &payload {
                    Payload::Owned(v) => v,
                    Payload::Shared { start, len } => {
                        let at = start.wrapping_sub(base);
                        bytes.get(at..at.saturating_add(*len)).unwrap_or_default()
                    }
                };
                let (format, data) = match kind {
                    EnvelopeType::Command => {
                        (frames::ZC_STORE_V1, frames::store_payload(receiver, p))
                    }
                    _ => (frames::BROKER_BIN_V1, Vec::new()),
                };
                let data_ref: &[u8] = if kind == EnvelopeType::Command {
                    &data
                } else {
                    p
                };
                // Local delivery, as on Broker: the taps whose filters match (but the
                // publishing one), and the host for a tap's publish. A full tap holds the
                // publish back (backpressure) until it has room.
                let mut offer = None;
                if kind == EnvelopeType::Data && receiver.is_nil() {
                    if self.tap_full(&topic) {
                        offer = Some(origin);
                    } else {
                        self.offer_local(&topic, p, origin);
                    }
                }
                if self.out.is_empty() && self.ready && offer.is_none() {
                    match self.send_event(&topic, format, data_ref) {
                        Sent::Yes => return usize::from(counted),
                        Sent::Full if self.cfg.drop_at_hwm => {
                            self.drop_full();
                            return usize::from(counted);
                        }
                        Sent::Full => {}
                    }
                } else if !self.ready {
                    self.stats.held_until_ready.fetch_add(1, Ordering::Relaxed);
                }
                let payload = if kind == EnvelopeType::Command {
                    data
                } else {
                    match payload {
                        Payload::Owned(v) => v,
                        Payload::Shared { .. } => p.to_vec(),
                    }
                };
                self.hold(Out {
                    topic,
                    format,
                    payload,
                    counted,
                    offer,
                });
                0
            }
            Command::Subscribe(p) => {
                if self.subs.insert(p) {
                    self.sync_xsub();
                }
                0
            }
            Command::Unsubscribe(p) => {
                if self.subs.remove(&p) {
                    self.sync_xsub();
                }
                0
            }
            Command::Listen(_) => {
                self.status(
                    MessageKind::PeerInvalid,
                    "listen: not available on the ZeroMQ backend (nodes connect to the XPUB/XSUB proxy)".into(),
                );
                0
            }
            Command::Peer { host, port, .. } => {
                self.status(
                    MessageKind::PeerUnavailable,
                    format!("peer {host}:{port}: not available on the ZeroMQ backend (nodes connect to the XPUB/XSUB proxy)"),
                );
                0
            }
            Command::Unpeer { host, port, .. } => {
                self.status(
                    MessageKind::PeerInvalid,
                    format!("unpeer {host}:{port}: not available on the ZeroMQ backend"),
                );
                0
            }
            Command::Tap {
                id,
                filter,
                tap,
                generation,
            } => {
                self.taps.retain(|(i, _, _)| *i != id);
                if let Some(t) = &tap {
                    self.taps.push((id, filter, t.clone()));
                    // Every publish passes this thread while taps are set (local
                    // delivery), not straight into XPUB.
                    self.xpub.state.lock().direct = false;
                }
                self.sync_xsub();
                if let Some(t) = tap {
                    t.updated(generation);
                }
                0
            }
            Command::Deliver(m) => {
                self.deliveries.push(m);
                0
            }
            Command::Shutdown => {
                self.shutdown = Some(Instant::now() + self.shared.opts.shutdown_timeout);
                0
            }
        }
    }

    fn drop_full(&mut self) {
        self.xpub.drop_full();
    }

    /// One 4-frame message on XPUB, without waiting.
    fn send_event(&mut self, topic: &str, format: &[u8], payload: &[u8]) -> Sent {
        let r = {
            let mut st = self.xpub.state.lock();
            self.xpub.send(&mut st, topic, format, payload)
        };
        self.sent = true;
        match r {
            Sent::Full => {
                if !self.blocked {
                    self.stats.xpub_blocked.fetch_add(1, Ordering::Relaxed);
                }
                self.blocked = true;
            }
            Sent::Yes => self.blocked = false,
        }
        r
    }

    /// Holds a publish for later (no room, or before the probe came back); hosts stop
    /// publishing directly until `out` is empty again.
    fn hold(&mut self, o: Out) {
        if self.out.is_empty() {
            self.xpub.state.lock().direct = false;
        }
        self.out.push_back(o);
    }

    /// Tells XSUB what the host's subscriptions and the taps' filters add up to.
    fn sync_xsub(&mut self) {
        let mut want: BTreeSet<String> = self.subs.clone();
        for (_, f, tap) in &self.taps {
            if !tap.local_only() {
                want.extend(f.iter().cloned());
            }
        }
        for p in want.difference(&self.told) {
            let _ = self.xsub.send(frames::sub_frame(true, p), 0);
            self.xsub_drained = false;
        }
        for p in self.told.difference(&want) {
            let _ = self.xsub.send(frames::sub_frame(false, p), 0);
            self.xsub_drained = false;
        }
        self.told = want;
    }

    /// A tap whose filter matches `topic` cannot take more now (`Tap::full`).
    fn tap_full(&self, topic: &str) -> bool {
        self.taps
            .iter()
            .any(|(_, f, tap)| tap.full() && crate::wire::filter::filter_matches(f, topic))
    }

    /// A full tap on a cluster event's way (see `read_xsub`).
    fn any_remote_tap_full(&self) -> bool {
        self.taps
            .iter()
            .any(|(_, _, tap)| !tap.local_only() && tap.full())
    }

    /// Offers a local publish to every matching tap but its origin's, and hands a tap's
    /// publish to the host if it subscribed (Zeek raises a WebSocket client's events on
    /// the node that hosts it), as the Broker core does.
    fn offer_local(&mut self, topic: &str, payload: &[u8], origin: u64) {
        for (id, f, tap) in &self.taps {
            if *id != origin && crate::wire::filter::filter_matches(f, topic) {
                tap.offer(topic, payload, origin);
            }
        }
        if origin != 0 && self.subscribed(topic) {
            self.deliveries
                .push(Message::event_message(topic, payload.to_vec()));
        }
    }

    fn flush_out(&mut self) {
        if !self.ready {
            return;
        }
        let mut done = 0;
        while let Some(mut o) = self.out.pop_front() {
            if let Some(origin) = o.offer {
                if self.tap_full(&o.topic) {
                    self.out.push_front(o);
                    break;
                }
                self.offer_local(&o.topic, &o.payload, origin);
                o.offer = None;
            }
            match self.send_event(&o.topic, o.format, &o.payload) {
                Sent::Yes => done += usize::from(o.counted),
                Sent::Full if self.cfg.drop_at_hwm => {
                    self.drop_full();
                    done += usize::from(o.counted);
                }
                Sent::Full => {
                    self.out.push_front(o);
                    break;
                }
            }
        }
        self.done(done);
    }

    fn flush_logs(&mut self) {
        let Some(push) = &self.push else {
            self.logs.out.lock().clear();
            return;
        };
        let mut q = self.logs.out.lock();
        self.log_blocked = false;
        while let Some((format, payload)) = q.front() {
            match push.send(frames::LOG_WRITE, zmq::SNDMORE | zmq::DONTWAIT) {
                Ok(()) => {}
                Err(zmq::Error::EAGAIN) => {
                    if !self.log_blocked {
                        self.stats.logs_blocked.fetch_add(1, Ordering::Relaxed);
                    }
                    self.log_blocked = true;
                    break;
                }
                Err(_) => {}
            }
            let _ = push.send(self.cfg.node_id.as_bytes(), zmq::SNDMORE);
            let _ = push.send(&format[..], zmq::SNDMORE);
            let _ = push.send(&payload[..], 0);
            self.stats.logs_sent.fetch_add(1, Ordering::Relaxed);
            q.pop_front();
        }
    }

    fn subscribed(&self, topic: &str) -> bool {
        // Byte-prefix match, as ZeroMQ filters.
        self.subs.iter().any(|s| topic.starts_with(s.as_str()))
    }

    fn read_xsub(&mut self) {
        let max = match self.cfg.poll_max_messages {
            0 => 10_000,
            n => n,
        };
        let mut frames = std::mem::take(&mut self.frames);
        self.xsub_drained = false;
        for _ in 0..max {
            // Backpressure: the host's inbox, or a tap that cannot take more (it wakes the
            // endpoint when it can).
            if !self.shared.inbox.has_room(self.deliveries.len()) || self.any_remote_tap_full() {
                break;
            }
            let Some(n) = recv_multipart(&self.xsub, &mut frames) else {
                frames.truncate(8);
                self.frames = frames;
                self.xsub_drained = true;
                return;
            };
            // Zeek's 4 frames without a Vec per message; other counts are dropped anyway.
            let verdict = if n == 4 {
                frames::classify(&[
                    &frames[0][..],
                    &frames[1][..],
                    &frames[2][..],
                    &frames[3][..],
                ])
            } else {
                Incoming::Bad(frames::Drop::FrameCount(n))
            };
            match verdict {
                Incoming::Event {
                    topic,
                    sender,
                    payload,
                } => self.on_event(topic, sender, payload, None),
                Incoming::Store {
                    topic,
                    sender,
                    receiver,
                    payload,
                } => self.on_event(topic, sender, payload, Some(receiver)),
                Incoming::Bad(frames::Drop::FrameCount(_)) => {
                    self.stats.msg_errors.fetch_add(1, Ordering::Relaxed);
                }
                Incoming::Bad(frames::Drop::Format) => {
                    self.stats.wrong_format.fetch_add(1, Ordering::Relaxed);
                }
                Incoming::Bad(frames::Drop::Truncated) => {
                    self.stats.undecodable.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
        self.more = true;
        self.frames = frames;
    }

    fn on_event(
        &mut self,
        topic: &[u8],
        sender: &[u8],
        payload: &[u8],
        store_receiver: Option<EndpointId>,
    ) {
        if sender == self.cfg.node_id.as_bytes() {
            self.stats.own_dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let Ok(topic) = std::str::from_utf8(topic) else {
            self.stats.msg_errors.fetch_add(1, Ordering::Relaxed);
            return;
        };
        let host = self.subscribed(topic);
        let tapped = store_receiver.is_none()
            && self.taps.iter().any(|(_, f, tap)| {
                !tap.local_only() && crate::wire::filter::filter_matches(f, topic)
            });
        if !host && !tapped {
            self.stats.unsubscribed.fetch_add(1, Ordering::Relaxed);
            return;
        }
        if let Some(r) = store_receiver {
            if !r.is_nil() && r != self.my_eid {
                return; // a store command addressed to another node
            }
            self.shared
                .counters
                .received
                .fetch_add(1, Ordering::Relaxed);
            let eid = self.sender_eid(sender);
            self.deliveries
                .push_raw(MessageKind::Command, topic, payload, Some(eid));
            return;
        }
        if let Err(e) = crate::data::bin::validate(payload) {
            self.undecodable(topic, sender, &e.message);
            return;
        }
        if crate::data::Event::name_of(payload) == Some(frames::ZMQ_HELLO_EVENT.as_bytes()) {
            // The backend's own: never offered to taps, and only on our subscriptions.
            if !host {
                self.stats.unsubscribed.fetch_add(1, Ordering::Relaxed);
                return;
            }
            if let Ok(ev) = crate::data::Event::from_bytes(payload) {
                if let [crate::data::Value::String(n), crate::data::Value::String(i)] =
                    ev.args.as_slice()
                {
                    let mut acts = std::mem::take(&mut self.actions);
                    self.members.on_hello(
                        &String::from_utf8_lossy(n),
                        &String::from_utf8_lossy(i),
                        Instant::now(),
                        &mut acts,
                    );
                    self.apply(acts);
                    return;
                }
            }
            self.stats.undecodable.fetch_add(1, Ordering::Relaxed);
            return;
        }
        self.stats.events_received.fetch_add(1, Ordering::Relaxed);
        self.shared
            .counters
            .received
            .fetch_add(1, Ordering::Relaxed);
        if tapped {
            for (_, f, tap) in &self.taps {
                if !tap.local_only() && crate::wire::filter::filter_matches(f, topic) {
                    tap.offer(topic, payload, 0);
                }
            }
        }
        if !host {
            return; // for the taps only: a tap's filter is not the host's subscription
        }
        let eid = self.sender_eid(sender);
        self.deliveries
            .push_raw(MessageKind::Event, topic, payload, Some(eid));
    }

    /// The endpoint id of a sender frame (FNV-1a over it), the last one remembered:
    /// bursts come from one sender.
    fn sender_eid(&mut self, sender: &[u8]) -> EndpointId {
        if self.last_sender.0 != sender {
            self.last_sender = (sender.to_vec(), endpoint_id_of(sender));
        }
        self.last_sender.1
    }

    /// Drops an event whose payload does not decode: counted (here and in the endpoint's
    /// `undecodable`) and reported as `DeserializationFailed`, as on Broker.
    fn undecodable(&mut self, topic: &str, sender: &[u8], reason: &str) {
        self.stats.undecodable.fetch_add(1, Ordering::Relaxed);
        self.shared
            .counters
            .undecodable
            .fetch_add(1, Ordering::Relaxed);
        let node = String::from_utf8_lossy(sender).into_owned();
        let info = PeerInfo {
            id: Some(endpoint_id_of(sender)),
            address: node.clone(),
            port: 0,
        };
        let mut m = Message::status(
            MessageKind::DeserializationFailed,
            info,
            format!("dropped an undecodable data message from {node} on topic '{topic}': {reason}"),
        );
        m.topic = topic.to_string();
        m.sender = Some(endpoint_id_of(sender));
        self.deliveries.push(m);
    }

    fn read_xpub(&mut self) {
        let mut frames = std::mem::take(&mut self.frames);
        let mut changed = false;
        let mut drained = false;
        for _ in 0..10_000 {
            // Locked per message: hosts publish in between.
            let got = {
                let st = self.xpub.state.lock();
                st.sock
                    .as_ref()
                    .and_then(|s| recv_multipart(s, &mut frames))
            };
            let Some(n) = got else {
                drained = true;
                break;
            };
            let parts: Vec<&[u8]> = frames[..n.min(64)].iter().map(|m| &m[..]).collect();
            let now = Instant::now();
            let mut acts = std::mem::take(&mut self.actions);
            match frames::sub_change(&parts) {
                Some(SubChange::Subscribe(t)) => {
                    self.stats
                        .subscriptions_seen
                        .fetch_add(1, Ordering::Relaxed);
                    if !self.ready && t == self.probe.as_bytes() {
                        self.ready = true;
                        self.stats.ready.store(1, Ordering::Relaxed);
                        let _ = self.xsub.send(frames::sub_frame(false, &self.probe), 0);
                        self.xsub_drained = false;
                    }
                    if self.members.on_subscription(t, now, &mut acts) {
                        changed |= self.seen.insert(String::from_utf8_lossy(t).into_owned());
                    }
                }
                Some(SubChange::Unsubscribe(t)) => {
                    self.stats
                        .unsubscriptions_seen
                        .fetch_add(1, Ordering::Relaxed);
                    self.members.on_unsubscription(t, &mut acts);
                    changed |= self.seen.remove(String::from_utf8_lossy(t).as_ref());
                }
                None => {
                    self.stats.msg_errors.fetch_add(1, Ordering::Relaxed);
                }
            }
            self.apply(acts);
        }
        if !drained {
            self.xpub_more = true;
            self.more = true;
        }
        if changed {
            *self.shared.peer_subs.lock() = self.seen.iter().cloned().collect();
        }
        self.frames = frames;
    }

    fn read_pull(&mut self) {
        let Some(pull) = self.pull.as_ref() else {
            return;
        };
        let mut frames = std::mem::take(&mut self.frames);
        let mut drained = false;
        for _ in 0..1000 {
            let Some(n) = recv_multipart(pull, &mut frames) else {
                drained = true;
                break;
            };
            if n != 4 {
                self.stats.msg_errors.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            self.stats.logs_received.fetch_add(1, Ordering::Relaxed);
            let mut sink = self.logs.sink.lock();
            match sink.as_mut() {
                Some(f) => f(&frames[1], &frames[2], &frames[3]),
                None => {
                    self.stats.logs_unhandled.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
        self.frames = frames;
        if !drained {
            self.pull_more = true;
            self.more = true;
        }
    }

    fn read_monitor(&mut self, i: usize) {
        let mut frames = std::mem::take(&mut self.frames);
        while let Some(n) = recv_multipart(&self.monitors[i].1, &mut frames) {
            if n != 2 || frames[0].len() < 6 {
                continue;
            }
            let ev = u16::from_ne_bytes([frames[0][0], frames[0][1]]);
            let value =
                u32::from_ne_bytes([frames[0][2], frames[0][3], frames[0][4], frames[0][5]]);
            if matches!(
                ev,
                MON_HANDSHAKE_FAILED_NO_DETAIL
                    | MON_HANDSHAKE_FAILED_PROTOCOL
                    | MON_HANDSHAKE_FAILED_AUTH
            ) {
                self.stats
                    .handshake_failures
                    .fetch_add(1, Ordering::Relaxed);
                let addr = String::from_utf8_lossy(&frames[1]).into_owned();
                let what = self.monitors[i].0.clone();
                let mut m = Message::status(
                    MessageKind::PeerRejected,
                    PeerInfo {
                        id: None,
                        address: addr.clone(),
                        port: 0,
                    },
                    format!(
                        "ZeroMQ: Handshake for socket {what} ({addr}) failed: event=0x{ev:x} value={value}"
                    ),
                );
                m.node = None;
                self.deliveries.push(m);
            }
        }
        self.frames = frames;
    }

    fn apply(&mut self, mut acts: Vec<Action>) {
        for a in acts.drain(..) {
            match a {
                Action::Publish { topic, payload } => {
                    let topic: Arc<str> = Arc::from(topic.as_str());
                    if self.out.is_empty() && self.ready {
                        match self.send_event(&topic, frames::BROKER_BIN_V1, &payload) {
                            Sent::Yes => continue,
                            Sent::Full => {}
                        }
                    }
                    self.hold(Out {
                        topic,
                        format: frames::BROKER_BIN_V1,
                        payload,
                        counted: false,
                        offer: None,
                    });
                }
                Action::Up(id) => {
                    let info = PeerInfo {
                        id: Some(endpoint_id_of(&id)),
                        address: id.clone(),
                        port: 0,
                    };
                    self.peers.insert(id.clone(), info.clone());
                    *self.shared.peers.lock() = self.peers.values().cloned().collect();
                    self.deliveries.push(Message::status(
                        MessageKind::PeerAdded,
                        info,
                        format!("ZeroMQ hello from {id}"),
                    ));
                }
                Action::Down(id) => {
                    let info = self.peers.remove(&id).unwrap_or(PeerInfo {
                        id: Some(endpoint_id_of(&id)),
                        address: id.clone(),
                        port: 0,
                    });
                    *self.shared.peers.lock() = self.peers.values().cloned().collect();
                    self.deliveries.push(Message::status(
                        MessageKind::PeerLost,
                        info,
                        format!("lost remote node {id} (its nodeid subscription went away)"),
                    ));
                }
                Action::Warn(_) => {
                    self.stats.warnings.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
        self.actions = acts;
    }

    fn run_hook(&mut self) {
        let Some(hook) = self.hook.as_mut() else {
            return;
        };
        let mut ctx = HookCtx::new(self.my_eid);
        for m in self.deliveries.take_messages() {
            hook.on_message(m, &mut ctx);
        }
        hook.on_tick(Instant::now(), &mut ctx);
        for m in ctx.deliver {
            self.deliveries.push(m);
        }
        if !ctx.commands.is_empty() {
            let mut done = 0;
            for c in ctx.commands {
                done += self.command(c, &[], 0);
            }
            self.done(done);
            self.more = true;
        }
    }
}

enum Sent {
    Yes,
    Full,
}
