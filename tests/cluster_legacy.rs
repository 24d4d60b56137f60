//! The legacy Bro 2.5 model over real endpoints: `$proxy`/`$logger`/`$manager` decide
//! who peers with whom, and each event-name pattern delivers its events to its target
//! role only. Also the Control framework's request/response exchange with a controller.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};
use zcluster::cluster::{Cluster, Options};
use zcluster::data::{Event, Value};
use zcluster::endpoint::{Endpoint, EndpointOptions, MessageKind};
use zcluster::layout::{Format, Layout, NodeType};

const T: Duration = Duration::from_secs(15);

#[path = "common/ports.rs"]
mod ports;
use ports::free_port;

fn bro_layout() -> Arc<Layout> {
    let mut s = String::from("# Bro 2.5 broctl style\nredef Cluster::nodes = {\n");
    s += &format!("\t[\"control\"] = [$node_type=Cluster::CONTROL, $ip=127.0.0.1, $zone_id=\"\", $p={}/tcp],\n", free_port());
    s += &format!("\t[\"manager\"] = [$node_type=Cluster::MANAGER, $ip=127.0.0.1, $zone_id=\"\", $p={}/tcp, $workers=set(\"worker-1\", \"worker-2\")],\n", free_port());
    s += &format!("\t[\"proxy-1\"] = [$node_type=Cluster::PROXY, $ip=127.0.0.1, $zone_id=\"\", $p={}/tcp, $manager=\"manager\", $workers=set(\"worker-1\", \"worker-2\")],\n", free_port());
    for w in ["worker-1", "worker-2"] {
        s += &format!("\t[\"{w}\"] = [$node_type=Cluster::WORKER, $ip=127.0.0.1, $zone_id=\"\", $p={}/tcp, $interface=\"eth0\", $manager=\"manager\", $proxy=\"proxy-1\"],\n", free_port());
    }
    s += "};\n";
    Arc::new(Layout::parse(&s, Some(Format::Bro)).unwrap())
}

fn start(layout: &Arc<Layout>, name: &str) -> Cluster {
    let mut o = Options::new();
    o.set("Cluster::retry_interval", "0.1 secs").unwrap();
    o.set("Cluster::manager2proxy_events", "/Intel::.*/")
        .unwrap();
    let cl = Cluster::with_env(layout.clone(), Some(name), &o, None, None).unwrap();
    // The manager writes cluster.log (manager_is_logger): keep it out of the working tree.
    cl.start_in(Some(
        std::env::temp_dir().join(format!("zc-legacy-{}", std::process::id())),
    ))
    .unwrap();
    cl
}

fn ups_until(cl: &Cluster, n: usize) -> BTreeSet<String> {
    let ep = cl.running().unwrap().endpoint();
    let deadline = Instant::now() + T;
    let mut ups = BTreeSet::new();
    while ups.len() < n {
        assert!(
            Instant::now() < deadline,
            "{}: only {ups:?}",
            cl.node_name()
        );
        if let Some(m) = ep.next(Some(Duration::from_millis(100))) {
            if m.kind == zcluster::cluster::NODE_UP {
                ups.insert(m.node.unwrap());
            }
        }
    }
    ups
}

/// Event names that reach `cl` within a short wait.
fn received(cl: &Cluster, wait: Duration) -> Vec<String> {
    let ep = cl.running().unwrap().endpoint();
    let mut out = Vec::new();
    while let Some(m) = ep.next(Some(wait)) {
        if m.kind == MessageKind::Event {
            out.push(Event::from_bytes(&m.payload).unwrap().name);
        }
    }
    out
}

fn set(v: &[&str]) -> BTreeSet<String> {
    v.iter().map(|s| s.to_string()).collect()
}

#[test]
fn legacy_peering_and_pattern_routing() {
    let layout = bro_layout();
    let m = start(&layout, "manager");
    let p = start(&layout, "proxy-1");
    let w1 = start(&layout, "worker-1");
    let w2 = start(&layout, "worker-2");
    assert!(zcluster::cluster::legacy::is_legacy(&m));

    // Bro 2.5's setup-connections: workers peer with their manager and their one proxy,
    // the proxy with the manager; nothing else.
    assert_eq!(ups_until(&m, 3), set(&["proxy-1", "worker-1", "worker-2"]));
    assert_eq!(ups_until(&p, 3), set(&["manager", "worker-1", "worker-2"]));
    assert_eq!(ups_until(&w1, 2), set(&["manager", "proxy-1"]));
    assert_eq!(ups_until(&w2, 2), set(&["manager", "proxy-1"]));

    let short = Duration::from_millis(400);
    // manager2worker_events = /Drop::.*/ (default): workers only.
    let sent = m
        .running()
        .unwrap()
        .raise(&m, &Event::with_args("Drop::drop_address", vec![]))
        .unwrap();
    assert_eq!(sent, vec![NodeType::Worker]);
    assert_eq!(received(&w1, short), ["Drop::drop_address"]);
    assert_eq!(received(&w2, short), ["Drop::drop_address"]);
    assert!(received(&p, short).is_empty());

    // manager2proxy_events redefined to /Intel::.*/: the proxy only.
    let sent = m
        .running()
        .unwrap()
        .raise(
            &m,
            &Event::with_args("Intel::new_item", vec![Value::Count(1)]),
        )
        .unwrap();
    assert_eq!(sent, vec![NodeType::Proxy]);
    assert_eq!(received(&p, short), ["Intel::new_item"]);
    assert!(received(&w1, short).is_empty());

    // worker2manager_events = /(TimeMachine::command|Drop::.*)/: the manager only.
    let sent = w1
        .running()
        .unwrap()
        .raise(&w1, &Event::with_args("TimeMachine::command", vec![]))
        .unwrap();
    assert_eq!(sent, vec![NodeType::Manager]);
    assert_eq!(received(&m, short), ["TimeMachine::command"]);
    assert!(received(&p, short).is_empty());
    assert!(received(&w2, short).is_empty());

    // Whole-name match: a name that only contains a pattern's text goes nowhere.
    let sent = w1
        .running()
        .unwrap()
        .raise(&w1, &Event::with_args("Foo::Drop::x", vec![]))
        .unwrap();
    assert!(sent.is_empty());
    assert!(received(&m, short).is_empty());
}

#[test]
fn control_requests_are_answered() {
    let layout = bro_layout();
    let w = start(&layout, "worker-1");
    let rt = w.running().unwrap();
    rt.set_net_stats(100, 2, 5);
    let port = rt.bound_port().unwrap();

    // A controller as zeekctl's Broker path does it: peer, subscribe zeek/control, publish
    // the request to zeek/control/<peer id>, read the response.
    let ctl = Endpoint::new(EndpointOptions {
        forwarding: false,
        ..Default::default()
    })
    .unwrap();
    ctl.subscribe("zeek/control").unwrap();
    ctl.peer("127.0.0.1", port, Duration::from_millis(100))
        .unwrap();
    assert!(ctl.await_peer_subscription(&format!("zeek/control/{}", w.node_id()), T));
    let ask = |req: Event| -> (String, Event) {
        ctl.publish(&format!("zeek/control/{}", w.node_id()), req.to_bytes())
            .unwrap();
        let deadline = Instant::now() + T;
        loop {
            assert!(Instant::now() < deadline, "no response");
            if let Some(m) = ctl.next(Some(Duration::from_millis(100))) {
                if m.kind == MessageKind::Event {
                    let ev = Event::from_bytes(&m.payload).unwrap();
                    if ev.name.ends_with("_response") {
                        return (m.topic, ev);
                    }
                }
            }
        }
    };
    let s = |t: &str| Value::String(t.as_bytes().to_vec());

    let (topic, ev) = ask(Event::with_args(
        "Control::id_value_request",
        vec![s("Cluster::retry_interval")],
    ));
    assert_eq!(topic, "zeek/control/id_value_response/worker-1");
    assert_eq!(
        ev.args,
        vec![s("Cluster::retry_interval"), s("100.0 msecs")]
    );

    let (_, ev) = ask(Event::with_args("Control::net_stats_request", vec![]));
    let Value::String(b) = &ev.args[0] else {
        panic!("{ev:?}")
    };
    let text = String::from_utf8_lossy(b);
    assert!(text.ends_with(" recvd=100 dropped=2 link=5\n"), "{text}");

    let (_, ev) = ask(Event::with_args("Control::peer_status_request", vec![]));
    let Value::String(b) = &ev.args[0] else {
        panic!("{ev:?}")
    };
    assert!(String::from_utf8_lossy(b).contains(&format!(
        "peer={} host=127.0.0.1 status=Broker::PEERED\n",
        ctl.id()
    )));

    // Shutdown: answered, and handed to the host, which decides.
    let (topic, _) = ask(Event::with_args("Control::shutdown_request", vec![]));
    assert_eq!(topic, "zeek/control/shutdown_response/worker-1");
    let deadline = Instant::now() + T;
    loop {
        assert!(
            Instant::now() < deadline,
            "the host never saw the shutdown request"
        );
        if let Some(m) = rt.endpoint().next(Some(Duration::from_millis(100))) {
            if m.kind == MessageKind::Event
                && Event::from_bytes(&m.payload).unwrap().name == "Control::shutdown_request"
            {
                break;
            }
        }
    }
}
