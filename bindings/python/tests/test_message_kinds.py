"""MessageKind: the names and numbers of the C enum zc_msg_kind (tests/message_kinds.rs
compares the lists with Rust's and the header's), and the deprecated alias
PEER_UNREACHABLE of PEER_UNAVAILABLE, which a failed connect reports."""

import time

import zcluster
from zcluster import MessageKind
from ports import free_port


def test_numbers_are_the_c_numbers():
    assert [(k.name, int(k)) for k in MessageKind] == [
        ("EVENT", 0), ("PEER_ADDED", 1), ("PEER_LOST", 2), ("PEER_REMOVED", 3),
        ("PEER_UNAVAILABLE", 4), ("ENDPOINT_DISCOVERED", 5), ("HELLO", 6), ("NODE_UP", 7),
        ("NODE_DOWN", 8), ("ENDPOINT_UNREACHABLE", 9), ("PEER_REJECTED", 10),
        ("COMMAND", 11), ("PEER_INVALID", 12), ("DESERIALIZATION_FAILED", 13),
    ]


def test_peer_unreachable_is_a_deprecated_alias():
    assert MessageKind.PEER_UNREACHABLE is MessageKind.PEER_UNAVAILABLE
    assert MessageKind(4).name == "PEER_UNAVAILABLE"
    assert MessageKind["PEER_UNREACHABLE"] == 4


def test_a_failed_connect_is_peer_unavailable_under_both_names():
    with zcluster.Endpoint({"Broker::disable_ssl": "T"}) as ep:
        ep.peer("127.0.0.1", free_port(), retry=0)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            m = ep.next(timeout=0.1)
            if m is not None and m.kind == MessageKind.PEER_UNREACHABLE:
                assert m.kind is MessageKind.PEER_UNAVAILABLE
                assert m.kind.name == "PEER_UNAVAILABLE"
                return
        raise AssertionError("no PEER_UNAVAILABLE within 10 s")
