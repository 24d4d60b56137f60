//! `zcluster options`: the catalogue as a listing and as docs/options.md, and values
//! checked with the library's grammar, run as a user would.

use std::process::Command;

#[path = "common/watchdog.rs"]
mod watchdog;

fn zcluster(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_zcluster"))
        .args(args)
        .output()
        .expect("run zcluster");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn lists_every_option_and_prints_the_docs() {
    let (rc, out, _) = zcluster(&["options"]);
    assert_eq!(rc, 0);
    for s in zcluster::options::all() {
        assert!(
            out.contains(&format!(" {} ", s.name)) || out.contains(&format!(" {} (", s.name)),
            "{}",
            s.name
        );
    }
    let (rc, md, _) = zcluster(&["options", "--markdown"]);
    assert_eq!(rc, 0);
    let file =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/options.md")).unwrap();
    assert_eq!(md, file);
    let (rc, out, _) = zcluster(&["options", "--scope", "websocket"]);
    assert_eq!(rc, 0);
    assert!(
        out.contains("listen_port (port, default 27759/tcp)"),
        "{out}"
    );
    assert!(!out.contains("Cluster::retry_interval"));
    let (rc, _, err) = zcluster(&["options", "--scope", "nope"]);
    assert_eq!(rc, 2, "{err}");
}

#[test]
fn checks_values_with_the_librarys_grammar() {
    let (rc, out, err) = zcluster(&["options", "Cluster::retry_interval", "90"]);
    assert_eq!((rc, out.as_str()), (0, "1.0 min 30.0 secs\n"), "{err}");
    let (rc, out, _) = zcluster(&["options", "handshake_timeout", "1.5e3 msecs"]);
    assert_eq!((rc, out.as_str()), (0, "1.0 sec 500.0 msecs\n"));
    let (rc, out, _) = zcluster(&[
        "options",
        "--scope",
        "cluster",
        "Cluster::backend",
        "zeromq",
    ]);
    assert_eq!((rc, out.as_str()), (0, "Cluster::CLUSTER_BACKEND_ZEROMQ\n"));
    // Broker::disable_ssl is a cluster and an endpoint option.
    let (rc, out, _) = zcluster(&["options", "Broker::disable_ssl"]);
    assert_eq!(rc, 0);
    assert!(
        out.starts_with("cluster   Broker::disable_ssl (bool, default F)"),
        "{out}"
    );
    assert!(
        out.contains("endpoint  Broker::disable_ssl | broker.disable-ssl (bool, default F)"),
        "{out}"
    );
    let (rc, _, err) = zcluster(&["options", "listen_port", "nope"]);
    assert_eq!(rc, 3);
    assert_eq!(err, "zcluster: option listen_port: \"nope\" is not a port (expected a port such as 27760/tcp)\n");
    let (rc, _, err) = zcluster(&["options", "Cluster::retry_intervl"]);
    assert_eq!(rc, 6);
    assert_eq!(err, "zcluster: unknown option \"Cluster::retry_intervl\" (did you mean Cluster::retry_interval? `zcluster options` lists them all)\n");
}

#[test]
fn run_takes_options_in_the_same_grammar() {
    use std::io::{BufRead, BufReader};
    let dir = std::env::temp_dir().join(format!("zc-options-cmd-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let layout = dir.join("cluster-layout.zeek");
    std::fs::write(
        &layout,
        "redef Cluster::nodes = {\n  [\"manager\"] = [$node_type=Cluster::MANAGER, $ip=127.0.0.1, $p=0/tcp],\n};\n",
    )
    .unwrap();
    let l = layout.to_str().unwrap();
    // The node's name from an option (no --node, no CLUSTER_NODE).
    let mut child = Command::new(env!("CARGO_BIN_EXE_zcluster"))
        .args(["run", "--layout", l, "--dir"])
        .arg(&dir)
        .args([
            "-o",
            "Cluster::node=manager",
            "--option",
            "Cluster::retry_interval=250 msecs",
        ])
        .env_remove("CLUSTER_NODE")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let _watchdog = watchdog::Watchdog::new(&child, std::time::Duration::from_secs(60));
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        line.starts_with("{\"type\":\"started\",\"node\":\"manager\",\"node_type\":\"MANAGER\""),
        "{line}"
    );
    for (opt, rc, want) in [
        ("Cluster::retry_interval=soon", 3, "zcluster: option Cluster::retry_interval: \"soon\" is not an interval"),
        ("Cluster::retry_intervl=1", 6, "zcluster: unknown option \"Cluster::retry_intervl\" (did you mean Cluster::retry_interval?"),
        ("nonsense", 2, "zcluster: --option nonsense: expected NAME=VALUE"),
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_zcluster"))
            .args(["run", "--layout", l, "--node", "manager", "-o", opt])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(rc), "{opt}: {err}");
        assert!(err.starts_with(want), "{opt}: {err}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
