//! `zcluster cluster start|status|stop|demo`: every node of a layout on this machine, one
//! `zcluster run` child process each, as ZeekControl's `start`/`status`/`stop` do for Zeek.
//!
//! The state directory (`--dir`) holds `cluster.json` (the layout, the supervisor's pid and
//! each node's pid, type and port), each node's output (`<node>.out`, `<node>.err`) when
//! detached, and the logs the nodes write (cluster.log on the logger). A node counts as
//! started when it printed its `started` line (it listens and has begun peering).

use crate::cli::{ClusterAction, ClusterArgs, ClusterDirArgs, ClusterStartArgs, ClusterStopArgs};
use crate::{exit, progress, Failure, Res};
use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::Ordering;
use std::sync::mpsc;
use std::time::{Duration, Instant};
use zcluster::json::{self, JsonValue as J};
use zcluster::layout::NodeType;

const STATE: &str = "cluster.json";

pub fn main(a: ClusterArgs) -> Res {
    match a.action {
        ClusterAction::Start(s) => start(s),
        ClusterAction::Status(s) => status(s),
        ClusterAction::Stop(s) => stop(s),
        ClusterAction::Demo(d) => crate::demo::main(d),
    }
}

fn io(what: &Path) -> impl Fn(std::io::Error) -> Failure + '_ {
    move |e| Failure::new(exit::FAILURE, format!("{}: {e}", what.display()))
}

/// The embedded default layout (logger, manager, proxy, two workers) on free loopback ports.
pub fn default_layout_text() -> String {
    let mut text = crate::demo::DEFAULT_LAYOUT.to_string();
    for i in 0..6 {
        let p = crate::demo::ports::free_port();
        text = text.replace(&format!("PORT_{i}/"), &format!("{p}/"));
    }
    text
}

struct NodeState {
    name: String,
    node_type: String,
    pid: u32,
    port: u16,
}

fn write_state(dir: &Path, layout: &Path, supervisor: Option<u32>, nodes: &[NodeState]) -> Res {
    let list = nodes
        .iter()
        .map(|n| {
            J::object(vec![
                ("name", J::string(n.name.clone())),
                ("node_type", J::string(n.node_type.clone())),
                ("pid", J::from(n.pid as u64)),
                ("port", J::from(n.port as u64)),
            ])
        })
        .collect();
    let state = J::object(vec![
        ("layout", J::string(layout.display().to_string())),
        (
            "supervisor",
            supervisor.map(|p| J::from(p as u64)).unwrap_or(J::Null),
        ),
        ("nodes", J::Array(list)),
    ]);
    let path = dir.join(STATE);
    std::fs::write(&path, state.to_pretty() + "\n").map_err(io(&path))
}

fn read_state(dir: &Path) -> Res<(Option<u32>, Vec<NodeState>)> {
    let path = dir.join(STATE);
    let text = std::fs::read_to_string(&path).map_err(|e| {
        Failure::new(
            exit::NOT_FOUND,
            format!(
                "{}: {e} (no cluster was started with --dir {})",
                path.display(),
                dir.display()
            ),
        )
    })?;
    let j = json::parse(&text).map_err(|e| {
        Failure::new(
            exit::BAD_INPUT,
            format!("{}: {}", path.display(), e.message),
        )
    })?;
    let sup = j
        .get("supervisor")
        .and_then(|s| s.as_u64())
        .map(|p| p as u32);
    let mut nodes = Vec::new();
    for n in j.get("nodes").and_then(|n| n.as_array()).unwrap_or(&[]) {
        nodes.push(NodeState {
            name: n
                .get("name")
                .and_then(|x| x.as_str())
                .unwrap_or("?")
                .to_string(),
            node_type: n
                .get("node_type")
                .and_then(|x| x.as_str())
                .unwrap_or("?")
                .to_string(),
            pid: n.get("pid").and_then(|x| x.as_u64()).unwrap_or(0) as u32,
            port: n.get("port").and_then(|x| x.as_u64()).unwrap_or(0) as u16,
        });
    }
    Ok((sup, nodes))
}

/// Whether `pid` is a live (not zombie) process running zcluster.
fn alive(pid: u32) -> bool {
    if pid == 0 {
        return false;
    }
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    // The state follows the parenthesised command name.
    let state = stat
        .rsplit_once(')')
        .and_then(|(_, r)| r.split_whitespace().next());
    if matches!(state, Some("Z" | "X") | None) {
        return false;
    }
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|c| String::from_utf8_lossy(&c).contains("zcluster"))
        .unwrap_or(false)
}

fn signal(pid: u32, sig: &str) {
    let _ = Command::new("kill")
        .args([sig, &pid.to_string()])
        .stderr(Stdio::null())
        .status();
}

/// SIGTERM, then SIGKILL for whatever still runs after `grace`. Returns how many had to
/// be killed.
fn terminate(pids: &[u32], grace: Duration, children: &mut [Child]) -> usize {
    for &p in pids {
        if alive(p) {
            signal(p, "-TERM");
        }
    }
    let end = Instant::now() + grace;
    loop {
        for c in children.iter_mut() {
            let _ = c.try_wait();
        }
        if !pids.iter().any(|&p| alive(p)) || Instant::now() >= end {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut killed = 0;
    for &p in pids {
        if alive(p) {
            signal(p, "-KILL");
            killed += 1;
        }
    }
    for c in children.iter_mut() {
        let _ = c.wait();
    }
    killed
}

fn start(a: ClusterStartArgs) -> Res {
    let dir = &a.dir;
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let dir = std::fs::canonicalize(dir).map_err(io(dir))?;
    if let Ok((_, nodes)) = read_state(&dir) {
        if nodes.iter().any(|n| alive(n.pid)) {
            return Err(Failure::new(
                exit::FAILURE,
                format!(
                    "a cluster is already running in {} (zcluster cluster stop --dir {})",
                    dir.display(),
                    dir.display()
                ),
            ));
        }
    }
    let layout_path = match &a.layout {
        Some(p) => std::fs::canonicalize(p)
            .map_err(|e| Failure::new(exit::NOT_FOUND, format!("{}: {e}", p.display())))?,
        None => {
            let p = dir.join("cluster-layout.zeek");
            std::fs::write(&p, default_layout_text()).map_err(io(&p))?;
            p
        }
    };
    let layout = crate::node::load_layout(&layout_path)?;
    let names: Vec<(String, NodeType, u16)> = layout
        .nodes
        .iter()
        .filter(|(_, n)| {
            !matches!(
                n.node_type,
                NodeType::Control | NodeType::TimeMachine | NodeType::None
            )
        })
        .map(|(k, n)| (k.clone(), n.node_type, n.p.number))
        .collect();
    if names.is_empty() {
        return Err(Failure::new(
            exit::BAD_INPUT,
            format!("{}: the layout has no nodes to run", layout_path.display()),
        ));
    }
    let exe = std::env::current_exe()
        .map_err(|e| Failure::new(exit::FAILURE, format!("own executable: {e}")))?;
    let stop = crate::net::stop_flag();
    let (tx, rx) = mpsc::channel::<(usize, String)>();
    let mut children: Vec<Child> = Vec::new();
    let mut states = Vec::new();
    for (i, (name, t, port)) in names.iter().enumerate() {
        let mut cmd = Command::new(&exe);
        cmd.arg("run")
            .arg("--layout")
            .arg(&layout_path)
            .arg("--node")
            .arg(name)
            .arg("--dir")
            .arg(&dir)
            .stdin(Stdio::null());
        if a.events {
            cmd.arg("--events");
        }
        for st in &a.stores {
            cmd.arg("--store").arg(st);
        }
        if a.detach {
            let out = dir.join(format!("{name}.out"));
            let err = dir.join(format!("{name}.err"));
            cmd.stdout(std::fs::File::create(&out).map_err(io(&out))?)
                .stderr(std::fs::File::create(&err).map_err(io(&err))?)
                // Its own process group: a Ctrl-C in this terminal does not reach it.
                .process_group(0);
        } else {
            cmd.stdout(Stdio::piped()).stderr(Stdio::inherit());
        }
        let mut child = match cmd.spawn() {
            Ok(c) => c,
            Err(e) => {
                let pids: Vec<u32> = children.iter().map(|c| c.id()).collect();
                terminate(&pids, Duration::from_secs(5), &mut children);
                return Err(Failure::new(exit::FAILURE, format!("starting {name}: {e}")));
            }
        };
        if let Some(out) = child.stdout.take() {
            let tx = tx.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(out).lines().map_while(Result::ok) {
                    if tx.send((i, line)).is_err() {
                        break;
                    }
                }
            });
        }
        states.push(NodeState {
            name: name.clone(),
            node_type: t.name().to_string(),
            pid: child.id(),
            port: *port,
        });
        children.push(child);
    }
    drop(tx);
    let supervisor = (!a.detach).then(std::process::id);
    write_state(&dir, &layout_path, supervisor, &states)?;

    // Wait for every node's `started` line.
    let n = states.len();
    let mut started = vec![false; n];
    let deadline = Instant::now() + Duration::from_secs_f64(a.timeout.max(0.0));
    let failed = loop {
        let up = started.iter().filter(|s| **s).count();
        if up == n {
            break None;
        }
        progress::show(&format!("starting cluster: {up}/{n} nodes started"));
        if Instant::now() >= deadline {
            break Some((
                exit::TIMEOUT,
                format!("only {up} of {n} nodes started within {:.0}s", a.timeout),
            ));
        }
        if stop.load(Ordering::Relaxed) {
            break Some((exit::FAILURE, "interrupted while starting".to_string()));
        }
        let mut dead = None;
        for (i, c) in children.iter_mut().enumerate() {
            if !started[i] {
                if let Ok(Some(st)) = c.try_wait() {
                    dead = Some((i, st));
                    break;
                }
            }
        }
        if let Some((i, st)) = dead {
            let err = std::fs::read_to_string(dir.join(format!("{}.err", states[i].name)))
                .unwrap_or_default();
            break Some((
                exit::FAILURE,
                format!(
                    "node {} exited ({st}) before it started{}",
                    states[i].name,
                    if err.trim().is_empty() {
                        String::new()
                    } else {
                        format!(": {}", err.trim())
                    }
                ),
            ));
        }
        if a.detach {
            for (i, s) in states.iter().enumerate() {
                if !started[i] {
                    let text = std::fs::read_to_string(dir.join(format!("{}.out", s.name)))
                        .unwrap_or_default();
                    started[i] = text.contains("\"type\":\"started\"");
                }
            }
            std::thread::sleep(Duration::from_millis(50));
        } else if let Ok((i, line)) = rx.recv_timeout(Duration::from_millis(100)) {
            if line.contains("\"type\":\"started\"") {
                started[i] = true;
            }
            progress::clear();
            println!("[{:<10}] {line}", states[i].name);
        }
    };
    progress::clear();
    if let Some((code, msg)) = failed {
        let pids: Vec<u32> = states.iter().map(|s| s.pid).collect();
        terminate(&pids, Duration::from_secs(5), &mut children);
        let _ = std::fs::remove_file(dir.join(STATE));
        return Err(Failure::new(code, msg));
    }
    println!(
        "cluster started: {n} nodes from {} (state in {}; stop with `zcluster cluster stop --dir {}`{})",
        layout_path.display(),
        dir.display(),
        dir.display(),
        if a.detach { "" } else { " or Ctrl-C" }
    );
    if a.detach {
        return Ok(());
    }
    // Foreground: relay the nodes' lines until a signal or until every node exited.
    let mut exited = vec![false; n];
    while !stop.load(Ordering::Relaxed) {
        if let Ok((i, line)) = rx.recv_timeout(Duration::from_millis(100)) {
            println!("[{:<10}] {line}", states[i].name);
        }
        for (i, c) in children.iter_mut().enumerate() {
            if !exited[i] {
                if let Ok(Some(st)) = c.try_wait() {
                    exited[i] = true;
                    println!("[{:<10}] exited ({st})", states[i].name);
                }
            }
        }
        if exited.iter().all(|e| *e) {
            break;
        }
    }
    let pids: Vec<u32> = states.iter().map(|s| s.pid).collect();
    let killed = terminate(&pids, Duration::from_secs(10), &mut children);
    while let Ok((i, line)) = rx.recv_timeout(Duration::from_millis(100)) {
        println!("[{:<10}] {line}", states[i].name);
    }
    let _ = std::fs::remove_file(dir.join(STATE));
    println!(
        "cluster stopped{}",
        if killed > 0 {
            format!(" ({killed} nodes needed SIGKILL)")
        } else {
            String::new()
        }
    );
    Ok(())
}

fn status(a: ClusterDirArgs) -> Res {
    let (sup, nodes) = read_state(&a.dir)?;
    let down: Vec<&NodeState> = nodes.iter().filter(|n| !alive(n.pid)).collect();
    if a.json {
        let list = nodes
            .iter()
            .map(|n| {
                J::object(vec![
                    ("name", J::string(n.name.clone())),
                    ("node_type", J::string(n.node_type.clone())),
                    ("pid", J::from(n.pid as u64)),
                    ("port", J::from(n.port as u64)),
                    ("running", J::Bool(alive(n.pid))),
                ])
            })
            .collect();
        println!(
            "{}",
            J::object(vec![
                (
                    "supervisor",
                    sup.map(|p| J::from(p as u64)).unwrap_or(J::Null)
                ),
                ("nodes", J::Array(list)),
            ])
            .to_compact()
        );
    } else {
        let w = nodes.iter().map(|n| n.name.len()).max().unwrap_or(4).max(4);
        println!(
            "{:<w$}  {:<8}  {:>7}  {:>5}  STATE",
            "NAME", "TYPE", "PID", "PORT"
        );
        for n in &nodes {
            println!(
                "{:<w$}  {:<8}  {:>7}  {:>5}  {}",
                n.name,
                n.node_type,
                n.pid,
                n.port,
                if alive(n.pid) { "running" } else { "stopped" }
            );
        }
    }
    if !down.is_empty() {
        return Err(Failure::new(
            exit::UNREACHABLE,
            format!(
                "{} of {} nodes not running: {}",
                down.len(),
                nodes.len(),
                down.iter()
                    .map(|n| n.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ));
    }
    Ok(())
}

fn stop(a: ClusterStopArgs) -> Res {
    let (sup, nodes) = read_state(&a.dir)?;
    let mut pids: Vec<u32> = nodes.iter().map(|n| n.pid).collect();
    if let Some(s) = sup {
        pids.push(s);
    }
    let running = nodes.iter().filter(|n| alive(n.pid)).count();
    let killed = terminate(&pids, Duration::from_secs_f64(a.grace.max(0.0)), &mut []);
    // A foreground supervisor removes the state file itself; make sure it is gone.
    let _ = std::fs::remove_file(PathBuf::from(&a.dir).join(STATE));
    println!(
        "stopped {running} of {} nodes{}",
        nodes.len(),
        if killed > 0 {
            format!(" ({killed} needed SIGKILL)")
        } else {
            String::new()
        }
    );
    Ok(())
}
