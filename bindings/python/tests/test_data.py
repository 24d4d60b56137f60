"""Values and events through the Python binding: every golden value a real Broker wrote
round-trips Python -> binary -> Python, and JSON is stable."""

import datetime
import ipaddress
import math

import pytest

import zcluster
from zcluster._data import (
    Count,
    Enum,
    Event,
    FrozenTable,
    Port,
    Timespan,
    Timestamp,
    from_binary,
    from_json,
    to_binary,
    to_json,
    to_text,
)

from conftest import SHARED

GOLDEN = SHARED / "golden"


def golden_rows():
    lines = (GOLDEN / "values.tsv").read_text(encoding="utf-8").splitlines()
    rows = []
    for line in lines[1:]:
        if line.strip():
            name, ty, literal, hexbytes = line.split("\t")
            rows.append((name, ty, literal, bytes.fromhex(hexbytes)))
    return rows


NAMESPACE = {
    "Count": Count,
    "Port": Port,
    "Enum": Enum,
    "Timestamp": Timestamp.from_ns,
    "Timespan": Timespan.from_ns,
    "IPv4Address": ipaddress.IPv4Address,
    "IPv6Address": ipaddress.IPv6Address,
    "IPv4Network": ipaddress.IPv4Network,
    "IPv6Network": ipaddress.IPv6Network,
    "inf": math.inf,
}


def test_golden_file_has_47_values():
    assert len(golden_rows()) == 47


@pytest.mark.parametrize("name,ty,literal,raw", golden_rows(), ids=[r[0] for r in golden_rows()])
def test_golden_value_round_trips(name, ty, literal, raw):
    value = eval(literal, dict(NAMESPACE))  # the file's own Python-style literal
    assert to_binary(value) == raw, name
    back = from_binary(raw)
    assert back == value
    assert to_binary(back) == raw  # exact, nanoseconds and -0.0 included
    j = to_json(back)
    assert to_json(from_json(j)) == j


def test_python_types_map_like_broker():
    assert to_binary(True) == b"\x01\x01"
    assert to_binary(5)[0] == 3 and to_binary(Count(5))[0] == 2
    assert from_binary(to_binary(Count(5))) == 5 and isinstance(from_binary(to_binary(Count(5))), Count)
    assert from_binary(to_binary(b"\xff")) == b"\xff"
    assert from_binary(to_binary("x")) == "x"
    assert from_binary(to_binary((1, 2))) == [1, 2]
    assert from_binary(to_binary(frozenset({1}))) == {1}
    net = ipaddress.ip_network("10.0.0.0/8")
    assert from_binary(to_binary(net)) == net
    ts = datetime.datetime(2022, 4, 10, 7, 0, tzinfo=datetime.timezone.utc)
    assert to_json(ts) == '{"@data-type":"timestamp","data":"2022-04-10T07:00:00.000"}'
    naive = datetime.datetime(2022, 4, 10, 7, 0)
    assert to_binary(naive) == to_binary(ts)  # naive means UTC
    assert to_json(datetime.timedelta(seconds=1.5)) == '{"@data-type":"timespan","data":"1500ms"}'
    back = from_binary(to_binary(ts))
    assert back == ts and back.tzinfo is not None and back.ns == 1649574000 * 10**9
    nested = {frozenset({1}): {"a": {"b": 1}}}
    out = from_binary(to_binary({"k": [{1: 2}]}))
    assert out == {"k": [{1: 2}]}
    assert from_binary(to_binary(nested)) == nested
    in_set = from_binary(to_binary([{Count(1): 2}]))
    assert in_set == [{1: 2}]
    s = from_binary(bytes.fromhex("0c010d00"))  # a set holding an empty table
    assert s == {FrozenTable()}
    assert to_text([True, Count(1), "a"]) == '[T, 1, "a"]'


def test_bad_input_raises():
    with pytest.raises(TypeError):
        to_binary(object())
    with pytest.raises(OverflowError):
        to_binary(1 << 63)
    with pytest.raises(ValueError):
        Count(-1)
    with pytest.raises(zcluster.DecodeError) as e:
        from_binary(b"\x02\x00")
    assert "truncated count" in str(e.value)
    with pytest.raises(zcluster.DecodeError):
        from_binary(b"\x0e" * 100 + b"\x01" * 100)
    with pytest.raises(zcluster.LayoutError) as e:
        from_json('{"@data-type":"count","data":1.0}')
    assert "count must be an integer" in str(e.value)
    with pytest.raises(zcluster.LayoutError) as e:
        from_json("{")
    assert "1:2" in str(e.value)


def test_events():
    ping = bytes.fromhex((GOLDEN / "event_demo_ping.payload.hex").read_text().strip())
    ev = Event("Demo::ping", ["hi", Count(1)])
    assert to_binary(ev) == ping
    back = Event.from_value(from_binary(ping))
    assert back == ev and back.timestamp is None
    ev.timestamp = datetime.datetime(2023, 4, 18, 14, 13, 14, tzinfo=datetime.timezone.utc)
    h = ev._to_event_handle()
    try:
        again = Event._from_event_handle(h)
    finally:
        zcluster._lib.lib.zc_event_free(h)
    assert again == ev and again.timestamp.ns == 1681827194 * 10**9
    assert '"2023-04-18T14:13:14.000"' in to_json(ev)
    with pytest.raises(zcluster.TypeMismatch) as e:
        Event.from_value([Count(2), Count(1), ["x", []]])
    assert "version 2" in str(e.value)
    p = Port.parse("53/udp")
    assert p == Port(53, "udp") and str(p) == "53/udp" and Port.parse("7") == Port(7, "tcp")
