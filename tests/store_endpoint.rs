//! Stores attached to a plain Broker-level endpoint (`Endpoint::attach_master` /
//! `attach_clone`), against stores a Cluster node created, over real sockets: a plain
//! endpoint's clone of a cluster manager's master, and a cluster worker's clone of a plain
//! endpoint's master; every store operation through the endpoint's store.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};
use zcluster::cluster::{Cluster, Options};
use zcluster::data::Value;
use zcluster::endpoint::{Endpoint, EndpointOptions, MessageKind};
use zcluster::error::ErrorKind;
use zcluster::layout::Layout;
use zcluster::store::{BackendKind, BackendOptions, CloneConfig, Store};

#[path = "common/ports.rs"]
mod ports;
use ports::free_port;

const T: Duration = Duration::from_secs(15);
const W: Duration = Duration::from_secs(10);

fn s(x: &str) -> Value {
    Value::String(x.as_bytes().to_vec())
}

fn eventually(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + T;
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A manager and one worker on known ports.
fn layout() -> (Arc<Layout>, u16, u16) {
    let (pm, pw) = (free_port(), free_port());
    let t = format!(
        "redef Cluster::nodes = {{\n\
         \t[\"manager\"] = [$node_type=Cluster::MANAGER, $ip=127.0.0.1, $p={pm}/tcp],\n\
         \t[\"worker-1\"] = [$node_type=Cluster::WORKER, $ip=127.0.0.1, $p={pw}/tcp, $manager=\"manager\"],\n\
         }};\n"
    );
    (
        Arc::new(Layout::parse(&t, Some(zcluster::layout::Format::Zeek)).unwrap()),
        pm,
        pw,
    )
}

fn cluster_opts() -> Options {
    let mut o = Options::new();
    o.set("Cluster::retry_interval", "0.1 secs").unwrap();
    o.set("Broker::default_clone_resync_interval", "0.2 secs")
        .unwrap();
    o
}

fn fast_clone() -> CloneConfig {
    CloneConfig {
        resync_interval: 200_000_000,
        ..CloneConfig::default()
    }
}

/// Every operation through `st`, checked (eventually) through `other` as well.
fn every_operation(st: &Store, other: &Store) {
    let sees = |k: &str, v: Value| {
        eventually(&format!("{k} = {v:?} on both sides"), || {
            st.get(&s(k), W).ok() == Some(v.clone()) && other.get(&s(k), W).ok() == Some(v.clone())
        })
    };
    st.put(s("a"), Value::Count(1), None).unwrap();
    sees("a", Value::Count(1));
    assert!(!st.put_unique(s("a"), Value::Count(9), None).unwrap());
    assert!(st.put_unique(s("u"), Value::Count(2), None).unwrap());
    sees("u", Value::Count(2));
    st.increment(s("a"), Value::Count(5), None).unwrap();
    sees("a", Value::Count(6));
    st.decrement(s("a"), Value::Count(2), None).unwrap();
    sees("a", Value::Count(4));
    st.put(s("str"), s("ab"), None).unwrap();
    st.append(s("str"), s("cd"), None).unwrap();
    sees("str", s("abcd"));
    st.put(s("set"), Value::Set(BTreeSet::new()), None).unwrap();
    st.insert_into(s("set"), Value::Count(7), None, None)
        .unwrap();
    st.insert_into(s("set"), Value::Count(8), None, None)
        .unwrap();
    st.remove_from(s("set"), Value::Count(7), None).unwrap();
    sees("set", Value::Set([Value::Count(8)].into_iter().collect()));
    st.put(s("tab"), Value::Table(Default::default()), None)
        .unwrap();
    st.insert_into(s("tab"), s("k"), Some(s("v")), None)
        .unwrap();
    sees(
        "tab",
        Value::Table([(s("k"), s("v"))].into_iter().collect()),
    );
    assert_eq!(st.get_index(&s("tab"), &s("k"), W).unwrap(), s("v"));
    st.put(s("vec"), Value::Vector(vec![]), None).unwrap();
    st.push(s("vec"), Value::Count(1), None).unwrap();
    st.push(s("vec"), Value::Count(2), None).unwrap();
    st.pop(s("vec"), None).unwrap();
    sees("vec", Value::Vector(vec![Value::Count(1)]));
    assert!(st.exists(&s("vec"), W).unwrap());
    st.put(
        s("short"),
        Value::Count(1),
        Some(Duration::from_millis(300)),
    )
    .unwrap();
    sees("short", Value::Count(1));
    eventually("the expiry on both sides", || {
        !st.exists(&s("short"), W).unwrap() && !other.exists(&s("short"), W).unwrap()
    });
    st.erase(s("u")).unwrap();
    eventually("erase on both sides", || {
        st.get(&s("u"), W).map_err(|e| e.kind) == Err(ErrorKind::NotFound)
            && other.get(&s("u"), W).map_err(|e| e.kind) == Err(ErrorKind::NotFound)
    });
    let want: BTreeSet<Value> = ["a", "str", "set", "tab", "vec"]
        .into_iter()
        .map(s)
        .collect();
    eventually("keys on both sides", || {
        st.keys(W).ok() == Some(want.clone()) && other.keys(W).ok() == Some(want.clone())
    });
    st.clear().unwrap();
    eventually("clear on both sides", || {
        st.keys(W).map(|k| k.is_empty()).unwrap_or(false)
            && other.keys(W).map(|k| k.is_empty()).unwrap_or(false)
    });
    assert!(st.take_problems().is_empty(), "{:?}", st.take_problems());
}

#[test]
fn a_plain_endpoint_clones_a_cluster_managers_master() {
    let (l, pm, _) = layout();
    let mgr = Cluster::with_env(l, Some("manager"), &cluster_opts(), None, None).unwrap();
    let info = mgr.create_store("mgr-store", false).unwrap();
    assert!(info.master);
    let master = info.store.unwrap();
    master.put(s("before"), Value::Count(0), None).unwrap();
    mgr.start().unwrap();
    let ep = Endpoint::new(EndpointOptions::default()).unwrap();
    let clone = ep.attach_clone("mgr-store", fast_clone()).unwrap();
    assert!(!clone.is_master());
    ep.peer("127.0.0.1", pm, Duration::from_millis(100))
        .unwrap();
    // The first read waits for the snapshot.
    assert_eq!(clone.get(&s("before"), T).unwrap(), Value::Count(0));
    assert!(clone.connected());
    master.erase(s("before")).unwrap();
    every_operation(&clone, &master);
    // Statuses still reach the host; store traffic does not.
    let mut kinds = Vec::new();
    while let Some(m) = ep.next(None) {
        kinds.push(m.kind);
    }
    assert!(kinds.contains(&MessageKind::PeerAdded), "{kinds:?}");
    assert!(!kinds.contains(&MessageKind::Command), "{kinds:?}");
    drop(ep);
    assert_eq!(
        clone.put(s("x"), Value::Count(1), None).unwrap_err().kind,
        ErrorKind::Closed
    );
}

#[test]
fn a_cluster_worker_clones_a_plain_endpoints_sqlite_master() {
    let (l, _, pw) = layout();
    let dir = std::env::temp_dir().join(format!("zc-store-ep-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("ep.sqlite");
    let ep = Endpoint::new(EndpointOptions::default()).unwrap();
    let mut opts = BackendOptions::default();
    opts.set("path", path.to_str().unwrap()).unwrap();
    opts.set("synchronous", "NORMAL").unwrap();
    let master = ep
        .attach_master("ep-store", BackendKind::Sqlite, &opts)
        .unwrap();
    assert!(master.is_master() && master.backend() == BackendKind::Sqlite);
    // Attaching again is the same master; a clone of it here is refused.
    ep.attach_master("ep-store", BackendKind::Sqlite, &opts)
        .unwrap()
        .put(s("pre"), Value::Count(3), None)
        .unwrap();
    assert_eq!(master.get(&s("pre"), W).unwrap(), Value::Count(3));
    assert_eq!(
        ep.attach_clone("ep-store", fast_clone()).unwrap_err().kind,
        ErrorKind::State
    );
    let worker = Cluster::with_env(l, Some("worker-1"), &cluster_opts(), None, None).unwrap();
    worker.start().unwrap();
    let clone = worker
        .create_store("ep-store", false)
        .unwrap()
        .store
        .unwrap();
    assert!(!clone.is_master());
    ep.peer("127.0.0.1", pw, Duration::from_millis(100))
        .unwrap();
    assert_eq!(clone.get(&s("pre"), T).unwrap(), Value::Count(3));
    master.erase(s("pre")).unwrap();
    every_operation(&master, &clone);
    master.put(s("kept"), Value::Count(5), None).unwrap();
    drop(master);
    drop(ep);
    // The SQLite file holds what the master acknowledged.
    let ep2 = Endpoint::new(EndpointOptions::default()).unwrap();
    let again = ep2
        .attach_master("ep-store", BackendKind::Sqlite, &opts)
        .unwrap();
    assert_eq!(again.get(&s("kept"), W).unwrap(), Value::Count(5));
    drop(again);
    drop(ep2);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn undecodable_store_commands_are_reported_and_bad_attaches_refused() {
    let a = Endpoint::new(EndpointOptions::default()).unwrap();
    let _m = a
        .attach_master("bad", BackendKind::Memory, &BackendOptions::default())
        .unwrap();
    let port = a.listen("127.0.0.1", 0).unwrap();
    let b = Endpoint::new(EndpointOptions::default()).unwrap();
    b.peer("127.0.0.1", port, Duration::from_millis(100))
        .unwrap();
    assert!(b.await_peer_subscription("bad/<$>/data/master", T));
    b.publish_command("bad/<$>/data/master", vec![0xff, 0xff], None)
        .unwrap();
    let deadline = Instant::now() + T;
    let m = loop {
        let m = a.next(Some(Duration::from_millis(100)));
        if let Some(m) = m.filter(|m| m.kind == MessageKind::DeserializationFailed) {
            break m;
        }
        assert!(Instant::now() < deadline, "no DeserializationFailed");
    };
    assert_eq!(m.topic, "bad/<$>/data/master");
    assert_eq!(m.peer.as_ref().unwrap().id, Some(b.id()));
    assert!(m.text.contains("store command"), "{}", m.text);
    assert_eq!(a.stats().undecodable, 1);
    assert_eq!(a.peers().len(), 1);
    // Bad input.
    assert_eq!(
        a.attach_master("", BackendKind::Memory, &BackendOptions::default())
            .unwrap_err()
            .kind,
        ErrorKind::InvalidArgument
    );
    assert_eq!(
        a.attach_master("x/y", BackendKind::Sqlite, &BackendOptions::default())
            .unwrap_err()
            .kind,
        ErrorKind::Store
    );
    assert_eq!(
        a.attach_clone("bad", fast_clone()).unwrap_err().kind,
        ErrorKind::State
    );
    assert_eq!(
        BackendOptions::default().set("nope", "1").unwrap_err().kind,
        ErrorKind::NotFound
    );
    a.close();
    assert_eq!(
        a.attach_clone("later", fast_clone()).unwrap_err().kind,
        ErrorKind::Closed
    );
}

#[test]
fn announce_masters_from_a_manager_makes_clones_on_a_worker() {
    // What a Zeek manager does for its Broker-backed tables (broker-stores.zeek): a master
    // `___sync_store_<id>`, announced to each new peer's nodeid topic. Here a plain
    // endpoint plays the manager.
    let (l, _, pw) = layout();
    let mgr = Endpoint::new(EndpointOptions::default()).unwrap();
    let master = mgr
        .attach_master(
            "___sync_store_tbl",
            BackendKind::Memory,
            &BackendOptions::default(),
        )
        .unwrap();
    master.put(s("k"), Value::Count(1), None).unwrap();
    let worker = Cluster::with_env(l, Some("worker-1"), &cluster_opts(), None, None).unwrap();
    worker.start().unwrap();
    mgr.peer("127.0.0.1", pw, Duration::from_millis(100))
        .unwrap();
    let topic = worker.nodeid_topic(worker.node_id());
    assert!(mgr.await_peer_subscription(&topic, T));
    let ev = zcluster::data::Event::with_args(
        "Broker::announce_masters",
        vec![Value::Set([s("tbl")].into_iter().collect())],
    );
    assert!(worker.attached_stores().is_empty());
    mgr.publish_event(&topic, &ev).unwrap();
    let deadline = Instant::now() + T;
    while worker.attached_stores() != ["___sync_store_tbl"] {
        assert!(Instant::now() < deadline, "{:?}", worker.attached_stores());
        std::thread::sleep(Duration::from_millis(10));
    }
    // The clone exists (create_store gives it) and is fed by the master.
    let clone = worker
        .create_store("___sync_store_tbl", false)
        .unwrap()
        .store
        .unwrap();
    assert!(!clone.is_master());
    assert_eq!(clone.get(&s("k"), T).unwrap(), Value::Count(1));
    // The host never saw the announcement.
    let ep = worker.running().unwrap().endpoint();
    while let Some(m) = ep.next(Some(Duration::from_millis(100))) {
        if m.kind == MessageKind::Event {
            let name = zcluster::data::Event::from_bytes(&m.payload).map(|e| e.name);
            assert_ne!(name.as_deref(), Ok("Broker::announce_masters"));
        }
    }
}
