//! Transports under the endpoint's protocol: the byte stream a peering's Broker frames travel
//! in. `Transport::Tcp` is the socket itself; `Transport::Tls` wraps it in TLS set up
//! exactly as Broker sets up its OpenSSL contexts (`ssl_context_from_cfg` in Broker's
//! `libbroker/broker/internal/connector.cc`):
//!
//! - anonymous mode (the default; no certificate option set): cipher list
//!   `AECDH-AES256-SHA@SECLEVEL=0`, group P-384, no verification;
//! - authenticated mode (any of certificate, key, passphrase, CA file, CA path set):
//!   `HIGH:!aNULL:!MD5`, our certificate chain and (possibly encrypted) PEM key, the CA
//!   file/path as trust store, `SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT` on both
//!   sides (mutual TLS), and no host name check, as Broker;
//! - both: `TLS_method()` with TLS 1.2 as the minimum and no maximum, so OpenSSL's TLS 1.3
//!   suites stay enabled (Broker never calls `SSL_CTX_set_ciphersuites`).
//!
//! The side that connected is the TLS client, the side that accepted the server, whatever
//! Broker's originator/responder roles turn out to be inside the tunnel.
//!
//! The handshake runs inside `read` and `write` (non-blocking, on the I/O thread): until it
//! completes both say `WouldBlock`, so the I/O thread's handshake state machine, deadlines
//! and write buffers work unchanged. We copy no frame: OpenSSL reads them from the
//! connection's write buffer, and `SSL_read` copies the decrypted records once into its
//! read buffer (OpenSSL's own copy out of its record buffer).
//!
//! Deliberate differences from Broker, none visible on the wire: a missing certificate or
//! key, or one that does not load, is an error of `Endpoint::new` instead of an abort; an
//! encrypted key without `Broker::ssl_passphrase` fails instead of prompting on the
//! terminal; the passphrase is kept per endpoint, not in one process-global buffer; a peer
//! that closes without TLS's close_notify counts as a normal close
//! (`SSL_OP_IGNORE_UNEXPECTED_EOF`; frames are length-delimited, so truncation still
//! shows); OpenSSL's read-ahead is on (fewer system calls); we send close_notify when we
//! close a peering.
//!
//! One deliberate difference that a peer does see: in anonymous mode we neither offer nor
//! accept TLS's encrypt-then-MAC extension (RFC 7366, `SSL_OP_NO_ENCRYPT_THEN_MAC`), so the
//! `AECDH-AES256-SHA` records are MAC-then-encrypt, TLS 1.2's original record protection,
//! where Broker with OpenSSL's defaults negotiates encrypt-then-MAC with another Broker.
//! Everything else in both hellos is Broker's, and Broker accepts this (it peers with us
//! either way round; OpenSSL never requires the extension). Why: OpenSSL only uses its
//! stitched AES-CBC-HMAC-SHA1 cipher for MAC-then-encrypt, and only that cipher encrypts a
//! large write four or eight records at a time ("multi-block"); CBC encryption of one
//! record is serial, and with encrypt-then-MAC it took half the sending I/O thread's time
//! (BENCHMARKS.md, "TLS"). What it costs: nothing an attacker could use here, since
//! anonymous TLS authenticates no one (a man in the middle needs no padding oracle), and
//! OpenSSL checks MAC-then-encrypt padding in constant time. Authenticated mode keeps
//! OpenSSL's defaults (it negotiates TLS 1.3 or AES-GCM, which have no such choice).
//!
//! Large writes: the I/O thread offers OpenSSL up to `MAX_TLS_WRITE` bytes of its write
//! buffer at once, so a backlog goes out as full 16 KiB records, encrypted several at a
//! time; a lone frame goes out at once in a record of its own (no waiting to coalesce).
//!
//! ZeroMQ and WebSocket transports are meant to slot in here the same way.

use crate::{Error, Result};
use mio::event::Source;
use mio::net::TcpStream;
use mio::{Interest, Registry, Token};
use openssl::error::ErrorStack;
use openssl::pkey::PKey;
use openssl::ssl::{
    ErrorCode, Ssl, SslContext, SslContextBuilder, SslMethod, SslMode, SslOptions, SslStream,
    SslVerifyMode, SslVersion,
};
use openssl::x509::X509VerifyResult;
use std::io::{self, ErrorKind as IoKind, Read, Write};
use std::path::Path;

/// Broker's limit on `Broker::ssl_passphrase` (`max_ssl_passphrase_size`).
pub const MAX_PASSPHRASE: usize = 127;
/// `SSL_OP_NO_ENCRYPT_THEN_MAC` (the same bit in OpenSSL 1.1.1 and 3.x; the crate has no
/// name for it).
const NO_ENCRYPT_THEN_MAC: SslOptions = SslOptions::from_bits_retain(1 << 19);
/// Bytes offered to one `SSL_write`: with partial writes on, OpenSSL takes one record at a
/// time, or (multi-block, see the module docs) 4 records from 64 KiB on and 8 from
/// 128 KiB on; a write that blocks holds on to at most this much.
const MAX_TLS_WRITE: usize = 128 * 1024;

/// The TLS options, by their Zeek names (`Broker::ssl_*`, `Broker::disable_ssl`).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct TlsOptions {
    /// `Broker::disable_ssl`: plain TCP. Default false, as in Zeek.
    pub disable: bool,
    /// `Broker::ssl_cafile`: trusted CA certificates (PEM).
    pub cafile: String,
    /// `Broker::ssl_capath`: a directory of hashed CA certificates (`openssl rehash`).
    pub capath: String,
    /// `Broker::ssl_certificate`: our certificate chain (PEM).
    pub certificate: String,
    /// `Broker::ssl_keyfile`: our private key (PEM, possibly encrypted).
    pub keyfile: String,
    /// `Broker::ssl_passphrase`: the key's passphrase (at most 127 bytes, as Broker).
    pub passphrase: String,
}

impl std::fmt::Debug for TlsOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsOptions")
            .field("disable", &self.disable)
            .field("cafile", &self.cafile)
            .field("capath", &self.capath)
            .field("certificate", &self.certificate)
            .field("keyfile", &self.keyfile)
            .field(
                "passphrase",
                &if self.passphrase.is_empty() {
                    ""
                } else {
                    "<set>"
                },
            )
            .finish()
    }
}

/// Which of Broker's two TLS setups an endpoint uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsMode {
    /// `Broker::disable_ssl=T`.
    Plain,
    /// TLS without certificates (Zeek's default).
    Anonymous,
    /// TLS with certificates, verified both ways.
    Authenticated,
}

impl TlsOptions {
    /// Broker's `authentication_enabled()`: any certificate option is non-empty.
    pub fn authentication_enabled(&self) -> bool {
        !(self.certificate.is_empty()
            && self.keyfile.is_empty()
            && self.passphrase.is_empty()
            && self.cafile.is_empty()
            && self.capath.is_empty())
    }

    pub fn mode(&self) -> TlsMode {
        if self.disable {
            TlsMode::Plain
        } else if self.authentication_enabled() {
            TlsMode::Authenticated
        } else {
            TlsMode::Anonymous
        }
    }

    /// The OpenSSL context for these options (None with TLS disabled): Broker's calls, in
    /// Broker's order. Configuration errors are `InvalidArgument` naming the option.
    pub(crate) fn context(&self) -> Result<Option<SslContext>> {
        if self.disable {
            return Ok(None);
        }
        let ssl = |what: &str, e: ErrorStack| Error::invalid(format!("{what}: {}", stack(&e)));
        let mut b = SslContextBuilder::new(SslMethod::tls())
            .map_err(|e| ssl("creating the TLS context", e))?;
        if self.authentication_enabled() {
            let why = self.why_authenticated();
            if self.certificate.is_empty() {
                return Err(Error::invalid(format!(
                    "Broker::ssl_certificate is not set, but TLS authentication is enabled ({why}): \
                     set a certificate and key, or clear the Broker::ssl_* options for anonymous TLS"
                )));
            }
            if self.keyfile.is_empty() {
                return Err(Error::invalid(format!(
                    "Broker::ssl_keyfile is not set, but TLS authentication is enabled ({why}): \
                     set a certificate and key, or clear the Broker::ssl_* options for anonymous TLS"
                )));
            }
            if self.passphrase.len() > MAX_PASSPHRASE {
                return Err(Error::invalid(format!(
                    "Broker::ssl_passphrase may not exceed {MAX_PASSPHRASE} characters (Broker's limit)"
                )));
            }
            b.set_certificate_chain_file(&self.certificate)
                .map_err(|e| {
                    ssl(
                        &format!(
                            "Broker::ssl_certificate: failed to load certificate '{}'",
                            self.certificate
                        ),
                        e,
                    )
                })?;
            let pem = std::fs::read(&self.keyfile).map_err(|e| {
                Error::invalid(format!(
                    "Broker::ssl_keyfile: failed to load private key '{}': {e}",
                    self.keyfile
                ))
            })?;
            let pass = self.passphrase.as_bytes();
            let mut asked = false;
            let key = PKey::private_key_from_pem_callback(&pem, |buf| {
                asked = true;
                // Never a terminal prompt: an empty passphrase fails the decryption.
                let n = pass.len().min(buf.len());
                buf[..n].copy_from_slice(&pass[..n]);
                Ok(n)
            })
            .map_err(|e| {
                let hint = if asked && pass.is_empty() {
                    " (the key is encrypted: set Broker::ssl_passphrase)"
                } else if asked {
                    " (wrong Broker::ssl_passphrase?)"
                } else {
                    ""
                };
                ssl(
                    &format!(
                        "Broker::ssl_keyfile: failed to load private key '{}'{hint}",
                        self.keyfile
                    ),
                    e,
                )
            })?;
            b.set_private_key(&key).map_err(|e| {
                ssl(
                    &format!(
                        "Broker::ssl_keyfile: the key '{}' does not go with the certificate '{}'",
                        self.keyfile, self.certificate
                    ),
                    e,
                )
            })?;
            let cafile = (!self.cafile.is_empty()).then(|| Path::new(&self.cafile));
            let capath = (!self.capath.is_empty()).then(|| Path::new(&self.capath));
            if cafile.is_some() || capath.is_some() {
                b.load_verify_locations(cafile, capath).map_err(|e| {
                    ssl(
                        &format!(
                            "Broker::ssl_cafile/ssl_capath: failed to load trusted CA certificates \
                             (cafile '{}', capath '{}')",
                            self.cafile, self.capath
                        ),
                        e,
                    )
                })?;
            }
            b.set_verify(SslVerifyMode::PEER | SslVerifyMode::FAIL_IF_NO_PEER_CERT);
            b.set_cipher_list("HIGH:!aNULL:!MD5")
                .map_err(|e| ssl("failed to set cipher list", e))?;
        } else {
            b.set_verify(SslVerifyMode::NONE);
            b.set_groups_list("P-384")
                .map_err(|e| ssl("failed to set the ECDH group P-384", e))?;
            b.set_cipher_list("AECDH-AES256-SHA@SECLEVEL=0")
                .map_err(|e| ssl("failed to set anonymous cipher", e))?;
            // Not Broker's: no encrypt-then-MAC (RFC 7366), so OpenSSL protects records
            // with its stitched AES-CBC-HMAC-SHA1 cipher and encrypts large writes four or
            // eight records at a time ("multi-block"); see the module docs.
            b.set_options(NO_ENCRYPT_THEN_MAC);
        }
        b.set_min_proto_version(Some(SslVersion::TLS1_2))
            .map_err(|e| ssl("setting the minimum TLS version", e))?;
        // Not Broker's, and invisible on the wire: how the I/O thread drives OpenSSL.
        b.set_mode(SslMode::ENABLE_PARTIAL_WRITE | SslMode::ACCEPT_MOVING_WRITE_BUFFER);
        b.set_options(SslOptions::IGNORE_UNEXPECTED_EOF);
        b.set_read_ahead(true);
        Ok(Some(b.build()))
    }

    fn why_authenticated(&self) -> String {
        let set: Vec<&str> = [
            ("Broker::ssl_certificate", &self.certificate),
            ("Broker::ssl_keyfile", &self.keyfile),
            ("Broker::ssl_passphrase", &self.passphrase),
            ("Broker::ssl_cafile", &self.cafile),
            ("Broker::ssl_capath", &self.capath),
        ]
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(n, _)| *n)
        .collect();
        format!("{} set", set.join(", "))
    }
}

/// OpenSSL's error queue as one line of reasons.
fn stack(e: &ErrorStack) -> String {
    let reasons: Vec<String> = e
        .errors()
        .iter()
        .map(|x| {
            x.reason()
                .map(str::to_string)
                .unwrap_or_else(|| x.to_string())
        })
        .collect();
    if reasons.is_empty() {
        "unknown OpenSSL error".into()
    } else {
        reasons.join("; ")
    }
}

/// A peering's byte stream.
pub(crate) enum Transport {
    Tcp(TcpStream),
    Tls(Box<Tls>),
}

pub(crate) struct Tls {
    s: SslStream<TcpStream>,
    server: bool,
    established: bool,
    /// Bytes the last `SSL_write` that blocked holds (it must be offered them again).
    in_flight: usize,
    /// The last write needs the socket readable to go on.
    write_wants_read: bool,
    /// The handshake completed in a write: data may wait unread without a new event.
    read_hint: bool,
    /// The stream ended after the bytes already returned (close_notify or EOF).
    eof: bool,
    /// An error that ended a read after it returned data: reported by the next read.
    error: Option<io::Error>,
}

impl Transport {
    /// Wraps a connected (or connecting) socket: TLS if `ctx` is given, as client when we
    /// connected (`server` false) or server when we accepted.
    pub(crate) fn new(s: TcpStream, ctx: Option<&SslContext>, server: bool) -> io::Result<Self> {
        let Some(ctx) = ctx else {
            return Ok(Transport::Tcp(s));
        };
        let mut ssl = Ssl::new(ctx).map_err(|e| io::Error::other(stack(&e)))?;
        if server {
            ssl.set_accept_state();
        } else {
            ssl.set_connect_state();
        }
        let s = SslStream::new(ssl, s).map_err(|e| io::Error::other(stack(&e)))?;
        Ok(Transport::Tls(Box::new(Tls {
            s,
            server,
            established: false,
            in_flight: 0,
            write_wants_read: false,
            read_hint: false,
            eof: false,
            error: None,
        })))
    }

    pub(crate) fn tcp(&self) -> &TcpStream {
        match self {
            Transport::Tcp(s) => s,
            Transport::Tls(t) => t.s.get_ref(),
        }
    }

    fn tcp_mut(&mut self) -> &mut TcpStream {
        match self {
            Transport::Tcp(s) => s,
            Transport::Tls(t) => t.s.get_mut(),
        }
    }

    pub(crate) fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Transport::Tcp(s) => s.read(buf),
            Transport::Tls(t) => t.read(buf),
        }
    }

    pub(crate) fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Transport::Tcp(s) => s.write(buf),
            Transport::Tls(t) => t.write(buf),
        }
    }

    /// Whether a read may return more (or the end of the stream) without a new readiness
    /// event: bytes the transport buffered, a pending end or error.
    pub(crate) fn buffered(&self) -> bool {
        match self {
            Transport::Tcp(_) => false,
            Transport::Tls(t) => t.eof || t.error.is_some() || t.s.ssl().pending() > 0,
        }
    }

    /// Whether a readable socket should also retry writing (a TLS handshake in progress or
    /// a write that waits for the peer's bytes).
    pub(crate) fn write_needs_readable(&self) -> bool {
        match self {
            Transport::Tcp(_) => false,
            Transport::Tls(t) => !t.established || t.write_wants_read,
        }
    }

    /// True once after the handshake completed inside a write: read even without an event.
    pub(crate) fn take_read_hint(&mut self) -> bool {
        match self {
            Transport::Tcp(_) => false,
            Transport::Tls(t) => std::mem::take(&mut t.read_hint),
        }
    }

    /// Bytes at the front of the offered data that a blocked write already took in and
    /// must be offered again unchanged (not to be dropped by an overflow policy).
    pub(crate) fn in_flight(&self) -> usize {
        match self {
            Transport::Tcp(_) => 0,
            Transport::Tls(t) => t.in_flight,
        }
    }

    /// Whether a TLS handshake is still running (for the timeout's reason).
    pub(crate) fn tls_handshaking(&self) -> bool {
        matches!(self, Transport::Tls(t) if !t.established)
    }
}

impl Tls {
    fn handshake(&mut self) -> io::Result<()> {
        let r = if self.server {
            self.s.accept()
        } else {
            self.s.connect()
        };
        match r {
            Ok(()) => {
                self.established = true;
                Ok(())
            }
            Err(e) => match e.code() {
                ErrorCode::WANT_READ | ErrorCode::WANT_WRITE => Err(IoKind::WouldBlock.into()),
                _ => Err(self.handshake_error(e)),
            },
        }
    }

    fn handshake_error(&self, e: openssl::ssl::Error) -> io::Error {
        if let Some(io) = e.io_error() {
            if io.kind() != IoKind::WouldBlock {
                return io::Error::new(io.kind(), format!("TLS handshake failed: {io}"));
            }
        }
        let mut reason = match e.ssl_error() {
            Some(s) => stack(s),
            None if e.code() == ErrorCode::SYSCALL || e.code() == ErrorCode::ZERO_RETURN => {
                "the peer closed the connection".into()
            }
            None => format!("{e}"),
        };
        let v = self.s.ssl().verify_result();
        if v != X509VerifyResult::OK {
            reason = format!("{reason}: {}", v.error_string());
        }
        let r = reason.as_str();
        let hint = if r.contains("wrong version number")
            || r.contains("packet length too long")
            || r.contains("record layer failure")
            || r.contains("http request")
            || r.contains("unknown protocol")
        {
            " (the peer does not speak TLS: is Broker::disable_ssl set on one side only?)"
        } else if r == "the peer closed the connection" {
            " (does the peer speak TLS? is Broker::disable_ssl set on one side only?)"
        } else if r.contains("no shared cipher") || r.contains("handshake failure") {
            " (do both sides use the same TLS mode? certificates on one side only?)"
        } else {
            ""
        };
        io::Error::other(format!("TLS handshake failed: {reason}{hint}"))
    }

    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if !self.established {
            self.handshake()?;
        }
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        if self.eof || buf.is_empty() {
            return Ok(0);
        }
        // Read until the buffer is full or the socket has nothing more: a short read then
        // means "drained", as for a socket, which the I/O thread's edge-triggered loop
        // relies on (one SSL_read returns at most one record).
        let mut n = 0;
        while n < buf.len() {
            match self.s.ssl_read(&mut buf[n..]) {
                Ok(k) => n += k,
                Err(e) => {
                    match e.code() {
                        // WANT_WRITE (a renegotiation, which Broker never starts) is
                        // retried on the next read.
                        ErrorCode::WANT_READ | ErrorCode::WANT_WRITE => {}
                        ErrorCode::ZERO_RETURN => self.eof = true,
                        ErrorCode::SYSCALL if e.io_error().is_none() => self.eof = true,
                        _ => {
                            let err = match e.into_io_error() {
                                Ok(io) => io,
                                Err(e) => io::Error::other(format!("TLS: {}", ssl_reason(&e))),
                            };
                            if n == 0 {
                                return Err(err);
                            }
                            self.error = Some(err);
                        }
                    }
                    break;
                }
            }
        }
        if n == 0 && !self.eof {
            return Err(IoKind::WouldBlock.into());
        }
        if n == 0 {
            self.eof = false;
            return Ok(0);
        }
        Ok(n)
    }

    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if !self.established {
            self.handshake()?;
            // Replies to our first frames may already wait in the socket, their event
            // consumed while the handshake wanted to write.
            self.read_hint = true;
        }
        if buf.is_empty() {
            return Ok(0);
        }
        let len = buf.len().min(MAX_TLS_WRITE.max(self.in_flight));
        match self.s.ssl_write(&buf[..len]) {
            Ok(n) => {
                self.in_flight = 0;
                self.write_wants_read = false;
                Ok(n)
            }
            Err(e) => match e.code() {
                ErrorCode::WANT_WRITE => {
                    self.in_flight = len;
                    Err(IoKind::WouldBlock.into())
                }
                ErrorCode::WANT_READ => {
                    self.in_flight = len;
                    self.write_wants_read = true;
                    Err(IoKind::WouldBlock.into())
                }
                _ => Err(match e.into_io_error() {
                    Ok(io) => io,
                    Err(e) => io::Error::other(format!("TLS: {}", ssl_reason(&e))),
                }),
            },
        }
    }
}

fn ssl_reason(e: &openssl::ssl::Error) -> String {
    match e.ssl_error() {
        Some(s) => stack(s),
        None => e.to_string(),
    }
}

impl Drop for Tls {
    fn drop(&mut self) {
        // Best effort close_notify (non-blocking; the socket closes right after).
        if self.established && self.error.is_none() {
            let _ = self.s.shutdown();
        }
    }
}

impl Source for Transport {
    fn register(&mut self, r: &Registry, t: Token, i: Interest) -> io::Result<()> {
        self.tcp_mut().register(r, t, i)
    }
    fn reregister(&mut self, r: &Registry, t: Token, i: Interest) -> io::Result<()> {
        self.tcp_mut().reregister(r, t, i)
    }
    fn deregister(&mut self, r: &Registry) -> io::Result<()> {
        self.tcp_mut().deregister(r)
    }
}
