//! ZeekControl's `node.cfg` (read as Python's `configparser` reads it) turned into the
//! layout that zeekctl's `make_layout` (ZeekControl/install.py, zeekctl 2.6) would write.
//!
//! What is followed, from zeekctl's source:
//! - INI: `[section]` headers, `key=value` or `key: value`, keys lower-cased with `.` made
//!   `_`, values trimmed, full-line comments starting with `#` or `;`, indented
//!   continuation lines, a `[DEFAULT]` section whose keys every section inherits,
//!   `%(key)s` interpolation and `%%`; duplicate sections or keys are errors (configparser's
//!   strict mode). Unknown keys are ignored, as zeekctl ignores them (with a warning).
//! - Checks of `_check_node`/`_check_nodestore`: type and host required, types `logger`,
//!   `manager`, `proxy`, `worker`, `standalone`; lb options only on workers; `lb_procs` an
//!   integer >= 1 and needing `lb_method` (af_packet, pf_ring, myricom, custom, interfaces);
//!   `interfaces` needs `lb_interfaces` with exactly `lb_procs` entries, handed out from the
//!   end of the list; `pin_cpus` non-negative integers, repeated cyclically; `env_vars`
//!   `K=V,...`; node names unique case-insensitively; exactly one manager and at least one
//!   proxy in a cluster; a standalone node only alone; if the manager is on localhost every
//!   node must be.
//! - Expansion: a worker `[w]` with `lb_procs=N` becomes `w-1` .. `w-N`.
//! - Order and ports: nodes are ordered by type (logger, manager, proxy, worker) then by
//!   definition order; the layout gets `"control"` (CONTROL, the manager's address), the
//!   manager, the loggers, the proxies (`$manager`), the workers (`$manager`), and one port
//!   each, in that order, counting up from `ZeekPort` (default 27760). With zeekctl's default
//!   `ClusterBackend=ZeroMQ` the ZeroMQ plugin first takes two ports (XPUB, XSUB), so
//!   control gets 27762. Metrics ports count up from `MetricsPort` (default 9991; 0 turns
//!   them off), manager first, then loggers, proxies, workers; control gets none.
//!   `Cluster::manager_is_logger` is F when there is a logger, T otherwise.
//! - Deviations, on purpose: `interface` and `zone_id` from node.cfg are kept on the node
//!   (zeekctl 2.6 no longer writes them into the layout, but they are the node's), and the
//!   node.cfg settings are kept in `Node::zeekctl`. A standalone node.cfg gives a layout
//!   with no nodes (zeekctl writes `standalone-layout.zeek`, which has no `Cluster::nodes`).
//!   Host names are resolved with the system resolver, the first IPv4 address preferred.

use super::{perr, Format, Layout, Node, NodeType, Pos, ZeekctlNode};
use crate::error::Result;
use crate::options::{OptionValue, Port};
use std::collections::BTreeMap;
use std::net::{IpAddr, ToSocketAddrs};

/// zeekctl settings that shape the generated layout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeCfgOptions {
    /// zeekctl's `ZeekPort` (default 27760).
    pub zeek_port: u16,
    /// zeekctl's `MetricsPort` (default 9991); 0 writes no metrics ports.
    pub metrics_port: u16,
    /// zeekctl's `ClusterBackend` is ZeroMQ (its default): two ports go to XPUB/XSUB first.
    pub zeromq: bool,
}

impl Default for NodeCfgOptions {
    fn default() -> Self {
        NodeCfgOptions {
            zeek_port: 27760,
            metrics_port: 9991,
            zeromq: true,
        }
    }
}

struct Entry {
    value: String,
    pos: Pos,
}

struct Section {
    name: String,
    pos: Pos,
    keys: BTreeMap<String, Entry>,
}

fn read_ini(text: &str, source: &str) -> Result<(Vec<Section>, BTreeMap<String, Entry>)> {
    let mut sections: Vec<Section> = Vec::new();
    let mut defaults: BTreeMap<String, Entry> = BTreeMap::new();
    let mut in_default = false;
    let mut last_key: Option<String> = None;
    for (idx, raw) in text.lines().enumerate() {
        let line_no = idx + 1;
        let trimmed = raw.trim();
        let indent = raw.chars().take_while(|c| c.is_whitespace()).count();
        if trimmed.is_empty() {
            last_key = None;
            continue;
        }
        if trimmed.starts_with('#') || trimmed.starts_with(';') {
            continue;
        }
        // A continuation line: indented, after a key.
        if indent > 0 {
            if let Some(k) = &last_key {
                let map = if in_default {
                    Some(&mut defaults)
                } else {
                    sections.last_mut().map(|s| &mut s.keys)
                };
                if let Some(e) = map.and_then(|m| m.get_mut(k)) {
                    e.value.push('\n');
                    e.value.push_str(trimmed);
                    continue;
                }
            }
        }
        let col = indent + 1;
        if trimmed.starts_with('[') {
            let Some(name) = trimmed.strip_prefix('[').and_then(|t| t.strip_suffix(']')) else {
                return Err(perr(
                    source,
                    Pos { line: line_no, col },
                    "expected `]` closing the section header",
                ));
            };
            last_key = None;
            if name == "DEFAULT" {
                in_default = true;
                continue;
            }
            in_default = false;
            if let Some(first) = sections.iter().find(|s| s.name == name) {
                return Err(perr(
                    source,
                    Pos { line: line_no, col },
                    format!(
                        "duplicate section [{name}] (first at line {})",
                        first.pos.line
                    ),
                ));
            }
            sections.push(Section {
                name: name.to_string(),
                pos: Pos { line: line_no, col },
                keys: BTreeMap::new(),
            });
            continue;
        }
        let delim = trimmed.find(['=', ':']);
        let Some(d) = delim else {
            return Err(perr(
                source,
                Pos { line: line_no, col },
                "expected `key = value` or a `[section]` header",
            ));
        };
        let key = trimmed[..d].trim().to_lowercase().replace('.', "_");
        if key.is_empty() {
            return Err(perr(
                source,
                Pos { line: line_no, col },
                "expected a key before `=`",
            ));
        }
        let value_start = raw.len() - raw.trim_start().len() + d + 1;
        let value = trimmed[d + 1..].trim().to_string();
        let vcol = raw[..value_start.min(raw.len())].chars().count()
            + 1
            + (trimmed[d + 1..].len() - trimmed[d + 1..].trim_start().len());
        let entry = Entry {
            value,
            pos: Pos {
                line: line_no,
                col: vcol,
            },
        };
        let map = if in_default {
            &mut defaults
        } else {
            match sections.last_mut() {
                Some(s) => &mut s.keys,
                None => {
                    return Err(perr(
                        source,
                        Pos { line: line_no, col },
                        "expected a `[section]` header before the first key",
                    ));
                }
            }
        };
        if let Some(first) = map.get(&key) {
            return Err(perr(
                source,
                Pos { line: line_no, col },
                format!("duplicate key `{key}` (first at line {})", first.pos.line),
            ));
        }
        map.insert(key.clone(), entry);
        last_key = Some(key);
    }
    Ok((sections, defaults))
}

/// configparser's BasicInterpolation: `%%` is `%`, `%(key)s` is another key's value.
fn interpolate(
    value: &str,
    pos: Pos,
    source: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
    depth: usize,
) -> Result<String> {
    if !value.contains('%') {
        return Ok(value.to_string());
    }
    if depth > 10 {
        return Err(perr(
            source,
            pos,
            "interpolation nested too deeply (a `%(key)s` loop?)",
        ));
    }
    let mut out = String::new();
    let mut rest = value;
    while let Some(i) = rest.find('%') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        if let Some(r) = after.strip_prefix('%') {
            out.push('%');
            rest = r;
        } else if let Some(r) = after.strip_prefix('(') {
            let Some(close) = r.find(")s") else {
                return Err(perr(source, pos, "bad interpolation: expected `%(key)s`"));
            };
            let key = r[..close].to_lowercase();
            let Some(v) = lookup(&key) else {
                return Err(perr(
                    source,
                    pos,
                    format!("bad interpolation: no key `{key}` for `%({key})s`"),
                ));
            };
            out.push_str(&interpolate(&v, pos, source, lookup, depth + 1)?);
            rest = &r[close + 2..];
        } else {
            return Err(perr(source, pos, "bad interpolation: `%` must be followed by `%` or `(key)s` (write `%%` for a percent sign)"));
        }
    }
    out.push_str(rest);
    Ok(out)
}

struct Cfg {
    name: String,
    pos: Pos,
    ntype: String,
    addr: IpAddr,
    zone_id: String,
    zk: ZeekctlNode,
    interface: Option<String>,
    count: usize,
}

fn resolve(host: &str) -> Option<IpAddr> {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let bare = bare.split('%').next().unwrap_or(bare);
    if let Ok(a) = bare.parse::<IpAddr>() {
        return Some(a);
    }
    let addrs: Vec<IpAddr> = (host, 0).to_socket_addrs().ok()?.map(|s| s.ip()).collect();
    addrs
        .iter()
        .find(|a| a.is_ipv4())
        .or_else(|| addrs.first())
        .copied()
}

pub(crate) fn parse(text: &str, source: &str, opts: &NodeCfgOptions) -> Result<Layout> {
    let (sections, defaults) = read_ini(text, source)?;
    if sections.is_empty() {
        return Err(perr(
            source,
            Pos { line: 1, col: 1 },
            "no nodes found in node config (expected `[name]` sections)",
        ));
    }
    let mut nodes: Vec<Cfg> = Vec::new();
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    let mut names_lower: BTreeMap<String, String> = BTreeMap::new();
    let add =
        |c: Cfg, names_lower: &mut BTreeMap<String, String>, nodes: &mut Vec<Cfg>| -> Result<()> {
            let lower = c.name.to_lowercase();
            if let Some(prev) = names_lower.get(&lower) {
                return Err(perr(
                    source,
                    c.pos,
                    format!("node name \"{}\" is a duplicate of \"{prev}\"", c.name),
                ));
            }
            names_lower.insert(lower, c.name.clone());
            nodes.push(c);
            Ok(())
        };
    for sec in &sections {
        let get_raw = |k: &str| sec.keys.get(k).or_else(|| defaults.get(k));
        let lookup = |k: &str| get_raw(k).map(|e| e.value.clone());
        let get = |k: &str| -> Result<Option<(String, Pos)>> {
            match get_raw(k) {
                Some(e) => Ok(Some((
                    interpolate(&e.value, e.pos, source, &lookup, 0)?,
                    e.pos,
                ))),
                None => Ok(None),
            }
        };
        let name = sec.name.clone();
        let at = sec.pos;
        let ntype = match get("type")? {
            Some((t, _)) if !t.is_empty() => (t, get_raw("type").map(|e| e.pos).unwrap_or(at)),
            _ => return Err(perr(source, at, format!("node \"{name}\": no type given (expected type=logger, manager, proxy, worker or standalone)"))),
        };
        let (ntype, tpos) = ntype;
        if !["logger", "manager", "proxy", "worker", "standalone"].contains(&ntype.as_str()) {
            return Err(perr(source, tpos, format!("unknown node type '{ntype}' given for node '{name}' (expected logger, manager, proxy, worker or standalone)")));
        }
        let (host, hpos) = match get("host")? {
            Some((h, p)) if !h.is_empty() => (h, p),
            _ => {
                return Err(perr(
                    source,
                    at,
                    format!("node \"{name}\": no host given (expected host=<address or name>)"),
                ))
            }
        };
        let Some(addr) = resolve(&host) else {
            return Err(perr(source, hpos, format!("bad host \"{host}\" for node '{name}': not an address and the name does not resolve")));
        };
        let mut zk = ZeekctlNode {
            host: host.clone(),
            ..Default::default()
        };
        if let Some((ev, epos)) = get("env_vars")? {
            for kv in ev.split(',').filter(|_| !ev.is_empty()) {
                let Some((k, v)) = kv.split_once('=') else {
                    return Err(perr(
                        source,
                        epos,
                        format!("node '{name}' config: missing '=' in env_vars option value: {kv}"),
                    ));
                };
                if k.trim().is_empty() {
                    return Err(perr(source, epos, format!("node '{name}' config: env_vars option value must contain at least one environment variable name: {kv}")));
                }
                zk.env_vars
                    .insert(k.trim().to_string(), v.trim().to_string());
            }
        }
        zk.aux_scripts = get("aux_scripts")?.map(|v| v.0).filter(|v| !v.is_empty());
        let zone_id = get("zone_id")?.map(|v| v.0).unwrap_or_default();
        let interface = get("interface")?.map(|v| v.0).filter(|v| !v.is_empty());
        let lb_procs = get("lb_procs")?.filter(|v| !v.0.is_empty());
        let lb_method = get("lb_method")?.filter(|v| !v.0.is_empty());
        let mut numprocs: u32 = 0;
        if let Some((lp, lpos)) = &lb_procs {
            if ntype != "worker" {
                return Err(perr(source, *lpos, format!("node '{name}' config: load balancing node config options are only for worker nodes")));
            }
            numprocs = match lp.trim().parse::<i64>() {
                Ok(n) if n >= 1 && n <= u32::MAX as i64 => n as u32,
                Ok(_) => return Err(perr(source, *lpos, format!("number of load-balanced processes must be greater than zero for node '{name}'"))),
                Err(_) => return Err(perr(source, *lpos, format!("number of load-balanced processes must be an integer for node '{name}'"))),
            };
        } else if let Some((_, mpos)) = &lb_method {
            return Err(perr(source, *mpos, format!("number of load-balanced processes not specified for node '{name}' (expected lb_procs=N with lb_method)")));
        }
        let mut pin: Vec<u32> = Vec::new();
        if let Some((pc, ppos)) = get("pin_cpus")?.filter(|v| !v.0.is_empty()) {
            for x in pc.split(',') {
                match x.trim().parse::<u32>() {
                    Ok(n) => pin.push(n),
                    Err(_) => return Err(perr(source, ppos, format!("pin cpus list must contain only non-negative integers for node '{name}'"))),
                }
            }
            let len = pin.len();
            if (numprocs as usize) > len {
                pin = (0..numprocs as usize).map(|i| pin[i % len]).collect();
            }
        }
        let mut netifs: Vec<String> = Vec::new();
        if lb_procs.is_some() {
            let Some((method, mpos)) = &lb_method else {
                return Err(perr(source, at, format!("no load balancing method given for node '{name}' (expected lb_method=af_packet, pf_ring, myricom, custom or interfaces)")));
            };
            if !["af_packet", "pf_ring", "myricom", "custom", "interfaces"]
                .contains(&method.as_str())
            {
                return Err(perr(source, *mpos, format!("unknown load balancing method '{method}' given for node '{name}' (expected af_packet, pf_ring, myricom, custom or interfaces)")));
            }
            zk.lb_method = Some(method.clone());
            zk.lb_procs = Some(numprocs);
            if method == "interfaces" {
                let Some((li, lipos)) = get("lb_interfaces")?.filter(|v| !v.0.is_empty()) else {
                    return Err(perr(
                        source,
                        at,
                        format!("list of load-balanced interfaces not specified for node '{name}'"),
                    ));
                };
                netifs = li.split(',').map(|s| s.trim().to_string()).collect();
                if netifs.len() != numprocs as usize {
                    return Err(perr(source, lipos, format!("number of load-balanced interfaces is not same as number of load-balanced processes for node '{name}'")));
                }
            }
        }
        let count = counts.entry(ntype.clone()).or_insert(0);
        let base = Cfg {
            name: name.clone(),
            pos: at,
            ntype: ntype.clone(),
            addr,
            zone_id,
            zk,
            interface,
            count: 0,
        };
        if numprocs == 0 {
            *count += 1;
            let mut c = base;
            c.count = *count;
            c.zk.pin_cpu = pin.first().copied();
            add(c, &mut names_lower, &mut nodes)?;
        } else {
            for k in 1..=numprocs {
                *count += 1;
                let mut c = Cfg {
                    name: format!("{name}-{k}"),
                    zk: base.zk.clone(),
                    zone_id: base.zone_id.clone(),
                    interface: base.interface.clone(),
                    ntype: ntype.clone(),
                    ..base
                };
                c.count = *count;
                c.zk.pin_cpu = pin.get(k as usize - 1).copied();
                if !netifs.is_empty() {
                    c.interface = netifs.pop();
                }
                add(c, &mut names_lower, &mut nodes)?;
            }
        }
    }

    let standalone: Vec<&Cfg> = nodes.iter().filter(|n| n.ntype == "standalone").collect();
    if !standalone.is_empty() {
        if nodes.len() > 1 {
            return Err(perr(
                source,
                standalone[0].pos,
                "more than one node defined in standalone node config",
            ));
        }
        return Ok(Layout::empty(Format::NodeCfg, source));
    }
    let managers: Vec<&Cfg> = nodes.iter().filter(|n| n.ntype == "manager").collect();
    let Some(manager) = managers.first() else {
        return Err(perr(
            source,
            Pos { line: 1, col: 1 },
            "no manager defined in node config (expected a node with type=manager)",
        ));
    };
    if managers.len() > 1 {
        return Err(perr(
            source,
            managers[1].pos,
            "only one manager can be defined in node config",
        ));
    }
    if !nodes.iter().any(|n| n.ntype == "proxy") {
        return Err(perr(
            source,
            Pos { line: 1, col: 1 },
            "no proxy defined in node config (expected at least one node with type=proxy)",
        ));
    }
    if manager.addr.is_loopback() {
        if let Some(bad) = nodes
            .iter()
            .find(|n| n.ntype != "manager" && !n.addr.is_loopback())
        {
            return Err(perr(
                source,
                bad.pos,
                format!(
                    "node '{}': all nodes must use localhost/127.0.0.1/::1 when manager uses it",
                    bad.name
                ),
            ));
        }
    }

    let by_type = |t: &str| {
        let mut v: Vec<&Cfg> = nodes.iter().filter(|n| n.ntype == t).collect();
        v.sort_by_key(|n| n.count);
        v
    };
    let mut port = opts.zeek_port as u32 + if opts.zeromq { 2 } else { 0 };
    let mut metrics = opts.metrics_port as u32;
    let mut layout = Layout::empty(Format::NodeCfg, source);
    let loggers = by_type("logger");
    layout.set_option(
        "Cluster::manager_is_logger".to_string(),
        OptionValue::Bool(loggers.is_empty()),
    );
    let mut next_port = |at: Pos| -> Result<Port> {
        let p = port;
        port += 1;
        u16::try_from(p).map(Port::tcp).map_err(|_| {
            perr(
                source,
                at,
                format!(
                    "port {p} is out of range: too many nodes for ZeekPort {}",
                    opts.zeek_port
                ),
            )
        })
    };
    let mut next_metrics = |at: Pos| -> Result<Option<Port>> {
        if opts.metrics_port == 0 {
            return Ok(None);
        }
        let p = metrics;
        metrics += 1;
        u16::try_from(p)
            .map(|n| Some(Port::tcp(n)))
            .map_err(|_| perr(source, at, format!("metrics port {p} is out of range")))
    };
    let mut control = Node::new(NodeType::Control, manager.addr);
    control.p = next_port(manager.pos)?;
    layout.nodes.insert("control".to_string(), control);
    let mk = |c: &Cfg, t: NodeType| {
        let mut n = Node::new(t, c.addr);
        n.zone_id = c.zone_id.clone();
        n.interface = c.interface.clone();
        n.zeekctl = Some(c.zk.clone());
        n
    };
    let mut order: Vec<(&Cfg, NodeType)> = vec![(manager, NodeType::Manager)];
    order.extend(loggers.iter().map(|c| (*c, NodeType::Logger)));
    order.extend(by_type("proxy").into_iter().map(|c| (c, NodeType::Proxy)));
    order.extend(by_type("worker").into_iter().map(|c| (c, NodeType::Worker)));
    for (c, t) in order {
        if layout.nodes.contains_key(&c.name) {
            return Err(perr(
                source,
                c.pos,
                format!(
                    "node name \"{}\" clashes with the \"control\" entry zeekctl adds",
                    c.name
                ),
            ));
        }
        let mut n = mk(c, t);
        n.p = next_port(c.pos)?;
        if matches!(t, NodeType::Proxy | NodeType::Worker) {
            n.manager = Some(manager.name.clone());
        }
        n.metrics_port = next_metrics(c.pos)?;
        layout.nodes.insert(c.name.clone(), n);
    }
    Ok(layout)
}
