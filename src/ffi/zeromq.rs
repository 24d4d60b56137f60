//! Zeek's ZeroMQ cluster backend in C: which backend a cluster node speaks, the backend's
//! counters, and the XPUB/XSUB proxy run on its own (the manager runs one by itself).

use super::cluster::{zc_cluster, CLUSTERS};
use super::handle::{kind, Registry};
use super::options::{zc_options, OPTIONS};
use super::strings::{arg_str, give_string};
use super::{guard, guard_void, out_ptr, write_out, zc_result};
use crate::cluster::{ClusterBackend, Options};
use crate::zeromq::Proxy;
use std::os::raw::c_char;

/// `Cluster::backend`.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum zc_cluster_backend {
    ZC_CLUSTER_BACKEND_BROKER = 0,
    ZC_CLUSTER_BACKEND_ZEROMQ = 1,
}

/// Which backend the node speaks (`Cluster::backend` from the options and the layout;
/// a ZeekControl directory's zeekctl-config.zeek selects ZeroMQ). Any thread.
/// Errors: ZC_ERR_NULL, ZC_ERR_BAD_HANDLE.
#[no_mangle]
pub unsafe extern "C" fn zc_cluster_backend_get(
    cl: *const zc_cluster,
    out: *mut zc_cluster_backend,
) -> zc_result {
    guard(|| {
        out_ptr(out, "out")?;
        let c = CLUSTERS.get(cl)?;
        write_out(
            out,
            match c.backend() {
                ClusterBackend::Broker => zc_cluster_backend::ZC_CLUSTER_BACKEND_BROKER,
                ClusterBackend::ZeroMQ => zc_cluster_backend::ZC_CLUSTER_BACKEND_ZEROMQ,
            },
        );
        Ok(())
    })
}

/// One counter of a started ZeroMQ node by name (`msg_errors`, `wrong_format`,
/// `undecodable`, `unsubscribed`, `own_dropped`, `xpub_drops`, `xpub_blocked`,
/// `held_until_ready`, `events_sent`, `events_received`, `events_read_by_host`,
/// `subscriptions_seen`, `unsubscriptions_seen`, `logs_sent`, `logs_received`,
/// `logs_unhandled`, `logs_blocked`, `logs_malformed`, `log_records_received`,
/// `handshake_failures`, `warnings`, `ready`). Errors: ZC_ERR_NULL, ZC_ERR_UTF8,
/// ZC_ERR_BAD_HANDLE, ZC_ERR_STATE (not started, or a Broker node), ZC_ERR_NOT_FOUND
/// (no such counter).
#[no_mangle]
pub unsafe extern "C" fn zc_cluster_zeromq_stat(
    cl: *const zc_cluster,
    name: *const c_char,
    out: *mut u64,
) -> zc_result {
    guard(|| {
        out_ptr(out, "out")?;
        let c = CLUSTERS.get(cl)?;
        let name = arg_str(name, "name")?;
        let st = c.running()?.zeromq_stats()?;
        let v = st
            .get(name)
            .ok_or_else(|| crate::Error::not_found(format!("no ZeroMQ counter named '{name}'")))?;
        write_out(out, v);
        Ok(())
    })
}

/// Every counter of a started ZeroMQ node as text, one `name value` line each; free with
/// `zc_string_free`. Errors as `zc_cluster_zeromq_stat`.
#[no_mangle]
pub unsafe extern "C" fn zc_cluster_zeromq_stats(
    cl: *const zc_cluster,
    out: *mut *mut c_char,
) -> zc_result {
    guard(|| {
        out_ptr(out, "out")?;
        let c = CLUSTERS.get(cl)?;
        let st = c.running()?.zeromq_stats()?;
        let text: String = st
            .snapshot()
            .iter()
            .map(|(n, v)| format!("{n} {v}\n"))
            .collect();
        write_out(out, give_string(&text));
        Ok(())
    })
}

/// A running XPUB/XSUB proxy (Zeek's `run_proxy_thread`, run on its own).
pub struct zc_zeromq_proxy {
    _private: [u8; 0],
}

static PROXIES: Registry<Proxy> = Registry::new(kind::ZMQ_PROXY, "zc_zeromq_proxy");

/// Starts a proxy as `opts` describe (`Cluster::Backend::ZeroMQ::listen_xpub_endpoint`,
/// `listen_xsub_endpoint`, `listen_xpub_nodrop`, `ipv6`, the CURVE keys or Zeek's
/// `ZEEK_CLUSTER_BACKEND_ZEROMQ_CURVE_*` environment variables); NULL: Zeek's defaults
/// (XPUB tcp://127.0.0.1:5555, XSUB tcp://127.0.0.1:5556). Both sockets are bound when
/// this returns. Free with `zc_zeromq_proxy_free`. Errors: ZC_ERR_NULL,
/// ZC_ERR_BAD_HANDLE, ZC_ERR_INVALID (bad keys), ZC_ERR_IO (cannot bind). Any thread.
#[no_mangle]
pub unsafe extern "C" fn zc_zeromq_proxy_start(
    opts: *const zc_options,
    out: *mut *mut zc_zeromq_proxy,
) -> zc_result {
    guard(|| {
        out_ptr(out, "out")?;
        let o = if opts.is_null() {
            Options::new()
        } else {
            OPTIONS.get(opts)?.lock().clone()
        };
        let p = Proxy::from_options(&o)?;
        write_out(out, PROXIES.insert(p));
        Ok(())
    })
}

/// The bound XPUB (`xpub` true; nodes connect their XSUB there) or XSUB endpoint, freed
/// with `zc_string_free`. Errors: ZC_ERR_NULL, ZC_ERR_BAD_HANDLE.
#[no_mangle]
pub unsafe extern "C" fn zc_zeromq_proxy_endpoint(
    p: *const zc_zeromq_proxy,
    xpub: bool,
    out: *mut *mut c_char,
) -> zc_result {
    guard(|| {
        out_ptr(out, "out")?;
        let p = PROXIES.get(p)?;
        let e = if xpub {
            p.xpub_endpoint()
        } else {
            p.xsub_endpoint()
        };
        write_out(out, give_string(e));
        Ok(())
    })
}

/// Stops the proxy (connected nodes see their connections drop) and frees the handle.
/// NULL is a no-op. Any thread.
#[no_mangle]
pub unsafe extern "C" fn zc_zeromq_proxy_free(p: *mut zc_zeromq_proxy) {
    guard_void(|| {
        if p.is_null() {
            return Ok(());
        }
        PROXIES.remove(p)?.shutdown();
        Ok(())
    })
}

/// Loads a layout file (as `zc_layout_load`) and applies the cluster settings of a
/// ZeekControl `zeekctl-config.zeek` on top: the cluster backend its `@load` selects
/// (ZeekControl 8.1+ writes `@load policy/frameworks/cluster/backend/zeromq/options`),
/// its `Cluster::` redefs (the `Cluster::Backend::ZeroMQ::*_endpoint`s, CURVE keys under
/// `@if ( |...| == 0 )`). `zc_layout_load` of the directory holding both files does the
/// same. Errors: ZC_ERR_NULL, ZC_ERR_UTF8, ZC_ERR_NOT_FOUND / ZC_ERR_IO, ZC_ERR_PARSE
/// (either file, with its line), ZC_ERR_INVALID_ARGUMENT. Any thread.
#[no_mangle]
pub unsafe extern "C" fn zc_layout_load_with_zeekctl_config(
    layout_path: *const c_char,
    config_path: *const c_char,
    out: *mut *mut super::layout::zc_layout,
) -> zc_result {
    guard(|| {
        out_ptr(out, "out")?;
        let lp = arg_str(layout_path, "layout_path")?;
        let cp = arg_str(config_path, "config_path")?;
        let mut layout = crate::layout::Layout::load(lp)?;
        layout.load_zeekctl_config(cp)?;
        write_out(out, super::layout::LAYOUTS.insert(layout));
        Ok(())
    })
}
