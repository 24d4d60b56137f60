//! Zeek's cluster framework on top of layouts and endpoints.
//!
//! `Cluster` is a process's view (layout, options, identity); `start` makes it a running
//! node (`runtime`): an endpoint that listens, peers by role, subscribes by role, and
//! raises hello / node_up / node_down (its own message kinds, `kinds`: `HELLO`, `NODE_UP`,
//! `NODE_DOWN`).

pub mod identity;
pub mod kinds;
pub mod legacy;
pub mod logging;
pub mod options;
pub mod pools;
pub mod runtime;
pub mod services;

pub use identity::{node_topic, nodeid_topic, Identity, CLUSTER_NODE_ENV};
pub use kinds::{HELLO, NODE_DOWN, NODE_UP};
pub use options::{ClusterBackend, Options, CONNECT_RETRY_ENV};

use crate::error::Result;
use crate::layout::{Layout, NodeType};
use crate::store::{Store, StoreInfo, StoreService};
use once_cell::sync::OnceCell;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// A process's view of a cluster: the layout, the effective options (defaults < layout
/// redefs < explicit options) and who this process is.
pub struct Cluster {
    layout: Arc<Layout>,
    options: Options,
    identity: Identity,
    peer_retry: Duration,
    runtime: OnceCell<runtime::Runtime>,
    /// The stores of this node; its endpoint's hook drives them once started.
    stores: Arc<StoreService>,
    /// `Cluster::stores`: preconfigured records and the stores created so far.
    store_table: parking_lot::Mutex<BTreeMap<String, StoreInfo<Store>>>,
    /// Log streams created before `start`.
    log_streams: parking_lot::Mutex<Vec<crate::log::LogStream>>,
    /// The host's rotation post-processor (a logger's), set before `start`.
    log_post: parking_lot::Mutex<Option<crate::log::PostProcessor>>,
    /// Metrics endpoint and WebSocket servers (`services`).
    services: services::Services,
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cluster")
            .field("node", &self.identity.node_name())
            .field("started", &self.runtime.get().is_some())
            .finish()
    }
}

impl Cluster {
    /// Builds the cluster view. `node` None falls back to a set `Cluster::node` option, then
    /// to the `CLUSTER_NODE` environment variable. `ZEEK_DEFAULT_CONNECT_RETRY` is read
    /// once, here.
    pub fn new(layout: Arc<Layout>, node: Option<&str>, explicit: &Options) -> Result<Cluster> {
        let env_node = Identity::env_node();
        let env_retry = std::env::var(CONNECT_RETRY_ENV).ok();
        Cluster::with_env(
            layout,
            node,
            explicit,
            env_node.as_deref(),
            env_retry.as_deref(),
        )
    }

    /// `new` with the environment passed in (for hosts and tests that must not depend on
    /// the process environment).
    pub fn with_env(
        layout: Arc<Layout>,
        node: Option<&str>,
        explicit: &Options,
        env_node: Option<&str>,
        env_connect_retry: Option<&str>,
    ) -> Result<Cluster> {
        let options = explicit.layered_over(&layout);
        let mut identity = Identity::resolve(&layout, node, options.node(), env_node)?;
        let peer_retry = options.peer_retry(env_connect_retry);
        let endpoint_id = match options.cluster_backend() {
            ClusterBackend::Broker => crate::wire::EndpointId::parse(identity.node_id())?,
            ClusterBackend::ZeroMQ => {
                identity.set_node_id(crate::zeromq::node_id(identity.node_name())?);
                crate::zeromq::endpoint_id_of(identity.node_id())
            }
        };
        let stores = StoreService::new(endpoint_id);
        Ok(Cluster {
            layout,
            options,
            identity,
            peer_retry,
            runtime: OnceCell::new(),
            stores,
            store_table: parking_lot::Mutex::new(BTreeMap::new()),
            log_streams: parking_lot::Mutex::new(Vec::new()),
            log_post: parking_lot::Mutex::new(None),
            services: services::Services::default(),
        })
    }

    pub fn layout(&self) -> &Arc<Layout> {
        &self.layout
    }

    pub fn options(&self) -> &Options {
        &self.options
    }

    pub fn identity(&self) -> &Identity {
        &self.identity
    }

    pub fn is_enabled(&self) -> bool {
        self.identity.is_enabled()
    }

    pub fn local_node_type(&self) -> NodeType {
        self.identity.local_node_type()
    }

    pub fn node_name(&self) -> &str {
        self.identity.node_name()
    }

    pub fn node_id(&self) -> &str {
        self.identity.node_id()
    }

    /// `Cluster::node_topic(name)` with this cluster's `node_topic_prefix` (on ZeroMQ
    /// `zeek.cluster.node.<name>.`).
    pub fn node_topic(&self, name: &str) -> String {
        match self.backend() {
            ClusterBackend::Broker => node_topic(self.options.node_topic_prefix(), name),
            ClusterBackend::ZeroMQ => format!("{}{name}.", self.options.node_topic_prefix()),
        }
    }

    /// `Cluster::nodeid_topic(id)` with this cluster's `nodeid_topic_prefix` (on ZeroMQ
    /// `zeek.cluster.nodeid.<id>.`).
    pub fn nodeid_topic(&self, id: &str) -> String {
        match self.backend() {
            ClusterBackend::Broker => nodeid_topic(self.options.nodeid_topic_prefix(), id),
            ClusterBackend::ZeroMQ => format!("{}{id}.", self.options.nodeid_topic_prefix()),
        }
    }

    /// `Cluster::backend`: which protocol this node speaks.
    pub fn backend(&self) -> ClusterBackend {
        self.options.cluster_backend()
    }

    /// The endpoint id this node's endpoint and stores use: its node id on Broker (a
    /// UUID), derived from the ZeroMQ node id on ZeroMQ (`zeromq::endpoint_id_of`).
    pub fn endpoint_id(&self) -> Result<crate::wire::EndpointId> {
        match self.backend() {
            ClusterBackend::Broker => crate::wire::EndpointId::parse(self.identity.node_id()),
            ClusterBackend::ZeroMQ => Ok(crate::zeromq::endpoint_id_of(self.identity.node_id())),
        }
    }

    /// The retry interval peerings will use: `Cluster::retry_interval`, or
    /// `ZEEK_DEFAULT_CONNECT_RETRY` when set (see `Options::peer_retry`).
    pub fn peer_retry(&self) -> Duration {
        self.peer_retry
    }

    /// `Cluster::worker_count`: the workers connected now (that said hello and have not
    /// gone down). 0 before `start`.
    pub fn worker_count(&self) -> u64 {
        self.runtime.get().map_or(0, |r| r.worker_count())
    }

    /// Starts the node: listens on its `$p`, subscribes its role's topics, peers with the
    /// nodes its role peers with (retrying on `retry_interval`), and from then on
    /// exchanges hellos. cluster.log (on a logger, or the manager when
    /// `manager_is_logger`) goes to the working directory.
    pub fn start(&self) -> Result<()> {
        self.start_in(None)
    }

    /// `start`, writing cluster.log into `log_dir` when this node writes logs.
    pub fn start_in(&self, log_dir: Option<std::path::PathBuf>) -> Result<()> {
        if self.runtime.get().is_some() {
            return Err(crate::Error::state("the cluster node is already started"));
        }
        let rt = runtime::Runtime::start(self, log_dir)?;
        self.runtime
            .set(rt)
            .map_err(|_| crate::Error::state("the cluster node is already started"))?;
        let disable = std::env::var(services::DISABLE_LISTEN_ENV).is_ok_and(|v| !v.is_empty());
        self.start_services(disable)
    }

    /// The running node, or a `State` error before `start`.
    pub fn running(&self) -> Result<&runtime::Runtime> {
        self.runtime.get().ok_or_else(|| {
            crate::Error::state("the cluster node is not started (call start first)")
        })
    }

    /// `Cluster::log(msg)`.
    pub fn log(&self, message: &str) -> Result<()> {
        self.running()?.log(self, message)
    }

    /// `Log::create_stream(id, [$columns, $path])`: a log stream this node writes, before
    /// or after `start`. The same definition again is fine; another one under the same id
    /// is a State error; a stream that cannot be (empty id or path, no columns, a
    /// repeated column) is InvalidArgument.
    pub fn create_log_stream(&self, stream: crate::log::LogStream) -> Result<()> {
        if let Some(rt) = self.runtime.get() {
            return rt.create_log_stream(stream);
        }
        stream.validate()?;
        let mut v = self.log_streams.lock();
        if let Some(old) = v.iter().find(|s| s.id == stream.id) {
            if *old == stream {
                return Ok(());
            }
            return Err(crate::Error::state(format!(
                "log stream {} already exists with other columns or path",
                stream.id
            )));
        }
        v.push(stream);
        Ok(())
    }

    pub(crate) fn log_streams(&self) -> Vec<crate::log::LogStream> {
        self.log_streams.lock().clone()
    }

    /// `Log::write(id, record)` (see `runtime::Runtime::log_write`). State error before
    /// `start`.
    pub fn log_write(&self, id: &str, record: Vec<crate::data::Value>) -> Result<()> {
        self.running()?.log_write(id, record)
    }

    /// The post-processor a logger runs on every rotated file (instead of
    /// `Log::default_rotation_postprocessor_cmd`). Before `start`.
    pub fn set_log_post_processor(&self, pp: Option<crate::log::PostProcessor>) {
        *self.log_post.lock() = pp;
    }

    pub(crate) fn log_post_processor(&self) -> Option<crate::log::PostProcessor> {
        self.log_post.lock().clone()
    }

    pub(crate) fn store_service(&self) -> &Arc<StoreService> {
        &self.stores
    }

    /// The stores attached on this node: those `create_store` made, and the clones a
    /// manager's `Broker::announce_masters` asked for (`___sync_store_<id>`).
    pub fn attached_stores(&self) -> Vec<String> {
        self.stores.names()
    }

    /// The `store_defaults` `create_store` uses: the `Cluster::default_*` store options
    /// and `Broker::default_clone_*_interval`.
    pub fn store_defaults(&self) -> Result<crate::store::StoreDefaults> {
        let o = &self.options;
        Ok(crate::store::StoreDefaults {
            default_backend: o.backend("Cluster::default_backend")?,
            default_persistent_backend: o.backend("Cluster::default_persistent_backend")?,
            default_master_node: o.default_master_node().to_string(),
            default_store_dir: o.default_store_dir().to_string(),
            default_clone_resync_interval: o.interval_ns("Broker::default_clone_resync_interval"),
            default_clone_stale_interval: o.interval_ns("Broker::default_clone_stale_interval"),
            default_clone_mutation_buffer_interval: o
                .interval_ns("Broker::default_clone_mutation_buffer_interval"),
        })
    }

    /// Pre-configures an entry of `Cluster::stores` (before `create_store` of its name):
    /// its master node, backend, options and clone intervals override the defaults.
    pub fn set_store_info(&self, name: &str, info: StoreInfo<Store>) {
        self.store_table.lock().insert(name.to_string(), info);
    }

    /// Sets one field of the `Cluster::stores[name]` entry (made from the defaults if there
    /// is none), as `redef Cluster::stores += { [name] = [...] }` would, before
    /// `create_store(name)`. Keys (Zeek's field names): `backend` (`Broker::MEMORY`,
    /// `Broker::SQLITE`), `master_node`, `path` (`$options$sqlite$path`), `synchronous`
    /// (`Broker::SQLITE_SYNCHRONOUS_OFF|NORMAL|FULL|EXTRA`, or just `FULL`...),
    /// `journal_mode` (`Broker::SQLITE_JOURNAL_MODE_DELETE|WAL`, or `WAL`...),
    /// `integrity_check` (T/F), `clone_resync_interval`, `clone_stale_interval`,
    /// `clone_mutation_buffer_interval` (intervals such as `10 secs`).
    pub fn set_store_option(&self, name: &str, key: &str, value: &str) -> Result<()> {
        let defaults = self.store_defaults()?;
        let mut table = self.store_table.lock();
        if table.get(name).is_some_and(|i| i.store.is_some()) {
            return Err(crate::Error::state(format!(
                "store '{name}' is already created: set its options before create_store"
            )));
        }
        let mut info = table
            .get(name)
            .cloned()
            .unwrap_or_else(|| StoreInfo::with_defaults(&defaults));
        use crate::options::{lookup, Scope};
        let spec = lookup(&[Scope::Store, Scope::Backend], key)?;
        let v = spec.parse(value)?;
        let interval = || -> Result<i64> {
            match v.as_secs() {
                Some(s) if s >= 0.0 => Ok((s * 1e9) as i64),
                _ => Err(spec.refuse(value, "is negative (expected 0 or more)")),
            }
        };
        match spec.name {
            "backend" => {
                info.backend = crate::store::BackendKind::from_zeek_name(v.as_str().unwrap_or(""))?
            }
            "master_node" => info.master_node = v.as_str().unwrap_or_default().to_string(),
            "clone_resync_interval" => info.clone_resync_interval = interval()?,
            "clone_stale_interval" => info.clone_stale_interval = interval()?,
            "clone_mutation_buffer_interval" => info.clone_mutation_buffer_interval = interval()?,
            _ => info.options.apply(spec, &v)?,
        }
        table.insert(name.to_string(), info);
        Ok(())
    }

    /// `Cluster::stores[name]`, if configured or created.
    pub fn store_info(&self, name: &str) -> Option<StoreInfo<Store>> {
        self.store_table.lock().get(name).cloned()
    }

    /// `Cluster::create_store(name, persistent)`: on the master node (or outside a
    /// cluster) attaches a master usable at once (SQLite files are created if missing);
    /// elsewhere a clone, which answers reads once its master's node is connected and it
    /// received the snapshot (`Store::get` waits for that up to its timeout). May be
    /// called before or after `start`. Creating a store again returns the same record.
    pub fn create_store(&self, name: &str, persistent: bool) -> Result<StoreInfo<Store>> {
        if let Some(i) = self.store_table.lock().get(name) {
            if i.store.is_some() {
                return Ok(i.clone());
            }
        }
        let defaults = self.store_defaults()?;
        let layout = &self.layout;
        let view = crate::store::ClusterView {
            enabled: self.is_enabled(),
            local_node: self.node_name(),
            nodes: layout.nodes.keys().map(String::as_str).collect(),
            managers: layout.nodes_with_type(NodeType::Manager),
        };
        let mut info = crate::store::resolve_store(
            name,
            persistent,
            &self.store_table.lock(),
            &defaults,
            &view,
        )?;
        let store = if info.master {
            let backend = info.options.open_backend(name, info.backend)?;
            self.stores.attach_master(name, backend)?
        } else {
            self.stores.attach_clone(name, info.clone_config())?
        };
        info.store = Some(store);
        self.store_table
            .lock()
            .insert(name.to_string(), info.clone());
        Ok(info)
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.services.close();
        // Store handles may outlive the cluster: they report Closed from now on.
        self.stores.close();
    }
}

#[cfg(test)]
mod tests;
