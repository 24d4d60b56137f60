//! The WebSocket server of a node (`Cluster::listen_websocket`): Zeek's
//! `/v1/messages/json` protocol on a thread of its own, beside the endpoint.
//!
//! All clients share the node's one endpoint (Zeek creates a backend per client, which
//! ran out of sockets under bursts, zeek/zeek#4561): the server registers one tap whose
//! filter is the union of the clients' subscriptions, so peers send the node those
//! topics; the tap hands each matching message to every acknowledged client whose
//! subscriptions match (never back to the client that published it). Client events are
//! published with `EndpointHandle::publish_from`, so they reach the peers, the node's
//! host, and the other clients, as Zeek publishes a client's events into the cluster.
//!
//! Flow control, both ways bounded:
//! - From a client: at most `max_event_queue_size` of its messages wait for the
//!   endpoint's publish queue (Zeek's meaning: the queue before the producing thread
//!   stalls); then the server stops reading that client, and TCP pushes back.
//! - To a client: at most `send_queue_size` messages wait for it beyond what its socket
//!   took. A client that falls further behind is closed with 1008 and a reason, and the
//!   overflow is counted. Zeek's server queues without bound (IXWebSocket), which is how
//!   its clients were disconnected after ~20 s without a clear reason (zeek/zeek#4440).
//!
//! Differences from Zeek, on purpose: an event is checked for Zeek's event shape, not
//! against declared handlers (zcluster has no script layer); the ack's `version` is
//! zcluster's (`protocol::VERSION`); a plain HTTP request to a TLS server gets an HTTP 400
//! saying TLS is needed (see `super::tls`); `Cluster::websocket_client_added` / `_lost` reach the host as events on the empty
//! topic (Zeek raises them locally) and are not written to cluster.log as Zeek does.

use super::protocol::{self, CLOSE_GOING_AWAY, CLOSE_POLICY, PATH};
use super::tls::ServerTls;
use crate::data::{Event, Port, Protocol, Value};
use crate::endpoint::{EndpointHandle, Message, Tap, Transport};
use crate::error::{Error, ErrorKind, Result};
use crate::metrics::{WebSocketClientMetrics, WebSocketMetrics};
use crate::wire::filter::{filter_matches, normalize};
use crate::wire::Filter;
use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token, Waker};
use openssl::ssl::SslContext;
use parking_lot::Mutex;
use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tungstenite::handshake::{HandshakeError, MidHandshake};
use tungstenite::protocol::frame::coding::CloseCode;
use tungstenite::protocol::CloseFrame;
use tungstenite::{ServerHandshake, WebSocket};

/// The event raised on the hosting node when a client's subscriptions are active
/// (before its ack): `(endpoint: Cluster::EndpointInfo, subscriptions: string_vec)`.
pub const CLIENT_ADDED_EVENT: &str = "Cluster::websocket_client_added";
/// Raised when a client is gone: `(endpoint: Cluster::EndpointInfo, code: count,
/// reason: string)`.
pub const CLIENT_LOST_EVENT: &str = "Cluster::websocket_client_lost";

/// `Cluster::WebSocketServerOptions`, plus `send_queue_size` (ours).
#[derive(Debug, Clone, PartialEq)]
pub struct ServerOptions {
    pub listen_addr: String,
    /// 0 picks a free port (`WebSocketServer::port` tells which).
    pub listen_port: u16,
    /// `max_event_queue_size` (Zeek's default 32).
    pub max_event_queue_size: usize,
    /// `ping_interval` (Zeek's default 5 s); None (a negative interval) sends no pings.
    pub ping_interval: Option<Duration>,
    /// Messages waiting for one client before it is closed as too slow.
    pub send_queue_size: usize,
    /// `tls_options` (`Cluster::WebSocketTLSOptions`; see `super::tls`).
    pub tls: ServerTls,
}

impl Default for ServerOptions {
    fn default() -> Self {
        ServerOptions {
            listen_addr: "127.0.0.1".into(),
            listen_port: 27759,
            max_event_queue_size: 32,
            ping_interval: Some(Duration::from_secs(5)),
            send_queue_size: 16384,
            tls: ServerTls::default(),
        }
    }
}

impl ServerOptions {
    /// Sets a field by its Zeek name (`listen_addr`, `listen_port`,
    /// `max_event_queue_size`, `ping_interval`, and `tls_options`' fields `cert_file`,
    /// `key_file`, `enable_peer_verification`, `ca_file`, `ciphers`, each also as
    /// `tls_options$<field>`) or ours (`send_queue_size`): the catalogue's
    /// `Scope::WebSocket` (`crate::options`), values in its grammar.
    pub fn set(&mut self, key: &str, value: &str) -> Result<()> {
        use crate::options::OptionValue;
        let spec = crate::options::lookup(&[crate::options::Scope::WebSocket], key)?;
        let v = spec.parse(value)?;
        let count = || v.as_count().unwrap_or(0).clamp(1, usize::MAX as u64) as usize;
        match (spec.name, &v) {
            ("listen_addr", OptionValue::Addr(a)) => self.listen_addr = a.to_string(),
            ("listen_port", OptionValue::Port(p)) => self.listen_port = p.number,
            ("max_event_queue_size", _) => self.max_event_queue_size = count(),
            ("send_queue_size", _) => self.send_queue_size = count(),
            ("ping_interval", OptionValue::Interval(secs)) => {
                self.ping_interval = if *secs > 0.0 {
                    Some(
                        Duration::try_from_secs_f64(*secs)
                            .map_err(|_| spec.refuse(value, "is too large"))?,
                    )
                } else {
                    None
                };
            }
            ("tls_options$cert_file", OptionValue::String(f)) => {
                self.tls.cert_file = Some(f.trim().to_string())
            }
            ("tls_options$key_file", OptionValue::String(f)) => {
                self.tls.key_file = Some(f.trim().to_string())
            }
            ("tls_options$enable_peer_verification", OptionValue::Bool(b)) => {
                self.tls.enable_peer_verification = *b
            }
            ("tls_options$ca_file", OptionValue::String(f)) => {
                self.tls.ca_file = f.trim().to_string()
            }
            ("tls_options$ciphers", OptionValue::String(f)) => {
                self.tls.ciphers = f.trim().to_string()
            }
            (other, _) => {
                return Err(Error::new(
                    ErrorKind::Internal,
                    format!("WebSocket server option {other} is in the catalogue but not applied"),
                ))
            }
        }
        Ok(())
    }
}

struct HubClient {
    filter: Filter,
    acked: bool,
    /// Messages assigned to the client and not yet handed to its socket.
    queued: usize,
    overflow: bool,
}

struct Out {
    topic: String,
    payload: Vec<u8>,
    targets: Vec<u64>,
}

#[derive(Default)]
struct Hub {
    clients: HashMap<u64, HubClient>,
    queue: VecDeque<Out>,
    woken: bool,
}

struct Inner {
    hub: Mutex<Hub>,
    waker: Waker,
    applied: AtomicU64,
    send_queue_size: usize,
    stop: AtomicBool,
    accepted: AtomicU64,
    overflow_closes: AtomicU64,
    errors: AtomicU64,
    tls_failures: AtomicU64,
    clients: Mutex<Vec<WebSocketClientMetrics>>,
}

impl Inner {
    fn wake(&self) {
        let _ = self.waker.wake();
    }
}

struct Sink(Arc<Inner>);

impl Tap for Sink {
    fn offer(&self, topic: &str, payload: &[u8], origin: u64) {
        let mut hub = self.0.hub.lock();
        let cap = self.0.send_queue_size;
        let mut targets = Vec::new();
        for (id, c) in hub.clients.iter_mut() {
            if *id == origin || !c.acked || c.overflow || !filter_matches(&c.filter, topic) {
                continue;
            }
            if c.queued >= cap {
                c.overflow = true;
                continue;
            }
            c.queued += 1;
            targets.push(*id);
        }
        let need_wake = !hub.woken;
        if !targets.is_empty() {
            hub.queue.push_back(Out {
                topic: topic.to_string(),
                payload: payload.to_vec(),
                targets,
            });
        }
        let any_overflow = hub.clients.values().any(|c| c.overflow);
        if need_wake && (!hub.queue.is_empty() || any_overflow) {
            hub.woken = true;
            drop(hub);
            self.0.wake();
        }
    }

    fn updated(&self, generation: u64) {
        self.0.applied.fetch_max(generation, Ordering::AcqRel);
        self.0.wake();
    }
}

/// A running WebSocket server; stopped (clients closed with 1001 "Terminating") on drop.
pub struct WebSocketServer {
    inner: Arc<Inner>,
    thread: Mutex<Option<JoinHandle<()>>>,
    port: u16,
}

impl std::fmt::Debug for WebSocketServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebSocketServer")
            .field("port", &self.port)
            .finish()
    }
}

impl WebSocketServer {
    /// Starts serving `opts` for the endpoint behind `ep`. `node_id` is the first part of
    /// each client's endpoint name (`<node_id>-websocket-<n>`): the endpoint's id.
    pub fn start(ep: EndpointHandle, opts: &ServerOptions) -> Result<WebSocketServer> {
        Self::start_logged(ep, opts, None)
    }

    /// `start`, with a function that writes a line to cluster.log (`Cluster::log`): the
    /// lines Zeek's `websocket_client_added` / `_lost` handlers write.
    pub fn start_logged(
        ep: EndpointHandle,
        opts: &ServerOptions,
        log: Option<LogFn>,
    ) -> Result<WebSocketServer> {
        let tls = opts.tls.context()?;
        let ip: std::net::IpAddr = opts.listen_addr.parse().map_err(|_| {
            Error::invalid(format!(
                "WebSocket: listen_addr '{}' is not a valid IP",
                opts.listen_addr
            ))
        })?;
        let std_l = std::net::TcpListener::bind((ip, opts.listen_port)).map_err(|e| {
            Error::new(
                ErrorKind::Io,
                format!(
                    "WebSocket: unable to listen on {}:{}: {e}",
                    opts.listen_addr, opts.listen_port
                ),
            )
        })?;
        std_l.set_nonblocking(true)?;
        let port = std_l.local_addr()?.port();
        let poll = Poll::new()?;
        let waker = Waker::new(poll.registry(), WAKER)?;
        let inner = Arc::new(Inner {
            hub: Mutex::new(Hub::default()),
            waker,
            applied: AtomicU64::new(0),
            send_queue_size: opts.send_queue_size.max(1),
            stop: AtomicBool::new(false),
            accepted: AtomicU64::new(0),
            overflow_closes: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            tls_failures: AtomicU64::new(0),
            clients: Mutex::new(Vec::new()),
        });
        let tap_id = ep.new_origin();
        ep.set_tap(tap_id, Vec::new(), Arc::new(Sink(inner.clone())), 0)?;
        let mut listener = TcpListener::from_std(std_l);
        poll.registry()
            .register(&mut listener, LISTENER, Interest::READABLE)?;
        let mut st = ServerThread {
            inner: inner.clone(),
            ep,
            tap_id,
            poll,
            listener,
            clients: HashMap::new(),
            next_token: 2,
            next_conn: 0,
            generation: 0,
            opts: opts.clone(),
            node_id: String::new(),
            tls,
            log,
        };
        st.node_id = st.ep.id().to_string();
        let thread = std::thread::Builder::new()
            .name("zc-websocket".into())
            .spawn(move || st.run())
            .map_err(|e| {
                Error::new(ErrorKind::Io, format!("spawning the WebSocket thread: {e}"))
            })?;
        Ok(WebSocketServer {
            inner,
            thread: Mutex::new(Some(thread)),
            port,
        })
    }

    /// The bound port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Counters and the connected clients.
    pub fn metrics(&self) -> WebSocketMetrics {
        WebSocketMetrics {
            clients: self.inner.clients.lock().clone(),
            accepted: self.inner.accepted.load(Ordering::Relaxed),
            overflow_closes: self.inner.overflow_closes.load(Ordering::Relaxed),
            errors: self.inner.errors.load(Ordering::Relaxed),
            tls_failures: self.inner.tls_failures.load(Ordering::Relaxed),
        }
    }

    /// Closes every client with 1001 "Terminating" and stops. Idempotent.
    pub fn close(&self) {
        self.inner.stop.store(true, Ordering::Release);
        self.inner.wake();
        if let Some(t) = self.thread.lock().take() {
            let _ = t.join();
        }
    }
}

impl Drop for WebSocketServer {
    fn drop(&mut self) {
        self.close();
    }
}

const WAKER: Token = Token(0);
const LISTENER: Token = Token(1);

/// The request line and headers the handshake saw.
#[derive(Default)]
struct Seen {
    uri: String,
    app: Option<String>,
}

struct Capture(Arc<Mutex<Seen>>);

impl tungstenite::handshake::server::Callback for Capture {
    fn on_request(
        self,
        request: &Request,
        response: Response,
    ) -> std::result::Result<Response, ErrorResponse> {
        let mut s = self.0.lock();
        s.uri = request
            .uri()
            .path_and_query()
            .map(|p| p.as_str().to_string())
            .unwrap_or_else(|| request.uri().to_string());
        s.app = request
            .headers()
            .get("X-Application-Name")
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
        Ok(response)
    }
}

/// A client's byte stream: the socket, or TLS over it (the peerings' `Transport`: the
/// TLS handshake runs inside the first reads, non-blocking).
pub(crate) struct Stream(Transport);

impl std::io::Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.0.read(buf)
    }
}

impl std::io::Write for Stream {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.write(buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

type Mid = MidHandshake<ServerHandshake<Stream, Capture>>;

/// The body of what a TLS server answers a plain HTTP request with (an HTTP 400).
const PLAIN_ON_TLS: &str =
    "This WebSocket server requires TLS: connect with wss:// (or https://)\n";

enum Conn {
    /// A TLS server's new connection, until its first byte tells a TLS ClientHello
    /// (0x16) from a plain HTTP request.
    Sniff(Option<TcpStream>),
    /// The TLS handshake, before any HTTP.
    Tls(Option<Transport>),
    /// A connection that failed (TLS) or spoke plain HTTP to a TLS server: our side is
    /// shut down and what the client still sends is read and dropped until it closes, so
    /// the alert or the answer reaches it (closing with unread bytes would reset it).
    Linger(Transport),
    Handshake(Option<Box<Mid>>, Arc<Mutex<Seen>>),
    Open(Box<WebSocket<Stream>>),
}

struct Client {
    conn: Conn,
    remote: SocketAddr,
    n: u64,
    origin: u64,
    app: Option<String>,
    /// Passed the URI and application-name checks (Zeek: has a backend).
    accepted: bool,
    msg_count: u64,
    subs: Vec<String>,
    /// The tap generation whose application makes this client's subscriptions active.
    await_generation: Option<u64>,
    acked: bool,
    /// Client messages waiting: before the ack, or for room in the publish queue.
    inbound: VecDeque<String>,
    out: VecDeque<Arc<str>>,
    write_blocked: bool,
    readable: bool,
    /// We closed (or the client did): (code, reason) for websocket_client_lost.
    closed: Option<(u16, String)>,
    close_deadline: Option<Instant>,
    done: bool,
    next_ping: Option<Instant>,
    events_in: u64,
    events_out: u64,
}

impl Client {
    fn endpoint_name(&self, node_id: &str) -> String {
        format!("{node_id}-websocket-{}", self.n)
    }
}

struct ServerThread {
    inner: Arc<Inner>,
    ep: EndpointHandle,
    tap_id: u64,
    poll: Poll,
    listener: TcpListener,
    clients: HashMap<Token, Client>,
    next_token: usize,
    next_conn: u64,
    generation: u64,
    opts: ServerOptions,
    node_id: String,
    tls: Option<SslContext>,
    log: Option<LogFn>,
}

/// Writes one line to cluster.log.
pub type LogFn = Arc<dyn Fn(&str) + Send + Sync>;

fn is_would_block(e: &tungstenite::Error) -> bool {
    matches!(e, tungstenite::Error::Io(io) if io.kind() == std::io::ErrorKind::WouldBlock)
}

impl ServerThread {
    fn run(mut self) {
        let mut events = Events::with_capacity(256);
        loop {
            let timeout = self.timeout();
            if let Err(e) = self.poll.poll(&mut events, timeout) {
                if e.kind() != std::io::ErrorKind::Interrupted {
                    break;
                }
            }
            for ev in events.iter() {
                match ev.token() {
                    WAKER => {}
                    LISTENER => self.accept(),
                    t => {
                        if let Some(c) = self.clients.get_mut(&t) {
                            if ev.is_readable() || ev.is_read_closed() || ev.is_error() {
                                c.readable = true;
                            }
                            if ev.is_writable() {
                                c.write_blocked = false;
                            }
                        }
                    }
                }
            }
            if self.inner.stop.load(Ordering::Acquire) {
                self.shutdown();
                return;
            }
            let tokens: Vec<Token> = self.clients.keys().copied().collect();
            for t in &tokens {
                self.drive(*t);
            }
            self.route_outgoing();
            for t in &tokens {
                self.write_out(*t);
            }
            self.check_overflow();
            self.reap();
            self.publish_metrics();
        }
    }

    fn timeout(&self) -> Option<Duration> {
        let now = Instant::now();
        let mut next: Option<Instant> = None;
        let mut consider = |d: Instant| next = Some(next.map_or(d, |n: Instant| n.min(d)));
        for c in self.clients.values() {
            if !c.inbound.is_empty() && c.acked {
                // Waiting for room in the publish queue.
                consider(now + Duration::from_millis(1));
            }
            if let Some(d) = c.close_deadline {
                consider(d);
            }
            if let Some(d) = c.next_ping {
                consider(d);
            }
            if c.await_generation.is_some() {
                consider(now + Duration::from_millis(50));
            }
        }
        next.map(|n| n.saturating_duration_since(now))
    }

    fn accept(&mut self) {
        loop {
            match self.listener.accept() {
                Ok((mut s, remote)) => {
                    let t = Token(self.next_token);
                    self.next_token += 1;
                    if self
                        .poll
                        .registry()
                        .register(&mut s, t, Interest::READABLE | Interest::WRITABLE)
                        .is_err()
                    {
                        continue;
                    }
                    let _ = s.set_nodelay(true);
                    let seen = Arc::new(Mutex::new(Seen::default()));
                    let n = self.next_conn;
                    self.next_conn += 1;
                    let origin = self.ep.new_origin();
                    let mut c = Client {
                        conn: Conn::Handshake(None, seen.clone()),
                        remote,
                        n,
                        origin,
                        app: None,
                        accepted: false,
                        msg_count: 0,
                        subs: Vec::new(),
                        await_generation: None,
                        acked: false,
                        inbound: VecDeque::new(),
                        out: VecDeque::new(),
                        write_blocked: false,
                        readable: true,
                        closed: None,
                        close_deadline: Some(Instant::now() + Duration::from_secs(10)),
                        done: false,
                        next_ping: None,
                        events_in: 0,
                        events_out: 0,
                    };
                    if self.tls.is_some() {
                        c.conn = Conn::Sniff(Some(s));
                    } else {
                        match Transport::new(s, None, true) {
                            Ok(tr) => self.start_handshake(&mut c, Stream(tr)),
                            Err(_) => continue,
                        }
                        if c.done {
                            continue;
                        }
                    }
                    self.clients.insert(t, c);
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(_) => return,
            }
        }
    }

    /// Starts (and, when the request is already there, finishes) the upgrade.
    fn start_handshake(&mut self, c: &mut Client, stream: Stream) {
        let seen = match &c.conn {
            Conn::Handshake(_, seen) => seen.clone(),
            _ => Arc::new(Mutex::new(Seen::default())),
        };
        match tungstenite::accept_hdr(stream, Capture(seen.clone())) {
            Ok(ws) => {
                let seen = std::mem::take(&mut *seen.lock());
                c.conn = Conn::Open(Box::new(ws));
                self.opened(c);
                self.check_open(c, &seen);
            }
            Err(HandshakeError::Interrupted(mid)) => {
                c.conn = Conn::Handshake(Some(Box::new(mid)), seen);
                c.readable = false;
            }
            Err(HandshakeError::Failure(e)) => self.handshake_failed(c, &e),
        }
    }

    fn handshake_failed(&self, c: &mut Client, _e: &tungstenite::Error) {
        c.done = true;
    }

    /// A TLS server's connection before its first byte: a ClientHello starts TLS, plain
    /// HTTP gets a 400 saying TLS is needed.
    fn sniff(&mut self, c: &mut Client) {
        let Conn::Sniff(slot) = &mut c.conn else {
            return;
        };
        if !c.readable {
            return;
        }
        let Some(s) = slot.as_ref() else {
            c.done = true;
            return;
        };
        let mut b = [0u8; 1];
        match s.peek(&mut b) {
            Ok(0) => c.done = true,
            Ok(_) if b[0] == 0x16 => {
                let s = slot.take().expect("checked above");
                let ctx = self.tls.as_ref().expect("a TLS server");
                match Transport::new(s, Some(ctx), true) {
                    Ok(tr) => c.conn = Conn::Tls(Some(tr)),
                    Err(_) => c.done = true,
                }
            }
            Ok(_) => {
                use std::io::{Read, Write};
                let mut s = slot.take().expect("checked above");
                // Read the request first: closing with unread bytes would reset the
                // connection before the client reads the answer.
                let mut buf = [0u8; 8192];
                let _ = s.read(&mut buf);
                let answer = format!(
                    "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\n\
                     Connection: close\r\nContent-Length: {}\r\n\r\n{PLAIN_ON_TLS}",
                    PLAIN_ON_TLS.len()
                );
                let _ = s.write_all(answer.as_bytes());
                self.inner.tls_failures.fetch_add(1, Ordering::Relaxed);
                match Transport::new(s, None, true) {
                    Ok(tr) => linger(c, tr),
                    Err(_) => c.done = true,
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => c.readable = false,
            Err(_) => c.done = true,
        }
    }

    /// The TLS handshake (OpenSSL's, inside `Transport`); then the upgrade.
    fn tls_handshake(&mut self, c: &mut Client) {
        let Conn::Tls(slot) = &mut c.conn else {
            return;
        };
        if !c.readable && c.write_blocked {
            return;
        }
        let Some(mut tr) = slot.take() else {
            c.done = true;
            return;
        };
        match tr.read(&mut []) {
            Ok(_) => self.start_handshake(c, Stream(tr)),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                *slot = Some(tr);
                c.readable = false;
                c.write_blocked = true;
            }
            Err(_) => {
                self.inner.tls_failures.fetch_add(1, Ordering::Relaxed);
                linger(c, tr);
            }
        }
    }

    /// The upgrade completed: Zeek's `Process(WebSocketOpen)`.
    fn opened(&mut self, c: &mut Client) {
        c.close_deadline = None;
        self.inner.accepted.fetch_add(1, Ordering::Relaxed);
    }

    fn check_open(&mut self, c: &mut Client, seen: &Seen) {
        c.app = seen.app.clone();
        if seen.uri != PATH {
            self.reject(c, "invalid_uri", "Invalid URI - use /v1/messages/json");
            return;
        }
        let app = seen.app.clone().unwrap_or_else(|| "unknown".into());
        if !protocol::good_application_name(&app) {
            self.reject(c, "invalid_application_name", "Invalid X-Application-Name");
            return;
        }
        c.accepted = true;
        c.next_ping = self.opts.ping_interval.map(|p| Instant::now() + p);
        self.inner.hub.lock().clients.insert(
            c.origin,
            HubClient {
                filter: Vec::new(),
                acked: false,
                queued: 0,
                overflow: false,
            },
        );
    }

    fn reject(&self, c: &mut Client, code: &str, context: &str) {
        self.inner.errors.fetch_add(1, Ordering::Relaxed);
        send_text(c, protocol::error_json(code, context));
        close(c, CLOSE_POLICY, context);
    }

    /// Handshake progress, reading, acks, publishing.
    fn drive(&mut self, t: Token) {
        let Some(mut c) = self.clients.remove(&t) else {
            return;
        };
        self.sniff(&mut c);
        self.tls_handshake(&mut c);
        if let Conn::Linger(tr) = &c.conn {
            if c.readable {
                use std::io::Read;
                let mut s: &TcpStream = tr.tcp();
                let mut buf = [0u8; 4096];
                loop {
                    match s.read(&mut buf) {
                        Ok(0) => {
                            c.done = true;
                            break;
                        }
                        Ok(_) => {}
                        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                            c.readable = false;
                            break;
                        }
                        Err(_) => {
                            c.done = true;
                            break;
                        }
                    }
                }
            }
        }
        if let Conn::Handshake(mid, seen) = &mut c.conn {
            if c.readable || !c.write_blocked {
                if let Some(m) = mid.take() {
                    match m.handshake() {
                        Ok(ws) => {
                            let seen = std::mem::take(&mut *seen.lock());
                            c.conn = Conn::Open(Box::new(ws));
                            self.opened(&mut c);
                            self.check_open(&mut c, &seen);
                        }
                        Err(HandshakeError::Interrupted(m)) => {
                            *mid = Some(Box::new(m));
                            c.readable = false;
                        }
                        Err(HandshakeError::Failure(e)) => self.handshake_failed(&mut c, &e),
                    }
                }
            }
        }
        if let Some(g) = c.await_generation {
            if self.inner.applied.load(Ordering::Acquire) >= g {
                c.await_generation = None;
                self.ack(&mut c);
            }
        }
        if c.acked {
            self.publish_inbound(&mut c);
        }
        if c.readable && matches!(c.conn, Conn::Open(_)) {
            self.read(&mut c);
        }
        let now = Instant::now();
        if let Some(p) = c.next_ping.filter(|p| *p <= now) {
            let _ = p;
            if let Conn::Open(ws) = &mut c.conn {
                if c.closed.is_none() {
                    // IXWebSocket's heartbeat payload (Zeek's server), whole seconds.
                    let secs = self.opts.ping_interval.map_or(0, |p| p.as_secs());
                    let _ = ws.write(tungstenite::Message::Ping(
                        format!("ixwebsocket::heartbeat::{secs}s").into_bytes(),
                    ));
                    c.write_blocked = false;
                }
            }
            c.next_ping = self.opts.ping_interval.map(|p| now + p);
        }
        if c.close_deadline.is_some_and(|d| d <= now) {
            c.done = true;
        }
        self.clients.insert(t, c);
    }

    fn read(&mut self, c: &mut Client) {
        loop {
            if c.done || c.inbound.len() >= self.opts.max_event_queue_size {
                // Stop reading: TCP pushes back on the client until the queue drains.
                return;
            }
            let Conn::Open(ws) = &mut c.conn else { return };
            match ws.read() {
                Ok(tungstenite::Message::Text(s)) => self.on_frame(c, s),
                Ok(tungstenite::Message::Binary(b)) => match String::from_utf8(b) {
                    Ok(s) => self.on_frame(c, s),
                    Err(_) => self.on_frame(c, String::new()),
                },
                Ok(tungstenite::Message::Close(f)) => {
                    if c.closed.is_none() {
                        c.closed = Some(match f {
                            Some(f) => (u16::from(f.code), f.reason.into_owned()),
                            None => (1005, String::new()),
                        });
                    }
                    c.close_deadline
                        .get_or_insert(Instant::now() + Duration::from_secs(1));
                    c.write_blocked = false;
                }
                Ok(_) => {}
                Err(e) if is_would_block(&e) => {
                    c.readable = false;
                    return;
                }
                Err(tungstenite::Error::ConnectionClosed)
                | Err(tungstenite::Error::AlreadyClosed) => {
                    c.done = true;
                    return;
                }
                Err(e) => {
                    if c.closed.is_none() {
                        c.closed = Some((1006, e.to_string()));
                    }
                    c.done = true;
                    return;
                }
            }
        }
    }

    /// A message from the client: Zeek's `Process(WebSocketMessage)`.
    fn on_frame(&mut self, c: &mut Client, text: String) {
        if !c.accepted || c.closed.is_some() {
            return;
        }
        c.msg_count += 1;
        if c.msg_count == 1 {
            match protocol::parse_subscriptions(&text) {
                Ok(subs) => {
                    c.subs = subs;
                    if let Some(h) = self.inner.hub.lock().clients.get_mut(&c.origin) {
                        h.filter = normalize(c.subs.clone());
                    }
                    self.generation += 1;
                    c.await_generation = Some(self.generation);
                    self.update_tap();
                }
                Err(ctx) => {
                    self.inner.errors.fetch_add(1, Ordering::Relaxed);
                    send_text(c, protocol::error_json("deserialization_failed", ctx));
                }
            }
            return;
        }
        c.inbound.push_back(text);
        if c.acked {
            self.publish_inbound(c);
        }
    }

    fn update_tap(&mut self) {
        let union: Vec<String> = {
            let hub = self.inner.hub.lock();
            hub.clients
                .values()
                .flat_map(|h| h.filter.iter().cloned())
                .collect()
        };
        let _ = self.ep.set_tap(
            self.tap_id,
            union,
            Arc::new(Sink(self.inner.clone())),
            self.generation,
        );
    }

    /// Subscriptions active: Zeek's `HandleSubscriptionsActive`.
    fn ack(&mut self, c: &mut Client) {
        if let Some(h) = self.inner.hub.lock().clients.get_mut(&c.origin) {
            h.acked = true;
        }
        c.acked = true;
        let subs = Value::Vector(
            c.subs
                .iter()
                .map(|s| Value::String(s.as_bytes().to_vec()))
                .collect(),
        );
        let info = self.endpoint_info(c);
        self.raise(Event::with_args(CLIENT_ADDED_EVENT, vec![info, subs]));
        if let Some(log) = &self.log {
            log(&format!(
                "WebSocket client {} subscribed to [{}]",
                self.format_endpoint_info(c),
                c.subs.join(", ")
            ));
        }
        let name = c.endpoint_name(&self.node_id);
        send_text(c, protocol::ack_json(&name, protocol::VERSION));
    }

    /// Zeek's `Cluster::format_endpoint_info`.
    fn format_endpoint_info(&self, c: &Client) -> String {
        let mut s = format!(
            "'{}' ({}:{})",
            c.endpoint_name(&self.node_id),
            c.remote.ip(),
            c.remote.port()
        );
        if let Some(a) = &c.app {
            s.push_str(&format!(" application_name={a}"));
        }
        s
    }

    fn endpoint_info(&self, c: &Client) -> Value {
        let addr = Value::String(c.remote.ip().to_string().into_bytes());
        Value::Vector(vec![
            Value::String(c.endpoint_name(&self.node_id).into_bytes()),
            Value::Vector(vec![
                addr,
                Value::Port(Port {
                    number: c.remote.port(),
                    protocol: Protocol::Tcp,
                }),
            ]),
            match &c.app {
                Some(a) => Value::String(a.as_bytes().to_vec()),
                None => Value::None,
            },
        ])
    }

    fn raise(&self, ev: Event) {
        let _ = self
            .ep
            .deliver(Message::event_message(String::new(), ev.to_bytes()));
    }

    fn publish_inbound(&mut self, c: &mut Client) {
        while let Some(text) = c.inbound.front() {
            match protocol::decode_client_message(text) {
                Err(ctx) => {
                    c.inbound.pop_front();
                    self.inner.errors.fetch_add(1, Ordering::Relaxed);
                    send_text(c, protocol::error_json("deserialization_failed", ctx));
                }
                Ok((topic, payload)) => {
                    match self.ep.publish_from(c.origin, &topic, payload, false) {
                        Ok(()) => {
                            c.inbound.pop_front();
                            c.events_in += 1;
                        }
                        Err(e) if e.kind == ErrorKind::WouldBlock => return,
                        Err(_) => {
                            // The endpoint closed.
                            c.inbound.clear();
                            close(c, CLOSE_GOING_AWAY, "Terminating");
                            return;
                        }
                    }
                }
            }
        }
        if c.inbound.len() < self.opts.max_event_queue_size && !c.readable {
            // More may wait in the socket since reading stopped.
            c.readable = true;
        }
    }

    fn route_outgoing(&mut self) {
        let outs: Vec<Out> = {
            let mut hub = self.inner.hub.lock();
            hub.woken = false;
            hub.queue.drain(..).collect()
        };
        if outs.is_empty() {
            return;
        }
        let by_origin: HashMap<u64, Token> =
            self.clients.iter().map(|(t, c)| (c.origin, *t)).collect();
        for o in outs {
            let Some(json) = protocol::encode_server_message(&o.topic, &o.payload) else {
                continue;
            };
            let json: Arc<str> = Arc::from(json);
            for id in o.targets {
                if let Some(c) = by_origin.get(&id).and_then(|t| self.clients.get_mut(t)) {
                    c.out.push_back(json.clone());
                }
            }
        }
    }

    fn write_out(&mut self, t: Token) {
        let Some(c) = self.clients.get_mut(&t) else {
            return;
        };
        let Conn::Open(ws) = &mut c.conn else { return };
        if c.write_blocked {
            return;
        }
        let mut written = 0usize;
        while let Some(m) = c.out.pop_front() {
            if c.closed.is_some() {
                written += 1;
                continue;
            }
            match ws.write(tungstenite::Message::Text(m.to_string())) {
                Ok(()) => written += 1,
                Err(e) if is_would_block(&e) => {
                    // Queued in tungstenite's buffer; flushed when writable.
                    written += 1;
                    c.write_blocked = true;
                    break;
                }
                Err(tungstenite::Error::WriteBufferFull(_)) => {
                    c.out.push_front(m);
                    c.write_blocked = true;
                    break;
                }
                Err(_) => {
                    c.done = true;
                    break;
                }
            }
            if written >= 256 {
                break;
            }
        }
        match ws.flush() {
            Ok(()) => {}
            Err(e) if is_would_block(&e) => c.write_blocked = true,
            Err(tungstenite::Error::ConnectionClosed) => c.done = true,
            Err(_) => c.done = true,
        }
        if written > 0 {
            c.events_out += written as u64;
            if let Some(h) = self.inner.hub.lock().clients.get_mut(&c.origin) {
                h.queued = h.queued.saturating_sub(written);
            }
        }
        if !c.out.is_empty() && !c.write_blocked {
            // More to write next turn.
            self.inner.wake();
        }
    }

    fn check_overflow(&mut self) {
        let over: Vec<u64> = {
            let hub = self.inner.hub.lock();
            hub.clients
                .iter()
                .filter(|(_, h)| h.overflow)
                .map(|(id, _)| *id)
                .collect()
        };
        if over.is_empty() {
            return;
        }
        for c in self.clients.values_mut() {
            if over.contains(&c.origin) && c.closed.is_none() {
                self.inner.overflow_closes.fetch_add(1, Ordering::Relaxed);
                c.out.clear();
                let reason = format!(
                    "send queue overflow: more than {} events waited for this client",
                    self.opts.send_queue_size
                );
                close(c, CLOSE_POLICY, &reason);
            }
        }
        let mut hub = self.inner.hub.lock();
        for id in over {
            hub.clients.remove(&id);
        }
    }

    fn reap(&mut self) {
        let dead: Vec<Token> = self
            .clients
            .iter()
            .filter(|(_, c)| c.done)
            .map(|(t, _)| *t)
            .collect();
        if dead.is_empty() {
            return;
        }
        let mut changed = false;
        for t in dead {
            let Some(mut c) = self.clients.remove(&t) else {
                continue;
            };
            if let Conn::Open(ws) = &mut c.conn {
                let _ = self.poll.registry().deregister(&mut ws.get_mut().0);
            }
            changed |= self.inner.hub.lock().clients.remove(&c.origin).is_some();
            if c.accepted {
                let (code, reason) = c.closed.clone().unwrap_or((1006, String::new()));
                if let Some(log) = &self.log {
                    let why = if reason.is_empty() {
                        String::new()
                    } else {
                        format!(" and reason '{reason}'")
                    };
                    log(&format!(
                        "WebSocket client {} gone with code {code}{why}",
                        self.format_endpoint_info(&c)
                    ));
                }
                let info = self.endpoint_info(&c);
                self.raise(Event::with_args(
                    CLIENT_LOST_EVENT,
                    vec![
                        info,
                        Value::Count(u64::from(code)),
                        Value::String(reason.into_bytes()),
                    ],
                ));
            }
        }
        if changed {
            self.generation += 1;
            self.update_tap();
        }
    }

    fn publish_metrics(&self) {
        let hub = self.inner.hub.lock();
        let v: Vec<WebSocketClientMetrics> = self
            .clients
            .values()
            .filter(|c| c.accepted)
            .map(|c| WebSocketClientMetrics {
                endpoint: c.endpoint_name(&self.node_id),
                application: c.app.clone().unwrap_or_else(|| "unknown".into()),
                remote: c.remote.to_string(),
                events_in: c.events_in,
                events_out: c.events_out,
                queued: hub.clients.get(&c.origin).map_or(0, |h| h.queued as u64),
            })
            .collect();
        drop(hub);
        *self.inner.clients.lock() = v;
    }

    fn shutdown(&mut self) {
        let _ = self.ep.remove_tap(self.tap_id);
        for c in self.clients.values_mut() {
            if c.closed.is_none() {
                close(c, CLOSE_GOING_AWAY, "Terminating");
            }
        }
        let deadline = Instant::now() + Duration::from_millis(500);
        while Instant::now() < deadline
            && self.clients.values_mut().any(|c| match &mut c.conn {
                Conn::Open(ws) => matches!(ws.flush(), Err(ref e) if is_would_block(e)),
                _ => false,
            })
        {
            std::thread::sleep(Duration::from_millis(5));
        }
        let tokens: Vec<Token> = self.clients.keys().copied().collect();
        for t in tokens {
            if let Some(c) = self.clients.get_mut(&t) {
                c.done = true;
            }
        }
        self.reap();
    }
}

/// Shuts our side down and reads until the client closes (or a second passes).
fn linger(c: &mut Client, tr: Transport) {
    let _ = tr.tcp().shutdown(std::net::Shutdown::Write);
    c.conn = Conn::Linger(tr);
    c.readable = true;
    c.close_deadline = Some(Instant::now() + Duration::from_secs(1));
}

fn send_text(c: &mut Client, text: String) {
    if let Conn::Open(ws) = &mut c.conn {
        let _ = ws.write(tungstenite::Message::Text(text));
        let _ = ws.flush();
    }
}

fn close(c: &mut Client, code: u16, reason: &str) {
    if let Conn::Open(ws) = &mut c.conn {
        let _ = ws.close(Some(CloseFrame {
            code: CloseCode::from(code),
            reason: reason.to_string().into(),
        }));
        let _ = ws.flush();
    }
    if c.closed.is_none() {
        c.closed = Some((code, reason.to_string()));
    }
    c.close_deadline = Some(Instant::now() + Duration::from_secs(1));
}
