#!/usr/bin/env python3
"""One-way throughput between two Python processes: zcluster's batches (publish_many /
next_many) against pyzmq (PUSH/PULL, send_multipart-free single frames) in the same run.

    python3 bench/python_bench.py [N] [--batch B] [--only zcluster|pyzmq]

Modes (each its own pair of processes, loopback TCP):
- zcluster-bytes: 64-byte Broker values (a string), pre-encoded, publish_many batches;
  the receiver takes next_many batches and touches every message's data (as pyzmq's
  receiver does with its frames);
- zcluster-events: zcluster.Event("Bench::ev", [Count(i), 40-byte string]) objects,
  encoded in Python by publish_many; the receiver decodes every `.event`;
- pyzmq: 64-byte messages, PUSH -> PULL, send(copy=False) / recv() per message (pyzmq
  has no batch call; its per-message calls are cheap).
The rate is messages / (time from the first to the last message at the receiver).
Needs the library built (cargo build --release --lib; used through ZCLUSTER_LIB unless that
is set); pyzmq optional.
"""

import os
import socket
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "bindings", "python"))
# The optimised library (cargo build --release --lib) unless ZCLUSTER_LIB says otherwise
# (an installed package ignores this: it carries its own).
_REL = os.path.join(HERE, "..", "target", "release", "libzcluster.so")
if "ZCLUSTER_LIB" not in os.environ and os.path.exists(_REL):
    os.environ["ZCLUSTER_LIB"] = os.path.abspath(_REL)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def zc_sub(port, n, mode, batch):
    import zcluster

    ep = zcluster.Endpoint({"inbox_capacity": 262144})
    ep.subscribe("bench/")
    ep.listen("127.0.0.1", port)
    print("ready", flush=True)
    got = 0
    t0 = None
    size = 0
    EVENT = zcluster.MessageKind.EVENT
    while got < n:
        msgs = ep.next_many(batch, 30)
        if not msgs:
            raise SystemExit("receiver: timed out after %d" % got)
        for m in msgs:
            if m.kind != EVENT:
                continue
            if t0 is None:
                t0 = time.perf_counter()
            if mode == "events":
                size += len(m.event.args)
            else:
                size += len(m.data)
            got += 1
    dt = time.perf_counter() - t0
    print("RESULT %d %.6f" % (got, dt), flush=True)


def zc_pub(port, n, mode, batch):
    import zcluster
    from zcluster import Count, Event

    ep = zcluster.Endpoint()
    ep.peer("127.0.0.1", port, 0.1)
    while not ep.peer_subscribed("bench/x"):
        time.sleep(0.01)
    if mode == "events":
        pad = "p" * 40
        for i in range(0, n, batch):
            ep.publish_many("bench/x", [Event("Bench::ev", [Count(j), pad]) for j in range(i, min(n, i + batch))])
    else:
        one = zcluster.to_binary("x" * 62)  # 64 bytes: tag, length, 62 characters
        assert len(one) == 64
        chunk = [one] * batch
        for i in range(0, n, batch):
            ep.publish_many("bench/x", chunk[: min(batch, n - i)])
    # Stay until the receiver has everything (closing drops what the peer has not taken
    # within the shutdown timeout): the orchestrator closes our stdin then.
    sys.stdin.read()
    ep.close()


def zmq_sub(port, n):
    import zmq

    ctx = zmq.Context()
    s = ctx.socket(zmq.PULL)
    s.setsockopt(zmq.RCVHWM, 100000)
    s.bind("tcp://127.0.0.1:%d" % port)
    print("ready", flush=True)
    first = s.recv()
    t0 = time.perf_counter()
    size = len(first)
    for _ in range(n - 1):
        size += len(s.recv())
    dt = time.perf_counter() - t0
    print("RESULT %d %.6f" % (n, dt), flush=True)


def zmq_pub(port, n):
    import zmq

    ctx = zmq.Context()
    s = ctx.socket(zmq.PUSH)
    s.setsockopt(zmq.SNDHWM, 100000)
    s.connect("tcp://127.0.0.1:%d" % port)
    msg = b"x" * 64
    for _ in range(n):
        s.send(msg, copy=True)
    s.close(linger=10000)
    ctx.term()


def pair(kind, n, batch):
    port = free_port()
    me = os.path.abspath(__file__)
    sub = subprocess.Popen([sys.executable, me, "--role", "sub", kind, str(port), str(n), str(batch)],
                           stdout=subprocess.PIPE, text=True)
    assert sub.stdout.readline().strip() == "ready"
    pub = subprocess.Popen([sys.executable, me, "--role", "pub", kind, str(port), str(n), str(batch)],
                           stdin=subprocess.PIPE)
    out = sub.stdout.read()
    sub.wait()
    pub.stdin.close()
    pub.wait()
    for line in out.splitlines():
        if line.startswith("RESULT"):
            _, got, dt = line.split()
            return int(got) / float(dt)
    raise SystemExit("%s: no result (%s)" % (kind, out))


def main():
    args = sys.argv[1:]
    if args[:1] == ["--role"]:
        role, kind, port, n, batch = args[1], args[2], int(args[3]), int(args[4]), int(args[5])
        if kind == "pyzmq":
            (zmq_sub if role == "sub" else zmq_pub)(port, n)
        else:
            mode = kind.split("-")[1]
            (zc_sub if role == "sub" else zc_pub)(port, n, mode, batch)
        return
    n, batch, only = 1_000_000, 1000, None
    rest = []
    i = 0
    while i < len(args):
        if args[i] == "--batch":
            batch = int(args[i + 1])
            i += 2
        elif args[i] == "--only":
            only = args[i + 1]
            i += 2
        else:
            rest.append(args[i])
            i += 1
    if rest:
        n = int(rest[0])
    kinds = ["zcluster-bytes", "zcluster-events", "pyzmq"]
    if only:
        kinds = [k for k in kinds if k.startswith(only)]
    try:
        import zmq  # noqa: F401
    except ImportError:
        kinds = [k for k in kinds if k != "pyzmq"]
    for k in kinds:
        rate = pair(k, n if k != "zcluster-events" else max(1, n // 2), batch)
        print("python-tput %-16s %10.0f msgs/s (batch %d)" % (k, rate, batch), flush=True)


if __name__ == "__main__":
    main()
