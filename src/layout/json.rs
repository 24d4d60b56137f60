//! The layout's JSON form. A small private JSON reader/writer that keeps line:column of
//! every value for error messages (the crate-wide `json` module was not available when
//! this was written; the lead may switch this over to it).

use super::{
    check_references, perr, Format, Layout, Node, NodeType, Pos, RefPositions, ZeekctlNode,
};
use crate::error::Result;
use crate::options::{OptionValue, Port};
use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

#[derive(Debug, Clone)]
enum J {
    Null,
    Bool(bool),
    Num(String),
    Str(String),
    Arr(Vec<(Pos, J)>),
    Obj(Vec<(Pos, String, Pos, J)>),
}

impl J {
    fn kind(&self) -> &'static str {
        match self {
            J::Null => "null",
            J::Bool(_) => "a boolean",
            J::Num(_) => "a number",
            J::Str(_) => "a string",
            J::Arr(_) => "an array",
            J::Obj(_) => "an object",
        }
    }
}

struct Reader<'a> {
    c: super::zeek::Cursor<'a>,
    source: &'a str,
}

impl<'a> Reader<'a> {
    fn ws(&mut self) {
        while matches!(self.c.peek(), Some(' ' | '\t' | '\n' | '\r')) {
            self.c.bump();
        }
    }

    fn fail<T>(&self, what: &str) -> Result<T> {
        let found = match self.c.peek() {
            None => "end of input".to_string(),
            Some(ch) => format!("`{ch}`"),
        };
        Err(perr(
            self.source,
            self.c.pos(),
            format!("expected {what}, found {found}"),
        ))
    }

    fn value(&mut self, depth: usize) -> Result<(Pos, J)> {
        self.ws();
        let pos = self.c.pos();
        if depth > 64 {
            return Err(perr(self.source, pos, "JSON nested too deeply"));
        }
        let v = match self.c.peek() {
            Some('{') => {
                self.c.bump();
                let mut items = Vec::new();
                self.ws();
                if self.c.peek() == Some('}') {
                    self.c.bump();
                } else {
                    loop {
                        self.ws();
                        let kpos = self.c.pos();
                        if self.c.peek() != Some('"') {
                            return self.fail("a string key");
                        }
                        let k = self.string()?;
                        self.ws();
                        if self.c.peek() != Some(':') {
                            return self.fail("`:`");
                        }
                        self.c.bump();
                        let (vpos, v) = self.value(depth + 1)?;
                        items.push((kpos, k, vpos, v));
                        self.ws();
                        match self.c.peek() {
                            Some(',') => {
                                self.c.bump();
                            }
                            Some('}') => {
                                self.c.bump();
                                break;
                            }
                            _ => return self.fail("`,` or `}`"),
                        }
                    }
                }
                J::Obj(items)
            }
            Some('[') => {
                self.c.bump();
                let mut items = Vec::new();
                self.ws();
                if self.c.peek() == Some(']') {
                    self.c.bump();
                } else {
                    loop {
                        items.push(self.value(depth + 1)?);
                        self.ws();
                        match self.c.peek() {
                            Some(',') => {
                                self.c.bump();
                            }
                            Some(']') => {
                                self.c.bump();
                                break;
                            }
                            _ => return self.fail("`,` or `]`"),
                        }
                    }
                }
                J::Arr(items)
            }
            Some('"') => J::Str(self.string()?),
            Some('t') | Some('f') | Some('n') => {
                let mut w = String::new();
                while let Some(ch) = self.c.peek().filter(|c| c.is_ascii_alphabetic()) {
                    w.push(ch);
                    self.c.bump();
                }
                match w.as_str() {
                    "true" => J::Bool(true),
                    "false" => J::Bool(false),
                    "null" => J::Null,
                    _ => {
                        return Err(perr(
                            self.source,
                            pos,
                            format!("expected a JSON value, found `{w}`"),
                        ))
                    }
                }
            }
            Some(ch) if ch == '-' || ch.is_ascii_digit() => {
                let mut n = String::new();
                while let Some(ch) = self
                    .c
                    .peek()
                    .filter(|c| c.is_ascii_digit() || "+-.eE".contains(*c))
                {
                    n.push(ch);
                    self.c.bump();
                }
                if n.parse::<f64>().is_err() {
                    return Err(perr(self.source, pos, format!("bad JSON number {n}")));
                }
                J::Num(n)
            }
            _ => return self.fail("a JSON value"),
        };
        Ok((pos, v))
    }

    fn string(&mut self) -> Result<String> {
        let start = self.c.pos();
        self.c.bump();
        let mut s = String::new();
        loop {
            match self.c.bump() {
                None => return Err(perr(self.source, start, "unterminated JSON string")),
                Some('"') => return Ok(s),
                Some('\\') => {
                    let epos = self.c.pos();
                    match self.c.bump() {
                        Some('"') => s.push('"'),
                        Some('\\') => s.push('\\'),
                        Some('/') => s.push('/'),
                        Some('b') => s.push('\u{8}'),
                        Some('f') => s.push('\u{c}'),
                        Some('n') => s.push('\n'),
                        Some('r') => s.push('\r'),
                        Some('t') => s.push('\t'),
                        Some('u') => {
                            let hex = |r: &mut Self| -> Result<u32> {
                                let mut v = 0;
                                for _ in 0..4 {
                                    match r.c.bump().and_then(|c| c.to_digit(16)) {
                                        Some(d) => v = v * 16 + d,
                                        None => {
                                            return Err(perr(
                                                r.source,
                                                epos,
                                                "expected 4 hex digits after \\u",
                                            ))
                                        }
                                    }
                                }
                                Ok(v)
                            };
                            let hi = hex(self)?;
                            let cp = if (0xD800..0xDC00).contains(&hi) {
                                if self.c.bump() != Some('\\') || self.c.bump() != Some('u') {
                                    return Err(perr(
                                        self.source,
                                        epos,
                                        "expected a low surrogate \\uDC00-\\uDFFF",
                                    ));
                                }
                                let lo = hex(self)?;
                                if !(0xDC00..0xE000).contains(&lo) {
                                    return Err(perr(
                                        self.source,
                                        epos,
                                        "expected a low surrogate \\uDC00-\\uDFFF",
                                    ));
                                }
                                0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)
                            } else {
                                hi
                            };
                            match char::from_u32(cp) {
                                Some(ch) => s.push(ch),
                                None => {
                                    return Err(perr(
                                        self.source,
                                        epos,
                                        "bad \\u escape (a lone surrogate)",
                                    ))
                                }
                            }
                        }
                        _ => return Err(perr(self.source, epos, "bad escape in JSON string")),
                    }
                }
                Some(ch) if (ch as u32) < 0x20 => {
                    return Err(perr(
                        self.source,
                        start,
                        "control character in JSON string (expected an escape)",
                    ))
                }
                Some(ch) => s.push(ch),
            }
        }
    }
}

fn jstr(s: &str) -> String {
    let mut out = String::from("\"");
    for ch in s.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

pub(crate) fn write_layout(l: &Layout) -> String {
    let mut out = String::from("{\n  \"nodes\": {");
    for (i, (name, n)) in l.nodes.iter().enumerate() {
        out.push_str(if i == 0 { "\n" } else { ",\n" });
        let mut f: Vec<(String, String)> = vec![
            ("node_type".into(), jstr(n.node_type.name())),
            ("ip".into(), jstr(&n.ip.to_string())),
            ("zone_id".into(), jstr(&n.zone_id)),
            ("p".into(), jstr(&n.p.to_string())),
        ];
        let opt = |f: &mut Vec<(String, String)>, k: &str, v: &Option<String>| {
            if let Some(v) = v {
                f.push((k.to_string(), jstr(v)));
            }
        };
        opt(&mut f, "interface", &n.interface);
        opt(&mut f, "logger", &n.logger);
        opt(&mut f, "manager", &n.manager);
        opt(&mut f, "proxy", &n.proxy);
        if let Some(ws) = &n.workers {
            f.push((
                "workers".into(),
                format!(
                    "[{}]",
                    ws.iter().map(|w| jstr(w)).collect::<Vec<_>>().join(", ")
                ),
            ));
        }
        opt(&mut f, "time_machine", &n.time_machine);
        opt(&mut f, "id", &n.id);
        opt(&mut f, "lb_filter", &n.lb_filter);
        if let Some(m) = &n.metrics_port {
            f.push(("metrics_port".into(), jstr(&m.to_string())));
        }
        opt(&mut f, "pcap_file", &n.pcap_file);
        if let Some(z) = &n.zeekctl {
            let mut zf = vec![format!("\"host\": {}", jstr(&z.host))];
            if let Some(m) = &z.lb_method {
                zf.push(format!("\"lb_method\": {}", jstr(m)));
            }
            if let Some(p) = z.lb_procs {
                zf.push(format!("\"lb_procs\": {p}"));
            }
            if let Some(p) = z.pin_cpu {
                zf.push(format!("\"pin_cpu\": {p}"));
            }
            if !z.env_vars.is_empty() {
                let ev: Vec<String> = z
                    .env_vars
                    .iter()
                    .map(|(k, v)| format!("{}: {}", jstr(k), jstr(v)))
                    .collect();
                zf.push(format!("\"env_vars\": {{{}}}", ev.join(", ")));
            }
            if let Some(a) = &z.aux_scripts {
                zf.push(format!("\"aux_scripts\": {}", jstr(a)));
            }
            f.push(("zeekctl".into(), format!("{{{}}}", zf.join(", "))));
        }
        let body: Vec<String> = f.iter().map(|(k, v)| format!("\"{k}\": {v}")).collect();
        out.push_str(&format!("    {}: {{{}}}", jstr(name), body.join(", ")));
    }
    out.push_str(if l.nodes.is_empty() {
        "},\n  \"options\": {"
    } else {
        "\n  },\n  \"options\": {"
    });
    for (i, (name, v)) in l.options.iter().enumerate() {
        out.push_str(if i == 0 { "\n" } else { ",\n" });
        let text = match v {
            OptionValue::Bool(b) => b.to_string(),
            OptionValue::Count(c) => c.to_string(),
            OptionValue::String(s) => jstr(s),
            other => jstr(&other.to_string()),
        };
        out.push_str(&format!("    {}: {}", jstr(name), text));
    }
    out.push_str(if l.options.is_empty() {
        "}\n}\n"
    } else {
        "\n  }\n}\n"
    });
    out
}

fn want_str(source: &str, key: &str, pos: Pos, v: &J) -> Result<String> {
    match v {
        J::Str(s) => Ok(s.clone()),
        other => Err(perr(
            source,
            pos,
            format!("\"{key}\": expected a string, found {}", other.kind()),
        )),
    }
}

fn want_port(source: &str, key: &str, pos: Pos, v: &J) -> Result<Port> {
    let s = want_str(source, key, pos, v)?;
    Port::parse(&s).map_err(|m| perr(source, pos, format!("\"{key}\": {m}")))
}

fn want_u32(source: &str, key: &str, pos: Pos, v: &J) -> Result<u32> {
    match v {
        J::Num(n) => n.parse::<u32>().map_err(|_| {
            perr(
                source,
                pos,
                format!("\"{key}\": expected a non-negative integer, found {n}"),
            )
        }),
        other => Err(perr(
            source,
            pos,
            format!("\"{key}\": expected a number, found {}", other.kind()),
        )),
    }
}

pub(crate) fn parse_layout(text: &str, source: &str) -> Result<Layout> {
    let mut r = Reader {
        c: super::zeek::Cursor::new(text, source),
        source,
    };
    let (top_pos, top) = r.value(0)?;
    r.ws();
    if r.c.peek().is_some() {
        return r.fail("end of input after the JSON value");
    }
    let J::Obj(items) = top else {
        return Err(perr(
            source,
            top_pos,
            format!(
                "expected a JSON object with \"nodes\" and \"options\", found {}",
                top.kind()
            ),
        ));
    };
    let mut layout = Layout::empty(Format::Json, source);
    let mut refs: BTreeMap<String, RefPositions> = BTreeMap::new();
    let mut have_nodes = false;
    for (i, (kpos, key, _, _)) in items.iter().enumerate() {
        if items[..i].iter().any(|(_, k, _, _)| k == key) {
            return Err(perr(source, *kpos, format!("duplicate key \"{key}\"")));
        }
    }
    for (kpos, key, vpos, v) in &items {
        match key.as_str() {
            "nodes" => {
                have_nodes = true;
                let J::Obj(nodes) = v else {
                    return Err(perr(
                        source,
                        *vpos,
                        format!(
                            "\"nodes\": expected an object of node name -> node, found {}",
                            v.kind()
                        ),
                    ));
                };
                for (npos, name, rpos, rec) in nodes {
                    if layout.nodes.contains_key(name) {
                        return Err(perr(
                            source,
                            *npos,
                            format!("duplicate node name \"{name}\""),
                        ));
                    }
                    if name.is_empty() {
                        return Err(perr(source, *npos, "empty node name"));
                    }
                    let (node, rp) = parse_node(source, name, *rpos, rec)?;
                    layout.nodes.insert(name.clone(), node);
                    refs.insert(name.clone(), rp);
                }
            }
            "options" => {
                let J::Obj(opts) = v else {
                    return Err(perr(
                        source,
                        *vpos,
                        format!(
                            "\"options\": expected an object of option name -> value, found {}",
                            v.kind()
                        ),
                    ));
                };
                for (i, (okpos, name, opos, ov)) in opts.iter().enumerate() {
                    if opts[..i].iter().any(|(_, k, _, _)| k == name) {
                        return Err(perr(source, *okpos, format!("duplicate option \"{name}\"")));
                    }
                    let value = option_value(source, name, *opos, ov)?;
                    layout.set_option(name.clone(), value);
                }
            }
            "format" | "source" => {}
            other => {
                return Err(perr(
                    source,
                    *kpos,
                    format!("unknown key \"{other}\" (expected \"nodes\" or \"options\")"),
                ))
            }
        }
    }
    if !have_nodes {
        return Err(perr(source, top_pos, "missing required key \"nodes\""));
    }
    check_references(&layout.nodes, &refs, source)?;
    Ok(layout)
}

fn option_value(source: &str, name: &str, pos: Pos, v: &J) -> Result<OptionValue> {
    if crate::options::is_known(name) {
        let text = match v {
            J::Bool(b) => {
                if *b {
                    "T".to_string()
                } else {
                    "F".to_string()
                }
            }
            J::Num(n) => n.clone(),
            J::Str(s) => s.clone(),
            other => {
                return Err(perr(
                    source,
                    pos,
                    format!(
                        "option {name}: expected a boolean, number or string, found {}",
                        other.kind()
                    ),
                ))
            }
        };
        return crate::options::parse_text(name, &text).map_err(|m| perr(source, pos, m));
    }
    Ok(match v {
        J::Bool(b) => OptionValue::Bool(*b),
        J::Num(n) => match n.parse::<u64>() {
            Ok(c) => OptionValue::Count(c),
            Err(_) => match n.parse::<f64>() {
                Ok(d) => OptionValue::Double(d),
                Err(_) => return Err(perr(source, pos, format!("bad number {n}"))),
            },
        },
        // Outside the Cluster namespace: a Zeek literal if the whole text is one.
        J::Str(s) => {
            let mut c = super::zeek::Cursor::new(s, source);
            match c.value() {
                Ok((_, lit))
                    if c.at_end() && !matches!(&lit, OptionValue::Enum(e) if !e.contains("::")) =>
                {
                    lit
                }
                _ => OptionValue::String(s.clone()),
            }
        }
        other => {
            return Err(perr(
                source,
                pos,
                format!(
                    "option {name}: expected a boolean, number or string, found {}",
                    other.kind()
                ),
            ))
        }
    })
}

fn parse_node(source: &str, name: &str, rpos: Pos, rec: &J) -> Result<(Node, RefPositions)> {
    let J::Obj(fields) = rec else {
        return Err(perr(
            source,
            rpos,
            format!(
                "node \"{name}\": expected an object of fields, found {}",
                rec.kind()
            ),
        ));
    };
    let mut node = Node::new(NodeType::None, IpAddr::from([0, 0, 0, 0]));
    let mut node_type = None;
    let mut ip = None;
    let mut refs = RefPositions::default();
    let mut seen = BTreeSet::new();
    for (kpos, key, vpos, v) in fields {
        if !seen.insert(key.clone()) {
            return Err(perr(
                source,
                *kpos,
                format!("node \"{name}\": field \"{key}\" given twice"),
            ));
        }
        let vpos = *vpos;
        match key.as_str() {
            "node_type" => {
                let s = want_str(source, key, vpos, v)?;
                node_type = Some(NodeType::from_name(&s).ok_or_else(|| {
                    perr(source, vpos, format!("unknown node type \"{s}\" (expected one of NONE, CONTROL, MANAGER, LOGGER, PROXY, WORKER, TIME_MACHINE)"))
                })?);
            }
            "ip" => {
                let s = want_str(source, key, vpos, v)?;
                let bare = s.trim_start_matches('[').trim_end_matches(']');
                ip = Some(bare.parse::<IpAddr>().map_err(|_| perr(source, vpos, format!("bad address \"{s}\" (expected an IPv4 or IPv6 address)")))?);
            }
            "zone_id" => node.zone_id = want_str(source, key, vpos, v)?,
            "p" => node.p = want_port(source, key, vpos, v)?,
            "metrics_port" => node.metrics_port = Some(want_port(source, key, vpos, v)?),
            "interface" => node.interface = Some(want_str(source, key, vpos, v)?),
            "logger" => {
                node.logger = Some(want_str(source, key, vpos, v)?);
                refs.logger = Some(vpos);
            }
            "manager" => {
                node.manager = Some(want_str(source, key, vpos, v)?);
                refs.manager = Some(vpos);
            }
            "proxy" => {
                node.proxy = Some(want_str(source, key, vpos, v)?);
                refs.proxy = Some(vpos);
            }
            "time_machine" => {
                node.time_machine = Some(want_str(source, key, vpos, v)?);
                refs.time_machine = Some(vpos);
            }
            "id" => node.id = Some(want_str(source, key, vpos, v)?),
            "lb_filter" => node.lb_filter = Some(want_str(source, key, vpos, v)?),
            "pcap_file" => node.pcap_file = Some(want_str(source, key, vpos, v)?),
            "workers" => {
                let J::Arr(items) = v else {
                    return Err(perr(source, vpos, format!("\"workers\": expected an array of node names, found {}", v.kind())));
                };
                let mut set = BTreeSet::new();
                for (ipos, item) in items {
                    set.insert(want_str(source, "workers", *ipos, item)?);
                }
                node.workers = Some(set);
                refs.workers = Some(vpos);
            }
            "zeekctl" => {
                let J::Obj(zf) = v else {
                    return Err(perr(source, vpos, format!("\"zeekctl\": expected an object, found {}", v.kind())));
                };
                let mut z = ZeekctlNode::default();
                for (zk, zkey, zpos, zv) in zf {
                    match zkey.as_str() {
                        "host" => z.host = want_str(source, zkey, *zpos, zv)?,
                        "lb_method" => z.lb_method = Some(want_str(source, zkey, *zpos, zv)?),
                        "lb_procs" => z.lb_procs = Some(want_u32(source, zkey, *zpos, zv)?),
                        "pin_cpu" => z.pin_cpu = Some(want_u32(source, zkey, *zpos, zv)?),
                        "aux_scripts" => z.aux_scripts = Some(want_str(source, zkey, *zpos, zv)?),
                        "env_vars" => {
                            let J::Obj(ev) = zv else {
                                return Err(perr(source, *zpos, "\"env_vars\": expected an object"));
                            };
                            for (_, k, epos, ev) in ev {
                                z.env_vars.insert(k.clone(), want_str(source, k, *epos, ev)?);
                            }
                        }
                        other => {
                            return Err(perr(source, *zk, format!("unknown zeekctl key \"{other}\" (expected host, lb_method, lb_procs, pin_cpu, env_vars, aux_scripts)")))
                        }
                    }
                }
                node.zeekctl = Some(z);
            }
            other => {
                return Err(perr(
                    source,
                    *kpos,
                    format!("unknown field \"{other}\" in node \"{name}\" (expected one of node_type, ip, zone_id, p, interface, logger, manager, proxy, workers, time_machine, id, lb_filter, metrics_port, pcap_file, zeekctl)"),
                ))
            }
        }
    }
    node.node_type = node_type.ok_or_else(|| {
        perr(
            source,
            rpos,
            format!("node \"{name}\": missing required field \"node_type\""),
        )
    })?;
    node.ip = ip.ok_or_else(|| {
        perr(
            source,
            rpos,
            format!("node \"{name}\": missing required field \"ip\""),
        )
    })?;
    Ok((node, refs))
}
