"""Zeek's WebSocket API on a node of a ZeroMQ cluster, driven by the independent
`websockets` client: what a client publishes reaches the other nodes through the proxy,
what the other nodes publish on a client's subscriptions reaches the client, clients on
one node see each other's events but not their own, and the node's host gets a client's
events only on its own subscriptions (as on Broker, test_websocket.py).

One in-process cluster (manager running the proxy and the WebSocket server, worker-1
echoing) for the module.
"""

import json
import time

import pytest

import zcluster
from ports import free_port
from test_websocket import EVERY_TYPE, echo_pair, ev_json, hello, recv_json, url

websockets = pytest.importorskip("websockets")
from websockets.sync.client import connect  # noqa: E402

T = 20.0


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    ws_port = free_port()
    xpub, xsub = free_port(), free_port()
    text = "\n".join([
        "redef Cluster::backend = Cluster::CLUSTER_BACKEND_ZEROMQ;",
        'redef Cluster::Backend::ZeroMQ::listen_xpub_endpoint = "tcp://127.0.0.1:%d";' % xpub,
        'redef Cluster::Backend::ZeroMQ::listen_xsub_endpoint = "tcp://127.0.0.1:%d";' % xsub,
        'redef Cluster::Backend::ZeroMQ::connect_xpub_endpoint = "tcp://127.0.0.1:%d";' % xsub,
        'redef Cluster::Backend::ZeroMQ::connect_xsub_endpoint = "tcp://127.0.0.1:%d";' % xpub,
        "redef Cluster::manager_is_logger = T;",
        "redef Cluster::nodes = {",
        '\t["manager"] = [$node_type=Cluster::MANAGER, $ip=127.0.0.1, $p=%d/tcp],' % free_port(),
        '\t["worker-1"] = [$node_type=Cluster::WORKER, $ip=127.0.0.1, $p=%d/tcp, $manager="manager"],' % free_port(),
        "};",
        "",
    ])
    layout = zcluster.Layout.parse(text, format="zeek")
    with echo_pair(layout, tmp_path_factory.mktemp("logs")) as (manager, worker, got):
        assert manager.backend == "ZeroMQ"
        port = manager.listen_websocket(listen_addr="127.0.0.1", listen_port=ws_port)
        yield {"manager": manager, "worker": worker, "ws_port": port, "got": got}


def test_every_type_through_the_cluster_and_back(cluster):
    with connect(url(cluster["ws_port"])) as ws:
        assert hello(ws, ["zeek/test/echo"])["type"] == "ack"
        ws.send(json.dumps(ev_json("zeek/test/to-worker", "Test::every", EVERY_TYPE)))
        back = recv_json(ws)
        assert back["type"] == "data-message" and back["topic"] == "zeek/test/echo"
        inner = back["data"][2]["data"]
        assert inner[0] == {"@data-type": "string", "data": "Test::every"}
        assert inner[1]["data"] == EVERY_TYPE


def test_events_from_another_node_reach_the_client_in_order(cluster):
    with connect(url(cluster["ws_port"])) as ws:
        assert hello(ws, ["zeek/test/feed"])["type"] == "ack"
        for i in range(200):
            cluster["worker"].publish("zeek/test/feed", zcluster.Event("Test::n", [zcluster.Count(i)]))
        seen = []
        while len(seen) < 200:
            m = recv_json(ws)
            assert m["topic"] == "zeek/test/feed"
            seen.append(m["data"][2]["data"][1]["data"][0]["data"])
        assert seen == list(range(200))


def test_clients_share_the_node_and_the_host_only_gets_its_subscriptions(cluster):
    m = cluster["manager"]
    a = connect(url(cluster["ws_port"]))
    b = connect(url(cluster["ws_port"]))
    try:
        assert hello(a, ["zeek/test/chat"])["type"] == "ack"
        assert hello(b, ["zeek/test/chat", "zeek/local/"])["type"] == "ack"
        a.send(json.dumps(ev_json("zeek/test/chat", "Test::hi", [{"@data-type": "count", "data": 1}])))
        got = recv_json(b)
        assert got["data"][2]["data"][0]["data"] == "Test::hi"
        with pytest.raises(TimeoutError):
            a.recv(timeout=0.5)
        # The manager's host subscribes to zeek/local/: a client's event there reaches it
        # (a WebSocket client's events are raised on its node), and client b too.
        m.subscribe("zeek/local/")
        time.sleep(0.2)
        a.send(json.dumps(ev_json("zeek/local/x", "Test::local", [{"@data-type": "count", "data": 2}])))
        assert recv_json(b)["topic"] == "zeek/local/x"
        deadline = time.time() + T
        names = []
        while time.time() < deadline and "Test::local" not in names:
            msg = m.next(timeout=0.1)
            if msg is not None and msg.event is not None:
                names.append(msg.event.name)
        assert "Test::local" in names
        assert "Test::hi" not in names, "the host did not subscribe to zeek/test/chat"
    finally:
        a.close()
        b.close()
    # The worker (another node, through the proxy) got the chat event too.
    deadline = time.time() + T
    while time.time() < deadline and not any(g.topic == "zeek/test/chat" for g in cluster["got"]):
        time.sleep(0.02)
    assert any(g.topic == "zeek/test/chat" for g in cluster["got"])
