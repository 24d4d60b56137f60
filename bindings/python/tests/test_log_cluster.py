"""Zeek logging across separate processes: a C worker (c-tests/test_log.c --worker) and a
Python worker (log_worker.py) write the MyProto::LOG stream with every column type to a
logger (this process). The logger's myproto.log and cluster.log are read back with the
PyPI readers parsezeeklogs and zat, and every value is compared; the same in JSON
(LogAscii::use_json). Both on Broker (LogCreate / LogWrite batches over the peerings) and
on ZeroMQ (zeek-bin-serializer log-write batches PUSHed to the logger's PULL; the nodes
find each other through a standalone XPUB/XSUB proxy this process runs). Also: the
Python API's errors name the column.
"""

import datetime
import os
import subprocess
import sys
import time

import pytest

import zcluster
from conftest import REPO
from log_schema import COLUMNS, PATH, STREAM, expected, record
from ports import free_port
from zmq_layout import standalone_proxy, zeromq_redefs

HERE = os.path.dirname(os.path.abspath(__file__))
C_WORKER = REPO / "c-tests" / "build" / "test_log"
N = 500
T = 30.0


def layout_text(zeromq=None):
    """`zeromq`: (xpub, xsub) ports of the standalone proxy the test runs."""
    lines = []
    if zeromq:
        lines += zeromq_redefs(zeromq) + [
            "redef Log::flush_interval = 0.1 secs;",
            # As ZeekControl writes it for a cluster with loggers; with T the workers
            # would also PUSH to the manager (not running here), as Zeek's do.
            "redef Cluster::manager_is_logger = F;",
        ]
    lines.append("redef Cluster::nodes = {")
    lines.append('\t["logger-1"] = [$node_type=Cluster::LOGGER, $ip=127.0.0.1, $p=%d/tcp],' % free_port())
    lines.append('\t["manager"] = [$node_type=Cluster::MANAGER, $ip=127.0.0.1, $p=%d/tcp],' % free_port())
    for w in ("worker-1", "worker-2"):
        lines.append('\t["%s"] = [$node_type=Cluster::WORKER, $ip=127.0.0.1, $p=%d/tcp, $manager="manager"],'
                     % (w, free_port()))
    lines.append("};")
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def c_worker():
    # scripts/test.sh builds the C harness first; build just this program otherwise.
    subprocess.run(["make", "-s", "-C", str(REPO / "c-tests"), "build/test_log"], check=True)
    assert C_WORKER.exists()
    return C_WORKER


@pytest.fixture(params=["broker", "zeromq"])
def backend(request):
    """None on Broker; on ZeroMQ the (xpub, xsub) ports of a running standalone proxy."""
    if request.param == "broker":
        yield None
        return
    with standalone_proxy() as ports:
        yield ports


def run_cluster(tmp_path, c_worker, use_json, zeromq=None):
    layout_path = tmp_path / "layout.zeek"
    layout_path.write_text(layout_text(zeromq))
    log_dir = tmp_path / "logs"
    log_dir.mkdir()
    lg = zcluster.Cluster(zcluster.Layout.load(str(layout_path)), "logger-1",
                          {"Cluster::retry_interval": "0.1 secs", "LogAscii::use_json": use_json})
    assert lg.backend == ("ZeroMQ" if zeromq else "Broker")
    lg.start(log_dir)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO / "bindings" / "python"), HERE, env.get("PYTHONPATH", "")])
    procs = [
        subprocess.Popen([str(c_worker), "--worker", str(layout_path), "worker-1", str(N)],
                         stdout=subprocess.PIPE, env=env),
        subprocess.Popen([sys.executable, os.path.join(HERE, "log_worker.py"), str(layout_path), "worker-2", str(N)],
                         stdout=subprocess.PIPE, env=env),
    ]
    try:
        for p in procs:
            out, _ = p.communicate(timeout=T)
            assert p.returncode == 0, out
            assert out.decode().strip() == "WROTE %d" % N
        deadline = time.time() + T
        while lg.log_stats()["records"] < 2 * N + 2:
            assert time.time() < deadline, str(lg.log_stats())
            lg.next(0.1)
        stats = lg.log_stats()
        assert stats["dropped_no_create"] == 0 and stats["dropped_malformed"] == 0, stats
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
        lg.close()  # writes #close
    return log_dir


def check_parsezeeklogs(log_dir):
    from parsezeeklogs import read_zeek

    rows = list(read_zeek(str(log_dir / "myproto.log")))
    assert len(rows) == 2 * N
    by = {}
    for r in rows:
        by.setdefault(r["worker"], []).append(r)
    for who in ("c", "py"):
        got = sorted(by[who], key=lambda r: r["seq"])
        assert [r["seq"] for r in got] == list(range(N))
        for i, r in enumerate(got):
            want = expected(who, i)
            # JSON leaves unset fields out; TSV gives None.
            r = {k: r.get(k) for k in want}
            assert r == want, (who, i)
    cl = list(read_zeek(str(log_dir / "cluster.log")))
    assert {r["message"] for r in cl} >= {"c worker done", "py worker done"}
    assert {r["node"] for r in cl if r["message"].endswith("worker done")} == {"worker-1", "worker-2"}


def zat_value(v, ty):
    """What zat's reader gives for a value of Zeek type `ty` (it does not undo escapes
    and keeps containers as text)."""
    if v is None:
        return {"bool": False, "count": 0, "int": 0, "port": 0, "double": 0.0,
                "time": datetime.datetime.fromtimestamp(86400),
                "interval": datetime.timedelta(0)}.get(ty, "-")
    if ty == "time":
        return datetime.datetime.fromtimestamp(v)
    if ty == "interval":
        return datetime.timedelta(seconds=v)
    if ty.startswith(("set[", "vector[")):
        return ",".join(str(e) for e in v) if v else "(empty)"
    if ty == "string":
        return v.replace("\t", "\\x09")
    return v


def test_c_and_python_workers_to_an_ascii_logger_read_back_with_zat_and_parsezeeklogs(tmp_path, c_worker, backend):
    log_dir = run_cluster(tmp_path, c_worker, False, backend)
    text = (log_dir / "myproto.log").read_text()
    assert text.startswith("#separator \\x09\n")
    assert "#path\tmyproto\n" in text and text.rstrip("\n").split("\n")[-1].startswith("#close\t")
    check_parsezeeklogs(log_dir)
    from zat.zeek_log_reader import ZeekLogReader

    types = {c[0]: c[1] for c in COLUMNS}
    rows = list(ZeekLogReader(str(log_dir / "myproto.log")).readrows())
    assert len(rows) == 2 * N
    for r in rows:
        who, i = r["worker"], r["seq"]
        want = {k: zat_value(v, types[k]) for k, v in expected(who, i).items()}
        assert r == want, (who, i)
    cl = list(ZeekLogReader(str(log_dir / "cluster.log")).readrows())
    assert any(r["message"] == "py worker done" and r["node"] == "worker-2" for r in cl)


def test_c_and_python_workers_to_a_json_logger(tmp_path, c_worker, backend):
    log_dir = run_cluster(tmp_path, c_worker, True, backend)
    first = (log_dir / "myproto.log").read_text().split("\n")[0]
    assert first.startswith('{"ts":') and '"note"' not in first  # seq 0 has note unset
    check_parsezeeklogs(log_dir)


def test_python_log_api_errors_name_the_column(tmp_path):
    layout_path = tmp_path / "layout.zeek"
    layout_path.write_text(layout_text())
    w = zcluster.Cluster(zcluster.Layout.load(str(layout_path)), "worker-1",
                         {"Cluster::retry_interval": "0.1 secs"})
    try:
        w.create_log_stream(STREAM, PATH, COLUMNS)
        w.create_log_stream(STREAM, PATH, COLUMNS)  # the same again is fine
        with pytest.raises(zcluster.StateError):
            w.create_log_stream(STREAM, PATH, COLUMNS[:3])
        with pytest.raises(zcluster.InvalidArgument):
            w.create_log_stream("X::LOG", "x", [("a", "table[string]")])
        with pytest.raises(zcluster.StateError):
            w.log_write(STREAM, record("py", 1))  # not started
        w.start()
        w.log_write(STREAM, record("py", 1))
        bad = record("py", 1)
        bad["seq"] = "seven"
        with pytest.raises(zcluster.TypeMismatch, match='column "seq"'):
            w.log_write(STREAM, bad)
        bad = record("py", 1)
        del bad["ts"]
        with pytest.raises(zcluster.InvalidArgument, match='column "ts" is required'):
            w.log_write(STREAM, bad)
        bad = record("py", 1)
        bad["nope"] = 1
        with pytest.raises(zcluster.InvalidArgument, match="no column 'nope'"):
            w.log_write(STREAM, bad)
        with pytest.raises(zcluster.NotFound):
            w.log_write("Nope::LOG", [1])
        s = w.log_stats()
        assert s["buffered"] >= 1 and s["dropped"] == 0  # no logger: kept
    finally:
        w.close()
