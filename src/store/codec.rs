//! The store's single entry point to Broker's binary value encoding (`crate::data::bin`):
//! SQLite blobs and command payloads both go through these names.

pub(crate) use crate::data::bin::{
    decode as decode_value, decode_prefix as decode_value_prefix, read_varbyte, write_len,
};

use crate::data::Value;
use crate::error::Result;

/// Appends the tagged encoding of `v`, refusing lengths beyond Broker's 32-bit varbyte.
pub(crate) fn encode_value(v: &Value, out: &mut Vec<u8>) -> Result<()> {
    crate::data::bin::try_encode(v, out)
}
