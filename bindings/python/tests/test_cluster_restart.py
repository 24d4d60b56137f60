"""A manager that exits cleanly and starts again on the same port (what `zeekctl restart`
does): its worker, a separate process, sees node_down, keeps retrying (the goodbye is a
lost peer, as in Broker), and within two retry intervals of the restart sees hello and
node_up again, with events flowing both ways. Also on ZeroMQ, where the manager runs the
XPUB/XSUB proxy and takes it along: libzmq reconnects the worker to the new proxy, the
worker learns of the old manager's going from its nodeid unsubscription or, if the proxy
went first, from the new manager's hello with a new id ("never said goodbye")."""

import os
import time

import pytest

from test_cluster import Node
from ports import free_port

RETRY = 1.0


def layout(tmp_path, zeromq=False):
    p = tmp_path / "layout.zeek"
    head = ""
    if zeromq:
        xpub, xsub = free_port(), free_port()
        head = "".join([
            "redef Cluster::backend = Cluster::CLUSTER_BACKEND_ZEROMQ;\n",
            'redef Cluster::Backend::ZeroMQ::listen_xpub_endpoint = "tcp://127.0.0.1:%d";\n' % xpub,
            'redef Cluster::Backend::ZeroMQ::listen_xsub_endpoint = "tcp://127.0.0.1:%d";\n' % xsub,
            'redef Cluster::Backend::ZeroMQ::connect_xpub_endpoint = "tcp://127.0.0.1:%d";\n' % xsub,
            'redef Cluster::Backend::ZeroMQ::connect_xsub_endpoint = "tcp://127.0.0.1:%d";\n' % xpub,
        ])
    p.write_text(
        head + "redef Cluster::nodes = {\n"
        '\t["manager"] = [$node_type=Cluster::MANAGER, $ip=127.0.0.1, $p=%d/tcp],\n'
        '\t["worker-1"] = [$node_type=Cluster::WORKER, $ip=127.0.0.1, $p=%d/tcp, $manager="manager"],\n'
        "};\n" % (free_port(), free_port())
    )
    return p


def events_both_ways(m, w, tag):
    m.send(cmd="publish", topic="", node_topic="worker-1", name="Restart::to_worker", args=[tag])
    w.send(cmd="publish", topic="", node_topic="manager", name="Restart::to_manager", args=[tag])
    w.wait(lambda _: any(e["args"] == [tag] for e in w.events("Restart::to_worker")), "event at the worker")
    m.wait(lambda _: any(e["args"] == [tag] for e in m.events("Restart::to_manager")), "event at the manager")


@pytest.mark.parametrize("backend", ["broker", "zeromq"])
def test_clean_manager_restart_brings_the_worker_back(tmp_path, monkeypatch, backend):
    monkeypatch.setenv("ZC_TEST_RETRY_INTERVAL", str(RETRY))
    zeromq = backend == "zeromq"
    lp = layout(tmp_path, zeromq)
    nodes = []
    try:
        m = Node("manager", lp, tmp_path)
        nodes.append(m)
        w = Node("worker-1", lp, tmp_path)
        nodes.append(w)
        m.wait(lambda _: m.items("started"), "manager started")
        w.wait(lambda _: "manager" in w.ups(), "node_up manager at the worker")
        m.wait(lambda _: "worker-1" in m.ups(), "node_up worker-1 at the manager")
        events_both_ways(m, w, "first")
        for rnd in range(2):
            old = m
            old.quit()  # a clean exit: the endpoint says goodbye
            assert old.proc.returncode == 0
            assert old.items("bye")
            if not zeromq:
                w.wait(lambda _: w.downs().count("manager") == rnd + 1, "node_down manager")
            ups = w.ups().count("manager")
            m = Node("manager", lp, tmp_path)
            nodes.append(m)
            m.wait(lambda _: m.items("started"), "manager restarted")
            t0 = time.monotonic()
            w.wait(lambda _: w.ups().count("manager") > ups, "node_up manager again")
            took = time.monotonic() - t0
            assert took < 2 * RETRY, "worker re-peered %.2f s after the restart" % took
            w.wait(lambda _: w.downs().count("manager") == rnd + 1, "node_down manager")
            m.wait(lambda _: "worker-1" in m.ups(), "node_up worker-1 at the new manager")
            events_both_ways(m, w, "round %d" % rnd)
    finally:
        for n in nodes:
            n.kill()
            for f in (n.proc.stdin, n.proc.stdout):
                try:
                    f.close()
                except OSError:
                    pass
