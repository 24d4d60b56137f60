"""A whole cluster of separate processes on loopback: 1 manager, 1 logger, 2 proxies and 4
workers (worker-1 and worker-10, worker-2 and worker-20: node names that are prefixes of
each other), each a `cluster_node.py` process driven over its stdin/stdout.

Checks: the Broker backend's node_up matrix (every expected node_up, nothing else); role,
node and nodeid topic routing (worker-1 never gets worker-10's traffic); publish_hrw
stable per key and spread over the pool; worker_count through a worker's kill -9 and
restart; a cluster.log that third-party Zeek log readers parse.

The tests share one cluster (module fixture) and run in file order: the kill/restart and
the log check come last.
"""

import json
import os
import pathlib
import queue
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest

import zcluster
from conftest import REPO
from ports import free_port

HERE = pathlib.Path(__file__).resolve().parent
NODE_SCRIPT = HERE / "cluster_node.py"
ZAT_CHECK = REPO / "tests" / "zeeklog" / "check_with_zat.py"
T = 20.0  # upper bound of every wait

LOGGER = "logger-1"
MANAGER = "manager"
PROXIES = ["proxy-1", "proxy-2"]
WORKERS = ["worker-1", "worker-2", "worker-10", "worker-20"]
ALL = [LOGGER, MANAGER] + PROXIES + WORKERS
WORKER_POOL = "zeek/cluster/pool/worker"


BACKEND = {"zeromq": False}


def expected_ups(name):
    """reference/cluster.md 2.1: who raises node_up for whom under Broker. On ZeroMQ every
    node sees every node's subscriptions through the proxy: all of them."""
    others = set(ALL) - {name}
    if BACKEND["zeromq"]:
        return others
    if name in (LOGGER, MANAGER):
        return others
    if name in PROXIES:
        return others - set(PROXIES)
    return {LOGGER, MANAGER} | set(PROXIES)



def tp(topic):
    """A topic in the running backend's form: Broker's slashes, or ZeroMQ's dots
    (`zeek.cluster.worker`, `zeek.cluster.node.worker-1.`, `zeek.cluster.pool.worker`)."""
    if not BACKEND["zeromq"] or not topic.startswith("zeek/cluster/"):
        return topic
    if topic.startswith(("zeek/cluster/node/", "zeek/cluster/nodeid/")):
        return topic.replace("/", ".")
    return topic.rstrip("/").replace("/", ".")


def zeekctl_config(xpub, xsub):
    """The ZeroMQ part of what ZeekControl 8.2's `install` writes into zeekctl-config.zeek."""
    return "\n".join([
        "# Automatically generated. Do not edit.",
        'redef Cluster::default_store_dir = "/tmp/unused-stores";',
        "",
        "# Begin code from cluster_backend_zeromq plugin",
        "# Configure ZeroMQ",
        "@load policy/frameworks/cluster/backend/zeromq/options",
        "",
        'redef Cluster::Backend::ZeroMQ::listen_xpub_endpoint = "tcp://127.0.0.1:%d";' % xpub,
        'redef Cluster::Backend::ZeroMQ::listen_xsub_endpoint = "tcp://127.0.0.1:%d";' % xsub,
        'redef Cluster::Backend::ZeroMQ::connect_xpub_endpoint = "tcp://127.0.0.1:%d";' % xsub,
        'redef Cluster::Backend::ZeroMQ::connect_xsub_endpoint = "tcp://127.0.0.1:%d";' % xpub,
        "",
        "redef Cluster::Backend::ZeroMQ::ipv6 = F;",
        "",
        "# End code from cluster_backend_zeromq plugin",
        "",
    ])


def layout_text():
    lines = ["redef Cluster::manager_is_logger = F;", "redef Cluster::nodes = {"]
    lines.append('\t["%s"] = [$node_type=Cluster::LOGGER, $ip=127.0.0.1, $p=%d/tcp],' % (LOGGER, free_port()))
    lines.append('\t["%s"] = [$node_type=Cluster::MANAGER, $ip=127.0.0.1, $p=%d/tcp],' % (MANAGER, free_port()))
    for p in PROXIES:
        lines.append(
            '\t["%s"] = [$node_type=Cluster::PROXY, $ip=127.0.0.1, $p=%d/tcp, $manager="manager"],' % (p, free_port())
        )
    for w in WORKERS:
        lines.append(
            '\t["%s"] = [$node_type=Cluster::WORKER, $ip=127.0.0.1, $p=%d/tcp, $interface="lo", $manager="manager"],'
            % (w, free_port())
        )
    lines.append("};")
    return "\n".join(lines) + "\n"


class Node:
    """A node process; what it reports accumulates in .seen (and a queue of new items)."""

    def __init__(self, name, layout_path, log_dir):
        self.name = name
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join([str(REPO / "bindings" / "python"), env.get("PYTHONPATH", "")])
        self.proc = subprocess.Popen(
            [sys.executable, str(NODE_SCRIPT), str(layout_path), name, str(log_dir)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
        )
        self.seen = []
        self.lock = threading.Lock()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for line in self.proc.stdout:
            try:
                obj = json.loads(line)
            except ValueError:
                continue
            with self.lock:
                self.seen.append(obj)

    def items(self, op=None):
        with self.lock:
            return [o for o in self.seen if op is None or o["op"] == op]

    def send(self, **cmd):
        self.proc.stdin.write((json.dumps(cmd) + "\n").encode())
        self.proc.stdin.flush()

    def wait(self, pred, what, timeout=T):
        """Waits until pred(items) is true; returns its value."""
        end = time.monotonic() + timeout
        while True:
            v = pred(self.items())
            if v:
                return v
            if self.proc.poll() is not None and not self.reader.is_alive():
                raise AssertionError("%s exited (%s) before %s; saw %r" % (self.name, self.proc.returncode, what, self.items()))
            if time.monotonic() > end:
                raise AssertionError("%s: timed out waiting for %s; saw %r" % (self.name, what, self.items()))
            time.sleep(0.02)

    def ups(self):
        return [o["node"] for o in self.items("up")]

    def downs(self):
        return [o["node"] for o in self.items("down")]

    def events(self, name=None):
        return [o for o in self.items("ev") if name is None or o["name"] == name]

    def ask(self, op, **cmd):
        """Sends a command and returns the next reply of kind `op`."""
        n = len(self.items(op))
        self.send(**cmd)
        return self.wait(lambda _: self.items(op)[n] if len(self.items(op)) > n else None, op)

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=T)

    def quit(self):
        if self.proc.poll() is None:
            try:
                self.send(cmd="quit")
            except OSError:
                pass
            try:
                self.proc.wait(timeout=T)
            except subprocess.TimeoutExpired:
                self.kill()


@pytest.fixture(scope="module", params=["broker", "zeromq"])
def cluster(tmp_path_factory, request):
    BACKEND["zeromq"] = request.param == "zeromq"
    d = tmp_path_factory.mktemp("cluster-" + request.param)
    (d / "cluster-layout.zeek").write_text(layout_text())
    layout_path = d / "cluster-layout.zeek"
    if BACKEND["zeromq"]:
        # A ZeekControl directory: the nodes load it whole and its zeekctl-config.zeek
        # selects ZeroMQ.
        (d / "zeekctl-config.zeek").write_text(zeekctl_config(free_port(), free_port()))
        layout_path = d
    state = {"dir": d, "layout": layout_path, "nodes": {}, "retired": []}
    try:
        for name in ALL:
            state["nodes"][name] = Node(name, layout_path, d)
        for n in state["nodes"].values():
            n.wait(lambda _, n=n: n.items("started"), "started")
        yield state
    finally:
        for n in list(state["nodes"].values()) + state["retired"]:
            n.kill()
            for f in (n.proc.stdin, n.proc.stdout):
                try:
                    f.close()
                except OSError:
                    pass


def node_ids(cluster):
    return {name: n.items("started")[0]["id"] for name, n in cluster["nodes"].items()}


def test_forms_fully(cluster):
    nodes = cluster["nodes"]
    for name, n in nodes.items():
        want = expected_ups(name)
        n.wait(lambda _, n=n, want=want: set(n.ups()) >= want, "node_up from %s" % sorted(want))
    time.sleep(0.5)  # late extras would show now
    ids = node_ids(cluster)
    for name, n in nodes.items():
        ups = n.items("up")
        assert sorted(u["node"] for u in ups) == sorted(expected_ups(name)), name
        # node_up carries the node's own id
        assert all(u["id"] == ids[u["node"]] for u in ups), name
        assert n.downs() == []
        assert n.ask("nodes", cmd="nodes")["names"] == sorted(expected_ups(name))
    assert nodes[MANAGER].ask("count", cmd="count")["n"] == 4
    assert nodes[LOGGER].ask("count", cmd="count")["n"] == 4
    assert nodes["proxy-1"].ask("count", cmd="count")["n"] == 4
    # Broker: workers never peer with workers; ZeroMQ: everyone sees everyone.
    assert nodes["worker-1"].ask("count", cmd="count")["n"] == (3 if BACKEND["zeromq"] else 0)


def test_routes_role_node_and_nodeid_topics(cluster):
    nodes = cluster["nodes"]
    ids = node_ids(cluster)
    m = nodes[MANAGER]
    m.send(cmd="publish", topic=tp("zeek/cluster/worker/"), name="Route::workers", args=["w"])
    m.send(cmd="publish", topic=tp("zeek/cluster/proxy/"), name="Route::proxies")
    m.send(cmd="publish", topic=tp("zeek/cluster/logger/"), name="Route::loggers")
    m.send(cmd="publish", topic="", node_topic="worker-1", name="Route::node_w1")
    m.send(cmd="publish", topic="", node_topic="worker-2", name="Route::node_w2")
    m.send(cmd="publish", topic="", nodeid_topic=ids["worker-10"], name="Route::id_w10")
    nodes["proxy-2"].send(cmd="publish", topic="", node_topic="worker-20", name="Route::node_w20")
    nodes["worker-10"].send(cmd="publish", topic=tp("zeek/cluster/manager/"), name="Route::manager")
    want = {
        "Route::workers": set(WORKERS),
        "Route::proxies": set(PROXIES),
        "Route::loggers": {LOGGER},
        "Route::node_w1": {"worker-1"},
        "Route::node_w2": {"worker-2"},
        "Route::id_w10": {"worker-10"},
        "Route::node_w20": {"worker-20"},
        "Route::manager": {MANAGER},
    }
    for ev, targets in want.items():
        for t in targets:
            nodes[t].wait(lambda _, t=t, ev=ev: nodes[t].events(ev), "%s at %s" % (ev, t))
    time.sleep(0.7)  # misrouted copies would have arrived by now
    for ev, targets in want.items():
        got = sorted(name for name, n in nodes.items() for _ in n.events(ev))
        assert got == sorted(targets), ev  # exactly once at each target, nowhere else
    w1 = [e["topic"] for e in nodes["worker-1"].events() if e["name"].startswith("Route::")]
    assert sorted(w1) == sorted([tp("zeek/cluster/node/worker-1/"), tp("zeek/cluster/worker/")])
    assert nodes["worker-10"].events("Route::id_w10")[0]["topic"] == tp("zeek/cluster/nodeid/%s/" % ids["worker-10"])
    assert nodes["worker-1"].events("Route::workers")[0]["args"] == ["w"]


def test_publish_hrw_is_stable_and_spreads(cluster):
    nodes = cluster["nodes"]
    m = nodes[MANAGER]
    keys = ["key-%d" % i for i in range(24)]
    for rnd in range(3):
        for k in keys:
            assert m.ask("hrw", cmd="hrw", pool=tp(WORKER_POOL), key=k, name="Hrw::k", args=[k])["ok"]
    total = 3 * len(keys)
    end = time.monotonic() + T
    while sum(len(nodes[w].events("Hrw::k")) for w in WORKERS) < total and time.monotonic() < end:
        time.sleep(0.05)
    time.sleep(0.3)
    where = {}
    for w in WORKERS:
        for e in nodes[w].events("Hrw::k"):
            assert e["topic"] == tp("zeek/cluster/node/%s/" % w)
            where.setdefault(e["args"][0], []).append(w)
    assert sorted(where) == sorted(keys)
    for k, ws in where.items():
        assert len(ws) == 3 and len(set(ws)) == 1, (k, ws)  # same key -> same worker
    assert len({ws[0] for ws in where.values()}) >= 2  # keys spread over the pool
    # Non-worker nodes never see pool traffic.
    for name in [LOGGER, MANAGER] + PROXIES:
        assert nodes[name].events("Hrw::k") == []
    # Round robin: one cursor per key visits every worker once per round.
    for _ in WORKERS:
        assert m.ask("rr", cmd="rr", pool=tp(WORKER_POOL), key="rr-key", name="Rr::k")["ok"]
    for w in WORKERS:
        nodes[w].wait(lambda _, w=w: nodes[w].events("Rr::k"), "Rr::k at %s" % w)
    time.sleep(0.3)
    assert all(len(nodes[w].events("Rr::k")) == 1 for w in WORKERS)


def test_relay_rr_carries_worker_traffic_through_a_proxy(cluster):
    nodes = cluster["nodes"]
    w1 = nodes["worker-1"]
    # Workers do not peer with each other: a worker's publish to the worker topic reaches
    # no worker; relayed through the proxy pool it reaches every worker once.
    w1.send(cmd="publish", topic=tp("zeek/cluster/worker/"), name="Relay::direct")
    for k in range(4):
        assert w1.ask("relay", cmd="relay", pool=tp("zeek/cluster/pool/proxy"), key="rk",
                      targets=[tp("zeek/cluster/worker/")], name="Relay::all", args=[k])["ok"]
    assert w1.ask("relay", cmd="relay", pool=tp("zeek/cluster/pool/proxy"), key="rk",
                  targets=[tp("zeek/cluster/node/worker-20/"), tp("zeek/cluster/manager/")], name="Relay::two")["ok"]
    for w in WORKERS:
        nodes[w].wait(lambda _, w=w: len(nodes[w].events("Relay::all")) == 4, "4 x Relay::all at %s" % w)
    nodes["worker-20"].wait(lambda _: nodes["worker-20"].events("Relay::two"), "Relay::two at worker-20")
    nodes[MANAGER].wait(lambda _: nodes[MANAGER].events("Relay::two"), "Relay::two at the manager")
    time.sleep(0.5)
    for w in WORKERS:
        got = nodes[w].events("Relay::all")
        seq = [int(e["args"][0]) for e in got]
        assert sorted(seq) == [0, 1, 2, 3], w  # each exactly once
        # Round robin sends 0 and 2 through one proxy, 1 and 3 through the other: order
        # holds along each path, not across the two.
        assert seq.index(0) < seq.index(2) and seq.index(1) < seq.index(3), (w, seq)
        assert all(e["topic"] == tp("zeek/cluster/worker/") for e in got)
    assert sorted(n for n, node in nodes.items() if node.events("Relay::two")) == sorted([MANAGER, "worker-20"])
    # The relaying proxies pass the event on without raising it. On Broker nobody gets
    # the direct one (workers do not peer); on ZeroMQ every other worker does.
    for name, n in nodes.items():
        direct = BACKEND["zeromq"] and name in WORKERS and name != "worker-1"
        assert len(n.events("Relay::direct")) == (1 if direct else 0), name
        if name in PROXIES:
            assert n.events("Relay::all") == [] and n.events("Relay::two") == [], name
    # Round robin per key over the proxies: both carried some of the five.
    assert w1.ask("relay", cmd="relay", pool=tp("zeek/cluster/pool/proxy"), key="rk",
                  targets=tp("zeek/cluster/worker/"), name="Relay::more")["ok"]


def test_worker_count_through_kill_and_restart(cluster):
    nodes = cluster["nodes"]
    m, lg, p1 = nodes[MANAGER], nodes[LOGGER], nodes["proxy-1"]
    victim = nodes["worker-2"]
    old_id = victim.items("started")[0]["id"]
    victim.proc.send_signal(signal.SIGKILL)
    victim.proc.wait(timeout=T)
    for n in (m, lg, p1, nodes["proxy-2"]):
        n.wait(lambda _, n=n: "worker-2" in n.downs(), "node_down worker-2 at %s" % n.name)
    assert m.ask("count", cmd="count")["n"] == 3
    assert lg.ask("count", cmd="count")["n"] == 3
    assert "worker-2" not in m.ask("nodes", cmd="nodes")["names"]
    # Broker: other workers saw nothing (they never peered with worker-2); ZeroMQ: the
    # proxy reports its nodeid unsubscription to everyone.
    if BACKEND["zeromq"]:
        nodes["worker-1"].wait(lambda _: "worker-2" in nodes["worker-1"].downs(), "node_down at worker-1")
    else:
        assert nodes["worker-1"].downs() == []

    ups_before = {n.name: n.ups().count("worker-2") for n in (m, lg, p1)}
    cluster["retired"].append(victim)
    fresh = Node("worker-2", cluster["layout"], cluster["dir"])
    cluster["nodes"]["worker-2"] = fresh
    new_id = fresh.wait(lambda _: fresh.items("started"), "started")[0]["id"]
    assert new_id != old_id
    for n in (m, lg, p1):
        n.wait(lambda _, n=n: n.ups().count("worker-2") > ups_before[n.name], "node_up worker-2 again at %s" % n.name)
        assert [u["id"] for u in n.items("up") if u["node"] == "worker-2"][-1] == new_id
    fresh.wait(lambda _: set(fresh.ups()) >= expected_ups("worker-2"), "worker-2's node_ups")
    assert m.ask("count", cmd="count")["n"] == 4
    assert lg.ask("count", cmd="count")["n"] == 4
    assert p1.ask("count", cmd="count")["n"] == 4
    # The restarted worker is routed to again.
    m.send(cmd="publish", topic="", node_topic="worker-2", name="Route::again")
    fresh.wait(lambda _: fresh.events("Route::again"), "Route::again")


def test_cluster_log_parses_with_zeek_log_readers(cluster):
    nodes = cluster["nodes"]
    messages = {name: "%s says hi" % name for name in ALL}
    messages[MANAGER] = "manager: tab\there, ümlaut, back\\slash"
    for name, n in nodes.items():
        n.ask("logged", cmd="log", msg=messages[name])
    time.sleep(0.5)
    # The manager last: on ZeroMQ it runs the proxy, which carries everyone's going.
    for name in [n for n in ALL if n not in (LOGGER, MANAGER)] + [MANAGER]:
        nodes[name].quit()
    # Every node that left is seen going before the logger stops, so their last batches
    # are in. On ZeroMQ the manager's own going is not: its nodeid unsubscription has to
    # pass the proxy that is stopping with it (Zeek's nodes see the same), so it is not
    # waited for there.
    gone = set(ALL) - {LOGGER}
    if BACKEND["zeromq"]:
        gone -= {MANAGER}
    nodes[LOGGER].wait(lambda _: gone <= set(nodes[LOGGER].downs()), "every node_down")
    nodes[LOGGER].quit()
    assert nodes[LOGGER].items("bye")
    log = cluster["dir"] / "cluster.log"
    assert log.exists()
    text = log.read_text(encoding="utf-8")
    assert text.startswith("#separator \\x09\n")
    assert "#close\t" in text
    r = subprocess.run([sys.executable, str(ZAT_CHECK), str(log)], capture_output=True, text=True, timeout=120)
    if r.returncode == 77:
        pytest.skip("no third-party Zeek log reader importable (pip install zat parsezeeklogs)")
    assert r.returncode == 0, r.stdout + r.stderr
    report = json.loads(r.stdout)
    readers = {k: v for k, v in report["readers"].items() if "rows" in v}
    assert readers
    for reader, res in readers.items():
        got = {(row["node"], row["message"]) for row in res["rows"]}
        for name, msg in messages.items():
            assert (name, msg) in got, (reader, name, res["rows"])


# ---------------------------------------------------------------------------------------
# The same API in one process (two nodes), for what the node processes above do not use.


def test_in_process_api(tmp_path):
    layout = zcluster.Layout.parse(
        "redef Cluster::nodes = {\n"
        '\t["logger-1"] = [$node_type=Cluster::LOGGER, $ip=127.0.0.1, $p=%d/tcp],\n'
        '\t["manager"] = [$node_type=Cluster::MANAGER, $ip=127.0.0.1, $p=%d/tcp],\n'
        "};\n" % (free_port(), free_port())
    )
    opts = {"Cluster::retry_interval": 0.1, "Cluster::manager_is_logger": False}
    with zcluster.Cluster(layout, node="logger-1", options=opts) as lg, zcluster.Cluster(
        layout, node="manager", options=opts
    ) as mg:
        for call in (lambda: lg.next(0), lg.fd, lambda: lg.log("x"), lg.nodes_up, lambda: lg.listen_port):
            with pytest.raises(zcluster.StateError):
                call()
        lg.start(tmp_path)
        with pytest.raises(zcluster.StateError):
            lg.start()
        mg.start()
        assert lg.listen_port == layout.nodes["logger-1"].p.number
        got = []
        lg.on_message(got.append)
        end = time.monotonic() + T
        while not any(m.kind == zcluster.MessageKind.NODE_UP for m in got) and time.monotonic() < end:
            lg.poll(0.1)
        up = [m for m in got if m.kind == zcluster.MessageKind.NODE_UP]
        assert [(m.node_name, m.peer_name, m.text, m.peer_id) for m in up] == [
            ("manager", "manager", mg.node_id, mg.node_id)
        ]
        assert lg.nodes_up() == ["manager"]
        # The manager's own view, through next().
        m = None
        while time.monotonic() < end:
            m = mg.next(timeout=0.1)
            if m is not None and m.kind == zcluster.MessageKind.NODE_UP:
                break
        assert m is not None and m.node_name == "logger-1"
        mg.publish("zeek/cluster/logger/", zcluster.Event("Demo::ping", ["hi", zcluster.Count(1)]))
        assert mg.publish_hrw("zeek/cluster/pool/logger", 42, zcluster.Event("Demo::hrw"))
        assert mg.publish_rr("zeek/cluster/pool/logger", "k", zcluster.Event("Demo::rr"))
        assert not mg.publish_hrw(WORKER_POOL, "k", zcluster.Event("Demo::hrw"))  # no worker up
        with pytest.raises(zcluster.NotFound):
            mg.publish_rr("no/such/pool", "k", zcluster.Event("Demo::rr"))
        with pytest.raises(TypeError):
            mg.publish("t", "not an event")

        def names():
            return [m.event.name for m in got if m.event is not None]

        while len(names()) < 3 and time.monotonic() < end:
            lg.poll(0.1)
        assert names() == ["Demo::ping", "Demo::hrw", "Demo::rr"]
        assert [m.event.args for m in got if m.event is not None][0] == ["hi", zcluster.Count(1)]

        def boom(msg):
            raise RuntimeError("from the callback")

        lg.on_message(boom)
        mg.publish("zeek/cluster/logger/", zcluster.Event("Demo::again"))
        with pytest.raises(RuntimeError):
            while time.monotonic() < end:
                lg.poll(0.1)
        lg.on_message(None)
        mg.log("from the manager")
        mg.close()
        with pytest.raises(zcluster.ClosedError):
            mg.publish("t", zcluster.Event("Demo::x"))
        m = None
        while time.monotonic() < end:
            m = lg.next(timeout=0.1)
            if m is not None and m.kind == zcluster.MessageKind.NODE_DOWN:
                break
        assert m is not None and m.node_name == "manager"
        assert lg.nodes_up() == []
    text = (tmp_path / "cluster.log").read_text()
    assert "\tmanager\tfrom the manager\n" in text and "#close\t" in text


# ---------------------------------------------------------------------------------------
# The legacy Bro 2.5 model, one process per node: event-name patterns route raised events.


def test_legacy_patterns_route_raised_events_between_processes(tmp_path):
    bro = ["# Bro 2.5 broctl style", "redef Cluster::manager2proxy_events = /Intel::.*/;", "redef Cluster::nodes = {"]
    bro.append('\t["control"] = [$node_type=Cluster::CONTROL, $ip=127.0.0.1, $zone_id="", $p=%d/tcp],' % free_port())
    bro.append('\t["manager"] = [$node_type=Cluster::MANAGER, $ip=127.0.0.1, $zone_id="", $p=%d/tcp, $workers=set("worker-1", "worker-2")],' % free_port())
    bro.append('\t["proxy-1"] = [$node_type=Cluster::PROXY, $ip=127.0.0.1, $zone_id="", $p=%d/tcp, $manager="manager", $workers=set("worker-1", "worker-2")],' % free_port())
    for w in ("worker-1", "worker-2"):
        bro.append('\t["%s"] = [$node_type=Cluster::WORKER, $ip=127.0.0.1, $zone_id="", $p=%d/tcp, $interface="eth0", $manager="manager", $proxy="proxy-1"],' % (w, free_port()))
    bro.append("};")
    layout_path = tmp_path / "cluster-layout.bro"
    layout_path.write_text("\n".join(bro) + "\n")
    names = ["manager", "proxy-1", "worker-1", "worker-2"]
    nodes = {n: Node(n, layout_path, tmp_path) for n in names}
    try:
        m, p = nodes["manager"], nodes["proxy-1"]
        m.wait(lambda _: set(m.ups()) >= {"proxy-1", "worker-1", "worker-2"}, "the manager's node_ups")
        for w in ("worker-1", "worker-2"):
            nodes[w].wait(lambda _, w=w: set(nodes[w].ups()) >= {"manager", "proxy-1"}, "%s's node_ups" % w)
        # manager2worker_events defaults to /Drop::.*/; manager2proxy_events is redef'd above.
        assert m.ask("raised", cmd="raise", name="Drop::drop_address", args=["10.0.0.1"])["roles"] == ["WORKER"]
        assert m.ask("raised", cmd="raise", name="Intel::insert", args=["i"])["roles"] == ["PROXY"]
        assert m.ask("raised", cmd="raise", name="Notice::whatever")["roles"] == []
        # worker2manager_events defaults to /(TimeMachine::command|Drop::.*)/.
        w1 = nodes["worker-1"]
        assert w1.ask("raised", cmd="raise", name="Drop::catch_release", args=["x"])["roles"] == ["MANAGER"]
        assert w1.ask("raised", cmd="raise", name="Intel::seen")["roles"] == []  # worker2proxy is empty
        for w in ("worker-1", "worker-2"):
            nodes[w].wait(lambda _, w=w: nodes[w].events("Drop::drop_address"), "Drop::drop_address at %s" % w)
        p.wait(lambda _: p.events("Intel::insert"), "Intel::insert at the proxy")
        m.wait(lambda _: m.events("Drop::catch_release"), "Drop::catch_release at the manager")
        time.sleep(0.5)  # misrouted copies would have arrived by now
        where = {ev: sorted(n for n, node in nodes.items() for _ in node.events(ev))
                 for ev in ("Drop::drop_address", "Intel::insert", "Notice::whatever", "Drop::catch_release", "Intel::seen")}
        assert where == {
            "Drop::drop_address": ["worker-1", "worker-2"],
            "Intel::insert": ["proxy-1"],
            "Notice::whatever": [],
            "Drop::catch_release": ["manager"],
            "Intel::seen": [],
        }
        assert nodes["worker-2"].events("Drop::drop_address")[0]["args"] == ["10.0.0.1"]
    finally:
        for n in nodes.values():
            n.kill()
            for f in (n.proc.stdin, n.proc.stdout):
                f.close()
