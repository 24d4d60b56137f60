#!/usr/bin/env bash
# Runs Broker's own handshake test scripts (zeek/broker tests/btest/handshake/*.py with
# tests/btest/scripts/wire_format.py) against a zcluster endpoint, in place of the
# broker-node they were written for, and compares their output with Broker's baselines.
#
#   scripts/broker-protocol-check.sh [BROKER_GIT_DIR]
#
# BROKER_GIT_DIR is a git directory of zeek/broker (default: the library's mirror,
# ../.mirror/zeek+broker/repo from the project's parent). The scripts are read from git
# into a temporary directory and run there; nothing of Broker's is copied into the project.
# Not part of the CI test command: CI has no copy of Broker's sources.
set -euo pipefail
cd "$(dirname "$0")/.."
git_dir=${1:-$(cd .. && pwd)/.mirror/zeek+broker/repo}
[ -d "$git_dir" ] || { echo "no zeek/broker git directory at $git_dir (fetch zeek/broker first)" >&2; exit 2; }
cargo build -q --example zc_endpoint_node
node=target/debug/examples/zc_endpoint_node
tmp=$(mktemp -d /tmp/zc-broker-check.XXXXXX)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$tmp"' EXIT
git --git-dir="$git_dir" show HEAD:tests/btest/scripts/wire_format.py >"$tmp/wire_format.py"
fail=0
for t in originator responder redundant-connection version-mismatch; do
  d="$tmp/$t"; mkdir -p "$d/peer"
  git --git-dir="$git_dir" show "HEAD:tests/btest/handshake/$t.py" |
    awk '/^@TEST-START-FILE peer.py/{on=1;next} /^@TEST-END-FILE/{on=0} on' >"$d/peer.py"
  git --git-dir="$git_dir" show "HEAD:tests/btest/Baseline/handshake.$t/peer.peer.out" |
    grep -v '^###' >"$d/expected"
  cp "$tmp/wire_format.py" "$d/"
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  # Broker's scripts speak the protocol on a bare socket: plain TCP.
  "$node" --listen "$port" --subscribe /test --seconds 30 --option Broker::disable_ssl=T >"$d/node.out" 2>&1 &
  pid=$!
  for _ in $(seq 100); do grep -q "^LISTEN" "$d/node.out" 2>/dev/null && break; sleep 0.05; done
  (cd "$d/peer" && BROKER_PORT="$port/tcp" timeout 30 python3 ../peer.py >peer.out 2>peer.err) || true
  kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true
  if diff -u "$d/expected" "$d/peer/peer.out" >"$d/diff"; then
    echo "ok   handshake/$t ($(wc -l <"$d/expected") lines as Broker's baseline)"
  else
    echo "FAIL handshake/$t"; cat "$d/diff" "$d/peer/peer.err"; fail=1
  fi
done
exit $fail
