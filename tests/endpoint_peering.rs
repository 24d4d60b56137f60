//! Two and three endpoints in one process over 127.0.0.1: handshake, pub/sub, forwarding.

mod endpoint_common;
use endpoint_common::*;
use std::time::Duration;
use zcluster::endpoint::MessageKind::*;
use zcluster::endpoint::{Endpoint, Message};

fn handshake(listener_id: u8, connector_id: u8) {
    let a = ep_with(|o| o.id = Some(id(listener_id)));
    let b = ep_with(|o| o.id = Some(id(connector_id)));
    let port = a.listen("127.0.0.1", 0).unwrap();
    assert_ne!(port, 0);
    b.peer("127.0.0.1", port, Duration::from_millis(100))
        .unwrap();
    let sa = statuses(&a, 2);
    let sb = statuses(&b, 2);
    assert_eq!(kinds(&sa), [EndpointDiscovered, PeerAdded]);
    assert_eq!(kinds(&sb), [EndpointDiscovered, PeerAdded]);
    assert_eq!(sa[1].peer.as_ref().unwrap().id, Some(b.id()));
    assert_eq!(sb[1].peer.as_ref().unwrap().id, Some(a.id()));
    assert_eq!(sb[1].peer.as_ref().unwrap().port, port);
    assert_eq!(sb[1].peer.as_ref().unwrap().address, "127.0.0.1");
    assert_eq!(sb[1].text, "handshake successful");
    assert_eq!(a.peers().len(), 1);
    assert_eq!(b.peers().len(), 1);
}

#[test]
fn handshake_connector_is_originator() {
    handshake(0x22, 0x11);
}

#[test]
fn handshake_connector_is_responder() {
    handshake(0x11, 0x22);
}

#[test]
fn equal_ids_are_refused() {
    let a = ep_with(|o| o.id = Some(id(0x33)));
    let b = ep_with(|o| o.id = Some(id(0x33)));
    let port = a.listen("127.0.0.1", 0).unwrap();
    b.peer("127.0.0.1", port, Duration::ZERO).unwrap();
    let m = expect_kind(&a, &[PeerRejected, PeerAdded]);
    assert_eq!(m.kind, PeerRejected);
    assert!(m.text.contains("own endpoint id"), "{}", m.text);
    let m = expect_kind(&b, &[PeerUnavailable, PeerAdded]);
    assert_eq!(m.kind, PeerUnavailable);
    assert!(a.peers().is_empty());
}

#[test]
fn pubsub_by_prefix_without_self_delivery() {
    let a = ep();
    let b = ep();
    connect(&a, &b);
    b.subscribe("/foo/").unwrap();
    a.subscribe("/foo/").unwrap();
    assert!(a.await_peer_subscription("/foo/x", T));
    assert!(b.await_peer_subscription("/foo/x", T));
    a.publish("/foo/bar", string_payload("one")).unwrap();
    a.publish("/other", string_payload("no")).unwrap();
    a.publish("/foo/baz", string_payload("two")).unwrap();
    let m = next_data(&b, T).unwrap();
    assert_eq!(
        (m.topic.as_str(), m.payload.clone()),
        ("/foo/bar", string_payload("one"))
    );
    assert_eq!(m.sender, Some(a.id()));
    let m = next_data(&b, T).unwrap();
    assert_eq!(
        (m.topic.as_str(), m.payload.clone()),
        ("/foo/baz", string_payload("two"))
    );
    // a is subscribed to the same prefix but never sees its own publishes.
    assert!(next_data(&a, Duration::from_millis(200)).is_none());
    assert!(next_data(&b, Duration::from_millis(100)).is_none());
    // Byte-prefix semantics: "/foo/" does not match "/foo" but "/fo" matches "/foo/..".
    b.publish("/foo/back", string_payload("3")).unwrap();
    assert_eq!(next_data(&a, T).unwrap().topic, "/foo/back");
}

#[test]
fn unsubscribe_stops_delivery() {
    let a = ep();
    let b = ep();
    connect(&a, &b);
    b.subscribe("/t").unwrap();
    assert!(a.await_peer_subscription("/t", T));
    a.publish("/t", string_payload("x")).unwrap();
    assert!(next_data(&b, T).is_some());
    b.unsubscribe("/t").unwrap();
    let deadline = std::time::Instant::now() + T;
    while a.await_peer_subscription("/t", Duration::ZERO) {
        assert!(std::time::Instant::now() < deadline, "filter not withdrawn");
        std::thread::sleep(Duration::from_millis(5));
    }
    a.publish("/t", string_payload("y")).unwrap();
    assert!(next_data(&b, Duration::from_millis(300)).is_none());
    assert_eq!(a.stats().published, 2);
}

#[test]
fn forwarding_over_a_chain_of_three() {
    // a - b - c; only c subscribes; b forwards.
    let a = ep();
    let b = ep();
    let c = ep();
    connect(&b, &a);
    connect(&b, &c);
    c.subscribe("/chain/").unwrap();
    assert!(
        a.await_peer_subscription("/chain/x", T),
        "subscription did not propagate through b"
    );
    for i in 0..1000u32 {
        a.publish(&format!("/chain/{i}"), string_payload(&i.to_string()))
            .unwrap();
    }
    for i in 0..1000u32 {
        let m = next_data(&c, T).expect("event");
        assert_eq!(m.topic, format!("/chain/{i}"));
        assert_eq!(m.sender, Some(b.id()), "sender is the last hop");
    }
    assert!(
        next_data(&c, Duration::from_millis(200)).is_none(),
        "delivered more than once"
    );
    assert!(
        next_data(&b, Duration::from_millis(10)).is_none(),
        "b is not subscribed"
    );
    assert_eq!(b.stats().forwarded, 1000);
    // And back: c publishes, a subscribes.
    a.subscribe("/back").unwrap();
    assert!(c.await_peer_subscription("/back", T));
    c.publish("/back", string_payload("hi")).unwrap();
    assert_eq!(next_data(&a, T).unwrap().topic, "/back");
}

#[test]
fn forwarding_off_does_not_relay() {
    let a = ep();
    let b = ep_with(|o| o.forwarding = false);
    let c = ep();
    connect(&b, &a);
    connect(&b, &c);
    c.subscribe("/chain/").unwrap();
    b.subscribe("/b").unwrap();
    assert!(a.await_peer_subscription("/b", T));
    assert!(!a.await_peer_subscription("/chain/x", Duration::from_millis(200)));
}

#[test]
fn ttl_is_enforced() {
    // With ttl 2 an event crosses a-b (ttl 2 -> forwarded with 1) and b-c, but not c-d.
    let a = ep_with(|o| o.ttl = 2);
    let b = ep();
    let c = ep();
    let d = ep();
    connect(&b, &a);
    connect(&c, &b);
    connect(&d, &c);
    // d's filter must be known at c (so c would forward) before a publishes.
    d.subscribe("/ttl").unwrap();
    assert!(c.await_peer_subscription("/ttl", T));
    c.subscribe("/ttl").unwrap();
    assert!(a.await_peer_subscription("/ttl", T));
    a.publish("/ttl", string_payload("x")).unwrap();
    assert!(next_data(&c, T).is_some());
    assert!(next_data(&d, Duration::from_millis(300)).is_none());
    assert_eq!(c.stats().ttl_dropped, 1);
}

#[test]
fn ordering_of_100k_events() {
    let a = ep();
    let b = ep();
    connect(&a, &b);
    b.subscribe("/o").unwrap();
    assert!(a.await_peer_subscription("/o", T));
    let n = 100_000u32;
    std::thread::scope(|s| {
        s.spawn(|| {
            for i in 0..n {
                let mut p = vec![2u8];
                p.extend_from_slice(&u64::from(i).to_be_bytes());
                a.publish("/o", p).unwrap();
            }
        });
        let mut next = 0u32;
        while next < n {
            let m = next_data(&b, T).expect("event");
            let v = u64::from_be_bytes(m.payload[1..9].try_into().unwrap());
            assert_eq!(v, u64::from(next));
            next += 1;
        }
    });
    assert_eq!(b.stats().received, u64::from(n));
}

#[test]
fn unpeer_says_goodbye_removed_here_lost_there() {
    // As Broker: the side that unpeers reports peer_removed, the side that receives the
    // goodbye peer_lost (with the reason).
    let a = ep();
    let b = ep();
    let port = connect(&a, &b);
    b.unpeer("127.0.0.1", port).unwrap();
    let sb = statuses(&b, 2);
    assert_eq!(kinds(&sb), [PeerRemoved, EndpointUnreachable]);
    let sa = statuses(&a, 2);
    assert_eq!(kinds(&sa), [PeerLost, EndpointUnreachable]);
    assert_eq!(
        sa[0].text,
        "lost connection to remote peer (the peer said goodbye)"
    );
    assert_eq!(sa[0].peer.as_ref().unwrap().id, Some(b.id()));
    // No reconnect after an unpeer.
    assert!(b.next(Some(Duration::from_millis(300))).is_none());
    // Unpeering again names no peer.
    b.unpeer("127.0.0.1", port).unwrap();
    assert_eq!(
        expect_kind(&b, &[PeerInvalid]).text,
        "cannot unpeer from unknown peer"
    );
    assert!(a.peers().is_empty() && b.peers().is_empty());
}

#[test]
fn reconnects_after_remote_is_recreated_on_the_same_port() {
    let a = ep();
    let port = a.listen("127.0.0.1", 0).unwrap();
    let b = ep();
    b.peer("127.0.0.1", port, Duration::from_millis(50))
        .unwrap();
    b.subscribe("/r").unwrap();
    expect_kind(&b, &[PeerAdded]);
    drop(a);
    let s = statuses(&b, 2);
    assert_eq!(kinds(&s), [PeerLost, EndpointUnreachable]);
    // Connect attempts fail while nothing listens.
    assert_eq!(
        expect_kind(&b, &[PeerUnavailable, PeerAdded]).kind,
        PeerUnavailable
    );
    let a2 = ep();
    assert_eq!(a2.listen("127.0.0.1", port).unwrap(), port);
    expect_kind(&b, &[PeerAdded]);
    expect_kind(&a2, &[PeerAdded]);
    assert!(a2.await_peer_subscription("/r", T));
    a2.publish("/r", string_payload("again")).unwrap();
    assert_eq!(next_data(&b, T).unwrap().payload, string_payload("again"));
}

/// Peers b with a listener on `port` (retrying every `retry`) and checks events both ways.
fn events_both_ways(a: &Endpoint, b: &Endpoint, tag: &str) {
    assert!(a.await_peer_subscription("/to-b", T));
    assert!(b.await_peer_subscription("/to-a", T));
    a.publish("/to-b", string_payload(tag)).unwrap();
    b.publish("/to-a", string_payload(tag)).unwrap();
    assert_eq!(next_data(b, T).unwrap().payload, string_payload(tag));
    assert_eq!(next_data(a, T).unwrap().payload, string_payload(tag));
}

#[test]
fn a_clean_shutdown_of_the_listener_is_lost_and_the_connector_reconnects() {
    // The listener's close says goodbye (as Broker's shutdown does): the connector reports
    // peer_lost and keeps retrying, so a restart on the same port is peered again within
    // two retry intervals.
    let retry = Duration::from_millis(400);
    let listener = || {
        let a = ep();
        a.subscribe("/to-a").unwrap();
        a
    };
    let a = listener();
    let port = a.listen("127.0.0.1", 0).unwrap();
    let b = ep();
    b.subscribe("/to-b").unwrap();
    b.peer("127.0.0.1", port, retry).unwrap();
    expect_kind(&b, &[PeerAdded]);
    expect_kind(&a, &[PeerAdded]);
    events_both_ways(&a, &b, "first");
    a.close();
    // a saw its own close as removing the peer.
    let sa: Vec<Message> = std::iter::from_fn(|| a.next(None)).collect();
    assert!(sa.iter().any(|m| m.kind == PeerRemoved), "{sa:?}");
    let s = statuses(&b, 2);
    assert_eq!(kinds(&s), [PeerLost, EndpointUnreachable]);
    assert_eq!(
        s[0].text,
        "lost connection to remote peer (the peer said goodbye)"
    );
    drop(a);
    for round in 0..2 {
        let a = listener();
        assert_eq!(a.listen("127.0.0.1", port).unwrap(), port);
        let t0 = std::time::Instant::now();
        expect_kind(&b, &[PeerAdded]);
        expect_kind(&a, &[PeerAdded]);
        assert!(
            t0.elapsed() < 2 * retry,
            "re-peered after {:?}",
            t0.elapsed()
        );
        events_both_ways(&a, &b, &format!("round {round}"));
        drop(a);
        assert_eq!(expect_kind(&b, &[PeerLost, PeerRemoved]).kind, PeerLost);
    }
}

#[test]
fn the_listener_unpeering_is_lost_for_the_connector_which_reconnects() {
    // Broker's rule: only the initiator's own unpeer ends its retries.
    let a = ep();
    let port = a.listen("127.0.0.1", 0).unwrap();
    let b = ep();
    b.peer("127.0.0.1", port, Duration::from_millis(100))
        .unwrap();
    expect_kind(&a, &[PeerAdded]);
    expect_kind(&b, &[PeerAdded]);
    let bport = a.peers()[0].port;
    a.unpeer("127.0.0.1", bport).unwrap();
    assert_eq!(expect_kind(&a, &[PeerRemoved, PeerLost]).kind, PeerRemoved);
    assert_eq!(expect_kind(&b, &[PeerLost, PeerRemoved]).kind, PeerLost);
    expect_kind(&b, &[PeerAdded]);
    expect_kind(&a, &[PeerAdded]);
}

#[test]
fn peering_with_nothing_listening_retries_until_it_starts() {
    let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = probe.local_addr().unwrap().port();
    drop(probe);
    let b = ep();
    b.peer("127.0.0.1", port, Duration::from_millis(50))
        .unwrap();
    let m = expect_kind(&b, &[PeerUnavailable]);
    assert_eq!(m.peer.as_ref().unwrap().port, port);
    expect_kind(&b, &[PeerUnavailable]);
    let a = ep();
    a.listen("127.0.0.1", port).unwrap();
    expect_kind(&b, &[PeerAdded]);
}

#[test]
fn inbox_fd_is_readable_exactly_while_messages_wait() {
    let a = ep();
    let b = ep();
    connect(&a, &b);
    // Drain statuses.
    while a.next(Some(Duration::from_millis(50))).is_some() {}
    let fd = a.fd();
    let readable = || {
        let mut p = [zcluster_poll_fd(fd)];
        poll_once(&mut p)
    };
    assert!(!readable());
    a.subscribe("/fd").unwrap();
    assert!(b.await_peer_subscription("/fd", T));
    b.publish("/fd", string_payload("1")).unwrap();
    b.publish("/fd", string_payload("2")).unwrap();
    let deadline = std::time::Instant::now() + T;
    while a.pending() < 2 {
        assert!(std::time::Instant::now() < deadline);
        std::thread::sleep(Duration::from_millis(2));
    }
    assert!(readable());
    a.next(None).unwrap();
    assert!(readable());
    a.next(None).unwrap();
    assert!(!readable());
    assert!(a.next(None).is_none());
}

#[test]
fn inbox_fd_asked_for_late_is_readable_for_messages_already_waiting() {
    // The inbox keeps its descriptor in step only once someone asked for it.
    let a = ep();
    let b = ep();
    a.subscribe("/late").unwrap();
    connect(&a, &b);
    assert!(b.await_peer_subscription("/late", T));
    // Nothing else is waiting (connect took the statuses up to PeerAdded).
    while a.next(Some(Duration::from_millis(50))).is_some() {}
    b.publish("/late", string_payload("1")).unwrap();
    let deadline = std::time::Instant::now() + T;
    while a.pending() < 1 {
        assert!(std::time::Instant::now() < deadline);
        std::thread::sleep(Duration::from_millis(2));
    }
    let fd = a.fd();
    let readable = || {
        let mut p = [zcluster_poll_fd(fd)];
        poll_once(&mut p)
    };
    assert!(readable());
    while a.next(None).is_some() {}
    assert!(!readable());
    b.publish("/late", string_payload("2")).unwrap();
    let deadline = std::time::Instant::now() + T;
    while !readable() {
        assert!(std::time::Instant::now() < deadline);
        std::thread::sleep(Duration::from_millis(2));
    }
    assert!(next_data(&a, T).is_some());
    assert!(!readable());
}

// Level check of the fd without libc: a non-blocking peek through std is not possible on a
// pipe, so use poll(2) via the `libc` crate the library already depends on.
struct PollFd(std::os::fd::RawFd);
fn zcluster_poll_fd(fd: std::os::fd::RawFd) -> PollFd {
    PollFd(fd)
}
fn poll_once(p: &mut [PollFd; 1]) -> bool {
    let mut pfd = libc::pollfd {
        fd: p[0].0,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd, zero timeout.
    let n = unsafe { libc::poll(&mut pfd, 1, 0) };
    n == 1 && pfd.revents & libc::POLLIN != 0
}

#[test]
fn callbacks_run_inside_poll_on_the_callers_thread() {
    let a = ep();
    let b = ep();
    connect(&a, &b);
    let me = std::thread::current().id();
    let seen = std::sync::Arc::new(parking_lot::Mutex::new(Vec::new()));
    let s2 = seen.clone();
    b.set_callback(Some(Box::new(move |m| {
        assert_eq!(std::thread::current().id(), me);
        s2.lock().push(m.kind);
    })));
    b.subscribe("/cb").unwrap();
    assert!(a.await_peer_subscription("/cb", T));
    a.publish("/cb", string_payload("x")).unwrap();
    let deadline = std::time::Instant::now() + T;
    while !seen.lock().contains(&Event) {
        assert!(std::time::Instant::now() < deadline);
        b.poll(Duration::from_millis(50));
    }
}

/// CPU time of the I/O threads of the given endpoints (threads are named after their ids).
fn io_thread_cpu(ids: &[String]) -> Duration {
    let mut ticks = 0u64;
    let mut found = 0;
    for e in std::fs::read_dir("/proc/self/task").unwrap() {
        let dir = e.unwrap().path();
        let comm = std::fs::read_to_string(dir.join("comm")).unwrap_or_default();
        if !ids
            .iter()
            .any(|id| comm.trim() == format!("zc-ep-{}", &id[..8]))
        {
            continue;
        }
        found += 1;
        let s = std::fs::read_to_string(dir.join("stat")).unwrap();
        let rest = &s[s.rfind(')').unwrap() + 2..];
        let f: Vec<&str> = rest.split(' ').collect();
        ticks += f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap();
    }
    assert_eq!(found, ids.len(), "I/O threads not found");
    Duration::from_millis(ticks * 10)
}

#[test]
fn idle_endpoints_do_not_spin() {
    let a = ep();
    let b = ep();
    connect(&a, &b);
    b.subscribe("/idle").unwrap();
    assert!(a.await_peer_subscription("/idle", T));
    let ids = [a.id().to_string(), b.id().to_string()];
    let before = io_thread_cpu(&ids);
    std::thread::sleep(Duration::from_millis(2000));
    let used = io_thread_cpu(&ids) - before;
    assert!(
        used <= Duration::from_millis(20),
        "I/O threads used {used:?} of CPU in 2 s idle"
    );
}

#[test]
fn command_envelopes_travel_end_to_end() {
    let a = ep();
    let b = ep();
    let c = ep();
    connect(&a, &b);
    connect(&a, &c);
    // Know both filters arrived: c's first, then b's shorter prefix widens the union.
    c.subscribe("/store/").unwrap();
    assert!(a.await_peer_subscription("/store/x", T));
    b.subscribe("/store").unwrap();
    assert!(a.await_peer_subscription("/storeZ", T));
    // Broadcast by filter.
    a.publish_command("/store/x", vec![0, 1, 2], None).unwrap();
    for e in [&b, &c] {
        let m = expect_kind(e, &[Command]);
        assert_eq!(
            (m.topic.as_str(), m.payload.as_slice()),
            ("/store/x", &[0u8, 1, 2][..])
        );
    }
    // Addressed to one peer: only c gets it, even without matching filters.
    a.publish_command("/other", vec![9], Some(c.id())).unwrap();
    let m = expect_kind(&c, &[Command]);
    assert_eq!(m.payload, vec![9]);
    std::thread::sleep(Duration::from_millis(200));
    assert!(std::iter::from_fn(|| b.next(None)).all(|m| m.kind != Command));
}

#[test]
fn simultaneous_peering_in_both_directions_keeps_one_connection() {
    let a = ep();
    let b = ep();
    let pa = a.listen("127.0.0.1", 0).unwrap();
    let pb = b.listen("127.0.0.1", 0).unwrap();
    a.peer("127.0.0.1", pb, Duration::from_millis(100)).unwrap();
    b.peer("127.0.0.1", pa, Duration::from_millis(100)).unwrap();
    assert!(a.await_peers(1, T) && b.await_peers(1, T));
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(a.peers().len(), 1);
    assert_eq!(b.peers().len(), 1);
    b.subscribe("/both").unwrap();
    assert!(a.await_peer_subscription("/both", T));
    a.publish("/both", string_payload("once")).unwrap();
    assert!(next_data(&b, T).is_some());
    assert!(next_data(&b, Duration::from_millis(200)).is_none());
}

#[test]
fn drop_flushes_what_was_published() {
    let a = ep();
    let b = ep();
    connect(&a, &b);
    b.subscribe("/flush").unwrap();
    assert!(a.await_peer_subscription("/flush", T));
    for i in 0..20_000u64 {
        let mut p = vec![2u8];
        p.extend_from_slice(&i.to_be_bytes());
        a.publish("/flush", p).unwrap();
    }
    drop(a);
    for i in 0..20_000u64 {
        let m = next_data(&b, T).expect("flushed before close");
        assert_eq!(m.payload[1..], i.to_be_bytes());
    }
    assert_eq!(expect_kind(&b, &[PeerLost, PeerRemoved]).kind, PeerLost);
}

#[test]
fn close_wakes_blocked_next_and_refuses_commands() {
    let a = std::sync::Arc::new(ep());
    let a2 = a.clone();
    let t = std::thread::spawn(move || a2.next(Some(Duration::from_secs(30))));
    std::thread::sleep(Duration::from_millis(100));
    let start = std::time::Instant::now();
    a.close();
    assert!(t.join().unwrap().is_none());
    assert!(start.elapsed() < Duration::from_secs(5));
    assert_eq!(
        a.subscribe("/x").unwrap_err().kind,
        zcluster::ErrorKind::Closed
    );
    assert_eq!(
        a.publish("/x", string_payload("x")).unwrap_err().kind,
        zcluster::ErrorKind::Closed
    );
}

#[test]
fn zeek_events_round_trip() {
    use zcluster::data::{Event, Value};
    let a = ep();
    let b = ep();
    connect(&a, &b);
    b.subscribe("zeek/event/").unwrap();
    assert!(a.await_peer_subscription("zeek/event/x", T));
    let ev = Event::with_args(
        "Demo::ping",
        vec![Value::String(b"hi".to_vec()), Value::Count(1)],
    );
    a.publish_event("zeek/event/x", &ev).unwrap();
    let m = next_data(&b, T).unwrap();
    assert_eq!(m.event().unwrap(), ev);
    // A plain value is data but not an event.
    a.publish_value("zeek/event/x", &Value::Count(3)).unwrap();
    let m = next_data(&b, T).unwrap();
    assert_eq!(m.value().unwrap(), Value::Count(3));
    assert_eq!(m.event().unwrap_err().kind, zcluster::ErrorKind::Type);
}
