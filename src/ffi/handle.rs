//! Handles are registry tokens, not pointers into Rust memory (nng's model): a handle's
//! bits are `kind << 56 | serial`, and every call resolves it under a short lock to an
//! `Arc`. A freed, stale, foreign or wrong-kind handle is therefore an error code
//! (`ZC_ERR_BAD_HANDLE`), never a use-after-free. Serials are never reused.

use crate::error::{Error, ErrorKind};
use once_cell::sync::Lazy;
use parking_lot::RwLock;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

const SERIAL_MASK: u64 = (1 << 56) - 1;

/// One registry per handle kind. `T` is what the handle owns (often a `Mutex<..>` for
/// mutable objects); `P` is the opaque C type its pointers are declared as.
pub(crate) struct Registry<T> {
    kind: u8,
    name: &'static str,
    map: Lazy<RwLock<HashMap<u64, Arc<T>>>>,
    next: AtomicU64,
}

impl<T> Registry<T> {
    pub(crate) const fn new(kind: u8, name: &'static str) -> Self {
        Registry {
            kind,
            name,
            map: Lazy::new(|| RwLock::new(HashMap::new())),
            next: AtomicU64::new(1),
        }
    }

    /// Registers `v` and returns its handle as the C pointer type `P`.
    pub(crate) fn insert<P>(&self, v: T) -> *mut P {
        self.insert_arc(Arc::new(v))
    }

    pub(crate) fn insert_arc<P>(&self, v: Arc<T>) -> *mut P {
        let serial = self.next.fetch_add(1, Ordering::Relaxed) & SERIAL_MASK;
        let token = ((self.kind as u64) << 56) | serial;
        self.map.write().insert(token, v);
        token as usize as *mut P
    }

    fn token<P>(&self, p: *const P) -> crate::Result<u64> {
        if p.is_null() {
            return Err(Error::new(
                ErrorKind::NullArgument,
                format!("{} handle is NULL", self.name),
            ));
        }
        let token = p as usize as u64;
        let kind = (token >> 56) as u8;
        if kind != self.kind {
            return Err(Error::new(
                ErrorKind::BadHandle,
                format!(
                    "not a {} handle (a handle of another type, or a foreign pointer)",
                    self.name
                ),
            ));
        }
        Ok(token)
    }

    /// Resolves a handle to its object.
    pub(crate) fn get<P>(&self, p: *const P) -> crate::Result<Arc<T>> {
        let token = self.token(p)?;
        self.map
            .read()
            .get(&token)
            .cloned()
            .ok_or_else(|| self.stale())
    }

    /// Unregisters a handle and returns its object (for `_free` and ownership transfer).
    pub(crate) fn remove<P>(&self, p: *const P) -> crate::Result<Arc<T>> {
        let token = self.token(p)?;
        self.map.write().remove(&token).ok_or_else(|| self.stale())
    }

    /// `_free`: NULL is a no-op; a stale or foreign handle is reported, never freed twice.
    pub(crate) fn free<P>(&self, p: *const P) -> crate::Result<()> {
        if p.is_null() {
            return Ok(());
        }
        self.remove(p).map(drop)
    }

    fn stale(&self) -> Error {
        Error::new(
            ErrorKind::BadHandle,
            format!("{} handle is freed or unknown", self.name),
        )
    }
}

/// Handle kinds. Numbers are private to the library but never reused for another type;
/// some are reserved for handle types still to come.
#[allow(dead_code)]
pub(crate) mod kind {
    pub(crate) const LAYOUT: u8 = 0x11;
    pub(crate) const NODE: u8 = 0x12;
    pub(crate) const OPTIONS: u8 = 0x13;
    pub(crate) const VALUE: u8 = 0x21;
    pub(crate) const EVENT: u8 = 0x22;
    pub(crate) const ENDPOINT: u8 = 0x31;
    pub(crate) const MESSAGE: u8 = 0x32;
    pub(crate) const ENDPOINT_OPTIONS: u8 = 0x33;
    pub(crate) const CLUSTER: u8 = 0x41;
    pub(crate) const STORE: u8 = 0x51;
    pub(crate) const ITER: u8 = 0x61;
    pub(crate) const ZMQ_PROXY: u8 = 0x71;
    pub(crate) const WEBSOCKET_OPTIONS: u8 = 0x81;
    pub(crate) const WEBSOCKET_CLIENT_OPTIONS: u8 = 0x82;
    pub(crate) const LOG_STREAM: u8 = 0x91;
}
