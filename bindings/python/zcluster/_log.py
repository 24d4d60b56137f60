"""Log streams: `Cluster.create_log_stream(id, path, columns)` and
`Cluster.log_write(id, record)`, Zeek's `Log::create_stream` and `Log::write`.

Columns are `(name, type)` or `(name, type, optional)` with Zeek type names: bool, int,
count, double, time, interval, string, addr, subnet, port, enum, set[T], vector[T].
Record fields flatten into dotted names (`id.orig_h`), as in Zeek.

A record is a sequence (column order) or a dict by column name (missing names are
unset; an unknown name is an error). Python values are taken as the column's type
wants them: an int for a count column becomes a Count, a float or datetime for a time
column, a float or timedelta for an interval, a str for an addr/subnet/enum/port
column is parsed, a set or list for a set column. A value the column cannot take, or
no value for a required column, raises TypeMismatch / InvalidArgument naming the
column.
"""

import ctypes
import ipaddress

from ._data import Count, Enum, Port, _to_handle
from ._layout import Cluster
from ._lib import InvalidArgument, check, cstr, lib

_p = ctypes.c_void_p
_cp = ctypes.c_char_p


class _LogStats(ctypes.Structure):
    _fields_ = [(n, ctypes.c_uint64) for n in (
        "sent", "batches", "buffered", "dropped", "pending", "writers", "records",
        "dropped_no_create", "dropped_malformed", "malformed_messages", "write_errors",
        "rotations")]


def _sig(name, argtypes, restype=ctypes.c_int):
    f = getattr(lib, name)
    f.argtypes = argtypes
    f.restype = restype


_sig("zc_log_stream_new", [_cp, _cp, ctypes.POINTER(_p)])
_sig("zc_log_stream_add_column", [_p, _cp, _cp, ctypes.c_bool])
_sig("zc_log_stream_free", [_p], None)
_sig("zc_cluster_create_log_stream", [_p, _p])
_sig("zc_cluster_log_write", [_p, _cp, _p])
_sig("zc_cluster_log_flush", [_p])
_sig("zc_cluster_log_stats", [_p, ctypes.POINTER(_LogStats)])
_sig("zc_value_free", [_p], None)


def _coerce(ty, v):
    """A Python value as a column of Zeek type `ty` takes it (others pass unchanged, so
    the library's error names the column)."""
    if v is None:
        return None
    if ty.startswith("set[") or ty.startswith("vector["):
        inner = ty[ty.index("[") + 1:-1]
        if isinstance(v, (set, frozenset, list, tuple)):
            items = sorted(v, key=repr) if isinstance(v, (set, frozenset)) else v
            return [_coerce(inner, e) for e in items]
        return v
    if ty == "count" and isinstance(v, int) and not isinstance(v, bool) and v >= 0:
        return Count(v)
    if ty == "double" and isinstance(v, int) and not isinstance(v, bool):
        return float(v)
    if ty == "time":
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            return float(v)
        return v
    if ty == "interval":
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            return float(v)
        return v
    if ty == "addr" and isinstance(v, str):
        try:
            return ipaddress.ip_address(v)
        except ValueError:
            return v
    if ty == "subnet" and isinstance(v, str):
        try:
            return ipaddress.ip_network(v, strict=False)
        except ValueError:
            return v
    if ty == "port" and isinstance(v, str):
        try:
            return Port.parse(v)
        except (ValueError, TypeError):
            return v
    if ty == "enum" and isinstance(v, str):
        return Enum(v)
    return v


def _create_log_stream(self, id, path, columns):
    """`Log::create_stream(id, [$columns, $path])`: columns are (name, type) or (name,
    type, optional). Before or after `start`. Raises StateError for another definition
    under the same id, InvalidArgument for a stream that cannot be."""
    cols = []
    for c in columns:
        if len(c) == 2:
            name, ty = c
            opt = False
        else:
            name, ty, opt = c
        cols.append((name, ty, bool(opt)))
    h = _p()
    check(lib.zc_log_stream_new(cstr(id), cstr(path), ctypes.byref(h)))
    try:
        for name, ty, opt in cols:
            check(lib.zc_log_stream_add_column(h, cstr(name), cstr(ty), opt))
        check(lib.zc_cluster_create_log_stream(self._handle(), h))
    finally:
        lib.zc_log_stream_free(h)
    if not hasattr(self, "_log_streams"):
        self._log_streams = {}
    self._log_streams[id] = cols


def _log_write(self, id, record):
    """`Log::write(id, record)`: a sequence in column order or a dict by column name."""
    cols = getattr(self, "_log_streams", {}).get(id)
    if cols is not None:
        if isinstance(record, dict):
            names = [c[0] for c in cols]
            unknown = [k for k in record if k not in names]
            if unknown:
                raise InvalidArgument("log stream %s has no column %r (columns: %s)"
                                      % (id, unknown[0], ", ".join(names)))
            record = [record.get(n) for n in names]
        if len(record) == len(cols):
            record = [_coerce(c[1], v) for c, v in zip(cols, record)]
    elif isinstance(record, dict):
        raise InvalidArgument("log stream %s was not created through this object: write "
                              "records by column order" % id)
    h = _to_handle(list(record))
    try:
        check(lib.zc_cluster_log_write(self._handle(), cstr(id), h))
    finally:
        lib.zc_value_free(h)


def _log_flush(self):
    """Sends queued records now (a node that writes logs: waits until they are on disk)."""
    check(lib.zc_cluster_log_flush(self._handle()))


def _log_stats(self):
    """The node's logging counters as a dict (see zc_log_stats)."""
    s = _LogStats()
    check(lib.zc_cluster_log_stats(self._handle(), ctypes.byref(s)))
    return {n: getattr(s, n) for n, _ in _LogStats._fields_}


Cluster.create_log_stream = _create_log_stream
Cluster.log_write = _log_write
Cluster.log_flush = _log_flush
Cluster.log_stats = _log_stats
