//! The cluster handle in C: identity (node name and type, node id, topics, options) and,
//! once started, the running node: publish/subscribe, messages (the endpoint layer's
//! `zc_message` handles, with HELLO / NODE_UP / NODE_DOWN), pools and `Cluster::log`.
//!
//! Threading: a cluster handle may be shared between host threads. The node's I/O thread
//! never runs host code: callbacks run inside `zc_cluster_poll` on the calling thread.

use super::endpoint::{
    message_callback, next_message, zc_message, zc_message_cb, zc_userdata_free_cb,
};
use super::event::{event_bytes_from_handle, event_from_handle, zc_event};
use super::handle::{kind, Registry};
use super::layout::{give_strings, zc_layout, zc_node_type, LAYOUTS};
use super::options::{zc_options, OPTIONS};
use super::strings::{arg_opt_str, arg_str, give_string};
use super::value::{value_from_handle, zc_value};
use super::{guard, guard_value, guard_void, out_ptr, write_out, zc_result};
use crate::cluster::{Cluster, Options};
use std::os::raw::{c_char, c_int, c_void};
use std::path::PathBuf;
use std::time::Duration;

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

/// Frees a cluster handle. NULL is a no-op. A started node shuts down: its endpoint
/// flushes within its shutdown timeout, closes its sockets (peers see the node go down)
/// and joins its I/O thread; cluster.log is closed; the callback's `userdata_free` runs.
/// Calls blocked in `zc_cluster_next` on other threads return ZC_ERR_CLOSED; later calls
/// with the handle give ZC_ERR_BAD_HANDLE. Any thread.
#[no_mangle]
pub unsafe extern "C" fn zc_cluster_free(cl: *mut zc_cluster) {
    guard_void(|| {
        if cl.is_null() {
            return Ok(());
        }
        let c = CLUSTERS.remove(cl)?;
        if let Ok(rt) = c.running() {
            rt.shutdown();
        }
        Ok(())
    });
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

/// `Cluster::worker_count`: the number of workers connected now (that said hello and
/// have not gone down); 0 before `zc_cluster_start`. Any thread.
/// Errors: ZC_ERR_NULL, ZC_ERR_BAD_HANDLE.
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

/// Starts the node: subscribes its role's topics (role, `node_topic(self)`,
/// `nodeid_topic(id)`, its pools, and `zeek/logs/` on the node that writes logs), listens
/// on its `$p`, and peers with the nodes its role peers with (Zeek's Broker matrix),
/// retrying on `Cluster::retry_interval`. From then on hellos are exchanged on the
/// node's own I/O thread and arrive as HELLO / NODE_UP / NODE_DOWN messages. cluster.log,
/// on a logger (or the manager with `manager_is_logger`), goes to the working directory.
/// Returns once listening and the peerings are under way. Any thread.
/// Errors: ZC_ERR_NULL, ZC_ERR_BAD_HANDLE, ZC_ERR_STATE (already started, or the cluster is
/// not enabled), ZC_ERR_IO (the port is in use, cluster.log cannot be created).
#[no_mangle]
pub unsafe extern "C" fn zc_cluster_start(cl: *const zc_cluster) -> zc_result {
    guard(|| CLUSTERS.get(cl)?.start())
}

/// `zc_cluster_start`, writing cluster.log into the directory `log_dir` (which must
/// exist; NULL: the working directory) when this node writes logs. The string is copied.
/// Errors: as `zc_cluster_start`, plus ZC_ERR_UTF8.
#[no_mangle]
pub unsafe extern "C" fn zc_cluster_start_in(
    cl: *const zc_cluster,
    log_dir: *const c_char,
) -> zc_result {
    guard(|| {
        let c = CLUSTERS.get(cl)?;
        let dir = arg_opt_str(log_dir, "log_dir")?;
        c.start_in(dir.map(PathBuf::from))
    })
}

/// `Cluster::publish(topic, event)`: sends the event to every peer subscribed to a
/// prefix of `topic` (one hop: nodes do not forward). The event is copied; the caller
/// keeps owning it. Under backpressure it waits up to the backpressure timeout for room.
/// Any thread. Errors: ZC_ERR_NULL, ZC_ERR_UTF8, ZC_ERR_BAD_HANDLE, ZC_ERR_STATE (not
/// started), ZC_ERR_INVALID_ARGUMENT (topic too long or reserved), ZC_ERR_WOULD_BLOCK,
/// ZC_ERR_CLOSED.
#[no_mangle]
pub unsafe extern "C" fn zc_cluster_publish(
    cl: *const zc_cluster,
    topic: *const c_char,
    event: *const zc_event,
) -> zc_result {
    guard(|| {
        let c = CLUSTERS.get(cl)?;
        let topic = arg_str(topic, "topic")?;
        // Encoded under the handle's lock: no copy of the event.
        let payload = event_bytes_from_handle(event)?;
        c.running()?.publish_encoded(topic, payload)
    })
}

/// Subscribes the node to a topic prefix besides its role's (byte-prefix match, as
/// Broker's); peers learn it and send matching events. Any thread.
/// Errors: ZC_ERR_NULL, ZC_ERR_UTF8, ZC_ERR_BAD_HANDLE, ZC_ERR_STATE (not started),
/// ZC_ERR_CLOSED.
#[no_mangle]
pub unsafe extern "C" fn zc_cluster_subscribe(
    cl: *const zc_cluster,
    topic_prefix: *const c_char,
) -> zc_result {
    guard(|| {
        let c = CLUSTERS.get(cl)?;
        let t = arg_str(topic_prefix, "topic_prefix")?;
        c.running()?.endpoint().subscribe(t)
    })
}

/// Withdraws a subscription (also one of the role's own topics, if asked). Any thread.
/// Errors: ZC_ERR_NULL, ZC_ERR_UTF8, ZC_ERR_BAD_HANDLE, ZC_ERR_STATE (not started),
/// ZC_ERR_CLOSED.
#[no_mangle]
pub unsafe extern "C" fn zc_cluster_unsubscribe(
    cl: *const zc_cluster,
    topic_prefix: *const c_char,
) -> zc_result {
    guard(|| {
        let c = CLUSTERS.get(cl)?;
        let t = arg_str(topic_prefix, "topic_prefix")?;
        c.running()?.endpoint().unsubscribe(t)
    })
}

/// A descriptor readable exactly while messages wait (level-triggered), for
/// select/poll/epoll loops. Owned by the node: do not read or close it; it stays valid
/// until `zc_cluster_free`. Errors: ZC_ERR_NULL, ZC_ERR_BAD_HANDLE, ZC_ERR_STATE.
#[no_mangle]
pub unsafe extern "C" fn zc_cluster_fd(cl: *const zc_cluster, out: *mut c_int) -> zc_result {
    guard(|| {
        out_ptr(out, "out")?;
        let c = CLUSTERS.get(cl)?;
        write_out(out, c.running()?.endpoint().fd());
        Ok(())
    })
}

/// Takes the next message: events on subscribed topics, peer statuses, and the cluster
/// kinds HELLO / NODE_UP / NODE_DOWN (`zc_message_node_name`, `zc_message_peer_id`;
/// `zc_message_text` holds the node's id). `timeout_ms` 0 returns at once, < 0 waits
/// without limit (until a message arrives or the cluster is freed). The caller owns
/// `*out` (`zc_message_free`). Any thread.
/// Errors: ZC_ERR_NULL, ZC_ERR_BAD_HANDLE, ZC_ERR_STATE (not started), ZC_ERR_TIMEOUT,
/// ZC_ERR_CLOSED (freed by another thread while waiting).
#[no_mangle]
pub unsafe extern "C" fn zc_cluster_next(
    cl: *const zc_cluster,
    timeout_ms: i64,
    out: *mut *mut zc_message,
) -> zc_result {
    guard(|| {
        out_ptr(out, "out")?;
        let c = CLUSTERS.get(cl)?;
        let rt = c.running()?;
        write_out(
            out,
            next_message(rt.endpoint(), timeout_ms, "cluster node")?,
        );
        Ok(())
    })
}

/// Sets the callback `zc_cluster_poll` runs for each message (NULL `cb` clears it); the
/// previous callback's `userdata_free` runs, and this one's runs exactly once: when it is
/// replaced, when the cluster is freed, or at once if the call fails. No internal lock is
/// held while the callback runs, so it may call any `zc_*` function except
/// `zc_cluster_poll` / `zc_cluster_set_callback` on the same cluster.
/// Errors: ZC_ERR_BAD_HANDLE, ZC_ERR_NULL (NULL handle), ZC_ERR_STATE (not started).
#[no_mangle]
pub unsafe extern "C" fn zc_cluster_set_callback(
    cl: *const zc_cluster,
    cb: zc_message_cb,
    userdata: *mut c_void,
    userdata_free: zc_userdata_free_cb,
) -> zc_result {
    let callback = message_callback(cb, userdata, userdata_free);
    guard(move || {
        let c = CLUSTERS.get(cl)?;
        c.running()?.endpoint().set_callback(callback);
        Ok(())
    })
}

/// Runs the callback for every waiting message on the calling thread, waiting up to
/// `timeout_ms` for the first (0 or less: do not wait). Writes how many were handled to
/// `*handled` (may be NULL). Without a callback nothing is taken.
/// Errors: ZC_ERR_NULL, ZC_ERR_BAD_HANDLE, ZC_ERR_STATE (not started).
#[no_mangle]
pub unsafe extern "C" fn zc_cluster_poll(
    cl: *const zc_cluster,
    timeout_ms: i64,
    handled: *mut usize,
) -> zc_result {
    guard(|| {
        let c = CLUSTERS.get(cl)?;
        let n = c
            .running()?
            .endpoint()
            .poll(Duration::from_millis(timeout_ms.max(0) as u64));
        if !handled.is_null() {
            write_out(handled, n);
        }
        Ok(())
    })
}

/// `Cluster::log(msg)`: a cluster.log record (ts, this node, msg). The node that writes
/// logs writes it itself; other nodes send it to a live logger (round robin when
/// `enable_round_robin_logging`), keeping it in a bounded buffer while none is up. The
/// string is copied. Any thread.
/// Errors: ZC_ERR_NULL, ZC_ERR_UTF8, ZC_ERR_BAD_HANDLE, ZC_ERR_STATE (not started),
/// ZC_ERR_IO (writing cluster.log failed), ZC_ERR_CLOSED.
#[no_mangle]
pub unsafe extern "C" fn zc_cluster_log(cl: *const zc_cluster, msg: *const c_char) -> zc_result {
    guard(|| {
        let c = CLUSTERS.get(cl)?;
        let msg = arg_str(msg, "msg")?;
        c.log(msg)
    })
}

/// `Cluster::publish_hrw(pool, key, event)`: publishes to the live member of the pool
/// whose topic is `pool_topic` (e.g. "zeek/cluster/pool/worker") that `key` hashes to
/// (Zeek's highest-random-weight arithmetic: the same key goes to the same node while
/// membership is stable). `*published` is false, and nothing is sent, when no member is
/// alive. `key` and `event` are copied; the caller keeps owning them. Any thread.
/// Errors: ZC_ERR_NULL, ZC_ERR_UTF8, ZC_ERR_BAD_HANDLE, ZC_ERR_STATE (not started),
/// ZC_ERR_NOT_FOUND (no pool with that topic), ZC_ERR_TYPE (a key that cannot be hashed),
/// ZC_ERR_WOULD_BLOCK, ZC_ERR_CLOSED.
#[no_mangle]
pub unsafe extern "C" fn zc_cluster_publish_hrw(
    cl: *const zc_cluster,
    pool_topic: *const c_char,
    key: *const zc_value,
    event: *const zc_event,
    published: *mut bool,
) -> zc_result {
    guard(|| {
        out_ptr(published, "published")?;
        let c = CLUSTERS.get(cl)?;
        let pool = arg_str(pool_topic, "pool_topic")?;
        let key = value_from_handle(key)?;
        let ev = event_from_handle(event)?;
        write_out(published, c.running()?.publish_hrw(pool, &key, &ev)?);
        Ok(())
    })
}

/// `Cluster::publish_rr(pool, key, event)`: publishes to the pool's live members in
/// turn, one cursor per `key`. `*published` is false, and nothing is sent, when no member
/// is alive. The event is copied. Any thread.
/// Errors: ZC_ERR_NULL, ZC_ERR_UTF8, ZC_ERR_BAD_HANDLE, ZC_ERR_STATE (not started),
/// ZC_ERR_NOT_FOUND (no pool with that topic), ZC_ERR_WOULD_BLOCK, ZC_ERR_CLOSED.
#[no_mangle]
pub unsafe extern "C" fn zc_cluster_publish_rr(
    cl: *const zc_cluster,
    pool_topic: *const c_char,
    key: *const c_char,
    event: *const zc_event,
    published: *mut bool,
) -> zc_result {
    guard(|| {
        out_ptr(published, "published")?;
        let c = CLUSTERS.get(cl)?;
        let pool = arg_str(pool_topic, "pool_topic")?;
        let key = arg_str(key, "key")?;
        let ev = event_from_handle(event)?;
        write_out(published, c.running()?.publish_rr(pool, key, &ev)?);
        Ok(())
    })
}

/// `relay_rr(pool, key, targets, event)`: sends the event to one live member of the pool
/// (round robin, one cursor per `key`), which publishes it on each of the `n_targets`
/// topics in `targets` (this is how a worker reaches the other workers: through the proxy
/// pool to `zeek/cluster/worker`). The member does not raise the event itself. Relaying is
/// done by zcluster nodes (a Zeek node would need a handler for `Cluster::zc_relay`: Zeek
/// removed `relay_rr` before 2.6). `*relayed` is false, and nothing is sent, when no
/// member is alive. The event is copied. Any thread.
/// Errors: ZC_ERR_NULL (also a NULL `targets` or element), ZC_ERR_UTF8,
/// ZC_ERR_INVALID_ARGUMENT (no targets), ZC_ERR_BAD_HANDLE, ZC_ERR_STATE (not started),
/// ZC_ERR_NOT_FOUND (no pool with that topic), ZC_ERR_WOULD_BLOCK, ZC_ERR_CLOSED.
#[no_mangle]
pub unsafe extern "C" fn zc_cluster_relay_rr(
    cl: *const zc_cluster,
    pool_topic: *const c_char,
    key: *const c_char,
    targets: *const *const c_char,
    n_targets: usize,
    event: *const zc_event,
    relayed: *mut bool,
) -> zc_result {
    guard(|| {
        out_ptr(relayed, "relayed")?;
        let c = CLUSTERS.get(cl)?;
        let pool = arg_str(pool_topic, "pool_topic")?;
        let key = arg_str(key, "key")?;
        if targets.is_null() {
            return Err(crate::Error::new(
                crate::ErrorKind::NullArgument,
                "targets is NULL",
            ));
        }
        let mut topics = Vec::with_capacity(n_targets.min(1024));
        for i in 0..n_targets {
            // SAFETY: the caller passes an array of n_targets pointers.
            let t = unsafe { *targets.add(i) };
            topics.push(arg_str(t, &format!("targets[{i}]"))?);
        }
        let ev = event_from_handle(event)?;
        write_out(relayed, c.running()?.relay_rr(pool, key, &topics, &ev)?);
        Ok(())
    })
}

/// Raises the event the Bro 2.5 way: it is published on the role topic of every role whose
/// `<this role>2<role>_events` pattern (`control_events` from a CONTROL node) matches the
/// whole event name. `*roles` receives a bit mask of the roles it went to
/// (`1u << ZC_NODE_WORKER`, ...; 0 when no pattern matches, which is not an error). The
/// event is copied. Any thread.
/// Errors: ZC_ERR_NULL, ZC_ERR_BAD_HANDLE, ZC_ERR_STATE (not started),
/// ZC_ERR_WOULD_BLOCK, ZC_ERR_CLOSED.
#[no_mangle]
pub unsafe extern "C" fn zc_cluster_raise(
    cl: *const zc_cluster,
    event: *const zc_event,
    roles: *mut u32,
) -> zc_result {
    guard(|| {
        out_ptr(roles, "roles")?;
        let c = CLUSTERS.get(cl)?;
        let ev = event_from_handle(event)?;
        let sent = c.running()?.raise(&c, &ev)?;
        let mask = sent
            .into_iter()
            .fold(0u32, |m, t| m | (1u32 << (zc_node_type::from(t) as u32)));
        write_out(roles, mask);
        Ok(())
    })
}

/// The names of the nodes that said hello and have not gone down, sorted: a
/// NULL-terminated array freed with `zc_strings_free`. Any thread.
/// Errors: ZC_ERR_NULL, ZC_ERR_BAD_HANDLE, ZC_ERR_STATE (not started).
#[no_mangle]
pub unsafe extern "C" fn zc_cluster_nodes_up(
    cl: *const zc_cluster,
    out: *mut *mut *mut c_char,
) -> zc_result {
    guard(|| {
        out_ptr(out, "out")?;
        let c = CLUSTERS.get(cl)?;
        let names = c.running()?.nodes_up();
        write_out(out, give_strings(names.iter().map(String::as_str)));
        Ok(())
    })
}

/// The port the node listens on (its `$p`), or 0 for a node whose `$p` is 0 (it does not
/// listen). Errors: ZC_ERR_NULL, ZC_ERR_BAD_HANDLE, ZC_ERR_STATE (not started).
#[no_mangle]
pub unsafe extern "C" fn zc_cluster_listen_port(cl: *const zc_cluster, out: *mut u16) -> zc_result {
    guard(|| {
        out_ptr(out, "out")?;
        let c = CLUSTERS.get(cl)?;
        write_out(out, c.running()?.bound_port().unwrap_or(0));
        Ok(())
    })
}
