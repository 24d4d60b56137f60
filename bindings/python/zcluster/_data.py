"""Broker values and Zeek events: Python <-> zc_value conversion.

Python values map to Broker types as Broker's own Python bindings map them:

    None -> none            bool -> boolean        int -> integer       Count -> count
    float -> real           str, bytes -> string   IPv4/6Address -> address
    IPv4/6Network -> subnet Port -> port           datetime -> timestamp (naive = UTC)
    timedelta -> timespan   Enum -> enum-value     set/frozenset -> set
    dict -> table           list/tuple -> vector   Event -> its [1, 1, [...]] vector

Back from Broker: strings are str when valid UTF-8, else bytes; vectors are lists (tuples
where a hashable value is needed: set members and table keys); sets are sets (frozensets
inside sets); tables are dicts (hashable `FrozenTable` where needed); timestamps are
timezone-aware UTC `Timestamp` objects (a datetime subclass that also keeps the exact
nanoseconds in `.ns`); timespans are `Timespan` objects (a timedelta subclass with `.ns`).
"""

import ctypes
import datetime as _dt
import ipaddress

from ._lib import check, cstr, lib, take_bytes, take_string

_P = ctypes.c_void_p
_PP = ctypes.POINTER(ctypes.c_void_p)
_rc = ctypes.c_int


def _decl(name, *args):
    f = getattr(lib, name)
    f.argtypes = list(args)
    f.restype = _rc


_decl("zc_value_none", _PP)
_decl("zc_value_bool", ctypes.c_bool, _PP)
_decl("zc_value_count", ctypes.c_uint64, _PP)
_decl("zc_value_integer", ctypes.c_int64, _PP)
_decl("zc_value_real", ctypes.c_double, _PP)
_decl("zc_value_string", ctypes.c_char_p, ctypes.c_size_t, _PP)
_decl("zc_value_address", ctypes.c_char_p, _PP)
_decl("zc_value_subnet", ctypes.c_char_p, _PP)
_decl("zc_value_port", ctypes.c_uint16, ctypes.c_int, _PP)
_decl("zc_value_timestamp", ctypes.c_int64, _PP)
_decl("zc_value_timespan", ctypes.c_int64, _PP)
_decl("zc_value_enum", ctypes.c_char_p, _PP)
_decl("zc_value_set_new", _PP)
_decl("zc_value_table_new", _PP)
_decl("zc_value_vector_new", _PP)
_decl("zc_value_set_insert", _P, _P)
_decl("zc_value_table_insert", _P, _P, _P)
_decl("zc_value_vector_push", _P, _P)
_decl("zc_value_type", _P, ctypes.POINTER(ctypes.c_int))
_decl("zc_value_get_bool", _P, ctypes.POINTER(ctypes.c_bool))
_decl("zc_value_get_count", _P, ctypes.POINTER(ctypes.c_uint64))
_decl("zc_value_get_integer", _P, ctypes.POINTER(ctypes.c_int64))
_decl("zc_value_get_real", _P, ctypes.POINTER(ctypes.c_double))
_decl("zc_value_get_string", _P, _PP, ctypes.POINTER(ctypes.c_size_t))
_decl("zc_value_get_address", _P, _PP)
_decl("zc_value_get_subnet", _P, _PP)
_decl("zc_value_get_port", _P, ctypes.POINTER(ctypes.c_uint16), ctypes.POINTER(ctypes.c_int))
_decl("zc_value_get_timestamp", _P, ctypes.POINTER(ctypes.c_int64))
_decl("zc_value_get_timespan", _P, ctypes.POINTER(ctypes.c_int64))
_decl("zc_value_get_enum", _P, _PP)
_decl("zc_value_size", _P, ctypes.POINTER(ctypes.c_size_t))
_decl("zc_value_at", _P, ctypes.c_size_t, _PP)
_decl("zc_value_table_entry_at", _P, ctypes.c_size_t, _PP, _PP)
_decl("zc_value_to_json", _P, _PP)
_decl("zc_value_from_json", ctypes.c_char_p, _PP)
_decl("zc_value_to_binary", _P, _PP, ctypes.POINTER(ctypes.c_size_t))
_decl("zc_value_from_binary", ctypes.c_char_p, ctypes.c_size_t, _PP)
_decl("zc_value_to_string", _P, _PP)
lib.zc_value_free.argtypes = [_P]
lib.zc_value_free.restype = None
_decl("zc_event_from_value", _P, _PP)
_decl("zc_event_to_value", _P, _PP)
lib.zc_event_free.argtypes = [_P]
lib.zc_event_free.restype = None

_PROTOS = ("?", "tcp", "udp", "icmp")
_EPOCH = _dt.datetime(1970, 1, 1, tzinfo=_dt.timezone.utc)
_U64 = (1 << 64) - 1


class Count(int):
    """A Broker count (unsigned 64-bit); a plain int is an integer."""

    def __new__(cls, value=0):
        self = int.__new__(cls, value)
        if not 0 <= self <= _U64:
            raise ValueError("Count must be in 0..2**64-1, got %d" % int(self))
        return self

    def __repr__(self):
        return "Count(%d)" % int(self)


class Port:
    """A transport-layer port: `number` (0..65535) and `protocol` ('tcp', 'udp', 'icmp'
    or '?' for unknown)."""

    TCP, UDP, ICMP, UNKNOWN = "tcp", "udp", "icmp", "?"
    __slots__ = ("number", "protocol")

    def __init__(self, number, protocol="tcp"):
        number = int(number)
        if not 0 <= number <= 65535:
            raise ValueError("port number must be in 0..65535, got %d" % number)
        if protocol not in _PROTOS:
            raise ValueError("protocol must be one of tcp, udp, icmp, ?; got %r" % (protocol,))
        self.number = number
        self.protocol = protocol

    @classmethod
    def parse(cls, text):
        """'80/tcp' -> Port(80, 'tcp'); other protocol text is '?', no slash means TCP."""
        num, slash, proto = text.partition("/")
        if not slash:
            return cls(int(num), "tcp")
        return cls(int(num), proto if proto in _PROTOS else "?")

    def __eq__(self, other):
        return isinstance(other, Port) and (self.number, self.protocol) == (other.number, other.protocol)

    def __hash__(self):
        return hash((self.number, self.protocol))

    def __repr__(self):
        return "Port(%d, %r)" % (self.number, self.protocol)

    def __str__(self):
        return "%d/%s" % (self.number, self.protocol)


def _option_text(value):
    """A Python option value as the text every *_options_set call takes (one grammar for
    all of them, docs/options.md): bool -> T/F, datetime.timedelta -> seconds, int and
    float -> the number, Port -> "80/tcp", addresses and Enum -> their text, str as is."""
    if isinstance(value, bool):
        return "T" if value else "F"
    if isinstance(value, _dt.timedelta):
        return repr(value.total_seconds())
    if isinstance(value, (int, float)):
        return repr(value) if isinstance(value, float) else str(int(value))
    if isinstance(value, str):
        return value
    if isinstance(value, Port):
        return "%d/%s" % (value.number, "unknown" if value.protocol == "?" else value.protocol)
    if isinstance(value, (ipaddress.IPv4Address, ipaddress.IPv6Address, Enum)):
        return str(value)
    raise TypeError("option values are bool, int, float, datetime.timedelta, str, Port, an "
                    "ipaddress address or Enum, not %s" % type(value).__name__)


class Enum:
    """A Zeek enum value, by its (qualified) name, e.g. Enum('Cluster::WORKER')."""

    __slots__ = ("name",)

    def __init__(self, name):
        if not isinstance(name, str):
            raise TypeError("Enum name must be a str")
        self.name = name

    def __eq__(self, other):
        return isinstance(other, Enum) and self.name == other.name

    def __hash__(self):
        return hash(("zcluster.Enum", self.name))

    def __repr__(self):
        return "Enum(%r)" % self.name

    def __str__(self):
        return self.name


class Timestamp(_dt.datetime):
    """A UTC datetime that also keeps Broker's exact nanoseconds (`.ns`)."""

    @classmethod
    def from_ns(cls, ns):
        us, rest = divmod(ns, 1000)
        d = _EPOCH + _dt.timedelta(microseconds=us)
        self = cls(d.year, d.month, d.day, d.hour, d.minute, d.second, d.microsecond, tzinfo=_dt.timezone.utc)
        self._ns = ns
        return self

    @property
    def ns(self):
        return getattr(self, "_ns", _datetime_ns(self))


class Timespan(_dt.timedelta):
    """A timedelta that also keeps Broker's exact nanoseconds (`.ns`)."""

    @classmethod
    def from_ns(cls, ns):
        us = ns // 1000 if ns >= 0 else -((-ns) // 1000)
        self = cls(microseconds=us)
        self._ns = ns
        return self

    @property
    def ns(self):
        return getattr(self, "_ns", _timedelta_ns(self))


def _datetime_ns(d):
    if isinstance(d, Timestamp) and hasattr(d, "_ns"):
        return d._ns
    if d.tzinfo is None:
        d = d.replace(tzinfo=_dt.timezone.utc)
    return _timedelta_ns(d - _EPOCH, exact=False)


def _timedelta_ns(t, exact=True):
    if exact and isinstance(t, Timespan) and hasattr(t, "_ns"):
        return t._ns
    return (t.days * 86400 + t.seconds) * 1_000_000_000 + t.microseconds * 1000


class FrozenTable(dict):
    """A read-only, hashable dict: a Broker table where Python needs a hashable value
    (a set member or a table key)."""

    def __hash__(self):
        return hash(frozenset(self.items()))

    def _ro(self, *a, **k):
        raise TypeError("FrozenTable is read-only")

    __setitem__ = __delitem__ = clear = pop = popitem = setdefault = update = _ro


class Event:
    """A Zeek event: `name`, `args` (a list of Python values) and `metadata` (a list of
    (key, value) pairs; key 1 is the network timestamp)."""

    def __init__(self, name, args=(), metadata=None, timestamp=None):
        if not isinstance(name, str) or not name:
            raise ValueError("event name must be a non-empty str")
        self.name = name
        self.args = list(args)
        self.metadata = list(metadata or [])
        if timestamp is not None:
            self.timestamp = timestamp

    @property
    def timestamp(self):
        """The network timestamp (metadata key 1) as a Timestamp, or None."""
        for k, v in self.metadata:
            if k == 1:
                return v
        return None

    @timestamp.setter
    def timestamp(self, when):
        self.metadata = [(k, v) for k, v in self.metadata if k != 1]
        if when is not None:
            if not isinstance(when, _dt.datetime):
                raise TypeError("timestamp must be a datetime")
            self.metadata.insert(0, (1, when))

    def to_value(self):
        """Zeek's layout as Python values: [Count(1), Count(1), [name, args, meta?]]."""
        content = [self.name, list(self.args)]
        if self.metadata:
            content.append([[Count(k), v] for k, v in self.metadata])
        return [Count(1), Count(1), content]

    @classmethod
    def from_value(cls, value):
        """Reads an event from Python values, with Zeek's validation (done by the
        library): raises TypeMismatch if `value` is not a Zeek event."""
        h = _to_handle(value)
        try:
            ev = _P()
            check(lib.zc_event_from_value(h, ctypes.byref(ev)))
        finally:
            lib.zc_value_free(h)
        try:
            return cls._from_event_handle(ev)
        finally:
            lib.zc_event_free(ev)

    def _to_event_handle(self):
        """A new zc_event handle (caller frees it with zc_event_free)."""
        h = _to_handle(self.to_value())
        try:
            ev = _P()
            check(lib.zc_event_from_value(h, ctypes.byref(ev)))
            return ev
        finally:
            lib.zc_value_free(h)

    @classmethod
    def _from_event_handle(cls, ev):
        """An Event from a zc_event handle (the handle stays the caller's)."""
        v = _P()
        check(lib.zc_event_to_value(ev, ctypes.byref(v)))
        try:
            outer = _from_handle(v)
        finally:
            lib.zc_value_free(v)
        content = outer[2]
        meta = [(int(k), x) for k, x in content[2]] if len(content) > 2 else []
        return cls(content[0], content[1], meta)

    def __eq__(self, other):
        return (
            isinstance(other, Event)
            and (self.name, self.args, self.metadata) == (other.name, other.args, other.metadata)
        )

    def __repr__(self):
        return "Event(%r, %r%s)" % (self.name, self.args, ", metadata=%r" % self.metadata if self.metadata else "")


# ---------------------------------------------------------------------------------------
# Python -> zc_value


def _new(fn, *args):
    h = _P()
    check(fn(*(args + (ctypes.byref(h),))))
    return h


def _to_handle(x):
    """Builds a new zc_value handle from a Python value (the caller frees it)."""
    if x is None:
        return _new(lib.zc_value_none)
    if isinstance(x, bool):
        return _new(lib.zc_value_bool, x)
    if isinstance(x, Count):
        return _new(lib.zc_value_count, int(x))
    if isinstance(x, int):
        if not -(1 << 63) <= x < (1 << 63):
            raise OverflowError("int %d does not fit Broker's 64-bit integer (use Count for unsigned)" % x)
        return _new(lib.zc_value_integer, x)
    if isinstance(x, float):
        return _new(lib.zc_value_real, x)
    if isinstance(x, str):
        b = x.encode("utf-8", "surrogateescape")
        return _new(lib.zc_value_string, b, len(b))
    if isinstance(x, (bytes, bytearray, memoryview)):
        b = bytes(x)
        return _new(lib.zc_value_string, b, len(b))
    if isinstance(x, (ipaddress.IPv4Address, ipaddress.IPv6Address)):
        return _new(lib.zc_value_address, cstr(str(x)))
    if isinstance(x, (ipaddress.IPv4Network, ipaddress.IPv6Network)):
        return _new(lib.zc_value_subnet, cstr(str(x)))
    if isinstance(x, Port):
        return _new(lib.zc_value_port, x.number, _PROTOS.index(x.protocol))
    if isinstance(x, _dt.datetime):
        return _new(lib.zc_value_timestamp, _datetime_ns(x))
    if isinstance(x, _dt.timedelta):
        return _new(lib.zc_value_timespan, _timedelta_ns(x))
    if isinstance(x, Enum):
        return _new(lib.zc_value_enum, cstr(x.name))
    if isinstance(x, Event):
        return _to_handle(x.to_value())
    if isinstance(x, (set, frozenset)):
        return _container(lib.zc_value_set_new, x, lambda c, e: lib.zc_value_set_insert(c, e))
    if isinstance(x, dict):
        c = _new(lib.zc_value_table_new)
        try:
            for k, v in x.items():
                kh = _to_handle(k)
                try:
                    vh = _to_handle(v)
                except BaseException:
                    lib.zc_value_free(kh)
                    raise
                rc = lib.zc_value_table_insert(c, kh, vh)
                if rc != 0:
                    lib.zc_value_free(kh)
                    lib.zc_value_free(vh)
                    check(rc)
            return c
        except BaseException:
            lib.zc_value_free(c)
            raise
    if isinstance(x, (list, tuple)):
        return _container(lib.zc_value_vector_new, x, lambda c, e: lib.zc_value_vector_push(c, e))
    raise TypeError("cannot convert %s to a Broker value" % type(x).__name__)


def _container(new, items, insert):
    c = _new(new)
    try:
        for item in items:
            e = _to_handle(item)
            rc = insert(c, e)
            if rc != 0:  # ownership passes only on success
                lib.zc_value_free(e)
                check(rc)
        return c
    except BaseException:
        lib.zc_value_free(c)
        raise


# ---------------------------------------------------------------------------------------
# zc_value -> Python


def _from_handle(h, hashable=False):
    t = ctypes.c_int()
    check(lib.zc_value_type(h, ctypes.byref(t)))
    t = t.value
    if t == 0:
        return None
    if t == 1:
        b = ctypes.c_bool()
        check(lib.zc_value_get_bool(h, ctypes.byref(b)))
        return b.value
    if t == 2:
        n = ctypes.c_uint64()
        check(lib.zc_value_get_count(h, ctypes.byref(n)))
        return Count(n.value)
    if t == 3:
        n = ctypes.c_int64()
        check(lib.zc_value_get_integer(h, ctypes.byref(n)))
        return n.value
    if t == 4:
        r = ctypes.c_double()
        check(lib.zc_value_get_real(h, ctypes.byref(r)))
        return r.value
    if t == 5:
        p, n = _P(), ctypes.c_size_t()
        check(lib.zc_value_get_string(h, ctypes.byref(p), ctypes.byref(n)))
        b = take_bytes(p.value, n.value)
        try:
            return b.decode("utf-8")
        except UnicodeDecodeError:
            return b
    if t == 6:
        return ipaddress.ip_address(_text(lib.zc_value_get_address, h))
    if t == 7:
        return ipaddress.ip_network(_text(lib.zc_value_get_subnet, h), strict=False)
    if t == 8:
        num, proto = ctypes.c_uint16(), ctypes.c_int()
        check(lib.zc_value_get_port(h, ctypes.byref(num), ctypes.byref(proto)))
        return Port(num.value, _PROTOS[proto.value])
    if t == 9:
        n = ctypes.c_int64()
        check(lib.zc_value_get_timestamp(h, ctypes.byref(n)))
        return Timestamp.from_ns(n.value)
    if t == 10:
        n = ctypes.c_int64()
        check(lib.zc_value_get_timespan(h, ctypes.byref(n)))
        return Timespan.from_ns(n.value)
    if t == 11:
        return Enum(_text(lib.zc_value_get_enum, h))
    size = ctypes.c_size_t()
    check(lib.zc_value_size(h, ctypes.byref(size)))
    if t == 13:
        d = {}
        for i in range(size.value):
            k, v = _P(), _P()
            check(lib.zc_value_table_entry_at(h, i, ctypes.byref(k), ctypes.byref(v)))
            try:
                d[_from_handle(k, True)] = _from_handle(v, hashable)
            finally:
                lib.zc_value_free(k)
                lib.zc_value_free(v)
        return FrozenTable(d) if hashable else d
    items = []
    for i in range(size.value):
        e = _P()
        check(lib.zc_value_at(h, i, ctypes.byref(e)))
        try:
            items.append(_from_handle(e, hashable or t == 12))
        finally:
            lib.zc_value_free(e)
    if t == 12:
        return frozenset(items) if hashable else set(items)
    return tuple(items) if hashable else items


def _text(fn, h):
    p = _P()
    check(fn(h, ctypes.byref(p)))
    return take_string(p.value)


def _with_handle(value, fn):
    h = _to_handle(value)
    try:
        return fn(h)
    finally:
        lib.zc_value_free(h)


def _take_handle(h):
    try:
        return _from_handle(h)
    finally:
        lib.zc_value_free(h)


# ---------------------------------------------------------------------------------------
# Encodings


def to_json(value):
    """Broker's WebSocket JSON for a Python value (compact, as Broker writes it)."""
    return _with_handle(value, lambda h: _text(lib.zc_value_to_json, h))


def from_json(text):
    """Reads Broker's WebSocket JSON ({"@data-type": .., "data": ..}) into Python values.
    Raises LayoutError (a ValueError) naming line:column or the path to the bad part."""
    return _take_handle(_new(lib.zc_value_from_json, cstr(text)))


def to_binary(value):
    """Broker's native binary encoding (tag byte + payload) of a Python value."""

    def enc(h):
        p, n = _P(), ctypes.c_size_t()
        check(lib.zc_value_to_binary(h, ctypes.byref(p), ctypes.byref(n)))
        return take_bytes(p.value, n.value)

    return _with_handle(value, enc)


def from_binary(data):
    """Decodes exactly one value of Broker's binary encoding; raises DecodeError."""
    data = bytes(data)
    return _take_handle(_new(lib.zc_value_from_binary, data, len(data)))


def to_text(value):
    """Zeek-like text of a value (T, 42, "a\\xff", {1, 2}, [a, b])."""
    return _with_handle(value, lambda h: _text(lib.zc_value_to_string, h))
