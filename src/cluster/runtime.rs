//! A started cluster node: its endpoint, who it peers with, what it subscribes, and the
//! hello / node_up / node_down exchange, as Zeek's cluster framework does it with the
//! Broker backend (`setup-connections`, `setup-subscriptions`, `main.zeek`).
//!
//! The exchange runs on the endpoint's I/O thread (`ClusterHook`), so a node answers
//! peerings with its hello and keeps `worker_count` true whether or not its host polls.
//! The host sees the results as messages: `Hello`, `NodeUp`, `NodeDown`, in order with
//! the peer statuses and events around them.

use super::pools::{AssignOptions, PoolId, PoolNodeType, Pools};
use super::Cluster;
use crate::data::{Event, Value};
use crate::endpoint::{Endpoint, EndpointOptions, Hook, HookCtx, Message, MessageKind, PeerInfo};
use crate::error::{Error, Result};
use crate::layout::{Node, NodeType};
use crate::log::manager::{LogConfig, LogManager, LogStats};
use crate::log::{cluster_log_record, cluster_log_stream, LogFormat, LogStream, CLUSTER_LOG_ID};
use crate::wire::EndpointId;
use parking_lot::{Condvar, Mutex};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

/// The event every node publishes to a new peer's nodeid topic (`Cluster::hello`).
pub const HELLO_EVENT: &str = "Cluster::hello";
/// The event `relay_rr` sends to a pool member: `Cluster::zc_relay(targets: vector of
/// string, ev: the event as Broker's event value)`. A zcluster node that receives it
/// publishes the inner event on every target topic (and does not raise it itself), which
/// is how worker-to-worker traffic passes through a proxy. Zeek removed `Cluster::relay_rr`
/// and `Broker::relay` before 2.6 was released (scripts re-publish by hand), so a Zeek
/// node would need a handler for this event to relay.
pub const RELAY_EVENT: &str = "Cluster::zc_relay";
pub use super::logging::{LogSendStats, LOG_BUFFER_LIMIT};

/// A Zeek manager's announcement of its Broker-backed tables' master stores
/// (broker-stores.zeek), sent to each new peer's nodeid topic.
pub const ANNOUNCE_MASTERS_EVENT: &str = "Broker::announce_masters";

/// Who `node` initiates peerings with: the Broker backend's matrix
/// (reference/cluster.md 2.1). Loggers first (sorted by name), then for workers every
/// proxy, then the node's manager. Loggers initiate nothing.
pub fn peers_of<'a>(cl: &'a Cluster, name: &str) -> Vec<(&'a str, &'a Node)> {
    let layout = cl.layout();
    let Some(me) = layout.nodes.get(name) else {
        return Vec::new();
    };
    if super::legacy::is_legacy(cl) {
        return super::legacy::peers_of(cl, me);
    }
    let sorted = |t: NodeType| -> Vec<(&'a str, &'a Node)> {
        layout
            .nodes
            .iter()
            .filter(|(_, n)| n.node_type == t)
            .map(|(k, n)| (k.as_str(), n))
            .collect()
    };
    let manager = || -> Vec<(&'a str, &'a Node)> {
        me.manager
            .as_deref()
            .and_then(|m| layout.nodes.get_key_value(m))
            .map(|(k, n)| vec![(k.as_str(), n)])
            .unwrap_or_default()
    };
    let mut out = Vec::new();
    match me.node_type {
        NodeType::Manager => out.extend(sorted(NodeType::Logger)),
        NodeType::Proxy => {
            out.extend(sorted(NodeType::Logger));
            out.extend(manager());
        }
        NodeType::Worker => {
            out.extend(sorted(NodeType::Logger));
            out.extend(sorted(NodeType::Proxy));
            out.extend(manager());
        }
        _ => {}
    }
    // A node that does not listen (p = 0) cannot be peered with.
    out.retain(|(_, n)| n.p.number != 0);
    out
}

/// The topics `node` subscribes (reference/cluster.md 2.3), without the pool topics.
pub fn subscriptions_of(cl: &Cluster, node_id: &str) -> Vec<String> {
    let mut out = Vec::new();
    let t = cl.local_node_type();
    if let Some(topic) = cl.options().type_topic(t) {
        out.push(topic.to_string());
    }
    out.push(cl.node_topic(cl.node_name()));
    out.push(cl.nodeid_topic(node_id));
    // On ZeroMQ the controllee subscribes nothing extra (requests come on the node
    // topic) and logs travel over PUSH/PULL.
    if cl.backend() == super::ClusterBackend::Broker {
        // The controllee's request topic (`Control::topic_prefix + "/" + node id`).
        out.push(format!("zeek/control/{node_id}"));
        if writes_logs(cl) {
            out.push("zeek/logs/".to_string());
        }
    }
    out
}

/// Whether this node writes the cluster's logs: a logger, or the manager when
/// `Cluster::manager_is_logger` is set.
pub fn writes_logs(cl: &Cluster) -> bool {
    match cl.local_node_type() {
        NodeType::Logger => true,
        NodeType::Manager => cl.options().manager_is_logger(),
        _ => false,
    }
}

/// State shared by the host side and the I/O-thread hook.
pub(crate) struct State {
    me: String,
    /// `Cluster::nodes[name]$id`: set by a hello, cleared by node_down.
    ids: HashMap<String, String>,
    types: HashMap<String, NodeType>,
    pub(crate) pools: Pools,
    /// Log streams and what waits to be sent (see `super::logging`).
    logs: super::logging::Sender,
    /// On a node that writes logs: the log worker.
    log_mgr: Option<Arc<LogManager>>,
    /// On ZeroMQ, a node that does not write logs: its write buffers (`zeromq::logs`).
    zlogs: Option<crate::zeromq::logs::LogBatcher>,
    /// Wakes the log publishing thread (and hosts waiting for room).
    log_cv: Arc<Condvar>,
    round_robin_logging: bool,
    /// What `Control::net_stats_request` reports: packets received, dropped, seen on the
    /// link (the host sets them; zcluster captures no packets itself).
    net_stats: (u64, u64, u64),
    /// Counters behind Zeek's metrics that only the cluster layer sees (`metrics`).
    pub(crate) telemetry: Telemetry,
}

/// `zeek_log_stream_writes_total` / `zeek_log_writer_writes_total` per stream id (with
/// its path), and `zeek_broker_backpressure_disconnects_total` per peer name.
#[derive(Default)]
pub(crate) struct Telemetry {
    pub(crate) log_writes: std::collections::BTreeMap<String, (String, u64)>,
    pub(crate) backpressure_disconnects: std::collections::BTreeMap<String, u64>,
}

fn now_ns() -> i64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_nanos() as i64)
        .unwrap_or(0)
}

impl State {
    /// Log records dropped because no logger came up in time (metrics).
    pub(crate) fn log_dropped(&self) -> u64 {
        self.logs.stats().dropped
    }

    /// Node name -> node id of every node that said hello (metrics name peers by it).
    pub(crate) fn node_ids(&self) -> Vec<(String, String)> {
        self.ids
            .iter()
            .map(|(n, i)| (n.clone(), i.clone()))
            .collect()
    }

    /// The node topic of the logger a record goes to now: the next live one in round
    /// robin (`Cluster::rr_log_topic`), or the first live one without round robin.
    fn log_target(pools: &mut Pools, round_robin: bool) -> Option<&str> {
        if round_robin {
            pools
                .pool_mut(PoolId::logger())
                .and_then(|p| p.rr_pick("Cluster::rr_log_topic"))
                .map(|n| n.topic.as_str())
        } else {
            pools
                .pool(PoolId::logger())
                .and_then(|p| p.nodes().iter().find(|n| n.alive))
                .map(|n| n.topic.as_str())
        }
    }

    /// Writes (on a node that writes logs) or queues one record of stream `id`; returns
    /// whether the publishing thread should be woken.
    fn log_record(&mut self, id: &str, record: Vec<Value>) -> Result<bool> {
        if let Some(m) = self.log_mgr.clone() {
            let stream = self.logs.stream(id)?;
            stream.check(&record)?;
            self.count_log_write(id, &stream.path);
            m.write_local(stream, record)?;
            return Ok(false);
        }
        if self.zlogs.is_some() {
            let stream = self.logs.stream(id)?;
            stream.check(&record)?;
            self.count_log_write(id, &stream.path);
            return match self.zlogs.as_mut() {
                Some(z) => z.add(&stream, &record),
                None => Ok(false),
            };
        }
        let topic = Self::log_target(&mut self.pools, self.round_robin_logging);
        let queued = self.logs.write(id, &record, topic)?;
        if let Ok(stream) = self.logs.stream(id) {
            self.count_log_write(id, &stream.path);
        }
        Ok(queued)
    }

    /// A record accepted by `Log::write` (Zeek counts it per stream and per writer).
    fn count_log_write(&mut self, id: &str, path: &str) {
        match self.telemetry.log_writes.get_mut(id) {
            Some(e) => e.1 += 1,
            None => {
                self.telemetry
                    .log_writes
                    .insert(id.to_string(), (path.to_string(), 1));
            }
        }
    }

    /// Routes already encoded LogWrites again (a logger came up or went down).
    fn reroute(&mut self, recs: Vec<(String, Vec<u8>)>) {
        for (id, bytes) in recs {
            let topic = Self::log_target(&mut self.pools, self.round_robin_logging);
            self.logs.enqueue(&id, bytes, topic);
        }
    }

    /// `Cluster::log` from the I/O thread (hello, node down): never waits for room.
    fn log_from_hook(&mut self, message: &str, _ctx: &mut HookCtx) {
        self.log_now(message);
    }

    /// `Cluster::log` that never waits for room (the I/O and WebSocket threads).
    pub(crate) fn log_now(&mut self, message: &str) {
        let rec = cluster_log_record(now_ns(), &self.me.clone(), message);
        if let Ok(true) = self.log_record(CLUSTER_LOG_ID, rec) {
            self.log_cv.notify_all();
        }
    }

    fn worker_count(&self) -> u64 {
        self.ids
            .keys()
            .filter(|n| self.types.get(*n) == Some(&NodeType::Worker))
            .count() as u64
    }

    fn set_alive(&mut self, name: &str, alive: bool) {
        if alive {
            self.pools.node_up(name);
        } else {
            self.pools.node_down(name);
        }
    }
}

/// The node-side logic on the endpoint's I/O thread.
struct ClusterHook {
    state: Arc<Mutex<State>>,
    my_id: String,
    my_nodeid_topic: String,
    nodeid_prefix: String,
    /// Endpoint id -> node name, for peers that said hello.
    peer_names: HashMap<EndpointId, String>,
    /// Every direct peer (for `Control::peer_status_request`).
    peers: std::collections::BTreeMap<EndpointId, PeerInfo>,
    options: super::Options,
    next_flush: Instant,
    /// Data stores (`Cluster::create_store`); their traffic is taken by the stage before
    /// this hook (`StoresStage`); kept here for `Broker::announce_masters`.
    stores: Arc<crate::store::StoreService>,
    /// On ZeroMQ a peer is a node whose hello stage completed (its `address` is its node
    /// id) and the hello goes to `zeek.cluster.nodeid.<id>.`.
    zeromq: bool,
    /// Off the manager: the clone timing for the stores a `Broker::announce_masters`
    /// names (Zeek's broker-stores.zeek creates their clones there).
    announce_clones: Option<crate::store::CloneConfig>,
}

impl ClusterHook {
    fn hello_payload(&self, me: &str) -> Vec<u8> {
        Event::with_args(
            HELLO_EVENT,
            vec![
                Value::String(me.as_bytes().to_vec()),
                Value::String(self.my_id.as_bytes().to_vec()),
            ],
        )
        .to_bytes()
    }

    fn on_hello(&mut self, msg: &Message, ev: &Event, ctx: &mut HookCtx) {
        let (name, id) = match ev.args.as_slice() {
            [Value::String(n), Value::String(i)] => (
                String::from_utf8_lossy(n).into_owned(),
                String::from_utf8_lossy(i).into_owned(),
            ),
            _ => {
                let mut m = cluster_msg(MessageKind::PeerRejected, msg.sender, None);
                m.text =
                    "Cluster::hello with arguments other than (name: string, id: string)".into();
                ctx.deliver(m);
                return;
            }
        };
        let sender = msg.sender;
        let mut st = self.state.lock();
        if !st.types.contains_key(&name) {
            drop(st);
            let mut m = cluster_msg(MessageKind::PeerRejected, sender, Some(&name));
            m.text =
                format!("Got Cluster::hello msg from unexpected node: {name} (not in the layout)");
            ctx.deliver(m);
            return;
        }
        let mut hello = cluster_msg(super::HELLO, sender, Some(&name));
        hello.text = id.clone();
        match st.ids.get(&name).cloned() {
            Some(old) if old != id => {
                drop(st);
                hello.text = format!("{id} (duplicate node: {name} already has id {old})");
                ctx.deliver(hello);
                return;
            }
            Some(_) => {
                drop(st);
                ctx.deliver(hello);
                return;
            }
            None => {}
        }
        st.ids.insert(name.clone(), id.clone());
        st.set_alive(&name, true);
        // Every existing writer's LogCreate goes to the new node directly (before any
        // LogWrite to it: the publishing thread sends these first).
        if let Some(s) = sender {
            st.logs.greet(s);
            st.log_cv.notify_all();
        }
        // As main.zeek: the hello is logged to cluster.log.
        st.log_from_hook(&format!("got hello from {name} ({id})"), ctx);
        // A logger came up: what waited for one goes out now.
        if st
            .pools
            .pool(PoolId::logger())
            .is_some_and(|p| p.contains(&name))
        {
            let waiting = st.logs.take_buffer();
            st.reroute(waiting);
            st.logs.request_flush();
            st.log_cv.notify_all();
        }
        drop(st);
        if let Some(s) = sender {
            self.peer_names.insert(s, name.clone());
        }
        ctx.deliver(hello);
        let mut up = cluster_msg(super::NODE_UP, sender, Some(&name));
        up.text = id;
        ctx.deliver(up);
    }

    /// A peering removed because its send buffer overflowed: counted per node name
    /// ("unknown" for others) and logged, as Zeek's
    /// `policy/frameworks/cluster/backend/broker/backpressure.zeek` does.
    fn backpressure_disconnect(&mut self, msg: &Message, ctx: &mut HookCtx) {
        let Some(p) = msg.peer.as_ref() else {
            return;
        };
        let name = p.id.and_then(|id| self.peer_names.get(&id).cloned());
        let line = format!(
            "removed due to backpressure overflow: {}{}:{} ({})",
            if name.is_some() {
                ""
            } else {
                "non-cluster peer "
            },
            p.address,
            p.port,
            name.clone()
                .unwrap_or_else(|| p.id.map(|i| i.to_string()).unwrap_or_default())
        );
        let mut st = self.state.lock();
        *st.telemetry
            .backpressure_disconnects
            .entry(name.unwrap_or_else(|| "unknown".into()))
            .or_default() += 1;
        st.log_from_hook(&line, ctx);
    }

    fn on_gone(&mut self, msg: &Message, ctx: &mut HookCtx) {
        let Some(pid) = msg.peer.as_ref().and_then(|p| p.id) else {
            return;
        };
        let Some(name) = self.peer_names.remove(&pid) else {
            return;
        };
        let mut st = self.state.lock();
        let id = st.ids.remove(&name);
        st.set_alive(&name, false);
        // Its pending batch goes to another logger (or waits); at unpeer, Zeek flushes.
        let topic = st
            .pools
            .pool(PoolId::logger())
            .and_then(|p| p.node(&name))
            .map(|n| n.topic.clone());
        if let Some(t) = topic {
            let recs = st.logs.take_topic(&t);
            st.reroute(recs);
        }
        st.logs.request_flush();
        st.log_cv.notify_all();
        if id.is_some() {
            st.log_from_hook(&format!("node down: {name}"), ctx);
        }
        drop(st);
        if let Some(id) = id {
            let mut down = cluster_msg(super::NODE_DOWN, Some(pid), Some(&name));
            down.peer = msg.peer.clone();
            down.text = id;
            ctx.deliver(down);
        }
    }
}

fn cluster_msg(kind: MessageKind, peer: Option<EndpointId>, node: Option<&str>) -> Message {
    let mut m = Message::status(
        kind,
        PeerInfo {
            id: peer,
            address: String::new(),
            port: 0,
        },
        "",
    );
    m.node = node.map(str::to_string);
    m
}

impl ClusterHook {
    /// The controllee side of Zeek's Control framework (`controllee.zeek`): answers the
    /// `Control::*_request` events with their `_response`, published to
    /// `zeek/control/<response without `Control::`>/<node>`, as Zeek 8's controllee.zeek
    /// does. Configuration updates and shutdown requests are
    /// answered and also handed to the host (as the request event), which decides what
    /// they mean for it. Returns false for events that are not control requests.
    fn on_control(&mut self, msg: &Message, ev: &Event, ctx: &mut HookCtx) -> bool {
        let now = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or(0.0);
        let text = |s: String| Value::String(s.into_bytes());
        let (response, args, to_host) = match ev.name.as_str() {
            "Control::id_value_request" => {
                let id = match ev.args.first() {
                    Some(Value::String(b)) => String::from_utf8_lossy(b).into_owned(),
                    _ => String::new(),
                };
                let val = self
                    .options
                    .get_text(&id)
                    .unwrap_or_else(|_| "<unknown id>".to_string());
                (
                    "Control::id_value_response",
                    vec![text(id), text(val)],
                    false,
                )
            }
            "Control::peer_status_request" => {
                let mut s = String::new();
                for (id, p) in &self.peers {
                    // controllee.zeek: fmt("%.6f peer=%s host=%s status=%s\n", ...), the
                    // status a Broker::PeerStatus; our peers here have completed the handshake.
                    s += &format!(
                        "{now:.6} peer={id} host={} status=Broker::PEERED\n",
                        p.address
                    );
                }
                ("Control::peer_status_response", vec![text(s)], false)
            }
            "Control::net_stats_request" => {
                let (recvd, dropped, link) = self.state.lock().net_stats;
                let s = format!("{now:.6} recvd={recvd} dropped={dropped} link={link}\n");
                ("Control::net_stats_response", vec![text(s)], false)
            }
            "Control::configuration_update_request" => {
                ("Control::configuration_update_response", vec![], true)
            }
            "Control::shutdown_request" => ("Control::shutdown_response", vec![], true),
            _ => return false,
        };
        let me = self.state.lock().me.clone();
        // controllee.zeek: Control::topic_prefix + "/id_value_response/" + Cluster::node,
        // the event's name without its module.
        let short = response.trim_start_matches("Control::");
        let topic = format!("zeek/control/{short}/{me}");
        ctx.publish(&topic, Event::with_args(response, args).to_bytes());
        if to_host {
            ctx.deliver(msg.clone());
        }
        true
    }
}

impl ClusterHook {
    /// `Broker::announce_masters(masters: set[string])`, which a Zeek manager sends each
    /// new peer for its Broker-backed tables: taken by the store layer, as Zeek's
    /// broker-stores.zeek does. Off the manager every name gets a clone of the store
    /// `___sync_store_<name>` (the name Zeek's manager gives the master), with the
    /// `Broker::default_clone_*` intervals; the host reaches it with `create_store` of
    /// that name. On a manager (where Zeek has no handler) it is dropped.
    fn on_announce_masters(&mut self, ev: &Event) {
        let Some(config) = self.announce_clones else {
            return;
        };
        let Some(Value::Set(names)) = ev.args.first() else {
            return;
        };
        for n in names {
            if let Value::String(b) = n {
                let name = format!("___sync_store_{}", String::from_utf8_lossy(b));
                // A name with a master here already keeps its master.
                let _ = self.stores.attach_clone(&name, config);
            }
        }
    }

    /// Re-publishes the event inside a `Cluster::zc_relay` on its target topics. Returns
    /// false (the message goes to the host as it is) when the arguments are not a vector
    /// of topics and an event.
    fn on_relay(&mut self, ev: &Event, ctx: &mut HookCtx) -> bool {
        let (Some(Value::Vector(targets)), Some(inner)) = (ev.args.first(), ev.args.get(1)) else {
            return false;
        };
        let Ok(inner) = Event::from_value(inner) else {
            return false;
        };
        let topics: Vec<&[u8]> = targets
            .iter()
            .filter_map(|t| match t {
                Value::String(b) => Some(b.as_slice()),
                _ => None,
            })
            .collect();
        if topics.len() != targets.len() {
            return false;
        }
        let bytes = inner.to_bytes();
        for t in topics {
            ctx.publish(&String::from_utf8_lossy(t), bytes.clone());
        }
        true
    }
}

impl Hook for ClusterHook {
    fn on_message(&mut self, msg: Message, ctx: &mut HookCtx) {
        // The stores ran before (a stage of their own: `Runtime::start`).
        match msg.kind {
            MessageKind::PeerAdded => {
                if let Some(p) = msg.peer.as_ref() {
                    if let Some(id) = p.id {
                        self.peers.insert(id, p.clone());
                    }
                }
                // Both ends say hello on peer_added, to the other's nodeid topic.
                if let Some(p) = msg.peer.as_ref().filter(|p| p.id.is_some()) {
                    let me = self.state.lock().me.clone();
                    let topic = match (self.zeromq, p.id) {
                        (true, _) => format!("{}{}.", self.nodeid_prefix, p.address),
                        (false, Some(pid)) => format!("{}{}/", self.nodeid_prefix, pid),
                        (false, None) => unreachable!("filtered above"),
                    };
                    ctx.publish(&topic, self.hello_payload(&me));
                }
                ctx.deliver(msg);
            }
            MessageKind::PeerLost | MessageKind::PeerRemoved => {
                if let Some(id) = msg.peer.as_ref().and_then(|p| p.id) {
                    self.peers.remove(&id);
                }
                if msg.kind == MessageKind::PeerRemoved
                    && msg.text.contains("backpressure overflow")
                {
                    self.backpressure_disconnect(&msg, ctx);
                }
                ctx.deliver(msg.clone());
                self.on_gone(&msg, ctx);
            }
            MessageKind::Event => {
                // LogCreate / LogWrite / Batch on a node that writes logs: to the log
                // worker, undecoded (the worker parses and writes them). Other nodes get
                // the LogCreates every peer sends to new peers (`SendAllWritersTo`) and
                // ignore them, as they are framework traffic.
                if crate::log::message::is_log_message(&msg.payload) {
                    let mgr = self.state.lock().log_mgr.clone();
                    if let Some(m) = mgr {
                        let _ = m.submit_remote(msg.payload);
                    }
                    return;
                }
                // Only the framework's own events are decoded here; everything else goes
                // to the host as it came (the host decodes what it takes).
                let ours = match Event::name_of(&msg.payload) {
                    Some(n) => {
                        n == HELLO_EVENT.as_bytes()
                            || n == RELAY_EVENT.as_bytes()
                            || n == ANNOUNCE_MASTERS_EVENT.as_bytes()
                            || (n.starts_with(b"Control::") && n.ends_with(b"_request"))
                    }
                    None => false,
                };
                if !ours {
                    ctx.deliver(msg);
                    return;
                }
                let ev = Event::from_bytes(&msg.payload);
                match ev {
                    Ok(ev)
                        if ev.name == HELLO_EVENT
                            && msg.topic.starts_with(&self.my_nodeid_topic) =>
                    {
                        self.on_hello(&msg, &ev, ctx);
                    }
                    Ok(ev) if ev.name.starts_with("Control::") && ev.name.ends_with("_request") => {
                        if !self.on_control(&msg, &ev, ctx) {
                            ctx.deliver(msg);
                        }
                    }
                    Ok(ev) if ev.name == ANNOUNCE_MASTERS_EVENT => self.on_announce_masters(&ev),
                    Ok(ev) if ev.name == RELAY_EVENT => {
                        if !self.on_relay(&ev, ctx) {
                            ctx.deliver(msg);
                        }
                    }
                    _ => ctx.deliver(msg),
                }
            }
            _ => ctx.deliver(msg),
        }
    }

    fn on_tick(&mut self, now: Instant, _ctx: &mut HookCtx) {
        if now < self.next_flush {
            return;
        }
        self.next_flush = now + Duration::from_millis(500);
    }

    fn next_deadline(&self) -> Option<Instant> {
        Some(self.next_flush)
    }
}

/// A started node.
pub struct Runtime {
    pub(crate) endpoint: Arc<Endpoint>,
    /// The log publishing thread (`super::logging`), joined at shutdown.
    log_sender: Mutex<Option<std::thread::JoinHandle<()>>>,
    /// Held while taking and publishing log messages, so they leave in order.
    log_publish: Arc<Mutex<()>>,
    /// Legacy Bro 2.5 routing: where `raise` sends events raised by this node's role.
    routes: Vec<super::legacy::Route>,
    pub(crate) state: Arc<Mutex<State>>,
    pub(crate) bound_port: Option<u16>,
    /// The ZeroMQ backend's parts (None on Broker).
    pub(crate) zeromq: Option<crate::zeromq::ZmqRuntime>,
}

impl Runtime {
    pub(crate) fn start(cl: &Cluster, log_dir: Option<PathBuf>) -> Result<Runtime> {
        if !cl.is_enabled() {
            return Err(Error::state(
                "the cluster is not enabled: no node name was given and CLUSTER_NODE is unset",
            ));
        }
        let me = cl.node_name().to_string();
        let layout = cl.layout();
        let my_node = layout
            .nodes
            .get(&me)
            .ok_or_else(|| Error::not_found(format!("node \"{me}\" is not in the layout")))?;
        let id = cl.endpoint_id()?;
        let zeromq = cl.backend() == super::ClusterBackend::ZeroMQ;

        let mut pools = if zeromq {
            crate::zeromq::default_pools()
        } else {
            Pools::with_defaults()
        };
        let nodes: Vec<(String, PoolNodeType)> = layout
            .nodes
            .iter()
            .filter_map(|(n, node)| pool_type(node.node_type).map(|t| (n.clone(), t)))
            .collect();
        let opts = AssignOptions {
            local_node: &me,
            manager_is_logger: cl.options().manager_is_logger(),
            node_topic_prefix: cl.options().node_topic_prefix(),
            node_topic_separator: cl.options().topic_separator(),
        };
        pools.assign(&nodes, &opts)?;

        let o = cl.options();
        let log_mgr = if writes_logs(cl) {
            let mut cfg = LogConfig::new(log_dir.unwrap_or_else(|| PathBuf::from(".")));
            if o.bool_value("LogAscii::use_json") {
                cfg.format = LogFormat::Json;
            }
            let iv = o.interval_secs("Log::default_rotation_interval");
            if iv > 0.0 {
                cfg.rotation_interval = Some(Duration::from_secs_f64(iv));
            }
            let rd = o.string_value("Log::default_rotation_dir");
            if !rd.is_empty() {
                cfg.rotation_dir = Some(PathBuf::from(rd));
            }
            let cmd = o.string_value("Log::default_rotation_postprocessor_cmd");
            cfg.post_processor = cl.log_post_processor().or_else(|| {
                (!cmd.is_empty()).then(|| crate::log::PostProcessor::Command(cmd.to_string()))
            });
            Some(Arc::new(LogManager::start(cfg)?))
        } else {
            None
        };
        let mut logs = super::logging::Sender::new(
            o.count_value("Broker::log_batch_size") as usize,
            Duration::from_secs_f64(o.interval_secs("Broker::log_batch_interval").max(0.0)),
        );
        logs.create(cluster_log_stream())?;
        for st in cl.log_streams() {
            logs.create(st)?;
        }
        let log_cv = Arc::new(Condvar::new());

        let state = Arc::new(Mutex::new(State {
            me: me.clone(),
            ids: HashMap::new(),
            types: layout
                .nodes
                .iter()
                .map(|(n, node)| (n.clone(), node.node_type))
                .collect(),
            pools,
            logs,
            log_mgr,
            zlogs: None,
            log_cv: log_cv.clone(),
            round_robin_logging: cl.options().enable_round_robin_logging(),
            net_stats: (0, 0, 0),
            telemetry: Telemetry::default(),
        }));
        let hook = ClusterHook {
            state: state.clone(),
            my_id: cl.node_id().to_string(),
            my_nodeid_topic: cl.nodeid_topic(cl.node_id()),
            nodeid_prefix: cl.options().nodeid_topic_prefix().to_string(),
            peer_names: HashMap::new(),
            peers: std::collections::BTreeMap::new(),
            options: cl.options().clone(),
            next_flush: Instant::now(),
            stores: cl.store_service().clone(),
            zeromq,
            announce_clones: (cl.local_node_type() != NodeType::Manager)
                .then(|| {
                    cl.store_defaults().ok().map(|d| crate::store::CloneConfig {
                        resync_interval: d.default_clone_resync_interval,
                        stale_interval: d.default_clone_stale_interval,
                        mutation_buffer_interval: d.default_clone_mutation_buffer_interval,
                        ..crate::store::CloneConfig::default()
                    })
                })
                .flatten(),
        };
        // The services on the node's endpoint, in order: the data stores take their
        // command traffic (and see the peering statuses), then the cluster framework.
        let hook = crate::endpoint::service::Services::new(vec![
            Box::new(crate::endpoint::service::StoresStage::new(
                cl.store_service().clone(),
            )),
            Box::new(hook),
        ]);
        let mut ep_opts = EndpointOptions {
            forwarding: false,
            id: Some(id),
            tls: cl.options().tls(),
            ..EndpointOptions::default()
        };
        // A peering's send buffer, as Zeek's Broker::peer_* redefs set it.
        for k in ["Broker::peer_buffer_size", "Broker::peer_overflow_policy"] {
            ep_opts.set(k, &cl.options().get_text(k)?)?;
        }
        let (endpoint, zmq_parts) = if zeromq {
            let (e, z) = crate::zeromq::start_endpoint(cl, ep_opts, Box::new(hook))?;
            (Arc::new(e), Some(z))
        } else {
            (
                Arc::new(Endpoint::with_hook(ep_opts, Some(Box::new(hook)))?),
                None,
            )
        };
        cl.store_service().set_waker(endpoint.hook_waker());
        // On ZeroMQ the log path is in place before the first subscription: a hello can
        // arrive at once and writes cluster.log, which must not take the Broker path.
        if let Some(z) = &zmq_parts {
            let mgr = state.lock().log_mgr.clone();
            let batcher = crate::zeromq::logs::attach(cl, z, mgr);
            state.lock().zlogs = batcher;
        }

        // Subscribe before listening or peering, so the first hello finds us subscribed.
        let mut topics = subscriptions_of(cl, cl.node_id());
        topics.extend(state.lock().pools.topics_of(&me));
        for t in &topics {
            endpoint.subscribe(t)?;
        }
        if let Some(z) = zmq_parts {
            let log_publish = Arc::new(Mutex::new(()));
            let sender = start_log_sender(&state, &log_cv, &endpoint, &log_publish)?;
            return Ok(Runtime {
                endpoint,
                log_sender: Mutex::new(Some(sender)),
                log_publish,
                routes: super::legacy::routes_from(cl, cl.local_node_type())?,
                state,
                bound_port: None,
                zeromq: Some(z),
            });
        }
        let bound_port = if my_node.p.number != 0 {
            Some(
                endpoint
                    .listen(&my_node.ip.to_string(), my_node.p.number)
                    .map_err(|e| Error::new(e.kind, format!("node {me}: {}", e.message)))?,
            )
        } else {
            None
        };
        if let Some(port) = bound_port {
            // As the Broker backend's main.zeek, between listening and peering:
            // Cluster::log(fmt("listening on %s:%s", Broker::default_listen_address, self$p)).
            // The address is the one we listen on: the node's IP (see `Endpoint::listen`).
            let p = crate::layout::Port {
                number: port,
                ..my_node.p
            };
            let rec =
                cluster_log_record(now_ns(), &me, &format!("listening on {}:{p}", my_node.ip));
            let mut st = state.lock();
            if st.log_record(CLUSTER_LOG_ID, rec)? {
                st.log_cv.notify_all();
            }
        }
        let retry = cl.peer_retry();
        for (_, n) in peers_of(cl, &me) {
            endpoint.peer(&n.ip.to_string(), n.p.number, retry)?;
        }
        let log_publish = Arc::new(Mutex::new(()));
        let sender = start_log_sender(&state, &log_cv, &endpoint, &log_publish)?;
        Ok(Runtime {
            endpoint,
            log_sender: Mutex::new(Some(sender)),
            log_publish,
            routes: super::legacy::routes_from(cl, cl.local_node_type())?,
            state,
            bound_port,
            zeromq: None,
        })
    }

    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// The port this node listens on (its `$p`), or None for a node that does not listen.
    pub fn bound_port(&self) -> Option<u16> {
        self.bound_port
    }

    pub fn worker_count(&self) -> u64 {
        self.state.lock().worker_count()
    }

    /// Names of the nodes that said hello and are still up, sorted.
    pub fn nodes_up(&self) -> Vec<String> {
        let mut v: Vec<String> = self.state.lock().ids.keys().cloned().collect();
        v.sort();
        v
    }

    pub fn publish(&self, topic: &str, ev: &Event) -> Result<()> {
        self.endpoint.publish(topic, ev.to_bytes())
    }

    /// Publishes an already encoded event (the payload of a data message).
    pub fn publish_encoded(&self, topic: &str, payload: Vec<u8>) -> Result<()> {
        self.endpoint.publish(topic, payload)
    }

    /// Raises `ev` the Bro 2.5 way: it goes to the role topic of every role whose
    /// `<my role>2<role>_events` pattern (or `control_events`, from a CONTROL node) matches
    /// its name. Returns the roles it was sent to (none when no pattern matches).
    pub fn raise(&self, cl: &Cluster, ev: &Event) -> Result<Vec<NodeType>> {
        let mut sent = Vec::new();
        for r in &self.routes {
            if !r.pattern.is_match(&ev.name) || sent.contains(&r.to) {
                continue;
            }
            if let Some(topic) = cl.options().type_topic(r.to) {
                self.publish(topic, ev)?;
                sent.push(r.to);
            }
        }
        Ok(sent)
    }

    /// `Cluster::publish_hrw(pool, key, event)`: to the pool member that the key hashes
    /// to among the live ones. Returns false (and publishes nothing) when none is alive.
    pub fn publish_hrw(&self, pool_topic: &str, key: &Value, ev: &Event) -> Result<bool> {
        let st = self.state.lock();
        let pid = st
            .pools
            .by_topic(pool_topic)
            .ok_or_else(|| Error::not_found(format!("no pool with topic \"{pool_topic}\"")))?;
        let topic = st
            .pools
            .pool(pid)
            .and_then(|p| p.hrw_pick(key).transpose())
            .transpose()?;
        let topic = topic.map(|n| n.topic.clone());
        drop(st);
        match topic {
            Some(t) => self.publish(&t, ev).map(|()| true),
            None => Ok(false),
        }
    }

    /// `Cluster::publish_rr(pool, key, event)`: round robin over the live members, one
    /// cursor per key. Returns false when none is alive.
    pub fn publish_rr(&self, pool_topic: &str, key: &str, ev: &Event) -> Result<bool> {
        let mut st = self.state.lock();
        let pid = st
            .pools
            .by_topic(pool_topic)
            .ok_or_else(|| Error::not_found(format!("no pool with topic \"{pool_topic}\"")))?;
        let topic = st
            .pools
            .pool_mut(pid)
            .and_then(|p| p.rr_pick(key))
            .map(|n| n.topic.clone());
        drop(st);
        match topic {
            Some(t) => self.publish(&t, ev).map(|()| true),
            None => Ok(false),
        }
    }

    /// `relay_rr(pool, key, targets, event)`: sends `ev` to one live member of the pool
    /// (round robin, one cursor per key), which publishes it on each of `targets` (see
    /// `RELAY_EVENT`). Workers do not peer with each other; a worker reaches the other
    /// workers by relaying through the proxy pool to `zeek/cluster/worker`. Returns false
    /// when no member is alive.
    pub fn relay_rr(
        &self,
        pool_topic: &str,
        key: &str,
        targets: &[&str],
        ev: &Event,
    ) -> Result<bool> {
        if targets.is_empty() {
            return Err(Error::invalid("relay_rr needs at least one target topic"));
        }
        let relay = Event::with_args(
            RELAY_EVENT,
            vec![
                Value::Vector(
                    targets
                        .iter()
                        .map(|t| Value::String(t.as_bytes().to_vec()))
                        .collect(),
                ),
                ev.to_value(),
            ],
        );
        self.publish_rr(pool_topic, key, &relay)
    }

    /// `Log::create_stream`: registers a log stream this node writes. The same
    /// definition again is fine; another one under the same id is a State error.
    pub fn create_log_stream(&self, stream: LogStream) -> Result<()> {
        self.state.lock().logs.create(stream)
    }

    /// `Log::write(id, record)`: one record, a value per column in column order
    /// (`Value::None` for an unset `&optional` column). A missing required value or a
    /// value of the wrong type is an error naming the column. On a node that writes logs
    /// the record goes to its log worker; elsewhere it is sent to a logger (see
    /// `super::logging`). Waits while too many records are queued for sending.
    pub fn log_write(&self, id: &str, record: Vec<Value>) -> Result<()> {
        let mut st = self.state.lock();
        if self.endpoint.is_closed() {
            return Err(Error::closed("the cluster node is shut down"));
        }
        while st.log_mgr.is_none()
            && (st.logs.pending_total() >= super::logging::PENDING_LIMIT
                || st.zlogs.as_ref().is_some_and(|z| z.backlog_full()))
            && !st.logs.stopping
        {
            let cv = st.log_cv.clone();
            cv.wait_for(&mut st, Duration::from_millis(100));
        }
        if st.log_record(id, record)? {
            st.log_cv.notify_all();
        }
        Ok(())
    }

    /// `Cluster::log(msg)`: a record of `Cluster::LOG` (cluster.log: ts, this node, msg),
    /// written like any stream's (see [`Runtime::log_write`]).
    pub fn log(&self, cl: &Cluster, message: &str) -> Result<()> {
        self.log_write(
            CLUSTER_LOG_ID,
            cluster_log_record(now_ns(), cl.node_name(), message),
        )
    }

    /// Sends every queued log record now (on a node that writes logs: waits until the
    /// records given so far are in the files).
    pub fn flush_log(&self) -> Result<()> {
        let mgr = self.state.lock().log_mgr.clone();
        if let Some(m) = mgr {
            return m.flush();
        }
        let _p = self.log_publish.lock();
        let out = {
            let mut st = self.state.lock();
            if let Some(z) = st.zlogs.as_mut() {
                z.flush(Instant::now());
            }
            st.logs.request_flush();
            st.logs.take_due(Instant::now())
        };
        super::logging::publish_all(&self.endpoint, out);
        Ok(())
    }

    /// The sending side's counters.
    pub fn log_send_stats(&self) -> LogSendStats {
        let st = self.state.lock();
        let mut s = st.logs.stats();
        if let Some(z) = &st.zlogs {
            s.sent += z.records_sent;
            s.batches += z.batches;
            s.pending += z.queued();
        }
        s
    }

    /// The log worker's counters (a node that writes logs), else None.
    pub fn log_stats(&self) -> Option<LogStats> {
        let mgr = self.state.lock().log_mgr.clone();
        mgr.map(|m| m.stats())
    }

    /// Flushes the log records (sent or written), then closes the endpoint and the log
    /// files. Idempotent; also done on drop.
    pub fn shutdown(&self) {
        {
            let mut st = self.state.lock();
            st.logs.stopping = true;
            st.log_cv.notify_all();
        }
        if let Some(t) = self.log_sender.lock().take() {
            let _ = t.join();
        }
        self.endpoint.close();
        let mgr = self.state.lock().log_mgr.clone();
        if let Some(m) = mgr {
            m.close();
        }
    }

    /// Sets what `Control::net_stats_request` answers (packets received, dropped, and seen
    /// on the link), for hosts that capture packets.
    pub fn set_net_stats(&self, recvd: u64, dropped: u64, link: u64) {
        self.state.lock().net_stats = (recvd, dropped, link);
    }

    /// Records dropped because no logger was reachable for too long.
    pub fn log_dropped(&self) -> u64 {
        self.state.lock().logs.stats().dropped
    }

    /// Records waiting for a logger.
    pub fn log_buffered(&self) -> usize {
        self.state.lock().logs.stats().buffered
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        self.shutdown();
        // The proxy (if this node runs it) goes last, after the node's own sockets.
        if let Some(z) = self.zeromq.take() {
            drop(z);
        }
    }
}

/// Starts the node's log publishing thread (`log_sender_loop`) on either backend.
fn start_log_sender(
    state: &Arc<Mutex<State>>,
    cv: &Arc<Condvar>,
    endpoint: &Arc<Endpoint>,
    publish: &Arc<Mutex<()>>,
) -> Result<std::thread::JoinHandle<()>> {
    let (state, cv, ep, pl) = (state.clone(), cv.clone(), endpoint.clone(), publish.clone());
    std::thread::Builder::new()
        .name("zc-log-send".into())
        .spawn(move || log_sender_loop(&state, &cv, &ep, &pl))
        .map_err(|e| Error::internal(format!("cannot start the log sender: {e}")))
}

/// The log publishing thread: waits for work (a full batch, the batch interval, a new
/// peer, a flush request, shutdown), takes it under the state lock and publishes it
/// with the endpoint's own backpressure. At shutdown it sends what is left and ends.
fn log_sender_loop(state: &Mutex<State>, cv: &Condvar, ep: &Endpoint, publish: &Mutex<()>) {
    loop {
        {
            let mut st = state.lock();
            loop {
                let now = Instant::now();
                if st.logs.has_work(now) || st.zlogs.as_ref().is_some_and(|z| z.due(now)) {
                    break;
                }
                // An expired batch timer with nothing pending waits one interval, not
                // 1 ms at a time.
                let mut deadline = if st.logs.next_flush > now {
                    st.logs.next_flush
                } else {
                    now + st.logs.interval
                };
                if let Some(z) = st.zlogs.as_ref().and_then(|z| z.deadline()) {
                    deadline = deadline.min(z);
                }
                let deadline = deadline.max(now + Duration::from_millis(1));
                cv.wait_until(&mut st, deadline);
            }
        }
        let _p = publish.lock();
        let (out, stop) = {
            let mut st = state.lock();
            let now = Instant::now();
            let stopping = st.logs.stopping;
            if let Some(z) = st.zlogs.as_mut() {
                if stopping || z.due(now) {
                    z.flush(now);
                }
            }
            let out = st.logs.take_due(now);
            (out, stopping)
        };
        cv.notify_all();
        super::logging::publish_all(ep, out);
        if stop {
            return;
        }
    }
}

fn pool_type(t: NodeType) -> Option<PoolNodeType> {
    match t {
        NodeType::Worker => Some(PoolNodeType::Worker),
        NodeType::Proxy => Some(PoolNodeType::Proxy),
        NodeType::Logger => Some(PoolNodeType::Logger),
        NodeType::Manager => Some(PoolNodeType::Manager),
        _ => None,
    }
}
