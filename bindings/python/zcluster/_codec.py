"""Broker's binary encoding in pure Python, for batches (publish_many / next_many).

Going through zc_value handles costs several ctypes calls per value; at hundreds of
thousands of events a second that is the bottleneck, so the common types are encoded
and decoded here directly. The result is exactly what the library produces (the tests
compare both on many values); what this module does not handle itself falls back to the
library: encoding sets and tables (their canonical order is Broker's total order) and
reals that are not normal numbers (NaN, infinities, subnormals go through CAF's
pack754), decoding reals outside the normal range and anything malformed (so errors
are the library's own).
"""

from __future__ import annotations

import ctypes
import datetime as _dt
import ipaddress
import struct
from typing import Any, List, Optional, Tuple

from . import _data
from ._data import Count, Enum, Event, FrozenTable, Port, Timespan, Timestamp
from ._lib import Error

_Q = struct.Struct(">Q")
_q = struct.Struct(">q")
_d = struct.Struct(">d")
_H = struct.Struct(">H")
_V4_PREFIX = b"\x00" * 10 + b"\xff\xff"
_PROTOS = ("?", "tcp", "udp", "icmp")
_PROTO_INDEX = {p: i for i, p in enumerate(_PROTOS)}
_I64_MIN, _I64_MAX = -(1 << 63), (1 << 63) - 1
_MIN_NORMAL = 2.2250738585072014e-308
_int_new = int.__new__
_EVENT_HEAD = b"\x0e\x03\x02" + _Q.pack(1) + b"\x02" + _Q.pack(1)


class _Fallback(Exception):
    """Raised where the library must do the work."""


def _varbyte(n: int) -> bytes:
    if n < 0x80:
        return bytes((n,))
    out = bytearray()
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _enc(x: Any, out: List[bytes]) -> None:
    t = type(x)
    if t is str:
        b = x.encode("utf-8", "surrogateescape")
        out.append(b"\x05" + _varbyte(len(b)) + b)
    elif t is Count:
        out.append(b"\x02" + _Q.pack(x))
    elif t is int:
        if not _I64_MIN <= x <= _I64_MAX:
            raise OverflowError("int %d does not fit Broker's 64-bit integer (use Count for unsigned)" % x)
        out.append(b"\x03" + _q.pack(x))
    elif t is bool:
        out.append(b"\x01\x01" if x else b"\x01\x00")
    elif t is float:
        if x != x or x in (float("inf"), float("-inf")) or (x != 0.0 and abs(x) < _MIN_NORMAL):
            raise _Fallback
        out.append(b"\x04" + _d.pack(x))
    elif x is None:
        out.append(b"\x00")
    elif t is list or t is tuple:
        out.append(b"\x0e" + _varbyte(len(x)))
        for e in x:
            _enc(e, out)
    elif t is bytes or t is bytearray or t is memoryview:
        b = bytes(x)
        out.append(b"\x05" + _varbyte(len(b)) + b)
    elif isinstance(x, bool):
        out.append(b"\x01\x01" if x else b"\x01\x00")
    elif isinstance(x, Count):
        out.append(b"\x02" + _Q.pack(int(x)))
    elif isinstance(x, int):
        _enc(int(x), out)
    elif isinstance(x, float):
        _enc(float(x), out)
    elif isinstance(x, str):
        _enc(str(x), out)
    elif isinstance(x, ipaddress.IPv4Address):
        out.append(b"\x06" + _V4_PREFIX + x.packed)
    elif isinstance(x, ipaddress.IPv6Address):
        out.append(b"\x06" + x.packed)
    elif isinstance(x, ipaddress.IPv4Network):
        out.append(b"\x07" + _V4_PREFIX + x.network_address.packed + bytes((x.prefixlen + 96,)))
    elif isinstance(x, ipaddress.IPv6Network):
        out.append(b"\x07" + x.network_address.packed + bytes((x.prefixlen,)))
    elif isinstance(x, Port):
        out.append(b"\x08" + _H.pack(x.number) + bytes((_PROTO_INDEX[x.protocol],)))
    elif isinstance(x, _dt.datetime):
        out.append(b"\x09" + _q.pack(_data._datetime_ns(x)))
    elif isinstance(x, _dt.timedelta):
        out.append(b"\x0a" + _q.pack(_data._timedelta_ns(x)))
    elif isinstance(x, Enum):
        b = x.name.encode("utf-8")
        out.append(b"\x0b" + _varbyte(len(b)) + b)
    elif isinstance(x, Event):
        _enc_event(x, out)
    elif isinstance(x, (list, tuple)):
        out.append(b"\x0e" + _varbyte(len(x)))
        for e in x:
            _enc(e, out)
    else:
        # Sets and tables (canonical order), and types the library refuses with its own
        # error message.
        raise _Fallback


def _enc_event(ev: Event, out: List[bytes]) -> None:
    name = ev.name.encode("utf-8")
    out.append(_EVENT_HEAD + (b"\x0e\x03\x05" if ev.metadata else b"\x0e\x02\x05") + _varbyte(len(name)) + name)
    out.append(b"\x0e" + _varbyte(len(ev.args)))
    for a in ev.args:
        _enc(a, out)
    if ev.metadata:
        out.append(b"\x0e" + _varbyte(len(ev.metadata)))
        for k, v in ev.metadata:
            out.append(b"\x0e\x02\x02" + _Q.pack(k))
            _enc(v, out)


def encode(x: Any) -> bytes:
    """Broker's binary encoding of a Python value or Event (as zcluster.to_binary)."""
    parts: List[bytes] = []
    try:
        if type(x) is Event:
            _enc_event(x, parts)
        else:
            _enc(x, parts)
    except _Fallback:
        return _data.to_binary(x.to_value() if isinstance(x, Event) else x)
    return b"".join(parts)


# ---------------------------------------------------------------------------------------
# Decoding


def _len(b: bytes, i: int) -> Tuple[int, int]:
    n = b[i]
    if n < 0x80:
        return n, i + 1
    shift, n, j = 0, 0, i
    while True:
        c = b[j]
        n |= (c & 0x7F) << shift
        j += 1
        if c < 0x80:
            return n, j
        shift += 7
        if shift > 28:
            raise _Fallback


def _dec(b: bytes, i: int, hashable: bool) -> Tuple[Any, int]:
    tag = b[i]
    i += 1
    if tag == 5:
        n, i = _len(b, i)
        if i + n > len(b):
            raise _Fallback
        raw = b[i:i + n]
        try:
            return raw.decode("utf-8"), i + n
        except UnicodeDecodeError:
            return raw, i + n
    if tag == 2:
        # Always in range (8 unsigned bytes): Count's own range check is skipped.
        return _int_new(Count, _Q.unpack_from(b, i)[0]), i + 8
    if tag == 14:
        n, i = _len(b, i)
        items = []
        for _ in range(n):
            v, i = _dec(b, i, hashable)
            items.append(v)
        return (tuple(items) if hashable else items), i
    if tag == 3:
        return _q.unpack_from(b, i)[0], i + 8
    if tag == 4:
        bits = _Q.unpack_from(b, i)[0]
        e = (bits >> 52) & 0x7FF
        if bits in (0, 0x8000000000000000) or 1 <= e <= 2046:
            return _d.unpack_from(b, i)[0], i + 8
        raise _Fallback
    if tag == 1:
        v = b[i]
        if v > 1:
            raise _Fallback
        return v == 1, i + 1
    if tag == 0:
        return None, i
    if tag == 6:
        raw = b[i:i + 16]
        if len(raw) != 16:
            raise _Fallback
        if raw[:12] == _V4_PREFIX:
            return ipaddress.IPv4Address(raw[12:]), i + 16
        return ipaddress.IPv6Address(raw), i + 16
    if tag == 8:
        num = _H.unpack_from(b, i)[0]
        p = b[i + 2]
        if p > 3:
            raise _Fallback
        return Port(num, _PROTOS[p]), i + 3
    if tag == 9:
        return Timestamp.from_ns(_q.unpack_from(b, i)[0]), i + 8
    if tag == 10:
        return Timespan.from_ns(_q.unpack_from(b, i)[0]), i + 8
    if tag == 11:
        n, i = _len(b, i)
        if i + n > len(b):
            raise _Fallback
        try:
            return Enum(b[i:i + n].decode("utf-8")), i + n
        except UnicodeDecodeError:
            raise _Fallback from None
    # Subnets (their host bits and v4 lengths have rules), sets and tables (duplicates
    # are refused): the library's decoder.
    raise _Fallback


def decode(data: bytes) -> Any:
    """Decodes exactly one value (as zcluster.from_binary)."""
    try:
        v, end = _dec(data, 0, False)
        if end == len(data):
            return v
    except (_Fallback, IndexError, struct.error, ValueError, RecursionError):
        pass
    return _data.from_binary(data)


_H_LEN = len(_EVENT_HEAD)


def decode_event(data: bytes) -> Optional[Event]:
    """The Zeek event a data message carries, or None when it carries another value
    (the library's validation, `zc_message_event`). The usual layout
    `[1, 1, [name, [args...], (metadata)]]` is read directly; anything else goes
    through the library."""
    if not data.startswith(_EVENT_HEAD):
        return _slow_event(data)
    try:
        head = data[_H_LEN:_H_LEN + 3]
        if head == b"\x0e\x02\x05":
            has_meta = False
        elif head == b"\x0e\x03\x05":
            has_meta = True
        else:
            return _slow_event(data)
        n, i = _len(data, _H_LEN + 3)
        if i + n > len(data):
            return _slow_event(data)
        try:
            name = data[i:i + n].decode("utf-8")
        except UnicodeDecodeError:
            return _slow_event(data)
        i += n
        if data[i] != 14:
            return _slow_event(data)
        count, i = _len(data, i + 1)
        args = []
        for _ in range(count):
            v, i = _dec(data, i, False)
            args.append(v)
        meta: List[Tuple[int, Any]] = []
        if has_meta:
            m, i = _dec(data, i, False)
            if type(m) is not list:
                return None
            for pair in m:
                if type(pair) is not list or len(pair) != 2 or type(pair[0]) is not Count:
                    return None
                if pair[0] == 1 and not isinstance(pair[1], Timestamp):
                    return None
                meta.append((int(pair[0]), pair[1]))
        if i != len(data):
            return _slow_event(data)
    except (_Fallback, IndexError, struct.error, ValueError, RecursionError):
        return _slow_event(data)
    ev = _new_event(Event)
    ev.name, ev.args, ev.metadata = name, args, meta
    return ev


_new_event = Event.__new__


def _slow_event(data: bytes) -> Optional[Event]:
    # Not an event (TypeMismatch), not decodable (DecodeError), or nested deeper than
    # Python converts (ctypes reports a RecursionError met in an argument conversion as
    # ArgumentError): None, as the library's zc_message_event refusing it.
    try:
        value = _data.from_binary(data)
        return Event.from_value(value)
    except (Error, RecursionError, ctypes.ArgumentError):
        return None


__all__ = ["encode", "decode", "decode_event", "FrozenTable"]
