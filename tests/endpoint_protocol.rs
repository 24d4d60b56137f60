//! An independent implementation of Broker's protocol (tests/protocol/broker_peer.py,
//! written from the protocol description only) handshakes with our endpoint in all four
//! role combinations and exchanges byte-checked envelopes both ways.

mod endpoint_common;
#[path = "common/watchdog.rs"]
mod watchdog;
use endpoint_common::*;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;
use zcluster::endpoint::MessageKind::*;

fn python() -> Option<&'static str> {
    Command::new("python3")
        .arg("--version")
        .output()
        .ok()
        .map(|_| "python3")
}

fn run(listen_in_python: bool, id: &str) {
    let Some(py) = python() else {
        eprintln!("python3 not found; skipping");
        return;
    };
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/protocol/broker_peer.py");
    let a = plain_ep();
    a.subscribe("/from-py/").unwrap();
    let mut cmd = Command::new(py);
    cmd.arg(script)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if listen_in_python {
        cmd.args(["listen", id]);
    } else {
        let port = a.listen("127.0.0.1", 0).unwrap();
        cmd.args(["connect", &port.to_string(), id]);
    }
    let mut child = cmd.spawn().unwrap();
    let _watchdog = watchdog::Watchdog::new(&child, Duration::from_secs(60));
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut lines = Vec::new();
    let mut line = String::new();
    if listen_in_python {
        out.read_line(&mut line).unwrap();
        let port: u16 = line
            .trim()
            .strip_prefix("PORT ")
            .expect("PORT line")
            .parse()
            .unwrap();
        a.peer("127.0.0.1", port, Duration::ZERO).unwrap();
    }
    let added = expect_kind(&a, &[PeerAdded, PeerRejected, PeerUnavailable]);
    assert_eq!(added.kind, PeerAdded, "{added:?}");
    let m = next_data(&a, T).expect("data from the Python peer");
    assert_eq!(m.topic, "/from-py/x");
    assert_eq!(m.payload, b"\x05\x0bhello world");
    assert!(a.await_peer_subscription("/to-py/y", T));
    a.publish("/to-py/y", b"\x05\x02hi".to_vec()).unwrap();
    let status = child.wait().unwrap();
    loop {
        line.clear();
        if out.read_line(&mut line).unwrap() == 0 {
            break;
        }
        lines.push(line.trim().to_string());
    }
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
    assert!(status.success(), "python peer failed: {lines:?}\n{err}");
    let role = if lines.contains(&"OK originator".to_string()) {
        "originator"
    } else {
        "responder"
    };
    let expected_role = if id == "small" {
        "originator"
    } else {
        "responder"
    };
    assert_eq!(role, expected_role, "{lines:?}");
    for step in [
        "OK hello",
        "OK sent data",
        "OK received data",
        "OK pong",
        "OK done",
    ] {
        assert!(lines.iter().any(|l| l == step), "missing {step}: {lines:?}");
    }
}

#[test]
fn python_connects_as_originator() {
    run(false, "small");
}

#[test]
fn python_connects_as_responder() {
    run(false, "large");
}

#[test]
fn python_accepts_as_originator() {
    run(true, "small");
}

#[test]
fn python_accepts_as_responder() {
    run(true, "large");
}
