//! Overload on the ZeroMQ backend: a subscriber that does not read for a while loses
//! nothing by default (its inbox fills, libzmq's queues fill, the proxy's no-drop XPUB holds
//! the publisher back, publishes wait); with `zc_overflow_policy = drop` the publisher
//! drops at the XPUB high-water mark instead, and every drop is counted.

use std::sync::Arc;
use std::time::{Duration, Instant};
use zcluster::cluster::{Cluster, Options};
use zcluster::data::{Event, Value};
use zcluster::endpoint::MessageKind;
use zcluster::layout::Layout;

#[path = "common/ports.rs"]
mod ports;
use ports::free_port;

const T: Duration = Duration::from_secs(30);

fn layout() -> Arc<Layout> {
    let (xpub, xsub) = (free_port(), free_port());
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
    s += "redef Cluster::nodes = {\n";
    s += &format!(
        "\t[\"manager\"] = [$node_type=Cluster::MANAGER, $ip=127.0.0.1, $p={}/tcp],\n",
        free_port()
    );
    s += &format!("\t[\"worker-1\"] = [$node_type=Cluster::WORKER, $ip=127.0.0.1, $p={}/tcp, $manager=\"manager\"],\n", free_port());
    s += "};\n";
    Arc::new(Layout::parse(&s, None).unwrap())
}

fn started(l: &Arc<Layout>, name: &str, o: &Options, dir: &std::path::Path) -> Cluster {
    let cl = Cluster::with_env(l.clone(), Some(name), o, None, None).unwrap();
    cl.start_in(Some(dir.to_path_buf())).unwrap();
    cl
}

fn wait_up(cl: &Cluster) {
    let deadline = Instant::now() + T;
    loop {
        assert!(Instant::now() < deadline, "{}: no node_up", cl.node_name());
        if let Some(m) = cl
            .running()
            .unwrap()
            .endpoint()
            .next(Some(Duration::from_millis(100)))
        {
            if m.kind == zcluster::cluster::NODE_UP {
                return;
            }
        }
    }
}

/// Publishes `n` numbered events from the worker while the manager's host does not read
/// for `pause`, then reads them all; returns the numbers received, in order.
fn run(o: &Options, n: u64, pause: Duration) -> (Vec<u64>, Cluster, Cluster) {
    let dir = std::env::temp_dir().join(format!("zc-zmq-faults-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let l = layout();
    let m = started(&l, "manager", o, &dir);
    let w = started(&l, "worker-1", o, &dir);
    wait_up(&m);
    wait_up(&w);
    let wr = w.running().unwrap();
    let publisher = std::thread::scope(|s| {
        let h = s.spawn(|| {
            for i in 0..n {
                let ev = Event::with_args("Load::tick", vec![Value::Count(i)]);
                // Backpressure makes publish wait; retry on WouldBlock (a host's choice).
                loop {
                    match wr.publish("zeek.cluster.manager", &ev) {
                        Ok(()) => break,
                        Err(e) if e.kind == zcluster::ErrorKind::WouldBlock => continue,
                        Err(e) => panic!("{e:?}"),
                    }
                }
            }
        });
        std::thread::sleep(pause);
        let mut got = Vec::new();
        let ep = m.running().unwrap().endpoint();
        let deadline = Instant::now() + T;
        let mut quiet = Instant::now();
        while Instant::now() < deadline {
            match ep.next(Some(Duration::from_millis(50))) {
                Some(msg) if msg.kind == MessageKind::Event => {
                    if let Ok(ev) = msg.event() {
                        if let [Value::Count(i)] = ev.args.as_slice() {
                            got.push(*i);
                            quiet = Instant::now();
                        }
                    }
                    if got.len() as u64 == n {
                        break;
                    }
                }
                Some(_) => {}
                None if h.is_finished() && quiet.elapsed() > Duration::from_secs(2) => break,
                None => {}
            }
        }
        h.join().unwrap();
        got
    });
    (publisher, m, w)
}

#[test]
fn a_slow_subscriber_loses_nothing_by_default() {
    // More than the manager's inbox (65536) plus libzmq's queues (2 x 1000 HWM).
    let n = 80_000;
    let (got, _m, w) = run(&Options::new(), n, Duration::from_secs(2));
    assert_eq!(got.len() as u64, n, "lost {}", n - got.len() as u64);
    assert!(got.windows(2).all(|p| p[0] + 1 == p[1]), "out of order");
    let st = w.running().unwrap().zeromq_stats().unwrap();
    assert_eq!(st.get("xpub_drops"), Some(0));
    assert!(
        st.get("xpub_blocked").unwrap() > 0,
        "the publisher never waited: {:?}",
        st.snapshot()
    );
}

#[test]
fn the_drop_policy_drops_at_the_high_water_mark_and_counts() {
    let mut o = Options::new();
    o.set("Cluster::Backend::ZeroMQ::zc_overflow_policy", "drop")
        .unwrap();
    let n = 80_000;
    let (got, _m, w) = run(&o, n, Duration::from_secs(2));
    let st = w.running().unwrap().zeromq_stats().unwrap();
    let dropped = st.get("xpub_drops").unwrap();
    assert!(dropped > 0, "nothing dropped: {:?}", st.snapshot());
    assert_eq!(
        got.len() as u64 + dropped,
        n,
        "every event arrived or was counted"
    );
    assert_eq!(
        w.running().unwrap().endpoint().stats().peer_dropped,
        dropped
    );
    assert!(got.windows(2).all(|p| p[0] < p[1]), "out of order");
}

/// Hosts publish straight into XPUB while nothing is queued, and libzmq processes the
/// socket's pending commands inside those sends: a subscription that arrives meanwhile
/// must still be seen (the publishing host wakes the node's thread for it). The worker
/// publishes slower than the manager reads, so its publishes never queue.
#[test]
fn subscriptions_are_seen_while_the_host_publishes_without_pause() {
    let dir = std::env::temp_dir().join(format!("zc-zmq-faults-sub-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let l = layout();
    let o = Options::new();
    let m = started(&l, "manager", &o, &dir);
    let w = started(&l, "worker-1", &o, &dir);
    wait_up(&m);
    wait_up(&w);
    let stop = std::sync::atomic::AtomicBool::new(false);
    let (mr, wr) = (m.running().unwrap(), w.running().unwrap());
    let seen = std::thread::scope(|s| {
        let publisher = s.spawn(|| {
            let ev = Event::with_args("Load::tick", vec![Value::Count(1)]);
            let mut n = 0u64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                match wr.publish("zeek.cluster.manager", &ev) {
                    Ok(()) => n += 1,
                    Err(e) if e.kind == zcluster::ErrorKind::WouldBlock => {}
                    Err(e) => panic!("{e:?}"),
                }
                // Slower than the manager reads: every publish is a direct one.
                std::thread::sleep(Duration::from_micros(20));
            }
            n
        });
        let reader = s.spawn(|| {
            let mut batch = Vec::new();
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                batch.clear();
                mr.endpoint()
                    .next_batch(&mut batch, 4096, Some(Duration::from_millis(20)));
            }
        });
        // Let the publisher run, then subscribe several topics one after the other.
        std::thread::sleep(Duration::from_millis(300));
        let mut seen = Vec::new();
        for i in 0..20 {
            let topic = format!("zc.test.late.{i}");
            mr.endpoint().subscribe(&topic).unwrap();
            seen.push(
                wr.endpoint()
                    .await_peer_subscription(&topic, Duration::from_secs(5)),
            );
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let sent = publisher.join().unwrap();
        reader.join().unwrap();
        assert!(sent > 0, "the worker published nothing");
        seen
    });
    assert_eq!(
        seen,
        vec![true; 20],
        "subscriptions the worker's XPUB did not see"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
