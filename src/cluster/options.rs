//! A node's option values: every cluster option of the catalogue (`crate::options`,
//! `Scope::Cluster`) at its documented default, then a layout's redefs, then explicit
//! settings. The names, types, defaults and the value grammar are the catalogue's; this
//! module only holds values and the accessors the cluster layer reads them with.

use crate::error::{Error, ErrorKind, Result};
use crate::layout::Layout;
use crate::options::{self as catalogue, OptionValue, Scope};
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

/// The environment variable that overrides `Cluster::retry_interval` when peering.
pub const CONNECT_RETRY_ENV: &str = "ZEEK_DEFAULT_CONNECT_RETRY";

/// The names of every cluster option, in table order.
pub fn names() -> impl Iterator<Item = &'static str> {
    catalogue::in_scope(Scope::Cluster).map(|s| s.name)
}

/// Whether `name` is a cluster option.
pub fn is_known(name: &str) -> bool {
    catalogue::is_known(name)
}

/// The cluster option `name`'s spec, or `NotFound` with "did you mean".
fn spec(name: &str) -> Result<&'static catalogue::Spec> {
    catalogue::lookup(&[Scope::Cluster], name)
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
            values: catalogue::in_scope(Scope::Cluster)
                .map(|s| (s.name, s.default_value()))
                .collect(),
            explicit: BTreeSet::new(),
        }
    }

    /// Sets an option from text in the catalogue's grammar (`crate::options`). An unknown
    /// name is `NotFound`, a bad value `InvalidArgument`; both messages say what is
    /// accepted.
    pub fn set(&mut self, name: &str, text: &str) -> Result<()> {
        let s = spec(name)?;
        let v = s.parse(text)?;
        self.values.insert(s.name, v);
        self.explicit.insert(s.name);
        Ok(())
    }

    /// Sets an option to a typed value (checked against the option's type).
    pub fn set_value(&mut self, name: &str, v: OptionValue) -> Result<()> {
        let s = spec(name)?;
        let v = s.check(v)?;
        self.values.insert(s.name, v);
        self.explicit.insert(s.name);
        Ok(())
    }

    pub fn get(&self, name: &str) -> Result<&OptionValue> {
        match self.values.get(name) {
            Some(v) => Ok(v),
            None => Err(spec(name).err().unwrap_or_else(|| {
                Error::new(ErrorKind::NotFound, format!("option {name} has no value"))
            })),
        }
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
            if let Some(s) = catalogue::cluster(name) {
                if let Ok(v) = s.check(v.clone()) {
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
                    catalogue::cluster(name).map_or(name, |s| s.name),
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
            "option Cluster::retry_interval: \"soon\" is not an interval (expected an interval such as 1.0 min, 30 secs or 250 msecs, or a number of seconds)"
        );
        let e = o.set("Cluster::manager_is_logger", "yes").unwrap_err();
        assert_eq!(
            e.message,
            "option Cluster::manager_is_logger: \"yes\" is not a boolean (expected T, F, true or false)"
        );
        let e = o
            .set("Cluster::default_backend", "Broker::DISK")
            .unwrap_err();
        assert_eq!(
            e.message,
            "option Cluster::default_backend: \"Broker::DISK\" is not a valid constant (expected one of Broker::MEMORY, Broker::SQLITE, Broker::ROCKSDB)"
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
