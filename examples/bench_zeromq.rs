//! ZeroMQ backend benchmark between two processes on 127.0.0.1 (scripts/bench.sh runs it):
//! zcluster nodes over Zeek's ZeroMQ backend beside raw libzmq with the same topology and
//! the same 4-frame messages.
//!
//!   bench_zeromq zcluster tput N   worker (child) -> manager (parent, runs the proxy)
//!   bench_zeromq zcluster rtt N    manager -> worker -> manager round trips
//!   bench_zeromq raw tput N        raw XPUB (child) -> XPUB/XSUB proxy -> raw XSUB (parent)
//!   bench_zeromq raw rtt N
//!
//! Topology, both variants: the parent runs the XPUB/XSUB proxy (as Zeek's manager does)
//! and the receiving (or echoed-to) node; the child connects its XSUB and XPUB to it.
//! Messages: topic, sender node id, `broker-bin-v1`, the event `Demo::ping("hello", count
//! seq)` in Broker's binary encoding. zcluster runs with its defaults (backpressure: a
//! full XPUB queue makes publishes wait, nothing is dropped). The raw variant is made
//! lossless the same way, so the two are comparable: `XPUB_NODROP` on the publisher and
//! the proxy, and a publisher that retries on EAGAIN. Both parents run the proxy and
//! their own sockets in one libzmq context with `ZC_BENCH_IO_THREADS` I/O threads (by
//! default 2, Zeek's `proxy_io_threads`, which zcluster's proxy follows); the children
//! have one context with one I/O thread each. Receivers check every event arrives
//! in order. Output (bench/summarize.py reads it):
//!   RESULT zmq-<variant> tput sent=N recv=M lost=L in_order=B secs=S rate=R
//!   RESULT zmq-<variant> rtt rounds=N ok=M p50_us=X p99_us=Y

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};
use zcluster::cluster::{Cluster, Options};
use zcluster::data::{Event, Value};
use zcluster::endpoint::MessageKind;
use zcluster::layout::Layout;

const LIMIT: Duration = Duration::from_secs(150);

fn ping(seq: u64) -> Vec<u8> {
    Event::with_args(
        "Demo::ping",
        vec![Value::String(b"hello".to_vec()), Value::Count(seq)],
    )
    .to_bytes()
}

fn seq_of(payload: &[u8]) -> u64 {
    let n = payload.len();
    u64::from_be_bytes(payload[n - 8..].try_into().unwrap())
}

fn port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The proxy's I/O threads, on both sides: `ZC_BENCH_IO_THREADS`, by default Zeek's
/// `proxy_io_threads` (2).
fn io_threads() -> i32 {
    std::env::var("ZC_BENCH_IO_THREADS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2)
}

fn layout_text(xpub: u16, xsub: u16) -> String {
    format!(
        "redef Cluster::Backend::ZeroMQ::proxy_io_threads = {};\n",
        io_threads()
    ) + &format!(
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
        port(),
        port()
    )
}

fn node(layout: &str, name: &str) -> Cluster {
    let l = Arc::new(Layout::parse(layout, None).unwrap());
    let cl = Cluster::with_env(l, Some(name), &Options::new(), None, None).unwrap();
    cl.start_in(Some(std::env::temp_dir())).unwrap();
    cl
}

fn wait_up(cl: &Cluster) {
    let ep = cl.running().unwrap().endpoint();
    let end = Instant::now() + Duration::from_secs(30);
    while Instant::now() < end {
        if let Some(m) = ep.next(Some(Duration::from_millis(100))) {
            if m.kind == zcluster::cluster::NODE_UP {
                return;
            }
        }
    }
    panic!("{}: no node_up", cl.node_name());
}

fn spawn_child(args: &[String]) -> std::process::Child {
    Command::new(std::env::current_exe().unwrap())
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap()
}

fn pcts(mut v: Vec<u64>) -> (f64, f64) {
    v.sort_unstable();
    let at = |p: f64| v[((v.len() as f64 * p) as usize).min(v.len() - 1)] as f64 / 1000.0;
    (at(0.5), at(0.99))
}

fn receive_report(variant: &str, n: u64, mut next: impl FnMut() -> Option<u64>) {
    let (mut recv, mut in_order, mut expect) = (0u64, true, 0u64);
    let (mut first, mut last) = (None, Instant::now());
    let deadline = Instant::now() + LIMIT;
    while recv < n && Instant::now() < deadline {
        if let Some(seq) = next() {
            let now = Instant::now();
            first.get_or_insert(now);
            last = now;
            in_order &= seq == expect;
            expect = seq + 1;
            recv += 1;
        }
    }
    let secs = first.map_or(0.0, |f| (last - f).as_secs_f64());
    let rate = if secs > 0.0 {
        (recv.saturating_sub(1)) as f64 / secs
    } else {
        0.0
    };
    println!(
        "RESULT zmq-{variant} tput sent={n} recv={recv} lost={} in_order={in_order} secs={secs:.3} rate={rate:.0}",
        n - recv
    );
}

// ------------------------------------------------------------------------- zcluster

fn zcluster_parent(mode: &str, n: u64) {
    let (xpub, xsub) = (port(), port());
    let text = layout_text(xpub, xsub);
    let path = std::env::temp_dir().join(format!("zc-bench-zmq-{}.zeek", std::process::id()));
    std::fs::write(&path, &text).unwrap();
    let m = node(&text, "manager");
    let mut child = spawn_child(&[
        "--child".into(),
        "zcluster".into(),
        mode.into(),
        n.to_string(),
        path.display().to_string(),
    ]);
    wait_up(&m);
    let rt = m.running().unwrap();
    let ep = rt.endpoint();
    if mode == "tput" {
        let mut batch = Vec::new();
        let mut it = std::collections::VecDeque::new();
        receive_report("zcluster", n, || loop {
            if let Some(s) = it.pop_front() {
                return Some(s);
            }
            batch.clear();
            if ep.next_batch(&mut batch, 1024, Some(Duration::from_millis(100))) == 0 {
                return None;
            }
            for msg in &batch {
                if msg.kind == MessageKind::Event {
                    it.push_back(seq_of(&msg.payload));
                }
            }
        });
    } else {
        let topic = m.node_topic("worker-1");
        let mut lat = Vec::new();
        for i in 0..n {
            let t0 = Instant::now();
            rt.publish_encoded(&topic, ping(i)).unwrap();
            loop {
                match ep.next(Some(Duration::from_secs(5))) {
                    Some(msg) if msg.kind == MessageKind::Event && seq_of(&msg.payload) == i => {
                        break
                    }
                    Some(_) => {}
                    None => panic!("round {i} timed out"),
                }
            }
            lat.push(t0.elapsed().as_nanos() as u64);
        }
        let (p50, p99) = pcts(lat.clone());
        println!(
            "RESULT zmq-zcluster rtt rounds={n} ok={} p50_us={p50:.1} p99_us={p99:.1}",
            lat.len()
        );
    }
    let _ = child.stdin.take().map(|mut s| s.write_all(b"done\n"));
    let _ = child.wait();
    let _ = std::fs::remove_file(path);
}

fn zcluster_child(mode: &str, n: u64, layout_path: &str) {
    let text = std::fs::read_to_string(layout_path).unwrap();
    let w = node(&text, "worker-1");
    wait_up(&w);
    let rt = w.running().unwrap();
    if mode == "tput" {
        // As the raw publisher: the event encoded once, its seq patched per publish (the
        // copy stands for raw's copy into a zmq message).
        let template = ping(0);
        let k = template.len() - 8;
        for i in 0..n {
            loop {
                let mut buf = template.clone();
                buf[k..].copy_from_slice(&i.to_be_bytes());
                match rt.publish_encoded("zeek.cluster.manager", buf) {
                    Ok(()) => break,
                    Err(e) if e.kind == zcluster::ErrorKind::WouldBlock => continue,
                    Err(e) => panic!("{e:?}"),
                }
            }
        }
    } else {
        let ep = rt.endpoint();
        let mut done = 0;
        while done < n {
            if let Some(msg) = ep.next(Some(Duration::from_secs(10))) {
                if msg.kind == MessageKind::Event {
                    rt.publish_encoded("zeek.cluster.manager", msg.payload)
                        .unwrap();
                    done += 1;
                }
            } else {
                break;
            }
        }
    }
    let mut line = String::new();
    let _ = BufReader::new(std::io::stdin()).read_line(&mut line);
}

// ------------------------------------------------------------------------- raw libzmq

fn raw_parent(mode: &str, n: u64) {
    // One context for the proxy and the parent's sockets, as the manager's node shares
    // its proxy's, with the proxy's I/O threads.
    let ctx = zcluster::zeromq::Context::new(io_threads()).unwrap();
    let mut pxpub = ctx.socket(zmq::XPUB).unwrap();
    let pxsub = ctx.socket(zmq::XSUB).unwrap();
    zcluster_set_nodrop(&mut pxpub);
    // XPUB_VERBOSER (78) as Zeek's proxy: not needed for two nodes; VERBOSE suffices.
    pxpub.set_xpub_verbose(true).unwrap();
    pxpub.bind("tcp://127.0.0.1:*").unwrap();
    pxsub.bind("tcp://127.0.0.1:*").unwrap();
    let xpub_ep = pxpub.get_last_endpoint().unwrap().unwrap();
    let xsub_ep = pxsub.get_last_endpoint().unwrap().unwrap();
    std::thread::spawn(move || {
        let _ = zmq::proxy(&pxsub, &pxpub);
    });
    let (sub, pubs) = raw_node(|k| ctx.socket(k).unwrap(), &xpub_ep, &xsub_ep);
    sub.send(&b"\x01zeek.cluster.manager"[..], 0).unwrap();
    let mut child = spawn_child(&[
        "--child".into(),
        "raw".into(),
        mode.into(),
        n.to_string(),
        format!("{xpub_ep} {xsub_ep}"),
    ]);
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap(); // "ready": the child saw our subscription
    let mut frames = Vec::new();
    if mode == "tput" {
        receive_report("raw", n, || {
            if sub.poll(zmq::POLLIN, 100).ok()? == 0 {
                return None;
            }
            recv4(&sub, &mut frames);
            Some(seq_of(&frames[3]))
        });
    } else {
        wait_sub(&pubs, b"zeek.cluster.node.worker-1.");
        let mut lat = Vec::new();
        for i in 0..n {
            let t0 = Instant::now();
            send4(&pubs, b"zeek.cluster.node.worker-1.", &ping(i));
            loop {
                recv4(&sub, &mut frames);
                if seq_of(&frames[3]) == i {
                    break;
                }
            }
            lat.push(t0.elapsed().as_nanos() as u64);
        }
        let (p50, p99) = pcts(lat.clone());
        println!(
            "RESULT zmq-raw rtt rounds={n} ok={} p50_us={p50:.1} p99_us={p99:.1}",
            lat.len()
        );
    }
    let _ = child.stdin.take().map(|mut s| s.write_all(b"done\n"));
    let _ = child.wait();
    std::process::exit(0); // the proxy thread blocks in zmq_proxy
}

fn zcluster_set_nodrop(s: &mut zmq::Socket) {
    // As zcluster's proxy and nodes: a full queue is EAGAIN, not a silent drop.
    zcluster::zeromq::set_xpub_nodrop(s, true).unwrap();
}

fn raw_node(
    socket: impl Fn(zmq::SocketType) -> zmq::Socket,
    xpub_ep: &str,
    xsub_ep: &str,
) -> (zmq::Socket, zmq::Socket) {
    let sub = socket(zmq::XSUB);
    sub.connect(xpub_ep).unwrap();
    let mut pubs = socket(zmq::XPUB);
    pubs.set_xpub_verbose(true).unwrap();
    zcluster_set_nodrop(&mut pubs);
    pubs.connect(xsub_ep).unwrap();
    (sub, pubs)
}

const SENDER: &[u8] = b"zeromq_raw_bench_1_N0";

fn send4(s: &zmq::Socket, topic: &[u8], payload: &[u8]) {
    // Blocking send: with XPUB_NODROP libzmq waits for room instead of dropping.
    s.send(topic, zmq::SNDMORE).unwrap();
    s.send(SENDER, zmq::SNDMORE).unwrap();
    s.send(&b"broker-bin-v1"[..], zmq::SNDMORE).unwrap();
    s.send(payload, 0).unwrap();
}

/// Receives one 4-frame message into reused libzmq messages (no allocation per frame).
fn recv4(s: &zmq::Socket, frames: &mut Vec<zmq::Message>) {
    if frames.len() < 4 {
        frames.resize_with(4, zmq::Message::new);
    }
    for (i, f) in frames.iter_mut().enumerate() {
        s.recv(f, 0).unwrap();
        assert_eq!(f.get_more(), i < 3);
    }
}

fn wait_sub(pubs: &zmq::Socket, topic: &[u8]) {
    let mut want = vec![1u8];
    want.extend_from_slice(topic);
    loop {
        let m = pubs.recv_bytes(0).unwrap();
        if m == want {
            return;
        }
    }
}

fn raw_child(mode: &str, n: u64, eps: &str) {
    let (xpub_ep, xsub_ep) = eps.split_once(' ').unwrap();
    let ctx = zmq::Context::new();
    let (sub, pubs) = raw_node(|k| ctx.socket(k).unwrap(), xpub_ep, xsub_ep);
    sub.send(&b"\x01zeek.cluster.node.worker-1."[..], 0)
        .unwrap();
    wait_sub(&pubs, b"zeek.cluster.manager");
    println!("ready");
    std::io::stdout().flush().unwrap();
    if mode == "tput" {
        let mut buf = ping(0);
        let k = buf.len() - 8;
        for i in 0..n {
            buf[k..].copy_from_slice(&i.to_be_bytes());
            send4(&pubs, b"zeek.cluster.manager", &buf);
        }
    } else {
        let mut frames = Vec::new();
        for _ in 0..n {
            recv4(&sub, &mut frames);
            send4(&pubs, b"zeek.cluster.manager", &frames[3]);
        }
    }
    let mut line = String::new();
    let _ = BufReader::new(std::io::stdin()).read_line(&mut line);
    std::process::exit(0);
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    match a.as_slice() {
        ["--child", "zcluster", mode, n, path] => zcluster_child(mode, n.parse().unwrap(), path),
        ["--child", "raw", mode, n, eps] => raw_child(mode, n.parse().unwrap(), eps),
        ["zcluster", mode @ ("tput" | "rtt"), n] => zcluster_parent(mode, n.parse().unwrap()),
        ["raw", mode @ ("tput" | "rtt"), n] => raw_parent(mode, n.parse().unwrap()),
        _ => {
            eprintln!("usage: bench_zeromq zcluster|raw tput|rtt N");
            std::process::exit(2);
        }
    }
}
