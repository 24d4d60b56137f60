//! A Zeek event on top of Broker data. CONTRACT: the struct's fields are fixed; the
//! data-model work adds the conversion to and from Broker's `[1, 1, [name, args, meta?]]`.

use super::Value;

/// A Zeek event: a name, its arguments, and Zeek's optional metadata as `(key, value)`
/// pairs (key 1 = network timestamp; keys >= 200 are free for users).
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub name: String,
    pub args: Vec<Value>,
    pub metadata: Vec<(u64, Value)>,
}
