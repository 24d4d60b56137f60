//! Broker's data model (`broker::data`) and its two encodings.
//!
//! - `value`: the 15 types, with Broker's total order (tag first, then value).
//! - `bin`: Broker's native binary encoding, as its 2.3+ wire protocol carries it.
//! - `json`: Broker's WebSocket JSON encoding (`{"@data-type": .., "data": ..}`).
//! - `event`: a Zeek event (`[1, 1, [name, args, metadata?]]`) on top of the model.

pub mod bin;
pub mod event;
pub mod json;
pub mod value;

pub use event::Event;
pub use value::{Address, Port, Protocol, Subnet, Value};
