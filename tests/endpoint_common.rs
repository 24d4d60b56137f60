// Shared helpers for the endpoint tests (included with `mod endpoint_common;`).
#![allow(dead_code)]

use std::time::{Duration, Instant};
use zcluster::endpoint::{Endpoint, EndpointOptions, Message, MessageKind};
use zcluster::wire::EndpointId;

pub const T: Duration = Duration::from_secs(10);

pub fn id(b: u8) -> EndpointId {
    let mut x = [b; 16];
    x[6] = 0x40 | (b & 0x0f);
    x[8] = 0x80 | (b & 0x3f);
    EndpointId(x)
}

pub fn ep_with(f: impl FnOnce(&mut EndpointOptions)) -> Endpoint {
    let mut o = EndpointOptions::default();
    f(&mut o);
    Endpoint::new(o).expect("endpoint")
}

pub fn ep() -> Endpoint {
    ep_with(|_| {})
}

/// The next message of one of `kinds`, skipping others; panics after `T`.
pub fn expect_kind(e: &Endpoint, kinds: &[MessageKind]) -> Message {
    let deadline = Instant::now() + T;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match e.next(Some(left)) {
            Some(m) if kinds.contains(&m.kind) => return m,
            Some(_) => continue,
            None => panic!("no message of kinds {kinds:?} within {T:?}"),
        }
    }
}

/// Statuses in order until `n` of them arrived (data messages skipped).
pub fn statuses(e: &Endpoint, n: usize) -> Vec<Message> {
    let deadline = Instant::now() + T;
    let mut out = Vec::new();
    while out.len() < n {
        let left = deadline.saturating_duration_since(Instant::now());
        match e.next(Some(left)) {
            Some(m) if m.is_status() => out.push(m),
            Some(_) => {}
            None => panic!("only {} of {n} statuses within {T:?}: {out:?}", out.len()),
        }
    }
    out
}

pub fn kinds(ms: &[Message]) -> Vec<MessageKind> {
    ms.iter().map(|m| m.kind).collect()
}

/// A Broker-encoded string value (tag 5, varbyte length, bytes) for payloads.
pub fn string_payload(s: &str) -> Vec<u8> {
    assert!(s.len() < 128);
    let mut v = vec![5, s.len() as u8];
    v.extend_from_slice(s.as_bytes());
    v
}

/// Peers `b` with `a` (listening on loopback) and waits for both sides' PeerAdded.
pub fn connect(a: &Endpoint, b: &Endpoint) -> u16 {
    let port = a.listen("127.0.0.1", 0).unwrap();
    b.peer("127.0.0.1", port, Duration::from_millis(100)).unwrap();
    expect_kind(a, &[MessageKind::PeerAdded]);
    expect_kind(b, &[MessageKind::PeerAdded]);
    port
}

/// Next data message, or None within `d`.
pub fn next_data(e: &Endpoint, d: Duration) -> Option<Message> {
    let deadline = Instant::now() + d;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match e.next(Some(left)) {
            Some(m) if m.kind == MessageKind::Data => return Some(m),
            Some(_) => continue,
            None => return None,
        }
    }
}
