//! The message kinds the cluster layer raises (`MessageKind::Service`): Zeek's
//! `Cluster::hello`, `Cluster::node_up` and `Cluster::node_down`, each delivered to the host
//! with the node's name in `Message::node` and its endpoint id in `Message::peer`. In C
//! they are `ZC_MESSAGE_HELLO`, `ZC_MESSAGE_NODE_UP` and `ZC_MESSAGE_NODE_DOWN`, in Python
//! `MessageKind.HELLO`, `.NODE_UP` and `.NODE_DOWN`. The peering statuses underneath them
//! are the endpoint's own (`MessageKind::PeerAdded`, ...); the cluster layer also raises
//! the endpoint's `PeerRejected` for a hello from a node not in the layout.

use crate::endpoint::{MessageKind, ServiceKind};

/// A `Cluster::hello(name, id)` arrived from a peer.
pub const HELLO: MessageKind = MessageKind::Service(ServiceKind::new("hello"));
/// `Cluster::node_up(name, id)`: a node of the layout is up (its hello arrived and our
/// peering with it is up).
pub const NODE_UP: MessageKind = MessageKind::Service(ServiceKind::new("node_up"));
/// `Cluster::node_down(name, id)`: a node that was up is gone.
pub const NODE_DOWN: MessageKind = MessageKind::Service(ServiceKind::new("node_down"));

/// Every kind the cluster layer raises.
pub const KINDS: [MessageKind; 3] = [HELLO, NODE_UP, NODE_DOWN];
