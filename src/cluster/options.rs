//! Every redefinable `Cluster::` option of the two references, by its Zeek name, typed, with
//! its documented default.
//!
//! - Current framework (`base/frameworks/cluster/main.zeek`, seed 001): topics, store
//!   defaults, `manager_is_logger`, `enable_round_robin_logging`, `node`, `retry_interval`.
//!   Defaults are the seed's (e.g. `retry_interval = 1.0 min`; Zeek 7.2 lowered it to 1 sec).
//! - Legacy Bro 2.5 (`main.bro`, seed 000): the event-name patterns that route events between
//!   roles (`manager2worker_events`, ...), kept as pattern source text. The three
//!   `*2logger_events` patterns are not in the seed but were in Bro 2.5's main.bro.
//!
//! `Cluster::nodes` is the layout itself and `Cluster::stores` a table of store records
//! (later work); neither is an option here.

use crate::error::{Error, ErrorKind, Result};
use crate::layout::{Layout, OptionValue};
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

/// The environment variable that overrides `Cluster::retry_interval` when peering.
pub const CONNECT_RETRY_ENV: &str = "ZEEK_DEFAULT_CONNECT_RETRY";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Bool,
    Interval,
    Str,
    Pattern,
    /// An enum constant; the accepted names.
    Enum(&'static [&'static str]),
    /// Zeek's `int` (may be negative).
    Int,
    /// A port (`9991/tcp`).
    Port,
    /// A count.
    Count,
}

struct Spec {
    name: &'static str,
    kind: Kind,
    default: &'static str,
}

const BACKENDS: &[&str] = &["Broker::MEMORY", "Broker::SQLITE", "Broker::ROCKSDB"];

/// `Cluster::backend`'s constants (`init-bare.zeek`); zcluster speaks the first two.
pub const CLUSTER_BACKENDS: &[&str] = &[
    "Cluster::CLUSTER_BACKEND_BROKER",
    "Cluster::CLUSTER_BACKEND_ZEROMQ",
];
const EVENT_SERIALIZERS: &[&str] = &[
    "Cluster::EVENT_SERIALIZER_BROKER_BIN_V1",
    "Cluster::EVENT_SERIALIZER_BROKER_JSON_V1",
];
const LOG_SERIALIZERS: &[&str] = &["Cluster::LOG_SERIALIZER_ZEEK_BIN_V1"];

macro_rules! zmq_spec {
    ($name:literal, $kind:expr, $default:literal) => {
        Spec {
            name: concat!("Cluster::Backend::ZeroMQ::", $name),
            kind: $kind,
            default: $default,
        }
    };
}

const SPECS: &[Spec] = &[
    Spec {
        name: "Cluster::default_backend",
        kind: Kind::Enum(BACKENDS),
        default: "Broker::MEMORY",
    },
    Spec {
        name: "Cluster::default_master_node",
        kind: Kind::Str,
        default: "",
    },
    Spec {
        name: "Cluster::default_persistent_backend",
        kind: Kind::Enum(BACKENDS),
        default: "Broker::SQLITE",
    },
    Spec {
        name: "Cluster::default_store_dir",
        kind: Kind::Str,
        default: "",
    },
    Spec {
        name: "Cluster::enable_round_robin_logging",
        kind: Kind::Bool,
        default: "T",
    },
    Spec {
        name: "Cluster::logger_topic",
        kind: Kind::Str,
        default: "zeek/cluster/logger",
    },
    Spec {
        name: "Cluster::manager_is_logger",
        kind: Kind::Bool,
        default: "T",
    },
    Spec {
        name: "Cluster::manager_topic",
        kind: Kind::Str,
        default: "zeek/cluster/manager",
    },
    Spec {
        name: "Cluster::node",
        kind: Kind::Str,
        default: "",
    },
    Spec {
        name: "Cluster::node_topic_prefix",
        kind: Kind::Str,
        default: "zeek/cluster/node/",
    },
    Spec {
        name: "Cluster::nodeid_topic_prefix",
        kind: Kind::Str,
        default: "zeek/cluster/nodeid/",
    },
    Spec {
        name: "Cluster::proxy_topic",
        kind: Kind::Str,
        default: "zeek/cluster/proxy",
    },
    Spec {
        name: "Cluster::retry_interval",
        kind: Kind::Interval,
        default: "1.0 min",
    },
    Spec {
        name: "Cluster::time_machine_topic",
        kind: Kind::Str,
        default: "zeek/cluster/time_machine",
    },
    Spec {
        name: "Cluster::worker_topic",
        kind: Kind::Str,
        default: "zeek/cluster/worker",
    },
    // Bro 2.5 event routing patterns.
    Spec {
        name: "Cluster::control_events",
        kind: Kind::Pattern,
        default: "Control::.*_request",
    },
    Spec {
        name: "Cluster::manager2logger_events",
        kind: Kind::Pattern,
        default: "EMPTY",
    },
    Spec {
        name: "Cluster::manager2proxy_events",
        kind: Kind::Pattern,
        default: "EMPTY",
    },
    Spec {
        name: "Cluster::manager2worker_events",
        kind: Kind::Pattern,
        default: "Drop::.*",
    },
    Spec {
        name: "Cluster::proxy2logger_events",
        kind: Kind::Pattern,
        default: "EMPTY",
    },
    Spec {
        name: "Cluster::proxy2manager_events",
        kind: Kind::Pattern,
        default: "EMPTY",
    },
    Spec {
        name: "Cluster::proxy2worker_events",
        kind: Kind::Pattern,
        default: "EMPTY",
    },
    Spec {
        name: "Cluster::tm2manager_events",
        kind: Kind::Pattern,
        default: "EMPTY",
    },
    Spec {
        name: "Cluster::tm2worker_events",
        kind: Kind::Pattern,
        default: "EMPTY",
    },
    Spec {
        name: "Cluster::worker2logger_events",
        kind: Kind::Pattern,
        default: "EMPTY",
    },
    Spec {
        name: "Cluster::worker2manager_events",
        kind: Kind::Pattern,
        default: "(TimeMachine::command|Drop::.*)",
    },
    Spec {
        name: "Cluster::worker2proxy_events",
        kind: Kind::Pattern,
        default: "EMPTY",
    },
    // The cluster backend (`init-bare.zeek`). Zeek's own default is NONE, which its
    // base scripts turn into Broker; loading `policy/frameworks/cluster/backend/zeromq`
    // switches to ZeroMQ (a layout directory with ZeekControl's zeekctl-config.zeek does).
    Spec {
        name: "Cluster::backend",
        kind: Kind::Enum(CLUSTER_BACKENDS),
        default: "Cluster::CLUSTER_BACKEND_BROKER",
    },
    Spec {
        name: "Cluster::event_serializer",
        kind: Kind::Enum(EVENT_SERIALIZERS),
        default: "Cluster::EVENT_SERIALIZER_BROKER_BIN_V1",
    },
    Spec {
        name: "Cluster::log_serializer",
        kind: Kind::Enum(LOG_SERIALIZERS),
        default: "Cluster::LOG_SERIALIZER_ZEEK_BIN_V1",
    },
    // `policy/frameworks/cluster/backend/zeromq/options.zeek`, names and defaults as
    // there. `connect_log_endpoints` (a vector) takes a comma-separated list here.
    zmq_spec!("connect_xpub_endpoint", Kind::Str, "tcp://127.0.0.1:5556"),
    zmq_spec!("connect_xsub_endpoint", Kind::Str, "tcp://127.0.0.1:5555"),
    zmq_spec!("connect_log_endpoints", Kind::Str, ""),
    zmq_spec!("run_proxy_thread", Kind::Bool, "F"),
    zmq_spec!("proxy_io_threads", Kind::Count, "2"),
    zmq_spec!("listen_xsub_endpoint", Kind::Str, "tcp://127.0.0.1:5556"),
    zmq_spec!("listen_xpub_endpoint", Kind::Str, "tcp://127.0.0.1:5555"),
    zmq_spec!("listen_log_endpoint", Kind::Str, ""),
    zmq_spec!("linger_ms", Kind::Int, "500"),
    zmq_spec!("xpub_sndhwm", Kind::Int, "1000"),
    zmq_spec!("xpub_sndbuf", Kind::Int, "-1"),
    zmq_spec!("xsub_rcvhwm", Kind::Int, "1000"),
    zmq_spec!("xsub_rcvbuf", Kind::Int, "-1"),
    zmq_spec!("onloop_queue_hwm", Kind::Count, "10000"),
    zmq_spec!("log_immediate", Kind::Bool, "F"),
    zmq_spec!("log_sndhwm", Kind::Int, "1000"),
    zmq_spec!("log_rcvhwm", Kind::Int, "1000"),
    zmq_spec!("log_sndbuf", Kind::Int, "-1"),
    zmq_spec!("log_rcvbuf", Kind::Int, "-1"),
    zmq_spec!("ipv6", Kind::Bool, "F"),
    zmq_spec!("connect_xpub_nodrop", Kind::Bool, "T"),
    zmq_spec!("listen_xpub_nodrop", Kind::Bool, "T"),
    zmq_spec!("poll_max_messages", Kind::Count, "100"),
    zmq_spec!("debug_flags", Kind::Count, "0"),
    zmq_spec!("curve_server_publickey", Kind::Str, ""),
    zmq_spec!("curve_server_secretkey", Kind::Str, ""),
    zmq_spec!("curve_client_publickey", Kind::Str, ""),
    zmq_spec!("curve_client_secretkey", Kind::Str, ""),
    zmq_spec!("node_topic_prefix", Kind::Str, "zeek.cluster.node"),
    zmq_spec!("nodeid_topic_prefix", Kind::Str, "zeek.cluster.nodeid"),
    zmq_spec!("hello_expiration", Kind::Interval, "10.0 secs"),
    zmq_spec!("internal_topic_prefix", Kind::Str, "zeek.zeromq.internal."),
    // zcluster's own (not Zeek's): what a full XPUB queue does to a publish.
    // `backpressure` (default) keeps the message and makes publishers wait, as on
    // Broker; `drop` drops it and counts it, as Zeek does
    // (`zeek_cluster_zeromq_xpub_drops_total`).
    zmq_spec!(
        "zc_overflow_policy",
        Kind::Enum(&["backpressure", "drop"]),
        "backpressure"
    ),
    // Broker's clone timing, the defaults of `Cluster::StoreInfo`'s clone_* fields.
    Spec {
        name: "Broker::default_clone_resync_interval",
        kind: Kind::Interval,
        default: "10.0 secs",
    },
    Spec {
        name: "Broker::default_clone_stale_interval",
        kind: Kind::Interval,
        default: "5.0 mins",
    },
    Spec {
        name: "Broker::default_clone_mutation_buffer_interval",
        kind: Kind::Interval,
        default: "2.0 mins",
    },
    // Logging (`base/frameworks/logging/main.zeek`, `writers/ascii.zeek`,
    // `base/frameworks/broker/main.zeek`): what a zcluster logger and sender use.
    Spec {
        name: "Broker::log_batch_interval",
        kind: Kind::Interval,
        default: "1.0 sec",
    },
    Spec {
        name: "Broker::log_batch_size",
        kind: Kind::Count,
        default: "400",
    },
    // The write buffer of pluggable cluster backends (ZeroMQ), `init-bare.zeek`.
    Spec {
        name: "Log::write_buffer_size",
        kind: Kind::Count,
        default: "1000",
    },
    Spec {
        name: "Log::flush_interval",
        kind: Kind::Interval,
        default: "1.0 sec",
    },
    Spec {
        name: "Log::default_rotation_dir",
        kind: Kind::Str,
        default: "",
    },
    Spec {
        name: "Log::default_rotation_interval",
        kind: Kind::Interval,
        default: "0 secs",
    },
    Spec {
        name: "Log::default_rotation_postprocessor_cmd",
        kind: Kind::Str,
        default: "",
    },
    Spec {
        name: "LogAscii::use_json",
        kind: Kind::Bool,
        default: "F",
    },
    // Telemetry (base/frameworks/telemetry/options.zeek). In a cluster Zeek sets the
    // port from the node's `$metrics_port` and the endpoint name to `Cluster::node`.
    Spec {
        name: "Telemetry::metrics_port",
        kind: Kind::Port,
        default: "0/unknown",
    },
    Spec {
        name: "Telemetry::metrics_address",
        kind: Kind::Str,
        default: "",
    },
    Spec {
        name: "Telemetry::metrics_endpoint_name",
        kind: Kind::Str,
        default: "",
    },
    // WebSocketServerOptions' defaults (base/frameworks/cluster/types.zeek).
    Spec {
        name: "Cluster::default_websocket_max_event_queue_size",
        kind: Kind::Count,
        default: "32",
    },
    Spec {
        name: "Cluster::default_websocket_ping_interval",
        kind: Kind::Interval,
        default: "5.0 secs",
    },
    // TLS of the peerings (`base/frameworks/broker/main.zeek`); see `endpoint::TlsOptions`.
    Spec {
        name: "Broker::disable_ssl",
        kind: Kind::Bool,
        default: "F",
    },
    Spec {
        name: "Broker::ssl_cafile",
        kind: Kind::Str,
        default: "",
    },
    Spec {
        name: "Broker::ssl_capath",
        kind: Kind::Str,
        default: "",
    },
    Spec {
        name: "Broker::ssl_certificate",
        kind: Kind::Str,
        default: "",
    },
    Spec {
        name: "Broker::ssl_keyfile",
        kind: Kind::Str,
        default: "",
    },
    Spec {
        name: "Broker::ssl_passphrase",
        kind: Kind::Str,
        default: "",
    },
];

fn spec(name: &str) -> Option<&'static Spec> {
    SPECS.iter().find(|s| s.name == name)
}

/// The names of every option, in table order.
pub fn names() -> impl Iterator<Item = &'static str> {
    SPECS.iter().map(|s| s.name)
}

pub fn is_known(name: &str) -> bool {
    spec(name).is_some()
}

fn unknown(name: &str) -> String {
    let hint = names()
        .map(|n| (edit_distance(name, n), n))
        .filter(|(d, _)| *d <= 3)
        .min()
        .map(|(_, n)| format!("did you mean {n}? "))
        .unwrap_or_default();
    format!(
        "unknown option \"{name}\" ({hint}expected one of: {}, or one of Zeek's Cluster::Backend::ZeroMQ:: options)",
        names()
            .filter(|n| !n.starts_with("Cluster::Backend::ZeroMQ::"))
            .collect::<Vec<_>>()
            .join(", ")
    )
}

/// Levenshtein distance over bytes (option names are ASCII).
fn edit_distance(a: &str, b: &str) -> usize {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(ca != cb))
                .min(prev[j + 1] + 1)
                .min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

fn kind_value(kind: Kind, default: &str) -> OptionValue {
    match kind {
        Kind::Bool => OptionValue::Bool(default == "T"),
        Kind::Interval => {
            OptionValue::Interval(crate::layout::value_parse_interval(default).unwrap_or(0.0))
        }
        Kind::Str => OptionValue::String(default.to_string()),
        Kind::Pattern => OptionValue::Pattern(default.to_string()),
        Kind::Enum(_) => OptionValue::Enum(default.to_string()),
        Kind::Int => OptionValue::Int(default.parse().unwrap_or(0)),
        Kind::Port => OptionValue::Port(
            crate::layout::Port::parse(default).unwrap_or(crate::layout::Port::UNSET),
        ),
        Kind::Count => OptionValue::Count(default.parse().unwrap_or(0)),
    }
}

/// The documented default of an option.
pub fn default_value(name: &str) -> Option<OptionValue> {
    spec(name).map(|s| kind_value(s.kind, s.default))
}

fn expected(kind: Kind) -> String {
    match kind {
        Kind::Bool => "T, F, true or false".to_string(),
        Kind::Interval => {
            "an interval such as 1.0 min, 30 secs or 2 hrs, or a number of seconds".to_string()
        }
        Kind::Str => "a string".to_string(),
        Kind::Pattern => "a pattern such as /Drop::.*/".to_string(),
        Kind::Enum(names) => format!("one of {}", names.join(", ")),
        Kind::Int => "an integer such as 1000 or -1".to_string(),
        Kind::Port => "a port such as 9991/tcp".to_string(),
        Kind::Count => "a count (a non-negative integer)".to_string(),
    }
}

/// Parses an option's value from text in Zeek syntax (what `zc_options_set` takes):
/// bools `T`/`F`/`true`/`false`/`1`/`0`; intervals `1.0 min`, `30secs`, or plain seconds
/// (`2.5`); strings as they are (or a quoted Zeek literal); patterns `/re/` or the bare
/// regular expression; enums by full (`Broker::SQLITE`) or short (`SQLITE`) name.
pub fn parse_text(name: &str, text: &str) -> std::result::Result<OptionValue, String> {
    let Some(s) = spec(name) else {
        return Err(unknown(name));
    };
    let t = text.trim();
    let bad = || {
        format!(
            "option {name}: expected {}, found \"{text}\"",
            expected(s.kind)
        )
    };
    Ok(match s.kind {
        Kind::Bool => match t {
            "T" | "true" | "True" | "TRUE" | "1" => OptionValue::Bool(true),
            "F" | "false" | "False" | "FALSE" | "0" => OptionValue::Bool(false),
            _ => return Err(bad()),
        },
        Kind::Interval => match crate::layout::value_parse_interval(t) {
            Some(v) => OptionValue::Interval(v),
            None => match t.parse::<f64>() {
                Ok(v) if v.is_finite() => OptionValue::Interval(v),
                _ => return Err(bad()),
            },
        },
        Kind::Str => {
            if t.len() >= 2 && t.starts_with('"') && t.ends_with('"') {
                let mut c = crate::layout::ZeekCursor::new(t, "<option>");
                match c.value() {
                    Ok((_, OptionValue::String(v))) if c.at_end() => OptionValue::String(v),
                    _ => OptionValue::String(text.to_string()),
                }
            } else {
                OptionValue::String(text.to_string())
            }
        }
        Kind::Pattern => match t.strip_prefix('/').and_then(|r| r.strip_suffix('/')) {
            Some(inner) if t.len() >= 2 => OptionValue::Pattern(inner.to_string()),
            _ => OptionValue::Pattern(text.to_string()),
        },
        Kind::Int => match t.parse::<i64>() {
            Ok(v) => OptionValue::Int(v),
            Err(_) => return Err(bad()),
        },
        Kind::Enum(names) => match names.iter().find(|n| {
            **n == t
                || n.rsplit("::").next() == Some(t)
                // `Cluster::backend`: also `Broker` / `ZeroMQ` (ZeekControl's spelling).
                || n.strip_prefix("Cluster::CLUSTER_BACKEND_")
                    .is_some_and(|b| b.eq_ignore_ascii_case(t))
        }) {
            Some(n) => OptionValue::Enum(n.to_string()),
            None => return Err(bad()),
        },
        Kind::Port => match crate::layout::Port::parse(t) {
            Ok(p) => OptionValue::Port(p),
            Err(_) => match t.parse::<u16>() {
                Ok(n) => OptionValue::Port(crate::layout::Port::tcp(n)),
                Err(_) => return Err(bad()),
            },
        },
        Kind::Count => match t.parse::<u64>() {
            Ok(n) => OptionValue::Count(n),
            Err(_) => return Err(bad()),
        },
    })
}

/// Checks a value a layout file gives an option (Zeek's typing: no bare number for an
/// interval); the error says what was expected.
pub fn check_layout_value(name: &str, v: OptionValue) -> std::result::Result<OptionValue, String> {
    let Some(s) = spec(name) else {
        return Err(unknown(name));
    };
    let ok = match (&s.kind, &v) {
        (Kind::Bool, OptionValue::Bool(_))
        | (Kind::Interval, OptionValue::Interval(_))
        | (Kind::Str, OptionValue::String(_))
        | (Kind::Pattern, OptionValue::Pattern(_))
        | (Kind::Port, OptionValue::Port(_))
        | (Kind::Count, OptionValue::Count(_)) => true,
        (Kind::Enum(names), OptionValue::Enum(e)) => names.contains(&e.as_str()),
        (Kind::Int, OptionValue::Int(_)) => true,
        (Kind::Int, OptionValue::Count(c)) => {
            return i64::try_from(*c)
                .map(OptionValue::Int)
                .map_err(|_| format!("option {name}: {c} does not fit an int"))
        }
        _ => false,
    };
    if ok {
        Ok(v)
    } else {
        let found = match &v {
            OptionValue::Enum(e) => e.clone(),
            other => other.kind().to_string(),
        };
        Err(format!(
            "option {name}: expected {}, found {found}",
            expected(s.kind)
        ))
    }
}

/// The cluster backend a node speaks (`Cluster::backend`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClusterBackend {
    /// Broker's peer-to-peer protocol (the default).
    Broker,
    /// Zeek's ZeroMQ backend: XPUB/XSUB through a central proxy (`crate::zeromq`).
    ZeroMQ,
}

/// A set of option values: defaults, then a layout's redefs, then explicit settings.
#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    values: BTreeMap<&'static str, OptionValue>,
    explicit: BTreeSet<&'static str>,
}

impl Default for Options {
    fn default() -> Self {
        Options::new()
    }
}

impl Options {
    /// Every option at its documented default.
    pub fn new() -> Options {
        Options {
            values: SPECS
                .iter()
                .map(|s| (s.name, kind_value(s.kind, s.default)))
                .collect(),
            explicit: BTreeSet::new(),
        }
    }

    /// Sets an option from text in Zeek syntax (see `parse_text`). An unknown name is
    /// `NotFound`, a bad value `InvalidArgument`; both messages list what is accepted.
    pub fn set(&mut self, name: &str, text: &str) -> Result<()> {
        let Some(s) = spec(name) else {
            return Err(Error::new(ErrorKind::NotFound, unknown(name)));
        };
        let v = parse_text(name, text).map_err(Error::invalid)?;
        self.values.insert(s.name, v);
        self.explicit.insert(s.name);
        Ok(())
    }

    /// Sets an option to a typed value (checked against the option's type).
    pub fn set_value(&mut self, name: &str, v: OptionValue) -> Result<()> {
        let Some(s) = spec(name) else {
            return Err(Error::new(ErrorKind::NotFound, unknown(name)));
        };
        let v = check_layout_value(name, v).map_err(Error::invalid)?;
        self.values.insert(s.name, v);
        self.explicit.insert(s.name);
        Ok(())
    }

    pub fn get(&self, name: &str) -> Result<&OptionValue> {
        self.values
            .get(name)
            .ok_or_else(|| Error::new(ErrorKind::NotFound, unknown(name)))
    }

    /// The value as text: strings bare (no quotes), patterns `/re/`, intervals as Zeek
    /// prints them (`1.0 min`), bools `T`/`F`, enums by full name. `set(name, get_text(name))`
    /// gives the same value back.
    pub fn get_text(&self, name: &str) -> Result<String> {
        Ok(match self.get(name)? {
            OptionValue::String(s) => s.clone(),
            other => other.to_string(),
        })
    }

    /// Whether the option was set explicitly (by `set`, or by a layout it was merged with).
    pub fn is_set(&self, name: &str) -> bool {
        self.explicit.contains(name)
    }

    /// The options a layout sets, with `self`'s explicit settings on top: defaults <
    /// layout < explicit. Layout redefs outside the `Cluster::` options are ignored.
    pub fn layered_over(&self, layout: &Layout) -> Options {
        let mut out = Options::new();
        for (name, v) in &layout.options {
            if let Some(s) = spec(name) {
                if let Ok(v) = check_layout_value(name, v.clone()) {
                    out.values.insert(s.name, v);
                    out.explicit.insert(s.name);
                }
            }
        }
        for name in &self.explicit {
            if let Some(v) = self.values.get(name) {
                out.values.insert(name, v.clone());
                out.explicit.insert(name);
            }
        }
        if out.cluster_backend() == ClusterBackend::ZeroMQ {
            out.apply_zeromq_defaults();
        }
        out
    }

    /// What loading `policy/frameworks/cluster/backend/zeromq` redefines: dotted role
    /// topics (unless set), and node / nodeid topics built from the ZeroMQ prefixes with
    /// "." separators (`zeromq_node_topic`, `zeromq_nodeid_topic`: always, as Zeek's
    /// redef of the functions ignores `Cluster::node_topic_prefix`).
    fn apply_zeromq_defaults(&mut self) {
        for (name, v) in [
            ("Cluster::logger_topic", "zeek.cluster.logger"),
            ("Cluster::manager_topic", "zeek.cluster.manager"),
            ("Cluster::proxy_topic", "zeek.cluster.proxy"),
            ("Cluster::worker_topic", "zeek.cluster.worker"),
        ] {
            if !self.is_set(name) {
                self.values.insert(
                    spec(name).map_or(name, |s| s.name),
                    OptionValue::String(v.to_string()),
                );
            }
        }
        let node = format!("{}.", self.zeromq_str("node_topic_prefix"));
        let nodeid = format!("{}.", self.zeromq_str("nodeid_topic_prefix"));
        self.values
            .insert("Cluster::node_topic_prefix", OptionValue::String(node));
        self.values
            .insert("Cluster::nodeid_topic_prefix", OptionValue::String(nodeid));
    }

    /// `Cluster::backend`.
    pub fn cluster_backend(&self) -> ClusterBackend {
        match self.values.get("Cluster::backend") {
            Some(OptionValue::Enum(e)) if e == "Cluster::CLUSTER_BACKEND_ZEROMQ" => {
                ClusterBackend::ZeroMQ
            }
            _ => ClusterBackend::Broker,
        }
    }

    /// The separator of node and nodeid topics: "/" (Broker) or "." (ZeroMQ).
    pub fn topic_separator(&self) -> &'static str {
        match self.cluster_backend() {
            ClusterBackend::Broker => "/",
            ClusterBackend::ZeroMQ => ".",
        }
    }

    /// `Cluster::Backend::ZeroMQ::<short>` as a string ("" if not a string option).
    pub fn zeromq_str(&self, short: &str) -> &str {
        match self
            .values
            .get(format!("Cluster::Backend::ZeroMQ::{short}").as_str())
        {
            Some(OptionValue::String(s)) => s,
            Some(OptionValue::Enum(s)) => s,
            _ => "",
        }
    }

    /// `Cluster::Backend::ZeroMQ::<short>` as a number (ints, counts; bools as 0/1).
    pub fn zeromq_int(&self, short: &str) -> i64 {
        match self
            .values
            .get(format!("Cluster::Backend::ZeroMQ::{short}").as_str())
        {
            Some(OptionValue::Int(v)) => *v,
            Some(OptionValue::Count(v)) => i64::try_from(*v).unwrap_or(i64::MAX),
            Some(OptionValue::Bool(b)) => i64::from(*b),
            _ => 0,
        }
    }

    pub fn zeromq_bool(&self, short: &str) -> bool {
        self.zeromq_int(short) != 0
    }

    /// Whether `Cluster::Backend::ZeroMQ::<short>` was set (explicitly or by the layout).
    pub fn zeromq_is_set(&self, short: &str) -> bool {
        self.is_set(&format!("Cluster::Backend::ZeroMQ::{short}"))
    }

    fn string(&self, name: &str) -> &str {
        match self.values.get(name) {
            Some(OptionValue::String(s)) => s,
            _ => "",
        }
    }

    fn boolean(&self, name: &str) -> bool {
        matches!(self.values.get(name), Some(OptionValue::Bool(true)))
    }

    /// A port option's number (0 when unset).
    pub fn port(&self, name: &str) -> u16 {
        match self.values.get(name) {
            Some(OptionValue::Port(p)) => p.number,
            _ => 0,
        }
    }

    /// A count option's value (0 when unset).
    pub fn count(&self, name: &str) -> u64 {
        match self.values.get(name) {
            Some(OptionValue::Count(n)) => *n,
            _ => 0,
        }
    }

    /// A string option's value ("" when unset).
    pub fn text(&self, name: &str) -> &str {
        self.string(name)
    }

    pub fn retry_interval(&self) -> Duration {
        match self.values.get("Cluster::retry_interval") {
            Some(OptionValue::Interval(s)) if *s > 0.0 && s.is_finite() => {
                Duration::from_secs_f64(*s)
            }
            _ => Duration::ZERO,
        }
    }

    /// The retry Broker actually uses when peering (Zeek's `Broker::Manager::Peer`): a set
    /// `ZEEK_DEFAULT_CONNECT_RETRY` (passed in, so callers decide where it comes from) is
    /// read like C's `atoi`, in whole seconds, and replaces `retry_interval`; a retry
    /// between 0 and 1 s becomes 1 s; the result is truncated to whole seconds.
    pub fn peer_retry(&self, env: Option<&str>) -> Duration {
        let secs: f64 = match env {
            Some(text) => atoi(text) as f64,
            None => self.retry_interval().as_secs_f64(),
        };
        let secs = if secs > 0.0 && secs < 1.0 { 1.0 } else { secs };
        if secs <= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs(secs.min(u32::MAX as f64) as u64)
        }
    }

    /// The peerings' TLS settings (`Broker::disable_ssl`, `Broker::ssl_*`).
    pub fn tls(&self) -> crate::endpoint::TlsOptions {
        crate::endpoint::TlsOptions {
            disable: self.boolean("Broker::disable_ssl"),
            cafile: self.string("Broker::ssl_cafile").to_string(),
            capath: self.string("Broker::ssl_capath").to_string(),
            certificate: self.string("Broker::ssl_certificate").to_string(),
            keyfile: self.string("Broker::ssl_keyfile").to_string(),
            passphrase: self.string("Broker::ssl_passphrase").to_string(),
        }
    }

    pub fn manager_is_logger(&self) -> bool {
        self.boolean("Cluster::manager_is_logger")
    }

    pub fn enable_round_robin_logging(&self) -> bool {
        self.boolean("Cluster::enable_round_robin_logging")
    }

    pub fn node_topic_prefix(&self) -> &str {
        self.string("Cluster::node_topic_prefix")
    }

    pub fn nodeid_topic_prefix(&self) -> &str {
        self.string("Cluster::nodeid_topic_prefix")
    }

    /// A string option's value ("" if unset or not a string).
    pub fn string_value(&self, name: &str) -> &str {
        self.string(name)
    }

    /// A bool option's value (false if unset).
    pub fn bool_value(&self, name: &str) -> bool {
        self.boolean(name)
    }

    /// A count option's value (0 if unset or not a count).
    pub fn count_value(&self, name: &str) -> u64 {
        match self.values.get(name) {
            Some(OptionValue::Count(c)) => *c,
            _ => 0,
        }
    }

    /// An interval option in seconds (0 if unset or not an interval).
    pub fn interval_secs(&self, name: &str) -> f64 {
        match self.values.get(name) {
            Some(OptionValue::Interval(s)) if s.is_finite() => *s,
            _ => 0.0,
        }
    }

    pub fn default_store_dir(&self) -> &str {
        self.string("Cluster::default_store_dir")
    }

    /// An interval option in nanoseconds (the store core's unit); 0 if unset or not an
    /// interval. Negative values stay negative (e.g. a stale interval of "never").
    pub fn interval_ns(&self, name: &str) -> i64 {
        match self.values.get(name) {
            Some(OptionValue::Interval(s)) if s.is_finite() => (s * 1e9) as i64,
            _ => 0,
        }
    }

    /// `Cluster::default_backend` or `Cluster::default_persistent_backend` (Broker::...).
    pub fn backend(&self, name: &str) -> Result<crate::store::BackendKind> {
        match self.values.get(name) {
            Some(OptionValue::Enum(e)) => crate::store::BackendKind::from_zeek_name(e)
                .map_err(|err| Error::new(err.kind, format!("option {name}: {}", err.message))),
            _ => Err(Error::invalid(format!("option {name} is not a backend"))),
        }
    }

    pub fn default_master_node(&self) -> &str {
        self.string("Cluster::default_master_node")
    }

    /// `Cluster::node` when set explicitly (or by the layout) to a non-empty name.
    pub fn node(&self) -> Option<&str> {
        let n = self.string("Cluster::node");
        (self.is_set("Cluster::node") && !n.is_empty()).then_some(n)
    }

    /// The per-type topic (`Cluster::worker_topic`, ...); None for NONE and CONTROL.
    pub fn type_topic(&self, t: crate::layout::NodeType) -> Option<&str> {
        use crate::layout::NodeType::*;
        let name = match t {
            Manager => "Cluster::manager_topic",
            Logger => "Cluster::logger_topic",
            Proxy => "Cluster::proxy_topic",
            Worker => "Cluster::worker_topic",
            TimeMachine => "Cluster::time_machine_topic",
            None | Control => return Option::None,
        };
        Some(self.string(name))
    }
}

/// C's `atoi`: leading blanks, an optional sign, digits up to the first non-digit; 0 when
/// there are none; saturating instead of undefined on overflow.
fn atoi(s: &str) -> i64 {
    let t = s.trim_start_matches([' ', '\t', '\n', '\r', '\x0b', '\x0c']);
    let (neg, digits) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let mut v: i64 = 0;
    for b in digits.bytes().take_while(|b| b.is_ascii_digit()) {
        v = v.saturating_mul(10).saturating_add((b - b'0') as i64);
    }
    if neg {
        -v
    } else {
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layout::{Format, NodeType};

    #[test]
    fn defaults_are_the_references() {
        let o = Options::new();
        assert_eq!(o.get_text("Cluster::retry_interval").unwrap(), "1.0 min");
        assert_eq!(o.retry_interval(), Duration::from_secs(60));
        assert_eq!(o.get_text("Cluster::manager_is_logger").unwrap(), "T");
        assert_eq!(
            o.get_text("Cluster::enable_round_robin_logging").unwrap(),
            "T"
        );
        assert_eq!(
            o.get_text("Cluster::worker_topic").unwrap(),
            "zeek/cluster/worker"
        );
        assert_eq!(
            o.get_text("Cluster::logger_topic").unwrap(),
            "zeek/cluster/logger"
        );
        assert_eq!(
            o.get_text("Cluster::manager_topic").unwrap(),
            "zeek/cluster/manager"
        );
        assert_eq!(
            o.get_text("Cluster::proxy_topic").unwrap(),
            "zeek/cluster/proxy"
        );
        assert_eq!(
            o.get_text("Cluster::time_machine_topic").unwrap(),
            "zeek/cluster/time_machine"
        );
        assert_eq!(
            o.get_text("Cluster::node_topic_prefix").unwrap(),
            "zeek/cluster/node/"
        );
        assert_eq!(
            o.get_text("Cluster::nodeid_topic_prefix").unwrap(),
            "zeek/cluster/nodeid/"
        );
        assert_eq!(
            o.get_text("Cluster::default_backend").unwrap(),
            "Broker::MEMORY"
        );
        assert_eq!(
            o.get_text("Cluster::default_persistent_backend").unwrap(),
            "Broker::SQLITE"
        );
        assert_eq!(o.get_text("Cluster::default_store_dir").unwrap(), "");
        assert_eq!(o.get_text("Cluster::default_master_node").unwrap(), "");
        assert_eq!(o.get_text("Cluster::node").unwrap(), "");
        assert_eq!(
            o.get_text("Cluster::manager2worker_events").unwrap(),
            "/Drop::.*/"
        );
        assert_eq!(
            o.get_text("Cluster::worker2manager_events").unwrap(),
            "/(TimeMachine::command|Drop::.*)/"
        );
        assert_eq!(
            o.get_text("Cluster::control_events").unwrap(),
            "/Control::.*_request/"
        );
        for n in [
            "manager2proxy",
            "proxy2manager",
            "proxy2worker",
            "worker2proxy",
            "tm2manager",
            "tm2worker",
        ] {
            assert_eq!(
                o.get_text(&format!("Cluster::{n}_events")).unwrap(),
                "/EMPTY/",
                "{n}"
            );
        }
        assert_eq!(o.type_topic(NodeType::Worker), Some("zeek/cluster/worker"));
        assert_eq!(o.type_topic(NodeType::Control), None);
        assert_eq!(o.node(), None);
        assert_eq!(o.get_text("Broker::disable_ssl").unwrap(), "F");
        assert_eq!(o.tls(), crate::endpoint::TlsOptions::default());
    }

    #[test]
    fn set_parses_zeek_syntax() {
        let mut o = Options::new();
        for (text, secs) in [
            ("1.0 min", 60.0),
            ("30secs", 30.0),
            ("2 hrs", 7200.0),
            ("2.5", 2.5),
            ("250 msecs", 0.25),
            ("1 day", 86400.0),
        ] {
            o.set("Cluster::retry_interval", text).unwrap();
            assert_eq!(
                o.get("Cluster::retry_interval").unwrap(),
                &OptionValue::Interval(secs),
                "{text}"
            );
        }
        o.set("Cluster::retry_interval", "90").unwrap();
        assert_eq!(
            o.get_text("Cluster::retry_interval").unwrap(),
            "1.0 min 30.0 secs"
        );
        for (t, b) in [
            ("T", true),
            ("F", false),
            ("true", true),
            ("false", false),
            ("1", true),
            ("0", false),
        ] {
            o.set("Cluster::manager_is_logger", t).unwrap();
            assert_eq!(o.manager_is_logger(), b, "{t}");
        }
        o.set("Cluster::worker_topic", "my/workers").unwrap();
        assert_eq!(o.get_text("Cluster::worker_topic").unwrap(), "my/workers");
        o.set("Cluster::worker_topic", "\"quoted\\tx\"").unwrap();
        assert_eq!(o.get_text("Cluster::worker_topic").unwrap(), "quoted\tx");
        o.set("Cluster::default_backend", "SQLITE").unwrap();
        assert_eq!(
            o.get_text("Cluster::default_backend").unwrap(),
            "Broker::SQLITE"
        );
        o.set("Cluster::manager2worker_events", "/Drop::.*|Intel::.*/")
            .unwrap();
        assert_eq!(
            o.get("Cluster::manager2worker_events").unwrap(),
            &OptionValue::Pattern("Drop::.*|Intel::.*".into())
        );
        // Round trip through text.
        let t = o.get_text("Cluster::manager2worker_events").unwrap();
        o.set("Cluster::manager2worker_events", &t).unwrap();
        assert_eq!(
            o.get("Cluster::manager2worker_events").unwrap(),
            &OptionValue::Pattern("Drop::.*|Intel::.*".into())
        );
    }

    #[test]
    fn set_rejects_unknown_names_and_bad_values_with_what_is_accepted() {
        let mut o = Options::new();
        let e = o.set("Cluster::retry", "1 sec").unwrap_err();
        assert_eq!(e.kind, ErrorKind::NotFound);
        assert!(
            e.message.starts_with(
                "unknown option \"Cluster::retry\" (expected one of: Cluster::default_backend, "
            ),
            "{}",
            e.message
        );
        assert!(e.message.contains("Cluster::retry_interval"));
        let e = o.set("Cluster::retry_interval", "soon").unwrap_err();
        assert_eq!(e.kind, ErrorKind::InvalidArgument);
        assert_eq!(
            e.message,
            "option Cluster::retry_interval: expected an interval such as 1.0 min, 30 secs or 2 hrs, or a number of seconds, found \"soon\""
        );
        let e = o.set("Cluster::manager_is_logger", "yes").unwrap_err();
        assert_eq!(
            e.message,
            "option Cluster::manager_is_logger: expected T, F, true or false, found \"yes\""
        );
        let e = o
            .set("Cluster::default_backend", "Broker::DISK")
            .unwrap_err();
        assert_eq!(
            e.message,
            "option Cluster::default_backend: expected one of Broker::MEMORY, Broker::SQLITE, Broker::ROCKSDB, found \"Broker::DISK\""
        );
        // A failed set leaves the value alone.
        assert_eq!(o.retry_interval(), Duration::from_secs(60));
    }

    #[test]
    fn layout_options_apply_over_defaults_and_explicit_over_those() {
        let layout = Layout::parse(
            "redef Cluster::manager_is_logger = F;\nredef Cluster::retry_interval = 30 secs;\nredef Cluster::nodes = {};\n",
            Some(Format::Zeek),
        )
        .unwrap();
        let mut explicit = Options::new();
        explicit.set("Cluster::retry_interval", "5").unwrap();
        let o = explicit.layered_over(&layout);
        assert!(!o.manager_is_logger());
        assert_eq!(o.retry_interval(), Duration::from_secs(5));
        let o = Options::new().layered_over(&layout);
        assert_eq!(o.retry_interval(), Duration::from_secs(30));
        assert!(o.enable_round_robin_logging());
    }

    #[test]
    fn tls_options_come_from_the_layout_and_explicit_settings() {
        let layout = Layout::parse(
            "redef Broker::disable_ssl = T;\nredef Broker::ssl_cafile = \"/etc/ca.pem\";\nredef Cluster::nodes = {};\n",
            Some(Format::Zeek),
        )
        .unwrap();
        let o = Options::new().layered_over(&layout);
        let t = o.tls();
        assert!(t.disable);
        assert_eq!(t.cafile, "/etc/ca.pem");
        let mut explicit = Options::new();
        explicit.set("Broker::disable_ssl", "F").unwrap();
        explicit
            .set("Broker::ssl_passphrase", "\"se cret\"")
            .unwrap();
        let t = explicit.layered_over(&layout).tls();
        assert!(!t.disable);
        assert_eq!(t.passphrase, "se cret");
        assert_eq!(t.mode(), crate::endpoint::TlsMode::Authenticated);
        assert!(Options::new().set("Broker::disable_ssl", "maybe").is_err());
        // The JSON layout form carries them too.
        let json = Layout::parse(
            r#"{"nodes": {}, "options": {"Broker::disable_ssl": true, "Broker::ssl_keyfile": "/k.pem"}}"#,
            Some(Format::Json),
        )
        .unwrap();
        let t = Options::new().layered_over(&json).tls();
        assert!(t.disable);
        assert_eq!(t.keyfile, "/k.pem");
    }

    #[test]
    fn connect_retry_env_overrides_like_broker_does() {
        let mut o = Options::new();
        assert_eq!(o.peer_retry(None), Duration::from_secs(60));
        assert_eq!(o.peer_retry(Some("1")), Duration::from_secs(1));
        assert_eq!(o.peer_retry(Some("  7xyz")), Duration::from_secs(7));
        assert_eq!(o.peer_retry(Some("2.9")), Duration::from_secs(2));
        assert_eq!(o.peer_retry(Some("abc")), Duration::ZERO);
        assert_eq!(o.peer_retry(Some("")), Duration::ZERO);
        assert_eq!(o.peer_retry(Some("-3")), Duration::ZERO);
        o.set("Cluster::retry_interval", "250 msecs").unwrap();
        assert_eq!(o.peer_retry(None), Duration::from_secs(1));
        o.set("Cluster::retry_interval", "2.7").unwrap();
        assert_eq!(o.peer_retry(None), Duration::from_secs(2));
        // The option's value itself is untouched by the override.
        assert_eq!(
            o.get_text("Cluster::retry_interval").unwrap(),
            "2.0 secs 700.0 msecs"
        );
    }
}
