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
