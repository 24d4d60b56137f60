//! The central XPUB/XSUB proxy (`ZeroMQ-Proxy.cc`) and the ZAP handler that checks CURVE
//! clients (`ZeroMQ-ZAP.cc`).
//!
//! The proxy binds XPUB (`listen_xpub_endpoint`, `XPUB_VERBOSER`, `XPUB_NODROP =
//! listen_xpub_nodrop`) and XSUB (`listen_xsub_endpoint`) and forwards between them with
//! `zmq_proxy_steerable` on its own thread and context, which has `proxy_io_threads` I/O
//! threads (`ZMQ_IO_THREADS`; a context of our own, as the `zmq` crate cannot set it).
//! With CURVE both sockets are servers and a ZAP handler admits only the configured client
//! public key.

use super::{key_bytes, zmq_err, Curve};
use crate::cluster::Options;
use crate::error::{Error, Result};
use crate::ffi::zmq_opts::{self, RawContext};
use parking_lot::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

/// What the proxy binds.
#[derive(Debug, Clone)]
pub struct ProxyConfig {
    pub xpub_endpoint: String,
    pub xsub_endpoint: String,
    pub xpub_nodrop: bool,
    /// `proxy_io_threads`: the I/O threads of the proxy's own libzmq context (Zeek's
    /// default 2; `ZMQ_IO_THREADS`, as `ProxyThread::Start` sets it).
    pub io_threads: i32,
    pub ipv6: bool,
    pub curve: Curve,
}

impl ProxyConfig {
    /// From `Cluster::Backend::ZeroMQ::listen_*`, `listen_xpub_nodrop`, `proxy_io_threads`,
    /// `ipv6` and the CURVE keys (options or environment).
    pub fn from_options(o: &Options) -> Result<ProxyConfig> {
        Ok(ProxyConfig {
            xpub_endpoint: o.zeromq_str("listen_xpub_endpoint").to_string(),
            xsub_endpoint: o.zeromq_str("listen_xsub_endpoint").to_string(),
            xpub_nodrop: o.zeromq_bool("listen_xpub_nodrop"),
            io_threads: o.zeromq_int("proxy_io_threads").clamp(1, 64) as i32,
            ipv6: o.zeromq_bool("ipv6"),
            curve: Curve::load_env(o)?,
        })
    }
}

/// A running ZAP handler (stopped on drop).
pub(crate) struct Zap {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Drop for Zap {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Binds `inproc://zeromq.zap.01` with `rep` (a REP socket of the context to guard) and
/// answers ZAP requests: 200 for mechanism CURVE with the one allowed client key, 400
/// otherwise (RFC 27).
pub(crate) fn start_zap(rep: zmq::Socket, client_publickey: &str) -> Result<Zap> {
    let allowed = if client_publickey.is_empty() {
        None
    } else {
        Some(key_bytes(client_publickey).ok_or_else(|| {
            Error::invalid(format!(
                "ZeroMQ/ZAP: client public key has unexpected size {} '{client_publickey}'",
                client_publickey.len()
            ))
        })?)
    };
    rep.set_linger(0).map_err(|e| zmq_err("ZAP socket", e))?;
    rep.bind("inproc://zeromq.zap.01")
        .map_err(|e| zmq_err("Failed to bind ZAP socket", e))?;
    let stop = Arc::new(AtomicBool::new(false));
    let s2 = stop.clone();
    let thread = std::thread::Builder::new()
        .name("zc-zmq-zap".into())
        .spawn(move || {
            while !s2.load(Ordering::Acquire) {
                match rep.poll(zmq::POLLIN, 100) {
                    Ok(n) if n > 0 => {}
                    Ok(_) => continue,
                    Err(zmq::Error::EINTR) => continue,
                    Err(_) => break,
                }
                let Ok(req) = rep.recv_multipart(0) else {
                    break;
                };
                let (code, text, user) = match (req.get(5), req.get(6)) {
                    (Some(mech), Some(key))
                        if req.len() >= 7
                            && mech.as_slice() == b"CURVE"
                            && allowed.as_deref() == Some(key.as_slice()) =>
                    {
                        ("200", "OK", "0")
                    }
                    _ => ("400", "Invalid ZAP request", ""),
                };
                let id: &[u8] = req.get(1).map_or(&[], |v| v.as_slice());
                let reply: [&[u8]; 6] = [
                    b"1.0",
                    id,
                    code.as_bytes(),
                    text.as_bytes(),
                    user.as_bytes(),
                    b"",
                ];
                if rep.send_multipart(reply, 0).is_err() {
                    break;
                }
            }
        })
        .map_err(|e| {
            Error::new(
                crate::ErrorKind::Io,
                format!("spawning the ZAP thread: {e}"),
            )
        })?;
    Ok(Zap {
        stop,
        thread: Some(thread),
    })
}

/// Makes `sock` a CURVE server with the server's secret key.
pub(crate) fn curve_server(sock: &zmq::Socket, curve: &Curve) -> Result<()> {
    let sk = key_bytes(&curve.server_secretkey).ok_or_else(|| {
        Error::invalid("ZeroMQ: curve_server_secretkey is not 40 characters of Z85")
    })?;
    sock.set_curve_server(true)
        .and_then(|()| sock.set_curve_secretkey(&sk))
        .map_err(|e| zmq_err("CURVE server options", e))
}

/// Makes `sock` a CURVE client of the server's public key with the client key pair.
pub(crate) fn curve_client(sock: &zmq::Socket, curve: &Curve) -> Result<()> {
    let bad = |w: &str| Error::invalid(format!("ZeroMQ: curve_{w} is not 40 characters of Z85"));
    let spk = key_bytes(&curve.server_publickey).ok_or_else(|| bad("server_publickey"))?;
    let csk = key_bytes(&curve.client_secretkey).ok_or_else(|| bad("client_secretkey"))?;
    let cpk = key_bytes(&curve.client_publickey).ok_or_else(|| bad("client_publickey"))?;
    sock.set_curve_serverkey(&spk)
        .and_then(|()| sock.set_curve_secretkey(&csk))
        .and_then(|()| sock.set_curve_publickey(&cpk))
        .map_err(|e| zmq_err("CURVE client options", e))
}

/// A running proxy. Stops (and unbinds) on `shutdown` or drop.
pub struct Proxy {
    control: Mutex<Option<zmq::Socket>>,
    thread: Mutex<Option<JoinHandle<()>>>,
    xpub: String,
    xsub: String,
    _zap: Option<Zap>,
    io_threads: i32,
    // Dropped last: terminating the context waits for its sockets (and for those of the
    // node that shares it, `context_for_node`).
    ctx: Arc<RawContext>,
}

impl std::fmt::Debug for Proxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Proxy")
            .field("xpub", &self.xpub)
            .field("xsub", &self.xsub)
            .finish()
    }
}

static PROXY_SEQ: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

impl Proxy {
    /// Binds both sockets (errors, e.g. a port in use, come back here) and starts
    /// forwarding. Endpoints may use `*` as the port (`tcp://127.0.0.1:*`); the bound
    /// ones are `xpub_endpoint` / `xsub_endpoint`.
    pub fn start(cfg: &ProxyConfig) -> Result<Proxy> {
        let ctx = Arc::new(RawContext::new(cfg.io_threads.max(1))?);
        let mut xpub = ctx.socket(zmq_opts::ZMQ_XPUB)?;
        let mut xsub = ctx.socket(zmq_opts::ZMQ_XSUB)?;
        crate::ffi::zmq_opts::set_int_option(
            &mut xpub,
            crate::ffi::zmq_opts::ZMQ_XPUB_VERBOSER,
            1,
        )?;
        crate::ffi::zmq_opts::set_int_option(
            &mut xpub,
            crate::ffi::zmq_opts::ZMQ_XPUB_NODROP,
            i32::from(cfg.xpub_nodrop),
        )?;
        let zap = if cfg.curve.server_enabled() {
            curve_server(&xpub, &cfg.curve)?;
            curve_server(&xsub, &cfg.curve)?;
            Some(start_zap(
                ctx.socket(zmq_opts::ZMQ_REP)?,
                &cfg.curve.client_publickey,
            )?)
        } else {
            None
        };
        for s in [&xpub, &xsub] {
            s.set_linger(0).map_err(|e| zmq_err("linger", e))?;
            s.set_ipv6(cfg.ipv6).map_err(|e| zmq_err("ipv6", e))?;
        }
        xpub.bind(&cfg.xpub_endpoint).map_err(|e| {
            zmq_err(
                &format!("Failed to bind xpub socket {}", cfg.xpub_endpoint),
                e,
            )
        })?;
        xsub.bind(&cfg.xsub_endpoint).map_err(|e| {
            zmq_err(
                &format!("Failed to bind xsub socket {}", cfg.xsub_endpoint),
                e,
            )
        })?;
        let last = |s: &zmq::Socket, dflt: &str| {
            s.get_last_endpoint()
                .ok()
                .and_then(|r| r.ok())
                .unwrap_or_else(|| dflt.to_string())
        };
        let (xpub_at, xsub_at) = (
            last(&xpub, &cfg.xpub_endpoint),
            last(&xsub, &cfg.xsub_endpoint),
        );
        let addr = format!(
            "inproc://zc-proxy-control-{}",
            PROXY_SEQ.fetch_add(1, Ordering::Relaxed)
        );
        let mut control_rx = ctx.socket(zmq_opts::ZMQ_PAIR)?;
        control_rx
            .set_linger(0)
            .map_err(|e| zmq_err("control", e))?;
        control_rx.bind(&addr).map_err(|e| zmq_err("control", e))?;
        let control_tx = ctx.socket(zmq_opts::ZMQ_PAIR)?;
        control_tx
            .set_linger(0)
            .map_err(|e| zmq_err("control", e))?;
        control_tx
            .connect(&addr)
            .map_err(|e| zmq_err("control", e))?;
        let thread = std::thread::Builder::new()
            .name("zc-zmq-proxy".into())
            .spawn(move || {
                while let Err(zmq::Error::EINTR) =
                    zmq::proxy_steerable(&mut xsub, &mut xpub, &mut control_rx)
                {}
            })
            .map_err(|e| {
                Error::new(
                    crate::ErrorKind::Io,
                    format!("spawning the proxy thread: {e}"),
                )
            })?;
        Ok(Proxy {
            control: Mutex::new(Some(control_tx)),
            thread: Mutex::new(Some(thread)),
            xpub: xpub_at,
            xsub: xsub_at,
            _zap: zap,
            io_threads: ctx.io_threads(),
            ctx,
        })
    }

    /// The context for the node that runs this proxy to create its sockets in (one
    /// context per process, as the raw libzmq benchmark has it), unless that node
    /// needs a ZAP handler of its own: libzmq has one per context, and this proxy's
    /// already answers in its context.
    pub(crate) fn context_for_node(&self, node_needs_zap: bool) -> Option<Arc<RawContext>> {
        if node_needs_zap && self._zap.is_some() {
            return None;
        }
        Some(self.ctx.clone())
    }

    /// Starts the proxy `options` describe (`Cluster::Backend::ZeroMQ::listen_*`).
    pub fn from_options(options: &Options) -> Result<Proxy> {
        Proxy::start(&ProxyConfig::from_options(options)?)
    }

    /// The XPUB endpoint as bound (nodes connect their XSUB here).
    pub fn xpub_endpoint(&self) -> &str {
        &self.xpub
    }

    /// The I/O threads of the proxy's libzmq context, as libzmq reports them
    /// (`proxy_io_threads`).
    pub fn io_threads(&self) -> i32 {
        self.io_threads
    }

    /// The XSUB endpoint as bound (nodes connect their XPUB here).
    pub fn xsub_endpoint(&self) -> &str {
        &self.xsub
    }

    /// Stops forwarding, closes both sockets (connected nodes see the connections drop)
    /// and joins the thread. Idempotent.
    pub fn shutdown(&self) {
        if let Some(c) = self.control.lock().take() {
            let _ = c.send("TERMINATE", 0);
            if let Some(t) = self.thread.lock().take() {
                let _ = t.join();
            }
        }
        let _ = &self.ctx;
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.shutdown();
    }
}
