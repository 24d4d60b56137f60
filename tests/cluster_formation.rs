//! A whole cluster on loopback, each node a real endpoint with its own I/O thread and
//! sockets: it forms as Zeek's Broker backend would (every expected node_up, nothing
//! else), keeps worker_count true when a worker leaves and returns, routes role, node and
//! pool topics, and writes cluster.log through the logger.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};
use zcluster::cluster::{Cluster, Options};
use zcluster::data::{Event, Value};
use zcluster::endpoint::{Message, MessageKind};
use zcluster::layout::Layout;

const T: Duration = Duration::from_secs(15);

#[path = "common/ports.rs"]
mod ports;
use ports::free_port;

/// A ZeekControl-style layout with free loopback ports.
fn layout_text(workers: usize) -> String {
    let mut s = String::from("# generated for the test\nredef Cluster::manager_is_logger = F;\nredef Cluster::nodes = {\n");
    s += &format!("\t[\"control\"] = [$node_type=Cluster::CONTROL, $ip=127.0.0.1, $zone_id=\"\", $p={}/tcp],\n", free_port());
    s += &format!("\t[\"logger-1\"] = [$node_type=Cluster::LOGGER, $ip=127.0.0.1, $zone_id=\"\", $p={}/tcp],\n", free_port());
    s += &format!("\t[\"manager\"] = [$node_type=Cluster::MANAGER, $ip=127.0.0.1, $zone_id=\"\", $p={}/tcp, $logger=\"logger-1\"],\n", free_port());
    for i in 1..=2 {
        s += &format!("\t[\"proxy-{i}\"] = [$node_type=Cluster::PROXY, $ip=127.0.0.1, $zone_id=\"\", $p={}/tcp, $logger=\"logger-1\", $manager=\"manager\"],\n", free_port());
    }
    for i in 1..=workers {
        s += &format!("\t[\"worker-{i}\"] = [$node_type=Cluster::WORKER, $ip=127.0.0.1, $zone_id=\"\", $p={}/tcp, $interface=\"lo\", $logger=\"logger-1\", $manager=\"manager\"],\n", free_port());
    }
    s += "};\n";
    s
}

fn options() -> Options {
    let mut o = Options::new();
    o.set("Cluster::retry_interval", "0.1 secs").unwrap();
    o
}

fn node(layout: &Arc<Layout>, name: &str, dir: &std::path::Path) -> Cluster {
    let cl = Cluster::with_env(layout.clone(), Some(name), &options(), None, None).unwrap();
    cl.start_in(Some(dir.to_path_buf())).unwrap();
    cl
}

/// Collects NodeUp/NodeDown names (and other messages) until `done` says so or T passes.
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
            summary(&got)
        );
        if let Some(m) = ep.next(Some(left.min(Duration::from_millis(100)))) {
            got.push(m);
        }
    }
    got
}

fn summary(msgs: &[Message]) -> Vec<String> {
    msgs.iter()
        .map(|m| {
            format!(
                "{:?} {}",
                m.kind,
                m.node.clone().unwrap_or_else(|| m.topic.clone())
            )
        })
        .collect()
}

fn ups(msgs: &[Message]) -> BTreeSet<String> {
    msgs.iter()
        .filter(|m| m.kind == zcluster::cluster::NODE_UP)
        .filter_map(|m| m.node.clone())
        .collect()
}

fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|s| s.to_string()).collect()
}

#[test]
fn cluster_forms_routes_counts_workers_and_logs() {
    let dir = std::env::temp_dir().join(format!("zc-cluster-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let layout = Arc::new(Layout::parse(&layout_text(4), None).unwrap());
    let workers = ["worker-1", "worker-2", "worker-3", "worker-4"];

    // Workers first: their peerings must retry until the others listen.
    let mut nodes: BTreeMap<&str, Cluster> = BTreeMap::new();
    for w in workers {
        nodes.insert(w, node(&layout, w, &dir));
    }
    for n in ["proxy-1", "proxy-2", "manager", "logger-1"] {
        nodes.insert(n, node(&layout, n, &dir));
    }

    let expect: BTreeMap<&str, BTreeSet<String>> = [
        (
            "logger-1",
            set(&[
                "manager", "proxy-1", "proxy-2", "worker-1", "worker-2", "worker-3", "worker-4",
            ]),
        ),
        (
            "manager",
            set(&[
                "logger-1", "proxy-1", "proxy-2", "worker-1", "worker-2", "worker-3", "worker-4",
            ]),
        ),
        (
            "proxy-1",
            set(&[
                "logger-1", "manager", "worker-1", "worker-2", "worker-3", "worker-4",
            ]),
        ),
        (
            "proxy-2",
            set(&[
                "logger-1", "manager", "worker-1", "worker-2", "worker-3", "worker-4",
            ]),
        ),
        (
            "worker-1",
            set(&["logger-1", "manager", "proxy-1", "proxy-2"]),
        ),
        (
            "worker-2",
            set(&["logger-1", "manager", "proxy-1", "proxy-2"]),
        ),
        (
            "worker-3",
            set(&["logger-1", "manager", "proxy-1", "proxy-2"]),
        ),
        (
            "worker-4",
            set(&["logger-1", "manager", "proxy-1", "proxy-2"]),
        ),
    ]
    .into_iter()
    .collect();
    for (name, cl) in &nodes {
        let want = &expect[name];
        let got = drain_until(cl, |m| ups(m).len() >= want.len());
        assert_eq!(&ups(&got), want, "{name}: node_up set");
        // Nothing else comes up later (no worker-to-worker peering).
        let more = drain_until(cl, |_| true);
        assert!(more.is_empty());
    }
    std::thread::sleep(Duration::from_millis(300));
    for (name, cl) in &nodes {
        let extra = cl
            .running()
            .unwrap()
            .endpoint()
            .next(Some(Duration::from_millis(10)));
        assert!(
            extra
                .as_ref()
                .is_none_or(|m| m.kind != zcluster::cluster::NODE_UP),
            "{name}: unexpected {extra:?}"
        );
    }
    assert_eq!(nodes["manager"].worker_count(), 4);
    assert_eq!(nodes["proxy-1"].worker_count(), 4);
    assert_eq!(nodes["worker-1"].worker_count(), 0);

    // Role topic: the manager publishes to the worker topic; every worker gets it once.
    for w in workers {
        nodes[w]
            .running()
            .unwrap()
            .endpoint()
            .subscribe("zeek/cluster/worker")
            .ok();
    }
    let ping = Event::with_args("Demo::ping", vec![Value::Count(7)]);
    nodes["manager"]
        .running()
        .unwrap()
        .publish("zeek/cluster/worker", &ping)
        .unwrap();
    for w in workers {
        let got = drain_until(&nodes[w], |m| {
            m.iter().any(|m| m.kind == MessageKind::Event)
        });
        let data: Vec<&Message> = got
            .iter()
            .filter(|m| m.kind == MessageKind::Event)
            .collect();
        assert_eq!(Event::from_bytes(&data[0].payload).unwrap(), ping, "{w}");
    }
    // Node topic: only worker-2 gets it, worker-1 (a prefix of no other name here) not.
    let direct = Event::with_args("Demo::direct", vec![]);
    nodes["manager"]
        .running()
        .unwrap()
        .publish(&nodes["manager"].node_topic("worker-2"), &direct)
        .unwrap();
    let got = drain_until(&nodes["worker-2"], |m| {
        m.iter().any(|m| m.kind == MessageKind::Event)
    });
    assert!(got.iter().any(|m| m.kind == MessageKind::Event));
    for w in ["worker-1", "worker-3", "worker-4"] {
        let m = nodes[w]
            .running()
            .unwrap()
            .endpoint()
            .next(Some(Duration::from_millis(200)));
        assert!(m.is_none(), "{w} got {m:?}");
    }

    // Pools: the worker pool spreads HRW keys over the 4 workers, stably.
    let mgr = nodes["manager"].running().unwrap();
    let mut hits = BTreeSet::new();
    for k in 0..64u64 {
        let ev = Event::with_args("Demo::hrw", vec![Value::Count(k)]);
        assert!(mgr
            .publish_hrw("zeek/cluster/pool/worker", &Value::Count(k), &ev)
            .unwrap());
    }
    for w in workers {
        let got = drain_until(&nodes[w], |_| true);
        let mut n = got.len();
        while let Some(m) = nodes[w]
            .running()
            .unwrap()
            .endpoint()
            .next(Some(Duration::from_millis(300)))
        {
            assert_eq!(m.kind, MessageKind::Event);
            n += 1;
        }
        if n > 0 {
            hits.insert(w);
        }
    }
    assert!(
        hits.len() >= 3,
        "HRW used only {hits:?} of 4 workers for 64 keys"
    );

    // cluster.log: a worker's record lands in the logger's file.
    nodes["worker-3"].log("hello from worker-3").unwrap();
    let path = dir.join("cluster.log");
    let deadline = Instant::now() + T;
    loop {
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        if text.contains("worker-3\thello from worker-3") {
            assert!(text.starts_with("#separator \\x09\n"));
            assert!(text.contains("#fields\tts\tnode\tmessage\n"));
            // As the Broker backend's main.zeek logs each node's listen.
            let wport = layout.nodes["worker-3"].p.number;
            assert!(
                text.contains(&format!("\tworker-3\tlistening on 127.0.0.1:{wport}/tcp\n")),
                "{text}"
            );
            break;
        }
        assert!(Instant::now() < deadline, "cluster.log: {text}");
        std::thread::sleep(Duration::from_millis(100));
    }

    // A worker leaves: node_down on the manager and worker_count follows; it returns.
    drop(nodes.remove("worker-4"));
    let got = drain_until(&nodes["manager"], |m| {
        m.iter().any(|m| m.kind == zcluster::cluster::NODE_DOWN)
    });
    let down: Vec<&Message> = got
        .iter()
        .filter(|m| m.kind == zcluster::cluster::NODE_DOWN)
        .collect();
    assert_eq!(down[0].node.as_deref(), Some("worker-4"));
    assert_eq!(nodes["manager"].worker_count(), 3);
    nodes.insert("worker-4", node(&layout, "worker-4", &dir));
    let got = drain_until(&nodes["manager"], |m| ups(m).contains("worker-4"));
    assert!(ups(&got).contains("worker-4"));
    assert_eq!(nodes["manager"].worker_count(), 4);
    drop(nodes);
    let _ = std::fs::remove_dir_all(&dir);
}
