//! `publish`, `subscribe` and `status`: a short-lived Broker endpoint that peers with one
//! node (`--to HOST:PORT`), modelled on Broker's `broker-pipe` and Zeek's WebSocket JSON.
//!
//! Events print as Zeek's WebSocket data messages, one JSON object per line:
//! `{"type":"data-message","topic":T,"@data-type":"vector","data":[...]}` (the Broker JSON
//! codec of `zcluster::data::json`), which `publish` reads back from stdin.

use crate::cli::{ConnectArgs, PublishArgs, StatusArgs, SubscribeArgs};
use crate::{exit, literal, progress, Failure, Res};
use std::io::{BufRead, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use zcluster::data::{json, Event, Value};
use zcluster::endpoint::{Endpoint, EndpointOptions, Message, MessageKind, PeerInfo};

pub const DEFAULT_TIMEOUT: f64 = 10.0;

/// Where `--to` points: a Broker peer, or Zeek's WebSocket API (`ws://host:port/path`).
pub enum Target {
    Broker {
        host: String,
        port: u16,
    },
    WebSocket {
        url: String,
        host: String,
        port: u16,
    },
}

pub fn parse_target(to: &str) -> Res<Target> {
    let lower = to.to_ascii_lowercase();
    // wss:// verifies the server against the system's CAs (OpenSSL's SSL_CERT_FILE /
    // SSL_CERT_DIR point elsewhere).
    let ws = lower
        .strip_prefix("ws://")
        .map(|r| (r, 80))
        .or_else(|| lower.strip_prefix("wss://").map(|r| (r, 443)));
    if let Some((rest, default_port)) = ws {
        let hostport = rest.split('/').next().unwrap_or("");
        let (host, port) = match hostport.rsplit_once(':') {
            Some((h, p)) if !h.is_empty() => (
                h.trim_start_matches('[').trim_end_matches(']'),
                p.parse::<u16>().ok(),
            ),
            _ => (hostport, Some(default_port)),
        };
        let Some(port) = port.filter(|p| *p != 0) else {
            return Err(Failure::new(
                exit::BAD_INPUT,
                format!("--to {to}: bad port in the URL"),
            ));
        };
        if host.is_empty() {
            return Err(Failure::new(
                exit::BAD_INPUT,
                format!("--to {to}: no host in the URL"),
            ));
        }
        return Ok(Target::WebSocket {
            url: to.to_string(),
            host: host.to_string(),
            port,
        });
    }
    if lower.contains("://") {
        return Err(Failure::new(
            exit::BAD_INPUT,
            format!("--to {to}: expected HOST:PORT or a ws:// or wss:// URL"),
        ));
    }
    let Some((host, port)) = to.rsplit_once(':') else {
        return Err(Failure::new(
            exit::BAD_INPUT,
            format!("--to {to}: expected HOST:PORT (e.g. 127.0.0.1:27761)"),
        ));
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let port: u16 = port.parse().map_err(|_| {
        Failure::new(
            exit::BAD_INPUT,
            format!("--to {to}: '{port}' is not a port number"),
        )
    })?;
    if host.is_empty() || port == 0 {
        return Err(Failure::new(
            exit::BAD_INPUT,
            format!("--to {to}: expected HOST:PORT with a non-zero port"),
        ));
    }
    Ok(Target::Broker {
        host: host.to_string(),
        port,
    })
}

fn secs(t: Option<f64>, default: f64) -> Res<Duration> {
    let t = t.unwrap_or(default);
    if !(0.0..=1e7).contains(&t) {
        return Err(Failure::new(
            exit::BAD_INPUT,
            format!("--timeout {t}: expected seconds >= 0"),
        ));
    }
    Ok(Duration::from_secs_f64(t))
}

/// Flags set by SIGINT / SIGTERM.
pub fn stop_flag() -> Arc<AtomicBool> {
    let f = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        let _ = signal_hook::flag::register(sig, f.clone());
    }
    f
}

/// An endpoint peered with the target: returns it, the peer, and any data messages that
/// arrived while the handshake finished.
pub struct Conn {
    pub ep: Endpoint,
    pub peer: PeerInfo,
    pub early: Vec<Message>,
    host: String,
    port: u16,
    /// Set for a WebSocket connection (instead of a peering).
    ws: Option<zcluster::websocket::client::ClientHandle>,
}

pub fn connect(conn: &ConnectArgs, subscriptions: &[String]) -> Res<Conn> {
    connect_with(conn, subscriptions, |_| Ok(()))
}

/// `connect`, running `setup` on the endpoint before it peers (to attach stores).
pub fn connect_with(
    conn: &ConnectArgs,
    subscriptions: &[String],
    setup: impl FnOnce(&Endpoint) -> Res,
) -> Res<Conn> {
    let target = parse_target(&conn.to)?;
    let (host, port, url) = match &target {
        Target::Broker { host, port } => (host.clone(), *port, None),
        Target::WebSocket { url, host, port } => (host.clone(), *port, Some(url.clone())),
    };
    let timeout = secs(conn.timeout, DEFAULT_TIMEOUT)?;
    let opts = EndpointOptions {
        forwarding: false,
        ..EndpointOptions::default()
    };
    let ep = Endpoint::new(opts)?;
    setup(&ep)?;
    let mut ws = None;
    match &url {
        None => {
            for s in subscriptions {
                ep.subscribe(s)?;
            }
            ep.peer(&host, port, Duration::ZERO).map_err(|e| {
                Failure::new(
                    exit::UNREACHABLE,
                    format!("cannot reach {host}:{port}: {}", e.message),
                )
            })?;
        }
        // The WebSocket API subscribes at connect time (its handshake).
        Some(u) => {
            ws = Some(
                ep.connect_websocket(u, subscriptions, Duration::ZERO)
                    .map_err(|e| {
                        Failure::new(
                            exit::UNREACHABLE,
                            format!("cannot reach {u}: {}", e.message),
                        )
                    })?,
            )
        }
    }
    let start = Instant::now();
    let mut early = Vec::new();
    loop {
        let left = timeout.saturating_sub(start.elapsed());
        if left.is_zero() {
            return Err(Failure::new(
                exit::UNREACHABLE,
                format!(
                    "cannot reach {host}:{port}: no handshake within {:.1}s",
                    timeout.as_secs_f64()
                ),
            ));
        }
        progress::show(&format!(
            "connecting to {host}:{port} ... {:.0}s",
            start.elapsed().as_secs_f64()
        ));
        let Some(m) = ep.next(Some(left.min(Duration::from_millis(250)))) else {
            continue;
        };
        match m.kind {
            MessageKind::PeerAdded => {
                progress::clear();
                let peer = m.peer.clone().unwrap_or(PeerInfo {
                    id: None,
                    address: host.clone(),
                    port,
                });
                return Ok(Conn {
                    ep,
                    peer,
                    early,
                    host,
                    port,
                    ws,
                });
            }
            MessageKind::PeerUnavailable | MessageKind::PeerRejected | MessageKind::PeerLost => {
                return Err(Failure::new(
                    exit::UNREACHABLE,
                    format!("cannot reach {host}:{port}: {}", m.text),
                ))
            }
            MessageKind::Event | MessageKind::Command => early.push(m),
            _ => {}
        }
    }
}

impl Conn {
    /// Says goodbye (Broker's BYE, after everything published before it) and closes; a
    /// WebSocket connection first hands every publish to the client (bounded wait).
    pub fn finish(self) {
        if let Some(ws) = &self.ws {
            // Every publish written to the server, then the close handshake (bounded).
            ws.flush(Duration::from_secs(5));
            ws.close(Duration::from_secs(2));
            self.ep.close();
            return;
        }
        if self.ep.unpeer(&self.host, self.port).is_ok() {
            let end = Instant::now() + Duration::from_secs(3);
            while let Some(m) = self
                .ep
                .next(Some(end.saturating_duration_since(Instant::now())))
            {
                if matches!(m.kind, MessageKind::PeerRemoved | MessageKind::PeerLost) {
                    break;
                }
            }
        }
        self.ep.close();
    }
}

fn wait_subscriber(c: &Conn, topic: &str, conn: &ConnectArgs) -> Res {
    let timeout = secs(conn.timeout, DEFAULT_TIMEOUT)?;
    progress::show(&format!("waiting for a subscriber of {topic} ..."));
    let ok = c.ep.await_peer_subscription(topic, timeout);
    progress::clear();
    if !ok {
        return Err(Failure::new(
            exit::TIMEOUT,
            format!(
                "{}:{} does not subscribe to '{topic}' (waited {:.1}s); use --no-wait to publish anyway",
                c.host,
                c.port,
                timeout.as_secs_f64()
            ),
        ));
    }
    Ok(())
}

pub fn publish(a: PublishArgs) -> Res {
    // Everything is checked before connecting, so bad input never reaches the node.
    let mut args = Vec::new();
    for t in &a.args {
        args.push(literal::parse(t).map_err(|e| Failure::new(exit::BAD_INPUT, e))?);
    }
    parse_target(&a.conn.to)?;
    if a.event.is_none() && !a.args.is_empty() {
        return Err(Failure::new(
            exit::USAGE,
            "arguments given without an event",
        ));
    }
    let c = connect(&a.conn, &[])?;
    // The WebSocket API does not tell a client what the server subscribes to.
    if !a.no_wait && c.ws.is_none() {
        wait_subscriber(&c, &a.topic, &a.conn)?;
    }
    match &a.event {
        Some(name) => {
            let ev = Event::with_args(name.clone(), args);
            let bytes = ev.to_bytes();
            for i in 0..a.count {
                if i % 10_000 == 0 && a.count > 10_000 {
                    progress::show(&format!("published {i}/{}", a.count));
                }
                c.ep.publish(&a.topic, bytes.clone())?;
            }
            progress::clear();
        }
        None => {
            let stdin = std::io::stdin();
            for (i, line) in stdin.lock().lines().enumerate() {
                let line =
                    line.map_err(|e| Failure::new(exit::FAILURE, format!("reading stdin: {e}")))?;
                if line.trim().is_empty() {
                    continue;
                }
                let v = match json::data_message_from_json(&line) {
                    Ok(m) => m.value,
                    Err(e) => {
                        // A bare Broker value is accepted too.
                        json::from_json(&line).map_err(|_| {
                            Failure::new(exit::BAD_INPUT, format!("stdin:{}: {}", i + 1, e.message))
                        })?
                    }
                };
                c.ep.publish_value(&a.topic, &v)?;
            }
        }
    }
    c.finish();
    Ok(())
}

pub fn subscribe(a: SubscribeArgs) -> Res {
    parse_target(&a.conn.to)?;
    let deadline = match a.conn.timeout {
        Some(_) => Some(Instant::now() + secs(a.conn.timeout, 0.0)?),
        None => None,
    };
    let stop = stop_flag();
    let mut c = connect(&a.conn, &a.prefixes)?;
    let mut got: u64 = 0;
    let out = std::io::stdout();
    let mut out = std::io::BufWriter::new(out.lock());
    let early = std::mem::take(&mut c.early);
    let mut queue: std::collections::VecDeque<Message> = early.into();
    let done = |got: u64| a.count.is_some_and(|n| got >= n);
    while !done(got) {
        let m = match queue.pop_front() {
            Some(m) => Some(m),
            None => {
                let _ = out.flush();
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                if let Some(d) = deadline {
                    if Instant::now() >= d {
                        break;
                    }
                }
                let wait = deadline
                    .map(|d| d.saturating_duration_since(Instant::now()))
                    .unwrap_or(Duration::from_millis(200))
                    .min(Duration::from_millis(200));
                c.ep.next(Some(wait))
            }
        };
        let Some(m) = m else { continue };
        match m.kind {
            MessageKind::Event => match m.value() {
                Ok(v) => {
                    let _ = writeln!(out, "{}", json::data_message_to_json(&m.topic, &v));
                    got += 1;
                }
                Err(e) => eprintln!(
                    "zcluster: skipped an undecodable message on {}: {e}",
                    m.topic
                ),
            },
            MessageKind::PeerLost | MessageKind::PeerRemoved => {
                let _ = out.flush();
                return Err(Failure::new(
                    exit::UNREACHABLE,
                    format!("connection to {}:{} lost: {}", c.host, c.port, m.text),
                ));
            }
            _ => {}
        }
    }
    let _ = out.flush();
    drop(out);
    let short = a.count.is_some_and(|n| got < n);
    c.finish();
    if short && !stop.load(Ordering::Relaxed) {
        return Err(Failure::new(
            exit::TIMEOUT,
            format!(
                "{got} of {} events within the timeout",
                a.count.unwrap_or(0)
            ),
        ));
    }
    Ok(())
}

/// One line of a `Control::peer_status_response`: `<ts> peer=<id> host=<a> status=<s>`.
fn peer_status_lines(text: &str) -> Vec<Vec<(String, String)>> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            l.split_whitespace()
                .skip(1)
                .filter_map(|kv| kv.split_once('='))
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        })
        .collect()
}

fn text_arg(ev: &Event, i: usize) -> String {
    match ev.args.get(i) {
        Some(Value::String(b)) => String::from_utf8_lossy(b).into_owned(),
        Some(other) => other.to_string(),
        None => String::new(),
    }
}

pub fn status(a: StatusArgs) -> Res {
    if let Target::WebSocket { url, .. } = parse_target(&a.conn.to)? {
        return Err(Failure::new(
            exit::UNSUPPORTED,
            format!("--to {url}: status needs a Broker peering (HOST:PORT): the WebSocket API does not name the node's id or subscriptions"),
        ));
    }
    let timeout = secs(a.conn.timeout, DEFAULT_TIMEOUT)?;
    // controllee.zeek answers on zeek/control/<response without `Control::`>/<node>.
    let c = connect(
        &a.conn,
        &[
            "zeek/control/peer_status_response/".to_string(),
            "zeek/control/net_stats_response/".to_string(),
        ],
    )?;
    let id = c.peer.id.map(|i| i.to_string()).unwrap_or_default();
    // The peer's filter arrives with (or right after) the handshake.
    let control = format!("zeek/control/{id}");
    let is_node =
        c.ep.await_peer_subscription(&control, timeout.min(Duration::from_secs(2)));
    let mut subs = c.ep.peer_subscriptions();
    subs.sort();
    let mut answers: std::collections::BTreeMap<String, Event> = Default::default();
    if is_node {
        let reqs = [
            ("Control::peer_status_request", vec![]),
            ("Control::net_stats_request", vec![]),
        ];
        for (name, args) in &reqs {
            c.ep.publish_event(&control, &Event::with_args(*name, args.clone()))?;
        }
        let end = Instant::now() + timeout;
        while answers.len() < reqs.len() {
            let left = end.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            let Some(m) = c.ep.next(Some(left)) else {
                break;
            };
            if let Ok(ev) = m.event() {
                if ev.name.starts_with("Control::") && ev.name.ends_with("_response") {
                    answers.insert(ev.name.clone(), ev);
                }
            }
        }
    }
    // The node's name, from its node topic (`Cluster::node_topic_prefix` + name + "/").
    let node_name = subs.iter().find_map(|s| {
        s.strip_prefix("zeek/cluster/node/")
            .and_then(|r| r.strip_suffix('/'))
            .map(str::to_string)
    });
    let peers = answers
        .get("Control::peer_status_response")
        .map(|e| peer_status_lines(&text_arg(e, 0)));
    let net = answers
        .get("Control::net_stats_response")
        .map(|e| peer_status_lines(&format!("0 {}", text_arg(e, 0).trim())));
    let store_sizes = crate::store_cmd::sizes(&c.ep, &a.stores, timeout);
    let stats = c.ep.stats();
    let missing = is_node && answers.len() < 2;
    let no_store = store_sizes.iter().any(|(_, r)| r.is_err());
    if a.json {
        use zcluster::json::JsonValue as J;
        let s = |t: &str| J::string(t);
        let kvs = |v: &Vec<(String, String)>| {
            J::Object(v.iter().map(|(k, x)| (k.clone(), s(x))).collect())
        };
        let mut fields = vec![
            ("address", s(&c.peer.address)),
            ("port", J::from(c.peer.port as u64)),
            ("id", s(&id)),
            ("cluster_node", J::Bool(is_node)),
        ];
        if let Some(n) = &node_name {
            fields.push(("node", s(n)));
        }
        fields.push((
            "subscriptions",
            J::Array(subs.iter().map(|x| s(x)).collect()),
        ));
        if let Some(p) = &peers {
            fields.push(("peers", J::Array(p.iter().map(kvs).collect())));
        }
        if let Some(n) = net.as_ref().and_then(|n| n.first()) {
            fields.push(("net_stats", kvs(n)));
        }
        if !store_sizes.is_empty() {
            let list = store_sizes
                .iter()
                .map(|(n, r)| {
                    let v = match r {
                        Ok(k) => J::from(*k as u64),
                        Err(_) => J::Null,
                    };
                    (n.clone(), v)
                })
                .collect();
            fields.push(("stores", J::Object(list)));
        }
        fields.push(("received_by_us", J::from(stats.received)));
        println!("{}", J::object(fields).to_compact());
    } else {
        println!("peer {}:{} id {id}", c.peer.address, c.peer.port);
        match &node_name {
            Some(n) => println!("node {n} (answers Zeek's Control framework)"),
            None if is_node => println!("node ? (answers Zeek's Control framework)"),
            None => println!("not a cluster node (it does not subscribe to {control})"),
        }
        println!("subscriptions ({}):", subs.len());
        for s in &subs {
            println!("  {s}");
        }
        if let Some(p) = &peers {
            println!("peers ({}):", p.len());
            for line in p {
                let get = |k: &str| {
                    line.iter()
                        .find(|(x, _)| x == k)
                        .map(|(_, v)| v.as_str())
                        .unwrap_or("?")
                };
                println!("  {} {} {}", get("peer"), get("host"), get("status"));
            }
        }
        if let Some(n) = net.as_ref().and_then(|n| n.first()) {
            let kv: Vec<String> = n.iter().map(|(k, v)| format!("{k}={v}")).collect();
            println!("net_stats: {}", kv.join(" "));
        }
        if !store_sizes.is_empty() {
            println!("stores ({}):", store_sizes.len());
            for (n, r) in &store_sizes {
                match r {
                    Ok(k) => println!("  {n} {k} keys"),
                    Err(e) => println!("  {n} ? ({e})"),
                }
            }
        }
    }
    let _ = std::io::stdout().flush();
    c.finish();
    if no_store {
        return Err(Failure::new(
            exit::TIMEOUT,
            "a store's size could not be read (no master answered)",
        ));
    }
    if missing {
        return Err(Failure::new(
            exit::TIMEOUT,
            format!(
                "only {} of 2 Control answers within {:.1}s",
                answers.len(),
                timeout.as_secs_f64()
            ),
        ));
    }
    Ok(())
}
