//! libzmq socket options the `zmq` crate (0.9) has no setter for. The only `unsafe` of the
//! ZeroMQ backend: one `zmq_setsockopt` call with an `int` value.

/// `ZMQ_XPUB_NODROP`: an XPUB send at the high-water mark fails with EAGAIN instead of
/// silently dropping the message.
pub(crate) const ZMQ_XPUB_NODROP: i32 = 69;
/// `ZMQ_XPUB_VERBOSER`: forward every subscription and unsubscription (not only the first
/// and last of a topic).
pub(crate) const ZMQ_XPUB_VERBOSER: i32 = 78;

/// Sets an `int` socket option by number.
pub(crate) fn set_int_option(sock: &mut zmq::Socket, option: i32, value: i32) -> crate::Result<()> {
    let ptr = sock.as_mut_ptr();
    // SAFETY: `ptr` is the live socket `sock` owns (borrowed mutably for the call); the
    // value pointer and length describe one `i32` on our stack, which libzmq copies.
    let rc = unsafe {
        zmq_sys::zmq_setsockopt(
            ptr,
            option,
            &value as *const i32 as *const std::ffi::c_void,
            std::mem::size_of::<i32>(),
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        // SAFETY: reads libzmq's thread-local errno; no arguments.
        let errno = unsafe { zmq_sys::zmq_errno() };
        Err(crate::Error::new(
            crate::ErrorKind::Io,
            format!(
                "zmq_setsockopt({option}, {value}): {}",
                zmq::Error::from_raw(errno)
            ),
        ))
    }
}

/// A libzmq context made here rather than by the `zmq` crate, whose 0.9 `Context` cannot
/// set context options: the proxy's context gets `proxy_io_threads` I/O threads
/// (`ZMQ_IO_THREADS`, as Zeek's `ProxyThread::Start` sets it). Its sockets are `zmq::Socket`s
/// that do not keep the context alive: drop every one of them before the context (the
/// context's drop, `zmq_ctx_term`, waits for them).
pub(crate) struct RawContext(*mut std::ffi::c_void);

// SAFETY: a libzmq context is thread safe (zmq_ctx_new(3): "contexts are thread safe");
// only the pointer moves between threads.
unsafe impl Send for RawContext {}
// SAFETY: as above; every call through `&RawContext` is one of libzmq's thread-safe
// context functions.
unsafe impl Sync for RawContext {}

/// libzmq socket types by number (`zmq.h`).
pub(crate) const ZMQ_PAIR: i32 = zmq_sys::ZMQ_PAIR as i32;
pub(crate) const ZMQ_REP: i32 = zmq_sys::ZMQ_REP as i32;
pub(crate) const ZMQ_XPUB: i32 = zmq_sys::ZMQ_XPUB as i32;
pub(crate) const ZMQ_XSUB: i32 = zmq_sys::ZMQ_XSUB as i32;
pub(crate) const ZMQ_PUSH: i32 = zmq_sys::ZMQ_PUSH as i32;
pub(crate) const ZMQ_PULL: i32 = zmq_sys::ZMQ_PULL as i32;

fn zmq_errno_error(what: &str) -> crate::Error {
    // SAFETY: reads libzmq's thread-local errno; no arguments.
    let errno = unsafe { zmq_sys::zmq_errno() };
    crate::Error::new(
        crate::ErrorKind::Io,
        format!("ZeroMQ: {what}: {}", zmq::Error::from_raw(errno)),
    )
}

impl RawContext {
    /// A new context with `io_threads` I/O threads (set before its first socket, when
    /// libzmq starts them).
    pub(crate) fn new(io_threads: i32) -> crate::Result<RawContext> {
        // SAFETY: no arguments; returns a new context or NULL.
        let ctx = unsafe { zmq_sys::zmq_ctx_new() };
        if ctx.is_null() {
            return Err(zmq_errno_error("zmq_ctx_new"));
        }
        let c = RawContext(ctx);
        // SAFETY: `ctx` is the live context `c` owns.
        let rc = unsafe { zmq_sys::zmq_ctx_set(ctx, zmq_sys::ZMQ_IO_THREADS as i32, io_threads) };
        if rc != 0 {
            return Err(zmq_errno_error(&format!("io_threads = {io_threads}")));
        }
        Ok(c)
    }

    /// `ZMQ_IO_THREADS` as libzmq holds it.
    pub(crate) fn io_threads(&self) -> i32 {
        // SAFETY: the context is live while `self` is.
        unsafe { zmq_sys::zmq_ctx_get(self.0, zmq_sys::ZMQ_IO_THREADS as i32) }
    }

    /// A new socket of libzmq type `kind` (`ZMQ_XPUB`, ...).
    pub(crate) fn socket(&self, kind: i32) -> crate::Result<zmq::Socket> {
        // SAFETY: the context is live while `self` is; returns a new socket or NULL.
        let s = unsafe { zmq_sys::zmq_socket(self.0, kind) };
        if s.is_null() {
            return Err(zmq_errno_error("zmq_socket"));
        }
        // SAFETY: `s` is a new socket nobody else owns; the returned `Socket` closes it.
        Ok(unsafe { zmq::Socket::from_raw(s) })
    }
}

impl Drop for RawContext {
    fn drop(&mut self) {
        loop {
            // SAFETY: the context is live until this call succeeds; nothing uses it after.
            let rc = unsafe { zmq_sys::zmq_ctx_term(self.0) };
            // SAFETY: reads libzmq's thread-local errno.
            if rc == 0 || unsafe { zmq_sys::zmq_errno() } != libc::EINTR {
                return;
            }
        }
    }
}
