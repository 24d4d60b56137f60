"""The Broker-level endpoint: peering, topic publish/subscribe, messages (zc_endpoint_*)."""

import ctypes
import enum

from ._data import Event, from_binary
from ._lib import check, cstr, lib, take_bytes, take_string

_p = ctypes.c_void_p
_MSG_CB = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_void_p)
_FREE_CB = ctypes.CFUNCTYPE(None, ctypes.c_void_p)


class _Stats(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_uint64)
        for name in (
            "inbox_dropped",
            "peer_dropped",
            "peer_overflow_disconnects",
            "ttl_dropped",
            "published",
            "received",
            "forwarded",
            "undecodable",
        )
    ]


def _decl(name, argtypes, restype=ctypes.c_int):
    f = getattr(lib, name)
    f.argtypes = argtypes
    f.restype = restype


_decl("zc_endpoint_options_new", [ctypes.POINTER(_p)])
_decl("zc_endpoint_options_set", [_p, ctypes.c_char_p, ctypes.c_char_p])
_decl("zc_endpoint_options_free", [_p], None)
_decl("zc_endpoint_new", [_p, ctypes.POINTER(_p)])
_decl("zc_endpoint_free", [_p], None)
_decl("zc_endpoint_id", [_p, ctypes.POINTER(_p)])
_decl("zc_endpoint_listen", [_p, ctypes.c_char_p, ctypes.c_uint16, ctypes.POINTER(ctypes.c_uint16)])
_decl("zc_endpoint_peer", [_p, ctypes.c_char_p, ctypes.c_uint16, ctypes.c_uint64])
_decl("zc_endpoint_unpeer", [_p, ctypes.c_char_p, ctypes.c_uint16])
_decl("zc_endpoint_subscribe", [_p, ctypes.c_char_p])
_decl("zc_endpoint_unsubscribe", [_p, ctypes.c_char_p])
_decl("zc_endpoint_publish_data", [_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_size_t])
_decl("zc_endpoint_fd", [_p, ctypes.POINTER(ctypes.c_int)])
_decl("zc_endpoint_next", [_p, ctypes.c_int64, ctypes.POINTER(_p)])
_decl("zc_endpoint_set_callback", [_p, _MSG_CB, _p, _FREE_CB])
_decl("zc_endpoint_poll", [_p, ctypes.c_int64, ctypes.POINTER(ctypes.c_size_t)])
_decl("zc_endpoint_peer_count", [_p, ctypes.POINTER(ctypes.c_size_t)])
_decl("zc_endpoint_peer_subscribed", [_p, ctypes.c_char_p, ctypes.POINTER(ctypes.c_bool)])
_decl("zc_endpoint_get_stats", [_p, ctypes.POINTER(_Stats)])
_decl("zc_message_kind", [_p, ctypes.POINTER(ctypes.c_int)])
_decl("zc_message_topic", [_p, ctypes.POINTER(_p)])
_decl("zc_message_data", [_p, ctypes.POINTER(_p), ctypes.POINTER(ctypes.c_size_t)])
_decl("zc_message_text", [_p, ctypes.POINTER(_p)])
_decl("zc_message_peer_id", [_p, ctypes.POINTER(_p)])
_decl("zc_message_address", [_p, ctypes.POINTER(_p), ctypes.POINTER(ctypes.c_uint16)])
_decl("zc_message_free", [_p], None)
_decl("zc_endpoint_publish", [_p, ctypes.c_char_p, _p])
_decl("zc_message_event", [_p, ctypes.POINTER(_p)])
_decl("zc_message_node_name", [_p, ctypes.POINTER(_p)])


class MessageKind(enum.IntEnum):
    """What a message is (the C enum zc_msg_kind)."""

    EVENT = 0
    PEER_ADDED = 1
    PEER_LOST = 2
    PEER_REMOVED = 3
    PEER_UNREACHABLE = 4
    ENDPOINT_DISCOVERED = 5
    HELLO = 6
    NODE_UP = 7
    NODE_DOWN = 8
    ENDPOINT_UNREACHABLE = 9
    PEER_REJECTED = 10
    COMMAND = 11
    PEER_INVALID = 12
    DESERIALIZATION_FAILED = 13


class Message:
    """A message from an endpoint. Event and command messages have `.topic` and `.data`
    (the Broker-encoded value, bytes); status messages have `.peer_id`, `.address`,
    `.port` and `.text` (DESERIALIZATION_FAILED, a dropped undecodable message, also the
    dropped message's `.topic`). The cluster kinds (HELLO, NODE_UP, NODE_DOWN) name the node in
    `.node_name` (also `.peer_name`) and carry its id in `.text`."""

    __slots__ = (
        "kind", "topic", "data", "event", "peer_id", "peer_name", "node_name", "address", "port", "text",
    )

    def __init__(self, handle):
        k = ctypes.c_int()
        check(lib.zc_message_kind(handle, ctypes.byref(k)))
        self.kind = MessageKind(k.value)
        self.topic = self.data = self.event = self.address = self.port = self.peer_name = None
        s = _p()
        check(lib.zc_message_text(handle, ctypes.byref(s)))
        self.text = take_string(s.value)
        if self.kind in (MessageKind.EVENT, MessageKind.COMMAND):
            check(lib.zc_message_topic(handle, ctypes.byref(s)))
            self.topic = take_string(s.value)
            n = ctypes.c_size_t()
            check(lib.zc_message_data(handle, ctypes.byref(s), ctypes.byref(n)))
            self.data = take_bytes(s.value, n.value)
            if self.kind == MessageKind.EVENT:
                ev = _p()
                # Data that is not a Zeek event (a plain value) leaves .event None, and so
                # does an event nested deeper than Python's recursion limit allows to
                # convert (the library accepts 4096 levels): .data keeps its bytes.
                if lib.zc_message_event(handle, ctypes.byref(ev)) == 0:
                    try:
                        self.event = Event._from_event_handle(ev)
                    except (RecursionError, ctypes.ArgumentError) as e:
                        # ctypes reports a RecursionError met while converting an argument
                        # as ArgumentError; anything else is a real error.
                        if not isinstance(e, RecursionError) and "RecursionError" not in str(e):
                            raise
                        self.event = None
                    finally:
                        lib.zc_event_free(ev)
        else:
            if self.kind == MessageKind.DESERIALIZATION_FAILED:
                # The dropped message's topic; the peer as for other statuses.
                check(lib.zc_message_topic(handle, ctypes.byref(s)))
                self.topic = take_string(s.value)
            port = ctypes.c_uint16()
            check(lib.zc_message_address(handle, ctypes.byref(s), ctypes.byref(port)))
            self.address = take_string(s.value)
            self.port = port.value
        self.peer_id = self.node_name = None
        if lib.zc_message_peer_id(handle, ctypes.byref(s)) == 0:
            self.peer_id = take_string(s.value)
        # Only the cluster layer names nodes (NOT_FOUND / TYPE otherwise: not an error).
        if self.kind not in (MessageKind.EVENT, MessageKind.COMMAND):
            if lib.zc_message_node_name(handle, ctypes.byref(s)) == 0:
                self.node_name = self.peer_name = take_string(s.value)

    @property
    def value(self):
        """An event or command message's payload as a Python value."""
        return None if self.data is None else from_binary(self.data)

    def __repr__(self):
        if self.event is not None:
            return "Message(EVENT, topic=%r, event=%r)" % (self.topic, self.event)
        if self.topic is not None:
            return "Message(%s, topic=%r, data=%r)" % (self.kind.name, self.topic, self.data)
        if self.node_name is not None:
            return "Message(%s, node_name=%r, peer_id=%r, text=%r)" % (
                self.kind.name,
                self.node_name,
                self.peer_id,
                self.text,
            )
        return "Message(%s, peer_id=%r, address=%r, port=%r, text=%r)" % (
            self.kind.name,
            self.peer_id,
            self.address,
            self.port,
            self.text,
        )


class _Delivery:
    """How messages reach the host, shared by Endpoint and Cluster (the C functions differ
    only by their prefix): next() with a timeout, a pollable fd(), and a callback run
    inside poll(). `_PREFIX` names the C functions (zc_endpoint_ or zc_cluster_)."""

    _PREFIX = ""
    _cb = None
    _cb_error = None

    def _c(self, name):
        return getattr(lib, self._PREFIX + name)

    def next(self, timeout=None):
        """The next Message (events and statuses; on a cluster also HELLO / NODE_UP /
        NODE_DOWN with `.node_name`), or None if none arrives within `timeout` seconds
        (None waits without limit, 0 does not wait)."""
        ms = -1 if timeout is None else max(0, int(timeout * 1000))
        h = _p()
        rc = self._c("next")(self._handle(), ms, ctypes.byref(h))
        if rc == 11:  # ZC_ERR_TIMEOUT
            return None
        check(rc)
        try:
            return Message(h)
        finally:
            lib.zc_message_free(h)

    def fd(self):
        """A descriptor readable exactly while messages wait (for select/poll loops)."""
        fd = ctypes.c_int()
        check(self._c("fd")(self._handle(), ctypes.byref(fd)))
        return fd.value

    def on_message(self, callback):
        """Registers callback(msg), run inside poll() on the calling thread (None clears)."""
        if callback is None:
            check(self._c("set_callback")(self._handle(), _MSG_CB(), None, _FREE_CB()))
            self._cb = None
            return

        def trampoline(handle, _userdata):
            try:
                callback(Message(handle))
            except Exception as e:  # never unwind into C
                self._cb_error = e

        cb = _MSG_CB(trampoline)
        check(self._c("set_callback")(self._handle(), cb, None, _FREE_CB()))
        self._cb = cb

    def poll(self, timeout=0.0):
        """Runs the callback for waiting messages, waiting up to `timeout` seconds for the
        first; returns how many were handled. An exception raised by the callback is
        re-raised here."""
        self._cb_error = None
        n = ctypes.c_size_t()
        check(self._c("poll")(self._handle(), int(timeout * 1000), ctypes.byref(n)))
        if self._cb_error is not None:
            e, self._cb_error = self._cb_error, None
            raise e
        return n.value


class Endpoint(_Delivery):
    """A Broker endpoint with its own I/O thread.

    `options` maps option names to values (see zc_endpoint_options_set), e.g.
    {"Broker::forward_messages": False, "Broker::peer_overflow_policy": "drop_oldest"}.
    Callbacks registered with on_message run inside poll(), on the calling thread.
    """

    _PREFIX = "zc_endpoint_"

    def __init__(self, options=None):
        self._h = None
        self._cb = None
        opts = _p()
        check(lib.zc_endpoint_options_new(ctypes.byref(opts)))
        try:
            for name, value in (options or {}).items():
                if isinstance(value, bool):
                    value = "T" if value else "F"
                check(lib.zc_endpoint_options_set(opts, cstr(name), cstr(str(value))))
            h = _p()
            check(lib.zc_endpoint_new(opts, ctypes.byref(h)))
            self._h = h
        finally:
            lib.zc_endpoint_options_free(opts)

    def _handle(self):
        if self._h is None:
            from ._lib import ClosedError

            raise ClosedError("the endpoint is closed")
        return self._h

    @property
    def id(self):
        s = _p()
        check(lib.zc_endpoint_id(self._handle(), ctypes.byref(s)))
        return take_string(s.value)

    def listen(self, address="", port=0):
        """Listens and returns the bound port (port 0 picks one)."""
        bound = ctypes.c_uint16()
        check(lib.zc_endpoint_listen(self._handle(), cstr(address), port, ctypes.byref(bound)))
        return bound.value

    def peer(self, address, port, retry=10.0):
        """Starts peering; retry (seconds, 0 = once) also re-establishes a lost peering."""
        check(lib.zc_endpoint_peer(self._handle(), cstr(address), port, int(retry * 1000)))

    def unpeer(self, address, port):
        check(lib.zc_endpoint_unpeer(self._handle(), cstr(address), port))

    def subscribe(self, topic_prefix):
        check(lib.zc_endpoint_subscribe(self._handle(), cstr(topic_prefix)))

    def unsubscribe(self, topic_prefix):
        check(lib.zc_endpoint_unsubscribe(self._handle(), cstr(topic_prefix)))

    def publish_data(self, topic, data):
        """Publishes one Broker-encoded value (bytes in Broker's binary format)."""
        data = bytes(data)
        check(lib.zc_endpoint_publish_data(self._handle(), cstr(topic), data, len(data)))

    def publish(self, topic, event):
        """Publishes a zcluster.Event (or, as bytes, one Broker-encoded value)."""
        if isinstance(event, (bytes, bytearray, memoryview)):
            return self.publish_data(topic, event)
        if not isinstance(event, Event):
            raise TypeError("publish: expected a zcluster.Event or bytes, got %s" % type(event).__name__)
        ev = event._to_event_handle()
        try:
            check(lib.zc_endpoint_publish(self._handle(), cstr(topic), ev))
        finally:
            lib.zc_event_free(ev)

    @property
    def peer_count(self):
        n = ctypes.c_size_t()
        check(lib.zc_endpoint_peer_count(self._handle(), ctypes.byref(n)))
        return n.value

    def peer_subscribed(self, topic):
        """Whether some peer subscribed to a prefix of `topic`."""
        b = ctypes.c_bool()
        check(lib.zc_endpoint_peer_subscribed(self._handle(), cstr(topic), ctypes.byref(b)))
        return b.value

    def stats(self):
        s = _Stats()
        check(lib.zc_endpoint_get_stats(self._handle(), ctypes.byref(s)))
        return {name: getattr(s, name) for name, _ in _Stats._fields_}

    def connect_websocket(self, url, topics=(), retry=0.0):
        """Connects to a Zeek WebSocket API server (ws://host:port/v1/messages/json)
        instead of peering: subscribes `topics` there; what the server sends arrives as
        EVENT messages, and what this endpoint publishes goes to the server. Statuses:
        PEER_ADDED (acknowledged), PEER_UNREACHABLE, PEER_REJECTED (Zeek's error),
        PEER_LOST; a retry > 0 (seconds) reconnects."""
        from ._telemetry import connect_websocket

        connect_websocket(self, url, list(topics), retry)

    def metrics(self):
        """All counters as a dict: endpoint totals, per-peer events/bytes in and out and
        buffer fill, process memory and CPU (zc_endpoint_stats_json)."""
        from ._telemetry import endpoint_stats_json

        return endpoint_stats_json(self)

    def close(self):
        """Flushes, closes every socket and joins the I/O thread. Idempotent."""
        if self._h is not None:
            h, self._h = self._h, None
            lib.zc_endpoint_free(h)
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
