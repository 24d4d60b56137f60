//! Cluster formation time, in one process: a logger, a manager and N workers (each a real
//! endpoint with its own I/O thread and loopback sockets), started manager and logger
//! first, then the workers. Formation is done when the manager has seen node_up for the
//! logger and every worker and every worker has seen node_up for the manager and the
//! logger (the test tests/cluster_formation.rs checks the same sets).
//!
//!   bench_formation [N...]        default: 1 2 4 8 16 32
//!
//! Prints `RESULT zcluster formation workers=N ms=T` per size (time from the first start
//! to the last expected node_up).

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};
use zcluster::cluster::{Cluster, Options};
use zcluster::endpoint::MessageKind;
use zcluster::layout::Layout;

const LIMIT: Duration = Duration::from_secs(30);

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("no free port: {e}"))
}

fn layout_text(workers: usize) -> String {
    let mut s = String::from("redef Cluster::manager_is_logger = F;\nredef Cluster::nodes = {\n");
    s += &format!("\t[\"logger-1\"] = [$node_type=Cluster::LOGGER, $ip=127.0.0.1, $zone_id=\"\", $p={}/tcp],\n", free_port());
    s += &format!("\t[\"manager\"] = [$node_type=Cluster::MANAGER, $ip=127.0.0.1, $zone_id=\"\", $p={}/tcp, $logger=\"logger-1\"],\n", free_port());
    for i in 1..=workers {
        s += &format!("\t[\"worker-{i}\"] = [$node_type=Cluster::WORKER, $ip=127.0.0.1, $zone_id=\"\", $p={}/tcp, $interface=\"lo\", $logger=\"logger-1\", $manager=\"manager\"],\n", free_port());
    }
    s += "};\n";
    s
}

/// Waits until `cl` has seen node_up for every name in `want`; false on timeout.
fn await_ups(cl: &Cluster, want: &BTreeSet<String>, deadline: Instant) -> bool {
    let Ok(rt) = cl.running() else { return false };
    let ep = rt.endpoint();
    let mut seen = BTreeSet::new();
    while !want.is_subset(&seen) {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return false;
        }
        if let Some(m) = ep.next(Some(left.min(Duration::from_millis(50)))) {
            if m.kind == MessageKind::NodeUp {
                if let Some(n) = m.node {
                    seen.insert(n);
                }
            }
        }
    }
    true
}

fn run(workers: usize, dir: &std::path::Path) -> Option<f64> {
    let layout = Arc::new(Layout::parse(&layout_text(workers), None).ok()?);
    let mut opts = Options::new();
    opts.set("Cluster::retry_interval", "0.1 secs").ok()?;
    let t0 = Instant::now();
    let mut names = vec!["manager".to_string(), "logger-1".to_string()];
    names.extend((1..=workers).map(|i| format!("worker-{i}")));
    let mut nodes = Vec::new();
    for n in &names {
        let cl = Cluster::with_env(layout.clone(), Some(n), &opts, None, None).ok()?;
        cl.start_in(Some(dir.to_path_buf())).ok()?;
        nodes.push(cl);
    }
    let deadline = t0 + LIMIT;
    let mut manager_wants: BTreeSet<String> = names[1..].iter().cloned().collect();
    manager_wants.insert("logger-1".into());
    let worker_wants: BTreeSet<String> = ["manager".to_string(), "logger-1".to_string()].into();
    for (name, cl) in names.iter().zip(&nodes) {
        let want = match name.as_str() {
            "manager" => &manager_wants,
            "logger-1" => continue,
            _ => &worker_wants,
        };
        if !await_ups(cl, want, deadline) {
            eprintln!("bench_formation: {name} did not see {want:?} within {LIMIT:?}");
            return None;
        }
    }
    Some(t0.elapsed().as_secs_f64() * 1e3)
}

fn main() {
    let sizes: Vec<usize> = {
        let v: Vec<usize> = std::env::args()
            .skip(1)
            .filter_map(|a| a.parse().ok())
            .collect();
        if v.is_empty() {
            vec![1, 2, 4, 8, 16, 32]
        } else {
            v
        }
    };
    let dir = std::env::temp_dir().join(format!("zc-formation-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    for n in sizes {
        match run(n, &dir) {
            Some(ms) => println!("RESULT zcluster formation workers={n} ms={ms:.1}"),
            None => println!("RESULT zcluster formation workers={n} failed=true"),
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}
