//! The host-facing queue: the I/O thread pushes, host threads pop.
//!
//! A pipe signals readiness for hosts with their own event loop: it holds exactly one byte
//! while messages wait and none otherwise (level semantics), so the descriptor is readable
//! exactly while `next` would return something. The byte is written when the queue turns
//! non-empty and read back when the last message is taken, both under the queue's lock,
//! from the moment the descriptor is first asked for (hosts that never use it pay no
//! system calls for it).

use super::{Message, MessageKind, OverflowPolicy};
use crate::wire::EndpointId;
use mio::unix::pipe;
use parking_lot::{Condvar, Mutex};
use std::collections::VecDeque;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, RawFd};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

/// Topic and payload bytes of data and command messages, copied by the I/O thread into
/// shared chunks instead of one allocation each: the host thread builds the `Message` (its
/// `String` and `Vec`) when it takes the item, so allocating and freeing both happen on
/// the host thread (cheap per-thread caches) rather than across threads.
pub(crate) const CHUNK: usize = 64 * 1024;

/// Chunks kept for reuse: each goes back here when its last message is taken, so the
/// I/O thread neither allocates them nor faults their pages in again.
#[derive(Default)]
pub(crate) struct ChunkPool(Mutex<Vec<Vec<u8>>>);

/// Chunks the pool keeps (about what a full default inbox holds).
const POOL_KEEP: usize = 32;

impl ChunkPool {
    fn give(&self, mut v: Vec<u8>) {
        if v.capacity() > 2 * CHUNK {
            return;
        }
        v.clear();
        let mut p = self.0.lock();
        if p.len() < POOL_KEEP {
            p.push(v);
        }
    }

    fn take(&self) -> Vec<u8> {
        self.0.lock().pop().unwrap_or_default()
    }
}

/// A sealed chunk, shared by the messages whose bytes it holds.
pub(crate) struct Chunk {
    data: Vec<u8>,
    pool: Arc<ChunkPool>,
}

impl Drop for Chunk {
    fn drop(&mut self) {
        self.pool.give(std::mem::take(&mut self.data));
    }
}

/// A data or command message whose bytes live in a chunk.
pub(crate) struct RawMsg {
    /// Set when the chunk is sealed (before the item reaches the inbox).
    pub(crate) chunk: Option<Arc<Chunk>>,
    pub(crate) start: usize,
    pub(crate) topic_len: usize,
    pub(crate) payload_len: usize,
    pub(crate) kind: MessageKind,
    pub(crate) sender: Option<EndpointId>,
}

/// What waits in the inbox.
pub(crate) enum Item {
    Msg(Box<Message>),
    Raw(RawMsg),
}

impl Item {
    fn is_bounded(&self) -> bool {
        match self {
            Item::Msg(m) => m.is_bounded(),
            Item::Raw(_) => true,
        }
    }

    pub(crate) fn into_message(self) -> Message {
        match self {
            Item::Msg(m) => *m,
            Item::Raw(r) => {
                let bytes = r.chunk.as_deref().map_or(&[][..], |c| &c.data[..]);
                let topic = bytes
                    .get(r.start..r.start + r.topic_len)
                    .unwrap_or_default();
                let p0 = r.start + r.topic_len;
                let payload = bytes.get(p0..p0 + r.payload_len).unwrap_or_default();
                Message {
                    kind: r.kind,
                    // Checked when the envelope was decoded.
                    topic: std::str::from_utf8(topic).map_or_else(
                        |_| String::from_utf8_lossy(topic).into_owned(),
                        str::to_owned,
                    ),
                    payload: payload.to_vec(),
                    sender: r.sender,
                    peer: None,
                    text: String::new(),
                    node: None,
                }
            }
        }
    }
}

/// This turn's messages for the host, kept by the I/O thread until it pushes them.
#[derive(Default)]
pub(crate) struct Deliveries {
    pub(crate) items: Vec<Item>,
    /// The open chunk: bytes of the raw items from `sealed` on.
    raw: Vec<u8>,
    sealed: usize,
    /// Bytes in the last sealed chunk, the size hint for the next.
    last_chunk: usize,
    pool: Arc<ChunkPool>,
}

impl Deliveries {
    pub(crate) fn len(&self) -> usize {
        self.items.len()
    }

    pub(crate) fn push(&mut self, m: Message) {
        self.items.push(Item::Msg(Box::new(m)));
    }

    /// Queues a data or command message, copying its bytes into the open chunk.
    pub(crate) fn push_raw(
        &mut self,
        kind: MessageKind,
        topic: &str,
        payload: &[u8],
        sender: Option<EndpointId>,
    ) {
        if !self.raw.is_empty() && self.raw.len() + topic.len() + payload.len() > CHUNK {
            self.seal();
        }
        if self.raw.capacity() == 0 {
            self.raw = self.pool.take();
            // Sized like the last chunk: a full 64 KiB block per turn when one message
            // arrives at a time costs latency (glibc returns and re-faults the pages).
            let need = topic.len() + payload.len();
            self.raw
                .reserve(self.last_chunk.clamp(256, CHUNK).max(need));
        }
        let start = self.raw.len();
        self.raw.extend_from_slice(topic.as_bytes());
        self.raw.extend_from_slice(payload);
        self.items.push(Item::Raw(RawMsg {
            chunk: None,
            start,
            topic_len: topic.len(),
            payload_len: payload.len(),
            kind,
            sender,
        }));
    }

    /// Closes the open chunk and hands it to the raw items that use it.
    pub(crate) fn seal(&mut self) {
        if self.raw.is_empty() {
            self.sealed = self.items.len();
            return;
        }
        self.last_chunk = self.raw.len();
        let chunk = Arc::new(Chunk {
            data: std::mem::take(&mut self.raw),
            pool: self.pool.clone(),
        });
        for it in &mut self.items[self.sealed..] {
            if let Item::Raw(r) = it {
                if r.chunk.is_none() {
                    r.chunk = Some(chunk.clone());
                }
            }
        }
        self.sealed = self.items.len();
    }

    /// Every queued message, built (for the hook, which runs on the I/O thread).
    pub(crate) fn take_messages(&mut self) -> Vec<Message> {
        self.seal();
        self.sealed = 0;
        self.items.drain(..).map(Item::into_message).collect()
    }
}

struct State {
    q: VecDeque<Item>,
    /// Messages that count against the bound (events and commands; statuses do not, so a
    /// full inbox never hides that a peer went away).
    bounded: usize,
    signaled: bool,
    /// Someone asked for the descriptor: only then is the pipe kept in step (two system
    /// calls per burst of messages that hosts reading with `next` or `poll` never need).
    fd_wanted: bool,
    /// The I/O thread stopped reading sockets because the inbox is full; wake it once
    /// the host has taken half.
    io_waiting: bool,
    /// The endpoint is closed: waiting `pop`s return instead of blocking.
    closed: bool,
    /// A host thread leading the transport's receive (`LeadReceive`) waits on the lead
    /// pipe: the next push, close or kick writes one byte to it.
    lead_waiting: bool,
    /// A kick came while no leader waited: the next `arm_lead` returns false at once.
    lead_kicked: bool,
    /// A byte waits in the lead pipe.
    lead_signaled: bool,
}

pub(crate) struct Inbox {
    state: Mutex<State>,
    ready: Condvar,
    tx: pipe::Sender,
    rx: pipe::Receiver,
    capacity: usize,
    policy: OverflowPolicy,
    waker: std::sync::Arc<mio::Waker>,
    pub(crate) dropped: AtomicU64,
    /// `pop_batch`'s buffer for the items it takes under the lock.
    scratch: Mutex<Vec<Item>>,
    /// The lead pipe (see `State::lead_waiting`), made on first use.
    lead: once_cell::sync::OnceCell<(pipe::Sender, pipe::Receiver)>,
}

impl Inbox {
    pub(crate) fn new(
        capacity: usize,
        policy: OverflowPolicy,
        waker: std::sync::Arc<mio::Waker>,
    ) -> crate::Result<Inbox> {
        let (tx, rx) = pipe::new().map_err(|e| {
            crate::Error::new(
                crate::ErrorKind::Io,
                format!("creating the inbox pipe: {e}"),
            )
        })?;
        Ok(Inbox {
            state: Mutex::new(State {
                q: VecDeque::new(),
                bounded: 0,
                signaled: false,
                fd_wanted: false,
                io_waiting: false,
                closed: false,
                lead_waiting: false,
                lead_kicked: false,
                lead_signaled: false,
            }),
            ready: Condvar::new(),
            tx,
            rx,
            capacity: capacity.max(1),
            policy,
            waker,
            dropped: AtomicU64::new(0),
            scratch: Mutex::new(Vec::new()),
            lead: once_cell::sync::OnceCell::new(),
        })
    }

    /// The descriptor a leading host thread waits on beside the transport's socket:
    /// readable after a push, a close or a kick while it waits (see `arm_lead`).
    pub(crate) fn lead_fd(&self) -> std::io::Result<RawFd> {
        let (_, rx) = self.lead.get_or_try_init(pipe::new)?;
        Ok(rx.as_raw_fd())
    }

    /// A leading host is about to wait on `lead_fd`: false if it should not (messages
    /// wait, the inbox closed, or a kick came since the last wait).
    pub(crate) fn arm_lead(&self) -> bool {
        let mut st = self.state.lock();
        if !st.q.is_empty() || st.closed || std::mem::take(&mut st.lead_kicked) {
            return false;
        }
        st.lead_waiting = true;
        true
    }

    /// The leading host's wait ended: takes the byte back if one was written.
    pub(crate) fn disarm_lead(&self) {
        let mut st = self.state.lock();
        st.lead_waiting = false;
        if std::mem::take(&mut st.lead_signaled) {
            if let Some((_, rx)) = self.lead.get() {
                let mut b = [0u8; 16];
                let _ = (&*rx).read(&mut b);
            }
        }
    }

    /// Wakes the leading host (or makes its next `arm_lead` return false): the
    /// transport's thread changed something the leader must look at.
    pub(crate) fn kick_lead(&self) {
        let mut st = self.state.lock();
        self.signal_lead(&mut st, true);
    }

    fn signal_lead(&self, st: &mut State, sticky: bool) {
        if st.lead_waiting {
            st.lead_waiting = false;
            if !st.lead_signaled {
                st.lead_signaled = true;
                if let Some((tx, _)) = self.lead.get() {
                    let _ = (&*tx).write(&[1]);
                }
            }
        } else if sticky {
            st.lead_kicked = true;
        }
    }

    pub(crate) fn closed(&self) -> bool {
        self.state.lock().closed
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.state.lock().q.is_empty()
    }

    pub(crate) fn fd(&self) -> RawFd {
        let mut st = self.state.lock();
        if !st.fd_wanted {
            st.fd_wanted = true;
            if !st.signaled && !st.q.is_empty() {
                st.signaled = true;
                let _ = (&self.tx).write(&[1]);
            }
        }
        drop(st);
        self.rx.as_raw_fd()
    }

    /// Whether the I/O thread may read more from sockets (backpressure policy only; with
    /// a drop policy the inbox always accepts and drops instead). `extra` counts messages
    /// the I/O thread holds but has not pushed yet. When it returns false the inbox
    /// remembers to wake the I/O thread once there is room again.
    pub(crate) fn has_room(&self, extra: usize) -> bool {
        if self.policy != OverflowPolicy::Backpressure {
            return true;
        }
        let mut st = self.state.lock();
        if st.bounded + extra < self.capacity {
            true
        } else {
            st.io_waiting = true;
            false
        }
    }

    /// Pushes a batch in order, applying the overflow policy to events and commands.
    pub(crate) fn push_batch(&self, batch: &mut Deliveries) {
        if batch.items.is_empty() {
            return;
        }
        batch.seal();
        batch.sealed = 0;
        let mut st = self.state.lock();
        for m in batch.items.drain(..) {
            let counted = m.is_bounded();
            if counted && st.bounded >= self.capacity {
                match self.policy {
                    OverflowPolicy::DropNewest => {
                        self.dropped.fetch_add(1, Ordering::Relaxed);
                        continue;
                    }
                    OverflowPolicy::DropOldest => {
                        if let Some(i) = st.q.iter().position(|m| m.is_bounded()) {
                            st.q.remove(i);
                            st.bounded -= 1;
                            self.dropped.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    // Backpressure: the I/O thread stopped reading in time; what it had
                    // already read is kept (the bound is exceeded by at most one batch).
                    _ => {}
                }
            }
            if counted {
                st.bounded += 1;
            }
            st.q.push_back(m);
        }
        if st.fd_wanted && !st.signaled && !st.q.is_empty() {
            st.signaled = true;
            let _ = (&self.tx).write(&[1]);
        }
        self.signal_lead(&mut st, false);
        drop(st);
        self.ready.notify_all();
    }

    fn pop_locked(&self, st: &mut State) -> Option<Item> {
        let m = st.q.pop_front()?;
        if m.is_bounded() {
            st.bounded -= 1;
        }
        if st.q.is_empty() && st.signaled {
            st.signaled = false;
            // Exactly one byte waits while signaled: one read takes it.
            let mut b = [0u8; 16];
            let _ = (&self.rx).read(&mut b);
        }
        if st.io_waiting && st.bounded <= self.capacity / 2 {
            st.io_waiting = false;
            let _ = self.waker.wake();
        }
        Some(m)
    }

    /// Takes the next message, waiting until `deadline` (None: do not wait).
    pub(crate) fn pop(&self, deadline: Option<Instant>) -> Option<Message> {
        let item = {
            let mut st = self.state.lock();
            loop {
                if let Some(m) = self.pop_locked(&mut st) {
                    break Some(m);
                }
                match deadline {
                    None => break None,
                    Some(_) if st.closed => break None,
                    Some(d) => {
                        if Instant::now() >= d || self.ready.wait_until(&mut st, d).timed_out() {
                            break self.pop_locked(&mut st);
                        }
                    }
                }
            }
        };
        // Built outside the lock.
        item.map(Item::into_message)
    }

    /// Moves up to `max` waiting messages to `out` under one lock, waiting until
    /// `deadline` (None: do not wait) for the first. Returns how many it moved.
    pub(crate) fn pop_batch(
        &self,
        out: &mut Vec<Message>,
        max: usize,
        deadline: Option<Instant>,
    ) -> usize {
        let mut st = self.state.lock();
        loop {
            if !st.q.is_empty() || max == 0 {
                break;
            }
            match deadline {
                None => return 0,
                Some(_) if st.closed => return 0,
                Some(d) => {
                    if Instant::now() >= d || self.ready.wait_until(&mut st, d).timed_out() {
                        break;
                    }
                }
            }
        }
        let n = st.q.len().min(max);
        let mut bounded = 0;
        // A kept buffer (never locked in the other order): a fresh large one per call made
        // glibc consolidate its caches of small blocks, slowing the allocations below.
        let mut items: Vec<Item> = std::mem::take(&mut *self.scratch.lock());
        for m in st.q.drain(..n) {
            bounded += usize::from(m.is_bounded());
            items.push(m);
        }
        st.bounded -= bounded;
        if st.q.is_empty() && st.signaled {
            st.signaled = false;
            // Exactly one byte waits while signaled: one read takes it.
            let mut b = [0u8; 16];
            let _ = (&self.rx).read(&mut b);
        }
        if st.io_waiting && st.bounded <= self.capacity / 2 {
            st.io_waiting = false;
            let _ = self.waker.wake();
        }
        drop(st);
        // Built outside the lock, on the host's thread.
        out.reserve(n);
        out.extend(items.drain(..).map(Item::into_message));
        let mut kept = self.scratch.lock();
        if kept.capacity() < items.capacity() {
            *kept = items;
        }
        n
    }

    pub(crate) fn len(&self) -> usize {
        self.state.lock().q.len()
    }

    /// Marks the inbox closed and wakes every host thread blocked in `pop`. Messages
    /// already queued can still be taken.
    pub(crate) fn close(&self) {
        let mut st = self.state.lock();
        st.closed = true;
        self.signal_lead(&mut st, true);
        drop(st);
        self.ready.notify_all();
    }
}
