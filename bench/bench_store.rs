//! Store benchmark between processes on 127.0.0.1 (scripts/bench.sh runs it), the same
//! measurements as `broker_bench store` (bench/broker_bench.cc):
//!
//!   bench_store N memory|sqlite DIR [--journal delete | --tag T]
//!   bench_store rtt N DIR [--puts-per-sec R]
//!
//! The parent process holds the master of store "bench-store" (memory, or SQLite in DIR
//! with the default settings: WAL, synchronous=FULL; a batch counts as done only once it
//! is durable: `Store::flush` returned on the store the puts went to, and the checking
//! side answers the last key; the master sends a SQLite write to clones only after it
//! committed it, so "the clone sees it" also means "it is on disk";
//! `--journal delete` uses SQLite's rollback journal instead, what Broker 1.4 runs with,
//! and adds `journal=delete` to the lines; `--tag T` adds `size=T`, to tell runs of another
//! N apart); it re-executes itself as the clone process,
//! which peers with it over 127.0.0.1.
//!
//! 0. from=master_no_clone: N puts `"a<i>" -> count(i + 1)` on the master before any clone
//!    exists, until the master answers the last one.
//! 1. from=clone: N puts issued on the clone, until the clone sees the last one (clone ->
//!    master -> clone).
//! 2. from=master_with_clone: N puts on the master with the clone attached, timed on the
//!    master; from=master_seen_by_clone: the same puts, timed on the clone until it sees
//!    the last one.
//! 3. from=visibility: the master puts its clock (ns since the epoch) into "lat" every
//!    5 ms, 200 times; the clone polls "lat" (every 50 µs: a read is a local lookup, a
//!    busy loop would only take a core from the I/O threads) and records how long after
//!    each put it saw it.
//!
//! `rtt`: event round trips between two endpoints of this process (P publishes
//! `Demo::ping` on bench/ping, Q echoes it on bench/pong, one at a time, N after a
//! warm-up), first alone (load=none), then while a third endpoint of the same process
//! holds a SQLite master (WAL, FULL) into which another thread puts as fast as it can
//! (load=sqlite; `--puts-per-sec R` paces it instead), flushing every 10,000 puts; then
//! the same with the master on P's own endpoint (load=sqlite_on_pinger: P's I/O thread
//! carries the round trips and the store).
//!   RESULT zcluster rtt_store load=L rounds=N ok=K p50_us=X p99_us=Y max_us=Z [puts=P rate=R commits=C]
//! `rtt N DIR --alternate B`: B rounds of blocks of N round trips without load, with the
//! SQLite put stream (master on a third endpoint) and with the same thread spinning, each
//! round rotated so that all three see the same drift of a shared machine; then each
//! pooled, with `p99_growth_pct` (against none) and `p99_vs_spin_pct` (load=none_block /
//! sqlite_block / spin_block / none_pooled / spin_pooled / sqlite_pooled).
//!
//! Output, one line per measurement (bench/summarize.py reads them):
//!   RESULT zcluster store backend=B from=F puts=N secs=S rate=R
//!   RESULT zcluster store backend=B from=visibility samples=K p50_us=X p99_us=Y max_us=Z
//! Every process has a hard time limit.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};
use zcluster::data::Value;
use zcluster::endpoint::{Endpoint, EndpointOptions};
use zcluster::store::{
    Backend, CloneConfig, JournalMode, MemoryBackend, SqliteBackend, SqliteOptions, Store,
    StoreService,
};
use zcluster::wire::EndpointId;

const NAME: &str = "bench-store";
const LAT_SAMPLES: usize = 200;
const LIMIT: Duration = Duration::from_secs(170);

fn die(msg: &str) -> ! {
    eprintln!("bench_store: {msg}");
    std::process::exit(2)
}

fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

fn s(x: &str) -> Value {
    Value::String(x.as_bytes().to_vec())
}

/// An endpoint that carries stores.
fn store_node() -> (Endpoint, Arc<StoreService>) {
    let id = EndpointId::random().unwrap_or_else(|e| die(&format!("endpoint id: {e}")));
    let svc = StoreService::new(id);
    let mut opts = EndpointOptions {
        id: Some(id),
        ..EndpointOptions::default()
    };
    // Plain TCP, as broker_bench's store runs; ZC_BENCH_TLS=1 for anonymous TLS.
    opts.tls.disable = std::env::var("ZC_BENCH_TLS").map_or(true, |v| v != "1");
    let ep = Endpoint::with_hook(opts, Some(svc.hook()))
        .unwrap_or_else(|e| die(&format!("endpoint: {e}")));
    svc.set_waker(ep.hook_waker());
    (ep, svc)
}

/// Polls `st.get(key)` until it is a count >= `want` (any value when want == 0).
fn wait_value(st: &Store, key: &Value, want: u64, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if let Ok(v) = st.get(key, Duration::ZERO) {
            match v {
                Value::Count(c) if c >= want => return true,
                _ if want == 0 => return true,
                _ => {}
            }
        }
        std::thread::sleep(Duration::from_micros(200));
    }
    false
}

/// Puts n keys `<prefix><i>` -> count(i + 1) on `put_to`, then waits until `check_on`
/// answers the last one. Seconds, or -1 on failure.
fn timed_puts(put_to: &Store, check_on: &Store, prefix: &str, n: u64) -> f64 {
    let t0 = Instant::now();
    for i in 0..n {
        if let Err(e) = put_to.put(s(&format!("{prefix}{i}")), Value::Count(i + 1), None) {
            die(&format!("put: {e}"));
        }
    }
    // Durable: on a master, flush (SQLite: committed). Puts on a clone are durable once
    // the clone sees the last one come back: the master sends an update only after
    // committing it. (A clone's own flush waits for the master's channel ack, which
    // Broker's protocol sends every heartbeat interval, 500 ms: not a throughput figure.)
    if put_to.is_master() {
        if let Err(e) = put_to.flush(Duration::from_secs(60)) {
            die(&format!("flush: {e}"));
        }
    }
    if !wait_value(
        check_on,
        &s(&format!("{prefix}{}", n - 1)),
        n,
        Duration::from_secs(60),
    ) {
        return -1.0;
    }
    t0.elapsed().as_secs_f64()
}

fn rate_line(backend: &str, from: &str, n: u64, secs: f64) -> String {
    format!(
        "RESULT zcluster store backend={backend} from={from} puts={n} secs={secs:.3} rate={:.0}",
        if secs > 0.0 { n as f64 / secs } else { 0.0 }
    )
}

fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

/// The clone process: reports and asks the master process through stdout.
fn clone_main(n: u64, backend: &str, port: u16) -> i32 {
    let (ep, svc) = store_node();
    let clone = svc
        .attach_clone(NAME, CloneConfig::default())
        .unwrap_or_else(|e| die(&format!("attach_clone: {e}")));
    ep.peer("127.0.0.1", port, Duration::from_millis(100))
        .unwrap_or_else(|e| die(&format!("peer: {e}")));
    if !wait_value(&clone, &s("ready"), 1, Duration::from_secs(30)) {
        die("clone: never saw the master's 'ready' key");
    }
    // Commands to the master go out on stdout and are not answered (as broker_bench's).
    let ask = |cmd: &str| say(&format!("CMD {cmd}"));
    // 1. puts issued on the clone, until the clone sees the last one.
    let secs = timed_puts(&clone, &clone, "c", n);
    say(&rate_line(backend, "clone", n, secs));
    // 2. the master puts; the clone waits for the last one.
    ask("P");
    let t0 = Instant::now();
    let seen = wait_value(
        &clone,
        &s(&format!("m{}", n - 1)),
        n,
        Duration::from_secs(60),
    );
    say(&rate_line(
        backend,
        "master_seen_by_clone",
        n,
        if seen {
            t0.elapsed().as_secs_f64()
        } else {
            -1.0
        },
    ));
    // 3. visibility latency.
    ask("L");
    let mut us: Vec<f64> = Vec::new();
    let mut last_seen = 0u64;
    let end = Instant::now() + Duration::from_secs(30);
    let (lat, done) = (s("lat"), s("lat_done"));
    while Instant::now() < end && us.len() < LAT_SAMPLES {
        if let Ok(Value::Count(c)) = clone.get(&lat, Duration::ZERO) {
            let t = now_ns();
            if c != last_seen {
                last_seen = c;
                us.push(t.saturating_sub(c) as f64 / 1e3);
            }
        }
        if !us.is_empty() && clone.exists(&done, Duration::ZERO).unwrap_or(false) {
            break;
        }
        std::thread::sleep(Duration::from_micros(50));
    }
    us.sort_by(f64::total_cmp);
    let pct = |p: f64| {
        if us.is_empty() {
            0.0
        } else {
            us[((p * us.len() as f64) as usize).min(us.len() - 1)]
        }
    };
    say(&format!(
        "RESULT zcluster store backend={backend} from=visibility samples={} p50_us={:.1} p99_us={:.1} max_us={:.1}",
        us.len(),
        pct(0.5),
        pct(0.99),
        us.last().copied().unwrap_or(0.0)
    ));
    ask("Q");
    drop(clone);
    drop(ep);
    0
}

fn master_main(n: u64, backend: &str, dir: &str, journal: JournalMode) -> i32 {
    let (ep, svc) = store_node();
    let path = std::path::Path::new(dir).join(format!("bench-store-{}.sqlite", std::process::id()));
    let b: Box<dyn Backend> = match backend.split(' ').next().unwrap_or_default() {
        "memory" => Box::new(MemoryBackend::new()),
        "sqlite" => {
            let _ = std::fs::remove_file(&path);
            Box::new(
                SqliteBackend::open(
                    &path,
                    &SqliteOptions {
                        journal_mode: journal,
                        ..SqliteOptions::default()
                    },
                )
                .unwrap_or_else(|e| die(&format!("sqlite: {e}"))),
            )
        }
        _ => die("store backend must be memory or sqlite"),
    };
    let master = svc
        .attach_master(NAME, b)
        .unwrap_or_else(|e| die(&format!("attach_master: {e}")));
    // 0. puts from the master's own process, before any clone exists.
    let secs = timed_puts(&master, &master, "a", n);
    say(&rate_line(backend, "master_no_clone", n, secs));
    master
        .clear()
        .unwrap_or_else(|e| die(&format!("clear: {e}")));
    master
        .put(s("ready"), Value::Count(1), None)
        .unwrap_or_else(|e| die(&format!("put: {e}")));
    let port = ep
        .listen("127.0.0.1", 0)
        .unwrap_or_else(|e| die(&format!("listen: {e}")));

    let exe = std::env::current_exe().unwrap_or_else(|e| die(&format!("current_exe: {e}")));
    let mut child = Command::new(exe)
        .args(["--clone", &n.to_string(), backend, &port.to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap_or_else(|e| die(&format!("spawning the clone: {e}")));
    let from_child = BufReader::new(
        child
            .stdout
            .take()
            .unwrap_or_else(|| die("no child stdout")),
    );
    let mut rc = 0;
    for line in from_child.lines() {
        let Ok(line) = line else { break };
        if line.starts_with("RESULT") {
            say(&line);
            continue;
        }
        match line.as_str() {
            "CMD P" => {
                let secs = timed_puts(&master, &master, "m", n);
                say(&rate_line(backend, "master_with_clone", n, secs));
            }
            "CMD L" => {
                for _ in 0..LAT_SAMPLES {
                    let _ = master.put(s("lat"), Value::Count(now_ns()), None);
                    std::thread::sleep(Duration::from_millis(5));
                }
                let _ = master.put(s("lat_done"), Value::Count(1), None);
            }
            "CMD Q" => break,
            other => eprintln!("bench_store: unexpected line from the clone: {other}"),
        }
    }
    match child.wait() {
        Ok(st) if st.success() => {}
        Ok(st) => {
            eprintln!("bench_store: the clone exited with {st}");
            rc = 1;
        }
        Err(e) => {
            eprintln!("bench_store: waiting for the clone: {e}");
            rc = 1;
        }
    }
    drop(master);
    drop(ep);
    if backend.starts_with("sqlite") {
        let _ = std::fs::remove_file(&path);
        for ext in ["-wal", "-shm"] {
            let mut p = path.clone().into_os_string();
            p.push(ext);
            let _ = std::fs::remove_file(p);
        }
    }
    rc
}

// ------------------------------------------------------------------ rtt under a put stream

fn ping(seq: u64) -> zcluster::data::Event {
    zcluster::data::Event::with_args("Demo::ping", vec![s("hello"), Value::Count(seq)])
}

fn rtt_round(p: &Endpoint, n: u64) -> (u64, Vec<Duration>) {
    let warmup = 200u64;
    let mut times = Vec::with_capacity(n as usize);
    let mut ok = 0u64;
    for seq in 0..warmup + n {
        let t = Instant::now();
        p.publish_event("bench/ping", &ping(seq))
            .unwrap_or_else(|e| die(&format!("publish: {e}")));
        let deadline = t + Duration::from_secs(5);
        let mut answered = false;
        while let Some(m) = p.next(Some(deadline.saturating_duration_since(Instant::now()))) {
            if m.is_status() {
                continue;
            }
            if let Ok(ev) = m.event() {
                if ev.args.get(1) == Some(&Value::Count(seq)) {
                    answered = true;
                    break;
                }
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
    times.sort();
    (ok, times)
}

/// P and Q peered, and Q's echo thread (stopped with the flag).
fn ping_pair() -> (
    Endpoint,
    Arc<Endpoint>,
    Arc<std::sync::atomic::AtomicBool>,
    std::thread::JoinHandle<()>,
) {
    use std::sync::atomic::{AtomicBool, Ordering};
    let plain = || {
        let mut o = EndpointOptions::default();
        // Plain TCP, as the other store benchmarks; ZC_BENCH_TLS=1 for anonymous TLS.
        o.tls.disable = std::env::var("ZC_BENCH_TLS").map_or(true, |v| v != "1");
        o
    };
    let p = Endpoint::new(plain()).unwrap_or_else(|e| die(&format!("{e}")));
    let q = Arc::new(Endpoint::new(plain()).unwrap_or_else(|e| die(&format!("{e}"))));
    p.subscribe("bench/pong")
        .unwrap_or_else(|e| die(&format!("{e}")));
    q.subscribe("bench/ping")
        .unwrap_or_else(|e| die(&format!("{e}")));
    let port = p
        .listen("127.0.0.1", 0)
        .unwrap_or_else(|e| die(&format!("listen: {e}")));
    q.peer("127.0.0.1", port, Duration::from_millis(100))
        .unwrap_or_else(|e| die(&format!("peer: {e}")));
    if !p.await_peer_subscription("bench/ping", Duration::from_secs(20))
        || !q.await_peer_subscription("bench/pong", Duration::from_secs(20))
    {
        die("P and Q did not peer");
    }
    let stop = Arc::new(AtomicBool::new(false));
    let echo = {
        let (q, stop) = (q.clone(), stop.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                if let Some(m) = q.next(Some(Duration::from_millis(100))) {
                    if !m.is_status() {
                        let _ = q.publish("bench/pong", m.payload);
                    }
                }
            }
        })
    };
    (p, q, stop, echo)
}

fn rtt_line(load: &str, n: u64, ok: u64, times: &[Duration], extra: &str) {
    let pct = |x: f64| {
        times
            .get(((times.len() as f64 * x) as usize).min(times.len().saturating_sub(1)))
            .map_or(0.0, |d| d.as_secs_f64() * 1e6)
    };
    say(&format!(
        "RESULT zcluster rtt_store load={load} rounds={n} ok={ok} p50_us={:.1} p99_us={:.1} max_us={:.1}{extra}",
        pct(0.5),
        pct(0.99),
        times.last().map_or(0.0, |d| d.as_secs_f64() * 1e6)
    ));
}

/// One put of the benchmarks' put streams (key `r<i>`), flushing every 10,000: returns
/// whether it flushed.
fn put_next(master: &Store, i: &mut u64) -> bool {
    master
        .put(s(&format!("r{i}")), Value::Count(*i), None)
        .unwrap_or_else(|e| die(&format!("put: {e}")));
    *i += 1;
    if *i % 10_000 != 0 {
        return false;
    }
    master
        .flush(Duration::from_secs(60))
        .unwrap_or_else(|e| die(&format!("flush: {e}")));
    true
}

/// ZC_BENCH_STORAGE_NICE=N: the storage thread's niceness (the option `zc_storage_nice`),
/// to compare settings in one run.
fn storage_nice() -> u8 {
    std::env::var("ZC_BENCH_STORAGE_NICE")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(zcluster::store::backend::DEFAULT_STORAGE_NICE)
}

/// `rtt N DIR --alternate B`: B rounds of three blocks of N round trips: without load,
/// while a SQLite master on a third endpoint absorbs a put stream at full speed, and while
/// the same thread only spins (a core as busy, without the store: on a VM whose idle
/// cores wake slowly, "no load" is not the fastest case). Each round is rotated by one
/// (none, sqlite, spin; sqlite, spin, none; ...) so that all three see the same drift of
/// the machine; the thread is parked (no polling) in the blocks without load. Prints each
/// block, then each load pooled, with the p99 growth against no load and against spin.
/// ZC_BENCH_STORAGE_IDLE=0|1: the storage thread under SCHED_IDLE (the option
/// `zc_storage_idle`, default 1).
fn storage_idle() -> bool {
    std::env::var("ZC_BENCH_STORAGE_IDLE").map_or(true, |v| v != "0")
}

fn rtt_alternating(n: u64, blocks: u64, dir: &str) -> i32 {
    use parking_lot::{Condvar, Mutex};
    use std::sync::atomic::{AtomicU64, Ordering};
    let (p, _q, stop, echo) = ping_pair();
    let nice = storage_nice();
    let (_m_ep, svc) = store_node();
    let path =
        std::path::Path::new(dir).join(format!("bench-rtt-alt-{}.sqlite", std::process::id()));
    let idle = storage_idle();
    let opts = SqliteOptions {
        storage_nice: nice,
        storage_idle: idle,
        ..SqliteOptions::default()
    };
    let b = SqliteBackend::open(&path, &opts).unwrap_or_else(|e| die(&format!("sqlite: {e}")));
    let master = svc
        .attach_master(NAME, Box::new(b))
        .unwrap_or_else(|e| die(&format!("attach_master: {e}")));
    // 0: paused, 1: putting, 2: done, 3: spinning (the control: a core kept as busy as
    // the put stream keeps it, without the store).
    let state = Arc::new((Mutex::new(0u8), Condvar::new()));
    let puts = Arc::new(AtomicU64::new(0));
    let spin = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let (master, state, puts, spin) =
            (master.clone(), state.clone(), puts.clone(), spin.clone());
        std::thread::spawn(move || {
            let mut i = 0u64;
            loop {
                {
                    let mut st = state.0.lock();
                    while *st == 0 {
                        state.1.wait(&mut st);
                    }
                    if *st == 2 {
                        break;
                    }
                    if *st == 3 {
                        drop(st);
                        let mut x = 0u64;
                        while spin.load(Ordering::Relaxed) {
                            x = std::hint::black_box(x.wrapping_add(1));
                        }
                        continue;
                    }
                }
                for _ in 0..100 {
                    put_next(&master, &mut i);
                }
                puts.store(i, Ordering::Relaxed);
            }
        })
    };
    let set = |v: u8| {
        spin.store(v == 3, Ordering::Relaxed);
        *state.0.lock() = v;
        state.1.notify_all();
    };
    let (mut none, mut loaded, mut spun) = (Vec::new(), Vec::new(), Vec::new());
    let (mut put_total, mut put_secs, mut commits) = (0u64, 0f64, 0u64);
    for k in 0..blocks * 3 {
        // Rounds of the three loads, each round rotated by one (none, sqlite, spin;
        // sqlite, spin, none; ...).
        let which = (k + k / 3) % 3;
        let with_load = which == 1;
        if which == 2 {
            set(3);
            std::thread::sleep(Duration::from_millis(300));
            let (ok, times) = rtt_round(&p, n);
            set(0);
            rtt_line("spin_block", n, ok, &times, "");
            spun.extend(times);
            continue;
        }
        if with_load {
            set(1);
            // Let the stream reach its pace before measuring.
            std::thread::sleep(Duration::from_millis(300));
        }
        let (t0, p0, c0) = (
            Instant::now(),
            puts.load(Ordering::Relaxed),
            master.commits(),
        );
        let (ok, times) = rtt_round(&p, n);
        if with_load {
            set(0);
            let secs = t0.elapsed().as_secs_f64();
            let done = puts.load(Ordering::Relaxed) - p0;
            let c = master.commits() - c0;
            rtt_line(
                "sqlite_block",
                n,
                ok,
                &times,
                &format!(
                    " puts={done} rate={:.0} commits={c} storage_nice={nice} storage_idle={idle}",
                    done as f64 / secs
                ),
            );
            put_total += done;
            put_secs += secs;
            commits += c;
            loaded.extend(times);
        } else {
            rtt_line("none_block", n, ok, &times, "");
            none.extend(times);
        }
    }
    set(2);
    let _ = writer.join();
    none.sort();
    loaded.sort();
    spun.sort();
    let p99 = |v: &[Duration]| {
        v.get(v.len() * 99 / 100)
            .map_or(0.0, |d| d.as_secs_f64() * 1e6)
    };
    rtt_line("none_pooled", n * blocks, none.len() as u64, &none, "");
    rtt_line("spin_pooled", n * blocks, spun.len() as u64, &spun, "");
    rtt_line(
        "sqlite_pooled",
        n * blocks,
        loaded.len() as u64,
        &loaded,
        &format!(
            " rate={:.0} commits={commits} storage_nice={nice} storage_idle={idle} p99_growth_pct={:.1} p99_vs_spin_pct={:.1}",
            put_total as f64 / put_secs.max(1e-9),
            (p99(&loaded) / p99(&none).max(1e-9) - 1.0) * 100.0,
            (p99(&loaded) / p99(&spun).max(1e-9) - 1.0) * 100.0
        ),
    );
    drop(master);
    svc.close();
    for ext in ["", "-wal", "-shm"] {
        let mut f = path.clone().into_os_string();
        f.push(ext);
        let _ = std::fs::remove_file(f);
    }
    stop.store(true, Ordering::Relaxed);
    let _ = echo.join();
    0
}

fn rtt_main(n: u64, dir: &str, pace: Option<u64>) -> i32 {
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
    let (p, _q, stop, echo) = ping_pair();
    let line =
        |load: &str, ok: u64, times: &[Duration], extra: &str| rtt_line(load, n, ok, times, extra);
    let (ok, times) = rtt_round(&p, n);
    line("none", ok, &times, "");

    // The same round trips while a SQLite master in this process absorbs a put stream:
    // on an endpoint of its own, then on the pinger's endpoint (its I/O thread carries
    // the store's traffic and the round trips).
    let storage_nice = storage_nice();
    let (m_ep, svc) = store_node();
    for on_pinger in [false, true] {
        let path = std::path::Path::new(dir).join(format!(
            "bench-rtt-{}-{on_pinger}.sqlite",
            std::process::id()
        ));
        let master = if on_pinger {
            let mut o = zcluster::store::BackendOptions::default();
            o.set("path", path.to_str().unwrap_or_default())
                .unwrap_or_else(|e| die(&format!("{e}")));
            o.sqlite.storage_nice = storage_nice;
            o.sqlite.storage_idle = storage_idle();
            p.attach_master(NAME, zcluster::store::BackendKind::Sqlite, &o)
                .unwrap_or_else(|e| die(&format!("attach_master: {e}")))
        } else {
            let opts = SqliteOptions {
                storage_nice,
                storage_idle: storage_idle(),
                ..SqliteOptions::default()
            };
            let b =
                SqliteBackend::open(&path, &opts).unwrap_or_else(|e| die(&format!("sqlite: {e}")));
            svc.attach_master(NAME, Box::new(b))
                .unwrap_or_else(|e| die(&format!("attach_master: {e}")))
        };
        let puts = Arc::new(AtomicU64::new(0));
        let loading = Arc::new(AtomicBool::new(true));
        let writer = {
            let (master, puts, loading) = (master.clone(), puts.clone(), loading.clone());
            std::thread::spawn(move || {
                let t0 = Instant::now();
                let mut i = 0u64;
                while loading.load(Ordering::Relaxed) {
                    if let Some(r) = pace {
                        let due = Duration::from_secs_f64(i as f64 / r as f64);
                        let el = t0.elapsed();
                        if due > el {
                            std::thread::sleep(due - el);
                        }
                    }
                    if put_next(&master, &mut i) {
                        puts.store(i, Ordering::Relaxed);
                    }
                }
                master
                    .flush(Duration::from_secs(60))
                    .unwrap_or_else(|e| die(&format!("flush: {e}")));
                puts.store(i, Ordering::Relaxed);
            })
        };
        // Let the stream reach its pace before measuring.
        std::thread::sleep(Duration::from_millis(300));
        let t0 = Instant::now();
        let c0 = master.commits();
        let p0 = puts.load(Ordering::Relaxed);
        let (ok, times) = rtt_round(&p, n);
        loading.store(false, Ordering::Relaxed);
        let _ = writer.join();
        let secs = t0.elapsed().as_secs_f64();
        let done = puts.load(Ordering::Relaxed) - p0;
        let load = match (on_pinger, pace.is_some()) {
            (false, false) => "sqlite",
            (false, true) => "sqlite_paced",
            (true, false) => "sqlite_on_pinger",
            (true, true) => "sqlite_paced_on_pinger",
        };
        line(
            load,
            ok,
            &times,
            &format!(
                " puts={done} rate={:.0} commits={} storage_nice={storage_nice} storage_idle={}",
                done as f64 / secs,
                master.commits() - c0,
                storage_idle()
            ),
        );
        drop(master);
        if !on_pinger {
            svc.close(); // the pinger's store stays attached until P goes
        }
        for ext in ["", "-wal", "-shm"] {
            let mut f = path.clone().into_os_string();
            f.push(ext);
            let _ = std::fs::remove_file(f);
        }
    }
    drop(m_ep);
    stop.store(true, Ordering::Relaxed);
    let _ = echo.join();
    0
}

fn main() {
    std::thread::spawn(|| {
        std::thread::sleep(LIMIT);
        die("time limit reached");
    });
    let args: Vec<String> = std::env::args().skip(1).collect();
    let num = |x: &str| -> u64 {
        x.parse()
            .ok()
            .filter(|&n| n > 0)
            .unwrap_or_else(|| die(&format!("'{x}' is not a positive number")))
    };
    let rc = match args.as_slice() {
        [flag, n, backend, port] if flag == "--clone" => {
            let port = port.parse().unwrap_or_else(|_| die("bad port"));
            clone_main(num(n), backend, port)
        }
        [mode, n, dir] if mode == "rtt" => rtt_main(num(n), dir, None),
        [mode, n, dir, flag, b] if mode == "rtt" && flag == "--alternate" => {
            rtt_alternating(num(n), num(b), dir)
        }
        [mode, n, dir, flag, r] if mode == "rtt" && flag == "--puts-per-sec" => {
            rtt_main(num(n), dir, Some(num(r)))
        }
        [n, backend, dir] => master_main(num(n), backend, dir, JournalMode::Wal),
        [n, backend, dir, flag, tag] if flag == "--tag" => {
            // A label of its own (e.g. a larger N than Broker's runs), kept in the lines.
            let label = format!("{backend} size={tag}");
            master_main(num(n), &label, dir, JournalMode::Wal)
        }
        [n, backend, dir, flag, mode] if flag == "--journal" && mode == "delete" => {
            // The label travels to the clone process too, through its backend argument.
            let label = format!("{backend} journal=delete");
            master_main(num(n), &label, dir, JournalMode::Delete)
        }
        _ => die("usage: bench_store N memory|sqlite DIR [--journal delete | --tag T] | bench_store rtt N DIR [--puts-per-sec R | --alternate B]"),
    };
    std::process::exit(rc);
}
