//! Seams between the endpoint's I/O thread and the layers that sit beside it rather than
//! on top of it: taps (the WebSocket server and client see data messages as they pass) and
//! per-peer counters (metrics).
//!
//! A tap is registered with a filter. The I/O thread offers it every data message whose
//! topic matches: those received from peers (broadcast, not addressed), those published
//! by the host or a hook, and those published through another tap (`Endpoint::
//! publish_from`), each with the origin that published it (0: a peer, the host or a hook).
//! A tap's filter is part of what the endpoint advertises to its peers, but not of what the
//! host receives: a WebSocket client's subscriptions bring its topics to the node without
//! filling the host's inbox. A tap's `offer` runs on the I/O thread: it must not block.

use super::PeerInfo;
use parking_lot::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Receives the data messages a tap's filter matches, on the endpoint's I/O thread.
pub trait Tap: Send + Sync {
    /// `origin` is the publishing tap origin (`Endpoint::publish_from`), 0 otherwise.
    fn offer(&self, topic: &str, payload: &[u8], origin: u64);
    /// The I/O thread applied the `set_tap` call with this generation: the filter is in
    /// effect and advertised to the peers.
    fn updated(&self, _generation: u64) {}
    /// Only this endpoint's own publishes (the host's, a hook's, another tap's): not
    /// offered what peers send, and not advertised to them (a WebSocket client transport).
    fn local_only(&self) -> bool {
        false
    }
    /// The tap cannot take more now (its queue is full): the I/O thread leaves the
    /// publishes it would offer queued, so the host's `publish` waits (backpressure), until
    /// the tap wakes the endpoint (`EndpointHandle::hook_waker`) with room again.
    fn full(&self) -> bool {
        false
    }
}

/// Counters of one peering, updated by the I/O thread, read by `Endpoint::peer_stats`.
#[derive(Debug, Default)]
pub struct PeerCounters {
    pub(crate) messages_in: AtomicU64,
    pub(crate) bytes_in: AtomicU64,
    pub(crate) messages_out: AtomicU64,
    pub(crate) bytes_out: AtomicU64,
    /// Envelopes queued for the peer and not yet taken by the kernel.
    pub(crate) queued: AtomicU64,
    /// The largest `queued` seen since the peering started.
    pub(crate) queued_max: AtomicU64,
    /// Envelopes for this peer dropped by a drop policy.
    pub(crate) dropped: AtomicU64,
}

impl PeerCounters {
    pub(crate) fn add_in(&self, bytes: usize) {
        self.messages_in.fetch_add(1, Ordering::Relaxed);
        self.bytes_in.fetch_add(bytes as u64, Ordering::Relaxed);
    }

    pub(crate) fn add_out(&self, bytes: usize, queued: usize) {
        self.messages_out.fetch_add(1, Ordering::Relaxed);
        self.bytes_out.fetch_add(bytes as u64, Ordering::Relaxed);
        self.set_queued(queued);
    }

    pub(crate) fn set_queued(&self, queued: usize) {
        let q = queued as u64;
        self.queued.store(q, Ordering::Relaxed);
        if q > self.queued_max.load(Ordering::Relaxed) {
            self.queued_max.store(q, Ordering::Relaxed);
        }
    }
}

/// A snapshot of one peering's counters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerStats {
    pub peer: PeerInfo,
    /// Envelopes (data, commands and control) received from / queued for the peer.
    pub messages_in: u64,
    pub bytes_in: u64,
    pub messages_out: u64,
    pub bytes_out: u64,
    /// Envelopes waiting for the kernel to take them now, and the most seen at once.
    pub queued: u64,
    pub queued_max: u64,
    pub dropped: u64,
}

/// The peerings' counters, shared with host threads.
#[derive(Default)]
pub(crate) struct PeerTable {
    pub(crate) peers: Mutex<Vec<(PeerInfo, Arc<PeerCounters>)>>,
}

impl PeerTable {
    pub(crate) fn add(&self, info: PeerInfo, c: Arc<PeerCounters>) {
        self.peers.lock().push((info, c));
    }

    pub(crate) fn remove(&self, c: &Arc<PeerCounters>) {
        self.peers.lock().retain(|(_, x)| !Arc::ptr_eq(x, c));
    }

    pub(crate) fn snapshot(&self) -> Vec<PeerStats> {
        let l = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let mut v: Vec<PeerStats> = self
            .peers
            .lock()
            .iter()
            .map(|(p, c)| PeerStats {
                peer: p.clone(),
                messages_in: l(&c.messages_in),
                bytes_in: l(&c.bytes_in),
                messages_out: l(&c.messages_out),
                bytes_out: l(&c.bytes_out),
                queued: l(&c.queued),
                queued_max: l(&c.queued_max),
                dropped: l(&c.dropped),
            })
            .collect();
        v.sort_by(|a, b| (&a.peer.address, a.peer.port).cmp(&(&b.peer.address, b.peer.port)));
        v
    }
}
