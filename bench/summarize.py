#!/usr/bin/env python3
"""Turns the RESULT lines of scripts/bench.sh's runs into a markdown table.

Input: a file of lines "RESULT <impl> <kind> key=value ...", several runs of the same
benchmark in any order. Runs are grouped by implementation, kind and the parameters that
identify a variant (every key that is not a measured figure). For each group the table shows
the number of runs, the best figure (highest rate, lowest latency) and the spread over the
runs (min..max), plus how many messages arrived of how many were sent in the worst run.
"""
import sys
from collections import OrderedDict

# Measured figures: "higher is better" or "lower is better".
HIGHER = {"rate"}
# CPU time per event of each process (zcluster's tput and fanout lines), in ns.
LOWER = {"p50_us", "p99_us", "pub_cpu_ns", "recv_cpu_ns"}
# Keys that are measurements or bookkeeping, not part of a variant's identity.
NOT_IDENTITY = HIGHER | LOWER | {
    "recv", "in_order", "secs", "max_us", "mean_us", "ok", "lost", "samples",
    "receiver_maxrss_kib", "sent", "rounds", "puts", "total_rate",
}


def parse(path):
    groups = OrderedDict()
    with open(path, encoding="utf-8") as f:
        for line in f:
            parts = line.split()
            if len(parts) < 3 or parts[0] != "RESULT":
                continue
            impl, kind = parts[1], parts[2]
            kv = {}
            for p in parts[3:]:
                if "=" in p:
                    k, v = p.split("=", 1)
                    kv[k] = v
            ident = " ".join(f"{k}={v}" for k, v in kv.items() if k not in NOT_IDENTITY)
            groups.setdefault((impl, kind, ident), []).append(kv)
    return groups


def num(v):
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


def fmt(x, key):
    if x is None:
        return "-"
    if key == "rate":
        return f"{x:,.0f}/s"
    if key.endswith("_ns"):
        return f"{x:,.0f} ns/event"
    return f"{x:,.0f} µs" if x >= 100 else f"{x:,.1f} µs"


def main():
    if len(sys.argv) != 2:
        print("usage: summarize.py RESULTS_FILE", file=sys.stderr)
        return 2
    groups = parse(sys.argv[1])
    print("| impl | benchmark | variant | runs | figure | best | spread (min..max) | delivered (worst run) |")
    print("|---|---|---|---|---|---|---|---|")
    for (impl, kind, ident), runs in groups.items():
        keys = [k for k in ("rate", "p50_us", "p99_us", "pub_cpu_ns", "recv_cpu_ns")
                if any(k in r for r in runs)]
        delivered = "-"
        if any("recv" in r and "sent" in r for r in runs):
            worst = min(runs, key=lambda r: num(r.get("recv")) or 0)
            delivered = f"{int(num(worst['recv']) or 0):,} of {int(num(worst['sent']) or 0):,}"
        elif any("ok" in r and "rounds" in r for r in runs):
            worst = min(runs, key=lambda r: num(r.get("ok")) or 0)
            delivered = f"{int(num(worst['ok']) or 0):,} of {int(num(worst['rounds']) or 0):,} round trips"
        elif any("samples" in r for r in runs):
            worst = min(runs, key=lambda r: num(r.get("samples")) or 0)
            delivered = f"{worst['samples']} samples"
        elif any("puts" in r for r in runs):
            delivered = f"{runs[0]['puts']} puts"
        for key in keys:
            vals = [num(r.get(key)) for r in runs]
            vals = [v for v in vals if v is not None and v > 0]
            if not vals:
                best, spread = None, "no valid run"
            else:
                best = max(vals) if key in HIGHER else min(vals)
                spread = f"{fmt(min(vals), key)} .. {fmt(max(vals), key)}"
            print(f"| {impl} | {kind} | {ident or '-'} | {len(runs)} | {key} | "
                  f"{fmt(best, key)} | {spread} | {delivered} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
