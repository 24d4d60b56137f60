//! `zcluster layout check|show|convert`.

use crate::cli::{LayoutAction, LayoutArgs, LayoutFileArgs, LayoutFormat};
use crate::{exit, Failure, Res};
use std::io::Write;
use zcluster::layout::{zeekctl_websocket_default, Format, Layout, NodeCfgOptions, NodeType};

fn format_of(f: LayoutFormat) -> Format {
    match f {
        LayoutFormat::Zeek => Format::Zeek,
        LayoutFormat::Bro => Format::Bro,
        LayoutFormat::NodeCfg => Format::NodeCfg,
        LayoutFormat::Json => Format::Json,
    }
}

fn read(input: &LayoutFileArgs, nodecfg: Option<&NodeCfgOptions>) -> Res<Layout> {
    let path = &input.file;
    let source = path.display().to_string();
    let fail = |e: zcluster::Error| {
        let code = match e.kind {
            zcluster::ErrorKind::Io => exit::NOT_FOUND,
            _ => exit::BAD_INPUT,
        };
        Failure::new(code, e.message)
    };
    let bytes = std::fs::read(path).map_err(|e| {
        Failure::new(
            exit::NOT_FOUND,
            format!("{source}: cannot read layout: {e}"),
        )
    })?;
    let Ok(text) = std::str::from_utf8(&bytes) else {
        // Layout::load names the line and column of the bad byte.
        return Layout::load(path).map_err(fail);
    };
    let format = input
        .from
        .map(format_of)
        .or_else(|| {
            path.file_name()
                .and_then(|n| Format::from_file_name(&n.to_string_lossy()))
        })
        .unwrap_or_else(|| Format::from_content(text));
    match format {
        Format::NodeCfg => {
            Layout::parse_node_cfg(text, &source, nodecfg.unwrap_or(&NodeCfgOptions::default()))
        }
        f => Layout::parse_as(text, f, &source),
    }
    .map_err(fail)
}

pub fn main(a: LayoutArgs) -> Res {
    match a.action {
        LayoutAction::Check(f) => {
            let l = read(&f, None)?;
            let count = |t: NodeType| l.nodes.values().filter(|n| n.node_type == t).count();
            println!(
                "{}: ok ({} layout, {} nodes: {} manager, {} logger, {} proxy, {} worker)",
                f.file.display(),
                l.format.name(),
                l.nodes.len(),
                count(NodeType::Manager),
                count(NodeType::Logger),
                count(NodeType::Proxy),
                count(NodeType::Worker)
            );
            Ok(())
        }
        LayoutAction::Show(s) => {
            let l = read(&s.input, None)?;
            if s.json {
                println!("{}", l.to_json());
                return Ok(());
            }
            let mut rows: Vec<[String; 6]> = vec![[
                "NAME".into(),
                "TYPE".into(),
                "IP".into(),
                "PORT".into(),
                "MANAGER".into(),
                "INTERFACE".into(),
            ]];
            let mut nodes: Vec<_> = l.nodes.iter().collect();
            nodes.sort_by_key(|(name, n)| (n.p.number == 0, n.p.number, (*name).clone()));
            for (name, n) in nodes {
                rows.push([
                    name.clone(),
                    n.node_type.name().to_string(),
                    n.ip.to_string(),
                    if n.p.number == 0 {
                        "-".into()
                    } else {
                        n.p.to_string()
                    },
                    n.manager.clone().unwrap_or_else(|| "-".into()),
                    n.interface.clone().unwrap_or_else(|| "-".into()),
                ]);
            }
            let mut w = [0usize; 6];
            for r in &rows {
                for (i, c) in r.iter().enumerate() {
                    w[i] = w[i].max(c.chars().count());
                }
            }
            for r in &rows {
                let cells: Vec<String> = r
                    .iter()
                    .enumerate()
                    .map(|(i, c)| format!("{c:<width$}", width = w[i]))
                    .collect();
                println!("{}", cells.join("  ").trim_end());
            }
            for (name, v) in &l.options {
                println!("redef {name} = {v}");
            }
            Ok(())
        }
        LayoutAction::Convert(c) => {
            let backend = c.cluster_backend.to_ascii_lowercase();
            if backend != "zeromq" && backend != "broker" {
                return Err(Failure::new(
                    exit::BAD_INPUT,
                    format!(
                        "--cluster-backend {}: expected ZeroMQ or Broker",
                        c.cluster_backend
                    ),
                ));
            }
            let opts = NodeCfgOptions {
                zeek_port: c.zeek_port,
                metrics_port: c.metrics_port,
                zeromq: backend == "zeromq",
            };
            let l = read(&c.input, Some(&opts))?;
            let to = format_of(c.to);
            let text = if to == Format::Zeek && l.format == Format::NodeCfg {
                let ws = if c.no_websocket {
                    None
                } else {
                    let (h, p) = c.websocket.rsplit_once(':').ok_or_else(|| {
                        Failure::new(
                            exit::BAD_INPUT,
                            format!("--websocket {}: expected HOST:PORT", c.websocket),
                        )
                    })?;
                    let port = p.parse().map_err(|_| {
                        Failure::new(
                            exit::BAD_INPUT,
                            format!("--websocket {}: bad port", c.websocket),
                        )
                    })?;
                    let addr = h
                        .trim_start_matches('[')
                        .trim_end_matches(']')
                        .parse()
                        .map_err(|_| {
                            Failure::new(
                                exit::BAD_INPUT,
                                format!("--websocket {}: '{h}' is not an IP address", c.websocket),
                            )
                        })?;
                    let mut ws = zeekctl_websocket_default();
                    ws.listen_addr = addr;
                    ws.listen_port = port;
                    Some(ws)
                };
                l.to_zeekctl(ws.as_ref())
            } else {
                l.write_as(to)
            };
            match &c.output {
                Some(p) => std::fs::write(p, text)
                    .map_err(|e| Failure::new(exit::FAILURE, format!("{}: {e}", p.display())))?,
                None => {
                    let _ = std::io::stdout().write_all(text.as_bytes());
                }
            }
            Ok(())
        }
    }
}
