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
use crate::log::{cluster_log_fields, cluster_log_record, LogFormat, LogWriter};
use crate::wire::EndpointId;
use parking_lot::Mutex;
use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

/// The event every node publishes to a new peer's nodeid topic (`Cluster::hello`).
pub const HELLO_EVENT: &str = "Cluster::hello";
/// The event that carries a `Cluster::log` record to the node that writes cluster.log.
/// Zeek carries log records as its internal LogWrite messages, whose serialization is not
/// public; zcluster nodes carry them as this event instead.
pub const LOG_EVENT: &str = "Cluster::zc_log_write";
/// The event `relay_rr` sends to a pool member: `Cluster::zc_relay(targets: vector of
/// string, ev: the event as Broker's event value)`. A zcluster node that receives it
/// publishes the inner event on every target topic (and does not raise it itself), which
/// is how worker-to-worker traffic passes through a proxy. Zeek removed `Cluster::relay_rr`
/// and `Broker::relay` before 2.6 was released (scripts re-publish by hand), so a Zeek
/// node would need a handler for this event to relay.
pub const RELAY_EVENT: &str = "Cluster::zc_relay";

/// A Zeek manager's announcement of its Broker-backed tables' master stores
/// (broker-stores.zeek), sent to each new peer's nodeid topic.
pub const ANNOUNCE_MASTERS_EVENT: &str = "Broker::announce_masters";
/// Where log records go when no logger is alive (`Broker::default_log_topic`).
pub const DEFAULT_LOG_TOPIC: &str = "zeek/logs/Cluster::LOG";
/// Records kept while no logger is reachable; older ones are dropped and counted.
pub const LOG_BUFFER_LIMIT: usize = 10_000;

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
    // The controllee's request topic (`Control::topic_prefix + "/" + node id`).
    out.push(format!("zeek/control/{node_id}"));
    if writes_logs(cl) {
        out.push("zeek/logs/".to_string());
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
    /// Records waiting for a logger to come up.
    log_buffer: VecDeque<Event>,
    pub(crate) log_dropped: u64,
    log_writer: Option<LogWriter>,
    log_error: Option<String>,
    round_robin_logging: bool,
    /// What `Control::net_stats_request` reports: packets received, dropped, seen on the
    /// link (the host sets them; zcluster captures no packets itself).
    net_stats: (u64, u64, u64),
}

/// Where a `Cluster::log` record goes.
enum LogRoute {
    /// Written here, or kept for later: nothing to send.
    Done(Result<()>),
    /// To this logger's node topic.
    Send(String, Event),
}

fn log_event(node: &str, message: &str) -> Event {
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_nanos() as i64)
        .unwrap_or(0);
    Event::with_args(
        LOG_EVENT,
        vec![
            Value::Timestamp(now),
            Value::String(node.as_bytes().to_vec()),
            Value::String(message.as_bytes().to_vec()),
        ],
    )
}

impl State {
    /// Node name -> node id of every node that said hello (metrics name peers by it).
    pub(crate) fn node_ids(&self) -> Vec<(String, String)> {
        self.ids
            .iter()
            .map(|(n, i)| (n.clone(), i.clone()))
            .collect()
    }

    /// Writes the record here when this node writes logs; otherwise picks a live logger
    /// (round robin when `enable_round_robin_logging`), or keeps the record (bounded,
    /// oldest dropped and counted) until one comes up.
    fn route_log(&mut self, ev: Event) -> LogRoute {
        if self.log_writer.is_some() {
            self.write_log(&ev);
            return LogRoute::Done(match self.log_error.take() {
                Some(e) => Err(Error::new(
                    crate::ErrorKind::Io,
                    format!("cluster.log: {e}"),
                )),
                None => Ok(()),
            });
        }
        let target = if self.round_robin_logging {
            self.pools
                .pool_mut(PoolId::logger())
                .and_then(|p| p.rr_pick("Cluster::rr_log_topic"))
                .map(|n| n.topic.clone())
        } else {
            self.pools
                .pool(PoolId::logger())
                .and_then(|p| p.nodes().iter().find(|n| n.alive))
                .map(|n| n.topic.clone())
        };
        match target {
            Some(t) => LogRoute::Send(t, ev),
            None => {
                if self.log_buffer.len() >= LOG_BUFFER_LIMIT {
                    self.log_buffer.pop_front();
                    self.log_dropped += 1;
                }
                self.log_buffer.push_back(ev);
                LogRoute::Done(Ok(()))
            }
        }
    }

    /// `route_log` from the I/O thread: sends through the hook's context.
    fn log_from_hook(&mut self, message: &str, ctx: &mut HookCtx) {
        let ev = log_event(&self.me, message);
        if let LogRoute::Send(topic, ev) = self.route_log(ev) {
            ctx.publish(&topic, ev.to_bytes());
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

    fn write_log(&mut self, ev: &Event) {
        let Some(w) = self.log_writer.as_mut() else {
            return;
        };
        let record = match ev.args.as_slice() {
            [Value::Timestamp(ts), Value::String(node), Value::String(msg)] => cluster_log_record(
                *ts,
                &String::from_utf8_lossy(node),
                &String::from_utf8_lossy(msg),
            ),
            _ => return,
        };
        if let Err(e) = w.write(&record) {
            self.log_error = Some(e.message);
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
    /// Data stores (`Cluster::create_store`): store traffic and peer losses go there first.
    stores: Arc<crate::store::StoreService>,
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
        let mut hello = cluster_msg(MessageKind::Hello, sender, Some(&name));
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
        // As main.zeek: the hello is logged to cluster.log.
        st.log_from_hook(&format!("got hello from {name} ({id})"), ctx);
        // A logger came up: what waited for one goes out now.
        if st.types.get(&name) == Some(&NodeType::Logger) {
            let waiting: Vec<Event> = st.log_buffer.drain(..).collect();
            for ev in waiting {
                if let LogRoute::Send(topic, ev) = st.route_log(ev) {
                    ctx.publish(&topic, ev.to_bytes());
                }
            }
        }
        drop(st);
        if let Some(s) = sender {
            self.peer_names.insert(s, name.clone());
        }
        ctx.deliver(hello);
        let mut up = cluster_msg(MessageKind::NodeUp, sender, Some(&name));
        up.text = id;
        ctx.deliver(up);
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
        if id.is_some() {
            st.log_from_hook(&format!("node down: {name}"), ctx);
        }
        drop(st);
        if let Some(id) = id {
            let mut down = cluster_msg(MessageKind::NodeDown, Some(pid), Some(&name));
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
    /// `zeek/control/<response>/<node>`. Configuration updates and shutdown requests are
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
        let topic = format!("zeek/control/{response}/{me}");
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
        // Stores: consumes command envelopes on store topics; sees (never consumes) statuses.
        if self.stores.on_message(&msg, ctx) {
            return;
        }
        match msg.kind {
            MessageKind::PeerAdded => {
                if let Some(p) = msg.peer.as_ref() {
                    if let Some(id) = p.id {
                        self.peers.insert(id, p.clone());
                    }
                }
                // Both ends say hello on peer_added, to the other's nodeid topic.
                if let Some(pid) = msg.peer.as_ref().and_then(|p| p.id) {
                    let me = self.state.lock().me.clone();
                    let topic = format!("{}{}/", self.nodeid_prefix, pid);
                    ctx.publish(&topic, self.hello_payload(&me));
                }
                ctx.deliver(msg);
            }
            MessageKind::PeerLost | MessageKind::PeerRemoved => {
                if let Some(id) = msg.peer.as_ref().and_then(|p| p.id) {
                    self.peers.remove(&id);
                }
                ctx.deliver(msg.clone());
                self.on_gone(&msg, ctx);
            }
            MessageKind::Data => {
                // Only the framework's own events are decoded here; everything else goes
                // to the host as it came (the host decodes what it takes).
                let ours = match Event::name_of(&msg.payload) {
                    Some(n) => {
                        n == HELLO_EVENT.as_bytes()
                            || n == RELAY_EVENT.as_bytes()
                            || n == LOG_EVENT.as_bytes()
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
                    Ok(ev) if ev.name == LOG_EVENT => {
                        let mut st = self.state.lock();
                        if st.log_writer.is_some() {
                            st.write_log(&ev);
                        } else {
                            drop(st);
                            ctx.deliver(msg);
                        }
                    }
                    _ => ctx.deliver(msg),
                }
            }
            _ => ctx.deliver(msg),
        }
    }

    fn on_tick(&mut self, now: Instant, ctx: &mut HookCtx) {
        self.stores.on_tick(now, ctx);
        if now < self.next_flush {
            return;
        }
        self.next_flush = now + Duration::from_millis(500);
        let mut st = self.state.lock();
        if let Some(w) = st.log_writer.as_mut() {
            if let Err(e) = w.tick(SystemTime::now()) {
                st.log_error = Some(e.message);
            }
        }
    }

    fn next_deadline(&self) -> Option<Instant> {
        Some(match self.stores.next_deadline() {
            Some(s) => s.min(self.next_flush),
            None => self.next_flush,
        })
    }
}

/// A started node.
pub struct Runtime {
    pub(crate) endpoint: Endpoint,
    /// Legacy Bro 2.5 routing: where `raise` sends events raised by this node's role.
    routes: Vec<super::legacy::Route>,
    pub(crate) state: Arc<Mutex<State>>,
    pub(crate) bound_port: Option<u16>,
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
        let id = EndpointId::parse(cl.node_id())?;

        let mut pools = Pools::with_defaults();
        let nodes: Vec<(String, PoolNodeType)> = layout
            .nodes
            .iter()
            .filter_map(|(n, node)| pool_type(node.node_type).map(|t| (n.clone(), t)))
            .collect();
        let opts = AssignOptions {
            local_node: &me,
            manager_is_logger: cl.options().manager_is_logger(),
            node_topic_prefix: cl.options().node_topic_prefix(),
            node_topic_separator: "/",
        };
        pools.assign(&nodes, &opts)?;

        let log_writer = if writes_logs(cl) {
            let dir = log_dir.unwrap_or_else(|| PathBuf::from("."));
            Some(LogWriter::new(
                &dir,
                "cluster",
                cluster_log_fields(),
                LogFormat::Ascii,
                None,
            )?)
        } else {
            None
        };

        let state = Arc::new(Mutex::new(State {
            me: me.clone(),
            ids: HashMap::new(),
            types: layout
                .nodes
                .iter()
                .map(|(n, node)| (n.clone(), node.node_type))
                .collect(),
            pools,
            log_buffer: VecDeque::new(),
            log_dropped: 0,
            log_writer,
            log_error: None,
            round_robin_logging: cl.options().enable_round_robin_logging(),
            net_stats: (0, 0, 0),
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
        let ep_opts = EndpointOptions {
            forwarding: false,
            id: Some(id),
            tls: cl.options().tls(),
            ..EndpointOptions::default()
        };
        let endpoint = Endpoint::with_hook(ep_opts, Some(Box::new(hook)))?;
        cl.store_service().set_waker(endpoint.hook_waker());

        // Subscribe before listening or peering, so the first hello finds us subscribed.
        let mut topics = subscriptions_of(cl, cl.node_id());
        topics.extend(state.lock().pools.topics_of(&me));
        for t in &topics {
            endpoint.subscribe(t)?;
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
            let ev = log_event(&me, &format!("listening on {}:{p}", my_node.ip));
            let route = state.lock().route_log(ev);
            if let LogRoute::Send(topic, ev) = route {
                endpoint.publish(&topic, ev.to_bytes())?;
            }
        }
        let retry = cl.peer_retry();
        for (_, n) in peers_of(cl, &me) {
            endpoint.peer(&n.ip.to_string(), n.p.number, retry)?;
        }
        Ok(Runtime {
            endpoint,
            routes: super::legacy::routes_from(cl, cl.local_node_type())?,
            state,
            bound_port,
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

    /// `Cluster::log(msg)`: a cluster.log record from this node. The node that writes
    /// logs writes it at once; others send it round robin to a live logger (or the
    /// manager when `manager_is_logger`), and keep it (up to `LOG_BUFFER_LIMIT`, then
    /// drop the oldest, counted) while none is up.
    pub fn log(&self, cl: &Cluster, message: &str) -> Result<()> {
        let ev = log_event(cl.node_name(), message);
        let route = self.state.lock().route_log(ev);
        match route {
            LogRoute::Done(r) => r,
            LogRoute::Send(topic, ev) => self.publish(&topic, &ev),
        }
    }

    /// Flushes cluster.log now (it is flushed at least every second anyway).
    pub fn flush_log(&self) -> Result<()> {
        let mut st = self.state.lock();
        match st.log_writer.as_mut() {
            Some(w) => w.flush(),
            None => Ok(()),
        }
    }

    /// Sets what `Control::net_stats_request` answers (packets received, dropped, and seen
    /// on the link), for hosts that capture packets.
    pub fn set_net_stats(&self, recvd: u64, dropped: u64, link: u64) {
        self.state.lock().net_stats = (recvd, dropped, link);
    }

    /// Records dropped because no logger was reachable for too long.
    pub fn log_dropped(&self) -> u64 {
        self.state.lock().log_dropped
    }

    /// Records waiting for a logger.
    pub fn log_buffered(&self) -> usize {
        self.state.lock().log_buffer.len()
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        self.endpoint.close();
        if let Some(mut w) = self.state.lock().log_writer.take() {
            let _ = w.close();
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
