//! What `zeekctl install` (ZeekControl 8.2) writes into
//! `spool/installed-scripts-do-not-touch/auto/` selects the backend: the files are
//! rendered here exactly as ZeekControl's `install.py` (`make_layout`,
//! `make_zeekctl_config_policy`) and its `cluster_backend_zeromq` plugin write them, for
//! the default node.cfg of a manager, a logger, a proxy and two workers. A ZeroMQ
//! cluster started from such a directory forms.

use std::sync::Arc;
use std::time::{Duration, Instant};
use zcluster::cluster::{Cluster, ClusterBackend, Options};
use zcluster::layout::{Layout, OptionValue};

#[path = "common/ports.rs"]
mod ports;
#[path = "common/watchdog.rs"]
mod watchdog;

/// The ports of zeekctl.cfg that the installed files name: `ZeekPort` (the first of
/// eight in a row with the ZeroMQ plugin), `MetricsPort` (the first of five, one per
/// node that has one) and `WebSocketPort` (the manager's `listen_websocket`).
#[derive(Clone, Copy)]
struct Ports {
    base: u16,
    metrics: u16,
    websocket: u16,
}

impl Ports {
    /// ZeekControl's defaults, for the tests that only read the files: nothing binds them.
    const DEFAULT: Ports = Ports {
        base: 27760,
        metrics: 9991,
        websocket: 27759,
    };

    /// Free loopback ports for the tests that run nodes (a shared machine or another CI
    /// run may hold ZeekControl's defaults): one run of 14 ports, all bindable now, the
    /// first from the tests' port helper.
    fn free() -> Ports {
        const RUN: u16 = 8 + 5 + 1;
        for _ in 0..1000 {
            let p = ports::free_port();
            if u32::from(p) + u32::from(RUN) <= 32768
                && (1..RUN).all(|k| std::net::TcpListener::bind(("127.0.0.1", p + k)).is_ok())
            {
                return Ports {
                    base: p,
                    metrics: p + 8,
                    websocket: p + 13,
                };
            }
        }
        panic!("no run of {RUN} free loopback ports");
    }
}

/// `cluster-layout.zeek`: with the ZeroMQ plugin ZeekPort moves up by two (the proxy
/// takes `base` and `base + 1`), and the control entry takes the first node port.
fn cluster_layout(ports: Ports, zeromq: bool) -> String {
    let Ports {
        base,
        metrics,
        websocket,
    } = ports;
    let mut p = if zeromq { base + 2 } else { base };
    let mut next = || {
        let v = p;
        p += 1;
        v
    };
    let mut s = String::from("# Automatically generated. Do not edit.\n");
    s += "redef Cluster::manager_is_logger = F;\n";
    s += "redef Cluster::nodes = {\n";
    s += &format!(
        "\t[\"control\"] = [$node_type=Cluster::CONTROL, $ip=127.0.0.1, $p={}/tcp],\n",
        next()
    );
    s += &format!("\t[\"manager\"] = [$node_type=Cluster::MANAGER, $ip=127.0.0.1, $p={}/tcp, $metrics_port={}/tcp],\n", next(), metrics);
    s += &format!("\t[\"logger-1\"] = [$node_type=Cluster::LOGGER, $ip=127.0.0.1, $p={}/tcp, $metrics_port={}/tcp],\n", next(), metrics + 1);
    s += &format!("\t[\"proxy-1\"] = [$node_type=Cluster::PROXY, $ip=127.0.0.1, $p={}/tcp, $manager=\"manager\", $metrics_port={}/tcp],\n", next(), metrics + 2);
    s += &format!("\t[\"worker-1\"] = [$node_type=Cluster::WORKER, $ip=127.0.0.1, $p={}/tcp, $manager=\"manager\", $metrics_port={}/tcp],\n", next(), metrics + 3);
    s += &format!("\t[\"worker-2\"] = [$node_type=Cluster::WORKER, $ip=127.0.0.1, $p={}/tcp, $manager=\"manager\", $metrics_port={}/tcp],\n", next(), metrics + 4);
    s += "};\n";
    s += "\nevent zeek_init()\n\t{\n";
    s += "\tif ( getenv(\"ZEEKCTL_DISABLE_LISTEN\") == \"\" && (Cluster::local_node_type() == Cluster::MANAGER || ! Cluster::is_enabled()) )\n";
    s += &format!("\t\t{{\n\t\tCluster::listen_websocket([$listen_addr=127.0.0.1, $listen_port={websocket}/tcp]);\n\t\t}}\n\t}}\n");
    s
}

/// `zeekctl-config.zeek` with the ZeroMQ plugin's code (and CURVE keys when given).
fn zeekctl_config(base: u16, zeromq: bool, curve: Option<[&str; 4]>) -> String {
    let mut s = String::from("# Automatically generated. Do not edit.\n");
    s += "redef Notice::mail_dest = \"root@localhost\";\n";
    s += "redef Notice::mail_dest_pretty_printed = \"root@localhost\";\n";
    s += "redef Notice::sendmail = \"/usr/sbin/sendmail\";\n";
    s += "redef Notice::mail_subject_prefix = \"[Zeek]\";\n";
    s += "redef Notice::mail_from = \"Zeek <zeek@localhost>\";\n";
    s += "redef Broker::table_store_db_directory = \"/usr/local/zeek/spool/brokerstore\";\n";
    s += "@if ( Cluster::local_node_type() == Cluster::LOGGER )\n";
    s += "redef Log::default_rotation_interval = 3600 secs;\n";
    s += "redef Log::default_mail_alarms_interval = 86400 secs;\n";
    s += "@endif\n";
    s += "redef Pcap::snaplen = 9216;\n";
    s += "redef Pcap::bufsize = 128;\n";
    s += "redef global_hash_seed = \"6c3f1e0a\";\n";
    s += "redef Cluster::default_store_dir = \"/usr/local/zeek/spool/stores\";\n";
    s += "redef FileExtract::prefix = \"/usr/local/zeek/spool/extract_files/\" + Cluster::node;\n";
    s += "@if ( |Telemetry::metrics_address| == 0 )\n";
    s += "redef Telemetry::metrics_address = \"127.0.0.1\";\n";
    s += "@endif\n";
    if zeromq {
        let (xpub, xsub) = (base, base + 1);
        s += "\n# Begin code from cluster_backend_zeromq plugin\n";
        s += "# Configure ZeroMQ\n";
        s += "@load policy/frameworks/cluster/backend/zeromq/options\n\n";
        s += &format!(
            "redef Cluster::Backend::ZeroMQ::listen_xpub_endpoint = \"tcp://127.0.0.1:{xpub}\";\n"
        );
        s += &format!(
            "redef Cluster::Backend::ZeroMQ::listen_xsub_endpoint = \"tcp://127.0.0.1:{xsub}\";\n"
        );
        s += &format!(
            "redef Cluster::Backend::ZeroMQ::connect_xpub_endpoint = \"tcp://127.0.0.1:{xsub}\";\n"
        );
        s += &format!(
            "redef Cluster::Backend::ZeroMQ::connect_xsub_endpoint = \"tcp://127.0.0.1:{xpub}\";\n"
        );
        s += "\nredef Cluster::Backend::ZeroMQ::ipv6 = F;\n";
        if let Some(keys) = curve {
            let names = [
                "server_publickey",
                "server_secretkey",
                "client_publickey",
                "client_secretkey",
            ];
            s += "\n# Public and secret server keys for ZeroMQ CURVE encryption.\n";
            for (i, n) in names.iter().enumerate() {
                if i == 2 {
                    s += "\n# Public and secret client keys for ZeroMQ CURVE encryption.\n";
                }
                s += &format!("@if ( |Cluster::Backend::ZeroMQ::curve_{n}| == 0 )\n");
                s += &format!(
                    "redef Cluster::Backend::ZeroMQ::curve_{n} = \"{}\";\n",
                    keys[i]
                );
                s += "@endif";
                s += "\n";
            }
        }
        s += "\n# End code from cluster_backend_zeromq plugin\n";
    }
    s
}

fn install(dir: &std::path::Path, ports: Ports, zeromq: bool, curve: Option<[&str; 4]>) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(
        dir.join("cluster-layout.zeek"),
        cluster_layout(ports, zeromq),
    )
    .unwrap();
    std::fs::write(
        dir.join("zeekctl-config.zeek"),
        zeekctl_config(ports.base, zeromq, curve),
    )
    .unwrap();
    std::fs::write(dir.join("local-networks.zeek"), "# Automatically generated. Do not edit.\n\nredef Site::local_nets = {\n\t10.0.0.0/8,\n};\n\n").unwrap();
}

/// Whether `cl` raises node_up for `node` within 15 s.
fn sees_node_up(cl: &Cluster, node: &str) -> bool {
    let deadline = Instant::now() + Duration::from_secs(15);
    while Instant::now() < deadline {
        if let Some(msg) = cl
            .running()
            .unwrap()
            .endpoint()
            .next(Some(Duration::from_millis(100)))
        {
            if msg.kind == zcluster::cluster::NODE_UP && msg.node.as_deref() == Some(node) {
                return true;
            }
        }
    }
    false
}

fn tmp(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("zc-zeekctl-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

#[test]
fn zeekctl_82_directory_selects_zeromq_with_its_ports() {
    let d = tmp("zmq");
    install(&d, Ports::DEFAULT, true, None);
    let layout = Arc::new(Layout::load(&d).unwrap());
    assert_eq!(layout.nodes["manager"].p.number, 27763);
    assert_eq!(layout.nodes["control"].p.number, 27762);
    let cl = Cluster::with_env(
        layout.clone(),
        Some("worker-1"),
        &Options::new(),
        None,
        None,
    )
    .unwrap();
    assert_eq!(cl.backend(), ClusterBackend::ZeroMQ);
    let o = cl.options();
    assert_eq!(
        o.zeromq_str("listen_xpub_endpoint"),
        "tcp://127.0.0.1:27760"
    );
    assert_eq!(
        o.zeromq_str("listen_xsub_endpoint"),
        "tcp://127.0.0.1:27761"
    );
    assert_eq!(
        o.zeromq_str("connect_xpub_endpoint"),
        "tcp://127.0.0.1:27761"
    );
    assert_eq!(
        o.zeromq_str("connect_xsub_endpoint"),
        "tcp://127.0.0.1:27760"
    );
    assert!(!o.zeromq_bool("ipv6"));
    // Zeek's defaults for what zeekctl leaves alone.
    assert_eq!(o.zeromq_int("xpub_sndhwm"), 1000);
    assert_eq!(o.zeromq_int("xsub_rcvhwm"), 1000);
    assert_eq!(o.zeromq_int("linger_ms"), 500);
    assert_eq!(o.zeromq_int("onloop_queue_hwm"), 10000);
    assert!(o.zeromq_bool("connect_xpub_nodrop"));
    assert_eq!(
        o.get_text("Cluster::worker_topic").unwrap(),
        "zeek.cluster.worker"
    );
    assert_eq!(
        o.get_text("Cluster::default_store_dir").unwrap(),
        "/usr/local/zeek/spool/stores"
    );
    assert_eq!(cl.node_topic("worker-1"), "zeek.cluster.node.worker-1.");
    assert!(cl.node_id().starts_with("zeromq_worker-1_"));
    // Naming the config file beside a layout file does the same.
    let mut l = Layout::load(d.join("cluster-layout.zeek")).unwrap();
    assert_eq!(l.option("Cluster::backend"), None);
    l.load_zeekctl_config(d.join("zeekctl-config.zeek"))
        .unwrap();
    assert_eq!(
        l.option("Cluster::backend"),
        Some(&OptionValue::Enum("Cluster::CLUSTER_BACKEND_ZEROMQ".into()))
    );
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn zeekctl_82_broker_directory_stays_on_broker() {
    let d = tmp("broker");
    install(&d, Ports::DEFAULT, false, None);
    let layout = Arc::new(Layout::load(&d).unwrap());
    assert_eq!(layout.nodes["manager"].p.number, 27761);
    let cl = Cluster::with_env(layout, Some("worker-1"), &Options::new(), None, None).unwrap();
    assert_eq!(cl.backend(), ClusterBackend::Broker);
    assert_eq!(cl.node_topic("worker-1"), "zeek/cluster/node/worker-1/");
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn zeekctl_82_curve_keys_apply_unless_already_set() {
    let (spk, ssk) = zcluster::zeromq::generate_keypair().unwrap();
    let (cpk, csk) = zcluster::zeromq::generate_keypair().unwrap();
    let d = tmp("curve");
    install(&d, Ports::DEFAULT, true, Some([&spk, &ssk, &cpk, &csk]));
    let layout = Layout::load(&d).unwrap();
    assert_eq!(
        layout.option("Cluster::Backend::ZeroMQ::curve_server_secretkey"),
        Some(&OptionValue::String(ssk.clone()))
    );
    assert_eq!(
        layout.option("Cluster::Backend::ZeroMQ::curve_client_publickey"),
        Some(&OptionValue::String(cpk.clone()))
    );
    // A key set before the guard keeps its value.
    let mut l = Layout::load(d.join("cluster-layout.zeek")).unwrap();
    l.apply_zeekctl_config(
        "redef Cluster::Backend::ZeroMQ::curve_server_publickey = \"mine\";\n",
        "<pre>",
    )
    .unwrap();
    l.load_zeekctl_config(d.join("zeekctl-config.zeek"))
        .unwrap();
    assert_eq!(
        l.option("Cluster::Backend::ZeroMQ::curve_server_publickey"),
        Some(&OptionValue::String("mine".into()))
    );
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn cluster_from_a_zeekctl_directory_forms_over_zeromq() {
    // The same files with free ports (ZeekControl's defaults may be taken on a shared
    // machine): the manager binds its metrics and WebSocket ports too.
    let ports = Ports::free();
    let base = ports.base;
    let d = tmp("run");
    install(&d, ports, true, None);
    let layout = Arc::new(Layout::load(&d).unwrap());
    assert_eq!(
        layout.nodes["worker-2"]
            .metrics_port
            .as_ref()
            .unwrap()
            .number,
        ports.metrics + 4
    );
    let start = |n: &str| {
        let cl = Cluster::with_env(layout.clone(), Some(n), &Options::new(), None, None).unwrap();
        cl.start_in(Some(d.clone())).unwrap();
        cl
    };
    let w = start("worker-1");
    let m = start("manager");
    let up = sees_node_up(&w, "manager");
    assert!(up, "worker-1 saw no node_up for the manager");
    assert_eq!(
        m.running().unwrap().zeromq_proxy().unwrap().xpub_endpoint(),
        format!("tcp://127.0.0.1:{base}")
    );
    drop(w);
    drop(m);
    let _ = std::fs::remove_dir_all(&d);
}

/// `zcluster zeromq-proxy --layout DIR`: the proxy as a process of its own, on the ports
/// ZeekControl's directory gives; nodes that do not run the proxy themselves
/// (`run_proxy_thread = F`) form the cluster through it; SIGTERM stops it cleanly.
#[test]
fn a_standalone_proxy_process_from_a_zeekctl_directory() {
    use std::io::BufRead;
    let ports = Ports::free();
    let base = ports.base;
    let d = tmp("proxy-process");
    install(&d, ports, true, None);
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_zcluster"))
        .args(["zeromq-proxy", "--layout"])
        .arg(&d)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Killed if the test fails half way (an orphan would hold the test's output open)
    // or the proxy hangs (the reads of its output below have no timeout of their own).
    let guard = watchdog::Watchdog::new(&child, Duration::from_secs(120));
    let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    assert!(
        line.contains(&format!("\"xpub\":\"tcp://127.0.0.1:{base}\""))
            && line.contains(&format!("\"xsub\":\"tcp://127.0.0.1:{}\"", base + 1))
            && line.contains("\"io_threads\":2"),
        "{line}"
    );
    let layout = Arc::new(Layout::load(&d).unwrap());
    let mut o = Options::new();
    o.set("Cluster::Backend::ZeroMQ::run_proxy_thread", "F")
        .unwrap();
    let start = |n: &str| {
        let cl = Cluster::with_env(layout.clone(), Some(n), &o, None, None).unwrap();
        cl.start_in(Some(d.clone())).unwrap();
        assert!(cl.running().unwrap().zeromq_proxy().is_none());
        cl
    };
    let m = start("manager");
    let w = start("worker-1");
    let up = sees_node_up(&w, "manager");
    assert!(
        up,
        "worker-1 saw no node_up for the manager through the proxy process"
    );
    drop(w);
    drop(m);
    // SIGTERM: a clean stop.
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    line.clear();
    out.read_line(&mut line).unwrap();
    assert_eq!(line.trim(), "{\"type\":\"stopped\"}");
    let status = child.wait().unwrap();
    drop(guard);
    assert!(status.success());
    let _ = std::fs::remove_dir_all(&d);
}
