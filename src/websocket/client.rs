//! The WebSocket client transport: an `Endpoint` reaches a Zeek 7.2+ node (or a zcluster
//! node) through its WebSocket API instead of peering (`Endpoint::connect_websocket`).
//!
//! A thread of its own holds the connection (`tungstenite`; blocking for the upgrade and
//! the ack, then non-blocking under a `mio` poll that also wakes on the host's publishes).
//! It subscribes with the topics given at connect time, waits
//! for the ack, and then:
//! - every data message the server sends becomes a `MessageKind::Event` message in the
//!   endpoint's inbox (fd, next, callbacks as for peers); while the inbox is full the
//!   thread stops reading and TCP pushes back on the server;
//! - every data message the host publishes on the endpoint goes to the server (a
//!   local-only tap: what peers send is not forwarded, and nothing is advertised to
//!   them).
//!
//! Statuses, with the URL's host and port as the peer: `PeerAdded` once the ack arrived
//! (its text names the server's endpoint and version); `PeerUnavailable` when a connect
//! or the upgrade fails; `PeerRejected` with Zeek's error object (`code: context`) when
//! the server refuses (bad URI or application name, bad subscriptions) or answers a
//! publish with an error; `PeerLost` when an established connection ends (the close code
//! and reason in the text). With a non-zero `retry` the client reconnects after every
//! failure and loss, as peerings do. `wss://` URLs use TLS (`super::tls`: the server's
//! certificate and host name verified unless `verify_peer=F`); a TLS failure is a
//! `PeerUnavailable` whose text names OpenSSL's reason and the verification result.
//!
//! # Publishes while not connected: buffered, in order (backpressure, never silent loss)
//! Publishes wait for the server in one bounded queue (option `send_queue_size`, default
//! `SEND_QUEUE`), whether the client is connected or not: those made before the first
//! ack, or between a loss and the next ack, are sent in publish order once the
//! (re)connection is acknowledged, before anything published later. When the queue is
//! full the endpoint holds further publishes back (`Tap::full`), so the host's `publish`
//! waits as for a slow peer: up to the endpoint's `backpressure_timeout`, then it fails
//! with WouldBlock (once the endpoint's own `publish_queue` is full too). Publishes taken
//! from the queue but not yet handed to the socket when a connection ends go back to
//! its front; what the socket took is at most once, as over TCP. A client that ends for
//! good (`stop`, the endpoint closed, a failure with `retry` 0) counts what it still
//! held as dropped (`ClientHandle::dropped`).
//!
//! Opt-in: `disconnected_policy=drop` drops publishes made while not connected (and
//! what was queued when a connection ended), each counted in `ClientHandle::dropped`;
//! while connected the queue pushes back as with `buffer`.
//!
//! Zeek's WebSocket API says nothing about a client's publishes while it is not
//! connected; this is zcluster's rule everywhere (backpressure by default, never silent
//! loss; a drop policy opt-in and counted), noted in the README.

use super::protocol;
use super::tls::{ClientOptions, DisconnectedPolicy};
use crate::data::bin;
use crate::data::json::{data_message_from_json, data_message_to_json};
use crate::endpoint::{EndpointHandle, HookWaker, Message, MessageKind, PeerInfo, Tap};
use crate::error::{Error, ErrorKind, Result};
use openssl::ssl::{HandshakeError, SslConnector, SslStream};
use openssl::x509::X509VerifyResult;
use parking_lot::Mutex;
use std::collections::VecDeque;
use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tungstenite::protocol::WebSocket;

/// Publishes queued for the server at most, by default (option `send_queue_size`).
pub const SEND_QUEUE: usize = 65536;

type Batch = VecDeque<(String, Vec<u8>)>;

struct Outbox {
    q: Mutex<Batch>,
    connected: AtomicBool,
    /// The queue holds `capacity`: the endpoint holds further publishes back.
    full: AtomicBool,
    capacity: usize,
    policy: DisconnectedPolicy,
    dropped: AtomicU64,
    /// Publishes taken into the queue, and those of them that left it for good: written
    /// to the socket (flushed) or dropped (`ClientHandle::flush` waits on these).
    offered: AtomicU64,
    settled: AtomicU64,
    /// Framed by the client thread, not yet flushed to the socket.
    unflushed: AtomicU64,
    /// The client thread ended.
    ended: AtomicBool,
    /// The endpoint's counters: drops are counted there too (`Stats::
    /// websocket_client_dropped`, the stats JSON, `/metrics`).
    ep_counters: Arc<crate::endpoint::Counters>,
    /// Wakes the client thread's poll when the queue turns non-empty (or on stop).
    waker: mio::Waker,
    /// Wakes the endpoint's I/O thread when a full queue has room again.
    ep_waker: HookWaker,
}

impl Outbox {
    fn count_dropped(&self, n: usize) {
        self.dropped.fetch_add(n as u64, Ordering::Relaxed);
        self.ep_counters
            .websocket_client_dropped
            .fetch_add(n as u64, Ordering::Relaxed);
    }

    /// `n` taken publishes are gone for good (written or dropped).
    fn settle(&self, n: u64) {
        self.settled.fetch_add(n, Ordering::AcqRel);
    }

    /// Takes everything queued (the client thread), reopening a full queue.
    fn drain_into(&self, batch: &mut Batch) {
        batch.extend(self.q.lock().drain(..));
        self.reopen();
    }

    /// The queue has room again: the endpoint routes what it held back.
    fn reopen(&self) {
        if self.full.swap(false, Ordering::AcqRel) {
            self.ep_waker.wake();
        }
    }

    /// A connection ended (the client thread): `batch` (taken, not yet sent) goes back
    /// to the queue's front, ahead of what was published since; the drop policy drops
    /// (and counts) both instead.
    fn connection_ended(&self, batch: &mut Batch) {
        self.connected.store(false, Ordering::Release);
        // Framed into the connection's buffer but not flushed: gone with it.
        self.settle(self.unflushed.swap(0, Ordering::AcqRel));
        let mut q = self.q.lock();
        if self.policy == DisconnectedPolicy::Drop {
            let n = batch.len() + q.len();
            self.count_dropped(n);
            self.settle(n as u64);
            batch.clear();
            q.clear();
            drop(q);
            self.reopen();
            return;
        }
        while let Some(m) = batch.pop_back() {
            q.push_front(m);
        }
        if q.len() >= self.capacity {
            self.full.store(true, Ordering::Release);
        } else {
            drop(q);
            self.reopen();
        }
    }

    /// The client ends for good: what it still holds is dropped, and counted.
    fn finished(&self) {
        self.connected.store(false, Ordering::Release);
        let n = std::mem::take(&mut *self.q.lock()).len();
        self.count_dropped(n);
        self.settle(n as u64);
        self.ended.store(true, Ordering::Release);
        self.reopen();
    }
}

impl Tap for Outbox {
    fn offer(&self, topic: &str, payload: &[u8], _origin: u64) {
        let connected = self.connected.load(Ordering::Acquire);
        if !connected && self.policy == DisconnectedPolicy::Drop {
            self.count_dropped(1);
            return;
        }
        let mut q = self.q.lock();
        // The endpoint asks `full` before each publish it routes here, so the queue
        // passes its capacity by at most what was in flight when it filled: kept.
        q.push_back((topic.to_string(), payload.to_vec()));
        self.offered.fetch_add(1, Ordering::AcqRel);
        if q.len() >= self.capacity {
            self.full.store(true, Ordering::Release);
        }
        if q.len() == 1 {
            // Also while connecting: the ack may land between our look at `connected`
            // and this push, and the client thread's poll should not sleep on it.
            let _ = self.waker.wake();
        }
    }

    fn local_only(&self) -> bool {
        true
    }

    fn full(&self) -> bool {
        self.full.load(Ordering::Acquire)
            && (self.policy == DisconnectedPolicy::Buffer || self.connected.load(Ordering::Acquire))
    }
}

/// A running WebSocket client of an endpoint. Dropping it does not stop it: it ends
/// when `stop` is called or the endpoint closes.
#[derive(Clone)]
pub struct ClientHandle {
    outbox: Arc<Outbox>,
    stop: Arc<AtomicBool>,
    ep: EndpointHandle,
}

impl ClientHandle {
    /// Publishes dropped: made while not connected, or queued when a connection ended,
    /// under `disconnected_policy=drop`; still queued when the client ended for good.
    pub fn dropped(&self) -> u64 {
        self.outbox.dropped.load(Ordering::Relaxed)
    }

    /// Publishes queued and not yet taken by the client thread (while not connected:
    /// the buffered ones).
    pub fn queued(&self) -> usize {
        self.outbox.q.lock().len()
    }

    /// Whether the connection is established (acknowledged) now.
    pub fn connected(&self) -> bool {
        self.outbox.connected.load(Ordering::Acquire)
    }

    pub fn stop(&self) {
        self.stop.store(true, Ordering::Release);
        let _ = self.outbox.waker.wake();
    }

    /// Waits up to `timeout` until everything the host published on the endpoint before
    /// this call has left for the server: routed by the endpoint's I/O thread to this
    /// client, then written to the socket and flushed (or dropped, and counted). Returns
    /// false at the timeout (while not connected, with the buffer policy, publishes wait
    /// for the connection). Polls every millisecond.
    pub fn flush(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let waited = |done: &dyn Fn() -> bool| loop {
            if done() {
                return true;
            }
            if self.outbox.ended.load(Ordering::Acquire) || Instant::now() >= deadline {
                return done();
            }
            std::thread::sleep(Duration::from_millis(1));
        };
        // The publishes queued before now reach the outbox (the endpoint routes them in
        // order; one made later may be counted too, which only waits a little longer).
        if !waited(&|| self.ep.queued_publishes() == 0) {
            return false;
        }
        let target = self.outbox.offered.load(Ordering::Acquire);
        waited(&|| self.outbox.settled.load(Ordering::Acquire) >= target)
    }

    /// Stops the client and waits up to `timeout` for its thread to end: the WebSocket
    /// close handshake is sent and what it still held is counted as dropped. False at
    /// the timeout.
    pub fn close(&self, timeout: Duration) -> bool {
        self.stop();
        let deadline = Instant::now() + timeout;
        while !self.outbox.ended.load(Ordering::Acquire) {
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        true
    }
}

/// `ws://host:port/path` or `wss://...` split up: (TLS, host, port).
fn parse_url(url: &str) -> Result<(bool, String, u16)> {
    let (tls, rest) = if let Some(r) = url.strip_prefix("ws://") {
        (false, r)
    } else if let Some(r) = url.strip_prefix("wss://") {
        (true, r)
    } else {
        return Err(Error::invalid(format!(
            "WebSocket URL '{url}': expected ws://host:port/path or wss://host:port/path"
        )));
    };
    let default_port = if tls { "443" } else { "80" };
    let hostport = rest.split('/').next().unwrap_or("");
    let (host, port) = if let Some(h) = hostport.strip_prefix('[') {
        let (h, p) = h
            .split_once(']')
            .ok_or_else(|| Error::invalid(format!("WebSocket URL '{url}': unclosed [")))?;
        (h.to_string(), p.strip_prefix(':').unwrap_or(default_port))
    } else {
        match hostport.rsplit_once(':') {
            Some((h, p)) => (h.to_string(), p),
            None => (hostport.to_string(), default_port),
        }
    };
    let port: u16 = port
        .parse()
        .map_err(|_| Error::invalid(format!("WebSocket URL '{url}': bad port '{port}'")))?;
    if host.is_empty() {
        return Err(Error::invalid(format!("WebSocket URL '{url}': no host")));
    }
    Ok((tls, host, port))
}

/// The connection's byte stream: the socket, or TLS over it.
enum Stream {
    Plain(TcpStream),
    Tls(Box<SslStream<TcpStream>>),
}

impl Stream {
    fn tcp(&self) -> &TcpStream {
        match self {
            Stream::Plain(s) => s,
            Stream::Tls(s) => s.get_ref(),
        }
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Stream::Plain(s) => s.read(buf),
            Stream::Tls(s) => s.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Stream::Plain(s) => s.write(buf),
            Stream::Tls(s) => s.write(buf),
        }
    }
    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Stream::Plain(s) => s.flush(),
            Stream::Tls(s) => s.flush(),
        }
    }
}

/// Starts a client of the WebSocket server at `url` for the endpoint behind `ep`.
pub fn connect(
    ep: EndpointHandle,
    url: &str,
    topics: Vec<String>,
    retry: Duration,
    opts: &ClientOptions,
) -> Result<ClientHandle> {
    let (tls, host, port) = parse_url(url)?;
    let app_name = opts.application_name.as_str();
    if !protocol::good_application_name(app_name) {
        return Err(Error::invalid(format!(
            "application name '{app_name}': Zeek accepts only [-/_.=:*@a-zA-Z0-9]"
        )));
    }
    let connector = if tls { Some(opts.connector()?) } else { None };
    let poll = mio::Poll::new()?;
    let waker = mio::Waker::new(poll.registry(), WAKE)?;
    let outbox = Arc::new(Outbox {
        q: Mutex::new(VecDeque::new()),
        connected: AtomicBool::new(false),
        full: AtomicBool::new(false),
        capacity: opts.send_queue_size.max(1),
        policy: opts.disconnected_policy,
        dropped: AtomicU64::new(0),
        offered: AtomicU64::new(0),
        settled: AtomicU64::new(0),
        unflushed: AtomicU64::new(0),
        ended: AtomicBool::new(false),
        ep_counters: ep.counters(),
        waker,
        ep_waker: ep.hook_waker(),
    });
    let tap_id = ep.new_origin();
    ep.set_tap(tap_id, vec![String::new()], outbox.clone(), 0)?;
    let stop = Arc::new(AtomicBool::new(false));
    let h = ClientHandle {
        outbox: outbox.clone(),
        stop: stop.clone(),
        ep: ep.clone(),
    };
    let c = Conn {
        ep,
        url: url.to_string(),
        host,
        port,
        topics,
        retry,
        app: app_name.to_string(),
        tls: connector,
        verify_peer: opts.verify_peer,
        outbox,
        stop,
        tap_id,
        poll: Mutex::new(poll),
    };
    std::thread::Builder::new()
        .name("zc-ws-client".into())
        .spawn(move || c.run())
        .map_err(|e| Error::new(ErrorKind::Io, format!("spawning the WebSocket client: {e}")))?;
    Ok(h)
}

struct Conn {
    ep: EndpointHandle,
    url: String,
    host: String,
    port: u16,
    topics: Vec<String>,
    retry: Duration,
    app: String,
    tls: Option<SslConnector>,
    verify_peer: bool,
    outbox: Arc<Outbox>,
    stop: Arc<AtomicBool>,
    tap_id: u64,
    poll: Mutex<mio::Poll>,
}

const WAKE: mio::Token = mio::Token(0);
const SOCK: mio::Token = mio::Token(1);

enum End {
    /// Could not connect or upgrade.
    Unavailable(String),
    /// The server refused us (an error object or a close before the ack).
    Rejected(String),
    /// An established connection ended.
    Lost(String),
    /// Stop or endpoint closed.
    Stopped,
}

impl Conn {
    fn info(&self) -> PeerInfo {
        PeerInfo {
            id: None,
            address: self.host.clone(),
            port: self.port,
        }
    }

    fn status(&self, kind: MessageKind, text: String) {
        let _ = self.ep.deliver(Message::status(kind, self.info(), text));
    }

    fn stopped(&self) -> bool {
        self.stop.load(Ordering::Acquire) || self.ep.is_closed()
    }

    fn run(self) {
        // Publishes taken from the outbox and not yet framed (see `established`).
        let mut batch = Batch::new();
        loop {
            let end = self.session(&mut batch);
            self.outbox.connection_ended(&mut batch);
            match end {
                End::Stopped => break,
                End::Unavailable(r) => self.status(
                    MessageKind::PeerUnavailable,
                    format!("unable to connect to remote peer ({r})"),
                ),
                End::Rejected(r) => self.status(
                    MessageKind::PeerRejected,
                    format!("rejected by the WebSocket server at {} ({r})", self.url),
                ),
                End::Lost(r) => {
                    self.status(
                        MessageKind::PeerLost,
                        format!("lost connection to remote peer ({r})"),
                    );
                    self.status(
                        MessageKind::EndpointUnreachable,
                        "lost the last path".into(),
                    );
                }
            }
            if self.retry.is_zero() {
                break;
            }
            let until = Instant::now() + self.retry;
            while Instant::now() < until {
                if self.stopped() {
                    self.finish();
                    return;
                }
                std::thread::sleep(Duration::from_millis(10).min(self.retry));
            }
        }
        self.finish();
    }

    /// No more connections: the tap goes, and what it still held is counted as dropped.
    fn finish(&self) {
        let _ = self.ep.remove_tap(self.tap_id);
        self.outbox.finished();
    }

    fn session(&self, batch: &mut Batch) -> End {
        if self.stopped() {
            return End::Stopped;
        }
        let addr = match (self.host.as_str(), self.port).to_socket_addrs() {
            Ok(mut a) => match a.next() {
                Some(a) => a,
                None => return End::Unavailable(format!("{} resolves to nothing", self.host)),
            },
            Err(e) => return End::Unavailable(e.to_string()),
        };
        let stream = match TcpStream::connect_timeout(&addr, Duration::from_secs(10)) {
            Ok(s) => s,
            Err(e) => return End::Unavailable(e.to_string()),
        };
        let _ = stream.set_nodelay(true);
        let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
        let _ = stream.set_write_timeout(Some(Duration::from_secs(10)));
        let stream = match &self.tls {
            None => Stream::Plain(stream),
            Some(c) => match self.tls_connect(c, stream) {
                Ok(s) => Stream::Tls(Box::new(s)),
                Err(r) => return End::Unavailable(r),
            },
        };
        let mut req =
            match tungstenite::client::IntoClientRequest::into_client_request(self.url.as_str()) {
                Ok(r) => r,
                Err(e) => return End::Unavailable(e.to_string()),
            };
        if let Ok(v) = self.app.parse() {
            req.headers_mut().insert("X-Application-Name", v);
        }
        let mut ws = match tungstenite::client::client(req, stream) {
            Ok((ws, _)) => ws,
            Err(e) => {
                let r = format!("WebSocket upgrade failed: {e}");
                return End::Unavailable(if self.tls.is_some() && r.contains("alert") {
                    super::tls::handshake_failure(&r)
                } else {
                    r
                });
            }
        };
        let subs = format!(
            "[{}]",
            self.topics
                .iter()
                .map(|t| {
                    let mut s = String::new();
                    crate::data::json::write_broker_string(&mut s, t.as_bytes());
                    s
                })
                .collect::<Vec<_>>()
                .join(",")
        );
        if let Err(e) = ws.send(tungstenite::Message::Text(subs)) {
            return End::Unavailable(e.to_string());
        }
        // The ack, or Zeek's error (then, usually, a close).
        loop {
            match ws.read() {
                Ok(tungstenite::Message::Text(t)) => match crate::json::parse(&t) {
                    Ok(j) if j.get("type").and_then(|v| v.as_str()) == Some("ack") => {
                        let ep = j.get("endpoint").and_then(|v| v.as_str()).unwrap_or("");
                        let ver = j.get("version").and_then(|v| v.as_str()).unwrap_or("");
                        self.outbox.connected.store(true, Ordering::Release);
                        self.status(
                            MessageKind::PeerAdded,
                            format!("handshake successful (ack from {ep}, version {ver})"),
                        );
                        break;
                    }
                    Ok(j) if j.get("type").and_then(|v| v.as_str()) == Some("error") => {
                        return End::Rejected(error_text(&j));
                    }
                    _ => return End::Rejected(format!("unexpected first message: {t}")),
                },
                Ok(tungstenite::Message::Close(f)) => {
                    return End::Rejected(close_text(f.as_ref()));
                }
                Ok(_) => {}
                Err(e) => return End::Unavailable(format!("waiting for the ack: {e}")),
            }
        }
        use std::os::fd::AsRawFd;
        if let Err(e) = ws.get_mut().tcp().set_nonblocking(true) {
            return End::Lost(e.to_string());
        }
        let fd = ws.get_ref().tcp().as_raw_fd();
        let mut poll = self.poll.lock();
        let mut src = mio::unix::SourceFd(&fd);
        if let Err(e) = poll.registry().register(
            &mut src,
            SOCK,
            mio::Interest::READABLE | mio::Interest::WRITABLE,
        ) {
            return End::Lost(e.to_string());
        }
        let end = self.established(&mut ws, &mut poll, batch);
        let _ = poll.registry().deregister(&mut mio::unix::SourceFd(&fd));
        end
    }

    /// The connection after the ack: one poll over the socket and the outbox's waker, so
    /// an idle client sleeps and a publish goes out at once.
    fn established(
        &self,
        ws: &mut WebSocket<Stream>,
        poll: &mut mio::Poll,
        batch: &mut Batch,
    ) -> End {
        let cap = self.ep.inbox_capacity();
        // `batch`: publishes taken from the outbox and not yet framed. They are framed
        // only while the socket takes them: tungstenite's buffer stays near its
        // write_buffer_size instead of growing to the whole queue (every partial write
        // moves what is left to the buffer's front), and a full outbox holds the host's
        // publishes back. What is left when the connection ends goes back to the outbox.
        let mut write_blocked = false;
        let mut events = mio::Events::with_capacity(8);
        loop {
            if self.stopped() {
                let _ = ws.close(None);
                let _ = ws.flush();
                return End::Stopped;
            }
            // Host publishes -> server.
            if batch.len() < 1024 {
                self.outbox.drain_into(batch);
            }
            let mut framed = 0;
            while !write_blocked && framed < 4096 {
                let Some((topic, payload)) = batch.pop_front() else {
                    break;
                };
                framed += 1;
                self.outbox.unflushed.fetch_add(1, Ordering::AcqRel);
                if let Ok(v) = bin::decode(&payload) {
                    let m = tungstenite::Message::Text(data_message_to_json(&topic, &v));
                    match ws.write(m) {
                        Ok(()) => {}
                        // Framed and buffered; the socket is full.
                        Err(e) if is_timeout(&e) => write_blocked = true,
                        Err(e) => return End::Lost(e.to_string()),
                    }
                }
            }
            match ws.flush() {
                Ok(()) => {
                    write_blocked = false;
                    self.outbox
                        .settle(self.outbox.unflushed.swap(0, Ordering::AcqRel));
                }
                Err(e) if is_timeout(&e) => write_blocked = true,
                Err(e) => return End::Lost(e.to_string()),
            }
            // Server -> inbox, while it has room (else TCP pushes back on the server).
            let mut timeout = Some(Duration::from_millis(200));
            if self.ep.pending() >= cap {
                timeout = Some(Duration::from_millis(1));
            } else {
                let mut n = 0;
                loop {
                    match ws.read() {
                        Ok(tungstenite::Message::Text(t)) => self.on_text(&t),
                        Ok(tungstenite::Message::Close(f)) => {
                            // tungstenite queued the reply; send it and end.
                            let r = close_text(f.as_ref());
                            let _ = ws.flush();
                            return End::Lost(r);
                        }
                        Ok(_) => {}
                        Err(e) if is_timeout(&e) => break,
                        Err(e) => return End::Lost(e.to_string()),
                    }
                    n += 1;
                    if n >= 1024 {
                        // More may wait: come back at once, after the publishes.
                        timeout = Some(Duration::ZERO);
                        break;
                    }
                }
            }
            if !write_blocked && (!batch.is_empty() || !self.outbox.q.lock().is_empty()) {
                timeout = Some(Duration::ZERO);
            }
            if let Err(e) = poll.poll(&mut events, timeout) {
                if e.kind() != std::io::ErrorKind::Interrupted {
                    return End::Lost(e.to_string());
                }
            }
            if events.iter().any(|e| e.token() == SOCK && e.is_writable()) {
                write_blocked = false;
            }
        }
    }

    /// The TLS handshake (blocking, within the socket's timeouts).
    fn tls_connect(
        &self,
        c: &SslConnector,
        stream: TcpStream,
    ) -> std::result::Result<SslStream<TcpStream>, String> {
        let cfg = c
            .configure()
            .map_err(|e| super::tls::handshake_failure(&super::tls::stack(&e)))?
            .verify_hostname(self.verify_peer);
        match cfg.connect(&self.host, stream) {
            Ok(s) => Ok(s),
            Err(HandshakeError::SetupFailure(e)) => {
                Err(super::tls::handshake_failure(&super::tls::stack(&e)))
            }
            Err(HandshakeError::Failure(m)) => {
                let mut r = match m.error().ssl_error() {
                    Some(st) => super::tls::stack(st),
                    None => match m.error().io_error() {
                        Some(io) => io.to_string(),
                        None => "the server closed the connection".into(),
                    },
                };
                let v = m.ssl().verify_result();
                if v != X509VerifyResult::OK {
                    r = format!("{r}: {}", v.error_string());
                }
                Err(super::tls::handshake_failure(&r))
            }
            Err(HandshakeError::WouldBlock(_)) => Err(super::tls::handshake_failure(
                "timed out waiting for the server",
            )),
        }
    }

    fn on_text(&self, t: &str) {
        if let Some((topic, payload)) = super::fastjson::data_message_to_bin(t) {
            let _ = self.ep.deliver(Message::event_message(topic, payload));
            return;
        }
        if let Ok(m) = data_message_from_json(t) {
            let mut payload = Vec::new();
            if bin::try_encode(&m.value, &mut payload).is_ok() {
                let _ = self.ep.deliver(Message::event_message(m.topic, payload));
            }
            return;
        }
        if let Ok(j) = crate::json::parse(t) {
            if j.get("type").and_then(|v| v.as_str()) == Some("error") {
                self.status(
                    MessageKind::PeerRejected,
                    format!(
                        "the WebSocket server at {} answered with an error ({})",
                        self.url,
                        error_text(&j)
                    ),
                );
            }
        }
    }
}

fn error_text(j: &crate::json::JsonValue) -> String {
    format!(
        "{}: {}",
        j.get("code").and_then(|v| v.as_str()).unwrap_or("?"),
        j.get("context").and_then(|v| v.as_str()).unwrap_or("")
    )
}

fn close_text(f: Option<&tungstenite::protocol::CloseFrame<'_>>) -> String {
    match f {
        Some(f) => format!("closed with code {}: {}", u16::from(f.code), f.reason),
        None => "closed without a code".into(),
    }
}

fn is_timeout(e: &tungstenite::Error) -> bool {
    matches!(e, tungstenite::Error::Io(io)
        if matches!(io.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut))
}

#[cfg(test)]
mod tests {
    #[test]
    fn urls() {
        assert_eq!(
            super::parse_url("ws://127.0.0.1:27759/v1/messages/json").unwrap(),
            (false, "127.0.0.1".into(), 27759)
        );
        assert_eq!(
            super::parse_url("ws://[::1]:1/v1/messages/json").unwrap(),
            (false, "::1".into(), 1)
        );
        assert_eq!(
            super::parse_url("wss://example.org/v1/messages/json").unwrap(),
            (true, "example.org".into(), 443)
        );
        assert!(super::parse_url("http://x/").is_err());
        assert!(super::parse_url("ws://:1/").is_err());
    }
}
