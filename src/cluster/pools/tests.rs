use super::*;
use crate::data::Address;
use std::collections::{BTreeMap, HashSet};

fn layout(names: &[(&str, PoolNodeType)]) -> Vec<(String, PoolNodeType)> {
    names.iter().map(|(n, t)| (n.to_string(), *t)).collect()
}

fn full_layout() -> Vec<(String, PoolNodeType)> {
    use PoolNodeType::*;
    // Deliberately unsorted: assignment sorts by name.
    layout(&[
        ("worker-2", Worker),
        ("proxy-2", Proxy),
        ("manager", Manager),
        ("worker-1", Worker),
        ("logger-1", Logger),
        ("worker-10", Worker),
        ("proxy-1", Proxy),
        ("worker-3", Worker),
    ])
}

fn names(p: &Pool) -> Vec<&str> {
    p.nodes().iter().map(|n| n.name.as_str()).collect()
}

#[test]
fn fnv1a32_published_vectors() {
    // The FNV reference test vectors (Fowler/Noll/Vo, "FNV-1a 32 bit").
    assert_eq!(fnv1a32(b""), 0x811c_9dc5);
    assert_eq!(fnv1a32(b"a"), 0xe40c_292c);
    assert_eq!(fnv1a32(b"foobar"), 0xbf9c_f968);
}

#[test]
fn hrw_weight_by_hand() {
    // site 0, digest 0: t = B = 12345; u = A*12345 + B mod 2^32, then the low 31 bits.
    // A*12345 = 13_622_895_699_525; + 12345 = 13_622_895_711_870;
    // mod 2^32: 13_622_895_711_870 - 3171 * 4_294_967_296 = 3_554_416_254;
    // low 31 bits: 3_554_416_254 - 2_147_483_648 = 1_406_932_606.
    assert_eq!(hrw_weight(0, 0), 1_406_932_606);
    // The digest's top bit is ignored.
    assert_eq!(hrw_weight(0x8000_0000, 0), hrw_weight(0, 0));
    // site 1, digest 1: t = A + B = 1_103_527_590; t ^ 1 = 1_103_527_591;
    // then A * 1_103_527_591 + B, modulo 2^32, modulo 2^31 (done in u64 here).
    let t: u64 = 1_103_527_590 ^ 1;
    let u = (1_103_515_245u64 * t + 12_345) % (1u64 << 32) % (1u64 << 31);
    assert_eq!(u64::from(hrw_weight(1, 1)), u);
    assert!(hrw_weight(12345, 678) < (1 << 31));
}

#[test]
fn default_pools_membership() {
    let mut pools = Pools::with_defaults();
    pools
        .assign(&full_layout(), &AssignOptions::broker("worker-1"))
        .unwrap();
    assert_eq!(
        names(pools.pool(PoolId::worker()).unwrap()),
        ["worker-1", "worker-10", "worker-2", "worker-3"]
    );
    assert_eq!(
        names(pools.pool(PoolId::proxy()).unwrap()),
        ["proxy-1", "proxy-2"]
    );
    assert_eq!(names(pools.pool(PoolId::logger()).unwrap()), ["logger-1"]);
    let w = pools.pool(PoolId::worker()).unwrap();
    // Only the local node starts alive, and it is not an HRW site.
    assert_eq!(w.alive_count(), 1);
    assert!(w.node("worker-1").unwrap().alive);
    assert!(!w.node("worker-2").unwrap().alive);
    assert_eq!(w.hrw_sites().count(), 0);
    let n = w.node("worker-10").unwrap();
    assert_eq!(n.alias, "worker-10.0");
    assert_eq!(n.site_id, fnv1a32(b"worker-10.0"));
    assert_eq!(n.topic, "zeek/cluster/node/worker-10/");
    assert_eq!(pools.topics_of("worker-1"), ["zeek/cluster/pool/worker"]);
    assert_eq!(pools.topics_of("manager"), Vec::<String>::new());
    // Membership is fixed.
    assert_eq!(
        pools
            .assign(&full_layout(), &AssignOptions::broker("worker-1"))
            .unwrap_err()
            .kind,
        crate::ErrorKind::State
    );
    assert_eq!(
        pools.register(PoolSpec::proxy()).unwrap_err().kind,
        crate::ErrorKind::State
    );
}

#[test]
fn manager_is_logger_joins_logger_pool() {
    use PoolNodeType::*;
    let l = layout(&[("manager", Manager), ("worker-1", Worker)]);
    let mut pools = Pools::with_defaults();
    let mut o = AssignOptions::broker("manager");
    o.manager_is_logger = true;
    pools.assign(&l, &o).unwrap();
    assert_eq!(names(pools.pool(PoolId::logger()).unwrap()), ["manager"]);
    assert_eq!(pools.topics_of("manager"), ["zeek/cluster/pool/logger"]);
    // rr_log_topic: the manager is alive (it is the local node), so it is picked.
    assert_eq!(
        pools.rr_log_topic("Cluster::LOG"),
        "zeek/cluster/node/manager/"
    );

    let mut pools = Pools::with_defaults();
    pools
        .assign(&l, &AssignOptions::broker("worker-1"))
        .unwrap();
    assert!(pools.pool(PoolId::logger()).unwrap().nodes().is_empty());
    assert_eq!(pools.rr_log_topic("Cluster::LOG"), "zeek/logs/Cluster::LOG");
}

#[test]
fn rr_log_topic_round_robin_and_fallback() {
    use PoolNodeType::*;
    let l = layout(&[
        ("manager", Manager),
        ("logger-2", Logger),
        ("logger-1", Logger),
        ("worker-1", Worker),
    ]);
    let mut pools = Pools::with_defaults();
    pools
        .assign(&l, &AssignOptions::broker("worker-1"))
        .unwrap();
    // No logger up yet: the fallback topic.
    assert_eq!(pools.rr_log_topic("Conn::LOG"), "zeek/logs/Conn::LOG");
    pools.node_up("logger-1");
    pools.node_up("logger-2");
    let picks: Vec<String> = (0..4).map(|_| pools.rr_log_topic("Cluster::LOG")).collect();
    // The cursor is shared by every stream (one key), as in Zeek.
    assert_eq!(
        picks,
        [
            "zeek/cluster/node/logger-1/",
            "zeek/cluster/node/logger-2/",
            "zeek/cluster/node/logger-1/",
            "zeek/cluster/node/logger-2/"
        ]
    );
    pools.node_down("logger-1");
    assert_eq!(
        pools.rr_log_topic("Cluster::LOG"),
        "zeek/cluster/node/logger-2/"
    );
    assert_eq!(
        pools.rr_log_topic("Cluster::LOG"),
        "zeek/cluster/node/logger-2/"
    );
    pools.node_down("logger-2");
    assert_eq!(pools.rr_log_topic("Cluster::LOG"), "zeek/logs/Cluster::LOG");

    // ZeroMQ-style specs: the logger pool is found by role, not by its topic.
    let dotted = |t: &str, nt| PoolSpec::new(format!("zeek.cluster.pool.{t}"), nt);
    let mut pools = Pools::with_specs(
        dotted("worker", Worker),
        dotted("proxy", Proxy),
        dotted("logger", Logger),
    );
    let mut o = AssignOptions::broker("worker-1");
    o.node_topic_prefix = "zeek.cluster.node.";
    o.node_topic_separator = ".";
    pools.assign(&l, &o).unwrap();
    pools.node_up("logger-2");
    assert_eq!(
        pools.rr_log_topic("Cluster::LOG"),
        "zeek.cluster.node.logger-2."
    );
    assert_eq!(pools.topics_of("logger-1"), ["zeek.cluster.pool.logger"]);
    // Without built-in pools there is no logger pool: always the fallback.
    let mut bare = Pools::new();
    bare.register(PoolSpec::logger()).unwrap();
    bare.assign(&l, &AssignOptions::broker("worker-1")).unwrap();
    bare.node_up("logger-1");
    assert_eq!(bare.rr_log_topic("Cluster::LOG"), "zeek/logs/Cluster::LOG");
}

#[test]
fn rr_cursor_per_key_skips_dead_nodes() {
    use PoolNodeType::*;
    let l = layout(&[("p1", Proxy), ("p2", Proxy), ("p3", Proxy)]);
    let mut pools = Pools::with_defaults();
    pools.assign(&l, &AssignOptions::broker("other")).unwrap();
    let id = PoolId::proxy();
    assert_eq!(pools.rr_topic(id, "k").unwrap(), None);
    for n in ["p1", "p2", "p3"] {
        pools.node_up(n);
    }
    let mut pick = |k: &str| pools.rr_topic(id, k).unwrap().unwrap();
    assert_eq!(pick("a"), "zeek/cluster/node/p1/");
    assert_eq!(pick("a"), "zeek/cluster/node/p2/");
    assert_eq!(pick("b"), "zeek/cluster/node/p1/"); // its own cursor
    assert_eq!(pick("a"), "zeek/cluster/node/p3/");
    assert_eq!(pick("a"), "zeek/cluster/node/p1/");
    pools.node_down("p2");
    let mut pick = |k: &str| pools.rr_topic(id, k).unwrap().unwrap();
    assert_eq!(pick("a"), "zeek/cluster/node/p3/"); // p2 skipped
    assert_eq!(pick("a"), "zeek/cluster/node/p1/");
    assert_eq!(pools.pool(id).unwrap().alive_count(), 2);
}

#[test]
fn exclusive_and_capped_pools() {
    use PoolNodeType::*;
    let l = layout(&[
        ("p1", Proxy),
        ("p2", Proxy),
        ("p3", Proxy),
        ("p4", Proxy),
        ("p5", Proxy),
    ]);
    let mut pools = Pools::new();
    let mut ex = PoolSpec::new("t/excl", Proxy);
    ex.exclusive = true;
    ex.max_nodes = Some(2);
    let mut a = PoolSpec::new("t/a", Proxy);
    a.max_nodes = Some(2);
    let mut b = PoolSpec::new("t/b", Proxy);
    b.max_nodes = Some(2);
    // Registration order differs from topic order; assignment follows the topics.
    let idb = pools.register(b).unwrap();
    let ida = pools.register(a).unwrap();
    let idx = pools.register(ex).unwrap();
    pools.assign(&l, &AssignOptions::broker("x")).unwrap();
    assert_eq!(names(pools.pool(idx).unwrap()), ["p1", "p2"]);
    // The rest (p3, p4, p5) is shared round-robin from a cursor that persists: a, then b.
    assert_eq!(names(pools.pool(ida).unwrap()), ["p3", "p4"]);
    assert_eq!(names(pools.pool(idb).unwrap()), ["p5", "p3"]);
}

#[test]
fn fatal_configurations() {
    use PoolNodeType::*;
    let l = layout(&[("p1", Proxy)]);
    let mut pools = Pools::new();
    let mut ex = PoolSpec::new("t/excl", Proxy);
    ex.exclusive = true;
    pools.register(ex.clone()).unwrap();
    let e = pools.assign(&l, &AssignOptions::broker("x")).unwrap_err();
    assert!(e.message.contains("'max_nodes' field must be set"), "{e}");

    let mut pools = Pools::new();
    ex.max_nodes = Some(2);
    pools.register(ex).unwrap();
    let e = pools.assign(&l, &AssignOptions::broker("x")).unwrap_err();
    assert!(
        e.message.contains("not enough Cluster::PROXY nodes") && e.message.contains("need 2"),
        "{e}"
    );

    let mut pools = Pools::new();
    pools.register(PoolSpec::new("t/m", Manager)).unwrap();
    let e = pools.assign(&l, &AssignOptions::broker("x")).unwrap_err();
    assert!(
        e.message
            .contains("invalid pool node type: Cluster::MANAGER"),
        "{e}"
    );
}

#[test]
fn site_id_collision_uses_next_alias() {
    // A member already holding n0's ".0" site id forces the ".1" alias.
    let mut p = Pool::new(PoolSpec::proxy());
    let taken = fnv1a32(b"n0.0");
    p.nodes.push(PoolNode {
        name: "other".into(),
        alias: "other.x".into(),
        site_id: taken,
        alive: false,
        topic: String::new(),
    });
    p.by_name.insert("other".into(), 0);
    p.init_node("n0", "", "t/n0/".into());
    let n = p.node("n0").unwrap();
    assert_eq!(n.alias, "n0.1");
    assert_eq!(n.site_id, fnv1a32(b"n0.1"));
    p.init_node("n1", "n1", "t/n1/".into());
    assert_eq!(p.node("n1").unwrap().alias, "n1.0");
    assert!(p.node("n1").unwrap().alive);
}

fn zeek_print_stuff(pools: &mut Pools, my_pool: PoolId, heading: &str, out: &mut Vec<String>) {
    out.push(heading.to_string());
    let v = [0u64, 1, 2, 3, 13, 37, 42, 101];
    let hrw = |pools: &Pools, out: &mut Vec<String>| {
        for k in v {
            let key = Value::Count(k);
            let a = pools
                .hrw_topic(PoolId::proxy(), &key)
                .unwrap()
                .unwrap_or_default();
            out.push(format!("hrw, {k}, {a}"));
            let b = pools.hrw_topic(my_pool, &key).unwrap().unwrap_or_default();
            out.push(format!("hrw (custom pool), {k}, {b}"));
        }
    };
    hrw(pools, out);
    for _ in v {
        let a = pools
            .rr_topic(PoolId::proxy(), "test")
            .unwrap()
            .unwrap_or_default();
        out.push(format!("rr, {a}"));
        let b = pools.rr_topic(my_pool, "test").unwrap().unwrap_or_default();
        out.push(format!("rr (custom pool), {b}"));
    }
    hrw(pools, out);
}

/// Replays Zeek's btests `scripts/base/frameworks/cluster/custom_pool_{limits,exclusivity}`
/// (manager with `manager_is_logger=T`, proxy-1, proxy-2; a custom proxy pool; the proxy
/// pool capped or exclusive at one node; count keys) and compares with Zeek's baselines.
fn replay_custom_pool_btest(exclusive: bool, expected: &str) {
    use PoolNodeType::*;
    let l = layout(&[("manager", Manager), ("proxy-1", Proxy), ("proxy-2", Proxy)]);
    let mut pools = Pools::new();
    pools.register(PoolSpec::worker()).unwrap();
    let mut proxy = PoolSpec::proxy();
    proxy.exclusive = exclusive;
    proxy.max_nodes = Some(1);
    pools.register(proxy).unwrap();
    pools.register(PoolSpec::logger()).unwrap();
    let my_pool = pools
        .register(PoolSpec::new("zeek/cluster/pool/my_pool", Proxy))
        .unwrap();
    let mut o = AssignOptions::broker("manager");
    o.manager_is_logger = true;
    pools.assign(&l, &o).unwrap();
    pools.node_up("proxy-1");
    pools.node_up("proxy-2");
    let mut out = Vec::new();
    zeek_print_stuff(&mut pools, my_pool, "1st stuff", &mut out);
    pools.node_down("proxy-1");
    zeek_print_stuff(&mut pools, my_pool, "2nd stuff", &mut out);
    pools.node_down("proxy-2");
    zeek_print_stuff(&mut pools, my_pool, "no stuff", &mut out);
    let want: Vec<&str> = expected.lines().collect();
    assert_eq!(out.len(), want.len());
    for (i, (a, b)) in out.iter().zip(&want).enumerate() {
        assert_eq!(a, b, "line {} differs from Zeek's baseline", i + 2);
    }
}

#[test]
fn matches_zeek_btest_custom_pool_limits() {
    replay_custom_pool_btest(
        false,
        include_str!("../../../tests/pools/custom_pool_limits.expected"),
    );
}

#[test]
fn matches_zeek_btest_custom_pool_exclusivity() {
    replay_custom_pool_btest(
        true,
        include_str!("../../../tests/pools/custom_pool_exclusivity.expected"),
    );
}

fn worker_pool_all_up(local: &str) -> Pools {
    let mut pools = Pools::with_defaults();
    let mut l = full_layout();
    for i in 4..=8 {
        l.push((format!("worker-{i}"), PoolNodeType::Worker));
    }
    pools.assign(&l, &AssignOptions::broker(local)).unwrap();
    let members: Vec<String> = pools
        .pool(PoolId::worker())
        .unwrap()
        .nodes()
        .iter()
        .map(|n| n.name.clone())
        .collect();
    for m in members {
        pools.node_up(&m);
    }
    pools
}

#[test]
fn hrw_stable_while_membership_is_stable() {
    let pools = worker_pool_all_up("manager");
    let p = pools.pool(PoolId::worker()).unwrap();
    let keys: Vec<String> = (0..1000).map(|i| format!("key-{i}")).collect();
    let first: Vec<String> = keys
        .iter()
        .map(|k| p.hrw_pick_bytes(k.as_bytes()).unwrap().name.clone())
        .collect();
    for _ in 0..3 {
        let again: Vec<String> = keys
            .iter()
            .map(|k| p.hrw_pick_bytes(k.as_bytes()).unwrap().name.clone())
            .collect();
        assert_eq!(first, again);
    }
    // A node elsewhere, same layout, same picks (local node not a member of this pool).
    let other = worker_pool_all_up("proxy-1");
    let q = other.pool(PoolId::worker()).unwrap();
    let theirs: Vec<String> = keys
        .iter()
        .map(|k| q.hrw_pick_bytes(k.as_bytes()).unwrap().name.clone())
        .collect();
    assert_eq!(first, theirs);
    // Every member gets some keys.
    let used: HashSet<&String> = first.iter().collect();
    assert_eq!(used.len(), p.nodes().len());
}

#[test]
fn hrw_minimal_reshuffle_on_node_down_and_back() {
    let mut pools = worker_pool_all_up("manager");
    let keys: Vec<String> = (0..2000)
        .map(|i| format!("10.0.{}.{}", i / 256, i % 256))
        .collect();
    let pick = |pools: &Pools| -> Vec<String> {
        let p = pools.pool(PoolId::worker()).unwrap();
        keys.iter()
            .map(|k| p.hrw_pick_bytes(k.as_bytes()).unwrap().name.clone())
            .collect()
    };
    let before = pick(&pools);
    pools.node_down("worker-3");
    let after = pick(&pools);
    let mut moved = 0;
    for (b, a) in before.iter().zip(&after) {
        if b == "worker-3" {
            assert_ne!(a, "worker-3");
            moved += 1;
        } else {
            // Keys of the other nodes stay where they were.
            assert_eq!(a, b);
        }
    }
    assert!(moved > 0);
    pools.node_up("worker-3");
    assert_eq!(pick(&pools), before);
}

#[test]
fn local_member_is_not_an_hrw_site() {
    let pools = worker_pool_all_up("worker-2");
    let p = pools.pool(PoolId::worker()).unwrap();
    // node_up for every member includes worker-2 itself here, so it is a site; without
    // that call (Zeek never raises node_up for itself) it would not be.
    assert!(p
        .hrw_sites()
        .any(|s| s == p.node("worker-2").unwrap().site_id));
    let mut pools = Pools::with_defaults();
    pools
        .assign(&full_layout(), &AssignOptions::broker("worker-2"))
        .unwrap();
    for n in ["worker-1", "worker-3", "worker-10"] {
        pools.node_up(n);
    }
    let p = pools.pool(PoolId::worker()).unwrap();
    assert_eq!(p.alive_count(), 4);
    for i in 0..500 {
        assert_ne!(
            p.hrw_pick_bytes(format!("k{i}").as_bytes()).unwrap().name,
            "worker-2"
        );
    }
}

#[test]
fn key_bytes_for_non_strings() {
    assert_eq!(hrw_key_bytes(&Value::string("abc")).unwrap(), b"abc");
    let mut c = vec![3, 0, 0, 0];
    c.extend_from_slice(&42u64.to_le_bytes());
    assert_eq!(hrw_key_bytes(&Value::Count(42)).unwrap(), c);
    let a = Address::from_v4("10.0.0.1".parse().unwrap());
    let mut want = vec![11, 0, 0, 0];
    want.extend_from_slice(b"10.0.0.1\0");
    assert_eq!(hrw_key_bytes(&Value::Address(a)).unwrap(), want);
    let mut want = vec![10, 0, 0, 0, 80, 0, 0, 0];
    want.extend_from_slice(b"/\0tcp");
    assert_eq!(
        hrw_key_bytes(&Value::Port(Port::new(80, Protocol::Tcp))).unwrap(),
        want
    );
    let e = hrw_key_bytes(&Value::Timespan(1)).unwrap_err();
    assert_eq!(e.kind, crate::ErrorKind::Type);
    assert!(hrw_key_bytes(&Value::Vector(vec![])).is_err());
    // A non-string key is hashed through hrw_pick.
    let pools = worker_pool_all_up("manager");
    let p = pools.pool(PoolId::worker()).unwrap();
    assert_eq!(
        p.hrw_pick(&Value::Count(42)).unwrap().unwrap().name,
        p.hrw_pick_bytes(&c).unwrap().name
    );
}

/// Cross-checks 1,000 string keys and 1,000 count keys against tests/pools/hrw_check.py,
/// an independent implementation written from the algorithm's description. Skipped (with a
/// note) when python3 is not available.
#[test]
fn hrw_matches_independent_python_checker() {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let mut pools = worker_pool_all_up("manager");
    pools.node_down("worker-5");
    let p = pools.pool(PoolId::worker()).unwrap();
    let node_list: Vec<String> = p
        .nodes()
        .iter()
        .map(|n| crate::json::quote(&n.name))
        .collect();
    let up: Vec<String> = p
        .nodes()
        .iter()
        .filter(|n| n.alive)
        .map(|n| crate::json::quote(&n.name))
        .collect();
    let mut keys = Vec::new();
    let mut ours = Vec::new();
    for i in 0..1000u64 {
        let s = format!("host-{i}.example/{}", i * 7919);
        keys.push(format!("{{\"s\":{}}}", crate::json::quote(&s)));
        ours.push(p.hrw_pick_bytes(s.as_bytes()).map(|n| n.name.clone()));
        let c = i.wrapping_mul(0x9e37_79b9_7f4a_7c15);
        keys.push(format!("{{\"c\":{c}}}"));
        ours.push(
            p.hrw_pick(&Value::Count(c))
                .unwrap()
                .map(|n| n.name.clone()),
        );
    }
    let req = format!(
        "{{\"nodes\":[{}],\"up\":[{}],\"keys\":[{}]}}",
        node_list.join(","),
        up.join(","),
        keys.join(",")
    );
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/pools/hrw_check.py");
    let child = Command::new("python3")
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn();
    let Ok(mut child) = child else {
        eprintln!("python3 not available: skipping the independent HRW cross-check");
        return;
    };
    child
        .stdin
        .take()
        .unwrap()
        .write_all(req.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "checker failed: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    let v = crate::json::parse_bytes(&out.stdout).unwrap();
    let theirs: Vec<Option<String>> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_str().map(str::to_string))
        .collect();
    assert_eq!(theirs.len(), 2000);
    let mut per_node: BTreeMap<Option<String>, usize> = BTreeMap::new();
    for (i, (a, b)) in ours.iter().zip(&theirs).enumerate() {
        assert_eq!(a, b, "key #{i}");
        *per_node.entry(a.clone()).or_default() += 1;
    }
    assert!(!per_node.contains_key(&Some("worker-5".to_string())));
    assert!(!per_node.contains_key(&None));
}
