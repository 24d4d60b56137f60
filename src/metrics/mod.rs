//! Metrics: a node's counters as structured data (`Snapshot`, also as JSON for C and
//! Python), Prometheus' text format with Zeek's and Broker's metric names (`prometheus`),
//! and the HTTP endpoint Zeek serves them on (`http`: `/metrics`, and `/services.json` on
//! the manager).
//!
//! Names follow Zeek (`Z:src/telemetry/Utils.cc`): `<prefix>_<name>[_<unit>][_total]`, and
//! every metric Zeek creates carries the label `node=<Telemetry::metrics_endpoint_name>`
//! (the node's name in a cluster). Broker's own metrics (`broker_*`) carry no `node` label,
//! as in Zeek, where they bypass Zeek's label helper. Metrics Zeek has no name for are
//! `zcluster_*` (with the `node` label).

pub mod http;
pub mod process;
pub mod prometheus;

use crate::data::json::write_broker_string;
use crate::endpoint::{PeerStats, Stats};

/// One peering as the metrics show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerMetrics {
    /// The peer's node name when it is a cluster node (Zeek's `peer` label), else
    /// `address:port`.
    pub name: String,
    /// Whether `name` is a cluster node name (Zeek reports per-peer metrics only for
    /// those).
    pub is_node: bool,
    pub stats: PeerStats,
}

/// One data store attached to the node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreMetrics {
    pub name: String,
    /// `master` or `clone`.
    pub role: &'static str,
    /// Entries now (0 when the store cannot say, e.g. a clone not yet synchronised).
    pub entries: u64,
    /// Updates (mutations) the store applied: on a master every one (with or without
    /// clones), on a clone those it received from its master.
    pub updates: u64,
}

/// One WebSocket client of the node's WebSocket server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebSocketClientMetrics {
    /// `<node id>-websocket-<n>` (the ack's endpoint).
    pub endpoint: String,
    /// `X-Application-Name`, or `unknown`.
    pub application: String,
    pub remote: String,
    pub events_in: u64,
    pub events_out: u64,
    /// Events waiting to be written to the client.
    pub queued: u64,
}

/// The node's WebSocket server.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WebSocketMetrics {
    pub clients: Vec<WebSocketClientMetrics>,
    /// Clients accepted since the server started.
    pub accepted: u64,
    /// Clients closed because their send queue overflowed (slow clients).
    pub overflow_closes: u64,
    /// Messages from clients refused with an error object.
    pub errors: u64,
    /// Connections to a TLS server that failed the TLS handshake or spoke plain HTTP.
    pub tls_failures: u64,
}

/// One log writer's writes (`zeek_log_writer_writes_total`'s labels).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogWriterWrites {
    /// `Log::WRITER_ASCII`.
    pub writer: String,
    pub module: String,
    /// The stream id (`Conn::LOG`).
    pub stream: String,
    /// The filter (`default`: zcluster has the default filter only).
    pub filter_name: String,
    pub path: String,
    pub writes: u64,
}

/// `zeek_version_info`'s labels for zcluster's version (Zeek's `Version::parse`:
/// `version_number` is major * 10000 + minor * 100 + patch).
pub(crate) struct VersionLabels {
    pub version_number: String,
    pub major: String,
    pub minor: String,
    pub patch: String,
    pub version_string: String,
}

impl VersionLabels {
    pub(crate) fn ours() -> VersionLabels {
        let n = |s: &str| s.parse::<u64>().unwrap_or(0);
        let (ma, mi, pa) = (
            n(env!("CARGO_PKG_VERSION_MAJOR")),
            n(env!("CARGO_PKG_VERSION_MINOR")),
            n(env!("CARGO_PKG_VERSION_PATCH")),
        );
        VersionLabels {
            version_number: (ma * 10000 + mi * 100 + pa).to_string(),
            major: ma.to_string(),
            minor: mi.to_string(),
            patch: pa.to_string(),
            version_string: crate::websocket::protocol::VERSION.to_string(),
        }
    }
}

/// The types of `broker_processed_messages_total`, in `Snapshot::processed` order.
pub const PROCESSED_TYPES: [&str; 5] = ["data", "command", "routing-update", "ping", "pong"];

/// Zeek's `extract_module_name`: what precedes the last `::`, else `GLOBAL`.
pub fn module_of(stream_id: &str) -> &str {
    match stream_id.rfind("::") {
        Some(i) if i > 0 => &stream_id[..i],
        _ => "GLOBAL",
    }
}

/// A point-in-time view of a node's (or a plain endpoint's) counters.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Snapshot {
    /// The `node` label (`Telemetry::metrics_endpoint_name`); empty for none.
    pub node: String,
    pub endpoint: Stats,
    /// Events and commands waiting for the host, and the inbox's capacity.
    pub inbox_pending: u64,
    pub inbox_capacity: u64,
    pub peers: Vec<PeerMetrics>,
    pub stores: Vec<StoreMetrics>,
    pub websocket: Option<WebSocketMetrics>,
    /// Log writes per stream (`zeek_log_stream_writes_total`): (module, stream, count).
    pub log_writes: Vec<(String, String, u64)>,
    /// Log writes per writer (`zeek_log_writer_writes_total`).
    pub log_writer_writes: Vec<LogWriterWrites>,
    /// Peerings removed because their send buffer overflowed, per peer node name
    /// (`zeek_broker_backpressure_disconnects_total`; "unknown" for non-cluster peers).
    pub backpressure_disconnects: Vec<(String, u64)>,
    /// Broker's `broker_processed_messages_total` by type: data, command,
    /// routing-update, ping, pong.
    pub processed: [u64; 5],
    /// Log records dropped while no logger was reachable.
    pub log_dropped: u64,
    pub process: process::ProcessStats,
}

fn field(out: &mut String, k: &str) {
    if !out.ends_with('{') && !out.ends_with('[') {
        out.push(',');
    }
    write_broker_string(out, k.as_bytes());
    out.push(':');
}

fn num(out: &mut String, k: &str, v: u64) {
    field(out, k);
    out.push_str(&v.to_string());
}

fn text(out: &mut String, k: &str, v: &str) {
    field(out, k);
    write_broker_string(out, v.as_bytes());
}

impl Snapshot {
    /// The snapshot as one JSON object (the C and Python stats call). Keys are stable;
    /// new keys may be added.
    pub fn to_json(&self) -> String {
        let mut o = String::with_capacity(1024);
        o.push('{');
        text(&mut o, "node", &self.node);
        let e = &self.endpoint;
        field(&mut o, "endpoint");
        o.push('{');
        num(&mut o, "published", e.published);
        num(&mut o, "received", e.received);
        num(&mut o, "forwarded", e.forwarded);
        num(&mut o, "inbox_dropped", e.inbox_dropped);
        num(&mut o, "peer_dropped", e.peer_dropped);
        num(
            &mut o,
            "peer_overflow_disconnects",
            e.peer_overflow_disconnects,
        );
        num(&mut o, "ttl_dropped", e.ttl_dropped);
        num(&mut o, "undecodable", e.undecodable);
        num(
            &mut o,
            "websocket_client_dropped",
            e.websocket_client_dropped,
        );
        num(&mut o, "inbox_pending", self.inbox_pending);
        num(&mut o, "inbox_capacity", self.inbox_capacity);
        o.push('}');
        field(&mut o, "peers");
        o.push('[');
        for p in &self.peers {
            if !o.ends_with('[') {
                o.push(',');
            }
            o.push('{');
            text(&mut o, "name", &p.name);
            field(&mut o, "is_node");
            o.push_str(if p.is_node { "true" } else { "false" });
            text(
                &mut o,
                "id",
                &p.stats.peer.id.map(|i| i.to_string()).unwrap_or_default(),
            );
            text(&mut o, "address", &p.stats.peer.address);
            num(&mut o, "port", u64::from(p.stats.peer.port));
            num(&mut o, "messages_in", p.stats.messages_in);
            num(&mut o, "bytes_in", p.stats.bytes_in);
            num(&mut o, "messages_out", p.stats.messages_out);
            num(&mut o, "bytes_out", p.stats.bytes_out);
            num(&mut o, "queued", p.stats.queued);
            num(&mut o, "queued_max", p.stats.queued_max);
            num(&mut o, "dropped", p.stats.dropped);
            o.push('}');
        }
        o.push(']');
        field(&mut o, "stores");
        o.push('[');
        for s in &self.stores {
            if !o.ends_with('[') {
                o.push(',');
            }
            o.push('{');
            text(&mut o, "name", &s.name);
            text(&mut o, "role", s.role);
            num(&mut o, "entries", s.entries);
            num(&mut o, "updates", s.updates);
            o.push('}');
        }
        o.push(']');
        field(&mut o, "websocket");
        match &self.websocket {
            None => o.push_str("null"),
            Some(w) => {
                o.push('{');
                num(&mut o, "accepted", w.accepted);
                num(&mut o, "overflow_closes", w.overflow_closes);
                num(&mut o, "errors", w.errors);
                num(&mut o, "tls_failures", w.tls_failures);
                field(&mut o, "clients");
                o.push('[');
                for c in &w.clients {
                    if !o.ends_with('[') {
                        o.push(',');
                    }
                    o.push('{');
                    text(&mut o, "endpoint", &c.endpoint);
                    text(&mut o, "application", &c.application);
                    text(&mut o, "remote", &c.remote);
                    num(&mut o, "events_in", c.events_in);
                    num(&mut o, "events_out", c.events_out);
                    num(&mut o, "queued", c.queued);
                    o.push('}');
                }
                o.push_str("]}");
            }
        }
        field(&mut o, "log_writes");
        o.push('[');
        for (m, s, n) in &self.log_writes {
            if !o.ends_with('[') {
                o.push(',');
            }
            o.push('{');
            text(&mut o, "module", m);
            text(&mut o, "stream", s);
            num(&mut o, "writes", *n);
            o.push('}');
        }
        o.push(']');
        num(&mut o, "log_dropped", self.log_dropped);
        field(&mut o, "log_writer_writes");
        o.push('[');
        for w in &self.log_writer_writes {
            if !o.ends_with('[') {
                o.push(',');
            }
            o.push('{');
            text(&mut o, "writer", &w.writer);
            text(&mut o, "module", &w.module);
            text(&mut o, "stream", &w.stream);
            text(&mut o, "filter_name", &w.filter_name);
            text(&mut o, "path", &w.path);
            num(&mut o, "writes", w.writes);
            o.push('}');
        }
        o.push(']');
        field(&mut o, "backpressure_disconnects");
        o.push('{');
        for (peer, n) in &self.backpressure_disconnects {
            num(&mut o, peer, *n);
        }
        o.push('}');
        field(&mut o, "processed_messages");
        o.push('{');
        for (t, n) in PROCESSED_TYPES.iter().zip(self.processed) {
            num(&mut o, t, n);
        }
        o.push('}');
        let p = &self.process;
        field(&mut o, "process");
        o.push('{');
        num(&mut o, "resident_memory_bytes", p.rss_bytes);
        num(&mut o, "virtual_memory_bytes", p.vms_bytes);
        field(&mut o, "cpu_user_seconds");
        o.push_str(&format!("{:.6}", p.cpu_user_seconds));
        field(&mut o, "cpu_system_seconds");
        o.push_str(&format!("{:.6}", p.cpu_system_seconds));
        num(&mut o, "open_fds", p.open_fds);
        field(&mut o, "start_time_seconds");
        o.push_str(&format!("{:.3}", p.start_time_seconds));
        o.push_str("}}");
        o
    }
}

/// Builds a plain endpoint's snapshot (no cluster: peers are named `address:port`).
pub fn endpoint_snapshot(ep: &crate::endpoint::Endpoint, node: &str) -> Snapshot {
    Snapshot {
        node: node.to_string(),
        endpoint: ep.stats(),
        processed: ep.processed_messages(),
        inbox_pending: ep.pending() as u64,
        inbox_capacity: ep.options().inbox_capacity as u64,
        peers: ep
            .peer_stats()
            .into_iter()
            .map(|s| PeerMetrics {
                name: format!("{}:{}", s.peer.address, s.peer.port),
                is_node: false,
                stats: s,
            })
            .collect(),
        process: process::ProcessStats::read(),
        ..Snapshot::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_is_valid_and_complete() {
        let mut s = Snapshot {
            node: "w\"1".into(),
            ..Snapshot::default()
        };
        s.stores.push(StoreMetrics {
            name: "s".into(),
            role: "master",
            entries: 3,
            updates: 4,
        });
        s.websocket = Some(WebSocketMetrics::default());
        let j = crate::json::parse(&s.to_json()).unwrap();
        assert_eq!(j.get("node").unwrap().as_str(), Some("w\"1"));
        assert_eq!(
            j.get("stores").unwrap().as_array().unwrap()[0]
                .get("entries")
                .unwrap()
                .as_u64(),
            Some(3)
        );
        assert!(j.get("process").unwrap().get("open_fds").is_some());
    }
}
