"""Loopback ports for the layouts the tests write.

Binding port 0 and closing the socket is not enough when several nodes start at once: the
kernel may hand the same port out again, or give it to a node's own outgoing connection
(ephemeral ports, 32768-60999 on Linux) before the node promised it binds it. These ports
come from 20000-32767, are never repeated within a process, and were bindable a moment ago.
"""

import itertools
import os
import socket

_LOW, _SPAN = 20000, 12768
_counter = itertools.count()


def free_port():
    base = (os.getpid() * 7919) % _SPAN
    for _ in range(_SPAN):
        port = _LOW + (base + next(_counter) * 97) % _SPAN
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free loopback port in 20000-32767")
