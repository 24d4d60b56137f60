//! One name and one number per message kind in Rust, C and Python: the Rust kinds
//! (`MessageKind`, the endpoint's own and the cluster layer's), the C numbers
//! (`zcluster::ffi::endpoint::message_kinds`), the checked-in header's `zc_msg_kind` and the
//! Python package's `MessageKind` must agree. Fails when one of the lists diverges.

use std::collections::BTreeMap;
use std::path::PathBuf;
use zcluster::endpoint::MessageKind;
use zcluster::ffi::endpoint::message_kinds;

/// Deprecated spellings kept as aliases of the same number: (old, new).
const ALIASES: [(&str, &str); 1] = [("PEER_UNREACHABLE", "PEER_UNAVAILABLE")];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn camel(snake: &str) -> String {
    snake
        .split('_')
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .collect()
}

/// The Rust side: C name (without `ZC_MESSAGE_`) -> number, from `message_kinds()` and
/// `MessageKind::name`.
fn rust_kinds() -> BTreeMap<String, u32> {
    let mut m = BTreeMap::new();
    for (c, k) in message_kinds() {
        assert!(
            m.insert(k.name().to_ascii_uppercase(), c as u32).is_none(),
            "{k:?} twice"
        );
    }
    m
}

/// `NAME = N` lines between `end` (the first after a `start`) and the last `start` before it, with `prefix`
/// stripped from the names (other lines are skipped).
fn assignments(text: &str, start: &str, end: &str, prefix: &str) -> Vec<(String, u32)> {
    let first = text.find(start).unwrap_or_else(|| panic!("no `{start}`"));
    let to = first
        + text[first..]
            .find(end)
            .unwrap_or_else(|| panic!("no `{end}` after `{start}`"));
    let from = text[..to]
        .rfind(start)
        .unwrap_or_else(|| panic!("no `{start}` before `{end}`"));
    text[from + start.len()..to]
        .lines()
        .map(str::trim)
        .filter(|l| !l.starts_with('#') && !l.starts_with("/*") && !l.starts_with('*'))
        .filter_map(|l| {
            let (name, value) = l.trim_end_matches(',').split_once('=')?;
            let name = name.trim().strip_prefix(prefix)?.to_string();
            Some((name, value.trim().parse().ok()?))
        })
        .collect()
}

#[test]
fn every_kind_has_one_c_number_and_its_rust_name() {
    let rust = rust_kinds();
    // Every kind the library raises has a number, and every number 0..n is used once.
    let mut all: Vec<MessageKind> = MessageKind::ENDPOINT.to_vec();
    all.extend(zcluster::cluster::kinds::KINDS);
    assert_eq!(all.len(), message_kinds().len());
    for k in &all {
        assert!(
            message_kinds().iter().any(|(_, m)| m == k),
            "{k:?} has no C number"
        );
    }
    let mut numbers: Vec<u32> = rust.values().copied().collect();
    numbers.sort();
    assert_eq!(
        numbers,
        (0..message_kinds().len() as u32).collect::<Vec<_>>()
    );
    // The endpoint's kinds are enum variants named in camel case after the C name; the
    // service kinds are not the endpoint's variants.
    for k in MessageKind::ENDPOINT {
        assert_eq!(format!("{k:?}"), camel(k.name()));
        assert!(!matches!(k, MessageKind::Service(_)));
    }
    for k in zcluster::cluster::kinds::KINDS {
        assert!(matches!(k, MessageKind::Service(_)), "{k:?}");
        assert!(
            k.name()
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b == b'_'),
            "{k:?}"
        );
    }
    // The numbers a C host has compiled in since the first release.
    for (name, n) in [
        ("EVENT", 0),
        ("PEER_UNAVAILABLE", 4),
        ("HELLO", 6),
        ("NODE_UP", 7),
        ("NODE_DOWN", 8),
        ("DESERIALIZATION_FAILED", 13),
    ] {
        assert_eq!(rust[name], n, "{name}");
    }
}

#[test]
fn the_header_names_every_kind_as_rust_does() {
    let header = std::fs::read_to_string(root().join("include/zcluster.h")).unwrap();
    let c: BTreeMap<String, u32> =
        assignments(&header, "typedef enum {", "} zc_msg_kind;", "ZC_MESSAGE_")
            .into_iter()
            .collect();
    assert_eq!(c, rust_kinds(), "zc_msg_kind in include/zcluster.h");
    for (old, new) in ALIASES {
        let define = format!("#define ZC_MESSAGE_{old} ZC_MESSAGE_{new}\n");
        assert!(header.contains(&define), "header lacks `{define}`");
    }
    // No other ZC_MESSAGE_ name is defined.
    let defines = header
        .lines()
        .filter(|l| l.starts_with("#define ZC_MESSAGE_"))
        .count();
    assert_eq!(defines, ALIASES.len());
}

#[test]
fn python_names_every_kind_as_rust_does() {
    let py = std::fs::read_to_string(root().join("bindings/python/zcluster/_endpoint.py")).unwrap();
    let members = assignments(&py, "class MessageKind(enum.IntEnum):", "\nclass ", "");
    let mut names = BTreeMap::new();
    let mut aliases = Vec::new();
    for (name, n) in members {
        if let Some((old, new)) = ALIASES.iter().find(|(old, _)| *old == name) {
            aliases.push((old.to_string(), new.to_string(), n));
        } else {
            assert!(names.insert(name.clone(), n).is_none(), "{name} twice");
        }
    }
    assert_eq!(names, rust_kinds(), "MessageKind in _endpoint.py");
    assert_eq!(aliases.len(), ALIASES.len());
    for (old, new, n) in aliases {
        assert_eq!(Some(&n), names.get(&new), "{old} is not an alias of {new}");
    }
}

#[test]
#[allow(deprecated)]
fn the_former_rust_name_still_means_event() {
    assert_eq!(MessageKind::Data, MessageKind::Event);
    assert!(matches!(MessageKind::Event, MessageKind::Data));
    assert_eq!(MessageKind::Event.name(), "event");
    assert_eq!(zcluster::cluster::NODE_UP.to_string(), "node_up");
}
