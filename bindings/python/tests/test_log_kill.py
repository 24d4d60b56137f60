"""A logger process killed with SIGKILL and restarted, with a worker (this process)
writing the MyProto::LOG stream throughout (issue 14: "a logger killed and restarted;
records written while no logger was up arrive after it comes back").

What zcluster guarantees here, and what this test holds it to:
- Records the logger had written before the kill stay in its file, whole lines only:
  its log worker hands what it wrote to the kernel whenever its queue runs empty, so
  a killed process loses nothing it had taken from its queue (a machine crash is
  another matter: no fsync).
- Records written while no logger is up are kept by the worker (up to
  LOG_BUFFER_LIMIT, then the oldest are dropped and counted in `dropped`) and reach
  the restarted logger, each once.
- Records in flight at the kill (sent, but still in the sockets or the logger's queue)
  can be lost, as with Zeek (Broker has no delivery acknowledgement for logs); the
  test checks that only records of that window are missing and that nothing arrives
  twice.
"""

import os
import signal
import subprocess
import sys
import time

import zcluster
from log_schema import COLUMNS, PATH, STREAM, record
from ports import free_port

HERE = os.path.dirname(os.path.abspath(__file__))
T = 30.0
A, B, C = 1500, 3000, 4500  # on disk before the kill / in flight at it / while down


def layout_text():
    return (
        "redef Cluster::nodes = {\n"
        '\t["logger-1"] = [$node_type=Cluster::LOGGER, $ip=127.0.0.1, $p=%d/tcp],\n'
        '\t["manager"] = [$node_type=Cluster::MANAGER, $ip=127.0.0.1, $p=%d/tcp],\n'
        '\t["worker-1"] = [$node_type=Cluster::WORKER, $ip=127.0.0.1, $p=%d/tcp, $manager="manager"],\n'
        "};\n" % (free_port(), free_port(), free_port())
    )


def seqs(path, live=False):
    """The seq column of every data line of an ASCII log, checking each line is whole.

    live: the logger may be writing right now, so a read can end inside a write that is
    still being copied into the file (a regular file's read is not atomic against a
    concurrent write): the last, partial line is left out instead of failing. Without
    it (after the kill, or once everything is written) a partial line fails the test."""
    if not os.path.exists(path):
        return []
    data = open(path, "rb").read()
    if live:
        data = data[: data.rfind(b"\n") + 1]
    assert data == b"" or data.endswith(b"\n"), "a partial last line: %r" % data[-80:]
    out = []
    for line in data.decode().split("\n"):
        if not line or line.startswith("#"):
            continue
        cells = line.split("\t")
        assert len(cells) == len(COLUMNS), line
        assert cells[1] == "py", line
        out.append(int(cells[2]))
    return out


def start_logger(layout_path, log_dir, env):
    p = subprocess.Popen([sys.executable, os.path.join(HERE, "log_logger.py"), str(layout_path),
                          "logger-1", str(log_dir)], stdout=subprocess.PIPE, env=env)
    assert p.stdout.readline().decode().strip() == "UP"
    return p


def wait(what, f, w):
    deadline = time.time() + T
    while not f():
        assert time.time() < deadline, "timed out waiting for %s: %s" % (what, w.log_stats())
        w.next(0.05)


def test_logger_killed_with_sigkill_and_restarted(tmp_path):
    layout_path = tmp_path / "layout.zeek"
    layout_path.write_text(layout_text())
    dir1, dir2 = tmp_path / "logs1", tmp_path / "logs2"
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [os.path.dirname(HERE), HERE, env.get("PYTHONPATH", "")])
    w = zcluster.Cluster(zcluster.Layout.load(str(layout_path)), "worker-1",
                         {"Cluster::retry_interval": "0.1 secs",
                          "Broker::log_batch_interval": "0.1 secs"})
    procs = []
    try:
        w.create_log_stream(STREAM, PATH, COLUMNS)
        w.start()
        procs.append(start_logger(layout_path, dir1, env))
        wait("logger-1 up", lambda: "logger-1" in w.nodes_up(), w)

        # 1. Records the logger writes before the kill.
        for i in range(A):
            w.log_write(STREAM, record("py", i))
        w.log_flush()
        f1 = str(dir1 / (PATH + ".log"))
        wait("the first records on disk", lambda: len(seqs(f1, live=True)) == A, w)

        # 2. More records, and the logger is killed right after they are sent.
        for i in range(A, B):
            w.log_write(STREAM, record("py", i))
        w.log_flush()
        procs[0].send_signal(signal.SIGKILL)
        assert procs[0].wait(timeout=T) == -signal.SIGKILL
        wait("the worker to see logger-1 go", lambda: "logger-1" not in w.nodes_up(), w)
        on_disk_at_kill = seqs(f1)
        assert on_disk_at_kill[:A] == list(range(A)), "records written before the kill are gone"

        # 3. Records written while no logger is up are kept.
        for i in range(B, C):
            w.log_write(STREAM, record("py", i))
        st = w.log_stats()
        assert st["buffered"] >= C - B and st["dropped"] == 0, st
        time.sleep(0.3)  # the killed logger's file does not change any more
        assert seqs(f1) == on_disk_at_kill

        # 4. The logger comes back (in a fresh directory: a Zeek logger truncates its
        #    files at start, ZeekControl archives them first) and gets what was kept.
        procs.append(start_logger(layout_path, dir2, env))
        f2 = str(dir2 / (PATH + ".log"))
        wait("the kept records on the restarted logger",
             lambda: set(range(B, C)) <= set(seqs(f2, live=True)), w)
        w.log_flush()
        time.sleep(0.5)
        w.next(0.1)
        got1, got2 = seqs(f1), seqs(f2)
        allgot = got1 + got2
        assert len(allgot) == len(set(allgot)), "a record arrived twice"
        missing = set(range(C)) - set(allgot)
        assert missing <= set(range(A, B)), sorted(missing)[:20]
        st = w.log_stats()
        assert st["dropped"] == 0 and st["buffered"] == 0, st
        print("in flight at the kill: %d, lost: %d, written before the kill: %d, "
              "re-sent after the restart: %d" % (B - A, len(missing), len(got1), len(got2)))
    finally:
        w.close()
        for p in procs:
            if p.poll() is None:
                p.kill()
            p.wait()
