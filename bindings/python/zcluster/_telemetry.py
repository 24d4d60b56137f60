"""Metrics and Zeek's WebSocket API server: the stats calls (`stats_json` as a dict),
Prometheus text, and `Cluster.listen_websocket`."""

import ctypes
import json

from ._data import _option_text
from ._lib import check, cstr, lib, take_string

_p = ctypes.c_void_p
_cp = ctypes.c_char_p


def _sig(name, args, res=ctypes.c_int):
    f = getattr(lib, name)
    f.argtypes = args
    f.restype = res


_sig("zc_websocket_options_new", [ctypes.POINTER(_p)])
_sig("zc_websocket_options_set", [_p, _cp, _cp])
_sig("zc_websocket_options_free", [_p], None)
_sig("zc_cluster_listen_websocket", [_p, _p, ctypes.POINTER(ctypes.c_uint16)])
_sig("zc_cluster_stats_json", [_p, ctypes.POINTER(_p)])
_sig("zc_cluster_metrics_text", [_p, ctypes.POINTER(_p)])
_sig("zc_cluster_metrics_port", [_p, ctypes.POINTER(ctypes.c_uint16)])
_sig("zc_endpoint_stats_json", [_p, ctypes.POINTER(_p)])
_sig("zc_endpoint_connect_websocket", [_p, _cp, ctypes.POINTER(_cp), ctypes.c_size_t, ctypes.c_uint64])
_sig("zc_websocket_client_options_new", [ctypes.POINTER(_p)])
_sig("zc_websocket_client_options_set", [_p, _cp, _cp])
_sig("zc_websocket_client_options_free", [_p], None)
_sig(
    "zc_endpoint_connect_websocket_with",
    [_p, _cp, ctypes.POINTER(_cp), ctypes.c_size_t, ctypes.c_uint64, _p],
)


class _ClusterServices:
    """Mixed into Cluster."""

    def listen_websocket(self, listen_addr="127.0.0.1", listen_port=27759, **fields):
        """`Cluster::listen_websocket([$listen_addr=.., $listen_port=.., ...])` on the
        started node; other fields by their Zeek names (max_event_queue_size,
        ping_interval in seconds, tls_options as a dict of WebSocketTLSOptions fields:
        cert_file, key_file, enable_peer_verification, ca_file, ciphers; those fields
        may also be given directly) or send_queue_size. Returns the bound port
        (listen_port=0 picks one)."""
        o = _p()
        check(lib.zc_websocket_options_new(ctypes.byref(o)))
        try:
            items = [("listen_addr", listen_addr), ("listen_port", listen_port)]
            tls = fields.pop("tls_options", None) or {}
            items += list(fields.items())
            items += [("tls_options$" + k, v) for k, v in tls.items()]
            for k, v in items:
                check(lib.zc_websocket_options_set(o, cstr(k), cstr(_option_text(v))))
            port = ctypes.c_uint16()
            check(lib.zc_cluster_listen_websocket(self._handle(), o, ctypes.byref(port)))
            return port.value
        finally:
            lib.zc_websocket_options_free(o)

    def stats(self):
        """The node's counters as a dict (see zc_cluster_stats_json)."""
        out = _p()
        check(lib.zc_cluster_stats_json(self._handle(), ctypes.byref(out)))
        return json.loads(take_string(out.value))

    def metrics_text(self):
        """The node's metrics in Prometheus' text format (what /metrics serves)."""
        out = _p()
        check(lib.zc_cluster_metrics_text(self._handle(), ctypes.byref(out)))
        return take_string(out.value)

    def metrics_port(self):
        """The port of the node's metrics endpoint, or None when it does not run."""
        v = ctypes.c_uint16()
        check(lib.zc_cluster_metrics_port(self._handle(), ctypes.byref(v)))
        return v.value or None


def endpoint_stats_json(ep):
    out = _p()
    check(lib.zc_endpoint_stats_json(ep._handle(), ctypes.byref(out)))
    return json.loads(take_string(out.value))


def connect_websocket(ep, url, topics, retry, options=None):
    arr = (_cp * max(1, len(topics)))(*[cstr(t) for t in topics])
    ms = int(round(float(retry) * 1000))
    o = _p()
    check(lib.zc_websocket_client_options_new(ctypes.byref(o)))
    try:
        for k, v in (options or {}).items():
            text = ("T" if v else "F") if isinstance(v, bool) else str(v)
            check(lib.zc_websocket_client_options_set(o, cstr(k), cstr(text)))
        check(lib.zc_endpoint_connect_websocket_with(ep._handle(), cstr(url), arr, len(topics), ms, o))
    finally:
        lib.zc_websocket_client_options_free(o)
