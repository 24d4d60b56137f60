"""Data stores across a cluster of separate processes on loopback: the manager holds the
masters of a memory store and of a persistent (SQLite) store, worker-1 and worker-2 hold
clones of both. Each node is a `store_node.py` process driven over its stdin/stdout.

Checks: puts from the manager and from each worker converge on all three nodes; every
operation made on a clone reaches the master and the other clone, and a wrong type is
reported on the clone; a put with expiry is seen and then seen expired on all three; the
manager killed with SIGKILL in the middle of a stream of puts and restarted loses no
acknowledged put of the persistent store, and both clones resynchronise with the new
master (the persistent store's content, the memory store's now empty state, new puts).
While the master is away, worker-1 (Zeek's default intervals) keeps answering reads and
buffers a put that the new master then applies; worker-2 (clone_mutation_buffer_interval
1 s, clone_stale_interval 2 s) reports its put lost and refuses reads as stale.

The tests share one cluster (module fixture) and run in file order.
"""

import contextlib
import json
import os
import pathlib
import signal
import subprocess
import sys
import threading
import time

import pytest


from conftest import REPO
from ports import free_port
from zmq_layout import standalone_proxy, zeromq_redefs

HERE = pathlib.Path(__file__).resolve().parent
NODE_SCRIPT = HERE / "store_node.py"
T = 20.0  # upper bound of every wait

MANAGER = "manager"
WORKERS = ["worker-1", "worker-2"]
ALL = [MANAGER] + WORKERS
MEM = "mem"
DISK = "disk"
# worker-2 buffers mutations without a master for 1 s and goes stale after 2 s.
OPTIONS = {
    "worker-2": {
        "Broker::default_clone_mutation_buffer_interval": 1.0,
        "Broker::default_clone_stale_interval": 2.0,
    }
}


def layout_text(zeromq=None):
    """`zeromq`: (xpub, xsub) ports of a standalone proxy the test runs, so that killing
    the master's node (the manager) does not take the proxy with it."""
    lines = []
    if zeromq:
        lines += zeromq_redefs(zeromq)
    lines.append("redef Cluster::nodes = {")
    lines.append('\t["%s"] = [$node_type=Cluster::MANAGER, $ip=127.0.0.1, $p=%d/tcp],' % (MANAGER, free_port()))
    for w in WORKERS:
        lines.append(
            '\t["%s"] = [$node_type=Cluster::WORKER, $ip=127.0.0.1, $p=%d/tcp, $manager="manager"],' % (w, free_port())
        )
    lines.append("};")
    return "\n".join(lines) + "\n"


def count(n):
    return {"$count": n}


class Node:
    """A node process. Replies and other reports accumulate in .seen."""

    def __init__(self, name, layout_path, store_dir, options=None):
        self.name = name
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join([str(REPO / "bindings" / "python"), env.get("PYTHONPATH", "")])
        self.proc = subprocess.Popen(
            [sys.executable, str(NODE_SCRIPT), str(layout_path), name, str(store_dir), json.dumps(options or {})],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
        )
        self.seen = []
        self.lock = threading.Lock()
        self.next_rid = 1
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        self.wait(lambda: self.items("started"), "started")

    def _read(self):
        for line in self.proc.stdout:
            try:
                obj = json.loads(line)
            except ValueError:
                continue
            with self.lock:
                self.seen.append(obj)

    def items(self, op):
        with self.lock:
            return [o for o in self.seen if o["op"] == op]

    def wait(self, pred, what, timeout=T):
        end = time.monotonic() + timeout
        while True:
            v = pred()
            if v:
                return v
            if self.proc.poll() is not None and not self.reader.is_alive():
                raise AssertionError("%s exited (%s) before %s" % (self.name, self.proc.returncode, what))
            if time.monotonic() > end:
                raise AssertionError("%s: timed out waiting for %s" % (self.name, what))
            time.sleep(0.01)

    def send(self, **cmd):
        self.proc.stdin.write((json.dumps(cmd) + "\n").encode())
        self.proc.stdin.flush()

    def ask(self, cmd, **kw):
        """Sends a command; returns its reply."""
        rid = self.next_rid
        self.next_rid += 1
        self.send(cmd=cmd, rid=rid, **kw)

        def reply():
            r = [o for o in self.items("reply") if o["rid"] == rid]
            return r[0] if r else None

        return self.wait(reply, "reply to %s %r" % (cmd, kw))

    def call(self, store, method, *args, **kwargs):
        r = self.ask("call", name=store, method=method, args=list(args), kwargs=kwargs)
        assert r["ok"], "%s: %s.%s%r failed: %s" % (self.name, store, method, args, r)
        return r["value"]

    def call_error(self, store, method, *args, **kwargs):
        r = self.ask("call", name=store, method=method, args=list(args), kwargs=kwargs)
        assert not r["ok"], "%s: %s.%s%r should have failed, gave %r" % (self.name, store, method, args, r)
        return r

    def dump(self, store):
        """Every key and value, or None while the store does not answer (no snapshot)."""
        r = self.ask("dump", name=store, timeout=0.05)
        return [tuple(kv) for kv in r["value"]] if r["ok"] else None

    def create(self, store, persistent=False):
        r = self.ask("create", name=store, persistent=persistent)
        assert r["ok"], r
        return r["value"]

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=T)
        for f in (self.proc.stdin, self.proc.stdout):
            try:
                f.close()
            except OSError:
                pass


def converge(nodes, store, want=None, what=""):
    """Waits until every node's dump of store is the same (and equals want, if given);
    returns it.

    Without want, copies that agree may still all be behind: a clone's write travels to
    the master on its own (asynchronous) path, and three copies can agree on a state
    that lacks a write still in flight. So every node first flushes the store (a clone:
    until the master has acknowledged, i.e. applied, each of its writes): the master's
    state is then the final one, and the clones agree only once they have it too."""
    if want is None:
        for n in nodes:
            n.call(store, "flush", timeout=T)
    end = time.monotonic() + T
    while True:
        dumps = [n.dump(store) for n in nodes]
        if dumps[0] is not None and all(d == dumps[0] for d in dumps) and (want is None or dumps[0] == want):
            return dumps[0]
        if time.monotonic() > end:
            raise AssertionError(
                "%s: %s did not converge%s: %r"
                % (what, store, "" if want is None else " to %r" % (want,), dict(zip([n.name for n in nodes], dumps)))
            )
        time.sleep(0.05)


@pytest.fixture(scope="module", params=["broker", "zeromq"])
def cluster(tmp_path_factory, request):
    d = tmp_path_factory.mktemp("stores-" + request.param)
    layout_path = d / "cluster-layout.zeek"
    proxy = contextlib.ExitStack()
    if request.param == "zeromq":
        layout_path.write_text(layout_text(proxy.enter_context(standalone_proxy())))
    else:
        layout_path.write_text(layout_text())
    state = {"dir": d, "layout": layout_path, "nodes": {}, "retired": []}
    try:
        for name in ALL:
            state["nodes"][name] = Node(name, layout_path, d, OPTIONS.get(name))
        m = state["nodes"][MANAGER]
        assert m.create(MEM) == {"master": True, "backend": "Broker::MEMORY", "master_node": MANAGER}
        assert m.create(DISK, persistent=True) == {"master": True, "backend": "Broker::SQLITE", "master_node": MANAGER}
        for w in WORKERS:
            for s in (MEM, DISK):
                info = state["nodes"][w].create(s, persistent=(s == DISK))
                assert info["master"] is False and info["master_node"] == MANAGER
        yield state
    finally:
        for n in list(state["nodes"].values()) + state["retired"]:
            n.kill()
        proxy.close()


def nodes_of(cluster):
    return [cluster["nodes"][n] for n in ALL]


def test_puts_from_every_node_converge(cluster):
    nodes = cluster["nodes"]
    m, w1, w2 = (nodes[n] for n in ALL)
    for s in (MEM, DISK):
        m.call(s, "put", "from-manager", "m")
        w1.call(s, "put", "from-worker-1", 1)
        w2.call(s, "put", "from-worker-2", [2, "two"])
        want = [("from-manager", "m"), ("from-worker-1", 1), ("from-worker-2", [2, "two"])]
        converge(nodes_of(cluster), s, sorted(want, key=repr), "puts from every node")
    # The master saw the workers' puts as writes of its own store.
    assert m.call(DISK, "get", "from-worker-2") == [2, "two"]


def test_every_operation_from_a_clone(cluster):
    nodes = cluster["nodes"]
    m, w1, w2 = (nodes[n] for n in ALL)
    s = MEM
    w1.call(s, "increment", "n", count(5))
    w2.call(s, "increment", "n", count(2))
    w1.call(s, "decrement", "n", count(3))
    w1.call(s, "append", "str", "ab")
    w2.call(s, "append", "str", "cd")
    w1.call(s, "insert_into", "set", "a")
    w1.call(s, "insert_into", "set", "b")
    # worker-2 removes what worker-1 inserted: only once the master has applied the
    # insert (each clone's writes reach the master on a path of their own, so without
    # this the removal may arrive first and fail there with NotFound).
    w1.call(s, "flush", timeout=T)
    w2.call(s, "remove_from", "set", "a")
    w1.call(s, "insert_into", "tbl", "k", "v")
    w1.call(s, "push", "vec", 1)
    w2.call(s, "push", "vec", 2)
    w2.call(s, "push", "vec", 3)
    w1.call(s, "put", "gone", 0)
    w1.call(s, "erase", "gone")
    final = converge(nodes_of(cluster), s, what="operations from clones")
    # Order between the two workers' commands is not defined, the arithmetic is.
    got = dict(final)
    assert got["n"] == count(4)
    assert got["str"] in ("abcd", "cdab")
    assert got["set"] == {"$set": ["b"]}
    assert got["tbl"] == {"k": "v"}
    assert sorted(got["vec"]) == [1, 2, 3]
    assert "gone" not in got
    w2.call(s, "pop", "vec")
    converge(nodes_of(cluster), s, what="pop")
    assert len(m.call(s, "get", "vec")) == 2
    # Reads on a clone: get, get_index into a container, exists, keys.
    w2.wait(lambda: w2.call(s, "get_index", "set", "b") is True, "set membership on a clone")
    assert w2.call(s, "get_index", "set", "a") is False
    assert w2.call(s, "get_index", "tbl", "k") == "v"
    assert w1.call(s, "exists", "tbl") is True and w1.call(s, "exists", "gone") is False
    assert "tbl" in w1.call(s, "keys")["$set"]
    assert w1.call_error(s, "get", "gone")["error"] == "NotFound"
    # put_unique from a clone gets the master's answer.
    assert w1.call(s, "put_unique", "uniq", "first") is True
    assert w2.call(s, "put_unique", "uniq", "second") is False
    converge(nodes_of(cluster), s, what="put_unique")
    assert m.call(s, "get", "uniq") == "first"
    # A wrong type is reported on the clone that made the call, and on the master.
    e = w1.call_error(s, "increment", "str", count(1))
    assert e["error"] == "TypeMismatch", e
    assert m.call_error(s, "increment", "str", count(1))["error"] == "TypeMismatch"
    assert w2.call_error(s, "push", "n", 1)["error"] == "TypeMismatch"
    assert w2.call_error(s, "decrement", "no-such-key", count(1))["error"] == "NotFound"
    # Nothing of those reached anyone.
    assert m.call(s, "get", "str") == got["str"]
    # clear from a clone empties every copy.
    w2.call(s, "clear")
    converge(nodes_of(cluster), s, [], "clear from a clone")


def test_expiry_is_observed_everywhere(cluster):
    nodes = nodes_of(cluster)
    w1 = cluster["nodes"]["worker-1"]
    m = cluster["nodes"][MANAGER]
    expiry = 2.0
    w1.call(MEM, "put", "short", "x", expiry=expiry)
    m.call(DISK, "put", "short", "y", expiry=expiry)
    due = time.monotonic() + expiry
    # Every copy holds the value only until it expires: all six are watched at once
    # (one after the other, a slow first node could use up the others' window).
    unseen = {(s, v, n.name): n for s, v in ((MEM, "x"), (DISK, "y")) for n in nodes}
    end = time.monotonic() + T
    while unseen:
        for (s, v, name), n in list(unseen.items()):
            if ("short", v) in (n.dump(s) or []):
                del unseen[(s, v, name)]
        assert time.monotonic() < end, "short never seen on %r" % sorted(k[::2] for k in unseen)
        time.sleep(0.01)
    for s in (MEM, DISK):
        for n in nodes:
            n.wait(lambda n=n, s=s: n.call(s, "exists", "short") is False, "short expired on %s at %s" % (s, n.name))
    # Not long after it was due (ticks of 100 ms, delivery over loopback).
    assert time.monotonic() - due < 4.0


def test_killed_master_restarts_with_every_acked_put_and_clones_resync(cluster):
    nodes = cluster["nodes"]
    m, w1, w2 = (nodes[n] for n in ALL)
    m.call(MEM, "put", "before-kill", 1)
    w1.call(MEM, "put", "before-kill-1", 1)
    converge(nodes_of(cluster), MEM, [("before-kill", 1), ("before-kill-1", 1)], "memory store before the kill")
    before = dict(converge(nodes_of(cluster), DISK, what="before the kill"))
    # A clone sends again what the master had not acknowledged when it vanished (at least
    # once); acknowledgements go out every 5 ticks: wait until worker-1's put is
    # acknowledged (else the new, empty memory master would get it again).
    for w in (w1, w2):
        for s in (MEM, DISK):
            w.call(s, "flush", timeout=T)
    m.send(cmd="putloop", name=DISK, start=0)
    m.wait(lambda: len(m.items("acked")) >= 200, "200 acknowledged puts")
    m.proc.send_signal(signal.SIGKILL)
    m.proc.wait(timeout=T)
    m.reader.join(timeout=T)
    acked = [o["i"] for o in m.items("acked")]
    assert acked == list(range(len(acked)))
    cluster["retired"].append(m)

    # Clones keep answering reads from what they had while the master is away, and
    # buffer mutations for it.
    # worker-2's stale clock starts when it notices the loss: the send time of its last
    # "connected" answered True is a lower bound of that moment.
    asked = [time.monotonic()]

    def w2_lost():
        t = time.monotonic()
        if w2.call(DISK, "connected") is False:
            return True
        asked[0] = t
        return False

    w2.wait(w2_lost, "worker-2 noticing the master is gone")
    outage = asked[0]
    w1.wait(lambda: w1.call(DISK, "connected") is False, "worker-1 noticing the master is gone")
    assert w1.call(DISK, "get", "from-manager") == "m"
    assert w2.call(MEM, "get", "before-kill") == 1
    w1.call(DISK, "put", "during-outage", "buffered")
    w1.call(DISK, "increment", "during-outage", 1)  # its own put is still in flight
    w2.call(DISK, "put", "lost-on-w2", "dropped")
    # worker-2 drops its put after 1 s and reports it; it goes stale after 2 s.
    lost = w2.wait(lambda: w2.call(DISK, "take_lost_mutations"), "worker-2 reporting its put lost")
    assert len(lost) == 1 and "put" in lost[0] and "clone_mutation_buffer_interval" in lost[0], lost
    err = w2.wait(
        lambda: (lambda r: None if r["ok"] else r)(w2.ask("call", name=DISK, method="get", args=["from-manager"])),
        "worker-2 going stale",
    )
    assert err["error"] == "StoreError" and "stale" in err["text"] and "clone_stale_interval" in err["text"], err
    assert time.monotonic() - outage >= 1.9
    # worker-1 (stale after 5 min) still answers and has lost nothing.
    assert w1.call(DISK, "get", "from-manager") == "m"
    assert w1.call(DISK, "take_lost_mutations") == []

    fresh = Node(MANAGER, cluster["layout"], cluster["dir"])
    cluster["nodes"][MANAGER] = fresh
    assert fresh.create(MEM)["master"] is True
    assert fresh.create(DISK, persistent=True)["backend"] == "Broker::SQLITE"
    disk = dict(fresh.dump(DISK))
    disk.pop("during-outage", None)  # worker-1's buffered put may have arrived already
    missing = [i for i in acked if disk.get("k%d" % i) != i]
    assert missing == [], "acknowledged puts lost: %r" % missing[:20]
    for k, v in before.items():
        assert disk[k] == v
    # Both clones resynchronise with the new master: the persistent state with worker-1's
    # buffered put (and never worker-2's lost one), ...
    disk["during-outage"] = "buffered"
    converge(nodes_of(cluster), DISK, sorted(disk.items(), key=repr), "persistent store after the restart")
    # ... the memory store, empty on the new master: only its snapshot can tell the
    # clones to forget what they had, ...
    converge(nodes_of(cluster), MEM, [], "memory store after the restart")
    # ... and writes from everyone flow again.
    fresh.call(MEM, "put", "after", "m")
    w1.call(MEM, "put", "after-1", 1)
    w2.call(DISK, "increment", "k0", 100)
    converge(nodes_of(cluster), MEM, [("after", "m"), ("after-1", 1)], "puts after the restart")
    disk["k0"] = 100
    converge(nodes_of(cluster), DISK, sorted(disk.items(), key=repr), "increment after the restart")
    assert w2.call(DISK, "connected") is True and w2.call(DISK, "take_lost_mutations") == []
    # worker-1's buffered increment of its buffered string could only be judged by the
    # master, which reports it as a problem of its own (the protocol has no way back).
    problems = []
    fresh.wait(
        lambda: problems.extend(fresh.call(DISK, "take_problems"))
        or any("integer" in p and "string" in p for p in problems),
        "the master reporting worker-1's increment of a string",
    )
