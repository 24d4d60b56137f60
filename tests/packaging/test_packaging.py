"""Installing zcluster and using what is installed, the way a user would:

- `make install` into a fresh temporary prefix: the versioned library and its soname,
  only zc_* symbols exported, the header, pkg-config files, the zcluster command;
- a C program built with nothing but `pkg-config --cflags --libs zcluster` (dynamic) and
  `zcluster-static` (static), run against a zcluster node;
- the Python wheel and `pip install ./bindings/python` in a fresh venv (no network, no
  ZCLUSTER_LIB, run outside the checkout), and a publisher/subscriber pair of processes;
- every `zcluster` subcommand against a live two-node cluster, checking output and exit
  codes, bad input included (malformed layout, unreachable peer, bad literal).

Run: python3 -m pytest -q tests/packaging   (ZC_INSTALL_PROFILE=release for an optimised
build; the default dev profile compiles faster).
"""

import json
import os
import pathlib
import re
import signal
import subprocess
import sys
import time
import venv

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "bindings/python/tests"))
from ports import free_port  # noqa: E402

VERSION = re.search(r'^version = "([^"]+)"', (REPO / "Cargo.toml").read_text(), re.M).group(1)
HERE = pathlib.Path(__file__).resolve().parent


def run(cmd, timeout=60, check=False, **kw):
    kw.setdefault("capture_output", True)
    kw.setdefault("text", True)
    p = subprocess.run([str(c) for c in cmd], timeout=timeout, **kw)
    if check and p.returncode != 0:
        raise AssertionError("%s failed (%d):\n%s\n%s" % (cmd, p.returncode, p.stdout, p.stderr))
    return p


@pytest.fixture(scope="session")
def prefix(tmp_path_factory):
    pre = tmp_path_factory.mktemp("prefix")
    profile = os.environ.get("ZC_INSTALL_PROFILE", "dev")
    run(["make", "-C", REPO, "install", "PREFIX=%s" % pre, "PROFILE=%s" % profile], timeout=1800, check=True)
    return pre


@pytest.fixture(scope="session")
def zc(prefix):
    return prefix / "bin" / "zcluster"


def pkgconfig(prefix, *args):
    env = dict(os.environ, PKG_CONFIG_PATH=str(prefix / "lib" / "pkgconfig"))
    return run(["pkg-config", *args], env=env, check=True).stdout.split()


# ---------------------------------------------------------------------------------------
# The installed C library


def test_installed_files_soname_and_exports(prefix):
    lib = prefix / "lib"
    real = lib / ("libzcluster.so.%s" % VERSION)
    assert real.is_file() and not real.is_symlink()
    assert os.readlink(lib / "libzcluster.so.0") == real.name
    assert os.readlink(lib / "libzcluster.so") == "libzcluster.so.0"
    assert (lib / "libzcluster.a").is_file()
    assert (prefix / "include" / "zcluster.h").read_text() == (REPO / "include" / "zcluster.h").read_text()
    dyn = run(["readelf", "-d", real], check=True).stdout
    assert re.search(r"\(SONAME\)\s+Library soname: \[libzcluster\.so\.0\]", dyn), dyn
    syms = run(["nm", "-D", "--defined-only", real], check=True).stdout.split("\n")
    names = [ln.split()[-1] for ln in syms if ln.strip()]
    assert len(names) > 150
    assert [n for n in names if not n.startswith("zc_")] == []
    assert pkgconfig(prefix, "--modversion", "zcluster") == [VERSION]
    assert pkgconfig(prefix, "--cflags", "zcluster") == ["-I%s" % (prefix / "include")]


def two_node_layout(path):
    mp, wp = free_port(), free_port()
    path.write_text(
        "redef Cluster::retry_interval = 0.2 secs;\n"
        "redef Cluster::nodes = {\n"
        '\t["manager"] = [$node_type=Cluster::MANAGER, $ip=127.0.0.1, $p=%d/tcp],\n'
        '\t["worker-1"] = [$node_type=Cluster::WORKER, $ip=127.0.0.1, $p=%d/tcp, $manager="manager"],\n'
        "};\n" % (mp, wp)
    )
    return mp, wp


def wait_for(pred, timeout=20, what="condition"):
    end = time.time() + timeout
    while time.time() < end:
        v = pred()
        if v:
            return v
        time.sleep(0.05)
    raise AssertionError("timed out waiting for " + what)


@pytest.fixture(scope="module")
def cluster2(zc, tmp_path_factory):
    d = tmp_path_factory.mktemp("cluster2")
    layout = d / "cluster-layout.zeek"
    mp, wp = two_node_layout(layout)
    p = run([zc, "cluster", "start", "--layout", layout, "--dir", d, "--detach", "--events", "--store", "kv"],
            timeout=60)
    assert p.returncode == 0, p.stderr
    assert "cluster started: 2 nodes" in p.stdout
    # Both nodes up: each saw the other.
    for n in ("manager", "worker-1"):
        other = "worker-1" if n == "manager" else "manager"
        wait_for(lambda: '"node_up","node":"%s"' % other in (d / ("%s.out" % n)).read_text(), what="node_up")
    yield {"dir": d, "layout": layout, "manager": mp, "worker": wp}
    run([zc, "cluster", "stop", "--dir", d], timeout=60)


@pytest.mark.parametrize("static", [False, True], ids=["dynamic", "static"])
def test_c_program_with_pkg_config_against_a_node(prefix, zc, tmp_path, static):
    exe = tmp_path / "node_client"
    flags = pkgconfig(prefix, "--cflags", "--libs", "zcluster-static" if static else "zcluster")
    run(["cc", "-std=c11", "-Wall", "-Wextra", "-Werror", HERE / "node_client.c", "-o", exe, *flags],
        check=True, timeout=120)
    ldd = run(["ldd", exe], check=True).stdout
    env = dict(os.environ)
    if static:
        assert "libzcluster" not in ldd
    else:
        assert "libzcluster.so.0 => not found" in ldd
        env["LD_LIBRARY_PATH"] = str(prefix / "lib")
        assert "libzcluster.so.0 => %s" % (prefix / "lib" / "libzcluster.so.0") in run(["ldd", exe], env=env).stdout

    layout = tmp_path / "cluster-layout.zeek"
    mp, _ = two_node_layout(layout)
    node = subprocess.Popen([str(zc), "run", "--layout", str(layout), "--node", "manager", "--events",
                             "--dir", str(tmp_path)], stdout=subprocess.PIPE, text=True)
    try:
        first = node.stdout.readline()
        assert json.loads(first)["type"] == "started"
        p = run([exe, "127.0.0.1", mp, "zeek/cluster/manager"], env=env, timeout=60)
        assert p.returncode == 0, p.stdout + p.stderr
        assert "zcluster %s, ABI 1" % VERSION in p.stdout
        assert "received Cluster::hello" in p.stdout
        want = ('"data":[{"@data-type":"string","data":"Test::from_c"},{"@data-type":"vector","data":'
                '[{"@data-type":"string","data":"hello from C"},{"@data-type":"count","data":42}]}]')
        seen = []
        end = time.time() + 10
        while time.time() < end:
            line = node.stdout.readline()
            seen.append(line)
            if want in line:
                break
        assert any(want in ln for ln in seen), seen
    finally:
        node.send_signal(signal.SIGTERM)
        out, _ = node.communicate(timeout=20)
    assert node.returncode == 0
    assert '"type":"stopped"' in out


# ---------------------------------------------------------------------------------------
# The Python package in a fresh venv

PUBSUB = r'''
import sys, time, zcluster
role, port = sys.argv[1], int(sys.argv[2])
assert "/site-packages/zcluster/" in str(zcluster.lib_path), zcluster.lib_path
N = 20000
if role == "sub":
    ep = zcluster.Endpoint()
    ep.subscribe("py/")
    ep.listen("127.0.0.1", port)
    print("listening", flush=True)
    got = []
    for m in ep.messages(timeout=20):
        if m.kind == zcluster.MessageKind.EVENT:
            got.append(m.event)
            if len(got) == N:
                break
    assert [e.args[0] for e in got] == list(range(N)), len(got)
    assert got[-1] == zcluster.Event("Py::ev", [zcluster.Count(N - 1), "payload"])
    print("received", len(got), flush=True)
else:
    ep = zcluster.Endpoint()
    ep.peer("127.0.0.1", port, 0.1)
    while not ep.peer_subscribed("py/x"):
        time.sleep(0.01)
    evs = [zcluster.Event("Py::ev", [zcluster.Count(i), "payload"]) for i in range(N)]
    for i in range(0, N, 1000):
        assert ep.publish_many("py/x", evs[i:i + 1000]) == 1000
    sys.stdin.read()  # until the subscriber has everything (the test closes stdin)
    ep.close()
    print("published", N, flush=True)
'''


def fresh_venv(path):
    venv.EnvBuilder(with_pip=True, clear=True).create(path)
    return path / "bin" / "python"


def pubsub_pair(py, tmp_path):
    script = tmp_path / "pubsub.py"
    script.write_text(PUBSUB)
    env = {k: v for k, v in os.environ.items() if k not in ("ZCLUSTER_LIB", "PYTHONPATH")}
    port = free_port()
    sub = subprocess.Popen([str(py), str(script), "sub", str(port)], stdout=subprocess.PIPE, text=True,
                           cwd=str(tmp_path), env=env)
    try:
        assert sub.stdout.readline().strip() == "listening"
        pub = subprocess.Popen([str(py), str(script), "pub", str(port)], stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, text=True, cwd=str(tmp_path), env=env)
        out, _ = sub.communicate(timeout=60)
        pout, _ = pub.communicate("", timeout=60)
        assert sub.returncode == 0 and pub.returncode == 0
        assert "received 20000" in out and "published 20000" in pout
    finally:
        if sub.poll() is None:
            sub.kill()


def test_wheel_in_a_fresh_venv(prefix, tmp_path):
    wheels = tmp_path / "wheels"
    env = dict(os.environ, ZCLUSTER_PREBUILT_LIB=str(prefix / "lib" / ("libzcluster.so.%s" % VERSION)))
    p = run([sys.executable, "-m", "pip", "wheel", "--no-index", "--no-deps", "-w", wheels, REPO / "bindings/python"],
            env=env, timeout=300, check=True)
    (whl,) = wheels.glob("zcluster-%s-py3-none-*.whl" % VERSION)
    import zipfile

    names = zipfile.ZipFile(whl).namelist()
    for want in ("zcluster/__init__.py", "zcluster/_codec.py", "zcluster/py.typed", "zcluster/libzcluster.so",
                 "zcluster-%s.dist-info/METADATA" % VERSION, "zcluster-%s.dist-info/RECORD" % VERSION):
        assert want in names
    py = fresh_venv(tmp_path / "venv")
    run([py, "-m", "pip", "install", "--no-index", whl], timeout=300, check=True)
    check = run([py, "-c", "import zcluster; print(zcluster.__version__, zcluster.lib_path)"], cwd=tmp_path,
                env={k: v for k, v in os.environ.items() if k not in ("ZCLUSTER_LIB", "PYTHONPATH")}, check=True)
    assert check.stdout.startswith(VERSION + " " + str(tmp_path / "venv"))
    pubsub_pair(py, tmp_path)


def test_pip_install_of_the_directory_builds_the_library(tmp_path):
    # The cargo path of the build backend: the dev profile reuses the test command's build.
    py = fresh_venv(tmp_path / "venv")
    env = dict(os.environ, ZCLUSTER_CARGO_PROFILE="dev")
    env.pop("ZCLUSTER_PREBUILT_LIB", None)
    run([py, "-m", "pip", "install", "--no-index", REPO / "bindings/python"], env=env, timeout=900, check=True)
    installed = run([py, "-c", "import zcluster, sys; print(zcluster.lib_path)"], cwd=tmp_path,
                    env={k: v for k, v in os.environ.items() if k not in ("ZCLUSTER_LIB", "PYTHONPATH")},
                    check=True).stdout.strip()
    assert installed.startswith(str(tmp_path / "venv"))
    pubsub_pair(py, tmp_path)


# ---------------------------------------------------------------------------------------
# The zcluster command against a live two-node cluster

SUBCOMMANDS = [
    [], ["run"], ["cluster"], ["cluster", "start"], ["cluster", "status"], ["cluster", "stop"],
    ["cluster", "demo"], ["layout"], ["layout", "check"], ["layout", "show"], ["layout", "convert"],
    ["publish"], ["subscribe"], ["status"], ["store"], ["store", "get"], ["store", "put"],
    ["store", "erase"], ["store", "keys"], ["store", "size"], ["options"],
]


@pytest.mark.parametrize("sub", SUBCOMMANDS, ids=lambda s: " ".join(s) or "zcluster")
def test_help(zc, sub):
    p = run([zc, *sub, "--help"])
    assert p.returncode == 0
    assert "Usage: zcluster" in p.stdout
    assert "EXIT CODES:" in p.stdout and "4  a peer could not be reached" in p.stdout


def test_usage_errors_exit_2(zc):
    assert run([zc]).returncode == 2
    assert run([zc, "nonsense"]).returncode == 2
    assert run([zc, "publish", "--to", "127.0.0.1:1"]).returncode == 2
    assert run([zc, "--version"]).stdout.strip() == "zcluster " + VERSION


def test_layout_subcommands(zc, tmp_path):
    fx = REPO / "tests/fixtures/layouts"
    p = run([zc, "layout", "check", fx / "node.cfg"])
    assert p.returncode == 0 and "ok (node.cfg layout, 8 nodes: 1 manager, 1 logger, 2 proxy, 3 worker)" in p.stdout
    p = run([zc, "layout", "convert", fx / "node.cfg", "--to", "zeek"])
    assert p.returncode == 0
    assert p.stdout == (fx / "zeekctl-cluster-layout.zeek").read_text()
    p = run([zc, "layout", "convert", fx / "node.cfg", "--to", "zeek", "--no-websocket", "--zeek-port", "47760",
             "--cluster-backend", "Broker", "--metrics-port", "0"])
    assert '["control"] = [$node_type=Cluster::CONTROL, $ip=127.0.0.1, $p=47760/tcp],' in p.stdout
    assert "metrics_port" not in p.stdout and "listen_websocket" not in p.stdout
    out = tmp_path / "l.json"
    assert run([zc, "layout", "convert", fx / "cluster-layout.bro", "--to", "json", "-o", out]).returncode == 0
    assert "worker-1" in json.loads(out.read_text())["nodes"]
    p = run([zc, "layout", "show", out])
    assert p.returncode == 0
    assert re.search(r"^worker-1\s+WORKER\s+127\.0\.0\.1\s+47764/tcp\s+manager\s+eth0$", p.stdout, re.M), p.stdout
    p = run([zc, "layout", "convert", fx / "node.cfg", "--to", "node.cfg"])
    assert "[worker-1]\ntype=worker\nhost=localhost\ninterface=eth0\nlb_method=pf_ring\nlb_procs=2\n" in p.stdout
    # Malformed layout: exit 3, file:line:col.
    bad = tmp_path / "bad.zeek"
    bad.write_text('redef Cluster::nodes = {\n\t["w"] = [$node_type=Cluster::WRK, $ip=1.2.3.4],\n};\n')
    for cmd in (["layout", "check", bad], ["layout", "show", bad], ["layout", "convert", bad, "--to", "json"],
                ["run", "--layout", bad, "--node", "w"], ["cluster", "start", "--layout", bad, "--dir", tmp_path / "c"]):
        p = run([zc, *cmd])
        assert p.returncode == 3, (cmd, p.stderr)
        assert p.stderr.startswith("zcluster: %s:2:22: unknown node type Cluster::WRK" % bad), p.stderr
    p = run([zc, "layout", "check", tmp_path / "missing.zeek"])
    assert p.returncode == 6 and "cannot read layout" in p.stderr


def test_cluster_status(zc, cluster2):
    p = run([zc, "cluster", "status", "--dir", cluster2["dir"]])
    assert p.returncode == 0, p.stderr
    assert re.search(r"^manager\s+MANAGER\s+\d+\s+%d\s+running$" % cluster2["manager"], p.stdout, re.M), p.stdout
    assert re.search(r"^worker-1\s+WORKER\s+\d+\s+%d\s+running$" % cluster2["worker"], p.stdout, re.M)
    j = json.loads(run([zc, "cluster", "status", "--dir", cluster2["dir"], "--json"], check=True).stdout)
    assert sorted(n["name"] for n in j["nodes"]) == ["manager", "worker-1"]
    assert all(n["running"] for n in j["nodes"])
    p = run([zc, "cluster", "status", "--dir", cluster2["dir"] / "nothing"])
    assert p.returncode == 6


def test_publish_literals_reach_the_node(zc, cluster2):
    to = "127.0.0.1:%d" % cluster2["worker"]
    p = run([zc, "publish", "--to", to, "zeek/cluster/worker", "Cli::ev", "42", '"x"', "10.0.0.1", "80/tcp",
             "-3", "1.5", "T", "5s", "10.0.0.0/8", "Cli::ENUM", '{"@data-type":"vector","data":[]}'])
    assert p.returncode == 0, p.stderr
    assert p.stdout == ""
    want = ('{"type":"data-message","topic":"zeek/cluster/worker","@data-type":"vector","data":['
            '{"@data-type":"count","data":1},{"@data-type":"count","data":1},{"@data-type":"vector","data":['
            '{"@data-type":"string","data":"Cli::ev"},{"@data-type":"vector","data":['
            '{"@data-type":"count","data":42},{"@data-type":"string","data":"x"},'
            '{"@data-type":"address","data":"10.0.0.1"},{"@data-type":"port","data":"80/tcp"},'
            '{"@data-type":"integer","data":-3},{"@data-type":"real","data":1.500000},'
            '{"@data-type":"boolean","data":true},{"@data-type":"timespan","data":"5s"},'
            '{"@data-type":"subnet","data":"10.0.0.0/8"},{"@data-type":"enum-value","data":"Cli::ENUM"},'
            '{"@data-type":"vector","data":[]}]}]}]}')
    out = cluster2["dir"] / "worker-1.out"
    wait_for(lambda: want in out.read_text(), what="the event in the worker's output")
    # JSON lines from stdin (what subscribe prints), re-published on the given topic.
    line = want.replace('"Cli::ev"', '"Cli::piped"')
    p = run([zc, "publish", "--to", to, "zeek/cluster/node/worker-1/"], input=line + "\n" + line + "\n")
    assert p.returncode == 0, p.stderr
    wait_for(lambda: out.read_text().count('"Cli::piped"') == 2, what="piped events")
    # --count
    assert run([zc, "publish", "--to", to, "zeek/cluster/worker", "Cli::many", "--count", "50"]).returncode == 0
    wait_for(lambda: out.read_text().count('"Cli::many"') == 50, what="50 events")


def test_publish_bad_input(zc, cluster2, tmp_path):
    to = "127.0.0.1:%d" % cluster2["worker"]
    out = cluster2["dir"] / "worker-1.out"
    before = out.read_text()
    for lit in ("hello", '"open', "80/xyz", "99999/tcp", "1.2.3", "{bad"):
        p = run([zc, "publish", "--to", to, "zeek/cluster/worker", "Cli::bad", lit])
        assert p.returncode == 3, (lit, p.stderr)
        assert p.stderr.startswith("zcluster: bad literal '%s'" % lit), p.stderr
    p = run([zc, "publish", "--to", to, "zeek/cluster/worker"], input='{"type":"data-message"\n')
    assert p.returncode == 3 and "stdin:1:" in p.stderr
    # Unreachable peer, bad target, WebSocket URL (not in this build), nobody subscribed.
    dead = free_port()
    p = run([zc, "publish", "--to", "127.0.0.1:%d" % dead, "t", "Cli::x", "1"])
    assert p.returncode == 4 and "cannot reach 127.0.0.1:%d" % dead in p.stderr
    p = run([zc, "publish", "--to", "nohostport", "t", "Cli::x"])
    assert p.returncode == 3
    p = run([zc, "publish", "--to", "ws://127.0.0.1:%d/v1/messages/json" % dead, "t", "Cli::x"])
    assert p.returncode == 4 and "cannot reach" in p.stderr
    p = run([zc, "publish", "--to", "wss://127.0.0.1:%d/v1/messages/json" % dead, "t", "Cli::x"])
    assert p.returncode == 4 and "cannot reach" in p.stderr
    p = run([zc, "publish", "--to", to, "nobody/listens", "Cli::x", "--timeout", "0.5"])
    assert p.returncode == 5 and "does not subscribe to 'nobody/listens'" in p.stderr
    time.sleep(0.3)
    assert "Cli::bad" not in out.read_text()[len(before):]


def test_subscribe(zc, cluster2):
    to = "127.0.0.1:%d" % cluster2["manager"]
    # The manager greets every new peer with Cluster::hello on that peer's nodeid topic.
    p = run([zc, "subscribe", "--to", to, "zeek/cluster/nodeid/", "--count", "1", "--timeout", "10"])
    assert p.returncode == 0, p.stderr
    (line,) = p.stdout.splitlines()
    msg = json.loads(line)
    assert msg["type"] == "data-message" and msg["topic"].startswith("zeek/cluster/nodeid/")
    content = msg["data"][2]["data"]
    assert content[0] == {"@data-type": "string", "data": "Cluster::hello"}
    assert content[1]["data"][0] == {"@data-type": "string", "data": "manager"}
    # Nothing on a topic: --timeout ends it, exit 5 with --count, 0 without.
    p = run([zc, "subscribe", "--to", to, "quiet/", "--count", "1", "--timeout", "0.5"])
    assert p.returncode == 5 and "0 of 1 events" in p.stderr and p.stdout == ""
    assert run([zc, "subscribe", "--to", to, "quiet/", "--timeout", "0.3"]).returncode == 0
    p = run([zc, "subscribe", "--to", "127.0.0.1:%d" % free_port(), "x/", "--count", "1"])
    assert p.returncode == 4
    # SIGINT ends a subscription cleanly.
    s = subprocess.Popen([str(zc), "subscribe", "--to", to, "quiet/"], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    time.sleep(0.5)
    s.send_signal(signal.SIGINT)
    s.communicate(timeout=10)
    assert s.returncode == 0


def test_status(zc, cluster2):
    to = "127.0.0.1:%d" % cluster2["worker"]
    p = run([zc, "status", "--to", to])
    assert p.returncode == 0, p.stderr
    assert "node worker-1 (answers Zeek's Control framework)" in p.stdout
    assert "  zeek/cluster/worker\n" in p.stdout
    assert re.search(r"^peers \(2\):$", p.stdout, re.M), p.stdout  # the manager and us
    assert "net_stats: recvd=0 dropped=0 link=0" in p.stdout
    j = json.loads(run([zc, "status", "--to", to, "--json"], check=True).stdout)
    assert j["node"] == "worker-1" and j["cluster_node"] is True and j["port"] == cluster2["worker"]
    assert "zeek/cluster/node/worker-1/" in j["subscriptions"]
    assert j["peers"] and all(peer["status"] and peer["host"] == "127.0.0.1" for peer in j["peers"])
    assert run([zc, "status", "--to", "127.0.0.1:%d" % free_port()]).returncode == 4


def test_run_errors(zc, cluster2):
    p = run([zc, "run", "--layout", cluster2["layout"], "--node", "nope"])
    assert p.returncode == 6, p.stderr
    env = {k: v for k, v in os.environ.items() if k != "CLUSTER_NODE"}
    p = run([zc, "run", "--layout", cluster2["layout"]], env=env)
    assert p.returncode == 6 and "give --node NAME or set CLUSTER_NODE" in p.stderr
    # Its port is taken by the running manager.
    p = run([zc, "run", "--layout", cluster2["layout"], "--node", "manager"])
    assert p.returncode == 1 and "listen" in p.stderr


def test_cluster_foreground_and_stop(zc, tmp_path):
    layout = tmp_path / "cluster-layout.zeek"
    two_node_layout(layout)
    d = tmp_path / "fg"
    fg = subprocess.Popen([str(zc), "cluster", "start", "--layout", str(layout), "--dir", str(d)],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        lines = []
        while True:
            line = fg.stdout.readline()
            assert line, "".join(lines)
            lines.append(line)
            if line.startswith("cluster started"):
                break
        assert any(re.match(r"\[manager\s*\] \{\"type\":\"started\"", ln) for ln in lines)
        assert run([zc, "cluster", "status", "--dir", d]).returncode == 0
        # Another start on the same directory is refused.
        p = run([zc, "cluster", "start", "--layout", layout, "--dir", d])
        assert p.returncode == 1 and "already running" in p.stderr
        # `cluster stop` from elsewhere stops the nodes and the supervisor.
        p = run([zc, "cluster", "stop", "--dir", d], timeout=60)
        assert p.returncode == 0 and "stopped 2 of 2 nodes" in p.stdout
        out, _ = fg.communicate(timeout=30)
        assert fg.returncode == 0
        assert '"type":"stopped"' in out
        assert "cluster stopped" in out
        assert run([zc, "cluster", "status", "--dir", d]).returncode == 6
    finally:
        if fg.poll() is None:
            fg.kill()
        run([zc, "cluster", "stop", "--dir", d])


def test_cluster_stop_and_node_exit_seen_by_status(zc, tmp_path):
    layout = tmp_path / "cluster-layout.zeek"
    two_node_layout(layout)
    d = tmp_path / "bg"
    assert run([zc, "cluster", "start", "--layout", layout, "--dir", d, "--detach"]).returncode == 0
    try:
        pid = next(n["pid"] for n in json.loads((d / "cluster.json").read_text())["nodes"] if n["name"] == "worker-1")
        mout = d / "manager.out"
        wait_for(lambda: '"type":"node_up","node":"worker-1"' in mout.read_text(), what="node_up")
        # SIGTERM: the worker says goodbye (Broker's BYE), and the manager sees it down.
        os.kill(pid, signal.SIGTERM)
        wait_for(lambda: run([zc, "cluster", "status", "--dir", d]).returncode == 4, what="status exit 4")
        assert '"type":"stopped"' in (d / "worker-1.out").read_text()
        wait_for(lambda: '"type":"node_down","node":"worker-1"' in mout.read_text(), what="node_down")
        assert "the peer said goodbye" in mout.read_text()
        p = run([zc, "cluster", "status", "--dir", d])
        assert "1 of 2 nodes not running: worker-1" in p.stderr
        assert re.search(r"^worker-1\s+WORKER\s+\d+\s+\d+\s+stopped$", p.stdout, re.M)
        # Zeek's Control framework stops the manager: Control::shutdown_request on its
        # control topic (what `zeekctl stop` sends).
        mport = next(n["port"] for n in json.loads((d / "cluster.json").read_text())["nodes"]
                     if n["name"] == "manager")
        st = json.loads(run([zc, "status", "--to", "127.0.0.1:%d" % mport, "--json"], check=True).stdout)
        p = run([zc, "publish", "--to", "127.0.0.1:%d" % mport, "zeek/control/%s" % st["id"],
                 "Control::shutdown_request"])
        assert p.returncode == 0, p.stderr
        wait_for(lambda: '"reason":"Control::shutdown_request"' in mout.read_text(), what="shutdown")
        wait_for(lambda: '"type":"stopped"' in mout.read_text(), what="stopped")
    finally:
        p = run([zc, "cluster", "stop", "--dir", d], timeout=60)
    assert p.returncode == 0 and "stopped 0 of 2 nodes" in p.stdout


def test_store(zc, cluster2):
    to = "127.0.0.1:%d" % cluster2["manager"]  # the manager holds the master
    st = [zc, "store"]
    assert run([*st, "put", "--to", to, "kv", '"a"', "42"]).returncode == 0
    assert run([*st, "put", "--to", to, "kv", "10.0.0.1", '{"@data-type":"vector","data":[]}',
                "--expiry", "600"]).returncode == 0
    p = run([*st, "get", "--to", to, "kv", '"a"'])
    assert p.returncode == 0 and p.stdout == '{"@data-type":"count","data":42}\n'
    p = run([*st, "get", "--to", to, "kv", "10.0.0.1"])
    assert p.stdout == '{"@data-type":"vector","data":[]}\n'
    p = run([*st, "keys", "--to", to, "kv"])
    assert p.returncode == 0
    assert sorted(p.stdout.splitlines()) == sorted(['{"@data-type":"string","data":"a"}',
                                                    '{"@data-type":"address","data":"10.0.0.1"}'])
    assert run([*st, "size", "--to", to, "kv"]).stdout == "2\n"
    # Store sizes in status.
    j = json.loads(run([zc, "status", "--to", to, "--store", "kv", "--json"], check=True).stdout)
    assert j["stores"] == {"kv": 2}
    assert "  kv 2 keys" in run([zc, "status", "--to", to, "--store", "kv"]).stdout
    # Erase; a missing key is exit 6; a store without a master is exit 5; bad literals exit 3.
    assert run([*st, "erase", "--to", to, "kv", '"a"']).returncode == 0
    p = run([*st, "get", "--to", to, "kv", '"a"'])
    assert p.returncode == 6 and "no such key" in p.stderr
    assert run([*st, "erase", "--to", to, "kv", '"a"']).returncode == 6
    p = run([*st, "get", "--to", to, "nostore", '"a"', "--timeout", "1"])
    assert p.returncode == 5 and "no master answered" in p.stderr
    assert run([zc, "status", "--to", to, "--store", "nostore", "--timeout", "1"]).returncode == 5
    p = run([*st, "put", "--to", to, "kv", '"c"', "oops"])
    assert p.returncode == 3 and "bad literal 'oops'" in p.stderr
    assert run([*st, "put", "--to", to, "kv", '"c"', "1", "--expiry", "-1"]).returncode == 3
    assert run([*st, "get", "--to", "127.0.0.1:%d" % free_port(), "kv", '"a"']).returncode == 4
    assert run([*st, "keys", "--to", "ws://127.0.0.1:1/v1/messages/json", "kv"]).returncode == 7
    assert run([*st, "keys", "--to", "wss://127.0.0.1:1/v1/messages/json", "kv"]).returncode == 7


def test_publish_and_subscribe_over_zeeks_websocket_api(zc, tmp_path):
    mp, wp = free_port(), free_port()
    layout = tmp_path / "cluster-layout.zeek"
    layout.write_text(
        "redef Cluster::nodes = {\n"
        '\t["manager"] = [$node_type=Cluster::MANAGER, $ip=127.0.0.1, $p=%d/tcp],\n'
        "};\n\nevent zeek_init()\n\t{\n"
        '\tif ( getenv("ZEEKCTL_DISABLE_LISTEN") == "" && (Cluster::local_node_type() == Cluster::MANAGER '
        "|| ! Cluster::is_enabled()) )\n\t\t{\n"
        "\t\tCluster::listen_websocket([$listen_addr=127.0.0.1, $listen_port=%d/tcp]);\n\t\t}\n\t}\n" % (mp, wp)
    )
    url = "ws://127.0.0.1:%d/v1/messages/json" % wp
    node = subprocess.Popen([str(zc), "run", "--layout", str(layout), "--node", "manager", "--events",
                             "--dir", str(tmp_path)], stdout=subprocess.PIPE, text=True)
    try:
        assert json.loads(node.stdout.readline())["type"] == "started"
        wait_for(lambda: run([zc, "publish", "--to", url, "nobody/", "Cli::probe"]).returncode == 0, what="ws up")
        sub = subprocess.Popen([str(zc), "subscribe", "--to", url, "cli/", "--count", "1", "--timeout", "20"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(1)
        p = run([zc, "publish", "--to", url, "cli/x", "Cli::relay", "2"])
        assert p.returncode == 0, p.stderr
        out, err = sub.communicate(timeout=30)
        assert sub.returncode == 0, err
        assert '"data":"Cli::relay"' in out and '"topic":"cli/x"' in out
        assert run([zc, "publish", "--to", url, "zeek/cluster/manager", "Cli::ws", "1"]).returncode == 0
        seen = []
        end = time.time() + 10
        while time.time() < end:
            line = node.stdout.readline()
            seen.append(line)
            if '"data":"Cli::ws"' in line:
                break
        assert any('"data":"Cli::ws"' in ln for ln in seen)
        assert run([zc, "store", "get", "--to", url, "kv", "1"]).returncode == 7
        assert run([zc, "status", "--to", url]).returncode == 7
    finally:
        node.send_signal(signal.SIGTERM)
        node.communicate(timeout=20)
