"""A logger process for test_log_kill.py: runs the node until it is killed.

    python3 log_logger.py LAYOUT NODE LOG_DIR

Prints "UP" once the node is started and keeps serving (the test kills it with SIGKILL).
"""

import sys

import zcluster


def main():
    layout_path, node, log_dir = sys.argv[1], sys.argv[2], sys.argv[3]
    cl = zcluster.Cluster(zcluster.Layout.load(layout_path), node,
                          {"Cluster::retry_interval": "0.1 secs"})
    cl.start(log_dir)
    print("UP", flush=True)
    while True:
        cl.next(0.2)


if __name__ == "__main__":
    main()
