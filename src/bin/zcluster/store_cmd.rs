//! `zcluster store get|put|erase|keys|size --to HOST:PORT STORE ...`: a short-lived plain
//! endpoint peers with the node and attaches a clone of STORE (Broker's `attach_clone`);
//! reads come from the clone once it has the master's snapshot, writes go to the master
//! and the command returns once the master's update came back to the clone (so the write
//! is applied when the command exits 0).

use crate::cli::{StoreAction, StoreArgs, StoreNameArgs};
use crate::net::{connect_with, Conn, DEFAULT_TIMEOUT};
use crate::{exit, literal, Failure, Res};
use std::time::{Duration, Instant};
use zcluster::data::{json, Value};
use zcluster::store::CloneConfig;
use zcluster::ErrorKind;

fn lit(text: &str) -> Res<Value> {
    literal::parse(text).map_err(|e| Failure::new(exit::BAD_INPUT, e))
}

/// A clone of the store, attached before peering; the master's resync comes quickly.
fn attach(a: &StoreNameArgs) -> Res<(Conn, zcluster::store::service::Store, Duration)> {
    if let crate::net::Target::WebSocket { url, .. } = crate::net::parse_target(&a.conn.to)? {
        return Err(Failure::new(
            exit::UNSUPPORTED,
            format!("--to {url}: stores need a Broker peering (HOST:PORT); Zeek's WebSocket API carries no store commands"),
        ));
    }
    let timeout = Duration::from_secs_f64(a.conn.timeout.unwrap_or(DEFAULT_TIMEOUT).max(0.0));
    let mut store = None;
    let conn = connect_with(&a.conn, &[], |ep| {
        let cfg = CloneConfig {
            resync_interval: 200_000_000,
            ..CloneConfig::default()
        };
        store = Some(ep.attach_clone(&a.store, cfg)?);
        Ok(())
    })?;
    let store = store.expect("attached");
    Ok((conn, store, timeout))
}

/// A read error as a failure: a clone that never got its snapshot means no master.
fn read_failure(e: zcluster::Error, store: &str, to: &str, timeout: Duration) -> Failure {
    match e.kind {
        ErrorKind::NotFound => Failure::new(exit::NOT_FOUND, e.message),
        ErrorKind::Timeout => Failure::new(
            exit::TIMEOUT,
            format!(
                "store '{store}': no master answered through {to} within {:.1}s ({})",
                timeout.as_secs_f64(),
                e.message
            ),
        ),
        _ => Failure::from(e),
    }
}

pub fn main(a: StoreArgs) -> Res {
    match a.action {
        StoreAction::Get(k) => {
            let key = lit(&k.key)?;
            crate::net::parse_target(&k.store.conn.to)?;
            let (c, st, t) = attach(&k.store)?;
            let r = st.get(&key, t);
            c.finish();
            let v = r.map_err(|e| read_failure(e, &k.store.store, &k.store.conn.to, t))?;
            println!("{}", json::to_json(&v));
            Ok(())
        }
        StoreAction::Put(p) => {
            let key = lit(&p.key)?;
            let value = lit(&p.value)?;
            let expiry = match p.expiry {
                Some(x) if !(x > 0.0 && x < 1e9) => {
                    return Err(Failure::new(
                        exit::BAD_INPUT,
                        format!("--expiry {x}: expected seconds > 0"),
                    ))
                }
                Some(x) => Some(Duration::from_secs_f64(x)),
                None => None,
            };
            crate::net::parse_target(&p.store.conn.to)?;
            let (c, st, t) = attach(&p.store)?;
            // The clone's first snapshot tells that the master is there.
            let r = st
                .keys(t)
                .map_err(|e| read_failure(e, &p.store.store, &p.store.conn.to, t))
                .and_then(|_| {
                    st.put(key.clone(), value.clone(), expiry)
                        .map_err(Failure::from)
                })
                .and_then(|_| confirm(&st, t, |r| matches!(r, Ok(v) if *v == value), &key));
            c.finish();
            r
        }
        StoreAction::Erase(k) => {
            let key = lit(&k.key)?;
            crate::net::parse_target(&k.store.conn.to)?;
            let (c, st, t) = attach(&k.store)?;
            let r = st
                .get(&key, t)
                .map_err(|e| read_failure(e, &k.store.store, &k.store.conn.to, t))
                .and_then(|_| st.erase(key.clone()).map_err(Failure::from))
                .and_then(|_| {
                    confirm(
                        &st,
                        t,
                        |r| matches!(r, Err(e) if e.kind == ErrorKind::NotFound),
                        &key,
                    )
                });
            c.finish();
            r
        }
        StoreAction::Keys(n) => {
            crate::net::parse_target(&n.conn.to)?;
            let (c, st, t) = attach(&n)?;
            let r = st.keys(t);
            c.finish();
            let keys = r.map_err(|e| read_failure(e, &n.store, &n.conn.to, t))?;
            for k in keys {
                println!("{}", json::to_json(&k));
            }
            Ok(())
        }
        StoreAction::Size(n) => {
            crate::net::parse_target(&n.conn.to)?;
            let (c, st, t) = attach(&n)?;
            let r = st.keys(t);
            c.finish();
            let keys = r.map_err(|e| read_failure(e, &n.store, &n.conn.to, t))?;
            println!("{}", keys.len());
            Ok(())
        }
    }
}

/// Waits until the clone shows the master applied the write.
fn confirm(
    st: &zcluster::store::service::Store,
    timeout: Duration,
    done: impl Fn(&zcluster::Result<Value>) -> bool,
    key: &Value,
) -> Res {
    let end = Instant::now() + timeout;
    loop {
        let r = st.get(key, Duration::from_millis(200));
        if done(&r) {
            return Ok(());
        }
        if Instant::now() >= end {
            return Err(Failure::new(
                exit::TIMEOUT,
                format!(
                    "the master did not confirm the write within {:.1}s",
                    timeout.as_secs_f64()
                ),
            ));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `status --store NAME`: the number of keys, through a clone on the status endpoint.
pub fn sizes(
    ep: &zcluster::endpoint::Endpoint,
    names: &[String],
    timeout: Duration,
) -> Vec<(String, Result<usize, String>)> {
    let mut out = Vec::new();
    let clones: Vec<_> = names
        .iter()
        .map(|n| {
            (
                n.clone(),
                ep.attach_clone(
                    n,
                    CloneConfig {
                        resync_interval: 200_000_000,
                        ..CloneConfig::default()
                    },
                ),
            )
        })
        .collect();
    for (n, c) in clones {
        let r = match c {
            Ok(st) => st.keys(timeout).map(|k| k.len()).map_err(|e| e.message),
            Err(e) => Err(e.message),
        };
        out.push((n, r));
    }
    out
}
