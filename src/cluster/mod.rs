//! Zeek's cluster framework on top of layouts and endpoints.
//!
//! So far: the layout, the options and the node's identity. The cluster's endpoint,
//! start, publish/subscribe and stores come with the cluster work and extend `Cluster`.

pub mod identity;
pub mod options;

pub use identity::{node_topic, nodeid_topic, Identity, CLUSTER_NODE_ENV};
pub use options::{Options, CONNECT_RETRY_ENV};

use crate::error::Result;
use crate::layout::{Layout, NodeType};
use std::sync::Arc;
use std::time::Duration;

/// A process's view of a cluster: the layout, the effective options (defaults < layout
/// redefs < explicit options) and who this process is.
#[derive(Debug, Clone)]
pub struct Cluster {
    layout: Arc<Layout>,
    options: Options,
    identity: Identity,
    peer_retry: Duration,
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

    /// `Cluster::worker_count`. Always 0 for now: it counts connected workers, and
    /// connections arrive with the cluster work (the endpoint); this is not faked.
    pub fn worker_count(&self) -> u64 {
        0
    }
}

#[cfg(test)]
mod tests;
