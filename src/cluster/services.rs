//! The services a started node runs beside its endpoint: the Prometheus endpoint
//! (`Telemetry::metrics_port`, or the node's `$metrics_port`) and WebSocket servers
//! (`Cluster::listen_websocket`, also started from the layout's `zeek_init` block).

use super::Cluster;
use crate::error::{Error, Result};
use crate::layout::NodeType;
use crate::metrics::http::{services_json, Collect, MetricsServer};
use crate::metrics::{PeerMetrics, Snapshot, WebSocketMetrics};
use crate::websocket::{ServerOptions, WebSocketServer};
use parking_lot::Mutex;
use std::sync::Arc;

/// The environment variable that keeps ZeekControl's `zeek_init` block from listening.
pub const DISABLE_LISTEN_ENV: &str = "ZEEKCTL_DISABLE_LISTEN";

#[derive(Default)]
pub(crate) struct Services {
    websockets: Arc<Mutex<Vec<Arc<WebSocketServer>>>>,
    metrics: Mutex<Option<MetricsServer>>,
}

impl Services {
    pub(crate) fn close(&self) {
        self.metrics.lock().take();
        let ws: Vec<_> = std::mem::take(&mut *self.websockets.lock());
        for w in ws {
            w.close();
        }
    }
}

impl Cluster {
    /// `Cluster::listen_websocket(options)`: starts a WebSocket server (Zeek's
    /// `/v1/messages/json` API) on this started node. Returns the bound port.
    pub fn listen_websocket(&self, opts: &ServerOptions) -> Result<u16> {
        let rt = self.running()?;
        let state = rt.state.clone();
        let log: crate::websocket::server::LogFn = Arc::new(move |m: &str| state.lock().log_now(m));
        let s = WebSocketServer::start_logged(rt.endpoint.handle(), opts, Some(log))?;
        let port = s.port();
        self.services.websockets.lock().push(Arc::new(s));
        Ok(port)
    }

    /// WebSocket server options with this cluster's defaults
    /// (`Cluster::default_websocket_max_event_queue_size`, `..._ping_interval`).
    pub fn websocket_defaults(&self) -> ServerOptions {
        let mut o = ServerOptions::default();
        let q = self
            .options()
            .count("Cluster::default_websocket_max_event_queue_size");
        if q > 0 {
            o.max_event_queue_size = q as usize;
        }
        let p = self
            .options()
            .interval_ns("Cluster::default_websocket_ping_interval");
        o.ping_interval = (p > 0).then(|| std::time::Duration::from_nanos(p as u64));
        o
    }

    /// The ports of the WebSocket servers this node runs, in start order.
    pub fn websocket_ports(&self) -> Vec<u16> {
        self.services
            .websockets
            .lock()
            .iter()
            .map(|w| w.port())
            .collect()
    }

    /// The port of the metrics endpoint, if it runs.
    pub fn metrics_port(&self) -> Option<u16> {
        self.services.metrics.lock().as_ref().map(|m| m.port())
    }

    /// The node's counters now (what `/metrics` renders).
    pub fn snapshot(&self) -> Result<Snapshot> {
        Ok(self.collector()?())
    }

    fn collector(&self) -> Result<Collect> {
        let rt = self.running()?;
        let ep = rt.endpoint.handle();
        let state = rt.state.clone();
        let stores = self.store_service().clone();
        let ws = self.services.websockets.clone();
        let name = {
            let n = self.options().text("Telemetry::metrics_endpoint_name");
            if n.is_empty() {
                self.node_name().to_string()
            } else {
                n.to_string()
            }
        };
        Ok(Arc::new(move || {
            let ids = state.lock().node_ids();
            let mut s = Snapshot {
                node: name.clone(),
                endpoint: ep.stats(),
                inbox_pending: ep.pending() as u64,
                inbox_capacity: ep.inbox_capacity() as u64,
                peers: ep
                    .peer_stats()
                    .into_iter()
                    .map(|p| {
                        let node = p
                            .peer
                            .id
                            .and_then(|id| ids.iter().find(|(_, i)| *i == id.to_string()))
                            .map(|(n, _)| n.clone());
                        PeerMetrics {
                            is_node: node.is_some(),
                            name: node
                                .unwrap_or_else(|| format!("{}:{}", p.peer.address, p.peer.port)),
                            stats: p,
                        }
                    })
                    .collect(),
                stores: stores.stats(),
                log_dropped: state.lock().log_dropped(),
                processed: ep.processed_messages(),
                process: crate::metrics::process::ProcessStats::read(),
                ..Snapshot::default()
            };
            {
                let st = state.lock();
                for (id, (path, n)) in &st.telemetry.log_writes {
                    let module = crate::metrics::module_of(id).to_string();
                    s.log_writes.push((module.clone(), id.clone(), *n));
                    s.log_writer_writes.push(crate::metrics::LogWriterWrites {
                        writer: crate::log::message::WRITER_ASCII.to_string(),
                        module,
                        stream: id.clone(),
                        filter_name: "default".into(),
                        path: path.clone(),
                        writes: *n,
                    });
                }
                s.backpressure_disconnects = st
                    .telemetry
                    .backpressure_disconnects
                    .iter()
                    .map(|(k, v)| (k.clone(), *v))
                    .collect();
            }
            let servers = ws.lock().clone();
            if !servers.is_empty() {
                let mut m = WebSocketMetrics::default();
                for w in servers {
                    let x = w.metrics();
                    m.clients.extend(x.clients);
                    m.accepted += x.accepted;
                    m.overflow_closes += x.overflow_closes;
                    m.errors += x.errors;
                    m.tls_failures += x.tls_failures;
                }
                s.websocket = Some(m);
            }
            s
        }))
    }

    /// Starts what the layout and options ask for, once the node runs: the metrics
    /// endpoint when a metrics port is set (`Telemetry::metrics_port`, else the node's
    /// `$metrics_port`), with `/services.json` on the manager; and the layout's
    /// `Cluster::listen_websocket` calls (on the manager only when ZeekControl's guard
    /// says so; none when `ZEEKCTL_DISABLE_LISTEN` is set and the call is guarded by it).
    pub(crate) fn start_services(&self, disable_listen: bool) -> Result<()> {
        let layout = self.layout().clone();
        let me = layout.nodes.get(self.node_name());
        let port = match self.options().port("Telemetry::metrics_port") {
            0 => me
                .and_then(|n| n.metrics_port.as_ref())
                .map_or(0, |p| p.number),
            p => p,
        };
        if port != 0 && !disable_listen {
            let mut addr = self
                .options()
                .text("Telemetry::metrics_address")
                .to_string();
            if addr.is_empty() {
                addr = std::env::var("ZEEK_DEFAULT_LISTEN_ADDRESS").unwrap_or_default();
            }
            let services =
                (self.local_node_type() == NodeType::Manager).then(|| services_json(&layout));
            let m =
                MetricsServer::start(&addr, port, self.collector()?, services).map_err(|e| {
                    Error::new(e.kind, format!("node {}: {}", self.node_name(), e.message))
                })?;
            *self.services.metrics.lock() = Some(m);
        }
        for w in &layout.websocket {
            if w.unless_disable_listen && disable_listen {
                continue;
            }
            if w.manager_only && self.local_node_type() != NodeType::Manager {
                continue;
            }
            let mut o = self.websocket_defaults();
            o.listen_addr = w.listen_addr.to_string();
            o.listen_port = w.listen_port;
            if let Some(q) = w.max_event_queue_size {
                o.max_event_queue_size = q.max(1) as usize;
            }
            if let Some(p) = w.ping_interval {
                o.ping_interval = (p > 0.0).then(|| std::time::Duration::from_secs_f64(p));
            }
            if let Some(t) = &w.tls {
                o.tls = t.clone();
            }
            self.listen_websocket(&o)?;
        }
        Ok(())
    }
}
