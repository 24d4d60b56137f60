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
        let got = drain_until(cl, |m| names(m, MessageKind::NodeUp) == want);
        assert_eq!(names(&got, MessageKind::NodeUp), want, "{name}");
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
    let got = drain_until(manager, |m| m.iter().any(|m| m.kind == MessageKind::Data));
    let d = got.iter().find(|m| m.kind == MessageKind::Data).unwrap();
    assert_eq!(d.topic, "zeek.cluster.manager");
    assert_eq!(d.event().unwrap(), ev);
    let mr = manager.running().unwrap();
    mr.publish(&manager.node_topic("worker-2"), &ev).unwrap();
    let got = drain_until(get(&nodes, "worker-2"), |m| {
        m.iter().any(|m| m.kind == MessageKind::Data)
    });
    assert!(got.iter().any(|m| m.topic == "zeek.cluster.node.worker-2."));
    assert!(mr
        .publish_hrw("zeek.cluster.pool.proxy", &Value::Count(7), &ev)
        .unwrap());
    let got = drain_until(get(&nodes, "proxy-1"), |m| {
        m.iter().any(|m| m.kind == MessageKind::Data)
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
        let got = drain_until(cl, |m| names(m, MessageKind::NodeDown).contains("worker-2"));
        assert!(
            names(&got, MessageKind::NodeDown).contains("worker-2"),
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
