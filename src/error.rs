//! One error type for the whole core. Its kind maps one-to-one onto the C result codes
//! (`ffi::result`), so the C layer never has to guess what a failure means.

use std::fmt;

/// What kind of failure this is. Stable: each kind has a fixed C result code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// A required pointer argument is NULL (C layer only).
    NullArgument,
    /// A handle is freed, unknown, or of another type (C layer only).
    BadHandle,
    /// An argument is out of range or malformed (not a parse of a document).
    InvalidArgument,
    /// Text that must be UTF-8 is not.
    Utf8,
    /// A document (layout, JSON, option value) does not parse; the message names where.
    Parse,
    /// Bytes do not decode as Broker's binary format.
    Decode,
    /// A value has another type than the operation needs.
    Type,
    /// The named thing (node, option, key, peer) does not exist.
    NotFound,
    /// An operating-system I/O failure.
    Io,
    /// A bounded wait ran out.
    Timeout,
    /// The operation would have to wait and the caller asked it not to.
    WouldBlock,
    /// The object (endpoint, store, ...) is closed.
    Closed,
    /// A protocol violation by a peer.
    Protocol,
    /// The operation conflicts with the current state (already started, duplicate, ...).
    State,
    /// A data-store failure (backend error, stale clone, ...).
    Store,
    /// A bug in zcluster: a panic caught at the boundary or a broken invariant.
    Internal,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    pub kind: ErrorKind,
    pub message: String,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error {
            kind,
            message: message.into(),
        }
    }
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidArgument, message)
    }
    pub fn parse(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Parse, message)
    }
    pub fn decode(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Decode, message)
    }
    pub fn type_mismatch(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Type, message)
    }
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::NotFound, message)
    }
    pub fn closed(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Closed, message)
    }
    pub fn state(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::State, message)
    }
    pub fn protocol(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Protocol, message)
    }
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Internal, message)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        let kind = match e.kind() {
            std::io::ErrorKind::WouldBlock => ErrorKind::WouldBlock,
            std::io::ErrorKind::TimedOut => ErrorKind::Timeout,
            std::io::ErrorKind::NotFound => ErrorKind::NotFound,
            _ => ErrorKind::Io,
        };
        Error::new(kind, e.to_string())
    }
}
