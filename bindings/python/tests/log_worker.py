"""One worker process that writes the MyProto::LOG stream, for test_log_cluster.py.

    python3 log_worker.py LAYOUT NODE COUNT

Waits for logger-1 to come up, writes COUNT records (by column name, as dicts) and a
Cluster::log line, flushes, prints "WROTE COUNT" and exits (closing the node flushes).
"""

import sys
import time

import zcluster
from log_schema import COLUMNS, STREAM, PATH, record


def main():
    layout_path, node, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    layout = zcluster.Layout.load(layout_path)
    cl = zcluster.Cluster(layout, node, {"Cluster::retry_interval": "0.1 secs",
                                          "Broker::log_batch_interval": "0.1 secs"})
    cl.create_log_stream(STREAM, PATH, COLUMNS)
    cl.start()
    deadline = time.time() + 20
    while "logger-1" not in cl.nodes_up():
        if time.time() > deadline:
            sys.exit("no logger")
        cl.next(0.1)
    for i in range(count):
        cl.log_write(STREAM, record("py", i))
    cl.log("py worker done")
    cl.log_flush()
    print("WROTE %d" % count, flush=True)
    cl.close()


if __name__ == "__main__":
    main()
