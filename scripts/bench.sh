#!/usr/bin/env bash
# Benchmarks zcluster against its baselines in one run: the real Broker (Debian's
# libbroker-dev, Broker 1.4 on CAF 0.17) and ZeroMQ (libzmq) as the ceiling.
#
#   scripts/bench.sh                      everything, each benchmark 3 times
#   scripts/bench.sh --quick              short runs (smaller N)
#   scripts/bench.sh --only broker|zmq|zcluster|store|zeromq|rtt   (store: Broker's and
#                                         zcluster's stores; zeromq: the ZeroMQ backend beside
#                                         raw libzmq; rtt: round trips only, ZeroMQ REQ/REP and
#                                         zcluster plain/TLS alternating in each repetition)
#   scripts/bench.sh --only tls           TLS beside plain TCP: zcluster's tput and rtt with
#                                         both transports, interleaved, and Broker's with TLS
#                                         (and its plain tput), in one run
#   scripts/bench.sh --reps N             repetitions of each benchmark (default 3)
#
# Installs what it needs from Debian's packages if missing (idempotent), builds the baseline
# programs (bench/*.cc, bench/*.c) into bench/build/ (not committed), runs every benchmark
# between two processes on 127.0.0.1 with a time bound on each, and prints a markdown table
# (best figure and spread over the runs) with the exact command line and the machine's load.
# Raw results: bench/build/results-<time>.txt.
set -euo pipefail
cd "$(dirname "$0")/.."

quick=0
only=all
reps=3
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) quick=1 ;;
    --only)
      [ $# -ge 2 ] || { echo "bench.sh: --only needs broker, zmq, zcluster, store, zeromq, rtt or tls" >&2; exit 2; }
      only="$2"; shift ;;
    --reps)
      [ $# -ge 2 ] || { echo "bench.sh: --reps needs a number" >&2; exit 2; }
      reps="$2"; shift ;;
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    *) echo "bench.sh: unknown option '$1' (expected --quick, --only broker|zmq|zcluster|store|zeromq|rtt|tls, --reps N)" >&2; exit 2 ;;
  esac
  shift
done
case "$only" in all|broker|zmq|zcluster|store|zeromq|rtt|tls) ;; *)
  echo "bench.sh: --only takes broker, zmq, zcluster, store, zeromq, rtt or tls, not '$only'" >&2; exit 2 ;;
esac
case "$reps" in ''|*[!0-9]*|0) echo "bench.sh: --reps needs a positive number, not '$reps'" >&2; exit 2 ;; esac

want() { [ "$only" = all ] || [ "$only" = "$1" ]; }
# The store benchmarks of implementation $1 (broker or zcluster): with it, or with --only store.
want_store() { [ "$only" = store ] || want "$1"; }

# ---------------------------------------------------------------- install (idempotent)
need=()
if want_store broker || [ "$only" = tls ]; then
  dpkg -s libbroker-dev >/dev/null 2>&1 || need+=(libbroker-dev)
  dpkg -s libcaf-dev >/dev/null 2>&1 || need+=(libcaf-dev)
  dpkg -s python3-broker >/dev/null 2>&1 || need+=(python3-broker)
fi
if want zmq || want rtt; then
  dpkg -s libzmq3-dev >/dev/null 2>&1 || need+=(libzmq3-dev)
fi
command -v g++ >/dev/null 2>&1 || need+=(g++)
command -v gcc >/dev/null 2>&1 || need+=(gcc)
if [ ${#need[@]} -gt 0 ]; then
  echo "bench: installing ${need[*]} from Debian's packages"
  export DEBIAN_FRONTEND=noninteractive
  apt-get -o DPkg::Lock::Timeout=300 update -qq
  apt-get -o DPkg::Lock::Timeout=300 install -y -qq "${need[@]}" >/dev/null
fi

# ---------------------------------------------------------------- build
build=bench/build
mkdir -p "$build"
# Rebuilds only when the source is newer than the binary.
if { want_store broker || [ "$only" = tls ]; } && [ ! -x "$build/broker_bench" -o bench/broker_bench.cc -nt "$build/broker_bench" ]; then
  echo "bench: building $build/broker_bench"
  g++ -O2 -std=c++17 -o "$build/broker_bench" bench/broker_bench.cc \
    -lbroker -lcaf_io -lcaf_openssl -lcaf_core -lpthread
fi
if { want zmq || want rtt; } && [ ! -x "$build/zmq_bench" -o bench/zmq_bench.c -nt "$build/zmq_bench" ]; then
  echo "bench: building $build/zmq_bench"
  gcc -O2 -std=c11 -Wall -Wextra -o "$build/zmq_bench" bench/zmq_bench.c -lzmq
fi

# ---------------------------------------------------------------- sizes
if [ "$quick" = 1 ]; then
  n_tput=100000; n_zmq=1000000; n_rtt=1000; n_store_mem=5000; n_store_sql=100; n_store_sql_big=20000; n_zb=200000
else
  n_tput=1000000; n_zmq=5000000; n_rtt=10000; n_store_mem=20000; n_store_sql=300; n_store_sql_big=100000; n_zb=1000000
fi

results="$build/results-$(date -u +%Y%m%dT%H%M%SZ).txt"
: >"$results"
storedir=$(mktemp -d /tmp/zcluster-bench.XXXXXX)
trap 'rm -rf "$storedir"' EXIT

# run LIMIT_SECS CMD...: runs a benchmark with a hard time bound, keeps its RESULT lines.
run() {
  local limit="$1"; shift
  echo "bench: [$(cut -d' ' -f1-3 /proc/loadavg)] $*" >&2
  local out rc=0
  out=$(timeout -k 5 "$limit" "$@" 2>&1) || rc=$?
  printf '%s\n' "$out" | grep -E '^(RESULT|SENDER)' >>"$results" || true
  printf '%s\n' "$out" | grep -v '^RESULT' | sed 's/^/    /' >&2 || true
  printf '%s\n' "$out" | grep '^RESULT' | sed 's/^/    /' >&2 || true
  [ "$rc" = 0 ] || echo "    (exit status $rc)" >&2
}

load_before=$(cut -d' ' -f1-3 /proc/loadavg)

# ---------------------------------------------------------------- Broker 1.4
if want broker; then
  for _ in $(seq "$reps"); do
    # Endpoint::publish per event (the default API), then a CAF stream source
    # (endpoint::publish_all, what Broker 1.4's own broker-benchmark uses at full rate).
    run 200 "$build/broker_bench" tput "$n_tput" --api endpoint
    run 200 "$build/broker_bench" tput "$n_tput" --api stream
    run 330 "$build/broker_bench" rtt "$n_rtt"
    # The same with CAF's stream timers (batch delay, credit round) set to 100 µs.
    run 330 "$build/broker_bench" rtt "$n_rtt" --caf-timer-us 100
    # With TLS on (Broker's default: anonymous AECDH-AES256-SHA), beside zcluster's TLS rows.
    run 200 "$build/broker_bench" tput "$n_tput" --api endpoint --tls
    run 330 "$build/broker_bench" rtt "$n_rtt" --tls
  done
  if [ "$quick" = 0 ]; then
    # broker::publisher (flow-controlled): recorded once, see BENCHMARKS.md.
    run 120 "$build/broker_bench" tput 1000 --api publisher
  fi
fi
if want_store broker; then
  for _ in $(seq "$reps"); do
    run 200 "$build/broker_bench" store "$n_store_mem" memory "$storedir"
    run 200 "$build/broker_bench" store "$n_store_sql" sqlite "$storedir"
  done
fi

# ---------------------------------------------------------------- ZeroMQ
if want zmq; then
  for _ in $(seq "$reps"); do
    run 120 "$build/zmq_bench" tput "$n_zmq" 64      # libzmq's default HWM (1000): PUB drops
    run 120 "$build/zmq_bench" tput "$n_zmq" 64 0    # unlimited HWM: lossless
    run 120 "$build/zmq_bench" rtt "$n_rtt" 64
  done
fi

# ---------------------------------------------------------------- zcluster
# The zcluster bench binary is expected as bench/bench_endpoint.rs, taking
# "tput N" / "rtt N" and printing RESULT lines in the same format as the baselines
# ("RESULT zcluster tput sent=N recv=M secs=S rate=R", "RESULT zcluster rtt rounds=N ok=M
# p50_us=X p99_us=Y").
if want zcluster; then
  if [ -f bench/bench_endpoint.rs ]; then
    cargo build --release --example bench_endpoint
    for _ in $(seq "$reps"); do
      # Plain TCP (Broker::disable_ssl=T), then anonymous TLS (Zeek's default): tls=0|1.
      run 200 cargo run --release -q --example bench_endpoint -- tput "$n_tput"
      run 330 cargo run --release -q --example bench_endpoint -- rtt "$n_rtt"
      run 200 env ZC_BENCH_TLS=1 cargo run --release -q --example bench_endpoint -- tput "$n_tput"
      run 330 env ZC_BENCH_TLS=1 cargo run --release -q --example bench_endpoint -- rtt "$n_rtt"
    done
  else
    echo "zcluster endpoint bench: not built yet"
  fi
fi
# TLS beside plain TCP (issue 13's target: TLS costs zcluster less than 30 % of its plain
# one-way rate): each zcluster run right after its plain twin, Broker with TLS in the same
# run. summarize.py adds a table of what TLS costs each.
if [ "$only" = tls ]; then
  cargo build --release --example bench_endpoint
  zb=target/release/examples/bench_endpoint
  for _ in $(seq "$reps"); do
    for api in bytes event; do
      run 200 env ZC_BENCH_TLS=0 "$zb" tput "$n_tput" --api "$api"
      run 200 env ZC_BENCH_TLS=1 "$zb" tput "$n_tput" --api "$api"
    done
    run 330 env ZC_BENCH_TLS=0 "$zb" rtt "$n_rtt"
    run 330 env ZC_BENCH_TLS=1 "$zb" rtt "$n_rtt"
    run 200 "$build/broker_bench" tput "$n_tput" --api endpoint
    run 200 "$build/broker_bench" tput "$n_tput" --api endpoint --tls
    run 330 "$build/broker_bench" rtt "$n_rtt" --tls
  done
fi
# Stores: bench/bench_store.rs, the measurements of "broker_bench store" ("RESULT
# zcluster store backend=B from=F puts=N secs=S rate=R", "... from=visibility samples=K
# p50_us=X p99_us=Y max_us=Z"), with the same N.
if want_store zcluster; then
  cargo build --release --example bench_store
  for _ in $(seq "$reps"); do
    run 200 cargo run --release -q --example bench_store -- "$n_store_mem" memory "$storedir"
    run 200 cargo run --release -q --example bench_store -- "$n_store_sql" sqlite "$storedir"
    # Durable puts/s at a size where group commit shows (Broker's rate is per put: ~2 ms).
    run 200 cargo run --release -q --example bench_store -- "$n_store_sql_big" sqlite "$storedir" --tag "$n_store_sql_big"
    # Event round trips with and without a SQLite put stream in the same process.
    run 200 cargo run --release -q --example bench_store -- rtt "$n_rtt" "$storedir"
  done
fi

# Zeek's ZeroMQ backend: two zcluster nodes through the manager's XPUB/XSUB proxy
# (examples/bench_zeromq.rs), beside raw libzmq with the same topology, the same 4-frame
# messages and the same no-loss settings (XPUB_NODROP, blocking sends), alternating.
if want zeromq; then
  cargo build --release --example bench_zeromq
  for _ in $(seq "$reps"); do
    for v in raw zcluster; do
      run 200 target/release/examples/bench_zeromq "$v" tput "$n_zb"
      run 200 target/release/examples/bench_zeromq "$v" rtt "$n_rtt"
    done
  done
fi

# Round trips alone (--only rtt), alternating so both see the same load.
if [ "$only" = rtt ]; then
  cargo build --release --example bench_endpoint
  for _ in $(seq "$reps"); do
    run 120 "$build/zmq_bench" rtt "$n_rtt" 64
    run 330 target/release/examples/bench_endpoint rtt "$n_rtt"
    run 330 env ZC_BENCH_TLS=1 target/release/examples/bench_endpoint rtt "$n_rtt"
  done
fi

load_after=$(cut -d' ' -f1-3 /proc/loadavg)

echo
echo "## Results ($(date -u '+%Y-%m-%d %H:%M UTC'))"
echo
echo "Command: \`scripts/bench.sh$( [ "$quick" = 1 ] && printf ' --quick' )$( [ "$only" != all ] && printf ' --only %s' "$only" )$( [ "$reps" != 3 ] && printf ' --reps %s' "$reps" )\`"
echo "Machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'); load average before $load_before, after $load_after"
echo
python3 bench/summarize.py "$results"
echo
echo "Raw results: $results"
