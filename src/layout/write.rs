//! Writing layouts back out: `cluster-layout.zeek` (as ZeekControl writes it for a layout
//! read from `node.cfg`), the legacy `cluster-layout.bro`, and `node.cfg`. The JSON form is
//! `Layout::to_json`.
//!
//! - A layout read from `node.cfg` is written as zeekctl's `make_layout`
//!   (ZeekControl/install.py) writes `cluster-layout.zeek`, byte for byte: the header
//!   comment, `Cluster::manager_is_logger`, then control, manager, loggers, proxies and
//!   workers in port order with exactly the fields zeekctl writes (`$node_type`, `$ip`,
//!   `$p`, `$manager` for proxies and workers, `$metrics_port`), and, with zeekctl's
//!   default `UseWebSocket=1`, the `zeek_init` handler that starts the manager's WebSocket
//!   server (`WebSocketHost`, `WebSocketPort`: 127.0.0.1 and 27759 by default).
//! - Any other layout is written with every field it sets, in the same one-line-per-node
//!   style, nodes ordered by type (control, manager, logger, proxy, worker, time machine),
//!   then port, then name, and every `redef` it sets in its order.
//! - `node.cfg`: one section per node (the control entry is zeekctl's own and is left
//!   out); workers that zeekctl expanded from one section with `lb_procs` are written
//!   back as that section. Ports are not part of node.cfg (zeekctl hands them out from
//!   `ZeekPort`), nor are options and the legacy fields.

use super::{Format, Layout, Node, NodeType, WebSocketListen};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::IpAddr;

/// zeekctl's `UseWebSocket=1` defaults: `WebSocketHost = 127.0.0.1`, `WebSocketPort = 27759`.
pub fn zeekctl_websocket_default() -> WebSocketListen {
    WebSocketListen {
        listen_addr: IpAddr::from([127, 0, 0, 1]),
        listen_port: 27759,
        max_event_queue_size: None,
        ping_interval: None,
        tls: None,
        manager_only: true,
        unless_disable_listen: true,
    }
}

/// The `zeek_init` handler that starts a WebSocket server, as zeekctl writes it (with the
/// conditions and fields the record has).
fn websocket_block(ws: &WebSocketListen, o: &mut String) {
    o.push('\n');
    o.push_str("event zeek_init()\n\t{\n");
    let mut conds = Vec::new();
    if ws.unless_disable_listen {
        conds.push("getenv(\"ZEEKCTL_DISABLE_LISTEN\") == \"\"".to_string());
    }
    if ws.manager_only {
        conds.push(
            "(Cluster::local_node_type() == Cluster::MANAGER || ! Cluster::is_enabled())"
                .to_string(),
        );
    }
    let mut fields = format!(
        "$listen_addr={}, $listen_port={}/tcp",
        zeek_addr(&ws.listen_addr),
        ws.listen_port
    );
    if let Some(q) = ws.max_event_queue_size {
        let _ = write!(fields, ", $max_event_queue_size={q}");
    }
    if let Some(p) = ws.ping_interval {
        let _ = write!(fields, ", $ping_interval={}", super::format_interval(p));
    }
    if let Some(t) = &ws.tls {
        let q = |s: &str| format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""));
        let mut tf = Vec::new();
        if let Some(c) = &t.cert_file {
            tf.push(format!("$cert_file={}", q(c)));
        }
        if let Some(k) = &t.key_file {
            tf.push(format!("$key_file={}", q(k)));
        }
        if t.enable_peer_verification {
            tf.push("$enable_peer_verification=T".into());
        }
        if !t.ca_file.is_empty() {
            tf.push(format!("$ca_file={}", q(&t.ca_file)));
        }
        if !t.ciphers.is_empty() {
            tf.push(format!("$ciphers={}", q(&t.ciphers)));
        }
        let _ = write!(fields, ", $tls_options=[{}]", tf.join(", "));
    }
    if conds.is_empty() {
        let _ = writeln!(o, "\tCluster::listen_websocket([{fields}]);");
    } else {
        let _ = writeln!(o, "\tif ( {} )\n\t\t{{", conds.join(" && "));
        let _ = writeln!(o, "\t\tCluster::listen_websocket([{fields}]);");
        o.push_str("\t\t}\n");
    }
    o.push_str("\t}\n");
}

fn zeek_addr(a: &IpAddr) -> String {
    // zeekctl's util.format_zeek_addr: brackets around IPv6.
    match a {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => format!("[{v6}]"),
    }
}

fn type_rank(t: NodeType) -> u8 {
    match t {
        NodeType::Control => 0,
        NodeType::Manager => 1,
        NodeType::Logger => 2,
        NodeType::Proxy => 3,
        NodeType::Worker => 4,
        NodeType::TimeMachine => 5,
        NodeType::None => 6,
    }
}

fn ordered(l: &Layout) -> Vec<(&String, &Node)> {
    let mut v: Vec<(&String, &Node)> = l.nodes.iter().collect();
    v.sort_by(|a, b| {
        (type_rank(a.1.node_type), a.1.p.number, a.0).cmp(&(
            type_rank(b.1.node_type),
            b.1.p.number,
            b.0,
        ))
    });
    v
}

fn q(s: &str) -> String {
    crate::options::value::quote(s)
}

impl Layout {
    /// `cluster-layout.zeek` text. A layout read from `node.cfg` comes out exactly as
    /// zeekctl writes it (with its default WebSocket block); any other with every field.
    pub fn to_zeek(&self) -> String {
        if self.format == Format::NodeCfg {
            self.to_zeekctl(Some(&zeekctl_websocket_default()))
        } else {
            let mut o = self.to_zeek_full(false);
            for ws in &self.websocket {
                websocket_block(ws, &mut o);
            }
            o
        }
    }

    /// `cluster-layout.bro` text (Bro 2.5 syntax: the same records, legacy fields kept).
    pub fn to_bro(&self) -> String {
        self.to_zeek_full(true)
    }

    /// The text zeekctl's `make_layout` writes for this layout's nodes: only the fields
    /// zeekctl writes; `websocket` None is `UseWebSocket=0`. A layout without a manager
    /// (zeekctl's standalone case) gives only the header and `Cluster::nodes = {}`.
    pub fn to_zeekctl(&self, websocket: Option<&WebSocketListen>) -> String {
        let mut o = String::from("# Automatically generated. Do not edit.\n");
        let mil = self
            .option("Cluster::manager_is_logger")
            .map(|v| v.to_string())
            .unwrap_or_else(|| {
                let any_logger = self.nodes.values().any(|n| n.node_type == NodeType::Logger);
                (if any_logger { "F" } else { "T" }).to_string()
            });
        let _ = writeln!(o, "redef Cluster::manager_is_logger = {mil};");
        o.push_str("redef Cluster::nodes = {\n");
        for (name, n) in ordered(self) {
            let t = n.node_type;
            let _ = write!(
                o,
                "\t[{}] = [$node_type=Cluster::{}, $ip={}, $p={}",
                q(name),
                t.name(),
                zeek_addr(&n.ip),
                n.p
            );
            if matches!(t, NodeType::Proxy | NodeType::Worker) {
                if let Some(m) = &n.manager {
                    let _ = write!(o, ", $manager={}", q(m));
                }
            }
            if let Some(mp) = &n.metrics_port {
                let _ = write!(o, ", $metrics_port={mp}");
            }
            o.push_str("],\n");
        }
        o.push_str("};\n");
        if let Some(ws) = websocket {
            websocket_block(ws, &mut o);
        }
        o
    }

    fn to_zeek_full(&self, bro: bool) -> String {
        let mut o = String::from("# Written by zcluster layout convert.\n");
        for (name, v) in &self.options {
            // The stored value is the option's whole value (a pattern `+=` already
            // joined with the default), so it is written with `=`.
            let _ = writeln!(o, "redef {name} = {v};");
        }
        o.push_str("redef Cluster::nodes = {\n");
        for (name, n) in ordered(self) {
            let _ = write!(
                o,
                "\t[{}] = [$node_type=Cluster::{}, $ip={}",
                q(name),
                n.node_type.name(),
                zeek_addr(&n.ip)
            );
            if !n.zone_id.is_empty() || bro {
                let _ = write!(o, ", $zone_id={}", q(&n.zone_id));
            }
            if n.p.number != 0 || bro {
                let _ = write!(o, ", $p={}", n.p);
            }
            let mut s = |field: &str, v: &Option<String>| {
                if let Some(v) = v {
                    let _ = write!(o, ", ${field}={}", q(v));
                }
            };
            s("interface", &n.interface);
            s("logger", &n.logger);
            s("manager", &n.manager);
            s("proxy", &n.proxy);
            if let Some(ws) = &n.workers {
                let list: Vec<String> = ws.iter().map(|w| q(w)).collect();
                let _ = write!(o, ", $workers=set({})", list.join(", "));
            }
            let mut s = |field: &str, v: &Option<String>| {
                if let Some(v) = v {
                    let _ = write!(o, ", ${field}={}", q(v));
                }
            };
            s("time_machine", &n.time_machine);
            s("id", &n.id);
            s("lb_filter", &n.lb_filter);
            s("pcap_file", &n.pcap_file);
            if let Some(mp) = &n.metrics_port {
                let _ = write!(o, ", $metrics_port={mp}");
            }
            o.push_str("],\n");
        }
        o.push_str("};\n");
        o
    }

    /// ZeekControl's `node.cfg` for this layout (see the module docs for what it keeps).
    pub fn to_node_cfg(&self) -> String {
        let mut o = String::from("# Written by zcluster layout convert.\n");
        // Definition order: by type, then port, as zeekctl hands ports out.
        let nodes: Vec<(&String, &Node)> = ordered(self)
            .into_iter()
            .filter(|(_, n)| !matches!(n.node_type, NodeType::Control | NodeType::None))
            .collect();
        // Workers expanded from one lb_procs section: group `name-1` .. `name-N`.
        let mut groups: BTreeMap<String, Vec<&Node>> = BTreeMap::new();
        let mut done: Vec<String> = Vec::new();
        for (name, n) in &nodes {
            if let Some((base, k)) = lb_member(name, n) {
                let g = groups.entry(base.to_string()).or_default();
                if g.len() + 1 == k {
                    g.push(n);
                }
            }
        }
        for (name, n) in &nodes {
            let zk = n.zeekctl.as_ref();
            let t = match n.node_type {
                NodeType::Manager => "manager",
                NodeType::Logger => "logger",
                NodeType::Proxy => "proxy",
                NodeType::Worker => "worker",
                // zeekctl has no such node type in node.cfg (TimeMachineHost is a
                // zeekctl.cfg setting): leave it out.
                _ => continue,
            };
            let group = lb_member(name, n).and_then(|(base, _)| {
                groups
                    .get(base)
                    .filter(|g| g.len() as u32 == zk.and_then(|z| z.lb_procs).unwrap_or(0))
                    .map(|g| (base, g))
            });
            let section = match group {
                Some((base, _)) if done.iter().any(|d| d == base) => continue,
                Some((base, _)) => {
                    done.push(base.to_string());
                    base.to_string()
                }
                None => name.to_string(),
            };
            let _ = writeln!(o, "\n[{section}]\ntype={t}");
            let host = zk
                .map(|z| z.host.clone())
                .filter(|h| !h.is_empty())
                .unwrap_or_else(|| n.ip.to_string());
            let _ = writeln!(o, "host={host}");
            if !n.zone_id.is_empty() {
                let _ = writeln!(o, "zone_id={}", n.zone_id);
            }
            match group {
                Some((_, g)) => {
                    let z = zk.expect("grouped workers have zeekctl settings");
                    let method = z.lb_method.clone().unwrap_or_default();
                    if method == "interfaces" {
                        // zeekctl hands lb_interfaces out from the end of the list.
                        let list: Vec<String> = g
                            .iter()
                            .rev()
                            .map(|m| m.interface.clone().unwrap_or_default())
                            .collect();
                        let _ = writeln!(o, "lb_interfaces={}", list.join(","));
                    } else if let Some(i) = &n.interface {
                        let _ = writeln!(o, "interface={i}");
                    }
                    let _ = writeln!(o, "lb_method={method}\nlb_procs={}", g.len());
                    let cpus: Vec<String> = g
                        .iter()
                        .filter_map(|m| m.zeekctl.as_ref().and_then(|z| z.pin_cpu))
                        .map(|c| c.to_string())
                        .collect();
                    if cpus.len() == g.len() {
                        let _ = writeln!(o, "pin_cpus={}", cpus.join(","));
                    }
                }
                None => {
                    if let Some(i) = &n.interface {
                        let _ = writeln!(o, "interface={i}");
                    }
                    if let Some(c) = zk.and_then(|z| z.pin_cpu) {
                        let _ = writeln!(o, "pin_cpus={c}");
                    }
                }
            }
            if let Some(z) = zk {
                if !z.env_vars.is_empty() {
                    let kv: Vec<String> =
                        z.env_vars.iter().map(|(k, v)| format!("{k}={v}")).collect();
                    let _ = writeln!(o, "env_vars={}", kv.join(","));
                }
                if let Some(a) = &z.aux_scripts {
                    let _ = writeln!(o, "aux_scripts={a}");
                }
            }
        }
        o
    }

    /// The layout in `format`'s syntax (`to_zeek`, `to_bro`, `to_node_cfg`, `to_json`).
    pub fn write_as(&self, format: Format) -> String {
        match format {
            Format::Zeek => self.to_zeek(),
            Format::Bro => self.to_bro(),
            Format::NodeCfg => self.to_node_cfg(),
            Format::Json => {
                let mut s = self.to_json();
                if !s.ends_with('\n') {
                    s.push('\n');
                }
                s
            }
        }
    }
}

/// `("w", 2)` for a worker `w-2` that zeekctl expanded from a section with `lb_procs`.
fn lb_member<'a>(name: &'a str, n: &Node) -> Option<(&'a str, usize)> {
    n.zeekctl.as_ref()?.lb_procs?;
    let (base, k) = name.rsplit_once('-')?;
    let k: usize = k.parse().ok()?;
    (k >= 1).then_some((base, k))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn fixture(name: &str) -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/layouts")
            .join(name)
    }

    #[test]
    fn node_cfg_to_zeek_is_what_zeekctl_writes() {
        let l = Layout::load(fixture("node.cfg")).unwrap();
        let want = std::fs::read_to_string(fixture("zeekctl-cluster-layout.zeek")).unwrap();
        assert_eq!(l.to_zeek(), want);
        let no_ws = l.to_zeekctl(None);
        assert!(want.starts_with(&no_ws), "{no_ws}");
        assert!(no_ws.ends_with("};\n"));
    }

    fn same_nodes(a: &Layout, b: &Layout) {
        assert_eq!(
            a.nodes.keys().collect::<Vec<_>>(),
            b.nodes.keys().collect::<Vec<_>>()
        );
        for (k, n) in &a.nodes {
            let m = &b.nodes[k];
            let strip = |n: &Node| Node {
                zeekctl: None,
                ..n.clone()
            };
            assert_eq!(strip(n), strip(m), "node {k}");
        }
    }

    #[test]
    fn zeek_bro_json_round_trip() {
        for f in [
            "zeekctl-cluster-layout.zeek",
            "ipv6-cluster-layout.zeek",
            "cluster-layout.bro",
            "node.cfg",
        ] {
            let l = Layout::load(fixture(f)).unwrap();
            for fmt in [Format::Zeek, Format::Bro, Format::Json] {
                let text = l.write_as(fmt);
                let back = Layout::parse_as(&text, fmt, "<converted>")
                    .unwrap_or_else(|e| panic!("{f} as {}: {e}\n{text}", fmt.name()));
                if l.format == Format::NodeCfg && fmt == Format::Zeek {
                    // zeekctl's text leaves out interface and zone_id.
                    assert_eq!(back.nodes.len(), l.nodes.len());
                    continue;
                }
                same_nodes(&l, &back);
                assert_eq!(l.options, back.options, "{f} as {}", fmt.name());
            }
        }
    }

    #[test]
    fn node_cfg_round_trip_keeps_lb_sections() {
        let l = Layout::load(fixture("node.cfg")).unwrap();
        let text = l.to_node_cfg();
        assert!(text.contains("[worker-1]\ntype=worker\nhost=localhost\ninterface=eth0\nlb_method=pf_ring\nlb_procs=2\npin_cpus=0,1\n"), "{text}");
        let back = Layout::parse_as(&text, Format::NodeCfg, "<converted>").unwrap();
        same_nodes(&l, &back);
        assert_eq!(back.to_zeek(), l.to_zeek());
        // lb_method=interfaces: each process's interface comes back in the same place.
        let cfg = "[manager]\ntype=manager\nhost=127.0.0.1\n[proxy-1]\ntype=proxy\nhost=127.0.0.1\n\
                   [w]\ntype=worker\nhost=127.0.0.1\nlb_method=interfaces\nlb_procs=3\nlb_interfaces=a,b,c\n";
        let l = Layout::parse_as(cfg, Format::NodeCfg, "<cfg>").unwrap();
        let back = Layout::parse_as(&l.to_node_cfg(), Format::NodeCfg, "<converted>").unwrap();
        same_nodes(&l, &back);
    }
}
