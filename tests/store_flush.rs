//! SQLite commits on the storage thread, over real endpoints and files: a clone's
//! `flush` returns only once the master committed its writes (the file has them); while
//! a commit is stuck (another connection holds SQLite's write lock) the master's endpoint
//! keeps carrying events, the clone does not see the pending update and its flush times
//! out; once the lock goes, everything arrives. A clone without a master times out.

use std::time::{Duration, Instant};
use zcluster::data::Value;
use zcluster::endpoint::{Endpoint, EndpointOptions};
use zcluster::error::ErrorKind;
use zcluster::store::{BackendKind, BackendOptions, CloneConfig, Store};

const T: Duration = Duration::from_secs(15);

fn s(x: &str) -> Value {
    Value::String(x.as_bytes().to_vec())
}

fn tempdir(tag: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("zc-store-flush-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn fast_clone() -> CloneConfig {
    CloneConfig {
        resync_interval: 200_000_000,
        ..CloneConfig::default()
    }
}

fn rows(path: &std::path::Path) -> i64 {
    let c = rusqlite::Connection::open(path).unwrap();
    c.query_row("select count(*) from store", [], |r| r.get(0))
        .unwrap()
}

/// A master endpoint with a SQLite store and a peered clone endpoint.
fn pair(path: &std::path::Path) -> (Endpoint, Store, Endpoint, Store) {
    let a = Endpoint::new(EndpointOptions::default()).unwrap();
    let mut opts = BackendOptions::default();
    opts.set("path", path.to_str().unwrap()).unwrap();
    let m = a.attach_master("fl", BackendKind::Sqlite, &opts).unwrap();
    let port = a.listen("127.0.0.1", 0).unwrap();
    let b = Endpoint::new(EndpointOptions::default()).unwrap();
    let c = b.attach_clone("fl", fast_clone()).unwrap();
    b.peer("127.0.0.1", port, Duration::from_millis(100))
        .unwrap();
    let deadline = Instant::now() + T;
    while !c.connected() {
        assert!(Instant::now() < deadline, "clone never connected");
        std::thread::sleep(Duration::from_millis(10));
    }
    (a, m, b, c)
}

#[test]
fn clone_flush_returns_once_the_master_committed() {
    let d = tempdir("clone");
    let path = d.join("fl.sqlite");
    let (_a, m, _b, c) = pair(&path);
    for i in 0..2000u64 {
        c.put(Value::Count(i), Value::Count(i), None).unwrap();
    }
    c.flush(T).unwrap();
    assert_eq!(
        rows(&path),
        2000,
        "clone's flush returned before the commit"
    );
    for i in 2000..3000u64 {
        m.put(Value::Count(i), Value::Count(i), None).unwrap();
    }
    m.flush(T).unwrap();
    assert_eq!(rows(&path), 3000);
    assert!(m.commits() < 3000, "{} commits: not grouped", m.commits());
    // The clone sees the master's own writes (sent after they were committed).
    let deadline = Instant::now() + T;
    while c.get(&Value::Count(2999), T).ok() != Some(Value::Count(2999)) {
        assert!(Instant::now() < deadline);
        std::thread::sleep(Duration::from_millis(10));
    }
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn a_stuck_commit_holds_the_update_but_not_the_endpoint() {
    let d = tempdir("stuck");
    let path = d.join("fl.sqlite");
    let (a, m, b, c) = pair(&path);
    a.subscribe("ping/").unwrap();
    assert!(b.await_peer_subscription("ping/x", T));
    // Another process-like connection takes SQLite's write lock: the worker's next
    // commit waits for it (SQLite's busy timeout is 5 s).
    let blocker = rusqlite::Connection::open(&path).unwrap();
    blocker.execute_batch("BEGIN EXCLUSIVE").unwrap();
    c.put(s("k"), s("v"), None).unwrap();
    let deadline = Instant::now() + T;
    while m.get(&s("k"), T).is_err() {
        assert!(
            Instant::now() < deadline,
            "the write never reached the master"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    // The master's endpoint still carries events while its store's commit is stuck.
    for i in 0..20u64 {
        let t0 = Instant::now();
        b.publish_value("ping/x", &Value::Count(i)).unwrap();
        let msg = loop {
            let m = a
                .next(Some(Duration::from_secs(2)))
                .expect("event while the commit is stuck");
            if !m.is_status() {
                break m;
            }
        };
        assert_eq!(msg.value().unwrap(), Value::Count(i));
        assert!(t0.elapsed() < Duration::from_secs(1), "{:?}", t0.elapsed());
    }
    // Not durable: the clone's write is not acknowledged, and a write on the master is
    // not sent to the clone (the clone itself answers with its write in flight).
    m.put(s("m"), s("w"), None).unwrap();
    let e = c.flush(Duration::from_millis(300)).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Timeout, "{}", e.message);
    assert!(e.message.contains("not yet acknowledged"), "{}", e.message);
    assert_eq!(c.get(&s("m"), T).unwrap_err().kind, ErrorKind::NotFound);
    let e = m.flush(Duration::from_millis(100)).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Timeout, "{}", e.message);
    blocker.execute_batch("COMMIT").unwrap();
    c.flush(T).unwrap();
    m.flush(T).unwrap();
    assert_eq!(rows(&path), 2);
    let deadline = Instant::now() + T;
    while c.get(&s("m"), T).ok() != Some(s("w")) {
        assert!(Instant::now() < deadline, "update never reached the clone");
        std::thread::sleep(Duration::from_millis(5));
    }
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn flush_without_a_master_times_out_and_memory_flushes_at_once() {
    let b = Endpoint::new(EndpointOptions::default()).unwrap();
    let c = b.attach_clone("nomaster", fast_clone()).unwrap();
    c.put(s("k"), s("v"), None).unwrap();
    let e = c.flush(Duration::from_millis(150)).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Timeout, "{}", e.message);
    let m = b
        .attach_master("mem", BackendKind::Memory, &BackendOptions::default())
        .unwrap();
    m.put(s("k"), s("v"), None).unwrap();
    m.flush(Duration::ZERO).unwrap();
    b.close();
    assert_eq!(m.flush(T).unwrap_err().kind, ErrorKind::Closed);
    assert_eq!(c.flush(T).unwrap_err().kind, ErrorKind::Closed);
}

#[test]
fn a_failing_commit_is_an_error_and_a_problem_then_the_store_recovers() {
    let d = tempdir("busy");
    let path = d.join("fl.sqlite");
    let a = Endpoint::new(EndpointOptions::default()).unwrap();
    let mut opts = BackendOptions::default();
    opts.set("path", path.to_str().unwrap()).unwrap();
    let m = a.attach_master("fl", BackendKind::Sqlite, &opts).unwrap();
    m.put(s("before"), Value::Count(1), None).unwrap();
    m.flush(T).unwrap();
    // Held past SQLite's 5 s busy timeout: the worker's commit fails with SQLITE_BUSY.
    let blocker = rusqlite::Connection::open(&path).unwrap();
    blocker.execute_batch("BEGIN EXCLUSIVE").unwrap();
    m.put(s("k"), s("v"), None).unwrap();
    let e = m.flush(Duration::from_secs(20)).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Store, "{}", e.message);
    assert!(e.message.contains("locked"), "{}", e.message);
    // While the commit keeps failing new writes are refused with that error.
    let e = m.put(s("k2"), s("v"), None).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Store, "{}", e.message);
    let deadline = Instant::now() + T;
    let problems = loop {
        let p = m.take_problems();
        if !p.is_empty() {
            break p;
        }
        assert!(Instant::now() < deadline, "no problem reported");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(problems[0].message.contains("locked"), "{problems:?}");
    // The lock goes away: the retry commits the write that failed; new writes work.
    blocker.execute_batch("COMMIT").unwrap();
    m.flush(Duration::from_secs(20)).unwrap();
    m.put(s("k2"), s("v2"), None).unwrap();
    m.flush(T).unwrap();
    assert_eq!(rows(&path), 3);
    let _ = std::fs::remove_dir_all(&d);
}
