//! `zcluster zeromq-proxy`: Zeek's ZeroMQ XPUB/XSUB proxy as a process of its own (Zeek's
//! docs allow a non-Zeek proxy; `options.zeek`). Prints
//! `{"type":"started","xpub":EP,"xsub":EP,"io_threads":N}` once both sockets are bound,
//! then `{"type":"stopped"}` after SIGINT / SIGTERM.

use crate::cli::ZeromqProxyArgs;
use crate::{exit, Failure, Res};
use std::io::Write;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use zcluster::cluster::{Cluster, Options};
use zcluster::json::JsonValue as J;

pub fn main(a: ZeromqProxyArgs) -> Res {
    let mut opts = match &a.layout {
        Some(p) => {
            let layout = Arc::new(crate::node::load_layout(p)?);
            Cluster::with_env(layout, None, &Options::new(), None, None)?
                .options()
                .clone()
        }
        None => Options::new(),
    };
    for (name, v) in [
        ("listen_xpub_endpoint", &a.xpub),
        ("listen_xsub_endpoint", &a.xsub),
    ] {
        if let Some(v) = v {
            opts.set(&format!("Cluster::Backend::ZeroMQ::{name}"), v)
                .map_err(|e| Failure::new(exit::BAD_INPUT, e.message))?;
        }
    }
    let stop = crate::net::stop_flag();
    let proxy = zcluster::zeromq::Proxy::from_options(&opts)?;
    let mut out = std::io::stdout();
    let started = J::object(vec![
        ("type", J::from("started")),
        ("xpub", J::from(proxy.xpub_endpoint())),
        ("xsub", J::from(proxy.xsub_endpoint())),
        ("io_threads", J::from(proxy.io_threads() as i64)),
    ]);
    let _ = writeln!(out, "{}", started.to_compact());
    let _ = out.flush();
    while !stop.load(Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(50));
    }
    proxy.shutdown();
    let _ = writeln!(
        out,
        "{}",
        J::object(vec![("type", J::from("stopped"))]).to_compact()
    );
    Ok(())
}
