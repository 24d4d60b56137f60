//! zcluster: a Zeek-style cluster node as a library.
//!
//! The core modules (layout, data, wire, endpoint, cluster) are safe Rust that knows
//! nothing of C. `ffi` is the only module with `unsafe` and `extern "C"`: a thin
//! layer over the core that `cbindgen` turns into `include/zcluster.h`.

// `unsafe` is refused everywhere but in `ffi`, which allows it for itself.
#![deny(unsafe_code)]
#![deny(unsafe_op_in_unsafe_fn)]

pub mod cluster;
pub mod data;
pub mod endpoint;
pub mod error;
#[allow(unsafe_code)]
pub mod ffi;
#[doc(hidden)]
pub mod fuzzing;
pub mod json;
pub mod layout;
pub mod log;
pub mod metrics;
pub mod options;
pub mod store;
pub mod websocket;
pub mod wire;
pub mod zeromq;

pub use error::{Error, ErrorKind, Result};

/// The crate version, as `zc_version()` reports it.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
