//! Every option the library accepts, in one table, with one value grammar.
//!
//! The catalogue (`catalogue.rs`) lists each option once: where it applies (its `Scope`),
//! its name (Zeek's where Zeek has one: `Cluster::retry_interval`, `Broker::ssl_cafile`,
//! `Cluster::Backend::ZeroMQ::linger_ms`; Broker's config keys and ours as aliases or
//! names of their own), its type, its default as Zeek writes it, and a line of doc. Every
//! path that takes an option by name goes through it:
//!
//! - `Scope::Cluster`: `cluster::Options::set` (C `zc_options_set`, Python
//!   `Cluster(options=...)` and `ZeroMQProxy(options=...)`), and the layouts' `redef`s
//!   (`.zeek`, `.bro`, zeekctl-config.zeek, the JSON form's `"options"`);
//! - `Scope::Endpoint`: `EndpointOptions::set` (C `zc_endpoint_options_set`, Python
//!   `Endpoint(options)`);
//! - `Scope::WebSocket`: `websocket::ServerOptions::set` (C `zc_websocket_options_set`,
//!   Python `Cluster.listen_websocket(**fields)`);
//! - `Scope::WebSocketClient`: `websocket::ClientOptions::set` (C
//!   `zc_websocket_client_options_set`, Python `Endpoint.connect_websocket(**options)`);
//! - `Scope::Store` and `Scope::Backend`: `Cluster::set_store_option` (C
//!   `zc_cluster_set_store_option`, Python `Cluster.set_store_options`) takes both;
//!   `store::BackendOptions::set` (C `zc_endpoint_attach_master`, Python
//!   `Endpoint.attach_master(options=...)`) takes the backend ones.
//!
//! `docs/options.md` is generated from the table (`ZC_UPDATE_DOCS=1 cargo test --lib
//! options::docs`; the test fails while it is stale), and `zcluster options` prints it.
//!
//! # The value grammar (`grammar.rs`)
//! Text values parse the same way on every path, by the option's type:
//! - bool: `T`, `F`, `true`, `false` (any case), `1`, `0`;
//! - interval: Zeek's interval constants as its scanner reads them (`src/scan.l`: a
//!   number, optional blanks, `usec`, `msec`, `sec`, `min`, `hr` or `day`, each with an
//!   optional `s`: `10 secs`, `1.0 min`, `250msecs`, `1.5e3 usecs`), optionally signed,
//!   several terms summed as Zeek prints them (`1.0 min 30.0 secs`); a plain number of
//!   seconds (`2.5`); and, not Zeek's, the short suffixes `us`, `ms`, `s` (`250ms`);
//! - count: a non-negative integer (decimal or `0x` hex); int: a signed integer; double:
//!   a number;
//! - port: `27760/tcp` (`udp`, `icmp`, `unknown`), or a bare number meaning TCP;
//! - addr: IPv4 or IPv6, with or without Zeek's brackets (`[::1]`);
//! - string: the text as it is, or one Zeek string literal (`"a\tb"`) unquoted;
//! - pattern: `/re/` or the bare regular expression;
//! - enum: the full constant (`Broker::SQLITE`), its last component (`SQLITE`), or that
//!   without the prefix all constants share (`FULL` for `Broker::SQLITE_SYNCHRONOUS_FULL`,
//!   `ZeroMQ` for `Cluster::CLUSTER_BACKEND_ZEROMQ`), short forms in any case.
//!
//! In a `.zeek` layout the value is a Zeek constant and its type is the one Zeek's scanner
//! gives it (`5` is a count, never an interval), checked against the option's type with
//! `Spec::check`. Python converts `bool` to `T`/`F` and `datetime.timedelta` to seconds
//! before the text reaches the grammar.
//!
//! Errors name the option, say what its type accepts and quote the bad value
//! (`option Cluster::retry_interval: "soon" is not an interval (expected an interval such
//! as 1.0 min, ...)`); an unknown name is `NotFound` and suggests the nearest name ("did you
//! mean ...?").
//!
//! # Adding an option
//! One line in `catalogue.rs`: `opt!(Scope, "Name", Type, "default", "doc")` (aliases as
//! `"Name" | "alias"`). Cluster options need nothing else: `cluster::Options` and the
//! layouts pick them up, and its value is read with `Options::string_value`,
//! `bool_value`, `count_value`, `interval_secs`, ... Options of the other scopes also get
//! one arm in the `set` that applies them to their struct (a test checks every catalogue
//! entry of those scopes is applied and its default matches the struct's `Default`). Then
//! `ZC_UPDATE_DOCS=1 cargo test --lib options::docs` regenerates docs/options.md, and a
//! new cluster option outside `Cluster::Backend::ZeroMQ::` joins the list of names in the
//! expected text of `layout::tests::malformed_layouts_give_precise_errors` (copy it from
//! the test's "got" output). `catalogue` tests check every entry: unique names and
//! aliases per scope, a doc sentence, and a default that parses and is written as Zeek
//! prints it.
//!
//! # Where this differs from Zeek, on purpose
//! Option text is more lenient than Zeek's scanner (`true`/`false`, plain seconds,
//! `250ms`, short enum names, sums of interval terms), so the C and Python callers need
//! not produce Zeek script; `.zeek` layouts keep Zeek's own typing. Zeek has no unknown
//! option errors for redefs it does not know in other modules; our layouts skip unknown
//! names outside `Cluster::` too, but an unknown `Cluster::` name is an error (a typo
//! there would silently change a node's peering).

mod catalogue;
pub mod docs;
mod grammar;
pub(crate) mod value;

pub(crate) use grammar::zeek_interval_unit;
pub use grammar::{parse_bool, parse_interval_text, unescape_string};
pub use value::{format_interval, parse_interval, OptionValue, Port, Protocol};

use crate::error::{Error, ErrorKind, Result};

/// Where an option applies (which `*_options_set` call takes it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Scope {
    /// A cluster node: `zc_options_set`, and the `redef`s of a layout.
    Cluster,
    /// A Broker endpoint: `zc_endpoint_options_set`.
    Endpoint,
    /// `Cluster::WebSocketServerOptions`: `zc_websocket_options_set`.
    WebSocket,
    /// The WebSocket client transport: `zc_websocket_client_options_set`.
    WebSocketClient,
    /// `Cluster::StoreInfo`'s fields: `zc_cluster_set_store_option` (with `Backend`).
    Store,
    /// `Broker::BackendOptions` (SQLite): `attach_master`'s options, and store options.
    Backend,
}

impl Scope {
    pub const ALL: [Scope; 6] = [
        Scope::Cluster,
        Scope::Endpoint,
        Scope::WebSocket,
        Scope::WebSocketClient,
        Scope::Store,
        Scope::Backend,
    ];

    /// How error messages call an option of this scope ("unknown endpoint option 'x'").
    fn label(self) -> &'static str {
        match self {
            Scope::Cluster => "option",
            Scope::Endpoint => "endpoint option",
            Scope::WebSocket => "WebSocket server option",
            Scope::WebSocketClient => "WebSocket client option",
            Scope::Store => "store option",
            Scope::Backend => "backend option",
        }
    }

    /// The heading of the scope in the documentation.
    pub fn title(self) -> &'static str {
        match self {
            Scope::Cluster => "Cluster options (zc_options_set, layout redefs)",
            Scope::Endpoint => "Endpoint options (zc_endpoint_options_set)",
            Scope::WebSocket => "WebSocket server options (zc_websocket_options_set)",
            Scope::WebSocketClient => {
                "WebSocket client options (zc_websocket_client_options_set, connect_websocket)"
            }
            Scope::Store => "Store options (zc_cluster_set_store_option)",
            Scope::Backend => {
                "Backend options (zc_endpoint_attach_master, zc_cluster_set_store_option)"
            }
        }
    }

    /// The short name `zcluster options --scope` takes.
    pub fn name(self) -> &'static str {
        match self {
            Scope::Cluster => "cluster",
            Scope::Endpoint => "endpoint",
            Scope::WebSocket => "websocket",
            Scope::WebSocketClient => "websocket-client",
            Scope::Store => "store",
            Scope::Backend => "backend",
        }
    }

    pub fn from_name(s: &str) -> Option<Scope> {
        Scope::ALL
            .into_iter()
            .find(|x| x.name().eq_ignore_ascii_case(s))
    }
}

/// An option's type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Type {
    Bool,
    /// Zeek's `count` (non-negative).
    Count,
    /// Zeek's `int` (may be negative).
    Int,
    Double,
    /// Seconds; Zeek's intervals may be negative.
    Interval,
    Str,
    Pattern,
    Port,
    Addr,
    /// An enum constant; the accepted constants by full name.
    Enum(&'static [&'static str]),
}

impl Type {
    /// The Zeek type name ("interval"; enums: "enum").
    pub fn name(self) -> &'static str {
        match self {
            Type::Bool => "bool",
            Type::Count => "count",
            Type::Int => "int",
            Type::Double => "double",
            Type::Interval => "interval",
            Type::Str => "string",
            Type::Pattern => "pattern",
            Type::Port => "port",
            Type::Addr => "addr",
            Type::Enum(_) => "enum",
        }
    }

    /// "a bool", "an interval", for "... is not an interval".
    fn article(self) -> &'static str {
        match self {
            Type::Bool => "a boolean",
            Type::Count => "a count",
            Type::Int => "an integer",
            Type::Double => "a number",
            Type::Interval => "an interval",
            Type::Str => "a string",
            Type::Pattern => "a pattern",
            Type::Port => "a port",
            Type::Addr => "an address",
            Type::Enum(_) => "a valid constant",
        }
    }

    /// What text of this type looks like (the grammar of option text).
    pub fn expected(self) -> String {
        match self {
            Type::Bool => "T, F, true or false".to_string(),
            Type::Interval => {
                "an interval such as 1.0 min, 30 secs or 250 msecs, or a number of seconds"
                    .to_string()
            }
            Type::Count => "a count (a non-negative integer)".to_string(),
            Type::Int => "an integer such as 1000 or -1".to_string(),
            Type::Double => "a number such as 0.5".to_string(),
            Type::Str => "a string".to_string(),
            Type::Pattern => "a pattern such as /Drop::.*/".to_string(),
            Type::Port => "a port such as 27760/tcp".to_string(),
            Type::Addr => "an IPv4 or IPv6 address such as 127.0.0.1 or ::1".to_string(),
            Type::Enum(names) => format!("one of {}", names.join(", ")),
        }
    }

    /// What a Zeek constant of this type looks like (layouts' `redef`s).
    fn expected_constant(self) -> String {
        match self {
            Type::Bool => "T or F".to_string(),
            Type::Interval => "an interval such as 1.0 min, 30 secs or 250 msecs".to_string(),
            other => other.expected(),
        }
    }
}

/// One option: its scope, name, other accepted names, type, default and doc.
#[derive(Debug)]
pub struct Spec {
    pub scope: Scope,
    pub name: &'static str,
    /// Other names the same option answers to (Broker's config keys, older names).
    pub aliases: &'static [&'static str],
    pub ty: Type,
    /// The default as option text ("" for an empty string).
    pub default: &'static str,
    pub doc: &'static str,
}

impl Spec {
    fn answers_to(&self, name: &str) -> bool {
        self.name == name || self.aliases.contains(&name)
    }

    /// Parses option text (the grammar above); the error names the option, its type and
    /// the bad value.
    pub fn parse(&self, text: &str) -> Result<OptionValue> {
        grammar::parse(self.ty, text).ok_or_else(|| self.bad_text(text))
    }

    /// The error for a value this option does not take: `option NAME: "TEXT" is not a
    /// TYPE (expected ...)`.
    pub fn bad_text(&self, text: &str) -> Error {
        Error::invalid(format!(
            "option {}: \"{text}\" is not {} (expected {})",
            self.name,
            self.ty.article(),
            self.ty.expected()
        ))
    }

    /// An error about a value of the right type that this option still refuses.
    pub fn refuse(&self, text: &str, why: &str) -> Error {
        Error::invalid(format!("option {}: \"{text}\" {why}", self.name))
    }

    /// Checks a typed value (a layout's Zeek constant) against the option's type; a count
    /// becomes an int for an int option.
    pub fn check(&self, v: OptionValue) -> Result<OptionValue> {
        let ok = match (self.ty, &v) {
            (Type::Bool, OptionValue::Bool(_))
            | (Type::Interval, OptionValue::Interval(_))
            | (Type::Str, OptionValue::String(_))
            | (Type::Pattern, OptionValue::Pattern(_))
            | (Type::Port, OptionValue::Port(_))
            | (Type::Addr, OptionValue::Addr(_))
            | (Type::Count, OptionValue::Count(_))
            | (Type::Int, OptionValue::Int(_))
            | (Type::Double, OptionValue::Double(_)) => true,
            (Type::Double, OptionValue::Count(c)) => return Ok(OptionValue::Double(*c as f64)),
            (Type::Enum(names), OptionValue::Enum(e)) => names.contains(&e.as_str()),
            (Type::Int, OptionValue::Count(c)) => {
                return i64::try_from(*c).map(OptionValue::Int).map_err(|_| {
                    Error::invalid(format!("option {}: {c} does not fit an int", self.name))
                })
            }
            _ => false,
        };
        if ok {
            return Ok(v);
        }
        let found = match &v {
            OptionValue::Enum(e) => e.clone(),
            other => format!("{} ({other})", other.kind()),
        };
        Err(Error::invalid(format!(
            "option {}: expected {}, found {found}",
            self.name,
            self.ty.expected_constant()
        )))
    }

    /// The default as a typed value.
    pub fn default_value(&self) -> OptionValue {
        grammar::parse(self.ty, self.default).unwrap_or_else(|| {
            // A catalogue default that does not parse is a bug the catalogue test catches.
            OptionValue::String(self.default.to_string())
        })
    }
}

/// The whole catalogue, in table order.
pub fn all() -> &'static [Spec] {
    catalogue::CATALOGUE
}

/// The options of one scope, in table order.
pub fn in_scope(scope: Scope) -> impl Iterator<Item = &'static Spec> {
    all().iter().filter(move |s| s.scope == scope)
}

/// The option `name` (or an alias) of the first scope that has it.
pub fn find(scopes: &[Scope], name: &str) -> Option<&'static Spec> {
    scopes
        .iter()
        .find_map(|sc| in_scope(*sc).find(|s| s.answers_to(name)))
}

/// Like `find`, but an unknown name is a `NotFound` error that lists the names of the
/// scopes and suggests the closest one.
pub fn lookup(scopes: &[Scope], name: &str) -> Result<&'static Spec> {
    find(scopes, name).ok_or_else(|| Error::new(ErrorKind::NotFound, unknown(scopes, name)))
}

/// A cluster option (`Scope::Cluster`) by its exact name.
pub fn cluster(name: &str) -> Option<&'static Spec> {
    in_scope(Scope::Cluster).find(|s| s.name == name)
}

/// Whether `name` is a cluster option.
pub fn is_known(name: &str) -> bool {
    cluster(name).is_some()
}

/// Parses a cluster option's text; errors as strings, for the layout parsers' positions.
pub fn parse_text(name: &str, text: &str) -> std::result::Result<OptionValue, String> {
    lookup(&[Scope::Cluster], name)
        .and_then(|s| s.parse(text))
        .map_err(|e| e.message)
}

/// Checks a layout's typed value for a cluster option.
pub fn check_layout_value(name: &str, v: OptionValue) -> std::result::Result<OptionValue, String> {
    lookup(&[Scope::Cluster], name)
        .and_then(|s| s.check(v))
        .map_err(|e| e.message)
}

/// A cluster option's documented default.
pub fn default_value(name: &str) -> Option<OptionValue> {
    cluster(name).map(Spec::default_value)
}

const ZEROMQ_PREFIX: &str = "Cluster::Backend::ZeroMQ::";

/// The name (or alias) of `scopes` closest to `name`, if one is close (an edit distance
/// of at most 3).
pub fn suggest(scopes: &[Scope], name: &str) -> Option<&'static str> {
    scopes
        .iter()
        .flat_map(|sc| in_scope(*sc))
        .flat_map(|s| std::iter::once(s.name).chain(s.aliases.iter().copied()))
        .map(|n| (edit_distance(name, n), n))
        .filter(|(d, _)| *d <= 3)
        .min()
        .map(|(_, n)| n)
}

fn unknown(scopes: &[Scope], name: &str) -> String {
    let hint = suggest(scopes, name)
        .map(|n| format!("did you mean {n}? "))
        .unwrap_or_default();
    let mut listed: Vec<&str> = Vec::new();
    for n in scopes.iter().flat_map(|sc| in_scope(*sc)).map(|s| s.name) {
        if !n.starts_with(ZEROMQ_PREFIX) && !listed.contains(&n) {
            listed.push(n);
        }
    }
    let first = scopes.first().copied().unwrap_or(Scope::Cluster);
    if first == Scope::Cluster {
        format!(
            "unknown option \"{name}\" ({hint}expected one of: {}, or one of Zeek's {ZEROMQ_PREFIX} options)",
            listed.join(", ")
        )
    } else {
        format!(
            "unknown {} '{name}' ({hint}expected one of: {})",
            first.label(),
            listed.join(", ")
        )
    }
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

impl OptionValue {
    /// A bool's value.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            OptionValue::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// A count's value (an int's when not negative).
    pub fn as_count(&self) -> Option<u64> {
        match self {
            OptionValue::Count(c) => Some(*c),
            OptionValue::Int(i) => u64::try_from(*i).ok(),
            _ => None,
        }
    }

    /// An interval in seconds.
    pub fn as_secs(&self) -> Option<f64> {
        match self {
            OptionValue::Interval(s) => Some(*s),
            _ => None,
        }
    }

    /// A string's, pattern's or enum constant's text.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            OptionValue::String(s) | OptionValue::Pattern(s) | OptionValue::Enum(s) => Some(s),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests;
