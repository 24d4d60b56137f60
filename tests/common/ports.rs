//! Loopback ports for layouts written by tests, benchmarks and the demo.
//!
//! Asking the kernel for port 0 and closing the socket is not enough when several nodes
//! start at once: the kernel may hand the same port out again, or give it to one of the
//! nodes' own outgoing connections (ephemeral ports, 32768-60999 on Linux) before the
//! node that was promised it binds it. These ports come from 20000-32767, below the
//! ephemeral range, are never repeated within a process, and are bindable when returned.

use std::sync::atomic::{AtomicU32, Ordering};

const LOW: u32 = 20_000;
const SPAN: u32 = 12_768;

/// A loopback TCP port that was free a moment ago and that this process has not handed
/// out before.
pub fn free_port() -> u16 {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    // Processes start at different offsets, so concurrent test binaries rarely meet.
    let base = std::process::id().wrapping_mul(7919) % SPAN;
    for _ in 0..SPAN {
        let k = NEXT.fetch_add(1, Ordering::Relaxed);
        let port = (LOW + (base + k.wrapping_mul(97)) % SPAN) as u16;
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free loopback port in {LOW}..{}", LOW + SPAN)
}
