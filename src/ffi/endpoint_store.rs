//! Stores on a plain endpoint in C: Broker's `attach_master` / `attach_clone`. The handles
//! are the `zc_store` of `zc_cluster_create_store`, with every `zc_store_*` operation; the
//! store code behind them is the cluster's.

use super::endpoint::{zc_endpoint, ENDPOINTS};
use super::store::{zc_backend, zc_store, StoreObj, STORES};
use super::strings::arg_str;
use super::{guard, out_ptr, write_out, zc_result};
use crate::error::{Error, Result};
use crate::store::{BackendKind, BackendOptions, CloneConfig};
use std::os::raw::{c_char, c_int};

fn backend_kind(b: c_int) -> Result<BackendKind> {
    match b {
        x if x == zc_backend::ZC_BACKEND_MEMORY as c_int => Ok(BackendKind::Memory),
        x if x == zc_backend::ZC_BACKEND_SQLITE as c_int => Ok(BackendKind::Sqlite),
        x => Err(Error::invalid(format!(
            "backend {x}: expected ZC_BACKEND_MEMORY (0) or ZC_BACKEND_SQLITE (1)"
        ))),
    }
}

fn interval_ns(secs: f64, what: &str) -> Result<i64> {
    if !secs.is_finite() || secs.abs() > 1e9 {
        return Err(Error::invalid(format!(
            "{what} {secs}: expected a finite number of seconds"
        )));
    }
    Ok((secs * 1e9) as i64)
}

/// Broker's `endpoint::attach_master(name, backend, options)`: the master of store `name`
/// on this endpoint, usable at once; clones on peers (plain endpoints or cluster nodes)
/// find it through the store's master topic. `backend` is a `zc_backend` value.
/// `option_names` / `option_values` hold `n_options` of Broker's backend options (both may
/// be NULL when `n_options` is 0): `path` (the SQLite file; default `<name>.sqlite` in the
/// working directory, created if missing), `synchronous`
/// (`Broker::SQLITE_SYNCHRONOUS_OFF|NORMAL|FULL|EXTRA` or `NORMAL`...; default FULL),
/// `journal_mode` (`Broker::SQLITE_JOURNAL_MODE_DELETE|WAL` or `WAL`...; default WAL),
/// `integrity_check` (T/F). Attaching the same name again gives a new handle to the same
/// master. `*out` is a new handle, freed with `zc_store_free`; it reports ZC_ERR_CLOSED
/// once the endpoint is freed. Any thread.
/// Errors: ZC_ERR_NULL, ZC_ERR_UTF8, ZC_ERR_BAD_HANDLE, ZC_ERR_CLOSED,
/// ZC_ERR_INVALID_ARGUMENT (empty name, unknown backend, bad option value), ZC_ERR_NOT_FOUND
/// (unknown option), ZC_ERR_STATE (this endpoint has a clone of that store), ZC_ERR_STORE
/// (a name with path characters for SQLite, an unusable SQLite file).
#[no_mangle]
pub unsafe extern "C" fn zc_endpoint_attach_master(
    ep: *const zc_endpoint,
    name: *const c_char,
    backend: c_int,
    option_names: *const *const c_char,
    option_values: *const *const c_char,
    n_options: usize,
    out: *mut *mut zc_store,
) -> zc_result {
    guard(|| {
        out_ptr(out, "out")?;
        let e = ENDPOINTS.get(ep)?;
        let name = arg_str(name, "name")?;
        let kind = backend_kind(backend)?;
        let mut opts = BackendOptions::default();
        if n_options > 0 {
            if option_names.is_null() {
                return Err(Error::new(
                    crate::ErrorKind::NullArgument,
                    "option_names is NULL",
                ));
            }
            if option_values.is_null() {
                return Err(Error::new(
                    crate::ErrorKind::NullArgument,
                    "option_values is NULL",
                ));
            }
            for i in 0..n_options {
                // SAFETY: the caller passes arrays of `n_options` pointers (documented).
                let (k, v) = unsafe { (*option_names.add(i), *option_values.add(i)) };
                let k = arg_str(k, &format!("option_names[{i}]"))?;
                let v = arg_str(v, &format!("option_values[{i}]"))?;
                opts.set(k, v)?;
            }
        }
        let store = e.attach_master(name, kind, &opts)?;
        let obj = StoreObj {
            store,
            master_node: String::new(),
            backend: kind,
            sqlite_path: opts.sqlite_path.clone(),
            intervals: [0; 3],
        };
        write_out(out, STORES.insert(obj));
        Ok(())
    })
}

/// Broker's `endpoint::attach_clone(name, resync_interval, stale_interval,
/// mutation_buffer_interval)`, in seconds (Broker's defaults: 10, 300, 120): a clone of
/// store `name` that asks for its master among this endpoint's peers at once, on each new
/// peering and every `resync_interval` until one answers; reads wait (their timeout) for
/// the first snapshot. `stale_interval`: once the master is out of reach this long, reads
/// fail with ZC_ERR_STORE (negative: never stale). `mutation_buffer_interval`: writes made
/// while no master is reachable are kept this long and sent when it is back (0 or
/// negative: such writes fail at once). `*out` is a new handle
/// (`zc_store_free`); ZC_ERR_CLOSED once the endpoint is freed. Any thread.
/// Errors: ZC_ERR_NULL, ZC_ERR_UTF8, ZC_ERR_BAD_HANDLE, ZC_ERR_CLOSED,
/// ZC_ERR_INVALID_ARGUMENT (empty name, an interval that is not finite),
/// ZC_ERR_STATE (this endpoint has the master of that store).
#[no_mangle]
pub unsafe extern "C" fn zc_endpoint_attach_clone(
    ep: *const zc_endpoint,
    name: *const c_char,
    resync_interval: f64,
    stale_interval: f64,
    mutation_buffer_interval: f64,
    out: *mut *mut zc_store,
) -> zc_result {
    guard(|| {
        out_ptr(out, "out")?;
        let e = ENDPOINTS.get(ep)?;
        let name = arg_str(name, "name")?;
        let resync = interval_ns(resync_interval, "resync_interval")?;
        if resync <= 0 {
            return Err(Error::invalid(format!(
                "resync_interval {resync_interval}: expected more than 0 seconds"
            )));
        }
        let config = CloneConfig {
            resync_interval: resync,
            stale_interval: interval_ns(stale_interval, "stale_interval")?,
            mutation_buffer_interval: interval_ns(
                mutation_buffer_interval,
                "mutation_buffer_interval",
            )?,
            ..CloneConfig::default()
        };
        let store = e.attach_clone(name, config)?;
        let obj = StoreObj {
            store,
            master_node: String::new(),
            backend: BackendKind::Memory,
            sqlite_path: String::new(),
            intervals: [
                config.resync_interval,
                config.stale_interval,
                config.mutation_buffer_interval,
            ],
        };
        write_out(out, STORES.insert(obj));
        Ok(())
    })
}
