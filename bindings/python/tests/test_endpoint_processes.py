"""Endpoints in separate processes over loopback: a chain of three with forwarding,
prefix subscriptions and unsubscribe across processes, a garbage-sending peer, and a slow
consumer whose memory stays bounded while backpressure holds the publisher back, with
nothing lost."""

import json
import os
import socket
import subprocess
import sys
import time

import pytest

import zcluster
from zcluster import MessageKind

HERE = os.path.dirname(os.path.abspath(__file__))
PKG = os.path.join(HERE, "..")
T = 20.0


class Proc:
    """An endpoint_node.py process driven by JSON lines."""

    def __init__(self, *opts):
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join([PKG, env.get("PYTHONPATH", "")])
        self.p = subprocess.Popen(
            [sys.executable, os.path.join(HERE, "endpoint_node.py"), *opts],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env,
        )

    def ask(self, **cmd):
        self.p.stdin.write(json.dumps(cmd) + "\n")
        self.p.stdin.flush()
        line = self.p.stdout.readline()
        assert line, "endpoint_node exited (%s) on %r" % (self.p.poll(), cmd)
        return json.loads(line)

    def close(self):
        if self.p.poll() is None:
            try:
                self.p.stdin.write(json.dumps({"cmd": "quit"}) + "\n")
                self.p.stdin.flush()
                self.p.wait(timeout=T)
            except (OSError, subprocess.TimeoutExpired):
                self.p.kill()
                self.p.wait()
        for f in (self.p.stdin, self.p.stdout):
            try:
                f.close()
            except OSError:
                pass


@pytest.fixture
def procs():
    made = []

    def make(*opts):
        p = Proc(*opts)
        made.append(p)
        return p

    yield make
    for p in made:
        p.close()


def count(i):
    return b"\x02" + i.to_bytes(8, "big")


def kib_string(i):
    """A 1,000-byte Broker string whose first 8 bytes are i (endpoint_node.py reads it)."""
    return b"\x05\xe8\x07" + i.to_bytes(8, "big") + b"x" * 992


def events(ep, n, timeout=T):
    """The next n events' (topic, count) from a local endpoint."""
    got, end = [], time.monotonic() + timeout
    while len(got) < n and time.monotonic() < end:
        m = ep.next(timeout=0.1)
        if m is not None and m.kind == MessageKind.EVENT:
            got.append((m.topic, int.from_bytes(m.data[1:], "big")))
    return got


def test_chain_of_three_processes_forwards_both_ways_exactly_once(procs):
    # here (A) <- B <- C: B is a plain endpoint (forwarding on, as Broker's default) with no
    # subscription of its own; A and C never peer.
    b, c = procs(), procs()
    with zcluster.Endpoint() as a:
        a.subscribe("/chain/")
        port_a = a.listen("127.0.0.1", 0)
        port_b = b.ask(cmd="listen")["port"]
        assert b.ask(cmd="peer", port=port_a)["op"] == "peering"
        assert c.ask(cmd="subscribe", topic="/back/")["op"] == "ok"
        assert c.ask(cmd="peer", port=port_b)["op"] == "peering"
        # A's subscription reaches C through B (routing updates are forwarded too).
        assert c.ask(cmd="wait_subscribed", topic="/chain/x")["op"] == "ok"
        assert c.ask(cmd="publish", topic="/chain/x", n=3000)["n"] == 3000
        got = events(a, 3000)
        assert got == [("/chain/x", i) for i in range(3000)]  # all, once, in order
        assert events(a, 1, timeout=0.5) == []  # no duplicate arrives late
        # And back: A publishes, C (two hops away) receives; B is not subscribed.
        end = time.monotonic() + T
        while not a.peer_subscribed("/back/y") and time.monotonic() < end:
            time.sleep(0.01)
        for i in range(500):
            a.publish_data("/back/y", count(i))
        r = c.ask(cmd="drain", n=500)
        assert r["counts"] == list(range(500)) and r["topics"] == ["/back/y"]
        assert b.ask(cmd="drain", n=1, timeout=0.5)["counts"] == []
        # What is not subscribed anywhere goes nowhere.
        a.publish_data("/elsewhere", count(1))
        assert c.ask(cmd="drain", n=1, timeout=0.5)["counts"] == []


def test_prefix_subscriptions_and_unsubscribe_across_processes(procs):
    sub = procs()
    with zcluster.Endpoint() as a:
        port = a.listen("127.0.0.1", 0)
        assert sub.ask(cmd="subscribe", topic="/u/")["op"] == "ok"
        assert sub.ask(cmd="subscribe", topic="/keep/")["op"] == "ok"
        sub.ask(cmd="peer", port=port)
        end = time.monotonic() + T
        while not (a.peer_subscribed("/u/x") and a.peer_subscribed("/keep/x")) and time.monotonic() < end:
            time.sleep(0.01)
        for t in ("/u/x", "/keep/x", "/u", "/uu/x", "/other"):
            a.publish_data(t, count(1))
        r = sub.ask(cmd="drain", n=2)
        assert sorted(r["topics"]) == ["/keep/x", "/u/x"] and len(r["counts"]) == 2
        assert sub.ask(cmd="drain", n=1, timeout=0.5)["counts"] == []  # "/u", "/uu/x" did not match
        assert sub.ask(cmd="unsubscribe", topic="/u/")["op"] == "ok"
        end = time.monotonic() + T
        while a.peer_subscribed("/u/x") and time.monotonic() < end:
            time.sleep(0.01)
        assert not a.peer_subscribed("/u/x") and a.peer_subscribed("/keep/x")
        a.publish_data("/u/x", count(2))
        a.publish_data("/keep/x", count(3))
        r = sub.ask(cmd="drain", n=2, timeout=1.0)
        assert r["counts"] == [3] and r["topics"] == ["/keep/x"]


def test_a_garbage_peer_is_dropped_and_the_process_keeps_serving(procs):
    srv = procs()
    port = srv.ask(cmd="listen")["port"]
    assert srv.ask(cmd="subscribe", topic="/g/")["op"] == "ok"
    # Garbage: not a Broker frame at all, then a frame claiming to be 2 GiB.
    for junk in (b"GET / HTTP/1.0\r\n\r\n" * 10, b"\x7f\xff\xff\xff" + b"\x00" * 64):
        with socket.create_connection(("127.0.0.1", port), timeout=T) as s:
            s.sendall(junk)
            s.settimeout(T)
            try:
                while s.recv(4096):  # the endpoint closes the connection
                    pass
            except ConnectionResetError:
                pass
    with zcluster.Endpoint() as a:
        a.peer("127.0.0.1", port, retry=0.1)
        end = time.monotonic() + T
        while not a.peer_subscribed("/g/x") and time.monotonic() < end:
            time.sleep(0.01)
        for i in range(100):
            a.publish_data("/g/x", count(i))
        assert srv.ask(cmd="drain", n=100)["counts"] == list(range(100))
    kinds = srv.ask(cmd="statuses")["kinds"]
    assert kinds.count("PEER_INVALID") >= 2 or kinds.count("PEER_REJECTED") >= 2, kinds


def test_slow_consumer_memory_is_bounded_and_nothing_is_lost(procs):
    # The consumer takes nothing from its inbox for a while. Its inbox (64) and our peer
    # buffer fill, and backpressure makes our publishes wait, then fail with WouldBlock:
    # the consumer's memory stays flat. Whatever publish accepted then arrives, in order.
    slow = procs("inbox_capacity=64")
    with zcluster.Endpoint({"backpressure_timeout": "50ms", "Broker::peer_buffer_size": "256"}) as a:
        port = a.listen("127.0.0.1", 0)
        slow.ask(cmd="subscribe", topic="/slow/")
        slow.ask(cmd="peer", port=port)
        end = time.monotonic() + T
        while not a.peer_subscribed("/slow/x") and time.monotonic() < end:
            time.sleep(0.01)
        rss_before = slow.ask(cmd="rss")["kib"]
        accepted, blocked = 0, 0
        start = time.monotonic()
        while time.monotonic() - start < 3.0 and blocked < 20:
            try:
                a.publish_data("/slow/x", kib_string(accepted))
                accepted += 1
            except zcluster.WouldBlock:
                blocked += 1
        assert blocked > 0, "publishing never blocked: %d accepted" % accepted
        # Held back, not buffered without bound: our publish queue (65,536 by default), the
        # peer buffer (256), the consumer's inbox (64) and what the kernel's socket
        # buffers hold (a few thousand 1 KB frames).
        assert accepted < 65536 + 256 + 64 + 16384, accepted
        rss_full = slow.ask(cmd="rss")["kib"]
        assert rss_full - rss_before < 50 * 1024, (rss_before, rss_full)
        r = slow.ask(cmd="drain", n=accepted, timeout=60)
        assert r["counts"] == list(range(accepted))  # every accepted event, in order
        assert slow.ask(cmd="stats")["inbox_dropped"] == 0
        assert a.stats()["peer_dropped"] == 0
