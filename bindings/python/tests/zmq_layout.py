"""The ZeroMQ parts of the layouts the multi-process tests write: a standalone proxy (so
that killing the manager's process does not take the proxy with it) and the redefs that
point the nodes at it."""

import contextlib

import zcluster


@contextlib.contextmanager
def standalone_proxy():
    """Runs a ZeroMQ proxy on two free loopback ports; yields (xpub, xsub)."""
    proxy = zcluster.ZeroMQProxy({
        "Cluster::Backend::ZeroMQ::listen_xpub_endpoint": "tcp://127.0.0.1:*",
        "Cluster::Backend::ZeroMQ::listen_xsub_endpoint": "tcp://127.0.0.1:*",
    })
    with proxy:
        yield tuple(int(e.rsplit(":", 1)[1]) for e in (proxy.xpub_endpoint, proxy.xsub_endpoint))


def zeromq_redefs(ports):
    """Layout lines selecting the ZeroMQ backend with nodes connected to the standalone
    proxy on `ports` (xpub, xsub), and no proxy thread of the manager's own."""
    xpub, xsub = ports
    return [
        "redef Cluster::backend = Cluster::CLUSTER_BACKEND_ZEROMQ;",
        "redef Cluster::Backend::ZeroMQ::run_proxy_thread = F;",
        'redef Cluster::Backend::ZeroMQ::connect_xpub_endpoint = "tcp://127.0.0.1:%d";' % xsub,
        'redef Cluster::Backend::ZeroMQ::connect_xsub_endpoint = "tcp://127.0.0.1:%d";' % xpub,
    ]
