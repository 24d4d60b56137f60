//! `zcluster run`: one node of a layout, printing what happens to it as JSON lines:
//!
//! - `{"type":"started","node":N,"node_type":T,"port":P,"id":ID}` once it listens and peers;
//! - `{"type":"node_up"|"node_down","node":N,"id":ID,"worker_count":K}`;
//! - `{"type":"status","status":S,"peer":"addr:port","id":ID,"message":M}` for Broker's
//!   peer statuses (`peer_added`, `peer_lost`, `peer_removed`, `peer_unavailable`, ...:
//!   `MessageKind::name`, the C name `ZC_MESSAGE_<S>` in lower case);
//! - with `--events`, each event as Zeek's WebSocket data message
//!   (`{"type":"data-message","topic":..,"@data-type":"vector","data":[..]}`);
//! - `{"type":"stopping","reason":..}` then `{"type":"stopped"}`.
//!
//! SIGINT or SIGTERM (or a `Control::shutdown_request`) stops it cleanly: a goodbye (Broker's
//! BYE) to every peer, cluster.log flushed and closed, the endpoint shut down.

use crate::cli::RunArgs;
use crate::{exit, Failure, Res};
use std::io::Write;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};
use zcluster::cluster::{self, Cluster, Options};
use zcluster::data::json;
use zcluster::endpoint::MessageKind;
use zcluster::json::JsonValue as J;
use zcluster::layout::Layout;

fn line(out: &mut impl Write, members: Vec<(&str, J)>) {
    let _ = writeln!(out, "{}", J::object(members).to_compact());
    let _ = out.flush();
}

pub fn load_layout(path: &std::path::Path) -> Res<Layout> {
    Layout::load(path).map_err(|e| {
        let code = match e.kind {
            zcluster::ErrorKind::Io => exit::NOT_FOUND,
            _ => exit::BAD_INPUT,
        };
        Failure::new(code, e.message)
    })
}

pub fn run(a: RunArgs) -> Res {
    if a.demo {
        let name = a
            .node
            .clone()
            .ok_or_else(|| Failure::new(exit::USAGE, "--demo needs --node"))?;
        let dir = a.dir.clone().unwrap_or_else(|| ".".into());
        return crate::demo::node(
            &name,
            &a.layout.display().to_string(),
            &dir.display().to_string(),
        );
    }
    let layout = Arc::new(load_layout(&a.layout)?);
    let mut options = Options::new();
    for o in &a.options {
        let (name, value) = o.split_once('=').ok_or_else(|| {
            Failure::new(exit::USAGE, format!("--option {o}: expected NAME=VALUE"))
        })?;
        options.set(name.trim(), value)?;
    }
    let cl = Cluster::new(layout, a.node.as_deref(), &options)?;
    if !cl.is_enabled() {
        return Err(Failure::new(
            exit::NOT_FOUND,
            format!(
                "no node to run: give --node NAME or set CLUSTER_NODE (nodes: {})",
                cl.layout()
                    .nodes
                    .keys()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ));
    }
    for st in &a.stores {
        cl.create_store(st, false)?;
    }
    let stop = crate::net::stop_flag();
    let dir = a.dir.clone().unwrap_or_else(|| ".".into());
    std::fs::create_dir_all(&dir)
        .map_err(|e| Failure::new(exit::FAILURE, format!("{}: {e}", dir.display())))?;
    cl.start_in(Some(dir)).map_err(|e| {
        let f = Failure::from(e);
        Failure::new(f.code.max(exit::FAILURE), f.message)
    })?;
    let rt = cl.running()?;
    let ep = rt.endpoint();
    let events = a.events || !a.subscribe.is_empty();
    for s in &a.subscribe {
        ep.subscribe(s)?;
    }
    let mut out = std::io::stdout().lock();
    line(
        &mut out,
        vec![
            ("type", J::string("started")),
            ("node", J::string(cl.node_name())),
            ("node_type", J::string(cl.local_node_type().name())),
            ("port", J::from(rt.bound_port().unwrap_or(0) as u64)),
            ("id", J::string(cl.node_id())),
        ],
    );
    let mut reason = "signal";
    while !stop.load(Ordering::Relaxed) {
        let Some(m) = ep.next(Some(Duration::from_millis(200))) else {
            continue;
        };
        match m.kind {
            cluster::NODE_UP | cluster::NODE_DOWN => line(
                &mut out,
                vec![
                    ("type", J::string(m.kind.name())),
                    ("node", J::string(m.node.clone().unwrap_or_default())),
                    (
                        "id",
                        J::string(
                            m.peer
                                .as_ref()
                                .and_then(|p| p.id)
                                .map(|i| i.to_string())
                                .unwrap_or_default(),
                        ),
                    ),
                    ("worker_count", J::from(cl.worker_count())),
                ],
            ),
            MessageKind::Event => {
                if let Ok(ev) = m.event() {
                    if ev.name == "Control::shutdown_request" {
                        reason = "Control::shutdown_request";
                        break;
                    }
                }
                if events {
                    match m.value() {
                        Ok(v) => {
                            let _ = writeln!(out, "{}", json::data_message_to_json(&m.topic, &v));
                            let _ = out.flush();
                        }
                        Err(e) => eprintln!("zcluster: undecodable message on {}: {e}", m.topic),
                    }
                }
            }
            MessageKind::Command | cluster::HELLO => {}
            k => {
                let peer = m
                    .peer
                    .as_ref()
                    .map(|p| format!("{}:{}", p.address, p.port))
                    .unwrap_or_default();
                let id = m
                    .peer
                    .as_ref()
                    .and_then(|p| p.id)
                    .map(|i| i.to_string())
                    .unwrap_or_default();
                let mut fields = vec![
                    ("type", J::string("status")),
                    ("status", J::string(k.name())),
                    ("peer", J::string(peer)),
                    ("id", J::string(id)),
                    ("message", J::string(m.text.clone())),
                ];
                if !m.topic.is_empty() {
                    // DESERIALIZATION_FAILED: the dropped message's topic.
                    fields.push(("topic", J::string(m.topic.clone())));
                }
                line(&mut out, fields);
            }
        }
    }
    line(
        &mut out,
        vec![
            ("type", J::string("stopping")),
            ("reason", J::string(reason)),
        ],
    );
    // Goodbye to every peer (Broker's BYE), so they report the peering removed instead of
    // lost and do not try to reconnect to a node that stopped on purpose.
    let peers = ep.peers();
    for p in &peers {
        let _ = ep.unpeer(&p.address, p.port);
    }
    let end = Instant::now() + Duration::from_secs(2);
    while !ep.peers().is_empty() && Instant::now() < end {
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = rt.flush_log();
    drop(cl);
    line(&mut out, vec![("type", J::string("stopped"))]);
    Ok(())
}
