//! Prometheus' text exposition format (version 0.0.4) for a `Snapshot`, with Zeek's and
//! Broker's metric names (reference zeek8.md §6).

use super::Snapshot;
use std::collections::BTreeMap;
use std::fmt::Write;

/// The `Content-Type` of the text format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The label Zeek adds to every metric it creates (`Telemetry::metrics_endpoint_label`).
pub const NODE_LABEL: &str = "node";

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Counter,
    Gauge,
}

struct Out {
    text: String,
    node: String,
}

/// Escapes a label value (backslash, double quote, newline).
fn escape(v: &str) -> String {
    let mut s = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            '\\' => s.push_str("\\\\"),
            '"' => s.push_str("\\\""),
            '\n' => s.push_str("\\n"),
            c => s.push(c),
        }
    }
    s
}

fn fmt_value(v: f64) -> String {
    if v.is_finite() && v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}

impl Out {
    fn family(&mut self, name: &str, kind: Kind, help: &str) {
        let _ = writeln!(self.text, "# HELP {name} {help}");
        let _ = writeln!(
            self.text,
            "# TYPE {name} {}",
            if kind == Kind::Counter {
                "counter"
            } else {
                "gauge"
            }
        );
    }

    /// One sample; `zeek` adds the node label (Zeek-created metrics), Broker's do not.
    fn sample(&mut self, name: &str, labels: &[(&str, &str)], zeek: bool, v: f64) {
        let mut l: Vec<(String, String)> = labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        if zeek && !self.node.is_empty() && !labels.iter().any(|(k, _)| *k == NODE_LABEL) {
            l.push((NODE_LABEL.to_string(), self.node.clone()));
        }
        l.sort();
        self.text.push_str(name);
        if !l.is_empty() {
            self.text.push('{');
            for (i, (k, v)) in l.iter().enumerate() {
                if i > 0 {
                    self.text.push(',');
                }
                let _ = write!(self.text, "{k}=\"{}\"", escape(v));
            }
            self.text.push('}');
        }
        self.text.push(' ');
        self.text.push_str(&fmt_value(v));
        self.text.push('\n');
    }

    fn single(&mut self, name: &str, kind: Kind, help: &str, zeek: bool, v: f64) {
        self.family(name, kind, help);
        self.sample(name, &[], zeek, v);
    }
}

/// Renders the snapshot in Prometheus' text format.
pub fn render(s: &Snapshot) -> String {
    use Kind::*;
    let mut o = Out {
        text: String::with_capacity(4096),
        node: s.node.clone(),
    };
    let e = &s.endpoint;
    // Zeek's Broker manager (src/broker/Manager.cc).
    o.single(
        "zeek_broker_peers",
        Gauge,
        "Current number of peers connected via broker",
        true,
        s.peers.len() as f64,
    );
    o.single(
        "zeek_broker_stores",
        Gauge,
        "Current number of stores connected via broker",
        true,
        s.stores.len() as f64,
    );
    o.single(
        "zeek_broker_incoming_events_total",
        Counter,
        "Total number of incoming events via broker",
        true,
        e.received as f64,
    );
    o.single(
        "zeek_broker_outgoing_events_total",
        Counter,
        "Total number of outgoing events via broker",
        true,
        e.published as f64,
    );
    // Zeek's cluster telemetry (src/cluster/Telemetry.cc, InfoTelemetry "core").
    o.single(
        "zeek_cluster_core_incoming_events_total",
        Counter,
        "Number of incoming events",
        true,
        e.received as f64,
    );
    o.single(
        "zeek_cluster_core_outgoing_events_total",
        Counter,
        "Number of outgoing events",
        true,
        e.published as f64,
    );
    // Per-peer buffers (policy/frameworks/cluster/backend/broker/telemetry.zeek): only for
    // peers that are cluster nodes, labelled with the node's name, as Zeek does.
    let nodes: Vec<_> = s.peers.iter().filter(|p| p.is_node).collect();
    o.family(
        "zeek_broker_peer_buffer_messages",
        Gauge,
        "Number of messages queued in Broker's send buffers",
    );
    for p in &nodes {
        o.sample(
            "zeek_broker_peer_buffer_messages",
            &[("peer", &p.name)],
            true,
            p.stats.queued as f64,
        );
    }
    o.family(
        "zeek_broker_peer_buffer_recent_max_messages",
        Gauge,
        "Maximum number of messages recently queued in Broker's send buffers",
    );
    for p in &nodes {
        o.sample(
            "zeek_broker_peer_buffer_recent_max_messages",
            &[("peer", &p.name)],
            true,
            p.stats.queued_max as f64,
        );
    }
    o.family(
        "zeek_broker_peer_buffer_overflows_total",
        Counter,
        "Number of overflows in Broker's send buffers",
    );
    for p in &nodes {
        o.sample(
            "zeek_broker_peer_buffer_overflows_total",
            &[("peer", &p.name)],
            true,
            p.stats.dropped as f64,
        );
    }
    // Log streams and writers (src/logging/Manager.cc): registered at startup, so the
    // families show even before the first write.
    o.family(
        "zeek_log_stream_writes_total",
        Counter,
        "Total number of log writes for the given stream.",
    );
    for (m, st, n) in &s.log_writes {
        o.sample(
            "zeek_log_stream_writes_total",
            &[("module", m), ("stream", st)],
            true,
            *n as f64,
        );
    }
    o.family(
        "zeek_log_writer_writes_total",
        Counter,
        "Total number of log writes passed to a concrete log writer not vetoed by stream or filter policies.",
    );
    for w in &s.log_writer_writes {
        o.sample(
            "zeek_log_writer_writes_total",
            &[
                ("writer", &w.writer),
                ("module", &w.module),
                ("stream", &w.stream),
                ("filter_name", &w.filter_name),
                ("path", &w.path),
            ],
            true,
            w.writes as f64,
        );
    }
    // policy/frameworks/cluster/backend/broker/backpressure.zeek.
    o.family(
        "zeek_broker_backpressure_disconnects_total",
        Counter,
        "Number of Broker peerings dropped due to a neighbor falling behind in message I/O",
    );
    for (peer, n) in &s.backpressure_disconnects {
        o.sample(
            "zeek_broker_backpressure_disconnects_total",
            &[("peer", peer)],
            true,
            *n as f64,
        );
    }
    // base/frameworks/telemetry/main.zeek: the version as an info metric (zcluster's
    // version, as the WebSocket ack's `version` is).
    o.family("zeek_version_info", Gauge, "The Zeek version");
    {
        let v = super::VersionLabels::ours();
        o.sample(
            "zeek_version_info",
            &[
                ("version_number", &v.version_number),
                ("major", &v.major),
                ("minor", &v.minor),
                ("patch", &v.patch),
                ("commit", "0"),
                ("beta", "false"),
                (
                    "debug",
                    if cfg!(debug_assertions) {
                        "true"
                    } else {
                        "false"
                    },
                ),
                ("version_string", &v.version_string),
            ],
            true,
            1.0,
        );
    }
    // WebSocket clients (InfoTelemetry "websocket", with the `app` label).
    if let Some(w) = &s.websocket {
        let mut per_app: BTreeMap<&str, (u64, u64)> = BTreeMap::new();
        for c in &w.clients {
            let x = per_app.entry(c.application.as_str()).or_default();
            x.0 += c.events_in;
            x.1 += c.events_out;
        }
        o.family(
            "zeek_cluster_websocket_incoming_events_total",
            Counter,
            "Number of incoming events",
        );
        for (app, (i, _)) in &per_app {
            o.sample(
                "zeek_cluster_websocket_incoming_events_total",
                &[("app", app)],
                true,
                *i as f64,
            );
        }
        o.family(
            "zeek_cluster_websocket_outgoing_events_total",
            Counter,
            "Number of outgoing events",
        );
        for (app, (_, out)) in &per_app {
            o.sample(
                "zeek_cluster_websocket_outgoing_events_total",
                &[("app", app)],
                true,
                *out as f64,
            );
        }
        o.single(
            "zcluster_websocket_clients",
            Gauge,
            "WebSocket clients connected now",
            true,
            w.clients.len() as f64,
        );
        o.single(
            "zcluster_websocket_clients_accepted_total",
            Counter,
            "WebSocket clients accepted",
            true,
            w.accepted as f64,
        );
        o.single(
            "zcluster_websocket_overflow_closes_total",
            Counter,
            "WebSocket clients closed because their send queue overflowed",
            true,
            w.overflow_closes as f64,
        );
        o.single(
            "zcluster_websocket_errors_total",
            Counter,
            "WebSocket client messages answered with an error",
            true,
            w.errors as f64,
        );
        o.family(
            "zcluster_websocket_client_queued_messages",
            Gauge,
            "Events waiting to be written to a WebSocket client",
        );
        for c in &w.clients {
            o.sample(
                "zcluster_websocket_client_queued_messages",
                &[("endpoint", &c.endpoint), ("app", &c.application)],
                true,
                c.queued as f64,
            );
        }
    }
    // Process (src/telemetry/Manager.cc).
    let p = &s.process;
    o.single(
        "process_resident_memory_bytes",
        Gauge,
        "Resident memory size",
        true,
        p.rss_bytes as f64,
    );
    o.single(
        "process_virtual_memory_bytes",
        Gauge,
        "Virtual memory size",
        true,
        p.vms_bytes as f64,
    );
    o.single(
        "process_cpu_user_seconds_total",
        Counter,
        "Total user CPU time spent",
        true,
        p.cpu_user_seconds,
    );
    o.single(
        "process_cpu_system_seconds_total",
        Counter,
        "Total system CPU time spent",
        true,
        p.cpu_system_seconds,
    );
    o.single(
        "process_open_fds",
        Gauge,
        "Number of open file descriptors",
        true,
        p.open_fds as f64,
    );
    o.single(
        "process_start_time_seconds",
        Gauge,
        "Process start time",
        true,
        p.start_time_seconds,
    );
    // zcluster's own (no Zeek name).
    o.single(
        "zcluster_inbox_messages",
        Gauge,
        "Events and commands waiting for the host",
        true,
        s.inbox_pending as f64,
    );
    o.single(
        "zcluster_inbox_capacity_messages",
        Gauge,
        "Capacity of the host's inbox",
        true,
        s.inbox_capacity as f64,
    );
    o.single(
        "zcluster_inbox_dropped_total",
        Counter,
        "Messages dropped because the inbox was full (drop policies)",
        true,
        e.inbox_dropped as f64,
    );
    o.single(
        "zcluster_websocket_client_dropped_total",
        Counter,
        "Publishes the WebSocket client transports dropped (disconnected_policy=drop, or queued when a client ended)",
        true,
        e.websocket_client_dropped as f64,
    );
    o.single(
        "zcluster_peer_dropped_total",
        Counter,
        "Envelopes dropped because a peer's queue was full (drop policies)",
        true,
        e.peer_dropped as f64,
    );
    o.single(
        "zcluster_peer_overflow_disconnects_total",
        Counter,
        "Peers disconnected because their queue overflowed",
        true,
        e.peer_overflow_disconnects as f64,
    );
    o.single(
        "zcluster_ttl_dropped_total",
        Counter,
        "Envelopes not forwarded because their hop limit ran out",
        true,
        e.ttl_dropped as f64,
    );
    o.single(
        "zcluster_undecodable_total",
        Counter,
        "Messages dropped because their payload did not decode",
        true,
        e.undecodable as f64,
    );
    o.single(
        "zcluster_forwarded_total",
        Counter,
        "Envelopes forwarded to other peers",
        true,
        e.forwarded as f64,
    );
    o.single(
        "zcluster_log_dropped_total",
        Counter,
        "Log records dropped while no logger was reachable",
        true,
        s.log_dropped as f64,
    );
    for (name, help, get) in [
        (
            "zcluster_peer_messages_in_total",
            "Envelopes received from a peer",
            (|p: &super::PeerMetrics| p.stats.messages_in) as fn(&super::PeerMetrics) -> u64,
        ),
        (
            "zcluster_peer_bytes_in_total",
            "Bytes of envelopes received from a peer",
            |p| p.stats.bytes_in,
        ),
        (
            "zcluster_peer_messages_out_total",
            "Envelopes queued for a peer",
            |p| p.stats.messages_out,
        ),
        (
            "zcluster_peer_bytes_out_total",
            "Bytes of envelopes queued for a peer",
            |p| p.stats.bytes_out,
        ),
    ] {
        o.family(name, Counter, help);
        for p in &s.peers {
            o.sample(name, &[("peer", &p.name)], true, get(p) as f64);
        }
    }
    // Broker's own (libbroker/broker/internal/metric_factory.cc): no node label.
    o.single(
        "broker_connections",
        Gauge,
        "Number of active network connections.",
        false,
        s.peers.len() as f64,
    );
    o.family(
        "broker_processed_messages_total",
        Counter,
        "Total number of processed messages.",
    );
    for (t, n) in super::PROCESSED_TYPES.iter().zip(s.processed) {
        o.sample(
            "broker_processed_messages_total",
            &[("type", t)],
            false,
            n as f64,
        );
    }
    o.family(
        "broker_store_entries",
        Gauge,
        "Number of entries in the data store.",
    );
    for st in &s.stores {
        o.sample(
            "broker_store_entries",
            &[("name", &st.name)],
            false,
            st.entries as f64,
        );
    }
    o.family(
        "broker_store_processed_updates_total",
        Counter,
        "Total number of processed data store updates.",
    );
    for st in &s.stores {
        o.sample(
            "broker_store_processed_updates_total",
            &[("name", &st.name)],
            false,
            st.updates as f64,
        );
    }
    o.text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_label_and_escaping() {
        let s = Snapshot {
            node: "wor\"ker-1".into(),
            ..Snapshot::default()
        };
        let t = render(&s);
        assert!(
            t.contains("zeek_broker_peers{node=\"wor\\\"ker-1\"} 0\n"),
            "{t}"
        );
        assert!(t.contains("broker_connections 0\n"));
        assert!(t.contains("# TYPE zeek_broker_incoming_events_total counter\n"));
    }
}
