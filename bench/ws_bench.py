"""WebSocket API throughput: one Python client (the `websockets` library, sync API)
against a zcluster manager's WebSocket server, the manager peered natively with a worker.

    python3 bench/ws_bench.py [N]

- client -> node: the client sends N events on a topic the worker subscribes; the rate
  is (N - 1) / (first to last arrival at the worker, which takes its inbox in batches:
  one C call per up to 4096 messages, so no Python per event on the node side).
- node -> client: the worker publishes N events (zc_cluster_publish of one event handle
  in a Python loop); the client receives each one; the rate is (N - 1) / (first to last
  arrival at the client).

Clients: `websockets` (sync API, send / recv + json.loads), zcluster's own client
transport with one call per event (publish / next), and with the batch calls
(publish_many of pre-encoded events / next_many). `python3 bench/ws_bench.py N MODE`
runs one (websockets, zcluster, zcluster-batch, native-batch: the batch program over
a native Broker peering with the worker, for comparison).

The node runs in a child process (this script with --node), so the client has its own
interpreter. Loopback only; every wait is bounded.
"""

import json
import os
import socket
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "bindings", "python"))


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def node(ws_port, n):
    import zcluster

    wport = free_port()
    text = "\n".join([
        "redef Cluster::nodes = {",
        '["manager"] = [$node_type=Cluster::MANAGER, $ip=127.0.0.1, $p=%d/tcp],' % free_port(),
        '["worker-1"] = [$node_type=Cluster::WORKER, $ip=127.0.0.1, $p=%d/tcp, $manager="manager"],' % wport,
        "};",
    ])
    layout = zcluster.Layout.parse(text, format="zeek")
    m = zcluster.Cluster(layout, "manager", {"Cluster::retry_interval": 0.2})
    w = zcluster.Cluster(layout, "worker-1", {"Cluster::retry_interval": 0.2})
    m.start(log_dir="/tmp")
    w.start(log_dir="/tmp")
    w.subscribe("bench/in")
    deadline = time.time() + 20
    while "manager" not in w.nodes_up() and time.time() < deadline:
        time.sleep(0.01)
    m.listen_websocket("127.0.0.1", ws_port, send_queue_size=1 << 20, max_event_queue_size=1024)
    import ctypes
    from zcluster._lib import lib

    # client -> node: the worker takes its inbox in batches of up to 4096 messages (one
    # C call each, no Python per message), so neither its inbox nor Python limits.
    h = w._handle()
    lib.zc_cluster_next_many.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int64,
                                         ctypes.POINTER(ctypes.c_void_p), ctypes.POINTER(ctypes.c_size_t),
                                         ctypes.POINTER(ctypes.c_size_t)]
    buf, blen, cnt = ctypes.c_void_p(), ctypes.c_size_t(), ctypes.c_size_t()
    # What arrived before (hello, node_up) is not counted.
    while lib.zc_cluster_next_many(h, 4096, 100, ctypes.byref(buf), ctypes.byref(blen), ctypes.byref(cnt)) == 0:
        lib.zc_string_free(buf)
    print("ready %d" % wport, flush=True)
    sys.stdin.readline()
    got = 0
    t0 = None
    while got < n:
        rc = lib.zc_cluster_next_many(h, 4096, 5000, ctypes.byref(buf), ctypes.byref(blen), ctypes.byref(cnt))
        if rc != 0:
            print("next_many: rc %d after %d" % (rc, got), file=sys.stderr, flush=True)
            break
        lib.zc_string_free(buf)
        if t0 is None:
            t0 = time.time()
        got += cnt.value
    print("in %d %.6f" % (got, time.time() - t0), flush=True)
    # node -> client: one event handle published N times (the C API's cost, not Python
    # event conversion).
    sys.stdin.readline()
    evh = zcluster.Event("bench", ["hello", zcluster.Count(0)])._to_event_handle()
    topic = b"bench/out"
    t0 = time.time()
    for i in range(n):
        while lib.zc_cluster_publish(h, topic, evh) != 0:
            time.sleep(0.001)
    print("sent %.6f" % (time.time() - t0), flush=True)
    sys.stdin.readline()
    w.close()
    m.close()


def client(n):
    from websockets.sync.client import connect

    ws_port = free_port()
    p = subprocess.Popen([sys.executable, __file__, "--node", str(ws_port), str(n)],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert p.stdout.readline().startswith("ready")
    msg = json.dumps({
        "type": "data-message", "topic": "bench/in", "@data-type": "vector",
        "data": [{"@data-type": "count", "data": 1}, {"@data-type": "count", "data": 1},
                 {"@data-type": "vector", "data": [
                     {"@data-type": "string", "data": "bench"},
                     {"@data-type": "vector", "data": [{"@data-type": "string", "data": "hello"},
                                                       {"@data-type": "count", "data": 0}]}]}]})
    with connect("ws://127.0.0.1:%d/v1/messages/json" % ws_port, max_queue=1024) as ws:
        ws.send(json.dumps(["bench/out"]))
        assert json.loads(ws.recv(timeout=20))["type"] == "ack"
        p.stdin.write("go\n")
        p.stdin.flush()
        t0 = time.time()
        for _ in range(n):
            ws.send(msg)
        t_send = time.time() - t0
        got, secs = p.stdout.readline().split()[1:]
        print("client->node: %d events, sent in %.3f s, first to last at the peer %.3f s: %.0f events/s"
              % (int(got), t_send, float(secs), (int(got) - 1) / float(secs)))
        p.stdin.write("go\n")
        p.stdin.flush()
        first = None
        count = 0
        while count < n:
            d = json.loads(ws.recv(timeout=30))
            if first is None:
                first = time.time()
            count += 1
        last = time.time()
        print("node->client: %d events received and decoded in %.3f s: %.0f events/s"
              % (count, last - first, (count - 1) / (last - first)))
        print("  (the worker published them in %s s)" % p.stdout.readline().split()[1])
    p.stdin.write("go\n")
    p.stdin.flush()
    p.wait(timeout=30)


def zc_client(n):
    """The same two measurements with zcluster's own WebSocket client transport from
    Python (Endpoint.connect_websocket): publish with one event, take with next()."""
    import zcluster

    ws_port = free_port()
    p = subprocess.Popen([sys.executable, __file__, "--node", str(ws_port), str(n)],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert p.stdout.readline().startswith("ready")
    K = zcluster.MessageKind
    with zcluster.Endpoint() as ep:
        ep.connect_websocket("ws://127.0.0.1:%d/v1/messages/json" % ws_port, ["bench/out"])
        deadline = time.time() + 20
        while time.time() < deadline:
            m = ep.next(timeout=0.1)
            if m is not None and m.kind == K.PEER_ADDED:
                break
        p.stdin.write("go\n")
        p.stdin.flush()
        ev = zcluster.Event("bench", ["hello", zcluster.Count(0)])
        t0 = time.time()
        for _ in range(n):
            ep.publish("bench/in", ev)
        t_send = time.time() - t0
        got, secs = p.stdout.readline().split()[1:]
        print("zcluster client->node: %d events, published in %.3f s, first to last at the peer %.3f s: %.0f events/s"
              % (int(got), t_send, float(secs), (int(got) - 1) / float(secs)))
        p.stdin.write("go\n")
        p.stdin.flush()
        first = None
        count = 0
        while count < n:
            m = ep.next(timeout=30)
            if m is None:
                break
            if m.kind != K.EVENT:
                continue
            if first is None:
                first = time.time()
            count += 1
        last = time.time()
        print("zcluster node->client: %d events taken (Message objects) in %.3f s: %.0f events/s"
              % (count, last - first, (count - 1) / (last - first)))
        print("  (the worker published them in %s s)" % p.stdout.readline().split()[1])
    p.stdin.write("go\n")
    p.stdin.flush()
    p.wait(timeout=30)


def zc_client_batch(n, batch=1000):
    """zcluster's own client transport from Python with the batch calls: publish_many of
    one pre-encoded event (one library call per `batch`), next_many (one per batch)."""
    import zcluster
    from zcluster import _codec

    ws_port = free_port()
    p = subprocess.Popen([sys.executable, __file__, "--node", str(ws_port), str(n)],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert p.stdout.readline().startswith("ready")
    K = zcluster.MessageKind
    with zcluster.Endpoint() as ep:
        h = ep.connect_websocket("ws://127.0.0.1:%d/v1/messages/json" % ws_port, ["bench/out"])
        deadline = time.time() + 20
        while time.time() < deadline:
            m = ep.next(timeout=0.1)
            if m is not None and m.kind == K.PEER_ADDED:
                break
        p.stdin.write("go\n")
        p.stdin.flush()
        enc = _codec.encode(zcluster.Event("bench", ["hello", zcluster.Count(0)]))
        chunk = [enc] * batch
        t0 = time.time()
        i = 0
        while i < n:
            k = min(batch, n - i)
            try:
                i += ep.publish_many("bench/in", chunk[:k])
            except zcluster.WouldBlock as e:
                i += getattr(e, "published", 0)
        t_send = time.time() - t0
        got, secs = p.stdout.readline().split()[1:]
        print("zcluster batch client->node: %d of %d events arrived, published in %.3f s, first to last at the peer %.3f s: %.0f events/s"
              % (int(got), n, t_send, float(secs), (int(got) - 1) / float(secs)))
        p.stdin.write("go\n")
        p.stdin.flush()
        first = None
        count = 0
        while count < n:
            ms = ep.next_many(batch, timeout=30)
            if not ms:
                break
            for m in ms:
                if m.kind != K.EVENT:
                    continue
                if first is None:
                    first = time.time()
                count += 1
        last = time.time()
        print("zcluster batch node->client: %d events taken (next_many, Message objects) in %.3f s: %.0f events/s"
              % (count, last - first, (count - 1) / (last - first)))
        print("  (the worker published them in %s s)" % p.stdout.readline().split()[1])
    p.stdin.write("go\n")
    p.stdin.flush()
    p.wait(timeout=30)


def native_batch(n, batch=1000):
    """For comparison, the same batch program over a native Broker peering with the
    worker instead of the WebSocket API (publish_many / next_many)."""
    import zcluster
    from zcluster import _codec

    ws_port = free_port()
    p = subprocess.Popen([sys.executable, __file__, "--node", str(ws_port), str(n)],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    wport = int(p.stdout.readline().split()[1])
    K = zcluster.MessageKind
    with zcluster.Endpoint() as ep:
        ep.subscribe("bench/out")
        ep.peer("127.0.0.1", wport, retry=0.2)
        deadline = time.time() + 20
        while time.time() < deadline and not ep.peer_subscribed("bench/in"):
            time.sleep(0.01)
        p.stdin.write("go\n")
        p.stdin.flush()
        enc = _codec.encode(zcluster.Event("bench", ["hello", zcluster.Count(0)]))
        chunk = [enc] * batch
        t0 = time.time()
        i = 0
        while i < n:
            k = min(batch, n - i)
            try:
                i += ep.publish_many("bench/in", chunk[:k])
            except zcluster.WouldBlock as e:
                i += getattr(e, "published", 0)
        t_send = time.time() - t0
        got, secs = p.stdout.readline().split()[1:]
        print("native batch client->node: %d of %d events arrived, published in %.3f s, first to last at the peer %.3f s: %.0f events/s"
              % (int(got), n, t_send, float(secs), (int(got) - 1) / float(secs)))
        p.stdin.write("go\n")
        p.stdin.flush()
        first = None
        count = 0
        while count < n:
            ms = ep.next_many(batch, timeout=30)
            if not ms:
                break
            for m in ms:
                if m.kind != K.EVENT:
                    continue
                if first is None:
                    first = time.time()
                count += 1
        last = time.time()
        print("native batch node->client: %d events taken (next_many, Message objects) in %.3f s: %.0f events/s"
              % (count, last - first, (count - 1) / (last - first)))
        print("  (the worker published them in %s s)" % p.stdout.readline().split()[1])
    p.stdin.write("go\n")
    p.stdin.flush()
    p.wait(timeout=30)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--node":
        node(int(sys.argv[2]), int(sys.argv[3]))
    else:
        n = int(sys.argv[1]) if len(sys.argv) > 1 else 200000
        print("load average before: %.2f %.2f %.2f" % os.getloadavg())
        only = sys.argv[2] if len(sys.argv) > 2 else ""
        if only in ("", "websockets"):
            client(n)
        if only in ("", "zcluster"):
            zc_client(n)
        if only in ("", "zcluster-batch"):
            zc_client_batch(n)
        if only in ("", "native-batch"):
            native_batch(n)
        print("load average after: %.2f %.2f %.2f" % os.getloadavg())
