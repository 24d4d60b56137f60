use super::*;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::PathBuf;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/layouts")
        .join(name)
}

fn lo() -> IpAddr {
    IpAddr::V4(Ipv4Addr::LOCALHOST)
}

fn node(t: NodeType, ip: IpAddr, p: u16) -> Node {
    let mut n = Node::new(t, ip);
    n.p = Port::tcp(p);
    n
}

/// The layout zeekctl writes for tests/fixtures/layouts/node.cfg.
fn zeekctl_expected() -> BTreeMap<String, Node> {
    let mut m = BTreeMap::new();
    m.insert("control".to_string(), node(NodeType::Control, lo(), 27762));
    let with = |t, p, metrics, manager: bool| {
        let mut n = node(t, lo(), p);
        n.metrics_port = Some(Port::tcp(metrics));
        if manager {
            n.manager = Some("manager".to_string());
        }
        n
    };
    m.insert(
        "manager".into(),
        with(NodeType::Manager, 27763, 9991, false),
    );
    m.insert("logger".into(), with(NodeType::Logger, 27764, 9992, false));
    m.insert("proxy-1".into(), with(NodeType::Proxy, 27765, 9993, true));
    m.insert("proxy-2".into(), with(NodeType::Proxy, 27766, 9994, true));
    m.insert(
        "worker-1-1".into(),
        with(NodeType::Worker, 27767, 9995, true),
    );
    m.insert(
        "worker-1-2".into(),
        with(NodeType::Worker, 27768, 9996, true),
    );
    m.insert("worker-2".into(), with(NodeType::Worker, 27769, 9997, true));
    m
}

#[test]
fn zeekctl_generated_layout_loads_with_every_field() {
    let l = Layout::load(fixture("zeekctl-cluster-layout.zeek")).unwrap();
    assert_eq!(l.format, Format::Zeek);
    assert!(l.source.ends_with("zeekctl-cluster-layout.zeek"));
    assert_eq!(l.nodes, zeekctl_expected());
    assert_eq!(
        l.options,
        vec![(
            "Cluster::manager_is_logger".to_string(),
            OptionValue::Bool(false)
        )]
    );
    assert_eq!(
        l.nodes_with_type(NodeType::Worker),
        vec!["worker-1-1", "worker-1-2", "worker-2"]
    );
    let c = &l.nodes["control"];
    assert_eq!(
        (
            c.zone_id.as_str(),
            c.interface.clone(),
            c.metrics_port,
            c.id.clone()
        ),
        ("", None, None, None)
    );
}

#[test]
fn node_cfg_expands_lb_procs_and_assigns_ports_as_zeekctl() {
    let l = Layout::load(fixture("node.cfg")).unwrap();
    assert_eq!(l.format, Format::NodeCfg);
    assert_eq!(
        l.options,
        vec![(
            "Cluster::manager_is_logger".to_string(),
            OptionValue::Bool(false)
        )]
    );
    // Cluster::Node fields equal what zeekctl writes (the .zeek fixture) ...
    let mut stripped = l.nodes.clone();
    for n in stripped.values_mut() {
        n.interface = None;
        n.zeekctl = None;
    }
    assert_eq!(stripped, zeekctl_expected());
    // ... plus what node.cfg says about each node.
    let w11 = &l.nodes["worker-1-1"];
    let w12 = &l.nodes["worker-1-2"];
    assert_eq!(w11.interface.as_deref(), Some("eth0"));
    assert_eq!(w12.interface.as_deref(), Some("eth0"));
    let z = w11.zeekctl.as_ref().unwrap();
    assert_eq!(z.host, "localhost");
    assert_eq!(z.lb_method.as_deref(), Some("pf_ring"));
    assert_eq!(z.lb_procs, Some(2));
    assert_eq!(z.pin_cpu, Some(0));
    assert_eq!(w12.zeekctl.as_ref().unwrap().pin_cpu, Some(1));
    assert_eq!(z.env_vars.get("MYVAR").map(String::as_str), Some("1"));
    assert_eq!(z.env_vars.get("OTHER").map(String::as_str), Some("\"two\""));
    let w2 = &l.nodes["worker-2"];
    assert_eq!(w2.interface.as_deref(), Some("eth1"));
    assert_eq!(
        w2.zeekctl.as_ref().unwrap().aux_scripts.as_deref(),
        Some("local-worker.zeek")
    );
    assert_eq!(
        l.nodes["manager"].zeekctl.as_ref().unwrap().host,
        "127.0.0.1"
    );
    assert!(l.nodes["control"].zeekctl.is_none());
}

#[test]
fn node_cfg_port_settings() {
    let text = std::fs::read_to_string(fixture("node.cfg")).unwrap();
    let broker = NodeCfgOptions {
        zeek_port: 47760,
        metrics_port: 0,
        zeromq: false,
    };
    let l = Layout::parse_node_cfg(&text, "node.cfg", &broker).unwrap();
    assert_eq!(l.nodes["control"].p, Port::tcp(47760));
    assert_eq!(l.nodes["manager"].p, Port::tcp(47761));
    assert_eq!(l.nodes["logger"].p, Port::tcp(47762));
    assert_eq!(l.nodes["worker-2"].p, Port::tcp(47767));
    assert!(l.nodes.values().all(|n| n.metrics_port.is_none()));
}

#[test]
fn node_cfg_without_logger_and_lb_interfaces() {
    let text = "[manager]\ntype=manager\nhost=127.0.0.1\n[proxy-1]\ntype=proxy\nhost=127.0.0.1\n\
                [w]\ntype=worker\nhost=127.0.0.1\nlb_method=interfaces\nlb_procs=3\nlb_interfaces=eth0,eth1, eth2\npin_cpus=4\n";
    let l = Layout::parse(text, Some(Format::NodeCfg)).unwrap();
    assert_eq!(
        l.option("Cluster::manager_is_logger"),
        Some(&OptionValue::Bool(true))
    );
    assert_eq!(l.nodes.len(), 6);
    // zeekctl pops interfaces from the end of the list.
    assert_eq!(l.nodes["w-1"].interface.as_deref(), Some("eth2"));
    assert_eq!(l.nodes["w-2"].interface.as_deref(), Some("eth1"));
    assert_eq!(l.nodes["w-3"].interface.as_deref(), Some("eth0"));
    // pin_cpus shorter than lb_procs repeats.
    assert!(l
        .nodes
        .iter()
        .filter(|(k, _)| k.starts_with("w-"))
        .all(|(_, n)| n.zeekctl.as_ref().unwrap().pin_cpu == Some(4)));
    assert_eq!(l.nodes["proxy-1"].p, Port::tcp(27764));
    assert_eq!(l.nodes["w-3"].p, Port::tcp(27767));
}

#[test]
fn node_cfg_standalone_has_no_cluster_nodes() {
    let l = Layout::parse(
        "[zeek]\ntype=standalone\nhost=localhost\ninterface=eth0\n",
        Some(Format::NodeCfg),
    )
    .unwrap();
    assert!(l.nodes.is_empty());
}

#[test]
fn ipv6_layout_with_zone_ids_any_field_order_and_trailing_commas() {
    let l = Layout::load(fixture("ipv6-cluster-layout.zeek")).unwrap();
    let m = &l.nodes["manager"];
    assert_eq!(m.node_type, NodeType::Manager);
    assert_eq!(m.ip, "fe80::1".parse::<IpAddr>().unwrap());
    assert_eq!(m.zone_id, "eth0");
    assert_eq!(m.p, Port::tcp(47761));
    let p = &l.nodes["proxy-1"];
    assert_eq!(
        (p.ip, p.zone_id.as_str(), p.manager.as_deref()),
        ("fe80::2".parse().unwrap(), "eth0", Some("manager"))
    );
    let w = &l.nodes["worker-1"];
    assert_eq!(
        w.ip,
        IpAddr::V6("2001:db8::10".parse::<Ipv6Addr>().unwrap())
    );
    assert_eq!(w.zone_id, "");
    assert_eq!(w.interface.as_deref(), Some("eth1"));
    assert_eq!(w.lb_filter.as_deref(), Some("ip or not ip"));
    assert_eq!(w.pcap_file.as_deref(), Some("/tmp/trace.pcap"));
    assert_eq!(w.id.as_deref(), Some("runtime-id"));
    let w2 = &l.nodes["worker-2"];
    assert_eq!(w2.ip, "::ffff:10.0.0.2".parse::<IpAddr>().unwrap());
    assert_eq!(w2.p, Port::UNSET, "p defaults to 0/unknown");
    assert_eq!(
        l.options,
        vec![
            (
                "Cluster::manager_is_logger".to_string(),
                OptionValue::Bool(true)
            ),
            (
                "Cluster::retry_interval".to_string(),
                OptionValue::Interval(30.0)
            ),
            (
                "Cluster::worker_topic".to_string(),
                OptionValue::String("site/workers".into())
            ),
        ]
    );
}

#[test]
fn legacy_bro_layout_with_time_machine_proxy_and_workers() {
    let l = Layout::load(fixture("cluster-layout.bro")).unwrap();
    assert_eq!(l.format, Format::Bro);
    assert_eq!(l.nodes.len(), 7);
    let set = |v: &[&str]| Some(v.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>());
    let m = &l.nodes["manager"];
    assert_eq!(m.node_type, NodeType::Manager);
    assert_eq!(m.p, Port::tcp(47762));
    assert_eq!(m.logger.as_deref(), Some("logger"));
    assert_eq!(m.workers, set(&["worker-1", "worker-2"]));
    assert_eq!(m.manager, None);
    let p = &l.nodes["proxy-1"];
    assert_eq!(
        (p.logger.as_deref(), p.manager.as_deref()),
        (Some("logger"), Some("manager"))
    );
    assert_eq!(p.workers, set(&["worker-1", "worker-2"]));
    let w = &l.nodes["worker-1"];
    assert_eq!(w.proxy.as_deref(), Some("proxy-1"));
    assert_eq!(w.interface.as_deref(), Some("eth0"));
    assert_eq!(w.time_machine.as_deref(), Some("time-machine"));
    assert_eq!(w.workers, None);
    assert_eq!(l.nodes["worker-2"].time_machine, None);
    let tm = &l.nodes["time-machine"];
    assert_eq!(tm.node_type, NodeType::TimeMachine);
    assert_eq!(tm.ip, IpAddr::V4(Ipv4Addr::new(192, 168, 1, 5)));
    assert_eq!(tm.p, Port::tcp(47757));
    assert_eq!(l.nodes["control"].node_type, NodeType::Control);
    assert_eq!(
        l.option("Cluster::worker2manager_events"),
        Some(&OptionValue::Pattern(
            "((TimeMachine::command|Drop::.*))|(Notice::cluster_notice)".into()
        ))
    );
}

#[test]
fn format_detection() {
    assert_eq!(
        Format::from_file_name("cluster-layout.zeek"),
        Some(Format::Zeek)
    );
    assert_eq!(
        Format::from_file_name("cluster-layout.bro"),
        Some(Format::Bro)
    );
    assert_eq!(Format::from_file_name("node.cfg"), Some(Format::NodeCfg));
    assert_eq!(Format::from_file_name("layout.JSON"), Some(Format::Json));
    assert_eq!(Format::from_file_name("layout"), None);
    for name in [
        "zeekctl-cluster-layout.zeek",
        "ipv6-cluster-layout.zeek",
        "cluster-layout.bro",
        "node.cfg",
    ] {
        let text = std::fs::read_to_string(fixture(name)).unwrap();
        let by_name = Format::from_file_name(name).unwrap();
        assert_eq!(Format::from_content(&text), by_name, "{name}");
        assert_eq!(Layout::parse(&text, None).unwrap().format, by_name);
    }
    assert_eq!(Format::from_content("  {\"nodes\": {}}"), Format::Json);
}

#[test]
fn json_round_trips_every_form() {
    for name in [
        "zeekctl-cluster-layout.zeek",
        "ipv6-cluster-layout.zeek",
        "cluster-layout.bro",
        "node.cfg",
    ] {
        let l = Layout::load(fixture(name)).unwrap();
        let j = l.to_json();
        let back = Layout::from_json(&j).unwrap_or_else(|e| panic!("{name}: {e}\n{j}"));
        assert_eq!(back.nodes, l.nodes, "{name}");
        assert_eq!(back.options, l.options, "{name}");
        assert_eq!(back.format, Format::Json);
        assert_eq!(back.to_json(), j);
    }
}

#[test]
fn json_hand_written() {
    let l = Layout::parse(
        r#"{"nodes": {"manager": {"node_type": "MANAGER", "ip": "10.0.0.1", "p": "47761/tcp"},
                      "worker-1": {"node_type": "Cluster::WORKER", "ip": "[fe80::1]", "zone_id": "eth0",
                                   "manager": "manager", "workers": [], "metrics_port": "9991/tcp"}},
            "options": {"Cluster::retry_interval": "30 secs", "Cluster::manager_is_logger": false,
                        "Cluster::default_store_dir": "/var/stores", "Broker::default_port": "27762/tcp"}}"#,
        None,
    )
    .unwrap();
    assert_eq!(l.format, Format::Json);
    let w = &l.nodes["worker-1"];
    assert_eq!(w.node_type, NodeType::Worker);
    assert_eq!(
        (w.ip, w.zone_id.as_str()),
        ("fe80::1".parse().unwrap(), "eth0")
    );
    assert_eq!(w.workers, Some(BTreeSet::new()));
    assert_eq!(w.metrics_port, Some(Port::tcp(9991)));
    assert_eq!(
        l.option("Cluster::retry_interval"),
        Some(&OptionValue::Interval(30.0))
    );
    assert_eq!(
        l.option("Cluster::manager_is_logger"),
        Some(&OptionValue::Bool(false))
    );
    assert_eq!(
        l.option("Cluster::default_store_dir"),
        Some(&OptionValue::String("/var/stores".into()))
    );
    assert_eq!(
        l.option("Broker::default_port"),
        Some(&OptionValue::Port(Port::tcp(27762)))
    );
}

#[test]
fn event_handlers_are_skipped() {
    let l = Layout::parse(
        "event zeek_init() &priority=5\n\t{\n\tif ( x == \"}\" ) { print \"{\"; } # }\n\t}\nredef Cluster::manager_is_logger = F;\n",
        Some(Format::Zeek),
    )
    .unwrap();
    assert_eq!(
        l.option("Cluster::manager_is_logger"),
        Some(&OptionValue::Bool(false))
    );
}

#[test]
fn other_redefs_and_comments() {
    let l = Layout::parse(
        "# c\nredef Cluster::enable_round_robin_logging = F; # trailing\nredef Cluster::retry_interval = 2 hrs;\n\
         redef Cluster::default_backend = Broker::SQLITE;\nredef Cluster::retry_interval = 1.0 min;\nredef Broker::default_port = 27762/tcp;\n",
        Some(Format::Zeek),
    )
    .unwrap();
    assert_eq!(
        l.options,
        vec![
            (
                "Cluster::enable_round_robin_logging".into(),
                OptionValue::Bool(false)
            ),
            (
                "Cluster::retry_interval".into(),
                OptionValue::Interval(60.0)
            ),
            (
                "Cluster::default_backend".into(),
                OptionValue::Enum("Broker::SQLITE".into())
            ),
            (
                "Broker::default_port".into(),
                OptionValue::Port(Port::tcp(27762))
            ),
        ]
    );
    assert!(l.nodes.is_empty());
}

/// Each malformed layout and its exact error.
#[test]
fn malformed_layouts_give_precise_errors() {
    let zeek = |body: &str| format!("redef Cluster::nodes = {{\n{body}\n}};\n");
    let mgr = "\t[\"manager\"] = [$node_type=Cluster::MANAGER, $ip=127.0.0.1],";
    let cases: Vec<(Format, String, &str)> = vec![
        (Format::Zeek, zeek("\t[\"w\"] = [$node_type=Cluster::WORKR, $ip=127.0.0.1],"),
         "<input>:2:22: unknown node type Cluster::WORKR (expected one of Cluster::NONE, Cluster::CONTROL, Cluster::MANAGER, Cluster::LOGGER, Cluster::PROXY, Cluster::WORKER, Cluster::TIME_MACHINE)"),
        (Format::Zeek, zeek("\t[\"w\"] = [$node_type=WORKER, $ip=127.0.0.1],"),
         "<input>:2:22: unknown node type WORKER (expected one of Cluster::NONE, Cluster::CONTROL, Cluster::MANAGER, Cluster::LOGGER, Cluster::PROXY, Cluster::WORKER, Cluster::TIME_MACHINE)"),
        (Format::Zeek, zeek("\t[\"w\"] = [$ip=127.0.0.1, $p=1/tcp],"), "<input>:2:10: node \"w\": missing required field $node_type"),
        (Format::Zeek, zeek("\t[\"w\"] = [$node_type=Cluster::WORKER],"), "<input>:2:10: node \"w\": missing required field $ip"),
        (Format::Bro, zeek("\t[\"w\"] = [$node_type=Cluster::WORKER, $ip=127.0.0.1],"),
         "<input>:2:10: node \"w\": missing required field $p (a Bro 2.5 layout has no default port)"),
        (Format::Zeek, zeek(&format!("{mgr}\n{mgr}")), "<input>:3:3: duplicate node name \"manager\" (first defined at line 2, column 3)"),
        (Format::Zeek, zeek(&format!("{mgr}\n\t[\"w\"] = [$node_type=Cluster::WORKER, $ip=127.0.0.1, $manager=\"mgr\"],")),
         "<input>:3:63: node \"w\": $manager must name a Cluster::MANAGER node, but there is no node \"mgr\""),
        (Format::Zeek, zeek(&format!("{mgr}\n\t[\"w\"] = [$node_type=Cluster::WORKER, $ip=127.0.0.1, $manager=\"w\"],")),
         "<input>:3:63: node \"w\": $manager must name a Cluster::MANAGER node, but \"w\" is a Cluster::WORKER"),
        (Format::Bro, zeek("\t[\"m\"] = [$node_type=Cluster::MANAGER, $ip=127.0.0.1, $p=1/tcp, $workers=set(\"w9\")],"),
         "<input>:2:74: node \"m\": $workers must name a Cluster::WORKER node, but there is no node \"w9\""),
        (Format::Zeek, zeek("\t[\"w\"] = [$node_type=Cluster::WORKER, $ip=127.0.0.256],"), "<input>:2:43: bad address 127.0.0.256 (not an IPv4 address)"),
        (Format::Zeek, zeek("\t[\"w\"] = [$node_type=Cluster::WORKER, $ip=[fe80::zz]],"),
         "<input>:2:43: bad IPv6 address: expected `[` hex digits and colons `]`, found `[fe80::` followed by `zz`"),
        (Format::Zeek, zeek("\t[\"w\"] = [$node_type=Cluster::WORKER, $ip=[1:2:3]],"), "<input>:2:43: bad address [1:2:3] (not an IPv6 address)"),
        (Format::Zeek, zeek("\t[\"w\"] = [$node_type=Cluster::WORKER, $ip=\"10.0.0.1\"],"),
         "<input>:2:43: $ip: expected an address such as 127.0.0.1 or [fe80::1], found a string"),
        (Format::Zeek, zeek("\t[\"w\"] = [$node_type=Cluster::WORKER, $ip=host.example.com],"),
         "<input>:2:43: expected a constant value: host names are not supported (write an IP address)"),
        (Format::Zeek, zeek("\t[\"w\"] = [$node_type=Cluster::WORKER, $ip=127.0.0.1, $p=70000/tcp],"),
         "<input>:2:57: bad port number in \"70000/tcp\" (0-65535 for tcp)"),
        (Format::Zeek, zeek("\t[\"w\"] = [$node_type=Cluster::WORKER, $ip=127.0.0.1, $p=47761],"),
         "<input>:2:57: $p: expected a port such as 47761/tcp, found a count"),
        (Format::Zeek, zeek("\t[\"w\"] = [$node_type=Cluster::WORKER, $ip=127.0.0.1, $p=80/sctp],"),
         "<input>:2:57: bad port protocol \"sctp\" in \"80/sctp\" (expected tcp, udp, icmp or unknown)"),
        (Format::Zeek, zeek("\t[\"w\"] = [$node_type=Cluster::WORKER, $ip=127.0.0.1, $colour=\"red\"],"),
         "<input>:2:54: unknown field $colour in Cluster::Node (expected one of node_type, ip, zone_id, p, interface, logger, manager, proxy, workers, time_machine, id, lb_filter, metrics_port, pcap_file)"),
        (Format::Zeek, zeek("\t[\"w\"] = [$node_type=Cluster::WORKER $ip=127.0.0.1],"), "<input>:2:38: expected `,` or `]` after a field, found `$`"),
        (Format::Zeek, zeek("\t[\"w\"] = [$node_type=Cluster::WORKER, $ip=127.0.0.1] [\"x\"]"), "<input>:2:54: expected `,` or `}` after a node, found `[`"),
        (Format::Zeek, "redef Cluster::nodes = {\n\t[\"w\"] = [$node_type=Cluster::WORKER, $ip=127.0.0.1],\n}\n".into(),
         "<input>:4:1: expected `;` after the redef, found end of input"),
        (Format::Zeek, zeek("\t[\"w] = [$node_type=Cluster::WORKER],"), "<input>:2:3: unterminated string literal (expected a closing `\"` before the end of the line)"),
        (Format::Zeek, zeek("\t[worker] = [],"), "<input>:2:3: expected a node name in quotes, found `worker`"),
        (Format::Zeek, "@load base/frameworks/cluster\n".into(), "<input>:1:1: directive @load is not supported in a layout (expected `redef` or `event`)"),
        (Format::Zeek, "const x = 1;\n".into(), "<input>:1:1: expected `redef` or `event`, found `const`"),
        (Format::Zeek, "redef Cluster::retry_interval = 5;\n".into(),
         "<input>:1:33: option Cluster::retry_interval: expected an interval such as 1.0 min, 30 secs or 250 msecs, found a count (5)"),
        (Format::Zeek, "redef Cluster::retry_interval = 5 fortnights;\n".into(), "<input>:1:33: option Cluster::retry_interval: expected an interval such as 1.0 min, 30 secs or 250 msecs, found a count (5)"),
        (Format::Zeek, "redef Cluster::retry_interval = 5fortnights;\n".into(), "<input>:1:33: bad interval unit `fortnights` (expected usec, msec, sec, min, hr or day)"),
        (Format::Zeek, "redef Cluster::manager_is_loggr = T;\n".into(), "<input>:1:35: unknown option \"Cluster::manager_is_loggr\" (did you mean Cluster::manager_is_logger? expected one of: Cluster::default_backend, Cluster::default_master_node, Cluster::default_persistent_backend, Cluster::default_store_dir, Cluster::enable_round_robin_logging, Cluster::logger_topic, Cluster::manager_is_logger, Cluster::manager_topic, Cluster::node, Cluster::node_topic_prefix, Cluster::nodeid_topic_prefix, Cluster::proxy_topic, Cluster::retry_interval, Cluster::time_machine_topic, Cluster::worker_topic, Cluster::control_events, Cluster::manager2logger_events, Cluster::manager2proxy_events, Cluster::manager2worker_events, Cluster::proxy2logger_events, Cluster::proxy2manager_events, Cluster::proxy2worker_events, Cluster::tm2manager_events, Cluster::tm2worker_events, Cluster::worker2logger_events, Cluster::worker2manager_events, Cluster::worker2proxy_events, Cluster::backend, Cluster::event_serializer, Cluster::log_serializer, Broker::default_clone_resync_interval, Broker::default_clone_stale_interval, Broker::default_clone_mutation_buffer_interval, Broker::log_batch_interval, Broker::log_batch_size, Log::write_buffer_size, Log::flush_interval, Log::default_rotation_dir, Log::default_rotation_interval, Log::default_rotation_postprocessor_cmd, LogAscii::use_json, Telemetry::metrics_port, Telemetry::metrics_address, Telemetry::metrics_endpoint_name, Broker::peer_buffer_size, Broker::peer_overflow_policy, Cluster::default_websocket_max_event_queue_size, Cluster::default_websocket_ping_interval, Broker::disable_ssl, Broker::ssl_cafile, Broker::ssl_capath, Broker::ssl_certificate, Broker::ssl_keyfile, Broker::ssl_passphrase, or one of Zeek's Cluster::Backend::ZeroMQ:: options)"),
        (Format::Zeek, "redef Cluster::manager_is_logger = \"F\";\n".into(), "<input>:1:36: option Cluster::manager_is_logger: expected T or F, found a string (\"F\")"),
        (Format::Zeek, "event zeek_init() { if ( 1 ) { print \"}\"; }\n".into(), "<input>:1:6: unterminated event handler (expected a closing `}`)"),
        // node.cfg
        (Format::NodeCfg, "[manager]\nhost=localhost\n".into(), "<input>:1:1: node \"manager\": no type given (expected type=logger, manager, proxy, worker or standalone)"),
        (Format::NodeCfg, "[manager]\ntype=boss\nhost=localhost\n".into(), "<input>:2:6: unknown node type 'boss' given for node 'manager' (expected logger, manager, proxy, worker or standalone)"),
        (Format::NodeCfg, "[manager]\ntype=manager\n".into(), "<input>:1:1: node \"manager\": no host given (expected host=<address or name>)"),
        (Format::NodeCfg, "[manager]\ntype=manager\nhost=127.0.0.1\n[Manager]\ntype=proxy\nhost=127.0.0.1\n".into(), "<input>:4:1: node name \"Manager\" is a duplicate of \"manager\""),
        (Format::NodeCfg, "[m]\ntype=manager\nhost=127.0.0.1\n[m]\ntype=proxy\n".into(), "<input>:4:1: duplicate section [m] (first at line 1)"),
        (Format::NodeCfg, "[m]\ntype=manager\ntype=proxy\n".into(), "<input>:3:1: duplicate key `type` (first at line 2)"),
        (Format::NodeCfg, "type=manager\n".into(), "<input>:1:1: expected a `[section]` header before the first key"),
        (Format::NodeCfg, "[m]\njust words\n".into(), "<input>:2:1: expected `key = value` or a `[section]` header"),
        (Format::NodeCfg, "[m]\ntype=manager\nhost=127.0.0.1\n[p]\ntype=proxy\nhost=127.0.0.1\n[w]\ntype=worker\nhost=127.0.0.1\nlb_procs=two\nlb_method=custom\n".into(),
         "<input>:10:10: number of load-balanced processes must be an integer for node 'w'"),
        (Format::NodeCfg, "[m]\ntype=manager\nhost=127.0.0.1\n[p]\ntype=proxy\nhost=127.0.0.1\n[w]\ntype=worker\nhost=127.0.0.1\nlb_procs=2\n".into(),
         "<input>:7:1: no load balancing method given for node 'w' (expected lb_method=af_packet, pf_ring, myricom, custom or interfaces)"),
        (Format::NodeCfg, "[m]\ntype=manager\nhost=127.0.0.1\n[p]\ntype=proxy\nhost=127.0.0.1\nlb_procs=2\n".into(),
         "<input>:7:10: node 'p' config: load balancing node config options are only for worker nodes"),
        (Format::NodeCfg, "[m]\ntype=manager\nhost=127.0.0.1\n".into(), "<input>:1:1: no proxy defined in node config (expected at least one node with type=proxy)"),
        (Format::NodeCfg, "[p]\ntype=proxy\nhost=127.0.0.1\n".into(), "<input>:1:1: no manager defined in node config (expected a node with type=manager)"),
        (Format::NodeCfg, "[m]\ntype=manager\nhost=127.0.0.1\n[p]\ntype=proxy\nhost=10.1.1.1\n".into(),
         "<input>:4:1: node 'p': all nodes must use localhost/127.0.0.1/::1 when manager uses it"),
        (Format::NodeCfg, "[m]\ntype=manager\nhost=127.0.0.1\nenv_vars=A=1,B\n".into(), "<input>:4:10: node 'm' config: missing '=' in env_vars option value: B"),
        (Format::NodeCfg, "[m]\ntype=manager\nhost=no such host!\n".into(),
         "<input>:3:6: bad host \"no such host!\" for node 'm': not an address and the name does not resolve"),
        // JSON
        (Format::Json, "{\"nodes\": {\"w\": {\"node_type\": \"WORKR\", \"ip\": \"1.2.3.4\"}}}".into(),
         "<input>:1:31: unknown node type \"WORKR\" (expected one of NONE, CONTROL, MANAGER, LOGGER, PROXY, WORKER, TIME_MACHINE)"),
        (Format::Json, "{\"nodes\": {\"w\": {\"node_type\": \"WORKER\"}}}".into(), "<input>:1:17: node \"w\": missing required field \"ip\""),
        (Format::Json, "{\"nodes\": {\"w\": {\"node_type\": \"WORKER\", \"ip\": \"1.2.3\"}}}".into(),
         "<input>:1:47: bad address \"1.2.3\" (expected an IPv4 or IPv6 address)"),
        (Format::Json, "{\"nodes\": {\"w\": {\"node_type\": \"WORKER\", \"ip\": \"1.2.3.4\", \"p\": \"99999/tcp\"}}}".into(),
         "<input>:1:63: \"p\": bad port number in \"99999/tcp\" (0-65535 for tcp)"),
        (Format::Json, "{\"nodes\": {\"w\": {\"node_type\": \"WORKER\", \"ip\": \"1.2.3.4\", \"colour\": 1}}}".into(),
         "<input>:1:58: unknown field \"colour\" in node \"w\" (expected one of node_type, ip, zone_id, p, interface, logger, manager, proxy, workers, time_machine, id, lb_filter, metrics_port, pcap_file, zeekctl)"),
        (Format::Json, "{\"nodes\": {\"w\": {\"node_type\": \"WORKER\", \"ip\": \"1.2.3.4\", \"manager\": \"m\"}}}".into(),
         "<input>:1:69: node \"w\": $manager must name a Cluster::MANAGER node, but there is no node \"m\""),
        (Format::Json, "{\"nodes\": {\"a\": {\"node_type\": \"WORKER\", \"ip\": \"1.2.3.4\"},\n \"a\": {}}}".into(), "<input>:2:2: duplicate node name \"a\""),
        (Format::Json, "{\"nodes\": {}, \"options\": {\"Cluster::retry_interval\": \"soon\"}}".into(),
         "<input>:1:54: option Cluster::retry_interval: \"soon\" is not an interval (expected an interval such as 1.0 min, 30 secs or 250 msecs, or a number of seconds)"),
        (Format::Json, "{\"nodes\": {\"w\": {\"node_type\": \"WORKER\",}}}".into(), "<input>:1:40: expected a string key, found `}`"),
        (Format::Json, "{\"options\": {}}".into(), "<input>:1:1: missing required key \"nodes\""),
        (Format::Json, "{\"nodes\": {}, \"nodes\": {}}".into(), "<input>:1:15: duplicate key \"nodes\""),
        (Format::Json, "{\"nodes\": {}, \"options\": {\"Cluster::node\": \"a\", \"Cluster::node\": \"b\"}}".into(),
         "<input>:1:49: duplicate option \"Cluster::node\""),
        (Format::Zeek, "event zeek_init() ;\n".into(), "<input>:1:19: expected `{` (the event handler's body), found `;`"),
        (Format::Json, "[1]".into(), "<input>:1:1: expected a JSON object with \"nodes\" and \"options\", found an array"),
    ];
    let mut failures = Vec::new();
    for (format, text, want) in &cases {
        match Layout::parse(text, Some(*format)) {
            Ok(_) => failures.push(format!("accepted: {text}")),
            Err(e) => {
                assert_eq!(e.kind, crate::error::ErrorKind::Parse, "{text}");
                if e.message != *want {
                    failures.push(format!("text: {text}\n want: {want}\n  got: {}", e.message));
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases wrong:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

#[test]
fn load_reports_missing_files_and_bad_utf8() {
    let e = Layout::load("/nonexistent/cluster-layout.zeek").unwrap_err();
    assert_eq!(e.kind, crate::error::ErrorKind::NotFound);
    assert!(
        e.message
            .starts_with("/nonexistent/cluster-layout.zeek: cannot read layout: "),
        "{}",
        e.message
    );
    let dir = std::env::temp_dir().join(format!("zc-layout-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join("bad.zeek");
    std::fs::write(&p, b"# ok\nredef \xff").unwrap();
    let e = Layout::load(&p).unwrap_err();
    assert_eq!(
        e.message,
        format!("{}:2:7: expected UTF-8 text (invalid byte)", p.display())
    );
    std::fs::remove_dir_all(&dir).ok();
}

/// Arbitrary bytes never panic any parser.
#[test]
fn parsers_never_panic() {
    use proptest::prelude::*;
    let seeds: Vec<String> = [
        "zeekctl-cluster-layout.zeek",
        "cluster-layout.bro",
        "node.cfg",
        "ipv6-cluster-layout.zeek",
    ]
    .iter()
    .map(|n| std::fs::read_to_string(fixture(n)).unwrap())
    .collect();
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig {
        cases: 300,
        ..ProptestConfig::default()
    });
    runner
        .run(
            &(0usize..4, any::<usize>(), "\\PC{0,8}", 0usize..4),
            |(i, cut, insert, f)| {
                let s = &seeds[i];
                let mut at = cut % (s.len() + 1);
                while !s.is_char_boundary(at) {
                    at -= 1;
                }
                let text = format!("{}{}{}", &s[..at], insert, &s[at..]);
                let format = [Format::Zeek, Format::Bro, Format::NodeCfg, Format::Json][f];
                let _ = Layout::parse(&text, Some(format));
                let _ = Layout::parse(&text[..at], None);
                Ok(())
            },
        )
        .unwrap();
}

#[test]
fn current_zeekctl_layout_with_logger_is_not_taken_for_bro() {
    let text = "redef Cluster::manager_is_logger = F;\nredef Cluster::nodes = {\n\t[\"logger-1\"] = [$node_type=Cluster::LOGGER, $ip=127.0.0.1, $zone_id=\"\", $p=27761/tcp],\n\t[\"worker-1\"] = [$node_type=Cluster::WORKER, $ip=127.0.0.1, $zone_id=\"\", $p=27764/tcp, $interface=\"eth0\", $logger=\"logger-1\", $manager=\"manager\"],\n};\n";
    assert_eq!(Format::from_content(text), Format::Zeek);
    let bro = "redef Cluster::nodes = {\n\t[\"worker-1\"] = [$node_type=Cluster::WORKER, $ip=127.0.0.1, $p=47761/tcp, $proxy=\"proxy-1\"],\n};\n";
    assert_eq!(Format::from_content(bro), Format::Bro);
}

#[test]
fn zeekctl_listen_websocket_block() {
    let text = "redef Cluster::nodes = {\n\t[\"manager\"] = [$node_type=Cluster::MANAGER, $ip=127.0.0.1, $p=27757/tcp],\n};\n\nevent zeek_init()\n\t{\n\tif ( getenv(\"ZEEKCTL_DISABLE_LISTEN\") == \"\" && (Cluster::local_node_type() == Cluster::MANAGER || ! Cluster::is_enabled()) )\n\t\t{\n\t\tCluster::listen_websocket([$listen_addr=127.0.0.1, $listen_port=27759/tcp]);\n\t\t}\n\t}\n";
    let l = Layout::parse(text, Some(Format::Zeek)).unwrap();
    assert_eq!(l.websocket.len(), 1);
    let w = &l.websocket[0];
    assert_eq!(w.listen_addr.to_string(), "127.0.0.1");
    assert_eq!(w.listen_port, 27759);
    assert!(w.manager_only && w.unless_disable_listen);
    let l = Layout::parse(
        "event zeek_init() { Cluster::listen_websocket([$listen_addr=[::1], $listen_port=1/tcp, $max_event_queue_size=7, $ping_interval=2 secs]); }\n",
        Some(Format::Zeek),
    )
    .unwrap();
    let w = &l.websocket[0];
    assert_eq!(
        (w.max_event_queue_size, w.ping_interval),
        (Some(7), Some(2.0))
    );
    assert!(!w.manager_only && !w.unless_disable_listen);
    let l = Layout::parse(
        "event zeek_init() { Cluster::listen_websocket([$listen_addr=127.0.0.1, $listen_port=1/tcp, $tls_options=[$cert_file=\"/c, d.pem\", $key_file=\"/k.pem\", $enable_peer_verification=T, $ca_file=\"/ca.pem\"]]); }\n",
        Some(Format::Zeek),
    )
    .unwrap();
    let t = l.websocket[0].tls.clone().unwrap();
    assert_eq!(t.cert_file.as_deref(), Some("/c, d.pem"));
    assert_eq!(t.key_file.as_deref(), Some("/k.pem"));
    assert!(t.enable_peer_verification && t.ca_file == "/ca.pem");
    let e = Layout::parse(
        "event zeek_init() { Cluster::listen_websocket([$listen_addr=127.0.0.1, $listen_port=1/tcp, $tls_options=[$key_file=\"/k.pem\"]]); }\n",
        Some(Format::Zeek),
    )
    .unwrap_err();
    assert!(e.message.contains("No cert_file field"), "{}", e.message);
    let e = Layout::parse(
        "event zeek_init() { Cluster::listen_websocket([$listen_port=1/tcp]); }\n",
        Some(Format::Zeek),
    )
    .unwrap_err();
    assert!(
        e.message.contains("$listen_addr is required"),
        "{}",
        e.message
    );
    // The fields are the catalogue's WebSocket options: did-you-mean, Zeek types.
    for (field, want) in [
        ("$ping_intervall=2 secs", "(did you mean ping_interval?"),
        ("$ping_interval=2", "option ping_interval: expected an interval such as 1.0 min, 30 secs or 250 msecs, found a count (2)"),
        ("$send_queue_size=5", "$send_queue_size is not one of Zeek's WebSocketServerOptions fields a layout sets"),
    ] {
        let e = Layout::parse(
            &format!("event zeek_init() {{ Cluster::listen_websocket([$listen_addr=127.0.0.1, $listen_port=1/tcp, {field}]); }}\n"),
            Some(Format::Zeek),
        )
        .unwrap_err();
        assert!(e.message.contains(want), "{field}: {}", e.message);
    }
}
