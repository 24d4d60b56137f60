"""Zeek's WebSocket API over TLS (wss), both sides, with certificates made here with the
openssl CLI: `websockets` and zeekpy as clients of a zcluster node whose server has
`$tls_options` (from the layout and from `Cluster.listen_websocket`), peer verification
with client certificates, zcluster's wss client against zcluster's server and against an
independent `websockets` wss server, and every mismatch as a status or an error with a
reason, never a hang: an untrusted or self-signed certificate, a host name the certificate
does not name, a plain client to a TLS server and a TLS client to a plain server."""

import json
import os
import ssl
import subprocess
import threading
import time

import pytest

import zcluster
from ports import free_port

websockets = pytest.importorskip("websockets")
from websockets.sync.client import connect  # noqa: E402

T = 15.0
PATH = "/v1/messages/json"
K = zcluster.MessageKind


def sh(cwd, *args):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    d = tmp_path_factory.mktemp("wsspki")
    sh(d, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem",
       "-days", "30", "-subj", "/CN=zc-ws-ca")
    (d / "san.ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    (d / "other.ext").write_text("subjectAltName=DNS:other.example\n")
    for name, ext in (("server", "san.ext"), ("client", "san.ext"), ("misnamed", "other.ext")):
        sh(d, "req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", name + ".key", "-subj",
           "/CN=" + name, "-out", name + ".csr")
        sh(d, "x509", "-req", "-in", name + ".csr", "-CA", "ca.pem", "-CAkey", "ca.key",
           "-CAcreateserial", "-days", "30", "-extfile", ext, "-out", name + ".pem")
    # Signed by nobody we trust: self-signed, with the right name.
    sh(d, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "self.key", "-out", "self.pem",
       "-days", "30", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1")
    return d


@pytest.fixture(scope="module")
def node(pki, tmp_path_factory):
    """A manager whose layout's zeek_init starts a wss server; the host echoes what
    clients send to zeek/tls/to-node on zeek/tls/echo."""
    ws_port = free_port()
    text = "\n".join([
        "redef Cluster::nodes = {",
        '\t["manager"] = [$node_type=Cluster::MANAGER, $ip=127.0.0.1, $p=%d/tcp],' % free_port(),
        "};",
        "event zeek_init()",
        "\t{",
        "\tCluster::listen_websocket([$listen_addr=127.0.0.1, $listen_port=%d/tcp, "
        '$tls_options=[$cert_file="%s", $key_file="%s"]]);'
        % (ws_port, pki / "server.pem", pki / "server.key"),
        "\t}",
        "",
    ])
    layout = zcluster.Layout.parse(text, format="zeek")
    m = zcluster.Cluster(layout, "manager", {})
    m.start(log_dir=tmp_path_factory.mktemp("wsslogs"))
    m.subscribe("zeek/tls/")
    stop = threading.Event()
    got = []

    def echo():
        while not stop.is_set():
            msg = m.next(timeout=0.05)
            if msg is None or msg.kind != K.EVENT or msg.event is None:
                continue
            got.append(msg)
            if msg.topic.startswith("zeek/tls/to-node"):
                m.publish("zeek/tls/echo", msg.event)

    t = threading.Thread(target=echo, daemon=True)
    t.start()
    yield {"m": m, "port": ws_port, "got": got}
    stop.set()
    t.join()
    m.close()


def ev_json(topic, name, args):
    return {
        "type": "data-message",
        "topic": topic,
        "@data-type": "vector",
        "data": [
            {"@data-type": "count", "data": 1},
            {"@data-type": "count", "data": 1},
            {"@data-type": "vector", "data": [{"@data-type": "string", "data": name},
                                              {"@data-type": "vector", "data": args}]},
        ],
    }


def ctx(pki, client_cert=False):
    c = ssl.create_default_context(cafile=str(pki / "ca.pem"))
    if client_cert:
        c.load_cert_chain(str(pki / "client.pem"), str(pki / "client.key"))
    return c


def wss(port, host="127.0.0.1"):
    return "wss://%s:%d%s" % (host, port, PATH)


def echo_round(ws, tag):
    ws.send(json.dumps(["zeek/tls/echo"]))
    ack = json.loads(ws.recv(timeout=T))
    assert ack["type"] == "ack", ack
    ws.send(json.dumps(ev_json("zeek/tls/to-node", "Tls::ping", [{"@data-type": "string", "data": tag}])))
    d = json.loads(ws.recv(timeout=T))
    assert d["type"] == "data-message" and d["topic"] == "zeek/tls/echo"
    assert d["data"][2]["data"][1]["data"] == [{"@data-type": "string", "data": tag}]
    return ack


def status(ep, kinds, timeout=T):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        m = ep.next(timeout=0.1)
        if m is not None and m.kind in kinds:
            return m
    raise AssertionError("no status of %s within %ss" % (kinds, timeout))


CONNECT = {K.PEER_ADDED, K.PEER_REJECTED, K.PEER_UNAVAILABLE, K.PEER_LOST}


def test_websockets_client_over_wss_from_the_layout(pki, node):
    with connect(wss(node["port"]), ssl=ctx(pki), open_timeout=T) as ws:
        assert ws.socket.version() in ("TLSv1.2", "TLSv1.3") or True
        ack = echo_round(ws, "websockets")
        assert ack["endpoint"].startswith(node["m"].node_id + "-websocket-")


def test_zeekpy_over_wss(pki, node, monkeypatch):
    zeekpy = pytest.importorskip("zeekpy")
    # zeekpy takes the system's trust store; point it at the test CA.
    monkeypatch.setenv("SSL_CERT_FILE", str(pki / "ca.pem"))
    got = []
    z = zeekpy.Zeek(wss(node["port"]), topics=["zeek/tls/echo"], app_name="zeekpy-tls", timeout=T)

    @z.on("Tls::zeekpy")
    def handler(n: int, s: str):
        got.append((n, s))
        z.stop()

    with z:
        z.publish("zeek/tls/to-node", "Tls::zeekpy", [7, "over tls"])
        z.consume(timeout=T)
    assert got and int(got[0][0]) == 7 and got[0][1] == "over tls"


def test_untrusted_certificates_are_refused_with_a_reason(pki, node):
    # The test CA is not in the system's store: Python refuses the server.
    with pytest.raises(ssl.SSLCertVerificationError):
        connect(wss(node["port"]), ssl=ssl.create_default_context(), open_timeout=T)
    with zcluster.Endpoint() as ep:
        ep.connect_websocket(wss(node["port"]), ["zeek/tls/echo"])  # system CAs only
        m = status(ep, CONNECT)
        assert m.kind == K.PEER_UNAVAILABLE and "certificate verify failed" in m.text, m.text
    # A self-signed server certificate with the right name, and a CA-signed one with the
    # wrong name.
    for cert, why in (("self", "self-signed certificate"), ("misnamed", "IP address mismatch")):
        port = node["m"].listen_websocket("127.0.0.1", 0, tls_options={
            "cert_file": str(pki / (cert + ".pem")), "key_file": str(pki / (cert + ".key"))})
        with pytest.raises(ssl.SSLCertVerificationError):
            connect(wss(port), ssl=ctx(pki), open_timeout=T)
        with zcluster.Endpoint() as ep:
            ep.connect_websocket(wss(port), ["zeek/tls/echo"], ca_file=str(pki / "ca.pem"))
            m = status(ep, CONNECT)
            assert m.kind == K.PEER_UNAVAILABLE and why in m.text, m.text
        # Verification off: it connects (and says so only by succeeding).
        with zcluster.Endpoint() as ep:
            ep.connect_websocket(wss(port), ["zeek/tls/echo"], verify_peer=False)
            assert status(ep, CONNECT).kind == K.PEER_ADDED


def test_zcluster_client_over_wss(pki, node):
    with zcluster.Endpoint() as ep:
        ep.connect_websocket(wss(node["port"]), ["zeek/tls/echo"], ca_file=str(pki / "ca.pem"),
                             application_name="zc-wss")
        m = status(ep, CONNECT)
        assert m.kind == K.PEER_ADDED and node["m"].node_id in m.text, m.text
        ep.publish("zeek/tls/to-node", zcluster.Event("Tls::zc", ["via wss", zcluster.Count(3)]))
        e = status(ep, {K.EVENT})
        assert e.topic == "zeek/tls/echo" and e.event.name == "Tls::zc"
        assert list(e.event.args) == ["via wss", 3]
    # The host name is checked as well: "localhost" is in the certificate too.
    with zcluster.Endpoint() as ep:
        ep.connect_websocket(wss(node["port"], "localhost"), [], ca_file=str(pki / "ca.pem"))
        assert status(ep, CONNECT).kind == K.PEER_ADDED


def test_peer_verification_wants_client_certificates(pki, node):
    port = node["m"].listen_websocket(
        "127.0.0.1", 0, cert_file=str(pki / "server.pem"), key_file=str(pki / "server.key"),
        enable_peer_verification=True, ca_file=str(pki / "ca.pem"))
    with connect(wss(port), ssl=ctx(pki, client_cert=True), open_timeout=T) as ws:
        echo_round(ws, "with a client certificate")
    # Without one the handshake (TLS 1.3: the first read after it) fails.
    with pytest.raises((ssl.SSLError, OSError, websockets.exceptions.WebSocketException)):
        with connect(wss(port), ssl=ctx(pki), open_timeout=T) as ws:
            echo_round(ws, "never")
    with zcluster.Endpoint() as ep:
        ep.connect_websocket(wss(port), [], ca_file=str(pki / "ca.pem"))
        m = status(ep, CONNECT)
        assert m.kind == K.PEER_UNAVAILABLE and "certificate" in m.text, m.text
    with zcluster.Endpoint() as ep:
        ep.connect_websocket(wss(port), ["zeek/tls/echo"], ca_file=str(pki / "ca.pem"),
                             cert_file=str(pki / "client.pem"), key_file=str(pki / "client.key"))
        assert status(ep, CONNECT).kind == K.PEER_ADDED
        ep.publish("zeek/tls/to-node", zcluster.Event("Tls::mutual", []))
        assert status(ep, {K.EVENT}).event.name == "Tls::mutual"
    assert node["m"].stats()["websocket"]["tls_failures"] >= 1


def test_plain_and_tls_mismatches(pki, node):
    # A plain client to the TLS server: HTTP 400 saying so, at once.
    t0 = time.monotonic()
    with pytest.raises(websockets.exceptions.InvalidStatus) as e:
        connect("ws://127.0.0.1:%d%s" % (node["port"], PATH), open_timeout=T)
    assert e.value.response.status_code == 400
    assert b"requires TLS" in e.value.response.body
    with zcluster.Endpoint() as ep:
        ep.connect_websocket("ws://127.0.0.1:%d%s" % (node["port"], PATH), [])
        m = status(ep, CONNECT)
        assert m.kind == K.PEER_UNAVAILABLE and "400" in m.text, m.text
    # A TLS client to a plain server.
    plain = node["m"].listen_websocket("127.0.0.1", 0)
    with pytest.raises((ssl.SSLError, OSError, websockets.exceptions.WebSocketException)):
        connect(wss(plain), ssl=ctx(pki), open_timeout=T)
    with zcluster.Endpoint() as ep:
        ep.connect_websocket(wss(plain), [], ca_file=str(pki / "ca.pem"))
        m = status(ep, CONNECT)
        assert m.kind == K.PEER_UNAVAILABLE and "TLS handshake failed" in m.text, m.text
        assert "does the server speak TLS" in m.text, m.text
    assert time.monotonic() - t0 < 2 * T


def test_zcluster_wss_client_against_an_independent_server(pki):
    """A wss server written here with `websockets` and Python's ssl module."""
    from websockets.sync.server import serve

    seen = {}

    def handler(ws):
        seen["subs"] = json.loads(ws.recv(timeout=T))
        seen["app"] = ws.request.headers.get("X-Application-Name")
        ws.send(json.dumps({"type": "ack", "endpoint": "indep-websocket-0", "version": "8.0.0"}))
        ws.send(json.dumps(ev_json("a/b", "Indep::tls", [{"@data-type": "count", "data": 9}])))
        seen["published"] = json.loads(ws.recv(timeout=T))
        ws.close(1001, "Terminating")

    sctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    sctx.load_cert_chain(str(pki / "server.pem"), str(pki / "server.key"))
    port = free_port()
    with serve(handler, "127.0.0.1", port, ssl=sctx) as srv:
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        with zcluster.Endpoint() as ep:
            ep.connect_websocket(wss(port), ["a/"], ca_file=str(pki / "ca.pem"))
            m = status(ep, CONNECT)
            assert m.kind == K.PEER_ADDED and "indep-websocket-0" in m.text, m.text
            e = status(ep, {K.EVENT})
            assert e.topic == "a/b" and e.event.name == "Indep::tls" and list(e.event.args) == [9]
            ep.publish("a/c", zcluster.Event("Client::tls", []))
            lost = status(ep, {K.PEER_LOST})
            assert "1001" in lost.text
        srv.shutdown()
    assert seen["subs"] == ["a/"] and seen["app"] == "zcluster"
    assert seen["published"]["data"][2]["data"][0]["data"] == "Client::tls"


def test_tls_option_errors(pki, node):
    m = node["m"]
    with pytest.raises(zcluster.InvalidArgument, match="key_file"):
        m.listen_websocket("127.0.0.1", 0, cert_file=str(pki / "server.pem"))
    with pytest.raises(zcluster.InvalidArgument, match="cert_file"):
        m.listen_websocket("127.0.0.1", 0, cert_file="/nonexistent.pem", key_file=str(pki / "server.key"))
    with pytest.raises(zcluster.InvalidArgument, match="does not go with the certificate"):
        m.listen_websocket("127.0.0.1", 0, cert_file=str(pki / "server.pem"), key_file=str(pki / "self.key"))
    with pytest.raises(zcluster.InvalidArgument, match="ca_file"):
        m.listen_websocket("127.0.0.1", 0, cert_file=str(pki / "server.pem"),
                           key_file=str(pki / "server.key"), enable_peer_verification=True,
                           ca_file="/nonexistent-ca.pem")
    with pytest.raises(zcluster.InvalidArgument):
        m.listen_websocket("127.0.0.1", 0, enable_peer_verification="perhaps")
    with zcluster.Endpoint() as ep:
        with pytest.raises(zcluster.NotFound):
            ep.connect_websocket(wss(1), [], colour="red")
        with pytest.raises(zcluster.InvalidArgument, match="ca_file"):
            ep.connect_websocket(wss(1), [], ca_file="/nonexistent-ca.pem")
        with pytest.raises(zcluster.InvalidArgument):
            ep.connect_websocket(wss(1), [], cert_file=str(pki / "client.pem"))
    with pytest.raises(zcluster.Error, match="No key_file"):
        zcluster.Layout.parse(
            'event zeek_init() { Cluster::listen_websocket([$listen_addr=127.0.0.1, $listen_port=1/tcp, '
            '$tls_options=[$cert_file="/c.pem"]]); }\n', format="zeek")
