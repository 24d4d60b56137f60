//! Cluster benchmarks: formation time and manager-to-workers fan-out, for N workers.
//!
//!   cargo run --release --example bench_cluster -- [N ...] [--events M]
//!
//! Every node is a real endpoint with its own I/O thread and loopback sockets, in this
//! one process (a 2-core machine cannot usefully run 33 processes in parallel either).
//! Formation: from the first `start` until the manager has seen node_up for every worker
//! and every worker has seen the manager's node_up. Fan-out: the manager publishes M
//! small events on the worker topic; time until every worker has received all M.
//! Plain TCP unless `ZC_BENCH_TLS=1` is set (then anonymous TLS).
//! Prints `RESULT zcluster formation workers=N ms=X` and
//! `RESULT zcluster fanout workers=N events=M secs=S deliveries_per_sec=R`.

use std::sync::Arc;
use std::time::{Duration, Instant};
use zcluster::cluster::{Cluster, Options};
use zcluster::data::{Event, Value};
use zcluster::endpoint::MessageKind;
use zcluster::layout::Layout;

#[path = "../tests/common/ports.rs"]
mod ports;
use ports::free_port;

fn layout(workers: usize) -> Arc<Layout> {
    let mut s = String::from("redef Cluster::nodes = {\n");
    s += &format!("\t[\"manager\"] = [$node_type=Cluster::MANAGER, $ip=127.0.0.1, $zone_id=\"\", $p={}/tcp],\n", free_port());
    for i in 1..=workers {
        s += &format!("\t[\"worker-{i}\"] = [$node_type=Cluster::WORKER, $ip=127.0.0.1, $zone_id=\"\", $p={}/tcp, $interface=\"lo\", $manager=\"manager\"],\n", free_port());
    }
    s += "};\n";
    Arc::new(Layout::parse(&s, None).expect("layout"))
}

fn wait_ups(cl: &Cluster, n: usize, deadline: Instant) -> bool {
    let ep = cl.running().unwrap().endpoint();
    let mut ups = 0;
    while ups < n {
        if Instant::now() > deadline {
            return false;
        }
        if let Some(m) = ep.next(Some(Duration::from_millis(50))) {
            if m.kind == zcluster::cluster::NODE_UP {
                ups += 1;
            }
        }
    }
    true
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut sizes = Vec::new();
    let mut events = 10_000usize;
    let mut i = 0;
    while i < args.len() {
        if args[i] == "--events" {
            events = args
                .get(i + 1)
                .and_then(|v| v.parse().ok())
                .expect("--events M");
            i += 2;
        } else {
            sizes.push(args[i].parse::<usize>().expect("a worker count"));
            i += 1;
        }
    }
    if sizes.is_empty() {
        sizes = vec![1, 2, 4, 8, 16, 32];
    }
    let mut opts = Options::new();
    opts.set("Cluster::retry_interval", "0.05 secs").unwrap();
    // Plain TCP unless ZC_BENCH_TLS=1 (anonymous TLS, a default Zeek cluster's transport).
    let tls = std::env::var("ZC_BENCH_TLS").is_ok_and(|v| v == "1");
    opts.set("Broker::disable_ssl", if tls { "F" } else { "T" })
        .unwrap();
    for n in sizes {
        let layout = layout(n);
        let t0 = Instant::now();
        let manager =
            Cluster::with_env(layout.clone(), Some("manager"), &opts, None, None).unwrap();
        // manager_is_logger: its cluster.log goes to a temporary directory.
        manager
            .start_in(Some(
                std::env::temp_dir().join(format!("zc-bench-cluster-{}", std::process::id())),
            ))
            .unwrap();
        let workers: Vec<Cluster> = (1..=n)
            .map(|i| {
                let w = Cluster::with_env(
                    layout.clone(),
                    Some(&format!("worker-{i}")),
                    &opts,
                    None,
                    None,
                )
                .unwrap();
                w.start().unwrap();
                w
            })
            .collect();
        let deadline = t0 + Duration::from_secs(60);
        let formed =
            wait_ups(&manager, n, deadline) && workers.iter().all(|w| wait_ups(w, 1, deadline));
        let formation = t0.elapsed();
        if !formed {
            println!("RESULT zcluster formation workers={n} ms=timeout");
            continue;
        }
        println!(
            "RESULT zcluster formation workers={n} ms={:.1}",
            formation.as_secs_f64() * 1e3
        );

        let rt = manager.running().unwrap();
        let t1 = Instant::now();
        let producer = std::thread::scope(|s| {
            let h = s.spawn(|| {
                for k in 0..events {
                    let ev = Event::with_args("Bench::fanout", vec![Value::Count(k as u64)]);
                    loop {
                        match rt.publish("zeek/cluster/worker", &ev) {
                            Ok(()) => break,
                            Err(e) if e.kind == zcluster::ErrorKind::WouldBlock => continue,
                            Err(e) => panic!("publish: {e}"),
                        }
                    }
                }
            });
            // Each worker drains in its own thread: with backpressure, a worker not being
            // read would (rightly) hold the manager's publishes back.
            let drains: Vec<_> = workers
                .iter()
                .map(|w| {
                    s.spawn(move || {
                        let ep = w.running().unwrap().endpoint();
                        let mut got = 0;
                        let mut batch = Vec::with_capacity(1024);
                        let limit = Instant::now() + Duration::from_secs(120);
                        while got < events && Instant::now() < limit {
                            batch.clear();
                            ep.next_batch(&mut batch, 1024, Some(Duration::from_millis(100)));
                            got += batch
                                .iter()
                                .filter(|m| m.kind == MessageKind::Event)
                                .count();
                        }
                        got == events
                    })
                })
                .collect();
            let complete = drains
                .into_iter()
                .map(|d| d.join())
                .filter(|r| matches!(r, Ok(true)))
                .count();
            h.join().is_ok() && complete == workers.len()
        });
        let secs = t1.elapsed().as_secs_f64();
        println!(
            "RESULT zcluster fanout workers={n} events={events} secs={secs:.3} deliveries_per_sec={:.0} complete={producer}",
            (events * n) as f64 / secs
        );
        drop(workers);
        drop(manager);
    }
}
