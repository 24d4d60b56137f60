//! A cluster on Zeek's ZeroMQ backend, in one process: the manager runs the XPUB/XSUB
//! proxy, every node connects to it. Checks the two-stage hello (every node raises
//! node_up for every other), role / node / pool topics in Zeek's dotted form, pools,
//! worker_count, node_down when a node goes, stores over the same sockets, and that the
//! proxy's loss and return are node_down / node_up everywhere.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};
use zcluster::cluster::{Cluster, ClusterBackend, Options};
use zcluster::data::{Event, Value};
use zcluster::endpoint::{Message, MessageKind};
use zcluster::layout::Layout;

const T: Duration = Duration::from_secs(15);

#[path = "common/ports.rs"]
mod ports;
use ports::free_port;

/// A layout in ZeekControl's form with the ZeroMQ redefs zeekctl writes (ports beside the
/// manager's).
fn layout_text(xpub: u16, xsub: u16) -> String {
    let mut s = String::from("redef Cluster::backend = Cluster::CLUSTER_BACKEND_ZEROMQ;\n");
    s += &format!(
        "redef Cluster::Backend::ZeroMQ::listen_xpub_endpoint = \"tcp://127.0.0.1:{xpub}\";\n"
    );
    s += &format!(
        "redef Cluster::Backend::ZeroMQ::listen_xsub_endpoint = \"tcp://127.0.0.1:{xsub}\";\n"
    );
    s += &format!(
        "redef Cluster::Backend::ZeroMQ::connect_xpub_endpoint = \"tcp://127.0.0.1:{xsub}\";\n"
    );
    s += &format!(
        "redef Cluster::Backend::ZeroMQ::connect_xsub_endpoint = \"tcp://127.0.0.1:{xpub}\";\n"
    );
    s += "redef Cluster::manager_is_logger = F;\nredef Cluster::nodes = {\n";
    s += &format!(
        "\t[\"control\"] = [$node_type=Cluster::CONTROL, $ip=127.0.0.1, $p={}/tcp],\n",
        free_port()
    );
    s += &format!(
        "\t[\"manager\"] = [$node_type=Cluster::MANAGER, $ip=127.0.0.1, $p={}/tcp],\n",
        free_port()
    );
    s += &format!(
        "\t[\"logger-1\"] = [$node_type=Cluster::LOGGER, $ip=127.0.0.1, $p={}/tcp],\n",
        free_port()
    );
    s += &format!("\t[\"proxy-1\"] = [$node_type=Cluster::PROXY, $ip=127.0.0.1, $p={}/tcp, $manager=\"manager\"],\n", free_port());
    for i in 1..=2 {
        s += &format!("\t[\"worker-{i}\"] = [$node_type=Cluster::WORKER, $ip=127.0.0.1, $p={}/tcp, $interface=\"lo\", $manager=\"manager\"],\n", free_port());
    }
    s += "};\n";
    s
}

fn node(layout: &Arc<Layout>, name: &str, dir: &std::path::Path) -> Cluster {
    let cl = Cluster::with_env(layout.clone(), Some(name), &Options::new(), None, None).unwrap();
    assert_eq!(cl.backend(), ClusterBackend::ZeroMQ);
    cl.start_in(Some(dir.to_path_buf())).unwrap();
    cl
}

fn drain_until(cl: &Cluster, mut done: impl FnMut(&[Message]) -> bool) -> Vec<Message> {
    let ep = cl.running().unwrap().endpoint();
    let deadline = Instant::now() + T;
    let mut got = Vec::new();
    while !done(&got) {
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(
            !left.is_zero(),
            "{}: timed out; got {:?}",
            cl.node_name(),
            got.iter()
                .map(|m| format!("{:?} {:?} {}", m.kind, m.node, m.topic))
                .collect::<Vec<_>>()
        );
        if let Some(m) = ep.next(Some(left.min(Duration::from_millis(100)))) {
            got.push(m);
        }
    }
    got
}

fn names(msgs: &[Message], kind: MessageKind) -> BTreeSet<String> {
    msgs.iter()
        .filter(|m| m.kind == kind)
        .filter_map(|m| m.node.clone())
        .collect()
}

const ALL: [&str; 5] = ["manager", "logger-1", "proxy-1", "worker-1", "worker-2"];

#[test]
fn zeromq_cluster_forms_routes_and_counts() {
    let dir = std::env::temp_dir().join(format!("zc-zmq-cluster-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let layout = Arc::new(Layout::parse(&layout_text(free_port(), free_port()), None).unwrap());
    // Workers before the manager (and so before the proxy): libzmq reconnects.
    let mut nodes: Vec<(&str, Cluster)> = Vec::new();
    for n in ["worker-1", "worker-2", "proxy-1", "logger-1", "manager"] {
        nodes.push((n, node(&layout, n, &dir)));
    }
    fn get<'a>(nodes: &'a [(&str, Cluster)], n: &str) -> &'a Cluster {
        &nodes.iter().find(|(k, _)| *k == n).unwrap().1
    }
    for (name, cl) in &nodes {
        let want: BTreeSet<String> = ALL
            .iter()
            .filter(|n| *n != name)
            .map(|s| s.to_string())
            .collect();
        let got = drain_until(cl, |m| names(m, zcluster::cluster::NODE_UP) == want);
        assert_eq!(names(&got, zcluster::cluster::NODE_UP), want, "{name}");
        assert!(cl.node_id().starts_with(&format!("zeromq_{name}_")));
    }
    let manager = get(&nodes, "manager");
    assert_eq!(manager.worker_count(), 2);
    assert!(manager.running().unwrap().zeromq_proxy().is_some());
    assert!(get(&nodes, "worker-1")
        .running()
        .unwrap()
        .zeromq_proxy()
        .is_none());
    assert_eq!(
        manager.node_topic("worker-1"),
        "zeek.cluster.node.worker-1."
    );

    // Role topic, node topic (worker-1 must not see worker-2's), pool (HRW).
    let w1 = get(&nodes, "worker-1").running().unwrap();
    let ev = Event::with_args("Test::ping", vec![Value::Count(1)]);
    w1.publish("zeek.cluster.manager", &ev).unwrap();
    let got = drain_until(manager, |m| m.iter().any(|m| m.kind == MessageKind::Event));
    let d = got.iter().find(|m| m.kind == MessageKind::Event).unwrap();
    assert_eq!(d.topic, "zeek.cluster.manager");
    assert_eq!(d.event().unwrap(), ev);
    let mr = manager.running().unwrap();
    mr.publish(&manager.node_topic("worker-2"), &ev).unwrap();
    let got = drain_until(get(&nodes, "worker-2"), |m| {
        m.iter().any(|m| m.kind == MessageKind::Event)
    });
    assert!(got.iter().any(|m| m.topic == "zeek.cluster.node.worker-2."));
    assert!(mr
        .publish_hrw("zeek.cluster.pool.proxy", &Value::Count(7), &ev)
        .unwrap());
    let got = drain_until(get(&nodes, "proxy-1"), |m| {
        m.iter().any(|m| m.kind == MessageKind::Event)
    });
    assert!(got.iter().any(|m| m.topic == "zeek.cluster.node.proxy-1."));
    assert!(get(&nodes, "worker-1")
        .running()
        .unwrap()
        .endpoint()
        .next(Some(Duration::from_millis(200)))
        .is_none());

    // A worker leaves: node_down everywhere, worker_count follows.
    let pos = nodes.iter().position(|(n, _)| *n == "worker-2").unwrap();
    let (_, w2) = nodes.remove(pos);
    drop(w2);
    for (name, cl) in &nodes {
        let got = drain_until(cl, |m| {
            names(m, zcluster::cluster::NODE_DOWN).contains("worker-2")
        });
        assert!(
            names(&got, zcluster::cluster::NODE_DOWN).contains("worker-2"),
            "{name}"
        );
    }
    assert_eq!(get(&nodes, "manager").worker_count(), 1);
    let st = get(&nodes, "manager")
        .running()
        .unwrap()
        .zeromq_stats()
        .unwrap();
    assert_eq!(st.get("ready"), Some(1));
    assert_eq!(st.get("msg_errors"), Some(0));
}

/// Logs as Zeek does them on ZeroMQ: a non-logger buffers records per stream
/// (`Log::write_buffer_size`) and PUSHes each buffer as one `log-write` message, the
/// `zeek-bin-serializer` payload, to its PUSH socket connected to every logger's layout
/// port (libzmq round-robins the messages); here logger-1 is a raw libzmq PULL and
/// logger-2 a zcluster logger, which decodes the batches it pulls and writes the file.
/// Every record arrives exactly once; a garbage batch is counted and survived.
#[test]
fn log_batches_push_to_the_loggers_and_land_in_the_files() {
    use zcluster::log::{zeekser, LogStream, ZeekType};
    let dir = std::env::temp_dir().join(format!("zc-zmq-logs-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let (xpub, xsub, lport, lport2) = (free_port(), free_port(), free_port(), free_port());
    let mut s = String::from("redef Cluster::backend = Cluster::CLUSTER_BACKEND_ZEROMQ;\n");
    s += &format!(
        "redef Cluster::Backend::ZeroMQ::listen_xpub_endpoint = \"tcp://127.0.0.1:{xpub}\";\n"
    );
    s += &format!(
        "redef Cluster::Backend::ZeroMQ::listen_xsub_endpoint = \"tcp://127.0.0.1:{xsub}\";\n"
    );
    s += &format!(
        "redef Cluster::Backend::ZeroMQ::connect_xpub_endpoint = \"tcp://127.0.0.1:{xsub}\";\n"
    );
    s += &format!(
        "redef Cluster::Backend::ZeroMQ::connect_xsub_endpoint = \"tcp://127.0.0.1:{xpub}\";\n"
    );
    s += "redef Log::write_buffer_size = 5;\nredef Log::flush_interval = 60 secs;\n";
    s += "redef Cluster::manager_is_logger = F;\nredef Cluster::nodes = {\n";
    s += &format!(
        "\t[\"manager\"] = [$node_type=Cluster::MANAGER, $ip=127.0.0.1, $p={}/tcp],\n",
        free_port()
    );
    s += &format!(
        "\t[\"logger-1\"] = [$node_type=Cluster::LOGGER, $ip=127.0.0.1, $p={lport}/tcp],\n"
    );
    s += &format!(
        "\t[\"logger-2\"] = [$node_type=Cluster::LOGGER, $ip=127.0.0.1, $p={lport2}/tcp],\n"
    );
    s += "};\n";
    let layout = Arc::new(Layout::parse(&s, None).unwrap());
    let ctx = zmq::Context::new();
    let pull = ctx.socket(zmq::PULL).unwrap();
    pull.bind(&format!("tcp://127.0.0.1:{lport}")).unwrap();
    let lg2 = node(&layout, "logger-2", &dir);
    let mgr = node(&layout, "manager", &dir);
    let rt = mgr.running().unwrap();
    let stream = LogStream::new("Test::LOG", "zmqtest")
        .column("ts", ZeekType::Time)
        .column("n", ZeekType::Count)
        .optional_column("s", ZeekType::String);
    rt.create_log_stream(stream.clone()).unwrap();
    // The manager's cluster.log line for logger-2's node_up waits in a write buffer (60 s
    // flush interval): wait for it first, so that what is pending afterwards is the
    // Test::LOG records alone.
    drain_until(&mgr, |m| {
        names(m, zcluster::cluster::NODE_UP).contains("logger-2")
    });
    let pending_before = rt.log_send_stats().pending;
    let rec = |i: u64| {
        vec![
            Value::Timestamp(1_700_000_000_000_000_000 + i as i64 * 1_000_000),
            Value::Count(i),
            if i % 2 == 0 {
                Value::string(format!("r{i}"))
            } else {
                Value::None
            },
        ]
    };
    for i in 0..20u64 {
        rt.log_write("Test::LOG", rec(i)).unwrap();
    }
    // 4 full buffers of 5 went out without a flush; each batch reaches one logger.
    let hdr = zeekser::LogWriteHeader::new(
        "Test::LOG",
        "Log::WRITER_ASCII",
        "default",
        "zmqtest",
        &stream.fields,
    );
    let mut raw: Vec<u64> = Vec::new();
    let written = || {
        lg2.running()
            .unwrap()
            .zeromq_stats()
            .unwrap()
            .get("log_records_received")
            .unwrap()
    };
    let deadline = Instant::now() + T;
    while raw.len() as u64 + written() < 20 && Instant::now() < deadline {
        if pull.poll(zmq::POLLIN, 50).unwrap() == 0 {
            continue;
        }
        let f = pull.recv_multipart(0).unwrap();
        assert_eq!(f.len(), 4);
        assert_eq!(f[0], b"log-write");
        assert_eq!(f[1], mgr.node_id().as_bytes());
        assert_eq!(f[2], b"zeek-bin-serializer");
        let (h, recs) = zeekser::decode_log_batch(&f[3]).unwrap();
        if h.path != "zmqtest" {
            assert_eq!(h.stream_name, "Cluster::LOG");
            continue;
        }
        assert_eq!(recs.len(), 5, "one write buffer per message");
        let first = match recs[0][1] {
            Value::Count(n) => n,
            ref v => panic!("{v:?}"),
        };
        let want: Vec<Vec<Value>> = (first..first + 5).map(rec).collect();
        assert_eq!(
            f[3],
            zeekser::encode_log_batch(&hdr, &stream.fields, &want).unwrap()
        );
        raw.extend(first..first + 5);
    }
    let via_logger = written();
    assert_eq!(raw.len() as u64 + via_logger, 20, "raw {raw:?}");
    assert!(
        !raw.is_empty() && via_logger > 0,
        "round robin over both loggers"
    );
    let st = rt.zeromq_stats().unwrap();
    assert_eq!(st.get("msg_errors"), Some(0));
    assert_eq!(
        rt.log_send_stats().pending,
        pending_before,
        "Test::LOG: nothing pending"
    );

    // Garbage into logger-2's PULL: counted, and the logger keeps writing.
    let push = ctx.socket(zmq::PUSH).unwrap();
    push.set_linger(0).unwrap();
    push.connect(&format!("tcp://127.0.0.1:{lport2}")).unwrap();
    push.send_multipart(
        [&b"log-write"[..], b"x", b"zeek-bin-serializer", b"\x00junk"],
        0,
    )
    .unwrap();
    push.send_multipart([&b"log-write"[..], b"x"], 0).unwrap();
    let lst = || lg2.running().unwrap().zeromq_stats().unwrap();
    let deadline = Instant::now() + T;
    while (lst().get("logs_malformed") < Some(1) || lst().get("msg_errors") < Some(1))
        && Instant::now() < deadline
    {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(lst().get("logs_malformed"), Some(1));
    assert_eq!(lst().get("msg_errors"), Some(1));
    drop(mgr);
    lg2.running().unwrap().flush_log().unwrap();
    drop(lg2);
    let text = std::fs::read_to_string(dir.join("zmqtest.log")).unwrap();
    let mut rows: Vec<u64> = text
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| l.split('\t').nth(1).unwrap().parse().unwrap())
        .collect();
    assert_eq!(rows.len() as u64, via_logger);
    assert!(text.contains("#fields\tts\tn\ts"), "{text}");
    rows.extend(&raw);
    rows.sort();
    assert_eq!(rows, (0..20).collect::<Vec<u64>>());
    let _ = std::fs::remove_dir_all(&dir);
}

/// Backpressure on the log path: a worker writes while its logger is not running yet,
/// with a PUSH high-water mark of 2 batches. Zeek's `dontwait` send would lose batches
/// once the HWM is reached ("Failed to send log write. HWM reached?"); zcluster keeps
/// them (the PUSH socket meets the HWM and waits), and every record reaches the logger
/// when it starts.
#[test]
fn log_batches_wait_for_a_late_logger_and_none_is_lost() {
    use zcluster::log::{LogStream, ZeekType};
    let dir = std::env::temp_dir().join(format!("zc-zmq-late-logger-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let mut s = layout_text(free_port(), free_port());
    s = format!(
        "redef Log::write_buffer_size = 10;\nredef Cluster::Backend::ZeroMQ::log_sndhwm = 2;\nredef Cluster::Backend::ZeroMQ::log_rcvhwm = 2;\n{s}"
    );
    let layout = Arc::new(Layout::parse(&s, None).unwrap());
    let mgr = node(&layout, "manager", &dir);
    let w = node(&layout, "worker-1", &dir);
    let rt = w.running().unwrap();
    rt.create_log_stream(LogStream::new("Late::LOG", "late").column("n", ZeekType::Count))
        .unwrap();
    const N: u64 = 3000;
    for i in 0..N {
        rt.log_write("Late::LOG", vec![Value::Count(i)]).unwrap();
    }
    rt.flush_log().unwrap();
    let st = || rt.zeromq_stats().unwrap();
    let deadline = Instant::now() + T;
    while st().get("logs_blocked") == Some(0) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(
        st().get("logs_blocked").unwrap() > 0,
        "the PUSH queue met its HWM"
    );
    std::thread::sleep(Duration::from_millis(300));
    let lg = node(&layout, "logger-1", &dir);
    let lrt = lg.running().unwrap();
    let deadline = Instant::now() + T;
    while lrt
        .zeromq_stats()
        .unwrap()
        .get("log_records_received")
        .unwrap()
        < N
        && Instant::now() < deadline
    {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        lrt.zeromq_stats()
            .unwrap()
            .get("log_records_received")
            .unwrap()
            >= N
    );
    lrt.flush_log().unwrap();
    drop(w);
    drop(mgr);
    drop(lg);
    let text = std::fs::read_to_string(dir.join("late.log")).unwrap();
    let rows: Vec<u64> = text
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| l.parse().unwrap())
        .collect();
    assert_eq!(
        rows,
        (0..N).collect::<Vec<u64>>(),
        "every record, once, in order"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// CURVE (Zeek 8.2): the proxy's sockets are CURVE servers with a ZAP handler that admits
/// the one configured client key; nodes with that key form the cluster, a node with
/// another client key is refused (its handshake failure is counted and reported) and
/// never sees anyone.
#[test]
fn curve_admits_the_configured_client_key_only() {
    let dir = std::env::temp_dir().join(format!("zc-zmq-curve-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (spk, ssk) = zcluster::zeromq::generate_keypair().unwrap();
    let (cpk, csk) = zcluster::zeromq::generate_keypair().unwrap();
    let (opk, osk) = zcluster::zeromq::generate_keypair().unwrap();
    let mut text = layout_text(free_port(), free_port());
    for (k, v) in [
        ("server_publickey", &spk),
        ("server_secretkey", &ssk),
        ("client_publickey", &cpk),
        ("client_secretkey", &csk),
    ] {
        text = format!("redef Cluster::Backend::ZeroMQ::curve_{k} = \"{v}\";\n{text}");
    }
    let layout = Arc::new(Layout::parse(&text, None).unwrap());
    let m = node(&layout, "manager", &dir);
    let w = node(&layout, "worker-1", &dir);
    let got = drain_until(&w, |m| {
        names(m, zcluster::cluster::NODE_UP).contains("manager")
    });
    assert!(names(&got, zcluster::cluster::NODE_UP).contains("manager"));
    // An intruder with the server's public key but another client key pair.
    let mut o = Options::new();
    o.set("Cluster::Backend::ZeroMQ::curve_client_publickey", &opk)
        .unwrap();
    o.set("Cluster::Backend::ZeroMQ::curve_client_secretkey", &osk)
        .unwrap();
    let bad = Cluster::with_env(layout.clone(), Some("worker-2"), &o, None, None).unwrap();
    bad.start_in(Some(dir.clone())).unwrap();
    let got = drain_until(&bad, |m| {
        m.iter().any(|m| m.kind == MessageKind::PeerRejected)
    });
    assert!(
        got.iter()
            .any(|m| m.kind == MessageKind::PeerRejected && m.text.contains("Handshake")),
        "{got:?}"
    );
    assert!(names(&got, zcluster::cluster::NODE_UP).is_empty());
    let st = bad.running().unwrap().zeromq_stats().unwrap();
    assert!(st.get("handshake_failures").unwrap() > 0);
    assert_eq!(st.get("ready"), Some(0));
    // The manager never heard of it.
    let ep = m.running().unwrap().endpoint();
    let deadline = Instant::now() + Duration::from_millis(500);
    while Instant::now() < deadline {
        if let Some(msg) = ep.next(Some(Duration::from_millis(50))) {
            assert!(msg.node.as_deref() != Some("worker-2"), "{msg:?}");
        }
    }
    // Keys from the options and Zeek's environment variables at once: an error, as in Zeek.
    let e = zcluster::zeromq::Curve::load(m.options(), |k| {
        (k == "CLIENT_PUBLICKEY").then(|| cpk.clone())
    })
    .unwrap_err();
    assert!(e.message.contains("at the same time"));
}

/// Control requests work on ZeroMQ exactly as on Broker: a request on a node's topic is
/// answered on `zeek/control/<response>/<node>` (the slash form Zeek's controllee keeps).
#[test]
fn control_requests_are_answered_over_zeromq() {
    let dir = std::env::temp_dir().join(format!("zc-zmq-control-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let layout = Arc::new(Layout::parse(&layout_text(free_port(), free_port()), None).unwrap());
    let m = node(&layout, "manager", &dir);
    let w = node(&layout, "worker-1", &dir);
    drain_until(&m, |g| {
        names(g, zcluster::cluster::NODE_UP).contains("worker-1")
    });
    drain_until(&w, |g| {
        names(g, zcluster::cluster::NODE_UP).contains("manager")
    });
    let mr = m.running().unwrap();
    mr.endpoint().subscribe("zeek/control/").unwrap();
    // The subscription must reach the worker's XPUB before it answers.
    assert!(w
        .running()
        .unwrap()
        .endpoint()
        .await_peer_subscription("zeek/control/x", T));
    let req = Event::with_args(
        "Control::id_value_request",
        vec![Value::String(b"Cluster::backend".to_vec())],
    );
    mr.publish(&m.node_topic("worker-1"), &req).unwrap();
    let got = drain_until(&m, |g| g.iter().any(|x| x.kind == MessageKind::Event));
    let d = got.iter().find(|x| x.kind == MessageKind::Event).unwrap();
    // The response topic as Zeek 8's controllee.zeek forms it, on either backend.
    assert_eq!(d.topic, "zeek/control/id_value_response/worker-1");
    let ev = d.event().unwrap();
    assert_eq!(ev.name, "Control::id_value_response");
    assert_eq!(
        ev.args,
        vec![
            Value::String(b"Cluster::backend".to_vec()),
            Value::String(b"Cluster::CLUSTER_BACKEND_ZEROMQ".to_vec())
        ]
    );
}
