//! Leader/follower on a ZeroMQ node's XSUB socket: a host thread waiting in `next` reads
//! XSUB and runs the cluster hook itself (no hand-off from the node's thread), and gives
//! the socket back when it returns. Checks that the hello and node_up go through a
//! waiting host, that events reach it in order and are counted as read by it, that the
//! node's thread reads when no host waits, that a subscription made while a host waits
//! takes effect at once, and that closing the endpoint releases a waiting host.

use std::sync::Arc;
use std::time::{Duration, Instant};
use zcluster::cluster::{Cluster, Options};
use zcluster::data::{Event, Value};
use zcluster::endpoint::{Message, MessageKind};
use zcluster::layout::Layout;

#[path = "common/ports.rs"]
mod ports;
use ports::free_port;

const T: Duration = Duration::from_secs(15);

fn layout() -> Arc<Layout> {
    let (xpub, xsub) = (free_port(), free_port());
    let text = format!(
        "redef Cluster::backend = Cluster::CLUSTER_BACKEND_ZEROMQ;\n\
         redef Cluster::Backend::ZeroMQ::listen_xpub_endpoint = \"tcp://127.0.0.1:{xpub}\";\n\
         redef Cluster::Backend::ZeroMQ::listen_xsub_endpoint = \"tcp://127.0.0.1:{xsub}\";\n\
         redef Cluster::Backend::ZeroMQ::connect_xpub_endpoint = \"tcp://127.0.0.1:{xsub}\";\n\
         redef Cluster::Backend::ZeroMQ::connect_xsub_endpoint = \"tcp://127.0.0.1:{xpub}\";\n\
         redef Cluster::manager_is_logger = F;\n\
         redef Cluster::nodes = {{\n\
         \t[\"manager\"] = [$node_type=Cluster::MANAGER, $ip=127.0.0.1, $p={}/tcp],\n\
         \t[\"worker-1\"] = [$node_type=Cluster::WORKER, $ip=127.0.0.1, $p={}/tcp, $manager=\"manager\"],\n\
         }};\n",
        free_port(),
        free_port()
    );
    Arc::new(Layout::parse(&text, None).unwrap())
}

fn node(layout: &Arc<Layout>, name: &str) -> Cluster {
    let cl = Cluster::with_env(layout.clone(), Some(name), &Options::new(), None, None).unwrap();
    cl.start_in(Some(std::env::temp_dir())).unwrap();
    cl
}

/// worker-1 and the manager of a new layout, started (worker first) and each having seen
/// the other's node_up.
fn formed() -> (Cluster, Cluster) {
    let layout = layout();
    let worker = node(&layout, "worker-1");
    let manager = node(&layout, "manager");
    wait_for(&worker, Duration::from_millis(100), |m| {
        is_node_up(m, "manager")
    });
    wait_for(&manager, Duration::from_millis(100), |m| {
        is_node_up(m, "worker-1")
    });
    (worker, manager)
}

fn stat(cl: &Cluster, name: &str) -> u64 {
    cl.running()
        .unwrap()
        .zeromq_stats()
        .unwrap()
        .get(name)
        .unwrap()
}

/// Waits in `next` (one call at a time, each up to `each`) until `done`.
fn wait_for(cl: &Cluster, each: Duration, mut done: impl FnMut(&Message) -> bool) -> Vec<Message> {
    let ep = cl.running().unwrap().endpoint();
    let deadline = Instant::now() + T;
    let mut got = Vec::new();
    loop {
        assert!(Instant::now() < deadline, "timed out; got {got:?}");
        if let Some(m) = ep.next(Some(each)) {
            let stop = done(&m);
            got.push(m);
            if stop {
                return got;
            }
        }
    }
}

fn is_node_up(m: &Message, who: &str) -> bool {
    m.kind == zcluster::cluster::NODE_UP && m.node.as_deref() == Some(who)
}

fn seq(m: &Message) -> Option<u64> {
    match m.event().ok()?.args.first()? {
        Value::Count(n) => Some(*n),
        _ => None,
    }
}

#[test]
fn a_waiting_host_reads_the_hello_and_the_events_itself() {
    let layout = layout();
    let worker = node(&layout, "worker-1");
    std::thread::scope(|s| {
        // The worker's host waits in `next` before the manager (and its proxy) exists:
        // the hello, node_up and every event come through this waiting thread.
        let waiter = s.spawn(|| {
            let got = wait_for(&worker, Duration::from_secs(5), |m| {
                is_node_up(m, "manager")
            });
            assert!(got.iter().any(|m| is_node_up(m, "manager")));
            let got = wait_for(&worker, Duration::from_secs(5), |m| seq(m) == Some(199));
            let seqs: Vec<u64> = got
                .iter()
                .filter(|m| m.kind == MessageKind::Event)
                .filter_map(seq)
                .collect();
            assert_eq!(seqs, (0..200).collect::<Vec<_>>(), "every event, in order");
        });
        std::thread::sleep(Duration::from_millis(300));
        let manager = node(&layout, "manager");
        wait_for(&manager, Duration::from_millis(100), |m| {
            is_node_up(m, "worker-1")
        });
        let mr = manager.running().unwrap();
        let topic = manager.node_topic("worker-1");
        for i in 0..200u64 {
            mr.publish(
                &topic,
                &Event::with_args("Test::seq", vec![Value::Count(i)]),
            )
            .unwrap();
            if i % 50 == 0 {
                // Let the waiting host go back to sleep in between.
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        waiter.join().unwrap();
        // The 200 and the manager's `Cluster::hello`.
        let received = stat(&worker, "events_received");
        assert!(received >= 200, "{received}");
        let by_host = stat(&worker, "events_read_by_host");
        assert!(
            by_host > 0 && by_host <= received,
            "events read by the waiting host: {by_host} of {received}"
        );
        drop(manager);
    });
}

#[test]
fn without_a_waiting_host_the_nodes_thread_reads() {
    let (worker, manager) = formed();
    let before = stat(&worker, "events_read_by_host");
    let mr = manager.running().unwrap();
    for i in 0..50u64 {
        mr.publish(
            &manager.node_topic("worker-1"),
            &Event::with_args("Test::seq", vec![Value::Count(i)]),
        )
        .unwrap();
    }
    // Nobody waits on the worker: its node's thread reads the events into the inbox.
    let ep = worker.running().unwrap().endpoint();
    let deadline = Instant::now() + T;
    while stat(&worker, "events_received") < 50 {
        assert!(Instant::now() < deadline, "the node's thread did not read");
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(stat(&worker, "events_read_by_host"), before);
    let mut got = Vec::new();
    while let Some(m) = ep.next(None) {
        got.extend(seq(&m));
    }
    assert_eq!(got, (0..50).collect::<Vec<_>>());
}

#[test]
fn a_subscription_made_while_a_host_waits_takes_effect() {
    let (worker, manager) = formed();
    std::thread::scope(|s| {
        let waiter = s.spawn(|| {
            // One long wait: the subscription and the event arrive during it.
            let t0 = Instant::now();
            let m = worker
                .running()
                .unwrap()
                .endpoint()
                .next(Some(Duration::from_secs(20)));
            (m, t0.elapsed())
        });
        std::thread::sleep(Duration::from_millis(200));
        // Sent on XSUB by the node's thread while the host leads it.
        worker
            .running()
            .unwrap()
            .endpoint()
            .subscribe("lead/new")
            .unwrap();
        let mr = manager.running().unwrap();
        let deadline = Instant::now() + T;
        while !mr
            .endpoint()
            .peer_subscriptions()
            .iter()
            .any(|p| p == "lead/new")
        {
            assert!(Instant::now() < deadline, "the subscription did not arrive");
            std::thread::sleep(Duration::from_millis(10));
        }
        mr.publish(
            "lead/new/x",
            &Event::with_args("Test::seq", vec![Value::Count(7)]),
        )
        .unwrap();
        let (m, waited) = waiter.join().unwrap();
        let m = m.expect("the event on the new subscription");
        assert_eq!(m.topic, "lead/new/x");
        assert_eq!(seq(&m), Some(7));
        assert!(waited < Duration::from_secs(10), "waited {waited:?}");
    });
}

#[test]
fn closing_releases_a_waiting_host() {
    let layout = layout();
    let worker = node(&layout, "worker-1");
    std::thread::scope(|s| {
        let waiter = s.spawn(|| {
            let ep = worker.running().unwrap().endpoint();
            let t0 = Instant::now();
            // Nothing arrives (no manager): the host leads until the close.
            while ep.next(Some(Duration::from_secs(30))).is_some() {}
            t0.elapsed()
        });
        std::thread::sleep(Duration::from_millis(300));
        worker.running().unwrap().endpoint().close();
        let waited = waiter.join().unwrap();
        assert!(
            waited < Duration::from_secs(10),
            "a waiting host returned {waited:?} after the close"
        );
    });
}

/// The publish side's counterpart: hosts publish straight into XPUB and, in a dense
/// burst, skip asking it for waiting subscriptions on most sends (each question is a
/// system call); the node's thread asks within a millisecond after the burst. A
/// subscription that arrives during a burst is seen soon after it, every time.
#[test]
fn a_subscription_during_a_publish_burst_is_seen_soon() {
    let (worker, manager) = formed();
    let wr = worker.running().unwrap();
    let ev = Event::with_args("Test::seq", vec![Value::Count(1)]);
    for round in 0..5 {
        let prefix = format!("burst/{round}");
        std::thread::scope(|s| {
            let burst = s.spawn(|| {
                for _ in 0..20_000 {
                    wr.publish("zeek.cluster.manager", &ev).unwrap();
                }
            });
            std::thread::sleep(Duration::from_millis(2));
            manager
                .running()
                .unwrap()
                .endpoint()
                .subscribe(&prefix)
                .unwrap();
            burst.join().unwrap();
        });
        let t0 = Instant::now();
        while !wr.endpoint().peer_subscriptions().contains(&prefix) {
            assert!(
                t0.elapsed() < Duration::from_millis(700),
                "round {round}: the subscription was not seen {:?} after the burst",
                t0.elapsed()
            );
            std::thread::sleep(Duration::from_millis(1));
        }
    }
    // Every event reached the manager (backpressure, nothing dropped).
    let deadline = Instant::now() + T;
    while stat(&manager, "events_received") < 100_000 {
        assert!(
            Instant::now() < deadline,
            "{}",
            stat(&manager, "events_received")
        );
        let _ = manager
            .running()
            .unwrap()
            .endpoint()
            .next(Some(Duration::from_millis(50)));
        while manager.running().unwrap().endpoint().next(None).is_some() {}
    }
}
