//! The README's main job runs: five node processes form the default cluster, events flow,
//! a worker is stopped and seen going down, and cluster.log is written in Zeek's format.

use std::process::Command;

#[test]
fn demo_runs_end_to_end() {
    let dir = std::env::temp_dir().join(format!("zc-demo-test-{}", std::process::id()));
    let out = Command::new(env!("CARGO_BIN_EXE_zcluster"))
        .args(["cluster", "demo"])
        .arg("--dir")
        .arg(&dir)
        .output()
        .expect("run the demo");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "demo failed: {text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for want in [
        "[manager ] node_up worker-1",
        "[manager ] node_up logger-1",
        "got Demo::ping on zeek/cluster/worker",
        "through the worker pool (HRW)",
        "[manager ] all workers answered",
        "[manager ] node_down worker-2 (worker_count 1)",
        "#fields\tts\tnode\tmessage",
        "\tworker-1\tworker-1 got the manager's ping",
        "\tmanager\tnode down: worker-2",
        "#close\t",
        "demo finished",
    ] {
        assert!(text.contains(want), "demo output lacks {want:?}:\n{text}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
