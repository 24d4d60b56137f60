"""Loading libzcluster and the error model shared by every module of the package.

The library is found, in order: the path in the ZCLUSTER_LIB environment variable; a
libzcluster.so next to this package (an installed wheel); the build tree of a checkout
(target/release or target/debug, whichever was built last). The package refuses a library whose ABI version is
not the one it was written for.
"""

import ctypes
import os
import pathlib

ABI_VERSION = 1

_LIBNAME = "libzcluster.so"


def _candidates():
    env = os.environ.get("ZCLUSTER_LIB")
    if env:
        yield pathlib.Path(env)
        return
    here = pathlib.Path(__file__).resolve().parent
    yield here / _LIBNAME
    root = here.parent.parent.parent  # bindings/python/zcluster -> repo root
    target = pathlib.Path(os.environ.get("CARGO_TARGET_DIR", root / "target"))
    built = [target / profile / _LIBNAME for profile in ("release", "debug")]
    # The newer build wins, so a stale release build never shadows a fresh debug one.
    built.sort(key=lambda p: p.stat().st_mtime if p.exists() else 0, reverse=True)
    yield from built


def _load():
    tried = []
    for path in _candidates():
        if path.exists():
            return ctypes.CDLL(str(path)), path
        tried.append(str(path))
    raise ImportError(
        "zcluster: cannot find libzcluster.so (tried: %s); build it with `cargo build` "
        "or set ZCLUSTER_LIB" % ", ".join(tried)
    )


lib, lib_path = _load()

lib.zc_version.argtypes = []
lib.zc_version.restype = ctypes.c_char_p
lib.zc_abi_version.argtypes = []
lib.zc_abi_version.restype = ctypes.c_uint32
lib.zc_result_str.argtypes = [ctypes.c_int]
lib.zc_result_str.restype = ctypes.c_char_p
lib.zc_last_error.argtypes = []
lib.zc_last_error.restype = ctypes.c_char_p
lib.zc_string_free.argtypes = [ctypes.c_void_p]
lib.zc_string_free.restype = None

if lib.zc_abi_version() != ABI_VERSION:
    raise ImportError(
        "zcluster: %s has ABI version %d, this package needs %d"
        % (lib_path, lib.zc_abi_version(), ABI_VERSION)
    )


class Error(Exception):
    """A failure reported by libzcluster. `code` is the zc_result number, `code_name`
    its name (e.g. "ZC_ERR_PARSE"); the message is the library's own."""

    def __init__(self, message, code=None):
        super().__init__(message)
        self.code = code
        self.code_name = lib.zc_result_str(code).decode() if code is not None else None


class InvalidArgument(Error, ValueError):
    """A NULL, out-of-range or malformed argument (ZC_ERR_NULL, ZC_ERR_INVALID_ARGUMENT,
    ZC_ERR_UTF8)."""


class BadHandle(Error):
    """A freed or wrong-type handle (ZC_ERR_BAD_HANDLE)."""


class ClosedError(Error):
    """The object or its endpoint is closed (ZC_ERR_CLOSED)."""


class LayoutError(Error, ValueError):
    """A layout, option value or JSON text does not parse (ZC_ERR_PARSE); the message
    names file:line:column."""


class DecodeError(Error, ValueError):
    """Bytes do not decode as Broker's binary format (ZC_ERR_DECODE)."""


class TypeMismatch(Error, TypeError):
    """A value has another type than the operation needs (ZC_ERR_TYPE)."""


class NotFound(Error, KeyError):
    """The named node, option, key or peer does not exist (ZC_ERR_NOT_FOUND)."""

    def __str__(self):  # KeyError would quote the message
        return Exception.__str__(self)


class IOError_(Error, OSError):
    """An operating-system I/O failure (ZC_ERR_IO)."""


class Timeout(Error, TimeoutError):
    """A bounded wait ran out (ZC_ERR_TIMEOUT)."""


class WouldBlock(Error, BlockingIOError):
    """A full buffer: the call would have to wait (ZC_ERR_WOULD_BLOCK)."""


class ProtocolError(Error):
    """A peer violated the protocol (ZC_ERR_PROTOCOL)."""


class StateError(Error):
    """The call conflicts with the object's state (ZC_ERR_STATE)."""


class StoreError(Error):
    """A data-store failure (ZC_ERR_STORE)."""


class InternalError(Error):
    """A bug in zcluster (ZC_ERR_INTERNAL)."""


_BY_CODE = {
    1: InvalidArgument,
    2: InvalidArgument,
    3: InvalidArgument,
    4: BadHandle,
    5: ClosedError,
    6: LayoutError,
    7: DecodeError,
    8: TypeMismatch,
    9: NotFound,
    10: IOError_,
    11: Timeout,
    12: WouldBlock,
    13: ProtocolError,
    14: StateError,
    15: StoreError,
    16: InternalError,
}


def check(rc):
    """Raises the Error subclass for a non-zero zc_result, with zc_last_error's text."""
    if rc != 0:
        msg = lib.zc_last_error().decode("utf-8", "replace")
        raise _BY_CODE.get(rc, Error)(msg, rc)
    return rc


def cstr(s):
    """A str (or bytes) argument as the NUL-terminated UTF-8 bytes ctypes passes."""
    if s is None:
        return None
    if isinstance(s, bytes):
        return s
    if not isinstance(s, str):
        raise TypeError("expected str, got %s" % type(s).__name__)
    return s.encode("utf-8")


def take_string(ptr):
    """Copies a library-owned char* (a c_void_p or int) into a str and frees it."""
    if not ptr:
        return None
    try:
        return ctypes.string_at(ptr).decode("utf-8")
    finally:
        lib.zc_string_free(ptr)


def take_bytes(ptr, length):
    """Copies `length` bytes of a library-owned buffer and frees it."""
    if not ptr:
        return b""
    try:
        return ctypes.string_at(ptr, length)
    finally:
        lib.zc_string_free(ptr)


def version():
    """The library's version string."""
    return lib.zc_version().decode()
