"""The Broker-level endpoint: peering, topic publish/subscribe, messages (zc_endpoint_*)."""

import ctypes
import enum

import asyncio
import struct
import time
from typing import Any, AsyncIterator, Callable, Dict, Iterable, Iterator, List, Optional, Union

from . import _codec
from ._data import Event, _option_text, from_binary
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
_decl(
    "zc_endpoint_publish_many",
    [_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.POINTER(ctypes.c_size_t), ctypes.c_size_t,
     ctypes.POINTER(ctypes.c_size_t)],
)
_BATCH_OUT = [ctypes.c_size_t, ctypes.c_int64, ctypes.POINTER(_p), ctypes.POINTER(ctypes.c_size_t),
              ctypes.POINTER(ctypes.c_size_t)]
_decl("zc_endpoint_next_many", [_p] + _BATCH_OUT)
_decl("zc_cluster_next_many", [_p] + _BATCH_OUT)
_REC = struct.Struct("<BHIIIIII")
_REC_LEN = _REC.size  # ZC_BATCH_HEADER_LEN
_RUN = struct.Struct("<III")  # after the kind byte: n, topic_len, peer_id_len
_RUN_LEN = 1 + _RUN.size  # ZC_BATCH_RUN_HEADER_LEN

_decl("zc_endpoint_publish", [_p, ctypes.c_char_p, _p])
_decl("zc_message_event", [_p, ctypes.POINTER(_p)])
_decl("zc_message_node_name", [_p, ctypes.POINTER(_p)])


class MessageKind(enum.IntEnum):
    """What a message is: the C enum zc_msg_kind, with the same names (ZC_MESSAGE_EVENT is
    EVENT) and numbers, and Rust's MessageKind (Event).

    The endpoint raises EVENT and COMMAND (what peers publish) and the peering statuses
    (PEER_ADDED, PEER_LOST, PEER_REMOVED, PEER_UNAVAILABLE, ENDPOINT_DISCOVERED,
    ENDPOINT_UNREACHABLE, PEER_REJECTED, PEER_INVALID, DESERIALIZATION_FAILED). The cluster
    layer, a service riding on the endpoint, raises HELLO, NODE_UP and NODE_DOWN (and a
    PEER_REJECTED for a hello from a node not in the layout). PEER_UNREACHABLE is the
    deprecated former name of PEER_UNAVAILABLE (the same member)."""

    EVENT = 0
    PEER_ADDED = 1
    PEER_LOST = 2
    PEER_REMOVED = 3
    PEER_UNAVAILABLE = 4
    ENDPOINT_DISCOVERED = 5
    HELLO = 6
    NODE_UP = 7
    NODE_DOWN = 8
    ENDPOINT_UNREACHABLE = 9
    PEER_REJECTED = 10
    COMMAND = 11
    PEER_INVALID = 12
    DESERIALIZATION_FAILED = 13
    # Deprecated: the former name of PEER_UNAVAILABLE (an alias, the same member).
    PEER_UNREACHABLE = 4


class Message:
    """A message from an endpoint. Event and command messages have `.topic` and `.data`
    (the Broker-encoded value, bytes) and, for events, `.event` (a zcluster.Event,
    decoded on first access; None when the data is not a Zeek event, or is nested deeper
    than Python's recursion limit allows to convert: `.data` keeps its bytes); status
    messages have `.peer_id`, `.address`, `.port` and `.text` (DESERIALIZATION_FAILED, a
    dropped undecodable message, also the dropped message's `.topic`). The cluster kinds
    (HELLO, NODE_UP, NODE_DOWN) name the node in `.node_name` (also `.peer_name`) and carry
    its id in `.text`."""

    _event: Optional[Event]

    __slots__ = (
        "kind", "topic", "data", "_event", "peer_id", "peer_name", "node_name", "address",
        "port", "text",
    )

    kind: "MessageKind"
    topic: Optional[str]
    data: Optional[bytes]
    peer_id: Optional[str]
    peer_name: Optional[str]
    node_name: Optional[str]
    address: Optional[str]
    port: Optional[int]
    text: str

    def __init__(self, handle: Any) -> None:
        k = ctypes.c_int()
        check(lib.zc_message_kind(handle, ctypes.byref(k)))
        self.kind = MessageKind(k.value)
        self.topic = self.data = self.address = self.port = self.peer_name = None
        s = _p()
        check(lib.zc_message_text(handle, ctypes.byref(s)))
        self.text = take_string(s.value)
        if self.kind in (MessageKind.EVENT, MessageKind.COMMAND):
            check(lib.zc_message_topic(handle, ctypes.byref(s)))
            self.topic = take_string(s.value)
            n = ctypes.c_size_t()
            check(lib.zc_message_data(handle, ctypes.byref(s), ctypes.byref(n)))
            self.data = take_bytes(s.value, n.value)
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

    @classmethod
    def _from_record(cls, kind, port, topic, data, text, peer_id, address, node):
        """A Message from one record of a zc_*_next_many batch."""
        m = cls.__new__(cls)
        m.kind = MessageKind(kind)
        m.text = text.decode("utf-8", "replace")
        m.peer_id = peer_id.decode() if peer_id else None
        if kind == 0 or kind == 11:  # EVENT, COMMAND
            m.topic = topic.decode("utf-8", "replace")
            m.data = data
            m.address = m.port = m.node_name = m.peer_name = None
        else:
            m.data = None
            # DESERIALIZATION_FAILED names the dropped message's topic.
            m.topic = topic.decode("utf-8", "replace") if kind == 13 else None
            m.address = address.decode("utf-8", "replace")
            m.port = port
            m.node_name = m.peer_name = node.decode("utf-8", "replace") if node else None
        return m

    @property
    def event(self) -> Optional[Event]:
        """The Zeek event an EVENT message carries (None for other data and kinds)."""
        try:
            return self._event
        except AttributeError:
            ev = None
            if self.kind == MessageKind.EVENT and self.data is not None:
                ev = _codec.decode_event(self.data)
            self._event = ev
            return ev

    @property
    def value(self) -> Any:
        """An event or command message's payload as a Python value."""
        return None if self.data is None else _codec.decode(self.data)

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


class _EventMessage(Message):
    """An EVENT message from a batch: the fields every event shares are class attributes,
    so building one sets only topic, data and peer_id."""

    __slots__ = ()
    kind = MessageKind.EVENT
    text = ""
    address = port = node_name = peer_name = None


max_ = max


def _parse_batch(buf: bytes, count: int) -> List[Message]:
    """The Messages of a zc_*_next_many batch (see the C header for the record format):
    runs of events (one topic and sender, then the lengths, then the payloads) and single
    records for everything else."""
    out: List[Message] = []
    append = out.append
    unpack = _REC.unpack_from
    run_unpack = _RUN.unpack_from
    new = object.__new__
    cls = _EventMessage
    at = 0
    end = len(buf)
    while at < end:
        if buf[at] == 0:
            n, tl, pl = run_unpack(buf, at + 1)
            at += _RUN_LEN
            topic = buf[at:at + tl].decode("utf-8", "replace")
            at += tl
            peer = buf[at:at + pl].decode() if pl else None
            at += pl
            lens = struct.unpack_from("<%dI" % n, buf, at)
            at += 4 * n
            for ln in lens:
                m = new(cls)
                m.topic = topic
                m.peer_id = peer
                m.data = buf[at:at + ln]
                at += ln
                append(m)
            continue
        kind, port, tl, dl, xl, pl, al, nl = unpack(buf, at)
        at += _REC_LEN
        fields = []
        for n in (tl, dl, xl, pl, al, nl):
            fields.append(buf[at:at + n])
            at += n
        append(Message._from_record(kind, port, *fields))
    if len(out) != count:
        raise RuntimeError("zcluster: a batch of %d messages held %d" % (count, len(out)))
    return out


class _Delivery:
    """How messages reach the host, shared by Endpoint and Cluster (the C functions differ
    only by their prefix): next() with a timeout, a pollable fd(), and a callback run
    inside poll(). `_PREFIX` names the C functions (zc_endpoint_ or zc_cluster_)."""

    _PREFIX = ""
    _cb: Any = None
    _cb_error: Optional[BaseException] = None

    def _handle(self) -> Any:  # provided by Endpoint and Cluster
        raise NotImplementedError

    def _c(self, name):
        return getattr(lib, self._PREFIX + name)

    def next(self, timeout: Optional[float] = None) -> Optional[Message]:
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

    def next_many(self, max: int = 1024, timeout: Optional[float] = None) -> List[Message]:
        """Up to `max` waiting messages in one library call: waits up to `timeout` seconds
        for the first (None: without limit, 0: not at all), then takes whatever else is
        already waiting, in order. [] when nothing arrived in time."""
        if max < 1:
            raise ValueError("next_many: max must be at least 1")
        ms = -1 if timeout is None else max_(0, int(timeout * 1000))
        buf, n, count = _p(), ctypes.c_size_t(), ctypes.c_size_t()
        rc = self._c("next_many")(self._handle(), max, ms, ctypes.byref(buf), ctypes.byref(n), ctypes.byref(count))
        if rc == 11:  # ZC_ERR_TIMEOUT
            return []
        check(rc)
        return _parse_batch(take_bytes(buf.value, n.value), count.value)

    def messages(self, timeout: Optional[float] = None, batch: int = 1024) -> Iterator[Message]:
        """Iterates over incoming messages (fetched in batches) until none arrives within
        `timeout` seconds (None: until the endpoint is closed)::

            for msg in ep.messages(timeout=5):
                ...
        """
        from ._lib import ClosedError

        while True:
            try:
                got = self.next_many(batch, timeout)
            except ClosedError:
                return
            if not got:
                return
            yield from got

    def __aiter__(self) -> AsyncIterator[Message]:
        """`async for msg in ep`: messages as they arrive, without blocking the event loop
        (the descriptor is watched with loop.add_reader). Ends when the endpoint closes."""
        return self._aiter()

    async def _aiter(self) -> AsyncIterator[Message]:
        from ._lib import ClosedError

        while True:
            try:
                got = await self.recv_many()
            except ClosedError:
                return
            for m in got:
                yield m

    async def recv(self, timeout: Optional[float] = None) -> Optional[Message]:
        """Awaits the next message (None after `timeout` seconds)."""
        got = await self.recv_many(1, timeout)
        return got[0] if got else None

    async def recv_many(self, max: int = 1024, timeout: Optional[float] = None) -> List[Message]:
        """Awaits up to `max` messages: returns as soon as at least one waits, [] after
        `timeout` seconds (None: no limit). Raises ClosedError once the endpoint is closed."""
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        while True:
            got = self.next_many(max, 0)
            if got:
                return got
            left = None if deadline is None else deadline - loop.time()
            if left is not None and left <= 0:
                return []
            fd = self.fd()
            ready = loop.create_future()

            def on_ready(f=ready):
                if not f.done():
                    f.set_result(None)

            loop.add_reader(fd, on_ready)
            try:
                # Bounded, so that a close by another task is noticed.
                await asyncio.wait_for(ready, 0.5 if left is None else min(left, 0.5))
            except asyncio.TimeoutError:
                pass
            finally:
                loop.remove_reader(fd)

    def fd(self) -> int:
        """A descriptor readable exactly while messages wait (for select/poll loops)."""
        fd = ctypes.c_int()
        check(self._c("fd")(self._handle(), ctypes.byref(fd)))
        return fd.value

    def on_message(self, callback: Optional[Callable[[Message], None]]) -> None:
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

    def poll(self, timeout: float = 0.0) -> int:
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
    # Attached by the _store module: attach_master(name, backend=..., path=...) -> Store,
    # attach_clone(name, resync_interval=..., ...) -> Store.
    attach_master: Callable[..., Any]
    attach_clone: Callable[..., Any]

    def __init__(self, options: Optional[Dict[str, Any]] = None) -> None:
        self._h = None
        self._cb = None
        opts = _p()
        check(lib.zc_endpoint_options_new(ctypes.byref(opts)))
        try:
            for name, value in (options or {}).items():
                check(lib.zc_endpoint_options_set(opts, cstr(name), cstr(_option_text(value))))
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
    def id(self) -> str:
        s = _p()
        check(lib.zc_endpoint_id(self._handle(), ctypes.byref(s)))
        return take_string(s.value)

    def listen(self, address: str = "", port: int = 0) -> int:
        """Listens and returns the bound port (port 0 picks one)."""
        bound = ctypes.c_uint16()
        check(lib.zc_endpoint_listen(self._handle(), cstr(address), port, ctypes.byref(bound)))
        return bound.value

    def peer(self, address: str, port: int, retry: float = 10.0) -> None:
        """Starts peering; retry (seconds, 0 = once) also re-establishes a lost peering."""
        check(lib.zc_endpoint_peer(self._handle(), cstr(address), port, int(retry * 1000)))

    def unpeer(self, address: str, port: int) -> None:
        check(lib.zc_endpoint_unpeer(self._handle(), cstr(address), port))

    def subscribe(self, topic_prefix: str) -> None:
        check(lib.zc_endpoint_subscribe(self._handle(), cstr(topic_prefix)))

    def unsubscribe(self, topic_prefix: str) -> None:
        check(lib.zc_endpoint_unsubscribe(self._handle(), cstr(topic_prefix)))

    def publish_data(self, topic: str, data: bytes) -> None:
        """Publishes one Broker-encoded value (bytes in Broker's binary format)."""
        data = bytes(data)
        check(lib.zc_endpoint_publish_data(self._handle(), cstr(topic), data, len(data)))

    def publish(self, topic: str, event: Union[Event, bytes]) -> None:
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

    def publish_many(self, topic: str, events: Iterable[Union[Event, bytes, Any]]) -> int:
        """Publishes every item of `events` on `topic` in one library call: zcluster.Event
        objects, bytes (one Broker-encoded value each, as publish_data takes), or any other
        Python value (published as that Broker value; a str is a Broker string, bytes are
        already encoded, as for publish). Items are encoded in Python (the
        common types without a library call); a malformed one publishes nothing of the
        batch (DecodeError). Returns how many were published; if a publish fails part-way
        (WouldBlock under backpressure, ClosedError), the exception's `.published` says
        how many went out before it."""
        enc = _codec.encode
        parts = [
            e if type(e) is bytes else bytes(e) if isinstance(e, (bytearray, memoryview)) else enc(e)
            for e in events
        ]
        n = len(parts)
        if n == 0:
            return 0
        lens = (ctypes.c_size_t * n)(*map(len, parts))
        data = b"".join(parts)
        done = ctypes.c_size_t()
        rc = lib.zc_endpoint_publish_many(self._handle(), cstr(topic), data, lens, n, ctypes.byref(done))
        if rc != 0:
            try:
                check(rc)
            except Exception as e:
                setattr(e, "published", done.value)
                raise
        return done.value

    @property
    def peer_count(self) -> int:
        n = ctypes.c_size_t()
        check(lib.zc_endpoint_peer_count(self._handle(), ctypes.byref(n)))
        return n.value

    def peer_subscribed(self, topic: str) -> bool:
        """Whether some peer subscribed to a prefix of `topic`."""
        b = ctypes.c_bool()
        check(lib.zc_endpoint_peer_subscribed(self._handle(), cstr(topic), ctypes.byref(b)))
        return b.value

    def stats(self) -> Dict[str, int]:
        s = _Stats()
        check(lib.zc_endpoint_get_stats(self._handle(), ctypes.byref(s)))
        return {f[0]: getattr(s, f[0]) for f in _Stats._fields_}

    def connect_websocket(self, url, topics=(), retry=0.0, **options):
        """Connects to a Zeek WebSocket API server (ws://host:port/v1/messages/json, or
        wss:// for TLS) instead of peering: subscribes `topics` there; what the server
        sends arrives as EVENT messages, and what this endpoint publishes goes to the
        server. Statuses: PEER_ADDED (acknowledged), PEER_UNAVAILABLE (also a TLS
        failure, with OpenSSL's reason), PEER_REJECTED (Zeek's error), PEER_LOST; a
        retry > 0 (seconds) reconnects. Options: application_name, and for wss://
        verify_peer (default True: certificate and host name), ca_file, ca_path,
        cert_file, key_file, ciphers."""
        from ._telemetry import connect_websocket

        connect_websocket(self, url, list(topics), retry, options)

    def metrics(self):
        """All counters as a dict: endpoint totals, per-peer events/bytes in and out and
        buffer fill, process memory and CPU (zc_endpoint_stats_json)."""
        from ._telemetry import endpoint_stats_json

        return endpoint_stats_json(self)

    def close(self) -> None:
        """Flushes, closes every socket and joins the I/O thread. Idempotent."""
        if self._h is not None:
            h, self._h = self._h, None
            lib.zc_endpoint_free(h)
        self._cb = None

    def __enter__(self) -> "Endpoint":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass
