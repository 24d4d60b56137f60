//! TLS peerings as Broker makes them: zcluster <-> zcluster in every mode (plain,
//! anonymous, authenticated, mismatched), against Debian's `openssl s_server`/`s_client`
//! configured like Broker's contexts, and the fault cases (each asserting the status and
//! that the endpoint keeps serving its other peers). Certificates come from the openssl
//! CLI, made by the test in the style of Broker's test PKI (X.509 v1 certificates,
//! legacy-encrypted PEM keys).

mod endpoint_common;
#[path = "common/ports.rs"]
mod ports;
use endpoint_common::*;
use ports::free_port;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use zcluster::endpoint::MessageKind::*;
use zcluster::endpoint::{Endpoint, EndpointOptions, Message, OverflowPolicy, TlsMode};
use zcluster::wire::handshake::HandshakeMsg;
use zcluster::ErrorKind;

const PASS: &str = "12345";

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("the openssl command (Debian's openssl package; scripts/setup.sh installs it)");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A throwaway PKI: ca (trusted), other-ca (not trusted), and certificates signed by them.
struct Pki {
    dir: PathBuf,
}

impl Pki {
    fn new() -> Pki {
        use std::sync::atomic::{AtomicU32, Ordering};
        static N: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "zc-tls-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        for ca in ["ca", "other-ca"] {
            openssl(
                &dir,
                &[
                    "req",
                    "-x509",
                    "-newkey",
                    "rsa:2048",
                    "-nodes",
                    "-keyout",
                    &format!("{ca}.key"),
                    "-out",
                    &format!("{ca}.pem"),
                    "-days",
                    "30",
                    "-subj",
                    &format!("/CN=zcluster test {ca}"),
                ],
            );
        }
        let p = Pki { dir };
        // Broker's style: a legacy-encrypted (Proc-Type: 4,ENCRYPTED, DES-EDE3-CBC) key
        // and an X.509 v1 certificate (`x509 -req` without extensions).
        p.cert("node1", "ca", 30, true);
        p.cert("node2", "ca", 30, false);
        p.cert("stranger", "other-ca", 30, false);
        p.cert("expired", "ca", -1, false);
        let text = std::fs::read_to_string(p.path("node1.key")).unwrap();
        assert!(text.contains("Proc-Type: 4,ENCRYPTED"), "{text}");
        let out = Command::new("openssl")
            .args(["x509", "-noout", "-text", "-in"])
            .arg(p.path("node1.pem"))
            .output()
            .unwrap();
        assert!(String::from_utf8_lossy(&out.stdout).contains("Version: 1 (0x0)"));
        p
    }

    fn cert(&self, name: &str, ca: &str, days: i32, encrypted: bool) {
        let key = format!("{name}.key");
        if encrypted {
            let pass = format!("pass:{PASS}");
            openssl(
                &self.dir,
                &[
                    "genrsa",
                    "-traditional",
                    "-des3",
                    "-passout",
                    &pass,
                    "-out",
                    &key,
                    "2048",
                ],
            );
            openssl(
                &self.dir,
                &[
                    "req",
                    "-new",
                    "-key",
                    &key,
                    "-passin",
                    &pass,
                    "-subj",
                    &format!("/CN={name}"),
                    "-out",
                    &format!("{name}.csr"),
                ],
            );
        } else {
            openssl(
                &self.dir,
                &[
                    "req",
                    "-new",
                    "-newkey",
                    "rsa:2048",
                    "-nodes",
                    "-keyout",
                    &key,
                    "-subj",
                    &format!("/CN={name}"),
                    "-out",
                    &format!("{name}.csr"),
                ],
            );
        }
        openssl(
            &self.dir,
            &[
                "x509",
                "-req",
                "-in",
                &format!("{name}.csr"),
                "-CA",
                &format!("{ca}.pem"),
                "-CAkey",
                &format!("{ca}.key"),
                "-CAcreateserial",
                "-days",
                &days.to_string(),
                "-out",
                &format!("{name}.pem"),
            ],
        );
    }

    fn path(&self, f: &str) -> String {
        self.dir.join(f).to_string_lossy().into_owned()
    }

    /// Options for `name`'s certificate, trusting `ca`.
    fn auth(&self, name: &str, ca: &str) -> impl FnOnce(&mut EndpointOptions) + '_ {
        let (name, ca) = (name.to_string(), ca.to_string());
        move |o: &mut EndpointOptions| {
            o.set(
                "Broker::ssl_certificate",
                &self.path(&format!("{name}.pem")),
            )
            .unwrap();
            o.set("Broker::ssl_keyfile", &self.path(&format!("{name}.key")))
                .unwrap();
            if name == "node1" {
                o.set("Broker::ssl_passphrase", PASS).unwrap();
            }
            o.set("Broker::ssl_cafile", &self.path(&format!("{ca}.pem")))
                .unwrap();
        }
    }
}

impl Drop for Pki {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn short_timeout(o: &mut EndpointOptions) {
    o.handshake_timeout = Duration::from_millis(800);
}

/// `a` (listening) serves a healthy peer `b` subscribed to /ok.
fn healthy(a: &Endpoint, b: &Endpoint) -> u16 {
    let port = connect(a, b);
    b.subscribe("/ok").unwrap();
    assert!(a.await_peer_subscription("/ok", T));
    port
}

fn still_serves(a: &Endpoint, b: &Endpoint, tag: &str) {
    a.publish("/ok", string_payload(tag)).unwrap();
    assert_eq!(
        next_data(b, T)
            .expect("the healthy peer is still served")
            .payload,
        string_payload(tag)
    );
    assert_eq!(a.peers().len(), 1, "{:?}", a.peers());
}

fn both_ways(a: &Endpoint, b: &Endpoint) {
    a.subscribe("/to-a").unwrap();
    b.subscribe("/to-b").unwrap();
    assert!(a.await_peer_subscription("/to-b", T));
    assert!(b.await_peer_subscription("/to-a", T));
    for i in 0..1000u32 {
        a.publish("/to-b/x", string_payload(&format!("ab{i}")))
            .unwrap();
        b.publish("/to-a/x", string_payload(&format!("ba{i}")))
            .unwrap();
    }
    for i in 0..1000u32 {
        assert_eq!(
            next_data(b, T).unwrap().payload,
            string_payload(&format!("ab{i}"))
        );
        assert_eq!(
            next_data(a, T).unwrap().payload,
            string_payload(&format!("ba{i}"))
        );
    }
}

fn failure(e: &Endpoint, kind: zcluster::endpoint::MessageKind) -> Message {
    let m = expect_kind(e, &[kind, PeerAdded]);
    assert_eq!(m.kind, kind, "{m:?}");
    m
}

// -- zcluster <-> zcluster ---------------------------------------------------------------

#[test]
fn anonymous_tls_is_the_default() {
    let a = ep();
    let b = ep();
    assert_eq!(a.options().tls.mode(), TlsMode::Anonymous);
    connect(&a, &b);
    both_ways(&a, &b);
}

#[test]
fn plain_tcp_with_disable_ssl() {
    let a = ep_with(|o| o.set("Broker::disable_ssl", "T").unwrap());
    let b = ep_with(|o| o.set("broker.disable-ssl", "true").unwrap());
    assert_eq!(a.options().tls.mode(), TlsMode::Plain);
    connect(&a, &b);
    both_ways(&a, &b);
}

#[test]
fn authenticated_tls_with_broker_style_certificates() {
    let pki = Pki::new();
    let a = ep_with(pki.auth("node1", "ca"));
    let b = ep_with(pki.auth("node2", "ca"));
    assert_eq!(a.options().tls.mode(), TlsMode::Authenticated);
    connect(&a, &b);
    both_ways(&a, &b);
    // And the other direction (node1 connects, so node1 is the TLS client).
    let c = ep_with(pki.auth("node1", "ca"));
    connect(&b, &c);
}

#[test]
fn a_ca_directory_works_as_trust_store() {
    let pki = Pki::new();
    let hashed = pki.dir.join("certs");
    std::fs::create_dir_all(&hashed).unwrap();
    std::fs::copy(pki.path("ca.pem"), hashed.join("ca.pem")).unwrap();
    openssl(&pki.dir, &["rehash", "certs"]);
    let capath = hashed.to_string_lossy().into_owned();
    let with_path = |name: &'static str| {
        let pki = &pki;
        let capath = capath.clone();
        move |o: &mut EndpointOptions| {
            o.set("Broker::ssl_certificate", &pki.path(&format!("{name}.pem")))
                .unwrap();
            o.set("Broker::ssl_keyfile", &pki.path(&format!("{name}.key")))
                .unwrap();
            o.set("Broker::ssl_capath", &capath).unwrap();
        }
    };
    let a = ep_with(with_path("node2"));
    let b = ep_with(with_path("node2"));
    connect(&a, &b);
}

#[test]
fn plaintext_peer_to_tls_endpoint_and_the_reverse() {
    let a = ep_with(short_timeout);
    let b = ep();
    let port = healthy(&a, &b);
    // A plain endpoint connects to the TLS one.
    let p = plain_ep_with(short_timeout);
    p.peer("127.0.0.1", port, Duration::ZERO).unwrap();
    let m = failure(&a, PeerRejected);
    assert!(m.text.contains("TLS handshake failed"), "{}", m.text);
    assert!(m.text.contains("does not speak TLS"), "{}", m.text);
    let m = failure(&p, PeerUnavailable);
    assert!(m.text.contains("unable to connect"), "{}", m.text);
    still_serves(&a, &b, "after a plaintext peer");

    // The TLS endpoint connects to a plain one.
    let q = plain_ep_with(short_timeout);
    let qport = q.listen("127.0.0.1", 0).unwrap();
    a.peer("127.0.0.1", qport, Duration::ZERO).unwrap();
    let m = failure(&a, PeerUnavailable);
    // What the TLS client saw first: the plain side's probe, or its close.
    assert!(m.text.contains("TLS handshake failed"), "{}", m.text);
    assert!(m.text.contains("speak TLS"), "{}", m.text);
    let m = failure(&q, PeerRejected);
    assert!(
        m.text.contains("this endpoint has TLS disabled"),
        "{}",
        m.text
    );
    still_serves(&a, &b, "after a plaintext listener");
}

#[test]
fn anonymous_and_authenticated_do_not_mix() {
    let pki = Pki::new();
    let a = ep_with(|o| {
        short_timeout(o);
        pki.auth("node2", "ca")(o)
    });
    let b = ep_with(pki.auth("node2", "ca"));
    let port = healthy(&a, &b);
    // Anonymous client, authenticated server: the server wants a client certificate.
    let anon = ep_with(short_timeout);
    anon.peer("127.0.0.1", port, Duration::ZERO).unwrap();
    let m = failure(&a, PeerRejected);
    assert!(
        m.text.contains("peer did not return a certificate"),
        "{}",
        m.text
    );
    failure(&anon, PeerUnavailable);
    still_serves(&a, &b, "after an anonymous client");
    // Authenticated client, anonymous server: no cipher in common.
    let anon_port = anon.listen("127.0.0.1", 0).unwrap();
    a.peer("127.0.0.1", anon_port, Duration::ZERO).unwrap();
    let m = failure(&a, PeerUnavailable);
    assert!(m.text.contains("TLS handshake failed"), "{}", m.text);
    let m = failure(&anon, PeerRejected);
    assert!(m.text.contains("no shared cipher"), "{}", m.text);
    still_serves(&a, &b, "after an anonymous server");
}

#[test]
fn a_certificate_from_another_ca_is_refused_both_ways() {
    let pki = Pki::new();
    let a = ep_with(|o| {
        short_timeout(o);
        pki.auth("node2", "ca")(o)
    });
    let b = ep_with(pki.auth("node1", "ca"));
    let port = healthy(&a, &b);
    // The stranger trusts our CA but has a certificate of another: we refuse it.
    let s = ep_with(|o| {
        short_timeout(o);
        pki.auth("stranger", "ca")(o)
    });
    s.peer("127.0.0.1", port, Duration::ZERO).unwrap();
    let m = failure(&a, PeerRejected);
    assert!(m.text.contains("certificate verify failed"), "{}", m.text);
    assert!(
        m.text.contains("unable to get local issuer certificate"),
        "{}",
        m.text
    );
    let m = failure(&s, PeerUnavailable);
    assert!(m.text.contains("unknown ca"), "{}", m.text);
    still_serves(&a, &b, "after a stranger client");
    // We connect to the stranger: we refuse its server certificate.
    let sport = s.listen("127.0.0.1", 0).unwrap();
    a.peer("127.0.0.1", sport, Duration::ZERO).unwrap();
    let m = failure(&a, PeerUnavailable);
    assert!(m.text.contains("certificate verify failed"), "{}", m.text);
    failure(&s, PeerRejected);
    still_serves(&a, &b, "after a stranger server");
}

#[test]
fn an_expired_certificate_is_refused() {
    let pki = Pki::new();
    let a = ep_with(|o| {
        short_timeout(o);
        pki.auth("node2", "ca")(o)
    });
    let b = ep_with(pki.auth("node1", "ca"));
    let port = healthy(&a, &b);
    let x = ep_with(|o| {
        short_timeout(o);
        pki.auth("expired", "ca")(o)
    });
    x.peer("127.0.0.1", port, Duration::ZERO).unwrap();
    let m = failure(&a, PeerRejected);
    assert!(m.text.contains("certificate has expired"), "{}", m.text);
    let m = failure(&x, PeerUnavailable);
    assert!(m.text.contains("certificate expired"), "{}", m.text);
    still_serves(&a, &b, "after an expired client certificate");
    let xport = x.listen("127.0.0.1", 0).unwrap();
    a.peer("127.0.0.1", xport, Duration::ZERO).unwrap();
    let m = failure(&a, PeerUnavailable);
    assert!(m.text.contains("certificate has expired"), "{}", m.text);
    still_serves(&a, &b, "after an expired server certificate");
}

#[test]
fn a_stalled_tls_handshake_times_out_both_ways() {
    let a = ep_with(short_timeout);
    let b = ep();
    let port = healthy(&a, &b);
    // A client that connects and never sends its ClientHello.
    let t0 = Instant::now();
    let _silent = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    let m = failure(&a, PeerRejected);
    assert!(m.text.contains("TLS handshake timed out"), "{}", m.text);
    assert!(
        t0.elapsed() >= Duration::from_millis(700),
        "{:?}",
        t0.elapsed()
    );
    still_serves(&a, &b, "after a silent client");
    // A server that accepts and never answers.
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let lport = l.local_addr().unwrap().port();
    a.peer("127.0.0.1", lport, Duration::ZERO).unwrap();
    let _held = l.accept().unwrap();
    let m = failure(&a, PeerUnavailable);
    assert!(m.text.contains("TLS handshake timed out"), "{}", m.text);
    still_serves(&a, &b, "after a silent server");
}

#[test]
fn configuration_errors_fail_at_start() {
    let pki = Pki::new();
    let start = |f: &dyn Fn(&mut EndpointOptions)| {
        let mut o = EndpointOptions::default();
        f(&mut o);
        Endpoint::new(o).err().expect("a configuration error")
    };
    let e = start(&|o| o.tls.cafile = pki.path("ca.pem"));
    assert_eq!(e.kind, ErrorKind::InvalidArgument);
    assert!(
        e.message.contains("Broker::ssl_certificate is not set"),
        "{}",
        e.message
    );
    assert!(
        e.message.contains("Broker::ssl_cafile set"),
        "{}",
        e.message
    );
    let e = start(&|o| o.tls.certificate = pki.path("node2.pem"));
    assert!(
        e.message.contains("Broker::ssl_keyfile is not set"),
        "{}",
        e.message
    );
    let e = start(&|o| {
        o.tls.certificate = pki.path("nope.pem");
        o.tls.keyfile = pki.path("node2.key");
    });
    assert!(
        e.message.contains("failed to load certificate"),
        "{}",
        e.message
    );
    assert!(e.message.contains("nope.pem"), "{}", e.message);
    let e = start(&|o| {
        o.tls.certificate = pki.path("node1.pem");
        o.tls.keyfile = pki.path("node1.key");
    });
    assert!(
        e.message.contains("set Broker::ssl_passphrase"),
        "{}",
        e.message
    );
    let e = start(&|o| {
        o.tls.certificate = pki.path("node1.pem");
        o.tls.keyfile = pki.path("node1.key");
        o.tls.passphrase = "wrong".into();
    });
    assert!(
        e.message.contains("wrong Broker::ssl_passphrase"),
        "{}",
        e.message
    );
    let e = start(&|o| {
        o.tls.certificate = pki.path("node1.pem");
        o.tls.keyfile = pki.path("node2.key");
    });
    assert!(
        e.message.contains("does not go with the certificate"),
        "{}",
        e.message
    );
    assert!(e.message.contains("key values mismatch"), "{}", e.message);
    let e = start(&|o| {
        pki.auth("node2", "ca")(o);
        o.tls.passphrase = "x".repeat(128);
    });
    assert!(e.message.contains("127"), "{}", e.message);
    let e = start(&|o| {
        pki.auth("node2", "ca")(o);
        o.tls.cafile = pki.path("missing-ca.pem");
    });
    assert!(
        e.message.contains("trusted CA certificates"),
        "{}",
        e.message
    );
    // disable_ssl wins over the certificate options, as in Broker.
    let mut o = EndpointOptions::default();
    o.set("Broker::ssl_cafile", "/nonexistent").unwrap();
    o.set("Broker::disable_ssl", "T").unwrap();
    assert!(Endpoint::new(o).is_ok());
}

#[test]
fn backpressure_and_drop_oldest_over_tls_keep_the_stream_intact() {
    // A receiver that stops reading (tiny inbox, never drained) makes the sender's TLS
    // writes block with records in flight; dropping queued frames must never touch them.
    for policy in [OverflowPolicy::DropOldest, OverflowPolicy::Backpressure] {
        let rx = ep_with(|o| {
            o.inbox_capacity = 16;
        });
        let tx = ep_with(|o| {
            o.peer_buffer_size = 8;
            o.peer_policy = policy;
            o.backpressure_timeout = Duration::from_millis(50);
        });
        connect(&rx, &tx);
        rx.subscribe("/s").unwrap();
        assert!(tx.await_peer_subscription("/s", T));
        let big = |i: u32| {
            let mut v = vec![5u8, 0x80, 0x40]; // a string of 8192 bytes
            v.extend(vec![b'a' + (i % 26) as u8; 8192 - 4]);
            v.extend_from_slice(&i.to_be_bytes());
            v
        };
        let mut sent = 0u32;
        let until = Instant::now() + Duration::from_millis(1500);
        while Instant::now() < until {
            if tx.publish("/s", big(sent)).is_ok() {
                sent += 1;
            }
        }
        let mut last: Option<u32> = None;
        let mut got = 0;
        while let Some(m) = next_data(&rx, Duration::from_millis(1500)) {
            let p = &m.payload;
            assert_eq!(p.len(), 8195);
            let i = u32::from_be_bytes(p[p.len() - 4..].try_into().unwrap());
            assert!(p[3..p.len() - 4]
                .iter()
                .all(|&b| b == b'a' + (i % 26) as u8));
            assert!(last.is_none_or(|l| i > l), "{policy:?}: {i} after {last:?}");
            if policy == OverflowPolicy::Backpressure {
                assert_eq!(i, last.map_or(0, |l| l + 1), "lossless");
            }
            last = Some(i);
            got += 1;
        }
        assert!(got > 0);
        assert_eq!(rx.peers().len(), 1, "{policy:?}: the peering survived");
        assert_eq!(tx.peers().len(), 1);
        if policy == OverflowPolicy::Backpressure {
            assert_eq!(got, sent);
        } else {
            assert!(tx.stats().peer_dropped > 0, "{:?}", tx.stats());
        }
    }
}

// -- against openssl s_server / s_client configured as Broker --------------------------

const ANON: &[&str] = &[
    "-cipher",
    "AECDH-AES256-SHA@SECLEVEL=0",
    "-groups",
    "P-384",
    "-min_protocol",
    "TLSv1.2",
];

/// The lines of s_server's `-brief` report the tests compare. It prints them one by one
/// as the handshake completes, so a reader waits for all of them, not the first.
const REPORT: &[&str] = &[
    "Protocol version:",
    "Ciphersuite:",
    "Client cipher list:",
    "Supported groups:",
];

/// Waits until `file` contains every one of `needles` (or the time is up); returns its text.
fn wait_for(file: &Path, needles: &[&str]) -> String {
    let deadline = Instant::now() + T;
    loop {
        // Lossy: s_server also prints the (binary) Broker frames it receives.
        let text = String::from_utf8_lossy(&std::fs::read(file).unwrap_or_default()).into_owned();
        if needles.iter().all(|n| text.contains(n)) || Instant::now() > deadline {
            return text;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn line<'a>(text: &'a str, prefix: &str) -> &'a str {
    text.lines()
        .find_map(|l| l.strip_prefix(prefix))
        .unwrap_or_else(|| panic!("no '{prefix}' in:\n{text:?}"))
        .trim()
}

struct Proc(Child);
impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `openssl s_server -brief` on a fresh port; its output goes to `out`. It serves two
/// connections: the readiness probe and the one of the test.
fn s_server(extra: &[&str], out: &Path) -> (Proc, u16) {
    let port = free_port();
    let f = std::fs::File::create(out).unwrap();
    // Unbuffered (stdbuf): s_server writes its report through stdio.
    let child = Command::new("stdbuf")
        .args([
            "-o0", "-e0", "openssl", "s_server", "-brief", "-naccept", "2", "-accept",
        ])
        .arg(format!("127.0.0.1:{port}"))
        .args(extra)
        .stdin(Stdio::piped())
        .stdout(f.try_clone().unwrap())
        .stderr(f)
        .spawn()
        .expect("openssl s_server");
    // Ready once it accepts connections.
    let deadline = Instant::now() + T;
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "s_server did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    (Proc(child), port)
}

fn s_client(port: u16, extra: &[&str]) -> String {
    let out = Command::new("timeout")
        .args(["10", "openssl", "s_client", "-brief", "-connect"])
        .arg(format!("127.0.0.1:{port}"))
        .args(extra)
        .stdin(Stdio::null())
        .output()
        .expect("openssl s_client");
    String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr)
}

/// What the Broker-configured s_server logs about a Broker-configured s_client: the
/// baseline our endpoint must match.
fn broker_like_pair(server: &[&str], client: &[&str], dir: &Path) -> String {
    let out = dir.join("pair.out");
    let (mut srv, port) = s_server(server, &out);
    let c = s_client(port, client);
    assert!(c.contains("CONNECTION ESTABLISHED"), "{c}");
    let text = wait_for(&out, REPORT);
    let _ = srv.0.kill();
    text
}

#[test]
fn our_client_offers_and_negotiates_what_brokers_does() {
    let pki = Pki::new();
    let baseline = broker_like_pair(&[&["-nocert"], ANON].concat(), ANON, &pki.dir);
    let out = pki.dir.join("ours.out");
    let (_srv, port) = s_server(&[&["-nocert"], ANON].concat(), &out);
    let a = ep_with(short_timeout);
    a.peer("127.0.0.1", port, Duration::ZERO).unwrap();
    let text = wait_for(&out, REPORT);
    for &key in REPORT {
        assert_eq!(line(&text, key), line(&baseline, key), "{key}\n{text}");
    }
    assert_eq!(line(&text, "Protocol version:"), "TLSv1.2");
    assert_eq!(line(&text, "Ciphersuite:"), "AECDH-AES256-SHA");
    assert_eq!(line(&text, "Supported groups:"), "secp384r1");
    // The client offered TLS 1.3 too (left enabled, as Broker does).
    assert!(line(&text, "Client cipher list:").starts_with("TLS_AES_256_GCM_SHA384"));
}

#[test]
fn brokers_client_negotiates_with_us_what_it_does_with_broker() {
    let pki = Pki::new();
    let baseline = broker_like_pair(&[&["-nocert"], ANON].concat(), ANON, &pki.dir);
    let a = ep();
    let port = a.listen("127.0.0.1", 0).unwrap();
    let c = s_client(port, ANON);
    assert!(c.contains("CONNECTION ESTABLISHED"), "{c}");
    assert_eq!(
        line(&c, "Protocol version:"),
        line(&baseline, "Protocol version:")
    );
    assert_eq!(line(&c, "Ciphersuite:"), "AECDH-AES256-SHA");
    assert_eq!(line(&c, "Server Temp Key:"), "ECDH, secp384r1, 384 bits");
}

#[test]
fn authenticated_mode_negotiates_what_brokers_does() {
    let pki = Pki::new();
    let auth = |name: &str| {
        vec![
            "-cert".to_string(),
            pki.path(&format!("{name}.pem")),
            "-key".into(),
            pki.path(&format!("{name}.key")),
            "-CAfile".into(),
            pki.path("ca.pem"),
            "-cipher".into(),
            "HIGH:!aNULL:!MD5".into(),
            "-min_protocol".into(),
            "TLSv1.2".into(),
        ]
    };
    let srv_args = [auth("node2"), vec!["-Verify".into(), "5".into()]].concat();
    let srv: Vec<&str> = srv_args.iter().map(String::as_str).collect();
    let cli_args = auth("node2");
    let cli: Vec<&str> = cli_args.iter().map(String::as_str).collect();
    let baseline = broker_like_pair(&srv, &cli, &pki.dir);
    // s_client with a certificate against our authenticated endpoint.
    let a = ep_with(pki.auth("node1", "ca"));
    let port = a.listen("127.0.0.1", 0).unwrap();
    let c = s_client(port, &cli);
    assert!(c.contains("CONNECTION ESTABLISHED"), "{c}");
    assert_eq!(
        line(&c, "Protocol version:"),
        line(&baseline, "Protocol version:")
    );
    assert_eq!(line(&c, "Ciphersuite:"), line(&baseline, "Ciphersuite:"));
    assert_eq!(line(&c, "Protocol version:"), "TLSv1.3");
    assert!(c.contains("Verification: OK"), "{c}");
    // s_client left after the TLS handshake, in the middle of Broker's.
    let m = failure(&a, PeerRejected);
    assert!(
        m.text.contains("connection closed by the peer"),
        "{}",
        m.text
    );
    // s_client without a certificate: refused, and reported.
    let c = s_client(port, &["-CAfile", &pki.path("ca.pem")]);
    let m = failure(&a, PeerRejected);
    assert!(
        m.text.contains("peer did not return a certificate"),
        "{}\n{c}",
        m.text
    );
    // Our client against s_server requiring a certificate.
    let out = pki.dir.join("ours.out");
    let (_srv, sport) = s_server(&srv, &out);
    let b = ep_with(pki.auth("node1", "ca"));
    b.peer("127.0.0.1", sport, Duration::ZERO).unwrap();
    let text = wait_for(&out, REPORT);
    assert_eq!(
        line(&text, "Protocol version:"),
        line(&baseline, "Protocol version:")
    );
    assert_eq!(line(&text, "Ciphersuite:"), line(&baseline, "Ciphersuite:"));
    assert_eq!(
        line(&text, "Client cipher list:"),
        line(&baseline, "Client cipher list:")
    );
}

/// Broker frames inside TLS, end to end through an independent TLS pipe (s_client).
#[test]
fn broker_frames_run_unchanged_inside_tls() {
    let a = ep();
    a.subscribe("/to-a").unwrap();
    let port = a.listen("127.0.0.1", 0).unwrap();
    let mut child = Proc(
        Command::new("openssl")
            .args(["s_client", "-quiet", "-connect"])
            .arg(format!("127.0.0.1:{port}"))
            .args(ANON)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let mut w = child.0.stdin.take().unwrap();
    let mut r = child.0.stdout.take().unwrap();
    let mut read_hs = || {
        let mut len = [0u8; 4];
        r.read_exact(&mut len).unwrap();
        let mut p = vec![0u8; u32::from_be_bytes(len) as usize];
        r.read_exact(&mut p).unwrap();
        HandshakeMsg::decode(&p).unwrap()
    };
    let mut send = |m: &HandshakeMsg| {
        let mut b = Vec::new();
        m.encode_frame(&mut b);
        w.write_all(&b).unwrap();
        w.flush().unwrap();
    };
    assert_eq!(read_hs(), HandshakeMsg::Probe);
    let me = zcluster::wire::EndpointId([0xff; 16]);
    send(&HandshakeMsg::Hello {
        sender: me,
        min_version: 1,
        max_version: 1,
    });
    // Our id is the larger: the endpoint is the originator.
    let HandshakeMsg::VersionSelect { version: 1, .. } = read_hs() else {
        panic!("expected version_select")
    };
    let HandshakeMsg::OriginatorSyn(f) = read_hs() else {
        panic!("expected originator_syn")
    };
    assert_eq!(f, vec!["/to-a".to_string()]);
    send(&HandshakeMsg::ResponderSynAck(vec![]));
    assert_eq!(read_hs(), HandshakeMsg::OriginatorAck);
    expect_kind(&a, &[PeerAdded]);
}

#[test]
fn unpeer_and_reconnect_over_tls() {
    let pki = Pki::new();
    let a = ep_with(pki.auth("node2", "ca"));
    let port = a.listen("127.0.0.1", 0).unwrap();
    let b = ep_with(pki.auth("node1", "ca"));
    b.peer("127.0.0.1", port, Duration::from_millis(100))
        .unwrap();
    expect_kind(&a, &[PeerAdded]);
    expect_kind(&b, &[PeerAdded]);
    // The listener goes away and comes back on the same port: b reconnects.
    drop(a);
    expect_kind(&b, &[PeerLost]);
    let a = ep_with(pki.auth("node2", "ca"));
    a.listen("127.0.0.1", port).unwrap();
    expect_kind(&b, &[PeerAdded]);
    expect_kind(&a, &[PeerAdded]);
    connect_check(&a, &b);
    b.unpeer("127.0.0.1", port).unwrap();
    expect_kind(&b, &[PeerRemoved]);
    expect_kind(&a, &[PeerRemoved, PeerLost]);
}

fn connect_check(a: &Endpoint, b: &Endpoint) {
    a.subscribe("/c").unwrap();
    assert!(b.await_peer_subscription("/c", T));
    b.publish("/c", string_payload("hi")).unwrap();
    assert_eq!(next_data(a, T).unwrap().payload, string_payload("hi"));
}

#[test]
fn large_frames_cross_tls_intact() {
    // Frames much larger than a TLS record (16 KiB) and than one TLS write (64 KiB).
    let a = ep();
    let b = ep();
    connect(&a, &b);
    b.subscribe("/big").unwrap();
    assert!(a.await_peer_subscription("/big", T));
    let n = 3 << 20;
    let mut payload = vec![5u8];
    let mut len = n;
    while len >= 0x80 {
        payload.push((len as u8 & 0x7f) | 0x80);
        len >>= 7;
    }
    payload.push(len as u8);
    let body: Vec<u8> = (0..n).map(|i| (i % 251) as u8).collect();
    payload.extend_from_slice(&body);
    for _ in 0..3 {
        a.publish("/big", payload.clone()).unwrap();
    }
    for _ in 0..3 {
        let m = next_data(&b, T).expect("a large message");
        assert!(
            m.payload == payload,
            "corrupted ({} bytes)",
            m.payload.len()
        );
    }
}
