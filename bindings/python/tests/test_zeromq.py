"""Zeek's ZeroMQ backend against an independent pyzmq peer (`zmq_peer.py`), frame by frame
in both directions: the subscriptions a zcluster manager makes (and its ready-to-publish
probe), the two-stage hello, the golden event bytes of Zeek's serializer test, bad input
counted and survived, a log batch on the manager's PULL, and node_down from the peer's
nodeid unsubscription. The manager runs the XPUB/XSUB proxy itself, as Zeek's does."""

import signal
import time

import pytest

zmq = pytest.importorskip("zmq")

import zcluster  # noqa: E402
from ports import free_port  # noqa: E402
from zmq_peer import (  # noqa: E402
    GOLDEN_LOG_BATCH,
    GOLDEN_NODE_STATUS,
    TYPE_COUNT,
    TYPE_STRING,
    TYPE_TIME,
    ZeekPeer,
    event_bytes,
    log_batch,
)

T = 20.0
K = zcluster.MessageKind


def zeromq_layout(xpub, xsub, nodes):
    lines = [
        "redef Cluster::backend = Cluster::CLUSTER_BACKEND_ZEROMQ;",
        'redef Cluster::Backend::ZeroMQ::listen_xpub_endpoint = "tcp://127.0.0.1:%d";' % xpub,
        'redef Cluster::Backend::ZeroMQ::listen_xsub_endpoint = "tcp://127.0.0.1:%d";' % xsub,
        'redef Cluster::Backend::ZeroMQ::connect_xpub_endpoint = "tcp://127.0.0.1:%d";' % xsub,
        'redef Cluster::Backend::ZeroMQ::connect_xsub_endpoint = "tcp://127.0.0.1:%d";' % xpub,
        "redef Cluster::nodes = {",
    ]
    lines += ["\t" + n for n in nodes]
    lines.append("};")
    return "\n".join(lines) + "\n"


def wait_msg(cl, pred, timeout=T):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        m = cl.next(timeout=0.1)
        if m is not None and pred(m):
            return m
    return None


@pytest.fixture
def manager_and_peer(tmp_path):
    xpub, xsub, mport = free_port(), free_port(), free_port()
    layout = zcluster.Layout.parse(zeromq_layout(xpub, xsub, [
        '["manager"] = [$node_type=Cluster::MANAGER, $ip=127.0.0.1, $p=%d/tcp],' % mport,
        '["worker-1"] = [$node_type=Cluster::WORKER, $ip=127.0.0.1, $p=%d/tcp, $manager="manager"],' % free_port(),
        '["proxy-1"] = [$node_type=Cluster::PROXY, $ip=127.0.0.1, $p=%d/tcp, $manager="manager"],' % free_port(),
    ]))
    mgr = zcluster.Cluster(layout, node="manager")
    assert mgr.backend == "ZeroMQ"
    mgr.start(tmp_path)
    peer = ZeekPeer("tcp://127.0.0.1:%d" % xpub, "tcp://127.0.0.1:%d" % xsub, "worker-1")
    yield mgr, peer, mport, layout, tmp_path
    peer.close()
    mgr.close()


def test_frames_both_ways_with_an_independent_peer(manager_and_peer):
    mgr, peer, mport, layout, tmp_path = manager_and_peer
    mid = mgr.node_id.encode()
    assert mgr.node_id.startswith("zeromq_manager_")
    for t in (peer.nodeid_topic(), b"zeek.cluster.worker", b"zeek.cluster.node.worker-1."):
        peer.subscribe(t)

    # What the manager subscribes, exactly as Zeek forms it, seen on the peer's XPUB.
    want = [
        [b"\x01zeek.cluster.manager"],
        [b"\x01zeek.cluster.node.manager."],
        [b"\x01zeek.cluster.nodeid." + mid + b"."],
        [b"\x01zeek.cluster.pool.logger"],
        [b"\x01" + peer.nodeid_topic()],  # ours, back through the proxy: connected
    ]
    assert peer.read_subs(lambda seen: all(w in seen for w in want)), peer.subs_seen
    assert all(len(f) == 1 and f[0][:1] in (b"\x00", b"\x01") for f in peer.subs_seen)
    # A node starting now: its ready-to-publish probe, subscribed then unsubscribed, and
    # its own topics (a proxy node: the proxy pool, zeek.cluster.proxy).
    with zcluster.Cluster(layout, node="proxy-1") as px:
        px.start(tmp_path)
        pid = px.node_id.encode()
        probe = b"zeek.zeromq.internal." + pid + b".1."
        want = [
            [b"\x01" + probe],
            [b"\x00" + probe],
            [b"\x01zeek.cluster.proxy"],
            [b"\x01zeek.cluster.pool.proxy"],
            [b"\x01zeek.cluster.node.proxy-1."],
            [b"\x01zeek.cluster.nodeid." + pid + b"."],
        ]
        assert peer.read_subs(lambda seen: all(w in seen for w in want)), peer.subs_seen
        seen = peer.subs_seen
        assert seen.index([b"\x01" + probe]) < seen.index([b"\x00" + probe])
    # proxy-1 went away: its nodeid unsubscription reaches everyone (the manager's
    # node_down for it comes only once it said hello, which it did to the manager).
    assert peer.read_subs(lambda seen: [b"\x00zeek.cluster.nodeid." + pid + b"."] in seen)
    while mgr.next(timeout=0.2) is not None:
        pass

    # Stage 1: the manager saw our nodeid subscription and says ZeroMQ::hello to it.
    hello = peer.recv(lambda m: m[0] == peer.nodeid_topic())
    assert hello == [
        peer.nodeid_topic(),
        mid,
        b"broker-bin-v1",
        event_bytes("Cluster::Backend::ZeroMQ::hello", ["manager", mid]),
    ]
    # Our ZeroMQ::hello completes its stage: it answers with Cluster::hello.
    peer.event(peer.nodeid_topic(mid), event_bytes("Cluster::Backend::ZeroMQ::hello", ["worker-1", peer.node_id]))
    ch = peer.recv(lambda m: m[0] == peer.nodeid_topic() and b"Cluster::hello" in m[3])
    assert ch == [
        peer.nodeid_topic(),
        mid,
        b"broker-bin-v1",
        event_bytes("Cluster::hello", ["manager", mid]),
    ]
    # Stage 2 the other way: our Cluster::hello raises node_up on the manager.
    peer.event(peer.nodeid_topic(mid), event_bytes("Cluster::hello", ["worker-1", peer.node_id]))
    up = wait_msg(mgr, lambda m: m.kind == K.NODE_UP)
    assert up is not None and up.node_name == "worker-1" and up.text == peer.node_id.decode()
    assert mgr.worker_count == 1 and mgr.nodes_up() == ["worker-1"]

    # Zeek's golden event bytes, in: decoded as Zeek's serializer test says.
    peer.event(b"zeek.cluster.manager", GOLDEN_NODE_STATUS)
    m = wait_msg(mgr, lambda m: m.kind == K.EVENT)
    assert m.topic == "zeek.cluster.manager"
    assert m.data == GOLDEN_NODE_STATUS
    assert m.event.name == "Supervisor::node_status"
    assert m.event.args == ["TEST", zcluster.Count(42)]
    assert m.event.timestamp.ns == 0
    # ... and out: the same event from zcluster is the same 86 bytes, in 4 frames.
    ev = zcluster.Event(
        "Supervisor::node_status", ["TEST", zcluster.Count(42)], timestamp=zcluster.Timestamp.from_ns(0)
    )
    mgr.publish("zeek.cluster.worker", ev)
    got = peer.recv(lambda m: m[0] == b"zeek.cluster.worker")
    assert got == [b"zeek.cluster.worker", mid, b"broker-bin-v1", GOLDEN_NODE_STATUS]

    # Bad input: counted, never a crash, and the node keeps working.
    before = mgr.zeromq_stats()
    peer.publish(b"zeek.cluster.manager", peer.node_id, b"broker-bin-v1")  # 3 frames
    peer.publish(b"zeek.cluster.manager", peer.node_id, b"broker-bin-v1", b"x", b"y")  # 5
    peer.event(b"zeek.cluster.manager", b"{}", fmt=b"broker-json-v1")  # unknown format
    peer.event(b"zeek.cluster.manager", b"\x0e\x03\xff\xff")  # undecodable
    peer.publish(b"zeek.cluster.manager", mid, b"broker-bin-v1", GOLDEN_NODE_STATUS)  # "own"
    peer.event(b"zeek.cluster.manager", event_bytes("Test::after", [7]))
    bad = wait_msg(mgr, lambda m: m.kind == K.DESERIALIZATION_FAILED)
    assert bad is not None and bad.topic == "zeek.cluster.manager" and peer.node_id.decode() in bad.text
    m = wait_msg(mgr, lambda m: m.kind == K.EVENT)
    assert m.event.name == "Test::after" and m.event.args == [zcluster.Count(7)]
    after = mgr.zeromq_stats()
    assert after["msg_errors"] - before["msg_errors"] == 2
    assert after["wrong_format"] - before["wrong_format"] == 1
    assert after["undecodable"] - before["undecodable"] == 1
    assert after["own_dropped"] - before["own_dropped"] == 1
    assert after["ready"] == 1

    # Log batches PUSHed to the manager's PULL (manager_is_logger: its layout port).
    push = peer.ctx.socket(zmq.PUSH)
    push.setsockopt(zmq.LINGER, 0)
    push.connect("tcp://127.0.0.1:%d" % mport)
    push.send_multipart([b"log-write", peer.node_id, b"zeek-bin-serializer", b"\x00batch"])
    push.send_multipart([b"log-write", peer.node_id])
    # Zeek's golden batch (Log::WRITER_NONE: accepted, decoded, writes nothing) and the
    # same batch for the ASCII writer, which lands in my-path.log.
    push.send_multipart([b"log-write", peer.node_id, b"zeek-bin-serializer", GOLDEN_LOG_BATCH])
    ascii = GOLDEN_LOG_BATCH.replace(b"\x00\x00\x00\x10Log::WRITER_NONE", b"\x00\x00\x00\x11Log::WRITER_ASCII")
    assert ascii != GOLDEN_LOG_BATCH
    push.send_multipart([b"log-write", peer.node_id, b"zeek-bin-serializer", ascii])
    end = time.monotonic() + T
    while time.monotonic() < end and mgr.zeromq_stats()["log_records_received"] < 4:
        time.sleep(0.05)
    push.close(0)
    st = mgr.zeromq_stats()
    # (proxy-1, a zcluster node started above, PUSHes its cluster.log records here too.)
    assert st["logs_received"] >= 3 and st["logs_malformed"] == 1 and st["logs_unhandled"] == 0
    assert st["log_records_received"] >= 4
    assert st["msg_errors"] == after["msg_errors"] + 1
    mgr.log_flush()
    rows = [line.split("\t") for line in (tmp_path / "my-path.log").read_text().splitlines()]
    assert ["#fields", "ts"] in rows
    assert [r for r in rows if not r[0].startswith("#")] == [["1.000000"], ["2.000000"]]

    # node_down from the nodeid unsubscription.
    peer.unsubscribe(peer.nodeid_topic())
    down = wait_msg(mgr, lambda m: m.kind == K.NODE_DOWN)
    assert down is not None and down.node_name == "worker-1"
    assert mgr.worker_count == 0


def test_log_writes_reach_a_pyzmq_logger_byte_by_byte(tmp_path):
    """A zcluster worker's log records, as Zeek sends them on ZeroMQ: buffered per
    stream and PUSHed as one 4-frame log-write message (log-write, node id,
    zeek-bin-serializer, payload) to the logger's layout port, where a pyzmq PULL
    stands in for the logger; the payload equals the reference's encoding byte for byte.
    Log::write_buffer_size full buffers go out at once, the rest at log_flush."""
    lport = free_port()
    pull = zmq.Context.instance().socket(zmq.PULL)
    pull.setsockopt(zmq.LINGER, 0)
    pull.bind("tcp://127.0.0.1:%d" % lport)
    text = "redef Log::write_buffer_size = 4;\nredef Cluster::manager_is_logger = F;\n" + zeromq_layout(
        free_port(), free_port(), [
            '["manager"] = [$node_type=Cluster::MANAGER, $ip=127.0.0.1, $p=%d/tcp],' % free_port(),
            '["logger-1"] = [$node_type=Cluster::LOGGER, $ip=127.0.0.1, $p=%d/tcp],' % lport,
            '["worker-1"] = [$node_type=Cluster::WORKER, $ip=127.0.0.1, $p=%d/tcp, $manager="manager"],' % free_port(),
        ])
    w = zcluster.Cluster(zcluster.Layout.parse(text), node="worker-1")
    try:
        w.create_log_stream("Test::LOG", "zmqtest", [("ts", "time"), ("n", "count"), ("s", "string", True)])
        w.start(tmp_path)
        recs = [[1700000000.25 + i, i, None if i % 2 else "r%d" % i] for i in range(6)]
        for r in recs:
            w.log_write("Test::LOG", r)
        fields = [("ts", TYPE_TIME, 0, False), ("n", TYPE_COUNT, 0, False), ("s", TYPE_STRING, 0, True)]

        def want(rs):
            return [b"log-write", w.node_id.encode(), b"zeek-bin-serializer",
                    log_batch("Test::LOG", "Log::WRITER_ASCII", "default", "zmqtest", fields, rs)]

        def next_batch():
            end = time.monotonic() + T
            while time.monotonic() < end:
                if pull.poll(100):
                    m = pull.recv_multipart()
                    if b"zmqtest" in m[3][:64]:
                        return m
            return None

        assert next_batch() == want(recs[:4])  # a full buffer, without a flush
        w.log_flush()
        assert next_batch() == want(recs[4:])
        assert w.log_stats()["sent"] >= 6
    finally:
        w.close()
        pull.close(0)


def test_proxy_io_threads_is_the_proxy_contexts_io_thread_count():
    """Cluster::Backend::ZeroMQ::proxy_io_threads: the I/O threads libzmq starts for the
    proxy's context (libzmq names them ZMQbg/IO/<n>)."""
    import glob

    def io_threads():
        n = 0
        for f in glob.glob("/proc/self/task/*/comm"):
            try:
                n += open(f).read().startswith("ZMQbg/IO")
            except OSError:
                pass
        return n

    before = io_threads()
    px = zcluster.ZeroMQProxy({
        "Cluster::Backend::ZeroMQ::listen_xpub_endpoint": "tcp://127.0.0.1:*",
        "Cluster::Backend::ZeroMQ::listen_xsub_endpoint": "tcp://127.0.0.1:*",
        "Cluster::Backend::ZeroMQ::proxy_io_threads": 3,
    })
    with px:
        end = time.monotonic() + T
        while io_threads() < before + 3 and time.monotonic() < end:
            time.sleep(0.05)
        assert io_threads() == before + 3


def test_a_standalone_proxy_carries_two_zcluster_nodes(tmp_path):
    px = zcluster.ZeroMQProxy({
        "Cluster::Backend::ZeroMQ::listen_xpub_endpoint": "tcp://127.0.0.1:*",
        "Cluster::Backend::ZeroMQ::listen_xsub_endpoint": "tcp://127.0.0.1:*",
    })
    xpub = int(px.xpub_endpoint.rsplit(":", 1)[1])
    xsub = int(px.xsub_endpoint.rsplit(":", 1)[1])
    text = zeromq_layout(xpub, xsub, [
        '["manager"] = [$node_type=Cluster::MANAGER, $ip=127.0.0.1, $p=%d/tcp],' % free_port(),
        '["worker-1"] = [$node_type=Cluster::WORKER, $ip=127.0.0.1, $p=%d/tcp, $manager="manager"],' % free_port(),
    ])
    layout = zcluster.Layout.parse(text)
    opts = {"Cluster::Backend::ZeroMQ::run_proxy_thread": False}
    with px, zcluster.Cluster(layout, node="manager", options=opts) as mg, zcluster.Cluster(
        layout, node="worker-1", options=opts
    ) as w:
        mg.start(tmp_path)
        w.start(tmp_path)
        assert wait_msg(w, lambda m: m.kind == K.NODE_UP) is not None
        assert wait_msg(mg, lambda m: m.kind == K.NODE_UP).node_name == "worker-1"
        w.publish("zeek.cluster.manager", zcluster.Event("Test::x", [zcluster.Count(1)]))
        m = wait_msg(mg, lambda m: m.kind == K.EVENT)
        assert m.event.name == "Test::x"
        with pytest.raises(zcluster.StateError):
            zcluster.Cluster(layout, node="manager").zeromq_stats()


def test_proxy_killed_and_restarted_and_a_node_killed(tmp_path):
    """Multi-process, from a ZeekControl directory. kill -9 of the manager takes the proxy
    with it; libzmq keeps the workers' connections and reconnects, so (as in Zeek) the
    workers keep each other. The restarted manager's ZeroMQ::hello with a new id is
    node_down for the old one ("never said goodbye") and node_up for the new one, and
    traffic flows through the new proxy. Then a worker killed with -9 is node_down at
    every other node within 5 seconds (its connection to the proxy closes, the proxy's
    XPUB_VERBOSER forwards the unsubscription of its nodeid topic)."""
    from test_cluster import Node, zeekctl_config

    (tmp_path / "cluster-layout.zeek").write_text("\n".join([
        "# Automatically generated. Do not edit.",
        "redef Cluster::manager_is_logger = T;",
        "redef Cluster::nodes = {",
        '\t["manager"] = [$node_type=Cluster::MANAGER, $ip=127.0.0.1, $p=%d/tcp],' % free_port(),
        '\t["worker-1"] = [$node_type=Cluster::WORKER, $ip=127.0.0.1, $p=%d/tcp, $manager="manager"],' % free_port(),
        '\t["worker-2"] = [$node_type=Cluster::WORKER, $ip=127.0.0.1, $p=%d/tcp, $manager="manager"],' % free_port(),
        "};",
        "",
    ]))
    (tmp_path / "zeekctl-config.zeek").write_text(zeekctl_config(free_port(), free_port()))
    procs = []

    def start(name):
        n = Node(name, tmp_path, tmp_path)
        procs.append(n)
        return n

    try:
        m, w1, w2 = start("manager"), start("worker-1"), start("worker-2")
        for n, others in ((m, {"worker-1", "worker-2"}), (w1, {"manager", "worker-2"}), (w2, {"manager", "worker-1"})):
            n.wait(lambda _, n=n, o=others: set(n.ups()) >= o, "node_ups at %s" % n.name)
        old_id = m.items("started")[0]["id"]
        m.kill()
        m2 = start("manager")
        new_id = m2.wait(lambda _: m2.items("started"), "started")[0]["id"]
        assert new_id != old_id
        for w in (w1, w2):
            w.wait(lambda _, w=w: any(u["node"] == "manager" and u["id"] == new_id for u in w.items("up")),
                   "node_up of the new manager at %s" % w.name)
            downs = [d for d in w.items("down") if d["node"] == "manager"]
            assert [d["id"] for d in downs] == [old_id], w.name
            assert "worker-1" not in w.downs() and "worker-2" not in w.downs()
        m2.wait(lambda _: set(m2.ups()) >= {"worker-1", "worker-2"}, "node_ups at the new manager")
        assert m2.ask("count", cmd="count")["n"] == 2
        # Traffic through the new proxy, worker to worker and manager to workers.
        w1.send(cmd="publish", topic="zeek.cluster.worker", name="After::restart")
        w2.wait(lambda _: w2.events("After::restart"), "worker-1's event at worker-2")
        m2.send(cmd="publish", topic="zeek.cluster.worker", name="After::mgr")
        for w in (w1, w2):
            w.wait(lambda _, w=w: w.events("After::mgr"), "the manager's event at %s" % w.name)

        w2.proc.send_signal(signal.SIGKILL)
        w2.proc.wait(timeout=T)
        t0 = time.monotonic()
        for n in (m2, w1):
            n.wait(lambda _, n=n: "worker-2" in n.downs(), "node_down worker-2 at %s" % n.name, timeout=5.0)
        assert time.monotonic() - t0 < 5.0
        assert m2.ask("count", cmd="count")["n"] == 1
    finally:
        for n in procs:
            n.kill()
            for f in (n.proc.stdin, n.proc.stdout):
                try:
                    f.close()
                except OSError:
                    pass


def test_an_event_on_a_topic_not_subscribed_is_counted_and_dropped(tmp_path):
    """A proxy that does not filter (a raw XPUB in manual mode that subscribes the node to
    everything) hands the node an event it never subscribed: counted, not delivered."""
    ctx = zmq.Context()
    xpub = ctx.socket(zmq.XPUB)
    xpub.setsockopt(zmq.XPUB_MANUAL, 1)
    xpub.setsockopt(zmq.LINGER, 0)
    xpub_port = xpub.bind_to_random_port("tcp://127.0.0.1")
    xsub = ctx.socket(zmq.XSUB)  # where the node's XPUB connects; its probe comes back here
    xsub.setsockopt(zmq.LINGER, 0)
    xsub_port = xsub.bind_to_random_port("tcp://127.0.0.1")
    layout = zcluster.Layout.parse(zeromq_layout(xpub_port, xsub_port, [
        '["worker-1"] = [$node_type=Cluster::WORKER, $ip=127.0.0.1, $p=%d/tcp],' % free_port(),
    ]))
    try:
        with zcluster.Cluster(layout, node="worker-1", options={"Cluster::Backend::ZeroMQ::run_proxy_thread": False}) as w:
            w.start(tmp_path)
            end = time.monotonic() + T
            while time.monotonic() < end and not xpub.poll(100):
                pass
            xpub.recv()  # the node's first subscription: subscribe its pipe to everything
            xpub.setsockopt(zmq.SUBSCRIBE, b"")
            sender = b"zeromq_other_host_1_N1"
            for _ in range(50):  # until the node's pipe is in place
                xpub.send_multipart([b"not.subscribed.topic", sender, b"broker-bin-v1", GOLDEN_NODE_STATUS])
                xpub.send_multipart([b"zeek.cluster.worker", sender, b"broker-bin-v1", GOLDEN_NODE_STATUS])
                m = w.next(timeout=0.1)
                if m is not None and m.kind == K.EVENT:
                    break
            assert m is not None and m.topic == "zeek.cluster.worker"
            st = w.zeromq_stats()
            assert st["unsubscribed"] >= 1 and st["events_received"] >= 1
            while (m := w.next(timeout=0.2)) is not None:
                assert m.topic != "not.subscribed.topic"
    finally:
        xpub.close(0)
        xsub.close(0)
        ctx.term()


def test_layout_with_a_named_zeekctl_config(tmp_path):
    from test_cluster import zeekctl_config

    lp = tmp_path / "cluster-layout.zeek"
    lp.write_text('redef Cluster::nodes = {\n\t["manager"] = [$node_type=Cluster::MANAGER, $ip=127.0.0.1, $p=27763/tcp],\n};\n')
    cp = tmp_path / "zeekctl-config.zeek"
    cp.write_text(zeekctl_config(27760, 27761))
    plain = zcluster.Cluster(zcluster.Layout.load(lp), node="manager")
    assert plain.backend == "Broker"
    for layout in (zcluster.Layout.load(lp, zeekctl_config=cp), zcluster.Layout.load(tmp_path)):
        cl = zcluster.Cluster(layout, node="manager")
        assert cl.backend == "ZeroMQ"
        assert cl.option("Cluster::Backend::ZeroMQ::connect_xsub_endpoint") == "tcp://127.0.0.1:27760"
        assert cl.option("Cluster::Backend::ZeroMQ::connect_xpub_endpoint") == "tcp://127.0.0.1:27761"
        assert cl.node_topic("manager") == "zeek.cluster.node.manager."
    with pytest.raises(zcluster.Error):
        zcluster.Layout.load(lp, zeekctl_config=tmp_path / "missing.zeek")
    cp.write_text("redef Cluster::Backend::ZeroMQ::ipv6 = perhaps;\n")
    with pytest.raises(zcluster.LayoutError) as e:
        zcluster.Layout.load(lp, zeekctl_config=cp)
    assert "zeekctl-config.zeek:1:" in str(e.value)


def test_cluster_log_of_an_immediate_hello_goes_to_the_logger_pull(tmp_path):
    """A hello that arrives the moment a worker subscribes its nodeid topic writes
    cluster.log ("got hello from logger-1"); on ZeroMQ that record must leave as a
    zeek-bin-serializer log-write on the logger's PULL, never as a Broker LogWrite batch
    event on the logger's node topic (which a real Zeek 8.2 logger rejects: "Failed to
    lookup handler"). The pyzmq logger answers each nodeid subscription at once with
    both hellos, over several worker starts, to hit the moment right after start."""
    px = zcluster.ZeroMQProxy({
        "Cluster::Backend::ZeroMQ::listen_xpub_endpoint": "tcp://127.0.0.1:*",
        "Cluster::Backend::ZeroMQ::listen_xsub_endpoint": "tcp://127.0.0.1:*",
    })
    lport = free_port()
    pull = zmq.Context.instance().socket(zmq.PULL)
    pull.setsockopt(zmq.LINGER, 0)
    pull.bind("tcp://127.0.0.1:%d" % lport)
    xpub, xsub = (int(e.rsplit(":", 1)[1]) for e in (px.xpub_endpoint, px.xsub_endpoint))
    text = "redef Cluster::manager_is_logger = F;\n" + zeromq_layout(xpub, xsub, [
        '["manager"] = [$node_type=Cluster::MANAGER, $ip=127.0.0.1, $p=%d/tcp],' % free_port(),
        '["logger-1"] = [$node_type=Cluster::LOGGER, $ip=127.0.0.1, $p=%d/tcp],' % lport,
        '["worker-1"] = [$node_type=Cluster::WORKER, $ip=127.0.0.1, $p=%d/tcp, $manager="manager"],' % free_port(),
    ])
    peer = ZeekPeer(px.xpub_endpoint, px.xsub_endpoint, "logger-1")
    node_topic = b"zeek.cluster.node.logger-1."
    try:
        for t in (peer.nodeid_topic(), node_topic, b"zeek.cluster.logger"):
            peer.subscribe(t)
        assert peer.read_subs(lambda s: [b"\x01" + peer.nodeid_topic()] in s)
        for run in range(4):
            w = zcluster.Cluster(zcluster.Layout.parse(text), node="worker-1")
            try:
                w.start(tmp_path)
                wid = w.node_id.encode()
                wtopic = b"zeek.cluster.nodeid." + wid + b"."
                assert peer.read_subs(lambda s: [b"\x01" + wtopic] in s), run
                peer.event(wtopic, event_bytes("Cluster::Backend::ZeroMQ::hello", ["logger-1", peer.node_id]))
                peer.event(wtopic, event_bytes("Cluster::hello", ["logger-1", peer.node_id]))
                assert wait_msg(w, lambda m: m.kind == K.NODE_UP and m.node_name == "logger-1"), run
                w.log_flush()
                got, broker_logs = None, []
                end = time.monotonic() + T
                while got is None and time.monotonic() < end:
                    if pull.poll(50):
                        m = pull.recv_multipart()
                        if m[1] == wid and b"got hello from logger-1" in m[3]:
                            got = m
                    while peer.xsub.poll(0):
                        m = peer.xsub.recv_multipart()
                        if m[0] == node_topic:
                            broker_logs.append(m)
                assert got is not None and got[0] == b"log-write" and got[2] == b"zeek-bin-serializer", run
                assert broker_logs == [], run
            finally:
                w.close()
    finally:
        peer.close()
        pull.close(0)
        px.close()
