//! The host-facing queue: the I/O thread pushes, host threads pop.
//!
//! A pipe signals readiness for hosts with their own event loop: it holds exactly one byte
//! while messages wait and none otherwise (level semantics), so the descriptor is readable
//! exactly while `next` would return something. The byte is written when the queue turns
//! non-empty and read back when the last message is taken, both under the queue's lock.

use super::{Message, OverflowPolicy};
use mio::unix::pipe;
use parking_lot::{Condvar, Mutex};
use std::collections::VecDeque;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, RawFd};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

struct State {
    q: VecDeque<Message>,
    /// Messages that count against the bound (events and commands; statuses do not, so a
    /// full inbox never hides that a peer went away).
    bounded: usize,
    signaled: bool,
    /// The I/O thread stopped reading sockets because the inbox is full; wake it once
    /// the host has taken half.
    io_waiting: bool,
    /// The endpoint is closed: waiting `pop`s return instead of blocking.
    closed: bool,
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
                io_waiting: false,
                closed: false,
            }),
            ready: Condvar::new(),
            tx,
            rx,
            capacity: capacity.max(1),
            policy,
            waker,
            dropped: AtomicU64::new(0),
        })
    }

    pub(crate) fn fd(&self) -> RawFd {
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
    pub(crate) fn push_batch(&self, batch: &mut Vec<Message>) {
        if batch.is_empty() {
            return;
        }
        let mut st = self.state.lock();
        for m in batch.drain(..) {
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
        if !st.signaled && !st.q.is_empty() {
            st.signaled = true;
            let _ = (&self.tx).write(&[1]);
        }
        drop(st);
        self.ready.notify_all();
    }

    fn pop_locked(&self, st: &mut State) -> Option<Message> {
        let m = st.q.pop_front()?;
        if m.is_bounded() {
            st.bounded -= 1;
        }
        if st.q.is_empty() && st.signaled {
            st.signaled = false;
            let mut b = [0u8; 16];
            while matches!((&self.rx).read(&mut b), Ok(n) if n > 0) {}
        }
        if st.io_waiting && st.bounded <= self.capacity / 2 {
            st.io_waiting = false;
            let _ = self.waker.wake();
        }
        Some(m)
    }

    /// Takes the next message, waiting until `deadline` (None: do not wait).
    pub(crate) fn pop(&self, deadline: Option<Instant>) -> Option<Message> {
        let mut st = self.state.lock();
        loop {
            if let Some(m) = self.pop_locked(&mut st) {
                return Some(m);
            }
            match deadline {
                None => return None,
                Some(_) if st.closed => return None,
                Some(d) => {
                    if Instant::now() >= d || self.ready.wait_until(&mut st, d).timed_out() {
                        return self.pop_locked(&mut st);
                    }
                }
            }
        }
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
        for m in st.q.drain(..n) {
            bounded += usize::from(m.is_bounded());
            out.push(m);
        }
        st.bounded -= bounded;
        if st.q.is_empty() && st.signaled {
            st.signaled = false;
            let mut b = [0u8; 16];
            while matches!((&self.rx).read(&mut b), Ok(n) if n > 0) {}
        }
        if st.io_waiting && st.bounded <= self.capacity / 2 {
            st.io_waiting = false;
            let _ = self.waker.wake();
        }
        n
    }

    pub(crate) fn len(&self) -> usize {
        self.state.lock().q.len()
    }

    /// Marks the inbox closed and wakes every host thread blocked in `pop`. Messages
    /// already queued can still be taken.
    pub(crate) fn close(&self) {
        self.state.lock().closed = true;
        self.ready.notify_all();
    }
}
