"""An in-tree PEP 517 build backend for the zcluster Python package.

It needs no Python packages (so `pip install ./bindings/python` works offline, with or
without build isolation): it builds libzcluster.so with cargo from the checkout this
directory is in (or takes ZCLUSTER_PREBUILT_LIB), and writes a wheel with the package,
`py.typed` and the library inside. The wheel is tagged `py3-none-<platform>`: the Python
code is pure, the library is for this platform.
"""

import base64
import hashlib
import os
import pathlib
import re
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import tempfile
import zipfile

HERE = pathlib.Path(__file__).resolve().parent
PKG_ROOT = HERE.parent  # bindings/python
REPO = PKG_ROOT.parent.parent


def _project():
    text = (PKG_ROOT / "pyproject.toml").read_text()
    name = re.search(r'^name = "([^"]+)"', text, re.M).group(1)
    version = re.search(r'^version = "([^"]+)"', text, re.M).group(1)
    desc = re.search(r'^description = "([^"]+)"', text, re.M).group(1)
    return name, version, desc


def _check_version(version):
    cargo = REPO / "Cargo.toml"
    if cargo.exists():
        m = re.search(r'^version = "([^"]+)"', cargo.read_text(), re.M)
        if m and m.group(1) != version:
            raise RuntimeError(
                "bindings/python/pyproject.toml has version %s but Cargo.toml %s" % (version, m.group(1))
            )


def _metadata(name, version, desc):
    readme = (PKG_ROOT / "README.md").read_text() if (PKG_ROOT / "README.md").exists() else ""
    lines = [
        "Metadata-Version: 2.1",
        "Name: %s" % name,
        "Version: %s" % version,
        "Summary: %s" % desc,
        "License: BSD-3-Clause",
        "Requires-Python: >=3.8",
        "Classifier: License :: OSI Approved :: BSD License",
        "Classifier: Operating System :: POSIX :: Linux",
        "Classifier: Programming Language :: Python :: 3",
        "Classifier: Typing :: Typed",
        "Description-Content-Type: text/markdown",
        "",
        readme,
    ]
    return "\n".join(lines)


def _tag():
    plat = sysconfig.get_platform().replace("-", "_").replace(".", "_")
    return "py3-none-%s" % plat


def _library():
    pre = os.environ.get("ZCLUSTER_PREBUILT_LIB")
    if pre:
        p = pathlib.Path(pre)
        if not p.is_file():
            raise RuntimeError("ZCLUSTER_PREBUILT_LIB=%s is not a file" % pre)
        return p
    if not (REPO / "Cargo.toml").exists():
        raise RuntimeError(
            "zcluster: no Rust source to build libzcluster.so from (build from a checkout, "
            "or set ZCLUSTER_PREBUILT_LIB to a built libzcluster.so)"
        )
    profile = os.environ.get("ZCLUSTER_CARGO_PROFILE", "release")
    cargo = os.environ.get("CARGO", "cargo")
    cmd = [cargo, "build", "--lib", "--profile", profile]
    print("zcluster: building libzcluster.so: %s" % " ".join(cmd), file=sys.stderr)
    subprocess.run(cmd, cwd=str(REPO), check=True)
    target = pathlib.Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target"))
    if not target.is_absolute():
        target = REPO / target
    out = target / ("debug" if profile == "dev" else profile) / "libzcluster.so"
    if not out.is_file():
        raise RuntimeError("cargo did not produce %s" % out)
    return out


def _files():
    """(path in wheel, source path) for the package."""
    pkg = PKG_ROOT / "zcluster"
    for f in sorted(pkg.iterdir()):
        if f.suffix == ".py" or f.name == "py.typed":
            yield "zcluster/" + f.name, f


def _record_line(arc, data):
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return "%s,sha256=%s,%d" % (arc, digest, len(data))


def _dist_info(name, version):
    return "%s-%s.dist-info" % (name, version)


def _write_dist_info_files(name, version, desc):
    return {
        "METADATA": _metadata(name, version, desc).encode(),
        "WHEEL": (
            "Wheel-Version: 1.0\nGenerator: zcluster_build\nRoot-Is-Purelib: false\nTag: %s\n" % _tag()
        ).encode(),
        "top_level.txt": b"zcluster\n",
    }


# --- PEP 517 hooks ---------------------------------------------------------------------


def get_requires_for_build_wheel(config_settings=None):
    return []


def get_requires_for_build_sdist(config_settings=None):
    return []


def prepare_metadata_for_build_wheel(metadata_directory, config_settings=None):
    name, version, desc = _project()
    di = pathlib.Path(metadata_directory) / _dist_info(name, version)
    di.mkdir(parents=True, exist_ok=True)
    for fname, data in _write_dist_info_files(name, version, desc).items():
        (di / fname).write_bytes(data)
    return di.name


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    name, version, desc = _project()
    _check_version(version)
    lib = _library()
    wheel_name = "%s-%s-%s.whl" % (name, version, _tag())
    path = pathlib.Path(wheel_directory) / wheel_name
    records = []
    di = _dist_info(name, version)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as z:
        entries = [(arc, src.read_bytes()) for arc, src in _files()]
        entries.append(("zcluster/libzcluster.so", lib.read_bytes()))
        for fname, data in _write_dist_info_files(name, version, desc).items():
            entries.append(("%s/%s" % (di, fname), data))
        for arc, data in entries:
            info = zipfile.ZipInfo(arc, date_time=(2020, 1, 1, 0, 0, 0))
            info.external_attr = (0o755 if arc.endswith(".so") else 0o644) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, data)
            records.append(_record_line(arc, data))
        records.append("%s/RECORD,," % di)
        z.writestr("%s/RECORD" % di, "\n".join(records) + "\n")
    return wheel_name


def build_sdist(sdist_directory, config_settings=None):
    """The Python package alone: a wheel built from it needs ZCLUSTER_PREBUILT_LIB."""
    name, version, desc = _project()
    base = "%s-%s" % (name, version)
    path = pathlib.Path(sdist_directory) / (base + ".tar.gz")
    with tempfile.TemporaryDirectory() as tmp:
        root = pathlib.Path(tmp) / base
        shutil.copytree(PKG_ROOT / "zcluster", root / "zcluster", ignore=shutil.ignore_patterns("*.so", "__pycache__"))
        shutil.copytree(HERE, root / "build_backend", ignore=shutil.ignore_patterns("__pycache__"))
        for f in ("pyproject.toml", "README.md"):
            if (PKG_ROOT / f).exists():
                shutil.copy(PKG_ROOT / f, root / f)
        (root / "PKG-INFO").write_text(_metadata(name, version, desc))
        with tarfile.open(path, "w:gz") as t:
            t.add(str(root), arcname=base)
    return path.name
