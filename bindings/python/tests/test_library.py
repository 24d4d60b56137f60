import ctypes

import pytest

import zcluster
from zcluster import _lib


def test_version_matches_cargo():
    cargo = (_lib.lib_path.parents[2] / "Cargo.toml").read_text() if "target" in str(_lib.lib_path) else None
    assert zcluster.__version__.count(".") == 2
    if cargo:
        assert 'version = "%s"' % zcluster.__version__ in cargo


def test_result_names():
    assert _lib.lib.zc_result_str(0) == b"ZC_OK"
    assert _lib.lib.zc_result_str(6) == b"ZC_ERR_PARSE"
    assert _lib.lib.zc_result_str(-5) == b"ZC_ERR_UNKNOWN"


def test_check_raises_with_library_message():
    buf = ctypes.create_string_buffer(b"not ours")
    _lib.lib.zc_string_free(ctypes.cast(buf, ctypes.c_void_p))
    with pytest.raises(zcluster.BadHandle) as exc:
        _lib.check(4)
    assert "not returned by zcluster" in str(exc.value)
    assert exc.value.code_name == "ZC_ERR_BAD_HANDLE"


def test_cstr_rejects_non_text():
    with pytest.raises(TypeError):
        _lib.cstr(5)
    assert _lib.cstr("é") == "é".encode()
