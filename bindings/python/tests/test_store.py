"""Stores through the Python binding: a master on the manager node (memory and SQLite),
every operation with native Python values, errors as exceptions, a closed cluster, and a
persistent master in a separate process killed with SIGKILL losing no acknowledged put."""

import datetime
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

import zcluster
from zcluster import _store  # noqa: F401  (attaches Cluster.create_store)

LAYOUT = """redef Cluster::nodes = {
  ["manager"] = [$node_type=Cluster::MANAGER, $ip=127.0.0.1, $p=0/tcp],
  ["worker-1"] = [$node_type=Cluster::WORKER, $ip=127.0.0.1, $p=0/tcp, $manager="manager"],
};
"""


def cluster(node, store_dir):
    layout = zcluster.Layout.parse(LAYOUT, format="zeek")
    return zcluster.Cluster(layout, node=node, options={"Cluster::default_store_dir": str(store_dir)})


def test_master_operations(tmp_path):
    with cluster("manager", tmp_path) as cl:
        info = cl.create_store("ops")
        assert info.name == "ops" and info.master and info.master_node == "manager"
        assert info.backend == "Broker::MEMORY"
        assert info.options == {"sqlite": {"path": str(tmp_path / "ops.sqlite")}}
        assert info.clone_resync_interval == datetime.timedelta(seconds=10)
        assert info.clone_stale_interval == datetime.timedelta(minutes=5)
        assert info.clone_mutation_buffer_interval == datetime.timedelta(minutes=2)
        st = info.store
        st.put("k", 1)
        assert st.get("k") == 1
        st.put(("a", zcluster.Count(2)), {"x": [1.5, None]})
        assert st.get(("a", zcluster.Count(2))) == {"x": [1.5, None]}
        assert st.put_unique("k", 2) is False
        assert st.put_unique("new", 2) is True
        st.increment("k", 5)
        assert st.get("k") == 6
        st.increment("c")
        st.increment("c", zcluster.Count(4))
        st.decrement("c")
        assert st.get("c") == zcluster.Count(4) and isinstance(st.get("c"), zcluster.Count)
        st.append("s", "ab")
        st.append("s", "cd")
        assert st.get("s") == "abcd"
        with pytest.raises(zcluster.TypeMismatch):
            st.increment("s", 1)
        st.insert_into("set", "m")
        assert st.get_index("set", "m") is True
        st.remove_from("set", "m")
        assert st.get("set") == set()
        st.insert_into("tbl", "key", "val")
        assert st.get_index("tbl", "key") == "val"
        st.push("vec", 1)
        st.push("vec", 2)
        st.pop("vec")
        assert st.get("vec") == [1]
        assert st.exists("vec") and not st.exists("nope")
        with pytest.raises(zcluster.NotFound):
            st.get("nope")
        st.erase("vec")
        assert "vec" not in st.keys()
        st.put("tmp", "x", expiry=0.15)
        assert st.exists("tmp")
        deadline = time.time() + 5
        while st.exists("tmp") and time.time() < deadline:
            time.sleep(0.02)
        assert not st.exists("tmp")
        st.clear()
        assert st.keys() == set()
        with pytest.raises(ValueError):
            st.put("k", 1, expiry=-1)
    with pytest.raises(zcluster.ClosedError):
        st.get("k")


def test_bad_names_and_files(tmp_path):
    with cluster("manager", tmp_path) as cl:
        with pytest.raises(zcluster.StoreError):
            cl.create_store("../escape", persistent=True)
        (tmp_path / "corrupt.sqlite").write_bytes(b"not a database " * 20)
        with pytest.raises(zcluster.StoreError) as e:
            cl.create_store("corrupt", persistent=True)
        assert "corrupt.sqlite" in str(e.value)
        assert (tmp_path / "corrupt.sqlite").read_bytes() == b"not a database " * 20
    # A read-only file (refused by its permissions, which root would otherwise ignore).
    with cluster("manager", tmp_path) as cl:
        cl.create_store("ro", persistent=True).store.put("k", "v")
    ro = tmp_path / "ro.sqlite"
    before = ro.read_bytes()
    ro.chmod(0o444)
    try:
        with cluster("manager", tmp_path) as cl:
            with pytest.raises(zcluster.StoreError) as e:
                cl.create_store("ro", persistent=True)
            assert "read-only" in str(e.value) and "ro.sqlite" in str(e.value)
    finally:
        ro.chmod(0o644)
    assert ro.read_bytes() == before
    with cluster("manager", tmp_path) as cl:
        assert cl.create_store("ro", persistent=True).store.get("k") == "v"
    with cluster("manager", tmp_path / "missing" / "dir") as cl:
        with pytest.raises(zcluster.Error) as e:
            cl.create_store("x", persistent=True)
        assert "missing/dir" in str(e.value)


def test_clone_without_master_times_out(tmp_path):
    with cluster("worker-1", tmp_path) as cl:
        info = cl.create_store("remote")
        assert not info.master and info.master_node == "manager"
        with pytest.raises(zcluster.Timeout):
            info.store.get("k", timeout=0.05)


CHILD = textwrap.dedent(
    """
    import sys
    sys.path.insert(0, sys.argv[1])
    import zcluster
    from zcluster import _store
    layout = zcluster.Layout.parse(sys.argv[3], format="zeek")
    cl = zcluster.Cluster(layout, node="manager", options={"Cluster::default_store_dir": sys.argv[2]})
    st = cl.create_store("durable", persistent=True).store
    i = 0
    while True:
        st.put(i, "v%d" % i)
        st.flush()  # put is asynchronous: acknowledged = flushed
        sys.stdout.write("acked %d\\n" % i)
        sys.stdout.flush()
        i += 1
    """
)


def test_sqlite_master_process_killed_loses_no_acked_put(tmp_path):
    pkg = os.path.dirname(os.path.dirname(os.path.abspath(zcluster.__file__)))
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, pkg, str(tmp_path), LAYOUT],
        stdout=subprocess.PIPE,
        text=True,
    )
    acked = []
    try:
        while len(acked) < 100:
            line = child.stdout.readline()
            assert line, "child died"
            acked.append(int(line.split()[1]))
        child.send_signal(signal.SIGKILL)
        for line in child.stdout:
            if line.startswith("acked "):
                acked.append(int(line.split()[1]))
    finally:
        child.kill()
        child.wait()
    with cluster("manager", tmp_path) as cl:
        st = cl.create_store("durable", persistent=True).store
        for i in acked:
            assert st.get(i) == "v%d" % i


def test_stores_table_entry_overrides_the_defaults(tmp_path):
    import sqlite3

    with cluster("manager", tmp_path) as cl:
        path = tmp_path / "custom-file.db"
        cl.set_store_options(
            "tuned",
            backend="Broker::SQLITE",
            path=str(path),
            journal_mode="DELETE",
            synchronous="NORMAL",
            integrity_check=True,
            clone_resync_interval=2,
            clone_stale_interval=datetime.timedelta(seconds=30),
            clone_mutation_buffer_interval="1 min",
        )
        info = cl.create_store("tuned")  # not persistent: the entry's backend still wins
        assert info.backend == "Broker::SQLITE" and info.master
        assert info.options == {"sqlite": {"path": str(path)}}
        assert info.clone_resync_interval == datetime.timedelta(seconds=2)
        assert info.clone_stale_interval == datetime.timedelta(seconds=30)
        assert info.clone_mutation_buffer_interval == datetime.timedelta(minutes=1)
        info.store.put("k", 1)
        # Committed before another SQLite library (Python's) opens the file in this
        # process: two SQLite copies in one process do not see each other's locks.
        info.store.flush()
        # The file uses the rollback journal asked for, not the default WAL.
        with sqlite3.connect(str(path)) as db:
            assert db.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
        default = cl.create_store("plain", persistent=True)
        default.store.put("k", 1)
        default.store.flush()
        with sqlite3.connect(str(tmp_path / "plain.sqlite")) as db:
            assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        with pytest.raises(zcluster.StateError):
            cl.set_store_options("tuned", synchronous="FULL")  # already created
        with pytest.raises(zcluster.NotFound):
            cl.set_store_options("other", speed="fast")
        with pytest.raises(zcluster.InvalidArgument):
            cl.set_store_options("other", synchronous="SOMETIMES")
        with pytest.raises(zcluster.InvalidArgument):
            cl.set_store_options("other", backend="Broker::ROCKSDB")
        with pytest.raises(zcluster.InvalidArgument):
            cl.set_store_options("other", clone_stale_interval="soon")
