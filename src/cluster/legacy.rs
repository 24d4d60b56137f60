//! The legacy Bro 2.5 model (seed 000, reference/cluster.md section 6): event-name
//! patterns that route events between roles, and the `$proxy`/`$logger` fields that
//! decide who peers with whom.
//!
//! In Bro 2.5 a node *requested* from each peer the events whose names matched a pattern
//! (`manager2worker_events`, ...), and the peer sent a copy of every matching event it
//! raised locally. Here the raising side applies the same patterns: `Runtime::raise`
//! publishes an event to the role topic of every role whose pattern (from the raiser's
//! role) matches the event's name, so each pattern's events reach that role only.
//! Patterns match the whole name, as Bro's `RemoteSerializer` did (`MatchExactly`).

use super::Cluster;
use crate::error::{Error, Result};
use crate::layout::{Format, Node, NodeType};
use regex::Regex;

/// The roles a pattern can route between, with their names in the option names.
const ROLES: [(NodeType, &str); 5] = [
    (NodeType::Manager, "manager"),
    (NodeType::Proxy, "proxy"),
    (NodeType::Worker, "worker"),
    (NodeType::Logger, "logger"),
    (NodeType::TimeMachine, "tm"),
];

/// Whether a cluster runs in the legacy model: a Bro 2.5 layout, or any legacy pattern
/// set explicitly.
pub fn is_legacy(cl: &Cluster) -> bool {
    cl.layout().format == Format::Bro
        || super::options::names()
            .filter(|n| n.ends_with("_events"))
            .any(|n| cl.options().is_set(n))
}

/// One compiled routing rule: events from this node's role matching `pattern` go to
/// nodes of type `to`.
#[derive(Debug, Clone)]
pub struct Route {
    pub option: String,
    pub to: NodeType,
    pub pattern: Regex,
}

/// The routes that apply to events raised by a node of type `from`: the
/// `<from>2<to>_events` patterns, and `control_events` for a CONTROL node (to every role).
pub fn routes_from(cl: &Cluster, from: NodeType) -> Result<Vec<Route>> {
    let mut out = Vec::new();
    if from == NodeType::Control {
        let re = compile(cl, "Cluster::control_events")?;
        for (to, _) in ROLES {
            out.push(Route {
                option: "Cluster::control_events".into(),
                to,
                pattern: re.clone(),
            });
        }
        return Ok(out);
    }
    let Some(from_name) = ROLES.iter().find(|(t, _)| *t == from).map(|(_, n)| *n) else {
        return Ok(out);
    };
    for (to, to_name) in ROLES {
        let option = format!("Cluster::{from_name}2{to_name}_events");
        if super::options::is_known(&option) {
            out.push(Route {
                pattern: compile(cl, &option)?,
                option,
                to,
            });
        }
    }
    Ok(out)
}

fn compile(cl: &Cluster, option: &str) -> Result<Regex> {
    let text = cl.options().get_text(option)?;
    let src = text
        .strip_prefix('/')
        .and_then(|t| t.strip_suffix('/'))
        .unwrap_or(&text);
    Regex::new(&format!("^(?:{src})$")).map_err(|e| {
        Error::parse(format!(
            "{option}: /{src}/ is not a pattern zcluster can use: {e}"
        ))
    })
}

/// Who a node initiates peerings with in Bro 2.5 (`setup-connections.bro`): its
/// `$logger`; a worker also its `$manager` and its one `$proxy`; a proxy its `$manager`;
/// a manager only its `$logger`. Entries that name no node, or a node that does not
/// listen, are skipped.
pub fn peers_of<'a>(cl: &'a Cluster, me: &Node) -> Vec<(&'a str, &'a Node)> {
    let layout = cl.layout();
    let named = |n: &Option<String>| -> Option<(&'a str, &'a Node)> {
        n.as_deref()
            .and_then(|name| layout.nodes.get_key_value(name))
            .map(|(k, v)| (k.as_str(), v))
    };
    let mut out = Vec::new();
    match me.node_type {
        NodeType::Manager => out.extend(named(&me.logger)),
        NodeType::Proxy => {
            out.extend(named(&me.logger));
            out.extend(named(&me.manager));
        }
        NodeType::Worker => {
            out.extend(named(&me.logger));
            out.extend(named(&me.manager));
            out.extend(named(&me.proxy));
        }
        _ => {}
    }
    out.retain(|(_, n)| n.p.number != 0);
    out
}
