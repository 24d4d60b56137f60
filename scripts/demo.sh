#!/usr/bin/env bash
# The main job: a demo cluster (logger, manager, proxy, two workers; one process each) on
# loopback from the embedded default layout, printing what happens.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --quiet --bin zcluster-demo
exec target/debug/zcluster-demo "$@"
