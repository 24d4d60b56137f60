"""Data stores: `Cluster.create_store(name, persistent=False)` gives a `StoreInfo` whose
`store` is a `Store` (a master or a clone). Keys and values are Python values (mapped to
Broker's types as everywhere in zcluster); expiries and timeouts are seconds (float) or
`datetime.timedelta`, None meaning "never" / "do not wait".

    info = cl.create_store("counts", persistent=True)
    info.store.put("k", 1); info.store.get("k"); info.store.increment("k", 5)

A missing key raises `zcluster.NotFound`; a stale clone `zcluster.StoreError`; a clone
still waiting for its master's first snapshot `zcluster.Timeout` once `timeout` passes.
Once the cluster is closed every call raises `zcluster.ClosedError`.
"""

import ctypes
from typing import Any, List, Optional
import datetime

from ._data import Count, _from_handle, _option_text, _to_handle
from ._endpoint import Endpoint
from ._layout import Cluster
from ._lib import check, cstr, lib, take_string

_P = ctypes.c_void_p
_PP = ctypes.POINTER(ctypes.c_void_p)
_rc = ctypes.c_int
_i64 = ctypes.c_int64


def _decl(name, *args):
    f = getattr(lib, name)
    f.argtypes = list(args)
    f.restype = _rc


_decl("zc_cluster_create_store", _P, ctypes.c_char_p, ctypes.c_bool, _PP)
_decl("zc_cluster_set_store_option", _P, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p)
_decl(
    "zc_endpoint_attach_master", _P, ctypes.c_char_p, ctypes.c_int,
    ctypes.POINTER(ctypes.c_char_p), ctypes.POINTER(ctypes.c_char_p), ctypes.c_size_t, _PP,
)
_decl("zc_endpoint_attach_clone", _P, ctypes.c_char_p, ctypes.c_double, ctypes.c_double, ctypes.c_double, _PP)
_decl("zc_store_name", _P, _PP)
_decl("zc_store_is_master", _P, ctypes.POINTER(ctypes.c_bool))
_decl("zc_store_backend", _P, ctypes.POINTER(ctypes.c_int))
_decl("zc_store_master_node", _P, _PP)
_decl("zc_store_sqlite_path", _P, _PP)
_decl("zc_store_clone_intervals", _P, ctypes.POINTER(ctypes.c_double), ctypes.POINTER(ctypes.c_double), ctypes.POINTER(ctypes.c_double))
_decl("zc_store_put", _P, _P, _P, _i64)
_decl("zc_store_put_unique", _P, _P, _P, _i64, ctypes.POINTER(ctypes.c_bool))
_decl("zc_store_get", _P, _P, _i64, _PP)
_decl("zc_store_get_index", _P, _P, _P, _i64, _PP)
_decl("zc_store_exists", _P, _P, _i64, ctypes.POINTER(ctypes.c_bool))
_decl("zc_store_keys", _P, _i64, _PP)
_decl("zc_store_erase", _P, _P)
_decl("zc_store_clear", _P)
_decl("zc_store_increment", _P, _P, _P, _i64)
_decl("zc_store_decrement", _P, _P, _P, _i64)
_decl("zc_store_append", _P, _P, _P, _i64)
_decl("zc_store_insert_into", _P, _P, _P, _P, _i64)
_decl("zc_store_remove_from", _P, _P, _P, _i64)
_decl("zc_store_push", _P, _P, _P, _i64)
_decl("zc_store_pop", _P, _P, _i64)
_decl("zc_store_connected", _P, ctypes.POINTER(ctypes.c_bool))
_decl("zc_store_take_lost_mutations", _P, ctypes.POINTER(ctypes.c_size_t), _PP)
_decl("zc_store_take_problems", _P, ctypes.POINTER(ctypes.c_size_t), _PP)
_decl("zc_store_flush", _P, _i64)
lib.zc_store_free.argtypes = [_P]
lib.zc_store_free.restype = None
lib.zc_value_free.argtypes = [_P]
lib.zc_value_free.restype = None

_BACKENDS = {0: "Broker::MEMORY", 1: "Broker::SQLITE"}


def _ms(t, what):
    """Seconds or timedelta -> whole milliseconds (None -> 0)."""
    if t is None:
        return 0
    if isinstance(t, datetime.timedelta):
        t = t.total_seconds()
    t = float(t)
    if t < 0:
        raise ValueError("%s must not be negative" % what)
    ms = int(round(t * 1000))
    return max(ms, 1) if t > 0 else 0


class _Values:
    """Converts Python values to temporary zc_value handles, freed on exit."""

    def __init__(self, *values):
        self._values = values
        self._handles = []

    def __enter__(self):
        for v in self._values:
            self._handles.append(_to_handle(v))
        return self._handles

    def __exit__(self, *exc):
        for h in self._handles:
            lib.zc_value_free(h)


def _take_value(h):
    try:
        return _from_handle(h)
    finally:
        lib.zc_value_free(h)


class Store:
    """A data store: the master or a clone (`Broker::Store` of the reference). Methods are
    named as the operations; may be used from several threads."""

    def __init__(self, handle):
        self._h = _P(handle)

    def _handle(self):
        if not self._h:
            from ._lib import ClosedError

            raise ClosedError("store handle is closed")
        return self._h

    def _string(self, fn):
        out = _P()
        check(fn(self._handle(), ctypes.byref(out)))
        return take_string(out.value)

    @property
    def name(self) -> str:
        return self._string(lib.zc_store_name)

    def is_master(self) -> bool:
        b = ctypes.c_bool()
        check(lib.zc_store_is_master(self._handle(), ctypes.byref(b)))
        return b.value

    @property
    def backend(self):
        b = ctypes.c_int()
        check(lib.zc_store_backend(self._handle(), ctypes.byref(b)))
        return _BACKENDS.get(b.value, str(b.value))

    def put(self, key: Any, value: Any, expiry: Optional[float] = None) -> None:
        """Sets key to value. On a master applied when this returns (reads see it); a
        SQLite master commits it in the background: `flush()` waits until it is on disk."""
        with _Values(key, value) as (k, v):
            check(lib.zc_store_put(self._handle(), k, v, _ms(expiry, "expiry")))

    def flush(self, timeout: Any = None) -> None:
        """Waits until every earlier write of this store is durable: committed to the
        file (SQLite master; a kill -9 afterwards loses none), at once (memory master),
        acknowledged by the master (clone; acks come every 500 ms). `timeout` in seconds or a timedelta, None: no
        limit. Raises Timeout, StoreError (a failed commit, e.g. disk full), ClosedError."""
        ms = -1 if timeout is None else _ms(timeout, "timeout")
        check(lib.zc_store_flush(self._handle(), ms))

    def put_unique(self, key: Any, value: Any, expiry: Optional[float] = None) -> bool:
        """Sets key only if absent; returns whether it did."""
        b = ctypes.c_bool()
        with _Values(key, value) as (k, v):
            check(lib.zc_store_put_unique(self._handle(), k, v, _ms(expiry, "expiry"), ctypes.byref(b)))
        return b.value

    def get(self, key: Any, timeout: Optional[float] = None) -> Any:
        """The value of key (NotFound if absent). A clone waits up to `timeout` seconds
        for its first snapshot."""
        out = _P()
        with _Values(key) as (k,):
            check(lib.zc_store_get(self._handle(), k, _ms(timeout, "timeout"), ctypes.byref(out)))
        return _take_value(out)

    def get_index(self, key: Any, index: Any, timeout: Optional[float] = None) -> Any:
        """An element inside the value of key (vector index, table key, set membership)."""
        out = _P()
        with _Values(key, index) as (k, i):
            check(lib.zc_store_get_index(self._handle(), k, i, _ms(timeout, "timeout"), ctypes.byref(out)))
        return _take_value(out)

    def exists(self, key: Any, timeout: Optional[float] = None) -> bool:
        b = ctypes.c_bool()
        with _Values(key) as (k,):
            check(lib.zc_store_exists(self._handle(), k, _ms(timeout, "timeout"), ctypes.byref(b)))
        return b.value

    def keys(self, timeout: Optional[float] = None) -> Any:
        """Every key, as a set."""
        out = _P()
        check(lib.zc_store_keys(self._handle(), _ms(timeout, "timeout"), ctypes.byref(out)))
        return _take_value(out)

    def erase(self, key: Any) -> None:
        with _Values(key) as (k,):
            check(lib.zc_store_erase(self._handle(), k))

    def clear(self) -> None:
        check(lib.zc_store_clear(self._handle()))

    def _op(self, fn, key, arg, expiry):
        with _Values(key, arg) as (k, a):
            check(fn(self._handle(), k, a, _ms(expiry, "expiry")))

    def increment(self, key: Any, amount: Any = Count(1), expiry: Optional[float] = None) -> None:
        """Adds amount (int, Count, float, timedelta) to the value of key (absent: zero
        of amount's type). The amount's type must match the value's: Count for counts,
        int for integers (Zeek's default amount is the count 1)."""
        self._op(lib.zc_store_increment, key, amount, expiry)

    def decrement(self, key: Any, amount: Any = Count(1), expiry: Optional[float] = None) -> None:
        self._op(lib.zc_store_decrement, key, amount, expiry)

    def append(self, key: Any, s: Any, expiry: Optional[float] = None) -> None:
        self._op(lib.zc_store_append, key, s, expiry)

    def insert_into(self, key: Any, index: Any, value: Any = None, expiry: Optional[float] = None) -> None:
        """Adds index to the set value of key, or index -> value to its table value when
        value is given (None: a set insert)."""
        if value is None:
            with _Values(key, index) as (k, i):
                check(lib.zc_store_insert_into(self._handle(), k, i, None, _ms(expiry, "expiry")))
        else:
            with _Values(key, index, value) as (k, i, v):
                check(lib.zc_store_insert_into(self._handle(), k, i, v, _ms(expiry, "expiry")))

    def remove_from(self, key: Any, index: Any, expiry: Optional[float] = None) -> None:
        self._op(lib.zc_store_remove_from, key, index, expiry)

    def push(self, key: Any, value: Any, expiry: Optional[float] = None) -> None:
        self._op(lib.zc_store_push, key, value, expiry)

    def pop(self, key: Any, expiry: Optional[float] = None) -> None:
        with _Values(key) as (k,):
            check(lib.zc_store_pop(self._handle(), k, _ms(expiry, "expiry")))

    def connected(self):
        """Whether a clone has its master now (a master: True; False once closed)."""
        b = ctypes.c_bool()
        check(lib.zc_store_connected(self._handle(), ctypes.byref(b)))
        return b.value

    def _take_lines(self, fn):
        n = ctypes.c_size_t()
        out = _P()
        check(fn(self._handle(), ctypes.byref(n), ctypes.byref(out)))
        text = take_string(out.value)
        return (text or "").splitlines()[: n.value]

    def take_lost_mutations(self) -> List[str]:
        """The mutations this clone made without a master and dropped once
        clone_mutation_buffer_interval passed, one message each (reported once)."""
        return self._take_lines(lib.zc_store_take_lost_mutations)

    def take_problems(self) -> List[str]:
        """Problems seen in the background since the last call: on a master, writes from
        clones it could not apply (e.g. a wrong type); on a clone, its resyncs."""
        return self._take_lines(lib.zc_store_take_problems)

    def close(self) -> None:
        """Frees this handle (the store lives on in its cluster)."""
        if self._h:
            lib.zc_store_free(self._h)
            self._h = _P()

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass

    def __repr__(self):
        try:
            return "Store(%r, master=%r)" % (self.name, self.is_master())
        except Exception:
            return "Store(<closed>)"


class StoreInfo:
    """`Cluster::StoreInfo`: name, store, master_node, master, backend, options
    ({"sqlite": {"path": ...}}), clone_resync_interval, clone_stale_interval,
    clone_mutation_buffer_interval (datetime.timedelta)."""

    def __init__(self, store):
        self.store = store
        h = store._handle()
        self.name = store.name
        self.master = store.is_master()
        self.master_node = store._string(lib.zc_store_master_node)
        self.backend = store.backend
        self.options = {"sqlite": {"path": store._string(lib.zc_store_sqlite_path)}}
        r, s, m = ctypes.c_double(), ctypes.c_double(), ctypes.c_double()
        check(lib.zc_store_clone_intervals(h, ctypes.byref(r), ctypes.byref(s), ctypes.byref(m)))
        self.clone_resync_interval = datetime.timedelta(seconds=r.value)
        self.clone_stale_interval = datetime.timedelta(seconds=s.value)
        self.clone_mutation_buffer_interval = datetime.timedelta(seconds=m.value)

    def __repr__(self):
        return "StoreInfo(name=%r, master_node=%r, master=%r, backend=%s)" % (
            self.name,
            self.master_node,
            self.master,
            self.backend,
        )


def _create_store(self, name, persistent=False):
    """`Cluster::create_store(name, persistent)`: a StoreInfo whose store is the master
    (on the master node, or outside a cluster) or a clone (elsewhere)."""
    out = _P()
    check(lib.zc_cluster_create_store(self._handle(), cstr(name), bool(persistent), ctypes.byref(out)))
    return StoreInfo(Store(out.value))


def _set_store_options(self, name, **fields):
    """Configures `Cluster::stores[name]` before `create_store(name)`, as
    `redef Cluster::stores += { [name] = [...] }` does: backend ("Broker::SQLITE"),
    master_node, path, synchronous ("NORMAL", "FULL", ...), journal_mode ("WAL",
    "DELETE"), integrity_check (bool), clone_resync_interval, clone_stale_interval,
    clone_mutation_buffer_interval (seconds, timedelta or text such as "10 secs")."""
    for key, value in fields.items():
        check(lib.zc_cluster_set_store_option(self._handle(), cstr(name), cstr(key), cstr(_option_text(value))))


def _seconds(t):
    return t.total_seconds() if isinstance(t, datetime.timedelta) else float(t)


def _attach_master(self, name, backend="Broker::MEMORY", options=None):
    """Broker's `attach_master(name, backend, options)` on a plain endpoint: the master
    of store `name`, usable at once. backend: "Broker::MEMORY" or "Broker::SQLITE" (or
    "MEMORY", "SQLITE"); options: Broker's backend options, {"path": "x.sqlite",
    "synchronous": "NORMAL", "journal_mode": "WAL", "integrity_check": True}."""
    b = str(backend).upper()
    b = b[len("BROKER::"):] if b.startswith("BROKER::") else b
    kinds = {"MEMORY": 0, "SQLITE": 1}
    if b not in kinds:
        from ._lib import InvalidArgument

        raise InvalidArgument("backend %r: expected Broker::MEMORY or Broker::SQLITE" % (backend,))
    items = []
    for k, v in (options or {}).items():
        items.append((cstr(k), cstr(_option_text(v))))
    n = len(items)
    keys = (ctypes.c_char_p * max(n, 1))(*[k for k, _ in items])
    vals = (ctypes.c_char_p * max(n, 1))(*[v for _, v in items])
    out = _P()
    check(lib.zc_endpoint_attach_master(self._handle(), cstr(name), kinds[b], keys, vals, n, ctypes.byref(out)))
    return Store(out.value)


def _attach_clone(self, name, resync_interval=10.0, stale_interval=300.0, mutation_buffer_interval=120.0):
    """Broker's `attach_clone(name, resync_interval, stale_interval,
    mutation_buffer_interval)` on a plain endpoint (seconds or timedelta): a clone that
    finds its master among this endpoint's peers; reads wait (`timeout`) for the first
    snapshot."""
    out = _P()
    check(
        lib.zc_endpoint_attach_clone(
            self._handle(), cstr(name), _seconds(resync_interval), _seconds(stale_interval),
            _seconds(mutation_buffer_interval), ctypes.byref(out),
        )
    )
    return Store(out.value)


setattr(Endpoint, "attach_master", _attach_master)
setattr(Endpoint, "attach_clone", _attach_clone)
setattr(Cluster, "create_store", _create_store)
setattr(Cluster, "set_store_options", _set_store_options)
