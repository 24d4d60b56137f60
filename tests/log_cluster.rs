//! Zeek logging across a cluster on loopback, each node a real endpoint with its own I/O
//! thread and sockets: a worker's custom stream with every column type reaches the
//! logger's file exactly as a local writer renders it; round robin between two loggers;
//! a logger stopped and restarted; records written while no logger is up arrive later;
//! rotation under load holds every record once; the rotation post-processor command;
//! the manager as the logger (`manager_is_logger`); a LogWrite without its LogCreate is
//! counted and reported.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use zcluster::cluster::{Cluster, Options};
use zcluster::data::{Address, Port, Protocol, Subnet, Value};
use zcluster::endpoint::{Endpoint, EndpointOptions, MessageKind};
use zcluster::layout::Layout;
use zcluster::log::{message, zeekser, LogField, LogFormat, LogStream, LogWriter, ZeekType};

const T: Duration = Duration::from_secs(20);

#[path = "common/ports.rs"]
mod ports;
use ports::free_port;

fn layout(loggers: usize) -> Arc<Layout> {
    let mut s = String::from("redef Cluster::nodes = {\n");
    for i in 1..=loggers {
        s += &format!(
            "\t[\"logger-{i}\"] = [$node_type=Cluster::LOGGER, $ip=127.0.0.1, $p={}/tcp],\n",
            free_port()
        );
    }
    s += &format!(
        "\t[\"manager\"] = [$node_type=Cluster::MANAGER, $ip=127.0.0.1, $p={}/tcp],\n",
        free_port()
    );
    s += &format!("\t[\"worker-1\"] = [$node_type=Cluster::WORKER, $ip=127.0.0.1, $p={}/tcp, $manager=\"manager\"],\n", free_port());
    s += "};\n";
    Arc::new(Layout::parse(&s, None).unwrap())
}

fn tmpdir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("zc-logc-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn node(layout: &Arc<Layout>, name: &str, dir: &Path, extra: &[(&str, &str)]) -> Cluster {
    let mut o = Options::new();
    o.set("Cluster::retry_interval", "0.1 secs").unwrap();
    o.set("Broker::log_batch_interval", "0.1 secs").unwrap();
    for (k, v) in extra {
        o.set(k, v).unwrap();
    }
    let cl = Cluster::with_env(layout.clone(), Some(name), &o, None, None).unwrap();
    cl.create_log_stream(stream()).unwrap();
    cl.start_in(Some(dir.to_path_buf())).unwrap();
    cl
}

fn stream() -> LogStream {
    use ZeekType::*;
    LogStream::new("MyProto::LOG", "myproto")
        .column("ts", Time)
        .column("seq", Count)
        .record(
            "id",
            [
                LogField::new("orig_h", Addr),
                LogField::new("orig_p", Port),
                LogField::new("resp_h", Addr),
                LogField::new("resp_p", Port),
            ],
        )
        .column("ok", Bool)
        .column("delta", Int)
        .column("ratio", Double)
        .column("dur", Interval)
        .column("name", String)
        .column("net", Subnet)
        .column("proto", Enum)
        .column("tags", Set(Box::new(String)))
        .column("sizes", Vector(Box::new(Count)))
        .optional_column("note", String)
}

fn record(seq: u64) -> Vec<Value> {
    let v4 = |s: &str| Value::Address(Address::from_v4(s.parse().unwrap()));
    vec![
        Value::Timestamp(1_700_000_000_000_000_000 + seq as i64 * 1_000_000),
        Value::Count(seq),
        v4("10.0.0.1"),
        Value::Port(Port {
            number: 40000 + (seq % 1000) as u16,
            protocol: Protocol::Tcp,
        }),
        Value::Address(Address(
            "2001:db8::7"
                .parse::<std::net::Ipv6Addr>()
                .unwrap()
                .octets(),
        )),
        Value::Port(Port {
            number: 53,
            protocol: Protocol::Udp,
        }),
        Value::Bool(seq % 2 == 0),
        Value::Integer(-(seq as i64)),
        Value::Real(seq as f64 / 8.0),
        Value::Timespan(1_500_000),
        Value::string(if seq % 3 == 0 { "tab\there" } else { "" }),
        Value::Subnet(Subnet::new(Address::from_v4("10.1.0.0".parse().unwrap()), 16).unwrap()),
        Value::Enum("tcp".into()),
        Value::Vector(if seq % 2 == 0 {
            vec![Value::string("b"), Value::string("a,c")]
        } else {
            vec![]
        }),
        Value::Vector(vec![Value::Count(seq), Value::Count(1)]),
        if seq % 5 == 0 {
            Value::None
        } else {
            Value::string("n")
        },
    ]
}

/// The data lines of every `<path>*.log` file in `dir` (sorted by name), without headers.
fn data_lines(dir: &Path, path: &str) -> Vec<String> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let n = p.file_name().unwrap().to_string_lossy().into_owned();
            n.starts_with(&format!("{path}.")) && n.ends_with(".log")
        })
        .collect();
    files.sort();
    let mut out = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        out.extend(
            text.lines()
                .filter(|l| !l.starts_with('#'))
                .map(String::from),
        );
    }
    out
}

fn seq_of(line: &str) -> u64 {
    line.split('\t').nth(1).unwrap().parse().unwrap()
}

fn wait_for(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + T;
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn wait_up(cl: &Cluster, name: &str) {
    wait_for(&format!("{} to see {name}", cl.node_name()), || {
        cl.running().unwrap().nodes_up().iter().any(|n| n == name)
    });
}

/// The lines a local writer gives for `recs` (what the logger must write).
fn expected_lines(recs: &[Vec<Value>], format: LogFormat) -> Vec<String> {
    let d = tmpdir(&format!("expect-{format:?}"));
    let mut w = LogWriter::new(&d, "myproto", stream().fields, format, None).unwrap();
    for r in recs {
        w.write(r).unwrap();
    }
    w.close().unwrap();
    data_lines(&d, "myproto")
}

#[test]
fn worker_stream_reaches_the_logger_as_a_local_writer_renders_it() {
    for format in [LogFormat::Ascii, LogFormat::Json] {
        let dir = tmpdir(&format!("every-{format:?}"));
        let l = layout(1);
        let json = if format == LogFormat::Json { "T" } else { "F" };
        let lg = node(&l, "logger-1", &dir, &[("LogAscii::use_json", json)]);
        let w = node(&l, "worker-1", &dir, &[]);
        wait_up(&w, "logger-1");
        let wr = w.running().unwrap();
        let recs: Vec<Vec<Value>> = (0..1000).map(record).collect();
        for r in &recs {
            w.log_write("MyProto::LOG", r.clone()).unwrap();
        }
        w.log("worker says hi").unwrap();
        wr.flush_log().unwrap();
        let lr = lg.running().unwrap();
        wait_for("1000 records on the logger", || {
            lr.log_stats().unwrap().records >= 1001
        });
        lr.flush_log().unwrap();
        let got = data_lines(&dir, "myproto");
        assert_eq!(got, expected_lines(&recs, format), "{format:?}");
        let st = lr.log_stats().unwrap();
        assert_eq!(st.dropped_no_create, 0, "{st:?}");
        assert_eq!(st.dropped_malformed, 0, "{st:?}");
        let ss = wr.log_send_stats();
        assert!(ss.batches >= 3, "400 per batch: {ss:?}");
        // cluster.log: the worker's Cluster::log record went through Cluster::LOG.
        wait_for("cluster.log record", || {
            data_lines(&dir, "cluster")
                .iter()
                .any(|l| l.contains("worker says hi"))
        });
        let cl_lines = data_lines(&dir, "cluster");
        let hi = cl_lines
            .iter()
            .find(|l| l.contains("worker says hi"))
            .unwrap();
        if format == LogFormat::Ascii {
            assert!(hi.contains("\tworker-1\tworker says hi"), "{hi}");
        } else {
            assert!(
                hi.contains("\"node\":\"worker-1\",\"message\":\"worker says hi\""),
                "{hi}"
            );
        }
        // Wrong records are errors naming the column, at the call.
        let mut bad = record(1);
        bad[1] = Value::string("x");
        let e = w.log_write("MyProto::LOG", bad).unwrap_err();
        assert!(e.message.contains("column \"seq\""), "{}", e.message);
        let mut bad = record(1);
        bad[0] = Value::None;
        let e = w.log_write("MyProto::LOG", bad).unwrap_err();
        assert!(
            e.message.contains("column \"ts\" is required"),
            "{}",
            e.message
        );
        assert!(w.log_write("Nope::LOG", record(1)).is_err());
        drop(w);
        drop(lg);
        let text = std::fs::read_to_string(dir.join("myproto.log")).unwrap();
        if format == LogFormat::Ascii {
            assert!(text.starts_with("#separator \\x09\n"), "{text:.80}");
            assert!(text.contains("#types\ttime\tcount\taddr\tport\taddr\tport\tbool\tint\tdouble\tinterval\tstring\tsubnet\tenum\tset[string]\tvector[count]\tstring\n"));
            assert!(text.lines().last().unwrap().starts_with("#close\t"));
        }
    }
}

#[test]
fn round_robin_between_two_loggers_holds_every_record_once() {
    let dir1 = tmpdir("rr1");
    let dir2 = tmpdir("rr2");
    let l = layout(2);
    let l1 = node(&l, "logger-1", &dir1, &[]);
    let l2 = node(&l, "logger-2", &dir2, &[]);
    let w = node(&l, "worker-1", &dir1, &[]);
    wait_up(&w, "logger-1");
    wait_up(&w, "logger-2");
    for s in 0..2000 {
        w.log_write("MyProto::LOG", record(s)).unwrap();
    }
    w.running().unwrap().flush_log().unwrap();
    let count = |c: &Cluster| c.running().unwrap().log_stats().unwrap().records;
    wait_for("2000 records over both loggers", || {
        // Each logger also writes its own cluster.log records.
        l1.running().unwrap().flush_log().unwrap();
        l2.running().unwrap().flush_log().unwrap();
        data_lines(&dir1, "myproto").len() + data_lines(&dir2, "myproto").len() >= 2000
    });
    let a = data_lines(&dir1, "myproto");
    let b = data_lines(&dir2, "myproto");
    // Round robin per record: each gets half.
    assert_eq!(a.len(), 1000, "logger-1 {} logger-2 {}", a.len(), b.len());
    assert_eq!(b.len(), 1000);
    let mut seqs: Vec<u64> = a.iter().chain(&b).map(|l| seq_of(l)).collect();
    seqs.sort();
    assert_eq!(seqs, (0..2000).collect::<Vec<_>>());
    assert!(count(&l1) >= 1000 && count(&l2) >= 1000);
}

#[test]
fn records_wait_for_a_logger_and_survive_its_restart() {
    let dir1 = tmpdir("restart1");
    let dir2 = tmpdir("restart2");
    let l = layout(1);
    // No logger yet: records are kept.
    let w = node(&l, "worker-1", &dir1, &[]);
    for s in 0..300 {
        w.log_write("MyProto::LOG", record(s)).unwrap();
    }
    let wr = w.running().unwrap();
    // The 300 records and the worker's own cluster.log record "listening on ...".
    assert_eq!(wr.log_buffered(), 301);
    let lg = node(&l, "logger-1", &dir1, &[]);
    wait_for("the buffered records on the logger", || {
        lg.running().unwrap().flush_log().unwrap();
        data_lines(&dir1, "myproto").len() == 300
    });
    assert_eq!(wr.log_buffered(), 0);
    // The logger goes away; what is written meanwhile waits and reaches the next one.
    drop(lg);
    wait_for("the worker to see the logger go", || {
        !wr.nodes_up().iter().any(|n| n == "logger-1")
    });
    for s in 300..600 {
        w.log_write("MyProto::LOG", record(s)).unwrap();
    }
    // The 300 records and the worker's own cluster.log record "node down: logger-1".
    assert_eq!(wr.log_buffered(), 301);
    let lg = node(&l, "logger-1", &dir2, &[]);
    wait_for("the second batch on the restarted logger", || {
        lg.running().unwrap().flush_log().unwrap();
        data_lines(&dir2, "myproto").len() == 300
    });
    let seqs: Vec<u64> = data_lines(&dir2, "myproto")
        .iter()
        .map(|l| seq_of(l))
        .collect();
    assert_eq!(seqs, (300..600).collect::<Vec<_>>());
    assert_eq!(wr.log_dropped(), 0);
    // The restarted logger had the LogCreate again (sent directly on peering).
    assert_eq!(
        lg.running().unwrap().log_stats().unwrap().dropped_no_create,
        0
    );
}

#[test]
fn rotation_under_load_holds_every_record_once_and_runs_the_post_processor() {
    let dir = tmpdir("rotate");
    let l = layout(1);
    let rotated = Arc::new(AtomicUsize::new(0));
    let names = Arc::new(parking_lot::Mutex::new(Vec::new()));
    let lg = {
        let mut o = Options::new();
        o.set("Cluster::retry_interval", "0.1 secs").unwrap();
        o.set("Log::default_rotation_interval", "1 sec").unwrap();
        o.set("Log::default_rotation_dir", "archive").unwrap();
        let cl = Cluster::with_env(l.clone(), Some("logger-1"), &o, None, None).unwrap();
        let (r, n) = (rotated.clone(), names.clone());
        cl.set_log_post_processor(Some(zcluster::log::PostProcessor::Callback(Arc::new(
            move |info| {
                r.fetch_add(1, Ordering::SeqCst);
                n.lock()
                    .push((info.path.clone(), info.fname.clone(), info.terminating));
            },
        ))));
        cl.start_in(Some(dir.clone())).unwrap();
        cl
    };
    let w = node(&l, "worker-1", &dir, &[]);
    wait_up(&w, "logger-1");
    let start = Instant::now();
    let mut s = 0u64;
    while start.elapsed() < Duration::from_millis(3500) {
        for _ in 0..100 {
            w.log_write("MyProto::LOG", record(s)).unwrap();
            s += 1;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    w.running().unwrap().flush_log().unwrap();
    wait_for("every record on the logger", || {
        lg.running().unwrap().log_stats().unwrap().records >= s
    });
    drop(w);
    drop(lg); // the final rotation
    let archive = dir.join("archive");
    let mut seqs: Vec<u64> = data_lines(&archive, "myproto")
        .iter()
        .map(|l| seq_of(l))
        .collect();
    let files = std::fs::read_dir(&archive)
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .starts_with("myproto.")
        })
        .count();
    assert!(files >= 3, "{files} rotated files");
    assert!(!dir.join("myproto.log").exists());
    seqs.sort();
    assert_eq!(seqs.len() as u64, s);
    assert_eq!(seqs, (0..s).collect::<Vec<_>>());
    let n = names.lock();
    let mine: Vec<_> = n.iter().filter(|(p, _, _)| p == "myproto").collect();
    assert_eq!(mine.len(), files);
    // The rotation at termination, if any (none when no record came after the last
    // timed rotation: the next file appears with the next record), is the last one.
    let term: Vec<usize> = (0..mine.len()).filter(|&i| mine[i].2).collect();
    assert!(term.is_empty() || term == vec![mine.len() - 1], "{mine:?}");
    let re =
        regex::Regex::new(r"^myproto\.\d{4}-\d{2}-\d{2}-\d{2}-\d{2}-\d{2}(-\d+)?\.log$").unwrap();
    for (_, f, _) in mine {
        assert!(
            re.is_match(&f.file_name().unwrap().to_string_lossy()),
            "{}",
            f.display()
        );
    }
    assert!(rotated.load(Ordering::SeqCst) >= files);
}

#[test]
fn a_log_write_without_its_log_create_is_counted_and_reported() {
    let dir = tmpdir("nocreate");
    let l = layout(1);
    let lg = node(&l, "logger-1", &dir, &[]);
    let port = lg.running().unwrap().bound_port().unwrap();
    let ep = Endpoint::new(EndpointOptions::default()).unwrap();
    ep.peer("127.0.0.1", port, Duration::from_millis(100))
        .unwrap();
    let deadline = Instant::now() + T;
    loop {
        assert!(Instant::now() < deadline);
        if let Some(m) = ep.next(Some(Duration::from_millis(100))) {
            if m.kind == MessageKind::PeerAdded {
                break;
            }
        }
    }
    assert!(ep.await_peer_subscription("zeek/logs/", T));
    let st = stream();
    let mut serial = Vec::new();
    zeekser::encode_record(&st.fields, &record(7), &mut serial).unwrap();
    let mut w = Vec::new();
    message::encode_log_write(
        "MyProto::LOG",
        message::WRITER_ASCII,
        "myproto",
        &serial,
        &mut w,
    )
    .unwrap();
    ep.publish("zeek/logs/MyProto::LOG", w.clone()).unwrap();
    let lr = lg.running().unwrap();
    wait_for("the drop to be counted", || {
        lr.log_stats().unwrap().dropped_no_create == 1
    });
    let why = lr.log_stats().unwrap().last_drop.unwrap();
    assert!(
        why.contains("without a LogCreate") && why.contains("myproto"),
        "{why}"
    );
    // With its LogCreate first, the same LogWrite is written.
    let c = message::encode_log_create(
        "MyProto::LOG",
        message::WRITER_ASCII,
        &message::WriterInfo::new("myproto", 0.0),
        &st.fields,
    )
    .unwrap();
    ep.publish("zeek/logs/MyProto::LOG", c).unwrap();
    ep.publish("zeek/logs/MyProto::LOG", w).unwrap();
    // A well-formed Broker value that is no valid LogWrite is counted too.
    let junk = zcluster::data::bin::encode_to_vec(&Value::Vector(vec![
        Value::Count(1),
        Value::Count(3),
        Value::Vector(vec![Value::Count(5)]),
    ]));
    ep.publish("zeek/logs/MyProto::LOG", junk).unwrap();
    wait_for("the record", || {
        lr.flush_log().unwrap();
        data_lines(&dir, "myproto").len() == 1
    });
    wait_for("the malformed message", || {
        lr.log_stats().unwrap().malformed_messages == 1
    });
    assert_eq!(seq_of(&data_lines(&dir, "myproto")[0]), 7);
}

#[test]
fn without_loggers_the_manager_writes_the_logs_when_manager_is_logger() {
    let dir = tmpdir("mgrlog");
    let l = layout(0);
    // Cluster::manager_is_logger is T by default, as in Zeek.
    let m = node(&l, "manager", &dir, &[]);
    let w = node(&l, "worker-1", &dir.join("w"), &[]);
    wait_up(&w, "manager");
    for s in 0..50 {
        w.log_write("MyProto::LOG", record(s)).unwrap();
    }
    w.running().unwrap().flush_log().unwrap();
    wait_for("the records in the manager's myproto.log", || {
        m.running().unwrap().flush_log().unwrap();
        data_lines(&dir, "myproto").len() == 50
    });
    let seqs: Vec<u64> = data_lines(&dir, "myproto")
        .iter()
        .map(|l| seq_of(l))
        .collect();
    assert_eq!(seqs, (0..50).collect::<Vec<_>>());
    assert!(!dir.join("w").join("myproto.log").exists());
}

#[test]
fn the_rotation_post_processor_command_runs_on_every_rotated_file() {
    let dir = tmpdir("ppcmd");
    let l = layout(1);
    let out = dir.join("pp.txt");
    // Run through /bin/sh -c as `<cmd> <file> <path> <open> <close> <terminating> ascii`.
    let cmd = format!("echo >>'{}'", out.display());
    let lg = node(
        &l,
        "logger-1",
        &dir,
        &[
            ("Log::default_rotation_interval", "1 sec"),
            ("Log::default_rotation_postprocessor_cmd", &cmd),
        ],
    );
    let w = node(&l, "worker-1", &dir.join("w"), &[]);
    wait_up(&w, "logger-1");
    let start = Instant::now();
    let mut s = 0;
    while start.elapsed() < Duration::from_millis(2500) {
        w.log_write("MyProto::LOG", record(s)).unwrap();
        s += 1;
        std::thread::sleep(Duration::from_millis(10));
    }
    w.running().unwrap().flush_log().unwrap();
    wait_for("every record on the logger", || {
        lg.running().unwrap().log_stats().unwrap().records >= s
    });
    drop(w);
    drop(lg); // the final rotation, terminating
    let re = regex::Regex::new(
        r"^(\S+) (myproto|cluster) \d{2}-\d{2}-\d{2}_\d{2}\.\d{2}\.\d{2} \d{2}-\d{2}-\d{2}_\d{2}\.\d{2}\.\d{2} ([01]) ascii$",
    )
    .unwrap();
    let mut lines = Vec::new();
    wait_for("the post-processor's lines", || {
        lines = std::fs::read_to_string(&out)
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect();
        lines.iter().filter(|l| l.contains(" myproto ")).count() >= 2
            && lines.iter().any(|l| l.ends_with(" 1 ascii"))
    });
    let mut total = 0;
    for l in &lines {
        let c = re.captures(l).unwrap_or_else(|| panic!("{l:?}"));
        let f = Path::new(&c[1]);
        assert!(f.exists(), "{l}");
        if &c[2] == "myproto" {
            total += std::fs::read_to_string(f)
                .unwrap()
                .lines()
                .filter(|x| !x.starts_with('#'))
                .count();
        }
    }
    // The rotated files the command saw hold every record.
    assert_eq!(total as u64, s);
}
