"""One cluster node as its own process, for test_cluster.py.

    python3 cluster_node.py LAYOUT NODE LOG_DIR

Reports what the node sees as JSON lines on stdout ({"op": "up"|"down"|"ev"|...}) and
obeys JSON-line commands on stdin (publish, hrw, rr, relay, raise, log, count, nodes,
id, quit). It waits
on stdin and on Cluster.fd() with select, the way a host with its own loop would.
"""

import json
import os
import select
import signal
import sys

import zcluster


def emit(**obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def report(msg):
    k = msg.kind
    if k in (zcluster.MessageKind.NODE_UP, zcluster.MessageKind.NODE_DOWN):
        emit(op="up" if k == zcluster.MessageKind.NODE_UP else "down", node=msg.node_name, id=msg.text)
    elif k == zcluster.MessageKind.EVENT and msg.event is not None:
        emit(op="ev", topic=msg.topic, name=msg.event.name, args=[str(a) for a in msg.event.args])


def command(cl, cmd):
    c = cmd["cmd"]
    ev = lambda: zcluster.Event(cmd["name"], cmd.get("args", []))  # noqa: E731
    if c == "publish":
        topic = cmd["topic"]
        if "node_topic" in cmd:
            topic = cl.node_topic(cmd["node_topic"])
        elif "nodeid_topic" in cmd:
            topic = cl.nodeid_topic(cmd["nodeid_topic"])
        cl.publish(topic, ev())
    elif c == "hrw":
        emit(op="hrw", ok=cl.publish_hrw(cmd["pool"], cmd["key"], ev()))
    elif c == "rr":
        emit(op="rr", ok=cl.publish_rr(cmd["pool"], cmd["key"], ev()))
    elif c == "relay":
        emit(op="relay", ok=cl.relay_rr(cmd["pool"], cmd["key"], cmd["targets"], ev()))
    elif c == "raise":
        emit(op="raised", roles=sorted(t.name for t in cl.raise_event(ev())))
    elif c == "log":
        cl.log(cmd["msg"])
        emit(op="logged")
    elif c == "count":
        emit(op="count", n=cl.worker_count)
    elif c == "nodes":
        emit(op="nodes", names=cl.nodes_up())
    elif c == "id":
        emit(op="id", id=cl.node_id)
    elif c == "quit":
        return False
    return True


def main():
    layout_path, name, log_dir = sys.argv[1:4]
    signal.alarm(120)  # an orphan never outlives a broken test for long
    layout = zcluster.Layout.load(layout_path)
    retry = float(os.environ.get("ZC_TEST_RETRY_INTERVAL", "0.1"))
    with zcluster.Cluster(layout, node=name, options={"Cluster::retry_interval": retry}) as cl:
        cl.start(log_dir)
        emit(op="started", port=cl.listen_port, id=cl.node_id)
        fd = cl.fd()
        pending = b""
        running = True
        while running:
            ready, _, _ = select.select([0, fd], [], [], 1.0)
            if fd in ready:
                while True:
                    m = cl.next(timeout=0)
                    if m is None:
                        break
                    report(m)
            if 0 in ready:
                data = os.read(0, 65536)
                if not data:
                    break
                pending += data
                while b"\n" in pending:
                    line, pending = pending.split(b"\n", 1)
                    try:
                        running = command(cl, json.loads(line)) and running
                    except zcluster.Error as e:
                        emit(op="error", error=str(e))
    emit(op="bye")


if __name__ == "__main__":
    main()
