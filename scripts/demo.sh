#!/usr/bin/env bash
# The main job: a demo cluster (logger, manager, proxy, two workers; one process each) on
# loopback from the embedded default layout, printing what happens
# (`zcluster cluster demo`; `zcluster cluster start` runs any layout the same way).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --quiet --bin zcluster
exec target/debug/zcluster cluster demo "$@"
