//! Zeek's ZeroMQ cluster backend (Zeek 7.1+, ZeekControl's default since 8.1), behind the
//! same cluster API as Broker (reference zeek8.md section 3).
//!
//! Topology: one central XPUB/XSUB proxy (`Proxy`; the manager runs it unless
//! `Cluster::Backend::ZeroMQ::run_proxy_thread` says otherwise, and it can run alone).
//! Every node connects its XSUB to the proxy's XPUB (`connect_xsub_endpoint`) and its XPUB
//! to the proxy's XSUB (`connect_xpub_endpoint`). Events are 4-frame messages (topic,
//! sender node id, `broker-bin-v1`, Broker's binary encoding of the event); subscriptions
//! are `\x01prefix` / `\x00prefix` frames written to XSUB, and every node sees every
//! node's subscriptions on its XPUB. Membership is the two-stage hello (`membership`).
//! Loggers bind a PULL socket on their layout port; the other nodes PUSH log batches.
//!
//! Threading: `node` runs the node's sockets on their own thread, behind the same
//! `Endpoint` host side as Broker's (command queue with publish backpressure, inbox, fd,
//! next, callbacks, the cluster hook), through `Endpoint::with_io`. That thread waits in
//! one `epoll_wait` on the endpoint's mio `Poll`, where every socket's `ZMQ_FD` sits
//! beside the waker (`zmq_poll` cost two `poll`s plus a `ZMQ_EVENTS` query, itself a
//! `poll`, per socket on every turn). `ZMQ_FD` is edge-triggered: each socket is read
//! until EAGAIN, or marked to be read on the next turn. A host publish goes straight into
//! the XPUB socket on the host's thread (`node::Xpub`, `endpoint::DirectPublish`) while
//! nothing is queued before it: no hand-off to the node's thread and no wake-up, which
//! took a quarter of the round trip. The socket is shared under a lock (libzmq sockets
//! are not thread-safe; the lock is the barrier libzmq asks for), and no thread waits
//! inside libzmq on it. Once a publish meets a full queue (or comes before the
//! ready-to-publish probe), publishes go through the command queue again and the node's
//! thread holds them, so order per publisher, backpressure and the drop policy stay as
//! they were. Since libzmq processes a socket's pending commands inside `send`, taking the
//! signal off its `ZMQ_FD`, the publishing host asks XPUB for waiting subscriptions
//! after each send and wakes the node's thread when there are some. Receipt works the
//! same way round (leader/follower, `node::Lead`, `endpoint::LeadReceive`): a host thread
//! waiting in `next` (or `next_batch`, `poll`) with an empty inbox takes XSUB's
//! descriptor out of the node's epoll set, waits on it in an epoll set of its own, and
//! reads XSUB, runs the cluster hook and fills the inbox itself, under the node's lock;
//! it gives the descriptor back before it returns, and the node's thread reads XSUB
//! whenever no host waits (a host that polls the inbox's descriptor, or does not read at
//! all, changes nothing). Raw libzmq's receiver reads its socket on its own thread; so
//! now does ours, without one more sleeping thread to wake per event. The manager's node
//! creates its sockets in the context of the proxy it runs (one libzmq context per
//! process, as libzmq recommends, so its connections to its own proxy are served by the
//! same I/O threads), unless both need a ZAP handler (one per context).
//!
//! Where zcluster differs from Zeek on purpose:
//! - Backpressure instead of loss: a publish that meets a full XPUB queue (libzmq's
//!   EAGAIN with `XPUB_NODROP`) waits and is sent when there is room; host publishers wait
//!   (`publish_queue`, then `WouldBlock`). Zeek drops and counts it; set
//!   `Cluster::Backend::ZeroMQ::zc_overflow_policy = drop` for that (counted in
//!   `xpub_drops`). Incoming events are not dropped at `onloop_queue_hwm` either: when the
//!   host's inbox is full we stop reading XSUB, libzmq's queues fill, and the proxy (XPUB
//!   no-drop) holds the publishers back.
//! - Publishes made before the ready-to-publish probe completed are held, then sent
//!   (Zeek's are filtered away by libzmq, which has not seen the subscriptions yet).
//! - Bad input is counted (`ZmqStats`) and never fatal; a CURVE handshake failure that
//!   Zeek treats as fatal is reported as a `PeerRejected` status.
//! - Taps work as on Broker (`endpoint::tap`): the WebSocket server's clients on a ZeroMQ
//!   node get the cluster's events their subscriptions match (the node subscribes XSUB to
//!   the union of the host's subscriptions and the clients'), the node's own publishes
//!   (local delivery), and each other's; a client's event reaches the node's host only
//!   on the host's own subscriptions. While taps are set, host publishes go through the
//!   node's thread (which offers them) instead of straight into XPUB.
//! - Data stores work on this backend (Zeek has none on ZeroMQ): their commands travel as
//!   `zcluster-store-v1` messages over the same sockets (`frames::ZC_STORE_V1`).
//! - Each node's endpoint id (for stores and statuses) is derived from its ZeroMQ node id
//!   (`endpoint_id_of`); the id Zeek sees is the node id itself.

pub mod frames;
pub(crate) mod logs;
pub mod membership;
mod node;
mod proxy;

pub(crate) use node::LogShared;
pub use node::{LogSink, ZmqStats};
pub use proxy::{Proxy, ProxyConfig};

use crate::cluster::Options;
use crate::error::{Error, ErrorKind, Result};
use crate::wire::EndpointId;
use std::io::Read;
use std::sync::Arc;
use std::time::Duration;

pub(crate) use node::spawn_node;

/// A libzmq context with a chosen number of I/O threads, for programs that make their own
/// sockets beside zcluster's: the raw libzmq side of `examples/bench_zeromq.rs` runs its
/// proxy in one, with the I/O threads zcluster's proxy has (Zeek's `proxy_io_threads`),
/// so that both sides of the comparison run the same libzmq settings. Close every socket
/// made in it before dropping it (libzmq's `zmq_ctx_term` waits for them).
pub struct Context(crate::ffi::zmq_opts::RawContext);

impl Context {
    /// A new context with `io_threads` I/O threads.
    pub fn new(io_threads: i32) -> Result<Context> {
        Ok(Context(crate::ffi::zmq_opts::RawContext::new(io_threads)?))
    }

    /// A new socket of type `kind`.
    pub fn socket(&self, kind: zmq::SocketType) -> Result<zmq::Socket> {
        self.0.socket(kind as i32)
    }

    /// Its I/O threads, as libzmq reports them.
    pub fn io_threads(&self) -> i32 {
        self.0.io_threads()
    }
}

/// The environment variables Zeek reads CURVE keys from (`ZeroMQ.cc` `load_curve_config`).
pub const CURVE_ENV_PREFIX: &str = "ZEEK_CLUSTER_BACKEND_ZEROMQ_CURVE_";

/// `fmt("zeromq_%s_%s_%s_%s", Cluster::node, gethostname(), getpid(), unique_id("N"))`.
pub fn node_id(node: &str) -> Result<String> {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".to_string());
    let mut b = [0u8; 12];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut b))
        .map_err(|e| Error::new(ErrorKind::Io, format!("reading /dev/urandom: {e}")))?;
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let unique: String = b
        .iter()
        .map(|x| ALPHABET[*x as usize % ALPHABET.len()] as char)
        .collect();
    Ok(format!(
        "zeromq_{node}_{host}_{}_N{unique}",
        std::process::id()
    ))
}

/// The endpoint id zcluster uses inside for a ZeroMQ node id (FNV-1a, 128 bits), so
/// every node derives the same id for a sender from its sender frame.
pub fn endpoint_id_of(node_id: impl AsRef<[u8]>) -> EndpointId {
    let mut h: u128 = 0x6c62272e07bb014262b821756295c58d;
    for b in node_id.as_ref() {
        h ^= u128::from(*b);
        h = h.wrapping_mul(0x0000000001000000000000000000013B);
    }
    let mut id = h.to_be_bytes();
    if id == [0; 16] {
        id[15] = 1;
    }
    EndpointId(id)
}

/// CURVE keys (Z85 text, 40 characters each).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Curve {
    pub server_publickey: String,
    pub server_secretkey: String,
    pub client_publickey: String,
    pub client_secretkey: String,
}

impl std::fmt::Debug for Curve {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Curve")
            .field("client_enabled", &self.client_enabled())
            .field("server_enabled", &self.server_enabled())
            .finish()
    }
}

impl Curve {
    /// Clients (every node's XPUB, XSUB, PUSH) need the server's public key and a client
    /// key pair (`IsClientEnabled`).
    pub fn client_enabled(&self) -> bool {
        !self.server_publickey.is_empty()
            && !self.client_publickey.is_empty()
            && !self.client_secretkey.is_empty()
    }

    /// Servers (the proxy's sockets, loggers' PULL) need the server's secret key.
    pub fn server_enabled(&self) -> bool {
        !self.server_secretkey.is_empty()
    }

    fn any(&self) -> bool {
        !(self.server_publickey.is_empty()
            && self.server_secretkey.is_empty()
            && self.client_publickey.is_empty()
            && self.client_secretkey.is_empty())
    }

    /// Zeek's `load_curve_config`: the script options, or the environment variables
    /// (`env` gives their values by suffix, e.g. `CLIENT_PUBLICKEY`); both at once is an
    /// error (Zeek: fatal).
    pub fn load(opts: &Options, env: impl Fn(&str) -> Option<String>) -> Result<Curve> {
        let script = Curve {
            server_publickey: opts.zeromq_str("curve_server_publickey").to_string(),
            server_secretkey: opts.zeromq_str("curve_server_secretkey").to_string(),
            client_publickey: opts.zeromq_str("curve_client_publickey").to_string(),
            client_secretkey: opts.zeromq_str("curve_client_secretkey").to_string(),
        };
        let get = |k: &str| env(k).filter(|v| !v.is_empty()).unwrap_or_default();
        let from_env = Curve {
            server_publickey: get("SERVER_PUBLICKEY"),
            server_secretkey: get("SERVER_SECRETKEY"),
            client_publickey: get("CLIENT_PUBLICKEY"),
            client_secretkey: get("CLIENT_SECRETKEY"),
        };
        if script.any() && from_env.any() {
            return Err(Error::invalid(
                "ZeroMQ CURVE configured via script variable redefinitions and environment variables at the same time.",
            ));
        }
        let c = if from_env.client_enabled() || from_env.server_enabled() {
            from_env
        } else {
            script
        };
        for (what, k) in [
            ("server_publickey", &c.server_publickey),
            ("server_secretkey", &c.server_secretkey),
            ("client_publickey", &c.client_publickey),
            ("client_secretkey", &c.client_secretkey),
        ] {
            if !k.is_empty() && key_bytes(k).is_none() {
                return Err(Error::invalid(format!(
                    "ZeroMQ CURVE key curve_{what}: expected 40 characters of Z85, found {} characters",
                    k.len()
                )));
            }
        }
        Ok(c)
    }

    /// From the process environment.
    pub fn load_env(opts: &Options) -> Result<Curve> {
        Curve::load(opts, |k| {
            std::env::var(format!("{CURVE_ENV_PREFIX}{k}")).ok()
        })
    }
}

/// A Z85 key's 32 bytes.
pub(crate) fn key_bytes(z85: &str) -> Option<Vec<u8>> {
    if z85.len() != 40 {
        return None;
    }
    zmq::z85_decode(z85).ok().filter(|k| k.len() == 32)
}

/// `Cluster::Backend::ZeroMQ::generate_keypair()`: (public, secret) as Z85.
pub fn generate_keypair() -> Result<(String, String)> {
    let kp = zmq::CurveKeyPair::new()
        .map_err(|e| Error::new(ErrorKind::Io, format!("zmq_curve_keypair: {e}")))?;
    let enc =
        |k: &[u8]| zmq::z85_encode(k).map_err(|e| Error::new(ErrorKind::Io, format!("z85: {e:?}")));
    Ok((enc(&kp.public_key)?, enc(&kp.secret_key)?))
}

/// What a node's sockets need (from the options and the layout).
#[derive(Debug, Clone)]
pub struct NodeConfig {
    pub node_name: String,
    pub node_id: String,
    pub connect_xpub_endpoint: String,
    pub connect_xsub_endpoint: String,
    pub linger_ms: i32,
    pub xpub_sndhwm: i32,
    pub xpub_sndbuf: i32,
    pub xsub_rcvhwm: i32,
    pub xsub_rcvbuf: i32,
    pub xpub_nodrop: bool,
    pub ipv6: bool,
    pub poll_max_messages: usize,
    /// `nodeid_topic_prefix + "."`.
    pub nodeid_prefix: String,
    pub internal_topic_prefix: String,
    pub hello_expiration: Duration,
    /// `zc_overflow_policy = drop`: drop (and count) at the XPUB high-water mark.
    pub drop_at_hwm: bool,
    /// Bind a PULL for log batches here ("" = none).
    pub listen_log_endpoint: String,
    /// PUSH log batches to these.
    pub connect_log_endpoints: Vec<String>,
    pub log_immediate: bool,
    pub log_sndhwm: i32,
    pub log_rcvhwm: i32,
    pub log_sndbuf: i32,
    pub log_rcvbuf: i32,
    pub curve: Curve,
}

fn int(opts: &Options, short: &str) -> i32 {
    opts.zeromq_int(short)
        .clamp(i32::MIN as i64, i32::MAX as i64) as i32
}

/// `addr_to_uri`: IPv6 addresses in brackets.
pub fn tcp_endpoint(ip: &std::net::IpAddr, port: u16) -> String {
    match ip {
        std::net::IpAddr::V4(a) => format!("tcp://{a}:{port}"),
        std::net::IpAddr::V6(a) => format!("tcp://[{a}]:{port}"),
    }
}

impl NodeConfig {
    /// The configuration of `cl`'s node, as `options.zeek` and `main.zeek` derive it:
    /// loggers (and the manager when `manager_is_logger`) listen for logs on their layout
    /// port unless `listen_log_endpoint` is set; the others push to every logger (or
    /// the logging manager) unless `connect_log_endpoints` is set.
    pub fn from_cluster(cl: &crate::cluster::Cluster) -> Result<NodeConfig> {
        use crate::layout::NodeType;
        let o = cl.options();
        let layout = cl.layout();
        let writes_logs = crate::cluster::runtime::writes_logs(cl);
        let mut listen_log = o.zeromq_str("listen_log_endpoint").to_string();
        if listen_log.is_empty() && writes_logs {
            if let Some(n) = layout.nodes.get(cl.node_name()) {
                if n.p.number != 0 {
                    listen_log = tcp_endpoint(&n.ip, n.p.number);
                }
            }
        }
        let mut connect_logs: Vec<String> = o
            .zeromq_str("connect_log_endpoints")
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect();
        if connect_logs.is_empty() && !writes_logs {
            for n in layout.nodes.values() {
                let logs = n.node_type == NodeType::Logger
                    || (o.manager_is_logger() && n.node_type == NodeType::Manager);
                if logs && n.p.number != 0 {
                    connect_logs.push(tcp_endpoint(&n.ip, n.p.number));
                }
            }
        }
        let exp = match o.get("Cluster::Backend::ZeroMQ::hello_expiration") {
            Ok(crate::layout::OptionValue::Interval(s)) if s.is_finite() && *s > 0.0 => {
                Duration::from_secs_f64(*s)
            }
            _ => Duration::from_secs(10),
        };
        Ok(NodeConfig {
            node_name: cl.node_name().to_string(),
            node_id: cl.node_id().to_string(),
            connect_xpub_endpoint: o.zeromq_str("connect_xpub_endpoint").to_string(),
            connect_xsub_endpoint: o.zeromq_str("connect_xsub_endpoint").to_string(),
            linger_ms: int(o, "linger_ms"),
            xpub_sndhwm: int(o, "xpub_sndhwm"),
            xpub_sndbuf: int(o, "xpub_sndbuf"),
            xsub_rcvhwm: int(o, "xsub_rcvhwm"),
            xsub_rcvbuf: int(o, "xsub_rcvbuf"),
            xpub_nodrop: o.zeromq_bool("connect_xpub_nodrop"),
            ipv6: o.zeromq_bool("ipv6"),
            poll_max_messages: o.zeromq_int("poll_max_messages").max(0) as usize,
            nodeid_prefix: o.nodeid_topic_prefix().to_string(),
            internal_topic_prefix: o.zeromq_str("internal_topic_prefix").to_string(),
            hello_expiration: exp,
            drop_at_hwm: o.zeromq_str("zc_overflow_policy") == "drop",
            listen_log_endpoint: listen_log,
            connect_log_endpoints: connect_logs,
            log_immediate: o.zeromq_bool("log_immediate"),
            log_sndhwm: int(o, "log_sndhwm"),
            log_rcvhwm: int(o, "log_rcvhwm"),
            log_sndbuf: int(o, "log_sndbuf"),
            log_rcvbuf: int(o, "log_rcvbuf"),
            curve: Curve::load_env(o)?,
        })
    }
}

/// Whether this node runs the proxy: `run_proxy_thread` when set, else the manager
/// (`redef run_proxy_thread = Cluster::local_node_type() == Cluster::MANAGER`).
pub fn runs_proxy(cl: &crate::cluster::Cluster) -> bool {
    if cl.options().zeromq_is_set("run_proxy_thread") {
        cl.options().zeromq_bool("run_proxy_thread")
    } else {
        cl.local_node_type() == crate::layout::NodeType::Manager
    }
}

pub(crate) fn zmq_err(what: &str, e: zmq::Error) -> Error {
    Error::new(ErrorKind::Io, format!("ZeroMQ: {what}: {e}"))
}

/// The three built-in pools with ZeroMQ's dotted topics (`options.zeek`).
pub fn default_pools() -> crate::cluster::pools::Pools {
    use crate::cluster::pools::{PoolNodeType, PoolSpec, Pools};
    Pools::with_specs(
        PoolSpec::new("zeek.cluster.pool.worker", PoolNodeType::Worker),
        PoolSpec::new("zeek.cluster.pool.proxy", PoolNodeType::Proxy),
        PoolSpec::new("zeek.cluster.pool.logger", PoolNodeType::Logger),
    )
}

/// A started ZeroMQ node's parts beside its endpoint.
pub struct ZmqRuntime {
    pub(crate) stats: Arc<ZmqStats>,
    pub(crate) logs: Arc<LogShared>,
    pub(crate) waker: crate::endpoint::HookWaker,
    /// The proxy, when this node runs it (dropped after the node's sockets).
    pub(crate) proxy: Option<Proxy>,
}

impl std::fmt::Debug for ZmqRuntime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ZmqRuntime")
            .field("proxy", &self.proxy)
            .finish()
    }
}

/// Starts the proxy when this node runs it, then the node's sockets behind an endpoint
/// running `hook`.
pub(crate) fn start_endpoint(
    cl: &crate::cluster::Cluster,
    opts: crate::endpoint::EndpointOptions,
    hook: Box<dyn crate::endpoint::Hook>,
) -> Result<(crate::endpoint::Endpoint, ZmqRuntime)> {
    match cl.options().get("Cluster::event_serializer") {
        Ok(crate::layout::OptionValue::Enum(e))
            if e != "Cluster::EVENT_SERIALIZER_BROKER_BIN_V1" =>
        {
            return Err(Error::invalid(format!(
                "Cluster::event_serializer = {e}: zcluster speaks broker-bin-v1 only"
            )))
        }
        _ => {}
    }
    let cfg = NodeConfig::from_cluster(cl)?;
    let proxy =
        if runs_proxy(cl) {
            Some(Proxy::from_options(cl.options()).map_err(|e| {
                Error::new(e.kind, format!("node {}: {}", cl.node_name(), e.message))
            })?)
        } else {
            None
        };
    let stats = Arc::new(ZmqStats::default());
    let logs = Arc::new(LogShared::default());
    let needs_zap = !cfg.listen_log_endpoint.is_empty() && cfg.curve.server_enabled();
    let ctx = proxy.as_ref().and_then(|p| p.context_for_node(needs_zap));
    let spawn = spawn_node(cfg, stats.clone(), logs.clone(), ctx)?;
    let ep = crate::endpoint::Endpoint::with_io(opts, Some(hook), spawn)?;
    let waker = ep.hook_waker();
    Ok((
        ep,
        ZmqRuntime {
            stats,
            logs,
            waker,
            proxy,
        },
    ))
}

impl crate::cluster::runtime::Runtime {
    fn zmq(&self) -> Result<&ZmqRuntime> {
        self.zeromq
            .as_ref()
            .ok_or_else(|| Error::state("this node runs the Broker backend, not ZeroMQ"))
    }

    /// The ZeroMQ backend's counters (`State` error on Broker).
    pub fn zeromq_stats(&self) -> Result<&ZmqStats> {
        Ok(&self.zmq()?.stats)
    }

    /// The proxy this node runs, if it runs one.
    pub fn zeromq_proxy(&self) -> Option<&Proxy> {
        self.zeromq.as_ref().and_then(|z| z.proxy.as_ref())
    }

    /// Sends one log batch to a logger (PUSH, ZeroMQ round-robins between the loggers):
    /// frames `log-write`, our node id, `format`, `payload`. Batches wait while the PUSH
    /// queue is full (no loss); `WouldBlock` once `LOG_QUEUE_LIMIT` wait. The seam for
    /// the log framework's `zeek-bin-serializer` batches.
    pub fn publish_log_write(&self, format: &[u8], payload: Vec<u8>) -> Result<()> {
        let z = self.zmq()?;
        {
            let mut q = z.logs.out.lock();
            if q.len() >= node::LOG_QUEUE_LIMIT {
                return Err(Error::new(
                    ErrorKind::WouldBlock,
                    format!(
                        "{} log batches wait for a logger (HWM reached?)",
                        node::LOG_QUEUE_LIMIT
                    ),
                ));
            }
            q.push_back((format.to_vec(), payload));
        }
        z.waker.wake();
        Ok(())
    }

    /// Where log batches received on this node's PULL go (loggers), as `(sender node id,
    /// format, payload)`; without a sink they are counted (`logs_unhandled`) and dropped.
    pub fn set_log_sink(&self, sink: Option<LogSink>) -> Result<()> {
        *self.zmq()?.logs.sink.lock() = sink;
        Ok(())
    }
}

/// Sets `ZMQ_XPUB_NODROP` on a libzmq socket (the `zmq` crate has no setter), for hosts and
/// benchmarks that build their own XPUB sockets beside zcluster's.
pub fn set_xpub_nodrop(sock: &mut zmq::Socket, on: bool) -> Result<()> {
    crate::ffi::zmq_opts::set_int_option(sock, crate::ffi::zmq_opts::ZMQ_XPUB_NODROP, i32::from(on))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_ids_are_zeeks_form_and_endpoint_ids_are_stable() {
        let id = node_id("worker-1").unwrap();
        let parts: Vec<&str> = id.splitn(3, '_').collect();
        assert_eq!(parts[0], "zeromq");
        assert!(id.starts_with("zeromq_worker-1_"), "{id}");
        assert!(id.contains(&format!("_{}_N", std::process::id())), "{id}");
        assert_ne!(node_id("worker-1").unwrap(), id);
        assert_eq!(endpoint_id_of(&id), endpoint_id_of(&id));
        assert_ne!(endpoint_id_of("a"), endpoint_id_of("b"));
        assert!(!endpoint_id_of("").is_nil());
    }

    #[test]
    fn the_proxy_context_has_proxy_io_threads() {
        let mut o = Options::new();
        for (k, v) in [
            ("listen_xpub_endpoint", "tcp://127.0.0.1:*"),
            ("listen_xsub_endpoint", "tcp://127.0.0.1:*"),
        ] {
            o.set(&format!("Cluster::Backend::ZeroMQ::{k}"), v).unwrap();
        }
        let p = Proxy::from_options(&o).unwrap();
        assert_eq!(p.io_threads(), 2, "Zeek's default");
        p.shutdown();
        o.set("Cluster::Backend::ZeroMQ::proxy_io_threads", "3")
            .unwrap();
        let p = Proxy::from_options(&o).unwrap();
        assert_eq!(p.io_threads(), 3);
        // It still forwards: a subscription through it comes back on a node-side XPUB.
        let ctx = zmq::Context::new();
        let xsub = ctx.socket(zmq::XSUB).unwrap();
        let xpub = ctx.socket(zmq::XPUB).unwrap();
        xsub.connect(p.xpub_endpoint()).unwrap();
        xpub.connect(p.xsub_endpoint()).unwrap();
        xsub.send(&b"\x01zeek.test"[..], 0).unwrap();
        assert!(xpub.poll(zmq::POLLIN, 5000).unwrap() > 0);
        assert_eq!(xpub.recv_bytes(0).unwrap(), b"\x01zeek.test");
        drop(p);
    }

    #[test]
    fn curve_keys_from_options_or_environment_never_both() {
        let (pk, sk) = generate_keypair().unwrap();
        assert_eq!(pk.len(), 40);
        let mut o = Options::new();
        assert!(!Curve::load(&o, |_| None).unwrap().client_enabled());
        let env = |k: &str| match k {
            "SERVER_PUBLICKEY" | "CLIENT_PUBLICKEY" => Some(pk.clone()),
            "SERVER_SECRETKEY" | "CLIENT_SECRETKEY" => Some(sk.clone()),
            _ => None,
        };
        let c = Curve::load(&o, env).unwrap();
        assert!(c.client_enabled() && c.server_enabled());
        o.set("Cluster::Backend::ZeroMQ::curve_server_secretkey", &sk)
            .unwrap();
        let e = Curve::load(&o, env).unwrap_err();
        assert!(e.message.contains("at the same time"), "{}", e.message);
        let c = Curve::load(&o, |_| None).unwrap();
        assert!(c.server_enabled() && !c.client_enabled());
        o.set("Cluster::Backend::ZeroMQ::curve_client_publickey", "short")
            .unwrap();
        assert!(Curve::load(&o, |_| None)
            .unwrap_err()
            .message
            .contains("40 characters"));
    }
}
