//! ZeekControl's `zeekctl-config.zeek` (written by `zeekctl install` beside
//! `cluster-layout.zeek` in `spool/installed-scripts-do-not-touch/auto/`): what in it
//! concerns the cluster. ZeekControl 8.1+ selects the cluster backend there (its
//! `cluster_backend_zeromq` plugin writes `@load policy/frameworks/cluster/backend/zeromq/options`
//! and the `Cluster::Backend::ZeroMQ::*_endpoint` redefs, with CURVE keys inside
//! `@if ( |...| == 0 )` guards).
//!
//! The file is Zeek script we do not run: this reader takes `@load` of a cluster backend,
//! `redef` of the options of the catalogue (`crate::options`: `Cluster::`, and the
//! `Broker::`, `Log::`, `Telemetry::` ones zeekctl writes, e.g.
//! `Log::default_rotation_interval`, `Telemetry::metrics_address`; checked like a layout's,
//! errors with their line), `@if ( |Cluster::...| == 0 )` guards (true while the option is
//! unset or empty), and skips everything else: other redefs (`Notice::`, `Pcap::`,
//! expressions such as `FileExtract::prefix = ... + Cluster::node`), blocks under other
//! `@if` conditions, and event handlers.

use super::{perr, Layout, OptionValue, Pos};
use crate::error::Result;

/// The backend a `@load` path selects, if it is one of Zeek's cluster backend packages.
pub(crate) fn backend_of_load(path: &str) -> Option<&'static str> {
    let p = path.trim().trim_end_matches(".zeek").trim_end_matches('/');
    let p = p.strip_prefix("policy/").unwrap_or(p);
    let rest = p.strip_prefix("frameworks/cluster/backend/")?;
    let (pkg, sub) = rest.split_once('/').unwrap_or((rest, ""));
    match (pkg, sub) {
        ("zeromq", "" | "options" | "main" | "connect") => Some("Cluster::CLUSTER_BACKEND_ZEROMQ"),
        ("broker", "" | "main") => Some("Cluster::CLUSTER_BACKEND_BROKER"),
        _ => None,
    }
}

/// Applies `text` (a zeekctl-config.zeek) to `layout`'s options, after what it has.
pub(crate) fn apply(layout: &mut Layout, text: &str, source: &str) -> Result<()> {
    // Each open @if: whether its lines apply.
    let mut conds: Vec<bool> = Vec::new();
    let mut in_handler = false;
    let mut depth = 0i32;
    let mut seen_brace = false;
    for (i, raw) in text.lines().enumerate() {
        let line_no = i + 1;
        let line = strip_comment(raw).trim();
        let full = raw.trim();
        if in_handler {
            for c in line.chars() {
                match c {
                    '{' => {
                        depth += 1;
                        seen_brace = true;
                    }
                    '}' => depth -= 1,
                    _ => {}
                }
            }
            if seen_brace && depth <= 0 {
                in_handler = false;
            }
            continue;
        }
        if let Some(d) = full.strip_prefix('@') {
            let (word, rest) = d.split_once(char::is_whitespace).unwrap_or((d, ""));
            match word {
                "if" => {
                    let v = conds.iter().all(|c| *c) && guard(layout, rest);
                    conds.push(v);
                }
                "ifdef" | "ifndef" => conds.push(false),
                "else" => {
                    if let Some(c) = conds.last_mut() {
                        *c = !*c;
                    }
                }
                "endif" => {
                    conds.pop();
                }
                "load" if conds.iter().all(|c| *c) => {
                    if let Some(b) = backend_of_load(rest) {
                        layout.set_option(
                            "Cluster::backend".to_string(),
                            OptionValue::Enum(b.to_string()),
                        );
                    }
                }
                _ => {}
            }
            continue;
        }
        if !conds.iter().all(|c| *c) || line.is_empty() {
            continue;
        }
        if line.starts_with("event ") || line.starts_with("hook ") || line.starts_with("function ")
        {
            in_handler = true;
            depth = 0;
            seen_brace = false;
            for c in line.chars() {
                match c {
                    '{' => {
                        depth += 1;
                        seen_brace = true;
                    }
                    '}' => depth -= 1,
                    _ => {}
                }
            }
            if seen_brace && depth <= 0 {
                in_handler = false;
            }
            continue;
        }
        let Some(stmt) = line.strip_prefix("redef ") else {
            continue;
        };
        let Some((name, value)) = stmt.split_once('=') else {
            continue;
        };
        let name = name.trim();
        if name.ends_with('+') || name.ends_with('-') {
            continue;
        }
        if !crate::options::is_known(name) {
            continue;
        }
        let value = value.trim().trim_end_matches(';').trim();
        let col = raw.find(value).map_or(1, |c| c + 1);
        let pos = Pos { line: line_no, col };
        let mut cur = super::ZeekCursor::new(value, source);
        let v = match cur.value() {
            Ok((_, v)) if cur.at_end() => v,
            _ => {
                return Err(perr(
                    source,
                    pos,
                    format!("redef {name}: expected a literal value, found `{value}`"),
                ))
            }
        };
        let v = crate::options::check_layout_value(name, v).map_err(|m| perr(source, pos, m))?;
        layout.set_option(name.to_string(), v);
    }
    Ok(())
}

/// The line up to a `#` outside string literals (Z85 keys contain `#`).
fn strip_comment(line: &str) -> &str {
    let mut in_str = false;
    let mut escaped = false;
    for (i, c) in line.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if in_str => escaped = true,
            '"' => in_str = !in_str,
            '#' if !in_str => return &line[..i],
            _ => {}
        }
    }
    line
}

/// `@if ( |X| == 0 )` for a known option: true while the layout leaves it unset or empty.
/// Other conditions (node types, environment variables) are false: their blocks hold
/// nothing for the cluster layer.
fn guard(layout: &Layout, cond: &str) -> bool {
    let c: String = cond.chars().filter(|c| !c.is_whitespace()).collect();
    let Some(inner) = c.strip_prefix("(|").and_then(|r| r.strip_suffix("|==0)")) else {
        return false;
    };
    if !crate::options::is_known(inner) {
        return false;
    }
    match layout.option(inner) {
        None => true,
        Some(OptionValue::String(s)) => s.is_empty(),
        Some(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loads_select_the_backend() {
        for p in [
            "policy/frameworks/cluster/backend/zeromq",
            "policy/frameworks/cluster/backend/zeromq/options",
            "frameworks/cluster/backend/zeromq/connect.zeek",
            " policy/frameworks/cluster/backend/zeromq/ ",
        ] {
            assert_eq!(
                backend_of_load(p),
                Some("Cluster::CLUSTER_BACKEND_ZEROMQ"),
                "{p}"
            );
        }
        assert_eq!(
            backend_of_load("policy/frameworks/cluster/backend/broker"),
            Some("Cluster::CLUSTER_BACKEND_BROKER")
        );
        assert_eq!(
            backend_of_load("policy/frameworks/cluster/backend/zeromq/x"),
            None
        );
        assert_eq!(backend_of_load("base/frameworks/cluster"), None);
    }

    #[test]
    fn comments_end_outside_strings() {
        assert_eq!(
            strip_comment("redef a = \"x#y\"; # c"),
            "redef a = \"x#y\"; "
        );
        assert_eq!(strip_comment("# all"), "");
        assert_eq!(strip_comment("a = \"q\\\"#\" #"), "a = \"q\\\"#\" ");
    }

    #[test]
    fn bad_known_values_are_errors_with_their_line() {
        let mut l = Layout::empty(super::super::Format::Zeek, "t");
        let e = apply(
            &mut l,
            "redef Notice::x = 1 + 2;\nredef Cluster::Backend::ZeroMQ::ipv6 = maybe;\n",
            "zeekctl-config.zeek",
        )
        .unwrap_err();
        assert!(
            e.message.starts_with("zeekctl-config.zeek:2:"),
            "{}",
            e.message
        );
    }

    #[test]
    fn zeekctls_catalogue_redefs_are_read_and_others_skipped() {
        let mut l = Layout::empty(super::super::Format::Zeek, "t");
        apply(
            &mut l,
            "redef Log::default_rotation_interval = 3600 secs;\nredef Log::default_mail_alarms_interval = 86400 secs;\nredef Telemetry::metrics_address = \"127.0.0.1\";\nredef Pcap::snaplen = 9216;\nredef Cluster::default_store_dir = \"/s\";\n",
            "zeekctl-config.zeek",
        )
        .unwrap();
        assert_eq!(
            l.option("Log::default_rotation_interval"),
            Some(&OptionValue::Interval(3600.0))
        );
        assert_eq!(
            l.option("Telemetry::metrics_address"),
            Some(&OptionValue::String("127.0.0.1".into()))
        );
        assert_eq!(
            l.option("Cluster::default_store_dir"),
            Some(&OptionValue::String("/s".into()))
        );
        assert_eq!(l.option("Log::default_mail_alarms_interval"), None);
        assert_eq!(l.option("Pcap::snaplen"), None);
        let e = apply(
            &mut l,
            "redef Log::default_rotation_interval = 3600;\n",
            "zeekctl-config.zeek",
        )
        .unwrap_err();
        assert_eq!(
            e.message,
            "zeekctl-config.zeek:1:40: option Log::default_rotation_interval: expected an interval such as 1.0 min, 30 secs or 250 msecs, found a count (3600)"
        );
    }
}
