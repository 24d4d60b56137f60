#!/usr/bin/env bash
# Runs every cargo-fuzz target of fuzz/ for a bounded time each (default 60 s) and prints
# the executions each reached. Installs cargo-fuzz if missing. Uses the nightly toolchain
# when rustup has one, otherwise stable with RUSTC_BOOTSTRAP=1 (cargo-fuzz needs nightly
# flags such as -Zsanitizer).
#   scripts/fuzz.sh [seconds] [target...]
# The first build is slow (the bundled SQLite of rusqlite is compiled with AddressSanitizer:
# ~19 min on a busy 2-core machine); later runs reuse fuzz/target.
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-60}"
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then targets=(decode_binary decode_json parse_json decode_frames decode_store_command peer_core zeromq_messages log_messages zeek_log_batch websocket_handshake websocket_messages); fi

if ! cargo fuzz --version >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked
fi
if rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
    fuzz=(cargo +nightly fuzz)
else
    export RUSTC_BOOTSTRAP=1
    fuzz=(cargo fuzz)
fi

for t in "${targets[@]}"; do
    # Work on a copy of the committed seed corpus so runs do not grow the repository.
    work="fuzz/target/corpus-$t"
    mkdir -p "$work"
    cp -n fuzz/corpus/"$t"/* "$work"/ 2>/dev/null || true
    log="fuzz/target/$t.log"
    echo "== $t for ${secs}s"
    "${fuzz[@]}" run "$t" "$work" -- -max_total_time="$secs" -max_len=4096 -print_final_stats=1 2>&1 | tee "$log" | grep -E '^(#[0-9]+ +DONE|stat::number_of_executed_units|==[0-9]+== ERROR|SUMMARY)' || true
    if grep -q 'ERROR: libFuzzer' "$log" || grep -q 'panicked' "$log"; then
        echo "!! $t found a failure; see $log and fuzz/artifacts/$t/"
        exit 1
    fi
done
