//! Broker-style data stores, network-free: backends, operations, Broker's store command
//! encoding, channel reliability state machines, and master/clone logic objects that a
//! driver (the endpoint) feeds with received commands and periodic `tick(now)` calls, and
//! drains with `take_outgoing()`.
//!
//! Time is explicit everywhere: `now` is nanoseconds since the Unix epoch, intervals and
//! expiries are nanoseconds, and the channel layer counts ticks (Broker: one per 100 ms).
//!
//! Wiring to an endpoint:
//! - A master subscribes to `master_topic(name)`, a clone to `clone_topic(name)`. Each
//!   command envelope received there is decoded with `InternalCommand::decode` and fed to
//!   `handle_command(cmd, now)`; a payload that does not decode is dropped (Broker does
//!   the same) and may be logged.
//! - Every `TICK_INTERVAL_NS` the driver calls `tick(now)`.
//! - After every call, `take_outgoing()` gives the commands to publish as command
//!   envelopes (`InternalCommand::to_bytes`) on `Outgoing::topic`. `unicast: Some(ep)`
//!   means Broker would deliver it to that endpoint only; publishing it to everyone is
//!   safe too (receivers filter by `receiver`, and duplicate events are ignored).
//! - On a lost peering: `Master::peer_lost(endpoint)`, and `Clone::master_lost(now)` when
//!   the endpoint is `clone.master()`'s.
//! - Local API calls (put, get, ...) go straight to the object, under the same lock as
//!   the calls above; a clone's `get` returning `ErrorKind::WouldBlock` means "no
//!   snapshot yet": wait (serving ticks) until it answers or the caller's timeout ends.

pub mod backend;
pub mod channel;
pub mod clone;
mod codec;
pub mod command;
pub mod info;
pub mod master;
pub mod ops;
pub mod service;
pub mod storage;

pub use backend::{
    default_sqlite_path, validate_store_name, Backend, BackendKind, JournalMode, MemoryBackend,
    SqliteBackend, SqliteOptions, Synchronous,
};
pub use clone::{CloneConfig, CloneStatus, LostMutation, StoreClone};
pub use command::{Command, CommandTag, EntityId, InternalCommand, Snapshot};
pub use info::{resolve_store, BackendOptions, ClusterView, StoreDefaults, StoreInfo};
pub use master::{ChannelConfig, Master};
pub use service::{Store, StoreService};

use crate::data::Value;

/// Broker's store tick (`defaults::store::tick_interval`): drive `tick` this often.
pub const TICK_INTERVAL_NS: i64 = 100_000_000;

/// The topic a store's master listens on: `<name>/<$>/data/master`.
pub fn master_topic(name: &str) -> String {
    format!("{name}/<$>/data/master")
}

/// The topic a store's clones listen on: `<name>/<$>/data/clone`.
pub fn clone_topic(name: &str) -> String {
    format!("{name}/<$>/data/clone")
}

/// A command to put on the wire as a command envelope.
#[derive(Debug, Clone, PartialEq)]
pub struct Outgoing {
    /// The store topic (`master_topic` or `clone_topic`).
    pub topic: String,
    /// `Some(endpoint)`: deliver only to that endpoint (Broker's unicast publish);
    /// `None`: publish to every subscriber of the topic.
    pub unicast: Option<[u8; 16]>,
    pub command: InternalCommand,
}

/// Broker's store events (`store_event.hh`), as a master or clone applies changes.
#[derive(Debug, Clone, PartialEq)]
pub enum StoreEvent {
    Insert {
        key: Value,
        value: Value,
        expiry: Option<i64>,
        publisher: EntityId,
    },
    Update {
        key: Value,
        old_value: Value,
        new_value: Value,
        expiry: Option<i64>,
        publisher: EntityId,
    },
    Erase {
        key: Value,
        publisher: EntityId,
    },
    Expire {
        key: Value,
        publisher: EntityId,
    },
}

#[cfg(test)]
mod tests;
