//! Layouts and nodes in C: `zc_layout_*`, `zc_node_*`, and NULL-terminated string arrays
//! (`zc_strings_free`).

use super::handle::{kind, Registry};
use super::strings::{arg_bytes, arg_opt_str, arg_str, free_string, give_string};
use super::{guard, guard_void, out_ptr, write_out, zc_result};
use crate::error::{Error, ErrorKind};
use crate::layout::{Format, Layout, Node, NodeCfgOptions, NodeType, OptionValue, Port};
use once_cell::sync::Lazy;
use parking_lot::Mutex;
use std::collections::HashMap;
use std::os::raw::c_char;

/// A parsed cluster layout (immutable; may be shared between threads).
pub struct zc_layout {
    _private: [u8; 0],
}

/// A copy of one node of a layout (immutable; independent of the layout's lifetime).
pub struct zc_node {
    _private: [u8; 0],
}

/// `Cluster::NodeType`. The numbers are stable.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum zc_node_type {
    /// Not part of a cluster (`local_node_type` of a disabled cluster).
    ZC_NODE_NONE = 0,
    ZC_NODE_CONTROL = 1,
    ZC_NODE_MANAGER = 2,
    ZC_NODE_LOGGER = 3,
    ZC_NODE_PROXY = 4,
    ZC_NODE_WORKER = 5,
    /// Legacy (Bro 2.5 to Zeek 7.0).
    ZC_NODE_TIME_MACHINE = 6,
}

impl From<NodeType> for zc_node_type {
    fn from(t: NodeType) -> Self {
        use zc_node_type::*;
        match t {
            NodeType::None => ZC_NODE_NONE,
            NodeType::Control => ZC_NODE_CONTROL,
            NodeType::Manager => ZC_NODE_MANAGER,
            NodeType::Logger => ZC_NODE_LOGGER,
            NodeType::Proxy => ZC_NODE_PROXY,
            NodeType::Worker => ZC_NODE_WORKER,
            NodeType::TimeMachine => ZC_NODE_TIME_MACHINE,
        }
    }
}

pub(crate) static LAYOUTS: Registry<Layout> = Registry::new(kind::LAYOUT, "zc_layout");
static NODES: Registry<(String, Node)> = Registry::new(kind::NODE, "zc_node");

/// Address -> length (with the NULL) of string arrays handed out and not yet freed.
static LIVE_ARRAYS: Lazy<Mutex<HashMap<usize, usize>>> = Lazy::new(|| Mutex::new(HashMap::new()));

pub(crate) fn give_strings<'a>(items: impl Iterator<Item = &'a str>) -> *mut *mut c_char {
    let mut v: Vec<*mut c_char> = items.map(give_string).collect();
    v.push(std::ptr::null_mut());
    let boxed = v.into_boxed_slice();
    let len = boxed.len();
    let p = Box::into_raw(boxed) as *mut *mut c_char;
    LIVE_ARRAYS.lock().insert(p as usize, len);
    p
}

/// Frees a NULL-terminated string array returned by zcluster (`zc_layout_node_names`,
/// `zc_node_workers`), and every string in it. NULL is a no-op; a pointer zcluster did not
/// hand out (or already freed) is ignored and noted in `zc_last_error`. Any thread.
#[no_mangle]
pub unsafe extern "C" fn zc_strings_free(strings: *mut *mut c_char) {
    guard_void(|| {
        if strings.is_null() {
            return Ok(());
        }
        let Some(len) = LIVE_ARRAYS.lock().remove(&(strings as usize)) else {
            return Err(Error::new(
                ErrorKind::BadHandle,
                "zc_strings_free: pointer was not returned by zcluster, or is already freed",
            ));
        };
        // SAFETY: the address came from `give_strings` (it was in LIVE_ARRAYS), which
        // leaked a boxed slice of exactly `len` pointers; removed from the set, so freed once.
        let boxed = unsafe { Box::from_raw(std::ptr::slice_from_raw_parts_mut(strings, len)) };
        for s in boxed.iter() {
            free_string(*s)?;
        }
        Ok(())
    })
}

/// Loads a layout file. The format comes from the file name (`*.zeek`, `*.bro`,
/// `*.json`, `*.cfg` for ZeekControl's node.cfg), else from the content. On success
/// `*out` is a new layout the caller frees with `zc_layout_free`.
/// Errors: ZC_ERR_NULL, ZC_ERR_UTF8 (path), ZC_ERR_NOT_FOUND / ZC_ERR_IO (reading),
/// ZC_ERR_PARSE (message `<path>:<line>:<col>: <what was expected>`). Any thread.
#[no_mangle]
pub unsafe extern "C" fn zc_layout_load(
    path: *const c_char,
    out: *mut *mut zc_layout,
) -> zc_result {
    guard(|| {
        out_ptr(out, "out")?;
        let path = arg_str(path, "path")?;
        let layout = Layout::load(path)?;
        write_out(out, LAYOUTS.insert(layout));
        Ok(())
    })
}

/// Parses layout text of `len` bytes (UTF-8; need not be NUL-terminated). `format` is
/// "zeek", "bro", "node.cfg" or "json", or NULL to guess from the content. Error messages
/// name the source `<input>`. On success `*out` is a new layout (free with
/// `zc_layout_free`). Errors: ZC_ERR_NULL, ZC_ERR_UTF8, ZC_ERR_INVALID_ARGUMENT (unknown
/// format), ZC_ERR_PARSE. Any thread.
#[no_mangle]
pub unsafe extern "C" fn zc_layout_parse(
    text: *const c_char,
    len: usize,
    format: *const c_char,
    out: *mut *mut zc_layout,
) -> zc_result {
    guard(|| {
        out_ptr(out, "out")?;
        let text = layout_text(text, len)?;
        let format = arg_opt_str(format, "format")?
            .map(Format::from_name)
            .transpose()?;
        let layout = Layout::parse(text, format)?;
        write_out(out, LAYOUTS.insert(layout));
        Ok(())
    })
}

fn layout_text<'a>(text: *const c_char, len: usize) -> crate::Result<&'a str> {
    let bytes = arg_bytes(text as *const u8, len, "text")?;
    std::str::from_utf8(bytes).map_err(|e| {
        Error::new(
            ErrorKind::Utf8,
            format!(
                "text is not valid UTF-8 (invalid byte at offset {})",
                e.valid_up_to()
            ),
        )
    })
}

/// Parses ZeekControl's node.cfg with zeekctl's settings: `zeek_port` (zeekctl's
/// ZeekPort, default 27760), `metrics_port` (MetricsPort, default 9991; 0 for none) and
/// `zeromq` (ClusterBackend is ZeroMQ, zeekctl's default: two ports go to the ZeroMQ
/// proxy first). `zc_layout_parse(.., "node.cfg", ..)` uses the defaults. Errors as
/// `zc_layout_parse`. Any thread.
#[no_mangle]
pub unsafe extern "C" fn zc_layout_parse_node_cfg(
    text: *const c_char,
    len: usize,
    zeek_port: u16,
    metrics_port: u16,
    zeromq: bool,
    out: *mut *mut zc_layout,
) -> zc_result {
    guard(|| {
        out_ptr(out, "out")?;
        let text = layout_text(text, len)?;
        let opts = NodeCfgOptions {
            zeek_port,
            metrics_port,
            zeromq,
        };
        let layout = Layout::parse_node_cfg(text, crate::layout::TEXT_SOURCE, &opts)?;
        write_out(out, LAYOUTS.insert(layout));
        Ok(())
    })
}

/// Frees a layout. NULL is a no-op; nodes and clusters made from it stay valid. Any thread.
#[no_mangle]
pub unsafe extern "C" fn zc_layout_free(layout: *mut zc_layout) {
    guard_void(|| LAYOUTS.free(layout));
}

/// The format the layout was read from: "zeek", "bro", "node.cfg" or "json", as a static
/// string (do not free). Errors: ZC_ERR_NULL, ZC_ERR_BAD_HANDLE.
#[no_mangle]
pub unsafe extern "C" fn zc_layout_format(
    layout: *const zc_layout,
    out: *mut *const c_char,
) -> zc_result {
    guard(|| {
        out_ptr(out, "out")?;
        let l = LAYOUTS.get(layout)?;
        let s: &'static str = match l.format {
            Format::Zeek => "zeek\0",
            Format::Bro => "bro\0",
            Format::NodeCfg => "node.cfg\0",
            Format::Json => "json\0",
        };
        write_out(out, s.as_ptr() as *const c_char);
        Ok(())
    })
}

/// The number of nodes. Errors: ZC_ERR_NULL, ZC_ERR_BAD_HANDLE.
#[no_mangle]
pub unsafe extern "C" fn zc_layout_node_count(
    layout: *const zc_layout,
    out: *mut usize,
) -> zc_result {
    guard(|| {
        out_ptr(out, "out")?;
        write_out(out, LAYOUTS.get(layout)?.nodes.len());
        Ok(())
    })
}

/// The node names, sorted (byte order, as Zeek's `nodes_with_type` sorts), as a
/// NULL-terminated array the caller frees with `zc_strings_free` (which frees the strings
/// too). Errors: ZC_ERR_NULL, ZC_ERR_BAD_HANDLE.
#[no_mangle]
pub unsafe extern "C" fn zc_layout_node_names(
    layout: *const zc_layout,
    out: *mut *mut *mut c_char,
) -> zc_result {
    guard(|| {
        out_ptr(out, "out")?;
        let l = LAYOUTS.get(layout)?;
        write_out(out, give_strings(l.nodes.keys().map(String::as_str)));
        Ok(())
    })
}

/// The name of the node at `index` in sorted order (0 .. count-1), as a string the caller
/// frees with `zc_string_free`. Errors: ZC_ERR_NULL, ZC_ERR_BAD_HANDLE,
/// ZC_ERR_INVALID_ARGUMENT (index out of range).
#[no_mangle]
pub unsafe extern "C" fn zc_layout_node_name_at(
    layout: *const zc_layout,
    index: usize,
    out: *mut *mut c_char,
) -> zc_result {
    guard(|| {
        out_ptr(out, "out")?;
        let l = LAYOUTS.get(layout)?;
        let Some(name) = l.nodes.keys().nth(index) else {
            return Err(Error::invalid(format!(
                "node index {index} is out of range (the layout has {} nodes)",
                l.nodes.len()
            )));
        };
        write_out(out, give_string(name));
        Ok(())
    })
}

/// Looks a node up by name. On success `*out` is a new node handle (a copy; free with
/// `zc_node_free`). Errors: ZC_ERR_NULL, ZC_ERR_UTF8, ZC_ERR_BAD_HANDLE, ZC_ERR_NOT_FOUND.
#[no_mangle]
pub unsafe extern "C" fn zc_layout_get_node(
    layout: *const zc_layout,
    name: *const c_char,
    out: *mut *mut zc_node,
) -> zc_result {
    guard(|| {
        out_ptr(out, "out")?;
        let l = LAYOUTS.get(layout)?;
        let name = arg_str(name, "name")?;
        let Some(n) = l.nodes.get(name) else {
            return Err(Error::not_found(format!(
                "no node \"{name}\" in the layout {}",
                l.source
            )));
        };
        write_out(out, NODES.insert((name.to_string(), n.clone())));
        Ok(())
    })
}

/// The number of `redef` options the layout sets (`Cluster::manager_is_logger`, ...).
/// Errors: ZC_ERR_NULL, ZC_ERR_BAD_HANDLE.
#[no_mangle]
pub unsafe extern "C" fn zc_layout_option_count(
    layout: *const zc_layout,
    out: *mut usize,
) -> zc_result {
    guard(|| {
        out_ptr(out, "out")?;
        write_out(out, LAYOUTS.get(layout)?.options.len());
        Ok(())
    })
}

fn option_kind(v: &OptionValue) -> &'static str {
    match v {
        OptionValue::Bool(_) => "bool\0",
        OptionValue::Count(_) => "count\0",
        OptionValue::Int(_) => "int\0",
        OptionValue::Double(_) => "double\0",
        OptionValue::Interval(_) => "interval\0",
        OptionValue::String(_) => "string\0",
        OptionValue::Pattern(_) => "pattern\0",
        OptionValue::Port(_) => "port\0",
        OptionValue::Addr(_) => "addr\0",
        OptionValue::Enum(_) => "enum\0",
        OptionValue::Set(_) => "set\0",
    }
}

/// Option text in the convention of `zc_options_get`: strings bare, everything else in
/// Zeek syntax.
pub(crate) fn option_text(v: &OptionValue) -> String {
    match v {
        OptionValue::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The option at `index` (file order): `*name` (Zeek name, e.g. "Cluster::retry_interval")
/// and `*value` are strings the caller frees with `zc_string_free`; `*kind` is a static
/// string naming the value's type ("bool", "count", "int", "double", "interval",
/// "string", "pattern", "port", "addr", "enum", "set"). The value text: strings bare,
/// everything else in Zeek syntax ("T", "1.0 min", "/re/", "27762/tcp"). `kind` may be
/// NULL. Errors: ZC_ERR_NULL, ZC_ERR_BAD_HANDLE, ZC_ERR_INVALID_ARGUMENT (index).
#[no_mangle]
pub unsafe extern "C" fn zc_layout_option_at(
    layout: *const zc_layout,
    index: usize,
    name: *mut *mut c_char,
    value: *mut *mut c_char,
    kind: *mut *const c_char,
) -> zc_result {
    guard(|| {
        out_ptr(name, "name")?;
        out_ptr(value, "value")?;
        let l = LAYOUTS.get(layout)?;
        let Some((n, v)) = l.options.get(index) else {
            return Err(Error::invalid(format!(
                "option index {index} is out of range (the layout sets {} options)",
                l.options.len()
            )));
        };
        write_out(name, give_string(n));
        write_out(value, give_string(&option_text(v)));
        if !kind.is_null() {
            write_out(kind, option_kind(v).as_ptr() as *const c_char);
        }
        Ok(())
    })
}

/// The value the layout sets for option `name` (text as `zc_layout_option_at`), freed with
/// `zc_string_free`. Errors: ZC_ERR_NULL, ZC_ERR_UTF8, ZC_ERR_BAD_HANDLE,
/// ZC_ERR_NOT_FOUND (the layout does not set it).
#[no_mangle]
pub unsafe extern "C" fn zc_layout_option_get(
    layout: *const zc_layout,
    name: *const c_char,
    out: *mut *mut c_char,
) -> zc_result {
    guard(|| {
        out_ptr(out, "out")?;
        let l = LAYOUTS.get(layout)?;
        let name = arg_str(name, "name")?;
        let Some(v) = l.option(name) else {
            return Err(Error::not_found(format!("the layout does not set {name}")));
        };
        write_out(out, give_string(&option_text(v)));
        Ok(())
    })
}

/// The layout's JSON form (see README/`Layout::to_json`), freed with `zc_string_free`;
/// `zc_layout_parse(json, len, "json", ..)` reads it back. Errors: ZC_ERR_NULL,
/// ZC_ERR_BAD_HANDLE.
#[no_mangle]
pub unsafe extern "C" fn zc_layout_to_json(
    layout: *const zc_layout,
    out: *mut *mut c_char,
) -> zc_result {
    guard(|| {
        out_ptr(out, "out")?;
        write_out(out, give_string(&LAYOUTS.get(layout)?.to_json()));
        Ok(())
    })
}

/// Frees a node handle. NULL is a no-op. Any thread.
#[no_mangle]
pub unsafe extern "C" fn zc_node_free(node: *mut zc_node) {
    guard_void(|| NODES.free(node));
}

fn with_node<T>(node: *const zc_node, f: impl FnOnce(&str, &Node) -> T) -> crate::Result<T> {
    let n = NODES.get(node)?;
    Ok(f(&n.0, &n.1))
}

/// The node's name (its key in `Cluster::nodes`), freed with `zc_string_free`.
/// Errors: ZC_ERR_NULL, ZC_ERR_BAD_HANDLE.
#[no_mangle]
pub unsafe extern "C" fn zc_node_name(node: *const zc_node, out: *mut *mut c_char) -> zc_result {
    guard(|| {
        out_ptr(out, "out")?;
        write_out(out, with_node(node, |name, _| give_string(name))?);
        Ok(())
    })
}

/// `$node_type`. Errors: ZC_ERR_NULL, ZC_ERR_BAD_HANDLE.
#[no_mangle]
pub unsafe extern "C" fn zc_node_node_type(
    node: *const zc_node,
    out: *mut zc_node_type,
) -> zc_result {
    guard(|| {
        out_ptr(out, "out")?;
        write_out(
            out,
            with_node(node, |_, n| zc_node_type::from(n.node_type))?,
        );
        Ok(())
    })
}

/// `$ip` as text ("127.0.0.1", "fe80::1": IPv6 without brackets), freed with
/// `zc_string_free`. Errors: ZC_ERR_NULL, ZC_ERR_BAD_HANDLE.
#[no_mangle]
pub unsafe extern "C" fn zc_node_ip(node: *const zc_node, out: *mut *mut c_char) -> zc_result {
    guard(|| {
        out_ptr(out, "out")?;
        write_out(out, with_node(node, |_, n| give_string(&n.ip.to_string()))?);
        Ok(())
    })
}

/// `$zone_id` ("" when the layout gives none, Zeek's default), freed with
/// `zc_string_free`. Errors: ZC_ERR_NULL, ZC_ERR_BAD_HANDLE.
#[no_mangle]
pub unsafe extern "C" fn zc_node_zone_id(node: *const zc_node, out: *mut *mut c_char) -> zc_result {
    guard(|| {
        out_ptr(out, "out")?;
        write_out(out, with_node(node, |_, n| give_string(&n.zone_id))?);
        Ok(())
    })
}

fn proto_str(p: &Port) -> *const c_char {
    let s: &'static str = match p.protocol {
        crate::layout::Protocol::Tcp => "tcp\0",
        crate::layout::Protocol::Udp => "udp\0",
        crate::layout::Protocol::Icmp => "icmp\0",
        crate::layout::Protocol::Unknown => "unknown\0",
    };
    s.as_ptr() as *const c_char
}

/// `$p`: its number and its protocol as a static string ("tcp", "udp", "icmp",
/// "unknown"; do not free). A node that does not listen has 0 and "unknown" (Zeek's
/// default `0/unknown`). `protocol` may be NULL. Errors: ZC_ERR_NULL, ZC_ERR_BAD_HANDLE.
#[no_mangle]
pub unsafe extern "C" fn zc_node_p(
    node: *const zc_node,
    number: *mut u16,
    protocol: *mut *const c_char,
) -> zc_result {
    guard(|| {
        out_ptr(number, "number")?;
        let p = with_node(node, |_, n| n.p)?;
        write_out(number, p.number);
        if !protocol.is_null() {
            write_out(protocol, proto_str(&p));
        }
        Ok(())
    })
}

/// `$metrics_port`, like `zc_node_p`. When unset: ZC_OK with `*number` 0 and `*protocol`
/// NULL (so `protocol` is required here). Errors: ZC_ERR_NULL, ZC_ERR_BAD_HANDLE.
#[no_mangle]
pub unsafe extern "C" fn zc_node_metrics_port(
    node: *const zc_node,
    number: *mut u16,
    protocol: *mut *const c_char,
) -> zc_result {
    guard(|| {
        out_ptr(number, "number")?;
        out_ptr(protocol, "protocol")?;
        match with_node(node, |_, n| n.metrics_port)? {
            Some(p) => {
                write_out(number, p.number);
                write_out(protocol, proto_str(&p));
            }
            None => {
                write_out(number, 0);
                write_out(protocol, std::ptr::null());
            }
        }
        Ok(())
    })
}

fn opt_field(
    node: *const zc_node,
    out: *mut *mut c_char,
    f: impl FnOnce(&Node) -> Option<&String>,
) -> zc_result {
    guard(|| {
        out_ptr(out, "out")?;
        let v = with_node(node, |_, n| f(n).map(|s| give_string(s)))?;
        write_out(out, v.unwrap_or(std::ptr::null_mut()));
        Ok(())
    })
}

/// `$interface`: a string freed with `zc_string_free`, or NULL (with ZC_OK) when the layout
/// does not set it. The same convention holds for every optional string field below.
/// Errors: ZC_ERR_NULL, ZC_ERR_BAD_HANDLE.
#[no_mangle]
pub unsafe extern "C" fn zc_node_interface(
    node: *const zc_node,
    out: *mut *mut c_char,
) -> zc_result {
    opt_field(node, out, |n| n.interface.as_ref())
}

/// `$manager` (the manager a proxy or worker uses), or NULL when unset.
#[no_mangle]
pub unsafe extern "C" fn zc_node_manager(node: *const zc_node, out: *mut *mut c_char) -> zc_result {
    opt_field(node, out, |n| n.manager.as_ref())
}

/// Legacy `$logger` (Bro 2.5: the logger a node sends to), or NULL when unset.
#[no_mangle]
pub unsafe extern "C" fn zc_node_logger(node: *const zc_node, out: *mut *mut c_char) -> zc_result {
    opt_field(node, out, |n| n.logger.as_ref())
}

/// Legacy `$proxy` (Bro 2.5: the proxy a worker uses), or NULL when unset.
#[no_mangle]
pub unsafe extern "C" fn zc_node_proxy(node: *const zc_node, out: *mut *mut c_char) -> zc_result {
    opt_field(node, out, |n| n.proxy.as_ref())
}

/// `$time_machine`, or NULL when unset.
#[no_mangle]
pub unsafe extern "C" fn zc_node_time_machine(
    node: *const zc_node,
    out: *mut *mut c_char,
) -> zc_result {
    opt_field(node, out, |n| n.time_machine.as_ref())
}

/// `$id` (normally set only at run time), or NULL when unset.
#[no_mangle]
pub unsafe extern "C" fn zc_node_id(node: *const zc_node, out: *mut *mut c_char) -> zc_result {
    opt_field(node, out, |n| n.id.as_ref())
}

/// `$lb_filter`, or NULL when unset.
#[no_mangle]
pub unsafe extern "C" fn zc_node_lb_filter(
    node: *const zc_node,
    out: *mut *mut c_char,
) -> zc_result {
    opt_field(node, out, |n| n.lb_filter.as_ref())
}

/// `$pcap_file`, or NULL when unset.
#[no_mangle]
pub unsafe extern "C" fn zc_node_pcap_file(
    node: *const zc_node,
    out: *mut *mut c_char,
) -> zc_result {
    opt_field(node, out, |n| n.pcap_file.as_ref())
}

/// Legacy `$workers` (Bro 2.5: the workers a manager or proxy connects with): a sorted,
/// NULL-terminated array freed with `zc_strings_free` (`set()` gives an array holding only
/// the NULL), or `*out` NULL (with ZC_OK) when unset. Errors: ZC_ERR_NULL,
/// ZC_ERR_BAD_HANDLE.
#[no_mangle]
pub unsafe extern "C" fn zc_node_workers(
    node: *const zc_node,
    out: *mut *mut *mut c_char,
) -> zc_result {
    guard(|| {
        out_ptr(out, "out")?;
        let v = with_node(node, |_, n| {
            n.workers
                .as_ref()
                .map(|ws| give_strings(ws.iter().map(String::as_str)))
        })?;
        write_out(out, v.unwrap_or(std::ptr::null_mut()));
        Ok(())
    })
}

/// A ZeekControl node.cfg setting of a node read from node.cfg: `key` is "host",
/// "lb_method", "lb_procs", "pin_cpu", "aux_scripts", "env_vars" (all of them as
/// `K=V,K2=V2`, sorted by name; "" when none) or "env:<NAME>" (one of them).
/// `*out` is a string freed with `zc_string_free`, or NULL (ZC_OK) when the node has no such
/// setting. Errors: ZC_ERR_NULL, ZC_ERR_UTF8, ZC_ERR_BAD_HANDLE, ZC_ERR_INVALID_ARGUMENT
/// (unknown key).
#[no_mangle]
pub unsafe extern "C" fn zc_node_zeekctl(
    node: *const zc_node,
    key: *const c_char,
    out: *mut *mut c_char,
) -> zc_result {
    guard(|| {
        out_ptr(out, "out")?;
        let key = arg_str(key, "key")?;
        let n = NODES.get(node)?;
        let Some(z) = &n.1.zeekctl else {
            write_out(out, std::ptr::null_mut());
            return Ok(());
        };
        let v: Option<String> = match key {
            "host" => Some(z.host.clone()),
            "lb_method" => z.lb_method.clone(),
            "lb_procs" => z.lb_procs.map(|v| v.to_string()),
            "pin_cpu" => z.pin_cpu.map(|v| v.to_string()),
            "aux_scripts" => z.aux_scripts.clone(),
            "env_vars" => Some(z.env_vars.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(",")),
            k if k.starts_with("env:") => z.env_vars.get(&k[4..]).cloned(),
            other => {
                return Err(Error::invalid(format!(
                    "unknown node.cfg key \"{other}\" (expected host, lb_method, lb_procs, pin_cpu, aux_scripts, env_vars or env:<NAME>)"
                )))
            }
        };
        write_out(
            out,
            v.map(|s| give_string(&s)).unwrap_or(std::ptr::null_mut()),
        );
        Ok(())
    })
}
