//! Broker-style data stores, network-free: backends, operations, Broker's store command
//! encoding, channel reliability state machines, and master/clone logic objects that a
//! driver (the endpoint) feeds with commands and `tick(now)` calls.
//!
//! Time is explicit everywhere: `now` is nanoseconds since the Unix epoch, intervals are
//! nanoseconds, and the channel layer counts ticks (Broker: one tick per 100 ms).

mod codec;
pub mod backend;
pub mod ops;
pub mod command;
pub mod channel;

pub use backend::{
    default_sqlite_path, validate_store_name, Backend, BackendKind, JournalMode, MemoryBackend,
    SqliteBackend, SqliteOptions, Synchronous,
};
pub use command::{Command, CommandTag, EntityId, InternalCommand, Snapshot};
