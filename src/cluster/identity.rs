//! Who this process is in the cluster: its node name (explicit, `Cluster::node`, or the
//! `CLUSTER_NODE` environment variable), its type in the layout, and a node id unique for
//! the lifetime of the process.

use crate::error::{Error, Result};
use crate::layout::{Layout, NodeType};
use std::io::Read;

/// The environment variable Zeek reads the node name from.
pub const CLUSTER_NODE_ENV: &str = "CLUSTER_NODE";

/// A node's identity within a layout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    node_name: String,
    node_type: NodeType,
    node_id: String,
}

impl Identity {
    /// Resolves the identity. `name` None falls back to `option_node` (a set
    /// `Cluster::node`), then to `env_node` (the caller passes `CLUSTER_NODE`'s value, so
    /// tests and hosts decide where it comes from). An empty or absent name means the
    /// cluster is not enabled; a name that is not in the layout is `NotFound`, as Zeek
    /// terminates on an unknown `Cluster::node`.
    pub fn resolve(
        layout: &Layout,
        name: Option<&str>,
        option_node: Option<&str>,
        env_node: Option<&str>,
    ) -> Result<Identity> {
        let node_name = name.or(option_node).or(env_node).unwrap_or("").to_string();
        let node_type = if node_name.is_empty() {
            NodeType::None
        } else {
            match layout.nodes.get(&node_name) {
                Some(n) => n.node_type,
                None => {
                    let mut known: Vec<&str> = layout.nodes.keys().map(String::as_str).collect();
                    known.truncate(20);
                    return Err(Error::not_found(format!(
                        "node \"{node_name}\" is not in the layout {} (its nodes: {})",
                        layout.source,
                        if known.is_empty() {
                            "none".to_string()
                        } else {
                            known.join(", ")
                        }
                    )));
                }
            }
        };
        Ok(Identity {
            node_name,
            node_type,
            node_id: new_node_id()?,
        })
    }

    /// Replaces the node id (the ZeroMQ backend forms its own, `zeromq_<node>_...`).
    pub(crate) fn set_node_id(&mut self, id: String) {
        self.node_id = id;
    }

    /// Reads `CLUSTER_NODE` from the process environment (unset or not UTF-8: None).
    pub fn env_node() -> Option<String> {
        std::env::var(CLUSTER_NODE_ENV).ok()
    }

    /// `Cluster::is_enabled()`: true iff a node name is set.
    pub fn is_enabled(&self) -> bool {
        !self.node_name.is_empty()
    }

    /// `Cluster::local_node_type()`: NONE when the cluster is not enabled.
    pub fn local_node_type(&self) -> NodeType {
        self.node_type
    }

    /// `Cluster::node`: "" when not enabled.
    pub fn node_name(&self) -> &str {
        &self.node_name
    }

    /// This process's node id, a random UUID (version 4) in the text form Broker uses for
    /// endpoint ids; the same for the whole lifetime of the identity.
    pub fn node_id(&self) -> &str {
        &self.node_id
    }
}

/// `Cluster::node_topic(name)` as current Zeek defines it: the prefix, the name and a
/// trailing "/" so that "worker-1" does not also match "worker-10" (Zeek 3.0 had no
/// trailing separator; 5.0 and later do).
pub fn node_topic(prefix: &str, name: &str) -> String {
    format!("{prefix}{name}/")
}

/// `Cluster::nodeid_topic(id)`: `nodeid_topic_prefix + id + "/"`.
pub fn nodeid_topic(prefix: &str, id: &str) -> String {
    format!("{prefix}{id}/")
}

/// A random UUID v4 ("xxxxxxxx-xxxx-4xxx-[89ab]xxx-xxxxxxxxxxxx") from /dev/urandom.
pub fn new_node_id() -> Result<String> {
    let mut b = [0u8; 16];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut b))
        .map_err(|e| {
            Error::new(
                crate::error::ErrorKind::Io,
                format!("cannot read /dev/urandom for a node id: {e}"),
            )
        })?;
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    Ok(format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    ))
}
