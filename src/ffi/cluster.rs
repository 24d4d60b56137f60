//! The cluster handle in C: so far its identity parts (node name and type, node id,
//! topics, options). Endpoint, start, publish and stores extend it later.

use super::handle::{kind, Registry};
use super::layout::{zc_layout, zc_node_type, LAYOUTS};
use super::options::{zc_options, OPTIONS};
use super::strings::{arg_opt_str, arg_str, give_string};
use super::{guard, guard_value, guard_void, out_ptr, write_out, zc_result};
use crate::cluster::{Cluster, Options};
use std::os::raw::c_char;

/// A process's view of a cluster: layout, effective options, and who this process is.
/// May be shared between threads.
pub struct zc_cluster {
    _private: [u8; 0],
}

pub(crate) static CLUSTERS: Registry<Cluster> = Registry::new(kind::CLUSTER, "zc_cluster");

/// Creates the cluster view of `layout` for node `node_name`; NULL takes the name from a
/// set `Cluster::node` option, else from the `CLUSTER_NODE` environment variable (unset or
/// empty: the cluster is not enabled). `opts` may be NULL (defaults); its settings are
/// copied and apply over the layout's redefs, which apply over the defaults.
/// `ZEEK_DEFAULT_CONNECT_RETRY` is read here. On success `*out` is a new handle (free with
/// `zc_cluster_free`); the layout and options may be freed afterwards. Errors:
/// ZC_ERR_NULL, ZC_ERR_UTF8, ZC_ERR_BAD_HANDLE, ZC_ERR_NOT_FOUND (the name is not in the
/// layout), ZC_ERR_IO (no randomness for the node id). Any thread.
#[no_mangle]
pub unsafe extern "C" fn zc_cluster_new(
    layout: *const zc_layout,
    node_name: *const c_char,
    opts: *const zc_options,
    out: *mut *mut zc_cluster,
) -> zc_result {
    guard(|| {
        out_ptr(out, "out")?;
        let l = LAYOUTS.get(layout)?;
        let name = arg_opt_str(node_name, "node_name")?;
        let options = if opts.is_null() {
            Options::new()
        } else {
            OPTIONS.get(opts)?.lock().clone()
        };
        let cl = Cluster::new(l, name, &options)?;
        write_out(out, CLUSTERS.insert(cl));
        Ok(())
    })
}

/// Frees a cluster handle. NULL is a no-op.
#[no_mangle]
pub unsafe extern "C" fn zc_cluster_free(cl: *mut zc_cluster) {
    guard_void(|| CLUSTERS.free(cl));
}

/// `Cluster::is_enabled()`: true iff a node name is set. A NULL or bad handle gives false
/// and sets `zc_last_error`.
#[no_mangle]
pub unsafe extern "C" fn zc_cluster_is_enabled(cl: *const zc_cluster) -> bool {
    guard_value(false, || Ok(CLUSTERS.get(cl)?.is_enabled()))
}

/// `Cluster::local_node_type()`: ZC_NODE_NONE when the cluster is not enabled.
/// Errors: ZC_ERR_NULL, ZC_ERR_BAD_HANDLE.
#[no_mangle]
pub unsafe extern "C" fn zc_cluster_local_node_type(
    cl: *const zc_cluster,
    out: *mut zc_node_type,
) -> zc_result {
    guard(|| {
        out_ptr(out, "out")?;
        write_out(out, zc_node_type::from(CLUSTERS.get(cl)?.local_node_type()));
        Ok(())
    })
}

/// `Cluster::node`: this node's name ("" when not enabled), freed with `zc_string_free`.
/// Errors: ZC_ERR_NULL, ZC_ERR_BAD_HANDLE.
#[no_mangle]
pub unsafe extern "C" fn zc_cluster_node_name(
    cl: *const zc_cluster,
    out: *mut *mut c_char,
) -> zc_result {
    guard(|| {
        out_ptr(out, "out")?;
        write_out(out, give_string(CLUSTERS.get(cl)?.node_name()));
        Ok(())
    })
}

/// This node's id: a random UUID (v4) in Broker's text form, fixed for the handle's
/// lifetime; freed with `zc_string_free`. Errors: ZC_ERR_NULL, ZC_ERR_BAD_HANDLE.
#[no_mangle]
pub unsafe extern "C" fn zc_cluster_node_id(
    cl: *const zc_cluster,
    out: *mut *mut c_char,
) -> zc_result {
    guard(|| {
        out_ptr(out, "out")?;
        write_out(out, give_string(CLUSTERS.get(cl)?.node_id()));
        Ok(())
    })
}

/// `Cluster::node_topic(name)`: `node_topic_prefix + name + "/"`
/// ("zeek/cluster/node/manager/"), freed with `zc_string_free`. Errors: ZC_ERR_NULL,
/// ZC_ERR_UTF8, ZC_ERR_BAD_HANDLE.
#[no_mangle]
pub unsafe extern "C" fn zc_cluster_node_topic(
    cl: *const zc_cluster,
    name: *const c_char,
    out: *mut *mut c_char,
) -> zc_result {
    guard(|| {
        out_ptr(out, "out")?;
        let c = CLUSTERS.get(cl)?;
        let name = arg_str(name, "name")?;
        write_out(out, give_string(&c.node_topic(name)));
        Ok(())
    })
}

/// `Cluster::nodeid_topic(id)`: `nodeid_topic_prefix + id + "/"`, freed with
/// `zc_string_free`. Errors: ZC_ERR_NULL, ZC_ERR_UTF8, ZC_ERR_BAD_HANDLE.
#[no_mangle]
pub unsafe extern "C" fn zc_cluster_nodeid_topic(
    cl: *const zc_cluster,
    id: *const c_char,
    out: *mut *mut c_char,
) -> zc_result {
    guard(|| {
        out_ptr(out, "out")?;
        let c = CLUSTERS.get(cl)?;
        let id = arg_str(id, "id")?;
        write_out(out, give_string(&c.nodeid_topic(id)));
        Ok(())
    })
}

/// The effective value of option `key` (defaults < layout redefs < explicit options), as
/// text like `zc_options_get`. Errors: ZC_ERR_NULL, ZC_ERR_UTF8, ZC_ERR_BAD_HANDLE,
/// ZC_ERR_NOT_FOUND.
#[no_mangle]
pub unsafe extern "C" fn zc_cluster_option_get(
    cl: *const zc_cluster,
    key: *const c_char,
    out: *mut *mut c_char,
) -> zc_result {
    guard(|| {
        out_ptr(out, "out")?;
        let c = CLUSTERS.get(cl)?;
        let key = arg_str(key, "key")?;
        write_out(out, give_string(&c.options().get_text(key)?));
        Ok(())
    })
}

/// The retry interval peerings will use, in whole seconds: `Cluster::retry_interval`, or
/// `ZEEK_DEFAULT_CONNECT_RETRY` (read like C's atoi) when set at `zc_cluster_new`; a
/// value between 0 and 1 s counts as 1 s, as in Zeek. Errors: ZC_ERR_NULL,
/// ZC_ERR_BAD_HANDLE.
#[no_mangle]
pub unsafe extern "C" fn zc_cluster_peer_retry(cl: *const zc_cluster, out: *mut u64) -> zc_result {
    guard(|| {
        out_ptr(out, "out")?;
        write_out(out, CLUSTERS.get(cl)?.peer_retry().as_secs());
        Ok(())
    })
}

/// `Cluster::worker_count`: the number of connected workers. Always 0 until the cluster
/// connects to peers (later work). Errors: ZC_ERR_NULL, ZC_ERR_BAD_HANDLE.
#[no_mangle]
pub unsafe extern "C" fn zc_cluster_worker_count(
    cl: *const zc_cluster,
    out: *mut u64,
) -> zc_result {
    guard(|| {
        out_ptr(out, "out")?;
        write_out(out, CLUSTERS.get(cl)?.worker_count());
        Ok(())
    })
}
