"""Zeek's and Broker's metric names beyond the basics, scraped from /metrics with
prometheus_client.parser while a cluster runs, with Zeek's labels exactly:
zeek_log_stream_writes_total{module,stream}, zeek_log_writer_writes_total{writer,module,
stream,filter_name,path}, broker_processed_messages_total{type} (no node label),
zeek_version_info{version_number,major,minor,patch,commit,beta,debug,version_string} and
zeek_broker_backpressure_disconnects_total{peer} (a peer that stops reading, removed under
Broker::peer_overflow_policy="disconnect", also logged to cluster.log as Zeek logs it)."""

import time
import urllib.request

import pytest

import zcluster
from ports import free_port

pytest.importorskip("prometheus_client")
from prometheus_client.parser import text_string_to_metric_families  # noqa: E402

T = 20.0


def scrape(port):
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=T) as r:
        fams = {f.name: f for f in text_string_to_metric_families(r.read().decode())}
    out = {}
    for f in fams.values():
        for s in f.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return fams, out


def layout(mm, wm, extra=""):
    return zcluster.Layout.parse("\n".join([
        "redef Cluster::manager_is_logger = T;",
        "redef Cluster::nodes = {",
        '\t["manager"] = [$node_type=Cluster::MANAGER, $ip=127.0.0.1, $p=%d/tcp, $metrics_port=%d/tcp],'
        % (free_port(), mm),
        '\t["worker-1"] = [$node_type=Cluster::WORKER, $ip=127.0.0.1, $p=%d/tcp, $manager="manager", '
        "$metrics_port=%d/tcp]," % (free_port(), wm),
        "};",
        extra,
    ]), format="zeek")


def wait(cond, what):
    end = time.monotonic() + T
    while time.monotonic() < end:
        if cond():
            return
        time.sleep(0.05)
    raise AssertionError(what)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    mm, wm = free_port(), free_port()
    lay = layout(mm, wm)
    opts = {"Cluster::retry_interval": 0.2}
    logs = tmp_path_factory.mktemp("mlogs")
    m = zcluster.Cluster(lay, "manager", opts)
    w = zcluster.Cluster(lay, "worker-1", opts)
    w.create_log_stream("Test::LOG", "test", [("n", "count")])
    m.start(log_dir=logs)
    w.start(log_dir=logs)
    m.subscribe("zeek/m/")
    wait(lambda: "manager" in w.nodes_up() and "worker-1" in m.nodes_up(), "cluster up")
    yield {"m": m, "w": w, "mm": mm, "wm": wm, "logs": logs}
    w.close()
    m.close()


def test_log_stream_and_writer_writes(cluster):
    w = cluster["w"]
    fams, before = scrape(cluster["wm"])
    assert fams["zeek_log_stream_writes"].type == "counter"
    assert fams["zeek_log_writer_writes"].type == "counter"
    stream = (("module", "Test"), ("node", "worker-1"), ("stream", "Test::LOG"))
    writer = (("filter_name", "default"), ("module", "Test"), ("node", "worker-1"), ("path", "test"),
              ("stream", "Test::LOG"), ("writer", "Log::WRITER_ASCII"))
    b_stream = before.get(("zeek_log_stream_writes_total", stream), 0)
    b_writer = before.get(("zeek_log_writer_writes_total", writer), 0)
    for i in range(25):
        w.log_write("Test::LOG", [i])
    _, after = scrape(cluster["wm"])
    assert after[("zeek_log_stream_writes_total", stream)] == b_stream + 25
    assert after[("zeek_log_writer_writes_total", writer)] == b_writer + 25
    # The manager writes cluster.log itself (node up lines): module Cluster.
    _, mgr = scrape(cluster["mm"])
    assert mgr[("zeek_log_stream_writes_total", (("module", "Cluster"), ("node", "manager"),
                                                 ("stream", "Cluster::LOG")))] >= 1
    # The structured stats say the same.
    st = w.stats()
    assert any(x["stream"] == "Test::LOG" and x["writes"] >= 25 for x in st["log_writes"])
    assert any(x["path"] == "test" and x["filter_name"] == "default" for x in st["log_writer_writes"])


def test_broker_processed_messages_move(cluster):
    fams, before = scrape(cluster["mm"])
    assert fams["broker_processed_messages"].type == "counter"
    # Broker's own metric: every type present, no node label.
    for t in ("data", "command", "routing-update", "ping", "pong"):
        assert ("broker_processed_messages_total", (("type", t),)) in before
    key = ("broker_processed_messages_total", (("type", "data"),))
    _, wbefore = scrape(cluster["wm"])
    for i in range(40):
        cluster["w"].publish("zeek/m/x", zcluster.Event("M::x", [zcluster.Count(i)]))
    wait(lambda: scrape(cluster["mm"])[1][key] >= before[key] + 40, "manager processed 40 data messages")
    assert scrape(cluster["wm"])[1][key] >= wbefore[key] + 40
    # A new subscription travels to the peer as a routing update.
    ru = ("broker_processed_messages_total", (("type", "routing-update"),))
    n = scrape(cluster["wm"])[1][ru]
    cluster["m"].subscribe("zeek/m2/")
    wait(lambda: scrape(cluster["wm"])[1][ru] >= n + 1, "the worker processed a routing update")
    assert cluster["m"].stats()["processed_messages"]["data"] >= 40


def test_version_info(cluster):
    fams, s = scrape(cluster["wm"])
    assert fams["zeek_version_info"].type == "gauge"
    (labels, v), = [(dict(k[1]), v) for k, v in s.items() if k[0] == "zeek_version_info"]
    assert v == 1
    assert set(labels) == {"version_number", "major", "minor", "patch", "commit", "beta", "debug",
                           "version_string", "node"}
    assert labels["node"] == "worker-1"
    assert int(labels["version_number"]) == int(labels["major"]) * 10000 + int(labels["minor"]) * 100 + int(labels["patch"])
    assert labels["version_string"].startswith("%s.%s.%s" % (labels["major"], labels["minor"], labels["patch"]))
    assert labels["beta"] in ("true", "false") and labels["debug"] in ("true", "false")


def test_backpressure_disconnects(tmp_path):
    mm, wm = free_port(), free_port()
    lay = layout(mm, wm)
    m = zcluster.Cluster(lay, "manager", {"Broker::peer_overflow_policy": "disconnect",
                                          "Broker::peer_buffer_size": 32})
    m.start(log_dir=tmp_path)
    try:
        fams, before = scrape(mm)
        assert fams["zeek_broker_backpressure_disconnects"].type == "counter"
        K = zcluster.MessageKind
        # A non-cluster peer that subscribes and then stops reading (a tiny inbox).
        with zcluster.Endpoint({"inbox_capacity": 4}) as ep:
            ep.subscribe("zeek/bp/")
            ep.peer("127.0.0.1", m.listen_port, retry=0)
            end = time.monotonic() + T
            while True:
                assert time.monotonic() < end, "no peering"
                msg = ep.next(timeout=0.1)
                if msg is not None and msg.kind == K.PEER_ADDED:
                    break
            # Until the subscription reaches the manager its publishes go nowhere: the
            # loop below publishes until the counter moves (bounded), no sleep needed.
            ev = zcluster.Event("Bp::flood", ["x" * 4096])
            key = ("zeek_broker_backpressure_disconnects_total", (("node", "manager"), ("peer", "unknown")))
            end = time.monotonic() + T
            while time.monotonic() < end and scrape(mm)[1].get(key, 0) < 1:
                for _ in range(500):
                    m.publish("zeek/bp/x", ev)
            assert scrape(mm)[1].get(key, 0) == 1
            # The endpoint saw the peering end.
            seen = set()
            while True:
                msg = ep.next(timeout=0.2)
                if msg is None:
                    break
                seen.add(msg.kind)
            assert K.PEER_LOST in seen or K.PEER_REMOVED in seen, seen
        m.log_flush()
    finally:
        m.close()
    text = (tmp_path / "cluster.log").read_text()
    assert "removed due to backpressure overflow: non-cluster peer 127.0.0.1:" in text


def test_store_metrics_move(cluster):
    from zcluster import _store  # noqa: F401  (attaches Cluster.create_store)

    m = cluster["m"]
    st = m.create_store("metrics-kv").store
    fams, before = scrape(cluster["mm"])
    assert fams["broker_store_entries"].type == "gauge"
    key = (("name", "metrics-kv"),)  # Broker's own metrics: no node label
    b_updates = before.get(("broker_store_processed_updates_total", key), 0)
    for i in range(7):
        st.put("k%d" % i, i)
    wait(lambda: scrape(cluster["mm"])[1].get(("broker_store_entries", key)) == 7, "7 entries")
    wait(lambda: scrape(cluster["mm"])[1][("broker_store_processed_updates_total", key)] >= b_updates + 7,
         "7 more processed updates")
    _, after = scrape(cluster["mm"])
    assert after[("zeek_broker_stores", (("node", "manager"),))] >= 1
    assert after[("process_cpu_user_seconds_total", (("node", "manager"),))] > 0
    assert after[("process_resident_memory_bytes", (("node", "manager"),))] > 1e6
