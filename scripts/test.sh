#!/usr/bin/env bash
# Runs every test: rustfmt check, Rust tests (including the header check), clippy with
# warnings denied, the C harness plain and under valgrind, the Python tests, and the
# packaging tests (make install into a temp prefix, pkg-config, wheel and venv, the
# zcluster command against a live cluster).
#   scripts/test.sh          everything CI runs
#   scripts/test.sh --slow   also the bounded fuzz runs (scripts/fuzz.sh 60)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh

slow=0
[ "${1:-}" = "--slow" ] && slow=1

step() { printf '\n=== %s\n' "$*"; }

step "cargo fmt --check"
cargo fmt --check

step "cargo build"
cargo build --all-targets

step "cargo test"
cargo test --all-targets -- --test-threads=2 2>&1 | tee /tmp/zc-cargo-test.log
cargo test --doc 2>&1 | tail -3

step "header is current (cbindgen)"
cargo test --test header

step "clippy"
cargo clippy --all-targets -- -D warnings

step "C harness (plain and valgrind)"
make -C c-tests check

step "Python tests"
(cd bindings/python && python3 -m pytest -q tests)

step "install, pkg-config, wheel, venv, zcluster command (tests/packaging)"
python3 -m pytest -q tests/packaging

if [ $slow = 1 ] && [ -x scripts/fuzz.sh ]; then
  step "fuzzing (bounded)"
  scripts/fuzz.sh 60
fi

echo
echo "all test suites passed"
