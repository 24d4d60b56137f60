//! Endpoint benchmark between processes on 127.0.0.1 (scripts/bench.sh runs it).
//!
//!   bench_endpoint tput N [--api bytes|event|both]   one-way throughput (default: both)
//!   bench_endpoint rtt N                              ping-pong round trips, p50/p99
//!   bench_endpoint fanout N K                         1 publisher -> K subscriber processes
//!
//! Transport: plain TCP (`Broker::disable_ssl=T`) unless `ZC_BENCH_TLS=1` is set in the
//! environment, then anonymous TLS (Zeek's default, AECDH-AES256-SHA). Each RESULT line says
//! which (`tls=0|1`); the receiver processes inherit the setting.
//!
//! The parent process is the publisher (or the pinger); it re-executes itself as the
//! receiver (or echoer) processes, which peer with it over 127.0.0.1 and report back on
//! stdout. Events are Zeek events `Demo::ping("hello", count seq)` on topic `bench/x`, as
//! Broker 1.4 encodes them, with default endpoint options (backpressure everywhere, so
//! nothing may be lost). `--api bytes` encodes the event once and publishes a copy of the
//! bytes with the sequence number patched in (`Endpoint::publish`); `--api event` builds and
//! encodes an `Event` per publish (`Endpoint::publish_event`). Receivers check that every
//! event arrives, in order (the sequence number is the payload's last 8 bytes, a count).
//!
//! Output, one line per measurement (bench/summarize.py reads them):
//!   RESULT zcluster tput api=A sent=N recv=M lost=L in_order=B secs=S rate=R
//!          pub_cpu_ns=P recv_cpu_ns=Q   (CPU time per event of each process, all threads)
//!   RESULT zcluster fanout subs=K sent=N recv=M lost=L in_order=B secs=S rate=R
//!          total_rate=T pub_cpu_ns=P recv_cpu_ns=Q (Q: the busiest subscriber)
//!   RESULT zcluster rtt rounds=N ok=M p50_us=X p99_us=Y
//! Rates are measured at the receiver, (arrived - 1) / (last arrival - first arrival), as
//! the Broker and ZeroMQ benchmarks do; for fan-out `rate` is events/s per subscriber (the
//! slowest) and `total_rate` the deliveries/s summed over subscribers. Every process has a
//! hard time limit.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use zcluster::data::{Event, Value};
use zcluster::endpoint::{Endpoint, EndpointOptions, MessageKind};

const TOPIC: &str = "bench/x";
const LIMIT: Duration = Duration::from_secs(150);

/// CPU time this process's live threads have used so far, in ns (Linux schedstat; 0
/// elsewhere). Read before an endpoint drops, while its I/O thread still exists.
fn cpu_ns() -> u64 {
    let Ok(dir) = std::fs::read_dir("/proc/self/task") else {
        return 0;
    };
    dir.flatten()
        .filter_map(|t| std::fs::read_to_string(t.path().join("schedstat")).ok())
        .filter_map(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        .sum()
}

fn die(msg: &str) -> ! {
    eprintln!("bench_endpoint: {msg}");
    std::process::exit(2)
}

fn ping(seq: u64) -> Event {
    Event::with_args(
        "Demo::ping",
        vec![Value::String(b"hello".to_vec()), Value::Count(seq)],
    )
}

/// The sequence number of an event made by `ping`: its encoding ends with the count.
fn seq_of(payload: &[u8]) -> Option<u64> {
    let tail = payload.get(payload.len().checked_sub(8)?..)?;
    Some(u64::from_be_bytes(tail.try_into().ok()?))
}

fn tls() -> bool {
    std::env::var("ZC_BENCH_TLS").is_ok_and(|v| v == "1")
}

fn endpoint() -> Endpoint {
    let mut o = EndpointOptions::default();
    o.tls.disable = !tls();
    Endpoint::new(o).unwrap_or_else(|e| die(&format!("endpoint: {e}")))
}

fn spawn_child(args: &[String]) -> Child {
    let exe = std::env::current_exe().unwrap_or_else(|e| die(&format!("current_exe: {e}")));
    Command::new(exe)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap_or_else(|e| die(&format!("spawning the child: {e}")))
}

/// Reads the child's stdout until a line starting with `prefix` (or EOF / deadline).
fn read_line(child: &mut Child, prefix: &str) -> Option<String> {
    let out = child.stdout.as_mut()?;
    let mut r = BufReader::new(out);
    let mut line = String::new();
    loop {
        line.clear();
        if r.read_line(&mut line).ok()? == 0 {
            return None;
        }
        if line.starts_with(prefix) {
            return Some(line.trim_end().to_string());
        }
    }
}

fn field<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    line.split_whitespace()
        .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))
}

fn reap(mut child: Child) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match child.try_wait() {
            Ok(Some(_)) => return,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(10)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return;
            }
        }
    }
}

/// Kills this process if the benchmark overruns (a stuck run must not hang bench.sh).
fn watchdog() {
    std::thread::spawn(|| {
        std::thread::sleep(LIMIT);
        eprintln!("bench_endpoint: time limit reached");
        std::process::exit(3);
    });
}

// ------------------------------------------------------------------ throughput

/// Publishes N events to `subs` receiver processes; returns their RECV lines.
fn publish_run(n: u64, api: &str, subs: usize) -> Vec<Option<String>> {
    let ep = endpoint();
    let port = ep
        .listen("127.0.0.1", 0)
        .unwrap_or_else(|e| die(&format!("listen: {e}")));
    let mut children: Vec<Child> = (0..subs)
        .map(|_| spawn_child(&["__recv".into(), port.to_string(), n.to_string()]))
        .collect();
    // Every receiver is peered and subscribed before the first publish.
    for c in children.iter_mut() {
        if read_line(c, "READY").is_none() {
            die("a receiver did not start");
        }
    }
    if !ep.await_peers(subs, Duration::from_secs(20)) {
        die("the receivers did not peer");
    }
    if !ep.await_peer_subscription(TOPIC, Duration::from_secs(20)) {
        die("no subscription arrived");
    }
    // Subscriptions of all receivers: wait until the union is stable (each peer's filter
    // arrives separately; one matching filter is enough for await_peer_subscription).
    std::thread::sleep(Duration::from_millis(200));
    let t0 = Instant::now();
    let cpu0 = cpu_ns();
    match api {
        "bytes" => {
            let template = ping(0).to_bytes();
            let at = template.len() - 8;
            for seq in 0..n {
                let mut p = template.clone();
                p[at..].copy_from_slice(&seq.to_be_bytes());
                ep.publish(TOPIC, p)
                    .unwrap_or_else(|e| die(&format!("publish: {e}")));
            }
        }
        _ => {
            for seq in 0..n {
                ep.publish_event(TOPIC, &ping(seq))
                    .unwrap_or_else(|e| die(&format!("publish_event: {e}")));
            }
        }
    }
    let pub_secs = t0.elapsed().as_secs_f64();
    eprintln!("    publisher: {n} publishes returned in {pub_secs:.3} s");
    let mut lines: Vec<Option<String>> =
        children.iter_mut().map(|c| read_line(c, "RECV")).collect();
    // The publisher's CPU per event (its thread and the I/O thread), for every line.
    let pub_cpu = (cpu_ns() - cpu0) as f64 / n.max(1) as f64;
    for l in lines.iter_mut().flatten() {
        l.push_str(&format!(" pub_cpu_ns={pub_cpu:.0}"));
    }
    drop(ep);
    for c in children {
        reap(c);
    }
    lines
}

fn tput(n: u64, api: &str) {
    let apis: Vec<&str> = match api {
        "both" => vec!["bytes", "event"],
        "bytes" | "event" => vec![api],
        _ => die("--api takes bytes, event or both"),
    };
    for api in apis {
        let lines = publish_run(n, api, 1);
        let line = lines.into_iter().next().flatten();
        let line = line.unwrap_or_else(|| "RECV recv=0 in_order=false secs=0 rate=0".to_string());
        let recv: u64 = field(&line, "recv")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        println!(
            "RESULT zcluster tput api={api} tls={} sent={n} recv={recv} lost={} in_order={} secs={} rate={} pub_cpu_ns={} recv_cpu_ns={}",
            u8::from(tls()),
            n.saturating_sub(recv),
            field(&line, "in_order").unwrap_or("false"),
            field(&line, "secs").unwrap_or("0"),
            field(&line, "rate").unwrap_or("0"),
            field(&line, "pub_cpu_ns").unwrap_or("0"),
            field(&line, "cpu_ns").unwrap_or("0"),
        );
    }
}

fn fanout(n: u64, k: usize) {
    let lines = publish_run(n, "bytes", k);
    let (mut min_recv, mut min_rate, mut total, mut max_secs, mut in_order) =
        (u64::MAX, f64::MAX, 0.0, 0.0f64, true);
    let (mut max_cpu, mut pub_cpu) = (0.0f64, String::from("0"));
    for l in &lines {
        let l = l
            .as_deref()
            .unwrap_or("RECV recv=0 in_order=false secs=0 rate=0");
        let recv: u64 = field(l, "recv").and_then(|v| v.parse().ok()).unwrap_or(0);
        let rate: f64 = field(l, "rate").and_then(|v| v.parse().ok()).unwrap_or(0.0);
        let secs: f64 = field(l, "secs").and_then(|v| v.parse().ok()).unwrap_or(0.0);
        min_recv = min_recv.min(recv);
        min_rate = min_rate.min(rate);
        total += rate;
        max_secs = max_secs.max(secs);
        in_order &= field(l, "in_order") == Some("true");
        max_cpu = max_cpu.max(
            field(l, "cpu_ns")
                .and_then(|v| v.parse().ok())
                .unwrap_or(0.0),
        );
        pub_cpu = field(l, "pub_cpu_ns").unwrap_or("0").to_string();
    }
    println!(
        "RESULT zcluster fanout subs={k} tls={} sent={n} recv={min_recv} lost={} in_order={in_order} secs={max_secs:.3} rate={min_rate:.0} total_rate={total:.0} pub_cpu_ns={pub_cpu} recv_cpu_ns={max_cpu:.0}",
        u8::from(tls()),
        n.saturating_sub(min_recv)
    );
}

/// Receiver process: peers with the publisher, counts N events, prints RECV.
fn recv_child(port: u16, n: u64) {
    let ep = endpoint();
    ep.subscribe(TOPIC)
        .unwrap_or_else(|e| die(&format!("subscribe: {e}")));
    ep.peer("127.0.0.1", port, Duration::from_millis(200))
        .unwrap_or_else(|e| die(&format!("peer: {e}")));
    if !ep.await_peers(1, Duration::from_secs(20)) {
        die("could not peer with the publisher");
    }
    println!("READY");
    let cpu0 = cpu_ns();
    let (mut got, mut in_order) = (0u64, true);
    let (mut first, mut last) = (None::<Instant>, Instant::now());
    let deadline = Instant::now() + LIMIT - Duration::from_secs(10);
    let mut idle = Instant::now();
    let mut batch = Vec::with_capacity(1024);
    while got < n && Instant::now() < deadline {
        if ep.next_batch(&mut batch, 1024, Some(Duration::from_millis(500))) == 0 {
            // Nothing for 20 s once started: the rest is not coming.
            if first.is_some() && idle.elapsed() > Duration::from_secs(20) {
                break;
            }
            continue;
        }
        let now = Instant::now();
        for m in batch.drain(..) {
            if m.kind != MessageKind::Event {
                continue;
            }
            first.get_or_insert(now);
            last = now;
            idle = now;
            if seq_of(&m.payload) != Some(got) {
                in_order = false;
            }
            got += 1;
        }
    }
    let secs = first.map_or(0.0, |f| (last - f).as_secs_f64());
    let rate = if secs > 0.0 {
        (got.saturating_sub(1)) as f64 / secs
    } else {
        0.0
    };
    // The receiver's CPU per event (its thread and the I/O thread).
    let cpu = (cpu_ns() - cpu0) as f64 / got.max(1) as f64;
    println!("RECV recv={got} in_order={in_order} secs={secs:.3} rate={rate:.0} cpu_ns={cpu:.0}");
}

// ------------------------------------------------------------------ round trip

fn rtt(n: u64) {
    let ep = endpoint();
    ep.subscribe("bench/pong")
        .unwrap_or_else(|e| die(&format!("subscribe: {e}")));
    let port = ep
        .listen("127.0.0.1", 0)
        .unwrap_or_else(|e| die(&format!("listen: {e}")));
    let mut child = spawn_child(&["__echo".into(), port.to_string()]);
    if read_line(&mut child, "READY").is_none() {
        die("the echoer did not start");
    }
    if !ep.await_peer_subscription("bench/ping", Duration::from_secs(20)) {
        die("no subscription arrived");
    }
    let warmup = 200u64;
    let mut times = Vec::with_capacity(n as usize);
    let mut ok = 0u64;
    for seq in 0..warmup + n {
        let t = Instant::now();
        ep.publish_event("bench/ping", &ping(seq))
            .unwrap_or_else(|e| die(&format!("publish: {e}")));
        let deadline = t + Duration::from_secs(5);
        let mut answered = false;
        while let Some(m) = ep.next(Some(deadline.saturating_duration_since(Instant::now()))) {
            if m.kind == MessageKind::Event && seq_of(&m.payload) == Some(seq) {
                answered = true;
                break;
            }
        }
        if !answered {
            break;
        }
        if seq >= warmup {
            times.push(t.elapsed());
            ok += 1;
        }
    }
    drop(ep);
    reap(child);
    times.sort();
    let pct = |p: f64| {
        times
            .get(((times.len() as f64 * p) as usize).min(times.len().saturating_sub(1)))
            .map_or(0.0, |d| d.as_secs_f64() * 1e6)
    };
    println!(
        "RESULT zcluster rtt tls={} rounds={n} ok={ok} p50_us={:.1} p99_us={:.1} max_us={:.1}",
        u8::from(tls()),
        pct(0.5),
        pct(0.99),
        times.last().map_or(0.0, |d| d.as_secs_f64() * 1e6)
    );
}

/// Echo process: answers every event on bench/ping with the same payload on bench/pong.
fn echo_child(port: u16) {
    let ep = endpoint();
    ep.subscribe("bench/ping")
        .unwrap_or_else(|e| die(&format!("subscribe: {e}")));
    ep.peer("127.0.0.1", port, Duration::from_millis(200))
        .unwrap_or_else(|e| die(&format!("peer: {e}")));
    if !ep.await_peers(1, Duration::from_secs(20))
        || !ep.await_peer_subscription("bench/pong", Duration::from_secs(20))
    {
        die("could not peer with the pinger");
    }
    println!("READY");
    let deadline = Instant::now() + LIMIT - Duration::from_secs(10);
    while Instant::now() < deadline {
        match ep.next(Some(Duration::from_millis(500))) {
            Some(m) if m.kind == MessageKind::Event => {
                let echoed = ep.publish("bench/pong", m.payload);
                if echoed.is_err() {
                    break;
                }
            }
            Some(m) if matches!(m.kind, MessageKind::PeerLost | MessageKind::PeerRemoved) => break,
            _ => {}
        }
    }
}

fn main() {
    watchdog();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let num = |i: usize, what: &str| -> u64 {
        args.get(i)
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| die(&format!("expected {what}")))
    };
    match args.first().map(String::as_str) {
        Some("tput") => {
            let api = match args.get(2).map(String::as_str) {
                Some("--api") => args.get(3).map_or("both", String::as_str),
                _ => "both",
            };
            tput(num(1, "N"), api)
        }
        Some("rtt") => rtt(num(1, "N")),
        Some("fanout") => fanout(num(1, "N"), num(2, "K") as usize),
        Some("__recv") => recv_child(num(1, "port") as u16, num(2, "N")),
        Some("__echo") => echo_child(num(1, "port") as u16),
        _ => die("usage: bench_endpoint tput N [--api bytes|event|both] | rtt N | fanout N K"),
    }
}
