//! Zeek's cluster framework on top of layouts and endpoints.

pub mod pools;
