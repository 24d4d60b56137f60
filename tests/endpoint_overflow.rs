//! Slow consumers: bounded memory, backpressure by default, drop policies counted.

mod endpoint_common;
use endpoint_common::*;
use std::time::{Duration, Instant};
use zcluster::endpoint::{MessageKind::*, OverflowPolicy};
use zcluster::ErrorKind;

fn count_payload(i: u64) -> Vec<u8> {
    let mut p = vec![2u8];
    p.extend_from_slice(&i.to_be_bytes());
    p
}

fn count_of(p: &[u8]) -> u64 {
    u64::from_be_bytes(p[1..9].try_into().unwrap())
}

#[test]
fn backpressure_bounds_memory_and_loses_nothing() {
    let a = ep_with(|o| {
        o.peer_buffer_size = 100;
        o.publish_queue = 100;
        o.backpressure_timeout = Duration::from_millis(300);
    });
    let b = ep_with(|o| o.inbox_capacity = 100);
    connect(&a, &b);
    b.subscribe("/slow").unwrap();
    assert!(a.await_peer_subscription("/slow", T));
    let mut sent = 0u64;
    let err = loop {
        match a.publish("/slow", count_payload(sent)) {
            Ok(()) => sent += 1,
            Err(e) => break e,
        }
        assert!(sent < 5_000_000, "publish never pushed back");
    };
    assert_eq!(err.kind, ErrorKind::WouldBlock, "{err}");
    // The consumer's inbox stayed bounded (capacity plus at most one read chunk).
    let pending = b.pending();
    assert!(pending <= 100 + 64 * 1024 / 40, "inbox grew to {pending}");
    // Drain: everything published arrives, in order, nothing dropped.
    for i in 0..sent {
        let m = next_data(&b, T).expect("event");
        assert_eq!(count_of(&m.payload), i);
    }
    assert!(next_data(&b, Duration::from_millis(100)).is_none());
    let (sa, sb) = (a.stats(), b.stats());
    assert_eq!((sa.peer_dropped, sb.inbox_dropped), (0, 0));
    // After draining, publishing works again.
    a.publish("/slow", count_payload(sent)).unwrap();
    assert_eq!(count_of(&next_data(&b, T).unwrap().payload), sent);
}

fn inbox_drop(policy: OverflowPolicy) -> Vec<u64> {
    let a = ep();
    let b = ep_with(|o| {
        o.inbox_capacity = 100;
        o.inbox_policy = policy;
    });
    connect(&a, &b);
    b.subscribe("/d").unwrap();
    assert!(a.await_peer_subscription("/d", T));
    for i in 0..10_000 {
        a.publish("/d", count_payload(i)).unwrap();
    }
    let deadline = Instant::now() + T;
    // Dropped messages are counted when the I/O thread hands its batch to the inbox.
    while b.stats().inbox_dropped < 9_900 {
        assert!(Instant::now() < deadline, "{:?}", b.stats());
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(b.stats().received, 10_000);
    assert_eq!(b.stats().inbox_dropped, 9_900);
    let mut got = Vec::new();
    while let Some(m) = next_data(&b, Duration::from_millis(100)) {
        got.push(count_of(&m.payload));
    }
    got
}

#[test]
fn inbox_drop_newest_keeps_the_first() {
    assert_eq!(
        inbox_drop(OverflowPolicy::DropNewest),
        (0..100).collect::<Vec<_>>()
    );
}

#[test]
fn inbox_drop_oldest_keeps_the_last() {
    assert_eq!(
        inbox_drop(OverflowPolicy::DropOldest),
        (9_900..10_000).collect::<Vec<_>>()
    );
}

/// a publishes to a raw peer that completes the handshake and never reads.
fn stalled_peer(policy: OverflowPolicy) -> (zcluster::endpoint::Endpoint, RawPeer) {
    let a = plain_ep_with(|o| {
        o.peer_buffer_size = 10;
        o.peer_policy = policy;
    });
    let port = a.listen("127.0.0.1", 0).unwrap();
    let mut r = RawPeer::connect(port, id(0x60));
    r.handshake(vec!["/".into()]);
    expect_kind(&a, &[PeerAdded]);
    assert!(a.await_peer_subscription("/s", T));
    let big = vec![5u8, 0x7f]
        .into_iter()
        .chain(std::iter::repeat_n(b'x', 127))
        .collect::<Vec<u8>>();
    for _ in 0..200_000 {
        a.publish("/s", big.clone()).unwrap();
    }
    (a, r)
}

#[test]
fn peer_drop_newest_counts_drops_and_never_blocks() {
    let (a, _r) = stalled_peer(OverflowPolicy::DropNewest);
    let deadline = Instant::now() + T;
    while a.stats().published < 200_000 {
        assert!(Instant::now() < deadline);
        std::thread::sleep(Duration::from_millis(5));
    }
    let s = a.stats();
    assert!(s.peer_dropped > 100_000, "{s:?}");
    assert_eq!(a.peers().len(), 1);
}

#[test]
fn peer_drop_oldest_counts_drops() {
    let (a, _r) = stalled_peer(OverflowPolicy::DropOldest);
    let deadline = Instant::now() + T;
    while a.stats().published < 200_000 {
        assert!(Instant::now() < deadline);
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(a.stats().peer_dropped > 100_000, "{:?}", a.stats());
}

#[test]
fn peer_disconnect_policy_removes_the_peer() {
    let (a, _r) = stalled_peer(OverflowPolicy::Disconnect);
    let m = expect_kind(&a, &[PeerRemoved, PeerLost]);
    assert_eq!(m.kind, PeerRemoved);
    assert!(m.text.contains("backpressure overflow"), "{}", m.text);
    assert_eq!(a.stats().peer_overflow_disconnects, 1);
}

/// A string value of a size and filling derived from `i`: small ones travel in the
/// publish queue's shared byte buffer, large ones (over 4 KiB) as their own vector.
fn mixed_payload(i: u64) -> Vec<u8> {
    let len = ((i * 997) % 9000) as usize + 1;
    let mut out = Vec::new();
    zcluster::data::bin::encode(&zcluster::data::Value::String(vec![i as u8; len]), &mut out);
    out
}

#[test]
fn backpressure_keeps_order_and_bytes_of_mixed_payloads() {
    // A slow consumer keeps publishes pending on the sender for a long time while more
    // arrive behind them (megabytes, so the pending bytes are compacted on the way).
    let a = ep_with(|o| {
        o.peer_buffer_size = 64;
        o.publish_queue = 4096;
        o.backpressure_timeout = Duration::from_secs(20);
    });
    let b = ep_with(|o| o.inbox_capacity = 64);
    connect(&a, &b);
    b.subscribe("/mix").unwrap();
    assert!(a.await_peer_subscription("/mix", T));
    let n = 8000u64;
    std::thread::scope(|s| {
        s.spawn(|| {
            for i in 0..n {
                a.publish("/mix", mixed_payload(i)).unwrap();
            }
        });
        for i in 0..n {
            if i < 3000 {
                std::thread::sleep(Duration::from_micros(200));
            }
            let m = next_data(&b, T).expect("event");
            assert!(m.payload == mixed_payload(i), "message {i} differs");
        }
    });
    assert!(next_data(&b, Duration::from_millis(100)).is_none());
    assert_eq!((a.stats().peer_dropped, b.stats().inbox_dropped), (0, 0));
}
