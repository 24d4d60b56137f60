//! The WebSocket client transport while it is not connected, against a server written
//! here on a plain `TcpListener` (tungstenite's server handshake, Zeek's protocol by
//! hand: the subscription array, the ack, data messages as JSON text):
//! - publishes made before the server is up are buffered and arrive, in publish order,
//!   once it is up and acknowledged the subscription, ahead of later publishes;
//! - with the buffer (`send_queue_size`) and the endpoint's `publish_queue` full,
//!   `publish` waits `backpressure_timeout` and fails with WouldBlock; nothing is dropped
//!   and everything accepted arrives once the server is up;
//! - `disconnected_policy=drop` (opt-in) drops what is published while not connected,
//!   and counts it (`ClientHandle::dropped`).
//! - `ClientHandle::flush` waits until the publishes are written, `close` for the close
//!   handshake.

use std::net::TcpListener;
use std::sync::mpsc;
use std::time::{Duration, Instant};
use zcluster::data::{bin, Value};
use zcluster::endpoint::{Endpoint, EndpointOptions, MessageKind};
use zcluster::error::ErrorKind;
use zcluster::websocket::client::ClientHandle;
use zcluster::websocket::ClientOptions;

#[path = "common/ports.rs"]
mod ports;

const T: Duration = Duration::from_secs(20);

fn url(port: u16) -> String {
    format!("ws://127.0.0.1:{port}/v1/messages/json")
}

fn count(i: u64) -> Vec<u8> {
    bin::encode_to_vec(&Value::Count(i))
}

fn until(what: &str, mut f: impl FnMut() -> bool) {
    let end = Instant::now() + T;
    while !f() {
        assert!(Instant::now() < end, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// A Zeek-style WebSocket server on `port`, for one connection: reads the subscriptions,
/// acks, then sends every count of a data message it receives to `tx`, until the client
/// goes away.
fn serve_once(port: u16, tx: mpsc::Sender<u64>) -> std::thread::JoinHandle<Vec<String>> {
    let l = TcpListener::bind(("127.0.0.1", port)).unwrap();
    std::thread::spawn(move || {
        let (s, _) = l.accept().unwrap();
        s.set_read_timeout(Some(T)).unwrap();
        let mut ws = tungstenite::accept(s).unwrap();
        let subs = match ws.read().unwrap() {
            tungstenite::Message::Text(t) => t,
            other => panic!("expected the subscriptions, got {other:?}"),
        };
        ws.send(tungstenite::Message::Text(
            r#"{"type":"ack","endpoint":"test-server","version":"8.2.0"}"#.into(),
        ))
        .unwrap();
        let re = regex::Regex::new(r#""@data-type":"count","data":(\d+)"#).unwrap();
        let mut texts = vec![subs];
        while let Ok(m) = ws.read() {
            if let tungstenite::Message::Text(t) = m {
                let n = re
                    .captures(&t)
                    .unwrap_or_else(|| panic!("not a data message of a count: {t}"))[1]
                    .parse()
                    .unwrap();
                texts.push(t);
                if tx.send(n).is_err() {
                    break;
                }
            }
        }
        texts
    })
}

fn recv_n(rx: &mpsc::Receiver<u64>, n: usize) -> Vec<u64> {
    let end = Instant::now() + T;
    let mut got = Vec::new();
    while got.len() < n {
        let left = end.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(v) => got.push(v),
            Err(_) => panic!("got {} of {n} messages: {got:?}", got.len()),
        }
    }
    got
}

fn client(ep: &Endpoint, port: u16, f: impl FnOnce(&mut ClientOptions)) -> ClientHandle {
    let mut o = ClientOptions::default();
    f(&mut o);
    ep.connect_websocket_with(
        &url(port),
        &["from-server/".to_string()],
        Duration::from_millis(50),
        &o,
    )
    .unwrap()
}

fn await_added(ep: &Endpoint) {
    let end = Instant::now() + T;
    loop {
        let left = end.saturating_duration_since(Instant::now());
        match ep.next(Some(left)) {
            Some(m) if m.kind == MessageKind::PeerAdded => return,
            Some(_) => {}
            None => panic!("no PeerAdded"),
        }
    }
}

#[test]
fn publishes_before_the_server_is_up_arrive_in_order() {
    let port = ports::free_port();
    let ep = Endpoint::new(EndpointOptions::default()).unwrap();
    let h = client(&ep, port, |_| {});
    const N: u64 = 500;
    for i in 0..N {
        ep.publish("to-server/x", count(i)).unwrap();
    }
    // All of them reach the client's buffer (the I/O thread offers them in order).
    until("the buffered publishes", || h.queued() == N as usize);
    assert!(!h.connected());
    let (tx, rx) = mpsc::channel();
    let server = serve_once(port, tx);
    await_added(&ep);
    ep.publish("to-server/x", count(N)).unwrap();
    let got = recv_n(&rx, N as usize + 1);
    assert_eq!(got, (0..=N).collect::<Vec<_>>());
    assert_eq!(h.dropped(), 0);
    h.stop();
    drop(rx);
    let texts = server.join().unwrap();
    assert_eq!(texts[0], r#"["from-server/"]"#);
    assert!(
        texts[1].contains(r#""topic":"to-server/x""#),
        "{}",
        texts[1]
    );
}

#[test]
fn a_full_buffer_holds_publishes_back_then_gives_would_block() {
    let port = ports::free_port();
    let bound = Duration::from_millis(300);
    let ep = Endpoint::new(EndpointOptions {
        publish_queue: 4,
        backpressure_timeout: bound,
        ..Default::default()
    })
    .unwrap();
    let h = client(&ep, port, |c| c.send_queue_size = 8);
    let mut accepted = 0u64;
    let err = loop {
        let t0 = Instant::now();
        match ep.publish("to-server/x", count(accepted)) {
            Ok(()) => accepted += 1,
            Err(e) => break (e, t0.elapsed()),
        }
        assert!(
            accepted < 1000,
            "no backpressure after {accepted} publishes"
        );
    };
    assert_eq!(err.0.kind, ErrorKind::WouldBlock, "{}", err.0.message);
    assert!(err.1 >= bound - Duration::from_millis(20), "{:?}", err.1);
    // The client's buffer and the endpoint's publish queue, no more (a little slack for
    // what was in flight when the buffer filled).
    assert!((8..=8 + 4 + 2).contains(&accepted), "{accepted}");
    assert_eq!(h.dropped(), 0);
    // Once the server is up, every accepted publish arrives, in order.
    let (tx, rx) = mpsc::channel();
    let server = serve_once(port, tx);
    await_added(&ep);
    let got = recv_n(&rx, accepted as usize);
    assert_eq!(got, (0..accepted).collect::<Vec<_>>());
    // And publishing works again.
    ep.publish("to-server/x", count(accepted)).unwrap();
    assert_eq!(recv_n(&rx, 1), vec![accepted]);
    assert_eq!(h.dropped(), 0);
    h.stop();
    drop(rx);
    server.join().unwrap();
}

#[test]
fn the_drop_policy_drops_and_counts_while_disconnected() {
    let port = ports::free_port();
    let ep = Endpoint::new(EndpointOptions::default()).unwrap();
    let mut o = ClientOptions::default();
    o.set("disconnected_policy", "drop").unwrap();
    let h = ep
        .connect_websocket_with(&url(port), &[], Duration::from_millis(50), &o)
        .unwrap();
    for i in 0..10 {
        ep.publish("to-server/x", count(i)).unwrap();
    }
    until("10 dropped publishes", || h.dropped() == 10);
    assert_eq!(h.queued(), 0);
    // Counted on the endpoint too (its stats, the stats JSON of C and Python, /metrics).
    assert_eq!(ep.stats().websocket_client_dropped, 10);
    let json = zcluster::metrics::endpoint_snapshot(&ep, "").to_json();
    assert!(json.contains("\"websocket_client_dropped\":10"), "{json}");
    let (tx, rx) = mpsc::channel();
    let server = serve_once(port, tx);
    await_added(&ep);
    ep.publish("to-server/x", count(10)).unwrap();
    assert_eq!(recv_n(&rx, 1), vec![10]);
    assert_eq!(h.dropped(), 10);
    h.stop();
    drop(rx);
    server.join().unwrap();
}

#[test]
fn a_client_that_stops_counts_what_it_still_held() {
    let port = ports::free_port();
    let ep = Endpoint::new(EndpointOptions::default()).unwrap();
    let h = client(&ep, port, |_| {});
    for i in 0..5 {
        ep.publish("to-server/x", count(i)).unwrap();
    }
    until("5 buffered publishes", || h.queued() == 5);
    assert_eq!(h.dropped(), 0);
    h.stop();
    until("the stopped client counting them", || h.dropped() == 5);
    assert_eq!(h.queued(), 0);
    assert_eq!(ep.stats().websocket_client_dropped, 5);
    // The tap is gone: publishing goes on, nothing is held for the client any more.
    ep.publish("to-server/x", count(5)).unwrap();
}

/// `ClientHandle::flush` waits until what the host published has been written to the
/// server (false while that cannot happen: not connected), and `close` ends the client
/// with the close handshake: the server has every publish and then sees the connection
/// end, with no sleep anywhere.
#[test]
fn flush_waits_for_the_writes_and_close_for_the_handshake() {
    let port = ports::free_port();
    let ep = Endpoint::new(EndpointOptions::default()).unwrap();
    let h = client(&ep, port, |_| {});
    for i in 0..50 {
        ep.publish("to-server/x", count(i)).unwrap();
    }
    // No server yet: the buffered publishes cannot be written.
    assert!(!h.flush(Duration::from_millis(200)));
    let (tx, rx) = mpsc::channel();
    let server = serve_once(port, tx);
    await_added(&ep);
    for i in 50..2000 {
        ep.publish("to-server/x", count(i)).unwrap();
    }
    assert!(h.flush(T), "every publish written");
    assert_eq!(h.queued(), 0);
    assert!(h.close(T), "the client thread ended");
    assert_eq!(h.dropped(), 0, "nothing was left to drop");
    assert_eq!(recv_n(&rx, 2000), (0..2000).collect::<Vec<_>>());
    // The server's read loop ends: the close handshake (or the end of the stream) came.
    let texts = server.join().unwrap();
    assert_eq!(texts.len(), 2001);
}
