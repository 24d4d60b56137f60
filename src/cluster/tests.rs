use super::*;
use crate::error::ErrorKind;
use crate::layout::Format;

fn layout() -> Arc<Layout> {
    Arc::new(
        Layout::parse(
            r#"redef Cluster::manager_is_logger = F;
redef Cluster::nodes = {
	["manager"] = [$node_type=Cluster::MANAGER, $ip=127.0.0.1, $p=27763/tcp],
	["logger"] = [$node_type=Cluster::LOGGER, $ip=127.0.0.1, $p=27764/tcp],
	["worker-1"] = [$node_type=Cluster::WORKER, $ip=127.0.0.1, $p=27765/tcp, $manager="manager"],
};"#,
            Some(Format::Zeek),
        )
        .unwrap(),
    )
}

#[test]
fn explicit_name_gives_type_and_topics() {
    let cl = Cluster::with_env(
        layout(),
        Some("worker-1"),
        &Options::new(),
        Some("manager"),
        None,
    )
    .unwrap();
    assert!(cl.is_enabled());
    assert_eq!(cl.local_node_type(), NodeType::Worker);
    assert_eq!(cl.node_name(), "worker-1");
    assert_eq!(cl.node_topic("manager"), "zeek/cluster/node/manager/");
    assert_eq!(cl.nodeid_topic("abc"), "zeek/cluster/nodeid/abc/");
    assert_eq!(
        cl.nodeid_topic(cl.node_id()),
        format!("zeek/cluster/nodeid/{}/", cl.node_id())
    );
    assert!(
        !cl.options().manager_is_logger(),
        "the layout's redef applies"
    );
    assert_eq!(cl.worker_count(), 0);
}

#[test]
fn env_name_is_used_without_explicit_name() {
    let cl = Cluster::with_env(layout(), None, &Options::new(), Some("logger"), None).unwrap();
    assert_eq!(cl.local_node_type(), NodeType::Logger);
    assert_eq!(cl.node_name(), "logger");
}

#[test]
fn cluster_node_option_beats_env() {
    let mut o = Options::new();
    o.set("Cluster::node", "manager").unwrap();
    let cl = Cluster::with_env(layout(), None, &o, Some("logger"), None).unwrap();
    assert_eq!(cl.node_name(), "manager");
    assert_eq!(cl.local_node_type(), NodeType::Manager);
}

#[test]
fn no_name_means_not_enabled() {
    for env in [None, Some("")] {
        let cl = Cluster::with_env(layout(), None, &Options::new(), env, None).unwrap();
        assert!(!cl.is_enabled());
        assert_eq!(cl.local_node_type(), NodeType::None);
        assert_eq!(cl.node_name(), "");
    }
}

#[test]
fn unknown_name_is_not_found() {
    let e = Cluster::with_env(layout(), Some("worker-9"), &Options::new(), None, None).unwrap_err();
    assert_eq!(e.kind, ErrorKind::NotFound);
    assert_eq!(
        e.message,
        "node \"worker-9\" is not in the layout <input> (its nodes: logger, manager, worker-1)"
    );
}

#[test]
fn prefixes_follow_options() {
    let mut o = Options::new();
    o.set("Cluster::node_topic_prefix", "zeek.cluster.node.")
        .unwrap();
    let cl = Cluster::with_env(layout(), Some("manager"), &o, None, None).unwrap();
    assert_eq!(cl.node_topic("worker-1"), "zeek.cluster.node.worker-1/");
}

#[test]
fn node_ids_are_uuid_v4_and_unique() {
    let a = Cluster::with_env(layout(), None, &Options::new(), None, None).unwrap();
    let b = Cluster::with_env(layout(), None, &Options::new(), None, None).unwrap();
    assert_ne!(a.node_id(), b.node_id());
    let id = a.node_id();
    assert_eq!(id.len(), 36);
    let parts: Vec<&str> = id.split('-').collect();
    assert_eq!(
        parts.iter().map(|p| p.len()).collect::<Vec<_>>(),
        vec![8, 4, 4, 4, 12]
    );
    assert!(parts[2].starts_with('4'));
    assert!(matches!(parts[3].as_bytes()[0], b'8' | b'9' | b'a' | b'b'));
    assert!(id
        .chars()
        .all(|c| c == '-' || c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
    assert_eq!(a.node_id(), a.node_id());
}

#[test]
fn connect_retry_env_is_applied_at_creation() {
    let cl = Cluster::with_env(layout(), None, &Options::new(), None, Some("3")).unwrap();
    assert_eq!(cl.peer_retry(), Duration::from_secs(3));
    assert_eq!(cl.options().retry_interval(), Duration::from_secs(60));
    let cl = Cluster::with_env(layout(), None, &Options::new(), None, None).unwrap();
    assert_eq!(cl.peer_retry(), Duration::from_secs(60));
}

/// The process environment itself, in a child process so parallel tests never see it.
#[test]
fn process_environment_is_read_by_new() {
    if std::env::var("ZC_IDENTITY_CHILD").is_ok() {
        let cl = Cluster::new(layout(), None, &Options::new()).unwrap();
        assert_eq!(cl.node_name(), "worker-1");
        assert_eq!(cl.local_node_type(), NodeType::Worker);
        assert_eq!(cl.peer_retry(), Duration::from_secs(4));
        return;
    }
    let exe = std::env::current_exe().unwrap();
    let out = std::process::Command::new(exe)
        .args([
            "--exact",
            "cluster::tests::process_environment_is_read_by_new",
            "--test-threads=1",
            "--nocapture",
        ])
        .env("ZC_IDENTITY_CHILD", "1")
        .env(CLUSTER_NODE_ENV, "worker-1")
        .env(CONNECT_RETRY_ENV, "4")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "child failed: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("1 passed"), "{stdout}");
}
