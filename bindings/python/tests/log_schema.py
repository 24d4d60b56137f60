"""The MyProto::LOG stream the log tests write (c-tests/test_log.c defines the same), and
record `i` of a worker, as a dict by column name, plus what a Zeek log reader should
read back for it."""

import ipaddress

import zcluster

STREAM, PATH = "MyProto::LOG", "myproto"

COLUMNS = [
    ("ts", "time"), ("worker", "string"), ("seq", "count"),
    ("id.orig_h", "addr"), ("id.orig_p", "port"), ("id.resp_h", "addr"), ("id.resp_p", "port"),
    ("ok", "bool"), ("delta", "int"), ("ratio", "double"), ("dur", "interval"),
    ("name", "string"), ("net", "subnet"), ("proto", "enum"), ("tags", "set[string]"),
    ("sizes", "vector[count]"), ("note", "string", True),
]


def record(who, i):
    """Record i, with Python values as the column types take them (coerced by the package)."""
    return {
        "ts": 1700000000.25 + i,
        "worker": who,
        "seq": i,
        "id.orig_h": "10.0.0.%d" % (i % 250 + 1),
        "id.orig_p": zcluster.Port(1000 + i, "tcp"),
        "id.resp_h": ipaddress.ip_address("2001:db8::1"),
        "id.resp_p": "53/udp",
        "ok": i % 2 == 0,
        "delta": -i,
        "ratio": i / 4.0,
        "dur": 0.5,
        "name": "a b\tc" if i % 3 == 0 else "n%d" % i,
        "net": "10.%d.0.0/16" % (i % 256),
        "proto": "tcp",
        "tags": {"y", "x"} if i % 2 == 0 else set(),
        "sizes": [i, i + 1],
        "note": None if i % 5 == 0 else "ok",
    }


def expected(who, i):
    """What parsezeeklogs gives for record i (TSV and JSON alike)."""
    return {
        "ts": 1700000000.25 + i,
        "worker": who,
        "seq": i,
        "id.orig_h": "10.0.0.%d" % (i % 250 + 1),
        "id.orig_p": 1000 + i,
        "id.resp_h": "2001:db8::1",
        "id.resp_p": 53,
        "ok": i % 2 == 0,
        "delta": -i,
        "ratio": i / 4.0,
        "dur": 0.5,
        "name": "a b\tc" if i % 3 == 0 else "n%d" % i,
        "net": "10.%d.0.0/16" % (i % 256),
        "proto": "tcp",
        "tags": ["x", "y"] if i % 2 == 0 else [],
        "sizes": [i, i + 1],
        "note": None if i % 5 == 0 else "ok",
    }
