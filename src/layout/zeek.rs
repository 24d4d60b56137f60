//! `cluster-layout.zeek` and the legacy `cluster-layout.bro`: the subset of Zeek script that
//! ZeekControl (and BroControl) write. Statements: `redef <id> (=|+=) <value>;` and
//! `event <name>(...) { ... }` handlers, which are skipped (zeekctl appends one that starts
//! the WebSocket server). Directives (`@load`, `@if`) are rejected with a clear error.

use super::{check_references, perr, Format, Layout, Node, NodeType, Pos, RefPositions};
use crate::error::{Error, Result};
use crate::options::{OptionValue, Port};
use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

pub(crate) struct Cursor<'a> {
    chars: Vec<char>,
    i: usize,
    line: usize,
    col: usize,
    source: &'a str,
}

impl<'a> Cursor<'a> {
    pub(crate) fn new(text: &str, source: &'a str) -> Self {
        Cursor {
            chars: text.chars().collect(),
            i: 0,
            line: 1,
            col: 1,
            source,
        }
    }

    /// True when only white space and comments are left.
    pub(crate) fn at_end(&mut self) -> bool {
        self.skip_ws();
        self.peek().is_none()
    }

    pub(crate) fn pos(&self) -> Pos {
        Pos {
            line: self.line,
            col: self.col,
        }
    }

    pub(crate) fn peek(&self) -> Option<char> {
        self.chars.get(self.i).copied()
    }

    fn peek_at(&self, k: usize) -> Option<char> {
        self.chars.get(self.i + k).copied()
    }

    pub(crate) fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.i += 1;
        if c == '\n' {
            self.line += 1;
            self.col = 1;
        } else {
            self.col += 1;
        }
        Some(c)
    }

    pub(crate) fn err(&self, pos: Pos, msg: impl std::fmt::Display) -> Error {
        perr(self.source, pos, msg)
    }

    /// What is at the cursor, for "expected X, found Y" messages.
    fn found(&self) -> String {
        match self.peek() {
            None => "end of input".to_string(),
            Some(c) if c.is_alphanumeric() || c == '_' => {
                let w: String = self.chars[self.i..]
                    .iter()
                    .take_while(|c| c.is_alphanumeric() || **c == '_' || **c == ':')
                    .collect();
                format!("`{w}`")
            }
            Some(c) => format!("`{c}`"),
        }
    }

    fn expected(&self, what: &str) -> Error {
        self.err(
            self.pos(),
            format!("expected {what}, found {}", self.found()),
        )
    }

    /// Skips white space and `#` comments.
    fn skip_ws(&mut self) {
        while let Some(c) = self.peek() {
            if c.is_whitespace() {
                self.bump();
            } else if c == '#' {
                while let Some(c) = self.peek() {
                    if c == '\n' {
                        break;
                    }
                    self.bump();
                }
            } else {
                break;
            }
        }
    }

    fn eat(&mut self, s: &str) -> bool {
        self.skip_ws();
        let n = s.chars().count();
        if self.chars.len() >= self.i + n
            && self.chars[self.i..self.i + n].iter().copied().eq(s.chars())
        {
            for _ in 0..n {
                self.bump();
            }
            true
        } else {
            false
        }
    }

    fn expect(&mut self, s: &str, what: &str) -> Result<()> {
        if self.eat(s) {
            Ok(())
        } else {
            Err(self.expected(what))
        }
    }

    /// An identifier, possibly namespaced (`Cluster::nodes`).
    fn ident(&mut self) -> Option<String> {
        self.skip_ws();
        let start = self.i;
        let ok_start = |c: char| c.is_ascii_alphabetic() || c == '_';
        if !self.peek().map(ok_start).unwrap_or(false) {
            return None;
        }
        loop {
            while self
                .peek()
                .map(|c| c.is_ascii_alphanumeric() || c == '_')
                .unwrap_or(false)
            {
                self.bump();
            }
            if self.peek() == Some(':')
                && self.peek_at(1) == Some(':')
                && self.peek_at(2).map(ok_start).unwrap_or(false)
            {
                self.bump();
                self.bump();
                continue;
            }
            break;
        }
        Some(self.chars[start..self.i].iter().collect())
    }

    /// A string literal with Zeek's escapes (`options::unescape_string`, the grammar option
    /// text shares); the cursor is at the opening quote.
    fn string(&mut self) -> Result<String> {
        let start = self.pos();
        self.bump();
        let body_start = self.pos();
        let mut body = String::new();
        loop {
            let Some(c) = self.bump() else {
                return Err(self.err(
                    start,
                    "unterminated string literal (expected a closing `\"`)",
                ));
            };
            match c {
                '"' => break,
                '\n' => return Err(self.err(start, "unterminated string literal (expected a closing `\"` before the end of the line)")),
                '\\' => {
                    body.push('\\');
                    let Some(e) = self.bump() else {
                        return Err(self.err(start, "unterminated string literal"));
                    };
                    body.push(e);
                }
                c => body.push(c),
            }
        }
        crate::options::unescape_string(&body).map_err(|(at, msg)| {
            let mut pos = body_start;
            for c in body.chars().take(at) {
                if c == '\n' {
                    pos.line += 1;
                    pos.col = 1;
                } else {
                    pos.col += 1;
                }
            }
            if msg.contains("UTF-8") {
                pos = start;
            }
            self.err(pos, msg)
        })
    }

    /// A constant value (what may follow `=` in a layout).
    pub(crate) fn value(&mut self) -> Result<(Pos, OptionValue)> {
        self.skip_ws();
        let pos = self.pos();
        let Some(c) = self.peek() else {
            return Err(self.expected("a value"));
        };
        let v = match c {
            '"' => OptionValue::String(self.string()?),
            '[' => {
                self.bump();
                let text: String =
                    self.take_while(|c| c.is_ascii_hexdigit() || c == ':' || c == '.');
                if self.peek() != Some(']') {
                    return Err(self.err(pos, format!("bad IPv6 address: expected `[` hex digits and colons `]`, found `[{text}` followed by {}", self.found())));
                }
                self.bump();
                match text.parse::<Ipv6Addr>() {
                    Ok(a) => OptionValue::Addr(IpAddr::V6(a)),
                    Err(_) => {
                        return Err(
                            self.err(pos, format!("bad address [{text}] (not an IPv6 address)"))
                        )
                    }
                }
            }
            '/' => {
                self.bump();
                let mut p = String::new();
                loop {
                    match self.bump() {
                        None | Some('\n') => {
                            return Err(
                                self.err(pos, "unterminated pattern (expected a closing `/`)")
                            )
                        }
                        Some('\\') => {
                            p.push('\\');
                            if let Some(n) = self.bump() {
                                p.push(n);
                            }
                        }
                        Some('/') => break,
                        Some(c) => p.push(c),
                    }
                }
                OptionValue::Pattern(p)
            }
            c if c.is_ascii_digit() || c == '-' || c == '+' || c == '.' => self.numeric(pos)?,
            c if c.is_ascii_alphabetic() || c == '_' => {
                let id = self.ident().unwrap_or_default();
                match id.as_str() {
                    "T" => OptionValue::Bool(true),
                    "F" => OptionValue::Bool(false),
                    "set" if self.eat("(") => {
                        let mut items = Vec::new();
                        if !self.eat(")") {
                            loop {
                                items.push(self.value()?.1);
                                if self.eat(")") {
                                    break;
                                }
                                self.expect(",", "`,` or `)` in set(...)")?;
                                if self.eat(")") {
                                    break;
                                }
                            }
                        }
                        OptionValue::Set(items)
                    }
                    _ => {
                        if self.peek() == Some('.') {
                            return Err(self.err(pos, "expected a constant value: host names are not supported (write an IP address)"));
                        }
                        OptionValue::Enum(id)
                    }
                }
            }
            _ => return Err(self.expected("a value")),
        };
        Ok((pos, v))
    }

    fn take_while(&mut self, f: impl Fn(char) -> bool) -> String {
        let mut s = String::new();
        while let Some(c) = self.peek() {
            if !f(c) {
                break;
            }
            s.push(c);
            self.bump();
        }
        s
    }

    /// Counts, doubles, intervals, ports and IPv4 addresses (they all start with digits).
    fn numeric(&mut self, pos: Pos) -> Result<OptionValue> {
        let mut text = String::new();
        if let Some(c @ ('-' | '+')) = self.peek() {
            text.push(c);
            self.bump();
        }
        if self.peek() == Some('0') && matches!(self.peek_at(1), Some('x' | 'X')) {
            self.bump();
            self.bump();
            let hex = self.take_while(|c| c.is_ascii_hexdigit());
            return u64::from_str_radix(&hex, 16)
                .map(OptionValue::Count)
                .map_err(|_| self.err(pos, format!("bad hex count 0x{hex}")));
        }
        text.push_str(&self.take_while(|c| c.is_ascii_digit() || c == '.'));
        if matches!(self.peek(), Some('e' | 'E'))
            && self
                .peek_at(1)
                .map(|c| c.is_ascii_digit() || c == '-' || c == '+')
                .unwrap_or(false)
        {
            text.push(self.bump().unwrap_or('e'));
            text.push(self.bump().unwrap_or('0'));
            text.push_str(&self.take_while(|c| c.is_ascii_digit()));
        }
        let dots = text.matches('.').count();
        if self.peek() == Some('/')
            && self
                .peek_at(1)
                .map(|c| c.is_ascii_alphabetic())
                .unwrap_or(false)
        {
            self.bump();
            let proto = self.take_while(|c| c.is_ascii_alphanumeric());
            let full = format!("{text}/{proto}");
            return Port::parse(&full)
                .map(OptionValue::Port)
                .map_err(|m| self.err(pos, m));
        }
        if dots == 3 && !text.starts_with(['-', '+']) {
            if self
                .peek()
                .map(|c| c.is_ascii_alphanumeric())
                .unwrap_or(false)
            {
                let rest = self.take_while(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-');
                return Err(self.err(
                    pos,
                    format!("bad address {text}{rest} (not an IPv4 address)"),
                ));
            }
            return text
                .parse::<Ipv4Addr>()
                .map(|a| OptionValue::Addr(IpAddr::V4(a)))
                .map_err(|_| self.err(pos, format!("bad address {text} (not an IPv4 address)")));
        }
        if dots > 1 {
            return Err(self.err(pos, format!("bad number or address {text}")));
        }
        // An interval: number, optional blanks, unit.
        let save = (self.i, self.line, self.col);
        let blanks = self.take_while(|c| c == ' ' || c == '\t');
        if self
            .peek()
            .map(|c| c.is_ascii_alphabetic())
            .unwrap_or(false)
        {
            let word = self.take_while(|c| c.is_ascii_alphabetic());
            if let (Some(unit), Ok(n)) = (
                crate::options::zeek_interval_unit(&word),
                text.parse::<f64>(),
            ) {
                return Ok(OptionValue::Interval(n * unit));
            }
            if blanks.is_empty() {
                return Err(self.err(
                    pos,
                    format!(
                        "bad interval unit `{word}` (expected usec, msec, sec, min, hr or day)"
                    ),
                ));
            }
        }
        (self.i, self.line, self.col) = save;
        let bad = || self.err(pos, format!("bad number {text}"));
        if dots == 0 && !text.contains(['e', 'E']) {
            if let Some(neg) = text.strip_prefix('-') {
                return neg
                    .parse::<i64>()
                    .map(|v| OptionValue::Int(-v))
                    .map_err(|_| bad());
            }
            if let Some(p) = text.strip_prefix('+') {
                return p.parse::<i64>().map(OptionValue::Int).map_err(|_| bad());
            }
            return text
                .parse::<u64>()
                .map(OptionValue::Count)
                .map_err(|_| bad());
        }
        text.parse::<f64>()
            .map(OptionValue::Double)
            .map_err(|_| bad())
    }

    /// Skips `event name(args) { ... }` (the cursor is after `event`), balancing braces and
    /// stepping over strings and comments.
    fn skip_handler(&mut self) -> Result<()> {
        let start = self.pos();
        if self.ident().is_none() {
            return Err(self.expected("an event name after `event`"));
        }
        self.expect("(", "`(` after the event name")?;
        let mut depth = 1;
        let mut braces_seen = false;
        loop {
            self.skip_ws();
            let Some(c) = self.peek() else {
                return Err(self.err(start, "unterminated event handler (expected a closing `}`)"));
            };
            match c {
                '"' => {
                    self.string()?;
                    continue;
                }
                '(' | '{' => depth += 1,
                ')' | '}' => depth -= 1,
                _ => {}
            }
            if c == '{' {
                braces_seen = true;
            }
            self.bump();
            if depth == 0 {
                if braces_seen {
                    return Ok(());
                }
                // The parameter list closed; attributes such as `&priority=5` may come
                // before the body.
                loop {
                    self.skip_ws();
                    match self.peek() {
                        Some('{') => break,
                        Some('&') => {
                            self.bump();
                            if self.ident().is_none() {
                                return Err(self.expected("an attribute name after `&`"));
                            }
                            if self.eat("=") {
                                self.value()?;
                            }
                        }
                        _ => return Err(self.expected("`{` (the event handler's body)")),
                    }
                }
            }
        }
    }
}

const FIELDS: &str = "node_type, ip, zone_id, p, interface, logger, manager, proxy, workers, time_machine, id, lb_filter, metrics_port, pcap_file";

pub(crate) fn parse(text: &str, format: Format, source: &str) -> Result<Layout> {
    let mut cur = Cursor::new(text, source);
    let mut layout = Layout::empty(format, source);
    let mut refs: BTreeMap<String, RefPositions> = BTreeMap::new();
    let mut defined_at: BTreeMap<String, Pos> = BTreeMap::new();
    loop {
        cur.skip_ws();
        let Some(c) = cur.peek() else { break };
        let pos = cur.pos();
        if c == '@' {
            let d = {
                cur.bump();
                cur.ident().unwrap_or_default()
            };
            if d == "load" {
                // `@load policy/frameworks/cluster/backend/zeromq` (or .../broker) selects
                // the cluster backend; other scripts are not part of a layout.
                let path = cur.take_while(|c| c != '\n');
                if let Some(b) = super::zeekctl_config::backend_of_load(path.trim()) {
                    layout.set_option(
                        "Cluster::backend".to_string(),
                        OptionValue::Enum(b.to_string()),
                    );
                    continue;
                }
            }
            return Err(cur.err(
                pos,
                format!(
                    "directive @{d} is not supported in a layout (expected `redef` or `event`)"
                ),
            ));
        }
        let Some(word) = cur.ident() else {
            return Err(cur.expected("`redef` or `event`"));
        };
        match word.as_str() {
            "redef" => {
                let Some(id) = cur.ident() else {
                    return Err(cur.expected("an identifier after `redef`"));
                };
                let append = if cur.eat("+=") {
                    true
                } else if cur.eat("=") {
                    false
                } else {
                    return Err(cur.expected("`=` or `+=`"));
                };
                if id == "Cluster::nodes" {
                    if !append {
                        layout.nodes.clear();
                        refs.clear();
                        defined_at.clear();
                    }
                    parse_nodes(&mut cur, format, &mut layout, &mut refs, &mut defined_at)?;
                } else {
                    let (vpos, v) = cur.value()?;
                    let v = if id.starts_with("Cluster::") || crate::options::is_known(&id) {
                        crate::options::check_layout_value(&id, v).map_err(|m| cur.err(vpos, m))?
                    } else {
                        v
                    };
                    let v = if append {
                        combine(&id, layout.option(&id).cloned(), v)
                            .map_err(|m| cur.err(vpos, m))?
                    } else {
                        v
                    };
                    layout.set_option(id, v);
                }
                cur.expect(";", "`;` after the redef")?;
            }
            "event" => {
                let from = cur.i;
                cur.skip_handler()?;
                let body: String = cur.chars[from..cur.i].iter().collect();
                layout
                    .websocket
                    .extend(listen_websocket_calls(&body, source, pos)?);
            }
            _ => return Err(cur.err(pos, format!("expected `redef` or `event`, found `{word}`"))),
        }
    }
    check_references(&layout.nodes, &refs, source)?;
    Ok(layout)
}

/// `redef X += v`: patterns become `(old)|(new)`, sets are united, counts and intervals
/// add up, as Zeek does.
fn combine(
    name: &str,
    old: Option<OptionValue>,
    new: OptionValue,
) -> std::result::Result<OptionValue, String> {
    let old = match old {
        Some(o) => o,
        None => match crate::options::default_value(name) {
            Some(d) => d,
            None => return Ok(new),
        },
    };
    match (old, new) {
        (OptionValue::Pattern(a), OptionValue::Pattern(b)) => {
            Ok(OptionValue::Pattern(format!("({a})|({b})")))
        }
        (OptionValue::Set(mut a), OptionValue::Set(b)) => {
            for x in b {
                if !a.contains(&x) {
                    a.push(x);
                }
            }
            Ok(OptionValue::Set(a))
        }
        (OptionValue::Count(a), OptionValue::Count(b)) => {
            Ok(OptionValue::Count(a.saturating_add(b)))
        }
        (OptionValue::Interval(a), OptionValue::Interval(b)) => Ok(OptionValue::Interval(a + b)),
        (o, n) => Err(format!(
            "`+=` cannot add {} to {} for {name}",
            n.kind(),
            o.kind()
        )),
    }
}

fn parse_nodes(
    cur: &mut Cursor,
    format: Format,
    layout: &mut Layout,
    refs: &mut BTreeMap<String, RefPositions>,
    defined_at: &mut BTreeMap<String, Pos>,
) -> Result<()> {
    cur.expect("{", "`{` opening the Cluster::nodes table")?;
    loop {
        if cur.eat("}") {
            return Ok(());
        }
        cur.expect("[", "`[\"<node name>\"] = [...]` or `}`")?;
        cur.skip_ws();
        let name_pos = cur.pos();
        if cur.peek() != Some('"') {
            return Err(cur.expected("a node name in quotes"));
        }
        let name = cur.string()?;
        if name.is_empty() {
            return Err(cur.err(name_pos, "empty node name"));
        }
        if let Some(first) = defined_at.get(&name) {
            return Err(cur.err(
                name_pos,
                format!(
                    "duplicate node name \"{name}\" (first defined at line {}, column {})",
                    first.line, first.col
                ),
            ));
        }
        cur.expect("]", "`]` after the node name")?;
        cur.expect("=", "`=` after the node name")?;
        let (node, r) = parse_record(cur, format, &name)?;
        defined_at.insert(name.clone(), name_pos);
        layout.nodes.insert(name.clone(), node);
        refs.insert(name, r);
        if cur.eat("}") {
            return Ok(());
        }
        cur.expect(",", "`,` or `}` after a node")?;
    }
}

fn want_string(cur: &Cursor, field: &str, pos: Pos, v: OptionValue) -> Result<String> {
    match v {
        OptionValue::String(s) => Ok(s),
        other => Err(cur.err(
            pos,
            format!(
                "${field}: expected a string in quotes, found {}",
                other.kind()
            ),
        )),
    }
}

fn want_port(cur: &Cursor, field: &str, pos: Pos, v: OptionValue) -> Result<Port> {
    match v {
        OptionValue::Port(p) => Ok(p),
        other => Err(cur.err(
            pos,
            format!(
                "${field}: expected a port such as 47761/tcp, found {}",
                other.kind()
            ),
        )),
    }
}

fn parse_record(cur: &mut Cursor, format: Format, name: &str) -> Result<(Node, RefPositions)> {
    cur.skip_ws();
    let open = cur.pos();
    cur.expect("[", "`[` opening the node's record")?;
    let mut node_type: Option<NodeType> = None;
    let mut ip: Option<IpAddr> = None;
    let mut node = Node::new(NodeType::None, IpAddr::V4(Ipv4Addr::UNSPECIFIED));
    let mut have_p = false;
    let mut refs = RefPositions::default();
    let mut seen: BTreeSet<String> = BTreeSet::new();
    loop {
        if cur.eat("]") {
            break;
        }
        cur.skip_ws();
        let fpos = cur.pos();
        if !cur.eat("$") {
            return Err(cur.expected("`$<field>=<value>` or `]`"));
        }
        let Some(field) = cur.ident() else {
            return Err(cur.expected("a field name after `$`"));
        };
        if !seen.insert(field.clone()) {
            return Err(cur.err(fpos, format!("node \"{name}\": field ${field} given twice")));
        }
        cur.expect("=", &format!("`=` after ${field}"))?;
        cur.skip_ws();
        let (vpos, v) = cur.value()?;
        match field.as_str() {
            "node_type" => match &v {
                OptionValue::Enum(e)
                    if e.starts_with("Cluster::") && NodeType::from_name(e).is_some() =>
                {
                    node_type = NodeType::from_name(e);
                }
                OptionValue::Enum(e) => {
                    return Err(cur.err(
                        vpos,
                        format!(
                            "unknown node type {e} (expected one of {})",
                            NodeType::expected_list()
                        ),
                    ))
                }
                other => {
                    return Err(cur.err(
                        vpos,
                        format!(
                            "$node_type: expected a node type ({}), found {}",
                            NodeType::expected_list(),
                            other.kind()
                        ),
                    ))
                }
            },
            "ip" => match v {
                OptionValue::Addr(a) => ip = Some(a),
                other => {
                    return Err(cur.err(
                        vpos,
                        format!(
                            "$ip: expected an address such as 127.0.0.1 or [fe80::1], found {}",
                            other.kind()
                        ),
                    ))
                }
            },
            "zone_id" => node.zone_id = want_string(cur, &field, vpos, v)?,
            "p" => {
                node.p = want_port(cur, &field, vpos, v)?;
                have_p = true;
            }
            "metrics_port" => node.metrics_port = Some(want_port(cur, &field, vpos, v)?),
            "interface" => node.interface = Some(want_string(cur, &field, vpos, v)?),
            "manager" => {
                node.manager = Some(want_string(cur, &field, vpos, v)?);
                refs.manager = Some(vpos);
            }
            "logger" => {
                node.logger = Some(want_string(cur, &field, vpos, v)?);
                refs.logger = Some(vpos);
            }
            "proxy" => {
                node.proxy = Some(want_string(cur, &field, vpos, v)?);
                refs.proxy = Some(vpos);
            }
            "time_machine" => {
                node.time_machine = Some(want_string(cur, &field, vpos, v)?);
                refs.time_machine = Some(vpos);
            }
            "id" => node.id = Some(want_string(cur, &field, vpos, v)?),
            "lb_filter" => node.lb_filter = Some(want_string(cur, &field, vpos, v)?),
            "pcap_file" => node.pcap_file = Some(want_string(cur, &field, vpos, v)?),
            "workers" => match v {
                OptionValue::Set(items) => {
                    let mut set = BTreeSet::new();
                    for item in items {
                        match item {
                            OptionValue::String(s) => {
                                set.insert(s);
                            }
                            other => {
                                return Err(cur.err(vpos, format!("$workers: expected a set of node names in quotes, found {} in the set", other.kind())))
                            }
                        }
                    }
                    node.workers = Some(set);
                    refs.workers = Some(vpos);
                }
                other => {
                    return Err(cur.err(
                        vpos,
                        format!(
                            "$workers: expected set(\"<name>\", ...), found {}",
                            other.kind()
                        ),
                    ))
                }
            },
            _ => {
                return Err(cur.err(
                    fpos,
                    format!("unknown field ${field} in Cluster::Node (expected one of {FIELDS})"),
                ))
            }
        }
        if cur.eat("]") {
            break;
        }
        cur.expect(",", "`,` or `]` after a field")?;
    }
    let Some(node_type) = node_type else {
        return Err(cur.err(
            open,
            format!("node \"{name}\": missing required field $node_type"),
        ));
    };
    let Some(ip) = ip else {
        return Err(cur.err(open, format!("node \"{name}\": missing required field $ip")));
    };
    if format == Format::Bro && !have_p {
        return Err(cur.err(
            open,
            format!(
                "node \"{name}\": missing required field $p (a Bro 2.5 layout has no default port)"
            ),
        ));
    }
    node.node_type = node_type;
    node.ip = ip;
    Ok((node, refs))
}

/// A record's `$field=value` parts, split at the commas outside brackets, parentheses
/// and string literals.
fn split_fields(inner: &str) -> Vec<&str> {
    let (mut depth, mut quoted, mut escaped, mut start) = (0i32, false, false, 0usize);
    let mut out = Vec::new();
    for (i, c) in inner.char_indices() {
        if quoted {
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => quoted = false,
                _ => {}
            }
            continue;
        }
        match c {
            '"' => quoted = true,
            '[' | '(' => depth += 1,
            ']' | ')' => depth -= 1,
            ',' if depth == 0 => {
                out.push(inner[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(inner[start..].trim());
    out.retain(|p| !p.is_empty());
    out
}

/// `$tls_options=[$cert_file="..", ...]` (or `Cluster::WebSocketTLSOptions(...)`).
fn tls_options_record(
    v: &str,
    source: &str,
) -> std::result::Result<crate::websocket::ServerTls, String> {
    let inner = v
        .strip_prefix("Cluster::WebSocketTLSOptions(")
        .and_then(|r| r.strip_suffix(')'))
        .or_else(|| v.strip_prefix('[').and_then(|r| r.strip_suffix(']')))
        .ok_or_else(|| {
            format!("$tls_options: expected a record `[$cert_file=.., $key_file=..]`, found `{v}`")
        })?;
    let mut t = crate::websocket::ServerTls::default();
    for part in split_fields(inner) {
        let (k, val) = part
            .strip_prefix('$')
            .and_then(|p| p.split_once('='))
            .ok_or_else(|| format!("$tls_options: expected `$field=value`, found `{part}`"))?;
        let mut c = Cursor::new(val.trim(), source);
        let (_, val) = c
            .value()
            .map_err(|e| format!("$tls_options${}: {}", k.trim(), e.message))?;
        match (k.trim(), val) {
            ("cert_file", OptionValue::String(s)) => t.cert_file = Some(s),
            ("key_file", OptionValue::String(s)) => t.key_file = Some(s),
            ("ca_file", OptionValue::String(s)) => t.ca_file = s,
            ("ciphers", OptionValue::String(s)) => t.ciphers = s,
            ("enable_peer_verification", OptionValue::Bool(b)) => t.enable_peer_verification = b,
            (k, v) => return Err(format!("$tls_options: unexpected ${k} ({})", v.kind())),
        }
    }
    if t.cert_file.is_some() != t.key_file.is_some() {
        return Err(format!(
            "Invalid tls_options: No {} field",
            if t.cert_file.is_some() {
                "key_file"
            } else {
                "cert_file"
            }
        ));
    }
    Ok(t)
}

/// The `Cluster::listen_websocket([...])` calls in an event handler's text (ZeekControl's
/// `zeek_init` block), with the guards around them.
fn listen_websocket_calls(
    body: &str,
    source: &str,
    at: Pos,
) -> Result<Vec<super::WebSocketListen>> {
    const CALL: &str = "Cluster::listen_websocket(";
    let mut out = Vec::new();
    let manager_only = body.contains("Cluster::MANAGER");
    let unless_disable_listen = body.contains("ZEEKCTL_DISABLE_LISTEN");
    let mut rest = body;
    while let Some(i) = rest.find(CALL) {
        let after = &rest[i + CALL.len()..];
        let bad = |m: String| perr(source, at, format!("Cluster::listen_websocket: {m}"));
        let inner = after
            .trim_start()
            .strip_prefix('[')
            .and_then(|r| {
                // The record's closing bracket (IPv6 addresses are bracketed too).
                let mut depth = 1usize;
                r.char_indices().find_map(|(i, c)| {
                    match c {
                        '[' => depth += 1,
                        ']' => depth -= 1,
                        _ => {}
                    }
                    (depth == 0).then_some(&r[..i])
                })
            })
            .ok_or_else(|| bad("expected a record `[$listen_addr=.., $listen_port=..]`".into()))?;
        let mut addr = None;
        let mut port = None;
        let mut queue = None;
        let mut ping = None;
        let mut tls = None;
        for part in split_fields(inner) {
            let (k, v) = part
                .strip_prefix('$')
                .and_then(|p| p.split_once('='))
                .ok_or_else(|| bad(format!("expected `$field=value`, found `{part}`")))?;
            if k.trim() == "tls_options" {
                tls = Some(tls_options_record(v.trim(), source).map_err(&bad)?);
                continue;
            }
            let mut c = Cursor::new(v.trim(), source);
            let (_, val) = c
                .value()
                .map_err(|e| bad(format!("${}: {}", k.trim(), e.message)))?;
            // The fields by the catalogue's `Scope::WebSocket` (names, types, did-you-mean);
            // `$listen_host` is the string field of older Zeeks.
            let k = k.trim();
            let spec = crate::options::lookup(&[crate::options::Scope::WebSocket], k)
                .map_err(|e| bad(e.message))?;
            let val = match val {
                OptionValue::String(h) if k == "listen_host" => OptionValue::Addr(
                    h.parse()
                        .map_err(|_| bad(format!("$listen_host \"{h}\" is not an address")))?,
                ),
                v => spec.check(v).map_err(|e| bad(e.message))?,
            };
            match (spec.name, val) {
                ("listen_addr", OptionValue::Addr(a)) => addr = Some(a),
                ("listen_port", OptionValue::Port(p)) => port = Some(p.number),
                ("max_event_queue_size", OptionValue::Count(n)) => queue = Some(n),
                ("ping_interval", OptionValue::Interval(s)) => ping = Some(s),
                (name, _) => {
                    return Err(bad(format!(
                        "${name} is not one of Zeek's WebSocketServerOptions fields a layout sets"
                    )))
                }
            }
        }
        out.push(super::WebSocketListen {
            listen_addr: addr.ok_or_else(|| bad("$listen_addr is required".into()))?,
            listen_port: port.ok_or_else(|| bad("$listen_port is required".into()))?,
            max_event_queue_size: queue,
            ping_interval: ping,
            tls,
            manager_only,
            unless_disable_listen,
        });
        rest = after;
    }
    Ok(out)
}
