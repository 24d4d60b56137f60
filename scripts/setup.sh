#!/usr/bin/env bash
# Sourced by the other scripts: installs what the tests and the demo need on a fresh
# machine (idempotent; quiet when everything is present).
set -euo pipefail

need_apt=()
command -v valgrind >/dev/null 2>&1 || need_apt+=(valgrind)
command -v cc >/dev/null 2>&1 || need_apt+=(gcc)
command -v c++ >/dev/null 2>&1 || need_apt+=(g++)
command -v make >/dev/null 2>&1 || need_apt+=(make)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "setup: installing ${need_apt[*]} from Debian's packages"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

if ! python3 -c 'import pytest' >/dev/null 2>&1; then
  echo "setup: installing pytest from PyPI"
  python3 -m pip install -q --disable-pip-version-check pytest
fi

if ! cargo clippy --version >/dev/null 2>&1; then
  rustup component add clippy >/dev/null 2>&1 || true
fi

# Third-party Zeek log readers that tests/zeeklog/check_with_zat.py (and the cluster
# tests) use to prove cluster.log parses. zat pulls pandas; a failure leaves the check
# reporting "no reader" (exit 77) instead of breaking setup.
if ! python3 -c 'import parsezeeklogs' >/dev/null 2>&1; then
  echo "setup: installing parsezeeklogs from PyPI"
  python3 -m pip install -q --disable-pip-version-check parsezeeklogs || true
fi
if ! python3 -c 'import zat' >/dev/null 2>&1; then
  echo "setup: installing zat from PyPI"
  python3 -m pip install -q --disable-pip-version-check zat || true
fi

# Issue 16: WebSocket and metrics tests use independent clients and parsers from PyPI
# (websockets, zeekpy, prometheus_client) and a real browser (Debian's chromium).
for mod in websockets:websockets prometheus_client:prometheus_client zeekpy:zeekpy; do
  if ! python3 -c "import ${mod%%:*}" >/dev/null 2>&1; then
    echo "setup: installing ${mod##*:} from PyPI"
    python3 -m pip install -q --disable-pip-version-check "${mod##*:}" || true
  fi
done
if ! command -v chromium >/dev/null 2>&1; then
  echo "setup: installing chromium from Debian's packages (browser WebSocket test)"
  (apt-get update -qq && apt-get install -y -qq chromium >/dev/null) || true
fi
