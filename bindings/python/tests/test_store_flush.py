"""Store.flush(): a SQLite master's puts are committed by its storage thread in groups;
flush() waits until every earlier write is on disk, so a process killed with SIGKILL
right after it loses none of them. Memory masters flush at once; a closed store raises."""

import datetime
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap

import pytest

import zcluster
from zcluster import _store  # noqa: F401  (attaches Cluster.create_store)

LAYOUT = """redef Cluster::nodes = {
  ["manager"] = [$node_type=Cluster::MANAGER, $ip=127.0.0.1, $p=0/tcp],
};
"""

N = 20000

CHILD = textwrap.dedent(
    """
    import sys, time
    sys.path.insert(0, sys.argv[1])
    import zcluster
    from zcluster import _store
    layout = zcluster.Layout.parse(sys.argv[3], format="zeek")
    cl = zcluster.Cluster(layout, node="manager", options={"Cluster::default_store_dir": sys.argv[2]})
    st = cl.create_store("flushed", persistent=True).store
    n = int(sys.argv[4])
    for i in range(n):
        st.put(i, "v%d" % i)
    st.flush()
    sys.stdout.write("flushed\\n")
    sys.stdout.flush()
    # Keep the storage thread busy with writes nobody waits for until the kill.
    for i in range(n, 10 * n):
        st.put(i, "v%d" % i)
    time.sleep(60)
    """
)


def cluster(store_dir):
    layout = zcluster.Layout.parse(LAYOUT, format="zeek")
    return zcluster.Cluster(layout, node="manager", options={"Cluster::default_store_dir": str(store_dir)})


def test_kill_9_right_after_flush_loses_no_write(tmp_path):
    pkg = os.path.dirname(os.path.dirname(os.path.abspath(zcluster.__file__)))
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, pkg, str(tmp_path), LAYOUT, str(N)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        line = child.stdout.readline()
        assert line == "flushed\n", "child died before flushing: %r" % line
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
    finally:
        child.kill()
        child.wait()
    assert child.returncode == -signal.SIGKILL
    path = tmp_path / "flushed.sqlite"
    # The file as SQLite sees it after the crash (the WAL is replayed on open).
    with sqlite3.connect(str(path)) as db:
        rows = db.execute("select count(*) from store").fetchone()[0]
    assert rows >= N
    # And through a new master on the file: every flushed key with its value.
    with cluster(tmp_path) as cl:
        st = cl.create_store("flushed", persistent=True).store
        for i in range(N):
            assert st.get(i) == "v%d" % i


def test_flush_memory_sqlite_and_closed(tmp_path):
    cl = cluster(tmp_path)
    mem = cl.create_store("mem").store
    mem.put("k", 1)
    mem.flush()
    mem.flush(timeout=0)
    disk = cl.create_store("disk", persistent=True).store
    for i in range(1000):
        disk.put(i, i)
    assert disk.get(999) == 999  # read-your-writes before the commit
    disk.flush(timeout=datetime.timedelta(seconds=30))
    disk.flush(timeout=5.0)
    with pytest.raises(ValueError):
        disk.flush(timeout=-1)
    with sqlite3.connect(str(tmp_path / "disk.sqlite")) as db:
        assert db.execute("select count(*) from store").fetchone()[0] == 1000
    cl.close()
    with pytest.raises(zcluster.ClosedError):
        disk.flush()
    with pytest.raises(zcluster.ClosedError):
        mem.flush(timeout=1)
