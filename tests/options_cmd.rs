//! `zcluster options`: the catalogue as a listing and as docs/options.md, and values
//! checked with the library's grammar, run as a user would.

use std::process::Command;

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
