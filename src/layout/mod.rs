//! Cluster layouts: `cluster-layout.zeek`, the legacy `cluster-layout.bro`, ZeekControl's
//! `node.cfg`, and a JSON form, all parsed into one `Layout`.
//!
//! The model is Zeek's `Cluster::nodes` table: node name -> `Cluster::Node` record, with the
//! fields of both references (the current `main.zeek` and Bro 2.5's `main.bro`), plus the
//! `redef Cluster::...` options the layout file sets. Every parser reports failures as
//! `ErrorKind::Parse` with a message `<source>:<line>:<col>: <what was expected>`; lines and
//! columns are 1-based and count characters (a tab is one column).

mod json;
mod nodecfg;
mod write;
mod zeek;
mod zeekctl_config;

pub use crate::options::{format_interval, parse_interval, OptionValue, Port, Protocol};
pub use nodecfg::NodeCfgOptions;
pub use write::zeekctl_websocket_default;
pub(crate) use zeek::Cursor as ZeekCursor;

use crate::error::{Error, Result};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::net::IpAddr;
use std::path::Path;

/// `Cluster::NodeType`. The numbers are those of the C enum `zc_node_type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum NodeType {
    /// Not in a cluster (what `local_node_type` reports when the cluster is disabled).
    None = 0,
    Control = 1,
    Manager = 2,
    Logger = 3,
    Proxy = 4,
    Worker = 5,
    /// Bro 2.5 to Zeek 7.0 only; zeekctl still writes it when `TimeMachineHost` is set.
    TimeMachine = 6,
}

impl NodeType {
    pub const ALL: [NodeType; 7] = [
        NodeType::None,
        NodeType::Control,
        NodeType::Manager,
        NodeType::Logger,
        NodeType::Proxy,
        NodeType::Worker,
        NodeType::TimeMachine,
    ];

    /// The enum name without namespace ("WORKER").
    pub fn name(self) -> &'static str {
        match self {
            NodeType::None => "NONE",
            NodeType::Control => "CONTROL",
            NodeType::Manager => "MANAGER",
            NodeType::Logger => "LOGGER",
            NodeType::Proxy => "PROXY",
            NodeType::Worker => "WORKER",
            NodeType::TimeMachine => "TIME_MACHINE",
        }
    }

    /// Parses "WORKER" or "Cluster::WORKER".
    pub fn from_name(s: &str) -> Option<NodeType> {
        let bare = s.strip_prefix("Cluster::").unwrap_or(s);
        NodeType::ALL.into_iter().find(|t| t.name() == bare)
    }

    pub fn from_i32(v: i32) -> Option<NodeType> {
        NodeType::ALL.into_iter().find(|t| *t as i32 == v)
    }

    pub(crate) fn expected_list() -> String {
        NodeType::ALL
            .iter()
            .map(|t| format!("Cluster::{}", t.name()))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

impl fmt::Display for NodeType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Cluster::{}", self.name())
    }
}

/// What ZeekControl's `node.cfg` says about a node beyond the `Cluster::Node` record
/// (only set on layouts read from `node.cfg`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ZeekctlNode {
    /// The `host=` value as written (the record's `ip` is its resolved address).
    pub host: String,
    /// `lb_method=` (af_packet, pf_ring, myricom, custom, interfaces).
    pub lb_method: Option<String>,
    /// `lb_procs=` of the section this node was expanded from.
    pub lb_procs: Option<u32>,
    /// This process's CPU from `pin_cpus=` (zeekctl hands them out in order, cyclically).
    pub pin_cpu: Option<u32>,
    /// `env_vars=` as key -> value (values trimmed, quotes kept, as zeekctl does).
    pub env_vars: BTreeMap<String, String>,
    /// `aux_scripts=`.
    pub aux_scripts: Option<String>,
}

/// One `Cluster::Node` record: every field of the current reference and of Bro 2.5.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    pub node_type: NodeType,
    pub ip: IpAddr,
    /// RFC 4007 zone id for a non-global IPv6 `ip`; "" when unset (Zeek's default).
    pub zone_id: String,
    /// The port this node listens on; `0/unknown` (Zeek's default) means "does not listen".
    pub p: Port,
    pub interface: Option<String>,
    /// Legacy (Bro 2.5): the logger this node sends its logs to.
    pub logger: Option<String>,
    pub manager: Option<String>,
    /// Legacy (Bro 2.5): the proxy a worker (or manager) uses.
    pub proxy: Option<String>,
    /// Legacy (Bro 2.5): the workers a manager or proxy connects with. `Some(empty)` is
    /// `$workers=set()`, distinct from unset.
    pub workers: Option<BTreeSet<String>>,
    pub time_machine: Option<String>,
    /// Set at run time by the cluster framework; a layout normally leaves it unset.
    pub id: Option<String>,
    pub lb_filter: Option<String>,
    pub metrics_port: Option<Port>,
    /// Supervisor-era field: a pcap file a node reads instead of sniffing.
    pub pcap_file: Option<String>,
    /// ZeekControl settings, for layouts read from `node.cfg`.
    pub zeekctl: Option<ZeekctlNode>,
}

impl Node {
    /// A node with the given type and address and every other field at its default.
    pub fn new(node_type: NodeType, ip: IpAddr) -> Node {
        Node {
            node_type,
            ip,
            zone_id: String::new(),
            p: Port::UNSET,
            interface: None,
            logger: None,
            manager: None,
            proxy: None,
            workers: None,
            time_machine: None,
            id: None,
            lb_filter: None,
            metrics_port: None,
            pcap_file: None,
            zeekctl: None,
        }
    }
}

/// Which syntax a layout was read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `cluster-layout.zeek` (current Zeek, as ZeekControl writes it).
    Zeek,
    /// `cluster-layout.bro` (Bro 2.5; `$p` is required there).
    Bro,
    /// ZeekControl's `node.cfg`.
    NodeCfg,
    /// zcluster's JSON form (`Layout::to_json`).
    Json,
}

impl Format {
    /// "zeek", "bro", "node.cfg", "json" (also accepted: "nodecfg", "cfg").
    pub fn from_name(s: &str) -> Result<Format> {
        match s.to_ascii_lowercase().as_str() {
            "zeek" => Ok(Format::Zeek),
            "bro" => Ok(Format::Bro),
            "node.cfg" | "nodecfg" | "cfg" => Ok(Format::NodeCfg),
            "json" => Ok(Format::Json),
            _ => Err(Error::invalid(format!(
                "unknown layout format \"{s}\" (expected \"zeek\", \"bro\", \"node.cfg\" or \"json\")"
            ))),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Format::Zeek => "zeek",
            Format::Bro => "bro",
            Format::NodeCfg => "node.cfg",
            Format::Json => "json",
        }
    }

    /// Guesses the format from a file name: `*.zeek`, `*.bro`, `*.json`, `*.cfg`
    /// (`node.cfg`); None when the name says nothing.
    pub fn from_file_name(name: &str) -> Option<Format> {
        let lower = name.to_ascii_lowercase();
        if lower.ends_with(".zeek") {
            Some(Format::Zeek)
        } else if lower.ends_with(".bro") {
            Some(Format::Bro)
        } else if lower.ends_with(".json") {
            Some(Format::Json)
        } else if lower.ends_with(".cfg") || lower.ends_with("node.cfg") {
            Some(Format::NodeCfg)
        } else {
            None
        }
    }

    /// Guesses the format from the text: a `{` first means JSON; a `[section]` line before
    /// any `redef` means node.cfg; `.bro` when the text uses constructs only Bro-era layouts
    /// have (`$workers`, `$proxy` or `Cluster::TIME_MACHINE`, and no `$metrics_port`;
    /// `$logger` does not count: current ZeekControl writes it too); otherwise `.zeek`.
    pub fn from_content(text: &str) -> Format {
        let mut in_comment_free = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#') && !l.starts_with(';'));
        match in_comment_free.next() {
            Some(first) if first.starts_with('{') => return Format::Json,
            Some(first) if first.starts_with('[') && first.ends_with(']') => {
                return Format::NodeCfg
            }
            _ => {}
        }
        let legacy = ["$workers", "$proxy=", "Cluster::TIME_MACHINE"]
            .iter()
            .any(|k| text.contains(k));
        if legacy && !text.contains("$metrics_port") {
            Format::Bro
        } else {
            Format::Zeek
        }
    }
}

/// A cluster layout: `Cluster::nodes` plus the options the layout file sets.
#[derive(Debug, Clone, PartialEq)]
pub struct Layout {
    pub nodes: BTreeMap<String, Node>,
    /// `redef <name> = <value>` statements in file order (`Cluster::manager_is_logger`, ...);
    /// a later statement for the same name replaces the earlier one's value.
    pub options: Vec<(String, OptionValue)>,
    pub format: Format,
    /// Where the layout came from (a path, or "<input>"), as used in error messages.
    pub source: String,
    /// `Cluster::listen_websocket(...)` calls in the layout's `zeek_init` handlers (what
    /// ZeekControl 8.1+ appends when `UseWebSocket` is on).
    pub websocket: Vec<WebSocketListen>,
}

/// A `Cluster::listen_websocket([$listen_addr=.., $listen_port=.., ...])` call found in a
/// layout, with the conditions ZeekControl wraps it in.
#[derive(Debug, Clone, PartialEq)]
pub struct WebSocketListen {
    pub listen_addr: IpAddr,
    pub listen_port: u16,
    pub max_event_queue_size: Option<u64>,
    /// Seconds.
    pub ping_interval: Option<f64>,
    /// `$tls_options` (`Cluster::WebSocketTLSOptions`), when the call has it.
    pub tls: Option<crate::websocket::ServerTls>,
    /// The call is guarded by `Cluster::local_node_type() == Cluster::MANAGER` (or a
    /// non-cluster process): only the manager starts the server.
    pub manager_only: bool,
    /// The call is guarded by `getenv("ZEEKCTL_DISABLE_LISTEN") == ""`.
    pub unless_disable_listen: bool,
}

/// The source name used for text that did not come from a file.
pub const TEXT_SOURCE: &str = "<input>";

impl Layout {
    /// An empty layout (no nodes, no options).
    pub fn empty(format: Format, source: &str) -> Layout {
        Layout {
            nodes: BTreeMap::new(),
            options: Vec::new(),
            format,
            source: source.to_string(),
            websocket: Vec::new(),
        }
    }

    /// Reads a layout file; the format comes from the file name, else from the content.
    /// A directory (ZeekControl's `spool/installed-scripts-do-not-touch/auto`) means its
    /// `cluster-layout.zeek` (or `.bro`), with the cluster settings of a
    /// `zeekctl-config.zeek` beside it applied on top (`load_zeekctl_config`): that is
    /// where ZeekControl 8.1+ selects the ZeroMQ backend and its endpoints.
    pub fn load(path: impl AsRef<Path>) -> Result<Layout> {
        let path = path.as_ref();
        if path.is_dir() {
            let layout_file = ["cluster-layout.zeek", "cluster-layout.bro"]
                .iter()
                .map(|n| path.join(n))
                .find(|p| p.is_file())
                .ok_or_else(|| {
                    Error::not_found(format!(
                        "{}: no cluster-layout.zeek (or .bro) in this directory",
                        path.display()
                    ))
                })?;
            let mut layout = Layout::load(&layout_file)?;
            let config = path.join("zeekctl-config.zeek");
            if config.is_file() {
                layout.load_zeekctl_config(&config)?;
            }
            return Ok(layout);
        }
        let source = path.display().to_string();
        let bytes = std::fs::read(path).map_err(|e| {
            let mut err = Error::from(e);
            err.message = format!("{source}: cannot read layout: {}", err.message);
            err
        })?;
        let text = std::str::from_utf8(&bytes).map_err(|e| {
            let (line, col) = line_col(&bytes[..e.valid_up_to()]);
            Error::parse(format!(
                "{source}:{line}:{col}: expected UTF-8 text (invalid byte)"
            ))
        })?;
        let file_name = path
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default();
        let format =
            Format::from_file_name(&file_name).unwrap_or_else(|| Format::from_content(text));
        Layout::parse_as(text, format, &source)
    }

    /// Applies the cluster settings of a ZeekControl `zeekctl-config.zeek` (the backend
    /// its `@load` selects, `Cluster::` redefs, `@if ( |X| == 0 )` guards) on top of this
    /// layout's options; the rest of the file is skipped (see `zeekctl_config`).
    pub fn load_zeekctl_config(&mut self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        let source = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| {
            let mut err = Error::from(e);
            err.message = format!("{source}: cannot read: {}", err.message);
            err
        })?;
        self.apply_zeekctl_config(&text, &source)
    }

    /// `load_zeekctl_config` from text.
    pub fn apply_zeekctl_config(&mut self, text: &str, source: &str) -> Result<()> {
        zeekctl_config::apply(self, text, source)
    }

    /// Parses text; `format` None guesses it from the content.
    pub fn parse(text: &str, format: Option<Format>) -> Result<Layout> {
        let format = format.unwrap_or_else(|| Format::from_content(text));
        Layout::parse_as(text, format, TEXT_SOURCE)
    }

    /// Parses text of a known format; `source` names it in error messages.
    pub fn parse_as(text: &str, format: Format, source: &str) -> Result<Layout> {
        match format {
            Format::Zeek | Format::Bro => zeek::parse(text, format, source),
            Format::NodeCfg => nodecfg::parse(text, source, &NodeCfgOptions::default()),
            Format::Json => json::parse_layout(text, source),
        }
    }

    /// Parses ZeekControl's `node.cfg` with explicit zeekctl settings (base port, ...).
    pub fn parse_node_cfg(text: &str, source: &str, opts: &NodeCfgOptions) -> Result<Layout> {
        nodecfg::parse(text, source, opts)
    }

    /// The JSON form (see `from_json`).
    pub fn to_json(&self) -> String {
        json::write_layout(self)
    }

    /// Reads the JSON form:
    /// `{"nodes": {"<name>": {"node_type": "WORKER", "ip": "10.0.0.1", "p": "47761/tcp",
    /// "manager": "manager", ...}}, "options": {"Cluster::retry_interval": "1.0 min"}}`.
    /// Node keys are the `Cluster::Node` field names; `workers` is an array of names,
    /// `zeekctl` an object. Option values are JSON booleans, numbers or strings in Zeek
    /// syntax.
    pub fn from_json(text: &str) -> Result<Layout> {
        json::parse_layout(text, TEXT_SOURCE)
    }

    /// The value the layout sets for an option, if any (the last `redef` wins).
    pub fn option(&self, name: &str) -> Option<&OptionValue> {
        self.options
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v)
    }

    /// Names of the nodes of a type, sorted with `strcmp` order as Zeek's
    /// `nodes_with_type` sorts them.
    pub fn nodes_with_type(&self, t: NodeType) -> Vec<&str> {
        self.nodes
            .iter()
            .filter(|(_, n)| n.node_type == t)
            .map(|(k, _)| k.as_str())
            .collect()
    }

    pub(crate) fn set_option(&mut self, name: String, value: OptionValue) {
        if let Some(slot) = self.options.iter_mut().find(|(n, _)| *n == name) {
            slot.1 = value;
        } else {
            self.options.push((name, value));
        }
    }
}

/// Where in a source something is; used to report reference errors after a whole table
/// has been read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Pos {
    pub line: usize,
    pub col: usize,
}

pub(crate) fn perr(source: &str, pos: Pos, msg: impl fmt::Display) -> Error {
    Error::parse(format!("{source}:{}:{}: {msg}", pos.line, pos.col))
}

fn line_col(prefix: &[u8]) -> (usize, usize) {
    let text = String::from_utf8_lossy(prefix);
    let mut line = 1;
    let mut col = 1;
    for c in text.chars() {
        if c == '\n' {
            line += 1;
            col = 1;
        } else {
            col += 1;
        }
    }
    (line, col)
}

/// Positions of a node's references to other nodes, checked once every node is known.
#[derive(Debug, Default, Clone)]
pub(crate) struct RefPositions {
    pub manager: Option<Pos>,
    pub logger: Option<Pos>,
    pub proxy: Option<Pos>,
    pub time_machine: Option<Pos>,
    pub workers: Option<Pos>,
}

/// Every name a node refers to must be a node of the right type: `$manager` a MANAGER,
/// `$logger` a LOGGER, `$proxy` a PROXY, `$time_machine` a TIME_MACHINE, `$workers` WORKERs.
pub(crate) fn check_references(
    nodes: &BTreeMap<String, Node>,
    refs: &BTreeMap<String, RefPositions>,
    source: &str,
) -> Result<()> {
    let check =
        |owner: &str, field: &str, target: &str, want: NodeType, pos: Option<Pos>| -> Result<()> {
            let ok = nodes
                .get(target)
                .map(|n| n.node_type == want)
                .unwrap_or(false);
            if ok {
                return Ok(());
            }
            let pos = pos.unwrap_or(Pos { line: 1, col: 1 });
            let found = match nodes.get(target) {
                Some(n) => format!("\"{target}\" is a {}", n.node_type),
                None => format!("there is no node \"{target}\""),
            };
            Err(perr(
                source,
                pos,
                format!(
                    "node \"{owner}\": ${field} must name a {} node, but {found}",
                    want
                ),
            ))
        };
    // Report in source order, so the first error in the file is the one reported.
    let mut order: Vec<(&String, &Node)> = nodes.iter().collect();
    order.sort_by_key(|(name, _)| {
        refs.get(*name)
            .and_then(|r| {
                [r.manager, r.logger, r.proxy, r.time_machine, r.workers]
                    .into_iter()
                    .flatten()
                    .map(|p| (p.line, p.col))
                    .min()
            })
            .unwrap_or((usize::MAX, 0))
    });
    for (name, node) in order {
        let r = refs.get(name).cloned().unwrap_or_default();
        if let Some(m) = &node.manager {
            check(name, "manager", m, NodeType::Manager, r.manager)?;
        }
        if let Some(l) = &node.logger {
            check(name, "logger", l, NodeType::Logger, r.logger)?;
        }
        if let Some(p) = &node.proxy {
            check(name, "proxy", p, NodeType::Proxy, r.proxy)?;
        }
        if let Some(t) = &node.time_machine {
            check(
                name,
                "time_machine",
                t,
                NodeType::TimeMachine,
                r.time_machine,
            )?;
        }
        if let Some(ws) = &node.workers {
            for w in ws {
                check(name, "workers", w, NodeType::Worker, r.workers)?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
