"""Zeek's WebSocket API on a zcluster node, driven by independent clients (the
`websockets` library, zeekpy, ZeekControl's request pattern), and the node's Prometheus
endpoint scraped and parsed with prometheus_client.

One in-process cluster (manager + worker-1) for the module. The layout ends with the
`zeek_init` block ZeekControl 8.1+ writes, so the manager starts the WebSocket server from
the layout; tests that need other server options start more servers with
`Cluster.listen_websocket`.
"""

import contextlib
import ipaddress
import json
import threading
import time
import urllib.request

import pytest

import zcluster
from ports import free_port

websockets = pytest.importorskip("websockets")
from websockets.sync.client import connect  # noqa: E402
from websockets.exceptions import ConnectionClosed  # noqa: E402

T = 20.0
PATH = "/v1/messages/json"


def ev_json(topic, name, args, meta=None):
    inner = [{"@data-type": "string", "data": name}, {"@data-type": "vector", "data": args}]
    if meta is not None:
        inner.append({"@data-type": "vector", "data": meta})
    return {
        "type": "data-message",
        "topic": topic,
        "@data-type": "vector",
        "data": [
            {"@data-type": "count", "data": 1},
            {"@data-type": "count", "data": 1},
            {"@data-type": "vector", "data": inner},
        ],
    }


# One argument of every Broker type, in Broker JSON v1 (canonical forms, so the node's
# re-encoding must give the same JSON back).
EVERY_TYPE = [
    {"@data-type": "none", "data": {}},
    {"@data-type": "boolean", "data": True},
    {"@data-type": "count", "data": 18446744073709551615},
    {"@data-type": "integer", "data": -9223372036854775808},
    {"@data-type": "real", "data": 1.5},
    {"@data-type": "string", "data": "h\u00e9llo \"q\"\n"},
    {"@data-type": "address", "data": "2001:db8::1"},
    {"@data-type": "address", "data": "192.168.1.2"},
    {"@data-type": "subnet", "data": "10.0.0.0/8"},
    {"@data-type": "port", "data": "8080/tcp"},
    {"@data-type": "timestamp", "data": "2024-05-06T07:08:09.123"},
    {"@data-type": "timespan", "data": "1500ms"},
    {"@data-type": "enum-value", "data": "Log::WRITER_ASCII"},
    {"@data-type": "set", "data": [{"@data-type": "count", "data": 1}, {"@data-type": "count", "data": 2}]},
    {
        "@data-type": "table",
        "data": [{"key": {"@data-type": "string", "data": "k"}, "value": {"@data-type": "count", "data": 7}}],
    },
    {"@data-type": "vector", "data": [{"@data-type": "string", "data": "x"}, {"@data-type": "vector", "data": []}]},
]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    ws_port, m_port, w_port = free_port(), free_port(), free_port()
    mm, wm = free_port(), free_port()
    text = "\n".join([
        "# Automatically generated. Do not edit.",
        "redef Cluster::manager_is_logger = T;",
        "redef Cluster::nodes = {",
        '\t["control"] = [$node_type=Cluster::CONTROL, $ip=127.0.0.1, $p=%d/tcp],' % free_port(),
        '\t["manager"] = [$node_type=Cluster::MANAGER, $ip=127.0.0.1, $p=%d/tcp, $metrics_port=%d/tcp],' % (m_port, mm),
        '\t["worker-1"] = [$node_type=Cluster::WORKER, $ip=127.0.0.1, $p=%d/tcp, $manager="manager", $metrics_port=%d/tcp],' % (w_port, wm),
        "};",
        "",
        "event zeek_init()",
        "\t{",
        '\tif ( getenv("ZEEKCTL_DISABLE_LISTEN") == "" && (Cluster::local_node_type() == Cluster::MANAGER || ! Cluster::is_enabled()) )',
        "\t\t{",
        "\t\tCluster::listen_websocket([$listen_addr=127.0.0.1, $listen_port=%d/tcp]);" % ws_port,
        "\t\t}",
        "\t}",
        "",
    ])
    layout = zcluster.Layout.parse(text, format="zeek")
    logs = tmp_path_factory.mktemp("logs")
    with echo_pair(layout, logs, {"Cluster::retry_interval": 0.2}) as (manager, worker, got):
        yield {"manager": manager, "worker": worker, "ws_port": ws_port, "mm": mm, "wm": wm, "got": got, "logs": logs}


@contextlib.contextmanager
def echo_pair(layout, logs, opts=None):
    """The layout's manager and worker-1, started, the worker having seen the manager's
    node_up; the worker subscribes zeek/test/ and echoes what WebSocket clients send to
    zeek/test/to-worker on zeek/test/echo, collecting every event it gets. Yields
    (manager, worker, got); closes both."""
    manager = zcluster.Cluster(layout, "manager", opts)
    worker = zcluster.Cluster(layout, "worker-1", opts)
    manager.start(log_dir=logs)
    worker.start(log_dir=logs)
    worker.subscribe("zeek/test/")
    deadline = time.time() + T
    while time.time() < deadline and "manager" not in worker.nodes_up():
        time.sleep(0.02)
    assert "manager" in worker.nodes_up()
    stop = threading.Event()
    got = []

    def echo():
        while not stop.is_set():
            m = worker.next(timeout=0.05)
            if m is None or m.kind != zcluster.MessageKind.EVENT:
                continue
            got.append(m)
            if m.topic.startswith("zeek/test/to-worker") and m.event is not None:
                worker.publish("zeek/test/echo", m.event)

    t = threading.Thread(target=echo, daemon=True)
    t.start()
    try:
        yield manager, worker, got
    finally:
        stop.set()
        t.join()
        worker.close()
        manager.close()


def url(port, path=PATH):
    return "ws://127.0.0.1:%d%s" % (port, path)


def hello(ws, subs):
    ws.send(json.dumps(subs))
    return json.loads(ws.recv(timeout=T))


def recv_json(ws):
    return json.loads(ws.recv(timeout=T))


def test_handshake_and_ack(cluster):
    m = cluster["manager"]
    with connect(url(cluster["ws_port"]), additional_headers={"X-Application-Name": "zcluster-test/1.0"}) as ws:
        ack = hello(ws, ["zeek/test/echo"])
        assert ack["type"] == "ack"
        assert set(ack) == {"type", "endpoint", "version"}
        prefix = m.node_id + "-websocket-"
        assert ack["endpoint"].startswith(prefix) and ack["endpoint"][len(prefix):].isdigit()
        assert ack["version"]
    # The host saw Cluster::websocket_client_added then ..._lost, with the EndpointInfo.
    names = []
    deadline = time.time() + T
    while time.time() < deadline and "Cluster::websocket_client_lost" not in names:
        msg = m.next(timeout=0.1)
        if msg is not None and msg.event is not None:
            names.append(msg.event.name)
            if msg.event.name == "Cluster::websocket_client_added":
                info, subs = msg.event.args
                assert info[0] == ack["endpoint"] and info[2] == "zcluster-test/1.0"
                assert list(subs) == ["zeek/test/echo"]
            if msg.event.name == "Cluster::websocket_client_lost":
                info, code, reason = msg.event.args
                assert info[0] == ack["endpoint"] and code == 1000
    assert names.index("Cluster::websocket_client_added") < names.index("Cluster::websocket_client_lost")
    # ... and cluster.log has Zeek's lines for both (Cluster::format_endpoint_info).
    who = "WebSocket client '%s' (127.0.0.1:" % ack["endpoint"]
    deadline = time.time() + T
    lines = []
    while time.time() < deadline:
        m.log_flush()
        lines = [l for l in (cluster["logs"] / "cluster.log").read_text().splitlines() if who in l]
        if len(lines) >= 2:
            break
        time.sleep(0.1)
    assert any("application_name=zcluster-test/1.0 subscribed to [zeek/test/echo]" in l for l in lines), lines
    assert any("application_name=zcluster-test/1.0 gone with code 1000" in l for l in lines), lines


def test_every_type_both_ways(cluster):
    with connect(url(cluster["ws_port"])) as ws:
        assert hello(ws, ["zeek/test/echo"])["type"] == "ack"
        meta = [{"@data-type": "vector", "data": [{"@data-type": "count", "data": 1},
                                                   {"@data-type": "timestamp", "data": "2024-05-06T07:08:09.000"}]}]
        ws.send(json.dumps(ev_json("zeek/test/to-worker", "Test::every", EVERY_TYPE, meta)))
        back = recv_json(ws)
        assert back["type"] == "data-message" and back["topic"] == "zeek/test/echo"
        assert list(back)[:4] == ["type", "topic", "@data-type", "data"]
        inner = back["data"][2]["data"]
        assert inner[0] == {"@data-type": "string", "data": "Test::every"}
        assert inner[1]["data"] == EVERY_TYPE
        # The metadata (network timestamp) travelled with the event.
        assert inner[2]["data"] == meta


def test_many_clients_share_the_node_and_do_not_get_their_own(cluster):
    a = connect(url(cluster["ws_port"]))
    b = connect(url(cluster["ws_port"]))
    try:
        assert hello(a, ["zeek/test/chat"])["type"] == "ack"
        assert hello(b, ["zeek/test/chat"])["type"] == "ack"
        a.send(json.dumps(ev_json("zeek/test/chat", "Test::hi", [{"@data-type": "count", "data": 1}])))
        m = recv_json(b)
        assert m["data"][2]["data"][0]["data"] == "Test::hi"
        with pytest.raises(TimeoutError):
            a.recv(timeout=0.5)
    finally:
        a.close()
        b.close()
    # The worker (a peer) got it too, and the manager's host did not (not subscribed).
    deadline = time.time() + T
    while time.time() < deadline and not any(g.topic == "zeek/test/chat" for g in cluster["got"]):
        time.sleep(0.02)
    assert any(g.topic == "zeek/test/chat" for g in cluster["got"])


def expect_close(ws, code, max_messages=100):
    with pytest.raises(ConnectionClosed) as e:
        for _ in range(max_messages):
            ws.recv(timeout=T)
    assert e.value.rcvd is not None and e.value.rcvd.code == code
    return e.value.rcvd.reason


def test_bad_uri(cluster):
    with connect(url(cluster["ws_port"], "/v1/events/json")) as ws:
        assert recv_json(ws) == {"type": "error", "code": "invalid_uri", "context": "Invalid URI - use /v1/messages/json"}
        assert expect_close(ws, 1008) == "Invalid URI - use /v1/messages/json"


def test_bad_application_name(cluster):
    with connect(url(cluster["ws_port"]), additional_headers={"X-Application-Name": "bad name!"}) as ws:
        assert recv_json(ws) == {"type": "error", "code": "invalid_application_name", "context": "Invalid X-Application-Name"}
        expect_close(ws, 1008)


@pytest.mark.parametrize("first,context", [
    ("{}", "subscriptions not an array"),
    ("not json", "subscriptions not an array"),
    ('["a", 1]', "individual subscription not a string"),
])
def test_bad_subscriptions(cluster, first, context):
    with connect(url(cluster["ws_port"])) as ws:
        ws.send(first)
        assert recv_json(ws) == {"type": "error", "code": "deserialization_failed", "context": context}
        # Zeek keeps the connection open and never acks.
        with pytest.raises(TimeoutError):
            ws.recv(timeout=0.3)


@pytest.mark.parametrize("msg,context", [
    ("{nope", "failed to decode JSON object"),
    (json.dumps({k: v for k, v in ev_json("t", "E", []).items() if k != "topic"}), "no topic in top-level JSON object"),
    (json.dumps({"type": "data-message", "topic": "zeek/test/x", "@data-type": "count", "data": 1}), "failed to create Zeek event"),
])
def test_bad_messages_after_ack(cluster, msg, context):
    with connect(url(cluster["ws_port"])) as ws:
        assert hello(ws, ["zeek/test/echo"])["type"] == "ack"
        ws.send(msg)
        assert recv_json(ws) == {"type": "error", "code": "deserialization_failed", "context": context}
        # Still usable afterwards.
        ws.send(json.dumps(ev_json("zeek/test/to-worker", "Test::after", [])))
        assert recv_json(ws)["data"][2]["data"][0]["data"] == "Test::after"


def test_zeekctl_control_requests(cluster):
    """ZeekControl's ws_send_events: subscribe zeek/control, one request per node topic,
    one reply per node, the node named by the reply topic's last part."""
    with connect(url(cluster["ws_port"]), additional_headers={"X-Application-Name": "zeekctl/2.6.0"}) as ws:
        assert hello(ws, ["zeek/control"])["type"] == "ack"
        for node in ["manager", "worker-1"]:
            topic = "/".join(["zeek", "cluster", "node", node, ""])
            ws.send(json.dumps(ev_json(topic, "Control::peer_status_request", [])))
            d = recv_json(ws)
            assert d["type"] == "data-message"
            assert d["data"][2]["data"][0]["data"] == "Control::peer_status_response"
            assert d["topic"].rsplit("/", 1)[-1] == node


def test_zeekpy_client(cluster):
    """zeekpy (PyPI), Zeek's own Python client: handshake, publish with Python values
    converted by zeekpy, typed handler dispatch of the echo."""
    zeekpy = pytest.importorskip("zeekpy")
    got = []
    z = zeekpy.Zeek(url(cluster["ws_port"]), topics=["zeek/test/echo"], app_name="zeekpy-test", timeout=T)

    @z.on("Test::zeekpy")
    def handler(n: int, s: str, a: zeekpy.addr):
        got.append((n, s, a))
        z.stop()

    with z:
        assert z.endpoint.startswith(cluster["manager"].node_id + "-websocket-")
        z.publish("zeek/test/to-worker", "Test::zeekpy", [42, "hi", ipaddress.ip_address("10.1.2.3")])
        z.consume(timeout=T)
    assert len(got) == 1
    n, s_, a = got[0]
    assert int(n) == 42 and s_ == "hi" and str(a) == "10.1.2.3"


def scrape(port, path="/metrics"):
    with urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, path), timeout=T) as r:
        return r.headers.get("Content-Type"), r.read().decode()


def samples(text):
    from prometheus_client.parser import text_string_to_metric_families

    out = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def test_metrics_move_as_events_flow(cluster):
    pytest.importorskip("prometheus_client")
    ctype, text = scrape(cluster["wm"])
    assert ctype.startswith("text/plain")
    before = samples(text)
    node = (("node", "worker-1"),)
    assert before[("zeek_broker_peers", node)] >= 1
    assert ("process_resident_memory_bytes", node) in before
    peer = (("node", "worker-1"), ("peer", "manager"))
    assert ("zeek_broker_peer_buffer_messages", peer) in before
    with connect(url(cluster["ws_port"]), additional_headers={"X-Application-Name": "metrics-test"}) as ws:
        assert hello(ws, ["zeek/test/echo"])["type"] == "ack"
        for i in range(50):
            ws.send(json.dumps(ev_json("zeek/test/to-worker", "Test::m", [{"@data-type": "count", "data": i}])))
        for i in range(50):
            recv_json(ws)
        app = (("app", "metrics-test"), ("node", "manager"))
        keys = [("zeek_cluster_websocket_%s_events_total" % d, app) for d in ("incoming", "outgoing")]
        # The server publishes its counters' snapshot periodically: the last echo may
        # reach us before the snapshot that counts it.
        end = time.monotonic() + T
        while True:
            mgr = samples(scrape(cluster["mm"])[1])
            if all(mgr.get(k, 0) >= 50 for k in keys) or time.monotonic() > end:
                break
            time.sleep(0.05)
        assert all(mgr.get(k, 0) >= 50 for k in keys), {k[0]: mgr.get(k) for k in keys}
    after = samples(scrape(cluster["wm"])[1])
    # prometheus_client drops the _total suffix from counter family names, not samples.
    assert after[("zeek_broker_incoming_events_total", node)] >= before[("zeek_broker_incoming_events_total", node)] + 50
    assert after[("zeek_broker_outgoing_events_total", node)] >= before[("zeek_broker_outgoing_events_total", node)] + 50
    assert after[("zcluster_peer_messages_in_total", peer)] >= before[("zcluster_peer_messages_in_total", peer)] + 50
    # The structured stats call says the same.
    st = cluster["worker"].stats()
    assert st["node"] == "worker-1" and st["endpoint"]["received"] >= 50
    assert any(p["name"] == "manager" and p["messages_in"] >= 50 for p in st["peers"])


def test_services_json_on_the_manager_only(cluster):
    _, body = scrape(cluster["mm"], "/services.json")
    assert json.loads(body) == [{"targets": ["127.0.0.1:%d" % cluster["mm"], "127.0.0.1:%d" % cluster["wm"]], "labels": {}}]
    with pytest.raises(urllib.error.HTTPError) as e:
        scrape(cluster["wm"], "/services.json")
    assert e.value.code == 404


def test_slow_client_is_closed_with_a_reason(cluster):
    m = cluster["manager"]
    port = m.listen_websocket("127.0.0.1", 0, send_queue_size=64)
    ws = connect(url(port), max_queue=4)
    try:
        assert hello(ws, ["zeek/test/flood"])["type"] == "ack"
        ev = zcluster.Event("Test::flood", ["x" * 4096])
        # The client reads nothing; the node must not buffer without bound.
        for _ in range(20000):
            cluster["worker"].publish("zeek/test/flood", ev)
        # What the kernel's socket buffers held when the node gave up still arrives before
        # the close frame (up to a few MB on loopback, depending on autotuning): read past
        # it, bounded by what was published.
        reason = expect_close(ws, 1008, max_messages=20000)
        assert "overflow" in reason
    finally:
        ws.close()
    assert m.stats()["websocket"]["overflow_closes"] >= 1


def test_options_errors(cluster):
    m = cluster["manager"]
    with pytest.raises(zcluster.NotFound):
        m.listen_websocket("127.0.0.1", 0, colour="red")
    with pytest.raises(zcluster.InvalidArgument):
        m.listen_websocket("not-an-ip", 0)
    with pytest.raises(zcluster.InvalidArgument):
        m.listen_websocket("127.0.0.1", 0, cert_file="/x.pem")
    with pytest.raises(zcluster.InvalidArgument, match="failed to load certificate"):
        m.listen_websocket("127.0.0.1", 0, cert_file="/x.pem", key_file="/k.pem")


PAGE = """<!doctype html><html><body><pre id="out">waiting</pre><script>
const out = document.getElementById('out');
function report(r) { out.textContent = JSON.stringify(r);
  fetch('/result', {method: 'POST', body: JSON.stringify(r)}); }
const ws = new WebSocket('ws://127.0.0.1:%(port)d/v1/messages/json');
const got = [];
ws.onopen = () => ws.send(JSON.stringify(['zeek/test/echo']));
ws.onerror = () => report({error: 'websocket error'});
ws.onmessage = (m) => {
  const d = JSON.parse(m.data);
  got.push(d);
  if (d.type === 'ack') {
    ws.send(JSON.stringify(%(event)s));
  } else if (d.type === 'data-message') {
    report({ack: got[0], echo: d});
    ws.close();
  }
};
</script></body></html>"""


def test_browser(cluster, tmp_path):
    """A real browser (headless Chromium) opens a WebSocket to the node from a page the
    test serves, subscribes, publishes, and reports what came back."""
    import http.server
    import shutil
    import subprocess

    chrome = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if chrome is None:
        pytest.skip("no chromium installed (scripts/setup.sh installs Debian's chromium)")
    event = ev_json("zeek/test/to-worker", "Browser::hello", [{"@data-type": "string", "data": "from a page"}])
    page = (PAGE % {"port": cluster["ws_port"], "event": json.dumps(event)}).encode()
    results = []
    done = threading.Event()

    class H(http.server.BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(page)))
            self.end_headers()
            self.wfile.write(page)

        def do_POST(self):
            n = int(self.headers.get("Content-Length", "0"))
            results.append(json.loads(self.rfile.read(n)))
            self.send_response(204)
            self.end_headers()
            done.set()

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    proc = subprocess.Popen(
        [chrome, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--user-data-dir=%s" % (tmp_path / "profile"),
         "http://127.0.0.1:%d/" % srv.server_address[1]],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        assert done.wait(60), "the page reported nothing"
    finally:
        proc.kill()
        proc.wait()
        srv.shutdown()
    r = results[0]
    assert "error" not in r, r
    assert r["ack"]["type"] == "ack"
    assert r["echo"]["topic"] == "zeek/test/echo"
    assert r["echo"]["data"][2]["data"][0]["data"] == "Browser::hello"
    assert r["echo"]["data"][2]["data"][1]["data"] == [{"@data-type": "string", "data": "from a page"}]


def wait_kind(ep, kinds, timeout=T):
    deadline = time.time() + timeout
    while time.time() < deadline:
        m = ep.next(timeout=0.1)
        if m is not None and m.kind in kinds:
            return m
    raise AssertionError("no %s within %ss" % (kinds, timeout))


def test_zcluster_client_against_zcluster_server(cluster):
    K = zcluster.MessageKind
    with zcluster.Endpoint() as ep:
        ep.connect_websocket(url(cluster["ws_port"]), ["zeek/test/echo"])
        added = wait_kind(ep, {K.PEER_ADDED, K.PEER_REJECTED, K.PEER_UNAVAILABLE})
        assert added.kind == K.PEER_ADDED and cluster["manager"].node_id in added.text
        ep.publish("zeek/test/to-worker", zcluster.Event("Test::client", ["via ws", zcluster.Count(5)]))
        m = wait_kind(ep, {K.EVENT})
        assert m.topic == "zeek/test/echo"
        assert m.event.name == "Test::client" and list(m.event.args) == ["via ws", 5]


def test_zcluster_client_rejected_with_zeeks_error(cluster):
    K = zcluster.MessageKind
    with zcluster.Endpoint() as ep:
        ep.connect_websocket(url(cluster["ws_port"], "/v1/wrong"), ["x"])
        m = wait_kind(ep, {K.PEER_ADDED, K.PEER_REJECTED, K.PEER_UNAVAILABLE})
        assert m.kind == K.PEER_REJECTED and "invalid_uri: Invalid URI - use /v1/messages/json" in m.text
    with zcluster.Endpoint() as ep:
        ep.connect_websocket("ws://127.0.0.1:%d/v1/messages/json" % free_port(), ["x"], retry=0.05)
        for _ in range(2):  # retried
            assert wait_kind(ep, {K.PEER_ADDED, K.PEER_UNAVAILABLE}).kind == K.PEER_UNAVAILABLE
    with zcluster.Endpoint() as ep:
        with pytest.raises(zcluster.InvalidArgument):
            ep.connect_websocket("http://127.0.0.1:1/", [])
        with pytest.raises(zcluster.InvalidArgument):
            ep.connect_websocket("wss://127.0.0.1:1/v1/messages/json", [], ca_file="/nonexistent.pem")


def test_zcluster_client_against_an_independent_server():
    """A server written here with `websockets`, following Zeek's protocol: it checks the
    handshake bytes zcluster's client sends, acks, sends a data message, echoes one back,
    then closes; the client reports the loss and reconnects."""
    from websockets.sync.server import serve

    K = zcluster.MessageKind
    seen = {"conns": 0}

    def handler(ws):
        seen["conns"] += 1
        seen["path"] = ws.request.path
        seen["app"] = ws.request.headers.get("X-Application-Name")
        seen["subs"] = json.loads(ws.recv(timeout=T))
        ws.send(json.dumps({"type": "ack", "endpoint": "indep-websocket-0", "version": "8.0.0"}))
        ws.send(json.dumps(ev_json("a/b", "Indep::hello", EVERY_TYPE)))
        seen["published"] = json.loads(ws.recv(timeout=T))
        ws.close(1001, "Terminating")

    port = free_port()
    with serve(handler, "127.0.0.1", port) as srv:
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        with zcluster.Endpoint() as ep:
            ep.connect_websocket("ws://127.0.0.1:%d/v1/messages/json" % port, ["a/", "c/d"], retry=0.1)
            m = wait_kind(ep, {K.PEER_ADDED, K.PEER_REJECTED, K.PEER_UNAVAILABLE})
            assert m.kind == K.PEER_ADDED and "indep-websocket-0" in m.text
            m = wait_kind(ep, {K.EVENT})
            assert m.topic == "a/b" and m.event.name == "Indep::hello"
            ep.publish("c/d/e", zcluster.Event("Client::hi", [zcluster.Count(1)]))
            lost = wait_kind(ep, {K.PEER_LOST})
            assert "1001" in lost.text and "Terminating" in lost.text
            assert wait_kind(ep, {K.PEER_ADDED}).kind == K.PEER_ADDED  # reconnected
        srv.shutdown()
    assert seen["path"] == PATH and seen["app"] == "zcluster" and seen["subs"] == ["a/", "c/d"]
    assert seen["conns"] >= 2
    p = seen["published"]
    assert p == ev_json("c/d/e", "Client::hi", [{"@data-type": "count", "data": 1}])
    assert list(p)[:4] == ["type", "topic", "@data-type", "data"]


def test_zcluster_client_buffers_publishes_until_the_server_is_up():
    """Publishes made before an independent `websockets` server is up are buffered and
    arrive there in publish order once it acked, ahead of later ones; with a small
    buffer and publish queue, publish waits backpressure_timeout and raises WouldBlock,
    and what it accepted arrives too."""
    from websockets.sync.server import serve

    K = zcluster.MessageKind
    got = []
    done = threading.Event()

    def handler(ws):
        json.loads(ws.recv(timeout=T))
        ws.send(json.dumps({"type": "ack", "endpoint": "indep-websocket-1", "version": "8.2.0"}))
        try:
            while True:
                m = json.loads(ws.recv(timeout=T))
                inner = m["data"][2]["data"]
                got.append(inner[1]["data"][0]["data"])
                if inner[0]["data"] == "Client::last":
                    done.set()
        except Exception:
            done.set()

    port = free_port()
    bound = 0.3
    with zcluster.Endpoint({"publish_queue": 4, "backpressure_timeout": "%g" % bound}) as ep:
        ep.connect_websocket("ws://127.0.0.1:%d%s" % (port, PATH), [], retry=0.05, send_queue_size=16)
        accepted = 0
        while True:
            t0 = time.monotonic()
            try:
                ep.publish("c/d", zcluster.Event("Client::n", [zcluster.Count(accepted)]))
            except zcluster.WouldBlock:
                waited = time.monotonic() - t0
                break
            accepted += 1
            assert accepted < 1000, "no backpressure"
        assert waited >= bound - 0.02 and 16 <= accepted <= 16 + 4 + 2, (waited, accepted)
        with serve(handler, "127.0.0.1", port) as srv:
            threading.Thread(target=srv.serve_forever, daemon=True).start()
            assert wait_kind(ep, {K.PEER_ADDED}).kind == K.PEER_ADDED
            ep.publish("c/d", zcluster.Event("Client::last", [zcluster.Count(accepted)]))
            assert done.wait(T)
            srv.shutdown()
    assert got == list(range(accepted + 1))


def test_zcluster_client_drop_policy_is_counted_in_the_endpoints_metrics():
    """disconnected_policy="drop": publishes made while no server is up are dropped, and
    counted in the endpoint's metrics (zc_endpoint_stats_json), the count a host sees
    from C and Python."""
    port = free_port()
    with zcluster.Endpoint() as ep:
        ep.connect_websocket("ws://127.0.0.1:%d%s" % (port, PATH), [], retry=0.05,
                             disconnected_policy="drop")
        for i in range(7):
            ep.publish("c/d", zcluster.Event("Client::n", [zcluster.Count(i)]))
        deadline = time.time() + T
        while time.time() < deadline and ep.metrics()["endpoint"]["websocket_client_dropped"] < 7:
            time.sleep(0.02)
        assert ep.metrics()["endpoint"]["websocket_client_dropped"] == 7


def test_server_pings_as_zeek(cluster):
    """ping_interval: the server pings with IXWebSocket's heartbeat payload (Zeek's
    server), read here on a raw socket that does the upgrade by hand."""
    import base64
    import os
    import socket
    import struct

    port = cluster["manager"].listen_websocket("127.0.0.1", 0, ping_interval=1)
    s = socket.create_connection(("127.0.0.1", port), timeout=T)
    try:
        key = base64.b64encode(os.urandom(16)).decode()
        s.sendall(("GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                   "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n" % (PATH, key)).encode())
        buf = b""
        while b"\r\n\r\n" not in buf:
            buf += s.recv(4096)
        assert buf.startswith(b"HTTP/1.1 101")
        buf = buf.split(b"\r\n\r\n", 1)[1]
        mask = os.urandom(4)
        body = b"[]"
        s.sendall(bytes([0x81, 0x80 | len(body)]) + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(body)))
        frames = []
        deadline = time.time() + 5
        while time.time() < deadline and not any(op == 0x9 for op, _ in frames):
            while len(buf) >= 2 and len(buf) >= 2 + (buf[1] & 0x7F):
                n = buf[1] & 0x7F
                assert n < 126
                frames.append((buf[0] & 0x0F, buf[2:2 + n]))
                buf = buf[2 + n:]
            if not any(op == 0x9 for op, _ in frames):
                buf += s.recv(4096)
        assert frames[0][0] == 0x1 and json.loads(frames[0][1])["type"] == "ack"
        assert (0x9, b"ixwebsocket::heartbeat::1s") in frames
    finally:
        s.close()


def test_small_max_event_queue_size_pushes_back_without_loss(cluster):
    """max_event_queue_size=1: the server stops reading a client while one of its
    messages waits to be published (TCP pushes back); nothing is lost or reordered."""
    port = cluster["manager"].listen_websocket("127.0.0.1", 0, max_event_queue_size=1)
    with connect(url(port)) as ws:
        assert hello(ws, ["zeek/test/echo"])["type"] == "ack"
        n = 500
        for i in range(n):
            ws.send(json.dumps(ev_json("zeek/test/to-worker", "Test::q", [{"@data-type": "count", "data": i}])))
        got = [recv_json(ws)["data"][2]["data"][1]["data"][0]["data"] for _ in range(n)]
    assert got == list(range(n))
