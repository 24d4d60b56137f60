//! Zeek's cluster pools (`scripts/base/frameworks/cluster/pools.zeek`): which nodes belong
//! to which pool, their liveness, and the two ways of picking a member: highest random
//! weight (`Cluster::hrw_topic`, `HashHRW::get_site`) and per-key round robin
//! (`Cluster::rr_topic`, `Cluster::rr_log_topic`).
//!
//! Everything here reproduces Zeek 9.1-dev's script logic step by step, so that a key
//! lands on the same node as it would in a Zeek cluster with the same layout:
//!
//! - Membership is fixed once by [`Pools::assign`] (Zeek's `zeek_init` at priority -5):
//!   pools in `strcmp` order of their topic; eligible nodes per type sorted by name;
//!   exclusive pools first, then the others from a per-type cursor that persists across
//!   pools and wraps; the first manager joins the logger candidates with
//!   `manager_is_logger`.
//! - A member's HRW site id is `fnv1a32(name + ".0")` (`.1`, `.2`, ... on a collision
//!   within the pool).
//! - Liveness follows [`Pools::node_up`] / [`Pools::node_down`] only. As in Zeek, the
//!   local node starts `alive` but is NOT an HRW site (Zeek raises no node_up for
//!   itself), so `hrw_pick` on a pool member never picks itself while `rr_pick` can.
//!   We keep that quirk on purpose: a key must hash to the same node from every node,
//!   Zeek or zcluster.
//!
//! Keys: Zeek's `fnv1a32(key: any)` hashes a string's raw bytes; any other value is first
//! rendered with `ODesc(DESC_BINARY)` through `Val::Describe`. [`hrw_key_bytes`] gives
//! those bytes for the types whose rendering is plain (see its docs); the rest are refused
//! with a Type error rather than hashed differently from Zeek.

use std::collections::{BTreeMap, HashMap};

use crate::data::{Port, Protocol, Value};
use crate::error::{Error, Result};

/// The node types a pool can draw from. Zeek only accepts WORKER, PROXY and LOGGER in a
/// pool spec; the others exist so a whole layout can be handed to [`Pools::assign`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PoolNodeType {
    Manager,
    Logger,
    Proxy,
    Worker,
    /// Any other node type (time machine, control, none): never in a pool.
    Other,
}

impl PoolNodeType {
    fn zeek_name(self) -> &'static str {
        match self {
            PoolNodeType::Manager => "Cluster::MANAGER",
            PoolNodeType::Logger => "Cluster::LOGGER",
            PoolNodeType::Proxy => "Cluster::PROXY",
            PoolNodeType::Worker => "Cluster::WORKER",
            PoolNodeType::Other => "Cluster::NONE",
        }
    }
}

/// `Cluster::PoolSpec`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolSpec {
    pub topic: String,
    pub node_type: PoolNodeType,
    pub max_nodes: Option<usize>,
    pub exclusive: bool,
}

impl PoolSpec {
    pub fn new(topic: impl Into<String>, node_type: PoolNodeType) -> PoolSpec {
        PoolSpec {
            topic: topic.into(),
            node_type,
            max_nodes: None,
            exclusive: false,
        }
    }
    /// `Cluster::worker_pool_spec`.
    pub fn worker() -> PoolSpec {
        PoolSpec::new("zeek/cluster/pool/worker", PoolNodeType::Worker)
    }
    /// `Cluster::proxy_pool_spec`.
    pub fn proxy() -> PoolSpec {
        PoolSpec::new("zeek/cluster/pool/proxy", PoolNodeType::Proxy)
    }
    /// `Cluster::logger_pool_spec`.
    pub fn logger() -> PoolSpec {
        PoolSpec::new("zeek/cluster/pool/logger", PoolNodeType::Logger)
    }
}

/// `Cluster::PoolNode`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolNode {
    pub name: String,
    /// `name + "." + c`, the string whose FNV-1a gives `site_id`.
    pub alias: String,
    pub site_id: u32,
    pub alive: bool,
    /// `Cluster::node_topic(name)` as given to [`Pools::assign`].
    pub topic: String,
}

/// Identifies a registered pool (its registration index).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PoolId(pub usize);

// Functions rather than associated consts, which cbindgen would copy into the C header.
impl PoolId {
    /// `Cluster::worker_pool` in [`Pools::with_defaults`].
    pub const fn worker() -> PoolId {
        PoolId(0)
    }
    /// `Cluster::proxy_pool` in [`Pools::with_defaults`].
    pub const fn proxy() -> PoolId {
        PoolId(1)
    }
    /// `Cluster::logger_pool` in [`Pools::with_defaults`].
    pub const fn logger() -> PoolId {
        PoolId(2)
    }
}

/// `Cluster::Pool`.
#[derive(Debug, Clone)]
pub struct Pool {
    spec: PoolSpec,
    /// `node_list`: members in assignment order.
    nodes: Vec<PoolNode>,
    by_name: HashMap<String, usize>,
    /// `hrw_pool$sites`: site id -> index into `nodes`.
    sites: BTreeMap<u32, usize>,
    /// `rr_key_seq`.
    rr_key_seq: HashMap<String, usize>,
    alive_count: usize,
}

impl Pool {
    fn new(spec: PoolSpec) -> Pool {
        Pool {
            spec,
            nodes: Vec::new(),
            by_name: HashMap::new(),
            sites: BTreeMap::new(),
            rr_key_seq: HashMap::new(),
            alive_count: 0,
        }
    }

    pub fn spec(&self) -> &PoolSpec {
        &self.spec
    }
    /// Members in Zeek's `node_list` order.
    pub fn nodes(&self) -> &[PoolNode] {
        &self.nodes
    }
    pub fn node(&self, name: &str) -> Option<&PoolNode> {
        self.by_name.get(name).and_then(|&i| self.nodes.get(i))
    }
    pub fn contains(&self, name: &str) -> bool {
        self.by_name.contains_key(name)
    }
    pub fn alive_count(&self) -> usize {
        self.alive_count
    }
    /// The site ids currently in the HRW pool (members seen up, never the local node).
    pub fn hrw_sites(&self) -> impl Iterator<Item = u32> + '_ {
        self.sites.keys().copied()
    }

    /// `init_pool_node`.
    fn init_node(&mut self, name: &str, local_node: &str, topic: String) {
        if self.by_name.contains_key(name) {
            return;
        }
        let mut c: u64 = 0;
        loop {
            let alias = format!("{name}.{c}");
            let site_id = fnv1a32(alias.as_bytes());
            if self.nodes.iter().any(|n| n.site_id == site_id) {
                c += 1;
                continue;
            }
            let alive = name == local_node;
            if alive {
                self.alive_count += 1;
            }
            self.by_name.insert(name.to_string(), self.nodes.len());
            self.nodes.push(PoolNode {
                name: name.to_string(),
                alias,
                site_id,
                alive,
                topic,
            });
            return;
        }
    }

    /// `mark_pool_node_alive`. Returns false if `name` is not a member.
    fn mark_alive(&mut self, name: &str) -> bool {
        let Some(&i) = self.by_name.get(name) else {
            return false;
        };
        let n = &mut self.nodes[i];
        if !n.alive {
            n.alive = true;
            self.alive_count += 1;
        }
        self.sites.entry(n.site_id).or_insert(i);
        true
    }

    /// `mark_pool_node_dead`.
    fn mark_dead(&mut self, name: &str) -> bool {
        let Some(&i) = self.by_name.get(name) else {
            return false;
        };
        let n = &mut self.nodes[i];
        if n.alive {
            n.alive = false;
            self.alive_count -= 1;
        }
        self.sites.remove(&n.site_id);
        true
    }

    /// `HashHRW::get_site` over already-hashed key bytes: the site with the largest
    /// `hrw_weight(fnv1a32(key), site)`, ties to the larger site id. None without sites.
    pub fn hrw_pick_bytes(&self, key: &[u8]) -> Option<&PoolNode> {
        let d = fnv1a32(key);
        let mut best: Option<(u32, u32, usize)> = None;
        for (&site, &idx) in &self.sites {
            let w = hrw_weight(d, site);
            let better = match best {
                None => true,
                Some((bw, bs, _)) => w > bw || (w == bw && site > bs),
            };
            if better {
                best = Some((w, site, idx));
            }
        }
        best.and_then(|(_, _, idx)| self.nodes.get(idx))
    }

    /// `Cluster::hrw_topic`'s choice for a key of any type Zeek would hash the same way
    /// (see [`hrw_key_bytes`]). `Ok(None)` when no member is up.
    pub fn hrw_pick(&self, key: &Value) -> Result<Option<&PoolNode>> {
        let bytes = hrw_key_bytes(key)?;
        Ok(self.hrw_pick_bytes(&bytes))
    }

    /// `Cluster::rr_topic(pool, key)`: the next alive member for this key's cursor, the
    /// cursor advanced past it (wrapping). None when the pool is empty or nobody is alive
    /// (the cursor then ends where it started, as in Zeek).
    pub fn rr_pick(&mut self, key: &str) -> Option<&PoolNode> {
        // One hash lookup per pick (this runs for every log record with round robin).
        let len = self.nodes.len();
        let cursor = match self.rr_key_seq.get_mut(key) {
            Some(c) => c,
            None => self.rr_key_seq.entry(key.to_string()).or_insert(0),
        };
        let start = *cursor;
        if start >= len {
            return None;
        }
        let mut next = start;
        let mut found = None;
        loop {
            let idx = next;
            next += 1;
            if next == len {
                next = 0;
            }
            if self.nodes[idx].alive {
                found = Some(idx);
                break;
            }
            if next == start {
                break;
            }
        }
        *cursor = next;
        found.and_then(|i| self.nodes.get(i))
    }
}

/// What [`Pools::assign`] needs to know about the layout and the local node.
#[derive(Debug, Clone)]
pub struct AssignOptions<'a> {
    /// `Cluster::node`: this process's node name (alive from the start, not an HRW site).
    pub local_node: &'a str,
    /// `Cluster::manager_is_logger`: the first manager (by name) joins the logger candidates.
    pub manager_is_logger: bool,
    /// Prefix of `Cluster::node_topic(name)`; the topic is `prefix + name + separator`.
    /// Broker: `"zeek/cluster/node/"` and `"/"`; ZeroMQ: `"zeek.cluster.node."` and `"."`.
    pub node_topic_prefix: &'a str,
    pub node_topic_separator: &'a str,
}

impl<'a> AssignOptions<'a> {
    /// Broker topic naming, `manager_is_logger` off.
    pub fn broker(local_node: &'a str) -> AssignOptions<'a> {
        AssignOptions {
            local_node,
            manager_is_logger: false,
            node_topic_prefix: "zeek/cluster/node/",
            node_topic_separator: "/",
        }
    }
}

/// All registered pools of one node (`Cluster::registered_pools`).
#[derive(Debug, Clone, Default)]
pub struct Pools {
    pools: Vec<Pool>,
    assigned: bool,
    /// `Cluster::logger_pool`, for `rr_log_topic` (set by the built-in constructors).
    logger_pool: Option<PoolId>,
}

impl Pools {
    /// No pools registered.
    pub fn new() -> Pools {
        Pools::default()
    }

    /// The three built-in pools, registered in Zeek's order (worker, proxy, logger), so
    /// their ids are [`PoolId::worker`], [`PoolId::proxy`], [`PoolId::logger`].
    pub fn with_defaults() -> Pools {
        Pools::with_specs(PoolSpec::worker(), PoolSpec::proxy(), PoolSpec::logger())
    }

    /// The three built-in pools with redefined specs (`redef Cluster::proxy_pool_spec =
    /// ...`, or ZeroMQ's dotted topics), registered in Zeek's order.
    pub fn with_specs(worker: PoolSpec, proxy: PoolSpec, logger: PoolSpec) -> Pools {
        let mut p = Pools::new();
        p.pools.push(Pool::new(worker));
        p.pools.push(Pool::new(proxy));
        p.pools.push(Pool::new(logger));
        p.logger_pool = Some(PoolId::logger());
        p
    }

    /// `Cluster::register_pool`. Pools must be registered before [`Pools::assign`].
    pub fn register(&mut self, spec: PoolSpec) -> Result<PoolId> {
        if self.assigned {
            return Err(Error::state(format!(
                "pool \"{}\" registered after membership was assigned; register pools before assign()",
                spec.topic
            )));
        }
        self.pools.push(Pool::new(spec));
        Ok(PoolId(self.pools.len() - 1))
    }

    pub fn pool(&self, id: PoolId) -> Option<&Pool> {
        self.pools.get(id.0)
    }
    pub fn pool_mut(&mut self, id: PoolId) -> Option<&mut Pool> {
        self.pools.get_mut(id.0)
    }
    /// The pool whose spec has this topic.
    pub fn by_topic(&self, topic: &str) -> Option<PoolId> {
        self.pools
            .iter()
            .position(|p| p.spec.topic == topic)
            .map(PoolId)
    }
    /// Registered pools with their ids, in registration order.
    pub fn iter(&self) -> impl Iterator<Item = (PoolId, &Pool)> {
        self.pools.iter().enumerate().map(|(i, p)| (PoolId(i), p))
    }
    /// The topics of the pools `node` belongs to (what setup-subscriptions subscribes).
    pub fn topics_of(&self, node: &str) -> Vec<String> {
        self.pools
            .iter()
            .filter(|p| p.contains(node))
            .map(|p| p.spec.topic.clone())
            .collect()
    }

    /// Zeek's pool membership assignment (`pools.zeek`, `zeek_init` priority -5) over the
    /// layout's nodes (`(name, type)`, any order). Fails as Zeek's `Reporter::fatal` does:
    /// a pool of a type other than worker/proxy/logger, `exclusive` without `max_nodes`,
    /// or not enough nodes for the exclusive pools. Membership is fixed afterwards.
    pub fn assign(
        &mut self,
        layout: &[(String, PoolNodeType)],
        opts: &AssignOptions<'_>,
    ) -> Result<()> {
        if self.assigned {
            return Err(Error::state("pool membership is already assigned"));
        }
        // Eligible nodes per type, name-sorted by bytes (strcmp), as nodes_with_type.
        let with_type = |t: PoolNodeType| -> Vec<String> {
            let mut v: Vec<String> = layout
                .iter()
                .filter(|(_, nt)| *nt == t)
                .map(|(n, _)| n.clone())
                .collect();
            v.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
            v
        };
        struct Tracking {
            eligible: Vec<String>,
            next_idx: usize,
            excluded: usize,
        }
        let types = [
            PoolNodeType::Worker,
            PoolNodeType::Proxy,
            PoolNodeType::Logger,
        ];
        let mut elig: HashMap<PoolNodeType, Tracking> = types
            .iter()
            .map(|&t| {
                (
                    t,
                    Tracking {
                        eligible: with_type(t),
                        next_idx: 0,
                        excluded: 0,
                    },
                )
            })
            .collect();
        if opts.manager_is_logger {
            if let Some(m) = with_type(PoolNodeType::Manager).into_iter().next() {
                if let Some(t) = elig.get_mut(&PoolNodeType::Logger) {
                    t.eligible.push(m);
                }
            }
        }

        // sort(registered_pools, pool_sorter): strcmp on the topic.
        let mut order: Vec<usize> = (0..self.pools.len()).collect();
        order.sort_by(|&a, &b| {
            self.pools[a]
                .spec
                .topic
                .as_bytes()
                .cmp(self.pools[b].spec.topic.as_bytes())
        });

        for &i in &order {
            let spec = &self.pools[i].spec;
            let Some(t) = elig.get_mut(&spec.node_type) else {
                return Err(Error::invalid(format!(
                    "invalid pool node type: {} (pool \"{}\"; pools draw from WORKER, PROXY or LOGGER nodes)",
                    spec.node_type.zeek_name(),
                    spec.topic
                )));
            };
            if !spec.exclusive {
                continue;
            }
            let Some(max) = spec.max_nodes else {
                return Err(Error::invalid(format!(
                    "Cluster::PoolSpec 'max_nodes' field must be set when using the 'exclusive' flag (pool \"{}\")",
                    spec.topic
                )));
            };
            t.excluded += max;
        }
        for t in types {
            if let Some(tr) = elig.get(&t) {
                if tr.excluded > tr.eligible.len() {
                    return Err(Error::invalid(format!(
                        "not enough {} nodes to satisfy pool exclusivity requirements: need {} nodes, have {}",
                        t.zeek_name(),
                        tr.excluded,
                        tr.eligible.len()
                    )));
                }
            }
        }

        let topic_of = |name: &str| {
            format!(
                "{}{}{}",
                opts.node_topic_prefix, name, opts.node_topic_separator
            )
        };

        for &i in &order {
            let pool = &mut self.pools[i];
            if !pool.spec.exclusive {
                continue;
            }
            let max = pool.spec.max_nodes.unwrap_or(0);
            let Some(tr) = elig.get_mut(&pool.spec.node_type) else {
                continue;
            };
            for name in tr.eligible.iter().take(max) {
                pool.init_node(name, opts.local_node, topic_of(name));
            }
            tr.eligible = tr.eligible.split_off(max.min(tr.eligible.len()));
        }

        for &i in &order {
            let pool = &mut self.pools[i];
            if pool.spec.exclusive {
                continue;
            }
            let Some(tr) = elig.get_mut(&pool.spec.node_type) else {
                continue;
            };
            let n = tr.eligible.len();
            let to_init = match pool.spec.max_nodes {
                Some(m) if m < n => m,
                _ => n,
            };
            for _ in 0..to_init {
                // next_idx < n holds: it wraps to 0 at n, and to_init > 0 implies n > 0.
                let name = tr.eligible[tr.next_idx].clone();
                pool.init_node(&name, opts.local_node, topic_of(&name));
                tr.next_idx += 1;
                if tr.next_idx == n {
                    tr.next_idx = 0;
                }
            }
        }
        self.assigned = true;
        Ok(())
    }

    /// `Cluster::node_up` at priority 10: the node becomes alive and an HRW site in every
    /// pool it belongs to. Returns the ids of those pools.
    pub fn node_up(&mut self, name: &str) -> Vec<PoolId> {
        let mut hit = Vec::new();
        for (i, p) in self.pools.iter_mut().enumerate() {
            if p.mark_alive(name) {
                hit.push(PoolId(i));
            }
        }
        hit
    }

    /// `Cluster::node_down` at priority 10: the node is dead and no HRW site any more.
    pub fn node_down(&mut self, name: &str) -> Vec<PoolId> {
        let mut hit = Vec::new();
        for (i, p) in self.pools.iter_mut().enumerate() {
            if p.mark_dead(name) {
                hit.push(PoolId(i));
            }
        }
        hit
    }

    /// `Cluster::hrw_topic(pool, key)`: the chosen member's node topic, None when the pool
    /// has no site (Zeek returns "" and `publish_hrw` returns F).
    pub fn hrw_topic(&self, id: PoolId, key: &Value) -> Result<Option<String>> {
        let pool = self
            .pool(id)
            .ok_or_else(|| Error::not_found(format!("no pool with id {}", id.0)))?;
        Ok(pool.hrw_pick(key)?.map(|n| n.topic.clone()))
    }

    /// `Cluster::rr_topic(pool, key)`.
    pub fn rr_topic(&mut self, id: PoolId, key: &str) -> Result<Option<String>> {
        let pool = self
            .pool_mut(id)
            .ok_or_else(|| Error::not_found(format!("no pool with id {}", id.0)))?;
        Ok(pool.rr_pick(key).map(|n| n.topic.clone()))
    }

    /// `Cluster::rr_log_topic(id, path)` for the Broker backend: round robin over the live
    /// members of the logger pool under the key `"Cluster::rr_log_topic"`, else
    /// `Broker::default_log_topic(id)`, i.e. `"zeek/logs/" + stream_id` (e.g.
    /// `zeek/logs/Cluster::LOG`). The logger pool is the built-in one
    /// ([`Pools::with_defaults`], [`Pools::with_specs`]); without it the fallback is returned.
    pub fn rr_log_topic(&mut self, stream_id: &str) -> String {
        if let Some(id) = self.logger_pool {
            if let Some(pool) = self.pools.get_mut(id.0) {
                if let Some(n) = pool.rr_pick("Cluster::rr_log_topic") {
                    return n.topic.clone();
                }
            }
        }
        format!("zeek/logs/{stream_id}")
    }
}

/// 32-bit FNV-1a (`fnv1a32` in `src/zeek.bif`): offset basis 2166136261, prime 16777619,
/// XOR each byte then multiply, modulo 2^32.
pub fn fnv1a32(bytes: &[u8]) -> u32 {
    let mut h: u32 = 2_166_136_261;
    for &b in bytes {
        h ^= u32::from(b);
        h = h.wrapping_mul(16_777_619);
    }
    h
}

/// `hrw_weight(key_digest, site_id)` (`src/zeek.bif`): with the digest cut to 31 bits,
/// `(A * ((A * site + B) ^ d) + B) mod 2^31` in 32-bit unsigned arithmetic, A=1103515245,
/// B=12345.
pub fn hrw_weight(key_digest: u32, site_id: u32) -> u32 {
    const A: u32 = 1_103_515_245;
    const B: u32 = 12_345;
    let d = key_digest & 0x7fff_ffff;
    let t = A.wrapping_mul(site_id).wrapping_add(B);
    A.wrapping_mul(t ^ d).wrapping_add(B) & 0x7fff_ffff
}

/// The bytes Zeek's `fnv1a32(key)` hashes for `key`, on a little-endian host (Zeek writes
/// numbers in host order).
///
/// - string: its raw bytes.
/// - Every other type: `Val::Describe` into an `ODesc(DESC_BINARY)`: the type tag as a
///   4-byte int, then the value: bool, int, count as 8-byte integers; double and time as an
///   8-byte IEEE double (a Broker timestamp becomes `ns as f64 / 1e9` seconds, Broker's own
///   conversion); port as the 4-byte number, `"/\0"`, then `tcp`/`udp`/`icmp`/`unknown`;
///   addr and subnet as Zeek's text form plus a NUL.
/// - interval (described as text like `1.0 sec`), enum (needs the enum type's name, which
///   Broker does not carry), containers and none are refused with a Type error.
pub fn hrw_key_bytes(key: &Value) -> Result<Vec<u8>> {
    // Zeek's TypeTag numbers (src/Type.h).
    const BOOL: i32 = 1;
    const INT: i32 = 2;
    const COUNT: i32 = 3;
    const DOUBLE: i32 = 4;
    const TIME: i32 = 5;
    const PORT: i32 = 10;
    const ADDR: i32 = 11;
    const SUBNET: i32 = 12;
    let tagged = |tag: i32, body: &[u8]| {
        let mut v = tag.to_le_bytes().to_vec();
        v.extend_from_slice(body);
        v
    };
    Ok(match key {
        Value::String(b) => b.clone(),
        Value::Bool(b) => tagged(BOOL, &i64::from(*b).to_le_bytes()),
        Value::Integer(i) => tagged(INT, &i.to_le_bytes()),
        Value::Count(c) => tagged(COUNT, &c.to_le_bytes()),
        Value::Real(r) => tagged(DOUBLE, &r.to_le_bytes()),
        Value::Timestamp(ns) => tagged(TIME, &(*ns as f64 / 1e9).to_le_bytes()),
        Value::Port(Port { number, protocol }) => {
            let mut body = u32::from(*number).to_le_bytes().to_vec();
            body.extend_from_slice(b"/\0");
            body.extend_from_slice(zeek_proto_name(*protocol).as_bytes());
            tagged(PORT, &body)
        }
        Value::Address(a) => {
            let mut body = crate::log::text::addr(a).into_bytes();
            body.push(0);
            tagged(ADDR, &body)
        }
        Value::Subnet(s) => {
            let mut body = crate::log::text::subnet(s).into_bytes();
            body.push(0);
            tagged(SUBNET, &body)
        }
        other => {
            return Err(Error::type_mismatch(format!(
                "cannot hash a {} key as Zeek's fnv1a32 does (Zeek hashes its internal description of \
                 that type); use a string, bool, int, count, double, time, port, addr or subnet key",
                other.type_name()
            )))
        }
    })
}

fn zeek_proto_name(p: Protocol) -> &'static str {
    match p {
        Protocol::Tcp => "tcp",
        Protocol::Udp => "udp",
        Protocol::Icmp => "icmp",
        Protocol::Unknown => "unknown",
    }
}

#[cfg(test)]
mod tests;
