//! Zeek's WebSocket API as the server and the client read it.
//!
//! `websocket_handshake`: the bytes a client sends a server (the HTTP upgrade request,
//! then masked frames) through tungstenite's server handshake and reader as
//! `websocket::server` drives them (reads that stop anywhere and resume), then the
//! server's checks (the URI, `X-Application-Name`) and its handling of each text or
//! binary message (subscriptions first, then data messages).
//!
//! `websocket_messages`: the JSON texts themselves, both ways: what a client sends (the
//! subscription array, data messages, through `protocol` and `fastjson`) and what a server
//! sends a client (the ack, errors, data messages, as `websocket::client` reads them).
//!
//! Invariants: a client message that decodes is an event on a real topic and survives the
//! server's encoding back to JSON; wherever the fast path accepts a message the general
//! path gives the same topic and bytes.

use super::input::Input;
use crate::data::json::data_message_from_json;
use crate::data::{bin, Event};
use crate::websocket::protocol::{self, PATH};
use std::cell::RefCell;
use std::io::{Read, Write};
use std::rc::Rc;

/// A client's connection: its bytes in pieces of `chunk`, a would-block after each, then
/// the end of the stream.
struct Conn<'a> {
    input: &'a [u8],
    chunk: usize,
    paused: bool,
    out: Vec<u8>,
}

impl Read for Conn<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.paused {
            self.paused = false;
            return Err(std::io::ErrorKind::WouldBlock.into());
        }
        let n = self.chunk.min(buf.len()).min(self.input.len());
        buf[..n].copy_from_slice(&self.input[..n]);
        self.input = &self.input[n..];
        self.paused = n > 0;
        Ok(n)
    }
}

impl Write for Conn<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.out.len() > 1 << 20 {
            return Err(std::io::ErrorKind::WouldBlock.into());
        }
        self.out.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[derive(Default)]
struct Seen {
    uri: String,
    app: Option<String>,
}

/// The server's `on_request`: what the checks after the upgrade look at.
struct Capture(Rc<RefCell<Seen>>);

impl tungstenite::handshake::server::Callback for Capture {
    fn on_request(
        self,
        req: &tungstenite::handshake::server::Request,
        resp: tungstenite::handshake::server::Response,
    ) -> Result<
        tungstenite::handshake::server::Response,
        tungstenite::handshake::server::ErrorResponse,
    > {
        let mut s = self.0.borrow_mut();
        s.uri = req
            .uri()
            .path_and_query()
            .map(|p| p.as_str().to_string())
            .unwrap_or_else(|| req.uri().to_string());
        s.app = req
            .headers()
            .get("X-Application-Name")
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
        Ok(resp)
    }
}

/// The server's `Process(WebSocketMessage)` for one client's messages.
#[derive(Default)]
struct Session {
    count: usize,
    accepted: usize,
    subs: Vec<String>,
}

impl Session {
    fn on_frame(&mut self, text: &str) {
        self.count += 1;
        if self.count == 1 {
            match protocol::parse_subscriptions(text) {
                Ok(s) => {
                    let _ = crate::wire::filter::normalize(s.clone());
                    self.subs = s;
                }
                Err(ctx) => {
                    let e = protocol::error_json("deserialization_failed", ctx);
                    crate::json::parse(&e).expect("our error message is JSON");
                }
            }
            return;
        }
        self.accepted += usize::from(client_message(text));
    }
}

/// A client's data message, as the server's `publish_inbound` takes it.
fn client_message(text: &str) -> bool {
    match protocol::decode_client_message(text) {
        Ok((topic, payload)) => {
            assert!(!topic.is_empty() && topic != crate::wire::INTERNAL_TOPIC);
            Event::from_bytes(&payload).expect("an accepted client message is an event");
            let v = bin::decode(&payload).expect("an accepted payload decodes");
            let json = protocol::encode_server_message(&topic, &payload)
                .expect("the server encodes what it accepted");
            if !super::decoders::has_subnormal(&v) {
                let back = protocol::decode_client_message(&json)
                    .expect("the server's own message decodes as a client's");
                assert_eq!(back, (topic, payload), "a message changed on its way back");
            }
            fast_path_agrees(text);
            true
        }
        Err(ctx) => {
            let e = protocol::error_json("deserialization_failed", ctx);
            crate::json::parse(&e).expect("our error message is JSON");
            fast_path_agrees(text);
            false
        }
    }
}

/// Wherever `fastjson` takes a message, the general path gives the same topic and bytes.
fn fast_path_agrees(text: &str) {
    if let Some((topic, payload)) = crate::websocket::fastjson::data_message_to_bin(text) {
        let m =
            data_message_from_json(text).expect("the general path takes what the fast one does");
        assert_eq!(m.topic, topic, "the paths disagree on the topic");
        let mut p = Vec::new();
        bin::try_encode(&m.value, &mut p).expect("a decoded value encodes");
        assert_eq!(p, payload, "the paths disagree on the bytes");
    }
}

/// What a client does with a server's text (`client.rs` `session` for the first, then
/// `on_text`).
fn server_message(text: &str, first: bool) {
    fast_path_agrees(text);
    if !first {
        if crate::websocket::fastjson::data_message_to_bin(text).is_some() {
            return;
        }
        if let Ok(m) = data_message_from_json(text) {
            let mut payload = Vec::new();
            let _ = bin::try_encode(&m.value, &mut payload);
            return;
        }
    }
    if let Ok(j) = crate::json::parse(text) {
        let ty = j.get("type").and_then(|v| v.as_str());
        let s = |k: &str| j.get(k).and_then(|v| v.as_str()).unwrap_or("").to_string();
        match ty {
            Some("ack") => {
                let _ = (s("endpoint"), s("version"));
            }
            Some("error") => {
                let _ = (s("code"), s("context"));
            }
            _ => {}
        }
    }
}

/// Input: a direction byte (even: a client's texts to a server; odd: a server's to a
/// client), then texts with a u16 length prefix.
pub fn websocket_messages(data: &[u8]) {
    messages_run(data);
}

/// [`websocket_messages`], returning the client messages the server accepted.
pub(crate) fn messages_run(data: &[u8]) -> usize {
    let mut inp = Input::new(data);
    let to_server = inp.u8() % 2 == 0;
    let mut session = Session::default();
    for (i, part) in inp.parts(64).into_iter().enumerate() {
        let text = String::from_utf8_lossy(part);
        if to_server {
            session.on_frame(&text);
        } else {
            server_message(&text, i == 0);
        }
    }
    session.accepted
}

/// Input: the read size (1-256, from the first byte), the client's upgrade request (u16
/// length prefix), then what the client sends after the server's 101.
pub fn websocket_handshake(data: &[u8]) {
    handshake_run(data);
}

/// [`websocket_handshake`], returning the messages the server handled (0: no upgrade, or
/// refused).
pub(crate) fn handshake_run(data: &[u8]) -> usize {
    let mut inp = Input::new(data);
    let chunk = usize::from(inp.u8()) + 1;
    let request = inp.bytes();
    let frames = inp.rest();
    let conn = Conn {
        input: request,
        chunk,
        paused: false,
        out: Vec::new(),
    };
    let seen = Rc::new(RefCell::new(Seen::default()));
    let mut hs = tungstenite::accept_hdr(conn, Capture(seen.clone()));
    let mut ws = loop {
        match hs {
            Ok(ws) => break ws,
            Err(tungstenite::HandshakeError::Interrupted(mid)) => hs = mid.handshake(),
            Err(tungstenite::HandshakeError::Failure(_)) => return 0,
        }
    };
    assert!(ws.get_ref().out.starts_with(b"HTTP/1.1 101"));
    // A client sends frames once it has the 101 (bytes after the request in the same
    // read are "junk after client request" to tungstenite, and to the server).
    ws.get_mut().input = frames;
    let seen = std::mem::take(&mut *seen.borrow_mut());
    let app = seen.app.unwrap_or_else(|| "unknown".into());
    if seen.uri != PATH || !protocol::good_application_name(&app) {
        return 0; // rejected with an error and a close
    }
    let mut session = Session::default();
    for _ in 0..10_000 {
        match ws.read() {
            Ok(tungstenite::Message::Text(t)) => session.on_frame(&t),
            Ok(tungstenite::Message::Binary(b)) => match String::from_utf8(b) {
                Ok(s) => session.on_frame(&s),
                Err(_) => session.on_frame(""),
            },
            Ok(_) => {}
            Err(tungstenite::Error::Io(e)) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(_) => break,
        }
    }
    session.count
}
