//! The HTTP endpoint Zeek's telemetry serves (prometheus-cpp's exposer): `GET /metrics`
//! (Prometheus' text format) and, on the manager, `GET /services.json` (Prometheus' HTTP
//! service discovery: every node with a metrics port). Runs `tiny_http` on a thread of
//! its own; nothing here touches the endpoint's I/O thread (a scrape reads counters).

use super::Snapshot;
use crate::error::{Error, ErrorKind, Result};
use crate::layout::Layout;
use std::net::IpAddr;
use std::sync::Arc;
use std::thread::JoinHandle;

/// Produces the snapshot a scrape renders.
pub type Collect = Arc<dyn Fn() -> Snapshot + Send + Sync>;

/// A running metrics endpoint; stopped on drop.
pub struct MetricsServer {
    server: Arc<tiny_http::Server>,
    thread: Option<JoinHandle<()>>,
    port: u16,
}

impl std::fmt::Debug for MetricsServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MetricsServer")
            .field("port", &self.port)
            .finish()
    }
}

/// `/services.json` for a layout, as Zeek's `BuildClusterJson`: one target group with
/// `<ip>:<metrics_port>` of every node that has a metrics port (IPv6 in brackets), and
/// no labels.
pub fn services_json(layout: &Layout) -> String {
    let mut targets = Vec::new();
    for n in layout.nodes.values() {
        if let Some(p) = n.metrics_port.as_ref().filter(|p| p.number != 0) {
            let host = match n.ip {
                IpAddr::V6(a) => format!("[{a}]"),
                IpAddr::V4(a) => a.to_string(),
            };
            let mut s = String::new();
            crate::data::json::write_broker_string(
                &mut s,
                format!("{host}:{}", p.number).as_bytes(),
            );
            targets.push(s);
        }
    }
    format!("[{{\"targets\":[{}],\"labels\":{{}}}}]", targets.join(","))
}

impl MetricsServer {
    /// Listens on `addr:port` (`""` = all IPv4 interfaces, as Zeek's `0.0.0.0`; port 0
    /// picks one). `services` is the `/services.json` body (the manager's), or None.
    pub fn start(
        addr: &str,
        port: u16,
        collect: Collect,
        services: Option<String>,
    ) -> Result<MetricsServer> {
        let host = if addr.is_empty() { "0.0.0.0" } else { addr };
        let bind = match host.parse::<IpAddr>() {
            Ok(IpAddr::V6(a)) => format!("[{a}]:{port}"),
            _ => format!("{host}:{port}"),
        };
        let server = tiny_http::Server::http(&bind).map_err(|e| {
            Error::new(
                ErrorKind::Io,
                format!("metrics endpoint: cannot listen on {bind}: {e}"),
            )
        })?;
        let bound = server
            .server_addr()
            .to_ip()
            .map(|a| a.port())
            .unwrap_or(port);
        let server = Arc::new(server);
        let s2 = server.clone();
        let thread = std::thread::Builder::new()
            .name("zc-metrics".into())
            .spawn(move || serve(&s2, &collect, services.as_deref()))
            .map_err(|e| Error::new(ErrorKind::Io, format!("spawning the metrics thread: {e}")))?;
        Ok(MetricsServer {
            server,
            thread: Some(thread),
            port: bound,
        })
    }

    /// The bound port.
    pub fn port(&self) -> u16 {
        self.port
    }
}

fn header(k: &str, v: &str) -> tiny_http::Header {
    tiny_http::Header::from_bytes(k.as_bytes(), v.as_bytes()).expect("static header")
}

fn serve(server: &tiny_http::Server, collect: &Collect, services: Option<&str>) {
    for req in server.incoming_requests() {
        let path = req.url().split('?').next().unwrap_or("").to_string();
        let get = matches!(
            req.method(),
            tiny_http::Method::Get | tiny_http::Method::Head
        );
        let resp = match (get, path.as_str(), services) {
            (true, "/metrics", _) => {
                let snap = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| collect()));
                match snap {
                    Ok(s) => tiny_http::Response::from_string(super::prometheus::render(&s))
                        .with_header(header("Content-Type", super::prometheus::CONTENT_TYPE)),
                    Err(_) => {
                        tiny_http::Response::from_string("internal error\n").with_status_code(500)
                    }
                }
            }
            (true, "/services.json", Some(body)) => tiny_http::Response::from_string(body)
                .with_header(header("Content-Type", "application/json")),
            (false, _, _) => {
                tiny_http::Response::from_string("method not allowed\n").with_status_code(405)
            }
            _ => tiny_http::Response::from_string("not found\n").with_status_code(404),
        };
        let _ = req.respond(resp);
    }
}

impl Drop for MetricsServer {
    fn drop(&mut self) {
        self.server.unblock();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    fn get(port: u16, path: &str) -> String {
        let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.set_read_timeout(Some(std::time::Duration::from_secs(5)))
            .unwrap();
        write!(s, "GET {path} HTTP/1.0\r\nHost: x\r\n\r\n").unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        out
    }

    #[test]
    fn serves_metrics_and_services() {
        let layout = Layout::parse(
            "redef Cluster::nodes = {\n[\"manager\"] = [$node_type=Cluster::MANAGER, $ip=127.0.0.1, $p=0/tcp, $metrics_port=9991/tcp],\n[\"w\"] = [$node_type=Cluster::WORKER, $ip=[::1], $p=0/tcp, $manager=\"manager\", $metrics_port=9992/tcp],\n};\n",
            Some(crate::layout::Format::Zeek),
        )
        .unwrap();
        let svc = services_json(&layout);
        assert_eq!(
            svc,
            "[{\"targets\":[\"127.0.0.1:9991\",\"[::1]:9992\"],\"labels\":{}}]"
        );
        let n = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let n2 = n.clone();
        let collect: Collect = Arc::new(move || {
            let mut s = Snapshot {
                node: "manager".into(),
                ..Snapshot::default()
            };
            s.endpoint.received = n2.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 7;
            s
        });
        let srv = MetricsServer::start("127.0.0.1", 0, collect, Some(svc.clone())).unwrap();
        let r = get(srv.port(), "/metrics");
        assert!(
            r.starts_with("HTTP/1.1 200") || r.starts_with("HTTP/1.0 200"),
            "{r}"
        );
        assert!(
            r.contains("zeek_broker_incoming_events_total{node=\"manager\"} 7\n"),
            "{r}"
        );
        let r = get(srv.port(), "/metrics");
        assert!(r.contains("zeek_broker_incoming_events_total{node=\"manager\"} 8\n"));
        assert!(get(srv.port(), "/services.json").ends_with(&svc));
        assert!(get(srv.port(), "/nope").contains(" 404 "));
        drop(srv);
    }
}
