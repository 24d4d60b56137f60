"""One cluster node with data stores as its own process, for test_store_cluster.py.

    python3 store_node.py LAYOUT NODE STORE_DIR [OPTIONS_JSON]

Obeys JSON-line commands on stdin and answers each with one JSON line on stdout carrying
the command's "rid": {"op": "reply", "rid": N, "ok": true, "value": ...} or
{"op": "reply", "rid": N, "ok": false, "error": "TypeMismatch", "text": "..."}. Values
travel as JSON; {"$count": n} stands for a Broker count, {"$set": [...]} for a set.

Commands: create (name, persistent), call (name, method, args, kwargs: any Store method),
dump (name: every key and value, sorted), putloop (name, start: puts "k<i>" -> i for
i = start, start + 1, ... and reports {"op": "acked", "i": i} after each put + flush returned,
until killed), quit. The node waits on stdin and on Cluster.fd() with select.
"""

import json
import os
import select
import signal
import sys

import zcluster
from zcluster import _store  # noqa: F401  (attaches Cluster.create_store)


def emit(**obj):
    sys.stdout.write(json.dumps(obj, default=to_json) + "\n")
    sys.stdout.flush()


def to_json(v):
    if isinstance(v, (set, frozenset)):
        return {"$set": sorted((to_json(x) for x in v), key=repr)}
    if isinstance(v, zcluster.Count):
        return {"$count": int(v)}
    if isinstance(v, (list, tuple)):
        return [to_json(x) for x in v]
    if isinstance(v, dict):
        return {str(k): to_json(x) for k, x in v.items()}
    if isinstance(v, (int, float, str, bool)) or v is None:
        return v
    return repr(v)


def from_json(v):
    if isinstance(v, dict) and "$count" in v:
        return zcluster.Count(v["$count"])
    if isinstance(v, dict) and "$set" in v:
        return set(from_json(x) for x in v["$set"])
    if isinstance(v, list):
        return [from_json(x) for x in v]
    return v


def main():
    layout_path, name, store_dir = sys.argv[1:4]
    extra = json.loads(sys.argv[4]) if len(sys.argv) > 4 else {}
    signal.alarm(120)  # an orphan never outlives a broken test for long
    layout = zcluster.Layout.load(layout_path)
    opts = {
        "Cluster::retry_interval": 0.1,
        "Cluster::default_store_dir": store_dir,
        "Broker::default_clone_resync_interval": 0.5,
    }
    opts.update(extra)
    stores = {}
    with zcluster.Cluster(layout, node=name, options=opts) as cl:
        cl.start()
        emit(op="started", pid=os.getpid(), id=cl.node_id)
        fd = cl.fd()
        pending = b""
        while True:
            ready, _, _ = select.select([0, fd], [], [], 1.0)
            if fd in ready:
                while cl.next(timeout=0) is not None:
                    pass  # node_up/node_down: store traffic never reaches the host queue
            if 0 not in ready:
                continue
            data = os.read(0, 65536)
            if not data:
                break
            pending += data
            quit_now = False
            while b"\n" in pending:
                line, pending = pending.split(b"\n", 1)
                cmd = json.loads(line)
                rid = cmd.get("rid")
                c = cmd["cmd"]
                try:
                    if c == "quit":
                        quit_now = True
                        value = None
                    elif c == "create":
                        info = cl.create_store(cmd["name"], persistent=cmd.get("persistent", False))
                        stores[cmd["name"]] = info.store
                        value = {"master": info.master, "backend": info.backend, "master_node": info.master_node}
                    elif c == "call":
                        st = stores[cmd["name"]]
                        args = [from_json(a) for a in cmd.get("args", [])]
                        kwargs = {k: from_json(v) for k, v in cmd.get("kwargs", {}).items()}
                        value = getattr(st, cmd["method"])(*args, **kwargs)
                    elif c == "dump":
                        st = stores[cmd["name"]]
                        t = cmd.get("timeout")
                        value = []
                        for k in st.keys(timeout=t):
                            try:
                                value.append([to_json(k), to_json(st.get(k, timeout=t))])
                            except zcluster.NotFound:
                                pass  # expired or erased since keys()
                        value.sort(key=repr)
                    elif c == "putloop":
                        st = stores[cmd["name"]]
                        i = cmd["start"]
                        while True:
                            st.put("k%d" % i, i)
                            st.flush()  # acknowledged = durable (put itself is async)
                            emit(op="acked", i=i)
                            i += 1
                    else:
                        raise ValueError("unknown command %r" % c)
                except zcluster.Error as e:
                    emit(op="reply", rid=rid, ok=False, error=type(e).__name__, text=str(e))
                else:
                    emit(op="reply", rid=rid, ok=True, value=value)
            if quit_now:
                break
    emit(op="bye")


if __name__ == "__main__":
    main()
