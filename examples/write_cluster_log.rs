//! Writes a sample `cluster.log` (Zeek ASCII, or JSON with `--json`) into a directory, for
//! checking with third-party readers: `tests/zeeklog/check_with_zat.py DIR/cluster.log`.
//!
//!     cargo run --example write_cluster_log -- DIR [--json]

use zcluster::data::Value;
use zcluster::log::{cluster_log_fields, cluster_log_record, LogFormat, LogWriter};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let dir = args.next().ok_or("usage: write_cluster_log DIR [--json]")?;
    let fmt = if args.next().as_deref() == Some("--json") {
        LogFormat::Json
    } else {
        LogFormat::Ascii
    };
    let mut w = LogWriter::new(&dir, "cluster", cluster_log_fields(), fmt, None)?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_nanos() as i64;
    w.write(&cluster_log_record(
        now,
        "manager",
        "got hello from worker-1 (a1b2c3)",
    ))?;
    w.write(&cluster_log_record(
        now + 1_000,
        "worker-1",
        "tab\there, comma and \u{fc}nicode",
    ))?;
    w.write(&[
        Value::Timestamp(now + 2_000),
        Value::string("logger-1"),
        Value::String(b"bad \xff byte".to_vec()),
    ])?;
    w.write(&cluster_log_record(now + 3_000, "proxy-1", "-"))?;
    w.close()?;
    println!("{}/cluster.log", dir);
    Ok(())
}
