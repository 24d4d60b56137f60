"""Batches (publish_many / next_many), the pure-Python codec against the library's, the
messages() iterator and the asyncio helpers, over real loopback peerings."""

import asyncio
import datetime as dt
import ipaddress
import time

import pytest

import zcluster
from zcluster import Count, Enum, Event, Port, Timespan, Timestamp, _codec


def pair(prefix="b/"):
    a, b = zcluster.Endpoint(), zcluster.Endpoint()
    b.subscribe(prefix)
    port = b.listen("127.0.0.1", 0)
    a.peer("127.0.0.1", port, 0.1)
    deadline = time.time() + 10
    while not a.peer_subscribed(prefix + "x"):
        assert time.time() < deadline, "no subscription"
        time.sleep(0.005)
    return a, b


VALUES = [
    None, True, False, Count(0), Count(2**64 - 1), 0, -1, 2**63 - 1, -(2**63), 1.5, -0.0, 0.0,
    1e300, 2.2250738585072014e-308, float("nan"), float("inf"), float("-inf"), 5e-324,
    "", "text", "é\u20ac", "x" * 200, "y" * 70000, b"\xff\xfe", bytearray(b"ab"),
    ipaddress.ip_address("10.0.0.1"), ipaddress.ip_address("::1"), ipaddress.ip_address("2001:db8::ff"),
    ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("2001:db8::/32"),
    Port(80, "tcp"), Port(53, "udp"), Port(0, "?"), Port(8, "icmp"),
    Timestamp.from_ns(1_700_000_000_123_456_789), dt.datetime(2020, 1, 2, 3, 4, 5),
    dt.datetime(1960, 1, 1, tzinfo=dt.timezone.utc), Timespan.from_ns(-5), dt.timedelta(seconds=1.5),
    Enum("Cluster::WORKER"), [], [1, "a", [None, [Count(3)]]], ("t", 1), {1, 2, 3}, {"k": [1, 2]},
    frozenset({"a"}), {(1, 2): {3}}, list(range(300)),
    Event("Test::e", [1, "two", Count(3)]),
    Event("Test::m", [], metadata=[(1, Timestamp.from_ns(5)), (7, "x")]),
]


@pytest.mark.parametrize("value", VALUES, ids=lambda v: type(v).__name__)
def test_codec_matches_the_library(value):
    want = zcluster.to_binary(value.to_value() if isinstance(value, Event) else value)
    got = _codec.encode(value)
    assert got == want
    back = _codec.decode(want)
    lib_back = zcluster.from_binary(want)
    if isinstance(value, float) and value != value:
        assert back != back
    else:
        assert back == lib_back
        assert type(back) is type(lib_back)


def test_codec_decodes_events_as_the_library_does():
    for v in VALUES:
        data = zcluster.to_binary(v.to_value() if isinstance(v, Event) else v)
        ev = _codec.decode_event(data)
        if isinstance(v, Event):
            assert ev == v
        else:
            assert ev is None
    # Malformed bytes: the library's error.
    with pytest.raises(zcluster.DecodeError):
        _codec.decode(b"\x05\x09ab")
    with pytest.raises(OverflowError):
        _codec.encode(2**63)
    with pytest.raises(TypeError):
        _codec.encode(object())


def test_publish_many_and_next_many_round_trip():
    a, b = pair()
    try:
        events = [Event("Bench::ev", [Count(i), "payload %d" % i]) for i in range(5000)]
        assert a.publish_many("b/x", events) == 5000
        assert a.publish_many("b/x", [b"\x02" + (7).to_bytes(8, "big"), "plain", {1, 2}]) == 3
        assert a.publish_many("b/x", []) == 0
        got = []
        deadline = time.time() + 20
        while len(got) < 5003 and time.time() < deadline:
            got += [m for m in b.next_many(1000, 0.5) if m.kind == zcluster.MessageKind.EVENT]
        assert [m.event for m in got[:5000]] == events
        assert all(m.topic == "b/x" and m.peer_id == a.id for m in got)
        assert [m.value for m in got[5000:]] == [Count(7), "plain", {1, 2}]
        assert got[5001].event is None
        assert b.next_many(10, 0) == []
    finally:
        a.close()
        b.close()


def test_publish_many_refuses_a_malformed_item_and_publishes_nothing():
    a, b = pair()
    try:
        with pytest.raises(zcluster.DecodeError) as e:
            a.publish_many("b/x", [Event("A::ok", []), b"\x63", Event("A::ok", [])])
        assert e.value.published == 0
        assert "value 1 of the batch" in str(e.value)
        with pytest.raises(TypeError):
            a.publish_many("b/x", [object()])
        with pytest.raises(zcluster.InvalidArgument):
            a.publish_many("<$>/x", [1])
        a.publish("b/x", Event("A::marker", []))
        first = None
        for m in b.messages(timeout=5):
            if m.kind == zcluster.MessageKind.EVENT:
                first = m
                break
        assert first is not None and first.event.name == "A::marker"
        with pytest.raises(ValueError):
            b.next_many(0, 0)
    finally:
        a.close()
        b.close()


def test_next_many_carries_statuses_and_cluster_kinds():
    a, b = zcluster.Endpoint(), zcluster.Endpoint()
    try:
        port = b.listen("127.0.0.1", 0)
        a.peer("127.0.0.1", port, 0)
        kinds = []
        for m in a.messages(timeout=2):
            kinds.append(m)
            if m.kind == zcluster.MessageKind.PEER_ADDED:
                break
        added = kinds[-1]
        assert added.kind == zcluster.MessageKind.PEER_ADDED
        assert (added.address, added.port) == ("127.0.0.1", port)
        assert added.peer_id == b.id
        assert added.text and added.topic is None and added.event is None
    finally:
        a.close()
        b.close()


def test_messages_ends_after_the_timeout_and_on_close():
    a, b = pair()
    try:
        a.publish_many("b/x", [Event("A::e", [i]) for i in range(10)])
        evs = [m for m in b.messages(timeout=1) if m.kind == zcluster.MessageKind.EVENT]
        assert [m.event.args[0] for m in evs] == list(range(10))
        t = time.time()
        assert list(b.messages(timeout=0.2)) == []
        assert time.time() - t < 2
        b.close()
        assert list(b.messages(timeout=None)) == []
    finally:
        a.close()
        b.close()


def test_asyncio_reads_the_fd_without_blocking_the_loop():
    a, b = pair()

    async def main():
        ticks = 0
        stop = asyncio.Event()

        async def ticker():
            nonlocal ticks
            while not stop.is_set():
                ticks += 1
                await asyncio.sleep(0.01)

        t = asyncio.create_task(ticker())
        got = []

        async def consume():
            async for m in b:
                if m.kind == zcluster.MessageKind.EVENT:
                    got.append(m.event.args[0])
                    if len(got) == 100:
                        return

        c = asyncio.create_task(consume())
        await asyncio.sleep(0.3)  # the loop keeps running while nothing arrives
        assert ticks >= 5 and not got
        a.publish_many("b/x", [Event("A::e", [i]) for i in range(100)])
        await asyncio.wait_for(c, 10)
        assert got == list(range(100))
        assert await b.recv(timeout=0.1) is None
        a.publish("b/x", Event("A::last", []))
        m = await b.recv(timeout=5)
        assert m is not None and m.event.name == "A::last"
        # Closing ends an `async for`.
        c2 = asyncio.create_task(consume())
        await asyncio.sleep(0.1)
        b.close()
        await asyncio.wait_for(c2, 5)
        stop.set()
        await t

    try:
        asyncio.run(main())
    finally:
        a.close()
        b.close()


def test_store_is_a_context_manager(tmp_path):
    from ports import free_port

    text = (
        'redef Cluster::nodes = {\n'
        '\t["manager"] = [$node_type=Cluster::MANAGER, $ip=127.0.0.1, $p=%d/tcp],\n'
        '};\n' % free_port()
    )
    layout = zcluster.Layout.parse(text)
    cl = zcluster.Cluster(layout, "manager")
    try:
        cl.start(str(tmp_path))
        with cl.create_store("ctx").store as st:
            st.put("k", Count(1))
            assert st.get("k") == Count(1)
        with pytest.raises(zcluster.ClosedError):
            st.get("k")
    finally:
        cl.close()


ODD_EVENTS = [
    [Count(1), Count(1), ["n", [1], [[Count(1), 5]]]],  # key 1 must be a timestamp
    [Count(1), Count(1), ["n", "not a vector"]],
    [Count(1), Count(1), ["n", [1], [], "extra"]],  # extra content is ignored
    [Count(1), Count(1), [b"\xff", []]],  # name not UTF-8
    [Count(1), Count(1), ["n", [1], "meta"]],
    [Count(1), Count(1), ["n", [1], [[Count(9), "x"], [Count(1), Timestamp.from_ns(3)]]]],
    [Count(1), Count(1), ["n", [{1, 2}, {"k": 1}, 1.5, float("nan")]]],
    [Count(2), Count(1), ["n", []]],
    [Count(1), Count(1), ["n"]],
    [Count(1), Count(1), [], 4],
]


@pytest.mark.parametrize("value", ODD_EVENTS, ids=range(len(ODD_EVENTS)))
def test_decode_event_agrees_with_the_library_on_odd_layouts(value):
    data = zcluster.to_binary(value)
    fast = _codec.decode_event(data)
    slow = _codec._slow_event(data)
    if slow is None:
        assert fast is None
    else:
        assert fast is not None
        assert (fast.name, repr(fast.args), fast.metadata) == (slow.name, repr(slow.args), slow.metadata)
