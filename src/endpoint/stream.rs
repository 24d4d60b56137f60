//! The transport seam between the I/O driver (`io`) and the protocol core (`proto`).
//!
//! The core sees bytes only; the driver moves them through a `ByteStream`, made by a
//! `Transports` for each connection it opens or accepts. Plain TCP and Broker's TLS
//! (`transport::Transport`) are the two implementations today; a new transport implements
//! these two traits and touches neither the core nor the services above the endpoint.

use super::transport::Transport;
use mio::event::Source;
use mio::net::TcpStream;
use openssl::ssl::SslContext;
use std::io;
use std::io::ErrorKind as IoKind;
use std::net::SocketAddr;

/// One connection's byte stream, non-blocking and registered with the driver's poll.
pub(crate) trait ByteStream: Source + Send {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize>;
    fn write(&mut self, buf: &[u8]) -> io::Result<usize>;
    /// For an outgoing connection: `Ok(true)` once connected, `Ok(false)` while the
    /// connect is in progress, the error if it failed.
    fn connect_status(&self) -> io::Result<bool>;
    /// Small writes go out at once (the driver batches per turn itself).
    fn set_nodelay(&self);
    /// A read may return more (or the end) without a new readiness event.
    fn buffered(&self) -> bool {
        false
    }
    /// A readable socket should also retry writing (a handshake underneath in progress).
    fn write_needs_readable(&self) -> bool {
        false
    }
    /// True once when data may wait unread without a new event (read anyway).
    fn take_read_hint(&mut self) -> bool {
        false
    }
    /// Bytes at the front of the offered data that a blocked write already took and must
    /// be offered again unchanged.
    fn in_flight(&self) -> usize {
        0
    }
    /// The transport's own handshake (TLS) is still running.
    fn handshaking(&self) -> bool {
        false
    }
}

/// Makes the byte streams of one endpoint's connections.
pub(crate) trait Transports: Send {
    /// Starts a non-blocking connect to `addr`.
    fn connect(&self, addr: SocketAddr) -> io::Result<Box<dyn ByteStream>>;
    /// Wraps an accepted socket.
    fn accept(&self, s: TcpStream) -> io::Result<Box<dyn ByteStream>>;
}

/// Broker's transports: TLS with the endpoint's context, or plain TCP without one.
pub(crate) struct BrokerTransports(pub(crate) Option<SslContext>);

impl Transports for BrokerTransports {
    fn connect(&self, addr: SocketAddr) -> io::Result<Box<dyn ByteStream>> {
        let s = TcpStream::connect(addr)?;
        Ok(Box::new(Transport::new(s, self.0.as_ref(), false)?))
    }

    fn accept(&self, s: TcpStream) -> io::Result<Box<dyn ByteStream>> {
        Ok(Box::new(Transport::new(s, self.0.as_ref(), true)?))
    }
}

impl ByteStream for Transport {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        Transport::read(self, buf)
    }
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        Transport::write(self, buf)
    }
    fn connect_status(&self) -> io::Result<bool> {
        if let Some(e) = self.tcp().take_error()? {
            return Err(e);
        }
        match self.tcp().peer_addr() {
            Ok(_) => Ok(true),
            Err(e) if e.kind() == IoKind::NotConnected => Ok(false),
            Err(e) => Err(e),
        }
    }
    fn set_nodelay(&self) {
        let _ = self.tcp().set_nodelay(true);
    }
    fn buffered(&self) -> bool {
        Transport::buffered(self)
    }
    fn write_needs_readable(&self) -> bool {
        Transport::write_needs_readable(self)
    }
    fn take_read_hint(&mut self) -> bool {
        Transport::take_read_hint(self)
    }
    fn in_flight(&self) -> usize {
        Transport::in_flight(self)
    }
    fn handshaking(&self) -> bool {
        self.tls_handshaking()
    }
}
