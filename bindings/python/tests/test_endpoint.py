"""zcluster.Endpoint over ctypes: peering, pub/sub, fd, callbacks, unpeer, and endpoints in
separate processes (ordering; reconnection after the remote process is killed)."""

import os
import pathlib
import select
import signal
import socket
import subprocess
import sys
import textwrap
import time

import pytest

import zcluster
from zcluster import MessageKind
from ports import free_port

HI = b"\x05\x02hi"


def wait_kind(ep, kind, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        m = ep.next(timeout=0.1)
        if m is not None and m.kind == kind:
            return m
    raise AssertionError("no %s within %ss" % (kind, timeout))


def wait_subscribed(ep, topic, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not ep.peer_subscribed(topic):
        assert time.monotonic() < deadline, "subscription for %r never arrived" % topic
        time.sleep(0.005)


def count(i):
    return b"\x02" + i.to_bytes(8, "big")


@pytest.fixture
def pair():
    with zcluster.Endpoint() as a, zcluster.Endpoint() as b:
        port = a.listen("127.0.0.1", 0)
        b.peer("127.0.0.1", port, retry=0.1)
        wait_kind(a, MessageKind.PEER_ADDED)
        m = wait_kind(b, MessageKind.PEER_ADDED)
        assert (m.address, m.port, m.peer_id, m.text) == ("127.0.0.1", port, a.id, "handshake successful")
        yield a, b, port


def test_pubsub_fd_and_no_self_delivery(pair):
    a, b, port = pair
    while b.next(timeout=0) is not None:
        pass
    fd = b.fd()
    assert select.select([fd], [], [], 0)[0] == []
    b.subscribe("/py/")
    a.subscribe("/py/")
    wait_subscribed(a, "/py/x")
    a.publish("/py/x", HI)
    a.publish("/elsewhere", HI)
    assert select.select([fd], [], [], 5)[0] == [fd]
    m = b.next(timeout=1)
    assert (m.kind, m.topic, m.data, m.peer_id) == (MessageKind.EVENT, "/py/x", HI, a.id)
    assert b.next(timeout=0.2) is None
    assert select.select([fd], [], [], 0)[0] == []
    assert a.next(timeout=0.2) is None or a.next(timeout=0).kind != MessageKind.EVENT
    assert a.stats()["published"] == 2


def test_callbacks_run_inside_poll(pair):
    a, b, port = pair
    seen = []
    b.on_message(seen.append)
    b.subscribe("/cb")
    wait_subscribed(a, "/cb")
    for i in range(5):
        a.publish("/cb", count(i))
    deadline = time.monotonic() + 10
    while sum(m.kind == MessageKind.EVENT for m in seen) < 5:
        assert time.monotonic() < deadline
        b.poll(0.05)
    assert [m.data for m in seen if m.kind == MessageKind.EVENT] == [count(i) for i in range(5)]
    b.on_message(None)


def test_unpeer_is_removed_here_and_lost_there(pair):
    a, b, port = pair
    b.unpeer("127.0.0.1", port)
    wait_kind(b, MessageKind.PEER_REMOVED)
    wait_kind(a, MessageKind.PEER_LOST)
    assert a.peer_count == 0


def test_errors():
    with pytest.raises(zcluster.NotFound):
        zcluster.Endpoint({"no_such_option": 1})
    with pytest.raises(zcluster.InvalidArgument):
        zcluster.Endpoint({"Broker::peer_overflow_policy": "explode"})
    ep = zcluster.Endpoint({"Broker::forward_messages": False})
    with pytest.raises(zcluster.DecodeError):
        ep.publish("/x", b"\x05\x09h")
    with pytest.raises(zcluster.InvalidArgument):
        ep.publish("<$>/x", HI)
    assert ep.next(timeout=0) is None
    ep.close()
    ep.close()
    with pytest.raises(zcluster.ClosedError):
        ep.subscribe("/x")


CHILD = textwrap.dedent(
    """
    import sys, time
    sys.path.insert(0, %r)
    import zcluster
    mode, port = sys.argv[1], int(sys.argv[2])
    ep = zcluster.Endpoint()
    if mode == "listen":
        ep.listen("127.0.0.1", port)
        ep.subscribe("/child/")
        print("READY", flush=True)
        while True:
            time.sleep(1)
    else:
        ep.peer("127.0.0.1", port, retry=0.1)
        while not ep.peer_subscribed("/proc/x"):
            time.sleep(0.005)
        for i in range(10000):
            ep.publish("/proc/x", b"\\x02" + i.to_bytes(8, "big"))
        while True:   # until the parent closes and we see it
            m = ep.next(timeout=10)
            if m is None or m.kind == zcluster.MessageKind.PEER_LOST:
                break
    """
) % (os.path.join(os.path.dirname(__file__), ".."),)


def spawn(mode, port):
    return subprocess.Popen([sys.executable, "-c", CHILD, mode, str(port)], stdout=subprocess.PIPE, text=True)


def test_events_from_another_process_arrive_in_order():
    with zcluster.Endpoint() as a:
        port = a.listen("127.0.0.1", 0)
        a.subscribe("/proc/")
        child = spawn("publish", port)
        try:
            for i in range(10000):
                m = a.next(timeout=10)
                while m is not None and m.kind != MessageKind.EVENT:
                    m = a.next(timeout=10)
                assert m is not None and m.data == count(i)
        finally:
            a.close()
            child.wait(timeout=20)

def test_reconnects_after_remote_process_is_killed_and_restarted():
    port = free_port()
    child = spawn("listen", port)
    assert child.stdout.readline().strip() == "READY"
    with zcluster.Endpoint() as b:
        try:
            b.peer("127.0.0.1", port, retry=0.1)
            wait_kind(b, MessageKind.PEER_ADDED)
            wait_subscribed(b, "/child/x")
            child.send_signal(signal.SIGKILL)
            child.wait()
            wait_kind(b, MessageKind.PEER_LOST)
            wait_kind(b, MessageKind.PEER_UNAVAILABLE)
            child = spawn("listen", port)
            assert child.stdout.readline().strip() == "READY"
            m = wait_kind(b, MessageKind.PEER_ADDED)
            assert m.port == port
            wait_subscribed(b, "/child/x")
        finally:
            child.kill()
            child.wait()

def test_events_round_trip(pair):
    a, b, port = pair
    b.subscribe("zeek/")
    wait_subscribed(a, "zeek/x")
    ev = zcluster.Event("Demo::ping", ["hi", zcluster.Count(1)])
    a.publish("zeek/x", ev)
    m = wait_kind(b, MessageKind.EVENT)
    assert m.topic == "zeek/x"
    assert m.event == ev
    assert (m.event.name, m.event.args) == ("Demo::ping", ["hi", zcluster.Count(1)])
    a.publish("zeek/x", zcluster.to_binary(5))
    m = wait_kind(b, MessageKind.EVENT)
    assert m.event is None and m.value == 5
    with pytest.raises(TypeError):
        a.publish("zeek/x", 5)


def test_undecodable_messages_are_reported_and_the_peering_stays():
    """An independent raw peer (tests/protocol/broker_peer.py) sends a valid value, a
    truncated one, one nested deeper than the limit, then a valid one: both valid ones
    arrive, the bad ones come as DESERIALIZATION_FAILED naming the topic, the peering
    never drops."""
    sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[3] / "tests" / "protocol"))
    import broker_peer as bp

    # The raw peer speaks Broker's protocol on a bare socket: plain TCP.
    with zcluster.Endpoint({"Broker::disable_ssl": True}) as a:
        a.subscribe("/from-py/")
        port = a.listen("127.0.0.1", 0)
        c = bp.Conn(socket.create_connection(("127.0.0.1", port)))
        me = bp.IDS["small"]
        bp.handshake(c, me, accepted=False)
        wait_kind(a, MessageKind.PEER_ADDED)
        deep = b"\x0e\x01" * 4097 + b"\x00"
        for topic, payload in [("/from-py/1", HI), ("/from-py/2", b"\x05\x0bhello"),
                               ("/from-py/3", deep), ("/from-py/4", count(4))]:
            c.envelope(me, bp.NIL, bp.DATA, 16, topic, payload)
        got, bad = [], []
        deadline = time.monotonic() + 10
        while len(got) < 2 or len(bad) < 2:
            assert time.monotonic() < deadline, (got, bad)
            m = a.next(timeout=0.1)
            if m is None:
                continue
            assert m.kind not in (MessageKind.PEER_LOST, MessageKind.PEER_REMOVED), m
            if m.kind == MessageKind.EVENT:
                got.append((m.topic, m.data))
            elif m.kind == MessageKind.DESERIALIZATION_FAILED:
                bad.append(m)
        assert got == [("/from-py/1", HI), ("/from-py/4", count(4))]
        assert [m.topic for m in bad] == ["/from-py/2", "/from-py/3"]
        assert "truncated string" in bad[0].text and "nesting deeper than 4096" in bad[1].text
        assert bad[0].address == "127.0.0.1" and bad[0].peer_id is not None
        assert a.stats()["undecodable"] == 2
        assert a.peer_count == 1
        c.s.close()


def test_an_event_too_deep_for_python_still_arrives_as_bytes(pair):
    """The library takes 4096 levels; converting that many to Python objects would
    exceed Python's recursion limit, so such a message keeps .event None and its bytes."""
    a, b, port = pair
    b.subscribe("/deep")
    wait_subscribed(a, "/deep")
    levels = 3000
    args = b"\x0e\x01" * levels + count(1)
    name = b"Deep::ev"
    ev = b"\x0e\x03" + count(1) + count(1) + b"\x0e\x02\x05" + bytes([len(name)]) + name + b"\x0e\x01" + args
    a.publish_data("/deep", ev)
    a.publish("/deep", count(2))
    m = wait_kind(b, MessageKind.EVENT)
    assert m.topic == "/deep" and m.data == ev and m.event is None
    assert wait_kind(b, MessageKind.EVENT).data == count(2)
