//! The main job: a whole Zeek-style cluster on loopback, one process per node, from the
//! embedded default layout (logger, manager, proxy, two workers). It shows the nodes
//! coming up (node_up), events flowing through a role topic and a pool, `Cluster::log`
//! records landing in the logger's cluster.log, a worker being stopped (node_down,
//! worker_count), and a clean shutdown.
//!
//!   zcluster cluster demo [--dir DIR]   run the demo (DIR keeps the layout and cluster.log)
//!   zcluster run --demo --node NAME --layout FILE --dir DIR   (internal: one node)

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};
use zcluster::cluster::{Cluster, Options};
use zcluster::data::{Event, Value};
use zcluster::endpoint::MessageKind;
use zcluster::layout::{Layout, NodeType};

pub const DEFAULT_LAYOUT: &str = include_str!("default-layout.zeek");
const NODES: [&str; 5] = ["logger-1", "manager", "proxy-1", "worker-1", "worker-2"];
const LIMIT: Duration = Duration::from_secs(60);

/// `zcluster cluster demo`.
pub fn main(args: crate::cli::DemoArgs) -> crate::Res {
    run_demo(args.dir.map(|d| d.display().to_string()))
        .map_err(|e| crate::Failure::new(crate::exit::FAILURE, e))
}

/// `zcluster run --demo`: one node of the demo.
pub fn node(name: &str, layout: &str, dir: &str) -> crate::Res {
    run_node(name, layout, dir).map_err(|e| crate::Failure::new(crate::exit::FAILURE, e))
}

#[path = "../../../tests/common/ports.rs"]
pub mod ports;

/// Waits up to 10 s for a node process to exit, then kills it.
fn wait_exit(p: &mut NodeProc) {
    let end = Instant::now() + Duration::from_secs(10);
    loop {
        match p.child.try_wait() {
            Ok(Some(_)) => break,
            Ok(None) if Instant::now() < end => std::thread::sleep(Duration::from_millis(20)),
            _ => {
                let _ = p.child.kill();
                let _ = p.child.wait();
                break;
            }
        }
    }
}

struct NodeProc {
    name: &'static str,
    child: Child,
    stdin: Option<ChildStdin>,
}

fn run_demo(dir: Option<String>) -> Result<(), String> {
    let dir = match dir {
        Some(d) => std::path::PathBuf::from(d),
        None => std::env::temp_dir().join(format!("zcluster-demo-{}", std::process::id())),
    };
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let _ = std::fs::remove_file(dir.join("cluster.log"));

    // Free ports, so a busy machine's services never collide with ours.
    let mut layout_text = DEFAULT_LAYOUT.to_string();
    for i in 0..6 {
        let p = ports::free_port();
        layout_text = layout_text.replace(&format!("PORT_{i}/"), &format!("{p}/"));
    }
    let layout_path = dir.join("cluster-layout.zeek");
    std::fs::write(&layout_path, &layout_text).map_err(|e| e.to_string())?;
    let layout = Layout::load(&layout_path).map_err(|e| e.to_string())?;

    println!(
        "zcluster {} demo: a cluster on loopback, one process per node",
        zcluster::VERSION
    );
    println!("(zcluster cluster demo; `zcluster cluster start` runs any layout this way)");
    println!(
        "layout {} ({} nodes):",
        layout_path.display(),
        layout.nodes.len()
    );
    for (name, n) in &layout.nodes {
        println!(
            "  {:<9} {:<8} {}:{}",
            name,
            n.node_type.name(),
            n.ip,
            n.p.number
        );
    }
    println!();

    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let (tx, rx) = mpsc::channel::<(&'static str, String)>();
    let mut procs: Vec<NodeProc> = Vec::new();
    for name in NODES {
        let mut child = Command::new(&exe)
            .args(["run", "--demo", "--node", name, "--layout"])
            .arg(&layout_path)
            .arg("--dir")
            .arg(&dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("starting {name}: {e}"))?;
        let out = child.stdout.take().ok_or("no stdout")?;
        let tx = tx.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                if tx.send((name, line)).is_err() {
                    break;
                }
            }
        });
        let stdin = child.stdin.take();
        procs.push(NodeProc { name, child, stdin });
    }
    drop(tx);

    let deadline = Instant::now() + LIMIT;
    let mut stage = 0;
    let outcome = loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break Err(format!(
                "the demo did not finish within {}s",
                LIMIT.as_secs()
            ));
        }
        let Ok((node, line)) = rx.recv_timeout(left) else {
            break Err("every node exited before the demo finished".to_string());
        };
        println!("[{node:<8}] {line}");
        if node == "manager" && line.starts_with("all workers answered") && stage == 0 {
            stage = 1;
            println!("\n--- stopping worker-2 (SIGKILL) ---\n");
            if let Some(p) = procs.iter_mut().find(|p| p.name == "worker-2") {
                let _ = p.child.kill();
                let _ = p.child.wait();
            }
        }
        if node == "manager" && line.starts_with("node_down worker-2") && stage == 1 {
            // Let the manager print worker_count, then shut everyone down.
            std::thread::sleep(Duration::from_millis(300));
            while let Ok((node, line)) = rx.try_recv() {
                println!("[{node:<8}] {line}");
            }
            break Ok(());
        }
    };

    println!("\n--- shutting down ---");
    // As zeekctl stops a cluster: the loggers last, so the others' last log batches
    // (sent when they close) still reach them.
    for logger in [false, true] {
        for p in procs
            .iter_mut()
            .filter(|p| p.name.starts_with("logger") == logger)
        {
            p.stdin.take(); // EOF: the node closes its endpoint (and cluster.log) and exits
            wait_exit(p);
        }
    }
    while let Ok((node, line)) = rx.recv_timeout(Duration::from_millis(200)) {
        println!("[{node:<8}] {line}");
    }
    outcome?;

    let log = dir.join("cluster.log");
    let text = std::fs::read_to_string(&log).map_err(|e| format!("{}: {e}", log.display()))?;
    println!(
        "\n--- {} (written by logger-1, Zeek's ASCII log format) ---",
        log.display()
    );
    print!("{text}");
    println!("\ndemo finished: every node came up, events flowed, the log was written, worker-2's loss was seen");
    Ok(())
}

/// One node: prints what happens to it, one line per thing, until stdin closes.
fn run_node(name: &str, layout_path: &str, dir: &str) -> Result<(), String> {
    let layout = Arc::new(Layout::load(layout_path).map_err(|e| e.to_string())?);
    let cl =
        Cluster::new(layout.clone(), Some(name), &Options::new()).map_err(|e| e.to_string())?;
    cl.start_in(Some(dir.into())).map_err(|e| e.to_string())?;
    let rt = cl.running().map_err(|e| e.to_string())?;
    let ep = rt.endpoint();
    say(&format!(
        "started: {} listening on port {}, node id {}",
        cl.local_node_type().name(),
        rt.bound_port().unwrap_or(0),
        &cl.node_id()[..8]
    ));

    let quit = Arc::new(AtomicBool::new(false));
    let q = quit.clone();
    std::thread::spawn(move || {
        let mut sink = String::new();
        while std::io::stdin()
            .read_line(&mut sink)
            .map(|n| n > 0)
            .unwrap_or(false)
        {
            sink.clear();
        }
        q.store(true, Ordering::SeqCst);
    });

    let is_manager = cl.local_node_type() == NodeType::Manager;
    let is_worker = cl.local_node_type() == NodeType::Worker;
    if is_manager {
        ep.subscribe("demo/").map_err(|e| e.to_string())?;
    }
    let mut pongs = 0;
    let mut pinged = false;
    while !quit.load(Ordering::SeqCst) {
        let Some(m) = ep.next(Some(Duration::from_millis(100))) else {
            continue;
        };
        let came_up = m.kind == zcluster::cluster::NODE_UP;
        match m.kind {
            zcluster::cluster::NODE_UP => {
                say(&format!(
                    "node_up {} (worker_count {})",
                    m.node.unwrap_or_default(),
                    cl.worker_count()
                ));
            }
            zcluster::cluster::NODE_DOWN => {
                say(&format!(
                    "node_down {} (worker_count {})",
                    m.node.unwrap_or_default(),
                    cl.worker_count()
                ));
            }
            MessageKind::Event => {
                let Ok(ev) = Event::from_bytes(&m.payload) else {
                    continue;
                };
                match ev.name.as_str() {
                    "Demo::ping" if is_worker => {
                        say(&format!(
                            "got Demo::ping on {}; answering the manager",
                            m.topic
                        ));
                        let _ = cl.log(&format!("{name} got the manager's ping"));
                        let pong = Event::with_args(
                            "Demo::pong",
                            vec![Value::String(name.as_bytes().to_vec())],
                        );
                        let _ = rt.publish(&cl.node_topic("manager"), &pong);
                    }
                    "Demo::work" => say(&format!(
                        "got Demo::work {:?} through the worker pool (HRW)",
                        ev.args[0]
                    )),
                    "Demo::pong" if is_manager => {
                        pongs += 1;
                        say(&format!("got Demo::pong from {:?}", text(&ev.args[0])));
                        if pongs == 2 {
                            let _ = cl.log("all workers answered the ping");
                            say("all workers answered");
                        }
                    }
                    _ => say(&format!("got {} on {}", ev.name, m.topic)),
                }
            }
            _ => {}
        }
        if is_manager && came_up && !pinged && cl.worker_count() == 2 && rt.nodes_up().len() == 4 {
            pinged = true;
            let _ = cl.log("manager: the whole cluster is up");
            say("the whole cluster is up: publishing Demo::ping to zeek/cluster/worker and 4 Demo::work through the worker pool");
            let _ = rt.publish(
                "zeek/cluster/worker",
                &Event::with_args("Demo::ping", vec![]),
            );
            for k in 1..=4u64 {
                let ev = Event::with_args("Demo::work", vec![Value::Count(k)]);
                let _ = rt.publish_hrw("zeek/cluster/pool/worker", &Value::Count(k), &ev);
            }
        }
    }
    let _ = rt.flush_log();
    say("stopping");
    drop(cl);
    Ok(())
}

fn text(v: &Value) -> String {
    match v {
        Value::String(b) => String::from_utf8_lossy(b).into_owned(),
        other => format!("{other:?}"),
    }
}

fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}
