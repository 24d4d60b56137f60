//! TLS for Zeek's WebSocket API, both sides (OpenSSL, as the peerings use).
//!
//! Server (`Cluster::WebSocketTLSOptions`, `Z:scripts/base/frameworks/cluster/types.zeek`):
//! TLS is on when both `cert_file` and `key_file` are set (one alone is an error, as in
//! `Z:src/cluster/cluster.bif`). What Zeek hands IXWebSocket
//! (`Z:src/cluster/websocket/WebSocket-IXWebSocket.cc`), done here with the same OpenSSL
//! calls: the certificate chain and key from the files; with `enable_peer_verification`
//! the client must present a certificate that verifies against `ca_file` (empty: the
//! system's default trust store; `"NONE"`: no verification, IXWebSocket's spelling), with
//! `SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT`; without it no client certificate
//! is asked for; `ciphers` empty keeps OpenSSL's defaults. TLS 1.2 is the minimum.
//!
//! Client (`wss://` URLs, [`ClientOptions`]): verifies the server's certificate by default,
//! against `ca_file` / `ca_path` or the system's trust store, and the URL's host name
//! (or IP address) against it, as browsers and Python's `websockets` do; `verify_peer=F`
//! turns both off. `cert_file` / `key_file` give a client certificate for servers with
//! peer verification. A failed handshake names OpenSSL's reason and the verification
//! result ("self-signed certificate", "Hostname mismatch", ...).
//!
//! Deliberate differences: a server whose certificate or key does not load fails
//! `listen_websocket` with the reason (Zeek reports an error and returns F, the same to a
//! script); a plain-HTTP request to a TLS server gets an HTTP 400 response saying so,
//! and is then closed (IXWebSocket just drops it).

use crate::error::{Error, Result};
use openssl::error::ErrorStack;
use openssl::ssl::{
    SslConnector, SslContext, SslContextBuilder, SslFiletype, SslMethod, SslMode, SslOptions,
    SslVerifyMode, SslVersion,
};
use std::path::Path;

/// OpenSSL's error queue as one line of reasons.
pub(crate) fn stack(e: &ErrorStack) -> String {
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

fn ssl_err(what: &str, e: ErrorStack) -> Error {
    Error::invalid(format!("{what}: {}", stack(&e)))
}

/// The server's `WebSocketTLSOptions`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServerTls {
    pub cert_file: Option<String>,
    pub key_file: Option<String>,
    pub enable_peer_verification: bool,
    pub ca_file: String,
    pub ciphers: String,
}

impl ServerTls {
    /// Zeek's `TlsEnabled()`: both files given.
    pub fn enabled(&self) -> bool {
        self.cert_file.is_some() && self.key_file.is_some()
    }

    /// The OpenSSL context (None without TLS). Errors name the option.
    pub(crate) fn context(&self) -> Result<Option<SslContext>> {
        let (cert, key) = match (&self.cert_file, &self.key_file) {
            (None, None) => return Ok(None),
            (Some(_), None) => {
                return Err(Error::invalid(
                    "Invalid tls_options: No key_file field (WebSocket TLS needs both cert_file and key_file)",
                ))
            }
            (None, Some(_)) => {
                return Err(Error::invalid(
                    "Invalid tls_options: No cert_file field (WebSocket TLS needs both cert_file and key_file)",
                ))
            }
            (Some(c), Some(k)) => (c, k),
        };
        let mut b = SslContextBuilder::new(SslMethod::tls_server())
            .map_err(|e| ssl_err("creating the TLS context", e))?;
        b.set_certificate_chain_file(cert).map_err(|e| {
            ssl_err(
                &format!("tls_options$cert_file: failed to load certificate '{cert}'"),
                e,
            )
        })?;
        b.set_private_key_file(key, SslFiletype::PEM).map_err(|e| {
            if stack(&e).contains("mismatch") {
                ssl_err(
                    &format!("tls_options$key_file: the key '{key}' does not go with the certificate '{cert}'"),
                    e,
                )
            } else {
                ssl_err(
                    &format!("tls_options$key_file: failed to load private key '{key}'"),
                    e,
                )
            }
        })?;
        b.check_private_key().map_err(|e| {
            ssl_err(
                &format!("tls_options$key_file: the key '{key}' does not go with the certificate '{cert}'"),
                e,
            )
        })?;
        if self.enable_peer_verification && self.ca_file != "NONE" {
            if self.ca_file.is_empty() {
                b.set_default_verify_paths()
                    .map_err(|e| ssl_err("loading the system's trusted CA certificates", e))?;
            } else {
                b.set_ca_file(&self.ca_file).map_err(|e| {
                    ssl_err(
                        &format!(
                            "tls_options$ca_file: failed to load CA certificates '{}'",
                            self.ca_file
                        ),
                        e,
                    )
                })?;
            }
            b.set_verify(SslVerifyMode::PEER | SslVerifyMode::FAIL_IF_NO_PEER_CERT);
        } else {
            b.set_verify(SslVerifyMode::NONE);
        }
        if !self.ciphers.is_empty() {
            b.set_cipher_list(&self.ciphers)
                .map_err(|e| ssl_err(&format!("tls_options$ciphers: '{}'", self.ciphers), e))?;
        }
        common(&mut b)?;
        Ok(Some(b.build()))
    }
}

fn common(b: &mut SslContextBuilder) -> Result<()> {
    b.set_min_proto_version(Some(SslVersion::TLS1_2))
        .map_err(|e| ssl_err("setting the minimum TLS version", e))?;
    // How the non-blocking loops drive OpenSSL (invisible on the wire).
    b.set_mode(SslMode::ENABLE_PARTIAL_WRITE | SslMode::ACCEPT_MOVING_WRITE_BUFFER);
    b.set_options(SslOptions::IGNORE_UNEXPECTED_EOF);
    Ok(())
}

/// What the WebSocket client does with publishes made while it is not connected (before
/// the first ack, and between a loss and the next ack): option `disconnected_policy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DisconnectedPolicy {
    /// Queued (up to `send_queue_size`; then the endpoint holds further publishes back
    /// and `publish` waits up to `backpressure_timeout`, then fails with WouldBlock), and
    /// sent in order once the connection is (re)established.
    #[default]
    Buffer,
    /// Dropped and counted (`ClientHandle::dropped`): opt-in.
    Drop,
}

/// Options of the WebSocket client transport (`Endpoint::connect_websocket_with`), set by
/// name with [`ClientOptions::set`] (the catalogue's `Scope::WebSocketClient`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientOptions {
    /// `X-Application-Name` (default `zcluster`).
    pub application_name: String,
    /// wss: verify the server's certificate and host name (default true).
    pub verify_peer: bool,
    /// wss: trusted CA certificates (PEM file); empty with `ca_path` empty: the system's.
    pub ca_file: String,
    /// wss: a directory of hashed CA certificates (`openssl rehash`).
    pub ca_path: String,
    /// wss: a client certificate chain and key, for servers that verify peers.
    pub cert_file: String,
    pub key_file: String,
    /// wss: OpenSSL cipher list (TLS 1.2); empty keeps OpenSSL's defaults.
    pub ciphers: String,
    /// Publishes queued for the server at most (connected or not).
    pub send_queue_size: usize,
    /// Publishes made while not connected: buffered (default) or dropped.
    pub disconnected_policy: DisconnectedPolicy,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            application_name: "zcluster".into(),
            verify_peer: true,
            ca_file: String::new(),
            ca_path: String::new(),
            cert_file: String::new(),
            key_file: String::new(),
            ciphers: String::new(),
            send_queue_size: super::client::SEND_QUEUE,
            disconnected_policy: DisconnectedPolicy::Buffer,
        }
    }
}

impl ClientOptions {
    /// Sets an option by name (the catalogue's `Scope::WebSocketClient`), its value in
    /// the options' grammar (`verify_peer`: T or F). Errors: NotFound (unknown name, with
    /// the nearest one), InvalidArgument (bad value).
    pub fn set(&mut self, key: &str, value: &str) -> Result<()> {
        use crate::options::OptionValue;
        let spec = crate::options::lookup(&[crate::options::Scope::WebSocketClient], key)?;
        let v = spec.parse(value)?;
        let text = || match &v {
            OptionValue::String(s) => s.trim().to_string(),
            _ => String::new(),
        };
        match (spec.name, &v) {
            ("application_name", _) => {
                let t = text();
                if !super::protocol::good_application_name(&t) || t.is_empty() {
                    return Err(spec.refuse(
                        value,
                        "is not an application name Zeek accepts ([-/_.=:*@a-zA-Z0-9]+)",
                    ));
                }
                self.application_name = t;
            }
            ("verify_peer", OptionValue::Bool(b)) => self.verify_peer = *b,
            ("ca_file", _) => self.ca_file = text(),
            ("ca_path", _) => self.ca_path = text(),
            ("cert_file", _) => self.cert_file = text(),
            ("key_file", _) => self.key_file = text(),
            ("ciphers", _) => self.ciphers = text(),
            ("send_queue_size", _) => {
                self.send_queue_size = v.as_count().unwrap_or(0).clamp(1, 1 << 24) as usize
            }
            ("disconnected_policy", OptionValue::Enum(e)) => {
                self.disconnected_policy = if e == "drop" {
                    DisconnectedPolicy::Drop
                } else {
                    DisconnectedPolicy::Buffer
                }
            }
            (other, _) => {
                return Err(Error::new(
                    crate::error::ErrorKind::Internal,
                    format!("WebSocket client option {other} is in the catalogue but not applied"),
                ))
            }
        }
        Ok(())
    }

    /// The connector for wss:// URLs. Errors name the option.
    pub(crate) fn connector(&self) -> Result<SslConnector> {
        let mut b = SslConnector::builder(SslMethod::tls_client())
            .map_err(|e| ssl_err("creating the TLS context", e))?;
        let cafile = (!self.ca_file.is_empty()).then(|| Path::new(&self.ca_file));
        let capath = (!self.ca_path.is_empty()).then(|| Path::new(&self.ca_path));
        if cafile.is_some() || capath.is_some() {
            b.load_verify_locations(cafile, capath).map_err(|e| {
                ssl_err(
                    &format!(
                        "ca_file/ca_path: failed to load trusted CA certificates (ca_file '{}', ca_path '{}')",
                        self.ca_file, self.ca_path
                    ),
                    e,
                )
            })?;
        }
        match (self.cert_file.is_empty(), self.key_file.is_empty()) {
            (true, true) => {}
            (false, false) => {
                b.set_certificate_chain_file(&self.cert_file).map_err(|e| {
                    ssl_err(
                        &format!("cert_file: failed to load certificate '{}'", self.cert_file),
                        e,
                    )
                })?;
                b.set_private_key_file(&self.key_file, SslFiletype::PEM)
                    .map_err(|e| {
                        ssl_err(
                            &format!("key_file: failed to load private key '{}'", self.key_file),
                            e,
                        )
                    })?;
                b.check_private_key().map_err(|e| {
                    ssl_err(
                        &format!(
                            "key_file: the key '{}' does not go with the certificate '{}'",
                            self.key_file, self.cert_file
                        ),
                        e,
                    )
                })?;
            }
            _ => {
                return Err(Error::invalid(
                    "a client certificate needs both cert_file and key_file",
                ))
            }
        }
        if !self.ciphers.is_empty() {
            b.set_cipher_list(&self.ciphers)
                .map_err(|e| ssl_err(&format!("ciphers: '{}'", self.ciphers), e))?;
        }
        b.set_verify(if self.verify_peer {
            SslVerifyMode::PEER
        } else {
            SslVerifyMode::NONE
        });
        common(&mut b)?;
        Ok(b.build())
    }
}

/// Why a client's TLS handshake failed, with hints for the usual mistakes.
pub(crate) fn handshake_failure(reason: &str) -> String {
    let hint = if reason.contains("wrong version number")
        || reason.contains("packet length too long")
        || reason.contains("record layer failure")
        || reason.contains("unexpected eof")
        || reason.contains("the server closed")
    {
        " (does the server speak TLS? a ws:// URL connects without it)"
    } else if reason.contains("certificate required") || reason.contains("handshake failure") {
        " (the server may require a client certificate: set cert_file and key_file)"
    } else if reason.contains("certificate verify failed") {
        " (trust the server's CA with ca_file, or verify_peer=F to skip verification)"
    } else {
        ""
    };
    format!("TLS handshake failed: {reason}{hint}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options() {
        let mut o = ClientOptions::default();
        assert!(o.verify_peer);
        o.set("verify_peer", "F").unwrap();
        assert!(!o.verify_peer);
        assert!(o.set("verify_peer", "maybe").is_err());
        assert!(o.set("application_name", "bad name").is_err());
        assert_eq!(
            o.set("colour", "x").unwrap_err().kind,
            crate::error::ErrorKind::NotFound
        );
        o.set("cert_file", "/c.pem").unwrap();
        assert!(o.connector().is_err());
        let s = ServerTls {
            cert_file: Some("/nonexistent.pem".into()),
            ..ServerTls::default()
        };
        assert!(s.context().unwrap_err().message.contains("No key_file"));
        assert!(ServerTls::default().context().unwrap().is_none());
    }
}
