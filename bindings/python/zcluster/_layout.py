"""Cluster layouts, nodes and the cluster (zc_layout_*, zc_node_*, zc_options_*,
zc_cluster_*): identity, and the running node.

    layout = zcluster.Layout.load("cluster-layout.zeek")   # or .parse(text, format=None)
    layout.nodes["worker-1"].node_type is zcluster.NodeType.WORKER
    with zcluster.Cluster(layout, node="worker-1", options={"Cluster::retry_interval": 2.0}) as cl:
        cl.local_node_type(); cl.node_topic("manager"); cl.nodeid_topic(cl.node_id)
        cl.start()                       # listen, peer by role, hello / node_up
        msg = cl.next(timeout=1.0)       # msg.kind is MessageKind.NODE_UP, msg.node_name
        cl.publish("zeek/cluster/manager/", zcluster.Event("Demo::ping", ["hi"]))
        cl.publish_hrw("zeek/cluster/pool/worker", key, event); cl.log("message")
"""

import ctypes
from typing import Any, Dict, Optional, Union
import datetime
import enum
import ipaddress
import os
import re

from ._data import Event, Port, _option_text, _to_handle
from ._endpoint import _FREE_CB, _MSG_CB, Message, _Delivery
from ._lib import check, cstr, lib, take_string
from ._telemetry import _ClusterServices


_p = ctypes.c_void_p
_pp = ctypes.POINTER(ctypes.c_void_p)
_cp = ctypes.c_char_p
_sz = ctypes.c_size_t


def _sig(name, argtypes, restype=ctypes.c_int):
    f = getattr(lib, name)
    f.argtypes = argtypes
    f.restype = restype


_sig("zc_strings_free", [_pp], None)
_sig("zc_layout_load", [_cp, ctypes.POINTER(_p)])
_sig("zc_layout_load_with_zeekctl_config", [_cp, _cp, ctypes.POINTER(_p)])
_sig("zc_layout_parse", [_cp, _sz, _cp, ctypes.POINTER(_p)])
_sig("zc_layout_parse_node_cfg", [_cp, _sz, ctypes.c_uint16, ctypes.c_uint16, ctypes.c_bool, ctypes.POINTER(_p)])
_sig("zc_layout_free", [_p], None)
_sig("zc_layout_format", [_p, ctypes.POINTER(_cp)])
_sig("zc_layout_node_count", [_p, ctypes.POINTER(_sz)])
_sig("zc_layout_node_names", [_p, ctypes.POINTER(_pp)])
_sig("zc_layout_node_name_at", [_p, _sz, ctypes.POINTER(_p)])
_sig("zc_layout_get_node", [_p, _cp, ctypes.POINTER(_p)])
_sig("zc_layout_option_count", [_p, ctypes.POINTER(_sz)])
_sig("zc_layout_option_at", [_p, _sz, ctypes.POINTER(_p), ctypes.POINTER(_p), ctypes.POINTER(_cp)])
_sig("zc_layout_option_get", [_p, _cp, ctypes.POINTER(_p)])
_sig("zc_layout_to_json", [_p, ctypes.POINTER(_p)])
_sig("zc_node_free", [_p], None)
for _name in ("name", "ip", "zone_id", "interface", "manager", "logger", "proxy", "time_machine",
              "id", "lb_filter", "pcap_file"):
    _sig("zc_node_" + _name, [_p, ctypes.POINTER(_p)])
_sig("zc_node_node_type", [_p, ctypes.POINTER(ctypes.c_int)])
_sig("zc_node_p", [_p, ctypes.POINTER(ctypes.c_uint16), ctypes.POINTER(_cp)])
_sig("zc_node_metrics_port", [_p, ctypes.POINTER(ctypes.c_uint16), ctypes.POINTER(_cp)])
_sig("zc_node_workers", [_p, ctypes.POINTER(_pp)])
_sig("zc_node_zeekctl", [_p, _cp, ctypes.POINTER(_p)])
_sig("zc_options_new", [ctypes.POINTER(_p)])
_sig("zc_options_set", [_p, _cp, _cp])
_sig("zc_options_get", [_p, _cp, ctypes.POINTER(_p)])
_sig("zc_options_free", [_p], None)
_sig("zc_options_catalogue_json", [ctypes.POINTER(_p)])
_sig("zc_cluster_new", [_p, _cp, _p, ctypes.POINTER(_p)])
_sig("zc_cluster_free", [_p], None)
_sig("zc_cluster_is_enabled", [_p], ctypes.c_bool)
_sig("zc_cluster_local_node_type", [_p, ctypes.POINTER(ctypes.c_int)])
_sig("zc_cluster_node_name", [_p, ctypes.POINTER(_p)])
_sig("zc_cluster_node_id", [_p, ctypes.POINTER(_p)])
_sig("zc_cluster_node_topic", [_p, _cp, ctypes.POINTER(_p)])
_sig("zc_cluster_nodeid_topic", [_p, _cp, ctypes.POINTER(_p)])
_sig("zc_cluster_option_get", [_p, _cp, ctypes.POINTER(_p)])
_sig("zc_cluster_peer_retry", [_p, ctypes.POINTER(ctypes.c_uint64)])
_sig("zc_cluster_worker_count", [_p, ctypes.POINTER(ctypes.c_uint64)])
_sig("zc_cluster_start", [_p])
_sig("zc_cluster_start_in", [_p, _cp])
_sig("zc_cluster_publish", [_p, _cp, _p])
_sig("zc_cluster_subscribe", [_p, _cp])
_sig("zc_cluster_unsubscribe", [_p, _cp])
_sig("zc_cluster_fd", [_p, ctypes.POINTER(ctypes.c_int)])
_sig("zc_cluster_next", [_p, ctypes.c_int64, ctypes.POINTER(_p)])
_sig("zc_cluster_set_callback", [_p, _MSG_CB, _p, _FREE_CB])
_sig("zc_cluster_poll", [_p, ctypes.c_int64, ctypes.POINTER(_sz)])
_sig("zc_cluster_log", [_p, _cp])
_sig("zc_cluster_publish_hrw", [_p, _cp, _p, _p, ctypes.POINTER(ctypes.c_bool)])
_sig("zc_cluster_publish_rr", [_p, _cp, _cp, _p, ctypes.POINTER(ctypes.c_bool)])
_sig("zc_cluster_relay_rr", [_p, _cp, _cp, ctypes.POINTER(_cp), _sz, _p, ctypes.POINTER(ctypes.c_bool)])
_sig("zc_cluster_raise", [_p, _p, ctypes.POINTER(ctypes.c_uint32)])
_sig("zc_cluster_nodes_up", [_p, ctypes.POINTER(_pp)])
_sig("zc_cluster_listen_port", [_p, ctypes.POINTER(ctypes.c_uint16)])
_sig("zc_cluster_backend_get", [_p, ctypes.POINTER(ctypes.c_int)])
_sig("zc_cluster_zeromq_stat", [_p, _cp, ctypes.POINTER(ctypes.c_uint64)])
_sig("zc_cluster_zeromq_stats", [_p, ctypes.POINTER(_p)])
_sig("zc_zeromq_proxy_start", [_p, ctypes.POINTER(_p)])
_sig("zc_zeromq_proxy_endpoint", [_p, ctypes.c_bool, ctypes.POINTER(_p)])
_sig("zc_zeromq_proxy_free", [_p], None)
_sig("zc_message_free", [_p], None)
_sig("zc_event_free", [_p], None)
_sig("zc_value_free", [_p], None)


class NodeType(enum.IntEnum):
    """`Cluster::NodeType`; the numbers are the C enum `zc_node_type`'s."""

    NONE = 0
    CONTROL = 1
    MANAGER = 2
    LOGGER = 3
    PROXY = 4
    WORKER = 5
    TIME_MACHINE = 6


def _port(number, protocol):
    """A zcluster.Port from the layout API's (number, protocol text); Zeek's script text
    says "unknown" where Broker's data model says "?"."""
    return Port(number, "?" if protocol == "unknown" else protocol)


def _take_strings(arr):
    """Copies a NULL-terminated char** the library returned, and frees it."""
    if not arr:
        return None
    try:
        out = []
        i = 0
        while arr[i]:
            out.append(ctypes.string_at(arr[i]).decode("utf-8"))
            i += 1
        return out
    finally:
        lib.zc_strings_free(arr)


def _event_handle(event):
    if not isinstance(event, Event):
        raise TypeError("expected a zcluster.Event, got %s" % type(event).__name__)
    return event._to_event_handle()


def _out_string(fn, *args):
    out = _p()
    check(fn(*args, ctypes.byref(out)))
    return take_string(out.value)


def option_catalogue():
    """Every option the library accepts (docs/options.md), as a list of dicts: scope
    ("cluster" for Cluster(options=...), "endpoint" for Endpoint(...), "websocket",
    "store", "backend"), name, aliases, type (Zeek's type name), values (an enum's
    constants), default (as option text) and doc."""
    import json

    return json.loads(_out_string(lib.zc_options_catalogue_json))


_INTERVAL_UNITS = {"day": 86400.0, "hr": 3600.0, "min": 60.0, "sec": 1.0, "msec": 1e-3, "usec": 1e-6}


def _parse_interval(text):
    total = 0.0
    terms = re.findall(r"([-+]?[0-9.]+)\s*([a-z]+)", text)
    for num, unit in terms:
        unit = unit[:-1] if unit.endswith("s") and unit[:-1] in _INTERVAL_UNITS else unit
        total += float(num) * _INTERVAL_UNITS[unit]
    return datetime.timedelta(seconds=total)


def _option_value(kind, text):
    """A layout option's text (zc_layout_option_at) as a Python value."""
    if kind == "bool":
        return text == "T"
    if kind in ("count", "int"):
        return int(text)
    if kind == "double":
        return float(text)
    if kind == "interval":
        return _parse_interval(text)
    if kind == "pattern":
        return text[1:-1]
    if kind == "port":
        num, proto = text.split("/", 1)
        return _port(int(num), proto)
    if kind == "addr":
        return ipaddress.ip_address(text.strip("[]"))
    return text  # string, enum ("Broker::SQLITE"), set (Zeek text)


class Node:
    """One `Cluster::Node`. Attributes are the reference's field names: node_type (a
    NodeType), ip (an ipaddress object), zone_id ("" when unset), p (a Port; 0/unknown when
    the node does not listen), interface, manager, time_machine, id, lb_filter,
    metrics_port (a Port), pcap_file, and the legacy logger, proxy and workers (a set).
    Unset optional fields are None. `zeekctl` holds node.cfg settings (a dict) for layouts
    read from node.cfg (host, lb_method, lb_procs, pin_cpu, aux_scripts, env_vars), else None."""

    _FIELDS = ("name", "node_type", "ip", "zone_id", "p", "interface", "logger", "manager",
               "proxy", "workers", "time_machine", "id", "lb_filter", "metrics_port",
               "pcap_file", "zeekctl")

    def __init__(self, handle):
        h = handle
        self.name = _out_string(lib.zc_node_name, h)
        t = ctypes.c_int()
        check(lib.zc_node_node_type(h, ctypes.byref(t)))
        self.node_type = NodeType(t.value)
        self.ip = ipaddress.ip_address(_out_string(lib.zc_node_ip, h))
        self.zone_id = _out_string(lib.zc_node_zone_id, h)
        num, proto = ctypes.c_uint16(), _cp()
        check(lib.zc_node_p(h, ctypes.byref(num), ctypes.byref(proto)))
        self.p = _port(num.value, proto.value.decode())
        check(lib.zc_node_metrics_port(h, ctypes.byref(num), ctypes.byref(proto)))
        self.metrics_port = _port(num.value, proto.value.decode()) if proto.value else None
        for field in ("interface", "logger", "manager", "proxy", "time_machine", "id",
                      "lb_filter", "pcap_file"):
            setattr(self, field, _out_string(getattr(lib, "zc_node_" + field), h))
        arr = _pp()
        check(lib.zc_node_workers(h, ctypes.byref(arr)))
        workers = _take_strings(arr)
        self.workers = set(workers) if workers is not None else None
        host = _out_string(lib.zc_node_zeekctl, h, b"host")
        if host is None:
            self.zeekctl = None
        else:
            z = {"host": host}
            for key in ("lb_method", "lb_procs", "pin_cpu", "aux_scripts"):
                v = _out_string(lib.zc_node_zeekctl, h, key.encode())
                if v is not None:
                    z[key] = int(v) if key in ("lb_procs", "pin_cpu") else v
            env = _out_string(lib.zc_node_zeekctl, h, b"env_vars")
            if env:
                z["env_vars"] = dict(kv.split("=", 1) for kv in env.split(","))
            self.zeekctl = z

    def __eq__(self, other):
        return isinstance(other, Node) and all(
            getattr(self, f) == getattr(other, f) for f in self._FIELDS if f != "zeekctl")

    def __repr__(self):
        parts = ["%s=%r" % (f, getattr(self, f)) for f in self._FIELDS
                 if getattr(self, f) not in (None,) and f != "zeekctl"]
        return "Node(%s)" % ", ".join(parts)


class Layout:
    """A cluster layout: `nodes` (name -> Node) and `options` (the `redef`s it sets, by
    Zeek name). Bad input raises zcluster.LayoutError whose message names line:column."""

    def __init__(self, handle):
        self._h = _p(handle)
        try:
            fmt = _cp()
            check(lib.zc_layout_format(self._h, ctypes.byref(fmt)))
            self.format = fmt.value.decode()
            arr = _pp()
            check(lib.zc_layout_node_names(self._h, ctypes.byref(arr)))
            self.nodes = {}
            for name in _take_strings(arr):
                node_h = _p()
                check(lib.zc_layout_get_node(self._h, cstr(name), ctypes.byref(node_h)))
                try:
                    self.nodes[name] = Node(node_h)
                finally:
                    lib.zc_node_free(node_h)
            count = _sz()
            check(lib.zc_layout_option_count(self._h, ctypes.byref(count)))
            self.options = {}
            for i in range(count.value):
                name, value, kind = _p(), _p(), _cp()
                check(lib.zc_layout_option_at(self._h, i, ctypes.byref(name), ctypes.byref(value),
                                              ctypes.byref(kind)))
                name, value = take_string(name.value), take_string(value.value)
                self.options[name] = _option_value(kind.value.decode(), value)
        except BaseException:
            self.close()
            raise

    @classmethod
    def load(cls, path: "Union[str, os.PathLike[str]]",
             zeekctl_config: "Optional[Union[str, os.PathLike[str]]]" = None) -> "Layout":
        """Loads a layout file; the format comes from the name (.zeek, .bro, .json,
        node.cfg), else from the content. A directory means its cluster-layout.zeek with
        the zeekctl-config.zeek beside it (ZeekControl's `auto` directory: the cluster
        backend and its endpoints); `zeekctl_config` names that file explicitly."""
        out = _p()
        if zeekctl_config is not None:
            check(lib.zc_layout_load_with_zeekctl_config(
                cstr(os.fspath(path)), cstr(os.fspath(zeekctl_config)), ctypes.byref(out)))
        else:
            check(lib.zc_layout_load(cstr(os.fspath(path)), ctypes.byref(out)))
        return cls(out.value)

    @classmethod
    def parse(cls, text: str, format: Optional[str] = None) -> "Layout":
        """Parses layout text; `format` is "zeek", "bro", "node.cfg", "json" or None (guess)."""
        data = cstr(text)
        out = _p()
        check(lib.zc_layout_parse(data, len(data), cstr(format), ctypes.byref(out)))
        return cls(out.value)

    @classmethod
    def parse_node_cfg(cls, text: str, zeek_port: int = 27760, metrics_port: int = 9991, zeromq: bool = True) -> "Layout":
        """Parses ZeekControl's node.cfg with zeekctl's ZeekPort, MetricsPort (0: none) and
        whether ClusterBackend is ZeroMQ (zeekctl's default; it takes two ports first)."""
        data = cstr(text)
        out = _p()
        check(lib.zc_layout_parse_node_cfg(data, len(data), zeek_port, metrics_port, zeromq,
                                           ctypes.byref(out)))
        return cls(out.value)

    @classmethod
    def from_json(cls, text: str) -> "Layout":
        return cls.parse(text, "json")

    def to_json(self) -> str:
        return _out_string(lib.zc_layout_to_json, self._handle())

    def _handle(self):
        if not self._h:
            from ._lib import ClosedError
            raise ClosedError("layout is closed")
        return self._h

    def close(self):
        if self._h:
            lib.zc_layout_free(self._h)
            self._h = _p()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass

    def __repr__(self):
        return "Layout(format=%r, nodes=%r)" % (self.format, sorted(self.nodes))


class Cluster(_Delivery, _ClusterServices):
    """This process's view of a cluster. `node` None takes the name from
    `options["Cluster::node"]`, else from the CLUSTER_NODE environment variable. `options`
    maps Zeek option names to bool, int, float (seconds), datetime.timedelta or str (Zeek
    syntax); they apply over the layout's redefs. A node name not in the layout raises
    zcluster.NotFound."""

    _PREFIX = "zc_cluster_"
    # Attached by the _store module: create_store(name, persistent=False) -> StoreInfo,
    # set_store_options(name, **fields).
    create_store: Any
    set_store_options: Any

    def __init__(self, layout: "Layout", node: Optional[str] = None, options: Optional[Dict[str, Any]] = None) -> None:
        self._h = _p()
        self._cb = None
        self._cb_error = None
        if not isinstance(layout, Layout):
            raise TypeError("layout must be a zcluster.Layout")
        opts = _p()
        check(lib.zc_options_new(ctypes.byref(opts)))
        try:
            for key, value in (options or {}).items():
                check(lib.zc_options_set(opts, cstr(key), cstr(_option_text(value))))
            out = _p()
            check(lib.zc_cluster_new(layout._handle(), cstr(node), opts, ctypes.byref(out)))
            self._h = _p(out.value)
        finally:
            lib.zc_options_free(opts)

    def _handle(self):
        if not self._h:
            from ._lib import ClosedError
            raise ClosedError("cluster is closed")
        return self._h

    def is_enabled(self) -> bool:
        """`Cluster::is_enabled()`: True iff a node name is set."""
        h = self._handle()
        enabled = lib.zc_cluster_is_enabled(h)
        return bool(enabled)

    def local_node_type(self):
        """`Cluster::local_node_type()`: NodeType.NONE when not enabled."""
        t = ctypes.c_int()
        check(lib.zc_cluster_local_node_type(self._handle(), ctypes.byref(t)))
        return NodeType(t.value)

    @property
    def node_name(self) -> str:
        return _out_string(lib.zc_cluster_node_name, self._handle())

    @property
    def node_id(self) -> str:
        """A random UUID (v4) fixed for this Cluster's lifetime."""
        return _out_string(lib.zc_cluster_node_id, self._handle())

    def node_topic(self, name: str) -> str:
        return _out_string(lib.zc_cluster_node_topic, self._handle(), cstr(name))

    def nodeid_topic(self, id: str) -> str:
        return _out_string(lib.zc_cluster_nodeid_topic, self._handle(), cstr(id))

    def option(self, name):
        """An option's effective value as Zeek-syntax text (strings bare)."""
        return _out_string(lib.zc_cluster_option_get, self._handle(), cstr(name))

    @property
    def peer_retry(self):
        """The retry peerings use (seconds): retry_interval or ZEEK_DEFAULT_CONNECT_RETRY."""
        v = ctypes.c_uint64()
        check(lib.zc_cluster_peer_retry(self._handle(), ctypes.byref(v)))
        return v.value

    @property
    def worker_count(self) -> int:
        """`Cluster::worker_count`: the workers connected now (0 before start)."""
        v = ctypes.c_uint64()
        check(lib.zc_cluster_worker_count(self._handle(), ctypes.byref(v)))
        return v.value

    # -- the running node -------------------------------------------------------------

    def start(self, log_dir: "Optional[Union[str, os.PathLike[str]]]" = None) -> None:
        """Starts the node: listens on its `$p`, subscribes its role's topics and peers by
        role (Zeek's Broker matrix), retrying on `Cluster::retry_interval`. A node that
        writes logs writes cluster.log into `log_dir` (default: the working directory).
        Raises StateError when already started or not enabled."""
        if log_dir is None:
            check(lib.zc_cluster_start(self._handle()))
        else:
            check(lib.zc_cluster_start_in(self._handle(), cstr(os.fspath(log_dir))))

    def publish(self, topic: str, event: Any) -> None:
        """`Cluster::publish(topic, event)`: to every peer subscribed to a prefix of topic."""
        ev = _event_handle(event)
        try:
            check(lib.zc_cluster_publish(self._handle(), cstr(topic), ev))
        finally:
            lib.zc_event_free(ev)

    def subscribe(self, topic_prefix: str) -> None:
        check(lib.zc_cluster_subscribe(self._handle(), cstr(topic_prefix)))

    def unsubscribe(self, topic_prefix: str) -> None:
        check(lib.zc_cluster_unsubscribe(self._handle(), cstr(topic_prefix)))

    def log(self, message: str) -> None:
        """`Cluster::log(msg)`: a cluster.log record (ts, this node, message)."""
        check(lib.zc_cluster_log(self._handle(), cstr(message)))

    def publish_hrw(self, pool: str, key: Any, event: Any) -> bool:
        """`Cluster::publish_hrw(pool, key, event)`: to the live member of the pool (its
        topic, e.g. "zeek/cluster/pool/worker") that `key` (any Broker value) hashes to.
        Returns False, sending nothing, when no member is alive."""
        k = _to_handle(key)
        try:
            ev = _event_handle(event)
            try:
                done = ctypes.c_bool()
                check(lib.zc_cluster_publish_hrw(self._handle(), cstr(pool), k, ev, ctypes.byref(done)))
                return done.value
            finally:
                lib.zc_event_free(ev)
        finally:
            lib.zc_value_free(k)

    def publish_rr(self, pool: str, key: str, event: Any) -> bool:
        """`Cluster::publish_rr(pool, key, event)`: round robin over the pool's live
        members, one cursor per key (a str). Returns False when none is alive."""
        ev = _event_handle(event)
        try:
            done = ctypes.c_bool()
            check(lib.zc_cluster_publish_rr(self._handle(), cstr(pool), cstr(key), ev, ctypes.byref(done)))
            return done.value
        finally:
            lib.zc_event_free(ev)

    def relay_rr(self, pool, key, targets, event):
        """`relay_rr(pool, key, targets, event)`: sends the event to one live member of the
        pool (round robin per key), which publishes it on each topic in `targets` (a str
        or a list of str); e.g. worker to workers through the proxy pool. Returns False
        when no member is alive."""
        if isinstance(targets, str):
            targets = [targets]
        arr = (_cp * len(targets))(*[cstr(t) for t in targets])
        ev = _event_handle(event)
        try:
            done = ctypes.c_bool()
            check(lib.zc_cluster_relay_rr(self._handle(), cstr(pool), cstr(key), arr, len(targets), ev, ctypes.byref(done)))
            return done.value
        finally:
            lib.zc_event_free(ev)

    def raise_event(self, event):
        """Raises the event the Bro 2.5 way: published on the role topic of every role whose
        `<this role>2<role>_events` pattern matches its name. Returns the set of NodeTypes
        it went to (empty when no pattern matches)."""
        ev = _event_handle(event)
        try:
            mask = ctypes.c_uint32()
            check(lib.zc_cluster_raise(self._handle(), ev, ctypes.byref(mask)))
            return {t for t in NodeType if mask.value & (1 << int(t))}
        finally:
            lib.zc_event_free(ev)

    def nodes_up(self):
        """Names of the nodes that said hello and have not gone down, sorted."""
        arr = _pp()
        check(lib.zc_cluster_nodes_up(self._handle(), ctypes.byref(arr)))
        return _take_strings(arr) or []

    @property
    def backend(self):
        """`Cluster::backend`: "Broker" or "ZeroMQ"."""
        v = ctypes.c_int()
        check(lib.zc_cluster_backend_get(self._handle(), ctypes.byref(v)))
        return "ZeroMQ" if v.value == 1 else "Broker"

    def zeromq_stats(self):
        """The started ZeroMQ node's counters as a dict (drops of bad input, held and
        blocked publishes, subscriptions seen, ...). StateError on Broker."""
        text = _out_string(lib.zc_cluster_zeromq_stats, self._handle())
        return {k: int(v) for k, v in (line.split(" ") for line in text.splitlines())}

    @property
    def listen_port(self):
        """The port the started node listens on (0: its `$p` is 0, it does not listen)."""
        v = ctypes.c_uint16()
        check(lib.zc_cluster_listen_port(self._handle(), ctypes.byref(v)))
        return v.value

    def close(self):
        """Stops the node (peers see it go down) and frees everything. Idempotent."""
        if self._h:
            h, self._h = self._h, _p()
            lib.zc_cluster_free(h)
        self._cb = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass


class ZeroMQProxy:
    """Zeek's XPUB/XSUB proxy run on its own (a manager node runs one by itself).
    `options`: a dict of `Cluster::Backend::ZeroMQ::*` settings (listen_xpub_endpoint,
    listen_xsub_endpoint, ...); both sockets are bound when the constructor returns."""

    def __init__(self, options=None):
        self._h = _p()
        opts = _p()
        check(lib.zc_options_new(ctypes.byref(opts)))
        try:
            for key, value in (options or {}).items():
                check(lib.zc_options_set(opts, cstr(key), cstr(_option_text(value))))
            out = _p()
            check(lib.zc_zeromq_proxy_start(opts, ctypes.byref(out)))
            self._h = _p(out.value)
        finally:
            lib.zc_options_free(opts)

    @property
    def xpub_endpoint(self):
        return _out_string(lib.zc_zeromq_proxy_endpoint, self._h, True)

    @property
    def xsub_endpoint(self):
        return _out_string(lib.zc_zeromq_proxy_endpoint, self._h, False)

    def close(self):
        if self._h:
            h, self._h = self._h, _p()
            lib.zc_zeromq_proxy_free(h)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass
