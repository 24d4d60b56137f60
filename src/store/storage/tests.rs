//! The storage worker over real SQLite files: group commit, read-your-writes, the master
//! holding back what a write sends until the write is durable, and commit failures.

use super::*;
use crate::store::{
    ChannelConfig, CloneConfig, EntityId, Master, SqliteOptions, StoreClone, TICK_INTERVAL_NS,
};

const SEC: i64 = 1_000_000_000;

fn s(x: &str) -> Value {
    Value::String(x.as_bytes().to_vec())
}

fn dir(tag: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("zc-storage-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn worker(path: &std::path::Path) -> WorkerBackend {
    WorkerBackend::start(SqliteBackend::open(path, &SqliteOptions::default()).unwrap()).unwrap()
}

#[test]
fn group_commit_puts_are_durable_after_wait_and_share_transactions() {
    let d = dir("group");
    let p = d.join("g.sqlite");
    let n = 5_000u64;
    {
        let mut w = worker(&p);
        for i in 0..n {
            w.put(&Value::Count(i), &s(&format!("v{i}")), None).unwrap();
            // Read-your-writes: the in-memory copy answers before the commit.
            assert_eq!(w.get(&Value::Count(i)).unwrap(), Some(s(&format!("v{i}"))));
        }
        assert!(w.erase(&Value::Count(0)).unwrap());
        assert!(
            !w.erase(&Value::Count(0)).unwrap(),
            "already gone: no write queued"
        );
        let sh = w.durability();
        let target = sh.written();
        assert_eq!(target, n + 1);
        sh.wait_durable(target, Some(Instant::now() + Duration::from_secs(30)))
            .unwrap();
        assert_eq!(w.durable_seq(), target);
        let commits = sh.commits();
        assert!(
            commits >= 1 && commits < n / 10,
            "{commits} commits for {n} puts"
        );
        // While the worker still runs, a second connection sees every committed row.
        let other = SqliteBackend::open(&p, &SqliteOptions::default()).unwrap();
        assert_eq!(other.size().unwrap(), n - 1);
    }
    // Reopened after close: everything there, and loaded into a new worker's memory.
    let w = worker(&p);
    assert_eq!(w.size().unwrap(), n - 1);
    assert_eq!(
        w.get(&Value::Count(n - 1)).unwrap(),
        Some(s(&format!("v{}", n - 1)))
    );
    assert_eq!(w.get(&Value::Count(0)).unwrap(), None);
}

#[test]
fn close_commits_what_is_queued() {
    let d = dir("close");
    let p = d.join("c.sqlite");
    {
        let mut w = worker(&p);
        for i in 0..1000u64 {
            w.put(&Value::Count(i), &Value::Count(i), Some(i64::MAX))
                .unwrap();
        }
        w.clear().unwrap();
        w.put(&s("last"), &s("x"), None).unwrap();
    } // dropped without waiting
    let b = SqliteBackend::open(&p, &SqliteOptions::default()).unwrap();
    assert_eq!(b.size().unwrap(), 1);
    assert_eq!(b.get(&s("last")).unwrap(), Some(s("x")));
}

#[test]
fn expiry_erases_reach_the_file() {
    let d = dir("expire");
    let p = d.join("e.sqlite");
    {
        let mut w = worker(&p);
        w.put(&s("old"), &s("x"), Some(100)).unwrap();
        w.put(&s("new"), &s("y"), Some(10_000)).unwrap();
        assert_eq!(w.expire_due(5_000).unwrap(), vec![s("old")]);
        assert_eq!(w.expiries().unwrap(), vec![(s("new"), 10_000)]);
    }
    let w = worker(&p);
    assert_eq!(w.get(&s("old")).unwrap(), None);
    assert_eq!(w.expiries().unwrap(), vec![(s("new"), 10_000)]);
}

#[test]
fn a_failing_commit_is_reported_refuses_new_writes_and_never_panics() {
    let d = dir("full");
    let p = d.join("f.sqlite");
    let db = SqliteBackend::open(&p, &SqliteOptions::default()).unwrap();
    // A database that cannot grow: SQLite's own "database or disk is full".
    let pages: i64 = db
        .conn()
        .query_row("PRAGMA page_count", [], |r| r.get(0))
        .unwrap();
    db.conn()
        .query_row(&format!("PRAGMA max_page_count={}", pages + 2), [], |r| {
            r.get::<_, i64>(0)
        })
        .unwrap();
    let mut w = WorkerBackend::start(db).unwrap();
    let sh = w.durability();
    let big = Value::String(vec![b'x'; 64 * 1024]);
    let mut refused = None;
    for i in 0..200u64 {
        match w.put(&Value::Count(i), &big, None) {
            Ok(()) => {}
            Err(e) => {
                refused = Some(e);
                break;
            }
        }
        if sh
            .wait_durable(sh.written(), Some(Instant::now() + Duration::from_secs(10)))
            .is_err()
        {
            break;
        }
    }
    let e = match refused {
        Some(e) => e,
        None => sh
            .wait_durable(sh.written(), Some(Instant::now() + Duration::from_secs(10)))
            .unwrap_err(),
    };
    assert_eq!(e.kind, ErrorKind::Store, "{}", e.message);
    assert!(e.message.contains("full"), "{}", e.message);
    // New writes are refused with the error while the commit keeps failing.
    let e2 = w.put(&s("more"), &s("x"), None).unwrap_err();
    assert_eq!(e2.kind, ErrorKind::Store, "{}", e2.message);
    assert_eq!(
        w.get(&s("more")).unwrap(),
        None,
        "a refused write is not applied"
    );
    let errs = sh.take_errors();
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert!(sh.durable() < sh.written());
    drop(w); // one more try, then gives up: no hang, no panic
}

/// Moves commands between a master and a clone until neither has anything to say.
fn exchange(m: &mut Master, c: &mut StoreClone, now: i64) {
    for _ in 0..50 {
        let to_clone = m.take_outgoing();
        let to_master = c.take_outgoing();
        if to_clone.is_empty() && to_master.is_empty() {
            return;
        }
        for o in to_clone {
            let cmd =
                crate::store::InternalCommand::decode(&o.command.to_bytes().unwrap()).unwrap();
            c.handle_command(cmd, now);
        }
        for o in to_master {
            let cmd =
                crate::store::InternalCommand::decode(&o.command.to_bytes().unwrap()).unwrap();
            m.handle_command(cmd, now);
        }
    }
}

#[test]
fn master_sends_an_update_only_once_it_is_durable() {
    let d = dir("gate");
    let p = d.join("m.sqlite");
    let ep = |n: u8| {
        let mut e = [0u8; 16];
        e[0] = n;
        e
    };
    let mut m = Master::new(
        "s",
        EntityId::new(ep(1), 1),
        Box::new(worker(&p)),
        ChannelConfig::default(),
    )
    .unwrap();
    let mut now = 1_700_000_000 * SEC;
    let cfg = CloneConfig {
        resync_interval: SEC,
        stale_interval: 30 * SEC,
        mutation_buffer_interval: 20 * SEC,
        tick_interval: TICK_INTERVAL_NS,
        channel: ChannelConfig::default(),
    };
    let mut c = StoreClone::new("s", EntityId::new(ep(2), 1), cfg, now);
    for _ in 0..20 {
        now += TICK_INTERVAL_NS;
        c.tick(now);
        m.tick(now);
        exchange(&mut m, &mut c, now);
    }
    assert!(
        matches!(c.status(), crate::store::CloneStatus::Connected { .. }),
        "{:?}",
        c.status()
    );
    // Another connection holds the write lock: the worker's commit waits for it.
    let blocker = rusqlite::Connection::open(&p).unwrap();
    blocker.execute_batch("BEGIN EXCLUSIVE").unwrap();
    m.put(s("k"), s("v"), None, now).unwrap();
    assert_eq!(
        m.get(&s("k")).unwrap(),
        s("v"),
        "read-your-writes on the master"
    );
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        m.take_outgoing().is_empty(),
        "update left before its commit"
    );
    assert!(m.held_outgoing() > 0);
    blocker.execute_batch("COMMIT").unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut out = Vec::new();
    while out.is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
        out = m.take_outgoing();
    }
    assert!(
        out.iter().any(|o| matches!(&o.command.content, crate::store::Command::Put { key, .. } if *key == s("k"))),
        "{out:?}"
    );
    for o in out {
        let cmd = crate::store::InternalCommand::decode(&o.command.to_bytes().unwrap()).unwrap();
        c.handle_command(cmd, now);
    }
    assert_eq!(c.get(&s("k"), now).unwrap(), s("v"));
    // The file already has it.
    let other = SqliteBackend::open(&p, &SqliteOptions::default()).unwrap();
    assert_eq!(other.get(&s("k")).unwrap(), Some(s("v")));
}

/// The niceness and scheduling policy of this process's thread named `name` (from /proc),
/// if one runs.
fn sched_of_thread(name: &str) -> Option<(i64, i64)> {
    for t in std::fs::read_dir("/proc/self/task").ok()?.flatten() {
        let comm = std::fs::read_to_string(t.path().join("comm")).unwrap_or_default();
        if comm.trim_end() == name {
            let stat = std::fs::read_to_string(t.path().join("stat")).ok()?;
            let rest = &stat[stat.rfind(')')? + 2..];
            let field = |i: usize| rest.split(' ').nth(i)?.parse().ok();
            // Fields 19 (nice) and 41 (policy), 1-based.
            return Some((field(16)?, field(38)?));
        }
    }
    None
}

fn nice_of_thread(name: &str) -> Option<i64> {
    sched_of_thread(name).map(|(n, _)| n)
}

#[test]
fn the_storage_thread_runs_at_the_configured_lower_priority() {
    let d = dir("nice");
    let base = nice_of_thread(
        std::thread::current()
            .name()
            .unwrap_or_default()
            .chars()
            .take(15)
            .collect::<String>()
            .as_str(),
    )
    .unwrap_or(0);
    // (file, nice, idle, the niceness and policy wanted: SCHED_IDLE by default).
    for (file, nice, idle, want, policy) in [
        ("nicedefault", None, true, 10, libc::SCHED_IDLE),
        ("nicezero", Some(0u8), true, 0, libc::SCHED_IDLE),
        ("nicemax", Some(19), false, 19, libc::SCHED_OTHER),
        ("nicenotidle", None, false, 10, libc::SCHED_OTHER),
    ] {
        let mut o = SqliteOptions::default();
        if let Some(n) = nice {
            o.storage_nice = n;
        }
        o.storage_idle = idle;
        let w = WorkerBackend::start(
            SqliteBackend::open(d.join(format!("{file}.sqlite")), &o).unwrap(),
        )
        .unwrap();
        let name = format!("zc-store-{file}");
        let name: String = name.chars().take(15).collect();
        // The thread lowers itself first thing; wait for it (bounded).
        let want = Some(((base + want).min(19), i64::from(policy)));
        let mut got = None;
        for _ in 0..500 {
            got = sched_of_thread(&name);
            if got == want {
                break;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        assert_eq!(got, want, "{name}: (nice, policy)");
        drop(w);
        assert_eq!(nice_of_thread(&name), None, "{name} ended with its store");
    }
}
