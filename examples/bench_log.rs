//! Log throughput: records/s from a worker through a logger to disk.
//!
//!   cargo run --release --example bench_log -- [RECORDS] [--json] [--no-tls] [--dir DIR]
//!
//! A logger and a worker, each a real cluster node with its own endpoint, I/O thread and
//! loopback socket, in this one process. The worker writes RECORDS (default 1,000,000)
//! conn.log-like records of 20 columns (`Log::write` from the host thread, each record
//! built as the host would build it), which travel as LogWrite batches to the logger;
//! its log worker thread decodes them and writes `conn.log` (ASCII, or JSON with
//! `--json`). Time: from the first write until the logger has written the last record
//! (its counter, after the worker's flush; the file is flushed at close, outside the
//! timing but included in the file checks). Prints
//! `RESULT zcluster log format=ascii|json records=N secs=S records_per_sec=R bytes=B`.
//! The peering uses TLS (Broker's default, `Broker::disable_ssl=F`) unless `--no-tls`.
//! The uid (`C` and 17 hex digits) is written digit by digit, as a C host's `snprintf`
//! would make it cheaply (Rust's padded `format!` alone costs more than the library's
//! whole per-record encoding).

use std::sync::Arc;
use std::time::{Duration, Instant};
use zcluster::cluster::{Cluster, Options};
use zcluster::data::{Address, Port, Protocol, Value};
use zcluster::layout::Layout;
use zcluster::log::{LogField, LogStream, ZeekType};

#[path = "../tests/common/ports.rs"]
mod ports;
use ports::free_port;

fn stream() -> LogStream {
    use ZeekType::*;
    LogStream::new("Conn::LOG", "conn")
        .column("ts", Time)
        .column("uid", String)
        .record(
            "id",
            [
                LogField::new("orig_h", Addr),
                LogField::new("orig_p", Port),
                LogField::new("resp_h", Addr),
                LogField::new("resp_p", Port),
            ],
        )
        .column("proto", Enum)
        .optional_column("service", String)
        .optional_column("duration", Interval)
        .optional_column("orig_bytes", Count)
        .optional_column("resp_bytes", Count)
        .optional_column("conn_state", String)
        .optional_column("local_orig", Bool)
        .optional_column("local_resp", Bool)
        .optional_column("missed_bytes", Count)
        .optional_column("history", String)
        .optional_column("orig_pkts", Count)
        .optional_column("orig_ip_bytes", Count)
        .optional_column("resp_pkts", Count)
        .optional_column("resp_ip_bytes", Count)
}

fn uid(i: u64) -> Vec<u8> {
    let mut u = Vec::with_capacity(18);
    u.push(b'C');
    for k in (0..17).rev() {
        let nib = ((u128::from(i) >> (4 * k)) & 0xf) as usize;
        u.push(b"0123456789abcdef"[nib]);
    }
    u
}

fn record(i: u64) -> Vec<Value> {
    let a = |x: u32| Value::Address(Address::from_v4(std::net::Ipv4Addr::from(x)));
    vec![
        Value::Timestamp(1_700_000_000_000_000_000 + i as i64 * 1000),
        Value::String(uid(i)),
        a(0x0a00_0001 + (i as u32 & 0xffff)),
        Value::Port(Port {
            number: 1024 + (i % 60000) as u16,
            protocol: Protocol::Tcp,
        }),
        a(0xc0a8_0001),
        Value::Port(Port {
            number: 443,
            protocol: Protocol::Tcp,
        }),
        Value::Enum("tcp".into()),
        Value::string("ssl"),
        Value::Timespan(1_234_567_000),
        Value::Count(1234 + i % 100),
        Value::Count(56789),
        Value::string("SF"),
        Value::Bool(true),
        Value::Bool(false),
        Value::Count(0),
        Value::string("ShADadFf"),
        Value::Count(12),
        Value::Count(1800),
        Value::Count(10),
        Value::Count(57300),
    ]
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let json = args.iter().any(|a| a == "--json");
    let no_tls = args.iter().any(|a| a == "--no-tls");
    let n: u64 = args
        .iter()
        .find(|a| a.chars().all(|c| c.is_ascii_digit()))
        .map(|a| a.parse().unwrap())
        .unwrap_or(1_000_000);
    let dir = match args.iter().position(|a| a == "--dir") {
        Some(i) => std::path::PathBuf::from(&args[i + 1]),
        None => std::env::temp_dir().join(format!("zc-bench-log-{}", std::process::id())),
    };
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let text = format!(
        "redef Cluster::nodes = {{\n\t[\"logger-1\"] = [$node_type=Cluster::LOGGER, $ip=127.0.0.1, $p={}/tcp],\n\t[\"manager\"] = [$node_type=Cluster::MANAGER, $ip=127.0.0.1, $p={}/tcp],\n\t[\"worker-1\"] = [$node_type=Cluster::WORKER, $ip=127.0.0.1, $p={}/tcp, $manager=\"manager\"],\n}};\n",
        free_port(),
        free_port(),
        free_port()
    );
    let layout = Arc::new(Layout::parse(&text, None).unwrap());
    let mut o = Options::new();
    o.set("Cluster::retry_interval", "0.1 secs").unwrap();
    o.set("LogAscii::use_json", if json { "T" } else { "F" })
        .unwrap();
    if no_tls {
        o.set("Broker::disable_ssl", "T").unwrap();
    }
    assert_eq!(uid(0x1234), b"C00000000000001234".to_vec());
    let lg = Cluster::with_env(layout.clone(), Some("logger-1"), &o, None, None).unwrap();
    lg.start_in(Some(dir.clone())).unwrap();
    let w = Cluster::with_env(layout, Some("worker-1"), &o, None, None).unwrap();
    w.create_log_stream(stream()).unwrap();
    w.start().unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while !w
        .running()
        .unwrap()
        .nodes_up()
        .iter()
        .any(|n| n == "logger-1")
    {
        assert!(Instant::now() < deadline, "the logger did not come up");
        std::thread::sleep(Duration::from_millis(10));
    }
    let lr = lg.running().unwrap();
    let base = lr.log_stats().unwrap().records;
    let start = Instant::now();
    for i in 0..n {
        w.log_write("Conn::LOG", record(i)).unwrap();
    }
    w.running().unwrap().flush_log().unwrap();
    let sent = start.elapsed();
    while lr.log_stats().unwrap().records < base + n {
        std::thread::sleep(Duration::from_millis(1));
        assert!(
            start.elapsed() < Duration::from_secs(600),
            "{:?}",
            lr.log_stats()
        );
    }
    let secs = start.elapsed().as_secs_f64();
    let cpu = thread_cpu();
    let st = lr.log_stats().unwrap();
    drop(w);
    drop(lg);
    let path = dir.join("conn.log");
    let bytes = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    let text = std::fs::read_to_string(&path).unwrap();
    let lines = text.lines().filter(|l| !l.starts_with('#')).count() as u64;
    assert_eq!(lines, n, "conn.log holds {lines} records, expected {n}");
    assert_eq!(st.dropped_no_create + st.dropped_malformed, 0, "{st:?}");
    println!(
        "worker side done after {:.3} s (host writes + last flush)",
        sent.as_secs_f64()
    );
    println!(
        "RESULT zcluster log format={} tls={} records={n} secs={secs:.3} records_per_sec={:.0} bytes={bytes}",
        if json { "json" } else { "ascii" },
        !no_tls,
        n as f64 / secs
    );
    // CPU seconds per thread over the run (from /proc): on a busy machine the wall time
    // says little; the busiest thread's CPU time bounds what a quiet machine reaches.
    let mut by: std::collections::BTreeMap<String, f64> = Default::default();
    for (name, s) in cpu {
        let key = if name.starts_with("zc-ep-") {
            "zc-ep (I/O threads)".to_string()
        } else {
            name
        };
        *by.entry(key).or_default() += s;
    }
    let total: f64 = by.values().sum();
    let worst = by
        .iter()
        .filter(|(k, _)| !k.starts_with("zc-ep"))
        .map(|(_, v)| *v)
        .fold(0.0, f64::max);
    for (k, v) in &by {
        println!("cpu {k}: {v:.3} s");
    }
    println!(
        "RESULT zcluster log_cpu format={} records={n} cpu_secs_total={total:.3} ns_per_record_total={:.0} busiest_thread_records_per_sec={:.0}",
        if json { "json" } else { "ascii" },
        total * 1e9 / n as f64,
        n as f64 / worst
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// (thread name, user+system CPU seconds) of every thread of this process.
fn thread_cpu() -> Vec<(String, f64)> {
    let tick = 100.0; // USER_HZ on Linux
    let mut out = Vec::new();
    let Ok(rd) = std::fs::read_dir("/proc/self/task") else {
        return out;
    };
    for e in rd.flatten() {
        let Ok(stat) = std::fs::read_to_string(e.path().join("stat")) else {
            continue;
        };
        let (Some(l), Some(r)) = (stat.find('('), stat.rfind(')')) else {
            continue;
        };
        let name = stat[l + 1..r].to_string();
        let f: Vec<&str> = stat[r + 2..].split(' ').collect();
        // Fields after the name: state is [0]; utime and stime are fields 14 and 15 of
        // the whole line, [11] and [12] here.
        let ut: f64 = f.get(11).and_then(|x| x.parse().ok()).unwrap_or(0.0);
        let st: f64 = f.get(12).and_then(|x| x.parse().ok()).unwrap_or(0.0);
        out.push((name, (ut + st) / tick));
    }
    out
}
