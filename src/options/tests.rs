use super::grammar::parse;
use super::*;
use std::collections::BTreeSet;
use std::net::IpAddr;

fn secs(text: &str) -> Option<f64> {
    parse_interval_text(text)
}

#[test]
fn intervals_as_zeeks_scanner_reads_them() {
    // {FLOAT}{OWS}unit(s?), src/scan.l.
    for (t, v) in [
        ("10 secs", 10.0),
        ("1.0 min", 60.0),
        ("250 msecs", 0.25),
        ("250msec", 0.25),
        ("2 hrs", 7200.0),
        ("1 hr", 3600.0),
        ("1 day", 86400.0),
        ("3days", 259200.0),
        ("1.5e3 usecs", 0.0015),
        ("2E1 sec", 20.0),
        (".5 secs", 0.5),
        ("5. secs", 5.0),
        ("5\tsecs", 5.0),
        ("1 mins", 60.0),
        ("-5 sec", -5.0),
        ("1.0 min 30.0 secs", 90.0),
        ("2.0 secs 700.0 msecs", 2.7),
    ] {
        let got = parse_interval(t).unwrap_or(f64::NAN);
        assert!((got - v).abs() < 1e-9, "{t}: {got}");
        assert_eq!(secs(t), parse_interval(t), "{t}");
    }
    for t in [
        "5",
        "",
        "secs",
        "5 fortnights",
        "1 minute",
        "1 Sec",
        "1 MIN",
        "5 hours",
        "1..0 sec",
        "5 s",
        "5ms",
        ". secs",
        "5 secs later",
    ] {
        assert_eq!(parse_interval(t), None, "{t}");
    }
    // Option text also takes plain seconds and the short suffixes.
    assert_eq!(secs("2.5"), Some(2.5));
    assert_eq!(secs(" 90 "), Some(90.0));
    assert_eq!(secs("250ms"), Some(0.25));
    assert_eq!(secs("2s"), Some(2.0));
    assert_eq!(secs("2 s"), Some(2.0));
    assert!((secs("10us").unwrap() - 1e-5).abs() < 1e-12);
    assert_eq!(secs("1min"), Some(60.0));
    for t in [
        "soon",
        "inf",
        "NaN",
        "1e999",
        "5 fortnights",
        "",
        "1 minute",
    ] {
        assert_eq!(secs(t), None, "{t}");
    }
}

#[test]
fn every_type_parses_its_text() {
    assert_eq!(parse(Type::Bool, "T"), Some(OptionValue::Bool(true)));
    for (t, b) in [
        ("T", true),
        ("t", true),
        ("true", true),
        ("TRUE", true),
        ("1", true),
        ("F", false),
        ("False", false),
        ("0", false),
    ] {
        assert_eq!(parse_bool(t), Some(b), "{t}");
    }
    for t in ["yes", "no", "2", "", "maybe"] {
        assert_eq!(parse_bool(t), None, "{t}");
    }
    assert_eq!(parse(Type::Count, "400"), Some(OptionValue::Count(400)));
    assert_eq!(parse(Type::Count, "0x10"), Some(OptionValue::Count(16)));
    assert_eq!(parse(Type::Count, "-1"), None);
    assert_eq!(parse(Type::Count, "1.5"), None);
    assert_eq!(parse(Type::Int, "-1"), Some(OptionValue::Int(-1)));
    assert_eq!(parse(Type::Int, "x"), None);
    assert_eq!(parse(Type::Double, "0.5"), Some(OptionValue::Double(0.5)));
    assert_eq!(parse(Type::Double, "inf"), None);
    assert_eq!(
        parse(Type::Port, "27760/tcp"),
        Some(OptionValue::Port(Port::tcp(27760)))
    );
    assert_eq!(
        parse(Type::Port, "53/udp").map(|v| v.to_string()),
        Some("53/udp".into())
    );
    assert_eq!(
        parse(Type::Port, "9991"),
        Some(OptionValue::Port(Port::tcp(9991)))
    );
    assert_eq!(parse(Type::Port, "65536/tcp"), None);
    assert_eq!(parse(Type::Port, "80/sctp"), None);
    let v6: IpAddr = "::1".parse().unwrap();
    assert_eq!(parse(Type::Addr, "::1"), Some(OptionValue::Addr(v6)));
    assert_eq!(parse(Type::Addr, "[::1]"), Some(OptionValue::Addr(v6)));
    assert_eq!(
        parse(Type::Addr, "10.0.0.1"),
        Some(OptionValue::Addr("10.0.0.1".parse().unwrap()))
    );
    assert_eq!(parse(Type::Addr, "localhost"), None);
    assert_eq!(parse(Type::Addr, "10.0.0.256"), None);
    assert_eq!(
        parse(Type::Str, "\"a\\tb\\x41\\101\""),
        Some(OptionValue::String("a\tbAA".into()))
    );
    assert_eq!(
        parse(Type::Str, " as is "),
        Some(OptionValue::String(" as is ".into()))
    );
    assert_eq!(
        parse(Type::Str, "\"a\" \"b\""),
        Some(OptionValue::String("\"a\" \"b\"".into()))
    );
    assert_eq!(
        parse(Type::Pattern, "/a|b/"),
        Some(OptionValue::Pattern("a|b".into()))
    );
    assert_eq!(
        parse(Type::Pattern, "a|b"),
        Some(OptionValue::Pattern("a|b".into()))
    );
}

#[test]
fn enum_constants_by_full_last_or_short_name() {
    let b = Type::Enum(catalogue::CLUSTER_BACKENDS);
    for t in [
        "Cluster::CLUSTER_BACKEND_ZEROMQ",
        "CLUSTER_BACKEND_ZEROMQ",
        "ZeroMQ",
        "zeromq",
    ] {
        assert_eq!(
            parse(b, t),
            Some(OptionValue::Enum("Cluster::CLUSTER_BACKEND_ZEROMQ".into())),
            "{t}"
        );
    }
    assert_eq!(
        parse(b, "Broker").map(|v| v.to_string()),
        Some("Cluster::CLUSTER_BACKEND_BROKER".into())
    );
    assert_eq!(parse(b, "NATS"), None);
    let sync = lookup(&[Scope::Backend], "synchronous").unwrap();
    for t in ["Broker::SQLITE_SYNCHRONOUS_NORMAL", "NORMAL", "normal"] {
        assert_eq!(
            sync.parse(t).unwrap(),
            OptionValue::Enum("Broker::SQLITE_SYNCHRONOUS_NORMAL".into())
        );
    }
    let backend = cluster("Cluster::default_backend").unwrap();
    assert_eq!(
        backend.parse("sqlite").unwrap(),
        OptionValue::Enum("Broker::SQLITE".into())
    );
    let ser = cluster("Cluster::event_serializer").unwrap();
    assert_eq!(
        ser.parse("JSON_V1").unwrap(),
        OptionValue::Enum("Cluster::EVENT_SERIALIZER_BROKER_JSON_V1".into())
    );
    let pol = lookup(&[Scope::Endpoint], "inbox_overflow_policy").unwrap();
    assert!(pol.parse("disconnect").is_err());
    assert!(pol.parse("drop_oldest").is_ok());
}

#[test]
fn the_catalogue_is_consistent() {
    for scope in Scope::ALL {
        let mut seen = BTreeSet::new();
        for s in in_scope(scope) {
            for n in std::iter::once(s.name).chain(s.aliases.iter().copied()) {
                assert!(seen.insert(n), "{n} twice in {scope:?}");
            }
            assert!(!s.doc.is_empty(), "{} has no doc", s.name);
            assert!(
                s.doc.ends_with('.') || s.doc.ends_with(')'),
                "{}: doc is a sentence",
                s.name
            );
            let v = grammar::parse(s.ty, s.default)
                .unwrap_or_else(|| panic!("{}: default {:?} does not parse", s.name, s.default));
            // Defaults are written as Zeek prints them.
            match (&v, s.ty) {
                (OptionValue::Interval(x), _) => assert_eq!(format_interval(*x), s.default),
                (OptionValue::Enum(e), _) => assert_eq!(e, s.default),
                (OptionValue::String(x), _) | (OptionValue::Pattern(x), _) => {
                    assert_eq!(x, s.default)
                }
                (other, _) => assert_eq!(other.to_string().trim_start_matches('+'), s.default),
            }
        }
    }
    // Store and backend names do not collide (zc_cluster_set_store_option takes both).
    for s in in_scope(Scope::Store) {
        assert!(find(&[Scope::Backend], s.name).is_none(), "{}", s.name);
    }
}

#[test]
fn endpoint_websocket_and_backend_defaults_are_the_structs_defaults() {
    // Setting every option of a scope to its catalogue default changes nothing, and every
    // catalogue entry is applied by the struct's `set`.
    let mut e = crate::endpoint::EndpointOptions::default();
    for s in in_scope(Scope::Endpoint) {
        e.set(s.name, s.default)
            .unwrap_or_else(|err| panic!("{}: {}", s.name, err.message));
        for a in s.aliases {
            e.set(a, s.default).unwrap();
        }
    }
    assert_eq!(
        format!("{e:?}"),
        format!("{:?}", crate::endpoint::EndpointOptions::default())
    );
    let mut w = crate::websocket::ServerOptions::default();
    for s in in_scope(Scope::WebSocket) {
        if s.default.is_empty() {
            continue; // cert/key: unset is None, which no text gives
        }
        w.set(s.name, s.default)
            .unwrap_or_else(|err| panic!("{}: {}", s.name, err.message));
    }
    assert_eq!(w, crate::websocket::ServerOptions::default());
    w.set("cert_file", "/c.pem").unwrap();
    w.set("tls_options$key_file", "\"/k.pem\"").unwrap();
    assert_eq!(w.tls.cert_file.as_deref(), Some("/c.pem"));
    assert_eq!(w.tls.key_file.as_deref(), Some("/k.pem"));
    w.set("enable_peer_verification", "T").unwrap();
    w.set("tls_options$ca_file", "/ca.pem").unwrap();
    w.set("ciphers", "HIGH").unwrap();
    assert!(
        w.tls.enable_peer_verification && w.tls.ca_file == "/ca.pem" && w.tls.ciphers == "HIGH"
    );
    let mut c = crate::websocket::ClientOptions::default();
    for s in in_scope(Scope::WebSocketClient) {
        c.set(s.name, s.default)
            .unwrap_or_else(|err| panic!("{}: {}", s.name, err.message));
        for a in s.aliases {
            c.set(a, s.default).unwrap();
        }
    }
    assert_eq!(c, crate::websocket::ClientOptions::default());
    c.set("disconnected_policy", "drop").unwrap();
    c.set("send_queue_size", "3").unwrap();
    c.set("verify_peer", "F").unwrap();
    assert_eq!(
        (c.disconnected_policy, c.send_queue_size, c.verify_peer),
        (crate::websocket::DisconnectedPolicy::Drop, 3, false)
    );
    assert_eq!(
        c.set("disconnected_policy", "lose").unwrap_err().kind,
        crate::error::ErrorKind::InvalidArgument
    );
    assert_eq!(
        c.set("application_name", "a b").unwrap_err().kind,
        crate::error::ErrorKind::InvalidArgument
    );
    let e = c.set("disconected_policy", "drop").unwrap_err();
    assert!(
        e.kind == crate::error::ErrorKind::NotFound && e.message.contains("disconnected_policy"),
        "{}",
        e.message
    );
    let mut b = crate::store::BackendOptions::default();
    for s in in_scope(Scope::Backend) {
        b.set(s.name, s.default)
            .unwrap_or_else(|err| panic!("{}: {}", s.name, err.message));
    }
    assert_eq!(b, crate::store::BackendOptions::default());
    for (name, ns) in [
        (
            "clone_resync_interval",
            crate::store::info::DEFAULT_CLONE_RESYNC_INTERVAL,
        ),
        (
            "clone_stale_interval",
            crate::store::info::DEFAULT_CLONE_STALE_INTERVAL,
        ),
        (
            "clone_mutation_buffer_interval",
            crate::store::info::DEFAULT_CLONE_MUTATION_BUFFER_INTERVAL,
        ),
    ] {
        let s = lookup(&[Scope::Store], name).unwrap();
        assert_eq!((s.default_value().as_secs().unwrap() * 1e9) as i64, ns);
        let c = cluster(&format!("Broker::default_{name}")).unwrap();
        assert_eq!(c.default, s.default);
    }
}

#[test]
fn errors_name_the_option_the_type_and_the_value() {
    let e = lookup(&[Scope::Endpoint], "handshake_timeout")
        .unwrap()
        .parse("soon")
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::InvalidArgument);
    assert_eq!(
        e.message,
        "option handshake_timeout: \"soon\" is not an interval (expected an interval such as 1.0 min, 30 secs or 250 msecs, or a number of seconds)"
    );
    let mut ws = crate::websocket::ServerOptions::default();
    assert_eq!(
        ws.set("listen_addr", "localhost").unwrap_err().message,
        "option listen_addr: \"localhost\" is not an address (expected an IPv4 or IPv6 address such as 127.0.0.1 or ::1)"
    );
    assert_eq!(
        ws.set("listen_port", "http").unwrap_err().message,
        "option listen_port: \"http\" is not a port (expected a port such as 27760/tcp)"
    );
    let mut eo = crate::endpoint::EndpointOptions::default();
    assert_eq!(
        eo.set("inbox_capacity", "-5").unwrap_err().message,
        "option inbox_capacity: \"-5\" is not a count (expected a count (a non-negative integer))"
    );
    assert_eq!(
        eo.set("broker.ttl", "0").unwrap_err().message,
        "option broker.ttl: \"0\" is not a hop limit (1 to 65535)"
    );
    assert!(eo
        .set("Broker::disable_ssl", "perhaps")
        .unwrap_err()
        .message
        .contains("\"perhaps\" is not a boolean (expected T, F, true or false)"));
    // Typed layout values: the Zeek constant's type.
    let e = cluster("Cluster::retry_interval")
        .unwrap()
        .check(OptionValue::Count(5))
        .unwrap_err();
    assert_eq!(
        e.message,
        "option Cluster::retry_interval: expected an interval such as 1.0 min, 30 secs or 250 msecs, found a count (5)"
    );
}

#[test]
fn unknown_names_suggest_the_closest_in_every_scope() {
    let e = lookup(&[Scope::Cluster], "Cluster::retry_intervl").unwrap_err();
    assert_eq!(e.kind, ErrorKind::NotFound);
    assert!(e
        .message
        .starts_with("unknown option \"Cluster::retry_intervl\" (did you mean Cluster::retry_interval? expected one of: Cluster::default_backend, "));
    let e = lookup(&[Scope::Endpoint], "handshake_timout").unwrap_err();
    assert!(
        e.message
            .starts_with("unknown endpoint option 'handshake_timout' (did you mean handshake_timeout? expected one of: Broker::forward_messages, broker.ttl, "),
        "{}",
        e.message
    );
    let e = lookup(&[Scope::WebSocket], "ping_intervall").unwrap_err();
    assert!(
        e.message.contains("did you mean ping_interval?"),
        "{}",
        e.message
    );
    let e = lookup(&[Scope::Store, Scope::Backend], "jurnal_mode").unwrap_err();
    assert!(
        e.message.starts_with("unknown store option 'jurnal_mode' (did you mean journal_mode? expected one of: backend, master_node, "),
        "{}",
        e.message
    );
    assert!(
        e.message
            .ends_with("journal_mode, integrity_check, zc_storage_nice, zc_storage_idle)"),
        "{}",
        e.message
    );
    let e = lookup(&[Scope::Backend], "colour").unwrap_err();
    assert_eq!(
        e.message,
        "unknown backend option 'colour' (expected one of: path, synchronous, journal_mode, integrity_check, zc_storage_nice, zc_storage_idle)"
    );
    // An alias is suggested too.
    let e = lookup(&[Scope::Endpoint], "broker.ssl.kye").unwrap_err();
    assert!(
        e.message.contains("did you mean broker.ssl.key?"),
        "{}",
        e.message
    );
}

#[test]
fn one_grammar_on_every_path() {
    use crate::layout::{Format, Layout};
    // An interval, a bool and a port, as option text, in a .zeek layout, in JSON, and in
    // zeekctl-config.zeek give the same values.
    let mut o = crate::cluster::Options::new();
    o.set("Cluster::retry_interval", "250 msecs").unwrap();
    o.set("Broker::disable_ssl", "true").unwrap();
    o.set("Telemetry::metrics_port", "9911/tcp").unwrap();
    let zeek = Layout::parse(
        "redef Cluster::retry_interval = 250 msecs;\nredef Broker::disable_ssl = T;\nredef Telemetry::metrics_port = 9911/tcp;\nredef Cluster::nodes = {};\n",
        Some(Format::Zeek),
    )
    .unwrap();
    let json = Layout::parse(
        r#"{"nodes": {}, "options": {"Cluster::retry_interval": "250 msecs", "Broker::disable_ssl": true, "Telemetry::metrics_port": "9911/tcp"}}"#,
        Some(Format::Json),
    )
    .unwrap();
    for l in [&zeek, &json] {
        let from = crate::cluster::Options::new().layered_over(l);
        for n in [
            "Cluster::retry_interval",
            "Broker::disable_ssl",
            "Telemetry::metrics_port",
        ] {
            assert_eq!(from.get(n).unwrap(), o.get(n).unwrap(), "{n}");
        }
    }
    // The endpoint's intervals are the same grammar.
    let mut e = crate::endpoint::EndpointOptions::default();
    e.set("handshake_timeout", "250 msecs").unwrap();
    assert_eq!(e.handshake_timeout, std::time::Duration::from_millis(250));
    e.set("handshake_timeout", "1.0 min 30.0 secs").unwrap();
    assert_eq!(e.handshake_timeout, std::time::Duration::from_secs(90));
    // A known non-Cluster option in a .zeek layout is type-checked too.
    let err = Layout::parse(
        "redef Broker::disable_ssl = 5 secs;\nredef Cluster::nodes = {};\n",
        Some(Format::Zeek),
    )
    .unwrap_err();
    assert_eq!(
        err.message,
        "<input>:1:29: option Broker::disable_ssl: expected T or F, found an interval (5.0 secs)"
    );
}

#[test]
fn the_docs_list_every_option() {
    let md = docs::markdown();
    for s in all() {
        assert!(md.contains(&format!("`{}`", s.name)), "{}", s.name);
    }
    let l = docs::listing(Some(Scope::WebSocket));
    assert!(l.contains("listen_port (port, default 27759/tcp)"), "{l}");
    assert!(!l.contains("Cluster::retry_interval"));
}

mod props {
    use super::super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        /// What Zeek prints is read back (to a microsecond's precision, as Zeek prints
        /// it): the interval grammar and `Options::set(name, get_text(name))`.
        #[test]
        fn intervals_round_trip_through_their_text(us in -10_000_000_000_000i64..10_000_000_000_000i64) {
            let x = us as f64 / 1e6;
            let text = format_interval(x);
            let back = parse_interval(&text).unwrap();
            prop_assert!((back - x).abs() <= 1e-6 * x.abs().max(1.0), "{x} -> {text} -> {back}");
            let mut o = crate::cluster::Options::new();
            o.set("Cluster::retry_interval", &text).unwrap();
            let again = o.get_text("Cluster::retry_interval").unwrap();
            o.set("Cluster::retry_interval", &again).unwrap();
            let v = o.interval_secs("Cluster::retry_interval");
            prop_assert!((v - x).abs() <= 1e-6 * x.abs().max(1.0), "{x} -> {again} -> {v}");
        }

        /// Option text never panics, whatever the type.
        #[test]
        fn any_text_parses_or_is_refused(text in "\\PC{0,24}") {
            for s in all() {
                let _ = s.parse(&text);
            }
            let _ = parse_interval_text(&text);
            let _ = unescape_string(&text);
        }
    }
}
