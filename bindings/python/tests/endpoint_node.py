"""One endpoint as its own process, for test_endpoint_processes.py.

    python3 endpoint_node.py [OPTION=VALUE ...]     (endpoint options, e.g. inbox_capacity=64)

Obeys JSON-line commands on stdin and answers with JSON lines on stdout:
  {"cmd": "listen"}                       -> {"op": "listening", "port": P}
  {"cmd": "peer", "port": P}              -> {"op": "peering"}
  {"cmd": "subscribe"|"unsubscribe", "topic": T}   -> {"op": "ok"}
  {"cmd": "wait_subscribed", "topic": T, "want": bool}  -> {"op": "ok"} once a peer does
                                             (or no longer does) subscribe T
  {"cmd": "publish", "topic": T, "n": N, "start": S}  -> {"op": "published", "n": N}
                                             (counts S..S+N-1 as 9-byte Broker counts)
  {"cmd": "drain", "n": N, "timeout": s}  -> {"op": "drained", "counts": [...], "topics": [...],
                                             "statuses": [...]} after N events or the timeout
  {"cmd": "statuses"}                     -> {"op": "statuses", "kinds": [...]} (taken so far)
  {"cmd": "rss"}                          -> {"op": "rss", "kib": VmRSS}
  {"cmd": "stats"}                        -> {"op": "stats", ...}
  {"cmd": "quit"}
Events are only taken from the inbox by "drain" (a "slow consumer" simply does not drain).
"""

import json
import signal
import sys
import time

import zcluster
from zcluster import MessageKind


def emit(**obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def main():
    signal.alarm(120)  # an orphan never outlives a broken test for long
    opts = dict(a.split("=", 1) for a in sys.argv[1:])
    ep = zcluster.Endpoint(opts or None)
    statuses = []
    for line in sys.stdin:
        cmd = json.loads(line)
        c = cmd["cmd"]
        if c == "listen":
            emit(op="listening", port=ep.listen("127.0.0.1", 0))
        elif c == "peer":
            ep.peer("127.0.0.1", cmd["port"], retry=0.1)
            emit(op="peering")
        elif c == "subscribe":
            ep.subscribe(cmd["topic"])
            emit(op="ok")
        elif c == "unsubscribe":
            ep.unsubscribe(cmd["topic"])
            emit(op="ok")
        elif c == "wait_subscribed":
            end = time.monotonic() + 20
            while ep.peer_subscribed(cmd["topic"]) != cmd.get("want", True) and time.monotonic() < end:
                time.sleep(0.005)
            emit(op="ok" if ep.peer_subscribed(cmd["topic"]) == cmd.get("want", True) else "timeout")
        elif c == "publish":
            start = cmd.get("start", 0)
            for i in range(start, start + cmd["n"]):
                ep.publish_data(cmd["topic"], b"\x02" + i.to_bytes(8, "big"))
            emit(op="published", n=cmd["n"])
        elif c == "drain":
            counts, topics = [], []
            end = time.monotonic() + cmd.get("timeout", 20)
            while len(counts) < cmd["n"] and time.monotonic() < end:
                m = ep.next(timeout=0.1)
                if m is None:
                    continue
                if m.kind == MessageKind.EVENT:
                    d = m.data  # a count, or a string that starts with 8 bytes of index
                    counts.append(int.from_bytes(d[1:9] if d[0] == 2 else d[3:11], "big"))
                    topics.append(m.topic)
                else:
                    statuses.append(m.kind.name)
            emit(op="drained", counts=counts, topics=sorted(set(topics)), statuses=statuses)
        elif c == "statuses":
            while True:
                m = ep.next(timeout=0)
                if m is None:
                    break
                if m.kind != MessageKind.EVENT:
                    statuses.append(m.kind.name)
            emit(op="statuses", kinds=statuses)
        elif c == "rss":
            with open("/proc/self/status") as f:
                kib = next(int(l.split()[1]) for l in f if l.startswith("VmRSS:"))
            emit(op="rss", kib=kib)
        elif c == "stats":
            emit(op="stats", **ep.stats())
        elif c == "quit":
            break
    ep.close()


if __name__ == "__main__":
    main()
