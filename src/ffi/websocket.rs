//! `zc_websocket_options_*`, `zc_cluster_listen_websocket` and the stats calls
//! (`zc_cluster_stats_json`, `zc_endpoint_stats_json`, `zc_cluster_metrics_text`,
//! `zc_cluster_metrics_port`): Zeek's WebSocket API server and the metrics.

use super::cluster::{zc_cluster, CLUSTERS};
use super::endpoint::{zc_endpoint, ENDPOINTS};
use super::handle::{kind, Registry};
use super::strings::{arg_str, give_string};
use super::{guard, guard_void, out_ptr, write_out, zc_result};
use crate::websocket::{ClientOptions, ServerOptions};
use parking_lot::Mutex;
use std::os::raw::c_char;

/// `Cluster::WebSocketServerOptions` (opaque), set by name. Freed with
/// `zc_websocket_options_free`.
pub struct zc_websocket_options {
    _private: [u8; 0],
}

static WS_OPTIONS: Registry<Mutex<ServerOptions>> =
    Registry::new(kind::WEBSOCKET_OPTIONS, "zc_websocket_options");

/// New WebSocket server options with Zeek's defaults (127.0.0.1:27759,
/// max_event_queue_size 32, ping_interval 5 s, no TLS). The caller frees `*out` with
/// `zc_websocket_options_free`. Errors: ZC_ERR_NULL.
#[no_mangle]
pub extern "C" fn zc_websocket_options_new(out: *mut *mut zc_websocket_options) -> zc_result {
    guard(|| {
        out_ptr(out, "out")?;
        write_out(out, WS_OPTIONS.insert(Mutex::new(ServerOptions::default())));
        Ok(())
    })
}

/// Sets a field by its Zeek name: `listen_addr` (IPv4 or IPv6), `listen_port` (`27759` or
/// `27759/tcp`; 0 picks a free port), `max_event_queue_size`, `ping_interval` (`5 secs`,
/// `500 msecs` or seconds; 0 or negative turns pings off), `cert_file`, `key_file`; or
/// `send_queue_size` (events waiting for one slow client before it is closed). Values in
/// the grammar of every `*_options_set` (docs/options.md).
/// Errors: ZC_ERR_NULL, ZC_ERR_UTF8, ZC_ERR_BAD_HANDLE, ZC_ERR_NOT_FOUND (unknown name),
/// ZC_ERR_INVALID_ARGUMENT (bad value).
#[no_mangle]
pub unsafe extern "C" fn zc_websocket_options_set(
    opts: *mut zc_websocket_options,
    key: *const c_char,
    value: *const c_char,
) -> zc_result {
    guard(|| {
        let o = WS_OPTIONS.get(opts)?;
        let k = arg_str(key, "key")?;
        let v = arg_str(value, "value")?;
        let mut g = o.lock();
        g.set(k, v)
    })
}

/// Frees options (NULL is ignored).
#[no_mangle]
pub extern "C" fn zc_websocket_options_free(opts: *mut zc_websocket_options) {
    guard_void(|| {
        if !opts.is_null() {
            WS_OPTIONS.free(opts)?;
        }
        Ok(())
    })
}

/// `Cluster::listen_websocket(opts)` on a started node (NULL opts: the cluster's
/// defaults on 127.0.0.1:27759). Writes the bound port to `*port` (may be NULL).
/// Errors: ZC_ERR_NULL, ZC_ERR_BAD_HANDLE, ZC_ERR_STATE (not started),
/// ZC_ERR_INVALID_ARGUMENT (a bad address; a certificate, key or CA file that does not
/// load; cert_file without key_file), ZC_ERR_IO (cannot listen).
#[no_mangle]
pub extern "C" fn zc_cluster_listen_websocket(
    cl: *const zc_cluster,
    opts: *const zc_websocket_options,
    port: *mut u16,
) -> zc_result {
    guard(|| {
        let c = CLUSTERS.get(cl)?;
        let o = if opts.is_null() {
            c.websocket_defaults()
        } else {
            WS_OPTIONS.get(opts)?.lock().clone()
        };
        let p = c.listen_websocket(&o)?;
        if !port.is_null() {
            write_out(port, p);
        }
        Ok(())
    })
}

/// The node's counters as a JSON object (peers with events/bytes in and out, buffer
/// fill, drops, stores, WebSocket clients, process memory and CPU); the caller frees
/// `*out` with `zc_string_free`. Errors: ZC_ERR_NULL, ZC_ERR_BAD_HANDLE, ZC_ERR_STATE
/// (not started).
#[no_mangle]
pub extern "C" fn zc_cluster_stats_json(cl: *const zc_cluster, out: *mut *mut c_char) -> zc_result {
    guard(|| {
        out_ptr(out, "out")?;
        let s = CLUSTERS.get(cl)?.snapshot()?;
        write_out(out, give_string(&s.to_json()));
        Ok(())
    })
}

/// The node's metrics in Prometheus' text format (what `/metrics` serves); free `*out`
/// with `zc_string_free`. Errors: ZC_ERR_NULL, ZC_ERR_BAD_HANDLE, ZC_ERR_STATE.
#[no_mangle]
pub extern "C" fn zc_cluster_metrics_text(
    cl: *const zc_cluster,
    out: *mut *mut c_char,
) -> zc_result {
    guard(|| {
        out_ptr(out, "out")?;
        let s = CLUSTERS.get(cl)?.snapshot()?;
        write_out(out, give_string(&crate::metrics::prometheus::render(&s)));
        Ok(())
    })
}

/// The port the node's metrics endpoint listens on; 0 when it does not run.
/// Errors: ZC_ERR_NULL, ZC_ERR_BAD_HANDLE.
#[no_mangle]
pub extern "C" fn zc_cluster_metrics_port(cl: *const zc_cluster, out: *mut u16) -> zc_result {
    guard(|| {
        out_ptr(out, "out")?;
        let p = CLUSTERS.get(cl)?.metrics_port().unwrap_or(0);
        write_out(out, p);
        Ok(())
    })
}

/// A plain endpoint's counters as a JSON object (as `zc_cluster_stats_json`, peers named
/// `address:port`); free `*out` with `zc_string_free`. Errors: ZC_ERR_NULL,
/// ZC_ERR_BAD_HANDLE.
#[no_mangle]
pub extern "C" fn zc_endpoint_stats_json(
    ep: *const zc_endpoint,
    out: *mut *mut c_char,
) -> zc_result {
    guard(|| {
        out_ptr(out, "out")?;
        let e = ENDPOINTS.get(ep)?;
        let s = crate::metrics::endpoint_snapshot(&e, "");
        write_out(out, give_string(&s.to_json()));
        Ok(())
    })
}

/// Connects the endpoint to a Zeek WebSocket API server (`ws://host:port/v1/messages/json`)
/// instead of peering: subscribes the `n` topic prefixes in `topics` there (NULL with n 0:
/// none), delivers what the server sends as EVENT messages (fd, next, callbacks), and
/// sends every event the host publishes on the endpoint to the server. Statuses: PEER_ADDED
/// once acknowledged, PEER_UNAVAILABLE when a connect fails, PEER_REJECTED with Zeek's
/// error (`code: context`), PEER_LOST when the connection ends; `retry_ms` > 0 reconnects.
/// `wss://` URLs use TLS with the default client options (the server's certificate
/// verified against the system's CAs, and its host name); see
/// `zc_endpoint_connect_websocket_with` for others.
/// Errors: ZC_ERR_NULL, ZC_ERR_UTF8, ZC_ERR_BAD_HANDLE, ZC_ERR_INVALID_ARGUMENT (bad URL),
/// ZC_ERR_CLOSED.
#[no_mangle]
pub unsafe extern "C" fn zc_endpoint_connect_websocket(
    ep: *const zc_endpoint,
    url: *const c_char,
    topics: *const *const c_char,
    n: usize,
    retry_ms: u64,
) -> zc_result {
    // SAFETY: the caller's pointers are passed on unchanged.
    unsafe { zc_endpoint_connect_websocket_with(ep, url, topics, n, retry_ms, std::ptr::null()) }
}

/// Options of the WebSocket client transport (opaque), set by name. Freed with
/// `zc_websocket_client_options_free`.
pub struct zc_websocket_client_options {
    _private: [u8; 0],
}

static WS_CLIENT_OPTIONS: Registry<Mutex<ClientOptions>> = Registry::new(
    kind::WEBSOCKET_CLIENT_OPTIONS,
    "zc_websocket_client_options",
);

/// New WebSocket client options with the defaults (application name `zcluster`; for
/// wss://, the server's certificate and host name verified against the system's CAs).
/// The caller frees `*out` with `zc_websocket_client_options_free`. Errors: ZC_ERR_NULL.
#[no_mangle]
pub extern "C" fn zc_websocket_client_options_new(
    out: *mut *mut zc_websocket_client_options,
) -> zc_result {
    guard(|| {
        out_ptr(out, "out")?;
        write_out(
            out,
            WS_CLIENT_OPTIONS.insert(Mutex::new(ClientOptions::default())),
        );
        Ok(())
    })
}

/// Sets a client option by name: `application_name` (X-Application-Name), and for
/// wss:// `verify_peer` (T/F, default T: certificate and host name), `ca_file`, `ca_path`
/// (trusted CAs; both empty: the system's), `cert_file`, `key_file` (a client
/// certificate, for servers that verify peers), `ciphers`.
/// Errors: ZC_ERR_NULL, ZC_ERR_UTF8, ZC_ERR_BAD_HANDLE, ZC_ERR_NOT_FOUND (unknown name),
/// ZC_ERR_INVALID_ARGUMENT (bad value).
#[no_mangle]
pub unsafe extern "C" fn zc_websocket_client_options_set(
    opts: *mut zc_websocket_client_options,
    key: *const c_char,
    value: *const c_char,
) -> zc_result {
    guard(|| {
        let o = WS_CLIENT_OPTIONS.get(opts)?;
        let k = arg_str(key, "key")?;
        let v = arg_str(value, "value")?;
        let mut g = o.lock();
        g.set(k, v)
    })
}

/// Frees client options (NULL is ignored).
#[no_mangle]
pub extern "C" fn zc_websocket_client_options_free(opts: *mut zc_websocket_client_options) {
    guard_void(|| {
        if !opts.is_null() {
            WS_CLIENT_OPTIONS.free(opts)?;
        }
        Ok(())
    })
}

/// `zc_endpoint_connect_websocket` with client options (NULL: the defaults). A TLS
/// failure (a certificate that does not verify, a server without TLS) is a
/// PEER_UNAVAILABLE status whose text names OpenSSL's reason.
/// Errors: ZC_ERR_NULL, ZC_ERR_UTF8, ZC_ERR_BAD_HANDLE, ZC_ERR_INVALID_ARGUMENT (bad URL;
/// a CA, certificate or key file that does not load), ZC_ERR_CLOSED.
#[no_mangle]
pub unsafe extern "C" fn zc_endpoint_connect_websocket_with(
    ep: *const zc_endpoint,
    url: *const c_char,
    topics: *const *const c_char,
    n: usize,
    retry_ms: u64,
    opts: *const zc_websocket_client_options,
) -> zc_result {
    guard(|| {
        let o = if opts.is_null() {
            ClientOptions::default()
        } else {
            WS_CLIENT_OPTIONS.get(opts)?.lock().clone()
        };
        let e = ENDPOINTS.get(ep)?;
        let u = arg_str(url, "url")?;
        if topics.is_null() && n > 0 {
            return Err(crate::error::Error::new(
                crate::error::ErrorKind::NullArgument,
                "topics is NULL but n > 0",
            ));
        }
        let mut t = Vec::with_capacity(n);
        for i in 0..n {
            // SAFETY: the caller passes n readable pointers.
            let p = unsafe { *topics.add(i) };
            t.push(arg_str(p, "topics[i]")?.to_string());
        }
        e.connect_websocket_with(u, &t, std::time::Duration::from_millis(retry_ms), &o)?;
        Ok(())
    })
}
