//! Zeek's cluster framework on top of layouts and endpoints.
//!
//! `Cluster` is a process's view (layout, options, identity); `start` makes it a running
//! node (`runtime`): an endpoint that listens, peers by role, subscribes by role, and
//! raises hello / node_up / node_down.

pub mod identity;
pub mod legacy;
pub mod options;
pub mod pools;
pub mod runtime;

pub use identity::{node_topic, nodeid_topic, Identity, CLUSTER_NODE_ENV};
pub use options::{Options, CONNECT_RETRY_ENV};

use crate::error::Result;
use crate::layout::{Layout, NodeType};
use once_cell::sync::OnceCell;
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
        let identity = Identity::resolve(&layout, node, options.node(), env_node)?;
        let peer_retry = options.peer_retry(env_connect_retry);
        Ok(Cluster {
            layout,
            options,
            identity,
            peer_retry,
            runtime: OnceCell::new(),
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

    /// `Cluster::node_topic(name)` with this cluster's `node_topic_prefix`.
    pub fn node_topic(&self, name: &str) -> String {
        node_topic(self.options.node_topic_prefix(), name)
    }

    /// `Cluster::nodeid_topic(id)` with this cluster's `nodeid_topic_prefix`.
    pub fn nodeid_topic(&self, id: &str) -> String {
        nodeid_topic(self.options.nodeid_topic_prefix(), id)
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
            .map_err(|_| crate::Error::state("the cluster node is already started"))
    }

    /// The running node, or a `State` error before `start`.
    pub fn running(&self) -> Result<&runtime::Runtime> {
        self.runtime
            .get()
            .ok_or_else(|| crate::Error::state("the cluster node is not started (call start first)"))
    }

    /// `Cluster::log(msg)`.
    pub fn log(&self, message: &str) -> Result<()> {
        self.running()?.log(self, message)
    }
}

#[cfg(test)]
mod tests;
