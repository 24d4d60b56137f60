//! Master and clones talking through an in-memory bus that carries every command as
//! Broker bytes (encode, then decode), with loss, duplication, reordering and partitions.

use super::*;
use crate::error::ErrorKind;
use std::collections::{BTreeMap, BTreeSet};

const TICK: i64 = TICK_INTERVAL_NS;
const SEC: i64 = 1_000_000_000;

fn s(x: &str) -> Value {
    Value::String(x.as_bytes().to_vec())
}

fn ep(n: u8) -> [u8; 16] {
    let mut e = [0u8; 16];
    e[0] = n;
    e[15] = 0x42;
    e
}

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn chance(&mut self, p: u64) -> bool {
        self.next() % 100 < p
    }
}

fn fast_channel() -> ChannelConfig {
    // Heartbeat every 5 ticks, peers time out after 4 missed heartbeats (2 s).
    ChannelConfig {
        heartbeat_interval: 5,
        nack_timeout: 2,
        connection_timeout_factor: 4,
    }
}

struct Bus {
    now: i64,
    master: Option<Master>,
    clones: Vec<StoreClone>,
    /// Clone indices cut off from the master (both directions).
    partitioned: BTreeSet<usize>,
    drop: u64,
    dup: u64,
    rng: Rng,
    in_flight: Vec<(Option<usize>, Outgoing)>, // None = from master
    bytes_carried: usize,
}

impl Bus {
    fn new(master: Master, n_clones: usize, cfg: CloneConfig) -> Self {
        let now = 1_700_000_000 * SEC;
        let clones = (0..n_clones)
            .map(|i| StoreClone::new("s", EntityId::new(ep(10 + i as u8), 1), cfg, now))
            .collect();
        Bus {
            now,
            master: Some(master),
            clones,
            partitioned: BTreeSet::new(),
            drop: 0,
            dup: 0,
            rng: Rng(0x9e3779b97f4a7c15),
            in_flight: Vec::new(),
            bytes_carried: 0,
        }
    }

    fn master(&mut self) -> &mut Master {
        self.master.as_mut().unwrap()
    }

    fn collect(&mut self) {
        if let Some(m) = self.master.as_mut() {
            for o in m.take_outgoing() {
                self.in_flight.push((None, o));
            }
        }
        for (i, c) in self.clones.iter_mut().enumerate() {
            for o in c.take_outgoing() {
                self.in_flight.push((Some(i), o));
            }
        }
    }

    fn deliver_all(&mut self) {
        for _ in 0..50 {
            self.collect();
            if self.in_flight.is_empty() {
                return;
            }
            let mut msgs = std::mem::take(&mut self.in_flight);
            while !msgs.is_empty() {
                let idx = (self.rng.next() % msgs.len() as u64) as usize;
                let (from, o) = msgs.swap_remove(idx);
                if self.rng.chance(self.drop) {
                    continue;
                }
                let times = if self.rng.chance(self.dup) { 2 } else { 1 };
                for _ in 0..times {
                    self.route(from, &o);
                }
            }
        }
    }

    fn route(&mut self, from: Option<usize>, o: &Outgoing) {
        let bytes = o.command.to_bytes().unwrap();
        self.bytes_carried += bytes.len();
        let cmd = InternalCommand::decode(&bytes).unwrap();
        assert_eq!(cmd, o.command);
        let now = self.now;
        if o.topic == master_topic("s") {
            let Some(i) = from else {
                panic!("master sent to its own topic")
            };
            if self.partitioned.contains(&i) {
                return;
            }
            if let Some(m) = self.master.as_mut() {
                if o.unicast.is_none_or(|u| u == m.id().endpoint) {
                    m.handle_command(cmd, now);
                }
            }
        } else {
            assert_eq!(o.topic, clone_topic("s"));
            assert!(from.is_none(), "clones never publish to the clone topic");
            for (i, c) in self.clones.iter_mut().enumerate() {
                if self.partitioned.contains(&i) {
                    continue;
                }
                if o.unicast.is_none_or(|u| u == c.id().endpoint) {
                    c.handle_command(cmd.clone(), now);
                }
            }
        }
    }

    fn tick(&mut self, n: usize) {
        for _ in 0..n {
            self.now += TICK;
            let now = self.now;
            if let Some(m) = self.master.as_mut() {
                m.tick(now);
            }
            for c in &mut self.clones {
                c.tick(now);
            }
            self.deliver_all();
        }
    }

    fn settle(&mut self) {
        let saved = (self.drop, self.dup);
        self.drop = 0;
        self.dup = 0;
        for _ in 0..200 {
            self.tick(1);
            if self.master.as_ref().is_some_and(|m| m.idle())
                && self
                    .clones
                    .iter()
                    .enumerate()
                    .all(|(i, c)| self.partitioned.contains(&i) || c.idle())
            {
                break;
            }
        }
        self.tick(2);
        (self.drop, self.dup) = saved;
    }

    fn snapshot_of_clone(&self, i: usize) -> BTreeMap<Value, Value> {
        let c = &self.clones[i];
        c.keys(self.now)
            .unwrap()
            .into_iter()
            .map(|k| (k.clone(), c.get(&k, self.now).unwrap()))
            .collect()
    }

    fn master_snapshot(&self) -> BTreeMap<Value, Value> {
        let m = self.master.as_ref().unwrap();
        m.keys()
            .unwrap()
            .into_iter()
            .map(|k| (k.clone(), m.get(&k).unwrap()))
            .collect()
    }

    fn assert_converged(&self) {
        let want = self.master_snapshot();
        for i in 0..self.clones.len() {
            assert_eq!(
                self.snapshot_of_clone(i),
                want,
                "clone {i} differs from the master"
            );
        }
    }
}

fn memory_master(id: u8) -> Master {
    Master::new(
        "s",
        EntityId::new(ep(id), 1),
        Box::new(MemoryBackend::new()),
        fast_channel(),
    )
    .unwrap()
}

fn clone_cfg() -> CloneConfig {
    CloneConfig {
        resync_interval: SEC,
        stale_interval: 30 * SEC,
        mutation_buffer_interval: 20 * SEC,
        tick_interval: TICK,
        channel: fast_channel(),
    }
}

#[test]
fn master_local_operations_with_brokers_semantics() {
    for sqlite in [false, true] {
        let dir =
            std::env::temp_dir().join(format!("zc-store-master-{}-{sqlite}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let backend: Box<dyn Backend> = if sqlite {
            Box::new(SqliteBackend::open(dir.join("m.sqlite"), &SqliteOptions::default()).unwrap())
        } else {
            Box::new(MemoryBackend::new())
        };
        let mut m = Master::new(
            "s",
            EntityId::new(ep(1), 1),
            backend,
            ChannelConfig::default(),
        )
        .unwrap();
        let now = 1_000 * SEC;
        m.put(s("a"), Value::Count(1), None, now).unwrap();
        assert_eq!(
            m.increment(s("a"), Value::Count(4), None, now).unwrap(),
            Value::Count(5)
        );
        assert_eq!(
            m.decrement(s("a"), Value::Count(2), None, now).unwrap(),
            Value::Count(3)
        );
        assert_eq!(
            m.increment(s("new"), Value::Integer(-2), None, now)
                .unwrap(),
            Value::Integer(-2),
            "missing key starts at zero"
        );
        assert_eq!(
            m.increment(s("ts"), Value::Timespan(5), None, now).unwrap(),
            Value::Timestamp(5),
            "Broker: timespan starts a timestamp"
        );
        let e = m
            .decrement(s("missing"), Value::Count(1), None, now)
            .unwrap_err();
        assert_eq!(e.kind, ErrorKind::NotFound);
        m.put(s("str"), s("ab"), None, now).unwrap();
        let e = m
            .increment(s("str"), Value::Count(1), None, now)
            .unwrap_err();
        assert_eq!(e.kind, ErrorKind::Type, "{}", e.message);
        assert_eq!(
            m.get(&s("str")).unwrap(),
            s("ab"),
            "failed op changed nothing"
        );
        assert_eq!(m.append(s("str"), s("cd"), None, now).unwrap(), s("abcd"));
        assert_eq!(
            m.insert_into(s("set"), Value::Count(1), None, None, now)
                .unwrap(),
            Value::Set([Value::Count(1)].into_iter().collect())
        );
        assert_eq!(
            m.get_index(&s("set"), &Value::Count(1)).unwrap(),
            Value::Bool(true)
        );
        m.remove_from(s("set"), Value::Count(1), None, now).unwrap();
        assert_eq!(
            m.get_index(&s("set"), &Value::Count(1)).unwrap(),
            Value::Bool(false)
        );
        m.insert_into(s("tbl"), s("k"), Some(Value::Count(7)), None, now)
            .unwrap();
        assert_eq!(m.get_index(&s("tbl"), &s("k")).unwrap(), Value::Count(7));
        m.push(s("vec"), s("x"), None, now).unwrap();
        m.push(s("vec"), s("y"), None, now).unwrap();
        assert_eq!(
            m.pop(s("vec"), None, now).unwrap(),
            Value::Vector(vec![s("x")])
        );
        assert_eq!(m.get_index(&s("vec"), &Value::Count(0)).unwrap(), s("x"));
        assert!(m.put_unique(s("u"), Value::Bool(true), None, now).unwrap());
        assert!(!m.put_unique(s("u"), Value::Bool(false), None, now).unwrap());
        assert_eq!(m.get(&s("u")).unwrap(), Value::Bool(true));
        assert!(m.exists(&s("u")).unwrap());
        m.erase(s("u"), now).unwrap();
        assert_eq!(m.get(&s("u")).unwrap_err().kind, ErrorKind::NotFound);
        // Expiry: relative on the API, removed at the first tick after it passed.
        m.put(s("e"), Value::Count(1), Some(SEC), now).unwrap();
        m.tick(now + SEC);
        assert!(m.exists(&s("e")).unwrap(), "not before its time");
        m.tick(now + SEC + 1);
        assert!(!m.exists(&s("e")).unwrap());
        assert!(m
            .take_events()
            .iter()
            .any(|e| matches!(e, StoreEvent::Expire { key, .. } if *key == s("e"))));
        // A later write without expiry clears the expiry.
        m.put(s("e2"), Value::Count(1), Some(SEC), now).unwrap();
        m.put(s("e2"), Value::Count(2), None, now).unwrap();
        m.tick(now + 5 * SEC);
        assert!(m.exists(&s("e2")).unwrap());
        m.clear(now).unwrap();
        assert_eq!(m.size().unwrap(), 0);
        std::fs::remove_dir_all(&dir).ok();
    }
}

#[test]
fn clones_converge_after_writes_from_everyone_over_a_lossy_network() {
    for seed in [1u64, 2, 3] {
        let mut bus = Bus::new(memory_master(1), 2, clone_cfg());
        bus.rng = Rng(seed.wrapping_mul(0x2545F4914F6CDD1D));
        let now = bus.now;
        bus.master()
            .put(s("before"), Value::Count(0), None, now)
            .unwrap();
        bus.settle();
        assert!(matches!(
            bus.clones[0].status(),
            CloneStatus::Connected { .. }
        ));
        bus.assert_converged();
        bus.drop = 20;
        bus.dup = 10;
        for round in 0..40u64 {
            let now = bus.now;
            match round % 4 {
                0 => bus
                    .master()
                    .put(s(&format!("m{round}")), Value::Count(round), None, now)
                    .unwrap(),
                1 => bus.clones[0]
                    .put(s(&format!("c0-{round}")), Value::Count(round), None, now)
                    .unwrap(),
                2 => bus.clones[1]
                    .increment(s("counter"), Value::Count(1), None, now)
                    .unwrap(),
                _ => bus.clones[0]
                    .insert_into(s("set"), Value::Count(round), None, None, now)
                    .unwrap(),
            }
            bus.tick(1);
        }
        bus.settle();
        bus.assert_converged();
        let m = bus.master.as_ref().unwrap();
        assert_eq!(
            m.get(&s("counter")).unwrap(),
            Value::Count(10),
            "every increment applied exactly once (seed {seed})"
        );
        assert_eq!(m.keys().unwrap().len(), 1 + 10 + 10 + 1 + 1);
        assert!(bus.bytes_carried > 0);
    }
}

#[test]
fn expiry_is_observed_on_master_and_clones() {
    let mut bus = Bus::new(memory_master(1), 2, clone_cfg());
    bus.settle();
    let now = bus.now;
    bus.clones[1]
        .put(s("short"), Value::Count(1), Some(2 * SEC), now)
        .unwrap();
    bus.clones[1]
        .put(s("long"), Value::Count(1), Some(60 * SEC), now)
        .unwrap();
    bus.tick(3);
    assert!(bus.clones[0].exists(&s("short"), bus.now).unwrap());
    bus.tick(20);
    for c in &mut bus.clones {
        assert!(!c.exists(&s("short"), bus.now).unwrap());
        assert!(c.exists(&s("long"), bus.now).unwrap());
        assert!(c
            .take_events()
            .iter()
            .any(|e| matches!(e, StoreEvent::Expire { key, .. } if *key == s("short"))));
    }
    assert!(!bus.master().exists(&s("short")).unwrap());
}

#[test]
fn put_unique_from_a_clone_gets_the_masters_answer() {
    let mut bus = Bus::new(memory_master(1), 2, clone_cfg());
    bus.settle();
    let now = bus.now;
    let a = bus.clones[0]
        .put_unique(s("k"), Value::Count(1), None, now)
        .unwrap();
    bus.tick(1);
    let now = bus.now;
    let b = bus.clones[1]
        .put_unique(s("k"), Value::Count(2), None, now)
        .unwrap();
    bus.settle();
    assert_eq!(bus.clones[0].take_put_unique_result(a), Some(true));
    assert_eq!(bus.clones[1].take_put_unique_result(b), Some(false));
    assert_eq!(
        bus.clones[1].get(&s("k"), bus.now).unwrap(),
        Value::Count(1)
    );
}

#[test]
fn clone_reports_type_errors_at_once() {
    let mut bus = Bus::new(memory_master(1), 1, clone_cfg());
    let now = bus.now;
    bus.master().put(s("str"), s("x"), None, now).unwrap();
    bus.settle();
    let now = bus.now;
    let e = bus.clones[0]
        .increment(s("str"), Value::Count(1), None, now)
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Type);
    assert!(
        e.message.contains("count") && e.message.contains("string"),
        "{}",
        e.message
    );
    let e = bus.clones[0]
        .decrement(s("none"), Value::Count(1), None, now)
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::NotFound);
    let e = bus.clones[0]
        .insert_into(s("str"), s("k"), Some(s("v")), None, now)
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Type);
    let e = bus.clones[0]
        .add(s("new"), s("x"), 0, None, now)
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Type);
}

#[test]
fn a_local_write_on_the_master_goes_out_at_once_not_at_the_next_tick() {
    let mut bus = Bus::new(memory_master(1), 1, clone_cfg());
    bus.settle();
    let now = bus.now;
    bus.master()
        .put(s("k"), Value::Count(1), None, now)
        .unwrap();
    let out = bus.master().take_outgoing();
    assert!(
        out.iter()
            .any(|o| matches!(&o.command.content, Command::Put { key, .. } if *key == s("k"))),
        "{out:?}"
    );
    for o in &out {
        bus.route(None, o);
    }
    assert_eq!(bus.clones[0].get(&s("k"), now).unwrap(), Value::Count(1));
}

#[test]
fn a_clone_judges_its_own_writes_in_flight_by_the_masters_result() {
    let mut bus = Bus::new(memory_master(1), 1, clone_cfg());
    bus.settle();
    let now = bus.now;
    let c = &mut bus.clones[0];
    // Neither write has come back from the master yet: no local verdict on them.
    c.increment(s("n"), Value::Count(5), None, now).unwrap();
    c.decrement(s("n"), Value::Count(2), None, now).unwrap();
    c.put(s("p"), s("text"), None, now).unwrap();
    c.put(s("p"), Value::Count(1), None, now).unwrap();
    c.increment(s("p"), Value::Count(1), None, now).unwrap();
    c.clear(now).unwrap();
    c.put(s("q"), Value::Count(7), None, now).unwrap();
    c.decrement(s("q"), Value::Count(7), None, now).unwrap();
    bus.settle();
    bus.assert_converged();
    assert_eq!(bus.master_snapshot().get(&s("q")), Some(&Value::Count(0)));
    assert_eq!(bus.master_snapshot().len(), 1);
    // Once everything came back, the clone's own copy decides again, at once.
    let now = bus.now;
    let c = &mut bus.clones[0];
    c.put(s("str"), s("x"), None, now).unwrap();
    bus.settle();
    let now = bus.now;
    let e = bus.clones[0]
        .increment(s("str"), Value::Count(1), None, now)
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Type);
    let e = bus.clones[0]
        .decrement(s("n"), Value::Count(1), None, now)
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::NotFound);
}

#[test]
fn reads_before_the_first_snapshot_wait_then_go_stale() {
    let cfg = CloneConfig {
        stale_interval: 3 * SEC,
        ..clone_cfg()
    };
    let mut c = StoreClone::new("s", EntityId::new(ep(9), 1), cfg, 0);
    assert_eq!(c.get(&s("k"), SEC).unwrap_err().kind, ErrorKind::WouldBlock);
    let e = c.get(&s("k"), 3 * SEC).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Store);
    assert!(e.message.contains("stale"), "{}", e.message);
    // It asked for its master at once and again every resync interval (1 s = 10 ticks).
    let mut asks = c.take_outgoing().len();
    assert_eq!(asks, 1);
    for t in 1..=30 {
        c.tick(t * TICK);
        asks += c
            .take_outgoing()
            .iter()
            .filter(|o| {
                o.command.content == Command::Nack { seqs: vec![0] } && o.topic == master_topic("s")
            })
            .count();
    }
    assert_eq!(asks, 4, "t=0, 1 s, 2 s, 3 s");
}

#[test]
fn disconnected_clone_serves_reads_until_stale_and_buffers_mutations() {
    let cfg = CloneConfig {
        stale_interval: 10 * SEC,
        mutation_buffer_interval: 20 * SEC,
        ..clone_cfg()
    };
    let mut bus = Bus::new(memory_master(1), 2, cfg);
    let now = bus.now;
    bus.master()
        .put(s("k"), Value::Count(1), None, now)
        .unwrap();
    bus.settle();
    bus.partitioned.insert(0);
    let cut_at = bus.now;
    // The clone notices after 4 missed heartbeats (2 s).
    bus.tick(25);
    let CloneStatus::Disconnected { since } = bus.clones[0].status() else {
        panic!("{:?}", bus.clones[0].status())
    };
    assert!(since - cut_at <= 3 * SEC && since > cut_at);
    assert_eq!(
        bus.clones[0].get(&s("k"), bus.now).unwrap(),
        Value::Count(1),
        "old data served while fresh enough"
    );
    let now = bus.now;
    bus.clones[0]
        .put(s("offline"), Value::Count(7), None, now)
        .unwrap();
    bus.clones[0]
        .increment(s("k"), Value::Count(10), None, now)
        .unwrap();
    assert_eq!(bus.clones[0].buffered_mutations(), 2);
    bus.tick(100); // 10 more seconds: more than 10 s since the clone noticed the loss
    let e = bus.clones[0].get(&s("k"), bus.now).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Store);
    assert!(
        e.message.contains("stale") && e.message.contains("clone_stale_interval"),
        "{}",
        e.message
    );
    // Heal within the mutation buffer interval: the buffered writes reach the master.
    bus.partitioned.clear();
    bus.settle();
    bus.tick(20);
    bus.settle();
    assert!(matches!(
        bus.clones[0].status(),
        CloneStatus::Connected { .. }
    ));
    assert_eq!(bus.master().get(&s("offline")).unwrap(), Value::Count(7));
    assert_eq!(bus.master().get(&s("k")).unwrap(), Value::Count(11));
    assert!(bus.clones[0].take_lost().is_empty());
    bus.assert_converged();
}

#[test]
fn mutations_older_than_the_buffer_interval_are_reported_lost() {
    let cfg = CloneConfig {
        stale_interval: -1,
        mutation_buffer_interval: 5 * SEC,
        ..clone_cfg()
    };
    let mut bus = Bus::new(memory_master(1), 1, cfg);
    bus.settle();
    bus.partitioned.insert(0);
    bus.tick(30);
    assert!(matches!(
        bus.clones[0].status(),
        CloneStatus::Disconnected { .. }
    ));
    let now = bus.now;
    bus.clones[0]
        .put(s("too-late"), Value::Count(1), None, now)
        .unwrap();
    bus.tick(40); // 4 s: still buffered
    assert_eq!(bus.clones[0].buffered_mutations(), 1);
    let now = bus.now;
    bus.clones[0]
        .put(s("in-time"), Value::Count(2), None, now)
        .unwrap();
    bus.tick(20); // the first is now 6 s old
    let lost = bus.clones[0].take_lost();
    assert_eq!(lost.len(), 1);
    assert!(matches!(&lost[0].command, Command::Put { key, .. } if *key == s("too-late")));
    assert!(
        lost[0].reason.contains("clone_mutation_buffer_interval"),
        "{}",
        lost[0].reason
    );
    assert!(
        bus.clones[0].get(&s("x"), bus.now).unwrap_err().kind == ErrorKind::NotFound,
        "never stale with a negative interval"
    );
    bus.partitioned.clear();
    bus.settle();
    bus.tick(15);
    bus.settle();
    assert!(!bus.master().exists(&s("too-late")).unwrap());
    assert_eq!(bus.master().get(&s("in-time")).unwrap(), Value::Count(2));
    bus.assert_converged();
}

#[test]
fn zero_buffer_interval_refuses_offline_mutations() {
    let cfg = CloneConfig {
        mutation_buffer_interval: 0,
        ..clone_cfg()
    };
    let mut c = StoreClone::new("s", EntityId::new(ep(9), 1), cfg, 0);
    let e = c.put(s("k"), Value::Count(1), None, 0).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Store);
    assert!(
        e.message.contains("clone_mutation_buffer_interval"),
        "{}",
        e.message
    );
}

#[test]
fn master_restart_on_sqlite_loses_no_acknowledged_write_and_clones_resync() {
    let dir = std::env::temp_dir().join(format!("zc-store-restart-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("s.sqlite");
    let open = |id: u8| {
        Master::new(
            "s",
            EntityId::new(ep(id), 1),
            Box::new(SqliteBackend::open(&path, &SqliteOptions::default()).unwrap()),
            fast_channel(),
        )
        .unwrap()
    };
    let mut bus = Bus::new(open(1), 2, clone_cfg());
    bus.settle();
    for i in 0..20u64 {
        let now = bus.now;
        bus.clones[(i % 2) as usize]
            .put(Value::Count(i), s("v"), None, now)
            .unwrap();
        bus.tick(1);
    }
    bus.settle();
    // Writes the master acknowledged (settled: all acked) are in the file.
    bus.master = None; // the master process dies
    bus.tick(30); // clones notice
    assert!(matches!(
        bus.clones[0].status(),
        CloneStatus::Disconnected { .. }
    ));
    let now = bus.now;
    bus.clones[1]
        .put(s("while-down"), Value::Bool(true), None, now)
        .unwrap();
    bus.master = Some(open(2)); // restarted, new endpoint id
    bus.settle();
    bus.tick(20);
    bus.settle();
    for i in 0..20u64 {
        assert_eq!(
            bus.master().get(&Value::Count(i)).unwrap(),
            s("v"),
            "write {i} lost"
        );
    }
    assert_eq!(
        bus.master().get(&s("while-down")).unwrap(),
        Value::Bool(true)
    );
    bus.assert_converged();
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn master_lost_from_the_driver_and_a_late_joining_clone() {
    let mut bus = Bus::new(memory_master(1), 1, clone_cfg());
    bus.settle();
    let now = bus.now;
    bus.master()
        .put(s("a"), Value::Count(1), None, now)
        .unwrap();
    bus.settle();
    let now = bus.now;
    bus.clones[0].master_lost(now);
    assert!(matches!(bus.clones[0].status(), CloneStatus::Disconnected { since } if since == now));
    bus.settle();
    bus.tick(15);
    bus.settle();
    assert!(
        matches!(bus.clones[0].status(), CloneStatus::Connected { .. }),
        "resynchronised"
    );
    let now = bus.now;
    bus.master()
        .put(s("b"), Value::Count(2), None, now)
        .unwrap();
    bus.clones.push(StoreClone::new(
        "s",
        EntityId::new(ep(30), 1),
        clone_cfg(),
        bus.now,
    ));
    bus.settle();
    bus.assert_converged();
    assert_eq!(bus.master.as_ref().unwrap().clones().len(), 2);
}

#[test]
fn master_ignores_commands_for_another_master_and_clones_ignore_strangers() {
    let mut bus = Bus::new(memory_master(1), 1, clone_cfg());
    bus.settle();
    let now = bus.now;
    // A stranger claims to be a master and broadcasts a put.
    bus.clones[0].handle_command(
        InternalCommand {
            seq: 2,
            sender: EntityId::new(ep(99), 1),
            receiver: EntityId::NIL,
            content: Command::Put {
                key: s("evil"),
                value: Value::None,
                expiry: None,
                publisher: EntityId::NIL,
            },
        },
        now,
    );
    assert!(!bus.clones[0].exists(&s("evil"), now).unwrap());
    // A writer command addressed to another master is ignored.
    let before = bus.master().size().unwrap();
    bus.master().handle_command(
        InternalCommand {
            seq: 0,
            sender: EntityId::new(ep(50), 1),
            receiver: EntityId::new(ep(77), 1),
            content: Command::AttachWriter {
                offset: 1,
                heartbeat_interval: 5,
            },
        },
        now,
    );
    bus.master().handle_command(
        InternalCommand {
            seq: 2,
            sender: EntityId::new(ep(50), 1),
            receiver: EntityId::NIL,
            content: Command::Clear {
                publisher: EntityId::NIL,
            },
        },
        now,
    );
    assert_eq!(bus.master().size().unwrap(), before);
}

#[test]
fn a_restarted_master_reloads_expiries_from_sqlite() {
    let dir = std::env::temp_dir().join(format!("zc-store-reload-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("s.sqlite");
    let open = || {
        Master::new(
            "s",
            EntityId::new(ep(1), 1),
            Box::new(SqliteBackend::open(&path, &SqliteOptions::default()).unwrap()),
            fast_channel(),
        )
        .unwrap()
    };
    let t0 = 1_000 * SEC;
    {
        let mut m = open();
        m.put(s("soon"), Value::Count(1), Some(5 * SEC), t0)
            .unwrap();
        m.put(s("later"), Value::Count(2), Some(50 * SEC), t0)
            .unwrap();
        m.put(s("forever"), Value::Count(3), None, t0).unwrap();
    }
    let mut m = open();
    m.tick(t0 + 4 * SEC);
    assert!(m.exists(&s("soon")).unwrap());
    m.tick(t0 + 6 * SEC);
    assert!(
        !m.exists(&s("soon")).unwrap(),
        "expiry survived the restart"
    );
    assert!(m.exists(&s("later")).unwrap());
    assert_eq!(m.snapshot().unwrap().len(), 2);
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn writes_in_flight_when_the_master_vanishes_are_sent_again_after_resync() {
    let mut bus = Bus::new(memory_master(1), 1, clone_cfg());
    bus.settle();
    bus.partitioned.insert(0);
    let now = bus.now;
    // The clone still believes it is connected: these go into the writer channel and are
    // never acknowledged.
    bus.clones[0]
        .put(s("in-flight-1"), Value::Count(1), None, now)
        .unwrap();
    bus.clones[0]
        .put(s("in-flight-2"), Value::Count(2), None, now)
        .unwrap();
    assert_eq!(bus.clones[0].buffered_mutations(), 0);
    bus.tick(30);
    assert!(matches!(
        bus.clones[0].status(),
        CloneStatus::Disconnected { .. }
    ));
    assert_eq!(
        bus.clones[0].buffered_mutations(),
        2,
        "unacknowledged writes back in the buffer"
    );
    bus.partitioned.clear();
    bus.settle();
    bus.tick(15);
    bus.settle();
    assert_eq!(
        bus.master().get(&s("in-flight-1")).unwrap(),
        Value::Count(1)
    );
    assert_eq!(
        bus.master().get(&s("in-flight-2")).unwrap(),
        Value::Count(2)
    );
    bus.assert_converged();
}

#[test]
fn a_resyncing_clone_presents_fresh_channel_identities() {
    let mut bus = Bus::new(memory_master(1), 1, clone_cfg());
    bus.settle();
    let first: Vec<EntityId> = bus.master.as_ref().unwrap().clones();
    assert_eq!(
        first,
        vec![bus.clones[0].id()],
        "first attach uses the clone's own id"
    );
    let now = bus.now;
    bus.clones[0].master_lost(now);
    let asks: Vec<InternalCommand> = bus.clones[0]
        .take_outgoing()
        .into_iter()
        .map(|o| o.command)
        .collect();
    assert_eq!(asks.len(), 1);
    assert_eq!(asks[0].content, Command::Nack { seqs: vec![0] });
    assert_ne!(
        asks[0].sender,
        bus.clones[0].id(),
        "a master that still knows the old channel sees a new clone"
    );
    assert_eq!(asks[0].sender.endpoint, bus.clones[0].id().endpoint);
    // Without our master's re-attach logic the fresh id alone leads to a fresh snapshot.
    for o in asks {
        bus.in_flight.push((
            Some(0),
            Outgoing {
                topic: master_topic("s"),
                unicast: None,
                command: o,
            },
        ));
    }
    bus.settle();
    assert!(matches!(
        bus.clones[0].status(),
        CloneStatus::Connected { .. }
    ));
}
