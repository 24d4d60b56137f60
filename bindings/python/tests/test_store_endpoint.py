"""Stores attached to plain endpoints (Broker's attach_master / attach_clone) from Python:
a plain endpoint's clone of a Cluster manager's master, a plain endpoint's SQLite master
with a clone on another plain endpoint, every operation through the endpoint stores."""

import time

import pytest

import zcluster
from zcluster import Count
from ports import free_port

T = 15.0


def eventually(what, pred):
    end = time.monotonic() + T
    while not pred():
        assert time.monotonic() < end, "timed out waiting for " + what
        time.sleep(0.02)


def same(st, other, key, value):
    def ok():
        try:
            return st.get(key, timeout=5) == value and other.get(key, timeout=5) == value
        except zcluster.NotFound:
            return False

    eventually("%r = %r on both" % (key, value), ok)


def every_operation(st, other):
    st.put("a", Count(1))
    same(st, other, "a", Count(1))
    assert not st.put_unique("a", Count(9))
    assert st.put_unique("u", Count(2))
    st.increment("a", Count(5))
    same(st, other, "a", Count(6))
    st.decrement("a", Count(2))
    same(st, other, "a", Count(4))
    st.put("s", "ab")
    st.append("s", "cd")
    same(st, other, "s", "abcd")
    st.put("set", set())
    st.insert_into("set", Count(7))
    st.insert_into("set", Count(8))
    st.remove_from("set", Count(7))
    same(st, other, "set", {Count(8)})
    st.put("vec", [])
    st.push("vec", Count(1))
    st.push("vec", Count(2))
    st.pop("vec")
    same(st, other, "vec", [Count(1)])
    assert st.get_index("vec", Count(0), timeout=5) == Count(1)
    assert st.exists("vec", timeout=5)
    st.put("short", Count(1), expiry=0.3)
    eventually("expiry", lambda: not st.exists("short", timeout=5) and not other.exists("short", timeout=5))
    st.erase("u")
    eventually("erase", lambda: not other.exists("u", timeout=5))
    eventually("keys", lambda: st.keys(timeout=5) == {"a", "s", "set", "vec"} == other.keys(timeout=5))
    st.clear()
    eventually("clear", lambda: other.keys(timeout=5) == set() and st.keys(timeout=5) == set())
    assert st.take_problems() == []


def test_plain_endpoint_clone_of_a_cluster_managers_master():
    port = free_port()
    layout = zcluster.Layout.parse(
        "redef Cluster::nodes = {\n"
        '\t["manager"] = [$node_type=Cluster::MANAGER, $ip=127.0.0.1, $p=%d/tcp],\n'
        "};\n" % port
    )
    with zcluster.Cluster(layout, node="manager", options={"Cluster::retry_interval": 0.1}) as mg:
        master = mg.create_store("py-mgr").store
        assert master.is_master()
        mg.start()
        with zcluster.Endpoint() as ep:
            clone = ep.attach_clone("py-mgr", resync_interval=0.2)
            assert not clone.is_master()
            ep.peer("127.0.0.1", port, retry=0.1)
            master.put("hello", Count(1))
            assert clone.get("hello", timeout=T) == Count(1)
            master.erase("hello")
            every_operation(clone, master)
        with pytest.raises(zcluster.ClosedError):
            clone.put("x", 1)


def test_plain_endpoint_sqlite_master_and_clone(tmp_path):
    path = str(tmp_path / "ep.sqlite")
    with zcluster.Endpoint() as a, zcluster.Endpoint() as b:
        master = a.attach_master("py-ep", "Broker::SQLITE", {"path": path, "synchronous": "NORMAL", "integrity_check": True})
        assert master.is_master() and master.backend == "Broker::SQLITE"
        with pytest.raises(zcluster.StateError):
            a.attach_clone("py-ep")
        with pytest.raises(zcluster.NotFound):
            a.attach_master("other", "SQLITE", {"colour": "blue"})
        with pytest.raises(zcluster.InvalidArgument):
            a.attach_master("other", "Broker::ROCKSDB")
        clone = b.attach_clone("py-ep", 0.2, 300, 120)
        port = a.listen("127.0.0.1", 0)
        b.peer("127.0.0.1", port, retry=0.1)
        every_operation(clone, master)
        master.put("kept", Count(5))
    with zcluster.Endpoint() as c:
        assert c.attach_master("py-ep", "sqlite", {"path": path}).get("kept") == Count(5)
